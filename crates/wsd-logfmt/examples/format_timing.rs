//! Times line formatting: nanoseconds per flow record and per packet line.
//!
//! Run with `cargo run --release -p wsd-logfmt --example format_timing`. Each case
//! formats the same kind of line a few million times into one reused buffer and
//! prints the mean time per line. The numbers are for this machine only.

use std::hint::black_box;
use std::io::{self, BufWriter};
use std::net::IpAddr;
use std::time::Instant;

use jiff::tz::TimeZone;
use wsd_capture::Timestamp;
use wsd_decode::{Decoded, IpInfo, MacAddr, TcpFlags, TcpInfo, Transport, Vlans};
use wsd_flow::{
    ConnState, Counters, Direction, EndReason, Endpoint, FlowRecord, History, PacketOutcome,
};
use wsd_logfmt::{format_flow_record, format_packet_line, LocalTimeFormatter, LogWriter};

const LINES: u32 = 5_000_000;

fn main() {
    let start_second = 1_515_026_248;

    let ipv4 = tcp_packet("172.20.1.144", "23.72.109.149");
    let ipv6 = tcp_packet("2001:db8:85a3::8a2e:370:7334", "2001:db8::1");
    let outcome = PacketOutcome {
        direction: Direction::ToServer,
        rel_seq: 1,
        rel_ack: 1,
        anomaly: None,
    };
    for (name, packet) in [
        ("packet line, TCP over IPv4", &ipv4),
        ("packet line, TCP over IPv6", &ipv6),
    ] {
        let ns = time_lines(|out, i| {
            // One packet every 10 µs, so the seconds change as in a real capture.
            let ts = Timestamp::from_nanos(start_second * 1_000_000_000 + i64::from(i) * 10_000);
            format_packet_line(out, ts, black_box(packet), &outcome);
        });
        println!("{name}: {ns:.1} ns/line");
    }

    let time_zone = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").expect("valid POSIX TZ string");
    let mut clock = LocalTimeFormatter::new(time_zone);
    let mut record = flow_record();
    let ns = time_lines(|out, i| {
        // One flow ends every 100 µs: most records share their second with the last.
        record.first_ts =
            Timestamp::from_nanos(start_second * 1_000_000_000 + i64::from(i) * 100_000);
        format_flow_record(out, black_box(&record), &mut clock);
    });
    println!("flow record, one per 100 µs: {ns:.1} ns/line");

    let ns = time_lines(|out, i| {
        // One flow ends every 7 s: every record needs a new second, and some a new day.
        record.first_ts = Timestamp::from_parts(start_second + i64::from(i) * 7, 0);
        format_flow_record(out, black_box(&record), &mut clock);
    });
    println!("flow record, one per 7 s: {ns:.1} ns/line");

    let ns = time_lines(|out, i| {
        // A new second for every call: the per-second cache always misses.
        let text = clock.format(Timestamp::from_parts(start_second + i64::from(i), 0));
        out.extend_from_slice(text);
    });
    println!("local time alone, a new second each call: {ns:.1} ns/call");

    let mut writer = LogWriter::new(BufWriter::new(io::sink()), LocalTimeFormatter::utc());
    let start = Instant::now();
    for i in 0..LINES {
        let ts = Timestamp::from_nanos(start_second * 1_000_000_000 + i64::from(i) * 10_000);
        writer
            .write_packet_line(ts, black_box(&ipv4), &outcome)
            .expect("writing to a sink succeeds");
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(LINES);
    println!("LogWriter to BufWriter<Sink>, TCP over IPv4: {ns:.1} ns/line");
}

/// Calls `format` for `LINES` lines, clearing the buffer before each, and returns
/// the mean nanoseconds per line.
fn time_lines(mut format: impl FnMut(&mut Vec<u8>, u32)) -> f64 {
    let mut out = Vec::with_capacity(512);
    let mut total_bytes = 0usize;
    let start = Instant::now();
    for i in 0..LINES {
        out.clear();
        format(&mut out, i);
        total_bytes += black_box(&out).len();
    }
    let elapsed = start.elapsed();
    black_box(total_bytes);
    elapsed.as_nanos() as f64 / f64::from(LINES)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("valid address")
}

fn tcp_packet(src: &str, dst: &str) -> Decoded {
    Decoded {
        src_mac: Some(MacAddr([0x10, 0xc3, 0x7b, 0x9b, 0x41, 0xc9])),
        dst_mac: Some(MacAddr([0x08, 0x5b, 0x0e, 0x6d, 0x14, 0xe8])),
        vlans: Vlans::default(),
        ip: Some(IpInfo {
            src: ip(src),
            dst: ip(dst),
            protocol: 6,
            total_len: 52,
            header_len: 20,
            is_later_fragment: false,
            is_first_fragment: false,
        }),
        transport: Transport::Tcp(TcpInfo {
            src_port: 65085,
            dst_port: 443,
            seq: 2_704_739_503,
            ack: 1_911_183_578,
            flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
            window: 16425,
            header_len: 32,
            segment_len: 32,
            payload_len: 0,
        }),
        stop: None,
        ..Decoded::default()
    }
}

fn flow_record() -> FlowRecord {
    FlowRecord {
        protocol: 6,
        vlans: Vlans::default(),
        client: Endpoint {
            ip: ip("172.20.1.144"),
            port: 65087,
            mac: Some(MacAddr([0x10, 0xc3, 0x7b, 0x9b, 0x41, 0xc9])),
        },
        server: Endpoint {
            ip: ip("172.20.1.3"),
            port: 8013,
            mac: Some(MacAddr([0x08, 0x5b, 0x0e, 0x6d, 0x14, 0xe8])),
        },
        first_ts: Timestamp::ZERO,
        last_ts: Timestamp::from_parts(1_515_026_300, 0),
        out: Counters {
            packets: 4,
            bytes: 92,
            payload_bytes: 0,
            ip_bytes: 0,
            ..Counters::default()
        },
        inbound: Counters {
            packets: 1,
            bytes: 32,
            payload_bytes: 0,
            ip_bytes: 0,
            ..Counters::default()
        },
        midstream: false,
        syn_seen: true,
        end_reason: EndReason::Fin,
        state: ConnState::SF,
        history: History::EMPTY,
        tunnel: None,
        icmp: None,
    }
}
