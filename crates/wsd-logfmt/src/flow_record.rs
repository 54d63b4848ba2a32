//! The flow record line, written when a flow ends.

use wsd_decode::TunnelInfo;
use wsd_flow::{Endpoint, FlowRecord, IcmpDetails};

use crate::community_id::flow_community_id;
use crate::json::push_epoch;
use crate::local_time::LocalTimeFormatter;
use crate::options::RecordOptions;
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

/// Appends the classic flow record line of `record`, newline included, to `out`:
/// the keys up to `bytesOut` only, as `--compat` writes them.
///
/// The layout is described in the [crate documentation](crate#flow-record-line).
/// `clock` converts the flow's start time to local time.
pub fn format_flow_record(out: &mut Vec<u8>, record: &FlowRecord, clock: &mut LocalTimeFormatter) {
    push_classic_keys(out, record, clock, PortKeys::Ports);
    out.push(b'\n');
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
    if options.compat {
        push_classic_keys(out, record, clock, PortKeys::Ports);
    } else {
        push_classic_keys(out, record, clock, PortKeys::of(record));
        push_extended_keys(out, record, options);
    }
    out.push(b'\n');
}

/// Appends the keys from the keyword to `bytesOut`, with `ports` in the places
/// of the port keys.
fn push_classic_keys(
    out: &mut Vec<u8>,
    record: &FlowRecord,
    clock: &mut LocalTimeFormatter,
    ports: PortKeys,
) {
    out.extend_from_slice(flow_keyword(record.protocol));
    out.extend_from_slice(b" startTime=");
    out.extend_from_slice(clock.format(record.first_ts));

    push_endpoint(out, &SOURCE_KEYS, &record.client);
    match ports {
        PortKeys::Ports => push_counter(out, SOURCE_KEYS.port, u64::from(record.client.port)),
        PortKeys::Icmp(icmp) => push_counter(out, b" icmpType=", u64::from(icmp.icmp_type)),
        PortKeys::Omitted => {}
    }
    push_endpoint(out, &DEST_KEYS, &record.server);
    match ports {
        PortKeys::Ports => push_counter(out, DEST_KEYS.port, u64::from(record.server.port)),
        PortKeys::Icmp(icmp) => push_counter(out, b" icmpCode=", u64::from(icmp.code)),
        PortKeys::Omitted => {}
    }

    push_counter(out, b" duration=", record.duration_secs());
    push_counter(out, b" packetsIn=", record.inbound.packets);
    push_counter(out, b" packetsOut=", record.out.packets);
    push_counter(out, b" bytesIn=", record.inbound.bytes);
    push_counter(out, b" bytesOut=", record.out.bytes);
}

/// Appends the keys that follow `bytesOut`, in the order of the documentation.
fn push_extended_keys(out: &mut Vec<u8>, record: &FlowRecord, options: &RecordOptions) {
    out.extend_from_slice(b" startEpoch=");
    push_epoch(out, record.first_ts);
    out.extend_from_slice(b" endEpoch=");
    push_epoch(out, record.last_ts);
    out.extend_from_slice(b" protocol=");
    push_u64(out, u64::from(record.protocol));
    out.extend_from_slice(b" vlans=");
    push_vlan_list(out, record);

    let (inbound, outbound) = (&record.inbound, &record.out);
    push_counter(out, b" ipBytesIn=", inbound.ip_bytes);
    push_counter(out, b" ipBytesOut=", outbound.ip_bytes);
    push_counter(out, b" payloadBytesIn=", inbound.payload_bytes);
    push_counter(out, b" payloadBytesOut=", outbound.payload_bytes);
    push_counter(out, b" streamBytesIn=", inbound.stream_bytes);
    push_counter(out, b" streamBytesOut=", outbound.stream_bytes);
    push_counter(out, b" missedBytesIn=", inbound.missed_bytes);
    push_counter(out, b" missedBytesOut=", outbound.missed_bytes);
    push_counter(out, b" retransPacketsIn=", inbound.retransmitted_packets);
    push_counter(out, b" retransPacketsOut=", outbound.retransmitted_packets);
    push_counter(out, b" retransBytesIn=", inbound.retransmitted_bytes);
    push_counter(out, b" retransBytesOut=", outbound.retransmitted_bytes);

    out.extend_from_slice(b" connState=");
    out.extend_from_slice(record.state.name().as_bytes());
    out.extend_from_slice(b" history=");
    push_or_dash(out, record.history.as_bytes());
    out.extend_from_slice(b" midstream=");
    out.extend_from_slice(yes_no(record.midstream));
    out.extend_from_slice(b" synSeen=");
    out.extend_from_slice(yes_no(record.syn_seen));
    out.extend_from_slice(b" endReason=");
    out.extend_from_slice(record.end_reason.name().as_bytes());

    out.extend_from_slice(b" echoId=");
    match record.icmp.and_then(|icmp| icmp.echo_id) {
        Some(id) => push_u64(out, u64::from(id)),
        None => out.push(b'-'),
    }
    push_tunnel_keys(out, record.tunnel.as_ref());
    out.extend_from_slice(b" communityId=");
    let id = flow_community_id(options.community_id_seed, record);
    out.extend_from_slice(id.as_bytes());
}

/// Returns `yes` or `no`, as `flowcache` writes flags too.
fn yes_no(flag: bool) -> &'static [u8] {
    if flag {
        b"yes"
    } else {
        b"no"
    }
}

/// Appends `text`, or `-` if it is empty.
fn push_or_dash(out: &mut Vec<u8>, text: &[u8]) {
    if text.is_empty() {
        out.push(b'-');
    } else {
        out.extend_from_slice(text);
    }
}

/// Appends the tunnel keys, each `-` for a flow that came through no tunnel.
fn push_tunnel_keys(out: &mut Vec<u8>, tunnel: Option<&TunnelInfo>) {
    let Some(tunnel) = tunnel else {
        out.extend_from_slice(b" tunnel=- tunnelSrc=- tunnelDst=- tunnelId=-");
        return;
    };
    out.extend_from_slice(b" tunnel=");
    out.extend_from_slice(tunnel.kind.name().as_bytes());
    out.extend_from_slice(b" tunnelSrc=");
    push_text(out, &Ip(tunnel.src));
    out.extend_from_slice(b" tunnelDst=");
    push_text(out, &Ip(tunnel.dst));
    out.extend_from_slice(b" tunnelId=");
    match tunnel.id {
        Some(id) => push_u64(out, u64::from(id)),
        None => out.push(b'-'),
    }
}

/// Appends the VLAN IDs outermost first, joined by commas, or `-` for none.
fn push_vlan_list(out: &mut Vec<u8>, record: &FlowRecord) {
    let count = usize::from(record.vlans.count).min(record.vlans.ids.len());
    if count == 0 {
        out.push(b'-');
        return;
    }
    for (i, &id) in record.vlans.ids[..count].iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_u64(out, u64::from(id));
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

/// Appends the MAC and IP keys of one endpoint; the caller writes its port.
fn push_endpoint(out: &mut Vec<u8>, keys: &EndpointKeys, endpoint: &Endpoint) {
    out.extend_from_slice(keys.mac);
    push_text(out, &Mac(endpoint.mac.unwrap_or_default()));
    out.extend_from_slice(keys.ip);
    push_text(out, &Ip(endpoint.ip));
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

    #[test]
    fn start_time_in_utc() {
        let text = line(&example_record(), &mut LocalTimeFormatter::utc());
        assert!(text.contains(" startTime=2018/01/04 00:37:57 "), "{text}");
    }
}
