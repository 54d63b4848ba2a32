use std::io::{Cursor, Read};

use super::super::testdata::PcapNgBuilder;
use super::super::{FileSource, MAX_BLOCK_LEN, MAX_CAPLEN, MAX_INTERFACES};
use crate::{CaptureError, PacketSource, Timestamp};

/// A packet as owned values, for comparisons.
#[derive(Debug, PartialEq, Eq)]
struct Owned {
    ts: Timestamp,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

fn open(bytes: Vec<u8>) -> Result<FileSource, CaptureError> {
    FileSource::from_reader("test.pcapng".into(), Cursor::new(bytes), None)
}

/// Reads every packet, panicking on an error.
fn read_all(source: &mut FileSource) -> Vec<Owned> {
    let mut packets = Vec::new();
    while let Some(packet) = source.next_packet().expect("no read error") {
        packets.push(Owned {
            ts: packet.ts,
            linktype: packet.linktype,
            data: packet.data.to_vec(),
            orig_len: packet.orig_len,
        });
    }
    packets
}

fn ts(secs: i64, nanos: u64) -> Timestamp {
    Timestamp::from_parts(secs, nanos)
}

const T0: u64 = 1_700_000_000;

#[test]
fn reads_both_byte_orders() {
    for big_endian in [false, true] {
        let bytes = PcapNgBuilder::new(big_endian)
            .interface(1, 65535, None, None)
            .enhanced(0, T0 * 1_000_000 + 5, &[1, 2, 3, 4, 5], 60)
            .enhanced(0, T0 * 1_000_000 + 6, &[6; 64], 64)
            .build();
        let mut source = open(bytes).unwrap();
        let packets = read_all(&mut source);

        assert_eq!(packets.len(), 2, "big endian: {big_endian}");
        assert_eq!(packets[0].ts, ts(1_700_000_000, 5_000));
        assert_eq!(packets[0].linktype, 1);
        assert_eq!(packets[0].data, vec![1, 2, 3, 4, 5]);
        assert_eq!(packets[0].orig_len, 60);
        assert_eq!(packets[1].data, vec![6; 64]);
        assert_eq!(source.stats().records, 2);
        assert_eq!(source.stats().packet_bytes, 69);
        assert_eq!(source.format(), crate::CaptureFormat::PcapNg);
    }
}

#[test]
fn interfaces_keep_own_resolution_and_linktype() {
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, Some(6), None)
        .interface(113, 0, Some(9), None)
        .interface(0, 0, Some(0x8a), None)
        .interface(12, 0, Some(3), Some(1_700_000_000))
        .enhanced(0, T0 * 1_000_000 + 100, &[0; 4], 4)
        .enhanced(1, T0 * 1_000_000_000 + 200_000, &[1; 4], 4)
        .enhanced(2, T0 * 1024 + 512, &[2; 4], 4)
        .enhanced(3, 300, &[3; 4], 4)
        .build();
    let packets = read_all(&mut open(bytes).unwrap());

    assert_eq!(packets.len(), 4);
    assert_eq!(packets[0].ts, ts(1_700_000_000, 100_000));
    assert_eq!(packets[0].linktype, 1);
    assert_eq!(packets[1].ts, ts(1_700_000_000, 200_000));
    assert_eq!(packets[1].linktype, 113);
    assert_eq!(packets[2].ts, ts(1_700_000_000, 500_000_000));
    assert_eq!(packets[2].linktype, 0);
    assert_eq!(packets[3].ts, ts(1_700_000_000, 300_000_000));
    assert_eq!(packets[3].linktype, 12);
}

#[test]
fn tsoffset_follows_section_byte_order() {
    let bytes = PcapNgBuilder::new(true)
        .interface(1, 0, Some(6), Some(1_000))
        .enhanced(0, 2_000_000, &[0; 4], 4)
        .build();
    let packets = read_all(&mut open(bytes).unwrap());

    assert_eq!(packets[0].ts, ts(1_002, 0));
}

