//! Decodes the shared corpus captures of each link type, encapsulation and tunnel that
//! `wsd-decode` follows, and compares the result with Wireshark's `tshark`.
//!
//! The expected TCP packets are those that TShark 4.0.17 lists with IP reassembly off,
//! so that it decodes each frame on its own as `decode` does:
//!
//! ```text
//! tshark -o ip.defragment:FALSE -r FILE -Y tcp -T fields -E occurrence=l \
//!     -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport
//! ```
//!
//! `-E occurrence=l` keeps the last, innermost, address of a tunnelled packet. The ICMP
//! counts come from the same command with `-Y "icmp || icmpv6"`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use wsd_capture::{FileSource, PacketSource};
use wsd_decode::{decode, Decoded, StopReason, Transport, TunnelKind};

/// One direction of a TCP connection and its packet count: source address, source
/// port, destination address, destination port, packets.
type TcpDirection = (&'static str, u16, &'static str, u16, u64);

/// What a capture must decode to.
struct Expected {
    file: &'static str,
    packets: u64,
    /// How many packets stop early, by reason. Every other packet decodes fully.
    stops: &'static [(StopReason, u64)],
    /// How many packets report each outermost tunnel kind.
    tunnels: &'static [(TunnelKind, u64)],
    /// TCP packets by direction.
    tcp: &'static [TcpDirection],
    /// Packets whose innermost transport header is ICMP or ICMPv6.
    icmp_packets: u64,
}

/// What the decoder made of a capture, in the shape of [`Expected`].
#[derive(Debug, Default)]
struct Summary {
    packets: u64,
    stops: BTreeMap<StopReason, u64>,
    tunnels: BTreeMap<TunnelKind, u64>,
    tcp: BTreeMap<(IpAddr, u16, IpAddr, u16), u64>,
    icmp_packets: u64,
}

impl Summary {
    fn add(&mut self, decoded: &Decoded) {
        self.packets += 1;
        if let Some(reason) = decoded.stop {
            *self.stops.entry(reason).or_default() += 1;
        }
        if let Some(tunnel) = decoded.tunnel {
            *self.tunnels.entry(tunnel.kind).or_default() += 1;
        }
        match (decoded.ip, decoded.transport) {
            (Some(ip), Transport::Tcp(tcp)) => {
                let direction = (ip.src, tcp.src_port, ip.dst, tcp.dst_port);
                *self.tcp.entry(direction).or_default() += 1;
            }
            (_, Transport::Icmp(_)) => self.icmp_packets += 1,
            _ => {}
        }
    }
}

/// Returns the shared corpus folder beside the repository. A missing folder fails the
/// test with the path it was expected at, rather than letting the test pass without it.
fn corpus_dir() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "the shared corpus is missing: expected it in {} (a folder named shared beside \
         the repository)",
        dir.display()
    );
    dir.to_path_buf()
}

fn decode_file(path: &Path) -> Summary {
    let mut source = FileSource::open(path)
        .unwrap_or_else(|err| panic!("cannot open {}: {err}", path.display()));
    let mut summary = Summary::default();
    loop {
        match source.next_packet() {
            Ok(Some(packet)) => summary.add(&decode(packet.linktype, packet.data)),
            Ok(None) => break,
            Err(err) => panic!("cannot read {}: {err}", path.display()),
        }
    }
    summary
}

fn check(expected: &Expected) {
    let path = corpus_dir().join(expected.file);
    let summary = decode_file(&path);
    let file = expected.file;

    let stops: BTreeMap<StopReason, u64> = expected.stops.iter().copied().collect();
    let tunnels: BTreeMap<TunnelKind, u64> = expected.tunnels.iter().copied().collect();
    let tcp: BTreeMap<(IpAddr, u16, IpAddr, u16), u64> = expected
        .tcp
        .iter()
        .map(|&(src, src_port, dst, dst_port, packets)| {
            let src = src.parse().expect("source address");
            let dst = dst.parse().expect("destination address");
            ((src, src_port, dst, dst_port), packets)
        })
        .collect();

    assert_eq!(summary.packets, expected.packets, "{file}: packets");
    assert_eq!(summary.stops, stops, "{file}: stop reasons");
    assert_eq!(summary.tunnels, tunnels, "{file}: tunnels");
    assert_eq!(summary.tcp, tcp, "{file}: TCP packets by direction");
    assert_eq!(
        summary.icmp_packets, expected.icmp_packets,
        "{file}: ICMP packets"
    );
}

