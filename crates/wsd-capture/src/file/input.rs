//! A bounded read buffer that the record parsers borrow from.
//!
//! The buffer starts at [`INITIAL_SIZE`], or at the input's size when that is known and
//! smaller, and grows up to [`BUFFER_SIZE`] only when a record needs more room. A buffer
//! that small stays in the processor's cache, so the bytes that a read copies in are
//! still there when the records are parsed, and a small input never allocates and zeroes
//! a large buffer. Records are parsed in place. Only when a read is needed does the
//! unconsumed tail move to the front, at most one partial record, with the consumed bytes
//! kept before it: an eighth of the buffer, or the record that the reader asked to keep.
//!
//! The buffer is reference-counted so that [`SharedBytes`] clones of it can outlive the
//! reader's use of it. Bytes that a clone can see never change: before each write, the
//! input checks that it holds the only reference. If a clone is alive, the input retires
//! the buffer and continues in another one of the same size, into whose front it copies
//! only the unconsumed bytes. That buffer is a retired one whose clones are all gone, or
//! a new one. At most [`MAX_RETIRED`] retired buffers are kept for reuse. While no clone
//! exists, the input never switches and reads exactly as an unshared buffer would.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use super::shared::SharedBytes;

/// Maximum size of the read buffer in bytes. It must hold the largest block the parsers
/// keep in memory ([`MAX_BLOCK_LEN`](super::MAX_BLOCK_LEN)).
pub(super) const BUFFER_SIZE: usize = 4 << 20;

/// Initial size of the read buffer in bytes, for an input of this size or more.
///
/// On the mixed benchmark capture, `wsd` took about 4% less time with a 128 KiB buffer
/// than with one of 4 MiB: the median ratio was 0.964 over 30 interleaved pairs of
/// runs. Its reading loop fell from 9.6% to 7.1% of the samples. A 4 MiB buffer is larger
/// than the 2 MiB second-level cache, so the bytes of a read had left it before they
/// were parsed, while a buffer of 128 KiB is reused in that cache. Buffers of 256 KiB
/// and 512 KiB were within the spread of 128 KiB.
const INITIAL_SIZE: usize = 128 << 10;

/// Minimum initial size of the read buffer in bytes, so that a wrong size hint costs
/// few growth steps.
const MIN_INITIAL_SIZE: usize = 4 << 10;

/// Minimum free space at the end of the buffer before a read. With less room than this,
/// the unconsumed bytes move to the front first, so reads stay large.
const MIN_READ: usize = 64 << 10;

/// Maximum number of retired buffers kept for reuse. A consumer that drops its clones
/// within a few refills gets its buffers reused, so a steady run stops allocating. When
/// the pool is full, the oldest retired buffer is released, and its memory is freed when
/// its last clone is dropped.
pub(super) const MAX_RETIRED: usize = 8;

/// The input stream and the buffer of its unconsumed bytes.
pub(super) struct Input {
    reader: Box<dyn Read + Send>,
    /// The read buffer. It is written only while this input holds its only reference.
    buf: Arc<Box<[u8]>>,
    /// Size up to which `buf` may grow.
    max_len: usize,
    /// Consumed bytes that moving the unconsumed bytes keeps before them when
    /// that is more than an eighth of the buffer, as [`Input::keep_consumed`]
    /// sets.
    keep: usize,
    /// Buffer index of the first unconsumed byte.
    start: usize,
    /// Buffer index one past the last byte read.
    end: usize,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    eof: bool,
    /// Size of the stream in bytes, when known.
    len: Option<u64>,
    /// Former read buffers that were shared when the input left them, oldest first,
    /// all of the same size as `buf`. Empty until a buffer is shared.
    retired: VecDeque<Arc<Box<[u8]>>>,
}

impl Input {
    /// Creates an input whose buffer may grow to `BUFFER_SIZE` bytes. `len` is the
    /// input's size if known: the buffer starts at that size, kept between 4 KiB and
    /// `INITIAL_SIZE`, or at `INITIAL_SIZE` when the size is unknown.
    pub(super) fn new(reader: Box<dyn Read + Send>, len: Option<u64>) -> Input {
        let initial = len.map_or(INITIAL_SIZE, |len| {
            usize::try_from(len)
                .unwrap_or(INITIAL_SIZE)
                .clamp(MIN_INITIAL_SIZE, INITIAL_SIZE)
        });
        Input::with_sizes(reader, initial, BUFFER_SIZE)
    }

