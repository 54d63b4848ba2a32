//! GRE headers (RFC 2784 with the key and sequence number of RFC 2890), the enhanced
//! GRE header of PPTP (RFC 2637), and the ERSPAN headers of mirrored frames.

use crate::bytes::{bytes_from, truncate};
use crate::ethernet::{decode_ethernet, decode_tunnel_payload};
use crate::ip::IpPayload;
use crate::link::NetworkLayer;
use crate::packet::{IpInfo, StopReason, TunnelKind};
use crate::ppp;
use crate::state::DecodeState;

/// Flags in the first byte of a GRE header.
const FLAG_CHECKSUM: u8 = 0x80;
const FLAG_ROUTING: u8 = 0x40;
const FLAG_KEY: u8 = 0x20;
const FLAG_SEQUENCE: u8 = 0x10;
/// The acknowledgment flag in the second byte of an enhanced (version 1) GRE header.
const FLAG_ACKNOWLEDGMENT: u8 = 0x80;
/// The version bits of the second byte.
const VERSION_MASK: u8 = 0x07;

/// The length of the flags, version and protocol type fields.
const BASE_HEADER_LEN: usize = 4;
/// The length of each optional GRE field: checksum with its reserved half, key,
/// sequence number and acknowledgment number.
const OPTIONAL_FIELD_LEN: usize = 4;

/// The protocol type of ERSPAN types I and II.
const PROTOCOL_ERSPAN_TYPE_2: u16 = 0x88be;
/// The protocol type of ERSPAN type III.
const PROTOCOL_ERSPAN_TYPE_3: u16 = 0x22eb;
/// The protocol type of PPP, the payload of enhanced GRE.
const PROTOCOL_PPP: u16 = 0x880b;

/// The ERSPAN version field of type II headers.
const ERSPAN_VERSION_TYPE_2: u8 = 1;
/// The ERSPAN version field of type III headers.
const ERSPAN_VERSION_TYPE_3: u8 = 2;
const ERSPAN_TYPE_2_HEADER_LEN: usize = 8;
const ERSPAN_TYPE_3_HEADER_LEN: usize = 12;
/// The optional platform-specific subheader of ERSPAN type III.
const ERSPAN_PLATFORM_HEADER_LEN: usize = 8;
/// The flag in the last byte of a type III header that announces the subheader.
const ERSPAN_FLAG_PLATFORM_HEADER: u8 = 0x01;
/// The type III frame type of an Ethernet frame.
const ERSPAN_FRAME_ETHERNET: u8 = 0;

/// The fields of a GRE header that decoding needs.
#[derive(Clone, Copy, Debug)]
struct GreHeader<'a> {
    flags: u8,
    protocol: u16,
    key: Option<u32>,
    /// The bytes after the header.
    payload: &'a [u8],
}

/// Enters the GRE tunnel of the IP packet `outer` and decodes the header and the
/// packet or frame it carries.
pub(crate) fn decode_gre<'a>(
    outer: &IpInfo,
    payload: IpPayload<'a>,
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    state.enter_tunnel(TunnelKind::Gre, outer)?;
    let base = payload
        .bytes
        .first_chunk::<BASE_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    match base[1] & VERSION_MASK {
        0 => decode_gre_v0(payload.bytes, state),
        1 => decode_enhanced_gre(payload.bytes, state),
        _ => Err(StopReason::BadTunnelHeader),
    }
}

/// Decodes a version 0 GRE header and its payload.
fn decode_gre_v0<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    let header = split_gre_header(data)?;
    match header.protocol {
        PROTOCOL_ERSPAN_TYPE_2 if header.flags & FLAG_SEQUENCE == 0 => {
            // Type I has no ERSPAN header, and its GRE header no sequence number.
            state.identify_tunnel(TunnelKind::Erspan, None);
            decode_ethernet(header.payload, state)
        }
        PROTOCOL_ERSPAN_TYPE_2 => decode_erspan_type_2(header.payload, state),
        PROTOCOL_ERSPAN_TYPE_3 => decode_erspan_type_3(header.payload, state),
        protocol => {
            state.identify_tunnel(TunnelKind::Gre, header.key);
            decode_tunnel_payload(protocol, header.payload, state)
        }
    }
}

