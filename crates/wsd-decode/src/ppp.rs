//! PPP (RFC 1661) on serial links, in PPPoE sessions (RFC 2516) and in PPTP tunnels.

use crate::bytes::{split_be_u16, truncate};
use crate::link::{NetworkLayer, NetworkProtocol};
use crate::packet::StopReason;
use crate::state::DecodeState;
use crate::{chdlc, mpls};

/// The all-stations address of HDLC-like framing (RFC 1662).
const HDLC_ADDRESS: u8 = 0xff;
/// The unnumbered-information control byte of HDLC-like framing.
const HDLC_CONTROL: u8 = 0x03;
/// The first bytes of Cisco HDLC unicast and broadcast frames, which link type
/// `PPP_HDLC` may also carry.
const CISCO_HDLC_UNICAST: u8 = 0x0f;
const CISCO_HDLC_BROADCAST: u8 = 0x8f;

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS_UNICAST: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;

/// The length of a PPPoE header: version and type, code, session ID and length.
const PPPOE_HEADER_LEN: usize = 6;
/// PPPoE version 1 and type 1, which share the first byte.
const PPPOE_VERSION_TYPE: u8 = 0x11;
/// The PPPoE code of session data.
const PPPOE_SESSION_DATA: u8 = 0x00;

/// Decodes a PPP frame, with or without the HDLC-like address and control bytes.
pub(crate) fn decode_ppp<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    let rest = match data {
        [HDLC_ADDRESS, HDLC_CONTROL, rest @ ..] => rest,
        [HDLC_ADDRESS] => return Err(StopReason::TruncatedLink),
        _ => data,
    };
    decode_ppp_protocol(rest, state)
}

/// Decodes a frame of link type `PPP_HDLC`: Cisco HDLC if its first byte is a Cisco
/// address, else PPP.
pub(crate) fn decode_ppp_hdlc<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    match data.first() {
        Some(&(CISCO_HDLC_UNICAST | CISCO_HDLC_BROADCAST)) => chdlc::decode_chdlc(data, state),
        _ => decode_ppp(data, state),
    }
}

/// Decodes a PPPoE session header and the PPP frame in it, which has no address and
/// control bytes. The PPPoE length field bounds the frame, so Ethernet padding is
/// ignored.
pub(crate) fn decode_pppoe_session<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    state.enter_encapsulation()?;
    let (header, rest) = data
        .split_first_chunk::<PPPOE_HEADER_LEN>()
        .ok_or(StopReason::TruncatedLink)?;
    if header[0] != PPPOE_VERSION_TYPE || header[1] != PPPOE_SESSION_DATA {
        return Err(StopReason::BadLinkHeader);
    }
    let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut network = decode_ppp_protocol(truncate(rest, length), state)?;
    // Unless the capture cut the frame, the PPPoE length is where the IP packet
    // ends, whatever its own length field claims.
    network.bounded = length <= rest.len();
    Ok(network)
}

