//! Version 1 of the record encoding. Once released, these types never change:
//! a change to what is stored is a new version with types of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use wsd_capture::Timestamp;
use wsd_decode::{MacAddr, Vlans};
use wsd_flow::{CloseState, Counters, FlowSnapshot, SideSnapshot};

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

impl From<&SideSnapshot> for Side {
    fn from(side: &SideSnapshot) -> Side {
        Side {
            ip: match side.ip {
                IpAddr::V4(v4) => Ip::V4(v4.octets()),
                IpAddr::V6(v6) => Ip::V6(v6.octets()),
            },
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
        }
    }
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
        }
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
        }
    }
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
        Some(FlowSnapshot {
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
        })
    }
}
