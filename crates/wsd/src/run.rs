//! A file run: every input in order through decode, tracking and formatting.
//! Live capture (`live.rs`) shares the per-packet steps and the end of the run.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use tracing::{debug, error, info, trace, warn, Level};
use wsd_capture::live::CaptureStats;
use wsd_capture::{FileSource, Packet, PacketFilter, PacketSource, Timestamp};
use wsd_decode::{DecodeOptions, DecodeTally, FrameDecoder, StopReason};
use wsd_flow::{RecordProtocols, TrackerConfig};
use wsd_logfmt::StatsRecord;

use crate::cache::{load_tracker, save_tracker, Loaded};
use crate::diagnostics::Diagnostics;
use crate::flows::{Finished, Flows};
use crate::inputs::check_inputs;
use crate::live::{live_failure, load_libpcap, run_live};
use crate::output::{open_output, Output};
use crate::progress::Progress;
use crate::startup::{catch_hangup, rotate_between_records, StartUp};
use wsd::cli::{Cli, ProtocolClass};

/// How a run failed, which decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or unreadable input: exit status 2.
    Usage(String),
    /// Any other failure, such as an output write error: exit status 1.
    Other(String),
    /// A resource that another process is using, such as a locked flow cache:
    /// exit status 75, for a run that a wrapper should retry later.
    Busy(String),
    /// A log or flow cache that the system does not let this run create, such
    /// as in a directory without write permission: exit status 73. A wrapper
    /// should retry the run once that is fixed.
    CannotCreate(String),
    /// SIGINT or SIGTERM stopped the run before the end of a capture file:
    /// the process ends by that signal once the run is finished, as the shell
    /// expects of a command that it stopped.
    Stopped {
        /// The signal's number.
        signal: i32,
        message: String,
    },
}

impl Failure {
    /// Returns the process exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Other(_) => 1,
            Failure::Busy(_) => 75,
            Failure::CannotCreate(_) => 73,
            Failure::Stopped { signal, .. } => 128 + signal,
        }
    }

    /// Returns the message for the user.
    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(message)
            | Failure::Other(message)
            | Failure::Busy(message)
            | Failure::CannotCreate(message)
            | Failure::Stopped { message, .. } => message,
        }
    }

    /// Returns the same kind of failure with `more` added to its message.
    pub(crate) fn extended(self, more: &str) -> Failure {
        match self {
            Failure::Usage(message) => Failure::Usage(message + more),
            Failure::Other(message) => Failure::Other(message + more),
            Failure::Busy(message) => Failure::Busy(message + more),
            Failure::CannotCreate(message) => Failure::CannotCreate(message + more),
            Failure::Stopped { signal, message } => Failure::Stopped {
                signal,
                message: message + more,
            },
        }
    }
}

/// The reason that follows the number of flow records dropped in the summary
/// and progress lines.
const DROPPED: &str = "dropped because the log was full and --hold-size was reached";

/// Number of distinct unsupported link types that get a warning. Packets of
/// further types are only counted.
const MAX_LINK_TYPE_WARNINGS: usize = 4;

/// Totals of a run, reported once at the end.
#[derive(Debug, Default)]
pub struct Summary {
    /// Packets read so far.
    pub packets: u64,
    bytes: u64,
    /// Flow records written to the log; at the end of the run, only those that
    /// left the output buffer.
    records: u64,
    /// Flow records made but not written because writing the log failed.
    records_not_written: u64,
    /// Flow records dropped because the log's file system was full and the
    /// records held in memory had reached `--hold-size`.
    records_dropped: u64,
    /// Statistics records and packet lines dropped for the same reason.
    other_lines_dropped: u64,
    malformed_records: u64,
    /// Input bytes passed over after damage, whose packets are lost.
    skipped_bytes: u64,
    /// Packets whose time was out of range and set to the nearest date stored.
    clamped_times: u64,
    /// Packets dated far from the packets before and after them, given the
    /// time of the last packet with a trusted time.
    lone_times: u64,
    /// Classic pcap packets whose sub-second time field was a second or more,
    /// dated at the end of their second instead.
    subsecond_overflows: u64,
    /// Packets dated more than a day before the previous packet of the same
    /// input.
    steps_back: u64,
    /// The first packet counted in `steps_back`.
    first_step_back: Option<PacketPlace>,
    /// The first packet of an input that moved the capture clock forward by
    /// more than a day at once. Live capture locates none.
    first_clock_jump: Option<PacketPlace>,
    /// Whether the warning that the flow table is full was logged.
    warned_full_table: bool,
    stopped: BTreeMap<StopReason, u64>,
    /// Link types already warned about as unsupported.
    unsupported_links: Vec<u32>,
    /// Packets captured whole whose IP length field claims more than the frame.
    ip_length_beyond_frame: u64,
    /// Drop counters of a live capture, read at its end.
    pub capture: Option<CaptureStats>,
    /// Capture time of the next `--stats` record, once the first packet set it.
    next_stats: Option<Timestamp>,
}

impl Summary {
    /// Adds what decoding counted.
    pub(crate) fn add_tally(&mut self, tally: &DecodeTally) {
        self.ip_length_beyond_frame += tally.ip_length_beyond_frame;
        for stop in &tally.stops {
            self.count_stop(stop.reason, stop.linktype, stop.frames);
        }
    }

    /// Counts packets whose decoding stopped early, and warns at the first packet
    /// of a link type that is not decoded at all, for the first few such types.
    fn count_stop(&mut self, reason: StopReason, linktype: u32, packets: u64) {
        let count = self.stopped.entry(reason).or_insert(0);
        *count += packets;
        if reason == StopReason::UnsupportedLinkType
            && self.unsupported_links.len() < MAX_LINK_TYPE_WARNINGS
            && !self.unsupported_links.contains(&linktype)
        {
            self.unsupported_links.push(linktype);
            warn!(
                "link type {linktype} is not supported: its packets are counted as \
                 {} and give no flows (see the supported link types in the README)",
                reason.name()
            );
        }
    }

    /// Writes a statistics record if `--stats` is given and its interval has
    /// passed by capture time `ts`; `at_end` writes one regardless.
    pub(crate) fn write_stats_due(
        &mut self,
        cli: &Cli,
        tracker: &Flows,
        output: &mut Output,
        ts: Timestamp,
        at_end: bool,
    ) -> Result<(), Failure> {
        if !self.stats_due(cli, ts, at_end) {
            return Ok(());
        }
        self.write_stats(tracker, output, ts)
    }

    /// Returns true if `--stats` is given and its interval has passed by capture
    /// time `ts`, or `at_end`, and then moves on to the next interval.
    fn stats_due(&mut self, cli: &Cli, ts: Timestamp, at_end: bool) -> bool {
        let Some(seconds) = cli.stats else {
            return false;
        };
        let interval = ((seconds * 1e9) as i64).max(1);
        let next = *self.next_stats.get_or_insert(ts.add_nanos(interval));
        if !at_end && ts < next {
            return false;
        }
        // Skip the intervals without packets, keeping records on the same grid.
        let behind = ts.nanos_since(next).max(0) / interval;
        self.next_stats = Some(next.add_nanos((behind + 1) * interval));
        true
    }

    /// Writes a statistics record of capture time `ts`.
    fn write_stats(
        &self,
        tracker: &Flows,
        output: &mut Output,
        ts: Timestamp,
    ) -> Result<(), Failure> {
        let problems: Vec<(&str, u64)> = self
            .stopped
            .iter()
            .map(|(reason, count)| (reason.name(), *count))
            .collect();
        let stats = StatsRecord {
            ts,
            packets: self.packets,
            bytes: self.bytes,
            active_flows: tracker.active_flows() as u64,
            records: self.records,
            evicted: tracker.stats().evicted,
            decode_problems: &problems,
            capture_drops: self
                .capture
                .map(|drops| drops.dropped.saturating_add(drops.interface_dropped)),
        };
        output
            .writer
            .write_stats(&stats)
            .map_err(|err| output.write_error(err))
    }

