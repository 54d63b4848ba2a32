//! Transport-layer dispatch, with the UDP, SCTP and ICMP decoders.

use crate::bytes::len_u32;
use crate::ip::IpPayload;
use crate::packet::{IcmpInfo, IpInfo, SctpInfo, StopReason, Transport, UdpInfo};
use crate::tcp::{self, decode_tcp};

const ICMP: u8 = 1;
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// The length of a UDP header.
pub(crate) const UDP_HEADER_LEN: usize = 8;
/// The length of the SCTP common header: ports, verification tag and checksum.
const SCTP_HEADER_LEN: usize = 12;
/// The type, code and checksum that start every ICMP and ICMPv6 message.
const ICMP_HEADER_LEN: usize = 4;

/// Decodes the transport header of `payload`.
#[inline]
pub(crate) fn decode_transport(payload: IpPayload<'_>) -> Result<Transport, StopReason> {
    match payload.protocol {
        TCP => decode_tcp(payload).map(Transport::Tcp),
        UDP => decode_udp(payload).map(Transport::Udp),
        ICMP | ICMPV6 => decode_icmp(payload).map(Transport::Icmp),
        SCTP => decode_sctp(payload).map(Transport::Sctp),
        _ => Err(StopReason::OtherProtocol),
    }
}

/// Decodes the transport header of a fragmented datagram from its leading bytes,
/// which a fragment table joined from a first fragment too short to hold them and
/// the fragment after it.
///
/// `protocol` is the IP protocol number, `head` the bytes from the start of the
/// transport header, and `segment_len` the transport length to report: the bytes of
/// the header and payload that the first fragment carried. TCP needs the first 16
/// bytes of its header (up to and including the window), SCTP its 12-byte common
/// header, and UDP, ICMP and ICMPv6 their first 8 bytes. Bytes past those are
/// ignored. The TCP data offset is checked against the 20-byte minimum only,
/// because the header may continue past the first fragment. The payload length
/// is `segment_len` minus the header length, or 0 when the header does not fit
/// in it.
///
/// # Errors
///
/// Returns [`StopReason::TruncatedTransport`] if `head` is shorter than the bytes
/// needed, [`StopReason::BadTcpDataOffset`] for a TCP data offset below 5, and
/// [`StopReason::OtherProtocol`] for any other protocol.
///
/// ```
/// use wsd_decode::{decode_transport_head, StopReason, Transport};
///
/// // Ports 12345 and 8080, sequence 1, acknowledgment 0, data offset 5, SYN.
/// let head = [0x30, 0x39, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff];
/// let Ok(Transport::Tcp(tcp)) = decode_transport_head(6, &head, 8) else {
///     panic!("expected TCP");
/// };
/// assert_eq!((tcp.src_port, tcp.dst_port, tcp.header_len), (12345, 8080, 20));
/// assert_eq!((tcp.segment_len, tcp.payload_len), (8, 0));
/// assert_eq!(
///     decode_transport_head(6, &head[..8], 8),
///     Err(StopReason::TruncatedTransport)
/// );
/// ```
pub fn decode_transport_head(
    protocol: u8,
    head: &[u8],
    segment_len: u32,
) -> Result<Transport, StopReason> {
    let needed = match protocol {
        TCP => return tcp::decode_tcp_head(head, segment_len).map(Transport::Tcp),
        UDP | ICMP | ICMPV6 => UDP_HEADER_LEN,
        SCTP => SCTP_HEADER_LEN,
        _ => return Err(StopReason::OtherProtocol),
    };
    let header = head.get(..needed).ok_or(StopReason::TruncatedTransport)?;
    let payload = IpPayload {
        protocol,
        bytes: header,
        len: segment_len,
    };
    decode_transport(payload)
}

