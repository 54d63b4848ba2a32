//! Packet decoding: from captured bytes to the fields that flow tracking needs.
//!
//! The second step of the wirespy pipeline (capture → **decode** → flow → format).

mod packet;

pub use packet::{
    Decoded, IcmpInfo, IpInfo, Layer, MacAddr, StopReason, TcpFlags, TcpInfo, Transport, UdpInfo,
    Vlans,
};
