//! Cisco HDLC framing: an address byte, a control byte and a 2-byte Ethernet type.

use crate::bytes::split_be_u16;
use crate::ethernet::decode_ethertype;
use crate::link::NetworkLayer;
use crate::packet::StopReason;
use crate::state::DecodeState;

/// Decodes a Cisco HDLC header. The address (0x0F unicast, 0x8F broadcast) and control
/// bytes are not checked, because only the protocol field matters here.
pub(crate) fn decode_chdlc<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (_address_control, rest) = data
        .split_first_chunk::<2>()
        .ok_or(StopReason::TruncatedLink)?;
    let (protocol, rest) = split_be_u16(rest).ok_or(StopReason::TruncatedLink)?;
    decode_ethertype(protocol, rest, state)
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, StopReason};

    fn chdlc(protocol: u16, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x0f, 0x00];
        frame.extend_from_slice(&protocol.to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn carries_ipv4_and_ipv6() {
        let v4 = decode(
            linktype::C_HDLC,
            &chdlc(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(4))),
        );
        let v6 = decode(
            linktype::C_HDLC,
            &chdlc(ETHERTYPE_IPV6, &ipv6(PROTO_TCP, &tcp_default(6))),
        );

        assert_eq!(v4.stop, None);
        assert_eq!(expect_tcp(&v4).payload_len, 4);
        assert_eq!(v6.stop, None);
        assert_eq!(expect_tcp(&v6).payload_len, 6);
        assert_eq!(v4.src_mac, None);
    }

    #[test]
    fn keepalive_is_not_ip() {
        // SLARP, the Cisco serial line keepalive.
        let decoded = decode(linktype::C_HDLC, &chdlc(0x8035, &[0; 20]));

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
    }

    #[test]
    fn cut_at_every_length() {
        let frame = chdlc(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(0)));
        for len in 0..=frame.len() {
            let decoded = decode(linktype::C_HDLC, frame.get(..len).unwrap());
            let expected_stop = match len {
                0..4 => Some(StopReason::TruncatedLink),
                4..24 => Some(StopReason::TruncatedIp),
                24..44 => Some(StopReason::TruncatedTransport),
                _ => None,
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
        }
    }
}
