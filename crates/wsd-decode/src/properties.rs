//! Property tests: no input makes `decode` panic, and the lengths it returns agree.

use proptest::prelude::*;

use crate::test_packets::*;
use crate::{decode, linktype, Decoded, Layer, StopReason, Transport};

/// Every supported link type, plus two unsupported ones.
const LINKTYPES: [u32; 12] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::RAW_12,
    linktype::RAW_14,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    9,
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
    let icmp_v6 = ipv6(58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    let mut null_v6 = 30u32.to_le_bytes().to_vec();
    null_v6.extend_from_slice(&icmp_v6);

    vec![
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
        (linktype::RAW, tcp_v4),
        (linktype::IPV6, tcp_v6),
    ]
}

/// Checks that the layers and lengths of `decoded` agree with each other and with the
/// `captured` bytes that `decode` read under `linktype`.
fn check_consistent(linktype: u32, captured: usize, decoded: &Decoded) {
    check_layers(linktype, decoded);
    check_vlans(decoded);

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
            assert!(tcp.header_len <= tcp.segment_len, "{decoded:?}");
            assert_eq!(
                tcp.payload_len,
                tcp.segment_len - tcp.header_len,
                "{decoded:?}"
            );
            assert_eq!(Some(tcp.segment_len), ip_payload, "{decoded:?}");
        }
        Transport::Udp(udp) => {
            assert!(udp.datagram_len >= 8, "{decoded:?}");
            assert_eq!(Some(udp.datagram_len), ip_payload, "{decoded:?}");
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
            }
        }
        Some(Layer::Transport) | None => assert!(decoded.ip.is_some(), "{decoded:?}"),
    }

    if !linktype::is_supported(linktype) {
        let unsupported = Decoded {
            stop: Some(StopReason::UnsupportedLinkType),
            ..Decoded::default()
        };
        assert_eq!(*decoded, unsupported);
    }
    if linktype != linktype::ETHERNET {
        assert_eq!(decoded.dst_mac, None, "{decoded:?}");
    }
    let has_link_address = matches!(
        linktype,
        linktype::ETHERNET | linktype::LINUX_SLL | linktype::LINUX_SLL2
    );
    if !has_link_address {
        assert_eq!(decoded.src_mac, None, "{decoded:?}");
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
    }
}
