//! Long-running `wsd`: the pid file, log rotation on SIGHUP and by size, a
//! clean stop on SIGTERM, and the privilege drop.
//!
//! Most runs read a capture from a pipe on standard input, which the test
//! writes in steps, so that signals arrive between known packets. The daemon
//! test captures on `lo` the connections it makes to its own listener.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, flow_lines, run_wsd};
use rustix::process::{kill_process, Pid, Signal};
use wsd_capture::{PcapWriter, Timestamp};
use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

const LIMIT: Duration = Duration::from_secs(60);

/// A capture written packet by packet into a running `wsd`.
struct Feed {
    writer: PcapWriter<ChildStdin>,
    builder: FrameBuilder,
    /// Connections written so far; each gets its own client port.
    connections: u32,
    /// Bytes written so far, header included.
    bytes: u64,
}

impl Feed {
    fn new(stdin: ChildStdin) -> Feed {
        Feed {
            writer: PcapWriter::new(stdin, 1, 65535, false).expect("pcap header"),
            builder: FrameBuilder::new(),
            connections: 0,
            bytes: 24,
        }
    }

    /// Writes `count` connections that a RST refuses, so that each is finished
    /// and reported at once with --linger 0.
    fn refused(&mut self, count: u32) {
        let server = Endpoint::v4([10, 2, 0, 1], 80);
        for _ in 0..count {
            let n = self.connections;
            self.connections += 1;
            let client = Endpoint::v4([10, 1, 0, 1], 1024 + n as u16);
            let ts = Timestamp::from_parts(1_700_000_000 + i64::from(n), 0);
            let syn = self.builder.tcp(client, server, &TcpSegment::syn(n));
            let reply = TcpSegment::new(0x14, 0, n.wrapping_add(1), 0);
            let rst = self.builder.tcp(server, client, &reply);
            self.write(ts, &syn);
            self.write(ts.add_nanos(100_000), &rst);
        }
        self.writer.flush().expect("flush the pipe");
    }

    /// Writes one SYN without a reply: a connection still open at the end.
    fn open_connection(&mut self) {
        let n = self.connections;
        self.connections += 1;
        let client = Endpoint::v4([10, 1, 0, 2], 1024 + n as u16);
        let syn = self
            .builder
            .tcp(client, Endpoint::v4([10, 2, 0, 1], 80), &TcpSegment::syn(n));
        self.write(Timestamp::from_parts(1_700_000_000 + i64::from(n), 0), &syn);
        self.writer.flush().expect("flush the pipe");
    }

    fn write(&mut self, ts: Timestamp, frame: &[u8]) {
        self.writer
            .write_packet(ts, frame, frame.len() as u32)
            .expect("write to wsd");
        self.bytes += 16 + frame.len() as u64;
    }
}

/// Starts `wsd -r -` with `args`, reading a capture from a pipe.
fn start(args: &[&str]) -> (Child, Feed) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", "-", "--linger", "0"])
        .args(args)
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsd starts");
    let stdin = child.stdin.take().expect("piped stdin");
    (child, Feed::new(stdin))
}

/// Waits until `condition` holds, failing the test after `LIMIT`.
fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < LIMIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `wsd` has read `bytes` from its standard input, then a little
/// longer for it to process them.
fn wait_until_read(child: &Child, bytes: u64) {
    let io = format!("/proc/{}/io", child.id());
    wait_for("wsd to read its input", || {
        let text = std::fs::read_to_string(&io).unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix("rchar: "))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .is_some_and(|read| read >= bytes)
    });
    std::thread::sleep(Duration::from_millis(200));
}

fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(child.id() as i32).expect("a child pid is positive");
    kill_process(pid, signal).expect("send the signal");
}

/// Closes the capture and waits for `wsd`; returns its standard error.
fn finish(child: Child, feed: Feed) -> String {
    drop(feed);
    let output = child.wait_with_output().expect("wait for wsd");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    stderr
}

/// Returns the log files of `dir` in the order they were created: by name,
/// with `-2`, `-3` and so on after the plain name of the same second.
fn logs_in_order(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<(String, u32, PathBuf)> = std::fs::read_dir(dir)
        .expect("read the log directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .map(|path| {
            let stem = path
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            match stem.rsplit_once('-') {
                Some((base, number)) if number.parse::<u32>().is_ok() => {
                    (base.to_string(), number.parse().unwrap_or(0), path)
                }
                _ => (stem, 1, path),
            }
        })
        .collect();
    logs.sort();
    logs.into_iter().map(|(_, _, path)| path).collect()
}

