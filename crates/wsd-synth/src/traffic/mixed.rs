//! A mix of TCP connections and UDP conversations such as an office link
//! carries.

use wsd_capture::Timestamp;

use super::{
    client_v4, full_segment, server_v4, v6, Conversation, Link, Plan, Planned, TcpScript,
    TrafficStats, ACK, CLIENT, DEFAULT_START, PSH, SERVER, SYN,
};
use crate::{Endpoint, Rng};

const MILLIS: i64 = 1_000_000;
const SECONDS: i64 = 1_000_000_000;

/// Number of distinct client and server hosts.
const CLIENT_HOSTS: u64 = 20_000;
const SERVER_HOSTS: u64 = 2_000;

/// Settings of [`mixed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixedConfig {
    /// Seed of the random choices: the same seed gives the same bytes.
    pub seed: u64,
    /// Number of TCP connections.
    pub tcp_connections: u32,
    /// Number of UDP conversations.
    pub udp_conversations: u32,
    /// Conversations start at random times within this many seconds; some go on
    /// after it.
    pub duration_secs: u32,
    /// Time of the capture's start.
    pub start: Timestamp,
}

impl Default for MixedConfig {
    /// 100,000 TCP connections and 25,000 UDP conversations over five minutes:
    /// about a million packets and 245 MB of pcap.
    fn default() -> MixedConfig {
        MixedConfig {
            seed: 1,
            tcp_connections: 100_000,
            udp_conversations: 25_000,
            duration_secs: 300,
            start: DEFAULT_START,
        }
    }
}

/// Generates a mixed capture and hands its frames to `sink` in time order.
///
/// Frames are mostly 60-byte handshake, ACK and teardown segments. Requests are
/// a few hundred bytes, and responses run up to many full 1514-byte segments,
/// for an average frame of about 230 bytes. Of the TCP connections, most
/// are complete (handshake, one or more request and response exchanges, FINs),
/// and the others are picked up mid-stream, reset, refused, left open at the end
/// of the capture, started by a SYN-ACK whose SYN was lost, or a SYN that no one
/// answers. The UDP conversations are DNS, NTP and QUIC-like exchanges. About
/// 3% of the conversations are IPv6 and 4.5% carry one or two VLAN tags.
///
/// # Errors
///
/// The first error of `sink`, which stops the generation.
pub fn mixed<E>(
    config: &MixedConfig,
    sink: impl FnMut(Timestamp, &[u8]) -> Result<(), E>,
) -> Result<TrafficStats, E> {
    let tcp = config.tcp_connections as usize;
    let udp = config.udp_conversations as usize;
    let mut plan = Plan::with_capacity(tcp + udp, tcp * 10 + udp * 3);
    let mut rng = Rng::new(config.seed);
    let span = i64::from(config.duration_secs) * SECONDS;

    for _ in 0..tcp {
        let server_port = tcp_server_port(&mut rng);
        let conversation = random_conversation(&mut rng, server_port, false);
        let id = plan.add_conversation(conversation);
        let start = rng.below(span as u64) as i64;
        plan_connection(&mut rng, &mut plan, id, start);
    }
    for _ in 0..udp {
        let kind = UdpKind::random(&mut rng);
        let conversation = random_conversation(&mut rng, kind.port(), true);
        let id = plan.add_conversation(conversation);
        let start = rng.below(span as u64) as i64;
        plan_udp(&mut rng, &mut plan, id, start, kind);
    }
    plan.emit(config.start, sink)
}

fn tcp_server_port(rng: &mut Rng) -> u16 {
    match rng.below(1000) {
        0..600 => 443,
        600..800 => 80,
        800..850 => 22,
        850..900 => 25,
        900..950 => 8080,
        _ => 3306,
    }
}

/// Picks the two hosts, the client's ephemeral port, the address family and the
/// VLAN tagging of a new conversation.
fn random_conversation(rng: &mut Rng, server_port: u16, udp: bool) -> Conversation {
    let client_host = rng.below(CLIENT_HOSTS) as u32;
    let server_host = rng.below(SERVER_HOSTS) as u32;
    let client_port = rng.between(32_768, 60_999) as u16;
    let (client, server) = if rng.chance(30) {
        (
            Endpoint::v6(v6(1, client_host), client_port),
            Endpoint::v6(v6(2, server_host), server_port),
        )
    } else {
        (
            Endpoint::v4(client_v4(client_host), client_port),
            Endpoint::v4(server_v4(server_host), server_port),
        )
    };
    let link = match rng.below(1000) {
        0..40 => Link::Vlan,
        40..45 => Link::QinQ,
        _ => Link::Plain,
    };
    Conversation {
        client,
        server,
        link,
        udp,
    }
}

