//! [`FileSource`]: a streaming reader of classic pcap and pcapng files.

mod clock;
mod input;
mod pcap;
mod pcapng;
mod shared;
mod step;
#[cfg(test)]
mod testdata;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pcap_parser::nom;
use pcap_parser::PcapError;

use crate::{CaptureError, Packet, PacketSource, Timestamp};
use input::Input;
use pcap::PcapReader;
use pcapng::PcapNgReader;
use step::{caplen_is_absurd, near_anchor, PacketMeta, Probe, Problem, Step, RESUME_WINDOW};

pub use shared::SharedBytes;

/// Maximum captured length of a packet record, in bytes: 256 KiB, the largest snapshot
/// length libpcap accepts. A longer record is treated as corrupt.
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// Maximum amount, in bytes, by which a captured length may exceed the file's or
/// interface's snapshot length. Some writers exceed it slightly (a 1514-byte frame under a
/// snapshot length of 1500), and Wireshark reads such records, so this reader does too.
pub const MAX_SNAPLEN_EXCESS: u32 = 64 * 1024;

/// Maximum total length, in bytes, of a pcapng block the reader parses: section headers,
/// interface descriptions and packet blocks. Other blocks of any length are skipped
/// without being kept in memory.
pub const MAX_BLOCK_LEN: u32 = 1024 * 1024;

/// Maximum number of interfaces a pcapng section may describe. Later interface
/// descriptions are skipped and counted, and their packets count as malformed.
pub const MAX_INTERFACES: usize = 65_536;

const _: () = assert!(MAX_BLOCK_LEN as usize <= input::BUFFER_SIZE);
const _: () = assert!(MAX_CAPLEN < MAX_BLOCK_LEN);

/// Byte order of the fields of a file or pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    /// Reads a `u16` at `at`. Bytes beyond the slice read as 0, and callers check lengths first.
    fn u16_at(self, bytes: &[u8], at: usize) -> u16 {
        let mut raw = [0; 2];
        if let Some(field) = bytes.get(at..).and_then(|rest| rest.get(..2)) {
            raw.copy_from_slice(field);
        }
        match self {
            ByteOrder::Little => u16::from_le_bytes(raw),
            ByteOrder::Big => u16::from_be_bytes(raw),
        }
    }

    /// Reads a `u32` at `at`. Bytes beyond the slice read as 0, and callers check lengths first.
    fn u32_at(self, bytes: &[u8], at: usize) -> u32 {
        let mut raw = [0; 4];
        if let Some(field) = bytes.get(at..).and_then(|rest| rest.get(..4)) {
            raw.copy_from_slice(field);
        }
        match self {
            ByteOrder::Little => u32::from_le_bytes(raw),
            ByteOrder::Big => u32::from_be_bytes(raw),
        }
    }

    fn i64_from(self, raw: [u8; 8]) -> i64 {
        match self {
            ByteOrder::Little => i64::from_le_bytes(raw),
            ByteOrder::Big => i64::from_be_bytes(raw),
        }
    }
}

/// Describes an error of pcap-parser without its input bytes, which its `Display` would
/// print in full.
fn describe_parse_error(error: &nom::Err<PcapError<&[u8]>>) -> String {
    match error {
        nom::Err::Incomplete(_) => "a field extends past the end of the block".to_string(),
        nom::Err::Error(inner) | nom::Err::Failure(inner) => match inner {
            PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                format!(
                    "pcap-parser rejected it ({} check failed)",
                    kind.description()
                )
            }
            other => format!("pcap-parser rejected it ({other})"),
        },
    }
}

/// The format of a capture file, detected from its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureFormat {
    /// Classic pcap.
    Pcap {
        /// True when the header and records are big-endian.
        big_endian: bool,
        /// True for nanosecond record times (magic 0xa1b23c4d), false for microseconds.
        nanosecond: bool,
    },
    /// pcapng. Each section has its own byte order.
    PcapNg,
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureFormat::Pcap {
                big_endian,
                nanosecond,
            } => {
                let order = if *big_endian { "big" } else { "little" };
                let unit = if *nanosecond {
                    "nanosecond"
                } else {
                    "microsecond"
                };
                write!(f, "pcap ({order}-endian, {unit} times)")
            }
            CaptureFormat::PcapNg => write!(f, "pcapng"),
        }
    }
}

/// Counters of a [`FileSource`], current after every call to `next_packet`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadStats {
    /// Packet records returned.
    pub records: u64,
    /// Captured bytes in the returned records.
    pub packet_bytes: u64,
    /// Packet records skipped or rejected as malformed: an absurd captured length, a
    /// captured length beyond its block, or an interface the section does not describe.
    pub malformed_records: u64,
    /// pcapng blocks skipped because they carry no packet this reader returns (name
    /// resolution, statistics, custom and unknown types) or describe an interface that
    /// is invalid or over [`MAX_INTERFACES`].
    pub skipped_blocks: u64,
    /// Offset of the record or block that the end of the file cut short, if any.
    pub truncated_at: Option<u64>,
    /// Offset of the corrupt record or block where reading stopped early, if any.
    pub stopped_at: Option<u64>,
    /// Switches to another capture joined end to end, as `cat` joins them: a
    /// classic pcap file header after any records or blocks, or a pcapng section
    /// header after pcap records or found after damage. A new section that
    /// follows the blocks of a pcapng file is not counted.
    pub joined_files: u64,
    /// Bytes passed over after damage, in searches for the next record of the
    /// capture or another capture's file header, up to what was found or to the
    /// end of the input. A record read out of place counts too.
    pub skipped_bytes: u64,
    /// Packets whose time lies outside the range of [`Timestamp`], before
    /// 1677-09-21 00:12:43 or after 2262-04-11 23:47:16 UTC, and was set to the
    /// nearest limit. Only a pcapng interface's time resolution and offset can give
    /// such times. A packet counted in `lone_times` is not counted here.
    pub clamped_times: u64,
    /// Packets dated more than a minute from the last packet with a trusted
    /// time, while the record after them returns to within a minute of it, as a
    /// damaged time field leaves them. In pcapng that record is a packet of the
    /// same interface. Each was given the time of the last packet with a
    /// trusted time, which can be an earlier one than the packet before it.
    pub lone_times: u64,
    /// Classic pcap packets whose sub-second time field is a second or more,
    /// which is invalid. Each was dated at the last microsecond or nanosecond
    /// of the second that its seconds field gives, so that the field does not
    /// move the capture clock. A packet counted in `lone_times` is not counted
    /// here.
    pub subsecond_overflows: u64,
}

enum FormatReader {
    Pcap(PcapReader),
    PcapNg(PcapNgReader),
}

impl FormatReader {
    /// Tells whether `head` starts a record or block of the capture being read; see
    /// [`PcapReader::probe`] and [`PcapNgReader::probe`].
    fn probe(&self, head: &[u8], anchor: Option<Timestamp>) -> Probe {
        match self {
            FormatReader::Pcap(reader) => reader.probe(head, anchor),
            FormatReader::PcapNg(reader) => reader.probe(head),
        }
    }

    /// Returns the length of the packet record or block that ends at the end
    /// of `before`, whose captured bytes start `data_from_end` bytes before
    /// that end, and the clock that dated it: the pcapng interface, or 0 in
    /// classic pcap.
    fn packet_record_before(&self, before: &[u8], data_from_end: usize) -> Option<(usize, u32)> {
        match self {
            FormatReader::Pcap(_) => {
                let len = data_from_end.checked_add(pcap::RECORD_HEADER_LEN)?;
                (len <= before.len()).then_some((len, 0))
            }
            FormatReader::PcapNg(reader) => reader.packet_block_before(before, data_from_end),
        }
    }

    /// Returns the clock and time of the packet record or block that starts
    /// `head`, if its header passes the checks of the search after damage.
    fn packet_time(&self, head: &[u8]) -> Option<(u32, Timestamp)> {
        match self {
            FormatReader::Pcap(reader) => match reader.probe(head, None) {
                Probe::Record { ts: Some(ts), .. } => Some((0, ts)),
                _ => None,
            },
            FormatReader::PcapNg(reader) => reader.packet_time(head),
        }
    }
}

/// A length of time for messages, in the largest whole unit from seconds to
/// days, rounded down.
struct Gap(u64);

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0 / 1_000_000_000;
        let (count, unit) = match seconds {
            86_400.. => (seconds / 86_400, "day"),
            3_600.. => (seconds / 3_600, "hour"),
            60.. => (seconds / 60, "minute"),
            _ => (seconds, "second"),
        };
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} {unit}{plural}")
    }
}

/// The place where reading goes on after damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    /// At a record or block of the capture being read.
    Record(u64),
    /// At the file header of another capture joined after it.
    Capture(u64),
}

impl Resume {
    /// Returns the stream offset where reading goes on.
    fn offset(self) -> u64 {
        let (Resume::Record(offset) | Resume::Capture(offset)) = self;
        offset
    }

    /// Names what starts there, for messages.
    fn place(self) -> &'static str {
        match self {
            Resume::Record(_) => "the next readable record",
            Resume::Capture(_) => "another capture",
        }
    }
}

/// How many records in a row, each starting where the one before ends, confirm
/// a record found after damage. Fewer do where the input ends right after them.
const RESUME_RECORDS: usize = 3;

/// How many records in a row confirm a record found after damage that is dated
/// more than a day from the last packet read with a trusted time.
const UNDATED_RESUME_RECORDS: usize = 8;

/// How many records dated far from the packets before them are searched past in
/// vain before such records are taken as they are, so that a capture whose
/// times jump often is not searched at every packet.
const MAX_FAILED_ALIGNMENT_CHECKS: u32 = 16;

/// How far a packet's time may lie from the time anchor before the record
/// after it is checked: a packet this far off whose next record returns
/// within this of the anchor gets the anchor's time. Only a capture whose
/// times go back can show that.
const LONE_WINDOW: u64 = 60 * 1_000_000_000;

/// The longest fixed header before a packet's captured bytes: that of a
/// pcapng enhanced packet block. A classic pcap record header is shorter.
const MAX_PACKET_HEADER_LEN: usize = pcapng::PACKET_DATA_OFFSET;

/// A packet source that reads a classic pcap or pcapng file as a stream.
///
/// The format is detected from the magic number, never from the file name: classic pcap
/// in either byte order with microsecond or nanosecond times, and pcapng with any number
/// of sections and interfaces. Captures joined end to end, as `cat` joins them, are read
/// in turn. Where a record or block should start, a classic pcap file header, or a pcapng
/// section header after pcap records, switches to a reader of that capture.
/// [`ReadStats::joined_files`] counts the switches. The file is read in chunks into one
/// buffer of at most 4 MiB (smaller for a smaller input of known size), and each
/// [`Packet`] borrows from that buffer until the next call.
///
/// Damaged input does not fail the reading once packets were read:
/// - A file cut inside a record returns every complete record, then `Ok(None)`. An
///   input that ends there because of the flag of [`FileSource::set_stop_flag`] is
///   not reported as cut.
/// - A captured length above [`MAX_CAPLEN`], or above the snapshot length by more than
///   [`MAX_SNAPLEN_EXCESS`], cannot be stepped over in a classic pcap file, because the
///   record has no other length. A pcapng packet block with such a length is only
///   skipped, because its block length locates the next block.
/// - Nor can a pcapng block whose length is not a multiple of 4 or differs from its
///   trailing copy, or a section header, interface description or packet block longer
///   than [`MAX_BLOCK_LEN`].
/// - In both of the cases above, the rest of the input is searched for the next record
///   of the capture, or another capture's file header. What is found must pass checks:
///   three records in a row, dated within a day of the last packet read. Reading goes
///   on there, or ends at the damage where nothing is found.
///   [`ReadStats::skipped_bytes`] counts the bytes passed over.
/// - A classic pcap record dated more than a day from the last packet read, after
///   which no record dated near that packet starts, was read out of place. The
///   record before it is searched for another capture's file header, as a capture
///   cut inside a record leaves it, and then the bytes after it for records dated
///   near that packet. Reading goes on at what is found first.
///
/// Each of these logs one `tracing` warning with `file` and `offset` fields and is
/// recorded in [`ReadStats`]. Malformed pcapng packet blocks are skipped, counted, and
/// logged once per kind of defect. Corrupt pcapng framing before the first packet,
/// with nothing readable after it, is returned as [`CaptureError::Malformed`].
///
/// pcapng simple packet blocks carry no time, so each gets the time of the packet
/// before it, or the epoch when it is the first. A pcapng time beyond the range of
/// [`Timestamp`](crate::Timestamp) (the years 1678 to 2262) saturates at its limit.
/// A pcapng interface whose `if_tsresol` sets a unit finer than 10^-19 or 2^-63
/// seconds, in which a 64-bit timestamp cannot count one second, is skipped with a
/// warning as an invalid interface description, and its packets count as malformed.
pub struct FileSource {
    path: PathBuf,
    /// `path` as text, for messages.
    name: String,
    len: Option<u64>,
    input: Input,
    reader: FormatReader,
    stats: ReadStats,
    finished: bool,
    /// One bit per kind of [`Problem`] already logged.
    warned: u32,
    /// Time of the last packet returned whose record had a trusted time (see
    /// [`PacketMeta::trusted_time`]), which a capture found after damage must be
    /// close to. None until such a packet is returned.
    time_anchor: Option<Timestamp>,
    /// Number of the packet that set `time_anchor`, counted from 1 as
    /// messages number packets; 0 while there is no anchor.
    anchor_packet: u64,
    /// Buffer indices of the data of the packet last returned, empty when the last call
    /// returned none.
    packet_range: Range<usize>,
    /// Flag set by [`FileSource::set_stop_flag`], if any.
    stop: Option<Arc<AtomicBool>>,
    /// Records dated far from the time anchor that were searched past for
    /// records near it, in vain; see [`FileSource::check_alignment`].
    alignment_checks_failed: u32,
    /// Corrupt framing found before the first packet and searched past, which
    /// is returned as an error if no packet follows either.
    early_damage: Option<(u64, Problem)>,
    /// Stream offset up to which damaged framing claims the bytes, so that a
    /// capture's file header found before it may be of any date; 0 when no
    /// search is under way.
    vouched_until: u64,
    /// Stream offset from which the reader last went back to a capture's file
    /// header inside the record before. Bytes up to it may have been read
    /// twice, so later searches of a record for a header start after it.
    reread_until: u64,
    /// True once a capture found inside the record before damage was logged
    /// as a warning. Later ones are logged at debug level.
    warned_capture_inside: bool,
}

