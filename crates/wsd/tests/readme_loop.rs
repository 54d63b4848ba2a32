//! The README's loop over a directory of captures must read every capture once
//! and whole, even when a signal ends the shell that runs it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fixture, run_wsd};

/// Returns the first code block under the README heading `heading`.
fn readme_block(heading: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(&path).expect("read README.md");
    let section = text
        .split_once(heading)
        .unwrap_or_else(|| panic!("no heading {heading:?} in {}", path.display()))
        .1;
    let block = section.split("```").nth(1).expect("a code block follows");
    block.trim_start_matches('\n').to_string()
}

/// Runs `script` with bash in a process group of its own, so that a signal
/// sent to that group reaches the shell and `wsd` but not the test.
fn run_in_own_group(script: &str, path: &str) -> std::process::ExitStatus {
    Command::new("bash")
        .args(["-c", script])
        .env("PATH", path)
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .status()
        .expect("bash runs")
}

/// A signal to the loop's process group, such as the SIGINT of a Ctrl-C or the
/// SIGTERM of a service stop, ends the shell before it can act on the failure.
/// The next pass must still read the stopped capture again, and the logs then
/// match one run over all the captures.
#[test]
fn readme_loop_rereads_stopped_capture() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (data, state, bin) = (
        dir.path().join("data"),
        dir.path().join("state"),
        dir.path().join("bin"),
    );
    for folder in [&data, &state, &bin] {
        std::fs::create_dir(folder).expect("folder created");
    }
    // The loop leaves out the newest capture, cap-2, which a recorder could
    // still be writing.
    let captures = ["lossy.pcap", "port_reuse.pcap", "lossy.pcap"];
    for (index, name) in captures.iter().enumerate() {
        let copy = data.join(format!("cap-{index}.pcap"));
        std::fs::copy(fixture(name), copy).expect("capture copied");
    }

    // This wsd runs the real one and records each call. Its first run on
    // cap-1 then sends SIGTERM to its process group, which ends the loop.
    let calls = state.join("calls");
    let stopped = state.join("stopped");
    let wrapper = format!(
        "#!/bin/sh\n\
         echo \"$*\" >> '{calls}'\n\
         case \"$*\" in *cap-1.pcap*)\n\
         \x20 if [ ! -e '{stopped}' ]; then : > '{stopped}'; '{real}' \"$@\"; kill -TERM 0; fi;;\n\
         esac\n\
         exec '{real}' \"$@\"\n",
        calls = calls.display(),
        stopped = stopped.display(),
        real = env!("CARGO_BIN_EXE_wsd"),
    );
    let wrapper_path = bin.join("wsd");
    std::fs::write(&wrapper_path, wrapper).expect("wrapper written");
    std::fs::set_permissions(&wrapper_path, std::fs::Permissions::from_mode(0o755))
        .expect("wrapper made executable");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = readme_block("### Post-processing a directory of captures")
        .replace("/var/lib/wsd", &state.display().to_string())
        .replace("/data/", &format!("{}/", data.display()));

    let first = run_in_own_group(&script, &path);
    assert!(!first.success(), "the first pass was not stopped: {first}");
    // As the README directs after a stopped run, the cache goes back to how it
    // was before the stopped capture.
    std::fs::copy(state.join("flows.cache.before"), state.join("flows.cache"))
        .expect("cache restored");
    let second = run_in_own_group(&script, &path);
    assert!(second.success(), "{second}");

    let calls = std::fs::read_to_string(&calls).expect("calls recorded");
    let reads = |index: usize| calls.matches(&format!("cap-{index}.pcap -L")).count();
    assert_eq!(reads(0), 1, "{calls}");
    assert_eq!(reads(1), 2, "{calls}");
    assert_eq!(reads(2), 0, "{calls}");
    let mut records = String::new();
    for index in 0..2 {
        let log = data.join(format!("cap-{index}.pcap.wsd"));
        records += &std::fs::read_to_string(&log).expect("log of a capture read");
    }
    let reference_cache = dir.path().join("reference.cache");
    let reference = run_wsd(
        &[
            "-r",
            &fixture(captures[0]),
            "-r",
            &fixture(captures[1]),
            "-W",
            reference_cache.to_str().expect("UTF-8 path"),
            "-L",
            "-",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(reference.status.code(), Some(0));
    let mut expected: Vec<_> = std::str::from_utf8(&reference.stdout)
        .expect("records are UTF-8")
        .lines()
        .collect();
    let mut got: Vec<_> = records.lines().collect();
    assert!(
        !expected.is_empty(),
        "the captures gave no record to compare"
    );
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected);
    let cache = std::fs::read(state.join("flows.cache")).expect("cache saved");
    let reference_cache = std::fs::read(&reference_cache).expect("reference cache saved");
    assert!(cache == reference_cache, "the caches differ");
}
