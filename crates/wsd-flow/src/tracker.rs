//! The tracker: packets in, finished flows out.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use wsd_capture::Timestamp;
use wsd_decode::{Decoded, FragmentInfo, TcpFlags, TcpInfo, Transport};

use crate::flow::{sender_looks_like_server, Flow, CLIENT, SERVER};
use crate::fragments::{
    FlowLink, FragmentTable, LaterFragment, TinyFirst, TinyFirstFragment, WaitingFragment,
    INNER_PACKET_COUNTED,
};
use crate::key::{FlowKey, PacketKey};
use crate::record::{Anomaly, Direction, EndReason, FlowRecord, PacketOutcome};
use crate::snapshot::{DatagramSnapshot, FlowSnapshot, RestoreError, TrackerSnapshot};
use crate::table::{FlowTable, QueueId, QUEUE_COUNT};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A forward step of the capture clock larger than this, in nanoseconds (one
/// day), counts in [`TrackerStats::clock_jumps`].
pub const CLOCK_JUMP: i64 = 86_400 * NANOS_PER_SEC;

/// IP protocol numbers the tracker treats specially.
const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// The set of IP protocols that produce flow records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordProtocols {
    /// TCP connections.
    pub tcp: bool,
    /// UDP conversations.
    pub udp: bool,
    /// ICMP and ICMPv6 flows.
    pub icmp: bool,
    /// Every IP protocol other than TCP, UDP, ICMP and ICMPv6.
    pub other: bool,
}

impl RecordProtocols {
    /// Records for TCP connections only.
    pub const TCP_ONLY: RecordProtocols = RecordProtocols {
        tcp: true,
        udp: false,
        icmp: false,
        other: false,
    };

    fn includes(self, protocol: u8) -> bool {
        match protocol {
            TCP => self.tcp,
            UDP => self.udp,
            ICMP | ICMPV6 => self.icmp,
            _ => self.other,
        }
    }
}

/// Settings of a [`Tracker`]. All times are capture time, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerConfig {
    /// A TCP connection with no packet for this long is reported (default 600 s).
    pub tcp_idle_timeout: i64,
    /// A UDP conversation with no packet for this long is reported (default 120 s).
    pub udp_idle_timeout: i64,
    /// An ICMP or ICMPv6 flow with no packet for this long is reported (default 60 s).
    pub icmp_idle_timeout: i64,
    /// A flow of another IP protocol with no packet for this long is reported
    /// (default 60 s).
    pub other_idle_timeout: i64,
    /// After FINs from both sides or a RST, a connection stays in the table this
    /// long after its latest packet, so that stragglers count into it (default 10 s:
    /// in captured traffic, servers resent data 6 to 8 s after the FINs and got a RST back).
    pub linger: i64,
    /// Maximum number of flows in the table (default 1,000,000). When a new flow
    /// finds the table full, one flow is evicted and reported: the closed flow
    /// that lingered longest if there is one, else the flow idle the longest.
    pub max_flows: usize,
    /// True to keep the VLAN IDs in the flow key, so that the same connection seen
    /// on two VLANs is two flows (default true).
    pub vlan_in_key: bool,
    /// The protocols that produce records. Flows of the others are still tracked,
    /// so their packets get a direction. Without `icmp`, ICMP flows are keyed by
    /// their addresses alone. Without `other`, IP protocols other than TCP, UDP,
    /// ICMP and ICMPv6 are not tracked. Both are as before those records existed.
    pub records: RecordProtocols,
    /// Interval of interim records (default `None`, no interim records). A flow of
    /// a recorded protocol still open this long after its first packet is
    /// reported with [`EndReason::Interim`], and again every interval after
    /// that, and stays in the table. The counters of an interim record are
    /// cumulative since the flow started. Values below 1 s are taken as 1 s.
    pub interim: Option<i64>,
}

impl Default for TrackerConfig {
    fn default() -> TrackerConfig {
        TrackerConfig {
            tcp_idle_timeout: 600 * NANOS_PER_SEC,
            udp_idle_timeout: 120 * NANOS_PER_SEC,
            icmp_idle_timeout: 60 * NANOS_PER_SEC,
            other_idle_timeout: 60 * NANOS_PER_SEC,
            linger: 10 * NANOS_PER_SEC,
            max_flows: 1_000_000,
            vlan_in_key: true,
            records: RecordProtocols::TCP_ONLY,
            interim: None,
        }
    }
}

impl TrackerConfig {
    fn timeout(&self, queue: QueueId) -> i64 {
        match queue {
            QueueId::Tcp => self.tcp_idle_timeout,
            QueueId::Udp => self.udp_idle_timeout,
            QueueId::Icmp => self.icmp_idle_timeout,
            QueueId::Other => self.other_idle_timeout,
            QueueId::Closed => self.linger,
        }
    }
}

/// Counters of what the tracker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Packets given to [`Tracker::process`].
    pub packets: u64,
    /// Packets that belonged to no flow: no IP layer, no transport header, or a
    /// later IP fragment that could not be matched with its first fragment.
    pub unattributed: u64,
    /// Flows created.
    pub flows_created: u64,
    /// Records reported, of every protocol that produces records.
    pub records: u64,
    /// Flows reported because of a timeout.
    pub idle_timeouts: u64,
    /// Flows evicted from a full table.
    pub evicted: u64,
    /// Connections ended by a SYN that reused their ports.
    pub port_reuses: u64,
    /// Largest number of flows in the table at once.
    pub max_active: u64,
    /// Packets that moved the capture clock forward by more than a day at once,
    /// which times out every flow open before them: a sign of a bad timestamp or
    /// of a long gap between inputs.
    pub clock_jumps: u64,
    /// Later IP fragments counted into the flow of their datagram's first fragment.
    pub fragments_attributed: u64,
    /// Later IP fragments left unattributed, for any of the reasons below or because
    /// the flow of their first fragment had ended or the input ended first.
    pub fragments_unattributed: u64,
    /// Later IP fragments unattributed because their first fragment did not arrive
    /// within the fragment timeout.
    pub fragments_timed_out: u64,
    /// Later IP fragments unattributed because their datagram already had the
    /// maximum number of fragments waiting for the first one.
    pub fragments_over_limit: u64,
    /// Datagrams evicted from a full fragment table.
    pub fragment_datagrams_evicted: u64,
    /// Interim records reported, included in `records`.
    pub interim_records: u64,
    /// First IP fragments too short for their transport header that were joined
    /// with the fragment after them and counted into a flow.
    pub tiny_fragments_joined: u64,
    /// First IP fragments too short for their transport header that stayed
    /// unattributed: the fragment after them did not arrive within the fragment
    /// timeout or before the input ended, their datagram was evicted, the capture
    /// cut them, the joined header did not decode, or their datagram already had a
    /// first fragment. They count in `unattributed`, and the later fragments of
    /// their datagram in `fragments_unattributed`.
    pub tiny_fragments_unjoined: u64,
}

