//! The summary of one cache file, added up flow by flow as the file is decoded,
//! then written as a text block or as one JSON object.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::IpAddr;

use flowcache::filter::{has_ports, protocol_name, FlowFilter, FlowState};
use serde::Serialize;
use wsd_capture::Timestamp;
use wsd_flow::{DatagramSnapshot, FlowSnapshot};
use wsd_flowcache::FlowCache;
use wsd_logfmt::LocalTimeFormatter;

use crate::json::write_json_line;
use crate::text::{epoch_text, local_text};

/// Number of entries in each top list.
const TOP_COUNT: usize = 10;

/// One IP address and its traffic, as the top list shows it.
#[derive(Clone, Copy, Debug, Serialize)]
struct Talker {
    ip: IpAddr,
    #[serde(flatten)]
    traffic: Traffic,
}

/// Bytes and flows of one IP address, over every flow it is a side of. The
/// summary's table maps each address to it, so it leaves the address out.
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct Traffic {
    /// Bytes of its flows in both directions: the bytes it sent plus the bytes
    /// it received, except that a flow with itself counts once.
    bytes: u64,
    bytes_sent: u64,
    bytes_received: u64,
    flows: u64,
}

/// Flows to one server port of one protocol.
#[derive(Clone, Debug, Serialize)]
struct ServerPort {
    protocol: String,
    port: u16,
    flows: u64,
}

/// Numbers of flows by state.
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct StateCounts {
    open: u64,
    fin: u64,
    rst: u64,
}

impl StateCounts {
    fn add(&mut self, state: FlowState) {
        match state {
            FlowState::Open => self.open += 1,
            FlowState::Fin => self.fin += 1,
            FlowState::Rst => self.rst += 1,
        }
    }

    fn get(&self, state: FlowState) -> u64 {
        match state {
            FlowState::Open => self.open,
            FlowState::Fin => self.fin,
            FlowState::Rst => self.rst,
        }
    }
}

/// The figures of one cache file, over the flows that pass the filter, added up
/// one flow at a time. Its memory grows with the distinct addresses and server
/// ports of those flows, not with their number.
pub struct Summary {
    filter: FlowFilter,
    flows: u64,
    flows_in_file: u64,
    by_state: StateCounts,
    by_protocol: BTreeMap<u8, u64>,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
    talkers: HashMap<IpAddr, Traffic>,
    /// Flows by protocol number and server port.
    server_ports: HashMap<(u8, u16), u64>,
}

impl Summary {
    /// Creates an empty summary of the flows that pass `filter`.
    pub fn new(filter: FlowFilter) -> Summary {
        Summary {
            filter,
            flows: 0,
            flows_in_file: 0,
            by_state: StateCounts::default(),
            by_protocol: BTreeMap::new(),
            first_ts: None,
            last_ts: None,
            talkers: HashMap::new(),
            server_ports: HashMap::new(),
        }
    }

    /// Adds the next flow of the file, which counts in the figures if it passes
    /// the filter.
    pub fn add(&mut self, flow: &FlowSnapshot) {
        self.flows_in_file += 1;
        if !self.filter.matches(flow) {
            return;
        }
        self.count(flow);
        add_talkers(&mut self.talkers, flow);
        if has_ports(flow.protocol) {
            let port = (flow.protocol, flow.server.port);
            *self.server_ports.entry(port).or_default() += 1;
        }
    }

    fn count(&mut self, flow: &FlowSnapshot) {
        self.flows += 1;
        self.by_state.add(FlowState::of(flow));
        *self.by_protocol.entry(flow.protocol).or_default() += 1;
        self.first_ts = Some(
            self.first_ts
                .map_or(flow.first_ts, |ts| ts.min(flow.first_ts)),
        );
        self.last_ts = Some(self.last_ts.map_or(flow.last_ts, |ts| ts.max(flow.last_ts)));
    }
}

/// Adds the bytes of `flow` to both of its addresses. A flow between an address
/// and itself counts once, with every byte both sent and received.
fn add_talkers(talkers: &mut HashMap<IpAddr, Traffic>, flow: &FlowSnapshot) {
    let (client, server) = (&flow.client, &flow.server);
    let total = client.counters.bytes.saturating_add(server.counters.bytes);
    if client.ip == server.ip {
        add_talker(talkers, client.ip, total, total, total);
        return;
    }
    let (to_server, to_client) = (client.counters.bytes, server.counters.bytes);
    add_talker(talkers, client.ip, total, to_server, to_client);
    add_talker(talkers, server.ip, total, to_client, to_server);
}

fn add_talker(
    talkers: &mut HashMap<IpAddr, Traffic>,
    ip: IpAddr,
    bytes: u64,
    sent: u64,
    received: u64,
) {
    let talker = talkers.entry(ip).or_default();
    talker.bytes = talker.bytes.saturating_add(bytes);
    talker.bytes_sent = talker.bytes_sent.saturating_add(sent);
    talker.bytes_received = talker.bytes_received.saturating_add(received);
    talker.flows += 1;
}

