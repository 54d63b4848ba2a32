//! Reading flow-cache files and restoring trackers from them.

use wsd_flow::{FlowSnapshot, Tracker, TrackerConfig, TrackerRestorer, TrackerSnapshot};
use wsd_flowcache::CacheItem;

use crate::script::ALL_PROTOCOLS;

/// Table sizes the restored trackers get: the default, and one small enough to make
/// a restore evict flows.
const MAX_FLOWS: [usize; 2] = [1_000_000, 2];

/// Checks `input` as a flow-cache file, and again with its checksum replaced by the
/// correct one, because random changes almost never keep the checksum valid and the
/// contents would otherwise go untested.
pub fn fuzz_flowcache(input: &[u8]) {
    check_cache(input);
    check_read_each(input);
    if let Some(body_len) = input.len().checked_sub(4) {
        let mut fixed = input.to_vec();
        let checksum = crc32(&input[..body_len]);
        fixed[body_len..].copy_from_slice(&checksum.to_le_bytes());
        if fixed != input {
            check_cache(&fixed);
            check_read_each(&fixed);
        }
    }
}

/// Checks that reading `input` from a file, as `wsd -R` does, passes on the
/// same items and ends with the same result as decoding it in memory.
fn check_read_each(input: &[u8]) {
    let path = std::env::temp_dir().join(format!("wirespy-fuzz-{}.cache", std::process::id()));
    std::fs::write(&path, input).expect("the temporary directory takes a file");
    let mut from_file = Vec::new();
    let read = wsd_flowcache::read_cache_each(&path, |item| {
        from_file.push(format!("{item:?}"));
        Ok(())
    });
    let mut in_memory = Vec::new();
    let decoded = wsd_flowcache::decode_each(input, |item| {
        in_memory.push(format!("{item:?}"));
        Ok(())
    });
    assert_eq!(
        from_file, in_memory,
        "reading the file passed on other items"
    );
    assert_eq!(
        format!("{read:?}"),
        format!("{:?}", decoded.map(Some)),
        "reading the file ended otherwise"
    );
}

/// Decodes `input` as a flow-cache file and, if it decodes, checks that it encodes back
/// to the same contents and that trackers restored from it keep and report every flow.
fn check_cache(input: &[u8]) {
    let Ok(cache) = wsd_flowcache::decode(input) else {
        return;
    };
    let encoded = wsd_flowcache::encode(&cache.snapshot, &cache.writer);
    let again = wsd_flowcache::decode(&encoded).expect("a re-encoded flow cache decodes");
    assert_eq!(
        again.writer, cache.writer,
        "the writer changed in a round trip"
    );
    assert_eq!(
        again.snapshot, cache.snapshot,
        "the snapshot changed in a round trip"
    );

    for max_flows in MAX_FLOWS {
        let config = TrackerConfig {
            max_flows,
            records: ALL_PROTOCOLS,
            ..TrackerConfig::default()
        };
        check_restore_each(input, config, &cache.snapshot);
        let Ok(mut tracker) = Tracker::restore(config, &cache.snapshot) else {
            // Restoring checks the snapshot alone, so it fails for every table size.
            return;
        };
        let evicted = tracker.drain_finished().count();
        if evicted == 0 {
            check_same_flows(&cache.snapshot, &tracker.snapshot());
        }
        tracker.finish();
        let reported = evicted + tracker.drain_finished().count();
        assert_eq!(
            reported,
            cache.snapshot.flows.len(),
            "a tracker restored with max_flows {max_flows} did not report every flow once"
        );
    }
}

/// Checks that restoring the flows of `input` one by one as they are decoded, as
/// `wsd -R` does with one thread, ends as restoring the whole decoded `snapshot`
/// does: with the same error text, or with a tracker that saves the same state.
fn check_restore_each(input: &[u8], config: TrackerConfig, snapshot: &TrackerSnapshot) {
    let mut restorer: Option<TrackerRestorer> = None;
    let decoded = wsd_flowcache::decode_each(input, |item| match item {
        CacheItem::Header {
            clock,
            next_serial,
            flows,
            ..
        } => {
            restorer = Some(TrackerRestorer::new(config, clock, next_serial, flows));
            Ok(())
        }
        CacheItem::Flow(index, flow) => restorer
            .as_mut()
            .expect("the header comes first")
            .add(index, &flow)
            .map_err(|err| err.to_string()),
    });
    let streamed = match decoded {
        Ok(cache) => restorer
            .expect("a decoded cache has a header")
            .finish(&cache.snapshot.fragments)
            .map_err(|err| err.to_string()),
        Err(wsd_flowcache::CacheError::Rejected { detail }) => Err(detail),
        Err(err) => panic!("a cache that decodes whole failed flow by flow: {err}"),
    };
    match (Tracker::restore(config, snapshot), streamed) {
        (Ok(whole), Ok(each)) => assert_eq!(
            whole.snapshot(),
            each.snapshot(),
            "restoring flow by flow saved another state"
        ),
        (Err(whole), Err(each)) => assert_eq!(
            whole.to_string(),
            each,
            "restoring flow by flow failed otherwise"
        ),
        (whole, each) => panic!(
            "restoring whole gave {:?}, flow by flow {:?}",
            whole.map(|_| ()),
            each.map(|_| ())
        ),
    }
}

/// Checks that a restored tracker's snapshot holds the clock, serial number and flows of
/// the snapshot it was restored from, in any order.
fn check_same_flows(saved: &TrackerSnapshot, restored: &TrackerSnapshot) {
    assert_eq!(restored.clock, saved.clock, "restore changed the clock");
    assert_eq!(
        restored.next_serial, saved.next_serial,
        "restore changed the next serial number"
    );
    let mut remaining: Vec<FlowSnapshot> = restored.flows.iter().map(normalized).collect();
    for flow in &saved.flows {
        let flow = normalized(flow);
        let position = remaining.iter().position(|candidate| *candidate == flow);
        let Some(position) = position else {
            panic!("restore lost or changed the flow {flow:?}; restored flows: {remaining:?}");
        };
        remaining.swap_remove(position);
    }
    assert!(
        remaining.is_empty(),
        "restore added the flows {remaining:?}"
    );
}

/// Returns `flow` with the flags that have no meaning cleared: where a side's MAC
/// address came from when it has none, and where its initial sequence number came
/// from when it has none. The next interim time is cleared too, because a tracker
/// without an interim interval drops it on restore.
fn normalized(flow: &FlowSnapshot) -> FlowSnapshot {
    let mut flow = *flow;
    flow.interim_due = None;
    for side in [&mut flow.client, &mut flow.server] {
        side.mac_from_own_packet &= side.mac.is_some();
        side.isn_from_peer_ack &= side.isn.is_some();
    }
    flow
}

/// Computes the CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) that ends every
/// flow-cache file, one bit at a time.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let low_bit = crc & 1;
            crc = (crc >> 1) ^ (0xedb8_8320 & low_bit.wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsd_flow::TrackerSnapshot;

    #[test]
    fn crc32_matches_encoded_trailer() {
        let bytes = wsd_flowcache::encode(&TrackerSnapshot::default(), "test");
        let (body, trailer) = bytes.split_at(bytes.len() - 4);
        assert_eq!(crc32(body).to_le_bytes(), trailer);
    }

    #[test]
    fn crc32_of_check_string() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
