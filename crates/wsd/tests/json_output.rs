//! JSON Lines output: every record of the shared corpus parses, its Community ID
//! matches a computation written here independently of `wsd_logfmt`, and the
//! facts of the failure cases hold in the JSON records too.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use common::{run_wsd, shared_dir};

const LIMIT: Duration = Duration::from_secs(300);

/// Runs `wsd --format json` with `extra` options over `captures` read as one
/// stream, and returns the parsed records after checking that the exit status
/// is one of `statuses`.
fn json_records(captures: &[PathBuf], extra: &[&str], statuses: &[i32]) -> Vec<Value> {
    let mut args: Vec<&str> = vec!["--format", "json", "-L", "-"];
    args.extend_from_slice(extra);
    for capture in captures {
        args.push("-r");
        args.push(capture.to_str().expect("capture paths are UTF-8"));
    }
    let output = run_wsd(&args, LIMIT);
    assert!(
        output
            .status
            .code()
            .is_some_and(|code| statuses.contains(&code)),
        "{captures:?}: exit status {:?}; stderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("JSON Lines are UTF-8");
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{captures:?}: invalid JSON ({err}): {line}"))
        })
        .collect()
}

/// Returns the counterpart of an ICMP request or reply type, as pycommunityid,
/// the Community ID implementation that the specification recommends, maps
/// them (from Zeek's ICMP analyzer).
fn icmp_counterpart(protocol: u8, icmp_type: u8) -> Option<u8> {
    let table: &[(u8, u8)] = if protocol == 58 {
        &[
            (128, 129),
            (129, 128),
            (133, 134),
            (134, 133),
            (135, 136),
            (136, 135),
            (130, 131),
            (131, 130),
            (139, 140),
            (140, 139),
            (144, 145),
            (145, 144),
        ]
    } else {
        &[
            (8, 0),
            (0, 8),
            (13, 14),
            (14, 13),
            (15, 16),
            (16, 15),
            (10, 9),
            (9, 10),
            (17, 18),
            (18, 17),
        ]
    };
    table
        .iter()
        .find(|(request, _)| *request == icmp_type)
        .map(|&(_, reply)| reply)
}

fn address_bytes(text: &str) -> Vec<u8> {
    match text.parse::<IpAddr>().expect("record addresses parse") {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn standard_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// Computes the Community ID of a JSON flow record from its members, with the
/// `sha1_smol` crate for the digest.
fn expected_community_id(record: &Value, seed: u16) -> String {
    let protocol = record["protocol"].as_u64().expect("protocol") as u8;
    let src = address_bytes(record["src_ip"].as_str().expect("src_ip"));
    let dst = address_bytes(record["dst_ip"].as_str().expect("dst_ip"));
    let port = |name: &str| record[name].as_u64().expect("port") as u16;

    let (ports, one_way) = match protocol {
        6 | 17 | 132 => (Some((port("src_port"), port("dst_port"))), false),
        1 | 58 if record["icmp_type"].is_u64() => {
            let icmp_type = record["icmp_type"].as_u64().expect("type") as u8;
            let code = record["icmp_code"].as_u64().expect("code") as u8;
            match icmp_counterpart(protocol, icmp_type) {
                Some(reply) => (Some((u16::from(icmp_type), u16::from(reply))), false),
                None => (Some((u16::from(icmp_type), u16::from(code))), true),
            }
        }
        _ => (None, false),
    };
    let (src_port, dst_port) = ports.unwrap_or((0, 0));
    let swap = !one_way && (src.clone(), src_port) > (dst.clone(), dst_port);
    let (first, second, first_port, second_port) = if swap {
        (dst, src, dst_port, src_port)
    } else {
        (src, dst, src_port, dst_port)
    };

    let mut input = seed.to_be_bytes().to_vec();
    input.extend_from_slice(&first);
    input.extend_from_slice(&second);
    input.extend_from_slice(&[protocol, 0]);
    if ports.is_some() {
        input.extend_from_slice(&first_port.to_be_bytes());
        input.extend_from_slice(&second_port.to_be_bytes());
    }
    let digest = sha1_smol::Sha1::from(&input).digest().bytes();
    format!("1:{}", standard_base64(&digest))
}

fn corpus_captures() -> Vec<PathBuf> {
    let dir = shared_dir().join("corpus");
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("list the corpus")
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "pcap" || ext == "pcapng")
        })
        .collect();
    captures.sort();
    captures
}

