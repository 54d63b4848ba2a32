//! The benchmark's results as Markdown: where they come from, then one table
//! per measurement.

use std::fmt::Write as _;

use super::cache::{CacheStep, CacheTimes};
use super::machine::Machine;
use super::measure::{median, range, Role, Series, WORKER_THREADS};
use super::phases::{Phases, Step};
use crate::generate::{Capture, Kind};

/// Everything one benchmark run measured.
#[derive(Debug, Default)]
pub struct Results {
    /// The machine and software of the run.
    pub machine: Machine,
    /// The command that reproduces the run.
    pub command_line: String,
    /// Timed runs of each command.
    pub runs: usize,
    /// Notes on the figures left out, and why.
    pub notes: Vec<String>,
    /// The timed commands of each capture.
    pub commands: Vec<(Capture, Vec<Series>)>,
    /// The in-process timings of each capture.
    pub phases: Vec<Phases>,
    /// The flow-cache timings, if the flood capture was run.
    pub cache: Option<CacheTimes>,
}

/// Renders the results as Markdown, without the section heading.
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    write_provenance(&mut out, results);
    write_captures(&mut out, results);
    write_commands(&mut out, results);
    write_speedup(&mut out, results);
    write_memory(&mut out, results);
    write_cache(&mut out, results);
    write_phases(&mut out, results);
    out
}

fn write_provenance(out: &mut String, results: &Results) {
    let machine = &results.machine;
    let _ = writeln!(
        out,
        "Measured on {} with `{}`: {} timed runs of each command after one warm-up \
         run. Times are medians, with the fastest and the slowest run beside them.\n",
        machine.date, results.command_line, results.runs
    );
    let tcpdump = machine.tcpdump.as_deref().unwrap_or("no tcpdump");
    let _ = writeln!(
        out,
        "Machine: {}, {} logical processors, {:.1} GiB of memory, {}; {}; {}; wsd at \
         commit {}.\n",
        machine.cpu,
        machine.cores,
        machine.memory_gib,
        machine.kernel,
        machine.rustc,
        tcpdump,
        machine.commit
    );
    if let (Some(start), Some(end)) = (machine.load_at_start, machine.load_at_end) {
        let _ = writeln!(
            out,
            "The one-minute load average was {start:.2} at the start and {end:.2} at the \
             end. The benchmark itself keeps about one processor busy, so a load well \
             above 1 means that other work shared the {} processors.\n",
            machine.cores
        );
    }
    for note in &results.notes {
        let _ = writeln!(out, "Note: {note}\n");
    }
}

fn write_captures(out: &mut String, results: &Results) {
    let _ = writeln!(out, "### Captures\n");
    let _ = writeln!(
        out,
        "| capture | packets | file size | average frame | TCP connections | UDP conversations | flow records | max flows at once |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (capture, _) in &results.commands {
        let stats = &capture.stats;
        let phases = results.phases.iter().find(|p| p.kind == capture.kind);
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} MB | {:.0} B | {} | {} | {} | {} |",
            capture.kind.name(),
            thousands(stats.packets),
            capture.file_bytes as f64 / 1e6,
            stats.frame_bytes as f64 / stats.packets.max(1) as f64,
            thousands(stats.tcp_connections),
            thousands(stats.udp_conversations),
            phases.map_or("–".to_string(), |p| thousands(p.records)),
            phases.map_or("–".to_string(), |p| thousands(p.max_active)),
        );
    }
    out.push('\n');
}

fn write_commands(out: &mut String, results: &Results) {
    let _ = writeln!(out, "### Throughput\n");
    let _ = writeln!(
        out,
        "`FILE` is the capture of the row. The last two columns divide the command's \
         time by the time of `cat` and of `tcpdump` in the same round, and give the \
         median of those ratios.\n"
    );
    let _ = writeln!(
        out,
        "| capture | command | median | fastest–slowest | MB/s | packets/s | max RSS | × cat | × tcpdump |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (capture, series) in &results.commands {
        let cat = series.iter().find(|s| s.role == Role::Cat);
        let tcpdump = series.iter().find(|s| s.role == Role::Tcpdump);
        let shown = [
            Role::Cat,
            Role::Tcpdump,
            Role::Records,
            Role::Threads(WORKER_THREADS),
            Role::JsonRecords,
            Role::PacketLines,
            Role::PgoRecords,
            Role::PgoThreads(WORKER_THREADS),
            Role::PgoPacketLines,
        ];
        for one in series.iter().filter(|s| shown.contains(&s.role)) {
            let secs = one.median_secs();
            let (fastest, slowest) = one.range_secs();
            let _ = writeln!(
                out,
                "| {} | `{}`{} | {} | {}–{} | {:.0} | {} | {} | {} | {} |",
                capture.kind.name(),
                one.role.label(),
                one.role.build_note(),
                seconds(secs),
                seconds(fastest),
                seconds(slowest),
                capture.file_bytes as f64 / secs / 1e6,
                per_second(capture.stats.packets as f64 / secs),
                mebibytes(one.median_rss_kib()),
                ratio(one, cat),
                ratio(one, tcpdump),
            );
        }
    }
    out.push('\n');
}

