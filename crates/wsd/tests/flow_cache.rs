//! The flow cache: a capture split into pieces and run piece by piece with `-R`
//! and `-W` must give the same records and packet lines as one run, and a damaged
//! cache must never be used or overwritten.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use wsd_capture::{FileSource, PacketSource, PcapWriter};

use common::{run_wsd, shared_dir, wsd_stdout};

const LIMIT: Duration = Duration::from_secs(300);

/// Writes the packets of `capture` into `pieces` pcap files of about equal packet
/// counts and returns their paths.
fn split(capture: &Path, pieces: usize, dir: &Path) -> Vec<PathBuf> {
    let mut source = FileSource::open(capture).unwrap();
    let mut packets = Vec::new();
    while let Some(packet) = source.next_packet().unwrap() {
        packets.push((
            packet.ts,
            packet.linktype,
            packet.data.to_vec(),
            packet.orig_len,
        ));
    }
    let per_piece = packets.len().div_ceil(pieces).max(1);
    let mut paths = Vec::new();
    for (i, chunk) in packets.chunks(per_piece).enumerate() {
        let path = dir.join(format!("piece{i:04}.pcap"));
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut writer = PcapWriter::new(file, chunk[0].1, 262_144, true).unwrap();
        for (ts, _, data, orig_len) in chunk {
            writer.write_packet(*ts, data, *orig_len).unwrap();
        }
        writer.flush().unwrap();
        paths.push(path);
    }
    paths
}

fn stdout_of(args: &[&str]) -> String {
    wsd_stdout(args, LIMIT)
}

/// Checks that `capture` split into `pieces` gives the same output chained
/// through the cache, and as several `-r` options, as read whole.
fn check_split(capture: &Path, pieces: usize) {
    let dir = tempfile::tempdir().unwrap();
    let paths = split(capture, pieces, dir.path());
    let name = capture.file_name().unwrap().to_string_lossy().into_owned();
    let whole = stdout_of(&["-V", "-r", capture.to_str().unwrap(), "-L", "-"]);
    assert!(whole.contains("TCPFLOW"), "{name} has TCP flows");

    let mut args = vec!["-V"];
    for path in &paths {
        args.push("-r");
        args.push(path.to_str().unwrap());
    }
    args.extend(["-L", "-"]);
    assert!(
        stdout_of(&args) == whole,
        "{name}: {pieces} pieces as several -r differ from one run"
    );

    let cache = dir.path().join("wsd.cache");
    let cache = cache.to_str().unwrap();
    let mut chained = String::new();
    for (i, path) in paths.iter().enumerate() {
        let mut args = vec!["-V", "-R", cache, "-r", path.to_str().unwrap(), "-L", "-"];
        if i + 1 < paths.len() {
            args.extend(["-W", cache]);
        }
        chained.push_str(&stdout_of(&args));
    }
    if chained != whole {
        let first_difference = chained
            .lines()
            .zip(whole.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(chained.lines().count().min(whole.lines().count()));
        panic!(
            "{name}: {} pieces chained through the cache differ from one run at line {}:\n  chained: {:?}\n  whole:   {:?}",
            paths.len(),
            first_difference + 1,
            chained.lines().nth(first_difference),
            whole.lines().nth(first_difference)
        );
    }
}

fn corpus(name: &str) -> PathBuf {
    shared_dir().join("corpus").join(name)
}

#[test]
fn split_echo_connections() {
    for pieces in [2, 5, 40] {
        check_split(&corpus("mixed_echo_500conns.pcap"), pieces);
    }
}

#[test]
fn split_midstream_capture() {
    for pieces in [2, 5, 25] {
        check_split(&corpus("mixed_tls_v4v6_midstream.pcap"), pieces);
    }
}

#[test]
fn split_tiny_fragments_every_packet() {
    // Three fragments of a SYN, the first too short for the TCP header: the cache
    // must carry the waiting first fragment, or the fragments that join it.
    for pieces in [2, 3] {
        check_split(&corpus("ppp_ipv4_frag_tcp_syn.pcap"), pieces);
    }
}

#[test]
fn split_port_reuse_every_packet() {
    for pieces in [2, 5, 32] {
        check_split(&corpus("tcp_port_reuse.pcap"), pieces);
    }
}

#[test]
fn split_lossy_every_packet() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/captures/lossy.pcap");
    for pieces in [2, 5, 10] {
        check_split(&capture, pieces);
    }
}

#[test]
fn split_case_files_one_record() {
    let cases = shared_dir().join("cases");
    let part1 = cases.join("B30_flow-across-files_part1.pcap");
    let part2 = cases.join("B30_flow-across-files_part2.pcap");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let cache = cache.to_str().unwrap();
    let first = stdout_of(&["-W", cache, "-r", part1.to_str().unwrap(), "-L", "-"]);
    assert_eq!(
        first, "",
        "the open connection goes to the cache, not the log"
    );
    let second = stdout_of(&["-R", cache, "-r", part2.to_str().unwrap(), "-L", "-"]);
    let lines: Vec<&str> = second.lines().collect();
    assert_eq!(lines.len(), 1, "{second}");
    assert!(
        lines[0].contains(" sourceIp=10.0.0.1 sourcePort=40000 "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(" packetsIn=3 packetsOut=5 bytesIn=260 bytesOut=200 "),
        "{}",
        lines[0]
    );
}

/// A cache with more flows than `--max-flows` allows reports its surplus as
/// evicted first, then, at the end of the input, the flows that fit the table.
#[test]
fn cache_over_limit_reports_surplus_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = echo_cache(dir.path());
    let cache = cache.to_str().unwrap();

    let empty = empty_capture(dir.path());
    let empty = empty.to_str().unwrap();
    let loaded = run_wsd(&["-R", cache, "-r", empty, "-L", "/dev/null"], LIMIT);
    let stderr = String::from_utf8_lossy(&loaded.stderr);
    let saved: usize = stderr
        .split("loaded ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no flow count in the summary: {stderr}"));
    assert!(saved > 20, "only {saved} flows saved");
    assert!(!stderr.contains("--max-flows"), "{stderr}");

    for threads in ["1", "2"] {
        let args = [
            "--threads",
            threads,
            "--max-flows",
            "4",
            "-R",
            cache,
            "-r",
            empty,
            "-L",
            "-",
        ];
        let output = run_wsd(&args, LIMIT);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let warning = format!(
            "more flows than --max-flows 4 allows, so at least {} are reported as evicted",
            saved - 4
        );
        assert!(stderr.contains(&warning), "{stderr}");
        let out = String::from_utf8(output.stdout).unwrap();
        let reasons: Vec<&str> = out
            .lines()
            .map(|line| common::field(line, "endReason"))
            .collect();
        assert_eq!(reasons.len(), saved, "{threads} threads:\n{out}");

        // Both directions of a flow go to one worker, so with two workers a
        // worker's share of the table can stay unused.
        let evicted = reasons.iter().take_while(|&&r| r == "evicted").count();
        let remaining = &reasons[evicted..];
        assert!(!remaining.is_empty(), "{threads} threads:\n{out}");
        assert!(remaining.len() <= 4, "{threads} threads:\n{out}");
        assert!(
            remaining.iter().all(|&r| r == "end-of-input"),
            "{threads} threads:\n{out}"
        );
    }
}

