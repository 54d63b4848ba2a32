//! Cross-check of wsd's TCP flow records against tshark.
//!
//! For each capture, tshark lists every TCP segment with its `tcp.stream` index.
//! Per stream this task derives the client and the packets and TCP segment bytes
//! (`tcp.hdr_len + tcp.len`) each way, the quantities that a `TCPFLOW` line
//! reports. tshark shows a segment that it reassembled from IP fragments once,
//! on the frame of its last fragment. Such a segment therefore counts as many
//! packets as it had fragments, as wsd counts them, also when the fragmented
//! header is the outer one of a tunnel packet. It then runs `wsd -r FILE -L -` in UTC and
//! pairs each stream with a record for the same two endpoints. A stream matches when its packet and byte
//! counts equal the record's in both directions. The client is right when tshark
//! saw a SYN or SYN-ACK and the record names the same client.
//!
//! Some differences are expected rather than bugs. wsd keeps VLAN IDs in its
//! flow key, but tshark 4.0 does not, so one connection seen on several VLANs is
//! one stream and several records.
//!
//! The output is a report, not a test. The task fails only when wsd does not
//! build, the corpus directory cannot be listed, or tshark or wsd cannot be run
//! or is killed. A tool that exits with an error status on one capture, as both
//! do for corrupt files, is noted beside that file.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::workspace_root;

/// Fields that tshark prints per segment, in this order.
///
/// `-E occurrence=l` keeps the last occurrence of each field, so for a tunnelled
/// packet the addresses and ports are those of the innermost headers. The
/// innermost IP version comes from `frame.protocols`, because a 4in6 or 6in4
/// packet has both `ip.src` and `ipv6.src`.
const TSHARK_FIELDS: [&str; 15] = [
    "frame.protocols",
    "frame.time_epoch",
    "tcp.stream",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.hdr_len",
    "tcp.len",
    "ip.fragment.count",
    "ipv6.fragment.count",
];

/// TCP segments, without the TCP headers that ICMP errors quote: tshark gives
/// those no `tcp.stream` (checked with tshark 4.0), and wsd counts them as ICMP.
const TSHARK_FILTER: &str = "tcp && !icmp && !icmpv6";

/// A line that tshark prints on standard error whenever it runs as root.
const TSHARK_ROOT_WARNING: &str = "Running as user \"root\"";

/// Runs the comparison over `files`, or over every capture in the shared corpus
/// beside the repository when `files` is empty.
pub fn run(files: Vec<PathBuf>) -> Result<(), String> {
    let root = workspace_root();
    let files = if files.is_empty() {
        corpus_captures(&root.join("../shared/corpus"))?
    } else {
        files
    };
    let wsd = build_wsd(&root)?;

    let mut reports = Vec::new();
    for file in &files {
        reports.push(compare_file(file, &wsd)?);
    }
    print_summary(&reports);
    print_differences(&reports);
    Ok(())
}

