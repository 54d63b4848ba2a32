//! The `wsd` command as a user runs it: options, output paths, errors and exit
//! statuses.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{fixture, flow_lines, run_wsd, shared_dir};

const LIMIT: Duration = Duration::from_secs(120);

/// Returns a command that runs wsd without the caller's diagnostic filter,
/// for tests that set its working directory, environment or streams.
fn wsd_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"));
    command.env_remove("RUST_LOG");
    command
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn records_to_stdout() {
    let output = run_wsd(&["-r", &fixture("port_reuse.pcap"), "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("TCPFLOW startTime=2023/11/14 22:13:20 sourceMac=2:0:c0:a8:1:1 sourceIp=192.168.1.1 sourcePort=40000 destMac=2:0:a:0:0:1 destIp=10.0.0.1 destPort=80 duration=0 "), "{}", lines[0]);
    assert!(
        stderr_of(&output).contains("finished: 16 packets"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn verbose_adds_packet_lines() {
    let output = run_wsd(&["-V", "-r", &fixture("port_reuse.pcap"), "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    let packet_lines = text.lines().filter(|line| line.starts_with('[')).count();
    assert_eq!(packet_lines, 16);
    assert!(
        text.contains(" - port reuse") || text.contains("TCPFLOW"),
        "{text}"
    );
}

#[test]
fn several_inputs_one_stream() {
    let path = fixture("port_reuse.pcap");
    let once = run_wsd(&["-r", &path, "-L", "-"], LIMIT);
    let twice = run_wsd(&["-r", &path, "-r", &path, "-L", "-"], LIMIT);
    assert_eq!(twice.status.code(), Some(0));
    // Replayed, the second copy's SYNs reuse the ports of the first copy's
    // connections, so each copy's connections are records of their own.
    assert_eq!(
        flow_lines(&twice.stdout).len(),
        2 * flow_lines(&once.stdout).len()
    );
}

#[test]
fn log_file_in_log_directory() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("logs");
    let output = run_wsd(
        &["-r", &fixture("lossy.pcap"), "-l", logdir.to_str().unwrap()],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let names: Vec<String> = std::fs::read_dir(&logdir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let name = &names[0];
    let host = gethostname_for_test();
    assert!(name.starts_with(&format!("{host}_")), "{name}");
    let stamp = &name[host.len() + 1..];
    assert_eq!(stamp.len(), "YYYYMMDD_HHMMSS.log".len(), "{name}");
    assert!(stamp.ends_with(".log"), "{name}");
    assert_eq!(&stamp[8..9], "_", "{name}");
    assert!(stamp[..8].chars().all(|c| c.is_ascii_digit()), "{name}");
    let text = std::fs::read_to_string(logdir.join(name)).unwrap();
    assert_eq!(
        text.lines()
            .filter(|line| line.starts_with("TCPFLOW "))
            .count(),
        5
    );
}

fn gethostname_for_test() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn log_file_relative_path() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", &fixture("lossy.pcap"), "-L", "out.log"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(dir.path().join("out.log").is_file());
}

#[test]
fn missing_input_exit_two() {
    let output = run_wsd(&["-r", "/nonexistent/capture.pcap", "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("/nonexistent/capture.pcap"),
        "{}",
        stderr_of(&output)
    );
}

/// One capture named twice, also through a link, counts its packets twice,
/// and a warning before the run names both paths.
#[test]
fn same_input_twice_warns() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("again.pcap");
    std::os::unix::fs::symlink(fixture("lossy.pcap"), &link).unwrap();
    let output = run_wsd(
        &[
            "-r",
            &fixture("lossy.pcap"),
            "-r",
            link.to_str().unwrap(),
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(0));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("is the same file as"), "{stderr}");
    assert!(stderr.contains("again.pcap"), "{stderr}");
}

#[test]
fn not_a_capture_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.pcap");
    std::fs::write(&path, "these are notes, not packets\n").unwrap();
    let output = run_wsd(&["-r", path.to_str().unwrap(), "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("notes.pcap"),
        "{}",
        stderr_of(&output)
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_later_input_fails_before_reading() {
    let output = run_wsd(
        &[
            "-r",
            &fixture("lossy.pcap"),
            "-r",
            "/nonexistent/b.pcap",
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        output.stdout.is_empty(),
        "nothing is written before every input is checked"
    );
}

/// `-R` naming an input capture, even with `--discard-bad-cache`, is rejected
/// before the capture could be renamed as a bad cache.
#[test]
fn cache_source_equal_to_input_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.pcap");
    std::fs::copy(fixture("lossy.pcap"), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let capture = path.to_str().unwrap();

    let output = run_wsd(
        &[
            "-r",
            capture,
            "-R",
            capture,
            "--discard-bad-cache",
            "-L",
            "-",
        ],
        LIMIT,
    );

    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("flow cache"), "{stderr}");
    assert!(stderr.contains("also an input"), "{stderr}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the capture is untouched"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing renamed"
    );
}

#[test]
fn output_equal_to_input_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.pcap");
    std::fs::copy(fixture("lossy.pcap"), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let output = run_wsd(
        &["-r", path.to_str().unwrap(), "-L", path.to_str().unwrap()],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("also an input"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the capture is untouched"
    );
}

#[test]
fn output_directory_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_wsd(
        &[
            "-r",
            &fixture("lossy.pcap"),
            "-L",
            dir.path().to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("is a directory"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn write_failure_exit_one() {
    if !Path::new("/dev/full").exists() {
        panic!("/dev/full is needed to simulate a full disk");
    }
    for threads in ["1", "2"] {
        let output = run_wsd(
            &[
                "-r",
                &fixture("lossy.pcap"),
                "-L",
                "/dev/full",
                "--threads",
                threads,
            ],
            LIMIT,
        );
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(1), "{threads}: {stderr}");
        assert!(
            stderr.contains("cannot write to /dev/full: No space left on device"),
            "{threads}: {stderr}"
        );
        assert!(
            stderr.contains("free space there, or choose another log with -L FILE or -l DIR"),
            "{threads}: {stderr}"
        );
        // No byte reached /dev/full, so no record counts as written.
        assert!(
            stderr.contains(
                "0 flow records written and 5 not written because writing the log failed"
            ),
            "{threads}: {stderr}"
        );
    }
}

#[test]
fn version_and_help() {
    let output = run_wsd(&["-v"], LIMIT);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("wsd "));
    let output = run_wsd(&["-h"], LIMIT);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--read",
        "--logfile",
        "--logdir",
        "--verbose",
        "--debug",
        "--version",
        "--iniface",
        "--rflow",
        "--wflow",
        "--chroot",
        "--user",
        "--group",
        "--allow-root",
        "--pid-file",
        "--foreground",
        "--rotate-interval",
        "--rotate-size",
        "--diag-file",
        "--snaplen",
        "--no-promisc",
        "--buffer-size",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
}

/// A negative number for a numeric option is rejected as that option's invalid
/// value, not taken for an unknown option with a hint to write `-- -1`, which
/// would make it a filter expression. Values with a unit or without a leading
/// digit are included, since they do not read as plain numbers.
#[test]
fn negative_numbers_invalid_values() {
    let plain = [
        "--debug",
        "--max-flows",
        "--threads",
        "--community-id-seed",
        "--interim",
        "--stats",
        "--snaplen",
        "--buffer-size",
        "--rotate-interval",
        "--rotate-size",
        "--idle-timeout",
        "--linger",
        "--udp-timeout",
        "--icmp-timeout",
        "--other-timeout",
    ]
    .map(|option| (option, "-1"));
    let other = [
        ("--rotate-size", "-1K"),
        ("--stats", "-.5"),
        ("--interim", "-.5"),
    ];
    for (option, value) in plain.into_iter().chain(other) {
        let (status, stderr) = run_with_option(option, value);
        assert_eq!(status, Some(2), "{option} {value}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{option} <")),
            "{option} {value}: {stderr}"
        );
        assert!(!stderr.contains("-- -"), "{option} {value}: {stderr}");
    }
}

/// Runs `wsd` with `option value` on a fixture, returning the exit status and
/// standard error.
fn run_with_option(option: &str, value: &str) -> (Option<i32>, String) {
    let output = run_wsd(
        &[
            option,
            value,
            "-r",
            &fixture("lossy.pcap"),
            "-L",
            "/dev/null",
        ],
        LIMIT,
    );
    (output.status.code(), stderr_of(&output))
}

/// An interim interval below 1 second would be scheduled as 1 second, so it
/// is rejected with the value and the minimum.
#[test]
fn interim_below_one_second_rejected() {
    for value in ["0.5", "0.01", "1e-9", "0"] {
        let (status, stderr) = run_with_option("--interim", value);
        assert_eq!(status, Some(2), "{value}: {stderr}");
        assert!(
            stderr.contains(&format!("{value} seconds is below the minimum of 1 second")),
            "{value}: {stderr}"
        );
    }
    for value in ["1", "1.5", "1000000000"] {
        let (status, stderr) = run_with_option("--interim", value);
        assert_eq!(status, Some(0), "{value}: {stderr}");
    }
    let (status, stderr) = run_with_option("--interim", "1000000001");
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("above the maximum"), "{stderr}");
    let (status, stderr) = run_with_option("--interim", "soon");
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains("soon is not a number of seconds"),
        "{stderr}"
    );
}

/// Statistics intervals are counted in nanoseconds, so fractions of a second
/// are kept and only values below 1 ns are rejected.
#[test]
fn stats_below_one_nanosecond_rejected() {
    for value in ["1e-10", "0"] {
        let (status, stderr) = run_with_option("--stats", value);
        assert_eq!(status, Some(2), "{value}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{value} seconds is below the minimum of 0.000000001 seconds"
            )),
            "{value}: {stderr}"
        );
    }
    let output = run_wsd(
        &["--stats", "0.5", "-r", &fixture("lossy.pcap"), "-L", "-"],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let stats = text
        .lines()
        .filter(|line| line.starts_with("STATS"))
        .count();
    assert!(stats >= 2, "{text}");
}

/// Numbers beyond the range of their type are called too large, with the
/// maximum, not a malformed number.
#[test]
fn too_large_numbers_name_maximum() {
    let (status, stderr) = run_with_option("--max-flows", "99999999999999999999");
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains("too large: the maximum is 18446744073709551615"),
        "{stderr}"
    );
    for value in ["99999999999G", "99999999999999999999"] {
        let (status, stderr) = run_with_option("--rotate-size", value);
        assert_eq!(status, Some(2), "{value}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{value} is too large: the maximum is 18446744073709551615 bytes"
            )),
            "{value}: {stderr}"
        );
        assert!(stderr.contains("17179869183G"), "{value}: {stderr}");
    }
    let (status, stderr) = run_with_option("--rotate-size", "12X");
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("is not a size in bytes"), "{stderr}");
    let (status, stderr) = run_with_option("--rotate-interval", "99999999999999999999");
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains("too large: the maximum is 18446744073709551615"),
        "{stderr}"
    );
}

#[test]
fn bad_usage_exit_two() {
    let output = run_wsd(&["-d", "12", "-r", "x"], LIMIT);
    assert_eq!(output.status.code(), Some(2));
    let output = run_wsd(&["--no-such-option"], LIMIT);
    assert_eq!(output.status.code(), Some(2));
}

/// Every capture of the shared corpus ends with exit status 0, or 2 with a
/// message for the files that are not valid captures, without a hang and without
/// a flood of warnings.
#[test]
fn corpus_never_crashes() {
    let corpus = shared_dir().join("corpus");
    let mut checked = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "tsv") {
            continue;
        }
        let output = run_wsd(
            &["-V", "-r", path.to_str().unwrap(), "-L", "/dev/null"],
            LIMIT,
        );
        let stderr = stderr_of(&output);
        match output.status.code() {
            Some(0) => {}
            Some(2) => assert!(
                stderr.contains(&path.file_name().unwrap().to_string_lossy().into_owned()),
                "{}: {stderr}",
                path.display()
            ),
            other => panic!("{}: exit status {other:?}: {stderr}", path.display()),
        }
        let warnings = stderr.lines().filter(|line| line.contains("WARN")).count();
        assert!(
            warnings <= 5,
            "{}: {warnings} warnings:\n{stderr}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} corpus captures found");
}

