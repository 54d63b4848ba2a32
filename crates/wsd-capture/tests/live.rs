//! `LiveSource` and `Libpcap` on the loopback interface, with UDP datagrams the
//! test sends to itself.
//!
//! These tests need root and libpcap. Without them they print why they did not
//! run and pass, except when the environment variable `CI` is set: there a missing
//! requirement fails the test.

use std::net::UdpSocket;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wsd_capture::live::LiveError;
use wsd_capture::{Libpcap, LiveConfig, LiveEvent, LiveSource, PacketSource};

/// Ethernet, IPv4 and UDP headers in front of the payload on `lo`.
const HEADERS: usize = 14 + 20 + 8;

/// Returns the loaded libpcap if this process may capture. Otherwise fails the
/// test under CI, or prints why the test did not run and returns `None`.
fn libpcap_for_capture() -> Option<Libpcap> {
    let ci = std::env::var_os("CI").is_some();
    let libpcap = match Libpcap::load() {
        Ok(libpcap) => libpcap,
        Err(err) if ci => panic!("libpcap is missing, which CI must provide: {err}"),
        Err(err) => {
            eprintln!("not run: {err}");
            return None;
        }
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .and_then(|line| line.split_whitespace().nth(2))
        .is_some_and(|effective| effective == "0");
    if !root {
        assert!(!ci, "live capture needs root, which CI must provide");
        eprintln!("not run: live capture needs root");
        return None;
    }
    Some(libpcap)
}

/// Opens `lo` filtered to UDP to the port of `socket`.
fn open_loopback(libpcap: &Libpcap, socket: &UdpSocket) -> LiveSource {
    let port = socket.local_addr().expect("socket address").port();
    let config = LiveConfig {
        filter: Some(format!("udp dst port {port}")),
        ..LiveConfig::new("lo")
    };
    LiveSource::open(libpcap, &config).expect("open lo")
}

#[test]
fn loopback_listed_as_device() {
    let Some(libpcap) = libpcap_for_capture() else {
        return;
    };
    let devices = libpcap.devices().expect("list devices");
    let lo = devices.iter().find(|device| device.name == "lo");
    let lo = lo.unwrap_or_else(|| panic!("no lo in {devices:?}"));
    assert!(lo.loopback, "{lo:?}");
    assert!(lo.up, "{lo:?}");
    assert!(
        libpcap.version().contains("libpcap"),
        "{}",
        libpcap.version()
    );
}

#[test]
fn datagram_captured_with_length() {
    let Some(libpcap) = libpcap_for_capture() else {
        return;
    };
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
    let mut source = open_loopback(&libpcap, &receiver);
    assert_eq!(source.linktype(), 1);
    let before = source.capture_clock();

    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    let payload = [0x5a; 321];
    sender
        .send_to(&payload, receiver.local_addr().expect("receiver address"))
        .expect("send datagram");

    let packet = source
        .next_packet()
        .expect("read packet")
        .expect("a packet before the end");
    assert_eq!(packet.linktype, 1);
    assert_eq!(packet.orig_len as usize, HEADERS + payload.len());
    assert_eq!(packet.data.len(), HEADERS + payload.len());
    assert_eq!(&packet.data[HEADERS..], &payload[..]);
    assert!(
        packet.ts >= before.add_nanos(-1_000_000_000),
        "{}",
        packet.ts
    );

    let stats = source.stats().expect("read counters");
    assert!(stats.received >= 1, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
}

#[test]
fn quiet_link_returns_idle() {
    let Some(libpcap) = libpcap_for_capture() else {
        return;
    };
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
    let mut source = open_loopback(&libpcap, &receiver);
    let started = Instant::now();
    let event = source.next_event().expect("read");
    let elapsed = started.elapsed();
    assert!(matches!(event, LiveEvent::Idle(_)), "{event:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn stop_flag_ends_next_packet() {
    let Some(libpcap) = libpcap_for_capture() else {
        return;
    };
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
    let mut source = open_loopback(&libpcap, &receiver);
    let stop = source.stop_flag();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let packet = source.next_packet().expect("read");
    assert!(packet.is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
    setter.join().expect("setter thread");
}

#[test]
fn invalid_filter_rejected_on_open() {
    let Some(libpcap) = libpcap_for_capture() else {
        return;
    };
    let config = LiveConfig {
        filter: Some("udp port".to_string()),
        ..LiveConfig::new("lo")
    };
    let err = LiveSource::open(&libpcap, &config).unwrap_err();
    assert!(matches!(err, LiveError::InvalidFilter { .. }), "{err}");
    assert!(err.is_usage_error());
    assert!(err.to_string().contains("\"udp port\""), "{err}");
}
