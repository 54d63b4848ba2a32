//! Running a tracker over a script straight through and with a snapshot in the middle.

use wsd_capture::Timestamp;
use wsd_decode::{decode, linktype, Decoded};
use wsd_flow::{FlowRecord, PacketOutcome, Tracker, TrackerConfig, TrackerStats};

use crate::script::{Script, ALL_PROTOCOLS};

/// The output of one run of a tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerRun {
    /// Records in the order the tracker reported them.
    pub records: Vec<FlowRecord>,
    /// The outcome of each packet.
    pub outcomes: Vec<PacketOutcome>,
    /// Counters of the last tracker of the run.
    pub stats: TrackerStats,
}

/// Decodes a `tracker` target's input, runs the packets through one tracker, and again
/// with its state carried through a snapshot and a flow-cache file at the split point,
/// and checks that both runs give the same records and packet outcomes.
pub fn fuzz_tracker(input: &[u8]) {
    let Some(script) = Script::parse(input) else {
        return;
    };
    let packets: Vec<(Timestamp, Decoded)> = script
        .packets
        .iter()
        .map(|&(ts, frame)| (ts, decode(linktype::ETHERNET, frame)))
        .collect();

    let straight = run_tracker(script.config, &packets, None);
    check_straight_run(&script.config, &straight);
    let restored = run_tracker(script.config, &packets, Some(script.split));
    assert_eq!(
        restored.outcomes, straight.outcomes,
        "packet outcomes differ when the run is split before packet {}",
        script.split
    );
    assert_eq!(
        restored.records, straight.records,
        "records differ when the run is split before packet {}",
        script.split
    );
}

/// Runs `packets` through a tracker and finishes it. With `split`, the tracker is
/// replaced before that packet by one restored from its snapshot, after a round trip
/// through the flow-cache format.
pub fn run_tracker(
    config: TrackerConfig,
    packets: &[(Timestamp, Decoded)],
    split: Option<usize>,
) -> TrackerRun {
    let mut tracker = Tracker::new(config);
    let mut records = Vec::new();
    let mut outcomes = Vec::with_capacity(packets.len());
    for (index, (ts, packet)) in packets.iter().enumerate() {
        if split == Some(index) {
            tracker = carry_over(&tracker);
            records.extend(tracker.drain_finished());
        }
        outcomes.push(tracker.process(*ts, packet));
        records.extend(tracker.drain_finished());
    }
    if split == Some(packets.len()) {
        tracker = carry_over(&tracker);
        records.extend(tracker.drain_finished());
    }
    tracker.finish();
    records.extend(tracker.drain_finished());
    TrackerRun {
        records,
        outcomes,
        stats: tracker.stats(),
    }
}

/// Returns a tracker restored from `tracker`'s snapshot after encoding and decoding it
/// as a flow-cache file.
fn carry_over(tracker: &Tracker) -> Tracker {
    let snapshot = tracker.snapshot();
    let bytes = wsd_flowcache::encode(&snapshot, "wirespy-fuzz");
    let cache = wsd_flowcache::decode(&bytes).expect("a freshly encoded flow cache decodes");
    assert_eq!(
        cache.snapshot, snapshot,
        "the flow-cache round trip changed the snapshot"
    );
    Tracker::restore(*tracker.config(), &cache.snapshot).expect("a tracker's own snapshot restores")
}

/// Checks the counters of a run without a split against its records: every flow is
/// reported once, so with records of every protocol each attributed packet is counted
/// in exactly one record.
fn check_straight_run(config: &TrackerConfig, run: &TrackerRun) {
    assert_eq!(run.stats.packets, run.outcomes.len() as u64);
    assert_eq!(run.stats.records, run.records.len() as u64);
    for record in &run.records {
        assert!(
            record.first_ts <= record.last_ts,
            "record ends before it starts: {record:?}"
        );
    }
    if config.records != ALL_PROTOCOLS {
        return;
    }
    assert_eq!(
        run.stats.records, run.stats.flows_created,
        "not every flow was reported once"
    );
    let counted: u64 = run
        .records
        .iter()
        .map(|record| record.out.packets + record.inbound.packets)
        .sum();
    assert_eq!(
        counted,
        run.stats.packets - run.stats.unattributed,
        "records count a different number of packets than the tracker attributed"
    );
}
