//! Community ID version 1: a flow hash that other monitors (Zeek, Suricata,
//! Arkime, Wireshark) compute the same way, so that records can be joined on it.
//!
//! The definition is the Community ID Flow Hashing specification (repository
//! `corelight/community-id-spec`). The ID is the SHA-1 digest of the seed (u16,
//! network order), the two addresses, the IP protocol, a zero byte and the two
//! ports (network order). The endpoints are ordered so that the smaller address,
//! or on equal addresses the smaller port, comes first. The text is `1:` followed by the
//! digest in base64. Protocols without ports hash no port bytes. ICMP and ICMPv6
//! hash the type and its counterpart type as ports (see [`icmp_ports`]).

use std::net::IpAddr;

use wsd_flow::FlowRecord;

use crate::sha1::{digest_base64, sha1_padded_block, BLOCK_LEN, DIGEST_BASE64_LEN};

/// Length of a version 1 Community ID text: `1:` and 28 base64 characters.
pub const COMMUNITY_ID_LEN: usize = 2 + DIGEST_BASE64_LEN;

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// A version 1 Community ID, such as `1:LQU9qZlK+B5F3KDmev6m5PMibrg=`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommunityId([u8; COMMUNITY_ID_LEN]);

impl CommunityId {
    /// Returns the ID's text.
    pub fn as_str(&self) -> &str {
        // The text is `1:` and base64 characters, which are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Returns the ID's text as bytes.
    pub fn as_bytes(&self) -> &[u8; COMMUNITY_ID_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport part of a flow's tuple, as the Community ID hashes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommunityTransport {
    /// TCP, UDP, SCTP or another protocol with ports: source and destination port.
    Ports(u16, u16),
    /// ICMP (protocol 1) or ICMPv6 (protocol 58): the type and code of the
    /// message the source sent.
    Icmp {
        /// ICMP message type.
        icmp_type: u8,
        /// ICMP message code.
        code: u8,
    },
    /// A protocol without ports: only addresses and protocol are hashed.
    None,
}

/// Computes the version 1 Community ID of a flow from `src` to `dst` with IP
/// protocol `protocol`.
///
/// The result is the same for both directions, except for ICMP messages without
/// a counterpart type (errors such as destination unreachable), which the
/// specification hashes in the direction they were sent.
pub fn community_id(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    transport: CommunityTransport,
) -> CommunityId {
    let (ports, one_way) = match transport {
        CommunityTransport::Ports(src_port, dst_port) => (Some((src_port, dst_port)), false),
        CommunityTransport::Icmp { icmp_type, code } => {
            let (src_port, dst_port, one_way) = icmp_ports(protocol, icmp_type, code);
            (Some((src_port, dst_port)), one_way)
        }
        CommunityTransport::None => (None, false),
    };
    hash_tuple(seed, src, dst, protocol, ports, one_way)
}

/// Returns the port numbers that stand in for an ICMP message of `icmp_type` and
/// `code` in the Community ID, and whether the message is one-way.
///
/// A request or reply type maps to (its type, its counterpart's type), so that
/// an echo request and its echo reply hash alike. Any other type maps to (type,
/// code) and is one-way. `protocol` selects the ICMPv4 (1) or ICMPv6 (58) table;
/// other protocols use the ICMPv4 table. The tables are those of pycommunityid,
/// the implementation that the specification recommends, which follow Zeek's ICMP
/// analyzer. Unlike the specification's smaller script, they pair a router
/// advertisement with a router solicitation both ways.
pub fn icmp_ports(protocol: u8, icmp_type: u8, code: u8) -> (u16, u16, bool) {
    let counterpart = if protocol == ICMPV6 {
        icmpv6_counterpart(icmp_type)
    } else {
        icmpv4_counterpart(icmp_type)
    };
    match counterpart {
        Some(other) => (u16::from(icmp_type), u16::from(other), false),
        None => (u16::from(icmp_type), u16::from(code), true),
    }
}

fn icmpv4_counterpart(icmp_type: u8) -> Option<u8> {
    match icmp_type {
        8 => Some(0),   // echo request -> echo reply
        0 => Some(8),   // echo reply -> echo request
        13 => Some(14), // timestamp -> timestamp reply
        14 => Some(13),
        15 => Some(16), // information request -> information reply
        16 => Some(15),
        10 => Some(9), // router solicitation -> router advertisement
        9 => Some(10),
        17 => Some(18), // address mask request -> address mask reply
        18 => Some(17),
        _ => None,
    }
}

fn icmpv6_counterpart(icmp_type: u8) -> Option<u8> {
    match icmp_type {
        128 => Some(129), // echo request -> echo reply
        129 => Some(128),
        133 => Some(134), // router solicitation -> router advertisement
        134 => Some(133),
        135 => Some(136), // neighbor solicitation -> neighbor advertisement
        136 => Some(135),
        130 => Some(131), // multicast listener query -> report
        131 => Some(130),
        139 => Some(140), // node information query -> response
        140 => Some(139),
        144 => Some(145), // home agent address discovery request -> reply
        145 => Some(144),
        _ => None,
    }
}

/// Computes the Community ID of a flow record, from client to server.
pub fn flow_community_id(seed: u16, record: &FlowRecord) -> CommunityId {
    let transport = match record.icmp {
        Some(icmp) if is_icmp(record.protocol) => CommunityTransport::Icmp {
            icmp_type: icmp.icmp_type,
            code: icmp.code,
        },
        _ if has_ports(record.protocol) => {
            CommunityTransport::Ports(record.client.port, record.server.port)
        }
        // NOTE: an ICMP record without its message type hashes like a protocol
        // without ports, which matches no other monitor's ID.
        _ => CommunityTransport::None,
    };
    community_id(
        seed,
        record.client.ip,
        record.server.ip,
        record.protocol,
        transport,
    )
}

/// Returns true for the protocols whose ports the Community ID hashes.
fn has_ports(protocol: u8) -> bool {
    matches!(protocol, TCP | UDP | SCTP)
}

/// Returns true for ICMP and ICMPv6.
fn is_icmp(protocol: u8) -> bool {
    matches!(protocol, ICMP | ICMPV6)
}

/// Hashes the tuple, ordering the endpoints unless the message is one-way.
fn hash_tuple(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ports: Option<(u16, u16)>,
    one_way: bool,
) -> CommunityId {
    let (src_port, dst_port) = ports.unwrap_or((0, 0));

    // The message, at most 2 + 16 + 16 + 2 + 4 = 40 bytes, is built in place
    // in the one SHA-1 block that it fits with its padding. Addresses compare
    // as big-endian numbers, which is the order of their bytes.
    let mut block = [0u8; BLOCK_LEN];
    block[..2].copy_from_slice(&seed.to_be_bytes());
    let (addresses_end, swap) = match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let swap = !one_way && (u32::from(dst), dst_port) < (u32::from(src), src_port);
            let (first, second) = if swap { (dst, src) } else { (src, dst) };
            block[2..6].copy_from_slice(&first.octets());
            block[6..10].copy_from_slice(&second.octets());
            (10, swap)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let swap = !one_way && (u128::from(dst), dst_port) < (u128::from(src), src_port);
            let (first, second) = if swap { (dst, src) } else { (src, dst) };
            block[2..18].copy_from_slice(&first.octets());
            block[18..34].copy_from_slice(&second.octets());
            (34, swap)
        }
        _ => write_mixed_addresses(&mut block, src, dst, src_port, dst_port, one_way),
    };

