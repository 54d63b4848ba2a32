//! Tests of `SharedBytes` and of reading a capture while holding its buffers.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::super::input::{Input, BUFFER_SIZE};
use super::super::testdata::{pcap_file, PcapNgBuilder, PcapRecord};
use super::super::{FileSource, ReadStats, MAX_BLOCK_LEN};
use super::*;
use crate::{CaptureError, PacketSource, Timestamp};

fn numbered(len: usize) -> SharedBytes {
    SharedBytes::new(Arc::new((0..len).map(|i| i as u8).collect()))
}

#[test]
fn range_of_finds_subslices() {
    let bytes = numbered(100);
    let whole = bytes.as_slice();

    assert_eq!(bytes.range_of(&whole[10..20]), Some(10..20));
    assert_eq!(bytes.range_of(whole), Some(0..100));
    assert_eq!(bytes.range_of(&whole[99..]), Some(99..100));
    assert_eq!(bytes.range_of(&whole[100..]), Some(100..100));
    assert_eq!(bytes.range_of(&whole[0..0]), Some(0..0));
}

#[test]
fn range_of_rejects_other_memory() {
    let bytes = numbered(100);
    let copy = bytes.as_slice().to_vec();
    let other = numbered(100);

    assert_eq!(bytes.range_of(&copy), None);
    assert_eq!(bytes.range_of(&copy[10..20]), None);
    assert_eq!(bytes.range_of(&other.as_slice()[..1]), None);
    assert_eq!(bytes.range_of(&[]), None);
}

#[test]
fn range_within_checks_both_ends() {
    let whole = 1000..1100;

    assert_eq!(range_within(whole.clone(), 1000..1100), Some(0..100));
    assert_eq!(range_within(whole.clone(), 1010..1020), Some(10..20));
    assert_eq!(range_within(whole.clone(), 1100..1100), Some(100..100));
    assert_eq!(range_within(whole.clone(), 999..1010), None);
    assert_eq!(range_within(whole.clone(), 1090..1101), None);
    assert_eq!(range_within(whole.clone(), 900..1200), None);
    assert_eq!(range_within(whole.clone(), 1101..1101), None);
    assert_eq!(range_within(whole, 999..999), None);
}

#[test]
fn clones_share_bytes() {
    let bytes = numbered(16);
    let clone = bytes.clone();

    assert_eq!(clone.as_slice().as_ptr(), bytes.as_slice().as_ptr());
    assert_eq!(clone.range_of(&bytes.as_slice()[4..8]), Some(4..8));
    let text = format!("{clone:?}");
    assert!(
        text.starts_with("SharedBytes { len: 16, address: 0x"),
        "{text}"
    );
}

/// A packet kept by reference: the buffer that contains it and its range there.
struct HeldPacket {
    buffer: SharedBytes,
    range: Range<usize>,
    ts: Timestamp,
    linktype: u32,
    orig_len: u32,
}

/// A packet copied out of the reader.
#[derive(Debug, PartialEq)]
struct CopiedPacket {
    data: Vec<u8>,
    ts: Timestamp,
    linktype: u32,
    orig_len: u32,
}

/// What reading a whole capture while holding its buffers returned.
struct HeldReading {
    /// The packets whose index `keep` accepted.
    packets: Vec<(usize, HeldPacket)>,
    /// Number of packets read.
    count: usize,
    /// Number of different buffers the read packets lay in.
    buffers: usize,
    stats: ReadStats,
    position: u64,
}

/// Opens `bytes` with a read buffer of `initial` bytes that may grow to `max_len`.
fn open_with_buffer(
    bytes: Vec<u8>,
    initial: usize,
    max_len: usize,
) -> Result<FileSource, CaptureError> {
    let len = bytes.len() as u64;
    let input = Input::with_sizes(Box::new(Cursor::new(bytes)), initial, max_len);
    FileSource::start_with(PathBuf::from("input"), input, Some(len))
}

