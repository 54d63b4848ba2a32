//! The `read_cache` example as a user runs it. `cargo test` builds the examples
//! beside the test binaries, in `target/<profile>/examples`.

use std::path::PathBuf;
use std::process::Command;

use wsd_capture::Timestamp;
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

/// Returns an Ethernet frame of a TCP SYN from 192.168.1.2:51000 to 10.0.0.2:443.
fn syn_frame() -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00];
    // IPv4: 40 bytes in all, TTL 64, protocol 6, no checksum.
    frame.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    frame.extend_from_slice(&[192, 168, 1, 2, 10, 0, 0, 2]);
    // TCP: ports 51000 and 443, sequence number 1, SYN, window 65535.
    frame.extend_from_slice(&[0xc7, 0x38, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0]);
    frame.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    frame
}

/// A cache with one open flow of one packet is listed with the format version
/// it was written in and a count in the singular.
#[test]
fn one_flow_listed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cache = dir.path().join("flows.cache");
    let mut tracker = Tracker::new(TrackerConfig::default());
    let packet = wsd_decode::decode(1, &syn_frame());
    tracker.process(Timestamp::from_nanos(1_700_000_000_000_000_000), &packet);
    wsd_flowcache::write_cache(&cache, &tracker.snapshot(), "test 1.0").expect("cache written");

    let output = Command::new(example_program())
        .arg(&cache)
        .output()
        .expect("read_cache runs");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = format!(
        "{}: written by test 1.0 in format version {}, flows: 1\n\
         tcp 192.168.1.2:51000 -> 10.0.0.2:443 out 1 packet 20 bytes, in 0 packets 0 bytes, open\n",
        cache.display(),
        wsd_flowcache::FORMAT_VERSION
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout, expected);
}