/// The flows of a cache beyond `--max-flows` are read again from the file after
/// the log is open, once the run has given up its privileges. As root the
/// cache is readable by root only and the run changes to the user nobody in a
/// new root without the cache, so the reading must use the file opened before.
/// Other users run it without a change of user. Either way the records are
/// those of the run without the limit, but for the end reason of the surplus.
#[test]
fn cache_surplus_read_after_privileges_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let cache = echo_cache(dir.path());
    let cache = cache.to_str().unwrap();
    std::fs::set_permissions(cache, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let empty = empty_capture(dir.path());
    let empty = empty.to_str().unwrap();
    let unlimited = stdout_of(&["-R", cache, "-r", empty, "-L", "-"]);
    let without_reason = |out: &str| {
        let mut lines: Vec<String> = out
            .lines()
            .map(|line| {
                let reason = common::field(line, "endReason");
                line.replace(&format!("endReason={reason}"), "")
            })
            .collect();
        lines.sort();
        lines
    };

    let jail = dir.path().join("jail");
    std::fs::create_dir(&jail).unwrap();
    let jail = jail.to_str().unwrap();
    let mut args = vec!["--max-flows", "4", "-R", cache, "-r", empty, "-L", "-"];
    if is_root() {
        args.extend(["-u", "nobody", "-c", jail]);
    }
    for threads in ["1", "2"] {
        let args = [&["--threads", threads][..], &args].concat();
        let limited = stdout_of(&args);
        assert!(
            without_reason(&limited) == without_reason(&unlimited),
            "{threads} threads:\n{limited}"
        );
        let evicted = limited
            .lines()
            .filter(|line| common::field(line, "endReason") == "evicted")
            .count();
        assert!(
            evicted > 10,
            "{threads} threads: {evicted} evicted\n{limited}"
        );
    }
}

/// Saves the flows of the first half of a capture of 500 echo connections as a
/// cache in `dir` and returns its path.
fn echo_cache(dir: &Path) -> PathBuf {
    let paths = split(&corpus("mixed_echo_500conns.pcap"), 2, dir);
    let cache = dir.join("wsd.cache");
    let first = paths[0].to_str().unwrap();
    stdout_of(&[
        "-r",
        first,
        "-L",
        "/dev/null",
        "-W",
        cache.to_str().unwrap(),
    ]);
    cache
}

/// Writes a pcap file without packets into `dir` and returns its path.
fn empty_capture(dir: &Path) -> PathBuf {
    let empty = dir.join("empty.pcap");
    let writer = PcapWriter::new(std::fs::File::create(&empty).unwrap(), 1, 65_535, true);
    writer.unwrap().flush().unwrap();
    empty
}

/// Copies the packets of `capture` into `out`, each `shift` nanoseconds later.
fn shifted_copy(capture: &Path, shift: i64, out: &Path) {
    let mut source = FileSource::open(capture).unwrap();
    let mut packets = Vec::new();
    while let Some(packet) = source.next_packet().unwrap() {
        let ts = packet.ts.add_nanos(shift);
        packets.push((ts, packet.linktype, packet.data.to_vec(), packet.orig_len));
    }
    let file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut writer = PcapWriter::new(file, packets[0].1, 262_144, true).unwrap();
    for (ts, _, data, orig_len) in &packets {
        writer.write_packet(*ts, data, *orig_len).unwrap();
    }
    writer.flush().unwrap();
}

/// An input that starts well before the capture clock left by the inputs or
/// the cache before it gets a warning that names it. Inputs in order get none.
#[test]
fn input_before_clock_warned() {
    let dir = tempfile::tempdir().unwrap();
    let early = corpus("mixed_echo_500conns.pcap");
    let early = early.to_str().unwrap();
    let late = dir.path().join("late.pcap");
    shifted_copy(Path::new(early), 86_400 * 1_000_000_000, &late);
    let late = late.to_str().unwrap();
    let warning = "before the capture clock";

    let output = run_wsd(&["-r", early, "-r", late, "-L", "/dev/null"], LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(warning), "{stderr}");

    let output = run_wsd(&["-r", late, "-r", early, "-L", "/dev/null"], LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains(warning))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(line.contains("is 24 hours before"), "{line}");
    assert!(line.contains("mixed_echo_500conns.pcap"), "{line}");

    // Captures joined in one input, as `cat` joins them, are checked too.
    let joined = dir.path().join("joined.pcap");
    let joined_name = joined.to_str().unwrap();
    for (first, second, warned) in [(early, late, false), (late, early, true)] {
        let bytes = [
            std::fs::read(first).unwrap(),
            std::fs::read(second).unwrap(),
        ]
        .concat();
        std::fs::write(&joined, bytes).unwrap();
        let output = run_wsd(&["-r", joined_name, "-L", "/dev/null"], LIMIT);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let line = stderr.lines().find(|line| line.contains(warning));
        assert_eq!(line.is_some(), warned, "{stderr}");
        if let Some(line) = line {
            assert!(line.contains("(joined capture 2)"), "{line}");
            assert!(line.contains("is 24 hours before"), "{line}");
        }
    }

    // The clock of a flow cache counts as well.
    let cache = dir.path().join("wsd.cache");
    let cache = cache.to_str().unwrap();
    stdout_of(&["-r", late, "-L", "/dev/null", "-W", cache]);
    let output = run_wsd(&["-R", cache, "-r", early, "-L", "/dev/null"], LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(warning), "{stderr}");
}