/// Reads every packet of `source`, keeping a reference to the buffer and range of each
/// packet whose index `keep` accepts.
///
/// It checks for each packet that `range_of` finds its data in the shared buffer, at
/// `last_packet_range`. The packet borrows the source, so a packet in a buffer not yet
/// held is located by its addresses after the packet is released.
fn read_holding(mut source: FileSource, keep: impl Fn(usize) -> bool) -> HeldReading {
    let mut buffer = source.shared_buffer();
    let mut packets = Vec::new();
    let mut count = 0;
    let mut buffers = 0;
    while let Some(packet) = source.next_packet().unwrap() {
        let (ts, linktype, orig_len) = (packet.ts, packet.linktype, packet.orig_len);
        let in_held_buffer = buffer.range_of(packet.data);
        let addresses = packet.data.as_ptr_range();

        let range = match in_held_buffer {
            Some(range) => range,
            None => {
                buffer = source.shared_buffer();
                buffers += 1;
                buffer
                    .range_of_addresses(addresses)
                    .unwrap_or_else(|| panic!("packet {count} is outside the shared buffer"))
            }
        };
        assert_eq!(range, source.last_packet_range(), "packet {count}");
        if keep(count) {
            let buffer = buffer.clone();
            let held = HeldPacket {
                buffer,
                range,
                ts,
                linktype,
                orig_len,
            };
            packets.push((count, held));
        }
        count += 1;
    }
    assert_eq!(source.last_packet_range(), 0..0);
    HeldReading {
        packets,
        count,
        buffers,
        stats: source.stats().clone(),
        position: source.position(),
    }
}

/// Reads every packet of `source`, copying each.
fn read_copying(mut source: FileSource) -> (Vec<CopiedPacket>, ReadStats, u64) {
    let mut packets = Vec::new();
    while let Some(packet) = source.next_packet().unwrap() {
        packets.push(CopiedPacket {
            data: packet.data.to_vec(),
            ts: packet.ts,
            linktype: packet.linktype,
            orig_len: packet.orig_len,
        });
    }
    (packets, source.stats().clone(), source.position())
}

/// Checks that the held packets equal the packets of a plain reading.
fn assert_same_packets(name: &str, held: &HeldReading, plain: &[CopiedPacket]) {
    assert_eq!(held.count, plain.len(), "{name}: packet count");
    for (index, packet) in &held.packets {
        let copied = CopiedPacket {
            data: packet.buffer.as_slice()[packet.range.clone()].to_vec(),
            ts: packet.ts,
            linktype: packet.linktype,
            orig_len: packet.orig_len,
        };
        assert_eq!(copied, plain[*index], "{name}: packet {index}");
    }
}

/// Reads `bytes` twice, holding buffers through a read buffer of `initial` bytes that
/// may grow to `max_len`, then plainly, and checks that both return the same. Returns
/// the held reading.
fn compare_readings(
    name: &str,
    bytes: &[u8],
    initial: usize,
    max_len: usize,
    keep: impl Fn(usize) -> bool,
) -> HeldReading {
    let source = open_with_buffer(bytes.to_vec(), initial, max_len).unwrap();
    let held = read_holding(source, keep);
    let plain = FileSource::from_reader(name.into(), Cursor::new(bytes.to_vec()), None).unwrap();
    let (packets, stats, position) = read_copying(plain);

    assert_same_packets(name, &held, &packets);
    assert_eq!(held.stats, stats, "{name}: statistics");
    assert_eq!(held.position, position, "{name}: position");
    held
}

/// Returns `count` packets of 0 to 1500 bytes, each filled with its own index.
fn varied_packets(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| vec![index as u8; (index * 149) % 1501])
        .collect()
}