    /// Counts the packet at `place`, dated `ts`, if it lies more than a day
    /// before `previous`, the previous packet of its input. Remembers the
    /// first such packet, and the first that moved the capture clock forward
    /// by more than a day, as `tracker` counting past `clock_jumps` shows.
    /// Each is logged at debug level. Called only for a packet more than a
    /// day from the previous one, or the first of its input.
    #[cold]
    fn note_clock_steps(
        &mut self,
        place: PacketPlace,
        previous: Option<Timestamp>,
        ts: Timestamp,
        clock_jumps: u64,
        tracker: &Flows,
    ) {
        // A packet dated before the previous one cannot move the clock forward.
        if previous.is_some_and(|previous| previous.nanos_since(ts) > STEP_BACK_NANOS) {
            debug!("{place} is dated more than a day before the previous packet of its input");
            self.steps_back += 1;
            self.first_step_back.get_or_insert(place);
        } else if tracker.stats().clock_jumps > clock_jumps {
            debug!("{place} moved the capture clock forward by more than a day at once");
            self.first_clock_jump.get_or_insert(place);
        }
    }

    /// Does what is due at a tick of the coarse clock: logs the progress that
    /// SIGUSR1 requested, and warns once when the flow table first evicted a
    /// flow to make room.
    pub(crate) fn on_tick(&mut self, tracker: &Flows, output: &mut Output, max_flows: u64) {
        if crate::startup::progress_requested() {
            self.log_progress(tracker, output.held_records());
        }
        if !self.warned_full_table && tracker.stats().evicted > 0 {
            self.warned_full_table = true;
            warn!(
                "the flow table is full (--max-flows {max_flows}), so flows are evicted \
                 to make room: the flow idle the longest, a closed one first, is reported \
                 early with endReason=evicted, and its later packets start a new flow; \
                 raise --max-flows if memory allows"
            );
        }
    }

    /// Takes the count of statistics records and packet lines that `output`
    /// dropped while its log's file system was full, for the summary.
    pub(crate) fn count_other_lines_dropped(&mut self, output: &Output) {
        self.other_lines_dropped = output.other_lines_dropped();
    }

    /// Describes the flow records and other lines dropped while the log's
    /// file system was full, with the verb that follows.
    fn describe_dropped(&self) -> (String, &'static str) {
        let others = "(statistics records or packet lines)";
        let lines = match (self.records_dropped, self.other_lines_dropped) {
            (records, 0) => count(records, "flow record"),
            (0, lines) => format!("{} {others}", count(lines, "line")),
            (records, lines) => format!(
                "{} and {} {others}",
                count(records, "flow record"),
                count(lines, "other line")
            ),
        };
        let verb = match self.records_dropped + self.other_lines_dropped {
            1 => "was",
            _ => "were",
        };
        (lines, verb)
    }

    /// Fails a run that dropped flow records, statistics records or packet
    /// lines while the log's file system was full, as a failed write fails
    /// it, because the log lacks them. Adds the count to the failure of
    /// `result` if the run failed anyway.
    pub(crate) fn fail_if_dropped(&self, result: Result<(), Failure>) -> Result<(), Failure> {
        if self.records_dropped == 0 && self.other_lines_dropped == 0 {
            return result;
        }
        let (dropped, verb) = self.describe_dropped();
        let message = format!(
            "{dropped} {verb} dropped while the log's file system was full, because the \
             records held in memory had reached --hold-size; free space on that file system \
             sooner, or raise --hold-size"
        );
        match result {
            Ok(()) => Err(Failure::Other(message)),
            Err(failure) => Err(failure.extended(&format!("; also, {message}"))),
        }
    }

    /// Logs how far the run got, for SIGUSR1: packets and bytes read, flow
    /// records written, of which `waiting` wait in memory for room in the log,
    /// flow records dropped while the log was full, flows open and flows
    /// evicted from a full table.
    pub(crate) fn log_progress(&self, tracker: &Flows, waiting: u64) {
        let waiting = match waiting {
            0 => String::new(),
            waiting => format!(" ({waiting} of them held in memory until the log has room)"),
        };
        let dropped = match self.records_dropped {
            0 => String::new(),
            dropped => format!(", {dropped} {DROPPED}"),
        };
        info!(
            "progress: {}, {}, {} written{waiting}{dropped}, {} open, {} evicted from a \
             full table",
            count(self.packets, "packet"),
            count(self.bytes, "byte"),
            count(self.records, "flow record"),
            count(tracker.active_flows() as u64, "flow"),
            tracker.stats().evicted,
        );
    }

    pub(crate) fn log(&self, tracker: &Flows) {
        let stats = tracker.stats();
        // Fragments without a transport header are not problems: the tracker
        // counts them into flows, so they get a clause of their own.
        let is_fragment =
            |reason: &StopReason| matches!(reason, StopReason::Fragment | StopReason::TinyFragment);
        let problems: Vec<String> = self
            .stopped
            .iter()
            .filter(|(reason, _)| !is_fragment(reason))
            .map(|(reason, count)| format!("{} {count}", reason.name()))
            .collect();
        let problems = if problems.is_empty() {
            "none".to_string()
        } else {
            problems.join(", ")
        };
        let fragments: u64 = self
            .stopped
            .iter()
            .filter(|(reason, _)| is_fragment(reason))
            .map(|(_, count)| count)
            .sum();
        let fragments = if fragments > 0 {
            format!(
                "; IP fragments without a transport header: {} counted into flows, {} unattributed",
                stats.fragments_attributed + stats.tiny_fragments_joined,
                stats.fragments_unattributed + stats.tiny_fragments_unjoined,
            )
        } else {
            String::new()
        };
        let drops = match self.capture {
            Some(capture) => format!(
                "; capture drops: {} by the kernel, {} by the interface",
                capture.dropped, capture.interface_dropped
            ),
            None => String::new(),
        };
        let records = count(self.records, "flow record");
        let mut dropped = format!("{} {DROPPED}", self.records_dropped);
        if self.other_lines_dropped > 0 {
            dropped.push_str(&format!(
                ", as {} {} (statistics records or packet lines)",
                if self.other_lines_dropped == 1 {
                    "was"
                } else {
                    "were"
                },
                count(self.other_lines_dropped, "other line")
            ));
        }
        let not_written = format!(
            "{} not written because writing the log failed",
            self.records_not_written
        );
        let any_dropped = self.records_dropped > 0 || self.other_lines_dropped > 0;
        let records = match (any_dropped, self.records_not_written > 0) {
            (false, false) => records,
            (true, false) => format!("{records} written and {dropped}"),
            (false, true) => format!("{records} written and {not_written}"),
            (true, true) => format!("{records} written, {dropped}, and {not_written}"),
        };
        let mut damage = match self.skipped_bytes {
            0 => String::new(),
            bytes => format!(
                " and {} of input passed over after damage",
                count(bytes, "byte")
            ),
        };
        if self.clamped_times > 0 {
            damage.push_str(&format!(
                ", {} out of range",
                count(self.clamped_times, "packet time")
            ));
        }
        if self.lone_times > 0 {
            damage.push_str(&format!(
                ", {} replaced",
                count(self.lone_times, "lone packet time")
            ));
        }
        if self.subsecond_overflows > 0 {
            damage.push_str(&format!(
                ", {} with a sub-second field of a second or more",
                count(self.subsecond_overflows, "packet time")
            ));
        }
        if stats.fragments_unattributed > 0
            || stats.fragment_datagrams_evicted > 0
            || stats.tiny_fragments_unjoined > 0
        {
            // The causes listed add up to the unattributed count, so that the
            // line agrees with the summary's fragment clause.
            let other = stats
                .fragments_unattributed
                .saturating_sub(stats.fragments_timed_out)
                .saturating_sub(stats.fragments_over_limit);
            info!(
                "IP fragments: later fragments {} counted into the flow of their first \
                 fragment, {} unattributed ({} timed out, {} over the limit of {} waiting \
                 per datagram, {} with no first fragment or flow when the input ended, \
                 when their datagram was evicted or after their flow ended); {} evicted \
                 from the full table of {}; first fragments too short for their transport \
                 header: {} joined with the next fragment, {} not",
                stats.fragments_attributed,
                stats.fragments_unattributed,
                stats.fragments_timed_out,
                stats.fragments_over_limit,
                wsd_flow::MAX_WAITING_FRAGMENTS,
                other,
                count(stats.fragment_datagrams_evicted, "datagram"),
                wsd_flow::MAX_FRAGMENT_DATAGRAMS,
                stats.tiny_fragments_joined,
                stats.tiny_fragments_unjoined,
            );
        }
        if self.ip_length_beyond_frame > 0 {
            warn!(
                "{} captured whole claimed an IP length longer than the frame, as \
                 after slicing by a packet broker or with a forged length field; their \
                 records count the IP length, and --cap-ip-length counts only the frame",
                count(self.ip_length_beyond_frame, "packet")
            );
        }
        debug!(?stats, "tracker statistics");
        if stats.clock_jumps > 0 {
            warn!(
                "{}{} moved the capture clock forward by more than a day at once, so the \
                 flows open before timed out unless their timeout is longer; check the \
                 capture's timestamps",
                count(stats.clock_jumps, "packet"),
                first_packet_clause(stats.clock_jumps, self.first_clock_jump.as_ref())
            );
        }
        if self.steps_back > 0 {
            let (verb, record) = match self.steps_back {
                1 => ("was", "a flow record may start at that date"),
                _ => ("were", "flow records may start at those dates"),
            };
            warn!(
                "{}{} {verb} dated more than a day before the previous packet of the same \
                 input, so {record}; check the capture's timestamps",
                count(self.steps_back, "packet"),
                first_packet_clause(self.steps_back, self.first_step_back.as_ref())
            );
        }
        // The summary line comes after the rest of this report, so that a script
        // finds it last, unless the run fails or cannot remove its pid file.
        info!(
            "finished: {}, {}, {records} ({} evicted from a full table), {}{damage}; \
             packets not fully decoded: {problems}{fragments}{drops}",
            count(self.packets, "packet"),
            count(self.bytes, "byte"),
            stats.evicted,
            count(self.malformed_records, "unreadable capture record"),
        );
    }
}

