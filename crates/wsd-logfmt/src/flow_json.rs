//! The JSON flow record: every field of a [`FlowRecord`] as one JSON object.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_decode::TunnelInfo;
use wsd_flow::{Counters, Endpoint, FlowRecord, IcmpDetails};

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
    push_tunnel(&mut object, record.tunnel.as_ref());

    push_endpoint(&mut object, "src", &record.client);
    push_endpoint(&mut object, "dst", &record.server);
    push_icmp(&mut object, record.icmp.as_ref());

    push_counters(&mut object, "out", &record.out);
    push_counters(&mut object, "in", &record.inbound);

    object.string("conn_state", record.state.name());
    object.string("history", record.history.as_str());
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

fn push_tunnel(object: &mut JsonObject<'_>, tunnel: Option<&TunnelInfo>) {
    let Some(tunnel) = tunnel else {
        for name in ["tunnel_kind", "tunnel_src", "tunnel_dst", "tunnel_id"] {
            object.null(name);
        }
        return;
    };
    object.string("tunnel_kind", tunnel.kind.name());
    push_ip(object, "tunnel_src", tunnel.src);
    push_ip(object, "tunnel_dst", tunnel.dst);
    match tunnel.id {
        Some(id) => object.u64("tunnel_id", u64::from(id)),
        None => object.null("tunnel_id"),
    }
}

fn push_icmp(object: &mut JsonObject<'_>, icmp: Option<&IcmpDetails>) {
    let Some(icmp) = icmp else {
        for name in ["icmp_type", "icmp_code", "echo_id"] {
            object.null(name);
        }
        return;
    };
    object.u64("icmp_type", u64::from(icmp.icmp_type));
    object.u64("icmp_code", u64::from(icmp.code));
    match icmp.echo_id {
        Some(id) => object.u64("echo_id", u64::from(id)),
        None => object.null("echo_id"),
    }
}

pub(crate) fn push_ip(object: &mut JsonObject<'_>, name: &str, ip: IpAddr) {
    let out = object.key(name);
    out.push(b'"');
    push_text(out, &Ip(ip));
    out.push(b'"');
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
    push_ip(object, ip, endpoint.ip);
    object.u64(port, u64::from(endpoint.port));
}

/// Returns a MAC address as six zero-padded lower-case hex bytes, such as
/// `08:5b:0e:6d:14:e8`.
pub(crate) fn zero_padded_mac(bytes: [u8; 6]) -> [u8; 17] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b':'; 17];
    for (i, byte) in bytes.into_iter().enumerate() {
        text[3 * i] = HEX[usize::from(byte >> 4)];
        text[3 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    text
}

/// Member names of one direction's counters, by direction.
fn counter_names(direction: &str) -> [&'static str; 8] {
    if direction == "out" {
        [
            "packets_out",
            "bytes_out",
            "payload_bytes_out",
            "ip_bytes_out",
            "stream_bytes_out",
            "missed_bytes_out",
            "retransmitted_packets_out",
            "retransmitted_bytes_out",
        ]
    } else {
        [
            "packets_in",
            "bytes_in",
            "payload_bytes_in",
            "ip_bytes_in",
            "stream_bytes_in",
            "missed_bytes_in",
            "retransmitted_packets_in",
            "retransmitted_bytes_in",
        ]
    }
}

fn push_counters(object: &mut JsonObject<'_>, direction: &str, counters: &Counters) {
    let values = [
        counters.packets,
        counters.bytes,
        counters.payload_bytes,
        counters.ip_bytes,
        counters.stream_bytes,
        counters.missed_bytes,
        counters.retransmitted_packets,
        counters.retransmitted_bytes,
    ];
    for (name, value) in counter_names(direction).into_iter().zip(values) {
        object.u64(name, value);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use wsd_decode::{MacAddr, TunnelKind, Vlans};
    use wsd_flow::{ConnState, EndReason, History};

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
                stream_bytes: 10,
                missed_bytes: 2,
                retransmitted_packets: 1,
                retransmitted_bytes: 4,
            },
            inbound: Counters {
                packets: 1,
                bytes: 32,
                payload_bytes: 0,
                ip_bytes: 52,
                ..Counters::default()
            },
            midstream: false,
            syn_seen: true,
            end_reason: EndReason::Fin,
            state: ConnState::SF,
            history: history("ShADadFf"),
            tunnel: None,
            icmp: None,
        }
    }

    fn history(letters: &str) -> History {
        let mut history = History::EMPTY;
        for letter in letters.bytes() {
            assert!(history.push(letter));
        }
        history
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
        assert_eq!(value["stream_bytes_out"], 10);
        assert_eq!(value["missed_bytes_out"], 2);
        assert_eq!(value["retransmitted_packets_out"], 1);
        assert_eq!(value["retransmitted_bytes_out"], 4);
        assert_eq!(value["stream_bytes_in"], 0);
        assert_eq!(value["conn_state"], "SF");
        assert_eq!(value["history"], "ShADadFf");
        assert!(value["tunnel_kind"].is_null());
        assert!(value["tunnel_id"].is_null());
        assert!(value["icmp_type"].is_null());
        assert!(value["echo_id"].is_null());
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
    fn tunnel_and_icmp_members() {
        let mut flow = record();
        flow.protocol = 1;
        flow.client.port = 0;
        flow.server.port = 0;
        flow.tunnel = Some(TunnelInfo {
            kind: TunnelKind::Vxlan,
            src: ip("192.0.2.1"),
            dst: ip("192.0.2.2"),
            id: Some(4096),
        });
        flow.icmp = Some(IcmpDetails {
            icmp_type: 8,
            code: 0,
            echo_id: Some(77),
            v6: false,
        });
        let value = parse(&flow, &RecordOptions::default());
        assert_eq!(value["protocol_name"], "icmp");
        assert_eq!(value["tunnel_kind"], "vxlan");
        assert_eq!(value["tunnel_src"], "192.0.2.1");
        assert_eq!(value["tunnel_dst"], "192.0.2.2");
        assert_eq!(value["tunnel_id"], 4096);
        assert_eq!(value["icmp_type"], 8);
        assert_eq!(value["icmp_code"], 0);
        assert_eq!(value["echo_id"], 77);
        // An echo request hashes like the baseline's 192.168.0.89 -> 192.168.0.1.
        flow.client.ip = ip("192.168.0.89");
        flow.server.ip = ip("192.168.0.1");
        let value = parse(&flow, &RecordOptions::default());
        assert_eq!(value["community_id"], "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    }

    #[test]
    fn sctp_ports_and_community_id() {
        let mut flow = record();
        flow.protocol = 132;
        flow.client.ip = ip("192.168.170.8");
        flow.client.port = 7;
        flow.server.ip = ip("192.168.170.56");
        flow.server.port = 7;
        let value = parse(&flow, &RecordOptions::default());

        assert_eq!(value["protocol_name"], "other");
        assert_eq!(value["protocol"], 132);
        assert_eq!(value["src_port"], 7);
        assert_eq!(value["dst_port"], 7);
        assert!(value["icmp_type"].is_null());
        // The SCTP flow of the Community ID specification's baseline.
        assert_eq!(value["community_id"], "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=");
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
