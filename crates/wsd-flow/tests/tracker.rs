//! Behaviour of the tracker on whole connections, through its public API.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_decode::{
    Decoded, IcmpInfo, IpInfo, MacAddr, SctpInfo, StopReason, TcpFlags, TcpInfo, Transport,
    TunnelInfo, TunnelKind, UdpInfo, Vlans,
};
use wsd_flow::{
    Anomaly, ConnState, Direction, EndReason, FlowRecord, RecordProtocols, Tracker, TrackerConfig,
    TrackerRestorer,
};

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH;

const CLIENT: &str = "10.0.0.1";
const SERVER: &str = "10.0.0.2";

fn ts(millis: i64) -> Timestamp {
    Timestamp::from_nanos(1_700_000_000_000_000_000 + millis * 1_000_000)
}

struct Seg {
    src: &'static str,
    dst: &'static str,
    sport: u16,
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: u32,
}

#[allow(clippy::too_many_arguments)]
fn seg(
    src: &'static str,
    sport: u16,
    dst: &'static str,
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: u32,
) -> Seg {
    Seg {
        src,
        dst,
        sport,
        dport,
        flags,
        seq,
        ack,
        payload,
    }
}

fn mac(last: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, last])
}

fn tcp_packet(s: &Seg) -> Decoded {
    let src: IpAddr = s.src.parse().unwrap();
    let dst: IpAddr = s.dst.parse().unwrap();
    let ip_header = if src.is_ipv6() { 40 } else { 20 };
    let segment_len = 20 + s.payload;
    Decoded {
        src_mac: Some(mac(src.to_string().len() as u8 + s.sport as u8)),
        dst_mac: Some(mac(dst.to_string().len() as u8 + s.dport as u8)),
        vlans: Vlans::default(),
        ip: Some(IpInfo {
            src,
            dst,
            protocol: 6,
            total_len: ip_header + segment_len,
            header_len: ip_header,
            is_later_fragment: false,
            is_first_fragment: false,
        }),
        transport: Transport::Tcp(TcpInfo {
            src_port: s.sport,
            dst_port: s.dport,
            seq: s.seq,
            ack: s.ack,
            flags: TcpFlags(s.flags),
            window: 1000,
            header_len: 20,
            segment_len,
            payload_len: s.payload,
        }),
        stop: None,
        ..Decoded::default()
    }
}

/// Client 10.0.0.1:40000 to server 10.0.0.2:80.
fn c2s(flags: u8, seq: u32, ack: u32, payload: u32) -> Seg {
    seg(CLIENT, 40000, SERVER, 80, flags, seq, ack, payload)
}

fn s2c(flags: u8, seq: u32, ack: u32, payload: u32) -> Seg {
    seg(SERVER, 80, CLIENT, 40000, flags, seq, ack, payload)
}

/// Runs segments one millisecond apart and returns every record, input ended.
fn run(config: TrackerConfig, segs: &[Seg]) -> Vec<FlowRecord> {
    let mut tracker = Tracker::new(config);
    let mut records = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        tracker.process(ts(i as i64), &tcp_packet(s));
        records.extend(tracker.drain_finished());
    }
    tracker.finish();
    records.extend(tracker.drain_finished());
    records
}

fn full_connection(isn_c: u32, isn_s: u32) -> Vec<Seg> {
    vec![
        c2s(SYN, isn_c, 0, 0),
        s2c(SYN | ACK, isn_s, isn_c + 1, 0),
        c2s(ACK, isn_c + 1, isn_s + 1, 0),
        c2s(PSH | ACK, isn_c + 1, isn_s + 1, 100),
        s2c(ACK, isn_s + 1, isn_c + 101, 0),
        c2s(FIN | ACK, isn_c + 101, isn_s + 1, 0),
        s2c(FIN | ACK, isn_s + 1, isn_c + 102, 0),
        c2s(ACK, isn_c + 102, isn_s + 2, 0),
    ]
}

#[test]
fn handshake_sets_client_and_counts() {
    let records = run(TrackerConfig::default(), &full_connection(1000, 5000));
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.client.ip.to_string(), CLIENT);
    assert_eq!(r.client.port, 40000);
    assert_eq!(r.server.port, 80);
    assert_eq!(r.out.packets, 5);
    assert_eq!(r.inbound.packets, 3);
    assert_eq!(r.out.bytes, 5 * 20 + 100);
    assert_eq!(r.inbound.bytes, 3 * 20);
    assert_eq!(r.out.payload_bytes, 100);
    assert!(r.syn_seen);
    assert!(!r.midstream);
    assert_eq!(
        r.end_reason,
        EndReason::Fin,
        "closed before the input ended"
    );
    assert_eq!(r.out.ip_bytes, 5 * 40 + 100);
}

#[test]
fn open_flow_ends_with_input() {
    let records = run(TrackerConfig::default(), &full_connection(1, 1)[..4]);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].end_reason, EndReason::EndOfInput);
}

#[test]
fn new_syn_on_open_flow_is_port_reuse() {
    let segs = [
        c2s(SYN, 1000, 0, 0),
        s2c(SYN | ACK, 5000, 1001, 0),
        c2s(ACK, 1001, 5001, 0),
        c2s(SYN, 77_777, 0, 0),
    ];
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].end_reason, EndReason::PortReuse);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[1].out.packets, 1);
    assert!(records[1].syn_seen);
}

#[test]
fn closed_flow_reported_after_linger() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    for (i, s) in full_connection(1, 1).iter().enumerate() {
        tracker.process(ts(i as i64), &tcp_packet(s));
    }
    assert_eq!(
        tracker.drain_finished().count(),
        0,
        "lingering, not yet reported"
    );
    // A straggler within the linger time still counts into the flow.
    tracker.process(ts(3_000), &tcp_packet(&c2s(ACK, 103, 3, 0)));
    assert_eq!(tracker.drain_finished().count(), 0);
    tracker.advance_to(ts(14_000));
    let records: Vec<_> = tracker.drain_finished().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].end_reason, EndReason::Fin);
    assert_eq!(records[0].out.packets, 6);
    assert_eq!(tracker.active_flows(), 0);
}

#[test]
fn synack_first_makes_receiver_client() {
    let segs = [
        s2c(SYN | ACK, 5000, 1001, 0),
        c2s(ACK, 1001, 5001, 0),
        c2s(PSH | ACK, 1001, 5001, 100),
        s2c(PSH | ACK, 5001, 1101, 200),
    ];
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.client.port, 40000);
    assert_eq!(r.out.packets, 2);
    assert_eq!(r.inbound.packets, 2);
    assert_eq!(r.inbound.payload_bytes, 200);
    assert!(!r.syn_seen);
    assert!(!r.midstream);
}

