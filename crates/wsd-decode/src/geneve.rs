//! Geneve headers (RFC 8926): an 8-byte header and options, then a packet named by its
//! Ethernet type.

use crate::bytes::len_u32;
use crate::ethernet::decode_tunnel_payload;
use crate::link::NetworkLayer;
use crate::packet::{IpInfo, StopReason, TunnelKind};
use crate::state::DecodeState;

/// The UDP destination port that IANA assigned to Geneve.
pub(crate) const PORT: u16 = 6081;

const HEADER_LEN: usize = 8;
/// The only Geneve version, in the top two bits of the first byte.
const VERSION: u8 = 0;
/// The options length bits of the first byte, in 4-byte units.
const OPTIONS_LEN_MASK: u8 = 0x3f;

/// Decodes the UDP payload `body` of a datagram sent to [`PORT`], whose length from
/// the IP header is `body_len`.
///
/// Returns `None` when the payload cannot be a Geneve packet: shorter than the header,
/// or of another version. The caller then keeps the datagram as UDP.
pub(crate) fn decode_geneve<'a>(
    outer: &IpInfo,
    body: &'a [u8],
    body_len: u32,
    state: &mut DecodeState,
) -> Option<Result<NetworkLayer<'a>, StopReason>> {
    if body_len < len_u32(HEADER_LEN) {
        return None;
    }
    if body.first().is_some_and(|first| first >> 6 != VERSION) {
        return None;
    }
    Some(enter_geneve(outer, body, state))
}

fn enter_geneve<'a>(
    outer: &IpInfo,
    body: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    state.enter_tunnel(TunnelKind::Geneve, outer)?;
    let (header, rest) = body
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    let vni = u32::from_be_bytes([0, header[4], header[5], header[6]]);
    state.identify_tunnel(TunnelKind::Geneve, Some(vni));

    let options_len = usize::from(header[0] & OPTIONS_LEN_MASK) * 4;
    let packet = rest.get(options_len..).ok_or(StopReason::TruncatedTunnel)?;
    let protocol = u16::from_be_bytes([header[2], header[3]]);
    decode_tunnel_payload(protocol, packet, state)
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, MacAddr, StopReason, Transport, TunnelKind};

    /// An option of class 0, critical type 0x80, with 4 bytes of data.
    const OPTION: [u8; 8] = [0, 0, 0x80, 1, 0, 0, 0, 12];

    fn geneve_frame(udp_payload: &[u8]) -> Vec<u8> {
        ethernet(
            ETHERTYPE_IPV4,
            &outer_ipv4(PROTO_UDP, &udp(12618, 6081, udp_payload)),
        )
    }

    #[test]
    fn ethernet_payload_after_options() {
        for options in [&[][..], &OPTION[..]] {
            let payload = geneve(
                10,
                ETHERTYPE_TRANSPARENT_ETHERNET,
                options,
                &inner_tcp_frame(4),
            );
            let decoded = decode(linktype::ETHERNET, &geneve_frame(&payload));
            let tunnel = expect_tunnel(&decoded);

            assert_eq!(decoded.stop, None, "options {options:?}");
            assert_eq!(
                decoded.src_mac,
                Some(MacAddr(INNER_SRC_MAC)),
                "options {options:?}"
            );
            assert_eq!(expect_tcp(&decoded).payload_len, 4, "options {options:?}");
            assert_eq!(tunnel.kind, TunnelKind::Geneve, "options {options:?}");
            assert_eq!(tunnel.id, Some(10), "options {options:?}");
        }
    }

    #[test]
    fn ip_payload_keeps_outer_macs() {
        let payload = geneve(
            3,
            ETHERTYPE_IPV6,
            &OPTION,
            &ipv6(PROTO_TCP, &tcp_default(0)),
        );
        let decoded = decode(linktype::ETHERNET, &geneve_frame(&payload));

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert!(expect_ip(&decoded).src.is_ipv6());
    }

    #[test]
    fn other_version_is_plain_udp() {
        let mut payload = geneve(3, ETHERTYPE_IPV4, &[], &ipv4(PROTO_TCP, &tcp_default(0)));
        *payload.first_mut().unwrap() |= 0x40;
        let decoded = decode(linktype::ETHERNET, &geneve_frame(&payload));

        assert_eq!(decoded.tunnel, None);
        assert!(matches!(decoded.transport, Transport::Udp(_)));
    }

    #[test]
    fn options_past_datagram_are_truncated() {
        let mut payload = geneve(3, ETHERTYPE_IPV4, &OPTION, &[]);
        *payload.first_mut().unwrap() = 0x3f;
        let decoded = decode(linktype::ETHERNET, &geneve_frame(&payload));

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTunnel));
        assert_eq!(expect_tunnel(&decoded).id, Some(3));
    }

    #[test]
    fn unknown_protocol_is_not_ip() {
        // 0x894f is the network service header.
        let payload = geneve(3, 0x894f, &[], &[0; 24]);
        let decoded = decode(linktype::ETHERNET, &geneve_frame(&payload));

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
        assert_eq!(expect_tunnel(&decoded).kind, TunnelKind::Geneve);
    }

    #[test]
    fn cut_at_every_length() {
        let payload = geneve(
            10,
            ETHERTYPE_TRANSPARENT_ETHERNET,
            &OPTION,
            &inner_tcp_frame(0),
        );
        let frame = geneve_frame(&payload);
        let (udp_end, options_end, ip_start) = (42, 58, 72);

        for len in udp_end..=frame.len() {
            let decoded = decode(linktype::ETHERNET, frame.get(..len).unwrap());
            let expected_stop = if len < options_end {
                Some(StopReason::TruncatedTunnel)
            } else if len < ip_start {
                Some(StopReason::TruncatedLink)
            } else if len < ip_start + 20 {
                Some(StopReason::TruncatedIp)
            } else if len < ip_start + 40 {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            let expected_id = (len >= udp_end + 8).then_some(10);
            assert_eq!(
                decoded.tunnel.and_then(|tunnel| tunnel.id),
                expected_id,
                "length {len}"
            );
        }
    }
}