#[test]
fn erspan_tcp_matches_tshark() {
    // Despite its name, the capture contains GRE with transparent Ethernet bridging (GRE
    // protocol 0x6558) rather than ERSPAN headers. Large inner frames were fragmented
    // after encapsulation: the 16 first fragments still show the inner TCP header,
    // the 39 later ones stop at the outer IPv4 header. 10 inner frames are ARP.
    check(&Expected {
        file: "erspan_tcp.pcap",
        packets: 287,
        stops: &[(StopReason::Fragment, 39), (StopReason::NotIp, 10)],
        tunnels: &[(TunnelKind::Gre, 248)],
        tcp: &[
            ("192.168.69.10", 49162, "192.168.69.2", 80, 24),
            ("192.168.69.10", 49163, "192.168.69.2", 80, 14),
            ("192.168.69.10", 49164, "192.168.69.2", 80, 14),
            ("192.168.69.10", 49165, "192.168.69.2", 80, 16),
            ("192.168.69.10", 49166, "192.168.69.2", 80, 5),
            ("192.168.69.2", 80, "192.168.69.10", 49162, 8),
            ("192.168.69.2", 80, "192.168.69.10", 49163, 8),
            ("192.168.69.2", 80, "192.168.69.10", 49164, 7),
            ("192.168.69.2", 80, "192.168.69.10", 49165, 7),
            ("192.168.69.2", 80, "192.168.69.10", 49166, 3),
        ],
        icmp_packets: 84,
    });
}

#[test]
fn geneve_tcp_matches_tshark() {
    check(&Expected {
        file: "geneve_tcp.pcap",
        packets: 39,
        stops: &[],
        tunnels: &[(TunnelKind::Geneve, 39)],
        tcp: &[
            ("30.0.0.1", 22, "30.0.0.2", 51225, 16),
            ("30.0.0.2", 51225, "30.0.0.1", 22, 17),
        ],
        icmp_packets: 6,
    });
}

#[test]
fn gre_sample_matches_tshark() {
    check(&Expected {
        file: "gre_sample.pcap",
        packets: 40,
        stops: &[],
        tunnels: &[(TunnelKind::Gre, 40)],
        tcp: &[
            ("172.28.2.3", 22, "66.59.111.190", 40264, 10),
            ("66.59.111.190", 40264, "172.28.2.3", 22, 12),
        ],
        icmp_packets: 10,
    });
}

#[test]
fn vxlan_tcp_matches_tshark() {
    // The other 18 inner packets are DNS and NTP over UDP.
    check(&Expected {
        file: "vxlan_tcp.pcap",
        packets: 100,
        stops: &[],
        tunnels: &[(TunnelKind::Vxlan, 100)],
        tcp: &[
            ("172.31.0.238", 22, "18.196.145.224", 37180, 10),
            ("172.31.0.238", 22, "18.196.145.224", 37182, 10),
            ("172.31.0.238", 22, "18.196.145.224", 37184, 10),
            ("172.31.0.238", 22, "18.196.145.224", 37186, 8),
            ("18.196.145.224", 37180, "172.31.0.238", 22, 13),
            ("18.196.145.224", 37182, "172.31.0.238", 22, 11),
            ("18.196.145.224", 37184, "172.31.0.238", 22, 11),
            ("18.196.145.224", 37186, "172.31.0.238", 22, 9),
        ],
        icmp_packets: 0,
    });
}