fn records_of(path: &Path) -> Vec<String> {
    flow_lines(&std::fs::read(path).expect("read a log"))
}

/// Returns true if this test can run as root, or else prints why not. Under CI
/// it fails instead, so that a missing privilege never passes silently.
fn running_as_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs root, and CI is set: run the tests as root"
    );
    eprintln!("{test} did not run: it needs root");
    false
}

#[test]
fn sighup_rotates_without_loss() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let logs = dir.path().join("logs");
    let (child, mut feed) = start(&["-l", logs.to_str().expect("UTF-8 path")]);

    feed.refused(20);
    wait_until_read(&child, feed.bytes);
    signal(&child, Signal::HUP);
    feed.refused(30);
    let stderr = finish(child, feed);

    assert!(stderr.contains("rotated the log"), "{stderr}");
    let files = logs_in_order(&logs);
    assert_eq!(files.len(), 2, "{files:?}");
    let before = records_of(&files[0]);
    let after = records_of(&files[1]);
    assert_eq!(before.len(), 20, "records before SIGHUP: {before:?}");
    assert_eq!(after.len(), 30, "records after SIGHUP: {after:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a log");
        assert!(text.ends_with('\n'), "{} ends mid-record", file.display());
    }
}

/// A log rotates by age while packets keep arriving, far fewer than the 1,024
/// packets between two looks at the clock that a busy link gives.
#[test]
fn interval_rotation_while_packets_arrive() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let logs = dir.path().join("logs");
    let (child, mut feed) = start(&[
        "-l",
        logs.to_str().expect("UTF-8 path"),
        "--rotate-interval",
        "1",
    ]);
    // Three seconds of one connection every 100 ms: 60 packets.
    for _ in 0..30 {
        feed.refused(1);
        std::thread::sleep(Duration::from_millis(100));
    }
    finish(child, feed);

    let files = logs_in_order(&logs);
    assert!(files.len() >= 2, "{files:?}");
    let records: usize = files.iter().map(|file| records_of(file).len()).sum();
    assert_eq!(records, 30, "every record once, across {files:?}");
}

/// The records of a capture that a pipe delivers slowly reach the log while
/// `wsd` still runs, not only once its output buffer fills or the pipe closes.
#[test]
fn piped_records_reach_log_promptly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("wsd.log");
    let (child, mut feed) = start(&["-L", log.to_str().expect("UTF-8 path")]);
    // 200 records take about 120 KB, far less than the output buffer, so
    // without a flush none would reach the file before the end.
    let mut written = 0;
    while written < 200 && std::fs::read(&log).map_or(true, |bytes| flow_lines(&bytes).is_empty()) {
        feed.refused(1);
        written += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(written < 200, "no record reached the log while wsd ran");
    finish(child, feed);
    assert_eq!(records_of(&log).len(), written);
}

/// SIGHUP cannot rotate a log named with `-L`, and a warning reports that instead
/// of nothing, for an operator whose logrotate moved the file.
#[test]
fn sighup_with_named_log_warned() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("wsd.log");
    let (child, mut feed) = start(&["-L", log.to_str().expect("UTF-8 path")]);
    feed.refused(5);
    wait_until_read(&child, feed.bytes);
    signal(&child, Signal::HUP);
    feed.refused(5);
    let stderr = finish(child, feed);

    assert!(stderr.contains("SIGHUP ignored"), "{stderr}");
    assert!(stderr.contains("-l DIR"), "{stderr}");
    assert_eq!(records_of(&log).len(), 10);
}

/// SIGUSR1 logs how far the run got, as tcpdump prints its counts, instead
/// of ending the process with its default action and losing the open flows.
#[test]
fn sigusr1_logs_progress() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("wsd.log");
    let (child, mut feed) = start(&["-L", log.to_str().expect("UTF-8 path")]);
    feed.refused(5);
    wait_until_read(&child, feed.bytes);
    signal(&child, Signal::USR1);
    // The request is taken at the next tick of the coarse clock, between
    // two packets, so packets keep coming for a while.
    for _ in 0..10 {
        feed.refused(1);
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = finish(child, feed);

    assert!(stderr.contains("progress: "), "{stderr}");
    assert!(
        stderr.contains("flows open") || stderr.contains("1 flow open"),
        "{stderr}"
    );
    assert!(!stderr.contains(" 1 packets"), "{stderr}");
    assert_eq!(records_of(&log).len(), 15);
}

