//! The `flowcache` command as a user runs it: caches made from the fixture
//! captures with the same libraries as `wsd`, and hand-built caches with every
//! protocol and state.

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use wsd_capture::{FileSource, PacketSource, Timestamp};
use wsd_decode::{decode, MacAddr, Vlans};
use wsd_flow::{
    CloseState, Counters, EndReason, EndpointState, FlowSnapshot, History, SideSnapshot, Tracker,
    TrackerConfig, TrackerSnapshot,
};
use wsd_logfmt::{format_flow_record_start, LocalTimeFormatter};

/// Runs `flowcache` with `args` in time zone `tz`.
fn run_in_zone(args: &[&str], tz: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowcache"))
        .args(args)
        .env("TZ", tz)
        .output()
        .expect("flowcache runs")
}

/// Runs `flowcache` with `args` in UTC.
fn run(args: &[&str]) -> Output {
    run_in_zone(args, "UTC")
}

fn stdout_text(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("output is UTF-8")
}

fn stderr_text(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("messages are UTF-8")
}

/// Runs `flowcache` in UTC, expects exit status 0 and no message, and returns
/// the output lines.
fn lines_of(args: &[&str]) -> Vec<String> {
    let output = run(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "flowcache {args:?}: {}",
        stderr_text(&output)
    );
    assert_eq!(stderr_text(&output), "", "flowcache {args:?}");
    stdout_text(&output).lines().map(str::to_string).collect()
}

fn json_lines_of(args: &[&str]) -> Vec<Value> {
    lines_of(args)
        .iter()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON value"))
        .collect()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn fixture_capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/captures")
        .join(name)
}

/// Reads `capture` through decoding and a tracker, as `wsd -r` does, without
/// finishing the flows still open at the end.
fn track_capture(capture: &Path) -> Tracker {
    let mut source = FileSource::open(capture).expect("fixture capture opens");
    let mut tracker = Tracker::new(TrackerConfig::default());
    while let Some(packet) = source.next_packet().expect("fixture capture reads") {
        let decoded = decode(packet.linktype, packet.data);
        tracker.process(packet.ts, &decoded);
        tracker.drain_finished().for_each(drop);
    }
    tracker
}

/// Writes the cache `wsd -W` would write after reading `capture`.
fn cache_from_capture(capture: &Path, dir: &Path) -> PathBuf {
    let tracker = track_capture(capture);
    let name = capture.file_stem().expect("capture has a name");
    let path = dir.join(name).with_extension("cache");
    wsd_flowcache::write_cache(&path, &tracker.snapshot(), "test").expect("cache is written");
    path
}

fn write_snapshot(dir: &Path, name: &str, snapshot: &TrackerSnapshot) -> PathBuf {
    let path = dir.join(name);
    wsd_flowcache::write_cache(&path, snapshot, "test 1.0").expect("cache is written");
    path
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("valid test address")
}

fn side(address: &str, port: u16, packets: u64, bytes: u64) -> SideSnapshot {
    SideSnapshot {
        ip: ip(address),
        port,
        mac: None,
        mac_from_own_packet: false,
        counters: Counters {
            packets,
            bytes,
            payload_bytes: bytes / 2,
            ip_bytes: bytes + 20 * packets,
            ..Counters::default()
        },
        isn: None,
        isn_from_peer_ack: false,
        fin: false,
        state: EndpointState::Partial,
        stream: None,
    }
}

/// 2023-11-14 22:13:20 UTC.
const BASE_SECONDS: i64 = 1_700_000_000;

fn flow(
    serial: u64,
    protocol: u8,
    client: SideSnapshot,
    server: SideSnapshot,
    seconds: (i64, i64),
) -> FlowSnapshot {
    let first_ts = Timestamp::from_parts(BASE_SECONDS + seconds.0, 250_000_000);
    let last_ts = Timestamp::from_parts(BASE_SECONDS + seconds.1, 750_000_000);
    FlowSnapshot {
        protocol,
        key_vlans: [0, 0],
        vlans: Vlans::default(),
        client,
        server,
        first_ts,
        last_ts,
        touched: last_ts,
        serial,
        midstream: false,
        syn_seen: false,
        closed: CloseState::Open,
        history: History::EMPTY,
        tunnel: None,
        icmp: None,
        interim_due: None,
    }
}

/// Seven flows: TCP open, closed by FINs and by a RST, UDP, ICMPv6, GRE and a
/// TCP flow on two VLANs.
fn sample_snapshot() -> TrackerSnapshot {
    let mut open = flow(
        0,
        6,
        side("10.0.0.1", 40000, 5, 100),
        side("10.0.0.2", 80, 4, 1000),
        (0, 30),
    );
    open.syn_seen = true;
    open.client.mac = Some(MacAddr([2, 0, 0, 0, 0, 1]));
    open.client.mac_from_own_packet = true;
    open.server.mac = Some(MacAddr([2, 0, 0, 0, 0, 0x2a]));
    open.client.isn = Some(1000);
    open.server.isn = Some(5000);
    open.server.isn_from_peer_ack = true;

    let mut fin = flow(
        1,
        6,
        side("10.0.0.1", 40001, 6, 200),
        side("10.0.0.3", 443, 5, 300),
        (10, 12),
    );
    fin.closed = CloseState::Fin;
    fin.client.fin = true;
    fin.server.fin = true;

    let mut rst = flow(
        2,
        6,
        side("10.0.0.4", 50000, 1, 50),
        side("10.0.0.2", 80, 0, 0),
        (20, 20),
    );
    rst.closed = CloseState::Rst;
    rst.midstream = true;

    let udp = flow(
        3,
        17,
        side("10.0.0.1", 5353, 1, 40),
        side("10.0.0.53", 53, 1, 120),
        (5, 6),
    );
    let icmp = flow(
        4,
        58,
        side("2001:db8::1", 0, 2, 128),
        side("2001:db8::2", 0, 2, 128),
        (7, 8),
    );
    let gre = flow(
        5,
        47,
        side("10.0.0.5", 0, 3, 300),
        side("10.0.0.6", 0, 0, 0),
        (9, 9),
    );
    let mut tagged = flow(
        6,
        6,
        side("10.1.0.1", 41000, 2, 80),
        side("10.1.0.2", 22, 2, 90),
        (3, 100),
    );
    tagged.vlans = Vlans {
        ids: [100, 200],
        count: 2,
    };
    tagged.key_vlans = [100, 200];

    TrackerSnapshot {
        clock: Some(Timestamp::from_parts(BASE_SECONDS + 100, 750_000_000)),
        next_serial: 7,
        flows: vec![open, fin, rst, udp, icmp, gre, tagged],
        fragments: Vec::new(),
    }
}

