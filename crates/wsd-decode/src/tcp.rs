//! TCP headers.

use crate::bytes::len_u32;
use crate::ip::IpPayload;
use crate::packet::{StopReason, TcpFlags, TcpInfo};

/// The length of a TCP header without options, in bytes.
pub(crate) const MIN_HEADER_LEN: usize = 20;
/// [`MIN_HEADER_LEN`] as a `u32`, for comparisons with IP lengths.
pub(crate) const MIN_HEADER_LEN_U32: u32 = 20;

/// The leading bytes of a TCP header that hold every field flow tracking reads:
/// ports, sequence and acknowledgment numbers, data offset, flags and window.
pub(crate) const HEAD_LEN: usize = 16;

/// Decodes the first [`HEAD_LEN`] bytes of a TCP header whose rest may lie in a later
/// IP fragment. `segment_len` is the length to report as the segment's; the header
/// length comes from the data offset and may exceed it.
pub(crate) fn decode_tcp_head(head: &[u8], segment_len: u32) -> Result<TcpInfo, StopReason> {
    let header = head
        .first_chunk::<HEAD_LEN>()
        .ok_or(StopReason::TruncatedTransport)?;
    let header_len = u32::from(header[12] >> 4) * 4;
    if header_len < len_u32(MIN_HEADER_LEN) {
        return Err(StopReason::BadTcpDataOffset);
    }
    Ok(TcpInfo {
        src_port: u16::from_be_bytes([header[0], header[1]]),
        dst_port: u16::from_be_bytes([header[2], header[3]]),
        seq: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ack: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        flags: TcpFlags(header[13]),
        window: u16::from_be_bytes([header[14], header[15]]),
        header_len,
        segment_len,
        payload_len: segment_len.saturating_sub(header_len),
    })
}

