//! Writes seed corpora for the fuzz targets from capture files and flow caches.
//!
//! Usage: `make_seeds OUT_DIR INPUT...`, where each INPUT is a capture file, a flow
//! cache or a directory of them (not searched recursively). Other files are skipped.
//! Seeds go to `OUT_DIR/<target>/`:
//!
//! - `capture_reader`: each capture, cut to its first 64 KiB, including captures that
//!   fail to open.
//! - `decode_*`: packets of each capture, by link-type family, with the selector byte
//!   the target expects; at most 64 distinct packets per capture and family.
//! - `tracker`: windows of consecutive Ethernet packets as tracker scripts.
//! - `flowcache_reader`: each flow cache as it is, and the flow cache of a tracker
//!   snapshot taken halfway through the first packets of each capture.

use std::collections::HashSet;
use std::error::Error;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use wirespy_fuzz::decoding::{selector_for, CHDLC, ETHERNET, LOOPBACK, NFLOG, PPP, RAW_IP, SLL};
use wirespy_fuzz::script::{encode_script, settings_byte};
use wsd_capture::{FileSource, PacketSource, Timestamp};
use wsd_flow::{Tracker, TrackerConfig};

/// Bytes of a capture kept as a `capture_reader` seed.
const CAPTURE_SEED_LEN: usize = 64 * 1024;
/// Packets of a capture read for seeds; later packets are ignored.
const MAX_PACKETS: usize = 4096;
/// Distinct decoder seeds per capture and family.
const DECODER_SEEDS_PER_FILE: usize = 64;
/// Bytes of a packet kept in a decoder seed: enough for stacked tunnel headers.
const DECODER_SEED_LEN: usize = 512;
/// Packets in a tracker script, and scripts per capture.
const SCRIPT_PACKETS: usize = 32;
const SCRIPTS_PER_FILE: usize = 4;
/// Bytes of each frame kept in a tracker script: the headers the tracker reads.
const SCRIPT_FRAME_LEN: usize = 160;
/// Packets tracked for a flow-cache seed; the snapshot is taken after half of them.
const CACHE_PACKETS: usize = 64;

/// Decoder targets and the link types of each.
const DECODER_TARGETS: [(&str, &[u32]); 7] = [
    ("decode_ethernet", ETHERNET),
    ("decode_sll", SLL),
    ("decode_raw_ip", RAW_IP),
    ("decode_loopback", LOOPBACK),
    ("decode_ppp", PPP),
    ("decode_chdlc", CHDLC),
    ("decode_nflog", NFLOG),
];

/// A packet copied from a capture.
struct CapturedPacket {
    ts: Timestamp,
    linktype: u32,
    data: Vec<u8>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(out_dir), inputs) = (args.next(), args.collect::<Vec<_>>()) else {
        return Err("usage: make_seeds OUT_DIR INPUT...".into());
    };
    if inputs.is_empty() {
        return Err("usage: make_seeds OUT_DIR INPUT... (no INPUT given)".into());
    }
    let out_dir = PathBuf::from(out_dir);
    let mut files = Vec::new();
    for input in inputs {
        let input = PathBuf::from(input);
        if input.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(&input)?
                .map(|entry| entry.map(|entry| entry.path()))
                .collect::<Result<_, _>>()?;
            entries.sort();
            files.extend(entries.into_iter().filter(|path| path.is_file()));
        } else {
            files.push(input);
        }
    }

    let mut written = 0;
    for file in &files {
        written += seeds_of_file(file, &out_dir)?;
    }
    println!(
        "wrote {written} seeds from {} files to {}",
        files.len(),
        out_dir.display()
    );
    Ok(())
}

/// Writes the seeds of one input file and returns how many.
fn seeds_of_file(path: &Path, out_dir: &Path) -> Result<usize, Box<dyn Error>> {
    let bytes = fs::read(path)?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if bytes.starts_with(&wsd_flowcache::MAGIC) {
        write_seed(out_dir, "flowcache_reader", &name, &bytes)?;
        return Ok(1);
    }
    if !has_capture_magic(&bytes) {
        eprintln!(
            "skipped {}: neither a capture nor a flow cache",
            path.display()
        );
        return Ok(0);
    }
    // A capture that fails to open is still a seed for the reader.
    let capture_seed = &bytes[..bytes.len().min(CAPTURE_SEED_LEN)];
    write_seed(out_dir, "capture_reader", &name, capture_seed)?;
    let mut written = 1;
    let Some(packets) = read_packets(&bytes) else {
        return Ok(written);
    };
    written += write_decoder_seeds(out_dir, &packets)?;
    written += write_tracker_seeds(out_dir, &name, &packets)?;
    written += write_cache_seed(out_dir, &name, &packets)?;
    Ok(written)
}