/// Builds a snapshot of `count` open TCP flows, each from its own client address.
fn many_flows(count: u64) -> TrackerSnapshot {
    let flows = (0..count)
        .map(|n| {
            let client = format!("10.{}.{}.{}", n >> 16 & 0xff, n >> 8 & 0xff, n & 0xff);
            let port = 1024 + (n % 60_000) as u16;
            flow(
                n,
                6,
                side(&client, port, 3, 180),
                side("192.0.2.80", 80, 2, 1200),
                (0, 1),
            )
        })
        .collect();
    TrackerSnapshot {
        clock: Some(Timestamp::from_parts(BASE_SECONDS + 1, 750_000_000)),
        next_serial: count,
        flows,
        fragments: Vec::new(),
    }
}

fn sample_cache(dir: &Path) -> PathBuf {
    write_snapshot(dir, "sample.cache", &sample_snapshot())
}

/// The line of flow `index` of `sample_snapshot`, in UTC.
const SAMPLE_LINES: [&str; 7] = [
    "TCPFLOW startTime=2023/11/14 22:13:20 sourceMac=2:0:0:0:0:1 sourceIp=10.0.0.1 \
     sourcePort=40000 destMac=2:0:0:0:0:2a destIp=10.0.0.2 destPort=80 duration=30 \
     packetsIn=4 packetsOut=5 bytesIn=1000 bytesOut=100 state=open midstream=no \
     lastTime=2023/11/14 22:13:50",
    "TCPFLOW startTime=2023/11/14 22:13:30 sourceMac=0:0:0:0:0:0 sourceIp=10.0.0.1 \
     sourcePort=40001 destMac=0:0:0:0:0:0 destIp=10.0.0.3 destPort=443 duration=2 \
     packetsIn=5 packetsOut=6 bytesIn=300 bytesOut=200 state=fin midstream=no \
     lastTime=2023/11/14 22:13:32",
    "TCPFLOW startTime=2023/11/14 22:13:40 sourceMac=0:0:0:0:0:0 sourceIp=10.0.0.4 \
     sourcePort=50000 destMac=0:0:0:0:0:0 destIp=10.0.0.2 destPort=80 duration=0 \
     packetsIn=0 packetsOut=1 bytesIn=0 bytesOut=50 state=rst midstream=yes \
     lastTime=2023/11/14 22:13:40",
    "UDPFLOW startTime=2023/11/14 22:13:25 sourceMac=0:0:0:0:0:0 sourceIp=10.0.0.1 \
     sourcePort=5353 destMac=0:0:0:0:0:0 destIp=10.0.0.53 destPort=53 duration=1 \
     packetsIn=1 packetsOut=1 bytesIn=120 bytesOut=40 state=open midstream=no \
     lastTime=2023/11/14 22:13:26",
    "ICMPFLOW startTime=2023/11/14 22:13:27 sourceMac=0:0:0:0:0:0 sourceIp=2001:db8::1 \
     destMac=0:0:0:0:0:0 destIp=2001:db8::2 duration=1 \
     packetsIn=2 packetsOut=2 bytesIn=128 bytesOut=128 state=open midstream=no \
     lastTime=2023/11/14 22:13:28",
    "IPFLOW startTime=2023/11/14 22:13:29 sourceMac=0:0:0:0:0:0 sourceIp=10.0.0.5 \
     destMac=0:0:0:0:0:0 destIp=10.0.0.6 duration=0 \
     packetsIn=0 packetsOut=3 bytesIn=0 bytesOut=300 state=open midstream=no \
     lastTime=2023/11/14 22:13:29",
    "TCPFLOW startTime=2023/11/14 22:13:23 sourceMac=0:0:0:0:0:0 sourceIp=10.1.0.1 \
     sourcePort=41000 destMac=0:0:0:0:0:0 destIp=10.1.0.2 destPort=22 duration=97 \
     packetsIn=2 packetsOut=2 bytesIn=90 bytesOut=80 state=open midstream=no \
     lastTime=2023/11/14 22:15:00",
];

/// Returns the lines of the flows of `sample_snapshot` at `indexes`, in that order.
fn sample_lines(indexes: &[usize]) -> Vec<String> {
    indexes
        .iter()
        .map(|&index| SAMPLE_LINES[index].to_string())
        .collect()
}

#[test]
fn listing_of_hand_built_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let lines = lines_of(&[path_str(&cache)]);
    assert_eq!(lines, sample_lines(&[0, 1, 2, 3, 4, 5, 6]));
}

#[test]
fn listing_matches_wsd_records() {
    let dir = tempfile::tempdir().unwrap();
    for capture in ["lossy.pcap", "port_reuse.pcap", "tagged_v6.pcap"] {
        let capture = fixture_capture(capture);
        let cache = cache_from_capture(&capture, dir.path());
        let listing = lines_of(&[path_str(&cache)]);

        // The records wsd writes for the same flows when its input ends.
        let mut tracker = track_capture(&capture);
        tracker.finish();
        let mut clock = LocalTimeFormatter::utc();
        let mut expected = Vec::new();
        for record in tracker
            .drain_finished()
            .filter(|record| record.protocol == 6)
        {
            let mut line = Vec::new();
            format_flow_record_start(&mut line, &record, &mut clock);
            expected.push(String::from_utf8(line).unwrap().trim_end().to_string());
        }
        expected.sort();

        let mut listed: Vec<String> = listing
            .iter()
            .filter(|line| line.starts_with("TCPFLOW "))
            .map(|line| {
                let end = line.find(" state=").expect("every line has a state");
                line[..end].to_string()
            })
            .collect();
        listed.sort();
        assert!(
            !listed.is_empty(),
            "{}: no TCP flow cached",
            capture.display()
        );
        assert_eq!(listed, expected, "{}", capture.display());
    }
}

#[test]
fn listing_of_version_1_file() {
    // Written by wsd 0.1.0 from fixtures/captures/tagged_v6.pcap. Files of format
    // version 1 must keep listing the same after later versions appear.
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1_tagged_v6.cache");
    let lines = lines_of(&[path_str(&cache)]);
    let expected = [
        "UDPFLOW startTime=2023/11/14 22:13:20 sourceMac=2:0:c0:a8:1:7 sourceIp=192.168.1.7 \
         sourcePort=5353 destMac=2:0:a:0:0:7 destIp=10.0.0.7 destPort=53 duration=0 \
         packetsIn=1 packetsOut=1 bytesIn=128 bytesOut=48 state=open midstream=no \
         lastTime=2023/11/14 22:13:20",
        "TCPFLOW startTime=2023/11/14 22:13:20 sourceMac=2:0:0:0:0:1 sourceIp=2001:db8::1 \
         sourcePort=41000 destMac=2:0:0:0:0:2 destIp=2001:db8::2 destPort=443 duration=0 \
         packetsIn=3 packetsOut=5 bytesIn=1460 bytesOut=617 state=fin midstream=no \
         lastTime=2023/11/14 22:13:20",
        "TCPFLOW startTime=2023/11/14 22:13:20 sourceMac=2:0:c0:a8:1:6 sourceIp=192.168.1.6 \
         sourcePort=42000 destMac=2:0:a:0:0:6 destIp=10.0.0.6 destPort=80 duration=0 \
         packetsIn=3 packetsOut=5 bytesIn=80 bytesOut=110 state=fin midstream=no \
         lastTime=2023/11/14 22:13:20",
    ];
    assert_eq!(lines, expected);

    let summary = json_lines_of(&["--summary", "--json", path_str(&cache)]);
    assert_eq!(summary[0]["writer"], "wsd 0.1.0");
    assert_eq!(summary[0]["format_version"], 1);
}

