//! The start-up steps that file runs and live captures share: the pid file,
//! the privilege drop, SIGHUP and detaching.
//!
//! A run calls [`StartUp::begin`] before it opens anything, opens its inputs
//! and its output, and then calls [`StartUp::complete`], which drops privileges
//! and detaches. Until then every message reaches the terminal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::info;

use crate::daemon::NullDevice;
use crate::diagnostics::Diagnostics;
use crate::output::{check_cache_early, check_cache_saving, lock_read_cache, Output};
use crate::pidfile::PidFile;
use crate::privileges::{self, Identity};
use crate::run::Failure;
use wsd::cli::Cli;

/// Checks the options against each other, and that the `-c` directory exists,
/// before the diagnostics are set up and before a daemon starts, so that such
/// an error reaches the terminal even when syslog cannot be reached.
pub fn check_options(cli: &Cli) -> Result<(), Failure> {
    let logs_to_stdout = cli
        .logfile
        .as_deref()
        .is_some_and(|path| path.as_os_str() == "-");
    if cli.detaches() && logs_to_stdout {
        return Err(Failure::Usage(
            "-L - writes records to standard output, which a daemon closes; give a file \
             with -L FILE, a directory with -l DIR, or stay in the foreground with -F"
                .to_string(),
        ));
    }

    if let Some(dir) = &cli.chroot {
        if !dir.is_dir() {
            return Err(Failure::Usage(format!(
                "the root directory for -c, {}, is not a directory or does not exist; \
                 create it or give an existing one",
                dir.display()
            )));
        }
    }

    // Checked here rather than by the parser, whose message would name -R by its
    // long form only.
    if cli.discard_bad_cache && cli.rflow.is_none() {
        return Err(Failure::Usage(
            "--discard-bad-cache sets aside a flow cache that cannot be loaded, but no \
             cache is given: add -R FILE"
                .to_string(),
        ));
    }

    if cli.threads > 1 && cli.verbose {
        return Err(Failure::Usage(format!(
            "-V cannot be used with --threads {}: packet lines need every packet's flow \
             state in capture order, which only one thread has; drop --threads or -V",
            cli.threads
        )));
    }

    if cli.threads > 1 && cli.max_flows < u64::from(cli.threads) {
        return Err(Failure::Usage(format!(
            "--max-flows {} is less than --threads {}, but each thread's flow table needs \
             room for at least one flow; give --max-flows {} or more, or fewer threads",
            cli.max_flows, cli.threads, cli.threads
        )));
    }

    if cli.compat && cli.format != wsd::cli::Format::Text {
        return Err(Failure::Usage(
            "--compat writes the classic text records, so it cannot be used with \
             --format json; drop one of them"
                .to_string(),
        ));
    }

    if cli.compat && cli.interim.is_some() {
        return Err(Failure::Usage(
            "--compat cannot be used with --interim: its records have only the classic \
             keys, with no endReason to mark an interim record, so a parser of that \
             format would count a flow once for each interim record; drop --interim or \
             --compat"
                .to_string(),
        ));
    }

    if cli.compat && cli.stats.is_some() {
        return Err(Failure::Usage(
            "--compat cannot be used with --stats: earlier versions wrote no STATS \
             lines, so a parser of their format does not expect them; drop --stats or \
             --compat"
                .to_string(),
        ));
    }

    Ok(())
}

/// The resources of start-up that the run keeps until its end. Dropping it
/// removes the pid file.
pub struct StartUp {
    /// /dev/null for the standard streams, present if this process detaches.
    null: Option<NullDevice>,
    identity: Option<Identity>,
    /// Kept until the end of the run: the lock is released when it is dropped.
    _pid_file: Option<PidFile>,
    /// The lock of the `-W` cache, held until the end of the run.
    _cache_lock: Option<wsd_flowcache::CacheLock>,
    /// The lock of the `-R` cache if it is another file, held until the end of
    /// the run.
    _read_lock: Option<wsd_flowcache::CacheLock>,
}

