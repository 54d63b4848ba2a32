//! Flow tracking spread over threads.
//!
//! [`ShardedTracker`] splits the flows over several [`Tracker`] tables, one
//! per worker, and routes every packet to the worker that owns its flow.
//! [`shard_of`] chooses that worker from a hash of the packet's two IP
//! addresses, the same in both directions, so every packet of a connection and
//! every fragment of its IP datagrams reaches one worker. The later fragments
//! of a tunnel packet fragmented outside the tunnel follow their first
//! fragment to the worker of the inner flow.
//!
//! The calling thread collects packets into batches of [`BATCH_PACKETS`],
//! lists for each table the packets of its flows, and posts the batch with the
//! capture clock at its end. Each table's share of a batch is processed by
//! whichever thread takes it first: a helper thread, of which there are one
//! fewer than the tables or the processors, whichever is less, or the calling
//! thread. The calling thread processes one share after each batch it posts
//! once half the shares of 16 batches wait, and when 16 batches are in flight
//! it processes shares until the oldest batch is done. Without helpers, it
//! processes every share of a batch as soon as it posts it. So up to as many
//! threads as there are processors share the reading and the tracking.
//!
//! A table's shares are processed one at a time, in batch order. A share
//! processes the table's own packets and moves its clock to the time of every
//! other packet of the batch, so its clock moves as one tracker's does. Flows
//! time out, and interim records fall due, at the same packets, late packets
//! included. So the set of records is the same as with one [`Tracker`], and so
//! are the flows open at the end, unless a full table evicts (see
//! [`ShardedTracker`]).
//!
//! Records come back per batch. The records of one batch are sorted by end time
//! (then start time and endpoints), so for a given input and thread count the
//! order is always the same; it can differ from the order of a single tracker,
//! which reports a flow at the packet that ends it. Each share sorts its
//! table's records, and the calling thread merges the tables' sorted lists.
//!
//! With a [`RecordFormatter`] installed by
//! [`ShardedTracker::format_in_workers`], the records come back as bytes in the
//! same order. The thread that processes a share formats its records while few
//! shares wait, and leaves them to the calling thread while the helpers are
//! behind, so that the formatting goes to the thread with time for it.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use wsd_capture::Timestamp;
use wsd_decode::{
    Decoded, FragmentInfo, IpInfo, MacAddr, StopReason, Transport, TunnelInfo, Vlans,
};

use crate::fragments::INNER_PACKET_COUNTED;
use crate::record::FlowRecord;
use crate::snapshot::{DatagramSnapshot, FlowSnapshot, RestoreError, TrackerSnapshot};
use crate::tracker::{Tracker, TrackerConfig, TrackerRestorer, TrackerStats, CLOCK_JUMP};

mod board;
mod lines;
mod tunnel_routes;

use board::Board;

pub use lines::RecordFormatter;
use lines::{write_merged, LineCursor, LinePart, OrderKey};
use tunnel_routes::{datagram_id, TunnelRoutes};

/// Packets collected before they are handed to the workers. Larger batches
/// cost fewer channel operations, and smaller ones delay records less and keep
/// the batches in flight small. With 2,048 packets instead of 8,192, the
/// two-thread runs on the bench captures took fewer page faults (28% fewer on
/// the mixed capture) and less CPU time.
pub const BATCH_PACKETS: usize = 2048;

/// Batches posted whose records are not collected yet, so that the calling
/// thread reads and decodes while the helper threads track. When this many
/// are in flight, the calling thread processes shares until the oldest batch
/// is done. With worker threads that waited for their jobs on channels, 16
/// instead of 4 cut the voluntary context switches from 674 to 141 on the
/// mixed bench capture, and the time by a fifth.
const BATCHES_IN_FLIGHT: usize = 16;

/// Records sent by a worker in one message at the end of the input. Up to
/// [`BATCHES_IN_FLIGHT`] messages wait in a worker's reply channel, so this
/// bounds the memory of the end of the input: with two workers and 4,096 records
/// per message, the flood bench capture peaked 53 MB higher than with 1,024.
const FINISH_CHUNK: usize = 1024;

/// Saved flows sent by a worker in one message of a snapshot. Up to
/// [`BATCHES_IN_FLIGHT`] messages wait in a worker's reply channel: 17 times
/// 1,024 flows of 536 bytes, about 9 MB.
const SNAPSHOT_CHUNK: usize = 1024;

/// Bytes of formatted lines after which a worker sends an end-of-input chunk
/// early. Such a chunk fits the line parts that the worker reuses from its batches.
const FINISH_CHUNK_BYTES: usize = 128 << 10;

/// Returns the worker, from 0 to `shards - 1`, that owns the flow of `packet`.
///
/// Both directions of a flow get the same worker. The hash covers only the two
/// IP addresses, so every flow between two hosts, and every fragment of their
/// IP datagrams, reaches one worker: a later fragment carries no ports, yet
/// must count into the flow of its first fragment. Packets without an IP layer
/// go to worker 0. `shards` of 0 is treated as 1. `config` is accepted so that
/// the routing can follow the key settings without a change of signature.
pub fn shard_of(packet: &Decoded, config: &TrackerConfig, shards: usize) -> usize {
    let _ = config;
    let Some(ip) = packet.ip.as_ref() else {
        return 0;
    };
    scale(address_pair_hash(ip.src, ip.dst), shards)
}

/// Returns the worker that owns a saved fragmented datagram: the worker of the
/// flows between its two addresses.
fn shard_of_datagram(datagram: &DatagramSnapshot, shards: usize) -> usize {
    scale(address_pair_hash(datagram.src, datagram.dst), shards)
}

/// Returns the worker, of `shards`, that owns the saved flow `saved`. The hash
/// is symmetric, so the client and server addresses give the worker of the
/// flow's key.
pub(crate) fn worker_of_saved(saved: &FlowSnapshot, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    scale(address_pair_hash(saved.client.ip, saved.server.ip), shards)
}

/// Hashes two addresses, the same whichever of them sent the packet. It runs
/// for every packet, so each address gets one folded multiplication, and the
/// sum of the two makes the hash symmetric. Mixing each address before the sum
/// keeps pairs such as 10.0.h.1 and 10.1.h.2 apart for every h, which an XOR of
/// the raw addresses would not.
#[inline]
fn address_pair_hash(a: IpAddr, b: IpAddr) -> u64 {
    folded_multiply(address_word(a)).wrapping_add(folded_multiply(address_word(b)))
}

/// Multiplies `x` by a large odd constant and folds the 128-bit product into
/// 64 bits, so that every input bit moves many output bits.
#[inline]
fn folded_multiply(x: u64) -> u64 {
    let product = u128::from(x) * 0x9e37_79b9_7f4a_7c15;
    (product as u64) ^ (product >> 64) as u64
}

/// Folds an address into one word.
#[inline]
fn address_word(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            (bits as u64) ^ ((bits >> 64) as u64).rotate_left(29)
        }
    }
}

/// Maps a hash onto 0..shards by multiply-shift, which needs no division.
fn scale(hash: u64, shards: usize) -> usize {
    ((u128::from(hash) * shards.max(1) as u128) >> 64) as usize
}

/// The failure of a [`ShardedTracker`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// The tracking of a worker's table failed, so its flows are lost: a share
    /// of a batch panicked, or the worker's thread ended before the tracker
    /// stopped it.
    #[error("tracking in flow table {worker} failed: a thread panicked or stopped")]
    WorkerStopped {
        /// The worker's number, from 0.
        worker: usize,
    },
    /// A worker thread could not be started.
    #[error("cannot start flow worker thread {worker}: {reason}")]
    Spawn {
        /// The worker's number, from 0.
        worker: usize,
        /// The operating system's error message.
        reason: String,
    },
    /// [`ShardedTracker::finish_lines`] was called before
    /// [`ShardedTracker::format_in_workers`] installed a formatter.
    #[error("no record formatter is installed, so the flows cannot be reported as lines")]
    NoFormatter,
}

/// Packets that every worker reads: each processes those of its own flows.
#[derive(Default)]
struct Batch {
    /// The capture time of every packet, in order, which every worker's clock
    /// follows.
    times: Vec<Timestamp>,
    packets: Vec<Queued>,
    /// The tunnels and fragment fields of the packets that have either.
    rare: Vec<(Option<TunnelInfo>, Option<FragmentInfo>)>,
    /// Positions in `packets` of each worker's packets.
    owned: Vec<Vec<u32>>,
}

/// Marks a [`Queued`] packet without a tunnel or fragment fields.
const NOT_RARE: u32 = u32::MAX;

