//! Builders of classic pcap and pcapng bytes for the unit tests.
//!
//! Unlike [`PcapWriter`](crate::PcapWriter), they write either byte order and any field
//! value, including inconsistent ones.

/// A classic pcap record. `caplen` is written as given, even when it differs from the
/// length of `data`.
pub(crate) struct PcapRecord {
    pub secs: u32,
    pub fraction: u32,
    pub caplen: u32,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

fn put_u16(out: &mut Vec<u8>, big_endian: bool, value: u16) {
    if big_endian {
        out.extend_from_slice(&value.to_be_bytes());
    } else {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn put_u32(out: &mut Vec<u8>, big_endian: bool, value: u32) {
    if big_endian {
        out.extend_from_slice(&value.to_be_bytes());
    } else {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn put_u64(out: &mut Vec<u8>, big_endian: bool, value: u64) {
    if big_endian {
        out.extend_from_slice(&value.to_be_bytes());
    } else {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn pad_to_4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// Builds a classic pcap file.
pub(crate) fn pcap_file(
    big_endian: bool,
    nanosecond: bool,
    linktype: u32,
    snaplen: u32,
    records: &[PcapRecord],
) -> Vec<u8> {
    let mut out = Vec::new();
    let magic = if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    put_u32(&mut out, big_endian, magic);
    put_u16(&mut out, big_endian, 2);
    put_u16(&mut out, big_endian, 4);
    put_u32(&mut out, big_endian, 0);
    put_u32(&mut out, big_endian, 0);
    put_u32(&mut out, big_endian, snaplen);
    put_u32(&mut out, big_endian, linktype);
    for record in records {
        put_u32(&mut out, big_endian, record.secs);
        put_u32(&mut out, big_endian, record.fraction);
        put_u32(&mut out, big_endian, record.caplen);
        put_u32(&mut out, big_endian, record.orig_len);
        out.extend_from_slice(&record.data);
    }
    out
}

/// Builds a pcapng file block by block. Each block uses the byte order of the latest
/// section header.
pub(crate) struct PcapNgBuilder {
    out: Vec<u8>,
    big_endian: bool,
}

impl PcapNgBuilder {
    /// Starts a file with a section header of the given byte order.
    pub(crate) fn new(big_endian: bool) -> PcapNgBuilder {
        PcapNgBuilder {
            out: Vec::new(),
            big_endian,
        }
        .section(big_endian)
    }

    /// Offset at which the next block will start.
    pub(crate) fn offset(&self) -> u64 {
        self.out.len() as u64
    }

    /// Appends a section header block, version 1.0, with an unknown section length.
    pub(crate) fn section(mut self, big_endian: bool) -> PcapNgBuilder {
        self.big_endian = big_endian;
        self.section_with_version(1, 0)
    }

    /// Appends a section header block with the given version.
    pub(crate) fn section_with_version(self, major: u16, minor: u16) -> PcapNgBuilder {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u32(&mut body, be, 0x1a2b_3c4d);
        put_u16(&mut body, be, major);
        put_u16(&mut body, be, minor);
        put_u64(&mut body, be, u64::MAX);
        self.block(0x0a0d_0d0a, &body)
    }

    /// Appends an interface description block with optional `if_tsresol` and `if_tsoffset`.
    pub(crate) fn interface(
        self,
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> PcapNgBuilder {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u16(&mut body, be, linktype);
        put_u16(&mut body, be, 0);
        put_u32(&mut body, be, snaplen);
        if let Some(tsresol) = tsresol {
            put_u16(&mut body, be, 9);
            put_u16(&mut body, be, 1);
            body.extend_from_slice(&[tsresol, 0, 0, 0]);
        }
        if let Some(tsoffset) = tsoffset {
            put_u16(&mut body, be, 14);
            put_u16(&mut body, be, 8);
            put_u64(&mut body, be, tsoffset as u64);
        }
        if tsresol.is_some() || tsoffset.is_some() {
            put_u16(&mut body, be, 0);
            put_u16(&mut body, be, 0);
        }
        self.block(1, &body)
    }

    /// Appends an enhanced packet block whose captured length is the length of `data`.
    pub(crate) fn enhanced(
        self,
        interface: u32,
        ticks: u64,
        data: &[u8],
        orig_len: u32,
    ) -> PcapNgBuilder {
        self.enhanced_with_caplen(interface, ticks, data.len() as u32, data, orig_len)
    }

    /// Appends an enhanced packet block with any captured length field.
    pub(crate) fn enhanced_with_caplen(
        self,
        interface: u32,
        ticks: u64,
        caplen: u32,
        data: &[u8],
        orig_len: u32,
    ) -> PcapNgBuilder {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u32(&mut body, be, interface);
        put_u32(&mut body, be, (ticks >> 32) as u32);
        put_u32(&mut body, be, ticks as u32);
        put_u32(&mut body, be, caplen);
        put_u32(&mut body, be, orig_len);
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    /// Appends an obsolete packet block (type 2) with a drop count of 0.
    pub(crate) fn obsolete(
        self,
        interface: u16,
        ticks: u64,
        data: &[u8],
        orig_len: u32,
    ) -> PcapNgBuilder {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u16(&mut body, be, interface);
        put_u16(&mut body, be, 0);
        put_u32(&mut body, be, (ticks >> 32) as u32);
        put_u32(&mut body, be, ticks as u32);
        put_u32(&mut body, be, data.len() as u32);
        put_u32(&mut body, be, orig_len);
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    /// Appends a simple packet block.
    pub(crate) fn simple(self, data: &[u8], orig_len: u32) -> PcapNgBuilder {
        let be = self.big_endian;
        let mut body = Vec::new();
        put_u32(&mut body, be, orig_len);
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// Appends a block of any type, padding `body` to 4 bytes.
    pub(crate) fn block(mut self, block_type: u32, body: &[u8]) -> PcapNgBuilder {
        let be = self.big_endian;
        let mut padded = body.to_vec();
        pad_to_4(&mut padded);
        let total = 12 + padded.len() as u32;
        put_u32(&mut self.out, be, block_type);
        put_u32(&mut self.out, be, total);
        self.out.extend_from_slice(&padded);
        put_u32(&mut self.out, be, total);
        self
    }

    pub(crate) fn build(self) -> Vec<u8> {
        self.out
    }
}