/// A packet of a `-r` input, for messages: the input's name and the packet's
/// number in it, counted from 1 over every packet record read, as the
/// capture reader's warnings count them.
#[derive(Debug)]
struct PacketPlace {
    input: String,
    number: u64,
}

impl std::fmt::Display for PacketPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "packet {} of {}", self.number, self.input)
    }
}

/// Returns ` (packet N of FILE)` for the only one of `packets`, or ` (the
/// first is packet N of FILE)` for several, or nothing if `first` is unknown.
fn first_packet_clause(packets: u64, first: Option<&PacketPlace>) -> String {
    match (first, packets) {
        (None, _) => String::new(),
        (Some(place), 1) => format!(" ({place})"),
        (Some(place), _) => format!(" (the first is {place})"),
    }
}

/// `1 packet`, `2 packets`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Runs `wsd` over the input files named on the command line, or captures live
/// when there are none.
///
/// Everything that needs root or a path outside a chroot is opened first: the
/// pid file, the inputs, the flow cache to load, the log directory. Then
/// privileges are dropped and, for a daemon, the process detaches.
pub fn run(cli: &Cli, diagnostics: &Diagnostics) -> Result<(), Failure> {
    if cli.wflow.is_some() {
        CACHE_STATE.store(CACHE_NOT_SAVED, Ordering::Release);
    }
    warn_if_more_threads_than_processors(cli.threads);
    let startup = StartUp::begin(cli)?;
    if cli.read.is_empty() {
        return run_live(cli, &startup, diagnostics);
    }
    // Opening a named pipe, or reading the file header of `-r -`, can wait for
    // a writer, and a SIGHUP from log rotation then must not end the run.
    let hangup = catch_hangup()?;
    crate::startup::catch_progress_request()?;
    let mut inputs = check_inputs(&cli.read)?;
    // Inputs that only root may read, or that a chroot hides, are opened
    // before privileges are dropped.
    if cli.chroot.is_some() || cli.user.is_some() || cli.group.is_some() {
        // Every input is then open at once, so a long list needs the file limit
        // raised to its maximum.
        raise_open_file_limit();
        let count = inputs.len();
        for input in &mut inputs {
            input.open_before_drop(count)?;
        }
    }
    let mut filter = file_filter(cli)?;
    let config = tracker_config(cli)?;
    // A signal while a large cache loads ends the run as at the end of its
    // input, or, for SIGHUP, is ignored, instead of killing the process.
    let stop = stop_on_signals(cli.detaches() || cli.diag_file.is_some())?;
    let loaded = load_tracker_marked(cli, config)?;
    let mut output = open_output(cli, startup.identity())?;
    startup.complete(cli, &output, diagnostics, &hangup)?;
    crate::ticks::start();
    let mut summary = Summary::default();
    let (mut tracker, mut result) = start_flows(loaded, &mut output, &mut summary)?;
    let total_bytes = inputs.iter().filter_map(|input| input.len).sum();
    // Records on the terminal would mix with the progress line.
    let records_on_terminal = cli
        .logfile
        .as_deref()
        .is_some_and(|path| path.as_os_str() == "-")
        && std::io::stdout().is_terminal();
    let mut progress = Progress::new(total_bytes, !records_on_terminal);
    let mut done_bytes = 0;

    // The first capture file not read to its end because of a signal. Streams
    // are not counted, because a signal is how a run on a pipe ends.
    let mut unread = None;
    for (index, input) in inputs.iter_mut().enumerate() {
        if result.is_err() {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            let file = inputs[index..].iter().position(|input| input.len.is_some());
            unread = file.map(|offset| index + offset);
            break;
        }
        let mut source = match input.open() {
            Ok(source) => source,
            Err(failure) => {
                result = Err(failure);
                break;
            }
        };
        debug!(file = %input.path.display(), "reading");
        result = process_source(
            &mut source,
            filter.as_mut(),
            cli,
            &mut tracker,
            &mut output,
            &mut summary,
            &mut progress,
            done_bytes,
            &stop,
            &hangup,
        );
        // A signal stopped a capture file early only if a packet of it is left,
        // and not when it came while the records of the last packet were
        // written. One more read finds out. It passes blocks without packets at
        // the end, and warns about a last record cut short.
        if stop.load(Ordering::Relaxed)
            && input.len.is_some()
            && matches!(source.next_packet(), Ok(Some(_)))
        {
            unread = Some(index);
        }
        done_bytes += source.position();
        debug!(file = %input.path.display(), stats = ?source.stats(), "read statistics");
        summary.malformed_records += source.stats().malformed_records;
        summary.skipped_bytes += source.stats().skipped_bytes;
        summary.clamped_times += source.stats().clamped_times;
        summary.lone_times += source.stats().lone_times;
        summary.subsecond_overflows += source.stats().subsecond_overflows;
        if unread.is_some() {
            break;
        }
    }

    progress.clear();
    if stop.load(Ordering::Relaxed) {
        info!("stopped by a signal: finishing as at the end of the input");
    }
    let (saved, written) = finish_flows(cli, &mut tracker, &mut output, &mut summary, &hangup);
    mark_finished();
    summary.log(&tracker);
    // The pid file goes last, once the summary is out.
    drop(startup);
    // Bad usage found before any packet was tracked, such as a filter that does
    // not fit the first packet, keeps its status: the saved cache holds only
    // what was loaded, so a retry would fail the same way.
    let usage_first = matches!(result, Err(Failure::Usage(_))) && summary.packets == 0;
    let outcome = combine_failures(
        result.and(written),
        saved,
        cli.wflow.is_some() && !usage_first,
        true,
    );
    match (unread, outcome) {
        (Some(index), Ok(())) => Err(stopped_before_end(cli, &inputs[index..])),
        // The failure keeps its status, and its message names what was not read.
        (Some(index), Err(failure)) => Err(failure.extended(&format!(
            "; also, a signal stopped the run before the end of {}",
            unread_inputs(&inputs[index..])
        ))),
        (None, outcome) => outcome,
    }
}

