//! Property tests of the capture reader on generated and mutated files. The reader must
//! end after a number of calls bounded by the input size, and every call after the end
//! must return `Ok(None)`. Reading the input in small pieces must give what reading it
//! whole gives.
//!
//! The unit tests of the reader check that fixed sample files with flipped bytes never
//! make it panic. These tests generate the files: classic pcap files with any header
//! and records, and pcapng files built from random sequences of blocks, in both byte
//! orders, then change, remove and insert bytes.

use std::io::{self, Cursor, Read};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use wsd_capture::{FileSource, PacketSource, ReadStats, Timestamp};

/// Every packet record takes at least 16 bytes: a classic pcap record header, or the
/// smallest pcapng packet block (a simple packet block without data).
const MIN_RECORD_LEN: usize = 16;

/// Time one reading may take before the test reports that the reader loops. The inputs
/// are a few KiB, which a debug build reads in milliseconds.
const READ_DEADLINE: Duration = Duration::from_secs(10);

/// A packet as returned by the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PacketCopy {
    ts: Timestamp,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

/// Everything one reading of an input produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Reading {
    /// Message of the error that stopped opening or reading, if any.
    error: Option<String>,
    packets: Vec<PacketCopy>,
    stats: ReadStats,
    position: u64,
    /// Calls to `next_packet` up to and including the one that returned the end or
    /// the error.
    calls: usize,
}

/// Reads a whole capture of `len` bytes, checking after every call that the position
/// never moves back and, at the end, that later calls return `Ok(None)` and the
/// counters agree with the packets.
fn read_all(reader: impl Read + Send + 'static, len: usize) -> Reading {
    let mut source = match FileSource::from_reader("input".into(), reader, Some(len as u64)) {
        Ok(source) => source,
        Err(error) => {
            return Reading {
                error: Some(error.to_string()),
                ..Reading::default()
            }
        }
    };
    let max_calls = len / MIN_RECORD_LEN + 1;
    let mut reading = Reading::default();
    let mut position = source.position();
    loop {
        reading.calls += 1;
        assert!(
            reading.calls <= max_calls,
            "more than {max_calls} calls to next_packet for {len} bytes"
        );
        match source.next_packet() {
            Ok(Some(packet)) => reading.packets.push(PacketCopy {
                ts: packet.ts,
                linktype: packet.linktype,
                data: packet.data.to_vec(),
                orig_len: packet.orig_len,
            }),
            Ok(None) => break,
            Err(error) => {
                reading.error = Some(error.to_string());
                break;
            }
        }
        assert!(source.position() >= position, "the position moved back");
        position = source.position();
    }

    for _ in 0..2 {
        let after_end = source.next_packet().map(|packet| packet.is_some());
        assert!(
            matches!(after_end, Ok(false)),
            "a call after the end returned {after_end:?}"
        );
    }
    reading.position = source.position();
    assert!(reading.position <= len as u64, "position past the end");
    reading.stats = source.stats().clone();
    let packet_bytes: u64 = reading.packets.iter().map(|p| p.data.len() as u64).sum();
    assert_eq!(reading.stats.records, reading.packets.len() as u64);
    assert_eq!(reading.stats.packet_bytes, packet_bytes);
    reading
}

/// Reads `bytes` with [`read_all`] on another thread, and fails the test if that takes
/// longer than [`READ_DEADLINE`] or panics.
fn read_with_deadline(bytes: &[u8]) -> Reading {
    let (sender, receiver) = mpsc::channel();
    let input = bytes.to_vec();
    thread::spawn(move || {
        let len = input.len();
        // A failed send means the test already gave up on this reading.
        let _ = sender.send(read_all(Cursor::new(input), len));
    });
    match receiver.recv_timeout(READ_DEADLINE) {
        Ok(reading) => reading,
        Err(RecvTimeoutError::Timeout) => panic!(
            "reading {} bytes did not end within {READ_DEADLINE:?}: {bytes:02x?}",
            bytes.len()
        ),
        Err(RecvTimeoutError::Disconnected) => {
            panic!("reading panicked on {} bytes: {bytes:02x?}", bytes.len())
        }
    }
}

/// A reader that returns at most `piece_len` bytes per call, with an `Interrupted`
/// error before every other piece, as pipes and sockets may.
struct PieceReader {
    data: Vec<u8>,
    position: usize,
    piece_len: usize,
    interrupt_next: bool,
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.interrupt_next = !self.interrupt_next;
        if self.interrupt_next {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let rest = &self.data[self.position..];
        let count = self.piece_len.min(out.len()).min(rest.len());
        out[..count].copy_from_slice(&rest[..count]);
        self.position += count;
        Ok(count)
    }
}

