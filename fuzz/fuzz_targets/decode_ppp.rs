//! Input: a selector byte (modulo 3: PPP, PPP in HDLC-like framing, PPPoE session), then the packet.
//! Decodes it and checks that decoding allocates nothing and that the decoded
//! layers and lengths agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::decoding::{fuzz_decode, PPP};

fuzz_target!(|data: &[u8]| fuzz_decode(PPP, data));
