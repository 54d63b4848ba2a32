//! Input: a flow-cache file. Decodes it and, if it decodes, restores trackers from it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::cache::fuzz_flowcache;

fuzz_target!(|data: &[u8]| fuzz_flowcache(data));