/// Returns the talkers with the most bytes, ties broken by address.
fn top_talkers(talkers: &HashMap<IpAddr, Traffic>) -> Vec<Talker> {
    let talkers = talkers.iter().map(|(&ip, &traffic)| Talker { ip, traffic });
    top_of(talkers, |a, b| {
        b.traffic.bytes.cmp(&a.traffic.bytes).then(a.ip.cmp(&b.ip))
    })
}

/// Returns the server ports with the most flows, ties broken by protocol number
/// and port.
fn top_server_ports(ports: &HashMap<(u8, u16), u64>) -> Vec<ServerPort> {
    let ports = ports.iter().map(|(&key, &flows)| (key, flows));
    top_of(ports, |a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)))
        .into_iter()
        .map(|((protocol, port), flows)| ServerPort {
            protocol: protocol_name(protocol),
            port,
            flows,
        })
        .collect()
}

/// Returns the first `TOP_COUNT` of `items` in the order `order`, as sorting
/// them all and keeping the first would, but without a copy of every item.
/// `order` must rank no two items as equal, or ties come out in any order.
fn top_of<T>(items: impl Iterator<Item = T>, order: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut top: Vec<T> = Vec::with_capacity(TOP_COUNT + 1);
    for item in items {
        if top.len() == TOP_COUNT && order(&item, &top[TOP_COUNT - 1]).is_ge() {
            continue;
        }
        let at = top.partition_point(|kept| order(kept, &item).is_lt());
        top.insert(at, item);
        top.truncate(TOP_COUNT);
    }
    top
}

/// Writes `summary`, of the flows of `cache`, as a text block.
pub fn write_text(
    out: &mut impl Write,
    file: &str,
    cache: &FlowCache,
    summary: &Summary,
    clock: &mut LocalTimeFormatter,
) -> io::Result<()> {
    let mut time = |ts: Option<Timestamp>| match ts {
        Some(ts) => format!("{} ({})", local_text(clock, ts), epoch_text(ts)),
        None => "none".to_string(),
    };

    writeln!(out, "file:           {file}")?;
    writeln!(
        out,
        "writer:         {} (format version {})",
        cache.writer, cache.version
    )?;
    writeln!(out, "capture clock:  {}", time(cache.snapshot.clock))?;
    if summary.filter.is_empty() {
        writeln!(out, "flows:          {}", summary.flows)?;
    } else {
        writeln!(
            out,
            "flows:          {} matching the filters, of {} in the file",
            summary.flows, summary.flows_in_file
        )?;
    }
    writeln!(out, "  by state:     {}", state_counts_text(summary))?;
    writeln!(out, "  by protocol:  {}", protocol_counts_text(summary))?;
    writeln!(out, "first packet:   {}", time(summary.first_ts))?;
    writeln!(out, "last packet:    {}", time(summary.last_ts))?;
    let fragments = &cache.snapshot.fragments;
    writeln!(
        out,
        "fragment table: {} ({} with a first fragment too short for its transport header)",
        count_text(fragments.len(), "datagram"),
        tiny_first_count(fragments)
    )?;
    write_talkers_text(out, &top_talkers(&summary.talkers))?;
    write_ports_text(out, &top_server_ports(&summary.server_ports))
}

fn state_counts_text(summary: &Summary) -> String {
    let counts: Vec<String> = FlowState::ALL
        .iter()
        .map(|&state| format!("{}: {}", state.name(), summary.by_state.get(state)))
        .collect();
    counts.join(", ")
}

fn protocol_counts_text(summary: &Summary) -> String {
    if summary.by_protocol.is_empty() {
        return "none".to_string();
    }
    let counts: Vec<String> = summary
        .by_protocol
        .iter()
        .map(|(&protocol, count)| format!("{}: {count}", protocol_label(protocol)))
        .collect();
    counts.join(", ")
}

/// Returns the protocol's name, or `protocol N` for one without a name, so that
/// a bare number never reads as a count.
fn protocol_label(protocol: u8) -> String {
    let name = protocol_name(protocol);
    if name.bytes().all(|byte| byte.is_ascii_digit()) {
        format!("protocol {name}")
    } else {
        name
    }
}

fn write_talkers_text(out: &mut impl Write, talkers: &[Talker]) -> io::Result<()> {
    writeln!(out, "top talkers (IP by bytes sent and received):")?;
    if talkers.is_empty() {
        return writeln!(out, "  none");
    }
    let ip_width = talkers
        .iter()
        .map(|talker| talker.ip.to_string().len())
        .max()
        .unwrap_or(0);
    let bytes_width = talkers
        .iter()
        .map(|talker| talker.traffic.bytes.to_string().len())
        .max()
        .unwrap_or(0);
    for talker in talkers {
        writeln!(
            out,
            "  {:<ip_width$}  {:>bytes_width$} bytes (sent {}, received {}) in {}",
            talker.ip.to_string(),
            talker.traffic.bytes,
            talker.traffic.bytes_sent,
            talker.traffic.bytes_received,
            flows_text(talker.traffic.flows)
        )?;
    }
    Ok(())
}

