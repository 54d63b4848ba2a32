//! Synthetic traffic: Ethernet frames with IPv4 or IPv6 and TCP or UDP, built byte
//! by byte, and scripted TCP connections written as pcap files.
//!
//! The project's tests, regression fixtures and benchmarks use it so that every
//! capture they need can be made again from code, deterministically. For
//! benchmarks, [`mixed`], [`syn_flood`] and [`bulk`] generate whole captures of
//! millions of packets from a seed, with [`Rng`], a seeded generator that gives
//! the same bytes on every machine.
//!
//! ```
//! use wsd_capture::{FileSource, PacketSource, Timestamp};
//! use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};
//!
//! let client = Endpoint::v4([10, 0, 0, 1], 40000);
//! let server = Endpoint::v4([10, 0, 0, 2], 80);
//! let frame = FrameBuilder::new().tcp(client, server, &TcpSegment::syn(1000));
//!
//! let mut pcap = wsd_capture::PcapWriter::new(Vec::new(), 1, 65535, false).unwrap();
//! pcap.write_packet(Timestamp::from_parts(1_700_000_000, 0), &frame, frame.len() as u32)
//!     .unwrap();
//! let bytes = pcap.into_inner();
//!
//! let mut source =
//!     FileSource::from_reader("example".to_string(), std::io::Cursor::new(bytes), None).unwrap();
//! // 54 bytes of headers, padded to the Ethernet minimum of 60.
//! assert_eq!(source.next_packet().unwrap().unwrap().data.len(), 60);
//! ```

#![forbid(unsafe_code)]

mod frame;
mod rng;
mod traffic;

pub use frame::{Endpoint, FrameBuilder, TcpSegment};
pub use rng::Rng;
pub use traffic::{
    bulk, mixed, syn_flood, BulkConfig, FloodConfig, MixedConfig, TrafficStats, DEFAULT_START,
    TRAFFIC_VERSION,
};
