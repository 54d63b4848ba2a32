//! Saving and loading a flow cache of every flow of the flood capture: a
//! million half-open connections at full size.

use std::path::Path;
use std::time::Instant;

use wsd_capture::{FileSource, PacketSource};
use wsd_flow::{Tracker, TrackerConfig, TrackerRestorer};
use wsd_flowcache::CacheItem;

use super::measure::{median, range};
use crate::generate::Capture;

/// The writer name stored in the benchmark's cache file.
const WRITER: &str = "wirespy benchmark";

/// The steps of saving and loading a cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStep {
    /// `Tracker::snapshot`: the table copied out as plain data.
    Snapshot,
    /// `wsd_flowcache::encode`: the snapshot encoded in memory.
    Encode,
    /// `wsd_flowcache::write_cache`: encoding, writing, `fsync` and rename.
    Write,
    /// `wsd_flowcache::read_cache`: reading, checksum and decoding.
    Read,
    /// `Tracker::restore`: the table rebuilt from the decoded snapshot.
    Restore,
    /// Saving as `wsd -W` does: `Tracker::snapshot_lazily` into
    /// `wsd_flowcache::write_cache_lazily`, one flow at a time.
    SaveStreamed,
    /// Loading as `wsd -R` does: `wsd_flowcache::read_cache_each` into a
    /// `TrackerRestorer`, one flow at a time.
    LoadStreamed,
}

impl CacheStep {
    const ALL: [CacheStep; 7] = [
        CacheStep::Snapshot,
        CacheStep::Encode,
        CacheStep::Write,
        CacheStep::Read,
        CacheStep::Restore,
        CacheStep::SaveStreamed,
        CacheStep::LoadStreamed,
    ];

    /// Returns the call timed, as shown in the report.
    pub fn label(self) -> &'static str {
        match self {
            CacheStep::Snapshot => "`Tracker::snapshot`",
            CacheStep::Encode => "`wsd_flowcache::encode`",
            CacheStep::Write => "`write_cache` (encode, write, fsync, rename)",
            CacheStep::Read => "`read_cache` (read, CRC-32, decode)",
            CacheStep::Restore => "`Tracker::restore`",
            CacheStep::SaveStreamed => {
                "saving as `wsd -W` does: `snapshot_lazily` into `write_cache_lazily`"
            }
            CacheStep::LoadStreamed => {
                "loading as `wsd -R` does: `read_cache_each` into `TrackerRestorer`"
            }
        }
    }
}

/// The timings of one cache size.
#[derive(Clone, Debug)]
pub struct CacheTimes {
    /// Flows in the cache.
    pub flows: u64,
    /// Size of the cache file in bytes.
    pub file_bytes: u64,
    /// Wall times in seconds of each step, in [`CacheStep::ALL`] order.
    pub steps: Vec<(CacheStep, Vec<f64>)>,
}

impl CacheTimes {
    /// Returns the median and the range of a step's wall times, in seconds.
    pub fn summary(&self, step: CacheStep) -> (f64, (f64, f64)) {
        self.steps
            .iter()
            .find(|(candidate, _)| *candidate == step)
            .map_or((0.0, (0.0, 0.0)), |(_, secs)| (median(secs), range(secs)))
    }

    /// Returns every step measured, in order.
    pub fn measured_steps(&self) -> impl Iterator<Item = CacheStep> + '_ {
        self.steps.iter().map(|(step, _)| *step)
    }
}

/// Tracks every packet of `flood`, then saves and loads the tracker's flows
/// `runs` times after a warm-up. The cache file goes into `dir`.
pub fn measure(flood: &Capture, runs: usize, dir: &Path) -> Result<CacheTimes, String> {
    let config = TrackerConfig {
        max_flows: TrackerConfig::default()
            .max_flows
            .max(flood.stats.tcp_connections as usize),
        ..TrackerConfig::default()
    };
    let tracker = track_all(&flood.path, config)?;
    let path = dir.join("flows.cache");
    let mut steps: Vec<(CacheStep, Vec<f64>)> = CacheStep::ALL
        .iter()
        .map(|&step| (step, Vec::with_capacity(runs)))
        .collect();

    for run in 0..=runs {
        let times = save_and_load(&tracker, config, &path)?;
        if run > 0 {
            for ((_, secs), time) in steps.iter_mut().zip(times) {
                secs.push(time);
            }
        }
    }
    let file_bytes = std::fs::metadata(&path)
        .map(|meta| meta.len())
        .map_err(|err| format!("cannot read the size of {}: {err}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    Ok(CacheTimes {
        flows: tracker.active_flows() as u64,
        file_bytes,
        steps,
    })
}

