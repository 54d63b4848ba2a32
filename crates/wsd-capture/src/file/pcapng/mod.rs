//! pcapng: a sequence of blocks, each framed by its type, its total length and that length
//! again at its end.
//!
//! A section header block (SHB) starts each section and sets its byte order. Interface
//! description blocks (IDB) number the section's interfaces from 0, each with its link
//! type, snapshot length and timestamp unit. Packet blocks name an interface by that
//! number. A new SHB starts an empty interface list.
//!
//! SHBs and IDBs are parsed with pcap-parser. Packet blocks are decoded here from their
//! fixed fields, because pcap-parser's packet-block parsers collect each block's options
//! into a `Vec`, an allocation per packet, and this reader needs no packet options.

use std::io;

use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock, InterfaceDescriptionBlock, OptionCode,
};
use pcap_parser::{EPB_MAGIC, IDB_MAGIC, SHB_MAGIC, SPB_MAGIC};

use super::clock::InterfaceClock;
use super::input::Input;
use super::pcap::end_or_truncated;
use super::step::{caplen_is_absurd, PacketMeta, Probe, Problem, Step};
use super::{describe_parse_error, ByteOrder, MAX_BLOCK_LEN, MAX_INTERFACES};
use crate::Timestamp;

#[cfg(test)]
mod tests;

/// Block type of the obsolete packet block, which the enhanced packet block replaced.
const OPB_TYPE: u32 = 2;

/// Block type of the name resolution block.
const NAME_RESOLUTION_TYPE: u32 = 4;

/// Block type of the interface statistics block.
const INTERFACE_STATISTICS_TYPE: u32 = 5;

/// Length of the smallest block: type, length and trailing length.
const MIN_BLOCK_LEN: u32 = 12;

/// Length of a section header block without options.
pub(super) const SECTION_HEADER_MIN_LEN: u32 = 28;

/// Offset of the options in a section header block.
const SECTION_OPTIONS_OFFSET: usize = 24;

/// Offset of the options in an interface description block.
const INTERFACE_OPTIONS_OFFSET: usize = 16;

/// The byte-order magic of a section header, as read in the section's byte order.
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// The only major version of the format.
pub(super) const SUPPORTED_MAJOR: u16 = 1;

/// Offset of the captured bytes in an enhanced or obsolete packet block.
pub(super) const PACKET_DATA_OFFSET: usize = 28;

/// Offset of the captured bytes in a simple packet block.
const SIMPLE_PACKET_DATA_OFFSET: usize = 12;

/// Length of the fixed fields and the trailing length of an enhanced or obsolete packet
/// block. The rest of the block is packet data and options.
const PACKET_BLOCK_OVERHEAD: u32 = 32;

/// One interface of the current section.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Snapshot length, 0 for no limit.
    snaplen: u32,
    clock: InterfaceClock,
    /// False when pcap-parser rejected the description block or its time resolution is
    /// unusable. The entry keeps the numbering of later interfaces intact.
    valid: bool,
}

impl Interface {
    const INVALID: Interface = Interface {
        linktype: 0,
        snaplen: 0,
        clock: InterfaceClock::MICROSECONDS,
        valid: false,
    };

    /// Creates the interface that a description block describes, or returns `None` when
    /// its `if_tsresol` is too fine for 64-bit timestamps (see [`InterfaceClock::new`]).
    fn from_block(idb: &InterfaceDescriptionBlock<'_>, order: ByteOrder) -> Option<Interface> {
        // pcap-parser 0.17 decodes if_tsoffset as little-endian in every section, so the
        // option is read here in the section's byte order. The if_tsresol byte has no
        // byte order, and pcap-parser's value (6 when absent) is used as it is.
        let tsoffset = idb
            .options
            .iter()
            .take_while(|option| option.code != OptionCode::EndOfOpt)
            .find(|option| option.code == OptionCode::IfTsoffset)
            .and_then(|option| option.as_bytes().ok())
            .and_then(|value| <[u8; 8]>::try_from(value).ok())
            .map_or(0, |raw| order.i64_from(raw));

        Some(Interface {
            // pcap-parser stores the 16-bit link type field in an i32.
            linktype: u32::from(idb.linktype.0 as u16),
            snaplen: idb.snaplen,
            clock: InterfaceClock::new(idb.if_tsresol, tsoffset)?,
            valid: true,
        })
    }
}

