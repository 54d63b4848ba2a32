//! A file run: every input in order through decode, tracking and formatting.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::{debug, info, warn};
use wsd_capture::{FileSource, PacketSource};
use wsd_decode::StopReason;
use wsd_flow::{RecordProtocols, Tracker, TrackerConfig};
use wsd_logfmt::{LocalTimeFormatter, LogWriter};

use crate::cli::Cli;
use crate::progress::Progress;

/// Size of the output buffer: large enough that writes cost little per record.
const OUTPUT_BUFFER: usize = 256 * 1024;

/// How a run failed, which decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or unreadable input: exit status 2.
    Usage(String),
    /// Any other failure, such as an output write error: exit status 1.
    Other(String),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Other(_) => 1,
        }
    }

    /// The message for the user.
    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(message) | Failure::Other(message) => message,
        }
    }
}

/// Totals of a run, reported once at the end.
#[derive(Debug, Default)]
pub struct Summary {
    packets: u64,
    bytes: u64,
    records: u64,
    malformed_records: u64,
    stopped: BTreeMap<StopReason, u64>,
}

impl Summary {
    fn log(&self, tracker: &Tracker) {
        let stats = tracker.stats();
        let problems: Vec<String> = self
            .stopped
            .iter()
            .map(|(reason, count)| format!("{} {count}", reason.name()))
            .collect();
        let problems = if problems.is_empty() {
            "none".to_string()
        } else {
            problems.join(", ")
        };
        info!(
            "finished: {} packets, {} bytes, {} flow records ({} evicted from a full table), \
             {} unreadable capture records; packets not fully decoded: {problems}",
            self.packets, self.bytes, self.records, stats.evicted, self.malformed_records,
        );
    }
}

/// Where records go, and the name to use for it in messages.
struct Output {
    writer: LogWriter<BufWriter<Box<dyn Write>>>,
    name: String,
}

impl Output {
    fn write_error(&self, err: io::Error) -> Failure {
        Failure::Other(format!("cannot write to {}: {err}", self.name))
    }
}

/// Name and version written into flow caches.
const WRITER: &str = concat!("wsd ", env!("CARGO_PKG_VERSION"));

/// Runs `wsd` over the input files named on the command line.
pub fn run(cli: &Cli) -> Result<(), Failure> {
    let inputs = check_inputs(&cli.read)?;
    let config = tracker_config(cli)?;
    let mut tracker = load_tracker(cli, config)?;
    let mut output = open_output(cli, &inputs)?;
    let stop = stop_on_signals()?;
    let mut summary = Summary::default();
    let total_bytes = inputs.iter().filter_map(|input| input.len).sum();
    let mut progress = Progress::new(total_bytes);
    let mut done_bytes = 0;

    // Flows evicted while restoring a cache larger than the table come out first.
    let mut result = write_finished(&mut tracker, &mut output, &mut summary);

    for input in &inputs {
        if result.is_err() || stop.load(Ordering::Relaxed) {
            break;
        }
        let mut source = match open_source(&input.path) {
            Ok(source) => source,
            Err(failure) => {
                result = Err(failure);
                break;
            }
        };
        debug!(file = %input.path.display(), "reading");
        result = process_source(
            &mut source,
            cli.verbose,
            &mut tracker,
            &mut output,
            &mut summary,
            &mut progress,
            done_bytes,
            &stop,
        );
        done_bytes += source.position();
        summary.malformed_records += source.stats().malformed_records;
    }

    progress.clear();
    if stop.load(Ordering::Relaxed) {
        info!("stopped by a signal: finishing as at the end of the input");
    }
    let (saved, written) = finish_flows(cli, &mut tracker, &mut output, &mut summary);
    summary.log(&tracker);
    combine_failures(result.and(written), saved, cli.wflow.is_some())
}

/// The outcome of a run from the outcome of reading and writing and that of
/// saving the cache: a failure of the first kind comes first, and says whether
/// the open flows still reached the cache.
fn combine_failures(
    run: Result<(), Failure>,
    saved: Result<(), Failure>,
    has_cache: bool,
) -> Result<(), Failure> {
    match (run, saved) {
        (Ok(()), saved) => saved,
        (Err(failure), Ok(())) if has_cache => Err(Failure::Other(format!(
            "{}; the flows still open were saved to the flow cache",
            failure.message()
        ))),
        (Err(failure), _) => Err(failure),
    }
}