impl FileSource {
    /// Opens a capture file and reads its header.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Open`] when the file cannot be opened, [`CaptureError::NotACapture`]
    /// when it is not a capture file, [`CaptureError::CutShort`] when it ends inside its
    /// file header, and [`CaptureError::UnsupportedVersion`] or
    /// [`CaptureError::Malformed`] when its header is invalid.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let (file, len) = open_capture(path)?;
        FileSource::start(path.to_path_buf(), Box::new(file), len)
    }

    /// Opens a capture file and reads its header as [`open`](Self::open) does, with a
    /// read buffer of a few kilobytes that grows only for a large header block, so
    /// that checking many files before reading them reads little of each.
    ///
    /// The source can still read the file, but with small reads; use
    /// [`open`](Self::open) for that.
    ///
    /// # Errors
    ///
    /// As for [`open`](Self::open).
    pub fn open_to_check(path: &Path) -> Result<FileSource, CaptureError> {
        let (file, len) = open_capture(path)?;
        let input = Input::new(Box::new(file), Some(0));
        FileSource::start_with(path.to_path_buf(), input, len)
    }

    /// Creates a source that reads a capture from `reader`, such as standard input.
    ///
    /// `name` identifies the input in errors and log messages. `len` is the input's size
    /// in bytes if known, reported by [`len`](Self::len) for progress display. A pcapng
    /// block over [`MAX_BLOCK_LEN`] that runs past that size is searched as damage
    /// instead of skipped.
    ///
    /// # Errors
    ///
    /// As for [`open`](Self::open), with [`CaptureError::Read`] for a failed read.
    pub fn from_reader(
        name: String,
        reader: impl Read + Send + 'static,
        len: Option<u64>,
    ) -> Result<FileSource, CaptureError> {
        FileSource::start(PathBuf::from(name), Box::new(reader), len)
    }

    /// Sets the stop flag that the reader given to [`from_reader`](Self::from_reader)
    /// obeys by returning the end of input once the flag is set, such as a flag that a
    /// signal handler sets.
    ///
    /// The source then takes an end of input found while the flag is set for a stop,
    /// not for the end of the data. A record or block cut short there ends reading
    /// without the warning that the file ends inside it, and leaves
    /// [`ReadStats::truncated_at`] unset. The source reads the flag only then.
    // NOTE: a record that the data really cuts short just as the flag is set is
    // not reported either.
    pub fn set_stop_flag(&mut self, flag: Arc<AtomicBool>) {
        self.stop = Some(flag);
    }

    /// Returns the file path or the name given to [`from_reader`](Self::from_reader).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the file path as text (lossy for paths that are not UTF-8), or the name
    /// given to [`from_reader`](Self::from_reader), for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the format of the capture being read: the file's, or after a switch to
    /// a capture joined to it, that capture's.
    pub fn format(&self) -> CaptureFormat {
        match &self.reader {
            FormatReader::Pcap(reader) => CaptureFormat::Pcap {
                big_endian: reader.is_big_endian(),
                nanosecond: reader.is_nanosecond(),
            },
            FormatReader::PcapNg(_) => CaptureFormat::PcapNg,
        }
    }

    /// Returns the counters of what was read so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Returns the number of bytes of the file consumed so far, headers included.
    ///
    /// It never decreases. Where the reader goes back to another capture's file
    /// header found inside the record before, as [`FileSource`] describes, the
    /// bytes up to the place it went back from stay counted.
    pub fn position(&self) -> u64 {
        self.input.offset().max(self.reread_until)
    }

    /// Returns the size of the file in bytes, if known: the size of a regular file, or the
    /// `len` given to [`from_reader`](Self::from_reader).
    #[allow(clippy::len_without_is_empty)] // A file size, not a collection's length.
    pub fn len(&self) -> Option<u64> {
        self.len
    }

    /// Returns the read buffer that the packet last returned by `next_packet` borrows
    /// from (so `shared_buffer().range_of(packet.data)` is Some for it). Cloning is
    /// cheap (a reference count).
    ///
    /// The reader never writes into a buffer while a [`SharedBytes`] of it is alive, so
    /// another thread can keep a packet's bytes without copying them. At its next refill
    /// the reader moves on to another buffer of the same size and copies only the bytes
    /// of the record it has not finished to the new buffer. It takes a former buffer whose
    /// references are all dropped, or allocates one when there is none. So each buffer
    /// still referenced costs its full size in memory (up to 4 MiB), and a consumer that
    /// keeps references for long makes the reader allocate a buffer per refill.
    ///
    /// `next_packet` borrows the source until the packet is dropped, so this method cannot
    /// be called while the packet is in use. [`last_packet_range`](Self::last_packet_range)
    /// gives its range afterwards, and a reference obtained earlier finds the packets
    /// that are still in its buffer:
    ///
    /// ```
    /// use std::io::Cursor;
    /// use std::ops::Range;
    /// use wsd_capture::{FileSource, PacketSource, PcapWriter, SharedBytes, Timestamp};
    ///
    /// let mut writer = PcapWriter::new(Vec::new(), 1, 65535, false)?;
    /// for index in 0..3u8 {
    ///     let ts = Timestamp::from_parts(1_700_000_000, u64::from(index));
    ///     writer.write_packet(ts, &[index; 60], 60)?;
    /// }
    /// let bytes = writer.into_inner();
    /// let mut source = FileSource::from_reader("example.pcap".into(), Cursor::new(bytes), None)?;
    ///
    /// let mut buffer = source.shared_buffer();
    /// let mut packets: Vec<(SharedBytes, Range<usize>)> = Vec::new();
    /// while let Some(packet) = source.next_packet()? {
    ///     if let Some(range) = buffer.range_of(packet.data) {
    ///         packets.push((buffer.clone(), range));
    ///     } else {
    ///         buffer = source.shared_buffer();
    ///         packets.push((buffer.clone(), source.last_packet_range()));
    ///     }
    /// }
    ///
    /// assert_eq!(packets.len(), 3);
    /// for (index, (bytes, range)) in packets.iter().enumerate() {
    ///     assert_eq!(&bytes.as_slice()[range.clone()], &[index as u8; 60]);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn shared_buffer(&self) -> SharedBytes {
        self.input.shared()
    }

    /// Returns where the data of the packet last returned by `next_packet` lies in
    /// [`shared_buffer`](Self::shared_buffer): the range that `range_of(packet.data)`
    /// returns. It is empty before the first packet and after a call that returned no
    /// packet.
    #[inline]
    pub fn last_packet_range(&self) -> Range<usize> {
        self.packet_range.clone()
    }

    fn start(
        path: PathBuf,
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    ) -> Result<FileSource, CaptureError> {
        FileSource::start_with(path, Input::new(reader, len), len)
    }

    /// Creates a source that reads through `input`, whose buffer tests may make small.
    fn start_with(
        path: PathBuf,
        mut input: Input,
        len: Option<u64>,
    ) -> Result<FileSource, CaptureError> {
        input.set_len(len);
        let reader = read_file_header(&path, &mut input)?;
        let mut source = FileSource {
            name: path.display().to_string(),
            path,
            len,
            input,
            reader,
            stats: ReadStats::default(),
            finished: false,
            warned: 0,
            time_anchor: None,
            anchor_packet: 0,
            packet_range: 0..0,
            stop: None,
            alignment_checks_failed: 0,
            early_damage: None,
            vouched_until: 0,
            reread_until: 0,
            warned_capture_inside: false,
        };
        if matches!(source.reader, FormatReader::PcapNg(_)) {
            source.read_first_section_header()?;
        }
        Ok(source)
    }

    /// Reads the section header that starts every pcapng file, turning each way it can
    /// fail into an error.
    fn read_first_section_header(&mut self) -> Result<(), CaptureError> {
        let FormatReader::PcapNg(reader) = &mut self.reader else {
            return Ok(());
        };
        let step = reader
            .next(&mut self.input)
            .map_err(|source| CaptureError::Read {
                path: self.path.clone(),
                offset: self.input.offset(),
                source,
            })?;

        let path = self.path.clone();
        match step {
            Step::Block => Ok(()),
            Step::End | Step::Truncated { .. } => Err(CaptureError::CutShort {
                path,
                header: "pcapng section header block",
                len: self.input.offset() + self.input.available().len() as u64,
                declared: section_header_length(self.input.available()),
            }),
            Step::Corrupt {
                problem: Problem::UnsupportedSectionVersion { major, minor },
                ..
            } => Err(CaptureError::UnsupportedVersion {
                path,
                format: "pcapng",
                major,
                minor,
                supported_major: pcapng::SUPPORTED_MAJOR,
            }),
            Step::Corrupt { offset, problem } | Step::Abandoned { offset, problem } => {
                Err(CaptureError::Malformed {
                    path,
                    offset,
                    detail: problem.to_string(),
                })
            }
            // The first block has the section header type, checked by `read_file_header`.
            other => Err(CaptureError::Malformed {
                path,
                offset: 0,
                detail: format!("unexpected first block ({other:?})"),
            }),
        }
    }

    /// Acts on a step of the format reader that returned no packet.
    fn other_step(&mut self, step: Step) -> Result<(), CaptureError> {
        match step {
            Step::Packet(_) => debug_assert!(false, "a packet passed as another step"),
            Step::Block => {}
            Step::NextFile { offset } => {
                if let Err(source) = self.start_next_file(offset) {
                    return Err(self.read_error(source));
                }
            }
            Step::SkippedBlock => self.stats.skipped_blocks += 1,
            Step::Ignored { offset, problem } => {
                self.stats.skipped_blocks += 1;
                self.warn_once(offset, &problem, "skipped a block");
            }
            Step::Malformed { offset, problem } => {
                self.stats.malformed_records += 1;
                self.warn_once(offset, &problem, "skipped a malformed packet record");
            }
            Step::End => self.finish(),
            Step::Truncated { offset } => {
                let result = self.truncated(offset);
                result.map_err(|source| self.read_error(source))?;
            }
            Step::LargeBlock {
                offset,
                block_type,
                block_len,
            } => self.pass_large_block(offset, block_type, block_len)?,
            Step::Abandoned { offset, problem } => {
                self.stats.malformed_records += 1;
                if !self.resync(offset, &problem)? {
                    self.stop(offset, &problem);
                }
            }
            Step::Corrupt { offset, problem } => {
                // The block at the damage is unreadable, as an abandoned record is.
                self.stats.malformed_records += 1;
                if self.stats.records == 0 && self.early_damage.is_none() {
                    self.early_damage = Some((offset, problem.clone()));
                }
                if self.resync(offset, &problem)? {
                    return Ok(());
                }
                if self.stats.records == 0 {
                    let (first, problem) = self.early_damage.take().unwrap_or((offset, problem));
                    return Err(self.early_damage_error(first, &problem));
                }
                self.stop(offset, &problem);
            }
        }
        Ok(())
    }

    /// Ends reading with the error for corrupt framing at `offset`, found before
    /// the first packet, once no packet was found after it either.
    fn early_damage_error(&mut self, offset: u64, problem: &Problem) -> CaptureError {
        self.finished = true;
        self.stats.stopped_at = Some(offset);
        CaptureError::Malformed {
            path: self.path.clone(),
            offset,
            detail: problem.to_string(),
        }
    }

    /// Goes on after damage at `offset` with the next record of this capture or
    /// another capture joined after it, whichever comes first. Returns false when
    /// neither follows, with the whole input passed over.
    // NOTE: a capture's header taken into a cut record is found only when
    // that record comes right before the damage or the record out of place.
    // Otherwise the next capture's records found later are read with the cut
    // capture's link type and time unit.
    fn resync(&mut self, offset: u64, problem: &Problem) -> Result<bool, CaptureError> {
        let inside = self
            .capture_in_previous_record()
            .map_err(|source| self.read_error(source))?;
        if let Some(next) = inside {
            let problem = format!("damaged data ({problem})");
            self.read_capture_inside(next, offset, &problem)
                .map_err(|source| self.read_error(source))?;
            return Ok(true);
        }

        // A search of a pipe can take long, so the damage is reported first.
        let first = self.stats.skipped_bytes == 0;
        if first {
            let window = if self.time_anchor.is_some() {
                ", within a day of the last packet read"
            } else {
                ""
            };
            tracing::warn!(
                file = %self.name,
                offset,
                "damaged data at byte {offset}: {problem}. Searching the rest of the \
                 input for the next readable record, or another capture joined after \
                 it{window}"
            );
        }

        // A block whose trailing length differs was cut, and a capture joined
        // after the cut starts inside the length it claims. So does a capture
        // joined after a pcap capture cut inside a record header.
        self.vouched_until = match (problem, &self.reader) {
            (Problem::BlockLengthMismatch { leading, .. }, _) => offset + u64::from(*leading),
            (_, FormatReader::Pcap(_)) => offset + pcap::RECORD_HEADER_LEN as u64,
            _ => 0,
        };
        // The search starts one byte after the damage.
        let searched = match self.input.skip(1) {
            Ok(true) => self.find_resume_point(u64::MAX),
            other => other.map(|_| None),
        };
        self.vouched_until = 0;
        let found = searched.map_err(|source| self.read_error(source))?;
        let Some(resume) = found else {
            self.input.consume_all();
            // The search passed over everything after the damage.
            self.stats.skipped_bytes += self.input.offset().saturating_sub(offset);
            return Ok(false);
        };

        let next = resume.offset();
        let skipped = next - offset;
        self.stats.skipped_bytes += skipped;
        let place = resume.place();
        if first {
            tracing::warn!(
                file = %self.name,
                offset,
                "reading goes on at byte {next}, {skipped} bytes after the damage, where \
                 {place} starts; later damage is logged at debug level"
            );
        } else {
            tracing::debug!(file = %self.name, offset, skipped, "damaged data skipped");
        }
        self.go_on_at(resume)
            .map_err(|source| self.read_error(source))?;
        Ok(true)
    }

    /// Checks the packet `meta`, just consumed and dated more than
    /// [`LONE_WINDOW`] from the time `anchor`. A classic pcap record dated more
    /// than a day from it may have been read out of place, which
    /// [`FileSource::check_alignment`] checks. Otherwise, and for pcapng,
    /// whose block lengths are repeated at their ends, only the time is
    /// checked: see [`FileSource::check_lone_time`].
    #[cold]
    #[inline(never)]
    fn check_odd_time(
        &mut self,
        meta: PacketMeta,
        anchor: Timestamp,
    ) -> Result<Option<PacketMeta>, CaptureError> {
        let far = meta.ts.as_nanos().abs_diff(anchor.as_nanos()) > RESUME_WINDOW;
        let is_pcap = matches!(self.reader, FormatReader::Pcap(_));
        if far && is_pcap && self.alignment_checks_failed < MAX_FAILED_ALIGNMENT_CHECKS {
            return self.check_alignment(meta, anchor);
        }
        self.check_lone_time(meta, anchor).map(Some)
    }

    /// Checks whether the classic pcap record `meta`, just consumed and dated more
    /// than a day from the time `anchor`, was read out of place. The records after
    /// a captured length damaged into a wrong but possible one are read so.
    /// [`FileSource::find_realignment`] returns where reading goes on then, and
    /// the record counts as damaged. Otherwise the record is returned, as a
    /// packet with an odd time, or with the anchor's time when the record after
    /// it returns to that time.
    fn check_alignment(
        &mut self,
        mut meta: PacketMeta,
        anchor: Timestamp,
    ) -> Result<Option<PacketMeta>, CaptureError> {
        let record_len = pcap::RECORD_HEADER_LEN + meta.data.len();
        self.input.rewind(record_len);
        let offset = self.input.offset();
        let found = match self.find_realignment(record_len, meta.ts) {
            Ok(found) => found,
            Err(source) => return Err(self.read_error(source)),
        };
        let Some(resume) = found else {
            // The search may have moved the bytes in the buffer.
            let start = self.input.start() + pcap::RECORD_HEADER_LEN;
            meta.data = start..start + meta.data.len();
            let after = self.input.available().get(record_len..);
            if after.is_some_and(|after| self.returns_to(after, 0, anchor)) {
                self.replace_lone_time(&mut meta, offset, anchor);
            } else {
                self.count_failed_alignment_check(offset);
            }
            self.input.consume(record_len);
            return Ok(Some(meta));
        };

        let next = resume.offset();
        self.stats.malformed_records += 1;
        if next < offset {
            // The header found lies inside the record before, and the input is
            // positioned at it.
            let problem = "a record dated more than a day from the packets before it";
            self.read_capture_inside(next, offset, problem)
                .map_err(|source| self.read_error(source))?;
            return Ok(None);
        }
        let skipped = next - offset;
        self.input.consume(skipped as usize);
        let first = self.stats.skipped_bytes == 0;
        self.stats.skipped_bytes += skipped;
        let place = resume.place();
        if first {
            tracing::warn!(
                file = %self.name,
                offset,
                "the record at byte {offset} was read out of place after damage: it is \
                 dated more than a day from the packets before it. Reading goes on at \
                 byte {next}, {skipped} bytes on, where {place} starts; later damage is \
                 logged at debug level"
            );
        } else {
            tracing::debug!(file = %self.name, offset, skipped, "record out of place skipped");
        }
        self.go_on_at(resume)
            .map_err(|source| self.read_error(source))?;
        Ok(None)
    }

    /// Gives the packet `meta`, just consumed and dated more than
    /// [`LONE_WINDOW`] from the time `anchor`, the anchor's time if the record
    /// after it returns to that time. In pcapng that record must be a packet
    /// of the same interface, because other interfaces may keep time by other
    /// clocks. In a capture whose times never go back, a record dated after
    /// this one cannot return, so only damaged or reordered times change.
    fn check_lone_time(
        &mut self,
        mut meta: PacketMeta,
        anchor: Timestamp,
    ) -> Result<PacketMeta, CaptureError> {
        let end = self.input.start();
        let data_from_end = end.saturating_sub(meta.data.start);
        let before = self.input.bytes(0..end);
        let Some((record_len, clock)) = self.reader.packet_record_before(before, data_from_end)
        else {
            return Ok(meta);
        };
        let offset = self.input.offset() - record_len as u64;

        // The record is read again from the buffer's front if the bytes move.
        self.input.rewind(record_len);
        let filled = self.input.fill(record_len + MAX_PACKET_HEADER_LEN);
        let start = self.input.start() + record_len - data_from_end;
        meta.data = start..start + meta.data.len();
        let returns = match filled {
            Ok(true) => {
                let after = &self.input.available()[record_len..];
                self.returns_to(after, clock, anchor)
            }
            Ok(false) => false,
            Err(source) => return Err(self.read_error(source)),
        };
        self.input.consume(record_len);

        if returns {
            self.replace_lone_time(&mut meta, offset, anchor);
        }
        Ok(meta)
    }

    /// Gives the packet `meta` at `offset` the time `anchor` of the last
    /// packet with a trusted time, and counts it as a lone time.
    fn replace_lone_time(&mut self, meta: &mut PacketMeta, offset: u64, anchor: Timestamp) {
        self.count_lone_time(offset, meta.ts, anchor);
        meta.ts = anchor;
        meta.trusted_time = false;
        // The anchor's time replaces an out-of-range time or a damaged
        // sub-second field too, so neither is counted or reported.
        meta.clamped_time = false;
        meta.subsecond_overflow = None;
    }

    /// Returns true if `after` starts a packet record dated within
    /// [`LONE_WINDOW`] of `anchor` by the clock `clock`: the pcapng interface,
    /// or 0 in classic pcap.
    fn returns_to(&self, after: &[u8], clock: u32, anchor: Timestamp) -> bool {
        !starts_capture(after, true)
            && self
                .reader
                .packet_time(after)
                .is_some_and(|(next_clock, ts)| {
                    next_clock == clock && ts.as_nanos().abs_diff(anchor.as_nanos()) <= LONE_WINDOW
                })
    }

    /// Counts a record in place but dated far from the packets before it,
    /// after which such records are no longer checked once there were
    /// [`MAX_FAILED_ALIGNMENT_CHECKS`].
    fn count_failed_alignment_check(&mut self, offset: u64) {
        self.alignment_checks_failed += 1;
        if self.alignment_checks_failed == MAX_FAILED_ALIGNMENT_CHECKS {
            tracing::debug!(
                file = %self.name,
                offset,
                "records dated far from the packets before them are no longer \
                 checked for being read out of place"
            );
        }
    }

    /// Counts the packet at `offset`, dated `ts` but given the time `anchor`
    /// of the last packet with a trusted time, and warns at the first. That
    /// packet can be an earlier one than the packet before, whose time may
    /// not be trusted.
    #[cold]
    fn count_lone_time(&mut self, offset: u64, ts: Timestamp, anchor: Timestamp) {
        self.stats.lone_times += 1;
        let gap = Gap(ts.nanos_since(anchor).unsigned_abs());
        let direction = if ts > anchor { "after" } else { "before" };
        let anchor_packet = self.anchor_packet;
        if self.stats.lone_times > 1 {
            tracing::debug!(
                file = %self.name,
                offset,
                %gap,
                direction,
                anchor_packet,
                "lone packet time replaced"
            );
            return;
        }
        tracing::warn!(
            file = %self.name,
            offset,
            "packet {} at byte {offset} is dated at least {gap} {direction} packet \
             {anchor_packet}, the last packet with a trusted time, while the record after \
             it returns to that time, as when a bit of its time field flipped. It counts \
             at the time of packet {anchor_packet}, so that the capture clock does not \
             jump. Later such packets are logged at debug level",
            self.stats.records + 1
        );
    }

    /// Returns where reading goes on after the record of `record_len` bytes,
    /// dated `ts`, that starts the available bytes, if that record was read out
    /// of place. It is in place when the input ends with it, or when a capture's
    /// file header or a record dated near the anchor starts where it ends and
    /// its own header passes the probe. Otherwise the record before it is
    /// searched for another capture's file header, because a record that took
    /// one in leads to records out of place. Then the next [`MAX_CAPLEN`] bytes
    /// are searched for what [`FileSource::resume_at`] accepts. What is found
    /// where the records after it lead shows the record in place too.
    fn find_realignment(&mut self, record_len: usize, ts: Timestamp) -> io::Result<Option<Resume>> {
        let next = record_len + NEXT_FILE_PROBE;
        if !self.input.fill(next)? {
            // Too few bytes after the record for another one.
            return Ok(None);
        }
        let after = &self.input.available()[record_len..];
        let next_in_place = starts_capture(after, true)
            || self.reader.probe(after, self.time_anchor) != Probe::Absent;
        let window = if !next_in_place {
            pcap::RECORD_HEADER_LEN + MAX_CAPLEN as usize
        } else if self.reader.probe(self.input.available(), Some(ts)) == Probe::Absent {
            // A header read out of place can end, by chance, where a record
            // starts. When it fails the probe itself, as with a wire length
            // above 1 MiB, the records it took in are searched for.
            record_len
        } else {
            return Ok(None);
        };
        if let Some(header) = self.capture_in_previous_record()? {
            return Ok(Some(Resume::Capture(header)));
        }
        for at in 1..window {
            if !self.input.fill(at + NEXT_FILE_PROBE)? {
                return Ok(None);
            }
            if !self.may_resume(&self.input.available()[at..]) {
                continue;
            }
            if let Some(resume) = self.resume_at(at)? {
                // Records that the reader steps to from this one, as after a
                // run of packets with a bogus date or a clock that steps back,
                // are in place, and so is this one.
                let FormatReader::Pcap(reader) = &self.reader else {
                    return Ok(Some(resume));
                };
                if reader.steps_to(self.input.available(), at) {
                    return Ok(None);
                }
                return Ok(Some(resume));
            }
        }
        Ok(None)
    }

    /// Searches the classic pcap record last returned, which ends at the
    /// reader's position, for the file header of another capture that
    /// [`FileSource::confirms_capture`] accepts. A capture cut inside a record
    /// and joined to others, as `cat` joins them, leaves the next capture's
    /// header there, and what follows the record then belongs to that capture.
    /// Returns the header's offset, where the input is then positioned, or none
    /// with the input left where it was.
    ///
    /// Only the bytes after the place where the reader last went back to such
    /// a header are searched. Bytes read a second time could otherwise hold
    /// another header that sends the reader back again, so that a crafted
    /// input of a few kilobytes returned gigabytes of packets. No byte is thus
    /// returned in more than two packets.
    fn capture_in_previous_record(&mut self) -> io::Result<Option<u64>> {
        // The last packet's range is empty, 0..0, when the reader stepped past
        // anything else since, or returned no packet yet. Otherwise its data
        // follows its record header, so the range never starts at 0.
        let range = std::mem::replace(&mut self.packet_range, 0..0);
        let is_pcap = matches!(self.reader, FormatReader::Pcap(_));
        let len = pcap::RECORD_HEADER_LEN + range.len();
        // A record whose bytes left the buffer is not searched.
        if !is_pcap || range == (0..0) || len > self.input.start() {
            return Ok(None);
        }
        let end = self.input.offset();
        let reread_len = self.reread_until.saturating_sub(end - len as u64);
        let first_at = usize::try_from(reread_len).map_or(len, |reread_len| reread_len.max(1));
        if first_at >= len {
            return Ok(None);
        }
        self.input.rewind(len);
        for at in first_at..len {
            if !self.input.fill(at + NEXT_FILE_PROBE)? {
                break;
            }
            let head = &self.input.available()[at..];
            let magic = matches!(head[0], 0xd4 | 0xa1 | 0x4d | 0x0a);
            // The damage right after the record vouches for the header, so its
            // capture may be of any date.
            if magic && starts_capture(head, true) && self.confirms_capture(at, false)? {
                self.input.consume(at);
                self.reread_until = end;
                return Ok(Some(self.input.offset()));
            }
        }
        self.input.consume(len);
        Ok(None)
    }

    /// Goes on reading at `resume`, where the input is positioned: with the
    /// reader of the capture found there, or with the current one at a record.
    fn go_on_at(&mut self, resume: Resume) -> io::Result<()> {
        match resume {
            Resume::Record(_) => Ok(()),
            Resume::Capture(next) => self.start_next_file(next),
        }
    }

    /// Goes on with the capture whose file header is at `next`, inside the
    /// record before `offset`, where `problem` was found, and logs why.
    fn read_capture_inside(&mut self, next: u64, offset: u64, problem: &str) -> io::Result<()> {
        if self.warned_capture_inside {
            tracing::debug!(file = %self.name, offset, next, "capture inside the record before");
            return self.start_next_file(next);
        }
        self.warned_capture_inside = true;
        tracing::warn!(
            file = %self.name,
            offset,
            "{problem} at byte {offset}, and the record before it contains the file header \
             of another capture at byte {next}: the capture before was cut inside that \
             record, so reading goes on with the capture at byte {next}, and the record's \
             packet holds bytes of both. Later such captures are logged at debug level"
        );
        self.start_next_file(next)
    }

    /// Consumes the input up to the next record of this capture or file header
    /// of another capture that [`FileSource::resume_at`] accepts, and returns
    /// where that starts. Returns none if the input ends first, or if nothing
    /// starts before the stream offset `before`, where the input is left then.
    fn find_resume_point(&mut self, before: u64) -> io::Result<Option<Resume>> {
        while self.input.offset() < before && self.input.fill(NEXT_FILE_PROBE)? {
            let available = self.input.available();
            let left = before - self.input.offset();
            let candidates = (available.len() + 1 - NEXT_FILE_PROBE)
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let hit = (0..candidates).find(|&at| self.may_resume(&available[at..]));
            let Some(at) = hit else {
                self.input.consume(candidates);
                continue;
            };
            self.input.consume(at);
            if let Some(resume) = self.resume_at(0)? {
                return Ok(Some(resume));
            }
            self.input.consume(1);
        }
        Ok(None)
    }

    /// Returns true if `head`, at least [`NEXT_FILE_PROBE`] bytes, may start
    /// what [`FileSource::resume_at`] accepts: its quick checks pass.
    fn may_resume(&self, head: &[u8]) -> bool {
        let capture = matches!(head[0], 0xd4 | 0xa1 | 0x4d | 0x0a) && starts_capture(head, true);
        capture || self.reader.probe(head, None) != Probe::Absent
    }

    /// Returns where reading can go on if the available bytes from index `at`
    /// on start a capture that [`FileSource::confirms_capture`] accepts or
    /// records that [`FileSource::confirms_records`] accepts. Nothing is
    /// consumed.
    fn resume_at(&mut self, at: usize) -> io::Result<Option<Resume>> {
        let offset = self.input.offset() + at as u64;
        let head = &self.input.available()[at..];
        if starts_capture(head, true) {
            let dated = offset >= self.vouched_until;
            let confirmed = self.confirms_capture(at, dated)?;
            return Ok(confirmed.then_some(Resume::Capture(offset)));
        }
        let confirmed = self.confirms_records(at)?;
        Ok(confirmed.then_some(Resume::Record(offset)))
    }

    /// Returns true if the available bytes from index `from` on start
    /// [`RESUME_RECORDS`] records of the capture being read, dated near the
    /// last packet read with a trusted time, or [`UNDATED_RESUME_RECORDS`] at any
    /// date. See [`FileSource::confirms_run`].
    fn confirms_records(&mut self, from: usize) -> io::Result<bool> {
        if self.confirms_run(from, self.time_anchor, RESUME_RECORDS, true)? {
            return Ok(true);
        }
        // A clock step next to the damage leaves no record near the anchor, so a
        // longer run at any date counts too, though never a shorter one.
        Ok(self.time_anchor.is_some()
            && self.confirms_run(from, None, UNDATED_RESUME_RECORDS, false)?)
    }

    /// Returns true if the available bytes from index `from` on start `count`
    /// records of the capture being read, one after the other, or, if `short`,
    /// fewer followed by the end of the input or another capture's file header.
    /// Each record's time must lie within a day of the one before, and the
    /// first's within a day of `anchor`, if any.
    fn confirms_run(
        &mut self,
        from: usize,
        anchor: Option<Timestamp>,
        count: usize,
        short: bool,
    ) -> io::Result<bool> {
        let mut anchor = anchor;
        let mut start = from;
        let mut found = 0;
        while found < count {
            // The probe of a pcap record does not read its data, so the next
            // header may not be in the buffer yet.
            let head = self.input.available().get(start..).unwrap_or_default();
            match self.reader.probe(head, anchor) {
                Probe::Absent => return Ok(false),
                Probe::Record { len, ts } => {
                    start += len;
                    found += 1;
                    anchor = ts.or(anchor);
                }
                // A run of records longer than the read buffer is confirmed by those that fit.
                Probe::Need(need) if start + need > self.input.max_len() => {
                    return Ok(short && found > 0)
                }
                Probe::Need(need) => {
                    if !self.input.fill(start + need)? {
                        let ends_input = self.input.available().len() == start;
                        return Ok(short && found > 0 && ends_input);
                    }
                }
            }
            // Records that another capture follows need no more.
            if short
                && found > 0
                && self.input.fill(start + NEXT_FILE_PROBE)?
                && starts_capture(&self.input.available()[start..], true)
            {
                return Ok(true);
            }
        }
        Ok(true)
    }

    /// Returns true if the file header at index `at` of the available bytes is
    /// followed by what its capture should hold, so that a capture carried in a
    /// packet's data is less likely to be taken for one joined to the input. A
    /// pcap header needs a first record whose lengths fit its snapshot length
    /// and, if `dated`, whose time is within a day of the last packet read with
    /// a trusted time (see [`PacketMeta::trusted_time`]). A pcapng section
    /// header needs its block length repeated at its end.
    // NOTE: a capture carried in a packet whose first record is within a day
    // of the traffic still passes.
    fn confirms_capture(&mut self, at: usize, dated: bool) -> io::Result<bool> {
        const RECORD_END: usize = pcap::HEADER_LEN + 16;

        if ByteOrder::Little.u32_at(&self.input.available()[at..], 0) == pcap_parser::SHB_MAGIC {
            return self.confirms_section(at);
        }

        // A header at the very end has no packet after it, so it can do no harm.
        if !self.input.fill(at + RECORD_END)? {
            return Ok(true);
        }
        let head = &self.input.available()[at..at + RECORD_END];
        let Ok(reader) = PcapReader::from_header(head) else {
            return Ok(false);
        };

        let record = &head[pcap::HEADER_LEN..];
        let order = if reader.is_big_endian() {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        };
        let caplen = order.u32_at(record, 8);
        let fits =
            !caplen_is_absurd(caplen, reader.snaplen()) && order.u32_at(record, 12) >= caplen;
        let time = Timestamp::from_parts(i64::from(order.u32_at(record, 0)), 0);
        Ok(fits && (!dated || near_anchor(time, self.time_anchor)))
    }

    /// Returns true if the pcapng section header at index `at` of the available
    /// bytes has a valid length, repeated at the end of the block.
    fn confirms_section(&mut self, at: usize) -> io::Result<bool> {
        let head = &self.input.available()[at..];
        let Some(order) = pcapng::section_byte_order(ByteOrder::Little.u32_at(head, 8)) else {
            return Ok(false);
        };
        let len = order.u32_at(head, 4);
        if len % 4 != 0 || !(pcapng::SECTION_HEADER_MIN_LEN..=MAX_BLOCK_LEN).contains(&len) {
            return Ok(false);
        }

        let len = len as usize;
        if !self.input.fill(at + len)? {
            return Ok(false);
        }
        Ok(order.u32_at(&self.input.available()[at..], len - 4) == len as u32)
    }

    /// Ends reading after a failed read from the input.
    fn read_error(&mut self, source: io::Error) -> CaptureError {
        self.finished = true;
        CaptureError::Read {
            path: self.path.clone(),
            offset: self.input.offset(),
            source,
        }
    }

    /// Passes over the block at `offset` of type `block_type` that claims
    /// `block_len` bytes, over [`MAX_BLOCK_LEN`], and carries no packet. Its
    /// bytes are searched on the way without being kept, because a block header
    /// read out of place often claims gigabytes, and skipping that many bytes
    /// would lose every packet after it. Records of the capture, or another
    /// capture, found inside show the length to be damaged, and reading goes on
    /// there. Otherwise reading goes on where the block ends.
    #[cold]
    #[inline(never)]
    fn pass_large_block(
        &mut self,
        offset: u64,
        block_type: u32,
        block_len: u32,
    ) -> Result<(), CaptureError> {
        let end = offset + u64::from(block_len);
        // A capture cut inside this block and joined to another puts that
        // capture's file header inside the length the block claims, so the
        // header may be of any date, as in `resync`.
        self.vouched_until = end;
        // The search starts one byte after the block's start, as after damage.
        let searched = match self.input.skip(1) {
            Ok(true) => self.find_resume_point(end),
            other => other.map(|_| None),
        };
        self.vouched_until = 0;
        let found = searched.map_err(|source| self.read_error(source))?;
        if let Some(resume) = found {
            self.large_block_damaged(offset, block_type, block_len, resume);
            return self
                .go_on_at(resume)
                .map_err(|source| self.read_error(source));
        }
        let left = end.saturating_sub(self.input.offset());
        match self.input.skip(left) {
            Ok(true) => self.stats.skipped_blocks += 1,
            Ok(false) => self.ended_inside_large_block(offset, block_len),
            Err(source) => return Err(self.read_error(source)),
        }
        Ok(())
    }

    /// Counts and reports the block at `offset` whose claimed length runs past
    /// `resume`, where readable records start.
    fn large_block_damaged(
        &mut self,
        offset: u64,
        block_type: u32,
        block_len: u32,
        resume: Resume,
    ) {
        let next = resume.offset();
        let skipped = next - offset;
        let first = self.stats.skipped_bytes == 0;
        self.stats.malformed_records += 1;
        self.stats.skipped_bytes += skipped;
        let place = resume.place();
        if first {
            tracing::warn!(
                file = %self.name,
                offset,
                "damaged data at byte {offset}: a block of type {block_type:#010x} claims \
                 {block_len} bytes, but {place} starts inside it, at byte {next}. Reading \
                 goes on there, {skipped} bytes after the damage; later damage is logged \
                 at debug level"
            );
        } else {
            tracing::debug!(file = %self.name, offset, skipped, "damaged block length skipped");
        }
    }

    /// Ends reading after the input ended inside the block at `offset` that
    /// claims `block_len` bytes, which was searched for records without finding
    /// any. Unlike a file cut short, this can be damage: a length read out of
    /// place often claims gigabytes. An end that the stop flag caused is a
    /// stop, as in [`FileSource::truncated`], and gets no warning.
    #[cold]
    fn ended_inside_large_block(&mut self, offset: u64, block_len: u32) {
        if self.stop_requested() {
            tracing::debug!(
                file = %self.name,
                offset,
                "reading stopped by the stop flag inside the block at byte {offset}"
            );
            self.finish();
            return;
        }
        let skipped = self.input.offset().saturating_sub(offset);
        self.stats.truncated_at = Some(offset);
        self.stats.skipped_bytes += skipped;
        tracing::warn!(
            file = %self.name,
            offset,
            "the input ended {skipped} bytes after byte {offset}, inside a block that \
             claims {block_len} bytes, after {} complete {}. A damaged length gives such \
             a block; no readable record was found in the bytes after it",
            self.stats.records,
            if self.stats.records == 1 { "packet" } else { "packets" }
        );
        self.finish();
    }

    /// Returns true if the stop flag is set, so that an end of input found
    /// now is a stop, not the end of the data.
    fn stop_requested(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::Relaxed))
    }

    /// Ends reading at the record or block at `offset`, which the input cuts
    /// short, unless the header of another capture follows inside it.
    fn truncated(&mut self, offset: u64) -> io::Result<()> {
        if self.stop_requested() {
            self.input.consume_all();
            tracing::debug!(
                file = %self.name,
                offset,
                "reading stopped by the stop flag inside the record at byte {offset}"
            );
            self.finish();
            return Ok(());
        }
        // A record that does not look like one of this capture's, read out of
        // place after the record before took in another capture's header.
        let head = self.input.available();
        let plausible = head.len() >= NEXT_FILE_PROBE
            && self.reader.probe(head, self.time_anchor) != Probe::Absent;
        if !plausible {
            if let Some(next) = self.capture_in_previous_record()? {
                let problem = "a record that runs past the end of the input";
                return self.read_capture_inside(next, offset, problem);
            }
        }
        // A capture cut inside a record's data and joined to others, as `cat`
        // joins them, makes its last record take in the captures after it. A
        // captured length damaged into one that fits the snapshot length takes
        // in the records after it. Either record then runs past the end, and the
        // rest of it is searched. A capture joined after a cut pcapng block
        // starts inside the length that block claims, so its header may be of
        // any date, as in `resync`.
        self.vouched_until = match &self.reader {
            FormatReader::PcapNg(reader) => offset + reader.claimed_len(self.input.available()),
            FormatReader::Pcap(_) => 0,
        };
        let searched = match self.input.skip(1) {
            Ok(true) => self.find_resume_point(u64::MAX),
            other => other.map(|_| None),
        };
        self.vouched_until = 0;
        let found = searched?;
        if let Some(resume) = found {
            let next = resume.offset();
            let skipped = next - offset;
            // The record that ran past the end is lost.
            self.stats.malformed_records += 1;
            let first = self.stats.skipped_bytes == 0;
            self.stats.skipped_bytes += skipped;
            let place = resume.place();
            if first {
                tracing::warn!(
                    file = %self.name,
                    offset,
                    "the record at byte {offset} runs past the end of the input, and {place} \
                     starts at byte {next}, inside it: reading goes on there, {skipped} bytes \
                     on. Packets before it were read out of place or passed over. Later \
                     damage is logged at debug level"
                );
            } else {
                tracing::debug!(file = %self.name, offset, skipped, "record past the end skipped");
            }
            return self.go_on_at(resume);
        }
        self.input.consume_all();
        self.stats.truncated_at = Some(offset);
        // A pcapng file can end inside a block that holds no packet, such as
        // an interface description, so the message counts packets.
        let noun = if self.stats.records == 1 {
            "packet"
        } else {
            "packets"
        };
        tracing::warn!(
            file = %self.name,
            offset,
            "the file ends inside the record at byte {offset}, after {} complete {noun}",
            self.stats.records
        );
        self.finish();
        Ok(())
    }

    /// Switches to a reader of the capture whose file header starts at `offset`,
    /// which [`starts_capture`] recognized. A classic pcap header is read here,
    /// and a pcapng section header by the new reader's first step.
    fn start_next_file(&mut self, offset: u64) -> io::Result<()> {
        let is_pcapng = self
            .input
            .available()
            .get(..4)
            .is_some_and(|magic| ByteOrder::Little.u32_at(magic, 0) == pcap_parser::SHB_MAGIC);
        let reader = if is_pcapng {
            FormatReader::PcapNg(PcapNgReader::new())
        } else {
            if !self.input.fill(pcap::HEADER_LEN)? {
                return self.truncated(offset);
            }
            let header = self.input.available().get(..pcap::HEADER_LEN);
            match header.map(PcapReader::from_header) {
                Some(Ok(reader)) => {
                    self.input.consume(pcap::HEADER_LEN);
                    FormatReader::Pcap(reader)
                }
                // Not reached: `starts_capture` checked the magic and the version.
                _ => {
                    debug_assert!(false, "a recognized pcap header failed to parse");
                    return self.truncated(offset);
                }
            }
        };
        self.reader = reader;
        self.packet_range = 0..0;
        self.stats.joined_files += 1;
        let format = self.format();
        if self.stats.joined_files == 1 {
            tracing::info!(
                file = %self.name,
                offset,
                "another capture starts at byte {offset}, in the format {format}: \
                 captures joined end to end are read in turn, and later joins are \
                 logged at debug level"
            );
        } else {
            tracing::debug!(
                file = %self.name,
                offset,
                "another capture starts, in the format {format}"
            );
        }
        Ok(())
    }

    /// Counts a packet time clamped to the limit `ts`, and warns at the first.
    #[cold]
    fn count_clamped_time(&mut self, ts: Timestamp) {
        self.stats.clamped_times += 1;
        if self.stats.clamped_times > 1 {
            return;
        }
        let limit = if ts.as_nanos() < 0 {
            "before 1677-09-21"
        } else {
            "after 2262-04-11"
        };
        tracing::warn!(
            file = %self.name,
            packet = self.stats.records + 1,
            "packet {} has a time {limit}, outside the range of times this program \
             stores, so that date stands in for it. The time resolution or offset of its \
             pcapng interface is likely damaged. Later packets with such times are \
             counted but not logged",
            self.stats.records + 1
        );
    }

    /// Counts the classic pcap packet of `data_len` captured bytes just
    /// consumed, whose sub-second time field `fraction` is a second or more
    /// and which was dated `ts` instead, and warns at the first.
    #[cold]
    fn count_subsecond_overflow(&mut self, fraction: u32, ts: Timestamp, data_len: usize) {
        self.stats.subsecond_overflows += 1;
        let record_len = (pcap::RECORD_HEADER_LEN + data_len) as u64;
        let offset = self.input.offset().saturating_sub(record_len);
        if self.stats.subsecond_overflows > 1 {
            tracing::debug!(file = %self.name, offset, fraction, "sub-second field cut");
            return;
        }
        let (unit, max) = match self.format() {
            CaptureFormat::Pcap {
                nanosecond: true, ..
            } => ("nanoseconds", 999_999_999),
            _ => ("microseconds", 999_999),
        };
        tracing::warn!(
            file = %self.name,
            offset,
            "packet {} at byte {offset} has a sub-second time field of {fraction} {unit}, \
             a second or more, which is invalid: the record is damaged or its writer is \
             faulty. It is dated {} s plus {max} {unit}, the largest valid field, so that \
             the field does not move the capture clock. Later such packets are logged at \
             debug level",
            self.stats.records + 1,
            ts.secs()
        );
    }

    fn warn_once(&mut self, offset: u64, problem: &Problem, action: &str) {
        let bit = problem.kind_bit();
        if self.warned & bit != 0 {
            return;
        }
        self.warned |= bit;
        tracing::warn!(
            file = %self.name,
            offset,
            "{action} at byte {offset}: {problem}. \
             Later ones with this defect are counted but not logged"
        );
    }

    /// Ends reading early at a record or block that cannot be read past.
    fn stop(&mut self, offset: u64, problem: &Problem) {
        self.stats.stopped_at = Some(offset);
        tracing::warn!(
            file = %self.name,
            offset,
            "stopped reading at byte {offset}, after {} packet{}: {problem}. Nothing after \
             it passed the checks of the next record (three in a row within a day of the \
             last packet read, or eight at any date) or of another capture's file header. \
             Where captures were joined into this input, reading each as an input of its \
             own keeps one capture's damage from reaching the next",
            self.stats.records,
            if self.stats.records == 1 { "" } else { "s" }
        );
        self.finished = true;
    }

    fn finish(&mut self) {
        self.finished = true;
        tracing::debug!(
            file = %self.name,
            records = self.stats.records,
            malformed_records = self.stats.malformed_records,
            skipped_blocks = self.stats.skipped_blocks,
            joined_files = self.stats.joined_files,
            skipped_bytes = self.stats.skipped_bytes,
            clamped_times = self.stats.clamped_times,
            subsecond_overflows = self.stats.subsecond_overflows,
            "finished reading the file"
        );
    }
}

