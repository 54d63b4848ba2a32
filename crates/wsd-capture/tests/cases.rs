//! The small failure captures of the shared test data, checked against the facts their
//! `expected.json` gives for each file: readable records, malformed records and the first
//! packet time.

mod common;

use std::fs;
use std::path::PathBuf;

use common::{read_file, shared_subdir, Json, Reading};

/// Name prefixes of the cases about reading capture files. The other cases are about
/// decoding and flow tracking.
const READER_CASES: [&str; 7] = ["B01", "B03", "B05", "B06", "B07", "B08", "B09"];

fn expected_results() -> Json {
    let path = shared_subdir("cases").join("expected.json");
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    Json::parse(&text)
}

/// Lists the case files whose names start with `prefix`, sorted.
fn case_files(prefix: &str) -> Vec<PathBuf> {
    let dir = shared_subdir("cases");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && (name.ends_with(".pcap") || name.ends_with(".pcapng"))
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no capture named {prefix}* in {}",
        dir.display()
    );
    files
}

/// Reads the one case file whose name starts with `prefix` to the end.
fn read_case(prefix: &str) -> Reading {
    let files = case_files(prefix);
    assert_eq!(files.len(), 1, "expected one {prefix}* capture: {files:?}");
    read_file(&files[0])
}

#[test]
fn cases_match_expected_counts() {
    let expected = expected_results();
    for prefix in READER_CASES {
        for path in case_files(prefix) {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let facts = expected
                .get(&name)
                .unwrap_or_else(|| panic!("{name} has no entry in expected.json"));
            let reading = read_file(&path);

            assert!(reading.error.is_none(), "{name}: {:?}", reading.error);
            let readable = facts.get("readable_records").and_then(Json::as_u64);
            let readable = readable.unwrap_or_else(|| panic!("{name}: no readable_records"));
            assert_eq!(
                reading.packets.len() as u64,
                readable,
                "{name}: records read"
            );
            if let Some(malformed) = facts.get("malformed_records").and_then(Json::as_u64) {
                assert_eq!(
                    reading.stats.malformed_records, malformed,
                    "{name}: malformed records"
                );
            }

            let first_flow = facts
                .get("flows")
                .map(Json::as_array)
                .and_then(|f| f.first());
            if let Some(first_ts) = first_flow.and_then(|flow| flow.get("first_ts")) {
                let first_ts = first_ts.as_str().unwrap();
                assert_eq!(
                    reading.packets[0].ts.to_string(),
                    first_ts,
                    "{name}: first time"
                );
            }
        }
    }
}

#[test]
fn nanosecond_tsresol_gives_exact_time() {
    let reading = read_case("B01");

    assert_eq!(reading.packets.len(), 8);
    assert_eq!(reading.packets[0].ts.secs(), 1_700_000_000);
    assert_eq!(reading.packets[0].ts.subsec_nanos(), 123_456_789);
    let last = reading.packets.last().unwrap();
    assert_eq!(last.ts.to_string(), "1700000000.130456789");
}

#[test]
fn per_interface_tsresol_steps_100_us() {
    let reading = read_case("B03");

    assert_eq!(reading.packets.len(), 8);
    for pair in reading.packets.windows(2) {
        let step = pair[1].ts.nanos_since(pair[0].ts);
        assert_eq!(step, 100_000, "{} then {}", pair[0].ts, pair[1].ts);
    }
}

#[test]
fn unknown_interface_packet_is_skipped() {
    let reading = read_case("B05");

    assert_eq!(reading.packets.len(), 8);
    assert_eq!(reading.stats.malformed_records, 1);
    assert_eq!(reading.stats.stopped_at, None);
    for packet in &reading.packets {
        assert_eq!(packet.linktype, 1);
    }
}

#[test]
fn caplen_above_origlen_keeps_bytes() {
    let reading = read_case("B06");

    assert_eq!(reading.packets.len(), 3);
    let third = &reading.packets[2];
    assert_eq!(third.data.len(), 54);
    assert_eq!(third.orig_len, 54);
}

#[test]
fn huge_caplen_stops_without_allocating() {
    let reading = read_case("B07");

    assert_eq!(reading.packets.len(), 3);
    assert_eq!(reading.stats.malformed_records, 1);
    let stopped_at = reading
        .stats
        .stopped_at
        .expect("reading stops at the bad record");
    assert!(
        stopped_at > 24 && stopped_at < 314,
        "stopped at {stopped_at}"
    );
    assert_eq!(reading.stats.truncated_at, None);
}

#[test]
fn caplen_above_snaplen_is_accepted() {
    let reading = read_case("B08");

    assert_eq!(reading.packets.len(), 8);
    assert_eq!(reading.packets[3].data.len(), 1514);
    assert_eq!(reading.stats.malformed_records, 0);
}

#[test]
fn truncated_last_record_ends_normally() {
    let reading = read_case("B09");

    assert_eq!(reading.packets.len(), 5);
    let cut_at = reading
        .stats
        .truncated_at
        .expect("the cut record is reported");
    let complete_records: usize = reading.packets.iter().map(|p| 16 + p.data.len()).sum();
    assert_eq!(cut_at, 24 + complete_records as u64);
    assert_eq!(reading.position, 510);
}
#[test]
fn json_parser_reads_nested_values() {
    let json = Json::parse(r#" {"a": [1, 2.5, {"b": "x\"y\u0041"}], "c": true, "d": null} "#);

    assert_eq!(json.get("a").unwrap().as_array().len(), 3);
    assert_eq!(json.get("a").unwrap().as_array()[0].as_u64(), Some(1));
    let inner = &json.get("a").unwrap().as_array()[2];
    assert_eq!(inner.get("b").unwrap().as_str(), Some("x\"yA"));
    assert_eq!(json.get("c"), Some(&Json::Bool(true)));
    assert_eq!(json.get("d"), Some(&Json::Null));
}
