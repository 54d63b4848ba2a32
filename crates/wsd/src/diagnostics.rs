//! Diagnostic destinations: standard error while it is attached to the terminal,
//! and syslog or a `--diag-file` once `wsd` runs as a daemon.
//!
//! Everything that needs a path (the syslog socket, the diagnostics file, the
//! time zone) is opened at start-up, before a chroot can hide it.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::tz::TimeZone;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The socket of the local syslog daemon.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// The syslog facility `daemon` (3), shifted into place for the PRI field.
const FACILITY_DAEMON: u8 = 3 << 3;

/// The shared state behind every diagnostic message.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// True until the daemon redirects standard error to /dev/null.
    stderr_attached: AtomicBool,
    /// True if standard error is a terminal, where a message first erases the
    /// progress line.
    terminal: bool,
    /// True if the formatter leaves out the time stamp, because syslog and
    /// the `--diag-file` get their own. `deliver` then puts the formatter's
    /// usual one before each message on standard error, so that those lines
    /// read the same with or without them.
    stamp_stderr: bool,
    destination: Mutex<Destination>,
    time_zone: TimeZone,
}

/// The destination besides standard error.
#[derive(Debug)]
enum Destination {
    None,
    Syslog(UnixDatagram),
    /// The `--diag-file`, with its path for the message when a write fails,
    /// and the syslog socket of a daemon that can take over then, if it could
    /// be connected at start-up.
    File {
        file: File,
        path: PathBuf,
        fallback: Option<UnixDatagram>,
    },
}

impl Diagnostics {
    /// Sets up diagnostics and installs them as the global `tracing`
    /// subscriber. `-d` raises the level and `RUST_LOG` overrides it when set.
    ///
    /// `diag_file` is opened for appending. Without it, `daemon` connects to
    /// the syslog socket. Failures to open either are returned, so that the
    /// caller can stop before detaching.
    pub fn install(
        debug: u8,
        diag_file: Option<&Path>,
        daemon: bool,
    ) -> Result<Diagnostics, String> {
        let destination = if let Some(path) = diag_file {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|err| {
                    let advice = if err.kind() == io::ErrorKind::NotFound {
                        "create its directory first or give another path with --diag-file"
                    } else {
                        "give a path wsd may write with --diag-file"
                    };
                    format!(
                        "cannot open diagnostics file {}: {err}; {advice}",
                        path.display()
                    )
                })?;
            // A daemon's messages reach nothing else once the file fails, so
            // syslog is connected now, before a chroot can hide its socket.
            let fallback = if daemon {
                connect_syslog(Path::new(SYSLOG_SOCKET)).ok()
            } else {
                None
            };
            Destination::File {
                file,
                path: path.to_path_buf(),
                fallback,
            }
        } else if daemon {
            Destination::Syslog(connect_syslog(Path::new(SYSLOG_SOCKET))?)
        } else {
            Destination::None
        };
        let terminal = std::io::stderr().is_terminal();
        let plain = !matches!(destination, Destination::None);
        let diagnostics = Diagnostics {
            shared: Arc::new(Shared {
                stderr_attached: AtomicBool::new(true),
                terminal,
                stamp_stderr: plain,
                destination: Mutex::new(destination),
                time_zone: TimeZone::system(),
            }),
        };