/// Returns the names of `unread`, a capture that a signal stopped and the inputs
/// after it, for a message: the capture, then those inputs as not read.
fn unread_inputs(unread: &[crate::inputs::Input]) -> String {
    let first = unread[0].name();
    match unread {
        [_] => first,
        [_, next] => format!("{first} and {}, which was not read", next.name()),
        [_, rest @ ..] => format!(
            "{first} and the {} inputs after it, which were not read",
            rest.len()
        ),
        [] => String::new(),
    }
}

/// Returns the failure of a run that a signal stopped before the end of the
/// first of `unread`, the inputs from there on, with what its log and cache
/// then hold.
fn stopped_before_end(cli: &Cli, unread: &[crate::inputs::Input]) -> Failure {
    let then = match unread.len() {
        1 => "",
        2 => ", then the input after it",
        _ => ", then the inputs after it",
    };
    let signal = stop_signal();
    let name = match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        _ => "SIGTERM",
    };
    let (flows, cache) = if cli.wflow.is_some() {
        (
            "and the -W cache the flows open then",
            ", with the cache it started from",
        )
    } else {
        ("the flows open then included", "")
    };
    Failure::Stopped {
        signal,
        message: format!(
            "{name} stopped the run before the end of {}: the log has the records of the \
             packets read before the signal, {flows}; to account for the rest, read that \
             capture again from the start{cache}{then}",
            unread_inputs(unread)
        ),
    }
}

/// Warns when `--threads` gives more tables than the processors that the
/// process may use. The extra tables get no thread of their own, and every
/// table looks at every packet's time, so the run gets slower as the count
/// grows.
fn warn_if_more_threads_than_processors(threads: u16) {
    let Ok(processors) = std::thread::available_parallelism() else {
        return;
    };
    if usize::from(threads) > processors.get() {
        warn!(
            "--threads {threads} is more than the {} this process may use, which can slow \
             the run down; --threads {processors} uses them all",
            count(processors.get() as u64, "processor")
        );
    }
}

/// Raises the soft limit on open files to the hard limit. A failure leaves the
/// limit as it was, and an input that then finds no free descriptor is
/// reported with the system's error.
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            let raised = Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            };
            if let Err(err) = setrlimit(Resource::Nofile, raised) {
                debug!("cannot raise the open file limit from {current} to {maximum}: {err}");
            }
        }
    }
}

/// Returns the outcome of a run from the outcome of reading and writing and that
/// of saving the cache: a failure of the first kind comes first and states whether
/// the open flows still reached the cache. For a run over capture files,
/// `from_files`, the message also gives the way to read them again.
pub(crate) fn combine_failures(
    run: Result<(), Failure>,
    saved: Result<(), Failure>,
    has_cache: bool,
    from_files: bool,
) -> Result<(), Failure> {
    match (run, saved) {
        (Ok(()), saved) => saved,
        (Err(failure), Ok(())) if has_cache => {
            let again = match from_files {
                true => {
                    ". To read the same input again once that is fixed, start from a copy \
                     of the cache as it was before this run, or its packets count twice"
                }
                false => "",
            };
            Err(Failure::Other(format!(
                "{}; the flows still open were saved to the flow cache{again}",
                failure.message()
            )))
        }
        // The cache's failure names where the flows still open went instead.
        (Err(failure), Err(unsaved)) => {
            Err(failure.extended(&format!("; also {}", unsaved.message())))
        }
        (Err(failure), Ok(())) => Err(failure),
    }
}

/// Saves the open flows to the `-W` cache, or reports them when there is no
/// cache or it cannot be written, then flushes the log. Runs even after a
/// failure, so that whatever can be saved is. Returns the outcome of saving and
/// that of writing the log.
pub(crate) fn finish_flows(
    cli: &Cli,
    tracker: &mut Flows,
    output: &mut Output,
    summary: &mut Summary,
    hangup: &AtomicBool,
) -> (Result<(), Failure>, Result<(), Failure>) {
    if cli.wflow.is_some() {
        CACHE_STATE.store(CACHE_SAVING, Ordering::Release);
    }
    let saved = save_tracker(cli, tracker);
    if cli.wflow.is_some() {
        let state = if saved.is_ok() {
            CACHE_SAVED
        } else {
            CACHE_FAILED
        };
        CACHE_STATE.store(state, Ordering::Release);
    }
    let mut written = write_finished(tracker, output, summary);
    let unsaved = tracker.active_flows() as u64;
    let records_before = summary.records;
    let not_written_before = summary.records_not_written;
    let dropped_before = summary.records_dropped;
    if saved.is_err() || cli.wflow.is_none() {
        // Without a cache, or when it could not be written, every flow still
        // open is reported, so none is lost. Each record is written as it is
        // made, so a large table never needs all its records in memory at once.
        let mut write_error = None;
        let finished = tracker.finish_each(|flow| {
            // A SIGHUP starts a new log between these records too, since
            // writing a large table can take a while. A failed rotation marks
            // the log as failed, so the record then counts as not written.
            if let Err(failure) = rotate_between_records(output, hangup, false) {
                write_error.get_or_insert(failure);
            }
            if let Err(failure) = write_counted(output, &flow, summary) {
                write_error.get_or_insert(failure);
            }
        });
        if let Some(failure) = write_error {
            written = written.and(Err(failure));
        }
        written = written.and(finished);
    }
    let clock = tracker.now().unwrap_or(Timestamp::ZERO);
    let written = written
        .and_then(|()| summary.write_stats_due(cli, tracker, output, clock, true))
        .and_then(|()| output.flush_at_end());
    // After a failed write, the records still in the output buffer never reach
    // the log. After a successful flush there are none.
    let unwritten = output.buffered_records();
    // The buffer contains the latest records, so the last of the open flows'
    // records are those lost with it.
    let accepted = summary.records - records_before;
    let reached = accepted - accepted.min(unwritten);
    // Flows of protocols without records (--protocols) leave none.
    let with_records = accepted
        + (summary.records_not_written - not_written_before)
        + (summary.records_dropped - dropped_before);
    let without_records = unsaved.saturating_sub(with_records);
    summary.records -= unwritten;
    summary.records_not_written += unwritten;
    // The cache's failure adds where the flows still open went instead, once
    // writing them to the log has succeeded or failed.
    let were = |n: u64| if n == 1 { "was" } else { "were" };
    let no_record = match without_records {
        0 => String::new(),
        n => format!(
            "; {} of protocols without records (--protocols) {} kept nowhere",
            count(n, "unfinished flow"),
            were(n)
        ),
    };
    let series = "In a series, remove this log, make room or fix the permissions, and read \
                  the same capture again from the old cache";
    let saved = match (saved, &written) {
        (Err(failure), Ok(())) if accepted == 0 && without_records > 0 => {
            Err(failure.extended(&format!(", and {}. {series}", &no_record[2..])))
        }
        (Err(failure), Ok(())) => Err(failure.extended(&format!(
            ", and {} {} written to the log as records instead{no_record}. {series}",
            count(accepted, "unfinished flow"),
            were(accepted)
        ))),
        (Err(failure), Err(_)) if reached == with_records && reached > 0 => {
            Err(failure.extended(&format!(
                ", and the log failed too, after the records of {} reached it{no_record}",
                count(reached, "unfinished flow")
            )))
        }
        (Err(failure), Err(_)) if reached > 0 => Err(failure.extended(&format!(
            ", and the log failed too, so {} of the {} {} saved nowhere; the other \
             {reached} reached the log as records before it failed",
            unsaved - reached,
            count(unsaved, "unfinished flow"),
            were(unsaved - reached)
        ))),
        (Err(failure), Err(_)) => Err(failure.extended(&format!(
            ", and the log failed too, so {} {} saved nowhere",
            count(unsaved, "unfinished flow"),
            were(unsaved)
        ))),
        (saved, _) => saved,
    };
    (saved, written)
}

