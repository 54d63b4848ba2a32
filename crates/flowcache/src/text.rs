//! The text listing: one flow record line per cached flow, with its state.

use std::io::{self, Write};

use flowcache::filter::FlowState;
use wsd_capture::Timestamp;
use wsd_flow::{EndReason, FlowRecord, FlowSnapshot};
use wsd_logfmt::{format_flow_record_start, LocalTimeFormatter};

/// Returns the record that `wsd` would write for `flow` if its input ended now.
///
/// The end reason follows the state, as in the record `wsd` would report, although
/// the record line does not show it.
pub fn record_of(flow: &FlowSnapshot) -> FlowRecord {
    let end_reason = match FlowState::of(flow) {
        FlowState::Open => EndReason::EndOfInput,
        FlowState::Fin => EndReason::Fin,
        FlowState::Rst => EndReason::Rst,
    };
    flow.to_record(end_reason)
}

/// Formats `ts` as `seconds.nanoseconds` since the Unix epoch, with nine digits
/// after the point and a minus sign for times before the epoch.
pub fn epoch_text(ts: Timestamp) -> String {
    let nanos = ts.as_nanos();
    let magnitude = nanos.unsigned_abs();
    let sign = if nanos < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:09}",
        magnitude / 1_000_000_000,
        magnitude % 1_000_000_000
    )
}

/// Formats `ts` in local time as `YYYY/MM/DD HH:MM:SS`, as in `startTime`.
pub fn local_text(clock: &mut LocalTimeFormatter, ts: Timestamp) -> String {
    String::from_utf8_lossy(clock.format(ts)).into_owned()
}

/// Writes listing lines through one reused buffer.
pub struct TextLister {
    line: Vec<u8>,
}

impl TextLister {
    /// Creates a lister.
    pub fn new() -> TextLister {
        TextLister {
            line: Vec::with_capacity(512),
        }
    }

    /// Writes the line of `flow`: its flow record line, then ` state=`,
    /// ` midstream=` and ` lastTime=`.
    pub fn write_flow(
        &mut self,
        out: &mut impl Write,
        flow: &FlowSnapshot,
        clock: &mut LocalTimeFormatter,
    ) -> io::Result<()> {
        self.line.clear();
        format_flow_record_start(&mut self.line, &record_of(flow), clock);
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        self.line.extend_from_slice(b" state=");
        self.line
            .extend_from_slice(FlowState::of(flow).name().as_bytes());
        self.line.extend_from_slice(b" midstream=");
        self.line
            .extend_from_slice(if flow.midstream { b"yes" } else { b"no" });
        self.line.extend_from_slice(b" lastTime=");
        self.line.extend_from_slice(clock.format(flow.last_ts));
        self.line.push(b'\n');
        out.write_all(&self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_text_after_epoch() {
        let ts = Timestamp::from_parts(1_515_026_277, 120_000_000);
        assert_eq!(epoch_text(ts), "1515026277.120000000");
        assert_eq!(epoch_text(Timestamp::ZERO), "0.000000000");
    }

    #[test]
    fn epoch_text_before_epoch() {
        assert_eq!(epoch_text(Timestamp::from_nanos(-1)), "-0.000000001");
        assert_eq!(
            epoch_text(Timestamp::from_nanos(-1_500_000_000)),
            "-1.500000000"
        );
        assert_eq!(
            epoch_text(Timestamp::from_nanos(i64::MIN)),
            "-9223372036.854775808"
        );
    }
}
