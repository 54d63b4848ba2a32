//! SCTP end to end. Each test writes a small capture of SCTP associations with
//! `wsd-synth` and runs the `wsd` binary on it. The tests check that
//! associations are keyed by their ports, that records and packet lines show
//! the ports and that the Community ID hashes them. They also check that the
//! flow cache carries the associations from one run to the next.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wsd_capture::Timestamp;
use wsd_synth::{Endpoint, FrameBuilder};

use common::{field, write_ethernet_pcap, wsd_stdout};

const LIMIT: Duration = Duration::from_secs(120);

/// Capture time of the first packet: 2023-11-14 22:13:20 UTC.
const START_SECS: i64 = 1_700_000_000;

/// Community ID of 10.0.0.1:2905 and 10.0.0.2:36412: base64 of the SHA-1 digest
/// of `0000 0a000001 0a000002 8400 0b59 8e3c` (seed 0, the addresses and ports
/// in numeric order, protocol 132 and a zero byte), computed with Python's
/// hashlib.
const ID_2905: &str = "1:mjte/w+xYSJmABKY6JUkhzh/zvk=";
/// The same for port 2906: `0000 0a000001 0a000002 8400 0b5a 8e3c`.
const ID_2906: &str = "1:Azx8l8rQ1Ilo0FqYz7tKGvskd34=";
/// The SCTP flow 192.168.170.8:7 to 192.168.170.56:7 of the Community ID
/// specification's baseline (`baseline/baseline_deflt.json` of the repository
/// `corelight/community-id-spec`).
const ID_BASELINE: &str = "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=";

fn client() -> Endpoint {
    Endpoint::v4([10, 0, 0, 1], 2905)
}

fn second_client() -> Endpoint {
    Endpoint::v4([10, 0, 0, 1], 2906)
}

fn server() -> Endpoint {
    Endpoint::v4([10, 0, 0, 2], 36412)
}

/// One packet of a capture: sender, receiver and bytes of user data.
type Packet = (Endpoint, Endpoint, u16);

/// Two associations between 10.0.0.1 and 10.0.0.2 on client ports 2905 and
/// 2906, and the baseline flow of the Community ID specification. The SCTP
/// packets are 48 bytes with 20 bytes of user data, 32 with 4, 36 with 8 and
/// 128 with 100.
fn packets() -> Vec<Packet> {
    let baseline_a = Endpoint::v4([192, 168, 170, 8], 7);
    let baseline_b = Endpoint::v4([192, 168, 170, 56], 7);
    vec![
        (client(), server(), 20),
        (server(), client(), 4),
        (second_client(), server(), 20),
        (baseline_a, baseline_b, 8),
        (baseline_b, baseline_a, 8),
        (client(), server(), 100),
        (server(), second_client(), 4),
    ]
}

/// Writes `packets` as an Ethernet pcap to `path`, one millisecond apart from
/// `first_index` on.
fn write_capture(path: &Path, packets: &[Packet], first_index: usize) {
    let mut builder = FrameBuilder::new();
    let frames = packets
        .iter()
        .enumerate()
        .map(|(index, &(src, dst, data_len))| {
            let millis = (first_index + index) as u64;
            let ts = Timestamp::from_parts(START_SECS, millis * 1_000_000);
            (ts, builder.sctp(src, dst, 0x1234_5678, data_len))
        });
    write_ethernet_pcap(path, frames);
}

fn stdout_of(args: &[&str]) -> String {
    wsd_stdout(args, LIMIT)
}

fn ipflow_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| line.starts_with("IPFLOW "))
        .collect()
}

#[test]
fn records_keyed_by_port() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let capture = dir.path().join("sctp.pcap");
    write_capture(&capture, &packets(), 0);

    let stdout = stdout_of(&["-r", capture.to_str().unwrap(), "-L", "-"]);
    let lines = ipflow_lines(&stdout);

    assert_eq!(lines.len(), 3, "{stdout}");
    let first = lines[0];
    assert!(
        first.contains(" sourceIp=10.0.0.1 sourcePort=2905 destMac=2:0:a:0:0:2 "),
        "{first}"
    );
    assert!(
        first.contains(" destIp=10.0.0.2 destPort=36412 duration=0 "),
        "{first}"
    );
    assert_eq!(field(first, "packetsOut"), "2");
    assert_eq!(field(first, "packetsIn"), "1");
    assert_eq!(field(first, "bytesOut"), "176");
    assert_eq!(field(first, "bytesIn"), "32");
    assert_eq!(field(first, "payloadBytesOut"), "152");
    assert_eq!(field(first, "protocol"), "132");
    assert_eq!(field(first, "connState"), "OTH");
    assert_eq!(field(first, "communityId"), ID_2905);

    let second = lines[1];
    assert_eq!(field(second, "sourcePort"), "2906");
    assert_eq!(field(second, "destPort"), "36412");
    assert_eq!(field(second, "packetsOut"), "1");
    assert_eq!(field(second, "packetsIn"), "1");
    assert_eq!(field(second, "communityId"), ID_2906);

    let baseline = lines[2];
    assert!(
        baseline.contains(" sourceIp=192.168.170.8 sourcePort=7 "),
        "{baseline}"
    );
    assert!(
        baseline.contains(" destIp=192.168.170.56 destPort=7 "),
        "{baseline}"
    );
    assert_eq!(field(baseline, "communityId"), ID_BASELINE);
}

