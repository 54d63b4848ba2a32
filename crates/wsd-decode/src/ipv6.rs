//! IPv6 headers and the extension headers between them and the transport header.

use std::net::{IpAddr, Ipv6Addr};

use crate::bytes::{bytes_from, len_u32};
use crate::ip::{FragmentFields, IpLayer, IpPayload};
use crate::packet::{IpInfo, StopReason};

/// The length of the fixed IPv6 header.
const FIXED_HEADER_LEN: usize = 40;
/// The length of a fragment header, and the minimum of every other extension header.
const MIN_EXTENSION_LEN: usize = 8;

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AUTHENTICATION: u8 = 51;
const NO_NEXT_HEADER: u8 = 59;
const DESTINATION_OPTIONS: u8 = 60;

/// The maximum number of extension headers followed before decoding stops with
/// [`StopReason::BadIpv6ExtensionHeader`]. RFC 8200 allows each type once, except
/// destination options twice, so a valid chain of the types followed here has at most
/// six headers. The limit leaves room for senders that repeat one.
pub(crate) const MAX_EXTENSION_HEADERS: usize = 8;

/// The end of an extension header chain.
#[derive(Clone, Copy, Debug)]
struct ChainEnd {
    /// The next-header value after the last extension header.
    protocol: u8,
    /// Fixed header plus extension headers, in bytes.
    header_len: usize,
    is_first_fragment: bool,
    is_later_fragment: bool,
    /// The fields of the first fragment header in the chain.
    fragment: Option<FragmentFields>,
}

/// Decodes an IPv6 header and its extension headers, after the caller has checked the
/// version field.
///
/// A payload length of 0 is taken to mean the captured length, because jumbograms and
/// captures of segmentation-offloaded packets carry 0 there. The exception is a packet
/// with no next header, whose empty payload is real. When `bounded`, `data` ends
/// at the packet end that the link layer gives, and a length beyond it is cut to
/// it.
#[inline]
pub(crate) fn decode_ipv6(data: &[u8], bounded: bool) -> Result<IpLayer<'_>, StopReason> {
    let (fixed, rest) = data
        .split_first_chunk::<8>()
        .ok_or(StopReason::TruncatedIp)?;
    let (src, rest) = rest
        .split_first_chunk::<16>()
        .ok_or(StopReason::TruncatedIp)?;
    let (dst, _) = rest
        .split_first_chunk::<16>()
        .ok_or(StopReason::TruncatedIp)?;

    let payload_len = u16::from_be_bytes([fixed[4], fixed[5]]);
    let next_header = fixed[6];
    let total_len = if payload_len == 0 && next_header != NO_NEXT_HEADER {
        data.len()
    } else if bounded {
        (FIXED_HEADER_LEN + usize::from(payload_len)).min(data.len())
    } else {
        FIXED_HEADER_LEN + usize::from(payload_len)
    };

    let chain = walk_extension_headers(data, next_header, total_len)?;
    let info = IpInfo {
        src: IpAddr::V6(Ipv6Addr::from(*src)),
        dst: IpAddr::V6(Ipv6Addr::from(*dst)),
        protocol: chain.protocol,
        total_len: len_u32(total_len),
        header_len: len_u32(chain.header_len),
        is_later_fragment: chain.is_later_fragment,
        is_first_fragment: chain.is_first_fragment,
    };
    let payload = IpPayload::new(chain.protocol, data, chain.header_len, total_len);
    Ok((info, payload, chain.fragment))
}