#[test]
fn missing_cache_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("first-run.cache");
    let capture = corpus("tcp_port_reuse.pcap");
    let output = run_wsd(
        &[
            "-R",
            cache.to_str().unwrap(),
            "-r",
            capture.to_str().unwrap(),
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist yet"));
}

/// In this cache with more flows than `--max-flows`, a flow that the table
/// evicts at once repeats the key of a flow that it keeps. The cache is
/// rejected before any record is written, whichever of the two comes first.
#[test]
fn surplus_repeating_kept_key_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cache = echo_cache(dir.path());
    let empty = empty_capture(dir.path());
    let loaded = wsd_flowcache::read_cache(&cache).unwrap().unwrap();
    let flows = loaded.snapshot.flows.len();
    assert!(flows > 10, "only {flows} flows saved");
    // The flow touched last is kept, and its copy, idle longest, is evicted.
    let (kept_position, &kept_flow) = loaded
        .snapshot
        .flows
        .iter()
        .enumerate()
        .max_by_key(|(_, saved)| (saved.touched, saved.serial))
        .unwrap();
    let earliest = loaded.snapshot.flows.iter().map(|saved| saved.touched);
    let mut copy = kept_flow;
    copy.touched = earliest.min().unwrap().add_nanos(-1_000_000_000);
    copy.serial = loaded.snapshot.next_serial;

    // Messages number flows from 1, and the copy inserted first moves the
    // kept flow one on.
    let cases = [
        (
            0,
            format!("flow 1 has the key of the later flow {}", kept_position + 2),
        ),
        (
            flows,
            format!("flow {} repeats the key of an earlier flow", flows + 1),
        ),
    ];
    for (position, expected) in cases {
        let mut snapshot = loaded.snapshot.clone();
        snapshot.next_serial += 1;
        snapshot.flows.insert(position, copy);
        wsd_flowcache::write_cache(&cache, &snapshot, "test").unwrap();
        for threads in ["1", "2"] {
            let output = run_wsd(
                &[
                    "--threads",
                    threads,
                    "--max-flows",
                    "4",
                    "-R",
                    cache.to_str().unwrap(),
                    "-r",
                    empty.to_str().unwrap(),
                    "-L",
                    "-",
                ],
                LIMIT,
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            let case = format!("copy at {position}, {threads} threads");
            assert_eq!(output.status.code(), Some(2), "{case}: {stderr}");
            assert!(stderr.contains(&expected), "{case}: {stderr}");
            assert!(output.stdout.is_empty(), "{case}");
        }
    }
}

/// A cache whose flows decode but contradict each other is rejected with the
/// position of the flow at fault, whether one thread restores the flows as they
/// are decoded or worker threads restore them from the whole snapshot.
#[test]
fn inconsistent_cache_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let capture = corpus("mixed_skype.pcap");
    let capture = capture.to_str().unwrap();
    let saved = run_wsd(
        &[
            "-r",
            capture,
            "-W",
            cache.to_str().unwrap(),
            "-L",
            "/dev/null",
        ],
        LIMIT,
    );
    assert_eq!(saved.status.code(), Some(0));
    let mut loaded = wsd_flowcache::read_cache(&cache).unwrap().unwrap();
    let flows = loaded.snapshot.flows.len();
    assert!(flows >= 2, "only {flows} flows saved");
    loaded.snapshot.flows.push(loaded.snapshot.flows[flows / 2]);
    wsd_flowcache::write_cache(&cache, &loaded.snapshot, "test").unwrap();

    // The copy is the last flow, and messages number flows from 1.
    let copy = flows + 1;
    let expected = format!("inconsistent contents: flow {copy} repeats the key of an earlier flow");
    for threads in ["1", "2"] {
        let output = run_wsd(
            &[
                "--threads",
                threads,
                "-R",
                cache.to_str().unwrap(),
                "-r",
                capture,
                "-L",
                "-",
            ],
            LIMIT,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{threads} threads: {stderr}");
        assert!(stderr.contains(&expected), "{threads} threads: {stderr}");
        assert!(output.stdout.is_empty(), "{threads} threads");
    }
}

fn damaged_cache_rejected(contents: &[u8], expected_message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    std::fs::write(&cache, contents).unwrap();
    let capture = corpus("tcp_port_reuse.pcap");
    let args = [
        "-R",
        cache.to_str().unwrap(),
        "-W",
        cache.to_str().unwrap(),
        "-r",
        capture.to_str().unwrap(),
        "-L",
        "-",
    ];
    let output = run_wsd(&args, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expected_message), "{stderr}");
    assert!(stderr.contains(cache.to_str().unwrap()), "{stderr}");
    assert!(output.stdout.is_empty(), "no packet is read");
    assert_eq!(
        std::fs::read(&cache).unwrap(),
        contents,
        "the bad cache is left untouched"
    );

    // With --discard-bad-cache the run goes on and the bad file is kept aside.
    let mut args = args.to_vec();
    args.push("--discard-bad-cache");
    let output = run_wsd(&args, LIMIT);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("wsd.cache.bad-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), contents);
    assert!(
        wsd_flowcache::read_cache(&cache).unwrap().is_some(),
        "a new cache was written"
    );
}

/// A bad cache set aside in the same second as an earlier one gets a name of
/// its own, so the earlier copy is kept.
#[test]
fn bad_cache_aside_keeps_earlier() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let capture = corpus("tcp_port_reuse.pcap");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Copies set aside this second and the next, whichever the run falls in.
    let earlier: Vec<PathBuf> = (now..now + 3)
        .map(|seconds| dir.path().join(format!("wsd.cache.bad-{seconds}")))
        .collect();
    for path in &earlier {
        std::fs::write(path, b"set aside before").unwrap();
    }
    std::fs::write(&cache, b"not a cache either").unwrap();

    let args = [
        "-R",
        cache.to_str().unwrap(),
        "--discard-bad-cache",
        "-r",
        capture.to_str().unwrap(),
        "-L",
        "/dev/null",
    ];
    let output = run_wsd(&args, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for path in &earlier {
        assert_eq!(std::fs::read(path).unwrap(), b"set aside before");
    }
    // The run's lock file of the cache stays beside it.
    let lock = dir.path().join(".wsd.cache.lock");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| !earlier.contains(path) && path != &cache && path != &lock)
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), b"not a cache either");
    let name = aside[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("-2"), "{name}");
}

/// Returns a valid cache with one open flow, from the first half of a case capture.
fn valid_cache() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let part1 = shared_dir().join("cases/B30_flow-across-files_part1.pcap");
    stdout_of(&[
        "-W",
        cache.to_str().unwrap(),
        "-r",
        part1.to_str().unwrap(),
        "-L",
        "-",
    ]);
    std::fs::read(&cache).unwrap()
}

#[test]
fn truncated_cache_rejected() {
    let bytes = valid_cache();
    damaged_cache_rejected(&bytes[..bytes.len() - 5], "checksum mismatch");
}

#[test]
fn corrupt_cache_rejected() {
    let mut bytes = valid_cache();
    bytes[30] ^= 0xff;
    damaged_cache_rejected(&bytes, "checksum mismatch");
}

#[test]
fn future_version_cache_rejected() {
    let mut bytes = valid_cache();
    bytes[8..12].copy_from_slice(&(wsd_flowcache::FORMAT_VERSION + 1).to_le_bytes());
    damaged_cache_rejected(&bytes, "newer than this program reads");
}

#[test]
fn not_a_cache_rejected() {
    damaged_cache_rejected(b"timestamp,src,dst\n", "not a flow cache");
}

/// Runs `wsd -r - -L LOG -W CACHE` on the first part of a flow split over two
/// files, and removes the cache's directory before the input ends: it exists
/// at start-up, which checks it, and is gone when the cache is written.
fn run_with_cache_dir_gone(log: &str) -> std::process::Output {
    run_with_cache_dir_gone_and(log, &[])
}

/// Runs as [`run_with_cache_dir_gone`] does, with the options `extra` too.
fn run_with_cache_dir_gone_and(log: &str, extra: &[&str]) -> std::process::Output {
    let part1 = shared_dir().join("cases/B30_flow-across-files_part1.pcap");
    let dir = tempfile::tempdir().unwrap();
    let part1 = std::fs::read(part1).unwrap();
    let child = spawn_with_cache_dir_gone(dir.path(), log, &part1, extra);
    child.wait_with_output().unwrap()
}

/// Starts `wsd -r - -L LOG -W CACHE` with the cache in a directory under `dir`,
/// gives it `capture` on standard input, and removes the cache's directory
/// before the input ends.
fn spawn_with_cache_dir_gone(
    dir: &Path,
    log: &str,
    capture: &[u8],
    extra: &[&str],
) -> std::process::Child {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let cache_dir = dir.join("cache");
    std::fs::create_dir(&cache_dir).unwrap();
    let cache = cache_dir.join("wsd.cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", "-", "-L", log, "-W"])
        .arg(&cache)
        .args(extra)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(capture).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::remove_dir_all(&cache_dir).unwrap();
    drop(stdin);
    child
}

