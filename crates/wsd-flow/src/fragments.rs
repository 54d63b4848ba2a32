//! The IP fragment table: attributes later fragments, which carry no transport
//! header, to the flow of their datagram's first fragment, without reassembly.
//!
//! Fragments of one datagram share source and destination address, protocol and
//! identification (RFC 791 for IPv4, RFC 8200 for IPv6). The table maps those fields
//! to the flow of the first fragment (the one at offset 0) once that fragment was seen.
//! Later fragments that arrive before it wait in the table and are counted into the
//! flow when it comes. The table is bounded in datagrams and in waiting fragments per
//! datagram, and an entry expires a fixed time after its first fragment of any kind
//! arrived. Waiting fragments that expire, are evicted or exceed a bound are
//! unattributed.
//!
//! A first fragment too short for the transport header fields a flow needs (a "tiny
//! fragment", RFC 1858) waits in its datagram's entry with the leading bytes of its
//! transport header. The fragment that starts where its data ends (at offset
//! `data_len`) carries the rest: when both are in the table, the tracker joins their
//! leading bytes, decodes the header and counts the first fragment as if it had been
//! whole. Only those few bytes are copied, never the datagram.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use wsd_capture::Timestamp;
use wsd_decode::{
    Decoded, FragmentHead, FragmentInfo, IpInfo, MacAddr, StopReason, Transport, TunnelInfo, Vlans,
};

use crate::key::{addr_bytes, to_ip, AddrBytes, FlowKey};
use crate::snapshot::{DatagramSnapshot, FragmentFlowSnapshot, RestoreError};

/// Maximum number of datagrams in the fragment table. A fragment of a new datagram
/// in a full table evicts the datagram that arrived first.
pub const MAX_FRAGMENT_DATAGRAMS: usize = 4096;

const TCP: u8 = 6;

/// Maximum number of later fragments that wait for one datagram's first fragment.
/// Later ones are unattributed at once.
pub const MAX_WAITING_FRAGMENTS: usize = 64;

/// Capture time, in nanoseconds, after which a datagram leaves the fragment table:
/// 60 s from its first fragment of any kind. RFC 8200 (section 4.5) gives 60 s as
/// the IPv6 reassembly time, and the table uses it for IPv4 too.
pub const FRAGMENT_TIMEOUT: i64 = 60 * 1_000_000_000;

/// Capture time, in nanoseconds from a datagram's first fragment of any kind, in
/// which a fragment of a complete datagram counts as a duplicate of it. Later, it
/// starts a new datagram with the same identification. Duplicates seen by a
/// mirror port or a capture tool usually come within microseconds.
pub const DUPLICATE_WINDOW: i64 = 1_000_000_000;

/// The fields that identify one fragmented datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DatagramKey {
    src: AddrBytes,
    dst: AddrBytes,
    id: u32,
    protocol: u8,
    v6: bool,
}

impl DatagramKey {
    pub(crate) fn of(fragment: &FragmentInfo) -> DatagramKey {
        let (src, v6) = addr_bytes(fragment.src);
        let (dst, _) = addr_bytes(fragment.dst);
        DatagramKey {
            src,
            dst,
            id: fragment.id,
            protocol: fragment.protocol,
            v6,
        }
    }
}

/// The flow a datagram's first fragment was counted into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlowLink {
    pub key: FlowKey,
    /// True if the fragments were sent by endpoint `a` of the key.
    pub from_a: bool,
    /// The flow's serial number, so that a later flow with the same key is not taken
    /// for it.
    pub serial: u64,
    /// Offset in the datagram's payload where the transport header ends when it runs
    /// past the first fragment, else 0. Bytes of later fragments before it are
    /// header, not payload. [`INNER_PACKET_COUNTED`] marks a tunnel packet.
    pub header_end: u32,
    /// For a TCP segment, the sequence number that offset 0 of the datagram's
    /// payload would have, so that a later fragment's payload at offset `o`
    /// starts at sequence number `stream_base + o`.
    pub stream_base: Option<u32>,
}