/// Lists the pcap and pcapng files of the corpus directory, sorted by name.
fn corpus_captures(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|err| {
        format!(
            "cannot list {}: {err}; the shared captures must sit in ../shared/corpus beside the repository, or name the files to compare",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let extension = path.extension().and_then(|ext| ext.to_str());
            matches!(extension, Some("pcap" | "pcapng"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Builds wsd in release mode and returns the path of the binary.
fn build_wsd(root: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--package", "wsd"])
        .current_dir(root)
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err("building wsd failed".to_string());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release/wsd"))
}

/// An IP address and TCP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// The two endpoints of a connection, lower first, so that both directions of a
/// connection have the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ConnectionKey(Endpoint, Endpoint);

impl ConnectionKey {
    fn new(a: Endpoint, b: Endpoint) -> ConnectionKey {
        if a <= b {
            ConnectionKey(a, b)
        } else {
            ConnectionKey(b, a)
        }
    }
}

/// Packets and TCP segment bytes in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    packets: u64,
    bytes: u64,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pkts/{} B", self.packets, self.bytes)
    }
}

/// One TCP segment as tshark decoded it.
struct Segment {
    stream: u64,
    /// Capture time in whole seconds since the Unix epoch, rounded down.
    second: i64,
    src: Endpoint,
    dst: Endpoint,
    syn: bool,
    ack: bool,
    /// TCP header with options plus payload.
    bytes: u64,
    /// Captured packets that carried the segment: the number of IP fragments it
    /// was reassembled from, else 1.
    packets: u64,
}

/// One tshark TCP stream with the counts and client a `TCPFLOW` line reports.
struct TsharkStream {
    id: u64,
    /// The sender of the stream's first segment.
    first: Endpoint,
    /// The receiver of the stream's first segment.
    second: Endpoint,
    first_second: i64,
    last_second: i64,
    from_first: Counts,
    from_second: Counts,
    bare_syn_sender: Option<Endpoint>,
    syn_ack_receiver: Option<Endpoint>,
}

impl TsharkStream {
    fn new(segment: &Segment) -> TsharkStream {
        TsharkStream {
            id: segment.stream,
            first: segment.src,
            second: segment.dst,
            first_second: segment.second,
            last_second: segment.second,
            from_first: Counts::default(),
            from_second: Counts::default(),
            bare_syn_sender: None,
            syn_ack_receiver: None,
        }
    }

    fn add(&mut self, segment: &Segment) {
        let counts = if segment.src == self.first {
            &mut self.from_first
        } else {
            &mut self.from_second
        };
        counts.packets += segment.packets;
        counts.bytes += segment.bytes;
        self.first_second = self.first_second.min(segment.second);
        self.last_second = self.last_second.max(segment.second);
        if segment.syn && !segment.ack && self.bare_syn_sender.is_none() {
            self.bare_syn_sender = Some(segment.src);
        }
        if segment.syn && segment.ack && self.syn_ack_receiver.is_none() {
            self.syn_ack_receiver = Some(segment.dst);
        }
    }

    fn key(&self) -> ConnectionKey {
        ConnectionKey::new(self.first, self.second)
    }

    /// Returns the client by the handshake: the sender of the first bare SYN, else the
    /// receiver of the first SYN-ACK, else unknown.
    fn client(&self) -> Option<Endpoint> {
        self.bare_syn_sender.or(self.syn_ack_receiver)
    }

    /// Packets and bytes (client to server, server to client) when `client` is
    /// the client, or `None` if `client` is not an endpoint of this stream.
    fn oriented(&self, client: Endpoint) -> Option<(Counts, Counts)> {
        if client == self.first {
            Some((self.from_first, self.from_second))
        } else if client == self.second {
            Some((self.from_second, self.from_first))
        } else {
            None
        }
    }
}

/// One `TCPFLOW` line that wsd wrote.
#[derive(Clone)]
struct WsdRecord {
    /// `startTime` as seconds since the Unix epoch, read as UTC.
    start_second: i64,
    client: Endpoint,
    server: Endpoint,
    out: Counts,
    inbound: Counts,
    line: String,
}

/// A tshark stream and the wsd record paired with it, if any.
struct Pairing {
    stream: TsharkStream,
    record: Option<WsdRecord>,
}

impl Pairing {
    fn matches(&self) -> bool {
        let Some(record) = &self.record else {
            return false;
        };
        self.stream.oriented(record.client) == Some((record.out, record.inbound))
    }

    fn has_syn(&self) -> bool {
        self.stream.client().is_some()
    }

    fn client_right(&self) -> bool {
        match (&self.record, self.stream.client()) {
            (Some(record), Some(client)) => record.client == client,
            _ => false,
        }
    }
}

/// The comparison of one capture.
struct FileReport {
    name: String,
    pairings: Vec<Pairing>,
    /// wsd records that no tshark stream was paired with.
    extra_records: Vec<WsdRecord>,
    /// Tool errors and skipped lines worth reading beside the counts.
    notes: Vec<String>,
}

impl FileReport {
    fn matched(&self) -> usize {
        self.pairings.iter().filter(|p| p.matches()).count()
    }

    fn with_syn(&self) -> usize {
        self.pairings.iter().filter(|p| p.has_syn()).count()
    }

    fn client_right(&self) -> usize {
        self.pairings.iter().filter(|p| p.client_right()).count()
    }
}

fn compare_file(file: &Path, wsd: &Path) -> Result<FileReport, String> {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut notes = Vec::new();

    let tshark_output = run_tshark(file)?;
    if let Some(note) = exit_note("tshark", &tshark_output) {
        notes.push(note);
    }
    let (streams, skipped) = parse_tshark(&String::from_utf8_lossy(&tshark_output.stdout));
    if skipped > 0 {
        notes.push(format!(
            "{skipped} tshark lines without a usable TCP segment skipped"
        ));
    }

    let wsd_output = run_wsd(wsd, file)?;
    if let Some(note) = exit_note("wsd", &wsd_output) {
        notes.push(note);
    }
    let (records, skipped) = parse_wsd(&String::from_utf8_lossy(&wsd_output.stdout));
    if skipped > 0 {
        notes.push(format!("{skipped} unreadable TCPFLOW lines skipped"));
    }

    let (pairings, extra_records) = pair_streams(streams, records);
    Ok(FileReport {
        name,
        pairings,
        extra_records,
        notes,
    })
}

fn run_tshark(file: &Path) -> Result<Output, String> {
    let mut command = Command::new("tshark");
    command
        .arg("-r")
        .arg(file)
        .args(["-n", "-T", "fields"])
        .args(["-E", "separator=/t", "-E", "occurrence=l"])
        .args(["-Y", TSHARK_FILTER]);
    for field in TSHARK_FIELDS {
        command.args(["-e", field]);
    }
    let output = command.output().map_err(|err| {
        format!("cannot run tshark: {err}; install tshark (Wireshark) and put it on PATH")
    })?;
    check_not_killed("tshark", file, &output)?;
    Ok(output)
}

fn run_wsd(wsd: &Path, file: &Path) -> Result<Output, String> {
    let output = Command::new(wsd)
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .arg("-r")
        .arg(file)
        .args(["-L", "-"])
        .output()
        .map_err(|err| format!("cannot run {}: {err}", wsd.display()))?;
    check_not_killed("wsd", file, &output)?;
    Ok(output)
}

/// Fails if `tool` ended by a signal rather than with an exit status.
fn check_not_killed(tool: &str, file: &Path, output: &Output) -> Result<(), String> {
    if output.status.code().is_none() {
        return Err(format!(
            "{tool} was killed while reading {}: {}",
            file.display(),
            output.status
        ));
    }
    Ok(())
}

/// Describes a non-zero exit status with the first line of standard error.
fn exit_note(tool: &str, output: &Output) -> Option<String> {
    if output.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = stderr
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with(TSHARK_ROOT_WARNING))
        .unwrap_or("no message");
    let status = output
        .status
        .code()
        .map_or_else(|| output.status.to_string(), |code| code.to_string());
    Some(format!("{tool} exited with status {status}: {message}"))
}

/// Groups tshark's segment lines into streams, in order of stream index, and
/// counts the lines that could not be read.
fn parse_tshark(text: &str) -> (Vec<TsharkStream>, usize) {
    let mut streams: BTreeMap<u64, TsharkStream> = BTreeMap::new();
    let mut skipped = 0;
    for line in text.lines().filter(|line| !line.is_empty()) {
        let Some(segment) = parse_segment(line) else {
            skipped += 1;
            continue;
        };
        streams
            .entry(segment.stream)
            .or_insert_with(|| TsharkStream::new(&segment))
            .add(&segment);
    }
    (streams.into_values().collect(), skipped)
}

/// Reads one line of [`TSHARK_FIELDS`] values.
fn parse_segment(line: &str) -> Option<Segment> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [protocols, time, stream, ip_src, ip_dst, ipv6_src, ipv6_dst, src_port, dst_port, syn, ack, header_len, payload_len, ip_fragments, ipv6_fragments] =
        fields.as_slice()
    else {
        return None;
    };
    let fragments = if innermost_is_ipv6(protocols) {
        ipv6_fragments
    } else {
        ip_fragments
    };
    let packets = fragments.parse().unwrap_or(1).max(1);
    let (src_ip, dst_ip) = if innermost_is_ipv6(protocols) {
        (ipv6_src, ipv6_dst)
    } else {
        (ip_src, ip_dst)
    };
    let header_len: u64 = header_len.parse().ok()?;
    let payload_len: u64 = payload_len.parse().unwrap_or(0);
    Some(Segment {
        stream: stream.parse().ok()?,
        second: parse_epoch_second(time)?,
        src: Endpoint {
            ip: src_ip.parse().ok()?,
            port: src_port.parse().ok()?,
        },
        dst: Endpoint {
            ip: dst_ip.parse().ok()?,
            port: dst_port.parse().ok()?,
        },
        syn: parse_flag(syn),
        ack: parse_flag(ack),
        bytes: header_len + payload_len,
        packets,
    })
}

/// Returns true if the last IP layer in a `frame.protocols` list such as
/// `eth:ethertype:ipv6:ip:tcp` is IPv6.
fn innermost_is_ipv6(protocols: &str) -> bool {
    protocols
        .split(':')
        .rev()
        .find(|layer| *layer == "ip" || *layer == "ipv6")
        == Some("ipv6")
}

/// Reads a tshark flag field: `1` or `True` when set, depending on the version.
fn parse_flag(value: &str) -> bool {
    value == "1" || value.eq_ignore_ascii_case("true")
}

/// Parses a `frame.time_epoch` value such as `1515026248.970290000` to whole
/// seconds, rounded towards negative infinity.
fn parse_epoch_second(value: &str) -> Option<i64> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let whole: i64 = whole.parse().ok()?;
    let has_fraction = fraction.bytes().any(|digit| digit != b'0');
    if whole < 0 && has_fraction {
        Some(whole - 1)
    } else {
        Some(whole)
    }
}

