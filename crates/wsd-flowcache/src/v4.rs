//! Version 4 of the record encoding: version 3 with, for a datagram that is a
//! TCP segment, the sequence number that places its later fragments in the
//! stream. The header, the flows and the waiting fragments are those of
//! version 3. Once released, these types never change.

use serde::{Deserialize, Serialize};
use wsd_flow::DatagramSnapshot;

use crate::v1::Ip;
use crate::v3;

/// The flow a datagram's later fragments count into.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FragmentFlow {
    pub serial: u64,
    pub from_a: bool,
    /// Offset in the datagram's payload where the transport header ends when it
    /// runs past the first fragment, else 0.
    pub header_end: u32,
    /// For a TCP segment, the sequence number that offset 0 of the datagram's
    /// payload would have.
    pub stream_base: Option<u32>,
}

/// A datagram of the IP fragment table.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Datagram {
    /// Nanoseconds since the epoch.
    pub created: i64,
    pub src: Ip,
    pub dst: Ip,
    pub id: u32,
    pub protocol: u8,
    pub first_seen: bool,
    pub flow: Option<FragmentFlow>,
    pub waiting: Vec<v3::Waiting>,
    pub tiny_first: Option<v3::TinyFirst>,
    pub received: u32,
    pub total: Option<u32>,
}

impl From<&DatagramSnapshot> for Datagram {
    fn from(datagram: &DatagramSnapshot) -> Datagram {
        let stream_base = datagram.flow.and_then(|flow| flow.stream_base);
        let older = v3::Datagram::from(datagram);
        Datagram {
            created: older.created,
            src: older.src,
            dst: older.dst,
            id: older.id,
            protocol: older.protocol,
            first_seen: older.first_seen,
            flow: older.flow.map(|flow| FragmentFlow {
                serial: flow.serial,
                from_a: flow.from_a,
                header_end: flow.header_end,
                stream_base,
            }),
            waiting: older.waiting,
            tiny_first: older.tiny_first,
            received: older.received,
            total: older.total,
        }
    }
}

impl Datagram {
    /// Converts to the tracker's snapshot, or names the field that is invalid.
    pub fn into_snapshot(self) -> Result<DatagramSnapshot, String> {
        let stream_base = self.flow.as_ref().and_then(|flow| flow.stream_base);
        let older = v3::Datagram {
            created: self.created,
            src: self.src,
            dst: self.dst,
            id: self.id,
            protocol: self.protocol,
            first_seen: self.first_seen,
            flow: self.flow.map(|flow| v3::FragmentFlow {
                serial: flow.serial,
                from_a: flow.from_a,
                header_end: flow.header_end,
            }),
            waiting: self.waiting,
            tiny_first: self.tiny_first,
            received: self.received,
            total: self.total,
        };
        let mut snapshot = older.to_snapshot()?;
        if let Some(flow) = snapshot.flow.as_mut() {
            flow.stream_base = stream_base;
        }
        Ok(snapshot)
    }
}