/// When the cache fails and the log fails while the open flows are written to
/// it, here a pipe closed after its first 100,000 bytes, the message counts
/// the flows that reached the log apart from those saved nowhere.
#[test]
fn log_failing_among_open_flows_counted() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("open.pcap");
    syn_capture(&capture, 5_000, 1_000_000, false);
    let capture = std::fs::read(&capture).unwrap();
    let mut child = spawn_with_cache_dir_gone(dir.path(), "-", &capture, &[]);
    let mut first = vec![0u8; 100_000];
    let mut stdout = child.stdout.take().unwrap();
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let read_whole = first.iter().filter(|&&byte| byte == b'\n').count() as u64;
    let (lost, rest) = stderr
        .split("and the log failed too, so ")
        .nth(1)
        .and_then(|rest| rest.split_once(" of the 5000 unfinished flows were saved nowhere"))
        .unwrap_or_else(|| panic!("no count of the flows lost: {stderr}"));
    let reached = rest
        .strip_prefix("; the other ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no count of the flows that reached the log: {stderr}"));
    let (lost, reached): (u64, u64) = (lost.parse().unwrap(), reached.parse().unwrap());
    assert_eq!(lost + reached, 5_000, "{stderr}");
    // The pipe took some records more than were read from it.
    assert!(
        reached >= read_whole,
        "{reached} reached, {read_whole} read"
    );
    assert!(lost > 0, "{stderr}");
}

/// When both the log and the cache fail, the message reports that the open
/// flows were saved nowhere, and does not claim that they reached the log.
#[test]
fn failed_log_and_cache_both_reported() {
    let output = run_with_cache_dir_gone("/dev/full");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to /dev/full"), "{stderr}");
    assert!(
        stderr.contains("; also cannot write flow cache"),
        "{stderr}"
    );
    let nowhere = "and the log failed too, so 1 unfinished flow was saved nowhere";
    assert!(stderr.contains(nowhere), "{stderr}");
    assert!(!stderr.contains("as records instead"), "{stderr}");
}

/// When the cache cannot be written, an open flow of a protocol without
/// records is counted as kept nowhere, not as written to the log.
#[test]
fn unwritable_cache_counts_flows_without_records() {
    let output = run_with_cache_dir_gone_and("-", &["--protocols", "udp"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    let counts = "and 1 unfinished flow of protocols without records (--protocols) was \
                  kept nowhere. In a series";
    assert!(stderr.contains(counts), "{stderr}");
    assert!(
        !stderr.contains("written to the log as records"),
        "{stderr}"
    );
}

/// When the cache cannot be written, the open flows go to the log as records
/// and the exit status is 1.
#[test]
fn unwritable_cache_writes_records() {
    let output = run_with_cache_dir_gone("-");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write flow cache"), "{stderr}");
    let instead = "no cache was created, and 1 unfinished flow was written to the \
                   log as records instead";
    assert!(stderr.contains(instead), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("TCPFLOW "))
            .count(),
        1,
        "{stdout}"
    );
}

/// A cache path that cannot be used is rejected before the input is read. For
/// `-W` that is a file in the place of the directory. For `-R` it is a missing
/// directory, a wrong path rather than the first run of a series, or a
/// directory in the place of the file.
#[test]
fn cache_in_bad_directory_rejected_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, "").unwrap();
    let part1 = shared_dir().join("cases/B30_flow-across-files_part1.pcap");
    for (option, cache) in [
        ("-W", blocker.join("wsd.cache")),
        ("-R", dir.path().join("no-such-dir").join("wsd.cache")),
        ("-R", dir.path().to_path_buf()),
    ] {
        let output = run_wsd(
            &[
                option,
                cache.to_str().unwrap(),
                "-r",
                part1.to_str().unwrap(),
                "-L",
                "-",
            ],
            LIMIT,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option}: {stderr}");
        assert!(
            stderr.contains(&format!("as the flow cache ({option})")),
            "{option}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{option}");
    }
}

/// A `-W` cache that the run could not save, because the user it runs as may
/// not create files in the directory, stops the run before it reads any input
/// or opens its log. As root the test drops to the user nobody inside a new
/// root, where the path is resolved. Otherwise the directory is made read-only.
#[test]
fn unwritable_cache_directory_rejected_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let part1 = shared_dir().join("cases/B30_flow-across-files_part1.pcap");
    let part1 = part1.to_str().unwrap();
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        let cache = locked.join("wsd.cache");
        let output = run_wsd(
            &["-W", cache.to_str().unwrap(), "-r", part1, "-L", "-"],
            LIMIT,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("make its directory writable"), "{stderr}");
        assert!(output.stdout.is_empty());
        return;
    }
    let nobody = privdrop::reexports::nix::unistd::User::from_name("nobody")
        .expect("read the user database")
        .expect("user nobody exists");
    let jail = dir.path().join("jail");
    std::fs::create_dir(&jail).unwrap();
    let log = dir.path().join("earlier.log");
    std::fs::write(&log, "an earlier log\n").unwrap();
    let run = |cache: &str| {
        run_wsd(
            &[
                "-u",
                "nobody",
                "-c",
                jail.to_str().unwrap(),
                "-W",
                cache,
                "-r",
                part1,
                "-L",
                log.to_str().unwrap(),
            ],
            LIMIT,
        )
    };
    let output = run("/wsd.cache");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // 73 (cannot create), which a wrapper retries once the directory is fixed.
    assert_eq!(output.status.code(), Some(73), "{stderr}");
    assert!(stderr.contains("inside the new root"), "{stderr}");
    assert!(stderr.contains("not writable by user nobody"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "an earlier log\n",
        "the log is left as it was"
    );

    // In a directory with the sticky bit, a cache of another user cannot be
    // replaced, though a new file can be created beside it.
    let sticky = jail.join("sticky");
    std::fs::create_dir(&sticky).unwrap();
    std::fs::set_permissions(
        &sticky,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    std::fs::write(sticky.join("wsd.cache"), "").unwrap();
    let output = run("/sticky/wsd.cache");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(73), "{stderr}");
    assert!(stderr.contains("sticky bit"), "{stderr}");

    let owned = jail.join("cache");
    std::fs::create_dir(&owned).unwrap();
    std::os::unix::fs::chown(&owned, Some(nobody.uid.as_raw()), None).unwrap();
    let output = run("/cache/wsd.cache");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let saved = wsd_flowcache::read_cache(&owned.join("wsd.cache")).unwrap();
    assert!(saved.is_some_and(|cache| !cache.snapshot.flows.is_empty()));
}

/// Two runs cannot continue one series at once. While one run has the `-W`
/// cache locked, a second run with that cache stops at start. Once the first
/// ends, the next run goes ahead.
#[test]
fn cache_locked_while_in_use() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let part1 = shared_dir().join("cases/B30_flow-across-files_part1.pcap");
    let mut first = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", "-", "-L", "/dev/null", "-W"])
        .arg(&cache)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = first.stdin.take().unwrap();
    stdin.write_all(&std::fs::read(&part1).unwrap()).unwrap();
    stdin.flush().unwrap();
    // The run locks the cache as it starts, right after it creates the lock
    // file. Locking it here to find out could make that run fail instead.
    let lock = dir.path().join(".wsd.cache.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !lock.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run made no lock file"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));

    let args = [
        "-W",
        cache.to_str().unwrap(),
        "-r",
        part1.to_str().unwrap(),
        "-L",
        "/dev/null",
    ];
    let second = run_wsd(&args, LIMIT);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("has locked it"), "{stderr}");

    drop(stdin);
    let first = first.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(0), "{stderr}");
    let third = run_wsd(&args, LIMIT);
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(0), "{stderr}");
}

