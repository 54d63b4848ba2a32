//! Live capture on the loopback interface and filter expressions, through the
//! `wsd` binary and the system's libpcap.
//!
//! Tests that need root or libpcap print why they did not run and pass, except
//! when the environment variable `CI` is set: there a missing requirement fails
//! the test. Captures only ever use `lo` and a filter on a port the test itself
//! listens on, so other traffic cannot change the counts.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{field, fixture, flow_lines, pcapng_block, run_wsd};

const LIMIT: Duration = Duration::from_secs(120);

/// How long to wait for wsd to start capturing or to write a record.
const WAIT: Duration = Duration::from_secs(20);

/// Pause that lets the kernel send each ACK on its own before the next step, so
/// that the packet counts do not depend on timing. Linux acknowledges at once at
/// the start of a connection, so this is far longer than needed.
const SETTLE: Duration = Duration::from_millis(300);

/// Returns true if the requirement is met. Otherwise fails the test under CI, or
/// prints why the test did not run and returns false.
fn require(met: bool, what: &str) -> bool {
    if met {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what}; CI must provide it");
    }
    eprintln!("not run: {what}");
    false
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .and_then(|line| line.split_whitespace().nth(2))
        .is_some_and(|effective| effective == "0")
}

fn has_libpcap() -> bool {
    wsd_capture::Libpcap::load().is_ok()
}

/// Checks both requirements of a live capture.
fn can_capture() -> bool {
    require(has_libpcap(), "libpcap is not installed")
        && require(is_root(), "live capture needs root")
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `wsd -i lo -F` run in the background, with its diagnostics collected.
struct LiveRun {
    child: Child,
    stderr: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl LiveRun {
    /// Starts wsd with `args` and waits until it reports that it is capturing.
    fn start(args: &[&str]) -> LiveRun {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
            .args(args)
            .env("TZ", "UTC")
            .env_remove("RUST_LOG")
            .env_remove("WSD_LIBPCAP")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wsd starts");
        let (sender, receiver) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut run = LiveRun {
            child,
            stderr: receiver,
            lines: Vec::new(),
        };
        run.wait_for_line(" capturing ");
        run
    }

    fn wait_for_line(&mut self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.lines.iter().any(|line| line.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("wsd did not log {text:?}: {:#?}", self.lines);
                }
            }
        }
    }

    /// Sends the signal `name`, such as `USR1`, to wsd.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM and returns the exit code and every diagnostic line.
    fn terminate(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let deadline = Instant::now() + WAIT;
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait for wsd") {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("wsd did not stop on SIGTERM: {:#?}", self.lines);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.lines.extend(self.stderr.try_iter());
        // The reader thread may still hold the last lines.
        std::thread::sleep(Duration::from_millis(100));
        self.lines.extend(self.stderr.try_iter());
        (code, self.lines.join("\n"))
    }
}

fn read_sysctl(name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
        .map(|value| value.trim() != "0")
        .unwrap_or(false)
}

/// TCP header sizes of Linux on loopback: (SYN or SYN-ACK, any other segment),
/// from the options the kernel adds under the current settings.
fn tcp_header_sizes() -> (u64, u64) {
    let timestamps = read_sysctl("tcp_timestamps");
    let sack = read_sysctl("tcp_sack");
    let window_scaling = read_sysctl("tcp_window_scaling");
    // MSS always; SACK-permitted shares a 12-byte block with the timestamp or
    // takes 4 bytes on its own; window scale takes 4.
    let timestamp_block = if timestamps {
        12
    } else if sack {
        4
    } else {
        0
    };
    let syn = 20 + 4 + timestamp_block + if window_scaling { 4 } else { 0 };
    let other = if timestamps { 32 } else { 20 };
    (syn, other)
}

/// Makes one connection to `listener`: the client sends 100 bytes and the server
/// replies with 200. Returns both ends, still open.
fn exchange(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let address = listener.local_addr().expect("listener address");
    let mut client = TcpStream::connect(address).expect("connect to the listener");
    let (mut server, _) = listener.accept().expect("accept");
    client.write_all(&[0x41; 100]).expect("client sends");
    let mut request = [0; 100];
    server.read_exact(&mut request).expect("server receives");
    std::thread::sleep(SETTLE);
    server.write_all(&[0x42; 200]).expect("server sends");
    let mut response = [0; 200];
    client.read_exact(&mut response).expect("client receives");
    std::thread::sleep(SETTLE);
    (client, server)
}

#[test]
fn loopback_connection_exact_counts() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("live.log");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let port = listener.local_addr().expect("listener address").port();
    let filter = format!("tcp port {port}");
    let mut args = vec!["-i", "lo", "-F", "-L", log.to_str().expect("UTF-8 path")];
    args.extend(filter.split(' '));
    let run = LiveRun::start(&args);

    let (client, server) = exchange(&listener);
    let (code, stderr) = run.terminate();
    drop((client, server));

    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(&log).expect("log written");
    let lines = flow_lines(text.as_bytes());
    assert_eq!(lines.len(), 1, "{text}\n{stderr}");
    let line = &lines[0];
    let (syn, segment) = tcp_header_sizes();
    // Client to server: SYN, ACK, 100 bytes of data, ACK of the response.
    assert_eq!(field(line, "destPort"), port.to_string(), "{line}");
    assert_eq!(field(line, "sourceIp"), "127.0.0.1", "{line}");
    assert_eq!(field(line, "packetsOut"), "4", "{line}");
    assert_eq!(
        field(line, "bytesOut"),
        (syn + segment + (segment + 100) + segment).to_string(),
        "{line}"
    );
    // Server to client: SYN-ACK, ACK of the request, 200 bytes of data.
    assert_eq!(field(line, "packetsIn"), "3", "{line}");
    assert_eq!(
        field(line, "bytesIn"),
        (syn + segment + (segment + 200)).to_string(),
        "{line}"
    );
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    assert!(stderr.contains("finished: 7 packets"), "{stderr}");
    assert!(
        stderr.contains("capture drops: 0 by the kernel"),
        "{stderr}"
    );
}

