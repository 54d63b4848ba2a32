//! Loss-tolerant flow tracking: the third step of the wirespy pipeline
//! (capture → decode → **flow** → format).
//!
//! A [`Tracker`] takes decoded packets in capture order and groups them into
//! flows: TCP connections, UDP conversations and ICMP exchanges, keyed by VLAN
//! IDs, the two addresses, the protocol and the two ports, in either direction.
//! Capture time, not the wall clock, drives every timeout, so the same input
//! always gives the same records.
//!
//! Passive capture loses packets, so nothing here depends on seeing a whole
//! handshake or teardown:
//!
//! - The client is the sender of a bare SYN, else the receiver of a SYN-ACK, else
//!   (a connection picked up mid-stream) the side on the higher, non-well-known port.
//! - A connection closed by FINs from both sides or by a RST lingers for a few
//!   seconds of capture time, so that the last ACK or a late RST counts into it.
//! - A bare SYN whose initial sequence number differs from the one already seen
//!   starts a new connection on the same ports; a repeated SYN does not.
//! - Idle flows are reported after their protocol's timeout; a full table evicts
//!   and reports a flow rather than dropping anything.
//!
//! ```
//! use wsd_capture::Timestamp;
//! use wsd_decode::{Decoded, IpInfo, TcpFlags, TcpInfo, Transport};
//! use wsd_flow::{Direction, Tracker, TrackerConfig};
//!
//! let syn = Decoded {
//!     ip: Some(IpInfo {
//!         src: "10.0.0.1".parse().unwrap(),
//!         dst: "10.0.0.2".parse().unwrap(),
//!         protocol: 6,
//!         total_len: 40,
//!         header_len: 20,
//!         is_later_fragment: false,
//!         is_first_fragment: false,
//!     }),
//!     transport: Transport::Tcp(TcpInfo {
//!         src_port: 40000,
//!         dst_port: 80,
//!         seq: 1000,
//!         ack: 0,
//!         flags: TcpFlags(TcpFlags::SYN),
//!         window: 64240,
//!         header_len: 20,
//!         segment_len: 20,
//!         payload_len: 0,
//!     }),
//!     ..Decoded::default()
//! };
//!
//! let mut tracker = Tracker::new(TrackerConfig::default());
//! let outcome = tracker.process(Timestamp::from_parts(1_700_000_000, 0), &syn);
//! assert_eq!(outcome.direction, Direction::ToServer);
//!
//! tracker.finish();
//! let records: Vec<_> = tracker.drain_finished().collect();
//! assert_eq!(records.len(), 1);
//! assert_eq!(records[0].client.port, 40000);
//! assert_eq!(records[0].out.packets, 1);
//! ```

#![forbid(unsafe_code)]

mod flow;
mod fragments;
mod key;
mod record;
mod shard;
mod snapshot;
mod stream;
mod surplus;
mod table;
mod tracker;

pub use flow::EndpointState;
pub use fragments::{
    TinyFirstFragment, WaitingFragment, DUPLICATE_WINDOW, FRAGMENT_TIMEOUT, MAX_FRAGMENT_DATAGRAMS,
    MAX_WAITING_FRAGMENTS,
};
pub use record::{
    Anomaly, ConnState, Counters, Direction, EndReason, Endpoint, FlowRecord, History, IcmpDetails,
    PacketOutcome, HISTORY_CAPACITY,
};
pub use shard::{
    shard_of, RecordFormatter, RestoreOrShardError, ShardError, ShardedOverLimit, ShardedRestorer,
    ShardedTracker, SnapshotFlows, BATCH_PACKETS,
};
pub use snapshot::{
    CloseState, DatagramSnapshot, FlowSnapshot, FragmentFlowSnapshot, RestoreError, SideSnapshot,
    TrackerSnapshot,
};
pub use stream::{SeqRange, StreamState, MAX_HOLES};
pub use surplus::{Surplus, SurplusPicker};
pub use tracker::{
    RecordProtocols, Tracker, TrackerConfig, TrackerRestorer, TrackerStats, CLOCK_JUMP,
};
