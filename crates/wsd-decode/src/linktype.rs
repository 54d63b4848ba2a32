//! Link-type numbers from pcap and pcapng headers that [`decode`](crate::decode) supports.
//!
//! The values are the `LINKTYPE_*` numbers of the tcpdump.org link-layer header type
//! registry, named here without the `LINKTYPE_` prefix.

/// BSD loopback: a 4-byte address family in the byte order of the host that wrote
/// the capture.
pub const NULL: u32 = 0;

/// Ethernet II, with or without 802.1Q and 802.1ad VLAN tags.
pub const ETHERNET: u32 = 1;

/// Raw IPv4 or IPv6, as older writers store `DLT_RAW` on most platforms.
pub const RAW_12: u32 = 12;

/// Raw IPv4 or IPv6, as older writers store `DLT_RAW` on BSD/OS.
pub const RAW_14: u32 = 14;

/// Raw IPv4 or IPv6 (`LINKTYPE_RAW`), with the IP version in the first nibble.
pub const RAW: u32 = 101;

/// OpenBSD loopback: a 4-byte address family, always in network byte order.
pub const LOOP: u32 = 108;

/// Linux cooked capture, version 1: a 16-byte header with the protocol at offset 14.
pub const LINUX_SLL: u32 = 113;

/// Raw IPv4 only.
pub const IPV4: u32 = 228;

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
        NULL | ETHERNET | RAW_12 | RAW_14 | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}
