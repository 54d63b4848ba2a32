//! Packet sources: where packets enter the wirespy pipeline.
//!
//! The pipeline is capture → decode (`wsd-decode`) → flow tracking (`wsd-flow`) →
//! formatting (`wsd-logfmt`). This crate provides the first step: a [`PacketSource`]
//! trait and [`FileSource`], a pure-Rust reader of classic pcap and pcapng files. Each
//! [`Packet`] carries its capture time at nanosecond precision, its link type and its
//! captured bytes, borrowed from the reader's buffer until the next call.
//!
//! [`FileSource`] streams its input through a fixed buffer, so memory stays bounded on
//! any file. [`FileSource::shared_buffer`] returns a [`SharedBytes`] reference to that
//! buffer, which keeps the bytes of the packets in it valid and unchanged after the reader
//! moves on, so other threads can use packets without copying them. While such a
//! reference is alive, the reader continues in another buffer at its next refill.
//! Malformed input makes it skip a record or stop reading, never panic, and
//! property tests feed it mutated files to check this. Damaged records are counted in
//! [`ReadStats`] and logged with `tracing`. [`PcapWriter`] writes classic pcap files, for
//! tests and fixture generators.
//!
//! # Example
//!
//! Write a two-packet capture into memory, then read it back:
//!
//! ```
//! use std::io::Cursor;
//! use wsd_capture::{FileSource, PacketSource, PcapWriter, Timestamp};
//!
//! let start = Timestamp::from_parts(1_700_000_000, 123_456_789);
//! let mut writer = PcapWriter::new(Vec::new(), 1, 65535, true)?;
//! writer.write_packet(start, &[0xaa; 60], 60)?;
//! writer.write_packet(start.add_nanos(1_000), &[0xbb; 54], 1514)?;
//! let bytes = writer.into_inner();
//!
//! let len = bytes.len() as u64;
//! let mut source = FileSource::from_reader("example.pcap".into(), Cursor::new(bytes), Some(len))?;
//! let first = source.next_packet()?.expect("first packet");
//! assert_eq!(first.ts.to_string(), "1700000000.123456789");
//! assert_eq!(first.linktype, 1);
//! assert_eq!(first.data.len(), 60);
//!
//! let second = source.next_packet()?.expect("second packet");
//! assert_eq!(second.orig_len, 1514);
//! assert!(source.next_packet()?.is_none());
//! assert_eq!(source.stats().records, 2);
//! assert_eq!(source.position(), len);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod file;
pub mod live;
mod source;
mod timestamp;
mod writer;

pub use error::CaptureError;
pub use file::{
    CaptureFormat, FileSource, ReadStats, SharedBytes, MAX_BLOCK_LEN, MAX_CAPLEN, MAX_INTERFACES,
    MAX_SNAPLEN_EXCESS,
};
pub use live::{Libpcap, LiveConfig, LiveError, LiveEvent, LiveSource, PacketFilter};
pub use source::{Packet, PacketSource};
pub use timestamp::Timestamp;
pub use writer::PcapWriter;