#[test]
fn times_follow_tz() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    // A POSIX TZ string for UTC+2, which needs no time zone database.
    let output = run_in_zone(&[path_str(&cache)], "<+02>-2");
    assert_eq!(output.status.code(), Some(0));
    let text = stdout_text(&output);
    let first = text.lines().next().expect("one line per flow");
    assert!(first.contains(" startTime=2023/11/15 00:13:20 "), "{first}");
    assert!(first.ends_with(" lastTime=2023/11/15 00:13:50"), "{first}");

    let output = run_in_zone(&["--json", path_str(&cache)], "<+02>-2");
    let first: Value = serde_json::from_str(stdout_text(&output).lines().next().unwrap()).unwrap();
    assert_eq!(first["first_local"], "2023/11/15 00:13:20");
    assert_eq!(first["first_ts"], "1700000000.250000000");
}

/// `--format json` and `--format text` give what `--json` and no option give,
/// and `--format` with `--json` is a usage error.
#[test]
fn format_option_as_wsd_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let cache = path_str(&cache);
    assert_eq!(
        lines_of(&["--format", "json", cache]),
        lines_of(&["--json", cache])
    );
    assert_eq!(
        lines_of(&["--format", "json", "--summary", cache]),
        lines_of(&["--json", "--summary", cache])
    );
    assert_eq!(lines_of(&["--format", "text", cache]), lines_of(&[cache]));

    let both = run(&["--format", "json", "--json", cache]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr_text(&both).contains("cannot be used with"));
}

#[test]
fn json_has_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let flows = json_lines_of(&["--json", path_str(&cache)]);
    assert_eq!(flows.len(), 7);

    let open = &flows[0];
    assert_eq!(open["file"], path_str(&cache));
    assert_eq!(open["serial"], 0);
    assert_eq!(open["protocol"], 6);
    assert_eq!(open["state"], "open");
    assert_eq!(open["midstream"], false);
    assert_eq!(open["syn_seen"], true);
    assert_eq!(open["vlans"], serde_json::json!([]));
    assert_eq!(open["vlan_count"], 0);
    assert_eq!(open["key_vlans"], serde_json::json!([0, 0]));
    assert_eq!(open["first_ts"], "1700000000.250000000");
    assert_eq!(open["last_ts"], "1700000030.750000000");
    assert_eq!(open["touched"], "1700000030.750000000");
    assert_eq!(open["first_local"], "2023/11/14 22:13:20");
    assert_eq!(open["last_local"], "2023/11/14 22:13:50");
    // Both sides of the sample were picked up mid-stream and are still open.
    assert_eq!(open["conn_state"], "OTH");
    assert_eq!(open["history"], "");
    assert!(open["tunnel"].is_null());
    assert!(open["icmp"].is_null());

    let client = &open["client"];
    assert_eq!(client["ip"], "10.0.0.1");
    assert_eq!(client["port"], 40000);
    assert_eq!(client["mac"], "02:00:00:00:00:01");
    assert_eq!(client["mac_from_own_packet"], true);
    assert_eq!(client["packets"], 5);
    assert_eq!(client["bytes"], 100);
    assert_eq!(client["payload_bytes"], 50);
    assert_eq!(client["ip_bytes"], 200);
    assert_eq!(client["isn"], 1000);
    assert_eq!(client["isn_from_peer_ack"], false);
    assert_eq!(client["fin"], false);
    assert_eq!(client["stream_bytes"], 0);
    assert_eq!(client["missed_bytes"], 0);
    assert_eq!(client["retransmitted_packets"], 0);
    assert_eq!(client["retransmitted_bytes"], 0);

    let server = &open["server"];
    assert_eq!(server["ip"], "10.0.0.2");
    assert_eq!(server["mac"], "02:00:00:00:00:2a");
    assert_eq!(server["mac_from_own_packet"], false);
    assert_eq!(server["isn"], 5000);
    assert_eq!(server["isn_from_peer_ack"], true);

    assert_eq!(flows[1]["state"], "fin");
    assert_eq!(flows[1]["client"]["fin"], true);
    assert_eq!(flows[1]["server"]["fin"], true);
    assert_eq!(flows[2]["state"], "rst");
    assert_eq!(flows[2]["midstream"], true);

    let udp = &flows[3];
    assert_eq!(udp["protocol"], 17);
    assert_eq!(udp["client"]["mac"], Value::Null);
    assert_eq!(udp["client"]["isn"], Value::Null);

    assert_eq!(flows[4]["client"]["ip"], "2001:db8::1");
    assert_eq!(flows[6]["vlans"], serde_json::json!([100, 200]));
    assert_eq!(flows[6]["vlan_count"], 2);
    assert_eq!(flows[6]["key_vlans"], serde_json::json!([100, 200]));
}

#[test]
fn json_of_capture_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_from_capture(&fixture_capture("tagged_v6.pcap"), dir.path());
    let flows = json_lines_of(&["--json", path_str(&cache)]);
    let listing = lines_of(&[path_str(&cache)]);
    assert_eq!(flows.len(), listing.len());
    for flow in &flows {
        for key in ["client", "server"] {
            assert!(flow[key]["ip"].is_string(), "{flow}");
            assert!(flow[key]["packets"].is_u64(), "{flow}");
        }
    }
}