/// Splits a version 0 GRE header with its optional fields off `data`.
fn split_gre_header(data: &[u8]) -> Result<GreHeader<'_>, StopReason> {
    let (base, _) = data
        .split_first_chunk::<BASE_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    let flags = base[0];
    if flags & FLAG_ROUTING != 0 {
        return Err(StopReason::UnsupportedTunnel);
    }

    let mut offset = BASE_HEADER_LEN;
    if flags & FLAG_CHECKSUM != 0 {
        offset += OPTIONAL_FIELD_LEN;
    }
    let mut key = None;
    if flags & FLAG_KEY != 0 {
        key = Some(read_u32(data, offset)?);
        offset += OPTIONAL_FIELD_LEN;
    }
    if flags & FLAG_SEQUENCE != 0 {
        offset += OPTIONAL_FIELD_LEN;
    }
    if data.len() < offset {
        return Err(StopReason::TruncatedTunnel);
    }

    Ok(GreHeader {
        flags,
        protocol: u16::from_be_bytes([base[2], base[3]]),
        key,
        payload: bytes_from(data, offset),
    })
}

/// Decodes the enhanced GRE header of PPTP and the PPP frame after it.
///
/// The key field contains the payload length and the call ID, so it must be present, and
/// the payload must be PPP. The call ID identifies the tunnel. A packet that only
/// acknowledges carries no payload and ends as [`StopReason::NotIp`].
fn decode_enhanced_gre<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (base, _) = data
        .split_first_chunk::<BASE_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    let (flags, protocol) = (base[0], u16::from_be_bytes([base[2], base[3]]));
    if flags & FLAG_KEY == 0 || protocol != PROTOCOL_PPP {
        return Err(StopReason::BadTunnelHeader);
    }

    // The key field contains the payload length, then the call ID.
    let key = bytes_from(data, BASE_HEADER_LEN)
        .first_chunk::<OPTIONAL_FIELD_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    let payload_len = usize::from(u16::from_be_bytes([key[0], key[1]]));
    let call_id = u32::from(u16::from_be_bytes([key[2], key[3]]));
    let mut offset = BASE_HEADER_LEN + OPTIONAL_FIELD_LEN;
    if flags & FLAG_SEQUENCE != 0 {
        offset += OPTIONAL_FIELD_LEN;
    }
    if base[1] & FLAG_ACKNOWLEDGMENT != 0 {
        offset += OPTIONAL_FIELD_LEN;
    }
    if data.len() < offset {
        return Err(StopReason::TruncatedTunnel);
    }

    state.identify_tunnel(TunnelKind::Gre, Some(call_id));
    if payload_len == 0 {
        return Err(StopReason::NotIp);
    }
    ppp::decode_ppp(truncate(bytes_from(data, offset), payload_len), state)
}

/// Decodes an ERSPAN type II header and the mirrored frame after it.
fn decode_erspan_type_2<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (header, frame) = data
        .split_first_chunk::<ERSPAN_TYPE_2_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    if header[0] >> 4 != ERSPAN_VERSION_TYPE_2 {
        return Err(StopReason::BadTunnelHeader);
    }
    state.identify_tunnel(TunnelKind::Erspan, Some(session_id(header[2], header[3])));
    decode_ethernet(frame, state)
}

