//! The tracker's state as plain data, so that a run can save its unfinished flows
//! and a later run can continue them exactly.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_decode::{MacAddr, TunnelInfo, Vlans};

use crate::flow::{
    Closed, EndpointState, Flow, FlowExtra, IsnSource, LowCounters, MacSource, PacketCounters,
    Side, CLIENT, SERVER,
};
use crate::fragments::{TinyFirstFragment, WaitingFragment};
use crate::key::FlowKey;
use crate::record::{Counters, EndReason, Endpoint, FlowRecord, History, IcmpDetails};
use crate::stream::StreamState;
use crate::tracker::RecordProtocols;

/// Everything a [`crate::Tracker`] needs to continue where another one stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerSnapshot {
    /// The capture clock: the latest packet time seen, if any.
    pub clock: Option<Timestamp>,
    /// The creation number the next new flow gets.
    pub next_serial: u64,
    /// The flows, each timeout queue from its front to its back, so that restoring
    /// them in this order rebuilds the same queues.
    pub flows: Vec<FlowSnapshot>,
    /// The datagrams of the IP fragment table, oldest first.
    pub fragments: Vec<DatagramSnapshot>,
}

/// One datagram of the IP fragment table, as saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatagramSnapshot {
    /// Capture clock when the datagram's first fragment of any kind arrived, which
    /// starts its timeout.
    pub created: Timestamp,
    /// Source address of the fragments.
    pub src: IpAddr,
    /// Destination address of the fragments.
    pub dst: IpAddr,
    /// IP identification: 16 bits for IPv4, 32 bits for IPv6.
    pub id: u32,
    /// IP protocol of the datagram's payload.
    pub protocol: u8,
    /// True once the fragment at offset 0 was seen.
    pub first_seen: bool,
    /// The flow the datagram's later fragments count into, if its first fragment
    /// was counted into one.
    pub flow: Option<FragmentFlowSnapshot>,
    /// Later fragments waiting for the first one, in arrival order.
    pub waiting: Vec<WaitingFragment>,
    /// A first fragment too short for its transport header, waiting for the fragment
    /// that completes it. The flow cache saves it from version 3 on.
    pub tiny_first: Option<TinyFirstFragment>,
    /// Payload bytes of every fragment seen so far.
    pub received: u32,
    /// Payload length of the whole datagram, once its last fragment was seen.
    pub total: Option<u32>,
}

/// The flow a fragmented datagram counts into, as saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentFlowSnapshot {
    /// Serial number of the flow. A flow that is not in the snapshot has ended, and
    /// the datagram's later fragments are then unattributed.
    pub serial: u64,
    /// True if the fragments were sent by the endpoint whose address and port sort
    /// first in the flow key.
    pub from_a: bool,
    /// Offset in the datagram's payload where the transport header ends when it runs
    /// past the first fragment, else 0. The flow cache saves it from version 3 on.
    pub header_end: u32,
    /// For a TCP segment, the sequence number that offset 0 of the datagram's
    /// payload would have, which places later fragments in the stream. The
    /// flow cache saves it from version 4 on, and restoring ignores it for a
    /// flow that is not TCP.
    pub stream_base: Option<u32>,
}

/// The way a TCP connection was closed, as saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseState {
    /// Still open (always the case for UDP and other flows).
    Open,
    /// Both sides sent a FIN.
    Fin,
    /// A RST was seen.
    Rst,
}