/// Picks a round-trip time in nanoseconds: half on the local network, most of
/// the rest across a country, a few across the world.
fn random_rtt(rng: &mut Rng) -> i64 {
    let micros = match rng.below(10) {
        0..5 => rng.between(200, 2_000),
        5..9 => rng.between(5_000, 40_000),
        _ => rng.between(60_000, 250_000),
    };
    micros as i64 * 1_000
}

/// Plans one TCP connection of a randomly chosen kind, starting `start`
/// nanoseconds into the capture.
fn plan_connection(rng: &mut Rng, plan: &mut Plan, conversation: u32, start: i64) {
    let rtt = random_rtt(rng);
    let kind = rng.below(1000);
    let v6 = plan.conversations[conversation as usize]
        .client
        .ip
        .is_ipv6();
    let mut script = TcpScript {
        plan,
        conversation,
        at: start,
        next_seq: [rng.next_u32(), rng.next_u32()],
        full_segment: full_segment(v6),
    };
    match kind {
        // Complete: handshake, exchanges, FINs.
        0..700 => {
            script.handshake(rtt);
            exchanges(rng, &mut script, rtt);
            close(rng, &mut script, rtt);
        }
        // Picked up mid-stream, then closed or still open at the end.
        700..780 => {
            midstream_start(rng, &mut script, rtt);
            exchanges(rng, &mut script, rtt);
            if rng.chance(500) {
                close(rng, &mut script, rtt);
            }
        }
        // Refused by a RST-ACK, or reset after some data.
        780..850 => {
            if rng.chance(400) {
                script.send(CLIENT, 0, SYN, 0);
                script.reset(SERVER, rtt);
            } else {
                script.handshake(rtt);
                exchanges(rng, &mut script, rtt);
                let side = if rng.chance(500) { CLIENT } else { SERVER };
                script.reset(side, think_time(rng));
            }
        }
        // Still open when the capture ends.
        850..920 => {
            script.handshake(rtt);
            exchanges(rng, &mut script, rtt);
        }
        // The client's SYN was lost: the capture starts at the SYN-ACK.
        920..960 => {
            script.next_seq[CLIENT] = script.next_seq[CLIENT].wrapping_add(1);
            script.send(SERVER, 0, SYN | ACK, 0);
            script.send(CLIENT, 20_000, ACK, 0);
            exchanges(rng, &mut script, rtt);
            close(rng, &mut script, rtt);
        }
        // No SYN-ACK comes back: the SYN and its retransmissions after 1 s and 2 s.
        _ => {
            let isn = script.next_seq[CLIENT];
            let attempts = rng.between(1, 3);
            for attempt in 0..attempts {
                script.next_seq[CLIENT] = isn;
                let delay = match attempt {
                    0 => 0,
                    n => (1 << (n - 1)) * SECONDS,
                };
                script.send(CLIENT, delay, SYN, 0);
            }
        }
    }
}

/// Plans the first packets of a connection whose handshake the capture missed:
/// the end of a response, or an ACK from the client.
fn midstream_start(rng: &mut Rng, script: &mut TcpScript<'_>, rtt: i64) {
    if rng.chance(500) {
        let segments = rng.between(1, 4) as u16;
        for _ in 0..segments {
            let len = script.full_segment;
            script.send(SERVER, rng.between(15_000, 100_000) as i64, ACK, len);
        }
        script.send(CLIENT, rtt / 2, ACK, 0);
    } else {
        script.send(CLIENT, 0, ACK, 0);
    }
}

/// Plans request and response exchanges: usually one, sometimes a few, and for
/// a long-lived connection many, spread over minutes.
fn exchanges(rng: &mut Rng, script: &mut TcpScript<'_>, rtt: i64) {
    let long_lived = rng.chance(10);
    let rounds = if long_lived {
        rng.between(5, 20)
    } else {
        match rng.below(100) {
            0..88 => 1,
            88..98 => rng.between(2, 3),
            _ => rng.between(4, 8),
        }
    };
    for round in 0..rounds {
        let pause = if round == 0 {
            rng.between(10_000, 200_000) as i64
        } else if long_lived {
            rng.between(1, 30) as i64 * SECONDS
        } else {
            think_time(rng)
        };
        exchange(rng, script, rtt, pause);
    }
}

