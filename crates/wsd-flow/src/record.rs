//! Finished flows, as the tracker reports them.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_decode::{MacAddr, TunnelInfo, Vlans};

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
    /// The flow is still open: this is one of the records reported every
    /// interim interval, and the flow stays in the table.
    Interim,
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
            EndReason::Interim => "interim",
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
    /// For TCP: payload bytes of the byte stream, from the sequence numbers. Each
    /// byte counts once however often it was sent, bytes the capture missed count
    /// too, and the count stays right across the wrap of the 32-bit sequence
    /// number. This is Zeek's `orig_bytes`/`resp_bytes`. For other protocols, the
    /// same as `payload_bytes`.
    pub stream_bytes: u64,
    /// For TCP: bytes of the stream that no captured segment carried, the holes
    /// the capture never filled (Zeek's `missed_bytes`, per direction). 0 for
    /// other protocols.
    pub missed_bytes: u64,
    /// For TCP: segments with payload that carried only bytes already seen.
    pub retransmitted_packets: u64,
    /// For TCP: payload bytes sent again, counted in every retransmitted segment
    /// and in the already-seen part of a segment that also carried new bytes.
    pub retransmitted_bytes: u64,
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
    /// The connection state, in Zeek's terms.
    pub state: ConnState,
    /// The events of the connection, as Zeek's history letters.
    pub history: History,
    /// The tunnel the flow's first packet came through, if it was decapsulated.
    pub tunnel: Option<TunnelInfo>,
    /// For ICMP and ICMPv6 flows: the message type and code of the first packet,
    /// and the echo identifier for echo requests and replies.
    pub icmp: Option<IcmpDetails>,
}

impl FlowRecord {
    /// Returns the IP version of the flow: 4 or 6.
    pub fn ip_version(&self) -> u8 {
        if self.client.ip.is_ipv6() {
            6
        } else {
            4
        }
    }

    /// Whole seconds from the first to the last packet, never negative.
    pub fn duration_secs(&self) -> u64 {
        let nanos = self.last_ts.nanos_since(self.first_ts).max(0);
        (nanos / 1_000_000_000) as u64
    }
}

/// The ICMP message of an ICMP or ICMPv6 flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpDetails {
    /// Message type of the flow's first packet.
    pub icmp_type: u8,
    /// Message code of the flow's first packet.
    pub code: u8,
    /// Identifier of an echo request or reply, which keys the flow so that a
    /// request and its reply are one flow. `None` for other messages.
    pub echo_id: Option<u16>,
    /// True for ICMPv6.
    pub v6: bool,
}

/// The state of a connection, with the values and meanings of Zeek's
/// `conn_state` field (Zeek 7.0 documentation of `base/protocols/conn/main.zeek`).
///
/// "Originator" is the client and "responder" the server. For UDP, Zeek and the
/// tracker use `S0` if only the client sent and `SF` if both sides sent (`SHR`
/// and `OTH`, for traffic from the server alone, cannot occur here because the
/// first sender of a UDP flow is its client). ICMP and other protocols are
/// always `OTH`, as in Zeek.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
// The variant names are Zeek's values, which readers search for.
#[allow(clippy::upper_case_acronyms)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Connection established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    REJ,
    /// Connection established and close attempt by the client seen, but no reply
    /// from the server.
    S2,
    /// Connection established and close attempt by the server seen, but no reply
    /// from the client.
    S3,
    /// Connection established, the client aborted it with a RST.
    RSTO,
    /// The server sent a RST.
    RSTR,
    /// The client sent a SYN followed by a RST, and no SYN-ACK from the server
    /// was seen.
    RSTOS0,
    /// The server sent a SYN-ACK followed by a RST, and no SYN from the client
    /// was seen.
    RSTRH,
    /// The client sent a SYN followed by a FIN, and no SYN-ACK from the server
    /// was seen: the connection was half open.
    SH,
    /// The server sent a SYN-ACK followed by a FIN, and no SYN from the client
    /// was seen.
    SHR,
    /// No SYN seen, just midstream traffic: one that was not closed, or whose
    /// close the state machine cannot place.
    #[default]
    OTH,
}

impl ConnState {
    /// Returns Zeek's spelling of the state, such as `"S0"` or `"RSTOS0"`.
    pub const fn name(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Maximum number of letters a [`History`] keeps; letters after the cap are
/// dropped. Each letter appears once except the counted repeats of `T`/`t`,
/// `G`/`g` and `W`/`w` (at the 1st, 10th, 100th... occurrence). A connection
/// with a full handshake, data and FINs from both sides takes 8 letters. The cap
/// keeps the history at 16 bytes, because every tracked flow stores one.
pub const HISTORY_CAPACITY: usize = 15;

/// A connection's history in the spirit of Zeek's `history` field: one letter
/// per event, in the order first seen, upper case for the client and lower case
/// for the server.
///
/// | letter | event |
/// | --- | --- |
/// | `S` `s` | SYN without ACK |
/// | `H` `h` | SYN-ACK |
/// | `A` `a` | pure ACK (no payload, no SYN, FIN or RST) |
/// | `D` `d` | segment or datagram with payload |
/// | `F` `f` | FIN |
/// | `R` `r` | RST |
/// | `T` `t` | retransmitted payload, at the 1st, 10th, 100th... occurrence |
/// | `G` `g` | content gap: bytes the capture missed, at the 1st, 10th... occurrence |
/// | `W` `w` | zero window advertised, at the 1st, 10th... occurrence |
/// | `I` `i` | inconsistent packet: both FIN and RST set |
/// | `Q` `q` | multi-flag packet: SYN with FIN or RST set |
/// | `^` | the tracker flipped client and server (Zeek's direction flip) |
///
/// It is a fixed-capacity byte string, so a flow stores it without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct History {
    letters: [u8; HISTORY_CAPACITY],
    len: u8,
}

impl History {
    /// An empty history.
    pub const EMPTY: History = History {
        letters: [0; HISTORY_CAPACITY],
        len: 0,
    };

    /// Appends `letter` unless the history is full. Returns false if it was
    /// dropped. Only ASCII letters and `^` are kept, so [`History::as_str`] is
    /// always valid UTF-8.
    pub fn push(&mut self, letter: u8) -> bool {
        let len = usize::from(self.len);
        if len >= HISTORY_CAPACITY || !(letter.is_ascii_alphabetic() || letter == b'^') {
            return false;
        }
        self.letters[len] = letter;
        self.len += 1;
        true
    }

    /// True if `letter` was recorded.
    pub fn contains(&self, letter: u8) -> bool {
        // `push` keeps the bytes past `len` zero and stores no zero, so the
        // whole array is compared, without a branch per letter.
        letter != 0
            && self
                .letters
                .iter()
                .fold(false, |found, &byte| found | (byte == letter))
    }

    /// Returns the letters as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.letters[..usize::from(self.len)]
    }

    /// Returns the letters, such as `"ShADadFf"`.
    pub fn as_str(&self) -> &str {
        // `push` stores only ASCII, so this never falls back to the empty string.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Number of letters.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True if no letter was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for History {
    fn default() -> History {
        History::EMPTY
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "History({:?})", self.as_str())
    }
}

impl std::fmt::Display for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