/// Follows the extension headers of `packet` from `next_header` on, up to the first
/// header that is not an extension header or up to a fragment header with a nonzero
/// offset, after which no further headers are present.
#[inline]
fn walk_extension_headers(
    packet: &[u8],
    next_header: u8,
    total_len: usize,
) -> Result<ChainEnd, StopReason> {
    let mut end = ChainEnd {
        protocol: next_header,
        header_len: FIXED_HEADER_LEN,
        is_first_fragment: false,
        is_later_fragment: false,
        fragment: None,
    };
    let mut count = 0;

    while is_extension_header(end.protocol) {
        if count == MAX_EXTENSION_HEADERS {
            return Err(StopReason::BadIpv6ExtensionHeader);
        }
        count += 1;

        let start = end.header_len;
        let header = extension_header(packet, start, total_len)?;
        let len = extension_len(end.protocol, header[1]);
        check_extension_bounds(packet, start + len, total_len)?;

        // An atomic fragment (offset 0, no more fragments) is a whole datagram. Of
        // several fragment headers, which RFC 8200 does not allow, the first that
        // marks a fragment counts.
        if end.protocol == FRAGMENT && end.fragment.is_none() {
            let offset_field = u16::from_be_bytes([header[2], header[3]]);
            let fragment_offset = offset_field >> 3;
            let more_fragments = offset_field & 1 != 0;
            if fragment_offset != 0 || more_fragments {
                end.is_later_fragment = fragment_offset != 0;
                end.is_first_fragment = fragment_offset == 0;
                end.fragment = Some(FragmentFields {
                    protocol: header[0],
                    id: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
                    offset: fragment_offset * 8,
                    more_fragments,
                    data_start: start + len,
                });
            }
        }
        end.protocol = header[0];
        end.header_len = start + len;
        if end.is_later_fragment {
            break;
        }
    }
    Ok(end)
}

#[inline]
fn is_extension_header(protocol: u8) -> bool {
    matches!(
        protocol,
        HOP_BY_HOP | ROUTING | FRAGMENT | AUTHENTICATION | DESTINATION_OPTIONS
    )
}

/// Returns the first 8 bytes of the extension header at `start`: every extension
/// header is at least that long, and they hold all the fields read here.
#[inline]
fn extension_header(
    packet: &[u8],
    start: usize,
    total_len: usize,
) -> Result<&[u8; MIN_EXTENSION_LEN], StopReason> {
    check_extension_bounds(packet, start + MIN_EXTENSION_LEN, total_len)?;
    bytes_from(packet, start)
        .first_chunk::<MIN_EXTENSION_LEN>()
        .ok_or(StopReason::TruncatedIp)
}

/// Checks that an extension header ending at `end` lies inside the packet that the
/// IPv6 header declares and inside the captured bytes.
#[inline]
fn check_extension_bounds(packet: &[u8], end: usize, total_len: usize) -> Result<(), StopReason> {
    if end > total_len {
        return Err(StopReason::BadIpv6ExtensionHeader);
    }
    if end > packet.len() {
        return Err(StopReason::TruncatedIp);
    }
    Ok(())
}

/// Returns the length in bytes of an extension header from its length field: AH counts
/// 4-byte units minus 2, the fragment header is always 8 bytes, and the others count
/// 8-byte units after the first.
#[inline]
fn extension_len(protocol: u8, length_field: u8) -> usize {
    match protocol {
        AUTHENTICATION => (usize::from(length_field) + 2) * 4,
        FRAGMENT => MIN_EXTENSION_LEN,
        _ => (usize::from(length_field) + 1) * 8,
    }
}

#[cfg(test)]
mod tests {
    use super::{AUTHENTICATION, DESTINATION_OPTIONS, HOP_BY_HOP, MAX_EXTENSION_HEADERS, ROUTING};
    use crate::test_packets::*;
    use crate::{decode, linktype, StopReason, Transport};

    const FRAGMENT: u8 = super::FRAGMENT;
    const ESP: u8 = 50;
    const NO_NEXT_HEADER: u8 = super::NO_NEXT_HEADER;

    /// Builds an AH header that is `(length_field + 2) * 4` bytes long.
    fn authentication_header(next_header: u8, length_field: u8) -> Vec<u8> {
        let mut header = vec![next_header, length_field];
        header.resize((usize::from(length_field) + 2) * 4, 0);
        header
    }

