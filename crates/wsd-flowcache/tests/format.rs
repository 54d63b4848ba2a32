//! Round trips, damaged files and atomic replacement of flow caches.

use std::net::IpAddr;

use proptest::prelude::*;
use wsd_capture::Timestamp;
use wsd_decode::{FragmentHead, MacAddr, TunnelInfo, TunnelKind, Vlans};
use wsd_flow::{
    CloseState, Counters, DatagramSnapshot, EndpointState, FlowSnapshot, FragmentFlowSnapshot,
    History, IcmpDetails, SeqRange, SideSnapshot, StreamState, TinyFirstFragment, TrackerSnapshot,
    WaitingFragment, MAX_HOLES,
};
use wsd_flowcache::{
    check_writable, decode, decode_each, encode, lock_cache, read_cache, read_cache_each,
    write_cache, write_cache_each, write_cache_lazily, CacheError, CacheItem, FORMAT_VERSION,
};

fn side(ip: IpAddr, port: u16, seed: u64) -> SideSnapshot {
    SideSnapshot {
        ip,
        port,
        mac: (seed % 3 != 0).then_some(MacAddr([2, 0, 0, 0, (seed >> 8) as u8, seed as u8])),
        mac_from_own_packet: seed % 2 == 0,
        counters: Counters {
            packets: seed,
            bytes: seed.wrapping_mul(60),
            payload_bytes: seed.wrapping_mul(20),
            ip_bytes: seed.wrapping_mul(80),
            ..Counters::default()
        },
        isn: (seed % 5 != 0).then_some(seed as u32 ^ 0xdead_beef),
        isn_from_peer_ack: seed % 7 == 0,
        fin: seed % 4 == 0,
        state: [
            EndpointState::Inactive,
            EndpointState::SynSent,
            EndpointState::SynAckSent,
            EndpointState::Partial,
            EndpointState::Established,
            EndpointState::Closed,
            EndpointState::Reset,
        ][(seed % 7) as usize],
        stream: (seed % 2 == 0).then(|| stream(seed)),
    }
}

fn stream(seed: u64) -> StreamState {
    let hole_count = (seed % (MAX_HOLES as u64 + 1)) as usize;
    let mut holes = [SeqRange::default(); MAX_HOLES];
    for (index, hole) in holes.iter_mut().take(hole_count).enumerate() {
        let start = (seed as u32).wrapping_add(index as u32 * 1000);
        *hole = SeqRange {
            start,
            end: start.wrapping_add(100),
        };
    }
    StreamState {
        next_seq: (seed as u32).wrapping_mul(7),
        stream_bytes: seed.wrapping_mul(30),
        dropped_hole_bytes: seed % 11,
        holes,
        hole_count: hole_count as u8,
        retransmitted_packets: seed % 13,
        retransmitted_bytes: seed % 17 * 100,
        gaps: seed % 19,
        zero_windows: seed % 23,
    }
}

fn flow(n: u64) -> FlowSnapshot {
    let v6 = n % 10 == 0;
    let (client, server): (IpAddr, IpAddr) = if v6 {
        (
            "2001:db8::1".parse().unwrap(),
            IpAddr::from([
                0x20,
                0x01,
                0x0d,
                0xb8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                (n >> 8) as u8,
                n as u8,
            ]),
        )
    } else {
        (
            IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]),
            IpAddr::from([192, 0, 2, 1]),
        )
    };
    FlowSnapshot {
        protocol: if n % 9 == 0 { 17 } else { 6 },
        key_vlans: [(n % 4096) as u16, 0],
        vlans: Vlans {
            ids: [(n % 4096) as u16, 0],
            count: u8::from(n % 4096 != 0),
        },
        client: side(client, 40000 + (n % 20000) as u16, n),
        server: side(server, 443, n.wrapping_add(1)),
        first_ts: Timestamp::from_nanos(1_700_000_000_000_000_000_i64.wrapping_add(n as i64)),
        last_ts: Timestamp::from_nanos(1_700_000_001_000_000_000_i64.wrapping_add(n as i64)),
        touched: Timestamp::from_nanos(1_700_000_001_000_000_000_i64.wrapping_add(n as i64)),
        serial: n,
        midstream: n % 3 == 0,
        syn_seen: n % 3 != 0,
        closed: match n % 3 {
            0 => CloseState::Open,
            1 => CloseState::Fin,
            _ => CloseState::Rst,
        },
        history: history(["^", "ShAD", "ShADadFf", "ShADadtTgGwWFf"][(n % 4) as usize]),
        tunnel: (n % 4 == 1).then(|| TunnelInfo {
            kind: [TunnelKind::Vxlan, TunnelKind::Gre, TunnelKind::Teredo][(n % 3) as usize],
            src: IpAddr::from([192, 0, 2, 10]),
            dst: IpAddr::from([192, 0, 2, 20]),
            id: (n % 2 == 0).then_some(n as u32 & 0xff_ffff),
        }),
        icmp: (n % 5 == 2).then_some(IcmpDetails {
            icmp_type: 8,
            code: 0,
            echo_id: (n % 2 == 0).then_some(n as u16),
            v6,
        }),
        interim_due: (n % 3 == 1)
            .then(|| Timestamp::from_nanos(1_700_000_060_000_000_000_i64.wrapping_add(n as i64))),
    }
}