#[test]
fn out_of_range_times_counted() {
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, Some(6), Some(i64::MIN))
        .interface(1, 0, Some(0), None)
        .enhanced(0, 2_000_000, &[0; 4], 4)
        // A simple packet takes the time of the packet before, which counted.
        .simple(&[3; 40], 40)
        .enhanced(1, u64::MAX, &[1; 4], 4)
        .enhanced(1, 1_700_000_000, &[2; 4], 4)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 4);
    assert_eq!(packets[0].ts, Timestamp::from_nanos(i64::MIN));
    assert_eq!(packets[1].ts, Timestamp::from_nanos(i64::MIN));
    assert_eq!(packets[2].ts, Timestamp::from_nanos(i64::MAX));
    assert_eq!(packets[3].ts, ts(1_700_000_000, 0));
    assert_eq!(source.stats().clamped_times, 2);
}

/// A pcapng packet dated far from the packets before and after it, as by one
/// flipped bit of its time, gets the time of the packet before it. Two such
/// packets in a row, or one at the end, keep their dates.
#[test]
fn lone_bogus_block_time_replaced() {
    let capture = |odd: &[u64]| {
        let mut builder = PcapNgBuilder::new(false).interface(1, 0, Some(6), None);
        for index in 0..10u64 {
            let micros = (T0 + index) * 1_000_000;
            let micros = if odd.contains(&index) {
                micros ^ (1 << 52)
            } else {
                micros
            };
            builder = builder.enhanced(0, micros, &[index as u8; 60], 60);
        }
        open(builder.build()).unwrap()
    };
    let mut source = capture(&[4]);
    let packets = read_all(&mut source);
    assert_eq!(packets.len(), 10);
    assert_eq!(packets[4].ts, ts(T0 as i64 + 3, 0));
    assert_eq!(packets[4].data, [4; 60]);
    assert_eq!(packets[5].ts, ts(T0 as i64 + 5, 0));
    assert_eq!(source.stats().lone_times, 1);

    // Bit 30 of the microseconds moves the packet about 18 minutes ahead.
    let micros = |index: u64| (T0 + index) * 1_000_000;
    let bytes = (0..10u64)
        .fold(
            PcapNgBuilder::new(false).interface(1, 0, Some(6), None),
            |builder, index| {
                let time = if index == 4 {
                    micros(index) ^ (1 << 30)
                } else {
                    micros(index)
                };
                builder.enhanced(0, time, &[index as u8; 60], 60)
            },
        )
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);
    assert_eq!(packets[4].ts, ts(T0 as i64 + 3, 0));
    assert_eq!(source.stats().lone_times, 1);

    for odd in [[4, 5], [9, 9]] {
        let mut source = capture(&odd);
        let packets = read_all(&mut source);
        let bogus = ((T0 + odd[0]) * 1_000_000) ^ (1 << 52);
        assert_eq!(
            packets[odd[0] as usize].ts,
            Timestamp::from_nanos(bogus as i64 * 1_000)
        );
        assert_eq!(source.stats().lone_times, 0);
    }
}

/// A lone packet whose flipped bit puts its time beyond the range of
/// [`Timestamp`] gets the time of the packet before it and counts only as a
/// lone time, not as a clamped one.
#[test]
fn lone_out_of_range_time_replaced() {
    let nanos = |secs: u64| secs * 1_000_000_000;
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, Some(9), None)
        .enhanced(0, nanos(T0), &[0; 60], 60)
        .enhanced(0, nanos(T0 + 1) ^ (1 << 63), &[1; 60], 60)
        .enhanced(0, nanos(T0 + 2), &[2; 60], 60)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 3);
    assert_eq!(packets[1].ts, ts(T0 as i64, 0));
    assert_eq!(source.stats().lone_times, 1);
    assert_eq!(source.stats().clamped_times, 0);
}

/// A reader that returns at most `chunk` bytes per call, as a pipe may.
struct Chunked {
    data: Cursor<Vec<u8>>,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let count = self.chunk.min(out.len());
        self.data.read(&mut out[..count])
    }
}