#[test]
fn size_rotation_loses_no_record() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let logs = dir.path().join("logs");
    let (child, mut feed) = start(&[
        "-l",
        logs.to_str().expect("UTF-8 path"),
        "--rotate-size",
        "2K",
    ]);
    feed.refused(100);
    finish(child, feed);

    let files = logs_in_order(&logs);
    assert!(files.len() >= 5, "{files:?}");
    let mut ports = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).expect("read a log");
        let size = text.len();
        if index + 1 < files.len() {
            assert!(
                size >= 2048,
                "{} closed early at {size} bytes",
                file.display()
            );
        }
        assert!(
            size < 2048 + 512,
            "{} exceeds the limit by more than one record",
            file.display()
        );
        assert!(text.ends_with('\n'), "{} ends mid-record", file.display());
        for line in records_of(file) {
            ports.push(common::field(&line, "sourcePort").to_string());
        }
    }
    let expected: Vec<String> = (1024..1124).map(|port: u16| port.to_string()).collect();
    assert_eq!(ports, expected, "every record once, in order");
}

#[test]
fn pid_file_rejects_second_run() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pid_file = dir.path().join("wsd.pid");
    let logs = dir.path().join("logs");
    let pid_arg = pid_file.to_str().expect("UTF-8 path");
    let logs_arg = logs.to_str().expect("UTF-8 path");
    let (child, mut feed) = start(&["--pid-file", pid_arg, "-l", logs_arg]);
    let pid = child.id().to_string();
    wait_for("the pid file", || {
        std::fs::read_to_string(&pid_file).is_ok_and(|text| text.trim() == pid)
    });

    let second = run_wsd(&["-r", "-", "--pid-file", pid_arg, "-l", logs_arg], LIMIT);
    let second_stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{second_stderr}");
    assert!(
        second_stderr.contains(&format!("another wsd is running with pid {pid}")),
        "{second_stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("pid file"),
        format!("{pid}\n"),
        "the rejected run left the pid file alone"
    );

    feed.open_connection();
    wait_until_read(&child, feed.bytes);
    signal(&child, Signal::TERM);
    let stderr = finish(child, feed);
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    assert!(!pid_file.exists(), "the pid file is removed at exit");
    let files = logs_in_order(&logs);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        records_of(&files[0]).len(),
        1,
        "the open connection is reported"
    );
}

#[test]
fn stale_pid_file_taken_over() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pid_file = dir.path().join("wsd.pid");
    std::fs::write(&pid_file, "4194304\n").expect("stale pid file");
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "--pid-file",
            pid_file.to_str().expect("UTF-8 path"),
            "-L",
            "-",
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!pid_file.exists(), "the pid file is removed at exit");
}

#[test]
fn rotation_needs_log_directory() {
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "-L",
            "-",
            "--rotate-size",
            "1M",
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("-l DIR"), "{stderr}");
}

/// With `-u`, every input is opened before privileges are dropped. When they
/// outnumber the open files allowed, the message counts them and gives the
/// limit to set.
#[test]
fn open_file_limit_advice() {
    if !running_as_root("open_file_limit_advice") {
        return;
    }
    let mut command = format!(
        "ulimit -n 32 && exec '{}' -L /dev/null -u nobody",
        env!("CARGO_BIN_EXE_wsd")
    );
    for _ in 0..40 {
        command.push_str(&format!(" -r '{}'", fixture("lossy.pcap")));
    }

    let output = Command::new("sh")
        .args(["-c", &command])
        .stdin(Stdio::null())
        .output()
        .expect("sh runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Too many open files"), "{stderr}");
    assert!(stderr.contains("all 40 inputs are opened"), "{stderr}");
    assert!(stderr.contains("(ulimit -n) to 56 or more"), "{stderr}");
}

#[test]
fn root_target_needs_allow_root() {
    let output = run_wsd(
        &["-r", &fixture("port_reuse.pcap"), "-L", "-", "-u", "0"],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-root"), "{stderr}");
}

#[test]
fn unknown_user_rejected() {
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "-L",
            "-",
            "-u",
            "no-such-user-for-wsd",
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("user no-such-user-for-wsd not found"),
        "{stderr}"
    );
}