/// Runs `wsd` on `bytes`, written to a capture file of its own, and returns
/// the records sorted, with the diagnostics. The run must succeed.
fn sorted_records_of(bytes: &[u8]) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.pcap");
    std::fs::write(&input, bytes).unwrap();
    let output = run_wsd(&["-r", input.to_str().unwrap(), "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    (lines, stderr_of(&output))
}

/// One flipped bit that dates a packet 68 years or 17 minutes ahead no longer
/// moves the capture clock, which timed out the open flows and split 20 of them.
/// The packet counts at the time of the packet before it, and the records are
/// those of the undamaged capture.
#[test]
fn flipped_time_bit_keeps_records() {
    let path = shared_dir().join("corpus/mixed_example_3_8MB.pcap");
    let original = std::fs::read(&path).unwrap();
    let mut offset = 24;
    for _ in 0..2000 {
        let caplen = u32::from_le_bytes(original[offset + 8..offset + 12].try_into().unwrap());
        offset += 16 + caplen as usize;
    }
    let (expected, _) = sorted_records_of(&original);
    // Bit 31 of the seconds is 68 years; bit 10 is 17 minutes, which split
    // the same 20 flows without a warning.
    for (byte, bit, gap) in [(3, 0x80, "24855 days after"), (1, 0x04, "17 minutes after")] {
        let mut damaged = original.clone();
        damaged[offset + byte] ^= bit;
        let (records, stderr) = sorted_records_of(&damaged);

        assert_eq!(records.len(), 136, "{stderr}");
        assert!(records == expected, "{stderr}");
        assert!(stderr.contains("packet 2001 at byte"), "{stderr}");
        assert!(stderr.contains(gap), "{stderr}");
        assert!(stderr.contains("1 lone packet time replaced"), "{stderr}");
        assert!(!stderr.contains("moved the capture clock"), "{stderr}");
    }
}

/// A real capture damaged in the middle gives the records of the undamaged
/// capture, except for the flows whose packets the damage took. The damage is a
/// captured length that cannot be stepped over, one that takes in 7 or 4 bytes
/// of the next record, or 3,000 zeroed bytes.
#[test]
fn capture_read_past_damage() {
    let path = shared_dir().join("corpus/mixed_example_3_8MB.pcap");
    let original = std::fs::read(&path).unwrap();
    let record_start = |index: usize| {
        let mut offset = 24;
        for _ in 0..index {
            let caplen = u32::from_le_bytes(original[offset + 8..offset + 12].try_into().unwrap());
            offset += 16 + caplen as usize;
        }
        offset
    };
    let damaged_at = record_start(2000);
    let (expected, _) = sorted_records_of(&original);
    assert_eq!(expected.len(), 136);

    let caplen_at = damaged_at + 8..damaged_at + 12;
    let caplen = u32::from_le_bytes(original[caplen_at.clone()].try_into().unwrap());
    for (name, damage) in [
        ("absurd captured length", u32::MAX.to_le_bytes().to_vec()),
        (
            "captured length 7 too long",
            (caplen + 7).to_le_bytes().to_vec(),
        ),
        // Every later header is then read 4 bytes late, as a valid one.
        (
            "captured length 4 too long",
            (caplen + 4).to_le_bytes().to_vec(),
        ),
        ("zeroed bytes", vec![0; 3000]),
    ] {
        let mut bytes = original.clone();
        let start = if damage.len() == 4 {
            caplen_at.start
        } else {
            damaged_at
        };
        bytes[start..start + damage.len()].copy_from_slice(&damage);

        let (lines, stderr) = sorted_records_of(&bytes);
        assert_eq!(lines.len(), expected.len(), "{name}: {stderr}");
        let changed = lines.iter().filter(|line| !expected.contains(line)).count();
        assert!(changed <= 2, "{name}: {changed} records changed\n{stderr}");
        assert!(stderr.contains("goes on at byte"), "{name}: {stderr}");
    }
}

fn copy_fixture(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::copy(fixture(name), &path).unwrap();
    path
}

#[test]
fn hard_link_to_input_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let link = dir.path().join("link.pcap");
    std::fs::hard_link(&input, &link).unwrap();
    let before = std::fs::read(&input).unwrap();
    let output = run_wsd(
        &["-r", input.to_str().unwrap(), "-L", link.to_str().unwrap()],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("also an input"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn stdin_file_as_log_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let before = std::fs::read(&input).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", "-", "-L", input.to_str().unwrap()])
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn bad_stdin_leaves_log_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("keep.log");
    std::fs::write(&log, "earlier records\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", "-", "-L", log.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"garbage, not packets\n").unwrap();
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "earlier records\n");
}

#[test]
fn stdin_twice_rejected() {
    let output = run_wsd(&["-r", "-", "-r", "-", "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("only once"), "{stderr}");
    assert!(stderr.contains("give -r - once"), "{stderr}");
}

#[test]
fn cache_over_input_or_log_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let before = std::fs::read(&input).unwrap();
    let output = run_wsd(
        &[
            "-r",
            input.to_str().unwrap(),
            "-W",
            input.to_str().unwrap(),
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("flow cache"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);

    // The same file as log and cache, also named two ways before it exists.
    let log = dir.path().join("out.log");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let roundabout = sub.join("..").join("twice.cache");
    let direct = dir.path().join("twice.cache");
    for (cache, log) in [(&log, &log), (&roundabout, &direct)] {
        let output = run_wsd(
            &[
                "-r",
                input.to_str().unwrap(),
                "-W",
                cache.to_str().unwrap(),
                "-L",
                log.to_str().unwrap(),
            ],
            LIMIT,
        );
        assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
        assert!(
            stderr_of(&output).contains("both the log file"),
            "{}",
            stderr_of(&output)
        );
    }
    assert!(!direct.exists(), "nothing is written");
}

/// A pid file or diagnostics file named like an input, a log or a flow cache
/// is rejected. The pid file is removed at exit, which took a log of the same
/// name with it, and diagnostics appended to a cache make it unreadable.
#[test]
fn side_file_overlap_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let input = input.to_str().unwrap();
    let cache = dir.path().join("flows.cache");
    std::fs::write(&cache, b"not touched").unwrap();
    let cache = cache.to_str().unwrap();
    let log = dir.path().join("out.log");
    let log = log.to_str().unwrap();
    let other = dir.path().join("other.txt");
    let other = other.to_str().unwrap();

    let cases: [(&[&str], &str); 7] = [
        (
            &["-P", log, "-L", log],
            "the pid file (-P) and the log file (-L)",
        ),
        (&["-P", input, "-L", log], "pid file"),
        (
            &["-P", cache, "-W", cache, "-L", log],
            "and the flow cache (-W)",
        ),
        (
            &["--diag-file", cache, "-R", cache, "-L", log],
            "and the flow cache to load (-R)",
        ),
        (
            &["--diag-file", log, "-L", log],
            "(--diag-file) and the log file (-L)",
        ),
        (&["--diag-file", input, "-L", log], "diagnostics file"),
        (
            &["-P", other, "--diag-file", other, "-L", log],
            "and the pid file (-P)",
        ),
    ];
    for (options, message) in cases {
        let mut args = vec!["-r", input];
        args.extend_from_slice(options);
        let output = run_wsd(&args, LIMIT);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");

        assert!(!Path::new(log).exists(), "{args:?}: no log is written");
        assert_eq!(std::fs::read(cache).unwrap(), b"not touched", "{args:?}");
    }
}

/// A diagnostics file that is an input or a flow cache is rejected before it
/// is opened, so that no warning lands in it first: an unknown `TZ` makes one.
#[test]
fn diag_file_over_input_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let input = input.to_str().unwrap();
    let cache = dir.path().join("flows.cache");
    std::fs::write(&cache, b"not touched").unwrap();
    let cache = cache.to_str().unwrap();
    let before = std::fs::read(input).unwrap();

    for (target, extra) in [(input, None), (cache, Some(["-R", cache]))] {
        let mut args = vec!["-r", input, "--diag-file", target, "-L", "/dev/null"];
        args.extend(extra.iter().flatten());
        let output = wsd_command()
            .args(&args)
            .env("TZ", "Nowhere/Bogus")
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("diagnostics file"), "{args:?}: {stderr}");
    }
    assert_eq!(std::fs::read(input).unwrap(), before);
    assert_eq!(std::fs::read(cache).unwrap(), b"not touched");
}

/// A `-R` cache that is a device or a named pipe is rejected before it is
/// opened: `/dev/zero` was read until memory ran out, and a named pipe
/// blocked the start until a writer came.
#[test]
fn cache_to_load_not_regular_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let fifo = dir.path().join("cache.fifo");
    let mkfifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(mkfifo.success());

    for cache in [Path::new("/dev/zero"), fifo.as_path()] {
        let cache = cache.to_str().unwrap();
        let args = [
            "-r",
            input.to_str().unwrap(),
            "-R",
            cache,
            "-L",
            "/dev/null",
        ];
        let output = run_wsd(&args, LIMIT);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{cache}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{cache}: {stderr}");
    }
}

