//! Command-line options of `wsd`: the clap definition behind `--help` and the
//! manual page.

use std::path::PathBuf;

use clap::builder::{PathBufValueParser, TypedValueParser};
use clap::{ArgAction, Parser};

/// Passive network sniffer that writes one compact record per flow.
///
/// Reads capture files (pcap or pcapng, detected from their contents) or captures
/// live from an interface through libpcap, and writes a record for every flow:
/// start time, MAC and IP addresses, ports, duration, packets and bytes each way,
/// the reason it ended and its Community ID. Records are TCPFLOW-style key=value
/// lines or, with --format json, JSON Lines. With -V it also writes one line per
/// packet.
///
/// SIGINT or SIGTERM ends a run as the end of its input does. If a capture file
/// was then read only in part, wsd reports it and ends by that signal. A run
/// still stopping 2 s later, as one whose log is blocked, reports why. A second
/// SIGINT or SIGTERM ends the process at once with status 1, and the records not
/// yet written are lost.
#[derive(Debug, Parser)]
#[command(
    name = "wsd",
    version,
    disable_version_flag = true,
    after_help = "Examples:\n  \
                  wsd -r capture.pcap -L -             flow records to standard output\n  \
                  wsd -r a.pcap -r b.pcap -L out.log   two files as one stream\n  \
                  wsd -V -r capture.pcapng -L -        packet lines as well\n  \
                  wsd -R c.cache -W c.cache -r a.pcap  continue flows across runs\n  \
                  wsd -i eth0 -F -L - not port 22      live capture with a filter"
)]
pub struct Cli {
    /// Read packets from FILE (pcap or pcapng); repeat to read several files in order
    /// as one stream, or use - for standard input. Captures joined end to end, as cat
    /// joins them, are read in turn.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,

