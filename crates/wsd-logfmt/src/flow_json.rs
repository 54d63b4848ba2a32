//! The JSON flow record: every field of a [`FlowRecord`] as one JSON object.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_flow::{Counters, Endpoint, FlowRecord};

use crate::community_id::flow_community_id;
use crate::json::{push_epoch, push_rfc3339_utc, push_seconds, JsonObject};
use crate::options::RecordOptions;
use crate::text::{push_text, Ip};

/// Appends the JSON Lines record of `record`, newline included, to `out`.
///
/// The members are listed in `docs/flow-records.md`. Times are in UTC, so no
/// time zone is involved.
pub fn format_flow_json(out: &mut Vec<u8>, record: &FlowRecord, options: &RecordOptions) {
    let mut object = JsonObject::begin(out);
    object.ascii("type", b"flow");
    object.ascii("protocol_name", protocol_name(record.protocol));

    push_time(&mut object, "start", record.first_ts);
    push_epoch(object.key("start_epoch"), record.first_ts);
    push_time(&mut object, "end", record.last_ts);
    push_epoch(object.key("end_epoch"), record.last_ts);
    let nanos = record.last_ts.nanos_since(record.first_ts).max(0);
    push_seconds(object.key("duration"), nanos);

    let ip_version = match record.client.ip {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 6,
    };
    object.u64("ip_version", ip_version);
    object.u64("protocol", u64::from(record.protocol));
    push_vlans(&mut object, record);

    push_endpoint(&mut object, "src", &record.client);
    push_endpoint(&mut object, "dst", &record.server);

    push_counters(&mut object, "out", &record.out);
    push_counters(&mut object, "in", &record.inbound);

    object.bool("midstream", record.midstream);
    object.bool("syn_seen", record.syn_seen);
    object.string("end_reason", record.end_reason.name());
    let id = flow_community_id(options.community_id_seed, record);
    object.ascii("community_id", id.as_bytes());
    object.end();
    out.push(b'\n');
}

/// Writes a member whose value is `ts` as an RFC 3339 string in UTC.
fn push_time(object: &mut JsonObject<'_>, name: &str, ts: Timestamp) {
    let out = object.key(name);
    out.push(b'"');
    push_rfc3339_utc(out, ts);
    out.push(b'"');
}

/// Returns the lower-case name of an IP protocol for the `protocol_name` member.
pub(crate) fn protocol_name(protocol: u8) -> &'static [u8] {
    match protocol {
        6 => b"tcp",
        17 => b"udp",
        1 => b"icmp",
        58 => b"icmpv6",
        _ => b"other",
    }
}

fn push_vlans(object: &mut JsonObject<'_>, record: &FlowRecord) {
    let out = object.key("vlans");
    out.push(b'[');
    let count = usize::from(record.vlans.count).min(record.vlans.ids.len());
    for (i, &id) in record.vlans.ids[..count].iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::text::push_u64(out, u64::from(id));
    }
    out.push(b']');
}

/// Member names of one endpoint, by prefix.
fn endpoint_names(prefix: &str) -> [&'static str; 3] {
    if prefix == "src" {
        ["src_mac", "src_ip", "src_port"]
    } else {
        ["dst_mac", "dst_ip", "dst_port"]
    }
}

fn push_endpoint(object: &mut JsonObject<'_>, prefix: &str, endpoint: &Endpoint) {
    let [mac, ip, port] = endpoint_names(prefix);
    match endpoint.mac {
        Some(address) => {
            let text = zero_padded_mac(address.0);
            object.ascii(mac, &text);
        }
        None => object.null(mac),
    }
    let out = object.key(ip);
    out.push(b'"');
    push_text(out, &Ip(endpoint.ip));
    out.push(b'"');
    object.u64(port, u64::from(endpoint.port));
}