#[test]
fn midstream_guesses_server_from_ports() {
    // The first packet goes from the server port: the guess must still make
    // port 80 the server.
    let segs = [s2c(PSH | ACK, 5001, 1001, 100), c2s(ACK, 1001, 5101, 0)];
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].server.port, 80);
    assert_eq!(records[0].inbound.packets, 1);
    assert!(records[0].midstream);

    // Two unprivileged ports: the lower one is the server.
    let segs = [seg(CLIENT, 8080, SERVER, 50000, ACK, 1, 1, 0)];
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records[0].server.port, 8080);
    assert_eq!(records[0].client.port, 50000);
}

#[test]
fn retransmitted_syn_same_flow() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &tcp_packet(&c2s(SYN, 77, 0, 0)));
    let outcome = tracker.process(ts(1_000), &tcp_packet(&c2s(SYN, 77, 0, 0)));
    assert_eq!(outcome.anomaly, Some(Anomaly::RetransmittedSyn));
    tracker.finish();
    let records: Vec<_> = tracker.drain_finished().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].out.packets, 2);
}

#[test]
fn new_isn_after_close_is_port_reuse() {
    let mut segs = full_connection(1000, 5000);
    segs.extend(full_connection(900_000, 700_000));
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0].end_reason,
        EndReason::Fin,
        "the old connection had closed"
    );
    assert_eq!(records[0].out.packets, 5);
    assert_eq!(records[1].out.packets, 5);
    assert_eq!(records[1].inbound.packets, 3);
}

#[test]
fn synack_new_isn_while_open_same_flow() {
    let segs = [
        c2s(SYN, 1000, 0, 0),
        s2c(SYN | ACK, 1000, 1001, 0),
        s2c(SYN | ACK, 2_000_000_000, 1001, 0),
        c2s(ACK, 1001, 2_000_000_001, 0),
    ];
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].inbound.packets, 2);
}

#[test]
fn simultaneous_open_one_flow() {
    let segs = [
        c2s(SYN, 1000, 0, 0),
        s2c(SYN, 5000, 0, 0),
        s2c(SYN | ACK, 5000, 1001, 0),
        c2s(ACK, 1001, 5001, 0),
    ];
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].client.port, 40000);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].inbound.packets, 2);
}

#[test]
fn refused_connection_reported_as_rst() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &tcp_packet(&c2s(SYN, 10, 0, 0)));
    tracker.process(ts(1), &tcp_packet(&s2c(RST | ACK, 0, 11, 0)));
    tracker.advance_to(ts(60_000));
    let records: Vec<_> = tracker.drain_finished().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].end_reason, EndReason::Rst);
    assert_eq!(records[0].inbound.packets, 1);
}

#[test]
fn idle_flow_times_out_with_real_last_time() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &tcp_packet(&c2s(SYN, 10, 0, 0)));
    tracker.process(
        ts(599_000),
        &tcp_packet(&seg("10.9.9.9", 1, "10.9.9.8", 2, SYN, 1, 0, 0)),
    );
    assert_eq!(tracker.drain_finished().count(), 0);
    tracker.process(
        ts(601_000),
        &tcp_packet(&seg("10.9.9.9", 1, "10.9.9.8", 2, ACK, 2, 0, 0)),
    );
    let records: Vec<_> = tracker.drain_finished().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].end_reason, EndReason::IdleTimeout);
    assert_eq!(records[0].last_ts, ts(0));
}

#[test]
fn full_table_evicts_and_reports() {
    let config = TrackerConfig {
        max_flows: 2,
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    for port in 1..=3u16 {
        tracker.process(
            ts(i64::from(port)),
            &tcp_packet(&seg(CLIENT, port, SERVER, 80, SYN, 1, 0, 0)),
        );
    }
    let evicted: Vec<_> = tracker.drain_finished().collect();
    assert_eq!(evicted.len(), 1);
    assert_eq!(
        evicted[0].client.port, 1,
        "the flow idle longest goes first"
    );
    assert_eq!(evicted[0].end_reason, EndReason::Evicted);
    assert_eq!(tracker.active_flows(), 2);
    assert_eq!(tracker.stats().evicted, 1);
}

#[test]
fn backwards_time_never_negative() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(5_000), &tcp_packet(&c2s(SYN, 1, 0, 0)));
    tracker.process(ts(0), &tcp_packet(&s2c(SYN | ACK, 1, 2, 0)));
    tracker.process(ts(7_500), &tcp_packet(&c2s(ACK, 2, 2, 0)));
    tracker.finish();
    let records: Vec<_> = tracker.drain_finished().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].first_ts, ts(0));
    assert_eq!(records[0].last_ts, ts(7_500));
    assert_eq!(records[0].duration_secs(), 7);
}

#[test]
fn macs_from_each_sides_first_packet() {
    let records = run(TrackerConfig::default(), &full_connection(1, 1));
    let client_pkt = tcp_packet(&c2s(SYN, 1, 0, 0));
    let server_pkt = tcp_packet(&s2c(ACK, 1, 1, 0));
    assert_eq!(records[0].client.mac, client_pkt.src_mac);
    assert_eq!(records[0].server.mac, server_pkt.src_mac);
}

#[test]
fn relative_sequence_numbers() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let syn = tracker.process(ts(0), &tcp_packet(&c2s(SYN, 1000, 0, 0)));
    assert_eq!((syn.rel_seq, syn.rel_ack), (0, 0));
    let synack = tracker.process(ts(1), &tcp_packet(&s2c(SYN | ACK, u32::MAX, 1001, 0)));
    assert_eq!(synack.direction, Direction::ToClient);
    assert_eq!((synack.rel_seq, synack.rel_ack), (0, 1));
    let ack = tracker.process(ts(2), &tcp_packet(&c2s(ACK, 1001, 0, 0)));
    assert_eq!(
        (ack.rel_seq, ack.rel_ack),
        (1, 1),
        "server sequence wraps past 2^32"
    );
}

#[test]
fn vlan_in_key_is_an_option() {
    let mut tagged = tcp_packet(&c2s(SYN, 1, 0, 0));
    tagged.vlans = Vlans {
        ids: [42, 0],
        count: 1,
    };
    let untagged = tcp_packet(&c2s(SYN, 1, 0, 0));
    for (vlan_in_key, expected) in [(true, 2), (false, 1)] {
        let mut tracker = Tracker::new(TrackerConfig {
            vlan_in_key,
            ..TrackerConfig::default()
        });
        tracker.process(ts(0), &tagged);
        tracker.process(ts(1), &untagged);
        tracker.finish();
        assert_eq!(
            tracker.drain_finished().count(),
            expected,
            "vlan_in_key={vlan_in_key}"
        );
    }
}