/// A lone far-dated packet gets the same time whatever the sizes of the reads.
/// The next block's trailing length here is damaged, which only a read of the
/// whole block shows.
#[test]
fn lone_time_check_independent_of_reads() {
    let far = (T0 * 1_000_000) ^ (1 << 52);
    let builder = PcapNgBuilder::new(false)
        .interface(1, 0, Some(6), None)
        .enhanced(0, T0 * 1_000_000, &[0; 60], 60)
        .enhanced(0, far, &[1; 60], 60)
        .enhanced(0, (T0 + 1) * 1_000_000, &[2; 3000], 3000);
    let trailing_at = builder.offset() as usize - 4;
    let mut bytes = builder
        .enhanced(0, (T0 + 2) * 1_000_000, &[3; 60], 60)
        .build();
    bytes[trailing_at] ^= 4;

    let mut whole = open(bytes.clone()).unwrap();
    let whole_packets = read_all(&mut whole);
    for chunk in [1, 7, 64, 200] {
        let reader = Chunked {
            data: Cursor::new(bytes.clone()),
            chunk,
        };
        let mut source = FileSource::from_reader("test.pcapng".into(), reader, None).unwrap();
        let packets = read_all(&mut source);

        assert_eq!(packets, whole_packets, "reads of {chunk} bytes");
        assert_eq!(
            source.stats().lone_times,
            whole.stats().lone_times,
            "reads of {chunk} bytes"
        );
    }
    assert_eq!(whole_packets[1].ts, ts(T0 as i64, 0));
    assert_eq!(whole.stats().lone_times, 1);
}

/// A packet of one interface dated far from the packets of another, which may
/// keep time by another clock, keeps its date.
#[test]
fn other_interface_time_kept() {
    let far = (T0 + 86_400 * 400) * 1_000_000;
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, Some(6), None)
        .interface(1, 0, Some(6), None)
        .enhanced(0, T0 * 1_000_000, &[0; 60], 60)
        .enhanced(1, far, &[1; 60], 60)
        .enhanced(0, (T0 + 1) * 1_000_000, &[2; 60], 60)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets[1].ts, Timestamp::from_nanos(far as i64 * 1_000));
    assert_eq!(source.stats().lone_times, 0);
}

#[test]
fn new_section_restarts_interface_list() {
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .interface(101, 0, None, None)
        .enhanced(1, 1_000_000, &[1; 4], 4)
        .section(true)
        .interface(113, 0, Some(9), None)
        .enhanced(0, 2_000_000_000, &[2; 4], 4)
        .enhanced(1, 3_000_000_000, &[3; 4], 4)
        .enhanced(0, 4_000_000_000, &[4; 4], 4)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 3);
    assert_eq!(packets[0].linktype, 101);
    assert_eq!(packets[0].ts, ts(1, 0));
    assert_eq!(packets[1].linktype, 113);
    assert_eq!(packets[1].ts, ts(2, 0));
    assert_eq!(packets[2].ts, ts(4, 0));
    assert_eq!(source.stats().malformed_records, 1);
}

#[test]
fn simple_packets_use_interface_zero() {
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 64, None, None)
        .enhanced(0, 7_000_000, &[1; 8], 8)
        .simple(&[2; 100], 100)
        .simple(&[3; 10], 10)
        .simple(&[4; 12], 1500)
        .build();
    let packets = read_all(&mut open(bytes).unwrap());

    assert_eq!(packets.len(), 4);
    assert_eq!(packets[1].data, vec![2; 64]);
    assert_eq!(packets[1].orig_len, 100);
    assert_eq!(packets[1].ts, ts(7, 0));
    assert_eq!(packets[2].data, vec![3; 10]);
    assert_eq!(packets[3].data, vec![4; 12]);
    assert_eq!(packets[3].orig_len, 1500);
}

#[test]
fn simple_packet_without_interface_is_malformed() {
    let bytes = PcapNgBuilder::new(false)
        .simple(&[2; 8], 8)
        .interface(1, 0, None, None)
        .simple(&[3; 8], 8)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].data, vec![3; 8]);
    assert_eq!(source.stats().malformed_records, 1);
}

#[test]
fn obsolete_packet_block_is_read() {
    for big_endian in [false, true] {
        let bytes = PcapNgBuilder::new(big_endian)
            .interface(1, 0, None, None)
            .interface(113, 0, Some(9), None)
            .obsolete(1, 5_000_000_123, &[9; 30], 40)
            .build();
        let packets = read_all(&mut open(bytes).unwrap());

        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].ts, ts(5, 123));
        assert_eq!(packets[0].linktype, 113);
        assert_eq!(packets[0].data, vec![9; 30]);
        assert_eq!(packets[0].orig_len, 40);
    }
}

