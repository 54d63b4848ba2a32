//! The packet-source abstraction shared by file and live capture.

use crate::Timestamp;

/// One captured packet, borrowed from its source until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Link-layer type of `data`, as a pcap `LINKTYPE_*` number (1 is Ethernet).
    pub linktype: u32,
    /// The captured bytes, possibly fewer than the packet had on the wire.
    pub data: &'a [u8],
    /// Length of the packet on the wire, as the capture recorded it.
    pub orig_len: u32,
}

/// Anything that yields captured packets in capture order: a file or a live interface.
pub trait PacketSource {
    /// Error returned when the source fails.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Returns the next packet, or `Ok(None)` at the end of the input.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Self::Error>;
}
