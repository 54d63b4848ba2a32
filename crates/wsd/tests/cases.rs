//! Small captures that broke other tools: each must give the facts listed for it
//! in the shared `cases/expected.json`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use wsd_flow::{ConnState, EndReason, Endpoint, FlowRecord};

use common::{field, flow_lines, run_pipeline, run_wsd, shared_dir};

fn expected() -> serde_json::Map<String, Value> {
    let path = shared_dir().join("cases/expected.json");
    let text = std::fs::read_to_string(&path).expect("read expected.json");
    match serde_json::from_str(&text).expect("parse expected.json") {
        Value::Object(map) => map,
        other => panic!("expected.json is not an object: {other}"),
    }
}

fn case_path(name: &str) -> PathBuf {
    shared_dir().join("cases").join(name)
}

fn endpoint_text(endpoint: &Endpoint) -> String {
    if endpoint.ip.is_ipv6() {
        format!("[{}]:{}", endpoint.ip, endpoint.port)
    } else {
        format!("{}:{}", endpoint.ip, endpoint.port)
    }
}

fn u64_of(facts: &Value, key: &str) -> Option<u64> {
    facts.get(key).and_then(Value::as_u64)
}

/// Checks one expected flow against the record with the same originator, taking
/// records in order so that repeated tuples (port reuse) pair up one by one.
fn check_flow(case: &str, facts: &Value, record: &FlowRecord) {
    let context = format!("{case}: flow {}", endpoint_text(&record.client));
    assert_eq!(
        facts["orig"].as_str(),
        Some(endpoint_text(&record.client).as_str()),
        "{context}: originator"
    );
    assert_eq!(
        facts["resp"].as_str(),
        Some(endpoint_text(&record.server).as_str()),
        "{context}: responder"
    );
    assert_eq!(
        u64_of(facts, "orig_pkts"),
        Some(record.out.packets),
        "{context}: originator packets"
    );
    assert_eq!(
        u64_of(facts, "resp_pkts"),
        Some(record.inbound.packets),
        "{context}: responder packets"
    );
    assert_eq!(
        u64_of(facts, "orig_payload_bytes"),
        Some(record.out.payload_bytes),
        "{context}: originator payload"
    );
    assert_eq!(
        u64_of(facts, "resp_payload_bytes"),
        Some(record.inbound.payload_bytes),
        "{context}: responder payload"
    );
    if let Some(bytes) = u64_of(facts, "orig_ip_bytes") {
        assert_eq!(record.out.ip_bytes, bytes, "{context}: originator IP bytes");
    }
    if let Some(bytes) = u64_of(facts, "resp_ip_bytes") {
        assert_eq!(
            record.inbound.ip_bytes, bytes,
            "{context}: responder IP bytes"
        );
    }
    if let Some(first) = facts.get("first_ts").and_then(Value::as_str) {
        assert_eq!(
            record.first_ts.to_string(),
            first,
            "{context}: first packet time"
        );
    }
    if let Some(last) = facts.get("last_ts").and_then(Value::as_str) {
        assert_eq!(
            record.last_ts.to_string(),
            last,
            "{context}: last packet time"
        );
    }
    if let Some(duration) = facts.get("duration_s").and_then(Value::as_f64) {
        let actual = record.last_ts.nanos_since(record.first_ts) as f64 / 1e9;
        assert!(
            (actual - duration).abs() < 1e-6,
            "{context}: duration {actual} s, expected {duration} s"
        );
    }
    if facts.get("duration_nonnegative").is_some() {
        assert!(
            record.last_ts >= record.first_ts,
            "{context}: negative duration"
        );
    }
    if let Some(outer) = u64_of(facts, "vlan_outer") {
        assert_eq!(
            u64::from(record.vlans.ids[0]),
            outer,
            "{context}: outer VLAN"
        );
    }
    if let Some(inner) = u64_of(facts, "vlan_inner") {
        assert_eq!(
            u64::from(record.vlans.ids[1]),
            inner,
            "{context}: inner VLAN"
        );
    }
    if let Some(closed) = facts.get("closed").and_then(Value::as_str) {
        assert!(
            closed.starts_with("fin"),
            "{context}: unknown closing fact {closed}"
        );
        assert_eq!(
            record.end_reason,
            EndReason::Fin,
            "{context}: closed by FINs"
        );
        assert_eq!(
            record.state,
            ConnState::SF,
            "{context}: state after FINs from both sides"
        );
    }
    if let Some(syn_seen) = facts.get("syn_seen").and_then(Value::as_bool) {
        assert_eq!(record.syn_seen, syn_seen, "{context}: SYN seen");
    }
    if let Some(gaps) = u64_of(facts, "gaps") {
        let missed = record.out.missed_bytes + record.inbound.missed_bytes;
        assert_eq!(missed > 0, gaps > 0, "{context}: {missed} bytes missed");
    }
    if let Some(retransmissions) = u64_of(facts, "retransmissions") {
        assert_eq!(
            record.out.retransmitted_packets + record.inbound.retransmitted_packets,
            retransmissions,
            "{context}: retransmissions"
        );
    }
    // The stream bytes from sequence numbers match the summed payloads whenever
    // the case has neither gaps nor retransmissions.
    if u64_of(facts, "gaps") == Some(0) && u64_of(facts, "retransmissions") == Some(0) {
        assert_eq!(
            u64_of(facts, "orig_payload_bytes"),
            Some(record.out.stream_bytes),
            "{context}: originator stream bytes"
        );
        assert_eq!(
            u64_of(facts, "resp_payload_bytes"),
            Some(record.inbound.stream_bytes),
            "{context}: responder stream bytes"
        );
    }
}

