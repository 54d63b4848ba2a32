//! Property test: a tracker's run split anywhere, with its state carried through
//! `Tracker::snapshot`, a flow-cache file (`encode` and `decode`) and
//! `Tracker::restore`, gives the same records and packet outcomes as one run.
//!
//! The packets are TCP segments, UDP datagrams, ICMP messages and ESP packets between
//! endpoints of a small pool, so that they often share flows. They have any flags and sequence numbers. Their times
//! step forwards, backwards, past every timeout and past the one-day clock jump. Small
//! tables make flows get evicted. One packet in five is an IP fragment of one of a few
//! datagrams per address pair, so that the fragment table is saved with first
//! fragments seen and later ones waiting. Half of the first fragments of TCP
//! segments are too short for the header and wait to be joined with the fragment
//! at offset 8.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::sample::Index;
use wsd_capture::Timestamp;
use wsd_decode::{
    Decoded, FragmentHead, FragmentInfo, IcmpInfo, IpInfo, MacAddr, StopReason, TcpFlags, TcpInfo,
    Transport, UdpInfo, Vlans,
};
use wsd_flow::{FlowRecord, PacketOutcome, RecordProtocols, Tracker, TrackerConfig};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Time of the first packet: 1,700,000,000 s after the epoch.
const START: Timestamp = Timestamp::from_nanos(1_700_000_000 * NANOS_PER_SEC);

/// Hosts of the generated packets. A packet's two hosts are of one address family.
const V4_HOSTS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(10, 0, 0, 2),
    Ipv4Addr::new(192, 0, 2, 7),
];
const V6_HOSTS: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
];

/// Ports of the generated packets: well-known and ephemeral ones.
const PORTS: [u16; 5] = [80, 443, 53, 40000, 40001];

/// Flag combinations of real connections. Any other byte is generated too.
const FLAGS: [u8; 9] = [
    TcpFlags::SYN,
    TcpFlags::SYN | TcpFlags::ACK,
    TcpFlags::ACK,
    TcpFlags::PSH | TcpFlags::ACK,
    TcpFlags::FIN | TcpFlags::ACK,
    TcpFlags::FIN,
    TcpFlags::RST,
    TcpFlags::RST | TcpFlags::ACK,
    0,
];

/// Sequence and acknowledgment numbers that make repeated and new SYNs likely. Any
/// other number is generated too.
const SEQUENCE_NUMBERS: [u32; 5] = [0, 1, 1000, 1001, u32::MAX];

/// One generated packet and the time step before it.
#[derive(Clone, Debug)]
struct Step {
    gap_nanos: i64,
    packet: Decoded,
}

fn time_gap() -> impl Strategy<Value = i64> {
    // The steps to the ends of the `Timestamp` range leave the clock there for the rest
    // of the run, so they are rare.
    prop_oneof![
        300 => 0..2_000 * 1_000_000i64,
        100 => -5 * NANOS_PER_SEC..0,
        100 => 5 * NANOS_PER_SEC..700 * NANOS_PER_SEC,
        8 => 86_400 * NANOS_PER_SEC..3 * 86_400 * NANOS_PER_SEC,
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
    ]
}

fn sequence_number() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => proptest::sample::select(SEQUENCE_NUMBERS.to_vec()),
        1 => any::<u32>(),
    ]
}

fn addresses() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    let v4 = (
        proptest::sample::select(V4_HOSTS.to_vec()),
        proptest::sample::select(V4_HOSTS.to_vec()),
    )
        .prop_map(|(src, dst)| (IpAddr::V4(src), IpAddr::V4(dst)));
    let v6 = (
        proptest::sample::select(V6_HOSTS.to_vec()),
        proptest::sample::select(V6_HOSTS.to_vec()),
    )
        .prop_map(|(src, dst)| (IpAddr::V6(src), IpAddr::V6(dst)));
    prop_oneof![3 => v4, 1 => v6]
}

fn link_layer() -> impl Strategy<Value = (Option<MacAddr>, Option<MacAddr>, Vlans)> {
    let mac = prop::option::weighted(
        0.9,
        (1..4u8).prop_map(|last| MacAddr([2, 0, 0, 0, 0, last])),
    );
    let vlans = prop_oneof![
        4 => Just(Vlans::default()),
        1 => (1..3u16).prop_map(|id| Vlans { ids: [id * 100, 0], count: 1 }),
    ];
    (mac.clone(), mac, vlans)
}