#[test]
fn udp_tracked_but_not_recorded_by_default() {
    let packet = |src: &str, sport, dst: &str, dport| Decoded {
        ip: Some(IpInfo {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: 17,
            total_len: 48,
            header_len: 20,
            is_later_fragment: false,
            is_first_fragment: false,
        }),
        transport: Transport::Udp(UdpInfo {
            src_port: sport,
            dst_port: dport,
            datagram_len: 28,
        }),
        ..Decoded::default()
    };
    let query = packet(CLIENT, 5353, SERVER, 53);
    let reply = packet(SERVER, 53, CLIENT, 5353);

    let mut tracker = Tracker::new(TrackerConfig::default());
    assert_eq!(
        tracker.process(ts(0), &query).direction,
        Direction::ToServer
    );
    assert_eq!(
        tracker.process(ts(1), &reply).direction,
        Direction::ToClient
    );
    tracker.finish();
    assert_eq!(tracker.drain_finished().count(), 0);

    let config = TrackerConfig {
        records: RecordProtocols {
            tcp: true,
            udp: true,
            icmp: true,
            other: true,
        },
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    tracker.process(ts(0), &query);
    tracker.process(ts(1), &reply);
    tracker.finish();
    let records: Vec<_> = tracker.drain_finished().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].server.port, 53);
    assert_eq!(records[0].out.payload_bytes, 20);
}

#[test]
fn packet_without_transport_unattributed() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let outcome = tracker.process(ts(0), &Decoded::default());
    assert_eq!(outcome.direction, Direction::Unattributed);
    assert_eq!(tracker.stats().unattributed, 1);
}

#[test]
fn ipv6_addresses_round_trip() {
    let segs = [seg("2001:db8::1", 40000, "2001:db8::2", 443, SYN, 1, 0, 0)];
    let records = run(TrackerConfig::default(), &segs);
    assert_eq!(records[0].client.ip.to_string(), "2001:db8::1");
    assert_eq!(records[0].server.ip.to_string(), "2001:db8::2");
}

/// A mix of connections and timings: port reuse, a refused connection, a flow
/// idle past its timeout, UDP, and lingering closed connections.
fn mixed_script() -> Vec<(i64, Decoded)> {
    let mut packets = Vec::new();
    let mut at = 0;
    let mut push = |gap: i64, segment: Seg| {
        at += gap;
        packets.push((at, tcp_packet(&segment)));
    };
    for s in full_connection(1000, 5000) {
        push(10, s);
    }
    push(500, c2s(SYN, 77_000, 0, 0));
    push(1, seg("10.1.1.1", 5000, "10.1.1.2", 25, SYN, 9, 0, 0));
    push(
        1,
        seg("10.1.1.2", 25, "10.1.1.1", 5000, RST | ACK, 0, 10, 0),
    );
    push(
        1,
        seg(
            "10.2.2.2",
            443,
            "10.2.2.1",
            60000,
            PSH | ACK,
            500,
            900,
            1400,
        ),
    );
    push(6_000, s2c(SYN | ACK, 3, 77_001, 0));
    push(
        700_000,
        seg("10.2.2.1", 60000, "10.2.2.2", 443, ACK, 900, 1900, 0),
    );
    for s in full_connection(1, 2) {
        push(1, s);
    }
    let udp = Decoded {
        transport: Transport::Udp(UdpInfo {
            src_port: 5353,
            dst_port: 53,
            datagram_len: 40,
        }),
        ..tcp_packet(&c2s(ACK, 0, 0, 0))
    };
    at += 1;
    packets.push((at, udp));
    packets
}

fn run_split(
    config: TrackerConfig,
    packets: &[(i64, Decoded)],
    split: usize,
) -> (Vec<FlowRecord>, Vec<wsd_flow::PacketOutcome>) {
    let mut records = Vec::new();
    let mut outcomes = Vec::new();
    let mut tracker = Tracker::new(config);
    for (i, (at, packet)) in packets.iter().enumerate() {
        if i == split {
            let snapshot = tracker.snapshot();
            tracker = Tracker::restore(config, &snapshot).expect("restore");
        }
        outcomes.push(tracker.process(ts(*at), packet));
        records.extend(tracker.drain_finished());
    }
    tracker.finish();
    records.extend(tracker.drain_finished());
    (records, outcomes)
}

#[test]
fn restored_tracker_continues_exactly() {
    let packets = mixed_script();
    let config = TrackerConfig {
        records: RecordProtocols {
            tcp: true,
            udp: true,
            icmp: true,
            other: true,
        },
        ..TrackerConfig::default()
    };
    let whole = run_split(config, &packets, usize::MAX);
    assert!(
        whole.0.len() >= 6,
        "the script makes several records: {:?}",
        whole.0
    );
    for split in 0..=packets.len() {
        let pieces = run_split(config, &packets, split);
        assert_eq!(
            pieces.0, whole.0,
            "records differ when split before packet {split}"
        );
        assert_eq!(
            pieces.1, whole.1,
            "packet outcomes differ when split before packet {split}"
        );
    }
}

/// A hand-made snapshot whose next serial number is the largest one still
/// lets new flows start.
#[test]
fn restore_with_last_serial_number() {
    let snapshot = wsd_flow::TrackerSnapshot {
        clock: Some(ts(0)),
        next_serial: u64::MAX,
        flows: Vec::new(),
        fragments: Vec::new(),
    };
    let mut tracker = Tracker::restore(TrackerConfig::default(), &snapshot).unwrap();
    tracker.process(ts(1), &tcp_packet(&c2s(SYN, 1, 0, 0)));
    tracker.process(ts(2), &tcp_packet(&s2c(SYN | ACK, 9, 2, 0)));
    tracker.process(
        ts(3),
        &tcp_packet(&seg("10.0.0.9", 41_000, "10.0.0.2", 80, SYN, 5, 0, 0)),
    );
    assert_eq!(tracker.active_flows(), 2);
    tracker.finish();
    assert_eq!(tracker.drain_finished().count(), 2);
}

#[test]
fn restore_rejects_duplicate_flows() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &tcp_packet(&c2s(SYN, 1, 0, 0)));
    let mut snapshot = tracker.snapshot();
    snapshot.flows.push(snapshot.flows[0]);
    assert!(matches!(
        Tracker::restore(TrackerConfig::default(), &snapshot),
        Err(wsd_flow::RestoreError::DuplicateFlow { index: 1 })
    ));
}

