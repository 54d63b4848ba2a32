//! The flow-cache file format: unfinished flows carried from one run of `wsd` to
//! the next, so that a series of capture files is accounted as one stream.
//!
//! It sits beside the pipeline (capture → decode → **flow** → format): a run ends
//! by saving the tracker's [`TrackerSnapshot`] with [`write_cache`], and the next
//! run starts from [`read_cache`] and [`wsd_flow::Tracker::restore`].
//!
//! # Layout
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic number `WSDFLOWC` |
//! | 4 | format version, little-endian `u32` (this crate writes [`FORMAT_VERSION`]) |
//! | varies | header, postcard-encoded: writer name and version, capture clock, next serial number |
//! | varies | the flows, each postcard-encoded, one after another |
//! | varies | version 2 on: the IP fragment table, a postcard-encoded sequence of datagrams (version 3 adds what joining a tiny first fragment needs, version 4 where a fragmented TCP segment's later fragments lie in the stream) |
//! | 8 | number of flows, little-endian `u64` |
//! | 4 | CRC-32 (IEEE) of every byte before it, little-endian `u32` |
//!
//! Postcard encodes integers as little-endian varints, so a file has the same
//! bytes on every machine. `docs/flow-cache-format.md` in the repository gives the
//! field list and the versioning rules.
//!
//! ```
//! use wsd_flow::{Tracker, TrackerConfig};
//!
//! let tracker = Tracker::new(TrackerConfig::default());
//! let bytes = wsd_flowcache::encode(&tracker.snapshot(), "example 1.0");
//! let cache = wsd_flowcache::decode(&bytes).unwrap();
//! assert_eq!(cache.writer, "example 1.0");
//! assert_eq!(cache.snapshot, tracker.snapshot());
//! ```

#![forbid(unsafe_code)]

mod body;
mod crc32;
mod file;
mod reader;
mod v1;
mod v2;
mod v3;
mod v4;

use std::convert::Infallible;
use std::io::{self, Write};

use wsd_capture::Timestamp;
use wsd_flow::{DatagramSnapshot, FlowSnapshot, TrackerSnapshot};

use crate::body::Body;
use crate::reader::{postcard_problem, Reader};

pub use file::{
    check_writable, lock_cache, lock_file_path, read_cache, read_cache_each, read_cache_each_from,
    write_cache, write_cache_each, write_cache_lazily, CacheFile, CacheLock,
};

/// The magic number that starts every flow-cache file.
pub const MAGIC: [u8; 8] = *b"WSDFLOWC";

/// The format version this crate writes. It reads every version up to this one.
pub const FORMAT_VERSION: u32 = 4;

/// Bytes after the magic number: the format version.
const VERSION_LEN: usize = 4;
/// Bytes of the trailer: flow count and checksum.
const TRAILER_LEN: usize = 12;
/// Bytes of the shortest file: magic number, version and trailer.
const FRAME_LEN: usize = MAGIC.len() + VERSION_LEN + TRAILER_LEN;

/// A decoded flow-cache file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowCache {
    /// The format version the file was written in.
    pub version: u32,
    /// Name and version of the program that wrote it.
    pub writer: String,
    /// The saved tracker state.
    pub snapshot: TrackerSnapshot,
}

/// One part of a flow cache, as [`decode_each`] passes it on.
// Items are passed one at a time and never stored together, so boxing the
// large flow would only add an allocation per flow.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CacheItem {
    /// The header, which comes first.
    Header {
        /// The format version the file was written in.
        version: u32,
        /// Name and version of the program that wrote it.
        writer: String,
        /// The capture clock when the flows were saved.
        clock: Option<Timestamp>,
        /// The creation number the next new flow gets.
        next_serial: u64,
        /// The number of flows that follow, bounded by what the file's size
        /// can hold, to reserve room with.
        flows: usize,
    },
    /// A saved flow and its position among the flows.
    Flow(usize, FlowSnapshot),
}

