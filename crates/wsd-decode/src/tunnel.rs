//! Tunnel dispatch after an IP header: IP in IP, GRE, and the UDP tunnels VXLAN, Geneve
//! and Teredo.

use crate::bytes::{bytes_from, len_u32};
use crate::ip::IpPayload;
use crate::link::{NetworkLayer, NetworkProtocol};
use crate::packet::{IpInfo, StopReason, TunnelKind};
use crate::state::DecodeState;
use crate::transport::{self, UDP, UDP_HEADER_LEN};
use crate::{geneve, gre, teredo, vxlan};

/// The IP protocol number of IPv4 inside IP.
const PROTOCOL_IPV4: u8 = 4;
/// The IP protocol number of IPv6 inside IP.
const PROTOCOL_IPV6: u8 = 41;
/// The IP protocol number of GRE.
const PROTOCOL_GRE: u8 = 47;

/// Returns true if an IP packet whose payload is `payload` may carry a tunnel: with
/// decapsulation on, IP in IP, GRE, and UDP datagrams to or from a tunnel port. This
/// check is cheap and inlined, so that other packets never reach the tunnel decoders.
#[inline]
pub(crate) fn may_carry_tunnel(payload: &IpPayload<'_>, decapsulate: bool) -> bool {
    if !decapsulate {
        return false;
    }
    match payload.protocol {
        PROTOCOL_IPV4 | PROTOCOL_IPV6 | PROTOCOL_GRE => true,
        UDP => payload.bytes.first_chunk::<4>().is_some_and(|ports| {
            let src_port = u16::from_be_bytes([ports[0], ports[1]]);
            let dst_port = u16::from_be_bytes([ports[2], ports[3]]);
            matches!(dst_port, vxlan::PORT | geneve::PORT | teredo::PORT)
                || src_port == teredo::PORT
        }),
        _ => false,
    }
}

/// Finds the tunnel that the IP packet `ip` carries in `payload`, enters it and
/// decodes the headers up to the inner IP header.
///
/// Returns `None` if `payload` is not a tunnel after all, for example a UDP datagram to
/// the VXLAN port without the VXLAN flag. The caller then decodes it as a transport
/// header.
pub(crate) fn decode_tunnel<'a>(
    ip: &IpInfo,
    payload: IpPayload<'a>,
    state: &mut DecodeState,
) -> Option<Result<NetworkLayer<'a>, StopReason>> {
    if !state.decapsulate {
        return None;
    }
    match payload.protocol {
        PROTOCOL_IPV4 => Some(enter_ip_in_ip(NetworkProtocol::Ipv4, ip, payload, state)),
        PROTOCOL_IPV6 => Some(enter_ip_in_ip(NetworkProtocol::Ipv6, ip, payload, state)),
        PROTOCOL_GRE => Some(gre::decode_gre(ip, payload, state)),
        UDP => decode_udp_tunnel(ip, payload, state),
        _ => None,
    }
}

fn enter_ip_in_ip<'a>(
    protocol: NetworkProtocol,
    outer: &IpInfo,
    payload: IpPayload<'a>,
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    state.enter_tunnel(TunnelKind::IpInIp, outer)?;
    Ok(NetworkLayer::new(protocol, payload.bytes))
}

