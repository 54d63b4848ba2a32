//! Version 1 of the record encoding, which this crate still reads. Once
//! released, these types never change: a change to what is stored is a new
//! version with types of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use wsd_capture::Timestamp;
use wsd_decode::{MacAddr, Vlans};
use wsd_flow::{CloseState, Counters, EndpointState, FlowSnapshot, History, SideSnapshot};

/// The header that follows the magic number and the format version.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    /// Name and version of the program that wrote the file, such as `wsd 0.1.0`.
    pub writer: String,
    /// The capture clock, in nanoseconds since the epoch, if any packet was seen.
    pub clock: Option<i64>,
    /// The creation number of the next new flow.
    pub next_serial: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
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
}

impl From<&Side> for SideSnapshot {
    fn from(side: &Side) -> SideSnapshot {
        SideSnapshot {
            ip: match side.ip {
                Ip::V4(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
                Ip::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
            },
            port: side.port,
            mac: side.mac.map(MacAddr),
            mac_from_own_packet: side.mac_from_own_packet,
            counters: Counters {
                packets: side.packets,
                bytes: side.bytes,
                payload_bytes: side.payload_bytes,
                ip_bytes: side.ip_bytes,
                ..Counters::default()
            },
            isn: side.isn,
            isn_from_peer_ack: side.isn_from_peer_ack,
            fin: side.fin,
            // Version 1 kept no TCP states and no sequence state: see
            // `migrate_states` and `docs/flow-cache-format.md`.
            state: EndpointState::Inactive,
            stream: None,
        }
    }
}

/// Sets the TCP endpoint states of a flow read from version 1, which did not
/// store them, from what it did store:
///
/// - a side that sent a FIN is closed, and a side that sent nothing is inactive;
/// - the client of a connection whose SYN was seen waits for the SYN-ACK until
///   the server sent a packet, and both sides are established after that;
/// - the sides of a connection picked up mid-stream are partial.
fn migrate_states(snapshot: &mut FlowSnapshot) {
    let handshake = snapshot.syn_seen;
    let server_sent = snapshot.server.counters.packets > 0;
    let state_of = |side: &SideSnapshot, client: bool| {
        if side.fin {
            EndpointState::Closed
        } else if side.counters.packets == 0 {
            EndpointState::Inactive
        } else if handshake && client && !server_sent {
            EndpointState::SynSent
        } else if handshake {
            EndpointState::Established
        } else {
            EndpointState::Partial
        }
    };
    snapshot.client.state = state_of(&snapshot.client, true);
    snapshot.server.state = state_of(&snapshot.server, false);
}

impl Flow {
    /// Converts to the tracker's snapshot, or `None` for an unknown close state.
    pub fn to_snapshot(&self) -> Option<FlowSnapshot> {
        let closed = match self.closed {
            0 => CloseState::Open,
            1 => CloseState::Fin,
            2 => CloseState::Rst,
            _ => return None,
        };
        let mut snapshot = FlowSnapshot {
            protocol: self.protocol,
            key_vlans: self.key_vlans,
            vlans: Vlans {
                ids: self.vlan_ids,
                count: self.vlan_count,
            },
            client: SideSnapshot::from(&self.client),
            server: SideSnapshot::from(&self.server),
            first_ts: Timestamp::from_nanos(self.first_ts),
            last_ts: Timestamp::from_nanos(self.last_ts),
            touched: Timestamp::from_nanos(self.touched),
            serial: self.serial,
            midstream: self.midstream,
            syn_seen: self.syn_seen,
            closed,
            history: History::EMPTY,
            tunnel: None,
            icmp: None,
            interim_due: None,
        };
        migrate_states(&mut snapshot);
        Some(snapshot)
    }
}