/// A scheduled interim record: its time, and the serial number and slot of the
/// flow, which together tell whether the flow is still the one scheduled.
type InterimEntry = Reverse<(Timestamp, u64, u32)>;

/// Tracks flows from decoded packets, driven by capture time.
///
/// Feed packets in capture order to [`Tracker::process`], take finished flows
/// with [`Tracker::drain_finished`], and call [`Tracker::finish`] at the end of
/// the input so that no flow is left unreported.
pub struct Tracker {
    config: TrackerConfig,
    table: FlowTable,
    finished: Vec<FlowRecord>,
    /// The capture clock: the latest packet time seen. It never goes back.
    now: Option<Timestamp>,
    next_serial: u64,
    /// A time no flow's deadline is earlier than, or `None` if the table is empty.
    earliest_deadline: Option<Timestamp>,
    fragments: FragmentTable,
    /// Interim records due, earliest first. Entries of flows that ended are
    /// skipped when they come up.
    interim_queue: BinaryHeap<InterimEntry>,
    stats: TrackerStats,
}

impl Tracker {
    /// Creates a tracker with the given settings.
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker {
            config,
            table: FlowTable::new(),
            finished: Vec::new(),
            now: None,
            next_serial: 0,
            earliest_deadline: None,
            fragments: FragmentTable::default(),
            interim_queue: BinaryHeap::new(),
            stats: TrackerStats::default(),
        }
    }

    /// Creates a tracker that continues the flows of `snapshot`, as saved by
    /// [`Tracker::snapshot`], with the given settings.
    ///
    /// If the snapshot contains more flows than `config.max_flows`, the surplus is
    /// evicted and reported, as a full table would.
    ///
    /// # Errors
    ///
    /// Returns an error if the snapshot is inconsistent: a flow mixing address
    /// families, two flows with one key, or a serial number out of range.
    pub fn restore(
        config: TrackerConfig,
        snapshot: &TrackerSnapshot,
    ) -> Result<Tracker, RestoreError> {
        let mut restorer = TrackerRestorer::new(
            config,
            snapshot.clock,
            snapshot.next_serial,
            snapshot.flows.len(),
        );
        for (index, saved) in snapshot.flows.iter().enumerate() {
            restorer.add(index, saved)?;
        }
        restorer.finish(&snapshot.fragments)
    }

    /// Saves every flow still in the table, and the capture clock, so that a later
    /// run can continue them with [`Tracker::restore`]. The flows stay in this
    /// tracker.
    pub fn snapshot(&self) -> TrackerSnapshot {
        let (mut snapshot, flows) = self.snapshot_lazily();
        snapshot.flows = flows.collect();
        snapshot
    }

    /// Saves this tracker as [`Tracker::snapshot`] does, but leaves the flows
    /// out of the returned snapshot and yields them one by one from the iterator,
    /// in the same order. A caller that writes each flow as it comes, such as a
    /// flow-cache writer, then needs no second copy of a large table, at over
    /// 500 bytes a saved flow.
    pub fn snapshot_lazily(&self) -> (TrackerSnapshot, impl Iterator<Item = FlowSnapshot> + '_) {
        let slots = QueueId::ALL
            .iter()
            .flat_map(|&queue| self.table.queue_slots(queue));
        self.snapshot_of_slots(slots)
    }

    /// Saves this tracker as [`Tracker::snapshot_lazily`] does, but yields the
    /// flows in order of the capture-clock time of their latest packet, then of
    /// their serial numbers, across all timeout queues. Several trackers' flows
    /// are merged into one snapshot in this order. The order takes 24 bytes a
    /// flow while the iterator lives.
    ///
    /// Also returns the serial numbers of the flows, in ascending order.
    pub(crate) fn snapshot_in_time_order(
        &self,
    ) -> (
        TrackerSnapshot,
        Vec<u64>,
        impl Iterator<Item = FlowSnapshot> + '_,
    ) {
        let mut order: Vec<(Timestamp, u64, u32)> = QueueId::ALL
            .iter()
            .flat_map(|&queue| self.table.queue_slots(queue))
            .map(|idx| {
                let flow = self.table.get(idx);
                (flow.touched, flow.serial, idx)
            })
            .collect();
        // Serial numbers are unique, so no two entries are equal.
        order.sort_unstable();
        let mut serials: Vec<u64> = order.iter().map(|&(_, serial, _)| serial).collect();
        serials.sort_unstable();
        let (snapshot, flows) = self.snapshot_of_slots(order.into_iter().map(|(_, _, idx)| idx));
        (snapshot, serials, flows)
    }

    /// Returns the snapshot without its flows, and the flows of `slots` in
    /// their order.
    fn snapshot_of_slots<'a>(
        &'a self,
        slots: impl Iterator<Item = u32> + 'a,
    ) -> (TrackerSnapshot, impl Iterator<Item = FlowSnapshot> + 'a) {
        let interim_due: std::collections::HashMap<u32, Timestamp> = self
            .interim_queue
            .iter()
            .filter(|Reverse((_, serial, idx))| {
                self.table
                    .try_get(*idx)
                    .is_some_and(|flow| flow.serial == *serial)
            })
            .map(|&Reverse((due, _, idx))| (idx, due))
            .collect();
        let flows = slots.map(move |idx| FlowSnapshot {
            interim_due: interim_due.get(&idx).copied(),
            ..self.table.get(idx).snapshot()
        });
        let snapshot = TrackerSnapshot {
            clock: self.now,
            next_serial: self.next_serial,
            flows: Vec::new(),
            fragments: self.fragments.snapshot(),
        };
        (snapshot, flows)
    }

    /// Returns the settings this tracker runs with.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Counters so far.
    pub fn stats(&self) -> TrackerStats {
        let mut stats = self.stats;
        let dropped = self.fragments.dropped;
        stats.fragments_timed_out = dropped.timed_out;
        stats.fragment_datagrams_evicted = dropped.datagrams_evicted;
        stats
    }

    /// Returns the number of datagrams in the IP fragment table.
    pub fn fragment_datagrams(&self) -> usize {
        self.fragments.len()
    }

    /// Number of flows in the table.
    pub fn active_flows(&self) -> usize {
        self.table.len()
    }

    /// Returns the capture clock: the latest packet time seen, if any.
    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }

    /// Takes the flows finished so far, in the order they ended.
    pub fn drain_finished(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        self.finished.drain(..)
    }

    /// Returns true if records wait in [`Tracker::drain_finished`].
    #[inline]
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Processes one packet captured at `ts`: first reports the flows whose
    /// timeout passed by then, then counts the packet into its flow.
    pub fn process(&mut self, ts: Timestamp, packet: &Decoded) -> PacketOutcome {
        self.stats.packets += 1;
        self.advance_to(ts);
        if let Some(fragment) = packet.fragment.filter(|fragment| !fragment.is_first()) {
            return self.process_later_fragment(ts, packet, &fragment);
        }
        let Some(key) = PacketKey::of(packet, self.config.vlan_in_key, self.config.records) else {
            // An untracked SCTP datagram has no flow to join, so its tiny first
            // fragment need not wait for the rest of its header.
            let tiny = TinyFirstFragment::of(ts, packet)
                .filter(|(_, tiny)| tiny.protocol != SCTP || self.config.records.other);
            if let Some((fragment, tiny)) = tiny {
                return self.process_tiny_first(&fragment, tiny);
            }
            self.stats.unattributed += 1;
            return PacketOutcome::UNATTRIBUTED;
        };
        let hash = self.table.hash(&key.key);
        let outcome = self.process_keyed(ts, packet, &key, hash);
        if let Some(fragment) = packet.fragment {
            self.link_first_fragment(ts, packet, &fragment, key, hash);
        }
        outcome
    }

    fn process_keyed(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
        key: &PacketKey,
        hash: u64,
    ) -> PacketOutcome {
        match packet.transport {
            Transport::Tcp(tcp) => self.process_tcp(ts, packet, key, hash, &tcp),
            Transport::Udp(udp) => {
                self.process_other(ts, packet, key, hash, udp.datagram_len, QueueId::Udp)
            }
            Transport::Sctp(sctp) => {
                let queue = queue_of_protocol(key.key.protocol);
                self.process_other(ts, packet, key, hash, sctp.packet_len, queue)
            }
            Transport::Icmp(_) | Transport::None => {
                let len = packet
                    .ip
                    .map_or(0, |ip| ip.total_len.saturating_sub(ip.header_len));
                let queue = queue_of_protocol(key.key.protocol);
                self.process_other(ts, packet, key, hash, len, queue)
            }
        }
    }

    /// Schedules the first interim record of a new flow.
    fn schedule_interim(&mut self, idx: u32, serial: u64, protocol: u8, first_ts: Timestamp) {
        let Some(interval) = self.interim_interval() else {
            return;
        };
        if self.config.records.includes(protocol) {
            let due = first_ts.add_nanos(interval);
            self.interim_queue.push(Reverse((due, serial, idx)));
        }
    }

    /// Schedules the next interim record of a restored flow saved without one
    /// (the saving run had no interim interval): the first time `first_ts` plus
    /// a whole number of intervals that is not before the saved clock.
    fn schedule_restored_interim(
        &mut self,
        idx: u32,
        serial: u64,
        protocol: u8,
        first_ts: Timestamp,
    ) {
        let Some(interval) = self.interim_interval() else {
            return;
        };
        if !self.config.records.includes(protocol) {
            return;
        }
        let first_due = first_ts.add_nanos(interval);
        let due = match self.now {
            Some(clock) => catch_up(first_due, clock, interval),
            None => first_due,
        };
        self.interim_queue.push(Reverse((due, serial, idx)));
    }

    fn interim_interval(&self) -> Option<i64> {
        self.config
            .interim
            .map(|interval| interval.max(NANOS_PER_SEC))
    }

    /// Reports an interim record for every flow whose interim time passed
    /// before `now`, and schedules its next one. A flow gets one record per
    /// call even if the clock jumped over several intervals.
    fn report_interim(&mut self, now: Timestamp) {
        let Some(interval) = self.interim_interval() else {
            return;
        };
        while let Some(&Reverse((due, serial, idx))) = self.interim_queue.peek() {
            if due >= now {
                break;
            }
            self.interim_queue.pop();
            let Some(flow) = self.table.try_get(idx) else {
                continue;
            };
            if flow.serial != serial {
                continue;
            }
            self.finished.push(flow.to_record(EndReason::Interim));
            self.stats.records += 1;
            self.stats.interim_records += 1;
            let next = catch_up(due.add_nanos(interval), now, interval);
            self.interim_queue.push(Reverse((next, serial, idx)));
        }
    }

    /// Moves the capture clock to `ts` (never backwards) and reports every flow
    /// whose timeout passed. Live capture calls this when the link is quiet.
    #[inline]
    pub fn advance_to(&mut self, ts: Timestamp) {
        let now = match self.now {
            Some(now) if now >= ts => return,
            Some(now) => {
                if ts.nanos_since(now) > CLOCK_JUMP {
                    self.stats.clock_jumps += 1;
                }
                ts
            }
            None => ts,
        };
        self.now = Some(now);
        if !self.fragments.is_idle() {
            let (expired_fragments, expired_tiny) = self.fragments.expire(now);
            if expired_fragments | expired_tiny != 0 {
                self.count_unattributed_fragments(expired_fragments);
                self.stats.unattributed += expired_tiny;
                self.stats.tiny_fragments_unjoined += expired_tiny;
            }
        }
        if self.config.interim.is_some() {
            self.report_interim(now);
        }
        // Nothing can expire before the earliest deadline, so most packets skip
        // looking at the queues at all.
        if self
            .earliest_deadline
            .is_none_or(|deadline| deadline >= now)
        {
            return;
        }
        self.expire_flows(now);
    }

    /// Reports every flow whose timeout passed by `now`, earliest deadline first.
    #[inline(never)]
    fn expire_flows(&mut self, now: Timestamp) {
        while let Some((idx, queue)) = self.next_expiry(now) {
            let reason = self.table.get(idx).end_reason(EndReason::IdleTimeout);
            if queue != QueueId::Closed {
                self.stats.idle_timeouts += 1;
            }
            self.report(idx, reason);
        }
        self.earliest_deadline = self.front_deadline();
    }

    /// Returns the earliest deadline among the flows at the front of the queues.
    fn front_deadline(&self) -> Option<Timestamp> {
        QueueId::ALL
            .iter()
            .filter_map(|&queue| {
                let idx = self.table.front(queue)?;
                Some(
                    self.table
                        .get(idx)
                        .touched
                        .add_nanos(self.config.timeout(queue)),
                )
            })
            .min()
    }

    /// Reports every flow still in the table, oldest first: connections already
    /// closed by FINs or a RST with that reason, the others as ended by the input.
    /// The records join the finished ones; see [`Tracker::finish_each`] to take
    /// them one by one instead.
    pub fn finish(&mut self) {
        let mut finished = std::mem::take(&mut self.finished);
        self.finish_each(|record| finished.push(record));
        self.finished = finished;
    }

    /// Like [`Tracker::finish`], but hands each record to `sink` as it is made,
    /// so that a table of a million flows never needs a million records at once.
    pub fn finish_each(&mut self, mut sink: impl FnMut(FlowRecord)) {
        // Sorting bare slot numbers keeps the extra memory at 4 bytes a flow,
        // and freeing the hash index first, since no lookup follows, more than
        // makes up for them.
        self.table.release_index();
        let mut order: Vec<u32> = self.table.occupied().collect();
        order.sort_unstable_by_key(|&idx| {
            let flow = self.table.get(idx);
            (flow.first_ts, flow.serial)
        });
        let records = self.config.records;
        let mut reported = 0;
        self.table.drain_in_order(&order, |flow| {
            if records.includes(flow.key.protocol) {
                reported += 1;
                sink(flow.to_record(flow.end_reason(EndReason::EndOfInput)));
            }
        });
        self.stats.records += reported;
        self.earliest_deadline = None;
        let waiting_fragments = self.fragments.clear();
        self.count_unattributed_fragments(waiting_fragments);
        self.count_dropped_fragments();
        self.interim_queue.clear();
    }

    /// Keeps a first fragment too short for its transport header in the fragment
    /// table, or joins it at once if the fragment after it is already waiting. The
    /// packet is counted when its header is joined, or as unattributed when that
    /// fails.
    fn process_tiny_first(
        &mut self,
        fragment: &FragmentInfo,
        tiny: TinyFirstFragment,
    ) -> PacketOutcome {
        let now = self.now.unwrap_or(tiny.ts);
        let result = self.fragments.tiny_first(now, fragment, tiny);
        self.count_dropped_fragments();
        match result {
            TinyFirst::Waiting => PacketOutcome::UNATTRIBUTED,
            TinyFirst::Joins(next) => self.join_tiny_first(fragment, &tiny, &next),
            TinyFirst::Duplicate => {
                self.stats.unattributed += 1;
                self.stats.tiny_fragments_unjoined += 1;
                PacketOutcome::UNATTRIBUTED
            }
        }
    }

    /// Joins a tiny first fragment with `next`, the head of the fragment that
    /// completes its transport header, and counts it into its flow at its own time
    /// as if it had been whole. The datagram's waiting fragments, `next`'s among
    /// them, then count into that flow. If the header does not decode, they are all
    /// unattributed. Returns the first fragment's outcome.
    fn join_tiny_first(
        &mut self,
        fragment: &FragmentInfo,
        tiny: &TinyFirstFragment,
        next: &wsd_decode::FragmentHead,
    ) -> PacketOutcome {
        self.fragments.remove_tiny_first(fragment);
        let packet = tiny
            .join(next)
            .map(|transport| tiny.decoded_with(fragment, transport));
        let key = packet.and_then(|packet| {
            PacketKey::of(&packet, self.config.vlan_in_key, self.config.records)
        });
        let (Some(packet), Some(key)) = (packet, key) else {
            self.stats.unattributed += 1;
            self.stats.tiny_fragments_unjoined += 1;
            let now = self.now.unwrap_or(tiny.ts);
            let waiting = self.fragments.first(now, fragment, tiny.data_len, None);
            self.count_dropped_fragments();
            self.count_unattributed_fragments(waiting.len() as u64);
            return PacketOutcome::UNATTRIBUTED;
        };
        self.stats.tiny_fragments_joined += 1;
        let hash = self.table.hash(&key.key);
        let outcome = self.process_keyed(tiny.ts, &packet, &key, hash);
        self.link_first_fragment(tiny.ts, &packet, fragment, key, hash);
        outcome
    }

    /// Counts the fragments that the fragment table evicted, and the tiny first
    /// fragments it dropped, as unattributed.
    fn count_dropped_fragments(&mut self) {
        let evicted = self.fragments.take_evicted();
        self.count_unattributed_fragments(evicted);
        let tiny = self.fragments.take_tiny_dropped();
        self.stats.unattributed += tiny;
        self.stats.tiny_fragments_unjoined += tiny;
    }

    /// Notes that the first fragment of a datagram was counted into the flow of
    /// `key`, and counts the later fragments that arrived before it into that flow.
    fn link_first_fragment(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
        fragment: &FragmentInfo,
        key: PacketKey,
        hash: u64,
    ) {
        // When a tunnel packet was fragmented outside the tunnel, the first fragment
        // already counted the whole inner packet from the inner headers, so the
        // later fragments count as packets without bytes rather than twice. The
        // inner header is then no fragment, even when its addresses are the outer ones.
        let same_header = packet.ip.is_some_and(|ip| {
            ip.is_first_fragment && ip.src == fragment.src && ip.dst == fragment.dst
        });
        let header_end = if same_header {
            header_end(packet, fragment)
        } else {
            INNER_PACKET_COUNTED
        };
        let found = self.table.find(hash, &key.key);
        let link = found.map(|idx| FlowLink {
            key: key.key,
            from_a: key.from_a,
            serial: self.table.get(idx).serial,
            header_end,
            stream_base: stream_base(packet, fragment).filter(|_| same_header),
        });
        let now = self.now.unwrap_or(ts);
        let mut waiting = self.fragments.first(now, fragment, fragment.data_len, link);
        self.count_dropped_fragments();
        let (Some(idx), Some(link)) = (found, link) else {
            self.count_unattributed_fragments(waiting.len() as u64);
            return;
        };
        let flow = self.table.get_mut(idx);
        let sender = flow.sender(key.from_a);
        // Fragments that arrived out of order reach the stream in order, so that
        // they do not show as a gap that they fill themselves.
        waiting.sort_by_key(|fragment| fragment.offset);
        for fragment in &waiting {
            if link.counts_bytes() {
                let payload = link.payload_len(fragment.offset, fragment.data_len);
                flow.count_fragment(
                    sender,
                    fragment.ts,
                    fragment.ip_len,
                    fragment.data_len,
                    payload,
                );
                if let Some(seq) = link.payload_seq(fragment.offset, fragment.data_len, payload) {
                    flow.track_payload(sender, seq, payload);
                }
            } else {
                flow.count_fragment(sender, fragment.ts, 0, 0, 0);
            }
        }
        self.stats.fragments_attributed += waiting.len() as u64;
    }

    /// Counts a fragment at a nonzero offset into the flow of its datagram's first
    /// fragment, or keeps it in the fragment table until that fragment arrives.
    fn process_later_fragment(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
        fragment: &FragmentInfo,
    ) -> PacketOutcome {
        let data_len = ip_payload_len(packet);
        let waiting = WaitingFragment {
            ts,
            ip_len: packet.ip.map_or(0, |ip| ip.total_len),
            data_len,
            offset: fragment.offset,
            head: fragment.head,
        };
        let now = self.now.unwrap_or(ts);
        let later = self.fragments.later(now, fragment, waiting);
        self.count_dropped_fragments();

        let link = match later {
            LaterFragment::Flow(link) => link,
            LaterFragment::Waiting => return PacketOutcome::UNATTRIBUTED,
            LaterFragment::Joins(tiny) => {
                let first = FragmentInfo {
                    offset: 0,
                    more_fragments: true,
                    data_len: tiny.data_len,
                    head: tiny.head,
                    ..*fragment
                };
                let outcome = self.join_tiny_first(&first, &tiny, &fragment.head);
                return PacketOutcome {
                    direction: outcome.direction,
                    ..PacketOutcome::UNATTRIBUTED
                };
            }
            LaterFragment::OverLimit => {
                self.stats.fragments_over_limit += 1;
                self.count_unattributed_fragments(1);
                return PacketOutcome::UNATTRIBUTED;
            }
            LaterFragment::NotCounted => {
                self.count_unattributed_fragments(1);
                return PacketOutcome::UNATTRIBUTED;
            }
        };
        let hash = self.table.hash(&link.key);
        let idx = match self.table.find(hash, &link.key) {
            Some(idx) if self.table.get(idx).serial == link.serial => idx,
            _ => {
                self.count_unattributed_fragments(1);
                return PacketOutcome::UNATTRIBUTED;
            }
        };
        let flow = self.table.get_mut(idx);
        let sender = flow.sender(link.from_a);
        if link.counts_bytes() {
            let payload = link.payload_len(fragment.offset, data_len);
            flow.count(sender, packet, ts, data_len, payload);
            if let Some(seq) = link.payload_seq(fragment.offset, data_len, payload) {
                flow.track_payload(sender, seq, payload);
            }
        } else {
            // The outer frame's MAC addresses are not the flow's, so only the
            // packet and its time count.
            flow.count_fragment(sender, ts, 0, 0, 0);
        }
        let queue = flow.queue;
        self.touch(idx, queue);
        self.stats.fragments_attributed += 1;
        PacketOutcome {
            direction: direction_of(sender),
            ..PacketOutcome::UNATTRIBUTED
        }
    }

    /// Counts `count` later fragments as unattributed packets.
    fn count_unattributed_fragments(&mut self, count: u64) {
        self.stats.unattributed += count;
        self.stats.fragments_unattributed += count;
    }

    /// Returns the expired flow whose deadline comes first, across all queues.
    fn next_expiry(&self, now: Timestamp) -> Option<(u32, QueueId)> {
        let mut best: Option<(Timestamp, u64, u32, QueueId)> = None;
        for queue in QueueId::ALL {
            let Some(idx) = self.table.front(queue) else {
                continue;
            };
            let flow = self.table.get(idx);
            let deadline = flow.touched.add_nanos(self.config.timeout(queue));
            if deadline >= now {
                continue;
            }
            let candidate = (deadline, flow.serial, idx, queue);
            if best.is_none_or(|b| (candidate.0, candidate.1) < (b.0, b.1)) {
                best = Some(candidate);
            }
        }
        best.map(|(_, _, idx, queue)| (idx, queue))
    }

    fn process_tcp(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
        key: &PacketKey,
        hash: u64,
        tcp: &TcpInfo,
    ) -> PacketOutcome {
        let flags = tcp.flags;
        let bare_syn = flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::ACK);
        let syn_ack = flags.has(TcpFlags::SYN | TcpFlags::ACK);
        let mut anomaly = None;

        let mut found = self.table.find(hash, &key.key);
        if let Some(idx) = found {
            let flow = self.table.get(idx);
            let sender = flow.sender(key.from_a);
            let reused = (bare_syn && flow.is_new_syn(sender, tcp.seq))
                || (syn_ack && flow.is_new_synack(sender, tcp.seq));
            if reused {
                self.stats.port_reuses += 1;
                let reason = flow.end_reason(EndReason::PortReuse);
                self.report(idx, reason);
                anomaly = Some(Anomaly::PortReuse);
                found = None;
            } else if bare_syn && sender == CLIENT && flow.syn_seen {
                anomaly = Some(Anomaly::RetransmittedSyn);
            } else if flow.closed != crate::flow::Closed::No && tcp.payload_len > 0 {
                anomaly = Some(Anomaly::AfterClose);
            }
        }

        let idx = match found {
            Some(idx) => idx,
            None => {
                let (flow, first_anomaly) = self.new_tcp_flow(ts, packet, key, tcp);
                anomaly = anomaly.or(first_anomaly);
                self.insert(hash, flow, QueueId::Tcp)
            }
        };

        let flow = self.table.get_mut(idx);
        let sender = flow.sender(key.from_a);
        flow.count(sender, packet, ts, tcp.segment_len, tcp.payload_len);
        let continues = packet
            .fragment
            .is_some_and(|fragment| fragment.is_first() && fragment.more_fragments);
        if flow.update_tcp(sender, tcp, continues) && sender == SERVER && anomaly.is_none() {
            anomaly = Some(Anomaly::SynAckNewIsn);
        }
        let (rel_seq, rel_ack) = flow.relative(sender, tcp);
        let queue = if flow.closed == crate::flow::Closed::No {
            QueueId::Tcp
        } else {
            QueueId::Closed
        };
        self.touch(idx, queue);
        PacketOutcome {
            direction: direction_of(sender),
            rel_seq,
            rel_ack,
            anomaly,
        }
    }

    /// Creates the flow for a TCP segment that belongs to no tracked connection,
    /// deciding which side is the client.
    fn new_tcp_flow(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
        key: &PacketKey,
        tcp: &TcpInfo,
    ) -> (Flow, Option<Anomaly>) {
        let flags = tcp.flags;
        let (sender_is_client, midstream, anomaly) = if flags.has(TcpFlags::SYN) {
            if flags.has(TcpFlags::ACK) {
                (false, false, Some(Anomaly::SynAckWithoutSyn))
            } else {
                (true, false, None)
            }
        } else {
            let server = sender_looks_like_server(tcp.src_port, tcp.dst_port);
            (!server, true, Some(Anomaly::NoHandshake))
        };
        let mut flow = Flow::new(key.key, key.from_a == sender_is_client, packet, ts);
        if !sender_is_client {
            // Zeek's mark for a connection whose first packet came from the responder.
            flow.history.push(b'^');
        }
        flow.midstream = midstream;
        flow.syn_seen = sender_is_client && flags.has(TcpFlags::SYN);
        (flow, anomaly)
    }

    fn process_other(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
        key: &PacketKey,
        hash: u64,
        bytes: u32,
        queue: QueueId,
    ) -> PacketOutcome {
        let idx = match self.table.find(hash, &key.key) {
            Some(idx) => idx,
            None => {
                // The first sender of a datagram conversation is its client.
                let flow = Flow::new(key.key, key.from_a, packet, ts);
                self.insert(hash, flow, queue)
            }
        };
        let flow = self.table.get_mut(idx);
        let sender = flow.sender(key.from_a);
        // The UDP header and the SCTP common header are not payload.
        let header = match packet.transport {
            Transport::Udp(_) => 8,
            Transport::Sctp(_) => SCTP_HEADER_LEN,
            _ => 0,
        };
        let payload = bytes.saturating_sub(header);
        flow.count(sender, packet, ts, bytes, payload);
        flow.track_datagram(sender, payload);
        self.touch(idx, queue);
        PacketOutcome {
            direction: direction_of(sender),
            ..PacketOutcome::UNATTRIBUTED
        }
    }

    fn insert(&mut self, hash: u64, mut flow: Flow, queue: QueueId) -> u32 {
        // A table restored over its limit and not yet evicted gives up its
        // whole surplus here.
        while self.table.len() >= self.limit() && self.evict_one() {}
        flow.serial = self.next_serial;
        flow.touched = self.now.unwrap_or(flow.first_ts);
        // NOTE: a cache restores the counter unchecked, so a hand-made one can
        // bring it to its end. It then wraps, which can repeat serial numbers
        // but cannot fail.
        self.next_serial = self.next_serial.wrapping_add(1);
        self.stats.flows_created += 1;
        self.lower_deadline(flow.touched, queue);
        let (serial, protocol, first_ts) = (flow.serial, flow.key.protocol, flow.first_ts);
        let idx = self.table.insert(hash, flow, queue);
        self.schedule_interim(idx, serial, protocol, first_ts);
        self.stats.max_active = self.stats.max_active.max(self.table.len() as u64);
        idx
    }

    /// Evicts the closed flow that lingered longest, else the flow idle longest.
    /// Returns the maximum number of flows in the table.
    fn limit(&self) -> usize {
        self.config.max_flows.max(1)
    }

    /// Evicts at most `max` (at least one) of the flows beyond the table's
    /// limit, as a full table evicts, and returns how many it evicted. Their
    /// records join the finished flows. Only a tracker restored with
    /// [`TrackerRestorer::finish_over_limit`] can contain more flows than its
    /// limit, so for any other this returns 0.
    pub fn evict_surplus(&mut self, max: usize) -> usize {
        let surplus = self
            .table
            .len()
            .saturating_sub(self.limit())
            .min(max.max(1));
        (0..surplus).take_while(|_| self.evict_one()).count()
    }

    /// Reports the saved flow `saved`, at position `index` of a snapshot's
    /// flows, as evicted, as if it had been restored and a full table had
    /// evicted it at once. Its record joins the finished flows.
    ///
    /// A cache with more flows than the table allows is restored this way
    /// without holding all its flows. A [`SurplusPicker`](crate::SurplusPicker)
    /// picks the flows to evict, and a reading of the cache adds the others to
    /// a [`TrackerRestorer`]. Another reading passes the picked ones here once
    /// their records can be written.
    ///
    /// # Errors
    ///
    /// As for [`TrackerRestorer::add`], but a key repeated only among the
    /// flows passed here goes unnoticed.
    pub fn evict_saved(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        let flow = self.saved_flow(index, saved)?;
        let hash = self.table.hash(&flow.key);
        if self.table.find(hash, &flow.key).is_some() {
            return Err(RestoreError::DuplicateFlow { index });
        }
        let queue = queue_for(&flow);
        let idx = self.table.insert(hash, flow, queue);
        self.stats.evicted += 1;
        self.report(idx, EndReason::Evicted);
        Ok(())
    }

    /// Rebuilds the saved flow `saved`, at position `index` of a snapshot's
    /// flows, checking its serial number against the next one.
    fn saved_flow(&self, index: usize, saved: &FlowSnapshot) -> Result<Flow, RestoreError> {
        if saved.serial >= self.next_serial {
            return Err(RestoreError::BadSerial {
                index,
                serial: saved.serial,
                next_serial: self.next_serial,
            });
        }
        Flow::from_snapshot(index, saved, self.config.records)
    }

    /// Evicts one flow, or returns false if the table is empty.
    fn evict_one(&mut self) -> bool {
        let victim = self.table.front(QueueId::Closed).or_else(|| {
            QueueId::ALL[..QUEUE_COUNT - 1]
                .iter()
                .filter_map(|&queue| self.table.front(queue))
                .min_by_key(|&idx| {
                    let flow = self.table.get(idx);
                    (flow.touched, flow.serial)
                })
        });
        let Some(idx) = victim else {
            return false;
        };
        self.stats.evicted += 1;
        self.report(idx, EndReason::Evicted);
        true
    }

    fn touch(&mut self, idx: u32, queue: QueueId) {
        let now = self.now.unwrap_or(Timestamp::ZERO);
        self.table.get_mut(idx).touched = now;
        self.table.touch(idx, queue);
        self.lower_deadline(now, queue);
    }

    /// Keeps `earliest_deadline` a lower bound of every deadline after a flow in
    /// `queue` was touched at `touched`.
    fn lower_deadline(&mut self, touched: Timestamp, queue: QueueId) {
        let deadline = touched.add_nanos(self.config.timeout(queue));
        if self
            .earliest_deadline
            .is_none_or(|earliest| deadline < earliest)
        {
            self.earliest_deadline = Some(deadline);
        }
    }

    fn report(&mut self, idx: u32, reason: EndReason) {
        // A flow that timed out is mostly out of the cache. Loading its
        // separate state first overlaps those cache misses with the misses of
        // removing it from the hash table and its timeout queue.
        self.table.get(idx).preload_extra();
        let flow = self.table.remove(idx);
        if self.config.records.includes(flow.key.protocol) {
            self.stats.records += 1;
            self.finished.push(flow.to_record(reason));
        }
    }
}