/// Starts wsd on `lo` with an idle timeout of 1 s, the options `extra`, its log
/// at `log` and a filter for the port of the returned listener.
fn start_quiet_link(log: &Path, extra: &[&str]) -> (LiveRun, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let port = listener.local_addr().expect("listener address").port();
    let filter = format!("tcp port {port}");
    let mut args = vec!["-i", "lo", "-F", "--idle-timeout", "1"];
    args.extend_from_slice(extra);
    args.extend(["-L", log.to_str().expect("UTF-8 path")]);
    args.extend(filter.split(' '));
    (LiveRun::start(&args), listener)
}

/// Reads the log at `log` until it has `count` flow records or the wait ends,
/// and returns its text.
fn wait_for_flows(log: &Path, count: usize) -> String {
    let deadline = Instant::now() + WAIT;
    let mut text = std::fs::read_to_string(log).unwrap_or_default();
    while flow_lines(text.as_bytes()).len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        text = std::fs::read_to_string(log).unwrap_or_default();
    }
    text
}

/// A live capture stops at start-up on a `-R` cache whose directory does not
/// exist, as a run over files does, instead of starting with no flows.
#[test]
fn cache_in_missing_directory_stops_live_run() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let cache = dir.path().join("no-such-dir").join("wsd.cache");
    let log = dir.path().join("live.log");
    let output = run_wsd(
        &[
            "-F",
            "-i",
            "lo",
            "-R",
            cache.to_str().unwrap(),
            "-L",
            log.to_str().unwrap(),
            "port",
            "9",
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("as the flow cache (-R)"), "{stderr}");
}

#[test]
fn quiet_link_times_out_flow() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("live.log");
    let (run, listener) = start_quiet_link(&log, &[]);

    let (client, server) = exchange(&listener);
    // No packet follows, so only the clock can end the flow.
    let text = wait_for_flows(&log, 1);
    let (code, stderr) = run.terminate();
    drop((client, server));

    assert_eq!(flow_lines(text.as_bytes()).len(), 1, "{text}\n{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
    let after = std::fs::read_to_string(&log).expect("log written");
    assert_eq!(flow_lines(after.as_bytes()).len(), 1, "{after}");
}

