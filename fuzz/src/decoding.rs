//! Decoding packets under each family of link types, checking what the decoder promises.

use wsd_decode::{decode, decode_with, linktype, DecodeOptions, Decoded, Transport};

use crate::alloc_count::allocations;

/// Link types of the `decode_ethernet` target.
pub const ETHERNET: &[u32] = &[linktype::ETHERNET];

/// Link types of the `decode_sll` target: Linux cooked captures, versions 1 and 2.
pub const SLL: &[u32] = &[linktype::LINUX_SLL, linktype::LINUX_SLL2];

/// Link types of the `decode_raw_ip` target: every raw IP link type.
pub const RAW_IP: &[u32] = &[
    linktype::RAW,
    linktype::RAW_12,
    linktype::RAW_14,
    linktype::IPV4,
    linktype::IPV6,
];

/// Link types of the `decode_loopback` target: BSD and OpenBSD loopback.
pub const LOOPBACK: &[u32] = &[linktype::NULL, linktype::LOOP];

/// Link types of the `decode_ppp` target: PPP, PPP in HDLC-like framing, and PPPoE
/// sessions without an Ethernet header.
pub const PPP: &[u32] = &[linktype::PPP, linktype::PPP_HDLC, linktype::PPP_ETHER];

/// Link types of the `decode_chdlc` target: Cisco HDLC.
pub const CHDLC: &[u32] = &[linktype::C_HDLC];

/// Link types of the `decode_nflog` target: Linux netfilter NFLOG messages.
pub const NFLOG: &[u32] = &[linktype::NFLOG];

/// Splits a decoder target's input into a link type of `family` and the packet bytes.
///
/// A family of one link type takes the whole input as the packet. Otherwise the first
/// byte, modulo the family's size, picks the link type and the packet follows it.
/// Returns `None` for an empty input to a family of several link types.
pub fn split_linktype<'a>(family: &[u32], input: &'a [u8]) -> Option<(u32, &'a [u8])> {
    match family {
        [only] => Some((*only, input)),
        _ => {
            let (selector, packet) = input.split_first()?;
            let linktype = family[usize::from(*selector) % family.len()];
            Some((linktype, packet))
        }
    }
}

/// Returns the selector byte that makes [`split_linktype`] pick `linktype` from
/// `family`. Returns `None` when the family lacks `linktype`, or has only one link type
/// and so takes no selector.
pub fn selector_for(family: &[u32], linktype: u32) -> Option<u8> {
    if family.len() < 2 {
        return None;
    }
    let index = family.iter().position(|&member| member == linktype)?;
    u8::try_from(index).ok()
}

/// Decodes a decoder target's input and checks that decoding allocated nothing and
/// that the result is consistent.
pub fn fuzz_decode(family: &[u32], input: &[u8]) {
    let Some((linktype, packet)) = split_linktype(family, input) else {
        return;
    };
    let before = allocations();
    let decoded = decode(linktype, packet);
    let allocated = allocations() - before;
    assert_eq!(
        allocated, 0,
        "decode allocated {allocated} times for link type {linktype}: {decoded:?}"
    );
    check_decoded(&decoded);

    // The same bytes as a frame captured whole, whose IP lengths the frame bounds.
    let options = DecodeOptions::new().with_whole_frame(true);
    let bounded = decode_with(linktype, packet, &options);
    check_decoded(&bounded);
    // A packet inside a first fragment is only partly in the frame, so its length
    // stays unbounded.
    if let (Some(ip), None) = (bounded.ip, bounded.fragment) {
        assert!(
            ip.total_len as usize <= packet.len(),
            "IP length beyond a whole frame: {bounded:?}"
        );
    }
}

/// Checks that the layers and lengths of `decoded` agree with each other, as the
/// `wsd-decode` documentation describes them.
///
/// # Panics
///
/// Panics when a check fails, with the decoded packet in the message.
pub fn check_decoded(decoded: &Decoded) {
    let has_transport = decoded.transport != Transport::None;
    assert_eq!(
        decoded.stop.is_none(),
        has_transport,
        "decoding stopped without a reason or had a reason to stop after the transport \
         header: {decoded:?}"
    );
    check_vlans(decoded);

    if let Some(ip) = decoded.ip {
        assert_eq!(
            ip.src.is_ipv4(),
            ip.dst.is_ipv4(),
            "IP addresses of two families: {decoded:?}"
        );
        let min_header = if ip.src.is_ipv4() { 20 } else { 40 };
        assert!(
            ip.header_len >= min_header,
            "IP header shorter than {min_header} bytes: {decoded:?}"
        );
        assert!(
            ip.header_len <= ip.total_len,
            "IP header longer than the IP packet: {decoded:?}"
        );
    }

    let ip_payload = decoded.ip.map(|ip| ip.total_len - ip.header_len);
    match decoded.transport {
        Transport::Tcp(tcp) => {
            assert!(
                (20..=60).contains(&tcp.header_len),
                "TCP header length outside 20..=60: {decoded:?}"
            );
            assert_eq!(
                Some(tcp.segment_len),
                ip_payload,
                "TCP segment length is not the IP payload length: {decoded:?}"
            );
            // A first fragment may end inside long TCP options, which continue in
            // the next fragment: it then has a segment shorter than its header and
            // no payload.
            let first_fragment = decoded.ip.is_some_and(|ip| ip.is_first_fragment);
            let expected_payload = match tcp.segment_len.checked_sub(tcp.header_len) {
                None if first_fragment => Some(0),
                other => other,
            };
            assert_eq!(
                expected_payload,
                Some(tcp.payload_len),
                "TCP payload length is not the segment length minus the header: {decoded:?}"
            );
        }
        Transport::Udp(udp) => {
            assert!(
                udp.datagram_len >= 8,
                "UDP datagram shorter than its header: {decoded:?}"
            );
            assert_eq!(
                Some(udp.datagram_len),
                ip_payload,
                "UDP datagram length is not the IP payload length: {decoded:?}"
            );
        }
        Transport::Sctp(sctp) => {
            assert!(
                sctp.packet_len >= 12,
                "SCTP packet shorter than its common header: {decoded:?}"
            );
            assert_eq!(
                Some(sctp.packet_len),
                ip_payload,
                "SCTP packet length is not the IP payload length: {decoded:?}"
            );
        }
        Transport::Icmp(_) => {
            assert!(
                decoded.ip.is_some(),
                "ICMP without an IP layer: {decoded:?}"
            );
        }
        Transport::None => {}
    }
}

fn check_vlans(decoded: &Decoded) {
    let vlans = decoded.vlans;
    for (index, id) in vlans.ids.into_iter().enumerate() {
        assert!(id <= 0x0fff, "VLAN ID above 12 bits: {decoded:?}");
        if index >= usize::from(vlans.count) {
            assert_eq!(id, 0, "VLAN ID in an unused slot: {decoded:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_picks_linktype() {
        for family in [SLL, RAW_IP, LOOPBACK, PPP] {
            for &linktype in family {
                let selector = selector_for(family, linktype).expect("a selector");
                let input = [selector, 0xab];
                assert_eq!(
                    split_linktype(family, &input),
                    Some((linktype, &input[1..]))
                );
            }
        }
    }

    #[test]
    fn single_linktype_takes_whole_input() {
        assert_eq!(selector_for(ETHERNET, linktype::ETHERNET), None);
        assert_eq!(
            split_linktype(ETHERNET, &[1, 2]),
            Some((linktype::ETHERNET, &[1u8, 2][..]))
        );
        assert_eq!(split_linktype(SLL, &[]), None);
    }
}