    /// Creates an input with a fixed buffer of `capacity` bytes, for tests of the
    /// refill logic.
    #[cfg(test)]
    pub(super) fn with_capacity(reader: Box<dyn Read + Send>, capacity: usize) -> Input {
        Input::with_sizes(reader, capacity, capacity)
    }

    /// Creates an input with a buffer of `initial` bytes that may grow to `max_len`.
    pub(super) fn with_sizes(
        reader: Box<dyn Read + Send>,
        initial: usize,
        max_len: usize,
    ) -> Input {
        Input {
            reader,
            buf: zeroed_buffer(initial),
            max_len,
            keep: 0,
            start: 0,
            end: 0,
            buf_offset: 0,
            eof: false,
            len: None,
            retired: VecDeque::new(),
        }
    }

    /// Returns the maximum number of bytes that [`Input::fill`] can make available.
    pub(super) fn max_len(&self) -> usize {
        self.max_len
    }

    /// Sets the size of the stream in bytes, when known, for [`Input::ends_within`].
    pub(super) fn set_len(&mut self, len: Option<u64>) {
        self.len = len;
    }

    /// Returns true when the stream is known to end within the next `count` bytes
    /// after the first unconsumed one.
    pub(super) fn ends_within(&self, count: u64) -> bool {
        self.len
            .is_some_and(|len| self.offset().saturating_add(count) > len)
    }

