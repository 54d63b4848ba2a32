//! Property tests: no input makes `decode` panic, the lengths it returns agree, and
//! the fast path agrees with the general decoder.

use proptest::prelude::*;

use crate::general::decode_general;
use crate::test_packets::*;
use crate::{
    decode, decode_with, linktype, DecodeOptions, Decoded, Layer, StopReason, Transport, TunnelKind,
};

/// Every supported link type, plus two unsupported ones.
const LINKTYPES: [u32; 17] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::PPP,
    linktype::RAW_12,
    linktype::RAW_14,
    linktype::PPP_HDLC,
    linktype::PPP_ETHER,
    linktype::RAW,
    linktype::C_HDLC,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::NFLOG,
    linktype::LINUX_SLL2,
    105,
    u32::MAX,
];

/// Valid packets that reach every decoder, for the mutation test.
fn templates() -> Vec<(u32, Vec<u8>)> {
    let tcp_v4 = ipv4_with_options(
        PROTO_TCP,
        &[1, 1, 1, 1],
        &tcp(TcpFields::default(), &TIMESTAMP_OPTIONS, &[0x61; 30]),
    );
    let mut chain = ipv6_options_header(44, 8);
    chain.extend(ipv6_fragment_header(PROTO_TCP, 0, true));
    chain.extend(tcp(TcpFields::default(), &SYN_OPTIONS, &[]));
    let tcp_v6 = ipv6(0, &chain);
    let udp_v4 = ipv4(PROTO_UDP, &udp(53, 5353, &[0; 12]));
    let sctp_v6 = ipv6(PROTO_SCTP, &sctp(2905, 36412, &[0; 16]));
    let icmp_v6 = ipv6(58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    let mut null_v6 = 30u32.to_le_bytes().to_vec();
    null_v6.extend_from_slice(&icmp_v6);

    let mut templates = vec![
        (
            linktype::ETHERNET,
            ethernet_tagged(&[(0x88a8, 100), (0x8100, 200)], ETHERTYPE_IPV4, &tcp_v4),
        ),
        (linktype::ETHERNET, ethernet(ETHERTYPE_IPV6, &tcp_v6)),
        (linktype::LINUX_SLL, sll(&SRC_MAC, ETHERTYPE_IPV4, &udp_v4)),
        (
            linktype::LINUX_SLL2,
            sll2(&SRC_MAC, ETHERTYPE_IPV6, &tcp_v6),
        ),
        (linktype::NULL, null_v6),
        (linktype::RAW, tcp_v4.clone()),
        (linktype::IPV6, tcp_v6.clone()),
        (linktype::IPV6, sctp_v6),
    ];
    templates.extend(encapsulation_templates(&tcp_v4, &tcp_v6));
    templates
}

/// Valid packets with link layers, encapsulations and tunnels that only the general
/// decoder follows.
fn encapsulation_templates(tcp_v4: &[u8], tcp_v6: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let inner_frame = inner_ethernet(ETHERTYPE_IPV4, tcp_v4);
    let gre_fields = GreFields {
        checksum: true,
        key: Some(9),
        sequence: Some(1),
    };
    let mut hdlc_ppp = vec![0xff, 0x03];
    hdlc_ppp.extend_from_slice(&PPP_IPV6.to_be_bytes());
    hdlc_ppp.extend_from_slice(tcp_v6);
    let mut chdlc = vec![0x0f, 0x00, 0x08, 0x00];
    chdlc.extend_from_slice(tcp_v4);
    let geneve_udp = udp(
        1,
        6081,
        &geneve(5, 0x6558, &[0, 1, 0x80, 1, 0, 0, 0, 7], &inner_frame),
    );
    let teredo_udp = udp(3544, 40000, tcp_v6_packet_with(tcp_v6).as_slice());

    vec![
        (
            linktype::ETHERNET,
            ethernet_tagged(&[(0x8100, 7)], ETHERTYPE_MPLS, &mpls(&[16, 17], tcp_v4)),
        ),
        (
            linktype::ETHERNET,
            ethernet_tagged(
                &[(0x8100, 7)],
                ETHERTYPE_PPPOE_SESSION,
                &pppoe_session(PPP_IPV4, tcp_v4),
            ),
        ),
        (linktype::PPP, hdlc_ppp.clone()),
        (linktype::PPP_HDLC, hdlc_ppp),
        (linktype::C_HDLC, chdlc),
        (
            linktype::NFLOG,
            nflog(2, &[(1, &[0, 0, 3, 0]), (10, b"x"), (9, tcp_v4)]),
        ),
        (
            linktype::ETHERNET,
            ethernet(
                ETHERTYPE_IPV4,
                &outer_ipv4(PROTO_GRE, &gre(gre_fields, ETHERTYPE_IPV4, tcp_v4)),
            ),
        ),
        (
            linktype::ETHERNET,
            ethernet(
                ETHERTYPE_IPV4,
                &outer_ipv4(
                    PROTO_GRE,
                    &gre(
                        GreFields {
                            sequence: Some(3),
                            ..GreFields::default()
                        },
                        ETHERTYPE_ERSPAN_TYPE_3,
                        &erspan_type_3(77, 0, true, &inner_frame),
                    ),
                ),
            ),
        ),
        (
            linktype::ETHERNET,
            ethernet(
                ETHERTYPE_IPV4,
                &outer_ipv4(PROTO_UDP, &udp(1, 4789, &vxlan(42, &inner_frame))),
            ),
        ),
        (linktype::RAW, outer_ipv6(PROTO_UDP, &geneve_udp)),
        (linktype::RAW, outer_ipv4(PROTO_UDP, &teredo_udp)),
        (linktype::RAW, outer_ipv6(PROTO_IPV4_IN_IP, tcp_v4)),
    ]
}

/// Returns `tcp_v6` after a Teredo origin indication.
fn tcp_v6_packet_with(tcp_v6: &[u8]) -> Vec<u8> {
    let mut payload = vec![0, 0, 0x0d, 0x80, 0x3f, 0xff, 0xfd, 0xfe];
    payload.extend_from_slice(tcp_v6);
    payload
}

/// Checks that the layers and lengths of `decoded` agree with each other and with the
/// `captured` bytes that `decode` read under `linktype`.
fn check_consistent(linktype: u32, captured: usize, decoded: &Decoded) {
    check_layers(linktype, decoded);
    check_vlans(decoded);
    check_tunnel_and_fragment(decoded);

    if let Some(ip) = decoded.ip {
        let min_header = if ip.src.is_ipv4() { 20 } else { 40 };
        assert!(ip.header_len >= min_header, "{decoded:?}");
        assert!(ip.header_len <= ip.total_len, "{decoded:?}");
        assert!(ip.header_len as usize <= captured, "{decoded:?}");
        assert!(
            ip.total_len as usize <= captured.max(65535 + 40),
            "{decoded:?}"
        );
        assert!(
            !(ip.is_first_fragment && ip.is_later_fragment),
            "{decoded:?}"
        );
        assert_eq!(ip.src.is_ipv4(), ip.dst.is_ipv4(), "{decoded:?}");
    }

    let ip_payload = decoded.ip.map(|ip| ip.total_len - ip.header_len);
    match decoded.transport {
        Transport::Tcp(tcp) => {
            assert!((20..=60).contains(&tcp.header_len), "{decoded:?}");
            // A first fragment may end inside the TCP header, whose rest follows
            // in the next fragment.
            let first_fragment = decoded.ip.is_some_and(|ip| ip.is_first_fragment);
            assert!(
                tcp.header_len <= tcp.segment_len || first_fragment,
                "{decoded:?}"
            );
            assert!(tcp.segment_len >= 16, "{decoded:?}");
            assert_eq!(
                tcp.payload_len,
                tcp.segment_len.saturating_sub(tcp.header_len),
                "{decoded:?}"
            );
            assert_eq!(Some(tcp.segment_len), ip_payload, "{decoded:?}");
        }
        Transport::Udp(udp) => {
            assert!(udp.datagram_len >= 8, "{decoded:?}");
            assert_eq!(Some(udp.datagram_len), ip_payload, "{decoded:?}");
        }
        Transport::Sctp(sctp) => {
            assert!(sctp.packet_len >= 12, "{decoded:?}");
            assert_eq!(Some(sctp.packet_len), ip_payload, "{decoded:?}");
        }
        Transport::Icmp(_) => assert!(ip_payload >= Some(4), "{decoded:?}"),
        Transport::None => {}
    }
}

/// Checks which layers are present for the stop reason and link type.
fn check_layers(linktype: u32, decoded: &Decoded) {
    let has_transport = decoded.transport != Transport::None;
    assert_eq!(decoded.stop.is_none(), has_transport, "{decoded:?}");

    match decoded.stop.map(StopReason::layer) {
        Some(Layer::Link) => assert_eq!(decoded.ip, None, "{decoded:?}"),
        Some(Layer::Ip) => {
            let is_fragment = decoded.stop == Some(StopReason::Fragment);
            assert_eq!(decoded.ip.is_some(), is_fragment, "{decoded:?}");
            if let Some(ip) = decoded.ip {
                assert!(ip.is_later_fragment, "{decoded:?}");
                assert!(decoded.fragment.is_some(), "{decoded:?}");
            }
        }
        Some(Layer::Transport) | None => assert!(decoded.ip.is_some(), "{decoded:?}"),
        Some(Layer::Tunnel) => {
            assert_eq!(decoded.ip, None, "{decoded:?}");
            assert!(decoded.tunnel.is_some(), "{decoded:?}");
        }
    }

    if !linktype::is_supported(linktype) {
        let unsupported = Decoded {
            stop: Some(StopReason::UnsupportedLinkType),
            ..Decoded::default()
        };
        assert_eq!(*decoded, unsupported);
    }
    // Only an Ethernet frame inside a tunnel brings MAC addresses to other link types.
    if linktype != linktype::ETHERNET && decoded.tunnel.is_none() {
        assert_eq!(decoded.dst_mac, None, "{decoded:?}");
    }
    let has_link_address = matches!(
        linktype,
        linktype::ETHERNET | linktype::LINUX_SLL | linktype::LINUX_SLL2
    );
    if !has_link_address && decoded.tunnel.is_none() {
        assert_eq!(decoded.src_mac, None, "{decoded:?}");
    }
}

/// Checks the tunnel and fragment fields.
fn check_tunnel_and_fragment(decoded: &Decoded) {
    if let Some(tunnel) = decoded.tunnel {
        assert_eq!(tunnel.src.is_ipv4(), tunnel.dst.is_ipv4(), "{decoded:?}");
        let id_limit = match tunnel.kind {
            TunnelKind::Vxlan | TunnelKind::Geneve => Some(1 << 24),
            TunnelKind::Erspan => Some(1 << 10),
            TunnelKind::Gre => None,
            _ => Some(0),
        };
        if let (Some(limit), Some(id)) = (id_limit, tunnel.id) {
            assert!(id < limit, "{decoded:?}");
        }
    }
    if let Some(fragment) = decoded.fragment {
        assert_eq!(fragment.offset % 8, 0, "{decoded:?}");
        assert!(
            fragment.offset != 0 || fragment.more_fragments,
            "{decoded:?}"
        );
        assert_eq!(
            fragment.src.is_ipv4(),
            fragment.dst.is_ipv4(),
            "{decoded:?}"
        );
        if fragment.src.is_ipv4() {
            assert!(fragment.id <= u32::from(u16::MAX), "{decoded:?}");
        }
    }
    if decoded
        .ip
        .is_some_and(|ip| ip.is_first_fragment || ip.is_later_fragment)
    {
        assert!(decoded.fragment.is_some(), "{decoded:?}");
    }
}

/// Checks that the fast path agrees with the general decoder, and that decoding
/// without decapsulation reports no tunnel.
fn check_paths_agree(linktype: u32, data: &[u8]) {
    for options in [
        DecodeOptions::new(),
        DecodeOptions::new().with_decapsulate(false),
        DecodeOptions::new().with_whole_frame(true),
    ] {
        let fast = decode_with(linktype, data, &options);
        let general = decode_general(linktype, data, &options);
        assert_eq!(fast, general, "options {options:?}");
        if !options.decapsulate {
            assert_eq!(fast.tunnel, None, "{fast:?}");
        }
    }
}

fn check_vlans(decoded: &Decoded) {
    let vlans = decoded.vlans;
    assert!(vlans.count <= crate::ethernet::MAX_VLAN_TAGS, "{decoded:?}");
    for (index, id) in vlans.ids.into_iter().enumerate() {
        assert!(id <= 0x0fff, "{decoded:?}");
        if index >= usize::from(vlans.count) {
            assert_eq!(id, 0, "{decoded:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn random_bytes_never_panic(
        linktype in proptest::sample::select(LINKTYPES.to_vec()),
        data in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let decoded = decode(linktype, &data);
        check_consistent(linktype, data.len(), &decoded);
        check_paths_agree(linktype, &data);
    }

    #[test]
    fn mutated_packets_stay_consistent(
        template in proptest::sample::select(templates()),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let (linktype, mut packet) = template;
        for (index, byte) in edits {
            let position = index.index(packet.len());
            if let Some(slot) = packet.get_mut(position) {
                *slot = byte;
            }
        }
        let len = cut.index(packet.len() + 1);
        let captured = packet.get(..len).unwrap();

        let decoded = decode(linktype, captured);
        check_consistent(linktype, captured.len(), &decoded);
        check_paths_agree(linktype, captured);
    }
}
