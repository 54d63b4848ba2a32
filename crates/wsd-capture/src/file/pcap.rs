//! Classic pcap: a 24-byte file header, then records of a 16-byte header and the
//! captured bytes.
//!
//! The header's magic number gives the byte order and the time unit (0xa1b2c3d4 for
//! microseconds, 0xa1b23c4d for nanoseconds). A record has no length field of its own
//! beyond the captured length, so a corrupt captured length cannot be stepped over:
//! the next record is found by [`PcapReader::probe`] instead.

use std::io;

use pcap_parser::pcap::{parse_pcap_header, PcapHeader};

use super::input::Input;
use super::step::{caplen_is_absurd, near_anchor, PacketMeta, Probe, Problem, Step};
use super::ByteOrder;
use crate::Timestamp;

/// Length of the file header.
pub(super) const HEADER_LEN: usize = 24;

/// Length of a record header.
pub(super) const RECORD_HEADER_LEN: usize = 16;

/// The largest wire length that a record found after damage may claim: 1 MiB, above
/// any frame a capture holds, even one that a network card joined from segments.
const MAX_PROBED_WIRE_LEN: u32 = 1 << 20;

/// The only major version of the format.
pub(super) const SUPPORTED_MAJOR: u16 = 2;

/// Reason a classic pcap file header was rejected.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HeaderError {
    /// The magic number is not one of the four classic pcap magics.
    NotPcap,
    /// The major version is not 2.
    UnsupportedVersion { major: u16, minor: u16 },
}

/// The reader state of a classic pcap file: the fields of its header.
#[derive(Debug)]
pub(super) struct PcapReader {
    order: ByteOrder,
    nanosecond: bool,
    linktype: u32,
    snaplen: u32,
}

impl PcapReader {
    /// Parses the file header at the start of `bytes`, which contains at least `HEADER_LEN`
    /// bytes.
    pub(super) fn from_header(bytes: &[u8]) -> Result<PcapReader, HeaderError> {
        let header: PcapHeader = match parse_pcap_header(bytes) {
            Ok((_, header)) => header,
            Err(_) => return Err(HeaderError::NotPcap),
        };
        // pcap-parser also accepts the little-endian magic of the "modified" pcap format
        // of old Red Hat patches, whose records are longer. This reader does not.
        if header.is_modified_format() {
            return Err(HeaderError::NotPcap);
        }
        if header.version_major != SUPPORTED_MAJOR {
            return Err(HeaderError::UnsupportedVersion {
                major: header.version_major,
                minor: header.version_minor,
            });
        }

        let order = if header.is_bigendian() {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        };
        // The upper 16 bits of the network field hold FCS flags, not the link type.
        // NOTE: the FCS length they give is dropped, so frames that end in an FCS are
        // returned with it and the decoder sees it as trailing bytes.
        let linktype = (header.network.0 as u32) & 0xffff;
        Ok(PcapReader {
            order,
            nanosecond: header.is_nanosecond_precision(),
            linktype,
            snaplen: header.snaplen,
        })
    }

    /// Returns the snapshot length of the file header.
    pub(super) fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Returns true for the big-endian byte order.
    pub(super) fn is_big_endian(&self) -> bool {
        self.order == ByteOrder::Big
    }

    /// Returns true when record times count nanoseconds, not microseconds.
    pub(super) fn is_nanosecond(&self) -> bool {
        self.nanosecond
    }

    /// Tells whether `head` starts a record of this capture, as the search after
    /// damage needs it. Stricter than [`PcapReader::next`], it takes only a record
    /// with a sub-second field below a second, a wire length from its captured
    /// length (and at least 1 byte) up to 1 MiB, and a time within a day of
    /// `anchor`.
    pub(super) fn probe(&self, head: &[u8], anchor: Option<Timestamp>) -> Probe {
        let Some(header) = head.get(..RECORD_HEADER_LEN) else {
            return Probe::Need(RECORD_HEADER_LEN);
        };
        let caplen = self.order.u32_at(header, 8);
        let origlen = self.order.u32_at(header, 12);
        if caplen_is_absurd(caplen, self.snaplen)
            || !(caplen.max(1)..=MAX_PROBED_WIRE_LEN).contains(&origlen)
        {
            return Probe::Absent;
        }
        let fraction = u64::from(self.order.u32_at(header, 4));
        let nanos = if self.nanosecond {
            fraction
        } else {
            fraction * 1_000
        };
        if nanos >= 1_000_000_000 {
            return Probe::Absent;
        }
        let ts = Timestamp::from_parts(i64::from(self.order.u32_at(header, 0)), nanos);
        if !near_anchor(ts, anchor) {
            return Probe::Absent;
        }
        Probe::Record {
            len: RECORD_HEADER_LEN + caplen as usize,
            ts: Some(ts),
        }
    }

