//! The state the tracker keeps for one flow, and how each packet changes it.

use wsd_capture::Timestamp;
use wsd_decode::{Decoded, MacAddr, TcpFlags, TcpInfo, Transport, TunnelInfo, Vlans};

use crate::key::{to_ip, FlowKey};
use crate::record::{ConnState, Counters, EndReason, Endpoint, FlowRecord, History, IcmpDetails};
use crate::stream::StreamState;
use crate::table::QueueId;

/// IP protocol numbers with a state machine of their own.
const TCP: u8 = 6;
const UDP: u8 = 17;

/// Index of the client in [`Flow::sides`].
pub(crate) const CLIENT: usize = 0;
/// Index of the server in [`Flow::sides`].
pub(crate) const SERVER: usize = 1;

/// The origin of a side's MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum MacSource {
    /// Not seen yet.
    #[default]
    None,
    /// The destination MAC of a packet sent to this side.
    Peer,
    /// The source MAC of a packet this side sent.
    Own,
}

/// The origin of a side's base sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum IsnSource {
    /// Not known yet.
    #[default]
    None,
    /// Derived from the other side's acknowledgment number.
    PeerAck,
    /// Taken from a segment this side sent: its SYN, or for a flow picked up
    /// mid-stream, its first segment.
    Own,
}

/// The TCP state of one side of a connection, after the endpoint states of
/// Zeek's TCP analyzer, from the flags that side sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EndpointState {
    /// Sent nothing yet.
    #[default]
    Inactive,
    /// Sent a SYN without ACK.
    SynSent,
    /// Sent a SYN-ACK.
    SynAckSent,
    /// Sent segments without a SYN first: picked up mid-stream.
    Partial,
    /// Took part in a completed handshake.
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

impl EndpointState {
    /// True for a side that did not take part in a handshake.
    fn is_inactive(self) -> bool {
        matches!(self, EndpointState::Inactive | EndpointState::Partial)
    }
}

/// Packet counters of one direction, the part of [`Counters`] that does not
/// come from sequence numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PacketCounters {
    pub packets: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub ip_bytes: u64,
}

impl PacketCounters {
    fn to_array(self) -> [u64; 4] {
        [self.packets, self.bytes, self.payload_bytes, self.ip_bytes]
    }

    fn from_array([packets, bytes, payload_bytes, ip_bytes]: [u64; 4]) -> PacketCounters {
        PacketCounters {
            packets,
            bytes,
            payload_bytes,
            ip_bytes,
        }
    }
}

/// The low 32 bits of a side's [`PacketCounters`], in their field order. The
/// high bits are in [`FlowExtra::counters_high`], which only a flow that passed
/// 4 GiB or 2^32 packets in one direction allocates, so that the counters of
/// both sides take 32 bytes of every flow instead of 64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LowCounters([u32; 4]);

/// The state of one direction of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Side {
    pub counters: LowCounters,
    pub mac: MacAddr,
    pub mac_source: MacSource,
    /// Base for relative sequence numbers: the initial sequence number if the
    /// SYN was seen, else the first sequence number seen.
    pub isn: u32,
    pub isn_source: IsnSource,
    pub fin: bool,
    pub state: EndpointState,
}

impl Side {
    fn endpoint_mac(&self) -> Option<MacAddr> {
        (self.mac_source != MacSource::None).then_some(self.mac)
    }
}

/// The way a TCP connection was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Closed {
    /// Still open.
    #[default]
    No,
    /// Both sides sent a FIN.
    Fin,
    /// A RST was seen.
    Rst,
}

/// Per-flow state that most flows never need, kept out of line so that a flow
/// of a single SYN stays small. It is allocated on the first segment with
/// payload or a zero window, or at creation for a tunnelled or ICMP flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FlowExtra {
    /// Sequence state of the client's and the server's stream.
    pub streams: [Option<StreamState>; 2],
    pub tunnel: Option<TunnelInfo>,
    pub icmp: Option<IcmpDetails>,
    /// The VLAN tags of the flow's first packet when the key's VLAN IDs differ
    /// from them, as they do when VLANs are left out of the key.
    pub vlans: Option<Vlans>,
    /// The high 32 bits of the client's and the server's packet counters.
    pub counters_high: [[u32; 4]; 2],
}

