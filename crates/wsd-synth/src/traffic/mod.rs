//! Whole captures of synthetic traffic for benchmarks: a realistic mix of
//! connections, a SYN flood and a few bulk transfers.
//!
//! Each generator first plans every packet as a small fixed-size entry and sorts
//! the plan by time, so that conversations interleave as on a real link. Then it
//! builds the frames one by one into a reused buffer and hands them to a sink,
//! such as a [`wsd_capture::PcapWriter`]. Memory stays at about 24 bytes
//! per packet, never the frames themselves.

mod bulk;
mod flood;
mod mixed;

use wsd_capture::Timestamp;

use crate::{Endpoint, FrameBuilder, TcpSegment};

pub use bulk::{bulk, BulkConfig};
pub use flood::{syn_flood, FloodConfig};
pub use mixed::{mixed, MixedConfig};

/// Version of the generators' output. It changes whenever a generator with the
/// same configuration would write different bytes, so that files named after it
/// can be reused safely.
pub const TRAFFIC_VERSION: u32 = 1;

/// Start of every generated capture by default: 2023-11-14 22:13:20 UTC.
pub const DEFAULT_START: Timestamp = Timestamp::from_parts(1_700_000_000, 0);

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// The counts of a generator's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficStats {
    /// Frames handed to the sink.
    pub packets: u64,
    /// Sum of the frames' lengths.
    pub frame_bytes: u64,
    /// TCP connections, counting each 4-tuple of a flood once.
    pub tcp_connections: u64,
    /// UDP conversations.
    pub udp_conversations: u64,
}

/// The link framing of a conversation: an index into the frame builders of
/// [`Plan::emit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Plain = 0,
    Vlan = 1,
    QinQ = 2,
}

/// The two ends of a TCP connection or a UDP conversation.
#[derive(Clone, Copy, Debug)]
struct Conversation {
    client: Endpoint,
    server: Endpoint,
    link: Link,
    udp: bool,
}

/// One planned packet: 24 bytes, so that a million of them cost 24 MB.
#[derive(Clone, Copy, Debug)]
struct Planned {
    /// Nanoseconds after the start of the capture.
    at: i64,
    conversation: u32,
    seq: u32,
    ack: u32,
    payload_len: u16,
    /// TCP flags; unused for UDP.
    flags: u8,
    from_client: bool,
}

/// Every packet of a capture, before the frames are built.
struct Plan {
    conversations: Vec<Conversation>,
    packets: Vec<Planned>,
}

impl Plan {
    fn with_capacity(conversations: usize, packets: usize) -> Plan {
        Plan {
            conversations: Vec::with_capacity(conversations),
            packets: Vec::with_capacity(packets),
        }
    }

    /// Adds a conversation and returns its number.
    fn add_conversation(&mut self, conversation: Conversation) -> u32 {
        self.conversations.push(conversation);
        (self.conversations.len() - 1) as u32
    }

    /// Sorts the packets by time and builds their frames for `sink`, in order.
    ///
    /// The sort is stable, so packets planned for the same nanosecond keep the
    /// order in which they were planned, and a conversation's own packets never
    /// swap.
    fn emit<E>(
        mut self,
        start: Timestamp,
        mut sink: impl FnMut(Timestamp, &[u8]) -> Result<(), E>,
    ) -> Result<TrafficStats, E> {
        self.packets.sort_by_key(|packet| packet.at);
        let mut builders = [
            FrameBuilder::new(),
            FrameBuilder::new().vlan(10),
            FrameBuilder::new().vlan(100).vlan(200),
        ];
        let mut stats = TrafficStats {
            tcp_connections: self.conversations.iter().filter(|c| !c.udp).count() as u64,
            udp_conversations: self.conversations.iter().filter(|c| c.udp).count() as u64,
            ..TrafficStats::default()
        };
        let mut frame = Vec::with_capacity(2048);
        for packet in &self.packets {
            let conversation = &self.conversations[packet.conversation as usize];
            let (src, dst) = if packet.from_client {
                (conversation.client, conversation.server)
            } else {
                (conversation.server, conversation.client)
            };
            let builder = &mut builders[conversation.link as usize];
            if conversation.udp {
                builder.write_udp(&mut frame, src, dst, packet.payload_len);
            } else {
                let segment =
                    TcpSegment::new(packet.flags, packet.seq, packet.ack, packet.payload_len);
                builder.write_tcp(&mut frame, src, dst, &segment);
            }
            sink(start.add_nanos(packet.at), &frame)?;
            stats.packets += 1;
            stats.frame_bytes += frame.len() as u64;
        }
        Ok(stats)
    }
}