    /// Write records to FILE (- for standard output) instead of a new file in the
    /// log directory; -l is then ignored.
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
          allow_hyphen_values = true,
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
        allow_hyphen_values = true,
        value_parser = parse_timeout
    )]
    pub idle_timeout: f64,

    /// Keep a connection closed by FINs or a RST for SECONDS of capture time after
    /// its latest packet, so that late packets count into it. A time shorter than
    /// the delay of its last ACK, such as 0, reports it before that ACK, which
    /// then starts a flow of its own.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10.0,
        allow_hyphen_values = true,
        value_parser = parse_timeout
    )]
    pub linger: f64,

    /// Maximum number of flows tracked at once, at least 1. When the table is full,
    /// a closed connection still lingering, else the flow idle longest, is reported
    /// and removed. With --threads N, each worker has N-th of the table for the
    /// flows of its host pairs, so it can fill up before the whole would, and the
    /// maximum must be at least N.
    #[arg(long, value_name = "N", default_value_t = 1_000_000, allow_hyphen_values = true,
          value_parser = parse_max_flows)]
    pub max_flows: u64,

    /// Leave VLAN IDs out of the flow key, so that one connection seen on several
    /// VLANs of a trunk is one flow instead of one flow per VLAN.
    #[arg(long)]
    pub no_vlan_key: bool,

    /// Count an IP packet at most as long as its frame when the capture contains
    /// the whole frame. Without it, an IP length field longer than the frame counts in
    /// full, which is right for frames that a packet broker sliced without keeping
    /// their length, and wrong for forged length fields.
    #[arg(long)]
    pub cap_ip_length: bool,

    /// Do not follow tunnels (GRE, ERSPAN, VXLAN, Geneve, IP in IP, Teredo): account
    /// tunnelled packets to the tunnel's outer flow instead of the inner one.
    #[arg(long)]
    pub no_decapsulate: bool,

    /// Split the flows over N tables, from 1 to 1024, which helper threads, and the
    /// main thread when they fall behind, track while the main thread reads,
    /// decodes and writes: N-1 helpers, but at most one fewer than the processors.
    /// 1 does everything in the main thread. Above 1, the records are the same as
    /// with one thread but can come out in another order, and -V cannot be used.
    #[arg(long, value_name = "N", default_value_t = 1, allow_hyphen_values = true,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,

    /// Format of flow records: text writes TCPFLOW key=value lines, json writes
    /// JSON Lines, one object per record. Packet lines (-V) follow it too.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write what earlier versions wrote, for parsers that expect exactly that:
    /// text records with only the classic keys (startTime to bytesOut), and only
    /// for TCP unless --protocols is given. Cannot be used with --interim or
    /// --stats, whose lines that format has no way to mark.
    #[arg(long)]
    pub compat: bool,

    /// Seed of the Community ID flow hash, from 0 to 65535. Monitors that share a
    /// seed give the same flow the same ID.
    #[arg(long, value_name = "N", default_value_t = 0, allow_hyphen_values = true,
          value_parser = clap::value_parser!(u16).range(0..=65_535))]
    pub community_id_seed: u16,

    /// Protocols that produce flow records, as a comma-separated list of tcp, udp,
    /// icmp and other (every IP protocol but those three, SCTP among them).
    /// Default: all of them, or tcp with --compat.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_enum)]
    pub protocols: Option<Vec<ProtocolClass>>,

    /// Also write an interim record (endReason interim) for each flow still open
    /// SECONDS of capture time after its first packet, and again every SECONDS
    /// after that. Its counters are totals since the flow started. SECONDS must be
    /// at least 1 second and may have a fraction.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true,
          value_parser = parse_interim)]
    pub interim: Option<f64>,

    /// Also write a statistics record every SECONDS of capture time, and one at the
    /// end: packets, bytes, flows active and reported, evictions and decode
    /// problems by reason, in the format of the flow records. A live capture writes
    /// them while no packet arrives too. SECONDS may have a fraction, counted in
    /// whole nanoseconds, and must be at least 0.000000001.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true,
          value_parser = parse_stats)]
    pub stats: Option<f64>,

    /// Report a UDP conversation with no packet for SECONDS of capture time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120.0,
        allow_hyphen_values = true,
        value_parser = parse_timeout
    )]
    pub udp_timeout: f64,

    /// Report an ICMP or ICMPv6 flow with no packet for SECONDS of capture time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        allow_hyphen_values = true,
        value_parser = parse_timeout
    )]
    pub icmp_timeout: f64,

    /// Report a flow of another IP protocol, such as an SCTP association, with no
    /// packet for SECONDS of capture time.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        allow_hyphen_values = true,
        value_parser = parse_timeout
    )]
    pub other_timeout: f64,

    /// Capture live from interface IFACE (needs libpcap and the right to capture,
    /// usually root). Without -i and -r, wsd captures on the first interface that
    /// is up, not a loopback interface and not the "any" pseudo-device.
    #[arg(
        short = 'i',
        long = "iniface",
        value_name = "IFACE",
        conflicts_with = "read"
    )]
    pub iniface: Option<String>,

    /// Stay in the foreground instead of detaching when capturing from an
    /// interface; diagnostics then go to standard error.
    #[arg(short = 'F', long = "foreground")]
    pub foreground: bool,

    /// Capture at most BYTES of each packet live, from 64 to 262144, or 0 for
    /// 262144 as with tcpdump. The default keeps every header flow records use,
    /// through two levels of tunnels, and no payload.
    #[arg(short = 's', long = "snaplen", value_name = "BYTES",
          default_value_t = wsd_capture::LiveConfig::DEFAULT_SNAPLEN,
          allow_hyphen_values = true,
          value_parser = parse_snaplen)]
    pub snaplen: u32,

    /// Do not put the interface into promiscuous mode, so that only traffic to and
    /// from this host is captured.
    #[arg(short = 'p', long = "no-promisc")]
    pub no_promisc: bool,

    /// Size of the kernel capture buffer in MiB (default: libpcap's default). A larger
    /// buffer rides out longer bursts without dropping packets.
    #[arg(short = 'B', long = "buffer-size", value_name = "MIB",
          allow_hyphen_values = true,
          value_parser = clap::value_parser!(u32).range(1..=2047))]
    pub buffer_size: Option<u32>,

    /// Hold up to BYTES of records in memory while the log's file system is full or
    /// over quota, and try the log again every second (default 64M; K, M and G
    /// multiply by 1024, 1024² and 1024³). The capture goes on meanwhile. Records
    /// that do not fit in BYTES are dropped and counted, the records held are kept,
    /// and the run ends with status 1. Packet lines (-V) are dropped and counted
    /// instead of held. If the log is still full when the capture stops, wsd stops
    /// as at any failed write. 0 stops at the first failed write.
    #[arg(long, value_name = "BYTES", default_value = "64M", allow_hyphen_values = true,
          value_parser = parse_hold_size, conflicts_with = "read")]
    pub hold_size: u64,

    /// Load unfinished flows from the flow cache FILE before reading, to continue
    /// the connections of an earlier run. A missing FILE means no flows, but its
    /// directory must exist. FILE must be a regular file, not a device or pipe.
    #[arg(short = 'R', long = "rflow", value_name = "FILE", value_parser = cache_path_parser())]
    pub rflow: Option<PathBuf>,

    /// Save the flows still open at the end to the flow cache FILE instead of
    /// reporting them, so that the next run with -R continues them. Usually the same
    /// FILE as -R.
    #[arg(short = 'W', long = "wflow", value_name = "FILE", value_parser = cache_path_parser())]
    pub wflow: Option<PathBuf>,

    /// If the -R flow cache cannot be loaded, rename it to FILE.bad-SECONDS (SECONDS
    /// being the Unix time, with -2, -3 and so on added if that name is taken) and
    /// start with no flows instead of stopping.
    #[arg(long)]
    pub discard_bad_cache: bool,

    /// Change the root directory to DIR once the inputs, the log directory and the
    /// pid file are open (needs root). Paths given for -W are then inside DIR.
    #[arg(short = 'c', long = "chroot", value_name = "DIR")]
    pub chroot: Option<PathBuf>,

    /// Run as USER (a name or a numeric user id) once the inputs, the log
    /// directory and the pid file are open (needs root). The group is USER's
    /// primary group unless -g is given.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Run as GROUP (a name or a numeric group id) once the inputs, the log
    /// directory and the pid file are open (needs root).
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub group: Option<String>,

    /// Accept -u naming a user with user id 0, which keeps every privilege.
    #[arg(long)]
    pub allow_root: bool,

    /// Pid file, locked while wsd runs and removed at exit, so that a second wsd
    /// with the same pid file does not start. Default /var/run/wsd.pid when wsd
    /// detaches; in the foreground (-F, -r) none is written unless it is given.
    #[arg(
        short = 'P',
        long = "pid-file",
        visible_alias = "pidfile",
        value_name = "FILE"
    )]
    pub pid_file: Option<PathBuf>,

    /// Start a new log file in the log directory every SECONDS of wall-clock time
    /// (at least 1), within 250 ms. SIGHUP also starts a new log file: after the
    /// packet or end-of-input record being written, or within 250 ms on a quiet
    /// link of a live capture. With -r - both wait while the pipe is idle.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true,
          value_parser = parse_rotate_interval)]
    pub rotate_interval: Option<u64>,

    /// Start a new log file in the log directory once the current one reaches BYTES
    /// (at least 1; K, M and G multiply by 1024, 1024² and 1024³). The check runs
    /// after each packet's lines, so a file can exceed BYTES by those lines.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true, value_parser = parse_size)]
    pub rotate_size: Option<u64>,

    /// Append diagnostics to FILE, opened before the chroot, the error that ends
    /// the run among them. In daemon mode they then go there instead of to syslog;
    /// in the foreground they also still go to standard error.
    #[arg(long, value_name = "FILE")]
    pub diag_file: Option<PathBuf>,

    /// Capture filter expression in libpcap's syntax, as with tcpdump, such as
    /// "tcp port 443" or "not port 22". It applies to live capture and to -r files
    /// alike, and needs libpcap in both cases.
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    pub filter: Vec<String>,
}

