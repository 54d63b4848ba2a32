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
use flowcache::cli::Cli;
use flowcache::filter::FlowFilter;
use wsd_flow::{Tracker, TrackerConfig};
use wsd_flowcache::FlowCache;
use wsd_logfmt::LocalTimeFormatter;

use crate::text::TextLister;

/// Exit status on success.
const EXIT_SUCCESS: u8 = 0;
/// Exit status when writing the output failed.
const EXIT_FAILURE: u8 = 1;
/// Exit status on bad usage or a file that could not be read as a flow cache.
const EXIT_BAD_INPUT: u8 = 2;

/// Size of the output buffer, large enough that a write costs little per line.
const OUTPUT_BUFFER: usize = 64 * 1024;

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
        match (cli.check, cli.summary, cli.json) {
            (true, _, _) => Mode::Check,
            (false, true, true) => Mode::SummaryJson,
            (false, true, false) => Mode::Summary,
            (false, false, true) => Mode::ListJson,
            (false, false, false) => Mode::List,
        }
    }
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
    fn print(&mut self, file: &str, cache: &FlowCache) -> io::Result<()> {
        match self.mode {
            Mode::List => self.list(cache),
            Mode::ListJson => self.list_json(file, cache),
            Mode::Summary => {
                if self.files_printed > 0 {
                    self.out.write_all(b"\n")?;
                }
                summary::write_text(&mut self.out, file, cache, &self.filter, &mut self.clock)
            }
            Mode::SummaryJson => {
                summary::write_json(&mut self.out, file, cache, &self.filter, &mut self.clock)
            }
            Mode::Check => Ok(()),
        }?;
        self.files_printed += 1;
        Ok(())
    }

    fn list(&mut self, cache: &FlowCache) -> io::Result<()> {
        for flow in &cache.snapshot.flows {
            if self.filter.matches(flow) {
                self.lister
                    .write_flow(&mut self.out, flow, &mut self.clock)?;
            }
        }
        Ok(())
    }

    fn list_json(&mut self, file: &str, cache: &FlowCache) -> io::Result<()> {
        for flow in &cache.snapshot.flows {
            if self.filter.matches(flow) {
                json::write_flow(&mut self.out, file, flow, &mut self.clock)?;
            }
        }
        Ok(())
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

    for path in &cli.files {
        let file = path.display().to_string();
        let written = match load(path, mode == Mode::Check) {
            Ok(cache) => printer.print(&file, &cache),
            Err(reason) => {
                any_file_failed = true;
                // Flushing first keeps the earlier files' lines ahead of the
                // message when both streams go to one terminal.
                let flushed = printer.out.flush();
                report(&format!("{file}: {reason}"));
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

/// Reads the flow cache at `path`; with `restore`, also restores it into a
/// tracker, as `wsd -R` does, to find contents that decode but are inconsistent.
fn load(path: &Path, restore: bool) -> Result<FlowCache, String> {
    let cache = match wsd_flowcache::read_cache(path) {
        Ok(Some(cache)) => cache,
        Ok(None) => return Err("no such file".to_string()),
        Err(err) => return Err(err.to_string()),
    };
    if restore {
        if let Err(err) = Tracker::restore(TrackerConfig::default(), &cache.snapshot) {
            return Err(format!("inconsistent contents: {err}"));
        }
    }
    Ok(cache)
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