/// Opens the file at `path` and returns it with its size if it is a regular file.
fn open_capture(path: &Path) -> Result<(File, Option<u64>), CaptureError> {
    let open_error = |source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    let len = metadata.is_file().then_some(metadata.len());
    Ok((file, len))
}

impl PacketSource for FileSource {
    type Error = CaptureError;

    /// Returns the next packet, or `Ok(None)` at the end of the file.
    ///
    /// After an error or the end of the file, every later call returns `Ok(None)`.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        while !self.finished {
            let step = match &mut self.reader {
                FormatReader::Pcap(reader) => reader.next(&mut self.input),
                FormatReader::PcapNg(reader) => reader.next(&mut self.input),
            };
            let mut meta = match step {
                Ok(Step::Packet(meta)) => meta,
                Ok(step) => {
                    let result = self.other_step(step);
                    // The last packet's record no longer ends at the reader's position.
                    self.packet_range = 0..0;
                    match result {
                        Ok(()) => continue,
                        Err(error) => return Err(error),
                    }
                }
                Err(source) => {
                    self.packet_range = 0..0;
                    return Err(self.read_error(source));
                }
            };
            if let Some(anchor) = self.time_anchor {
                if meta.ts.as_nanos().abs_diff(anchor.as_nanos()) > LONE_WINDOW {
                    match self.check_odd_time(meta, anchor) {
                        Ok(Some(in_place)) => meta = in_place,
                        Ok(None) => continue,
                        Err(error) => {
                            self.packet_range = 0..0;
                            return Err(error);
                        }
                    }
                }
            }
            self.packet_range = meta.data.clone();
            if let Some(fraction) = meta.subsecond_overflow {
                self.count_subsecond_overflow(fraction, meta.ts, meta.data.len());
            }
            // Damage after a classic pcap record makes the reader search it,
            // so the buffer keeps it, whatever the sizes of the reads.
            if matches!(self.reader, FormatReader::Pcap(_)) {
                self.input
                    .keep_consumed(pcap::RECORD_HEADER_LEN + meta.data.len());
            }
            if meta.clamped_time {
                self.count_clamped_time(meta.ts);
            } else if meta.trusted_time {
                self.time_anchor = Some(meta.ts);
                self.anchor_packet = self.stats.records + 1;
            }
            let data = self.input.bytes(meta.data);
            self.stats.records += 1;
            self.stats.packet_bytes += data.len() as u64;
            return Ok(Some(Packet {
                ts: meta.ts,
                linktype: meta.linktype,
                data,
                orig_len: meta.orig_len,
            }));
        }
        self.packet_range = 0..0;
        if self.stats.records == 0 {
            if let Some((offset, problem)) = self.early_damage.take() {
                return Err(self.early_damage_error(offset, &problem));
            }
        }
        Ok(None)
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path)
            .field("format", &self.format())
            .field("position", &self.position())
            .field("len", &self.len)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Reads the start of the input and returns the reader for its format.