/// Returns the parser of flow-cache paths, which rejects `-`. For `-r` and `-L`,
/// `-` means standard input or output, but a cache is read with its checksum
/// first and replaced by renaming a new file over it, which needs a file.
fn cache_path_parser() -> impl TypedValueParser<Value = PathBuf> {
    PathBufValueParser::new().try_map(|path| {
        if path.as_os_str() == "-" {
            return Err(
                "the flow cache must be a file, not standard input or output; give a file \
                 name such as flows.cache (./- for a file named -)",
            );
        }
        Ok(path)
    })
}

/// Parses a byte count with an optional K, M or G suffix (powers of 1024).
fn parse_size(value: &str) -> Result<u64, String> {
    let (digits, unit) = match value.char_indices().last() {
        Some((index, 'K' | 'k')) => (&value[..index], 1u64 << 10),
        Some((index, 'M' | 'm')) => (&value[..index], 1u64 << 20),
        Some((index, 'G' | 'g')) => (&value[..index], 1u64 << 30),
        _ => (value, 1),
    };
    let too_large = || {
        format!(
            "{value} is too large: the maximum is {} bytes, or {}K, {}M or {}G",
            u64::MAX,
            u64::MAX >> 10,
            u64::MAX >> 20,
            u64::MAX >> 30
        )
    };
    match digits.parse::<u64>() {
        Ok(0) => Err("the size must be at least 1 byte".to_string()),
        Ok(n) => n.checked_mul(unit).ok_or_else(too_large),
        Err(err) if is_overflow(&err) => Err(too_large()),
        Err(_) => Err(format!(
            "{value} is not a size in bytes: expected a whole number such as 1048576, 1024K or 1M"
        )),
    }
}