/// Writes how many times faster `--threads` ran than one thread: the time of
/// one thread divided by the threaded time of the same round, because both
/// runs of a round see the same load on a shared machine. The build of
/// `cargo xtask pgo` gets rows of its own, compared with itself.
fn write_speedup(out: &mut String, results: &Results) {
    let mut rows: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    for (capture, series) in &results.commands {
        let find = |role: Role| series.iter().find(|s| s.role == role);
        let builds = [
            (Role::Records, Role::Threads(WORKER_THREADS), ""),
            (
                Role::PgoRecords,
                Role::PgoThreads(WORKER_THREADS),
                ", `cargo xtask pgo` build",
            ),
        ];
        for (single, threads, build) in builds {
            let (Some(single), Some(threads)) = (find(single), find(threads)) else {
                continue;
            };
            // Two runs at once did twice the work of one run. They are runs
            // of the plain build, so the other build's rows leave them out.
            let shares = match find(Role::Pair) {
                Some(pair) if single.role == Role::Records => {
                    round_ratios(single, pair).iter().map(|r| 2.0 * r).collect()
                }
                _ => Vec::new(),
            };
            let ratios = round_ratios(single, threads);
            if !ratios.is_empty() {
                rows.push((format!("{}{build}", capture.kind.name()), ratios, shares));
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### Speed-up of {WORKER_THREADS} threads
"
    );
    let _ = writeln!(
        out,
        "The time of `wsd -r FILE -L /dev/null` divided by the time of \
         `wsd --threads {WORKER_THREADS} -r FILE -L /dev/null` in the same round. \
         The machine's share is what two processes got in the same round: twice \
         the time of one run divided by the time of two runs started at once, \
         2.00 when each ran as fast as alone. The host of a virtual machine can \
         take the second processor for other work, and then two threads have \
         less than two processors to work with too.\n"
    );
    let _ = writeln!(
        out,
        "| capture | median | lowest–highest | machine's share, median | lowest–highest |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    for (label, ratios, shares) in rows {
        let (lowest, highest) = range(&ratios);
        let share_cells = if shares.is_empty() {
            "– | –".to_string()
        } else {
            let (low, high) = range(&shares);
            format!("{:.2} | {low:.2}–{high:.2}", median(&shares))
        };
        let _ = writeln!(
            out,
            "| {label} | {:.2} | {lowest:.2}–{highest:.2} | {share_cells} |",
            median(&ratios)
        );
    }
    out.push('\n');
}

fn write_memory(out: &mut String, results: &Results) {
    let Some((flood, series)) = results
        .commands
        .iter()
        .find(|(capture, _)| capture.kind == Kind::Flood)
    else {
        return;
    };
    let connections = flood.stats.tcp_connections;
    let rss = |role: Role| {
        series
            .iter()
            .find(|s| s.role == role)
            .and_then(Series::median_rss_kib)
    };
    let _ = writeln!(out, "### Memory on the flood\n");
    if let (Some(full), Some(empty)) = (rss(Role::Records), rss(Role::Empty)) {
        let per_connection = (full - empty) * 1024.0 / connections.max(1) as f64;
        let _ = writeln!(
            out,
            "Memory per tracked connection: (max RSS with {} connections − max RSS on \
             an empty capture) / {} = **{per_connection:.0} bytes**. It includes \
             everything that grows with the table, such as the records of the flows \
             reported at the end of the input.\n",
            thousands(connections),
            thousands(connections)
        );
    }
    let _ = writeln!(
        out,
        "| command | flows at once | max RSS | median | fastest–slowest |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    let mut rows: Vec<(u64, &Series)> = series
        .iter()
        .filter_map(|one| match one.role {
            Role::Empty => Some((0, one)),
            Role::Records => Some((connections, one)),
            Role::MaxFlows(max) | Role::LoadCache { max, .. } => Some((max.min(connections), one)),
            _ => None,
        })
        .collect();
    rows.sort_by_key(|(flows, _)| *flows);
    let loaded = rows.iter().find_map(|(_, one)| match one.role {
        Role::LoadCache { max, .. } => Some(max),
        _ => None,
    });
    for (flows, one) in rows {
        let (fastest, slowest) = one.range_secs();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {}–{} |",
            one.role.label(),
            thousands(flows),
            mebibytes(one.median_rss_kib()),
            seconds(one.median_secs()),
            seconds(fastest),
            seconds(slowest),
        );
    }
    out.push('\n');
    if let Some(max) = loaded {
        let _ = writeln!(
            out,
            "`CACHE` holds the {} flows that `wsd -W` saved at the end of the flood. \
             Loading them into a table of {} evicts and reports all but {} of them \
             before the first packet.\n",
            thousands(connections),
            thousands(max),
            thousands(max)
        );
    }
}

fn write_cache(out: &mut String, results: &Results) {
    let Some(cache) = &results.cache else {
        return;
    };
    let _ = writeln!(
        out,
        "### Flow cache of {} flows\n\nThe flows are those of the flood, tracked \
         in process. The cache file is {:.1} MB, {:.0} bytes per flow.\n",
        thousands(cache.flows),
        cache.file_bytes as f64 / 1e6,
        cache.file_bytes as f64 / cache.flows.max(1) as f64
    );
    let _ = writeln!(out, "| step | median | fastest–slowest | flows/s |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: |");
    for step in cache.measured_steps() {
        let (secs, (fastest, slowest)) = cache.summary(step);
        let _ = writeln!(
            out,
            "| {} | {} | {}–{} | {} |",
            step.label(),
            seconds(secs),
            seconds(fastest),
            seconds(slowest),
            per_second(cache.flows as f64 / secs),
        );
    }
    let (read, _) = cache.summary(CacheStep::Read);
    let (restore, _) = cache.summary(CacheStep::Restore);
    let _ = writeln!(
        out,
        "\nThe first five steps hold every flow in memory at once: loading that way, \
         `read_cache` then `Tracker::restore`, takes {} in all. `wsd` saves and loads \
         one flow at a time, as the last two rows do.\n",
        seconds(read + restore)
    );
}

fn write_phases(out: &mut String, results: &Results) {
    if results.phases.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Where the time goes\n");
    let _ = writeln!(
        out,
        "The library steps timed in process, in nanoseconds per packet: each column \
         is the time a pass with that step added takes beyond the pass before it, \
         with the lines formatted into `io::sink()`. The totals are the whole \
         pipeline without and with packet lines.\n"
    );
    let mut header = "| capture |".to_string();
    let mut rule = "| --- |".to_string();
    for step in Step::ALL {
        header.push_str(&format!(" {} |", step.label()));
        rule.push_str(" ---: |");
    }
    let _ = writeln!(out, "{header} total | total with packet lines |");
    let _ = writeln!(out, "{rule} ---: | ---: |");
    for phases in &results.phases {
        let per_packet = |secs: f64| secs * 1e9 / phases.packets.max(1) as f64;
        let mut row = format!("| {} |", phases.kind.name());
        let mut previous = 0.0;
        for &secs in &phases.pass_secs {
            row.push_str(&format!(" {:.0} |", per_packet(secs - previous)));
            previous = secs;
        }
        let records = phases.pass_secs.get(Step::Records as usize).copied();
        let lines = phases.pass_secs.last().copied();
        let _ = writeln!(
            out,
            "{row} {:.0} | {:.0} |",
            per_packet(records.unwrap_or(0.0)),
            per_packet(lines.unwrap_or(0.0))
        );
    }
    out.push('\n');
}

/// Formats the median over rounds of `series`' time divided by `baseline`'s
/// time in the same round, or a dash without a baseline.
fn ratio(series: &Series, baseline: Option<&Series>) -> String {
    let Some(baseline) = baseline else {
        return "–".to_string();
    };
    format!("{:.2}", median(&round_ratios(series, baseline)))
}

/// Returns `series`' time divided by `baseline`'s time, one ratio per round.
fn round_ratios(series: &Series, baseline: &Series) -> Vec<f64> {
    series
        .samples
        .iter()
        .zip(&baseline.samples)
        .map(|(sample, base)| sample.secs / base.secs)
        .collect()
}

fn seconds(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

fn mebibytes(kib: Option<f64>) -> String {
    kib.map_or("–".to_string(), |kib| format!("{:.1} MiB", kib / 1024.0))
}

/// Formats a rate in millions or thousands per second.
fn per_second(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else {
        format!("{:.0} k", rate / 1e3)
    }
}

/// Formats a count with commas between groups of three digits.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::measure::Sample;

    fn series(role: Role, secs: &[f64]) -> Series {
        Series {
            role,
            samples: secs
                .iter()
                .map(|&secs| Sample {
                    secs,
                    max_rss_kib: None,
                })
                .collect(),
        }
    }

    /// Returns a capture of `kind` of one byte, whose figures the tests leave aside.
    fn capture(kind: Kind) -> Capture {
        Capture {
            kind,
            path: format!("{}.pcap", kind.name()).into(),
            file_bytes: 1,
            stats: Default::default(),
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_038_705), "1,038,705");
    }

    #[test]
    fn ratio_is_median_of_rounds() {
        let wsd = series(Role::Records, &[2.0, 3.0, 10.0]);
        let cat = series(Role::Cat, &[1.0, 1.0, 1.0]);

        assert_eq!(ratio(&wsd, Some(&cat)), "3.00");
        assert_eq!(ratio(&wsd, None), "–");
    }

    #[test]
    fn speedup_uses_ratios_of_rounds() {
        let capture = capture(Kind::Mixed);
        // The medians, 3.0 and 2.0, would give 1.50.
        let single = series(Role::Records, &[2.0, 3.0, 4.0]);
        let threads = series(Role::Threads(WORKER_THREADS), &[1.0, 2.0, 2.5]);
        let results = Results {
            commands: vec![(capture, vec![single, threads])],
            ..Results::default()
        };
        let mut out = String::new();

        write_speedup(&mut out, &results);

        assert!(
            out.contains("| mixed | 1.60 | 1.50–2.00 | – | – |"),
            "{out}"
        );
    }

    #[test]
    fn speedup_shows_machine_share() {
        let capture = capture(Kind::Flood);
        let single = series(Role::Records, &[2.0, 3.0, 4.0]);
        let threads = series(Role::Threads(WORKER_THREADS), &[1.0, 2.0, 2.5]);
        // Shares of 2 × 2/2.5, 2 × 3/3 and 2 × 4/8: 1.60, 2.00 and 1.00.
        let pair = series(Role::Pair, &[2.5, 3.0, 8.0]);
        let results = Results {
            commands: vec![(capture, vec![single, threads, pair])],
            ..Results::default()
        };
        let mut out = String::new();

        write_speedup(&mut out, &results);

        assert!(
            out.contains("| flood | 1.60 | 1.50–2.00 | 1.60 | 1.00–2.00 |"),
            "{out}"
        );
    }

    #[test]
    fn speedup_of_pgo_build_compared_with_itself() {
        let capture = capture(Kind::Mixed);
        let single = series(Role::Records, &[2.0, 3.0, 4.0]);
        let threads = series(Role::Threads(WORKER_THREADS), &[1.0, 2.0, 2.5]);
        let pair = series(Role::Pair, &[2.5, 3.0, 8.0]);
        let pgo_single = series(Role::PgoRecords, &[1.5, 1.5, 1.5]);
        let pgo_threads = series(Role::PgoThreads(WORKER_THREADS), &[1.0, 1.0, 1.0]);
        let results = Results {
            commands: vec![(
                capture,
                vec![single, threads, pair, pgo_single, pgo_threads],
            )],
            ..Results::default()
        };
        let mut out = String::new();

        write_speedup(&mut out, &results);

        assert!(
            out.contains("| mixed | 1.60 | 1.50–2.00 | 1.60 | 1.00–2.00 |"),
            "{out}"
        );
        assert!(
            out.contains("| mixed, `cargo xtask pgo` build | 1.50 | 1.50–1.50 | – | – |"),
            "{out}"
        );
    }

    #[test]
    fn speedup_left_out_without_threads() {
        let capture = capture(Kind::Bulk);
        let single = series(Role::Records, &[2.0]);
        let results = Results {
            commands: vec![(capture, vec![single])],
            ..Results::default()
        };
        let mut out = String::new();

        write_speedup(&mut out, &results);

        assert_eq!(out, "");
    }

    #[test]
    fn time_units() {
        assert_eq!(seconds(0.0123), "12.3 ms");
        assert_eq!(seconds(1.5), "1.50 s");
    }
}