/// `-L -` with standard output redirected to a file is checked as that file:
/// a pid file or `-W` cache of the same name is rejected, and the records
/// already in the file stay.
#[test]
fn redirected_stdout_log_checked() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let log = dir.path().join("records.log");
    std::fs::write(&log, b"earlier records\n").unwrap();
    let log_arg = log.to_str().unwrap();

    for (option, message) in [("-P", "the pid file (-P)"), ("-W", "the flow cache (-W)")] {
        let stdout = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let args = ["-r", input.to_str().unwrap(), "-L", "-", option, log_arg];
        let output = wsd_command().args(args).stdout(stdout).output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(std::fs::read(&log).unwrap(), b"earlier records\n");
    }
}

/// A symbolic link to a file that does not exist yet names that file: as a
/// log beside a `-W` cache of the link's target, saving the cache would
/// replace the log that the run wrote through the link.
#[test]
fn dangling_link_output_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let target = dir.path().join("target.x");
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink("target.x", &link).unwrap();
    let (target, link) = (target.to_str().unwrap(), link.to_str().unwrap());

    for options in [
        ["-L", link, "-W", target],
        ["-L", target, "--diag-file", link],
    ] {
        let mut args = vec!["-r", input.to_str().unwrap()];
        args.extend(options);
        let output = run_wsd(&args, LIMIT);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("is given as both"), "{args:?}: {stderr}");
        assert!(!Path::new(target).exists(), "{args:?}: nothing is written");
    }
}

