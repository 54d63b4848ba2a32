//! Frame construction.

use std::net::IpAddr;

/// One end of a conversation: an address, a port and a MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// MAC address.
    pub mac: [u8; 6],
}

impl Endpoint {
    /// An IPv4 endpoint whose MAC address is derived from the address.
    pub fn v4(ip: [u8; 4], port: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::from(ip),
            port,
            mac: [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]],
        }
    }

    /// An IPv6 endpoint whose MAC address is derived from the address.
    pub fn v6(ip: [u8; 16], port: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::from(ip),
            port,
            mac: [0x02, 0x00, ip[12], ip[13], ip[14], ip[15]],
        }
    }
}

/// The TCP fields of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags byte.
    pub flags: u8,
    /// Receive window.
    pub window: u16,
    /// Payload length in bytes; the payload is filled with a repeating pattern.
    pub payload_len: u16,
}

impl TcpSegment {
    /// A SYN with initial sequence number `isn`.
    pub fn syn(isn: u32) -> TcpSegment {
        TcpSegment {
            seq: isn,
            ack: 0,
            flags: 0x02,
            window: 64240,
            payload_len: 0,
        }
    }

    /// A segment with the given flags, sequence and acknowledgment numbers and
    /// payload length.
    pub fn new(flags: u8, seq: u32, ack: u32, payload_len: u16) -> TcpSegment {
        TcpSegment {
            seq,
            ack,
            flags,
            window: 64240,
            payload_len,
        }
    }
}

/// Builds Ethernet frames, optionally VLAN-tagged.
#[derive(Clone, Debug, Default)]
pub struct FrameBuilder {
    vlans: Vec<u16>,
    ip_id: u16,
}

impl FrameBuilder {
    /// A builder for untagged frames.
    pub fn new() -> FrameBuilder {
        FrameBuilder::default()
    }

    /// Adds an 802.1Q tag (0x8100) with `vlan_id`; call twice for QinQ, outer first
    /// (the outer tag then uses 0x88a8).
    pub fn vlan(mut self, vlan_id: u16) -> FrameBuilder {
        self.vlans.push(vlan_id);
        self
    }

    /// Builds an Ethernet frame carrying a TCP segment from `src` to `dst`.
    pub fn tcp(&mut self, src: Endpoint, dst: Endpoint, segment: &TcpSegment) -> Vec<u8> {
        let mut tcp = Vec::with_capacity(20 + usize::from(segment.payload_len));
        tcp.extend_from_slice(&src.port.to_be_bytes());
        tcp.extend_from_slice(&dst.port.to_be_bytes());
        tcp.extend_from_slice(&segment.seq.to_be_bytes());
        tcp.extend_from_slice(&segment.ack.to_be_bytes());
        tcp.push(5 << 4);
        tcp.push(segment.flags);
        tcp.extend_from_slice(&segment.window.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend((0..segment.payload_len).map(|i| (i % 251) as u8));
        self.ip_frame(src, dst, 6, &tcp)
    }

    /// Builds an Ethernet frame carrying a UDP datagram of `payload_len` bytes.
    pub fn udp(&mut self, src: Endpoint, dst: Endpoint, payload_len: u16) -> Vec<u8> {
        let len = 8 + payload_len;
        let mut udp = Vec::with_capacity(usize::from(len));
        udp.extend_from_slice(&src.port.to_be_bytes());
        udp.extend_from_slice(&dst.port.to_be_bytes());
        udp.extend_from_slice(&len.to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend((0..payload_len).map(|i| (i % 251) as u8));
        self.ip_frame(src, dst, 17, &udp)
    }

    fn ip_frame(&mut self, src: Endpoint, dst: Endpoint, protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = Vec::with_capacity(14 + 4 * self.vlans.len() + 40 + payload.len());
        frame.extend_from_slice(&dst.mac);
        frame.extend_from_slice(&src.mac);
        for (i, vlan) in self.vlans.iter().enumerate() {
            let tpid: u16 = if i == 0 && self.vlans.len() > 1 {
                0x88a8
            } else {
                0x8100
            };
            frame.extend_from_slice(&tpid.to_be_bytes());
            frame.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
        }
        match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                frame.extend_from_slice(&0x0800u16.to_be_bytes());
                let total = (20 + payload.len()) as u16;
                self.ip_id = self.ip_id.wrapping_add(1);
                let mut header = [0u8; 20];
                header[0] = 0x45;
                header[2..4].copy_from_slice(&total.to_be_bytes());
                header[4..6].copy_from_slice(&self.ip_id.to_be_bytes());
                header[6] = 0x40;
                header[8] = 64;
                header[9] = protocol;
                header[12..16].copy_from_slice(&s.octets());
                header[16..20].copy_from_slice(&d.octets());
                let checksum = ipv4_checksum(&header);
                header[10..12].copy_from_slice(&checksum.to_be_bytes());
                frame.extend_from_slice(&header);
            }
            (s, d) => {
                frame.extend_from_slice(&0x86ddu16.to_be_bytes());
                let mut header = [0u8; 40];
                header[0] = 0x60;
                header[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
                header[6] = protocol;
                header[7] = 64;
                header[8..24].copy_from_slice(&v6_octets(s));
                header[24..40].copy_from_slice(&v6_octets(d));
                frame.extend_from_slice(&header);
            }
        }
        frame.extend_from_slice(payload);
        // Short frames are padded to the Ethernet minimum, as on a real wire.
        if frame.len() < 60 {
            frame.resize(60, 0);
        }
        frame
    }
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn ipv4_checksum(header: &[u8; 20]) -> u16 {
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