    /// Returns true if stepping from the record that starts `bytes` to the next
    /// one by captured lengths, as [`PcapReader::next`] steps, reaches index
    /// `at`. A record that `next` abandons, or a header past the end of
    /// `bytes`, ends the steps.
    pub(super) fn steps_to(&self, bytes: &[u8], at: usize) -> bool {
        let mut start = 0;
        while start < at {
            let Some(header) = bytes.get(start..start + RECORD_HEADER_LEN) else {
                return false;
            };
            let caplen = self.order.u32_at(header, 8);
            let empty = caplen == 0 && self.order.u32_at(header, 12) == 0;
            if empty || caplen_is_absurd(caplen, self.snaplen) {
                return false;
            }
            start += RECORD_HEADER_LEN + caplen as usize;
        }
        start == at
    }

    /// Reads the next record from `input`.
    pub(super) fn next(&mut self, input: &mut Input) -> io::Result<Step> {
        let offset = input.offset();
        if !input.fill(RECORD_HEADER_LEN)? {
            return Ok(end_or_truncated(input, offset));
        }

        let caplen = self.order.u32_at(input.available(), 8);
        // Read as a record, another capture's file header has its time zone
        // field as the captured length: 0 as libpcap writes it, or a negative
        // offset, which is beyond the snapshot length. Only such records are
        // checked, so nearly every packet skips the check.
        // NOTE: a header with a positive offset below the snapshot length is
        // missed. Reading then goes on at a later record found by the search
        // after damage, and the next capture's records are read with this
        // capture's link type.
        if (caplen == 0 || caplen > self.snaplen) && super::starts_capture(input.available(), true)
        {
            return Ok(Step::NextFile { offset });
        }
        if caplen_is_absurd(caplen, self.snaplen) {
            let snaplen = self.snaplen;
            let problem = Problem::AbsurdCaplen { caplen, snaplen };
            return Ok(Step::Abandoned { offset, problem });
        }

        // `caplen` is at most MAX_CAPLEN here, so the record fits the read buffer.
        let record_len = RECORD_HEADER_LEN + caplen as usize;
        if !input.fill(record_len)? {
            return Ok(Step::Truncated { offset });
        }

        // The whole record is in the buffer, so its header is read in place.
        let mut header = [0; RECORD_HEADER_LEN];
        if let Some(bytes) = input.available().get(..RECORD_HEADER_LEN) {
            header.copy_from_slice(bytes);
        }
        let ts_sec = self.order.u32_at(&header, 0);
        let ts_fraction = self.order.u32_at(&header, 4);
        let origlen = self.order.u32_at(&header, 12);
        if caplen == 0 && origlen == 0 {
            // No packet has 0 bytes on the wire: zeroed bytes or a header read
            // out of place. The next record is searched for.
            let problem = Problem::EmptyRecord;
            return Ok(Step::Abandoned { offset, problem });
        }

        let second = if self.nanosecond {
            1_000_000_000
        } else {
            1_000_000
        };
        let overflow = ts_fraction >= second;
        // A field of a second or more is damaged. It is cut to its largest
        // valid value, so that the time stays within the second that the
        // seconds field gives instead of moving the capture clock by up to 71
        // minutes.
        let fraction = u64::from(ts_fraction.min(second - 1));
        let nanos = if self.nanosecond {
            fraction
        } else {
            fraction * 1_000
        };
        let data_start = input.start() + RECORD_HEADER_LEN;
        let meta = PacketMeta {
            ts: Timestamp::from_parts(i64::from(ts_sec), nanos),
            linktype: self.linktype,
            data: data_start..data_start + caplen as usize,
            // A record may claim fewer bytes on the wire than it captured. The captured
            // bytes are real, so the wire length is raised to match them.
            orig_len: origlen.max(caplen),
            // The wire lengths that the search after damage accepts.
            trusted_time: !overflow && (caplen.max(1)..=MAX_PROBED_WIRE_LEN).contains(&origlen),
            // Classic pcap times, of at most 2^32 seconds, all fit.
            clamped_time: false,
            subsecond_overflow: overflow.then_some(ts_fraction),
        };
        input.consume(record_len);
        Ok(Step::Packet(meta))
    }
}

