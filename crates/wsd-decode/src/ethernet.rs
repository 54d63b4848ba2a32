//! Ethernet II headers, VLAN tags and the Ethernet type dispatch that Linux cooked
//! captures, Cisco HDLC and tunnels share.

use crate::bytes::split_be_u16;
use crate::link::{LinkOutput, NetworkLayer, NetworkProtocol};
use crate::packet::{StopReason, Vlans};
use crate::state::DecodeState;

/// The Ethernet type of IPv4.
pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
/// The Ethernet type of IPv6.
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
/// An IEEE 802.1Q customer VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// An IEEE 802.1ad service VLAN tag, the outer tag of QinQ.
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// The pre-standard QinQ outer tag that some switches still send.
const ETHERTYPE_QINQ_LEGACY: u16 = 0x9100;
/// MPLS unicast.
pub(crate) const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
/// MPLS multicast (upstream-assigned labels).
pub(crate) const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// A PPPoE session packet. Discovery packets (0x8863) carry no IP and end as
/// [`StopReason::NotIp`].
pub(crate) const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Transparent Ethernet bridging: the protocol type of a whole Ethernet frame inside
/// GRE or Geneve.
pub(crate) const ETHERTYPE_TRANSPARENT_ETHERNET: u16 = 0x6558;

/// The VLAN ID bits of a tag control information field.
const VLAN_ID_MASK: u16 = 0x0fff;

/// The maximum number of VLAN tags followed, over all the Ethernet headers of a
/// tunnelled packet, before decoding stops with [`StopReason::TooManyVlanTags`].
/// Networks usually stack one or two tags, so the limit only bounds the work spent on
/// a crafted frame.
pub(crate) const MAX_VLAN_TAGS: u8 = 16;

/// Decodes an Ethernet II header and any VLAN tags after it. Inside a tunnel, its MAC
/// addresses and VLAN tags replace those of the outer frame once its header is intact.
#[inline]
pub(crate) fn decode_ethernet<'a, O: LinkOutput<'a>>(
    data: &'a [u8],
    output: &mut O,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (dst, src, ethertype, rest) = split_ethernet(data)?;
    output.set_ethernet(src, dst);
    decode_ethertype(ethertype, rest, output)
}

/// The destination and source MAC addresses of an Ethernet header, its Ethernet type
/// and the bytes after it.
type EthernetHeader<'a> = (&'a [u8; 6], &'a [u8; 6], u16, &'a [u8]);

/// Splits an Ethernet header off `data`.
#[inline]
fn split_ethernet(data: &[u8]) -> Result<EthernetHeader<'_>, StopReason> {
    let (dst, rest) = data
        .split_first_chunk::<6>()
        .ok_or(StopReason::TruncatedLink)?;
    let (src, rest) = rest
        .split_first_chunk::<6>()
        .ok_or(StopReason::TruncatedLink)?;
    let (ethertype, rest) = split_be_u16(rest).ok_or(StopReason::TruncatedLink)?;
    Ok((dst, src, ethertype, rest))
}

/// Decodes the payload of a tunnel whose header names it by Ethernet type, as GRE and
/// Geneve do: a whole Ethernet frame for transparent bridging, else what
/// [`decode_ethertype`] follows.
#[inline]
pub(crate) fn decode_tunnel_payload<'a>(
    protocol: u16,
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    if protocol == ETHERTYPE_TRANSPARENT_ETHERNET {
        decode_ethernet(data, state)
    } else {
        decode_ethertype(protocol, data, state)
    }
}

/// Follows VLAN tags from `ethertype` on, then maps the final Ethernet type to IPv4 or
/// IPv6, or hands an MPLS or PPPoE session type to `output`. Values below 0x0600 are
/// 802.3 lengths, not types, so they end as [`StopReason::NotIp`] like every other
/// type.
#[inline]
pub(crate) fn decode_ethertype<'a, O: LinkOutput<'a>>(
    mut ethertype: u16,
    mut rest: &'a [u8],
    output: &mut O,
) -> Result<NetworkLayer<'a>, StopReason> {
    while is_vlan_tag(ethertype) {
        let (tag_control, after_tag) = split_be_u16(rest).ok_or(StopReason::TruncatedLink)?;
        let (next_type, after_type) = split_be_u16(after_tag).ok_or(StopReason::TruncatedLink)?;
        output.push_vlan(tag_control & VLAN_ID_MASK)?;
        ethertype = next_type;
        rest = after_type;
    }

    match ethertype {
        ETHERTYPE_IPV4 => Ok(NetworkLayer::new(NetworkProtocol::Ipv4, rest)),
        ETHERTYPE_IPV6 => Ok(NetworkLayer::new(NetworkProtocol::Ipv6, rest)),
        ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST | ETHERTYPE_PPPOE_SESSION => {
            output.decode_encapsulation(ethertype, rest)
        }
        _ => Err(StopReason::NotIp),
    }
}

#[inline]
fn is_vlan_tag(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_LEGACY
    )
}

