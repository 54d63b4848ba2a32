//! Micro-benchmarks of `Tracker::process` on decoded packet streams: one that
//! opens a new flow with every packet, and one whose packets almost all belong
//! to flows already in the table. Run with `cargo bench -p wsd-flow`.

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use wsd_capture::Timestamp;
use wsd_decode::{decode, linktype, Decoded};
use wsd_flow::{Tracker, TrackerConfig};
use wsd_synth::{bulk, syn_flood, BulkConfig, FloodConfig};

fn main() {
    divan::main();
}

/// Packets of each stream.
const PACKETS: u32 = 100_000;

type Stream = Vec<(Timestamp, Decoded)>;

fn decode_all(frames: &[(Timestamp, Vec<u8>)]) -> Stream {
    frames
        .iter()
        .map(|(ts, frame)| (*ts, decode(linktype::ETHERNET, frame)))
        .collect()
}

/// A SYN flood: every packet opens its own half-open connection.
fn new_flow_stream() -> Stream {
    let config = FloodConfig {
        connections: PACKETS,
        ..FloodConfig::default()
    };
    let mut frames = Vec::new();
    syn_flood(&config, |ts, frame| {
        frames.push((ts, frame.to_vec()));
        Ok::<(), ()>(())
    })
    .expect("collecting frames cannot fail");
    decode_all(&frames)
}

/// Four bulk transfers: after the handshakes every packet finds its flow.
fn existing_flow_stream() -> Stream {
    let config = BulkConfig {
        connections: 4,
        segments_per_connection: PACKETS / 4,
        ..BulkConfig::default()
    };
    let mut frames = Vec::new();
    bulk(&config, |ts, frame| {
        frames.push((ts, frame.to_vec()));
        Ok::<(), ()>(())
    })
    .expect("collecting frames cannot fail");
    decode_all(&frames)
}

fn process_stream(bencher: Bencher, stream: &Stream) {
    bencher
        .counter(ItemsCount::new(stream.len()))
        .with_inputs(|| Tracker::new(TrackerConfig::default()))
        .bench_local_refs(|tracker| {
            for (ts, packet) in stream {
                black_box(tracker.process(*ts, packet));
            }
        });
}

/// Every packet creates a flow, so this measures hashing, insertion and table growth.
#[divan::bench(sample_count = 20)]
fn new_flows(bencher: Bencher) {
    let stream = new_flow_stream();
    process_stream(bencher, &stream);
}

/// Every packet after the first few finds its flow, so this measures lookup and update.
#[divan::bench(sample_count = 20)]
fn existing_flows(bencher: Bencher) {
    let stream = existing_flow_stream();
    process_stream(bencher, &stream);
}
