//! Prints the flows saved in a flow cache, the file that `wsd -W FILE` writes.
//!
//! ```text
//! cargo run -p wsd-examples --example read_cache -- flows.cache
//! ```
//!
//! A header line names the file, then each flow gets one line: protocol, client
//! and server endpoints, packets and bytes each way, and whether the connection is
//! still open:
//!
//! ```text
//! flows.cache: written by wsd 0.1.0 in format version 3, flows: 1
//! tcp 192.168.1.2:51000 -> 10.0.0.2:443 out 1 packet 20 bytes, in 0 packets 0 bytes, open
//! ```
//!
//! The `flowcache` tool shows the same flows in more detail; this example shows
//! how little code reading a cache takes.

#![forbid(unsafe_code)]

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use wsd_flow::{CloseState, SideSnapshot};

// Returning the error from `main` would print it with `Debug`, as
// `ChecksumMismatch { stored: .., computed: .. }`, so it is printed here with
// `Display`.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("read_cache: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        return Err("usage: read_cache CACHE".into());
    };

    // A missing file is not an error for wsd -R, which starts with no flows.
    let Some(cache) = wsd_flowcache::read_cache(&path)? else {
        return Err(format!("{}: no such file", path.display()).into());
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: written by {} in format version {}, flows: {}",
        path.display(),
        cache.writer,
        cache.version,
        cache.snapshot.flows.len()
    )?;

    for flow in &cache.snapshot.flows {
        let protocol = match flow.protocol {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            number => format!("protocol {number}"),
        };
        let state = match flow.closed {
            CloseState::Open => "open",
            CloseState::Fin => "closed by FINs",
            CloseState::Rst => "closed by a RST",
        };
        writeln!(
            out,
            "{protocol} {} -> {} out {}, in {}, {state}",
            endpoint(&flow.client),
            endpoint(&flow.server),
            counters(&flow.client),
            counters(&flow.server),
        )?;
    }
    Ok(())
}

/// Formats a side as `IP:PORT`, with IPv6 addresses in brackets.
fn endpoint(side: &SideSnapshot) -> SocketAddr {
    SocketAddr::new(side.ip, side.port)
}

/// Formats what a side sent.
fn counters(side: &SideSnapshot) -> String {
    let packets = side.counters.packets;
    let noun = if packets == 1 { "packet" } else { "packets" };
    format!("{packets} {noun} {} bytes", side.counters.bytes)
}
