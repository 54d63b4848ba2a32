//! `flowcache`: lists, summarizes and checks wirespy flow-cache files.
//!
//! `wsd -W FILE` saves the flows still unfinished at the end of a run into a flow
//! cache, and `wsd -R FILE` continues them in the next run. This tool reads such
//! files with the same crates as `wsd` (`wsd-flowcache` for the format,
//! `wsd-flow` for the flows, `wsd-logfmt` for the lines) and prints:
//!
//! - by default, one line per cached flow: the `TCPFLOW` line `wsd` would write
//!   for it at the end of its input (`UDPFLOW`, `ICMPFLOW` or `IPFLOW` for other
//!   protocols), then ` state=open|fin|rst`, ` midstream=yes|no` and ` lastTime=`
//!   with the local time of the flow's latest packet;
//! - with `--json`, one JSON object per flow with its saved fields, except the
//!   TCP sequence tracking and the time of the next interim record;
//! - with `--summary`, one block per file (one JSON object with `--json`): writer,
//!   format version, capture clock, flows by state and protocol, time range, top
//!   talkers and top server ports;
//! - with `--check`, nothing: each file is decoded and restored into a tracker as
//!   `wsd -R` does, and only failures are reported.
//!
//! `--host`, `--port`, `--state` and `--protocol` select flows for the listing
//! and the summary; a flow must meet all of them. Flows are listed in the order
//! the file stores them, which is the order of the tracker's timeout queues.
//!
//! Each file is read with `read_cache_each`, which verifies the checksum of the
//! whole file before it passes on the first flow. Flows are then listed, added to
//! the summary or restored one by one as they are decoded, so the listing's memory
//! does not grow with the number of flows. The tracker of `--check` grows with
//! them, and the summary with its distinct addresses and server ports. A file
//! whose flows fail to decode after its checksum matched can thus have some of
//! its flows listed before its error is reported.
//!
//! The file `-` is standard input, read whole from descriptor 0, and named
//! `standard input` in messages.
//!
//! Each file that is missing or not a valid flow cache is reported on standard
//! error as `flowcache: FILE: reason`, and the other files are still read. The
//! exit status is 0 on success, 2 on bad usage or if any file failed, and 1 if
//! writing the output failed. A closed output pipe (`flowcache FILE | head`) is
//! not a failure: the tool stops quietly.

#![forbid(unsafe_code)]

mod json;
mod summary;
mod text;

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use flowcache::cli::{Cli, Format};
use flowcache::filter::FlowFilter;
use wsd_flow::{FlowSnapshot, TrackerConfig, TrackerRestorer};
use wsd_flowcache::{CacheError, CacheItem, FlowCache};
use wsd_logfmt::LocalTimeFormatter;

use crate::summary::Summary;
use crate::text::TextLister;

/// Exit status on success.
const EXIT_SUCCESS: u8 = 0;
/// Exit status when writing the output failed.
const EXIT_FAILURE: u8 = 1;
/// Exit status on bad usage or a file that could not be read as a flow cache.
const EXIT_BAD_INPUT: u8 = 2;

/// Size of the output buffer, large enough that a write costs little per line.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// The file argument that means standard input.
const STDIN_ARGUMENT: &str = "-";

/// The path that stands for standard input. It is never opened: standard
/// input is read from descriptor 0, which also works for a socket.
const STDIN_PATH: &str = "/dev/stdin";

fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(run(&cli))
}

/// Output format for each file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// One text line per flow.
    List,
    /// One JSON object per flow.
    ListJson,
    /// One text block per file.
    Summary,
    /// One JSON object per file.
    SummaryJson,
    /// Nothing: only failures are reported.
    Check,
}

impl Mode {
    fn of(cli: &Cli) -> Mode {
        let json = cli.json || cli.format == Some(Format::Json);
        match (cli.check, cli.summary, json) {
            (true, _, _) => Mode::Check,
            (false, true, true) => Mode::SummaryJson,
            (false, true, false) => Mode::Summary,
            (false, false, true) => Mode::ListJson,
            (false, false, false) => Mode::List,
        }
    }
}

