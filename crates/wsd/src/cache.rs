//! The flow cache: loading it before the first packet and saving it at the end.

use std::io;
use std::path::{Path, PathBuf};

use tracing::{info, warn};
use wsd_capture::Timestamp;
use wsd_flow::{
    FlowRecord, FlowSnapshot, RestoreError, RestoreOrShardError, ShardedOverLimit, ShardedRestorer,
    ShardedTracker, Surplus, SurplusPicker, Tracker, TrackerConfig, TrackerRestorer,
};
use wsd_flowcache::{CacheError, CacheFile, CacheItem, FlowCache};

use crate::flows::Flows;
use crate::output::check_cache_to_load;

use crate::run::Failure;
use wsd::cli::Cli;

/// Name and version written into flow caches.
const WRITER: &str = concat!("wsd ", env!("CARGO_PKG_VERSION"));

/// Flows evicted from each table at a time when a cache has more flows than the
/// tables allow, so that only their records are in memory at once, not those of
/// the whole surplus.
const EVICTION_CHUNK: usize = 4096;

/// The tracker of a run as loaded, before the flows beyond the table's limit
/// are evicted and the worker threads get their tables.
// A run has one, so boxing the larger variants would gain nothing.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    /// A tracker in the reading thread, which can contain more flows than its
    /// limit, and the flows of the cache it has no room for.
    Single(Tracker, Option<CacheSurplus>),
    /// The tables of the worker threads, which can contain more flows than
    /// their limits, and the flows of the cache they have no room for.
    Sharded(ShardedOverLimit, Option<CacheSurplus>),
    /// A tracker with no flows yet.
    Empty(Flows),
}

impl Loaded {
    /// Evicts the flows beyond the table's limit a chunk at a time, passing
    /// each record to `write` as it comes, and returns the tracker ready for
    /// the first packet.
    pub fn start(self, mut write: impl FnMut(&FlowRecord)) -> Result<Flows, Failure> {
        match self {
            Loaded::Single(mut tracker, surplus) => {
                if let Some(surplus) = surplus {
                    surplus.evict(&mut tracker, &mut write)?;
                }
                while tracker.evict_surplus(EVICTION_CHUNK) > 0 {
                    tracker.drain_finished().for_each(|record| write(&record));
                }
                Ok(Flows::Single(tracker))
            }
            Loaded::Sharded(mut tables, surplus) => {
                if let Some(surplus) = surplus {
                    surplus.evict(&mut tables, &mut write)?;
                }
                while let Some(records) = tables.evict_surplus(EVICTION_CHUNK) {
                    records.iter().for_each(&mut write);
                }
                tables
                    .start()
                    .map(Flows::Sharded)
                    .map_err(|err| Failure::Other(format!("cannot start flow tracking: {err}")))
            }
            Loaded::Empty(flows) => Ok(flows),
        }
    }
}

/// The flows of a cache with more flows than `--max-flows` that the tables
/// would evict at once. They are left in the file, held open, and read again
/// for their records once the log is open, so that the whole cache is never in
/// memory.
pub struct CacheSurplus {
    file: CacheFile,
    picked: Surplus,
}

impl CacheSurplus {
    /// Reads the cache again and reports the flows picked as evicted from
    /// `tables`, passing their records to `write` a chunk at a time.
    fn evict(
        mut self,
        tables: &mut impl EvictSaved,
        write: &mut impl FnMut(&FlowRecord),
    ) -> Result<(), Failure> {
        let picked = &self.picked;
        let mut pending = 0;
        let mut evicted = 0u64;
        let read = self.file.read_each(|item| {
            let CacheItem::Flow(index, saved) = item else {
                return Ok(());
            };
            if !picked.contains(&saved) {
                return Ok(());
            }
            tables
                .evict_saved(index, &saved)
                .map_err(|err| err.to_string())?;
            pending += 1;
            evicted += 1;
            if pending == EVICTION_CHUNK {
                tables.drain_evicted().iter().for_each(&mut *write);
                pending = 0;
            }
            Ok(())
        });
        tables.drain_evicted().iter().for_each(&mut *write);
        read.map(drop).map_err(|err| {
            // The earlier readings checked the whole file, so only a change
            // made in place by another program, or the disk, fails this one.
            let cause = match err {
                CacheError::Io { .. } => "",
                _ => " The file changed in place while this run read it.",
            };
            let written = match evicted {
                0 => "No record of the cache's flows is in the log".to_string(),
                _ => format!(
                    "The log has the records of {}, so remove it",
                    crate::run::count(evicted, "evicted flow")
                ),
            };
            Failure::Other(format!(
                "cannot read flow cache {} again for the flows beyond --max-flows: {err}.{cause} \
                 {written}; no packet was read. Restore the cache from a copy if it was \
                 damaged, and run again",
                self.file.path().display(),
            ))
        })
    }
}