/// One side of a saved flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideSnapshot {
    /// IP address.
    pub ip: IpAddr,
    /// Port, or 0 for protocols without ports.
    pub port: u16,
    /// MAC address, if seen.
    pub mac: Option<MacAddr>,
    /// True if `mac` came from a packet this side sent, false if from a packet
    /// sent to it.
    pub mac_from_own_packet: bool,
    /// The traffic this side sent: packets, bytes, payload bytes and IP bytes.
    /// The counters from sequence numbers are kept in `stream` instead and are
    /// zero here.
    pub counters: Counters,
    /// Base for relative sequence numbers, if known.
    pub isn: Option<u32>,
    /// True if `isn` was derived from the other side's acknowledgment number
    /// rather than from a segment this side sent.
    pub isn_from_peer_ack: bool,
    /// True once this side sent a FIN.
    pub fin: bool,
    /// TCP state of this side, from the flags it sent.
    pub state: EndpointState,
    /// Sequence state of this side's stream, once it sent payload or a zero
    /// window.
    pub stream: Option<StreamState>,
}

/// One saved flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowSnapshot {
    /// IP protocol number.
    pub protocol: u8,
    /// VLAN IDs in the flow key (zeros when VLANs are left out of the key).
    pub key_vlans: [u16; 2],
    /// VLAN tags of the flow's first packet, as reported.
    pub vlans: Vlans,
    /// The client side.
    pub client: SideSnapshot,
    /// The server side.
    pub server: SideSnapshot,
    /// Earliest packet time.
    pub first_ts: Timestamp,
    /// Latest packet time.
    pub last_ts: Timestamp,
    /// Capture-clock time of the latest packet, which drives the timeouts.
    pub touched: Timestamp,
    /// Order of creation.
    pub serial: u64,
    /// True if no handshake was seen.
    pub midstream: bool,
    /// True if the client's SYN was seen.
    pub syn_seen: bool,
    /// The way the connection was closed.
    pub closed: CloseState,
    /// History letters so far.
    pub history: History,
    /// The tunnel of the flow's first packet.
    pub tunnel: Option<TunnelInfo>,
    /// ICMP message of the flow's first packet, for ICMP flows.
    pub icmp: Option<IcmpDetails>,
    /// Time of the flow's next interim record, if the tracker that saved it had
    /// one scheduled.
    pub interim_due: Option<Timestamp>,
}

/// The reason a snapshot cannot be restored.
///
/// The fields give positions from 0, and the messages number flows and
/// datagrams from 1, as a reader counts them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// A flow mixes an IPv4 and an IPv6 address.
    #[error("flow {} mixes IPv4 and IPv6 addresses ({client} and {server})", index + 1)]
    MixedAddressFamilies {
        /// Position of the flow in the snapshot.
        index: usize,
        /// Client address.
        client: IpAddr,
        /// Server address.
        server: IpAddr,
    },
    /// Two flows have the same key.
    #[error("flow {} repeats the key of an earlier flow", index + 1)]
    DuplicateFlow {
        /// Position of the flow in the snapshot.
        index: usize,
    },
    /// A flow left out of the table has the key of a flow after it, which a
    /// restorer that leaves out the flows it evicts at once finds only after
    /// adding the others.
    #[error("flow {} has the key of the later flow {}", index + 1, later + 1)]
    DuplicateOfLaterFlow {
        /// Position of the flow in the snapshot.
        index: usize,
        /// Position of the later flow with the same key.
        later: usize,
    },
    /// A flow's serial number is not below the snapshot's next serial number.
    #[error(
        "flow {} has serial number {serial}, not below the next serial number {next_serial}",
        index + 1
    )]
    BadSerial {
        /// Position of the flow in the snapshot.
        index: usize,
        /// The flow's serial number.
        serial: u64,
        /// The snapshot's next serial number.
        next_serial: u64,
    },
    /// A flow's latest packet time is before its first packet time, which no
    /// tracker saves: the first time is the minimum and the latest the maximum.
    #[error(
        "flow {} ends before it starts (its latest packet time is before its first)",
        index + 1
    )]
    EndsBeforeStart {
        /// Position of the flow in the snapshot.
        index: usize,
    },
    /// A datagram of the fragment table is invalid.
    #[error("fragment table entry {} {reason}", index + 1)]
    InvalidDatagram {
        /// Position of the datagram in the snapshot.
        index: usize,
        /// The problem found.
        reason: &'static str,
    },
}

