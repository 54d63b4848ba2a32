//! Hostile inputs that try to make `wsd` grow without bound: each run must finish,
//! report what it could, and count the limit it hit. Each test prints the peak
//! memory of the run when GNU time is installed as `/usr/bin/time`.

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{field, flow_lines, pcapng_block, run_wsd};
use wsd_capture::{PcapWriter, Timestamp};
use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

/// Capture time of the first packet of each file: 2023-11-14 22:13:20 UTC.
const START_SECS: i64 = 1_700_000_000;

const GNU_TIME: &str = "/usr/bin/time";

fn client() -> Endpoint {
    Endpoint::v4([10, 0, 0, 1], 40000)
}

fn server() -> Endpoint {
    Endpoint::v4([10, 0, 0, 2], 80)
}

/// Runs `wsd` with `args` and prints the peak resident set size of the run, read
/// from GNU time's `-v` report when `/usr/bin/time` exists.
fn run_measured(name: &str, args: &[&str]) -> Output {
    let output = run_wsd(args, Duration::from_secs(120));
    if !Path::new(GNU_TIME).is_file() {
        println!("{name}: peak memory not measured, because {GNU_TIME} is missing");
        return output;
    }
    let measured = Command::new(GNU_TIME)
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_wsd"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("GNU time starts");
    let report = String::from_utf8_lossy(&measured.stderr);
    let peak = report
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .unwrap_or("unknown");
    println!("{name}: peak resident set size {peak} KiB");
    output
}

fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes a classic pcap file with one SYN and then a record header that claims a
/// captured length of 4 GiB - 1 bytes, followed by a few bytes.
fn write_huge_caplen(path: &Path) {
    let mut writer = PcapWriter::new(File::create(path).unwrap(), 1, 65535, false).unwrap();
    let syn = FrameBuilder::new().tcp(client(), server(), &TcpSegment::syn(1000));
    let ts = Timestamp::from_parts(START_SECS, 0);
    writer.write_packet(ts, &syn, syn.len() as u32).unwrap();
    let mut out = writer.into_inner();
    let mut header = Vec::new();
    header.extend_from_slice(&(START_SECS as u32 + 1).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    out.write_all(&header).unwrap();
    out.write_all(&[0xab; 64]).unwrap();
}

#[test]
fn huge_record_length_ends_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge-caplen.pcap");
    write_huge_caplen(&path);

    let output = run_measured(
        "4 GiB record length",
        &["-r", path.to_str().unwrap(), "-L", "-"],
    );

    let stderr = stderr_text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(flow_lines(&output.stdout).len(), 1);
    assert!(
        stderr.contains("1 unreadable capture record"),
        "no count of the corrupt record in: {stderr}"
    );
    assert!(
        stderr.contains("bytes of input passed over after damage"),
        "no count of the bytes after the damage in: {stderr}"
    );
}

/// Writes a pcapng file with `interfaces` Ethernet interfaces and one SYN on the
/// last one.
fn write_many_interfaces(path: &Path, interfaces: u32) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    let mut section = Vec::new();
    section.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    section.extend_from_slice(&1u16.to_le_bytes());
    section.extend_from_slice(&0u16.to_le_bytes());
    section.extend_from_slice(&u64::MAX.to_le_bytes());
    out.write_all(&pcapng_block(0x0a0d_0d0a, &section)).unwrap();

    let mut interface = Vec::new();
    interface.extend_from_slice(&1u16.to_le_bytes());
    interface.extend_from_slice(&0u16.to_le_bytes());
    interface.extend_from_slice(&65535u32.to_le_bytes());
    for _ in 0..interfaces {
        out.write_all(&pcapng_block(1, &interface)).unwrap();
    }

    let syn = FrameBuilder::new().tcp(client(), server(), &TcpSegment::syn(1000));
    let micros = START_SECS as u64 * 1_000_000;
    let mut packet = Vec::new();
    packet.extend_from_slice(&(interfaces - 1).to_le_bytes());
    packet.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
    packet.extend_from_slice(&(micros as u32).to_le_bytes());
    packet.extend_from_slice(&(syn.len() as u32).to_le_bytes());
    packet.extend_from_slice(&(syn.len() as u32).to_le_bytes());
    packet.extend_from_slice(&syn);
    out.write_all(&pcapng_block(6, &packet)).unwrap();
    out.flush().unwrap();
}

#[test]
fn thousand_interfaces_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interfaces.pcapng");
    write_many_interfaces(&path, 1000);

    let output = run_measured(
        "pcapng with 1000 interfaces",
        &["-r", path.to_str().unwrap(), "-L", "-"],
    );

    let stderr = stderr_text(&output);
    assert!(output.status.success(), "{stderr}");
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(field(&lines[0], "sourcePort"), "40000");
}

#[test]
fn interfaces_over_limit_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("too-many-interfaces.pcapng");
    let interfaces = wsd_capture::MAX_INTERFACES as u32 + 10;
    write_many_interfaces(&path, interfaces);

    let output = run_measured(
        "pcapng with 65,546 interfaces",
        &["-r", path.to_str().unwrap(), "-L", "-"],
    );

    let stderr = stderr_text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(flow_lines(&output.stdout).is_empty());
    assert!(
        stderr.contains("1 unreadable capture record"),
        "no count of the packet on a skipped interface in: {stderr}"
    );
}

/// Writes a connection that sends one data segment every 5 minutes for a week, then
/// closes, and returns its number of packets.
fn write_week_long_connection(path: &Path) -> u64 {
    let file = BufWriter::new(File::create(path).unwrap());
    let mut writer = PcapWriter::new(file, 1, 65535, false).unwrap();
    let mut frames = FrameBuilder::new();
    let mut packets = 0;
    let mut write = |secs: i64, src: Endpoint, dst: Endpoint, segment: TcpSegment| {
        let frame = frames.tcp(src, dst, &segment);
        let ts = Timestamp::from_parts(START_SECS + secs, 0);
        writer.write_packet(ts, &frame, frame.len() as u32).unwrap();
        packets += 1;
    };

    write(0, client(), server(), TcpSegment::syn(1000));
    write(
        0,
        server(),
        client(),
        TcpSegment::new(SYN | ACK, 5000, 1001, 0),
    );
    let week = 7 * 86_400;
    let mut seq = 1001;
    for step in 1..week / 300 {
        write(
            step * 300,
            client(),
            server(),
            TcpSegment::new(PSH | ACK, seq, 5001, 100),
        );
        seq += 100;
    }
    write(
        week,
        client(),
        server(),
        TcpSegment::new(FIN | ACK, seq, 5001, 0),
    );
    write(
        week,
        server(),
        client(),
        TcpSegment::new(FIN | ACK, 5001, seq + 1, 0),
    );
    writer.flush().unwrap();
    packets
}

#[test]
fn week_long_connection_is_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("week.pcap");
    let packets = write_week_long_connection(&path);

    let output = run_measured(
        "week-long connection",
        &["-r", path.to_str().unwrap(), "-L", "-"],
    );

    let stderr = stderr_text(&output);
    assert!(output.status.success(), "{stderr}");
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(field(&lines[0], "duration"), "604800");
    let counted: u64 = field(&lines[0], "packetsOut").parse::<u64>().unwrap()
        + field(&lines[0], "packetsIn").parse::<u64>().unwrap();
    assert_eq!(counted, packets);
}