/// A run given an `-L FILE` that another process holds locked, as a run
/// writing it does, stops with exit status 75 and leaves the log as it is,
/// instead of emptying it.
#[test]
fn log_in_use_busy() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let log = dir.path().join("shared.log");
    std::fs::write(&log, b"earlier records\n").unwrap();
    let holder = std::fs::File::open(&log).unwrap();
    holder.lock().unwrap();

    let output = run_wsd(
        &["-r", input.to_str().unwrap(), "-L", log.to_str().unwrap()],
        LIMIT,
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("locked by another process"), "{stderr}");
    assert_eq!(std::fs::read(&log).unwrap(), b"earlier records\n");

    // Once the lock is released, the next run replaces the log.
    drop(holder);
    let output = run_wsd(
        &["-r", input.to_str().unwrap(), "-L", log.to_str().unwrap()],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let written = std::fs::read_to_string(&log).unwrap();
    assert_eq!(flow_lines(written.as_bytes()).len(), 5, "{written}");
}

/// Names of the lock files (`.NAME.lock`) in `dir`.
fn lock_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.') && name.ends_with(".lock"))
        .collect()
}

/// A run rejected because an output would overwrite an input or the other
/// output stops before it locks its `-W` cache, since a lock file is never
/// removed once it exists.
#[test]
fn rejected_paths_leave_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");
    let input = input.to_str().unwrap();
    let cache = dir.path().join("flows.cache");
    let cache = cache.to_str().unwrap();
    let other = dir.path().join("other.cache");
    let other = other.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["-W", input, "-L", "-"], "flow cache"),
        (&["-W", cache, "-L", cache], "(-W)"),
        (&["-R", cache, "-W", other, "-L", cache], "(-R)"),
        (&["-R", input, "-W", other, "-L", "-"], "with -R"),
        (&["-W", other, "-L", input], "with -L"),
    ];
    for (options, message) in cases {
        let mut args = vec!["-r", input];
        args.extend_from_slice(options);
        let output = run_wsd(&args, LIMIT);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(lock_files(dir.path()), Vec::<String>::new(), "{args:?}");
    }
}

/// With `-c`, the `-W` cache is saved inside the new root, so it is compared
/// with the inputs there. The run stops before any chroot, so it needs no
/// privileges.
#[test]
fn chroot_cache_over_input_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let input = copy_fixture(&data, "lossy.pcap");
    let before = std::fs::read(&input).unwrap();
    let output = run_wsd(
        &[
            "-c",
            dir.path().to_str().unwrap(),
            "-r",
            input.to_str().unwrap(),
            "-W",
            "/data/lossy.pcap",
            "-L",
            "/dev/null",
        ],
        LIMIT,
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is also an input file"), "{stderr}");
    assert_eq!(lock_files(&data), Vec::<String>::new());
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

/// A relative `-c` directory is taken from the working directory. As root the
/// run enters it and warns that it stays root without `-u`. Otherwise it fails
/// with a message that root is needed.
#[test]
fn relative_chroot_entered() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jail")).unwrap();
    let input = copy_fixture(dir.path(), "lossy.pcap");

    let output = wsd_command()
        .args([
            "-c",
            "jail",
            "-r",
            input.to_str().unwrap(),
            "-L",
            "/dev/null",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    let is_root = rustix::process::geteuid().is_root();
    if is_root {
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("changed the root directory"), "{stderr}");
        assert!(!stderr.contains("dropped privileges"), "{stderr}");
        assert!(
            stderr.contains("running as root inside the new root"),
            "{stderr}"
        );
    } else {
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("must start as root"), "{stderr}");
    }
}

/// `-` is standard input or output for `-r` and `-L`, but a flow cache must
/// be a file, so `-R -` and `-W -` are usage errors, not a file named `-`.
#[test]
fn dash_cache_path_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for option in ["-R", "-W"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
            .args(["-r", &fixture("lossy.pcap"), "-L", "/dev/null", option, "-"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{option} -: {stderr}");
        assert!(
            stderr.contains("the flow cache must be a file"),
            "{option} -: {stderr}"
        );
        assert!(
            stderr.contains("such as flows.cache"),
            "{option} -: {stderr}"
        );
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 0, "{option} - created a file");
    }
}

/// The seconds of the idle timeouts and `--linger` are checked as they are
/// parsed, so the message shows the value as typed and the accepted range.
#[test]
fn timeout_values_echoed_as_typed() {
    let options = [
        "--idle-timeout",
        "--linger",
        "--udp-timeout",
        "--icmp-timeout",
        "--other-timeout",
    ];
    for option in options {
        for value in ["abc", "1e30", "-1", "1000000001", "NaN", "inf", ""] {
            let (status, stderr) = run_with_option(option, value);
            assert_eq!(status, Some(2), "{option} {value}: {stderr}");
            let expected = format!(
                "invalid value '{value}' for '{option} <SECONDS>': expected a number of \
                 seconds from 0 to 1000000000"
            );
            assert!(stderr.contains(&expected), "{option} {value}: {stderr}");
        }
        for value in ["0", "2.5", "1e9"] {
            let (status, stderr) = run_with_option(option, value);
            assert_eq!(status, Some(0), "{option} {value}: {stderr}");
        }
    }
}

#[test]
fn generated_logs_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let output = run_wsd(
            &[
                "-r",
                &fixture("lossy.pcap"),
                "-l",
                dir.path().to_str().unwrap(),
            ],
            LIMIT,
        );
        assert_eq!(output.status.code(), Some(0));
        assert!(
            stderr_of(&output).contains("writing records"),
            "the log's name is shown"
        );
    }
    let mut total = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        total += std::fs::read_to_string(entry.unwrap().path())
            .unwrap()
            .lines()
            .count();
    }
    assert_eq!(
        total, 15,
        "three runs of five records each, none overwritten"
    );
}

#[test]
fn fifo_input_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("capture.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let writer_path = fifo.clone();
    let source = fixture("lossy.pcap");
    let writer = std::thread::spawn(move || {
        let bytes = std::fs::read(source).unwrap();
        std::fs::write(writer_path, bytes).unwrap();
    });
    let output = run_wsd(&["-r", fifo.to_str().unwrap(), "-L", "-"], LIMIT);
    writer.join().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(flow_lines(&output.stdout).len(), 5);
}

#[test]
fn unwritable_stderr_no_panic() {
    let output = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "'{}' -r '{}' -L /dev/null 2>/dev/full; echo status=$?",
                env!("CARGO_BIN_EXE_wsd"),
                fixture("lossy.pcap")
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "status=0");
}

