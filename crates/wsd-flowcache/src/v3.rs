//! Version 3 of the record encoding: the header and flows of version 2,
//! unchanged, and a fragment table that also keeps what joining a first fragment
//! too short for its transport header needs. Each waiting fragment adds its
//! offset and leading bytes, and each datagram its waiting tiny first fragment
//! and where a transport header that runs past the first fragment ends. Once
//! released, these types never change.

use serde::{Deserialize, Serialize};
use wsd_capture::Timestamp;
use wsd_decode::{FragmentHead, MacAddr, TunnelInfo, Vlans, FRAGMENT_HEAD_LEN};
use wsd_flow::{DatagramSnapshot, FragmentFlowSnapshot, TinyFirstFragment, WaitingFragment};

use crate::v1::Ip;
use crate::v2::{addr_of, ip_of, Tunnel, TUNNEL_KINDS};

/// A later fragment waiting for its datagram's first fragment.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Waiting {
    /// Nanoseconds since the epoch.
    pub ts: i64,
    pub ip_len: u32,
    pub data_len: u32,
    /// Offset of the fragment's data in the datagram's payload, in bytes.
    pub offset: u16,
    /// The first bytes of the fragment's data, at most 16.
    pub head: Vec<u8>,
}

/// The flow a datagram's later fragments count into.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FragmentFlow {
    pub serial: u64,
    pub from_a: bool,
    /// Offset in the datagram's payload where the transport header ends when it
    /// runs past the first fragment, else 0.
    pub header_end: u32,
}

/// A first fragment too short for its transport header, waiting for the fragment
/// that completes it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TinyFirst {
    /// Nanoseconds since the epoch.
    pub ts: i64,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub vlan_ids: [u16; 2],
    pub vlan_count: u8,
    pub tunnel: Option<Tunnel>,
    pub protocol: u8,
    pub ip_len: u32,
    pub ip_header_len: u32,
    pub data_len: u32,
    /// The first bytes of the transport header, at most 16.
    pub head: Vec<u8>,
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
    pub tiny_first: Option<TinyFirst>,
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
                header_end: flow.header_end,
            }),
            waiting: datagram
                .waiting
                .iter()
                .map(|fragment| Waiting {
                    ts: fragment.ts.as_nanos(),
                    ip_len: fragment.ip_len,
                    data_len: fragment.data_len,
                    offset: fragment.offset,
                    head: fragment.head.as_bytes().to_vec(),
                })
                .collect(),
            tiny_first: datagram.tiny_first.as_ref().map(TinyFirst::from),
            received: datagram.received,
            total: datagram.total,
        }
    }
}

impl Datagram {
    /// Converts to the tracker's snapshot, or names the field that is invalid.
    pub fn to_snapshot(&self) -> Result<DatagramSnapshot, String> {
        let waiting = self
            .waiting
            .iter()
            .map(|fragment| {
                Ok(WaitingFragment {
                    ts: Timestamp::from_nanos(fragment.ts),
                    ip_len: fragment.ip_len,
                    data_len: fragment.data_len,
                    offset: fragment.offset,
                    head: head_of(&fragment.head)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let tiny_first = match &self.tiny_first {
            Some(tiny) => Some(tiny.to_snapshot()?),
            None => None,
        };
        Ok(DatagramSnapshot {
            created: Timestamp::from_nanos(self.created),
            src: addr_of(&self.src),
            dst: addr_of(&self.dst),
            id: self.id,
            protocol: self.protocol,
            first_seen: self.first_seen,
            flow: self.flow.as_ref().map(|flow| FragmentFlowSnapshot {
                serial: flow.serial,
                from_a: flow.from_a,
                header_end: flow.header_end,
                stream_base: None,
            }),
            waiting,
            tiny_first,
            received: self.received,
            total: self.total,
        })
    }
}

impl From<&TinyFirstFragment> for TinyFirst {
    fn from(tiny: &TinyFirstFragment) -> TinyFirst {
        TinyFirst {
            ts: tiny.ts.as_nanos(),
            src_mac: tiny.src_mac.map(|mac| mac.0),
            dst_mac: tiny.dst_mac.map(|mac| mac.0),
            vlan_ids: tiny.vlans.ids,
            vlan_count: tiny.vlans.count,
            tunnel: tiny.tunnel.map(|tunnel| Tunnel {
                kind: tunnel.kind.name().to_string(),
                src: ip_of(tunnel.src),
                dst: ip_of(tunnel.dst),
                id: tunnel.id,
            }),
            protocol: tiny.protocol,
            ip_len: tiny.ip_len,
            ip_header_len: tiny.ip_header_len,
            data_len: tiny.data_len,
            head: tiny.head.as_bytes().to_vec(),
        }
    }
}

impl TinyFirst {
    fn to_snapshot(&self) -> Result<TinyFirstFragment, String> {
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
        Ok(TinyFirstFragment {
            ts: Timestamp::from_nanos(self.ts),
            src_mac: self.src_mac.map(MacAddr),
            dst_mac: self.dst_mac.map(MacAddr),
            vlans: Vlans {
                ids: self.vlan_ids,
                count: self.vlan_count,
            },
            tunnel,
            protocol: self.protocol,
            ip_len: self.ip_len,
            ip_header_len: self.ip_header_len,
            data_len: self.data_len,
            head: head_of(&self.head)?,
        })
    }
}

/// Rebuilds a fragment head from its saved bytes.
fn head_of(bytes: &[u8]) -> Result<FragmentHead, String> {
    if bytes.len() > FRAGMENT_HEAD_LEN {
        return Err(format!(
            "a fragment head of {} bytes, more than the maximum {FRAGMENT_HEAD_LEN}",
            bytes.len()
        ));
    }
    Ok(FragmentHead::new(bytes))
}