#[test]
fn summary_text_of_sample() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let text = lines_of(&["--summary", path_str(&cache)]).join("\n");
    let expected = format!(
        "file:           {}\n\
         writer:         test 1.0 (format version 4)\n\
         capture clock:  2023/11/14 22:15:00 (1700000100.750000000)\n\
         flows:          7\n  \
           by state:     open: 5, fin: 1, rst: 1\n  \
           by protocol:  tcp: 4, udp: 1, protocol 47: 1, icmpv6: 1\n\
         first packet:   2023/11/14 22:13:20 (1700000000.250000000)\n\
         last packet:    2023/11/14 22:15:00 (1700000100.750000000)\n\
         fragment table: 0 datagrams (0 with a first fragment too short for its transport header)\n\
         top talkers (IP by bytes sent and received):\n  \
           10.0.0.1     1760 bytes (sent 340, received 1420) in 3 flows\n  \
           10.0.0.2     1150 bytes (sent 1000, received 150) in 2 flows\n  \
           10.0.0.3      500 bytes (sent 300, received 200) in 1 flow\n  \
           10.0.0.5      300 bytes (sent 300, received 0) in 1 flow\n  \
           10.0.0.6      300 bytes (sent 0, received 300) in 1 flow\n  \
           2001:db8::1   256 bytes (sent 128, received 128) in 1 flow\n  \
           2001:db8::2   256 bytes (sent 128, received 128) in 1 flow\n  \
           10.1.0.1      170 bytes (sent 80, received 90) in 1 flow\n  \
           10.1.0.2      170 bytes (sent 90, received 80) in 1 flow\n  \
           10.0.0.53     160 bytes (sent 120, received 40) in 1 flow\n\
         top server ports (by flows):\n  \
           80/tcp   2 flows\n  \
           22/tcp   1 flow\n  \
           443/tcp  1 flow\n  \
           53/udp   1 flow",
        path_str(&cache)
    );
    assert_eq!(text, expected);
}

#[test]
fn summary_json_of_sample() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let summaries = json_lines_of(&["--summary", "--json", path_str(&cache)]);
    assert_eq!(summaries.len(), 1);
    let summary = &summaries[0];
    assert_eq!(summary["file"], path_str(&cache));
    assert_eq!(summary["writer"], "test 1.0");
    assert_eq!(summary["format_version"], 4);
    assert_eq!(summary["fragment_datagrams"], 0);
    assert_eq!(summary["tiny_first_fragments"], 0);
    assert_eq!(summary["clock_ts"], "1700000100.750000000");
    assert_eq!(summary["clock_local"], "2023/11/14 22:15:00");
    assert_eq!(summary["next_serial"], 7);
    assert_eq!(summary["flows"], 7);
    assert_eq!(summary["flows_in_file"], 7);
    assert_eq!(
        summary["by_state"],
        serde_json::json!({"open": 5, "fin": 1, "rst": 1})
    );
    assert_eq!(
        summary["by_protocol"],
        serde_json::json!({"tcp": 4, "udp": 1, "icmpv6": 1, "47": 1})
    );
    assert_eq!(summary["first_ts"], "1700000000.250000000");
    assert_eq!(summary["last_ts"], "1700000100.750000000");
    assert_eq!(summary["first_local"], "2023/11/14 22:13:20");
    assert_eq!(summary["last_local"], "2023/11/14 22:15:00");

    let talkers = summary["top_talkers"].as_array().unwrap();
    assert_eq!(talkers.len(), 10);
    assert_eq!(
        talkers[0],
        serde_json::json!({"ip": "10.0.0.1", "bytes": 1760, "bytes_sent": 340,
                           "bytes_received": 1420, "flows": 3})
    );
    let ports = summary["top_server_ports"].as_array().unwrap();
    assert_eq!(ports.len(), 4);
    assert_eq!(
        ports[0],
        serde_json::json!({"protocol": "tcp", "port": 80, "flows": 2})
    );
}

#[test]
fn summary_of_empty_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = write_snapshot(dir.path(), "empty.cache", &TrackerSnapshot::default());
    let text = lines_of(&["--summary", path_str(&cache)]).join("\n");
    assert!(text.contains("capture clock:  none\n"), "{text}");
    assert!(text.contains("flows:          0\n"), "{text}");
    assert!(text.contains("by protocol:  none\n"), "{text}");
    assert!(text.contains("first packet:   none\n"), "{text}");

    let summary = &json_lines_of(&["--summary", "--json", path_str(&cache)])[0];
    assert_eq!(summary["clock_ts"], Value::Null);
    assert_eq!(summary["first_ts"], Value::Null);
    assert_eq!(summary["top_talkers"], serde_json::json!([]));
    assert!(lines_of(&[path_str(&cache)]).is_empty());
}

#[test]
fn summary_top_lists_keep_ten() {
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot = many_flows(30);
    for (n, flow) in snapshot.flows.iter_mut().enumerate() {
        flow.server.port = 8000 + (n % 15) as u16;
        flow.client.counters.bytes = n as u64;
    }
    let cache = write_snapshot(dir.path(), "many.cache", &snapshot);
    let summary = &json_lines_of(&["--summary", "--json", path_str(&cache)])[0];

    let talkers = summary["top_talkers"].as_array().unwrap();
    assert_eq!(talkers.len(), 10);
    assert_eq!(talkers[0]["ip"], "192.0.2.80");
    assert_eq!(talkers[0]["flows"], 30);
    assert_eq!(talkers[1]["ip"], "10.0.0.29");
    assert_eq!(talkers[9]["ip"], "10.0.0.21");

    let ports = summary["top_server_ports"].as_array().unwrap();
    assert_eq!(ports.len(), 10);
    assert_eq!(ports[0]["port"], 8000);
    assert_eq!(ports[0]["flows"], 2);
    assert_eq!(ports[9]["port"], 8009);
}

#[test]
fn summary_with_filter() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let text = lines_of(&["--summary", "--protocol", "tcp", path_str(&cache)]).join("\n");
    assert!(
        text.contains("flows:          4 matching the filters, of 7 in the file\n"),
        "{text}"
    );
    assert!(
        text.contains("by state:     open: 2, fin: 1, rst: 1\n"),
        "{text}"
    );
    assert!(text.contains("by protocol:  tcp: 4\n"), "{text}");
    assert!(!text.contains("53/udp"), "{text}");

    let summary = &json_lines_of(&["--summary", "--json", "--state", "rst", path_str(&cache)])[0];
    assert_eq!(summary["flows"], 1);
    assert_eq!(summary["flows_in_file"], 7);
    assert_eq!(summary["first_ts"], "1700000020.250000000");
}

/// Builds a snapshot of `count` flows of several protocols, states, addresses
/// and ports, over more than one 256 KiB read window of the file.
fn varied_flows(count: u64) -> TrackerSnapshot {
    let flows = (0..count)
        .map(|n| {
            let protocol = [6, 6, 6, 17, 17, 1, 58, 47][(n % 8) as usize];
            let (client, server) = match protocol {
                58 => (
                    format!("2001:db8::{:x}", n % 97),
                    "2001:db8::1:0".to_string(),
                ),
                _ => (
                    format!("10.0.{}.{}", n % 7, n % 251),
                    format!("192.0.2.{}", n % 13),
                ),
            };
            let has_ports = protocol == 6 || protocol == 17;
            let client_port = if has_ports {
                1024 + (n % 50_000) as u16
            } else {
                0
            };
            let server_port = if has_ports {
                [80, 443, 53, 22, 8080][(n % 5) as usize]
            } else {
                0
            };
            let start = (n * 7 % 1000) as i64;
            let mut flow = flow(
                n,
                protocol,
                side(&client, client_port, 1 + n % 9, n * 31 % 5000),
                side(&server, server_port, n % 4, n * 17 % 9000),
                (start, start + (n % 50) as i64),
            );
            if protocol == 6 {
                flow.closed =
                    [CloseState::Open, CloseState::Fin, CloseState::Rst][(n % 3) as usize];
            }
            // A flow between a server and itself, which counts once among the
            // top talkers.
            if protocol == 47 && n % 3 == 0 {
                flow.client.ip = flow.server.ip;
            }
            flow
        })
        .collect();
    TrackerSnapshot {
        clock: Some(Timestamp::from_parts(BASE_SECONDS + 1100, 0)),
        next_serial: count,
        flows,
        fragments: Vec::new(),
    }
}