/// Decodes a TCP header.
///
/// Only the 20-byte base header must be captured: options cut off by the snapshot
/// length are fine, because the header length comes from the data offset. Segment and
/// payload lengths come from the IP header, so link-layer padding never counts as
/// payload and a cut capture still reports the wire sizes.
#[inline]
pub(crate) fn decode_tcp(payload: IpPayload<'_>) -> Result<TcpInfo, StopReason> {
    let header = payload
        .bytes
        .first_chunk::<MIN_HEADER_LEN>()
        .ok_or(StopReason::TruncatedTransport)?;

    let data_offset = header[12] >> 4;
    let header_len = u32::from(data_offset) * 4;
    if header_len < len_u32(MIN_HEADER_LEN) || header_len > payload.len {
        return Err(StopReason::BadTcpDataOffset);
    }

    Ok(TcpInfo {
        src_port: u16::from_be_bytes([header[0], header[1]]),
        dst_port: u16::from_be_bytes([header[2], header[3]]),
        seq: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ack: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        flags: TcpFlags(header[13]),
        window: u16::from_be_bytes([header[14], header[15]]),
        header_len,
        segment_len: payload.len,
        payload_len: payload.len - header_len,
    })
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, StopReason, TcpFlags, Transport};

    fn set_data_offset(segment: &mut [u8], data_offset: u8) {
        *segment.get_mut(12).unwrap() = data_offset << 4;
    }

    #[test]
    fn header_fields() {
        let fields = TcpFields {
            src_port: 443,
            dst_port: 51234,
            seq: 0xfedc_ba98,
            ack: 0x0123_4567,
            flags: TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE | TcpFlags::CWR,
            window: 29200,
        };
        let packet = ipv4(PROTO_TCP, &tcp(fields, &SYN_OPTIONS, &[]));
        let tcp = expect_tcp(&decode(linktype::IPV4, &packet));

        assert_eq!(tcp.src_port, 443);
        assert_eq!(tcp.dst_port, 51234);
        assert_eq!(tcp.seq, 0xfedc_ba98);
        assert_eq!(tcp.ack, 0x0123_4567);
        assert_eq!(tcp.window, 29200);
        assert_eq!(tcp.header_len, 40);
        assert_eq!(tcp.segment_len, 40);
        assert_eq!(tcp.payload_len, 0);
        assert!(tcp.flags.has(TcpFlags::SYN | TcpFlags::ACK));
        assert!(tcp.flags.has(TcpFlags::ECE));
        assert!(tcp.flags.has(TcpFlags::CWR));
        assert!(!tcp.flags.has(TcpFlags::FIN));
        assert!(!tcp.flags.has(TcpFlags::RST));
    }

    #[test]
    fn every_flag_bit_is_kept() {
        for flags in 0..=u8::MAX {
            let fields = TcpFields {
                flags,
                ..TcpFields::default()
            };
            let packet = ipv4(PROTO_TCP, &tcp(fields, &[], &[]));

            assert_eq!(
                expect_tcp(&decode(linktype::IPV4, &packet)).flags,
                TcpFlags(flags)
            );
        }
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = ethernet(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(0)));
        assert_eq!(frame.len(), 54);
        frame.resize(60, 0xaa);
        let decoded = decode(linktype::ETHERNET, &frame);
        let tcp = expect_tcp(&decoded);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).total_len, 40);
        assert_eq!(tcp.segment_len, 20);
        assert_eq!(tcp.payload_len, 0);
    }

    #[test]
    fn data_offset_0_and_4_rejected() {
        for data_offset in [0, 4] {
            let mut segment = tcp_default(0);
            set_data_offset(&mut segment, data_offset);
            let decoded = decode(
                linktype::ETHERNET,
                &ethernet(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &segment)),
            );

            assert_eq!(
                decoded.stop,
                Some(StopReason::BadTcpDataOffset),
                "data offset {data_offset}"
            );
            assert!(StopReason::BadTcpDataOffset.is_malformed());
            assert_eq!(
                decoded.transport,
                Transport::None,
                "data offset {data_offset}"
            );
            assert!(decoded.ip.is_some(), "data offset {data_offset}");
        }
    }

    #[test]
    fn data_offset_past_ip_payload_rejected() {
        // A 20-byte segment whose data offset claims 24 bytes of header.
        let mut segment = tcp_default(0);
        set_data_offset(&mut segment, 6);
        let decoded = decode(linktype::IPV4, &ipv4(PROTO_TCP, &segment));

        assert_eq!(decoded.stop, Some(StopReason::BadTcpDataOffset));
    }

    #[test]
    fn data_offset_may_fill_ip_payload() {
        let segment = tcp(TcpFields::default(), &[1; 40], &[]);
        let decoded = decode(linktype::IPV4, &ipv4(PROTO_TCP, &segment));

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_tcp(&decoded).header_len, 60);
        assert_eq!(expect_tcp(&decoded).payload_len, 0);
    }

    #[test]
    fn options_cut_at_54_bytes() {
        for payload_len in [0, 100] {
            let segment = tcp(
                TcpFields::default(),
                &TIMESTAMP_OPTIONS,
                &vec![0x61; payload_len],
            );
            let frame = ethernet(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &segment));
            let decoded = decode(linktype::ETHERNET, frame.get(..54).unwrap());
            let ip = expect_ip(&decoded);
            let tcp = expect_tcp(&decoded);

            assert_eq!(decoded.stop, None, "payload {payload_len}");
            assert_eq!(tcp.header_len, 32, "payload {payload_len}");
            assert_eq!(ip.total_len, u32::try_from(52 + payload_len).unwrap());
            assert_eq!(
                tcp.payload_len,
                ip.total_len - 20 - 32,
                "payload {payload_len}"
            );
            assert_eq!(tcp.payload_len, u32::try_from(payload_len).unwrap());
        }
    }

    #[test]
    fn base_header_must_be_captured() {
        let frame = ethernet(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(100)));
        let decoded = decode(linktype::ETHERNET, frame.get(..53).unwrap());

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
        assert!(decoded.ip.is_some());
    }

    #[test]
    fn ip_length_below_base_header() {
        // The IP header declares a 12-byte segment, although 20 bytes were captured.
        let mut packet = ipv4(PROTO_TCP, &tcp_default(0));
        packet
            .get_mut(2..4)
            .unwrap()
            .copy_from_slice(&32u16.to_be_bytes());
        let decoded = decode(linktype::IPV4, &packet);

        assert_eq!(decoded.stop, Some(StopReason::TruncatedTransport));
    }
}
