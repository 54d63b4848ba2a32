//! Filter expressions applied to packets that did not come from libpcap, such as
//! those of a capture file.

use std::ffi::c_int;

use super::ffi::{Handle, Program};
use super::{linktype_to_dlt, Libpcap, LiveError};
use crate::Packet;

/// Link type against which [`PacketFilter::new`] checks the expression: Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;

/// Snapshot length given to `pcap_open_dead`. A compiled filter accepts a packet by
/// returning the snapshot length, so any value above zero gives the same verdicts;
/// this one is libpcap's maximum.
const FILTER_SNAPLEN: c_int = 262_144;

/// A BPF filter expression compiled per link type and run on each packet with
/// `pcap_offline_filter`, as tcpdump does for `-r`.
pub struct PacketFilter {
    libpcap: Libpcap,
    expression: String,
    /// Compiled programs by `LINKTYPE_*`, or none for a link type that the
    /// expression does not compile for. A file has one link type per interface.
    programs: Vec<(u32, Option<Program>)>,
    /// Whether a packet was run through a compiled program, so that the link
    /// type of the first packet is known to fit the expression.
    judged_packet: bool,
}

impl std::fmt::Debug for PacketFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketFilter")
            .field("expression", &self.expression)
            .field("link_types", &self.programs.len())
            .finish()
    }
}

impl PacketFilter {
    /// Compiles `expression` for Ethernet, so that a syntax error is reported before
    /// any packet is read. Other link types are compiled when their first packet
    /// arrives.
    pub fn new(libpcap: &Libpcap, expression: &str) -> Result<PacketFilter, LiveError> {
        let mut filter = PacketFilter {
            libpcap: libpcap.clone(),
            expression: expression.to_string(),
            programs: Vec::new(),
            judged_packet: false,
        };
        filter.program_index(LINKTYPE_ETHERNET)?;
        Ok(filter)
    }

    /// Returns the expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Returns true if `packet` passes the filter. Fails for the first packet
    /// of a link type that the expression does not compile for, such as `ether
    /// host` on raw IP, and returns false for the later packets of that type.
    pub fn matches(&mut self, packet: &Packet<'_>) -> Result<bool, LiveError> {
        let index = self.program_index(packet.linktype)?;
        Ok(match &self.programs[index].1 {
            Some(program) => {
                self.judged_packet = true;
                program.matches(packet.orig_len, packet.data)
            }
            None => false,
        })
    }

    /// Returns true once [`matches`](Self::matches) has run a packet through a
    /// compiled program, whether or not the packet passed. The expression then
    /// fits the link type of the first packet.
    pub fn has_judged_packet(&self) -> bool {
        self.judged_packet
    }

    fn program_index(&mut self, linktype: u32) -> Result<usize, LiveError> {
        if let Some(index) = self.programs.iter().position(|(lt, _)| *lt == linktype) {
            return Ok(index);
        }
        let invalid = |message: String| LiveError::InvalidFilter {
            expression: self.expression.clone(),
            message,
        };
        let dlt = c_int::try_from(linktype_to_dlt(linktype))
            .map_err(|_| invalid(format!("link type {linktype} is out of range")))?;
        let mut handle =
            Handle::open_dead(&self.libpcap.library, dlt, FILTER_SNAPLEN).map_err(&invalid)?;
        match handle.compile(&self.expression) {
            Ok(program) => {
                self.programs.push((linktype, Some(program)));
                Ok(self.programs.len() - 1)
            }
            Err(message) => {
                self.programs.push((linktype, None));
                Err(invalid(format!(
                    "{message} (compiled for link type {linktype})"
                )))
            }
        }
    }
}
