//! The per-packet line, written for each TCP, UDP, SCTP or ICMP packet in verbose mode.

use std::net::IpAddr;

use wsd_capture::Timestamp;
use wsd_decode::{Decoded, IpInfo, MacAddr, TcpFlags, TcpInfo, Transport};
use wsd_flow::{Direction, PacketOutcome};

use crate::text::{push_with_cursor, Cursor, Ip, Mac, SixDigits, Text};

/// Minimum width of a MAC address column.
const MAC_WIDTH: usize = 17;
/// Minimum width of an IP address column.
const IP_WIDTH: usize = 16;
/// Minimum width of a port column.
const PORT_WIDTH: usize = 5;

/// Upper bound of a packet line's length without its anomaly. The widest time,
/// MACs, IPv6 addresses, ports and TCP fields take 239 bytes with the spaces and
/// the newline. The rest is room for the cursor's fixed-size copies, which
/// write past the end of a value.
const MAX_LINE_LEN: usize = 256;

/// The flag characters in the order they appear, each with its bit.
pub(crate) const FLAG_CHARS: [(u8, u8); 8] = [
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
/// Returns false and appends nothing if the packet has no IP layer or no TCP, UDP,
/// SCTP or ICMP header, or if it is an SCTP packet that `outcome` attributes to no
/// flow. The layout is described in the [crate documentation](crate#per-packet-line).
pub fn format_packet_line(
    out: &mut Vec<u8>,
    ts: Timestamp,
    decoded: &Decoded,
    outcome: &PacketOutcome,
) -> bool {
    let Some((ip, ports)) = line_fields(decoded, outcome) else {
        return false;
    };
    let (src_port, dst_port) = match ports {
        Some((src, dst)) => (Some(src), Some(dst)),
        None => (None, None),
    };
    let anomaly = outcome.anomaly.map(|anomaly| anomaly.reason().as_bytes());
    let max_len = MAX_LINE_LEN + anomaly.map_or(0, |reason| 3 + reason.len());

    push_with_cursor(out, max_len, |line| {
        push_timestamp(line, ts);
        line.push(b' ');
        let src_mac = mac_or_zero(decoded.src_mac);
        line.push_spaces(MAC_WIDTH.saturating_sub(Mac(src_mac).len()));
        line.push_mac(src_mac);
        line.push_slice(b"->");
        let dst_mac = mac_or_zero(decoded.dst_mac);
        line.push_mac(dst_mac);
        line.push_spaces(MAC_WIDTH.saturating_sub(Mac(dst_mac).len()));

        line.push(b' ');
        push_address(line, ip.src, src_port);
        line.push(b' ');
        line.push_slice(direction_arrow(outcome.direction));
        line.push(b' ');
        push_address(line, ip.dst, dst_port);
        line.push(b' ');

        match decoded.transport {
            Transport::Tcp(tcp) => push_tcp_fields(line, &tcp, outcome),
            Transport::Udp(_) => line.push_slice(b"UDP"),
            Transport::Sctp(_) => line.push_slice(b"SCTP"),
            Transport::Icmp(icmp) => {
                line.push_slice(b"ICMP type: ");
                line.push_u64(u64::from(icmp.icmp_type));
                line.push_slice(b" code: ");
                line.push_u64(u64::from(icmp.code));
            }
            // Unreachable, because packets without a transport header returned early.
            Transport::None => {}
        }

        if let Some(reason) = anomaly {
            line.push_slice(b" - ");
            line.push_slice(reason);
        }
        line.push(b'\n');
    });
    true
}

/// Returns the IP layer of a packet that gets a packet line, with its source and
/// destination ports if its protocol has them, or `None` if it gets no line.
pub(crate) fn line_fields(
    decoded: &Decoded,
    outcome: &PacketOutcome,
) -> Option<(IpInfo, Option<(u16, u16)>)> {
    let ip = decoded.ip?;
    let ports = match decoded.transport {
        Transport::Tcp(tcp) => Some((tcp.src_port, tcp.dst_port)),
        Transport::Udp(udp) => Some((udp.src_port, udp.dst_port)),
        // The tracker leaves SCTP packets unattributed only when it does not
        // track SCTP, because other protocols produce no records. They then get
        // no line, as before SCTP was decoded, so that `--compat` output stays
        // the same.
        Transport::Sctp(_) if outcome.direction == Direction::Unattributed => return None,
        Transport::Sctp(sctp) => Some((sctp.src_port, sctp.dst_port)),
        Transport::Icmp(_) => None,
        Transport::None => return None,
    };
    Some((ip, ports))
}

/// Pushes `[seconds.micros]`, with the microseconds truncated toward zero, so
/// that a time before 1970 reads as `startEpoch` gives it.
fn push_timestamp(line: &mut Cursor<'_>, ts: Timestamp) {
    line.push(b'[');
    let micros = ts.as_nanos() / 1_000;
    if micros < 0 {
        line.push(b'-');
    }
    let magnitude = micros.unsigned_abs();
    line.push_u64(magnitude / 1_000_000);
    line.push(b'.');
    line.push_text(&SixDigits((magnitude % 1_000_000) as u32));
    line.push(b']');
}

/// Returns the MAC address, or all zeros for link types without one.
fn mac_or_zero(mac: Option<MacAddr>) -> MacAddr {
    mac.unwrap_or_default()
}

/// Pushes an IP address right-aligned, then `:port` with the port left-aligned,
/// or blanks of the same width when there is no port.
fn push_address(line: &mut Cursor<'_>, ip: IpAddr, port: Option<u16>) {
    line.push_spaces(IP_WIDTH.saturating_sub(Ip(ip).len()));
    line.push_ip(ip);
    match port {
        Some(port) => {
            line.push(b':');
            let start = line.position();
            line.push_u64(u64::from(port));
            let digits = line.position() - start;
            line.push_spaces(PORT_WIDTH.saturating_sub(digits));
        }
        None => line.push_spaces(1 + PORT_WIDTH),
    }
}

fn direction_arrow(direction: Direction) -> &'static [u8] {
    match direction {
        Direction::ToServer => b"->",
        Direction::ToClient => b"<-",
        Direction::Unattributed => b"??",
    }
}

