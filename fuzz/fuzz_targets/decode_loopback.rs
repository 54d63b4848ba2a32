//! Input: a selector byte (even: BSD loopback, odd: OpenBSD loopback), then the
//! packet. Decodes it and checks that decoding allocates nothing and that the decoded
//! layers and lengths agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::decoding::{fuzz_decode, LOOPBACK};

fuzz_target!(|data: &[u8]| fuzz_decode(LOOPBACK, data));