/// Returns true if `bytes` start with a classic pcap magic number in either byte order
/// or the pcapng section header block type.
fn has_capture_magic(bytes: &[u8]) -> bool {
    let Some(head) = bytes.first_chunk::<4>() else {
        return false;
    };
    matches!(
        u32::from_le_bytes(*head),
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x0a0d_0d0a
    )
}

/// Reads up to [`MAX_PACKETS`] packets, or returns `None` if the bytes are not a
/// capture. A capture damaged after its first packet gives the packets before it.
fn read_packets(bytes: &[u8]) -> Option<Vec<CapturedPacket>> {
    let len = bytes.len() as u64;
    let mut source =
        FileSource::from_reader("seed".into(), Cursor::new(bytes.to_vec()), Some(len)).ok()?;
    let mut packets = Vec::new();
    while packets.len() < MAX_PACKETS {
        let Ok(Some(packet)) = source.next_packet() else {
            break;
        };
        packets.push(CapturedPacket {
            ts: packet.ts,
            linktype: packet.linktype,
            data: packet.data.to_vec(),
        });
    }
    Some(packets)
}

fn write_decoder_seeds(
    out_dir: &Path,
    packets: &[CapturedPacket],
) -> Result<usize, Box<dyn Error>> {
    let mut written = 0;
    for (target, family) in DECODER_TARGETS {
        let mut seen = HashSet::new();
        for packet in packets.iter().filter(|p| family.contains(&p.linktype)) {
            if seen.len() == DECODER_SEEDS_PER_FILE {
                break;
            }
            let mut seed = Vec::new();
            seed.extend(selector_for(family, packet.linktype));
            seed.extend_from_slice(&packet.data[..packet.data.len().min(DECODER_SEED_LEN)]);
            if seen.insert(seed.clone()) {
                write_seed(out_dir, target, &format!("{:016x}", fnv1a(&seed)), &seed)?;
                written += 1;
            }
        }
    }
    Ok(written)
}

fn write_tracker_seeds(
    out_dir: &Path,
    name: &str,
    packets: &[CapturedPacket],
) -> Result<usize, Box<dyn Error>> {
    let ethernet: Vec<&CapturedPacket> = packets
        .iter()
        .filter(|p| ETHERNET.contains(&p.linktype))
        .collect();
    if ethernet.is_empty() {
        return Ok(0);
    }
    // Windows spread evenly over the packets read, so that long captures give
    // scripts from several phases of their connections.
    let stride = (ethernet.len() / SCRIPTS_PER_FILE).max(SCRIPT_PACKETS);
    let mut written = 0;
    for (number, window) in ethernet
        .chunks(SCRIPT_PACKETS)
        .step_by(stride / SCRIPT_PACKETS)
        .take(SCRIPTS_PER_FILE)
        .enumerate()
    {
        let mut previous = None;
        let steps: Vec<(i64, &[u8])> = window
            .iter()
            .map(|packet| {
                let step = previous.map_or(0, |earlier| packet.ts.nanos_since(earlier));
                previous = Some(packet.ts);
                (
                    step,
                    &packet.data[..packet.data.len().min(SCRIPT_FRAME_LEN)],
                )
            })
            .collect();
        let split = (window.len() / 2) as u8;
        // A table of 4 flows makes most windows evict flows.
        let script = encode_script(settings_byte(4), split, &steps);
        write_seed(out_dir, "tracker", &format!("{name}.{number}"), &script)?;
        written += 1;
    }
    Ok(written)
}

fn write_cache_seed(
    out_dir: &Path,
    name: &str,
    packets: &[CapturedPacket],
) -> Result<usize, Box<dyn Error>> {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let tracked = &packets[..packets.len().min(CACHE_PACKETS)];
    for packet in &tracked[..tracked.len() / 2] {
        tracker.process(
            packet.ts,
            &wsd_decode::decode(packet.linktype, &packet.data),
        );
    }
    let snapshot = tracker.snapshot();
    if snapshot.flows.is_empty() {
        return Ok(0);
    }
    let bytes = wsd_flowcache::encode(&snapshot, "make_seeds");
    write_seed(
        out_dir,
        "flowcache_reader",
        &format!("{name}.cache"),
        &bytes,
    )?;
    Ok(1)
}

fn write_seed(
    out_dir: &Path,
    target: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(), Box<dyn Error>> {
    let dir = out_dir.join(target);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(name), bytes)?;
    Ok(())
}

/// Computes the 64-bit FNV-1a hash, which names decoder seeds by their contents.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
