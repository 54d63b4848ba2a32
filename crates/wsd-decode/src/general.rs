//! The general decoder: every link type, encapsulation and tunnel, and the fields of
//! IP fragments.
//!
//! [`decode_with`](crate::decode_with) decodes plain packets on a fast path and hands
//! every other packet here, where decoding starts again from the first byte. Both
//! paths share the header decoders, and a property test checks that they agree on
//! every packet the fast path decodes.

use crate::ip::{self, IpPayload};
use crate::link::{self, NetworkLayer};
use crate::packet::{Decoded, IpInfo, StopReason};
use crate::state::DecodeState;
use crate::{tcp, transport, tunnel, DecodeOptions};

/// Decodes one packet with every layer this crate follows.
#[inline(never)]
pub(crate) fn decode_general(linktype: u32, data: &[u8], options: &DecodeOptions) -> Decoded {
    let mut state = DecodeState::new(options);
    let result = match link::decode_link(linktype, data, &mut state) {
        Ok(mut network) => {
            network.bounded |= options.whole_frame;
            decode_network(network, &mut state)
        }
        Err(reason) => Err(reason),
    };
    if let Err(reason) = result {
        state.out.stop = Some(reason);
    }
    state.out
}

/// Decodes the IP packet `network` and the tunnels inside it down to the innermost
/// transport header. The encapsulation limit in `state` bounds the passes through the
/// loop.
///
/// `state.out.ip` stays empty until the transport header of the innermost packet, or a
/// later fragment, ends decoding. So a packet that stops inside a tunnel reports no IP
/// layer, and its outer addresses are in `state.out.tunnel`.
fn decode_network(
    mut network: NetworkLayer<'_>,
    state: &mut DecodeState,
) -> Result<(), StopReason> {
    loop {
        let bounded = network.bounded;
        let (ip, payload, fragment) = ip::decode_ip(network)?;
        if let Some(fields) = fragment {
            state.record_fragment(&ip, fields, payload);
        }
        if ip.is_later_fragment {
            state.out.ip = Some(ip);
            return Err(StopReason::Fragment);
        }
        network = match tunnel::decode_tunnel(&ip, payload, state) {
            Some(inner) => {
                let mut inner = inner?;
                // A bounded packet ends where its payload ends, so the packet
                // inside does too, unless the outer packet is a first fragment
                // whose payload holds only the start of it.
                inner.bounded |= bounded && !ip.is_first_fragment;
                inner
            }
            None => return decode_transport(ip, payload, state),
        };
    }
}

/// Stores the IP header `ip` and decodes the transport header after it.
///
/// A first fragment whose own length cuts its TCP header after the first 16 bytes
/// still decodes, and its long options continue in the next fragment. Those 16
/// bytes contain every field a flow needs, so the fragment need not wait in a
/// fragment table to be joined.
fn decode_transport(
    ip: IpInfo,
    payload: IpPayload<'_>,
    state: &mut DecodeState,
) -> Result<(), StopReason> {
    state.out.ip = Some(ip);
    let result = match transport::decode_transport(payload) {
        Err(reason) if ip.is_first_fragment && header_cut_by_fragment(reason, payload) => {
            transport::decode_transport_head(payload.protocol, payload.bytes, payload.len)
        }
        other => other,
    };
    match result {
        Ok(transport) => {
            state.out.transport = transport;
            Ok(())
        }
        Err(reason) => Err(transport::classify_error(reason, &ip, payload)),
    }
}