#[test]
fn other_blocks_are_skipped() {
    let bytes = PcapNgBuilder::new(false)
        .block(4, &[0; 8])
        .interface(1, 0, None, None)
        .block(5, &[0; 20])
        .enhanced(0, 1, &[1; 4], 4)
        .block(0x0bad, &[0; 9])
        .block(0x1234_5678, &[])
        .block(7, &vec![0; 2 * MAX_BLOCK_LEN as usize])
        .enhanced(0, 2, &[2; 4], 4)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 2);
    assert_eq!(packets[1].data, vec![2; 4]);
    assert_eq!(source.stats().skipped_blocks, 5);
    assert_eq!(source.stats().malformed_records, 0);
}

#[test]
fn unknown_interface_is_skipped() {
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4)
        .enhanced(7, 2, &[7; 4], 4)
        .enhanced(u32::MAX, 3, &[7; 4], 4)
        .enhanced(0, 4, &[4; 4], 4)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 2);
    assert!(packets.iter().all(|packet| packet.linktype == 1));
    assert_eq!(source.stats().malformed_records, 2);
    assert_eq!(source.stats().stopped_at, None);
}

#[test]
fn caplen_beyond_block_is_skipped() {
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced_with_caplen(0, 1, 200, &[1; 8], 200)
        .enhanced(0, 2, &[2; 8], 8)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].data, vec![2; 8]);
    assert_eq!(source.stats().malformed_records, 1);
}

#[test]
fn absurd_caplen_in_block_is_skipped() {
    let huge = vec![0; MAX_CAPLEN as usize + 4];
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .interface(1, 1500, None, None)
        .enhanced(0, 1, &huge, 1)
        .enhanced(1, 2, &vec![0; 1500 + 65536 + 4], 1500)
        .enhanced(1, 3, &[3; 1514], 1514)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].data.len(), 1514);
    assert_eq!(source.stats().malformed_records, 2);
}

#[test]
fn caplen_above_origlen_raises_origlen() {
    let bytes = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 54], 1)
        .build();
    let packets = read_all(&mut open(bytes).unwrap());

    assert_eq!(packets[0].data.len(), 54);
    assert_eq!(packets[0].orig_len, 54);
}

#[test]
fn huge_block_length_stops_reading() {
    let builder = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4);
    let offset = builder.offset();
    let mut bytes = builder.build();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&0xffff_fffcu32.to_le_bytes());
    bytes.extend_from_slice(&[0; 64]);
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 1);
    assert_eq!(source.stats().stopped_at, Some(offset));
    assert_eq!(source.stats().malformed_records, 1);
    assert!(source.next_packet().unwrap().is_none());
}

#[test]
fn corrupt_framing_after_packets_stops() {
    let builder = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4);
    let offset = builder.offset();

    let mut odd_length = builder.build();
    odd_length.extend_from_slice(&6u32.to_le_bytes());
    odd_length.extend_from_slice(&37u32.to_le_bytes());
    odd_length.extend_from_slice(&[0; 40]);

    let builder = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4);
    let mut mismatch = builder.enhanced(0, 2, &[2; 4], 4).build();
    let last = mismatch.len() - 4;
    mismatch[last..].copy_from_slice(&40u32.to_le_bytes());

    for bytes in [odd_length, mismatch] {
        let mut source = open(bytes).unwrap();
        let packets = read_all(&mut source);

        assert_eq!(packets.len(), 1);
        assert_eq!(source.stats().stopped_at, Some(offset));
        assert_eq!(source.stats().truncated_at, None);
        assert_eq!(source.stats().malformed_records, 1);
    }
}

