//! Command-line options of `wsd`: the clap definition behind `--help` and the
//! manual page.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// Passive network sniffer that writes one compact record per flow.
///
/// Reads capture files (pcap or pcapng, detected from their contents) and writes
/// a record for every flow: start time, MAC and IP addresses, ports, duration,
/// packets and bytes each way, the reason it ended and its Community ID. Records
/// are TCPFLOW-style key=value lines or, with --format json, JSON Lines. With -V
/// it also writes one line per packet.
#[derive(Debug, Parser)]
#[command(
    name = "wsd",
    version,
    disable_version_flag = true,
    after_help = "Examples:\n  \
                  wsd -r capture.pcap -L -             flow records to standard output\n  \
                  wsd -r a.pcap -r b.pcap -L out.log   two files as one stream\n  \
                  wsd -V -r capture.pcapng -L -        packet lines as well\n  \
                  wsd -R c.cache -W c.cache -r a.pcap  continue flows across runs"
)]
pub struct Cli {
    /// Read packets from FILE (pcap or pcapng); repeat to read several files in order
    /// as one stream, or use - for standard input.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,

    /// Write records to FILE (- for standard output) instead of a new file in the
    /// log directory.
    #[arg(short = 'L', long = "logfile", value_name = "FILE")]
    pub logfile: Option<PathBuf>,

    /// Directory for log files named HOSTNAME_YYYYMMDD_HHMMSS.log, created if missing.
    #[arg(
        short = 'l',
        long = "logdir",
        value_name = "DIR",
        default_value = "/var/log/wsd"
    )]
    pub logdir: PathBuf,

    /// Also write one line per packet.
    #[arg(short = 'V', long = "verbose")]
    pub verbose: bool,

    /// Diagnostic detail on standard error: 0 shows information, warnings and
    /// errors; 1 and 2 add debug messages; 3 and above add per-packet traces.
    #[arg(short = 'd', long = "debug", value_name = "0-9", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=9))]
    pub debug: u8,

    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,

    /// Report a TCP connection with no packet for SECONDS of capture time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 600.0,
        allow_negative_numbers = true
    )]
    pub idle_timeout: f64,

    /// Keep a connection closed by FINs or a RST for SECONDS of capture time after
    /// its latest packet, so that late packets count into it.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10.0,
        allow_negative_numbers = true
    )]
    pub linger: f64,

    /// Maximum number of flows tracked at once, at least 1. When the table is full,
    /// a closed connection still lingering, else the flow idle longest, is reported
    /// and removed.
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = parse_max_flows)]
    pub max_flows: u64,

    /// Leave VLAN IDs out of the flow key, so that one connection seen on several
    /// VLANs of a trunk is one flow instead of one flow per VLAN.
    #[arg(long)]
    pub no_vlan_key: bool,

    /// Do not follow tunnels (GRE, ERSPAN, VXLAN, Geneve, IP in IP, Teredo): account
    /// tunnelled packets to the tunnel's outer flow instead of the inner one.
    #[arg(long)]
    pub no_decapsulate: bool,

    /// Format of flow records: text writes TCPFLOW key=value lines, json writes
    /// JSON Lines, one object per record. Packet lines (-V) stay text in both.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write what earlier versions wrote, for parsers that expect exactly that:
    /// text records with only the classic keys (startTime to bytesOut), and only
    /// for TCP unless --protocols is given.
    #[arg(long)]
    pub compat: bool,

    /// Seed of the Community ID flow hash, from 0 to 65535. Monitors that share a
    /// seed give the same flow the same ID.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub community_id_seed: u16,

    /// Protocols that produce flow records, as a comma-separated list of tcp, udp,
    /// icmp and other (every IP protocol but those three). Default: all of them,
    /// or tcp with --compat.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_enum)]
    pub protocols: Option<Vec<ProtocolClass>>,

    /// Also write an interim record (endReason interim) for each flow still open
    /// SECONDS of capture time after its first packet, and again every SECONDS
    /// after that. Its counters are totals since the flow started. Values below
    /// 1 are taken as 1.
    #[arg(long, value_name = "SECONDS", value_parser = parse_interval)]
    pub interim: Option<f64>,

    /// Also write a statistics record every SECONDS of capture time, and one at the
    /// end: packets, bytes, flows active and reported, evictions and decode
    /// problems by reason, in the format of the flow records.
    #[arg(long, value_name = "SECONDS", value_parser = parse_interval)]
    pub stats: Option<f64>,

    /// Report a UDP conversation with no packet for SECONDS of capture time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120.0,
        allow_negative_numbers = true
    )]
    pub udp_timeout: f64,

    /// Report an ICMP or ICMPv6 flow with no packet for SECONDS of capture time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        allow_negative_numbers = true
    )]
    pub icmp_timeout: f64,

    /// Report a flow of another IP protocol with no packet for SECONDS of capture
    /// time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        allow_negative_numbers = true
    )]
    pub other_timeout: f64,

    /// Interface to capture from (live capture is not available in this version).
    #[arg(short = 'i', long = "iniface", value_name = "IFACE")]
    pub iniface: Option<String>,

    /// Load unfinished flows from the flow cache FILE before reading, to continue
    /// the connections of an earlier run. A missing FILE means no flows.
    #[arg(short = 'R', long = "rflow", value_name = "FILE")]
    pub rflow: Option<PathBuf>,

    /// Save the flows still open at the end to the flow cache FILE instead of
    /// reporting them, so that the next run with -R continues them. Usually the same
    /// FILE as -R.
    #[arg(short = 'W', long = "wflow", value_name = "FILE")]
    pub wflow: Option<PathBuf>,

    /// If the -R flow cache cannot be loaded, rename it to FILE.bad-SECONDS (SECONDS
    /// being the Unix time) and start with no flows instead of stopping.
    #[arg(long, requires = "rflow")]
    pub discard_bad_cache: bool,

    /// Change the root directory to DIR after start-up (daemon mode; not available
    /// in this version).
    #[arg(short = 'c', long = "chroot", value_name = "DIR")]
    pub chroot: Option<PathBuf>,

    /// Run as USER after start-up (daemon mode; not available in this version).
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Run as GROUP after start-up (daemon mode; not available in this version).
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub group: Option<String>,

    /// Pid file of the daemon (daemon mode; not available in this version).
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,

    /// Capture filter expression, as with tcpdump (not available in this version).
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    pub filter: Vec<String>,
}

