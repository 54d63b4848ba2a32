//! IP version dispatch and the IP payload handed to the transport decoders.

use crate::bytes::{len_u32, truncate};
use crate::link::{NetworkLayer, NetworkProtocol};
use crate::packet::{IpInfo, StopReason};
use crate::{ipv4, ipv6};

/// The transport-layer bytes of an IP packet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpPayload<'a> {
    /// The IP protocol number after any IPv6 extension headers.
    pub(crate) protocol: u8,
    /// The captured payload bytes, without link-layer padding after the IP length.
    pub(crate) bytes: &'a [u8],
    /// The payload length that the IP header declares: total length minus header
    /// length. It exceeds `bytes.len()` when the capture cut the packet.
    pub(crate) len: u32,
}

impl<'a> IpPayload<'a> {
    /// Builds the payload of `packet`, given a header length and a total length already
    /// checked to satisfy `header_len <= total_len`.
    #[inline]
    pub(crate) fn new(protocol: u8, packet: &'a [u8], header_len: usize, total_len: usize) -> Self {
        let captured = truncate(packet, total_len);
        IpPayload {
            protocol,
            bytes: captured.get(header_len..).unwrap_or_default(),
            len: len_u32(total_len).saturating_sub(len_u32(header_len)),
        }
    }
}

/// The fragmentation fields of a fragmented IP header, before they are joined with its
/// addresses into a [`FragmentInfo`](crate::FragmentInfo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FragmentFields {
    pub(crate) protocol: u8,
    pub(crate) id: u32,
    /// Offset in bytes.
    pub(crate) offset: u16,
    pub(crate) more_fragments: bool,
    /// Position in the IP packet where the fragment's data starts: after the IPv4
    /// header, or after the IPv6 fragment header.
    pub(crate) data_start: usize,
}

/// A decoded IP header: its fields, its payload, and its fragmentation fields if it
/// is a fragment.
pub(crate) type IpLayer<'a> = (IpInfo, IpPayload<'a>, Option<FragmentFields>);

/// Decodes the IP header of `network` and finds its payload.
#[inline]
pub(crate) fn decode_ip(network: NetworkLayer<'_>) -> Result<IpLayer<'_>, StopReason> {
    let first_byte = *network.bytes.first().ok_or(StopReason::TruncatedIp)?;
    let version = first_byte >> 4;

    match (network.protocol, version) {
        (NetworkProtocol::Ipv4 | NetworkProtocol::AnyIp, 4) => {
            ipv4::decode_ipv4(network.bytes, network.bounded)
        }
        (NetworkProtocol::Ipv6 | NetworkProtocol::AnyIp, 6) => {
            ipv6::decode_ipv6(network.bytes, network.bounded)
        }
        _ => Err(StopReason::BadIpVersion),
    }
}
