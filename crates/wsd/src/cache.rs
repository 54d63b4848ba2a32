//! The flow cache: loading it before the first packet and saving it at the end.

use std::path::{Path, PathBuf};

use tracing::{info, warn};
use wsd_flow::{
    RestoreOrShardError, ShardedTracker, Tracker, TrackerConfig, TrackerRestorer, TrackerSnapshot,
};
use wsd_flowcache::{CacheItem, FlowCache};

use crate::flows::Flows;
use crate::output::check_cache_to_load;

use crate::run::Failure;
use wsd::cli::Cli;

/// Name and version written into flow caches.
const WRITER: &str = concat!("wsd ", env!("CARGO_PKG_VERSION"));

/// Creates the tracker, with `--threads` workers, continuing the flows of the
/// `-R` cache if one is given.
pub fn load_tracker(cli: &Cli, config: TrackerConfig) -> Result<Flows, Failure> {
    let Some(path) = &cli.rflow else {
        return new_flows(cli, config);
    };
    check_cache_to_load(path)?;
    let loaded = if cli.threads <= 1 {
        restore_single(path, config)
    } else {
        match wsd_flowcache::read_cache(path) {
            Ok(None) => Ok(None),
            Ok(Some(cache)) => match restore_sharded(cli, config, &cache.snapshot)? {
                Ok(tracker) => Ok(Some((tracker, cache.snapshot.flows.len(), cache))),
                Err(reason) => Err(reason),
            },
            Err(err) => Err(err.to_string()),
        }
    };
    match loaded {
        Ok(Some((tracker, flows, cache))) => {
            info!(
                file = %path.display(),
                "loaded {} from the flow cache (written by {}, format version {})",
                crate::run::count(flows as u64, "flow"),
                cache.writer,
                cache.version
            );
            Ok(tracker)
        }
        Ok(None) => {
            info!(file = %path.display(), "flow cache does not exist yet; starting with no flows");
            new_flows(cli, config)
        }
        Err(reason) if cli.discard_bad_cache => {
            let aside = set_aside(path)?;
            warn!(
                file = %path.display(),
                "cannot load the flow cache ({reason}); moved it to {} and starting with no flows",
                aside.display()
            );
            new_flows(cli, config)
        }
        Err(reason) => Err(Failure::Usage(format!(
            "cannot load flow cache {}: {reason}. The file was left as it is; rerun with \
             --discard-bad-cache to move it aside and start with no flows",
            path.display()
        ))),
    }
}

/// Creates an empty tracker with the number of threads `--threads` sets.
fn new_flows(cli: &Cli, config: TrackerConfig) -> Result<Flows, Failure> {
    if cli.threads <= 1 {
        return Ok(Flows::Single(Tracker::new(config)));
    }
    ShardedTracker::new(config, usize::from(cli.threads))
        .map(Flows::Sharded)
        .map_err(|err| Failure::Other(format!("cannot start flow tracking: {err}")))
}

/// Loads the cache at `path` into one tracker, restoring each flow as it is
/// decoded, so that the saved flows are never all in memory beside the table.
/// Returns the tracker, the number of flows and the cache without its flows, or
/// the reason, as text, why the cache cannot be loaded.
fn restore_single(
    path: &Path,
    config: TrackerConfig,
) -> Result<Option<(Flows, usize, FlowCache)>, String> {
    let mut restorer: Option<TrackerRestorer> = None;
    let mut flows = 0;
    let read = wsd_flowcache::read_cache_each(path, |item| match item {
        CacheItem::Header {
            clock,
            next_serial,
            flows: count,
            ..
        } => {
            restorer = Some(TrackerRestorer::new(config, clock, next_serial, count));
            Ok(())
        }
        CacheItem::Flow(index, flow) => {
            flows += 1;
            match restorer.as_mut() {
                Some(restorer) => restorer.add(index, &flow).map_err(|err| err.to_string()),
                None => Err("a flow comes before the header".to_string()),
            }
        }
    });
    let cache = match read {
        Ok(Some(cache)) => cache,
        Ok(None) => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    // Every decoded file passes its header on first.
    let Some(restorer) = restorer else {
        return Err("the cache has no header".to_string());
    };
    let tracker = restorer
        .finish(&cache.snapshot.fragments)
        .map_err(|err| format!("inconsistent contents: {err}"))?;
    Ok(Some((Flows::Single(tracker), flows, cache)))
}

/// Restores the flows of a cache into worker threads. The inner error is the
/// reason, as text, why the cache's contents are inconsistent. The outer one is
/// a failure to start the worker threads, which is no fault of the cache.
fn restore_sharded(
    cli: &Cli,
    config: TrackerConfig,
    snapshot: &TrackerSnapshot,
) -> Result<Result<Flows, String>, Failure> {
    match ShardedTracker::restore(config, snapshot, usize::from(cli.threads)) {
        Ok(tracker) => Ok(Ok(Flows::Sharded(tracker))),
        Err(RestoreOrShardError::Restore(err)) => Ok(Err(format!("inconsistent contents: {err}"))),
        Err(err) => Err(Failure::Other(format!("cannot start flow tracking: {err}"))),
    }
}

/// Renames a bad cache to `NAME.bad-SECONDS` beside it, SECONDS being the Unix
/// time. Only a regular file is moved.
fn set_aside(path: &Path) -> Result<PathBuf, Failure> {
    if !path.is_file() {
        return Err(Failure::Usage(format!(
            "flow cache {} is not a regular file, so it is not moved aside; give the cache file with -R",
            path.display()
        )));
    }
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".bad-{seconds}"));
    let aside = path.with_file_name(name);
    std::fs::rename(path, &aside).map_err(|err| {
        Failure::Other(format!(
            "cannot move flow cache {} aside to {}: {err}",
            path.display(),
            aside.display()
        ))
    })?;
    Ok(aside)
}

/// Writes the `-W` cache if one is given.
pub fn save_tracker(cli: &Cli, tracker: &mut Flows) -> Result<(), Failure> {
    let Some(path) = &cli.wflow else {
        return Ok(());
    };
    // The flows reach the writer one by one, so that a large table is never
    // copied whole.
    let written = match tracker {
        Flows::Single(tracker) => {
            let (snapshot, flows) = tracker.snapshot_lazily();
            wsd_flowcache::write_cache_lazily(path, &snapshot, flows, WRITER)
        }
        // Saving waits for the workers, so the records of flows that finished
        // meanwhile are ready to write after it.
        Flows::Sharded(tracker) => match tracker.snapshot_lazily() {
            Ok((snapshot, flows)) => {
                wsd_flowcache::write_cache_each(path, &snapshot, flows, WRITER)
            }
            Err(err) => return Err(Failure::Other(format!("flow tracking failed: {err}"))),
        },
    };
    match written {
        Ok(count) => {
            info!(
                file = %path.display(),
                "saved {} to the flow cache",
                crate::run::count(count, "unfinished flow")
            );
            Ok(())
        }
        Err(err) => Err(Failure::Other(format!(
            "cannot write flow cache {}: {err}; its {} unfinished flows were written to the log \
             as records instead",
            path.display(),
            tracker.active_flows()
        ))),
    }
}
