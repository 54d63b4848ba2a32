//! Counts the TCP flows to each server port in one or more capture files.
//!
//! ```text
//! cargo run -p wsd-examples --example flows_per_port -- capture.pcap [more.pcapng ...]
//! ```
//!
//! The files are read in order as one stream, as `wsd -r a -r b` reads them. The
//! output has one line per server port, with the most flows first. For the two
//! captures `fixtures/captures/lossy.pcap` and `fixtures/captures/port_reuse.pcap`:
//!
//! ```text
//! port      flows
//! 80/tcp    2
//! 443/tcp   2
//! 22/tcp    1
//! 25/tcp    1
//! 8080/tcp  1
//! ```

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::error::Error;
use std::io::Write;
use std::path::PathBuf;

use wsd_capture::{FileSource, PacketSource};
use wsd_flow::{Tracker, TrackerConfig};

fn main() -> Result<(), Box<dyn Error>> {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        return Err("usage: flows_per_port CAPTURE...".into());
    }

    // The default configuration reports TCP connections only, as wsd does.
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut flows_per_port: HashMap<u16, u64> = HashMap::new();

    for path in &paths {
        let mut source = FileSource::open(path)?;
        while let Some(packet) = source.next_packet()? {
            let decoded = wsd_decode::decode(packet.linktype, packet.data);
            tracker.process(packet.ts, &decoded);
            for record in tracker.drain_finished() {
                *flows_per_port.entry(record.server.port).or_default() += 1;
            }
        }
    }

    // Connections still open at the end of the input are flows too.
    tracker.finish();
    for record in tracker.drain_finished() {
        *flows_per_port.entry(record.server.port).or_default() += 1;
    }

    let mut ports: Vec<(u16, u64)> = flows_per_port.into_iter().collect();
    ports.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<9} flows", "port")?;
    for (port, flows) in ports {
        writeln!(out, "{:<9} {flows}", format!("{port}/tcp"))?;
    }
    Ok(())
}
