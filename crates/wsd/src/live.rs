//! A live run: packets from an interface through the same steps as a file run,
//! with flow timeouts advanced by the clock while the link is quiet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};
use wsd_capture::live::{select_device, CaptureStats};
use wsd_capture::{Libpcap, LiveConfig, LiveError, LiveEvent, LiveSource};

use crate::diagnostics::Diagnostics;
use crate::flows::Flows;
use crate::output::{open_output, Output};
use crate::run::{
    combine_failures, finish_flows, frame_decoder, load_tracker_marked, mark_finished,
    process_packet, start_flows, stop_on_signals, tracker_config, write_finished, Failure, Summary,
};
use crate::startup::{catch_hangup, rotate_between_records, StartUp};
use wsd::cli::Cli;

/// Environment variable naming the libpcap file to load instead of the usual
/// names. It exists for tests, which point it at a missing name to check how wsd
/// behaves without libpcap, and for systems where libpcap has another name.
pub const LIBPCAP_ENV: &str = "WSD_LIBPCAP";

/// How often the drop counters are read during a capture.
const STATS_INTERVAL: Duration = Duration::from_secs(60);

/// How long written records may wait in the output buffer while packets keep
/// arriving. A quiet link flushes them at each read timeout.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Loads libpcap for `purpose`, which names the feature that needs it.
pub fn load_libpcap(purpose: &str) -> Result<Libpcap, Failure> {
    let loaded = match std::env::var(LIBPCAP_ENV) {
        Ok(name) if !name.is_empty() => Libpcap::load_from(&[name.as_str()]),
        _ => Libpcap::load(),
    };
    let libpcap = loaded
        .map_err(|err| Failure::Other(format!("{purpose} needs libpcap, which failed: {err}")))?;
    debug!(library = libpcap.name(), version = %libpcap.version(), "loaded libpcap");
    Ok(libpcap)
}

/// Returns the failure for a capture or filter error: an invalid filter is a usage
/// error, anything else is not.
pub fn live_failure(err: LiveError) -> Failure {
    if err.is_usage_error() {
        Failure::Usage(err.to_string())
    } else {
        Failure::Other(err.to_string())
    }
}

/// Captures from the interface of `-i`, or the default one, until SIGINT or
/// SIGTERM, then finishes as a file run does at the end of its input. The
/// interface and the log directory are open before `startup` drops privileges
/// and detaches.
pub fn run_live(cli: &Cli, startup: &StartUp, diagnostics: &Diagnostics) -> Result<(), Failure> {
    let libpcap = load_libpcap("live capture")?;
    let config = tracker_config(cli)?;
    let device = match &cli.iniface {
        Some(name) => name.clone(),
        None => {
            let devices = libpcap.devices().map_err(live_failure)?;
            select_device(&devices, None).map_err(live_failure)?
        }
    };
    let live_config = LiveConfig {
        snaplen: cli.snaplen,
        promiscuous: !cli.no_promisc,
        buffer_size: cli.buffer_size.map(|mib| mib.saturating_mul(1024 * 1024)),
        filter: (!cli.filter.is_empty()).then(|| cli.filter.join(" ")),
        ..LiveConfig::new(device)
    };
    let mut source = LiveSource::open(&libpcap, &live_config).map_err(|err| match err {
        LiveError::Open { .. } if err.to_string().contains("No such device") => Failure::Usage(
            format!("{err}; `ip link` lists the interfaces, give one with -i"),
        ),
        LiveError::Open { .. } => Failure::Other(format!(
            "{err}; check that the interface is up and that wsd runs as root or with \
             the CAP_NET_RAW capability"
        )),
        other => live_failure(other),
    })?;
    // A signal while a large cache loads ends the run as at the end of its
    // input, or, for SIGHUP, is ignored, instead of killing the process.
    let stop = stop_on_signals(cli.detaches() || cli.diag_file.is_some())?;
    source.set_stop_flag(stop.clone());
    let hangup = catch_hangup()?;
    crate::startup::catch_progress_request()?;
    let loaded = load_tracker_marked(cli, config)?;
    let mut output = open_output(cli, startup.identity())?;
    output.hold_records(cli.hold_size);
    startup.complete(cli, &output, diagnostics, &hangup)?;
    crate::ticks::start();
    let mut summary = Summary::default();
    let (mut tracker, mut result) = start_flows(loaded, &mut output, &mut summary)?;
    info!(
        interface = source.device(),
        linktype = source.linktype(),
        snaplen = live_config.snaplen,
        promiscuous = live_config.promiscuous,
        filter = live_config.filter.as_deref().unwrap_or(""),
        "capturing"
    );

    let mut drops = DropWatch::default();
    if result.is_ok() {
        result = capture(
            &mut source,
            cli,
            &mut tracker,
            &mut output,
            &mut summary,
            &mut drops,
            &hangup,
        );
    }
    if stop.load(Ordering::Relaxed) {
        info!("stopped by a signal: finishing open flows");
    }
    summary.capture = read_stats(&mut source, &mut drops);
    let (saved, written) = finish_flows(cli, &mut tracker, &mut output, &mut summary, &hangup);
    mark_finished();
    summary.count_other_lines_dropped(&output);
    summary.log(&tracker);
    let result = summary.fail_if_dropped(result.and(written));
    combine_failures(result, saved, cli.wflow.is_some(), false)
}

