//! Picking, from a snapshot with more flows than the tables allow, the flows
//! that the tables would evict at once, so that they need not be restored.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use wsd_capture::Timestamp;

use crate::shard::{worker_config, worker_of_saved};
use crate::snapshot::{CloseState, DatagramSnapshot, FlowSnapshot};
use crate::tracker::TrackerConfig;

/// The position of a saved flow in the order in which a full table evicts:
/// closed flows before open ones, then the flow idle longest, then the lowest
/// serial number. The lowest rank goes first.
type Rank = (bool, Timestamp, u64);

fn rank(saved: &FlowSnapshot) -> Rank {
    (
        saved.closed == CloseState::Open,
        saved.touched,
        saved.serial,
    )
}

/// Reads the flows of a snapshot that has more flows than the tables allow,
/// and picks those that the tables would evict as soon as they were restored.
/// It keeps the ranks of only as many flows as the tables keep, 24 bytes a
/// flow, so a caller that reads the snapshot again, restores the flows not
/// picked and evicts the picked ones one by one with
/// [`Tracker::evict_saved`](crate::Tracker::evict_saved) never has more than
/// a full table in memory.
///
/// Add every flow of the snapshot with [`SurplusPicker::add`], then call
/// [`SurplusPicker::finish`].
pub struct SurplusPicker {
    /// Per table: its limit, and the ranks of the flows it would keep of those
    /// added so far, the lowest on top.
    tables: Vec<(usize, BinaryHeap<Reverse<Rank>>)>,
}

impl SurplusPicker {
    /// Starts picking for `threads` tables (one for a [`Tracker`](crate::Tracker),
    /// more for a [`ShardedTracker`](crate::ShardedTracker)) with the settings
    /// `config`, whose `max_flows` the tables share.
    pub fn new(config: &TrackerConfig, threads: usize) -> SurplusPicker {
        let threads = threads.max(1);
        let tables = (0..threads)
            .map(|worker| {
                (
                    worker_config(*config, threads, worker).max_flows,
                    BinaryHeap::new(),
                )
            })
            .collect();
        SurplusPicker { tables }
    }

    /// Adds the next flow of the snapshot.
    pub fn add(&mut self, saved: &FlowSnapshot) {
        let worker = worker_of_saved(saved, self.tables.len());
        let (limit, kept) = &mut self.tables[worker];
        let rank = rank(saved);
        if kept.len() < *limit {
            kept.push(Reverse(rank));
        } else if let Some(mut lowest) = kept.peek_mut() {
            if rank > lowest.0 {
                *lowest = Reverse(rank);
            }
        }
    }

    /// Returns the flows picked, given the snapshot's datagrams `fragments`.
    pub fn finish(self, fragments: &[DatagramSnapshot]) -> Surplus {
        let lowest_kept = self
            .tables
            .into_iter()
            .map(|(limit, kept)| {
                let full = kept.len() >= limit;
                kept.peek().filter(|_| full).map(|lowest| lowest.0)
            })
            .collect();
        let linked = fragments
            .iter()
            .filter_map(|datagram| datagram.flow.map(|flow| flow.serial))
            .collect();
        Surplus {
            lowest_kept,
            linked,
        }
    }
}

/// The flows of a snapshot that a [`SurplusPicker`] picked for eviction.
#[derive(Clone, Debug)]
pub struct Surplus {
    /// Per table: the rank of the lowest flow it keeps, or `None` if it keeps
    /// every flow.
    lowest_kept: Vec<Option<Rank>>,
    /// Serial numbers of the flows that saved datagrams link to.
    linked: HashSet<u64>,
}

impl Surplus {
    /// Returns true if `saved` is among the flows picked.
    ///
    /// A flow that a saved datagram links to is never picked, so that the
    /// datagram finds it when the fragment table is restored. Such a flow
    /// stays in the table beyond its limit and is evicted with
    /// [`Tracker::evict_surplus`](crate::Tracker::evict_surplus), as are flows
    /// that share their rank with the lowest one kept (only a damaged snapshot
    /// repeats a serial number).
    pub fn contains(&self, saved: &FlowSnapshot) -> bool {
        let worker = worker_of_saved(saved, self.lowest_kept.len());
        self.lowest_kept[worker].is_some_and(|lowest| rank(saved) < lowest)
            && !self.linked.contains(&saved.serial)
    }
}
