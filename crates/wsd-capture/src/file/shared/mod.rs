//! [`SharedBytes`]: a reference to a capture reader's buffer that outlives the reader's
//! use of it.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Bytes of a capture file's read buffer, which stay valid and unchanged while any
/// clone is alive, also after the file reader has moved on.
///
/// [`FileSource::shared_buffer`](crate::FileSource::shared_buffer) returns one. The
/// bytes are the whole buffer, so they include the bytes around the packets: record
/// headers, partial records and bytes left from earlier reads. A packet's bytes are the
/// range that [`range_of`](Self::range_of) returns for it.
#[derive(Clone)]
pub struct SharedBytes(
    // The bytes are boxed apart from the reference counts, so that the reader can get
    // them zeroed from the allocator (see `input::zeroed_buffer`).
    Arc<Box<[u8]>>,
);

impl SharedBytes {
    pub(crate) fn new(bytes: Arc<Box<[u8]>>) -> SharedBytes {
        SharedBytes(bytes)
    }

    /// Returns the bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Returns where `part` lies within these bytes, or None if it does not lie
    /// entirely within them.
    ///
    /// It compares addresses, not contents, so equal bytes elsewhere in memory are not
    /// found. An empty `part` lies within these bytes when its address is in the range
    /// from the first byte to one past the last.
    #[inline]
    pub fn range_of(&self, part: &[u8]) -> Option<Range<usize>> {
        self.range_of_addresses(part.as_ptr_range())
    }

    /// Returns where the bytes at the addresses `part` lie within these bytes, as
    /// [`range_of`](Self::range_of) does for a slice.
    #[inline]
    fn range_of_addresses(&self, part: Range<*const u8>) -> Option<Range<usize>> {
        let whole = self.0.as_ptr_range();
        range_within(
            whole.start.addr()..whole.end.addr(),
            part.start.addr()..part.end.addr(),
        )
    }
}

/// Returns the position of the address range `part` relative to the start of `whole`,
/// or None if `part` does not lie entirely within `whole`.
#[inline]
fn range_within(whole: Range<usize>, part: Range<usize>) -> Option<Range<usize>> {
    if part.start < whole.start || part.end > whole.end {
        return None;
    }
    Some(part.start - whole.start..part.end - whole.start)
}

impl fmt::Debug for SharedBytes {
    /// Formats the length and address, not the bytes, which can be 4 MiB.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.0.len())
            .field("address", &self.0.as_ptr())
            .finish()
    }
}

#[cfg(test)]
mod tests;
