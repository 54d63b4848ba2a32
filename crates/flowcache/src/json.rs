//! The JSON listing: one object per cached flow, with its saved fields except
//! the TCP sequence tracking and the time of the next interim record.
//!
//! Times are strings, because a JSON number read as a 64-bit float keeps only
//! about 16 digits, too few for nanoseconds since the epoch.

use std::io::{self, Write};
use std::net::IpAddr;

use flowcache::filter::FlowState;
use serde::Serialize;
use wsd_flow::{Counters, FlowSnapshot, SideSnapshot};
use wsd_logfmt::LocalTimeFormatter;

use crate::text::{epoch_text, local_text, record_of};

/// One flow as a JSON object.
#[derive(Serialize)]
struct FlowJson<'a> {
    /// The cache file the flow came from, as given on the command line.
    file: &'a str,
    serial: u64,
    protocol: u8,
    /// VLAN IDs of the flow's first packet, outermost first.
    vlans: Vec<u16>,
    /// Number of VLAN tags of the first packet, which may exceed the IDs kept.
    vlan_count: u8,
    /// VLAN IDs in the flow key, zeros when VLANs are not part of the key.
    key_vlans: [u16; 2],
    client: SideJson,
    server: SideJson,
    first_ts: String,
    first_local: String,
    last_ts: String,
    last_local: String,
    /// Capture-clock time of the latest packet, which drives the timeouts.
    touched: String,
    midstream: bool,
    syn_seen: bool,
    state: FlowState,
    /// Zeek's connection state if the input ended now, such as `S1`.
    conn_state: &'static str,
    /// History letters so far.
    history: String,
    /// The tunnel of the first packet: kind, outer addresses and identifier.
    tunnel: Option<TunnelJson>,
    /// ICMP type, code and echo identifier of the first packet.
    icmp: Option<IcmpJson>,
}

#[derive(Serialize)]
struct TunnelJson {
    kind: &'static str,
    src: IpAddr,
    dst: IpAddr,
    id: Option<u32>,
}

#[derive(Serialize)]
struct IcmpJson {
    icmp_type: u8,
    code: u8,
    echo_id: Option<u16>,
}

/// One side of a flow as a JSON object.
#[derive(Serialize)]
struct SideJson {
    ip: IpAddr,
    port: u16,
    mac: Option<String>,
    mac_from_own_packet: bool,
    packets: u64,
    bytes: u64,
    payload_bytes: u64,
    ip_bytes: u64,
    isn: Option<u32>,
    isn_from_peer_ack: bool,
    fin: bool,
    /// Stream bytes from sequence numbers, bytes missed and retransmissions.
    stream_bytes: u64,
    missed_bytes: u64,
    retransmitted_packets: u64,
    retransmitted_bytes: u64,
}

impl SideJson {
    fn new(side: &SideSnapshot, counters: &Counters) -> SideJson {
        SideJson {
            ip: side.ip,
            port: side.port,
            mac: side.mac.map(|mac| zero_padded_mac(mac.0)),
            mac_from_own_packet: side.mac_from_own_packet,
            packets: side.counters.packets,
            bytes: side.counters.bytes,
            payload_bytes: side.counters.payload_bytes,
            ip_bytes: side.counters.ip_bytes,
            isn: side.isn,
            isn_from_peer_ack: side.isn_from_peer_ack,
            fin: side.fin,
            stream_bytes: counters.stream_bytes,
            missed_bytes: counters.missed_bytes,
            retransmitted_packets: counters.retransmitted_packets,
            retransmitted_bytes: counters.retransmitted_bytes,
        }
    }
}

/// Writes `flow` of cache `file` as one JSON object and a newline.
pub fn write_flow(
    out: &mut impl Write,
    file: &str,
    flow: &FlowSnapshot,
    clock: &mut LocalTimeFormatter,
) -> io::Result<()> {
    let vlan_ids = usize::from(flow.vlans.count).min(flow.vlans.ids.len());
    let record = record_of(flow);
    let json = FlowJson {
        file,
        serial: flow.serial,
        protocol: flow.protocol,
        vlans: flow.vlans.ids[..vlan_ids].to_vec(),
        vlan_count: flow.vlans.count,
        key_vlans: flow.key_vlans,
        client: SideJson::new(&flow.client, &record.out),
        server: SideJson::new(&flow.server, &record.inbound),
        first_ts: epoch_text(flow.first_ts),
        first_local: local_text(clock, flow.first_ts),
        last_ts: epoch_text(flow.last_ts),
        last_local: local_text(clock, flow.last_ts),
        touched: epoch_text(flow.touched),
        midstream: flow.midstream,
        syn_seen: flow.syn_seen,
        state: FlowState::of(flow),
        conn_state: record.state.name(),
        history: record.history.as_str().to_string(),
        tunnel: record.tunnel.map(|tunnel| TunnelJson {
            kind: tunnel.kind.name(),
            src: tunnel.src,
            dst: tunnel.dst,
            id: tunnel.id,
        }),
        icmp: record.icmp.map(|icmp| IcmpJson {
            icmp_type: icmp.icmp_type,
            code: icmp.code,
            echo_id: icmp.echo_id,
        }),
    };
    write_json_line(out, &json)
}

/// Writes `value` as compact JSON and a newline.
pub fn write_json_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// Returns a MAC address as six zero-padded hex pairs, as `wsd --format json`
/// writes it, so that the two JSON outputs join on it.
fn zero_padded_mac(bytes: [u8; 6]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    pairs.join(":")
}
