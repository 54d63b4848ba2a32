//! The flow record line, written when a flow ends.

use wsd_decode::TunnelInfo;
use wsd_flow::{Endpoint, FlowRecord, IcmpDetails};

use wsd_capture::Timestamp;

use crate::community_id::{flow_community_id, COMMUNITY_ID_LEN};
use crate::local_time::{EpochSlot, LocalTimeFormatter, LOCAL_TIME_LEN};
use crate::options::RecordOptions;
use crate::text::{push_with_cursor, Cursor, SixDigits};

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

/// Appends the classic flow record line of `record`, newline included, to `out`:
/// the keys up to `bytesOut` only, as `--compat` writes them.
///
/// The layout is described in the [crate documentation](crate#flow-record-line).
/// `clock` converts the flow's start time to local time.
pub fn format_flow_record(out: &mut Vec<u8>, record: &FlowRecord, clock: &mut LocalTimeFormatter) {
    push_with_cursor(out, max_line_len(record), |line| {
        push_classic_keys(line, record, clock, PortKeys::Ports);
        line.push(b'\n');
    });
}

/// Appends the start of the flow record line that `wsd` writes for `record`
/// without `--compat`: the keys up to `bytesOut`, newline included. An ICMP
/// record has `icmpType` and `icmpCode` in the places of the port keys, and a
/// record of another protocol without ports has no port keys.
///
/// `clock` converts the flow's start time to local time.
pub fn format_flow_record_start(
    out: &mut Vec<u8>,
    record: &FlowRecord,
    clock: &mut LocalTimeFormatter,
) {
    push_with_cursor(out, max_line_len(record), |line| {
        push_classic_keys(line, record, clock, PortKeys::of(record));
        line.push(b'\n');
    });
}

/// The keys written in the places of the port keys of a record line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PortKeys {
    /// `sourcePort` and `destPort`, 0 for protocols without ports.
    Ports,
    /// `icmpType` and `icmpCode` of an ICMP or ICMPv6 record.
    Icmp(IcmpDetails),
    /// Nothing, for protocols without ports.
    Omitted,
}

impl PortKeys {
    /// Returns the port keys of `record` in the extended format.
    fn of(record: &FlowRecord) -> PortKeys {
        match (record.protocol, record.icmp) {
            (TCP | UDP | SCTP, _) => PortKeys::Ports,
            (ICMP | ICMPV6, Some(icmp)) => PortKeys::Icmp(icmp),
            _ => PortKeys::Omitted,
        }
    }
}

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// Maximum number of keys in a record line.
const MAX_KEYS: usize = 40;

/// Maximum length of a key with its leading space and its `=`, such as
/// ` retransPacketsOut=`.
const MAX_KEY_LEN: usize = 20;

/// Maximum length of `seconds.micros` of a timestamp: a sign, the whole
/// seconds and six decimals. The seconds of a 64-bit nanosecond count have 10
/// digits, but [`push_epoch`] copies them as a padded 20-byte text.
const MAX_EPOCH_LEN: usize = 1 + 20 + 1 + 6;

/// Maximum length of the values of a record line, except the four names that
/// [`max_line_len`] adds per record. The terms are, in order: the keyword, the
/// start time, the endpoints' MAC addresses, IP addresses and ports, the
/// duration and 16 counters, and the epoch times. Then come the protocol, two
/// VLAN IDs, `midstream` and `synSeen`, the echo id, the tunnel addresses and
/// id, the Community ID and the newline.
const MAX_FIXED_VALUES_LEN: usize = "ICMPFLOW".len()
    + LOCAL_TIME_LEN
    + 2 * (17 + 39 + 5)
    + 17 * 20
    + 2 * MAX_EPOCH_LEN
    + 3
    + "65535,65535".len()
    + 2 * "yes".len()
    + 5
    + 2 * 39
    + 10
    + COMMUNITY_ID_LEN
    + 1;

/// Returns an upper bound of the length of any record line of `record`.
fn max_line_len(record: &FlowRecord) -> usize {
    let tunnel_kind_len = record
        .tunnel
        .as_ref()
        .map_or(1, |tunnel| tunnel.kind.name().len());
    MAX_KEYS * MAX_KEY_LEN
        + MAX_FIXED_VALUES_LEN
        + record.state.name().len()
        + record.history.as_bytes().len().max(1)
        + record.end_reason.name().len()
        + tunnel_kind_len
}