/// A decoded packet in a [`Batch`]. Few packets have a tunnel or are fragments,
/// and those two fields take half of a [`Decoded`], so they are kept apart:
/// the calling thread copies, and the workers read, half the bytes per packet.
#[derive(Clone, Copy)]
struct Queued {
    src_mac: Option<MacAddr>,
    dst_mac: Option<MacAddr>,
    vlans: Vlans,
    ip: Option<IpInfo>,
    transport: Transport,
    stop: Option<StopReason>,
    /// Index into [`Batch::rare`], or [`NOT_RARE`].
    rare: u32,
}

impl Batch {
    /// Returns an empty batch for `shards` workers.
    fn new(shards: usize) -> Batch {
        Batch {
            times: Vec::with_capacity(BATCH_PACKETS),
            packets: Vec::with_capacity(BATCH_PACKETS),
            rare: Vec::new(),
            owned: (0..shards).map(|_| Vec::new()).collect(),
        }
    }

    /// Adds `packet`, captured at `ts`, to the packets of worker `shard`.
    #[inline]
    fn push(&mut self, ts: Timestamp, packet: &Decoded, shard: usize) {
        let rare = if packet.tunnel.is_none() && packet.fragment.is_none() {
            NOT_RARE
        } else {
            self.rare.push((packet.tunnel, packet.fragment));
            (self.rare.len() - 1) as u32
        };
        let index = self.packets.len() as u32;
        self.times.push(ts);
        self.packets.push(Queued {
            src_mac: packet.src_mac,
            dst_mac: packet.dst_mac,
            vlans: packet.vlans,
            ip: packet.ip,
            transport: packet.transport,
            stop: packet.stop,
            rare,
        });
        debug_assert!(shard < self.owned.len(), "batch made for too few workers");
        if let Some(owned) = self.owned.get_mut(shard) {
            owned.push(index);
        }
    }

    /// Returns the packet at `index`.
    #[inline]
    fn get(&self, index: usize) -> Option<Decoded> {
        let queued = self.packets.get(index)?;
        let (tunnel, fragment) = match queued.rare {
            NOT_RARE => (None, None),
            rare => self.rare.get(rare as usize).copied().unwrap_or_default(),
        };
        let packet = Decoded {
            src_mac: queued.src_mac,
            dst_mac: queued.dst_mac,
            vlans: queued.vlans,
            ip: queued.ip,
            transport: queued.transport,
            stop: queued.stop,
            tunnel,
            fragment,
        };
        Some(packet)
    }

    /// Processes the packets of worker `number` in `tracker`, and moves its
    /// clock to the time of every other packet, as one tracker's clock moves
    /// with every packet. So flows time out, and interim records fall due, at
    /// the same packets as in one tracker.
    fn process_in(&self, number: usize, tracker: &mut Tracker) {
        let owned = self.owned.get(number).map_or(&[][..], Vec::as_slice);
        let mut owned = owned.iter().map(|&index| index as usize).peekable();
        for (index, &ts) in self.times.iter().enumerate() {
            if owned.next_if_eq(&index).is_none() {
                tracker.advance_to(ts);
            } else if let Some(packet) = self.get(index) {
                tracker.process(ts, &packet);
            }
        }
    }

    /// Empties the batch, keeping its memory for the next one.
    fn clear(&mut self) {
        self.times.clear();
        self.packets.clear();
        self.rare.clear();
        self.owned.iter_mut().for_each(Vec::clear);
    }
}

enum Job {
    Snapshot,
    /// Report every open flow, formatted if `format` and the worker has a
    /// formatter. The emptied line parts in `spare` carry the first chunks.
    Finish {
        format: bool,
        spare: Vec<LinePart>,
    },
    /// An emptied chunk of end-of-input lines, for the worker to fill again
    /// instead of allocating a new one.
    Recycle(LinePart),
}

enum Reply {
    /// The first reply to [`Job::Snapshot`]: the worker's snapshot without
    /// its flows, and the serial numbers of the flows, ascending. The flows
    /// follow in chunks, in order of [`Tracker::snapshot_in_time_order`].
    SnapshotHead {
        head: TrackerSnapshot,
        serials: Vec<u64>,
    },
    SnapshotFlows(Vec<FlowSnapshot>),
    FinishedChunk(Vec<FlowRecord>),
    FinishedLines(LinePart),
    Finished(TrackerStats),
}

struct Worker {
    jobs: SyncSender<Job>,
    replies: Receiver<Reply>,
    handle: Option<JoinHandle<()>>,
    active: usize,
    stats: TrackerStats,
}

/// Tracks flows in several worker tables, each a [`Tracker`], which helper
/// threads and the calling thread process.
///
/// Use it as a [`Tracker`]: feed packets with [`ShardedTracker::process`], take
/// records with [`ShardedTracker::drain_finished`], and end with
/// [`ShardedTracker::finish_each`] or save with [`ShardedTracker::snapshot`].
/// Records arrive a batch or more after their flows end, because the tables
/// take their packets a batch at a time.
///
/// The workers' tables share `max_flows` as evenly as whole numbers allow (each
/// at least one flow), so a full table evicts a flow of the same worker, which
/// is not always the flow a single tracker would evict.
pub struct ShardedTracker {
    config: TrackerConfig,
    workers: Vec<Worker>,
    /// The batch being collected, if it has packets.
    pending: Option<Batch>,
    /// Batches handed to the workers whose replies are still pending, oldest
    /// first.
    in_flight: VecDeque<Arc<Batch>>,
    /// Emptied batches, for reuse.
    spare: Vec<Batch>,
    /// Chooses the worker of each packet.
    router: Router,
    /// Records of the batches the workers replied to, in output order.
    finished: Vec<FlowRecord>,
    /// The calling thread's copy of the formatter that the workers run, for
    /// records that reach it unformatted.
    formatter: Option<Box<dyn RecordFormatter>>,
    /// Formatted records of the batches the workers replied to, one part per
    /// worker, in output order once merged.
    ready_lines: Vec<Vec<LinePart>>,
    /// Emptied line parts, for reuse, one pool per worker as in `spare`.
    spare_lines: Vec<Vec<LinePart>>,
    now: Option<Timestamp>,
    clock_jumps: u64,
    packets: u64,
    /// The shares of the batches in flight, and the tables.
    board: Arc<Board>,
    /// The threads that process shares beside the calling thread.
    helpers: Vec<JoinHandle<()>>,
    /// Records of shares that the calling thread formatted, counted before
    /// each share's records are formatted.
    #[cfg(test)]
    formatted_here: usize,
}

/// The threads of a [`ShardedTracker`] and their board.
struct Crew {
    workers: Vec<Worker>,
    board: Arc<Board>,
    helpers: Vec<JoinHandle<()>>,
}

impl ShardedTracker {
    /// Starts `threads` workers (at least one) with empty tables.
    ///
    /// # Errors
    ///
    /// Returns an error if a thread cannot be started.
    pub fn new(config: TrackerConfig, threads: usize) -> Result<ShardedTracker, ShardError> {
        let threads = threads.max(1);
        let trackers = (0..threads)
            .map(|worker| Tracker::new(worker_config(config, threads, worker)))
            .collect();
        let crew = spawn_workers(threads)?;
        ShardedTracker::start(config, trackers, None, TunnelRoutes::default(), crew)
    }

    /// Starts `threads` workers that continue the flows of `snapshot`, each
    /// flow in the worker that owns its key.
    ///
    /// # Errors
    ///
    /// Returns the error of [`Tracker::restore`], with the position of the flow
    /// in `snapshot`, or an error if a thread cannot be started.
    pub fn restore(
        config: TrackerConfig,
        snapshot: &TrackerSnapshot,
        threads: usize,
    ) -> Result<ShardedTracker, RestoreOrShardError> {
        let mut restorer = ShardedRestorer::new(
            config,
            snapshot.clock,
            snapshot.next_serial,
            snapshot.flows.len(),
            threads,
        );
        for (index, saved) in snapshot.flows.iter().enumerate() {
            restorer.add(index, saved)?;
        }
        restorer.finish(&snapshot.fragments)
    }

    /// Hands one table of `trackers` to each of the `workers` that
    /// [`spawn_workers`] started.
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped.
    fn start(
        config: TrackerConfig,
        mut trackers: Vec<Tracker>,
        clock: Option<Timestamp>,
        tunnel_routes: TunnelRoutes,
        mut crew: Crew,
    ) -> Result<ShardedTracker, ShardError> {
        let mut workers = std::mem::take(&mut crew.workers);
        let helpers = std::mem::take(&mut crew.helpers);
        let board = Arc::clone(&crew.board);
        // Flows evicted while restoring come out first, oldest first. A caller
        // that evicted them in chunks with `ShardedOverLimit` left none.
        let mut finished: Vec<FlowRecord> = trackers
            .iter_mut()
            .flat_map(|tracker| tracker.drain_finished().collect::<Vec<_>>())
            .collect();
        finished.sort_by(end_order);
        let threads = trackers.len();
        debug_assert_eq!(threads, workers.len(), "one worker per table");
        for (number, (worker, tracker)) in workers.iter_mut().zip(trackers).enumerate() {
            worker.active = tracker.active_flows();
            worker.stats = tracker.stats();
            board.install(number, tracker);
        }
        Ok(ShardedTracker {
            config,
            workers,
            pending: None,
            in_flight: VecDeque::with_capacity(BATCHES_IN_FLIGHT),
            spare: Vec::new(),
            router: Router {
                config,
                shards: threads,
                tunnel_routes,
            },
            finished,
            formatter: None,
            ready_lines: Vec::new(),
            spare_lines: (0..threads).map(|_| Vec::new()).collect(),
            now: clock,
            clock_jumps: 0,
            packets: 0,
            board,
            helpers,
            #[cfg(test)]
            formatted_here: 0,
        })
    }