/// The `header_end` of a tunnel packet fragmented outside the tunnel. Its first
/// fragment counted the whole inner packet from the inner headers, so its later
/// fragments count as packets of the flow but add no bytes.
pub(crate) const INNER_PACKET_COUNTED: u32 = u32::MAX;

impl FlowLink {
    /// Returns true if later fragments add their bytes to the flow, false if the
    /// first fragment already counted them.
    pub fn counts_bytes(&self) -> bool {
        self.header_end != INNER_PACKET_COUNTED
    }

    /// Returns the payload bytes of a later fragment of `data_len` bytes at `offset`:
    /// its bytes past the end of the transport header.
    pub fn payload_len(&self, offset: u16, data_len: u32) -> u32 {
        let start = u32::from(offset);
        let end = start.saturating_add(data_len);
        let header = end.min(self.header_end).saturating_sub(start);
        // `header` is at most `end - start`, which is at most `data_len`.
        data_len - header
    }

    /// Returns the sequence number of the first of the `payload` payload bytes
    /// of a later fragment of `data_len` bytes at `offset`, if the datagram is a
    /// TCP segment. The payload bytes are the fragment's last ones.
    pub fn payload_seq(&self, offset: u16, data_len: u32, payload: u32) -> Option<u32> {
        let start = u32::from(offset).wrapping_add(data_len - payload.min(data_len));
        self.stream_base.map(|base| base.wrapping_add(start))
    }
}

/// A later fragment waiting for its datagram's first fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitingFragment {
    /// Capture time.
    pub ts: Timestamp,
    /// IP length of the fragment, header included.
    pub ip_len: u32,
    /// Bytes of the datagram's payload that the fragment carries.
    pub data_len: u32,
    /// Offset of the fragment's data in the datagram's payload, in bytes.
    pub offset: u16,
    /// The first bytes of the fragment's data, which complete a tiny first fragment's
    /// transport header when the fragment starts where that one ends.
    pub head: FragmentHead,
}

/// A first fragment too short for its transport header, waiting for the fragment
/// after it: what the tracker needs to count it as its flow's packet once the header
/// is joined. The datagram's addresses and identification are in its table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TinyFirstFragment {
    /// Capture time.
    pub ts: Timestamp,
    /// Source MAC address, if the link layer has one.
    pub src_mac: Option<MacAddr>,
    /// Destination MAC address, if the link layer has one.
    pub dst_mac: Option<MacAddr>,
    /// VLAN tags of the innermost Ethernet header.
    pub vlans: Vlans,
    /// The outermost tunnel, if the fragment was tunnelled.
    pub tunnel: Option<TunnelInfo>,
    /// Transport protocol: the IP protocol after any IPv6 extension headers.
    pub protocol: u8,
    /// IP length of the fragment, header included.
    pub ip_len: u32,
    /// IP header length, IPv6 extension headers included.
    pub ip_header_len: u32,
    /// Bytes of the datagram's payload that the fragment carries, which is the offset
    /// of the fragment that completes the transport header.
    pub data_len: u32,
    /// The start of the transport header. A join needs all of the transport bytes
    /// the fragment carries, `ip_len - ip_header_len`.
    pub head: FragmentHead,
}

impl TinyFirstFragment {
    /// Returns the fragment fields and the saved form of `packet` if it is a first
    /// fragment too short for its transport header, and its fragment fields belong to
    /// the header that was cut. A tunnel packet whose outer header was fragmented
    /// keeps only the outer fields, which cannot join the inner header.
    pub(crate) fn of(ts: Timestamp, packet: &Decoded) -> Option<(FragmentInfo, TinyFirstFragment)> {
        if packet.stop != Some(StopReason::TinyFragment) {
            return None;
        }
        let fragment = packet.fragment.filter(FragmentInfo::is_first)?;
        let ip = packet.ip?;
        if !ip.is_first_fragment || ip.src != fragment.src || ip.dst != fragment.dst {
            return None;
        }
        let tiny = TinyFirstFragment {
            ts,
            src_mac: packet.src_mac,
            dst_mac: packet.dst_mac,
            vlans: packet.vlans,
            tunnel: packet.tunnel,
            protocol: ip.protocol,
            ip_len: ip.total_len,
            ip_header_len: ip.header_len,
            data_len: fragment.data_len,
            head: fragment.head,
        };
        Some((fragment, tiny))
    }