/// Blocks after damaged framing are found again and read: after a block whose
/// length is odd, and after one whose trailing length differs, whatever block
/// types follow.
#[test]
fn blocks_after_corrupt_framing_read() {
    let start = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4);
    let damage = start.offset();
    let mut odd_length = start.build();
    odd_length.extend_from_slice(&6u32.to_le_bytes());
    odd_length.extend_from_slice(&37u32.to_le_bytes());
    odd_length.extend_from_slice(&[0; 40]);

    let mut mismatch = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4)
        .enhanced(0, 2, &[9; 4], 4)
        .build();
    let last = mismatch.len() - 4;
    mismatch[last..].copy_from_slice(&40u32.to_le_bytes());

    // A second interface, a statistics block, a packet of that interface and a
    // simple packet.
    let rest = PcapNgBuilder::new(false);
    let rest_start = rest.offset();
    let rest = rest
        .interface(101, 0, None, None)
        .block(5, &[0; 12])
        .enhanced(1, 3, &[3; 40], 40)
        .simple(&[4; 20], 20)
        .build();
    for (name, damaged) in [("odd length", odd_length), ("trailing length", mismatch)] {
        let skipped = damaged.len() as u64 - damage;
        let mut bytes = damaged;
        bytes.extend_from_slice(&rest[rest_start as usize..]);
        let mut source = open(bytes).unwrap();
        let packets = read_all(&mut source);

        let data: Vec<&[u8]> = packets.iter().map(|packet| &packet.data[..]).collect();
        assert_eq!(data, [&[1; 4][..], &[3; 40], &[4; 20]], "{name}");
        assert_eq!(packets[1].linktype, 101, "{name}");
        let stats = source.stats();
        assert_eq!(stats.malformed_records, 1, "{name}");
        assert_eq!(stats.skipped_bytes, skipped, "{name}");
        assert_eq!(stats.stopped_at, None, "{name}");
    }
}

/// A block header read out of place, whose length runs past the known end of the
/// input, is searched past instead of skipped to the end.
#[test]
fn block_past_known_end_searched() {
    let start = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4);
    let damage = start.offset() as usize;
    let mut bytes = start
        .enhanced(0, 2, &[2; 4], 4)
        .enhanced(0, 3, &[3; 4], 4)
        .enhanced(0, 4, &[4; 4], 4)
        .build();
    // A reserved block type and a length of about 3 GiB, as the middle of a
    // packet block's header reads.
    let garbage = [0, 0, 0, 0, 0, 0, 0, 0xc1];
    bytes.splice(damage..damage, garbage);
    let len = bytes.len() as u64;
    let mut source =
        FileSource::from_reader("test.pcapng".into(), Cursor::new(bytes), Some(len)).unwrap();
    let packets = read_all(&mut source);

    let data: Vec<&[u8]> = packets.iter().map(|packet| &packet.data[..]).collect();
    assert_eq!(data, [[1; 4], [2; 4], [3; 4], [4; 4]]);
    let stats = source.stats();
    assert_eq!(stats.skipped_bytes, garbage.len() as u64);
    assert_eq!(stats.truncated_at, None);
    assert_eq!(stats.stopped_at, None);
}

#[test]
fn corrupt_framing_before_packets_is_error() {
    let builder = PcapNgBuilder::new(false).interface(1, 0, None, None);
    let offset = builder.offset();
    let mut bytes = builder.build();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&8u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 8]);
    let mut source = open(bytes).unwrap();

    let error = source.next_packet().unwrap_err();
    match &error {
        CaptureError::Malformed {
            offset: at, detail, ..
        } => {
            assert_eq!(*at, offset);
            assert!(detail.contains("block length 8"), "{detail}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(error.is_input_error());
    assert!(source.next_packet().unwrap().is_none());
}

/// Corrupt framing before the first packet is passed over like later damage when
/// readable blocks follow it.
#[test]
fn corrupt_framing_before_packets_then_blocks_read() {
    // A packet block whose length, 8, is below the smallest block's.
    let mut bytes = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .build();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&8u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 8]);
    let rest = PcapNgBuilder::new(false).interface(1, 0, None, None);
    let rest_start = rest.offset() as usize;
    let rest = rest.enhanced(0, 1, &[1; 4], 4).build();
    bytes.extend_from_slice(&rest[rest_start..]);
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].data, [1; 4]);
    assert_eq!(source.stats().skipped_bytes, 16);
    assert_eq!(source.stats().malformed_records, 1);
    assert_eq!(source.stats().stopped_at, None);
}