/// Builds a [`Tracker`] from saved flows added one at a time, for a caller that
/// decodes a flow cache as it goes instead of holding every saved flow at once.
///
/// [`Tracker::restore`] does the same from a whole [`TrackerSnapshot`]. Add the
/// flows in the order of the snapshot's `flows`, then pass its datagrams to
/// [`TrackerRestorer::finish`].
pub struct TrackerRestorer {
    tracker: Tracker,
    /// True once [`TrackerRestorer::check`] left a flow out.
    left_out: bool,
    /// Position in the snapshot of the flow in each table slot, recorded from
    /// the first flow left out on, so that [`TrackerRestorer::check_key`] can
    /// name the later flow it finds. A flow added before is never such a later
    /// flow, so a restore that leaves no flow out records none.
    positions: Vec<usize>,
}

impl TrackerRestorer {
    /// Starts a tracker with the settings `config`, the capture clock `clock`
    /// and the next serial number `next_serial` of a snapshot, with room for
    /// `count` flows.
    pub fn new(
        config: TrackerConfig,
        clock: Option<Timestamp>,
        next_serial: u64,
        count: usize,
    ) -> TrackerRestorer {
        let mut tracker = Tracker::new(config);
        tracker.table.reserve(count);
        tracker.now = clock;
        tracker.next_serial = next_serial;
        TrackerRestorer {
            tracker,
            left_out: false,
            positions: Vec::new(),
        }
    }