#[test]
fn dropped_privileges_still_rotate() {
    if !running_as_root("dropped_privileges_still_rotate") {
        return;
    }
    let nobody = privdrop::reexports::nix::unistd::User::from_name("nobody")
        .expect("read the user database")
        .expect("user nobody exists");
    let dir = tempfile::tempdir().expect("temporary directory");
    let jail = dir.path().join("jail");
    std::fs::create_dir(&jail).expect("chroot directory");
    let logs = dir.path().join("logs");
    let pid_file = dir.path().join("wsd.pid");
    let (child, mut feed) = start(&[
        "--pid-file",
        pid_file.to_str().expect("UTF-8 path"),
        "-u",
        "nobody",
        "-c",
        jail.to_str().expect("UTF-8 path"),
        "-l",
        logs.to_str().expect("UTF-8 path"),
    ]);

    let status_path = format!("/proc/{}/status", child.id());
    let uid = nobody.uid.as_raw();
    let expected_uids = format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}");
    wait_for("the drop to nobody", || {
        std::fs::read_to_string(&status_path)
            .is_ok_and(|status| status.lines().any(|line| line == expected_uids))
    });
    let gid = nobody.gid.as_raw();
    let status = std::fs::read_to_string(&status_path).expect("process status");
    assert!(
        status
            .lines()
            .any(|line| line == format!("Gid:\t{gid}\t{gid}\t{gid}\t{gid}")),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|line| line.trim_end() == format!("Groups:\t{gid}")),
        "only the one group is left: {status}"
    );
    let root = std::fs::read_link(format!("/proc/{}/root", child.id())).expect("root link");
    assert_eq!(root, jail.canonicalize().expect("absolute chroot path"));

    feed.refused(5);
    wait_until_read(&child, feed.bytes);
    signal(&child, Signal::HUP);
    feed.refused(7);
    let stderr = finish(child, feed);

    // The temporary directory belongs to root, so the user nobody may not
    // remove the pid file and empties it instead.
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap_or_default(),
        "",
        "the pid file is emptied or removed"
    );
    assert!(stderr.contains("emptied the pid file"), "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
    let files = logs_in_order(&logs);
    assert_eq!(files.len(), 2, "{files:?}\n{stderr}");
    assert_eq!(records_of(&files[0]).len(), 5);
    assert_eq!(records_of(&files[1]).len(), 7);
    for file in &files {
        let metadata = std::fs::metadata(file).expect("log metadata");
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&metadata),
            uid,
            "{} belongs to nobody",
            file.display()
        );
    }
}

#[test]
fn diag_file_gets_messages() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let diag = dir.path().join("wsd.diag");
    std::fs::write(&diag, "earlier line\n").expect("existing diagnostics");
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "-L",
            "-",
            "--diag-file",
            diag.to_str().expect("UTF-8 path"),
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("finished: 16 packets"), "{stderr}");
    let text = std::fs::read_to_string(&diag).expect("diagnostics file");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "earlier line", "the file is appended to");
    let finished = lines
        .iter()
        .find(|line| line.contains("finished: 16 packets"))
        .unwrap_or_else(|| panic!("no summary in {text}"));
    // 2026-12-04T18:10:14+00:00 INFO finished: ...
    assert_eq!(&finished[10..11], "T", "{finished}");
    assert!(finished[19..].starts_with("+00:00 "), "{finished}");
    assert!(finished.contains(" INFO finished"), "{finished}");
    assert!(!finished.contains('\x1b'), "no colour codes: {finished}");
}

/// The error that ends a run in the foreground reaches the `--diag-file`
/// once, and standard error once, as `wsd: MESSAGE` after the UTC time stamp
/// of the other lines there. The cases are an error at start, a log in a
/// missing directory, and one during the run, a log that cannot be written.
#[test]
fn final_error_reaches_diag_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let capture = fixture("port_reuse.pcap");
    let missing = dir.path().join("missing").join("flows.log");
    let cases = [
        (
            missing.to_str().expect("UTF-8 path"),
            73,
            "cannot create log file",
        ),
        ("/dev/full", 1, "cannot write to /dev/full"),
    ];
    for (index, (log, status, message)) in cases.into_iter().enumerate() {
        let diag = dir.path().join(format!("wsd{index}.diag"));
        let diag_path = diag.to_str().expect("UTF-8 path");
        let with_file = ["-r", &capture, "-L", log, "--diag-file", diag_path];

        let output = run_wsd(&with_file, LIMIT);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(status), "{stderr}");
        let text = std::fs::read_to_string(&diag).expect("diagnostics file");
        assert_eq!(text.matches(message).count(), 1, "{text}");
        assert!(text.contains(&format!(" ERROR {message}")), "{text}");
        assert_final_error_line(&stderr, message);

        let output = run_wsd(&with_file[..4], LIMIT);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(status), "{stderr}");
        assert_final_error_line(&stderr, message);
    }
}

