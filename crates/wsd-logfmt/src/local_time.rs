//! Capture timestamps as local civil time, with caches for the hot path.

use jiff::tz::{Offset, TimeZone};
use wsd_capture::Timestamp;

use crate::text::{two_digits, Decimal, Text};

/// Length of the text [`LocalTimeFormatter::format`] returns: `YYYY/MM/DD HH:MM:SS`.
pub const LOCAL_TIME_LEN: usize = 19;

const SECONDS_PER_DAY: i64 = 86_400;

/// A formatter of capture timestamps as local civil time, `YYYY/MM/DD HH:MM:SS`.
///
/// Converting through a time zone costs a search of its transition table, so the
/// formatter keeps three caches, each checked before the next:
///
/// 1. the text of the last second formatted, which records and packets of one
///    second share;
/// 2. the UTC offset and the span between the time zone's transitions around the
///    last lookup, so a new second needs only integer arithmetic;
/// 3. the date text of the last local day.
///
/// Flow record lines also take the decimal whole seconds of their epoch times
/// from the formatter, which keeps the last text for start and end times.
///
/// Timestamps may arrive in any order: a cache miss recomputes the entry and stays
/// correct, only slower.
#[derive(Clone, Debug)]
pub struct LocalTimeFormatter {
    time_zone: TimeZone,
    /// Unix second whose text is in `text`, or `None` before the first call.
    cached_second: Option<i64>,
    text: [u8; LOCAL_TIME_LEN],
    offset_span: OffsetSpan,
    /// Local day number (days since 1970-01-01 in local time) whose date is in
    /// `text[..10]`, or `None` before the first call.
    cached_day: Option<i64>,
    /// Decimal texts of the whole seconds of the last start and end epoch
    /// times of flow records, which consecutive records often share.
    epoch_seconds: [EpochSecondsText; 2],
}

/// The epoch time of a flow record that an [`EpochSecondsText`] caches.
#[derive(Clone, Copy, Debug)]
pub(crate) enum EpochSlot {
    /// `startEpoch`.
    Start = 0,
    /// `endEpoch`.
    End = 1,
}

/// The decimal text of a number of whole seconds, padded with zeros to
/// [`EpochSecondsText::LEN`] bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EpochSecondsText {
    seconds: u64,
    /// The digits, then zeros.
    pub(crate) digits: [u8; EpochSecondsText::LEN],
    /// Number of digits.
    pub(crate) len: usize,
}

impl EpochSecondsText {
    /// Room for the 20 digits of `u64::MAX`.
    pub(crate) const LEN: usize = 20;

    /// The text of 0 seconds.
    const ZERO: EpochSecondsText = EpochSecondsText {
        seconds: 0,
        digits: [
            b'0', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        len: 1,
    };

    fn new(seconds: u64) -> EpochSecondsText {
        let mut text = EpochSecondsText {
            seconds,
            ..EpochSecondsText::ZERO
        };
        let len = Decimal(seconds).len();
        Decimal(seconds).write(&mut text.digits[..len]);
        text.len = len;
        text
    }
}

/// A half-open range of Unix seconds over which a time zone's UTC offset is fixed.
#[derive(Clone, Copy, Debug)]
struct OffsetSpan {
    start: i64,
    end: i64,
    offset_seconds: i64,
}

impl OffsetSpan {
    /// A span that contains no second, so the first lookup always misses.
    const EMPTY: OffsetSpan = OffsetSpan {
        start: 0,
        end: 0,
        offset_seconds: 0,
    };

    fn contains(&self, second: i64) -> bool {
        self.start <= second && second < self.end
    }
}

impl LocalTimeFormatter {
    /// Creates a formatter for `time_zone`.
    pub fn new(time_zone: TimeZone) -> LocalTimeFormatter {
        LocalTimeFormatter {
            time_zone,
            cached_second: None,
            text: *b"0000/00/00 00:00:00",
            offset_span: OffsetSpan::EMPTY,
            cached_day: None,
            epoch_seconds: [EpochSecondsText::ZERO; 2],
        }
    }

    /// Creates a formatter for the system time zone, as `jiff::tz::TimeZone::system`
    /// finds it.
    ///
    /// The `TZ` environment variable comes first, if it is set and valid: an IANA
    /// name, a TZif file path or a POSIX TZ string. Otherwise the operating system's
    /// setting applies, and failing that UTC under the name `Etc/Unknown`.
    pub fn system() -> LocalTimeFormatter {
        LocalTimeFormatter::new(TimeZone::system())
    }

    /// Creates a formatter for UTC.
    pub fn utc() -> LocalTimeFormatter {
        LocalTimeFormatter::new(TimeZone::UTC)
    }

