//! The `read_cache` example as a user runs it. `cargo test` builds the examples
//! beside the test binaries, in `target/<profile>/examples`.

use std::path::PathBuf;
use std::process::Command;

use wsd_flow::{Tracker, TrackerConfig};

/// Returns the path of the built `read_cache` example.
fn example_program() -> PathBuf {
    let test_program = std::env::current_exe().expect("path of the test program");
    // The test program is in `target/<profile>/deps`.
    let profile_dir = test_program
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test program is in a deps directory");
    let program = profile_dir.join("examples").join("read_cache");
    assert!(
        program.is_file(),
        "{} is missing; build it with cargo build -p wsd-examples --examples",
        program.display()
    );
    program
}

/// A corrupt cache is reported with the error's message, not its `Debug`
/// form.
#[test]
fn corrupt_cache_error_readable() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cache = dir.path().join("flows.cache");
    let snapshot = Tracker::new(TrackerConfig::default()).snapshot();
    wsd_flowcache::write_cache(&cache, &snapshot, "test 1.0").expect("cache written");
    let mut bytes = std::fs::read(&cache).expect("cache read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&cache, &bytes).expect("cache corrupted");

    let output = Command::new(example_program())
        .arg(&cache)
        .output()
        .expect("read_cache runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("read_cache: checksum mismatch (stored 0x"),
        "{stderr}"
    );
    assert!(!stderr.contains("ChecksumMismatch"), "{stderr}");
    assert!(output.stdout.is_empty());
}
