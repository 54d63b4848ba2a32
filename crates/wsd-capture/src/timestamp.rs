//! Capture timestamps at nanosecond precision.

use std::fmt;

/// A capture time: nanoseconds since the Unix epoch, UTC.
///
/// An `i64` of nanoseconds covers the years 1678 to 2262, which includes every
/// time a pcap or pcapng file can express with 32-bit seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const ZERO: Timestamp = Timestamp(0);

    /// Creates a timestamp from nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Creates a timestamp from whole seconds and a nanosecond fraction.
    ///
    /// A fraction of one second or more carries into the seconds, so callers can
    /// pass raw values from a file without checking them first.
    pub const fn from_parts(secs: i64, nanos: u64) -> Timestamp {
        let carry = (nanos / 1_000_000_000) as i64;
        let frac = (nanos % 1_000_000_000) as i64;
        Timestamp(
            secs.saturating_add(carry)
                .saturating_mul(1_000_000_000)
                .saturating_add(frac),
        )
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded towards negative infinity.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Returns the nanosecond part within the second, in `0..1_000_000_000`.
    pub const fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// Returns the microsecond part within the second, truncated.
    pub const fn subsec_micros(self) -> u32 {
        self.subsec_nanos() / 1_000
    }

    /// Returns this time moved forward by `nanos` nanoseconds, saturating.
    pub const fn add_nanos(self, nanos: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(nanos))
    }

    /// Nanoseconds from `earlier` to `self`, saturating, negative if `earlier` is later.
    pub const fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    /// Formats as `seconds.nanoseconds`, for example `1700000000.123456789`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Times before the epoch print as a negative decimal, such as -0.000000001.
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:09}",
            magnitude / 1_000_000_000,
            magnitude % 1_000_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_carry_into_seconds() {
        let ts = Timestamp::from_parts(10, 1_500_000_000);
        assert_eq!(ts.secs(), 11);
        assert_eq!(ts.subsec_nanos(), 500_000_000);
    }

    #[test]
    fn display_pads_nanoseconds() {
        let ts = Timestamp::from_parts(1_700_000_000, 123_456_789);
        assert_eq!(ts.to_string(), "1700000000.123456789");
        assert_eq!(Timestamp::from_parts(5, 7).to_string(), "5.000000007");
    }

    #[test]
    fn display_before_epoch() {
        assert_eq!(Timestamp::from_nanos(-1).to_string(), "-0.000000001");
        assert_eq!(
            Timestamp::from_nanos(-1_500_000_000).to_string(),
            "-1.500000000"
        );
        assert_eq!(
            Timestamp::from_nanos(i64::MIN).to_string(),
            "-9223372036.854775808"
        );
    }

    #[test]
    fn negative_times_split_downwards() {
        let ts = Timestamp::from_nanos(-1);
        assert_eq!(ts.secs(), -1);
        assert_eq!(ts.subsec_nanos(), 999_999_999);
    }
}
