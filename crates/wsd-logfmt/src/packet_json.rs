//! The per-packet line of verbose mode as a JSON object, for `--format json`.

use wsd_capture::Timestamp;
use wsd_decode::{Decoded, MacAddr, Transport};
use wsd_flow::{Direction, PacketOutcome};

use crate::flow_json::{protocol_name, push_ip, zero_padded_mac};
use crate::json::{push_epoch, push_rfc3339_utc, JsonObject};
use crate::packet_line::{line_fields, FLAG_CHARS};

/// Appends the packet line of one packet as a JSON object and a newline to
/// `out`, with the fields of [`format_packet_line`](crate::format_packet_line).
///
/// Returns false and appends nothing for the packets that get no text line
/// either. Every member is always present, `null` where it does not apply.
pub fn format_packet_json(
    out: &mut Vec<u8>,
    ts: Timestamp,
    decoded: &Decoded,
    outcome: &PacketOutcome,
) -> bool {
    let Some((ip, ports)) = line_fields(decoded, outcome) else {
        return false;
    };

    let mut object = JsonObject::begin(out);
    object.ascii("type", b"packet");
    let time = object.key("time");
    time.push(b'"');
    push_rfc3339_utc(time, ts);
    time.push(b'"');
    push_epoch(object.key("time_epoch"), ts);
    object.ascii("protocol_name", protocol_name(ip.protocol));
    object.u64("protocol", u64::from(ip.protocol));
    object.ascii("direction", direction_name(outcome.direction));

    push_mac(&mut object, "src_mac", decoded.src_mac);
    push_ip(&mut object, "src_ip", ip.src);
    push_mac(&mut object, "dst_mac", decoded.dst_mac);
    push_ip(&mut object, "dst_ip", ip.dst);
    match ports {
        Some((src_port, dst_port)) => {
            object.u64("src_port", u64::from(src_port));
            object.u64("dst_port", u64::from(dst_port));
        }
        None => {
            object.null("src_port");
            object.null("dst_port");
        }
    }

    match decoded.transport {
        Transport::Tcp(tcp) => {
            let mut flags = [0u8; 8];
            let mut count = 0;
            for (bit, letter) in FLAG_CHARS {
                if tcp.flags.has(bit) {
                    flags[count] = letter;
                    count += 1;
                }
            }
            object.ascii("tcp_flags", &flags[..count]);
            object.u64("window", u64::from(tcp.window));
            object.u64("seq", u64::from(tcp.seq));
            object.u64("rel_seq", u64::from(outcome.rel_seq));
            object.u64("ack", u64::from(tcp.ack));
            object.u64("rel_ack", u64::from(outcome.rel_ack));
        }
        _ => {
            for name in ["tcp_flags", "window", "seq", "rel_seq", "ack", "rel_ack"] {
                object.null(name);
            }
        }
    }
    match decoded.transport {
        Transport::Icmp(icmp) => {
            object.u64("icmp_type", u64::from(icmp.icmp_type));
            object.u64("icmp_code", u64::from(icmp.code));
        }
        _ => {
            object.null("icmp_type");
            object.null("icmp_code");
        }
    }
    match outcome.anomaly {
        Some(anomaly) => object.string("anomaly", anomaly.reason()),
        None => object.null("anomaly"),
    }
    object.end();
    out.push(b'\n');
    true
}

/// Returns the `direction` member's value: the side that sent the packet.
fn direction_name(direction: Direction) -> &'static [u8] {
    match direction {
        Direction::ToServer => b"to_server",
        Direction::ToClient => b"to_client",
        Direction::Unattributed => b"unattributed",
    }
}

