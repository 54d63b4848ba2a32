//! Command-line options of `flowcache`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use crate::filter::{FlowFilter, FlowState, ProtocolFilter};

/// Text after the options in `--help`: the keys of the listing, the exit status
/// and examples.
const AFTER_HELP: &str = "\
Keys added after each flow record line:
  state=open|fin|rst   open: not closed yet (always for UDP and other protocols);
                       fin: closed by FINs from both sides, lingering for late packets;
                       rst: closed by a RST, lingering for late packets
  midstream=yes|no     yes if no handshake was seen, so the client was guessed
                       from the ports
  lastTime=            time of the flow's latest packet in local time (TZ), in the
                       format of startTime

Exit status: 0 on success, 2 on bad usage or a file that is missing or not a
valid flow cache (the other files are still processed), 1 on other failures
such as a failed write.

Examples:
  flowcache wsd.cache                          every cached flow, one line each
  flowcache --state open --port 443 wsd.cache  open flows on port 443
  flowcache --json wsd.cache                   one JSON object per flow
  flowcache --summary a.cache b.cache          one summary block per file
  flowcache --check wsd.cache                  exit status 0 if wsd -R loads it";

/// The output formats of `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text lines, the default.
    Text,
    /// One JSON object per line, as --json gives.
    Json,
}

/// Lists, summarizes and checks wirespy flow-cache files.
///
/// A flow cache contains the flows that wsd -W saved unfinished at the end of a run,
/// for wsd -R to continue. By default each cached flow is printed as the start of
/// the TCPFLOW line wsd would write for it (UDPFLOW, ICMPFLOW or IPFLOW for other
/// protocols), its keys from startTime to bytesOut, followed by the keys below.
#[derive(Debug, Parser)]
#[command(
    name = "flowcache",
    version,
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Flow-cache files to read, in order. - reads standard input, and ./- a file
    /// named -. Standard input, a pipe or a device is read whole first, up to 1 GiB.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Print one JSON object per line: each flow with its saved fields, except
    /// the TCP sequence tracking and the time of the next interim record, or
    /// with --summary, one summary per file.
    #[arg(long)]
    pub json: bool,

    /// Output format, as wsd's --format names it: text, or json as --json gives.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with_all = ["json", "check"])]
    pub format: Option<Format>,

    /// Print a summary of each file instead of its flows. It gives the writer and
    /// format version, the capture clock, flows by state and by protocol, the
    /// time range of the packets and the datagrams in the IP fragment table. It
    /// ends with the 10 IP addresses with the most bytes sent and received and the
    /// 10 server ports with the most flows.
    #[arg(long)]
    pub summary: bool,

    /// Check that each file is a valid flow cache that wsd -R would load, and print
    /// nothing. Each failure is reported on standard error.
    #[arg(long, conflicts_with_all = ["json", "summary", "host", "port", "state", "protocol"])]
    pub check: bool,

    /// Keep only flows with IP address IP on either side.
    #[arg(long, value_name = "IP")]
    pub host: Option<IpAddr>,

    /// Keep only flows with port N on either side (0 for protocols without ports).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// Keep only flows in this state.
    #[arg(long, value_enum, value_name = "STATE")]
    pub state: Option<FlowState>,

    /// Keep only flows of this IP protocol: tcp, udp, sctp, icmp (ICMP and ICMPv6)
    /// or a protocol number from 0 to 255.
    #[arg(long, value_name = "PROTOCOL", value_parser = ProtocolFilter::parse)]
    pub protocol: Option<ProtocolFilter>,

    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
}

impl Cli {
    /// Returns the filter that the filter options describe, all of them combined.
    pub fn filter(&self) -> FlowFilter {
        FlowFilter {
            host: self.host,
            port: self.port,
            state: self.state,
            protocol: self.protocol,
        }
    }
}
