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

/// The VLAN tags after a link-layer header, outermost first.
///
/// Only the two outermost IDs are kept, which is enough for QinQ, and `count` is the
/// number of tags. In a tunnelled packet these are the tags of the innermost Ethernet
/// header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    /// The outer and inner VLAN IDs (12 bits each); unused slots are 0.
    pub ids: [u16; 2],
    /// Number of 802.1Q and 802.1ad tags.
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

/// The fields of the SCTP common header (RFC 9260, section 3.1) that flow
/// tracking and logging use. The verification tag, the checksum and the chunks
/// are not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// SCTP packet length in bytes (common header plus chunks), from the IP length.
    pub packet_len: u32,
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
    /// Identifier of an echo request or reply (ICMP type 8 or 0, ICMPv6 type 128
    /// or 129), or `None` for other messages and for an echo cut before it.
    pub echo_id: Option<u16>,
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
    /// An SCTP packet.
    Sctp(SctpInfo),
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
    /// The TCP, UDP, SCTP or ICMP header.
    Transport,
    /// A tunnel header (GRE, ERSPAN, VXLAN, Geneve, Teredo), or the limit on nested
    /// encapsulations.
    Tunnel,
}

/// The reason decoding stopped before the transport header, with the layer it stopped at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StopReason {
    /// The capture file's link type is not supported.
    UnsupportedLinkType,
    /// The link-layer header is cut short.
    TruncatedLink,
    /// The link layer carries a protocol other than IP (ARP, LLDP, PPP control
    /// protocols and so on), or no packet at all (an NFLOG record without payload).
    NotIp,
    /// More VLAN tags than the decoder follows.
    TooManyVlanTags,
    /// A link-layer header has an invalid field: a PPPoE version, type or code that is
    /// not a session packet's, or an NFLOG version or attribute length that is invalid.
    BadLinkHeader,
    /// An MPLS label stack has more labels than the decoder follows.
    TooManyMplsLabels,
    /// The packet after the bottom MPLS label starts with neither the IPv4 nor the IPv6
    /// version nibble, for example an Ethernet pseudowire with its control word.
    MplsPayloadNotIp,
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
    /// The TCP data offset is below 5, or beyond the IP payload of a packet that is
    /// not a first fragment.
    BadTcpDataOffset,
    /// An IP protocol this decoder does not parse (ESP, IGMP and so on, or a tunnel
    /// protocol when decapsulation is off).
    OtherProtocol,
    /// A first IP fragment too short for the transport header fields a flow needs
    /// (the first 16 bytes of TCP, the whole UDP, SCTP or ICMP header), whose rest
    /// follows in the next fragment (a "tiny fragment" in RFC 1858).
    TinyFragment,
    /// A tunnel header is cut short by the capture or by the length of the packet
    /// that carries it.
    TruncatedTunnel,
    /// A tunnel header has an invalid field: a GRE version above 1, a PPTP GRE header
    /// without its key or with another protocol than PPP, or an ERSPAN version that
    /// disagrees with the GRE protocol type.
    BadTunnelHeader,
    /// A tunnel feature that the decoder does not follow: GRE source routing (RFC 1701)
    /// or an ERSPAN type III frame type other than Ethernet.
    UnsupportedTunnel,
    /// More nested tunnels and encapsulations than the decoder follows.
    TooManyEncapsulations,
}

impl StopReason {
    /// Returns the layer this reason belongs to.
    pub const fn layer(self) -> Layer {
        match self {
            StopReason::UnsupportedLinkType
            | StopReason::TruncatedLink
            | StopReason::NotIp
            | StopReason::TooManyVlanTags
            | StopReason::BadLinkHeader
            | StopReason::TooManyMplsLabels
            | StopReason::MplsPayloadNotIp => Layer::Link,
            StopReason::TruncatedIp
            | StopReason::BadIpVersion
            | StopReason::BadIpHeaderLength
            | StopReason::BadIpTotalLength
            | StopReason::BadIpv6ExtensionHeader
            | StopReason::Fragment => Layer::Ip,
            StopReason::TruncatedTransport
            | StopReason::BadTcpDataOffset
            | StopReason::OtherProtocol
            | StopReason::TinyFragment => Layer::Transport,
            StopReason::TruncatedTunnel
            | StopReason::BadTunnelHeader
            | StopReason::UnsupportedTunnel
            | StopReason::TooManyEncapsulations => Layer::Tunnel,
        }
    }