/// Returns true if `reason`, from decoding the TCP header of a first fragment, comes
/// from the fragment's length rather than from the capture or a bad field. That is
/// the case when the IP length ends inside the 20-byte base header, or before the
/// header end that the data offset gives.
fn header_cut_by_fragment(reason: StopReason, payload: IpPayload<'_>) -> bool {
    if payload.protocol != transport::TCP {
        return false;
    }
    match reason {
        StopReason::TruncatedTransport => payload.len < tcp::MIN_HEADER_LEN_U32,
        StopReason::BadTcpDataOffset => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_packets::*;
    use crate::{decode, linktype, FragmentHead, FragmentInfo, StopReason, TunnelKind};

    /// Builds an Ethernet frame with a GRE packet whose outer IPv4 header has the given
    /// flags and fragment offset field, carrying the default TCP packet.
    fn fragmented_gre_frame(fragment_field: u16) -> Vec<u8> {
        let inner = ipv4(PROTO_TCP, &tcp_default(100));
        let mut outer = outer_ipv4(PROTO_GRE, &gre_plain(ETHERTYPE_IPV4, &inner));
        set_ipv4_fragment_field(&mut outer, fragment_field);
        ethernet(ETHERTYPE_IPV4, &outer)
    }

    /// Returns the fragment fields of the outer header of `fragmented_gre_frame`,
    /// whose data is the GRE packet.
    fn outer_fragment(offset: u16, more_fragments: bool) -> FragmentInfo {
        let gre = gre_plain(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(100)));
        FragmentInfo {
            data_len: u32::try_from(gre.len()).unwrap(),
            head: FragmentHead::new(&gre),
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            protocol: PROTO_GRE,
            id: 1,
            offset,
            more_fragments,
        }
    }

    #[test]
    fn ipv4_fragments_report_their_fields() {
        let cases = [
            (0x2000, Some((0, true))),
            (0x2000 | 185, Some((1480, true))),
            (185, Some((1480, false))),
            (0x4000, None),
            (0, None),
        ];
        for (field, expected) in cases {
            let mut packet = ipv4(PROTO_TCP, &tcp_default(10));
            set_ipv4_fragment_field(&mut packet, field);
            let decoded = decode(linktype::IPV4, &packet);
            let fields = decoded
                .fragment
                .map(|fragment| (fragment.offset, fragment.more_fragments));

            assert_eq!(fields, expected, "field {field:#06x}");
            if let Some(fragment) = decoded.fragment {
                assert_eq!(fragment.id, 1, "field {field:#06x}");
                assert_eq!(fragment.protocol, PROTO_TCP, "field {field:#06x}");
                assert_eq!(fragment.src.to_string(), "10.0.0.1", "field {field:#06x}");
                assert_eq!(fragment.is_first(), field & 0x1fff == 0);
            }
        }
    }

    #[test]
    fn ipv6_fragment_header_fields() {
        let mut first = ipv6_fragment_header(PROTO_TCP, 0, true);
        first.extend(tcp_default(8));
        let mut later = ipv6_fragment_header(PROTO_TCP, 100, false);
        later.extend([0x55; 16]);
        let mut atomic = ipv6_fragment_header(PROTO_TCP, 0, false);
        atomic.extend(tcp_default(0));

        let first = decode(linktype::IPV6, &ipv6(44, &first));
        let later = decode(linktype::IPV6, &ipv6(44, &later));
        let atomic = decode(linktype::IPV6, &ipv6(44, &atomic));

        let first_fragment = first.fragment.expect("first fragment");
        assert_eq!(first.stop, None);
        assert_eq!(first_fragment.id, 7);
        assert_eq!(first_fragment.offset, 0);
        assert!(first_fragment.more_fragments);
        assert_eq!(first_fragment.protocol, PROTO_TCP);

        let later_fragment = later.fragment.expect("later fragment");
        assert_eq!(later.stop, Some(StopReason::Fragment));
        assert_eq!(later_fragment.offset, 800);
        assert!(!later_fragment.more_fragments);
        assert_eq!(later_fragment.dst.to_string(), "2001:db8::2");

        assert_eq!(atomic.stop, None);
        assert_eq!(atomic.fragment, None);
    }

    #[test]
    fn first_outer_fragment_reaches_inner_flow() {
        let decoded = decode(linktype::ETHERNET, &fragmented_gre_frame(0x2000));

        assert_eq!(decoded.stop, None);
        assert_eq!(expect_ip(&decoded).src.to_string(), "10.0.0.1");
        assert_eq!(expect_tcp(&decoded).payload_len, 100);
        assert_eq!(expect_tunnel(&decoded).kind, TunnelKind::Gre);
        assert_eq!(decoded.fragment, Some(outer_fragment(0, true)));
    }

    #[test]
    fn later_outer_fragment_stops_at_outer_header() {
        let decoded = decode(linktype::ETHERNET, &fragmented_gre_frame(185));

        assert_eq!(decoded.stop, Some(StopReason::Fragment));
        assert_eq!(expect_ip(&decoded).src.to_string(), "192.0.2.1");
        assert_eq!(decoded.tunnel, None);
        assert_eq!(decoded.fragment, Some(outer_fragment(1480, false)));
    }

    #[test]
    fn inner_fragment_is_reported_when_outer_is_whole() {
        let mut inner = ipv4(PROTO_TCP, &tcp_default(100));
        set_ipv4_fragment_field(&mut inner, 0x2000 | 10);
        let packet = outer_ipv4(PROTO_GRE, &gre_plain(ETHERTYPE_IPV4, &inner));
        let decoded = decode(linktype::RAW, &packet);
        let fragment = decoded.fragment.expect("inner fragment");

        assert_eq!(decoded.stop, Some(StopReason::Fragment));
        assert_eq!(expect_ip(&decoded).src.to_string(), "10.0.0.1");
        assert_eq!(expect_tunnel(&decoded).src.to_string(), "192.0.2.1");
        assert_eq!(fragment.src.to_string(), "10.0.0.1");
        assert_eq!(fragment.offset, 80);
    }

    #[test]
    fn tiny_fragment_inside_tunnel_is_named() {
        let mut inner = ipv4(PROTO_TCP, tcp_default(0).get(..8).unwrap());
        set_ipv4_fragment_field(&mut inner, 0x2000);
        let packet = outer_ipv4(PROTO_IPV4_IN_IP, &inner);
        let decoded = decode(linktype::RAW, &packet);

        assert_eq!(decoded.stop, Some(StopReason::TinyFragment));
        assert!(decoded.fragment.is_some());
    }
}