/// Format of flow records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// TCPFLOW key=value lines.
    Text,
    /// JSON Lines.
    Json,
}

/// A class of IP protocols for `--protocols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolClass {
    /// TCP connections.
    Tcp,
    /// UDP conversations.
    Udp,
    /// ICMP and ICMPv6 exchanges.
    Icmp,
    /// Every other IP protocol.
    Other,
}

fn parse_interval(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 1e9 => Ok(seconds),
        _ => Err(format!(
            "{value} is not a number of seconds from 0 (exclusive) to 1000000000"
        )),
    }
}

fn parse_max_flows(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(0) => Err("the flow table needs room for at least 1 flow".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{value} is not a whole number of flows")),
    }
}

impl Cli {
    /// Returns true if flows of `class` produce records.
    pub fn records_protocol(&self, class: ProtocolClass) -> bool {
        match &self.protocols {
            Some(list) => list.contains(&class),
            None => !self.compat || class == ProtocolClass::Tcp,
        }
    }

    /// Returns the first option given that this version does not implement, with
    /// the reason, so that it is rejected instead of silently ignored.
    pub fn unsupported_option(&self) -> Option<(&'static str, &'static str)> {
        const LIVE: &str = "live capture is not available in this version; read files with -r";
        const DAEMON: &str = "daemon mode is not available in this version";
        if self.iniface.is_some() {
            return Some(("-i/--iniface", LIVE));
        }
        if self.chroot.is_some() {
            return Some(("-c/--chroot", DAEMON));
        }
        if self.user.is_some() {
            return Some(("-u/--user", DAEMON));
        }
        if self.group.is_some() {
            return Some(("-g/--group", DAEMON));
        }
        if self.pidfile.is_some() {
            return Some(("-p/--pidfile", DAEMON));
        }
        if !self.filter.is_empty() {
            return Some((
                "a filter expression",
                "capture filters need libpcap, which this version does not load",
            ));
        }
        if self.read.is_empty() {
            return Some(("running without -r", LIVE));
        }
        None
    }
}
