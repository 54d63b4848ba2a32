//! `--threads N`: flows tracked in worker threads must give the same set of
//! records as one thread, with and without the flow cache, and stop cleanly on
//! a signal.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wsd_capture::PcapWriter;
use wsd_synth::{mixed, syn_flood, FloodConfig, MixedConfig};

use common::{run_wsd, shared_dir, wsd_stdout};

const LIMIT: Duration = Duration::from_secs(300);

/// Runs `wsd` and returns its standard output, failing on a non-zero exit.
fn stdout_of(args: &[&str]) -> String {
    wsd_stdout(args, LIMIT)
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

fn with_threads<'a>(threads: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--threads", threads];
    all.extend_from_slice(args);
    all
}

fn pcap_writer(path: &Path) -> PcapWriter<std::io::BufWriter<std::fs::File>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    PcapWriter::new(file, 1, 65_535, false).unwrap()
}

/// Writes a mixed capture of a few thousand TCP and UDP flows to `path`.
fn write_mixed(path: &Path) {
    let mut writer = pcap_writer(path);
    let config = MixedConfig {
        tcp_connections: 4_000,
        udp_conversations: 1_000,
        duration_secs: 60,
        ..MixedConfig::default()
    };
    mixed(&config, |ts, frame| {
        writer.write_packet(ts, frame, frame.len() as u32)
    })
    .unwrap();
    writer.flush().unwrap();
}

fn corpus_captures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(shared_dir().join("corpus"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "pcap" || ext == "pcapng")
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn threads_corpus_same_records() {
    let captures = corpus_captures();
    assert!(captures.len() > 20, "the corpus has its captures");
    let mut compared = 0;
    for capture in &captures {
        let name = capture.display().to_string();
        let args = ["-r", name.as_str(), "-L", "-"];
        let one = run_wsd(&args, LIMIT);
        for threads in ["2", "3"] {
            let many = run_wsd(&with_threads(threads, &args), LIMIT);
            assert_eq!(
                many.status.code(),
                one.status.code(),
                "{name}, {threads} threads"
            );
            let one_text = String::from_utf8_lossy(&one.stdout);
            let many_text = String::from_utf8_lossy(&many.stdout);
            assert!(
                sorted_lines(&many_text) == sorted_lines(&one_text),
                "{name}: records with {threads} threads differ from one thread"
            );
        }
        if one.status.success() && !one.stdout.is_empty() {
            compared += 1;
        }
    }
    assert!(
        compared > 20,
        "only {compared} captures had records to compare"
    );
}

#[test]
fn threads_generated_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("mixed.pcap");
    write_mixed(&capture);
    let capture = capture.to_str().unwrap();
    let args = ["-r", capture, "-L", "-"];
    let one = stdout_of(&args);
    assert!(
        one.lines().count() >= 4_000,
        "every TCP connection has a record"
    );
    let two = stdout_of(&with_threads("2", &args));
    assert!(
        sorted_lines(&two) == sorted_lines(&one),
        "2 threads differ from one"
    );
    let four = stdout_of(&with_threads("4", &args));
    assert!(
        sorted_lines(&four) == sorted_lines(&one),
        "4 threads differ from one"
    );
    let again = stdout_of(&with_threads("2", &args));
    assert_eq!(again, two, "the order with 2 threads changes between runs");
}

#[test]
fn threads_same_stats_and_interim_records() {
    // Periodic statistics count every packet and record before their time, and
    // interim records fall due at the same packets, whatever the thread count.
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("mixed.pcap");
    write_mixed(&capture);
    let capture = capture.to_str().unwrap();
    let args = ["--stats", "5", "--interim", "3", "-r", capture, "-L", "-"];
    let single = stdout_of(&args);
    let stats = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("STATS"))
            .map(str::to_string)
            .collect()
    };
    let single_stats = stats(&single);
    assert!(single_stats.len() >= 10, "a record every 5 s of a minute");
    assert!(single_stats
        .iter()
        .any(|line| !line.contains(" records=0 ")));
    for threads in ["2", "3"] {
        let other = stdout_of(&with_threads(threads, &args));
        assert_eq!(stats(&other), single_stats, "{threads} threads");
        assert!(
            sorted_lines(&other) == sorted_lines(&single),
            "{threads} threads"
        );
    }
}

#[test]
fn threads_rotate_by_size() {
    // A batch of records from the workers, and the flows open at the end, are
    // split over logs by --rotate-size as single records are.
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("mixed.pcap");
    write_mixed(&capture);
    let capture = capture.to_str().unwrap();
    let mut all_records = Vec::new();
    for threads in ["1", "2"] {
        let logs = dir.path().join(format!("logs{threads}"));
        std::fs::create_dir(&logs).unwrap();
        let logs_arg = logs.to_str().unwrap();
        let args = ["-r", capture, "-l", logs_arg, "--rotate-size", "64K"];
        stdout_of(&with_threads(threads, &args));
        let mut sizes = Vec::new();
        let mut records = String::new();
        for entry in std::fs::read_dir(&logs).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(text.ends_with('\n'), "a log ends mid-record");
            sizes.push(text.len());
            records.push_str(&text);
        }
        sizes.sort_unstable();
        assert!(sizes.len() >= 10, "{threads} threads: {sizes:?}");
        let over: Vec<&usize> = sizes.iter().filter(|&&size| size >= 64 * 1024).collect();
        assert!(
            over.len() + 1 >= sizes.len(),
            "{threads} threads: {sizes:?}"
        );
        assert!(
            sizes.iter().all(|&size| size < 64 * 1024 + 2048),
            "{sizes:?}"
        );
        all_records.push(records);
    }
    assert!(sorted_lines(&all_records[0]) == sorted_lines(&all_records[1]));
}