    /// Stream offset of the first unconsumed byte.
    pub(super) fn offset(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    /// Buffer index of the first unconsumed byte, the base for ranges passed to `bytes`.
    pub(super) fn start(&self) -> usize {
        self.start
    }

    /// Returns the unconsumed bytes that are in the buffer.
    pub(super) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Returns the buffer bytes in `range`, which a parser took from `start` and
    /// `available` before the last `consume`.
    ///
    /// A range outside the buffer is a bug in a parser. It panics in debug builds, so
    /// that tests catch it, and yields an empty slice in release builds.
    pub(super) fn bytes(&self, range: Range<usize>) -> &[u8] {
        let bytes = self.buf.get(range);
        debug_assert!(bytes.is_some(), "record range outside the read buffer");
        bytes.unwrap_or_default()
    }

    /// Returns a reference to the whole read buffer, the one that `bytes` reads from.
    /// The input writes no byte of this buffer while the reference or a clone of it is
    /// alive.
    pub(super) fn shared(&self) -> SharedBytes {
        SharedBytes::new(Arc::clone(&self.buf))
    }

    /// Marks the next `count` available bytes as consumed.
    pub(super) fn consume(&mut self, count: usize) {
        debug_assert!(count <= self.end - self.start);
        self.start += count.min(self.end - self.start);
    }

    /// Reads until at least `need` bytes are available.
    ///
    /// Returns false when the stream ends first, leaving whatever it had available.
    #[inline]
    pub(super) fn fill(&mut self, need: usize) -> io::Result<bool> {
        // Most calls find the bytes already in the buffer and take only this
        // inlined test. They can skip the size check of `read_until` because the
        // buffer never exceeds `max_len`.
        if self.end - self.start >= need {
            return Ok(true);
        }
        self.read_until(need)
    }

    /// Reads until at least `need` bytes are available; see [`Input::fill`].
    #[inline(never)]
    fn read_until(&mut self, need: usize) -> io::Result<bool> {
        if need > self.max_len {
            return Err(io::Error::other(format!(
                "a record of {need} bytes does not fit the {}-byte read buffer",
                self.max_len
            )));
        }
        let room = need + self.keep.min(self.start);
        if need > self.buf.len() || (room > self.buf.len() && self.buf.len() < self.max_len) {
            self.grow(need);
        }
        while self.end - self.start < need {
            if self.eof {
                return Ok(false);
            }
            let len = self.buf.len();
            if self.start + need > len && self.leaves_little_room(need) {
                self.grow(need);
            } else if self.start + need > len || len - self.end < MIN_READ {
                self.compact(need);
            }
            self.read_more()?;
        }
        Ok(true)
    }

    /// Returns true if moving the bytes to the front for `need` bytes would leave
    /// less than an eighth of the buffer free after them, and the buffer can still
    /// grow. A fill a few bytes further on would then move nearly the whole buffer
    /// again, as when the search after damage checks a block of most of the buffer's
    /// length at each of many places in a row.
    fn leaves_little_room(&self, need: usize) -> bool {
        let len = self.buf.len();
        len < self.max_len && self.kept(len, need) + need + len / 8 > len
    }

    /// Consumes `count` bytes, reading and dropping those beyond the buffer.
    ///
    /// Returns false when the stream ends first. Everything up to the end is then consumed.
    pub(super) fn skip(&mut self, count: u64) -> io::Result<bool> {
        let available = (self.end - self.start) as u64;
        if count <= available {
            self.start += count as usize;
            return Ok(true);
        }

        let mut remaining = count - available;
        self.buf_offset += self.end as u64;
        self.start = 0;
        self.end = 0;
        while remaining > 0 {
            if self.eof {
                return Ok(false);
            }
            // With nothing unconsumed, a shared buffer is left without copying a byte.
            self.read_more()?;
            let read = self.end as u64;
            if read <= remaining {
                remaining -= read;
                self.buf_offset += read;
                self.end = 0;
            } else {
                self.start = remaining as usize;
                remaining = 0;
            }
        }
        Ok(true)
    }

    /// Gives back the last `count` bytes consumed, which must still be in the buffer:
    /// at most [`Input::start`] bytes. Reads keep up to an eighth of the buffer, or
    /// the count set by [`Input::keep_consumed`], before the first unconsumed byte
    /// when they move the bytes.
    pub(super) fn rewind(&mut self, count: usize) {
        debug_assert!(count <= self.start);
        self.start -= count.min(self.start);
    }

    /// Keeps at least the last `count` bytes consumed in the buffer when later
    /// reads move the unconsumed bytes, so that [`Input::rewind`] can give
    /// them back whatever the sizes of the reads. The buffer grows for them
    /// up to its maximum size, and only a need for more than that drops
    /// them. A later call replaces the count.
    #[inline]
    pub(super) fn keep_consumed(&mut self, count: usize) {
        self.keep = count;
    }

    /// Returns how many consumed bytes a buffer of `len` bytes keeps before the
    /// unconsumed ones when they move to its front. That is up to an eighth of
    /// the buffer, so that moving them costs little, or the count that
    /// [`Input::keep_consumed`] set if larger, and leaves room for `need` bytes
    /// after the kept ones.
    fn kept(&self, len: usize, need: usize) -> usize {
        self.start
            .min((len / 8).max(self.keep))
            .min(len.saturating_sub(need))
    }

    /// Consumes every available byte, so that the offset reaches the end of what was read.
    pub(super) fn consume_all(&mut self) {
        self.start = self.end;
    }

    /// Replaces the buffer with one of at least `need` bytes, the bytes to keep that
    /// [`Input::keep_consumed`] set, and an eighth, at least twice the old size and at
    /// most `max_len`, keeping the kept and unconsumed bytes at its front.
    ///
    /// The old buffer is only read, so its clones need no check. The retired buffers are
    /// released, because they are smaller than the new size.
    fn grow(&mut self, need: usize) {
        // An eighth more than the need and the bytes to keep leaves room for
        // the bytes kept besides.
        let required = need + self.keep.min(self.start);
        let len = (required + required / 8)
            .max(self.buf.len().saturating_mul(2))
            .min(self.max_len);
        let mut buf = zeroed_buffer(len);
        let kept = self.kept(len, need);
        let from = self.start - kept;
        let moved = self.end - from;
        writable(&mut buf)[..moved].copy_from_slice(&self.buf[from..self.end]);
        self.buf = buf;
        self.retired.clear();
        self.buf_offset += from as u64;
        self.start = kept;
        self.end = moved;
    }

    /// Moves the unconsumed bytes, and the kept bytes before them, to the front of the
    /// buffer, or of another buffer when this one is shared.
    fn compact(&mut self, need: usize) {
        let kept = self.kept(self.buf.len(), need);
        let (from, end) = (self.start - kept, self.end);
        match Arc::get_mut(&mut self.buf) {
            Some(buf) => buf.copy_within(from..end, 0),
            None => self.switch_buffer(from),
        }
        self.buf_offset += from as u64;
        self.end -= from;
        self.start = kept;
    }

    /// Performs one read into the free end of the buffer, retrying on `Interrupted`.
    /// A shared buffer is first left for another, as `compact` does.
    fn read_more(&mut self) -> io::Result<()> {
        if Arc::get_mut(&mut self.buf).is_none() {
            // Room for at least one more byte.
            self.compact(self.end - self.start + 1);
        }
        let end = self.end;
        let buf = writable(&mut self.buf);
        let len = buf.len();
        loop {
            match self.reader.read(&mut buf[end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(read) => {
                    // A reader that claims more than it was given would put `end` past the
                    // buffer, so the count is clamped.
                    self.end = (end + read).min(len);
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Retires the shared buffer and continues in an unshared one of the same size with
    /// the bytes from buffer index `from` on copied to its front. The caller moves
    /// `start` and `end`.
    #[cold]
    fn switch_buffer(&mut self, from: usize) {
        let mut next = self.take_free_buffer();
        writable(&mut next)[..self.end - from].copy_from_slice(&self.buf[from..self.end]);
        let old = std::mem::replace(&mut self.buf, next);
        if self.retired.len() == MAX_RETIRED {
            self.retired.pop_front();
        }
        self.retired.push_back(old);
    }

    /// Removes and returns the oldest retired buffer whose clones are all dropped, or
    /// allocates a buffer when every retired one is still shared.
    fn take_free_buffer(&mut self) -> Arc<Box<[u8]>> {
        let free = self
            .retired
            .iter_mut()
            .position(|buf| Arc::get_mut(buf).is_some());
        match free.and_then(|index| self.retired.remove(index)) {
            Some(buf) => buf,
            None => zeroed_buffer(self.buf.len()),
        }
    }
}

/// Allocates a reference-counted buffer of `len` zero bytes.
///
/// The bytes sit in a `Box` of their own because `vec![0; len]` gets them from the
/// allocator's zeroing call, which writes nothing for a large block (glibc maps fresh
/// pages). Filling an `Arc<[u8]>` with zeros instead took about 4.2 million instructions
/// per 4 MiB buffer under callgrind, to save one pointer load per access.
fn zeroed_buffer(len: usize) -> Arc<Box<[u8]>> {
    Arc::new(vec![0; len].into_boxed_slice())
}

/// Returns the bytes of a buffer that the caller holds the only reference to.
fn writable(buf: &mut Arc<Box<[u8]>>) -> &mut [u8] {
    // Every caller has just allocated the buffer, taken it from the retired buffers after
    // `Arc::get_mut` succeeded, or checked `Arc::get_mut` itself. A buffer that nothing
    // else references can gain a reference only through `Input::shared`, which needs
    // `&Input`, so none appeared since.
    Arc::get_mut(buf)
        .expect("read buffer is not shared")
        .as_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A reader that returns at most `chunk` bytes per call and an `Interrupted` error
    /// before every other read.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        interrupt: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let count = self.chunk.min(out.len()).min(self.data.len() - self.pos);
            out[..count].copy_from_slice(&self.data[self.pos..self.pos + count]);
            self.pos += count;
            Ok(count)
        }
    }

    fn numbered(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn fill_collects_short_reads() {
        let data = numbered(100);
        let reader = Trickle {
            data: data.clone(),
            pos: 0,
            chunk: 3,
            interrupt: false,
        };
        let mut input = Input::with_capacity(Box::new(reader), 64);

        assert!(input.fill(10).unwrap());
        assert_eq!(&input.available()[..10], &data[..10]);
    }

    #[test]
    fn fill_compacts_when_record_does_not_fit() {
        let data = numbered(200);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);

        assert!(input.fill(60).unwrap());
        input.consume(50);
        assert!(input.fill(40).unwrap());

        assert_eq!(input.offset(), 50);
        assert_eq!(&input.available()[..40], &data[50..90]);
    }

    #[test]
    fn fill_reports_end_of_stream() {
        let mut input = Input::with_capacity(Box::new(Cursor::new(numbered(30))), 64);

        assert!(!input.fill(31).unwrap());
        assert_eq!(input.available().len(), 30);
    }

    #[test]
    fn fill_rejects_record_larger_than_buffer() {
        let mut input = Input::with_capacity(Box::new(Cursor::new(numbered(30))), 16);

        assert!(input.fill(17).is_err());
    }

    #[test]
    fn fill_grows_buffer_up_to_maximum() {
        let data = numbered(300);
        let mut input = Input::with_sizes(Box::new(Cursor::new(data.clone())), 16, 256);

        assert!(input.fill(8).unwrap());
        input.consume(5);
        assert!(input.fill(200).unwrap());
        assert_eq!(input.offset(), 5);
        assert_eq!(&input.available()[..200], &data[5..205]);
        assert!(input.buf.len() >= 200);
        assert!(input.fill(257).is_err());
    }

    /// A fill of most of the buffer that moves on a few bytes at a time moves the
    /// bytes to the front only now and then: the buffer grows instead of moving
    /// nearly all of itself at each step.
    #[test]
    fn sliding_fill_rarely_moves_bytes() {
        let data = numbered(300_000);
        let mut input = Input::with_sizes(Box::new(Cursor::new(data.clone())), 4096, BUFFER_SIZE);
        let mut moves = 0;
        let mut buf_offset = input.buf_offset;

        for step in 0..10_000 {
            assert!(input.fill(100_000).unwrap());
            assert_eq!(input.available()[0], data[step * 12]);
            input.consume(12);
            if input.buf_offset != buf_offset {
                moves += 1;
                buf_offset = input.buf_offset;
            }
        }

        assert!(moves <= 10, "the bytes moved {moves} times");
        assert!(input.buf.len() <= 4 * 100_000, "{} bytes", input.buf.len());
    }

    #[test]
    fn new_sizes_buffer_by_input_length() {
        let small = Input::new(Box::new(Cursor::new(numbered(10))), Some(10));
        let medium = Input::new(Box::new(Cursor::new(numbered(10))), Some(100_000));
        let large = Input::new(Box::new(Cursor::new(numbered(10))), Some(300_000_000));
        let unknown = Input::new(Box::new(Cursor::new(numbered(10))), None);
        let huge = Input::new(Box::new(Cursor::new(numbered(10))), Some(u64::MAX));

        assert_eq!(small.buf.len(), MIN_INITIAL_SIZE);
        assert_eq!(medium.buf.len(), 100_000);
        assert_eq!(large.buf.len(), INITIAL_SIZE);
        assert_eq!(unknown.buf.len(), INITIAL_SIZE);
        assert_eq!(huge.buf.len(), INITIAL_SIZE);
    }

    #[test]
    fn skip_beyond_buffer_keeps_offsets() {
        let data = numbered(1000);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);

        assert!(input.fill(8).unwrap());
        assert!(input.skip(700).unwrap());
        assert_eq!(input.offset(), 700);
        assert!(input.fill(8).unwrap());
        assert_eq!(&input.available()[..8], &data[700..708]);
    }

    #[test]
    fn skip_past_end_consumes_everything() {
        let mut input = Input::with_capacity(Box::new(Cursor::new(numbered(300))), 64);

        assert!(!input.skip(301).unwrap());
        assert_eq!(input.offset(), 300);
        assert!(input.available().is_empty());
    }

    /// Returns the address of the first byte of the input's current buffer.
    fn buffer_address(input: &Input) -> usize {
        input.buf.as_ptr().addr()
    }

    #[test]
    fn unshared_buffer_is_never_switched() {
        let data = numbered(1000);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);
        let address = buffer_address(&input);

        let mut offset = 0;
        while input.fill(24).unwrap() {
            assert_eq!(&input.available()[..24], &data[offset..offset + 24]);
            input.consume(24);
            if !input.skip(70).unwrap() {
                break;
            }
            offset += 24 + 70;
            assert_eq!(input.offset(), offset as u64);
        }

        assert!(offset > 900, "stopped at {offset}");
        assert_eq!(buffer_address(&input), address);
        assert!(input.retired.is_empty());
    }

    #[test]
    fn refill_keeps_shared_bytes_unchanged() {
        let data = numbered(1000);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);
        assert!(input.fill(60).unwrap());
        input.consume(50);
        let shared = input.shared();
        let before = shared.as_slice().to_vec();

        assert!(input.fill(40).unwrap());

        assert_eq!(shared.as_slice(), &before[..]);
        assert_ne!(buffer_address(&input), shared.as_slice().as_ptr().addr());
        assert_eq!(input.retired.len(), 1);
        assert_eq!(input.offset(), 50);
        assert_eq!(&input.available()[..40], &data[50..90]);
        // An eighth of the buffer, the last 8 bytes consumed, moved along.
        assert_eq!(input.start(), 8);
        input.rewind(8);
        assert_eq!(&input.available()[..48], &data[42..90]);
    }

    #[test]
    fn refill_without_compaction_switches_too() {
        // The buffer has room after the read bytes, so an unshared input would read on
        // without moving anything.
        let data = numbered(1000);
        let reader = Trickle {
            data: data.clone(),
            pos: 0,
            chunk: 10,
            interrupt: false,
        };
        let mut input = Input::with_sizes(Box::new(reader), MIN_READ * 2, MIN_READ * 2);
        assert!(input.fill(10).unwrap());
        input.consume(4);
        let shared = input.shared();
        let before = shared.as_slice().to_vec();

        assert!(input.fill(12).unwrap());

        assert_eq!(shared.as_slice(), &before[..]);
        assert_ne!(buffer_address(&input), shared.as_slice().as_ptr().addr());
        assert_eq!(input.offset(), 4);
        assert_eq!(&input.available()[..12], &data[4..16]);
    }

    #[test]
    fn retired_buffer_is_reused_after_clones_drop() {
        let data = numbered(1000);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);
        assert!(input.fill(64).unwrap());
        let first = input.shared();
        let first_address = first.as_slice().as_ptr().addr();
        input.consume(64);
        assert!(input.fill(64).unwrap());
        assert_ne!(buffer_address(&input), first_address);

        drop(first);
        let second = input.shared();
        input.consume(60);
        assert!(input.fill(64).unwrap());

        assert_eq!(buffer_address(&input), first_address);
        assert_eq!(input.retired.len(), 1);
        assert_eq!(
            input.retired[0].as_ptr().addr(),
            second.as_slice().as_ptr().addr()
        );
        assert_eq!(input.offset(), 124);
        assert_eq!(input.available(), &data[124..188]);
        assert_eq!(second.as_slice(), &data[64..128]);
    }