/// One tracked flow. A unit test in table.rs keeps its slot at 176 bytes or
/// less, which the benchmark's SYN flood needs to stay under 200 bytes per
/// tracked connection.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    pub key: FlowKey,
    /// True if endpoint `a` of the key is the client.
    pub client_is_a: bool,
    /// Client and server state, indexed by [`CLIENT`] and [`SERVER`].
    pub sides: [Side; 2],
    /// The number of VLAN tags of the flow's first packet, whose IDs are those
    /// of the key unless [`FlowExtra::vlans`] keeps them; see [`Flow::vlans`].
    pub vlan_count: u8,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Capture-clock time of the latest packet, which orders the timeout queues.
    pub touched: Timestamp,
    /// Order of creation, for a deterministic order of flows reported together.
    pub serial: u64,
    pub queue: QueueId,
    pub midstream: bool,
    pub syn_seen: bool,
    pub closed: Closed,
    pub history: History,
    pub extra: Option<Box<FlowExtra>>,
}

impl Flow {
    /// Creates a flow for the first packet of a connection.
    pub fn new(key: FlowKey, client_is_a: bool, packet: &Decoded, now: Timestamp) -> Flow {
        // When both endpoints are the same address and port (a socket sending to
        // itself, or a forged packet), every packet comes from endpoint `a`. Making
        // that side the client keeps the choice the same after a restore, which
        // cannot tell the two sides apart.
        let is_self = key.addr_a == key.addr_b && key.port_a == key.port_b;
        let icmp = match packet.transport {
            Transport::Icmp(icmp) => Some(IcmpDetails {
                icmp_type: icmp.icmp_type,
                code: icmp.code,
                echo_id: icmp.echo_id,
                v6: icmp.v6,
            }),
            _ => None,
        };
        let extra = (packet.tunnel.is_some() || icmp.is_some()).then(|| {
            Box::new(FlowExtra {
                tunnel: packet.tunnel,
                icmp,
                ..FlowExtra::default()
            })
        });
        let mut flow = Flow {
            key,
            client_is_a: client_is_a || is_self,
            sides: [Side::default(); 2],
            vlan_count: 0,
            first_ts: now,
            last_ts: now,
            touched: now,
            serial: 0,
            queue: QueueId::Tcp,
            midstream: false,
            syn_seen: false,
            closed: Closed::No,
            history: History::EMPTY,
            extra,
        };
        flow.set_vlans(packet.vlans);
        flow
    }

    /// Returns the VLAN tags of the flow's first packet.
    pub fn vlans(&self) -> Vlans {
        match self.extra.as_ref().and_then(|extra| extra.vlans) {
            Some(vlans) => vlans,
            None => Vlans {
                ids: self.key.vlan_ids,
                count: self.vlan_count,
            },
        }
    }

    /// Sets the VLAN tags reported for the flow. Tags that the key's VLAN IDs
    /// already give cost one byte, and others are kept out of line.
    pub fn set_vlans(&mut self, vlans: Vlans) {
        self.vlan_count = vlans.count;
        let from_key = Vlans {
            ids: self.key.vlan_ids,
            count: vlans.count,
        };
        if vlans != from_key {
            self.extra.get_or_insert_with(Box::default).vlans = Some(vlans);
        } else if let Some(extra) = self.extra.as_mut() {
            extra.vlans = None;
        }
    }

    /// Adds a history letter for `sender` (upper case for the client, lower case
    /// for the server) unless it is already there.
    pub fn note(&mut self, sender: usize, letter: u8) {
        let letter = case_for(sender, letter);
        if !self.history.contains(letter) {
            self.history.push(letter);
        }
    }

