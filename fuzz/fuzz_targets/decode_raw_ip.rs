//! Input: a selector byte (modulo 5: RAW, RAW_12, RAW_14, IPV4, IPV6), then the IP
//! packet. Decodes it and checks that decoding allocates nothing and that the decoded
//! layers and lengths agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::decoding::{fuzz_decode, RAW_IP};

fuzz_target!(|data: &[u8]| fuzz_decode(RAW_IP, data));