/// With `-V`, every line of a JSON log is JSON: one packet object for each
/// text packet line, in the same order and with the same fields, and the
/// flow records as without `-V`.
#[test]
fn packet_lines_in_json() {
    for capture in corpus_captures() {
        let capture_path = capture.to_str().expect("capture paths are UTF-8");
        let values = json_records(std::slice::from_ref(&capture), &["-V"], &[0, 2]);
        let text = run_wsd(&["-V", "-r", capture_path, "-L", "-"], LIMIT);
        let text = String::from_utf8(text.stdout).expect("UTF-8 log");
        let text_packets: Vec<&str> = text.lines().filter(|line| line.starts_with('[')).collect();
        let packets: Vec<&Value> = values
            .iter()
            .filter(|value| value["type"] == "packet")
            .collect();
        assert_eq!(packets.len(), text_packets.len(), "{capture_path}");
        for (packet, line) in packets.iter().zip(&text_packets) {
            let epoch = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .expect("time in brackets");
            // serde_json's float parsing can be one unit in the last place off.
            let text_epoch: f64 = epoch.parse().expect("epoch seconds");
            let json_epoch = packet["time_epoch"].as_f64().expect("epoch seconds");
            let ulp = f64::EPSILON * text_epoch.abs().max(1.0);
            assert!(
                (json_epoch - text_epoch).abs() <= 2.0 * ulp,
                "{line} against {json_epoch}"
            );
            let src_ip = packet["src_ip"].as_str().expect("source address");
            assert!(line.contains(src_ip), "{line} against {packet}");
            let arrow = match packet["direction"].as_str() {
                Some("to_server") => " -> ",
                Some("to_client") => " <- ",
                _ => " ?? ",
            };
            assert!(line.contains(arrow), "{line} against {packet}");
            if packet["protocol_name"] == "tcp" {
                assert!(line.contains(&format!("seq: {} ", packet["seq"])), "{line}");
            }
        }
        let flows = values
            .iter()
            .filter(|value| value["type"] == "flow")
            .count();
        let without_packets = json_records(std::slice::from_ref(&capture), &[], &[0, 2]);
        assert_eq!(flows, without_packets.len(), "{capture_path}");
    }
}