    /// Adds a counted history letter for `sender` when `count`, the number of
    /// occurrences so far, is 1, 10, 100 or a further power of ten.
    fn note_counted(&mut self, sender: usize, letter: u8, count: u64) {
        if is_power_of_ten(count) {
            self.history.push(case_for(sender, letter));
        }
    }

    /// Returns the sequence state of `sender`'s stream, starting it at
    /// [`Flow::stream_start`] if it has none yet.
    fn stream_mut(&mut self, sender: usize, seq: u32) -> &mut StreamState {
        let started = self
            .extra
            .as_ref()
            .is_some_and(|extra| extra.streams[sender].is_some());
        // A started stream ignores `start`, so it is worked out only when needed.
        let start = if started {
            seq
        } else {
            self.stream_start(sender, seq)
        };
        let extra = self.extra.get_or_insert_with(Box::default);
        extra.streams[sender].get_or_insert_with(|| StreamState::starting_at(start))
    }

    /// Returns the first sequence number of `sender`'s stream: after the
    /// sender's SYN if it sent one, else its base sequence number, else `seq`.
    fn stream_start(&self, sender: usize, seq: u32) -> u32 {
        let side = &self.sides[sender];
        // The history shows the SYN, except for a flow loaded from a cache
        // format without history, whose endpoint state still shows it.
        // A peer's SYN-ACK acknowledges a SYN, also one that the capture
        // missed, and its acknowledgment number gave the base.
        let sent_syn = self.history.contains(case_for(sender, b'S'))
            || self.history.contains(case_for(sender, b'H'))
            || matches!(
                side.state,
                EndpointState::SynSent | EndpointState::SynAckSent | EndpointState::Established
            )
            || self.history.contains(case_for(1 - sender, b'H'));
        if sent_syn {
            side.isn.wrapping_add(1)
        } else if side.isn_source != IsnSource::None {
            side.isn
        } else {
            seq
        }
    }

    /// Updates the endpoint states, the history and the sequence state for a
    /// TCP segment from `sender`.
    fn track_tcp(&mut self, sender: usize, tcp: &TcpInfo, continues: bool) {
        let flags = tcp.flags;
        let syn = flags.has(TcpFlags::SYN);
        let ack = flags.has(TcpFlags::ACK);
        let fin = flags.has(TcpFlags::FIN);
        let rst = flags.has(TcpFlags::RST);

        let receiver = 1 - sender;
        let state = self.sides[sender].state;
        let new_state = if rst {
            EndpointState::Reset
        } else if fin {
            if state == EndpointState::Reset {
                state
            } else {
                EndpointState::Closed
            }
        } else if syn && !ack {
            if state == EndpointState::Inactive {
                EndpointState::SynSent
            } else {
                state
            }
        } else if syn {
            match state {
                EndpointState::Inactive | EndpointState::SynSent => EndpointState::SynAckSent,
                _ => state,
            }
        } else {
            match state {
                EndpointState::Inactive => EndpointState::Partial,
                EndpointState::SynSent | EndpointState::SynAckSent if ack => {
                    EndpointState::Established
                }
                _ => state,
            }
        };
        self.sides[sender].state = new_state;
        // An ACK that completes the handshake establishes the side that sent the
        // SYN-ACK as well.
        if new_state == EndpointState::Established
            && matches!(
                self.sides[receiver].state,
                EndpointState::SynAckSent | EndpointState::SynSent
            )
        {
            self.sides[receiver].state = EndpointState::Established;
        }

        if syn && (fin || rst) {
            self.note(sender, b'Q');
        } else if fin && rst {
            self.note(sender, b'I');
        }
        if syn {
            self.note(sender, if ack { b'H' } else { b'S' });
        }
        if fin {
            self.note(sender, b'F');
        }
        if rst {
            self.note(sender, b'R');
        }
        // A first fragment that ends with the TCP header is no pure ACK: its
        // payload comes in the later fragments.
        let continues = continues && tcp.header_len <= tcp.segment_len;
        if tcp.payload_len > 0 {
            self.note(sender, b'D');
        } else if ack && !syn && !fin && !rst && !continues {
            self.note(sender, b'A');
        }

        if tcp.window == 0 && !syn && !rst {
            let stream = self.stream_mut(sender, tcp.seq);
            stream.zero_windows += 1;
            let count = stream.zero_windows;
            self.note_counted(sender, b'W', count);
        }
        if tcp.payload_len > 0 {
            // A SYN takes the first sequence number, so its payload starts after it.
            let data_seq = tcp.seq.wrapping_add(u32::from(syn));
            self.add_payload(sender, data_seq, tcp.payload_len);
        }
        // The side's first FIN or RST ends its stream, so a later FIN moves
        // nothing.
        if fin && !matches!(state, EndpointState::Closed | EndpointState::Reset) {
            let fin_seq = tcp
                .seq
                .wrapping_add(u32::from(syn))
                .wrapping_add(tcp.payload_len);
            self.reach_fin(sender, fin_seq);
        }
    }

