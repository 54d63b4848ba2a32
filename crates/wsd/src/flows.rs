//! The flow tracker of a run: one [`Tracker`] in the reading thread, or with
//! `--threads N` above 1 a [`ShardedTracker`] whose N tables N threads track,
//! the reading thread among them, which also format the records.

use wsd_capture::Timestamp;
use wsd_decode::Decoded;
use wsd_flow::{FlowRecord, PacketOutcome, ShardError, ShardedTracker, Tracker, TrackerStats};
use wsd_logfmt::LogWriter;

use crate::run::Failure;

/// A finished flow: its record, or the record already formatted by a worker
/// thread.
pub enum Finished<'a> {
    /// A record to format.
    Record(&'a FlowRecord),
    /// A formatted record, line end included.
    Line(&'a [u8]),
}

impl Finished<'_> {
    /// Writes the flow record to `writer`.
    pub fn write<W: std::io::Write>(&self, writer: &mut LogWriter<W>) -> std::io::Result<()> {
        match self {
            Finished::Record(record) => writer.write_flow_record(record),
            Finished::Line(line) => writer.write_formatted(line),
        }
    }
}

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

    /// Waits until the worker threads, if there are any, have processed every
    /// packet so far, so that their records and counters are complete.
    pub fn flush(&mut self) -> Result<(), Failure> {
        match self {
            Flows::Single(_) => Ok(()),
            Flows::Sharded(tracker) => tracker.flush().map_err(failure),
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

    /// Has the worker threads, if there are any, format the records as
    /// `writer` does, so that the reading thread only writes them.
    pub fn format_as<W: std::io::Write>(&mut self, writer: &LogWriter<W>) -> Result<(), Failure> {
        match self {
            Flows::Single(_) => Ok(()),
            Flows::Sharded(tracker) => tracker
                .format_in_workers(writer.record_formatter())
                .map_err(failure),
        }
    }

    /// Returns true if finished flows wait for [`Flows::drain_each`].
    #[inline]
    pub fn has_finished(&self) -> bool {
        match self {
            Flows::Single(tracker) => tracker.has_finished(),
            Flows::Sharded(tracker) => tracker.has_finished(),
        }
    }

    /// Passes the flows finished so far to `sink`.
    pub fn drain_each(&mut self, mut sink: impl FnMut(Finished<'_>)) {
        match self {
            Flows::Single(tracker) => {
                tracker
                    .drain_finished()
                    .for_each(|record| sink(Finished::Record(&record)));
            }
            Flows::Sharded(tracker) if tracker.formats_in_workers() => {
                tracker.drain_lines(|line| sink(Finished::Line(line)));
            }
            Flows::Sharded(tracker) => {
                tracker
                    .drain_finished()
                    .for_each(|record| sink(Finished::Record(&record)));
            }
        }
    }

    /// Reports every flow still open to `sink`, oldest first, and with worker
    /// threads also the flows not drained yet.
    pub fn finish_each(&mut self, mut sink: impl FnMut(Finished<'_>)) -> Result<(), Failure> {
        match self {
            Flows::Single(tracker) => {
                tracker.finish_each(|record| sink(Finished::Record(&record)));
                Ok(())
            }
            Flows::Sharded(tracker) if tracker.formats_in_workers() => tracker
                .finish_lines(|line| sink(Finished::Line(line)))
                .map_err(failure),
            Flows::Sharded(tracker) => tracker
                .finish_each(|record| sink(Finished::Record(&record)))
                .map_err(failure),
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
