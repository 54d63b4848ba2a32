//! IP fragments counted into the flow of their datagram's first fragment, with
//! frames built byte by byte and decoded by `wsd-decode`.

use wsd_capture::Timestamp;
use wsd_decode::{decode, linktype, StopReason};
use wsd_flow::{
    DatagramSnapshot, Direction, FlowRecord, PacketOutcome, RestoreError, Tracker, TrackerConfig,
    TrackerStats, FRAGMENT_TIMEOUT, MAX_FRAGMENT_DATAGRAMS, MAX_WAITING_FRAGMENTS,
};

const CLIENT_V4: [u8; 4] = [10, 0, 0, 1];
const SERVER_V4: [u8; 4] = [10, 0, 0, 2];
const CLIENT_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SERVER_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const TCP: u8 = 6;

fn ts(millis: i64) -> Timestamp {
    Timestamp::from_nanos(1_700_000_000_000_000_000 + millis * 1_000_000)
}

/// Builds a TCP segment of a 20-byte header and `payload_len` bytes of payload.
fn tcp_segment(src_port: u16, dst_port: u16, flags: u8, payload_len: usize) -> Vec<u8> {
    let mut segment = Vec::new();
    segment.extend_from_slice(&src_port.to_be_bytes());
    segment.extend_from_slice(&dst_port.to_be_bytes());
    segment.extend_from_slice(&1000u32.to_be_bytes());
    segment.extend_from_slice(&0u32.to_be_bytes());
    segment.extend_from_slice(&[5 << 4, flags]);
    segment.extend_from_slice(&64240u16.to_be_bytes());
    segment.extend_from_slice(&[0, 0, 0, 0]);
    segment.extend((0..payload_len).map(|i| i as u8));
    segment
}

fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame
}

/// Builds an Ethernet frame with an IPv4 fragment of `data`, whose first byte is at `offset`
/// (a multiple of 8) in the datagram's payload.
fn ipv4_fragment(
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    offset: usize,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    ipv4_fragment_of(TCP, src, dst, id, offset, more, data)
}

/// Builds an IPv4 fragment as [`ipv4_fragment`] does, of a datagram of `protocol`.
fn ipv4_fragment_of(
    protocol: u8,
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    offset: usize,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let mut frame = ethernet(0x0800);
    let total_len = (20 + data.len()) as u16;
    let field = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    frame.extend_from_slice(&[0x45, 0]);
    frame.extend_from_slice(&total_len.to_be_bytes());
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(&field.to_be_bytes());
    frame.extend_from_slice(&[64, protocol, 0, 0]);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(data);
    frame
}

/// Builds an Ethernet frame with an IPv6 packet carrying a fragment header and `data`.
fn ipv6_fragment(
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    offset: usize,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let mut frame = ethernet(0x86dd);
    let payload_len = (8 + data.len()) as u16;
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&payload_len.to_be_bytes());
    frame.extend_from_slice(&[44, 64]);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&dst);
    let field = (offset as u16) | u16::from(more);
    frame.extend_from_slice(&[TCP, 0]);
    frame.extend_from_slice(&field.to_be_bytes());
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(data);
    frame
}

/// Builds the three IPv4 fragments of a 36-byte SYN segment from client to server: 24
/// bytes at offset 0, 8 at offset 24 and the last 4 at offset 32.
fn syn_fragments_v4(id: u16) -> [Vec<u8>; 3] {
    let segment = tcp_segment(40000, 80, 0x02, 16);
    [
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 0, true, &segment[..24]),
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 24, true, &segment[24..32]),
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 32, false, &segment[32..]),
    ]
}

/// Runs frames with their times (in milliseconds) through a tracker and returns its
/// records and counters at the end.
fn run(frames: &[(i64, &[u8])]) -> (Vec<FlowRecord>, TrackerStats) {
    run_with(TrackerConfig::default(), frames)
}

fn run_with(config: TrackerConfig, frames: &[(i64, &[u8])]) -> (Vec<FlowRecord>, TrackerStats) {
    let mut tracker = Tracker::new(config);
    let mut records = Vec::new();
    for &(millis, frame) in frames {
        tracker.process(ts(millis), &decode(linktype::ETHERNET, frame));
        records.extend(tracker.drain_finished());
    }
    tracker.finish();
    records.extend(tracker.drain_finished());
    (records, tracker.stats())
}

/// Runs frames like [`run_with`], but replaces the tracker before frame `split` by
/// one restored from its snapshot. Returns the records and each frame's outcome.
fn run_split(
    config: TrackerConfig,
    frames: &[(i64, &[u8])],
    split: Option<usize>,
) -> (Vec<FlowRecord>, Vec<PacketOutcome>) {
    let mut tracker = Tracker::new(config);
    let mut records = Vec::new();
    let mut outcomes = Vec::new();
    for (index, &(millis, frame)) in frames.iter().enumerate() {
        if split == Some(index) {
            tracker = Tracker::restore(config, &tracker.snapshot()).unwrap();
            records.extend(tracker.drain_finished());
        }
        outcomes.push(tracker.process(ts(millis), &decode(linktype::ETHERNET, frame)));
        records.extend(tracker.drain_finished());
    }
    tracker.finish();
    records.extend(tracker.drain_finished());
    (records, outcomes)
}

/// Asserts that a run split before every frame gives the records and outcomes of
/// one straight run.
fn assert_split_anywhere_matches(config: TrackerConfig, frames: &[(i64, &[u8])]) {
    let straight = run_split(config, frames, None);
    for split in 0..=frames.len() {
        let restored = run_split(config, frames, Some(split));
        assert_eq!(
            restored.1, straight.1,
            "outcomes, split before frame {split}"
        );
        assert_eq!(
            restored.0, straight.0,
            "records, split before frame {split}"
        );
    }
}

#[test]
fn frames_decode_as_fragments() {
    let [first, middle, last] = syn_fragments_v4(7);

    let first = decode(linktype::ETHERNET, &first);
    let middle = decode(linktype::ETHERNET, &middle);
    let last = decode(linktype::ETHERNET, &last);

    assert!(first.fragment.is_some_and(|f| f.is_first()));
    assert_eq!(middle.stop, Some(StopReason::Fragment));
    assert_eq!(middle.fragment.map(|f| f.offset), Some(24));
    assert_eq!(last.fragment.map(|f| f.more_fragments), Some(false));
}

