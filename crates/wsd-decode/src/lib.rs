//! Packet decoding: from captured bytes to the fields that flow tracking needs.
//!
//! The wirespy pipeline is capture (`wsd-capture`) → **decode** → flow tracking
//! (`wsd-flow`) → formatting (`wsd-logfmt`). This crate is the second step. [`decode`]
//! takes the link type of a capture and the captured bytes of one packet. It returns a
//! [`Decoded`] with the MAC addresses, VLAN tags, IP header and TCP, UDP, SCTP or ICMP
//! header fields that were intact, plus the [`StopReason`] if decoding ended early.
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
//! padding after the IP length is ignored. For a first fragment the TCP, UDP and SCTP
//! lengths cover that fragment only.
//!
//! # Encapsulations and tunnels
//!
//! Besides Ethernet, VLAN tags, Linux cooked captures, loopback and raw IP, the
//! decoder follows MPLS label stacks, PPPoE sessions, PPP and Cisco HDLC links and
//! NFLOG records to the IP packet they carry. MPLS does not name its payload, so the
//! first nibble after the bottom label decides between IPv4 and IPv6.
//!
//! It also enters tunnels: GRE (with its optional checksum, key and sequence fields,
//! and PPTP's enhanced GRE), ERSPAN types I to III, VXLAN (UDP destination port 4789),
//! Geneve (UDP destination port 6081), IPv4 and IPv6 inside IPv4 or IPv6, and Teredo
//! (UDP port 3544). [`Decoded`] then describes the innermost packet, and
//! [`Decoded::tunnel`] the outermost tunnel: its kind, outer addresses and identifier.
//! [`decode_with`] with [`DecodeOptions::decapsulate`] off reports the outer packet
//! instead. A UDP datagram on a tunnel port whose header fails the tunnel's check
//! stays a UDP datagram.
//!
//! # Fragments
//!
//! [`Decoded::fragment`] contains the identification, offset and "more fragments" flag of
//! the outermost fragmented IP header, so that a fragment table can count later
//! fragments, which carry no transport header, into the flow of their first fragment.
//! It also contains the fragment's data length and up to 16 of its leading bytes
//! ([`FragmentHead`]). A first fragment too short for the transport header fields a
//! flow needs stops with [`StopReason::TinyFragment`], and a fragment table can join
//! its leading bytes with those of the next fragment and decode them with
//! [`decode_transport_head`]. A first fragment that contains the first 16 bytes of a
//! TCP header decodes as TCP even when its options continue in the next fragment.
//!
//! # Limits
//!
//! - At most 16 VLAN tags over all Ethernet headers of a packet, 16 MPLS labels per
//!   stack, 8 IPv6 extension headers per IP header and 8 encapsulation levels (each
//!   tunnel, MPLS label stack and PPPoE header counts as one) are followed. Past them
//!   decoding stops with a reason of its own, which counts as malformed.
//! - Checksums are not verified.
//! - Link types other than those in [`linktype`] stop with
//!   [`StopReason::UnsupportedLinkType`].

#![forbid(unsafe_code)]
#![deny(clippy::indexing_slicing)]

mod bytes;
mod chdlc;
mod ethernet;
mod frame;
mod general;
mod geneve;
mod gre;
mod ip;
mod ipv4;
mod ipv6;
mod link;
pub mod linktype;
mod loopback;
mod mpls;
mod nflog;
mod packet;
mod ppp;
mod sll;
mod state;
mod tcp;
mod teredo;
mod transport;
mod tunnel;
mod vxlan;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod test_packets;

use link::{LinkFields, NetworkLayer};

pub use frame::{DecodeTally, FrameDecoder, StopCount};
pub use packet::{
    Decoded, FragmentHead, FragmentInfo, IcmpInfo, IpInfo, Layer, MacAddr, SctpInfo, StopReason,
    TcpFlags, TcpInfo, Transport, TunnelInfo, TunnelKind, UdpInfo, Vlans, FRAGMENT_HEAD_LEN,
};
pub use transport::decode_transport_head;

/// Settings of [`decode_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Follow tunnels (GRE, ERSPAN, VXLAN, Geneve, IP in IP, Teredo) to the innermost
    /// packet. When false, a tunnel packet is decoded as its outer flow: GRE and IP in
    /// IP stop with [`StopReason::OtherProtocol`], and VXLAN, Geneve and Teredo are UDP
    /// datagrams. MPLS, PPPoE and PPP are always decoded, because no IP flow lies
    /// outside them. True by default.
    pub decapsulate: bool,
    /// The captured bytes are the whole frame as it was on the wire, which the
    /// capture's record lengths tell. An IP length beyond them is then false, and
    /// the IP packet counts only the bytes the frame carries. When false, an IP
    /// length beyond the captured bytes is taken as the wire size of a packet that
    /// the capture cut. False by default.
    pub whole_frame: bool,
}