    /// Returns the number of worker threads.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Returns the settings of the whole run, as given to
    /// [`ShardedTracker::new`].
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Queues one packet captured at `ts` for the worker that owns its flow,
    /// and hands a batch to the workers once enough packets are queued.
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped.
    pub fn process(&mut self, ts: Timestamp, packet: &Decoded) -> Result<(), ShardError> {
        self.packets += 1;
        match self.now {
            Some(now) if now >= ts => {}
            Some(now) => {
                if ts.nanos_since(now) > CLOCK_JUMP {
                    self.clock_jumps += 1;
                }
                self.now = Some(ts);
            }
            None => self.now = Some(ts),
        }
        let shards = self.workers.len();
        let batch = self
            .pending
            .get_or_insert_with(|| self.spare.pop().unwrap_or_else(|| Batch::new(shards)));
        let shard = self.router.route(packet);
        batch.push(ts, packet, shard);
        if batch.times.len() >= BATCH_PACKETS {
            self.dispatch()?;
        }
        Ok(())
    }

    /// Returns the capture clock: the latest packet time or time advanced to.
    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }

    /// Takes the records of the flows finished so far, a batch at a time in
    /// order of end time. Once [`ShardedTracker::format_in_workers`] installed
    /// a formatter, there are none, because [`ShardedTracker::drain_lines`]
    /// returns them formatted.
    pub fn drain_finished(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        self.finished.drain(..)
    }

    /// Returns true if finished flows wait in
    /// [`ShardedTracker::drain_finished`] or [`ShardedTracker::drain_lines`].
    #[inline]
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty() || !self.ready_lines.is_empty()
    }

    /// Installs a clone of `formatter` in every worker, which formats the
    /// records of its flows from now on, while the calling thread formats
    /// those that the helpers leave to it when they are behind. The records
    /// not drained yet are formatted at once. From then on finished flows come
    /// out of [`ShardedTracker::drain_lines`] and
    /// [`ShardedTracker::finish_lines`].
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped.
    pub fn format_in_workers<F>(&mut self, formatter: F) -> Result<(), ShardError>
    where
        F: RecordFormatter + Clone + 'static,
    {
        // Every share so far is processed first, so that the records not
        // formatted yet are all in `finished`, in output order.
        self.flush()?;
        for number in 0..self.workers.len() {
            if let Some(core) = self.board.core(number).as_mut() {
                core.formatter = Some(Box::new(formatter.clone()));
            }
        }
        self.formatter = Some(Box::new(formatter));
        let records = std::mem::take(&mut self.finished);
        self.add_finished(records)
    }

    /// Returns true once [`ShardedTracker::format_in_workers`] installed a
    /// formatter.
    pub fn formats_in_workers(&self) -> bool {
        self.formatter.is_some()
    }

    /// Passes the formatted records of the flows finished so far to `sink`, a
    /// batch at a time in order of end time. Only a tracker with a formatter
    /// (see [`ShardedTracker::format_in_workers`]) has any.
    pub fn drain_lines(&mut self, mut sink: impl FnMut(&[u8])) {
        if self.ready_lines.is_empty() {
            return;
        }
        for parts in self.ready_lines.drain(..) {
            write_merged(&parts, &mut sink);
            for (pool, mut part) in self.spare_lines.iter_mut().zip(parts) {
                part.clear();
                pool.push(part);
            }
        }
    }

    /// Returns the number of flows in the workers' tables, as of the latest
    /// batch they replied to.
    pub fn active_flows(&self) -> usize {
        self.workers.iter().map(|worker| worker.active).sum()
    }

    /// Returns the counters of all workers added up, as of the latest batch
    /// they replied to. `max_active` is the sum of the workers' maximums, which
    /// can exceed the largest number of flows that were in the tables at once.
    pub fn stats(&self) -> TrackerStats {
        let mut total = TrackerStats::default();
        for worker in &self.workers {
            let stats = &worker.stats;
            total.unattributed += stats.unattributed;
            total.flows_created += stats.flows_created;
            total.records += stats.records;
            total.idle_timeouts += stats.idle_timeouts;
            total.evicted += stats.evicted;
            total.port_reuses += stats.port_reuses;
            total.max_active += stats.max_active;
            total.interim_records += stats.interim_records;
            total.fragments_attributed += stats.fragments_attributed;
            total.fragments_unattributed += stats.fragments_unattributed;
            total.fragments_timed_out += stats.fragments_timed_out;
            total.fragments_over_limit += stats.fragments_over_limit;
            total.fragment_datagrams_evicted += stats.fragment_datagrams_evicted;
            total.tiny_fragments_joined += stats.tiny_fragments_joined;
            total.tiny_fragments_unjoined += stats.tiny_fragments_unjoined;
        }
        total.packets = self.packets;
        total.clock_jumps = self.clock_jumps;
        total
    }

    /// Moves the capture clock to `now`, as [`Tracker::advance_to`] does, so that
    /// flows idle past their timeout are reported although no packet arrived, and
    /// waits until every worker has caught up. A `now` before the clock is ignored.
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped.
    pub fn advance_to(&mut self, now: Timestamp) -> Result<(), ShardError> {
        if self.now.is_some_and(|clock| clock >= now) {
            return self.flush();
        }
        self.now = Some(now);
        self.dispatch()?;
        self.flush()
    }

    /// Hands every queued packet to the workers and waits until they have
    /// processed all of them, so that every record so far is in
    /// [`ShardedTracker::drain_finished`].
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped.
    pub fn flush(&mut self) -> Result<(), ShardError> {
        if self.pending.is_some() {
            self.dispatch()?;
        }
        while !self.in_flight.is_empty() {
            self.collect_batch()?;
        }
        Ok(())
    }

    /// Saves the flows of every worker as one snapshot, as
    /// [`Tracker::snapshot`] does for one tracker. The flows stay in the
    /// workers.
    ///
    /// The snapshot is one that [`Tracker::restore`] and
    /// [`ShardedTracker::restore`] with any thread count accept. The flows get
    /// new serial numbers, in creation order within each worker, because the
    /// workers number their flows independently, and come in order of their
    /// latest packet, so that every timeout queue is rebuilt front to back.
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped.
    pub fn snapshot(&mut self) -> Result<TrackerSnapshot, ShardError> {
        let (mut snapshot, flows) = self.snapshot_lazily()?;
        snapshot.flows = flows.collect::<Result<_, _>>()?;
        Ok(snapshot)
    }

    /// Saves the flows of every worker as [`ShardedTracker::snapshot`] does,
    /// but leaves them out of the returned snapshot and yields them one by one
    /// as the workers send them, in the same order. A caller that writes each
    /// flow as it comes, such as a flow-cache writer, then never keeps all the
    /// saved flows in memory, at over 500 bytes each. It needs 40 bytes a flow
    /// for their order and serial numbers, and up to about 9 MB per worker for
    /// the chunks in flight.
    ///
    /// Dropping the iterator early discards the flows not taken yet.
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped, here or as an item of the
    /// iterator, which then ends.
    pub fn snapshot_lazily(&mut self) -> Result<(TrackerSnapshot, SnapshotFlows<'_>), ShardError> {
        self.flush()?;
        let threads = self.workers.len();
        for number in 0..threads {
            self.send(number, Job::Snapshot)?;
        }
        let mut streams = Vec::with_capacity(threads);
        let mut datagrams = Vec::new();
        let mut failure = None;
        for number in 0..threads {
            match self.receive(number) {
                Ok(Reply::SnapshotHead { head, serials }) => {
                    datagrams.extend(
                        head.fragments
                            .into_iter()
                            .map(|datagram| (number, datagram)),
                    );
                    streams.push(FlowStream::new(serials));
                }
                reply => {
                    streams.push(FlowStream::new(Vec::new()));
                    failure.get_or_insert(match reply {
                        Err(err) => err,
                        Ok(_) => ShardError::WorkerStopped { worker: number },
                    });
                }
            }
        }
        if let Some(failure) = failure {
            // The workers that replied already send their flows, which the
            // iterator's drop discards.
            drop(SnapshotFlows {
                tracker: self,
                streams,
                failed: true,
            });
            return Err(failure);
        }
        let next_serial = number_flows(&mut streams);
        let fragments = merge_datagrams(datagrams, &streams, next_serial);
        let snapshot = TrackerSnapshot {
            clock: self.now,
            next_serial,
            flows: Vec::new(),
            fragments,
        };
        let flows = SnapshotFlows {
            tracker: self,
            streams,
            failed: false,
        };
        Ok((snapshot, flows))
    }

    /// Reports every flow still in the workers' tables, as
    /// [`Tracker::finish_each`] does, and stops the workers. Records of flows
    /// that finished earlier and were not drained yet come first. The
    /// remaining flows come oldest first, merged across workers. The records
    /// are never formatted, and lines not drained yet are dropped, so a tracker
    /// with a formatter ends with [`ShardedTracker::finish_lines`] instead.
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped; the records received
    /// before that were passed to `sink`.
    pub fn finish_each(&mut self, mut sink: impl FnMut(FlowRecord)) -> Result<(), ShardError> {
        self.flush()?;
        for record in self.finished.drain(..) {
            sink(record);
        }
        for number in 0..self.workers.len() {
            self.send(
                number,
                Job::Finish {
                    format: false,
                    spare: Vec::new(),
                },
            )?;
        }
        // A k-way merge of the workers' record streams, each sorted by start time.
        let mut heads: Vec<std::vec::IntoIter<FlowRecord>> = Vec::new();
        let mut done = vec![false; self.workers.len()];
        for number in 0..self.workers.len() {
            heads.push(self.next_finish_chunk(number, &mut done)?);
        }
        let mut peeked: Vec<Option<FlowRecord>> = heads.iter_mut().map(Iterator::next).collect();
        loop {
            let next = peeked
                .iter()
                .enumerate()
                .filter_map(|(number, record)| record.as_ref().map(|record| (number, record)))
                .min_by(|(_, a), (_, b)| start_order(a, b))
                .map(|(number, _)| number);
            let Some(number) = next else {
                break;
            };
            if let Some(record) = peeked[number].take() {
                sink(record);
            }
            peeked[number] = heads[number].next();
            if peeked[number].is_none() && !done[number] {
                heads[number] = self.next_finish_chunk(number, &mut done)?;
                peeked[number] = heads[number].next();
            }
        }
        self.join();
        Ok(())
    }

    /// Receives the next chunk of end-of-input records of worker `number`, or
    /// an empty one once the worker has sent its final counters.
    fn next_finish_chunk(
        &mut self,
        number: usize,
        done: &mut [bool],
    ) -> Result<std::vec::IntoIter<FlowRecord>, ShardError> {
        match self.receive(number)? {
            Reply::FinishedChunk(records) => Ok(records.into_iter()),
            Reply::Finished(stats) => {
                self.finish_worker(number, stats);
                done[number] = true;
                Ok(Vec::new().into_iter())
            }
            _ => Err(ShardError::WorkerStopped { worker: number }),
        }
    }

    /// Reports every flow still in the workers' tables as a formatted line,
    /// as [`ShardedTracker::finish_each`] does with records, and stops the
    /// workers. Lines not drained yet come first.
    ///
    /// # Errors
    ///
    /// Returns an error if no formatter is installed (see
    /// [`ShardedTracker::format_in_workers`]), or if a worker thread stopped;
    /// the lines received before that were passed to `sink`.
    pub fn finish_lines(&mut self, mut sink: impl FnMut(&[u8])) -> Result<(), ShardError> {
        if self.formatter.is_none() {
            return Err(ShardError::NoFormatter);
        }
        self.flush()?;
        self.drain_lines(&mut sink);
        let threads = self.workers.len();
        for number in 0..threads {
            let spare = std::mem::take(&mut self.spare_lines[number]);
            self.send(
                number,
                Job::Finish {
                    format: true,
                    spare,
                },
            )?;
        }
        // A k-way merge of the workers' lines, each stream sorted by start time.
        let mut done = vec![false; threads];
        let mut cursors = Vec::with_capacity(threads);
        for number in 0..threads {
            cursors.push(self.next_finish_lines(number, &mut done)?);
        }
        loop {
            let mut earliest: Option<(usize, &OrderKey)> = None;
            for (number, cursor) in cursors.iter().enumerate() {
                let Some(key) = cursor.key() else {
                    continue;
                };
                if earliest.is_none_or(|(_, best)| key.cmp_start(best).is_lt()) {
                    earliest = Some((number, key));
                }
            }
            let Some(number) = earliest.map(|(number, _)| number) else {
                break;
            };
            sink(cursors[number].take());
            while cursors[number].key().is_none() && !done[number] {
                let next = self.next_finish_lines(number, &mut done)?;
                let mut used = std::mem::replace(&mut cursors[number], next).into_part();
                used.clear();
                // A full job channel only means that the worker allocates
                // its next chunk, so the part is then dropped.
                let _ = self.try_send(number, Job::Recycle(used));
            }
        }
        self.join();
        Ok(())
    }

    /// Receives the next chunk of end-of-input lines of worker `number`, or an
    /// empty one once the worker has sent its final counters.
    fn next_finish_lines(
        &mut self,
        number: usize,
        done: &mut [bool],
    ) -> Result<LineCursor, ShardError> {
        match self.receive(number)? {
            Reply::FinishedLines(part) => Ok(LineCursor::new(part)),
            Reply::FinishedChunk(records) => {
                let mut part = LinePart::default();
                if let Some(formatter) = self.formatter.as_deref_mut() {
                    format_here(formatter, &records, &mut part, &self.board, number)?;
                }
                Ok(LineCursor::new(part))
            }
            Reply::Finished(stats) => {
                self.finish_worker(number, stats);
                done[number] = true;
                Ok(LineCursor::default())
            }
            _ => Err(ShardError::WorkerStopped { worker: number }),
        }
    }

    /// Stores the final counters of a worker that reported all its flows.
    fn finish_worker(&mut self, number: usize, stats: TrackerStats) {
        let worker = &mut self.workers[number];
        worker.stats = stats;
        worker.active = 0;
    }

    fn dispatch(&mut self) -> Result<(), ShardError> {
        if self.in_flight.len() >= BATCHES_IN_FLIGHT {
            self.collect_batch()?;
        }
        // A batch without packets still carries the clock.
        let batch = self.pending.take().unwrap_or_else(|| {
            let shards = self.workers.len();
            self.spare.pop().unwrap_or_else(|| Batch::new(shards))
        });
        let batch = Arc::new(batch);
        let lines = self
            .spare_lines
            .iter_mut()
            .map(|pool| pool.pop().unwrap_or_else(LinePart::with_room))
            .collect();
        self.board.post(Arc::clone(&batch), self.now, lines);
        self.in_flight.push_back(batch);
        if self.helpers.is_empty() {
            // No other thread would take the shares, so they are processed at
            // once and the batch's records go out with it.
            self.board.process_waiting();
        } else {
            // The calling thread processes a share once half the shares of 16
            // batches wait. With two tables on the mixed bench capture, on a
            // 2-processor Intel Xeon, starting at 1, 2, 4, 8 and 16 waiting
            // shares took 258, 261, 210, 191 and 188 ms (medians of 8 rounds).
            // A calling thread that helps early leaves the helper without shares.
            let shares = self.workers.len() * BATCHES_IN_FLIGHT;
            self.board.help_if_behind((shares / 2) as u64);
        }
        // The records of every batch done so far go out now rather than when
        // the batches in flight run out, so that they are not held back while
        // the input is slow.
        while !self.in_flight.is_empty() {
            let Some(results) = self.board.try_collect()? else {
                break;
            };
            self.accept_batch(results)?;
        }
        Ok(())
    }

    /// Waits for every worker's reply to the oldest batch in flight and
    /// queues its records, merged in order of end time.
    fn collect_batch(&mut self) -> Result<(), ShardError> {
        let results = self.board.collect()?;
        self.accept_batch(results)
    }

    /// Queues the records of the oldest batch in flight from `results`, one
    /// per table, merged in order of end time.
    ///
    /// # Errors
    ///
    /// Returns an error if formatting the records of a share panicked.
    fn accept_batch(&mut self, results: Vec<board::Processed>) -> Result<(), ShardError> {
        // The board and every thread that processed a share let go of the
        // batch before the last result came in.
        if let Some(Ok(mut batch)) = self.in_flight.pop_front().map(Arc::try_unwrap) {
            if self.spare.len() < BATCHES_IN_FLIGHT {
                batch.clear();
                self.spare.push(batch);
            }
        }
        let threads = self.workers.len();
        let mut runs = Vec::with_capacity(threads);
        let mut parts = Vec::with_capacity(threads);
        for (number, (worker, mut processed)) in self.workers.iter_mut().zip(results).enumerate() {
            // A share left unformatted while the helpers were behind.
            if let Some(formatter) = self.formatter.as_deref_mut() {
                #[cfg(test)]
                {
                    self.formatted_here += processed.records.len();
                }
                let records = std::mem::take(&mut processed.records);
                format_here(
                    formatter,
                    &records,
                    &mut processed.lines,
                    &self.board,
                    number,
                )?;
            }
            runs.push(processed.records);
            parts.push(processed.lines);
            worker.active = processed.active;
            worker.stats = processed.stats;
        }
        self.add_finished(merge_by_end(runs))?;
        if parts.iter().any(|part| !part.is_empty()) {
            self.ready_lines.push(parts);
        } else {
            for (pool, part) in self.spare_lines.iter_mut().zip(parts) {
                pool.push(part);
            }
        }
        Ok(())
    }

    /// Queues records that are in output order, such as those finished before
    /// [`ShardedTracker::format_in_workers`]: as they are, or formatted if a
    /// formatter is installed.
    ///
    /// # Errors
    ///
    /// Returns an error if the formatter panicked.
    fn add_finished(&mut self, records: Vec<FlowRecord>) -> Result<(), ShardError> {
        if records.is_empty() {
            return Ok(());
        }
        let Some(formatter) = self.formatter.as_deref_mut() else {
            self.finished.extend(records);
            return Ok(());
        };
        let mut part = self.spare_lines[0].pop().unwrap_or_default();
        // These records come from every table, so a failure is reported as
        // that of table 0.
        format_here(formatter, &records, &mut part, &self.board, 0)?;
        self.ready_lines.push(vec![part]);
        Ok(())
    }

    fn send(&self, number: usize, job: Job) -> Result<(), ShardError> {
        self.workers[number]
            .jobs
            .send(job)
            .map_err(|_| ShardError::WorkerStopped { worker: number })
    }

    fn try_send(&self, number: usize, job: Job) -> bool {
        self.workers[number].jobs.try_send(job).is_ok()
    }

    fn receive(&self, number: usize) -> Result<Reply, ShardError> {
        self.workers[number]
            .replies
            .recv()
            .map_err(|_| ShardError::WorkerStopped { worker: number })
    }

    /// Waits for the worker threads to end.
    fn join(&mut self) {
        end_helpers(&self.board, &mut self.helpers);
        for worker in &mut self.workers {
            if let Some(handle) = worker.handle.take() {
                // A worker that panicked has already lost its flows, and the
                // error surfaced as a closed channel before this point.
                let _ = handle.join();
            }
        }
    }
}

