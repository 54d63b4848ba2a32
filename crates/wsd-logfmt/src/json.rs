//! JSON Lines: one JSON object per line, written by hand into the line buffer.

use jiff::tz::Offset;
use wsd_capture::Timestamp;

use crate::text::{push_text, push_u64, two_digits, SixDigits};

/// Appends `text` as a JSON string, quotes included, escaping what RFC 8259
/// requires: `"`, `\` and the control characters below U+0020.
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A JSON object being appended to a buffer, one member at a time.
///
/// Member names are written as given, so they must need no escaping: every
/// caller passes a constant name in ASCII letters, digits and `_`.
pub(crate) struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> JsonObject<'a> {
    /// Starts an object with `{`.
    pub(crate) fn begin(out: &'a mut Vec<u8>) -> JsonObject<'a> {
        out.push(b'{');
        JsonObject { out, empty: true }
    }

    /// Writes the member's name and colon, and returns the buffer for its value.
    pub(crate) fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// Writes a string member.
    pub(crate) fn string(&mut self, name: &str, value: &str) {
        push_json_string(self.key(name), value);
    }

    /// Writes a member whose value is ASCII text that needs no escaping.
    pub(crate) fn ascii(&mut self, name: &str, value: &[u8]) {
        let out = self.key(name);
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
    }

    /// Writes an unsigned number member.
    pub(crate) fn u64(&mut self, name: &str, value: u64) {
        push_u64(self.key(name), value);
    }

    /// Writes a `true` or `false` member.
    pub(crate) fn bool(&mut self, name: &str, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.key(name).extend_from_slice(text);
    }

    /// Writes a `null` member.
    pub(crate) fn null(&mut self, name: &str) {
        self.key(name).extend_from_slice(b"null");
    }

    /// Ends the object with `}`.
    pub(crate) fn end(self) {
        self.out.push(b'}');
    }
}

/// Length of [`push_rfc3339_utc`]'s text: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
#[cfg(test)]
const RFC3339_LEN: usize = 27;

/// Appends `ts` in RFC 3339 form in UTC with microseconds, truncated, such as
/// `2018-01-04T00:37:57.120000Z`.
///
/// Every [`Timestamp`] falls in the years 1677 to 2262, so the year always has
/// four digits.
pub(crate) fn push_rfc3339_utc(out: &mut Vec<u8>, ts: Timestamp) {
    const SECONDS_PER_DAY: i64 = 86_400;
    let second = ts.secs();
    let day_start = second - second.rem_euclid(SECONDS_PER_DAY);
    let date = jiff::Timestamp::from_second(day_start)
        .map(|day| Offset::UTC.to_datetime(day).date())
        .unwrap_or_default();
    let year = u32::from(date.year().unsigned_abs());

    out.extend_from_slice(&two_digits(year / 100));
    out.extend_from_slice(&two_digits(year));
    out.push(b'-');
    out.extend_from_slice(&two_digits(date.month().unsigned_abs().into()));
    out.push(b'-');
    out.extend_from_slice(&two_digits(date.day().unsigned_abs().into()));

    // `rem_euclid` keeps this in 0..86_400, so it fits a u32.
    let second_of_day = second.rem_euclid(SECONDS_PER_DAY) as u32;
    out.push(b'T');
    out.extend_from_slice(&two_digits(second_of_day / 3600));
    out.push(b':');
    out.extend_from_slice(&two_digits(second_of_day / 60 % 60));
    out.push(b':');
    out.extend_from_slice(&two_digits(second_of_day % 60));
    out.push(b'.');
    push_text(out, &SixDigits(ts.subsec_micros()));
    out.push(b'Z');
}

/// Appends `nanos` as a JSON number of seconds with six decimals, truncated
/// toward zero, such as `1515026277.120000` or `-0.500000`.
pub(crate) fn push_seconds(out: &mut Vec<u8>, nanos: i64) {
    let micros = nanos / 1_000;
    if micros < 0 {
        out.push(b'-');
    }
    let magnitude = micros.unsigned_abs();
    push_u64(out, magnitude / 1_000_000);
    out.push(b'.');
    push_text(out, &SixDigits((magnitude % 1_000_000) as u32));
}

/// Appends `ts` as seconds since the Unix epoch with six decimals.
pub(crate) fn push_epoch(out: &mut Vec<u8>, ts: Timestamp) {
    push_seconds(out, ts.as_nanos());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(push: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        push(&mut out);
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    #[test]
    fn string_escapes_quotes_and_controls() {
        let cases = [
            ("plain", "\"plain\""),
            ("a\"b", "\"a\\\"b\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("line\nfeed\r\t", "\"line\\nfeed\\r\\t\""),
            ("\u{0}\u{1f}\u{8}\u{c}", "\"\\u0000\\u001f\\b\\f\""),
            ("caf\u{e9} \u{7f}", "\"caf\u{e9} \u{7f}\""),
            ("", "\"\""),
        ];
        for (input, expected) in cases {
            assert_eq!(text(|out| push_json_string(out, input)), expected);
        }
    }

    /// Every character from U+0000 to U+00FF survives a round trip through a
    /// JSON parser.
    #[test]
    fn string_round_trips_through_parser() {
        let input: String = (0u8..=255).map(char::from).collect();
        let json = text(|out| push_json_string(out, &input));
        let parsed: String = serde_json::from_str(&json).expect("valid JSON string");
        assert_eq!(parsed, input);
    }

    #[test]
    fn object_members_separated_by_commas() {
        let json = text(|out| {
            let mut object = JsonObject::begin(out);
            object.u64("a", 1);
            object.string("b", "x");
            object.bool("c", true);
            object.null("d");
            object.ascii("e", b"1:abc=");
            object.end();
        });
        assert_eq!(json, r#"{"a":1,"b":"x","c":true,"d":null,"e":"1:abc="}"#);
    }

    #[test]
    fn rfc3339_matches_jiff() {
        let cases = [
            (0, 0),
            (1_515_026_277, 120_000_999),
            (951_782_400, 999_999_999), // 2000-02-29
            (-1, 500_000_000),
            (-9_223_372_036, 854_775_808),
            (9_223_372_036, 854_775_807),
        ];
        for (secs, nanos) in cases {
            let ts = Timestamp::from_parts(secs, nanos);
            let reference = jiff::Timestamp::from_nanosecond(i128::from(ts.as_nanos()))
                .expect("in jiff's range");
            let expected = format!(
                "{}Z",
                reference
                    .strftime("%Y-%m-%dT%H:%M:%S%.6f")
                    .to_string()
                    .trim_end_matches('Z')
            );
            let written = text(|out| push_rfc3339_utc(out, ts));
            assert_eq!(written, expected, "{secs}.{nanos:09}");
            assert_eq!(written.len(), RFC3339_LEN);
        }
    }

    #[test]
    fn epoch_seconds_with_micros() {
        let cases = [
            (
                Timestamp::from_parts(1_515_026_277, 120_000_999),
                "1515026277.120000",
            ),
            (Timestamp::ZERO, "0.000000"),
            (Timestamp::from_nanos(-500_000_000), "-0.500000"),
            (Timestamp::from_nanos(-1_500_000), "-0.001500"),
            (Timestamp::from_parts(-2, 250_000_000), "-1.750000"),
        ];
        for (ts, expected) in cases {
            assert_eq!(text(|out| push_epoch(out, ts)), expected);
        }
    }
}