/// Sets a flag on SIGINT or SIGTERM, so that the run ends as at the end of its
/// input. A second signal of either kind ends the process at once with status 1.
///
/// Before that, a message goes to standard error, or is logged as an error
/// when `logged`: for a daemon, whose standard error is /dev/null, or a run
/// with a diagnostics file. The error reaches standard error too while that is
/// attached.
pub(crate) fn stop_on_signals(logged: bool) -> Result<Arc<AtomicBool>, Failure> {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let stop = stop_flag();
    INSTALLED
        .get_or_init(|| install_stop_handlers(&stop, logged).map_err(|err| err.to_string()))
        .clone()
        .map_err(|err| Failure::Other(format!("cannot install the signal handler: {err}")))?;
    Ok(stop)
}

/// Installs the handlers of [`stop_on_signals`]. Each signal sets `stop` and
/// writes a byte to a socket, and a thread counts the bytes, because a handler
/// can do little more. The thread still runs when the reading thread waits on
/// a blocked write, which is when a second signal is needed.
fn install_stop_handlers(stop: &Arc<AtomicBool>, logged: bool) -> std::io::Result<()> {
    let (mut counted, notify) = std::os::unix::net::UnixStream::pair()?;
    let number = STOP_SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_usize(signal, Arc::clone(number), signal as usize)?;
        signal_hook::flag::register(signal, Arc::clone(stop))?;
        signal_hook::low_level::pipe::register(signal, notify.try_clone()?)?;
    }
    std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            let mut byte = [0u8];
            let mut signals = 0;
            while std::io::Read::read(&mut counted, &mut byte).is_ok_and(|read| read == 1) {
                signals += 1;
                match signals {
                    1 => notice_slow_stop(logged),
                    2 => end_at_second_signal(logged),
                    _ => {}
                }
            }
        })?;
    Ok(())
}

/// The number of the last SIGINT or SIGTERM, set by [`install_stop_handlers`].
static STOP_SIGNAL: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();

/// Returns the number of the last SIGINT or SIGTERM received, or that of
/// SIGTERM if none was.
fn stop_signal() -> i32 {
    let number = STOP_SIGNAL
        .get()
        .map_or(0, |number| number.load(Ordering::SeqCst));
    match i32::try_from(number) {
        Ok(number) if number > 0 => number,
        _ => signal_hook::consts::SIGTERM,
    }
}

/// Set when a second signal ends the process, so that a run finishing at the
/// same moment does not exit first with the status of a complete run.
static ENDING: AtomicBool = AtomicBool::new(false);

/// Waits for ever once a second signal is ending the process, which then ends
/// within a second with status 1. Called before the process exits after a run.
pub(crate) fn hold_if_ending() {
    while ENDING.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// How far saving the `-W` cache at the end of the run got, one of the
/// `CACHE_` states, so that the message of a second signal reports what
/// became of the cache.
static CACHE_STATE: AtomicU8 = AtomicU8::new(CACHE_NONE);

/// The cache was not saved (yet): an earlier file stays as it was.
const CACHE_NOT_SAVED: u8 = 0;

/// The run has no `-W` cache.
const CACHE_NONE: u8 = 3;

/// The cache is being saved. The new file may already have replaced the old
/// one, because the rename comes before the directory is synced and the save
/// is logged.
const CACHE_SAVING: u8 = 1;

/// The cache was saved.
const CACHE_SAVED: u8 = 2;

/// Saving the cache failed, so the open flows are written to the log instead,
/// and an earlier file stays as it was.
const CACHE_FAILED: u8 = 4;

/// How far a run got, one of the `PHASE_` values, so that the notice of a slow
/// stop names what the run waits for, and none follows the run's summary.
static RUN_PHASE: std::sync::Mutex<u8> = std::sync::Mutex::new(PHASE_RUNNING);

/// The `-R` cache is being loaded.
const PHASE_LOADING: u8 = 0;

/// Packets are read, or the records and the `-W` cache written at the end.
const PHASE_RUNNING: u8 = 1;

/// The open flows are written or saved, and only the summary is left.
const PHASE_FINISHED: u8 = 2;

/// Loads the `-R` cache as [`load_tracker`] does, marking the time it takes as
/// [`PHASE_LOADING`].
pub(crate) fn load_tracker_marked(cli: &Cli, config: TrackerConfig) -> Result<Loaded, Failure> {
    set_phase(PHASE_LOADING);
    let loaded = load_tracker(cli, config);
    set_phase(PHASE_RUNNING);
    loaded
}

/// Marks the run as finished, so that no notice of a slow stop comes after the
/// summary. It waits for a notice being written.
pub(crate) fn mark_finished() {
    set_phase(PHASE_FINISHED);
}

fn set_phase(phase: u8) {
    *RUN_PHASE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = phase;
}

/// Time after a first SIGINT or SIGTERM at which a run still finishing reports
/// the cause, so that an operator waiting for the end learns what a second
/// signal would lose.
const SLOW_STOP_NOTICE: std::time::Duration = std::time::Duration::from_secs(2);

/// Starts a thread that reports, if the run has not ended [`SLOW_STOP_NOTICE`]
/// after the first signal, what it is waiting for and what a second signal
/// does. A run whose log is blocked, such as a pipe that no process reads,
/// waits there without end.
fn notice_slow_stop(logged: bool) {
    let _ = std::thread::Builder::new()
        .name("slow stop".to_string())
        .spawn(move || {
            std::thread::sleep(SLOW_STOP_NOTICE);
            // The lock keeps the run from writing its summary before the
            // notice is out.
            let phase = RUN_PHASE
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *phase == PHASE_FINISHED || ENDING.load(Ordering::SeqCst) {
                return;
            }
            let message = format!(
                "still stopping {} s after the signal: {}",
                SLOW_STOP_NOTICE.as_secs(),
                slow_stop_cause(*phase, CACHE_STATE.load(Ordering::Acquire))
            );
            if logged {
                warn!("{message}");
            } else {
                write_from_signal_thread(&message);
            }
        });
}

/// Returns what a run in `phase`, with its `-W` cache in `cache_state`, waits
/// for while it stops, and what a second signal then loses.
fn slow_stop_cause(phase: u8, cache_state: u8) -> &'static str {
    if phase == PHASE_LOADING {
        return match cache_state {
            CACHE_NONE => {
                "the -R flow cache is still being loaded, and the records of its flows \
                 are written after that; a second SIGINT or SIGTERM ends wsd at once, and \
                 no record of them is written"
            }
            _ => {
                "the -R flow cache is still being loaded, and its flows are saved to the \
                 -W cache after that; a second SIGINT or SIGTERM ends wsd at once, and the \
                 -W cache is not saved, so an earlier cache file there stays as it was"
            }
        };
    }
    match cache_state {
        CACHE_NOT_SAVED => {
            "a write to the log has not ended, as when the log is blocked (a pipe that \
             is not read, a hung network file system), and the open flows are saved to \
             the -W cache only after it; a second SIGINT or SIGTERM ends wsd at once: the records \
             not yet written are lost, and the -W cache is not saved, so the open \
             flows are lost too and an earlier cache file there stays as it was"
        }
        CACHE_SAVING => {
            "the open flows are being saved to the -W cache; a second SIGINT or SIGTERM \
             ends wsd at once, so the cache file may then lack this run's open flows, \
             and the records not yet written are lost"
        }
        CACHE_SAVED => {
            "the open flows were saved to the -W cache, and the records of the flows \
             that ended before are still being written, as when the log is blocked (a \
             pipe that is not read, a hung network file system); a second SIGINT or \
             SIGTERM ends wsd at once, and the records not yet written are lost"
        }
        CACHE_FAILED => {
            "saving the -W cache failed, and the records of the open flows are still \
             being written to the log instead, as when the log is blocked (a pipe that \
             is not read, a hung network file system); a second SIGINT or SIGTERM ends \
             wsd at once, and the records not yet written are lost"
        }
        _ => {
            "the records of the flows, the open ones among them, are still being \
             written, as when the log is blocked (a pipe that is not read, a hung \
             network file system) or the flow table is large; a second SIGINT or SIGTERM ends wsd at once, \
             and the records not yet written are lost"
        }
    }
}

