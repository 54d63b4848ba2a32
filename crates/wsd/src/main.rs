//! `wsd`: reads captures and writes one compact record per TCP connection.

#![forbid(unsafe_code)]

mod cache;
mod daemon;
mod diagnostics;
mod flows;
mod inputs;
mod interruptible;
mod live;
mod logdir;
mod output;
mod pidfile;
mod privileges;
mod progress;
mod run;
mod startup;
mod ticks;

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;

use crate::diagnostics::Diagnostics;

fn main() {
    let mut cli = wsd::cli::Cli::parse();
    // A write past the file size limit (ulimit -f, LimitFSIZE= of systemd) then
    // fails with EFBIG and is reported as a failed write, instead of SIGXFSZ
    // killing the process with a cut line and no cache saved.
    let file_size_limit = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGXFSZ, file_size_limit);
    if cli.detaches() {
        // The daemon changes to / before it writes the -W cache at exit.
        cli.wflow = cli
            .wflow
            .map(|path| std::path::absolute(&path).unwrap_or(path));
    }

    // Before the diagnostics file is opened, which must not be another file
    // of the run, and before a daemon detaches, so that the error reaches the
    // terminal.
    let checked = startup::check_options(&cli).and_then(|()| output::check_output_paths(&cli));
    if let Err(failure) = checked {
        report(failure.message());
        std::process::exit(failure.exit_code());
    }
    if cli.detaches() && !daemon::is_child() {
        std::process::exit(daemon::launch());
    }
    let in_daemon = cli.detaches();
    let diagnostics = match Diagnostics::install(cli.debug, cli.diag_file.as_deref(), in_daemon) {
        Ok(diagnostics) => diagnostics,
        Err(message) => {
            report(&message);
            std::process::exit(2);
        }
    };

    warn_about_time_zone();

    let result = run::run(&cli, &diagnostics);
    run::hold_if_ending();
    if let Err(failure) = result {
        diagnostics.report_failure(failure.message());
        if let run::Failure::Stopped { signal, .. } = failure {
            // Ending by the signal lets a shell loop around wsd stop too. If
            // that fails, the exit status is the one a shell shows for it.
            let _ = signal_hook::low_level::emulate_default_handler(signal);
        }
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

/// Prints `wsd: MESSAGE` on standard error for an error found before the
/// run's diagnostics are set up, such as a usage error, without a time stamp,
/// as clap prints its usage errors. A failure to print is ignored, because the
/// exit status still reports the outcome and a panic would hide it.
pub(crate) fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "wsd: {message}");
}
