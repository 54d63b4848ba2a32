//! MPLS label stacks (RFC 3032) and the guess at the packet after them.

use crate::link::{NetworkLayer, NetworkProtocol};
use crate::packet::StopReason;
use crate::state::DecodeState;

/// The maximum number of labels followed in one stack before decoding stops with
/// [`StopReason::TooManyMplsLabels`]. Segment-routing stacks rarely exceed a dozen.
pub(crate) const MAX_MPLS_LABELS: usize = 16;

/// The bottom-of-stack bit in the third byte of a label stack entry.
const BOTTOM_OF_STACK: u8 = 0x01;

/// Skips an MPLS label stack and guesses the payload from its first nibble, because
/// MPLS does not name the protocol it carries: 4 is IPv4, 6 is IPv6, and anything else
/// stops with [`StopReason::MplsPayloadNotIp`].
pub(crate) fn decode_mpls<'a>(
    data: &'a [u8],
    state: &mut DecodeState,
) -> Result<NetworkLayer<'a>, StopReason> {
    state.enter_encapsulation()?;
    let mut rest = data;
    for _ in 0..MAX_MPLS_LABELS {
        let (entry, after) = rest
            .split_first_chunk::<4>()
            .ok_or(StopReason::TruncatedLink)?;
        rest = after;
        if entry[2] & BOTTOM_OF_STACK != 0 {
            return guess_payload(rest);
        }
    }
    Err(StopReason::TooManyMplsLabels)
}

fn guess_payload(data: &[u8]) -> Result<NetworkLayer<'_>, StopReason> {
    let first_byte = data.first().ok_or(StopReason::TruncatedLink)?;
    match first_byte >> 4 {
        4 => Ok(NetworkLayer::new(NetworkProtocol::Ipv4, data)),
        6 => Ok(NetworkLayer::new(NetworkProtocol::Ipv6, data)),
        // TODO: Ethernet pseudowires (a control word whose first nibble is 0, then a
        // frame) stop here, so the flows inside an MPLS layer-2 VPN are not seen.
        _ => Err(StopReason::MplsPayloadNotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_MPLS_LABELS;
    use crate::test_packets::*;
    use crate::{decode, linktype, Layer, MacAddr, StopReason};

    fn tcp_v4() -> Vec<u8> {
        ipv4(PROTO_TCP, &tcp_default(10))
    }

    #[test]
    fn single_label_carries_ipv4() {
        let frame = ethernet(ETHERTYPE_MPLS, &mpls(&[29], &tcp_v4()));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
        assert_eq!(expect_ip(&decoded).src.to_string(), "10.0.0.1");
        assert_eq!(expect_tcp(&decoded).payload_len, 10);
        assert_eq!(decoded.tunnel, None);
    }

    #[test]
    fn label_stack_carries_ipv6() {
        let packet = ipv6(PROTO_TCP, &tcp_default(0));
        let frame = ethernet(ETHERTYPE_MPLS, &mpls(&[100, 200, 300], &packet));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).dst.to_string(), "2001:db8::2");
    }

    #[test]
    fn multicast_type_is_followed() {
        let frame = ethernet(ETHERTYPE_MPLS_MULTICAST, &mpls(&[7], &tcp_v4()));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_tcp(&decoded).dst_port, 80);
    }

    #[test]
    fn vlan_tags_before_labels_are_kept() {
        let frame = ethernet_tagged(
            &[(ETHERTYPE_VLAN, 4093)],
            ETHERTYPE_MPLS,
            &mpls(&[29], &tcp_v4()),
        );
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
        assert_eq!(decoded.vlans.ids, [4093, 0]);
        assert_eq!(decoded.vlans.count, 1);
    }

    #[test]
    fn pseudowire_control_word_is_not_ip() {
        // An Ethernet pseudowire: a zero control word, then a frame.
        let mut payload = vec![0, 0, 0, 0];
        payload.extend(ethernet(ETHERTYPE_IPV4, &tcp_v4()));
        let frame = ethernet(ETHERTYPE_MPLS, &mpls(&[16], &payload));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, Some(StopReason::MplsPayloadNotIp));
        assert!(!StopReason::MplsPayloadNotIp.is_malformed());
        assert_eq!(StopReason::MplsPayloadNotIp.layer(), Layer::Link);
        assert_eq!(decoded.ip, None);
        assert_eq!(decoded.src_mac, Some(MacAddr(SRC_MAC)));
    }

    #[test]
    fn label_limit_is_inclusive() {
        let labels: Vec<u32> = (1..=u32::try_from(MAX_MPLS_LABELS).unwrap()).collect();
        let frame = ethernet(ETHERTYPE_MPLS, &mpls(&labels, &tcp_v4()));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, None);
    }

    #[test]
    fn too_many_labels_stop() {
        let labels: Vec<u32> = (0..=u32::try_from(MAX_MPLS_LABELS).unwrap()).collect();
        let frame = ethernet(ETHERTYPE_MPLS, &mpls(&labels, &tcp_v4()));
        let decoded = decode(linktype::ETHERNET, &frame);

        assert_eq!(decoded.stop, Some(StopReason::TooManyMplsLabels));
        assert!(StopReason::TooManyMplsLabels.is_malformed());
        assert_eq!(decoded.ip, None);
    }

    #[test]
    fn stack_without_bottom_label_stops() {
        // Sixteen labels, none marked as the bottom of the stack, then nothing.
        let mut stack = Vec::new();
        for label in 0..16u32 {
            stack.extend_from_slice(&((label << 12) | 64).to_be_bytes());
        }
        let decoded = decode(linktype::ETHERNET, &ethernet(ETHERTYPE_MPLS, &stack));

        assert_eq!(decoded.stop, Some(StopReason::TooManyMplsLabels));
    }

    #[test]
    fn cut_at_every_length_keeps_intact_layers() {
        let frame = ethernet(ETHERTYPE_MPLS, &mpls(&[1, 2], &tcp_v4()));
        let (labels_end, ip_end, tcp_end) = (22, 42, 62);

        for len in 0..=frame.len() {
            let decoded = decode(linktype::ETHERNET, frame.get(..len).unwrap());
            let expected_stop = if len <= labels_end {
                Some(StopReason::TruncatedLink)
            } else if len < ip_end {
                Some(StopReason::TruncatedIp)
            } else if len < tcp_end {
                Some(StopReason::TruncatedTransport)
            } else {
                None
            };

            assert_eq!(decoded.stop, expected_stop, "length {len}");
            assert_eq!(decoded.src_mac.is_some(), len >= 14, "length {len}");
            assert_eq!(decoded.ip.is_some(), len >= ip_end, "length {len}");
        }
    }
}
