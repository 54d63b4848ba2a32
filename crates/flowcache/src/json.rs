//! The JSON listing: one object per cached flow, with every saved field.
//!
//! Times are strings, because a JSON number read as a 64-bit float keeps only
//! about 16 digits, too few for nanoseconds since the epoch.

use std::io::{self, Write};
use std::net::IpAddr;

use flowcache::filter::FlowState;
use serde::Serialize;
use wsd_flow::{FlowSnapshot, SideSnapshot};
use wsd_logfmt::LocalTimeFormatter;

use crate::text::{epoch_text, local_text};

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
}

impl SideJson {
    fn new(side: &SideSnapshot) -> SideJson {
        SideJson {
            ip: side.ip,
            port: side.port,
            mac: side.mac.map(|mac| mac.to_string()),
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

/// Writes `flow` of cache `file` as one JSON object and a newline.
pub fn write_flow(
    out: &mut impl Write,
    file: &str,
    flow: &FlowSnapshot,
    clock: &mut LocalTimeFormatter,
) -> io::Result<()> {
    let vlan_ids = usize::from(flow.vlans.count).min(flow.vlans.ids.len());
    let json = FlowJson {
        file,
        serial: flow.serial,
        protocol: flow.protocol,
        vlans: flow.vlans.ids[..vlan_ids].to_vec(),
        vlan_count: flow.vlans.count,
        key_vlans: flow.key_vlans,
        client: SideJson::new(&flow.client),
        server: SideJson::new(&flow.server),
        first_ts: epoch_text(flow.first_ts),
        first_local: local_text(clock, flow.first_ts),
        last_ts: epoch_text(flow.last_ts),
        last_local: local_text(clock, flow.last_ts),
        touched: epoch_text(flow.touched),
        midstream: flow.midstream,
        syn_seen: flow.syn_seen,
        state: FlowState::of(flow),
    };
    write_json_line(out, &json)
}

/// Writes `value` as compact JSON and a newline.
pub fn write_json_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")
}