    /// Accounts the bytes of `sender`'s stream before its FIN at `fin_seq` that
    /// no captured segment carried, such as a lost last segment, as missed.
    fn reach_fin(&mut self, sender: usize, fin_seq: u32) {
        let started = self
            .extra
            .as_ref()
            .is_some_and(|extra| extra.streams[sender].is_some());
        // A stream without payload so far gets its state only if bytes are
        // missing, so that most connections without data need none.
        if !started && fin_seq.wrapping_sub(self.stream_start(sender, fin_seq)) as i32 <= 0 {
            return;
        }
        let stream = self.stream_mut(sender, fin_seq);
        if stream.reach(fin_seq) {
            let gaps = stream.gaps;
            self.note_counted(sender, b'G', gaps);
        }
    }

    /// Accounts `len` payload bytes of a later IP fragment of a TCP segment
    /// from `sender`, starting at sequence number `seq` in its stream.
    pub fn track_payload(&mut self, sender: usize, seq: u32, len: u32) {
        if len > 0 {
            self.note(sender, b'D');
            self.add_payload(sender, seq, len);
        }
    }

    /// Accounts `len` payload bytes, at least one, from `sender` starting at
    /// sequence number `seq`. Inlined because every segment with payload runs it.
    #[inline(always)]
    fn add_payload(&mut self, sender: usize, seq: u32, len: u32) {
        let stream = self.stream_mut(sender, seq);
        let effect = stream.add_segment(seq, len);
        let (gaps, retransmissions) = (stream.gaps, stream.retransmitted_packets);
        if effect.gap {
            self.note_counted(sender, b'G', gaps);
        }
        if effect.retransmission {
            self.note_counted(sender, b'T', retransmissions);
        }
    }

    /// Notes a datagram's payload in the history: `D` or `d` for UDP.
    pub fn track_datagram(&mut self, sender: usize, payload: u32) {
        if self.key.protocol == UDP && payload > 0 {
            self.note(sender, b'D');
        }
    }

    /// Returns the connection state in Zeek's terms.
    pub fn conn_state(&self) -> ConnState {
        let [client, server] = &self.sides;
        match self.key.protocol {
            TCP => tcp_conn_state(client.state, server.state, &self.history, || {
                self.stream_bytes(CLIENT) == 0 && self.stream_bytes(SERVER) == 0
            }),
            UDP if self.packet_counters(SERVER).packets > 0 => ConnState::SF,
            UDP => ConnState::S0,
            _ => ConnState::OTH,
        }
    }

    fn stream(&self, side: usize) -> Option<&StreamState> {
        self.extra.as_ref()?.streams[side].as_ref()
    }

    fn stream_bytes(&self, side: usize) -> u64 {
        self.stream(side).map_or(0, |stream| stream.stream_bytes)
    }