/// The packets captured before SIGTERM are all counted, also those that the
/// kernel still holds when the signal comes.
#[test]
fn packets_before_sigterm_counted() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("live.log");
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind on loopback");
    let port = receiver.local_addr().expect("receiver address").port();
    let filter = format!("udp dst port {port}");
    let mut args = vec!["-i", "lo", "-F", "-L", log.to_str().expect("UTF-8 path")];
    args.extend(filter.split(' '));
    let run = LiveRun::start(&args);

    // Each datagram comes from a port of its own, so each is one flow.
    let senders: Vec<std::net::UdpSocket> = (0..80)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a sender"))
        .collect();
    for sender in &senders {
        sender
            .send_to(b"x", ("127.0.0.1", port))
            .expect("send on loopback");
    }
    let (code, stderr) = run.terminate();

    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(&log).expect("log written");
    let records = text
        .lines()
        .filter(|line| line.starts_with("UDPFLOW "))
        .count();
    assert_eq!(records, 80, "{text}\n{stderr}");
}

/// On a link without any packet, --stats records still come every interval,
/// so that their absence can tell that a sensor stopped.
#[test]
fn quiet_link_writes_stats() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("live.log");
    let (run, _listener) = start_quiet_link(&log, &["--stats", "1"]);

    let deadline = Instant::now() + WAIT;
    let stats_lines = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .filter(|line| line.starts_with("STATS "))
            .count()
    };
    while stats_lines() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let during = stats_lines();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let (code, stderr) = run.terminate();

    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        during >= 2,
        "{during} statistics records before the end\n{stderr}"
    );
    // The drop counters are read from the start of the capture.
    let first = text
        .lines()
        .find(|line| line.starts_with("STATS "))
        .unwrap();
    assert!(!first.contains("captureDrops=-"), "{first}");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallFileSystem {
    path: std::path::PathBuf,
}

impl SmallFileSystem {
    /// Mounts a tmpfs of `size` at `path`, or returns `None` if mounting failed.
    fn mount(path: &Path, size: &str) -> Option<SmallFileSystem> {
        std::fs::create_dir(path).expect("mount point created");
        let options = format!("size={size}");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|status| status.success());
        mounted.then(|| SmallFileSystem {
            path: path.to_path_buf(),
        })
    }

    /// Fills the file system with the file `filler`.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler created");
        let block = [0u8; 4096];
        while file.write_all(&block).is_ok() {}
        filler
    }
}

impl Drop for SmallFileSystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A live capture of the UDP datagrams sent to `port`, with its log `log`
/// on the small file system `fs`.
struct SmallDiskRun {
    run: LiveRun,
    log: std::path::PathBuf,
    port: u16,
    _receiver: std::net::UdpSocket,
    fs: SmallFileSystem,
}

impl SmallDiskRun {
    /// Mounts a tmpfs of 256 KiB in `dir` and starts wsd on `lo` with a UDP
    /// timeout of 1 s, the options `extra` and its log on that tmpfs. Returns
    /// `None` if mounting failed, once `require` has reported it.
    fn start(dir: &Path, extra: &[&str]) -> Option<SmallDiskRun> {
        let Some(fs) = SmallFileSystem::mount(&dir.join("fs"), "256k") else {
            require(false, "mounting a tmpfs failed");
            return None;
        };
        let log = fs.path.join("live.log");
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind on loopback");
        let port = receiver.local_addr().expect("receiver address").port();
        let filter = format!("udp dst port {port}");
        let mut args = vec!["-i", "lo", "-F", "--udp-timeout", "1", "-L"];
        args.push(log.to_str().expect("UTF-8 path"));
        args.extend_from_slice(extra);
        args.extend(filter.split(' '));
        let run = LiveRun::start(&args);
        Some(SmallDiskRun {
            run,
            log,
            port,
            _receiver: receiver,
            fs,
        })
    }
}

/// Returns the UDP flow records of a log's text.
fn udp_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| line.starts_with("UDPFLOW "))
        .collect()
}

/// Reads the log at `log` until it has `count` UDP flow records or the wait
/// ends, and returns its text.
fn wait_for_udp_flows(log: &Path, count: usize) -> String {
    let deadline = Instant::now() + WAIT;
    let mut text = std::fs::read_to_string(log).unwrap_or_default();
    while udp_lines(&text).len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        text = std::fs::read_to_string(log).unwrap_or_default();
    }
    text
}

