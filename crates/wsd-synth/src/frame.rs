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
        let mut frame = Vec::new();
        self.write_tcp(&mut frame, src, dst, segment);
        frame
    }

    /// Builds the same frame as [`FrameBuilder::tcp`] into `out`, replacing its
    /// contents, so that a generator of millions of frames can reuse one buffer.
    pub fn write_tcp(
        &mut self,
        out: &mut Vec<u8>,
        src: Endpoint,
        dst: Endpoint,
        segment: &TcpSegment,
    ) {
        let tcp_len = 20 + usize::from(segment.payload_len);
        self.write_ip_header(out, src, dst, 6, tcp_len);
        out.extend_from_slice(&src.port.to_be_bytes());
        out.extend_from_slice(&dst.port.to_be_bytes());
        out.extend_from_slice(&segment.seq.to_be_bytes());
        out.extend_from_slice(&segment.ack.to_be_bytes());
        out.push(5 << 4);
        out.push(segment.flags);
        out.extend_from_slice(&segment.window.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        extend_payload(out, usize::from(segment.payload_len));
        pad_to_minimum(out);
    }

    /// Builds an Ethernet frame carrying a UDP datagram of `payload_len` bytes.
    pub fn udp(&mut self, src: Endpoint, dst: Endpoint, payload_len: u16) -> Vec<u8> {
        let mut frame = Vec::new();
        self.write_udp(&mut frame, src, dst, payload_len);
        frame
    }

    /// Builds the same frame as [`FrameBuilder::udp`] into `out`, replacing its
    /// contents.
    pub fn write_udp(&mut self, out: &mut Vec<u8>, src: Endpoint, dst: Endpoint, payload_len: u16) {
        let len = 8 + payload_len;
        self.write_ip_header(out, src, dst, 17, usize::from(len));
        out.extend_from_slice(&src.port.to_be_bytes());
        out.extend_from_slice(&dst.port.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        extend_payload(out, usize::from(payload_len));
        pad_to_minimum(out);
    }

    /// Builds an Ethernet frame carrying an SCTP packet: the common header with
    /// `verification_tag`, then one DATA chunk (RFC 9260, section 3.3.1) with TSN 1,
    /// stream 0 and `data_len` bytes of user data, padded to a multiple of 4 bytes.
    /// The checksum is left 0, because `wsd` does not verify it.
    pub fn sctp(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        verification_tag: u32,
        data_len: u16,
    ) -> Vec<u8> {
        let chunk_len = 16 + data_len;
        let padded_len = usize::from(chunk_len).next_multiple_of(4);
        let mut frame = Vec::new();
        self.write_ip_header(&mut frame, src, dst, 132, 12 + padded_len);
        frame.extend_from_slice(&src.port.to_be_bytes());
        frame.extend_from_slice(&dst.port.to_be_bytes());
        frame.extend_from_slice(&verification_tag.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0]);
        // Chunk type 0 (DATA) with the B and E flags of an unfragmented message.
        frame.extend_from_slice(&[0, 0x03]);
        frame.extend_from_slice(&chunk_len.to_be_bytes());
        // TSN 1, stream identifier 0, stream sequence number 0, payload protocol 0.
        frame.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        extend_payload(&mut frame, usize::from(data_len));
        frame.resize(frame.len() + padded_len - usize::from(chunk_len), 0);
        pad_to_minimum(&mut frame);
        frame
    }

    /// Clears `out` and writes the Ethernet header, the VLAN tags and an IP header
    /// announcing `payload_len` bytes of `protocol` after it.
    fn write_ip_header(
        &mut self,
        out: &mut Vec<u8>,
        src: Endpoint,
        dst: Endpoint,
        protocol: u8,
        payload_len: usize,
    ) {
        out.clear();
        out.reserve(14 + 4 * self.vlans.len() + 40 + payload_len);
        out.extend_from_slice(&dst.mac);
        out.extend_from_slice(&src.mac);
        for (i, vlan) in self.vlans.iter().enumerate() {
            let tpid: u16 = if i == 0 && self.vlans.len() > 1 {
                0x88a8
            } else {
                0x8100
            };
            out.extend_from_slice(&tpid.to_be_bytes());
            out.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
        }
        match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                out.extend_from_slice(&0x0800u16.to_be_bytes());
                let total = (20 + payload_len) as u16;
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
                out.extend_from_slice(&header);
            }
            (s, d) => {
                out.extend_from_slice(&0x86ddu16.to_be_bytes());
                let mut header = [0u8; 40];
                header[0] = 0x60;
                header[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
                header[6] = protocol;
                header[7] = 64;
                header[8..24].copy_from_slice(&v6_octets(s));
                header[24..40].copy_from_slice(&v6_octets(d));
                out.extend_from_slice(&header);
            }
        }
    }
}

