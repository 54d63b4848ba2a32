//! Flow states, protocol names and the filters of the command line.

use std::net::IpAddr;

use serde::Serialize;
use wsd_flow::{CloseState, FlowSnapshot};

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// The state of a cached flow, as printed and filtered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowState {
    /// Not closed yet; always the state of UDP and other flows.
    Open,
    /// Closed by FINs from both sides, lingering for late packets.
    Fin,
    /// Closed by a RST, lingering for late packets.
    Rst,
}

impl FlowState {
    /// Every state, in the order summaries list them.
    pub const ALL: [FlowState; 3] = [FlowState::Open, FlowState::Fin, FlowState::Rst];

    /// Returns the state of `flow`.
    pub fn of(flow: &FlowSnapshot) -> FlowState {
        match flow.closed {
            CloseState::Open => FlowState::Open,
            CloseState::Fin => FlowState::Fin,
            CloseState::Rst => FlowState::Rst,
        }
    }

    /// Returns the name used in text, JSON and the `--state` option.
    pub const fn name(self) -> &'static str {
        match self {
            FlowState::Open => "open",
            FlowState::Fin => "fin",
            FlowState::Rst => "rst",
        }
    }
}

/// Returns the lower-case name of IP protocol `protocol`, or its number in
/// decimal for protocols without a name here.
pub fn protocol_name(protocol: u8) -> String {
    match protocol {
        TCP => "tcp".to_string(),
        UDP => "udp".to_string(),
        ICMP => "icmp".to_string(),
        ICMPV6 => "icmpv6".to_string(),
        SCTP => "sctp".to_string(),
        other => other.to_string(),
    }
}

/// Returns true if flows of IP protocol `protocol` have ports.
pub fn has_ports(protocol: u8) -> bool {
    matches!(protocol, TCP | UDP | SCTP)
}

/// The value of `--protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolFilter {
    /// ICMP and ICMPv6, which share the `ICMPFLOW` keyword.
    Icmp,
    /// One IP protocol number.
    Number(u8),
}

impl ProtocolFilter {
    /// Parses `tcp`, `udp`, `sctp`, `icmp` (any case) or a protocol number from 0
    /// to 255.
    pub fn parse(text: &str) -> Result<ProtocolFilter, String> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(ProtocolFilter::Number(TCP)),
            "udp" => Ok(ProtocolFilter::Number(UDP)),
            "sctp" => Ok(ProtocolFilter::Number(SCTP)),
            "icmp" => Ok(ProtocolFilter::Icmp),
            number => number.parse().map(ProtocolFilter::Number).map_err(|_| {
                format!(
                    "expected tcp, udp, sctp, icmp or a protocol number from 0 to 255, not {text:?}"
                )
            }),
        }
    }

    fn matches(self, protocol: u8) -> bool {
        match self {
            ProtocolFilter::Icmp => protocol == ICMP || protocol == ICMPV6,
            ProtocolFilter::Number(number) => protocol == number,
        }
    }
}

/// Conditions that a flow must all meet to be listed or summarized. An unset
/// condition accepts every flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowFilter {
    /// IP address of either side.
    pub host: Option<IpAddr>,
    /// Port of either side.
    pub port: Option<u16>,
    /// State of the flow.
    pub state: Option<FlowState>,
    /// IP protocol.
    pub protocol: Option<ProtocolFilter>,
}

impl FlowFilter {
    /// Returns true if no condition is set.
    pub fn is_empty(&self) -> bool {
        self.host.is_none()
            && self.port.is_none()
            && self.state.is_none()
            && self.protocol.is_none()
    }

    /// Returns true if `flow` meets every condition.
    pub fn matches(&self, flow: &FlowSnapshot) -> bool {
        let (client, server) = (&flow.client, &flow.server);
        if let Some(host) = self.host {
            if client.ip != host && server.ip != host {
                return false;
            }
        }
        // A flow of a protocol without ports has port 0, as in the help,
        // although an ICMP echo flow keeps its identifier in its ports.
        if let Some(port) = self.port {
            let ports = if has_ports(flow.protocol) {
                (client.port, server.port)
            } else {
                (0, 0)
            };
            if ports.0 != port && ports.1 != port {
                return false;
            }
        }
        if let Some(state) = self.state {
            if FlowState::of(flow) != state {
                return false;
            }
        }
        if let Some(protocol) = self.protocol {
            if !protocol.matches(flow.protocol) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_and_numbers() {
        assert_eq!(ProtocolFilter::parse("tcp"), Ok(ProtocolFilter::Number(6)));
        assert_eq!(ProtocolFilter::parse("UDP"), Ok(ProtocolFilter::Number(17)));
        assert_eq!(ProtocolFilter::parse("icmp"), Ok(ProtocolFilter::Icmp));
        assert_eq!(
            ProtocolFilter::parse("Sctp"),
            Ok(ProtocolFilter::Number(132))
        );
        assert_eq!(ProtocolFilter::parse("47"), Ok(ProtocolFilter::Number(47)));
        assert_eq!(ProtocolFilter::parse("0"), Ok(ProtocolFilter::Number(0)));
    }

    #[test]
    fn protocol_out_of_range_rejected() {
        for text in ["256", "-1", "", "esp", "6.0"] {
            let error = ProtocolFilter::parse(text).expect_err(text);
            assert!(error.contains("protocol number"), "{text}: {error}");
        }
    }

    #[test]
    fn icmp_covers_both_versions() {
        assert!(ProtocolFilter::Icmp.matches(1));
        assert!(ProtocolFilter::Icmp.matches(58));
        assert!(!ProtocolFilter::Icmp.matches(6));
        assert!(!ProtocolFilter::Number(1).matches(58));
    }

    #[test]
    fn names_of_protocols() {
        assert_eq!(protocol_name(6), "tcp");
        assert_eq!(protocol_name(58), "icmpv6");
        assert_eq!(protocol_name(132), "sctp");
        assert_eq!(protocol_name(47), "47");
    }

    #[test]
    fn ports_of_protocols() {
        for protocol in [6, 17, 132] {
            assert!(has_ports(protocol), "{protocol}");
        }
        for protocol in [1, 47, 58] {
            assert!(!has_ports(protocol), "{protocol}");
        }
    }
}