/// The two packet block types that carry a timestamp.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PacketBlock {
    Enhanced,
    Obsolete,
}

/// The reader state of a pcapng file: the current section's byte order and interfaces.
#[derive(Debug)]
pub(super) struct PcapNgReader {
    order: ByteOrder,
    interfaces: Vec<Interface>,
    /// Time of the last packet read, given to simple packet blocks, which carry none.
    last_ts: Timestamp,
}

impl PcapNgReader {
    /// Creates a reader positioned before the first section header.
    pub(super) fn new() -> PcapNgReader {
        PcapNgReader {
            order: ByteOrder::Little,
            interfaces: Vec::new(),
            last_ts: Timestamp::ZERO,
        }
    }

    /// Reads the next block from `input`.
    pub(super) fn next(&mut self, input: &mut Input) -> io::Result<Step> {
        let offset = input.offset();
        if !input.fill(MIN_BLOCK_LEN as usize)? {
            return Ok(end_or_truncated(input, offset));
        }

        // A section header is part of this capture: only a classic pcap file
        // header starts another. Its magic, read as a block type in either byte
        // order, is above the section header's type, as few block types are.
        if self.order.u32_at(input.available(), 0) > SHB_MAGIC
            && input.fill(super::NEXT_FILE_PROBE)?
            && super::starts_capture(input.available(), false)
        {
            return Ok(Step::NextFile { offset });
        }
        let head = input.available();
        if self.order.u32_at(head, 0) == SHB_MAGIC {
            // A section header sets the byte order of its own fields and of its section.
            let magic = ByteOrder::Little.u32_at(head, 8);
            match section_byte_order(magic) {
                Some(order) => self.order = order,
                None => {
                    let problem = Problem::InvalidByteOrderMagic { magic };
                    return Ok(Step::Corrupt { offset, problem });
                }
            }
        }
        let block_type = self.order.u32_at(head, 0);
        let block_len = self.order.u32_at(head, 4);
        if block_len < MIN_BLOCK_LEN || block_len % 4 != 0 {
            let problem = Problem::InvalidBlockLength { block_len };
            return Ok(Step::Corrupt { offset, problem });
        }
        if block_type == SHB_MAGIC && block_len < SECTION_HEADER_MIN_LEN {
            let problem = Problem::BlockTooShort {
                block_type,
                block_len,
                min: SECTION_HEADER_MIN_LEN,
            };
            return Ok(Step::Corrupt { offset, problem });
        }

        if block_len > MAX_BLOCK_LEN {
            return self.pass_large_block(input, offset, block_type, block_len);
        }
        if !input.fill(block_len as usize)? {
            return Ok(Step::Truncated { offset });
        }

        let block = &input.available()[..block_len as usize];
        let trailing = self.order.u32_at(block, block.len() - 4);
        if trailing != block_len {
            let problem = Problem::BlockLengthMismatch {
                leading: block_len,
                trailing,
            };
            return Ok(Step::Corrupt { offset, problem });
        }
        let step = self.read_block(block_type, block, offset, input.start());
        input.consume(block_len as usize);
        Ok(step)
    }

    /// Tells whether `head` starts a block of this section, for the search after
    /// damage. The block needs a type this reader knows other than a section
    /// header, which another capture's check finds. Its length must fit the type
    /// and [`MAX_BLOCK_LEN`] and be repeated at its end, and a packet block's
    /// captured length must fit the block. The interface a packet block names is
    /// not checked, because an interface description found with it may describe it.
    pub(super) fn probe(&self, head: &[u8]) -> Probe {
        let Some(framing) = head.get(..MIN_BLOCK_LEN as usize) else {
            return Probe::Need(MIN_BLOCK_LEN as usize);
        };
        let order = self.order;
        let block_type = order.u32_at(framing, 0);
        let block_len = order.u32_at(framing, 4);
        let min_len = match block_type {
            EPB_MAGIC | OPB_TYPE => PACKET_BLOCK_OVERHEAD,
            SPB_MAGIC => SIMPLE_PACKET_DATA_OFFSET as u32 + 4,
            IDB_MAGIC => INTERFACE_OPTIONS_OFFSET as u32 + 4,
            NAME_RESOLUTION_TYPE | INTERFACE_STATISTICS_TYPE => MIN_BLOCK_LEN + 4,
            _ => return Probe::Absent,
        };
        if block_len % 4 != 0 || !(min_len..=MAX_BLOCK_LEN).contains(&block_len) {
            return Probe::Absent;
        }
        if let EPB_MAGIC | OPB_TYPE = block_type {
            let Some(fixed) = head.get(..PACKET_DATA_OFFSET) else {
                return Probe::Need(PACKET_DATA_OFFSET);
            };
            if order.u32_at(fixed, 20) > block_len - PACKET_BLOCK_OVERHEAD {
                return Probe::Absent;
            }
        }
        let len = block_len as usize;
        match head.get(len - 4..len) {
            None => Probe::Need(len),
            Some(trailing) if order.u32_at(trailing, 0) == block_len => {
                Probe::Record { len, ts: None }
            }
            Some(_) => Probe::Absent,
        }
    }