/// Parses `--hold-size`: a size as [`parse_size`] reads it, or 0 with or
/// without a unit.
fn parse_hold_size(value: &str) -> Result<u64, String> {
    let digits = value.trim_end_matches(['K', 'k', 'M', 'm', 'G', 'g']);
    if !digits.is_empty() && digits.bytes().all(|byte| byte == b'0') {
        return Ok(0);
    }
    parse_size(value)
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
    /// Every other IP protocol, SCTP among them.
    Other,
}

/// Largest interval of `--interim` and `--stats`, in seconds: about 31 years.
const MAX_INTERVAL_SECONDS: f64 = 1e9;

/// Smallest `--interim` interval, in seconds. The tracker schedules interim
/// records at least a second apart.
const MIN_INTERIM_SECONDS: f64 = 1.0;

/// Smallest `--stats` interval, in seconds: one nanosecond, the resolution of the
/// capture clock.
const MIN_STATS_SECONDS: f64 = 1e-9;

fn parse_interim(value: &str) -> Result<f64, String> {
    parse_interval(value, MIN_INTERIM_SECONDS, "1 second")
}

fn parse_stats(value: &str) -> Result<f64, String> {
    parse_interval(
        value,
        MIN_STATS_SECONDS,
        "0.000000001 seconds (1 nanosecond)",
    )
}

/// Parses a number of seconds from `min` (spelled `min_text` in messages) to
/// `MAX_INTERVAL_SECONDS`.
fn parse_interval(value: &str, min: f64, min_text: &str) -> Result<f64, String> {
    let Ok(seconds) = value.parse::<f64>() else {
        return Err(format!(
            "{value} is not a number of seconds: expected a number from {min_text} to \
             1000000000, such as 60 or 2.5"
        ));
    };
    if seconds.is_nan() {
        Err(format!("{value} is not a number of seconds"))
    } else if seconds < min {
        Err(format!(
            "{value} seconds is below the minimum of {min_text}"
        ))
    } else if seconds > MAX_INTERVAL_SECONDS {
        Err(format!(
            "{value} seconds is above the maximum of 1000000000 seconds"
        ))
    } else {
        Ok(seconds)
    }
}