/// A file whose only interface description is damaged gives no packet after
/// the search, because its packet blocks name no described interface, so the
/// damage is returned as an error as when nothing follows it.
#[test]
fn damaged_only_interface_is_error() {
    let builder = PcapNgBuilder::new(false);
    let offset = builder.offset();
    let mut bytes = builder
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4)
        .enhanced(0, 2, &[2; 4], 4)
        .build();
    // The interface description's trailing length, 20 bytes after its start.
    let trailing = offset as usize + 16;
    bytes[trailing..trailing + 4].copy_from_slice(&24u32.to_le_bytes());
    let mut source = open(bytes).unwrap();

    match source.next_packet() {
        Err(CaptureError::Malformed {
            offset: at, detail, ..
        }) => {
            assert_eq!(at, offset);
            assert!(detail.contains("differs"), "{detail}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(source.next_packet().unwrap().is_none());
    assert_eq!(source.stats().records, 0);
}

#[test]
fn corrupt_first_section_header_is_error() {
    // A trailing block length that differs from the leading one.
    let mut bytes = PcapNgBuilder::new(false).build();
    bytes[24..28].copy_from_slice(&[0x30, 0x30, 0x30, 0x30]);
    let error = open(bytes).unwrap_err();
    assert!(
        matches!(error, CaptureError::Malformed { offset: 0, .. }),
        "{error:?}"
    );
    // The message gives the next step as well as the defect.
    let message = error.to_string();
    assert!(message.contains("is corrupt at byte 0"), "{message}");
    assert!(message.contains("complete copy"), "{message}");
    assert!(message.contains("editcap -F pcapng"), "{message}");

    // An option whose length overruns a block that is otherwise consistent.
    let mut bytes = PcapNgBuilder::new(false).build();
    bytes.truncate(24);
    bytes.extend_from_slice(&[0x30, 0x30, 0x30, 0x30, 0, 0, 0, 0, 36, 0, 0, 0]);
    bytes[4..8].copy_from_slice(&36u32.to_le_bytes());
    let error = open(bytes).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, CaptureError::Malformed { offset: 0, .. }),
        "{error:?}"
    );
    assert!(
        message.contains("option 12336 of length 12336"),
        "{message}"
    );

    // A section header shorter than its fixed fields.
    let mut bytes = vec![0x0a, 0x0d, 0x0d, 0x0a, 12, 0, 0, 0];
    bytes.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    let error = open(bytes).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, CaptureError::Malformed { offset: 0, .. }),
        "{error:?}"
    );
    assert!(
        message.contains("shorter than the minimum of 28"),
        "{message}"
    );
}