/// The reason the processing of one file stopped early.
#[derive(Debug)]
enum Failure {
    /// The file is missing or not a valid flow cache, for the reason given.
    BadFile(String),
    /// Writing the output failed.
    Output(io::Error),
}

/// Writer of each file's flows or summary to `out`, in the format of `mode`.
struct Printer<W: Write> {
    out: W,
    mode: Mode,
    filter: FlowFilter,
    clock: LocalTimeFormatter,
    lister: TextLister,
    files_printed: usize,
}

impl<W: Write> Printer<W> {
    /// Reads the flow cache at `path`, named `file` in the output, and writes
    /// its flows or its summary in the format of `mode`.
    fn print(&mut self, path: &Path, file: &str) -> Result<(), Failure> {
        match self.mode {
            Mode::List => self.list(path),
            Mode::ListJson => self.list_json(path, file),
            Mode::Summary | Mode::SummaryJson => self.summarize(path, file),
            Mode::Check => check(path),
        }?;
        self.files_printed += 1;
        Ok(())
    }

    fn list(&mut self, path: &Path) -> Result<(), Failure> {
        let Printer {
            out,
            filter,
            clock,
            lister,
            ..
        } = self;
        read_flows(path, |flow| {
            if filter.matches(&flow) {
                lister.write_flow(out, &flow, clock)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn list_json(&mut self, path: &Path, file: &str) -> Result<(), Failure> {
        let Printer {
            out, filter, clock, ..
        } = self;
        read_flows(path, |flow| {
            if filter.matches(&flow) {
                json::write_flow(out, file, &flow, clock)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Adds up the figures of the cache at `path` flow by flow, then writes
    /// them as a text block or a JSON object.
    fn summarize(&mut self, path: &Path, file: &str) -> Result<(), Failure> {
        let mut summary = Summary::new(self.filter);
        let cache = read_flows(path, |flow| {
            summary.add(&flow);
            Ok(())
        })?;
        let (out, clock) = (&mut self.out, &mut self.clock);
        let written = if self.mode == Mode::SummaryJson {
            summary::write_json(out, file, &cache, &summary, clock)
        } else {
            if self.files_printed > 0 {
                out.write_all(b"\n").map_err(Failure::Output)?;
            }
            summary::write_text(out, file, &cache, &summary, clock)
        };
        written.map_err(Failure::Output)
    }
}

/// Reads the flow cache at `path` and passes each flow to `write` as it is
/// decoded. Returns the cache without its flows.
///
/// The first error of `write` stops the reading and is returned as
/// [`Failure::Output`], because it is no fault of the file.
fn read_flows(
    path: &Path,
    mut write: impl FnMut(FlowSnapshot) -> io::Result<()>,
) -> Result<FlowCache, Failure> {
    let mut write_error = None;
    let read = read_cache_each(path, |item| {
        let CacheItem::Flow(_, flow) = item else {
            return Ok(());
        };
        write(flow).map_err(|err| {
            let reason = err.to_string();
            write_error = Some(err);
            reason
        })
    });
    if let Some(err) = write_error {
        return Err(Failure::Output(err));
    }
    cache_or_reason(read)
}

/// Restores the flow cache at `path` into a tracker flow by flow, as `wsd -R`
/// does, to find contents that decode but are inconsistent.
fn check(path: &Path) -> Result<(), Failure> {
    let mut restorer = None;
    let read = read_cache_each(path, |item| match item {
        CacheItem::Header {
            clock,
            next_serial,
            flows,
            ..
        } => {
            let config = TrackerConfig::default();
            restorer = Some(TrackerRestorer::new(config, clock, next_serial, flows));
            Ok(())
        }
        // `read_cache_each` reports an error returned here as `inconsistent
        // contents: ERROR`, the message the fragment table's errors get below.
        CacheItem::Flow(index, flow) => match restorer.as_mut() {
            Some(restorer) => restorer.add(index, &flow).map_err(|err| err.to_string()),
            None => Err("a flow comes before the header".to_string()),
        },
    });
    let cache = cache_or_reason(read)?;
    // Every decoded file passes its header on first.
    let Some(restorer) = restorer else {
        return Err(Failure::BadFile("the cache has no header".to_string()));
    };
    // `finish` would then evict the flows beyond the table's limit into
    // records, which nothing here reads. Evicting checks nothing more.
    match restorer.finish_over_limit(&cache.snapshot.fragments) {
        Ok(_) => Ok(()),
        Err(err) => Err(Failure::BadFile(format!("inconsistent contents: {err}"))),
    }
}

/// Reads the flow cache at `path` as [`wsd_flowcache::read_cache_each`] does,
/// except that [`STDIN_PATH`] reads standard input whole, up to 1 GiB.
fn read_cache_each(
    path: &Path,
    receive: impl FnMut(CacheItem) -> Result<(), String>,
) -> Result<Option<FlowCache>, CacheError> {
    if path != Path::new(STDIN_PATH) {
        return wsd_flowcache::read_cache_each(path, receive);
    }
    wsd_flowcache::read_cache_each_from(&mut io::stdin().lock(), "standard input", receive)
        .map(Some)
}

/// Returns the cache that `read_cache_each` read, or the reason it could not.
fn cache_or_reason(read: Result<Option<FlowCache>, CacheError>) -> Result<FlowCache, Failure> {
    match read {
        Ok(Some(cache)) => Ok(cache),
        Ok(None) => Err(Failure::BadFile(
            "no such file; give the path of a cache that `wsd -W` saved".to_string(),
        )),
        Err(err) => Err(Failure::BadFile(err.to_string())),
    }
}

/// Processes every file named on the command line and returns the exit status.
fn run(cli: &Cli) -> u8 {
    let mode = Mode::of(cli);
    let mut printer = Printer {
        out: BufWriter::with_capacity(OUTPUT_BUFFER, io::stdout().lock()),
        mode,
        filter: cli.filter(),
        clock: LocalTimeFormatter::system(),
        lister: TextLister::new(),
        files_printed: 0,
    };
    let mut any_file_failed = false;
    let stdin_count = cli
        .files
        .iter()
        .filter(|path| path.as_os_str() == STDIN_ARGUMENT)
        .count();
    if stdin_count > 1 {
        report(&format!(
            "standard input can be read only once, but - was given {stdin_count} times; \
             give - once"
        ));
        return EXIT_BAD_INPUT;
    }

    for path in &cli.files {
        let file = path.display().to_string();
        let (source, name) = if file == STDIN_ARGUMENT {
            (Path::new(STDIN_PATH), "standard input")
        } else {
            (path.as_path(), file.as_str())
        };
        let written = match printer.print(source, &file) {
            Ok(()) => Ok(()),
            Err(Failure::Output(err)) => Err(err),
            Err(Failure::BadFile(reason)) => {
                any_file_failed = true;
                // Flushing first keeps the lines printed so far ahead of the
                // message when both streams go to one terminal.
                let flushed = printer.out.flush();
                report(&format!("{name}: {reason}"));
                flushed
            }
        };
        if let Err(err) = written {
            return write_failure(&err, any_file_failed);
        }
    }

    if let Err(err) = printer.out.flush() {
        return write_failure(&err, any_file_failed);
    }
    if any_file_failed {
        EXIT_BAD_INPUT
    } else {
        EXIT_SUCCESS
    }
}

/// Returns the exit status after a failed write to standard output. A closed
/// pipe means the reader has seen enough, so it ends the output quietly.
fn write_failure(err: &io::Error, any_file_failed: bool) -> u8 {
    if err.kind() == io::ErrorKind::BrokenPipe {
        return if any_file_failed {
            EXIT_BAD_INPUT
        } else {
            EXIT_SUCCESS
        };
    }
    report(&format!("cannot write to standard output: {err}"));
    EXIT_FAILURE
}

/// Writes `flowcache: MESSAGE` to standard error. A failure to write there
/// leaves nowhere else to report, so it is ignored.
fn report(message: &str) {
    let _ = writeln!(io::stderr(), "flowcache: {message}");
}