/// Largest idle timeout or linger time, in seconds: about 31 years, so that the
/// time in nanoseconds fits an `i64`.
const MAX_TIMEOUT_SECONDS: f64 = 1e9;

/// Parses the seconds of an idle timeout or of `--linger`, from 0 to
/// `MAX_TIMEOUT_SECONDS`. Clap puts the value as typed and the option's name
/// before the message.
fn parse_timeout(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(seconds) if (0.0..=MAX_TIMEOUT_SECONDS).contains(&seconds) => Ok(seconds),
        _ => Err("expected a number of seconds from 0 to 1000000000".to_string()),
    }
}

/// Largest `-s` value, which `-s 0` also means, as it does for tcpdump 4.99.
const MAX_SNAPLEN: u32 = 262_144;

fn parse_snaplen(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(0) => Ok(MAX_SNAPLEN),
        Ok(bytes) if (64..=MAX_SNAPLEN).contains(&bytes) => Ok(bytes),
        _ => Err(format!(
            "expected a number of bytes from 64 to {MAX_SNAPLEN}, or 0 for {MAX_SNAPLEN}"
        )),
    }
}

fn parse_max_flows(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(0) => Err("the flow table needs room for at least 1 flow".to_string()),
        Ok(n) => Ok(n),
        Err(err) if is_overflow(&err) => Err(format!(
            "{value} flows is too large: the maximum is {}",
            u64::MAX
        )),
        Err(_) => Err(format!("{value} is not a whole number of flows")),
    }
}

fn parse_rotate_interval(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        Err(err) if is_overflow(&err) => Err(format!(
            "{value} seconds is too large: the maximum is {}",
            u64::MAX
        )),
        _ => Err(format!(
            "{value} is not a whole number of seconds of at least 1"
        )),
    }
}

/// True if `err` rejected a string of digits only for being above the type's
/// maximum.
fn is_overflow(err: &std::num::ParseIntError) -> bool {
    *err.kind() == std::num::IntErrorKind::PosOverflow
}

/// Pid file of a daemon when `--pid-file` is not given.
pub const DEFAULT_PID_FILE: &str = "/var/run/wsd.pid";

impl Cli {
    /// Returns true if flows of `class` produce records.
    pub fn records_protocol(&self, class: ProtocolClass) -> bool {
        match &self.protocols {
            Some(list) => list.contains(&class),
            None => !self.compat || class == ProtocolClass::Tcp,
        }
    }

    /// True if packets come from an interface rather than from `-r` files.
    pub fn is_live(&self) -> bool {
        self.read.is_empty()
    }

    /// True if `wsd` detaches from the terminal: a live capture without `-F`.
    pub fn detaches(&self) -> bool {
        self.is_live() && !self.foreground
    }

    /// Returns the pid file to hold: `--pid-file`, else the default for a
    /// daemon, else none.
    pub fn pid_file_path(&self) -> Option<PathBuf> {
        match &self.pid_file {
            Some(path) => Some(path.clone()),
            None if self.detaches() => Some(PathBuf::from(DEFAULT_PID_FILE)),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_size_zero_or_size() {
        assert_eq!(parse_hold_size("0"), Ok(0));
        assert_eq!(parse_hold_size("64M"), Ok(64 << 20));
        assert_eq!(parse_hold_size("1000"), Ok(1000));
        assert_eq!(parse_hold_size("0K"), Ok(0));
        assert!(parse_hold_size("K").is_err());
        assert!(parse_hold_size("-1").is_err());
    }

    #[test]
    fn snaplen_zero_means_maximum() {
        assert_eq!(parse_snaplen("0"), Ok(MAX_SNAPLEN));
        assert_eq!(parse_snaplen("64"), Ok(64));
        assert_eq!(parse_snaplen("262144"), Ok(262_144));
        assert!(parse_snaplen("63").is_err());
        assert!(parse_snaplen("262145").is_err());
        assert!(parse_snaplen("-1").is_err());
    }
}
