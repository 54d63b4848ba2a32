//! The per-packet line, written for each TCP, UDP or ICMP packet in verbose mode.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_decode::{Decoded, MacAddr, TcpFlags, TcpInfo, Transport};
use wsd_flow::{Direction, PacketOutcome};

use crate::text::{
    push_i64, push_left_aligned, push_right_aligned, push_spaces, push_text, push_u64, Decimal, Ip,
    Mac, SixDigits,
};

/// Minimum width of a MAC address column.
const MAC_WIDTH: usize = 17;
/// Minimum width of an IP address column.
const IP_WIDTH: usize = 16;
/// Minimum width of a port column.
const PORT_WIDTH: usize = 5;

/// The flag characters in the order they appear, each with its bit.
const FLAG_CHARS: [(u8, u8); 8] = [
    (TcpFlags::FIN, b'F'),
    (TcpFlags::SYN, b'S'),
    (TcpFlags::RST, b'R'),
    (TcpFlags::PSH, b'P'),
    (TcpFlags::ACK, b'A'),
    (TcpFlags::URG, b'U'),
    (TcpFlags::ECE, b'E'),
    (TcpFlags::CWR, b'C'),
];

/// Appends the packet line of one packet, newline included, to `out`.
///
/// Returns false and appends nothing if the packet has no IP layer or no TCP, UDP
/// or ICMP header. The layout is described in the
/// [crate documentation](crate#per-packet-line).
pub fn format_packet_line(
    out: &mut Vec<u8>,
    ts: Timestamp,
    decoded: &Decoded,
    outcome: &PacketOutcome,
) -> bool {
    let Some(ip) = decoded.ip else {
        return false;
    };
    let (src_port, dst_port) = match decoded.transport {
        Transport::Tcp(tcp) => (Some(tcp.src_port), Some(tcp.dst_port)),
        Transport::Udp(udp) => (Some(udp.src_port), Some(udp.dst_port)),
        Transport::Icmp(_) => (None, None),
        Transport::None => return false,
    };

    push_timestamp(out, ts);
    out.push(b' ');
    push_right_aligned(out, MAC_WIDTH, &Mac(mac_or_zero(decoded.src_mac)));
    out.extend_from_slice(b"->");
    push_left_aligned(out, MAC_WIDTH, &Mac(mac_or_zero(decoded.dst_mac)));

    out.push(b' ');
    push_address(out, ip.src, src_port);
    out.push(b' ');
    out.extend_from_slice(direction_arrow(outcome.direction));
    out.push(b' ');
    push_address(out, ip.dst, dst_port);
    out.push(b' ');

    match decoded.transport {
        Transport::Tcp(tcp) => push_tcp_fields(out, &tcp, outcome),
        Transport::Udp(_) => out.extend_from_slice(b"UDP"),
        Transport::Icmp(icmp) => {
            out.extend_from_slice(b"ICMP type: ");
            push_u64(out, u64::from(icmp.icmp_type));
            out.extend_from_slice(b" code: ");
            push_u64(out, u64::from(icmp.code));
        }
        // Unreachable, because packets without a transport header returned early.
        Transport::None => {}
    }

    if let Some(anomaly) = outcome.anomaly {
        out.extend_from_slice(b" - ");
        out.extend_from_slice(anomaly.reason().as_bytes());
    }
    out.push(b'\n');
    true
}

/// Appends `[seconds.micros]`, with the microseconds truncated.
fn push_timestamp(out: &mut Vec<u8>, ts: Timestamp) {
    out.push(b'[');
    push_i64(out, ts.secs());
    out.push(b'.');
    push_text(out, &SixDigits(ts.subsec_micros()));
    out.push(b']');
}

/// Returns the MAC address, or all zeros for link types without one.
fn mac_or_zero(mac: Option<MacAddr>) -> MacAddr {
    mac.unwrap_or_default()
}

/// Appends an IP address right-aligned, then `:port` with the port left-aligned,
/// or blanks of the same width when there is no port.
fn push_address(out: &mut Vec<u8>, ip: IpAddr, port: Option<u16>) {
    push_right_aligned(out, IP_WIDTH, &Ip(ip));
    match port {
        Some(port) => {
            out.push(b':');
            push_left_aligned(out, PORT_WIDTH, &Decimal(u64::from(port)));
        }
        None => push_spaces(out, 1 + PORT_WIDTH),
    }
}