/// Appends `value` in the given byte order.
fn put(out: &mut Vec<u8>, big_endian: bool, value: impl Into<u64>, width: usize) {
    let value: u64 = value.into();
    let bytes = if big_endian {
        value.to_be_bytes()[8 - width..].to_vec()
    } else {
        value.to_le_bytes()[..width].to_vec()
    };
    out.extend_from_slice(&bytes);
}

/// A classic pcap record: header fields as written, which may disagree with `data`.
#[derive(Clone, Debug)]
struct PcapRecord {
    secs: u32,
    fraction: u32,
    caplen: u32,
    orig_len: u32,
    data: Vec<u8>,
}

fn pcap_file(
    big_endian: bool,
    nanosecond: bool,
    snaplen: u32,
    linktype: u32,
    records: &[PcapRecord],
) -> Vec<u8> {
    let mut out = Vec::new();
    let magic: u32 = if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    put(&mut out, big_endian, magic, 4);
    put(&mut out, big_endian, 2u16, 2);
    put(&mut out, big_endian, 4u16, 2);
    put(&mut out, big_endian, 0u32, 4);
    put(&mut out, big_endian, 0u32, 4);
    put(&mut out, big_endian, snaplen, 4);
    put(&mut out, big_endian, linktype, 4);
    for record in records {
        put(&mut out, big_endian, record.secs, 4);
        put(&mut out, big_endian, record.fraction, 4);
        put(&mut out, big_endian, record.caplen, 4);
        put(&mut out, big_endian, record.orig_len, 4);
        out.extend_from_slice(&record.data);
    }
    out
}

/// One pcapng block, written in the byte order of the latest section header.
#[derive(Clone, Debug)]
enum Block {
    Section {
        big_endian: bool,
        major: u16,
    },
    Interface {
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    },
    Enhanced {
        interface: u32,
        ticks: u64,
        caplen_delta: i8,
        data: Vec<u8>,
        orig_len: u32,
    },
    Simple {
        data: Vec<u8>,
        orig_len: u32,
    },
    Obsolete {
        interface: u16,
        ticks: u64,
        data: Vec<u8>,
    },
    /// Interface statistics (5), name resolution (4), custom (0xbad) or an unknown type.
    Other {
        block_type: u32,
        body: Vec<u8>,
    },
}

fn pcapng_file(blocks: &[Block]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut big_endian = false;
    for block in blocks {
        let mut body = Vec::new();
        let block_type: u32 = match block {
            Block::Section {
                big_endian: section_big_endian,
                major,
            } => {
                big_endian = *section_big_endian;
                put(&mut body, big_endian, 0x1a2b_3c4du32, 4);
                put(&mut body, big_endian, *major, 2);
                put(&mut body, big_endian, 0u16, 2);
                put(&mut body, big_endian, u64::MAX, 8);
                0x0a0d_0d0a
            }
            Block::Interface {
                linktype,
                snaplen,
                tsresol,
                tsoffset,
            } => {
                put(&mut body, big_endian, *linktype, 2);
                put(&mut body, big_endian, 0u16, 2);
                put(&mut body, big_endian, *snaplen, 4);
                if let Some(tsresol) = tsresol {
                    put(&mut body, big_endian, 9u16, 2);
                    put(&mut body, big_endian, 1u16, 2);
                    body.extend_from_slice(&[*tsresol, 0, 0, 0]);
                }
                if let Some(tsoffset) = tsoffset {
                    put(&mut body, big_endian, 14u16, 2);
                    put(&mut body, big_endian, 8u16, 2);
                    put(&mut body, big_endian, *tsoffset as u64, 8);
                }
                if tsresol.is_some() || tsoffset.is_some() {
                    put(&mut body, big_endian, 0u32, 4);
                }
                1
            }
            Block::Enhanced {
                interface,
                ticks,
                caplen_delta,
                data,
                orig_len,
            } => {
                let caplen = (data.len() as u32).wrapping_add_signed(i32::from(*caplen_delta));
                put(&mut body, big_endian, *interface, 4);
                put(&mut body, big_endian, ticks >> 32, 4);
                put(&mut body, big_endian, *ticks & 0xffff_ffff, 4);
                put(&mut body, big_endian, caplen, 4);
                put(&mut body, big_endian, *orig_len, 4);
                body.extend_from_slice(data);
                6
            }
            Block::Simple { data, orig_len } => {
                put(&mut body, big_endian, *orig_len, 4);
                body.extend_from_slice(data);
                3
            }
            Block::Obsolete {
                interface,
                ticks,
                data,
            } => {
                put(&mut body, big_endian, *interface, 2);
                put(&mut body, big_endian, 0u16, 2);
                put(&mut body, big_endian, ticks >> 32, 4);
                put(&mut body, big_endian, *ticks & 0xffff_ffff, 4);
                put(&mut body, big_endian, data.len() as u32, 4);
                put(&mut body, big_endian, data.len() as u32, 4);
                body.extend_from_slice(data);
                2
            }
            Block::Other {
                block_type,
                body: other,
            } => {
                body.extend_from_slice(other);
                *block_type
            }
        };
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let total_len = body.len() as u32 + 12;
        put(&mut out, big_endian, block_type, 4);
        put(&mut out, big_endian, total_len, 4);
        out.extend_from_slice(&body);
        put(&mut out, big_endian, total_len, 4);
    }
    out
}

