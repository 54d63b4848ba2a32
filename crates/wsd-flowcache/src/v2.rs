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

use crate::reader::Reader;
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
                stream_base: None,
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

// The two-step decoding that `read_flow` replaced: postcard into `Flow`, then a
// conversion. The tests keep it as the reference that `read_flow` must match.
#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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

/// Reads one version 2 flow record, laid out as [`Flow`], straight into the
/// tracker's snapshot.
///
/// It is meant to accept the same records as postcard decoding of [`Flow`]
/// followed by `Flow::to_snapshot`, and to return the same snapshot, while it
/// allocates nothing and runs a fraction of the instructions. A unit test
/// compares the two on sample records with every single-byte change. When a
/// record has several problems, the one reported may differ between the two.
pub fn read_flow(reader: &mut Reader<'_>) -> Result<FlowSnapshot, String> {
    let protocol = reader.u8()?;
    let key_vlans = [reader.u16()?, reader.u16()?];
    let vlan_ids = [reader.u16()?, reader.u16()?];
    let vlan_count = reader.u8()?;

    let client = read_side(reader)?;
    let server = read_side(reader)?;

    let first_ts = reader.i64()?;
    let last_ts = reader.i64()?;
    let touched = reader.i64()?;
    let serial = reader.u64()?;
    let midstream = reader.bool()?;
    let syn_seen = reader.bool()?;
    let closed = match reader.u8()? {
        0 => CloseState::Open,
        1 => CloseState::Fin,
        2 => CloseState::Rst,
        other => return Err(format!("unknown close state {other}")),
    };
    let history = read_history(reader)?;

    let tunnel = if reader.option()? {
        Some(read_tunnel(reader)?)
    } else {
        None
    };
    let icmp = if reader.option()? {
        Some(IcmpDetails {
            icmp_type: reader.u8()?,
            code: reader.u8()?,
            echo_id: if reader.option()? {
                Some(reader.u16()?)
            } else {
                None
            },
            v6: reader.bool()?,
        })
    } else {
        None
    };
    let interim_due = if reader.option()? {
        Some(Timestamp::from_nanos(reader.i64()?))
    } else {
        None
    };

    Ok(FlowSnapshot {
        protocol,
        key_vlans,
        vlans: Vlans {
            ids: vlan_ids,
            count: vlan_count,
        },
        client,
        server,
        first_ts: Timestamp::from_nanos(first_ts),
        last_ts: Timestamp::from_nanos(last_ts),
        touched: Timestamp::from_nanos(touched),
        serial,
        midstream,
        syn_seen,
        closed,
        history,
        tunnel,
        icmp,
        interim_due,
    })
}

/// Reads an [`Ip`]: a variant index, then 4 or 16 address bytes.
fn read_ip(reader: &mut Reader<'_>) -> Result<IpAddr, String> {
    match reader.u32()? {
        0 => Ok(IpAddr::V4(Ipv4Addr::from(reader.array::<4>()?))),
        1 => Ok(IpAddr::V6(Ipv6Addr::from(reader.array::<16>()?))),
        other => Err(format!("unknown address family variant {other}")),
    }
}

/// Reads a [`Side`].
fn read_side(reader: &mut Reader<'_>) -> Result<SideSnapshot, String> {
    let ip = read_ip(reader)?;
    let port = reader.u16()?;
    let mac = if reader.option()? {
        Some(MacAddr(reader.array::<6>()?))
    } else {
        None
    };
    let mac_from_own_packet = reader.bool()?;

    let counters = Counters {
        packets: reader.u64()?,
        bytes: reader.u64()?,
        payload_bytes: reader.u64()?,
        ip_bytes: reader.u64()?,
        ..Counters::default()
    };
    let isn = if reader.option()? {
        Some(reader.u32()?)
    } else {
        None
    };
    let isn_from_peer_ack = reader.bool()?;
    let fin = reader.bool()?;

    let state_code = reader.u8()?;
    let state = *STATES
        .get(usize::from(state_code))
        .ok_or_else(|| format!("unknown TCP endpoint state {state_code}"))?;
    let stream = if reader.option()? {
        Some(read_stream(reader)?)
    } else {
        None
    };

    Ok(SideSnapshot {
        ip,
        port,
        mac,
        mac_from_own_packet,
        counters,
        isn,
        isn_from_peer_ack,
        fin,
        state,
        stream,
    })
}

