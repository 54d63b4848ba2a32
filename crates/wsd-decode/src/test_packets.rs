//! Builders of test packets, one function per header, and checks on decoded layers.

use crate::packet::{Decoded, IpInfo, TcpInfo, Transport, TunnelInfo};

/// The source MAC address of every built Ethernet frame.
pub(crate) const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The destination MAC address of every built Ethernet frame.
pub(crate) const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// The source IPv4 address of every built IPv4 packet.
pub(crate) const SRC_V4: [u8; 4] = [10, 0, 0, 1];
/// The destination IPv4 address of every built IPv4 packet.
pub(crate) const DST_V4: [u8; 4] = [10, 0, 0, 2];
/// The source IPv6 address of every built IPv6 packet, 2001:db8::1.
pub(crate) const SRC_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// The destination IPv6 address of every built IPv6 packet, 2001:db8::2.
pub(crate) const DST_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// The source MAC address of every built Ethernet frame inside a tunnel.
pub(crate) const INNER_SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
/// The destination MAC address of every built Ethernet frame inside a tunnel.
pub(crate) const INNER_DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x02];
/// The outer source IPv4 address of built tunnels, 192.0.2.1.
pub(crate) const OUTER_SRC_V4: [u8; 4] = [192, 0, 2, 1];
/// The outer destination IPv4 address of built tunnels, 192.0.2.2.
pub(crate) const OUTER_DST_V4: [u8; 4] = [192, 0, 2, 2];
/// The outer source IPv6 address of built tunnels, 2001:db8:ff::1.
pub(crate) const OUTER_SRC_V6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
];
/// The outer destination IPv6 address of built tunnels, 2001:db8:ff::2.
pub(crate) const OUTER_DST_V6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
];

pub(crate) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u16 = 0x86dd;
pub(crate) const ETHERTYPE_VLAN: u16 = 0x8100;
pub(crate) const ETHERTYPE_MPLS: u16 = 0x8847;
pub(crate) const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
pub(crate) const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
pub(crate) const ETHERTYPE_TRANSPARENT_ETHERNET: u16 = 0x6558;
pub(crate) const ETHERTYPE_ERSPAN_TYPE_2: u16 = 0x88be;
pub(crate) const ETHERTYPE_ERSPAN_TYPE_3: u16 = 0x22eb;
pub(crate) const PROTO_IPV4_IN_IP: u8 = 4;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_IPV6_IN_IP: u8 = 41;
pub(crate) const PROTO_GRE: u8 = 47;
pub(crate) const PROTO_SCTP: u8 = 132;
pub(crate) const PPP_IPV4: u16 = 0x0021;
pub(crate) const PPP_IPV6: u16 = 0x0057;

/// Builds an Ethernet II frame.
pub(crate) fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    ethernet_between(SRC_MAC, DST_MAC, ethertype, payload)
}

/// Builds an Ethernet II frame between the given MAC addresses.
pub(crate) fn ethernet_between(
    src: [u8; 6],
    dst: [u8; 6],
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Builds an Ethernet II frame with VLAN tags, outermost first, each given as its tag
/// type and VLAN ID.
pub(crate) fn ethernet_tagged(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let Some(&(first_type, _)) = tags.first() else {
        return ethernet(ethertype, payload);
    };
    let mut body = Vec::new();
    for (index, &(_, id)) in tags.iter().enumerate() {
        let next_type = tags
            .get(index + 1)
            .map_or(ethertype, |&(tag_type, _)| tag_type);
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(&next_type.to_be_bytes());
    }
    body.extend_from_slice(payload);
    ethernet(first_type, &body)
}

/// Builds an IPv4 packet with the given options (a multiple of 4 bytes) and a total
/// length that covers the payload.
pub(crate) fn ipv4_with_options(protocol: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    ipv4_full(SRC_V4, DST_V4, protocol, options, payload)
}

/// Builds an IPv4 packet between the given addresses, with identification 1 and no
/// fragmentation.
pub(crate) fn ipv4_full(
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0, "IPv4 options must fill 4-byte words");
    let header_len = 20 + options.len();
    let total_len = u16::try_from(header_len + payload.len()).expect("IPv4 packet too long");
    let ihl = u8::try_from(header_len / 4).expect("IPv4 options too long");

    let mut packet = vec![0x40 | ihl, 0];
    packet.extend_from_slice(&total_len.to_be_bytes());
    packet.extend_from_slice(&[0, 1, 0, 0, 64, protocol, 0, 0]);
    packet.extend_from_slice(&src);
    packet.extend_from_slice(&dst);
    packet.extend_from_slice(options);
    packet.extend_from_slice(payload);
    packet
}