/// Checks every fact of one case that a single run over its file can show.
fn check_case(name: &str) {
    let all = expected();
    let facts = all
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not in expected.json"));
    let result = run_pipeline(&[case_path(name)]);

    assert_eq!(
        u64_of(facts, "readable_records"),
        Some(result.readable_records),
        "{name}: readable records"
    );
    if let Some(malformed) = u64_of(facts, "malformed_records") {
        assert_eq!(
            result.malformed_records, malformed,
            "{name}: malformed capture records"
        );
    }
    if let Some(malformed) = u64_of(facts, "malformed_packets") {
        assert_eq!(
            result.malformed_packets, malformed,
            "{name}: malformed packets"
        );
    }
    if let Some(count) = u64_of(facts, "tcp_flows") {
        assert_eq!(result.records.len() as u64, count, "{name}: TCP flows");
    }
    let flows = facts["flows"].as_array().expect("flows list");
    for (flow, record) in flows.iter().zip(&result.records) {
        check_flow(name, flow, record);
    }

    // The binary must agree with the library pipeline, end normally and not hang.
    let path = case_path(name);
    let output = run_wsd(
        &["-r", path.to_str().unwrap(), "-L", "-"],
        Duration::from_secs(60),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{name}: exit status; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), result.records.len(), "{name}: TCPFLOW lines");
    for (line, record) in lines.iter().zip(&result.records) {
        assert_eq!(
            field(line, "packetsOut"),
            record.out.packets.to_string(),
            "{name}: {line}"
        );
        assert_eq!(
            field(line, "packetsIn"),
            record.inbound.packets.to_string(),
            "{name}: {line}"
        );
        assert_eq!(
            field(line, "bytesOut"),
            record.out.bytes.to_string(),
            "{name}: {line}"
        );
        assert_eq!(
            field(line, "bytesIn"),
            record.inbound.bytes.to_string(),
            "{name}: {line}"
        );
        assert_eq!(
            field(line, "sourcePort"),
            record.client.port.to_string(),
            "{name}: {line}"
        );
    }
}

#[test]
fn every_case_has_a_test() {
    let tested = [
        "B01_pcapng-tsresol-nanosec.pcapng",
        "B03_pcapng-two-idb-different-tsresol.pcapng",
        "B05_pcapng-epb-unknown-interface.pcapng",
        "B06_pcapng-caplen-gt-origlen.pcapng",
        "B07_pcap-huge-caplen-zero-len.pcap",
        "B08_pcap-caplen-above-snaplen.pcap",
        "B09_pcap-truncated-last-record.pcap",
        "B11_qinq-88a8-8100.pcap",
        "B13_dlt-null-af-values.pcap",
        "B14_ipv4-ihl-below-5.pcap",
        "B16_ethernet-padding-not-payload.pcap",
        "B18_tcp-doff-below-5.pcap",
        "B20_snaplen54-truncated-tcp-options.pcap",
        "B21_synack-first-no-syn.pcap",
        "B23_synack-retransmit-different-isn.pcap",
        "B24_fin-both-directions.pcap",
        "B26_port-reuse-after-fin.pcap",
        "B27_seq-wraparound.pcap",
        "B28_timestamp-goes-backwards.pcap",
        "B30_flow-across-files_part1.pcap",
        "B30_flow-across-files_part2.pcap",
    ];
    let mut names: Vec<String> = expected().keys().cloned().collect();
    names.sort();
    assert_eq!(names, tested, "a case was added or renamed: give it a test");
}

