//! Teredo (RFC 4380): IPv6 packets in UDP, optionally after an authentication and an
//! origin indication.

use crate::bytes::bytes_from;
use crate::link::{NetworkLayer, NetworkProtocol};
use crate::packet::{IpInfo, StopReason, TunnelKind};
use crate::state::DecodeState;

/// The UDP port of Teredo servers.
pub(crate) const PORT: u16 = 3544;

/// The length of an IPv6 header, the smallest packet Teredo carries (a bubble).
const MIN_PACKET_LEN: u32 = 40;
/// The fixed fields of an authentication indicator: indicator type, client identifier
/// length and authentication value length.
const AUTHENTICATION_FIXED_LEN: usize = 4;
/// The nonce and confirmation byte after the variable fields.
const AUTHENTICATION_TRAILER_LEN: usize = 9;
/// An origin indication: indicator type, port and IPv4 address.
const ORIGIN_INDICATION_LEN: usize = 8;

/// The result of scanning the start of a UDP payload.
enum Scan<'a> {
    /// An IPv6 packet starts here, after any indicators.
    Ipv6(&'a [u8]),
    /// The payload is not Teredo.
    Other,
    /// The capture ends before the IPv6 version nibble.
    Cut,
}

/// Decodes the UDP payload `body` of a datagram from or to [`PORT`], whose length
/// from the IP header is `body_len`.
///
/// Returns `None` when the payload cannot be a Teredo packet: shorter than an IPv6
/// header, or not an IPv6 packet after the indicators. The caller then keeps the
/// datagram as UDP.
///
/// NOTE: traffic between a Teredo client and a relay uses other ports on both sides,
/// so it is not recognised and stays UDP.
pub(crate) fn decode_teredo<'a>(
    outer: &IpInfo,
    body: &'a [u8],
    body_len: u32,
    state: &mut DecodeState,
) -> Option<Result<NetworkLayer<'a>, StopReason>> {
    if body_len < MIN_PACKET_LEN {
        return None;
    }
    let packet = match scan(body) {
        Scan::Ipv6(packet) => Some(packet),
        Scan::Cut => None,
        Scan::Other => return None,
    };
    Some(enter_teredo(outer, packet, state))
}

/// Enters the tunnel and returns the IPv6 packet, or stops if the capture ended before
/// it.
fn enter_teredo<'a>(
    outer: &IpInfo,
    packet: Option<&'a [u8]>,
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    state.enter_tunnel(TunnelKind::Teredo, outer)?;
    let packet = packet.ok_or(StopReason::TruncatedTunnel)?;
    Ok(NetworkLayer::new(NetworkProtocol::Ipv6, packet))
}

/// Skips the indicators at the start of `body` and checks for the IPv6 version nibble.
fn scan(body: &[u8]) -> Scan<'_> {
    let rest = match body {
        [0, 1, ..] => match skip_authentication(body) {
            Some(rest) => rest,
            None => return Scan::Cut,
        },
        [0] | [] => return Scan::Cut,
        _ => body,
    };
    let rest = match rest {
        [0, 0, ..] if rest.len() < ORIGIN_INDICATION_LEN => return Scan::Cut,
        [0, 0, ..] => bytes_from(rest, ORIGIN_INDICATION_LEN),
        [0] => return Scan::Cut,
        _ => rest,
    };
    match rest.first() {
        None => Scan::Cut,
        Some(first) if first >> 4 == 6 => Scan::Ipv6(rest),
        Some(_) => Scan::Other,
    }
}

/// Returns the bytes after an authentication indicator, or `None` if the capture ends
/// inside it.
fn skip_authentication(body: &[u8]) -> Option<&[u8]> {
    let fixed = body.first_chunk::<AUTHENTICATION_FIXED_LEN>()?;
    let len = AUTHENTICATION_FIXED_LEN
        + usize::from(fixed[2])
        + usize::from(fixed[3])
        + AUTHENTICATION_TRAILER_LEN;
    body.get(len..)
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, StopReason, Transport, TunnelKind};

    /// An origin indication: port and address, both obfuscated.
    const ORIGIN_INDICATION: [u8; 8] = [0, 0, 0x0d, 0x80, 0x3f, 0xff, 0xfd, 0xfe];

    fn teredo_packet(src_port: u16, dst_port: u16, udp_payload: &[u8]) -> Vec<u8> {
        outer_ipv4(PROTO_UDP, &udp(src_port, dst_port, udp_payload))
    }

    fn tcp_v6() -> Vec<u8> {
        ipv6(PROTO_TCP, &tcp_default(5))
    }

    #[test]
    fn ipv6_inside_udp_from_or_to_the_server() {
        for (src_port, dst_port) in [(3544, 40000), (40000, 3544)] {
            let decoded = decode(linktype::RAW, &teredo_packet(src_port, dst_port, &tcp_v6()));
            let tunnel = expect_tunnel(&decoded);

            assert_eq!(decoded.stop, None, "ports {src_port} {dst_port}");
            assert_eq!(expect_ip(&decoded).src.to_string(), "2001:db8::1");
            assert_eq!(expect_tcp(&decoded).payload_len, 5);
            assert_eq!(tunnel.kind, TunnelKind::Teredo);
            assert_eq!(tunnel.src.to_string(), "192.0.2.1");
            assert_eq!(tunnel.id, None);
        }
    }

    #[test]
    fn indicators_are_skipped() {
        let mut authentication = vec![0, 1, 2, 3, 0xaa, 0xbb, 1, 2, 3];
        authentication.extend_from_slice(&[0; 9]);
        let mut both = authentication.clone();
        both.extend_from_slice(&ORIGIN_INDICATION);
        let cases = [
            ("origin", ORIGIN_INDICATION.to_vec()),
            ("authentication", authentication),
            ("both", both),
        ];
        for (name, indicators) in cases {
            let mut payload = indicators;
            payload.extend(tcp_v6());
            let decoded = decode(linktype::RAW, &teredo_packet(3544, 40000, &payload));

            assert_eq!(decoded.stop, None, "{name}");
            assert_eq!(expect_tcp(&decoded).payload_len, 5, "{name}");
        }
    }

    #[test]
    fn other_payload_is_plain_udp() {
        let decoded = decode(linktype::RAW, &teredo_packet(3544, 40000, &[0x45; 48]));

        assert_eq!(decoded.tunnel, None);
        assert!(matches!(decoded.transport, Transport::Udp(_)));
    }

    #[test]
    fn cut_at_every_length() {
        let mut payload = ORIGIN_INDICATION.to_vec();
        payload.extend(tcp_v6());
        let packet = teredo_packet(3544, 40000, &payload);
        let (udp_end, ipv6_start) = (28, 36);

        for len in udp_end..=packet.len() {
            let decoded = decode(linktype::RAW, packet.get(..len).unwrap());
            let expected_stop = if len <= ipv6_start {
                Some(StopReason::TruncatedTunnel)
            } else if len < ipv6_start + 40 {
                Some(StopReason::TruncatedIp)
            } else if len < ipv6_start + 60 {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert!(decoded.tunnel.is_some(), "length {len}");
        }
    }
}