fn direction_arrow(direction: Direction) -> &'static [u8] {
    match direction {
        Direction::ToServer => b"->",
        Direction::ToClient => b"<-",
        Direction::Unattributed => b"??",
    }
}

/// Appends `TCP [flags] win: N seq: S (+rel) ack: A (+rel)`.
fn push_tcp_fields(out: &mut Vec<u8>, tcp: &TcpInfo, outcome: &PacketOutcome) {
    out.extend_from_slice(b"TCP [");
    for (bit, flag_char) in FLAG_CHARS {
        let symbol = if tcp.flags.has(bit) { flag_char } else { b'.' };
        out.push(symbol);
    }
    out.extend_from_slice(b"] win: ");
    push_u64(out, u64::from(tcp.window));

    out.extend_from_slice(b" seq: ");
    push_u64(out, u64::from(tcp.seq));
    out.extend_from_slice(b" (+");
    push_u64(out, u64::from(outcome.rel_seq));

    out.extend_from_slice(b") ack: ");
    push_u64(out, u64::from(tcp.ack));
    out.extend_from_slice(b" (+");
    push_u64(out, u64::from(outcome.rel_ack));
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use wsd_decode::{IcmpInfo, IpInfo, UdpInfo, Vlans};
    use wsd_flow::Anomaly;

    use super::*;

    const CLIENT_MAC: MacAddr = MacAddr([0x10, 0xc3, 0x7b, 0x9b, 0x41, 0xc9]);
    const GATEWAY_MAC: MacAddr = MacAddr([0x08, 0x5b, 0x0e, 0x6d, 0x14, 0xe8]);

    fn ip_layer(src: &str, dst: &str, protocol: u8) -> IpInfo {
        IpInfo {
            src: src.parse().expect("valid test address"),
            dst: dst.parse().expect("valid test address"),
            protocol,
            total_len: 40,
            header_len: 20,
            is_later_fragment: false,
            is_first_fragment: false,
        }
    }

    fn tcp_header(src_port: u16, dst_port: u16, flags: u8) -> TcpInfo {
        TcpInfo {
            src_port,
            dst_port,
            seq: 2_704_739_503,
            ack: 1_911_183_578,
            flags: TcpFlags(flags),
            window: 16425,
            header_len: 20,
            segment_len: 20,
            payload_len: 0,
        }
    }

    /// Builds the packet of the TCP example line in the crate documentation.
    fn tcp_example() -> Decoded {
        Decoded {
            src_mac: Some(CLIENT_MAC),
            dst_mac: Some(GATEWAY_MAC),
            vlans: Vlans::default(),
            ip: Some(ip_layer("172.20.1.144", "23.72.109.149", 6)),
            transport: Transport::Tcp(tcp_header(65085, 443, TcpFlags::ACK)),
            stop: None,
            ..Decoded::default()
        }
    }

    fn to_server(rel_seq: u32, rel_ack: u32) -> PacketOutcome {
        PacketOutcome {
            direction: Direction::ToServer,
            rel_seq,
            rel_ack,
            anomaly: None,
        }
    }

    fn line(ts: Timestamp, decoded: &Decoded, outcome: &PacketOutcome) -> String {
        let mut out = Vec::new();
        assert!(format_packet_line(&mut out, ts, decoded, outcome));
        String::from_utf8(out).expect("packet lines are ASCII")
    }

    fn example_ts() -> Timestamp {
        Timestamp::from_parts(1_515_026_248, 970_290_123)
    }

    #[test]
    fn tcp_example_byte_for_byte() {
        let expected = "[1515026248.970290] 10:c3:7b:9b:41:c9->8:5b:e:6d:14:e8       \
                        172.20.1.144:65085 ->    23.72.109.149:443   TCP [....A...] \
                        win: 16425 seq: 2704739503 (+1) ack: 1911183578 (+1)\n";
        assert_eq!(
            line(example_ts(), &tcp_example(), &to_server(1, 1)),
            expected
        );
    }

    #[test]
    fn udp_example_byte_for_byte() {
        let decoded = Decoded {
            ip: Some(ip_layer("172.20.1.144", "192.168.10.20", 17)),
            transport: Transport::Udp(UdpInfo {
                src_port: 58410,
                dst_port: 53,
                datagram_len: 40,
            }),
            ..tcp_example()
        };
        let ts = Timestamp::from_parts(1_515_026_248, 684_504_999);
        let expected = "[1515026248.684504] 10:c3:7b:9b:41:c9->8:5b:e:6d:14:e8       \
                        172.20.1.144:58410 ->    192.168.10.20:53    UDP\n";
        assert_eq!(line(ts, &decoded, &to_server(0, 0)), expected);
    }

    #[test]
    fn microseconds_zero_padded() {
        let ts = Timestamp::from_parts(1_515_026_248, 4_999);
        let text = line(ts, &tcp_example(), &to_server(1, 1));
        assert!(text.starts_with("[1515026248.000004] "), "{text}");
    }

    #[test]
    fn direction_arrows() {
        let cases = [
            (Direction::ToServer, " -> "),
            (Direction::ToClient, " <- "),
            (Direction::Unattributed, " ?? "),
        ];
        for (direction, arrow) in cases {
            let outcome = PacketOutcome {
                direction,
                ..to_server(1, 1)
            };
            let text = line(example_ts(), &tcp_example(), &outcome);
            let expected = format!("172.20.1.144:65085{arrow}   23.72.109.149:443 ");
            assert!(text.contains(&expected), "{direction:?}: {text}");
        }
    }

    #[test]
    fn each_flag_bit() {
        let cases = [
            (TcpFlags::FIN, "[F.......]"),
            (TcpFlags::SYN, "[.S......]"),
            (TcpFlags::RST, "[..R.....]"),
            (TcpFlags::PSH, "[...P....]"),
            (TcpFlags::ACK, "[....A...]"),
            (TcpFlags::URG, "[.....U..]"),
            (TcpFlags::ECE, "[......E.]"),
            (TcpFlags::CWR, "[.......C]"),
            (0x00, "[........]"),
            (0xff, "[FSRPAUEC]"),
            (TcpFlags::SYN | TcpFlags::ACK, "[.S..A...]"),
        ];
        for (flags, shown) in cases {
            let decoded = Decoded {
                transport: Transport::Tcp(tcp_header(65085, 443, flags)),
                ..tcp_example()
            };
            let text = line(example_ts(), &decoded, &to_server(1, 1));
            assert!(
                text.contains(&format!(" TCP {shown} win: ")),
                "flags {flags:#04x}: {text}"
            );
        }
    }

    #[test]
    fn relative_numbers_wrap_as_given() {
        let text = line(example_ts(), &tcp_example(), &to_server(u32::MAX, 0));
        assert!(
            text.ends_with(" (+4294967295) ack: 1911183578 (+0)\n"),
            "{text}"
        );
    }

    #[test]
    fn missing_macs_print_zeros() {
        let decoded = Decoded {
            src_mac: None,
            dst_mac: None,
            ..tcp_example()
        };
        let text = line(example_ts(), &decoded, &to_server(1, 1));
        let expected = "[1515026248.970290]       0:0:0:0:0:0->0:0:0:0:0:0           \
                        172.20.1.144:65085 ->";
        assert!(text.starts_with(expected), "{text}");
    }

    #[test]
    fn ipv6_widens_address_column() {
        let decoded = Decoded {
            ip: Some(ip_layer("2001:db8::8a5b:eff:fe6d:14e8", "::1", 6)),
            ..tcp_example()
        };
        let text = line(example_ts(), &decoded, &to_server(1, 1));
        let expected = " 2001:db8::8a5b:eff:fe6d:14e8:65085 ->              ::1:443   TCP [";
        assert!(text.contains(expected), "{text}");
    }

    #[test]
    fn short_ipv6_right_aligned() {
        let decoded = Decoded {
            ip: Some(ip_layer("fe80::1", "ff02::1:2", 6)),
            ..tcp_example()
        };
        let text = line(example_ts(), &decoded, &to_server(1, 1));
        assert!(
            text.contains("        fe80::1:65085 ->        ff02::1:2:443   TCP"),
            "{text}"
        );
    }

    #[test]
    fn icmp_keeps_port_columns_blank() {
        let decoded = Decoded {
            ip: Some(ip_layer("172.20.1.144", "8.8.8.8", 1)),
            transport: Transport::Icmp(IcmpInfo {
                icmp_type: 8,
                code: 0,
                v6: false,
                echo_id: None,
            }),
            ..tcp_example()
        };
        let outcome = PacketOutcome::UNATTRIBUTED;
        let expected = "[1515026248.970290] 10:c3:7b:9b:41:c9->8:5b:e:6d:14:e8       \
                        172.20.1.144       ??          8.8.8.8       ICMP type: 8 code: 0\n";
        assert_eq!(line(example_ts(), &decoded, &outcome), expected);
    }

    #[test]
    fn icmpv6_labelled_icmp() {
        let decoded = Decoded {
            ip: Some(ip_layer("fe80::1", "ff02::1", 58)),
            transport: Transport::Icmp(IcmpInfo {
                icmp_type: 135,
                code: 0,
                v6: true,
                echo_id: None,
            }),
            ..tcp_example()
        };
        let text = line(example_ts(), &decoded, &PacketOutcome::UNATTRIBUTED);
        let expected = "         fe80::1       ??          ff02::1       ICMP type: 135 code: 0\n";
        assert!(text.ends_with(expected), "{text}");
    }

    #[test]
    fn anomaly_suffix() {
        let anomalies = [
            Anomaly::NoHandshake,
            Anomaly::SynAckWithoutSyn,
            Anomaly::RetransmittedSyn,
            Anomaly::SynAckNewIsn,
            Anomaly::PortReuse,
            Anomaly::AfterClose,
        ];
        for anomaly in anomalies {
            let outcome = PacketOutcome {
                anomaly: Some(anomaly),
                ..to_server(1, 1)
            };
            let text = line(example_ts(), &tcp_example(), &outcome);
            let expected = format!(" ack: 1911183578 (+1) - {}\n", anomaly.reason());
            assert!(text.ends_with(&expected), "{anomaly:?}: {text}");
        }
    }

    #[test]
    fn anomaly_on_udp_line() {
        let decoded = Decoded {
            transport: Transport::Udp(UdpInfo {
                src_port: 58410,
                dst_port: 53,
                datagram_len: 40,
            }),
            ..tcp_example()
        };
        let outcome = PacketOutcome {
            anomaly: Some(Anomaly::AfterClose),
            ..to_server(0, 0)
        };
        let text = line(example_ts(), &decoded, &outcome);
        assert!(
            text.ends_with(":53    UDP - packet after close\n"),
            "{text}"
        );
    }

    #[test]
    fn no_line_without_transport() {
        let decoded = Decoded {
            transport: Transport::None,
            ..tcp_example()
        };
        let mut out = b"kept".to_vec();
        let written = format_packet_line(&mut out, example_ts(), &decoded, &to_server(0, 0));
        assert!(!written);
        assert_eq!(out, b"kept");
    }

    #[test]
    fn no_line_without_ip() {
        let decoded = Decoded {
            ip: None,
            ..tcp_example()
        };
        let mut out = Vec::new();
        let written = format_packet_line(&mut out, example_ts(), &decoded, &to_server(0, 0));
        assert!(!written);
        assert!(out.is_empty());
    }

    #[test]
    fn lines_append() {
        let mut out = Vec::new();
        let outcome = to_server(1, 1);
        assert!(format_packet_line(
            &mut out,
            example_ts(),
            &tcp_example(),
            &outcome
        ));
        assert!(format_packet_line(
            &mut out,
            example_ts(),
            &tcp_example(),
            &outcome
        ));
        let text = String::from_utf8(out).expect("packet lines are ASCII");
        assert_eq!(text.lines().count(), 2);
        assert_eq!(text.lines().next(), text.lines().nth(1));
    }
}