/// Checks that `stderr` has `message` on one line only, as `wsd: MESSAGE`
/// after a UTC time stamp.
fn assert_final_error_line(stderr: &str, message: &str) {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(message))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    // 2026-12-04T18:10:14.123456Z wsd: cannot write to ...
    let error = errors[0];
    assert_eq!(&error[10..11], "T", "{error}");
    assert_eq!(&error[19..20], ".", "{error}");
    assert!(
        error[26..].starts_with(&format!("Z wsd: {message}")),
        "{error}"
    );
}

/// With a `--diag-file`, the diagnostics on standard error keep the UTC time
/// stamps that they have without one.
#[test]
fn diag_file_keeps_stderr_time_stamps() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let diag = dir.path().join("wsd.diag");
    let capture = fixture("port_reuse.pcap");
    let summary_line = |more: &[&str]| -> String {
        let mut args = vec!["-r", capture.as_str(), "-L", "-"];
        args.extend_from_slice(more);
        let output = run_wsd(&args, LIMIT);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        stderr
            .lines()
            .find(|line| line.contains("finished: 16 packets"))
            .unwrap_or_else(|| panic!("no summary in {stderr}"))
            .to_string()
    };

    let without_file = summary_line(&[]);
    let with_file = summary_line(&["--diag-file", diag.to_str().expect("UTF-8 path")]);

    // 2026-12-04T18:10:14.123456Z  INFO finished: ...
    for line in [&without_file, &with_file] {
        assert_eq!(&line[10..11], "T", "{line}");
        assert_eq!(&line[19..20], ".", "{line}");
        assert!(
            line[26..].starts_with("Z  INFO finished: 16 packets"),
            "{line}"
        );
    }
    assert_eq!(without_file[27..], with_file[27..]);
}

/// Returns the pid in the pid file, once it is there.
fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True while process `pid` exists and has not ended.
fn is_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

/// Stops the daemon with SIGKILL when a check fails before the test stops it.
struct KillOnFailure(Option<i32>);

impl Drop for KillOnFailure {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::KILL);
        }
    }
}

/// Makes one connection to `listener`, sends a few bytes and closes it.
fn connect_once(listener: &TcpListener) {
    let mut client = TcpStream::connect(listener.local_addr().expect("listener address"))
        .expect("connect to the listener");
    let (server, _) = listener.accept().expect("accept");
    client.write_all(b"hello").expect("client sends");
    drop(client);
    drop(server);
}

/// Waits until `path` contains `count` records.
fn wait_for_records(path: &Path, count: usize) {
    wait_for("records in the log", || {
        std::fs::read(path).is_ok_and(|bytes| flow_lines(&bytes).len() >= count)
    });
}

