//! Flow storage: a slab of flows, a hash index into it, and timeout queues.
//!
//! Each flow sits in exactly one queue, ordered by the capture-clock time of its
//! latest packet. Every queue has one timeout, so its front is the flow that
//! expires first and expiry never scans the table. Moving a flow to the back of a
//! queue on each packet is O(1) because the queues are linked lists threaded
//! through the slab.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::flow::Flow;
use crate::key::FlowKey;

/// Marks the end of a queue.
const NIL: u32 = u32::MAX;

/// Flows the hash index has room for when the first one is inserted.
const INDEX_MIN_ROOM: usize = 16;

/// The timeout queues a flow can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum QueueId {
    /// Open TCP connections.
    Tcp = 0,
    /// UDP conversations.
    Udp = 1,
    /// ICMP and ICMPv6 flows.
    Icmp = 2,
    /// IP protocols other than TCP, UDP, ICMP and ICMPv6.
    Other = 3,
    /// Connections closed by FINs or a RST, lingering for stragglers.
    Closed = 4,
}

/// Number of queues.
pub(crate) const QUEUE_COUNT: usize = 5;

impl QueueId {
    pub(crate) const ALL: [QueueId; QUEUE_COUNT] = [
        QueueId::Tcp,
        QueueId::Udp,
        QueueId::Icmp,
        QueueId::Other,
        QueueId::Closed,
    ];
}

/// One slab entry: a flow and its queue links.
struct Slot {
    flow: Flow,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy)]
struct Queue {
    head: u32,
    tail: u32,
}

impl Queue {
    const EMPTY: Queue = Queue {
        head: NIL,
        tail: NIL,
    };
}

/// The flow table.
pub(crate) struct FlowTable {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    queues: [Queue; QUEUE_COUNT],
    len: usize,
}

impl FlowTable {
    pub fn new() -> FlowTable {
        FlowTable {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            queues: [Queue::EMPTY; QUEUE_COUNT],
            len: 0,
        }
    }