/// Decodes the tunnel after a UDP header if the ports name one and the payload fits.
fn decode_udp_tunnel<'a>(
    ip: &IpInfo,
    payload: IpPayload<'a>,
    state: &mut DecodeState,
) -> Option<Result<NetworkLayer<'a>, StopReason>> {
    // A cut UDP header is left to the transport decoder to report.
    let udp = transport::decode_udp(payload).ok()?;
    let body = bytes_from(payload.bytes, UDP_HEADER_LEN);
    let body_len = payload.len.saturating_sub(len_u32(UDP_HEADER_LEN));

    match (udp.src_port, udp.dst_port) {
        (_, vxlan::PORT) => vxlan::decode_vxlan(ip, body, body_len, state),
        (_, geneve::PORT) => geneve::decode_geneve(ip, body, body_len, state),
        (teredo::PORT, _) | (_, teredo::PORT) => teredo::decode_teredo(ip, body, body_len, state),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, decode_with, linktype, DecodeOptions, StopReason, TunnelKind};

    #[test]
    fn ip_in_ip_in_all_four_combinations() {
        let tcp_v4 = ipv4(PROTO_TCP, &tcp_default(1));
        let tcp_v6 = ipv6(PROTO_TCP, &tcp_default(1));
        let cases = [
            (
                "4in4",
                outer_ipv4(PROTO_IPV4_IN_IP, &tcp_v4),
                "10.0.0.1",
                "192.0.2.1",
            ),
            (
                "6in4",
                outer_ipv4(PROTO_IPV6_IN_IP, &tcp_v6),
                "2001:db8::1",
                "192.0.2.1",
            ),
            (
                "4in6",
                outer_ipv6(PROTO_IPV4_IN_IP, &tcp_v4),
                "10.0.0.1",
                "2001:db8:ff::1",
            ),
            (
                "6in6",
                outer_ipv6(PROTO_IPV6_IN_IP, &tcp_v6),
                "2001:db8::1",
                "2001:db8:ff::1",
            ),
        ];
        for (name, packet, inner_src, outer_src) in cases {
            let decoded = decode(linktype::RAW, &packet);
            let tunnel = expect_tunnel(&decoded);

            assert_eq!(decoded.stop, None, "{name}");
            assert_eq!(expect_ip(&decoded).src.to_string(), inner_src, "{name}");
            assert_eq!(expect_tcp(&decoded).payload_len, 1, "{name}");
            assert_eq!(tunnel.kind, TunnelKind::IpInIp, "{name}");
            assert_eq!(tunnel.src.to_string(), outer_src, "{name}");
            assert_eq!(tunnel.id, None, "{name}");
        }
    }

    #[test]
    fn inner_version_must_match_protocol() {
        let packet = outer_ipv4(PROTO_IPV4_IN_IP, &ipv6(PROTO_TCP, &tcp_default(0)));
        let decoded = decode(linktype::RAW, &packet);

        assert_eq!(decoded.stop, Some(StopReason::BadIpVersion));
        assert_eq!(decoded.ip, None);
        assert_eq!(expect_tunnel(&decoded).kind, TunnelKind::IpInIp);
    }

    #[test]
    fn decapsulation_off_reports_outer_packet() {
        let packet = outer_ipv4(PROTO_IPV6_IN_IP, &ipv6(58, &[128, 0, 0, 0]));
        let options = DecodeOptions::new().with_decapsulate(false);
        let decoded = decode_with(linktype::RAW, &packet, &options);

        assert_eq!(decoded.stop, Some(StopReason::OtherProtocol));
        assert_eq!(expect_ip(&decoded).protocol, PROTO_IPV6_IN_IP);
        assert_eq!(decoded.tunnel, None);
    }

    #[test]
    fn nesting_limit_applies_to_ip_in_ip() {
        let limit = usize::from(crate::state::MAX_ENCAPSULATIONS);
        let mut packet = ipv4(PROTO_TCP, &tcp_default(0));
        for depth in 1..=limit + 1 {
            packet = outer_ipv4(PROTO_IPV4_IN_IP, &packet);
            let decoded = decode(linktype::RAW, &packet);
            let expected_stop = (depth > limit).then_some(StopReason::TooManyEncapsulations);

            assert_eq!(decoded.stop, expected_stop, "depth {depth}");
        }
    }

    #[test]
    fn cut_at_every_length() {
        let packet = outer_ipv6(PROTO_IPV4_IN_IP, &ipv4(PROTO_TCP, &tcp_default(0)));
        for len in 0..=packet.len() {
            let decoded = decode(linktype::RAW, packet.get(..len).unwrap());
            let expected_stop = match len {
                0..40 => Some(StopReason::TruncatedIp),
                40..60 => Some(StopReason::TruncatedIp),
                60..80 => Some(StopReason::TruncatedTransport),
                _ => None,
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert_eq!(decoded.tunnel.is_some(), len >= 40, "length {len}");
            assert_eq!(decoded.ip.is_some(), len >= 60, "length {len}");
        }
    }
}