    /// Adds the saved flow `saved`, at position `index` of the snapshot's
    /// flows, which errors name.
    ///
    /// # Errors
    ///
    /// Returns an error if the flow mixes address families, repeats the key of
    /// a flow added before, ends before it starts or has a serial number not
    /// below the next one.
    pub fn add(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        let tracker = &mut self.tracker;
        let flow = tracker.saved_flow(index, saved)?;
        let hash = tracker.table.hash(&flow.key);
        if tracker.table.find(hash, &flow.key).is_some() {
            return Err(RestoreError::DuplicateFlow { index });
        }
        let queue = queue_for(&flow);
        let first_ts = flow.first_ts;
        let serial = flow.serial;
        let protocol = flow.key.protocol;
        let idx = tracker.table.insert(hash, flow, queue);
        if self.left_out {
            let slot = idx as usize;
            if slot >= self.positions.len() {
                self.positions.resize(slot + 1, 0);
            }
            self.positions[slot] = index;
        }
        match saved.interim_due {
            Some(due) if tracker.interim_interval().is_some() => {
                tracker.interim_queue.push(Reverse((due, serial, idx)));
            }
            _ => tracker.schedule_restored_interim(idx, serial, protocol, first_ts),
        }
        Ok(())
    }

    /// Checks the saved flow `saved` as [`TrackerRestorer::add`] would, but
    /// leaves it out, for a flow that [`Tracker::evict_saved`] evicts later.
    /// A flow added after it with the same key goes unnoticed here, so once
    /// every flow is added, pass it to [`TrackerRestorer::check_key`] too.
    ///
    /// # Errors
    ///
    /// Returns an error if the flow mixes address families, repeats the key of
    /// a flow added before, ends before it starts or has a serial number not
    /// below the next one.
    pub fn check(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        if self.slot_with_key_of(index, saved)?.is_some() {
            return Err(RestoreError::DuplicateFlow { index });
        }
        self.left_out = true;
        Ok(())
    }

