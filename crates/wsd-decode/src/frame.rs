//! Decoding whole captured frames, with the lengths a capture records, and
//! counting what a run reports about them.

use crate::packet::{Decoded, StopReason};
use crate::{decode_with, DecodeOptions};

/// Decodes captured frames the same way wherever they are decoded, and counts
/// what a run's summary reports: why decoding stopped, and IP length fields
/// that claim more than a whole frame.
///
/// ```
/// use wsd_decode::{linktype, DecodeOptions, FrameDecoder, StopReason};
///
/// let mut decoder = FrameDecoder::new(DecodeOptions::new(), false);
/// // An Ethernet frame cut after its link header.
/// let frame = [0u8; 14];
/// let decoded = decoder.decode(linktype::ETHERNET, &frame, 60);
/// assert!(decoded.stop.is_some());
/// decoder.count(linktype::ETHERNET, &frame, 60, &decoded);
/// assert_eq!(decoder.tally().stops.len(), 1);
/// decoder.clear_tally();
/// assert!(!decoder.has_tally());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameDecoder {
    options: DecodeOptions,
    cap_ip_length: bool,
    tally: DecodeTally,
}

impl FrameDecoder {
    /// Returns a decoder with `options` whose frames, when captured whole,
    /// count no more IP bytes than they carry if `cap_ip_length` is set.
    pub fn new(options: DecodeOptions, cap_ip_length: bool) -> FrameDecoder {
        FrameDecoder {
            options,
            cap_ip_length,
            tally: DecodeTally::default(),
        }
    }

    /// Decodes one frame of `linktype`, whose captured bytes are `data` and
    /// whose length on the wire was `orig_len`.
    #[inline]
    pub fn decode(&self, linktype: u32, data: &[u8], orig_len: u32) -> Decoded {
        let whole_frame = is_whole(data, orig_len);
        let options = self
            .options
            .with_whole_frame(whole_frame && self.cap_ip_length);
        decode_with(linktype, data, &options)
    }

    /// Counts the frame that [`FrameDecoder::decode`] turned into `decoded`
    /// into the tally.
    #[inline]
    pub fn count(&mut self, linktype: u32, data: &[u8], orig_len: u32, decoded: &Decoded) {
        if is_whole(data, orig_len)
            && decoded
                .ip
                .is_some_and(|ip| ip.total_len as usize > data.len())
        {
            self.tally.ip_length_beyond_frame += 1;
        }
        if let Some(reason) = decoded.stop {
            self.tally.count_stop(reason, linktype);
        }
    }

    /// Returns true if the tally counted anything since it was last cleared.
    #[inline]
    pub fn has_tally(&self) -> bool {
        !self.tally.is_empty()
    }

    /// Returns what was counted since the tally was last cleared.
    pub fn tally(&self) -> &DecodeTally {
        &self.tally
    }

    /// Empties the tally, keeping its memory.
    pub fn clear_tally(&mut self) {
        self.tally.ip_length_beyond_frame = 0;
        self.tally.stops.clear();
    }
}

/// Returns true if the capture kept every byte the frame had on the wire.
#[inline]
fn is_whole(data: &[u8], orig_len: u32) -> bool {
    data.len() as u64 >= u64::from(orig_len)
}

/// The counts of a [`FrameDecoder`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeTally {
    /// Frames captured whole whose IP length field claims more than the frame.
    pub ip_length_beyond_frame: u64,
    /// Frames whose decoding stopped before the transport header, by reason and
    /// link type, in the order each pair was first seen.
    pub stops: Vec<StopCount>,
}

/// Frames of one link type whose decoding stopped for one reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopCount {
    /// The reason decoding stopped.
    pub reason: StopReason,
    /// The frames' `LINKTYPE_*` number.
    pub linktype: u32,
    /// How many frames stopped so.
    pub frames: u64,
}

impl DecodeTally {
    /// Returns true if nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.ip_length_beyond_frame == 0 && self.stops.is_empty()
    }

    fn count_stop(&mut self, reason: StopReason, linktype: u32) {
        *self.stop_entry(reason, linktype) += 1;
    }

    /// Returns the count of `reason` for `linktype`, added at zero if new. A
    /// capture stops for few distinct reasons, so a list is searched.
    fn stop_entry(&mut self, reason: StopReason, linktype: u32) -> &mut u64 {
        let position = self
            .stops
            .iter()
            .position(|stop| stop.reason == reason && stop.linktype == linktype);
        if position.is_none() {
            self.stops.push(StopCount {
                reason,
                linktype,
                frames: 0,
            });
        }
        let index = position.unwrap_or(self.stops.len() - 1);
        match self.stops.get_mut(index) {
            Some(stop) => &mut stop.frames,
            None => unreachable!("the entry was found or pushed above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linktype;
    use crate::test_packets::{ethernet, ipv4, tcp_default};

    #[test]
    fn counts_ip_length_beyond_whole_frame() {
        let mut frame = ethernet(0x0800, &ipv4(6, &tcp_default(10)));
        // Claim 100 more IP bytes than the frame has.
        let length_field: &mut [u8; 2] = frame.get_mut(16..18).unwrap().try_into().unwrap();
        let total = u16::from_be_bytes(*length_field) + 100;
        *length_field = total.to_be_bytes();
        let len = frame.len() as u32;
        // Capped, the length no longer claims more than the frame.
        for (cap, expected_len, counted) in [(false, u32::from(total), 1), (true, len - 14, 0)] {
            let mut decoder = FrameDecoder::new(DecodeOptions::new(), cap);
            let decoded = decoder.decode(linktype::ETHERNET, &frame, len);
            assert_eq!(decoded.ip.unwrap().total_len, expected_len, "cap {cap}");
            decoder.count(linktype::ETHERNET, &frame, len, &decoded);
            assert_eq!(decoder.tally().ip_length_beyond_frame, counted);
        }
        // A frame the capture cut is not whole, so its IP length is believed.
        let mut decoder = FrameDecoder::new(DecodeOptions::new(), true);
        let decoded = decoder.decode(linktype::ETHERNET, &frame, len + 100);
        assert_eq!(decoded.ip.unwrap().total_len, u32::from(total));
        decoder.count(linktype::ETHERNET, &frame, len + 100, &decoded);
        assert!(!decoder.has_tally());
    }

    #[test]
    fn tally_counts_by_reason_and_link_type() {
        let mut decoder = FrameDecoder::default();
        for linktype in [linktype::ETHERNET, linktype::ETHERNET, 9999] {
            let decoded = decoder.decode(linktype, &[0; 4], 4);
            decoder.count(linktype, &[0; 4], 4, &decoded);
        }
        let first = decoder.tally().clone();
        decoder.clear_tally();
        assert!(!decoder.has_tally());
        let frames: Vec<u64> = first.stops.iter().map(|stop| stop.frames).collect();
        assert_eq!(frames, [2, 1]);
        assert_eq!(
            first.stops.last().map(|stop| stop.reason),
            Some(StopReason::UnsupportedLinkType)
        );
        assert!(!first.is_empty());
    }
}