    /// Returns the interface and time of the enhanced or obsolete packet block
    /// that starts `head`, if its fixed fields are sound, its interface is
    /// valid and its time is in range. Only the fixed fields are read, so the
    /// result does not depend on how much of the block the buffer contains.
    pub(super) fn packet_time(&self, head: &[u8]) -> Option<(u32, Timestamp)> {
        let fixed = head.get(..PACKET_DATA_OFFSET)?;
        let index = packet_interface(self.order, fixed)?;
        // The probe of the fixed fields alone returns `Need` when their block
        // length and captured length pass its checks.
        if !matches!(self.probe(fixed), Probe::Need(_)) {
            return None;
        }
        let interface = self.interface(index).ok()?;
        let order = self.order;
        let ticks = u64::from(order.u32_at(fixed, 12)) << 32 | u64::from(order.u32_at(fixed, 16));
        let (ts, clamped) = interface.clock.checked_timestamp(ticks);
        (!clamped).then_some((index, ts))
    }

    /// Returns the length and interface of the enhanced or obsolete packet
    /// block that ends at the end of `before`, whose captured bytes start
    /// `data_from_end` bytes before that end, or `None` if no such block ends
    /// there.
    pub(super) fn packet_block_before(
        &self,
        before: &[u8],
        data_from_end: usize,
    ) -> Option<(usize, u32)> {
        let len = data_from_end.checked_add(PACKET_DATA_OFFSET)?;
        let block = before.get(before.len().checked_sub(len)?..)?;
        let interface = packet_interface(self.order, block)?;
        (self.order.u32_at(block, 4) as usize == len).then_some((len, interface))
    }

    /// Returns the length that the block starting `head` claims, or 0 if
    /// `head` is too short to contain it.
    pub(super) fn claimed_len(&self, head: &[u8]) -> u64 {
        match head.get(..8) {
            Some(framing) => u64::from(self.order.u32_at(framing, 4)),
            None => 0,
        }
    }

    /// Handles a block longer than `MAX_BLOCK_LEN`: one that carries no packet is
    /// skipped when it fits the read buffer and its length is repeated at its
    /// end, or else returned for the caller to search on the way past it. Any
    /// other block ends the file. A block that runs past the known end of the
    /// input is returned as truncated. The bytes after its start then stay in
    /// the input for the search after damage, because a block header read out
    /// of place often gives a length of gigabytes.
    fn pass_large_block(
        &self,
        input: &mut Input,
        offset: u64,
        block_type: u32,
        block_len: u32,
    ) -> io::Result<Step> {
        if is_kept_in_memory(block_type) {
            let problem = Problem::AbsurdBlockLength {
                block_type,
                block_len,
            };
            return Ok(Step::Abandoned { offset, problem });
        }
        if input.ends_within(u64::from(block_len)) {
            return Ok(Step::Truncated { offset });
        }
        // A real block may hold bytes that read as packet blocks, so one that
        // can be checked whole is not searched.
        let len = block_len as usize;
        if len <= input.max_len() && input.fill(len)? {
            let trailing = self.order.u32_at(input.available(), len - 4);
            if trailing == block_len {
                input.consume(len);
                return Ok(Step::SkippedBlock);
            }
        }
        Ok(Step::LargeBlock {
            offset,
            block_type,
            block_len,
        })
    }

    /// Interprets one complete block. `base` is the buffer index of its first byte.
    fn read_block(&mut self, block_type: u32, block: &[u8], offset: u64, base: usize) -> Step {
        match block_type {
            SHB_MAGIC => self.read_section_header(block, offset),
            IDB_MAGIC => self.read_interface(block, offset),
            EPB_MAGIC => self.read_packet(PacketBlock::Enhanced, block, offset, base),
            OPB_TYPE => self.read_packet(PacketBlock::Obsolete, block, offset, base),
            SPB_MAGIC => self.read_simple_packet(block, offset, base),
            _ => Step::SkippedBlock,
        }
    }