/// Decodes an ERSPAN type III header, its optional platform-specific subheader and
/// the mirrored frame after them.
fn decode_erspan_type_3<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (header, rest) = data
        .split_first_chunk::<ERSPAN_TYPE_3_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTunnel)?;
    if header[0] >> 4 != ERSPAN_VERSION_TYPE_3 {
        return Err(StopReason::BadTunnelHeader);
    }
    state.identify_tunnel(TunnelKind::Erspan, Some(session_id(header[2], header[3])));

    let frame_type = (header[10] >> 2) & 0x1f;
    // NOTE: frame types other than Ethernet stop as unsupported, because no capture
    // at hand shows how a switch lays them out.
    if frame_type != ERSPAN_FRAME_ETHERNET {
        return Err(StopReason::UnsupportedTunnel);
    }
    let frame = if header[11] & ERSPAN_FLAG_PLATFORM_HEADER != 0 {
        rest.get(ERSPAN_PLATFORM_HEADER_LEN..)
            .ok_or(StopReason::TruncatedTunnel)?
    } else {
        rest
    };
    decode_ethernet(frame, state)
}

/// Returns the 10-bit ERSPAN session ID from the third and fourth header bytes.
#[inline]
fn session_id(third: u8, fourth: u8) -> u32 {
    u32::from(u16::from_be_bytes([third, fourth]) & 0x03ff)
}