/// A run that only reads a cache stops at start while another run holds the
/// cache's lock, since both would report its flows. A run that reads and
/// saves one cache, named by two spellings of its path, does not lock itself
/// out.
#[test]
fn read_cache_locked_while_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let cache = cache.to_str().unwrap();
    let part1 = shared_dir().join("cases/B30_flow-across-files_part1.pcap");
    let part1 = part1.to_str().unwrap();
    stdout_of(&["-W", cache, "-r", part1, "-L", "-"]);
    let other = dir.path().join("other.cache");
    let other = other.to_str().unwrap();

    let lock = wsd_flowcache::lock_cache(Path::new(cache)).unwrap();
    for args in [
        vec!["-R", cache, "-r", part1, "-L", "/dev/null"],
        vec!["-R", cache, "-W", other, "-r", part1, "-L", "/dev/null"],
    ] {
        let output = run_wsd(&args, LIMIT);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(75), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot read") && stderr.contains("(-R)"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("reported twice"), "{args:?}: {stderr}");
    }
    drop(lock);

    let same = dir.path().join(".").join("wsd.cache");
    let same = same.to_str().unwrap();
    let output = run_wsd(
        &["-R", same, "-W", cache, "-r", part1, "-L", "/dev/null"],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let output = run_wsd(&["-R", cache, "-r", part1, "-L", "/dev/null"], LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    // A -R path that is no cache file is rejected without a lock file.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let output = run_wsd(&["-R", sub.to_str().unwrap(), "-r", part1], LIMIT);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        !dir.path().join(".sub.lock").exists(),
        "a lock file was made"
    );

    // The exit status and standard error of a run that reads `path` with -R
    // and gives it with -W too when `save` is set.
    let read_only = |path: &Path, save: bool| {
        let path = path.to_str().unwrap();
        let mut args = vec!["-R", path, "-r", part1, "-L", "/dev/null"];
        if save {
            args.extend(["-W", cache]);
        }
        let output = run_wsd(&args, LIMIT);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stderr)
    };

    // A link to a locked cache finds the cache's own lock, and a run whose -R
    // names its own -W cache through a link does not stop at its own lock.
    let link = dir.path().join("link.cache");
    std::os::unix::fs::symlink(cache, &link).unwrap();
    let lock = wsd_flowcache::lock_cache(Path::new(cache)).unwrap();
    let (code, stderr) = read_only(&link, false);
    assert_eq!(code, Some(75), "{stderr}");
    drop(lock);
    let (code, stderr) = read_only(&link, true);
    assert_eq!(code, Some(0), "{stderr}");

    // A cache that a running -W run has not saved yet is locked too, and a
    // missing cache without a lock file gets none.
    let unsaved = dir.path().join("unsaved.cache");
    let lock = wsd_flowcache::lock_cache(&unsaved).unwrap();
    let (code, stderr) = read_only(&unsaved, false);
    assert_eq!(code, Some(75), "{stderr}");
    // So is a link to it, which points to no file yet.
    let dangling = dir.path().join("dangling.cache");
    std::os::unix::fs::symlink(&unsaved, &dangling).unwrap();
    let (code, stderr) = read_only(&dangling, false);
    assert_eq!(code, Some(75), "{stderr}");
    drop(lock);
    let (code, _) = read_only(&dir.path().join("missing.cache"), false);
    assert_eq!(code, Some(0));
    assert!(
        !dir.path().join(".missing.cache.lock").exists(),
        "a lock file was made"
    );
}

/// Flows idle past the timeout when the next file starts are reported with
/// their real last packet time before the new packets.
#[test]
fn stale_cached_flows_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let cache = cache.to_str().unwrap();
    let part1 = shared_dir().join("cases/B30_flow-across-files_part1.pcap");
    stdout_of(&["-W", cache, "-r", part1.to_str().unwrap(), "-L", "-"]);
    // The same packets again, an hour later in capture time, through a file of
    // our own.
    let later = dir.path().join("later.pcap");
    let mut source = FileSource::open(&part1).unwrap();
    let file = std::fs::File::create(&later).unwrap();
    let mut writer = PcapWriter::new(file, 1, 65535, true).unwrap();
    while let Some(packet) = source.next_packet().unwrap() {
        writer
            .write_packet(
                packet.ts.add_nanos(3_600_000_000_000),
                packet.data,
                packet.orig_len,
            )
            .unwrap();
    }
    writer.flush().unwrap();
    let out = stdout_of(&["-R", cache, "-V", "-r", later.to_str().unwrap(), "-L", "-"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("TCPFLOW startTime=2023/11/14 22:13:20 "),
        "{out}"
    );
    assert!(lines[0].contains(" packetsIn=2 packetsOut=3 "), "{out}");
    assert!(
        lines[1].starts_with('['),
        "the timed-out flow comes before the new packets: {out}"
    );
}

/// Writes the first `count` packets of `capture` to one file and the rest to
/// another.
fn split_at(capture: &Path, count: usize, dir: &Path) -> (PathBuf, PathBuf) {
    let mut source = FileSource::open(capture).unwrap();
    let head = dir.join("head.pcap");
    let tail = dir.join("tail.pcap");
    let mut writers = [&head, &tail].map(|path| {
        let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        PcapWriter::new(file, 1, 65535, false).unwrap()
    });
    let mut index = 0;
    while let Some(packet) = source.next_packet().unwrap() {
        let writer = &mut writers[usize::from(index >= count)];
        writer
            .write_packet(packet.ts, packet.data, packet.orig_len)
            .unwrap();
        index += 1;
    }
    for writer in &mut writers {
        writer.flush().unwrap();
    }
    (head, tail)
}

/// Returns the snapshot with the fields added after format version 1 cleared.
/// Version 1 kept no history or sequence state, and loading it derives the TCP
/// endpoint states from fewer facts.
fn without_later_fields(snapshot: &wsd_flow::TrackerSnapshot) -> wsd_flow::TrackerSnapshot {
    let mut snapshot = snapshot.clone();
    for flow in &mut snapshot.flows {
        flow.history = wsd_flow::History::EMPTY;
        flow.tunnel = None;
        flow.icmp = None;
        flow.interim_due = None;
        for side in [&mut flow.client, &mut flow.server] {
            side.state = wsd_flow::EndpointState::Inactive;
            side.stream = None;
        }
    }
    snapshot
}

