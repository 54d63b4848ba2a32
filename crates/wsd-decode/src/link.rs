//! Link-layer dispatch: finds the IP header behind each supported link type.

use crate::packet::{MacAddr, StopReason, Vlans};
use crate::{ethernet, linktype, loopback, nflog, sll};

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

/// The bytes after the link-layer header and the protocol they carry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NetworkLayer<'a> {
    pub(crate) protocol: NetworkProtocol,
    pub(crate) bytes: &'a [u8],
    /// True if the link layer gave the packet's length and `bytes` ends there, so
    /// that an IP length beyond it is wrong rather than cut by the capture.
    pub(crate) bounded: bool,
}

impl<'a> NetworkLayer<'a> {
    #[inline]
    pub(crate) fn new(protocol: NetworkProtocol, bytes: &'a [u8]) -> Self {
        NetworkLayer {
            protocol,
            bytes,
            bounded: false,
        }
    }
}

/// A destination for the fields that the link-layer decoders find, and the handler of
/// the layers that only the general decoder follows.
///
/// [`LinkFields`] serves the fast path of [`decode_with`](crate::decode_with) and
/// hands those layers over. [`DecodeState`](crate::state::DecodeState) serves the
/// general decoder and follows them.
pub(crate) trait LinkOutput<'a> {
    /// Stores the MAC addresses of an Ethernet header and clears the VLAN tags, which
    /// the tags after this header replace.
    fn set_ethernet(&mut self, src: &'a [u8; 6], dst: &'a [u8; 6]);

    /// Stores the sender's MAC address from a Linux cooked capture header.
    fn set_src_mac(&mut self, src: &'a [u8; 6]);

    /// Stores one more VLAN tag, or fails past the limit on tags.
    fn push_vlan(&mut self, id: u16) -> Result<(), StopReason>;

    /// Decodes the layers behind an MPLS or PPPoE session Ethernet type.
    fn decode_encapsulation(
        &mut self,
        ethertype: u16,
        rest: &'a [u8],
    ) -> Result<NetworkLayer<'a>, StopReason>;

    /// Decodes a PPP or Cisco HDLC link layer.
    fn decode_serial_link(
        &mut self,
        linktype: u32,
        data: &'a [u8],
    ) -> Result<NetworkLayer<'a>, StopReason>;
}

/// The link-layer fields that the fast path collects.
///
/// The MAC addresses stay borrowed from the packet, and the VLAN IDs and count are two
/// fields rather than a [`Vlans`] with its padding byte. Building the `Decoded` from
/// copies that were just stored on the stack caused store-forwarding stalls, which
/// made the Ethernet, IPv4 and TCP path about 10% slower in `examples/decode_speed.rs`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LinkFields<'a> {
    pub(crate) src_mac: Option<&'a [u8; 6]>,
    pub(crate) dst_mac: Option<&'a [u8; 6]>,
    pub(crate) vlan_ids: [u16; 2],
    pub(crate) vlan_count: u8,
    /// Set, together with an error from [`decode_link`], when the packet has a layer
    /// that only the general decoder follows.
    pub(crate) needs_general_decoder: bool,
}

impl LinkFields<'_> {
    /// Returns the VLAN tags.
    #[inline]
    pub(crate) fn vlans(&self) -> Vlans {
        Vlans {
            ids: self.vlan_ids,
            count: self.vlan_count,
        }
    }

    /// Returns the source MAC address.
    #[inline]
    pub(crate) fn src_mac(&self) -> Option<MacAddr> {
        self.src_mac.map(|bytes| MacAddr(*bytes))
    }

    /// Returns the destination MAC address.
    #[inline]
    pub(crate) fn dst_mac(&self) -> Option<MacAddr> {
        self.dst_mac.map(|bytes| MacAddr(*bytes))
    }
}

impl<'a> LinkOutput<'a> for LinkFields<'a> {
    #[inline]
    fn set_ethernet(&mut self, src: &'a [u8; 6], dst: &'a [u8; 6]) {
        self.src_mac = Some(src);
        self.dst_mac = Some(dst);
    }

    #[inline]
    fn set_src_mac(&mut self, src: &'a [u8; 6]) {
        self.src_mac = Some(src);
    }

    #[inline]
    fn push_vlan(&mut self, id: u16) -> Result<(), StopReason> {
        if self.vlan_count >= ethernet::MAX_VLAN_TAGS {
            return Err(StopReason::TooManyVlanTags);
        }
        if let Some(slot) = self.vlan_ids.get_mut(usize::from(self.vlan_count)) {
            *slot = id;
        }
        self.vlan_count += 1;
        Ok(())
    }

    #[inline]
    fn decode_encapsulation(
        &mut self,
        _ethertype: u16,
        _rest: &'a [u8],
    ) -> Result<NetworkLayer<'a>, StopReason> {
        self.needs_general_decoder = true;
        Err(StopReason::NotIp)
    }

    #[inline]
    fn decode_serial_link(
        &mut self,
        _linktype: u32,
        _data: &'a [u8],
    ) -> Result<NetworkLayer<'a>, StopReason> {
        self.needs_general_decoder = true;
        Err(StopReason::UnsupportedLinkType)
    }
}

/// Decodes the link-layer header of `data`, storing the MAC addresses and VLAN tags
/// that the link type carries in `output`.
#[inline]
pub(crate) fn decode_link<'a, O: LinkOutput<'a>>(
    linktype: u32,
    data: &'a [u8],
    output: &mut O,
) -> Result<NetworkLayer<'a>, StopReason> {
    match linktype {
        linktype::ETHERNET => ethernet::decode_ethernet(data, output),
        linktype::LINUX_SLL => sll::decode_sll(data, output),
        linktype::LINUX_SLL2 => sll::decode_sll2(data, output),
        linktype::NULL => loopback::decode_null(data),
        linktype::LOOP => loopback::decode_loop(data),
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 => {
            Ok(NetworkLayer::new(NetworkProtocol::AnyIp, data))
        }
        linktype::IPV4 => Ok(NetworkLayer::new(NetworkProtocol::Ipv4, data)),
        linktype::IPV6 => Ok(NetworkLayer::new(NetworkProtocol::Ipv6, data)),
        linktype::NFLOG => nflog::decode_nflog(data),
        linktype::PPP | linktype::PPP_HDLC | linktype::PPP_ETHER | linktype::C_HDLC => {
            output.decode_serial_link(linktype, data)
        }
        _ => Err(StopReason::UnsupportedLinkType),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, Decoded, StopReason};

    #[test]
    fn unsupported_link_type_decodes_nothing() {
        // 105 is IEEE 802.11, 147 the first user-defined type.
        for linktype in [105, 147, 277, u32::MAX] {
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
            (linktype::PPP, StopReason::TruncatedLink),
            (linktype::PPP_HDLC, StopReason::TruncatedLink),
            (linktype::PPP_ETHER, StopReason::TruncatedLink),
            (linktype::C_HDLC, StopReason::TruncatedLink),
            (linktype::NFLOG, StopReason::TruncatedLink),
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