fn history(letters: &str) -> History {
    let mut history = History::EMPTY;
    for letter in letters.bytes() {
        assert!(history.push(letter), "test history {letters} too long");
    }
    history
}

/// Builds a datagram of the fragment table. Odd seeds wait for their first
/// fragment, and even ones link to flow `n / 2` (which the snapshot may lack).
fn datagram(n: u64) -> DatagramSnapshot {
    let created = Timestamp::from_nanos(1_700_000_001_000_000_000_i64.wrapping_add(n as i64));
    let (src, dst): (IpAddr, IpAddr) = if n % 3 == 0 {
        (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        )
    } else {
        ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
    };
    let first_seen = n % 2 == 0;
    let waiting = (0..if first_seen { 0 } else { n % 4 + 1 })
        .map(|index| WaitingFragment {
            ts: created.add_nanos(index as i64),
            ip_len: 28 + index as u32,
            data_len: 8,
            offset: 8 * (index as u16 + 1),
            head: FragmentHead::new(&[index as u8; 8]),
        })
        .collect();
    DatagramSnapshot {
        created,
        src,
        dst,
        id: n as u32,
        protocol: [6, 17, 1][n as usize % 3],
        first_seen,
        flow: first_seen.then_some(FragmentFlowSnapshot {
            serial: n / 2,
            from_a: n % 4 == 0,
            header_end: if n % 3 == 0 { 24 } else { 0 },
            stream_base: (n % 2 == 0).then_some((n as u32).wrapping_mul(0x9e37_79b9)),
        }),
        waiting,
        tiny_first: (!first_seen && n % 3 == 1).then(|| tiny_first(n, created)),
        received: (n as u32).wrapping_mul(8),
        total: (n % 5 == 0).then_some((n as u32).wrapping_mul(8).wrapping_add(16)),
    }
}

/// Builds a tiny first fragment waiting in datagram `n`, tunnelled when `n` is
/// a multiple of 5.
fn tiny_first(n: u64, created: Timestamp) -> TinyFirstFragment {
    TinyFirstFragment {
        ts: created,
        src_mac: Some(MacAddr([2, 0, 0, 0, 0, n as u8])),
        dst_mac: (n % 2 == 0).then_some(MacAddr([2, 0, 0, 0, 1, 0])),
        vlans: Vlans {
            ids: [n as u16 & 0xfff, 0],
            count: 1,
        },
        tunnel: (n % 5 == 0).then(|| TunnelInfo {
            kind: TunnelKind::Vxlan,
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            id: Some(42),
        }),
        protocol: 6,
        ip_len: 28,
        ip_header_len: 20,
        data_len: 8,
        head: FragmentHead::new(&[0x30, 0x39, 0x1f, 0x90, 0, 0, 0, n as u8]),
    }
}

fn snapshot(count: u64) -> TrackerSnapshot {
    TrackerSnapshot {
        clock: Some(Timestamp::from_nanos(1_700_000_002_000_000_000)),
        next_serial: count,
        flows: (0..count).map(flow).collect(),
        fragments: (0..count.min(9)).map(datagram).collect(),
    }
}

#[test]
fn round_trip_keeps_everything() {
    let original = snapshot(500);
    let bytes = encode(&original, "wsd 9.9.9");
    let cache = decode(&bytes).unwrap();
    assert_eq!(cache.version, FORMAT_VERSION);
    assert_eq!(cache.writer, "wsd 9.9.9");
    assert_eq!(cache.snapshot, original);
}