#[test]
fn ip4in6_tcp_matches_tshark() {
    check(&Expected {
        file: "ip4in6_tcp.pcap",
        packets: 1,
        stops: &[],
        tunnels: &[(TunnelKind::IpInIp, 1)],
        tcp: &[("70.55.213.211", 31337, "192.88.99.1", 80, 1)],
        icmp_packets: 0,
    });
}

#[test]
fn ip6in4_icmpv6_matches_tshark() {
    check(&Expected {
        file: "ip6in4_icmpv6.pcap",
        packets: 10,
        stops: &[],
        tunnels: &[(TunnelKind::IpInIp, 10)],
        tcp: &[],
        icmp_packets: 10,
    });
}

#[test]
fn mpls_vlan_mixed_matches_tshark() {
    // MPLS and PPPoE are link-layer encapsulations, not tunnels.
    check(&Expected {
        file: "mpls_vlan_mixed.pcap",
        packets: 47,
        stops: &[],
        tunnels: &[],
        tcp: &[
            ("10.0.0.15", 80, "10.20.80.1", 50343, 7),
            ("10.1.2.1", 11001, "10.34.0.1", 23, 11),
            ("10.20.80.1", 50343, "10.0.0.15", 80, 7),
            ("125.190.109.199", 80, "141.42.64.125", 56730, 10),
            ("141.42.64.125", 56730, "125.190.109.199", 80, 12),
        ],
        icmp_packets: 0,
    });
}

#[test]
fn nflog_http_matches_tshark() {
    check(&Expected {
        file: "nflog_http.pcap",
        packets: 13,
        stops: &[],
        tunnels: &[],
        tcp: &[
            ("10.0.2.15", 49762, "93.184.216.34", 80, 8),
            ("93.184.216.34", 80, "10.0.2.15", 49762, 5),
        ],
        icmp_packets: 0,
    });
}

#[test]
fn ppp_fragmented_syn_stops_as_fragments() {
    // A SYN split into three fragments of 8 bytes. TShark shows the first fragment as
    // TCP 1.1.1.1:12345 -> 2.2.2.2:8080 although it holds only the ports and sequence
    // number. `decode` reports no TCP header it has not seen: the first fragment stops
    // as a tiny fragment, the two others as later fragments.
    check(&Expected {
        file: "ppp_ipv4_frag_tcp_syn.pcap",
        packets: 3,
        stops: &[(StopReason::TinyFragment, 1), (StopReason::Fragment, 2)],
        tunnels: &[],
        tcp: &[],
        icmp_packets: 0,
    });
}

#[test]
fn ppp_first_fragment_has_tshark_addresses() {
    let path = corpus_dir().join("ppp_ipv4_frag_tcp_syn.pcap");
    let mut source = FileSource::open(&path).expect("the capture opens");
    let packet = source
        .next_packet()
        .expect("the capture reads")
        .expect("the capture has a packet");
    let decoded = decode(packet.linktype, packet.data);
    let ip = decoded.ip.expect("the first fragment has an IP layer");
    let fragment = decoded
        .fragment
        .expect("the first fragment has fragment fields");

    assert_eq!(decoded.stop, Some(StopReason::TinyFragment));
    assert_eq!(ip.src.to_string(), "1.1.1.1");
    assert_eq!(ip.dst.to_string(), "2.2.2.2");
    assert!(ip.is_first_fragment);
    assert_eq!(fragment.id, 1);
    assert_eq!(fragment.offset, 0);
    assert!(fragment.more_fragments);
}

#[test]
fn pppoe_over_qinq_tcp_matches_tshark() {
    check(&Expected {
        file: "pppoe_over_qinq_tcp.pcap",
        packets: 86,
        stops: &[],
        tunnels: &[],
        tcp: &[
            ("1.1.1.1", 20394, "2.2.2.2", 443, 44),
            ("2.2.2.2", 443, "1.1.1.1", 20394, 42),
        ],
        icmp_packets: 0,
    });
}