fn write_ports_text(out: &mut impl Write, ports: &[ServerPort]) -> io::Result<()> {
    writeln!(out, "top server ports (by flows):")?;
    if ports.is_empty() {
        return writeln!(out, "  none");
    }
    let names: Vec<String> = ports
        .iter()
        .map(|port| format!("{}/{}", port.port, port.protocol))
        .collect();
    let name_width = names.iter().map(String::len).max().unwrap_or(0);
    for (name, port) in names.iter().zip(ports) {
        writeln!(out, "  {name:<name_width$}  {}", flows_text(port.flows))?;
    }
    Ok(())
}

/// Returns `1 flow` or `N flows`.
fn flows_text(flows: u64) -> String {
    if flows == 1 {
        "1 flow".to_string()
    } else {
        format!("{flows} flows")
    }
}

/// Returns the number of datagrams with a waiting tiny first fragment.
fn tiny_first_count(fragments: &[DatagramSnapshot]) -> usize {
    fragments
        .iter()
        .filter(|datagram| datagram.tiny_first.is_some())
        .count()
}

/// `1 datagram`, `2 datagrams`.
fn count_text(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The summary of one file as a JSON object.
#[derive(Serialize)]
struct SummaryJson<'a> {
    file: &'a str,
    writer: &'a str,
    format_version: u32,
    clock_ts: Option<String>,
    clock_local: Option<String>,
    next_serial: u64,
    /// Flows that pass the filters.
    flows: u64,
    /// Every flow in the file.
    flows_in_file: u64,
    by_state: StateCounts,
    by_protocol: BTreeMap<String, u64>,
    first_ts: Option<String>,
    first_local: Option<String>,
    last_ts: Option<String>,
    last_local: Option<String>,
    top_talkers: Vec<Talker>,
    top_server_ports: Vec<ServerPort>,
    /// Datagrams in the IP fragment table, whatever the filters.
    fragment_datagrams: usize,
    /// Datagrams whose first fragment, too short for its transport header, waits
    /// for the fragment after it.
    tiny_first_fragments: usize,
}

/// Writes `summary`, of the flows of `cache`, as one JSON object and a newline.
pub fn write_json(
    out: &mut impl Write,
    file: &str,
    cache: &FlowCache,
    summary: &Summary,
    clock: &mut LocalTimeFormatter,
) -> io::Result<()> {
    let clock_ts = cache.snapshot.clock;
    let json = SummaryJson {
        file,
        writer: &cache.writer,
        format_version: cache.version,
        clock_ts: clock_ts.map(epoch_text),
        clock_local: clock_ts.map(|ts| local_text(clock, ts)),
        next_serial: cache.snapshot.next_serial,
        flows: summary.flows,
        flows_in_file: summary.flows_in_file,
        by_state: summary.by_state,
        by_protocol: summary
            .by_protocol
            .iter()
            .map(|(&protocol, &count)| (protocol_name(protocol), count))
            .collect(),
        first_ts: summary.first_ts.map(epoch_text),
        first_local: summary.first_ts.map(|ts| local_text(clock, ts)),
        last_ts: summary.last_ts.map(epoch_text),
        last_local: summary.last_ts.map(|ts| local_text(clock, ts)),
        top_talkers: top_talkers(&summary.talkers),
        top_server_ports: top_server_ports(&summary.server_ports),
        fragment_datagrams: cache.snapshot.fragments.len(),
        tiny_first_fragments: tiny_first_count(&cache.snapshot.fragments),
    };
    write_json_line(out, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorts `items` by `order` and keeps the first `TOP_COUNT`.
    fn sorted_top(
        mut items: Vec<(u64, u32)>,
        order: fn(&(u64, u32), &(u64, u32)) -> Ordering,
    ) -> Vec<(u64, u32)> {
        items.sort_by(order);
        items.truncate(TOP_COUNT);
        items
    }

    #[test]
    fn top_of_matches_full_sort() {
        // Most bytes first, ties broken by the unique second field.
        let order = |a: &(u64, u32), b: &(u64, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        for len in [0, 1, 9, 10, 11, 100, 1000] {
            // Multiplying by an odd constant scatters the counts, and the
            // remainder by 37 repeats them, so ties are broken by the second field.
            let items: Vec<(u64, u32)> = (0..len)
                .map(|n: u32| (u64::from(n.wrapping_mul(2_654_435_761) % 37), n))
                .collect();
            let top = top_of(items.iter().copied(), order);
            assert_eq!(top, sorted_top(items.clone(), order), "{len} items");
            let reversed = top_of(items.iter().rev().copied(), order);
            assert_eq!(reversed, top, "{len} items in reverse");
        }
    }
}