/// Sends one datagram to `port` from each of `count` new sockets, so that each
/// is a flow of its own, and returns the sending ports.
fn send_datagrams(port: u16, count: usize) -> Vec<u16> {
    send_from(&bind_senders(count), port)
}

/// Binds `count` UDP sockets on loopback. While they stay open, no two flows
/// that they send have the same port.
fn bind_senders(count: usize) -> Vec<std::net::UdpSocket> {
    (0..count)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a sender"))
        .collect()
}

/// Sends one datagram to `port` from each of `senders` and returns their
/// ports.
fn send_from(senders: &[std::net::UdpSocket], port: u16) -> Vec<u16> {
    senders
        .iter()
        .map(|sender| {
            sender
                .send_to(b"x", ("127.0.0.1", port))
                .expect("send on loopback");
            sender.local_addr().expect("sender address").port()
        })
        .collect()
}

/// While the log's file system is full, a live capture keeps its records in
/// memory. Once there is room again they all reach the log, without a cut or
/// repeated line, and the capture goes on.
#[test]
fn full_file_system_holds_records_until_room() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(mut disk) = SmallDiskRun::start(dir.path(), &[]) else {
        return;
    };

    let mut sent = send_datagrams(disk.port, 40);
    let before = wait_for_udp_flows(&disk.log, 40);
    assert_eq!(udp_lines(&before).len(), 40, "{before}");
    let filler = disk.fs.fill();
    sent.extend(send_datagrams(disk.port, 40));
    disk.run.wait_for_line("holding the records in memory");
    let during = std::fs::read(&disk.log).expect("log read");
    assert_eq!(during.last(), Some(&b'\n'), "whole lines only");

    std::fs::remove_file(filler).expect("filler removed");
    disk.run.wait_for_line("can be written again");
    sent.extend(send_datagrams(disk.port, 40));
    wait_for_udp_flows(&disk.log, 120);
    let (code, stderr) = disk.run.terminate();

    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(&disk.log).expect("log read");
    assert!(text.ends_with('\n'), "{text}");
    let mut logged: Vec<u16> = udp_lines(&text)
        .iter()
        .map(|line| field(line, "sourcePort").parse().expect("a port"))
        .collect();
    logged.sort_unstable();
    sent.sort_unstable();
    assert_eq!(logged, sent, "{stderr}");
    assert_eq!(text.lines().count(), 120, "{text}");
}

/// Once the records held reach `--hold-size`, a live capture goes on and
/// drops only the records that do not fit. The records held reach the log
/// once there is room, the summary and the SIGUSR1 progress line count the
/// records dropped, and the run ends with status 1.
#[test]
fn full_hold_drops_only_overflow() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(mut disk) = SmallDiskRun::start(dir.path(), &["--hold-size", "64K"]) else {
        return;
    };

    // Each batch of datagrams comes from sockets of its own, and every
    // socket stays open, so that each port names one flow.
    let senders = bind_senders(40 + 40 + 150 + 40);
    let (first, rest) = senders.split_at(40);
    let (second, rest) = rest.split_at(40);
    let (third, fourth) = rest.split_at(150);
    let before = send_from(first, disk.port);
    let text = wait_for_udp_flows(&disk.log, 40);
    assert_eq!(udp_lines(&text).len(), 40, "{text}");
    let filler = disk.fs.fill();
    // Their records fail the first flush and stay in the output buffer. Any
    // that come at a later read timeout go to the hold, which has room for
    // all 40.
    let buffered = send_from(second, disk.port);
    disk.run.wait_for_line("holding the records in memory");
    // 150 records of about 600 bytes are more than the 64 KiB hold takes.
    let overflow = send_from(third, disk.port);
    disk.run
        .wait_for_line("are dropped until the log has room again");
    disk.run.signal("USR1");
    disk.run
        .wait_for_line("dropped because the log was full and --hold-size was reached");

    std::fs::remove_file(filler).expect("filler removed");
    disk.run.wait_for_line("can be written again");
    let written = udp_lines(&std::fs::read_to_string(&disk.log).expect("log read")).len();
    let after = send_from(fourth, disk.port);
    wait_for_udp_flows(&disk.log, written + 40);
    let (code, stderr) = disk.run.terminate();

    assert_eq!(code, Some(1), "{stderr}");
    let text = std::fs::read_to_string(&disk.log).expect("log read");
    assert!(text.ends_with('\n'), "{text}");
    assert_eq!(text.lines().count(), udp_lines(&text).len(), "{text}");
    let mut logged: Vec<u16> = udp_lines(&text)
        .iter()
        .map(|line| field(line, "sourcePort").parse().expect("a port"))
        .collect();
    logged.sort_unstable();
    let distinct = {
        let mut ports = logged.clone();
        ports.dedup();
        ports.len()
    };
    assert_eq!(distinct, logged.len(), "a record repeated: {text}");
    for port in before.iter().chain(&buffered).chain(&after) {
        assert!(
            logged.binary_search(port).is_ok(),
            "{port} missing: {stderr}"
        );
    }
    let overflow_logged = overflow
        .iter()
        .filter(|port| logged.binary_search(port).is_ok())
        .count();
    let dropped = overflow.len() - overflow_logged;
    assert!(overflow_logged > 0, "no record held: {stderr}");
    assert!(dropped > 0, "no record dropped: {stderr}");
    assert_eq!(logged.len(), 40 + 40 + overflow_logged + 40, "{stderr}");

    assert_eq!(stderr.matches("are dropped until").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("; {dropped} flow records that did not fit")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{} flow records written and {dropped} dropped because the log was full",
            logged.len()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{dropped} flow records were dropped while the log's file system was full"
        )),
        "{stderr}"
    );
}