    // The protocol and a zero byte, which the block already holds.
    block[addresses_end] = protocol;
    let mut len = addresses_end + 2;
    if ports.is_some() {
        let (first_port, second_port) = if swap {
            (dst_port, src_port)
        } else {
            (src_port, dst_port)
        };
        block[len..len + 2].copy_from_slice(&first_port.to_be_bytes());
        block[len + 2..len + 4].copy_from_slice(&second_port.to_be_bytes());
        len += 4;
    }

    let mut text = [0u8; COMMUNITY_ID_LEN];
    text[..2].copy_from_slice(b"1:");
    text[2..].copy_from_slice(&digest_base64(&sha1_padded_block(&mut block, len)));
    CommunityId(text)
}

/// Writes an IPv4 and an IPv6 address after the seed in `block`, ordered
/// unless `one_way` is set, and returns the end of the addresses and whether
/// they were swapped. Flow records never mix versions, but the public
/// [`community_id`] accepts any pair.
fn write_mixed_addresses(
    block: &mut [u8; BLOCK_LEN],
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    one_way: bool,
) -> (usize, bool) {
    let mut src_octets = [0u8; 16];
    let mut dst_octets = [0u8; 16];
    let src_len = write_octets(&mut src_octets, src);
    let dst_len = write_octets(&mut dst_octets, dst);
    let src_addr = &src_octets[..src_len];
    let dst_addr = &dst_octets[..dst_len];

    let swap = !one_way && (dst_addr, dst_port) < (src_addr, src_port);
    let (first, second) = if swap {
        (dst_addr, src_addr)
    } else {
        (src_addr, dst_addr)
    };
    let middle = 2 + first.len();
    let end = middle + second.len();
    block[2..middle].copy_from_slice(first);
    block[middle..end].copy_from_slice(second);
    (end, swap)
}