    fn set_payload_len(packet: &mut [u8], payload_len: u16) {
        packet
            .get_mut(4..6)
            .unwrap()
            .copy_from_slice(&payload_len.to_be_bytes());
    }

    #[test]
    fn plain_header_fields() {
        let decoded = decode(linktype::IPV6, &ipv6(PROTO_TCP, &tcp_default(12)));
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(ip.src.to_string(), "2001:db8::1");
        assert_eq!(ip.dst.to_string(), "2001:db8::2");
        assert_eq!(ip.protocol, PROTO_TCP);
        assert_eq!(ip.total_len, 72);
        assert_eq!(ip.header_len, 40);
        assert_eq!(expect_tcp(&decoded).payload_len, 12);
    }

    #[test]
    fn extension_chain_is_skipped() {
        let mut payload = ipv6_options_header(ROUTING, 16);
        payload.extend(ipv6_options_header(AUTHENTICATION, 8));
        payload.extend(authentication_header(DESTINATION_OPTIONS, 4));
        payload.extend(ipv6_options_header(PROTO_TCP, 24));
        payload.extend(tcp_default(5));
        let decoded = decode(linktype::IPV6, &ipv6(HOP_BY_HOP, &payload));
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(ip.protocol, PROTO_TCP);
        assert_eq!(ip.header_len, 40 + 16 + 8 + 24 + 24);
        assert_eq!(ip.total_len, 40 + 72 + 25);
        assert_eq!(expect_tcp(&decoded).segment_len, 25);
        assert_eq!(expect_tcp(&decoded).payload_len, 5);
    }

    #[test]
    fn first_fragment_decodes_transport() {
        let mut payload = ipv6_fragment_header(PROTO_TCP, 0, true);
        payload.extend(tcp_default(8));
        let decoded = decode(linktype::IPV6, &ipv6(FRAGMENT, &payload));
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert!(ip.is_first_fragment);
        assert!(!ip.is_later_fragment);
        assert_eq!(ip.header_len, 48);
        assert_eq!(expect_tcp(&decoded).payload_len, 8);
    }

    #[test]
    fn atomic_fragment_is_not_fragment() {
        let mut payload = ipv6_fragment_header(PROTO_TCP, 0, false);
        payload.extend(tcp_default(0));
        let decoded = decode(linktype::IPV6, &ipv6(FRAGMENT, &payload));
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert!(!ip.is_first_fragment);
        assert!(!ip.is_later_fragment);
    }