#[test]
fn fragments_in_order_count_into_flow() {
    let [first, middle, last] = syn_fragments_v4(7);

    let (records, stats) = run(&[(0, &first), (1, &middle), (2, &last)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 3);
    assert_eq!(records[0].out.bytes, 36);
    assert_eq!(records[0].out.ip_bytes, 36 + 3 * 20);
    assert_eq!(records[0].last_ts, ts(2));
    assert_eq!(stats.fragments_attributed, 2);
    assert_eq!(stats.unattributed, 0);
}

#[test]
fn late_first_fragment_collects_waiting() {
    let [first, middle, last] = syn_fragments_v4(7);

    let (records, stats) = run(&[(0, &last), (1, &middle), (2, &first)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 3);
    assert_eq!(records[0].out.bytes, 36);
    assert_eq!(records[0].first_ts, ts(0));
    assert_eq!(records[0].last_ts, ts(2));
    assert_eq!(stats.fragments_attributed, 2);
    assert_eq!(stats.unattributed, 0);
}

#[test]
fn missing_first_fragment_times_out() {
    let [_, middle, last] = syn_fragments_v4(7);
    let timeout_millis = FRAGMENT_TIMEOUT / 1_000_000;
    let [other_first, _, _] = syn_fragments_v4(8);

    let (records, stats) = run(&[
        (0, &middle),
        (1, &last),
        (timeout_millis + 10, &other_first),
    ]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 1);
    assert_eq!(stats.fragments_timed_out, 2);
    assert_eq!(stats.fragments_unattributed, 2);
    assert_eq!(stats.unattributed, 2);
}

#[test]
fn first_fragment_after_timeout_is_alone() {
    let [first, middle, _] = syn_fragments_v4(7);
    let timeout_millis = FRAGMENT_TIMEOUT / 1_000_000;

    let (records, stats) = run(&[(0, &middle), (timeout_millis + 10, &first)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 1);
    assert_eq!(stats.fragments_timed_out, 1);
    assert_eq!(stats.unattributed, 1);
}

#[test]
fn fragments_waiting_at_end_are_unattributed() {
    let [_, middle, last] = syn_fragments_v4(7);

    let (records, stats) = run(&[(0, &middle), (1, &last)]);

    assert!(records.is_empty());
    assert_eq!(stats.fragments_unattributed, 2);
    assert_eq!(stats.unattributed, 2);
    assert_eq!(stats.fragments_timed_out, 0);
}

#[test]
fn other_identification_does_not_match() {
    let [first, _, _] = syn_fragments_v4(7);
    let [_, middle_of_other, _] = syn_fragments_v4(8);

    let (records, stats) = run(&[(0, &first), (1, &middle_of_other)]);

    assert_eq!(records[0].out.packets, 1);
    assert_eq!(stats.fragments_attributed, 0);
    assert_eq!(stats.unattributed, 1);
}

#[test]
fn server_fragments_count_inbound() {
    let syn = tcp_segment(40000, 80, 0x02, 0);
    let syn_frame = ipv4_fragment(CLIENT_V4, SERVER_V4, 1, 0, false, &syn);
    let reply = tcp_segment(80, 40000, 0x12, 16);
    let reply_first = ipv4_fragment(SERVER_V4, CLIENT_V4, 9, 0, true, &reply[..24]);
    let reply_last = ipv4_fragment(SERVER_V4, CLIENT_V4, 9, 24, false, &reply[24..]);

    let (records, stats) = run(&[(0, &syn_frame), (1, &reply_last), (2, &reply_first)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 1);
    assert_eq!(records[0].inbound.packets, 2);
    assert_eq!(records[0].inbound.bytes, 36);
    assert_eq!(stats.fragments_attributed, 1);
}

#[test]
fn ipv6_fragments_count_into_flow() {
    let segment = tcp_segment(40000, 443, 0x02, 16);
    let first = ipv6_fragment(CLIENT_V6, SERVER_V6, 0x1234_5678, 0, true, &segment[..24]);
    let last = ipv6_fragment(CLIENT_V6, SERVER_V6, 0x1234_5678, 24, false, &segment[24..]);

    let (records, stats) = run(&[(0, &last), (1, &first)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].server.port, 443);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].out.bytes, 36);
    assert_eq!(stats.fragments_attributed, 1);
    assert_eq!(stats.unattributed, 0);
}

#[test]
fn fragment_of_evicted_flow_is_unattributed() {
    let config = TrackerConfig {
        max_flows: 1,
        ..TrackerConfig::default()
    };
    let [first, middle, _] = syn_fragments_v4(7);
    let other = tcp_segment(40001, 80, 0x02, 0);
    let other_frame = ipv4_fragment(CLIENT_V4, SERVER_V4, 2, 0, false, &other);

    let (records, stats) = run_with(config, &[(0, &first), (1, &other_frame), (2, &middle)]);

    assert_eq!(records.len(), 2);
    assert_eq!(stats.evicted, 1);
    assert_eq!(stats.fragments_attributed, 0);
    assert_eq!(stats.fragments_unattributed, 1);
    assert_eq!(stats.unattributed, 1);
}

#[test]
fn waiting_fragments_over_limit_are_unattributed() {
    let segment = tcp_segment(40000, 80, 0x02, 8 * (MAX_WAITING_FRAGMENTS + 1));
    let mut frames = Vec::new();
    for index in 1..=MAX_WAITING_FRAGMENTS + 1 {
        let data = &segment[8 * index..8 * index + 8];
        let more = 8 * index + 8 < segment.len();
        frames.push(ipv4_fragment(
            CLIENT_V4,
            SERVER_V4,
            7,
            8 * index,
            more,
            data,
        ));
    }
    frames.push(ipv4_fragment(
        CLIENT_V4,
        SERVER_V4,
        7,
        0,
        true,
        &segment[..8 * 3],
    ));
    let timed: Vec<(i64, &[u8])> = frames.iter().map(|f| (0, f.as_slice())).collect();

    let (records, stats) = run(&timed);

    let waiting_limit = MAX_WAITING_FRAGMENTS as u64;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, waiting_limit + 1);
    assert_eq!(stats.fragments_attributed, waiting_limit);
    assert_eq!(stats.fragments_over_limit, 1);
    assert_eq!(stats.unattributed, 1);
}

#[test]
fn evicted_waiting_fragments_are_unattributed() {
    let datagrams = MAX_FRAGMENT_DATAGRAMS + 3;
    let frames: Vec<Vec<u8>> = (0..datagrams)
        .map(|id| {
            let [_, middle, _] = syn_fragments_v4(id as u16);
            middle
        })
        .collect();
    let timed: Vec<(i64, &[u8])> = frames.iter().map(|f| (0, f.as_slice())).collect();

    let (records, stats) = run(&timed);

    assert!(records.is_empty());
    assert_eq!(stats.fragment_datagrams_evicted, 3);
    assert_eq!(stats.fragments_unattributed, datagrams as u64);
    assert_eq!(stats.unattributed, datagrams as u64);
}

// The split tests below cover the difference that the `tracker` fuzz target found
// before the fragment table was saved: a later fragment after the split point was
// unattributed in the split run and counted in the straight one.

#[test]
fn split_keeps_fragments_waiting_for_first() {
    let [first, middle, last] = syn_fragments_v4(7);
    let frames: [(i64, &[u8]); 3] = [(0, &last), (1, &middle), (2, &first)];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);

    let (records, _) = run_split(TrackerConfig::default(), &frames, Some(2));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 3);
}

