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

/// Shares waiting per table below which the thread that takes a share formats
/// its records. On the mixed bench capture, with two tables on a 2-processor
/// Intel Xeon, limits of 1, 2 and 3 took 0.979, 0.987 and 0.977 times as long
/// as formatting every share (medians of 12 rounds). With JSON, they took
/// 0.973, 0.976 and 0.943 times as long. Those differences are within the
/// spread of the rounds, so the middle limit is used. A limit of 0 took 1.08
/// times as long with JSON, because the calling thread then formats every
/// record.
const FORMAT_BELOW_WAITING: u64 = 2;

/// One worker table and its formatter.
pub(super) struct Core {
    pub(super) tracker: Tracker,
    pub(super) formatter: Option<Box<dyn RecordFormatter>>,
}

/// The result of one share: the records of the flows it finished, sorted by
/// end time, unformatted in `records` or formatted in `lines`, and the
/// table's counters after it. The calling thread formats the records of a
/// share whose thread left them unformatted.
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
    /// True once the table failed: it stays busy, and a share that was in
    /// progress then gives no result.
    failed: bool,
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
    /// Helper threads asleep on [`Board::work`], and calling threads asleep
    /// on [`Board::done`]. A notification goes out only to a sleeping thread,
    /// because each one is a system call, even when no thread waits.
    sleeping_helpers: usize,
    sleeping_callers: usize,
    /// Tables whose records the calling thread formats, however few shares
    /// wait, so that tests can mix the two ways.
    #[cfg(test)]
    unformatted: Vec<usize>,
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

/// The kind of thread that sleeps until the board changes.
#[derive(Clone, Copy)]
enum Sleeper {
    /// A helper thread, woken through [`Board::work`] when a share waits or
    /// the board closes.
    Helper,
    /// The calling thread, woken through [`Board::done`] when a share is done
    /// or failed.
    Caller,
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
            sleeping_helpers: 0,
            sleeping_callers: 0,
            #[cfg(test)]
            unformatted: Vec::new(),
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
    /// part per table, and wakes the sleeping helper threads.
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
        let sleeping = state.sleeping_helpers;
        drop(state);
        // A helper that goes to sleep after this finds the new shares first.
        if sleeping == 0 {
            return;
        }
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
        self.work_until(Sleeper::Caller, |state| {
            state.ready.is_empty().then_some(())
        });
    }

    /// Returns the results of the oldest uncollected batch, one per table, if
    /// every table has processed its share of it.
    ///
    /// # Errors
    ///
    /// Returns an error once a table failed.
    pub(super) fn try_collect(&self) -> Result<Option<Vec<Processed>>, ShardError> {
        let mut state = self.state();
        if let Some(worker) = state.failed {
            return Err(ShardError::WorkerStopped { worker });
        }
        Ok(state.batch_ready().then(|| state.take_batch()))
    }

    /// Waits until every table has processed its share of the oldest
    /// uncollected batch, processing waiting shares meanwhile, and returns
    /// the results, one per table.
    ///
    /// # Errors
    ///
    /// Returns an error if a share failed.
    pub(super) fn collect(&self) -> Result<Vec<Processed>, ShardError> {
        self.work_until(Sleeper::Caller, |state| {
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
        self.work_until(Sleeper::Helper, |state| state.closed.then_some(()));
    }

    /// Processes waiting shares until `finished` returns a value, and returns
    /// it. Sleeps, as `sleeper`, while no share waits for a thread.
    fn work_until<T>(
        &self,
        sleeper: Sleeper,
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
                state = self.sleep(state, sleeper);
            }
        }
    }

    /// Waits for a notification to `sleeper`, counted among the sleeping
    /// threads meanwhile.
    fn sleep<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        sleeper: Sleeper,
    ) -> MutexGuard<'a, State> {
        let (wake, count) = match sleeper {
            Sleeper::Helper => (&self.work, &mut state.sleeping_helpers),
            Sleeper::Caller => (&self.done, &mut state.sleeping_callers),
        };
        *count += 1;
        let mut state = wake.wait(state).unwrap_or_else(PoisonError::into_inner);
        match sleeper {
            Sleeper::Helper => state.sleeping_helpers -= 1,
            Sleeper::Caller => state.sleeping_callers -= 1,
        }
        state
    }

    /// Leaves the records of table `number` to the calling thread to format.
    #[cfg(test)]
    pub(super) fn leave_unformatted(&self, number: usize) {
        self.state().unformatted.push(number);
    }

    /// Fails table `number`, whose results could not be used, as a share
    /// that panicked does: no thread takes its shares again.
    pub(super) fn fail(&self, number: usize) {
        Board::mark_failed(&mut self.state(), number);
        self.done.notify_all();
    }

    fn mark_failed(state: &mut State, number: usize) {
        state.failed.get_or_insert(number);
        if let Some(table) = state.tables.get_mut(number) {
            table.busy = true;
            table.failed = true;
        }
        state.ready.retain(|&ready| ready != number);
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
        // Formatting a record costs more than tracking the packets of a short
        // flow. While few shares wait, the calling thread is the slower one,
        // so the share's thread formats its records. While more wait, the
        // helpers are behind, so they leave the formatting to it.
        let format = state.waiting < FORMAT_BELOW_WAITING * state.tables.len() as u64;
        #[cfg(test)]
        let format = format && !state.unformatted.contains(&number);
        drop(state);

        // A share that panics fails the tracker, as a worker thread that
        // stopped did, instead of ending the calling thread that helped.
        let processed = self.core(number).as_mut().and_then(|core| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                process_share(core, number, &batch, clock, lines, format)
            }))
            .ok()
        });
        drop(batch);

        let mut state = self.state();
        let Some(processed) = processed else {
            // The table stays busy, so no thread takes its shares again.
            Board::mark_failed(&mut state, number);
            self.done.notify_all();
            return (state, true);
        };
        // The table failed while this share was in progress, because its
        // thread could not use an earlier result.
        if state.tables[number].failed {
            return (state, true);
        }
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
        if state.sleeping_callers > 0 {
            self.done.notify_one();
        }
        if !state.ready.is_empty() && state.sleeping_helpers > 0 {
            self.work.notify_one();
        }
        (state, true)
    }
}

