//! Input: a pcap or pcapng file. Reads every packet twice, from memory and in small
//! pieces, and checks that both readings agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wirespy_fuzz::capture::fuzz_capture;

fuzz_target!(|data: &[u8]| fuzz_capture(data));