#[test]
fn split_keeps_link_to_first_fragment_flow() {
    let [first, middle, last] = syn_fragments_v4(7);
    let segment = tcp_segment(40000, 443, 0x02, 16);
    let v6_first = ipv6_fragment(CLIENT_V6, SERVER_V6, 9, 0, true, &segment[..24]);
    let v6_last = ipv6_fragment(CLIENT_V6, SERVER_V6, 9, 24, false, &segment[24..]);
    let frames: [(i64, &[u8]); 5] = [
        (0, &first),
        (1, &v6_first),
        (2, &middle),
        (3, &v6_last),
        (4, &last),
    ];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);

    let (records, outcomes) = run_split(TrackerConfig::default(), &frames, Some(2));
    assert_eq!(records.len(), 2);
    assert!(outcomes
        .iter()
        .all(|outcome| outcome.direction != Direction::Unattributed));
}

#[test]
fn split_keeps_fragment_timeout() {
    let [_, middle, _] = syn_fragments_v4(7);
    let [first, _, _] = syn_fragments_v4(7);
    let [other_first, _, _] = syn_fragments_v4(8);
    let timeout_millis = FRAGMENT_TIMEOUT / 1_000_000;
    let frames: [(i64, &[u8]); 3] = [
        (0, &middle),
        (timeout_millis - 5, &other_first),
        (timeout_millis + 10, &first),
    ];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);
}

#[test]
fn split_with_evicted_flow_leaves_fragment_unattributed() {
    let config = TrackerConfig {
        max_flows: 1,
        ..TrackerConfig::default()
    };
    let [first, middle, _] = syn_fragments_v4(7);
    let other = tcp_segment(40001, 80, 0x02, 0);
    let other_frame = ipv4_fragment(CLIENT_V4, SERVER_V4, 2, 0, false, &other);
    let frames: [(i64, &[u8]); 3] = [(0, &first), (1, &other_frame), (2, &middle)];

    assert_split_anywhere_matches(config, &frames);
}

#[test]
fn snapshot_saves_fragment_table() {
    let [_, middle, last] = syn_fragments_v4(7);
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &decode(linktype::ETHERNET, &middle));
    tracker.process(ts(1), &decode(linktype::ETHERNET, &last));

    let snapshot = tracker.snapshot();

    assert_eq!(snapshot.fragments.len(), 1);
    let datagram = &snapshot.fragments[0];
    assert_eq!(datagram.created, ts(0));
    assert_eq!(datagram.id, 7);
    assert!(!datagram.first_seen);
    assert_eq!(datagram.waiting.len(), 2);
    assert_eq!(datagram.received, 12);
    assert_eq!(datagram.total, Some(36));
}

#[test]
fn restore_rejects_invalid_fragment_table() {
    let [_, middle, _] = syn_fragments_v4(7);
    let [_, other_middle, _] = syn_fragments_v4(8);
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &decode(linktype::ETHERNET, &middle));
    tracker.process(ts(1), &decode(linktype::ETHERNET, &other_middle));
    let valid = tracker.snapshot();
    let config = TrackerConfig::default();
    let with = |change: fn(&mut Vec<DatagramSnapshot>)| {
        let mut snapshot = valid.clone();
        change(&mut snapshot.fragments);
        Tracker::restore(config, &snapshot).err()
    };

    assert!(Tracker::restore(config, &valid).is_ok());
    let repeated = with(|datagrams| datagrams[1].id = datagrams[0].id);
    assert!(matches!(
        repeated,
        Some(RestoreError::InvalidDatagram { index: 1, .. })
    ));
    let backwards = with(|datagrams| datagrams.swap(0, 1));
    assert!(matches!(
        backwards,
        Some(RestoreError::InvalidDatagram { index: 1, .. })
    ));
    let too_many = with(|datagrams| {
        let waiting = datagrams[0].waiting[0];
        datagrams[0].waiting = vec![waiting; MAX_WAITING_FRAGMENTS + 1];
    });
    assert!(matches!(
        too_many,
        Some(RestoreError::InvalidDatagram { index: 0, .. })
    ));
    let mixed = with(|datagrams| datagrams[0].dst = CLIENT_V6.into());
    assert!(matches!(
        mixed,
        Some(RestoreError::InvalidDatagram { index: 0, .. })
    ));
}

/// Builds the three IPv4 fragments of a bare 20-byte SYN from client to server, cut
/// as in the "tiny fragment" attack of RFC 1858. The first 8 bytes (ports and
/// sequence number) are at offset 0, the next 8 (acknowledgment, data offset, flags,
/// window) at offset 8, and the last 4 at offset 16.
fn tiny_syn_fragments_v4(id: u16) -> [Vec<u8>; 3] {
    let segment = tcp_segment(40000, 80, 0x02, 0);
    [
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 0, true, &segment[..8]),
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 8, true, &segment[8..16]),
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 16, false, &segment[16..]),
    ]
}