impl Drop for ShardedTracker {
    fn drop(&mut self) {
        // Dropping the job senders ends each worker's loop, and the threads
        // are then joined so that none outlives the tracker.
        // Dropping the reply receivers too frees a worker blocked on a full
        // reply channel.
        for worker in &mut self.workers {
            let (closed_jobs, _) = sync_channel(0);
            let (_, closed_replies) = sync_channel(0);
            worker.jobs = closed_jobs;
            worker.replies = closed_replies;
        }
        self.join();
    }
}

/// Builds a [`ShardedTracker`] from saved flows added one at a time, as
/// [`TrackerRestorer`] builds a [`Tracker`], for a caller that decodes a flow
/// cache as it goes instead of holding every saved flow at once. Each flow goes
/// straight to the table of the worker that owns its address pair.
///
/// Add the flows in the order of the snapshot's `flows`, then pass its
/// datagrams to [`ShardedRestorer::finish`], which starts the workers.
pub struct ShardedRestorer {
    config: TrackerConfig,
    clock: Option<Timestamp>,
    /// One restorer per worker.
    restorers: Vec<TrackerRestorer>,
    /// The worker of every flow added, by serial number, for the datagrams of
    /// tunnel packets: their addresses are the tunnel's, not the flow's.
    workers_by_serial: Vec<(u64, usize)>,
}

