//! Inputs and record formatters for the tests of the sharded tracker, shared
//! by its unit tests and the integration tests. The including module provides
//! `FlowRecord`, `RecordFormatter`, `ShardError` and `ShardedTracker`.

// Each of the two users needs only some of the items.
#![allow(dead_code)]

use wsd_capture::Timestamp;
use wsd_decode::{decode, linktype, Decoded};
use wsd_synth::{mixed, MixedConfig};

use super::{FlowRecord, RecordFormatter, ShardError, ShardedTracker};

/// Decodes a small mixed capture: a few thousand TCP and UDP flows over a minute,
/// some IPv6 and some VLAN-tagged.
pub fn mixed_stream() -> Vec<(Timestamp, Decoded)> {
    let config = MixedConfig {
        tcp_connections: 5_000,
        udp_conversations: 1_200,
        duration_secs: 60,
        ..MixedConfig::default()
    };
    let mut stream = Vec::new();
    mixed(&config, |ts, frame| {
        stream.push((ts, decode(linktype::ETHERNET, frame)));
        Ok::<(), ()>(())
    })
    .expect("collecting frames cannot fail");
    stream
}

/// Feeds `stream` to `tracker` up to its first error, then waits for every
/// share, and returns the first error.
pub fn process_all(
    tracker: &mut ShardedTracker,
    stream: &[(Timestamp, Decoded)],
) -> Result<(), ShardError> {
    for (ts, packet) in stream {
        tracker.process(*ts, packet)?;
    }
    tracker.flush()
}

/// Formats a record as its `Debug` text on one line.
#[derive(Clone)]
pub struct DebugLines;

impl RecordFormatter for DebugLines {
    fn format(&mut self, record: &FlowRecord, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{record:?}\n").as_bytes());
    }
}

/// Panics on every record it formats.
#[derive(Clone)]
pub struct PanickingFormatter;

impl RecordFormatter for PanickingFormatter {
    fn format(&mut self, _: &FlowRecord, _: &mut Vec<u8>) {
        panic!("a formatter that always fails");
    }
}