fn packet_data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..80)
}

fn pcap_record() -> impl Strategy<Value = PcapRecord> {
    (
        any::<u32>(),
        prop_oneof![0..1_000_000u32, any::<u32>()],
        packet_data(),
        prop_oneof![4 => Just(0i64), 1 => -4..4i64, 1 => Just(i64::from(u32::MAX))],
        0..2000u32,
    )
        .prop_map(
            |(secs, fraction, data, caplen_delta, orig_len)| PcapRecord {
                secs,
                fraction,
                caplen: (data.len() as i64 + caplen_delta).clamp(0, i64::from(u32::MAX)) as u32,
                orig_len,
                data,
            },
        )
}

fn pcap_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(65535u32),
            Just(0),
            Just(64),
            Just(262_144),
            any::<u32>()
        ],
        prop_oneof![Just(1u32), Just(113), Just(101), any::<u32>()],
        prop::collection::vec(pcap_record(), 0..8),
    )
        .prop_map(|(big_endian, nanosecond, snaplen, linktype, records)| {
            pcap_file(big_endian, nanosecond, snaplen, linktype, &records)
        })
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        1 => (any::<bool>(), prop_oneof![9 => Just(1u16), 1 => 0..3u16])
            .prop_map(|(big_endian, major)| Block::Section { big_endian, major }),
        2 => (
            prop_oneof![Just(1u16), Just(113), Just(276), any::<u16>()],
            prop_oneof![Just(65535u32), Just(0), Just(16), any::<u32>()],
            prop::option::of(any::<u8>()),
            prop::option::of(prop_oneof![-10..10i64, any::<i64>()]),
        )
            .prop_map(|(linktype, snaplen, tsresol, tsoffset)| Block::Interface {
                linktype,
                snaplen,
                tsresol,
                tsoffset,
            }),
        5 => (
            prop_oneof![4 => 0..3u32, 1 => any::<u32>()],
            any::<u64>(),
            prop_oneof![4 => Just(0i8), 1 => any::<i8>()],
            packet_data(),
            0..2000u32,
        )
            .prop_map(|(interface, ticks, caplen_delta, data, orig_len)| Block::Enhanced {
                interface,
                ticks,
                caplen_delta,
                data,
                orig_len,
            }),
        2 => (packet_data(), prop_oneof![0..100u32, any::<u32>()])
            .prop_map(|(data, orig_len)| Block::Simple { data, orig_len }),
        1 => (0..3u16, any::<u64>(), packet_data())
            .prop_map(|(interface, ticks, data)| Block::Obsolete { interface, ticks, data }),
        1 => (
            prop_oneof![Just(4u32), Just(5), Just(0xbad), any::<u32>()],
            prop::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(block_type, body)| Block::Other { block_type, body }),
    ]
}

/// pcapng files that start with a section header and, mostly, an interface description,
/// so that their packet blocks have an interface to refer to.
fn pcapng_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::option::weighted(0.8, (Just(1u16), Just(65535u32))),
        prop::collection::vec(block(), 0..12),
    )
        .prop_map(|(big_endian, interface, blocks)| {
            let mut all = vec![Block::Section {
                big_endian,
                major: 1,
            }];
            all.extend(interface.map(|(linktype, snaplen)| Block::Interface {
                linktype,
                snaplen,
                tsresol: None,
                tsoffset: None,
            }));
            all.extend(blocks);
            pcapng_file(&all)
        })
}