#[test]
fn threads_json_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("mixed.pcap");
    write_mixed(&capture);
    let capture = capture.to_str().unwrap();
    let args = ["--format", "json", "-r", capture, "-L", "-"];
    let single = stdout_of(&args);
    assert!(
        single.starts_with('{'),
        "JSON records: {}",
        &single[..single.len().min(200)]
    );
    let two = stdout_of(&with_threads("2", &args));
    assert!(
        sorted_lines(&two) == sorted_lines(&single),
        "JSON records with 2 threads differ from one"
    );
}

/// A capture split in pieces and run piece by piece through the cache with
/// changing thread counts gives the records of one single-threaded run.
#[test]
fn threads_cache_chain_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("mixed.pcap");
    write_mixed(&capture);
    let whole = stdout_of(&["-r", capture.to_str().unwrap(), "-L", "-"]);

    let mut pieces = Vec::new();
    let mut source = wsd_capture::FileSource::open(&capture).unwrap();
    let mut writer: Option<PcapWriter<_>> = None;
    let mut count = 0;
    while let Some(packet) = wsd_capture::PacketSource::next_packet(&mut source).unwrap() {
        if count % 12_000 == 0 {
            if let Some(mut done) = writer.take() {
                done.flush().unwrap();
            }
            let path = dir.path().join(format!("piece{}.pcap", pieces.len()));
            writer = Some(pcap_writer(&path));
            pieces.push(path);
        }
        let out = writer.as_mut().unwrap();
        out.write_packet(packet.ts, packet.data, packet.orig_len)
            .unwrap();
        count += 1;
    }
    writer.unwrap().flush().unwrap();
    assert!(pieces.len() >= 3, "the capture splits into several pieces");

    let cache = dir.path().join("wsd.cache");
    let cache = cache.to_str().unwrap();
    let thread_counts = ["2", "1", "3", "2"];
    let mut chained = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let threads = thread_counts[i % thread_counts.len()];
        let mut args = vec!["--threads", threads, "-R", cache, "-r"];
        args.push(piece.to_str().unwrap());
        args.extend(["-L", "-"]);
        if i + 1 < pieces.len() {
            args.extend(["-W", cache]);
        }
        chained.push_str(&stdout_of(&args));
    }
    assert_eq!(chained.lines().count(), whole.lines().count());
    assert!(
        sorted_lines(&chained) == sorted_lines(&whole),
        "records chained through the cache with threads differ from one run"
    );
}

#[test]
fn threads_with_verbose_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("mixed.pcap");
    write_mixed(&capture);
    let output = run_wsd(
        &[
            "--threads",
            "2",
            "-V",
            "-r",
            capture.to_str().unwrap(),
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("-V cannot be used with --threads 2"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// More tables than processors work, with a warning that names both counts.
#[test]
fn threads_above_processors_warned() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("mixed.pcap");
    write_mixed(&capture);
    let capture = capture.to_str().unwrap();
    let processors = std::thread::available_parallelism().unwrap().get();
    if processors >= 1024 {
        // --threads takes at most 1024, so no value exceeds the processors.
        return;
    }
    let over = (processors + 1).to_string();
    let output = run_wsd(&["--threads", &over, "-r", capture, "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let noun = if processors == 1 {
        "processor"
    } else {
        "processors"
    };
    let warning = format!("--threads {over} is more than the {processors} {noun}");
    assert!(stderr.contains(&warning), "{stderr}");

    let output = run_wsd(
        &[
            "--threads",
            &processors.to_string(),
            "-r",
            capture,
            "-L",
            "-",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("is more than the"), "{stderr}");
}

#[test]
fn threads_zero_rejected() {
    let output = run_wsd(&["--threads", "0", "-r", "x.pcap", "-L", "-"], LIMIT);
    assert_eq!(output.status.code(), Some(2));
}

/// SIGTERM in the middle of a run with worker threads saves the flows of
/// every worker: in a SYN flood each packet read is one open flow.
#[test]
fn threads_sigterm_saves_every_worker() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("flood.pcap");
    let mut writer = pcap_writer(&capture);
    let config = FloodConfig {
        connections: 1_000_000,
        ..FloodConfig::default()
    };
    syn_flood(&config, |ts, frame| {
        writer.write_packet(ts, frame, frame.len() as u32)
    })
    .unwrap();
    writer.flush().unwrap();
    let cache = dir.path().join("wsd.cache");

    let mut child = Command::new(env!("CARGO_BIN_EXE_wsd"))
        .args(["--threads", "2", "-d", "1", "-W"])
        .arg(&cache)
        .arg("-r")
        .arg(&capture)
        .args(["-L", "-"])
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The debug message on opening the file shows that reading has started,
    // and a short wait lets the workers take some packets.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("reading") {
        let read = stderr.read_line(&mut log).unwrap();
        assert!(read > 0, "wsd ended before the signal: {log}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
    let output = child.wait_with_output().unwrap();
    // Stopped inside a capture file, the process ends by the signal.
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(rustix::process::Signal::TERM.as_raw()),
        "{log}"
    );
    assert!(
        log.contains("stopped by a signal"),
        "the signal came mid-run: {log}"
    );

    let packets: u64 = log
        .split("finished: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no packet count in {log}"));
    assert!(packets > 0);
    assert!(
        packets < 1_000_000,
        "the signal came before the end of the input"
    );
    let saved = wsd_flowcache::read_cache(&cache)
        .unwrap()
        .expect("cache written");
    assert_eq!(saved.snapshot.flows.len() as u64, packets);
    assert!(
        output.stdout.is_empty(),
        "open flows go to the cache, not the log"
    );
}