    /// Returns the packet counters of one side.
    pub fn packet_counters(&self, side: usize) -> PacketCounters {
        let low = self.sides[side].counters.0;
        let high = self
            .extra
            .as_ref()
            .map_or([0; 4], |extra| extra.counters_high[side]);
        PacketCounters::from_array(std::array::from_fn(|i| {
            u64::from(high[i]) << 32 | u64::from(low[i])
        }))
    }

    /// Sets the packet counters of one side, as a restore does.
    pub fn set_packet_counters(&mut self, side: usize, counters: PacketCounters) {
        let full = counters.to_array();
        self.sides[side].counters = LowCounters(full.map(|value| value as u32));
        let high = full.map(|value| (value >> 32) as u32);
        if high != [0; 4] {
            self.extra.get_or_insert_with(Box::default).counters_high[side] = high;
        }
    }

    /// Adds `amounts` (packets, bytes, payload bytes, IP bytes) to the counters
    /// of `side`, carrying into the high bits out of line when a low part wraps.
    fn add_counters(&mut self, side: usize, amounts: [u32; 4]) {
        let low = &mut self.sides[side].counters.0;
        let mut carry = [0u32; 4];
        for i in 0..4 {
            let (sum, wrapped) = low[i].overflowing_add(amounts[i]);
            low[i] = sum;
            carry[i] = u32::from(wrapped);
        }
        if carry != [0; 4] {
            let high = &mut self.extra.get_or_insert_with(Box::default).counters_high[side];
            for i in 0..4 {
                high[i] = high[i].wrapping_add(carry[i]);
            }
        }
    }

    /// Returns the full counters of one side for a record.
    fn counters(&self, side: usize) -> Counters {
        let base = self.packet_counters(side);
        let mut counters = Counters {
            packets: base.packets,
            bytes: base.bytes,
            payload_bytes: base.payload_bytes,
            ip_bytes: base.ip_bytes,
            stream_bytes: base.payload_bytes,
            ..Counters::default()
        };
        if self.key.protocol == TCP {
            let stream = self.stream(side).copied().unwrap_or_default();
            counters.stream_bytes = stream.stream_bytes;
            counters.missed_bytes = stream.missed_bytes();
            counters.retransmitted_packets = stream.retransmitted_packets;
            counters.retransmitted_bytes = stream.retransmitted_bytes;
        }
        counters
    }

    /// Index into `sides` of the sender of a packet.
    pub fn sender(&self, from_a: bool) -> usize {
        if from_a == self.client_is_a {
            CLIENT
        } else {
            SERVER
        }
    }

    /// Counts a packet of `bytes` transport bytes, `payload` of them payload, and
    /// records the MAC addresses and times it shows.
    pub fn count(
        &mut self,
        sender: usize,
        packet: &Decoded,
        ts: Timestamp,
        bytes: u32,
        payload: u32,
    ) {
        let ip_bytes = packet.ip.map_or(0, |ip| ip.total_len);
        self.add_counters(sender, [1, bytes, payload, ip_bytes]);
        let side = &mut self.sides[sender];
        if side.mac_source != MacSource::Own {
            if let Some(mac) = packet.src_mac {
                side.mac = mac;
                side.mac_source = MacSource::Own;
            }
        }
        let receiver = &mut self.sides[1 - sender];
        if receiver.mac_source == MacSource::None {
            if let Some(mac) = packet.dst_mac {
                receiver.mac = mac;
                receiver.mac_source = MacSource::Peer;
            }
        }
        self.first_ts = self.first_ts.min(ts);
        self.last_ts = self.last_ts.max(ts);
    }

