//! Linux netfilter NFLOG records: a 4-byte header, then type-length-value attributes,
//! one of which contains the logged IP packet.

use crate::bytes::{bytes_from, truncate};
use crate::link::{NetworkLayer, NetworkProtocol};
use crate::packet::StopReason;

/// The `AF_INET` family byte.
const AF_INET: u8 = 2;
/// The `AF_INET6` family byte on Linux.
const AF_INET6: u8 = 10;
/// The only NFLOG version.
const VERSION: u8 = 0;
/// The `NFULA_PAYLOAD` attribute type, whose value is the packet from its IP header on.
const NFULA_PAYLOAD: u16 = 9;
/// The length and type fields before each attribute's value.
const ATTRIBUTE_HEADER_LEN: usize = 4;
/// The attribute type bits; the top two bits are netlink flags.
const ATTRIBUTE_TYPE_MASK: u16 = 0x3fff;
/// A bound above every attribute type: Linux's `nfnetlink_log.h` defines fewer than 30.
const ATTRIBUTE_TYPE_LIMIT: u16 = 0x100;

/// Decodes an NFLOG header and finds the payload attribute.
///
/// The attribute lengths and types are in the byte order of the host that wrote the
/// capture, and the file does not record it. Every attribute type is below 256, so the
/// first attribute's type shows the order: a type that reads as 256 or more in
/// little-endian order but below 256 in big-endian order means a big-endian writer.
/// Attributes are padded to 4-byte boundaries, and their lengths exclude the padding.
pub(crate) fn decode_nflog(data: &[u8]) -> Result<NetworkLayer<'_>, StopReason> {
    let (header, mut rest) = data
        .split_first_chunk::<4>()
        .ok_or(StopReason::TruncatedLink)?;
    if header[1] != VERSION {
        return Err(StopReason::BadLinkHeader);
    }
    let protocol = match header[0] {
        AF_INET => NetworkProtocol::Ipv4,
        AF_INET6 => NetworkProtocol::Ipv6,
        _ => return Err(StopReason::NotIp),
    };
    let big_endian = is_big_endian(rest);

    // Each pass consumes at least one attribute header, so the loop ends.
    loop {
        if rest.is_empty() {
            return Err(StopReason::NotIp);
        }
        let attribute = rest
            .first_chunk::<ATTRIBUTE_HEADER_LEN>()
            .ok_or(StopReason::TruncatedLink)?;
        let length = usize::from(read_u16([attribute[0], attribute[1]], big_endian));
        let attribute_type = read_u16([attribute[2], attribute[3]], big_endian);
        if length < ATTRIBUTE_HEADER_LEN {
            return Err(StopReason::BadLinkHeader);
        }
        if attribute_type & ATTRIBUTE_TYPE_MASK == NFULA_PAYLOAD {
            let value = bytes_from(rest, ATTRIBUTE_HEADER_LEN);
            let payload = truncate(value, length - ATTRIBUTE_HEADER_LEN);
            return Ok(NetworkLayer::new(protocol, payload));
        }
        if length > rest.len() {
            return Err(StopReason::TruncatedLink);
        }
        rest = bytes_from(rest, length.next_multiple_of(4));
    }
}

fn is_big_endian(attributes: &[u8]) -> bool {
    let Some(first) = attributes.first_chunk::<ATTRIBUTE_HEADER_LEN>() else {
        return false;
    };
    let type_bytes = [first[2], first[3]];
    let little_endian_type = u16::from_le_bytes(type_bytes) & ATTRIBUTE_TYPE_MASK;
    let big_endian_type = u16::from_be_bytes(type_bytes) & ATTRIBUTE_TYPE_MASK;
    little_endian_type >= ATTRIBUTE_TYPE_LIMIT && big_endian_type < ATTRIBUTE_TYPE_LIMIT
}