fn push_mac(object: &mut JsonObject<'_>, name: &str, mac: Option<MacAddr>) {
    match mac {
        Some(address) => object.ascii(name, &zero_padded_mac(address.0)),
        None => object.null(name),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use wsd_decode::{IcmpInfo, IpInfo, TcpFlags, TcpInfo};
    use wsd_flow::Anomaly;

    use super::*;

    fn packet(transport: Transport, protocol: u8) -> Decoded {
        Decoded {
            src_mac: Some(MacAddr([0x10, 0xc3, 0x7b, 0x9b, 0x41, 0xc9])),
            dst_mac: None,
            ip: Some(IpInfo {
                src: "172.20.1.144".parse().expect("valid address"),
                dst: "2001:db8::1".parse().expect("valid address"),
                protocol,
                total_len: 40,
                header_len: 20,
                is_later_fragment: false,
                is_first_fragment: false,
            }),
            transport,
            ..Decoded::default()
        }
    }

    fn outcome(direction: Direction, anomaly: Option<Anomaly>) -> PacketOutcome {
        PacketOutcome {
            direction,
            rel_seq: 1,
            rel_ack: 7,
            anomaly,
        }
    }

    fn parse(decoded: &Decoded, outcome: &PacketOutcome) -> Value {
        let mut out = Vec::new();
        let ts = Timestamp::from_parts(1_515_026_248, 970_290_000);
        assert!(format_packet_json(&mut out, ts, decoded, outcome));
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&byte| byte == b'\n').count(), 1);
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn tcp_packet_members() {
        let tcp = TcpInfo {
            src_port: 65085,
            dst_port: 443,
            seq: 2_704_739_503,
            ack: 1_911_183_578,
            flags: TcpFlags(TcpFlags::SYN | TcpFlags::ACK),
            window: 16425,
            header_len: 20,
            segment_len: 20,
            payload_len: 0,
        };
        let value = parse(
            &packet(Transport::Tcp(tcp), 6),
            &outcome(Direction::ToClient, Some(Anomaly::NoHandshake)),
        );

        assert_eq!(value["type"], "packet");
        assert_eq!(value["time"], "2018-01-04T00:37:28.970290Z");
        assert_eq!(value["time_epoch"].as_f64(), Some(1_515_026_248.970_29));
        assert_eq!(value["protocol_name"], "tcp");
        assert_eq!(value["protocol"], 6);
        assert_eq!(value["direction"], "to_client");
        assert_eq!(value["src_mac"], "10:c3:7b:9b:41:c9");
        assert_eq!(value["dst_mac"], Value::Null);
        assert_eq!(value["src_ip"], "172.20.1.144");
        assert_eq!(value["dst_ip"], "2001:db8::1");
        assert_eq!(value["src_port"], 65085);
        assert_eq!(value["dst_port"], 443);

        assert_eq!(value["tcp_flags"], "SA");
        assert_eq!(value["window"], 16425);
        assert_eq!(value["seq"], 2_704_739_503u64);
        assert_eq!(value["rel_seq"], 1);
        assert_eq!(value["ack"], 1_911_183_578u64);
        assert_eq!(value["rel_ack"], 7);
        assert_eq!(value["icmp_type"], Value::Null);
        assert_eq!(value["anomaly"], Anomaly::NoHandshake.reason());
    }

    #[test]
    fn icmp_packet_has_no_ports() {
        let icmp = IcmpInfo {
            icmp_type: 8,
            code: 0,
            v6: false,
            echo_id: Some(3),
        };
        let value = parse(
            &packet(Transport::Icmp(icmp), 1),
            &outcome(Direction::ToServer, None),
        );
        assert_eq!(value["protocol_name"], "icmp");
        assert_eq!(value["direction"], "to_server");
        assert_eq!(value["src_port"], Value::Null);
        assert_eq!(value["dst_port"], Value::Null);
        assert_eq!(value["tcp_flags"], Value::Null);
        assert_eq!(value["icmp_type"], 8);
        assert_eq!(value["icmp_code"], 0);
        assert_eq!(value["anomaly"], Value::Null);
    }

    #[test]
    fn packet_without_transport_skipped() {
        let mut out = Vec::new();
        let decoded = packet(Transport::None, 6);
        let outcome = outcome(Direction::Unattributed, None);
        assert!(!format_packet_json(
            &mut out,
            Timestamp::ZERO,
            &decoded,
            &outcome
        ));
        assert!(out.is_empty());
    }
}