/// Writes `message` to standard error as `wsd: MESSAGE` after the UTC time
/// stamp of the other lines there, after clearing a progress line on a
/// terminal, without the logger, whose lock the blocked thread may hold.
fn write_from_signal_thread(message: &str) {
    let mut line = Vec::with_capacity(message.len() + 48);
    if std::io::stderr().is_terminal() {
        line.extend_from_slice(b"\r\x1b[K");
    }
    crate::diagnostics::push_time_stamp(&mut line);
    line.extend_from_slice(b"wsd: ");
    line.extend_from_slice(message.as_bytes());
    line.push(b'\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr(), &line);
}

/// Ends the process at a second SIGINT or SIGTERM, with `_exit`, which neither
/// flushes nor waits for a lock. The message goes out first, unless that blocks
/// too: a thread, if one can be started, ends the process a second later anyway.
fn end_at_second_signal(logged: bool) -> ! {
    ENDING.store(true, Ordering::SeqCst);
    let _ = std::thread::Builder::new().spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(1));
        signal_hook::low_level::exit(1);
    });
    let message = match CACHE_STATE.load(Ordering::Acquire) {
        CACHE_SAVED => {
            "a second SIGINT or SIGTERM ended the run at once, after the -W cache was \
             saved: the records not yet written are lost, and the last line of the \
             record log may be cut"
        }
        CACHE_SAVING => {
            "a second SIGINT or SIGTERM ended the run at once while the -W cache was \
             being saved, so it may already hold this run's open flows (flowcache \
             --summary shows its capture clock): the records not yet written are \
             lost, and the last line of the record log may be cut"
        }
        CACHE_NOT_SAVED | CACHE_FAILED => {
            "a second SIGINT or SIGTERM ended the run at once: the records not yet \
             written are lost, the last line of the record log may be cut, and the \
             -W cache was not saved, so an earlier cache file there stays as it was"
        }
        _ => {
            "a second SIGINT or SIGTERM ended the run at once: the records not yet \
             written are lost, and the last line of the record log may be cut"
        }
    };
    if logged {
        error!("{message}");
    } else {
        write_from_signal_thread(message);
    }
    signal_hook::low_level::exit(1);
}

/// Returns the flag that SIGINT and SIGTERM set, the same one on every call, so
/// that readers opened before the handlers are installed see it too.
pub(crate) fn stop_flag() -> Arc<AtomicBool> {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    Arc::clone(STOP.get_or_init(|| Arc::new(AtomicBool::new(false))))
}

/// Compiles the filter expression for `-r` files, if one was given.
fn file_filter(cli: &Cli) -> Result<Option<PacketFilter>, Failure> {
    if cli.filter.is_empty() {
        return Ok(None);
    }
    let libpcap = load_libpcap("a filter expression")?;
    let expression = cli.filter.join(" ");
    PacketFilter::new(&libpcap, &expression)
        .map(Some)
        .map_err(|err| match filter_names_file(&cli.filter) {
            Some(file) => live_failure(err).extended(&format!(
                "; {file} is a file, but the filter starts at the first word that is not \
                 an option: to read that file too, give it its own -r, and put every option \
                 before the filter"
            )),
            None => live_failure(err),
        })
}

/// Returns the first word of the filter `words` if it names an existing file,
/// as when a second capture was given without its own `-r`.
fn filter_names_file(words: &[String]) -> Option<&str> {
    let first = words.first()?;
    std::path::Path::new(first)
        .is_file()
        .then_some(first.as_str())
}

#[allow(clippy::too_many_arguments)]
fn process_source(
    source: &mut FileSource,
    mut filter: Option<&mut PacketFilter>,
    cli: &Cli,
    tracker: &mut Flows,
    output: &mut Output,
    summary: &mut Summary,
    progress: &mut Progress,
    done_bytes: u64,
    stop: &AtomicBool,
    hangup: &AtomicBool,
) -> Result<(), Failure> {
    let name = source.name().to_string();
    let mut decoder = frame_decoder(cli);
    let mut first_packet = true;
    // A pipe or other stream without a size can deliver packets slowly, so its
    // records are flushed at each tick rather than once the buffer fills.
    let stream = source.len().is_none();
    let mut seen_tick = crate::ticks::count();
    let mut previous_ts = None;
    let mut joined_seen = 0;
    while !stop.load(Ordering::Relaxed) {
        let packet = match source.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(err) => {
                // Everything read before the failure still counts; the run goes on
                // with the next input after saying what was lost.
                warn!(file = %name, "stopped reading: {err}");
                break;
            }
        };
        if first_packet {
            first_packet = false;
            warn_if_before_clock(&name, packet.ts, tracker.now());
        }
        if let Some(filter) = filter.as_deref_mut() {
            match filter.matches(&packet) {
                Ok(true) => {}
                Ok(false) => continue,
                // An expression that does not compile for the link type of the
                // first packet does not fit the input, and the run stops as for
                // a syntax error. Packets that the filter left out count too.
                Err(err) if !filter.has_judged_packet() => return Err(live_failure(err)),
                // A capture can hold interfaces of several link types.
                Err(err) => {
                    warn!(
                        file = %name,
                        "the packets of link type {} are left out, because the filter \
                         does not compile for it: {err}",
                        packet.linktype
                    );
                    continue;
                }
            }
        }
        let ts = packet.ts;
        // Most packets lie within a day of the previous one, so that they can
        // neither step back by more than a day nor jump the clock. Only the
        // others, and the first of the input, pay for locating such packets.
        let near_previous = previous_ts.is_some_and(|previous: Timestamp| {
            ts.nanos_since(previous).unsigned_abs() <= CLOCK_STEP_NANOS
        });
        if near_previous {
            process_packet(&packet, &mut decoder, cli, tracker, output, summary)?;
        } else {
            let clock_jumps = tracker.stats().clock_jumps;
            process_packet(&packet, &mut decoder, cli, tracker, output, summary)?;
            // The packet's number, now that it no longer borrows the source.
            let place = PacketPlace {
                input: name.clone(),
                number: source.stats().records,
            };
            summary.note_clock_steps(place, previous_ts, ts, clock_jumps, tracker);
        }
        previous_ts = Some(ts);
        // A capture joined to this input, as `cat` joins them, is checked as an
        // input's first packet is, once a packet of it is tracked. The clock
        // does not move back, so it is still the clock before that packet.
        let joined = source.stats().joined_files;
        if joined != joined_seen {
            joined_seen = joined;
            let joined_name = format!("{name} (joined capture {})", joined + 1);
            warn_if_before_clock(&joined_name, ts, tracker.now());
        }
        let tick = crate::ticks::count();
        let ticked = tick != seen_tick;
        if ticked {
            seen_tick = tick;
            summary.on_tick(tracker, output, cli.max_flows);
            if stream {
                // NOTE: records of the packets before an idle spell of the
                // stream wait for its next packet, since the read blocks.
                output
                    .writer
                    .flush()
                    .map_err(|err| output.write_error(err))?;
            }
        }
        // Every 1,024 packets too, in case the clock thread could not start.
        rotate_between_records(output, hangup, ticked || summary.packets % 1024 == 0)?;
        if progress.enabled() && summary.packets % 4096 == 0 {
            progress.update(
                done_bytes + source.position(),
                summary.packets,
                tracker.active_flows(),
            );
        }
    }
    Ok(())
}