/// Saves the open flows to the `-W` cache, or reports them when there is no
/// cache or it cannot be written, then flushes the log. Runs even after a
/// failure, so that whatever can be saved is. Returns the outcome of saving and
/// that of writing the log.
fn finish_flows(
    cli: &Cli,
    tracker: &mut Tracker,
    output: &mut Output,
    summary: &mut Summary,
) -> (Result<(), Failure>, Result<(), Failure>) {
    let saved = save_tracker(cli, tracker);
    if saved.is_err() || cli.wflow.is_none() {
        // Without a cache, or when it could not be written, every flow still
        // open is reported, so none is lost.
        tracker.finish();
    }
    let written = write_finished(tracker, output, summary)
        .and_then(|()| output.writer.flush().map_err(|err| output.write_error(err)));
    (saved, written)
}

/// Sets a flag on SIGINT or SIGTERM, so that the run ends as at the end of its
/// input. A second signal of either kind ends the process at once.
fn stop_on_signals() -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|err| Failure::Other(format!("cannot install the signal handler: {err}")))?;
    }
    Ok(stop)
}

/// Creates the tracker, continuing the flows of the `-R` cache if one is given.
fn load_tracker(cli: &Cli, config: TrackerConfig) -> Result<Tracker, Failure> {
    let Some(path) = &cli.rflow else {
        return Ok(Tracker::new(config));
    };
    let loaded = match wsd_flowcache::read_cache(path) {
        Ok(None) => Ok(None),
        Ok(Some(cache)) => match Tracker::restore(config, &cache.snapshot) {
            Ok(tracker) => Ok(Some((tracker, cache))),
            Err(err) => Err(format!("inconsistent contents: {err}")),
        },
        Err(err) => Err(err.to_string()),
    };
    match loaded {
        Ok(Some((tracker, cache))) => {
            info!(
                file = %path.display(),
                "loaded {} flows from the flow cache (written by {}, format version {})",
                cache.snapshot.flows.len(),
                cache.writer,
                cache.version
            );
            Ok(tracker)
        }
        Ok(None) => {
            info!(file = %path.display(), "flow cache does not exist yet; starting with no flows");
            Ok(Tracker::new(config))
        }
        Err(reason) if cli.discard_bad_cache => {
            let aside = set_aside(path)?;
            warn!(
                file = %path.display(),
                "cannot load the flow cache ({reason}); moved it to {} and starting with no flows",
                aside.display()
            );
            Ok(Tracker::new(config))
        }
        Err(reason) => Err(Failure::Usage(format!(
            "cannot load flow cache {}: {reason}. The file was left as it is; rerun with \
             --discard-bad-cache to move it aside and start with no flows",
            path.display()
        ))),
    }
}

