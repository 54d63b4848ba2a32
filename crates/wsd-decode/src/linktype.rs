//! Link-type numbers from pcap and pcapng headers that [`decode`](crate::decode) supports.
//!
//! The values are the `LINKTYPE_*` numbers of the tcpdump.org link-layer header type
//! registry, named here without the `LINKTYPE_` prefix.

/// BSD loopback: a 4-byte address family in the byte order of the host that wrote
/// the capture.
pub const NULL: u32 = 0;

/// Ethernet II, with or without 802.1Q and 802.1ad VLAN tags.
pub const ETHERNET: u32 = 1;

/// PPP (RFC 1661): the PPP protocol field first, or the HDLC-like address and control
/// bytes 0xFF 0x03 before it (RFC 1662).
pub const PPP: u32 = 9;

/// Raw IPv4 or IPv6, as older writers store `DLT_RAW` on most platforms.
pub const RAW_12: u32 = 12;

/// Raw IPv4 or IPv6, as older writers store `DLT_RAW` on BSD/OS.
pub const RAW_14: u32 = 14;

/// PPP in HDLC-like framing (RFC 1662), or Cisco HDLC when the first byte is 0x0F or
/// 0x8F.
pub const PPP_HDLC: u32 = 50;

/// PPPoE: a PPPoE session header (RFC 2516) without the Ethernet header before it.
pub const PPP_ETHER: u32 = 51;

/// Raw IPv4 or IPv6 (`LINKTYPE_RAW`), with the IP version in the first nibble.
pub const RAW: u32 = 101;

/// Cisco HDLC: address, control and a 2-byte Ethernet type.
pub const C_HDLC: u32 = 104;

/// OpenBSD loopback: a 4-byte address family, always in network byte order.
pub const LOOP: u32 = 108;

/// Linux cooked capture, version 1: a 16-byte header with the protocol at offset 14.
pub const LINUX_SLL: u32 = 113;

/// Raw IPv4 only.
pub const IPV4: u32 = 228;

/// Linux netfilter NFLOG messages: a 4-byte header and attributes, one of which
/// contains the IP packet.
pub const NFLOG: u32 = 239;

/// Raw IPv6 only.
pub const IPV6: u32 = 229;

/// Linux cooked capture, version 2: a 20-byte header with the protocol at offset 0.
pub const LINUX_SLL2: u32 = 276;

/// Returns true if [`decode`](crate::decode) decodes packets of `linktype`.
///
/// For any other link type `decode` stops at once with
/// [`StopReason::UnsupportedLinkType`](crate::StopReason::UnsupportedLinkType), so a
/// reader can check this once per file or interface instead of once per packet.
#[inline]
pub const fn is_supported(linktype: u32) -> bool {
    matches!(
        linktype,
        NULL | ETHERNET
            | PPP
            | RAW_12
            | RAW_14
            | PPP_HDLC
            | PPP_ETHER
            | RAW
            | C_HDLC
            | LOOP
            | LINUX_SLL
            | IPV4
            | IPV6
            | NFLOG
            | LINUX_SLL2
    )
}
