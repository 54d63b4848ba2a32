//! Packet decoding: from captured bytes to the fields that flow tracking needs.
//!
//! The wirespy pipeline is capture (`wsd-capture`) → **decode** → flow tracking
//! (`wsd-flow`) → formatting (`wsd-logfmt`). This crate is the second step. [`decode`]
//! takes the link type of a capture and the captured bytes of one packet. It returns a
//! [`Decoded`] with the MAC addresses, VLAN tags, IP header and TCP, UDP or ICMP header
//! fields that were intact, plus the [`StopReason`] if decoding ended early.
//!
//! ```
//! use wsd_decode::{decode, linktype, TcpFlags, Transport};
//!
//! // An Ethernet frame carrying an IPv4 TCP SYN from 10.0.0.1:40000 to 10.0.0.2:80,
//! // padded to the 60-byte Ethernet minimum.
//! let mut frame = vec![
//!     0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00, // Ethernet, IPv4
//!     0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, // IPv4: 40 bytes, TCP
//!     10, 0, 0, 1, 10, 0, 0, 2, // source and destination addresses
//!     0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, // ports, sequence, acknowledgment
//!     0x50, TcpFlags::SYN, 0xff, 0xff, 0, 0, 0, 0, // data offset 5, flags, window
//! ];
//! frame.resize(60, 0);
//!
//! let decoded = decode(linktype::ETHERNET, &frame);
//! assert_eq!(decoded.stop, None);
//! assert_eq!(decoded.ip.unwrap().src.to_string(), "10.0.0.1");
//! let Transport::Tcp(tcp) = decoded.transport else {
//!     panic!("expected TCP, got {:?}", decoded.transport);
//! };
//! assert_eq!((tcp.src_port, tcp.dst_port), (40000, 80));
//! assert!(tcp.flags.has(TcpFlags::SYN));
//! assert_eq!(tcp.payload_len, 0); // the 6 bytes of Ethernet padding are not payload
//! ```
//!
//! # No panics, no allocation
//!
//! [`decode`] never panics and never allocates, whatever the bytes. Each decoder takes
//! a fixed-size header with `first_chunk` or `split_first_chunk`, reads only inside it,
//! and checks every length that a header declares against the captured bytes before it
//! uses that length. Only the captured length bounds a read: the wire length of the
//! record is never needed. The crate denies `clippy::indexing_slicing`, and a property
//! test feeds random bytes to every supported link type.
//!
//! # Leniency
//!
//! A packet cut short by the snapshot length, or with an odd header, still yields every
//! layer before the problem: for example a frame cut inside the IP header keeps its MAC
//! addresses and VLAN tags, and a TCP header whose options were cut keeps its ports and
//! flags. [`Decoded::stop`] then names the layer and the reason.
//!
//! # Lengths
//!
//! Lengths in the output come from the headers, so they are the sizes on the wire even
//! when the capture was cut: [`IpInfo::total_len`] is the IP length,
//! [`TcpInfo::segment_len`] is that length minus the IP header, and
//! [`TcpInfo::payload_len`] is the segment length minus the TCP header. Link-layer
//! padding after the IP length is ignored. For a first fragment the TCP and UDP lengths
//! cover that fragment only.
//!
//! # Limits
//!
//! - At most 16 VLAN tags and 8 IPv6 extension headers are followed.
//! - Checksums are not verified.
//! - Tunnels (IP in IP, GRE, VXLAN, Geneve) are not entered: the outer headers are
//!   reported.
//! - Link types other than those in [`linktype`] stop with
//!   [`StopReason::UnsupportedLinkType`].

#![deny(clippy::indexing_slicing)]

mod bytes;
mod ethernet;
mod ip;
mod ipv4;
mod ipv6;
mod link;
pub mod linktype;
mod loopback;
mod packet;
mod sll;
mod tcp;
mod transport;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod test_packets;

use link::{LinkFields, NetworkLayer};

pub use packet::{
    Decoded, IcmpInfo, IpInfo, Layer, MacAddr, StopReason, TcpFlags, TcpInfo, Transport, UdpInfo,
    Vlans,
};

/// Decodes one packet captured under `linktype` (one of the [`linktype`] constants).
///
/// `data` is the captured bytes of the packet. Decoding never panics, never allocates
/// and returns every layer that was intact. The crate documentation explains how
/// lengths and truncated packets are handled.
#[inline]
pub fn decode(linktype: u32, data: &[u8]) -> Decoded {
    let mut link = LinkFields::default();
    let upper = match link::decode_link(linktype, data, &mut link) {
        Ok(network) => decode_network(network),
        Err(reason) => UpperLayers::stopped(None, reason),
    };

    // One struct expression, rather than a local `Decoded` filled in place, lets the
    // compiler write the fields straight into the return slot instead of copying the
    // whole struct at the end.
    Decoded {
        src_mac: link.src_mac,
        dst_mac: link.dst_mac,
        vlans: link.vlans,
        ip: upper.ip,
        transport: upper.transport,
        stop: upper.stop,
    }
}

/// The IP and transport parts of a [`Decoded`].
struct UpperLayers {
    ip: Option<IpInfo>,
    transport: Transport,
    stop: Option<StopReason>,
}

impl UpperLayers {
    #[inline]
    fn stopped(ip: Option<IpInfo>, reason: StopReason) -> Self {
        UpperLayers {
            ip,
            transport: Transport::None,
            stop: Some(reason),
        }
    }
}

/// Decodes the IP header and the transport header after it.
#[inline]
fn decode_network(network: NetworkLayer<'_>) -> UpperLayers {
    let (ip, payload) = match ip::decode_ip(network) {
        Ok(layer) => layer,
        Err(reason) => return UpperLayers::stopped(None, reason),
    };
    if ip.is_later_fragment {
        return UpperLayers::stopped(Some(ip), StopReason::Fragment);
    }
    match transport::decode_transport(payload) {
        Ok(transport) => UpperLayers {
            ip: Some(ip),
            transport,
            stop: None,
        },
        Err(reason) => UpperLayers::stopped(Some(ip), reason),
    }
}
