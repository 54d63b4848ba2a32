//! Micro-benchmarks of the two line formats: a TCPFLOW record line and a `-V`
//! packet line. Run with `cargo bench -p wsd-logfmt`.

use divan::{black_box, Bencher};
use wsd_capture::Timestamp;
use wsd_decode::{decode, linktype, Decoded};
use wsd_flow::{FlowRecord, PacketOutcome, Tracker, TrackerConfig};
use wsd_logfmt::{format_flow_record, format_packet_line, LocalTimeFormatter};
use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

fn main() {
    divan::main();
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;

/// A complete connection's packets, decoded: handshake, request, response, FINs.
fn connection() -> Vec<(Timestamp, Decoded)> {
    let client = Endpoint::v4([172, 20, 1, 144], 65_087);
    let server = Endpoint::v4([172, 20, 1, 3], 8_013);
    let script = [
        (true, TcpSegment::new(SYN, 1_000, 0, 0)),
        (false, TcpSegment::new(SYN | ACK, 5_000, 1_001, 0)),
        (true, TcpSegment::new(ACK, 1_001, 5_001, 0)),
        (true, TcpSegment::new(PSH_ACK, 1_001, 5_001, 200)),
        (false, TcpSegment::new(PSH_ACK, 5_001, 1_201, 1_200)),
        (true, TcpSegment::new(FIN_ACK, 1_201, 6_201, 0)),
        (false, TcpSegment::new(FIN_ACK, 6_201, 1_202, 0)),
        (true, TcpSegment::new(ACK, 1_202, 6_202, 0)),
    ];
    let start = Timestamp::from_parts(1_515_026_248, 970_290_000);
    let mut builder = FrameBuilder::new();
    script
        .iter()
        .zip(0..)
        .map(|((from_client, segment), n)| {
            let (src, dst) = if *from_client {
                (client, server)
            } else {
                (server, client)
            };
            let frame = builder.tcp(src, dst, segment);
            let ts = start.add_nanos(n * 1_500_000);
            (ts, decode(linktype::ETHERNET, &frame))
        })
        .collect()
}

/// Returns the record of [`connection`] and the outcome of its request segment.
fn record_and_outcome() -> (FlowRecord, (Timestamp, Decoded, PacketOutcome)) {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut request = None;
    for (n, (ts, packet)) in connection().into_iter().enumerate() {
        let outcome = tracker.process(ts, &packet);
        if n == 3 {
            request = Some((ts, packet, outcome));
        }
    }
    tracker.finish();
    let record = tracker
        .drain_finished()
        .next()
        .expect("the connection is reported");
    (record, request.expect("the script has a request segment"))
}

#[divan::bench]
fn flow_record_line(bencher: Bencher) {
    let (record, _) = record_and_outcome();
    let mut clock = LocalTimeFormatter::utc();
    let mut line = Vec::with_capacity(512);
    bencher.bench_local(|| {
        line.clear();
        format_flow_record(&mut line, black_box(&record), &mut clock);
        black_box(line.len())
    });
}

#[divan::bench]
fn packet_line(bencher: Bencher) {
    let (_, (ts, packet, outcome)) = record_and_outcome();
    let mut line = Vec::with_capacity(512);
    bencher.bench_local(|| {
        line.clear();
        format_packet_line(&mut line, black_box(ts), black_box(&packet), &outcome);
        black_box(line.len())
    });
}
