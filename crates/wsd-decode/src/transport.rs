//! Transport-layer dispatch, with the UDP and ICMP decoders.

use crate::bytes::len_u32;
use crate::ip::IpPayload;
use crate::packet::{IcmpInfo, IpInfo, StopReason, Transport, UdpInfo};
use crate::tcp::{self, decode_tcp};

const ICMP: u8 = 1;
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;
const ICMPV6: u8 = 58;

/// The length of a UDP header.
pub(crate) const UDP_HEADER_LEN: usize = 8;
/// The type, code and checksum that start every ICMP and ICMPv6 message.
const ICMP_HEADER_LEN: usize = 4;

/// Decodes the transport header of `payload`.
#[inline]
pub(crate) fn decode_transport(payload: IpPayload<'_>) -> Result<Transport, StopReason> {
    match payload.protocol {
        TCP => decode_tcp(payload).map(Transport::Tcp),
        UDP => decode_udp(payload).map(Transport::Udp),
        ICMP | ICMPV6 => decode_icmp(payload).map(Transport::Icmp),
        _ => Err(StopReason::OtherProtocol),
    }
}

/// Replaces [`StopReason::TruncatedTransport`] with [`StopReason::TinyFragment`] when
/// `ip` is a first fragment whose length, rather than the capture, cuts the header.
#[inline]
pub(crate) fn classify_error(
    reason: StopReason,
    ip: &IpInfo,
    payload: IpPayload<'_>,
) -> StopReason {
    let min_header_len = match payload.protocol {
        TCP => tcp::MIN_HEADER_LEN,
        UDP => UDP_HEADER_LEN,
        ICMP | ICMPV6 => ICMP_HEADER_LEN,
        _ => 0,
    };
    let cut_by_fragmentation = payload.len < len_u32(min_header_len);
    if reason == StopReason::TruncatedTransport && ip.is_first_fragment && cut_by_fragmentation {
        StopReason::TinyFragment
    } else {
        reason
    }
}

/// Decodes a UDP header. The datagram length comes from the IP header, as for TCP,
/// not from the UDP length field.
#[inline]
pub(crate) fn decode_udp(payload: IpPayload<'_>) -> Result<UdpInfo, StopReason> {
    let header = payload
        .bytes
        .first_chunk::<UDP_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTransport)?;
    Ok(UdpInfo {
        src_port: u16::from_be_bytes([header[0], header[1]]),
        dst_port: u16::from_be_bytes([header[2], header[3]]),
        datagram_len: payload.len,
    })
}