/// The figures that `--summary --json` should give for the flows of `snapshot`
/// that `keep` accepts, counted here without the tool's code.
fn expected_summary(snapshot: &TrackerSnapshot, keep: impl Fn(&FlowSnapshot) -> bool) -> Value {
    let matching: Vec<&FlowSnapshot> = snapshot.flows.iter().filter(|flow| keep(flow)).collect();
    let state_count =
        |state: CloseState| matching.iter().filter(|flow| flow.closed == state).count();
    let mut by_protocol = serde_json::Map::new();
    for flow in &matching {
        let name = match flow.protocol {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            1 => "icmp".to_string(),
            58 => "icmpv6".to_string(),
            other => other.to_string(),
        };
        let count = by_protocol.entry(name).or_insert(Value::from(0));
        *count = Value::from(count.as_u64().unwrap() + 1);
    }

    // Bytes in both directions, sent, received and flows of each address.
    let mut talkers: std::collections::HashMap<IpAddr, [u64; 4]> = Default::default();
    for flow in &matching {
        let (up, down) = (flow.client.counters.bytes, flow.server.counters.bytes);
        let mut add = |ip: IpAddr, sent: u64, received: u64| {
            let talker = talkers.entry(ip).or_default();
            talker[0] += up + down;
            talker[1] += sent;
            talker[2] += received;
            talker[3] += 1;
        };
        if flow.client.ip == flow.server.ip {
            add(flow.client.ip, up + down, up + down);
        } else {
            add(flow.client.ip, up, down);
            add(flow.server.ip, down, up);
        }
    }
    let mut talkers: Vec<(IpAddr, [u64; 4])> = talkers.into_iter().collect();
    talkers.sort_by_key(|&(ip, figures)| (std::cmp::Reverse(figures[0]), ip));
    let top_talkers: Vec<Value> = talkers
        .iter()
        .take(10)
        .map(|(ip, figures)| {
            serde_json::json!({"ip": ip.to_string(), "bytes": figures[0],
                               "bytes_sent": figures[1], "bytes_received": figures[2],
                               "flows": figures[3]})
        })
        .collect();

    let mut ports: std::collections::HashMap<(u8, u16), u64> = Default::default();
    for flow in matching
        .iter()
        .filter(|flow| flow.protocol == 6 || flow.protocol == 17)
    {
        *ports.entry((flow.protocol, flow.server.port)).or_default() += 1;
    }
    let mut ports: Vec<((u8, u16), u64)> = ports.into_iter().collect();
    ports.sort_by_key(|&(key, flows)| (std::cmp::Reverse(flows), key));
    let top_server_ports: Vec<Value> = ports
        .iter()
        .take(10)
        .map(|&((protocol, port), flows)| {
            let protocol = if protocol == 6 { "tcp" } else { "udp" };
            serde_json::json!({"protocol": protocol, "port": port, "flows": flows})
        })
        .collect();

    let epoch = |ts: Timestamp| {
        format!(
            "{}.{:09}",
            ts.as_nanos() / 1_000_000_000,
            ts.as_nanos() % 1_000_000_000
        )
    };
    serde_json::json!({
        "flows": matching.len(),
        "flows_in_file": snapshot.flows.len(),
        "by_state": {"open": state_count(CloseState::Open), "fin": state_count(CloseState::Fin),
                     "rst": state_count(CloseState::Rst)},
        "by_protocol": by_protocol,
        "first_ts": matching.iter().map(|flow| flow.first_ts).min().map(epoch),
        "last_ts": matching.iter().map(|flow| flow.last_ts).max().map(epoch),
        "top_talkers": top_talkers,
        "top_server_ports": top_server_ports,
    })
}

/// Filter options and a test of the flows they keep.
type FilterCase = (&'static [&'static str], fn(&FlowSnapshot) -> bool);

#[test]
fn summary_of_large_cache_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = varied_flows(20_000);
    let cache = write_snapshot(dir.path(), "varied.cache", &snapshot);
    assert!(std::fs::metadata(&cache).unwrap().len() > 512 * 1024);
    let cases: [FilterCase; 4] = [
        (&[], |_| true),
        (&["--protocol", "tcp", "--state", "open"], |flow| {
            flow.protocol == 6 && flow.closed == CloseState::Open
        }),
        (&["--port", "443"], |flow| {
            flow.client.port == 443 || flow.server.port == 443
        }),
        (&["--protocol", "47"], |flow| flow.protocol == 47),
    ];
    for (filter, keep) in cases {
        let mut args = vec!["--summary", "--json"];
        args.extend_from_slice(filter);
        args.push(path_str(&cache));
        let summary = &json_lines_of(&args)[0];
        let expected = expected_summary(&snapshot, keep);
        for (key, value) in expected.as_object().unwrap() {
            assert_eq!(&summary[key], value, "{key} with {filter:?}");
        }
    }
}

#[test]
fn listing_of_large_cache_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = varied_flows(20_000);
    let cache = write_snapshot(dir.path(), "varied.cache", &snapshot);

    let serials: Vec<u64> = json_lines_of(&["--json", path_str(&cache)])
        .iter()
        .map(|flow| flow["serial"].as_u64().expect("serial is a number"))
        .collect();
    assert_eq!(serials, (0..20_000).collect::<Vec<u64>>());

    let lines = lines_of(&["--state", "rst", path_str(&cache)]);
    let rst_flows = snapshot
        .flows
        .iter()
        .filter(|flow| flow.closed == CloseState::Rst)
        .count();
    assert_eq!(lines.len(), rst_flows);
    assert!(lines.iter().all(|line| line.contains(" state=rst ")));
}