    /// Returns a short, stable name for statistics, in kebab case.
    pub const fn name(self) -> &'static str {
        match self {
            StopReason::UnsupportedLinkType => "unsupported-link-type",
            StopReason::TruncatedLink => "truncated-link-header",
            StopReason::NotIp => "not-ip",
            StopReason::TooManyVlanTags => "too-many-vlan-tags",
            StopReason::BadLinkHeader => "bad-link-header",
            StopReason::TooManyMplsLabels => "too-many-mpls-labels",
            StopReason::MplsPayloadNotIp => "mpls-payload-not-ip",
            StopReason::TruncatedIp => "truncated-ip-header",
            StopReason::BadIpVersion => "bad-ip-version",
            StopReason::BadIpHeaderLength => "bad-ip-header-length",
            StopReason::BadIpTotalLength => "bad-ip-total-length",
            StopReason::BadIpv6ExtensionHeader => "bad-ipv6-extension-header",
            StopReason::Fragment => "ip-fragment",
            StopReason::TruncatedTransport => "truncated-transport-header",
            StopReason::BadTcpDataOffset => "bad-tcp-data-offset",
            StopReason::OtherProtocol => "other-ip-protocol",
            StopReason::TinyFragment => "tiny-ip-fragment",
            StopReason::TruncatedTunnel => "truncated-tunnel-header",
            StopReason::BadTunnelHeader => "bad-tunnel-header",
            StopReason::UnsupportedTunnel => "unsupported-tunnel",
            StopReason::TooManyEncapsulations => "too-many-encapsulations",
        }
    }

    /// True if the packet is malformed, false if it is merely outside what is decoded.
    pub const fn is_malformed(self) -> bool {
        !matches!(
            self,
            StopReason::UnsupportedLinkType
                | StopReason::NotIp
                | StopReason::MplsPayloadNotIp
                | StopReason::Fragment
                | StopReason::OtherProtocol
                | StopReason::TinyFragment
                | StopReason::UnsupportedTunnel
        )
    }
}

/// A kind of tunnel: a protocol that carries a whole packet or frame inside an outer
/// IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TunnelKind {
    /// Generic Routing Encapsulation (IP protocol 47) carrying IP, MPLS or an Ethernet
    /// frame, or PPP in the enhanced GRE header of PPTP.
    Gre,
    /// Cisco ERSPAN type I, II or III: a mirrored Ethernet frame in GRE.
    Erspan,
    /// VXLAN (UDP destination port 4789): an Ethernet frame after an 8-byte header.
    Vxlan,
    /// Geneve (UDP destination port 6081): an Ethernet frame or an IP packet after a
    /// header with options.
    Geneve,
    /// IPv4 or IPv6 directly inside IPv4 or IPv6 (IP protocol 4 or 41).
    IpInIp,
    /// Teredo (UDP port 3544): IPv6 inside UDP.
    Teredo,
}

impl TunnelKind {
    /// Returns a short, stable name for statistics and logs, in kebab case.
    pub const fn name(self) -> &'static str {
        match self {
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::IpInIp => "ip-in-ip",
            TunnelKind::Teredo => "teredo",
        }
    }
}

/// The outermost tunnel of a packet: its kind, the addresses of the outer IP header
/// and the tunnel's own identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TunnelInfo {
    /// The tunnel protocol.
    pub kind: TunnelKind,
    /// Source address of the outer IP header, the tunnel's entry point.
    pub src: IpAddr,
    /// Destination address of the outer IP header, the tunnel's exit point.
    pub dst: IpAddr,
    /// The identifier that separates tunnels between the same endpoints: the GRE key,
    /// the VXLAN or Geneve network identifier (VNI, 24 bits), the ERSPAN session ID
    /// (10 bits) or the PPTP call ID (16 bits). `None` if the header carries none or
    /// decoding stopped before it.
    pub id: Option<u32>,
}