/// Golden cache files of every released format version still load and continue
/// their flows exactly. Each was written once by `wsd -W` from the first six
/// packets of `fixtures/captures/lossy.pcap` and is never rewritten.
#[test]
fn golden_caches_continue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let capture = root.join("fixtures/captures/lossy.pcap");
    let dir = tempfile::tempdir().unwrap();
    let (head, tail) = split_at(&capture, 6, dir.path());
    let whole = stdout_of(&["-r", capture.to_str().unwrap(), "-L", "-"]);
    let fresh_cache = dir.path().join("fresh.cache");
    let before = stdout_of(&[
        "-W",
        fresh_cache.to_str().unwrap(),
        "-r",
        head.to_str().unwrap(),
        "-L",
        "-",
    ]);
    let fresh = wsd_flowcache::read_cache(&fresh_cache).unwrap().unwrap();

    for version in 1..=wsd_flowcache::FORMAT_VERSION {
        let golden = root.join(format!("fixtures/cache/v{version}-lossy-first6.cache"));
        let cache = wsd_flowcache::read_cache(&golden)
            .unwrap_or_else(|err| panic!("{}: {err}", golden.display()))
            .unwrap_or_else(|| panic!("{} is missing", golden.display()));
        assert_eq!(cache.version, version);
        if version == wsd_flowcache::FORMAT_VERSION {
            assert_eq!(
                cache.snapshot, fresh.snapshot,
                "version {version} restores the same state"
            );
        } else {
            assert_eq!(
                without_later_fields(&cache.snapshot),
                without_later_fields(&fresh.snapshot),
                "version {version} restores the state it kept"
            );
        }
        // A copy, because a run locks its -R cache with a file beside it.
        let copy = dir.path().join(format!("v{version}.cache"));
        std::fs::copy(&golden, &copy).unwrap();
        let after = stdout_of(&[
            "-R",
            copy.to_str().unwrap(),
            "-r",
            tail.to_str().unwrap(),
            "-L",
            "-",
        ]);
        if version == wsd_flowcache::FORMAT_VERSION {
            assert_eq!(
                format!("{before}{after}"),
                whole,
                "version {version} continues like one run"
            );
        } else {
            // Versions 1 and 2 keep no sequence state or history, and the
            // stream state of version 3 comes from a tracker that began a
            // stream one byte early after a missed SYN, so only the classic
            // keys continue exactly.
            assert_eq!(
                classic_keys(&format!("{before}{after}")),
                classic_keys(&whole),
                "version {version} continues like one run"
            );
        }
    }
}

/// Returns `text` with every record line cut after its `bytesOut` value.
fn classic_keys(text: &str) -> String {
    let mut classic = String::new();
    for line in text.lines() {
        let end = line.find(" bytesOut=").map_or(line.len(), |start| {
            let value = start + " bytesOut=".len();
            line[value..]
                .find(' ')
                .map_or(line.len(), |end| value + end)
        });
        classic.push_str(&line[..end]);
        classic.push('\n');
    }
    classic
}

/// A log that cannot be written stops the run with exit status 1, and the open
/// flows still reach the cache.
#[test]
fn full_disk_still_saves_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let capture = corpus("mixed_echo_500conns.pcap");
    let output = run_wsd(
        &[
            "-V",
            "-W",
            cache.to_str().unwrap(),
            "-r",
            capture.to_str().unwrap(),
            "-L",
            "/dev/full",
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to /dev/full"), "{stderr}");
    assert!(stderr.contains("saved to the flow cache"), "{stderr}");
    let saved = wsd_flowcache::read_cache(&cache)
        .unwrap()
        .expect("cache written");
    assert!(!saved.snapshot.flows.is_empty());
}

/// Writes a capture of `count` connections from distinct client ports, one every
/// `spacing` nanoseconds. Each is a SYN, answered by a RST-ACK when `refused` is
/// true (so records come out steadily) and left open otherwise (so every
/// connection goes to the cache).
fn syn_capture(path: &Path, count: u32, spacing: i64, refused: bool) {
    use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut writer = PcapWriter::new(file, 1, 65535, false).unwrap();
    let mut builder = FrameBuilder::new();
    let server = Endpoint::v4([10, 2, 0, 1], 80);
    let start = wsd_capture::Timestamp::from_parts(1_700_000_000, 0);
    for n in 0..count {
        let client = Endpoint::v4(
            [10, 1, (n >> 16) as u8, (n >> 8) as u8],
            1024 + (n % 60000) as u16,
        );
        let ts = start.add_nanos(i64::from(n) * spacing);
        let syn = builder.tcp(client, server, &TcpSegment::syn(n));
        writer.write_packet(ts, &syn, syn.len() as u32).unwrap();

        if refused {
            let reply = TcpSegment::new(0x14, 0, n.wrapping_add(1), 0);
            let rst = builder.tcp(server, client, &reply);
            writer
                .write_packet(ts.add_nanos(100_000), &rst, rst.len() as u32)
                .unwrap();
        }
    }
    writer.flush().unwrap();
}

/// SIGTERM in the middle of a capture file ends the run as the end of the
/// input does, with the records flushed and the open flows saved with -W. The
/// process then ends by the signal, after a message that names what the log
/// and the cache hold, so that a shell loop around it stops too.
#[test]
fn sigterm_saves_like_end_of_input() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let capture = dir.path().join("refused.pcap");
    syn_capture(&capture, 600_000, 1_000_000, true);
    // The capture named with -r, and given on standard input.
    for input in [capture.to_str().unwrap(), "-"] {
        let _ = std::fs::remove_file(&cache);
        sigterm_mid_file(&capture, &cache, input);
    }
}

/// Runs `wsd -W CACHE -r INPUT -L -` with `capture` on standard input, sends
/// SIGTERM once records come, and checks what [`sigterm_saves_like_end_of_input`]
/// expects.
fn sigterm_mid_file(capture: &Path, cache: &Path, input: &str) {
    let args = ["-W", cache.to_str().unwrap(), "-r", input, "-L", "-"];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(args)
        .stdin(std::fs::File::open(capture).unwrap())
        .env("TZ", "UTC")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first records, so that the signal comes while packets are read.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    while text.lines().count() < 100 {
        let read = std::io::BufRead::read_line(&mut stdout, &mut text).unwrap();
        assert!(read > 0, "wsd ended before the signal");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(rustix::process::Signal::TERM.as_raw()),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped by a signal"),
        "the signal came mid-run: {stderr}"
    );
    assert!(
        stderr.contains("SIGTERM stopped the run before the end of"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the -W cache the flows open then"),
        "{stderr}"
    );
    assert!(text.ends_with('\n'), "the last record is complete");
    assert!(text
        .lines()
        .all(|line| line.starts_with("TCPFLOW ") && line.contains(" communityId=1:")));
    let saved = wsd_flowcache::read_cache(cache)
        .unwrap()
        .expect("cache written");
    assert!(!saved.snapshot.flows.is_empty(), "open flows were saved");
}

/// A signal while the records of a capture's last packet wait on a blocked log
/// does not count the capture as read in part: the file was read to its end,
/// so the run ends with status 0.
#[test]
fn signal_after_last_packet_not_stop() {
    use std::io::Read;
    use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("jump.pcap");
    // 20,000 open connections, then a packet two days later that times them
    // all out, so that its records fill the log's pipe.
    let file = std::io::BufWriter::new(std::fs::File::create(&capture).unwrap());
    let mut writer = PcapWriter::new(file, 1, 65535, false).unwrap();
    let mut builder = FrameBuilder::new();
    let server = Endpoint::v4([10, 2, 0, 1], 80);
    let start = wsd_capture::Timestamp::from_parts(1_700_000_000, 0);
    for n in 0..20_001u32 {
        let client = Endpoint::v4([10, 1, (n >> 8) as u8, n as u8], 1024);
        let ts = match n {
            20_000 => start.add_nanos(2 * 86_400 * 1_000_000_000),
            _ => start.add_nanos(i64::from(n) * 1_000),
        };
        let syn = builder.tcp(client, server, &TcpSegment::syn(n));
        writer.write_packet(ts, &syn, syn.len() as u32).unwrap();
    }
    writer.flush().unwrap();
    drop(writer);
    // A last record cut short, as when the recorder was killed: no packet is
    // left after the one that timed the others out.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&capture)
        .unwrap();
    std::io::Write::write_all(&mut file, &[0; 10]).unwrap();
    drop(file);
    let size = std::fs::metadata(&capture).unwrap().len();
    let fifo = dir.path().join("log.fifo");
    let mkfifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(mkfifo.success());

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .arg("-r")
        .arg(&capture)
        .arg("-L")
        .arg(&fifo)
        .env("TZ", "UTC")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::fs::File::open(&fifo).unwrap();
    // Wait until wsd has read the whole capture, as its descriptor's offset
    // shows, while its records wait on the pipe that nothing reads yet.
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let started = std::time::Instant::now();
    let read_whole = || {
        std::fs::read_dir(&fds).unwrap().flatten().any(|entry| {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            let info = format!(
                "/proc/{}/fdinfo/{}",
                child.id(),
                entry.file_name().to_string_lossy()
            );
            target == capture
                && std::fs::read_to_string(info)
                    .unwrap_or_default()
                    .lines()
                    .any(|line| line == format!("pos:\t{size}"))
        })
    };
    while !read_whole() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "wsd did not read the capture"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let mut records = Vec::new();
    log.read_to_end(&mut records).unwrap();
    let output = child.wait_with_output().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("before the end of"), "{stderr}");
}