/// Builds the IPv6 fragments of the same SYN, cut the same way.
fn tiny_syn_fragments_v6(id: u32) -> [Vec<u8>; 3] {
    let segment = tcp_segment(40000, 443, 0x02, 0);
    [
        ipv6_fragment(CLIENT_V6, SERVER_V6, id, 0, true, &segment[..8]),
        ipv6_fragment(CLIENT_V6, SERVER_V6, id, 8, true, &segment[8..16]),
        ipv6_fragment(CLIENT_V6, SERVER_V6, id, 16, false, &segment[16..]),
    ]
}

/// Asserts that `records` is the one SYN of the tiny fragments, all three counted,
/// the earliest at time 0.
fn assert_tiny_syn_record(records: &[FlowRecord]) {
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.client.port, 40000);
    assert_eq!(record.out.packets, 3);
    assert_eq!(record.out.bytes, 20);
    assert_eq!(record.out.payload_bytes, 0);
    assert_eq!(record.inbound.packets, 0);
    assert!(record.syn_seen);
    assert_eq!(record.first_ts, ts(0));
}

#[test]
fn tiny_first_fragment_decodes_as_tiny() {
    let [first, middle, _] = tiny_syn_fragments_v4(7);

    let first = decode(linktype::ETHERNET, &first);
    let middle = decode(linktype::ETHERNET, &middle);

    assert_eq!(first.stop, Some(StopReason::TinyFragment));
    assert_eq!(first.fragment.map(|f| f.data_len), Some(8));
    assert_eq!(middle.fragment.map(|f| f.head.len), Some(8));
}

#[test]
fn tiny_first_fragment_in_order_joins() {
    let [first, middle, last] = tiny_syn_fragments_v4(7);

    let (records, stats) = run(&[(0, &first), (1, &middle), (2, &last)]);

    assert_tiny_syn_record(&records);
    assert_eq!(records[0].last_ts, ts(2));
    assert_eq!(stats.tiny_fragments_joined, 1);
    assert_eq!(stats.tiny_fragments_unjoined, 0);
    assert_eq!(stats.fragments_attributed, 2);
    assert_eq!(stats.unattributed, 0);
}

#[test]
fn tiny_first_fragment_in_every_order_joins() {
    let fragments = tiny_syn_fragments_v4(7);
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let frames: Vec<(i64, &[u8])> = order
            .iter()
            .enumerate()
            .map(|(millis, &index)| (millis as i64, fragments[index].as_slice()))
            .collect();

        let (records, stats) = run(&frames);

        assert_eq!(records.len(), 1, "order {order:?}");
        assert_eq!(records[0].out.packets, 3, "order {order:?}");
        assert_eq!(records[0].out.payload_bytes, 0, "order {order:?}");
        assert!(records[0].syn_seen, "order {order:?}");
        assert_eq!(records[0].first_ts, ts(0), "order {order:?}");
        assert_eq!(records[0].last_ts, ts(2), "order {order:?}");
        assert_eq!(stats.tiny_fragments_joined, 1, "order {order:?}");
        assert_eq!(stats.unattributed, 0, "order {order:?}");
    }
}

#[test]
fn tiny_first_fragment_over_ipv6_joins() {
    let [first, middle, last] = tiny_syn_fragments_v6(9);

    let (records, stats) = run(&[(0, &middle), (1, &first), (2, &last)]);

    assert_tiny_syn_record(&records);
    assert_eq!(records[0].server.port, 443);
    assert_eq!(stats.tiny_fragments_joined, 1);
}

#[test]
fn joined_fragment_gets_direction() {
    let [first, middle, _] = tiny_syn_fragments_v4(7);
    let mut tracker = Tracker::new(TrackerConfig::default());

    let first = tracker.process(ts(0), &decode(linktype::ETHERNET, &first));
    let middle = tracker.process(ts(1), &decode(linktype::ETHERNET, &middle));

    assert_eq!(first.direction, Direction::Unattributed);
    assert_eq!(middle.direction, Direction::ToServer);
}

#[test]
fn tiny_first_fragment_alone_times_out() {
    let [first, _, last] = tiny_syn_fragments_v4(7);
    let [other_first, _, _] = syn_fragments_v4(8);
    let timeout_millis = FRAGMENT_TIMEOUT / 1_000_000;

    let (records, stats) = run(&[(0, &first), (1, &last), (timeout_millis + 10, &other_first)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].client.port, 40000);
    assert_eq!(records[0].out.packets, 1);
    assert_eq!(stats.tiny_fragments_joined, 0);
    assert_eq!(stats.tiny_fragments_unjoined, 1);
    assert_eq!(stats.fragments_timed_out, 1);
    assert_eq!(stats.unattributed, 2);
}

#[test]
fn tiny_first_fragment_waiting_at_end_is_unattributed() {
    let [first, _, last] = tiny_syn_fragments_v4(7);

    let (records, stats) = run(&[(0, &first), (1, &last)]);

    assert!(records.is_empty());
    assert_eq!(stats.tiny_fragments_unjoined, 1);
    assert_eq!(stats.fragments_unattributed, 1);
    assert_eq!(stats.unattributed, 2);
}

#[test]
fn tiny_first_fragment_cut_by_capture_is_unattributed() {
    let [first, middle, last] = tiny_syn_fragments_v4(7);
    // The capture keeps 4 of the first fragment's 8 transport bytes.
    let cut = &first[..first.len() - 4];

    let (records, stats) = run(&[(0, cut), (1, &middle), (2, &last)]);

    assert!(records.is_empty());
    assert_eq!(stats.tiny_fragments_unjoined, 1);
    assert_eq!(stats.fragments_unattributed, 2);
    assert_eq!(stats.unattributed, 3);
}

#[test]
fn joined_header_that_does_not_decode_is_unattributed() {
    let mut segment = tcp_segment(40000, 80, 0x02, 0);
    segment[12] = 4 << 4;
    let first = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 0, true, &segment[..8]);
    let middle = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 8, true, &segment[8..16]);
    let last = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 16, false, &segment[16..]);

    let (records, stats) = run(&[(0, &first), (1, &middle), (2, &last)]);

    assert!(records.is_empty());
    assert_eq!(stats.tiny_fragments_unjoined, 1);
    assert_eq!(stats.fragments_unattributed, 2);
    assert_eq!(stats.unattributed, 3);
}

