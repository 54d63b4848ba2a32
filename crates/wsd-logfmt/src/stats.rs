//! Periodic statistics records, in the text and the JSON format.

use wsd_capture::Timestamp;

use crate::json::{push_epoch, push_json_string, push_rfc3339_utc, JsonObject};
use crate::text::push_u64;

/// Totals of a run up to one moment of capture time.
#[derive(Clone, Copy, Debug)]
pub struct StatsRecord<'a> {
    /// Capture time the totals are taken at.
    pub ts: Timestamp,
    /// Packets read.
    pub packets: u64,
    /// Bytes of the packets read, as on the wire.
    pub bytes: u64,
    /// Flows in the tracker's table.
    pub active_flows: u64,
    /// Flow records written.
    pub records: u64,
    /// Flows evicted from a full table.
    pub evicted: u64,
    /// Packets not fully decoded, by the name of the reason decoding stopped.
    pub decode_problems: &'a [(&'a str, u64)],
    /// Packets the capture dropped, for live capture; `None` for files.
    pub capture_drops: Option<u64>,
}

/// Appends the text statistics line of `stats`, newline included, to `out`:
/// `STATS` and `key=value` fields, as `docs/flow-records.md` lists them.
pub fn format_stats_text(out: &mut Vec<u8>, stats: &StatsRecord<'_>) {
    out.extend_from_slice(b"STATS time=");
    push_epoch(out, stats.ts);
    let counters = [
        (&b" packets="[..], stats.packets),
        (b" bytes=", stats.bytes),
        (b" activeFlows=", stats.active_flows),
        (b" records=", stats.records),
        (b" evicted=", stats.evicted),
    ];
    for (key, value) in counters {
        out.extend_from_slice(key);
        push_u64(out, value);
    }

    out.extend_from_slice(b" decodeProblems=");
    if stats.decode_problems.is_empty() {
        out.push(b'-');
    }
    for (i, (reason, count)) in stats.decode_problems.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(reason.as_bytes());
        out.push(b':');
        push_u64(out, *count);
    }

    out.extend_from_slice(b" captureDrops=");
    match stats.capture_drops {
        Some(drops) => push_u64(out, drops),
        None => out.push(b'-'),
    }
    out.push(b'\n');
}

/// Appends the JSON statistics record of `stats`, newline included, to `out`.
pub fn format_stats_json(out: &mut Vec<u8>, stats: &StatsRecord<'_>) {
    let mut object = JsonObject::begin(out);
    object.ascii("type", b"stats");
    let time = object.key("time");
    time.push(b'"');
    push_rfc3339_utc(time, stats.ts);
    time.push(b'"');
    push_epoch(object.key("time_epoch"), stats.ts);
    object.u64("packets", stats.packets);
    object.u64("bytes", stats.bytes);
    object.u64("active_flows", stats.active_flows);
    object.u64("records", stats.records);
    object.u64("evicted", stats.evicted);

    let problems = object.key("decode_problems");
    problems.push(b'{');
    for (i, (reason, count)) in stats.decode_problems.iter().enumerate() {
        if i > 0 {
            problems.push(b',');
        }
        push_json_string(problems, reason);
        problems.push(b':');
        push_u64(problems, *count);
    }
    problems.push(b'}');

    match stats.capture_drops {
        Some(drops) => object.u64("capture_drops", drops),
        None => object.null("capture_drops"),
    }
    object.end();
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(problems: &'a [(&'a str, u64)]) -> StatsRecord<'a> {
        StatsRecord {
            ts: Timestamp::from_parts(1_700_000_060, 500_000),
            packets: 1000,
            bytes: 640_000,
            active_flows: 12,
            records: 30,
            evicted: 1,
            decode_problems: problems,
            capture_drops: None,
        }
    }

    #[test]
    fn text_line() {
        let problems = [("truncated", 3), ("bad-ip-header", 1)];
        let mut out = Vec::new();
        format_stats_text(&mut out, &sample(&problems));
        assert_eq!(
            String::from_utf8(out).expect("ASCII"),
            "STATS time=1700000060.000500 packets=1000 bytes=640000 activeFlows=12 \
             records=30 evicted=1 decodeProblems=truncated:3,bad-ip-header:1 captureDrops=-\n"
        );
    }

    #[test]
    fn text_line_without_problems() {
        let mut out = Vec::new();
        let mut stats = sample(&[]);
        stats.capture_drops = Some(7);
        format_stats_text(&mut out, &stats);
        let text = String::from_utf8(out).expect("ASCII");
        assert!(
            text.contains(" decodeProblems=- captureDrops=7\n"),
            "{text}"
        );
    }

    #[test]
    fn json_record() {
        let problems = [("truncated", 3)];
        let mut out = Vec::new();
        format_stats_json(&mut out, &sample(&problems));
        let value: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(value["type"], "stats");
        assert_eq!(value["time"], "2023-11-14T22:14:20.000500Z");
        assert_eq!(value["packets"], 1000);
        assert_eq!(value["bytes"], 640_000);
        assert_eq!(value["active_flows"], 12);
        assert_eq!(value["records"], 30);
        assert_eq!(value["evicted"], 1);
        assert_eq!(value["decode_problems"]["truncated"], 3);
        assert!(value["capture_drops"].is_null());
    }
}
