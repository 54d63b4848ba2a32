//! The outcome of one parsing step of a format reader, and the problems it can report.

use std::fmt;
use std::ops::Range;

use super::clock::{MAX_BINARY_EXPONENT, MAX_DECIMAL_EXPONENT};
use super::{MAX_BLOCK_LEN, MAX_CAPLEN, MAX_INTERFACES, MAX_SNAPLEN_EXCESS};
use crate::Timestamp;

/// A packet found in the read buffer, described without borrowing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PacketMeta {
    pub ts: Timestamp,
    pub linktype: u32,
    /// Buffer indices of the captured bytes, for [`Input::bytes`](super::input::Input::bytes).
    pub data: Range<usize>,
    pub orig_len: u32,
    /// True when the record has a time of its own and none of the defects that the reader
    /// tolerates: a sub-second field of a second or more, or a wire length below the
    /// captured length, of 0 or above 1 MiB. Only such a time anchors the date check of
    /// a record or capture found after damage. A record read from misaligned or zeroed
    /// bytes usually has one of the defects.
    // NOTE: a misaligned record without either defect still sets that anchor. In a
    // nanosecond pcap file, about a quarter of random sub-second fields are valid.
    pub trusted_time: bool,
    /// True when the record's own time lies outside the range of [`Timestamp`], and
    /// `ts` is the nearest limit instead.
    pub clamped_time: bool,
    /// The sub-second field of a classic pcap record when it is a second or more,
    /// which is invalid. `ts` then has the largest valid field instead.
    pub subsecond_overflow: Option<u32>,
}

/// The outcome of one call to a format reader's `next`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A packet record.
    Packet(PacketMeta),
    /// A section header or interface description that was read. No packet follows from it.
    Block,
    /// A pcapng block that carries no packet this reader returns (name resolution,
    /// statistics, custom and unknown types), skipped without a warning.
    SkippedBlock,
    /// A non-packet block skipped with a warning, such as an invalid interface description.
    Ignored { offset: u64, problem: Problem },
    /// A packet record skipped because it is malformed. Reading goes on after it.
    Malformed { offset: u64, problem: Problem },
    /// The file header of another capture starts at `offset`, as where captures
    /// were joined end to end. Nothing was consumed: the caller switches to a
    /// reader of that capture.
    NextFile { offset: u64 },
    /// The input ended cleanly between records.
    End,
    /// The input ended inside the record or block that starts at `offset`.
    Truncated { offset: u64 },
    /// A block at `offset` of type `block_type` claims `block_len` bytes, over
    /// the limit of blocks that are read, and carries no packet. Nothing was
    /// consumed: its length may be damaged, so the caller searches its bytes
    /// for records on the way past it.
    LargeBlock {
        offset: u64,
        block_type: u32,
        block_len: u32,
    },
    /// A length field is absurd. Nothing after it can be trusted, so reading ends normally
    /// with a warning.
    Abandoned { offset: u64, problem: Problem },
    /// The framing is corrupt. This is an error when no packet was returned yet, and the
    /// end of the file with a warning otherwise.
    Corrupt { offset: u64, problem: Problem },
}

/// A defect found in a record or block, with the values that show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Problem {
    /// The captured length exceeds `MAX_CAPLEN`, or the snapshot length by more than
    /// `MAX_SNAPLEN_EXCESS`.
    AbsurdCaplen { caplen: u32, snaplen: u32 },
    /// A classic pcap record that captured no byte of a packet of no byte, as zeroed
    /// bytes read as a record header give.
    EmptyRecord,
    /// An enhanced or obsolete packet block whose captured length exceeds its data area.
    CaplenBeyondBlock { caplen: u32, room: u32 },
    /// A packet block names an interface the section does not describe.
    UnknownInterface { interface: u32, described: usize },
    /// A packet block names an interface whose description block was invalid.
    InvalidInterface { interface: u32 },
    /// An interface description block that pcap-parser rejected.
    InvalidInterfaceBlock { detail: String },
    /// An interface whose `if_tsresol` sets a tick shorter than 10^-19 or 2^-63 seconds,
    /// which 64-bit timestamps cannot count.
    UnusableTimeResolution { interface: u32, tsresol: u8 },
    /// The section already describes `MAX_INTERFACES` interfaces.
    TooManyInterfaces,
    /// A block shorter than the fixed fields of its type.
    BlockTooShort {
        block_type: u32,
        block_len: u32,
        min: u32,
    },
    /// A block length below 12 or not a multiple of 4.
    InvalidBlockLength { block_len: u32 },
    /// A block length above `MAX_BLOCK_LEN` for a block the reader must keep in memory.
    AbsurdBlockLength { block_type: u32, block_len: u32 },
    /// The length at the end of a block differs from the one at its start.
    BlockLengthMismatch { leading: u32, trailing: u32 },
    /// A section header whose byte-order magic is neither byte order of 0x1a2b3c4d.
    InvalidByteOrderMagic { magic: u32 },
    /// A section header that pcap-parser rejected.
    InvalidSectionHeader { detail: String },
    /// A section header with a major version other than 1.
    UnsupportedSectionVersion { major: u16, minor: u16 },
}

