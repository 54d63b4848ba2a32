//! VXLAN headers (RFC 7348): an 8-byte header, then an Ethernet frame.

use crate::bytes::len_u32;
use crate::ethernet::decode_ethernet;
use crate::link::NetworkLayer;
use crate::packet::{IpInfo, StopReason, TunnelKind};
use crate::state::DecodeState;

/// The UDP destination port that IANA assigned to VXLAN.
pub(crate) const PORT: u16 = 4789;

const HEADER_LEN: usize = 8;
/// The flag that marks a valid network identifier; RFC 7348 requires it.
const FLAG_VNI: u8 = 0x08;

/// Decodes the UDP payload `body` of a datagram sent to [`PORT`], whose length from
/// the IP header is `body_len`.
///
/// Returns `None` when the payload cannot be a VXLAN packet: shorter than the header,
/// or without the network identifier flag. The caller then keeps the datagram as UDP.
pub(crate) fn decode_vxlan<'a>(
    outer: &IpInfo,
    body: &'a [u8],
    body_len: u32,
    state: &mut DecodeState,
) -> Option<Result<NetworkLayer<'a>, StopReason>> {
    if body_len < len_u32(HEADER_LEN) {
        return None;
    }
    if body.first().is_some_and(|flags| flags & FLAG_VNI == 0) {
        return None;
    }
    Some(enter_vxlan(outer, body, state))
}

fn enter_vxlan<'a>(
    outer: &IpInfo,
    body: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    state.enter_tunnel(TunnelKind::Vxlan, outer)?;
    let (header, frame) = body
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    let vni = u32::from_be_bytes([0, header[4], header[5], header[6]]);
    state.identify_tunnel(TunnelKind::Vxlan, Some(vni));
    decode_ethernet(frame, state)
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{
        decode, decode_with, linktype, DecodeOptions, MacAddr, StopReason, Transport, TunnelKind,
        UdpInfo,
    };

    fn vxlan_frame(udp_payload: &[u8]) -> Vec<u8> {
        ethernet(
            ETHERTYPE_IPV4,
            &outer_ipv4(PROTO_UDP, &udp(50000, 4789, udp_payload)),
        )
    }

    #[test]
    fn inner_frame_is_reported() {
        let frame = vxlan_frame(&vxlan(5_569_041, &inner_tcp_frame(10)));
        let decoded = decode(linktype::ETHERNET, &frame);
        let tunnel = expect_tunnel(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(INNER_SRC_MAC)));
        assert_eq!(decoded.dst_mac, Some(MacAddr(INNER_DST_MAC)));
        assert_eq!(expect_ip(&decoded).src.to_string(), "10.0.0.1");
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
        assert_eq!(tunnel.kind, TunnelKind::Vxlan);
        assert_eq!(tunnel.id, Some(5_569_041));
        assert_eq!(tunnel.src.to_string(), "192.0.2.1");
        assert_eq!(tunnel.dst.to_string(), "192.0.2.2");
    }

    #[test]
    fn clear_vni_flag_is_plain_udp() {
        let mut payload = vxlan(1, &inner_tcp_frame(0));
        *payload.first_mut().unwrap() = 0;
        let decoded = decode(linktype::ETHERNET, &vxlan_frame(&payload));

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.tunnel, None);
        assert!(matches!(decoded.transport, Transport::Udp(_)));
    }

    #[test]
    fn short_datagram_is_plain_udp() {
        let decoded = decode(linktype::ETHERNET, &vxlan_frame(&[0x08, 0, 0]));

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.tunnel, None);
    }

    #[test]
    fn source_port_4789_is_not_vxlan() {
        let frame = ethernet(
            ETHERTYPE_IPV4,
            &outer_ipv4(PROTO_UDP, &udp(4789, 50000, &vxlan(1, &inner_tcp_frame(0)))),
        );
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.tunnel, None);
        assert_eq!(expect_ip(&decoded).src.to_string(), "192.0.2.1");
    }

    #[test]
    fn decapsulation_off_reports_outer_udp() {
        let frame = vxlan_frame(&vxlan(7, &inner_tcp_frame(10)));
        let options = DecodeOptions::new().with_decapsulate(false);
        let decoded = decode_with(linktype::ETHERNET, &frame, &options);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.tunnel, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(
            decoded.transport,
            Transport::Udp(UdpInfo {
                src_port: 50000,
                dst_port: 4789,
                datagram_len: 8 + 8 + 14 + 50,
            })
        );
    }

    #[test]
    fn cut_at_every_length_keeps_intact_layers() {
        let frame = vxlan_frame(&vxlan(7, &inner_tcp_frame(10)));
        let (udp_end, vxlan_end, inner_ethernet_end, ip_end, tcp_end) = (42, 50, 64, 84, 104);

        for len in 0..=frame.len() {
            let decoded = decode(linktype::ETHERNET, frame.get(..len).unwrap());
            let expected_stop = if len < 14 {
                Some(StopReason::TruncatedLink)
            } else if len < 34 {
                Some(StopReason::TruncatedIp)
            } else if len < udp_end {
                Some(StopReason::TruncatedTransport)
            } else if len < vxlan_end {
                Some(StopReason::TruncatedTunnel)
            } else if len < inner_ethernet_end {
                Some(StopReason::TruncatedLink)
            } else if len < ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < tcp_end {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };
            let expected_mac = if len >= inner_ethernet_end {
                Some(MacAddr(INNER_SRC_MAC))
            } else if len >= 14 {
                Some(MacAddr(SRC_MAC))
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert_eq!(decoded.src_mac, expected_mac, "length {len}");
            assert_eq!(decoded.tunnel.is_some(), len >= udp_end, "length {len}");
        }
    }

    #[test]
    fn vlan_limit_counts_outer_and_inner_tags() {
        let inner_tags = vec![(ETHERTYPE_VLAN, 2); 8];
        let inner_frame = ethernet_tagged(
            &inner_tags,
            ETHERTYPE_IPV4,
            &ipv4(PROTO_TCP, &tcp_default(0)),
        );
        let outer_packet = outer_ipv4(PROTO_UDP, &udp(1, 4789, &vxlan(1, &inner_frame)));
        let at_limit = ethernet_tagged(&[(ETHERTYPE_VLAN, 1); 8], ETHERTYPE_IPV4, &outer_packet);
        let past_limit = ethernet_tagged(&[(ETHERTYPE_VLAN, 1); 9], ETHERTYPE_IPV4, &outer_packet);

        let decoded = decode(linktype::ETHERNET, &at_limit);
        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [2, 2]);
        assert_eq!(decoded.vlans.count, 8);

        let decoded = decode(linktype::ETHERNET, &past_limit);
        assert_eq!(decoded.stop, Some(StopReason::TooManyVlanTags));
        assert_eq!(decoded.vlans.count, 7);
    }
}