/// Appends the flow record line of `record`, newline included, to `out`: the
/// classic keys, then unless `options.compat` is set the keys added after them.
///
/// `clock` converts the flow's start time to local time.
pub fn format_flow_record_with(
    out: &mut Vec<u8>,
    record: &FlowRecord,
    clock: &mut LocalTimeFormatter,
    options: &RecordOptions,
) {
    push_with_cursor(out, max_line_len(record), |line| {
        if options.compat {
            push_classic_keys(line, record, clock, PortKeys::Ports);
        } else {
            push_classic_keys(line, record, clock, PortKeys::of(record));
            push_extended_keys(line, record, clock, options);
        }
        line.push(b'\n');
    });
}

/// Pushes the keys from the keyword to `bytesOut`, with `ports` in the places
/// of the port keys.
fn push_classic_keys(
    line: &mut Cursor<'_>,
    record: &FlowRecord,
    clock: &mut LocalTimeFormatter,
    ports: PortKeys,
) {
    line.push_slice(flow_keyword(record.protocol));
    line.push_slice(b" startTime=");
    line.push_slice(clock.format(record.first_ts));

    push_endpoint(line, &SOURCE_KEYS, &record.client);
    match ports {
        PortKeys::Ports => push_counter(line, SOURCE_KEYS.port, u64::from(record.client.port)),
        PortKeys::Icmp(icmp) => push_counter(line, b" icmpType=", u64::from(icmp.icmp_type)),
        PortKeys::Omitted => {}
    }
    push_endpoint(line, &DEST_KEYS, &record.server);
    match ports {
        PortKeys::Ports => push_counter(line, DEST_KEYS.port, u64::from(record.server.port)),
        PortKeys::Icmp(icmp) => push_counter(line, b" icmpCode=", u64::from(icmp.code)),
        PortKeys::Omitted => {}
    }

    push_counter(line, b" duration=", record.duration_secs());
    push_counter(line, b" packetsIn=", record.inbound.packets);
    push_counter(line, b" packetsOut=", record.out.packets);
    push_counter(line, b" bytesIn=", record.inbound.bytes);
    push_counter(line, b" bytesOut=", record.out.bytes);
}

/// Pushes the keys that follow `bytesOut`, in the order of the documentation.
fn push_extended_keys(
    line: &mut Cursor<'_>,
    record: &FlowRecord,
    clock: &mut LocalTimeFormatter,
    options: &RecordOptions,
) {
    line.push_slice(b" startEpoch=");
    push_epoch(line, record.first_ts, clock, EpochSlot::Start);
    line.push_slice(b" endEpoch=");
    push_epoch(line, record.last_ts, clock, EpochSlot::End);
    line.push_slice(b" protocol=");
    line.push_u64(u64::from(record.protocol));
    line.push_slice(b" vlans=");
    push_vlan_list(line, record);

    let (inbound, outbound) = (&record.inbound, &record.out);
    push_counter(line, b" ipBytesIn=", inbound.ip_bytes);
    push_counter(line, b" ipBytesOut=", outbound.ip_bytes);
    push_counter(line, b" payloadBytesIn=", inbound.payload_bytes);
    push_counter(line, b" payloadBytesOut=", outbound.payload_bytes);
    push_counter(line, b" streamBytesIn=", inbound.stream_bytes);
    push_counter(line, b" streamBytesOut=", outbound.stream_bytes);
    push_counter(line, b" missedBytesIn=", inbound.missed_bytes);
    push_counter(line, b" missedBytesOut=", outbound.missed_bytes);
    push_counter(line, b" retransPacketsIn=", inbound.retransmitted_packets);
    push_counter(line, b" retransPacketsOut=", outbound.retransmitted_packets);
    push_counter(line, b" retransBytesIn=", inbound.retransmitted_bytes);
    push_counter(line, b" retransBytesOut=", outbound.retransmitted_bytes);

    line.push_slice(b" connState=");
    line.push_slice(record.state.name().as_bytes());
    line.push_slice(b" history=");
    push_or_dash(line, record.history.as_bytes());
    line.push_slice(b" midstream=");
    line.push_slice(yes_no(record.midstream));
    line.push_slice(b" synSeen=");
    line.push_slice(yes_no(record.syn_seen));
    line.push_slice(b" endReason=");
    line.push_slice(record.end_reason.name().as_bytes());

    line.push_slice(b" echoId=");
    match record.icmp.and_then(|icmp| icmp.echo_id) {
        Some(id) => line.push_u64(u64::from(id)),
        None => line.push(b'-'),
    }
    push_tunnel_keys(line, record.tunnel.as_ref());
    line.push_slice(b" communityId=");
    let id = flow_community_id(options.community_id_seed, record);
    line.push_slice(id.as_bytes());
}