    fn read_section_header(&mut self, block: &[u8], offset: u64) -> Step {
        let header = match parse_sectionheaderblock(block) {
            Ok((_, header)) => header,
            Err(error) => {
                let detail = describe_parse_error(&error);
                let problem = Problem::InvalidSectionHeader { detail };
                return Step::Corrupt { offset, problem };
            }
        };
        if header.major_version != SUPPORTED_MAJOR {
            let problem = Problem::UnsupportedSectionVersion {
                major: header.major_version,
                minor: header.minor_version,
            };
            return Step::Corrupt { offset, problem };
        }
        if let Err(detail) = check_options(block, SECTION_OPTIONS_OFFSET, self.order) {
            let problem = Problem::InvalidSectionHeader { detail };
            return Step::Corrupt { offset, problem };
        }

        self.interfaces.clear();
        Step::Block
    }

    fn read_interface(&mut self, block: &[u8], offset: u64) -> Step {
        if self.interfaces.len() >= MAX_INTERFACES {
            let problem = Problem::TooManyInterfaces;
            return Step::Ignored { offset, problem };
        }

        let parsed = match self.order {
            ByteOrder::Little => parse_interfacedescriptionblock_le(block),
            ByteOrder::Big => parse_interfacedescriptionblock_be(block),
        };
        let checked = match parsed {
            Ok((_, idb)) => {
                check_options(block, INTERFACE_OPTIONS_OFFSET, self.order).map(|()| idb)
            }
            Err(error) => Err(describe_parse_error(&error)),
        };
        let problem = match checked {
            Ok(idb) => match Interface::from_block(&idb, self.order) {
                Some(interface) => {
                    self.interfaces.push(interface);
                    return Step::Block;
                }
                None => Problem::UnusableTimeResolution {
                    interface: self.interfaces.len() as u32,
                    tsresol: idb.if_tsresol,
                },
            },
            Err(detail) => Problem::InvalidInterfaceBlock { detail },
        };
        self.interfaces.push(Interface::INVALID);
        Step::Ignored { offset, problem }
    }

    /// Reads an enhanced or an obsolete packet block. Both have the interface, time,
    /// captured length and original length at the same offsets. The obsolete block has a
    /// 16-bit interface number followed by a 16-bit drop count.
    fn read_packet(&mut self, kind: PacketBlock, block: &[u8], offset: u64, base: usize) -> Step {
        let block_len = block.len() as u32;
        if block_len < PACKET_BLOCK_OVERHEAD {
            let problem = Problem::BlockTooShort {
                block_type: if kind == PacketBlock::Enhanced {
                    EPB_MAGIC
                } else {
                    OPB_TYPE
                },
                block_len,
                min: PACKET_BLOCK_OVERHEAD,
            };
            return Step::Malformed { offset, problem };
        }

        let order = self.order;
        let interface = match kind {
            PacketBlock::Enhanced => order.u32_at(block, 8),
            PacketBlock::Obsolete => u32::from(order.u16_at(block, 8)),
        };
        let ticks = u64::from(order.u32_at(block, 12)) << 32 | u64::from(order.u32_at(block, 16));
        let caplen = order.u32_at(block, 20);
        let orig_len = order.u32_at(block, 24);

        let room = block_len - PACKET_BLOCK_OVERHEAD;
        if caplen > room {
            let problem = Problem::CaplenBeyondBlock { caplen, room };
            return Step::Malformed { offset, problem };
        }
        let interface = match self.interface(interface) {
            Ok(interface) => interface,
            Err(problem) => return Step::Malformed { offset, problem },
        };
        if caplen_is_absurd(caplen, interface.snaplen) {
            let snaplen = interface.snaplen;
            let problem = Problem::AbsurdCaplen { caplen, snaplen };
            return Step::Malformed { offset, problem };
        }

        let (ts, clamped_time) = interface.clock.checked_timestamp(ticks);
        self.last_ts = ts;
        let data_start = base + PACKET_DATA_OFFSET;
        Step::Packet(PacketMeta {
            ts,
            linktype: interface.linktype,
            data: data_start..data_start + caplen as usize,
            // The captured bytes are real even when the block claims a shorter packet.
            orig_len: orig_len.max(caplen),
            trusted_time: orig_len >= caplen,
            clamped_time,
            subsecond_overflow: None,
        })
    }