#[test]
fn other_major_version_is_rejected() {
    let mut bytes = PcapNgBuilder::new(false).build();
    bytes[12..14].copy_from_slice(&2u16.to_le_bytes());
    let error = open(bytes).unwrap_err();
    assert!(
        matches!(
            error,
            CaptureError::UnsupportedVersion {
                format: "pcapng",
                major: 2,
                minor: 0,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn invalid_interface_keeps_numbering() {
    // An interface description 16 bytes long, shorter than its 20 bytes of fixed fields.
    let bytes = PcapNgBuilder::new(false)
        .block(1, &[0; 4])
        .interface(113, 0, None, None)
        .enhanced(0, 1, &[0; 4], 4)
        .enhanced(1, 2, &[1; 4], 4)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].linktype, 113);
    assert_eq!(source.stats().malformed_records, 1);
    assert_eq!(source.stats().skipped_blocks, 1);
}

#[test]
fn too_fine_resolution_skips_interface() {
    let bytes = PcapNgBuilder::new(false)
        // 10^-30 s and 2^-127 s: a 64-bit count of either cannot reach one second.
        .interface(1, 0, Some(30), None)
        .interface(1, 0, Some(0xff), None)
        // 10^-12 s, 2^-32 s, and the finest usable units, 10^-19 s and 2^-63 s.
        .interface(113, 0, Some(12), None)
        .interface(113, 0, Some(0xa0), None)
        .interface(113, 0, Some(19), None)
        .interface(113, 0, Some(0xbf), None)
        .enhanced(0, T0 * 1_000_000, &[0; 4], 4)
        .enhanced(1, T0 << 32, &[1; 4], 4)
        .enhanced(2, 1_000_000 * 1_000_000_000_000 + 5_000, &[2; 4], 4)
        .enhanced(3, (T0 << 32) + (1 << 31), &[3; 4], 4)
        .enhanced(4, 15 * 1_000_000_000_000_000_000, &[4; 4], 4)
        .enhanced(5, 3 << 62, &[5; 4], 4)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 4);
    assert_eq!(packets[0].data, vec![2; 4]);
    assert_eq!(packets[0].ts, ts(1_000_000, 5));
    assert_eq!(packets[1].ts, ts(1_700_000_000, 500_000_000));
    assert_eq!(packets[2].ts, ts(1, 500_000_000));
    assert_eq!(packets[3].ts, ts(1, 500_000_000));
    assert_eq!(source.stats().skipped_blocks, 2);
    assert_eq!(source.stats().malformed_records, 2);
    assert_eq!(source.stats().clamped_times, 0);
}

#[test]
fn interfaces_over_limit_are_skipped() {
    let mut builder = PcapNgBuilder::new(false);
    for _ in 0..=MAX_INTERFACES {
        builder = builder.interface(1, 0, None, None);
    }
    let last = (MAX_INTERFACES - 1) as u32;
    let bytes = builder
        .enhanced(last, 1, &[1; 4], 4)
        .enhanced(last + 1, 2, &[2; 4], 4)
        .build();
    let mut source = open(bytes).unwrap();
    let packets = read_all(&mut source);

    assert_eq!(packets.len(), 1);
    assert_eq!(source.stats().skipped_blocks, 1);
    assert_eq!(source.stats().malformed_records, 1);
}

#[test]
fn invalid_byte_order_in_later_section_stops() {
    let builder = PcapNgBuilder::new(false)
        .interface(1, 0, None, None)
        .enhanced(0, 1, &[1; 4], 4);
    let offset = builder.offset();
    let mut bytes = builder.section(false).build();
    let magic_at = offset as usize + 8;
    bytes[magic_at..magic_at + 4].copy_from_slice(&[1, 2, 3, 4]);
    let mut source = open(bytes).unwrap();

    assert_eq!(read_all(&mut source).len(), 1);
    assert_eq!(source.stats().stopped_at, Some(offset));
}

#[test]
fn cut_at_every_length_returns_complete_packets() {
    let mut builder = PcapNgBuilder::new(false);
    let mut boundaries = vec![builder.offset()];
    let mut packet_ends = Vec::new();
    builder = builder.interface(1, 0, None, None);
    boundaries.push(builder.offset());
    builder = builder.block(4, &[0; 8]);
    boundaries.push(builder.offset());
    for (index, length) in [(0u64, 5usize), (1, 60), (2, 1)] {
        builder = builder.enhanced(0, index, &vec![index as u8; length], 60);
        boundaries.push(builder.offset());
        packet_ends.push(builder.offset());
    }
    builder = builder.section(true);
    boundaries.push(builder.offset());
    builder = builder.interface(1, 0, None, None);
    boundaries.push(builder.offset());
    builder = builder.simple(&[9; 20], 20);
    boundaries.push(builder.offset());
    packet_ends.push(builder.offset());
    let bytes = builder.build();
    let first_section_end = 28;

    for cut in 0..=bytes.len() {
        let result = open(bytes[..cut].to_vec());
        if cut < first_section_end {
            let error = result.unwrap_err();
            // Fewer than 4 bytes cannot show the block type.
            if cut < 4 {
                assert!(
                    matches!(error, CaptureError::NotACapture { .. }),
                    "cut at {cut}: {error:?}"
                );
            } else {
                assert!(
                    matches!(error, CaptureError::CutShort { len, .. } if len == cut as u64),
                    "cut at {cut}: {error:?}"
                );
            }
            continue;
        }
        let mut source = result.unwrap();
        let count = read_all(&mut source).len();

        let complete = packet_ends.iter().filter(|&&end| end <= cut as u64).count();
        assert_eq!(count, complete, "file cut at {cut} bytes");
        assert_eq!(source.position(), cut as u64, "cut at {cut}");
        let on_boundary = boundaries.contains(&(cut as u64));
        assert_eq!(
            source.stats().truncated_at.is_none(),
            on_boundary,
            "cut at {cut}"
        );
    }
}
