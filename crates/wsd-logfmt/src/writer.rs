//! A writer of flow records and packet lines to any `io::Write`.

use std::io::{self, Write};

use wsd_capture::Timestamp;
use wsd_decode::Decoded;
use wsd_flow::{FlowRecord, PacketOutcome};

use crate::flow_json::format_flow_json;
use crate::flow_record::format_flow_record_with;
use crate::local_time::LocalTimeFormatter;
use crate::options::{OutputFormat, RecordOptions};
use crate::packet_json::format_packet_json;
use crate::packet_line::format_packet_line;
use crate::stats::{format_stats_json, format_stats_text, StatsRecord};

/// Bytes reserved up front for one line, so that the buffer does not grow. The
/// longest lines, with two 39-byte IPv6 addresses and every number at its
/// maximum, are measured by `longest_lines_fit_initial_capacity`.
const LINE_CAPACITY: usize = 2048;

/// A writer of flow record lines and packet lines.
///
/// Each line is formatted into a buffer that is reused from line to line and then
/// passed to `inner` with one `write_all` call. Wrap files and stdout in a
/// [`std::io::BufWriter`], because each call would otherwise be a system call.
#[derive(Debug)]
pub struct LogWriter<W> {
    inner: W,
    line: Vec<u8>,
    clock: LocalTimeFormatter,
    format: OutputFormat,
    options: RecordOptions,
}

impl<W: Write> LogWriter<W> {
    /// Creates a writer of text records to `inner`, with default
    /// [`RecordOptions`], that formats flow start times with `clock`.
    pub fn new(inner: W, clock: LocalTimeFormatter) -> LogWriter<W> {
        LogWriter {
            inner,
            line: Vec::with_capacity(LINE_CAPACITY),
            clock,
            format: OutputFormat::Text,
            options: RecordOptions::default(),
        }
    }

    /// Sets the format of the flow and statistics records and of the packet
    /// lines written from now on.
    pub fn with_format(mut self, format: OutputFormat) -> LogWriter<W> {
        self.format = format;
        self
    }

    /// Sets the options of the flow records written from now on.
    pub fn with_record_options(mut self, options: RecordOptions) -> LogWriter<W> {
        self.options = options;
        self
    }

    /// Returns the format of flow and statistics records.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Writes the flow record of `record` in the writer's format.
    ///
    /// # Errors
    ///
    /// Returns the error of the underlying writer.
    pub fn write_flow_record(&mut self, record: &FlowRecord) -> io::Result<()> {
        self.line.clear();
        format_record(
            &mut self.line,
            record,
            &mut self.clock,
            self.format,
            &self.options,
        );
        self.inner.write_all(&self.line)
    }

    /// Returns a formatter of flow records in this writer's format and with its
    /// options, to format records in another thread.
    pub fn record_formatter(&self) -> FlowRecordFormatter {
        FlowRecordFormatter {
            clock: self.clock.clone(),
            format: self.format,
            options: self.options,
        }
    }

    /// Writes flow records that a [`FlowRecordFormatter`] of this writer
    /// formatted.
    ///
    /// # Errors
    ///
    /// Returns the error of the underlying writer.
    pub fn write_formatted(&mut self, records: &[u8]) -> io::Result<()> {
        self.inner.write_all(records)
    }

    /// Writes a statistics record in the writer's format.
    ///
    /// # Errors
    ///
    /// Returns the error of the underlying writer.
    pub fn write_stats(&mut self, stats: &StatsRecord<'_>) -> io::Result<()> {
        self.line.clear();
        match self.format {
            OutputFormat::Text => format_stats_text(&mut self.line, stats),
            OutputFormat::Json => format_stats_json(&mut self.line, stats),
        }
        self.inner.write_all(&self.line)
    }