impl Problem {
    /// Returns a bit that identifies the kind of problem, so a reader can warn once per kind.
    pub(super) fn kind_bit(&self) -> u32 {
        let index = match self {
            Problem::AbsurdCaplen { .. } => 0,
            Problem::CaplenBeyondBlock { .. } => 1,
            Problem::UnknownInterface { .. } => 2,
            Problem::InvalidInterface { .. } => 3,
            Problem::InvalidInterfaceBlock { .. } => 4,
            Problem::TooManyInterfaces => 5,
            Problem::BlockTooShort { .. } => 6,
            Problem::InvalidBlockLength { .. } => 7,
            Problem::AbsurdBlockLength { .. } => 8,
            Problem::BlockLengthMismatch { .. } => 9,
            Problem::InvalidByteOrderMagic { .. } => 10,
            Problem::InvalidSectionHeader { .. } => 11,
            Problem::UnsupportedSectionVersion { .. } => 12,
            Problem::UnusableTimeResolution { .. } => 13,
            Problem::EmptyRecord => 14,
        };
        1 << index
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::EmptyRecord => write!(
                f,
                "a record of 0 bytes from a packet of 0 bytes, as zeroed bytes give"
            ),
            // Only the limit that the length breaks is named.
            Problem::AbsurdCaplen { caplen, .. } if *caplen > MAX_CAPLEN => write!(
                f,
                "captured length {caplen} is invalid: the maximum is {MAX_CAPLEN} bytes"
            ),
            Problem::AbsurdCaplen { caplen, snaplen } => write!(
                f,
                "captured length {caplen} is invalid: it may exceed the snapshot length \
                 {snaplen} by at most {MAX_SNAPLEN_EXCESS} bytes"
            ),
            Problem::CaplenBeyondBlock { caplen, room } => write!(
                f,
                "captured length {caplen} exceeds the {room} bytes of packet data in its block"
            ),
            Problem::UnknownInterface {
                interface,
                described,
            } => {
                let noun = if *described == 1 {
                    "interface"
                } else {
                    "interfaces"
                };
                write!(
                    f,
                    "packet names interface {interface}, but the section describes \
                     {described} {noun}"
                )
            }
            Problem::InvalidInterface { interface } => write!(
                f,
                "packet names interface {interface}, whose description block is invalid"
            ),
            Problem::InvalidInterfaceBlock { detail } => {
                write!(f, "invalid interface description block: {detail}")
            }
            Problem::UnusableTimeResolution { interface, tsresol } => {
                let (base, max) = if tsresol & 0x80 != 0 {
                    (2, MAX_BINARY_EXPONENT)
                } else {
                    (10, MAX_DECIMAL_EXPONENT)
                };
                write!(
                    f,
                    "interface {interface} has an invalid if_tsresol {tsresol:#04x}: its \
                     unit of {base}^-{} seconds is finer than {base}^-{max} seconds, the \
                     finest unit in which a 64-bit timestamp can count one second. The \
                     packets of this interface are skipped, because their times would be \
                     wrong. Correct the option to the resolution that the capture program \
                     used",
                    tsresol & 0x7f
                )
            }
            Problem::TooManyInterfaces => write!(
                f,
                "interface description beyond the maximum of {MAX_INTERFACES} per section"
            ),
            Problem::BlockTooShort {
                block_type,
                block_len,
                min,
            } => write!(
                f,
                "block of type {block_type:#x} is {block_len} bytes long, \
                 shorter than the minimum of {min} bytes"
            ),
            Problem::InvalidBlockLength { block_len } => write!(
                f,
                "block length {block_len} is invalid: it must be a multiple of 4 \
                 and at least 12"
            ),
            Problem::AbsurdBlockLength {
                block_type,
                block_len,
            } => write!(
                f,
                "block of type {block_type:#x} has length {block_len}, \
                 above the maximum of {MAX_BLOCK_LEN} bytes"
            ),
            Problem::BlockLengthMismatch { leading, trailing } => write!(
                f,
                "block length {leading} at the start of the block differs from \
                 {trailing} at its end"
            ),
            Problem::InvalidByteOrderMagic { magic } => write!(
                f,
                "section header byte-order magic {magic:#010x} is invalid \
                 (expected 0x1a2b3c4d in either byte order)"
            ),
            Problem::InvalidSectionHeader { detail } => {
                write!(f, "invalid section header block: {detail}")
            }
            Problem::UnsupportedSectionVersion { major, minor } => write!(
                f,
                "section header declares pcapng version {major}.{minor}, \
                 but only major version 1 is supported"
            ),
        }
    }
}