///
/// A classic pcap file header is consumed here. A pcapng file is only checked for a
/// valid byte-order magic, and its section header is left for the pcapng reader.
fn read_file_header(path: &Path, input: &mut Input) -> Result<FormatReader, CaptureError> {
    let not_a_capture = |found: String| CaptureError::NotACapture {
        path: path.to_path_buf(),
        found,
    };
    let read_error = |source| CaptureError::Read {
        path: path.to_path_buf(),
        offset: 0,
        source,
    };

    input.fill(4).map_err(read_error)?;
    let head = input.available();
    match head.len() {
        0 => return Err(not_a_capture("it is empty".to_string())),
        1..=3 => {
            return Err(not_a_capture(format!(
                "it is only {} long, too short for a file header",
                match head.len() {
                    1 => "1 byte".to_string(),
                    len => format!("{len} bytes"),
                }
            )))
        }
        _ => {}
    }

    let magic = ByteOrder::Little.u32_at(head, 0);
    match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
            read_pcap_header(path, input).map(FormatReader::Pcap)
        }
        pcap_parser::SHB_MAGIC => {
            input.fill(12).map_err(read_error)?;
            let head = input.available();
            if head.len() < 12 {
                return Err(CaptureError::CutShort {
                    path: path.to_path_buf(),
                    header: "pcapng section header block",
                    len: head.len() as u64,
                    declared: None,
                });
            }
            let byte_order_magic = ByteOrder::Little.u32_at(head, 8);
            if pcapng::section_byte_order(byte_order_magic).is_none() {
                return Err(not_a_capture(format!(
                    "it starts with the pcapng block type 0x0a0d0d0a, but the byte-order \
                     magic {byte_order_magic:#010x} is invalid"
                )));
            }
            Ok(FormatReader::PcapNg(PcapNgReader::new()))
        }
        _ => Err(not_a_capture(describe_magic(head))),
    }
}