/// Reads the PPP protocol field and maps it to IPv4, IPv6 or MPLS. The field is one
/// byte when the peers negotiated protocol-field compression (RFC 1661, section 6.5):
/// a one-byte value is odd, while the first byte of a two-byte value is even.
fn decode_ppp_protocol<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (protocol, rest) = match data {
        [first, rest @ ..] if first & 1 == 1 => (u16::from(*first), rest),
        _ => split_be_u16(data).ok_or(StopReason::TruncatedLink)?,
    };
    match protocol {
        PPP_IPV4 => Ok(NetworkLayer::new(NetworkProtocol::Ipv4, rest)),
        PPP_IPV6 => Ok(NetworkLayer::new(NetworkProtocol::Ipv6, rest)),
        PPP_MPLS_UNICAST | PPP_MPLS_MULTICAST => mpls::decode_mpls(rest, state),
        _ => Err(StopReason::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, Layer, MacAddr, StopReason};

    const PPP_LCP: u16 = 0xc021;
    const ETHERTYPE_PPPOE_DISCOVERY: u16 = 0x8863;

    fn tcp_v4() -> Vec<u8> {
        ipv4(PROTO_TCP, &tcp_default(10))
    }

    /// Builds a PPP frame with the given header bytes before the IP packet.
    fn ppp_frame(header: &[u8], packet: &[u8]) -> Vec<u8> {
        let mut frame = header.to_vec();
        frame.extend_from_slice(packet);
        frame
    }

    #[test]
    fn ppp_header_variants_carry_ip() {
        let cases: [(&str, &[u8]); 4] = [
            (
                "address, control, 2-byte protocol",
                &[0xff, 0x03, 0x00, 0x21],
            ),
            ("2-byte protocol", &[0x00, 0x21]),
            ("compressed protocol", &[0x21]),
            ("address, control, compressed protocol", &[0xff, 0x03, 0x21]),
        ];
        for (name, header) in cases {
            for linktype in [linktype::PPP, linktype::PPP_HDLC] {
                let decoded = decode(linktype, &ppp_frame(header, &tcp_v4()));

                assert_eq!(decoded.stop, None, "{name}, link type {linktype}");
                assert_eq!(decoded.src_mac, None, "{name}, link type {linktype}");
                assert_eq!(
                    expect_tcp(&decoded).payload_len,
                    10,
                    "{name}, link type {linktype}"
                );
            }
        }
    }

    #[test]
    fn ppp_carries_ipv6_and_mpls() {
        let v6 = ipv6(PROTO_TCP, &tcp_default(0));
        let ipv6_frame = ppp_frame(&[0xff, 0x03, 0x00, 0x57], &v6);
        let mpls_frame = ppp_frame(&[0xff, 0x03, 0x02, 0x81], &mpls(&[16], &tcp_v4()));

        let ipv6_decoded = decode(linktype::PPP, &ipv6_frame);
        let mpls_decoded = decode(linktype::PPP, &mpls_frame);

        assert_eq!(ipv6_decoded.stop, None);
        assert!(expect_ip(&ipv6_decoded).src.is_ipv6());
        assert_eq!(mpls_decoded.stop, None);
        assert_eq!(expect_tcp(&mpls_decoded).dst_port, 80);
    }

    #[test]
    fn ppp_control_protocol_is_not_ip() {
        let frame = ppp_frame(&[0xff, 0x03, 0xc0, 0x21], &[1, 1, 0, 4]);
        let decoded = decode(linktype::PPP, &frame);

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
    }

    #[test]
    fn ppp_hdlc_link_accepts_cisco_hdlc() {
        for address in [0x0f, 0x8f] {
            let frame = ppp_frame(&[address, 0x00, 0x08, 0x00], &tcp_v4());
            let decoded = decode(linktype::PPP_HDLC, &frame);

            assert_eq!(decoded.stop, None, "address {address:#04x}");
            assert_eq!(
                expect_tcp(&decoded).payload_len,
                10,
                "address {address:#04x}"
            );
        }
    }

    #[test]
    fn ppp_cut_at_every_length() {
        let frame = ppp_frame(&[0xff, 0x03, 0x00, 0x21], &tcp_v4());
        for len in 0..=frame.len() {
            let decoded = decode(linktype::PPP, frame.get(..len).unwrap());
            let expected_stop = match len {
                // Without its second byte, 0x00 is no valid compressed protocol.
                0..4 => Some(StopReason::TruncatedLink),
                4..24 => Some(StopReason::TruncatedIp),
                24..44 => Some(StopReason::TruncatedTransport),
                _ => None,
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
        }
    }

    #[test]
    fn pppoe_over_qinq_keeps_tags_and_macs() {
        let frame = ethernet_tagged(
            &[(ETHERTYPE_VLAN, 3704), (ETHERTYPE_VLAN, 2474)],
            ETHERTYPE_PPPOE_SESSION,
            &pppoe_session(PPP_IPV4, &tcp_v4()),
        );
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [3704, 2474]);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(decoded.dst_mac, Some(MacAddr(DST_MAC)));
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
        assert_eq!(decoded.tunnel, None);
    }

    #[test]
    fn pppoe_carries_ipv6() {
        let session = pppoe_session(PPP_IPV6, &ipv6(PROTO_TCP, &tcp_default(3)));
        let decoded = decode(
            linktype::ETHERNET,
            &ethernet(ETHERTYPE_PPPOE_SESSION, &session),
        );

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_tcp(&decoded).payload_len, 3);
    }

    #[test]
    fn pppoe_length_bounds_the_ip_length() {
        // The IP header claims 6 bytes more than the PPPoE length carries, and
        // Ethernet padding fills the frame: the PPPoE length wins.
        let packet = tcp_v4();
        let claimed = u16::try_from(packet.len() + 6).unwrap();
        let mut session = pppoe_session(PPP_IPV4, &packet);
        let ip_start = 6 + 2;
        session
            .get_mut(ip_start + 2..ip_start + 4)
            .unwrap()
            .copy_from_slice(&claimed.to_be_bytes());
        session.extend_from_slice(&[0; 6]);
        let decoded = decode(
            linktype::ETHERNET,
            &ethernet(ETHERTYPE_PPPOE_SESSION, &session),
        );

        assert_eq!(decoded.stop, None);
        let ip = decoded.ip.unwrap();
        assert_eq!(ip.total_len as usize, packet.len());
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
    }

    #[test]
    fn ip_length_kept_when_pppoe_frame_cut() {
        // A capture cut inside the PPPoE payload keeps the IP length as the wire
        // size.
        let packet = tcp_v4();
        let session = pppoe_session(PPP_IPV4, &packet);
        let mut frame = ethernet(ETHERTYPE_PPPOE_SESSION, &session);
        frame.truncate(frame.len() - 2);
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.ip.unwrap().total_len as usize, packet.len());
    }

    #[test]
    fn pppoe_length_bounds_the_frame() {
        // The PPPoE length field ends the PPP frame inside the IP header.
        let mut session = pppoe_session(PPP_IPV4, &tcp_v4());
        session
            .get_mut(4..6)
            .unwrap()
            .copy_from_slice(&12u16.to_be_bytes());
        let decoded = decode(
            linktype::ETHERNET,
            &ethernet(ETHERTYPE_PPPOE_SESSION, &session),
        );

        assert_eq!(decoded.stop, Some(StopReason::TruncatedIp));
    }

    #[test]
    fn pppoe_bad_header_fields() {
        for (offset, value) in [(0, 0x21), (0, 0x12), (1, 0x09)] {
            let mut session = pppoe_session(PPP_IPV4, &tcp_v4());
            *session.get_mut(offset).unwrap() = value;
            let decoded = decode(
                linktype::ETHERNET,
                &ethernet(ETHERTYPE_PPPOE_SESSION, &session),
            );

            assert_eq!(
                decoded.stop,
                Some(StopReason::BadLinkHeader),
                "byte {offset} = {value:#04x}"
            );
        }
        assert!(StopReason::BadLinkHeader.is_malformed());
        assert_eq!(StopReason::BadLinkHeader.layer(), Layer::Link);
    }

    #[test]
    fn pppoe_control_and_discovery_are_not_ip() {
        let lcp = ethernet(
            ETHERTYPE_PPPOE_SESSION,
            &pppoe_session(PPP_LCP, &[1, 1, 0, 4]),
        );
        let discovery = ethernet(ETHERTYPE_PPPOE_DISCOVERY, &[0x11, 0x09, 0, 0, 0, 0]);

        assert_eq!(
            decode(linktype::ETHERNET, &lcp).stop,
            Some(StopReason::NotIp)
        );
        assert_eq!(
            decode(linktype::ETHERNET, &discovery).stop,
            Some(StopReason::NotIp)
        );
    }

    #[test]
    fn pppoe_link_type_has_no_ethernet_header() {
        let decoded = decode(linktype::PPP_ETHER, &pppoe_session(PPP_IPV4, &tcp_v4()));

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, None);
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
    }

    #[test]
    fn pppoe_cut_at_every_length() {
        let frame = ethernet(ETHERTYPE_PPPOE_SESSION, &pppoe_session(PPP_IPV4, &tcp_v4()));
        let (ppp_end, ip_end, tcp_end) = (22, 42, 62);

        for len in 0..=frame.len() {
            let decoded = decode(linktype::ETHERNET, frame.get(..len).unwrap());
            let expected_stop = if len < ppp_end {
                Some(StopReason::TruncatedLink)
            } else if len < ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < tcp_end {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert_eq!(decoded.src_mac.is_some(), len >= 14, "length {len}");
        }
    }
}