/// The reason a flow cache could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The file could not be opened, read or written.
    #[error("{operation} failed: {source}")]
    Io {
        /// The operation that failed, with the path.
        operation: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path names a directory.
    #[error("it is a directory, not a flow cache; give the path of a cache file")]
    Directory,
    /// The file does not start with the flow-cache magic number.
    #[error("not a flow cache (the file does not start with the magic number WSDFLOWC)")]
    NotACache,
    /// The file is empty: no flow cache was ever written to it.
    #[error("not a flow cache: the file is empty")]
    Empty,
    /// The file is of a format version newer than this program reads.
    #[error(
        "format version {found} is newer than this program reads (up to {supported}): \
         upgrade wsd, or, if no newer version wrote the file, it is damaged"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The newest version this program reads.
        supported: u32,
    },
    /// The file is shorter than its fixed parts.
    #[error("truncated: {len} bytes is too short for a flow cache")]
    Truncated {
        /// Length of the file.
        len: usize,
    },
    /// The checksum does not match the contents.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt or was cut short")]
    ChecksumMismatch {
        /// Checksum stored in the file.
        stored: u32,
        /// Checksum of the contents.
        computed: u32,
    },
    /// The receiver of [`decode_each`] rejected the contents, which decode but
    /// are inconsistent, for example two flows with one key.
    #[error("inconsistent contents: {detail}")]
    Rejected {
        /// The problem found.
        detail: String,
    },
    /// Another process has locked the cache (see [`lock_cache`]).
    #[error("another process is using it: it holds the lock file {}", lock.display())]
    Locked {
        /// The lock file.
        lock: std::path::PathBuf,
    },
    /// The flows to save could not all be taken, so no cache was written.
    #[error("the flows to save could not be taken: {detail}")]
    Flows {
        /// The error that stopped the flows.
        detail: String,
    },
    /// The contents do not decode, although the checksum matched.
    #[error("invalid contents at byte {offset}: {detail}")]
    Invalid {
        /// Byte offset where decoding failed.
        offset: usize,
        /// The problem found.
        detail: String,
    },
}