/// Packet lines (`-V`) are dropped instead of held while the log's file system
/// is full: the notice, the summary and the final error count them, and the
/// run ends with status 1, even when no flow record was dropped.
#[test]
fn dropped_packet_lines_fail_run() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(mut disk) = SmallDiskRun::start(dir.path(), &["-V", "--hold-size", "4K"]) else {
        return;
    };

    // One flow for the whole test: a datagram every 200 ms keeps it from
    // timing out, so that its record is made only once the log has room.
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a sender");
    let keeper = sender.try_clone().expect("sender cloned");
    let port = disk.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let keep_alive = std::thread::spawn(move || {
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            keeper
                .send_to(b"x", ("127.0.0.1", port))
                .expect("send on loopback");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let filler = disk.fs.fill();
    disk.run.wait_for_line("holding the records in memory");
    for _ in 0..300 {
        sender
            .send_to(b"x", ("127.0.0.1", port))
            .expect("send on loopback");
    }
    // Dropped packet lines leave no trace until the log has room, so the
    // capture gets time to read the datagrams first.
    std::thread::sleep(Duration::from_secs(2));
    std::fs::remove_file(filler).expect("filler removed");
    disk.run.wait_for_line("can be written again");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    keep_alive.join().expect("sender thread");
    let text = wait_for_udp_flows(&disk.log, 1);
    let (code, stderr) = disk.run.terminate();

    assert_eq!(udp_lines(&text).len(), 1, "{text}");
    assert!(text.ends_with('\n'), "{text}");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("packet lines were dropped instead of held"),
        "the notice names the lines dropped: {stderr}"
    );
    assert!(
        stderr.contains(
            "1 flow record written and 0 dropped because the log was full and \
             --hold-size was reached, as were "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "lines (statistics records or packet lines) were dropped while the log's \
             file system was full"
        ),
        "{stderr}"
    );
}

#[test]
fn threads_report_across_quiet_gaps() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("live.log");
    let (run, listener) = start_quiet_link(&log, &["--threads", "2"]);

    // Each connection times out during a quiet gap, while the clock alone moves
    // the workers. The next connection's packets must still reach them.
    for connection in 1..=3 {
        let (client, server) = exchange(&listener);
        wait_for_flows(&log, connection);
        drop((client, server));
    }
    let (code, stderr) = run.terminate();

    assert_eq!(code, Some(0), "{stderr}");
    let after = std::fs::read_to_string(&log).expect("log written");
    assert!(flow_lines(after.as_bytes()).len() >= 3, "{after}\n{stderr}");
}