#[test]
fn round_trip_keeps_fragment_table() {
    let original = snapshot(9);
    let cache = decode(&encode(&original, "w")).unwrap();
    assert_eq!(cache.snapshot.fragments.len(), 9);
    assert_eq!(cache.snapshot.fragments, original.fragments);
}

#[test]
fn empty_snapshot_round_trip() {
    let original = TrackerSnapshot::default();
    assert_eq!(decode(&encode(&original, "w")).unwrap().snapshot, original);
}

#[test]
fn encoding_is_deterministic() {
    assert_eq!(encode(&snapshot(50), "w"), encode(&snapshot(50), "w"));
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let bytes = encode(&snapshot(20), "w");
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len]).is_err(),
            "a file cut at {len} bytes was accepted"
        );
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    let bytes = encode(&snapshot(10), "w");
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        assert!(
            decode(&damaged).is_err(),
            "a change at byte {at} was not detected"
        );
    }
}

#[test]
fn future_version_rejected() {
    let mut bytes = encode(&snapshot(1), "w");
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    match decode(&bytes) {
        Err(CacheError::UnsupportedVersion { found, supported }) => {
            assert_eq!(found, FORMAT_VERSION + 1);
            assert_eq!(supported, FORMAT_VERSION);
        }
        other => panic!("expected an unsupported version, got {other:?}"),
    }
}

/// Version 0 was never written, so it is invalid rather than too new.
#[test]
fn version_zero_invalid() {
    let mut bytes = encode(&snapshot(1), "w");
    bytes[8..12].copy_from_slice(&0u32.to_le_bytes());
    let error = decode(&bytes).unwrap_err();
    assert!(
        matches!(error, CacheError::Invalid { offset: 8, .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("newer"), "{error}");
}

#[test]
fn other_files_are_not_caches() {
    assert!(matches!(
        decode(b"\xd4\xc3\xb2\xa1 a pcap file"),
        Err(CacheError::NotACache)
    ));
    assert!(matches!(decode(b""), Err(CacheError::Empty)));
}

#[test]
fn missing_file_is_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_cache(&dir.path().join("absent.cache"))
        .unwrap()
        .is_none());
}

/// The file that `write_cache` streams out is byte for byte the encoding that
/// `encode` builds in memory, checksum included, also when the flows fill
/// several write buffers.
#[test]
fn written_file_equals_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    for count in [0, 1, 7, 20_000] {
        let saved = snapshot(count);
        write_cache(&path, &saved, "w").unwrap();
        let written = std::fs::read(&path).unwrap();
        assert!(written == encode(&saved, "w"), "{count} flows");
    }
}

/// Decoding flow by flow passes the header first, then every flow with its
/// position, and returns the rest of what `decode` returns.
#[test]
fn decode_each_passes_every_flow() {
    let saved = snapshot(50);
    let bytes = encode(&saved, "w");
    let mut items = Vec::new();
    let cache = decode_each(&bytes, |item| {
        items.push(item);
        Ok(())
    })
    .unwrap();
    assert!(cache.snapshot.flows.is_empty());
    assert_eq!(cache.snapshot.fragments, saved.fragments);
    assert_eq!(cache.snapshot.clock, saved.clock);
    assert_eq!(items.len(), 51);
    assert!(matches!(
        &items[0],
        CacheItem::Header { writer, next_serial: 50, flows: 50, .. } if writer == "w"
    ));
    for (position, item) in items[1..].iter().enumerate() {
        match item {
            CacheItem::Flow(index, flow) => {
                assert_eq!(*index, position);
                assert_eq!(*flow, saved.flows[position]);
            }
            other => panic!("expected flow {position}, got {other:?}"),
        }
    }
}