#[test]
fn base64_helper_matches_rfc_4648() {
    assert_eq!(standard_base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(standard_base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(standard_base64(b"foob"), "Zm9vYg==");
}

/// Every record of every corpus capture is valid JSON with a Community ID equal
/// to the independent computation. A second run with seed 7 checks the seed.
#[test]
fn corpus_community_ids_match() {
    let mut checked = 0;
    let mut icmp_checked = 0;
    for capture in corpus_captures() {
        for (seed, extra) in [(0u16, &[][..]), (7, &["--community-id-seed", "7"][..])] {
            // Some corpus files are unreadable on purpose (exit status 2).
            let records = json_records(std::slice::from_ref(&capture), extra, &[0, 2]);
            for record in records {
                assert_eq!(record["type"], "flow", "{}", capture.display());
                let actual = record["community_id"].as_str().expect("community_id");
                let expected = expected_community_id(&record, seed);
                assert_eq!(
                    actual,
                    expected,
                    "{} seed {seed}: {record}",
                    capture.display()
                );
                checked += 1;
                if record["icmp_type"].is_u64() {
                    icmp_checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} records checked");
    assert!(icmp_checked > 0, "no ICMP record with a type checked");
}

/// The computation of this file reproduces lines of the specification's seed 0
/// baseline (`baseline/baseline_deflt.json` of `corelight/community-id-spec`).
#[test]
fn independent_id_matches_baseline() {
    let cases = [
        (
            serde_json::json!({"protocol": 1, "src_ip": "192.168.0.89", "dst_ip": "192.168.0.1",
                               "src_port": 0, "dst_port": 0, "icmp_type": 8, "icmp_code": 0}),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
        ),
        (
            serde_json::json!({"protocol": 1, "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
                               "src_port": 0, "dst_port": 0, "icmp_type": 11, "icmp_code": 0}),
            "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
        ),
        (
            serde_json::json!({"protocol": 6, "src_ip": "66.35.250.204", "dst_ip": "128.232.110.120",
                               "src_port": 80, "dst_port": 34855}),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            serde_json::json!({"protocol": 46, "src_ip": "10.1.12.2", "dst_ip": "10.1.12.1",
                               "src_port": 0, "dst_port": 0}),
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
        ),
    ];
    for (record, expected) in cases {
        assert_eq!(expected_community_id(&record, 0), expected, "{record}");
    }
}

fn expected_cases() -> serde_json::Map<String, Value> {
    let path = shared_dir().join("cases/expected.json");
    let text = std::fs::read_to_string(&path).expect("read expected.json");
    match serde_json::from_str(&text).expect("parse expected.json") {
        Value::Object(map) => map,
        other => panic!("expected.json is not an object: {other}"),
    }
}

fn endpoint_text(record: &Value, side: &str) -> String {
    let ip = record[format!("{side}_ip")].as_str().expect("ip");
    let port = &record[format!("{side}_port")];
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Checks the facts of one expected flow against one JSON record.
fn check_flow(context: &str, facts: &Value, record: &Value) {
    assert_eq!(
        facts["orig"].as_str(),
        Some(endpoint_text(record, "src").as_str()),
        "{context}: originator"
    );
    assert_eq!(
        facts["resp"].as_str(),
        Some(endpoint_text(record, "dst").as_str()),
        "{context}: responder"
    );
    let pairs = [
        ("orig_pkts", "packets_out"),
        ("resp_pkts", "packets_in"),
        ("orig_payload_bytes", "payload_bytes_out"),
        ("resp_payload_bytes", "payload_bytes_in"),
        ("orig_ip_bytes", "ip_bytes_out"),
        ("resp_ip_bytes", "ip_bytes_in"),
    ];
    for (fact, member) in pairs {
        if let Some(value) = facts.get(fact) {
            assert_eq!(&record[member], value, "{context}: {fact}");
        }
    }
    if let Some(closed) = facts.get("closed").and_then(Value::as_str) {
        assert!(
            closed.starts_with("fin"),
            "{context}: unknown fact {closed}"
        );
        assert_eq!(record["end_reason"], "fin", "{context}: closed by FINs");
    }
    if let Some(syn_seen) = facts.get("syn_seen") {
        assert_eq!(&record["syn_seen"], syn_seen, "{context}: SYN seen");
    }
    if let Some(first) = facts.get("first_ts").and_then(Value::as_str) {
        // The JSON epoch has microseconds; the fact has up to nanoseconds.
        let expected: f64 = first.parse().expect("first_ts is a number");
        let actual = record["start_epoch"].as_f64().expect("start_epoch");
        assert!(
            (actual - expected).abs() < 2e-6,
            "{context}: start {actual}, expected {expected}"
        );
    }
}

/// The payload, packet and closing facts of every failure case hold in the
/// JSON records of TCP flows, read as `wsd` reads them.
#[test]
fn case_facts_through_json() {
    let cases = expected_cases();
    let mut checked_flows = 0;
    for (name, facts) in &cases {
        let Some(flows) = facts.get("flows").and_then(Value::as_array) else {
            continue;
        };
        let path = shared_dir().join("cases").join(name);
        // A connection split across files is one flow only when its parts are
        // read as one stream, so the first part brings the second along.
        let captures = match facts.get("run_order").and_then(Value::as_u64) {
            Some(1) => vec![path.clone(), sibling_part(&path)],
            Some(_) => continue,
            None => vec![path],
        };
        let records = json_records(&captures, &["--protocols", "tcp"], &[0]);
        let expected_count = facts
            .get("tcp_flows_after_both_runs")
            .or_else(|| facts.get("tcp_flows"))
            .and_then(Value::as_u64);
        if let Some(count) = expected_count {
            assert_eq!(records.len() as u64, count, "{name}: TCP flows");
        }
        for (index, (flow, record)) in flows.iter().zip(&records).enumerate() {
            check_flow(&format!("{name}: flow {index}"), flow, record);
            checked_flows += 1;
        }
    }
    assert!(checked_flows > 20, "only {checked_flows} flows checked");
}

/// Returns the path of part 2 of a capture named `..._part1.pcap`.
fn sibling_part(part1: &Path) -> PathBuf {
    let name = part1
        .file_name()
        .and_then(|name| name.to_str())
        .expect("case names are UTF-8");
    part1.with_file_name(name.replace("_part1", "_part2"))
}