    /// Counts a later IP fragment that waited for its first fragment: `ip_len` IP
    /// bytes, `data_len` of them data of the datagram, which counts as transport
    /// bytes, and `payload` of those past the transport header.
    pub fn count_fragment(
        &mut self,
        sender: usize,
        ts: Timestamp,
        ip_len: u32,
        data_len: u32,
        payload: u32,
    ) {
        self.add_counters(sender, [1, data_len, payload, ip_len]);
        self.first_ts = self.first_ts.min(ts);
        self.last_ts = self.last_ts.max(ts);
    }

    /// True if a SYN without ACK from `sender` with sequence number `seq` opens a
    /// new connection rather than repeating the one this flow tracks.
    pub fn is_new_syn(&self, sender: usize, seq: u32) -> bool {
        let side = &self.sides[sender];
        side.isn_source != IsnSource::None && side.isn != seq
    }

    /// True if a SYN-ACK from `sender` with sequence number `seq` replies to a new
    /// connection: this one is closed and the sender's ISN differs.
    pub fn is_new_synack(&self, sender: usize, seq: u32) -> bool {
        self.closed != Closed::No && self.is_new_syn(sender, seq)
    }

    /// Updates the sequence bases and the connection state for a TCP segment.
    /// `continues` is true for the first IP fragment of a segment, whose later
    /// fragments carry the rest of it.
    ///
    /// Returns true if a SYN-ACK changed an initial sequence number seen before.
    pub fn update_tcp(&mut self, sender: usize, tcp: &TcpInfo, continues: bool) -> bool {
        let flags = tcp.flags;
        let mut new_isn = false;
        let side = &mut self.sides[sender];
        if flags.has(TcpFlags::SYN) {
            new_isn = side.isn_source == IsnSource::Own && side.isn != tcp.seq;
            side.isn = tcp.seq;
            side.isn_source = IsnSource::Own;
        } else if side.isn_source != IsnSource::Own {
            if side.isn_source == IsnSource::None {
                side.isn = tcp.seq;
            }
            side.isn_source = IsnSource::Own;
        }
        if flags.has(TcpFlags::FIN) {
            side.fin = true;
        }

        let receiver = &mut self.sides[1 - sender];
        if flags.has(TcpFlags::ACK) && receiver.isn_source == IsnSource::None {
            // A SYN-ACK acknowledges ISN + 1; any other ACK names the next byte
            // expected, which is the best base we have for a flow picked up late.
            let syn_adjust = u32::from(flags.has(TcpFlags::SYN));
            receiver.isn = tcp.ack.wrapping_sub(syn_adjust);
            receiver.isn_source = IsnSource::PeerAck;
        }

        if flags.has(TcpFlags::RST) {
            self.closed = Closed::Rst;
        } else if self.closed == Closed::No && self.sides[CLIENT].fin && self.sides[SERVER].fin {
            self.closed = Closed::Fin;
        }
        self.track_tcp(sender, tcp, continues);
        new_isn
    }

    /// Sequence and acknowledgment numbers of a segment relative to the bases.
    pub fn relative(&self, sender: usize, tcp: &TcpInfo) -> (u32, u32) {
        let rel_seq = tcp.seq.wrapping_sub(self.sides[sender].isn);
        let receiver = &self.sides[1 - sender];
        let rel_ack = if tcp.flags.has(TcpFlags::ACK) && receiver.isn_source != IsnSource::None {
            tcp.ack.wrapping_sub(receiver.isn)
        } else {
            0
        };
        (rel_seq, rel_ack)
    }

    /// Returns the reason to report: how the connection closed if it did, else
    /// `open_reason`.
    pub fn end_reason(&self, open_reason: EndReason) -> EndReason {
        match self.closed {
            Closed::Fin => EndReason::Fin,
            Closed::Rst => EndReason::Rst,
            Closed::No => open_reason,
        }
    }

    /// Loads the fields of the separately allocated state that
    /// [`Flow::to_record`] reads. For a flow that is out of the cache, calling
    /// this before other work on the flow overlaps their cache misses with it.
    #[inline]
    pub fn preload_extra(&self) {
        if let Some(extra) = self.extra.as_deref() {
            std::hint::black_box((
                extra.streams[0].is_some(),
                extra.streams[1].is_some(),
                extra.tunnel.is_some(),
                extra.vlans.is_some(),
                extra.counters_high[1][3],
            ));
        }
    }

