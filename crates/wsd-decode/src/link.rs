//! Link-layer dispatch: finds the IP header behind each supported link type.

use crate::packet::{MacAddr, StopReason, Vlans};
use crate::{ethernet, linktype, loopback, sll};

/// The network protocol that the link layer announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NetworkProtocol {
    /// IPv4, for example Ethernet type 0x0800 or address family `AF_INET`.
    Ipv4,
    /// IPv6, for example Ethernet type 0x86DD or an `AF_INET6` family.
    Ipv6,
    /// Raw IP link types, where the version field of the IP header decides.
    AnyIp,
}

/// The link-layer fields of a [`Decoded`](crate::Decoded).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LinkFields {
    pub(crate) src_mac: Option<MacAddr>,
    pub(crate) dst_mac: Option<MacAddr>,
    pub(crate) vlans: Vlans,
}

/// The bytes after the link-layer header and the protocol they carry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NetworkLayer<'a> {
    pub(crate) protocol: NetworkProtocol,
    pub(crate) bytes: &'a [u8],
}

impl<'a> NetworkLayer<'a> {
    #[inline]
    pub(crate) fn new(protocol: NetworkProtocol, bytes: &'a [u8]) -> Self {
        NetworkLayer { protocol, bytes }
    }
}

/// Decodes the link-layer header of `data`, filling the MAC addresses and VLAN tags
/// that the link type carries into `link`.
#[inline]
pub(crate) fn decode_link<'a>(
    linktype: u32,
    data: &'a [u8],
    link: &mut LinkFields,
) -> Result<NetworkLayer<'a>, StopReason> {
    match linktype {
        linktype::ETHERNET => ethernet::decode_ethernet(data, link),
        linktype::LINUX_SLL => sll::decode_sll(data, link),
        linktype::LINUX_SLL2 => sll::decode_sll2(data, link),
        linktype::NULL => loopback::decode_null(data),
        linktype::LOOP => loopback::decode_loop(data),
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 => {
            Ok(NetworkLayer::new(NetworkProtocol::AnyIp, data))
        }
        linktype::IPV4 => Ok(NetworkLayer::new(NetworkProtocol::Ipv4, data)),
        linktype::IPV6 => Ok(NetworkLayer::new(NetworkProtocol::Ipv6, data)),
        _ => Err(StopReason::UnsupportedLinkType),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, Decoded, StopReason};

    #[test]
    fn unsupported_link_type_decodes_nothing() {
        // 9 is PPP, 239 is NFLOG.
        for linktype in [9, 239, 277, u32::MAX] {
            let frame = ethernet(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(0)));
            let expected = Decoded {
                stop: Some(StopReason::UnsupportedLinkType),
                ..Decoded::default()
            };

            assert_eq!(decode(linktype, &frame), expected, "link type {linktype}");
            assert!(!linktype::is_supported(linktype), "link type {linktype}");
        }
    }

    #[test]
    fn raw_link_types_read_version_nibble() {
        let v4 = ipv4(PROTO_TCP, &tcp_default(1));
        let v6 = ipv6(PROTO_TCP, &tcp_default(2));
        for linktype in [linktype::RAW, linktype::RAW_12, linktype::RAW_14] {
            let decoded_v4 = decode(linktype, &v4);
            let decoded_v6 = decode(linktype, &v6);

            assert_eq!(decoded_v4.stop, None, "link type {linktype}");
            assert!(expect_ip(&decoded_v4).src.is_ipv4(), "link type {linktype}");
            assert_eq!(decoded_v6.stop, None, "link type {linktype}");
            assert!(expect_ip(&decoded_v6).src.is_ipv6(), "link type {linktype}");
            assert_eq!(decoded_v4.src_mac, None, "link type {linktype}");
        }
    }

    #[test]
    fn raw_link_type_rejects_other_versions() {
        for first_byte in [0x00, 0x15, 0x55, 0xc0, 0xf6] {
            let mut packet = ipv4(PROTO_TCP, &tcp_default(0));
            *packet.first_mut().unwrap() = first_byte;

            assert_eq!(
                decode(linktype::RAW, &packet).stop,
                Some(StopReason::BadIpVersion),
                "first byte {first_byte:#04x}"
            );
        }
    }

    #[test]
    fn empty_packet_stops_at_first_layer() {
        let cases = [
            (linktype::NULL, StopReason::TruncatedLink),
            (linktype::ETHERNET, StopReason::TruncatedLink),
            (linktype::LOOP, StopReason::TruncatedLink),
            (linktype::LINUX_SLL, StopReason::TruncatedLink),
            (linktype::LINUX_SLL2, StopReason::TruncatedLink),
            (linktype::RAW, StopReason::TruncatedIp),
            (linktype::RAW_12, StopReason::TruncatedIp),
            (linktype::RAW_14, StopReason::TruncatedIp),
            (linktype::IPV4, StopReason::TruncatedIp),
            (linktype::IPV6, StopReason::TruncatedIp),
        ];
        for (linktype, expected) in cases {
            assert!(linktype::is_supported(linktype), "link type {linktype}");
            assert_eq!(
                decode(linktype, &[]).stop,
                Some(expected),
                "link type {linktype}"
            );
        }
    }
}
