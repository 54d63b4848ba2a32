//! Measures how fast `decode` runs on the packets of a capture file.
//!
//! The file is read into memory once, then every packet is decoded `ROUNDS` times
//! (50 by default). Each round is timed on its own and the fastest round is reported
//! in nanoseconds per packet, because the fastest round is the one least disturbed by
//! other work on the machine. Run it in release mode:
//!
//! `cargo run --release -p wsd-decode --example decode_speed -- FILE [ROUNDS]`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wsd_capture::{CaptureError, FileSource, PacketSource};
use wsd_decode::{decode, Transport};

/// The packets of a capture: their bytes back to back, with each packet's link type
/// and end offset.
struct Packets {
    bytes: Vec<u8>,
    index: Vec<(u32, usize)>,
}

fn load(path: &Path) -> Result<Packets, CaptureError> {
    let mut source = FileSource::open(path)?;
    let mut packets = Packets {
        bytes: Vec::new(),
        index: Vec::new(),
    };
    while let Some(packet) = source.next_packet()? {
        packets.bytes.extend_from_slice(packet.data);
        packets.index.push((packet.linktype, packets.bytes.len()));
    }
    Ok(packets)
}

/// Decodes every packet once and returns how many carried a TCP header.
///
/// Each result is handed to `black_box` by reference, as the flow tracker receives it,
/// so that no decoding is optimized away and no extra copy of it is timed.
fn decode_all(packets: &Packets) -> u64 {
    let mut start = 0;
    let mut tcp = 0;
    for &(linktype, end) in &packets.index {
        let data = packets.bytes.get(start..end).unwrap_or_default();
        let decoded = decode(black_box(linktype), black_box(data));
        if matches!(black_box(&decoded).transport, Transport::Tcp(_)) {
            tcp += 1;
        }
        start = end;
    }
    tcp
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: decode_speed FILE [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds: u32 = match args.next().map(|arg| arg.to_string_lossy().parse()) {
        None => 50,
        Some(Ok(rounds)) if rounds > 0 => rounds,
        Some(_) => {
            eprintln!("error: ROUNDS must be a positive whole number");
            return ExitCode::from(2);
        }
    };
    let packets = match load(&path) {
        Ok(packets) => packets,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if packets.index.is_empty() {
        eprintln!("error: {} contains no packets", path.display());
        return ExitCode::from(2);
    }

    let mut fastest = Duration::MAX;
    let mut tcp = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        tcp = decode_all(&packets);
        fastest = fastest.min(start.elapsed());
    }

    let count = packets.index.len();
    println!(
        "{}: {count} packets ({tcp} with TCP), fastest of {rounds} rounds: {:.1} ns/packet",
        path.display(),
        fastest.as_nanos() as f64 / count as f64,
    );
    ExitCode::SUCCESS
}
