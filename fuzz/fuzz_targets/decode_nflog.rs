//! Input: a Linux netfilter NFLOG message.
//! Decodes it and checks that decoding allocates nothing and that the decoded
//! layers and lengths agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::decoding::{fuzz_decode, NFLOG};

fuzz_target!(|data: &[u8]| fuzz_decode(NFLOG, data));