    /// Returns the transport bytes of the fragment, from its IP lengths.
    pub(crate) fn transport_len(&self) -> u32 {
        self.ip_len.saturating_sub(self.ip_header_len)
    }

    /// Joins the fragment's transport bytes with `next`, the head of the fragment at
    /// offset `data_len`, and decodes the transport header from them. Returns `None`
    /// if the capture cut the fragment's transport bytes or the joined bytes do not
    /// decode.
    pub(crate) fn join(&self, next: &FragmentHead) -> Option<Transport> {
        let own = self.head.as_bytes();
        if u32::try_from(own.len()).ok()? != self.transport_len() {
            return None;
        }
        let mut joined = [0u8; 2 * wsd_decode::FRAGMENT_HEAD_LEN];
        let mut len = 0;
        for (to, from) in joined.iter_mut().zip(own.iter().chain(next.as_bytes())) {
            *to = *from;
            len += 1;
        }
        let bytes = joined.get(..len)?;
        wsd_decode::decode_transport_head(self.protocol, bytes, self.transport_len()).ok()
    }

    /// Rebuilds the decoded packet with the joined `transport`, as if the fragment
    /// had contained the whole header. `fragment` contains the datagram's fields.
    pub(crate) fn decoded_with(&self, fragment: &FragmentInfo, transport: Transport) -> Decoded {
        Decoded {
            src_mac: self.src_mac,
            dst_mac: self.dst_mac,
            vlans: self.vlans,
            ip: Some(IpInfo {
                src: fragment.src,
                dst: fragment.dst,
                protocol: self.protocol,
                total_len: self.ip_len,
                header_len: self.ip_header_len,
                is_later_fragment: false,
                is_first_fragment: true,
            }),
            transport,
            stop: None,
            tunnel: self.tunnel,
            fragment: Some(*fragment),
        }
    }
}

#[derive(Clone, Debug)]
struct Datagram {
    /// True once the first fragment was seen.
    first_seen: bool,
    /// The flow the fragments count into, if the first fragment was seen and its
    /// fragments are counted.
    flow: Option<FlowLink>,
    waiting: Vec<WaitingFragment>,
    /// A first fragment too short for its transport header, waiting for the fragment
    /// that completes it. Boxed because few datagrams have one.
    tiny_first: Option<Box<TinyFirstFragment>>,
    /// Payload bytes of every fragment seen, the first one's included.
    received: u32,
    /// Payload length of the whole datagram, known from its last fragment.
    total: Option<u32>,
    /// Order of creation, which distinguishes a live entry from a stale one in `order`.
    serial: u64,
    /// Capture clock when the datagram's first fragment of any kind arrived.
    created: Timestamp,
}

impl Datagram {
    fn new(now: Timestamp, serial: u64) -> Datagram {
        Datagram {
            first_seen: false,
            flow: None,
            waiting: Vec::new(),
            tiny_first: None,
            received: 0,
            total: None,
            serial,
            created: now,
        }
    }

    /// Returns true once the first fragment was seen and the fragments add up to
    /// the whole payload. Duplicate fragments can make that happen early.
    fn is_complete(&self) -> bool {
        self.first_seen && self.total.is_some_and(|total| self.received >= total)
    }
}