#[test]
fn discard_needs_cache_and_spares_directories() {
    let output = run_wsd(
        &[
            "--discard-bad-cache",
            "-r",
            &fixture("lossy.pcap"),
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let not_cache = dir.path().join("important");
    std::fs::create_dir(&not_cache).unwrap();
    let output = run_wsd(
        &[
            "-R",
            not_cache.to_str().unwrap(),
            "--discard-bad-cache",
            "-r",
            &fixture("lossy.pcap"),
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(not_cache.is_dir(), "the directory was not moved");
}

#[test]
fn option_values_explained() {
    let output = run_wsd(
        &[
            "--idle-timeout",
            "-1",
            "-r",
            &fixture("lossy.pcap"),
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("--idle-timeout"),
        "{}",
        stderr_of(&output)
    );
    let output = run_wsd(
        &["--max-flows", "0", "-r", &fixture("lossy.pcap"), "-L", "-"],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("at least 1 flow"),
        "{}",
        stderr_of(&output)
    );
}

/// The idle connection of the lossy fixture times out when the clock jumps
/// ten minutes; a jump of days is flagged as a likely bad timestamp. The
/// packets from the fourth on are dated ahead, so that the jump is not taken
/// for one damaged time.
#[test]
fn clock_jump_warned() {
    use wsd_capture::{FileSource, PacketSource, PcapWriter};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jump.pcap");
    let mut source = FileSource::open(Path::new(&fixture("port_reuse.pcap"))).unwrap();
    let mut writer =
        PcapWriter::new(std::fs::File::create(&path).unwrap(), 1, 65535, false).unwrap();
    let mut index = 0;
    while let Some(packet) = source.next_packet().unwrap() {
        // The clock steps 30 years ahead.
        let ts = if index >= 3 {
            packet.ts.add_nanos(30 * 365 * 86_400 * 1_000_000_000)
        } else {
            packet.ts
        };
        writer
            .write_packet(ts, packet.data, packet.orig_len)
            .unwrap();
        index += 1;
    }
    writer.flush().unwrap();
    let output = run_wsd(&["-r", path.to_str().unwrap(), "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr_of(&output).contains("more than a day"),
        "{}",
        stderr_of(&output)
    );
}

/// A capture of a link type that is not decoded gets one warning naming the
/// type, however many packets it has.
#[test]
fn unsupported_link_type_warned_once() {
    use wsd_capture::{PcapWriter, Timestamp};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user0.pcap");
    // Link type 147 is the first of the private DLT_USER types.
    let mut writer =
        PcapWriter::new(std::fs::File::create(&path).unwrap(), 147, 65535, false).unwrap();
    for second in 0..3 {
        let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + second * 1_000_000_000);
        writer.write_packet(ts, &[0u8; 40], 40).unwrap();
    }
    writer.flush().unwrap();

    let output = run_wsd(&["-r", path.to_str().unwrap(), "-L", "-"], LIMIT);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("WARN"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("link type 147 is not supported"),
        "{stderr}"
    );
    assert!(stderr.contains("unsupported-link-type 3"), "{stderr}");
}

/// Writes 3 whole 82-byte frames whose IPv4 header claims 65,535 bytes, each a
/// UDP datagram from 192.0.2.1:5000 to 192.0.2.2:53.
fn write_inflated_capture(path: &Path) {
    use wsd_capture::{PcapWriter, Timestamp};
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend_from_slice(&[0x45, 0, 0xff, 0xff, 0, 1, 0, 0, 64, 17, 0, 0]);
    frame.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
    frame.extend_from_slice(&[0x13, 0x88, 0, 53, 0xff, 0xeb, 0, 0]);
    frame.resize(82, 0);
    let mut writer =
        PcapWriter::new(std::fs::File::create(path).unwrap(), 1, 65535, false).unwrap();
    for second in 0..3 {
        let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + second * 1_000_000_000);
        writer.write_packet(ts, &frame, 82).unwrap();
    }
    writer.flush().unwrap();
}

fn udp_lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|line| line.starts_with("UDPFLOW "))
        .map(str::to_string)
        .collect()
}

/// An IP length longer than a whole frame counts in full with a warning, and
/// only the frame's bytes with --cap-ip-length.
#[test]
fn ip_length_beyond_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inflated.pcap");
    write_inflated_capture(&path);
    let capture = path.to_str().unwrap();

    let output = run_wsd(&["-r", capture, "-L", "-"], LIMIT);
    let stderr = stderr_of(&output);
    let lines = udp_lines(&output.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(" ipBytesOut=196605 "), "{}", lines[0]);
    assert!(
        stderr.contains("3 packets captured whole claimed an IP length"),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains(" INFO finished: "), "{stderr}");

    let output = run_wsd(&["--cap-ip-length", "-r", capture, "-L", "-"], LIMIT);
    let stderr = stderr_of(&output);
    let lines = udp_lines(&output.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(" ipBytesOut=204 "), "{}", lines[0]);
    assert!(lines[0].contains(" bytesOut=144 "), "{}", lines[0]);
    assert!(!stderr.contains("claimed an IP length"), "{stderr}");
}

/// Writes a little-endian microsecond pcap file, version 2.4, Ethernet, with a
/// 60-byte frame of zeros at each (seconds, microseconds) of `times`.
fn write_zero_frames(path: &Path, times: &[(u32, u32)]) {
    let zeros = [0; 60];
    let records: Vec<(u32, u32, &[u8])> = times
        .iter()
        .map(|&(seconds, micros)| (seconds, micros, &zeros[..]))
        .collect();
    write_frames(path, &records);
}

/// Writes a little-endian microsecond pcap file, version 2.4, Ethernet, with
/// each (seconds, microseconds, frame) of `records` captured whole. The
/// microseconds are written as given, even when they are a second or more.
fn write_frames(path: &Path, records: &[(u32, u32, &[u8])]) {
    let mut bytes = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[2, 0, 4, 0]);
    for word in [0u32, 0, 65_535, 1] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    for &(seconds, micros, frame) in records {
        let len = frame.len() as u32;
        for word in [seconds, micros, len, len] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.extend_from_slice(frame);
    }
    std::fs::write(path, bytes).unwrap();
}

/// A packet dated more than a day before the previous packet of its input is
/// warned about, with one thread or two, since its flow's record may start at
/// that date. A packet an hour early is not, and neither is a second input
/// that starts a day before the first one, which has a warning of its own.
/// Two such packets come in a row, because one alone takes the time of the
/// packet before it.
#[test]
fn clock_step_back_warned() {
    let dir = tempfile::tempdir().unwrap();
    let back = dir.path().join("back.pcap");
    write_zero_frames(
        &back,
        &[
            (1_700_200_000, 0),
            (1_700_200_001, 0),
            (1_700_196_401, 0),
            (1_700_000_000, 0),
            (1_700_000_001, 0),
            (1_700_200_002, 0),
        ],
    );
    let earlier = dir.path().join("earlier.pcap");
    write_zero_frames(&earlier, &[(1_699_000_000, 0), (1_699_000_001, 0)]);
    let (back, earlier) = (back.to_str().unwrap(), earlier.to_str().unwrap());

    for threads in ["1", "2"] {
        let args = ["--threads", threads, "-r", back, "-r", earlier, "-L", "-"];
        let output = run_wsd(&args, LIMIT);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "1 packet (packet 4 of {back}) was dated more than a day before the \
                 previous packet"
            )),
            "--threads {threads}: {stderr}"
        );
        assert!(
            stderr.contains("before the capture clock"),
            "--threads {threads}: {stderr}"
        );
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.contains(" INFO finished: 8 packets, "), "{stderr}");
    }
}

