//! `--protocols` on a real capture: ICMP and other IP protocols are switched
//! on and off separately.

mod common;

use std::time::Duration;

use common::{run_wsd, shared_dir};

const LIMIT: Duration = Duration::from_secs(120);

/// A capture with one ICMP flow (port unreachable messages) and five flows
/// of IGMP (IP protocol 2).
const CAPTURE: &str = "mixed_skype.pcap";

/// Runs `wsd --protocols LIST` on the capture and returns the number of
/// ICMPFLOW and of IPFLOW lines it writes.
fn count_records(list: &str) -> (usize, usize) {
    let path = shared_dir().join("corpus").join(CAPTURE);
    let path = path.to_string_lossy();
    let output = run_wsd(&["-r", &path, "--protocols", list, "-L", "-"], LIMIT);
    assert!(
        output.status.success(),
        "wsd --protocols {list} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let count = |tag: &str| {
        stdout
            .lines()
            .filter(|line| line.split(' ').next() == Some(tag))
            .count()
    };
    (count("ICMPFLOW"), count("IPFLOW"))
}

#[test]
fn icmp_and_other_both_recorded() {
    let (icmp, other) = count_records("icmp,other");
    assert_eq!(icmp, 1);
    assert_eq!(other, 5);
}

#[test]
fn icmp_only_writes_no_ipflow() {
    let (icmp, other) = count_records("icmp");
    assert_eq!(icmp, 1);
    assert_eq!(other, 0);
}

#[test]
fn other_only_writes_no_icmpflow() {
    let (icmp, other) = count_records("other");
    assert_eq!(icmp, 0);
    assert_eq!(other, 5);
}