/// Returns the snapshot of a tracker that saw a SYN from each client port
/// from 1 to `count`, at as many seconds.
fn snapshot_of_syns(count: u16) -> wsd_flow::TrackerSnapshot {
    let mut tracker = Tracker::new(TrackerConfig::default());
    for port in 1..=count {
        tracker.process(
            ts(i64::from(port)),
            &tcp_packet(&seg(CLIENT, port, SERVER, 80, SYN, 1, 0, 0)),
        );
    }
    tracker.snapshot()
}

/// A flow left out of the table that has the key of a flow added after it
/// is rejected with the positions of both.
#[test]
fn restorer_names_later_duplicate() {
    let snapshot = snapshot_of_syns(4);
    let mut flows = snapshot.flows.clone();
    let mut copy = flows[2];
    copy.serial = snapshot.next_serial;
    flows.insert(0, copy);

    let mut restorer = TrackerRestorer::new(
        TrackerConfig::default(),
        snapshot.clock,
        snapshot.next_serial + 1,
        flows.len(),
    );
    restorer.check(0, &flows[0]).unwrap();
    for (index, saved) in flows.iter().enumerate().skip(1) {
        restorer.add(index, saved).unwrap();
    }
    let error = restorer.check_key(0, &flows[0]).unwrap_err();

    assert_eq!(
        error,
        wsd_flow::RestoreError::DuplicateOfLaterFlow { index: 0, later: 3 }
    );
    assert_eq!(error.to_string(), "flow 1 has the key of the later flow 4");
}

#[test]
fn restore_rejects_flow_ending_before_start() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &tcp_packet(&c2s(SYN, 1, 0, 0)));
    tracker.process(ts(1), &tcp_packet(&c2s(ACK, 2, 0, 0)));
    let mut snapshot = tracker.snapshot();
    let flow = &mut snapshot.flows[0];
    std::mem::swap(&mut flow.first_ts, &mut flow.last_ts);
    assert!(matches!(
        Tracker::restore(TrackerConfig::default(), &snapshot),
        Err(wsd_flow::RestoreError::EndsBeforeStart { index: 0 })
    ));
}

#[test]
fn restore_evicts_beyond_table_limit() {
    let snapshot = snapshot_of_syns(4);
    let config = TrackerConfig {
        max_flows: 3,
        ..TrackerConfig::default()
    };
    let mut restored = Tracker::restore(config, &snapshot).unwrap();
    let evicted: Vec<_> = restored.drain_finished().collect();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].client.port, 1);
    assert_eq!(restored.active_flows(), 3);
}

/// A tracker restored over its limit gives up its surplus a chunk at a time,
/// with the same records in the same order as evicting it all in `finish`.
#[test]
fn restore_evicts_surplus_in_chunks() {
    let snapshot = snapshot_of_syns(50);
    let config = TrackerConfig {
        max_flows: 8,
        ..TrackerConfig::default()
    };
    let restorer = || {
        let mut restorer = TrackerRestorer::new(config, snapshot.clock, snapshot.next_serial, 50);
        for (index, saved) in snapshot.flows.iter().enumerate() {
            restorer.add(index, saved).unwrap();
        }
        restorer
    };
    let mut whole = restorer().finish(&[]).unwrap();
    let expected: Vec<FlowRecord> = whole.drain_finished().collect();
    assert_eq!(expected.len(), 42);

    let mut chunked = restorer().finish_over_limit(&[]).unwrap();
    assert_eq!(chunked.active_flows(), 50);
    // A limit of 0 still evicts one flow, so that a loop until 0 ends.
    assert_eq!(chunked.evict_surplus(0), 1);
    let mut got: Vec<FlowRecord> = chunked.drain_finished().collect();
    loop {
        let evicted = chunked.evict_surplus(5);
        let chunk: Vec<FlowRecord> = chunked.drain_finished().collect();
        assert_eq!(chunk.len(), evicted);
        assert!(evicted <= 5);
        if evicted == 0 {
            break;
        }
        got.extend(chunk);
    }
    assert!(got == expected);
    assert_eq!(chunked.active_flows(), 8);
    assert_eq!(chunked.stats().evicted, 42);
    assert_eq!(chunked.stats().max_active, 8);

    // A new flow before the surplus is evicted evicts all of it.
    let mut unevicted = restorer().finish_over_limit(&[]).unwrap();
    unevicted.process(
        ts(100),
        &tcp_packet(&seg(CLIENT, 1000, SERVER, 80, SYN, 1, 0, 0)),
    );
    assert_eq!(unevicted.active_flows(), 8);
    assert_eq!(unevicted.stats().evicted, 43);
    assert_eq!(unevicted.stats().max_active, 8);
}

/// Returns the default settings with records for every protocol.
fn all_records() -> TrackerConfig {
    TrackerConfig {
        records: RecordProtocols {
            tcp: true,
            udp: true,
            icmp: true,
            other: true,
        },
        ..TrackerConfig::default()
    }
}

/// Runs `segs` and returns the single record they make.
fn one_record(segs: &[Seg]) -> FlowRecord {
    let records = run(TrackerConfig::default(), segs);
    assert_eq!(records.len(), 1, "{records:?}");
    records[0]
}

#[test]
fn state_s0_for_syn_only() {
    let record = one_record(&[c2s(SYN, 1000, 0, 0)]);
    assert_eq!(record.state, ConnState::S0);
    assert_eq!(record.history.as_str(), "S");
}

#[test]
fn state_s1_after_handshake() {
    let record = one_record(&[
        c2s(SYN, 1000, 0, 0),
        s2c(SYN | ACK, 5000, 1001, 0),
        c2s(ACK, 1001, 5001, 0),
    ]);
    assert_eq!(record.state, ConnState::S1);
    assert_eq!(record.history.as_str(), "ShA");
}

#[test]
fn state_sf_for_full_connection() {
    let record = one_record(&full_connection(1000, 5000));
    assert_eq!(record.state, ConnState::SF);
    assert_eq!(record.history.as_str(), "ShADaFf");
    assert_eq!(record.out.stream_bytes, 100);
    assert_eq!(record.inbound.stream_bytes, 0);
    assert_eq!(record.out.missed_bytes, 0);
    assert_eq!(record.out.retransmitted_packets, 0);
}