/// Builds an IPv4 packet without options.
pub(crate) fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_with_options(protocol, &[], payload)
}

/// Builds an IPv6 packet whose payload (extension headers included) starts with a
/// header of type `next_header`.
pub(crate) fn ipv6(next_header: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_between(SRC_V6, DST_V6, next_header, payload)
}

/// Builds an IPv6 packet between the given addresses.
pub(crate) fn ipv6_between(
    src: [u8; 16],
    dst: [u8; 16],
    next_header: u8,
    payload: &[u8],
) -> Vec<u8> {
    let payload_len = u16::try_from(payload.len()).expect("IPv6 payload too long");
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&payload_len.to_be_bytes());
    packet.extend_from_slice(&[next_header, 64]);
    packet.extend_from_slice(&src);
    packet.extend_from_slice(&dst);
    packet.extend_from_slice(payload);
    packet
}

/// Builds an IPv6 extension header of the options kind (hop-by-hop, routing or
/// destination options) that is `len` bytes long, a multiple of 8.
pub(crate) fn ipv6_options_header(next_header: u8, len: usize) -> Vec<u8> {
    assert!(
        len >= 8 && len % 8 == 0,
        "extension header length {len} is invalid"
    );
    let length_field = u8::try_from(len / 8 - 1).expect("extension header too long");
    let mut header = vec![next_header, length_field];
    header.resize(len, 0);
    header
}

/// Builds an IPv6 fragment header with the offset in 8-byte units.
pub(crate) fn ipv6_fragment_header(next_header: u8, offset: u16, more: bool) -> Vec<u8> {
    let field = (offset << 3) | u16::from(more);
    let mut header = vec![next_header, 0];
    header.extend_from_slice(&field.to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 7]);
    header
}

/// The fields of a built TCP header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcpFields {
    pub(crate) src_port: u16,
    pub(crate) dst_port: u16,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) window: u16,
}

impl Default for TcpFields {
    fn default() -> Self {
        TcpFields {
            src_port: 40000,
            dst_port: 80,
            seq: 1_000_000,
            ack: 2_000_000,
            flags: 0x10,
            window: 65535,
        }
    }
}

/// Builds a TCP segment with the given options (a multiple of 4 bytes) and payload.
pub(crate) fn tcp(fields: TcpFields, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0, "TCP options must fill 4-byte words");
    let data_offset = u8::try_from((20 + options.len()) / 4).expect("TCP options too long");

    let mut segment = Vec::new();
    segment.extend_from_slice(&fields.src_port.to_be_bytes());
    segment.extend_from_slice(&fields.dst_port.to_be_bytes());
    segment.extend_from_slice(&fields.seq.to_be_bytes());
    segment.extend_from_slice(&fields.ack.to_be_bytes());
    segment.extend_from_slice(&[data_offset << 4, fields.flags]);
    segment.extend_from_slice(&fields.window.to_be_bytes());
    segment.extend_from_slice(&[0, 0, 0, 0]);
    segment.extend_from_slice(options);
    segment.extend_from_slice(payload);
    segment
}

/// Builds a TCP segment with default fields, no options and `payload_len` bytes of
/// payload.
pub(crate) fn tcp_default(payload_len: usize) -> Vec<u8> {
    tcp(TcpFields::default(), &[], &vec![0x61; payload_len])
}

/// Builds a UDP datagram.
pub(crate) fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("UDP datagram too long");
    let mut datagram = Vec::new();
    datagram.extend_from_slice(&src_port.to_be_bytes());
    datagram.extend_from_slice(&dst_port.to_be_bytes());
    datagram.extend_from_slice(&len.to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(payload);
    datagram
}

/// Builds an SCTP packet: the common header with verification tag 0x01020304 and
/// a zero checksum, which the decoder does not verify, then `chunks`.
pub(crate) fn sctp(src_port: u16, dst_port: u16, chunks: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    packet.extend_from_slice(&src_port.to_be_bytes());
    packet.extend_from_slice(&dst_port.to_be_bytes());
    packet.extend_from_slice(&[1, 2, 3, 4, 0, 0, 0, 0]);
    packet.extend_from_slice(chunks);
    packet
}