/// Changes to a generated file, applied in this order.
#[derive(Clone, Debug)]
struct Mutation {
    /// Bytes to overwrite: position and new value.
    overwrites: Vec<(Index, u8)>,
    /// A range to remove: start and length.
    removal: Option<(Index, usize)>,
    /// Bytes to insert, and where.
    insertion: Option<(Index, Vec<u8>)>,
    /// Where to cut the file, if anywhere.
    cut: Option<Index>,
}

impl Mutation {
    fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        if !bytes.is_empty() {
            for (index, value) in &self.overwrites {
                let at = index.index(bytes.len());
                bytes[at] = *value;
            }
        }
        if let Some((index, len)) = &self.removal {
            let start = index.index(bytes.len() + 1);
            let end = (start + len).min(bytes.len());
            bytes.drain(start..end);
        }
        if let Some((index, inserted)) = &self.insertion {
            let at = index.index(bytes.len() + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
        if let Some(index) = &self.cut {
            bytes.truncate(index.index(bytes.len() + 1));
        }
        bytes
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        prop::collection::vec((any::<Index>(), any::<u8>()), 0..6),
        prop::option::weighted(0.2, (any::<Index>(), 1..24usize)),
        prop::option::weighted(
            0.2,
            (any::<Index>(), prop::collection::vec(any::<u8>(), 1..24)),
        ),
        prop::option::weighted(0.3, any::<Index>()),
    )
        .prop_map(|(overwrites, removal, insertion, cut)| Mutation {
            overwrites,
            removal,
            insertion,
            cut,
        })
}

/// Generated pcap and pcapng files, most of them changed, and random bytes.
fn capture_input() -> impl Strategy<Value = Vec<u8>> {
    let change = || prop::option::weighted(0.7, mutation());
    prop_oneof![
        4 => (pcap_strategy(), change()).prop_map(|(bytes, change)| apply(change, bytes)),
        5 => (pcapng_strategy(), change()).prop_map(|(bytes, change)| apply(change, bytes)),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn apply(change: Option<Mutation>, bytes: Vec<u8>) -> Vec<u8> {
    match change {
        Some(change) => change.apply(bytes),
        None => bytes,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reading_ends_within_bounded_calls(bytes in capture_input()) {
        read_with_deadline(&bytes);
    }

    #[test]
    fn reading_in_pieces_matches_whole(
        bytes in capture_input(),
        piece_len in prop_oneof![1..8usize, 8..200usize],
    ) {
        let whole = read_with_deadline(&bytes);
        let reader = PieceReader {
            data: bytes.clone(),
            position: 0,
            piece_len,
            interrupt_next: false,
        };
        let pieces = read_all(reader, bytes.len());
        prop_assert_eq!(pieces, whole, "pieces of {} bytes", piece_len);
    }
}

#[test]
fn generated_files_read_back() {
    let data: Vec<u8> = (0..60).collect();
    let pcap = pcap_file(
        true,
        true,
        65535,
        1,
        &[PcapRecord {
            secs: 1_700_000_000,
            fraction: 5,
            caplen: 60,
            orig_len: 70,
            data: data.clone(),
        }],
    );
    let reading = read_all(Cursor::new(pcap.clone()), pcap.len());
    assert_eq!(reading.error, None);
    assert_eq!(reading.packets.len(), 1);
    assert_eq!(reading.packets[0].data, data);
    assert_eq!(reading.packets[0].orig_len, 70);
    assert_eq!(reading.packets[0].ts.to_string(), "1700000000.000000005");

    let pcapng = pcapng_file(&[
        Block::Section {
            big_endian: true,
            major: 1,
        },
        Block::Interface {
            linktype: 113,
            snaplen: 0,
            tsresol: Some(9),
            tsoffset: Some(2),
        },
        Block::Enhanced {
            interface: 0,
            ticks: 1_000_000_007,
            caplen_delta: 0,
            data: data.clone(),
            orig_len: 60,
        },
        Block::Other {
            block_type: 5,
            body: vec![0; 8],
        },
        Block::Simple {
            data: data[..20].to_vec(),
            orig_len: 20,
        },
    ]);
    let reading = read_all(Cursor::new(pcapng.clone()), pcapng.len());
    assert_eq!(reading.error, None);
    assert_eq!(reading.packets.len(), 2);
    assert_eq!(reading.packets[0].linktype, 113);
    assert_eq!(reading.packets[0].ts.to_string(), "3.000000007");
    assert_eq!(reading.packets[1].data, data[..20]);
    assert_eq!(reading.stats.skipped_blocks, 1);
    assert_eq!(reading.position, pcapng.len() as u64);
}