/// Raises the flow count in the trailer of the cache at `path` by one and
/// writes the matching checksum, so that the file passes its checksum but ends
/// before its last flow.
fn claim_one_more_flow(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let count_at = bytes.len() - 12;
    let mut count = [0u8; 8];
    count.copy_from_slice(&bytes[count_at..count_at + 8]);
    let count = u64::from_le_bytes(count) + 1;
    bytes[count_at..count_at + 8].copy_from_slice(&count.to_le_bytes());
    let checksum_at = bytes.len() - 4;
    let checksum = crc32fast::hash(&bytes[..checksum_at]);
    bytes[checksum_at..].copy_from_slice(&checksum.to_le_bytes());
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn decode_error_after_listed_flows() {
    let dir = tempfile::tempdir().unwrap();
    let cache = write_snapshot(dir.path(), "short.cache", &many_flows(3000));
    claim_one_more_flow(&cache);
    let sample = sample_cache(dir.path());
    let message_start = format!("flowcache: {}: invalid contents at byte ", cache.display());

    // The flows before the error are listed, then the file is reported and
    // the next file is still read.
    let output = run(&[path_str(&cache), path_str(&sample)]);
    assert_eq!(output.status.code(), Some(2));
    let listed = stdout_text(&output);
    assert_eq!(listed.lines().count(), 3000 + 7);
    let message = stderr_text(&output);
    assert!(message.starts_with(&message_start), "{message}");
    // Flows are numbered from 1 in messages: the claimed one past the 3,000 listed.
    assert!(message.contains(": flow 3001 of 3001: "), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");

    // A summary is written only once the whole file is read.
    let output = run(&["--summary", path_str(&cache)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(stderr_text(&output).starts_with(&message_start));

    let message = check_failure(&cache);
    assert!(message.starts_with(&message_start), "{message}");
}

#[test]
fn filter_by_host() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let cache = path_str(&cache);
    assert_eq!(
        lines_of(&["--host", "10.0.0.2", cache]),
        sample_lines(&[0, 2])
    );
    assert_eq!(
        lines_of(&["--host", "10.0.0.1", cache]),
        sample_lines(&[0, 1, 3])
    );
    assert_eq!(
        lines_of(&["--host", "2001:db8:0::2", cache]),
        sample_lines(&[4])
    );
    assert!(lines_of(&["--host", "192.0.2.1", cache]).is_empty());
}

#[test]
fn filter_by_port() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let cache = path_str(&cache);
    assert_eq!(lines_of(&["--port", "80", cache]), sample_lines(&[0, 2]));
    assert_eq!(lines_of(&["--port", "40001", cache]), sample_lines(&[1]));
    assert_eq!(lines_of(&["--port", "0", cache]), sample_lines(&[4, 5]));
}

/// An ICMP echo flow keeps its identifier in its ports. Its line has the ICMP
/// type and code where wsd writes them, and `--port` treats it as a flow
/// without ports, which has port 0.
#[test]
fn echo_flow_listed_without_ports() {
    let dir = tempfile::tempdir().unwrap();
    let mut echo = flow(
        0,
        1,
        side("10.0.0.1", 7, 1, 84),
        side("10.0.0.2", 7, 1, 84),
        (1, 2),
    );
    echo.icmp = Some(wsd_flow::IcmpDetails {
        icmp_type: 8,
        code: 0,
        echo_id: Some(7),
        v6: false,
    });
    let snapshot = TrackerSnapshot {
        clock: Some(Timestamp::from_parts(BASE_SECONDS + 3, 0)),
        next_serial: 1,
        flows: vec![echo],
        fragments: Vec::new(),
    };
    let cache = write_snapshot(dir.path(), "echo.cache", &snapshot);
    let cache = path_str(&cache);

    let lines = lines_of(&[cache]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let keys = "sourceIp=10.0.0.1 icmpType=8 destMac=0:0:0:0:0:0 destIp=10.0.0.2 icmpCode=0";
    assert!(lines[0].contains(keys), "{}", lines[0]);
    assert!(!lines[0].contains("Port="), "{}", lines[0]);
    assert_eq!(lines_of(&["--port", "0", cache]), lines);
    assert!(lines_of(&["--port", "7", cache]).is_empty());
}

#[test]
fn filter_by_state() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let cache = path_str(&cache);
    assert_eq!(
        lines_of(&["--state", "open", cache]),
        sample_lines(&[0, 3, 4, 5, 6])
    );
    assert_eq!(lines_of(&["--state", "fin", cache]), sample_lines(&[1]));
    assert_eq!(lines_of(&["--state", "rst", cache]), sample_lines(&[2]));
}

#[test]
fn filter_by_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let cache = path_str(&cache);
    assert_eq!(
        lines_of(&["--protocol", "tcp", cache]),
        sample_lines(&[0, 1, 2, 6])
    );
    assert_eq!(lines_of(&["--protocol", "udp", cache]), sample_lines(&[3]));
    assert_eq!(lines_of(&["--protocol", "icmp", cache]), sample_lines(&[4]));
    assert_eq!(lines_of(&["--protocol", "47", cache]), sample_lines(&[5]));
    assert_eq!(
        lines_of(&["--protocol", "6", cache]),
        sample_lines(&[0, 1, 2, 6])
    );
    assert!(lines_of(&["--protocol", "1", cache]).is_empty());
}

#[test]
fn filters_combine_with_and() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let cache = path_str(&cache);
    assert_eq!(
        lines_of(&["--host", "10.0.0.2", "--state", "open", cache]),
        sample_lines(&[0])
    );
    assert_eq!(
        lines_of(&[
            "--host",
            "10.0.0.1",
            "--protocol",
            "tcp",
            "--port",
            "443",
            cache
        ]),
        sample_lines(&[1])
    );
    assert!(lines_of(&["--port", "53", "--protocol", "tcp", cache]).is_empty());

    let flows = json_lines_of(&["--json", "--host", "10.0.0.1", "--state", "open", cache]);
    let serials: Vec<&Value> = flows.iter().map(|flow| &flow["serial"]).collect();
    assert_eq!(serials, [0, 3]);
}

#[test]
fn invalid_filter_values_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let cache = path_str(&cache);
    let cases: [&[&str]; 5] = [
        &["--protocol", "esp", cache],
        &["--protocol", "256", cache],
        &["--state", "closed", cache],
        &["--host", "10.0.0", cache],
        &["--port", "65536", cache],
    ];
    for args in cases {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(stderr_text(&output).contains("invalid value"), "{args:?}");
    }
}

#[test]
fn check_accepts_valid_caches() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_cache(dir.path());
    let captured = cache_from_capture(&fixture_capture("tagged_v6.pcap"), dir.path());
    let empty = write_snapshot(dir.path(), "empty.cache", &TrackerSnapshot::default());
    for cache in [&sample, &captured, &empty] {
        let output = run(&["--check", path_str(cache)]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
        assert!(output.stdout.is_empty());
        assert!(output.stderr.is_empty());
    }
}

/// Runs `--check` on `path` and returns its message, after checking that it
/// failed with exit status 2, printed nothing on standard output and named the
/// file.
fn check_failure(path: &Path) -> String {
    let output = run(&["--check", path_str(path)]);
    assert_eq!(output.status.code(), Some(2), "{}", path.display());
    assert!(output.stdout.is_empty(), "{}", path.display());
    let message = stderr_text(&output);
    let prefix = format!("flowcache: {}: ", path.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    message
}

#[test]
fn check_rejects_corrupt_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let mut bytes = std::fs::read(&cache).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&cache, &bytes).unwrap();
    let message = check_failure(&cache);
    assert!(message.contains("checksum mismatch"), "{message}");
}

