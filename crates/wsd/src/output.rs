//! The record destination: standard output, a named file, or a new file in the
//! log directory.

use std::collections::VecDeque;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use tracing::{info, warn};
use wsd_capture::Timestamp;
use wsd_decode::Decoded;
use wsd_flow::PacketOutcome;
use wsd_logfmt::{LocalTimeFormatter, LogWriter, OutputFormat, RecordOptions};

use crate::inputs::{is_same_file, is_same_path};
use crate::logdir::LogDir;
use crate::privileges::{self, Identity};
use crate::run::{count, Failure};
use wsd::cli::{Cli, Format};

/// Size of the output buffer: large enough that writes cost little per record.
const OUTPUT_BUFFER: usize = 256 * 1024;

/// Name of standard output in messages.
const STDOUT_NAME: &str = "standard output";

/// The log being written, and its name for messages.
pub struct Output {
    /// The record writer.
    pub writer: LogWriter<LogSink>,
    /// The log's name for messages.
    pub name: String,
    /// The log directory and limits, for logs that rotate.
    rotation: Option<Rotation>,
    /// True once a write to the log failed. Records made after that are not
    /// written.
    failed: bool,
    /// Offsets in the current log's byte stream where the records still in the
    /// output buffer end, oldest first.
    buffered_record_ends: VecDeque<u64>,
}

/// The buffered destination of records, counting the bytes written to it.
pub struct LogSink {
    inner: BufWriter<DeliveryCounter>,
    /// Bytes written since the log was opened, or since a failed rotation reset
    /// the count, for `--rotate-size`.
    written: u64,
    /// Bytes written since the log was opened, buffered or not.
    accepted: u64,
    /// The records kept in memory while the log's file system is full.
    hold: Hold,
    /// True if the last byte accepted was not a newline, so that the next
    /// write continues a line.
    line_open: bool,
    /// True if the last write was dropped because the records held reached
    /// the hold's limit.
    last_write_dropped: bool,
    /// Lines dropped in the run so far because they did not fit in the hold,
    /// carried over to each new log.
    lines_dropped: u64,
    /// The flow records among `lines_dropped`, which [`Output`] counts.
    records_dropped: u64,
    /// True while [`Output::write_packet_line`] writes a packet line. Such a
    /// line is dropped instead of held while the log's file system is full.
    writing_packet_line: bool,
}

impl LogSink {
    fn new(inner: Box<dyn Write>) -> LogSink {
        LogSink::with_file(inner, None)
    }

    /// Returns a sink that writes to the log `file`. A regular file is kept
    /// whole after a failed write: the partial line the write left is cut off.
    fn file(file: File) -> LogSink {
        let is_regular = file.metadata().is_ok_and(|metadata| metadata.is_file());
        let handle = if is_regular {
            file.try_clone().ok()
        } else {
            None
        };
        LogSink::with_file(Box::new(file), handle)
    }

    fn with_file(inner: Box<dyn Write>, file: Option<File>) -> LogSink {
        let inner = DeliveryCounter {
            inner,
            delivered: 0,
            line_end: 0,
            file,
            failed: None,
            partial: Vec::new(),
            resend: Vec::new(),
        };
        LogSink {
            inner: BufWriter::with_capacity(OUTPUT_BUFFER, inner),
            written: 0,
            accepted: 0,
            hold: Hold::default(),
            line_open: false,
            last_write_dropped: false,
            lines_dropped: 0,
            records_dropped: 0,
            writing_packet_line: false,
        }
    }

    /// Returns the bytes that left the output buffer for the file or pipe.
    fn delivered(&self) -> u64 {
        self.inner.get_ref().delivered
    }

    /// True while records wait in memory for room in the log.
    pub fn is_holding(&self) -> bool {
        self.hold.since.is_some()
    }

    /// Counts `bytes` as accepted.
    fn count(&mut self, bytes: &[u8]) {
        self.written += bytes.len() as u64;
        self.accepted += bytes.len() as u64;
        if let Some(&last) = bytes.last() {
            self.line_open = last != b'\n';
        }
        self.last_write_dropped = false;
    }

    /// Starts holding records after `err`.
    fn start_holding(&mut self, err: io::Error) {
        warn!(
            "cannot write to {}: {err}; holding the records in memory, up to {}, and \
             trying again every second; free space there, but not by removing the log, \
             which keeps its space while wsd has it open",
            self.hold.name,
            Size(self.hold.limit as u64)
        );
        self.hold.since = Some((Instant::now(), err));
        self.hold.delivered_at_start = self.delivered();
        self.hold.dropped_lines = 0;
        self.hold.dropped_records = 0;
        self.hold.dropped_packet_lines = 0;
    }

    /// Drops a line that does not fit in the hold, and warns at the first
    /// line dropped while the log is full.
    fn drop_line(&mut self) {
        if self.hold.dropped_lines == 0 {
            let held_for = self
                .hold
                .since
                .as_ref()
                .map_or(0, |(since, _)| since.elapsed().as_secs());
            // The output buffer's records wait too, besides the limit.
            warn!(
                "the file system of {} is still full, and the records held in memory for \
                 {held_for} s reached --hold-size {}, with {} of records waiting in all: \
                 records that do not fit are dropped until the log has room again; free \
                 space there, or raise --hold-size",
                self.hold.name,
                Size(self.hold.limit as u64),
                Size(self.accepted - self.delivered())
            );
        }
        self.hold.dropped_lines += 1;
        self.lines_dropped += 1;
        self.last_write_dropped = true;
    }

    /// Writes the records held in memory, if the log takes them now. Returns
    /// an error only for a failure other than a full file system.
    fn deliver_held(&mut self) -> io::Result<()> {
        self.inner.get_mut().resume()?;
        let mut result = self.inner.flush();
        let mut sent = 0;
        while result.is_ok() && sent < self.hold.bytes.len() {
            match self.inner.write(&self.hold.bytes[sent..]) {
                Ok(0) => result = Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(written) => sent += written,
                Err(err) => result = Err(err),
            }
        }
        self.hold.bytes.drain(..sent);
        let result = result.and_then(|()| self.inner.flush());
        match result {
            Ok(()) => {
                if let Some((since, _)) = self.hold.since.take() {
                    // Earlier tries may have written part of the records, so
                    // the count starts where holding started.
                    let held_bytes = self.delivered() - self.hold.delivered_at_start;
                    let written = format!(
                        "{} can be written again: wrote the {} of records held for {} s",
                        self.hold.name,
                        Size(held_bytes),
                        since.elapsed().as_secs()
                    );
                    match self.hold.describe_dropped() {
                        None => info!("{written}"),
                        Some(dropped) => warn!("{written}; {dropped}"),
                    }
                }
                self.hold.bytes = Vec::new();
                Ok(())
            }
            Err(err) if self.hold.takes(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Ends holding for good: returns the error that started it, with the
    /// records still waiting, or `None` if no record waits.
    fn give_up_holding(&mut self) -> Option<io::Error> {
        let (since, err) = self.hold.stop()?;
        let waiting = self.accepted - self.delivered();
        Some(io::Error::new(
            err.kind(),
            format!(
                "{err}, and the {} of records held in memory for {} s could not be written",
                Size(waiting),
                since.elapsed().as_secs()
            ),
        ))
    }
}

impl Write for LogSink {
    /// Writes `buf`, or holds it while the log's file system is full. A write
    /// that does not fit in the hold, or is a packet line, is then dropped
    /// whole and reported as written, so that the records held stay and the
    /// run goes on. Each write of [`LogWriter`] is one line or more, so only
    /// whole lines are dropped.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.hold.since.is_none() {
            match self.inner.write(buf) {
                Ok(written) => {
                    self.count(&buf[..written]);
                    return Ok(written);
                }
                Err(err) if self.hold.takes(&err) => self.start_holding(err),
                Err(err) => return Err(err),
            }
        }
        // Packet lines are a debugging aid, and holding them would take the
        // room of the flow records, so they are dropped while the log is full.
        if self.writing_packet_line && !self.line_open {
            self.hold.dropped_packet_lines += 1;
            self.lines_dropped += 1;
            return Ok(buf.len());
        }
        let fits = self.hold.bytes.len() + buf.len() <= self.hold.limit;
        // The rest of a line that the log or the hold took in part is kept
        // past the limit, so that no line is cut. The output buffer takes
        // every line shorter than itself whole, so only a line of 256 KiB or
        // more can be taken in part.
        if !fits && !self.line_open {
            self.drop_line();
            return Ok(buf.len());
        }
        let bytes = &mut self.hold.bytes;
        if bytes.capacity() - bytes.len() < buf.len() {
            // Doubling, but never past the limit, so that the memory taken
            // stays within --hold-size.
            let room = bytes
                .capacity()
                .max(buf.len())
                .min(self.hold.limit.saturating_sub(bytes.len()))
                .max(buf.len());
            bytes.reserve_exact(room);
        }
        bytes.extend_from_slice(buf);
        self.count(buf);
        Ok(buf.len())
    }

    /// Writes the buffered records. While the log's file system is full, the
    /// records stay in memory and this tries again, failing only when writing
    /// fails for another reason.
    fn flush(&mut self) -> io::Result<()> {
        if self.hold.since.is_some() {
            return self.deliver_held();
        }
        match self.inner.flush() {
            Err(err) if self.hold.takes(&err) => {
                self.start_holding(err);
                Ok(())
            }
            result => result,
        }
    }
}

/// The records kept in memory while the log cannot take them.
#[derive(Default)]
struct Hold {
    /// Maximum bytes held; 0 turns holding off, so that the first failed write
    /// fails the run.
    limit: usize,
    /// The log's name for messages.
    name: String,
    /// The records written while holding. Those the output buffer took before
    /// the failure stay in it.
    bytes: Vec<u8>,
    /// When holding started and the error that started it; `None` while the
    /// log takes records.
    since: Option<(Instant, io::Error)>,
    /// The bytes the log had taken when holding started, for the notice
    /// once the held records are written.
    delivered_at_start: u64,
    /// Lines dropped since holding started, because they did not fit.
    dropped_lines: u64,
    /// The flow records among `dropped_lines`, which [`Output`] counts. The
    /// others are statistics records.
    dropped_records: u64,
    /// Packet lines dropped since holding started, which are never held.
    dropped_packet_lines: u64,
}

impl Hold {
    /// Stops holding for good, so that later writes fail as in a run without
    /// a hold. Returns when holding started and the error that started it.
    fn stop(&mut self) -> Option<(Instant, io::Error)> {
        self.limit = 0;
        self.since.take()
    }

