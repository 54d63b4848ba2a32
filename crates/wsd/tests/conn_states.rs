//! Connection states end to end. Each test writes a small capture of one TCP
//! connection with `wsd-synth` and runs the `wsd` binary on it with `--format
//! json`. It then checks the state, the history and the byte counters against
//! the values that Zeek's TCP analyzer gives for the same packets (`conn_state`,
//! `history`, `orig_bytes`/`resp_bytes` and `missed_bytes` in its conn.log).

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wsd_capture::Timestamp;
use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

use common::{run_wsd, write_ethernet_pcap};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// Initial sequence numbers of the client and the server.
const CLIENT_ISN: u32 = 1000;
const SERVER_ISN: u32 = 5000;

/// Capture time of the first packet: 2023-11-14 22:13:20 UTC.
const START_SECS: i64 = 1_700_000_000;

/// Sender of one segment in a scenario.
#[derive(Clone, Copy)]
enum Side {
    Client,
    Server,
}

use Side::{Client, Server};

fn client() -> Endpoint {
    Endpoint::v4([10, 0, 0, 1], 40000)
}

fn server() -> Endpoint {
    Endpoint::v4([10, 0, 0, 2], 80)
}

/// Writes `segments` as an Ethernet pcap to `path`, one millisecond apart.
fn write_capture(path: &Path, segments: &[(Side, TcpSegment)]) {
    let mut builder = FrameBuilder::new();
    let frames = segments.iter().enumerate().map(|(index, (side, segment))| {
        let frame = match side {
            Client => builder.tcp(client(), server(), segment),
            Server => builder.tcp(server(), client(), segment),
        };
        let ts = Timestamp::from_parts(START_SECS, index as u64 * 1_000_000);
        (ts, frame)
    });
    write_ethernet_pcap(path, frames);
}

