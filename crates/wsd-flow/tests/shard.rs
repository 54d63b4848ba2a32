//! The sharded tracker against a single tracker on generated captures.

use wsd_capture::Timestamp;
use wsd_decode::{decode, linktype, Decoded};
use wsd_flow::{
    shard_of, FlowRecord, RecordFormatter, RecordProtocols, RestoreError, RestoreOrShardError,
    ShardError, ShardedRestorer, ShardedTracker, SurplusPicker, Tracker, TrackerConfig,
    TrackerRestorer, TrackerSnapshot, BATCH_PACKETS,
};
use wsd_synth::{syn_flood, Endpoint, FloodConfig, FrameBuilder, TcpSegment};

#[path = "common/sharding.rs"]
mod sharding;

use sharding::{mixed_stream, process_all, DebugLines, PanickingFormatter};

type Stream = Vec<(Timestamp, Decoded)>;

fn config() -> TrackerConfig {
    TrackerConfig {
        records: RecordProtocols {
            tcp: true,
            udp: true,
            icmp: true,
            other: true,
        },
        // Short timeouts, so that many flows time out in the middle of the input.
        tcp_idle_timeout: 20_000_000_000,
        udp_idle_timeout: 5_000_000_000,
        ..TrackerConfig::default()
    }
}

fn flood_stream(connections: u32) -> Stream {
    let config = FloodConfig {
        connections,
        ..FloodConfig::default()
    };
    let mut stream = Vec::new();
    syn_flood(&config, |ts, frame| {
        stream.push((ts, decode(linktype::ETHERNET, frame)));
        Ok::<(), ()>(())
    })
    .expect("collecting frames cannot fail");
    stream
}

/// Returns the records as sorted lines, to compare runs whose record order differs.
fn sorted(records: &[FlowRecord]) -> Vec<String> {
    let mut lines: Vec<String> = records.iter().map(|record| format!("{record:?}")).collect();
    lines.sort();
    lines
}

fn single(config: TrackerConfig, stream: &[(Timestamp, Decoded)]) -> Vec<FlowRecord> {
    let mut tracker = Tracker::new(config);
    for (ts, packet) in stream {
        tracker.process(*ts, packet);
    }
    tracker.finish();
    tracker.drain_finished().collect()
}

fn sharded(
    config: TrackerConfig,
    threads: usize,
    stream: &[(Timestamp, Decoded)],
) -> Vec<FlowRecord> {
    let mut tracker = ShardedTracker::new(config, threads).unwrap();
    let mut records = Vec::new();
    for (ts, packet) in stream {
        tracker.process(*ts, packet).unwrap();
        records.extend(tracker.drain_finished());
    }
    tracker.finish_each(|record| records.push(record)).unwrap();
    records
}

#[test]
fn sharded_mixed_matches_single() {
    let stream = mixed_stream();
    assert!(
        stream.len() > 4 * BATCH_PACKETS,
        "the capture spans several batches"
    );
    let expected = single(config(), &stream);
    assert!(expected.len() > 3_000);
    for threads in [1, 2, 3] {
        let got = sharded(config(), threads, &stream);
        assert_eq!(got.len(), expected.len(), "{threads} threads");
        assert!(sorted(&got) == sorted(&expected), "{threads} threads");
    }
}

/// The records of a batch come out as soon as every table has processed its
/// share, not when the batches in flight run out. One table has no helper
/// thread, so the calling thread processes each share as it hands the batch
/// over, and the first record comes out at the last packet of its batch.
#[test]
fn sharded_records_out_after_batch() {
    let stream = mixed_stream();
    assert!(
        stream.len() > 16 * BATCH_PACKETS,
        "the capture spans 16 batches"
    );
    let mut single = Tracker::new(config());
    let first_record = stream.iter().position(|(ts, packet)| {
        single.process(*ts, packet);
        single.drain_finished().count() > 0
    });
    let first_record = first_record.expect("the capture finishes flows");

    let mut tracker = ShardedTracker::new(config(), 1).unwrap();
    let first_out = stream.iter().position(|(ts, packet)| {
        tracker.process(*ts, packet).unwrap();
        tracker.drain_finished().count() > 0
    });
    let batch_end = (first_record / BATCH_PACKETS + 1) * BATCH_PACKETS - 1;
    assert_eq!(first_out, Some(batch_end));
}

/// Runs `stream` through a sharded tracker whose workers format the records,
/// and returns the lines in output order.
fn sharded_lines(threads: usize, stream: &[(Timestamp, Decoded)]) -> Vec<String> {
    let mut tracker = ShardedTracker::new(config(), threads).unwrap();
    tracker.format_in_workers(DebugLines).unwrap();
    let mut lines = Vec::new();
    let mut take = |line: &[u8]| lines.push(String::from_utf8(line.to_vec()).unwrap());
    for (ts, packet) in stream {
        tracker.process(*ts, packet).unwrap();
        assert_eq!(tracker.drain_finished().count(), 0);
        tracker.drain_lines(&mut take);
    }
    tracker.finish_lines(&mut take).unwrap();
    lines
}