    /// Builds the record reported for this flow.
    pub fn to_record(&self, end_reason: EndReason) -> FlowRecord {
        let (client_addr, client_port, server_addr, server_port) = if self.client_is_a {
            (
                self.key.addr_a,
                self.key.port_a,
                self.key.addr_b,
                self.key.port_b,
            )
        } else {
            (
                self.key.addr_b,
                self.key.port_b,
                self.key.addr_a,
                self.key.port_a,
            )
        };
        let [client, server] = &self.sides;
        let extra = self.extra.as_deref();
        FlowRecord {
            protocol: self.key.protocol,
            vlans: self.vlans(),
            client: Endpoint {
                ip: to_ip(client_addr, self.key.v6),
                port: client_port,
                mac: client.endpoint_mac(),
            },
            server: Endpoint {
                ip: to_ip(server_addr, self.key.v6),
                port: server_port,
                mac: server.endpoint_mac(),
            },
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            out: self.counters(CLIENT),
            inbound: self.counters(SERVER),
            midstream: self.midstream,
            syn_seen: self.syn_seen,
            end_reason,
            state: self.conn_state(),
            history: self.history,
            tunnel: extra.and_then(|extra| extra.tunnel),
            icmp: extra.and_then(|extra| extra.icmp),
        }
    }
}

/// Returns a history letter in the case of `sender`: upper case for the client.
fn case_for(sender: usize, letter: u8) -> u8 {
    if sender == CLIENT {
        letter
    } else {
        letter.to_ascii_lowercase()
    }
}

/// True for 1, 10, 100 and every further power of ten.
fn is_power_of_ten(mut count: u64) -> bool {
    if count == 0 {
        return false;
    }
    while count % 10 == 0 {
        count /= 10;
    }
    count == 1
}

/// Derives Zeek's `conn_state` of a TCP connection from the endpoint states,
/// following the rules of Zeek's `conn_state` function. `no_bytes` reports
/// whether neither side sent stream bytes.
fn tcp_conn_state(
    client: EndpointState,
    server: EndpointState,
    history: &History,
    no_bytes: impl Fn() -> bool,
) -> ConnState {
    use EndpointState as E;
    if server == E::Reset {
        if matches!(client, E::SynSent | E::SynAckSent) || (client == E::Reset && no_bytes()) {
            ConnState::REJ
        } else if client.is_inactive() {
            ConnState::RSTRH
        } else {
            ConnState::RSTR
        }
    } else if client == E::Reset {
        if !server.is_inactive() {
            ConnState::RSTO
        } else if is_syn_then_reset(history) {
            ConnState::RSTOS0
        } else {
            ConnState::OTH
        }
    } else if client == E::Closed && server == E::Closed {
        ConnState::SF
    } else if client == E::Closed {
        if server.is_inactive() {
            ConnState::SH
        } else {
            ConnState::S2
        }
    } else if server == E::Closed {
        if client.is_inactive() {
            ConnState::SHR
        } else {
            ConnState::S3
        }
    } else if client == E::SynSent && server == E::Inactive {
        ConnState::S0
    } else if client == E::Established && server == E::Established {
        ConnState::S1
    } else {
        ConnState::OTH
    }
}

/// True if the history matches Zeek's pattern for RSTOS0, `^?S[^HAFGIQ]*R.*`:
/// the client's SYN, then its RST, with no client SYN-ACK, ACK, FIN, gap or odd
/// flags between them.
fn is_syn_then_reset(history: &History) -> bool {
    let letters = history.as_bytes();
    let letters = letters.strip_prefix(b"^").unwrap_or(letters);
    let Some(rest) = letters.strip_prefix(b"S") else {
        return false;
    };
    for &letter in rest {
        match letter {
            b'R' => return true,
            b'H' | b'A' | b'F' | b'G' | b'I' | b'Q' => return false,
            _ => {}
        }
    }
    false
}

