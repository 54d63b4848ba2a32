//! Finished flows, as the tracker reports them.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_decode::{MacAddr, Vlans};

/// One side of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// Port, or 0 for protocols without ports.
    pub port: u16,
    /// MAC address: the source MAC of the first packet this side sent, else the
    /// destination MAC of the first packet sent to it, else `None`.
    pub mac: Option<MacAddr>,
}

/// The reason a flow was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EndReason {
    /// Both sides sent a FIN, and the linger time passed.
    Fin,
    /// A RST ended the connection, and the linger time passed.
    Rst,
    /// No packet for longer than the idle timeout.
    IdleTimeout,
    /// Removed to make room in a full flow table.
    Evicted,
    /// A SYN with a new initial sequence number reused the connection's ports.
    PortReuse,
    /// The input ended while the flow was still open.
    EndOfInput,
}

impl EndReason {
    /// Returns a short, stable name, in kebab case.
    pub const fn name(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::IdleTimeout => "idle-timeout",
            EndReason::Evicted => "evicted",
            EndReason::PortReuse => "port-reuse",
            EndReason::EndOfInput => "end-of-input",
        }
    }
}

/// Per-direction counters of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets sent.
    pub packets: u64,
    /// Transport bytes sent: for TCP the segment (header with options plus
    /// payload), taken from the IP length so that cut packets count their real size.
    pub bytes: u64,
    /// Transport payload bytes sent, retransmissions included.
    pub payload_bytes: u64,
    /// IP bytes sent: the IP header's length of each packet, on-the-wire size.
    pub ip_bytes: u64,
}

/// A finished flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// IP protocol number (6 for TCP).
    pub protocol: u8,
    /// VLAN IDs of the flow, outermost first.
    pub vlans: Vlans,
    /// The side that opened the connection, or the best guess for a flow picked
    /// up mid-stream.
    pub client: Endpoint,
    /// The other side.
    pub server: Endpoint,
    /// Earliest packet time of the flow.
    pub first_ts: Timestamp,
    /// Latest packet time of the flow.
    pub last_ts: Timestamp,
    /// Client-to-server counters.
    pub out: Counters,
    /// Server-to-client counters.
    pub inbound: Counters,
    /// True if no handshake was seen, so the client was guessed from the ports.
    pub midstream: bool,
    /// True if the client's SYN was captured.
    pub syn_seen: bool,
    /// The reason the flow was reported.
    pub end_reason: EndReason,
}

impl FlowRecord {
    /// Whole seconds from the first to the last packet, never negative.
    pub fn duration_secs(&self) -> u64 {
        let nanos = self.last_ts.nanos_since(self.first_ts).max(0);
        (nanos / 1_000_000_000) as u64
    }
}

/// The direction of a packet within its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
    /// The packet was not attributed to a flow.
    Unattributed,
}

/// Something odd the tracker noticed about a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Anomaly {
    /// The first packet of a TCP flow was not part of a handshake.
    NoHandshake,
    /// The first packet of a TCP flow was a SYN-ACK: the client's SYN was missed.
    SynAckWithoutSyn,
    /// A SYN repeated the initial sequence number already seen.
    RetransmittedSyn,
    /// A SYN-ACK carried a different initial sequence number than an earlier one.
    SynAckNewIsn,
    /// A SYN with a new initial sequence number started a new connection on the
    /// ports of an earlier one.
    PortReuse,
    /// A packet arrived after the flow was closed by FINs or a RST.
    AfterClose,
}

impl Anomaly {
    /// Returns a short reason for packet lines, in plain words.
    pub const fn reason(self) -> &'static str {
        match self {
            Anomaly::NoHandshake => "no handshake seen",
            Anomaly::SynAckWithoutSyn => "SYN-ACK without SYN",
            Anomaly::RetransmittedSyn => "retransmitted SYN",
            Anomaly::SynAckNewIsn => "SYN-ACK with new ISN",
            Anomaly::PortReuse => "port reuse",
            Anomaly::AfterClose => "packet after close",
        }
    }
}

/// The tracker's view of one packet, for per-packet lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketOutcome {
    /// Direction within the flow.
    pub direction: Direction,
    /// For TCP: the sequence number minus the sender's initial one (or the first
    /// one seen for a flow picked up mid-stream), wrapping.
    pub rel_seq: u32,
    /// For TCP: the acknowledgment number minus the receiver's initial sequence
    /// number, wrapping.
    pub rel_ack: u32,
    /// Something odd about this packet, if anything.
    pub anomaly: Option<Anomaly>,
}

impl PacketOutcome {
    /// The outcome for a packet that belongs to no flow.
    pub const UNATTRIBUTED: PacketOutcome = PacketOutcome {
        direction: Direction::Unattributed,
        rel_seq: 0,
        rel_ack: 0,
        anomaly: None,
    };
}