#[test]
fn repeated_tiny_first_fragment_counts_once() {
    let [first, middle, last] = tiny_syn_fragments_v4(7);

    let (records, stats) = run(&[(0, &first), (1, &first), (2, &middle), (3, &last)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 3);
    assert_eq!(stats.tiny_fragments_joined, 1);
    assert_eq!(stats.tiny_fragments_unjoined, 1);
    assert_eq!(stats.unattributed, 1);
}

/// Builds the three IPv4 fragments of an 84-byte segment from client to server
/// that carries 64 payload bytes from sequence number 1000, then a whole segment
/// of 10 payload bytes that follows it in the stream.
fn data_fragments_then_segment(id: u16) -> [Vec<u8>; 4] {
    let segment = tcp_segment(40000, 80, 0x18, 64);
    let mut next = tcp_segment(40000, 80, 0x18, 10);
    next[4..8].copy_from_slice(&1064u32.to_be_bytes());
    // Offset 0 without more fragments is an unfragmented packet.
    let whole = ipv4_fragment(CLIENT_V4, SERVER_V4, id + 1, 0, false, &next);
    [
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 0, true, &segment[..24]),
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 24, true, &segment[24..48]),
        ipv4_fragment(CLIENT_V4, SERVER_V4, id, 48, false, &segment[48..]),
        whole,
    ]
}

#[test]
fn fragmented_segment_leaves_no_gap() {
    let [first, middle, last, next] = data_fragments_then_segment(7);
    // Fragments that wait for the first one reach the stream in order. Once the
    // first has arrived, a fragment ahead of a missing one opens a hole that the
    // missing one fills, as a segment that overtakes another does.
    let orders: [([&[u8]; 3], bool); 6] = [
        ([&first, &middle, &last], false),
        ([&first, &last, &middle], true),
        ([&middle, &first, &last], false),
        ([&middle, &last, &first], false),
        ([&last, &first, &middle], true),
        ([&last, &middle, &first], false),
    ];

    for (order, gap) in orders {
        let (records, _) = run(&[(0, order[0]), (1, order[1]), (2, order[2]), (3, &next)]);

        assert_eq!(records.len(), 1);
        let record = &records[0];
        assert_eq!(record.out.payload_bytes, 74);
        assert_eq!(record.out.stream_bytes, 74);
        assert_eq!(record.out.missed_bytes, 0);
        assert_eq!(
            record.history.contains(b'G'),
            gap,
            "history {}",
            record.history
        );
    }
}

#[test]
fn repeated_fragmented_segment_is_retransmission() {
    let [first, middle, last, _] = data_fragments_then_segment(7);
    let [first_again, middle_again, last_again, _] = data_fragments_then_segment(8);

    let (records, _) = run(&[
        (0, &first),
        (1, &middle),
        (2, &last),
        (3, &first_again),
        (4, &middle_again),
        (5, &last_again),
    ]);

    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.out.stream_bytes, 64);
    assert_eq!(record.out.missed_bytes, 0);
    assert_eq!(record.out.retransmitted_bytes, 64);
    assert_eq!(record.out.retransmitted_packets, 3);
    assert!(record.history.contains(b'T'), "history {}", record.history);
}

#[test]
fn split_keeps_fragment_stream_position() {
    let [first, middle, last, next] = data_fragments_then_segment(7);
    let frames: [(i64, &[u8]); 4] = [(0, &first), (1, &last), (2, &middle), (3, &next)];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);

    let (records, _) = run_split(TrackerConfig::default(), &frames, Some(2));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.missed_bytes, 0);
}

/// Runs `frames` and returns the one record's stream bytes, missed bytes and
/// retransmitted packets from the client.
fn client_stream(frames: &[&[u8]]) -> (u64, u64, u64) {
    let timed: Vec<(i64, &[u8])> = (0..).zip(frames.iter().copied()).collect();
    let (records, _) = run(&timed);
    assert_eq!(records.len(), 1);
    let out = &records[0].out;
    (
        out.stream_bytes,
        out.missed_bytes,
        out.retransmitted_packets,
    )
}

/// Returns a whole segment from client to server with `payload_len` bytes from
/// sequence number `seq`.
fn next_segment(seq: u32, payload_len: usize) -> Vec<u8> {
    let mut segment = tcp_segment(40000, 80, 0x18, payload_len);
    segment[4..8].copy_from_slice(&seq.to_be_bytes());
    ipv4_fragment(CLIENT_V4, SERVER_V4, 99, 0, false, &segment)
}

#[test]
fn fragmented_syn_payload_follows_syn() {
    // The SYN takes sequence number 1000, so its 64 payload bytes start at 1001.
    let segment = tcp_segment(40000, 80, 0x02, 64);
    let first = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 0, true, &segment[..24]);
    let last = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 24, false, &segment[24..]);

    let stream = client_stream(&[&first, &last, &next_segment(1065, 10)]);

    assert_eq!(stream, (74, 0, 0));
}

#[test]
fn long_header_fragment_payload_in_stream() {
    // A 40-byte header, of which the first fragment carries 24 bytes.
    let mut segment = tcp_segment(40000, 80, 0x18, 0);
    segment[12] = 10 << 4;
    segment.extend([1; 20]);
    segment.extend([0x61; 64]);
    let first = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 0, true, &segment[..24]);
    let last = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 24, false, &segment[24..]);

    let stream = client_stream(&[&first, &last, &next_segment(1064, 10)]);

    assert_eq!(stream, (74, 0, 0));
}

#[test]
fn ipv6_options_before_tcp_not_payload() {
    // A destination options header of 8 bytes follows the fragment header and
    // precedes the TCP header in the datagram's payload.
    let mut data = vec![TCP, 0, 1, 4, 0, 0, 0, 0];
    data.extend(tcp_segment(40000, 80, 0x18, 64));
    const DESTINATION_OPTIONS: u8 = 60;
    let first = ipv6_fragment_with(9, 0, true, DESTINATION_OPTIONS, &data[..48]);
    let last = ipv6_fragment_with(9, 48, false, DESTINATION_OPTIONS, &data[48..]);
    let mut next = tcp_segment(40000, 80, 0x18, 10);
    next[4..8].copy_from_slice(&1064u32.to_be_bytes());
    let next = ipv6_fragment(CLIENT_V6, SERVER_V6, 10, 0, false, &next);

    let stream = client_stream(&[&first, &last, &next]);

    assert_eq!(stream, (74, 0, 0));
}

