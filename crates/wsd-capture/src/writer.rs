//! [`PcapWriter`]: a writer of little-endian classic pcap files.

use std::io::{self, Write};

use crate::Timestamp;

/// A writer of classic pcap files in little-endian byte order, version 2.4.
///
/// The file header is written on creation and each packet becomes one record. Writes go
/// straight to `W`, two per packet, so wrap a file in a [`std::io::BufWriter`].
///
/// ```
/// use wsd_capture::{PcapWriter, Timestamp};
///
/// let mut writer = PcapWriter::new(Vec::new(), 1, 65535, false)?;
/// writer.write_packet(Timestamp::from_parts(1_700_000_000, 0), &[0; 60], 60)?;
/// let bytes = writer.into_inner();
/// assert_eq!(bytes.len(), 24 + 16 + 60);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    nanosecond: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Creates a writer and writes the file header.
    ///
    /// `linktype` is a pcap `LINKTYPE_*` number (1 is Ethernet) and `snaplen` the
    /// snapshot length recorded in the header. With `nanosecond` the file gets the magic
    /// number 0xa1b23c4d and nanosecond record times. Without it, the magic number is
    /// 0xa1b2c3d4 and times are truncated to microseconds.
    ///
    /// # Errors
    ///
    /// Any error of `out`.
    pub fn new(
        mut out: W,
        linktype: u32,
        snaplen: u32,
        nanosecond: bool,
    ) -> io::Result<PcapWriter<W>> {
        let magic: u32 = if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&magic.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // Bytes 8..16 are the time zone offset and the time accuracy, both 0.
        header[16..20].copy_from_slice(&snaplen.to_le_bytes());
        header[20..24].copy_from_slice(&linktype.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, nanosecond })
    }

    /// Writes one packet record.
    ///
    /// `data` is written in full, even beyond the snapshot length or above `orig_len`,
    /// so that tests can produce such records.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] when `ts` is before 1970 or after 2106 (classic
    /// pcap stores unsigned 32-bit seconds) or `data` is longer than `u32::MAX` bytes,
    /// and any error of the underlying writer.
    pub fn write_packet(&mut self, ts: Timestamp, data: &[u8], orig_len: u32) -> io::Result<()> {
        let secs = u32::try_from(ts.secs()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("timestamp {ts} is outside the range of classic pcap (1970 to 2106)"),
            )
        })?;
        let caplen = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "packet of {} bytes is too long for a pcap record",
                    data.len()
                ),
            )
        })?;
        let fraction = if self.nanosecond {
            ts.subsec_nanos()
        } else {
            ts.subsec_micros()
        };

        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&fraction.to_le_bytes());
        header[8..12].copy_from_slice(&caplen.to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(data)
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// Any error of the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Returns a reference to the underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Returns the underlying writer, without flushing it.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileSource, PacketSource};
    use std::io::Cursor;

    fn read_back(bytes: Vec<u8>) -> Vec<(Timestamp, u32, Vec<u8>, u32)> {
        let mut source = FileSource::from_reader("written.pcap".into(), Cursor::new(bytes), None)
            .expect("written file opens");
        let mut packets = Vec::new();
        while let Some(packet) = source.next_packet().expect("written file reads") {
            packets.push((
                packet.ts,
                packet.linktype,
                packet.data.to_vec(),
                packet.orig_len,
            ));
        }
        packets
    }

    #[test]
    fn round_trip_keeps_fields() {
        let ts = Timestamp::from_parts(1_700_000_000, 123_456_789);
        for (nanosecond, expected_nanos) in [(false, 123_456_000), (true, 123_456_789)] {
            let mut writer = PcapWriter::new(Vec::new(), 113, 262_144, nanosecond).unwrap();
            writer.write_packet(ts, &[9; 20], 1500).unwrap();
            writer.write_packet(ts.add_nanos(1_000), &[], 60).unwrap();

            let packets = read_back(writer.into_inner());
            assert_eq!(packets.len(), 2);
            assert_eq!(packets[0].0.secs(), 1_700_000_000);
            assert_eq!(packets[0].0.subsec_nanos(), expected_nanos);
            assert_eq!(packets[0].1, 113);
            assert_eq!(packets[0].2, vec![9; 20]);
            assert_eq!(packets[0].3, 1500);
            assert!(packets[1].2.is_empty());
        }
    }

    #[test]
    fn header_fields() {
        let writer = PcapWriter::new(Vec::new(), 1, 1500, true).unwrap();
        let bytes = writer.into_inner();

        assert_eq!(bytes[0..4], [0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(bytes[16..20], 1500u32.to_le_bytes());
        assert_eq!(bytes[20..24], 1u32.to_le_bytes());
    }

    #[test]
    fn rejects_time_outside_pcap_range() {
        let mut writer = PcapWriter::new(Vec::new(), 1, 65535, false).unwrap();

        let before_epoch = writer.write_packet(Timestamp::from_nanos(-1), &[0; 4], 4);
        assert_eq!(
            before_epoch.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let after_2106 = writer.write_packet(Timestamp::from_parts(1 << 32, 0), &[0; 4], 4);
        assert_eq!(after_2106.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(writer.get_ref().len(), 24);
    }
}
