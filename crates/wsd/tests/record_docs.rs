//! The field tables of `docs/flow-records.md` and the records `wsd` writes must
//! agree: every documented key appears in some output, and every key written is
//! documented.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use wsd_capture::Timestamp;
use wsd_decode::{TunnelInfo, TunnelKind, Vlans};
use wsd_flow::{Counters, EndReason, Endpoint, FlowRecord, IcmpDetails};
use wsd_logfmt::{format_flow_json, format_flow_record_with, LocalTimeFormatter, RecordOptions};

use common::{run_wsd, shared_dir};

/// Captures whose records together carry every kind of flow the tracker reports.
const CAPTURES: [&str; 4] = [
    "mixed_many_protocols.pcap",
    "vxlan_tcp.pcap",
    "ip6in4_icmpv6.pcap",
    "gre_sample.pcap",
];

/// Returns the names in backquotes in the first column of the table under the
/// level-2 heading `heading` of the flow records document.
fn documented_names(heading: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/flow-records.md");
    let text = std::fs::read_to_string(&path).expect("read docs/flow-records.md");
    let section = text
        .split("\n## ")
        .find(|section| section.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?} in {}", path.display()));

    let mut names = BTreeSet::new();
    for row in section.lines().filter(|line| line.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).expect("a table row has cells");
        for (i, part) in first_cell.split('`').enumerate() {
            if i % 2 == 1 {
                names.insert(part.to_string());
            }
        }
    }
    assert!(names.len() > 10, "{heading}: only {names:?}");
    names
}

fn wsd_output(capture: &str, extra: &[&str]) -> String {
    let path = shared_dir().join("corpus").join(capture);
    let mut args = vec!["-r", path.to_str().expect("UTF-8 path"), "-L", "-"];
    args.extend_from_slice(extra);
    let output = run_wsd(&args, Duration::from_secs(120));
    assert_eq!(output.status.code(), Some(0), "{capture}");
    String::from_utf8(output.stdout).expect("records are UTF-8")
}

/// Builds an ICMP echo record through a tunnel, with every optional value present.
fn icmp_record() -> FlowRecord {
    let ip = |text: &str| text.parse::<IpAddr>().expect("valid test address");
    FlowRecord {
        protocol: 1,
        vlans: Vlans {
            ids: [10, 0],
            count: 1,
        },
        client: Endpoint {
            ip: ip("10.0.0.1"),
            port: 0,
            mac: None,
        },
        server: Endpoint {
            ip: ip("10.0.0.2"),
            port: 0,
            mac: None,
        },
        first_ts: Timestamp::from_parts(1_700_000_000, 0),
        last_ts: Timestamp::from_parts(1_700_000_001, 0),
        out: Counters::default(),
        inbound: Counters::default(),
        midstream: false,
        syn_seen: false,
        end_reason: EndReason::IdleTimeout,
        state: Default::default(),
        history: Default::default(),
        tunnel: Some(TunnelInfo {
            kind: TunnelKind::Gre,
            src: ip("192.0.2.1"),
            dst: ip("192.0.2.2"),
            id: Some(5),
        }),
        icmp: Some(IcmpDetails {
            icmp_type: 8,
            code: 0,
            echo_id: Some(1),
            v6: false,
        }),
    }
}

/// Returns the keys of a text record line: the words before `=`, skipping the
/// time part of `startTime`, which contains a space.
fn text_keys(line: &str) -> Vec<String> {
    line.split(' ')
        .skip(1)
        .filter_map(|word| word.split_once('=').map(|(key, _)| key.to_string()))
        .collect()
}

fn json_keys(line: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(line).expect("valid JSON record");
    value
        .as_object()
        .expect("a record is an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn text_keys_match_documentation() {
    let documented = documented_names("Text flow records");
    let mut lines: Vec<String> = Vec::new();
    for capture in CAPTURES {
        lines.extend(wsd_output(capture, &[]).lines().map(str::to_string));
    }
    let mut line = Vec::new();
    let mut clock = LocalTimeFormatter::utc();
    format_flow_record_with(
        &mut line,
        &icmp_record(),
        &mut clock,
        &RecordOptions::default(),
    );
    lines.push(String::from_utf8(line).expect("records are ASCII"));

    let mut written = BTreeSet::new();
    for line in &lines {
        for key in text_keys(line) {
            assert!(documented.contains(&key), "undocumented key {key}: {line}");
            written.insert(key);
        }
    }
    let missing: Vec<_> = documented.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "documented but never written: {missing:?}"
    );
}

/// The text keys and JSON members of statistics records match their table,
/// which lists each text key and JSON member in its first column.
#[test]
fn stats_fields_match_documentation() {
    let documented = documented_names("Statistics records");
    let mut written = BTreeSet::new();
    let text = wsd_output(CAPTURES[0], &["--stats", "60"]);
    for line in text.lines().filter(|line| line.starts_with("STATS ")) {
        for key in text_keys(line) {
            assert!(documented.contains(&key), "undocumented key {key}: {line}");
            written.insert(key);
        }
    }
    let json = wsd_output(CAPTURES[0], &["--stats", "60", "--format", "json"]);
    for line in json
        .lines()
        .filter(|line| line.contains(r#""type":"stats""#))
    {
        for key in json_keys(line).into_iter().filter(|key| key != "type") {
            assert!(
                documented.contains(&key),
                "undocumented member {key}: {line}"
            );
            written.insert(key);
        }
    }
    let missing: Vec<_> = documented.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "documented but never written: {missing:?}"
    );
}

#[test]
fn json_members_match_documentation() {
    let documented = documented_names("JSON flow records");
    let mut lines: Vec<String> = Vec::new();
    for capture in CAPTURES {
        let output = wsd_output(capture, &["--format", "json"]);
        lines.extend(output.lines().map(str::to_string));
    }
    let mut line = Vec::new();
    format_flow_json(&mut line, &icmp_record(), &RecordOptions::default());
    lines.push(String::from_utf8(line).expect("records are UTF-8"));

    let mut written = BTreeSet::new();
    for line in &lines {
        for key in json_keys(line) {
            assert!(
                documented.contains(&key),
                "undocumented member {key}: {line}"
            );
            written.insert(key);
        }
    }
    let missing: Vec<_> = documented.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "documented but never written: {missing:?}"
    );
}