#[test]
fn check_rejects_truncated_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let bytes = std::fs::read(&cache).unwrap();

    std::fs::write(&cache, &bytes[..bytes.len() - 10]).unwrap();
    let message = check_failure(&cache);
    assert!(message.contains("checksum mismatch"), "{message}");

    std::fs::write(&cache, &bytes[..14]).unwrap();
    let message = check_failure(&cache);
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn check_rejects_future_version() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let mut bytes = std::fs::read(&cache).unwrap();
    let version_at = wsd_flowcache::MAGIC.len();
    let future = wsd_flowcache::FORMAT_VERSION + 1;
    bytes[version_at..version_at + 4].copy_from_slice(&future.to_le_bytes());
    std::fs::write(&cache, &bytes).unwrap();

    let message = check_failure(&cache);
    assert!(
        message.contains(&format!(
            "format version {future} is newer than this program reads"
        )),
        "{message}"
    );

    // The listing reports the same and exits with status 2.
    let output = run(&[path_str(&cache)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_text(&output).contains("newer than this program reads"));
}

#[test]
fn check_rejects_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let capture = fixture_capture("lossy.pcap");
    let message = check_failure(&capture);
    assert!(message.contains("not a flow cache"), "{message}");

    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let message = check_failure(&empty);
    assert!(message.contains("not a flow cache"), "{message}");

    let missing = dir.path().join("missing.cache");
    let message = check_failure(&missing);
    assert!(
        message.ends_with(": no such file; give the path of a cache that `wsd -W` saved\n"),
        "{message}"
    );

    let message = check_failure(dir.path());
    assert!(
        message.contains("it is a directory, not a flow cache"),
        "{message}"
    );
    let name = path_str(dir.path());
    assert_eq!(message.matches(name).count(), 1, "{message}");
}

#[test]
fn check_rejects_inconsistent_contents() {
    let dir = tempfile::tempdir().unwrap();

    let mut bad_serial = sample_snapshot();
    bad_serial.next_serial = 3;
    let cache = write_snapshot(dir.path(), "serial.cache", &bad_serial);
    let message = check_failure(&cache);
    assert!(message.contains("inconsistent contents"), "{message}");
    assert!(message.contains("serial number"), "{message}");

    let mut duplicate = sample_snapshot();
    let mut copy = duplicate.flows[0];
    copy.serial = 7;
    duplicate.flows.push(copy);
    duplicate.next_serial = 8;
    let cache = write_snapshot(dir.path(), "duplicate.cache", &duplicate);
    let message = check_failure(&cache);
    assert!(message.contains("repeats the key"), "{message}");

    let mut mixed = sample_snapshot();
    mixed.flows[0].server.ip = ip("2001:db8::80");
    let cache = write_snapshot(dir.path(), "mixed.cache", &mixed);
    let message = check_failure(&cache);
    assert!(message.contains("mixes IPv4 and IPv6"), "{message}");

    // Listing shows what the file contains without restoring it.
    assert_eq!(lines_of(&[path_str(&cache)]).len(), 7);
}

#[test]
fn check_rejects_inconsistent_fragment_table() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = tiny_first_fragment_cache(dir.path());
    let mut snapshot = wsd_flowcache::read_cache(&tiny).unwrap().unwrap().snapshot;
    // The expiry of datagrams needs their creation times in order.
    let mut older = snapshot.fragments[0].clone();
    older.id += 1;
    older.created = older.created.add_nanos(-1);
    snapshot.fragments.push(older);
    let cache = write_snapshot(dir.path(), "fragments.cache", &snapshot);

    let message = check_failure(&cache);
    assert!(
        message.ends_with(
            ": inconsistent contents: fragment table entry 2 was created before the \
             datagram saved ahead of it\n"
        ),
        "{message}"
    );
}

#[test]
fn check_excludes_output_options() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    for option in [&["--json"][..], &["--summary"], &["--port", "80"]] {
        let mut args = vec!["--check"];
        args.extend_from_slice(option);
        args.push(path_str(&cache));
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr_text(&output).contains("cannot be used with"),
            "{args:?}"
        );
    }
}

#[test]
fn several_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_cache(dir.path());
    let captured = cache_from_capture(&fixture_capture("lossy.pcap"), dir.path());
    let (sample, captured) = (path_str(&sample), path_str(&captured));

    let mut expected = lines_of(&[captured]);
    expected.extend(lines_of(&[sample]));
    expected.extend(lines_of(&[captured]));
    assert_eq!(lines_of(&[captured, sample, captured]), expected);

    let flows = json_lines_of(&["--json", sample, captured]);
    assert_eq!(flows[0]["file"], sample);
    assert_eq!(flows[7]["file"], captured);

    let summary = lines_of(&["--summary", sample, captured]);
    let files: Vec<&String> = summary
        .iter()
        .filter(|line| line.starts_with("file:"))
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with(sample));
    assert!(files[1].ends_with(captured));
    let blank = summary.iter().position(String::is_empty).unwrap();
    assert!(summary[blank + 1].starts_with("file:"));

    let summaries = json_lines_of(&["--summary", "--json", sample, captured]);
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[1]["file"], captured);
}

#[test]
fn bad_file_among_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_cache(dir.path());
    let missing = dir.path().join("missing.cache");
    let not_cache = fixture_capture("lossy.pcap");
    let args = [
        path_str(&sample),
        path_str(&missing),
        path_str(&not_cache),
        path_str(&sample),
    ];
    let output = run(&args);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout_text(&output).lines().count(), 14);

    let messages = stderr_text(&output);
    let messages: Vec<&str> = messages.lines().collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(
        messages[0],
        format!(
            "flowcache: {}: no such file; give the path of a cache that `wsd -W` saved",
            missing.display()
        )
    );
    assert!(
        messages[1].starts_with(&format!(
            "flowcache: {}: not a flow cache",
            not_cache.display()
        )),
        "{}",
        messages[1]
    );

    let output = run(&["--check", args[0], args[1], args[2], args[3]]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr_text(&output).lines().count(), 2);
}

#[test]
fn file_argument_required() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(stderr_text(&output).contains("<FILE>"));
}

#[test]
fn help_documents_added_keys() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout_text(&output);
    for text in [
        "state=open|fin|rst",
        "midstream=yes|no",
        "lastTime=",
        "--json",
        "--summary",
        "--check",
        "--host",
        "--port",
        "--state",
        "--protocol",
        "Exit status",
    ] {
        assert!(help.contains(text), "--help lacks {text}");
    }
}