/// Pushes `ts` as seconds since the Unix epoch with six decimals, as
/// [`push_epoch`](crate::json::push_epoch) appends it. The whole seconds come
/// from the text that `clock` caches for `slot`.
fn push_epoch(
    line: &mut Cursor<'_>,
    ts: Timestamp,
    clock: &mut LocalTimeFormatter,
    slot: EpochSlot,
) {
    let micros = ts.as_nanos() / 1_000;
    if micros < 0 {
        line.push(b'-');
    }
    let magnitude = micros.unsigned_abs();
    let seconds = clock.epoch_seconds(slot, magnitude / 1_000_000);
    line.push_padded(&seconds.digits, seconds.len);
    line.push(b'.');
    line.push_text(&SixDigits((magnitude % 1_000_000) as u32));
}

/// Returns `yes` or `no`, as `flowcache` writes flags too.
fn yes_no(flag: bool) -> &'static [u8] {
    if flag {
        b"yes"
    } else {
        b"no"
    }
}

/// Pushes `text`, or `-` if it is empty.
fn push_or_dash(line: &mut Cursor<'_>, text: &[u8]) {
    if text.is_empty() {
        line.push(b'-');
    } else {
        line.push_slice(text);
    }
}

/// Pushes the tunnel keys, each `-` for a flow that came through no tunnel.
fn push_tunnel_keys(line: &mut Cursor<'_>, tunnel: Option<&TunnelInfo>) {
    let Some(tunnel) = tunnel else {
        line.push_slice(b" tunnel=- tunnelSrc=- tunnelDst=- tunnelId=-");
        return;
    };
    line.push_slice(b" tunnel=");
    line.push_slice(tunnel.kind.name().as_bytes());
    line.push_slice(b" tunnelSrc=");
    line.push_ip(tunnel.src);
    line.push_slice(b" tunnelDst=");
    line.push_ip(tunnel.dst);
    line.push_slice(b" tunnelId=");
    match tunnel.id {
        Some(id) => line.push_u64(u64::from(id)),
        None => line.push(b'-'),
    }
}

/// Pushes the VLAN IDs outermost first, joined by commas, or `-` for none.
fn push_vlan_list(line: &mut Cursor<'_>, record: &FlowRecord) {
    let count = usize::from(record.vlans.count).min(record.vlans.ids.len());
    if count == 0 {
        line.push(b'-');
        return;
    }
    for (i, &id) in record.vlans.ids[..count].iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.push_u64(u64::from(id));
    }
}

/// Returns the keyword that starts a record of IP protocol `protocol`.
fn flow_keyword(protocol: u8) -> &'static [u8] {
    match protocol {
        6 => b"TCPFLOW",
        17 => b"UDPFLOW",
        1 | 58 => b"ICMPFLOW",
        _ => b"IPFLOW",
    }
}

/// Pushes the MAC and IP keys of one endpoint. The caller writes its port.
fn push_endpoint(line: &mut Cursor<'_>, keys: &EndpointKeys, endpoint: &Endpoint) {
    line.push_slice(keys.mac);
    line.push_mac(endpoint.mac.unwrap_or_default());
    line.push_slice(keys.ip);
    line.push_ip(endpoint.ip);
}