#[test]
fn state_rej_for_refused() {
    let record = one_record(&[c2s(SYN, 1000, 0, 0), s2c(RST | ACK, 0, 1001, 0)]);
    assert_eq!(record.state, ConnState::REJ);
    assert_eq!(record.history.as_str(), "Sr");
}

#[test]
fn state_rsto_for_client_reset() {
    let mut segs = full_connection(1000, 5000);
    segs.truncate(5);
    segs.push(c2s(RST, 1101, 0, 0));
    let record = one_record(&segs);
    assert_eq!(record.state, ConnState::RSTO);
    assert!(record.history.as_str().ends_with('R'), "{}", record.history);
}

#[test]
fn state_rstr_for_server_reset() {
    let mut segs = full_connection(1000, 5000);
    segs.truncate(5);
    segs.push(s2c(RST, 5001, 0, 0));
    let record = one_record(&segs);
    assert_eq!(record.state, ConnState::RSTR);
}

#[test]
fn state_rstos0_for_syn_then_reset() {
    let record = one_record(&[c2s(SYN, 1000, 0, 0), c2s(RST, 1001, 0, 0)]);
    assert_eq!(record.state, ConnState::RSTOS0);
    assert_eq!(record.history.as_str(), "SR");
}

#[test]
fn state_sh_for_half_open() {
    let record = one_record(&[c2s(SYN, 1000, 0, 0), c2s(FIN, 1001, 0, 0)]);
    assert_eq!(record.state, ConnState::SH);
    assert_eq!(record.history.as_str(), "SF");
}

#[test]
fn state_oth_for_midstream() {
    let record = one_record(&[
        c2s(PSH | ACK, 7000, 9000, 100),
        s2c(ACK, 9000, 7100, 0),
        c2s(PSH | ACK, 7100, 9000, 50),
    ]);
    assert_eq!(record.state, ConnState::OTH);
    assert_eq!(record.history.as_str(), "Da");
    assert_eq!(record.out.stream_bytes, 150);
}

#[test]
fn synack_first_marks_flip() {
    let record = one_record(&[s2c(SYN | ACK, 5000, 1001, 0), c2s(ACK, 1001, 5001, 0)]);
    assert_eq!(record.history.as_str(), "^hA");
    assert_eq!(record.client.port, 40000);
}

#[test]
fn lost_segment_gives_missed_bytes() {
    let record = one_record(&[
        c2s(SYN, 1000, 0, 0),
        s2c(SYN | ACK, 5000, 1001, 0),
        c2s(ACK, 1001, 5001, 0),
        c2s(PSH | ACK, 1001, 5001, 100),
        // The segment at 1101 was not captured.
        c2s(PSH | ACK, 1201, 5001, 100),
        s2c(ACK, 5001, 1301, 0),
    ]);
    assert_eq!(record.out.stream_bytes, 300);
    assert_eq!(record.out.missed_bytes, 100);
    assert_eq!(record.out.payload_bytes, 200);
    assert!(record.history.contains(b'G'), "{}", record.history);
}

#[test]
fn late_segment_fills_gap() {
    let record = one_record(&[
        c2s(SYN, 1000, 0, 0),
        c2s(PSH | ACK, 1101, 0, 100),
        c2s(PSH | ACK, 1001, 0, 100),
    ]);
    assert_eq!(record.out.stream_bytes, 200);
    assert_eq!(record.out.missed_bytes, 0);
    assert_eq!(record.out.retransmitted_packets, 0);
}

#[test]
fn retransmission_counted_once() {
    let record = one_record(&[
        c2s(SYN, 1000, 0, 0),
        s2c(SYN | ACK, 5000, 1001, 0),
        c2s(ACK, 1001, 5001, 0),
        c2s(PSH | ACK, 1001, 5001, 100),
        c2s(PSH | ACK, 1001, 5001, 100),
    ]);
    assert_eq!(record.out.stream_bytes, 100);
    assert_eq!(record.out.payload_bytes, 200);
    assert_eq!(record.out.retransmitted_packets, 1);
    assert_eq!(record.out.retransmitted_bytes, 100);
    assert_eq!(record.history.as_str(), "ShADT");
}

#[test]
fn sequence_wrap_counts_600_bytes() {
    let isn = 0xFFFF_FF00;
    let record = one_record(&[
        c2s(SYN, isn, 0, 0),
        s2c(SYN | ACK, 5000, isn.wrapping_add(1), 0),
        c2s(PSH | ACK, isn.wrapping_add(1), 5001, 200),
        c2s(PSH | ACK, isn.wrapping_add(201), 5001, 200),
        c2s(PSH | ACK, isn.wrapping_add(401), 5001, 200),
    ]);
    assert_eq!(record.out.stream_bytes, 600);
    assert_eq!(record.out.missed_bytes, 0);
    assert_eq!(record.out.retransmitted_packets, 0);
}

#[test]
fn zero_window_counted_in_history() {
    let mut packet = tcp_packet(&c2s(ACK, 1001, 5001, 0));
    if let Transport::Tcp(tcp) = &mut packet.transport {
        tcp.window = 0;
    }
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(ts(0), &tcp_packet(&c2s(SYN, 1000, 0, 0)));
    for i in 1..=10 {
        tracker.process(ts(i), &packet);
    }
    tracker.finish();
    let records: Vec<_> = tracker.drain_finished().collect();
    // The 1st and the 10th zero window each add a letter.
    assert_eq!(records[0].history.as_str(), "SAWW");
}

fn datagram(protocol: u8, src: &str, dst: &str, transport: Transport, payload: u16) -> Decoded {
    let src: IpAddr = src.parse().unwrap();
    let header_len: u32 = if src.is_ipv6() { 40 } else { 20 };
    Decoded {
        ip: Some(IpInfo {
            src,
            dst: dst.parse().unwrap(),
            protocol,
            total_len: header_len + 8 + u32::from(payload),
            header_len,
            is_later_fragment: false,
            is_first_fragment: false,
        }),
        transport,
        ..Decoded::default()
    }
}

fn udp(src: &str, sport: u16, dst: &str, dport: u16, payload: u16) -> Decoded {
    let info = UdpInfo {
        src_port: sport,
        dst_port: dport,
        datagram_len: 8 + u32::from(payload),
    };
    datagram(17, src, dst, Transport::Udp(info), payload)
}

fn icmp(src: &str, dst: &str, icmp_type: u8, echo_id: Option<u16>) -> Decoded {
    let info = IcmpInfo {
        icmp_type,
        code: 0,
        v6: false,
        echo_id,
    };
    datagram(1, src, dst, Transport::Icmp(info), 56)
}