/// Reads a [`Stream`].
fn read_stream(reader: &mut Reader<'_>) -> Result<StreamState, String> {
    let next_seq = reader.u32()?;
    let stream_bytes = reader.u64()?;
    let dropped_hole_bytes = reader.u64()?;
    let hole_count = reader.length()?;
    if hole_count > MAX_HOLES as u64 {
        return Err(format!(
            "{hole_count} holes in a stream, more than the maximum {MAX_HOLES}"
        ));
    }
    let mut holes = [SeqRange::default(); MAX_HOLES];
    for hole in holes.iter_mut().take(hole_count as usize) {
        *hole = SeqRange {
            start: reader.u32()?,
            end: reader.u32()?,
        };
    }
    Ok(StreamState {
        next_seq,
        stream_bytes,
        dropped_hole_bytes,
        holes,
        hole_count: hole_count as u8,
        retransmitted_packets: reader.u64()?,
        retransmitted_bytes: reader.u64()?,
        gaps: reader.u64()?,
        zero_windows: reader.u64()?,
    })
}

/// Reads the history string, whose letters [`History::push`] checks.
fn read_history(reader: &mut Reader<'_>) -> Result<History, String> {
    let letters = reader.str()?;
    let mut history = History::EMPTY;
    for letter in letters.bytes() {
        if !history.push(letter) {
            return Err(format!("invalid history {letters:?}"));
        }
    }
    Ok(history)
}