/// Packet times out of range are warned about at the first, and counted in the
/// summary line.
#[test]
fn out_of_range_times_in_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offset.pcapng");
    let block = |kind: u32, mut body: Vec<u8>| {
        body.resize(body.len().next_multiple_of(4), 0);
        let len = (body.len() + 12) as u32;
        let mut bytes = [kind.to_le_bytes(), len.to_le_bytes()].concat();
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes
    };
    // A section header, little-endian, version 1.0, of unknown length.
    let mut header = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    header.extend_from_slice(&[1, 0, 0, 0]);
    header.extend_from_slice(&[0xff; 8]);
    let mut bytes = block(0x0a0d_0d0a, header);
    // An Ethernet interface whose if_tsoffset (option 14) is -2^63 seconds.
    let mut interface = vec![1, 0, 0, 0, 0, 0, 0, 0, 14, 0, 8, 0];
    interface.extend_from_slice(&i64::MIN.to_le_bytes());
    interface.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&block(1, interface));
    for _ in 0..2 {
        let mut packet = Vec::new();
        for word in [0u32, 0, 1, 60, 60] {
            packet.extend_from_slice(&word.to_le_bytes());
        }
        packet.extend_from_slice(&[0; 60]);
        bytes.extend_from_slice(&block(6, packet));
    }
    std::fs::write(&path, bytes).unwrap();

    let output = run_wsd(&["-r", path.to_str().unwrap(), "-L", "-"], LIMIT);

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("packet 1 has a time before 1677-09-21"),
        "{stderr}"
    );
    assert!(!stderr.contains("packet 2 has a time"), "{stderr}");
    assert!(
        stderr.contains("capture records, 2 packet times out of range;"),
        "{stderr}"
    );
}

/// A microsecond field of a second or more is damaged: one warning for the
/// file names it, and the summary line counts every such packet.
#[test]
fn long_microsecond_field_warned_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usec.pcap");
    let start = 1_700_000_000;
    write_zero_frames(
        &path,
        &[(start, 5), (start + 1, 4_000_000), (start + 2, 3_000_000)],
    );

    let output = run_wsd(&["-r", path.to_str().unwrap(), "-L", "-"], LIMIT);

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("WARN"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("4000000 microseconds"), "{stderr}");
    assert!(
        warnings[0].contains(&format!("file={}", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "0 unreadable capture records, 2 packet times with a sub-second field of a \
             second or more;"
        ),
        "{stderr}"
    );
}

/// Sub-second fields of a second or more, here nanoseconds written into a
/// capture of microsecond times, do not move the capture clock. Read as
/// seconds plus the field, two UDP packets in a row moved it 900 s ahead,
/// which timed out an open TCP connection and split its record in two.
#[test]
fn long_microsecond_fields_keep_flows_whole() {
    use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

    let client = Endpoint::v4([10, 0, 0, 1], 40_000);
    let server = Endpoint::v4([10, 0, 0, 2], 443);
    let mut builder = FrameBuilder::new();
    let syn = builder.tcp(client, server, &TcpSegment::syn(1));
    let ack = builder.tcp(client, server, &TcpSegment::new(0x10, 2, 0, 0));
    let udp = builder.udp(
        Endpoint::v4([10, 0, 0, 3], 5000),
        Endpoint::v4([10, 0, 0, 4], 53),
        20,
    );
    let start = 1_700_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nanos_as_micros.pcap");
    write_frames(
        &path,
        &[
            (start, 0, &syn),
            (start + 1, 900_000_000, &udp),
            (start + 2, 900_000_000, &udp),
            (start + 3, 0, &ack),
        ],
    );

    let output = run_wsd(&["-r", path.to_str().unwrap(), "-L", "-"], LIMIT);

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let text = String::from_utf8_lossy(&output.stdout);
    let records_of = |kind: &str| -> Vec<&str> {
        text.lines()
            .filter(|line| line.starts_with(&format!("{kind} ")))
            .collect()
    };
    let tcp = records_of("TCPFLOW");
    assert_eq!(tcp.len(), 1, "{text}");
    assert_eq!(common::field(tcp[0], "packetsOut"), "2", "{}", tcp[0]);
    assert_eq!(common::field(tcp[0], "duration"), "3", "{}", tcp[0]);
    let udp = records_of("UDPFLOW");
    assert_eq!(udp.len(), 1, "{text}");
    assert_eq!(
        common::field(udp[0], "startTime"),
        "2023/11/14 22:13:21",
        "{}",
        udp[0]
    );
    assert!(
        stderr.contains("2 packet times with a sub-second field of a second or more"),
        "{stderr}"
    );
}

/// A jump of the capture clock by more than a day is warned about before the
/// summary line, which stays the last line of the run.
#[test]
fn clock_jump_warned_before_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jump.pcap");
    write_zero_frames(
        &path,
        &[(1_700_000_000, 0), (1_700_000_001, 0), (1_700_200_000, 0)],
    );

    let path = path.to_str().unwrap();

    let output = run_wsd(&["-r", path, "-L", "-"], LIMIT);

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "1 packet (packet 3 of {path}) moved the capture clock forward by more than a day"
        )),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains(" INFO finished: 3 packets, "), "{stderr}");
}

/// The warnings about packets that jumped the capture clock forward or
/// stepped back by more than a day name the input and number of the first
/// such packet, with one thread or two. Here it is in the second input.
/// Debug messages name each such packet.
#[test]
fn clock_step_warnings_name_packet() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.pcap");
    write_zero_frames(&first, &[(1_700_000_000, 0), (1_700_000_001, 0)]);
    // Packets 3 and 7 jump the clock, and packet 5 steps back. Each comes
    // with a packet near it, because a packet alone takes the time of the
    // packet before it.
    let second = dir.path().join("second.pcap");
    write_zero_frames(
        &second,
        &[
            (1_700_000_002, 0),
            (1_700_000_003, 0),
            (1_700_300_000, 0),
            (1_700_300_001, 0),
            (1_700_000_004, 0),
            (1_700_000_005, 0),
            (1_700_600_000, 0),
            (1_700_600_001, 0),
        ],
    );
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());

    for threads in ["1", "2"] {
        let args = [
            "--threads",
            threads,
            "-d",
            "1",
            "-r",
            first,
            "-r",
            second,
            "-L",
            "-",
        ];
        let output = run_wsd(&args, LIMIT);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "2 packets (the first is packet 3 of {second}) moved the capture clock \
                 forward by more than a day at once"
            )),
            "--threads {threads}: {stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "1 packet (packet 5 of {second}) was dated more than a day before the \
                 previous packet"
            )),
            "--threads {threads}: {stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "packet 7 of {second} moved the capture clock forward by more than a day"
            )),
            "--threads {threads}: {stderr}"
        );
    }
}

/// The same connection on three VLANs of a trunk: three flows by default, one
/// with --no-vlan-key.
#[test]
fn vlan_key_option() {
    let capture = shared_dir().join("corpus/vlan_collisions_same_tuple.pcap");
    let capture = capture.to_str().unwrap();
    let output = run_wsd(&["-r", capture, "-L", "-"], LIMIT);
    assert_eq!(flow_lines(&output.stdout).len(), 3);
    let output = run_wsd(&["--no-vlan-key", "-r", capture, "-L", "-"], LIMIT);
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(" packetsIn=21 packetsOut=21 bytesIn=15717 bytesOut=1116 "),
        "{}",
        lines[0]
    );
}

#[test]
fn unknown_time_zone_warned() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", &fixture("lossy.pcap"), "-L", "-"])
        .env("TZ", "Nowhere/Atlantis")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr_of(&output).contains("Nowhere/Atlantis"),
        "{}",
        stderr_of(&output)
    );
    let lines = flow_lines(&output.stdout);
    assert!(
        lines[0].starts_with("TCPFLOW startTime=2023/11/14 22:13:20 "),
        "UTC: {}",
        lines[0]
    );
}