/// Builds a classic pcap file of 400 records of 0 to 1500 bytes.
fn varied_pcap(big_endian: bool, nanosecond: bool) -> Vec<u8> {
    let records: Vec<PcapRecord> = varied_packets(400)
        .into_iter()
        .enumerate()
        .map(|(index, data)| PcapRecord {
            secs: 1_700_000_000 + index as u32,
            fraction: index as u32,
            caplen: data.len() as u32,
            orig_len: data.len() as u32 + 4,
            data,
        })
        .collect();
    pcap_file(big_endian, nanosecond, 1, 65535, &records)
}

/// Builds a pcapng file of two sections with enhanced, obsolete and simple packet blocks,
/// skipped blocks, and a block longer than `MAX_BLOCK_LEN`, which the reader skips
/// without keeping it in its buffer.
fn varied_pcapng(big_endian: bool) -> Vec<u8> {
    let mut builder = PcapNgBuilder::new(big_endian)
        .interface(1, 0, None, None)
        .interface(101, 0, Some(9), None);
    for (index, data) in varied_packets(300).iter().enumerate() {
        let ticks = 1_700_000_000_000_000 + index as u64;
        builder = match index % 5 {
            0 => builder.enhanced(1, ticks, data, data.len() as u32),
            1 => builder.obsolete(0, ticks, data, data.len() as u32 + 10),
            2 => builder.simple(data, data.len() as u32),
            3 => builder.block(0x0bad, &data[..data.len() / 2]),
            _ => builder.enhanced(0, ticks, data, data.len() as u32 + 1),
        };
        if index == 150 {
            builder = builder
                .block(0x0bad, &vec![0xee; MAX_BLOCK_LEN as usize + 4])
                .section(!big_endian)
                .interface(113, 0, None, None)
                .interface(1, 0, Some(6), None);
        }
    }
    builder.build()
}

#[test]
fn held_packets_match_plain_reading() {
    let files = [
        ("pcap-le-usec", varied_pcap(false, false)),
        ("pcap-be-nsec", varied_pcap(true, true)),
        ("pcapng-le", varied_pcapng(false)),
        ("pcapng-be", varied_pcapng(true)),
    ];
    for (name, bytes) in &files {
        for capacity in [1_600, 4_096, 100_000] {
            let held = compare_readings(name, bytes, capacity, capacity, |_| true);

            assert_eq!(held.packets.len(), held.count, "{name}");
            assert!(held.count >= 240, "{name}: {} packets", held.count);
            assert_eq!(held.stats.malformed_records, 0, "{name}");
            // A buffer contains at most its capacity in packet bytes.
            let packet_bytes = held.stats.packet_bytes as usize;
            assert!(
                held.buffers >= packet_bytes / capacity,
                "{name}, {capacity}-byte buffer: {} buffers for {packet_bytes} packet bytes",
                held.buffers,
            );
        }
    }
}

#[test]
fn held_packets_survive_buffer_reuse() {
    // Most packets are dropped at once, so the reader reuses the retired buffers
    // whose packets are all gone, and must not write into the others.
    for (name, bytes) in [
        ("pcap-le-usec", varied_pcap(false, false)),
        ("pcapng-be", varied_pcapng(true)),
    ] {
        for keep_every in [7, 50, 199] {
            let held =
                compare_readings(name, &bytes, 2_048, 2_048, |index| index % keep_every == 0);
            assert_eq!(held.packets.len(), held.count.div_ceil(keep_every));
        }
    }
}

/// Returns the folder of the shared capture corpus, a sibling of the repository, and
/// fails the test when it is missing.
fn corpus_dir() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    assert!(
        dir.is_dir(),
        "capture corpus not found: expected the folder {} (`corpus` in the `shared` \
         folder beside the repository)",
        dir.display()
    );
    dir.to_path_buf()
}