    /// Describes the lines dropped since holding started, for the notice once
    /// the log takes records again: the flow records and statistics records
    /// that did not fit, and the packet lines. Returns `None` if none was
    /// dropped.
    fn describe_dropped(&self) -> Option<String> {
        let was_or_were = |lines: u64| if lines == 1 { "was" } else { "were" };
        let mut parts = Vec::new();
        if self.dropped_lines > 0 {
            let mut lines = count(self.dropped_records, "flow record");
            let statistics = self.dropped_lines - self.dropped_records;
            if statistics > 0 {
                lines = format!("{lines} and {}", count(statistics, "statistics record"));
            }
            parts.push(format!(
                "{lines} that did not fit in --hold-size {} {} dropped",
                Size(self.limit as u64),
                was_or_were(self.dropped_lines)
            ));
        }
        if self.dropped_packet_lines > 0 {
            parts.push(format!(
                "{} {} dropped instead of held",
                count(self.dropped_packet_lines, "packet line"),
                was_or_were(self.dropped_packet_lines)
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", and "))
    }

    /// True if `err` makes records wait in memory: the log's file system is
    /// full or over quota, and holding is on.
    fn takes(&self, err: &io::Error) -> bool {
        self.limit > 0
            && matches!(
                err.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            )
    }
}

/// A size in bytes, written in bytes below 1 KiB, else in KiB, MiB or GiB
/// with one decimal.
struct Size(u64);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = self.0;
        if bytes < 1 << 10 {
            return write!(f, "{bytes} bytes");
        }
        let (unit, name) = if bytes < 1 << 20 {
            (1u64 << 10, "KiB")
        } else if bytes < 1 << 30 {
            (1 << 20, "MiB")
        } else {
            (1 << 30, "GiB")
        };
        write!(f, "{:.1} {name}", bytes as f64 / unit as f64)
    }
}

/// The unbuffered log, counting the bytes it accepted.
struct DeliveryCounter {
    inner: Box<dyn Write>,
    delivered: u64,
    /// Bytes delivered up to the end of the last whole line.
    line_end: u64,
    /// The log, when it is a regular file, for cutting off a partial line.
    file: Option<File>,
    /// The kind of the error that failed a write to the regular file `file`.
    /// Later writes fail the same way without touching the file, so that the
    /// rest of a cut line cannot follow the cut, until [`DeliveryCounter::resume`].
    failed: Option<io::ErrorKind>,
    /// The bytes delivered after the last newline: the start of the line
    /// being written.
    partial: Vec<u8>,
    /// Bytes that a cut took off the log, and any that were waiting to be
    /// written again when it happened. They go first once writing resumes.
    resend: Vec<u8>,
}

impl DeliveryCounter {
    /// Cuts the log back to its last whole line after a failed write, such as
    /// one on a full disk, so that the log ends with a complete record. A file
    /// that cannot be cut keeps the partial line.
    fn cut_partial_line(&mut self) {
        if self.delivered == self.line_end {
            return;
        }
        let Some(file) = self.file.as_ref() else {
            return;
        };
        // No write follows the cut (see `failed`), so the offset may stay.
        if file.set_len(self.line_end).is_ok() {
            self.delivered = self.line_end;
            self.resend = std::mem::take(&mut self.partial);
        }
    }

    /// Lets writes reach the log again after a failure, from the end of the
    /// last byte delivered.
    fn resume(&mut self) -> io::Result<()> {
        if self.failed.take().is_none() {
            return Ok(());
        }
        if let Some(mut file) = self.file.as_ref() {
            // The handle shares its offset with the one written, which the
            // cut left past the end.
            file.seek(SeekFrom::Start(self.delivered))?;
        }
        Ok(())
    }

    /// Writes `buf` once, counting what the log took.
    fn deliver(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = match self.inner.write(buf) {
            Ok(written) => written,
            Err(err) => {
                if err.kind() != io::ErrorKind::Interrupted && self.file.is_some() {
                    self.failed = Some(err.kind());
                    self.cut_partial_line();
                }
                return Err(err);
            }
        };
        let delivered = buf.get(..written).unwrap_or_default();
        match delivered.iter().rposition(|&byte| byte == b'\n') {
            Some(last) => {
                self.line_end = self.delivered + last as u64 + 1;
                self.partial.clear();
                self.partial.extend_from_slice(&delivered[last + 1..]);
            }
            None => self.partial.extend_from_slice(delivered),
        }
        self.delivered += written as u64;
        Ok(written)
    }
}

impl Write for DeliveryCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(kind) = self.failed {
            return Err(io::Error::new(kind, "an earlier write to the log failed"));
        }
        if !self.resend.is_empty() {
            let resend = std::mem::take(&mut self.resend);
            let mut sent = 0;
            while sent < resend.len() {
                match self.deliver(&resend[sent..]) {
                    Ok(0) => {
                        self.resend = resend[sent..].to_vec();
                        return Err(io::Error::from(io::ErrorKind::WriteZero));
                    }
                    Ok(written) => sent += written,
                    Err(err) => {
                        // A cut put the bytes it took off first.
                        self.resend.extend_from_slice(&resend[sent..]);
                        return Err(err);
                    }
                }
            }
        }
        self.deliver(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failed.is_none() && !self.resend.is_empty() {
            self.write(&[])?;
        }
        self.inner.flush()
    }
}

/// When a log in the log directory is closed and the next one opened.
struct Rotation {
    dir: LogDir,
    interval: Option<Duration>,
    max_bytes: Option<u64>,
    opened: Instant,
    /// True while new logs cannot be created, so that the error is logged once
    /// and not at every try.
    failing: bool,
    /// True if a SIGHUP came while records waited in memory for room in the
    /// log, so that the new log starts once they are written.
    hangup_pending: bool,
}

impl Output {
    /// Applies the record format and options of the command line.
    fn with_settings(self, cli: &Cli) -> Output {
        let format = match cli.format {
            Format::Text => OutputFormat::Text,
            Format::Json => OutputFormat::Json,
        };
        let options = RecordOptions {
            community_id_seed: cli.community_id_seed,
            compat: cli.compat,
        };
        Output {
            writer: self.writer.with_format(format).with_record_options(options),
            ..self
        }
    }