/// The outcome of [`FragmentTable::later`] for one later fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LaterFragment {
    /// Its first fragment was seen: count it into this flow.
    Flow(FlowLink),
    /// It waits for its first fragment.
    Waiting,
    /// Its datagram already has [`MAX_WAITING_FRAGMENTS`] waiting: it is unattributed.
    OverLimit,
    /// Its first fragment was seen, but the datagram's fragments are not counted into
    /// a flow: it is unattributed.
    NotCounted,
    /// It starts where this waiting tiny first fragment ends, so it completes that
    /// fragment's transport header. It was added to the waiting fragments.
    Joins(TinyFirstFragment),
}

/// The outcome of [`FragmentTable::tiny_first`] for a tiny first fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TinyFirst {
    /// It waits for the fragment that completes its transport header.
    Waiting,
    /// The fragment with this head, which completes its transport header, is
    /// already waiting.
    Joins(FragmentHead),
    /// Its datagram already has a first fragment: it is unattributed.
    Duplicate,
}

/// Counters of the fragment table, added to the tracker's statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Waiting fragments whose datagram timed out.
    pub timed_out: u64,
    /// Waiting fragments whose datagram was evicted from a full table.
    pub evicted: u64,
    /// Datagrams evicted from a full table.
    pub datagrams_evicted: u64,
}

/// The fragment table. See the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct FragmentTable {
    datagrams: HashMap<DatagramKey, Datagram>,
    /// Datagram keys with their creation time (the capture clock when their first
    /// fragment of any kind arrived, which starts the timeout) and serial, oldest
    /// first. Entries of
    /// datagrams that were removed early stay here until they reach the front or
    /// until `compact_order` drops them.
    order: VecDeque<(Timestamp, u64, DatagramKey)>,
    next_serial: u64,
    pub dropped: Dropped,
    /// Waiting fragments of evicted datagrams that the tracker has not yet counted
    /// as unattributed.
    evicted_uncounted: u64,
    /// Tiny first fragments of datagrams that timed out, were evicted or were
    /// cleared, which the tracker has not yet counted as unattributed.
    tiny_dropped_uncounted: u64,
}

impl FragmentTable {
    /// Returns the number of datagrams in the table.
    pub fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// Notes that the first fragment of `fragment`'s datagram was seen, and returns
    /// the later fragments that were waiting for it. With a `flow`, the datagram's
    /// later fragments count into it; without one, they are unattributed.
    pub fn first(
        &mut self,
        now: Timestamp,
        fragment: &FragmentInfo,
        data_len: u32,
        flow: Option<FlowLink>,
    ) -> Vec<WaitingFragment> {
        let key = DatagramKey::of(fragment);
        let datagram = self.entry(now, key);
        datagram.first_seen = true;
        // A whole first fragment makes a waiting tiny one a duplicate.
        let dropped_tiny = datagram.tiny_first.take().is_some();
        datagram.flow = flow;
        datagram.received = datagram.received.saturating_add(data_len);
        let waiting = std::mem::take(&mut datagram.waiting);
        self.tiny_dropped_uncounted += u64::from(dropped_tiny);
        waiting
    }

    /// Removes the waiting tiny first fragment of `fragment`'s datagram, which the
    /// tracker is about to count or reject, so that [`FragmentTable::first`] does
    /// not count it as dropped.
    pub fn remove_tiny_first(&mut self, fragment: &FragmentInfo) {
        if let Some(datagram) = self.datagrams.get_mut(&DatagramKey::of(fragment)) {
            datagram.tiny_first = None;
        }
    }

    /// Keeps a tiny first fragment until the fragment that completes its transport
    /// header arrives, or returns that fragment's head if it is already waiting.
    pub fn tiny_first(
        &mut self,
        now: Timestamp,
        fragment: &FragmentInfo,
        tiny: TinyFirstFragment,
    ) -> TinyFirst {
        let datagram = self.entry(now, DatagramKey::of(fragment));
        if datagram.first_seen || datagram.tiny_first.is_some() {
            return TinyFirst::Duplicate;
        }
        datagram.tiny_first = Some(Box::new(tiny));
        let next = datagram
            .waiting
            .iter()
            .find(|waiting| u32::from(waiting.offset) == tiny.data_len);
        match next {
            Some(next) => TinyFirst::Joins(next.head),
            None => TinyFirst::Waiting,
        }
    }

