//! `wsd`: reads captures and writes one compact record per TCP connection.

mod cache;
mod flows;
mod inputs;
mod output;
mod progress;
mod run;

use std::io::{IsTerminal, Write};

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = wsd::cli::Cli::parse();
    init_logging(cli.debug);

    if let Some((option, reason)) = cli.unsupported_option() {
        report(&format!("{option} cannot be used: {reason}"));
        std::process::exit(2);
    }

    warn_about_time_zone();

    if let Err(failure) = run::run(&cli) {
        report(failure.message());
        std::process::exit(failure.exit_code());
    }
}

/// Warns when `TZ` names a zone that cannot be loaded, since start times would
/// then silently be in UTC.
fn warn_about_time_zone() {
    if let Err(err) = jiff::tz::TimeZone::try_system() {
        let tz = std::env::var("TZ").unwrap_or_default();
        tracing::warn!(
            "cannot load the local time zone (TZ={tz:?}): {err}; start times are in UTC"
        );
    }
}

/// Prints an error on standard error. A failure to print is ignored, because the
/// exit status still reports the outcome and a panic would hide it.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "wsd: {message}");
}

/// Sends diagnostics to standard error; `-d` raises the level, and `RUST_LOG`
/// overrides it when set.
fn init_logging(debug: u8) {
    let level = match debug {
        0 => "info",
        1 | 2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let terminal = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || DiagnosticWriter::new(terminal))
        .with_ansi(terminal)
        .with_target(false)
        .init();
}

/// Standard error for one diagnostic message. On a terminal it first erases the
/// current line, so that a message never runs into the progress display.
struct DiagnosticWriter {
    stderr: std::io::Stderr,
    erase_line: bool,
}

impl DiagnosticWriter {
    fn new(terminal: bool) -> DiagnosticWriter {
        DiagnosticWriter {
            stderr: std::io::stderr(),
            erase_line: terminal,
        }
    }
}

/// Write errors are dropped: a diagnostic that cannot be shown must not stop the
/// run or turn into a panic.
impl std::io::Write for DiagnosticWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.erase_line {
            self.erase_line = false;
            let _ = self.stderr.write_all(b"\r\x1b[K");
        }
        let _ = self.stderr.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.stderr.flush();
        Ok(())
    }
}
