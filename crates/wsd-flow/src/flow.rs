//! The state the tracker keeps for one flow, and how each packet changes it.

use wsd_capture::Timestamp;
use wsd_decode::{Decoded, MacAddr, TcpFlags, TcpInfo, Vlans};

use crate::key::{to_ip, FlowKey};
use crate::record::{Counters, EndReason, Endpoint, FlowRecord};
use crate::table::QueueId;

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

/// The state of one direction of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Side {
    pub counters: Counters,
    pub mac: MacAddr,
    pub mac_source: MacSource,
    /// Base for relative sequence numbers: the initial sequence number if the
    /// SYN was seen, else the first sequence number seen.
    pub isn: u32,
    pub isn_source: IsnSource,
    pub fin: bool,
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

/// One tracked flow.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    pub key: FlowKey,
    /// True if endpoint `a` of the key is the client.
    pub client_is_a: bool,
    /// Client and server state, indexed by [`CLIENT`] and [`SERVER`].
    pub sides: [Side; 2],
    pub vlans: Vlans,
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
}

impl Flow {
    /// Creates a flow for the first packet of a connection.
    pub fn new(key: FlowKey, client_is_a: bool, packet: &Decoded, now: Timestamp) -> Flow {
        // When both endpoints are the same address and port (a socket sending to
        // itself, or a forged packet), every packet comes from endpoint `a`. Making
        // that side the client keeps the choice the same after a restore, which
        // cannot tell the two sides apart.
        let is_self = key.addr_a == key.addr_b && key.port_a == key.port_b;
        Flow {
            key,
            client_is_a: client_is_a || is_self,
            sides: [Side::default(); 2],
            vlans: packet.vlans,
            first_ts: now,
            last_ts: now,
            touched: now,
            serial: 0,
            queue: QueueId::Tcp,
            midstream: false,
            syn_seen: false,
            closed: Closed::No,
        }
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
        let side = &mut self.sides[sender];
        side.counters.packets += 1;
        side.counters.bytes += u64::from(bytes);
        side.counters.payload_bytes += u64::from(payload);
        side.counters.ip_bytes += packet.ip.map_or(0, |ip| u64::from(ip.total_len));
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
    /// bytes, `data_len` of them payload of the datagram, which counts as transport
    /// bytes and payload because the transport header is in the first fragment.
    pub fn count_fragment(&mut self, sender: usize, ts: Timestamp, ip_len: u32, data_len: u32) {
        let counters = &mut self.sides[sender].counters;
        counters.packets += 1;
        counters.bytes += u64::from(data_len);
        counters.payload_bytes += u64::from(data_len);
        counters.ip_bytes += u64::from(ip_len);
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
    ///
    /// Returns true if a SYN-ACK changed an initial sequence number seen before.
    pub fn update_tcp(&mut self, sender: usize, tcp: &TcpInfo) -> bool {
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
        FlowRecord {
            protocol: self.key.protocol,
            vlans: self.vlans,
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
            out: client.counters,
            inbound: server.counters,
            midstream: self.midstream,
            syn_seen: self.syn_seen,
            end_reason,
        }
    }
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
