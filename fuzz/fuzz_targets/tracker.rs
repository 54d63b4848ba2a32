//! Input: tracker settings, a split point and timed Ethernet frames, in the format
//! that `wirespy_fuzz::script` describes. Runs the packets through a tracker straight
//! and with a snapshot, flow-cache round trip and restore at the split point, and
//! checks that both runs give the same records and packet outcomes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::tracking::fuzz_tracker;

fuzz_target!(|data: &[u8]| fuzz_tracker(data));