#[test]
fn b01_pcapng_nanosecond_resolution() {
    check_case("B01_pcapng-tsresol-nanosec.pcapng");
}

#[test]
fn b03_per_interface_resolution() {
    check_case("B03_pcapng-two-idb-different-tsresol.pcapng");
}

#[test]
fn b05_unknown_interface_skipped() {
    check_case("B05_pcapng-epb-unknown-interface.pcapng");
}

#[test]
fn b06_caplen_above_origlen() {
    check_case("B06_pcapng-caplen-gt-origlen.pcapng");
}

#[test]
fn b07_huge_caplen_not_allocated() {
    check_case("B07_pcap-huge-caplen-zero-len.pcap");
}

#[test]
fn b08_caplen_above_snaplen() {
    check_case("B08_pcap-caplen-above-snaplen.pcap");
}

#[test]
fn b09_truncated_last_record() {
    check_case("B09_pcap-truncated-last-record.pcap");
}

#[test]
fn b11_qinq_tags_skipped() {
    check_case("B11_qinq-88a8-8100.pcap");
}

#[test]
fn b13_null_family_values() {
    check_case("B13_dlt-null-af-values.pcap");
}

#[test]
fn b14_ipv4_ihl_below_five() {
    check_case("B14_ipv4-ihl-below-5.pcap");
}

#[test]
fn b16_padding_not_payload() {
    check_case("B16_ethernet-padding-not-payload.pcap");
}

#[test]
fn b18_tcp_data_offset_below_five() {
    check_case("B18_tcp-doff-below-5.pcap");
}

#[test]
fn b20_options_cut_by_snaplen() {
    check_case("B20_snaplen54-truncated-tcp-options.pcap");
}

#[test]
fn b21_synack_first() {
    check_case("B21_synack-first-no-syn.pcap");
}

#[test]
fn b23_synack_retransmit_new_isn() {
    check_case("B23_synack-retransmit-different-isn.pcap");
}

#[test]
fn b24_fin_both_directions() {
    check_case("B24_fin-both-directions.pcap");
}

#[test]
fn b26_port_reuse_after_fin() {
    check_case("B26_port-reuse-after-fin.pcap");
}

#[test]
fn b27_sequence_wraparound() {
    check_case("B27_seq-wraparound.pcap");
}

#[test]
fn b28_timestamp_backwards() {
    check_case("B28_timestamp-goes-backwards.pcap");
}

/// Each part of a connection split across two files is a flow on its own; read
/// as one stream with two `-r` options they give the one complete record.
#[test]
fn b30_split_files_one_stream() {
    let part1 = "B30_flow-across-files_part1.pcap";
    let part2 = "B30_flow-across-files_part2.pcap";
    let all = expected();
    for part in [part1, part2] {
        let result = run_pipeline(&[case_path(part)]);
        assert_eq!(
            u64_of(&all[part], "readable_records"),
            Some(result.readable_records),
            "{part}: readable records"
        );
        assert_eq!(
            u64_of(&all[part], "tcp_flows_this_file_alone"),
            Some(result.records.len() as u64),
            "{part}: flows alone"
        );
    }
    let alone = run_pipeline(&[case_path(part2)]);
    assert!(alone.records[0].midstream, "part 2 alone has no handshake");

    let both = run_pipeline(&[case_path(part1), case_path(part2)]);
    assert_eq!(
        u64_of(&all[part1], "tcp_flows_after_both_runs"),
        Some(both.records.len() as u64)
    );
    check_flow("B30", &all[part1]["flows"][0], &both.records[0]);

    let (p1, p2) = (case_path(part1), case_path(part2));
    let output = run_wsd(
        &[
            "-r",
            p1.to_str().unwrap(),
            "-r",
            p2.to_str().unwrap(),
            "-L",
            "-",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(0));
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), 1, "one record for the connection: {lines:?}");
    assert_eq!(field(&lines[0], "packetsOut"), "5");
    assert_eq!(field(&lines[0], "packetsIn"), "3");
}