/// Writes the address's network-order bytes and returns how many.
fn write_octets(dst: &mut [u8; 16], ip: IpAddr) -> usize {
    match ip {
        IpAddr::V4(v4) => {
            dst[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            dst.copy_from_slice(&v6.octets());
            16
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line of the specification's baseline: protocol, source, destination,
    /// the two port numbers as hashed (for ICMP the type and its counterpart or
    /// code), and the expected ID.
    type Vector = (
        u8,
        &'static str,
        &'static str,
        Option<(u16, u16)>,
        &'static str,
    );

    /// `baseline/baseline_deflt.json` (seed 0) of the repository
    /// `corelight/community-id-spec`, computed by its reference script from its
    /// sample captures.
    const BASELINE_SEED_0: [Vector; 23] = [
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            Some((135, 136)),
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            Some((136, 135)),
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            Some((135, 136)),
            "1:zavyT/cezQr1fmImYCwYnMXbgck=",
        ),
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            Some((136, 135)),
            "1:zavyT/cezQr1fmImYCwYnMXbgck=",
        ),
        (
            58,
            "3ffe:501:1800:2345::2",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            Some((3, 0)),
            "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=",
        ),
        (
            58,
            "3ffe:501:410:0:2c0:dfff:fe47:33e",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            Some((1, 4)),
            "1:hLZd0XGWojozrvxqE0dWB1iM6R0=",
        ),
        (
            58,
            "3ffe:507:0:1:200:86ff:fe05:80da",
            "3ffe:501:0:1001::2",
            Some((128, 129)),
            "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
        ),
        (
            58,
            "3ffe:501:0:1001::2",
            "3ffe:507:0:1:200:86ff:fe05:80da",
            Some((129, 128)),
            "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
        ),
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "ff02::2",
            Some((133, 134)),
            "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "ff02::1",
            Some((134, 133)),
            "1:pkvHqCL88/tg1k4cPigmZXUtL00=",
        ),
        (
            1,
            "192.168.0.89",
            "192.168.0.1",
            Some((8, 0)),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
        ),
        (
            1,
            "192.168.0.1",
            "192.168.0.89",
            Some((0, 8)),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
        ),
        (
            1,
            "10.0.0.1",
            "10.0.0.2",
            Some((11, 0)),
            "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
        ),
        (
            6,
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            "2607:f8b0:400c:c03::1a",
            Some((63943, 25)),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            6,
            "2607:f8b0:400c:c03::1a",
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            Some((25, 63943)),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            132,
            "192.168.170.8",
            "192.168.170.56",
            Some((7, 7)),
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
        ),
        (
            132,
            "192.168.170.56",
            "192.168.170.8",
            Some((7, 7)),
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
        ),
        (
            6,
            "128.232.110.120",
            "66.35.250.204",
            Some((34855, 80)),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            6,
            "66.35.250.204",
            "128.232.110.120",
            Some((80, 34855)),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            17,
            "192.168.1.52",
            "8.8.8.8",
            Some((54585, 53)),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            17,
            "8.8.8.8",
            "192.168.1.52",
            Some((53, 54585)),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            46,
            "10.1.12.1",
            "10.1.12.2",
            None,
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
        ),
        (
            46,
            "10.1.12.2",
            "10.1.12.1",
            None,
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
        ),
    ];

    /// `baseline/baseline_seed1.json` (seed 1) of the same repository, for the
    /// same flows.
    const BASELINE_SEED_1: [&str; 23] = [
        "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
        "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
        "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=",
        "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=",
        "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=",
        "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=",
        "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=",
        "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=",
        "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=",
        "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=",
        "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
        "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
        "1:XjUibYHaafLQ3pxQeiMI8g25q20=",
        "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
        "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
        "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=",
        "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=",
        "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        "1:rYir8gphR31noO9iDRQmF/BteEI=",
        "1:rYir8gphR31noO9iDRQmF/BteEI=",
    ];

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid test address")
    }

    /// Rebuilds the message the baseline line was computed from. For ICMP the
    /// baseline lists the hashed ports: (type, counterpart type) for a request or
    /// reply, (type, code) for a one-way message.
    fn transport(protocol: u8, ports: Option<(u16, u16)>) -> CommunityTransport {
        match ports {
            None => CommunityTransport::None,
            Some((first, second)) if is_icmp(protocol) => {
                let icmp_type = u8::try_from(first).expect("ICMP type fits a byte");
                let (_, _, one_way) = icmp_ports(protocol, icmp_type, 0);
                let code = if one_way {
                    u8::try_from(second).expect("ICMP code fits a byte")
                } else {
                    0
                };
                CommunityTransport::Icmp { icmp_type, code }
            }
            Some((src_port, dst_port)) => CommunityTransport::Ports(src_port, dst_port),
        }
    }

    #[test]
    fn baseline_seed_0() {
        for (protocol, src, dst, ports, expected) in BASELINE_SEED_0 {
            let id = community_id(0, ip(src), ip(dst), protocol, transport(protocol, ports));
            assert_eq!(id.as_str(), expected, "{protocol} {src} {dst} {ports:?}");
        }
    }

    #[test]
    fn baseline_seed_1() {
        for ((protocol, src, dst, ports, _), expected) in
            BASELINE_SEED_0.into_iter().zip(BASELINE_SEED_1)
        {
            let id = community_id(1, ip(src), ip(dst), protocol, transport(protocol, ports));
            assert_eq!(id.as_str(), expected, "{protocol} {src} {dst} {ports:?}");
        }
    }

    #[test]
    fn icmp_request_and_reply_map_to_same_ports() {
        assert_eq!(icmp_ports(1, 8, 0), (8, 0, false));
        assert_eq!(icmp_ports(1, 0, 0), (0, 8, false));
        assert_eq!(icmp_ports(58, 128, 0), (128, 129, false));
        assert_eq!(icmp_ports(58, 144, 0), (144, 145, false));
        assert_eq!(icmp_ports(1, 10, 0), (10, 9, false));
        assert_eq!(icmp_ports(1, 9, 0), (9, 10, false));
    }

    #[test]
    fn icmp_one_way_maps_code() {
        assert_eq!(icmp_ports(1, 3, 13), (3, 13, true));
        assert_eq!(icmp_ports(1, 11, 0), (11, 0, true));
        assert_eq!(icmp_ports(58, 1, 4), (1, 4, true));
    }

    /// A router advertisement and the solicitation it replies to share an ID. The
    /// value is the SHA-1 of the specification's byte layout, computed apart
    /// with Python's hashlib: seed 0, 192.0.2.1, 192.0.2.10, protocol 1, a zero
    /// byte, and the ports 9 and 10.
    #[test]
    fn router_advertisement_pairs_with_solicitation() {
        let advertisement = CommunityTransport::Icmp {
            icmp_type: 9,
            code: 0,
        };
        let solicitation = CommunityTransport::Icmp {
            icmp_type: 10,
            code: 0,
        };
        let router = ip("192.0.2.1");
        let host = ip("192.0.2.10");

        let advertised = community_id(0, router, host, 1, advertisement);
        let solicited = community_id(0, host, router, 1, solicitation);

        assert_eq!(advertised.as_str(), "1:fH/ziIc8jMmjCmEgRC+dKA87iaE=");
        assert_eq!(solicited.as_str(), "1:fH/ziIc8jMmjCmEgRC+dKA87iaE=");
    }

    /// A one-way message keeps its direction, so the two directions differ.
    #[test]
    fn icmp_one_way_not_reordered() {
        let unreachable = CommunityTransport::Icmp {
            icmp_type: 3,
            code: 1,
        };
        let forward = community_id(0, ip("10.0.0.2"), ip("10.0.0.1"), 1, unreachable);
        let backward = community_id(0, ip("10.0.0.1"), ip("10.0.0.2"), 1, unreachable);
        assert_ne!(forward, backward);
    }

    /// The example of the specification: both directions order into
    /// 10.0.0.1, 127.0.0.1, 1234, 80.
    #[test]
    fn equal_for_both_directions() {
        let forward = community_id(
            0,
            ip("10.0.0.1"),
            ip("127.0.0.1"),
            6,
            CommunityTransport::Ports(1234, 80),
        );
        let backward = community_id(
            0,
            ip("127.0.0.1"),
            ip("10.0.0.1"),
            6,
            CommunityTransport::Ports(80, 1234),
        );
        assert_eq!(forward, backward);
    }

    /// On equal addresses the ports decide the order.
    #[test]
    fn equal_addresses_ordered_by_port() {
        let forward = community_id(
            0,
            ip("10.0.0.1"),
            ip("10.0.0.1"),
            17,
            CommunityTransport::Ports(5000, 53),
        );
        let backward = community_id(
            0,
            ip("10.0.0.1"),
            ip("10.0.0.1"),
            17,
            CommunityTransport::Ports(53, 5000),
        );
        assert_eq!(forward, backward);
    }

    /// An IPv4 and an IPv6 address hash as their 4 and 16 bytes, the shorter
    /// IPv4 bytes first when they compare lower.
    #[test]
    fn mixed_versions_match_plain_message() {
        let v4 = ip("10.0.0.1");
        let v6 = ip("2001:db8::1");
        let mut message = vec![0, 7];
        message.extend_from_slice(&[10, 0, 0, 1]);
        message.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .expect("valid")
                .octets(),
        );
        message.extend_from_slice(&[17, 0, 0x13, 0x88, 0, 53]);
        let mut expected = b"1:".to_vec();
        expected.extend_from_slice(&digest_base64(&crate::sha1::sha1(&message)));

        let forward = community_id(7, v4, v6, 17, CommunityTransport::Ports(5000, 53));
        let backward = community_id(7, v6, v4, 17, CommunityTransport::Ports(53, 5000));
        assert_eq!(forward.as_bytes().as_slice(), expected.as_slice());
        assert_eq!(backward.as_bytes().as_slice(), expected.as_slice());
    }

    #[test]
    fn text_form() {
        let id = community_id(
            0,
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            6,
            CommunityTransport::Ports(1, 2),
        );
        assert_eq!(id.as_str().len(), COMMUNITY_ID_LEN);
        assert!(id.as_str().starts_with("1:"));
        assert!(id.as_str().ends_with('='));
        assert_eq!(id.to_string(), id.as_str());
    }
}