/// A share of a batch that panics, in a helper thread or in the calling
/// thread, fails the tracker with an error: the calling thread neither
/// panics nor waits for the share forever.
#[test]
fn sharded_panicking_share_is_an_error() {
    let stream = mixed_stream();
    for threads in [1, 2] {
        let mut tracker = ShardedTracker::new(config(), threads).unwrap();
        tracker.format_in_workers(PanickingFormatter).unwrap();
        let result = process_all(&mut tracker, &stream);
        assert!(
            matches!(result, Err(ShardError::WorkerStopped { .. })),
            "{threads} threads: {result:?}"
        );
    }
}

#[test]
fn sharded_lines_match_records() {
    let stream = mixed_stream();
    for threads in [1, 2, 3] {
        let records = sharded(config(), threads, &stream);
        let expected: Vec<String> = records
            .iter()
            .map(|record| format!("{record:?}\n"))
            .collect();
        let lines = sharded_lines(threads, &stream);
        assert_eq!(lines.len(), expected.len(), "{threads} threads");
        assert!(
            lines == expected,
            "{threads} threads: order or text differs"
        );
    }
}

#[test]
fn sharded_lines_end_of_input_in_chunks() {
    // 20,000 flows open at the end: each worker sends several chunks of lines,
    // and the emptied chunks go back to it for reuse.
    let stream = flood_stream(20_000);
    let records = sharded(config(), 2, &stream);
    let expected: Vec<String> = records
        .iter()
        .map(|record| format!("{record:?}\n"))
        .collect();
    let lines = sharded_lines(2, &stream);
    assert_eq!(lines.len(), 20_000);
    assert!(lines == expected, "order or text differs");
}

#[test]
fn sharded_lines_need_formatter() {
    let stream = flood_stream(100);
    let mut tracker = ShardedTracker::new(config(), 2).unwrap();
    for (ts, packet) in &stream {
        tracker.process(*ts, packet).unwrap();
    }
    assert_eq!(tracker.finish_lines(|_| {}), Err(ShardError::NoFormatter));
    let mut records = 0;
    tracker.finish_each(|_| records += 1).unwrap();
    assert_eq!(records, 100);
}

#[test]
fn sharded_formats_undrained_records() {
    let stream = flood_stream(3 * BATCH_PACKETS as u32);
    let mut tracker = ShardedTracker::new(config(), 2).unwrap();
    for (ts, packet) in &stream {
        tracker.process(*ts, packet).unwrap();
    }
    // Moving the clock past every timeout ends every flow unformatted.
    let later = stream.last().unwrap().0.add_nanos(3_600_000_000_000);
    tracker.advance_to(later).unwrap();
    tracker.format_in_workers(DebugLines).unwrap();
    assert_eq!(tracker.drain_finished().count(), 0);
    let mut lines = 0;
    tracker.drain_lines(|_| lines += 1);
    assert_eq!(lines, stream.len());
}

#[test]
fn sharded_order_is_repeatable() {
    let stream = mixed_stream();
    let first = sharded(config(), 2, &stream);
    let second = sharded(config(), 2, &stream);
    assert_eq!(first, second);
}

#[test]
fn sharded_end_of_input_oldest_first() {
    let stream = flood_stream(20_000);
    let records = sharded(config(), 2, &stream);
    assert_eq!(records.len(), 20_000);
    assert!(records
        .windows(2)
        .all(|pair| pair[0].first_ts <= pair[1].first_ts));
}

#[test]
fn sharded_counts_every_packet() {
    let stream = mixed_stream();
    let mut tracker = ShardedTracker::new(config(), 2).unwrap();
    for (ts, packet) in &stream {
        tracker.process(*ts, packet).unwrap();
    }
    tracker.flush().unwrap();
    let stats = tracker.stats();
    assert_eq!(stats.packets, stream.len() as u64);
    let mut single = Tracker::new(config());
    for (ts, packet) in &stream {
        single.process(*ts, packet);
    }
    assert_eq!(stats.flows_created, single.stats().flows_created);
    assert_eq!(stats.records, single.stats().records);
    assert_eq!(tracker.active_flows(), single.active_flows());
}