    #[test]
    fn retired_buffers_stay_bounded() {
        let data = numbered(10_000);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);
        let mut held = Vec::new();

        let mut offset = 0;
        while input.fill(48).unwrap() {
            let shared = input.shared();
            let snapshot = shared.as_slice().to_vec();
            held.push((shared, snapshot));
            assert_eq!(&input.available()[..48], &data[offset..offset + 48]);
            input.consume(48);
            offset += 48;
            assert!(input.retired.len() <= MAX_RETIRED);
        }

        assert_eq!(input.retired.len(), MAX_RETIRED);
        let mut addresses: Vec<usize> = held
            .iter()
            .map(|(shared, _)| shared.as_slice().as_ptr().addr())
            .collect();
        addresses.dedup();
        assert!(addresses.len() > 100, "{} buffers", addresses.len());
        for (shared, snapshot) in &held {
            assert_eq!(shared.as_slice(), &snapshot[..]);
        }
        // The last fill read to the end of the stream, so it left the newest held buffer
        // too. Only the newest retired buffers are kept; the older ones live on in `held`.
        let retired: Vec<usize> = input
            .retired
            .iter()
            .map(|buf| buf.as_ptr().addr())
            .collect();
        assert_eq!(retired, &addresses[addresses.len() - MAX_RETIRED..]);
    }

    #[test]
    fn skip_with_shared_buffer_keeps_bytes() {
        let data = numbered(1000);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);
        assert!(input.fill(8).unwrap());
        let shared = input.shared();
        let before = shared.as_slice().to_vec();

        assert!(input.skip(700).unwrap());
        assert!(input.fill(8).unwrap());

        assert_eq!(shared.as_slice(), &before[..]);
        assert_eq!(input.offset(), 700);
        assert_eq!(&input.available()[..8], &data[700..708]);
    }

    #[test]
    fn grow_with_shared_buffer_keeps_bytes() {
        let data = numbered(300);
        let mut input = Input::with_sizes(Box::new(Cursor::new(data.clone())), 16, 256);
        assert!(input.fill(16).unwrap());
        input.consume(8);
        let old = input.shared();
        // The 2 kept bytes and the 10 needed leave more than an eighth of the buffer free,
        // so the input moves on to another buffer of its size instead of growing.
        assert!(input.fill(10).unwrap());
        assert_eq!(input.retired.len(), 1);
        let before = old.as_slice().to_vec();
        let current = input.shared();

        input.consume(2);
        assert!(input.fill(200).unwrap());

        assert_eq!(old.as_slice(), &before[..]);
        assert_eq!(current.as_slice(), &data[6..22]);
        assert!(input.buf.len() >= 200);
        assert!(input.retired.is_empty());
        assert_eq!(input.offset(), 10);
        assert_eq!(&input.available()[..200], &data[10..210]);
    }

    #[test]
    fn bytes_returns_range_after_consume() {
        let data = numbered(40);
        let mut input = Input::with_capacity(Box::new(Cursor::new(data.clone())), 64);

        assert!(input.fill(20).unwrap());
        let range = input.start() + 4..input.start() + 12;
        input.consume(12);

        assert_eq!(input.bytes(range), &data[4..12]);
    }
}