#[test]
fn file_filter_selects_packets() {
    if !require(has_libpcap(), "libpcap is not installed") {
        return;
    }
    let capture = fixture("lossy.pcap");
    let all = run_wsd(&["-r", &capture, "-L", "-"], LIMIT);
    assert_eq!(all.status.code(), Some(0), "{}", stderr_of(&all));
    assert_eq!(flow_lines(&all.stdout).len(), 5);

    let ssh = run_wsd(&["-r", &capture, "-L", "-", "tcp", "port", "22"], LIMIT);
    assert_eq!(ssh.status.code(), Some(0), "{}", stderr_of(&ssh));
    let lines = flow_lines(&ssh.stdout);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(field(&lines[0], "destPort"), "22");
    assert_eq!(field(&lines[0], "packetsOut"), "2");
    assert_eq!(field(&lines[0], "packetsIn"), "1");
    assert!(
        stderr_of(&ssh).contains("finished: 3 packets"),
        "{}",
        stderr_of(&ssh)
    );

    let rest = run_wsd(&["-r", &capture, "-L", "-", "not", "port", "22"], LIMIT);
    assert_eq!(rest.status.code(), Some(0), "{}", stderr_of(&rest));
    let lines = flow_lines(&rest.stdout);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines.iter().all(|line| field(line, "destPort") != "22"));
}