    /// Checks that the saved flow `saved`, which [`TrackerRestorer::check`]
    /// passed and which was left out, has the key of no flow added after it.
    /// Call it once every flow is added.
    ///
    /// # Errors
    ///
    /// Returns [`RestoreError::DuplicateOfLaterFlow`], with the position of
    /// that flow, if a flow added after it has the same key.
    pub fn check_key(&self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        let Some(slot) = self.slot_with_key_of(index, saved)? else {
            return Ok(());
        };
        // `check` left this flow out, so the flow in that slot was added
        // after it, when positions were recorded.
        let later = self.positions.get(slot as usize).copied();
        debug_assert!(later.is_some(), "check did not leave flow {index} out");
        let later = later.unwrap_or_default();
        Err(RestoreError::DuplicateOfLaterFlow { index, later })
    }

    /// Returns the table slot of the flow added with the key of the saved
    /// flow `saved`, if any. `saved` is rebuilt and checked as
    /// [`TrackerRestorer::add`] checks it.
    fn slot_with_key_of(
        &self,
        index: usize,
        saved: &FlowSnapshot,
    ) -> Result<Option<u32>, RestoreError> {
        let flow = self.tracker.saved_flow(index, saved)?;
        let hash = self.tracker.table.hash(&flow.key);
        Ok(self.tracker.table.find(hash, &flow.key))
    }