impl ShardedRestorer {
    /// Starts the tables of `threads` workers (at least one) with the settings
    /// `config`, the capture clock `clock` and the next serial number
    /// `next_serial` of a snapshot of `count` flows.
    pub fn new(
        config: TrackerConfig,
        clock: Option<Timestamp>,
        next_serial: u64,
        count: usize,
        threads: usize,
    ) -> ShardedRestorer {
        let threads = threads.max(1);
        // The address pairs spread evenly, so each table gets room for its
        // share and grows if it takes more.
        let share = count.div_ceil(threads);
        let restorers = (0..threads)
            .map(|worker| {
                let config = worker_config(config, threads, worker);
                TrackerRestorer::new(config, clock, next_serial, share)
            })
            .collect();
        ShardedRestorer {
            config,
            clock,
            restorers,
            workers_by_serial: Vec::with_capacity(count),
        }
    }

    /// Adds the saved flow `saved`, at position `index` of the snapshot's
    /// flows, to the table of the worker that owns it.
    ///
    /// # Errors
    ///
    /// As for [`TrackerRestorer::add`].
    pub fn add(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        let worker = worker_of_saved(saved, self.restorers.len());
        self.restorers[worker].add(index, saved)?;
        self.workers_by_serial.push((saved.serial, worker));
        Ok(())
    }

    /// Checks the saved flow `saved` as [`ShardedRestorer::add`] would, but
    /// leaves it out, for a flow that [`ShardedOverLimit::evict_saved`]
    /// evicts later.
    ///
    /// # Errors
    ///
    /// As for [`TrackerRestorer::check`].
    pub fn check(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        let worker = worker_of_saved(saved, self.restorers.len());
        self.restorers[worker].check(index, saved)
    }

    /// Checks that the saved flow `saved`, which [`ShardedRestorer::check`]
    /// passed and which was left out, has the key of no flow added after it.
    /// Call it once every flow is added.
    ///
    /// # Errors
    ///
    /// As for [`TrackerRestorer::check_key`].
    pub fn check_key(&self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        let worker = worker_of_saved(saved, self.restorers.len());
        self.restorers[worker].check_key(index, saved)
    }

    /// Restores the IP fragment table from the snapshot's datagrams
    /// `fragments`, each in the worker of its flows, and starts the workers.
    ///
    /// # Errors
    ///
    /// Returns the error of [`TrackerRestorer::finish`], with the position of
    /// the datagram in `fragments`, or an error if a thread cannot be started.
    pub fn finish(
        self,
        fragments: &[DatagramSnapshot],
    ) -> Result<ShardedTracker, RestoreOrShardError> {
        let mut tables = self.finish_over_limit(fragments)?;
        for tracker in &mut tables.trackers {
            tracker.evict_surplus(usize::MAX);
        }
        Ok(tables.start()?)
    }

    /// Restores the IP fragment tables as [`ShardedRestorer::finish`] does, and
    /// starts the worker threads, but keeps the workers' tables until
    /// [`ShardedOverLimit::start`], with the flows beyond each table's limit
    /// still in it. The caller evicts them a chunk at a time with
    /// [`ShardedOverLimit::evict_surplus`] in between. A thread that cannot
    /// be started thus fails here, before any record is out.
    ///
    /// # Errors
    ///
    /// Returns the error of [`TrackerRestorer::finish`], with the position of
    /// the datagram in `fragments`, or an error if a thread cannot be started.
    pub fn finish_over_limit(
        mut self,
        fragments: &[DatagramSnapshot],
    ) -> Result<ShardedOverLimit, RestoreOrShardError> {
        let threads = self.restorers.len();
        let tunnel_datagram = |datagram: &DatagramSnapshot| {
            datagram
                .flow
                .filter(|flow| flow.header_end == INNER_PACKET_COUNTED)
        };
        if fragments
            .iter()
            .any(|datagram| tunnel_datagram(datagram).is_some())
        {
            self.workers_by_serial.sort_unstable();
        }

        let mut shares: Vec<Vec<DatagramSnapshot>> = vec![Vec::new(); threads];
        // Positions in `fragments` of each worker's datagrams.
        let mut positions: Vec<Vec<usize>> = vec![Vec::new(); threads];
        // A datagram's flow is between the same two addresses, so it lands on
        // the same worker, where its serial number still names the flow. A
        // tunnel datagram goes to its inner flow's worker instead, and its later
        // fragments are routed there.
        let mut tunnel_routes = TunnelRoutes::default();
        for (index, datagram) in fragments.iter().enumerate() {
            let tunnel_worker = tunnel_datagram(datagram).and_then(|flow| {
                let found = self
                    .workers_by_serial
                    .binary_search_by_key(&flow.serial, |&(serial, _)| serial);
                found
                    .ok()
                    .map(|position| self.workers_by_serial[position].1)
            });
            let worker = match tunnel_worker {
                Some(worker) => {
                    let id = (datagram.src, datagram.dst, datagram.id, datagram.protocol);
                    tunnel_routes.add(id, worker);
                    worker
                }
                None => shard_of_datagram(datagram, threads),
            };
            shares[worker].push(datagram.clone());
            positions[worker].push(index);
        }
        drop(self.workers_by_serial);

        // One table checks that creation times never decrease across all the
        // datagrams, but each worker's table gets only its share.
        let mut first_fault = fragments
            .windows(2)
            .position(|pair| pair[1].created < pair[0].created)
            .map(|before| RestoreError::InvalidDatagram {
                index: before + 1,
                reason: "was created before the datagram saved ahead of it",
            });
        let mut trackers = Vec::with_capacity(threads);
        for ((restorer, share), positions) in
            self.restorers.into_iter().zip(&shares).zip(&positions)
        {
            match restorer.finish_over_limit(share) {
                Ok(tracker) => trackers.push(tracker),
                // The fault one table would find first is the one earliest in
                // the snapshot, whichever worker found it.
                Err(err) => {
                    let err = renumber(err, positions);
                    if first_fault
                        .as_ref()
                        .is_none_or(|fault| datagram_index(&err) < datagram_index(fault))
                    {
                        first_fault = Some(err);
                    }
                }
            }
        }
        if let Some(fault) = first_fault {
            return Err(fault.into());
        }
        let crew = spawn_workers(threads)?;
        Ok(ShardedOverLimit {
            config: self.config,
            trackers,
            clock: self.clock,
            tunnel_routes,
            crew,
        })
    }
}