#[test]
fn shard_same_for_both_directions() {
    for vlan in [None, Some(7)] {
        for port in (1_024..65_535).step_by(997) {
            let client = Endpoint::v4([10, 1, (port >> 8) as u8, port as u8], port);
            let server = Endpoint::v4([192, 0, 2, 80], 443);
            let mut builder = match vlan {
                Some(id) => FrameBuilder::new().vlan(id),
                None => FrameBuilder::new(),
            };
            let out = builder.tcp(client, server, &TcpSegment::syn(1));
            let back = builder.tcp(server, client, &TcpSegment::new(0x12, 9, 2, 0));
            let out = decode(linktype::ETHERNET, &out);
            let back = decode(linktype::ETHERNET, &back);
            for shards in 2..8 {
                assert_eq!(
                    shard_of(&out, &config(), shards),
                    shard_of(&back, &config(), shards),
                    "port {port}, {shards} shards"
                );
                assert!(shard_of(&out, &config(), shards) < shards);
            }
        }
    }
}

#[test]
fn shard_spreads_flows() {
    let stream = flood_stream(10_000);
    let mut counts = [0usize; 4];
    for (_, packet) in &stream {
        counts[shard_of(packet, &config(), 4)] += 1;
    }
    for count in counts {
        assert!(count > 2_000, "uneven shards: {counts:?}");
    }
}

/// Runs the first half of `stream` in one tracker and saves it, continues from
/// the snapshot with `second_threads` and returns every record, as `-W` then
/// `-R` in two runs would.
fn across_snapshot(
    stream: &[(Timestamp, Decoded)],
    first_threads: usize,
    second_threads: usize,
) -> Vec<FlowRecord> {
    let (first, second) = stream.split_at(stream.len() / 2);
    let mut records = Vec::new();
    let snapshot = if first_threads == 1 {
        let mut tracker = Tracker::new(config());
        for (ts, packet) in first {
            tracker.process(*ts, packet);
        }
        records.extend(tracker.drain_finished());
        tracker.snapshot()
    } else {
        let mut tracker = ShardedTracker::new(config(), first_threads).unwrap();
        for (ts, packet) in first {
            tracker.process(*ts, packet).unwrap();
        }
        let snapshot = tracker.snapshot().unwrap();
        records.extend(tracker.drain_finished());
        snapshot
    };
    assert!(!snapshot.flows.is_empty());
    if second_threads == 1 {
        let mut tracker = Tracker::restore(config(), &snapshot).unwrap();
        for (ts, packet) in second {
            tracker.process(*ts, packet);
        }
        tracker.finish();
        records.extend(tracker.drain_finished());
    } else {
        let mut tracker = ShardedTracker::restore(config(), &snapshot, second_threads).unwrap();
        for (ts, packet) in second {
            tracker.process(*ts, packet).unwrap();
            records.extend(tracker.drain_finished());
        }
        tracker.finish_each(|record| records.push(record)).unwrap();
    }
    records
}

#[test]
fn sharded_snapshot_continues_flows() {
    let stream = mixed_stream();
    let expected = sorted(&single(config(), &stream));
    for (first, second) in [(2, 2), (2, 3), (2, 1), (1, 2)] {
        let got = sorted(&across_snapshot(&stream, first, second));
        assert_eq!(got.len(), expected.len(), "{first} then {second} threads");
        assert!(got == expected, "{first} then {second} threads");
    }
}

/// The tables' limits add up to `max_flows`, also when it does not divide by
/// the number of tables, so a flood never has more flows open at once.
#[test]
fn sharded_limits_add_up_to_max() {
    let stream = flood_stream(2_000);
    for (max_flows, threads) in [(10, 3), (1_000, 7), (5, 4)] {
        let limited = TrackerConfig {
            max_flows,
            ..config()
        };
        let mut tracker = ShardedTracker::new(limited, threads).unwrap();
        for (ts, packet) in &stream {
            tracker.process(*ts, packet).unwrap();
        }
        tracker.flush().unwrap();
        let open = tracker.active_flows();
        assert_eq!(open, max_flows, "{max_flows} flows over {threads} tables");
        assert_eq!(
            tracker.stats().evicted as usize,
            stream.len() - max_flows,
            "{max_flows} flows over {threads} tables"
        );
    }
}