    /// Restores the IP fragment table from the snapshot's datagrams `fragments`
    /// and returns the tracker. Flows beyond the table's limit are evicted and
    /// reported, as a full table would.
    ///
    /// # Errors
    ///
    /// Returns an error if a datagram is invalid.
    pub fn finish(self, fragments: &[DatagramSnapshot]) -> Result<Tracker, RestoreError> {
        let mut tracker = self.finish_over_limit(fragments)?;
        tracker.evict_surplus(usize::MAX);
        Ok(tracker)
    }

    /// Restores the IP fragment table as [`TrackerRestorer::finish`] does, but
    /// leaves the flows beyond the table's limit in the table. The caller then
    /// evicts them a chunk at a time with [`Tracker::evict_surplus`] and writes
    /// each chunk's records, so that a cache much larger than the table never
    /// has all their records in memory at once. A new flow before that evicts
    /// the whole surplus at once.
    ///
    /// # Errors
    ///
    /// As for [`TrackerRestorer::finish`].
    pub fn finish_over_limit(
        self,
        fragments: &[DatagramSnapshot],
    ) -> Result<Tracker, RestoreError> {
        let mut tracker = self.tracker;
        tracker.earliest_deadline = tracker.front_deadline();
        // Keys of the flows that saved datagrams link to, by serial number. Only
        // those serials go into the map, so a cache without fragments builds none.
        // Of two flows with one serial, the one added last wins.
        let linked_serials: std::collections::HashSet<u64> = fragments
            .iter()
            .filter_map(|datagram| datagram.flow.map(|flow| flow.serial))
            .collect();
        let mut linked_keys: std::collections::HashMap<u64, FlowKey> =
            std::collections::HashMap::with_capacity(linked_serials.len());
        if !linked_serials.is_empty() {
            for idx in tracker.table.occupied() {
                let flow = tracker.table.get(idx);
                if linked_serials.contains(&flow.serial) {
                    linked_keys.insert(flow.serial, flow.key);
                }
            }
        }
        tracker.fragments =
            FragmentTable::restore(fragments, |serial| linked_keys.get(&serial).copied())?;
        tracker.stats.max_active = tracker.table.len().min(tracker.limit()) as u64;
        Ok(tracker)
    }
}

