//! Bulk transfers: a few connections of full-size segments.

use wsd_capture::Timestamp;

use super::{
    client_v4, full_segment, server_v4, Conversation, Link, Plan, TcpScript, TrafficStats, ACK,
    CLIENT, DEFAULT_START, PSH, SERVER,
};
use crate::{Endpoint, Rng};

/// Segments the client acknowledges at once, as receivers that coalesce
/// segments do.
const SEGMENTS_PER_ACK: u32 = 16;

/// Settings of [`bulk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkConfig {
    /// Seed of the random ports, sequence numbers and gaps.
    pub seed: u64,
    /// Number of simultaneous transfers.
    pub connections: u32,
    /// Full-size segments each transfer carries.
    pub segments_per_connection: u32,
    /// Time of the capture's start.
    pub start: Timestamp,
}

impl Default for BulkConfig {
    /// Four transfers of 45,000 segments: about 280 MB of pcap.
    fn default() -> BulkConfig {
        BulkConfig {
            seed: 3,
            connections: 4,
            segments_per_connection: 45_000,
            start: DEFAULT_START,
        }
    }
}

/// Generates bulk transfers and hands their frames to `sink` in time order.
///
/// Each connection has a handshake, a short request, a download of full
/// 1514-byte frames with one ACK for every 16 segments, and a close by FINs. The
/// connections run at the same time, each at about 250 Mbit/s, so their
/// segments interleave.
///
/// # Errors
///
/// The first error of `sink`, which stops the generation.
pub fn bulk<E>(
    config: &BulkConfig,
    sink: impl FnMut(Timestamp, &[u8]) -> Result<(), E>,
) -> Result<TrafficStats, E> {
    let connections = config.connections as usize;
    let segments = config.segments_per_connection as usize;
    let acks = segments / SEGMENTS_PER_ACK as usize;
    let mut plan = Plan::with_capacity(connections, connections * (segments + acks + 8));
    let mut rng = Rng::new(config.seed);
    for n in 0..config.connections {
        let client = Endpoint::v4(client_v4(n + 1), rng.between(32_768, 60_999) as u16);
        let server = Endpoint::v4(server_v4(n + 1), 443);
        let conversation = plan.add_conversation(Conversation {
            client,
            server,
            link: Link::Plain,
            udp: false,
        });
        let mut script = TcpScript {
            plan: &mut plan,
            conversation,
            at: i64::from(n) * 1_000_000,
            next_seq: [rng.next_u32(), rng.next_u32()],
            full_segment: full_segment(false),
        };
        transfer(&mut rng, &mut script, config.segments_per_connection);
    }
    plan.emit(config.start, sink)
}

/// Plans one transfer: handshake, request, download and close.
fn transfer(rng: &mut Rng, script: &mut TcpScript<'_>, segments: u32) {
    let rtt = 2_000_000;
    script.handshake(rtt);
    script.send(CLIENT, 50_000, PSH | ACK, 300);
    for segment in 1..=segments {
        // About 48 microseconds per 1514-byte frame is 250 Mbit/s.
        let gap = if segment == 1 {
            rtt
        } else {
            rng.between(40_000, 56_000) as i64
        };
        script.send(SERVER, gap, ACK, script.full_segment);
        if segment % SEGMENTS_PER_ACK == 0 || segment == segments {
            script.send(CLIENT, 1_000, ACK, 0);
        }
    }
    script.close(SERVER, 1_000_000, rtt);
}