#[test]
fn daemon_on_loopback() {
    if !running_as_root("daemon_on_loopback") {
        return;
    }
    if wsd_capture::Libpcap::load().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "daemon_on_loopback needs libpcap, and CI is set: install libpcap"
        );
        eprintln!("daemon_on_loopback did not run: libpcap is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let logs = dir.path().join("logs");
    let pid_file = dir.path().join("wsd.pid");
    let diag = dir.path().join("wsd.diag");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let port = listener
        .local_addr()
        .expect("listener address")
        .port()
        .to_string();
    let args = [
        "-i",
        "lo",
        "-l",
        logs.to_str().expect("UTF-8 path"),
        "--pid-file",
        pid_file.to_str().expect("UTF-8 path"),
        "--diag-file",
        diag.to_str().expect("UTF-8 path"),
        "--linger",
        "0",
        "tcp",
        "port",
        &port,
    ];

    let started = run_wsd(&args, LIMIT);
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert_eq!(started.status.code(), Some(0), "{stderr}");
    let banner = format!("wsd v{} starting in daemon mode", env!("CARGO_PKG_VERSION"));
    assert!(stderr.contains(&banner), "{stderr}");
    let pid = read_pid(&pid_file).expect("the daemon wrote its pid before the command returned");
    let mut guard = KillOnFailure(Some(pid));
    assert!(
        is_running(pid),
        "the daemon runs after the command returned"
    );

    // Detached: its own session, / as working directory, streams on /dev/null.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("daemon stat");
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("stat format")
        .1
        .split(' ')
        .collect();
    assert_eq!(
        fields[3],
        pid.to_string(),
        "session id is the daemon's pid: {stat}"
    );
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("daemon cwd");
    assert_eq!(cwd, Path::new("/"));
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("daemon fd");
        assert_eq!(target, Path::new("/dev/null"), "fd {fd}");
    }

    let second = run_wsd(&args, LIMIT);
    let second_stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{second_stderr}");
    assert!(
        second_stderr.contains(&format!("another wsd is running with pid {pid}")),
        "{second_stderr}"
    );

    let first_log = logs_in_order(&logs).pop().expect("the first log");
    connect_once(&listener);
    wait_for_records(&first_log, 1);
    kill_process(Pid::from_raw(pid).expect("positive pid"), Signal::HUP).expect("SIGHUP");
    wait_for("a second log", || logs_in_order(&logs).len() == 2);
    connect_once(&listener);
    let second_log = logs_in_order(&logs).pop().expect("the second log");
    wait_for_records(&second_log, 1);

    kill_process(Pid::from_raw(pid).expect("positive pid"), Signal::TERM).expect("SIGTERM");
    wait_for("the daemon to stop", || !is_running(pid));
    guard.0 = None;
    assert!(!pid_file.exists(), "the pid file is removed at exit");

    let files = logs_in_order(&logs);
    assert_eq!(files.len(), 2, "{files:?}");
    let before = records_of(&files[0]);
    let after = records_of(&files[1]);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(
        common::field(&before[0], "sourcePort"),
        common::field(&after[0], "sourcePort"),
        "two connections"
    );
    let diagnostics = std::fs::read_to_string(&diag).expect("diagnostics file");
    assert!(diagnostics.contains(&banner), "{diagnostics}");
    assert!(diagnostics.contains("rotated the log"), "{diagnostics}");
    assert!(diagnostics.contains("stopped by a signal"), "{diagnostics}");
    assert!(diagnostics.contains("finished: "), "{diagnostics}");
    assert!(
        diagnostics.contains("running as root for the whole capture"),
        "a capture without -u warns: {diagnostics}"
    );
}

#[test]
fn numeric_ids_dropped_to() {
    if !running_as_root("numeric_ids_dropped_to") {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "-L",
            "-",
            "-u",
            "54321",
            "-g",
            "54322",
            "-c",
            dir.path().to_str().expect("UTF-8 path"),
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("uid=54321 gid=54322"), "{stderr}");
    assert_eq!(flow_lines(&output.stdout).len(), 2, "{stderr}");
}

/// Inputs are opened before privileges are dropped, also without a chroot, so
/// that a capture only root may read is read by a run that drops to another
/// user.
#[test]
fn root_only_input_read_after_drop() {
    if !running_as_root("root_only_input_read_after_drop") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temporary directory");
    let capture = dir.path().join("root-only.pcap");
    std::fs::copy(fixture("port_reuse.pcap"), &capture).expect("copy the capture");
    let only_root = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    only_root(&capture, 0o600);
    only_root(dir.path(), 0o700);
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "-r",
            capture.to_str().expect("UTF-8 path"),
            "-L",
            "-",
            "-u",
            "54321",
            "-g",
            "54322",
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("uid=54321 gid=54322"), "{stderr}");
    assert_eq!(flow_lines(&output.stdout).len(), 4, "{stderr}");
}

#[test]
fn numeric_user_needs_group() {
    let output = run_wsd(
        &["-r", &fixture("port_reuse.pcap"), "-L", "-", "-u", "54321"],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("give the group with -g"), "{stderr}");
}

/// Starts a daemon that captures on `lo`, with its log directory, its pid
/// file `wsd.pid` and its diagnostics file `wsd.diag` in `dir`, and the
/// options `more`, and returns the output of the command that started it.
fn start_daemon_in(dir: &Path, more: &[&str]) -> std::process::Output {
    let pid_file = dir.join("wsd.pid");
    let diag = dir.join("wsd.diag");
    let mut args = vec![
        "-i",
        "lo",
        "-l",
        dir.to_str().expect("UTF-8 path"),
        "--pid-file",
        pid_file.to_str().expect("UTF-8 path"),
        "--diag-file",
        diag.to_str().expect("UTF-8 path"),
    ];
    args.extend_from_slice(more);
    run_wsd(&args, LIMIT)
}