/// Replaces [`StopReason::TruncatedTransport`] with [`StopReason::TinyFragment`] when
/// `ip` is a first fragment whose length, rather than the capture, cuts the part of
/// the header that flow tracking reads (16 bytes of TCP, the whole UDP, SCTP or
/// ICMP header).
#[inline]
pub(crate) fn classify_error(
    reason: StopReason,
    ip: &IpInfo,
    payload: IpPayload<'_>,
) -> StopReason {
    let min_header_len = match payload.protocol {
        TCP => tcp::HEAD_LEN,
        UDP => UDP_HEADER_LEN,
        ICMP | ICMPV6 => ICMP_HEADER_LEN,
        SCTP => SCTP_HEADER_LEN,
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
    let (src_port, dst_port) = leading_ports::<UDP_HEADER_LEN>(&payload)?;
    Ok(UdpInfo {
        src_port,
        dst_port,
        datagram_len: payload.len,
    })
}

/// Decodes the ports of an SCTP common header. The packet length comes from the IP
/// header, as for UDP. The checksum is not verified and the chunks are not read.
#[inline]
fn decode_sctp(payload: IpPayload<'_>) -> Result<SctpInfo, StopReason> {
    let (src_port, dst_port) = leading_ports::<SCTP_HEADER_LEN>(&payload)?;
    Ok(SctpInfo {
        src_port,
        dst_port,
        packet_len: payload.len,
    })
}

/// Returns the source and destination ports that start a transport header of
/// `HEADER_LEN` bytes, or an error if the captured bytes do not hold the whole
/// header.
#[inline]
fn leading_ports<const HEADER_LEN: usize>(
    payload: &IpPayload<'_>,
) -> Result<(u16, u16), StopReason> {
    let [src_high, src_low, dst_high, dst_low] = *payload
        .bytes
        .get(..HEADER_LEN)
        .and_then(<[u8]>::first_chunk::<4>)
        .ok_or(StopReason::TruncatedTransport)?;
    Ok((
        u16::from_be_bytes([src_high, src_low]),
        u16::from_be_bytes([dst_high, dst_low]),
    ))
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
        decode, decode_transport_head, decode_with, linktype, DecodeOptions, IcmpInfo, Layer,
        SctpInfo, StopReason, TcpFlags, Transport, UdpInfo,
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
    fn esp_is_other_protocol() {
        let decoded = decode(linktype::IPV4, &ipv4(50, &[0; 12]));

        assert_eq!(decoded.stop, Some(StopReason::OtherProtocol));
        assert!(!StopReason::OtherProtocol.is_malformed());
        assert_eq!(expect_ip(&decoded).protocol, 50);
    }

    #[test]
    fn sctp_ports_and_length() {
        // One 20-byte DATA chunk: type, flags, length, TSN, stream, sequence,
        // payload protocol and 4 bytes of user data.
        let chunk = [0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        let packet = ipv4(PROTO_SCTP, &sctp(2905, 36412, &chunk));
        let decoded = decode(linktype::ETHERNET, &ethernet(ETHERTYPE_IPV4, &packet));

        assert_eq!(decoded.stop, None);
        assert_eq!(
            decoded.transport,
            Transport::Sctp(SctpInfo {
                src_port: 2905,
                dst_port: 36412,
                packet_len: 32,
            })
        );
    }

    #[test]
    fn sctp_over_ipv6() {
        let decoded = decode(linktype::IPV6, &ipv6(PROTO_SCTP, &sctp(3868, 3868, &[])));

        assert_eq!(decoded.stop, None);
        assert_eq!(
            decoded.transport,
            Transport::Sctp(SctpInfo {
                src_port: 3868,
                dst_port: 3868,
                packet_len: 12,
            })
        );
    }

    #[test]
    fn sctp_header_cut_by_capture() {
        let packet = ipv4(PROTO_SCTP, &sctp(1, 2, &[0; 16]));
        let decoded = decode(linktype::IPV4, packet.get(..31).unwrap());

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
        assert!(StopReason::TruncatedTransport.is_malformed());
        assert_eq!(expect_ip(&decoded).protocol, PROTO_SCTP);
        assert_eq!(decoded.transport, Transport::None);
    }

    #[test]
    fn sctp_header_cut_by_ip_length() {
        // The IP length leaves 8 bytes, the ports and the verification tag.
        let decoded = decode(
            linktype::IPV4,
            &ipv4(PROTO_SCTP, sctp(1, 2, &[]).get(..8).unwrap()),
        );

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
        assert_eq!(decoded.transport, Transport::None);
    }

    #[test]
    fn tiny_sctp_first_fragment_is_named() {
        let mut packet = ipv4(PROTO_SCTP, sctp(1, 2, &[]).get(..8).unwrap());
        set_ipv4_fragment_field(&mut packet, 0x2000);
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, Some(StopReason::TinyFragment));
        assert_eq!(decoded.transport, Transport::None);
        assert_eq!(decoded.fragment.unwrap().head.as_bytes().len(), 8);
    }

    #[test]
    fn sctp_first_fragment_decodes() {
        let mut packet = ipv4(PROTO_SCTP, &sctp(2905, 36412, &[0; 24]));
        set_ipv4_fragment_field(&mut packet, 0x2000);
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(
            decoded.transport,
            Transport::Sctp(SctpInfo {
                src_port: 2905,
                dst_port: 36412,
                packet_len: 36,
            })
        );
    }

    #[test]
    fn later_sctp_fragment_has_no_header() {
        let mut packet = ipv4(PROTO_SCTP, &sctp(2905, 36412, &[0; 24]));
        set_ipv4_fragment_field(&mut packet, 3);
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, Some(StopReason::Fragment));
        assert_eq!(decoded.transport, Transport::None);
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
    fn transport_head_at_every_length() {
        let segment = tcp_default(0);
        let datagram = udp(5353, 53, &[0; 24]);
        let sctp_packet = sctp(2905, 36412, &[0; 16]);
        let echo = [
            8, 0, 0xf7, 0xff, 0x12, 0x34, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let cases: [(u8, &[u8], usize); 5] = [
            (PROTO_TCP, &segment, 16),
            (PROTO_UDP, &datagram, 8),
            (PROTO_SCTP, &sctp_packet, 12),
            (1, &echo, 8),
            (58, &echo, 8),
        ];
        for (protocol, bytes, needed) in cases {
            for len in 0..=bytes.len() {
                let head = bytes.get(..len).unwrap();
                let result = decode_transport_head(protocol, head, 8);

                if len < needed {
                    assert_eq!(
                        result,
                        Err(StopReason::TruncatedTransport),
                        "protocol {protocol}, {len} bytes"
                    );
                } else {
                    assert!(result.is_ok(), "protocol {protocol}, {len} bytes");
                }
            }
        }
    }

    #[test]
    fn transport_head_fields() {
        let fields = TcpFields {
            src_port: 12345,
            dst_port: 8080,
            seq: 7,
            ack: 9,
            flags: TcpFlags::SYN,
            window: 1024,
        };
        let segment = tcp(fields, &SYN_OPTIONS, &[]);
        let tcp = match decode_transport_head(PROTO_TCP, segment.get(..16).unwrap(), 16) {
            Ok(Transport::Tcp(tcp)) => tcp,
            other => panic!("expected TCP, got {other:?}"),
        };
        let echo = [8, 0, 0xf7, 0xff, 0x12, 0x34, 0, 1];
        let icmp = decode_transport_head(1, &echo, 8);
        let udp = decode_transport_head(PROTO_UDP, &udp(5353, 53, &[]), 8);
        let sctp = decode_transport_head(PROTO_SCTP, &sctp(2905, 36412, &[0; 4]), 40);

        assert_eq!((tcp.src_port, tcp.dst_port), (12345, 8080));
        assert_eq!((tcp.seq, tcp.ack, tcp.window), (7, 9, 1024));
        assert!(tcp.flags.has(TcpFlags::SYN));
        assert_eq!(tcp.header_len, 40);
        assert_eq!(tcp.segment_len, 16);
        assert_eq!(tcp.payload_len, 0);
        assert_eq!(
            icmp,
            Ok(Transport::Icmp(IcmpInfo {
                icmp_type: 8,
                code: 0,
                v6: false,
                echo_id: Some(0x1234),
            }))
        );
        assert_eq!(
            udp,
            Ok(Transport::Udp(UdpInfo {
                src_port: 5353,
                dst_port: 53,
                datagram_len: 8,
            }))
        );
        assert_eq!(
            sctp,
            Ok(Transport::Sctp(SctpInfo {
                src_port: 2905,
                dst_port: 36412,
                packet_len: 40,
            }))
        );
    }

    #[test]
    fn transport_head_rejects_bad_input() {
        let mut segment = tcp_default(0);
        *segment.get_mut(12).unwrap() = 4 << 4;

        assert_eq!(
            decode_transport_head(PROTO_TCP, &segment, 20),
            Err(StopReason::BadTcpDataOffset)
        );
        assert_eq!(
            decode_transport_head(50, &[0; 16], 16),
            Err(StopReason::OtherProtocol)
        );
    }

    #[test]
    fn first_fragment_with_16_tcp_bytes_decodes() {
        let mut packet = ipv4(PROTO_TCP, tcp_default(0).get(..16).unwrap());
        set_ipv4_fragment_field(&mut packet, 0x2000);
        let decoded = decode(linktype::IPV4, &packet);
        let tcp = expect_tcp(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(tcp.header_len, 20);
        assert_eq!(tcp.segment_len, 16);
        assert_eq!(tcp.payload_len, 0);
    }

    #[test]
    fn first_fragment_cutting_options_decodes() {
        // A 40-byte header whose options continue in the next fragment.
        let segment = tcp(TcpFields::default(), &SYN_OPTIONS, &[]);
        let mut packet = ipv4(PROTO_TCP, segment.get(..24).unwrap());
        set_ipv4_fragment_field(&mut packet, 0x2000);
        let decoded = decode(linktype::IPV4, &packet);
        let tcp = expect_tcp(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(tcp.header_len, 40);
        assert_eq!(tcp.segment_len, 24);
        assert_eq!(tcp.payload_len, 0);
    }

    #[test]
    fn whole_datagram_cutting_options_is_bad_offset() {
        let segment = tcp(TcpFields::default(), &SYN_OPTIONS, &[]);
        let packet = ipv4(PROTO_TCP, segment.get(..24).unwrap());
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, Some(StopReason::BadTcpDataOffset));
    }

    #[test]
    fn fragment_head_and_data_length() {
        let segment = tcp_default(0);
        let mut first = ipv4(PROTO_TCP, segment.get(..8).unwrap());
        set_ipv4_fragment_field(&mut first, 0x2000);
        let mut later = ipv4(PROTO_TCP, segment.get(8..).unwrap());
        set_ipv4_fragment_field(&mut later, 1);

        let first = decode(linktype::IPV4, &first).fragment.unwrap();
        let later = decode(linktype::IPV4, &later).fragment.unwrap();

        assert_eq!(first.data_len, 8);
        assert_eq!(first.head.as_bytes(), segment.get(..8).unwrap());
        assert_eq!(later.offset, 8);
        assert_eq!(later.data_len, 12);
        assert_eq!(later.head.as_bytes(), segment.get(8..).unwrap());
    }

    #[test]
    fn ipv6_fragment_head_skips_extension_headers() {
        // A destination options header after the fragment header belongs to the
        // fragment's data, so the data length counts it and the head starts after it.
        let segment = tcp_default(0);
        let mut payload = ipv6_fragment_header(60, 0, true);
        payload.extend(ipv6_options_header(PROTO_TCP, 8));
        payload.extend(segment.get(..8).unwrap());
        let decoded = decode(linktype::IPV6, &ipv6(44, &payload));
        let fragment = decoded.fragment.unwrap();

        assert_eq!(decoded.stop, Some(StopReason::TinyFragment));
        assert_eq!(fragment.data_len, 16);
        assert_eq!(fragment.head.as_bytes(), segment.get(..8).unwrap());
        assert_eq!(expect_ip(&decoded).protocol, PROTO_TCP);
    }

    #[test]
    fn whole_datagram_short_of_header_is_truncated() {
        let packet = ipv4(PROTO_TCP, tcp_default(0).get(..8).unwrap());
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
    }
}