/// Processes the share of table `number` in `batch`, then moves the clock to
/// `clock`, and returns the records of the flows that finished, formatted if
/// `format` and the table has a formatter.
fn process_share(
    core: &mut Core,
    number: usize,
    batch: &Batch,
    clock: Option<Timestamp>,
    mut lines: LinePart,
    format: bool,
) -> Processed {
    let tracker = &mut core.tracker;
    batch.process_in(number, tracker);
    if let Some(clock) = clock {
        tracker.advance_to(clock);
    }
    let mut records = Vec::new();
    match core.formatter.as_deref_mut().filter(|_| format) {
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::tracker::TrackerConfig;

    /// Long enough for any thread to run on a loaded machine.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// Polls `condition` until it holds, and fails the test if it never does.
    fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
        let start = Instant::now();
        while !condition() {
            assert!(start.elapsed() < PATIENCE, "gave up waiting until {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn board_with_one_table() -> Arc<Board> {
        let board = Board::new(1);
        board.install(0, Tracker::new(TrackerConfig::default()));
        board
    }

    fn post_empty_batch(board: &Board) {
        let batch = Arc::new(Batch::new(1));
        board.post(batch, None, vec![LinePart::default()]);
    }

    fn start_helper(board: &Arc<Board>) -> thread::JoinHandle<()> {
        let board = Arc::clone(board);
        thread::spawn(move || board.help())
    }

    fn stop_helper(board: &Board, helper: thread::JoinHandle<()>) {
        board.close();
        helper.join().expect("the helper thread ends");
    }

    /// Waits until the helper is inside a share of the only table, with
    /// `waiting` shares left behind it.
    fn wait_for_helper_in_share(board: &Board, waiting: u64) {
        wait_until("the helper took a share", || {
            let state = board.state();
            state.waiting == waiting && state.tables[0].busy
        });
    }

    #[test]
    fn sleeping_helper_wakes_for_posted_share() {
        let board = board_with_one_table();
        let helper = start_helper(&board);
        wait_until("the helper sleeps", || board.state().sleeping_helpers == 1);
        post_empty_batch(&board);
        // Only the helper can process the share: this thread never does.
        wait_until("the helper processed the share", || {
            board.try_collect().is_ok_and(|results| results.is_some())
        });
        stop_helper(&board, helper);
    }

    /// A table that fails while a helper processes its share takes no result
    /// from that share, and no thread takes its later shares.
    #[test]
    fn failed_table_not_processed_again() {
        let board = board_with_one_table();
        let helper = start_helper(&board);

        // Holding the table keeps the helper inside the share it took.
        let table = board.core(0);
        post_empty_batch(&board);
        post_empty_batch(&board);
        wait_for_helper_in_share(&board, 1);
        board.fail(0);
        drop(table);
        wait_until("the helper sleeps", || board.state().sleeping_helpers == 1);

        let state = board.state();
        assert_eq!(state.tables[0].next, 0, "no share counted as done");
        assert!(state.tables[0].results.is_empty());
        assert!(state.ready.is_empty());
        assert_eq!(state.waiting, 1, "the second share was never taken");
        drop(state);
        assert!(board.try_collect().is_err());
        stop_helper(&board, helper);
    }

    #[test]
    fn sleeping_caller_wakes_when_helper_finishes() {
        let board = board_with_one_table();
        let helper = start_helper(&board);

        // Holding the table keeps the helper inside the share it took.
        let table = board.core(0);
        post_empty_batch(&board);
        wait_for_helper_in_share(&board, 0);

        let (sender, results) = mpsc::channel();
        let caller = thread::spawn({
            let board = Arc::clone(&board);
            move || {
                let collected = board.collect().map(|results| results.len());
                let _ = sender.send(collected);
            }
        });
        wait_until("the caller sleeps", || board.state().sleeping_callers == 1);

        drop(table);
        let collected = results.recv_timeout(PATIENCE);
        assert_eq!(
            collected,
            Ok(Ok(1)),
            "the caller collects the helper's result"
        );
        stop_helper(&board, helper);
        caller.join().expect("the calling thread ends");
    }
}