impl DecodeOptions {
    /// Returns the default options, with decapsulation on.
    pub const fn new() -> Self {
        DecodeOptions {
            decapsulate: true,
            whole_frame: false,
        }
    }

    /// Returns these options with decapsulation turned on or off.
    pub const fn with_decapsulate(self, decapsulate: bool) -> Self {
        DecodeOptions {
            decapsulate,
            ..self
        }
    }

    /// Returns these options for a frame captured whole (`true`) or cut by the
    /// capture's snapshot length.
    pub const fn with_whole_frame(self, whole_frame: bool) -> Self {
        DecodeOptions {
            whole_frame,
            ..self
        }
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions::new()
    }
}

/// Decodes one packet captured under `linktype` (one of the [`linktype`] constants),
/// following tunnels to the innermost packet.
///
/// `data` is the captured bytes of the packet. Decoding never panics, never allocates
/// and returns every layer that was intact. The crate documentation explains how
/// lengths, tunnels and truncated packets are handled.
#[inline]
pub fn decode(linktype: u32, data: &[u8]) -> Decoded {
    decode_with(linktype, data, &DecodeOptions::new())
}

/// Decodes one packet as [`decode`] does, with the given options.
///
/// Plain packets (a link layer, IP and a transport header, without fragmentation or
/// tunnels) take a fast path. Any other packet is decoded again from the start by the
/// general decoder, which follows every layer this crate supports.
///
/// ```
/// use wsd_decode::{decode, decode_with, linktype, DecodeOptions, StopReason, TunnelKind};
///
/// // IPv4 in IPv4 from 192.0.2.1 to 192.0.2.2, carrying a TCP SYN from 10.0.0.1:40000
/// // to 10.0.0.2:80.
/// let packet = [
///     0x45, 0, 0, 60, 0, 1, 0, 0, 64, 4, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, // outer IPv4
///     0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // inner IPv4
///     0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, // TCP
/// ];
///
/// let inner = decode(linktype::RAW, &packet);
/// assert_eq!(inner.stop, None);
/// assert_eq!(inner.ip.unwrap().src.to_string(), "10.0.0.1");
/// let tunnel = inner.tunnel.unwrap();
/// assert_eq!(tunnel.kind, TunnelKind::IpInIp);
/// assert_eq!(tunnel.src.to_string(), "192.0.2.1");
///
/// let options = DecodeOptions::new().with_decapsulate(false);
/// let outer = decode_with(linktype::RAW, &packet, &options);
/// assert_eq!(outer.stop, Some(StopReason::OtherProtocol));
/// assert_eq!(outer.ip.unwrap().src.to_string(), "192.0.2.1");
/// assert_eq!(outer.tunnel, None);
/// ```
#[inline]
pub fn decode_with(linktype: u32, data: &[u8], options: &DecodeOptions) -> Decoded {
    let mut link = LinkFields::default();
    let upper = match link::decode_link(linktype, data, &mut link) {
        Ok(mut network) => {
            network.bounded |= options.whole_frame;
            decode_plain_network(network, options)
        }
        Err(_) if link.needs_general_decoder => None,
        Err(reason) => Some(UpperLayers::stopped(None, reason)),
    };
    let Some(upper) = upper else {
        return general::decode_general(linktype, data, options);
    };

    // One struct expression, rather than a local `Decoded` filled in place, lets the
    // compiler write the fields straight into the return slot instead of copying the
    // whole struct at the end.
    Decoded {
        src_mac: link.src_mac(),
        dst_mac: link.dst_mac(),
        vlans: link.vlans(),
        ip: upper.ip,
        transport: upper.transport,
        stop: upper.stop,
        tunnel: None,
        fragment: None,
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

/// Decodes the IP header and the transport header after it, or returns `None` if the
/// IP packet is a fragment or may carry a tunnel, which only the general decoder
/// follows.
#[inline]
fn decode_plain_network(network: NetworkLayer<'_>, options: &DecodeOptions) -> Option<UpperLayers> {
    let (ip, payload, _) = match ip::decode_ip(network) {
        Ok(layer) => layer,
        Err(reason) => return Some(UpperLayers::stopped(None, reason)),
    };
    let is_fragment = ip.is_first_fragment || ip.is_later_fragment;
    let is_tcp = payload.protocol == transport::TCP;
    if is_fragment || !is_tcp && tunnel::may_carry_tunnel(&payload, options.decapsulate) {
        return None;
    }
    let upper = match transport::decode_transport(payload) {
        Ok(transport) => UpperLayers {
            ip: Some(ip),
            transport,
            stop: None,
        },
        Err(reason) => UpperLayers::stopped(Some(ip), reason),
    };
    Some(upper)
}