#[inline]
fn read_u16(bytes: [u8; 2], big_endian: bool) -> u16 {
    if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, StopReason};

    const PACKET_HEADER: u16 = 1;
    const PREFIX: u16 = 10;
    const PAYLOAD: u16 = 9;

    fn tcp_v4() -> Vec<u8> {
        ipv4(PROTO_TCP, &tcp_default(10))
    }

    #[test]
    fn payload_attribute_holds_the_packet() {
        let packet = tcp_v4();
        let record = nflog(
            2,
            &[
                (PACKET_HEADER, &[0x08, 0x00, 3, 0]),
                (PREFIX, b"drop"),
                (PAYLOAD, &packet),
            ],
        );
        let decoded = decode(linktype::NFLOG, &record);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, None);
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
    }

    #[test]
    fn padding_after_odd_lengths_is_skipped() {
        let packet = tcp_v4();
        let record = nflog(2, &[(PREFIX, b"x"), (PREFIX, b"abcde"), (PAYLOAD, &packet)]);
        let decoded = decode(linktype::NFLOG, &record);

        assert_eq!(decoded.stop, None);
    }

    #[test]
    fn ipv6_family() {
        let packet = ipv6(PROTO_TCP, &tcp_default(0));
        let decoded = decode(linktype::NFLOG, &nflog(10, &[(PAYLOAD, &packet)]));

        assert_eq!(decoded.stop, None);
        assert!(expect_ip(&decoded).src.is_ipv6());
    }

    #[test]
    fn big_endian_writer_is_recognised() {
        let packet = tcp_v4();
        let mut record = vec![2, 0, 0, 42];
        record.extend_from_slice(&[0, 8, 0, 1, 0x08, 0x00, 3, 0]);
        let length = u16::try_from(packet.len() + 4).unwrap();
        record.extend_from_slice(&length.to_be_bytes());
        record.extend_from_slice(&PAYLOAD.to_be_bytes());
        record.extend_from_slice(&packet);
        let decoded = decode(linktype::NFLOG, &record);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
    }

    #[test]
    fn netlink_flags_in_type_are_ignored() {
        let packet = tcp_v4();
        let decoded = decode(linktype::NFLOG, &nflog(2, &[(0x4000 | PAYLOAD, &packet)]));

        assert_eq!(decoded.stop, None);
    }

    #[test]
    fn record_without_payload_is_not_ip() {
        let decoded = decode(linktype::NFLOG, &nflog(2, &[(PREFIX, b"drop")]));

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
    }

    #[test]
    fn other_family_is_not_ip() {
        // Family 7 is the bridge family, whose payload need not be IP.
        let decoded = decode(linktype::NFLOG, &nflog(7, &[(PAYLOAD, &tcp_v4())]));

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
    }

    #[test]
    fn bad_version_and_attribute_length() {
        let mut bad_version = nflog(2, &[(PAYLOAD, &tcp_v4())]);
        *bad_version.get_mut(1).unwrap() = 1;
        let mut short_attribute = nflog(2, &[(PREFIX, b"abcd"), (PAYLOAD, &tcp_v4())]);
        short_attribute
            .get_mut(4..6)
            .unwrap()
            .copy_from_slice(&3u16.to_le_bytes());

        for record in [bad_version, short_attribute] {
            assert_eq!(
                decode(linktype::NFLOG, &record).stop,
                Some(StopReason::BadLinkHeader)
            );
        }
    }

    #[test]
    fn cut_at_every_length() {
        let packet = tcp_v4();
        let record = nflog(2, &[(PREFIX, b"abc"), (PAYLOAD, &packet)]);
        let (payload_start, ip_end, tcp_end) = (16, 36, 56);

        for len in 0..=record.len() {
            let decoded = decode(linktype::NFLOG, record.get(..len).unwrap());
            let expected_stop = if len < payload_start {
                // At 4, 11 and 12 bytes the record ends after a whole attribute, only
                // its padding cut at 11: there is no payload.
                if matches!(len, 4 | 11 | 12) {
                    Some(StopReason::NotIp)
                } else {
                    Some(StopReason::TruncatedLink)
                }
            } else if len < ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < tcp_end {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
        }
    }
}