/// Guesses whether the sender of a packet is the server of a connection whose
/// handshake was not seen: the side on a well-known port (below 1024), else the
/// side on the lower port, is the server. Equal ports make the receiver the server.
pub(crate) fn sender_looks_like_server(src_port: u16, dst_port: u16) -> bool {
    let src_well_known = src_port < 1024;
    let dst_well_known = dst_port < 1024;
    if src_well_known != dst_well_known {
        return src_well_known;
    }
    src_port < dst_port
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(vlan_ids: [u16; 2]) -> FlowKey {
        let mut addr_a = [0u8; 16];
        addr_a[..4].copy_from_slice(&[10, 0, 0, 1]);
        let mut addr_b = [0u8; 16];
        addr_b[..4].copy_from_slice(&[10, 0, 0, 2]);
        FlowKey {
            addr_a,
            addr_b,
            port_a: 40_000,
            port_b: 80,
            vlan_ids,
            protocol: TCP,
            v6: false,
        }
    }

    fn flow(vlan_ids: [u16; 2], vlans: Vlans) -> Flow {
        let packet = Decoded {
            vlans,
            ..Decoded::default()
        };
        Flow::new(key(vlan_ids), true, &packet, Timestamp::from_parts(1, 0))
    }

    #[test]
    fn counters_carry_past_32_bits() {
        let mut flow = flow([0, 0], Vlans::default());
        for _ in 0..3 {
            flow.add_counters(CLIENT, [1, u32::MAX, 2_000_000_000, u32::MAX]);
        }
        let counters = flow.packet_counters(CLIENT);
        assert_eq!(counters.packets, 3);
        assert_eq!(counters.bytes, 3 * u64::from(u32::MAX));
        assert_eq!(counters.payload_bytes, 6_000_000_000);
        assert_eq!(counters.ip_bytes, 3 * u64::from(u32::MAX));
        assert_eq!(flow.packet_counters(SERVER), PacketCounters::default());
    }

    #[test]
    fn counters_small_stay_inline() {
        let mut flow = flow([0, 0], Vlans::default());
        flow.add_counters(SERVER, [1, 40, 0, 60]);
        assert!(flow.extra.is_none());
        assert_eq!(flow.packet_counters(SERVER).ip_bytes, 60);
    }

    #[test]
    fn counters_set_then_read() {
        let mut flow = flow([0, 0], Vlans::default());
        let wide = PacketCounters {
            packets: 5_000_000_000,
            bytes: u64::MAX,
            payload_bytes: 1 << 40,
            ip_bytes: 7,
        };
        flow.set_packet_counters(SERVER, wide);
        assert_eq!(flow.packet_counters(SERVER), wide);
        flow.add_counters(SERVER, [1, 0, 0, 0]);
        assert_eq!(flow.packet_counters(SERVER).packets, 5_000_000_001);
    }

    #[test]
    fn vlans_from_key_inline() {
        let tagged = Vlans {
            ids: [100, 0],
            count: 1,
        };
        let flow = flow([100, 0], tagged);
        assert!(flow.extra.is_none());
        assert_eq!(flow.vlans(), tagged);
    }

    #[test]
    fn vlans_outside_key_kept() {
        let tagged = Vlans {
            ids: [100, 200],
            count: 2,
        };
        let flow = flow([0, 0], tagged);
        assert_eq!(flow.vlans(), tagged);
        assert_eq!(flow.key.vlan_ids, [0, 0]);
    }

    #[test]
    fn vlans_deeper_than_two_tags() {
        let tagged = Vlans {
            ids: [100, 200],
            count: 3,
        };
        let flow = flow([100, 200], tagged);
        assert_eq!(flow.vlans(), tagged);
    }
}