    /// Reads a simple packet block: a packet of interface 0 with its original length and
    /// no time. It gets the time of the packet before it, or the epoch when it is first.
    fn read_simple_packet(&mut self, block: &[u8], offset: u64, base: usize) -> Step {
        let block_len = block.len() as u32;
        let min = SIMPLE_PACKET_DATA_OFFSET as u32 + 4;
        if block_len < min {
            let problem = Problem::BlockTooShort {
                block_type: SPB_MAGIC,
                block_len,
                min,
            };
            return Step::Malformed { offset, problem };
        }

        let interface = match self.interface(0) {
            Ok(interface) => interface,
            Err(problem) => return Step::Malformed { offset, problem },
        };
        let orig_len = self.order.u32_at(block, 8);
        // The data area is padded to 4 bytes and the block has no captured length, so the
        // captured length is the original length cut to the data area and the snapshot length.
        let mut caplen = orig_len.min(block_len - min);
        if interface.snaplen != 0 {
            caplen = caplen.min(interface.snaplen);
        }
        if caplen_is_absurd(caplen, interface.snaplen) {
            let snaplen = interface.snaplen;
            let problem = Problem::AbsurdCaplen { caplen, snaplen };
            return Step::Malformed { offset, problem };
        }

        let data_start = base + SIMPLE_PACKET_DATA_OFFSET;
        Step::Packet(PacketMeta {
            ts: self.last_ts,
            linktype: interface.linktype,
            data: data_start..data_start + caplen as usize,
            orig_len,
            // The block has no time, so it gets the previous packet's or the epoch.
            trusted_time: false,
            // The time of the packet before, which was counted then.
            clamped_time: false,
            subsecond_overflow: None,
        })
    }

    fn interface(&self, index: u32) -> Result<Interface, Problem> {
        match self.interfaces.get(index as usize) {
            Some(interface) if interface.valid => Ok(*interface),
            Some(_) => Err(Problem::InvalidInterface { interface: index }),
            None => Err(Problem::UnknownInterface {
                interface: index,
                described: self.interfaces.len(),
            }),
        }
    }
}

/// Returns the interface of the enhanced or obsolete packet block that starts
/// `head`, or `None` if no such block starts there.
fn packet_interface(order: ByteOrder, head: &[u8]) -> Option<u32> {
    let fixed = head.get(..PACKET_DATA_OFFSET)?;
    match order.u32_at(fixed, 0) {
        EPB_MAGIC => Some(order.u32_at(fixed, 8)),
        OPB_TYPE => Some(u32::from(order.u16_at(fixed, 8))),
        _ => None,
    }
}

/// Returns the byte order a section header's byte-order magic, read as little-endian, implies.
pub(super) fn section_byte_order(magic: u32) -> Option<ByteOrder> {
    if magic == BYTE_ORDER_MAGIC {
        Some(ByteOrder::Little)
    } else if magic == BYTE_ORDER_MAGIC.swap_bytes() {
        Some(ByteOrder::Big)
    } else {
        None
    }
}

/// Checks that the options of a block, from `start` to the trailing length, each fit in
/// the block.
///
/// pcap-parser 0.17 stops at the first option that overruns and keeps the block, but a
/// length that overruns means the block is corrupt, and Wireshark rejects such blocks too.
fn check_options(block: &[u8], start: usize, order: ByteOrder) -> Result<(), String> {
    let end = block.len().saturating_sub(4);
    let mut rest = block.get(start..end).unwrap_or_default();
    while rest.len() >= 4 {
        let code = order.u16_at(rest, 0);
        let len = order.u16_at(rest, 2);
        if code == 0 {
            // opt_endofopt: anything after it is padding.
            return Ok(());
        }
        let padded = (usize::from(len) + 3) & !3;
        let Some(next) = rest.get(4 + padded..) else {
            return Err(format!(
                "option {code} of length {len} overruns the block, which has {} bytes \
                 left for it",
                rest.len() - 4
            ));
        };
        rest = next;
    }
    Ok(())
}

/// Returns true for the block types the reader parses, which must fit in its buffer.
fn is_kept_in_memory(block_type: u32) -> bool {
    matches!(
        block_type,
        SHB_MAGIC | IDB_MAGIC | EPB_MAGIC | OPB_TYPE | SPB_MAGIC
    )
}
