//! A one-line progress display on standard error, for interactive file runs.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const WIDTH: usize = 30;
const REFRESH: Duration = Duration::from_millis(200);

/// Shows bytes read of the total, packets per second and open flows.
pub struct Progress {
    enabled: bool,
    started: Instant,
    last_draw: Instant,
    total_bytes: u64,
    drawn: bool,
}

impl Progress {
    /// Creates a display for inputs of `total_bytes` in all (0 if unknown). It
    /// stays silent unless `wanted` is true and standard error is a terminal.
    pub fn new(total_bytes: u64, wanted: bool) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            started: now,
            last_draw: now,
            total_bytes,
            drawn: false,
        }
    }

    /// True if the display is shown at all; callers skip the bookkeeping if not.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Redraws the line if the last redraw is old enough.
    pub fn update(&mut self, bytes_done: u64, packets: u64, open_flows: usize) {
        let now = Instant::now();
        if !self.enabled || now.duration_since(self.last_draw) < REFRESH {
            return;
        }
        self.last_draw = now;
        self.drawn = true;
        let elapsed = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = packets as f64 / elapsed;
        let line = if self.total_bytes > 0 {
            let fraction = (bytes_done as f64 / self.total_bytes as f64).clamp(0.0, 1.0);
            let filled = (fraction * WIDTH as f64) as usize;
            format!(
                "[{}{}] {:3.0}% {:.1}/{:.1} MB {:.0} packets/s {} open flows",
                "=".repeat(filled),
                " ".repeat(WIDTH - filled),
                fraction * 100.0,
                bytes_done as f64 / 1e6,
                self.total_bytes as f64 / 1e6,
                rate,
                open_flows
            )
        } else {
            format!(
                "{:.1} MB {:.0} packets/s {} open flows",
                bytes_done as f64 / 1e6,
                rate,
                open_flows
            )
        };
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{line}\x1b[K");
        let _ = stderr.flush();
    }

    /// Erases the line so that later messages start on a clean line.
    pub fn clear(&mut self) {
        if self.drawn {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[K");
            let _ = stderr.flush();
            self.drawn = false;
        }
    }
}
