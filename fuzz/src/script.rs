//! The input format of the `tracker` target: tracker settings, a split point and a
//! sequence of timed Ethernet frames.
//!
//! 1. Settings, 1 byte. Bits 0 to 3 are `max_flows - 1`. Bit 4 set leaves VLAN IDs
//!    out of the flow key. With bit 5 set only TCP flows produce records, and
//!    otherwise every protocol does.
//! 2. Split point, 1 byte. The restored run snapshots its tracker before packet
//!    `byte % (packets + 1)`.
//! 3. Per packet, until fewer than 4 bytes remain:
//!    - the time step, 2 bytes big-endian. Bits 14 and 15 pick a unit from
//!      [`STEP_UNITS`], and bits 0 to 13 are a signed count of it.
//!    - the frame length, 2 bytes big-endian.
//!    - the Ethernet frame. A frame cut by the end of the input is kept.
//!
//! The first packet's step counts from [`SCRIPT_START`]. Steps may be negative, and
//! times saturate at both ends of the [`Timestamp`] range.

use wsd_capture::Timestamp;
use wsd_flow::{RecordProtocols, TrackerConfig};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The time from which the first packet's step counts: 1,700,000,000 s after the epoch.
pub const SCRIPT_START: Timestamp = Timestamp::from_nanos(1_700_000_000 * NANOS_PER_SEC);

/// Units of a time step in nanoseconds: a millisecond, a second, an hour and 2^50 ns
/// (about 13 days). A step of 25 or more hours passes the tracker's one-day clock-jump
/// threshold, and one step of the largest unit reaches either end of the [`Timestamp`]
/// range.
pub const STEP_UNITS: [i64; 4] = [1_000_000, NANOS_PER_SEC, 3_600 * NANOS_PER_SEC, 1 << 50];

/// Maximum count of a time step. The minimum is `-STEP_LIMIT - 1`.
const STEP_LIMIT: i64 = (1 << 13) - 1;

const SETTINGS_MAX_FLOWS: u8 = 0x0f;
const SETTINGS_NO_VLAN_KEY: u8 = 0x10;
const SETTINGS_TCP_ONLY: u8 = 0x20;

/// Every protocol produces records.
pub const ALL_PROTOCOLS: RecordProtocols = RecordProtocols {
    tcp: true,
    udp: true,
    icmp: true,
    other: true,
};

/// A parsed input of the `tracker` target.
#[derive(Clone, Debug)]
pub struct Script<'a> {
    /// Settings of both trackers.
    pub config: TrackerConfig,
    /// Index of the packet before which the restored run snapshots its tracker. It
    /// equals the number of packets when the snapshot follows the last packet.
    pub split: usize,
    /// Capture time and Ethernet frame of each packet.
    pub packets: Vec<(Timestamp, &'a [u8])>,
}

