//! Version 2 of the record encoding: version 1 plus the TCP endpoint states,
//! the sequence state of each stream, the history, and the tunnel and ICMP
//! details of a flow, and the IP fragment table after the flows. Once released,
//! these types never change.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use wsd_capture::Timestamp;
use wsd_decode::{FragmentHead, MacAddr, TunnelInfo, TunnelKind, Vlans};
use wsd_flow::{
    CloseState, Counters, DatagramSnapshot, EndpointState, FlowSnapshot, FragmentFlowSnapshot,
    History, IcmpDetails, SeqRange, SideSnapshot, StreamState, WaitingFragment, MAX_HOLES,
};

pub use crate::v1::Header;
use crate::v1::Ip;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stream {
    pub next_seq: u32,
    pub stream_bytes: u64,
    pub dropped_hole_bytes: u64,
    /// Open holes as (start, end) sequence numbers, lowest first.
    pub holes: Vec<(u32, u32)>,
    pub retransmitted_packets: u64,
    pub retransmitted_bytes: u64,
    pub gaps: u64,
    pub zero_windows: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Side {
    pub ip: Ip,
    pub port: u16,
    pub mac: Option<[u8; 6]>,
    pub mac_from_own_packet: bool,
    pub packets: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub ip_bytes: u64,
    pub isn: Option<u32>,
    pub isn_from_peer_ack: bool,
    pub fin: bool,
    /// 0 inactive, 1 SYN sent, 2 SYN-ACK sent, 3 partial, 4 established,
    /// 5 closed, 6 reset.
    pub state: u8,
    pub stream: Option<Stream>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tunnel {
    /// The kind's stable name, such as `vxlan` (`TunnelKind::name`).
    pub kind: String,
    pub src: Ip,
    pub dst: Ip,
    pub id: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Icmp {
    pub icmp_type: u8,
    pub code: u8,
    pub echo_id: Option<u16>,
    pub v6: bool,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flow {
    pub protocol: u8,
    pub key_vlans: [u16; 2],
    pub vlan_ids: [u16; 2],
    pub vlan_count: u8,
    pub client: Side,
    pub server: Side,
    pub first_ts: i64,
    pub last_ts: i64,
    pub touched: i64,
    pub serial: u64,
    pub midstream: bool,
    pub syn_seen: bool,
    /// 0 open, 1 closed by FINs, 2 closed by a RST.
    pub closed: u8,
    /// History letters, ASCII.
    pub history: String,
    pub tunnel: Option<Tunnel>,
    pub icmp: Option<Icmp>,
    /// Nanoseconds since the epoch.
    pub interim_due: Option<i64>,
}

/// A later fragment waiting for its datagram's first fragment.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Waiting {
    /// Nanoseconds since the epoch.
    pub ts: i64,
    pub ip_len: u32,
    pub data_len: u32,
}

/// The flow a datagram's later fragments count into.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FragmentFlow {
    pub serial: u64,
    pub from_a: bool,
}

/// A datagram of the IP fragment table.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Datagram {
    /// Nanoseconds since the epoch.
    pub created: i64,
    pub src: Ip,
    pub dst: Ip,
    pub id: u32,
    pub protocol: u8,
    pub first_seen: bool,
    pub flow: Option<FragmentFlow>,
    pub waiting: Vec<Waiting>,
    pub received: u32,
    pub total: Option<u32>,
}

impl From<&DatagramSnapshot> for Datagram {
    fn from(datagram: &DatagramSnapshot) -> Datagram {
        Datagram {
            created: datagram.created.as_nanos(),
            src: ip_of(datagram.src),
            dst: ip_of(datagram.dst),
            id: datagram.id,
            protocol: datagram.protocol,
            first_seen: datagram.first_seen,
            flow: datagram.flow.map(|flow| FragmentFlow {
                serial: flow.serial,
                from_a: flow.from_a,
            }),
            waiting: datagram
                .waiting
                .iter()
                .map(|fragment| Waiting {
                    ts: fragment.ts.as_nanos(),
                    ip_len: fragment.ip_len,
                    data_len: fragment.data_len,
                })
                .collect(),
            received: datagram.received,
            total: datagram.total,
        }
    }
}

impl Datagram {
    /// Converts to the tracker's snapshot.
    pub fn to_snapshot(&self) -> DatagramSnapshot {
        DatagramSnapshot {
            created: Timestamp::from_nanos(self.created),
            src: addr_of(&self.src),
            dst: addr_of(&self.dst),
            id: self.id,
            protocol: self.protocol,
            first_seen: self.first_seen,
            flow: self.flow.as_ref().map(|flow| FragmentFlowSnapshot {
                serial: flow.serial,
                from_a: flow.from_a,
                header_end: 0,
            }),
            waiting: self
                .waiting
                .iter()
                .map(|fragment| WaitingFragment {
                    ts: Timestamp::from_nanos(fragment.ts),
                    ip_len: fragment.ip_len,
                    data_len: fragment.data_len,
                    // Version 2 kept no offset or head, which only joining a tiny
                    // first fragment reads, and version 2 writers kept no such
                    // fragment.
                    offset: 0,
                    head: FragmentHead::default(),
                })
                .collect(),
            tiny_first: None,
            received: self.received,
            total: self.total,
        }
    }
}

const STATES: [EndpointState; 7] = [
    EndpointState::Inactive,
    EndpointState::SynSent,
    EndpointState::SynAckSent,
    EndpointState::Partial,
    EndpointState::Established,
    EndpointState::Closed,
    EndpointState::Reset,
];

pub(crate) const TUNNEL_KINDS: [TunnelKind; 6] = [
    TunnelKind::Gre,
    TunnelKind::Erspan,
    TunnelKind::Vxlan,
    TunnelKind::Geneve,
    TunnelKind::IpInIp,
    TunnelKind::Teredo,
];

pub(crate) fn ip_of(ip: IpAddr) -> Ip {
    match ip {
        IpAddr::V4(v4) => Ip::V4(v4.octets()),
        IpAddr::V6(v6) => Ip::V6(v6.octets()),
    }
}

pub(crate) fn addr_of(ip: &Ip) -> IpAddr {
    match ip {
        Ip::V4(v4) => IpAddr::V4(Ipv4Addr::from(*v4)),
        Ip::V6(v6) => IpAddr::V6(Ipv6Addr::from(*v6)),
    }
}

impl From<&StreamState> for Stream {
    fn from(stream: &StreamState) -> Stream {
        let open = usize::from(stream.hole_count).min(MAX_HOLES);
        Stream {
            next_seq: stream.next_seq,
            stream_bytes: stream.stream_bytes,
            dropped_hole_bytes: stream.dropped_hole_bytes,
            holes: stream.holes[..open]
                .iter()
                .map(|hole| (hole.start, hole.end))
                .collect(),
            retransmitted_packets: stream.retransmitted_packets,
            retransmitted_bytes: stream.retransmitted_bytes,
            gaps: stream.gaps,
            zero_windows: stream.zero_windows,
        }
    }
}

impl Stream {
    fn to_state(&self) -> Result<StreamState, String> {
        if self.holes.len() > MAX_HOLES {
            return Err(format!(
                "{} holes in a stream, more than the maximum {MAX_HOLES}",
                self.holes.len()
            ));
        }
        let mut holes = [SeqRange::default(); MAX_HOLES];
        for (slot, &(start, end)) in holes.iter_mut().zip(&self.holes) {
            *slot = SeqRange { start, end };
        }
        Ok(StreamState {
            next_seq: self.next_seq,
            stream_bytes: self.stream_bytes,
            dropped_hole_bytes: self.dropped_hole_bytes,
            holes,
            hole_count: self.holes.len() as u8,
            retransmitted_packets: self.retransmitted_packets,
            retransmitted_bytes: self.retransmitted_bytes,
            gaps: self.gaps,
            zero_windows: self.zero_windows,
        })
    }
}

impl From<&SideSnapshot> for Side {
    fn from(side: &SideSnapshot) -> Side {
        Side {
            ip: ip_of(side.ip),
            port: side.port,
            mac: side.mac.map(|mac| mac.0),
            mac_from_own_packet: side.mac_from_own_packet,
            packets: side.counters.packets,
            bytes: side.counters.bytes,
            payload_bytes: side.counters.payload_bytes,
            ip_bytes: side.counters.ip_bytes,
            isn: side.isn,
            isn_from_peer_ack: side.isn_from_peer_ack,
            fin: side.fin,
            state: STATES
                .iter()
                .position(|&state| state == side.state)
                .unwrap_or(0) as u8,
            stream: side.stream.as_ref().map(Stream::from),
        }
    }
}

impl Side {
    fn to_snapshot(&self) -> Result<SideSnapshot, String> {
        let state = *STATES
            .get(usize::from(self.state))
            .ok_or_else(|| format!("unknown TCP endpoint state {}", self.state))?;
        let stream = self.stream.as_ref().map(Stream::to_state).transpose()?;
        Ok(SideSnapshot {
            ip: addr_of(&self.ip),
            port: self.port,
            mac: self.mac.map(MacAddr),
            mac_from_own_packet: self.mac_from_own_packet,
            counters: Counters {
                packets: self.packets,
                bytes: self.bytes,
                payload_bytes: self.payload_bytes,
                ip_bytes: self.ip_bytes,
                ..Counters::default()
            },
            isn: self.isn,
            isn_from_peer_ack: self.isn_from_peer_ack,
            fin: self.fin,
            state,
            stream,
        })
    }
}

impl From<&FlowSnapshot> for Flow {
    fn from(flow: &FlowSnapshot) -> Flow {
        Flow {
            protocol: flow.protocol,
            key_vlans: flow.key_vlans,
            vlan_ids: flow.vlans.ids,
            vlan_count: flow.vlans.count,
            client: Side::from(&flow.client),
            server: Side::from(&flow.server),
            first_ts: flow.first_ts.as_nanos(),
            last_ts: flow.last_ts.as_nanos(),
            touched: flow.touched.as_nanos(),
            serial: flow.serial,
            midstream: flow.midstream,
            syn_seen: flow.syn_seen,
            closed: match flow.closed {
                CloseState::Open => 0,
                CloseState::Fin => 1,
                CloseState::Rst => 2,
            },
            history: flow.history.as_str().to_string(),
            tunnel: flow.tunnel.map(|tunnel| Tunnel {
                kind: tunnel.kind.name().to_string(),
                src: ip_of(tunnel.src),
                dst: ip_of(tunnel.dst),
                id: tunnel.id,
            }),
            icmp: flow.icmp.map(|icmp| Icmp {
                icmp_type: icmp.icmp_type,
                code: icmp.code,
                echo_id: icmp.echo_id,
                v6: icmp.v6,
            }),
            interim_due: flow.interim_due.map(Timestamp::as_nanos),
        }
    }
}

impl Flow {
    /// Converts to the tracker's snapshot, or returns what is invalid.
    pub fn to_snapshot(&self) -> Result<FlowSnapshot, String> {
        let closed = match self.closed {
            0 => CloseState::Open,
            1 => CloseState::Fin,
            2 => CloseState::Rst,
            other => return Err(format!("unknown close state {other}")),
        };
        let mut history = History::EMPTY;
        for letter in self.history.bytes() {
            if !history.push(letter) {
                return Err(format!("invalid history {:?}", self.history));
            }
        }
        let tunnel = match &self.tunnel {
            None => None,
            Some(tunnel) => {
                let kind = TUNNEL_KINDS
                    .into_iter()
                    .find(|kind| kind.name() == tunnel.kind)
                    .ok_or_else(|| format!("unknown tunnel kind {:?}", tunnel.kind))?;
                Some(TunnelInfo {
                    kind,
                    src: addr_of(&tunnel.src),
                    dst: addr_of(&tunnel.dst),
                    id: tunnel.id,
                })
            }
        };
        Ok(FlowSnapshot {
            protocol: self.protocol,
            key_vlans: self.key_vlans,
            vlans: Vlans {
                ids: self.vlan_ids,
                count: self.vlan_count,
            },
            client: self.client.to_snapshot()?,
            server: self.server.to_snapshot()?,
            first_ts: Timestamp::from_nanos(self.first_ts),
            last_ts: Timestamp::from_nanos(self.last_ts),
            touched: Timestamp::from_nanos(self.touched),
            serial: self.serial,
            midstream: self.midstream,
            syn_seen: self.syn_seen,
            closed,
            history,
            tunnel,
            icmp: self.icmp.as_ref().map(|icmp| IcmpDetails {
                icmp_type: icmp.icmp_type,
                code: icmp.code,
                echo_id: icmp.echo_id,
                v6: icmp.v6,
            }),
            interim_due: self.interim_due.map(Timestamp::from_nanos),
        })
    }
}