/// Tables that the flows of a [`CacheSurplus`] are evicted from.
trait EvictSaved {
    /// Reports a saved flow as evicted.
    fn evict_saved(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError>;
    /// Returns the records of the flows evicted since the last call.
    fn drain_evicted(&mut self) -> Vec<FlowRecord>;
}

impl EvictSaved for Tracker {
    fn evict_saved(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        Tracker::evict_saved(self, index, saved)
    }

    fn drain_evicted(&mut self) -> Vec<FlowRecord> {
        self.drain_finished().collect()
    }
}

impl EvictSaved for ShardedOverLimit {
    fn evict_saved(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        ShardedOverLimit::evict_saved(self, index, saved)
    }

    fn drain_evicted(&mut self) -> Vec<FlowRecord> {
        ShardedOverLimit::drain_evicted(self)
    }
}

/// Creates the tracker, with `--threads` workers, continuing the flows of the
/// `-R` cache if one is given.
pub fn load_tracker(cli: &Cli, config: TrackerConfig) -> Result<Loaded, Failure> {
    let Some(path) = &cli.rflow else {
        return new_flows(cli, config).map(Loaded::Empty);
    };
    check_cache_to_load(path, cli.chroot.as_deref())?;
    match restore(path, config, usize::from(cli.threads))? {
        Ok(Some((tracker, flows, cache))) => {
            info!(
                file = %path.display(),
                "loaded {} from the flow cache (written by {}, format version {})",
                crate::run::count(flows as u64, "flow"),
                cache.writer,
                cache.version
            );
            if flows as u64 > cli.max_flows {
                warn!(
                    file = %path.display(),
                    "the flow cache has more flows than --max-flows {} allows, so at least {} \
                     are reported as evicted before the first packet; raise --max-flows to \
                     go on with them",
                    cli.max_flows,
                    flows as u64 - cli.max_flows
                );
            }
            Ok(tracker)
        }
        Ok(None) => {
            info!(file = %path.display(), "flow cache does not exist yet; starting with no flows");
            new_flows(cli, config).map(Loaded::Empty)
        }
        Err(reason) if cli.discard_bad_cache => {
            let aside = set_aside(path)?;
            warn!(
                file = %path.display(),
                "cannot load the flow cache ({reason}); moved it to {} and starting with no flows",
                aside.display()
            );
            new_flows(cli, config).map(Loaded::Empty)
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

/// The tracker being restored from a cache, with one thread or more.
// A run has one, so boxing the larger variant would gain nothing.
#[allow(clippy::large_enum_variant)]
enum Restoring {
    Single(TrackerRestorer),
    Sharded(ShardedRestorer),
}

impl Restoring {
    fn new(config: TrackerConfig, header: &Header, count: usize, threads: usize) -> Restoring {
        let (clock, next_serial) = (header.clock, header.next_serial);
        if threads <= 1 {
            Restoring::Single(TrackerRestorer::new(config, clock, next_serial, count))
        } else {
            let restorer = ShardedRestorer::new(config, clock, next_serial, count, threads);
            Restoring::Sharded(restorer)
        }
    }

    fn add(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        match self {
            Restoring::Single(restorer) => restorer.add(index, saved),
            Restoring::Sharded(restorer) => restorer.add(index, saved),
        }
    }

    fn check(&mut self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        match self {
            Restoring::Single(restorer) => restorer.check(index, saved),
            Restoring::Sharded(restorer) => restorer.check(index, saved),
        }
    }

    fn check_key(&self, index: usize, saved: &FlowSnapshot) -> Result<(), RestoreError> {
        match self {
            Restoring::Single(restorer) => restorer.check_key(index, saved),
            Restoring::Sharded(restorer) => restorer.check_key(index, saved),
        }
    }
}

/// The fields of a cache's header that a restorer starts from.
struct Header {
    clock: Option<Timestamp>,
    next_serial: u64,
}

/// The task of one reading of the cache.
// A run has one, so boxing the larger variants would gain nothing.
#[allow(clippy::large_enum_variant)]
enum Reading {
    /// Nothing yet: the header has not come.
    Start,
    /// Picking the flows that the tables have no room for, in a first reading
    /// of a regular file with more flows than `--max-flows`.
    Picking(SurplusPicker, Header),
    /// Restoring each flow, or, with a surplus picked, each flow not picked.
    Restoring(Restoring),
}

/// A restored tracker, the number of its flows and the cache without them, or
/// none when there is no cache file.
type Restored = Option<(Loaded, usize, FlowCache)>;

/// Loads the cache at `path` into a tracker with `threads` threads, restoring
/// each flow as it is decoded, so that the saved flows are never all in memory
/// beside the tables. Returns the tracker, the number of flows and the cache
/// without its flows, or in the inner error the reason, as text, why the cache
/// cannot be loaded. The outer error is a failure to start the worker threads,
/// which is no fault of the cache.
///
/// A regular file that contains more flows than `--max-flows` is read four
/// times. The first reading picks the flows that the tables would evict at
/// once, the second restores the others, and the third checks that no picked
/// flow repeats the key of a flow restored. The picked flows are evicted in
/// the fourth, when [`Loaded::start`] can write their records.
fn restore(
    path: &Path,
    config: TrackerConfig,
    threads: usize,
) -> Result<Result<Restored, String>, Failure> {
    let mut file = match CacheFile::open(path) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(Ok(None)),
        Err(err) => return cache_error(path, err),
    };
    let may_pick = file.rereadable();
    let mut reading = Reading::Start;
    let mut flows = 0;
    let read = file.read_each(|item| match item {
        CacheItem::Header {
            clock,
            next_serial,
            flows: count,
            ..
        } => {
            let header = Header { clock, next_serial };
            reading = if may_pick && count > config.max_flows {
                Reading::Picking(SurplusPicker::new(&config, threads), header)
            } else {
                Reading::Restoring(Restoring::new(config, &header, count, threads))
            };
            Ok(())
        }
        CacheItem::Flow(index, flow) => {
            flows += 1;
            match &mut reading {
                Reading::Start => Err("a flow comes before the header".to_string()),
                Reading::Picking(picker, _) => {
                    picker.add(&flow);
                    Ok(())
                }
                Reading::Restoring(restorer) => {
                    restorer.add(index, &flow).map_err(|err| err.to_string())
                }
            }
        }
    });
    let mut cache = match read {
        Ok(cache) => cache,
        Err(err) => return cache_error(path, err),
    };
    let (restoring, surplus) = match reading {
        Reading::Start => return Ok(Err("the cache has no header".to_string())),
        Reading::Restoring(restoring) => (restoring, None),
        Reading::Picking(picker, header) => {
            let picked = picker.finish(&cache.snapshot.fragments);
            let kept_count = flows.min(config.max_flows);
            let mut restoring = Restoring::new(config, &header, kept_count, threads);
            let read = file.read_each(|item| match item {
                CacheItem::Header { .. } => Ok(()),
                CacheItem::Flow(index, flow) if picked.contains(&flow) => {
                    restoring.check(index, &flow).map_err(|err| err.to_string())
                }
                CacheItem::Flow(index, flow) => {
                    restoring.add(index, &flow).map_err(|err| err.to_string())
                }
            });
            cache = match read {
                Ok(cache) => cache,
                Err(err) => return cache_error(path, err),
            };
            // A picked flow that repeats the key of a later flow is found only
            // now that the others are in. The check is made before the log is
            // open, so that such a cache is set aside as a whole.
            let read = file.read_each(|item| match item {
                CacheItem::Flow(index, flow) if picked.contains(&flow) => restoring
                    .check_key(index, &flow)
                    .map_err(|err| err.to_string()),
                _ => Ok(()),
            });
            if let Err(err) = read {
                return cache_error(path, err);
            }
            (restoring, Some(CacheSurplus { file, picked }))
        }
    };
    let inconsistent = |err: RestoreError| format!("inconsistent contents: {err}");
    let fragments = &cache.snapshot.fragments;
    let tracker = match restoring {
        Restoring::Single(restorer) => match restorer.finish_over_limit(fragments) {
            Ok(tracker) => Loaded::Single(tracker, surplus),
            Err(err) => return Ok(Err(inconsistent(err))),
        },
        // The threads start here, before the privileges are dropped and before
        // any record of the surplus is written.
        Restoring::Sharded(restorer) => match restorer.finish_over_limit(fragments) {
            Ok(tables) => Loaded::Sharded(tables, surplus),
            Err(RestoreOrShardError::Restore(err)) => return Ok(Err(inconsistent(err))),
            Err(err) => {
                return Err(Failure::Other(format!("cannot start flow tracking: {err}")));
            }
        },
    };
    Ok(Ok(Some((tracker, flows, cache))))
}

/// Sorts a failed reading of the cache at `path`: a file that could not be
/// read is a failure of the run, any other error a reason to set it aside.
fn cache_error<T>(path: &Path, err: CacheError) -> Result<Result<T, String>, Failure> {
    match err {
        err @ CacheError::Io { .. } => Err(unreadable_cache(path, &err)),
        err => Ok(Err(err.to_string())),
    }
}

/// Returns the failure of a cache file that could not be opened or read. The
/// file may be sound, so it is never moved aside, even with
/// `--discard-bad-cache`.
fn unreadable_cache(path: &Path, err: &CacheError) -> Failure {
    let advice = match err {
        CacheError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
            "let the user wsd runs as read it and enter each directory above it"
        }
        _ => "check the disk and run again",
    };
    Failure::Usage(format!(
        "cannot load flow cache {}: {err}. The file was left as it is; {advice}",
        path.display()
    ))
}

/// Renames a bad cache to `NAME.bad-SECONDS` beside it, SECONDS being the Unix
/// time, or to `NAME.bad-SECONDS-N` with the first N from 2 on that is free, so
/// that a cache set aside earlier in the same second is kept. Only a regular
/// file is moved.
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
    let name = path.file_name().unwrap_or_default();
    let mut result = Err(io::Error::from(io::ErrorKind::AlreadyExists));
    let mut aside = PathBuf::new();
    for number in 1..=MAX_ASIDE_NAMES {
        let mut candidate = name.to_os_string();
        match number {
            1 => candidate.push(format!(".bad-{seconds}")),
            _ => candidate.push(format!(".bad-{seconds}-{number}")),
        }
        aside = path.with_file_name(candidate);
        result = rename_without_replacing(path, &aside);
        let name_in_use = result
            .as_ref()
            .is_err_and(|err| err.kind() == io::ErrorKind::AlreadyExists);
        if !name_in_use {
            break;
        }
    }
    result.map_err(|err| {
        Failure::Other(format!(
            "cannot move flow cache {} aside to {}: {err}",
            path.display(),
            aside.display()
        ))
    })?;
    Ok(aside)
}

/// Names tried for a cache set aside in one second.
const MAX_ASIDE_NAMES: u32 = 1000;

/// Renames `from` to `to` unless `to` exists, which gives an error of kind
/// `AlreadyExists`. A file system that cannot rename without replacing gets a
/// check for `to` before a plain rename.
fn rename_without_replacing(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            // NOTE: a file created at `to` between this check and the rename
            // is replaced.
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            std::fs::rename(from, to)
        }
        Err(errno) => Err(errno.into()),
    }
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
        // The caller adds where the flows went instead, once it has written
        // them.
        Err(err) => {
            let old = if path.exists() {
                "the old cache was left as it was"
            } else {
                "no cache was created"
            };
            Err(Failure::Other(format!(
                "cannot write flow cache {}: {err}; {old}",
                path.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error(kind: io::ErrorKind) -> CacheError {
        CacheError::Io {
            operation: "reading /var/lib/wsd/flows.cache".to_string(),
            source: io::Error::from(kind),
        }
    }

    #[test]
    fn unreadable_cache_names_permission() {
        let path = Path::new("/var/lib/wsd/flows.cache");

        let failure = unreadable_cache(path, &io_error(io::ErrorKind::PermissionDenied));

        assert_eq!(failure.exit_code(), 2);
        let message = failure.message();
        assert!(message.contains("permission denied"), "{message}");
        assert!(
            message.contains("enter each directory above it"),
            "{message}"
        );
        assert!(!message.contains("--discard-bad-cache"), "{message}");
    }

    /// A cache cut in place by another program after it was loaded fails the
    /// reading of its surplus, before any record, with a message that names the change.
    #[test]
    fn cache_cut_before_surplus_reported() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let flood = wsd_synth::FloodConfig {
            connections: 5_000,
            ..wsd_synth::FloodConfig::default()
        };
        wsd_synth::syn_flood(&flood, |ts, frame| {
            let packet = wsd_decode::decode(wsd_decode::linktype::ETHERNET, frame);
            tracker.process(ts, &packet);
            Ok::<(), ()>(())
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.cache");
        wsd_flowcache::write_cache(&path, &tracker.snapshot(), "test").unwrap();
        let config = TrackerConfig {
            max_flows: 10,
            ..TrackerConfig::default()
        };
        let Ok(Ok(Some((loaded, flows, _)))) = restore(&path, config, 1) else {
            panic!("the cache did not load");
        };
        assert_eq!(flows, 5_000);

        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(std::fs::metadata(&path).unwrap().len() / 2)
            .unwrap();
        let mut written = 0;
        let Err(failure) = loaded.start(|_| written += 1) else {
            panic!("the cut cache was read");
        };

        // The reading checks the whole file before it passes on a flow.
        let message = failure.message();
        assert_eq!(written, 0);
        assert!(message.contains("changed in place"), "{message}");
        assert!(
            message.contains("No record of the cache's flows"),
            "{message}"
        );
    }

    #[test]
    fn unreadable_cache_other_error() {
        let path = Path::new("/var/lib/wsd/flows.cache");

        let failure = unreadable_cache(path, &io_error(io::ErrorKind::Other));

        assert!(failure.message().contains("check the disk"));
    }
}