impl<'a> Script<'a> {
    /// Parses a script. Returns `None` when the input is shorter than its two header
    /// bytes, because any longer input is a valid script.
    pub fn parse(input: &'a [u8]) -> Option<Script<'a>> {
        let [settings, split, body @ ..] = input else {
            return None;
        };
        let config = TrackerConfig {
            max_flows: usize::from(settings & SETTINGS_MAX_FLOWS) + 1,
            vlan_in_key: settings & SETTINGS_NO_VLAN_KEY == 0,
            records: if settings & SETTINGS_TCP_ONLY != 0 {
                RecordProtocols::TCP_ONLY
            } else {
                ALL_PROTOCOLS
            },
            ..TrackerConfig::default()
        };

        let mut packets = Vec::new();
        let mut clock = SCRIPT_START;
        let mut rest = body;
        while let [step_high, step_low, len_high, len_low, after @ ..] = rest {
            let step = u16::from_be_bytes([*step_high, *step_low]);
            let len = usize::from(u16::from_be_bytes([*len_high, *len_low]));
            let (frame, remaining) = after.split_at(len.min(after.len()));
            clock = clock.add_nanos(step_nanos(step));
            packets.push((clock, frame));
            rest = remaining;
        }

        Some(Script {
            config,
            split: usize::from(*split) % (packets.len() + 1),
            packets,
        })
    }
}

/// Returns the nanoseconds of a time step code.
pub fn step_nanos(code: u16) -> i64 {
    let unit = STEP_UNITS[usize::from(code >> 14)];
    // Shifting the 14-bit count to the top of an i16 and back extends its sign.
    let count = i64::from(((code << 2) as i16) >> 2);
    count.saturating_mul(unit)
}

/// Returns the code of the time step closest to `nanos`, in the finest unit that can
/// express it.
pub fn step_code(nanos: i64) -> u16 {
    let (unit_index, count) = STEP_UNITS
        .iter()
        .enumerate()
        .map(|(index, unit)| (index, nanos.div_euclid(*unit)))
        .find(|(_, count)| (-STEP_LIMIT - 1..=STEP_LIMIT).contains(count))
        .unwrap_or((STEP_UNITS.len() - 1, nanos.signum() * STEP_LIMIT));
    ((unit_index as u16) << 14) | (count as u16 & 0x3fff)
}

/// Encodes a script from its two header bytes and each packet's time step (in
/// nanoseconds) and frame. Frames longer than 65,535 bytes are cut.
pub fn encode_script(settings: u8, split: u8, packets: &[(i64, &[u8])]) -> Vec<u8> {
    let mut out = vec![settings, split];
    for (step, frame) in packets {
        let frame = &frame[..frame.len().min(usize::from(u16::MAX))];
        out.extend_from_slice(&step_code(*step).to_be_bytes());
        out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// Returns the settings byte for a table of `max_flows` flows (1 to 16) with VLAN IDs
/// in the key and records of every protocol.
pub fn settings_byte(max_flows: u8) -> u8 {
    max_flows.clamp(1, 16) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_codes_round_trip() {
        for nanos in [0, 1_000_000, -1_000_000, 8_191_000_000, -8_192_000_000] {
            assert_eq!(step_nanos(step_code(nanos)), nanos, "step of {nanos} ns");
        }
    }

    #[test]
    fn step_code_picks_coarser_unit() {
        let day = 86_400 * NANOS_PER_SEC;
        assert_eq!(step_nanos(step_code(day)), day);
        assert_eq!(step_nanos(step_code(-day)), -day);
    }

    #[test]
    fn largest_steps_saturate_clock() {
        // Unit 2^50 ns with the counts 8191 and -8192.
        let forward = SCRIPT_START.add_nanos(step_nanos(0xdfff));
        assert_eq!(forward, Timestamp::from_nanos(i64::MAX));
        let backward = SCRIPT_START.add_nanos(step_nanos(0xe000));
        assert_eq!(backward.as_nanos(), SCRIPT_START.as_nanos() + i64::MIN);
        let backward = backward.add_nanos(step_nanos(0xe000));
        assert_eq!(backward, Timestamp::from_nanos(i64::MIN));
    }

    #[test]
    fn script_round_trip() {
        let frames: [&[u8]; 3] = [b"first", b"", b"third"];
        let steps = [
            (0, frames[0]),
            (NANOS_PER_SEC, frames[1]),
            (-1_000_000, frames[2]),
        ];
        let bytes = encode_script(settings_byte(3), 7, &steps);
        let script = Script::parse(&bytes).expect("a script with its header");

        assert_eq!(script.config.max_flows, 3);
        assert!(script.config.vlan_in_key);
        assert_eq!(script.config.records, ALL_PROTOCOLS);
        assert_eq!(script.split, 7 % 4);
        let times: Vec<i64> = script.packets.iter().map(|(ts, _)| ts.as_nanos()).collect();
        let start = SCRIPT_START.as_nanos();
        assert_eq!(
            times,
            [
                start,
                start + NANOS_PER_SEC,
                start + NANOS_PER_SEC - 1_000_000
            ]
        );
        let parsed_frames: Vec<&[u8]> = script.packets.iter().map(|(_, frame)| *frame).collect();
        assert_eq!(parsed_frames, frames);
    }

    #[test]
    fn cut_frame_is_kept() {
        let script = Script::parse(&[0, 0, 0, 0, 0, 10, 1, 2]).expect("a script");
        assert_eq!(script.packets.len(), 1);
        assert_eq!(script.packets[0].1, [1, 2]);
    }
}