/// Picks a pause between a client's requests, up to 300 ms, in nanoseconds.
fn think_time(rng: &mut Rng) -> i64 {
    rng.between(1, 300) as i64 * MILLIS
}

/// Plans one request, its response and the client's ACKs of the response.
fn exchange(rng: &mut Rng, script: &mut TcpScript<'_>, rtt: i64, pause: i64) {
    let request = if rng.chance(800) {
        rng.between(40, 250)
    } else {
        rng.between(250, 900)
    } as u16;
    script.send(CLIENT, pause, PSH | ACK, request);

    let full_segment = script.full_segment;
    let response = response_len(rng, full_segment);
    let segments = response.div_ceil(u32::from(full_segment));
    let server_delay = rtt + rng.between(0, 5_000_000) as i64;
    let mut remaining = response;
    for segment in 0..segments {
        let len = remaining.min(u32::from(full_segment)) as u16;
        remaining -= u32::from(len);
        let last = segment + 1 == segments;
        let flags = if last { PSH | ACK } else { ACK };
        let delay = if segment == 0 {
            server_delay
        } else {
            rng.between(15_000, 100_000) as i64
        };
        script.send(SERVER, delay, flags, len);
        // Delayed ACKs: one for every second segment, and one for the last.
        if segment % 2 == 1 || last {
            script.send(CLIENT, rng.between(20_000, 200_000) as i64, ACK, 0);
        }
    }
}

/// Response length in bytes: mostly one small segment, sometimes a few full
/// segments, rarely dozens.
fn response_len(rng: &mut Rng, full_segment: u16) -> u32 {
    let full = u64::from(full_segment);
    match rng.below(1000) {
        0..888 => rng.between(40, 600) as u32,
        888..988 => rng.between(full + 1, 4 * full) as u32,
        _ => rng.between(5 * full, 25 * full) as u32,
    }
}

/// Plans the teardown by FINs, started by the client more often than by the
/// server. Half of the connections are kept alive, idle, for up to a minute
/// first, so that thousands are open at any time.
fn close(rng: &mut Rng, script: &mut TcpScript<'_>, rtt: i64) {
    let first = if rng.chance(700) { CLIENT } else { SERVER };
    let idle = if rng.chance(500) {
        rng.between(1, 60) as i64 * SECONDS
    } else {
        think_time(rng)
    };
    script.close(first, idle, rtt);
}

/// The protocols of the UDP conversations.
#[derive(Clone, Copy, Debug)]
enum UdpKind {
    Dns,
    Ntp,
    Quic,
}

impl UdpKind {
    fn random(rng: &mut Rng) -> UdpKind {
        match rng.below(100) {
            0..75 => UdpKind::Dns,
            75..90 => UdpKind::Ntp,
            _ => UdpKind::Quic,
        }
    }

    fn port(self) -> u16 {
        match self {
            UdpKind::Dns => 53,
            UdpKind::Ntp => 123,
            UdpKind::Quic => 443,
        }
    }
}

/// Plans one UDP conversation of `kind`.
fn plan_udp(rng: &mut Rng, plan: &mut Plan, conversation: u32, start: i64, kind: UdpKind) {
    let rtt = random_rtt(rng);
    let mut at = start;
    let mut push = |delay: i64, from_client: bool, payload_len: u16| {
        at += delay.max(1_000);
        plan.packets.push(Planned {
            at,
            conversation,
            seq: 0,
            ack: 0,
            payload_len,
            flags: 0,
            from_client,
        });
    };
    match kind {
        UdpKind::Dns => {
            // Often two queries, such as A and AAAA; one in ten goes unanswered.
            let queries = if rng.chance(200) { 2 } else { 1 };
            for _ in 0..queries {
                push(
                    rng.between(0, 2_000_000) as i64,
                    true,
                    rng.between(25, 60) as u16,
                );
                if !rng.chance(100) {
                    push(rtt, false, rng.between(80, 400) as u16);
                }
            }
        }
        UdpKind::Ntp => {
            push(0, true, 48);
            push(rtt, false, 48);
        }
        UdpKind::Quic => {
            push(0, true, 1_200);
            let datagrams = rng.between(3, 11);
            for _ in 0..datagrams {
                let from_client = rng.chance(300);
                let delay = rng.between(20_000, 2_000_000) as i64;
                push(delay, from_client, rng.between(30, 1_250) as u16);
            }
        }
    }
}