/// Reads a [`Tunnel`].
fn read_tunnel(reader: &mut Reader<'_>) -> Result<TunnelInfo, String> {
    let name = reader.str()?;
    let src = read_ip(reader)?;
    let dst = read_ip(reader)?;
    let id = if reader.option()? {
        Some(reader.u32()?)
    } else {
        None
    };
    let kind = TUNNEL_KINDS
        .into_iter()
        .find(|kind| kind.name() == name)
        .ok_or_else(|| format!("unknown tunnel kind {name:?}"))?;
    Ok(TunnelInfo { kind, src, dst, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flows that together take every branch of [`read_flow`].
    fn sample_flows() -> Vec<FlowSnapshot> {
        let v4 = |last: u8| IpAddr::V4(Ipv4Addr::new(192, 0, 2, last));
        let v6 = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last));
        let stream = |holes: usize| {
            let mut ranges = [SeqRange::default(); MAX_HOLES];
            for (index, range) in ranges.iter_mut().take(holes).enumerate() {
                let start = 1000 * index as u32 + 70_000;
                *range = SeqRange {
                    start,
                    end: start + 300,
                };
            }
            StreamState {
                next_seq: u32::MAX - 5,
                stream_bytes: 1 << 40,
                dropped_hole_bytes: 129,
                holes: ranges,
                hole_count: holes as u8,
                retransmitted_packets: 3,
                retransmitted_bytes: 4_000,
                gaps: 200,
                zero_windows: 1,
            }
        };
        let side = |ip: IpAddr, seed: usize| SideSnapshot {
            ip,
            port: [0, 80, 443, 65_535][seed % 4],
            mac: (seed % 2 == 0).then_some(MacAddr([2, 0, 0, 0, 0, seed as u8])),
            mac_from_own_packet: seed % 3 == 0,
            counters: Counters {
                packets: seed as u64,
                bytes: 1 << (seed * 7),
                payload_bytes: 300,
                ip_bytes: u64::MAX - seed as u64,
                ..Counters::default()
            },
            isn: (seed % 3 != 1).then_some(0x8000_0000 + seed as u32),
            isn_from_peer_ack: seed % 2 == 1,
            fin: seed % 4 == 3,
            state: STATES[seed % STATES.len()],
            stream: (seed % 2 == 0).then(|| stream(seed % (MAX_HOLES + 1))),
        };
        let mut flows = Vec::new();
        for seed in 0..8 {
            let (client, server) = if seed % 3 == 2 {
                (v6(1), v6(seed as u16 + 300))
            } else {
                (v4(1), v4(seed as u8 + 2))
            };
            let mut history = History::EMPTY;
            for &letter in &b"ShADadFfTtGgWw^"[..seed * 2] {
                assert!(history.push(letter), "sample history too long");
            }
            flows.push(FlowSnapshot {
                protocol: [6, 17, 1, 58][seed % 4],
                key_vlans: [seed as u16 * 600, 0],
                vlans: Vlans {
                    ids: [seed as u16 * 600, 4095],
                    count: (seed % 3) as u8,
                },
                client: side(client, seed),
                server: side(server, seed + 1),
                first_ts: Timestamp::from_nanos(-5 + seed as i64),
                last_ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + seed as i64),
                touched: Timestamp::from_nanos(i64::MAX - seed as i64),
                serial: 1 << (seed * 9),
                midstream: seed % 2 == 0,
                syn_seen: seed % 2 == 1,
                closed: [CloseState::Open, CloseState::Fin, CloseState::Rst][seed % 3],
                history,
                tunnel: (seed % 2 == 1).then(|| TunnelInfo {
                    kind: TUNNEL_KINDS[seed % TUNNEL_KINDS.len()],
                    src: v4(10),
                    dst: if seed == 3 { v6(20) } else { v4(20) },
                    id: (seed != 5).then_some(0x00ff_ffff - seed as u32),
                }),
                icmp: (seed % 3 == 1).then_some(IcmpDetails {
                    icmp_type: 128,
                    code: seed as u8,
                    echo_id: (seed != 4).then_some(40_000),
                    v6: seed % 2 == 0,
                }),
                interim_due: (seed % 4 == 2).then(|| Timestamp::from_nanos(-1)),
            });
        }
        flows
    }

    /// Decodes `bytes` the two-step way, returning the snapshot and the bytes used.
    fn reference(bytes: &[u8]) -> Result<(FlowSnapshot, usize), String> {
        let (flow, rest) = postcard::take_from_bytes::<Flow>(bytes).map_err(|e| e.to_string())?;
        Ok((flow.to_snapshot()?, bytes.len() - rest.len()))
    }

    /// Decodes `bytes` with [`read_flow`], returning the snapshot and the bytes used.
    fn fast(bytes: &[u8]) -> Result<(FlowSnapshot, usize), String> {
        let mut reader = Reader::new(bytes, 0);
        let flow = read_flow(&mut reader)?;
        Ok((flow, reader.position()))
    }

    fn encoded(flow: &FlowSnapshot) -> Vec<u8> {
        postcard::to_stdvec(&Flow::from(flow)).expect("postcard encodes plain data")
    }

    #[test]
    fn read_flow_round_trips() {
        for flow in sample_flows() {
            let bytes = encoded(&flow);
            assert_eq!(fast(&bytes), Ok((flow, bytes.len())), "{flow:?}");
        }
    }

    #[test]
    fn read_flow_matches_postcard_on_damage() {
        let mut checked = 0;
        for flow in sample_flows() {
            let bytes = encoded(&flow);
            for len in 0..bytes.len() {
                assert!(
                    fast(&bytes[..len]).is_err(),
                    "{len} of {} bytes",
                    bytes.len()
                );
            }
            for position in 0..bytes.len() {
                let original = bytes[position];
                for byte in [
                    0,
                    1,
                    2,
                    3,
                    7,
                    0x7f,
                    0x80,
                    0xff,
                    original ^ 1,
                    original ^ 0x80,
                ] {
                    let mut damaged = bytes.clone();
                    damaged[position] = byte;
                    let expected = reference(&damaged);
                    let actual = fast(&damaged);
                    match expected {
                        Ok(expected) => {
                            assert_eq!(actual, Ok(expected), "byte {position} set to {byte:#04x}")
                        }
                        Err(err) => assert!(
                            actual.is_err(),
                            "byte {position} set to {byte:#04x}: postcard rejects it ({err})"
                        ),
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 5_000, "only {checked} damaged records checked");
    }
}
