//! BSD loopback headers (NULL and LOOP): a 4-byte address family before the IP header.

use crate::link::{NetworkLayer, NetworkProtocol};
use crate::packet::StopReason;

/// `AF_INET` on every system.
const AF_INET: u32 = 2;
/// `AF_INET6` on Linux.
const AF_INET6_LINUX: u32 = 10;
/// `AF_INET6` on NetBSD and OpenBSD.
const AF_INET6_NETBSD_OPENBSD: u32 = 24;
/// `AF_INET6` on FreeBSD.
const AF_INET6_FREEBSD: u32 = 28;
/// `AF_INET6` on macOS and other Darwin systems.
const AF_INET6_DARWIN: u32 = 30;

/// Decodes a NULL header, whose family word is in the byte order of the host that
/// wrote the capture.
///
/// The file does not record that order, so both are tried. No family value is
/// ambiguous: every known one is below 256 in its own order and at least 2^24 when
/// read in the other.
#[inline]
pub(crate) fn decode_null(data: &[u8]) -> Result<NetworkLayer<'_>, StopReason> {
    let (family, rest) = data
        .split_first_chunk::<4>()
        .ok_or(StopReason::TruncatedLink)?;
    let protocol = protocol_of_family(u32::from_le_bytes(*family))
        .or_else(|| protocol_of_family(u32::from_be_bytes(*family)))
        .ok_or(StopReason::NotIp)?;
    Ok(NetworkLayer::new(protocol, rest))
}

/// Decodes a LOOP header, whose family word is always in network byte order.
#[inline]
pub(crate) fn decode_loop(data: &[u8]) -> Result<NetworkLayer<'_>, StopReason> {
    let (family, rest) = data
        .split_first_chunk::<4>()
        .ok_or(StopReason::TruncatedLink)?;
    let protocol = protocol_of_family(u32::from_be_bytes(*family)).ok_or(StopReason::NotIp)?;
    Ok(NetworkLayer::new(protocol, rest))
}

#[inline]
fn protocol_of_family(family: u32) -> Option<NetworkProtocol> {
    match family {
        AF_INET => Some(NetworkProtocol::Ipv4),
        AF_INET6_LINUX | AF_INET6_NETBSD_OPENBSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => {
            Some(NetworkProtocol::Ipv6)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, StopReason};

    fn with_family(family: [u8; 4], ip_packet: &[u8]) -> Vec<u8> {
        let mut packet = family.to_vec();
        packet.extend_from_slice(ip_packet);
        packet
    }

    #[test]
    fn null_accepts_af_inet_in_both_orders() {
        let ip_packet = ipv4(PROTO_TCP, &tcp_default(100));
        for family in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let decoded = decode(linktype::NULL, &with_family(family, &ip_packet));

            assert_eq!(decoded.stop, None, "family word {family:?}");
            assert_eq!(
                expect_tcp(&decoded).payload_len,
                100,
                "family word {family:?}"
            );
            assert_eq!(decoded.src_mac, None, "family word {family:?}");
        }
    }

    #[test]
    fn null_accepts_every_af_inet6() {
        let ip_packet = ipv6(PROTO_TCP, &tcp_default(0));
        for family in [10u32, 24, 28, 30] {
            for word in [family.to_le_bytes(), family.to_be_bytes()] {
                let decoded = decode(linktype::NULL, &with_family(word, &ip_packet));

                assert_eq!(decoded.stop, None, "family word {word:?}");
                assert_eq!(
                    expect_ip(&decoded).src.to_string(),
                    "2001:db8::1",
                    "family word {word:?}"
                );
            }
        }
    }

    #[test]
    fn null_family_and_version_disagree() {
        let decoded = decode(
            linktype::NULL,
            &with_family([2, 0, 0, 0], &ipv6(PROTO_TCP, &tcp_default(0))),
        );

        assert_eq!(decoded.stop, Some(StopReason::BadIpVersion));
    }

    #[test]
    fn null_unknown_family_is_not_ip() {
        // Families 7 (AF_ISO on BSD, AF_BRIDGE on Linux), 256 and 0 are not IP in either
        // byte order.
        for word in [[7, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]] {
            let decoded = decode(
                linktype::NULL,
                &with_family(word, &ipv4(PROTO_TCP, &tcp_default(0))),
            );

            assert_eq!(
                decoded.stop,
                Some(StopReason::NotIp),
                "family word {word:?}"
            );
        }
    }

    #[test]
    fn loop_reads_network_order_only() {
        let ip_packet = ipv4(PROTO_TCP, &tcp_default(0));
        let network_order = decode(linktype::LOOP, &with_family([0, 0, 0, 2], &ip_packet));
        let little_endian = decode(linktype::LOOP, &with_family([2, 0, 0, 0], &ip_packet));
        let ipv6_darwin = decode(
            linktype::LOOP,
            &with_family([0, 0, 0, 30], &ipv6(PROTO_TCP, &tcp_default(0))),
        );

        assert_eq!(network_order.stop, None);
        assert_eq!(little_endian.stop, Some(StopReason::NotIp));
        assert_eq!(ipv6_darwin.stop, None);
    }

    #[test]
    fn cut_family_word_is_truncated_link() {
        for linktype in [linktype::NULL, linktype::LOOP] {
            for len in 0..4 {
                let decoded = decode(linktype, [0, 0, 0, 2].get(..len).unwrap());

                assert_eq!(
                    decoded.stop,
                    Some(StopReason::TruncatedLink),
                    "link type {linktype}, length {len}"
                );
            }
            let empty_ip = decode(linktype, &[0, 0, 0, 2]);
            assert_eq!(
                empty_ip.stop,
                Some(StopReason::TruncatedIp),
                "link type {linktype}"
            );
        }
    }
}