/// Returns the total length that the pcapng section header block at the start
/// of `head` gives for itself, in the byte order of its byte-order magic, if
/// `head` holds both fields.
fn section_header_length(head: &[u8]) -> Option<u64> {
    let order = pcapng::section_byte_order(ByteOrder::Little.u32_at(head.get(..12)?, 8))?;
    Some(u64::from(order.u32_at(head, 4)))
}

/// Returns true if `head`, at least the next [`NEXT_FILE_PROBE`] bytes of the
/// input, starts the file header of another capture. That is a classic pcap
/// header of version 2.4, in either byte order and time unit, whose accuracy
/// field is 0, as libpcap writes it. If `pcapng` is set, it can also be a
/// pcapng section header with a valid byte-order magic.
///
/// A pcap record that matched would have a wire length of 0 where the accuracy
/// field is, and a sub-second field equal to the version, besides a time equal
/// to a magic number. A pcapng block that matched would need a length equal to
/// the version, followed by a zero field.
// NOTE: pcap files of version 2.3 or with a nonzero accuracy field are not
// recognized, and reading stops at their header as at any corrupt record.
fn starts_capture(head: &[u8], pcapng: bool) -> bool {
    let Some(head) = head.get(..NEXT_FILE_PROBE) else {
        return false;
    };
    let order = match ByteOrder::Little.u32_at(head, 0) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => ByteOrder::Little,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => ByteOrder::Big,
        pcap_parser::SHB_MAGIC => {
            return pcapng
                && pcapng::section_byte_order(ByteOrder::Little.u32_at(head, 8)).is_some();
        }
        _ => return false,
    };
    let version = order.u32_at(head, 4);
    let expected = match order {
        ByteOrder::Little => u32::from(pcap::SUPPORTED_MAJOR) | 4 << 16,
        ByteOrder::Big => u32::from(pcap::SUPPORTED_MAJOR) << 16 | 4,
    };
    version == expected && order.u32_at(head, 12) == 0
}

/// Bytes that [`starts_capture`] reads: up to the accuracy field of a classic
/// pcap file header.
const NEXT_FILE_PROBE: usize = 16;

fn read_pcap_header(path: &Path, input: &mut Input) -> Result<PcapReader, CaptureError> {
    let filled = input
        .fill(pcap::HEADER_LEN)
        .map_err(|source| CaptureError::Read {
            path: path.to_path_buf(),
            offset: 0,
            source,
        })?;
    if !filled {
        return Err(CaptureError::CutShort {
            path: path.to_path_buf(),
            header: "24-byte pcap file header",
            len: input.available().len() as u64,
            declared: None,
        });
    }

    match PcapReader::from_header(input.available()) {
        Ok(reader) => {
            input.consume(pcap::HEADER_LEN);
            Ok(reader)
        }
        Err(pcap::HeaderError::UnsupportedVersion { major, minor }) => {
            Err(CaptureError::UnsupportedVersion {
                path: path.to_path_buf(),
                format: "pcap",
                major,
                minor,
                supported_major: pcap::SUPPORTED_MAJOR,
            })
        }
        Err(pcap::HeaderError::NotPcap) => Err(CaptureError::NotACapture {
            path: path.to_path_buf(),
            found: describe_magic(input.available()),
        }),
    }
}