    /// Number of flows in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Computes the hash of `key`, to pass to [`FlowTable::find`] and
    /// [`FlowTable::insert`] so that a packet's key is hashed once.
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Makes room for `additional` more flows without growing the index.
    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.index
            .reserve(additional, |&i| slot_hash(slots, hasher, i));
    }

    /// Finds the slot of the flow with `key`, whose hash is `hash`.
    pub fn find(&self, hash: u64, key: &FlowKey) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(hash, |&idx| match slots.get(idx as usize) {
                Some(Some(slot)) => slot.flow.key == *key,
                _ => false,
            })
            .copied()
    }

    /// Returns the flow in slot `idx`.
    ///
    /// Panics if the slot is empty: callers only pass indices that `find`,
    /// `insert` or a queue returned, and those always name an occupied slot.
    pub fn get(&self, idx: u32) -> &Flow {
        match self.slots.get(idx as usize) {
            Some(Some(slot)) => &slot.flow,
            _ => unreachable!("flow slot {idx} is empty"),
        }
    }

    /// Returns the flow in slot `idx`, or `None` if the slot is empty.
    pub fn try_get(&self, idx: u32) -> Option<&Flow> {
        match self.slots.get(idx as usize) {
            Some(Some(slot)) => Some(&slot.flow),
            _ => None,
        }
    }

    /// Returns the flow in slot `idx` for changing; see [`FlowTable::get`].
    pub fn get_mut(&mut self, idx: u32) -> &mut Flow {
        match self.slots.get_mut(idx as usize) {
            Some(Some(slot)) => &mut slot.flow,
            _ => unreachable!("flow slot {idx} is empty"),
        }
    }

    fn slot_mut(&mut self, idx: u32) -> &mut Slot {
        match self.slots.get_mut(idx as usize) {
            Some(Some(slot)) => slot,
            _ => unreachable!("flow slot {idx} is empty"),
        }
    }

    /// Inserts a flow that is not in the table yet, at the back of `queue`;
    /// `hash` is the hash of its key.
    pub fn insert(&mut self, hash: u64, flow: Flow, queue: QueueId) -> u32 {
        if self.index.len() == self.index.capacity() {
            self.grow_index();
        }
        let slot = Slot {
            flow,
            prev: NIL,
            next: NIL,
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.slots[idx as usize] = Some(slot);
                idx
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.index
            .insert_unique(hash, idx, |&i| slot_hash(slots, hasher, i));
        self.len += 1;
        self.push_back(idx, queue);
        idx
    }

    /// Rebuilds the hash index with room for twice the flows it has, once the
    /// next insert would make the index resize or rehash itself. The index
    /// would hash its entries in bucket order, reading the key of each flow
    /// from a random slot. This reads them in slot order, which the processor
    /// prefetches. On the flood bench capture, a million new connections, the
    /// index's own resizes took 17% of `perf` samples on a 2-processor AMD EPYC.
    ///
    /// The room never falls below the number of slots, because each rebuild
    /// reads all of them. A table that once held many flows and now contains few
    /// would otherwise rebuild after every few inserts.
    fn grow_index(&mut self) {
        let mut index = HashTable::with_capacity(index_room(self.index.len(), self.slots.len()));
        let slots = &self.slots;
        let hasher = &self.hasher;
        for (idx, slot) in slots.iter().enumerate() {
            if let Some(slot) = slot {
                let hash = hasher.hash_one(slot.flow.key);
                index.insert_unique(hash, idx as u32, |&i| slot_hash(slots, hasher, i));
            }
        }
        self.index = index;
    }

    /// Removes the flow in slot `idx` and returns it.
    pub fn remove(&mut self, idx: u32) -> Flow {
        self.unlink(idx);
        let hash = self.hash(&self.get(idx).key);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == idx) {
            entry.remove();
        }
        self.len -= 1;
        self.free.push(idx);
        match self.slots[idx as usize].take() {
            Some(slot) => slot.flow,
            None => unreachable!("flow slot {idx} is empty"),
        }
    }

    /// Moves the flow in slot `idx` to the back of `queue`.
    pub fn touch(&mut self, idx: u32, queue: QueueId) {
        let tail = self.queues[queue as usize].tail;
        let slot = self.slot_mut(idx);
        // Back-to-back packets of one flow find it at the back already.
        if tail == idx && slot.flow.queue == queue {
            return;
        }
        // The flow's own slot is read and relinked in one access, then its old
        // neighbours are joined. `tail` is not `idx`, so it stays the tail of
        // `queue` when the flow leaves its old place.
        let (old_queue, prev, next) = (slot.flow.queue as usize, slot.prev, slot.next);
        slot.flow.queue = queue;
        slot.prev = tail;
        slot.next = NIL;
        if prev == NIL {
            self.queues[old_queue].head = next;
        } else {
            self.slot_mut(prev).next = next;
        }
        if next == NIL {
            self.queues[old_queue].tail = prev;
        } else {
            self.slot_mut(next).prev = prev;
        }
        if tail == NIL {
            self.queues[queue as usize].head = idx;
        } else {
            self.slot_mut(tail).next = idx;
        }
        self.queues[queue as usize].tail = idx;
    }

    /// Calls `each` with every flow in the order of `order`, a list of occupied
    /// slots, and leaves the table empty. Flows leave their slots one by one, so
    /// the table's memory is not needed twice.
    pub fn drain_in_order(&mut self, order: &[u32], mut each: impl FnMut(Flow)) {
        for &idx in order {
            if let Some(slot) = self.slots.get_mut(idx as usize).and_then(Option::take) {
                each(slot.flow);
            }
        }
        self.slots = Vec::new();
        self.free = Vec::new();
        self.index = HashTable::new();
        self.queues = [Queue::EMPTY; QUEUE_COUNT];
        self.len = 0;
    }

    /// Frees the hash index before the table is drained, so that the index and
    /// the drain's own bookkeeping never take memory at the same time. Lookups
    /// find nothing afterwards, so only draining may follow.
    pub fn release_index(&mut self) {
        self.index = HashTable::new();
    }

    /// Slots of every flow in the table, in no particular order.
    pub fn occupied(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_some())
            .map(|(idx, _)| idx as u32)
    }

    /// Returns the flow at the front of `queue`: the one whose latest packet is oldest.
    pub fn front(&self, queue: QueueId) -> Option<u32> {
        let head = self.queues[queue as usize].head;
        (head != NIL).then_some(head)
    }

    /// Slots of the flows in `queue`, from its front to its back.
    pub fn queue_slots(&self, queue: QueueId) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.queues[queue as usize].head;
        std::iter::from_fn(move || {
            if next == NIL {
                return None;
            }
            let idx = next;
            next = match self.slots.get(idx as usize) {
                Some(Some(slot)) => slot.next,
                _ => NIL,
            };
            Some(idx)
        })
    }

    fn push_back(&mut self, idx: u32, queue: QueueId) {
        let tail = self.queues[queue as usize].tail;
        self.get_mut(idx).queue = queue;
        {
            let slot = self.slot_mut(idx);
            slot.prev = tail;
            slot.next = NIL;
        }
        if tail == NIL {
            self.queues[queue as usize].head = idx;
        } else {
            self.slot_mut(tail).next = idx;
        }
        self.queues[queue as usize].tail = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let queue = self.get(idx).queue as usize;
        let (prev, next) = {
            let slot = self.slot_mut(idx);
            (slot.prev, slot.next)
        };
        if prev == NIL {
            self.queues[queue].head = next;
        } else {
            self.slot_mut(prev).next = next;
        }
        if next == NIL {
            self.queues[queue].tail = prev;
        } else {
            self.slot_mut(next).prev = prev;
        }
    }
}