/// Returns a MAC address as six zero-padded lower-case hex bytes, such as
/// `08:5b:0e:6d:14:e8`.
fn zero_padded_mac(bytes: [u8; 6]) -> [u8; 17] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b':'; 17];
    for (i, byte) in bytes.into_iter().enumerate() {
        text[3 * i] = HEX[usize::from(byte >> 4)];
        text[3 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    text
}

/// Member names of one direction's counters, by direction.
fn counter_names(direction: &str) -> [&'static str; 4] {
    if direction == "out" {
        [
            "packets_out",
            "bytes_out",
            "payload_bytes_out",
            "ip_bytes_out",
        ]
    } else {
        ["packets_in", "bytes_in", "payload_bytes_in", "ip_bytes_in"]
    }
}

fn push_counters(object: &mut JsonObject<'_>, direction: &str, counters: &Counters) {
    let [packets, bytes, payload, ip_bytes] = counter_names(direction);
    object.u64(packets, counters.packets);
    object.u64(bytes, counters.bytes);
    object.u64(payload, counters.payload_bytes);
    object.u64(ip_bytes, counters.ip_bytes);
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use wsd_decode::{MacAddr, Vlans};
    use wsd_flow::EndReason;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid test address")
    }

    fn record() -> FlowRecord {
        FlowRecord {
            protocol: 6,
            vlans: Vlans {
                ids: [100, 7],
                count: 2,
            },
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
                payload_bytes: 12,
                ip_bytes: 172,
            },
            inbound: Counters {
                packets: 1,
                bytes: 32,
                payload_bytes: 0,
                ip_bytes: 52,
            },
            midstream: false,
            syn_seen: true,
            end_reason: EndReason::Fin,
        }
    }

    fn parse(record: &FlowRecord, options: &RecordOptions) -> Value {
        let mut out = Vec::new();
        format_flow_json(&mut out, record, options);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&byte| byte == b'\n').count(), 1);
        serde_json::from_slice(&out).expect("a flow record is valid JSON")
    }

    #[test]
    fn members_of_example_record() {
        let value = parse(&record(), &RecordOptions::default());
        assert_eq!(value["type"], "flow");
        assert_eq!(value["protocol_name"], "tcp");
        assert_eq!(value["start"], "2018-01-04T00:37:57.120000Z");
        assert_eq!(value["start_epoch"].as_f64(), Some(1_515_026_277.12));
        assert_eq!(value["end"], "2018-01-04T00:37:57.980000Z");
        assert_eq!(value["duration"].as_f64(), Some(0.86));
        assert_eq!(value["ip_version"], 4);
        assert_eq!(value["protocol"], 6);
        assert_eq!(value["vlans"], serde_json::json!([100, 7]));
        assert_eq!(value["src_mac"], "10:c3:7b:9b:41:c9");
        assert_eq!(value["dst_mac"], "08:5b:0e:6d:14:e8");
        assert_eq!(value["src_ip"], "172.20.1.144");
        assert_eq!(value["src_port"], 65087);
        assert_eq!(value["dst_ip"], "172.20.1.3");
        assert_eq!(value["dst_port"], 8013);
        assert_eq!(value["packets_out"], 4);
        assert_eq!(value["bytes_out"], 92);
        assert_eq!(value["payload_bytes_out"], 12);
        assert_eq!(value["ip_bytes_out"], 172);
        assert_eq!(value["packets_in"], 1);
        assert_eq!(value["ip_bytes_in"], 52);
        assert_eq!(value["midstream"], false);
        assert_eq!(value["syn_seen"], true);
        assert_eq!(value["end_reason"], "fin");
        let id = value["community_id"].as_str().expect("a string");
        assert!(id.starts_with("1:"), "{id}");
    }

    #[test]
    fn missing_macs_are_null() {
        let mut flow = record();
        flow.client.mac = None;
        flow.server.mac = None;
        flow.vlans = Vlans::default();
        let value = parse(&flow, &RecordOptions::default());
        assert!(value["src_mac"].is_null());
        assert!(value["dst_mac"].is_null());
        assert_eq!(value["vlans"], serde_json::json!([]));
    }

    #[test]
    fn ipv6_and_seed() {
        let mut flow = record();
        flow.client.ip = ip("2001:db8::1");
        flow.server.ip = ip("2001:db8::2");
        let seed_0 = parse(&flow, &RecordOptions::default());
        let seed_1 = parse(
            &flow,
            &RecordOptions {
                community_id_seed: 1,
                ..RecordOptions::default()
            },
        );
        assert_eq!(seed_0["ip_version"], 6);
        assert_eq!(seed_0["src_ip"], "2001:db8::1");
        assert_ne!(seed_0["community_id"], seed_1["community_id"]);
    }
}