/// Worker tables restored over their limits give up their surplus a chunk at
/// a time, each chunk in order of end time, with the records that evicting it
/// all at once gives.
#[test]
fn sharded_restore_evicts_surplus_in_chunks() {
    let stream = flood_stream(3_000);
    let mut tracker = Tracker::new(config());
    for (ts, packet) in &stream {
        tracker.process(*ts, packet);
    }
    let snapshot = tracker.snapshot();
    let limited = TrackerConfig {
        max_flows: 1_000,
        ..config()
    };
    let restorer = || {
        let flows = snapshot.flows.len();
        let mut restorer =
            ShardedRestorer::new(limited, snapshot.clock, snapshot.next_serial, flows, 2);
        for (index, saved) in snapshot.flows.iter().enumerate() {
            restorer.add(index, saved).unwrap();
        }
        restorer
    };
    let mut whole = restorer().finish(&snapshot.fragments).unwrap();
    let expected: Vec<FlowRecord> = whole.drain_finished().collect();
    assert_eq!(expected.len(), 2_000);

    let mut tables = restorer().finish_over_limit(&snapshot.fragments).unwrap();
    // A limit of 0 still evicts a flow of each table over its limit.
    let mut got = tables.evict_surplus(0).unwrap();
    assert_eq!(got.len(), 2);
    let mut chunks = 0;
    while let Some(chunk) = tables.evict_surplus(100) {
        assert!(chunk.len() <= 200, "{} records in one chunk", chunk.len());
        assert!(chunk
            .windows(2)
            .all(|pair| pair[0].last_ts <= pair[1].last_ts));
        got.extend(chunk);
        chunks += 1;
    }
    assert!(chunks >= 10, "{chunks} chunks");
    let mut tracker = tables.start().unwrap();
    assert_eq!(tracker.drain_finished().count(), 0);
    tracker.flush().unwrap();
    assert_eq!(tracker.active_flows(), 1_000);
    assert_eq!(tracker.stats().evicted, 2_000);
    assert!(sorted(&got) == sorted(&expected));
}

/// A restore error with worker threads names the flow's position in the
/// whole snapshot, as with one thread, although each worker restores only
/// its own flows.
/// Returns the snapshot of one tracker after the first half of the mixed
/// stream, with many flows open and some closed.
fn half_mixed_snapshot() -> TrackerSnapshot {
    let stream = mixed_stream();
    let mut tracker = Tracker::new(config());
    for (ts, packet) in &stream[..stream.len() / 2] {
        tracker.process(*ts, packet);
    }
    tracker.snapshot()
}

/// Records of a snapshot restored into tables of `threads` workers with the
/// settings `limited`, and then ended: first those of the flows evicted, then
/// those that end with the input.
fn restored_records(
    snapshot: &TrackerSnapshot,
    limited: TrackerConfig,
    threads: usize,
) -> (Vec<FlowRecord>, Vec<FlowRecord>) {
    let (clock, next_serial) = (snapshot.clock, snapshot.next_serial);
    let count = snapshot.flows.len();
    if threads == 1 {
        let mut restorer = TrackerRestorer::new(limited, clock, next_serial, count);
        for (index, saved) in snapshot.flows.iter().enumerate() {
            restorer.add(index, saved).unwrap();
        }
        let mut tracker = restorer.finish(&snapshot.fragments).unwrap();
        let evicted = tracker.drain_finished().collect();
        tracker.finish();
        return (evicted, tracker.drain_finished().collect());
    }
    let mut restorer = ShardedRestorer::new(limited, clock, next_serial, count, threads);
    for (index, saved) in snapshot.flows.iter().enumerate() {
        restorer.add(index, saved).unwrap();
    }
    let mut tracker = restorer.finish(&snapshot.fragments).unwrap();
    let evicted = tracker.drain_finished().collect();
    let mut ended = Vec::new();
    tracker.finish_each(|record| ended.push(record)).unwrap();
    (evicted, ended)
}