/// TCP options of a typical SYN: MSS, SACK permitted, timestamps, NOP and window scale,
/// 20 bytes in all.
pub(crate) const SYN_OPTIONS: [u8; 20] = [
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
];

/// TCP options of a data segment with timestamps: two NOPs and a timestamp, 12 bytes.
pub(crate) const TIMESTAMP_OPTIONS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];

/// Returns the TCP layer of `decoded`, failing the test if there is none.
pub(crate) fn expect_tcp(decoded: &Decoded) -> TcpInfo {
    match decoded.transport {
        Transport::Tcp(tcp) => tcp,
        other => panic!("expected TCP, got {other:?} with stop {:?}", decoded.stop),
    }
}

/// Returns the IP layer of `decoded`, failing the test if there is none.
pub(crate) fn expect_ip(decoded: &Decoded) -> IpInfo {
    match decoded.ip {
        Some(ip) => ip,
        None => panic!("expected an IP layer, got stop {:?}", decoded.stop),
    }
}

/// Builds a Linux cooked capture (SLL) header and payload.
pub(crate) fn sll(address: &[u8], protocol: u16, payload: &[u8]) -> Vec<u8> {
    let address_len = u16::try_from(address.len()).expect("address too long");
    let mut padded_address = address.to_vec();
    padded_address.resize(8, 0);

    let mut packet = vec![0, 0, 0, 1];
    packet.extend_from_slice(&address_len.to_be_bytes());
    packet.extend_from_slice(&padded_address);
    packet.extend_from_slice(&protocol.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// Builds a Linux cooked capture version 2 (SLL2) header and payload.
pub(crate) fn sll2(address: &[u8], protocol: u16, payload: &[u8]) -> Vec<u8> {
    let address_len = u8::try_from(address.len()).expect("address too long");
    let mut padded_address = address.to_vec();
    padded_address.resize(8, 0);

    let mut packet = Vec::new();
    packet.extend_from_slice(&protocol.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, address_len]);
    packet.extend_from_slice(&padded_address);
    packet.extend_from_slice(payload);
    packet
}

/// Builds an IPv4 packet from the outer tunnel addresses.
pub(crate) fn outer_ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_full(OUTER_SRC_V4, OUTER_DST_V4, protocol, &[], payload)
}

/// Builds an IPv6 packet from the outer tunnel addresses.
pub(crate) fn outer_ipv6(next_header: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_between(OUTER_SRC_V6, OUTER_DST_V6, next_header, payload)
}

/// Builds an Ethernet frame between the inner MAC addresses, as tunnels carry it.
pub(crate) fn inner_ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    ethernet_between(INNER_SRC_MAC, INNER_DST_MAC, ethertype, payload)
}

/// Builds an inner Ethernet frame carrying the default IPv4 TCP packet with
/// `payload_len` bytes of payload.
pub(crate) fn inner_tcp_frame(payload_len: usize) -> Vec<u8> {
    inner_ethernet(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp_default(payload_len)))
}

/// Sets the flags and fragment offset field of an IPv4 packet.
pub(crate) fn set_ipv4_fragment_field(packet: &mut [u8], field: u16) {
    packet
        .get_mut(6..8)
        .expect("IPv4 header")
        .copy_from_slice(&field.to_be_bytes());
}

/// Builds an MPLS label stack with the bottom-of-stack bit on the last label, then the
/// payload.
pub(crate) fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    for (index, label) in labels.iter().enumerate() {
        let bottom = u32::from(index + 1 == labels.len());
        let entry = (label << 12) | (bottom << 8) | 64;
        packet.extend_from_slice(&entry.to_be_bytes());
    }
    packet.extend_from_slice(payload);
    packet
}

/// Builds a PPPoE session header for session 0x1234, then the PPP frame.
pub(crate) fn pppoe_session(ppp_protocol: u16, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).expect("PPPoE payload too long");
    let mut packet = vec![0x11, 0x00, 0x12, 0x34];
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&ppp_protocol.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// The optional fields of a built GRE header.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GreFields {
    pub(crate) checksum: bool,
    pub(crate) key: Option<u32>,
    pub(crate) sequence: Option<u32>,
}