fn run_packets(config: TrackerConfig, packets: &[Decoded]) -> Vec<FlowRecord> {
    let mut tracker = Tracker::new(config);
    for (i, packet) in packets.iter().enumerate() {
        tracker.process(ts(i as i64), packet);
    }
    tracker.finish();
    tracker.drain_finished().collect()
}

#[test]
fn udp_record_states() {
    let records = run_packets(
        all_records(),
        &[
            udp(CLIENT, 5353, SERVER, 53, 30),
            udp(SERVER, 53, CLIENT, 5353, 90),
            udp(CLIENT, 5354, SERVER, 53, 30),
        ],
    );
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].state, ConnState::SF);
    assert_eq!(records[0].history.as_str(), "Dd");
    assert_eq!(records[0].out.stream_bytes, 30);
    assert_eq!(records[0].inbound.stream_bytes, 90);
    assert_eq!(records[1].state, ConnState::S0);
    assert_eq!(records[1].client.port, 5354);
}

#[test]
fn icmp_echo_pairs_into_one_flow() {
    let records = run_packets(
        all_records(),
        &[
            icmp(CLIENT, SERVER, 8, Some(7)),
            icmp(SERVER, CLIENT, 0, Some(7)),
            icmp(CLIENT, SERVER, 8, Some(8)),
            icmp(SERVER, CLIENT, 3, None),
        ],
    );
    assert_eq!(records.len(), 3, "{records:?}");
    let echo = &records[0];
    assert_eq!(echo.protocol, 1);
    assert_eq!(echo.out.packets, 1);
    assert_eq!(echo.inbound.packets, 1);
    assert_eq!(echo.state, ConnState::OTH);
    let details = echo.icmp.expect("ICMP details");
    assert_eq!(details.icmp_type, 8);
    assert_eq!(details.echo_id, Some(7));
    assert_eq!(records[1].icmp.and_then(|icmp| icmp.echo_id), Some(8));
    let unreachable = &records[2];
    assert_eq!(unreachable.client.ip.to_string(), SERVER);
    assert_eq!(unreachable.icmp.map(|icmp| icmp.icmp_type), Some(3));
}

fn port_unreachable(src: &str, dst: &str) -> Decoded {
    let info = IcmpInfo {
        icmp_type: 3,
        code: 3,
        v6: false,
        echo_id: None,
    };
    datagram(1, src, dst, Transport::Icmp(info), 56)
}

/// Port unreachable is type 3, code 3, so without a directional key the
/// messages of both hosts would share one flow.
#[test]
fn one_way_icmp_flow_per_sender() {
    let records = run_packets(
        all_records(),
        &[
            port_unreachable(SERVER, CLIENT),
            port_unreachable(CLIENT, SERVER),
            port_unreachable(SERVER, CLIENT),
        ],
    );

    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].client.ip.to_string(), SERVER);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].inbound.packets, 0);
    assert_eq!(records[1].client.ip.to_string(), CLIENT);
    assert_eq!(records[1].out.packets, 1);
    assert_eq!(records[1].inbound.packets, 0);
}

/// A restored one-way flow keeps its sender first in its key, so the sender's
/// next message continues it.
#[test]
fn one_way_icmp_flow_restored() {
    let mut tracker = Tracker::new(all_records());
    tracker.process(ts(0), &port_unreachable(SERVER, CLIENT));
    let snapshot = tracker.snapshot();

    let mut tracker = Tracker::restore(all_records(), &snapshot).expect("restore");
    tracker.process(ts(1), &port_unreachable(SERVER, CLIENT));
    tracker.finish();
    let records: Vec<FlowRecord> = tracker.drain_finished().collect();

    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].client.ip.to_string(), SERVER);
    assert_eq!(records[0].out.packets, 2);
}

#[test]
fn other_protocol_one_flow_per_pair() {
    let records = run_packets(
        all_records(),
        &[
            esp(CLIENT, SERVER),
            esp(SERVER, CLIENT),
            esp(CLIENT, SERVER),
        ],
    );
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].protocol, 50);
    assert_eq!(records[0].out.packets, 2);
    assert_eq!(records[0].inbound.packets, 1);
    assert_eq!(records[0].state, ConnState::OTH);
}

fn esp(src: &str, dst: &str) -> Decoded {
    datagram(50, src, dst, Transport::None, 100)
}

/// Returns an SCTP packet with `chunks` bytes after its 12-byte common header.
fn sctp(src: &str, sport: u16, dst: &str, dport: u16, chunks: u16) -> Decoded {
    let info = SctpInfo {
        src_port: sport,
        dst_port: dport,
        packet_len: 12 + u32::from(chunks),
    };
    let mut packet = datagram(132, src, dst, Transport::Sctp(info), chunks);
    let ip = packet.ip.as_mut().expect("an IP layer");
    ip.total_len = ip.header_len + info.packet_len;
    packet
}

#[test]
fn sctp_directions_one_flow() {
    let records = run_packets(
        all_records(),
        &[
            sctp(CLIENT, 2905, SERVER, 36412, 20),
            sctp(SERVER, 36412, CLIENT, 2905, 16),
            sctp(CLIENT, 2905, SERVER, 36412, 48),
        ],
    );
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record.protocol, 132);
    assert_eq!(record.client.ip.to_string(), CLIENT);
    assert_eq!(record.client.port, 2905);
    assert_eq!(record.server.ip.to_string(), SERVER);
    assert_eq!(record.server.port, 36412);
    assert_eq!(record.out.packets, 2);
    assert_eq!(record.inbound.packets, 1);
    // Bytes are the SCTP packet, payload bytes its chunks.
    assert_eq!(record.out.bytes, 12 + 20 + 12 + 48);
    assert_eq!(record.out.payload_bytes, 20 + 48);
    assert_eq!(record.inbound.bytes, 12 + 16);
    assert_eq!(record.inbound.payload_bytes, 16);
    assert_eq!(record.state, ConnState::OTH);
    assert_eq!(record.history.as_str(), "");
}

#[test]
fn sctp_associations_split_by_port() {
    let records = run_packets(
        all_records(),
        &[
            sctp(CLIENT, 2905, SERVER, 36412, 20),
            sctp(CLIENT, 2906, SERVER, 36412, 20),
            sctp(SERVER, 36412, CLIENT, 2906, 16),
            sctp(SERVER, 36412, CLIENT, 2905, 16),
        ],
    );
    assert_eq!(records.len(), 2, "{records:?}");
    let ports: Vec<(u16, u16)> = records
        .iter()
        .map(|record| (record.client.port, record.server.port))
        .collect();
    assert_eq!(ports, [(2905, 36412), (2906, 36412)]);
    for record in &records {
        assert_eq!(record.out.packets, 1, "{record:?}");
        assert_eq!(record.inbound.packets, 1, "{record:?}");
    }
}

