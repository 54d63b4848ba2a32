//! The shares of the batches, which any tracking thread may process.
//!
//! Every batch has one share per worker table: the packets of that table's
//! flows. A table's shares must be processed in batch order, one at a time,
//! but by whichever thread is free. The helper threads process shares as soon
//! as batches are posted. The calling thread processes shares between its
//! batches once many wait, and instead of sleeping while it waits for the
//! oldest batch: it sleeps only when every waiting share belongs to a table
//! that another thread is busy with. The results wait on the board until the
//! calling thread collects them, a whole batch at a time.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use wsd_capture::Timestamp;

use super::lines::{LinePart, RecordFormatter};
use super::{end_order, Batch, ShardError};
use crate::record::FlowRecord;
use crate::tracker::{Tracker, TrackerStats};

/// One worker table and its formatter.
pub(super) struct Core {
    pub(super) tracker: Tracker,
    pub(super) formatter: Option<Box<dyn RecordFormatter>>,
}

/// The result of one share: the records of the flows it finished, sorted by
/// end time, unformatted in `records` or formatted in `lines`, and the
/// table's counters after it.
pub(super) struct Processed {
    pub(super) records: Vec<FlowRecord>,
    pub(super) lines: LinePart,
    pub(super) active: usize,
    pub(super) stats: TrackerStats,
}

/// A batch on the board, until every table has processed its share.
struct Posted {
    batch: Arc<Batch>,
    /// The capture clock at the end of the batch.
    clock: Option<Timestamp>,
    /// An empty part per table for the formatted records of its share.
    lines: Vec<Option<LinePart>>,
    /// Tables that have not processed their share yet.
    remaining: usize,
}

/// The progress of one table.
#[derive(Default)]
struct Table {
    /// True while a thread processes a share of this table.
    busy: bool,
    /// The number of the next batch whose share this table processes.
    next: u64,
    /// Results of processed shares, oldest first, not collected yet.
    results: VecDeque<Processed>,
}

struct State {
    /// Batches from number `first` on, not yet processed by every table.
    posted: VecDeque<Posted>,
    first: u64,
    /// Batches posted so far.
    count: u64,
    /// Batches whose results the calling thread took.
    collected: u64,
    tables: Vec<Table>,
    /// The tables that have a share waiting and no thread on them, each once,
    /// in the order their shares began to wait. A table goes to the back
    /// after each share, so the tables take turns.
    ready: VecDeque<usize>,
    /// Shares posted and not taken by a thread yet.
    waiting: u64,
    /// Set when the tracker is dropped, to end the helper threads.
    closed: bool,
    /// The table whose share failed to finish, if one did.
    failed: Option<usize>,
}

impl State {
    /// True once every table's result for the oldest uncollected batch is in.
    fn batch_ready(&self) -> bool {
        self.first > self.collected
    }

    /// Takes every table's result for the oldest uncollected batch.
    fn take_batch(&mut self) -> Vec<Processed> {
        self.collected += 1;
        self.tables
            .iter_mut()
            .filter_map(|table| table.results.pop_front())
            .collect()
    }
}

/// The shared work of a [`ShardedTracker`](super::ShardedTracker)'s threads.
pub(super) struct Board {
    state: Mutex<State>,
    /// Wakes the helper threads when a share waits or the board closes.
    work: Condvar,
    /// Wakes the calling thread when a share is done or failed.
    done: Condvar,
    /// The tables, each locked by the thread that processes its share, and by
    /// the worker threads between batches.
    cores: Vec<Mutex<Option<Core>>>,
}