        let level = match debug {
            0 => "info",
            1 | 2 => "debug",
            _ => "trace",
        };
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(diagnostics.clone())
            .with_target(false);
        if plain {
            // Syslog and the file get a time stamp from `deliver`, and no colour.
            builder.with_ansi(false).without_time().init();
        } else {
            builder.with_ansi(terminal).init();
        }
        Ok(diagnostics)
    }

    /// Stops copying messages to standard error, which the daemon is about to
    /// redirect to /dev/null.
    pub fn detach_stderr(&self) {
        self.shared.stderr_attached.store(false, Ordering::SeqCst);
    }

    /// Reports the error that ends the run, once to each destination. Syslog
    /// or the `--diag-file` get it as an error message. Standard error, while
    /// attached, gets it as `wsd: MESSAGE`, the form of every other error,
    /// after the UTC time stamp of the other lines there, and then no later
    /// message.
    pub fn report_failure(&self, message: &str) {
        let stderr_attached = self.shared.stderr_attached.swap(false, Ordering::SeqCst);
        tracing::error!("{message}");
        if stderr_attached {
            self.write_stderr(format!("wsd: {message}\n").as_bytes(), true);
        }
    }

    /// Sends one formatted message to every destination. A diagnostic that
    /// cannot be shown must not stop the run, so write errors are dropped.
    /// The first failed write to the `--diag-file` is the exception: an error
    /// reports it on standard error, if attached, and to syslog, which then
    /// takes the file's place if a daemon could connect to it.
    fn deliver(&self, level: Level, message: &[u8]) {
        let shared = &self.shared;
        let stderr_attached = shared.stderr_attached.load(Ordering::SeqCst);
        if stderr_attached {
            self.write_stderr(message, shared.stamp_stderr);
        }
        let Ok(mut destination) = shared.destination.lock() else {
            return;
        };
        let now = jiff::Timestamp::now().to_zoned_datetime(shared.time_zone.clone());
        match &mut *destination {
            Destination::None => {}
            Destination::Syslog(socket) => {
                let line = syslog_line(level, &now, std::process::id(), message);
                // NOTE: a message is lost if the syslog daemon is down or
                // restarting; the socket cannot be reconnected after a chroot.
                let _ = socket.send(&line);
            }
            Destination::File {
                file,
                path,
                fallback,
            } => {
                let mut line = now
                    .strftime("%Y-%m-%dT%H:%M:%S%:z ")
                    .to_string()
                    .into_bytes();
                line.extend_from_slice(message);
                let Err(err) = file.write_all(&line) else {
                    return;
                };
                let instead = if fallback.is_some() {
                    "this and later messages go to syslog instead"
                } else if stderr_attached {
                    "later messages go to standard error only"
                } else {
                    "later messages are lost"
                };
                let notice = format!(
                    "ERROR cannot write to the diagnostics file {}: {err}; {instead}\n",
                    path.display()
                );
                if stderr_attached {
                    self.write_stderr(notice.as_bytes(), shared.stamp_stderr);
                }
                *destination = match fallback.take() {
                    Some(socket) => {
                        let pid = std::process::id();
                        let _ =
                            socket.send(&syslog_line(Level::ERROR, &now, pid, notice.as_bytes()));
                        let _ = socket.send(&syslog_line(level, &now, pid, message));
                        Destination::Syslog(socket)
                    }
                    None => Destination::None,
                };
            }
        }
    }

    /// Writes one message to standard error, after erasing the progress line
    /// on a terminal, with the formatter's time stamp in UTC if `stamp` is
    /// set, as when the formatter left it out.
    fn write_stderr(&self, message: &[u8], stamp: bool) {
        let mut line = Vec::with_capacity(message.len() + 32);
        if self.shared.terminal {
            line.extend_from_slice(b"\r\x1b[K");
        }
        if stamp {
            push_time_stamp(&mut line);
        }
        line.extend_from_slice(message);
        let _ = io::stderr().lock().write_all(&line);
    }
}

/// Appends the UTC time stamp that the formatter puts before each message on
/// standard error, and a space, to `line`. Nothing is appended if formatting
/// fails. It takes no lock, so a thread may call it while another holds the
/// logger's.
pub(crate) fn push_time_stamp(line: &mut Vec<u8>) {
    let mut stamp = String::new();
    if SystemTime.format_time(&mut Writer::new(&mut stamp)).is_ok() {
        line.extend_from_slice(stamp.as_bytes());
        line.push(b' ');
    }
}

/// Connects a datagram socket to the syslog daemon at `path`.
fn connect_syslog(path: &Path) -> Result<UnixDatagram, String> {
    let socket = UnixDatagram::unbound()
        .map_err(|err| format!("cannot create a socket for syslog: {err}"))?;
    socket.connect(path).map_err(|err| {
        format!(
            "cannot connect to syslog at {}: {err}; start a syslog daemon, send diagnostics \
             to a file with --diag-file FILE, or stay in the foreground with -F to see them \
             on standard error",
            path.display()
        )
    })?;
    Ok(socket)
}

/// Returns the syslog severity of a `tracing` level.
fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Formats one message as glibc's syslog(3) sends it to /dev/log: the RFC 3164
/// PRI and TIMESTAMP, then the TAG `wsd[PID]:` and no HOSTNAME, which the local
/// syslog daemon adds. Checked against glibc 2.36: `<28>Dec  4 18:58:36 probe[30092]: hello`.
fn syslog_line(level: Level, now: &jiff::ZonedDateTime, pid: u32, message: &[u8]) -> Vec<u8> {
    let pri = FACILITY_DAEMON | severity(level);
    let mut line = format!("<{pri}>{} wsd[{pid}]: ", now.strftime("%b %e %H:%M:%S")).into_bytes();
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    line.extend_from_slice(message);
    line
}

impl<'a> MakeWriter<'a> for Diagnostics {
    type Writer = MessageWriter<'a>;

