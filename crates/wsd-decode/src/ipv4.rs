//! IPv4 headers, options included.
//!
//! The header checksum is not verified: captures taken on the sending host carry
//! checksums that the network card fills in later.

use std::net::{IpAddr, Ipv4Addr};

use crate::bytes::len_u32;
use crate::ip::{FragmentFields, IpLayer, IpPayload};
use crate::packet::{IpInfo, StopReason};

/// The length of an IPv4 header without options.
const MIN_HEADER_LEN: usize = 20;
/// The "more fragments" flag in the flags and fragment offset field.
const MORE_FRAGMENTS: u16 = 0x2000;
/// The fragment offset bits of the same field, in units of 8 bytes.
const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// Decodes an IPv4 header whose version field the caller has checked.
///
/// A total length of 0 is taken to be the captured length, because captures of
/// segmentation-offloaded packets on the sending host carry 0 there. When
/// `bounded`, `data` ends at the packet end that the link layer gives, and a
/// total length beyond it is cut to it.
#[inline]
pub(crate) fn decode_ipv4(data: &[u8], bounded: bool) -> Result<IpLayer<'_>, StopReason> {
    let first_byte = *data.first().ok_or(StopReason::TruncatedIp)?;
    let header_len = usize::from(first_byte & 0x0f) * 4;
    if header_len < MIN_HEADER_LEN {
        return Err(StopReason::BadIpHeaderLength);
    }
    let fixed = data
        .first_chunk::<MIN_HEADER_LEN>()
        .ok_or(StopReason::TruncatedIp)?;
    if data.len() < header_len {
        return Err(StopReason::TruncatedIp);
    }

    let total_len = match u16::from_be_bytes([fixed[2], fixed[3]]) {
        0 => data.len(),
        declared if bounded => usize::from(declared).min(data.len()),
        declared => usize::from(declared),
    };
    if total_len < header_len {
        return Err(StopReason::BadIpTotalLength);
    }

    let fragment_field = u16::from_be_bytes([fixed[6], fixed[7]]);
    let fragment_offset = fragment_field & FRAGMENT_OFFSET_MASK;
    let more_fragments = fragment_field & MORE_FRAGMENTS != 0;
    let protocol = fixed[9];

    let info = IpInfo {
        src: IpAddr::V4(Ipv4Addr::new(fixed[12], fixed[13], fixed[14], fixed[15])),
        dst: IpAddr::V4(Ipv4Addr::new(fixed[16], fixed[17], fixed[18], fixed[19])),
        protocol,
        total_len: len_u32(total_len),
        header_len: len_u32(header_len),
        is_later_fragment: fragment_offset != 0,
        is_first_fragment: fragment_offset == 0 && more_fragments,
    };
    let fragment = (fragment_offset != 0 || more_fragments).then(|| FragmentFields {
        protocol,
        id: u32::from(u16::from_be_bytes([fixed[4], fixed[5]])),
        offset: fragment_offset * 8,
        more_fragments,
        data_start: header_len,
    });
    let payload = IpPayload::new(protocol, data, header_len, total_len);
    Ok((info, payload, fragment))
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, StopReason, Transport};

    /// Builds an IPv4 packet with a 20-byte TCP header and 10 bytes of payload.
    fn tcp_packet() -> Vec<u8> {
        ipv4(PROTO_TCP, &tcp_default(10))
    }

    fn set_fragment_field(packet: &mut [u8], field: u16) {
        packet
            .get_mut(6..8)
            .unwrap()
            .copy_from_slice(&field.to_be_bytes());
    }

    fn set_total_len(packet: &mut [u8], total_len: u16) {
        packet
            .get_mut(2..4)
            .unwrap()
            .copy_from_slice(&total_len.to_be_bytes());
    }

    #[test]
    fn plain_header_fields() {
        let decoded = decode(linktype::IPV4, &tcp_packet());
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(ip.src.to_string(), "10.0.0.1");
        assert_eq!(ip.dst.to_string(), "10.0.0.2");
        assert_eq!(ip.protocol, PROTO_TCP);
        assert_eq!(ip.total_len, 50);
        assert_eq!(ip.header_len, 20);
        assert!(!ip.is_first_fragment);
        assert!(!ip.is_later_fragment);
    }

    #[test]
    fn options_extend_header() {
        // Router alert (4 bytes) and four NOPs.
        let options = [0x94, 4, 0, 0, 1, 1, 1, 1];
        let packet = ipv4_with_options(PROTO_TCP, &options, &tcp_default(10));
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).header_len, 28);
        assert_eq!(expect_tcp(&decoded).segment_len, 30);
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
    }

    #[test]
    fn first_bytes_40_44_c0_are_malformed() {
        let cases = [
            (0x40, StopReason::BadIpHeaderLength),
            (0x44, StopReason::BadIpHeaderLength),
            (0xc0, StopReason::BadIpVersion),
        ];
        for (first_byte, expected) in cases {
            let mut packet = tcp_packet();
            *packet.first_mut().unwrap() = first_byte;
            let decoded = decode(linktype::ETHERNET, &ethernet(ETHERTYPE_IPV4, &packet));

            assert_eq!(decoded.stop, Some(expected), "first byte {first_byte:#04x}");
            assert!(expected.is_malformed(), "first byte {first_byte:#04x}");
            assert_eq!(decoded.ip, None, "first byte {first_byte:#04x}");
            assert_eq!(
                decoded.transport,
                Transport::None,
                "first byte {first_byte:#04x}"
            );
        }
    }

    #[test]
    fn header_length_checked_before_capture_length() {
        let decoded = decode(linktype::IPV4, &[0x44, 0, 0]);

        assert_eq!(decoded.stop, Some(StopReason::BadIpHeaderLength));
    }

    #[test]
    fn total_below_header_is_rejected() {
        let mut short_total = tcp_packet();
        set_total_len(&mut short_total, 19);
        let mut options_past_total = ipv4_with_options(PROTO_TCP, &[1, 1, 1, 1], &tcp_default(0));
        set_total_len(&mut options_past_total, 20);

        for packet in [short_total, options_past_total] {
            let decoded = decode(linktype::IPV4, &packet);

            assert_eq!(decoded.stop, Some(StopReason::BadIpTotalLength));
            assert_eq!(decoded.ip, None);
        }
    }

    #[test]
    fn zero_total_uses_captured_length() {
        let mut packet = ipv4(PROTO_TCP, &tcp_default(3000));
        set_total_len(&mut packet, 0);
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).total_len, 3040);
        assert_eq!(expect_tcp(&decoded).payload_len, 3000);
    }

    #[test]
    fn total_len_is_wire_length_when_cut() {
        let packet = ipv4(PROTO_TCP, &tcp_default(1000));
        let decoded = decode(linktype::IPV4, packet.get(..60).unwrap());

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).total_len, 1040);
        assert_eq!(expect_tcp(&decoded).payload_len, 1000);
    }

    #[test]
    fn whole_frame_caps_total_len() {
        // The frame contains 60 bytes of a packet whose header claims 1040.
        let packet = ipv4(PROTO_TCP, &tcp_default(1000));
        let frame = packet.get(..60).unwrap();
        let options = crate::DecodeOptions::new().with_whole_frame(true);

        let decoded = crate::decode_with(linktype::IPV4, frame, &options);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).total_len, 60);
        assert_eq!(expect_tcp(&decoded).payload_len, 20);
    }

    #[test]
    fn whole_frame_caps_tunnelled_total_len() {
        // GRE carries an inner packet that claims 1040 bytes in a 60-byte frame.
        let inner = ipv4(PROTO_TCP, &tcp_default(1000));
        let outer = ipv4(
            PROTO_GRE,
            &gre_plain(ETHERTYPE_IPV4, inner.get(..60).unwrap()),
        );
        let options = crate::DecodeOptions::new().with_whole_frame(true);

        let decoded = crate::decode_with(linktype::IPV4, &outer, &options);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).total_len, 60);
    }

    #[test]
    fn options_cut_by_capture() {
        let packet = ipv4_with_options(PROTO_TCP, &[1; 40], &tcp_default(0));
        let decoded = decode(linktype::IPV4, packet.get(..40).unwrap());

        assert_eq!(decoded.stop, Some(StopReason::TruncatedIp));
        assert_eq!(decoded.ip, None);
    }

    #[test]
    fn later_fragment_has_no_transport() {
        let mut packet = tcp_packet();
        set_fragment_field(&mut packet, 185);
        let decoded = decode(linktype::IPV4, &packet);
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, Some(StopReason::Fragment));
        assert!(ip.is_later_fragment);
        assert!(!ip.is_first_fragment);
        assert_eq!(ip.protocol, PROTO_TCP);
        assert_eq!(decoded.transport, Transport::None);
    }

    #[test]
    fn last_fragment_is_later_fragment() {
        let mut packet = tcp_packet();
        set_fragment_field(&mut packet, 0x2000 | 1);
        let with_more = decode(linktype::IPV4, &packet);
        set_fragment_field(&mut packet, 1);
        let last = decode(linktype::IPV4, &packet);

        assert_eq!(with_more.stop, Some(StopReason::Fragment));
        assert_eq!(last.stop, Some(StopReason::Fragment));
        assert!(expect_ip(&last).is_later_fragment);
    }

    #[test]
    fn first_fragment_decodes_transport() {
        let mut packet = tcp_packet();
        set_fragment_field(&mut packet, 0x2000);
        let decoded = decode(linktype::IPV4, &packet);
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert!(ip.is_first_fragment);
        assert!(!ip.is_later_fragment);
        assert_eq!(expect_tcp(&decoded).segment_len, 30);
    }

    #[test]
    fn dont_fragment_is_not_fragment() {
        let mut packet = tcp_packet();
        set_fragment_field(&mut packet, 0x4000);
        let decoded = decode(linktype::IPV4, &packet);
        let ip = expect_ip(&decoded);

        assert_eq!(decoded.stop, None);
        assert!(!ip.is_first_fragment);
        assert!(!ip.is_later_fragment);
    }

    #[test]
    fn ipv4_link_type_rejects_ipv6() {
        let decoded = decode(linktype::IPV4, &ipv6(PROTO_TCP, &tcp_default(0)));

        assert_eq!(decoded.stop, Some(StopReason::BadIpVersion));
    }

    #[test]
    fn cut_at_every_length_keeps_intact_layers() {
        let options = [1, 1, 1, 1, 1, 1, 1, 0];
        let packet = ipv4_with_options(PROTO_TCP, &options, &tcp_default(10));

        for len in 0..=packet.len() {
            let decoded = decode(linktype::IPV4, packet.get(..len).unwrap());
            let expected_stop = match len {
                0..28 => Some(StopReason::TruncatedIp),
                28..48 => Some(StopReason::TruncatedTransport),
                _ => None,
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert_eq!(decoded.ip.is_some(), len >= 28, "length {len}");
            if len >= 28 {
                assert_eq!(expect_ip(&decoded).total_len, 58, "length {len}");
            }
        }
    }
}