fn push_counter(line: &mut Cursor<'_>, key: &[u8], value: u64) {
    line.push_slice(key);
    line.push_u64(value);
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

    /// Returns the record of an SCTP association from 172.20.1.144:2905 to
    /// 172.20.1.3:36412.
    fn sctp_record() -> FlowRecord {
        let mut record = example_record();
        record.protocol = 132;
        record.client.port = 2905;
        record.server.port = 36412;
        record.state = ConnState::OTH;
        record
    }

    #[test]
    fn sctp_line_has_ports() {
        let mut out = Vec::new();
        let options = RecordOptions::default();
        format_flow_record_with(&mut out, &sctp_record(), &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");

        assert!(text.starts_with("IPFLOW "), "{text}");
        assert!(
            text.contains(" sourceIp=172.20.1.144 sourcePort=2905 destMac="),
            "{text}"
        );
        assert!(
            text.contains(" destIp=172.20.1.3 destPort=36412 duration="),
            "{text}"
        );
        assert!(text.contains(" protocol=132 "), "{text}");
        // Base64 of the SHA-1 digest of seed 0, the lower address 172.20.1.3
        // first, protocol 132, a zero byte and the ports in the same order
        // (0000 ac140103 ac140190 8400 8e3c 0b59), computed with Python's
        // hashlib.
        assert!(
            text.ends_with(" communityId=1:axsNrxZQ5ZF1uCLSutwucBvnSR8=\n"),
            "{text}"
        );
    }

    #[test]
    fn sctp_compat_line_has_ports() {
        let mut out = Vec::new();
        let options = RecordOptions {
            compat: true,
            ..RecordOptions::default()
        };
        format_flow_record_with(&mut out, &sctp_record(), &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");

        assert!(text.starts_with("IPFLOW "), "{text}");
        assert!(text.contains(" sourcePort=2905 "), "{text}");
        assert!(text.contains(" destPort=36412 "), "{text}");
        assert!(text.ends_with(" bytesOut=92\n"), "{text}");
    }

    #[test]
    fn other_protocol_line_without_ports() {
        let mut record = example_record();
        record.protocol = 50;
        record.client.port = 0;
        record.server.port = 0;
        let mut out = Vec::new();
        let options = RecordOptions::default();
        format_flow_record_with(&mut out, &record, &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");

        assert!(text.starts_with("IPFLOW "), "{text}");
        assert!(!text.contains(" sourcePort="), "{text}");
        assert!(!text.contains(" destPort="), "{text}");
    }

    #[test]
    fn extended_keys_follow_classic_ones() {
        let mut out = Vec::new();
        let mut record = example_record();
        record.vlans = Vlans {
            ids: [100, 7],
            count: 2,
        };
        let options = RecordOptions::default();
        format_flow_record_with(&mut out, &record, &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");

        let classic = line(&record, &mut utc_minus_8());
        let classic = classic.trim_end_matches('\n');
        assert!(text.starts_with(classic), "{text}");
        let extended = &text[classic.len()..];
        assert!(
            extended.starts_with(
                " startEpoch=1515026277.120000 endEpoch=1515026277.980000 protocol=6 vlans=100,7 "
            ),
            "{extended}"
        );
        assert!(
            extended.contains(
                " connState=SF history=- midstream=no synSeen=yes endReason=fin echoId=- "
            ),
            "{extended}"
        );
        assert!(
            extended.contains(" tunnel=- tunnelSrc=- tunnelDst=- tunnelId=- communityId=1:"),
            "{extended}"
        );
        assert!(text.ends_with("=\n"), "{text}");
    }

    #[test]
    fn compat_writes_classic_keys_only() {
        let mut out = Vec::new();
        let options = RecordOptions {
            compat: true,
            ..RecordOptions::default()
        };
        format_flow_record_with(&mut out, &example_record(), &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");
        assert_eq!(text, line(&example_record(), &mut utc_minus_8()));
    }

    #[test]
    fn no_vlans_written_as_dash() {
        let mut out = Vec::new();
        let options = RecordOptions::default();
        format_flow_record_with(&mut out, &example_record(), &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");
        assert!(text.contains(" vlans=- "), "{text}");
    }

    /// Builds a record with every number and address at its widest.
    fn widest_record() -> FlowRecord {
        let widest_ip = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        let max_counters = Counters {
            packets: u64::MAX,
            bytes: u64::MAX,
            payload_bytes: u64::MAX,
            ip_bytes: u64::MAX,
            stream_bytes: u64::MAX,
            missed_bytes: u64::MAX,
            retransmitted_packets: u64::MAX,
            retransmitted_bytes: u64::MAX,
        };
        let mut record = example_record();
        record.protocol = 58;
        for endpoint in [&mut record.client, &mut record.server] {
            endpoint.ip = widest_ip;
            endpoint.mac = Some(MacAddr([0xff; 6]));
            endpoint.port = u16::MAX;
        }
        record.first_ts = Timestamp::from_nanos(i64::MIN);
        record.last_ts = Timestamp::from_nanos(i64::MAX);
        record.out = max_counters;
        record.inbound = max_counters;
        record.vlans = Vlans {
            ids: [u16::MAX, u16::MAX],
            count: 2,
        };
        record.state = ConnState::RSTOS0;
        while record.history.push(b'W') {}
        record.tunnel = Some(wsd_decode::TunnelInfo {
            kind: wsd_decode::TunnelKind::Erspan,
            src: widest_ip,
            dst: widest_ip,
            id: Some(u32::MAX),
        });
        record.icmp = Some(IcmpDetails {
            icmp_type: u8::MAX,
            code: u8::MAX,
            echo_id: Some(u16::MAX),
            v6: true,
        });
        record.end_reason = EndReason::EndOfInput;
        record
    }

    #[test]
    fn widest_line_within_bound() {
        let record = widest_record();
        for (protocol, compat) in [(58, false), (6, false), (6, true), (47, false)] {
            let mut record = record;
            record.protocol = protocol;
            let options = RecordOptions {
                compat,
                ..RecordOptions::default()
            };
            let mut out = Vec::new();
            format_flow_record_with(&mut out, &record, &mut utc_minus_8(), &options);
            let text = String::from_utf8(out).expect("record lines are ASCII");
            assert!(text.len() <= max_line_len(&record), "{}", text.len());

            let keys: Vec<&str> = text
                .split(' ')
                .filter_map(|field| field.split_once('=').map(|(key, _)| key))
                .collect();
            assert!(keys.len() <= MAX_KEYS, "{} keys", keys.len());
            for key in keys {
                assert!(key.len() + 2 <= MAX_KEY_LEN, "key {key}");
            }
        }
    }

    /// The line of a record with every value at its widest, spelled out.
    #[test]
    fn widest_line_byte_for_byte() {
        let mut out = Vec::new();
        let options = RecordOptions::default();
        format_flow_record_with(&mut out, &widest_record(), &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");

        let ip = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let mac = "ff:ff:ff:ff:ff:ff";
        let max = u64::MAX;
        let expected = format!(
            "ICMPFLOW startTime=1677/09/20 16:12:43 sourceMac={mac} sourceIp={ip} \
             icmpType=255 destMac={mac} destIp={ip} icmpCode=255 duration=9223372036 \
             packetsIn={max} packetsOut={max} bytesIn={max} bytesOut={max} \
             startEpoch=-9223372036.854775 endEpoch=9223372036.854775 protocol=58 \
             vlans=65535,65535 ipBytesIn={max} ipBytesOut={max} payloadBytesIn={max} \
             payloadBytesOut={max} streamBytesIn={max} streamBytesOut={max} \
             missedBytesIn={max} missedBytesOut={max} retransPacketsIn={max} \
             retransPacketsOut={max} retransBytesIn={max} retransBytesOut={max} \
             connState=RSTOS0 history=WWWWWWWWWWWWWWW midstream=no synSeen=yes \
             endReason=end-of-input echoId=65535 tunnel=erspan tunnelSrc={ip} \
             tunnelDst={ip} tunnelId=4294967295 communityId="
        );
        assert!(text.starts_with(&expected), "{text}");
        assert_eq!(text.len(), expected.len() + COMMUNITY_ID_LEN + 1, "{text}");
        assert!(text.ends_with("=\n"), "{text}");
    }

    /// One formatter reused across records whose epoch seconds change, go
    /// back and turn negative writes what a fresh formatter writes.
    #[test]
    fn epoch_cache_follows_changes() {
        let seconds = [1_515_026_277, 1_515_026_278, 9, 1_515_026_277, -1, 0, 10];
        let options = RecordOptions::default();
        let mut reused = utc_minus_8();
        for (i, &start) in seconds.iter().enumerate() {
            let mut record = example_record();
            record.first_ts = Timestamp::from_parts(start, 120_000_000);
            record.last_ts = Timestamp::from_parts(seconds[seconds.len() - 1 - i], 5_000);

            let mut expected = Vec::new();
            format_flow_record_with(&mut expected, &record, &mut utc_minus_8(), &options);
            let mut actual = Vec::new();
            format_flow_record_with(&mut actual, &record, &mut reused, &options);
            assert_eq!(
                String::from_utf8(actual).expect("record lines are ASCII"),
                String::from_utf8(expected).expect("record lines are ASCII"),
                "record {i}"
            );
        }
    }

    #[test]
    fn epoch_text_sign_and_decimals() {
        let mut record = example_record();
        record.first_ts = Timestamp::from_nanos(-1_500_000_000);
        record.last_ts = Timestamp::from_nanos(-999);
        let mut out = Vec::new();
        let options = RecordOptions::default();
        format_flow_record_with(&mut out, &record, &mut utc_minus_8(), &options);
        let text = String::from_utf8(out).expect("record lines are ASCII");
        assert!(
            text.contains(" startEpoch=-1.500000 endEpoch=0.000000 "),
            "{text}"
        );
    }

    #[test]
    fn start_time_in_utc() {
        let text = line(&example_record(), &mut LocalTimeFormatter::utc());
        assert!(text.contains(" startTime=2018/01/04 00:37:57 "), "{text}");
    }
}