    fn make_writer(&'a self) -> MessageWriter<'a> {
        self.make_writer_for_level(Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> MessageWriter<'a> {
        self.make_writer_for_level(*meta.level())
    }
}

impl Diagnostics {
    fn make_writer_for_level(&self, level: Level) -> MessageWriter<'_> {
        MessageWriter {
            diagnostics: self,
            level,
            buffer: Vec::new(),
        }
    }
}

/// Collects one formatted message and delivers it whole when dropped, so that
/// a syslog datagram carries exactly one message.
pub struct MessageWriter<'a> {
    diagnostics: &'a Diagnostics,
    level: Level,
    buffer: Vec<u8>,
}

impl Write for MessageWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for MessageWriter<'_> {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            self.diagnostics.deliver(self.level, &self.buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_time() -> jiff::ZonedDateTime {
        "2026-03-05T07:08:09+00:00[UTC]"
            .parse()
            .expect("valid test time")
    }

    #[test]
    fn syslog_line_has_pri_and_tag() {
        let line = syslog_line(Level::WARN, &fixed_time(), 42, b"WARN disk full\n");
        assert_eq!(
            String::from_utf8(line).expect("ASCII"),
            "<28>Mar  5 07:08:09 wsd[42]: WARN disk full"
        );
    }

    #[test]
    fn severity_follows_level() {
        let pri = |level| {
            let line = syslog_line(level, &fixed_time(), 1, b"m");
            String::from_utf8(line).expect("ASCII")[..4].to_string()
        };
        assert_eq!(pri(Level::ERROR), "<27>");
        assert_eq!(pri(Level::INFO), "<30>");
        assert_eq!(pri(Level::DEBUG), "<31>");
        assert_eq!(pri(Level::TRACE), "<31>");
    }

    #[test]
    fn message_reaches_syslog_socket() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).expect("bind a stand-in syslog socket");
        let diagnostics = Diagnostics {
            shared: Arc::new(Shared {
                stderr_attached: AtomicBool::new(false),
                terminal: false,
                stamp_stderr: true,
                destination: Mutex::new(Destination::Syslog(
                    connect_syslog(&path).expect("connect"),
                )),
                time_zone: TimeZone::UTC,
            }),
        };
        {
            let mut writer = diagnostics.make_writer_for_level(Level::ERROR);
            writer.write_all(b"ERROR first half, ").expect("buffered");
            writer.write_all(b"second half\n").expect("buffered");
        }
        let mut datagram = [0u8; 512];
        let len = server.recv(&mut datagram).expect("one datagram");
        let text = String::from_utf8_lossy(&datagram[..len]).into_owned();
        assert!(text.starts_with("<27>"), "{text}");
        assert!(
            text.ends_with(&format!(
                " wsd[{}]: ERROR first half, second half",
                std::process::id()
            )),
            "{text}"
        );
    }

    /// A diagnostics file that cannot be written hands over to syslog, with an
    /// error that reports the failure, and the message that failed is not lost.
    #[test]
    fn failed_diag_file_falls_back_to_syslog() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("log");
        let server = UnixDatagram::bind(&socket).expect("bind a stand-in syslog socket");
        let full = OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full");

        let diagnostics = Diagnostics {
            shared: Arc::new(Shared {
                stderr_attached: AtomicBool::new(false),
                terminal: false,
                stamp_stderr: true,
                destination: Mutex::new(Destination::File {
                    file: full,
                    path: PathBuf::from("/dev/full"),
                    fallback: Some(connect_syslog(&socket).expect("connect")),
                }),
                time_zone: TimeZone::UTC,
            }),
        };

        for message in [&b"WARN first\n"[..], b"WARN second\n"] {
            let mut writer = diagnostics.make_writer_for_level(Level::WARN);
            writer.write_all(message).expect("buffered");
        }

        let mut received = Vec::new();
        let mut datagram = [0u8; 512];
        for _ in 0..3 {
            let len = server.recv(&mut datagram).expect("a datagram");
            received.push(String::from_utf8_lossy(&datagram[..len]).into_owned());
        }
        assert!(
            received[0].contains("cannot write to the diagnostics file /dev/full"),
            "{received:?}"
        );
        assert!(received[0].contains("go to syslog instead"), "{received:?}");
        assert!(received[1].ends_with("WARN first"), "{received:?}");
        assert!(received[2].ends_with("WARN second"), "{received:?}");
    }

    #[test]
    fn missing_syslog_socket_names_option() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let err = connect_syslog(&dir.path().join("none")).expect_err("no socket");
        assert!(err.contains("--diag-file"), "{err}");
        assert!(err.contains("-F"), "{err}");
    }
}