impl Board {
    /// Returns an empty board for `tables` tables, which
    /// [`Board::install`] fills.
    pub(super) fn new(tables: usize) -> Arc<Board> {
        let state = State {
            posted: VecDeque::new(),
            first: 0,
            count: 0,
            collected: 0,
            tables: (0..tables).map(|_| Table::default()).collect(),
            ready: VecDeque::with_capacity(tables),
            waiting: 0,
            closed: false,
            failed: None,
        };
        Arc::new(Board {
            state: Mutex::new(state),
            work: Condvar::new(),
            done: Condvar::new(),
            cores: (0..tables).map(|_| Mutex::new(None)).collect(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks table `number`.
    pub(super) fn core(&self, number: usize) -> MutexGuard<'_, Option<Core>> {
        self.cores[number]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `tracker` in as table `number`.
    pub(super) fn install(&self, number: usize, tracker: Tracker) {
        *self.core(number) = Some(Core {
            tracker,
            formatter: None,
        });
    }

    /// Posts `batch`, with the capture clock at its end and an empty line
    /// part per table, and wakes the helper threads.
    pub(super) fn post(&self, batch: Arc<Batch>, clock: Option<Timestamp>, lines: Vec<LinePart>) {
        let mut state = self.state();
        let tables = state.tables.len();
        state.posted.push_back(Posted {
            batch,
            clock,
            lines: lines.into_iter().map(Some).collect(),
            remaining: tables,
        });
        // The tables that had processed every share so far have one waiting
        // now. The others are busy or already in the queue.
        let posted = state.count;
        state.count += 1;
        state.waiting += tables as u64;
        let queued = state.ready.len();
        for number in 0..tables {
            let table = &state.tables[number];
            if !table.busy && table.next == posted {
                state.ready.push_back(number);
            }
        }
        let newly_ready = state.ready.len() - queued;
        drop(state);
        // Every helper wakes when several tables have a share to take, so that
        // on many processors the tables start together.
        if newly_ready > 1 {
            self.work.notify_all();
        } else {
            self.work.notify_one();
        }
    }

    /// Processes one waiting share in the calling thread if at least `at`
    /// shares wait.
    pub(super) fn help_if_behind(&self, at: u64) {
        let state = self.state();
        if state.waiting >= at {
            let _ = self.process_one(state);
        }
    }

    /// Processes every waiting share in the calling thread.
    pub(super) fn process_waiting(&self) {
        self.work_until(&self.done, |state| state.ready.is_empty().then_some(()));
    }

    /// Returns the results of the oldest uncollected batch, one per table, if
    /// every table has processed its share of it.
    pub(super) fn try_collect(&self) -> Option<Vec<Processed>> {
        let mut state = self.state();
        state.batch_ready().then(|| state.take_batch())
    }

    /// Waits until every table has processed its share of the oldest
    /// uncollected batch, processing waiting shares meanwhile, and returns
    /// the results, one per table.
    ///
    /// # Errors
    ///
    /// Returns an error if a share failed.
    pub(super) fn collect(&self) -> Result<Vec<Processed>, ShardError> {
        self.work_until(&self.done, |state| {
            if let Some(worker) = state.failed {
                Some(Err(ShardError::WorkerStopped { worker }))
            } else {
                state.batch_ready().then(|| Ok(state.take_batch()))
            }
        })
    }

    /// Runs the loop of a helper thread: processes waiting shares until the
    /// board closes.
    pub(super) fn help(&self) {
        self.work_until(&self.work, |state| state.closed.then_some(()));
    }

    /// Processes waiting shares until `finished` returns a value, and returns
    /// it. Sleeps on `wake` while no share waits for a thread.
    fn work_until<T>(
        &self,
        wake: &Condvar,
        mut finished: impl FnMut(&mut State) -> Option<T>,
    ) -> T {
        let mut state = self.state();
        loop {
            if let Some(value) = finished(&mut state) {
                return value;
            }
            let (next, processed) = self.process_one(state);
            state = next;
            if !processed {
                state = wake.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Closes the board, so that the helper threads end.
    pub(super) fn close(&self) {
        self.state().closed = true;
        self.work.notify_all();
    }

    /// Processes the oldest waiting share, if any, with the board unlocked
    /// meanwhile. Returns the board locked again, and true if a share was
    /// processed or failed: the board may then have changed, so the caller
    /// looks at it again before it waits.
    fn process_one<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
    ) -> (MutexGuard<'a, State>, bool) {
        let Some(number) = state.ready.pop_front() else {
            return (state, false);
        };
        state.waiting -= 1;
        let table = &mut state.tables[number];
        table.busy = true;
        let sequence = table.next;
        let index = (sequence - state.first) as usize;
        let posted = &mut state.posted[index];
        let batch = Arc::clone(&posted.batch);
        let clock = posted.clock;
        let lines = posted.lines[number].take().unwrap_or_default();
        drop(state);

        // A share that panics fails the tracker, as a worker thread that
        // stopped did, instead of ending the calling thread that helped.
        let processed = self.core(number).as_mut().and_then(|core| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                process_share(core, number, &batch, clock, lines)
            }))
            .ok()
        });
        drop(batch);

        let mut state = self.state();
        let Some(processed) = processed else {
            // The table stays busy, so no thread takes its shares again.
            state.failed = Some(number);
            self.done.notify_all();
            return (state, true);
        };
        let count = state.count;
        let table = &mut state.tables[number];
        table.busy = false;
        table.next += 1;
        table.results.push_back(processed);
        if table.next < count {
            state.ready.push_back(number);
        }
        // Batches before this one may have left the board meanwhile.
        let index = (sequence - state.first) as usize;
        state.posted[index].remaining -= 1;
        while state
            .posted
            .front()
            .is_some_and(|posted| posted.remaining == 0)
        {
            state.posted.pop_front();
            state.first += 1;
        }
        self.done.notify_one();
        if !state.ready.is_empty() {
            self.work.notify_one();
        }
        (state, true)
    }
}

/// Processes the share of table `number` in `batch`, then moves the clock to
/// `clock`, and returns the records of the flows that finished.
fn process_share(
    core: &mut Core,
    number: usize,
    batch: &Batch,
    clock: Option<Timestamp>,
    mut lines: LinePart,
) -> Processed {
    let tracker = &mut core.tracker;
    batch.process_in(number, tracker);
    if let Some(clock) = clock {
        tracker.advance_to(clock);
    }
    let mut records = Vec::new();
    match core.formatter.as_deref_mut() {
        Some(formatter) => {
            for record in tracker.drain_finished() {
                lines.push(&record, formatter);
            }
            lines.sort_by_end();
        }
        None => {
            records.extend(tracker.drain_finished());
            records.sort_by(end_order);
        }
    }
    Processed {
        records,
        lines,
        active: tracker.active_flows(),
        stats: tracker.stats(),
    }
}
