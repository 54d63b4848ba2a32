//! TCP segments split into IP fragments. A SYN in fragments too short for its
//! header gives one record with all fragments counted. A data segment in
//! fragments counts as stream bytes rather than loss, in one run or across a
//! flow cache. Both hold with one thread or several.

mod common;

use std::path::Path;
use std::time::Duration;

use wsd_capture::Timestamp;
use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

use common::{field, flow_lines, run_wsd, shared_dir, write_ethernet_pcap, wsd_stdout};

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

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;

/// Ethernet header and IPv4 header without options, as `FrameBuilder` writes them.
const IP_START: usize = 14;
const IP_HEADER_LEN: usize = 20;

/// Splits the IPv4 packet in `frame` into fragments that carry at most `size`
/// bytes of its payload each, a multiple of 8 except in the last one.
fn fragments_of(frame: &[u8], size: usize) -> Vec<Vec<u8>> {
    let total = usize::from(u16::from_be_bytes([
        frame[IP_START + 2],
        frame[IP_START + 3],
    ]));
    let payload = &frame[IP_START + IP_HEADER_LEN..IP_START + total];
    let mut fragments = Vec::new();
    for (index, chunk) in payload.chunks(size).enumerate() {
        let offset = index * size;
        let more = offset + chunk.len() < payload.len();
        let mut fragment = frame[..IP_START + IP_HEADER_LEN].to_vec();
        let length = (IP_HEADER_LEN + chunk.len()) as u16;
        let field = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        fragment[IP_START + 2..IP_START + 4].copy_from_slice(&length.to_be_bytes());
        fragment[IP_START + 6..IP_START + 8].copy_from_slice(&field.to_be_bytes());
        fragment[IP_START + 10..IP_START + 12].copy_from_slice(&[0, 0]);
        let checksum = ipv4_checksum(&fragment[IP_START..]);
        fragment[IP_START + 10..IP_START + 12].copy_from_slice(&checksum.to_be_bytes());
        fragment.extend_from_slice(chunk);
        fragments.push(fragment);
    }
    fragments
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Returns the frames of one TCP connection whose 3,000-byte data segment from
/// the client is sent as three IPv4 fragments, each packet a millisecond after
/// the one before.
fn fragmented_connection() -> Vec<(Timestamp, Vec<u8>)> {
    let client = Endpoint::v4([10, 0, 0, 1], 40000);
    let server = Endpoint::v4([10, 0, 0, 2], 80);
    let mut builder = FrameBuilder::new();
    let mut frames = vec![
        builder.tcp(client, server, &TcpSegment::syn(1000)),
        builder.tcp(server, client, &TcpSegment::new(SYN | ACK, 5000, 1001, 0)),
        builder.tcp(client, server, &TcpSegment::new(ACK, 1001, 5001, 0)),
    ];
    let data = builder.tcp(client, server, &TcpSegment::new(PSH_ACK, 1001, 5001, 3000));
    frames.extend(fragments_of(&data, 1480));
    frames.extend([
        builder.tcp(server, client, &TcpSegment::new(ACK, 5001, 4001, 0)),
        builder.tcp(client, server, &TcpSegment::new(PSH_ACK, 4001, 5001, 100)),
        builder.tcp(client, server, &TcpSegment::new(FIN_ACK, 4101, 5001, 0)),
        builder.tcp(server, client, &TcpSegment::new(FIN_ACK, 5001, 4102, 0)),
        builder.tcp(client, server, &TcpSegment::new(ACK, 4102, 5002, 0)),
    ]);
    frames
        .into_iter()
        .enumerate()
        .map(|(index, frame)| {
            let ts = Timestamp::from_parts(1_700_000_000, index as u64 * 1_000_000);
            (ts, frame)
        })
        .collect()
}

#[test]
fn fragmented_segment_is_not_loss() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("fragmented.pcap");
    write_ethernet_pcap(&capture, fragmented_connection());
    let capture = capture.to_string_lossy();

    for threads in ["1", "2"] {
        let stdout = wsd_stdout(&["--threads", threads, "-r", &capture, "-L", "-"], LIMIT);
        let records = flow_lines(stdout.as_bytes());

        assert_eq!(records.len(), 1, "{threads} threads: {records:?}");
        let record = &records[0];
        assert_eq!(field(record, "packetsOut"), "8", "{threads} threads");
        assert_eq!(
            field(record, "payloadBytesOut"),
            "3100",
            "{threads} threads"
        );
        assert_eq!(field(record, "streamBytesOut"), "3100", "{threads} threads");
        assert_eq!(field(record, "missedBytesOut"), "0", "{threads} threads");
        assert_eq!(field(record, "history"), "ShADaFf", "{threads} threads");
    }
}

