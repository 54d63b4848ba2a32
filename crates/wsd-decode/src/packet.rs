//! The decoded view of one packet.

use std::fmt;
use std::net::IpAddr;

/// An Ethernet MAC address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    /// Formats as lower-case hex without zero padding, for example `8:5b:e:6d:14:e8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The VLAN IDs of a packet, outermost first.
///
/// Only the two outermost tags are kept (enough for QinQ); `count` says how many
/// tags the packet carried in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    /// The outer and inner VLAN IDs (12 bits each); unused slots are 0.
    pub ids: [u16; 2],
    /// Number of 802.1Q/802.1ad tags seen.
    pub count: u8,
}

/// TCP flags, bit for bit as in the TCP header's flags byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// The acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// The urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;

    /// Returns true if every bit of `mask` is set.
    pub const fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// The IP layer of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol number (after IPv6 extension headers).
    pub protocol: u8,
    /// Length of the IP packet from its header: IPv4 total length, or IPv6 payload
    /// length plus 40. This is the on-the-wire size even when the capture was cut.
    pub total_len: u32,
    /// Length of the IP header including IPv4 options or IPv6 extension headers.
    pub header_len: u32,
    /// True for a fragment other than the first (nonzero fragment offset).
    pub is_later_fragment: bool,
    /// True for a first fragment (offset 0 with more fragments to follow).
    pub is_first_fragment: bool,
}

/// The TCP header fields that flow tracking and logging use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags byte.
    pub flags: TcpFlags,
    /// Receive window, unscaled.
    pub window: u16,
    /// TCP header length in bytes from the data offset, options included.
    pub header_len: u32,
    /// Segment length in bytes (header plus payload), from the IP length.
    pub segment_len: u32,
    /// Payload length in bytes, from the IP length: Ethernet padding is not payload.
    pub payload_len: u32,
}

/// The UDP header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Datagram length in bytes (header plus payload), from the IP length.
    pub datagram_len: u32,
}

/// The ICMP or ICMPv6 header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpInfo {
    /// Message type.
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
    /// True for ICMPv6.
    pub v6: bool,
}

/// The transport layer of a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// No transport header was decoded.
    #[default]
    None,
    /// A TCP segment.
    Tcp(TcpInfo),
    /// A UDP datagram.
    Udp(UdpInfo),
    /// An ICMP or ICMPv6 message.
    Icmp(IcmpInfo),
}

/// The layer at which decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// The link layer (Ethernet, SLL, loopback, VLAN tags).
    Link,
    /// The IPv4 or IPv6 header, options or extension headers.
    Ip,
    /// The TCP, UDP or ICMP header.
    Transport,
}

/// Why decoding stopped before the transport header, with the layer it stopped at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StopReason {
    /// The capture file's link type is not supported.
    UnsupportedLinkType,
    /// The link-layer header is cut short.
    TruncatedLink,
    /// The link layer carries a protocol other than IP (ARP, LLDP and so on).
    NotIp,
    /// More VLAN tags than the decoder follows.
    TooManyVlanTags,
    /// The IP header, its options or its extension headers are cut short by the capture.
    TruncatedIp,
    /// The IP version field is neither 4 nor 6, or disagrees with the link layer.
    BadIpVersion,
    /// The IPv4 header length field is below 5, that is below 20 bytes.
    BadIpHeaderLength,
    /// The IP total length is smaller than its header.
    BadIpTotalLength,
    /// An IPv6 extension header runs past the IPv6 payload length, or the chain has
    /// more headers than the decoder follows.
    BadIpv6ExtensionHeader,
    /// A non-first IP fragment: it carries no transport header.
    Fragment,
    /// The transport header is cut short by the capture or by the IP length.
    TruncatedTransport,
    /// The TCP data offset is below 5 or beyond the IP payload.
    BadTcpDataOffset,
    /// An IP protocol this decoder does not parse (ESP, GRE, SCTP and so on).
    OtherProtocol,
}

impl StopReason {
    /// The layer this reason belongs to.
    pub const fn layer(self) -> Layer {
        match self {
            StopReason::UnsupportedLinkType
            | StopReason::TruncatedLink
            | StopReason::NotIp
            | StopReason::TooManyVlanTags => Layer::Link,
            StopReason::TruncatedIp
            | StopReason::BadIpVersion
            | StopReason::BadIpHeaderLength
            | StopReason::BadIpTotalLength
            | StopReason::BadIpv6ExtensionHeader
            | StopReason::Fragment => Layer::Ip,
            StopReason::TruncatedTransport
            | StopReason::BadTcpDataOffset
            | StopReason::OtherProtocol => Layer::Transport,
        }
    }

    /// A short, stable name for statistics, in kebab case.
    pub const fn name(self) -> &'static str {
        match self {
            StopReason::UnsupportedLinkType => "unsupported-link-type",
            StopReason::TruncatedLink => "truncated-link-header",
            StopReason::NotIp => "not-ip",
            StopReason::TooManyVlanTags => "too-many-vlan-tags",
            StopReason::TruncatedIp => "truncated-ip-header",
            StopReason::BadIpVersion => "bad-ip-version",
            StopReason::BadIpHeaderLength => "bad-ip-header-length",
            StopReason::BadIpTotalLength => "bad-ip-total-length",
            StopReason::BadIpv6ExtensionHeader => "bad-ipv6-extension-header",
            StopReason::Fragment => "ip-fragment",
            StopReason::TruncatedTransport => "truncated-transport-header",
            StopReason::BadTcpDataOffset => "bad-tcp-data-offset",
            StopReason::OtherProtocol => "other-ip-protocol",
        }
    }

    /// True if the packet is malformed, false if it is merely outside what is decoded.
    pub const fn is_malformed(self) -> bool {
        !matches!(
            self,
            StopReason::UnsupportedLinkType
                | StopReason::NotIp
                | StopReason::Fragment
                | StopReason::OtherProtocol
        )
    }
}

/// What the decoder found in one packet: every layer that was intact.
///
/// Decoding is lenient: a packet cut short or with an odd header still yields the
/// layers before the problem, and `stop` says where and why decoding ended early.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Source MAC address, if the link layer has one.
    pub src_mac: Option<MacAddr>,
    /// Destination MAC address, if the link layer has one.
    pub dst_mac: Option<MacAddr>,
    /// VLAN tags, outermost first.
    pub vlans: Vlans,
    /// The IP layer, if its header was intact.
    pub ip: Option<IpInfo>,
    /// The transport layer, if its header was intact.
    pub transport: Transport,
    /// Why decoding stopped early, or `None` if the packet decoded fully.
    pub stop: Option<StopReason>,
}