    /// Writes the packet line of one packet in the writer's format, if it has an
    /// IP layer and a TCP, UDP, SCTP or ICMP header, and returns whether a line
    /// was written.
    ///
    /// # Errors
    ///
    /// Returns the error of the underlying writer.
    pub fn write_packet_line(
        &mut self,
        ts: Timestamp,
        decoded: &Decoded,
        outcome: &PacketOutcome,
    ) -> io::Result<bool> {
        self.line.clear();
        let formatted = match self.format {
            OutputFormat::Text => format_packet_line(&mut self.line, ts, decoded, outcome),
            OutputFormat::Json => format_packet_json(&mut self.line, ts, decoded, outcome),
        };
        if !formatted {
            return Ok(false);
        }
        self.inner.write_all(&self.line)?;
        Ok(true)
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// Returns the error of the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// Returns the formatter of flow start times.
    pub fn clock(&self) -> &LocalTimeFormatter {
        &self.clock
    }

    /// Returns a reference to the underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Returns a mutable reference to the underlying writer. Bytes written to it
    /// directly land between the lines of this writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Returns the underlying writer, without flushing it.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// A formatter of flow records in the format and with the options of a
/// [`LogWriter`], which [`LogWriter::record_formatter`] returns. It formats
/// the same bytes as [`LogWriter::write_flow_record`] writes.
#[derive(Clone, Debug)]
pub struct FlowRecordFormatter {
    clock: LocalTimeFormatter,
    format: OutputFormat,
    options: RecordOptions,
}

impl FlowRecordFormatter {
    /// Appends the flow record of `record`, with its line end, to `out`.
    pub fn format(&mut self, record: &FlowRecord, out: &mut Vec<u8>) {
        format_record(out, record, &mut self.clock, self.format, &self.options);
    }
}

impl wsd_flow::RecordFormatter for FlowRecordFormatter {
    fn format(&mut self, record: &FlowRecord, out: &mut Vec<u8>) {
        FlowRecordFormatter::format(self, record, out);
    }
}

fn format_record(
    out: &mut Vec<u8>,
    record: &FlowRecord,
    clock: &mut LocalTimeFormatter,
    format: OutputFormat,
    options: &RecordOptions,
) {
    match format {
        OutputFormat::Text => format_flow_record_with(out, record, clock, options),
        OutputFormat::Json => format_flow_json(out, record, options),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use wsd_decode::{IpInfo, MacAddr, TcpFlags, TcpInfo, Transport, UdpInfo, Vlans};
    use wsd_flow::{Anomaly, ConnState, Counters, Direction, EndReason, Endpoint, History};

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid test address")
    }

    fn record() -> FlowRecord {
        let endpoint = |address: &str, port| Endpoint {
            ip: ip(address),
            port,
            mac: None,
        };
        FlowRecord {
            protocol: 6,
            vlans: Vlans::default(),
            client: endpoint("10.0.0.1", 40000),
            server: endpoint("10.0.0.2", 80),
            first_ts: Timestamp::from_parts(86_400, 0),
            last_ts: Timestamp::from_parts(86_410, 0),
            out: Counters::default(),
            inbound: Counters::default(),
            midstream: true,
            syn_seen: false,
            end_reason: EndReason::IdleTimeout,
            state: ConnState::SF,
            history: History::EMPTY,
            tunnel: None,
            icmp: None,
        }
    }

    fn udp_packet() -> Decoded {
        Decoded {
            src_mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            dst_mac: Some(MacAddr([2, 0, 0, 0, 0, 2])),
            vlans: Vlans::default(),
            ip: Some(IpInfo {
                src: ip("10.0.0.1"),
                dst: ip("10.0.0.2"),
                protocol: 17,
                total_len: 28,
                header_len: 20,
                is_later_fragment: false,
                is_first_fragment: false,
            }),
            transport: Transport::Udp(UdpInfo {
                src_port: 5000,
                dst_port: 53,
                datagram_len: 8,
            }),
            stop: None,
            ..Decoded::default()
        }
    }

    #[test]
    fn record_formatter_matches_writer() {
        let options = RecordOptions {
            community_id_seed: 7,
            compat: false,
        };
        for format in [OutputFormat::Text, OutputFormat::Json] {
            let mut writer = LogWriter::new(Vec::new(), LocalTimeFormatter::utc())
                .with_format(format)
                .with_record_options(options);
            let mut formatter = writer.record_formatter();
            writer
                .write_flow_record(&record())
                .expect("writing to a Vec succeeds");
            let mut formatted = Vec::new();
            formatter.format(&record(), &mut formatted);
            assert_eq!(formatted, *writer.get_ref(), "{format:?}");

            writer
                .write_formatted(&formatted)
                .expect("writing to a Vec succeeds");
            assert_eq!(writer.get_ref().len(), 2 * formatted.len(), "{format:?}");
        }
    }

    #[test]
    fn writes_record_then_packet() {
        let mut writer = LogWriter::new(Vec::new(), LocalTimeFormatter::utc());
        writer
            .write_flow_record(&record())
            .expect("writing to a Vec succeeds");
        let written = writer
            .write_packet_line(
                Timestamp::from_parts(1, 0),
                &udp_packet(),
                &PacketOutcome::UNATTRIBUTED,
            )
            .expect("writing to a Vec succeeds");
        assert!(written);

        let text = String::from_utf8(writer.into_inner()).expect("lines are ASCII");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("TCPFLOW startTime=1970/01/02 00:00:00 "),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains(" duration=10 packetsIn=0 packetsOut=0 bytesIn=0 bytesOut=0 "),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("[1.000000] "), "{}", lines[1]);
        assert!(lines[1].ends_with(" UDP"), "{}", lines[1]);
    }

    #[test]
    fn skips_packet_without_transport() {
        let mut writer = LogWriter::new(Vec::new(), LocalTimeFormatter::utc());
        let decoded = Decoded {
            transport: Transport::None,
            ..udp_packet()
        };
        let outcome = PacketOutcome::UNATTRIBUTED;
        let written = writer
            .write_packet_line(Timestamp::ZERO, &decoded, &outcome)
            .expect("writing to a Vec succeeds");
        assert!(!written);
        assert!(writer.get_ref().is_empty());
    }

    #[test]
    fn longest_lines_fit_initial_capacity() {
        let widest_ip = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        let mut writer = LogWriter::new(Vec::new(), LocalTimeFormatter::utc());

        let max_counters = Counters {
            packets: u64::MAX,
            bytes: u64::MAX,
            payload_bytes: u64::MAX,
            ip_bytes: u64::MAX,
            stream_bytes: u64::MAX,
            missed_bytes: u64::MAX,
            retransmitted_packets: u64::MAX,
            retransmitted_bytes: u64::MAX,
        };
        let mut flow = record();
        flow.protocol = 58;
        flow.client.ip = widest_ip;
        flow.server.ip = widest_ip;
        flow.client.mac = Some(MacAddr([0xff; 6]));
        flow.server.mac = Some(MacAddr([0xff; 6]));
        flow.client.port = u16::MAX;
        flow.server.port = u16::MAX;
        flow.last_ts = Timestamp::from_nanos(i64::MAX);
        flow.out = max_counters;
        flow.inbound = max_counters;
        flow.vlans = Vlans {
            ids: [4095, 4095],
            count: 2,
        };
        flow.state = wsd_flow::ConnState::RSTOS0;
        while flow.history.push(b'W') {}
        flow.tunnel = Some(wsd_decode::TunnelInfo {
            kind: wsd_decode::TunnelKind::Erspan,
            src: widest_ip,
            dst: widest_ip,
            id: Some(u32::MAX),
        });
        flow.icmp = Some(wsd_flow::IcmpDetails {
            icmp_type: u8::MAX,
            code: u8::MAX,
            echo_id: Some(u16::MAX),
            v6: true,
        });
        flow.end_reason = EndReason::EndOfInput;
        writer
            .write_flow_record(&flow)
            .expect("writing to a Vec succeeds");
        // 1136 bytes when this test was written.
        assert!(writer.line.len() <= LINE_CAPACITY, "{}", writer.line.len());
        let mut writer = writer.with_format(OutputFormat::Json);
        writer
            .write_flow_record(&flow)
            .expect("writing to a Vec succeeds");
        // 1439 bytes when this test was written.
        assert!(writer.line.len() <= LINE_CAPACITY, "{}", writer.line.len());

        let mut packet = udp_packet();
        packet.src_mac = Some(MacAddr([0xff; 6]));
        packet.dst_mac = Some(MacAddr([0xff; 6]));
        if let Some(ip_layer) = packet.ip.as_mut() {
            ip_layer.src = widest_ip;
            ip_layer.dst = widest_ip;
        }
        packet.transport = Transport::Tcp(TcpInfo {
            src_port: u16::MAX,
            dst_port: u16::MAX,
            seq: u32::MAX,
            ack: u32::MAX,
            flags: TcpFlags(0xff),
            window: u16::MAX,
            header_len: 20,
            segment_len: 20,
            payload_len: 0,
        });
        let outcome = PacketOutcome {
            direction: Direction::ToClient,
            rel_seq: u32::MAX,
            rel_ack: u32::MAX,
            anomaly: Some(Anomaly::SynAckNewIsn),
        };
        let ts = Timestamp::from_nanos(i64::MIN);
        let mut writer = writer.with_format(OutputFormat::Text);
        writer
            .write_packet_line(ts, &packet, &outcome)
            .expect("writing to a Vec succeeds");
        assert_eq!(writer.line.len(), 262);
        let mut writer = writer.with_format(OutputFormat::Json);
        writer
            .write_packet_line(ts, &packet, &outcome)
            .expect("writing to a Vec succeeds");
        // 524 bytes when this test was written.
        assert!(writer.line.len() <= LINE_CAPACITY, "{}", writer.line.len());

        assert_eq!(writer.line.capacity(), LINE_CAPACITY);
    }

    /// A writer whose every write fails.
    struct FailingWriter;

    impl Write for FailingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
    }

    #[test]
    fn passes_on_write_errors() {
        let mut writer = LogWriter::new(FailingWriter, LocalTimeFormatter::utc());
        let error = writer
            .write_flow_record(&record())
            .expect_err("the write fails");
        assert_eq!(error.to_string(), "disk full");
        assert!(writer.flush().is_err());
    }
}
