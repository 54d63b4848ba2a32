//! Captures the project generates itself for the fixture regressions.
//!
//! Each scenario is a short script of packets; the output is deterministic, so
//! `cargo xtask gen-fixtures` rewrites identical files unless a scenario changed.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use wsd_capture::{PcapWriter, Timestamp};
use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// Start of every generated capture: 2023-11-14 22:13:20 UTC.
const EPOCH: i64 = 1_700_000_000;

/// Packets of one scenario, in capture order.
struct Script {
    packets: Vec<(Timestamp, Vec<u8>)>,
    clock_micros: i64,
}

impl Script {
    fn new() -> Script {
        Script {
            packets: Vec::new(),
            clock_micros: 0,
        }
    }

    /// Moves the clock forward by `micros` microseconds.
    fn wait(&mut self, micros: i64) {
        self.clock_micros += micros;
    }

    fn push(&mut self, frame: Vec<u8>) {
        self.clock_micros += 1_000;
        let ts = Timestamp::from_nanos(EPOCH * 1_000_000_000 + self.clock_micros * 1_000);
        self.packets.push((ts, frame));
    }

    fn tcp(
        &mut self,
        builder: &mut FrameBuilder,
        src: Endpoint,
        dst: Endpoint,
        segment: TcpSegment,
    ) {
        let frame = builder.tcp(src, dst, &segment);
        self.push(frame);
    }

    /// A whole connection: handshake, a request and a response, FIN from both sides.
    fn connection(
        &mut self,
        builder: &mut FrameBuilder,
        client: Endpoint,
        server: Endpoint,
        isn: (u32, u32),
        sizes: (u16, u16),
    ) {
        let (c, s) = isn;
        let (request, response) = sizes;
        let (req, resp) = (u32::from(request), u32::from(response));
        // Sequence numbers wrap past 2^32, as real ones do.
        let at = |base: u32, offset: u32| base.wrapping_add(offset);
        self.tcp(builder, client, server, TcpSegment::syn(c));
        self.tcp(
            builder,
            server,
            client,
            TcpSegment::new(SYN | ACK, s, at(c, 1), 0),
        );
        self.tcp(
            builder,
            client,
            server,
            TcpSegment::new(ACK, at(c, 1), at(s, 1), 0),
        );
        self.tcp(
            builder,
            client,
            server,
            TcpSegment::new(PSH | ACK, at(c, 1), at(s, 1), request),
        );
        self.tcp(
            builder,
            server,
            client,
            TcpSegment::new(PSH | ACK, at(s, 1), at(c, 1 + req), response),
        );
        self.tcp(
            builder,
            client,
            server,
            TcpSegment::new(FIN | ACK, at(c, 1 + req), at(s, 1 + resp), 0),
        );
        self.tcp(
            builder,
            server,
            client,
            TcpSegment::new(FIN | ACK, at(s, 1 + resp), at(c, 2 + req), 0),
        );
        self.tcp(
            builder,
            client,
            server,
            TcpSegment::new(ACK, at(c, 2 + req), at(s, 2 + resp), 0),
        );
    }

    fn write(&self, path: &Path) -> Result<(), String> {
        let file =
            File::create(path).map_err(|err| format!("cannot create {}: {err}", path.display()))?;
        let mut writer = PcapWriter::new(BufWriter::new(file), 1, 65535, false)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        for (ts, frame) in &self.packets {
            writer
                .write_packet(*ts, frame, frame.len() as u32)
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        }
        writer
            .into_inner()
            .into_inner()
            .map_err(|err| format!("cannot write {}: {}", path.display(), err.error()))?;
        Ok(())
    }
}

fn client(n: u8, port: u16) -> Endpoint {
    Endpoint::v4([192, 168, 1, n], port)
}

fn server(n: u8, port: u16) -> Endpoint {
    Endpoint::v4([10, 0, 0, n], port)
}

/// A full connection, then a second one reusing its ports with new ISNs.
fn port_reuse() -> Script {
    let mut script = Script::new();
    let mut builder = FrameBuilder::new();
    script.connection(
        &mut builder,
        client(1, 40000),
        server(1, 80),
        (1000, 5000),
        (100, 300),
    );
    script.wait(500_000);
    script.connection(
        &mut builder,
        client(1, 40000),
        server(1, 80),
        (900_000, 700_000),
        (60, 0),
    );
    script
}

/// Connections that lose their handshake, their FINs, or get refused.
fn lossy() -> Script {
    let mut script = Script::new();
    let mut b = FrameBuilder::new();
    let (c, s) = (client(2, 51000), server(2, 443));
    // Picked up mid-stream: the first packet comes from the server.
    script.tcp(&mut b, s, c, TcpSegment::new(PSH | ACK, 7000, 3000, 1200));
    script.tcp(&mut b, c, s, TcpSegment::new(ACK, 3000, 8200, 0));
    // SYN-ACK first: the client's SYN was lost.
    let (c2, s2) = (client(3, 52000), server(3, 22));
    script.tcp(&mut b, s2, c2, TcpSegment::new(SYN | ACK, 100, 51, 0));
    script.tcp(&mut b, c2, s2, TcpSegment::new(ACK, 51, 101, 0));
    script.tcp(&mut b, c2, s2, TcpSegment::new(PSH | ACK, 51, 101, 40));
    // Refused: SYN answered by RST-ACK, then a retransmitted SYN.
    let (c3, s3) = (client(4, 53000), server(4, 25));
    script.tcp(&mut b, c3, s3, TcpSegment::syn(10));
    script.tcp(&mut b, s3, c3, TcpSegment::new(RST | ACK, 0, 11, 0));
    script.tcp(&mut b, c3, s3, TcpSegment::syn(10));
    // Half-open: a SYN that nobody answers.
    script.tcp(
        &mut b,
        client(5, 54000),
        server(5, 8080),
        TcpSegment::syn(99),
    );
    // Idle: the mid-stream flow times out after ten minutes of silence.
    script.wait(700_000_000);
    script.tcp(&mut b, c, s, TcpSegment::new(ACK, 3000, 8200, 0));
    script
}

/// IPv6 over QinQ, an IPv4 connection on a VLAN, and a UDP exchange.
fn tagged_v6() -> Script {
    let mut script = Script::new();
    let mut qinq = FrameBuilder::new().vlan(100).vlan(200);
    let c = Endpoint::v6(
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        41000,
    );
    let s = Endpoint::v6(
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        443,
    );
    script.connection(&mut qinq, c, s, (u32::MAX - 10, 4_000_000_000), (517, 1400));
    let mut vlan = FrameBuilder::new().vlan(42);
    script.connection(&mut vlan, client(6, 42000), server(6, 80), (1, 2), (10, 20));
    let mut plain = FrameBuilder::new();
    let (dns_c, dns_s) = (client(7, 5353), server(7, 53));
    let query = plain.udp(dns_c, dns_s, 40);
    script.push(query);
    let reply = plain.udp(dns_s, dns_c, 120);
    script.push(reply);
    script
}

/// Writes every scenario into `dir`.
pub fn generate(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let scenarios = [
        ("port_reuse", port_reuse()),
        ("lossy", lossy()),
        ("tagged_v6", tagged_v6()),
    ];
    for (name, script) in scenarios {
        let path = dir.join(format!("{name}.pcap"));
        script.write(&path)?;
        println!(
            "wrote {} ({} packets)",
            path.display(),
            script.packets.len()
        );
    }
    Ok(())
}
