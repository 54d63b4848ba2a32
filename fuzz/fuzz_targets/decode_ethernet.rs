//! Input: an Ethernet frame. Decodes it under link type 1 (Ethernet) and checks that
//! decoding allocates nothing and that the decoded layers and lengths agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::decoding::{fuzz_decode, ETHERNET};

fuzz_target!(|data: &[u8]| fuzz_decode(ETHERNET, data));