/// An error of the receiver stops decoding at that flow and comes back as
/// inconsistent contents with its text.
#[test]
fn decode_each_receiver_error() {
    let bytes = encode(&snapshot(10), "w");
    let mut seen = 0;
    let error = decode_each(&bytes, |item| match item {
        CacheItem::Flow(3, _) => Err("flow 3 is unwanted".to_string()),
        _ => {
            seen += 1;
            Ok(())
        }
    })
    .unwrap_err();
    assert_eq!(seen, 4, "the header and flows 0 to 2");
    assert!(matches!(error, CacheError::Rejected { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "inconsistent contents: flow 3 is unwanted"
    );
}

/// Writing from an iterator of flows gives the file that writing the whole
/// snapshot gives, and counts the flows.
#[test]
fn lazy_write_equals_whole_write() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.cache");
    let lazy = dir.path().join("lazy.cache");
    let saved = snapshot(300);
    write_cache(&whole, &saved, "w").unwrap();
    let header = TrackerSnapshot {
        flows: Vec::new(),
        ..saved.clone()
    };
    let count = write_cache_lazily(&lazy, &header, saved.flows.iter().copied(), "w").unwrap();
    assert_eq!(count, 300);
    assert!(std::fs::read(&whole).unwrap() == std::fs::read(&lazy).unwrap());
}

#[test]
fn write_replaces_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    write_cache(&path, &snapshot(3), "w").unwrap();
    write_cache(&path, &snapshot(7), "w").unwrap();
    assert_eq!(read_cache(&path).unwrap().unwrap().snapshot, snapshot(7));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn failed_write_keeps_old_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    write_cache(&path, &snapshot(3), "w").unwrap();
    let before = std::fs::read(&path).unwrap();
    // A directory where the temporary file would go makes the write fail.
    let temp = dir
        .path()
        .join(format!(".wsd.cache.tmp-{}", std::process::id()));
    std::fs::create_dir(&temp).unwrap();
    let err = write_cache(&path, &snapshot(9), "w").unwrap_err();
    assert!(err.to_string().contains("creating"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// The check before a run leaves the directory and an existing cache as they
/// were, and fails where the write would.
#[test]
fn check_writable_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    check_writable(&path).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    write_cache(&path, &snapshot(3), "w").unwrap();
    let before = std::fs::read(&path).unwrap();
    check_writable(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let err = check_writable(&dir.path().join("missing").join("wsd.cache")).unwrap_err();
    assert!(err.to_string().contains("creating"), "{err}");
    let temp = dir
        .path()
        .join(format!(".wsd.cache.tmp-{}", std::process::id()));
    std::fs::create_dir(&temp).unwrap();
    let err = check_writable(&path).unwrap_err();
    assert!(matches!(err, CacheError::Io { .. }), "{err}");
}

/// A link planted where the temporary file goes is replaced, not written
/// through: the file it points to keeps its contents.
#[test]
fn planted_link_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let temp = dir
        .path()
        .join(format!(".wsd.cache.tmp-{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &temp).unwrap();
    check_writable(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");

    std::os::unix::fs::symlink(&victim, &temp).unwrap();
    write_cache(&path, &snapshot(3), "w").unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(read_cache(&path).unwrap().unwrap().snapshot, snapshot(3));
}

/// A second lock of one cache fails while the first is held, and a link in
/// the place of the lock file is neither followed nor replaced.
#[test]
fn lock_exclusive_and_unfollowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    let first_lock = lock_cache(&path).unwrap();
    let err = lock_cache(&path).unwrap_err();
    assert!(matches!(err, CacheError::Locked { .. }), "{err}");
    drop(first_lock);
    lock_cache(&path).unwrap();

    let linked = dir.path().join("linked.cache");
    let target = dir.path().join("target");
    std::os::unix::fs::symlink(&target, dir.path().join(".linked.cache.lock")).unwrap();
    let err = lock_cache(&linked).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(!target.exists());
}

/// A flow that fails to come stops the write, and the old cache stays.
#[test]
fn failed_flow_keeps_old_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    write_cache(&path, &snapshot(3), "w").unwrap();
    let before = std::fs::read(&path).unwrap();
    let saved = snapshot(9);
    let flows = saved.flows.iter().enumerate().map(|(index, flow)| {
        if index == 5 {
            Err("worker gone")
        } else {
            Ok(*flow)
        }
    });
    let err = write_cache_each(&path, &saved, flows, "w").unwrap_err();
    assert!(
        matches!(&err, CacheError::Flows { detail } if detail == "worker gone"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

/// Replaces the checksum at the end of `bytes` with the correct one.
fn fix_checksum(bytes: &mut [u8]) {
    let at = bytes.len() - 4;
    let checksum = crc32fast::hash(&bytes[..at]);
    bytes[at..].copy_from_slice(&checksum.to_le_bytes());
}

/// Returns every item `read_cache_each` passes on for `bytes` written to a
/// file, and its result, as text.
fn read_each_from_file(dir: &std::path::Path, bytes: &[u8]) -> Vec<String> {
    let path = dir.join("each.cache");
    std::fs::write(&path, bytes).unwrap();
    let mut items = Vec::new();
    let result = read_cache_each(&path, |item| {
        items.push(format!("{item:?}"));
        Ok(())
    });
    items.push(format!("{result:?}"));
    items
}

/// Returns every item `decode_each` passes on for `bytes`, and its result
/// wrapped as `read_cache_each` wraps it, as text.
fn decode_each_in_memory(bytes: &[u8]) -> Vec<String> {
    let mut items = Vec::new();
    let result = decode_each(bytes, |item| {
        items.push(format!("{item:?}"));
        Ok(())
    });
    items.push(format!("{:?}", result.map(Some)));
    items
}

/// A file read in a moving window gives the items and the error that the
/// same bytes give whole in memory, also when the contents are wrong.
#[test]
fn read_each_matches_decode_each() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encode(&snapshot(8_000), "w");
    assert!(bytes.len() > 1 << 20, "only {} bytes", bytes.len());
    let len = bytes.len();
    let mut cases: Vec<(String, Vec<u8>)> = vec![("intact".to_string(), bytes.clone())];
    for (name, at) in [
        ("count", len - 12),
        ("middle", len / 2),
        ("late", len - 300),
    ] {
        let mut changed = bytes.clone();
        changed[at] ^= 0x5a;
        cases.push((format!("{name} changed, checksum broken"), changed.clone()));
        fix_checksum(&mut changed);
        cases.push((format!("{name} changed, checksum fixed"), changed));
    }
    let mut cut = bytes[..len / 3].to_vec();
    cases.push(("cut".to_string(), cut.clone()));
    fix_checksum(&mut cut);
    cases.push(("cut, checksum fixed".to_string(), cut));
    cases.push(("header only".to_string(), bytes[..20].to_vec()));
    cases.push(("empty".to_string(), Vec::new()));
    for (name, case) in &cases {
        let read = read_each_from_file(dir.path(), case);
        let decoded = decode_each_in_memory(case);
        assert_eq!(read.len(), decoded.len(), "{name}");
        assert!(read == decoded, "{name}: {:?}", read.last());
    }
}

#[test]
fn stale_temp_files_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wsd.cache");
    // PID 0 never names a user process, so its file is left from a killed writer.
    let stale = dir.path().join(".wsd.cache.tmp-0");
    std::fs::write(&stale, b"partial").unwrap();
    let other = dir.path().join(".other.cache.tmp-0");
    std::fs::write(&other, b"partial").unwrap();
    write_cache(&path, &snapshot(2), "w").unwrap();
    assert!(
        !stale.exists(),
        "the stale temporary file of this cache is removed"
    );
    assert!(other.exists(), "another cache's files are left alone");
}

#[test]
fn million_flows_round_trip() {
    let original = snapshot(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.cache");
    write_cache(&path, &original, "w").unwrap();
    let loaded = read_cache(&path).unwrap().unwrap();
    assert_eq!(loaded.snapshot.flows.len(), 1_000_000);
    assert_eq!(loaded.snapshot, original);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn valid_prefix_with_random_tail_never_panics(
        tail in proptest::collection::vec(any::<u8>(), 0..512),
        count in 0u64..5,
    ) {
        let mut bytes = encode(&snapshot(count), "w");
        let keep = 12 + (tail.len() % 8);
        bytes.truncate(keep.min(bytes.len()));
        bytes.extend_from_slice(&tail);
        let _ = decode(&bytes);
    }

    #[test]
    fn snapshots_round_trip(seeds in proptest::collection::vec(any::<u64>(), 0..20)) {
        let original = TrackerSnapshot {
            clock: seeds.first().map(|&s| Timestamp::from_nanos(s as i64)),
            next_serial: u64::MAX,
            flows: seeds.iter().map(|&s| flow(s)).collect(),
            fragments: seeds.iter().map(|&s| datagram(s)).collect(),
        };
        prop_assert_eq!(decode(&encode(&original, "w")).unwrap().snapshot, original);
    }
}
