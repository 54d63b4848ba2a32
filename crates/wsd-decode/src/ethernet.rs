//! Ethernet II headers, VLAN tags and the Ethernet type dispatch that Linux cooked
//! captures share.

use crate::bytes::split_be_u16;
use crate::link::{LinkFields, NetworkLayer, NetworkProtocol};
use crate::packet::{MacAddr, StopReason, Vlans};

/// The Ethernet type of IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;
/// The Ethernet type of IPv6.
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// An IEEE 802.1Q customer VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// An IEEE 802.1ad service VLAN tag, the outer tag of QinQ.
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// The pre-standard QinQ outer tag that some switches still send.
const ETHERTYPE_QINQ_LEGACY: u16 = 0x9100;

/// The VLAN ID bits of a tag control information field.
const VLAN_ID_MASK: u16 = 0x0fff;

/// The maximum number of VLAN tags followed before decoding stops with
/// [`StopReason::TooManyVlanTags`]. Networks usually stack one or two tags, so the
/// limit only bounds the work spent on a crafted frame.
pub(crate) const MAX_VLAN_TAGS: u8 = 16;

/// Decodes an Ethernet II header and any VLAN tags after it.
#[inline]
pub(crate) fn decode_ethernet<'a>(
    data: &'a [u8],
    link: &mut LinkFields,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (dst, rest) = data
        .split_first_chunk::<6>()
        .ok_or(StopReason::TruncatedLink)?;
    let (src, rest) = rest
        .split_first_chunk::<6>()
        .ok_or(StopReason::TruncatedLink)?;
    let (ethertype, rest) = split_be_u16(rest).ok_or(StopReason::TruncatedLink)?;

    link.dst_mac = Some(MacAddr(*dst));
    link.src_mac = Some(MacAddr(*src));
    decode_ethertype(ethertype, rest, link)
}

/// Follows VLAN tags from `ethertype` on and maps the final Ethernet type to IPv4 or
/// IPv6. Values below 0x0600 are 802.3 lengths, not types, so they end as
/// [`StopReason::NotIp`] like every other type.
#[inline]
pub(crate) fn decode_ethertype<'a>(
    mut ethertype: u16,
    mut rest: &'a [u8],
    link: &mut LinkFields,
) -> Result<NetworkLayer<'a>, StopReason> {
    while is_vlan_tag(ethertype) {
        if link.vlans.count >= MAX_VLAN_TAGS {
            return Err(StopReason::TooManyVlanTags);
        }
        let (tag_control, after_tag) = split_be_u16(rest).ok_or(StopReason::TruncatedLink)?;
        let (next_type, after_type) = split_be_u16(after_tag).ok_or(StopReason::TruncatedLink)?;
        push_vlan(&mut link.vlans, tag_control & VLAN_ID_MASK);
        ethertype = next_type;
        rest = after_type;
    }

    // TODO: MPLS (0x8847) and PPPoE session (0x8864) frames end here as NotIp, so the
    // TCP flows inside them are not seen.
    match ethertype {
        ETHERTYPE_IPV4 => Ok(NetworkLayer::new(NetworkProtocol::Ipv4, rest)),
        ETHERTYPE_IPV6 => Ok(NetworkLayer::new(NetworkProtocol::Ipv6, rest)),
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
fn push_vlan(vlans: &mut Vlans, id: u16) {
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