/// A snapshot larger than the tables is restored in two ways: every flow, with
/// the surplus evicted after, or only the flows that a [`SurplusPicker`] does
/// not pick, with the picked ones evicted one by one afterwards. Both give the
/// same records and leave the same flows, with one table and with two.
#[test]
fn picked_surplus_matches_restoring_all() {
    let snapshot = half_mixed_snapshot();
    let count = snapshot.flows.len();
    let closed = snapshot
        .flows
        .iter()
        .filter(|saved| saved.closed != wsd_flow::CloseState::Open)
        .count();
    assert!(
        count > 1_000 && closed > 10,
        "{count} flows, {closed} closed"
    );
    let limited = TrackerConfig {
        max_flows: count / 3,
        ..config()
    };
    // Closed flows go first even where open flows have been idle longer.
    let mut by_idle: Vec<_> = snapshot.flows.iter().collect();
    by_idle.sort_by_key(|saved| (saved.touched, saved.serial));
    let recent_closed = by_idle[count - count / 3..]
        .iter()
        .filter(|saved| saved.closed != wsd_flow::CloseState::Open)
        .count();
    assert!(recent_closed > 0, "no closed flow among the most recent");
    let (clock, next_serial) = (snapshot.clock, snapshot.next_serial);
    for threads in [1, 2] {
        let (expected_evicted, expected_ended) = restored_records(&snapshot, limited, threads);
        assert!(expected_evicted.len() >= count - count / 3);

        let mut picker = SurplusPicker::new(&limited, threads);
        snapshot.flows.iter().for_each(|saved| picker.add(saved));
        let picked = picker.finish(&snapshot.fragments);
        let is_picked = |saved| picked.contains(saved);
        let picked_count = snapshot
            .flows
            .iter()
            .filter(|&saved| is_picked(saved))
            .count();
        assert_eq!(picked_count, expected_evicted.len(), "{threads} threads");

        let mut evicted = Vec::new();
        let ended = if threads == 1 {
            let mut restorer = TrackerRestorer::new(limited, clock, next_serial, count / 3);
            for (index, saved) in snapshot.flows.iter().enumerate() {
                match is_picked(saved) {
                    true => restorer.check(index, saved).unwrap(),
                    false => restorer.add(index, saved).unwrap(),
                }
            }
            let mut tracker = restorer.finish_over_limit(&snapshot.fragments).unwrap();
            assert_eq!(tracker.active_flows(), count / 3);
            for (index, saved) in snapshot.flows.iter().enumerate() {
                if is_picked(saved) {
                    tracker.evict_saved(index, saved).unwrap();
                }
            }
            assert_eq!(tracker.evict_surplus(usize::MAX), 0);
            assert_eq!(tracker.stats().evicted, picked_count as u64);
            evicted.extend(tracker.drain_finished());
            tracker.finish();
            tracker.drain_finished().collect()
        } else {
            let mut restorer =
                ShardedRestorer::new(limited, clock, next_serial, count / 3, threads);
            for (index, saved) in snapshot.flows.iter().enumerate() {
                match is_picked(saved) {
                    true => restorer.check(index, saved).unwrap(),
                    false => restorer.add(index, saved).unwrap(),
                }
            }
            let mut tables = restorer.finish_over_limit(&snapshot.fragments).unwrap();
            for (index, saved) in snapshot.flows.iter().enumerate() {
                if is_picked(saved) {
                    tables.evict_saved(index, saved).unwrap();
                }
            }
            evicted = tables.drain_evicted();
            assert!(evicted
                .windows(2)
                .all(|pair| pair[0].last_ts <= pair[1].last_ts));
            assert!(tables.evict_surplus(usize::MAX).is_none());
            let mut tracker = tables.start().unwrap();
            let mut ended = Vec::new();
            tracker.finish_each(|record| ended.push(record)).unwrap();
            assert_eq!(tracker.stats().evicted, picked_count as u64);
            ended
        };
        assert!(
            sorted(&evicted) == sorted(&expected_evicted),
            "{threads} threads"
        );
        assert!(
            sorted(&ended) == sorted(&expected_ended),
            "{threads} threads"
        );
    }
}

#[test]
fn sharded_restore_error_positions() {
    let snapshot = half_mixed_snapshot();
    let len = snapshot.flows.len();
    assert!(len > 20, "only {len} flows");

    let mut duplicated = snapshot.clone();
    duplicated.flows.push(snapshot.flows[len / 2]);
    let mut bad_serial = snapshot.clone();
    bad_serial.flows[len - 3].serial = snapshot.next_serial;
    for threads in [1, 2, 3] {
        let restored = ShardedTracker::restore(config(), &duplicated, threads);
        assert!(
            matches!(
                restored,
                Err(RestoreOrShardError::Restore(RestoreError::DuplicateFlow { index }))
                    if index == len
            ),
            "{threads} threads"
        );
        let restored = ShardedTracker::restore(config(), &bad_serial, threads);
        assert!(
            matches!(
                restored,
                Err(RestoreOrShardError::Restore(RestoreError::BadSerial { index, .. }))
                    if index == len - 3
            ),
            "{threads} threads"
        );
    }
}

/// With two faults, worker threads report the first in the snapshot's order,
/// as one thread does, whichever workers the two flows belong to.
#[test]
fn sharded_restore_first_fault_wins() {
    let mut snapshot = half_mixed_snapshot();
    let len = snapshot.flows.len();
    assert!(len > 20, "only {len} flows");
    snapshot.flows.push(snapshot.flows[0]);
    for index in [len / 3, len - 1] {
        snapshot.flows[index].serial = snapshot.next_serial;
        for threads in [1, 2, 3] {
            let restored = ShardedTracker::restore(config(), &snapshot, threads);
            assert!(
                matches!(
                    restored,
                    Err(RestoreOrShardError::Restore(RestoreError::BadSerial { index: at, .. }))
                        if at == len / 3
                ),
                "{threads} threads"
            );
        }
    }
}

#[test]
fn sharded_snapshot_serials_unique() {
    let stream = mixed_stream();
    let mut tracker = ShardedTracker::new(config(), 3).unwrap();
    for (ts, packet) in &stream[..stream.len() / 2] {
        tracker.process(*ts, packet).unwrap();
    }
    let snapshot = tracker.snapshot().unwrap();
    let mut serials: Vec<u64> = snapshot.flows.iter().map(|flow| flow.serial).collect();
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(serials.len(), snapshot.flows.len());
    assert_eq!(snapshot.next_serial, snapshot.flows.len() as u64);
    assert!(snapshot
        .flows
        .windows(2)
        .all(|pair| pair[0].touched <= pair[1].touched));
}