/// Reads wsd's `TCPFLOW` lines in output order and counts those that could not
/// be read.
fn parse_wsd(text: &str) -> (Vec<WsdRecord>, usize) {
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|line| line.starts_with("TCPFLOW ")) {
        match parse_record(line) {
            Some(record) => records.push(record),
            None => skipped += 1,
        }
    }
    (records, skipped)
}

fn parse_record(line: &str) -> Option<WsdRecord> {
    let fields = record_fields(line.strip_prefix("TCPFLOW ")?);
    let field = |key: &str| fields.get(key).map(String::as_str);
    let number = |key: &str| field(key)?.parse::<u64>().ok();
    let endpoint = |ip_key: &str, port_key: &str| {
        Some(Endpoint {
            ip: field(ip_key)?.parse().ok()?,
            port: field(port_key)?.parse().ok()?,
        })
    };
    Some(WsdRecord {
        start_second: parse_utc_time(field("startTime")?)?,
        client: endpoint("sourceIp", "sourcePort")?,
        server: endpoint("destIp", "destPort")?,
        out: Counts {
            packets: number("packetsOut")?,
            bytes: number("bytesOut")?,
        },
        inbound: Counts {
            packets: number("packetsIn")?,
            bytes: number("bytesIn")?,
        },
        line: line.to_string(),
    })
}