/// VXLAN-encapsulated SSH connections are accounted to their inner flows, or to
/// the outer UDP conversation (no TCP records) with --no-decapsulate.
#[test]
fn decapsulation_option() {
    let capture = shared_dir().join("corpus/vxlan_tcp.pcap");
    let capture = capture.to_str().unwrap();
    let output = run_wsd(&["-r", capture, "-L", "-"], LIMIT);
    let lines = flow_lines(&output.stdout);
    assert_eq!(lines.len(), 4);
    assert!(lines[0].contains(" destPort=22 "), "{}", lines[0]);
    let output = run_wsd(&["--no-decapsulate", "-r", capture, "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(flow_lines(&output.stdout).len(), 0);
}

/// With `-c`, a `-R` cache in a missing directory gets the path outside the
/// new root as advice, because the cache is loaded before the chroot.
#[test]
fn cache_to_load_names_chroot() {
    let root = tempfile::tempdir().expect("temporary directory");
    let root_path = root.path().to_str().expect("UTF-8 path");
    let input = fixture("lossy.pcap");
    let cache = "/wsd-missing-state/flows.cache";

    let output = run_wsd(
        &["-r", &input, "-L", "-", "-c", root_path, "-R", cache],
        LIMIT,
    );

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("read before the chroot"), "{stderr}");
    let outside = format!("such as {root_path}/wsd-missing-state/flows.cache");
    assert!(stderr.contains(&outside), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// A `-R` path that already lies under the new root of `-c` gets no advice
/// to prefix the root again.
#[test]
fn cache_under_chroot_no_advice() {
    let root = tempfile::tempdir().expect("temporary directory");
    let root_path = root.path().to_str().expect("UTF-8 path");
    let input = fixture("lossy.pcap");
    let cache = format!("{root_path}/missing-state/flows.cache");

    let output = run_wsd(
        &["-r", &input, "-L", "-", "-c", root_path, "-R", &cache],
        LIMIT,
    );

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("create it first"), "{stderr}");
    assert!(!stderr.contains("read before the chroot"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn cache_path_not_regular_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = fixture("port_reuse.pcap");
    let directory = dir.path().to_string_lossy().into_owned();
    let missing_dir = dir.path().join("missing/flows.cache");
    let link = dir.path().join("link.cache");
    std::os::unix::fs::symlink(dir.path().join("target.cache"), &link).expect("symlink");
    // A wrong path is a usage error (2), and a missing directory a path the
    // system cannot create the cache in (73), as for a log.
    let cases = [
        (directory.as_str(), "is a directory", 2),
        ("/dev/null", "not a regular file", 2),
        (link.to_str().expect("UTF-8 path"), "symbolic link", 2),
        (
            missing_dir.to_str().expect("UTF-8 path"),
            "create it first",
            73,
        ),
    ];
    for (cache, message, status) in cases {
        let output = run_wsd(&["-r", &input, "-L", "-", "-W", cache], LIMIT);
        assert_eq!(output.status.code(), Some(status), "-W {cache}");
        assert!(
            stderr_of(&output).contains(message),
            "-W {cache}: {}",
            stderr_of(&output)
        );
        assert!(
            output.stdout.is_empty(),
            "-W {cache} read the input before failing"
        );
    }
    let null = Path::new("/dev/null").metadata().expect("/dev/null");
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &null.file_type()
    ));
}

#[test]
fn log_same_as_loaded_cache() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cache = dir.path().join("flows.cache");
    let cache = cache.to_str().expect("UTF-8 path");
    let input = fixture("port_reuse.pcap");
    let saved = run_wsd(&["-r", &input, "-L", "/dev/null", "-W", cache], LIMIT);
    assert_eq!(saved.status.code(), Some(0), "{}", stderr_of(&saved));
    let before = std::fs::read(cache).expect("cache written");
    let output = run_wsd(&["-r", &input, "-R", cache, "-L", cache], LIMIT);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("(-R)"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(std::fs::read(cache).expect("cache kept"), before);
}

#[test]
fn compat_with_json_rejected() {
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "-L",
            "-",
            "--compat",
            "--format",
            "json",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("--compat"),
        "{}",
        stderr_of(&output)
    );
}

/// A second capture given without its own `-r` becomes the start of the
/// filter, and the error about the filter's syntax then names that file.
#[test]
fn file_in_filter_named() {
    let second = fixture("lossy.pcap");
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            &second,
            "-L",
            "/dev/null",
        ],
        LIMIT,
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid filter expression"), "{stderr}");
    assert!(stderr.contains(&format!("{second} is a file")), "{stderr}");
    assert!(stderr.contains("give it its own -r"), "{stderr}");
}

/// Interim records and STATS lines have no place in the classic format, whose
/// parsers would count an interim record as another flow.
#[test]
fn compat_with_interim_or_stats_rejected() {
    for (option, value) in [("--interim", "10"), ("--stats", "60")] {
        let output = run_wsd(
            &[
                "-r",
                &fixture("port_reuse.pcap"),
                "-L",
                "-",
                "--compat",
                option,
                value,
            ],
            LIMIT,
        );
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{option}: {stderr}");
        assert!(
            stderr.contains(&format!("--compat cannot be used with {option}")),
            "{option}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{option}: records were written");
    }
}

/// Options that contradict each other are reported before anything is set up,
/// so that no failure to reach syslog or to open the diagnostics file hides
/// them. `-L -` without `-r` or `-i` would start a daemon, which closes
/// standard output.
#[test]
fn option_conflicts_reported_first() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").join("diag.log");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["-L", "-", "--diag-file", missing],
            "which a daemon closes",
        ),
        (
            &[
                "-i",
                "lo",
                "-F",
                "--compat",
                "--stats",
                "60",
                "--diag-file",
                missing,
            ],
            "--compat cannot be used with --stats",
        ),
        (
            &[
                "-i",
                "lo",
                "-F",
                "--threads",
                "2",
                "-V",
                "--diag-file",
                missing,
            ],
            "-V cannot be used with --threads 2",
        ),
        (
            &["--discard-bad-cache", "--diag-file", missing],
            "no cache is given: add -R FILE",
        ),
        (
            &["--threads", "4", "--max-flows", "2", "--diag-file", missing],
            "--max-flows 2 is less than --threads 4",
        ),
    ];
    for (args, message) in cases {
        let output = run_wsd(args, LIMIT);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("diagnostics file"), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// A diagnostics file that cannot be created is named with what to do.
#[test]
fn unopenable_diag_file_advice() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing").join("diag.log");
    let output = run_wsd(
        &[
            "-r",
            &fixture("port_reuse.pcap"),
            "-L",
            "/dev/null",
            "--diag-file",
            missing.to_str().unwrap(),
        ],
        LIMIT,
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot open diagnostics file"), "{stderr}");
    assert!(
        stderr.contains("create its directory first or give another path with --diag-file"),
        "{stderr}"
    );
}

/// Starts `wsd -r - -L LOG`, writes `capture` to its standard input and leaves
/// the pipe open, so that wsd is still waiting for input when the caller sends a
/// signal. Returns the process and the open pipe.
fn start_on_silent_pipe(
    log: &Path,
    capture: &[u8],
) -> (std::process::Child, std::process::ChildStdin) {
    start_on_silent_pipe_then(log, capture, &[])
}

/// Does what [`start_on_silent_pipe`] does, with the inputs `more` after
/// standard input.
fn start_on_silent_pipe_then(
    log: &Path,
    capture: &[u8],
    more: &[&str],
) -> (std::process::Child, std::process::ChildStdin) {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", "-"])
        .args(more.iter().flat_map(|path| ["-r", path]))
        .arg("-L")
        .arg(log)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wsd");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(capture).expect("write the capture");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));
    (child, stdin)
}

fn send_signal(child: &std::process::Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("positive pid");
    rustix::process::kill_process(pid, signal).expect("send the signal");
}

/// Each thread's table needs room for a flow, so --max-flows below --threads
/// is a usage error that names the smallest value that works.
#[test]
fn max_flows_below_threads_rejected() {
    let output = wsd_command()
        .args(["--threads", "4", "--max-flows", "2", "-r"])
        .arg(fixture("port_reuse.pcap"))
        .args(["-L", "/dev/null"])
        .output()
        .expect("run wsd");
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--max-flows 2 is less than --threads 4"),
        "{stderr}"
    );
    assert!(stderr.contains("give --max-flows 4 or more"), "{stderr}");
}