#[test]
fn sctp_untracked_without_other_records() {
    let config = TrackerConfig {
        records: RecordProtocols {
            tcp: true,
            udp: true,
            icmp: true,
            other: false,
        },
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    let outcome = tracker.process(ts(0), &sctp(CLIENT, 2905, SERVER, 36412, 20));
    tracker.finish();

    assert_eq!(outcome.direction, Direction::Unattributed);
    assert_eq!(tracker.stats().flows_created, 0);
    assert_eq!(tracker.stats().unattributed, 1);
    assert_eq!(tracker.drain_finished().count(), 0);
}

#[test]
fn cut_sctp_header_has_no_flow() {
    let mut packet = datagram(132, CLIENT, SERVER, Transport::None, 0);
    packet.stop = Some(StopReason::TruncatedTransport);
    let mut tracker = Tracker::new(all_records());
    let outcome = tracker.process(ts(0), &packet);
    tracker.finish();

    assert_eq!(outcome.direction, Direction::Unattributed);
    assert_eq!(tracker.stats().flows_created, 0);
    assert_eq!(tracker.stats().unattributed, 1);
    assert_eq!(tracker.drain_finished().count(), 0);
}

#[test]
fn sctp_takes_other_timeout() {
    let config = TrackerConfig {
        udp_idle_timeout: 100_000_000_000,
        other_idle_timeout: 10_000_000_000,
        ..all_records()
    };
    // A TCP SYN from another client advances the capture clock.
    let clock = |port| tcp_packet(&seg("10.9.9.9", port, SERVER, 80, SYN, 1, 0, 0));
    for restore in [false, true] {
        let mut tracker = Tracker::new(config);
        tracker.process(ts(0), &sctp(CLIENT, 2905, SERVER, 36412, 20));
        if restore {
            tracker = Tracker::restore(config, &tracker.snapshot()).expect("restore");
        }
        tracker.process(ts(9_000), &clock(1));
        assert_eq!(finished_protocols(&mut tracker), [], "restore {restore}");
        tracker.process(ts(11_000), &clock(2));
        assert_eq!(finished_protocols(&mut tracker), [132], "restore {restore}");
    }
}

#[test]
fn restored_sctp_flow_continues() {
    let mut tracker = Tracker::new(all_records());
    tracker.process(ts(0), &sctp(CLIENT, 2905, SERVER, 36412, 20));
    let mut restored = Tracker::restore(all_records(), &tracker.snapshot()).expect("restore");
    let outcome = restored.process(ts(1), &sctp(SERVER, 36412, CLIENT, 2905, 16));
    restored.finish();
    let records: Vec<_> = restored.drain_finished().collect();

    assert_eq!(outcome.direction, Direction::ToClient);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].client.port, 2905);
    assert_eq!(records[0].server.port, 36412);
    assert_eq!(records[0].out.packets, 1);
    assert_eq!(records[0].inbound.packets, 1);
}

/// An SCTP flow saved with ports 0 and 0, as versions that did not decode SCTP
/// saved it, still restores. It matches no new packet and ends on its own.
#[test]
fn sctp_flow_without_ports_restores() {
    let mut tracker = Tracker::new(all_records());
    tracker.process(ts(0), &sctp(CLIENT, 2905, SERVER, 36412, 20));
    let mut snapshot = tracker.snapshot();
    snapshot.flows[0].client.port = 0;
    snapshot.flows[0].server.port = 0;
    let mut restored = Tracker::restore(all_records(), &snapshot).expect("restore");
    restored.process(ts(1), &sctp(CLIENT, 2905, SERVER, 36412, 20));
    restored.finish();
    let records: Vec<_> = restored.drain_finished().collect();

    let ports: Vec<(u16, u16)> = records
        .iter()
        .map(|record| (record.client.port, record.server.port))
        .collect();
    assert_eq!(ports, [(0, 0), (2905, 36412)]);
    assert_eq!(records[0].out.packets, 1);
    assert_eq!(records[1].out.packets, 1);
}

fn icmpv6_echo(src: &str, dst: &str, icmp_type: u8, echo_id: u16) -> Decoded {
    let info = IcmpInfo {
        icmp_type,
        code: 0,
        v6: true,
        echo_id: Some(echo_id),
    };
    datagram(58, src, dst, Transport::Icmp(info), 56)
}

/// Returns the protocols of the records finished so far, in the order they ended.
fn finished_protocols(tracker: &mut Tracker) -> Vec<u8> {
    tracker
        .drain_finished()
        .map(|record| {
            assert_eq!(record.end_reason, EndReason::IdleTimeout, "{record:?}");
            record.protocol
        })
        .collect()
}

/// Feeds an ICMP, an ICMPv6 and an ESP flow at 0 s into `tracker`, or into
/// a tracker restored from a snapshot taken after them if `restore` is set.
fn start_icmp_and_esp(config: TrackerConfig, restore: bool) -> Tracker {
    let mut tracker = Tracker::new(config);
    tracker.process(ts(0), &icmp(CLIENT, SERVER, 8, Some(7)));
    tracker.process(ts(0), &icmpv6_echo("2001:db8::1", "2001:db8::2", 128, 9));
    tracker.process(ts(0), &esp(CLIENT, SERVER));
    if restore {
        tracker = Tracker::restore(config, &tracker.snapshot()).expect("restore");
    }
    tracker
}

#[test]
fn icmp_and_other_own_timeouts() {
    // A TCP SYN from another client advances the capture clock.
    let clock = |port| tcp_packet(&seg("10.9.9.9", port, SERVER, 80, SYN, 1, 0, 0));
    for restore in [false, true] {
        let config = TrackerConfig {
            icmp_idle_timeout: 10_000_000_000,
            other_idle_timeout: 30_000_000_000,
            ..all_records()
        };
        let mut tracker = start_icmp_and_esp(config, restore);
        tracker.process(ts(9_000), &clock(1));
        assert_eq!(finished_protocols(&mut tracker), [], "restore {restore}");
        tracker.process(ts(15_000), &clock(2));
        assert_eq!(
            finished_protocols(&mut tracker),
            [1, 58],
            "restore {restore}"
        );
        tracker.process(ts(29_000), &clock(3));
        assert_eq!(finished_protocols(&mut tracker), [], "restore {restore}");
        tracker.process(ts(35_000), &clock(4));
        assert_eq!(finished_protocols(&mut tracker), [50], "restore {restore}");

        let config = TrackerConfig {
            icmp_idle_timeout: 30_000_000_000,
            other_idle_timeout: 10_000_000_000,
            ..all_records()
        };
        let mut tracker = start_icmp_and_esp(config, restore);
        tracker.process(ts(15_000), &clock(1));
        assert_eq!(finished_protocols(&mut tracker), [50], "restore {restore}");
        tracker.process(ts(35_000), &clock(2));
        assert_eq!(
            finished_protocols(&mut tracker),
            [1, 58],
            "restore {restore}"
        );
    }
}