/// Plans the packets of one TCP connection in time order, keeping each side's
/// next sequence number so that every segment acknowledges all the other side
/// sent.
struct TcpScript<'a> {
    plan: &'a mut Plan,
    conversation: u32,
    /// Nanoseconds after the start of the capture of the latest packet.
    at: i64,
    next_seq: [u32; 2],
    /// Payload of a full-size segment.
    full_segment: u16,
}

/// Index of the client in [`TcpScript::next_seq`].
const CLIENT: usize = 0;
/// Index of the server in [`TcpScript::next_seq`].
const SERVER: usize = 1;

impl TcpScript<'_> {
    /// Plans a segment from `side`, `delay` nanoseconds after the previous one.
    fn send(&mut self, side: usize, delay: i64, flags: u8, payload_len: u16) {
        // At least one microsecond apart, so that microsecond pcap times keep
        // the order of a connection's packets.
        self.at += delay.max(1_000);
        let other = 1 - side;
        let ack = if flags & ACK != 0 {
            self.next_seq[other]
        } else {
            0
        };
        self.plan.packets.push(Planned {
            at: self.at,
            conversation: self.conversation,
            seq: self.next_seq[side],
            ack,
            payload_len,
            flags,
            from_client: side == CLIENT,
        });
        let mut advance = u32::from(payload_len);
        if flags & (SYN | FIN) != 0 {
            advance += 1;
        }
        self.next_seq[side] = self.next_seq[side].wrapping_add(advance);
    }

    /// Plans the three-way handshake, `rtt` nanoseconds of round-trip time.
    fn handshake(&mut self, rtt: i64) {
        self.send(CLIENT, 0, SYN, 0);
        self.send(SERVER, rtt, SYN | ACK, 0);
        self.send(CLIENT, 20_000, ACK, 0);
    }

    /// Plans a close by FINs, started by `first` after `delay` nanoseconds.
    fn close(&mut self, first: usize, delay: i64, rtt: i64) {
        self.send(first, delay, FIN | ACK, 0);
        self.send(1 - first, rtt, FIN | ACK, 0);
        self.send(first, 20_000, ACK, 0);
    }

    /// Plans a reset from `side` after `delay` nanoseconds.
    fn reset(&mut self, side: usize, delay: i64) {
        self.send(side, delay, RST | ACK, 0);
    }
}

/// Returns the TCP payload of a full-size segment in a 1500-byte IP packet:
/// 1460 bytes over IPv4, 1440 over IPv6, whose header is 20 bytes longer.
fn full_segment(v6: bool) -> u16 {
    if v6 {
        1440
    } else {
        1460
    }
}

/// Returns an IPv4 address in the 10.0.0.0/8 private range for client host `n`.
fn client_v4(n: u32) -> [u8; 4] {
    let [_, a, b, c] = n.to_be_bytes();
    [10, a, b, c]
}

/// Returns an IPv4 address in 198.18.0.0/15, the range set aside for benchmark
/// networks, for server host `n`.
fn server_v4(n: u32) -> [u8; 4] {
    let [_, a, b, c] = (n & 0x1_ffff).to_be_bytes();
    [198, 18 + (a & 1), b, c]
}

