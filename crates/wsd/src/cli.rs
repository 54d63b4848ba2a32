//! Command-line options of `wsd`: the clap definition behind `--help` and the
//! manual page.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// Passive network sniffer that writes one compact record per TCP connection.
///
/// Reads capture files (pcap or pcapng, detected from their contents) and writes
/// a TCPFLOW line for every connection: start time, MAC and IP addresses, ports,
/// duration, and packets and bytes each way. With -V it also writes one line per
/// packet.
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

    /// Track flows in N worker threads, while the main thread reads, decodes and
    /// writes records; 1 tracks everything in the main thread. Above 1, the records
    /// are the same as with one thread but can come out in another order, and -V
    /// cannot be used.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,

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

fn parse_max_flows(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(0) => Err("the flow table needs room for at least 1 flow".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{value} is not a whole number of flows")),
    }
}

impl Cli {
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