/// Length of the SCTP common header, which is not payload.
const SCTP_HEADER_LEN: u32 = 12;

/// Returns where the transport header of a first fragment ends in its datagram's
/// payload if it runs past the fragment, else 0. TCP options and the last 4 bytes
/// of the 12-byte SCTP common header can run past it. A first fragment carries at
/// least 8 bytes, so it contains the whole UDP or ICMP header it was decoded from.
fn header_end(packet: &Decoded, fragment: &FragmentInfo) -> u32 {
    let (header_len, transport_len) = match packet.transport {
        Transport::Tcp(tcp) => (tcp.header_len, tcp.segment_len),
        Transport::Sctp(sctp) => (SCTP_HEADER_LEN, sctp.packet_len),
        _ => return 0,
    };
    if header_len <= transport_len {
        return 0;
    }
    // The transport header starts `transport_len` bytes before the fragment's end.
    let start = fragment.data_len.saturating_sub(transport_len);
    start.saturating_add(header_len)
}

/// Returns, for the first fragment of a TCP segment, the sequence number that
/// offset 0 of the datagram's payload would have: the segment's first payload
/// byte lies past any IPv6 extension headers and the TCP header.
fn stream_base(packet: &Decoded, fragment: &FragmentInfo) -> Option<u32> {
    let Transport::Tcp(tcp) = packet.transport else {
        return None;
    };
    // A SYN takes the first sequence number, so its payload starts after it.
    let syn = u32::from(tcp.flags.has(TcpFlags::SYN));
    // The TCP header starts `segment_len` bytes before the fragment's end.
    let payload_start = fragment
        .data_len
        .wrapping_sub(tcp.segment_len)
        .wrapping_add(tcp.header_len);
    Some(tcp.seq.wrapping_add(syn).wrapping_sub(payload_start))
}

