//! Routes for the later fragments of tunnel packets fragmented outside the
//! tunnel.
//!
//! The first fragment of such a packet carries the inner headers, so it goes to
//! the worker of the inner flow. Its later fragments carry only the outer
//! header, whose addresses would choose another worker, yet they must count
//! into the inner flow. The router therefore remembers, per outer datagram,
//! the worker its first fragment went to.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use wsd_decode::FragmentInfo;

use crate::fragments::MAX_FRAGMENT_DATAGRAMS;

/// The fields that identify one fragmented datagram: addresses, identification
/// and protocol of its fragmented header.
pub(super) type DatagramId = (IpAddr, IpAddr, u32, u8);

/// The workers of outer datagrams whose first fragment went to another worker
/// than their addresses choose. Bounded to [`MAX_FRAGMENT_DATAGRAMS`] entries,
/// the oldest evicted first.
#[derive(Debug, Default)]
pub(super) struct TunnelRoutes {
    workers: HashMap<DatagramId, usize>,
    /// Datagrams in the order they were added. A datagram removed or routed
    /// again stays here until it reaches the front.
    order: VecDeque<DatagramId>,
}

impl TunnelRoutes {
    /// Notes that the first fragment of datagram `id` went to `worker`, which
    /// differs from the worker of its outer addresses.
    pub fn add(&mut self, id: DatagramId, worker: usize) {
        if self.workers.insert(id, worker).is_none() {
            self.order.push_back(id);
        }
        while self.workers.len() > MAX_FRAGMENT_DATAGRAMS {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.workers.remove(&oldest);
        }
        if self.order.len() > 2 * MAX_FRAGMENT_DATAGRAMS {
            self.order.retain(|id| self.workers.contains_key(id));
        }
    }

    /// Forgets the route of the datagram of `fragment`, whose first fragment
    /// went to the worker of its addresses.
    pub fn remove(&mut self, fragment: &FragmentInfo) {
        if !self.workers.is_empty() {
            self.workers.remove(&datagram_id(fragment));
        }
    }

    /// Returns the worker of the datagram of a later fragment, if its first
    /// fragment went elsewhere than its addresses choose.
    pub fn worker(&self, fragment: &FragmentInfo) -> Option<usize> {
        if self.workers.is_empty() {
            return None;
        }
        self.workers.get(&datagram_id(fragment)).copied()
    }
}

/// Returns the fields that identify the datagram of `fragment`.
pub(super) fn datagram_id(fragment: &FragmentInfo) -> DatagramId {
    (fragment.src, fragment.dst, fragment.id, fragment.protocol)
}
