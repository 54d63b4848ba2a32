//! Every capture of the shared corpus: valid files read to the end with the packet count
//! and format their manifest gives, and invalid files fail with a clear error.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::{read_file, shared_subdir, Reading};
use wsd_capture::{CaptureError, CaptureFormat, FileSource, Timestamp};

/// One row of the corpus manifest.
struct Entry {
    file: String,
    link_type: String,
    format: String,
    packets: usize,
}

impl Entry {
    /// True for the files the manifest marks as rejected by capinfos.
    fn is_invalid(&self) -> bool {
        self.link_type.contains("capinfos-error")
    }

    /// True for the file the manifest marks as cut inside its last record.
    fn is_cut_short(&self) -> bool {
        self.format.contains("truncated-tail")
    }

    /// Returns the format named by the manifest's format column, such as `pcap-be-nsec`.
    fn expected_format(&self) -> CaptureFormat {
        let kind = self.format.split_whitespace().next().unwrap_or_default();
        match kind {
            "pcap-le-usec" => pcap(false, false),
            "pcap-be-usec" => pcap(true, false),
            "pcap-le-nsec" => pcap(false, true),
            "pcap-be-nsec" => pcap(true, true),
            "pcapng-le" | "pcapng-be" => CaptureFormat::PcapNg,
            other => panic!("{}: unknown format {other:?} in the manifest", self.file),
        }
    }
}

fn pcap(big_endian: bool, nanosecond: bool) -> CaptureFormat {
    CaptureFormat::Pcap {
        big_endian,
        nanosecond,
    }
}

fn manifest(dir: &Path) -> Vec<Entry> {
    let path = dir.join("MANIFEST.tsv");
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|&field| field == name)
            .unwrap_or_else(|| panic!("the manifest has no {name} column"))
    };
    let (file, link_type, format, packets) = (
        column("file"),
        column("link_type"),
        column("format"),
        column("packets"),
    );

    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            Entry {
                file: fields[file].to_string(),
                link_type: fields[link_type].to_string(),
                format: fields[format].to_string(),
                packets: fields[packets].parse().unwrap(),
            }
        })
        .collect()
}

fn read_entry(dir: &Path, entry: &Entry) -> Reading {
    let path = dir.join(&entry.file);
    let source = FileSource::open(&path)
        .unwrap_or_else(|error| panic!("{} does not open: {error}", entry.file));
    assert_eq!(
        source.format(),
        entry.expected_format(),
        "{}: detected format",
        entry.file
    );
    common::read_source(source)
}

#[test]
fn corpus_files_read_or_fail_clearly() {
    let dir = shared_subdir("corpus");
    let entries = manifest(&dir);
    assert!(entries.len() >= 50, "only {} manifest rows", entries.len());
    for file in fs::read_dir(&dir).unwrap() {
        let name = file.unwrap().file_name().to_string_lossy().to_string();
        if name != "MANIFEST.tsv" {
            let listed = entries.iter().any(|entry| entry.file == name);
            assert!(
                listed,
                "{name} is not in the manifest, so it would go untested"
            );
        }
    }

    for entry in &entries {
        if entry.is_invalid() {
            let error = FileSource::open(&dir.join(&entry.file))
                .expect_err(&format!("{} is invalid but opens", entry.file));
            assert!(error.is_input_error(), "{}: {error:?}", entry.file);
            assert!(
                error.to_string().contains(&entry.file),
                "the message does not name the file: {error}"
            );
            continue;
        }

        let reading = read_entry(&dir, entry);
        let file = &entry.file;
        assert!(reading.error.is_none(), "{file}: {:?}", reading.error);
        assert_eq!(reading.packets.len(), entry.packets, "{file}: packets");
        assert_eq!(
            reading.stats.records, entry.packets as u64,
            "{file}: records"
        );
        assert_eq!(reading.stats.stopped_at, None, "{file}: stopped early");
        assert_eq!(reading.stats.malformed_records, 0, "{file}: malformed");
        assert_eq!(
            reading.stats.truncated_at.is_some(),
            entry.is_cut_short(),
            "{file}: truncated_at {:?}",
            reading.stats.truncated_at
        );
        assert_eq!(
            reading.position,
            fs::metadata(dir.join(file)).unwrap().len(),
            "{file}: position at the end"
        );
        let bytes: usize = reading.packets.iter().map(|p| p.data.len()).sum();
        assert_eq!(
            reading.stats.packet_bytes, bytes as u64,
            "{file}: packet bytes"
        );
        for (index, packet) in reading.packets.iter().enumerate() {
            assert!(
                packet.orig_len as usize >= packet.data.len(),
                "{file}: packet {index} orig_len {} below caplen {}",
                packet.orig_len,
                packet.data.len()
            );
        }
    }
}