/// Pushes `TCP [flags] win: N seq: S (+rel) ack: A (+rel)`.
fn push_tcp_fields(line: &mut Cursor<'_>, tcp: &TcpInfo, outcome: &PacketOutcome) {
    line.push_slice(b"TCP [");
    for (bit, flag_char) in FLAG_CHARS {
        let symbol = if tcp.flags.has(bit) { flag_char } else { b'.' };
        line.push(symbol);
    }
    line.push_slice(b"] win: ");
    line.push_u64(u64::from(tcp.window));

    line.push_slice(b" seq: ");
    line.push_u64(u64::from(tcp.seq));
    line.push_slice(b" (+");
    line.push_u64(u64::from(outcome.rel_seq));

    line.push_slice(b") ack: ");
    line.push_u64(u64::from(tcp.ack));
    line.push_slice(b" (+");
    line.push_u64(u64::from(outcome.rel_ack));
    line.push(b')');
}

#[cfg(test)]
mod tests {
    use wsd_decode::{IcmpInfo, IpInfo, SctpInfo, UdpInfo, Vlans};
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

    fn sctp_example() -> Decoded {
        Decoded {
            ip: Some(ip_layer("172.20.1.144", "172.20.1.3", 132)),
            transport: Transport::Sctp(SctpInfo {
                src_port: 2905,
                dst_port: 36412,
                packet_len: 48,
            }),
            ..tcp_example()
        }
    }

    #[test]
    fn sctp_line_has_ports() {
        let ts = Timestamp::from_parts(1_515_026_248, 684_504_999);
        let expected = "[1515026248.684504] 10:c3:7b:9b:41:c9->8:5b:e:6d:14:e8       \
                        172.20.1.144:2905  <-       172.20.1.3:36412 SCTP\n";
        let outcome = PacketOutcome {
            direction: Direction::ToClient,
            ..to_server(0, 0)
        };
        assert_eq!(line(ts, &sctp_example(), &outcome), expected);
    }

    #[test]
    fn no_line_for_untracked_sctp() {
        let mut out = Vec::new();
        let written = format_packet_line(
            &mut out,
            example_ts(),
            &sctp_example(),
            &PacketOutcome::UNATTRIBUTED,
        );
        assert!(!written);
        assert!(out.is_empty());
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
    fn widest_line_fits() {
        let widest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let decoded = Decoded {
            src_mac: Some(MacAddr([0xff; 6])),
            dst_mac: Some(MacAddr([0xff; 6])),
            ip: Some(ip_layer(widest, widest, 6)),
            transport: Transport::Tcp(TcpInfo {
                seq: u32::MAX,
                ack: u32::MAX,
                window: u16::MAX,
                ..tcp_header(u16::MAX, u16::MAX, 0xff)
            }),
            ..tcp_example()
        };
        let outcome = PacketOutcome {
            anomaly: Some(Anomaly::SynAckWithoutSyn),
            ..to_server(u32::MAX, u32::MAX)
        };
        let text = line(Timestamp::from_nanos(i64::MIN), &decoded, &outcome);

        let expected = format!(
            "[-9223372036.854775] ff:ff:ff:ff:ff:ff->ff:ff:ff:ff:ff:ff {widest}:65535 -> \
             {widest}:65535 TCP [FSRPAUEC] win: 65535 seq: 4294967295 (+4294967295) \
             ack: 4294967295 (+4294967295) - SYN-ACK without SYN\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn times_before_1970_truncated_toward_zero() {
        let cases = [
            (-1_999_999_999_999_000_000, "[-1999999999.999000] "),
            (-500_000_001, "[-0.500000] "),
            (-999, "[0.000000] "),
        ];
        for (nanos, expected) in cases {
            let ts = Timestamp::from_nanos(nanos);
            let text = line(ts, &tcp_example(), &to_server(1, 1));
            assert!(text.starts_with(expected), "{nanos}: {text}");
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