/// Splits `key=value` fields separated by spaces. A word without `=` continues
/// the previous value, as the time in `startTime=2018/01/03 16:37:57` does.
fn record_fields(text: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut last_key: Option<String> = None;
    for word in text.split(' ') {
        if let Some((key, value)) = word.split_once('=') {
            fields.insert(key.to_string(), value.to_string());
            last_key = Some(key.to_string());
        } else if let Some(value) = last_key.as_ref().and_then(|key| fields.get_mut(key)) {
            value.push(' ');
            value.push_str(word);
        }
    }
    fields
}

/// Converts `YYYY/MM/DD HH:MM:SS`, read as UTC, to seconds since the Unix epoch.
fn parse_utc_time(value: &str) -> Option<i64> {
    let (date, time) = value.split_once(' ')?;
    let date: Vec<i64> = date
        .split('/')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    let time: Vec<i64> = time
        .split(':')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    let ([year, month, day], [hour, minute, second]) = (date.as_slice(), time.as_slice()) else {
        return None;
    };
    let days = days_from_civil(*year, *month, *day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Counts the days from 1970-01-01 to a date of the proleptic Gregorian
/// calendar, with years counted from March so that leap days fall last.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Pairs tshark streams with wsd records of the same two endpoints.
///
/// Streams and records that share endpoints (port reuse, or one connection that
/// one tool splits) are paired in order of appearance: streams by index, records
/// by start time. Returns the pairings in stream order and the records paired
/// with no stream.
fn pair_streams(
    streams: Vec<TsharkStream>,
    records: Vec<WsdRecord>,
) -> (Vec<Pairing>, Vec<WsdRecord>) {
    let mut streams_by_key: BTreeMap<ConnectionKey, Vec<TsharkStream>> = BTreeMap::new();
    for stream in streams {
        streams_by_key.entry(stream.key()).or_default().push(stream);
    }
    let mut records_by_key: BTreeMap<ConnectionKey, Vec<WsdRecord>> = BTreeMap::new();
    for record in records {
        let key = ConnectionKey::new(record.client, record.server);
        records_by_key.entry(key).or_default().push(record);
    }

    let mut pairings = Vec::new();
    let mut extra_records = Vec::new();
    for (key, streams) in streams_by_key {
        let mut records = records_by_key.remove(&key).unwrap_or_default();
        // A stable sort keeps wsd's output order among records of the same second.
        // NOTE: that order is the order in which connections ended, so two
        // connections on the same ports that start in the same second and end in
        // the other order are paired crosswise.
        records.sort_by_key(|record| record.start_second);
        if streams.len() == records.len() {
            pairings.extend(
                streams
                    .into_iter()
                    .zip(records)
                    .map(|(stream, record)| Pairing {
                        stream,
                        record: Some(record),
                    }),
            );
        } else {
            pair_by_time(streams, records, &mut pairings, &mut extra_records);
        }
    }
    extra_records.extend(records_by_key.into_values().flatten());
    pairings.sort_by_key(|pairing| pairing.stream.id);
    (pairings, extra_records)
}

/// Pairs the streams and records of one pair of endpoints when their numbers
/// differ, so that one extra or missing record does not shift every later pair.
///
/// A record that starts before a stream's first second belongs to an earlier
/// connection and is left over. A stream gets the next record only if that
/// record starts by the stream's last second. This relies on both tools reading
/// the same timestamps, which is true unless one of them misreads the capture.
fn pair_by_time(
    streams: Vec<TsharkStream>,
    records: Vec<WsdRecord>,
    pairings: &mut Vec<Pairing>,
    extra_records: &mut Vec<WsdRecord>,
) {
    let mut records = VecDeque::from(records);
    for stream in streams {
        while records
            .front()
            .is_some_and(|record| record.start_second < stream.first_second)
        {
            extra_records.extend(records.pop_front());
        }
        let record = if records
            .front()
            .is_some_and(|record| record.start_second <= stream.last_second)
        {
            records.pop_front()
        } else {
            None
        };
        pairings.push(Pairing { stream, record });
    }
    extra_records.extend(records);
}

fn print_summary(reports: &[FileReport]) {
    println!(
        "{:<44} {:>7} {:>7} {:>10} {:>12} {:>8}",
        "file", "streams", "matched", "mismatched", "client-wrong", "extra"
    );
    let mut streams = 0;
    let mut matched = 0;
    let mut with_syn = 0;
    let mut client_right = 0;
    let mut extra = 0;
    for report in reports {
        let file_streams = report.pairings.len();
        let file_matched = report.matched();
        println!(
            "{:<44} {:>7} {:>7} {:>10} {:>12} {:>8}",
            report.name,
            file_streams,
            file_matched,
            file_streams - file_matched,
            report.with_syn() - report.client_right(),
            report.extra_records.len()
        );
        for note in &report.notes {
            println!("    note: {note}");
        }
        streams += file_streams;
        matched += file_matched;
        with_syn += report.with_syn();
        client_right += report.client_right();
        extra += report.extra_records.len();
    }
    println!(
        "total: {matched} of {streams} streams match ({}); client right on {client_right} of {with_syn} streams with a SYN or SYN-ACK ({}); {extra} wsd records paired with no stream",
        percent(matched, streams),
        percent(client_right, with_syn)
    );
    println!(
        "(client-wrong counts streams with a SYN or SYN-ACK whose record is missing or names another client; extra counts wsd records paired with no stream)"
    );
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "n/a".to_string();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn print_differences(reports: &[FileReport]) {
    println!();
    println!("mismatched streams (out = client to server, in = server to client):");
    for report in reports {
        for pairing in report.pairings.iter().filter(|p| !p.matches()) {
            println!("{}", describe_mismatch(&report.name, pairing));
        }
    }
    println!();
    println!("wsd records paired with no stream:");
    for report in reports {
        for record in &report.extra_records {
            println!("{} {}", report.name, record.line);
        }
    }
}

fn describe_mismatch(file: &str, pairing: &Pairing) -> String {
    let stream = &pairing.stream;
    let tshark_client = stream.client();
    let head = format!("{file} stream {}", stream.id);
    let Some(record) = &pairing.record else {
        let (client, server) = match tshark_client {
            Some(client) if client == stream.second => (stream.second, stream.first),
            _ => (stream.first, stream.second),
        };
        let (out, inbound) = stream.oriented(client).unwrap_or_default();
        return format!(
            "{head} {client} -> {server}: tshark out {out}, in {inbound}; wsd has no record"
        );
    };
    let (out, inbound) = stream.oriented(record.client).unwrap_or_default();
    let client_note = match tshark_client {
        Some(client) if client != record.client => format!(" [tshark client {client}]"),
        _ => String::new(),
    };
    format!(
        "{head} {} -> {}: tshark out {out}, in {inbound}; wsd out {}, in {}{client_note}",
        record.client, record.server, record.out, record.inbound
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_to_epoch() {
        assert_eq!(parse_utc_time("1970/01/01 00:00:00"), Some(0));
        assert_eq!(parse_utc_time("2018/01/03 16:37:57"), Some(1_514_997_477));
        assert_eq!(parse_utc_time("2000/02/29 00:00:00"), Some(951_782_400));
        assert_eq!(parse_utc_time("2000/03/01 00:00:00"), Some(951_868_800));
        assert_eq!(parse_utc_time("1969/12/31 23:59:59"), Some(-1));
    }

    #[test]
    fn epoch_second_rounds_down() {
        assert_eq!(
            parse_epoch_second("1515026248.970290000"),
            Some(1_515_026_248)
        );
        assert_eq!(parse_epoch_second("-1.500000000"), Some(-2));
        assert_eq!(parse_epoch_second("-1.000000000"), Some(-1));
    }

    #[test]
    fn innermost_ip_version() {
        assert!(innermost_is_ipv6("eth:ethertype:ip:ipv6:tcp"));
        assert!(!innermost_is_ipv6("eth:ethertype:ipv6:ip:tcp"));
        assert!(!innermost_is_ipv6("eth:ethertype:ip:gre:ip:tcp"));
    }

    #[test]
    fn reassembled_segment_counts_its_fragments() {
        let fields = [
            "ppp:ip:tcp",
            "1712909207.361129000",
            "0",
            "1.1.1.1",
            "2.2.2.2",
            "",
            "",
            "12345",
            "8080",
            "1",
            "0",
            "24",
            "0",
            "3",
            "",
        ];
        let fragmented = parse_segment(&fields.join("\t")).expect("segment");
        let mut whole_fields = fields;
        whole_fields[13] = "";
        let whole = parse_segment(&whole_fields.join("\t")).expect("segment");
        let mut tunnel_fields = fields;
        tunnel_fields[0] = "eth:ethertype:ip:gre:eth:ethertype:ip:tcp";
        let tunnel = parse_segment(&tunnel_fields.join("\t")).expect("segment");

        assert_eq!(fragmented.packets, 3);
        assert_eq!(fragmented.bytes, 24);
        assert_eq!(whole.packets, 1);
        assert_eq!(tunnel.packets, 3);
    }

    #[test]
    fn record_line_fields() {
        let line = "TCPFLOW startTime=2018/01/03 16:37:57 sourceMac=10:c3:7b:9b:41:c9 \
                    sourceIp=172.20.1.144 sourcePort=65087 destMac=8:5b:e:6d:14:e8 \
                    destIp=172.20.1.3 destPort=8013 duration=0 packetsIn=1 packetsOut=4 \
                    bytesIn=32 bytesOut=92";
        let record = parse_record(line).expect("record parses");

        assert_eq!(record.start_second, 1_514_997_477);
        assert_eq!(record.client.to_string(), "172.20.1.144:65087");
        assert_eq!(record.server.to_string(), "172.20.1.3:8013");
        assert_eq!(
            record.out,
            Counts {
                packets: 4,
                bytes: 92
            }
        );
        assert_eq!(
            record.inbound,
            Counts {
                packets: 1,
                bytes: 32
            }
        );
    }

    fn endpoint(text: &str) -> Endpoint {
        let (ip, port) = text.rsplit_once(':').expect("address:port");
        Endpoint {
            ip: ip
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .expect("IP address"),
            port: port.parse().expect("port"),
        }
    }

    /// Builds a stream with one bare SYN from `client` at `second`.
    fn syn_stream(id: u64, client: &str, server: &str, second: i64) -> TsharkStream {
        let segment = Segment {
            stream: id,
            second,
            src: endpoint(client),
            dst: endpoint(server),
            syn: true,
            ack: false,
            bytes: 20,
            packets: 1,
        };
        let mut stream = TsharkStream::new(&segment);
        stream.add(&segment);
        stream
    }

    fn syn_record(client: &str, server: &str, start_second: i64) -> WsdRecord {
        WsdRecord {
            start_second,
            client: endpoint(client),
            server: endpoint(server),
            out: Counts {
                packets: 1,
                bytes: 20,
            },
            inbound: Counts::default(),
            line: String::new(),
        }
    }

    #[test]
    fn pairing_leaves_split_record_over() {
        let streams = vec![
            syn_stream(0, "10.0.0.1:40000", "10.0.0.2:80", 100),
            syn_stream(1, "10.0.0.1:40000", "10.0.0.2:80", 200),
        ];
        let records = vec![
            syn_record("10.0.0.1:40000", "10.0.0.2:80", 100),
            syn_record("10.0.0.1:40000", "10.0.0.2:80", 150),
            syn_record("10.0.0.1:40000", "10.0.0.2:80", 200),
        ];
        let (pairings, extra) = pair_streams(streams, records);

        assert_eq!(pairings.len(), 2);
        assert!(pairings[0].matches());
        assert!(pairings[1].matches());
        assert_eq!(
            pairings[1].record.as_ref().map(|r| r.start_second),
            Some(200)
        );
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].start_second, 150);
    }

    #[test]
    fn pairing_without_record() {
        let streams = vec![syn_stream(0, "10.0.0.1:40000", "10.0.0.2:80", 100)];
        let records = vec![syn_record("10.0.0.1:40001", "10.0.0.2:80", 100)];
        let (pairings, extra) = pair_streams(streams, records);

        assert!(pairings[0].record.is_none());
        assert!(!pairings[0].matches());
        assert!(pairings[0].has_syn());
        assert!(!pairings[0].client_right());
        assert_eq!(extra.len(), 1);
    }

    #[test]
    fn counts_oriented_by_record_client() {
        let client = "[2001:db8::1]:40000";
        let server = "[2001:db8::2]:443";
        let mut stream = syn_stream(0, client, server, 100);
        stream.add(&Segment {
            stream: 0,
            second: 100,
            src: endpoint(server),
            dst: endpoint(client),
            syn: true,
            ack: true,
            bytes: 32,
            packets: 1,
        });
        let mut record = syn_record(client, server, 100);
        record.inbound = Counts {
            packets: 1,
            bytes: 32,
        };
        let pairing = Pairing {
            stream,
            record: Some(record),
        };

        assert_eq!(pairing.stream.client(), Some(endpoint(client)));
        assert!(pairing.matches());
        assert!(pairing.client_right());
    }
}