/// Returns an IPv6 address in the 2001:db8::/32 documentation range. `role`
/// separates clients (1) from servers (2).
fn v6(role: u8, n: u32) -> [u8; 16] {
    let mut ip = [0u8; 16];
    ip[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    ip[5] = role;
    ip[12..].copy_from_slice(&n.to_be_bytes());
    ip
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::Cursor;
    use std::net::IpAddr;

    use wsd_capture::{FileSource, PacketSource, PcapWriter};
    use wsd_decode::{Decoded, Transport};

    use super::*;

    /// Runs a generator into an in-memory pcap file and returns the file.
    fn capture<F>(generate: F) -> (Vec<u8>, TrafficStats)
    where
        F: FnOnce(
            &mut dyn FnMut(Timestamp, &[u8]) -> std::io::Result<()>,
        ) -> std::io::Result<TrafficStats>,
    {
        let mut writer = PcapWriter::new(Vec::new(), 1, 65535, false).unwrap();
        let stats =
            generate(&mut |ts, frame| writer.write_packet(ts, frame, frame.len() as u32)).unwrap();
        (writer.into_inner(), stats)
    }

    /// Reads every packet of a pcap file: its time, length and decoding.
    fn read_back(bytes: Vec<u8>) -> Vec<(Timestamp, usize, Decoded)> {
        let mut source = FileSource::from_reader("generated".into(), Cursor::new(bytes), None)
            .expect("generated file opens");
        let mut packets = Vec::new();
        while let Some(packet) = source.next_packet().expect("generated file reads") {
            let decoded = wsd_decode::decode(packet.linktype, packet.data);
            packets.push((packet.ts, packet.data.len(), decoded));
        }
        packets
    }

    fn small_mix(seed: u64) -> MixedConfig {
        MixedConfig {
            seed,
            tcp_connections: 2_000,
            udp_conversations: 500,
            duration_secs: 30,
            start: DEFAULT_START,
        }
    }

    fn mixed_capture(config: MixedConfig) -> (Vec<u8>, TrafficStats) {
        capture(|sink| mixed(&config, sink))
    }

    #[test]
    fn mixed_same_seed_same_bytes() {
        let (first, _) = mixed_capture(small_mix(5));
        let (second, _) = mixed_capture(small_mix(5));
        let (other, _) = mixed_capture(small_mix(6));

        assert_eq!(first, second);
        assert_ne!(first, other);
    }

    #[test]
    fn mixed_frames_decode_in_time_order() {
        let (bytes, stats) = mixed_capture(small_mix(1));
        let packets = read_back(bytes);

        assert_eq!(packets.len() as u64, stats.packets);
        assert_eq!(stats.tcp_connections, 2_000);
        assert_eq!(stats.udp_conversations, 500);
        for pair in packets.windows(2) {
            assert!(pair[0].0 <= pair[1].0, "time goes back");
        }
        for (_, len, decoded) in &packets {
            assert_eq!(decoded.stop, None, "frame of {len} bytes stops decoding");
            assert!(*len <= 1522, "frame of {len} bytes is above the MTU");
            assert!(matches!(
                decoded.transport,
                Transport::Tcp(_) | Transport::Udp(_)
            ));
        }
    }

    #[test]
    fn mixed_has_the_size_mix() {
        let (bytes, stats) = mixed_capture(small_mix(1));
        let packets = read_back(bytes);
        let count = |predicate: &dyn Fn(usize) -> bool| {
            packets.iter().filter(|(_, len, _)| predicate(*len)).count() * 100 / packets.len()
        };
        let average = stats.frame_bytes / stats.packets;

        assert!((200..=260).contains(&average), "average frame {average}");
        assert!(count(&|len| len <= 80) >= 50, "too few small frames");
        assert!(count(&|len| len >= 1494) >= 3, "too few full-size frames");
        assert!(
            count(&|len| (200..1400).contains(&len)) >= 10,
            "too few mid sizes"
        );
    }

    #[test]
    fn mixed_has_ipv6_and_vlans() {
        let (bytes, _) = mixed_capture(small_mix(1));
        let packets = read_back(bytes);
        let v6 = packets
            .iter()
            .filter(|(_, _, d)| d.ip.is_some_and(|ip| ip.src.is_ipv6()))
            .count();
        let single_tag = packets
            .iter()
            .filter(|(_, _, d)| d.vlans.count == 1)
            .count();
        let double_tag = packets
            .iter()
            .filter(|(_, _, d)| d.vlans.count == 2)
            .count();

        assert!(v6 > 0);
        assert!(single_tag > 0);
        assert!(double_tag > 0);
        assert!(v6 + single_tag + double_tag < packets.len() / 10);
    }

    #[test]
    fn flood_is_distinct_minimum_syns() {
        let config = FloodConfig {
            connections: 10_000,
            ..FloodConfig::default()
        };
        let (bytes, stats) = capture(|sink| syn_flood(&config, sink));
        let packets = read_back(bytes);
        let mut clients: HashSet<(IpAddr, u16)> = HashSet::new();

        assert_eq!(stats.packets, 10_000);
        assert_eq!(stats.tcp_connections, 10_000);
        for (_, len, decoded) in &packets {
            assert_eq!(*len, 60);
            let Transport::Tcp(tcp) = decoded.transport else {
                panic!("not TCP");
            };
            assert_eq!(tcp.flags.0, SYN);
            let ip = decoded.ip.expect("IP layer");
            assert!(clients.insert((ip.src, tcp.src_port)), "repeated client");
        }
    }

    #[test]
    fn bulk_is_mostly_full_segments() {
        let config = BulkConfig {
            connections: 3,
            segments_per_connection: 500,
            ..BulkConfig::default()
        };
        let (bytes, stats) = capture(|sink| bulk(&config, sink));
        let packets = read_back(bytes);
        let full = packets.iter().filter(|(_, len, _)| *len == 1514).count();

        assert_eq!(stats.tcp_connections, 3);
        assert_eq!(full, 1_500);
        assert!(full * 100 / packets.len() >= 90);
    }
}