    /// Returns the failure for a write error on this output, and marks the
    /// output as failed.
    pub fn write_error(&mut self, err: io::Error) -> Failure {
        self.failed = true;
        let full = matches!(
            err.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        );
        let next_step = if err.kind() == io::ErrorKind::BrokenPipe {
            "check what reads the log, or choose a log with -L FILE or -l DIR"
        } else if full && self.name == STDOUT_NAME {
            "free space where standard output goes, or choose a log with -L FILE or -l DIR"
        } else if err.kind() == io::ErrorKind::FileTooLarge {
            "raise the file size limit (ulimit -f, LimitFSIZE= of systemd), or rotate the \
             log with -l DIR and --rotate-size"
        } else if full && self.rotation.is_some() {
            "free space there, or give another log directory with -l DIR"
        } else if full {
            "free space there, or choose another log with -L FILE or -l DIR"
        } else if self.name == STDOUT_NAME {
            "check what reads standard output, or choose a log with -L FILE or -l DIR"
        } else {
            // An I/O error, a file system turned read-only, or a network file
            // system that went away, which the kernel log records in detail.
            "check the device and file system of the log, whose errors the kernel log \
             shows, or choose another log with -L FILE or -l DIR"
        };
        Failure::Other(format!("cannot write to {}: {err}; {next_step}", self.name))
    }

    /// True once a write to the log failed.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Keeps up to `limit` bytes of records in memory while the log's file
    /// system is full or over quota, and tries the log again at each flush,
    /// instead of failing at the first write. 0 keeps the first failure.
    pub fn hold_records(&mut self, limit: u64) {
        let hold = &mut self.writer.get_mut().hold;
        hold.limit = usize::try_from(limit).unwrap_or(usize::MAX);
        hold.name.clone_from(&self.name);
    }

    /// Writes the packet line of the packet of `ts`, `decoded` and `outcome`,
    /// if it has one. While the log's file system is full, the line is
    /// dropped and counted instead of held, so that the hold keeps its room
    /// for flow and statistics records.
    pub fn write_packet_line(
        &mut self,
        ts: Timestamp,
        decoded: &Decoded,
        outcome: &PacketOutcome,
    ) -> Result<(), Failure> {
        self.writer.get_mut().writing_packet_line = true;
        let written = self.writer.write_packet_line(ts, decoded, outcome);
        self.writer.get_mut().writing_packet_line = false;
        match written {
            Ok(_) => Ok(()),
            Err(err) => Err(self.write_error(err)),
        }
    }

    /// Flushes the output buffer at the end of the run. Records still held in
    /// memory because the log's file system is full then fail the run.
    pub fn flush_at_end(&mut self) -> Result<(), Failure> {
        let sink = self.writer.get_mut();
        if !sink.is_holding() {
            // No try follows, so a full file system fails this flush at once
            // instead of starting a hold with a promise to try again.
            sink.hold.limit = 0;
        }
        let flushed = self.writer.flush();
        let result = flushed.and_then(|()| match self.writer.get_mut().give_up_holding() {
            Some(err) => Err(err),
            None => Ok(()),
        });
        result.map_err(|err| self.write_error(err))
    }

    /// Notes that a whole flow record was written to the output buffer, so
    /// that [`Output::buffered_records`] can tell whether it reached the log.
    /// Returns false if the record was dropped instead, because the records
    /// held in memory while the log's file system is full reached the limit.
    pub fn record_written(&mut self) -> bool {
        let sink = self.writer.get_mut();
        if sink.last_write_dropped {
            sink.hold.dropped_records += 1;
            sink.records_dropped += 1;
            return false;
        }
        self.buffered_record_ends.push_back(sink.accepted);
        self.forget_delivered_records();
        true
    }

    /// Returns the number of lines other than flow records dropped so far
    /// while the log's file system was full: statistics records that did not
    /// fit in the hold, and packet lines, which are never held.
    pub fn other_lines_dropped(&self) -> u64 {
        let sink = self.writer.get_ref();
        sink.lines_dropped - sink.records_dropped
    }

    /// Returns the number of records written to the output buffer that have
    /// not reached the log yet. After a write error they are lost.
    pub fn buffered_records(&mut self) -> u64 {
        self.forget_delivered_records();
        self.buffered_record_ends.len() as u64
    }

    fn forget_delivered_records(&mut self) {
        let delivered = self.writer.get_ref().delivered();
        while self
            .buffered_record_ends
            .front()
            .is_some_and(|&end| end <= delivered)
        {
            self.buffered_record_ends.pop_front();
        }
    }

    /// True if records wait in memory for room in the log, which then rotates
    /// only once they are written. A SIGHUP in `hangup` is kept for then.
    fn postponed_by_hold(&mut self, hangup: bool) -> bool {
        if !self.writer.get_ref().is_holding() {
            return false;
        }
        if let Some(rotation) = &mut self.rotation {
            // Logged once, so that an operator who freed space by removing
            // the log learns why it stays open.
            if hangup && !rotation.hangup_pending {
                info!(
                    "SIGHUP: {} rotates once the records held in memory are written to it; \
                     its space is freed only then, even if it was removed",
                    self.name
                );
            }
            rotation.hangup_pending = hangup;
        }
        true
    }

    /// Returns the number of records that wait in memory because the log's
    /// file system is full, or 0 while the log takes records.
    pub fn held_records(&mut self) -> u64 {
        if self.writer.get_ref().is_holding() {
            self.buffered_records()
        } else {
            0
        }
    }

    /// True if this log rotates on SIGHUP, by time or by size.
    pub fn rotates(&self) -> bool {
        self.rotation.is_some()
    }

    /// True if the log has reached `--rotate-size`.
    pub fn over_size_limit(&self) -> bool {
        self.rotation
            .as_ref()
            .and_then(|rotation| rotation.max_bytes)
            .is_some_and(|limit| self.writer.get_ref().written >= limit)
    }

    /// Closes the current log and opens a new one in the log directory if
    /// `hangup` is set or the `--rotate-interval` or `--rotate-size` limit is
    /// reached. Call it only between records, so that none is split.
    ///
    /// A new log that cannot be created is logged as an error, and records keep
    /// going to the current one until the next rotation is due. Once writing the
    /// log failed, no new log is opened, since no record goes to it.
    pub fn rotate_if_due(&mut self, hangup: bool) -> Result<(), Failure> {
        if self.failed {
            return Ok(());
        }
        let Some(rotation) = &self.rotation else {
            if hangup {
                tracing::warn!(
                    "SIGHUP ignored: {} is a log named with -L, which does not rotate, so \
                     records keep going to it even if it was moved or removed; give a log \
                     directory with -l DIR to start a new log on SIGHUP",
                    self.name
                );
            }
            return Ok(());
        };
        let hangup = hangup || rotation.hangup_pending;
        let by_size = rotation
            .max_bytes
            .is_some_and(|limit| self.writer.get_ref().written >= limit);
        let by_time = rotation
            .interval
            .is_some_and(|interval| rotation.opened.elapsed() >= interval);
        if !(hangup || by_size || by_time) {
            return Ok(());
        }

        // Records held in memory belong to this log, and a new log on the
        // same full file system would stay empty: the log rotates once they
        // are written. The periodic flush tries that, not every record here.
        if self.postponed_by_hold(hangup) {
            return Ok(());
        }
        // Flushing first keeps every record of the old log in it, and a log
        // that cannot be flushed gets no successor.
        if let Err(err) = self.writer.flush() {
            return Err(self.write_error(err));
        }
        if self.postponed_by_hold(hangup) {
            return Ok(());
        }
        // Every record reached the old log, and the new one counts from 0.
        self.buffered_record_ends.clear();
        let Some(rotation) = &mut self.rotation else {
            return Ok(());
        };
        rotation.opened = Instant::now();
        rotation.hangup_pending = false;
        let (file, path) = match rotation.dir.create_log() {
            Ok(created) => created,
            Err(failure) => {
                if rotation.failing {
                    tracing::debug!("cannot rotate {}: {}", self.name, failure.message());
                } else {
                    tracing::error!(
                        "cannot rotate {}: {}; records keep going to it, and this \
                         error is not repeated until a new log can be opened",
                        self.name,
                        failure.message()
                    );
                }
                rotation.failing = true;
                // The next try comes after another --rotate-size bytes, not
                // at every packet.
                self.writer.get_mut().written = 0;
                return Ok(());
            }
        };
        rotation.failing = false;
        let mut sink = LogSink::file(file);
        let old = self.writer.get_ref();
        sink.hold.limit = old.hold.limit;
        sink.lines_dropped = old.lines_dropped;
        sink.records_dropped = old.records_dropped;
        sink.hold.name = path.display().to_string();
        let old = std::mem::replace(self.writer.get_mut(), sink);
        drop(old);

        let reason = if hangup {
            "SIGHUP"
        } else if by_size {
            "size limit"
        } else {
            "time limit"
        };
        let closed = std::mem::replace(&mut self.name, path.display().to_string());
        info!(closed = %closed, file = %self.name, reason, "rotated the log");
        Ok(())
    }
}