/// How far a packet may lie before the previous packet of the same input
/// without a warning. A larger step back is a sign of a bad timestamp.
const STEP_BACK_NANOS: i64 = 86_400 * 1_000_000_000;

/// How far a packet may lie from the previous packet of the same input, in
/// either direction, without a step back of more than [`STEP_BACK_NANOS`] or
/// a jump of the capture clock by more than [`wsd_flow::CLOCK_JUMP`]. The
/// clock is at least the previous packet's time, so a jump needs a step this
/// large from that packet.
const CLOCK_STEP_NANOS: u64 = if STEP_BACK_NANOS < wsd_flow::CLOCK_JUMP {
    STEP_BACK_NANOS.unsigned_abs()
} else {
    wsd_flow::CLOCK_JUMP.unsigned_abs()
};

/// How far the first packet of an input may lie before the capture clock
/// without a warning: captures of one recorder can overlap by a little.
const EARLY_START_NANOS: i64 = 60 * 1_000_000_000;

/// Warns when the input `name` starts at `start`, well before the capture
/// clock `clock` that the inputs before it or the flow cache left. Its
/// packets then count as late ones, and the flows they close are reported
/// only once the clock passes their timeouts, which is easy to miss when
/// files are read out of order.
fn warn_if_before_clock(name: &str, start: Timestamp, clock: Option<Timestamp>) {
    let Some(clock) = clock else {
        return;
    };
    let behind = clock.nanos_since(start);
    if behind <= EARLY_START_NANOS {
        return;
    }
    // Whole seconds in UTC, or the raw time where jiff's range ends.
    let utc = |ts: Timestamp| {
        jiff::Timestamp::from_second(ts.secs())
            .map_or_else(|_| ts.to_string(), |time| time.to_string())
    };
    warn!(
        file = %name,
        "the first packet ({}) is {} before the capture clock ({}) that the inputs \
         before it or the flow cache left, so its packets count as late ones and the \
         flows they close wait for the clock to pass their timeouts; read captures in \
         the order they were taken. If they were, look for a packet dated wrong, as by a \
         flipped bit of its time field, at the end of the input before",
        utc(start),
        rough_duration(behind / 1_000_000_000),
        utc(clock)
    );
}