impl FlowSnapshot {
    /// Builds the record this flow would be reported with now, for inspection
    /// tools that show cached flows without restoring a tracker.
    pub fn to_record(&self, end_reason: EndReason) -> FlowRecord {
        // The record does not depend on the order of the key, so the protocols
        // passed here do not matter.
        if let Ok(flow) = Flow::from_snapshot(0, self, RecordProtocols::TCP_ONLY) {
            return flow.to_record(end_reason);
        }
        // A flow mixing address families cannot be restored. Show its saved
        // fields as they are, with the state derived from them left at OTH.
        let endpoint = |side: &SideSnapshot| Endpoint {
            ip: side.ip,
            port: side.port,
            mac: side.mac,
        };
        FlowRecord {
            protocol: self.protocol,
            vlans: self.vlans,
            client: endpoint(&self.client),
            server: endpoint(&self.server),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            out: self.client.counters,
            inbound: self.server.counters,
            midstream: self.midstream,
            syn_seen: self.syn_seen,
            end_reason,
            state: crate::ConnState::OTH,
            history: self.history,
            tunnel: self.tunnel,
            icmp: self.icmp,
        }
    }
}

fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            bytes
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn side_snapshot(
    side: &Side,
    counters: PacketCounters,
    stream: Option<StreamState>,
    ip: IpAddr,
    port: u16,
) -> SideSnapshot {
    SideSnapshot {
        ip,
        port,
        mac: (side.mac_source != MacSource::None).then_some(side.mac),
        mac_from_own_packet: side.mac_source == MacSource::Own,
        counters: Counters {
            packets: counters.packets,
            bytes: counters.bytes,
            payload_bytes: counters.payload_bytes,
            ip_bytes: counters.ip_bytes,
            ..Counters::default()
        },
        isn: (side.isn_source != IsnSource::None).then_some(side.isn),
        isn_from_peer_ack: side.isn_source == IsnSource::PeerAck,
        fin: side.fin,
        state: side.state,
        stream,
    }
}

fn side_from(snapshot: &SideSnapshot) -> Side {
    let mac_source = match (snapshot.mac, snapshot.mac_from_own_packet) {
        (None, _) => MacSource::None,
        (Some(_), true) => MacSource::Own,
        (Some(_), false) => MacSource::Peer,
    };
    let isn_source = match (snapshot.isn, snapshot.isn_from_peer_ack) {
        (None, _) => IsnSource::None,
        (Some(_), true) => IsnSource::PeerAck,
        (Some(_), false) => IsnSource::Own,
    };
    Side {
        counters: LowCounters::default(),
        mac: snapshot.mac.unwrap_or_default(),
        mac_source,
        isn: snapshot.isn.unwrap_or(0),
        isn_source,
        fin: snapshot.fin,
        state: snapshot.state,
    }
}

impl Flow {
    /// Saves this flow as plain data.
    pub(crate) fn snapshot(&self) -> FlowSnapshot {
        let record = self.to_record(crate::EndReason::EndOfInput);
        let extra = self.extra.as_deref();
        let stream = |side: usize| extra.and_then(|extra| extra.streams[side]);
        FlowSnapshot {
            protocol: self.key.protocol,
            key_vlans: self.key.vlan_ids,
            vlans: self.vlans(),
            client: side_snapshot(
                &self.sides[CLIENT],
                self.packet_counters(CLIENT),
                stream(CLIENT),
                record.client.ip,
                record.client.port,
            ),
            server: side_snapshot(
                &self.sides[SERVER],
                self.packet_counters(SERVER),
                stream(SERVER),
                record.server.ip,
                record.server.port,
            ),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            touched: self.touched,
            serial: self.serial,
            midstream: self.midstream,
            syn_seen: self.syn_seen,
            closed: match self.closed {
                Closed::No => CloseState::Open,
                Closed::Fin => CloseState::Fin,
                Closed::Rst => CloseState::Rst,
            },
            history: self.history,
            tunnel: extra.and_then(|extra| extra.tunnel),
            icmp: extra.and_then(|extra| extra.icmp),
            interim_due: None,
        }
    }