/// Reads packets until the stop flag is set. Each read timeout advances the flow
/// timeouts to the capture clock, so that a quiet link still reports idle flows,
/// and flushes the records written so far.
fn capture(
    source: &mut LiveSource,
    cli: &Cli,
    tracker: &mut Flows,
    output: &mut Output,
    summary: &mut Summary,
    drops: &mut DropWatch,
    hangup: &AtomicBool,
) -> Result<(), Failure> {
    let mut decoder = frame_decoder(cli);
    // The counters are read at once, so that the first --stats records show
    // them rather than `-`.
    let mut next_stats = Instant::now();
    let mut next_flush = Instant::now() + FLUSH_INTERVAL;
    let mut seen_tick = crate::ticks::count();
    loop {
        let idle = match source.next_event().map_err(live_failure)? {
            LiveEvent::Packet(packet) => {
                process_packet(&packet, &mut decoder, cli, tracker, output, summary)?;
                false
            }
            LiveEvent::Idle(now) => {
                tracker.advance_to(now)?;
                write_finished(tracker, output, summary)?;
                // The clock moves on a quiet link too, so --stats records keep
                // coming and show that the sensor is alive.
                summary.write_stats_due(cli, tracker, output, now, false)?;
                true
            }
            LiveEvent::End => return Ok(()),
        };
        // The log's age is checked at every tick of the coarse clock while
        // packets arrive, and at every read timeout of a quiet link.
        let tick = crate::ticks::count();
        let ticked = tick != seen_tick;
        seen_tick = tick;
        if ticked {
            summary.on_tick(tracker, output, cli.max_flows);
        }
        rotate_between_records(
            output,
            hangup,
            idle || ticked || summary.packets % 1024 == 0,
        )?;
        let now = Instant::now();
        if idle || now >= next_flush {
            // Flushing an empty buffer makes no system call, so a quiet link costs
            // nothing here.
            next_flush = now + FLUSH_INTERVAL;
            output
                .writer
                .flush()
                .map_err(|err| output.write_error(err))?;
        }
        if now >= next_stats {
            next_stats = now + STATS_INTERVAL;
            if let Some(stats) = read_stats(source, drops) {
                summary.capture = Some(stats);
            }
        }
    }
}

/// The drop counters last logged, to warn only when they grow.
#[derive(Default)]
struct DropWatch {
    last: CaptureStats,
}

/// Reads the drop counters, logs them at debug level, or as a warning when drops
/// grew since the last reading, and returns them. A failure to read them is logged
/// and returns `None`.
fn read_stats(source: &mut LiveSource, watch: &mut DropWatch) -> Option<CaptureStats> {
    let stats = match source.stats() {
        Ok(stats) => stats,
        Err(err) => {
            warn!("cannot read the drop counters: {err}");
            return None;
        }
    };
    let dropped = stats.dropped.saturating_sub(watch.last.dropped);
    let interface_dropped = stats
        .interface_dropped
        .saturating_sub(watch.last.interface_dropped);
    if dropped > 0 || interface_dropped > 0 {
        warn!(
            interface = source.device(),
            received = stats.received,
            dropped = stats.dropped,
            interface_dropped = stats.interface_dropped,
            "packets dropped: {dropped} by the kernel and {interface_dropped} by the \
             interface since the last reading; a larger -B buffer may help"
        );
    } else {
        debug!(
            interface = source.device(),
            received = stats.received,
            dropped = stats.dropped,
            interface_dropped = stats.interface_dropped,
            "capture counters"
        );
    }
    watch.last = stats;
    Some(stats)
}
