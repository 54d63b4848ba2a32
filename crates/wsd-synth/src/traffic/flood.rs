//! A SYN flood: a new half-open connection in every packet.

use wsd_capture::Timestamp;

use super::{server_v4, TrafficStats, DEFAULT_START};
use crate::{Endpoint, FrameBuilder, Rng, TcpSegment};

/// Number of distinct source addresses: the size of 100.64.0.0/10.
const SOURCES: u32 = 1 << 22;

/// Settings of [`syn_flood`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodConfig {
    /// Seed of the random ports and sequence numbers.
    pub seed: u64,
    /// Number of SYNs, each opening its own connection.
    pub connections: u32,
    /// Nanoseconds between two SYNs.
    pub interval_nanos: i64,
    /// Time of the first SYN.
    pub start: Timestamp,
}

impl Default for FloodConfig {
    /// Returns the settings of a million SYNs at a million per second.
    fn default() -> FloodConfig {
        FloodConfig {
            seed: 2,
            connections: 1_000_000,
            interval_nanos: 1_000,
            start: DEFAULT_START,
        }
    }
}

/// Generates a SYN flood and hands its frames to `sink` in time order.
///
/// Every frame is a bare SYN of the minimum Ethernet size, 60 bytes, from its own
/// source address in 100.64.0.0/10 and a random port to one of eight servers on
/// port 80. No SYN-ACK follows, so each SYN opens a half-open connection that a
/// tracker must hold until it times out. The connections are distinct as
/// long as there are at most 2^22 (4,194,304) of them; beyond that source
/// addresses repeat with random ports, and an occasional connection repeats an
/// earlier one.
///
/// # Errors
///
/// The first error of `sink`, which stops the generation.
pub fn syn_flood<E>(
    config: &FloodConfig,
    mut sink: impl FnMut(Timestamp, &[u8]) -> Result<(), E>,
) -> Result<TrafficStats, E> {
    let mut rng = Rng::new(config.seed);
    let mut builder = FrameBuilder::new();
    let mut frame = Vec::with_capacity(64);
    let mut stats = TrafficStats::default();
    // 100.64.0.0, the first address of the shared address space.
    let base = 0x6440_0000u32;
    for n in 0..config.connections {
        let source = (base + n % SOURCES).to_be_bytes();
        let client = Endpoint::v4(source, rng.between(1_024, 65_535) as u16);
        let server = Endpoint::v4(server_v4(rng.below(8) as u32), 80);
        builder.write_tcp(&mut frame, client, server, &TcpSegment::syn(rng.next_u32()));
        let at = i64::from(n) * config.interval_nanos;
        sink(config.start.add_nanos(at), &frame)?;
        stats.packets += 1;
        stats.frame_bytes += frame.len() as u64;
    }
    stats.tcp_connections = u64::from(config.connections);
    Ok(stats)
}