fn transport(header_len: u32) -> impl Strategy<Value = (u8, Transport, u32)> {
    let ports = (
        proptest::sample::select(PORTS.to_vec()),
        proptest::sample::select(PORTS.to_vec()),
    );
    let flags = prop_oneof![
        4 => proptest::sample::select(FLAGS.to_vec()),
        1 => any::<u8>(),
    ];
    let tcp = (
        ports.clone(),
        flags,
        sequence_number(),
        sequence_number(),
        prop_oneof![0..2u32, 1..1461u32],
        prop_oneof![Just(20u32), Just(32), Just(40)],
    )
        .prop_map(
            move |((src_port, dst_port), flags, seq, ack, payload_len, tcp_len)| {
                let segment_len = tcp_len + payload_len;
                let tcp = TcpInfo {
                    src_port,
                    dst_port,
                    seq,
                    ack,
                    flags: TcpFlags(flags),
                    window: 65535,
                    header_len: tcp_len,
                    segment_len,
                    payload_len,
                };
                (6, Transport::Tcp(tcp), header_len + segment_len)
            },
        );
    let udp = (ports, 0..1473u32).prop_map(move |((src_port, dst_port), payload_len)| {
        let datagram_len = 8 + payload_len;
        let udp = UdpInfo {
            src_port,
            dst_port,
            datagram_len,
        };
        (17, Transport::Udp(udp), header_len + datagram_len)
    });
    // Echo requests and replies (types 8 and 0, 128 and 129 in ICMPv6) with
    // one of two identifiers, and destination unreachable messages.
    let v6 = header_len == 40;
    let icmp = (0..3u8, 1..3u16, 0..100u32).prop_map(move |(kind, id, payload_len)| {
        let (icmp_type, echo_id) = match (kind, v6) {
            (0, false) => (8, Some(id)),
            (1, false) => (0, Some(id)),
            (0, true) => (128, Some(id)),
            (1, true) => (129, Some(id)),
            (_, false) => (3, None),
            (_, true) => (1, None),
        };
        let icmp = IcmpInfo {
            icmp_type,
            code: 3,
            v6,
            echo_id,
        };
        let protocol = if v6 { 58 } else { 1 };
        (
            protocol,
            Transport::Icmp(icmp),
            header_len + 8 + payload_len,
        )
    });
    // ESP (IP protocol 50), which the decoder leaves without a transport header.
    let esp = (8..200u32).prop_map(move |len| (50, Transport::None, header_len + len));
    prop_oneof![8 => tcp, 2 => udp, 1 => icmp, 1 => esp]
}

fn step() -> impl Strategy<Value = Step> {
    let unfragmented = (addresses(), link_layer(), time_gap())
        .prop_flat_map(|((src, dst), link, gap_nanos)| {
            let header_len = if src.is_ipv4() { 20 } else { 40 };
            (
                Just((src, dst)),
                Just(link),
                Just(gap_nanos),
                transport(header_len),
            )
        })
        .prop_map(
            |((src, dst), (src_mac, dst_mac, vlans), gap_nanos, upper)| {
                let (protocol, transport, total_len) = upper;
                let ip = IpInfo {
                    src,
                    dst,
                    protocol,
                    total_len,
                    header_len: if src.is_ipv4() { 20 } else { 40 },
                    is_later_fragment: false,
                    is_first_fragment: false,
                };
                Step {
                    gap_nanos,
                    packet: Decoded {
                        src_mac,
                        dst_mac,
                        vlans,
                        ip: Some(ip),
                        transport,
                        ..Decoded::default()
                    },
                }
            },
        )
        .boxed();
    // A few identifications, offsets and flags, so that fragments of one datagram
    // meet often, arrive in any order and complete some datagrams.
    let fragment = (0..3u32, 0..4u16, any::<bool>(), any::<bool>());
    prop_oneof![
        4 => unfragmented.clone(),
        1 => (unfragmented, fragment).prop_map(|(step, fragment)| as_fragment(step, fragment)),
    ]
}

/// Turns a step's packet into an IP fragment of datagram `id`, at `offset_units`
/// times 8 bytes. A later fragment loses its transport header, as decoding stops
/// there. With `tiny`, a first fragment of a TCP segment keeps only the first 8
/// bytes of its header and waits to be joined, as a decoded tiny fragment does.
/// Every later fragment carries 8 data bytes: bytes 8 to 15 of its step's TCP
/// header, or zeros, whose data offset of 0 makes the join fail.
fn as_fragment(
    mut step: Step,
    (id, offset_units, more_fragments, tiny): (u32, u16, bool, bool),
) -> Step {
    let Some(mut ip) = step.packet.ip else {
        return step;
    };
    let offset = 8 * offset_units;
    let header = tcp_header_bytes(step.packet.transport);
    let mut fragment = FragmentInfo {
        src: ip.src,
        dst: ip.dst,
        protocol: ip.protocol,
        id,
        offset,
        more_fragments,
        data_len: ip.total_len - ip.header_len,
        head: FragmentHead::new(&header),
    };
    let is_tcp = matches!(step.packet.transport, Transport::Tcp(_));
    if offset == 0 && tiny && is_tcp {
        ip.is_first_fragment = true;
        ip.total_len = ip.header_len + 8;
        fragment.data_len = 8;
        fragment.head = FragmentHead::new(&header[..8]);
        step.packet.transport = Transport::None;
        step.packet.stop = Some(StopReason::TinyFragment);
    } else if offset == 0 {
        ip.is_first_fragment = true;
    } else {
        ip.is_later_fragment = true;
        ip.total_len = ip.header_len + 8;
        fragment.data_len = 8;
        fragment.head = FragmentHead::new(&header[8..]);
        step.packet.transport = Transport::None;
        step.packet.stop = Some(StopReason::Fragment);
    }
    step.packet.fragment = Some(fragment);
    step.packet.ip = Some(ip);
    step
}

