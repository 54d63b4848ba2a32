//! Reading a pipe that a signal can end: SIGINT and SIGTERM must end a run as the
//! end of input does, also while the writer of a pipe sends nothing.

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// How long one wait for data lasts before the stop flag is checked again.
const WAIT: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 200_000_000,
};

/// A file, pipe or socket whose reads end with end of input once `stop` is set.
///
/// A blocked `read` is not ended by a signal, because the signal handlers are
/// installed with `SA_RESTART`. This reader therefore waits with `poll` for at
/// most [`WAIT`] at a time and checks `stop` in between.
pub struct InterruptibleReader {
    file: File,
    stop: Arc<AtomicBool>,
}

impl InterruptibleReader {
    /// Wraps `file`, which reads are made from directly, with no buffer of its
    /// own, so that `poll` reports every byte not yet read as readable.
    pub fn new(file: File, stop: Arc<AtomicBool>) -> InterruptibleReader {
        InterruptibleReader { file, stop }
    }
}

impl Read for InterruptibleReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
            match poll(&mut fds, Some(&WAIT)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                // Readable, closed by the writer, or an error that the read
                // itself will report.
                Ok(_) | Err(_) => return self.file.read(buf),
            }
        }
    }
}