/// The workers' tables restored from a snapshot, before the worker threads
/// get them, which can contain more flows than their limits (see
/// [`ShardedRestorer::finish_over_limit`]). Dropping it ends the threads.
pub struct ShardedOverLimit {
    config: TrackerConfig,
    trackers: Vec<Tracker>,
    clock: Option<Timestamp>,
    tunnel_routes: TunnelRoutes,
    /// The started threads, waiting for their tables.
    crew: Crew,
}

impl ShardedOverLimit {
    /// Evicts at most `max` (at least one) of the flows beyond its limit from
    /// each table, as [`Tracker::evict_surplus`] does, and returns their
    /// records in order of end time, or `None` once no table is over its
    /// limit. Flows of a protocol without records leave no record, so the list
    /// can be empty.
    pub fn evict_surplus(&mut self, max: usize) -> Option<Vec<FlowRecord>> {
        let evicted: usize = self
            .trackers
            .iter_mut()
            .map(|tracker| tracker.evict_surplus(max))
            .sum();
        (evicted > 0).then(|| self.drain_evicted())
    }

    /// Reports the saved flow `saved`, at position `index` of the snapshot's
    /// flows, as evicted from the table of the worker that owns it, as
    /// [`Tracker::evict_saved`] does. [`ShardedOverLimit::drain_evicted`]
    /// returns its record.
    ///
    /// # Errors
    ///
    /// As for [`Tracker::evict_saved`].
    pub fn evict_saved(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        let worker = worker_of_saved(saved, self.trackers.len());
        self.trackers[worker].evict_saved(index, saved)
    }

    /// Returns the records of the flows evicted since the last call, in order
    /// of end time.
    pub fn drain_evicted(&mut self) -> Vec<FlowRecord> {
        let runs = self
            .trackers
            .iter_mut()
            .map(|tracker| {
                let mut run: Vec<FlowRecord> = tracker.drain_finished().collect();
                run.sort_by(end_order);
                run
            })
            .collect();
        merge_by_end(runs)
    }

    /// Hands the tables to the worker threads. The records of flows still
    /// beyond a table's limit come out of the tracker first, in order of end
    /// time.
    ///
    /// # Errors
    ///
    /// Returns an error if a worker thread stopped.
    pub fn start(mut self) -> Result<ShardedTracker, ShardError> {
        for tracker in &mut self.trackers {
            tracker.evict_surplus(usize::MAX);
        }
        ShardedTracker::start(
            self.config,
            self.trackers,
            self.clock,
            self.tunnel_routes,
            self.crew,
        )
    }
}

/// Either failure of [`ShardedTracker::restore`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreOrShardError {
    /// The snapshot is inconsistent.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// A worker thread could not be started.
    #[error(transparent)]
    Shard(#[from] ShardError),
}

/// Returns the settings of table `worker` of `threads`. The tables' limits add
/// up to `config.max_flows`: each has its quotient by the number of tables, and
/// the first tables one more for the remainder. Every table has room for at
/// least one flow.
pub(crate) fn worker_config(config: TrackerConfig, threads: usize, worker: usize) -> TrackerConfig {
    let threads = threads.max(1);
    let max_flows = config.max_flows.max(1);
    let extra = usize::from(worker < max_flows % threads);
    TrackerConfig {
        max_flows: (max_flows / threads + extra).max(1),
        ..config
    }
}

/// Returns the position of the datagram that `err` names, or the largest
/// position for an error about no datagram.
fn datagram_index(err: &RestoreError) -> usize {
    match err {
        RestoreError::InvalidDatagram { index, .. } => *index,
        _ => usize::MAX,
    }
}

/// Replaces the position of a datagram within a worker's part of a snapshot
/// by its position in the whole snapshot, looked up in `datagrams`. Flow
/// errors name positions in the whole snapshot already.
fn renumber(err: RestoreError, datagrams: &[usize]) -> RestoreError {
    match err {
        RestoreError::InvalidDatagram { index, reason } => RestoreError::InvalidDatagram {
            index: datagrams.get(index).copied().unwrap_or(index),
            reason,
        },
        other => other,
    }
}

/// The saved flows of all workers, merged into the order of one snapshot as
/// the workers send them. Returned by [`ShardedTracker::snapshot_lazily`].
pub struct SnapshotFlows<'a> {
    tracker: &'a mut ShardedTracker,
    /// One stream per worker.
    streams: Vec<FlowStream>,
    /// True once an item was an error, after which the iterator ends.
    failed: bool,
}

/// The saved flows of one worker while they arrive.
struct FlowStream {
    /// The worker's serial numbers of its flows, ascending.
    serials: Vec<u64>,
    /// The merged snapshot's serial number of each entry of `serials`.
    new_serials: Vec<u64>,
    /// Flows the worker has still to send.
    pending: usize,
    /// The flows received and not merged yet.
    chunk: std::vec::IntoIter<FlowSnapshot>,
    /// The worker's next flow in merge order, if taken from `chunk`.
    next: Option<FlowSnapshot>,
}

impl FlowStream {
    fn new(serials: Vec<u64>) -> FlowStream {
        FlowStream {
            pending: serials.len(),
            new_serials: Vec::new(),
            serials,
            chunk: Vec::new().into_iter(),
            next: None,
        }
    }

    /// Returns the merged snapshot's serial number of the worker's flow
    /// `serial`, if the worker saved such a flow.
    fn renumber(&self, serial: u64) -> Option<u64> {
        let position = self.serials.binary_search(&serial).ok()?;
        self.new_serials.get(position).copied()
    }
}

impl SnapshotFlows<'_> {
    /// Takes the next flow of worker `number` from its chunk, receiving the
    /// next chunk when this one is used up. Leaves none once the worker sent
    /// all its flows.
    fn refill(&mut self, number: usize) -> Result<(), ShardError> {
        let stream = &mut self.streams[number];
        loop {
            if let Some(flow) = stream.chunk.next() {
                stream.next = Some(flow);
                return Ok(());
            }
            if stream.pending == 0 {
                return Ok(());
            }
            match self.tracker.receive(number)? {
                Reply::SnapshotFlows(flows) => {
                    stream.pending = stream.pending.saturating_sub(flows.len());
                    stream.chunk = flows.into_iter();
                }
                _ => return Err(ShardError::WorkerStopped { worker: number }),
            }
        }
    }
}

impl Iterator for SnapshotFlows<'_> {
    type Item = Result<FlowSnapshot, ShardError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        for number in 0..self.streams.len() {
            if self.streams[number].next.is_none() {
                if let Err(err) = self.refill(number) {
                    self.failed = true;
                    return Some(Err(err));
                }
            }
        }
        // Each worker sends its flows by latest packet, then serial number.
        // Across workers, equal times are ordered by the new serial numbers,
        // which follow the old ones and then the worker's number.
        let (number, _) = self
            .streams
            .iter()
            .enumerate()
            .filter_map(|(number, stream)| stream.next.as_ref().map(|flow| (number, flow)))
            .min_by_key(|&(number, flow)| (flow.touched, flow.serial, number))?;
        let stream = &mut self.streams[number];
        let mut flow = stream.next.take()?;
        // Every flow a worker sends has a serial number from its list.
        flow.serial = stream.renumber(flow.serial).unwrap_or(flow.serial);
        Some(Ok(flow))
    }
}

impl Drop for SnapshotFlows<'_> {
    fn drop(&mut self) {
        // A worker that still has flows to send would block on its full reply
        // channel, so the rest is received and dropped.
        for number in 0..self.streams.len() {
            while self.streams[number].pending > 0 {
                match self.tracker.receive(number) {
                    Ok(Reply::SnapshotFlows(flows)) => {
                        let stream = &mut self.streams[number];
                        stream.pending = stream.pending.saturating_sub(flows.len());
                    }
                    _ => break,
                }
            }
        }
    }
}