    #[test]
    fn later_fragment_has_no_transport() {
        let mut payload = ipv6_options_header(FRAGMENT, 8);
        payload.extend(ipv6_fragment_header(PROTO_TCP, 181, true));
        payload.extend([0x55; 64]);
        let decoded = decode(linktype::IPV6, &ipv6(HOP_BY_HOP, &payload));
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, Some(StopReason::Fragment));
        assert!(ip.is_later_fragment);
        assert_eq!(ip.protocol, PROTO_TCP);
        assert_eq!(ip.header_len, 56);
        assert_eq!(decoded.transport, Transport::None);
    }

    #[test]
    fn no_next_header_is_other_protocol() {
        let decoded = decode(linktype::IPV6, &ipv6(NO_NEXT_HEADER, &[]));
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, Some(StopReason::OtherProtocol));
        assert_eq!(ip.total_len, 40);
        assert_eq!(ip.protocol, NO_NEXT_HEADER);
    }

    #[test]
    fn no_next_header_ignores_padding() {
        let mut frame = ethernet(ETHERTYPE_IPV6, &ipv6(NO_NEXT_HEADER, &[]));
        frame.resize(60, 0);
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(expect_ip(&decoded).total_len, 40);
    }

    #[test]
    fn esp_is_other_protocol() {
        let decoded = decode(linktype::IPV6, &ipv6(ESP, &[0; 24]));

        assert_eq!(decoded.stop, Some(StopReason::OtherProtocol));
        assert_eq!(expect_ip(&decoded).protocol, ESP);
        assert_eq!(expect_ip(&decoded).header_len, 40);
    }

    #[test]
    fn zero_payload_length_uses_captured_length() {
        let mut packet = ipv6(PROTO_TCP, &tcp_default(3000));
        set_payload_len(&mut packet, 0);
        let decoded = decode(linktype::IPV6, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).total_len, 3060);
        assert_eq!(expect_tcp(&decoded).payload_len, 3000);
    }

    #[test]
    fn extension_past_payload_length() {
        let mut packet = ipv6(HOP_BY_HOP, &ipv6_options_header(PROTO_TCP, 16));
        packet.extend(tcp_default(0));
        set_payload_len(&mut packet, 8);
        let decoded = decode(linktype::IPV6, &packet);

        assert_eq!(decoded.stop, Some(StopReason::BadIpv6ExtensionHeader));
        assert_eq!(decoded.ip, None);
    }

    #[test]
    fn extension_cut_by_capture() {
        let mut payload = ipv6_options_header(PROTO_TCP, 64);
        payload.extend(tcp_default(0));
        let packet = ipv6(DESTINATION_OPTIONS, &payload);

        for len in [41, 47, 48, 103] {
            let decoded = decode(linktype::IPV6, packet.get(..len).unwrap());

            assert_eq!(decoded.stop, Some(StopReason::TruncatedIp), "length {len}");
            assert_eq!(decoded.ip, None, "length {len}");
        }
    }

    #[test]
    fn extension_chain_limit() {
        let build_chain = |count: usize| {
            let mut payload = Vec::new();
            for index in 0..count {
                let next = if index + 1 == count {
                    PROTO_TCP
                } else {
                    DESTINATION_OPTIONS
                };
                payload.extend(ipv6_options_header(next, 8));
            }
            payload.extend(tcp_default(0));
            ipv6(DESTINATION_OPTIONS, &payload)
        };

        let at_limit = decode(linktype::IPV6, &build_chain(MAX_EXTENSION_HEADERS));
        let past_limit = decode(linktype::IPV6, &build_chain(MAX_EXTENSION_HEADERS + 1));

        assert_eq!(at_limit.stop, None);
        assert_eq!(past_limit.stop, Some(StopReason::BadIpv6ExtensionHeader));
    }

    #[test]
    fn ipv6_link_type_rejects_ipv4() {
        let decoded = decode(linktype::IPV6, &ipv4(PROTO_TCP, &tcp_default(0)));

        assert_eq!(decoded.stop, Some(StopReason::BadIpVersion));
    }

    #[test]
    fn cut_at_every_length_keeps_intact_layers() {
        let mut payload = ipv6_options_header(FRAGMENT, 16);
        payload.extend(ipv6_fragment_header(PROTO_TCP, 0, true));
        payload.extend(tcp(TcpFields::default(), &SYN_OPTIONS, &[]));
        let packet = ipv6(HOP_BY_HOP, &payload);
        let ip_end = 40 + 16 + 8;

        for len in 0..=packet.len() {
            let decoded = decode(linktype::IPV6, packet.get(..len).unwrap());
            let expected_stop = if len < ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < ip_end + 20 {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert_eq!(decoded.ip.is_some(), len >= ip_end, "length {len}");
            if len >= ip_end + 20 {
                assert_eq!(expect_tcp(&decoded).header_len, 40, "length {len}");
            }
        }
    }

    #[test]
    fn whole_frame_caps_payload_len() {
        let packet = ipv6(PROTO_TCP, &tcp_default(1000));
        let frame = packet.get(..80).unwrap();
        let options = crate::DecodeOptions::new().with_whole_frame(true);

        let decoded = crate::decode_with(linktype::IPV6, frame, &options);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).total_len, 80);
        assert_eq!(expect_tcp(&decoded).payload_len, 20);
    }
}