/// The saved flows arrive in the order of the merged snapshot, and a second
/// snapshot gives the same flows, since saving leaves them in the workers.
#[test]
fn sharded_snapshot_lazily_matches_whole() {
    let stream = mixed_stream();
    let mut tracker = ShardedTracker::new(config(), 3).unwrap();
    for (ts, packet) in &stream[..stream.len() / 2] {
        tracker.process(*ts, packet).unwrap();
    }
    let whole = tracker.snapshot().unwrap();
    let (head, flows) = tracker.snapshot_lazily().unwrap();
    let flows: Vec<_> = flows.map(Result::unwrap).collect();
    assert!(flows.len() > 100, "only {} flows", flows.len());
    assert_eq!(flows, whole.flows);
    assert_eq!(head.next_serial, whole.next_serial);
    assert_eq!(head.clock, whole.clock);
    assert_eq!(head.fragments, whole.fragments);
}

/// Dropping the saved flows after a few leaves the workers able to go on,
/// although each has more flows to send than its reply channel holds.
#[test]
fn sharded_snapshot_dropped_early() {
    let stream = flood_stream(60_000);
    let mut tracker = ShardedTracker::new(config(), 2).unwrap();
    for (ts, packet) in &stream {
        tracker.process(*ts, packet).unwrap();
    }
    let (_, mut flows) = tracker.snapshot_lazily().unwrap();
    for _ in 0..5 {
        assert!(flows.next().unwrap().is_ok());
    }
    drop(flows);
    let mut records = 0;
    tracker.finish_each(|_| records += 1).unwrap();
    assert_eq!(records, 60_000);
}

#[test]
fn sharded_table_limit_split() {
    let stream = flood_stream(5_000);
    let config = TrackerConfig {
        max_flows: 1_000,
        ..config()
    };
    let mut tracker = ShardedTracker::new(config, 2).unwrap();
    for (ts, packet) in &stream {
        tracker.process(*ts, packet).unwrap();
    }
    tracker.flush().unwrap();
    assert!(tracker.active_flows() <= 1_000);
    assert_eq!(
        tracker.stats().evicted,
        5_000 - tracker.active_flows() as u64
    );
}

/// Builds an Ethernet frame with an IPv4 fragment of a TCP segment from
/// 10.0.`host`.1 to 10.1.`host`.2.
fn tcp_fragment(host: u8, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total_len = (20 + data.len()) as u16;
    let field = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    frame.extend_from_slice(&[0x45, 0]);
    frame.extend_from_slice(&total_len.to_be_bytes());
    frame.extend_from_slice(&u16::from(host).to_be_bytes());
    frame.extend_from_slice(&field.to_be_bytes());
    frame.extend_from_slice(&[64, 6, 0, 0, 10, 0, host, 1, 10, 1, host, 2]);
    frame.extend_from_slice(data);
    frame
}

/// Decodes 20 SYNs between distinct host pairs, each sent as three fragments
/// with a first fragment too short for the TCP header. The datagrams interleave
/// and arrive in three orders, so half-way through some first fragments wait for
/// the fragment after them and some later fragments wait for their first.
fn tiny_fragment_stream() -> Stream {
    let mut segment = vec![
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
    ];
    segment.extend([0, 0, 0, 0]);
    let hosts = 20u8;
    let frames: Vec<[Vec<u8>; 3]> = (0..hosts)
        .map(|host| {
            let first = tcp_fragment(host, 0, true, &segment[..8]);
            let middle = tcp_fragment(host, 8, true, &segment[8..16]);
            let last = tcp_fragment(host, 16, false, &segment[16..]);
            match host % 3 {
                0 => [first, middle, last],
                1 => [middle, first, last],
                _ => [first, last, middle],
            }
        })
        .collect();
    let mut stream = Vec::new();
    for step in 0..3 {
        for (host, datagram) in frames.iter().enumerate() {
            let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + (step * 100 + host) as i64);
            stream.push((ts, decode(linktype::ETHERNET, &datagram[step])));
        }
    }
    stream
}

#[test]
fn sharded_tiny_fragments_match_single() {
    let stream = tiny_fragment_stream();
    let single_records = single(config(), &stream);
    assert_eq!(single_records.len(), 20);
    assert!(single_records.iter().all(|record| record.out.packets == 3));
    let expected = sorted(&single_records);
    for threads in [2, 3] {
        let got = sorted(&sharded(config(), threads, &stream));
        assert!(got == expected, "{threads} threads");
    }
    for (first, second) in [(2, 2), (2, 3), (2, 1), (1, 3)] {
        let got = sorted(&across_snapshot(&stream, first, second));
        assert!(got == expected, "{first} then {second} threads");
    }
}