#[test]
fn daemon_start_error_reaches_terminal() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = start_daemon_in(dir.path(), &["-u", "no-such-user-for-wsd"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("user no-such-user-for-wsd not found"),
        "{stderr}"
    );
    assert!(!dir.path().join("wsd.pid").exists());
}

/// A daemon stopped by a pid file that another process holds locked prints
/// its error with the `wsd:` prefix of every other error, and writes it to
/// the diagnostics file too.
#[test]
fn daemon_locked_pid_file_error_prefixed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pid_file = dir.path().join("wsd.pid");
    let diag = dir.path().join("wsd.diag");
    let mut holder = std::fs::File::create(&pid_file).expect("create the pid file");
    holder.try_lock().expect("lock the pid file");
    writeln!(holder, "{}", std::process::id()).expect("write a pid");

    let output = start_daemon_in(dir.path(), &[]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = format!(
        "Z wsd: another wsd is running with pid {}",
        std::process::id()
    );
    assert!(
        stderr.lines().any(|line| line.contains(&expected)),
        "{stderr}"
    );
    let diagnostics = std::fs::read_to_string(&diag).expect("diagnostics file");
    assert!(
        diagnostics.contains(" ERROR another wsd is running with pid"),
        "{diagnostics}"
    );
}

/// Runs a daemon in a mount namespace of its own, where /dev/log is a socket
/// that this test reads, and checks the syslog lines it receives.
#[test]
fn daemon_logs_to_syslog() {
    if !running_as_root("daemon_logs_to_syslog") {
        return;
    }
    if wsd_capture::Libpcap::load().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "daemon_logs_to_syslog needs libpcap, and CI is set: install libpcap"
        );
        eprintln!("daemon_logs_to_syslog did not run: libpcap is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let socket_path = dir.path().join("log");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind the socket");
    socket
        .set_read_timeout(Some(LIMIT))
        .expect("socket timeout");
    let pid_file = dir.path().join("wsd.pid");
    // /dev is replaced by a tmpfs with only /dev/null and /dev/log, the test's
    // socket, so the host's /dev/log is never touched.
    let script = format!(
        "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && touch /dev/log \
         && mount --bind '{socket}' /dev/log && exec '{wsd}' -i lo -l '{logs}' \
         --pid-file '{pid}' tcp port 9",
        socket = socket_path.display(),
        wsd = env!("CARGO_BIN_EXE_wsd"),
        logs = dir.path().join("logs").display(),
        pid = pid_file.display(),
    );
    let started = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert_eq!(started.status.code(), Some(0), "{stderr}");
    let pid = read_pid(&pid_file).expect("the daemon wrote its pid");
    let mut guard = KillOnFailure(Some(pid));

    let mut received = Vec::new();
    let mut datagram = [0u8; 2048];
    let banner = format!("wsd v{} starting in daemon mode", env!("CARGO_PKG_VERSION"));
    while !received.iter().any(|line: &String| line.contains(&banner)) {
        let len = socket.recv(&mut datagram).expect("a syslog datagram");
        received.push(String::from_utf8_lossy(&datagram[..len]).into_owned());
    }
    kill_process(Pid::from_raw(pid).expect("positive pid"), Signal::TERM).expect("SIGTERM");
    while !received.iter().any(|line| line.contains("finished: ")) {
        let len = socket.recv(&mut datagram).expect("a syslog datagram");
        received.push(String::from_utf8_lossy(&datagram[..len]).into_owned());
    }
    wait_for("the daemon to stop", || !is_running(pid));
    guard.0 = None;

    let tag = format!(" wsd[{pid}]: ");
    for line in &received {
        assert!(line.contains(&tag), "{line}");
        assert!(!line.ends_with('\n'), "{line:?}");
    }
    let banner_line = received
        .iter()
        .find(|line| line.contains(&banner))
        .expect("banner received");
    assert!(
        banner_line.starts_with("<30>"),
        "daemon.info: {banner_line}"
    );
    let warning = received
        .iter()
        .find(|line| line.contains("running as root"))
        .unwrap_or_else(|| panic!("no warning in {received:#?}"));
    assert!(warning.starts_with("<28>"), "daemon.warning: {warning}");
}