/// Runs every packet of the capture at `path` through a tracker and returns it
/// with its flows still open.
fn track_all(path: &Path, config: TrackerConfig) -> Result<Tracker, String> {
    let failed = |err: &dyn std::fmt::Display| format!("cannot read {}: {err}", path.display());
    let mut source = FileSource::open(path).map_err(|err| failed(&err))?;
    let mut tracker = Tracker::new(config);
    while let Some(packet) = source.next_packet().map_err(|err| failed(&err))? {
        let ts = packet.ts;
        let decoded = wsd_decode::decode(packet.linktype, packet.data);
        tracker.process(ts, &decoded);
        tracker.drain_finished().for_each(drop);
    }
    Ok(tracker)
}

/// Saves and loads the flows of `tracker` once and returns the wall time in
/// seconds of each step, in [`CacheStep::ALL`] order.
fn save_and_load(
    tracker: &Tracker,
    config: TrackerConfig,
    path: &Path,
) -> Result<[f64; 7], String> {
    let clock = Instant::now();
    let snapshot = tracker.snapshot();
    let snapshot_secs = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let encoded = wsd_flowcache::encode(&snapshot, WRITER);
    let encode_secs = clock.elapsed().as_secs_f64();
    drop(encoded);

    let clock = Instant::now();
    wsd_flowcache::write_cache(path, &snapshot, WRITER)
        .map_err(|err| format!("cannot write the flow cache {}: {err}", path.display()))?;
    let write_secs = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let cache = wsd_flowcache::read_cache(path)
        .map_err(|err| format!("cannot read the flow cache {}: {err}", path.display()))?
        .ok_or_else(|| format!("the flow cache {} vanished", path.display()))?;
    let read_secs = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let restored = Tracker::restore(config, &cache.snapshot)
        .map_err(|err| format!("cannot restore the flow cache {}: {err}", path.display()))?;
    let restore_secs = clock.elapsed().as_secs_f64();

    check_restored(&restored, tracker)?;
    drop(cache);
    drop(restored);

    let clock = Instant::now();
    let (head, flows) = tracker.snapshot_lazily();
    wsd_flowcache::write_cache_lazily(path, &head, flows, WRITER)
        .map_err(|err| format!("cannot write the flow cache {}: {err}", path.display()))?;
    let save_streamed_secs = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let restored = load_streamed(path, config)?;
    let load_streamed_secs = clock.elapsed().as_secs_f64();
    check_restored(&restored, tracker)?;

    Ok([
        snapshot_secs,
        encode_secs,
        write_secs,
        read_secs,
        restore_secs,
        save_streamed_secs,
        load_streamed_secs,
    ])
}

/// Loads the cache at `path` flow by flow, as `wsd -R` does with one thread.
fn load_streamed(path: &Path, config: TrackerConfig) -> Result<Tracker, String> {
    let failed = |err: &dyn std::fmt::Display| {
        format!("cannot load the flow cache {}: {err}", path.display())
    };
    let mut restorer = None;
    let cache = wsd_flowcache::read_cache_each(path, |item| match item {
        CacheItem::Header {
            clock,
            next_serial,
            flows,
            ..
        } => {
            restorer = Some(TrackerRestorer::new(config, clock, next_serial, flows));
            Ok(())
        }
        CacheItem::Flow(index, flow) => match restorer.as_mut() {
            Some(restorer) => restorer.add(index, &flow).map_err(|err| err.to_string()),
            None => Err("a flow comes before the header".to_string()),
        },
    })
    .map_err(|err| failed(&err))?
    .ok_or_else(|| failed(&"the file vanished"))?;
    let restorer = restorer.ok_or_else(|| failed(&"the cache has no header"))?;
    restorer
        .finish(&cache.snapshot.fragments)
        .map_err(|err| failed(&err))
}

/// Checks that `restored` tracks as many flows as `saved`.
fn check_restored(restored: &Tracker, saved: &Tracker) -> Result<(), String> {
    if restored.active_flows() != saved.active_flows() {
        return Err(format!(
            "the restored tracker has {} flows, the saved one {}",
            restored.active_flows(),
            saved.active_flows()
        ));
    }
    Ok(())
}