/// Reads the big-endian `u32` at `offset` of a GRE header.
#[inline]
fn read_u32(data: &[u8], offset: usize) -> Result<u32, StopReason> {
    bytes_from(data, offset)
        .first_chunk::<4>()
        .map(|bytes| u32::from_be_bytes(*bytes))
        .ok_or(StopReason::TruncatedTunnel)
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{
        decode, decode_with, linktype, DecodeOptions, Layer, MacAddr, StopReason, TunnelInfo,
        TunnelKind,
    };

    fn tcp_v4() -> Vec<u8> {
        ipv4(PROTO_TCP, &tcp_default(10))
    }

    fn over_ethernet(gre_packet: &[u8]) -> Vec<u8> {
        ethernet(ETHERTYPE_IPV4, &outer_ipv4(PROTO_GRE, gre_packet))
    }

    fn outer_tunnel(kind: TunnelKind, id: Option<u32>) -> TunnelInfo {
        TunnelInfo {
            kind,
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            id,
        }
    }

    #[test]
    fn ipv4_in_gre_reports_inner_flow() {
        let frame = over_ethernet(&gre_plain(ETHERTYPE_IPV4, &tcp_v4()));
        let decoded = decode(linktype::ETHERNET, &frame);
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(ip.src.to_string(), "10.0.0.1");
        assert_eq!(ip.dst.to_string(), "10.0.0.2");
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
        assert_eq!(decoded.tunnel, Some(outer_tunnel(TunnelKind::Gre, None)));
        // GRE carrying IP keeps the outer frame's MAC addresses.
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
    }

    #[test]
    fn optional_fields_are_skipped() {
        let cases = [
            (false, None, None),
            (true, None, None),
            (false, Some(0xdead_beef), None),
            (false, None, Some(5)),
            (true, Some(1), Some(5)),
        ];
        for (checksum, key, sequence) in cases {
            let fields = GreFields {
                checksum,
                key,
                sequence,
            };
            let frame = over_ethernet(&gre(fields, ETHERTYPE_IPV4, &tcp_v4()));
            let decoded = decode(linktype::ETHERNET, &frame);

            assert_eq!(decoded.stop, None, "{fields:?}");
            assert_eq!(expect_tcp(&decoded).payload_len, 10, "{fields:?}");
            assert_eq!(expect_tunnel(&decoded).id, key, "{fields:?}");
        }
    }

    #[test]
    fn ipv6_payload_and_ipv6_outer() {
        let inner = ipv6(PROTO_TCP, &tcp_default(0));
        let packet = outer_ipv6(PROTO_GRE, &gre_plain(ETHERTYPE_IPV6, &inner));
        let decoded = decode(linktype::RAW, &packet);
        let tunnel = expect_tunnel(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).src.to_string(), "2001:db8::1");
        assert_eq!(tunnel.src.to_string(), "2001:db8:ff::1");
        assert_eq!(tunnel.kind, TunnelKind::Gre);
    }

    #[test]
    fn mpls_payload() {
        let frame = over_ethernet(&gre_plain(ETHERTYPE_MPLS, &mpls(&[20], &tcp_v4())));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
    }

    #[test]
    fn bridged_ethernet_replaces_macs_and_tags() {
        let inner_frame = ethernet_between(
            INNER_SRC_MAC,
            INNER_DST_MAC,
            ETHERTYPE_VLAN,
            &[&[0x00, 0x64][..], &ETHERTYPE_IPV4.to_be_bytes(), &tcp_v4()].concat(),
        );
        let outer_packet = outer_ipv4(
            PROTO_GRE,
            &gre(
                GreFields {
                    key: Some(0),
                    ..GreFields::default()
                },
                ETHERTYPE_TRANSPARENT_ETHERNET,
                &inner_frame,
            ),
        );
        let frame = ethernet_tagged(&[(ETHERTYPE_VLAN, 7)], ETHERTYPE_IPV4, &outer_packet);
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(INNER_SRC_MAC)));
        assert_eq!(decoded.dst_mac, Some(MacAddr(INNER_DST_MAC)));
        assert_eq!(decoded.vlans.ids, [100, 0]);
        assert_eq!(decoded.vlans.count, 1);
        assert_eq!(decoded.tunnel, Some(outer_tunnel(TunnelKind::Gre, Some(0))));
    }

    #[test]
    fn arp_in_bridged_ethernet_is_not_ip() {
        let inner_frame = inner_ethernet(0x0806, &[0; 28]);
        let frame = over_ethernet(&gre_plain(ETHERTYPE_TRANSPARENT_ETHERNET, &inner_frame));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
        assert_eq!(decoded.ip, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(INNER_SRC_MAC)));
        assert_eq!(expect_tunnel(&decoded).kind, TunnelKind::Gre);
    }

    #[test]
    fn erspan_type_1_has_no_header() {
        let frame = over_ethernet(&gre_plain(ETHERTYPE_ERSPAN_TYPE_2, &inner_tcp_frame(10)));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(INNER_SRC_MAC)));
        assert_eq!(decoded.tunnel, Some(outer_tunnel(TunnelKind::Erspan, None)));
    }

    #[test]
    fn erspan_type_2_reports_session() {
        let fields = GreFields {
            sequence: Some(1),
            ..GreFields::default()
        };
        let payload = erspan_type_2(0x3a5, &inner_tcp_frame(10));
        let frame = over_ethernet(&gre(fields, ETHERTYPE_ERSPAN_TYPE_2, &payload));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(INNER_SRC_MAC)));
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
        assert_eq!(
            decoded.tunnel,
            Some(outer_tunnel(TunnelKind::Erspan, Some(0x3a5)))
        );
    }

    #[test]
    fn erspan_type_3_with_and_without_subheader() {
        for platform_header in [false, true] {
            let payload = erspan_type_3(17, 0, platform_header, &inner_tcp_frame(10));
            let frame = over_ethernet(&gre(
                GreFields {
                    sequence: Some(9),
                    ..GreFields::default()
                },
                ETHERTYPE_ERSPAN_TYPE_3,
                &payload,
            ));
            let decoded = decode(linktype::ETHERNET, &frame);

            assert_eq!(decoded.stop, None, "subheader {platform_header}");
            assert_eq!(
                decoded.src_mac,
                Some(MacAddr(INNER_SRC_MAC)),
                "subheader {platform_header}"
            );
            assert_eq!(
                decoded.tunnel,
                Some(outer_tunnel(TunnelKind::Erspan, Some(17))),
                "subheader {platform_header}"
            );
        }
    }

    #[test]
    fn erspan_type_3_other_frame_type_is_unsupported() {
        let payload = erspan_type_3(17, 2, false, &tcp_v4());
        let frame = over_ethernet(&gre_plain(ETHERTYPE_ERSPAN_TYPE_3, &payload));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, Some(StopReason::UnsupportedTunnel));
        assert!(!StopReason::UnsupportedTunnel.is_malformed());
        assert_eq!(expect_tunnel(&decoded).id, Some(17));
    }

    #[test]
    fn erspan_version_must_match_protocol() {
        let fields = GreFields {
            sequence: Some(1),
            ..GreFields::default()
        };
        let type_3_as_2 = erspan_type_3(1, 0, false, &inner_tcp_frame(0));
        let type_2_as_3 = erspan_type_2(1, &inner_tcp_frame(0));
        let cases = [
            gre(fields, ETHERTYPE_ERSPAN_TYPE_2, &type_3_as_2),
            gre(fields, ETHERTYPE_ERSPAN_TYPE_3, &type_2_as_3),
        ];
        for packet in cases {
            let decoded = decode(linktype::ETHERNET, &over_ethernet(&packet));

            assert_eq!(decoded.stop, Some(StopReason::BadTunnelHeader));
            assert_eq!(decoded.ip, None);
            assert_eq!(expect_tunnel(&decoded).kind, TunnelKind::Gre);
        }
        assert!(StopReason::BadTunnelHeader.is_malformed());
        assert_eq!(StopReason::BadTunnelHeader.layer(), Layer::Tunnel);
    }

    #[test]
    fn source_routing_is_unsupported() {
        let mut packet = gre_plain(ETHERTYPE_IPV4, &tcp_v4());
        *packet.first_mut().unwrap() |= 0x40;
        let decoded = decode(linktype::ETHERNET, &over_ethernet(&packet));

        assert_eq!(decoded.stop, Some(StopReason::UnsupportedTunnel));
    }

    #[test]
    fn unknown_version_is_bad() {
        let mut packet = gre_plain(ETHERTYPE_IPV4, &tcp_v4());
        *packet.get_mut(1).unwrap() = 2;
        let decoded = decode(linktype::ETHERNET, &over_ethernet(&packet));

        assert_eq!(decoded.stop, Some(StopReason::BadTunnelHeader));
    }

    /// Builds an enhanced GRE header of PPTP with the given flags and an optional
    /// sequence and acknowledgment number, then the PPP frame.
    fn enhanced_gre(flags: u8, second_byte: u8, ppp_frame: &[u8]) -> Vec<u8> {
        let mut packet = vec![flags, second_byte, 0x88, 0x0b];
        let payload_len = u16::try_from(ppp_frame.len()).unwrap();
        packet.extend_from_slice(&payload_len.to_be_bytes());
        packet.extend_from_slice(&0x4321u16.to_be_bytes());
        if flags & 0x10 != 0 {
            packet.extend_from_slice(&1u32.to_be_bytes());
        }
        if second_byte & 0x80 != 0 {
            packet.extend_from_slice(&2u32.to_be_bytes());
        }
        packet.extend_from_slice(ppp_frame);
        packet
    }

    #[test]
    fn pptp_carries_ppp() {
        let mut ppp_frame = vec![0xff, 0x03, 0x00, 0x21];
        ppp_frame.extend(tcp_v4());
        for (flags, second_byte) in [(0x30, 0x01), (0x30, 0x81), (0x20, 0x81)] {
            let packet = enhanced_gre(flags, second_byte, &ppp_frame);
            let decoded = decode(linktype::ETHERNET, &over_ethernet(&packet));

            assert_eq!(decoded.stop, None, "flags {flags:#04x} {second_byte:#04x}");
            assert_eq!(
                decoded.tunnel,
                Some(outer_tunnel(TunnelKind::Gre, Some(0x4321))),
                "flags {flags:#04x} {second_byte:#04x}"
            );
        }
    }

    #[test]
    fn pptp_acknowledgment_alone_is_not_ip() {
        let packet = enhanced_gre(0x20, 0x81, &[]);
        let decoded = decode(linktype::ETHERNET, &over_ethernet(&packet));

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
    }

    #[test]
    fn pptp_without_key_is_bad() {
        let packet = enhanced_gre(0x10, 0x01, &[0x21]);
        let decoded = decode(linktype::ETHERNET, &over_ethernet(&packet));

        assert_eq!(decoded.stop, Some(StopReason::BadTunnelHeader));
    }

    #[test]
    fn decapsulation_off_reports_outer_packet() {
        let frame = over_ethernet(&gre_plain(ETHERTYPE_IPV4, &tcp_v4()));
        let options = DecodeOptions::new().with_decapsulate(false);
        let decoded = decode_with(linktype::ETHERNET, &frame, &options);

        assert_eq!(decoded.stop, Some(StopReason::OtherProtocol));
        assert_eq!(expect_ip(&decoded).src.to_string(), "192.0.2.1");
        assert_eq!(decoded.tunnel, None);
    }

    #[test]
    fn nested_gre_reports_outermost_tunnel() {
        let middle = ipv4_full(
            [198, 51, 100, 1],
            [198, 51, 100, 2],
            PROTO_GRE,
            &[],
            &gre(
                GreFields {
                    key: Some(2),
                    ..GreFields::default()
                },
                ETHERTYPE_IPV4,
                &tcp_v4(),
            ),
        );
        let packet = gre(
            GreFields {
                key: Some(1),
                ..GreFields::default()
            },
            ETHERTYPE_IPV4,
            &middle,
        );
        let decoded = decode(linktype::ETHERNET, &over_ethernet(&packet));

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).src.to_string(), "10.0.0.1");
        assert_eq!(decoded.tunnel, Some(outer_tunnel(TunnelKind::Gre, Some(1))));
    }

    /// Wraps the default TCP packet in `depth` GRE tunnels.
    fn gre_nest(depth: usize) -> Vec<u8> {
        let mut packet = tcp_v4();
        for _ in 0..depth {
            packet = outer_ipv4(PROTO_GRE, &gre_plain(ETHERTYPE_IPV4, &packet));
        }
        packet
    }

    #[test]
    fn nesting_limit_is_inclusive() {
        let limit = usize::from(crate::state::MAX_ENCAPSULATIONS);
        let at_limit = decode(linktype::RAW, &gre_nest(limit));
        let past_limit = decode(linktype::RAW, &gre_nest(limit + 1));

        assert_eq!(at_limit.stop, None);
        assert_eq!(expect_tcp(&at_limit).payload_len, 10);
        assert_eq!(past_limit.stop, Some(StopReason::TooManyEncapsulations));
        assert!(StopReason::TooManyEncapsulations.is_malformed());
        assert_eq!(past_limit.ip, None);
        assert_eq!(expect_tunnel(&past_limit).kind, TunnelKind::Gre);
    }

    #[test]
    fn cut_at_every_length_keeps_intact_layers() {
        let fields = GreFields {
            checksum: false,
            key: Some(5),
            sequence: Some(6),
        };
        let frame = over_ethernet(&gre(fields, ETHERTYPE_IPV4, &tcp_v4()));
        let (outer_ip_end, gre_end, ip_end, tcp_end) = (34, 46, 66, 86);

        for len in 0..=frame.len() {
            let decoded = decode(linktype::ETHERNET, frame.get(..len).unwrap());
            let expected_stop = if len < 14 {
                Some(StopReason::TruncatedLink)
            } else if len < outer_ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < gre_end {
                Some(StopReason::TruncatedTunnel)
            } else if len < ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < tcp_end {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert_eq!(
                decoded.tunnel.is_some(),
                len >= outer_ip_end,
                "length {len}"
            );
            assert_eq!(decoded.ip.is_some(), len >= ip_end, "length {len}");
            let expected_id = (len >= gre_end).then_some(5);
            assert_eq!(
                decoded.tunnel.and_then(|tunnel| tunnel.id),
                expected_id,
                "length {len}"
            );
        }
    }
}