#[test]
fn ipip_fragments_with_inner_addresses() {
    // An IP-in-IP packet between the two hosts of its inner TCP segment,
    // fragmented outside the tunnel.
    let segment = tcp_segment(40000, 80, 0x18, 64);
    let inner = &ipv4_fragment(CLIENT_V4, SERVER_V4, 5, 0, false, &segment)[14..];
    let first = ipv4_fragment_of(4, CLIENT_V4, SERVER_V4, 7, 0, true, &inner[..56]);
    let last = ipv4_fragment_of(4, CLIENT_V4, SERVER_V4, 7, 56, false, &inner[56..]);

    let (records, _) = run(&[(0, &first), (1, &last)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].out.payload_bytes, 64);
    assert_eq!(records[0].out.stream_bytes, 64);
    assert_eq!(records[0].out.retransmitted_packets, 0);
}

#[test]
fn stream_position_ignored_for_udp() {
    // A UDP datagram of 8 header and 56 payload bytes in two fragments.
    let mut datagram = vec![0x9c, 0x40, 0, 53, 0, 64, 0, 0];
    datagram.extend([7; 56]);
    let first = ipv4_fragment_of(17, CLIENT_V4, SERVER_V4, 7, 0, true, &datagram[..32]);
    let last = ipv4_fragment_of(17, CLIENT_V4, SERVER_V4, 7, 32, false, &datagram[32..]);
    let config = all_records();
    // The last fragment comes twice, as from a mirror port.
    let (straight, _) = run_with(config, &[(0, &first), (1, &last), (2, &last)]);

    // A cache that gives the UDP datagram a stream position, as a crafted one can.
    let mut tracker = Tracker::new(config);
    tracker.process(ts(0), &decode(linktype::ETHERNET, &first));
    let mut snapshot = tracker.snapshot();
    snapshot.fragments[0].flow.as_mut().unwrap().stream_base = Some(123_456);
    let mut restored = Tracker::restore(config, &snapshot).unwrap();
    restored.process(ts(1), &decode(linktype::ETHERNET, &last));
    restored.process(ts(2), &decode(linktype::ETHERNET, &last));
    restored.finish();
    let records: Vec<FlowRecord> = restored.drain_finished().collect();

    assert_eq!(records.len(), 1);
    assert_eq!(records, straight);
}

/// Returns the two IPv4 fragments of a segment from client to server with a
/// 40-byte header and `payload_len` payload bytes, the first fragment carrying
/// `first_len` bytes.
fn long_header_fragments(flags: u8, payload_len: usize, first_len: usize) -> [Vec<u8>; 2] {
    let mut segment = tcp_segment(40000, 80, flags, 0);
    segment[12] = 10 << 4;
    segment.extend([1; 20]);
    segment.resize(segment.len() + payload_len, 0x61);
    [
        ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 0, true, &segment[..first_len]),
        ipv4_fragment(
            CLIENT_V4,
            SERVER_V4,
            7,
            first_len,
            false,
            &segment[first_len..],
        ),
    ]
}

/// Runs both orders of two fragments and returns each record's history.
fn histories(first: &[u8], last: &[u8]) -> Vec<String> {
    [[first, last], [last, first]]
        .iter()
        .map(|frames| {
            let (records, _) = run(&[(0, frames[0]), (1, frames[1])]);
            assert_eq!(records.len(), 1);
            records[0].history.to_string()
        })
        .collect()
}

#[test]
fn payload_in_later_fragments_is_data() {
    // The first fragment ends with the 40-byte header, so the 64 payload bytes
    // come in the second one.
    let [first, last] = long_header_fragments(0x18, 64, 40);

    assert_eq!(histories(&first, &last), ["D", "D"]);
}

#[test]
fn header_past_first_fragment_then_data() {
    // The first fragment ends inside the header, which cannot tell whether
    // payload follows, so the segment also shows as an ACK.
    let [first, last] = long_header_fragments(0x18, 64, 24);

    assert_eq!(histories(&first, &last), ["AD", "AD"]);
}

#[test]
fn fragmented_pure_ack_is_ack() {
    let [first, last] = long_header_fragments(0x10, 0, 24);

    assert_eq!(histories(&first, &last), ["A", "A"]);
}

#[test]
fn long_options_past_first_fragment_are_header() {
    // A SYN with a 40-byte header. The first fragment contains 24 bytes of it, so
    // the 16 bytes at the start of the next fragment are options, not payload.
    let mut segment = tcp_segment(40000, 80, 0x02, 0);
    segment[12] = 10 << 4;
    segment.extend([1; 20]);
    segment.extend([0x61; 8]);
    let first = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 0, true, &segment[..24]);
    let last = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 24, false, &segment[24..]);

    let (records, _) = run(&[(0, &first), (1, &last)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.bytes, 48);
    assert_eq!(records[0].out.payload_bytes, 8);
}

#[test]
fn split_keeps_tiny_first_fragment_in_order() {
    let [first, middle, last] = tiny_syn_fragments_v4(7);
    let [v6_first, v6_middle, v6_last] = tiny_syn_fragments_v6(9);
    let frames: [(i64, &[u8]); 6] = [
        (0, &first),
        (1, &v6_first),
        (2, &middle),
        (3, &v6_middle),
        (4, &last),
        (5, &v6_last),
    ];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);

    let (records, _) = run_split(TrackerConfig::default(), &frames, Some(2));
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|record| record.out.packets == 3));
}

#[test]
fn split_keeps_tiny_first_fragment_out_of_order() {
    let [first, middle, last] = tiny_syn_fragments_v4(7);
    let [v6_first, v6_middle, v6_last] = tiny_syn_fragments_v6(9);
    let frames: [(i64, &[u8]); 6] = [
        (0, &last),
        (1, &v6_middle),
        (2, &middle),
        (3, &v6_last),
        (4, &v6_first),
        (5, &first),
    ];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);

    let (records, _) = run_split(TrackerConfig::default(), &frames, Some(3));
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|record| record.out.packets == 3));
}