#[test]
fn icmp_records_without_other() {
    let config = TrackerConfig {
        records: RecordProtocols {
            tcp: false,
            udp: false,
            icmp: true,
            other: false,
        },
        ..TrackerConfig::default()
    };
    let records = run_packets(
        config,
        &[
            icmp(CLIENT, SERVER, 8, Some(7)),
            esp(CLIENT, SERVER),
            icmpv6_echo("2001:db8::1", "2001:db8::2", 128, 9),
            esp(SERVER, CLIENT),
        ],
    );
    let protocols: Vec<u8> = records.iter().map(|record| record.protocol).collect();
    assert_eq!(protocols, [1, 58]);
    assert_eq!(records[0].icmp.and_then(|icmp| icmp.echo_id), Some(7));
}

#[test]
fn other_records_without_icmp() {
    let config = TrackerConfig {
        records: RecordProtocols {
            tcp: false,
            udp: false,
            icmp: false,
            other: true,
        },
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    let echo = tracker.process(ts(0), &icmp(CLIENT, SERVER, 8, Some(7)));
    let reply = tracker.process(ts(1), &icmp(SERVER, CLIENT, 0, Some(7)));
    tracker.process(ts(2), &esp(CLIENT, SERVER));
    tracker.process(ts(3), &esp(SERVER, CLIENT));
    tracker.finish();
    let records: Vec<_> = tracker.drain_finished().collect();
    let protocols: Vec<u8> = records.iter().map(|record| record.protocol).collect();
    assert_eq!(protocols, [50]);
    assert_eq!(records[0].inbound.packets, 1);
    // ICMP flows are still tracked, keyed by the addresses, for the directions.
    assert_eq!(echo.direction, Direction::ToServer);
    assert_eq!(reply.direction, Direction::ToClient);
}

#[test]
fn interim_records_cumulative() {
    let config = TrackerConfig {
        interim: Some(10 * 1_000_000_000),
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    let mut records = Vec::new();
    // One data segment every 4 s for 26 s.
    tracker.process(ts(0), &tcp_packet(&c2s(SYN, 1000, 0, 0)));
    for i in 0..7u32 {
        let packet = tcp_packet(&c2s(PSH | ACK, 1001 + i * 10, 0, 10));
        tracker.process(ts(i64::from(i) * 4000 + 1), &packet);
        records.extend(tracker.drain_finished());
    }
    tracker.finish();
    records.extend(tracker.drain_finished());

    let reasons: Vec<_> = records.iter().map(|record| record.end_reason).collect();
    assert_eq!(
        reasons,
        [
            EndReason::Interim,
            EndReason::Interim,
            EndReason::EndOfInput
        ]
    );
    // The record due at 10 s comes with the packet at 12 s, which it includes.
    assert_eq!(records[0].out.packets, 4);
    assert_eq!(records[1].out.packets, 6);
    assert_eq!(records[2].out.packets, 8);
    assert_eq!(records[2].out.stream_bytes, 70);
    assert_eq!(tracker.stats().interim_records, 2);
}

#[test]
fn tunnel_kept_from_first_packet() {
    let tunnel = TunnelInfo {
        kind: TunnelKind::Vxlan,
        src: "192.0.2.1".parse().unwrap(),
        dst: "192.0.2.2".parse().unwrap(),
        id: Some(42),
    };
    let first = Decoded {
        tunnel: Some(tunnel),
        ..tcp_packet(&c2s(SYN, 1000, 0, 0))
    };
    let records = run_packets(
        TrackerConfig::default(),
        &[first, tcp_packet(&s2c(SYN | ACK, 5000, 1001, 0))],
    );
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].tunnel, Some(tunnel));
}

/// Builds a closed connection, a lossy one across the sequence wrap, UDP and
/// ICMP, spread over minutes so that interim records and timeouts interleave.
fn lossy_script() -> Vec<(i64, Decoded)> {
    let mut packets: Vec<(i64, Decoded)> = full_connection(1000, 5000)
        .iter()
        .enumerate()
        .map(|(i, seg)| (i as i64 * 3_000, tcp_packet(seg)))
        .collect();
    packets.push((30_000, udp(CLIENT, 5353, SERVER, 53, 30)));
    packets.push((31_000, udp(SERVER, 53, CLIENT, 5353, 90)));
    let mut at = 40_000;
    let segs = [
        c2s(SYN, 0xFFFF_FF00, 0, 0),
        s2c(SYN | ACK, 10, 0xFFFF_FF01, 0),
        c2s(PSH | ACK, 0xFFFF_FF01, 11, 300),
        c2s(PSH | ACK, 0x0000_0131, 11, 100),
        c2s(PSH | ACK, 0xFFFF_FF01, 11, 300),
        s2c(ACK, 11, 0x0000_0195, 0),
        c2s(PSH | ACK, 0x0000_002D, 11, 100),
    ];
    for (i, seg) in segs.iter().enumerate() {
        at += 7_000 * i as i64;
        packets.push((at, tcp_packet(seg)));
    }
    packets.push((at + 1, icmp(CLIENT, SERVER, 8, Some(1))));
    packets.push((at + 2, icmp(SERVER, CLIENT, 0, Some(1))));
    packets
}

#[test]
fn restored_tracker_continues_new_state() {
    let packets = lossy_script();
    let config = TrackerConfig {
        interim: Some(5 * 1_000_000_000),
        ..all_records()
    };
    let whole = run_split(config, &packets, usize::MAX);
    assert!(
        whole.0.iter().any(|record| record.out.missed_bytes > 0),
        "the script loses a segment: {:?}",
        whole.0
    );
    assert!(
        whole
            .0
            .iter()
            .any(|record| record.end_reason == EndReason::Interim),
        "the script makes interim records"
    );
    for split in 0..=packets.len() {
        let pieces = run_split(config, &packets, split);
        assert_eq!(
            pieces.0, whole.0,
            "records differ when split before packet {split}"
        );
    }
}
