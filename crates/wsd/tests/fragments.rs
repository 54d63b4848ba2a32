//! A TCP SYN split into IP fragments too short for its header: one record, all
//! fragments counted, with one thread or several.

mod common;

use std::time::Duration;

use common::{field, flow_lines, run_wsd, shared_dir};

const LIMIT: Duration = Duration::from_secs(120);

/// A PPP capture (link type 9) of a SYN from 1.1.1.1:12345 to 2.2.2.2:8080 with a
/// 24-byte TCP header, sent as three IPv4 fragments of 8 bytes each. TShark 4.0
/// reassembles it into one SYN of `tcp.stream` 0.
const CAPTURE: &str = "ppp_ipv4_frag_tcp_syn.pcap";

fn records_of(extra: &[&str]) -> Vec<String> {
    let path = shared_dir().join("corpus").join(CAPTURE);
    let path = path.to_string_lossy();
    let mut args = vec!["-r", &*path, "-L", "-"];
    args.extend(extra);
    let output = run_wsd(&args, LIMIT);
    assert!(
        output.status.success(),
        "wsd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    flow_lines(&output.stdout)
}

#[test]
fn tiny_fragments_give_one_syn_record() {
    for extra in [&[][..], &["--threads", "2"][..]] {
        let records = records_of(extra);

        assert_eq!(records.len(), 1, "{extra:?}: {records:?}");
        let record = &records[0];
        assert_eq!(field(record, "sourceIp"), "1.1.1.1", "{extra:?}");
        assert_eq!(field(record, "sourcePort"), "12345", "{extra:?}");
        assert_eq!(field(record, "destIp"), "2.2.2.2", "{extra:?}");
        assert_eq!(field(record, "destPort"), "8080", "{extra:?}");
        assert_eq!(field(record, "packetsOut"), "3", "{extra:?}");
        assert_eq!(field(record, "packetsIn"), "0", "{extra:?}");
        assert_eq!(field(record, "bytesOut"), "24", "{extra:?}");
        assert_eq!(field(record, "payloadBytesOut"), "0", "{extra:?}");
        assert_eq!(field(record, "synSeen"), "yes", "{extra:?}");
        assert_eq!(field(record, "history"), "S", "{extra:?}");
        assert_eq!(field(record, "connState"), "S0", "{extra:?}");
    }
}