/// Renames a bad cache to `NAME.bad-SECONDS` beside it.
fn set_aside(path: &Path) -> Result<PathBuf, Failure> {
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
fn save_tracker(cli: &Cli, tracker: &Tracker) -> Result<(), Failure> {
    let Some(path) = &cli.wflow else {
        return Ok(());
    };
    let snapshot = tracker.snapshot();
    match wsd_flowcache::write_cache(path, &snapshot, WRITER) {
        Ok(()) => {
            info!(
                file = %path.display(),
                "saved {} unfinished flows to the flow cache",
                snapshot.flows.len()
            );
            Ok(())
        }
        Err(err) => Err(Failure::Other(format!(
            "cannot write flow cache {}: {err}; its {} unfinished flows were written to the log \
             as records instead",
            path.display(),
            snapshot.flows.len()
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn process_source(
    source: &mut FileSource,
    verbose: bool,
    tracker: &mut Tracker,
    output: &mut Output,
    summary: &mut Summary,
    progress: &mut Progress,
    done_bytes: u64,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    let name = source.name().to_string();
    while !stop.load(Ordering::Relaxed) {
        let packet = match source.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(err) => {
                // Everything read before the failure still counts; the run goes on
                // with the next input after saying what was lost.
                warn!(file = %name, "stopped reading: {err}");
                break;
            }
        };
        summary.packets += 1;
        summary.bytes += u64::from(packet.orig_len);
        let decoded = wsd_decode::decode(packet.linktype, packet.data);
        if let Some(reason) = decoded.stop {
            *summary.stopped.entry(reason).or_insert(0) += 1;
        }
        let ts = packet.ts;
        let outcome = tracker.process(ts, &decoded);
        write_finished(tracker, output, summary)?;
        if verbose {
            if let Err(err) = output.writer.write_packet_line(ts, &decoded, &outcome) {
                return Err(output.write_error(err));
            }
        }
        if progress.enabled() && summary.packets % 4096 == 0 {
            progress.update(
                done_bytes + source.position(),
                summary.packets,
                tracker.active_flows(),
            );
        }
    }
    Ok(())
}

fn write_finished(
    tracker: &mut Tracker,
    output: &mut Output,
    summary: &mut Summary,
) -> Result<(), Failure> {
    for record in tracker.drain_finished() {
        summary.records += 1;
        if let Err(err) = output.writer.write_flow_record(&record) {
            return Err(output.write_error(err));
        }
    }
    Ok(())
}

/// An input file checked before the run starts.
struct Input {
    path: PathBuf,
    len: Option<u64>,
}

/// Checks that every input opens as a capture before any is processed, so that a
/// typo in the last file name does not surface after an hour of work.
fn check_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, Failure> {
    let mut inputs = Vec::with_capacity(paths.len());
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input {
                path: path.clone(),
                len: None,
            });
            continue;
        }
        let source = open_source(path)?;
        inputs.push(Input {
            path: path.clone(),
            len: source.len(),
        });
    }
    Ok(inputs)
}

fn open_source(path: &Path) -> Result<FileSource, Failure> {
    let result = if path.as_os_str() == "-" {
        FileSource::from_reader("standard input".to_string(), io::stdin(), None)
    } else {
        FileSource::open(path)
    };
    result.map_err(|err| Failure::Usage(err.to_string()))
}

fn tracker_config(cli: &Cli) -> Result<TrackerConfig, Failure> {
    let seconds = |name: &str, value: f64| {
        if (0.0..=1e9).contains(&value) {
            Ok((value * 1e9) as i64)
        } else {
            Err(Failure::Usage(format!(
                "invalid value {value} for --{name}: expected a number of seconds from 0 to 1000000000"
            )))
        }
    };
    Ok(TrackerConfig {
        tcp_idle_timeout: seconds("idle-timeout", cli.idle_timeout)?,
        linger: seconds("linger", cli.linger)?,
        max_flows: usize::try_from(cli.max_flows).unwrap_or(usize::MAX),
        records: RecordProtocols::TCP_ONLY,
        ..TrackerConfig::default()
    })
}

fn open_output(cli: &Cli, inputs: &[Input]) -> Result<Output, Failure> {
    let path = match &cli.logfile {
        Some(path) if path.as_os_str() == "-" => {
            return Ok(Output {
                writer: log_writer(Box::new(io::stdout())),
                name: "standard output".to_string(),
            });
        }
        Some(path) => path.clone(),
        None => {
            std::fs::create_dir_all(&cli.logdir).map_err(|err| {
                Failure::Usage(format!(
                    "cannot create log directory {}: {err}; choose another with -l DIR or write to a file with -L FILE",
                    cli.logdir.display()
                ))
            })?;
            cli.logdir.join(generated_log_name())
        }
    };
    refuse_input_as_output(&path, inputs)?;
    if path.is_dir() {
        return Err(Failure::Usage(format!(
            "log file {} is a directory; give a file name with -L, or use -l to choose the log directory",
            path.display()
        )));
    }
    let file = File::create(&path).map_err(|err| {
        Failure::Usage(format!("cannot create log file {}: {err}", path.display()))
    })?;
    debug!(file = %path.display(), "writing records");
    Ok(Output {
        writer: log_writer(Box::new(file)),
        name: path.display().to_string(),
    })
}

fn log_writer(inner: Box<dyn Write>) -> LogWriter<BufWriter<Box<dyn Write>>> {
    LogWriter::new(
        BufWriter::with_capacity(OUTPUT_BUFFER, inner),
        LocalTimeFormatter::system(),
    )
}

/// Rejects an output path that names one of the inputs, which creating the log
/// would destroy.
fn refuse_input_as_output(path: &Path, inputs: &[Input]) -> Result<(), Failure> {
    let Ok(output) = path.canonicalize() else {
        return Ok(());
    };
    for input in inputs {
        if input.path.canonicalize().is_ok_and(|input| input == output) {
            return Err(Failure::Usage(format!(
                "log file {} is also an input file; choose another name with -L",
                path.display()
            )));
        }
    }
    Ok(())
}

/// `{hostname}_{YYYYMMDD}_{HHMMSS}.log` in local time.
fn generated_log_name() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    };
    let now = jiff::ZonedDateTime::now();
    format!("{host}_{}.log", now.strftime("%Y%m%d_%H%M%S"))
}
