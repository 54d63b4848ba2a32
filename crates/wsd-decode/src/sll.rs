//! Linux cooked capture headers (SLL and SLL2), as written by `tcpdump -i any`.

use crate::bytes::split_be_u16;
use crate::ethernet::decode_ethertype;
use crate::link::{LinkOutput, NetworkLayer};
use crate::packet::StopReason;

/// The link-layer address length of an Ethernet MAC address.
const MAC_LEN: u8 = 6;

/// Decodes a 16-byte SLL header: packet type (2 bytes), ARPHRD type (2), address
/// length (2), address (8, zero-padded) and protocol (2).
///
/// The address is the sender's, so it becomes the source MAC when it is 6 bytes long.
/// SLL records no destination address.
#[inline]
pub(crate) fn decode_sll<'a, O: LinkOutput<'a>>(
    data: &'a [u8],
    output: &mut O,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (fields, rest) = data
        .split_first_chunk::<6>()
        .ok_or(StopReason::TruncatedLink)?;
    let (address, rest) = rest
        .split_first_chunk::<8>()
        .ok_or(StopReason::TruncatedLink)?;
    let (protocol, rest) = split_be_u16(rest).ok_or(StopReason::TruncatedLink)?;

    let address_len = u16::from_be_bytes([fields[4], fields[5]]);
    if address_len == u16::from(MAC_LEN) {
        output.set_src_mac(source_mac(address));
    }
    decode_ethertype(protocol, rest, output)
}

/// Decodes a 20-byte SLL2 header: protocol (2 bytes), reserved (2), interface index
/// (4), ARPHRD type (2), packet type (1), address length (1) and address (8).
#[inline]
pub(crate) fn decode_sll2<'a, O: LinkOutput<'a>>(
    data: &'a [u8],
    output: &mut O,
) -> Result<NetworkLayer<'a>, StopReason> {
    let (protocol, rest) = split_be_u16(data).ok_or(StopReason::TruncatedLink)?;
    let (fields, rest) = rest
        .split_first_chunk::<10>()
        .ok_or(StopReason::TruncatedLink)?;
    let (address, rest) = rest
        .split_first_chunk::<8>()
        .ok_or(StopReason::TruncatedLink)?;

    let address_len = fields[9];
    if address_len == MAC_LEN {
        output.set_src_mac(source_mac(address));
    }
    decode_ethertype(protocol, rest, output)
}

/// Returns the first 6 bytes of a zero-padded 8-byte address field.
#[inline]
fn source_mac(address: &[u8; 8]) -> &[u8; 6] {
    let [mac @ .., _, _] = address;
    mac
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, MacAddr, StopReason};

    #[test]
    fn sll_mac_address_is_source() {
        let packet = sll(&SRC_MAC, ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(5)));
        let decoded = decode(linktype::LINUX_SLL, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(decoded.dst_mac, None);
        assert_eq!(expect_tcp(&decoded).payload_len, 5);
    }

    #[test]
    fn sll_other_address_length_has_no_mac() {
        let packet = sll(
            &[1, 2, 3, 4],
            ETHERTYPE_IPV6,
            &ipv6(PROTO_TCP, &tcp_default(0)),
        );
        let decoded = decode(linktype::LINUX_SLL, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, None);
        assert_eq!(expect_ip(&decoded).protocol, PROTO_TCP);
    }

    #[test]
    fn sll_vlan_protocol_is_followed() {
        let mut tagged = vec![0, 12];
        tagged.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        tagged.extend_from_slice(&ipv4(PROTO_TCP, &tcp_default(0)));
        let packet = sll(&SRC_MAC, 0x8100, &tagged);
        let decoded = decode(linktype::LINUX_SLL, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [12, 0]);
    }

    #[test]
    fn sll_non_ip_protocol() {
        // Protocol 0x0004 marks 802.2 LLC frames.
        let packet = sll(&SRC_MAC, 0x0004, &[0x42, 0x42, 0x03]);
        let decoded = decode(linktype::LINUX_SLL, &packet);

        assert_eq!(decoded.stop, Some(StopReason::NotIp));
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
    }

    #[test]
    fn sll2_mac_address_is_source() {
        let packet = sll2(&SRC_MAC, ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(7)));
        let decoded = decode(linktype::LINUX_SLL2, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(decoded.dst_mac, None);
        assert_eq!(expect_tcp(&decoded).payload_len, 7);
    }

    #[test]
    fn sll2_other_address_length_has_no_mac() {
        let packet = sll2(&[], ETHERTYPE_IPV6, &ipv6(PROTO_TCP, &tcp_default(0)));
        let decoded = decode(linktype::LINUX_SLL2, &packet);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, None);
    }

    #[test]
    fn cut_at_every_length_keeps_intact_layers() {
        let cases = [
            (
                linktype::LINUX_SLL,
                sll(&SRC_MAC, ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(3))),
                16,
            ),
            (
                linktype::LINUX_SLL2,
                sll2(&SRC_MAC, ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(3))),
                20,
            ),
        ];

        for (linktype, packet, header_len) in cases {
            for len in 0..=packet.len() {
                let decoded = decode(linktype, packet.get(..len).unwrap());
                let expected_stop = if len < header_len {
                    Some(StopReason::TruncatedLink)
                } else if len < header_len + 20 {
                    Some(StopReason::TruncatedIp)
                } else if len < header_len + 40 {
                    Some(StopReason::TruncatedTransport)
                } else {
                    None
                };
                assert_eq!(
                    decoded.stop, expected_stop,
                    "link type {linktype}, length {len}"
                );
                assert_eq!(
                    decoded.src_mac.is_some(),
                    len >= header_len,
                    "link type {linktype}, length {len}"
                );
                assert_eq!(
                    decoded.ip.is_some(),
                    len >= header_len + 20,
                    "link type {linktype}, length {len}"
                );
            }
        }
    }
}