/// Runs `wsd --format json` on a capture of `segments` and returns the one flow
/// record it writes.
fn flow_record(segments: &[(Side, TcpSegment)]) -> Value {
    let dir = tempfile::tempdir().expect("temporary directory");
    let capture = dir.path().join("capture.pcap");
    let log = dir.path().join("flows.json");
    write_capture(&capture, segments);

    let output = run_wsd(
        &[
            "--format",
            "json",
            "-L",
            log.to_str().expect("temporary paths are UTF-8"),
            "-r",
            capture.to_str().expect("temporary paths are UTF-8"),
        ],
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "wsd failed with {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );

    let text = std::fs::read_to_string(&log).expect("read the flow log");
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .filter(|record: &Value| record["type"] == "flow")
        .collect();
    assert_eq!(records.len(), 1, "expected one flow record in: {text}");
    records.into_iter().next().expect("one record")
}

/// Returns the unsigned integer member `name` of `record`.
fn count(record: &Value, name: &str) -> u64 {
    record[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} is not an unsigned integer in {record}"))
}

/// Returns the client's SYN, the server's SYN-ACK and the client's ACK.
fn handshake() -> Vec<(Side, TcpSegment)> {
    vec![
        (Client, TcpSegment::syn(CLIENT_ISN)),
        (
            Server,
            TcpSegment::new(SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 0),
        ),
        (
            Client,
            TcpSegment::new(ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0),
        ),
    ]
}

/// Returns a handshake, 100 bytes from the client and 50 from the server, so
/// that a RST after them ends an established connection with data both ways.
fn exchange_before_reset() -> Vec<(Side, TcpSegment)> {
    let mut segments = handshake();
    segments.push((
        Client,
        TcpSegment::new(PSH | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100),
    ));
    segments.push((
        Server,
        TcpSegment::new(PSH | ACK, SERVER_ISN + 1, CLIENT_ISN + 101, 50),
    ));
    segments
}

/// Returns the FIN exchange that closes a connection whose client stream ends
/// before `client_next` and whose server stream ends before `server_next`.
fn close(client_next: u32, server_next: u32) -> Vec<(Side, TcpSegment)> {
    vec![
        (
            Client,
            TcpSegment::new(FIN | ACK, client_next, server_next, 0),
        ),
        (
            Server,
            TcpSegment::new(FIN | ACK, server_next, client_next + 1, 0),
        ),
        (
            Client,
            TcpSegment::new(ACK, client_next + 1, server_next + 1, 0),
        ),
    ]
}

#[test]
fn syn_without_reply_is_s0() {
    let record = flow_record(&[(Client, TcpSegment::syn(CLIENT_ISN))]);

    assert_eq!(record["conn_state"], "S0");
    assert_eq!(record["history"], "S");
    assert_eq!(record["midstream"], false);
    assert_eq!(count(&record, "stream_bytes_out"), 0);
    assert_eq!(count(&record, "stream_bytes_in"), 0);
    assert_eq!(count(&record, "missed_bytes_out"), 0);
}

#[test]
fn handshake_only_is_s1() {
    let record = flow_record(&handshake());

    assert_eq!(record["conn_state"], "S1");
    assert_eq!(record["history"], "ShA");
    assert_eq!(count(&record, "stream_bytes_out"), 0);
    assert_eq!(count(&record, "stream_bytes_in"), 0);
    assert_eq!(count(&record, "missed_bytes_out"), 0);
    assert_eq!(count(&record, "missed_bytes_in"), 0);
}

#[test]
fn syn_answered_by_rst_is_rej() {
    let record = flow_record(&[
        (Client, TcpSegment::syn(CLIENT_ISN)),
        (Server, TcpSegment::new(RST | ACK, 0, CLIENT_ISN + 1, 0)),
    ]);

    assert_eq!(record["conn_state"], "REJ");
    assert_eq!(record["history"], "Sr");
    assert_eq!(count(&record, "stream_bytes_out"), 0);
    assert_eq!(count(&record, "stream_bytes_in"), 0);
    assert_eq!(count(&record, "packets_in"), 1);
}

#[test]
fn client_reset_is_rsto() {
    let mut segments = exchange_before_reset();
    segments.push((
        Client,
        TcpSegment::new(RST | ACK, CLIENT_ISN + 101, SERVER_ISN + 51, 0),
    ));
    let record = flow_record(&segments);

    assert_eq!(record["conn_state"], "RSTO");
    assert_eq!(record["history"], "ShADdR");
    assert_eq!(record["end_reason"], "rst");
    assert_eq!(count(&record, "stream_bytes_out"), 100);
    assert_eq!(count(&record, "stream_bytes_in"), 50);
    assert_eq!(count(&record, "payload_bytes_out"), 100);
    assert_eq!(count(&record, "payload_bytes_in"), 50);
}

#[test]
fn server_reset_is_rstr() {
    let mut segments = exchange_before_reset();
    segments.push((
        Server,
        TcpSegment::new(RST | ACK, SERVER_ISN + 51, CLIENT_ISN + 101, 0),
    ));
    let record = flow_record(&segments);

    assert_eq!(record["conn_state"], "RSTR");
    assert_eq!(record["history"], "ShADdr");
    assert_eq!(record["end_reason"], "rst");
    assert_eq!(count(&record, "stream_bytes_out"), 100);
    assert_eq!(count(&record, "stream_bytes_in"), 50);
    assert_eq!(count(&record, "payload_bytes_out"), 100);
    assert_eq!(count(&record, "payload_bytes_in"), 50);
}

#[test]
fn syn_then_fin_is_sh() {
    let record = flow_record(&[
        (Client, TcpSegment::syn(CLIENT_ISN)),
        (Client, TcpSegment::new(FIN, CLIENT_ISN + 1, 0, 0)),
    ]);

    assert_eq!(record["conn_state"], "SH");
    assert_eq!(record["history"], "SF");
    assert_eq!(count(&record, "packets_out"), 2);
    assert_eq!(count(&record, "packets_in"), 0);
    // Neither the SYN nor the FIN counts as a stream byte.
    assert_eq!(count(&record, "stream_bytes_out"), 0);
    assert_eq!(count(&record, "stream_bytes_in"), 0);
}

#[test]
fn midstream_pickup_is_oth() {
    let record = flow_record(&[
        (Client, TcpSegment::new(PSH | ACK, 20_000, 90_000, 100)),
        (Server, TcpSegment::new(PSH | ACK, 90_000, 20_100, 200)),
        (Client, TcpSegment::new(PSH | ACK, 20_100, 90_200, 100)),
    ]);

    assert_eq!(record["conn_state"], "OTH");
    assert_eq!(record["midstream"], true);
    assert_eq!(record["syn_seen"], false);
    assert_eq!(record["history"], "Dd");
    assert_eq!(record["src_port"], 40000);
    assert_eq!(count(&record, "stream_bytes_out"), 200);
    assert_eq!(count(&record, "stream_bytes_in"), 200);
    assert_eq!(count(&record, "missed_bytes_out"), 0);
    assert_eq!(count(&record, "missed_bytes_in"), 0);
}

#[test]
fn normal_close_is_sf() {
    let mut segments = handshake();
    segments.push((
        Client,
        TcpSegment::new(PSH | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100),
    ));
    segments.push((
        Server,
        TcpSegment::new(PSH | ACK, SERVER_ISN + 1, CLIENT_ISN + 101, 300),
    ));
    segments.push((
        Client,
        TcpSegment::new(ACK, CLIENT_ISN + 101, SERVER_ISN + 301, 0),
    ));
    segments.extend(close(CLIENT_ISN + 101, SERVER_ISN + 301));
    let record = flow_record(&segments);

    assert_eq!(record["conn_state"], "SF");
    assert_eq!(record["history"], "ShADdFf");
    assert_eq!(record["end_reason"], "fin");
    assert_eq!(count(&record, "payload_bytes_out"), 100);
    assert_eq!(count(&record, "payload_bytes_in"), 300);
    assert_eq!(count(&record, "stream_bytes_out"), 100);
    assert_eq!(count(&record, "stream_bytes_in"), 300);
    assert_eq!(count(&record, "missed_bytes_out"), 0);
    assert_eq!(count(&record, "missed_bytes_in"), 0);
    assert_eq!(count(&record, "retransmitted_packets_out"), 0);
    assert_eq!(count(&record, "retransmitted_packets_in"), 0);
}

/// Returns a connection whose client sends three segments of 100 bytes, of
/// which the capture lacks the second. The server acknowledges all 300 bytes.
fn lost_segment() -> Vec<(Side, TcpSegment)> {
    let mut segments = handshake();
    segments.push((
        Client,
        TcpSegment::new(PSH | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100),
    ));
    segments.push((
        Client,
        TcpSegment::new(PSH | ACK, CLIENT_ISN + 201, SERVER_ISN + 1, 100),
    ));
    segments.push((
        Server,
        TcpSegment::new(ACK, SERVER_ISN + 1, CLIENT_ISN + 301, 0),
    ));
    segments.extend(close(CLIENT_ISN + 301, SERVER_ISN + 1));
    segments
}

#[test]
fn lost_segment_counts_missed() {
    let record = flow_record(&lost_segment());

    assert_eq!(record["conn_state"], "SF");
    assert_eq!(count(&record, "missed_bytes_out"), 100);
    assert_eq!(count(&record, "missed_bytes_in"), 0);
    assert_eq!(count(&record, "stream_bytes_out"), 300);
    assert_eq!(count(&record, "payload_bytes_out"), 200);
    assert_eq!(count(&record, "retransmitted_packets_out"), 0);
}

/// The tracker writes the content gap's `G` with the segment after the hole.
#[test]
fn lost_segment_history() {
    let record = flow_record(&lost_segment());

    // G comes with the segment after the hole, where Zeek (7.0) adds it later,
    // when an ACK covers the hole, and so writes ShADaGFf.
    assert_eq!(record["history"], "ShADGaFf");
}

/// Returns a connection whose client sends 50 bytes and then 200 that the
/// capture lacks, before its FIN. The server acknowledges all 250 bytes.
fn lost_last_segment() -> Vec<(Side, TcpSegment)> {
    let mut segments = handshake();
    segments.push((
        Client,
        TcpSegment::new(PSH | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 50),
    ));
    segments.push((
        Server,
        TcpSegment::new(ACK, SERVER_ISN + 1, CLIENT_ISN + 251, 0),
    ));
    segments.extend(close(CLIENT_ISN + 251, SERVER_ISN + 1));
    segments
}

#[test]
fn lost_last_segment_counts_missed() {
    let record = flow_record(&lost_last_segment());

    // The FIN's sequence number shows where the client's stream ends.
    assert_eq!(count(&record, "stream_bytes_out"), 250);
    assert_eq!(count(&record, "missed_bytes_out"), 200);
    assert_eq!(count(&record, "payload_bytes_out"), 50);
    assert_eq!(count(&record, "missed_bytes_in"), 0);
    assert_eq!(record["history"], "ShADaFGf");
    assert_eq!(record["conn_state"], "SF");
}

#[test]
fn data_after_fin_fills_hole() {
    // The last 200 bytes come after the FIN, as when the capture reorders them.
    let mut segments = lost_last_segment();
    segments.insert(
        segments.len() - 1,
        (
            Client,
            TcpSegment::new(PSH | ACK, CLIENT_ISN + 51, SERVER_ISN + 1, 200),
        ),
    );

    let record = flow_record(&segments);

    assert_eq!(count(&record, "stream_bytes_out"), 250);
    assert_eq!(count(&record, "missed_bytes_out"), 0);
    assert_eq!(count(&record, "payload_bytes_out"), 250);
}

#[test]
fn synack_first_stream_after_lost_syn() {
    // The capture lacks the client's SYN, so the SYN-ACK gives the client's ISN.
    for payload in [0, 100] {
        let mut segments = handshake();
        segments.remove(0);
        if payload > 0 {
            segments.push((
                Client,
                TcpSegment::new(PSH | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, payload),
            ));
        }
        segments.extend(close(CLIENT_ISN + 1 + u32::from(payload), SERVER_ISN + 1));

        let record = flow_record(&segments);

        assert_eq!(count(&record, "stream_bytes_out"), u64::from(payload));
        assert_eq!(count(&record, "missed_bytes_out"), 0, "{payload} bytes");
    }
}

#[test]
fn fin_after_end_moves_nothing() {
    // After 50 bytes, the client ends its stream with a RST or a FIN, then
    // sends a FIN 200 bytes further on.
    for end in [RST | ACK, FIN | ACK] {
        let mut segments = handshake();
        segments.push((
            Client,
            TcpSegment::new(PSH | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 50),
        ));
        segments.push((
            Client,
            TcpSegment::new(end, CLIENT_ISN + 51, SERVER_ISN + 1, 0),
        ));
        segments.push((
            Client,
            TcpSegment::new(FIN | ACK, CLIENT_ISN + 251, SERVER_ISN + 1, 0),
        ));

        let record = flow_record(&segments);

        assert_eq!(count(&record, "stream_bytes_out"), 50, "flags {end:#x}");
        assert_eq!(count(&record, "missed_bytes_out"), 0, "flags {end:#x}");
    }
}

#[test]
fn retransmission_counts_once() {
    // The client sends its 100 bytes twice before the server acknowledges them.
    let mut segments = handshake();
    let data = TcpSegment::new(PSH | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
    segments.push((Client, data));
    segments.push((Client, data));
    segments.push((
        Server,
        TcpSegment::new(ACK, SERVER_ISN + 1, CLIENT_ISN + 101, 0),
    ));
    segments.extend(close(CLIENT_ISN + 101, SERVER_ISN + 1));
    let record = flow_record(&segments);

    assert_eq!(record["conn_state"], "SF");
    assert_eq!(record["history"], "ShADTaFf");
    assert_eq!(count(&record, "retransmitted_packets_out"), 1);
    assert_eq!(count(&record, "retransmitted_bytes_out"), 100);
    assert_eq!(count(&record, "stream_bytes_out"), 100);
    assert_eq!(count(&record, "payload_bytes_out"), 200);
    assert_eq!(count(&record, "missed_bytes_out"), 0);
}
