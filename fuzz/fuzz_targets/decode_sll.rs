//! Input: a selector byte (even: Linux cooked capture v1, odd: v2), then the packet.
//! Decodes it and checks that decoding allocates nothing and that the decoded
//! layers and lengths agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::decoding::{fuzz_decode, SLL};

fuzz_target!(|data: &[u8]| fuzz_decode(SLL, data));