/// Describes the first four bytes of a file that is not a capture, naming the formats
/// users most often pass by mistake.
fn describe_magic(head: &[u8]) -> String {
    let bytes: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let bytes = bytes.join(" ");
    match head {
        [0x1f, 0x8b, ..] => {
            format!("it starts with {bytes}, gzip-compressed data; decompress it first")
        }
        [0x34, 0xcd, 0xb2, 0xa1, ..] | [0xa1, 0xb2, 0xcd, 0x34, ..] => format!(
            "it starts with {bytes}, the magic number of the modified pcap format, \
             which is not supported"
        ),
        _ => format!(
            "it starts with {bytes}, not a known magic number (pcap files start with \
             d4 c3 b2 a1 or 4d 3c b2 a1 or their byte swaps, pcapng files with 0a 0d 0d 0a)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Cursor, Write};

    use proptest::prelude::*;

    use super::testdata::{pcap_file, PcapNgBuilder, PcapRecord};
    use super::*;

    fn open_bytes(bytes: &[u8]) -> Result<FileSource, CaptureError> {
        FileSource::from_reader("input".into(), Cursor::new(bytes.to_vec()), None)
    }

    /// Returns the header that `bytes` end inside and their length, from the
    /// error of opening them.
    fn cut_short(bytes: &[u8]) -> (&'static str, u64) {
        match open_bytes(bytes) {
            Err(CaptureError::CutShort {
                path, header, len, ..
            }) => {
                assert_eq!(path, Path::new("input"));
                (header, len)
            }
            other => panic!("expected CutShort for {bytes:02x?}, got {other:?}"),
        }
    }

    fn not_a_capture_text(bytes: &[u8]) -> String {
        match open_bytes(bytes) {
            Err(CaptureError::NotACapture { path, found }) => {
                assert_eq!(path, Path::new("input"));
                found
            }
            other => panic!("expected NotACapture for {bytes:02x?}, got {other:?}"),
        }
    }

    fn sample_pcap(big_endian: bool, nanosecond: bool) -> Vec<u8> {
        let records: Vec<PcapRecord> = (0..4u8)
            .map(|index| PcapRecord {
                secs: 1_700_000_000 + u32::from(index),
                fraction: 10 * u32::from(index),
                caplen: 20 + u32::from(index),
                orig_len: 60,
                data: vec![index; 20 + usize::from(index)],
            })
            .collect();
        pcap_file(big_endian, nanosecond, 1, 65535, &records)
    }

    fn sample_pcapng(big_endian: bool) -> Vec<u8> {
        PcapNgBuilder::new(big_endian)
            .interface(1, 65535, None, None)
            .interface(113, 128, Some(9), Some(-5))
            .enhanced(0, 1_700_000_000_000_000, &[1; 20], 60)
            .enhanced(1, 1_700_000_000_000_000_001, &[2; 33], 60)
            .block(4, &[0; 12])
            .simple(&[3; 40], 40)
            .obsolete(1, 1_700_000_001_000_000_000, &[4; 10], 10)
            .build()
    }

    /// A packet's time, link type, captured bytes and wire length.
    type Owned = (crate::Timestamp, u32, Vec<u8>, u32);

    /// Returns every packet of `bytes` and the reader's counters at the end.
    fn all_packets(bytes: &[u8]) -> (Vec<Owned>, ReadStats) {
        let mut source = open_bytes(bytes).unwrap();
        let mut packets = Vec::new();
        while let Some(packet) = source.next_packet().unwrap() {
            let data = packet.data.to_vec();
            packets.push((packet.ts, packet.linktype, data, packet.orig_len));
        }
        (packets, source.stats().clone())
    }

    /// Captures joined end to end, as `cat` joins them, read as the captures one
    /// after the other, whatever their formats, byte orders and time units.
    #[test]
    fn joined_captures_read_in_turn() {
        // A time zone offset in the header, which libpcap leaves at 0.
        let mut zoned = sample_pcap(true, false);
        zoned[8..12].copy_from_slice(&(-3600i32).to_be_bytes());
        let parts = [
            sample_pcap(false, false),
            sample_pcapng(true),
            sample_pcap(true, true),
            sample_pcapng(false),
            sample_pcap(false, true),
            zoned,
        ];
        let mut expected = Vec::new();
        for part in &parts {
            let (packets, stats) = all_packets(part);
            assert_eq!(stats.joined_files, 0);
            expected.extend(packets);
        }
        let (packets, stats) = all_packets(&parts.concat());
        assert_eq!(packets, expected);
        assert_eq!(stats.joined_files, 5);
        assert_eq!(stats.malformed_records, 0);
        assert_eq!(stats.stopped_at, None);

        // A second header cut short ends the input as a cut record does.
        let mut cut = parts[0].clone();
        cut.extend_from_slice(&parts[2][..20]);
        let (packets, stats) = all_packets(&cut);
        assert_eq!(packets.len(), 4);
        assert_eq!(stats.truncated_at, Some(parts[0].len() as u64));
    }

    /// A capture cut short and joined to another loses only the cut record:
    /// reading goes on with the capture after it, whether the cut fell in a
    /// record header or in a pcapng block, also one before the first packet.
    #[test]
    fn cut_capture_then_next_read() {
        for next in [
            sample_pcap(true, true),
            days_later(sample_pcap(true, true), 3),
        ] {
            cut_capture_then(&next);
        }
    }

    /// Returns the big-endian pcap file `bytes` of [`sample_pcap`] with every
    /// record dated `days` later.
    fn days_later(mut bytes: Vec<u8>, days: u32) -> Vec<u8> {
        let mut at = pcap::HEADER_LEN;
        while at < bytes.len() {
            let secs = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
            bytes[at..at + 4].copy_from_slice(&(secs + days * 86_400).to_be_bytes());
            let caplen = u32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            at += 16 + caplen as usize;
        }
        bytes
    }

    /// Joins cut captures to `next` and checks that every packet of `next` is read.
    fn cut_capture_then(next: &[u8]) {
        let (next_packets, _) = all_packets(next);
        let pcap = sample_pcap(false, false);
        let pcapng = sample_pcapng(false);
        for (name, first, cut) in [
            ("record header", &pcap, pcap.len() - 30),
            ("pcapng block", &pcapng, pcapng.len() - 10),
            // Before any packet, 10 bytes into the first interface description.
            ("interface description", &pcapng, 28 + 10),
        ] {
            let mut joined = first[..cut].to_vec();
            joined.extend_from_slice(next);
            let (packets, stats) = all_packets(&joined);
            let (mut expected, _) = all_packets(&first[..cut]);
            expected.extend(next_packets.iter().cloned());
            assert_eq!(packets, expected, "{name}");
            assert_eq!(stats.joined_files, 1, "{name}");
            assert_eq!(stats.stopped_at, None, "{name}");
            assert!(stats.skipped_bytes > 0, "{name}");
        }
    }

    /// A capture cut inside a record's data and joined to a shorter one takes
    /// the whole rest of the input into its last record. The capture inside
    /// that record is still read.
    #[test]
    fn record_past_end_then_next_read() {
        let next = sample_pcap(true, true);
        let (next_packets, _) = all_packets(&next);
        let records = [20u32, 1000].map(|caplen| PcapRecord {
            secs: 1_700_000_000,
            fraction: 0,
            caplen,
            orig_len: caplen,
            data: vec![7; caplen as usize],
        });
        let cut_capture = pcap_file(false, false, 1, 65535, &records);
        // The last record keeps 100 of its 1,000 bytes, fewer than the
        // capture joined after it.
        let cut = cut_capture.len() - 900;
        let mut joined = cut_capture[..cut].to_vec();
        joined.extend_from_slice(&next);
        assert!(joined.len() < cut_capture.len());

        let (packets, stats) = all_packets(&joined);

        let (mut expected, _) = all_packets(&cut_capture[..cut]);
        assert_eq!(expected.len(), 1);
        expected.extend(next_packets);
        assert_eq!(packets, expected);
        assert_eq!(stats.joined_files, 1);
        assert_eq!(stats.truncated_at, None);
        assert_eq!(stats.skipped_bytes, 16 + 100);
        // The cut record is lost.
        assert_eq!(stats.malformed_records, 1);
    }

    /// A capture carried in a packet's data after damage is not taken for one
    /// joined to the input when its first record is far from the traffic's time.
    /// The record that carries it is read when it is dated near the traffic.
    #[test]
    fn carried_capture_not_joined() {
        let carried = pcap_file(
            false,
            false,
            1,
            65535,
            &[PcapRecord {
                secs: 4_102_444_800,
                fraction: 0,
                caplen: 20,
                orig_len: 20,
                data: vec![6; 20],
            }],
        );
        let record = |secs, caplen: u32, data: Vec<u8>| PcapRecord {
            secs,
            fraction: 0,
            caplen,
            orig_len: caplen.max(60),
            data,
        };
        let with_carrier_at = |secs| {
            pcap_file(
                false,
                false,
                1,
                65535,
                &[
                    record(1_700_000_000, 20, vec![1; 20]),
                    // A captured length beyond the maximum: reading cannot step over it.
                    record(1_700_000_001, 0x7fff_ffff, vec![]),
                    record(secs, carried.len() as u32, carried.clone()),
                ],
            )
        };

        let (packets, stats) = all_packets(&with_carrier_at(1_700_000_002));
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[1].2, carried);
        assert_eq!(stats.joined_files, 0);
        assert_eq!(stats.stopped_at, None);
        assert_eq!(stats.skipped_bytes, 16);

        // The carrier three days later is not taken for the next record either.
        let bytes = with_carrier_at(1_700_000_002 + 3 * 86_400);
        let (packets, stats) = all_packets(&bytes);
        assert_eq!(packets.len(), 1);
        assert_eq!(stats.joined_files, 0);
        let stopped_at = stats.stopped_at.expect("reading stopped at the damage");
        // The search passed over everything from the damage to the end.
        assert_eq!(stats.skipped_bytes, bytes.len() as u64 - stopped_at);

        // The warning counts the packets read before the damage.
        let warnings = logged_warnings(|| {
            all_packets(&bytes);
        });
        let expected = format!("stopped reading at byte {stopped_at}, after 1 packet:");
        assert!(
            warnings.iter().any(|warning| warning.contains(&expected)),
            "{warnings:#?}"
        );
    }

    /// A capture cut inside a record's data and joined to a capture of another
    /// format or byte order. What follows the cut record cannot be read as this
    /// capture's records, so the next capture's header is found inside the cut
    /// record, and every packet of the next capture is read.
    #[test]
    fn cut_record_then_other_format_read() {
        let first = sample_pcap(false, false);
        let (first_packets, _) = all_packets(&first);
        // 5 bytes into the last record's 23 bytes of data.
        let cut = first.len() - 23 + 5;
        // The same capture dated three days later: the damage after the cut
        // record vouches for the header inside it, whatever its date.
        let later = days_later(sample_pcap(true, true), 3);
        for (name, next) in [
            ("big-endian nanosecond pcap", sample_pcap(true, true)),
            ("pcapng", sample_pcapng(true)),
            ("big-endian pcap three days later", later),
        ] {
            let (next_packets, _) = all_packets(&next);
            let joined = [&first[..cut], &next[..]].concat();
            let (packets, stats) = all_packets(&joined);

            assert_eq!(
                packets.len(),
                first_packets.len() + next_packets.len(),
                "{name}"
            );
            assert_eq!(&packets[..3], &first_packets[..3], "{name}");
            assert_eq!(&packets[4..], &next_packets[..], "{name}");
            assert_eq!(stats.joined_files, 1, "{name}");
            assert_eq!(stats.stopped_at, None, "{name}");
        }
    }

    /// A capture cut inside a record and joined to another leaves the next
    /// capture's file header inside that record. The record read after it, out
    /// of place and dated in 1970, leads to the header, and the next capture is
    /// read from its start, whatever that record's sub-second field or wire
    /// length.
    #[test]
    fn capture_inside_cut_record_read() {
        let record = |secs, fraction, caplen: u32, orig_len, data: Vec<u8>| PcapRecord {
            secs,
            fraction,
            caplen,
            orig_len,
            data,
        };
        // The next capture's first record contains, at the start of its data, a
        // record header dated 1970 whose captured length ends in the middle of
        // the 0xff bytes of the second record.
        let next_capture = |garbage_fraction, garbage_orig_len: u32, secs| {
            let mut garbage = Vec::new();
            for field in [0, garbage_fraction, 16 + 4, garbage_orig_len] {
                garbage.extend_from_slice(&field.to_le_bytes());
            }
            pcap_file(
                false,
                false,
                1,
                65535,
                &[
                    record(secs, 0, 16, 60, garbage),
                    record(secs + 1, 0, 24, 60, vec![0xff; 24]),
                ],
            )
        };
        let same_day = next_capture(0, 0, 1_700_000_010);
        let (same_day_packets, _) = all_packets(&same_day);
        // The last record claims 60 bytes but contains 20, so it takes in the
        // 24-byte file header and the 16-byte record header of the capture
        // joined after it.
        let cut = pcap_file(
            false,
            false,
            1,
            65535,
            &[
                record(1_700_000_000, 0, 20, 60, vec![1; 20]),
                record(1_700_000_001, 0, 60, 60, vec![2; 20]),
            ],
        );

        // Sub-second field over a second, wire length below the captured
        // length, or both.
        for (fraction, orig_len) in [(2_831_155_200, 0), (2_831_155_200, 60), (0, 0)] {
            let case = format!("fraction {fraction}, wire length {orig_len}");
            let joined = [
                cut.clone(),
                next_capture(fraction, orig_len, 1_700_000_010),
                same_day.clone(),
            ]
            .concat();
            let next_packets = all_packets(&next_capture(fraction, orig_len, 1_700_000_010)).0;
            let (packets, stats) = all_packets(&joined);
            // The record dated in 1970 was not read: the next capture was
            // found inside the cut record, and read from its start.
            assert_eq!(packets.len(), 2 + 2 + same_day_packets.len(), "{case}");
            assert_eq!(&packets[2..4], &next_packets[..], "{case}");
            assert_eq!(&packets[4..], &same_day_packets[..], "{case}");
            assert_eq!(stats.malformed_records, 1, "{case}");
            assert_eq!(stats.skipped_bytes, 0, "{case}");
            assert_eq!(stats.joined_files, 2, "{case}");
            assert_eq!(stats.stopped_at, None, "{case}");

            // A capture that starts where a record ends is joined, whatever
            // its date.
            let other_day = next_capture(0, 0, 4_102_444_800);
            let joined = [
                cut.clone(),
                next_capture(fraction, orig_len, 1_700_000_010),
                other_day,
            ]
            .concat();
            let (packets, stats) = all_packets(&joined);
            assert_eq!(packets.len(), 2 + 2 + 2, "{case}");
            assert_eq!(packets[4].0.secs(), 4_102_444_800, "{case}");
            assert_eq!(stats.joined_files, 2, "{case}");
            assert_eq!(stats.stopped_at, None, "{case}");
        }
    }

    /// Returns a classic pcap file header and one record header that claims
    /// `caplen` captured bytes, followed by only the first of them, so that
    /// the record takes in whatever is joined after it.
    fn header_and_cut_record(caplen: u32) -> Vec<u8> {
        let record = PcapRecord {
            secs: 1_700_000_000,
            fraction: 0,
            caplen,
            orig_len: caplen,
            data: vec![0],
        };
        pcap_file(false, false, 1, 65535, &[record])
    }

    /// A capture's file header every 41 bytes, each followed by a record that
    /// claims the next 1,018 bytes and so takes in the next 24 headers. Each
    /// record ends 33 bytes into a header, where the captured length of the
    /// record header read there is the magic number, and the record contains
    /// the next header. Going back to that header after each record returned
    /// every byte in about 25 packets. The reader no longer goes back into
    /// bytes that it has read twice.
    #[test]
    fn nested_cut_records_read_at_most_twice() {
        let caplen = 1018;
        let header_and_record = header_and_cut_record(caplen);
        assert_eq!(header_and_record.len(), 41);
        assert_eq!((40 + caplen) % 41, 33);
        let bytes = header_and_record.repeat(200);

        let (packets, stats) = all_packets(&bytes);
        let packet_bytes: usize = packets.iter().map(|packet| packet.2.len()).sum();
        assert!(
            packet_bytes <= 2 * bytes.len(),
            "{packet_bytes} bytes of packets in {} bytes",
            bytes.len()
        );
        // A packet for each header that the search after a record finds.
        let header_and_records = 40 + caplen as usize;
        assert!(packets.len() >= bytes.len() / header_and_records);
        assert_eq!(stats.stopped_at, None);
    }

    /// A record whose data contains a whole capture, followed by one byte,
    /// too short for a record header. The reader goes back to the capture
    /// inside the record and returns its packet, which ends before the record
    /// does, but the position stays where reading went back from.
    #[test]
    fn going_back_keeps_position() {
        let record = |secs, data: Vec<u8>| PcapRecord {
            secs,
            fraction: 0,
            caplen: data.len() as u32,
            orig_len: data.len() as u32,
            data,
        };
        let inside = pcap_file(
            false,
            false,
            1,
            65535,
            &[record(1_700_000_010, vec![2; 20])],
        );
        let data = [vec![0; 2], inside.clone(), vec![0; 10]].concat();
        let mut bytes = pcap_file(false, false, 1, 65535, &[record(1_700_000_000, data)]);
        let record_end = bytes.len() as u64;
        bytes.push(0);

        let mut source = open_bytes(&bytes).unwrap();
        let mut positions = Vec::new();
        let mut lengths = Vec::new();
        while let Some(packet) = source.next_packet().unwrap() {
            lengths.push(packet.data.len());
            positions.push(source.position());
        }
        assert_eq!(lengths, [2 + inside.len() + 10, 20]);
        assert_eq!(positions, [record_end, record_end]);
        assert_eq!(source.position(), bytes.len() as u64);
        assert_eq!(source.stats().joined_files, 1);
    }

    /// A capture cut inside a long record and joined to another gives the
    /// same packets whatever the sizes of the reads. The search for the next
    /// capture's header inside that record needs the record in the read
    /// buffer. A read needed right after the record used to move it out, so
    /// the packets depended on where the reads ended.
    #[test]
    fn cut_record_search_independent_of_reads() {
        /// A reader that returns at most 8 bytes per call, as a pipe may.
        struct EightBytes(Cursor<Vec<u8>>);

        impl Read for EightBytes {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let count = out.len().min(8);
                self.0.read(&mut out[..count])
            }
        }

        let records = |count: u32, len: u32, secs: u32| -> Vec<PcapRecord> {
            (0..count)
                .map(|index| PcapRecord {
                    secs: secs + index,
                    fraction: 0,
                    caplen: len,
                    orig_len: len,
                    data: vec![7; len as usize],
                })
                .collect()
        };
        // A buffer that starts at 4 KiB, as for a size hint of 0, and the
        // 128 KiB buffer of an input of unknown size, such as a pipe.
        for (size_hint, before, caplen, present, after) in [
            (
                Some(0),
                records(2, 100, 1_700_000_000),
                3000,
                1000,
                records(4, 500, 1_700_000_010),
            ),
            (
                None,
                records(30, 2000, 1_700_000_000),
                50_000,
                10_000,
                records(40, 1000, 1_700_000_100),
            ),
        ] {
            let mut cut_records = before;
            cut_records.push(PcapRecord {
                secs: 1_700_000_005,
                fraction: 0,
                caplen,
                orig_len: caplen,
                data: vec![1; present],
            });
            let cut = pcap_file(false, false, 1, 65535, &cut_records);
            let next = pcap_file(false, false, 1, 65535, &after);
            let record_end = cut.len() + caplen as usize - present;
            // The cut record ends inside the data of the last record of `next`,
            // whose bytes read as an invalid captured length.
            assert!(record_end > cut.len() + next.len() - after[after.len() - 1].data.len());
            assert!(record_end + 16 <= cut.len() + next.len());
            // The 8-byte reads end where the cut record ends.
            assert_eq!(record_end % 8, 0);
            let bytes = [cut.clone(), next.clone()].concat();

            let (whole, stats) = all_packets(&bytes);
            assert_eq!(
                whole.len(),
                cut_records.len() + after.len(),
                "{size_hint:?}"
            );
            assert_eq!(
                &whole[cut_records.len()..],
                &all_packets(&next).0[..],
                "{size_hint:?}"
            );
            assert_eq!(stats.joined_files, 1, "{size_hint:?}");

            let reader = EightBytes(Cursor::new(bytes));
            let mut source = FileSource::from_reader("input".into(), reader, size_hint).unwrap();
            let mut pieces = Vec::new();
            while let Some(packet) = source.next_packet().unwrap() {
                let data = packet.data.to_vec();
                pieces.push((packet.ts, packet.linktype, data, packet.orig_len));
            }
            assert_eq!(pieces.len(), whole.len(), "{size_hint:?}");
            assert_eq!(pieces, whole, "{size_hint:?}");
            assert_eq!(source.stats(), &stats, "{size_hint:?}");
        }
    }

    /// pcapng simple packet blocks have no time of their own, so the epoch they
    /// get before any dated packet does not anchor the date check either.
    #[test]
    fn simple_packets_not_time_anchor() {
        let pcapng = PcapNgBuilder::new(false)
            .interface(1, 65535, None, None)
            .simple(&[3; 40], 40)
            .simple(&[4; 40], 40)
            .build();
        let next = sample_pcap(false, false);
        let mut joined = pcapng[..pcapng.len() - 10].to_vec();
        joined.extend_from_slice(&next);

        let (packets, stats) = all_packets(&joined);
        assert_eq!(packets.len(), 1 + all_packets(&next).0.len());
        assert_eq!(packets[0].0, crate::Timestamp::ZERO);
        assert_eq!(stats.joined_files, 1);
        assert_eq!(stats.stopped_at, None);
    }

    /// A packet time out of range does not anchor the date check, so a capture
    /// found after damage is still read.
    #[test]
    fn clamped_times_not_time_anchor() {
        let pcapng = PcapNgBuilder::new(false)
            .interface(1, 65535, None, Some(i64::MIN))
            .enhanced(0, 1, &[3; 40], 40)
            .enhanced(0, 2, &[4; 40], 40)
            .build();
        let next = sample_pcap(false, false);
        let mut joined = pcapng[..pcapng.len() - 10].to_vec();
        joined.extend_from_slice(&next);

        let (packets, stats) = all_packets(&joined);
        assert_eq!(packets.len(), 1 + all_packets(&next).0.len());
        assert_eq!(packets[0].0, crate::Timestamp::from_nanos(i64::MIN));
        assert_eq!(stats.clamped_times, 1);
        assert_eq!(stats.joined_files, 1);
        assert_eq!(stats.stopped_at, None);
    }

    /// Records whose time equals a magic number stay records: one of them is a
    /// time in 2011. So does a pcapng block of a local type that equals one.
    #[test]
    fn header_lookalikes_stay_records() {
        let record = |secs, fraction, caplen: u32| PcapRecord {
            secs,
            fraction,
            caplen,
            orig_len: 60,
            data: vec![9; caplen as usize],
        };
        let records = [
            record(0x4d3c_b2a0, 0, 4),
            record(0x4d3c_b2a1, 0x200, 4),
            record(0xa1b2_c3d4, 7, 4),
            // The sub-second field equals the version, read in the other byte
            // order, but the wire length is not 0.
            record(0x4d3c_b2a1, 0x0400_0200, 0),
            record(0x4d3c_b2a2, 0, 4),
        ];
        let bytes = pcap_file(false, true, 1, 65535, &records);
        let (packets, stats) = all_packets(&bytes);
        assert_eq!(packets.len(), records.len());
        assert_eq!(stats.joined_files, 0);

        let bytes = PcapNgBuilder::new(false)
            .interface(1, 65535, None, None)
            .enhanced(0, 1_700_000_000_000_000, &[1; 20], 60)
            .block(0xd4c3_b2a1, &[0; 500])
            .enhanced(0, 1_700_000_000_000_001, &[2; 20], 60)
            .build();
        let (packets, stats) = all_packets(&bytes);
        assert_eq!(packets.len(), 2);
        assert_eq!(stats.joined_files, 0);
    }

    /// A classic pcap header cut short after pcapng blocks ends the input as a
    /// cut block does.
    #[test]
    fn header_cut_after_pcapng() {
        let mut bytes = sample_pcapng(false);
        let blocks = bytes.len() as u64;
        bytes.extend_from_slice(&sample_pcap(false, false)[..20]);
        let (packets, stats) = all_packets(&bytes);
        assert_eq!(packets.len(), all_packets(&sample_pcapng(false)).0.len());
        assert_eq!(stats.truncated_at, Some(blocks));
    }

    #[test]
    fn empty_and_short_inputs_are_not_captures() {
        assert_eq!(not_a_capture_text(&[]), "it is empty");
        assert!(not_a_capture_text(&[0xd4, 0xc3, 0xb2]).contains("only 3 bytes long"));
        assert!(not_a_capture_text(&[0xd4]).contains("only 1 byte long"));
    }

    #[test]
    fn cut_file_headers_are_cut_short() {
        let header = sample_pcap(false, false);
        assert_eq!(cut_short(&header[..20]), ("24-byte pcap file header", 20));
        let section = sample_pcapng(false);
        assert_eq!(
            cut_short(&section[..10]),
            ("pcapng section header block", 10)
        );
        assert_eq!(
            cut_short(&section[..20]),
            ("pcapng section header block", 20)
        );

        let message = open_bytes(&section[..20]).err().unwrap().to_string();
        assert!(message.starts_with("input is cut short"), "{message}");
        let declared = u32::from_le_bytes(section[4..8].try_into().unwrap());
        assert!(
            message.contains(&format!(
                "ends inside its pcapng section header block, after 20 bytes of the \
                 {declared} it declares"
            )),
            "{message}"
        );
        assert!(message.contains("still being written"), "{message}");
        assert!(message.contains("undamaged copy"), "{message}");

        // A section header that declares more than the whole file.
        let mut whole = section.clone();
        whole[4..8].copy_from_slice(&(1u32 << 20).to_le_bytes());
        let message = open_bytes(&whole).err().unwrap().to_string();
        assert!(
            message.contains(&format!(
                "after {} bytes of the 1048576 it declares",
                whole.len()
            )),
            "{message}"
        );
    }

    #[test]
    fn unknown_magic_is_described() {
        let found = not_a_capture_text(b"GET / HTTP/1.1\r\n");
        assert!(found.contains("47 45 54 20"), "{found}");
        assert!(found.contains("not a known magic number"), "{found}");

        let found = not_a_capture_text(&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]);
        assert!(found.contains("decompress it first"), "{found}");

        let mut modified = sample_pcap(false, false);
        modified[0..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
        let found = not_a_capture_text(&modified);
        assert!(found.contains("modified pcap format"), "{found}");

        let mut bad_order = sample_pcapng(false);
        bad_order[8..12].copy_from_slice(b"abcd");
        let found = not_a_capture_text(&bad_order);
        assert!(found.contains("byte-order magic 0x64636261"), "{found}");
    }

    #[test]
    fn not_a_capture_message_names_file() {
        let error = open_bytes(b"hello world").unwrap_err();
        let message = error.to_string();

        assert!(
            message.starts_with("input is not a pcap or pcapng file"),
            "{message}"
        );
        assert!(error.is_input_error());
        assert_eq!(error.path(), Path::new("input"));
    }

    #[test]
    fn pcap_major_version_1_is_rejected() {
        let mut bytes = sample_pcap(true, false);
        bytes[4..6].copy_from_slice(&1u16.to_be_bytes());
        let error = open_bytes(&bytes).unwrap_err();

        assert!(
            matches!(
                error,
                CaptureError::UnsupportedVersion {
                    format: "pcap",
                    major: 1,
                    minor: 4,
                    supported_major: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("pcap version 1.4"), "{error}");
        assert!(error.to_string().contains("editcap -F pcapng"), "{error}");
    }

    #[test]
    fn format_comes_from_magic() {
        for big_endian in [false, true] {
            for nanosecond in [false, true] {
                let source = open_bytes(&sample_pcap(big_endian, nanosecond)).unwrap();
                let expected = CaptureFormat::Pcap {
                    big_endian,
                    nanosecond,
                };
                assert_eq!(source.format(), expected);
            }
            let source = open_bytes(&sample_pcapng(big_endian)).unwrap();
            assert_eq!(source.format(), CaptureFormat::PcapNg);
        }
        let source = open_bytes(&sample_pcap(true, true)).unwrap();
        assert_eq!(
            source.format().to_string(),
            "pcap (big-endian, nanosecond times)"
        );
    }

    #[test]
    fn open_reports_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.pcap");
        let error = FileSource::open(&path).unwrap_err();

        assert!(matches!(error, CaptureError::Open { .. }), "{error:?}");
        assert!(error.is_input_error());
        assert!(error.to_string().contains("missing.pcap"), "{error}");
    }

    #[test]
    fn open_reads_file_and_reports_progress() {
        let bytes = sample_pcapng(false);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        let checked = FileSource::open_to_check(file.path()).unwrap();
        assert_eq!(checked.len(), Some(bytes.len() as u64));
        assert!(checked.position() < bytes.len() as u64);
        let mut source = FileSource::open(file.path()).unwrap();

        assert_eq!(source.len(), Some(bytes.len() as u64));
        assert_eq!(source.path(), file.path());
        assert_eq!(source.name(), file.path().display().to_string());
        let mut positions = vec![source.position()];
        while source.next_packet().unwrap().is_some() {
            positions.push(source.position());
        }
        assert_eq!(source.stats().records, 4);
        assert_eq!(source.stats().skipped_blocks, 1);
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(source.position(), bytes.len() as u64);
    }

    #[test]
    fn read_error_is_reported_with_offset() {
        struct FailAfter(Cursor<Vec<u8>>);
        impl Read for FailAfter {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                match self.0.read(out)? {
                    0 => Err(io::Error::other("device error")),
                    read => Ok(read),
                }
            }
        }

        let mut bytes = sample_pcap(false, false);
        bytes.truncate(24 + 16 + 20 + 5);
        let reader = FailAfter(Cursor::new(bytes));
        let mut source = FileSource::from_reader("flaky".into(), reader, None).unwrap();

        assert!(source.next_packet().unwrap().is_some());
        let error = source.next_packet().unwrap_err();
        assert!(matches!(error, CaptureError::Read { .. }), "{error:?}");
        assert!(error.to_string().contains("device error"), "{error}");
        assert!(source.next_packet().unwrap().is_none());
    }

    #[test]
    fn truncated_file_ends_normally() {
        let bytes = sample_pcap(false, true);
        let cut = bytes.len() - 3;
        let mut source = open_bytes(&bytes[..cut]).unwrap();
        let mut count = 0;
        while source.next_packet().unwrap().is_some() {
            count += 1;
        }

        assert_eq!(count, 3);
        let last_record = 24 + (16 + 20) + (16 + 21) + (16 + 22);
        assert_eq!(source.stats().truncated_at, Some(last_record));
        assert_eq!(source.stats().stopped_at, None);
        assert_eq!(source.position(), cut as u64);
    }

    /// Reads until the end or an error, returning the number of packets. Fails the test if
    /// the reader returns more packets than the input could hold.
    fn read_to_end(bytes: &[u8]) -> usize {
        let Ok(mut source) = open_bytes(bytes) else {
            return 0;
        };
        let mut count = 0;
        while let Ok(Some(packet)) = source.next_packet() {
            assert!(packet.data.len() <= bytes.len());
            count += 1;
            assert!(
                count <= bytes.len() / 12,
                "more packets than the input can hold"
            );
        }
        assert!(source.next_packet().unwrap().is_none());
        assert!(source.position() <= bytes.len() as u64);
        count
    }

    thread_local! {
        /// Log output of the current test thread.
        static LOG_OUTPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// A log destination that appends to the current thread's `LOG_OUTPUT`.
    struct ThreadLog;

    impl Write for ThreadLog {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            LOG_OUTPUT.with(|output| output.borrow_mut().extend_from_slice(bytes));
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Runs `read` and returns the warnings it logged on this thread, one per line.
    ///
    /// The subscriber is global, because tracing caches per call site whether anyone
    /// listens, and a thread-scoped subscriber can miss events when tests without one
    /// reach the same call site first.
    fn logged_warnings(read: impl FnOnce()) -> Vec<String> {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| ThreadLog)
                .with_ansi(false)
                .with_max_level(tracing::Level::WARN)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        });

        LOG_OUTPUT.with(|output| output.borrow_mut().clear());
        read();
        let text = LOG_OUTPUT.with(|output| String::from_utf8(output.take()).unwrap());
        text.lines().map(str::to_string).collect()
    }

    /// A capture's file header every 41 bytes, each followed by a record that
    /// ends inside the next header, so that the reader goes back to that header
    /// after every record. Only the first time is a warning.
    #[test]
    fn captures_inside_records_warned_once() {
        let caplen = 34;
        let header_and_record = header_and_cut_record(caplen);
        let bytes = header_and_record.repeat(100);

        let mut records = 0;
        let warnings = logged_warnings(|| {
            let mut source = open_bytes(&bytes).unwrap();
            while source.next_packet().unwrap().is_some() {
                records += 1;
            }
            assert_eq!(source.stats().joined_files, 99);
        });

        // The last record runs past the end of the input.
        assert_eq!(records, 99);
        let inside = warnings
            .iter()
            .filter(|line| line.contains("contains the file header of another capture"))
            .count();
        assert_eq!(inside, 1, "{warnings:#?}");
        assert!(warnings.len() <= 3, "{warnings:#?}");
    }

    #[test]
    fn repeated_defects_are_logged_once() {
        let builder = PcapNgBuilder::new(false)
            .interface(1, 0, None, None)
            .enhanced(3, 1, &[1; 4], 4);
        let first_bad = builder.offset() - 36;
        let builder = builder
            .enhanced(3, 2, &[2; 4], 4)
            .enhanced(0, 3, &[3; 4], 4);
        let cut_record = builder.offset();
        let mut bytes = builder.enhanced(4, 4, &[4; 4], 4).build();
        bytes.truncate(bytes.len() - 1);

        let mut records = 0;
        let warnings = logged_warnings(|| {
            let mut source = open_bytes(&bytes).unwrap();
            while source.next_packet().unwrap().is_some() {
                records += 1;
            }
        });

        assert_eq!(records, 1);
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
        assert!(
            warnings[0].contains("packet names interface 3"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[0].contains(&format!("offset={first_bad}")),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("file=input"), "{}", warnings[0]);
        assert!(
            warnings[1].contains("ends inside the record"),
            "{}",
            warnings[1]
        );
        assert!(
            warnings[1].contains(&format!("offset={cut_record}")),
            "{}",
            warnings[1]
        );
        assert!(warnings[1].contains("file=input"), "{}", warnings[1]);
    }

    /// The warning about a lone far-dated packet gives its distance in whole
    /// units, rounded down, with the singular for one.
    #[test]
    fn lone_time_warning_rounds_down() {
        let record = |secs: u32| PcapRecord {
            secs,
            fraction: 0,
            caplen: 60,
            orig_len: 60,
            data: vec![1; 60],
        };
        for (odd, gap) in [
            (129_600, "1 day"),
            (3 * 3_600 + 59, "3 hours"),
            (61, "1 minute"),
        ] {
            let records = [
                record(1_700_000_000),
                record(1_700_000_000 + odd),
                record(1_700_000_002),
            ];
            let bytes = pcap_file(false, false, 1, 65535, &records);
            let warnings = logged_warnings(|| {
                let (_, stats) = all_packets(&bytes);
                assert_eq!(stats.lone_times, 1);
            });

            assert_eq!(warnings.len(), 1, "{warnings:#?}");
            let text = format!("is dated at least {gap} after packet 1,");
            assert!(warnings[0].contains(&text), "{}", warnings[0]);
        }
    }

    /// A lone time gets the time of the last packet with a trusted time, and
    /// the warning names that packet. Here it is packet 1, because packet 2
    /// claims fewer bytes on the wire than it captured, so its time is not
    /// trusted.
    #[test]
    fn lone_time_warning_names_trusted_packet() {
        let record = |secs: u32, orig_len: u32| PcapRecord {
            secs,
            fraction: 0,
            caplen: 60,
            orig_len,
            data: vec![1; 60],
        };
        let records = [
            record(1_700_000_000, 60),
            record(1_700_000_001, 59),
            record(1_700_001_025, 60),
            record(1_700_000_002, 60),
        ];
        let bytes = pcap_file(false, false, 1, 65535, &records);

        let mut packets = Vec::new();
        let warnings = logged_warnings(|| {
            let (read, stats) = all_packets(&bytes);
            assert_eq!(stats.lone_times, 1);
            packets = read;
        });

        assert_eq!(packets.len(), 4);
        assert_eq!(packets[2].0.secs(), 1_700_000_000);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        let warning = &warnings[0];
        assert!(warning.contains("packet 3 at byte"), "{warning}");
        assert!(
            warning.contains("after packet 1, the last packet with a trusted time"),
            "{warning}"
        );
        assert!(
            warning.contains("counts at the time of packet 1,"),
            "{warning}"
        );
    }

    /// The first sub-second field of a second or more is warned about with
    /// the file and the record's offset, and later ones are only counted.
    #[test]
    fn subsecond_overflow_warned_once() {
        let record = |secs: u32, fraction: u32| PcapRecord {
            secs,
            fraction,
            caplen: 60,
            orig_len: 60,
            data: vec![1; 60],
        };
        let records = [
            record(1_700_000_000, 0),
            record(1_700_000_001, 4_000_000),
            record(1_700_000_002, 3_000_000),
        ];
        let bytes = pcap_file(false, false, 1, 65535, &records);
        let warnings = logged_warnings(|| {
            let (_, stats) = all_packets(&bytes);
            assert_eq!(stats.subsecond_overflows, 2);
        });

        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        let warning = &warnings[0];
        assert!(warning.contains("file=input"), "{warning}");
        let offset = 24 + 16 + 60;
        assert!(warning.contains(&format!("offset={offset}")), "{warning}");
        assert!(
            warning.contains(&format!("packet 2 at byte {offset}")),
            "{warning}"
        );
        assert!(
            warning.contains("sub-second time field of 4000000 microseconds"),
            "{warning}"
        );
        assert!(
            warning.contains("dated 1700000001 s plus 999999 microseconds"),
            "{warning}"
        );
    }

    /// Appends the header of a custom block (a type that no reader keeps in
    /// memory) that claims `claimed` bytes, as a damaged length gives.
    fn push_large_block_header(bytes: &mut Vec<u8>, claimed: u32) {
        bytes.extend_from_slice(&0x0000_0bad_u32.to_le_bytes());
        bytes.extend_from_slice(&claimed.to_le_bytes());
    }

    /// An input of unknown size that ends inside a block claiming gigabytes,
    /// as a damaged length gives from a pipe, is not reported as a file cut
    /// short. The warning names the block, and its bytes count as passed over.
    #[test]
    fn input_ending_in_large_block_reported() {
        let builder = PcapNgBuilder::new(false)
            .interface(1, 0, None, None)
            .enhanced(0, 1, &[1; 4], 4);
        let offset = builder.offset();
        let mut bytes = builder.build();
        push_large_block_header(&mut bytes, 0x7000_0000);
        bytes.extend_from_slice(&[0; 1000]);

        let warnings = logged_warnings(|| {
            let (packets, stats) = all_packets(&bytes);
            assert_eq!(packets.len(), 1);
            assert_eq!(stats.truncated_at, Some(offset));
            assert_eq!(stats.skipped_bytes, 1008);
        });

        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0].contains("inside a block that claims 1879048192 bytes"));
        assert!(
            !warnings[0].contains("the file ends inside"),
            "{}",
            warnings[0]
        );
    }

    /// A block length damaged into gigabytes, read from a pipe, loses only
    /// that block: its bytes are searched on the way, and reading goes on at
    /// the packets inside the length it claims.
    #[test]
    fn damaged_large_block_length_searched() {
        let mut builder = PcapNgBuilder::new(false).interface(1, 0, None, None);
        for ticks in 0..3 {
            builder = builder.enhanced(0, 1_000 + ticks, &[1; 60], 60);
        }
        let offset = builder.offset();
        let mut bytes = builder.build();
        push_large_block_header(&mut bytes, 0x7000_0000);
        bytes.extend_from_slice(&[0xee; 92]);
        let mut after = PcapNgBuilder::new(false);
        for ticks in 0..5 {
            after = after.enhanced(0, 2_000 + ticks, &[2; 60], 60);
        }
        // The packet blocks, without the section header that starts them.
        let after = after.build();
        let first_packet = PcapNgBuilder::new(false).offset() as usize;
        bytes.extend_from_slice(&after[first_packet..]);

        let warnings = logged_warnings(|| {
            let (packets, stats) = all_packets(&bytes);
            assert_eq!(packets.len(), 8);
            assert_eq!(packets[3].2, vec![2; 60]);
            assert_eq!(stats.malformed_records, 1);
            assert_eq!(stats.skipped_bytes, 100);
            assert_eq!(stats.truncated_at, None);
        });

        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        let text = format!("damaged data at byte {offset}: a block of type 0x00000bad claims");
        assert!(warnings[0].contains(&text), "{}", warnings[0]);
        assert!(warnings[0].contains(&format!("at byte {}", offset + 100)));
    }

    /// A real block over the limit whose bytes hold packet blocks, as a custom
    /// block may, is skipped whole: its length is repeated at its end, so its
    /// bytes are not searched, and none of those packets is read.
    #[test]
    fn real_large_block_with_packets_skipped() {
        let mut inner = PcapNgBuilder::new(false);
        for ticks in 0..12_000 {
            inner = inner.enhanced(0, 1_000 + ticks, &[2; 60], 60);
        }
        let inner = inner.build();
        let first_packet = PcapNgBuilder::new(false).offset() as usize;
        let body = &inner[first_packet..];
        assert!(body.len() > MAX_BLOCK_LEN as usize);
        let bytes = PcapNgBuilder::new(false)
            .interface(1, 0, None, None)
            .enhanced(0, 1_000, &[1; 60], 60)
            .block(0x0bad, body)
            .enhanced(0, 1_001, &[1; 60], 60)
            .build();

        let warnings = logged_warnings(|| {
            let (packets, stats) = all_packets(&bytes);
            assert_eq!(packets.len(), 2);
            assert_eq!(stats.skipped_blocks, 1);
            assert_eq!(stats.skipped_bytes, 0);
        });

        assert!(warnings.is_empty(), "{warnings:#?}");
    }

    /// Real blocks over the limit, whose bytes start no record, are passed over
    /// without a warning, and the packets after them are read.
    #[test]
    fn large_block_passed_whole() {
        let mut builder = PcapNgBuilder::new(false)
            .interface(1, 0, None, None)
            .enhanced(0, 1, &[1; 60], 60);
        // Two such blocks in a row, so that the search inside the first must stop
        // at its end instead of reading on to the packets.
        builder = builder
            .block(0x0bad, &vec![0xee; MAX_BLOCK_LEN as usize + 4])
            .block(0x0bad, &vec![0; MAX_BLOCK_LEN as usize * 2]);
        for ticks in 2..5 {
            builder = builder.enhanced(0, ticks, &[2; 60], 60);
        }
        let bytes = builder.build();

        let warnings = logged_warnings(|| {
            let (packets, stats) = all_packets(&bytes);
            assert_eq!(packets.len(), 4);
            assert_eq!(stats.skipped_blocks, 2);
            assert_eq!(stats.skipped_bytes, 0);
            assert_eq!(stats.malformed_records, 0);
        });

        assert!(warnings.is_empty(), "{warnings:#?}");
    }

    /// A pcapng capture cut inside a block over the limit and joined to a
    /// capture three days later is read from that capture's start, from a pipe
    /// as from a file. The capture's file header lies inside the length that
    /// the cut block claims, so its date does not count, as after a cut block
    /// within the limit. The joined capture is shorter than the rest of that
    /// length in one case and longer in the other.
    #[test]
    fn large_block_cut_then_later_capture_read() {
        let later = |count: u32| {
            let records: Vec<PcapRecord> = (0..count)
                .map(|index| PcapRecord {
                    secs: 1_700_000_000 + 3 * 86_400 + index / 1000,
                    fraction: index % 1000,
                    caplen: 60,
                    orig_len: 60,
                    data: vec![9; 60],
                })
                .collect();
            pcap_file(false, false, 1, 65535, &records)
        };
        let first = sample_pcapng(false);
        let (first_packets, _) = all_packets(&first);
        let claimed = MAX_BLOCK_LEN + 4;
        for next in [later(4), later(20_000)] {
            let mut bytes = first.clone();
            push_large_block_header(&mut bytes, claimed);
            bytes.extend_from_slice(&[0xee; 100]);
            bytes.extend_from_slice(&next);
            let (next_packets, _) = all_packets(&next);
            let mut expected = first_packets.clone();
            expected.extend(next_packets);

            for len in [None, Some(bytes.len() as u64)] {
                let reader = Cursor::new(bytes.clone());
                let mut source = FileSource::from_reader("input".into(), reader, len).unwrap();
                let mut packets = Vec::new();
                while let Some(packet) = source.next_packet().unwrap() {
                    let data = packet.data.to_vec();
                    packets.push((packet.ts, packet.linktype, data, packet.orig_len));
                }
                let case = format!("{} bytes joined, size {len:?}", next.len());
                assert_eq!(packets.len(), expected.len(), "{case}");
                assert!(packets == expected, "{case}");
                assert_eq!(source.stats().joined_files, 1, "{case}");
                assert_eq!(source.stats().stopped_at, None, "{case}");
                assert_eq!(source.stats().truncated_at, None, "{case}");
            }
        }
    }

    #[test]
    fn too_fine_resolution_warning_names_interface() {
        let builder = PcapNgBuilder::new(false).interface(1, 0, None, None);
        let interface_offset = builder.offset();
        let bytes = builder
            .interface(1, 0, Some(0xff), None)
            .interface(1, 0, Some(30), None)
            .enhanced(1, 1, &[1; 4], 4)
            .enhanced(0, 2, &[0; 4], 4)
            .build();

        let mut records = 0;
        let warnings = logged_warnings(|| {
            let mut source = open_bytes(&bytes).unwrap();
            while source.next_packet().unwrap().is_some() {
                records += 1;
            }
        });

        assert_eq!(records, 1);
        // One warning for the two interfaces, one for the packet of interface 1.
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        let warning = &warnings[0];
        assert!(warning.contains("file=input"), "{warning}");
        assert!(
            warning.contains(&format!("offset={interface_offset}")),
            "{warning}"
        );
        assert!(
            warning.contains("interface 1 has an invalid if_tsresol 0xff"),
            "{warning}"
        );
        assert!(warning.contains("2^-127 seconds"), "{warning}");
        assert!(warning.contains("finer than 2^-63 seconds"), "{warning}");
        assert!(
            warning.contains("packets of this interface are skipped"),
            "{warning}"
        );
        assert!(warning.contains("Correct the option"), "{warning}");
        assert!(
            warnings[1].contains("packet names interface 1, whose description block is invalid"),
            "{}",
            warnings[1]
        );
    }

    /// Returns its bytes, then sets the stop flag and returns the end of input,
    /// as a reader of a pipe does when a signal stops the run.
    struct StopAtEnd {
        bytes: Cursor<Vec<u8>>,
        stop: Arc<AtomicBool>,
    }

    impl Read for StopAtEnd {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let read = self.bytes.read(out)?;
            if read == 0 {
                self.stop.store(true, Ordering::Relaxed);
            }
            Ok(read)
        }
    }

    /// Reads `bytes` through [`StopAtEnd`], passing its flag to the source if
    /// `set_flag` is true. Returns the packet count, the counters and the
    /// warnings logged.
    fn read_until_stopped(bytes: &[u8], set_flag: bool) -> (usize, ReadStats, Vec<String>) {
        let stop = Arc::new(AtomicBool::new(false));
        let reader = StopAtEnd {
            bytes: Cursor::new(bytes.to_vec()),
            stop: Arc::clone(&stop),
        };
        let mut source = FileSource::from_reader("input".into(), reader, None).unwrap();
        if set_flag {
            source.set_stop_flag(stop);
        }
        let mut records = 0;
        let warnings = logged_warnings(|| {
            while source.next_packet().unwrap().is_some() {
                records += 1;
            }
        });
        (records, source.stats().clone(), warnings)
    }

    /// A stop flag that ends the input inside a record ends reading without the
    /// truncation warning, which the same cut without the flag logs.
    #[test]
    fn stop_inside_record_not_truncation() {
        let bytes = sample_pcap(false, false);
        let cut = &bytes[..bytes.len() - 10];
        let last_record = 24 + (16 + 20) + (16 + 21) + (16 + 22);

        let (records, stats, warnings) = read_until_stopped(cut, true);
        assert_eq!(records, 3);
        assert_eq!(stats.truncated_at, None);
        assert_eq!(stats.stopped_at, None);
        assert!(warnings.is_empty(), "{warnings:#?}");

        let (records, stats, warnings) = read_until_stopped(cut, false);
        assert_eq!(records, 3);
        assert_eq!(stats.truncated_at, Some(last_record));
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains("ends inside the record"),
            "{}",
            warnings[0]
        );

        // A pcapng block cut short is a record cut short too.
        let bytes = sample_pcapng(true);
        let (records, stats, warnings) = read_until_stopped(&bytes[..bytes.len() - 10], true);
        assert_eq!(records, 3);
        assert_eq!(stats.truncated_at, None);
        assert!(warnings.is_empty(), "{warnings:#?}");
    }

    /// A stop flag that ends the input inside a block over the limit ends
    /// reading quietly. The same end without the flag gets a warning, and the
    /// block's bytes count as passed over.
    #[test]
    fn stop_inside_large_block_not_damage() {
        let mut bytes = sample_pcapng(false);
        push_large_block_header(&mut bytes, MAX_BLOCK_LEN + 4);
        bytes.extend_from_slice(&[0xee; 1000]);

        let (records, stats, warnings) = read_until_stopped(&bytes, true);
        assert_eq!(records, 4);
        assert_eq!(stats.truncated_at, None);
        assert_eq!(stats.skipped_bytes, 0);
        assert!(warnings.is_empty(), "{warnings:#?}");

        let (records, stats, warnings) = read_until_stopped(&bytes, false);
        assert_eq!(records, 4);
        assert!(stats.truncated_at.is_some());
        assert_eq!(stats.skipped_bytes, 1008);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains("inside a block that claims"),
            "{}",
            warnings[0]
        );
    }

    /// The warning for a file cut short counts the packets read, also when a
    /// pcapng file ends inside a block that holds no packet.
    #[test]
    fn cut_pcapng_counts_packets() {
        let bytes = sample_pcapng(false);
        let section_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        let inside_interface = &bytes[..section_len + 8];
        let (records, _, warnings) = read_until_stopped(inside_interface, false);
        assert_eq!(records, 0);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        let expected =
            format!("ends inside the record at byte {section_len}, after 0 complete packets");
        assert!(warnings[0].contains(&expected), "{}", warnings[0]);

        let (records, _, warnings) = read_until_stopped(&bytes[..bytes.len() - 10], false);
        assert_eq!(records, 3);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains("after 3 complete packets"),
            "{}",
            warnings[0]
        );
    }

    proptest! {
        #[test]
        fn mutated_files_never_panic(
            base in 0usize..4,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            cut in any::<usize>(),
        ) {
            let mut bytes = match base {
                0 => sample_pcap(false, false),
                1 => sample_pcap(true, true),
                2 => sample_pcapng(false),
                _ => sample_pcapng(true),
            };
            for (at, value) in flips {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            let cut = cut % (bytes.len() + 1);
            read_to_end(&bytes[..cut]);
        }

        #[test]
        fn random_records_never_panic(
            header in prop_oneof![
                Just(pcap_file(false, false, 1, 65535, &[])),
                Just(pcap_file(true, true, 1, 0, &[])),
                Just(PcapNgBuilder::new(false).build()),
                Just(PcapNgBuilder::new(true).interface(1, 0, Some(9), None).build()),
            ],
            rest in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut bytes = header;
            bytes.extend_from_slice(&rest);
            read_to_end(&bytes);
        }
    }
}