/// Returns the hash of the key of the flow in slot `idx` of `slots`, which the
/// hash index needs when it moves its entries, or 0 for an empty slot.
fn slot_hash(slots: &[Option<Slot>], hasher: &foldhash::fast::RandomState, idx: u32) -> u64 {
    match slots.get(idx as usize) {
        Some(Some(slot)) => hasher.hash_one(slot.flow.key),
        _ => 0,
    }
}

/// Returns the number of flows a rebuilt hash index makes room for, with
/// `flows` flows in a table of `slots` slots: see [`FlowTable::grow_index`].
fn index_room(flows: usize, slots: usize) -> usize {
    (flows * 2).max(slots).max(INDEX_MIN_ROOM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsd_capture::Timestamp;
    use wsd_decode::Decoded;

    fn flow(number: u32) -> Flow {
        let mut addr_a = [0u8; 16];
        addr_a[..4].copy_from_slice(&number.to_be_bytes());
        let key = FlowKey {
            addr_a,
            addr_b: [0xff; 16],
            port_a: 1,
            port_b: 2,
            vlan_ids: [0, 0],
            protocol: 6,
            v6: false,
        };
        Flow::new(key, true, &Decoded::default(), Timestamp::ZERO)
    }

    /// Returns the serial numbers of the flows in `queue`, front to back.
    fn serials(table: &FlowTable, queue: QueueId) -> Vec<u64> {
        table
            .queue_slots(queue)
            .map(|idx| table.get(idx).serial)
            .collect()
    }

    /// Drives the table with a fixed pseudo-random mix of inserts, touches,
    /// queue moves, removals and front lookups, and checks every queue against
    /// a plain list that moves a touched flow to its back.
    #[test]
    fn queues_match_moving_lists() {
        let mut table = FlowTable::new();
        let mut model: [Vec<u64>; QUEUE_COUNT] = Default::default();
        let mut slots_by_serial = std::collections::BTreeMap::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next_serial = 0u64;
        for step in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let queue = QueueId::ALL[(state >> 8) as usize % 3 * 2];
            let flows = slots_by_serial.len();
            match state % 8 {
                0 | 1 if flows < 50 => {
                    let mut new_flow = flow(next_serial as u32);
                    new_flow.serial = next_serial;
                    let hash = table.hash(&new_flow.key);
                    let idx = table.insert(hash, new_flow, queue);
                    slots_by_serial.insert(next_serial, idx);
                    model[queue as usize].push(next_serial);
                    next_serial += 1;
                }
                2 if flows > 0 => {
                    let (&serial, _) = slots_by_serial.first_key_value().expect("not empty");
                    let idx = slots_by_serial.remove(&serial).expect("present");
                    assert_eq!(table.remove(idx).serial, serial, "step {step}");
                    for list in &mut model {
                        list.retain(|&s| s != serial);
                    }
                }
                3 => {
                    for queue in QueueId::ALL {
                        let front = table.front(queue).map(|idx| table.get(idx).serial);
                        assert_eq!(front, model[queue as usize].first().copied(), "step {step}");
                    }
                }
                _ if flows > 0 => {
                    let pick = (state >> 20) as usize % flows;
                    let serial = *slots_by_serial.keys().nth(pick).expect("in range");
                    table.touch(slots_by_serial[&serial], queue);
                    for list in &mut model {
                        list.retain(|&s| s != serial);
                    }
                    model[queue as usize].push(serial);
                }
                _ => {}
            }
            if step % 1000 == 0 {
                for queue in QueueId::ALL {
                    assert_eq!(serials(&table, queue), model[queue as usize], "step {step}");
                }
            }
        }
        assert!(next_serial > 1_000, "only {next_serial} flows were created");
        for queue in QueueId::ALL {
            assert_eq!(serials(&table, queue), model[queue as usize], "{queue:?}");
        }
    }

    /// Inserts flows past several resizes of the hash index while removing
    /// older ones, whose deleted entries also make the index rebuild. Every
    /// flow in the table must be found in its slot, and no removed flow.
    #[test]
    fn index_finds_flows_after_growth() {
        let mut table = FlowTable::new();
        let mut present = std::collections::VecDeque::new();
        let mut removed = Vec::new();
        for number in 0..20_000u32 {
            let new_flow = flow(number);
            let hash = table.hash(&new_flow.key);
            let idx = table.insert(hash, new_flow, QueueId::Tcp);
            present.push_back((number, idx));
            // Up to 5,000 flows at once, then one out for each one in.
            if present.len() > 5_000 {
                let (old, old_idx) = present.pop_front().expect("not empty");
                table.remove(old_idx);
                removed.push(old);
            }
            if number % 997 == 0 || number == 19_999 {
                for &(number, idx) in &present {
                    let key = flow(number).key;
                    assert_eq!(
                        table.find(table.hash(&key), &key),
                        Some(idx),
                        "flow {number}"
                    );
                }
                for &number in &removed {
                    let key = flow(number).key;
                    assert_eq!(table.find(table.hash(&key), &key), None, "flow {number}");
                }
                assert_eq!(table.index.len(), present.len());
                assert_eq!(table.len(), present.len());
            }
        }
    }

    /// A rebuilt index has room for twice the flows, and never less than
    /// room for every slot, so a table that once held many flows and now
    /// contains few is not rebuilt after every few inserts.
    #[test]
    fn index_room_covers_slots() {
        assert_eq!(index_room(0, 0), INDEX_MIN_ROOM);
        assert_eq!(index_room(1_000, 1_000), 2_000);
        assert_eq!(index_room(1_000, 1_500), 2_000);
        assert_eq!(index_room(10, 1_000), 1_000);
    }

    /// The slot is most of the memory of a tracked flow, so its size is part
    /// of the budget of 200 bytes per flow that the flood benchmark measures.
    #[test]
    fn slot_fits_memory_budget() {
        assert!(
            std::mem::size_of::<Option<Slot>>() <= 176,
            "a slot takes {} bytes",
            std::mem::size_of::<Option<Slot>>()
        );
    }
}
