//! A hand-written reader of postcard's wire format, for the flow records that
//! make up most of a cache file.
//!
//! Decoding a record of the flood benchmark capture through serde and postcard
//! took about 2,100 instructions (callgrind) and allocated its history string.
//! This reader takes the same bytes field by field and applies postcard 1.2's
//! rules for each type:
//!
//! - `u8` is one raw byte, and `bool` one byte that must be 0 or 1.
//! - An `Option` is a tag byte that must be 0 (`None`) or 1 (`Some`), and for
//!   `Some` the value follows.
//! - Wider unsigned integers and lengths are LEB128 varints of at most 3 (`u16`),
//!   5 (`u32`) or 10 (`u64`) bytes, whose last byte must not carry bits beyond
//!   the type's width. Signed integers are zigzag-encoded varints.
//! - A string or a sequence is a varint length followed by its contents. A string
//!   must be valid UTF-8.
//! - An enum is a varint variant index followed by the variant's fields, and a
//!   fixed-size array or tuple its elements with no length.

use std::fmt;

/// The reason a read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The data ends inside a value.
    UnexpectedEnd,
    /// A varint is longer than its type allows or overflows it.
    InvalidVarint,
    /// A `bool` byte is neither 0 nor 1.
    InvalidBool(u8),
    /// An `Option` tag byte is neither 0 nor 1.
    InvalidOptionTag(u8),
    /// A string is not valid UTF-8.
    InvalidUtf8,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::UnexpectedEnd => write!(f, "unexpected end of data"),
            ReadError::InvalidVarint => write!(f, "invalid varint"),
            ReadError::InvalidBool(byte) => write!(f, "invalid bool byte {byte}"),
            ReadError::InvalidOptionTag(byte) => write!(f, "invalid option tag {byte}"),
            ReadError::InvalidUtf8 => write!(f, "invalid UTF-8 in a string"),
        }
    }
}

/// Returns what postcard's decoder found wrong, in the words of [`ReadError`]
/// where the two overlap, instead of postcard's own messages.
pub(crate) fn postcard_problem(err: &postcard::Error) -> String {
    match err {
        postcard::Error::DeserializeUnexpectedEnd => ReadError::UnexpectedEnd.to_string(),
        postcard::Error::DeserializeBadVarint => ReadError::InvalidVarint.to_string(),
        postcard::Error::DeserializeBadUtf8 => ReadError::InvalidUtf8.to_string(),
        postcard::Error::DeserializeBadBool => "invalid bool byte".to_string(),
        postcard::Error::DeserializeBadOption => "invalid option tag".to_string(),
        postcard::Error::DeserializeBadChar => "invalid character".to_string(),
        // Serde reports an enum variant or a value out of its type's range
        // through a custom error, which postcard names only as such.
        postcard::Error::DeserializeBadEnum | postcard::Error::SerdeDeCustom => {
            "a value outside the range of its field".to_string()
        }
        other => other.to_string(),
    }
}

impl From<ReadError> for String {
    fn from(err: ReadError) -> String {
        err.to_string()
    }
}