    /// Returns the time zone that times are formatted in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// Formats `ts`, truncated to the second, as `YYYY/MM/DD HH:MM:SS` in the
    /// formatter's time zone.
    ///
    /// The year has four digits, which covers every [`Timestamp`] (1677 to 2262).
    pub fn format(&mut self, ts: Timestamp) -> &[u8; LOCAL_TIME_LEN] {
        let second = ts.secs();
        if self.cached_second != Some(second) {
            self.format_second(second);
            self.cached_second = Some(second);
        }
        &self.text
    }

    /// Returns the decimal text of `seconds`, the whole seconds of the epoch
    /// time in `slot` of a flow record, from a cache of one text per slot.
    pub(crate) fn epoch_seconds(&mut self, slot: EpochSlot, seconds: u64) -> &EpochSecondsText {
        let cached = &mut self.epoch_seconds[slot as usize];
        if cached.seconds != seconds {
            *cached = EpochSecondsText::new(seconds);
        }
        cached
    }

    /// Writes the local time of `unix_second` into `text`.
    fn format_second(&mut self, unix_second: i64) {
        if !self.offset_span.contains(unix_second) {
            self.offset_span = find_offset_span(&self.time_zone, unix_second);
        }
        let local = unix_second + self.offset_span.offset_seconds;

        let day = local.div_euclid(SECONDS_PER_DAY);
        if self.cached_day != Some(day) {
            self.format_date(local);
            self.cached_day = Some(day);
        }

        // `rem_euclid` keeps this in 0..86_400, so it fits a u32.
        let second_of_day = local.rem_euclid(SECONDS_PER_DAY) as u32;
        let hour = two_digits(second_of_day / 3600);
        let minute = two_digits(second_of_day / 60 % 60);
        let second = two_digits(second_of_day % 60);
        let time_text = [
            hour[0], hour[1], b':', minute[0], minute[1], b':', second[0], second[1],
        ];
        self.text[11..].copy_from_slice(&time_text);
    }