/// Decodes 40 IP-in-IP packets between distinct tunnel endpoints, each carrying a
/// TCP segment between distinct inner hosts and fragmented outside the tunnel:
/// every first fragment, then every later one. The later fragments carry only
/// the outer addresses, which mostly choose another worker than the inner ones.
fn tunnel_fragment_stream() -> Stream {
    let hosts = 40u8;
    let mut firsts = Vec::new();
    let mut laters = Vec::new();
    for host in 0..hosts {
        let mut inner = vec![0x45, 0, 0, 140, 0, 1, 0, 0, 64, 6, 0, 0];
        inner.extend_from_slice(&[10, 0, host, 1, 10, 1, host, 2]);
        inner.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18]);
        inner.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        inner.extend((0..100).map(|byte| byte as u8));
        for (offset, part, list) in [
            (0, &inner[..64], &mut firsts),
            (64, &inner[64..], &mut laters),
        ] {
            let mut frame = tcp_fragment(host, offset, offset == 0, part);
            // Outer addresses 192.0.host.1 and 192.1.host.2, protocol IP-in-IP.
            frame[14 + 9] = 4;
            frame[14 + 12..14 + 20].copy_from_slice(&[192, 0, host, 1, 192, 1, host, 2]);
            list.push(frame);
        }
    }
    firsts
        .iter()
        .chain(&laters)
        .enumerate()
        .map(|(index, frame)| {
            let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + index as i64 * 1000);
            (ts, decode(linktype::ETHERNET, frame))
        })
        .collect()
}

#[test]
fn sharded_tunnel_fragments_match_single() {
    let stream = tunnel_fragment_stream();
    let single_records = single(config(), &stream);
    assert_eq!(single_records.len(), 40);
    assert!(single_records.iter().all(|record| record.out.packets == 2));
    assert!(single_records
        .iter()
        .all(|record| record.out.ip_bytes == 140));
    let expected = sorted(&single_records);
    for threads in [2, 3, 4] {
        let got = sorted(&sharded(config(), threads, &stream));
        assert!(got == expected, "{threads} threads");
    }
    for (first, second) in [(2, 2), (2, 3), (1, 4), (3, 1)] {
        let got = sorted(&across_snapshot(&stream, first, second));
        assert!(got == expected, "{first} then {second} threads");
    }
}

#[test]
fn sharded_packets_after_idle_ticks() {
    // A clock moved without packets, as on a quiet live link, sends batches
    // that carry only the clock. The packets after them must still reach their
    // workers.
    let stream = mixed_stream();
    let expected = sorted(&single(config(), &stream));
    let mut tracker = ShardedTracker::new(config(), 3).unwrap();
    let mut records = Vec::new();
    let start = stream.first().map(|(ts, _)| *ts).unwrap();
    for tick in 0..40 {
        tracker.advance_to(start.add_nanos(-1000 + tick)).unwrap();
    }
    for (index, (ts, packet)) in stream.iter().enumerate() {
        if index % 997 == 0 {
            tracker.advance_to(*ts).unwrap();
        }
        tracker.process(*ts, packet).unwrap();
        records.extend(tracker.drain_finished());
    }
    tracker.finish_each(|record| records.push(record)).unwrap();
    assert!(sorted(&records) == expected);
}

#[test]
fn sharded_interim_and_late_packets_match_single() {
    // Interim records fall due, and flows time out, by the clock of every
    // packet, also the packets of other workers and packets that arrive late.
    let config = TrackerConfig {
        interim: Some(2_000_000_000),
        ..config()
    };
    let mut stream = mixed_stream();
    for (index, (ts, _)) in stream.iter_mut().enumerate() {
        if index % 500 == 0 {
            *ts = ts.add_nanos(-3_000_000_000);
        }
    }
    let expected = single(config, &stream);
    assert!(expected.len() > 3_000);
    let expected = sorted(&expected);
    for threads in [2, 3] {
        let got = sorted(&sharded(config, threads, &stream));
        assert_eq!(got.len(), expected.len(), "{threads} threads");
        assert!(got == expected, "{threads} threads");
    }
}

/// Returns the tunnel packets of [`tunnel_fragment_stream`] with every later
/// fragment first, at the same packet times. Each later fragment then waits in
/// the worker of the outer addresses, and its first fragment goes to the inner
/// flow's worker.
fn reordered_tunnel_fragment_stream() -> Stream {
    let mut stream = tunnel_fragment_stream();
    let times: Vec<Timestamp> = stream.iter().map(|(ts, _)| *ts).collect();
    let half = stream.len() / 2;
    stream.rotate_left(half);
    for (entry, ts) in stream.iter_mut().zip(times) {
        entry.0 = ts;
    }
    stream
}

