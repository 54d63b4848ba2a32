//! A coarse clock for the packet loops. A thread counts quarter seconds, so a
//! loop notices that time passed with one atomic load per packet instead of
//! reading the clock at every packet.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

/// The period of the count. It bounds how late a log rotation by
/// `--rotate-interval` comes while packets keep arriving.
const TICK: Duration = Duration::from_millis(250);

static TICKS: AtomicU64 = AtomicU64::new(0);

/// Starts the thread that counts ticks, once per process. If the thread cannot
/// start, the count stays 0 and a warning is logged.
pub fn start() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("clock-tick".to_string())
            .spawn(|| loop {
                std::thread::sleep(TICK);
                TICKS.fetch_add(1, Ordering::Relaxed);
            });
        if let Err(err) = spawned {
            tracing::warn!(
                "cannot start the clock thread: {err}; the log's age is then checked \
                 only every 1,024 packets, so --rotate-interval can rotate late"
            );
        }
    });
}

/// Returns the number of ticks counted since [`start`].
#[inline]
pub fn count() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