/// The payload pattern: byte `i` of every payload is `i % 251`.
const PAYLOAD_PATTERN: [u8; 251] = {
    let mut pattern = [0u8; 251];
    let mut i = 0;
    while i < pattern.len() {
        pattern[i] = i as u8;
        i += 1;
    }
    pattern
};

/// Appends `len` bytes of the payload pattern.
fn extend_payload(out: &mut Vec<u8>, len: usize) {
    let mut remaining = len;
    while remaining > 0 {
        let chunk = remaining.min(PAYLOAD_PATTERN.len());
        out.extend_from_slice(&PAYLOAD_PATTERN[..chunk]);
        remaining -= chunk;
    }
}

/// Pads short frames to the Ethernet minimum of 60 bytes, as on a real wire.
fn pad_to_minimum(frame: &mut Vec<u8>) {
    if frame.len() < 60 {
        frame.resize(60, 0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_frames_equal_built_frames() {
        let client = Endpoint::v4([10, 0, 0, 1], 40000);
        let server = Endpoint::v4([10, 0, 0, 2], 80);
        let client6 = Endpoint::v6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            5353,
        );
        let server6 = Endpoint::v6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            53,
        );
        let segment = TcpSegment::new(0x18, 7, 9, 600);
        // Leftover bytes in the buffer must not survive.
        let mut reused = vec![0xee; 3];

        FrameBuilder::new()
            .vlan(5)
            .write_tcp(&mut reused, client, server, &segment);
        assert_eq!(
            reused,
            FrameBuilder::new().vlan(5).tcp(client, server, &segment)
        );

        FrameBuilder::new().write_udp(&mut reused, client6, server6, 30);
        assert_eq!(reused, FrameBuilder::new().udp(client6, server6, 30));
    }

    #[test]
    fn sctp_frame_layout() {
        let client = Endpoint::v4([10, 0, 0, 1], 2905);
        let server = Endpoint::v4([10, 0, 0, 2], 36412);
        let frame = FrameBuilder::new().sctp(client, server, 0x0102_0304, 5);
        let ip = &frame[14..34];
        let sctp = &frame[34..];

        // 12 bytes of common header and a 21-byte chunk padded to 24 bytes.
        assert_eq!(frame.len(), 14 + 20 + 12 + 24);
        assert_eq!(ip[9], 132);
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 20 + 12 + 24);
        assert_eq!(sctp[..4], [0x0b, 0x59, 0x8e, 0x3c]);
        assert_eq!(sctp[4..8], [1, 2, 3, 4]);
        assert_eq!(u16::from_be_bytes([sctp[14], sctp[15]]), 16 + 5);
        assert_eq!(sctp[28..33], [0, 1, 2, 3, 4]);
        assert_eq!(sctp[33..], [0, 0, 0]);
    }

    #[test]
    fn payload_repeats_every_251_bytes() {
        let mut frame = Vec::new();
        extend_payload(&mut frame, 600);

        assert_eq!(frame.len(), 600);
        assert_eq!(frame[250], 250);
        assert_eq!(frame[251], 0);
        assert_eq!(frame[599], (599 % 251) as u8);
    }

    #[test]
    fn short_frames_padded() {
        let client = Endpoint::v4([10, 0, 0, 1], 40000);
        let server = Endpoint::v4([10, 0, 0, 2], 80);

        assert_eq!(
            FrameBuilder::new()
                .tcp(client, server, &TcpSegment::syn(1))
                .len(),
            60
        );
        assert_eq!(FrameBuilder::new().udp(client, server, 0).len(), 60);
    }
}