    /// Writes the date of the local time `local` (Unix seconds shifted by the UTC
    /// offset) into `text[..10]`.
    fn format_date(&mut self, local: i64) {
        let date = Offset::UTC.to_datetime(to_jiff_timestamp(local)).date();
        // Timestamps span the years 1677 to 2262, so the year is positive and has
        // four digits.
        let year = u32::from(date.year().unsigned_abs());
        let century = two_digits(year / 100);
        let year_of_century = two_digits(year);
        let month = two_digits(date.month().unsigned_abs().into());
        let day = two_digits(date.day().unsigned_abs().into());
        let date_text = [
            century[0],
            century[1],
            year_of_century[0],
            year_of_century[1],
            b'/',
            month[0],
            month[1],
            b'/',
            day[0],
            day[1],
        ];
        self.text[..10].copy_from_slice(&date_text);
    }
}

/// Looks up the UTC offset at `second` and the transitions on either side of it.
fn find_offset_span(time_zone: &TimeZone, second: i64) -> OffsetSpan {
    let at = to_jiff_timestamp(second);
    let offset_seconds = i64::from(time_zone.to_offset(at).seconds());

    // Transitions fall on whole seconds. `preceding` yields only transitions
    // strictly before its argument, so asking from the next second finds one at
    // `second` itself. `following` yields only transitions strictly after `second`.
    let start = time_zone
        .preceding(to_jiff_timestamp(second + 1))
        .next()
        .map_or(i64::MIN, |transition| transition.timestamp().as_second());
    let end = time_zone
        .following(at)
        .next()
        .map_or(i64::MAX, |transition| transition.timestamp().as_second());

    OffsetSpan {
        start,
        end,
        offset_seconds,
    }
}

/// Converts Unix seconds from a [`Timestamp`], possibly shifted by a UTC offset of
/// under a day, to a jiff timestamp.
fn to_jiff_timestamp(second: i64) -> jiff::Timestamp {
    // NOTE: this cannot fail. A `Timestamp` spans the years 1677 to 2262, and a UTC
    // offset moves it by less than a day, far inside jiff's range of the years
    // -9999 to 9999.
    jiff::Timestamp::from_second(second).expect("capture timestamps are within jiff's range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_at(formatter: &mut LocalTimeFormatter, second: i64, nanos: u64) -> String {
        let text = formatter.format(Timestamp::from_parts(second, nanos));
        String::from_utf8(text.to_vec()).expect("formatter writes ASCII only")
    }

    /// Formats through jiff alone, without any cache.
    fn jiff_reference(time_zone: &TimeZone, second: i64) -> String {
        let datetime = time_zone.to_datetime(to_jiff_timestamp(second));
        datetime.strftime("%Y/%m/%d %H:%M:%S").to_string()
    }

    #[test]
    fn utc_epoch() {
        let mut formatter = LocalTimeFormatter::utc();
        assert_eq!(format_at(&mut formatter, 0, 0), "1970/01/01 00:00:00");
    }

    #[test]
    fn fixed_offset_example_time() {
        let mut formatter = LocalTimeFormatter::new(TimeZone::fixed(jiff::tz::offset(-8)));
        assert_eq!(
            format_at(&mut formatter, 1_515_026_277, 0),
            "2018/01/03 16:37:57"
        );
    }

    #[test]
    fn subsecond_truncated() {
        let mut formatter = LocalTimeFormatter::utc();
        let text = format_at(&mut formatter, 1_515_026_277, 999_999_999);
        assert_eq!(text, "2018/01/04 00:37:57");
    }

    #[test]
    fn before_epoch() {
        let mut formatter = LocalTimeFormatter::utc();
        assert_eq!(format_at(&mut formatter, -1, 0), "1969/12/31 23:59:59");
    }

    #[test]
    fn timestamp_extremes() {
        let mut formatter = LocalTimeFormatter::new(TimeZone::fixed(jiff::tz::offset(14)));
        for nanos in [i64::MIN, i64::MAX] {
            let ts = Timestamp::from_nanos(nanos);
            let text = formatter.format(ts).to_vec();
            let expected = jiff_reference(formatter.time_zone(), ts.secs());
            assert_eq!(String::from_utf8(text).expect("ASCII"), expected);
        }
    }

    #[test]
    fn cache_follows_new_second_hour_and_day() {
        let mut formatter = LocalTimeFormatter::utc();
        let base = 1_515_023_999; // 2018-01-03 23:59:59 UTC
        assert_eq!(format_at(&mut formatter, base, 0), "2018/01/03 23:59:59");
        assert_eq!(format_at(&mut formatter, base, 500), "2018/01/03 23:59:59");
        assert_eq!(
            format_at(&mut formatter, base + 1, 0),
            "2018/01/04 00:00:00"
        );
        assert_eq!(
            format_at(&mut formatter, base - 3600, 0),
            "2018/01/03 22:59:59"
        );
        assert_eq!(
            format_at(&mut formatter, base + 86_400 * 40, 0),
            "2018/02/12 23:59:59"
        );
        assert_eq!(format_at(&mut formatter, base, 0), "2018/01/03 23:59:59");
    }

    #[test]
    fn posix_zone_across_transitions() {
        let time_zone = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").expect("valid POSIX TZ string");
        let mut formatter = LocalTimeFormatter::new(time_zone.clone());

        // 2018-03-11 07:00:00 UTC: clocks in New York went from 02:00 EST to 03:00 EDT.
        let spring = 1_520_751_600;
        assert_eq!(
            format_at(&mut formatter, spring - 1, 0),
            "2018/03/11 01:59:59"
        );
        assert_eq!(format_at(&mut formatter, spring, 0), "2018/03/11 03:00:00");

        // 2018-11-04 06:00:00 UTC: clocks went back from 02:00 EDT to 01:00 EST.
        let autumn = 1_541_311_200;
        assert_eq!(
            format_at(&mut formatter, autumn - 1, 0),
            "2018/11/04 01:59:59"
        );
        assert_eq!(format_at(&mut formatter, autumn, 0), "2018/11/04 01:00:00");

        // Back into the span before the spring transition, out of order.
        assert_eq!(
            format_at(&mut formatter, spring - 1, 0),
            "2018/03/11 01:59:59"
        );
    }

    #[test]
    fn posix_zone_matches_jiff_every_hour() {
        let time_zone =
            TimeZone::posix("NZST-12NZDT,M9.5.0,M4.1.0/3").expect("valid POSIX TZ string");
        let mut formatter = LocalTimeFormatter::new(time_zone.clone());

        // Two years in steps of one hour and 17 seconds, so both transitions of
        // each year and many day boundaries are crossed in order.
        let start = 1_514_764_800; // 2018-01-01 00:00:00 UTC
        let mut second = start;
        while second < start + 2 * 366 * SECONDS_PER_DAY {
            let expected = jiff_reference(&time_zone, second);
            assert_eq!(
                format_at(&mut formatter, second, 0),
                expected,
                "second {second}"
            );
            second += 3617;
        }
    }

    #[test]
    fn quarter_hour_offset_zone() {
        let time_zone = TimeZone::posix("<+0545>-5:45").expect("valid POSIX TZ string");
        let mut formatter = LocalTimeFormatter::new(time_zone);
        assert_eq!(format_at(&mut formatter, 0, 0), "1970/01/01 05:45:00");
    }
}
