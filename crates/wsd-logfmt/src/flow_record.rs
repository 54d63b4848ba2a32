//! The flow record line, written when a flow ends.

use wsd_flow::{Endpoint, FlowRecord};

use crate::local_time::LocalTimeFormatter;
use crate::text::{push_text, push_u64, Ip, Mac};

/// The keys of one endpoint's fields, each with its leading space.
struct EndpointKeys {
    mac: &'static [u8],
    ip: &'static [u8],
    port: &'static [u8],
}

const SOURCE_KEYS: EndpointKeys = EndpointKeys {
    mac: b" sourceMac=",
    ip: b" sourceIp=",
    port: b" sourcePort=",
};

const DEST_KEYS: EndpointKeys = EndpointKeys {
    mac: b" destMac=",
    ip: b" destIp=",
    port: b" destPort=",
};

/// Appends the flow record line of `record`, newline included, to `out`.
///
/// The layout is described in the [crate documentation](crate#flow-record-line).
/// `clock` converts the flow's start time to local time.
pub fn format_flow_record(out: &mut Vec<u8>, record: &FlowRecord, clock: &mut LocalTimeFormatter) {
    out.extend_from_slice(flow_keyword(record.protocol));
    out.extend_from_slice(b" startTime=");
    out.extend_from_slice(clock.format(record.first_ts));

    push_endpoint(out, &SOURCE_KEYS, &record.client);
    push_endpoint(out, &DEST_KEYS, &record.server);

    push_counter(out, b" duration=", record.duration_secs());
    push_counter(out, b" packetsIn=", record.inbound.packets);
    push_counter(out, b" packetsOut=", record.out.packets);
    push_counter(out, b" bytesIn=", record.inbound.bytes);
    push_counter(out, b" bytesOut=", record.out.bytes);
    out.push(b'\n');
}

/// Returns the keyword that starts a record of IP protocol `protocol`.
fn flow_keyword(protocol: u8) -> &'static [u8] {
    // TODO: the tracker reports TCP flows only. The keywords for other protocols,
    // and which fields their records carry, are provisional until it tracks them.
    match protocol {
        6 => b"TCPFLOW",
        17 => b"UDPFLOW",
        1 | 58 => b"ICMPFLOW",
        _ => b"IPFLOW",
    }
}

fn push_endpoint(out: &mut Vec<u8>, keys: &EndpointKeys, endpoint: &Endpoint) {
    out.extend_from_slice(keys.mac);
    push_text(out, &Mac(endpoint.mac.unwrap_or_default()));
    out.extend_from_slice(keys.ip);
    push_text(out, &Ip(endpoint.ip));
    out.extend_from_slice(keys.port);
    push_u64(out, u64::from(endpoint.port));
}

fn push_counter(out: &mut Vec<u8>, key: &[u8], value: u64) {
    out.extend_from_slice(key);
    push_u64(out, value);
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use jiff::tz::TimeZone;
    use wsd_capture::Timestamp;
    use wsd_decode::{MacAddr, Vlans};
    use wsd_flow::{ConnState, Counters, EndReason, History};

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid test address")
    }

    /// Builds the record of the example line in the crate documentation.
    fn example_record() -> FlowRecord {
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
            first_ts: Timestamp::from_parts(1_515_026_277, 120_000_000),
            last_ts: Timestamp::from_parts(1_515_026_277, 980_000_000),
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

    fn utc_minus_8() -> LocalTimeFormatter {
        LocalTimeFormatter::new(TimeZone::fixed(jiff::tz::offset(-8)))
    }

    fn line(record: &FlowRecord, clock: &mut LocalTimeFormatter) -> String {
        let mut out = Vec::new();
        format_flow_record(&mut out, record, clock);
        String::from_utf8(out).expect("record lines are ASCII")
    }

    #[test]
    fn example_line_byte_for_byte() {
        let expected = "TCPFLOW startTime=2018/01/03 16:37:57 sourceMac=10:c3:7b:9b:41:c9 \
                        sourceIp=172.20.1.144 sourcePort=65087 destMac=8:5b:e:6d:14:e8 \
                        destIp=172.20.1.3 destPort=8013 duration=0 packetsIn=1 packetsOut=4 \
                        bytesIn=32 bytesOut=92\n";
        assert_eq!(line(&example_record(), &mut utc_minus_8()), expected);
    }

    #[test]
    fn appends_to_existing_text() {
        let mut out = b"previous\n".to_vec();
        format_flow_record(&mut out, &example_record(), &mut utc_minus_8());
        assert!(out.starts_with(b"previous\nTCPFLOW startTime="));
    }

    #[test]
    fn missing_macs_print_zeros() {
        let mut record = example_record();
        record.client.mac = None;
        record.server.mac = None;
        let text = line(&record, &mut utc_minus_8());
        assert!(text.contains(" sourceMac=0:0:0:0:0:0 sourceIp="), "{text}");
        assert!(text.contains(" destMac=0:0:0:0:0:0 destIp="), "{text}");
    }

    #[test]
    fn ipv6_endpoints() {
        let mut record = example_record();
        record.client.ip = ip("2001:db8::1:0:0:42");
        record.server.ip = ip("fe80::8a5b:eff:fe6d:14e8");
        let text = line(&record, &mut utc_minus_8());
        assert!(
            text.contains(" sourceIp=2001:db8::1:0:0:42 sourcePort=65087 "),
            "{text}"
        );
        assert!(
            text.contains(" destIp=fe80::8a5b:eff:fe6d:14e8 destPort=8013 "),
            "{text}"
        );
    }

    #[test]
    fn duration_and_large_counters() {
        let mut record = example_record();
        record.last_ts = Timestamp::from_parts(1_515_026_277 + 3_725, 0);
        record.out = Counters {
            packets: 12_345_678_901,
            bytes: u64::MAX,
            payload_bytes: 0,
            ip_bytes: 0,
            ..Counters::default()
        };
        let text = line(&record, &mut utc_minus_8());
        assert!(text.contains(" duration=3724 "), "{text}");
        assert!(text.contains(" packetsOut=12345678901 "), "{text}");
        assert!(text.ends_with(" bytesOut=18446744073709551615\n"), "{text}");
    }

    #[test]
    fn keyword_per_protocol() {
        let cases: [(u8, &str); 6] = [
            (6, "TCPFLOW "),
            (17, "UDPFLOW "),
            (1, "ICMPFLOW "),
            (58, "ICMPFLOW "),
            (47, "IPFLOW "),
            (0, "IPFLOW "),
        ];
        for (protocol, keyword) in cases {
            let mut record = example_record();
            record.protocol = protocol;
            let text = line(&record, &mut utc_minus_8());
            assert!(text.starts_with(keyword), "protocol {protocol}: {text}");
        }
    }

    #[test]
    fn start_time_in_utc() {
        let text = line(&example_record(), &mut LocalTimeFormatter::utc());
        assert!(text.contains(" startTime=2018/01/04 00:37:57 "), "{text}");
    }
}