/// Counts one more tag and keeps its ID if it is one of the two outermost.
#[inline]
pub(crate) fn push_vlan(vlans: &mut Vlans, id: u16) {
    if let Some(slot) = vlans.ids.get_mut(usize::from(vlans.count)) {
        *slot = id;
    }
    vlans.count = vlans.count.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, MacAddr, StopReason};

    const VLAN: u16 = 0x8100;
    const QINQ: u16 = 0x88a8;
    const QINQ_LEGACY: u16 = 0x9100;

    fn tcp_over_ipv4() -> Vec<u8> {
        ipv4(PROTO_TCP, &tcp_default(10))
    }

    #[test]
    fn ethernet_fills_macs_and_ip() {
        let frame = ethernet(ETHERTYPE_IPV4, &tcp_over_ipv4());
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(decoded.dst_mac, Some(MacAddr(DST_MAC)));
        assert_eq!(decoded.vlans.count, 0);
        assert_eq!(expect_ip(&decoded).src.to_string(), "10.0.0.1");
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
    }

    #[test]
    fn qinq_88a8_then_8100_keeps_both_ids() {
        let frame = ethernet_tagged(
            &[(QINQ, 100), (VLAN, 200)],
            ETHERTYPE_IPV4,
            &tcp_over_ipv4(),
        );
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [100, 200]);
        assert_eq!(decoded.vlans.count, 2);
        assert_eq!(expect_tcp(&decoded).dst_port, 80);
    }

    #[test]
    fn single_tag_leaves_inner_id_zero() {
        let frame = ethernet_tagged(&[(VLAN, 42)], ETHERTYPE_IPV4, &tcp_over_ipv4());
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [42, 0]);
        assert_eq!(decoded.vlans.count, 1);
    }

    #[test]
    fn legacy_9100_tag_is_followed() {
        let frame = ethernet_tagged(
            &[(QINQ_LEGACY, 7)],
            ETHERTYPE_IPV6,
            &ipv6(PROTO_TCP, &tcp_default(0)),
        );
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [7, 0]);
        assert_eq!(expect_ip(&decoded).dst.to_string(), "2001:db8::2");
    }

    #[test]
    fn three_tags_keep_outer_two() {
        let tags = [(QINQ, 1), (VLAN, 2), (VLAN, 3)];
        let frame = ethernet_tagged(&tags, ETHERTYPE_IPV4, &tcp_over_ipv4());
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [1, 2]);
        assert_eq!(decoded.vlans.count, 3);
    }

    #[test]
    fn vlan_id_drops_priority_bits() {
        // Priority 7, drop eligible, VLAN 0x07b.
        let frame = ethernet_tagged(&[(VLAN, 0xf07b)], ETHERTYPE_IPV4, &tcp_over_ipv4());
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.vlans.ids, [0x07b, 0]);
    }

    #[test]
    fn tag_limit_is_inclusive() {
        let tags = vec![(VLAN, 5); usize::from(super::MAX_VLAN_TAGS)];
        let frame = ethernet_tagged(&tags, ETHERTYPE_IPV4, &tcp_over_ipv4());
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.count, super::MAX_VLAN_TAGS);
    }

    #[test]
    fn too_many_tags_stop() {
        let tags = vec![(VLAN, 5); usize::from(super::MAX_VLAN_TAGS) + 1];
        let frame = ethernet_tagged(&tags, ETHERTYPE_IPV4, &tcp_over_ipv4());
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, Some(StopReason::TooManyVlanTags));
        assert_eq!(decoded.vlans.count, super::MAX_VLAN_TAGS);
        assert_eq!(decoded.vlans.ids, [5, 5]);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(decoded.ip, None);
    }

    #[test]
    fn length_field_is_not_ip() {
        // An 802.3 frame: 0x0026 is a length, followed by LLC.
        let frame = ethernet(0x0026, &[0x42, 0x42, 0x03, 0, 0, 0]);
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(decoded.dst_mac, Some(MacAddr(DST_MAC)));
        assert_eq!(decoded.ip, None);
    }

    #[test]
    fn arp_behind_vlan_is_not_ip() {
        let frame = ethernet_tagged(&[(VLAN, 9)], 0x0806, &[0; 28]);
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
        assert_eq!(decoded.vlans.ids, [9, 0]);
        assert_eq!(decoded.dst_mac, Some(MacAddr(DST_MAC)));
    }

    #[test]
    fn ethertype_and_version_disagree() {
        let v4_as_v6 = ethernet(ETHERTYPE_IPV6, &tcp_over_ipv4());
        let v6_as_v4 = ethernet(ETHERTYPE_IPV4, &ipv6(PROTO_TCP, &tcp_default(0)));

        assert_eq!(
            decode(linktype::ETHERNET, &v4_as_v6).stop,
            Some(StopReason::BadIpVersion)
        );
        assert_eq!(
            decode(linktype::ETHERNET, &v6_as_v4).stop,
            Some(StopReason::BadIpVersion)
        );
        assert_eq!(decode(linktype::ETHERNET, &v6_as_v4).ip, None);
    }

    #[test]
    fn cut_at_every_length_keeps_intact_layers() {
        let segment = tcp(TcpFields::default(), &TIMESTAMP_OPTIONS, &[0x61; 20]);
        let frame = ethernet_tagged(&[(VLAN, 300)], ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &segment));
        let (tag_end, ip_end, tcp_base_end) = (18, 38, 58);

        for len in 0..=frame.len() {
            let decoded = decode(linktype::ETHERNET, frame.get(..len).unwrap());
            let has_macs = len >= 14;
            assert_eq!(
                decoded.src_mac.is_some(),
                has_macs,
                "source MAC at length {len}"
            );
            assert_eq!(
                decoded.dst_mac.is_some(),
                has_macs,
                "destination MAC at length {len}"
            );
            assert_eq!(
                decoded.vlans.count,
                u8::from(len >= tag_end),
                "tags at length {len}"
            );
            assert_eq!(
                decoded.ip.is_some(),
                len >= ip_end,
                "IP layer at length {len}"
            );

            let expected_stop = if len < tag_end {
                Some(StopReason::TruncatedLink)
            } else if len < ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < tcp_base_end {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };
            assert_eq!(decoded.stop, expected_stop, "stop at length {len}");
            if len >= tcp_base_end {
                let tcp = expect_tcp(&decoded);
                assert_eq!(tcp.header_len, 32, "TCP header length at length {len}");
                assert_eq!(tcp.payload_len, 20, "TCP payload length at length {len}");
            }
        }
    }
}
