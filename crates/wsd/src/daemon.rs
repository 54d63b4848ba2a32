//! Detaching from the terminal without `fork` in our code.
//!
//! The process started from the shell (the launcher) runs the same binary again
//! as a child, marked by an environment variable. The child opens the
//! interface, the log directory and the pid file and drops privileges while its
//! standard error is still a pipe to the launcher, which copies every line to
//! the terminal. Once start-up has succeeded, the child writes a readiness line
//! on standard output, starts a new session, changes to `/` and points its
//! standard streams at /dev/null. The launcher then exits 0; if the child ends
//! without the readiness line, the launcher exits with the child's status, so
//! that a start-up error reaches the terminal and the exit status.
//!
//! Re-executing costs one extra process start but needs no `unsafe` and is safe
//! with threads, unlike `fork`, which would leave a multi-threaded child with
//! only one thread and possibly locked mutexes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use crate::run::Failure;

/// The environment variable that marks the detaching child.
const CHILD_MARKER: &str = "WSD_DAEMON_CHILD";

/// The line the child writes on standard output once start-up has succeeded.
const READY_LINE: &str = "wsd-ready";

/// True if this process is the child that a launcher started.
pub fn is_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// Runs this binary again with the same arguments as the detaching child,
/// copies its standard error to ours until it is ready or ends, and returns the
/// exit status for this process.
pub fn launch() -> i32 {
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(err) => {
            crate::report(&format!(
                "cannot find the wsd program to start the daemon: {err}"
            ));
            return 1;
        }
    };
    let spawned = Command::new(&program)
        .args(std::env::args_os().skip(1))
        .env(CHILD_MARKER, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            crate::report(&format!("cannot start {}: {err}", program.display()));
            return 1;
        }
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        crate::report("cannot start the daemon: its output pipes are missing");
        return 1;
    };
    let relay = std::thread::spawn(move || copy_lines(stderr));
    let ready = read_ready(stdout);
    let _ = relay.join();
    if ready {
        return 0;
    }
    match child.wait() {
        Ok(status) => status.code().unwrap_or(1).max(1),
        Err(err) => {
            crate::report(&format!("cannot wait for the daemon: {err}"));
            1
        }
    }
}

/// Copies the child's standard error to ours, line by line, until it closes.
fn copy_lines(stderr: impl Read) {
    let mut stderr_out = io::stderr();
    for line in BufReader::new(stderr).split(b'\n') {
        let Ok(mut line) = line else {
            return;
        };
        line.push(b'\n');
        let _ = stderr_out.write_all(&line);
    }
}

/// Reads the child's standard output until it closes and returns whether the
/// readiness line came.
fn read_ready(stdout: impl Read) -> bool {
    let mut text = String::new();
    let _ = BufReader::new(stdout).read_to_string(&mut text);
    text.lines().any(|line| line == READY_LINE)
}

/// /dev/null, opened before a chroot can hide it.
pub struct NullDevice(File);

impl NullDevice {
    /// Opens /dev/null for reading and writing.
    pub fn open() -> Result<NullDevice, Failure> {
        File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map(NullDevice)
            .map_err(|err| Failure::Other(format!("cannot open /dev/null: {err}")))
    }
}

/// Tells the launcher that start-up succeeded, then detaches: a new session,
/// the working directory `/` and standard streams on /dev/null.
pub fn detach(null: &NullDevice) -> Result<(), Failure> {
    let failed =
        |step: &str, err: io::Error| Failure::Other(format!("cannot detach: {step} failed: {err}"));
    rustix::process::setsid().map_err(|err| failed("setsid", err.into()))?;
    std::env::set_current_dir("/").map_err(|err| failed("changing to /", err))?;
    // Standard error first: the launcher stops relaying at its end of file,
    // and exits once standard output carries the readiness line and closes.
    rustix::stdio::dup2_stdin(&null.0)
        .map_err(|err| failed("redirecting standard input", err.into()))?;
    rustix::stdio::dup2_stderr(&null.0)
        .map_err(|err| failed("redirecting standard error", err.into()))?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{READY_LINE}")
        .and_then(|()| stdout.flush())
        .map_err(|err| failed("telling the launcher", err))?;
    rustix::stdio::dup2_stdout(&null.0)
        .map_err(|err| failed("redirecting standard output", err.into()))?;
    Ok(())
}