    /// Looks up the flow of a later fragment, or keeps the fragment until its first
    /// fragment arrives.
    pub fn later(
        &mut self,
        now: Timestamp,
        fragment: &FragmentInfo,
        waiting: WaitingFragment,
    ) -> LaterFragment {
        let key = DatagramKey::of(fragment);
        let datagram = self.entry(now, key);
        datagram.received = datagram.received.saturating_add(waiting.data_len);
        if !fragment.more_fragments {
            let end = u32::from(fragment.offset).saturating_add(waiting.data_len);
            datagram.total = Some(end);
        }
        let result = match datagram.flow {
            Some(flow) => LaterFragment::Flow(flow),
            None if datagram.first_seen => LaterFragment::NotCounted,
            None if datagram.waiting.len() < MAX_WAITING_FRAGMENTS => {
                datagram.waiting.push(waiting);
                match datagram.tiny_first.as_deref() {
                    Some(tiny) if tiny.data_len == u32::from(fragment.offset) => {
                        LaterFragment::Joins(*tiny)
                    }
                    _ => LaterFragment::Waiting,
                }
            }
            None => LaterFragment::OverLimit,
        };
        result
    }

    /// Removes the datagrams that timed out by `now`, counting their waiting fragments.
    /// Returns the numbers of later fragments and of tiny first fragments that became
    /// unattributed.
    pub fn expire(&mut self, now: Timestamp) -> (u64, u64) {
        let mut unattributed = 0;
        let mut tiny_dropped = 0;
        while let Some(&(created, serial, key)) = self.order.front() {
            if created.add_nanos(FRAGMENT_TIMEOUT) >= now {
                break;
            }
            self.order.pop_front();
            if self.datagrams.get(&key).is_some_and(|d| d.serial == serial) {
                if let Some(datagram) = self.datagrams.remove(&key) {
                    unattributed += datagram.waiting.len() as u64;
                    tiny_dropped += u64::from(datagram.tiny_first.is_some());
                }
            }
        }
        self.dropped.timed_out += unattributed;
        (unattributed, tiny_dropped)
    }