#[test]
fn json_records_have_ports() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let capture = dir.path().join("sctp.pcap");
    write_capture(&capture, &packets(), 0);

    let stdout = stdout_of(&[
        "-r",
        capture.to_str().unwrap(),
        "--format",
        "json",
        "-L",
        "-",
    ]);
    let records: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("valid JSON"))
        .filter(|record: &Value| record["type"] == "flow")
        .collect();

    assert_eq!(records.len(), 3, "{stdout}");
    let ports: Vec<(u64, u64)> = records
        .iter()
        .map(|record| {
            let port = |name: &str| record[name].as_u64().expect("a port number");
            (port("src_port"), port("dst_port"))
        })
        .collect();
    assert_eq!(ports, [(2905, 36412), (2906, 36412), (7, 7)]);
    let ids: Vec<&str> = records
        .iter()
        .map(|record| record["community_id"].as_str().expect("a string"))
        .collect();
    assert_eq!(ids, [ID_2905, ID_2906, ID_BASELINE]);
    assert_eq!(records[0]["protocol"], 132);
    assert_eq!(records[0]["protocol_name"], "other");
}

#[test]
fn packet_lines_show_ports() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let capture = dir.path().join("sctp.pcap");
    write_capture(&capture, &packets(), 0);

    let stdout = stdout_of(&["-V", "-r", capture.to_str().unwrap(), "-L", "-"]);
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with('['))
        .collect();

    assert_eq!(lines.len(), 7, "{stdout}");
    assert!(
        lines[0].ends_with("        10.0.0.1:2905  ->         10.0.0.2:36412 SCTP"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("        10.0.0.2:36412 <-         10.0.0.1:2905  SCTP"),
        "{}",
        lines[1]
    );
    assert!(
        lines[6].ends_with("        10.0.0.2:36412 <-         10.0.0.1:2906  SCTP"),
        "{}",
        lines[6]
    );
}

/// Without records of other protocols SCTP is not tracked, and `--compat`
/// output stays as it was before SCTP was decoded: no records and no packet
/// lines.
#[test]
fn untracked_without_other_records() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let capture = dir.path().join("sctp.pcap");
    write_capture(&capture, &packets(), 0);
    let capture = capture.to_str().unwrap();

    let selected = stdout_of(&[
        "-V",
        "--protocols",
        "tcp,udp,icmp",
        "-r",
        capture,
        "-L",
        "-",
    ]);
    let compat = stdout_of(&["-V", "--compat", "-r", capture, "-L", "-"]);

    assert_eq!(selected, "");
    assert_eq!(compat, "");
}

#[test]
fn flows_continue_through_cache() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let whole = dir.path().join("whole.pcap");
    let head = dir.path().join("head.pcap");
    let tail = dir.path().join("tail.pcap");
    let cache = dir.path().join("wsd.cache");
    let cache = cache.to_str().unwrap();
    let packets = packets();
    write_capture(&whole, &packets, 0);
    write_capture(&head, &packets[..3], 0);
    write_capture(&tail, &packets[3..], 3);

    let expected = stdout_of(&["-V", "-r", whole.to_str().unwrap(), "-L", "-"]);
    let mut chained = stdout_of(&["-V", "-W", cache, "-r", head.to_str().unwrap(), "-L", "-"]);
    let saved = wsd_flowcache::read_cache(Path::new(cache))
        .expect("a valid cache")
        .expect("a cache file");
    chained.push_str(&stdout_of(&[
        "-V",
        "-R",
        cache,
        "-r",
        tail.to_str().unwrap(),
        "-L",
        "-",
    ]));

    let ports: Vec<(u16, u16)> = saved
        .snapshot
        .flows
        .iter()
        .map(|flow| (flow.client.port, flow.server.port))
        .collect();
    assert_eq!(ports, [(2905, 36412), (2906, 36412)]);
    assert_eq!(chained, expected);
}

/// A cache saved before SCTP was decoded contains one SCTP flow per address
/// pair, keyed with ports 0 and 0. It still loads, and its flow matches no new packet.
#[test]
fn cache_with_portless_flow_loads() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let head = dir.path().join("head.pcap");
    let tail = dir.path().join("tail.pcap");
    let cache = dir.path().join("wsd.cache");
    let packets = packets();
    write_capture(&head, &packets[..2], 0);
    write_capture(&tail, &packets[2..], 2);
    stdout_of(&[
        "-W",
        cache.to_str().unwrap(),
        "-r",
        head.to_str().unwrap(),
        "-L",
        "-",
    ]);
    let mut saved = wsd_flowcache::read_cache(&cache)
        .expect("a valid cache")
        .expect("a cache file");
    assert_eq!(saved.snapshot.flows.len(), 1);
    saved.snapshot.flows[0].client.port = 0;
    saved.snapshot.flows[0].server.port = 0;
    wsd_flowcache::write_cache(&cache, &saved.snapshot, "test").expect("write the cache");

    let stdout = stdout_of(&[
        "-R",
        cache.to_str().unwrap(),
        "-r",
        tail.to_str().unwrap(),
        "-L",
        "-",
    ]);
    let lines = ipflow_lines(&stdout);

    assert_eq!(lines.len(), 4, "{stdout}");
    let portless = lines[0];
    assert_eq!(field(portless, "sourcePort"), "0");
    assert_eq!(field(portless, "destPort"), "0");
    assert_eq!(field(portless, "packetsOut"), "1");
    assert_eq!(field(portless, "packetsIn"), "1");
    let new_flow = lines
        .iter()
        .find(|line| field(line, "sourcePort") == "2905")
        .expect("a record of the association on port 2905");
    assert_eq!(field(new_flow, "packetsOut"), "1");
    assert_eq!(field(new_flow, "packetsIn"), "0");
    assert_eq!(field(new_flow, "communityId"), ID_2905);
}
