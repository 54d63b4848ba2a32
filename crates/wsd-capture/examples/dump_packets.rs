//! Prints one line per packet of a capture file: time, link type, captured length and
//! original length, separated by tabs. Useful to compare the reader with other tools.
//!
//! Usage: `cargo run -p wsd-capture --example dump_packets -- FILE`

use std::path::PathBuf;
use std::process::ExitCode;

use wsd_capture::{FileSource, PacketSource};

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: dump_packets FILE");
        return ExitCode::from(2);
    };
    let mut source = match FileSource::open(&path) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    loop {
        match source.next_packet() {
            Ok(Some(packet)) => println!(
                "{}\t{}\t{}\t{}",
                packet.ts,
                packet.linktype,
                packet.data.len(),
                packet.orig_len
            ),
            Ok(None) => break,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(1);
            }
        }
    }
    eprintln!("{:?}", source.stats());
    ExitCode::SUCCESS
}