/// Returns `End` when no byte is left and `Truncated` when a partial record is.
pub(super) fn end_or_truncated(input: &Input, offset: u64) -> Step {
    if input.available().is_empty() {
        Step::End
    } else {
        Step::Truncated { offset }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{pcap_file, PcapRecord};
    use super::super::{FileSource, MAX_CAPLEN};
    use super::*;
    use crate::PacketSource;
    use std::io::Cursor;

    fn open(bytes: Vec<u8>) -> FileSource {
        FileSource::from_reader("test.pcap".into(), Cursor::new(bytes), None).unwrap()
    }

    fn record(secs: u32, fraction: u32, data: &[u8]) -> PcapRecord {
        PcapRecord {
            secs,
            fraction,
            caplen: data.len() as u32,
            orig_len: data.len() as u32,
            data: data.to_vec(),
        }
    }

    fn three_records() -> Vec<PcapRecord> {
        vec![
            record(1_700_000_000, 1, &[1; 60]),
            record(1_700_000_001, 999_999, &[2; 14]),
            record(1_700_000_002, 0, &[3; 1514]),
        ]
    }

    #[test]
    fn reads_both_byte_orders_and_units() {
        for big_endian in [false, true] {
            for nanosecond in [false, true] {
                let bytes = pcap_file(big_endian, nanosecond, 1, 65535, &three_records());
                let mut source = open(bytes);
                let unit = if nanosecond { 1 } else { 1_000 };

                let first = source.next_packet().unwrap().unwrap();
                assert_eq!(first.ts.secs(), 1_700_000_000);
                assert_eq!(i64::from(first.ts.subsec_nanos()), unit);
                assert_eq!(first.data, &[1; 60]);
                assert_eq!(first.linktype, 1);

                let second = source.next_packet().unwrap().unwrap();
                assert_eq!(i64::from(second.ts.subsec_nanos()), 999_999 * unit);
                assert_eq!(second.data.len(), 14);

                let third = source.next_packet().unwrap().unwrap();
                assert_eq!(third.data, &[3; 1514][..]);
                assert!(source.next_packet().unwrap().is_none());
                assert_eq!(source.stats().records, 3);
                assert_eq!(source.stats().packet_bytes, 60 + 14 + 1514);
            }
        }
    }

    #[test]
    fn linktype_keeps_low_16_bits() {
        let mut bytes = pcap_file(false, false, 1, 65535, &three_records());
        bytes[20..24].copy_from_slice(&0x1234_0071u32.to_le_bytes());
        let mut source = open(bytes);

        assert_eq!(source.next_packet().unwrap().unwrap().linktype, 113);
    }

    #[test]
    fn header_rejects_other_major_version() {
        let mut bytes = pcap_file(false, false, 1, 65535, &[]);
        bytes[4..6].copy_from_slice(&1u16.to_le_bytes());

        let result = PcapReader::from_header(&bytes);
        assert_eq!(
            result.unwrap_err(),
            HeaderError::UnsupportedVersion { major: 1, minor: 4 }
        );
    }

    #[test]
    fn caplen_above_origlen_raises_origlen() {
        let mut records = three_records();
        records[0].orig_len = 1;
        let mut source = open(pcap_file(false, false, 1, 65535, &records));

        let packet = source.next_packet().unwrap().unwrap();
        assert_eq!(packet.data.len(), 60);
        assert_eq!(packet.orig_len, 60);
    }

    #[test]
    fn caplen_slightly_above_snaplen_is_read() {
        let records = vec![record(1, 0, &[7; 1514]), record(2, 0, &[8; 60])];
        let mut source = open(pcap_file(false, false, 1, 1500, &records));

        assert_eq!(source.next_packet().unwrap().unwrap().data.len(), 1514);
        assert_eq!(source.next_packet().unwrap().unwrap().data.len(), 60);
        assert!(source.next_packet().unwrap().is_none());
        assert_eq!(source.stats().malformed_records, 0);
    }

    /// A record whose captured length is absurd cannot be stepped over, so the
    /// next record is searched for: it is read, and so is every record after it.
    #[test]
    fn absurd_caplen_skipped_to_next_record() {
        for (caplen, snaplen) in [
            (u32::MAX, 65535),
            (MAX_CAPLEN + 1, 0),
            (0x6350_3d00, 65535),
            (1500 + 65536 + 1, 1500),
        ] {
            let mut records = three_records();
            records[1].caplen = caplen;
            let mut source = open(pcap_file(false, false, 1, snaplen, &records));

            assert_eq!(source.next_packet().unwrap().unwrap().data, &[1; 60]);
            assert_eq!(source.next_packet().unwrap().unwrap().data, &[3; 1514]);
            assert!(source.next_packet().unwrap().is_none());
            let stats = source.stats();
            assert_eq!(stats.records, 2);
            assert_eq!(stats.malformed_records, 1);
            assert_eq!(stats.skipped_bytes, 16 + 14);
            assert_eq!(stats.stopped_at, None);
            assert_eq!(stats.truncated_at, None);
        }
    }

    /// After an absurd captured length, bytes that hold no record within a day
    /// of the packets read end the file there.
    #[test]
    fn absurd_caplen_without_later_record_stops() {
        let mut records = three_records();
        records[1].caplen = u32::MAX;
        // Three days later: too far to be taken for the next record.
        records[2].secs += 3 * 86_400;
        let bytes = pcap_file(false, false, 1, 65535, &records);
        let mut source = open(bytes.clone());

        assert!(source.next_packet().unwrap().is_some());
        assert!(source.next_packet().unwrap().is_none());
        let stats = source.stats();
        assert_eq!(stats.records, 1);
        assert_eq!(stats.malformed_records, 1);
        assert_eq!(stats.stopped_at, Some(24 + 16 + 60));
        assert_eq!(stats.skipped_bytes, bytes.len() as u64 - (24 + 16 + 60));
    }

    /// Damage right before the capture's clock steps by years: no record after
    /// it is dated near the packets before, but a run of 8 records at any date
    /// is found, so the rest of the file is read.
    #[test]
    fn damage_before_clock_step_read() {
        let mut records: Vec<PcapRecord> = (0..20)
            .map(|index| {
                let step = if index > 3 { 5 * 365 * 86_400 } else { 0 };
                record(1_700_000_000 + step + index, 0, &[index as u8; 60])
            })
            .collect();
        records[3].caplen = u32::MAX;
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));

        assert_eq!(seconds.len(), 3 + 16);
        assert_eq!(seconds[3], 1_700_000_000 + 5 * 365 * 86_400 + 4);
        assert_eq!(stats.malformed_records, 1);
        assert_eq!(stats.stopped_at, None);
        assert_eq!(stats.skipped_bytes, 16 + 60);

        // Fewer than 8 records after the step are not enough.
        records.truncate(4 + 7);
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));
        assert_eq!(seconds.len(), 3);
        assert!(stats.stopped_at.is_some());
    }

    /// A packet dated far from the packets before and after it, as by one
    /// flipped bit of its time, gets the time of the packet before it, so that
    /// the capture clock does not jump. Two such packets in a row, or one at
    /// the end, keep their dates, because a clock that steps looks the same.
    #[test]
    fn lone_bogus_time_replaced() {
        let dated = |odd: &[u32]| -> Vec<PcapRecord> {
            (0..20)
                .map(|index| {
                    let secs = 1_700_000_000 + index;
                    let secs = if odd.contains(&index) {
                        secs ^ (1 << 30)
                    } else {
                        secs
                    };
                    record(secs, 0, &[1; 60])
                })
                .collect()
        };
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &dated(&[10])));
        assert_eq!(seconds.len(), 20);
        assert_eq!(seconds[10], 1_700_000_009);
        assert_eq!(seconds[11], 1_700_000_011);
        assert_eq!(stats.lone_times, 1);
        assert_eq!(stats.malformed_records, 0);

        // A flipped bit that dates the packet in the past is replaced too.
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &dated(&[3, 12])));
        assert_eq!(seconds[3], 1_700_000_002);
        assert_eq!(seconds[12], 1_700_000_011);
        assert_eq!(stats.lone_times, 2);

        for odd in [[10, 11], [19, 19]] {
            let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &dated(&odd)));
            assert_eq!(seconds.len(), 20);
            let bogus = (1_700_000_000 + odd[0]) ^ (1 << 30);
            assert_eq!(seconds[odd[0] as usize], i64::from(bogus));
            assert_eq!(stats.lone_times, 0);
        }
    }

    /// A lone packet dated minutes off gets the time of the packet before it
    /// too. A packet within a minute, or one after a quiet gap that the
    /// records after it share, keeps its time.
    #[test]
    fn lone_time_minutes_off_replaced() {
        let dated = |times: &[u32]| -> Vec<PcapRecord> {
            times
                .iter()
                .map(|&secs| record(secs, 0, &[1; 60]))
                .collect()
        };
        let t = 1_700_000_000;
        let cases: [(&[u32], &[i64], u64); 4] = [
            (&[t, t + 1, t + 1025, t + 2, t + 3], &[1_700_000_001], 1),
            (&[t, t + 1, t - 2000, t + 2, t + 3], &[1_700_000_001], 1),
            (&[t, t + 1, t + 31, t + 2, t + 3], &[1_700_000_031], 0),
            (
                &[t, t + 1, t + 7200, t + 7201, t + 7202],
                &[1_700_007_200],
                0,
            ),
        ];
        for (times, expected, lone) in cases {
            let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &dated(times)));
            assert_eq!(seconds.len(), 5, "{times:?}");
            assert_eq!(&seconds[2..3], expected, "{times:?}");
            assert_eq!(stats.lone_times, lone, "{times:?}");
        }
    }

    /// A lone time is still replaced after 16 records dated far from the
    /// packets before them stopped the checks for records read out of place.
    #[test]
    fn lone_time_replaced_after_failed_checks() {
        let mut seconds = Vec::new();
        let mut now = 1_700_000_000;
        for _ in 0..16 {
            seconds.extend([now, now + 1, now + 172_800, now + 172_801, now + 2]);
            now += 10;
        }
        let lone_at = seconds.len() + 1;
        seconds.extend([now, (now + 1) ^ (1 << 30), now + 2, now + 3]);
        let records: Vec<PcapRecord> = seconds
            .iter()
            .map(|&secs| record(secs, 0, &[1; 60]))
            .collect();

        let (read, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));

        assert_eq!(read.len(), seconds.len());
        assert_eq!(read[lone_at], i64::from(now));
        assert_eq!(stats.lone_times, 1);
        assert_eq!(stats.malformed_records, 0);
    }

    /// A sub-second field of a second or more is damaged: the packet is dated
    /// at the last microsecond or nanosecond of its second instead of that
    /// far ahead, and counted. Its time does not anchor the date checks.
    #[test]
    fn subsecond_overflow_cut_to_its_second() {
        for (nanosecond, overflows, expected) in [
            (false, [1_000_000, u32::MAX], 999_999_000),
            (true, [1_000_000_000, u32::MAX], 999_999_999),
        ] {
            let records = [
                record(1_700_000_000, 1, &[1; 60]),
                record(1_700_000_001, overflows[0], &[2; 60]),
                record(1_700_000_002, overflows[1], &[3; 60]),
                record(1_700_000_003, 0, &[4; 60]),
            ];
            let mut source = open(pcap_file(false, nanosecond, 1, 65535, &records));
            let mut times = Vec::new();
            while let Some(packet) = source.next_packet().unwrap() {
                times.push(packet.ts);
            }

            assert_eq!(times.len(), 4, "nanosecond {nanosecond}");
            for (index, secs) in [(1, 1_700_000_001), (2, 1_700_000_002)] {
                assert_eq!(times[index].secs(), secs, "nanosecond {nanosecond}");
                assert_eq!(
                    times[index].subsec_nanos(),
                    expected,
                    "nanosecond {nanosecond}"
                );
            }
            assert_eq!(times[3].secs(), 1_700_000_003);
            let stats = source.stats();
            assert_eq!(stats.subsecond_overflows, 2, "nanosecond {nanosecond}");
            assert_eq!(stats.lone_times, 0, "nanosecond {nanosecond}");
            assert_eq!(source.time_anchor, Some(times[3]));
        }
    }

    /// Zeroed bytes at the end, as a recorder that crashed may leave them, end
    /// reading with a warning instead of giving empty packets.
    #[test]
    fn zeroed_tail_ends_reading() {
        let mut bytes = pcap_file(false, false, 1, 65535, &three_records());
        let end = bytes.len() as u64;
        bytes.resize(bytes.len() + 65536, 0);
        let mut source = open(bytes);

        let mut count = 0;
        while source.next_packet().unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, 3);
        let stats = source.stats();
        assert_eq!(stats.malformed_records, 1);
        assert_eq!(stats.stopped_at, Some(end));
        assert_eq!(stats.skipped_bytes, 65536);
    }

    /// A record dated within a day is not taken after damage unless the record
    /// after it starts where it ends, or the input ends there.
    #[test]
    fn lone_plausible_record_not_taken() {
        let mut records = three_records();
        records[1].caplen = u32::MAX;
        // The third record claims 1,000 more bytes than it holds, so the record
        // that would follow it starts in the middle of the fourth.
        records[2].caplen = 1514 + 1000;
        records.push(record(1_700_000_003, 0, &[4; 2000]));
        let mut source = open(pcap_file(false, false, 1, 65535, &records));

        assert_eq!(source.next_packet().unwrap().unwrap().data, &[1; 60]);
        assert_eq!(source.next_packet().unwrap().unwrap().data, &[4; 2000]);
        assert!(source.next_packet().unwrap().is_none());
        let stats = source.stats();
        assert_eq!(stats.records, 2);
        assert_eq!(stats.skipped_bytes, 16 + 14 + 16 + 1514);
        assert_eq!(stats.stopped_at, None);
    }

    /// Reads every packet of `bytes` and returns their times in seconds.
    fn seconds_of(bytes: Vec<u8>) -> (Vec<i64>, crate::ReadStats) {
        let mut source = open(bytes);
        let mut seconds = Vec::new();
        while let Some(packet) = source.next_packet().unwrap() {
            seconds.push(packet.ts.secs());
        }
        (seconds, source.stats().clone())
    }

    /// A captured length 4 bytes too long makes every later record header be
    /// read 4 bytes late, as a record dated in 1970 whose length puts the next
    /// one 4 bytes late too. The first such record is passed over, and the
    /// records after it are read in place.
    #[test]
    fn records_out_of_place_realigned() {
        let mut records: Vec<PcapRecord> = (0..8)
            .map(|index| record(1_700_000_000 + index, 500_000, &[index as u8; 60]))
            .collect();
        records[2].caplen += 4;
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));

        let expected: Vec<i64> = [0, 1, 2, 4, 5, 6, 7]
            .iter()
            .map(|index| 1_700_000_000 + index)
            .collect();
        assert_eq!(seconds, expected);
        assert_eq!(stats.malformed_records, 1);
        assert_eq!(stats.skipped_bytes, 16 + 60 - 4);
    }

    /// A header read out of place that ends, by chance, where a record starts
    /// is still searched when it fails the probe itself. Here one dated in 1970
    /// with a wire length of 16 MiB takes in the two records after it.
    #[test]
    fn implausible_record_taking_in_records_searched() {
        let mut records: Vec<PcapRecord> = (0..8)
            .map(|index| record(1_700_000_000 + index, 500_000, &[index as u8; 60]))
            .collect();
        records[2].secs = 100;
        records[2].caplen += 2 * (16 + 60);
        records[2].orig_len = 1 << 24;
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));

        let expected: Vec<i64> = [0, 1, 3, 4, 5, 6, 7]
            .iter()
            .map(|index| 1_700_000_000 + index)
            .collect();
        assert_eq!(seconds, expected);
        assert_eq!(stats.malformed_records, 1);
        assert_eq!(stats.skipped_bytes, 16 + 60);
    }

    /// A packet dated far from the others, whose records go on where it ends,
    /// is read as a packet at the time of the one before it, and a capture
    /// whose clock jumps for good is read as it is.
    #[test]
    fn odd_times_in_place_kept() {
        let mut records: Vec<PcapRecord> = (0..6)
            .map(|index| record(1_700_000_000 + index, 0, &[1; 60]))
            .collect();
        records[2].secs = 86_400;
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));
        assert_eq!(seconds.len(), 6);
        assert_eq!(seconds[2], 1_700_000_001);
        assert_eq!(stats.malformed_records, 0);

        for record in &mut records[3..] {
            record.secs += 86_400 * 365;
        }
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));
        assert_eq!(seconds.len(), 6);
        assert_eq!(stats.malformed_records, 0);
    }

    /// Runs of packets dated far from the others are read whole. The cases are
    /// two packets in a row with a bogus date, one such packet in the middle
    /// and one at the end, and two clocks 30 days apart taking turns every 3
    /// packets.
    #[test]
    fn runs_of_odd_times_kept() {
        let times = |odd: &dyn Fn(u32) -> bool| -> Vec<PcapRecord> {
            (0..200)
                .map(|index| {
                    let secs = if odd(index) {
                        86_400
                    } else {
                        1_700_000_000 + index
                    };
                    record(secs, 0, &[1; 60])
                })
                .collect()
        };
        let cases: [(&str, &dyn Fn(u32) -> bool); 3] = [
            ("two bogus dates", &|index| index == 100 || index == 101),
            ("bogus dates mid and last", &|index| {
                index == 50 || index == 199
            }),
            ("clocks taking turns", &|index| (index / 3) % 2 == 1),
        ];
        for (case, odd) in cases {
            let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &times(odd)));
            assert_eq!(seconds.len(), 200, "{case}");
            assert_eq!(stats.malformed_records, 0, "{case}");
            assert_eq!(stats.skipped_bytes, 0, "{case}");
        }
    }

    /// Times that jump back and forth at every packet are all read, and the
    /// search for records out of place stops after a few such packets.
    #[test]
    fn alternating_times_all_read() {
        let records: Vec<PcapRecord> = (0..100)
            .map(|index| record(1_700_000_000 + (index % 2) * 86_400 * 30, 0, &[1; 60]))
            .collect();
        let (seconds, stats) = seconds_of(pcap_file(false, false, 1, 65535, &records));
        assert_eq!(seconds.len(), 100);
        assert_eq!(stats.malformed_records, 0);
    }

    #[test]
    fn cut_at_every_length_returns_complete_records() {
        let records = three_records();
        let bytes = pcap_file(true, true, 1, 65535, &records);
        let ends = [24, 24 + 16 + 60, 24 + 16 + 60 + 16 + 14, bytes.len()];

        for cut in HEADER_LEN..=bytes.len() {
            let mut source = open(bytes[..cut].to_vec());
            let mut count = 0;
            while source.next_packet().unwrap().is_some() {
                count += 1;
            }

            let complete = ends.iter().filter(|&&end| end <= cut).count() - 1;
            assert_eq!(count, complete, "file cut at {cut} bytes");
            let cut_record = ends.iter().copied().find(|&end| end >= cut);
            if cut_record == Some(cut) {
                assert_eq!(source.stats().truncated_at, None, "cut at {cut}");
            } else {
                assert_eq!(
                    source.stats().truncated_at,
                    Some(ends[complete] as u64),
                    "cut at {cut}"
                );
            }
            assert_eq!(source.position(), cut as u64, "cut at {cut}");
        }
    }

    #[test]
    fn header_only_file_has_no_packets() {
        let mut source = open(pcap_file(false, false, 1, 65535, &[]));

        assert!(source.next_packet().unwrap().is_none());
        assert_eq!(source.stats().records, 0);
        assert_eq!(source.stats().truncated_at, None);
    }
}