#[test]
fn split_keeps_tiny_first_fragment_timeout() {
    let [first, _, _] = tiny_syn_fragments_v4(7);
    let [_, middle, _] = tiny_syn_fragments_v4(7);
    let [other_first, _, _] = syn_fragments_v4(8);
    let timeout_millis = FRAGMENT_TIMEOUT / 1_000_000;
    let frames: [(i64, &[u8]); 3] = [
        (0, &first),
        (timeout_millis - 5, &other_first),
        (timeout_millis + 10, &middle),
    ];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);
}

#[test]
fn snapshot_saves_tiny_first_fragment() {
    let [first, _, last] = tiny_syn_fragments_v4(7);
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &decode(linktype::ETHERNET, &first));
    tracker.process(ts(1), &decode(linktype::ETHERNET, &last));

    let snapshot = tracker.snapshot();

    assert_eq!(snapshot.fragments.len(), 1);
    let datagram = &snapshot.fragments[0];
    let tiny = datagram
        .tiny_first
        .expect("the tiny first fragment is saved");
    assert!(!datagram.first_seen);
    assert_eq!(tiny.ts, ts(0));
    assert_eq!(tiny.data_len, 8);
    assert_eq!(tiny.head.len, 8);
    assert_eq!(tiny.protocol, TCP);
    assert_eq!(datagram.waiting.len(), 1);
    assert_eq!(datagram.waiting[0].offset, 16);
    assert_eq!(datagram.waiting[0].head.len, 4);
}

#[test]
fn restore_rejects_tiny_first_fragment_after_first() {
    let [first, _, last] = tiny_syn_fragments_v4(7);
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &decode(linktype::ETHERNET, &first));
    tracker.process(ts(1), &decode(linktype::ETHERNET, &last));
    let mut snapshot = tracker.snapshot();
    snapshot.fragments[0].first_seen = true;
    snapshot.fragments[0].waiting.clear();

    let result = Tracker::restore(TrackerConfig::default(), &snapshot);

    assert!(matches!(
        result.err(),
        Some(RestoreError::InvalidDatagram { index: 0, .. })
    ));
}

#[test]
fn whole_first_fragment_replaces_tiny_one() {
    let [tiny_first, _, _] = tiny_syn_fragments_v4(7);
    // A first fragment of the same datagram that contains the whole header.
    let segment = tcp_segment(40000, 80, 0x02, 0);
    let whole_first = ipv4_fragment(CLIENT_V4, SERVER_V4, 7, 0, true, &segment);

    let (records, stats) = run(&[(0, &tiny_first), (1, &whole_first)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 1);
    assert_eq!(stats.tiny_fragments_unjoined, 1);
    assert_eq!(stats.unattributed, 1);
}

/// Builds the two outer fragments of an IP-in-IP packet from tunnel endpoint to
/// tunnel endpoint, carrying a 140-byte inner IPv4 packet with a TCP segment of
/// 100 payload bytes: the first 64 inner bytes, then the other 76.
fn tunnel_fragments(id: u16) -> [Vec<u8>; 2] {
    let segment = tcp_segment(40000, 80, 0x18, 100);
    let mut inner = vec![0x45, 0, 0, 140, 0, 1, 0, 0, 64, TCP, 0, 0];
    inner.extend_from_slice(&CLIENT_V4);
    inner.extend_from_slice(&SERVER_V4);
    inner.extend_from_slice(&segment);
    let outer_src = [192, 0, 2, 1];
    let outer_dst = [192, 0, 2, 2];
    let mut fragments = [
        ipv4_fragment(outer_src, outer_dst, id, 0, true, &inner[..64]),
        ipv4_fragment(outer_src, outer_dst, id, 64, false, &inner[64..]),
    ];
    // The outer protocol is IP-in-IP (4), not TCP.
    for frame in &mut fragments {
        frame[14 + 9] = 4;
    }
    fragments
}

#[test]
fn tunnel_later_fragment_counts_packet_only() {
    let [first, later] = tunnel_fragments(9);

    let (records, stats) = run(&[(0, &first), (1, &later)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].out.bytes, 120);
    assert_eq!(records[0].out.payload_bytes, 100);
    assert_eq!(records[0].out.ip_bytes, 140);
    assert_eq!(records[0].last_ts, ts(1));
    assert_eq!(stats.fragments_attributed, 1);
    assert_eq!(stats.unattributed, 0);
}

#[test]
fn tunnel_fragment_before_first_counts_packet_only() {
    let [first, later] = tunnel_fragments(9);

    let (records, stats) = run(&[(0, &later), (1, &first)]);

    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].out.bytes, 120);
    assert_eq!(records[0].out.ip_bytes, 140);
    assert_eq!(records[0].first_ts, ts(0));
    assert_eq!(stats.unattributed, 0);
}

#[test]
fn tunnel_fragments_split_anywhere() {
    let [first, later] = tunnel_fragments(9);
    let [first2, later2] = tunnel_fragments(10);

    let frames: [(i64, &[u8]); 4] = [(0, &first), (1, &later), (2, &later2), (3, &first2)];

    assert_split_anywhere_matches(TrackerConfig::default(), &frames);
}

/// Builds an Ethernet frame with an IPv6 fragment from client to server whose
/// fragment header is followed by `after` (extension headers and data), with
/// `next_header` in the fragment header.
fn ipv6_fragment_with(
    id: u32,
    offset: usize,
    more: bool,
    next_header: u8,
    after: &[u8],
) -> Vec<u8> {
    let mut frame = ethernet(0x86dd);
    let payload_len = (8 + after.len()) as u16;
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&payload_len.to_be_bytes());
    frame.extend_from_slice(&[44, 64]);
    frame.extend_from_slice(&CLIENT_V6);
    frame.extend_from_slice(&SERVER_V6);
    let field = (offset as u16) | u16::from(more);
    frame.extend_from_slice(&[next_header, 0]);
    frame.extend_from_slice(&field.to_be_bytes());
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(after);
    frame
}