/// Returns the IP payload length of a packet: the bytes of the datagram's payload
/// that a fragment carries.
fn ip_payload_len(packet: &Decoded) -> u32 {
    packet
        .ip
        .map_or(0, |ip| ip.total_len.saturating_sub(ip.header_len))
}

/// Returns the first of `due`, `due + interval`, `due + 2 * interval`... that
/// is not before `now`.
fn catch_up(due: Timestamp, now: Timestamp, interval: i64) -> Timestamp {
    let behind = now.nanos_since(due);
    if behind <= 0 {
        return due;
    }
    // Both are positive, so this is the quotient rounded up.
    let steps = (behind - 1) / interval + 1;
    due.add_nanos(steps.saturating_mul(interval))
}

/// Returns the timeout queue a flow belongs in.
fn queue_for(flow: &Flow) -> QueueId {
    if flow.closed != crate::flow::Closed::No {
        return QueueId::Closed;
    }
    queue_of_protocol(flow.key.protocol)
}

/// Returns the timeout queue of an open flow of IP protocol `protocol`. SCTP
/// takes the queue of the other protocols, whose records include it, so that
/// `other_idle_timeout` applies to it.
fn queue_of_protocol(protocol: u8) -> QueueId {
    match protocol {
        TCP => QueueId::Tcp,
        UDP => QueueId::Udp,
        ICMP | ICMPV6 => QueueId::Icmp,
        _ => QueueId::Other,
    }
}

fn direction_of(sender: usize) -> Direction {
    if sender == CLIENT {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}