#[test]
fn invalid_filter_exit_two() {
    if !require(has_libpcap(), "libpcap is not installed") {
        return;
    }
    let output = run_wsd(
        &[
            "-r",
            &fixture("lossy.pcap"),
            "-L",
            "-",
            "tcp",
            "port",
            "http2x",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("invalid filter expression \"tcp port http2x\""),
        "{stderr}"
    );
    // libpcap's own message is quoted.
    assert!(stderr.contains("http2x'"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// Writes a pcapng file with an Ethernet interface and a raw IP interface,
/// and one frame a packet on the interface of its `bool`: true for raw IP.
fn write_two_link_types(path: &Path, packets: &[(bool, Vec<u8>)]) {
    let mut section = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    section.extend_from_slice(&[1, 0, 0, 0]);
    section.extend_from_slice(&u64::MAX.to_le_bytes());
    let mut file = pcapng_block(0x0a0d_0d0a, &section);
    for linktype in [1u16, 101] {
        let mut interface = linktype.to_le_bytes().to_vec();
        interface.extend_from_slice(&[0, 0]);
        interface.extend_from_slice(&65535u32.to_le_bytes());
        file.extend(pcapng_block(1, &interface));
    }
    for (number, (raw, frame)) in packets.iter().enumerate() {
        // Raw IP is the Ethernet frame without its 14-byte header.
        let data = if *raw { &frame[14..] } else { &frame[..] };
        let micros = 1_700_000_000_000_000u64 + 1000 * number as u64;
        let mut packet = u32::from(*raw).to_le_bytes().to_vec();
        packet.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
        packet.extend_from_slice(&(micros as u32).to_le_bytes());
        packet.extend_from_slice(&(data.len() as u32).to_le_bytes());
        packet.extend_from_slice(&(data.len() as u32).to_le_bytes());
        packet.extend_from_slice(data);
        file.extend(pcapng_block(6, &packet));
    }
    std::fs::write(path, file).expect("capture written");
}

/// Returns the Ethernet frames of the filter tests: a SYN from 10.0.0.1 to
/// 10.0.0.2, its SYN-ACK, and a SYN from 10.0.0.3 to 10.0.0.2.
fn filter_test_frames() -> [Vec<u8>; 3] {
    use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};
    let (client, server) = (
        Endpoint::v4([10, 0, 0, 1], 40000),
        Endpoint::v4([10, 0, 0, 2], 80),
    );
    let other = Endpoint::v4([10, 0, 0, 3], 40001);
    let mut frames = FrameBuilder::new();
    [
        frames.tcp(client, server, &TcpSegment::syn(1000)),
        frames.tcp(server, client, &TcpSegment::new(0x12, 5000, 1001, 0)),
        frames.tcp(other, server, &TcpSegment::syn(2000)),
    ]
}

/// A filter that compiles for Ethernet but not for raw IP leaves out the
/// packets of a later raw IP interface with a warning, and the run goes on.
/// A raw IP packet first still stops the run as an invalid filter.
#[test]
fn filter_skips_link_type_it_cannot_judge() {
    if !require(has_libpcap(), "libpcap is not installed") {
        return;
    }
    let [syn, syn_ack, raw_syn] = filter_test_frames();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("two-link-types.pcapng");
    let capture = path.to_str().expect("UTF-8 path");
    let filter = ["not", "ether", "broadcast"];

    write_two_link_types(
        &path,
        &[
            (false, syn.clone()),
            (true, raw_syn.clone()),
            (true, raw_syn.clone()),
            (false, syn_ack),
        ],
    );
    let mut args = vec!["-r", capture, "-L", "-"];
    args.extend(filter);
    let output = run_wsd(&args, LIMIT);

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(field(&lines[0], "sourceIp"), "10.0.0.1");
    assert_eq!(field(&lines[0], "packetsIn"), "1");
    assert!(
        stderr.contains("the packets of link type 101 are left out"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("left out").count(), 1, "{stderr}");

    write_two_link_types(&path, &[(true, raw_syn), (false, syn)]);
    let output = run_wsd(&args, LIMIT);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("invalid filter expression"));
    assert!(output.stdout.is_empty());

    // Saving a cache changes nothing of that: no packet was tracked.
    let cache = dir.path().join("flows.cache");
    let mut cached = vec!["-W", cache.to_str().expect("UTF-8 path")];
    cached.extend(&args);
    let output = run_wsd(&cached, LIMIT);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("invalid filter expression"));
}

/// An Ethernet packet that the filter leaves out still shows that the
/// expression fits the input, so a later raw IP interface that the filter
/// cannot judge gets the warning, not the exit status of an invalid filter.
#[test]
fn filter_skips_link_type_after_rejected_packet() {
    if !require(has_libpcap(), "libpcap is not installed") {
        return;
    }
    let [syn, syn_ack, _] = filter_test_frames();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("two-link-types.pcapng");
    let capture = path.to_str().expect("UTF-8 path");
    // The frames are unicast, so the filter leaves every Ethernet packet out.
    write_two_link_types(
        &path,
        &[(false, syn.clone()), (true, syn), (false, syn_ack)],
    );

    let output = run_wsd(&["-r", capture, "-L", "-", "ether", "broadcast"], LIMIT);

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(flow_lines(&output.stdout).is_empty());
    assert!(
        stderr.contains("the packets of link type 101 are left out"),
        "{stderr}"
    );
}

/// Runs wsd as if libpcap were not installed.
fn run_without_libpcap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(args)
        .env("TZ", "UTC")
        .env("WSD_LIBPCAP", "libpcap-not-installed.so.0")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("wsd runs")
}

#[test]
fn without_libpcap_files_still_read() {
    let capture = fixture("lossy.pcap");
    let output = run_without_libpcap(&["-r", &capture, "-L", "-"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(flow_lines(&output.stdout).len(), 5);

    let filtered = run_without_libpcap(&["-r", &capture, "-L", "-", "port", "22"]);
    assert_eq!(filtered.status.code(), Some(1));
    let stderr = stderr_of(&filtered);
    assert!(
        stderr.contains("a filter expression needs libpcap"),
        "{stderr}"
    );
    assert!(stderr.contains("libpcap-not-installed.so.0"), "{stderr}");
    assert!(stderr.contains("libpcap0.8"), "{stderr}");
    assert!(filtered.stdout.is_empty());

    let live = run_without_libpcap(&["-i", "lo", "-F", "-L", "-"]);
    assert_eq!(live.status.code(), Some(1));
    let stderr = stderr_of(&live);
    assert!(stderr.contains("live capture needs libpcap"), "{stderr}");
    assert!(stderr.contains("libpcap0.8"), "{stderr}");
}

#[test]
fn interface_and_file_conflict() {
    let output = run_wsd(&["-i", "lo", "-F", "-r", &fixture("lossy.pcap")], LIMIT);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn capture_option_ranges_checked() {
    let cases: [(&[&str], &str); 3] = [
        (&["-i", "lo", "-F", "-s", "10"], "--snaplen"),
        (&["-i", "lo", "-F", "-s", "300000"], "--snaplen"),
        (&["-i", "lo", "-F", "-B", "0"], "--buffer-size"),
    ];
    for (args, option) in cases {
        let output = run_wsd(args, LIMIT);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = stderr_of(&output);
        assert!(stderr.contains(option), "{args:?}: {stderr}");
    }
}