/// Rejects outputs that would destroy an input or each other. No flow cache,
/// log file, pid file or diagnostics file may be one of the `-r` inputs, and
/// no two of them may be one file, except the `-R` and `-W` caches. With `-c`,
/// the `-W` path is compared as it is inside the new root.
/// Only paths are looked up, so this runs before the `-W` cache is locked. A
/// lock file is never removed, and a run rejected here leaves none.
pub fn check_output_paths(cli: &Cli) -> Result<(), Failure> {
    let inputs: Vec<Metadata> = cli
        .read
        .iter()
        .filter_map(|path| {
            // Standard input redirected from a file names that file.
            let path = if path.as_os_str() == "-" {
                Path::new("/dev/stdin")
            } else {
                path
            };
            std::fs::metadata(path).ok()
        })
        .collect();
    // Standard output redirected to a file names that file, which the checks
    // below then protect as they protect `-L FILE`.
    let stdout = stdout_file();
    let log = match cli.logfile.as_ref() {
        Some(log) if log.as_os_str() == "-" => stdout.as_ref(),
        other => other,
    };
    if let Some(cache) = &cli.rflow {
        reject_overlap(cache, "flow cache", "-R", &inputs)?;
        if let Some(log) = log.filter(|log| is_same_path(cache, log)) {
            return Err(Failure::Usage(format!(
                "{} is given as both the log file (-L) and the flow cache to load (-R); \
                 writing the log would destroy the cache, so use two files",
                log.display()
            )));
        }
    }
    if let Some(cache) = cache_target(cli) {
        reject_overlap(&cache, "flow cache", "-W", &inputs)?;
        if let Some(log) = log.filter(|log| is_same_path(&cache, log)) {
            return Err(Failure::Usage(format!(
                "{} is given as both the log file (-L) and the flow cache (-W); use two files",
                log.display()
            )));
        }
    }
    if let Some(log) = log {
        reject_overlap(log, "log file", "-L", &inputs)?;
    }
    check_side_files(cli, log.map(PathBuf::as_path), &inputs)
}

/// Returns the path of the regular file that standard output writes to, if
/// it writes to one. The path comes from `/proc/self/fd/1` and counts only if
/// it names the same file as descriptor 1, so that a pipe's `pipe:[N]` never
/// matches a file of that name.
fn stdout_file() -> Option<PathBuf> {
    use std::os::fd::AsFd;
    let stat = rustix::fs::fstat(io::stdout().as_fd()).ok()?;
    if !rustix::fs::FileType::from_raw_mode(stat.st_mode).is_file() {
        return None;
    }
    let path = std::fs::read_link("/proc/self/fd/1").ok()?;
    let metadata = std::fs::metadata(&path).ok()?;
    let same = metadata.dev() == stat.st_dev && metadata.ino() == stat.st_ino;
    same.then_some(path)
}