/// Starts `flowcache` on `args` with standard output piped, reads a little of
/// it, closes the pipe and returns how the process ended.
fn run_and_close_pipe(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowcache"))
        .args(args)
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowcache starts");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut start = [0u8; 4096];
    stdout.read_exact(&mut start).expect("output starts");
    assert!(start.starts_with(b"TCPFLOW ") || start.starts_with(b"{"));
    drop(stdout);
    child.wait_with_output().expect("flowcache ends")
}

#[test]
fn closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // Far more output than a pipe buffers, so writes are still due when the
    // reader goes away.
    let cache = write_snapshot(dir.path(), "big.cache", &many_flows(40_000));
    for args in [
        &[path_str(&cache)][..],
        &["--json", path_str(&cache)],
        &[path_str(&cache), path_str(&cache)],
    ] {
        let output = run_and_close_pipe(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(stderr_text(&output), "", "{args:?}");
    }
}

#[test]
fn closed_pipe_keeps_file_failure_status() {
    let dir = tempfile::tempdir().unwrap();
    let cache = write_snapshot(dir.path(), "big.cache", &many_flows(40_000));
    let missing = dir.path().join("missing.cache");
    let output = run_and_close_pipe(&[path_str(&missing), path_str(&cache)]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr_text(&output).lines().count(), 1);
}

#[cfg(target_os = "linux")]
#[test]
fn write_error_exits_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    let output = Command::new(env!("CARGO_BIN_EXE_flowcache"))
        .arg(path_str(&cache))
        .stdout(full)
        .output()
        .expect("flowcache runs");
    assert_eq!(output.status.code(), Some(1));
    let message = stderr_text(&output);
    assert!(
        message.starts_with("flowcache: cannot write to standard output: "),
        "{message}"
    );
}

#[test]
fn record_line_ignores_end_reason() {
    // The listing builds each record with an end reason from the flow's state, so
    // the line must not depend on it.
    let snapshot = sample_snapshot();
    let mut clock = LocalTimeFormatter::utc();
    for flow in &snapshot.flows {
        let mut lines = Vec::new();
        for reason in [EndReason::EndOfInput, EndReason::Fin, EndReason::Rst] {
            let mut line = Vec::new();
            format_flow_record_start(&mut line, &flow.to_record(reason), &mut clock);
            lines.push(line);
        }
        assert_eq!(lines[0], lines[1]);
        assert_eq!(lines[0], lines[2]);
    }
}

/// Writes the cache of a tracker that saw only a first IPv4 fragment holding 8
/// bytes of a TCP header, which waits for the fragment after it.
fn tiny_first_fragment_cache(dir: &Path) -> PathBuf {
    let mut packet = vec![0x45, 0, 0, 28, 0, 7, 0x20, 0, 64, 6, 0, 0];
    packet.extend([10, 0, 0, 1, 10, 0, 0, 2]);
    packet.extend([0x9c, 0x40, 0, 80, 0, 0, 0, 1]);
    let mut tracker = Tracker::new(TrackerConfig::default());
    tracker.process(
        Timestamp::from_nanos(1_700_000_000_000_000_000),
        &decode(wsd_decode::linktype::RAW, &packet),
    );
    let snapshot = tracker.snapshot();
    assert!(snapshot.fragments[0].tiny_first.is_some());
    write_snapshot(dir, "tiny.cache", &snapshot)
}

#[test]
fn summary_counts_tiny_first_fragments() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tiny_first_fragment_cache(dir.path());

    let text = lines_of(&["--summary", path_str(&cache)]);
    let summaries = json_lines_of(&["--summary", "--json", path_str(&cache)]);
    let check = run(&["--check", path_str(&cache)]);

    assert!(
        text.contains(&"fragment table: 1 datagram (1 with a first fragment too short for its transport header)".to_string()),
        "{text:?}"
    );
    assert_eq!(summaries[0]["fragment_datagrams"], 1);
    assert_eq!(summaries[0]["tiny_first_fragments"], 1);
    assert_eq!(check.status.code(), Some(0), "{}", stderr_text(&check));
}

/// Runs `flowcache` in UTC with `args` and `bytes` on standard input through a
/// pipe.
fn run_with_piped_stdin(args: &[&str], bytes: &[u8]) -> Output {
    use std::io::Write;

    let mut child = Command::new(env!("CARGO_BIN_EXE_flowcache"))
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowcache starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A rejected run exits without reading, which closes the pipe.
    let _ = stdin.write_all(bytes);
    drop(stdin);
    child.wait_with_output().expect("flowcache ends")
}

/// `-` reads the cache from standard input, both from a pipe and from a
/// redirected file, and names it `standard input` in messages.
#[test]
fn dash_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let cache = sample_cache(dir.path());
    let bytes = std::fs::read(&cache).unwrap();

    let piped = run_with_piped_stdin(&["-"], &bytes);
    assert_eq!(piped.status.code(), Some(0), "{}", stderr_text(&piped));
    let lines: Vec<String> = stdout_text(&piped).lines().map(str::to_string).collect();
    assert_eq!(lines, sample_lines(&[0, 1, 2, 3, 4, 5, 6]));

    let redirected = Command::new(env!("CARGO_BIN_EXE_flowcache"))
        .args(["--summary", "-"])
        .env("TZ", "UTC")
        .stdin(std::fs::File::open(&cache).unwrap())
        .output()
        .unwrap();
    assert_eq!(redirected.status.code(), Some(0));
    let summary = stdout_text(&redirected);
    assert!(summary.starts_with("file:           -\n"), "{summary}");
    let by_path = stdout_text(&run(&["--summary", path_str(&cache)]));
    assert_eq!(
        summary.lines().skip(1).collect::<Vec<_>>(),
        by_path.lines().skip(1).collect::<Vec<_>>()
    );

    // A socket cannot be opened again through /dev/stdin, so standard input is
    // read from its descriptor.
    let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let writer = std::thread::spawn({
        let bytes = bytes.clone();
        move || std::io::Write::write_all(&mut ours, &bytes)
    });
    let socket = Command::new(env!("CARGO_BIN_EXE_flowcache"))
        .args(["--check", "-"])
        .stdin(std::os::fd::OwnedFd::from(theirs))
        .output()
        .unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(socket.status.code(), Some(0), "{}", stderr_text(&socket));

    let mut corrupt = bytes.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x40;
    let output = run_with_piped_stdin(&["--check", "-"], &corrupt);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr_text(&output);
    assert!(
        message.starts_with("flowcache: standard input: checksum mismatch"),
        "{message}"
    );
}

/// Standard input can be read only once, so `-` given twice is rejected
/// before anything is read.
#[test]
fn dash_twice_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sample_cache(dir.path())).unwrap();
    let output = run_with_piped_stdin(&["-", "-"], &bytes);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let message = stderr_text(&output);
    assert!(
        message.contains("standard input can be read only once"),
        "{message}"
    );
}