/// A cursor over postcard-encoded bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    /// Creates a reader of `bytes` that starts at byte `position`.
    pub fn new(bytes: &'a [u8], position: usize) -> Reader<'a> {
        Reader { bytes, position }
    }

    /// Returns the offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Returns the bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or_default()
    }

    /// Moves past `count` bytes that another decoder read from [`Reader::rest`].
    pub fn skip(&mut self, count: usize) {
        self.position = self.position.saturating_add(count).min(self.bytes.len());
    }

    /// Reads a value with postcard's own decoder, for the parts of a file where
    /// speed does not matter.
    pub fn postcard<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, String> {
        let rest = self.rest();
        let (value, remaining) =
            postcard::take_from_bytes::<T>(rest).map_err(|err| postcard_problem(&err))?;
        self.skip(rest.len() - remaining.len());
        Ok(value)
    }

    /// Reads one byte: a `u8`.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, ReadError> {
        let byte = *self
            .bytes
            .get(self.position)
            .ok_or(ReadError::UnexpectedEnd)?;
        self.position += 1;
        Ok(byte)
    }

    /// Reads `N` raw bytes: a `[u8; N]`.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let end = self
            .position
            .checked_add(N)
            .ok_or(ReadError::UnexpectedEnd)?;
        let bytes = self
            .bytes
            .get(self.position..end)
            .ok_or(ReadError::UnexpectedEnd)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        self.position = end;
        Ok(array)
    }

    /// Reads a `bool`.
    #[inline]
    pub fn bool(&mut self) -> Result<bool, ReadError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(ReadError::InvalidBool(other)),
        }
    }

    /// Reads the tag of an `Option` and returns true for `Some`, whose value
    /// the caller reads next.
    #[inline]
    pub fn option(&mut self) -> Result<bool, ReadError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(ReadError::InvalidOptionTag(other)),
        }
    }

    /// Reads a varint of at most `BITS` bits.
    #[inline]
    fn varint<const BITS: u32>(&mut self) -> Result<u64, ReadError> {
        let start = self.position;
        let first = *self.bytes.get(start).ok_or(ReadError::UnexpectedEnd)?;
        // A one-byte value is the most common case in flow records: small counts,
        // ports below 128 and empty lengths.
        if first & 0x80 == 0 {
            self.position = start + 1;
            return Ok(u64::from(first));
        }
        match self.bytes.get(start..start + 8) {
            Some(chunk) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                self.varint_from_word::<BITS>(u64::from_le_bytes(word))
            }
            None => self.varint_bytewise::<BITS>(),
        }
    }

    /// Finishes [`Reader::varint`] for a value of several bytes, given the
    /// eight bytes at the current position as a little-endian word. The 7-bit
    /// groups of all eight are gathered with three shift-and-mask steps
    /// instead of a loop, which matters for timestamps: nanoseconds since 1970
    /// take 9 bytes.
    #[inline]
    fn varint_from_word<const BITS: u32>(&mut self, word: u64) -> Result<u64, ReadError> {
        let start = self.position;
        let max_bytes = max_bytes(BITS);
        // A byte without the continuation bit ends the varint.
        let ends = !word & 0x8080_8080_8080_8080;
        let len = if ends == 0 {
            9
        } else {
            (ends.trailing_zeros() / 8 + 1) as usize
        };
        if len > max_bytes {
            return Err(ReadError::InvalidVarint);
        }

        let masked = if len >= 8 {
            word
        } else {
            word & ((1u64 << (8 * len)) - 1)
        };
        let mut groups = masked & 0x7f7f_7f7f_7f7f_7f7f;
        groups = (groups & 0x007f_007f_007f_007f) | ((groups & 0x7f00_7f00_7f00_7f00) >> 1);
        groups = (groups & 0x0000_3fff_0000_3fff) | ((groups & 0x3fff_0000_3fff_0000) >> 2);
        let mut value = (groups & 0x0fff_ffff) | ((groups & 0x0fff_ffff_0000_0000) >> 4);

        if len <= 8 {
            let last = (word >> (8 * (len - 1))) as u8;
            if len == max_bytes && u64::from(last) > last_byte_max(BITS) {
                return Err(ReadError::InvalidVarint);
            }
            self.position = start + len;
            return Ok(value);
        }
        // Only a u64 gets here, with 8 bytes read and at most 2 to go.
        for index in 8..max_bytes {
            let byte = *self
                .bytes
                .get(start + index)
                .ok_or(ReadError::UnexpectedEnd)?;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                if index == max_bytes - 1 && u64::from(byte) > last_byte_max(BITS) {
                    return Err(ReadError::InvalidVarint);
                }
                self.position = start + index + 1;
                return Ok(value);
            }
        }
        Err(ReadError::InvalidVarint)
    }

    /// Reads a varint one byte at a time, for the last bytes of the data.
    fn varint_bytewise<const BITS: u32>(&mut self) -> Result<u64, ReadError> {
        let max_bytes = max_bytes(BITS);
        let mut value = 0;
        for index in 0..max_bytes {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                if index == max_bytes - 1 && u64::from(byte) > last_byte_max(BITS) {
                    return Err(ReadError::InvalidVarint);
                }
                return Ok(value);
            }
        }
        Err(ReadError::InvalidVarint)
    }

    /// Reads a varint `u16`.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, ReadError> {
        // The varint check keeps the value within 16 bits.
        self.varint::<16>().map(|value| value as u16)
    }

    /// Reads a varint `u32`.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, ReadError> {
        // The varint check keeps the value within 32 bits.
        self.varint::<32>().map(|value| value as u32)
    }

    /// Reads a varint `u64`.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, ReadError> {
        self.varint::<64>()
    }

    /// Reads a zigzag varint `i64`.
    #[inline]
    pub fn i64(&mut self) -> Result<i64, ReadError> {
        let zigzag = self.varint::<64>()?;
        Ok((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    /// Reads the length of a string or sequence, a varint `usize`.
    #[inline]
    pub fn length(&mut self) -> Result<u64, ReadError> {
        self.varint::<{ usize::BITS }>()
    }

    /// Reads a string.
    #[inline]
    pub fn str(&mut self) -> Result<&'a str, ReadError> {
        let len = self.length()?;
        let start = self.position;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .ok_or(ReadError::UnexpectedEnd)?;
        let bytes = self.bytes.get(start..end).ok_or(ReadError::UnexpectedEnd)?;
        let text = std::str::from_utf8(bytes).map_err(|_| ReadError::InvalidUtf8)?;
        self.position = end;
        Ok(text)
    }
}

/// Returns the maximum number of bytes a varint of `bits` bits takes.
const fn max_bytes(bits: u32) -> usize {
    bits.div_ceil(7) as usize
}

/// Returns the maximum last byte of a varint of `bits` bits in its maximum length:
/// larger ones carry bits beyond the type, which postcard rejects.
const fn last_byte_max(bits: u32) -> u64 {
    (1u64 << (bits as usize - 7 * (max_bytes(bits) - 1))) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    enum Choice {
        First,
        Second,
    }

    #[test]
    fn postcard_errors_in_plain_words() {
        let err = postcard::from_bytes::<bool>(&[2]).unwrap_err();
        assert_eq!(postcard_problem(&err), "invalid bool byte");
        let err = postcard::from_bytes::<u32>(&[0x80]).unwrap_err();
        assert_eq!(postcard_problem(&err), "unexpected end of data");
        let err = postcard::from_bytes::<Choice>(&[7]).unwrap_err();
        assert_eq!(
            postcard_problem(&err),
            "a value outside the range of its field"
        );
        assert!(matches!(
            postcard::from_bytes::<Choice>(&[1]),
            Ok(Choice::Second)
        ));
        assert!(matches!(
            postcard::from_bytes::<Choice>(&[0]),
            Ok(Choice::First)
        ));
    }

    fn encoded<T: serde::Serialize>(value: &T) -> Vec<u8> {
        postcard::to_stdvec(value).expect("postcard encodes plain data")
    }

    /// Returns `bytes` as they are and followed by other data, so that both the
    /// bytewise path near the end of the data and the word path are taken.
    fn with_and_without_tail(bytes: &[u8]) -> [Vec<u8>; 2] {
        let mut followed = bytes.to_vec();
        followed.extend_from_slice(&[0xaa; 12]);
        [bytes.to_vec(), followed]
    }

    #[test]
    fn varints_match_postcard() {
        let u64_values = [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            1 << 55,
            1 << 56,
            1 << 62,
            u64::MAX,
        ];
        for value in u64_values {
            let encoded = encoded(&value);
            for bytes in with_and_without_tail(&encoded) {
                let mut reader = Reader::new(&bytes, 0);
                assert_eq!(reader.u64(), Ok(value), "u64 {value}");
                assert_eq!(reader.position(), encoded.len(), "length of u64 {value}");
            }
        }
        for value in [0u32, 127, 128, 65_535, u32::MAX] {
            for bytes in with_and_without_tail(&encoded(&value)) {
                assert_eq!(Reader::new(&bytes, 0).u32(), Ok(value), "u32 {value}");
            }
        }
        for value in [0u16, 127, 128, 16_384, u16::MAX] {
            for bytes in with_and_without_tail(&encoded(&value)) {
                assert_eq!(Reader::new(&bytes, 0).u16(), Ok(value), "u16 {value}");
            }
        }
        let i64_values = [
            0i64,
            -1,
            1,
            -64,
            64,
            1_700_000_000_000_000_000,
            i64::MIN,
            i64::MAX,
        ];
        for value in i64_values {
            for bytes in with_and_without_tail(&encoded(&value)) {
                assert_eq!(Reader::new(&bytes, 0).i64(), Ok(value), "i64 {value}");
            }
        }
    }

    #[test]
    fn varint_overflow_rejected() {
        // One past each type's maximum in the most bytes the type allows, and
        // varints whose last allowed byte still has its continuation bit set.
        let u16_overflow: &[u8] = &[0x80, 0x80, 0x04];
        let u32_overflow: &[u8] = &[0x80, 0x80, 0x80, 0x80, 0x10];
        let u64_overflow: &[u8] = &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
        let u16_unterminated: &[u8] = &[0xff, 0xff, 0xff];
        let u64_unterminated: &[u8] = &[0xff; 10];

        assert!(postcard::from_bytes::<u16>(u16_overflow).is_err());
        assert!(postcard::from_bytes::<u32>(u32_overflow).is_err());
        assert!(postcard::from_bytes::<u64>(u64_overflow).is_err());
        assert!(postcard::from_bytes::<u16>(u16_unterminated).is_err());
        assert!(postcard::from_bytes::<u64>(u64_unterminated).is_err());
        for bytes in with_and_without_tail(u16_overflow) {
            assert_eq!(Reader::new(&bytes, 0).u16(), Err(ReadError::InvalidVarint));
        }
        for bytes in with_and_without_tail(u32_overflow) {
            assert_eq!(Reader::new(&bytes, 0).u32(), Err(ReadError::InvalidVarint));
        }
        for bytes in with_and_without_tail(u64_overflow) {
            assert_eq!(Reader::new(&bytes, 0).u64(), Err(ReadError::InvalidVarint));
        }
        for bytes in with_and_without_tail(u16_unterminated) {
            assert_eq!(Reader::new(&bytes, 0).u16(), Err(ReadError::InvalidVarint));
        }
        for bytes in with_and_without_tail(u64_unterminated) {
            assert_eq!(Reader::new(&bytes, 0).u64(), Err(ReadError::InvalidVarint));
        }
    }

    #[test]
    fn varint_cut_short_rejected() {
        // A u64 whose ninth byte still continues, with the data ending there.
        let bytes = [0xff; 9];
        assert_eq!(Reader::new(&bytes, 0).u64(), Err(ReadError::UnexpectedEnd));
        assert_eq!(
            Reader::new(&bytes[..3], 0).u64(),
            Err(ReadError::UnexpectedEnd)
        );
    }

    #[test]
    fn truncated_values_rejected() {
        assert_eq!(Reader::new(&[], 0).u8(), Err(ReadError::UnexpectedEnd));
        assert_eq!(Reader::new(&[0x80], 0).u32(), Err(ReadError::UnexpectedEnd));
        assert_eq!(
            Reader::new(&[1, 2, 3], 0).array::<4>(),
            Err(ReadError::UnexpectedEnd)
        );
        assert_eq!(
            Reader::new(&[5, b'a', b'b'], 0).str(),
            Err(ReadError::UnexpectedEnd)
        );
    }

    #[test]
    fn tags_and_strings_checked() {
        assert_eq!(Reader::new(&[2], 0).bool(), Err(ReadError::InvalidBool(2)));
        assert_eq!(
            Reader::new(&[7], 0).option(),
            Err(ReadError::InvalidOptionTag(7))
        );
        assert_eq!(
            Reader::new(&[2, 0xc3, 0x28], 0).str(),
            Err(ReadError::InvalidUtf8)
        );
        let bytes = encoded(&"SAD");
        let mut reader = Reader::new(&bytes, 0);
        assert_eq!(reader.str(), Ok("SAD"));
        assert_eq!(reader.position(), bytes.len());
    }
}