/// Rejects a pid file or diagnostics file that is an input or another file of
/// the run. The pid file is removed at exit, which would take a log with it,
/// and diagnostics appended to a flow cache make it unreadable.
fn check_side_files(cli: &Cli, log: Option<&Path>, inputs: &[Metadata]) -> Result<(), Failure> {
    let pid_file = cli.pid_file_path();
    let cache = cache_target(cli);
    let side_files = [
        (pid_file.as_deref(), "pid file", "-P"),
        (cli.diag_file.as_deref(), "diagnostics file", "--diag-file"),
    ];
    for (index, &(path, role, option)) in side_files.iter().enumerate() {
        let Some(path) = path else {
            continue;
        };
        reject_overlap(path, role, option, inputs)?;
        let earlier = side_files[..index].iter().copied();
        let others = [
            (log, "log file", "-L"),
            (cli.rflow.as_deref(), "flow cache to load", "-R"),
            (cache.as_deref(), "flow cache", "-W"),
        ];
        for (other, other_role, other_option) in earlier.chain(others) {
            if other.is_some_and(|other| is_same_path(path, other)) {
                return Err(Failure::Usage(format!(
                    "{} is given as both the {role} ({option}) and the {other_role} \
                     ({other_option}); use two files",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// Opens the log `-L` or `-l` names. `owner` is the user that privileges are
/// dropped to, who must be able to create logs in the log directory. The paths
/// of the log and the caches must have passed [`check_output_paths`].
pub fn open_output(cli: &Cli, owner: Option<&Identity>) -> Result<Output, Failure> {
    // Loaded once, before a chroot can hide the zone files.
    let time_zone = TimeZone::system();
    let rotating = cli.rotate_interval.is_some() || cli.rotate_size.is_some();
    match &cli.logfile {
        Some(_) if rotating => Err(Failure::Usage(
            "--rotate-interval and --rotate-size need log files in a directory (-l DIR), not -L"
                .to_string(),
        )),
        Some(path) if path.as_os_str() == "-" => open_stdout(time_zone),
        Some(path) => open_named(path, time_zone),
        None => open_generated(cli, owner, time_zone),
    }
    .map(|output| output.with_settings(cli))
}

fn open_stdout(time_zone: TimeZone) -> Result<Output, Failure> {
    // NOTE: a closed standard output cannot be detected here: the Rust runtime
    // opens /dev/null in its place at start-up, so records then go nowhere.
    Ok(Output {
        writer: log_writer(LogSink::new(Box::new(io::stdout())), time_zone),
        name: STDOUT_NAME.to_string(),
        rotation: None,
        failed: false,
        buffered_record_ends: VecDeque::new(),
    })
}

/// Opens `-L FILE`, replacing an existing file.
fn open_named(path: &Path, time_zone: TimeZone) -> Result<Output, Failure> {
    if path.is_dir() {
        return Err(Failure::Usage(format!(
            "log file {} is a directory; give a file name with -L, or use -l to choose the log directory",
            path.display()
        )));
    }
    // Opened without truncating, so that a log another run is writing keeps
    // its records until the lock below is taken.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|err| {
            let hint = if err.kind() == io::ErrorKind::NotFound {
                "; create its directory first or give another path with -L"
            } else {
                "; give a path wsd may write with -L"
            };
            Failure::CannotCreate(format!(
                "cannot create log file {}: {err}{hint}",
                path.display()
            ))
        })?;
    lock_and_empty(&file, path)?;
    Ok(Output {
        writer: log_writer(LogSink::file(file), time_zone),
        name: path.display().to_string(),
        rotation: None,
        failed: false,
        buffered_record_ends: VecDeque::new(),
    })
}

/// Locks the regular log file `file` at `path` for this run and empties it. A
/// second run given the same `-L FILE` would otherwise replace the records of
/// the first. Devices such as `/dev/null`, which many runs share, are neither
/// locked nor emptied.
fn lock_and_empty(file: &File, path: &Path) -> Result<(), Failure> {
    let is_regular = file.metadata().is_ok_and(|metadata| metadata.is_file());
    if !is_regular {
        return Ok(());
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Failure::Busy(format!(
                "log file {} is locked by another process, usually another run of wsd; \
                 give another log with -L or run again once that run has ended",
                path.display()
            )));
        }
        // A file system without locks still gets its log.
        Err(std::fs::TryLockError::Error(err)) => {
            tracing::debug!(file = %path.display(), "cannot lock the log file: {err}");
        }
    }
    file.set_len(0).map_err(|err| {
        Failure::Other(format!(
            "cannot empty log file {}: {err}; give a path wsd may write with -L",
            path.display()
        ))
    })
}

/// Opens the log directory and creates the first `HOST_YYYYMMDD_HHMMSS.log`
/// in it. The directory stays open for rotation.
fn open_generated(
    cli: &Cli,
    owner: Option<&Identity>,
    time_zone: TimeZone,
) -> Result<Output, Failure> {
    let dir = LogDir::open(&cli.logdir, time_zone.clone(), owner)?;
    let (file, path) = dir.create_log()?;
    info!(file = %path.display(), "writing records");
    Ok(Output {
        writer: log_writer(LogSink::file(file), time_zone),
        name: path.display().to_string(),
        rotation: Some(Rotation {
            dir,
            interval: cli.rotate_interval.map(Duration::from_secs),
            max_bytes: cli.rotate_size,
            opened: Instant::now(),
            failing: false,
            hangup_pending: false,
        }),
        failed: false,
        buffered_record_ends: VecDeque::new(),
    })
}

/// Checks before the run that `-W PATH` can take a flow cache, so that a bad path
/// fails at start-up instead of after the whole input was read. The cache is
/// written to a temporary file beside PATH and renamed over it, which would
/// replace a device, a named pipe or a symbolic link by a regular file.
fn check_cache_target(path: &Path) -> Result<(), Failure> {
    let reject = |problem: &str| {
        Failure::Usage(format!(
            "cannot use {} as the flow cache (-W): {problem}",
            path.display()
        ))
    };
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            return Err(reject(
                "it is a symbolic link, which saving would replace; give the path it points to",
            ));
        }
        Ok(metadata) if metadata.is_dir() => {
            return Err(reject("it is a directory; give a file name inside it"));
        }
        Ok(metadata) if !metadata.is_file() => {
            return Err(reject(
                "it is not a regular file (a device, named pipe or socket), which saving \
                 would replace; give a regular file",
            ));
        }
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(reject(&err.to_string())),
    }
    // A directory the cache cannot be saved in is a problem of the system, as
    // for a log that cannot be created, so the status is the same: 73.
    check_cache_directory(path, "-W")
        .map_err(|failure| Failure::CannotCreate(failure.message().to_string()))
}

/// Checks, before anything is opened, created or moved, that the `-W` cache
/// can be saved: by the user privileges are dropped to (`owner`), at the path
/// inside the `-c` root if one is given. The directory's permission bits are
/// checked for `owner`, and the writer's temporary file is created and removed
/// by the current user. Then the cache is locked for the run (see
/// [`wsd_flowcache::lock_cache`]), and the lock is returned.
pub fn check_cache_early(
    cli: &Cli,
    owner: Option<&Identity>,
) -> Result<Option<wsd_flowcache::CacheLock>, Failure> {
    let (Some(cache), Some(target)) = (&cli.wflow, cache_target(cli)) else {
        return Ok(None);
    };
    let unusable = |problem: String| {
        let inside = cli
            .chroot
            .as_ref()
            .map(|root| {
                format!(
                    " (the -W path {} inside the new root {})",
                    cache.display(),
                    root.display()
                )
            })
            .unwrap_or_default();
        Failure::CannotCreate(format!(
            "cannot use {}{inside} as the flow cache (-W): {problem}",
            target.display()
        ))
    };
    check_cache_target(&target).map_err(|failure| match (failure, &cli.chroot) {
        (Failure::Usage(message), Some(root)) => Failure::Usage(format!(
            "{message} (with -c, the -W path {} is looked up inside {})",
            cache.display(),
            root.display()
        )),
        (failure, _) => failure,
    })?;
    let parent = directory_of(&target);
    let user = owner.and_then(|owner| owner.uid.map(|uid| (uid, owner)));
    if let (Some((uid, owner)), Ok(dir)) = (user, std::fs::metadata(parent)) {
        if !privileges::may_write(dir.mode(), dir.uid(), dir.gid(), owner) {
            return Err(unusable(format!(
                "its directory {} is not writable by {owner}, which wsd runs as after -u or \
                 -g; make it writable for {owner} or give another path",
                parent.display(),
                owner = owner.name
            )));
        }
        let replaced = std::fs::symlink_metadata(&target).ok();
        if let Some(file) = replaced.filter(|_| dir.mode() & 0o1000 != 0) {
            let uid = uid.as_raw();
            if file.uid() != uid && dir.uid() != uid {
                return Err(unusable(format!(
                    "{} has the sticky bit, and the cache there belongs to another user, \
                     so {} cannot replace it; remove the old cache or give another path",
                    parent.display(),
                    owner.name
                )));
            }
        }
    }
    // The lock comes first: the check below replaces the temporary file of this
    // process id, which a run that holds the lock in another namespace may use.
    let lock = wsd_flowcache::lock_cache(&target).map_err(|err| match err {
        wsd_flowcache::CacheError::Locked { lock } => Failure::Busy(format!(
            "cannot use {} as the flow cache (-W): another process, probably another \
             run of wsd, has locked it (lock file {}); wait for that run to end, or give \
             another path",
            target.display(),
            lock.display()
        )),
        err => unusable(format!("{err}; fix that, or give another path")),
    })?;
    wsd_flowcache::check_writable(&target).map_err(|err| {
        unusable(format!(
            "{err}; make its directory writable or give another path"
        ))
    })?;
    Ok(Some(lock))
}

/// Locks the `-R` cache for the run, unless it is the `-W` cache, which
/// [`check_cache_early`] locks, not a regular file, which loading then
/// reports, or missing without a lock file beside it. While a run that continues the series from that cache holds its
/// lock, its flows would be reported twice: by this run at its end, and by the
/// other run once it saves them. A lock file that cannot be created, as beside
/// a cache on a read-only file system, is no error, because no run can save
/// that cache either.
pub fn lock_read_cache(cli: &Cli) -> Result<Option<wsd_flowcache::CacheLock>, Failure> {
    let Some(cache) = &cli.rflow else {
        return Ok(None);
    };
    // A cache that does not exist yet may be one that a running `-W` run will
    // save, which then holds its lock file. Without a lock file no run holds it,
    // and none is created beside a path that names no cache.
    let exists = cache.exists();
    let unlocked = !exists && !wsd_flowcache::lock_file_path(cache).is_file();
    // The -W cache, also when named through a link, is locked already.
    let is_target = cache_target(cli).is_some_and(|target| {
        same_place(cache, &target)
            || wsd_flowcache::lock_file_path(cache) == wsd_flowcache::lock_file_path(&target)
    });
    if (exists && !cache.is_file()) || unlocked || is_target {
        return Ok(None);
    }
    match wsd_flowcache::lock_cache(cache) {
        Ok(lock) => Ok(Some(lock)),
        Err(wsd_flowcache::CacheError::Locked { lock }) => Err(Failure::Busy(format!(
            "cannot read {} as the flow cache (-R): another process, probably a run of wsd \
             that continues the same series, has locked it (lock file {}), and its flows \
             would be reported twice, by this run and when that run saves them; wait for \
             that run to end",
            cache.display(),
            lock.display()
        ))),
        Err(err) => {
            tracing::debug!(
                "reading the flow cache {} without a lock: {err}",
                cache.display()
            );
            Ok(None)
        }
    }
}

/// Returns true if `a` and `b` name the same entry of the same directory,
/// whatever path leads to that directory.
fn same_place(a: &Path, b: &Path) -> bool {
    let place = |path: &Path| {
        let parent = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Some((
            std::fs::canonicalize(parent).ok()?,
            path.file_name()?.to_owned(),
        ))
    };
    matches!((place(a), place(b)), (Some(a), Some(b)) if a == b)
}

/// Returns the path where the `-W` cache is saved, as seen before a chroot: the
/// path as given, or with `-c` that path inside the new root.
fn cache_target(cli: &Cli) -> Option<PathBuf> {
    let cache = cli.wflow.as_ref()?;
    let target = match &cli.chroot {
        Some(root) => root.join(cache.strip_prefix("/").unwrap_or(cache)),
        None => cache.clone(),
    };
    Some(target)
}

/// Checks that the `-W` cache can still be saved once privileges are dropped
/// and any chroot is entered, by creating and removing the writer's temporary
/// file as the final user. Permission bits miss access lists and read-only
/// mounts, which this check catches before any input is read.
pub fn check_cache_saving(cli: &Cli, identity: Option<&Identity>) -> Result<(), Failure> {
    let Some(cache) = &cli.wflow else {
        return Ok(());
    };
    wsd_flowcache::check_writable(cache).map_err(|err| {
        let user = identity
            .map(|identity| format!(" for {}", identity.name))
            .unwrap_or_default();
        let root = cli
            .chroot
            .as_ref()
            .map(|dir| format!(" (a path inside the new root {})", dir.display()))
            .unwrap_or_default();
        Failure::CannotCreate(format!(
            "cannot use {}{root} as the flow cache (-W): {err}; make its directory \
             writable{user} or give another path",
            cache.display()
        ))
    })
}

/// Returns the directory that `path` is in: `.` for a bare file name.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Checks that the directory of the flow cache `path`, given with `option`,
/// exists, so that a mistyped path fails at the start rather than when the
/// cache is saved or, for `-R`, by starting with no flows every run.
fn check_cache_directory(path: &Path, option: &str) -> Result<(), Failure> {
    let parent = directory_of(path);
    let problem = match std::fs::metadata(parent) {
        Ok(metadata) if metadata.is_dir() => return Ok(()),
        Ok(_) => format!("{} is not a directory", parent.display()),
        Err(err) => format!(
            "its directory {} cannot be used: {err}; create it first",
            parent.display()
        ),
    };
    Err(Failure::Usage(format!(
        "cannot use {} as the flow cache ({option}): {problem}",
        path.display()
    )))
}

/// Rejects a `-R` cache that is missing together with its directory. A missing
/// cache file starts a series with no flows, but a missing directory is a wrong
/// path. The cache is loaded before any chroot, so the path is checked as given.
/// A directory, device, named pipe or socket in its place is rejected too,
/// since it cannot be loaded as a file nor moved aside with
/// `--discard-bad-cache`.
///
/// `chroot` is the new root of `-c`, which a missing directory's message
/// names, since the cache is loaded before the chroot.
pub fn check_cache_to_load(cache: &Path, chroot: Option<&Path>) -> Result<(), Failure> {
    match std::fs::metadata(cache) {
        Ok(metadata) if metadata.is_dir() => Err(Failure::Usage(format!(
            "cannot use {} as the flow cache (-R): it is a directory; give a file name inside it",
            cache.display()
        ))),
        // A device such as /dev/zero would be read until memory runs out, and
        // a named pipe would block the start until a writer comes.
        Ok(metadata) if !metadata.is_file() => Err(Failure::Usage(format!(
            "cannot use {} as the flow cache (-R): it is not a regular file (a device, named \
             pipe or socket); give a cache file that wsd -W wrote",
            cache.display()
        ))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => check_cache_directory(cache, "-R")
            .map_err(|failure| match (failure, chroot) {
                (Failure::Usage(message), Some(root))
                    if cache.is_absolute() && !is_under(cache, root) =>
                {
                    let outside = root.join(cache.strip_prefix("/").unwrap_or(cache));
                    Failure::Usage(format!(
                        "{message}. -R is read before the chroot to {}, so give its path \
                         outside the new root, such as {}",
                        root.display(),
                        outside.display()
                    ))
                }
                (failure, _) => failure,
            }),
        _ => Ok(()),
    }
}

/// Returns true if `path` lies under the directory `root`, as given or with
/// its links resolved, so that it already names a place outside that root.
fn is_under(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
        || root
            .canonicalize()
            .is_ok_and(|resolved| path.starts_with(resolved))
}

/// Rejects an output path, given with `option`, that names the file of one of
/// `inputs`, which writing it would destroy.
fn reject_overlap(
    path: &Path,
    role: &str,
    option: &str,
    inputs: &[Metadata],
) -> Result<(), Failure> {
    let overlaps = inputs.iter().any(|metadata| is_same_file(path, metadata));
    if overlaps {
        return Err(Failure::Usage(format!(
            "{role} {} is also an input file; choose another name with {option}",
            path.display()
        )));
    }
    Ok(())
}

fn log_writer(sink: LogSink, time_zone: TimeZone) -> LogWriter<LogSink> {
    LogWriter::new(sink, LocalTimeFormatter::new(time_zone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsd_decode::{DecodeOptions, FrameDecoder};
    use wsd_flow::{Tracker, TrackerConfig};

    /// A log that accepts `room` bytes and then fails as a full disk does.
    struct FullAfter {
        room: usize,
    }

    impl Write for FullAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            let accepted = buf.len().min(self.room);
            self.room -= accepted;
            Ok(accepted)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn output_with_room(room: usize) -> Output {
        Output {
            writer: log_writer(LogSink::new(Box::new(FullAfter { room })), TimeZone::UTC),
            name: "full.log".to_string(),
            rotation: None,
            failed: false,
            buffered_record_ends: VecDeque::new(),
        }
    }

    /// A write that fails in the middle of a line leaves the log file cut back
    /// to its last whole line, and the cut record does not count as delivered.
    #[test]
    fn failed_write_cuts_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let file = File::create(&path).unwrap();
        let inner = FillingFile {
            file: file.try_clone().unwrap(),
            full: std::rc::Rc::new(std::cell::Cell::new(true)),
            room: 2500,
        };
        let mut output = Output {
            writer: log_writer(
                LogSink::with_file(Box::new(inner), Some(file)),
                TimeZone::UTC,
            ),
            ..output_with_room(0)
        };
        let line = [[b'x'; 999].as_slice(), b"\n"].concat();
        let error = loop {
            match output.writer.write_formatted(&line) {
                Ok(()) => assert!(output.record_written()),
                Err(error) => break error,
            }
            if let Err(error) = output.writer.flush() {
                break error;
            }
        };
        let _ = output.write_error(error);
        // Room again, as the cut frees some: the rest of the cut line in the
        // output buffer must not follow the cut.
        let counter = output.writer.get_mut().inner.get_mut();
        let file = counter.file.as_ref().unwrap().try_clone().unwrap();
        counter.inner = Box::new(FillingFile {
            file,
            full: std::rc::Rc::new(std::cell::Cell::new(false)),
            room: 0,
        });
        assert!(output.writer.flush().is_err());

        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len(), 2000);
        assert_eq!(written.last(), Some(&b'\n'));
        assert_eq!(output.buffered_records(), 1, "the third record was cut");
    }

    /// Once writing the log failed, neither SIGHUP nor the size limit opens a
    /// new log: on a full disk each try would only leave an empty file.
    #[test]
    fn failed_log_not_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogDir::open(dir.path(), TimeZone::UTC, None).unwrap();
        let mut output = Output {
            rotation: Some(Rotation {
                dir: logs,
                interval: None,
                max_bytes: Some(1),
                opened: Instant::now(),
                failing: false,
                hangup_pending: false,
            }),
            ..output_with_room(0)
        };
        let record = [b'x'; 1000];
        let written = output.writer.write_formatted(&record);
        let flushed = written.and_then(|()| output.writer.flush());
        let error = flushed.unwrap_err();
        let _ = output.write_error(error);
        for hangup in [true, false, true] {
            assert!(output.rotate_if_due(hangup).is_ok());
        }
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 0, "no log was opened");
    }

    /// A write error other than a full file system gets advice about the
    /// device, not about free space.
    #[test]
    fn io_error_advice_names_device() {
        let mut output = output_with_room(0);
        let error = output.write_error(io::Error::from_raw_os_error(5));
        let message = error.message();

        assert!(
            message.starts_with("cannot write to full.log: "),
            "{message}"
        );
        assert!(!message.contains("free space"), "{message}");
        assert!(
            message.contains("check the device and file system"),
            "{message}"
        );
    }

    /// Records that only partly or never left the output buffer before the
    /// write error count as buffered, so the summary does not call them
    /// written.
    #[test]
    fn buffered_records_after_write_error() {
        let mut output = output_with_room(300_500);
        let record = [b'x'; 1000];
        let mut accepted = 0u64;
        let error = loop {
            match output.writer.write_formatted(&record) {
                Ok(()) => {
                    output.record_written();
                    accepted += 1;
                }
                Err(err) => break output.write_error(err),
            }
            assert!(accepted < 10_000, "the log never failed");
        };
        assert!(output.has_failed());
        assert!(
            error.message().contains("free space there"),
            "{}",
            error.message()
        );
        // 300 whole records fit into the room; the 301st only in part.
        assert!(accepted > 300, "{accepted} records accepted");
        assert_eq!(output.buffered_records(), accepted - 300);
    }

    /// A log file whose file system is full while `full` is set: it then
    /// takes `room` more bytes and fails as a full disk does.
    struct FillingFile {
        file: File,
        full: std::rc::Rc<std::cell::Cell<bool>>,
        room: usize,
    }

    impl Write for FillingFile {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if !self.full.get() {
                return self.file.write(buf);
            }
            if self.room == 0 {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            let accepted = self.file.write(&buf[..buf.len().min(self.room)])?;
            self.room -= accepted;
            Ok(accepted)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Returns an output that keeps up to `limit` bytes of records in memory,
    /// writing to a log file in a new temporary directory, with the file's
    /// path and a flag that makes its file system take `room` more bytes and
    /// then fail while set. The flag starts set.
    fn holding_output(
        room: usize,
        limit: u64,
    ) -> (
        tempfile::TempDir,
        PathBuf,
        std::rc::Rc<std::cell::Cell<bool>>,
        Output,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let full = std::rc::Rc::new(std::cell::Cell::new(true));
        let file = File::create(&path).unwrap();
        let inner = FillingFile {
            file: file.try_clone().unwrap(),
            full: full.clone(),
            room,
        };
        let mut output = Output {
            writer: log_writer(
                LogSink::with_file(Box::new(inner), Some(file)),
                TimeZone::UTC,
            ),
            ..output_with_room(0)
        };
        output.hold_records(limit);
        (dir, path, full, output)
    }

    /// Writes the numbered records `numbers`, 1,000 bytes each, as whole
    /// records.
    fn write_records(output: &mut Output, numbers: std::ops::Range<usize>) {
        for n in numbers {
            let record = numbered_record(n, 1000);
            output.writer.write_formatted(&record).unwrap();
            output.record_written();
        }
    }

    /// Returns the numbered records `numbers`, 1,000 bytes each, one after
    /// another.
    fn numbered_records(numbers: std::ops::Range<usize>) -> Vec<u8> {
        numbers.flat_map(|n| numbered_record(n, 1000)).collect()
    }

    /// Numbered records of `len` bytes each, newline included.
    fn numbered_record(n: usize, len: usize) -> Vec<u8> {
        let mut line = format!("record {n:06} ").into_bytes();
        line.resize(len - 1, b'x');
        line.push(b'\n');
        line
    }

    /// While the file system is full, records wait in memory, the log keeps
    /// only whole lines, and once there is room again every record reaches it
    /// in order, none twice.
    #[test]
    fn full_log_holds_records_until_room() {
        // The room ends inside the 3rd record of the first flush.
        let (_dir, path, full, mut output) = holding_output(2500, 1 << 20);
        let mut expected = Vec::new();
        for n in 0..600 {
            let record = numbered_record(n, 1000);
            output.writer.write_formatted(&record).unwrap();
            output.record_written();
            expected.extend_from_slice(&record);
            if n % 50 == 0 {
                output.writer.flush().unwrap();
            }
        }
        assert!(output.writer.get_ref().is_holding());
        assert!(!output.has_failed());
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len(), 2000, "whole lines only");
        assert_eq!(output.buffered_records(), 598);
        assert_eq!(output.held_records(), 598);

        full.set(false);
        output.writer.flush().unwrap();
        assert!(!output.writer.get_ref().is_holding());
        assert_eq!(output.buffered_records(), 0);
        for n in 600..610 {
            // Records in the output buffer are not held.
            assert_eq!(output.held_records(), 0);
            let record = numbered_record(n, 1000);
            output.writer.write_formatted(&record).unwrap();
            expected.extend_from_slice(&record);
        }
        output.flush_at_end().unwrap();
        assert!(std::fs::read(&path).unwrap() == expected);
    }

    /// Once the records held reach the limit, new records are dropped whole
    /// and counted, with one warning, while the records held stay. Once there
    /// is room they reach the log in order, none twice, and later records
    /// follow them.
    #[test]
    fn full_hold_drops_new_records() {
        let (_dir, path, full, mut output) = holding_output(0, 100_000);
        let mut expected = Vec::new();
        let mut accepted = 0;
        let logged = logged_during(|| {
            for n in 0..400 {
                let record = numbered_record(n, 1000);
                output.writer.write_formatted(&record).unwrap();
                if output.record_written() {
                    expected.extend_from_slice(&record);
                    accepted += 1;
                }
            }
            output.writer.flush().unwrap();
        });
        // The output buffer takes 262 records, the hold 100 more.
        assert_eq!(accepted, 362);
        assert_eq!(expected[..], numbered_records(0..362)[..]);
        assert!(!output.has_failed());
        assert!(output.writer.get_ref().is_holding());
        assert_eq!(output.held_records(), 362);
        assert_eq!(output.writer.get_ref().hold.dropped_records, 38);
        assert!(output.writer.get_ref().hold.bytes.capacity() <= 100_000);
        assert_eq!(logged.matches("are dropped until").count(), 1, "{logged}");
        assert!(
            logged.contains("reached --hold-size 97.7 KiB, with 353.5 KiB of records waiting"),
            "{logged}"
        );
        assert!(logged.contains("raise --hold-size"), "{logged}");

        full.set(false);
        let logged = logged_during(|| output.writer.flush().unwrap());
        assert!(!output.writer.get_ref().is_holding());
        assert!(
            logged
                .contains("38 flow records that did not fit in --hold-size 97.7 KiB were dropped"),
            "{logged}"
        );
        assert!(std::fs::read(&path).unwrap() == expected);

        let record = numbered_record(400, 1000);
        output.writer.write_formatted(&record).unwrap();
        assert!(output.record_written());
        output.flush_at_end().unwrap();
        expected.extend_from_slice(&record);
        assert!(std::fs::read(&path).unwrap() == expected);
    }

    /// Each time the log fills, the warning comes again and the count of
    /// lines dropped starts from 0. Statistics records count apart,
    /// and the run's count of them goes on across the episodes.
    #[test]
    fn dropped_lines_counted_per_episode() {
        let (_dir, path, full, mut output) = holding_output(0, 2000);
        let statistics = [b"STATS ".as_slice(), &[b'x'; 993], b"\n"].concat();
        for (episode, first) in [(1, 0), (2, 1000)] {
            full.set(true);
            let logged = logged_during(|| {
                // The output buffer takes 262 records, the hold 2 more.
                write_records(&mut output, first..first + 300);
                output.writer.write_formatted(&statistics).unwrap();
                output.writer.flush().unwrap();
            });
            assert_eq!(logged.matches("are dropped until").count(), 1, "{logged}");
            full.set(false);
            let logged = logged_during(|| output.writer.flush().unwrap());
            assert!(
                logged.contains(
                    "36 flow records and 1 statistics record that did not fit in \
                     --hold-size 2.0 KiB were dropped"
                ),
                "episode {episode}: {logged}"
            );
        }
        let mut expected = numbered_records(0..264);
        expected.extend(numbered_records(1000..1264));
        assert!(std::fs::read(&path).unwrap() == expected);
        assert_eq!(output.other_lines_dropped(), 2);
    }

    /// While the log's file system is full, packet lines are dropped and
    /// counted instead of held, so that the flow records between them keep
    /// the hold's room and reach the log once there is room, in order.
    #[test]
    fn packet_lines_dropped_while_holding() {
        use wsd_synth::{Endpoint, FrameBuilder};

        let (_dir, path, full, mut output) = holding_output(0, 16 * 1024);
        // The first record stays in the output buffer, whose flush fails.
        write_records(&mut output, 0..1);
        output.writer.flush().unwrap();
        assert!(output.writer.get_ref().is_holding());

        let decoder = FrameDecoder::new(DecodeOptions::new(), false);
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut frames = FrameBuilder::new();
        let client = Endpoint::v4([192, 0, 2, 1], 40000);
        let server = Endpoint::v4([192, 0, 2, 2], 53);
        let ts = Timestamp::from_nanos(1_700_000_000_000_000_000);
        let logged = logged_during(|| {
            // 16 records of 1,000 bytes fit in the hold, and 100 packet
            // lines before each would fill it on their own.
            for n in 1..16 {
                for _ in 0..100 {
                    let frame = frames.udp(client, server, 20);
                    let decoded = decoder.decode(1, &frame, frame.len() as u32);
                    let outcome = tracker.process(ts, &decoded);
                    output.write_packet_line(ts, &decoded, &outcome).unwrap();
                }
                write_records(&mut output, n..n + 1);
            }
            output.writer.flush().unwrap();
        });
        assert!(!logged.contains("are dropped until"), "{logged}");
        assert_eq!(output.held_records(), 16);
        assert_eq!(output.writer.get_ref().hold.dropped_records, 0);
        assert_eq!(output.writer.get_ref().hold.dropped_packet_lines, 1500);
        // The summary counts them and the run fails, since the log lacks them.
        assert_eq!(output.other_lines_dropped(), 1500);

        full.set(false);
        let logged = logged_during(|| output.writer.flush().unwrap());
        assert!(!output.writer.get_ref().is_holding());
        assert!(
            logged.contains("; 1500 packet lines were dropped instead of held"),
            "{logged}"
        );
        assert!(!logged.contains("did not fit"), "{logged}");
        assert!(std::fs::read(&path).unwrap() == numbered_records(0..16));
    }

    /// A line that the log took in part before it filled is held whole, even
    /// past the limit, so that the log gets no cut line. The next line is
    /// dropped.
    #[test]
    fn started_line_kept_past_limit() {
        let (_dir, path, full, mut output) = holding_output(1000, 2000);
        // Longer than the output buffer, so that it goes to the log directly.
        let long = numbered_record(0, 300_000);
        output.writer.write_formatted(&long).unwrap();
        assert!(output.record_written());
        assert!(output.writer.get_ref().is_holding());
        output
            .writer
            .write_formatted(&numbered_record(1, 1000))
            .unwrap();
        assert!(!output.record_written());

        full.set(false);
        output.flush_at_end().unwrap();
        assert!(std::fs::read(&path).unwrap() == long);
    }

    /// Records still held when the run ends fail it, and no more reach the
    /// log afterwards.
    #[test]
    fn held_records_at_end_fail() {
        let (_dir, path, full, mut output) = holding_output(1500, 1 << 20);
        write_records(&mut output, 0..10);
        output.writer.flush().unwrap();
        assert!(output.writer.get_ref().is_holding());
        let error = output.flush_at_end().unwrap_err();
        assert!(
            error.message().contains("held in memory"),
            "{}",
            error.message()
        );
        assert_eq!(output.buffered_records(), 9);
        full.set(false);
        assert!(output.writer.flush().is_err());
        assert_eq!(std::fs::read(&path).unwrap().len(), 1000);
    }

    /// The notice once the log takes records again counts every byte held,
    /// also those that an earlier try wrote.
    #[test]
    fn notice_counts_records_written_in_parts() {
        let (_dir, path, full, mut output) = holding_output(0, 1 << 20);
        write_records(&mut output, 0..10);
        output.writer.flush().unwrap();
        assert!(output.writer.get_ref().is_holding());

        // Room for 2.5 records: the next try writes 2 of them.
        let counter = output.writer.get_mut().inner.get_mut();
        counter.inner = Box::new(FillingFile {
            file: counter.file.as_ref().unwrap().try_clone().unwrap(),
            full: full.clone(),
            room: 2500,
        });
        output.writer.flush().unwrap();
        assert!(output.writer.get_ref().is_holding());
        assert_eq!(std::fs::read(&path).unwrap().len(), 2000);

        full.set(false);
        let logged = logged_during(|| output.writer.flush().unwrap());
        assert!(!output.writer.get_ref().is_holding());
        assert!(
            logged.contains("wrote the 9.8 KiB of records held"),
            "{logged}"
        );
    }

    /// The warning when holding starts explains that removing the log frees no
    /// space, because records go on into the removed file.
    #[test]
    fn holding_warning_keeps_log() {
        let (_dir, _path, _full, mut output) = holding_output(0, 1 << 20);
        let logged = logged_during(|| {
            write_records(&mut output, 0..1);
            output.writer.flush().unwrap();
        });
        assert!(output.writer.get_ref().is_holding());
        assert!(
            logged.contains("holding the records in memory, up to 1.0 MiB"),
            "{logged}"
        );
        assert!(
            logged.contains(
                "free space there, but not by removing the log, which keeps its space \
                 while wsd has it open"
            ),
            "{logged}"
        );
    }

    /// Sizes in messages keep a small size visible.
    #[test]
    fn byte_size_units() {
        let cases = [
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1.0 KiB"),
            (100_000, "97.7 KiB"),
            (1 << 20, "1.0 MiB"),
            (64 << 20, "64.0 MiB"),
            (3 << 30, "3.0 GiB"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Size(bytes).to_string(), expected, "{bytes} bytes");
        }
    }

    /// A log message sink for [`logged_during`].
    struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Runs `run` and returns the messages that it logged in this thread.
    fn logged_during(run: impl FnOnce()) -> String {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || SharedBuffer(sink.clone()))
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let logged = buffer.lock().unwrap().clone();
        String::from_utf8(logged).unwrap()
    }

    /// A log that fills at the end of the run fails it without a warning
    /// that the records are held and tried again.
    #[test]
    fn full_at_end_fails_without_hold() {
        let (_dir, path, _, mut output) = holding_output(1500, 1 << 20);
        write_records(&mut output, 0..10);
        let mut result = Ok(());
        let logged = logged_during(|| result = output.flush_at_end());
        let error = result.unwrap_err();
        assert!(!logged.contains("holding the records"), "{logged}");
        assert!(
            !error.message().contains("held in memory"),
            "{}",
            error.message()
        );
        assert!(output.has_failed());
        assert_eq!(output.buffered_records(), 9);
        assert_eq!(std::fs::read(&path).unwrap().len(), 1000);
    }

    /// Without a limit the first failed write fails, as in a file run.
    #[test]
    fn no_hold_without_limit() {
        let (_dir, _, _, mut output) = holding_output(0, 0);
        output.writer.write_formatted(b"record\n").unwrap();
        assert!(output.writer.flush().is_err());
        assert!(!output.writer.get_ref().is_holding());
    }

    /// A log directory's log rotates only once the records held for it are
    /// written, and a SIGHUP that came meanwhile is kept for then.
    #[test]
    fn rotation_waits_for_held_records() {
        let (dir, path, full, held) = holding_output(0, 1 << 20);
        let logs = LogDir::open(dir.path(), TimeZone::UTC, None).unwrap();
        let mut output = Output {
            rotation: Some(Rotation {
                dir: logs,
                interval: None,
                max_bytes: None,
                opened: Instant::now(),
                failing: false,
                hangup_pending: false,
            }),
            ..held
        };
        output.writer.write_formatted(b"record\n").unwrap();
        output.writer.flush().unwrap();
        assert!(output.writer.get_ref().is_holding());
        let logged = logged_during(|| output.rotate_if_due(true).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(
            logged.contains("rotates once the records held in memory are written"),
            "{logged}"
        );
        // The SIGHUP kept for later is logged once.
        let logged = logged_during(|| output.rotate_if_due(false).unwrap());
        assert!(logged.is_empty(), "{logged}");

        full.set(false);
        output.writer.flush().unwrap();
        // Counts of lines dropped in an earlier episode, which the new log
        // takes over.
        output.writer.get_mut().lines_dropped = 3;
        output.writer.get_mut().records_dropped = 1;
        output.rotate_if_due(false).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        assert_eq!(std::fs::read(&path).unwrap(), b"record\n");
        assert_ne!(output.name, path.display().to_string());
        assert_eq!(output.writer.get_ref().hold.limit, 1 << 20);
        assert_eq!(output.other_lines_dropped(), 2);
    }

    #[test]
    fn no_buffered_records_after_flush() {
        let mut output = output_with_room(usize::MAX);
        for _ in 0..10 {
            output.writer.write_formatted(b"record\n").unwrap();
            output.record_written();
        }
        assert_eq!(output.buffered_records(), 10);
        output.writer.flush().unwrap();
        assert_eq!(output.buffered_records(), 0);
        assert!(!output.has_failed());
    }
}
