//! Flow record lines and per-packet lines: the text formats that users parse.
//!
//! The last step of the wirespy pipeline (capture → decode → flow → **format**).
//! `wsd-capture` reads packets and their [`Timestamp`]s, `wsd-decode` turns each
//! packet into a [`Decoded`] view, and `wsd-flow` tracks connections, reports a
//! [`PacketOutcome`] for each packet and a [`FlowRecord`] for each flow that ends.
//! This crate turns the outcomes and records into lines of text.
//!
//! [`LogWriter`] writes lines to any [`std::io::Write`]. [`format_flow_record`] and
//! [`format_packet_line`] append a line to a byte buffer instead, for callers that
//! batch lines themselves. [`LocalTimeFormatter`] converts capture times to local
//! civil time for flow records.
//!
//! Formatting allocates nothing per line once the buffer has grown to the longest
//! line, and does not use `core::fmt`, because verbose mode writes one line per
//! packet at millions of packets per second. A flow record line first grows the
//! buffer by an upper bound of its length, about 1.5 KB, and then cuts it back.
//!
//! # Flow record line
//!
//! One line per finished flow, ending in `\n`, for example:
//!
//! ```text
//! TCPFLOW startTime=2018/01/03 16:37:57 sourceMac=10:c3:7b:9b:41:c9 sourceIp=172.20.1.144 sourcePort=65087 destMac=8:5b:e:6d:14:e8 destIp=172.20.1.3 destPort=8013 duration=0 packetsIn=1 packetsOut=4 bytesIn=32 bytesOut=92
//! ```
//!
//! The line starts with a keyword for the IP protocol: `TCPFLOW` (6), `UDPFLOW`
//! (17), `ICMPFLOW` (1 and 58) or `IPFLOW` (any other). Then come `key=value`
//! fields separated by single spaces. [`format_flow_record`] and
//! [`RecordOptions::compat`] write exactly these classic keys, in this order:
//!
//! | Key | Value |
//! | --- | --- |
//! | `startTime` | time of the flow's first packet in local time, `YYYY/MM/DD HH:MM:SS` (the one space inside is part of the value) |
//! | `sourceMac` | client MAC address |
//! | `sourceIp` | client IP address |
//! | `sourcePort` | client port, 0 for protocols without ports |
//! | `destMac` | server MAC address |
//! | `destIp` | server IP address |
//! | `destPort` | server port, 0 for protocols without ports |
//! | `duration` | whole seconds from the first to the last packet, truncated |
//! | `packetsIn` | packets from server to client |
//! | `packetsOut` | packets from client to server |
//! | `bytesIn` | transport bytes (header and payload) from server to client |
//! | `bytesOut` | transport bytes (header and payload) from client to server |
//!
//! The client is the side that opened the connection, or the side guessed from the
//! ports when the handshake was not captured. MAC addresses are lower-case hex
//! bytes without zero padding, and `0:0:0:0:0:0` when the link type has none (raw
//! IP, loopback). IP addresses are in standard text form: dotted decimal for IPv4,
//! RFC 5952 for IPv6 (the form of Rust's `Ipv6Addr` `Display`). The time zone is
//! the [`LocalTimeFormatter`]'s, which [`LocalTimeFormatter::system`] takes from
//! `TZ` or the operating system.
//!
//! [`format_flow_record_with`] and [`LogWriter`] append more keys after
//! `bytesOut` unless [`RecordOptions::compat`] is set: epoch times, protocol,
//! VLANs, IP, payload, stream, missed and retransmitted byte counts, connection
//! state and history, the end reason, the ICMP echo id, the tunnel and the
//! [`CommunityId`]. In `ICMPFLOW` lines `icmpType` and `icmpCode` take the places
//! of the port keys, and `IPFLOW` lines have no port keys unless they are SCTP's
//! (protocol 132). The repository's `docs/flow-records.md` lists every key.
//!
//! # JSON Lines
//!
//! With [`OutputFormat::Json`], [`LogWriter`] writes each flow record as one JSON
//! object per line ([`format_flow_json`]), with every field of the record, and
//! each packet line as one too ([`format_packet_json`]), so that every line of
//! the log is JSON.
//!
//! # Per-packet line
//!
//! In verbose mode, one line per packet that has a TCP, UDP, SCTP or ICMP (or
//! ICMPv6) header, ending in `\n`, for example:
//!
//! ```text
//! [1515026248.970290] 10:c3:7b:9b:41:c9->8:5b:e:6d:14:e8       172.20.1.144:65085 ->    23.72.109.149:443   TCP [....A...] win: 16425 seq: 2704739503 (+1) ack: 1911183578 (+1)
//! [1515026248.684504] 10:c3:7b:9b:41:c9->8:5b:e:6d:14:e8       172.20.1.144:58410 ->    192.168.10.20:53    UDP
//! ```
//!
//! The fields, left to right:
//!
//! 1. `[seconds.microseconds]`: capture time since the Unix epoch in UTC, with the
//!    microseconds zero-padded to six digits and truncated, not rounded.
//! 2. A space, the source MAC right-aligned in 17 columns, `->`, and the
//!    destination MAC left-aligned in 17 columns, written as in flow records.
//! 3. A space, the source IP right-aligned in 16 columns, `:` and the source port
//!    left-aligned in 5 columns.
//! 4. A space, the direction within the flow, and a space: `->` client to server,
//!    `<-` server to client, `??` not attributed to a flow.
//! 5. The destination IP and port, laid out as the source.
//! 6. A space and the protocol: `TCP`, `UDP`, `SCTP` or `ICMP` (ICMPv6 too).
//! 7. For TCP: ` [FSRPAUEC]`, one character per flag (FIN, SYN, RST, PSH, ACK, URG,
//!    ECE, CWR) with `.` for a clear flag, then
//!    ` win: W seq: S (+RS) ack: A (+RA)`. `W` is the unscaled receive window,
//!    `S` and `A` are the raw sequence and acknowledgment numbers, and `RS` and
//!    `RA` are the same numbers relative to each side's initial sequence number.
//!    For ICMP: ` type: T code: C`.
//! 8. If the flow tracker noticed an anomaly: ` - ` and a short reason, for example
//!    ` - no handshake seen`.
//!
//! ICMP has no ports, so the `:port` columns are blank, 6 spaces each, and the
//! columns after them stay aligned. An SCTP packet that the tracker attributes
//! to no flow gets no line, because a tracker leaves SCTP packets unattributed
//! only when it does not follow SCTP. A value wider than its column (an IPv6
//! address longer than 16 characters) widens the column instead of being cut.
//!
//! # Example
//!
//! ```
//! use jiff::tz::{self, TimeZone};
//! use wsd_capture::Timestamp;
//! use wsd_decode::{Decoded, IpInfo, Transport, UdpInfo};
//! use wsd_flow::{
//!     ConnState, Counters, Direction, EndReason, Endpoint, FlowRecord, History, PacketOutcome,
//! };
//! use wsd_logfmt::{LocalTimeFormatter, LogWriter, RecordOptions};
//!
//! let client = "192.0.2.10".parse()?;
//! let server = "198.51.100.53".parse()?;
//! let ts = Timestamp::from_parts(1_700_000_000, 250_000_000);
//!
//! // A DNS query as the decoder reports it, captured on a raw IP link (no MACs).
//! let query = Decoded {
//!     ip: Some(IpInfo {
//!         src: client,
//!         dst: server,
//!         protocol: 17,
//!         total_len: 60,
//!         header_len: 20,
//!         is_later_fragment: false,
//!         is_first_fragment: false,
//!     }),
//!     transport: Transport::Udp(UdpInfo { src_port: 53000, dst_port: 53, datagram_len: 40 }),
//!     ..Decoded::default()
//! };
//! let outcome = PacketOutcome {
//!     direction: Direction::ToServer,
//!     rel_seq: 0,
//!     rel_ack: 0,
//!     anomaly: None,
//! };
//!
//! // A TCP flow as the tracker reports it when the flow ends.
//! let record = FlowRecord {
//!     protocol: 6,
//!     vlans: Default::default(),
//!     client: Endpoint { ip: client, port: 41000, mac: None },
//!     server: Endpoint { ip: server, port: 443, mac: None },
//!     first_ts: ts,
//!     last_ts: ts.add_nanos(2_500_000_000),
//!     out: Counters {
//!         packets: 5,
//!         bytes: 420,
//!         payload_bytes: 160,
//!         ip_bytes: 520,
//!         ..Counters::default()
//!     },
//!     inbound: Counters {
//!         packets: 4,
//!         bytes: 1300,
//!         payload_bytes: 1100,
//!         ip_bytes: 1380,
//!         ..Counters::default()
//!     },
//!     midstream: false,
//!     syn_seen: true,
//!     end_reason: EndReason::Fin,
//!     state: ConnState::SF,
//!     history: History::EMPTY,
//!     tunnel: None,
//!     icmp: None,
//! };
//!
//! // Times in flow records are local; this zone is fixed so the output is too.
//! let clock = LocalTimeFormatter::new(TimeZone::fixed(tz::offset(1)));
//! // Only the classic keys, as `--compat` writes them, to keep the line short.
//! let options = RecordOptions { compat: true, ..RecordOptions::default() };
//! let mut writer = LogWriter::new(Vec::new(), clock).with_record_options(options);
//! writer.write_packet_line(ts, &query, &outcome)?;
//! writer.write_flow_record(&record)?;
//!
//! let text = String::from_utf8(writer.into_inner())?;
//! assert_eq!(
//!     text,
//!     "[1700000000.250000]       0:0:0:0:0:0->0:0:0:0:0:0             \
//!      192.0.2.10:53000 ->    198.51.100.53:53    UDP\n\
//!      TCPFLOW startTime=2023/11/14 23:13:20 sourceMac=0:0:0:0:0:0 sourceIp=192.0.2.10 \
//!      sourcePort=41000 destMac=0:0:0:0:0:0 destIp=198.51.100.53 destPort=443 \
//!      duration=2 packetsIn=4 packetsOut=5 bytesIn=1300 bytesOut=420\n",
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Timestamp`]: wsd_capture::Timestamp
//! [`Decoded`]: wsd_decode::Decoded
//! [`PacketOutcome`]: wsd_flow::PacketOutcome
//! [`FlowRecord`]: wsd_flow::FlowRecord

#![deny(unsafe_code)]

mod community_id;
mod flow_json;
mod flow_record;
mod json;
mod local_time;
mod options;
mod packet_json;
mod packet_line;
mod sha1;
mod stats;
mod text;
mod writer;

pub use community_id::{
    community_id, flow_community_id, icmp_ports, CommunityId, CommunityTransport, COMMUNITY_ID_LEN,
};
pub use flow_json::format_flow_json;
pub use flow_record::{format_flow_record, format_flow_record_start, format_flow_record_with};
pub use local_time::{LocalTimeFormatter, LOCAL_TIME_LEN};
pub use options::{OutputFormat, RecordOptions};
pub use packet_json::format_packet_json;
pub use packet_line::format_packet_line;
pub use stats::{format_stats_json, format_stats_text, StatsRecord};
pub use writer::{FlowRecordFormatter, LogWriter};