/// A second SIGTERM while the log waits on a full pipe ends the process at
/// once with status 1 and a message, and saves no cache. With a diagnostics
/// file, the message goes there too. Without `-W`, the message does not
/// mention a cache. On standard error it has the UTC time stamp of the
/// other lines there, and without a diagnostics file the `wsd:` prefix.
#[test]
fn second_signal_ends_blocked_run() {
    for (with_diag_file, with_cache) in [(false, true), (true, true), (false, false)] {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("wsd.cache");
        let capture = dir.path().join("refused.pcap");
        let diag = dir.path().join("diag.log");
        syn_capture(&capture, 20_000, 1_000_000, true);
        let mut args = vec!["-r", capture.to_str().unwrap()];
        if with_cache {
            args.extend(["-W", cache.to_str().unwrap()]);
        }
        if with_diag_file {
            args.extend(["--diag-file", diag.to_str().unwrap()]);
        }
        let mut child = spawn_log_to_pipe(&args);

        // Read the first record, then leave the pipe to fill up so that wsd blocks.
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(line.starts_with("TCPFLOW "), "{line}");
        std::thread::sleep(std::time::Duration::from_millis(500));
        terminate(&child);
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            child.try_wait().unwrap().is_none(),
            "wsd ended at the first signal, although its log was blocked"
        );

        terminate(&child);
        let status = wait_at_most(&mut child, 10);

        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{stderr}");
        let message = "a second SIGINT or SIGTERM ended the run at once:";
        let line = stderr
            .lines()
            .find(|line| line.contains(message))
            .unwrap_or_else(|| panic!("no message in {stderr}"));
        // 2026-12-04T18:10:14.123456Z wsd: a second SIGINT ...
        assert_eq!(&line[10..11], "T", "{line}");
        assert_eq!(&line[26..27], "Z", "{line}");
        if !with_diag_file {
            assert!(line[27..].starts_with(" wsd: "), "{line}");
        }
        assert_eq!(
            stderr.contains("-W cache was not saved, so an earlier cache file"),
            with_cache,
            "{stderr}"
        );
        assert!(!cache.exists(), "a cache was saved");
        if with_diag_file {
            let logged = std::fs::read_to_string(&diag).unwrap();
            assert!(logged.contains(message), "diagnostics file: {logged}");
        }
    }
}

/// A run still stopping 2 s after a first SIGTERM, here because its log waits
/// on a full pipe, reports it and what a second signal would lose. A second
/// signal then ends it.
#[test]
fn slow_stop_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_refused_with_cache(dir.path(), 20_000, 1_000_000);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.starts_with("TCPFLOW "), "{line}");

    // Standard error is read in a thread, so that the test receives each line
    // as it comes while wsd still runs.
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Taken before the signal, so that a test thread that waits for a
    // processor after sending it cannot see the notice come early.
    let signalled = std::time::Instant::now();
    terminate(&child);
    let notice = loop {
        let line = received
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("no notice within 10 s of the first signal");
        if line.contains("still stopping") {
            break line;
        }
    };
    assert!(signalled.elapsed() >= std::time::Duration::from_secs(2));
    assert!(notice.contains("the -W cache is not saved"), "{notice}");
    assert!(notice.contains("a second SIGINT or SIGTERM ends wsd at once"));
    assert!(child.try_wait().unwrap().is_none(), "wsd ended");

    terminate(&child);
    let status = wait_at_most(&mut child, 10);
    assert_eq!(status.code(), Some(1));
}

/// A run whose log blocks after the open flows were saved to the `-W` cache
/// reports, 2 s after a first SIGTERM, that they were saved and that the
/// records of the flows that ended before are still being written.
#[test]
fn slow_stop_after_cache_saved_noticed() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    // As in `second_signal_after_cache_saved`, the log blocks only after the
    // cache is saved.
    let mut child = spawn_refused_with_cache(dir.path(), 400, 100_000_000);
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    while !text.contains("to the flow cache") {
        let read = stderr.read_line(&mut text).unwrap();
        assert!(read > 0, "wsd ended before saving the cache: {text}");
    }

    terminate(&child);
    let mut notice = String::new();
    stderr.read_line(&mut notice).unwrap();
    assert!(notice.contains("still stopping"), "{notice}");
    assert!(
        notice.contains("the open flows were saved to the -W cache"),
        "{notice}"
    );
    assert!(!notice.contains("records of the open flows"), "{notice}");

    terminate(&child);
    let status = wait_at_most(&mut child, 10);
    assert_eq!(status.code(), Some(1));
}

/// A second SIGTERM while the cache is being saved, here blocked on logging
/// the save to a full standard error, reports that the cache may hold the open
/// flows, and the cache is indeed complete.
#[test]
fn second_signal_while_cache_saved() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let capture = dir.path().join("open.pcap");
    syn_capture(&capture, 500, 1_000_000, false);
    let log = dir.path().join("flows.log");

    // Standard error is a pipe filled up in advance, so logging the save blocks.
    let (mut reader, writer) = full_pipe();

    let args = [
        "-W",
        cache.to_str().unwrap(),
        "-r",
        capture.to_str().unwrap(),
        "-L",
        log.to_str().unwrap(),
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(args)
        .stderr(writer)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !cache.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the cache was never written"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));

    terminate(&child);
    std::thread::sleep(std::time::Duration::from_millis(100));
    terminate(&child);
    // Draining the pipe lets the blocked writes, and then the message, through.
    // The wait gives the signal thread time to take the second signal, and
    // stays well below the second after which it ends the process anyway.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader, &mut text).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("while the -W cache was being saved"),
        "{}",
        text.trim_start_matches('.')
    );
    let saved = wsd_flowcache::read_cache(&cache)
        .unwrap()
        .expect("cache written");
    assert_eq!(saved.snapshot.flows.len(), 500);
}