#[test]
fn fragmented_segment_continues_across_cache() {
    let dir = tempfile::tempdir().unwrap();
    let frames = fragmented_connection();
    let whole = dir.path().join("whole.pcap");
    write_ethernet_pcap(&whole, frames.clone());
    let expected = wsd_stdout(&["-r", &whole.to_string_lossy(), "-L", "-"], LIMIT);

    // Each run ends after the first or the second fragment.
    for split in [4, 5] {
        let head = dir.path().join(format!("head{split}.pcap"));
        let tail = dir.path().join(format!("tail{split}.pcap"));
        let cache = dir.path().join(format!("flows{split}.cache"));
        write_ethernet_pcap(&head, frames[..split].to_vec());
        write_ethernet_pcap(&tail, frames[split..].to_vec());

        let before = run_with_cache(&head, &["-W"], &cache);
        let after = run_with_cache(&tail, &["-R"], &cache);

        assert_eq!(
            format!("{before}{after}"),
            expected,
            "split before frame {split}"
        );
    }
}

/// Runs `wsd` on `capture` with `flags` naming `cache`, and returns its records.
fn run_with_cache(capture: &Path, flags: &[&str], cache: &Path) -> String {
    let capture = capture.to_string_lossy();
    let cache = cache.to_string_lossy();
    let mut args: Vec<&str> = flags.iter().flat_map(|flag| [*flag, &*cache]).collect();
    args.extend(["-r", &*capture, "-L", "-"]);
    wsd_stdout(&args, LIMIT)
}

/// A golden version 4 cache that `wsd -W` wrote once after the first four
/// packets of [`fragmented_connection`], up to the data segment's first
/// fragment, continues like one run. It pins where the cache keeps the
/// segment's position in the stream.
#[test]
fn golden_fragment_cache_continues() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let golden = root.join("fixtures/cache/v4-fragmented-first4.cache");
    let cache = wsd_flowcache::read_cache(&golden).unwrap().unwrap();
    assert_eq!(cache.version, 4);
    let link = cache.snapshot.fragments[0].flow.unwrap();
    // The payload starts at 1001 after a 20-byte TCP header, so offset 0 of the
    // datagram's payload has sequence number 981.
    assert_eq!(link.stream_base, Some(1001 - 20));
    assert_eq!(link.header_end, 0);

    let dir = tempfile::tempdir().unwrap();
    let frames = fragmented_connection();
    let whole = dir.path().join("whole.pcap");
    let tail = dir.path().join("tail.pcap");
    write_ethernet_pcap(&whole, frames.clone());
    write_ethernet_pcap(&tail, frames[4..].to_vec());
    let expected = wsd_stdout(&["-r", &whole.to_string_lossy(), "-L", "-"], LIMIT);
    let copy = dir.path().join("flows.cache");
    std::fs::copy(&golden, &copy).unwrap();

    let after = run_with_cache(&tail, &["-R"], &copy);

    let records = flow_lines(expected.as_bytes());
    assert_eq!(records.len(), 1);
    assert_eq!(flow_lines(after.as_bytes()), records);
}