/// Numbers the flows of all workers from 0 in order of their old serial
/// numbers, then the worker's number, so that each worker's flows keep their
/// creation order. Returns the number of flows, the merged snapshot's next
/// serial number.
fn number_flows(streams: &mut [FlowStream]) -> u64 {
    let mut positions = vec![0usize; streams.len()];
    for stream in streams.iter_mut() {
        stream.new_serials = Vec::with_capacity(stream.serials.len());
    }
    let mut next = 0u64;
    loop {
        let lowest = streams
            .iter()
            .zip(&positions)
            .enumerate()
            .filter_map(|(number, (stream, &position))| {
                stream.serials.get(position).map(|&serial| (serial, number))
            })
            .min();
        let Some((_, number)) = lowest else {
            return next;
        };
        streams[number].new_serials.push(next);
        positions[number] += 1;
        next += 1;
    }
}

/// Merges the workers' datagrams into one fragment table, oldest first, with
/// their flows' serial numbers replaced by the merged snapshot's.
///
/// Each worker's table holds up to the maximum, so together they can hold
/// more: all are kept, and a tracker restoring them with fewer tables evicts
/// the oldest, as a full table would. Two workers hold a datagram of the same
/// key when a later fragment of a tunnel packet arrived before its first
/// fragment: the later one waits in the worker of the outer addresses,
/// unattributed as that worker counts it, and only the first fragment's
/// datagram, which links the inner flow, is kept.
fn merge_datagrams(
    mut datagrams: Vec<(usize, DatagramSnapshot)>,
    streams: &[FlowStream],
    next_serial: u64,
) -> Vec<DatagramSnapshot> {
    datagrams.sort_by_key(|(_, datagram)| datagram.created);
    let key =
        |datagram: &DatagramSnapshot| (datagram.src, datagram.dst, datagram.id, datagram.protocol);
    let linked: std::collections::HashSet<_> = datagrams
        .iter()
        .filter(|(_, datagram)| datagram.first_seen)
        .map(|(_, datagram)| key(datagram))
        .collect();
    let mut waiting = std::collections::HashSet::new();
    datagrams
        .into_iter()
        .filter(|(_, datagram)| {
            datagram.first_seen
                || (!linked.contains(&key(datagram)) && waiting.insert(key(datagram)))
        })
        .map(|(number, mut datagram)| {
            if let Some(link) = &mut datagram.flow {
                // A flow that ended is not in the snapshot; a serial past the
                // last one keeps the datagram's fragments unattributed.
                link.serial = streams
                    .get(number)
                    .and_then(|stream| stream.renumber(link.serial))
                    .unwrap_or(next_serial);
            }
            datagram
        })
        .collect()
}

/// Sends a worker's snapshot as [`Reply::SnapshotHead`] and chunks of
/// [`Reply::SnapshotFlows`]. Returns false if the calling thread is gone.
fn send_snapshot(tracker: &Tracker, replies: &SyncSender<Reply>) -> bool {
    let (head, serials, flows) = tracker.snapshot_in_time_order();
    if replies.send(Reply::SnapshotHead { head, serials }).is_err() {
        return false;
    }
    let mut chunk = Vec::with_capacity(SNAPSHOT_CHUNK);
    for flow in flows {
        chunk.push(flow);
        if chunk.len() == SNAPSHOT_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(SNAPSHOT_CHUNK));
            if replies.send(Reply::SnapshotFlows(full)).is_err() {
                return false;
            }
        }
    }
    chunk.is_empty() || replies.send(Reply::SnapshotFlows(chunk)).is_ok()
}

/// Compares records of one batch by end time, then start time and endpoints.
/// Only flows on different VLANs can tie, and then the stable sort keeps the
/// worker's order.
fn end_order(a: &FlowRecord, b: &FlowRecord) -> Ordering {
    (a.last_ts, a.first_ts)
        .cmp(&(b.last_ts, b.first_ts))
        .then_with(|| endpoint_order(a, b))
}

/// Formats `records` at the end of `part` in the calling thread. A formatter
/// that panics fails table `table` of `board`, as a share that panics does,
/// instead of ending the calling thread.
///
/// # Errors
///
/// Returns an error if the formatter panicked.
fn format_here(
    formatter: &mut dyn RecordFormatter,
    records: &[FlowRecord],
    part: &mut LinePart,
    board: &Board,
    table: usize,
) -> Result<(), ShardError> {
    let formatted = panic::catch_unwind(AssertUnwindSafe(|| {
        for record in records {
            part.push(record, formatter);
        }
    }));
    formatted.map_err(|_| {
        board.fail(table);
        ShardError::WorkerStopped { worker: table }
    })
}

/// Merges the workers' records of one batch, each list sorted by
/// [`end_order`], into one sorted list. Of equal records the lower worker's
/// comes first, as a stable sort of the lists one after the other would put
/// them.
fn merge_by_end(mut runs: Vec<Vec<FlowRecord>>) -> Vec<FlowRecord> {
    runs.retain(|run| !run.is_empty());
    if runs.len() <= 1 {
        return runs.pop().unwrap_or_default();
    }
    let total = runs.iter().map(Vec::len).sum();
    let mut merged = Vec::with_capacity(total);
    let mut heads: Vec<std::iter::Peekable<std::vec::IntoIter<FlowRecord>>> = runs
        .into_iter()
        .map(|run| run.into_iter().peekable())
        .collect();
    loop {
        let mut earliest: Option<(usize, &FlowRecord)> = None;
        for (number, head) in heads.iter_mut().enumerate() {
            let Some(record) = head.peek() else {
                continue;
            };
            if earliest.is_none_or(|(_, best)| end_order(record, best).is_lt()) {
                earliest = Some((number, record));
            }
        }
        let Some(number) = earliest.map(|(number, _)| number) else {
            return merged;
        };
        merged.extend(heads[number].next());
    }
}

/// Compares records at the end of the input by start time, as a single tracker
/// reports them, then by endpoints.
fn start_order(a: &FlowRecord, b: &FlowRecord) -> Ordering {
    a.first_ts
        .cmp(&b.first_ts)
        .then_with(|| endpoint_order(a, b))
}

fn endpoint_order(a: &FlowRecord, b: &FlowRecord) -> Ordering {
    (
        a.client.ip,
        a.client.port,
        a.server.ip,
        a.server.port,
        a.protocol,
    )
        .cmp(&(
            b.client.ip,
            b.client.port,
            b.server.ip,
            b.server.port,
            b.protocol,
        ))
}

/// Chooses the worker of each packet.
struct Router {
    config: TrackerConfig,
    shards: usize,
    /// Workers of the later fragments of tunnel packets.
    tunnel_routes: TunnelRoutes,
}

impl Router {
    /// Returns the worker of `packet`: the one [`shard_of`] chooses, except for
    /// the later fragments of a tunnel packet fragmented outside the tunnel,
    /// which go to the worker of their first fragment's inner flow.
    // NOTE: a later fragment that arrives before its tunnel packet's first
    // fragment goes to the worker of the outer addresses and stays unattributed,
    // where one tracker would count it.
    #[inline]
    fn route(&mut self, packet: &Decoded) -> usize {
        let shards = self.shards;
        let shard = shard_of(packet, &self.config, shards);
        let Some(fragment) = packet.fragment else {
            return shard;
        };
        if !fragment.is_first() {
            return self.tunnel_routes.worker(&fragment).unwrap_or(shard);
        }
        let outer_shard = scale(address_pair_hash(fragment.src, fragment.dst), shards);
        if shard == outer_shard {
            self.tunnel_routes.remove(&fragment);
        } else {
            self.tunnel_routes.add(datagram_id(&fragment), shard);
        }
        shard
    }
}

/// Starts `threads` worker threads, which wait for jobs on their tables, and
/// the helper threads, which process shares of batches with the calling
/// thread: one fewer than `threads` or than the processors, whichever is less.
///
/// # Errors
///
/// Returns an error if a thread cannot be started. The threads started before
/// it end when the error return drops their channels and closes the board.
fn spawn_workers(threads: usize) -> Result<Crew, ShardError> {
    let board = Board::new(threads);
    let mut crew = Crew {
        workers: Vec::with_capacity(threads),
        board: Arc::clone(&board),
        helpers: Vec::new(),
    };
    // More helpers than processors only take turns on them and contend for
    // the board.
    let processors = std::thread::available_parallelism().map_or(threads, |count| count.get());
    let helpers = threads.min(processors).saturating_sub(1);
    for number in 0..helpers {
        let board = Arc::clone(&board);
        let spawned = std::thread::Builder::new()
            .name(format!("flow-helper-{number}"))
            .spawn(move || board.help());
        // An error return drops the crew, which ends the threads started.
        let handle = spawned.map_err(|err| spawn_error(number, &err))?;
        crew.helpers.push(handle);
    }
    for number in 0..threads {
        let (jobs, job_receiver) = sync_channel(BATCHES_IN_FLIGHT + 1);
        let (reply_sender, replies) = sync_channel(BATCHES_IN_FLIGHT + 1);
        let board = Arc::clone(&board);
        let spawned = std::thread::Builder::new()
            .name(format!("flow-worker-{number}"))
            .spawn(move || run_worker(&board, number, &job_receiver, &reply_sender));
        let handle = spawned.map_err(|err| spawn_error(number, &err))?;
        crew.workers.push(Worker {
            jobs,
            replies,
            handle: Some(handle),
            active: 0,
            stats: TrackerStats::default(),
        });
    }
    Ok(crew)
}