/// How far the time of a record found after damage may lie from the last packet
/// read with a trusted time: one day, in nanoseconds.
pub(super) const RESUME_WINDOW: u64 = 86_400 * 1_000_000_000;

/// Returns true when `ts` lies within [`RESUME_WINDOW`] of `anchor`, or there is no
/// anchor to compare with.
pub(super) fn near_anchor(ts: Timestamp, anchor: Option<Timestamp>) -> bool {
    anchor.is_none_or(|anchor| ts.nanos_since(anchor).unsigned_abs() <= RESUME_WINDOW)
}

/// The result of a format reader's probe of the input, in the search after damage for
/// a record of the capture it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Probe {
    /// No record of this capture starts there.
    Absent,
    /// More bytes are needed to decide: this many from the probed position.
    Need(usize),
    /// A record or block of `len` bytes could start there. `ts` is its time, when
    /// its header has one.
    Record { len: usize, ts: Option<Timestamp> },
}

/// Returns true when a captured length is too large to be real: above `MAX_CAPLEN`, or
/// more than `MAX_SNAPLEN_EXCESS` above a non-zero snapshot length.
pub(super) fn caplen_is_absurd(caplen: u32, snaplen: u32) -> bool {
    caplen > MAX_CAPLEN || (snaplen != 0 && caplen > snaplen.saturating_add(MAX_SNAPLEN_EXCESS))
}

#[cfg(test)]
mod tests {
    use super::Problem;

    #[test]
    fn absurd_caplen_names_its_limits() {
        let message = |caplen, snaplen| Problem::AbsurdCaplen { caplen, snaplen }.to_string();
        assert_eq!(
            message(300_000, 0),
            "captured length 300000 is invalid: the maximum is 262144 bytes"
        );
        assert_eq!(
            message(300_000, 262_144),
            "captured length 300000 is invalid: the maximum is 262144 bytes"
        );
        assert_eq!(
            message(70_000, 1500),
            "captured length 70000 is invalid: it may exceed the snapshot length 1500 \
             by at most 65536 bytes"
        );
    }

    #[test]
    fn unusable_resolution_names_unit() {
        let message = |tsresol| {
            Problem::UnusableTimeResolution {
                interface: 2,
                tsresol,
            }
            .to_string()
        };
        let decimal = message(30);
        assert!(
            decimal.starts_with(
                "interface 2 has an invalid if_tsresol 0x1e: its unit of 10^-30 seconds \
                 is finer than 10^-19 seconds, "
            ),
            "{decimal}"
        );
        let binary = message(0xff);
        assert!(
            binary.starts_with(
                "interface 2 has an invalid if_tsresol 0xff: its unit of 2^-127 seconds \
                 is finer than 2^-63 seconds, "
            ),
            "{binary}"
        );
    }

    #[test]
    fn unknown_interface_count_agrees() {
        let message = |described| {
            Problem::UnknownInterface {
                interface: 3,
                described,
            }
            .to_string()
        };
        assert_eq!(
            message(1),
            "packet names interface 3, but the section describes 1 interface"
        );
        assert_eq!(
            message(2),
            "packet names interface 3, but the section describes 2 interfaces"
        );
        assert_eq!(
            message(0),
            "packet names interface 3, but the section describes 0 interfaces"
        );
    }
}