/// Builds a version 0 GRE header and its payload.
pub(crate) fn gre(fields: GreFields, protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u8;
    if fields.checksum {
        flags |= 0x80;
    }
    if fields.key.is_some() {
        flags |= 0x20;
    }
    if fields.sequence.is_some() {
        flags |= 0x10;
    }
    let mut packet = vec![flags, 0];
    packet.extend_from_slice(&protocol.to_be_bytes());
    if fields.checksum {
        packet.extend_from_slice(&[0xab, 0xcd, 0, 0]);
    }
    if let Some(key) = fields.key {
        packet.extend_from_slice(&key.to_be_bytes());
    }
    if let Some(sequence) = fields.sequence {
        packet.extend_from_slice(&sequence.to_be_bytes());
    }
    packet.extend_from_slice(payload);
    packet
}

/// Builds a plain GRE header without optional fields.
pub(crate) fn gre_plain(protocol: u16, payload: &[u8]) -> Vec<u8> {
    gre(GreFields::default(), protocol, payload)
}

/// Builds the first word of an ERSPAN header: version, VLAN 0x123, class of service
/// and session ID.
fn erspan_first_word(version: u8, session_id: u16) -> [u8; 4] {
    let word = (u32::from(version) << 28) | (0x123 << 16) | (5 << 13) | u32::from(session_id);
    word.to_be_bytes()
}

/// Builds an ERSPAN type II header (index 7) and the mirrored frame.
pub(crate) fn erspan_type_2(session_id: u16, frame: &[u8]) -> Vec<u8> {
    let mut packet = erspan_first_word(1, session_id).to_vec();
    packet.extend_from_slice(&7u32.to_be_bytes());
    packet.extend_from_slice(frame);
    packet
}

/// Builds an ERSPAN type III header with the given frame type, optionally the
/// platform-specific subheader, and the mirrored frame.
pub(crate) fn erspan_type_3(
    session_id: u16,
    frame_type: u8,
    platform_header: bool,
    frame: &[u8],
) -> Vec<u8> {
    let mut packet = erspan_first_word(2, session_id).to_vec();
    packet.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    packet.extend_from_slice(&0x0042u16.to_be_bytes());
    packet.push(0x80 | (frame_type << 2));
    packet.push(0x10 | u8::from(platform_header));
    if platform_header {
        packet.extend_from_slice(&[0x0c, 0, 0, 0, 0, 0, 0, 1]);
    }
    packet.extend_from_slice(frame);
    packet
}

/// Builds a VXLAN header with the network identifier flag and `vni`, then the frame.
pub(crate) fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x08, 0, 0, 0];
    packet.extend_from_slice(&(vni << 8).to_be_bytes());
    packet.extend_from_slice(frame);
    packet
}

/// Builds a Geneve header with the given options (a multiple of 4 bytes), then the
/// payload.
pub(crate) fn geneve(vni: u32, protocol: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(
        options.len() % 4,
        0,
        "Geneve options must fill 4-byte words"
    );
    let options_len = u8::try_from(options.len() / 4).expect("Geneve options too long");
    let mut packet = vec![options_len, 0];
    packet.extend_from_slice(&protocol.to_be_bytes());
    packet.extend_from_slice(&(vni << 8).to_be_bytes());
    packet.extend_from_slice(options);
    packet.extend_from_slice(payload);
    packet
}

/// Builds an NFLOG record of `family` from attributes given as type and value, with
/// lengths and types in little-endian order and each value padded to 4 bytes.
pub(crate) fn nflog(family: u8, attributes: &[(u16, &[u8])]) -> Vec<u8> {
    let mut record = vec![family, 0, 0, 42];
    for &(attribute_type, value) in attributes {
        let length = u16::try_from(value.len() + 4).expect("NFLOG attribute too long");
        record.extend_from_slice(&length.to_le_bytes());
        record.extend_from_slice(&attribute_type.to_le_bytes());
        record.extend_from_slice(value);
        record.resize(record.len().next_multiple_of(4), 0);
    }
    record
}

/// Returns the tunnel of `decoded`, failing the test if there is none.
pub(crate) fn expect_tunnel(decoded: &Decoded) -> TunnelInfo {
    match decoded.tunnel {
        Some(tunnel) => tunnel,
        None => panic!("expected a tunnel, got stop {:?}", decoded.stop),
    }
}