/// Returns the error of thread `number` that could not be started.
fn spawn_error(number: usize, err: &std::io::Error) -> ShardError {
    ShardError::Spawn {
        worker: number,
        reason: err.to_string(),
    }
}

/// Closes `board` and waits for the `helpers` to end. Without helpers the
/// board stays open: a crew whose threads a tracker took over is dropped
/// while the tracker still uses the board.
fn end_helpers(board: &Board, helpers: &mut Vec<JoinHandle<()>>) {
    if helpers.is_empty() {
        return;
    }
    board.close();
    for helper in helpers.drain(..) {
        let _ = helper.join();
    }
}

impl Drop for Crew {
    /// Ends the helper threads. The worker threads end when their channels
    /// are dropped.
    fn drop(&mut self) {
        end_helpers(&self.board, &mut self.helpers);
    }
}

/// Runs the jobs of worker `number` on its table on `board`.
fn run_worker(board: &Board, number: usize, jobs: &Receiver<Job>, replies: &SyncSender<Reply>) {
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Snapshot => {
                let core = board.core(number);
                let Some(core) = core.as_ref() else {
                    return;
                };
                if !send_snapshot(&core.tracker, replies) {
                    return;
                }
            }
            // Chunks come back only after the end of the input, for the loop
            // in `finish_worker`.
            Job::Recycle(_) => {}
            Job::Finish { format, spare } => {
                let Some(mut core) = board.core(number).take() else {
                    return;
                };
                let formatter = match core.formatter.as_mut() {
                    Some(formatter) if format => {
                        Some(formatter.as_mut() as &mut dyn RecordFormatter)
                    }
                    _ => None,
                };
                finish_worker(&mut core.tracker, formatter, spare, jobs, replies);
                return;
            }
        }
    }
}

/// Reports every flow of a worker's table in chunks, formatted if a
/// `formatter` is given, then the worker's final counters. A chunk of lines
/// reuses a chunk that came back through `jobs` if there is one, else one of
/// the emptied parts in `spare`.
fn finish_worker(
    tracker: &mut Tracker,
    formatter: Option<&mut dyn RecordFormatter>,
    mut spare: Vec<LinePart>,
    jobs: &Receiver<Job>,
    replies: &SyncSender<Reply>,
) {
    let mut sent = true;
    if let Some(formatter) = formatter {
        let mut chunk = spare.pop().unwrap_or_else(LinePart::with_room);
        tracker.finish_each(|record| {
            chunk.push(&record, formatter);
            if chunk.len() == FINISH_CHUNK || chunk.byte_len() >= FINISH_CHUNK_BYTES {
                let next = match jobs.try_recv() {
                    Ok(Job::Recycle(part)) => part,
                    _ => spare.pop().unwrap_or_else(LinePart::with_room),
                };
                let full = std::mem::replace(&mut chunk, next);
                sent &= replies.send(Reply::FinishedLines(full)).is_ok();
            }
        });
        if !chunk.is_empty() {
            sent &= replies.send(Reply::FinishedLines(chunk)).is_ok();
        }
    } else {
        let mut chunk = Vec::with_capacity(FINISH_CHUNK);
        tracker.finish_each(|record| {
            chunk.push(record);
            if chunk.len() == FINISH_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(FINISH_CHUNK));
                sent &= replies.send(Reply::FinishedChunk(full)).is_ok();
            }
        });
        if !chunk.is_empty() {
            sent &= replies.send(Reply::FinishedChunk(chunk)).is_ok();
        }
    }
    if sent {
        let _ = replies.send(Reply::Finished(tracker.stats()));
    }
}

#[cfg(test)]
#[path = "../tests/common/sharding.rs"]
mod sharding;

#[cfg(test)]
mod tests {
    use super::sharding::{mixed_stream, process_all, DebugLines};
    use super::*;

    fn short_timeouts() -> TrackerConfig {
        TrackerConfig {
            tcp_idle_timeout: 20_000_000_000,
            udp_idle_timeout: 5_000_000_000,
            ..TrackerConfig::default()
        }
    }

    /// Panics on the tenth record it formats, and formats the others as
    /// `DebugLines` does.
    #[derive(Clone, Default)]
    struct PanicsOnce {
        formatted: usize,
    }

    impl RecordFormatter for PanicsOnce {
        fn format(&mut self, record: &FlowRecord, out: &mut Vec<u8>) {
            self.formatted += 1;
            assert_ne!(self.formatted, 10, "a formatter that fails once");
            DebugLines.format(record, out);
        }
    }

    /// A formatter that panics in the calling thread fails the tracker as it
    /// does in a share, and the tracker stays failed, although the formatter
    /// would format the later records.
    #[test]
    fn calling_thread_formatter_panic_is_an_error() {
        let stream = mixed_stream();
        let mut tracker = ShardedTracker::new(short_timeouts(), 2).unwrap();
        tracker.board.leave_unformatted(0);
        tracker.board.leave_unformatted(1);
        tracker.format_in_workers(PanicsOnce::default()).unwrap();
        let result = process_all(&mut tracker, &stream);
        assert!(
            matches!(result, Err(ShardError::WorkerStopped { .. })),
            "{result:?}"
        );
        assert!(tracker.formatted_here > 0, "the calling thread formatted");

        // Every later batch fails too, and no line comes out.
        let later = stream.iter().take(2 * BATCH_PACKETS);
        let failed = later.filter(|(ts, packet)| tracker.process(*ts, packet).is_err());
        assert!(failed.count() >= 2, "each batch handed over fails");
        let mut lines = 0;
        tracker.drain_lines(|_| lines += 1);
        assert_eq!(lines, 0);
        assert!(tracker.flush().is_err(), "the tracker stays failed");
    }

    /// The records of one table formatted by the calling thread merge with
    /// the lines that the other table's thread formatted, in the order of the
    /// unformatted records.
    #[test]
    fn caller_formats_left_records_in_order() {
        let stream = mixed_stream();
        let mut plain = ShardedTracker::new(short_timeouts(), 2).unwrap();
        let mut expected = Vec::new();
        for (ts, packet) in &stream {
            plain.process(*ts, packet).unwrap();
            expected.extend(plain.drain_finished().map(|record| format!("{record:?}\n")));
        }
        // The flows that ended during the input, whose records pass through
        // the merging of shares.
        plain.flush().unwrap();
        expected.extend(plain.drain_finished().map(|record| format!("{record:?}\n")));
        let during_input = expected.len();
        plain
            .finish_each(|record| expected.push(format!("{record:?}\n")))
            .unwrap();
        assert!(during_input > 500, "flows end during the input");

        let mut tracker = ShardedTracker::new(short_timeouts(), 2).unwrap();
        tracker.board.leave_unformatted(1);
        tracker.format_in_workers(DebugLines).unwrap();
        let mut lines = Vec::new();
        let mut take = |line: &[u8]| lines.push(String::from_utf8(line.to_vec()).unwrap());
        for (ts, packet) in &stream {
            tracker.process(*ts, packet).unwrap();
            assert_eq!(tracker.drain_finished().count(), 0);
            tracker.drain_lines(&mut take);
        }
        tracker.finish_lines(&mut take).unwrap();
        assert!(tracker.formatted_here > 0, "the calling thread formatted");
        assert_eq!(lines.len(), expected.len());
        let differs = lines
            .iter()
            .zip(&expected)
            .position(|(got, want)| got != want);
        assert_eq!(differs, None, "the first line that differs");
    }

    #[test]
    fn flows_numbered_by_serial_then_worker() {
        let mut streams = vec![
            FlowStream::new(vec![0, 2, 5]),
            FlowStream::new(vec![1, 2, 3]),
        ];
        assert_eq!(number_flows(&mut streams), 6);
        assert_eq!(streams[0].new_serials, [0, 2, 5]);
        assert_eq!(streams[1].new_serials, [1, 3, 4]);
        assert_eq!(streams[1].renumber(2), Some(3));
        assert_eq!(streams[0].renumber(3), None);
    }
}