    /// Returns the number of tiny first fragments whose datagram was evicted or
    /// cleared, or that a whole first fragment replaced, since the last call. They
    /// became unattributed.
    pub fn take_tiny_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.tiny_dropped_uncounted)
    }

    /// Returns true if the table has no datagram and no uncounted drops, so that
    /// moving the clock has nothing to do here.
    pub fn is_idle(&self) -> bool {
        self.order.is_empty() && self.evicted_uncounted == 0 && self.tiny_dropped_uncounted == 0
    }

    /// Returns the number of waiting fragments evicted since the last call, which
    /// became unattributed.
    pub fn take_evicted(&mut self) -> u64 {
        std::mem::take(&mut self.evicted_uncounted)
    }

    /// Empties the table, as at the end of the input. Returns the number of waiting
    /// fragments, which became unattributed.
    pub fn clear(&mut self) -> u64 {
        let unattributed = self
            .datagrams
            .values()
            .map(|datagram| datagram.waiting.len() as u64)
            .sum();
        self.tiny_dropped_uncounted += self
            .datagrams
            .values()
            .filter(|datagram| datagram.tiny_first.is_some())
            .count() as u64;
        self.datagrams.clear();
        self.order.clear();
        unattributed
    }

    /// Returns the datagram of `key`, creating it (and evicting the oldest datagram
    /// of a full table) if it is new.
    fn entry(&mut self, now: Timestamp, key: DatagramKey) -> &mut Datagram {
        if !self.datagrams.contains_key(&key) && self.datagrams.len() >= MAX_FRAGMENT_DATAGRAMS {
            self.evict_oldest();
        }
        if self.order.len() > 2 * MAX_FRAGMENT_DATAGRAMS {
            self.compact_order();
        }
        let serial = self.next_serial;
        match self.datagrams.entry(key) {
            Entry::Occupied(occupied) => {
                let datagram = occupied.into_mut();
                // A complete datagram stays for its duplicates. A fragment after
                // the duplicate window starts a new datagram that reuses the
                // identification.
                if datagram.is_complete() && now.nanos_since(datagram.created) > DUPLICATE_WINDOW {
                    self.next_serial += 1;
                    self.order.push_back((now, serial, key));
                    *datagram = Datagram::new(now, serial);
                }
                datagram
            }
            Entry::Vacant(vacant) => {
                self.next_serial += 1;
                self.order.push_back((now, serial, key));
                vacant.insert(Datagram::new(now, serial))
            }
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((_, serial, key)) = self.order.pop_front() {
            if self.datagrams.get(&key).is_some_and(|d| d.serial == serial) {
                if let Some(datagram) = self.datagrams.remove(&key) {
                    // A complete datagram loses nothing but its duplicates.
                    if datagram.is_complete() {
                        return;
                    }
                    self.dropped.datagrams_evicted += 1;
                    self.dropped.evicted += datagram.waiting.len() as u64;
                    self.evicted_uncounted += datagram.waiting.len() as u64;
                    self.tiny_dropped_uncounted += u64::from(datagram.tiny_first.is_some());
                }
                return;
            }
        }
    }

    /// Drops the entries of `order` whose datagram left the table early, so that
    /// `order` stays within twice the table's bound.
    fn compact_order(&mut self) {
        let datagrams = &self.datagrams;
        self.order
            .retain(|(_, serial, key)| datagrams.get(key).is_some_and(|d| d.serial == *serial));
    }

    /// Saves the datagrams in the table, oldest first.
    pub fn snapshot(&self) -> Vec<DatagramSnapshot> {
        self.order
            .iter()
            .filter_map(|(created, serial, key)| {
                let datagram = self.datagrams.get(key).filter(|d| d.serial == *serial)?;
                Some(DatagramSnapshot {
                    created: *created,
                    src: to_ip(key.src, key.v6),
                    dst: to_ip(key.dst, key.v6),
                    id: key.id,
                    protocol: key.protocol,
                    first_seen: datagram.first_seen,
                    flow: datagram.flow.map(|link| FragmentFlowSnapshot {
                        serial: link.serial,
                        from_a: link.from_a,
                        header_end: link.header_end,
                        stream_base: link.stream_base,
                    }),
                    waiting: datagram.waiting.clone(),
                    tiny_first: datagram.tiny_first.as_deref().copied(),
                    received: datagram.received,
                    total: datagram.total,
                })
            })
            .collect()
    }

    /// Rebuilds a table from saved datagrams. `flow_key` returns the key of a
    /// restored flow from its serial number. A link to a flow that is not restored
    /// becomes a datagram whose later fragments are unattributed, as they would be
    /// had the run not been split. Beyond [`MAX_FRAGMENT_DATAGRAMS`], such as in a
    /// snapshot of several workers' tables, the oldest datagrams are evicted as
    /// from a full table.
    pub fn restore(
        saved: &[DatagramSnapshot],
        flow_key: impl Fn(u64) -> Option<FlowKey>,
    ) -> Result<FragmentTable, RestoreError> {
        let mut table = FragmentTable::default();
        let mut previous: Option<Timestamp> = None;
        for (index, datagram) in saved.iter().enumerate() {
            let invalid = |reason| RestoreError::InvalidDatagram { index, reason };
            let (src, v6) = addr_bytes(datagram.src);
            let (dst, dst_v6) = addr_bytes(datagram.dst);
            if v6 != dst_v6 {
                return Err(invalid("mixes IPv4 and IPv6 addresses"));
            }
            if datagram.waiting.len() > MAX_WAITING_FRAGMENTS {
                return Err(invalid("has more waiting fragments than the maximum"));
            }
            if datagram.first_seen && !datagram.waiting.is_empty() {
                return Err(invalid(
                    "has waiting fragments although its first fragment was seen",
                ));
            }
            if datagram.flow.is_some() && !datagram.first_seen {
                return Err(invalid(
                    "has a flow although its first fragment was not seen",
                ));
            }
            if datagram.first_seen && datagram.tiny_first.is_some() {
                return Err(invalid(
                    "has a waiting tiny first fragment although its first fragment was seen",
                ));
            }
            // The expiry loop stops at the first datagram that has not timed out,
            // so creation times must not decrease.
            if previous.is_some_and(|previous| datagram.created < previous) {
                return Err(invalid("was created before the datagram saved ahead of it"));
            }
            previous = Some(datagram.created);
            let key = DatagramKey {
                src,
                dst,
                id: datagram.id,
                protocol: datagram.protocol,
                v6,
            };
            let flow = datagram.flow.and_then(|link| {
                flow_key(link.serial).map(|key| FlowLink {
                    key,
                    from_a: link.from_a,
                    serial: link.serial,
                    header_end: link.header_end,
                    // Only a TCP flow has a stream to place fragments in.
                    stream_base: link.stream_base.filter(|_| key.protocol == TCP),
                })
            });
            let serial = table.next_serial;
            table.next_serial += 1;
            let restored = Datagram {
                first_seen: datagram.first_seen,
                flow,
                waiting: datagram.waiting.clone(),
                tiny_first: datagram.tiny_first.map(Box::new),
                received: datagram.received,
                total: datagram.total,
                serial,
                created: datagram.created,
            };
            if table.datagrams.insert(key, restored).is_some() {
                return Err(invalid("repeats the key of an earlier datagram"));
            }
            table.order.push_back((datagram.created, serial, key));
        }
        while table.datagrams.len() > MAX_FRAGMENT_DATAGRAMS {
            table.evict_oldest();
        }
        Ok(table)
    }

    /// Returns the creation time of the oldest datagram, for tests.
    #[cfg(test)]
    fn oldest(&self) -> Option<Timestamp> {
        self.order
            .iter()
            .find(|(_, serial, key)| self.datagrams.get(key).is_some_and(|d| d.serial == *serial))
            .map(|(created, _, _)| *created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn fragment(id: u32, offset: u16, more_fragments: bool) -> FragmentInfo {
        FragmentInfo {
            src: IpAddr::from([10, 0, 0, 1]),
            dst: IpAddr::from([10, 0, 0, 2]),
            protocol: 6,
            id,
            offset,
            more_fragments,
            data_len: 8,
            head: FragmentHead::default(),
        }
    }

    fn waiting(ts: Timestamp, data_len: u32) -> WaitingFragment {
        WaitingFragment {
            ts,
            ip_len: data_len + 20,
            data_len,
            offset: 8,
            head: FragmentHead::default(),
        }
    }

    fn link() -> FlowLink {
        FlowLink {
            key: FlowKey {
                addr_a: [0; 16],
                addr_b: [1; 16],
                port_a: 1,
                port_b: 2,
                vlan_ids: [0, 0],
                protocol: 6,
                v6: false,
            },
            from_a: true,
            serial: 7,
            header_end: 0,
            stream_base: None,
        }
    }

    const T0: Timestamp = Timestamp::from_parts(1_000, 0);

    #[test]
    fn later_fragment_waits_for_first() {
        let mut table = FragmentTable::default();

        let later = table.later(T0, &fragment(1, 8, true), waiting(T0, 8));
        let first = table.first(T0, &fragment(1, 0, true), 8, Some(link()));

        assert_eq!(later, LaterFragment::Waiting);
        assert_eq!(first, vec![waiting(T0, 8)]);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn complete_datagram_keeps_duplicates() {
        let mut table = FragmentTable::default();

        table.first(T0, &fragment(1, 0, true), 8, Some(link()));
        let middle = table.later(T0, &fragment(1, 8, true), waiting(T0, 8));
        let last = table.later(T0, &fragment(1, 16, false), waiting(T0, 4));
        let duplicate = table.later(T0, &fragment(1, 8, true), waiting(T0, 8));

        assert_eq!(middle, LaterFragment::Flow(link()));
        assert_eq!(last, LaterFragment::Flow(link()));
        assert_eq!(duplicate, LaterFragment::Flow(link()));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn reused_id_after_window_is_new() {
        let mut table = FragmentTable::default();
        table.first(T0, &fragment(1, 0, true), 8, Some(link()));
        table.later(T0, &fragment(1, 8, false), waiting(T0, 8));
        let later = T0.add_nanos(DUPLICATE_WINDOW + 1);

        let result = table.later(later, &fragment(1, 8, false), waiting(later, 8));

        assert_eq!(result, LaterFragment::Waiting);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn evicting_complete_datagram_is_no_drop() {
        let mut table = FragmentTable::default();
        for id in 0..MAX_FRAGMENT_DATAGRAMS as u32 + 10 {
            table.first(T0, &fragment(id, 0, true), 8, Some(link()));
            table.later(T0, &fragment(id, 8, false), waiting(T0, 8));
        }

        assert_eq!(table.len(), MAX_FRAGMENT_DATAGRAMS);
        assert_eq!(table.dropped.datagrams_evicted, 0);
    }

    #[test]
    fn waiting_fragments_time_out() {
        let mut table = FragmentTable::default();
        table.later(T0, &fragment(1, 8, true), waiting(T0, 8));
        table.later(T0, &fragment(1, 16, false), waiting(T0, 8));

        assert_eq!(table.expire(T0.add_nanos(FRAGMENT_TIMEOUT)), (0, 0));
        assert_eq!(table.expire(T0.add_nanos(FRAGMENT_TIMEOUT + 1)), (2, 0));
        assert_eq!(table.dropped.timed_out, 2);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn waiting_fragments_are_bounded() {
        let mut table = FragmentTable::default();
        for index in 0..MAX_WAITING_FRAGMENTS {
            let offset = 8 * (index as u16 + 1);
            let result = table.later(T0, &fragment(1, offset, true), waiting(T0, 8));
            assert_eq!(result, LaterFragment::Waiting);
        }

        let over = table.later(T0, &fragment(1, 1000, true), waiting(T0, 8));

        assert_eq!(over, LaterFragment::OverLimit);
    }

    #[test]
    fn full_table_evicts_oldest_datagram() {
        let mut table = FragmentTable::default();
        for id in 0..MAX_FRAGMENT_DATAGRAMS as u32 {
            let ts = T0.add_nanos(i64::from(id));
            table.later(ts, &fragment(id, 8, true), waiting(ts, 8));
        }
        let late = T0.add_nanos(1_000_000);

        table.later(late, &fragment(u32::MAX, 8, true), waiting(late, 8));

        assert_eq!(table.len(), MAX_FRAGMENT_DATAGRAMS);
        assert_eq!(table.dropped.datagrams_evicted, 1);
        assert_eq!(table.dropped.evicted, 1);
        assert_eq!(table.oldest(), Some(T0.add_nanos(1)));
    }

    #[test]
    fn order_stays_bounded_when_datagrams_complete() {
        let mut table = FragmentTable::default();
        for id in 0..10 * MAX_FRAGMENT_DATAGRAMS as u32 {
            table.first(T0, &fragment(id, 0, true), 8, Some(link()));
            table.later(T0, &fragment(id, 8, false), waiting(T0, 8));
        }

        assert!(table.len() <= MAX_FRAGMENT_DATAGRAMS);
        assert!(table.order.len() <= 2 * MAX_FRAGMENT_DATAGRAMS + 1);
    }
}
