//! Helpers shared by the integration tests: finding the shared captures and
//! running the pipeline or the binary on a file.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wsd_capture::{FileSource, PacketSource, PcapWriter, Timestamp};
use wsd_decode::decode;
use wsd_flow::{FlowRecord, Tracker, TrackerConfig};

/// Returns the path of the bundled capture `name` under `fixtures/captures`.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/captures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Returns a pcapng block of type `block_type` around `body`, padded to 32
/// bits, with its length at both ends.
pub fn pcapng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut block = Vec::new();
    block.extend_from_slice(&block_type.to_le_bytes());
    block.extend_from_slice(&total.to_le_bytes());
    block.extend_from_slice(body);
    block.resize(8 + padded, 0);
    block.extend_from_slice(&total.to_le_bytes());
    block
}

/// Returns the folder of shared captures beside the repository. Tests that need them fail with a
/// message saying where they looked rather than passing without them.
pub fn shared_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(
        dir.join("cases/expected.json").is_file(),
        "the shared captures are missing: expected them in {} (a folder named shared beside the repository)",
        dir.display()
    );
    dir
}

/// What the library pipeline made of some capture files read as one stream.
#[derive(Debug, Default)]
pub struct PipelineResult {
    pub readable_records: u64,
    pub malformed_records: u64,
    pub malformed_packets: u64,
    pub records: Vec<FlowRecord>,
}

/// Reads `paths` in order through decode and the tracker, as `wsd -r` does.
pub fn run_pipeline(paths: &[PathBuf]) -> PipelineResult {
    let mut result = PipelineResult::default();
    let mut tracker = Tracker::new(TrackerConfig::default());
    for path in paths {
        let mut source =
            FileSource::open(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        while let Ok(Some(packet)) = source.next_packet() {
            result.readable_records += 1;
            let decoded = decode(packet.linktype, packet.data);
            if decoded.stop.is_some_and(|reason| reason.is_malformed()) {
                result.malformed_packets += 1;
            }
            tracker.process(packet.ts, &decoded);
            result.records.extend(tracker.drain_finished());
        }
        result.malformed_records += source.stats().malformed_records;
    }
    tracker.finish();
    result.records.extend(tracker.drain_finished());
    result
}

/// Runs the `wsd` binary with `args` in UTC and returns its output. The test fails
/// if the run takes longer than `limit`, which only a hang would reach.
pub fn run_wsd(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(args)
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsd starts");
    // Drain both pipes while waiting, or a chatty run would block on a full pipe.
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for wsd") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("wsd {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs `wsd` with `args` and returns its standard output, after checking that
/// it exits with 0 within `limit`.
pub fn wsd_stdout(args: &[&str], limit: Duration) -> String {
    let output = run_wsd(args, limit);
    assert_eq!(
        output.status.code(),
        Some(0),
        "wsd {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("wsd writes UTF-8")
}

/// Writes `frames`, Ethernet frames with their capture times, as a pcap file
/// at `path`.
pub fn write_ethernet_pcap(path: &Path, frames: impl IntoIterator<Item = (Timestamp, Vec<u8>)>) {
    let file = File::create(path).expect("create the capture file");
    let mut writer = PcapWriter::new(BufWriter::new(file), 1, 65_535, false).expect("pcap header");
    for (ts, frame) in frames {
        let length = u32::try_from(frame.len()).expect("frames are short");
        writer
            .write_packet(ts, &frame, length)
            .expect("write a packet");
    }
    writer
        .into_inner()
        .into_inner()
        .expect("flush the capture file");
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Returns the TCPFLOW lines of an output.
pub fn flow_lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|line| line.starts_with("TCPFLOW "))
        .map(str::to_string)
        .collect()
}

/// Returns the value of `key=` in a record line. Values contain no spaces except
/// startTime, whose date and time are joined by one.
pub fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!(" {key}="))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()
        + 2;
    let rest = &line[start..];
    if key == "startTime" {
        return &rest[..19];
    }
    rest.split(' ').next().unwrap_or("")
}
