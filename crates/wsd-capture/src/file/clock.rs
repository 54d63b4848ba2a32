//! Conversion of pcapng timestamps from interface ticks to nanoseconds.

use crate::Timestamp;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Largest n of a decimal tick of 10^-n seconds: 10^19 ticks, one second, fit in a u64.
pub(super) const MAX_DECIMAL_EXPONENT: u32 = 19;

/// Largest n of a binary tick of 2^-n seconds: 2^63 ticks, one second, fit in a u64.
pub(super) const MAX_BINARY_EXPONENT: u32 = 63;

/// The timestamp unit and offset of one pcapng interface.
///
/// A pcapng packet time is a 64-bit count of ticks. The interface's `if_tsresol` option
/// sets the tick: with the top bit clear it is 10^-n seconds, with the top bit set it is
/// 2^-n seconds, n being the low 7 bits. Without the option the tick is a microsecond.
/// `if_tsoffset` is a signed number of seconds added to every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct InterfaceClock {
    scale: Scale,
    offset_nanos: i128,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    /// Nanoseconds = ticks × factor, for decimal ticks of 1 ns or longer.
    Multiply(u128),
    /// Nanoseconds = ticks ÷ divisor, for decimal ticks shorter than 1 ns.
    Divide(u128),
    /// Nanoseconds = ticks × 10^9 ÷ 2^shift, for binary ticks.
    Shift(u32),
}

impl InterfaceClock {
    /// The clock of an interface without `if_tsresol` and `if_tsoffset` options.
    pub(super) const MICROSECONDS: InterfaceClock = InterfaceClock {
        scale: Scale::Multiply(1_000),
        offset_nanos: 0,
    };

    /// Creates the clock for an `if_tsresol` byte and an `if_tsoffset` in seconds.
    ///
    /// Returns `None` when the tick is shorter than 10^-19 or 2^-63 seconds: a 64-bit
    /// tick count then cannot reach one second, so no time could be right. libpcap's
    /// pcapng reader (`sf-pcapng.c`) rejects the same values.
    pub(super) fn new(tsresol: u8, tsoffset_secs: i64) -> Option<InterfaceClock> {
        let exponent = u32::from(tsresol & 0x7f);
        let scale = if tsresol & 0x80 != 0 {
            if exponent > MAX_BINARY_EXPONENT {
                return None;
            }
            Scale::Shift(exponent)
        } else if exponent <= 9 {
            Scale::Multiply(10u128.pow(9 - exponent))
        } else if exponent <= MAX_DECIMAL_EXPONENT {
            Scale::Divide(10u128.pow(exponent - 9))
        } else {
            return None;
        };
        Some(InterfaceClock {
            scale,
            offset_nanos: i128::from(tsoffset_secs) * NANOS_PER_SEC as i128,
        })
    }

    /// Converts a tick count to a timestamp, saturating at the limits of [`Timestamp`].
    #[cfg(test)]
    pub(super) fn timestamp(&self, ticks: u64) -> Timestamp {
        self.checked_timestamp(ticks).0
    }

    /// Converts a tick count to a timestamp, saturating at the limits of [`Timestamp`],
    /// and returns whether it saturated.
    pub(super) fn checked_timestamp(&self, ticks: u64) -> (Timestamp, bool) {
        let ticks = u128::from(ticks);
        // Each product is below 2^64 × 10^9 < 2^94, so none overflows u128.
        let nanos = match self.scale {
            Scale::Multiply(factor) => ticks * factor,
            Scale::Divide(divisor) => ticks / divisor,
            Scale::Shift(shift) => (ticks * NANOS_PER_SEC) >> shift,
        };
        // `nanos` is below 2^94 and the offset below 2^94 in magnitude, so the sum fits i128.
        let total = nanos as i128 + self.offset_nanos;
        let clamped = total.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        (Timestamp::from_nanos(clamped as i64), clamped != total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;

    fn usable_clock(tsresol: u8, tsoffset_secs: i64) -> InterfaceClock {
        InterfaceClock::new(tsresol, tsoffset_secs).expect("usable resolution")
    }

    #[test]
    fn default_clock_counts_microseconds() {
        let clock = InterfaceClock::MICROSECONDS;
        assert_eq!(clock, usable_clock(6, 0));
        assert_eq!(clock.timestamp(1_500_000).as_nanos(), 1_500_000_000);
    }

    #[test]
    fn decimal_resolutions() {
        let ticks = 1_700_000_000_123_456_789u64;
        assert_eq!(
            usable_clock(9, 0).timestamp(ticks).to_string(),
            "1700000000.123456789"
        );
        assert_eq!(usable_clock(0, 0).timestamp(7).as_nanos(), 7 * SEC);
        assert_eq!(
            usable_clock(3, 0).timestamp(1_234).as_nanos(),
            1_234_000_000
        );
        assert_eq!(usable_clock(12, 0).timestamp(5_000_000).as_nanos(), 5_000);
        assert_eq!(
            usable_clock(19, 0).timestamp(u64::MAX).as_nanos(),
            1_844_674_407
        );
    }

    #[test]
    fn binary_resolutions() {
        assert_eq!(usable_clock(0x80, 0).timestamp(3).as_nanos(), 3 * SEC);
        assert_eq!(usable_clock(0x8a, 0).timestamp(1024).as_nanos(), SEC);
        assert_eq!(usable_clock(0x8a, 0).timestamp(512).as_nanos(), SEC / 2);
        // 2^-30 s ticks: 2^30 ticks are one second, one tick truncates to 0 ns.
        assert_eq!(usable_clock(0x9e, 0).timestamp(1 << 30).as_nanos(), SEC);
        assert_eq!(usable_clock(0x9e, 0).timestamp(1).as_nanos(), 0);
    }

    #[test]
    fn offset_adds_seconds() {
        let clock = usable_clock(6, 1_700_000_000);
        assert_eq!(clock.timestamp(250_000).to_string(), "1700000000.250000000");

        let clock = usable_clock(6, -10);
        assert_eq!(clock.timestamp(4_000_000).as_nanos(), -6 * SEC);
    }

    #[test]
    fn extreme_values_saturate() {
        for tsresol in 0..=u8::MAX {
            for offset in [i64::MIN, -1, 0, 1, i64::MAX] {
                let Some(clock) = InterfaceClock::new(tsresol, offset) else {
                    continue;
                };
                for ticks in [0, 1, u64::from(u32::MAX), u64::MAX] {
                    clock.timestamp(ticks);
                }
            }
        }
        assert_eq!(usable_clock(0, 0).timestamp(u64::MAX).as_nanos(), i64::MAX);
        assert_eq!(usable_clock(9, i64::MIN).timestamp(0).as_nanos(), i64::MIN);
        assert_eq!(
            usable_clock(0xbf, 0).timestamp(u64::MAX).as_nanos(),
            1_999_999_999
        );
    }

    #[test]
    fn resolution_finer_than_u64_rejected() {
        // 10^-19 s and 2^-63 s are the finest units in which a u64 counts one second.
        assert!(InterfaceClock::new(19, 0).is_some());
        assert!(InterfaceClock::new(0x80 | 63, 0).is_some());
        for tsresol in [20, 30, 127, 0x80 | 64, 0x80 | 100, 0xff] {
            assert_eq!(InterfaceClock::new(tsresol, 0), None, "{tsresol:#04x}");
        }
    }
}