#[test]
fn sighup_without_rotation_ignored() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("flows.log");
    let capture = std::fs::read(fixture("port_reuse.pcap")).expect("fixture");
    let (child, stdin) = start_on_silent_pipe(&log, &capture);
    send_signal(&child, rustix::process::Signal::HUP);
    std::thread::sleep(Duration::from_millis(200));
    drop(stdin);
    let output = child.wait_with_output().expect("wait for wsd");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = std::fs::read_to_string(&log).expect("log written");
    assert_eq!(flow_lines(text.as_bytes()).len(), 2, "{text}");
}

#[test]
fn sigterm_ends_stalled_pipe() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("flows.log");
    let capture = std::fs::read(fixture("port_reuse.pcap")).expect("fixture");
    let (mut child, stdin) = start_on_silent_pipe(&log, &capture);
    send_signal(&child, rustix::process::Signal::TERM);
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait for wsd").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "wsd ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let output = child.wait_with_output().expect("wait for wsd");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = std::fs::read_to_string(&log).expect("log written");
    assert_eq!(flow_lines(text.as_bytes()).len(), 2, "{text}");
}

/// SIGTERM ends a run on a pipe with status 0, because a signal is how such a
/// run ends, but a run with capture files still unread after the pipe ends by
/// the signal and names them.
#[test]
fn sigterm_with_file_unread_ends_by_signal() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("flows.log");
    let capture = std::fs::read(fixture("port_reuse.pcap")).expect("fixture");
    let later = fixture("lossy.pcap");
    let last = fixture("tagged_v6.pcap");
    let (child, stdin) = start_on_silent_pipe_then(&log, &capture, &[&later, &last]);
    send_signal(&child, rustix::process::Signal::TERM);
    let output = child.wait_with_output().expect("wait for wsd");
    drop(stdin);

    let stderr = stderr_of(&output);
    let signal = rustix::process::Signal::TERM.as_raw();
    assert_eq!(output.status.signal(), Some(signal), "{stderr}");
    let message = format!("SIGTERM stopped the run before the end of {later} and {last}");
    assert!(stderr.contains(&message), "{stderr}");
    assert!(stderr.contains("then the input after it"), "{stderr}");
    assert!(stderr.contains("the flows open then included"), "{stderr}");
    let text = std::fs::read_to_string(&log).expect("log written");
    assert_eq!(flow_lines(text.as_bytes()).len(), 2, "{text}");
}

/// The first eviction from a full flow table is warned about at the next tick
/// of the coarse clock, while the run goes on, and the summary counts it.
#[test]
fn full_table_warned_during_run() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let capture = std::fs::read(fixture("lossy.pcap")).expect("fixture");
    // The last record again, to be sent after a pause: 16 bytes of header,
    // then the captured length that the header gives.
    let mut last = 24;
    let mut start = 24;
    while last < capture.len() {
        let caplen = u32::from_le_bytes(capture[last + 8..last + 12].try_into().unwrap());
        start = last;
        last += 16 + caplen as usize;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["--max-flows", "1", "-r", "-", "-L", "/dev/null"])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wsd");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&capture).expect("write the capture");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(600));
    stdin.write_all(&capture[start..]).expect("write a record");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    drop(stdin);
    let output = child.wait_with_output().expect("wait for wsd");

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let warning = stderr
        .lines()
        .position(|line| line.contains("the flow table is full (--max-flows 1)"));
    let summary = stderr.lines().position(|line| line.contains("finished: "));
    assert!(warning.is_some(), "{stderr}");
    assert!(warning < summary, "{stderr}");
    assert!(
        !stderr.contains("(0 evicted from a full table)"),
        "{stderr}"
    );
}

/// A SIGINT while `-r -` waits for the rest of a record ends the run without
/// the warning that the capture is cut short, because the data did not end.
#[test]
fn sigint_inside_record_not_truncation() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("flows.log");
    let capture = std::fs::read(fixture("port_reuse.pcap")).expect("fixture");
    let (child, stdin) = start_on_silent_pipe(&log, &capture[..capture.len() - 10]);
    send_signal(&child, rustix::process::Signal::INT);
    let output = child.wait_with_output().expect("wait for wsd");
    drop(stdin);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    assert!(!stderr.contains("ends inside the record"), "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
}

/// A SIGHUP while `-r -` waits for its file header, as log rotation can send
/// to a run on a quiet pipe, does not end the run.
#[test]
fn hangup_before_header_ignored() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["-r", "-", "-L", "-"])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(100));
    let mut stdin = child.stdin.take().unwrap();
    // The write fails if the signal ended the run, and the status shows it.
    let _ = stdin.write_all(&std::fs::read(fixture("lossy.pcap")).unwrap());
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(flow_lines(&output.stdout).len(), 5, "{stderr}");
}

/// One input that is not a capture stops a run of several before any is
/// read, and the message explains how to read the others.
#[test]
fn bad_input_among_several_explained() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, "abcdefghij").unwrap();
    let output = run_wsd(
        &[
            "-r",
            &fixture("lossy.pcap"),
            "-r",
            bad.to_str().unwrap(),
            "-L",
            "-",
        ],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No input was read"), "{stderr}");
    assert!(stderr.contains("read the other input"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// A log that cannot be created ends the run with 73, which a wrapper retries
/// once the directory is fixed, not with 2, which it reads as a bad capture.
#[test]
fn uncreatable_log_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("missing").join("wsd.log");
    let output = run_wsd(
        &["-r", &fixture("lossy.pcap"), "-L", log.to_str().unwrap()],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(73), "{stderr}");
    assert!(stderr.contains("cannot create log file"), "{stderr}");
    assert!(stderr.contains("create its directory first"), "{stderr}");

    // A log directory that is a file cannot hold logs: that stays a usage error.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let output = run_wsd(
        &["-r", &fixture("lossy.pcap"), "-l", file.to_str().unwrap()],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
}

/// Records are held in memory only in a live capture: a run over files stops
/// at its first failed write, so `--hold-size` with `-r` is a usage error.
#[test]
fn hold_size_needs_live_capture() {
    let (status, stderr) = run_with_option("--hold-size", "1M");
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains("'--hold-size <BYTES>' cannot be used with"),
        "{stderr}"
    );
}

/// A write past the file size limit fails as a write to a full disk does:
/// exit status 1, a log of whole lines, advice that names the limit, and no
/// temporary cache file left behind. Before, SIGXFSZ killed the process.
#[test]
fn file_size_limit_fails_write() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("flows.log");
    let cache = dir.path().join("flows.cache");
    let capture = shared_dir().join("corpus/mixed_example_3_8MB.pcap");
    let script = "ulimit -f 16 && exec \"$0\" -r \"$1\" -L \"$2\" -W \"$3\"";
    let output = std::process::Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_wsd")])
        .arg(&capture)
        .arg(&log)
        .arg(&cache)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let stderr = stderr_of(&output);

    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("raise the file size limit"), "{stderr}");
    let text = std::fs::read(&log).unwrap();
    assert!(!text.is_empty(), "{stderr}");
    assert_eq!(text.last(), Some(&b'\n'));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