#[test]
fn pcapng_interfaces_keep_own_time_units() {
    let dir = shared_subdir("corpus");
    let reading = read_file(&dir.join("pcapng_multi_iface_tsresol.pcapng"));
    let times: Vec<String> = reading.packets.iter().map(|p| p.ts.to_string()).collect();

    // The same times as tshark 4.0 prints: two packets of a nanosecond interface, then
    // four of a microsecond one.
    assert_eq!(
        times,
        [
            "1767663089.500330493",
            "1767663089.514291940",
            "1767663437.111897000",
            "1767663437.126460000",
            "1767663437.128303000",
            "1767663437.140942000",
        ]
    );
}

#[test]
fn out_of_range_times_saturate() {
    let dir = shared_subdir("corpus");
    let reading = read_file(&dir.join("pcapng_example_snapcut.pcapng"));

    // The second interface has microsecond ticks near 2^64, about 585,000 years after
    // 1970, past the last time a `Timestamp` can hold.
    let saturated = reading
        .packets
        .iter()
        .filter(|packet| packet.ts == Timestamp::from_nanos(i64::MAX))
        .count();
    assert_eq!(saturated, 100);
    assert_eq!(reading.packets[0].ts.to_string(), "1422527998.578402281");
}

#[test]
fn pcapng_link_types_follow_interfaces() {
    let dir = shared_subdir("corpus");
    for (file, expected) in [
        // Its interface of link type 12 has no packets.
        ("pcapng_many_ifaces_mixed_linktypes.pcapng", vec![0, 1]),
        ("pcapng_example_snapcut.pcapng", vec![1, 113]),
    ] {
        let reading = read_file(&dir.join(file));
        let linktypes: BTreeSet<u32> = reading.packets.iter().map(|p| p.linktype).collect();
        let expected: BTreeSet<u32> = expected.into_iter().collect();

        assert_eq!(linktypes, expected, "{file}: link types");
    }
}

#[test]
fn snaplen_cut_packets_keep_wire_length() {
    let dir = shared_subdir("corpus");
    let reading = read_file(&dir.join("pcapng_example_snapcut.pcapng"));
    let cut = reading
        .packets
        .iter()
        .filter(|packet| (packet.orig_len as usize) > packet.data.len())
        .count();

    assert_eq!(cut, 39);
}

#[test]
fn file_cut_mid_record_reports_offset() {
    let dir = shared_subdir("corpus");
    let path = dir.join("trunc_file_http_mime.pcap");
    let reading = read_file(&path);

    assert_eq!(reading.packets.len(), 2696);
    let complete: usize = reading.packets.iter().map(|p| 16 + p.data.len()).sum();
    assert_eq!(reading.stats.truncated_at, Some(24 + complete as u64));
}

#[test]
fn invalid_headers_give_specific_errors() {
    let dir = shared_subdir("corpus");

    let error = FileSource::open(&dir.join("bad_pcap_version.pcap")).unwrap_err();
    assert!(
        matches!(
            error,
            CaptureError::UnsupportedVersion {
                format: "pcap",
                major: 1,
                ..
            }
        ),
        "{error:?}"
    );

    let error = FileSource::open(&dir.join("pcapng_shb_option_too_long.pcapng")).unwrap_err();
    assert!(
        matches!(error, CaptureError::Malformed { offset: 0, .. }),
        "{error:?}"
    );
}

#[test]
fn manifest_is_not_a_capture() {
    let dir = shared_subdir("corpus");
    let error = FileSource::open(&dir.join("MANIFEST.tsv")).unwrap_err();

    assert!(
        matches!(error, CaptureError::NotACapture { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("MANIFEST.tsv"), "{error}");
}
