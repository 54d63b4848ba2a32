//! Micro-benchmarks of `wsd_decode::decode` on one Ethernet frame of each
//! common kind. Run with `cargo bench -p wsd-decode`.

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use wsd_decode::{decode, linktype, TunnelKind};
use wsd_synth::{Endpoint, FrameBuilder, TcpSegment};

fn main() {
    divan::main();
}

/// The frame kinds, as names that divan prints beside the timings.
const KINDS: [&str; 4] = ["tcp_ipv4", "tcp_ipv6", "vlan", "vxlan"];

/// Returns a data segment of 100 payload bytes, as in a request.
fn segment() -> TcpSegment {
    TcpSegment::new(0x18, 1_000, 2_000, 100)
}

fn client_v4() -> Endpoint {
    Endpoint::v4([10, 0, 0, 1], 40_000)
}

fn server_v4() -> Endpoint {
    Endpoint::v4([10, 0, 0, 2], 443)
}

/// Builds the frame of `kind`, one of [`KINDS`].
fn frame(kind: &str) -> Vec<u8> {
    match kind {
        "tcp_ipv4" => FrameBuilder::new().tcp(client_v4(), server_v4(), &segment()),
        "tcp_ipv6" => {
            let mut client = [0u8; 16];
            client[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            client[15] = 1;
            let mut server = client;
            server[15] = 2;
            FrameBuilder::new().tcp(
                Endpoint::v6(client, 40_000),
                Endpoint::v6(server, 443),
                &segment(),
            )
        }
        "vlan" => FrameBuilder::new()
            .vlan(100)
            .tcp(client_v4(), server_v4(), &segment()),
        "vxlan" => vxlan_frame(),
        _ => unreachable!("unknown frame kind {kind}"),
    }
}

/// Builds a VXLAN packet (UDP port 4789, network identifier 42) between two
/// tunnel endpoints, carrying the plain IPv4 TCP frame.
fn vxlan_frame() -> Vec<u8> {
    let inner = FrameBuilder::new().tcp(client_v4(), server_v4(), &segment());
    let mut body = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    body.extend_from_slice(&inner);
    let payload_len = u16::try_from(body.len()).expect("the frame is a few hundred bytes");
    let mut outer = FrameBuilder::new().udp(
        Endpoint::v4([192, 0, 2, 1], 50_000),
        Endpoint::v4([192, 0, 2, 2], 4789),
        payload_len,
    );
    // Ethernet (14), IPv4 (20) and UDP (8) headers come before the payload.
    outer[42..42 + body.len()].copy_from_slice(&body);
    outer
}

#[divan::bench(args = KINDS)]
fn decode_frame(bencher: Bencher, kind: &str) {
    let frame = frame(kind);
    let decoded = decode(linktype::ETHERNET, &frame);
    assert_eq!(decoded.stop, None, "{kind} frame did not decode fully");
    assert!(decoded.ip.is_some(), "{kind} frame has no IP layer");
    if kind == "vxlan" {
        let tunnel = decoded.tunnel.map(|tunnel| tunnel.kind);
        assert_eq!(
            tunnel,
            Some(TunnelKind::Vxlan),
            "VXLAN frame not decapsulated"
        );
    }
    bencher
        .counter(BytesCount::of_slice(&frame))
        .bench(|| decode(linktype::ETHERNET, black_box(&frame)));
}
