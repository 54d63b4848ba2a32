//! The library steps of the pipeline, timed in process on one capture.
//!
//! Each pass runs the pipeline one step further than the one before: read, then
//! decode, track and format flow records and packet lines. The difference
//! between two passes is the cost of the step added, without process start-up
//! or output system calls, because the lines go to [`std::io::sink`].

use std::hint::black_box;
use std::io;
use std::path::Path;
use std::time::Instant;

use wsd_capture::{FileSource, PacketSource};
use wsd_flow::{Tracker, TrackerConfig};
use wsd_logfmt::{LocalTimeFormatter, LogWriter};

use super::measure::median;
use crate::generate::{Capture, Kind};

/// The steps of the pipeline, in order; a pass runs every step up to its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `FileSource::next_packet` over the whole file.
    Read,
    /// `wsd_decode::decode` of every packet.
    Decode,
    /// `Tracker::process` of every packet, and `finish` at the end.
    Track,
    /// A flow record line for every finished flow.
    Records,
    /// A packet line for every packet, as `wsd -V` writes.
    PacketLines,
}

impl Step {
    /// Every step, in pipeline order.
    pub const ALL: [Step; 5] = [
        Step::Read,
        Step::Decode,
        Step::Track,
        Step::Records,
        Step::PacketLines,
    ];

    /// Returns the step's name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Step::Read => "read",
            Step::Decode => "decode",
            Step::Track => "track",
            Step::Records => "flow records",
            Step::PacketLines => "packet lines",
        }
    }
}

/// The in-process timings of one capture.
#[derive(Clone, Debug)]
pub struct Phases {
    /// Which capture.
    pub kind: Kind,
    /// Packets in the capture.
    pub packets: u64,
    /// Median wall time in seconds of the pass ending at each step of
    /// [`Step::ALL`].
    pub pass_secs: Vec<f64>,
    /// Flow records the tracker reported.
    pub records: u64,
    /// Largest number of flows in the tracker's table at once.
    pub max_active: u64,
}

/// The counts of one pass.
struct PassCounts {
    packets: u64,
    records: u64,
    max_active: u64,
}

/// Times every pass on `capture`: one warm-up and `runs` timed runs each.
pub fn measure(capture: &Capture, runs: usize) -> Result<Phases, String> {
    let mut phases = Phases {
        kind: capture.kind,
        packets: 0,
        pass_secs: Vec::with_capacity(Step::ALL.len()),
        records: 0,
        max_active: 0,
    };
    for step in Step::ALL {
        let mut secs = Vec::with_capacity(runs);
        for run in 0..=runs {
            let started = Instant::now();
            let counts = run_pass(&capture.path, step)?;
            if run > 0 {
                secs.push(started.elapsed().as_secs_f64());
            }
            phases.packets = counts.packets;
            if step == Step::Track {
                phases.records = counts.records;
                phases.max_active = counts.max_active;
            }
        }
        phases.pass_secs.push(median(&secs));
    }
    Ok(phases)
}

/// Runs the pipeline over the capture at `path` up to and including `last`.
fn run_pass(path: &Path, last: Step) -> Result<PassCounts, String> {
    let failed = |err: &dyn std::fmt::Display| format!("cannot read {}: {err}", path.display());
    let mut source = FileSource::open(path).map_err(|err| failed(&err))?;
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut writer = LogWriter::new(io::sink(), LocalTimeFormatter::utc());
    let mut packets = 0u64;
    let mut checksum = 0u64;

    while let Some(packet) = source.next_packet().map_err(|err| failed(&err))? {
        packets += 1;
        if last == Step::Read {
            // Touch the length and the first byte so that reading is not
            // optimized away.
            let first = packet.data.first().copied().unwrap_or(0);
            checksum = checksum.wrapping_add(packet.data.len() as u64 + u64::from(first));
            continue;
        }
        let ts = packet.ts;
        let decoded = wsd_decode::decode(packet.linktype, packet.data);
        if last == Step::Decode {
            black_box(&decoded);
            continue;
        }
        let outcome = tracker.process(ts, &decoded);
        write_records(&mut tracker, &mut writer, last)?;
        if last == Step::PacketLines {
            writer
                .write_packet_line(ts, &decoded, &outcome)
                .map_err(|err| format!("formatting a packet line failed: {err}"))?;
        }
    }
    if last >= Step::Track {
        tracker.finish();
        write_records(&mut tracker, &mut writer, last)?;
    }
    black_box(checksum);
    let stats = tracker.stats();
    Ok(PassCounts {
        packets,
        records: stats.records,
        max_active: stats.max_active,
    })
}

/// Takes the finished flows and, from [`Step::Records`] on, formats them.
fn write_records(
    tracker: &mut Tracker,
    writer: &mut LogWriter<io::Sink>,
    last: Step,
) -> Result<(), String> {
    for record in tracker.drain_finished() {
        if last >= Step::Records {
            writer
                .write_flow_record(&record)
                .map_err(|err| format!("formatting a flow record failed: {err}"))?;
        }
    }
    Ok(())
}
