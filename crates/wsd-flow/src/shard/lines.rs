//! Finished flows formatted by the threads that track them or by the calling
//! thread, and their output order.
//!
//! Formatting a record costs more than tracking the packets of a short flow, so
//! a [`ShardedTracker`](super::ShardedTracker) with a [`RecordFormatter`] has
//! each worker format its own records and sort them, unless the helper threads
//! are behind the calling thread, which then formats them. The calling thread
//! merges the workers' sorted lines and writes them.

use std::cmp::Ordering;
use std::net::IpAddr;

use wsd_capture::Timestamp;

use crate::record::FlowRecord;

/// Formats finished flow records as bytes, such as one line of a log.
///
/// [`ShardedTracker::format_in_workers`](super::ShardedTracker::format_in_workers)
/// gives each worker thread a clone, so an implementation may keep caches.
pub trait RecordFormatter: Send {
    /// Appends the formatted `record` to `out`.
    fn format(&mut self, record: &FlowRecord, out: &mut Vec<u8>);
}

/// The two endpoints and the protocol of a record, which tell records apart
/// when their times are equal.
type Endpoints = (IpAddr, u16, IpAddr, u16, u8);

/// The fields that order records: end time, then start time and endpoints.
/// The derived order compares them in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct OrderKey {
    last_ts: Timestamp,
    first_ts: Timestamp,
    endpoints: Endpoints,
}

impl OrderKey {
    pub(super) fn of(record: &FlowRecord) -> OrderKey {
        OrderKey {
            last_ts: record.last_ts,
            first_ts: record.first_ts,
            endpoints: (
                record.client.ip,
                record.client.port,
                record.server.ip,
                record.server.port,
                record.protocol,
            ),
        }
    }

    /// Compares by start time, then endpoints: the order of the flows
    /// reported at the end of the input.
    pub(super) fn cmp_start(&self, other: &OrderKey) -> Ordering {
        (self.first_ts, self.endpoints).cmp(&(other.first_ts, other.endpoints))
    }
}

/// Bytes of lines that a new part has room for: the lines of a batch, or an
/// end-of-input chunk, without growing. Growing copies the lines into fresh
/// pages.
pub(super) const PART_BYTES: usize = 192 << 10;

/// One formatted record: its order key and its bytes in [`LinePart::bytes`].
struct Line {
    key: OrderKey,
    start: usize,
    end: usize,
}

/// Formatted records of one worker: those of one batch, sorted by end time, or
/// a chunk of the flows it reports at the end of the input, oldest first.
///
/// The buffers travel back to the worker with its next batch, so that
/// formatting allocates only while they grow.
#[derive(Default)]
pub(super) struct LinePart {
    lines: Vec<Line>,
    bytes: Vec<u8>,
}

impl LinePart {
    /// Returns an empty part with room for [`PART_BYTES`] bytes of lines.
    pub(super) fn with_room() -> LinePart {
        LinePart {
            lines: Vec::new(),
            bytes: Vec::with_capacity(PART_BYTES),
        }
    }

    /// Formats `record` at the end of the part.
    pub(super) fn push(&mut self, record: &FlowRecord, formatter: &mut dyn RecordFormatter) {
        let start = self.bytes.len();
        formatter.format(record, &mut self.bytes);
        self.lines.push(Line {
            key: OrderKey::of(record),
            start,
            end: self.bytes.len(),
        });
    }

    /// Sorts the lines by end time, keeping the order of equal keys.
    pub(super) fn sort_by_end(&mut self) {
        self.lines.sort_by_key(|line| line.key);
    }

    pub(super) fn len(&self) -> usize {
        self.lines.len()
    }

    /// Length of the formatted lines in bytes.
    pub(super) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.lines.clear();
        self.bytes.clear();
    }

    fn key(&self, index: usize) -> Option<&OrderKey> {
        self.lines.get(index).map(|line| &line.key)
    }

    fn line(&self, index: usize) -> &[u8] {
        self.lines
            .get(index)
            .and_then(|line| self.bytes.get(line.start..line.end))
            .unwrap_or_default()
    }
}

/// Passes the lines of one batch to `sink` in end order, merging the workers'
/// parts, each already sorted. Of equal keys, the lower worker's comes first,
/// as a stable sort of the parts one after the other would put them.
pub(super) fn write_merged(parts: &[LinePart], sink: &mut impl FnMut(&[u8])) {
    let mut next = vec![0; parts.len()];
    loop {
        let mut earliest: Option<(usize, &OrderKey)> = None;
        for (number, part) in parts.iter().enumerate() {
            let Some(key) = part.key(next[number]) else {
                continue;
            };
            if earliest.is_none_or(|(_, best)| key < best) {
                earliest = Some((number, key));
            }
        }
        let Some((number, _)) = earliest else {
            return;
        };
        sink(parts[number].line(next[number]));
        next[number] += 1;
    }
}

/// The end-of-input lines received from one worker and not yet written.
#[derive(Default)]
pub(super) struct LineCursor {
    part: LinePart,
    next: usize,
}

impl LineCursor {
    pub(super) fn new(part: LinePart) -> LineCursor {
        LineCursor { part, next: 0 }
    }

    pub(super) fn key(&self) -> Option<&OrderKey> {
        self.part.key(self.next)
    }

    /// Returns the part, to be emptied and used again.
    pub(super) fn into_part(self) -> LinePart {
        self.part
    }

    /// Returns the next line and moves past it.
    pub(super) fn take(&mut self) -> &[u8] {
        let index = self.next;
        self.next += 1;
        self.part.line(index)
    }
}