#[test]
fn sharded_reordered_tunnel_fragments_reload() {
    let stream = reordered_tunnel_fragment_stream();
    for saved_with in [2, 3] {
        let mut tracker = ShardedTracker::new(config(), saved_with).unwrap();
        for (ts, packet) in &stream {
            tracker.process(*ts, packet).unwrap();
        }
        let snapshot = tracker.snapshot().unwrap();
        assert!(!snapshot.fragments.is_empty(), "{saved_with} threads");
        let restored = Tracker::restore(config(), &snapshot);
        assert!(
            restored.is_ok(),
            "{saved_with} threads: {:?}",
            restored.err()
        );
        for threads in [2, 3] {
            let restored = ShardedTracker::restore(config(), &snapshot, threads);
            assert!(restored.is_ok(), "{saved_with} then {threads} threads");
        }
    }
}

/// Builds an Ethernet frame with an IPv4 fragment of datagram `id` from
/// 10.0.x.y to 10.1.x.y, x and y taken from `id`.
fn numbered_fragment(id: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut frame = tcp_fragment(0, offset, more, data);
    let [high, low] = id.to_be_bytes();
    frame[14 + 4..14 + 6].copy_from_slice(&id.to_be_bytes());
    frame[14 + 12..14 + 20].copy_from_slice(&[10, 0, high, low, 10, 1, high, low]);
    frame
}

/// More datagrams in flight at a save than one table holds, but fewer than
/// three workers' tables hold, are all carried through the snapshot.
#[test]
fn sharded_snapshot_keeps_all_datagrams() {
    let segment = [
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let datagrams = 6_000u16;
    let mut stream = Vec::new();
    for (step, offset, more, part) in [(0, 0, true, &segment[..]), (1, 24, false, &[7; 8][..])] {
        for id in 0..datagrams {
            let ts = 1_700_000_000_000_000_000 + (step * 10_000 + i64::from(id)) * 1000;
            let frame = numbered_fragment(id, offset, more, part);
            stream.push((
                Timestamp::from_nanos(ts),
                decode(linktype::ETHERNET, &frame),
            ));
        }
    }
    let expected = sorted(&sharded(config(), 3, &stream));
    assert_eq!(expected.len(), usize::from(datagrams));
    let got = sorted(&across_snapshot(&stream, 3, 3));
    assert!(got == expected);
    // One table evicts the oldest datagrams beyond its size, as a full table.
    assert_eq!(across_snapshot(&stream, 3, 1).len(), usize::from(datagrams));
}

/// With two faulty datagrams, worker threads name the first, as one table
/// does, whichever workers hold them.
#[test]
fn sharded_restore_first_datagram_fault() {
    let stream = tiny_fragment_stream();
    let mut tracker = Tracker::new(config());
    for (ts, packet) in &stream[..30] {
        tracker.process(*ts, packet);
    }
    let snapshot = tracker.snapshot();
    let count = snapshot.fragments.len();
    assert!(count > 5, "only {count} datagrams");
    for first in 0..count {
        for second in first + 1..count {
            let mut faulty = snapshot.clone();
            for index in [first, second] {
                faulty.fragments[index].first_seen = false;
                faulty.fragments[index].flow = Some(wsd_flow::FragmentFlowSnapshot {
                    serial: 0,
                    from_a: true,
                    header_end: 0,
                    stream_base: None,
                });
            }
            let single = Tracker::restore(config(), &faulty).err();
            assert!(single.is_some(), "{first} and {second}");
            for threads in [2, 3] {
                let sharded = match ShardedTracker::restore(config(), &faulty, threads) {
                    Err(RestoreOrShardError::Restore(err)) => Some(err),
                    _ => None,
                };
                assert_eq!(sharded, single, "{first} and {second}, {threads} threads");
            }
        }
    }
}

/// Datagrams saved out of creation order are rejected by worker threads too,
/// although each worker's share can be in order.
#[test]
fn sharded_restore_datagram_order() {
    let stream = tiny_fragment_stream();
    let mut tracker = Tracker::new(config());
    for (ts, packet) in &stream[..30] {
        tracker.process(*ts, packet);
    }
    let snapshot = tracker.snapshot();
    for later in 1..snapshot.fragments.len() {
        let mut swapped = snapshot.clone();
        swapped.fragments.swap(later - 1, later);
        if swapped.fragments[later - 1].created == swapped.fragments[later].created {
            continue;
        }
        let single = Tracker::restore(config(), &swapped).err();
        assert!(single.is_some(), "swap before {later}");
        for threads in [2, 3] {
            let sharded = match ShardedTracker::restore(config(), &swapped, threads) {
                Err(RestoreOrShardError::Restore(err)) => Some(err),
                _ => None,
            };
            assert_eq!(sharded, single, "swap before {later}, {threads} threads");
        }
    }
}