/// Encodes a snapshot as a flow-cache file in the current format version.
pub fn encode(snapshot: &TrackerSnapshot, writer: &str) -> Vec<u8> {
    let mut out = ChecksumWriter::new(Vec::with_capacity(64 + snapshot.flows.len() * 96));
    let flows = snapshot.flows.iter().copied().map(Ok::<_, Infallible>);
    // NOTE: writing into a Vec has no failure case, and the flows have none.
    encode_into(snapshot, flows, writer, &mut out).expect("writing into a Vec cannot fail");
    let (mut bytes, checksum) = out.finish();
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

/// Writes the flow-cache encoding of `snapshot` with the flows of `flows`, not
/// those of `snapshot`, to `out`, without the closing checksum. It writes one
/// flow at a time, so that neither the encoding nor the flows need to be held in
/// memory whole. Returns the number of flows written.
pub(crate) fn encode_into<E: std::fmt::Display>(
    snapshot: &TrackerSnapshot,
    flows: impl Iterator<Item = Result<FlowSnapshot, E>>,
    writer: &str,
    out: &mut impl Write,
) -> Result<u64, EncodeError> {
    out.write_all(&MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    let header = v2::Header {
        writer: writer.to_string(),
        clock: snapshot.clock.map(Timestamp::as_nanos),
        next_serial: snapshot.next_serial,
    };
    let mut scratch = Vec::with_capacity(256);
    write_postcard(out, &mut scratch, &header)?;
    let mut count = 0u64;
    for flow in flows {
        let flow = flow.map_err(|err| EncodeError::Flows(err.to_string()))?;
        write_postcard(out, &mut scratch, &v2::Flow::from(&flow))?;
        count += 1;
    }
    let datagrams: Vec<v4::Datagram> = snapshot.fragments.iter().map(v4::Datagram::from).collect();
    write_postcard(out, &mut scratch, &datagrams)?;
    out.write_all(&count.to_le_bytes())?;
    Ok(count)
}

/// The failure of [`encode_into`].
#[derive(Debug)]
pub(crate) enum EncodeError {
    /// Writing failed.
    Io(io::Error),
    /// An item of the flows was this error.
    Flows(String),
}

impl From<io::Error> for EncodeError {
    fn from(err: io::Error) -> EncodeError {
        EncodeError::Io(err)
    }
}

/// Encodes `value` with postcard into `scratch`, which it reuses, and writes it
/// to `out`.
fn write_postcard<T: serde::Serialize>(
    out: &mut impl Write,
    scratch: &mut Vec<u8>,
    value: &T,
) -> io::Result<()> {
    scratch.clear();
    // NOTE: serializing plain structs of integers, arrays, options and strings
    // into a growable Vec has no failure case in postcard.
    let encoded = postcard::to_extend(value, std::mem::take(scratch));
    *scratch = encoded.expect("postcard encodes plain data into a Vec");
    out.write_all(scratch)
}

/// A writer that computes the CRC-32 of everything written through it.
pub(crate) struct ChecksumWriter<W> {
    inner: W,
    hasher: crc32fast::Hasher,
}

impl<W: Write> ChecksumWriter<W> {
    pub(crate) fn new(inner: W) -> ChecksumWriter<W> {
        ChecksumWriter {
            inner,
            hasher: crc32fast::Hasher::new(),
        }
    }

    /// Returns the inner writer and the checksum of the bytes written.
    pub(crate) fn finish(self) -> (W, u32) {
        (self.inner, self.hasher.finalize())
    }
}

impl<W: Write> Write for ChecksumWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decodes a flow-cache file of any supported format version.
///
/// # Errors
///
/// Returns an error naming what is wrong if the bytes are not a complete, intact
/// flow cache of a version this crate reads.
pub fn decode(bytes: &[u8]) -> Result<FlowCache, CacheError> {
    let mut flows = Vec::new();
    let mut cache = decode_each(bytes, |item| {
        match item {
            CacheItem::Header { flows: count, .. } => flows.reserve_exact(count),
            CacheItem::Flow(_, flow) => flows.push(flow),
        }
        Ok(())
    })?;
    cache.snapshot.flows = flows;
    Ok(cache)
}

/// Decodes a flow-cache file of any supported format version as [`decode`]
/// does, but passes the header and each flow to `receive` as it decodes them,
/// instead of collecting the flows. The returned cache has no flows.
///
/// The checksum is checked before anything is passed on, so `receive` gets
/// flows of intact files only. An error found after some flows, in a later
/// flow or the fragment table, still makes the whole file invalid.
///
/// # Errors
///
/// As for [`decode`], and [`CacheError::Rejected`] with the text of the first
/// error that `receive` returns.
pub fn decode_each(
    bytes: &[u8],
    mut receive: impl FnMut(CacheItem) -> Result<(), String>,
) -> Result<FlowCache, CacheError> {
    let version = check_frame(bytes.len(), bytes)?;
    let checksum_at = bytes.len() - 4;
    let stored = read_u32(bytes, checksum_at);
    let computed = crc32::crc32(&bytes[..checksum_at]);
    if stored != computed {
        return Err(CacheError::ChecksumMismatch { stored, computed });
    }
    let count_at = bytes.len() - TRAILER_LEN;
    let count = read_u64(bytes, count_at);
    decode_versioned(
        &mut Body::whole(&bytes[..count_at]),
        version,
        count,
        &mut receive,
    )
}

/// Checks the fixed parts at the start of a file of `len` bytes whose first
/// bytes are `head` (the magic number and the format version, or all of a
/// shorter file), and returns the format version.
pub(crate) fn check_frame(len: usize, head: &[u8]) -> Result<u32, CacheError> {
    if len == 0 {
        return Err(CacheError::Empty);
    }
    if len < MAGIC.len() || head.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(CacheError::NotACache);
    }
    if len < FRAME_LEN || head.len() < MAGIC.len() + VERSION_LEN {
        return Err(CacheError::Truncated { len });
    }
    let version = read_u32(head, MAGIC.len());
    if version == 0 {
        return Err(CacheError::Invalid {
            offset: MAGIC.len(),
            detail: "format version 0 does not exist; versions start at 1".to_string(),
        });
    }
    if version > FORMAT_VERSION {
        return Err(CacheError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(version)
}

/// Decodes the header, the `count` flows and the fragment table of `body`, a
/// file of format `version` whose frame and checksum were checked.
pub(crate) fn decode_versioned(
    body: &mut Body<'_>,
    version: u32,
    count: u64,
    receive: &mut dyn FnMut(CacheItem) -> Result<(), String>,
) -> Result<FlowCache, CacheError> {
    let body_start = MAGIC.len() + VERSION_LEN;
    if version == 1 {
        decode_body(
            body,
            body_start,
            count,
            version,
            |reader| {
                let flow = reader.postcard::<v1::Flow>()?;
                flow.to_snapshot()
                    .ok_or_else(|| format!("unknown close state {}", flow.closed))
            },
            |_| Ok((Vec::new(), 0)),
            receive,
        )
    } else {
        // Versions 2 to 4 share the flows of version 2 and differ only in the
        // fragment table.
        let fragments: FragmentDecoder = match version {
            2 => decode_fragments_v2,
            3 => decode_fragments_v3,
            _ => decode_fragments_v4,
        };
        decode_body(
            body,
            body_start,
            count,
            version,
            v2::read_flow,
            fragments,
            receive,
        )
    }
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// A decoder of one format version's fragment table: from the bytes after the
/// flows, it returns the datagrams and the number of bytes they took.
type FragmentDecoder = fn(&[u8]) -> Result<(Vec<DatagramSnapshot>, usize), String>;

/// Decodes the fragment table of a version 2 file from the bytes after the flows.
/// Returns the datagrams and the number of bytes they took.
fn decode_fragments_v2(rest: &[u8]) -> Result<(Vec<DatagramSnapshot>, usize), String> {
    let (datagrams, remaining) = postcard::take_from_bytes::<Vec<v2::Datagram>>(rest)
        .map_err(|err| format!("fragment table: {}", postcard_problem(&err)))?;
    let snapshots = datagrams.iter().map(v2::Datagram::to_snapshot).collect();
    Ok((snapshots, rest.len() - remaining.len()))
}

/// Decodes the fragment table of a version 3 file from the bytes after the flows.
/// Returns the datagrams and the number of bytes they took.
fn decode_fragments_v3(rest: &[u8]) -> Result<(Vec<DatagramSnapshot>, usize), String> {
    decode_fragment_table(rest, |datagram: v3::Datagram| datagram.to_snapshot())
}

/// Decodes the fragment table of a version 4 file as [`decode_fragments_v3`]
/// does.
fn decode_fragments_v4(rest: &[u8]) -> Result<(Vec<DatagramSnapshot>, usize), String> {
    decode_fragment_table(rest, v4::Datagram::into_snapshot)
}

/// Decodes a fragment table of datagrams of type `D` from the bytes after the
/// flows, and converts each with `to_snapshot`, whose error names the entry.
fn decode_fragment_table<D: serde::de::DeserializeOwned>(
    rest: &[u8],
    to_snapshot: impl Fn(D) -> Result<DatagramSnapshot, String>,
) -> Result<(Vec<DatagramSnapshot>, usize), String> {
    let (datagrams, remaining) = postcard::take_from_bytes::<Vec<D>>(rest)
        .map_err(|err| format!("fragment table: {}", postcard_problem(&err)))?;
    let snapshots = datagrams
        .into_iter()
        .enumerate()
        .map(|(index, datagram)| {
            to_snapshot(datagram)
                .map_err(|detail| format!("fragment table entry {}: {detail}", index + 1))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((snapshots, rest.len() - remaining.len()))
}

/// Decodes the body of a file whose flow records `read_flow` reads, and whose
/// fragment table `fragments` decodes from the bytes after the flows. `bytes`
/// ends before the trailer. The header is the same in every version so far.
fn decode_body(
    body: &mut Body<'_>,
    start: usize,
    count: u64,
    version: u32,
    read_flow: impl Fn(&mut Reader<'_>) -> Result<FlowSnapshot, String>,
    fragments: impl Fn(&[u8]) -> Result<(Vec<DatagramSnapshot>, usize), String>,
    receive: &mut dyn FnMut(CacheItem) -> Result<(), String>,
) -> Result<FlowCache, CacheError> {
    let invalid = |offset: usize, detail: String| CacheError::Invalid { offset, detail };
    let rejected = |detail: String| CacheError::Rejected { detail };
    let (header, mut at) = body
        .decode(start, |reader| reader.postcard::<v1::Header>())?
        .map_err(|err| invalid(start, format!("header: {err}")))?;
    let clock = header.clock.map(Timestamp::from_nanos);
    // Each flow takes at least 40 bytes, which bounds the room reserved with the
    // count by the file size, whatever the count claims.
    let capacity = count.min((body.len_after(at) / 40) as u64) as usize;
    receive(CacheItem::Header {
        version,
        writer: header.writer.clone(),
        clock,
        next_serial: header.next_serial,
        flows: capacity,
    })
    .map_err(rejected)?;
    for index in 0..count {
        let flow_start = at;
        let (flow, next) = body
            .decode(at, &read_flow)?
            .map_err(|err| invalid(flow_start, format!("flow {} of {count}: {err}", index + 1)))?;
        at = next;
        // A count that fits the file fits usize.
        receive(CacheItem::Flow(index as usize, flow)).map_err(rejected)?;
    }
    let rest = body.rest(at)?;
    let (datagrams, used) = fragments(rest).map_err(|detail| invalid(at, detail))?;
    let left = rest.len().saturating_sub(used);
    if left > 0 {
        return Err(invalid(
            at + used,
            format!(
                "{left} bytes left over after the {count} flows the trailer counts and the fragment table, if any"
            ),
        ));
    }
    Ok(FlowCache {
        version,
        writer: header.writer,
        snapshot: TrackerSnapshot {
            clock,
            next_serial: header.next_serial,
            flows: Vec::new(),
            fragments: datagrams,
        },
    })
}
