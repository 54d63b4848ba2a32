//! Packet sources: where packets enter the wirespy pipeline.
//!
//! The pipeline is capture → decode (`wsd-decode`) → flow tracking (`wsd-flow`) →
//! formatting (`wsd-logfmt`). This crate provides the first step: a [`PacketSource`]
//! trait and [`FileSource`], a pure-Rust reader of classic pcap and pcapng files.

mod source;
mod timestamp;

pub use source::{Packet, PacketSource};
pub use timestamp::Timestamp;
