//! Bounds-checked byte readers shared by the layer decoders.
//!
//! Every reader returns `None`, or an empty slice, instead of reading past the end of
//! its input.

/// Splits a big-endian `u16` off the front of `data`.
#[inline]
pub(crate) fn split_be_u16(data: &[u8]) -> Option<(u16, &[u8])> {
    let (bytes, rest) = data.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*bytes), rest))
}

/// Returns the bytes of `data` from `offset` on, or an empty slice if `offset` is past
/// the end.
#[inline]
pub(crate) fn bytes_from(data: &[u8], offset: usize) -> &[u8] {
    data.get(offset..).unwrap_or_default()
}

/// Returns the first `len` bytes of `data`, or all of `data` if it is shorter.
#[inline]
pub(crate) fn truncate(data: &[u8], len: usize) -> &[u8] {
    data.get(..len).unwrap_or(data)
}

/// Converts a byte count to `u32`, saturating at `u32::MAX`.
///
/// Lengths in a capture record fit in `u32`, so the saturation only matters for
/// buffers handed in by other callers.
#[inline]
pub(crate) fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_be_u16_reads_network_order() {
        assert_eq!(split_be_u16(&[0x86, 0xdd, 7]), Some((0x86dd, &[7u8][..])));
    }

    #[test]
    fn split_be_u16_short_input() {
        assert_eq!(split_be_u16(&[1]), None);
        assert_eq!(split_be_u16(&[]), None);
    }

    #[test]
    fn bytes_from_past_end_is_empty() {
        assert_eq!(bytes_from(&[1, 2, 3], 1), &[2, 3]);
        assert_eq!(bytes_from(&[1, 2, 3], 3), &[] as &[u8]);
        assert_eq!(bytes_from(&[1, 2, 3], 9), &[] as &[u8]);
    }

    #[test]
    fn truncate_keeps_short_input() {
        assert_eq!(truncate(&[1, 2, 3], 2), &[1, 2]);
        assert_eq!(truncate(&[1, 2, 3], 7), &[1, 2, 3]);
    }

    #[test]
    fn len_u32_saturates() {
        assert_eq!(len_u32(60), 60);
        assert_eq!(len_u32(usize::MAX), u32::MAX);
    }
}