impl StartUp {
    /// Looks up the `-u` and `-g` ids and locks the caches and the pid file.
    /// [`check_options`] has checked the options before.
    pub fn begin(cli: &Cli) -> Result<StartUp, Failure> {
        let null = if cli.detaches() && crate::daemon::is_child() {
            Some(NullDevice::open()?)
        } else {
            None
        };
        let identity = privileges::resolve(cli)?;
        let cache_lock = check_cache_early(cli, identity.as_ref())?;
        let read_lock = lock_read_cache(cli)?;
        let pid_file = match cli.pid_file_path() {
            Some(path) => Some(PidFile::acquire(&path)?),
            None => None,
        };
        Ok(StartUp {
            null,
            identity,
            _pid_file: pid_file,
            _cache_lock: cache_lock,
            _read_lock: read_lock,
        })
    }

    /// Returns the user and group that privileges are dropped to.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Readies the flag `hangup` that SIGHUP sets (see [`catch_hangup`]) for a
    /// rotating `output`, drops privileges, checks that the `-W` cache can be
    /// saved and, for a daemon, detaches.
    pub fn complete(
        &self,
        cli: &Cli,
        output: &Output,
        diagnostics: &Diagnostics,
        hangup: &AtomicBool,
    ) -> Result<(), Failure> {
        // The log was just opened, so a SIGHUP that came before has no log to
        // close.
        hangup.store(false, Ordering::Relaxed);
        if !output.rotates() {
            tracing::debug!("SIGHUP is ignored: the log does not rotate (rotation needs -l DIR)");
        }
        privileges::drop_privileges(cli, self.identity.as_ref())?;
        privileges::warn_if_staying_root(cli);
        check_cache_saving(cli, self.identity.as_ref())?;
        if let Some(null) = &self.null {
            info!("wsd v{} starting in daemon mode", env!("CARGO_PKG_VERSION"));
            diagnostics.detach_stderr();
            crate::daemon::detach(null)?;
        }
        Ok(())
    }
}

/// Installs a handler that sets the returned flag on SIGHUP, which requests a
/// new log file when the log rotates and is ignored otherwise. It is installed
/// before the flow cache loads, which can take seconds, so that a SIGHUP then
/// does not end the process.
pub fn catch_hangup() -> Result<Arc<AtomicBool>, Failure> {
    let hangup = Arc::new(AtomicBool::new(false));
    // Without rotation the flag is set but never read: SIGHUP, which a closing
    // terminal sends, must not end a run and lose its open flows.
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
        .map_err(|err| Failure::Other(format!("cannot install the SIGHUP handler: {err}")))?;
    Ok(hangup)
}

/// Set by SIGUSR1, whose default action would end the process and lose its
/// open flows. The packet loops then log how far the run got.
static PROGRESS: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// Makes SIGUSR1 request a progress message (see [`progress_requested`])
/// instead of ending the process. tcpdump 4.99 prints its counts on SIGUSR1
/// too, according to its tcpdump(8) page.
pub fn catch_progress_request() -> Result<(), Failure> {
    let flag = PROGRESS.get_or_init(|| Arc::new(AtomicBool::new(false)));
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(flag))
        .map(|_| ())
        .map_err(|err| Failure::Other(format!("cannot install the SIGUSR1 handler: {err}")))
}

/// Returns true once after each SIGUSR1.
pub fn progress_requested() -> bool {
    PROGRESS
        .get()
        .is_some_and(|flag| flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::Relaxed))
}

/// Rotates the log between two records when SIGHUP came or the size limit is
/// reached, and also when `check_clock` is set and the time limit is reached.
/// Callers set `check_clock` only now and then, since reading the clock for
/// every packet would cost more than whole-second intervals need.
pub fn rotate_between_records(
    output: &mut Output,
    hangup: &AtomicBool,
    check_clock: bool,
) -> Result<(), Failure> {
    let hangup = hangup.load(Ordering::Relaxed) && hangup.swap(false, Ordering::Relaxed);
    if hangup || check_clock || output.over_size_limit() {
        output.rotate_if_due(hangup)?;
    }
    Ok(())
}