/// Returns the first 16 bytes of the TCP header of `transport`, or zeros for
/// another protocol.
fn tcp_header_bytes(transport: Transport) -> [u8; 16] {
    let mut bytes = [0; 16];
    if let Transport::Tcp(tcp) = transport {
        bytes[0..2].copy_from_slice(&tcp.src_port.to_be_bytes());
        bytes[2..4].copy_from_slice(&tcp.dst_port.to_be_bytes());
        bytes[4..8].copy_from_slice(&tcp.seq.to_be_bytes());
        bytes[8..12].copy_from_slice(&tcp.ack.to_be_bytes());
        bytes[12] = ((tcp.header_len / 4) as u8) << 4;
        bytes[13] = tcp.flags.0;
        bytes[14..16].copy_from_slice(&tcp.window.to_be_bytes());
    }
    bytes
}

fn config() -> impl Strategy<Value = TrackerConfig> {
    // ICMP and other protocols each get one of three timeouts, so that their
    // flows often leave the table in another order than they came.
    let timeouts = proptest::sample::select(vec![30, 60, 300]);
    (
        prop_oneof![3 => 1..6usize, 1 => Just(1_000_000)],
        any::<bool>(),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        prop_oneof![2 => Just(None), 1 => (1..30i64).prop_map(|secs| Some(secs * 1_000_000_000))],
        (timeouts.clone(), timeouts),
    )
        .prop_map(
            |(
                max_flows,
                vlan_in_key,
                (beyond_tcp, icmp, other),
                interim,
                (icmp_secs, other_secs),
            )| TrackerConfig {
                max_flows,
                vlan_in_key,
                records: if beyond_tcp {
                    RecordProtocols {
                        tcp: true,
                        udp: true,
                        icmp,
                        other,
                    }
                } else {
                    RecordProtocols::TCP_ONLY
                },
                icmp_idle_timeout: icmp_secs * NANOS_PER_SEC,
                other_idle_timeout: other_secs * NANOS_PER_SEC,
                interim,
                ..TrackerConfig::default()
            },
        )
}

/// Records and packet outcomes of one run.
type RunOutput = (Vec<FlowRecord>, Vec<PacketOutcome>);

/// Runs `steps` through a tracker. Before each packet whose index is in `splits`, the
/// tracker is replaced by one restored from its snapshot after a round trip through the
/// flow-cache format. A split equal to the number of packets does this after the last.
fn run(config: TrackerConfig, steps: &[Step], splits: &[usize]) -> RunOutput {
    let mut tracker = Tracker::new(config);
    let mut records = Vec::new();
    let mut outcomes = Vec::new();
    let mut clock = START;
    for (index, step) in steps.iter().enumerate() {
        for _ in splits.iter().filter(|&&split| split == index) {
            tracker = carry_over(&tracker);
            records.extend(tracker.drain_finished());
        }
        clock = clock.add_nanos(step.gap_nanos);
        outcomes.push(tracker.process(clock, &step.packet));
        records.extend(tracker.drain_finished());
    }
    if splits.contains(&steps.len()) {
        tracker = carry_over(&tracker);
        records.extend(tracker.drain_finished());
    }
    tracker.finish();
    records.extend(tracker.drain_finished());
    (records, outcomes)
}

fn carry_over(tracker: &Tracker) -> Tracker {
    let snapshot = tracker.snapshot();
    let bytes = wsd_flowcache::encode(&snapshot, "prop_tracker_split");
    let cache = wsd_flowcache::decode(&bytes).expect("a freshly encoded cache decodes");
    assert_eq!(cache.snapshot, snapshot, "the cache changed the snapshot");
    Tracker::restore(*tracker.config(), &cache.snapshot).expect("a tracker's snapshot restores")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn split_run_matches_one_run(
        config in config(),
        steps in prop::collection::vec(step(), 0..80),
        split_points in prop::collection::vec(any::<Index>(), 1..4),
    ) {
        let splits: Vec<usize> = split_points
            .iter()
            .map(|point| point.index(steps.len() + 1))
            .collect();
        let (whole_records, whole_outcomes) = run(config, &steps, &[]);
        let (split_records, split_outcomes) = run(config, &steps, &splits);
        prop_assert_eq!(split_outcomes, whole_outcomes, "outcomes, split before {:?}", splits);
        prop_assert_eq!(split_records, whole_records, "records, split before {:?}", splits);
    }
}