#[test]
fn ipv6_options_before_tiny_header_join() {
    // A destination options header (8 bytes) after the fragment header takes the
    // first half of the first fragment's 16 data bytes, so the TCP header starts
    // 8 bytes in and continues in the fragment at offset 16.
    const DESTINATION_OPTIONS: u8 = 60;
    let segment = tcp_segment(40000, 443, 0x02, 0);
    let mut first_data = vec![TCP, 0, 1, 4, 0, 0, 0, 0];
    first_data.extend_from_slice(&segment[..8]);
    let first = ipv6_fragment_with(5, 0, true, DESTINATION_OPTIONS, &first_data);
    let last = ipv6_fragment_with(5, 16, false, DESTINATION_OPTIONS, &segment[8..]);

    for frames in [[(0, &first), (1, &last)], [(0, &last), (1, &first)]] {
        let frames = frames.map(|(millis, frame)| (millis, frame.as_slice()));
        let (records, stats) = run(&frames);

        assert_eq!(records.len(), 1, "{stats:?}");
        assert_eq!(records[0].server.port, 443);
        assert_eq!(records[0].out.packets, 2);
        assert!(records[0].syn_seen);
        assert_eq!(stats.tiny_fragments_joined, 1);
        assert_eq!(stats.unattributed, 0);
    }
}

#[test]
fn udp_header_after_options_joins() {
    // The first fragment's 8 data bytes are all destination options, so the UDP
    // header is entirely in the fragment at offset 8.
    const DESTINATION_OPTIONS: u8 = 60;
    const UDP: u8 = 17;
    let config = TrackerConfig {
        records: wsd_flow::RecordProtocols {
            udp: true,
            ..wsd_flow::RecordProtocols::TCP_ONLY
        },
        ..TrackerConfig::default()
    };
    let mut datagram = Vec::new();
    datagram.extend_from_slice(&5353u16.to_be_bytes());
    datagram.extend_from_slice(&53u16.to_be_bytes());
    datagram.extend_from_slice(&[0, 12, 0, 0, 1, 2, 3, 4]);
    let first = ipv6_fragment_with(6, 0, true, DESTINATION_OPTIONS, &[UDP, 0, 1, 4, 0, 0, 0, 0]);
    let last = ipv6_fragment_with(6, 8, false, DESTINATION_OPTIONS, &datagram);

    let (records, stats) = run_with(config, &[(0, &first), (1, &last)]);

    assert_eq!(records.len(), 1, "{stats:?}");
    assert_eq!(records[0].protocol, UDP);
    assert_eq!(records[0].client.port, 5353);
    assert_eq!(records[0].server.port, 53);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(stats.tiny_fragments_joined, 1);
}

/// Returns the default settings with records for every protocol.
fn all_records() -> TrackerConfig {
    TrackerConfig {
        records: wsd_flow::RecordProtocols {
            tcp: true,
            udp: true,
            icmp: true,
            other: true,
        },
        ..TrackerConfig::default()
    }
}

/// Builds a 32-byte SCTP packet from port 2905 to 36412: the 12-byte common
/// header and a DATA chunk with 4 bytes of user data.
fn sctp_packet() -> Vec<u8> {
    let mut packet = Vec::new();
    packet.extend_from_slice(&2905u16.to_be_bytes());
    packet.extend_from_slice(&36412u16.to_be_bytes());
    packet.extend_from_slice(&[1, 2, 3, 4, 0, 0, 0, 0]);
    packet.extend_from_slice(&[0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    packet.extend_from_slice(&[0xaa; 4]);
    packet
}

#[test]
fn tiny_sctp_first_fragment_joins() {
    // The first fragment contains the ports and the verification tag, 8 of the
    // 12 bytes of the common header.
    const SCTP: u8 = 132;
    let packet = sctp_packet();
    let first = ipv6_fragment_with(9, 0, true, SCTP, &packet[..8]);
    let last = ipv6_fragment_with(9, 8, false, SCTP, &packet[8..]);
    assert_eq!(
        decode(linktype::ETHERNET, &first).stop,
        Some(StopReason::TinyFragment)
    );

    for frames in [[(0, &first), (1, &last)], [(0, &last), (1, &first)]] {
        let frames = frames.map(|(millis, frame)| (millis, frame.as_slice()));
        let (records, stats) = run_with(all_records(), &frames);

        assert_eq!(records.len(), 1, "{stats:?}");
        assert_eq!(records[0].protocol, SCTP);
        assert_eq!(records[0].client.port, 2905);
        assert_eq!(records[0].server.port, 36412);
        assert_eq!(records[0].out.packets, 2);
        assert_eq!(records[0].out.bytes, 32);
        assert_eq!(records[0].out.payload_bytes, 20);
        assert_eq!(stats.tiny_fragments_joined, 1);
        assert_eq!(stats.unattributed, 0);
    }
}

#[test]
fn later_sctp_fragment_counts_into_flow() {
    const SCTP: u8 = 132;
    let packet = sctp_packet();
    let first = ipv6_fragment_with(10, 0, true, SCTP, &packet[..16]);
    let last = ipv6_fragment_with(10, 16, false, SCTP, &packet[16..]);

    let (records, stats) = run_with(all_records(), &[(0, &first), (1, &last)]);

    assert_eq!(records.len(), 1, "{stats:?}");
    assert_eq!(records[0].client.port, 2905);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].out.bytes, 32);
    assert_eq!(records[0].out.payload_bytes, 20);
    assert_eq!(stats.fragments_attributed, 1);
    assert_eq!(stats.unattributed, 0);
}

/// Without records of other protocols SCTP is not tracked, so a tiny first
/// fragment counts as unattributed at once instead of waiting to be joined.
#[test]
fn untracked_tiny_sctp_fragment_not_kept() {
    const SCTP: u8 = 132;
    let packet = sctp_packet();
    let first = ipv6_fragment_with(11, 0, true, SCTP, &packet[..8]);
    let last = ipv6_fragment_with(11, 8, false, SCTP, &packet[8..]);

    let mut tracker = Tracker::new(TrackerConfig::default());
    let outcome = tracker.process(
        Timestamp::from_parts(0, 0),
        &decode(linktype::ETHERNET, &first),
    );

    assert_eq!(outcome, PacketOutcome::UNATTRIBUTED);
    assert_eq!(tracker.stats().unattributed, 1);
    assert_eq!(tracker.stats().tiny_fragments_unjoined, 0);
    assert!(tracker.snapshot().fragments.is_empty());

    let (records, stats) = run(&[(0, &first), (1, &last)]);

    assert!(records.is_empty(), "{records:?}");
    assert_eq!(stats.tiny_fragments_joined, 0);
    assert_eq!(stats.tiny_fragments_unjoined, 0);
    assert_eq!(stats.unattributed, 2);
}
