//! Reading whole captures with [`FileSource`], checking what the reader promises.

use std::io::{self, Cursor, Read};

use wsd_capture::{FileSource, PacketSource, ReadStats, Timestamp, MAX_CAPLEN};

/// Every packet record takes at least 16 bytes of the input: a classic pcap record
/// header, or the smallest pcapng packet block (a simple packet block without data).
const MIN_RECORD_LEN: usize = 16;

/// How many packets a byte of the input may be returned in. A capture found inside
/// a classic pcap record before damage is read again after that record's packet.
const MAX_READS_PER_BYTE: usize = 2;

/// Sizes of the pieces in which [`fuzz_capture`] reads its input a second time. The
/// input's length picks one, so that every size gets used.
const PIECE_LENGTHS: [usize; 4] = [1, 3, 61, 4096];

/// Maximum number of pieces [`fuzz_capture`] cuts an input into. Longer inputs get
/// longer pieces, so that a large seed is not read one byte per call.
const MAX_PIECES: usize = 256;

/// An owned copy of a [`wsd_capture::Packet`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketCopy {
    /// Capture time.
    pub ts: Timestamp,
    /// Link type.
    pub linktype: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire.
    pub orig_len: u32,
}

/// The result of reading a whole capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Message of the error that stopped opening or reading, if any.
    pub error: Option<String>,
    /// Packets returned before the end or the error.
    pub packets: Vec<PacketCopy>,
    /// The reader's counters at the end.
    pub stats: ReadStats,
    /// Bytes of the input consumed at the end.
    pub position: u64,
}

/// A reader that returns its bytes in pieces of at most `piece_len` bytes, with an
/// `Interrupted` error before every piece, as pipes and sockets may.
pub struct PieceReader {
    data: Vec<u8>,
    position: usize,
    piece_len: usize,
    interrupt_next: bool,
}

impl PieceReader {
    /// Creates a reader of `data` in pieces of at most `piece_len` bytes (at least 1).
    pub fn new(data: Vec<u8>, piece_len: usize) -> PieceReader {
        PieceReader {
            data,
            position: 0,
            piece_len: piece_len.max(1),
            interrupt_next: true,
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.interrupt_next {
            self.interrupt_next = false;
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.interrupt_next = true;
        let rest = &self.data[self.position..];
        let count = self.piece_len.min(out.len()).min(rest.len());
        out[..count].copy_from_slice(&rest[..count]);
        self.position += count;
        Ok(count)
    }
}

/// Reads `input` as a capture file twice, from memory and in small pieces, and checks
/// that both readings agree and keep the reader's promises.
///
/// The first reading gives the reader the input's true size, so its buffer fits an
/// input of up to 128 KiB, and the second a size of 0, so its buffer starts small and
/// grows.
pub fn fuzz_capture(input: &[u8]) {
    let whole = read_capture(Cursor::new(input.to_vec()), input.len(), input.len());
    let piece_len = PIECE_LENGTHS[input.len() % PIECE_LENGTHS.len()].max(input.len() / MAX_PIECES);
    // A size hint of 0 makes the reader start with its smallest buffer and grow it.
    let pieces = read_capture(PieceReader::new(input.to_vec(), piece_len), input.len(), 0);
    assert_eq!(
        whole, pieces,
        "reading in pieces of {piece_len} bytes differs from reading from memory"
    );
}

/// Reads a whole capture of `len` bytes from `reader`, checking after every call that
/// the reader's promises hold. `size_hint` is the input size given to the reader, which
/// sets the initial size of its read buffer.
///
/// # Panics
///
/// Panics when the reader returns more packets than `len` bytes can hold, more
/// bytes of packets than [`MAX_READS_PER_BYTE`] times `len`, or a packet longer
/// than [`MAX_CAPLEN`]. Also panics when its position moves backwards or past
/// the end, when a call after the end or an error returns anything but `Ok(None)`, and
/// when its counters disagree with the packets it returned.
pub fn read_capture(reader: impl Read + Send + 'static, len: usize, size_hint: usize) -> Reading {
    let mut source = match FileSource::from_reader("input".into(), reader, Some(size_hint as u64)) {
        Ok(source) => source,
        Err(error) => {
            return Reading {
                error: Some(error.to_string()),
                ..Reading::default()
            }
        }
    };

    let max_packets = len / MIN_RECORD_LEN;
    let max_packet_bytes = (MAX_READS_PER_BYTE * len) as u64;
    let mut packet_bytes = 0;
    let mut reading = Reading::default();
    let mut position = source.position();
    loop {
        match source.next_packet() {
            Ok(Some(packet)) => {
                assert!(
                    reading.packets.len() < max_packets,
                    "more than {max_packets} packets in {len} bytes"
                );
                assert!(
                    packet.data.len() <= MAX_CAPLEN as usize,
                    "packet of {} bytes is longer than MAX_CAPLEN",
                    packet.data.len()
                );
                packet_bytes += packet.data.len() as u64;
                assert!(
                    packet_bytes <= max_packet_bytes,
                    "more than {max_packet_bytes} bytes of packets in {len} bytes"
                );
                reading.packets.push(PacketCopy {
                    ts: packet.ts,
                    linktype: packet.linktype,
                    data: packet.data.to_vec(),
                    orig_len: packet.orig_len,
                });
            }
            Ok(None) => break,
            Err(error) => {
                reading.error = Some(error.to_string());
                break;
            }
        }
        assert!(
            source.position() >= position,
            "position moved back from {position} to {}",
            source.position()
        );
        position = source.position();
    }

    let after_end = source.next_packet();
    assert!(
        matches!(after_end, Ok(None)),
        "a call after the end returned {after_end:?}"
    );
    reading.position = source.position();
    assert!(
        reading.position <= len as u64,
        "position {} is past the end of the {len}-byte input",
        reading.position
    );
    reading.stats = source.stats().clone();
    assert_eq!(reading.stats.records, reading.packets.len() as u64);
    assert_eq!(reading.stats.packet_bytes, packet_bytes);
    reading
}