/// A second SIGTERM after the cache was saved, while the last records wait on
/// a full pipe, reports that the cache was saved, and the cache is complete.
#[test]
fn second_signal_after_cache_saved() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    // Refused connections linger for 10 s, so 400 of them 100 ms apart give
    // about 300 records: more than a pipe takes, less than the log's buffer.
    // So the first write of the log comes after the cache is saved.
    let mut child = spawn_refused_with_cache(dir.path(), 400, 100_000_000);

    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    while !text.contains("to the flow cache") {
        let read = stderr.read_line(&mut text).unwrap();
        assert!(read > 0, "wsd ended before saving the cache: {text}");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    for _ in 0..2 {
        terminate(&child);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("after the -W cache was saved"), "{text}");
    let saved = wsd_flowcache::read_cache(&cache).unwrap();
    assert!(saved.is_some(), "the cache is missing");
}

/// A second SIGTERM ends the process within a few seconds even when the log
/// and standard error are both full pipes, so that the message cannot be
/// written.
#[test]
fn second_signal_ends_run_without_message() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("refused.pcap");
    syn_capture(&capture, 20_000, 1_000_000, true);
    let (_log_reader, log_writer) = full_pipe();
    let (_stderr_reader, stderr_writer) = full_pipe();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", capture.to_str().unwrap(), "-L", "-"])
        .stdout(log_writer)
        .stderr(stderr_writer)
        .spawn()
        .unwrap();

    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "wsd ended on a full log"
    );
    terminate(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    terminate(&child);
    let status = wait_at_most(&mut child, 10);
    assert_eq!(status.code(), Some(1));
}

/// Returns a pipe whose buffer is full, so that the next write to it blocks.
fn full_pipe() -> (std::io::PipeReader, std::io::PipeWriter) {
    use std::io::Write;
    use std::os::fd::AsFd;

    let (reader, mut writer) = std::io::pipe().unwrap();
    let flags = rustix::fs::fcntl_getfl(writer.as_fd()).unwrap();
    rustix::fs::fcntl_setfl(writer.as_fd(), flags | rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut filled = 0;
    while writer.write(&[b'.'; 4096]).is_ok_and(|written| written > 0) {
        filled += 1;
    }
    assert!(filled > 0, "the pipe took nothing");
    rustix::fs::fcntl_setfl(writer.as_fd(), flags).unwrap();
    (reader, writer)
}

/// Starts wsd with `args`, writing its log (`-L -`) and its standard error to
/// pipes.
fn spawn_log_to_pipe(args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(args)
        .args(["-L", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts `wsd` on a capture in `dir` of `count` refused connections,
/// `spacing` nanoseconds apart, with its log on a pipe and its `-W` cache at
/// `wsd.cache` in `dir`.
fn spawn_refused_with_cache(dir: &Path, count: u32, spacing: i64) -> std::process::Child {
    let capture = dir.join("refused.pcap");
    syn_capture(&capture, count, spacing, true);
    let cache = dir.join("wsd.cache");
    let args = [
        "-W",
        cache.to_str().unwrap(),
        "-r",
        capture.to_str().unwrap(),
    ];
    spawn_log_to_pipe(&args)
}

/// Sends SIGTERM to `child`.
fn terminate(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
}

/// Waits for `child` to end, failing the test after `seconds`.
fn wait_at_most(child: &mut std::process::Child, seconds: u64) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(seconds),
            "wsd did not end within {seconds} s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Unmounts a tmpfs when dropped, also when the test fails.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A filesystem that fills up in the middle of a run: the run stops with exit
/// status 1 and a clear message, the log ends with a whole line, and the open
/// flows reach the cache elsewhere.
/// As root the test mounts a 64 KiB tmpfs; otherwise /dev/full is used instead, which
/// fails every write with the same error.
#[test]
fn filesystem_fills_midway() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("wsd.cache");
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mut _mount = None;
    let log = if is_root() {
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=64k",
                "tmpfs",
                small.to_str().unwrap(),
            ])
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs as root failed");
        _mount = Some(Mount(small.clone()));
        small.join("out.log")
    } else {
        PathBuf::from("/dev/full")
    };
    let capture = corpus("mixed_echo_500conns.pcap");
    let output = run_wsd(
        &[
            "-V",
            "-W",
            cache.to_str().unwrap(),
            "-r",
            capture.to_str().unwrap(),
            "-L",
            log.to_str().unwrap(),
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("saved to the flow cache"), "{stderr}");
    assert!(wsd_flowcache::read_cache(&cache).unwrap().is_some());
    if _mount.is_some() {
        // The partial line of the failed write is cut off, and the rest of it
        // does not follow the cut.
        let written = std::fs::read_to_string(&log).unwrap();
        assert!(written.len() > 1000, "the log has lines before the failure");
        assert!(written.ends_with('\n'));
        for line in written.lines() {
            let is_record = line
                .split_once(' ')
                .is_some_and(|(word, _)| word.ends_with("FLOW"));
            assert!(line.starts_with('[') || is_record, "broken line: {line}");
        }
    }
}

/// A run killed at any moment, also while it replaces the cache, leaves either
/// the old cache or the new one, never a torn file.
#[test]
fn kill_during_write_keeps_a_whole_cache() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("half-open.pcap");
    syn_capture(&capture, 200_000, 1_000, false);
    let cache = dir.path().join("wsd.cache");
    let args = [
        "-R",
        cache.to_str().unwrap(),
        "-W",
        cache.to_str().unwrap(),
        "-r",
        capture.to_str().unwrap(),
        "-L",
        "/dev/null",
    ];
    stdout_of(&args);
    let first = wsd_flowcache::read_cache(&cache)
        .unwrap()
        .expect("first cache");
    assert_eq!(first.snapshot.flows.len(), 200_000);

    // Kill later runs after growing delays, so that some die while reading and
    // some while writing the cache.
    for delay_ms in [50, 300, 600, 900, 1100, 1300, 1500, 1700] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let cache_now = wsd_flowcache::read_cache(&cache)
            .unwrap_or_else(|err| panic!("cache torn after a kill at {delay_ms} ms: {err}"))
            .expect("the cache still exists");
        assert_eq!(
            cache_now.snapshot.flows.len(),
            200_000,
            "kill at {delay_ms} ms"
        );
    }
}

/// --discard-bad-cache without -R is a usage error that names -R.
#[test]
fn discard_without_cache_rejected() {
    let capture = corpus("tcp_port_reuse.pcap");
    let args = [
        "--discard-bad-cache",
        "-r",
        capture.to_str().unwrap(),
        "-L",
        "-",
    ];
    let output = run_wsd(&args, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no cache is given: add -R FILE"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no packet is read");
}

/// A cache file that cannot be read is not a damaged cache: the run stops with
/// the read error, and `--discard-bad-cache` does not move the file aside.
/// Reading `/proc/self/mem` from its start fails with an I/O error, even for
/// root, which reads files of any permission.
#[test]
fn unreadable_cache_not_moved_aside() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/captures/lossy.pcap");
    let capture = capture.to_str().unwrap();
    for extra in [&[][..], &["--discard-bad-cache"][..]] {
        let mut args = vec!["-R", "/proc/self/mem", "-r", capture, "-L", "-"];
        args.extend(extra);

        let output = run_wsd(&args, LIMIT);

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains("Input/output error"), "{extra:?}: {stderr}");
        assert!(stderr.contains("left as it is"), "{extra:?}: {stderr}");
        assert!(
            !stderr.contains("--discard-bad-cache"),
            "{extra:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{extra:?}: no packet is read");
    }
}