/// The fragmentation fields of a fragmented IP header: everything that a reassembly
/// or fragment table keys on.
///
/// Fragments of one datagram share `src`, `dst`, `protocol` and `id`. RFC 791 keys
/// IPv4 fragments on all four, and RFC 8200 keys IPv6 fragments on the addresses and
/// `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// Source address of the fragmented header.
    pub src: IpAddr,
    /// Destination address of the fragmented header.
    pub dst: IpAddr,
    /// The protocol of the fragmented payload: the IPv4 protocol field, or the next
    /// header field of the IPv6 fragment header.
    pub protocol: u8,
    /// The identification field: 16 bits in IPv4, 32 bits in the IPv6 fragment header.
    pub id: u32,
    /// Offset of this fragment's data in the original payload, in bytes.
    pub offset: u16,
    /// The "more fragments" flag: false for the last fragment.
    pub more_fragments: bool,
    /// Bytes of the datagram's payload that this fragment carries, from the IP
    /// length: everything after the IPv4 header or after the IPv6 fragment header,
    /// so the next fragment starts at `offset + data_len`.
    pub data_len: u32,
    /// The leading bytes that a fragment table joins when a first fragment is too
    /// short for its transport header. A first fragment keeps the start of its
    /// transport header (after any IPv6 extension headers), and a later fragment the
    /// start of its data.
    pub head: FragmentHead,
}

/// The number of leading bytes a [`FragmentHead`] keeps: the TCP header up to and
/// including the window, the part of it that flow tracking reads.
pub const FRAGMENT_HEAD_LEN: usize = 16;

/// Up to [`FRAGMENT_HEAD_LEN`] captured bytes from the start of a fragment's
/// transport header or data, copied so that [`Decoded`] stays `Copy` and borrows
/// nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragmentHead {
    /// The bytes; only the first `len` are valid, the rest are zero.
    pub bytes: [u8; FRAGMENT_HEAD_LEN],
    /// Number of valid bytes, at most [`FRAGMENT_HEAD_LEN`]. Fewer when the fragment
    /// carries fewer bytes or the capture cut it.
    pub len: u8,
}

impl FragmentHead {
    /// Copies the first [`FRAGMENT_HEAD_LEN`] bytes of `data`, or all of it if it
    /// is shorter.
    pub fn new(data: &[u8]) -> FragmentHead {
        let mut head = FragmentHead::default();
        let len = data.len().min(FRAGMENT_HEAD_LEN);
        for (to, from) in head.bytes.iter_mut().zip(data) {
            *to = *from;
        }
        // `len` is at most FRAGMENT_HEAD_LEN, which fits in a u8.
        head.len = u8::try_from(len).unwrap_or(u8::MAX);
        head
    }

    /// Returns the valid bytes.
    pub fn as_bytes(&self) -> &[u8] {
        let len = usize::from(self.len).min(FRAGMENT_HEAD_LEN);
        self.bytes.get(..len).unwrap_or_default()
    }
}

impl FragmentInfo {
    /// Returns true for the first fragment of a datagram, the one with the transport
    /// header.
    pub const fn is_first(&self) -> bool {
        self.offset == 0
    }
}

/// What the decoder found in one packet: every layer that was intact.
///
/// Decoding is lenient: a packet cut short or with an odd header still yields the
/// layers before the problem, and `stop` states where and why decoding ended early.
///
/// For a tunnelled packet the fields describe the innermost packet, and `tunnel` the
/// outermost tunnel. `ip` and `transport` are reset when decoding enters a tunnel, so
/// they stay empty if it stops before an inner IP header. The MAC addresses and VLAN
/// tags are those of the innermost Ethernet header: the inner frame's when the tunnel
/// carries Ethernet (GRE bridging, ERSPAN, VXLAN, Geneve), the outer frame's when it
/// carries IP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Source MAC address, if the link layer has one.
    pub src_mac: Option<MacAddr>,
    /// Destination MAC address, if the link layer has one.
    pub dst_mac: Option<MacAddr>,
    /// VLAN tags of the innermost Ethernet header, outermost first.
    pub vlans: Vlans,
    /// The IP layer, if its header was intact.
    pub ip: Option<IpInfo>,
    /// The transport layer, if its header was intact.
    pub transport: Transport,
    /// The reason decoding stopped early, or `None` if the packet decoded fully.
    pub stop: Option<StopReason>,
    /// The outermost tunnel that decoding entered, if any. The fields above then
    /// describe the packet inside the innermost tunnel.
    pub tunnel: Option<TunnelInfo>,
    /// The fragmentation fields of the outermost fragmented IP header, if any. When a
    /// tunnel packet was fragmented, this is the outer header, not the one in `ip`.
    pub fragment: Option<FragmentInfo>,
}
