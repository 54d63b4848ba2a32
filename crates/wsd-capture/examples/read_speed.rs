//! Measures how fast `FileSource` reads a capture file: the file is read `ROUNDS` times
//! (20 by default) and the rate is printed in MB/s of file bytes and packets per second.
//! Run it in release mode on a file that is in the page cache:
//!
//! `cargo run --release -p wsd-capture --example read_speed -- FILE [ROUNDS]`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use wsd_capture::{CaptureError, FileSource, PacketSource};

/// Reads the file once and returns its size and packet count.
fn read_once(path: &Path) -> Result<(u64, u64), CaptureError> {
    let mut source = FileSource::open(path)?;
    let mut checksum = 0u64;
    while let Some(packet) = source.next_packet()? {
        // Touch the time, length and first byte so that no work is optimized away.
        let first = packet.data.first().copied().unwrap_or(0);
        checksum = checksum
            .wrapping_add(packet.ts.as_nanos() as u64)
            .wrapping_add(packet.data.len() as u64)
            .wrapping_add(u64::from(first));
    }
    black_box(checksum);
    Ok((source.position(), source.stats().records))
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: read_speed FILE [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds: u32 = match args.next().map(|arg| arg.to_string_lossy().parse()) {
        None => 20,
        Some(Ok(rounds)) if rounds > 0 => rounds,
        Some(_) => {
            eprintln!("error: ROUNDS must be a positive whole number");
            return ExitCode::from(2);
        }
    };

    // One untimed round loads the file into the page cache.
    if let Err(error) = read_once(&path) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }

    let start = Instant::now();
    let (mut bytes, mut packets) = (0u64, 0u64);
    for _ in 0..rounds {
        match read_once(&path) {
            Ok((file_bytes, file_packets)) => {
                bytes += file_bytes;
                packets += file_packets;
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(1);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    println!(
        "{}: {rounds} rounds, {bytes} bytes, {packets} packets in {seconds:.3} s: \
         {:.0} MB/s, {:.1} million packets/s",
        path.display(),
        bytes as f64 / seconds / 1e6,
        packets as f64 / seconds / 1e6,
    );
    ExitCode::SUCCESS
}