#[test]
fn corpus_packets_lie_in_shared_buffers() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 50, "only {} corpus files", paths.len());

    let mut formats = std::collections::BTreeSet::new();
    for path in &paths {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let bytes = std::fs::read(path).unwrap();
        let plain = match FileSource::open(path) {
            Ok(source) => source,
            Err(error) => {
                // Files with an invalid header fail the same way with any buffer.
                // The advice at the end names the file only for a file.
                let without_advice = |message: String| match message.find("if Wireshark") {
                    Some(at) => message[..at].to_string(),
                    None => message,
                };
                let shared = open_with_buffer(bytes, 4_096, BUFFER_SIZE).unwrap_err();
                let expected = error
                    .to_string()
                    .replace(&path.display().to_string(), "input");
                assert_eq!(
                    without_advice(shared.to_string()),
                    without_advice(expected),
                    "{name}"
                );
                continue;
            }
        };
        formats.insert(plain.format().to_string());
        let (packets, stats, position) = read_copying(plain);

        // The buffer starts at 4 KiB and doubles only for a record that needs more.
        let source = open_with_buffer(bytes.clone(), 4_096, BUFFER_SIZE).unwrap();
        let held = read_holding(source, |_| true);

        assert_same_packets(&name, &held, &packets);
        assert_eq!(held.stats, stats, "{name}: statistics");
        assert_eq!(held.position, position, "{name}: position");
        if bytes.len() > 64 << 10 {
            assert!(held.buffers >= 2, "{name}: {} buffers", held.buffers);
        }
    }

    for format in [
        "pcap (little-endian, microsecond times)",
        "pcap (big-endian, microsecond times)",
        "pcap (little-endian, nanosecond times)",
        "pcap (big-endian, nanosecond times)",
        "pcapng",
    ] {
        assert!(formats.contains(format), "no corpus file in {format}");
    }
}

proptest! {
    #[test]
    fn random_holding_matches_plain_reading(
        sizes in proptest::collection::vec(0usize..400, 0..80),
        pcapng in any::<bool>(),
        big_endian in any::<bool>(),
        capacity in 500usize..2_000,
        kept in proptest::collection::vec(any::<bool>(), 80),
    ) {
        let packets: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(index, &size)| vec![index as u8 ^ 0x5a; size])
            .collect();
        let bytes = if pcapng {
            packets
                .iter()
                .enumerate()
                .fold(
                    PcapNgBuilder::new(big_endian).interface(1, 0, None, None),
                    |builder, (index, data)| {
                        builder.enhanced(0, index as u64, data, data.len() as u32)
                    },
                )
                .build()
        } else {
            let records: Vec<PcapRecord> = packets
                .into_iter()
                .enumerate()
                .map(|(index, data)| PcapRecord {
                    secs: index as u32,
                    fraction: 0,
                    caplen: data.len() as u32,
                    // A packet of no byte would be taken for damage.
                    orig_len: data.len() as u32 + 1,
                    data,
                })
                .collect();
            pcap_file(big_endian, false, 1, 0, &records)
        };

        let held = compare_readings("random", &bytes, capacity, capacity, |index| kept[index]);
        prop_assert_eq!(held.count, sizes.len());
    }
}

#[test]
fn other_thread_checks_packets_while_reading() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<SharedBytes>();

    // The checking thread drops each packet after checking it, concurrently with the
    // reader's checks for buffers it can reuse.
    let bytes = varied_pcapng(false);
    let mut source = open_with_buffer(bytes, 4_096, 4_096).unwrap();
    let (sender, receiver) =
        std::sync::mpsc::sync_channel::<(SharedBytes, Range<usize>, Vec<u8>)>(64);
    let checker = std::thread::spawn(move || {
        let mut checked = 0;
        for (buffer, range, expected) in receiver {
            assert_eq!(
                buffer.as_slice()[range].to_vec(),
                expected,
                "packet {checked}"
            );
            checked += 1;
        }
        checked
    });

    let mut sent = 0;
    while let Some(packet) = source.next_packet().unwrap() {
        let copy = packet.data.to_vec();
        let buffer = source.shared_buffer();
        let range = source.last_packet_range();
        sender.send((buffer, range, copy)).unwrap();
        sent += 1;
    }
    drop(sender);

    assert_eq!(checker.join().unwrap(), sent);
    assert!(sent >= 240, "{sent} packets");
}