/// Returns `seconds` in the largest whole unit up to days, such as `3 hours`.
fn rough_duration(seconds: i64) -> String {
    let (amount, unit) = match seconds {
        ..120 => (seconds, "second"),
        120..7_200 => (seconds / 60, "minute"),
        7_200..172_800 => (seconds / 3_600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    count(amount.unsigned_abs(), unit)
}

/// Returns the decoder of the run's frames.
pub(crate) fn frame_decoder(cli: &Cli) -> FrameDecoder {
    let options = DecodeOptions::new().with_decapsulate(!cli.no_decapsulate);
    FrameDecoder::new(options, cli.cap_ip_length)
}

/// Decodes one packet, counts it into its flow and writes the records it finished
/// and, with `-V`, its packet line.
pub(crate) fn process_packet(
    packet: &Packet<'_>,
    decoder: &mut FrameDecoder,
    cli: &Cli,
    tracker: &mut Flows,
    output: &mut Output,
    summary: &mut Summary,
) -> Result<(), Failure> {
    summary.packets += 1;
    summary.bytes += u64::from(packet.orig_len);
    let ts = packet.ts;
    let decoded = decoder.decode(packet.linktype, packet.data, packet.orig_len);
    decoder.count(packet.linktype, packet.data, packet.orig_len, &decoded);
    if decoder.has_tally() {
        summary.add_tally(decoder.tally());
        decoder.clear_tally();
    }
    let outcome = tracker.process(ts, &decoded)?;
    if tracing::enabled!(Level::TRACE) {
        trace!(packet = summary.packets, %ts, ?decoded, ?outcome, "packet");
    }
    write_finished(tracker, output, summary)?;
    // Checked here so that a run without --stats skips the call per packet.
    if cli.stats.is_some() && summary.stats_due(cli, ts, false) {
        // Worker threads run behind, so they catch up and their records are
        // written first, and the statistics count every packet before them.
        tracker.flush()?;
        write_finished(tracker, output, summary)?;
        summary.write_stats(tracker, output, ts)?;
    }
    if let (true, Some(outcome)) = (cli.verbose, outcome) {
        output.write_packet_line(ts, &decoded, &outcome)?;
    }
    Ok(())
}

/// Starts the tracker of a run, with the worker threads, if any, formatting as
/// `output` does. First the flows of the cache beyond the table's limit are
/// evicted and their records written a chunk at a time. Returns the tracker
/// and the result of writing those records.
pub(crate) fn start_flows(
    loaded: Loaded,
    output: &mut Output,
    summary: &mut Summary,
) -> Result<(Flows, Result<(), Failure>), Failure> {
    let mut result = Ok(());
    let mut tracker = loaded.start(|record| {
        let written = write_counted(output, &Finished::Record(record), summary);
        if result.is_ok() {
            result = written;
        }
    })?;
    tracker.format_as(&output.writer)?;
    Ok((tracker, result))
}

// Called for every packet, nearly always with nothing to write, so the call
// costs more than the check. `#[inline]` alone left it out of line.
#[inline(always)]
pub(crate) fn write_finished(
    tracker: &mut Flows,
    output: &mut Output,
    summary: &mut Summary,
) -> Result<(), Failure> {
    if !tracker.has_finished() {
        return Ok(());
    }
    let mut result = Ok(());
    tracker.drain_each(|flow| {
        let written = write_counted(output, &flow, summary);
        if result.is_ok() {
            result = written;
        }
    });
    result
}

/// Writes one finished flow and counts it as written, or, once writing the log
/// has failed, counts it as not written. Returns the failure of this write.
fn write_counted(
    output: &mut Output,
    flow: &Finished<'_>,
    summary: &mut Summary,
) -> Result<(), Failure> {
    if output.has_failed() {
        summary.records_not_written += 1;
        return Ok(());
    }
    match write_record(output, flow) {
        Ok(true) => summary.records += 1,
        Ok(false) => summary.records_dropped += 1,
        Err(failure) => {
            summary.records_not_written += 1;
            return Err(failure);
        }
    }
    Ok(())
}

/// Writes one finished flow, first rotating the log if it has reached
/// `--rotate-size`. A burst of records, such as a batch from the worker threads
/// or the flows open at the end, is then split as single records are. A new log
/// is opened only for a record, so none is left empty. Returns false if the
/// record was dropped because the log was full past `--hold-size`.
fn write_record(output: &mut Output, flow: &Finished<'_>) -> Result<bool, Failure> {
    if output.over_size_limit() {
        output.rotate_if_due(false)?;
    }
    flow.write(&mut output.writer)
        .map_err(|err| output.write_error(err))?;
    Ok(output.record_written())
}

pub(crate) fn tracker_config(cli: &Cli) -> Result<TrackerConfig, Failure> {
    let seconds = |name: &str, value: f64| {
        if (0.0..=1e9).contains(&value) {
            Ok((value * 1e9) as i64)
        } else {
            Err(Failure::Usage(format!(
                "invalid value {value} for --{name}: expected a number of seconds from 0 to 1000000000"
            )))
        }
    };
    let udp_idle_timeout = seconds("udp-timeout", cli.udp_timeout)?;
    let icmp_idle_timeout = seconds("icmp-timeout", cli.icmp_timeout)?;
    let other_idle_timeout = seconds("other-timeout", cli.other_timeout)?;
    let wants = |class| cli.records_protocol(class);
    Ok(TrackerConfig {
        tcp_idle_timeout: seconds("idle-timeout", cli.idle_timeout)?,
        udp_idle_timeout,
        icmp_idle_timeout,
        other_idle_timeout,
        linger: seconds("linger", cli.linger)?,
        max_flows: usize::try_from(cli.max_flows).unwrap_or(usize::MAX),
        records: RecordProtocols {
            tcp: wants(ProtocolClass::Tcp),
            udp: wants(ProtocolClass::Udp),
            icmp: wants(ProtocolClass::Icmp),
            other: wants(ProtocolClass::Other),
        },
        vlan_in_key: !cli.no_vlan_key,
        interim: cli.interim.map(|seconds| (seconds * 1e9) as i64),
    })
}

#[cfg(test)]
mod tests {

    /// A run and a cache that both fail give one message that names both,
    /// with the exit status of the first failure.
    #[test]
    fn both_failures_reported() {
        let run = Failure::CannotCreate("cannot open second.pcap".to_string());
        let cache = Failure::Other("cannot write the flow cache c.cache".to_string());
        let combined = super::combine_failures(Err(run), Err(cache), true, true).unwrap_err();
        assert_eq!(combined.exit_code(), 73);
        assert_eq!(
            combined.message(),
            "cannot open second.pcap; also cannot write the flow cache c.cache"
        );

        let log = Failure::Other("cannot write to /dev/full".to_string());
        let live_log = Failure::Other("cannot write to /dev/full".to_string());
        let live = super::combine_failures(Err(live_log), Ok(()), true, false).unwrap_err();
        assert!(live.message().ends_with("were saved to the flow cache"));
        let saved = super::combine_failures(Err(log), Ok(()), true, true).unwrap_err();
        assert!(saved
            .message()
            .contains("were saved to the flow cache. To read the same input again"));
    }

    /// A run that dropped flow records ends with exit status 1, and a run that
    /// failed anyway names the records dropped too.
    #[test]
    fn dropped_records_fail_run() {
        let summary = Summary {
            records_dropped: 3,
            ..Summary::default()
        };
        let failure = summary.fail_if_dropped(Ok(())).unwrap_err();
        assert_eq!(failure.exit_code(), 1);
        assert!(
            failure
                .message()
                .starts_with("3 flow records were dropped while the log's file system was full"),
            "{}",
            failure.message()
        );
        let write_failure = Failure::Other("cannot write to full.log".to_string());
        let failure = summary.fail_if_dropped(Err(write_failure)).unwrap_err();
        assert!(
            failure
                .message()
                .starts_with("cannot write to full.log; also, 3 flow records were dropped"),
            "{}",
            failure.message()
        );
        assert!(Summary::default().fail_if_dropped(Ok(())).is_ok());
    }

    /// Statistics records and packet lines dropped fail the run too, even
    /// when no flow record was dropped, and the error counts them apart.
    #[test]
    fn dropped_other_lines_fail_run() {
        let lines_only = Summary {
            other_lines_dropped: 2,
            ..Summary::default()
        };
        let failure = lines_only.fail_if_dropped(Ok(())).unwrap_err();
        assert_eq!(failure.exit_code(), 1);
        assert!(
            failure.message().starts_with(
                "2 lines (statistics records or packet lines) were dropped while the \
                 log's file system was full"
            ),
            "{}",
            failure.message()
        );
        let both = Summary {
            records_dropped: 1,
            other_lines_dropped: 1,
            ..Summary::default()
        };
        let failure = both.fail_if_dropped(Ok(())).unwrap_err();
        assert!(
            failure.message().starts_with(
                "1 flow record and 1 other line (statistics records or packet lines) were \
                 dropped"
            ),
            "{}",
            failure.message()
        );
    }

    /// The notice of a slow stop names the phase that the run is in, and what
    /// a second signal loses there.
    #[test]
    fn slow_stop_cause_per_phase() {
        let loading = slow_stop_cause(PHASE_LOADING, CACHE_NONE);
        assert!(loading.contains("-R flow cache is still being loaded"));
        assert!(!loading.contains("-W"));
        let loading_with_cache = slow_stop_cause(PHASE_LOADING, CACHE_NOT_SAVED);
        assert!(loading_with_cache.contains("-W cache is not saved"));

        let before_save = slow_stop_cause(PHASE_RUNNING, CACHE_NOT_SAVED);
        assert!(before_save.contains("saved to the -W cache only after it"));
        assert!(before_save.contains("the open flows are lost too"));
        let saving = slow_stop_cause(PHASE_RUNNING, CACHE_SAVING);
        assert!(saving.contains("being saved to the -W cache"));
        let saved = slow_stop_cause(PHASE_RUNNING, CACHE_SAVED);
        assert!(saved.contains("open flows were saved to the -W cache"));
        let failed = slow_stop_cause(PHASE_RUNNING, CACHE_FAILED);
        assert!(failed.contains("saving the -W cache failed"));
        let no_cache = slow_stop_cause(PHASE_RUNNING, CACHE_NONE);
        assert!(!no_cache.contains("-W"));
    }

    #[test]
    fn rough_duration_units() {
        assert_eq!(super::rough_duration(61), "61 seconds");
        assert_eq!(super::rough_duration(120), "2 minutes");
        assert_eq!(super::rough_duration(7_199), "119 minutes");
        assert_eq!(super::rough_duration(7_200), "2 hours");
        assert_eq!(super::rough_duration(86_400), "24 hours");
        assert_eq!(super::rough_duration(172_800), "2 days");
    }

    use super::*;
    use clap::Parser;
    use wsd_flow::Tracker;
    use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

    /// Flow lines in each log of `dir`, oldest log first.
    fn flow_lines_per_log(dir: &std::path::Path) -> Vec<usize> {
        let mut logs: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        logs.sort();
        logs.iter()
            .map(|log| {
                let text = std::fs::read_to_string(log).unwrap();
                text.lines()
                    .filter(|line| line.starts_with("TCPFLOW "))
                    .count()
            })
            .collect()
    }

    /// A SIGHUP that comes while the flows still open at the end are reported
    /// starts a new log between those records.
    #[test]
    fn hangup_rotates_during_end_of_input() {
        let dir = tempfile::tempdir().unwrap();
        let logdir = dir.path().to_str().unwrap();
        let cli = Cli::parse_from(["wsd", "-l", logdir, "-r", "unused.pcap"]);
        let mut output = open_output(&cli, None).unwrap();
        let mut tracker = Flows::Single(Tracker::new(tracker_config(&cli).unwrap()));
        let mut frames = FrameBuilder::new();
        for host in 1..=3u8 {
            let client = Endpoint::v4([10, 0, 0, host], 40_000);
            let server = Endpoint::v4([10, 0, 1, 1], 80);
            let frame = frames.tcp(client, server, &TcpSegment::syn(1));
            let packet = wsd_decode::decode(wsd_decode::linktype::ETHERNET, &frame);
            let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i64::from(host));
            tracker.process(ts, &packet).unwrap();
        }
        let mut summary = Summary::default();
        let hangup = AtomicBool::new(true);

        let (saved, written) = finish_flows(&cli, &mut tracker, &mut output, &mut summary, &hangup);

        assert!(saved.is_ok());
        assert!(written.is_ok());
        assert!(!hangup.load(Ordering::Relaxed), "the SIGHUP was handled");
        assert_eq!(summary.records, 3);
        assert_eq!(flow_lines_per_log(dir.path()), [0, 3]);
    }
}