/// Decodes the type and code of an ICMP message (protocol 1) or an ICMPv6 message
/// (protocol 58), whatever the IP version that carries it.
#[inline]
fn decode_icmp(payload: IpPayload<'_>) -> Result<IcmpInfo, StopReason> {
    let header = payload
        .bytes
        .first_chunk::<ICMP_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTransport)?;
    let v6 = payload.protocol == ICMPV6;
    let is_echo = if v6 {
        matches!(header[0], 128 | 129)
    } else {
        matches!(header[0], 0 | 8)
    };
    // The identifier follows the 4-byte type, code and checksum.
    let echo_id = match payload.bytes.get(4..6) {
        Some(&[high, low]) if is_echo => Some(u16::from_be_bytes([high, low])),
        _ => None,
    };
    Ok(IcmpInfo {
        icmp_type: header[0],
        code: header[1],
        v6,
        echo_id,
    })
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{
        decode, decode_with, linktype, DecodeOptions, IcmpInfo, Layer, StopReason, Transport,
        UdpInfo,
    };

    #[test]
    fn udp_ports_and_length() {
        let mut frame = ethernet(ETHERTYPE_IPV4, &ipv4(PROTO_UDP, &udp(5353, 53, &[1, 2, 3])));
        frame.resize(60, 0);
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(
            decoded.transport,
            Transport::Udp(UdpInfo {
                src_port: 5353,
                dst_port: 53,
                datagram_len: 11
            })
        );
    }

    #[test]
    fn udp_over_ipv6() {
        let decoded = decode(linktype::IPV6, &ipv6(PROTO_UDP, &udp(1, 2, &[0; 100])));

        assert_eq!(
            decoded.transport,
            Transport::Udp(UdpInfo {
                src_port: 1,
                dst_port: 2,
                datagram_len: 108
            })
        );
    }

    #[test]
    fn udp_header_cut() {
        let packet = ipv4(PROTO_UDP, &udp(1, 2, &[]));
        let decoded = decode(linktype::IPV4, packet.get(..27).unwrap());

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
        assert!(decoded.ip.is_some());
    }

    #[test]
    fn icmp_echo_request() {
        let decoded = decode(
            linktype::IPV4,
            &ipv4(1, &[8, 0, 0xf7, 0xff, 0x12, 0x34, 0, 0]),
        );

        assert_eq!(decoded.stop, None);
        assert_eq!(
            decoded.transport,
            Transport::Icmp(IcmpInfo {
                icmp_type: 8,
                code: 0,
                v6: false,
                echo_id: Some(0x1234),
            })
        );
    }

    #[test]
    fn icmpv6_destination_unreachable() {
        let decoded = decode(linktype::IPV6, &ipv6(58, &[1, 4, 0, 0, 0, 0, 0, 0]));

        assert_eq!(decoded.stop, None);
        assert_eq!(
            decoded.transport,
            Transport::Icmp(IcmpInfo {
                icmp_type: 1,
                code: 4,
                v6: true,
                echo_id: None,
            })
        );
    }

    #[test]
    fn icmp_header_cut() {
        let decoded = decode(linktype::IPV4, &ipv4(1, &[8, 0, 0]));

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
    }

    #[test]
    fn gre_without_decapsulation_is_other_protocol() {
        let packet = ipv4(PROTO_GRE, &gre_plain(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &[])));
        let options = DecodeOptions::new().with_decapsulate(false);
        let decoded = decode_with(linktype::IPV4, &packet, &options);

        assert_eq!(decoded.stop, Some(StopReason::OtherProtocol));
        assert_eq!(expect_ip(&decoded).protocol, PROTO_GRE);
        assert_eq!(decoded.transport, Transport::None);
        assert_eq!(decoded.tunnel, None);
    }

    #[test]
    fn sctp_is_other_protocol() {
        let decoded = decode(linktype::IPV4, &ipv4(132, &[0; 12]));

        assert_eq!(decoded.stop, Some(StopReason::OtherProtocol));
        assert!(!StopReason::OtherProtocol.is_malformed());
        assert_eq!(expect_ip(&decoded).protocol, 132);
    }

    #[test]
    fn tiny_first_fragment_is_named() {
        // The first fragment holds only the ports and sequence number of the TCP header.
        let mut packet = ipv4(PROTO_TCP, tcp_default(0).get(..8).unwrap());
        set_ipv4_fragment_field(&mut packet, 0x2000);
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, Some(StopReason::TinyFragment));
        assert!(!StopReason::TinyFragment.is_malformed());
        assert_eq!(StopReason::TinyFragment.layer(), Layer::Transport);
        assert!(expect_ip(&decoded).is_first_fragment);
        assert_eq!(decoded.transport, Transport::None);
    }

    #[test]
    fn first_fragment_cut_by_capture_is_truncated() {
        let mut packet = ipv4(PROTO_TCP, &tcp_default(100));
        set_ipv4_fragment_field(&mut packet, 0x2000);
        let decoded = decode(linktype::IPV4, packet.get(..30).unwrap());

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
    }

    #[test]
    fn whole_datagram_short_of_header_is_truncated() {
        let packet = ipv4(PROTO_TCP, tcp_default(0).get(..8).unwrap());
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
    }
}
