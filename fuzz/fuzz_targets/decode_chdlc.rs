//! Input: a Cisco HDLC frame.
//! Decodes it and checks that decoding allocates nothing and that the decoded
//! layers and lengths agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::decoding::{fuzz_decode, CHDLC};

fuzz_target!(|data: &[u8]| fuzz_decode(CHDLC, data));
