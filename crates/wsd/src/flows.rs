//! The flow tracker of a run: one [`Tracker`] in the reading thread, or with
//! `--threads N` above 1 a [`ShardedTracker`] with N worker threads.

use wsd_capture::Timestamp;
use wsd_decode::Decoded;
use wsd_flow::{
    FlowRecord, PacketOutcome, ShardError, ShardedTracker, Tracker, TrackerSnapshot, TrackerStats,
};

use crate::run::Failure;

/// The tracker of a run.
// One `Flows` lives for the whole run, so the size of its larger variant costs
// nothing worth a box on the packet path.
#[allow(clippy::large_enum_variant)]
pub enum Flows {
    /// Every flow tracked in the reading thread.
    Single(Tracker),
    /// Flows sharded over worker threads.
    Sharded(ShardedTracker),
}

impl Flows {
    /// Processes one packet. Returns its outcome for the packet line, which
    /// only the single tracker has, because the workers run behind the reader.
    pub fn process(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
    ) -> Result<Option<PacketOutcome>, Failure> {
        match self {
            Flows::Single(tracker) => Ok(Some(tracker.process(ts, packet))),
            Flows::Sharded(tracker) => tracker.process(ts, packet).map(|()| None).map_err(failure),
        }
    }

    /// Moves the capture clock to `now` without a packet, so that idle flows
    /// time out on a quiet link.
    pub fn advance_to(&mut self, now: Timestamp) -> Result<(), Failure> {
        match self {
            Flows::Single(tracker) => {
                tracker.advance_to(now);
                Ok(())
            }
            Flows::Sharded(tracker) => tracker.advance_to(now).map_err(failure),
        }
    }

    /// Takes the records of the flows finished so far.
    pub fn drain_finished(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        match self {
            Flows::Single(tracker) => tracker.drain_finished(),
            Flows::Sharded(tracker) => tracker.drain_finished(),
        }
    }

    /// Reports every flow still open to `sink`, oldest first, and with worker
    /// threads also the records not drained yet.
    pub fn finish_each(&mut self, sink: impl FnMut(FlowRecord)) -> Result<(), Failure> {
        match self {
            Flows::Single(tracker) => {
                tracker.finish_each(sink);
                Ok(())
            }
            Flows::Sharded(tracker) => tracker.finish_each(sink).map_err(failure),
        }
    }

    /// Saves the open flows for the flow cache. With worker threads, records
    /// of flows that finished meanwhile become ready to drain.
    pub fn snapshot(&mut self) -> Result<TrackerSnapshot, Failure> {
        match self {
            Flows::Single(tracker) => Ok(tracker.snapshot()),
            Flows::Sharded(tracker) => tracker.snapshot().map_err(failure),
        }
    }

    /// Returns the capture clock: the latest packet time or time advanced to.
    pub fn now(&self) -> Option<Timestamp> {
        match self {
            Flows::Single(tracker) => tracker.now(),
            Flows::Sharded(tracker) => tracker.now(),
        }
    }

    /// Returns the tracker's counters.
    pub fn stats(&self) -> TrackerStats {
        match self {
            Flows::Single(tracker) => tracker.stats(),
            Flows::Sharded(tracker) => tracker.stats(),
        }
    }

    /// Returns the number of flows in the table, or tables.
    pub fn active_flows(&self) -> usize {
        match self {
            Flows::Single(tracker) => tracker.active_flows(),
            Flows::Sharded(tracker) => tracker.active_flows(),
        }
    }
}

fn failure(err: ShardError) -> Failure {
    Failure::Other(format!("flow tracking failed: {err}"))
}