    /// Rebuilds a flow from a snapshot, checking what a corrupt snapshot could break.
    /// `records` are the protocols with records, which decide how an ICMP flow is
    /// keyed, as in [`PacketKey::of`](crate::key::PacketKey::of).
    pub(crate) fn from_snapshot(
        index: usize,
        snapshot: &FlowSnapshot,
        records: RecordProtocols,
    ) -> Result<Flow, RestoreError> {
        let (client, server) = (&snapshot.client, &snapshot.server);
        if snapshot.last_ts < snapshot.first_ts {
            return Err(RestoreError::EndsBeforeStart { index });
        }
        if client.ip.is_ipv6() != server.ip.is_ipv6() {
            return Err(RestoreError::MixedAddressFamilies {
                index,
                client: client.ip,
                server: server.ip,
            });
        }
        let client_end = (addr_bytes(client.ip), client.port);
        let server_end = (addr_bytes(server.ip), server.port);
        // A one-way ICMP message keeps its sender, the client, first.
        let one_way = records.icmp && snapshot.icmp.is_some_and(|icmp| icmp.echo_id.is_none());
        let client_is_a = one_way || client_end <= server_end;
        let (a, b) = if client_is_a {
            (client_end, server_end)
        } else {
            (server_end, client_end)
        };
        let key = FlowKey {
            addr_a: a.0,
            addr_b: b.0,
            port_a: a.1,
            port_b: b.1,
            vlan_ids: snapshot.key_vlans,
            protocol: snapshot.protocol,
            v6: client.ip.is_ipv6(),
        };
        let mut flow = Flow {
            key,
            client_is_a,
            sides: [side_from(client), side_from(server)],
            vlan_count: 0,
            first_ts: snapshot.first_ts,
            last_ts: snapshot.last_ts,
            touched: snapshot.touched,
            serial: snapshot.serial,
            queue: crate::table::QueueId::Tcp,
            midstream: snapshot.midstream,
            syn_seen: snapshot.syn_seen,
            closed: match snapshot.closed {
                CloseState::Open => Closed::No,
                CloseState::Fin => Closed::Fin,
                CloseState::Rst => Closed::Rst,
            },
            history: snapshot.history,
            extra: extra_from(snapshot),
        };
        flow.set_vlans(snapshot.vlans);
        for (side, saved) in [(CLIENT, client), (SERVER, server)] {
            let counters = PacketCounters {
                packets: saved.counters.packets,
                bytes: saved.counters.bytes,
                payload_bytes: saved.counters.payload_bytes,
                ip_bytes: saved.counters.ip_bytes,
            };
            flow.set_packet_counters(side, counters);
        }
        Ok(flow)
    }
}

/// Rebuilds the out-of-line state of a flow, or `None` if the flow needs none.
fn extra_from(snapshot: &FlowSnapshot) -> Option<Box<FlowExtra>> {
    // Without streams, tunnel or ICMP details the result is `None`, because the
    // other fields start at their defaults, so skip building and comparing one.
    // `set_vlans` and `set_packet_counters` add the rest later where needed.
    let (client, server) = (&snapshot.client, &snapshot.server);
    if client.stream.is_none()
        && server.stream.is_none()
        && snapshot.tunnel.is_none()
        && snapshot.icmp.is_none()
    {
        return None;
    }
    let extra = FlowExtra {
        streams: [snapshot.client.stream, snapshot.server.stream],
        tunnel: snapshot.tunnel,
        icmp: snapshot.icmp,
        counters_high: [[0; 4]; 2],
        vlans: None,
    };
    (extra != FlowExtra::default()).then(|| Box::new(extra))
}
