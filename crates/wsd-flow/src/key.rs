//! Flow keys: the same key for both directions of a conversation.

use std::net::IpAddr;

use wsd_decode::{Decoded, IpInfo, Transport, Vlans};

use crate::tracker::RecordProtocols;

/// An address as 16 bytes: IPv4 addresses are stored in the first four.
pub(crate) type AddrBytes = [u8; 16];

/// The key of a flow, identical for both directions.
///
/// Endpoint `a` is the lower of the two (address, port) pairs, so a packet and its
/// reply find the same entry. MAC addresses are deliberately not part of the key,
/// so a gateway change does not split a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    pub addr_a: AddrBytes,
    pub addr_b: AddrBytes,
    pub port_a: u16,
    pub port_b: u16,
    pub vlan_ids: [u16; 2],
    pub protocol: u8,
    pub v6: bool,
}

/// Hashes the key as three 128-bit words. Foldhash 0.2 mixes each 128-bit write
/// with one multiplication, so this costs less than the field-by-field hash that a
/// derived `Hash` writes, with its length prefixes for arrays.
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_ne_bytes(self.addr_a));
        state.write_u128(u128::from_ne_bytes(self.addr_b));
        state.write_u128(
            u128::from(self.port_a) << 48
                | u128::from(self.port_b) << 32
                | u128::from(self.vlan_ids[0]) << 16
                | u128::from(self.vlan_ids[1])
                | u128::from(self.protocol) << 65
                | u128::from(self.v6) << 64,
        );
    }
}

/// The fields of one packet that flow tracking keys on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PacketKey {
    pub key: FlowKey,
    /// True if the packet was sent by endpoint `a` of the key.
    pub from_a: bool,
}

pub(crate) fn addr_bytes(ip: IpAddr) -> (AddrBytes, bool) {
    match ip {
        IpAddr::V4(v4) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            (bytes, false)
        }
        IpAddr::V6(v6) => (v6.octets(), true),
    }
}

/// Returns an address as the number whose big-endian bytes are its
/// [`AddrBytes`], so that numbers compare in the order of the bytes, and
/// whether it is an IPv6 address.
fn addr_number(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, false),
        IpAddr::V6(v6) => (u128::from(v6), true),
    }
}

/// Converts stored address bytes back to an address.
pub(crate) fn to_ip(bytes: AddrBytes, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::from(bytes)
    } else {
        IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

impl PacketKey {
    /// Builds the key of a decoded packet, or `None` if it has no IP layer or no
    /// transport header to key on.
    ///
    /// Without ICMP in `records`, ICMP messages are keyed by their addresses
    /// alone, and without other protocols in `records`, IP protocols other than
    /// TCP, UDP, ICMP and ICMPv6 get no flow, SCTP included. Both are as before
    /// those protocols had records, so that packet lines and the table's
    /// contents stay the same.
    #[inline]
    pub fn of(packet: &Decoded, vlan_in_key: bool, records: RecordProtocols) -> Option<PacketKey> {
        let ip = packet.ip.as_ref()?;
        let (src_port, dst_port, one_way) = key_ports(packet, ip, records)?;
        let (src, v6) = addr_number(ip.src);
        let (dst, _) = addr_number(ip.dst);
        let vlan_ids = if vlan_in_key {
            vlan_pair(packet.vlans)
        } else {
            [0, 0]
        };
        let from_a = one_way || (src, src_port) <= (dst, dst_port);
        let (addr_a, port_a, addr_b, port_b) = if from_a {
            (src, src_port, dst, dst_port)
        } else {
            (dst, dst_port, src, src_port)
        };
        let key = FlowKey {
            addr_a: addr_a.to_be_bytes(),
            addr_b: addr_b.to_be_bytes(),
            port_a,
            port_b,
            vlan_ids,
            protocol: ip.protocol,
            v6,
        };
        Some(PacketKey { key, from_a })
    }
}

/// Returns the source and destination "ports" that key the flow of `packet`,
/// whose IP layer is `ip`, and whether the flow goes one way, so that its key
/// keeps the sender first. Returns `None` if the packet belongs to no flow.
/// `records` is as in [`PacketKey::of`].
pub(crate) fn key_ports(
    packet: &Decoded,
    ip: &IpInfo,
    records: RecordProtocols,
) -> Option<(u16, u16, bool)> {
    let ports = match packet.transport {
        Transport::Tcp(tcp) => (tcp.src_port, tcp.dst_port, false),
        Transport::Udp(udp) => (udp.src_port, udp.dst_port, false),
        // Both "ports" of an echo request and its reply are the echo
        // identifier, so the two are one flow. Other messages are grouped
        // by type and code, in Zeek's manner of ICMP ports, and go one way,
        // as Zeek's one-way ICMP connections do. Two hosts that send each
        // other the same message, such as port unreachable (type 3, code 3),
        // then get a flow each instead of sharing one.
        Transport::Icmp(_) if !records.icmp => (0, 0, false),
        Transport::Icmp(icmp) => match icmp.echo_id {
            Some(id) => (id, id, false),
            None => (u16::from(icmp.icmp_type), u16::from(icmp.code), true),
        },
        // SCTP records are records of other protocols, and without them SCTP
        // is not tracked, as before its ports were decoded.
        Transport::Sctp(sctp) if records.other => (sctp.src_port, sctp.dst_port, false),
        Transport::Sctp(_) => return None,
        // Other IP protocols form one flow per address pair. A later fragment
        // or a TCP, UDP, SCTP or ICMP header that did not decode has no flow.
        Transport::None
            if records.other
                && !ip.is_later_fragment
                && !matches!(ip.protocol, 1 | 6 | 17 | 58 | 132) =>
        {
            (0, 0, false)
        }
        Transport::None => return None,
    };
    Some(ports)
}

/// Returns the VLAN IDs of the key: the outer and inner ID, zeros where a tag is missing.
pub(crate) fn vlan_pair(vlans: Vlans) -> [u16; 2] {
    match vlans.count {
        0 => [0, 0],
        1 => [vlans.ids[0], 0],
        _ => vlans.ids,
    }
}
