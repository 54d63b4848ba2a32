//! Timed runs of `wsd` and the baseline commands, one process per run.
//!
//! Wall time is measured here, from spawning the process to reaping it. The
//! maximum resident set size comes from GNU time (`/usr/bin/time -f %M`), which
//! reads it from the kernel's accounting of the child it waits for. Without GNU
//! time, memory is left unmeasured and the report notes why.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::generate::{Capture, Kind};

/// The GNU time program.
const GNU_TIME: &str = "/usr/bin/time";

/// The `--threads` value of the threads row: two workers, for the two cores of
/// a small machine.
pub const WORKER_THREADS: u16 = 2;

/// What a timed command does, which decides where it appears in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `cat FILE`: reading the file and nothing else.
    Cat,
    /// `tcpdump -r FILE -w /dev/null`: reading and writing every packet with
    /// libpcap.
    Tcpdump,
    /// `wsd -r FILE -L /dev/null`: flow records only.
    Records,
    /// `wsd --threads N -r FILE -L /dev/null`: flow records, with flows
    /// tracked in N worker threads.
    Threads(u16),
    /// Two runs of `wsd -r FILE -L /dev/null` started at once, timed until
    /// both end: how much of two processors the machine gives in that round.
    Pair,
    /// `wsd --format json -r FILE -L /dev/null`: flow records as JSON Lines.
    JsonRecords,
    /// `wsd -V -r FILE -L /dev/null`: flow records and a line per packet.
    PacketLines,
    /// [`Role::Records`] with the build of `cargo xtask pgo`.
    PgoRecords,
    /// [`Role::PacketLines`] with the build of `cargo xtask pgo`.
    PgoPacketLines,
    /// [`Role::Threads`] with the build of `cargo xtask pgo`.
    PgoThreads(u16),
    /// `wsd` on a capture without packets: the memory of `wsd` at rest.
    Empty,
    /// `wsd --max-flows N` on the capture.
    MaxFlows(u64),
    /// `wsd --threads T --max-flows N -R CACHE` on a capture without packets,
    /// `CACHE` holding the flows open at the end of the capture.
    LoadCache {
        /// The flows the table holds.
        max: u64,
        /// The number of threads.
        threads: u16,
    },
}

impl Role {
    /// Returns the command as shown in the report, with `FILE` for the capture.
    pub fn label(self) -> String {
        match self {
            Role::Cat => "cat FILE".to_string(),
            Role::Tcpdump => "tcpdump -r FILE -w /dev/null".to_string(),
            Role::Records | Role::PgoRecords => "wsd -r FILE -L /dev/null".to_string(),
            Role::Threads(threads) | Role::PgoThreads(threads) => {
                format!("wsd --threads {threads} -r FILE -L /dev/null")
            }
            Role::Pair => "two of wsd -r FILE -L /dev/null at once".to_string(),
            Role::JsonRecords => "wsd --format json -r FILE -L /dev/null".to_string(),
            Role::PacketLines | Role::PgoPacketLines => "wsd -V -r FILE -L /dev/null".to_string(),
            Role::Empty => "wsd -r empty.pcap -L /dev/null".to_string(),
            Role::MaxFlows(max) => format!("wsd --max-flows {max} -r FILE -L /dev/null"),
            Role::LoadCache { max, threads } => format!(
                "wsd --threads {threads} --max-flows {max} -R CACHE -r empty.pcap -L /dev/null"
            ),
        }
    }
}

impl Role {
    /// Returns how the `wsd` of the command was built, after its label in
    /// the report: empty for the plain release build.
    pub fn build_note(self) -> &'static str {
        match self {
            Role::PgoRecords | Role::PgoPacketLines | Role::PgoThreads(_) => {
                ", built with `cargo xtask pgo`"
            }
            _ => "",
        }
    }
}

/// One command to time.
#[derive(Clone, Debug)]
pub struct Job {
    /// The command's role in the report.
    pub role: Role,
    program: PathBuf,
    args: Vec<OsString>,
}

/// One timed run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Wall time in seconds.
    pub secs: f64,
    /// Maximum resident set size in KiB, if GNU time is available.
    pub max_rss_kib: Option<u64>,
}

/// The timed runs of one job, in round order.
#[derive(Clone, Debug)]
pub struct Series {
    /// The command's role in the report.
    pub role: Role,
    /// One sample per round, warm-up excluded.
    pub samples: Vec<Sample>,
}

/// The external programs the benchmark uses, as found on this machine.
#[derive(Clone, Debug)]
pub struct Tools {
    /// GNU time, if it runs and reports the maximum resident set size.
    time: Option<PathBuf>,
    /// The file GNU time writes its report into.
    time_report: PathBuf,
    /// tcpdump, if it is on the `PATH`.
    tcpdump: Option<PathBuf>,
    /// The first line of `tcpdump --version`.
    pub tcpdump_version: Option<String>,
    /// Notes on the missing programs and the figures left out for them.
    pub notes: Vec<String>,
}

impl Tools {
    /// Looks for GNU time and tcpdump. `dir` receives GNU time's reports.
    pub fn detect(dir: &Path) -> Tools {
        let mut tools = Tools {
            time: None,
            time_report: dir.join("time-report.txt"),
            tcpdump: crate::find_on_path("tcpdump"),
            tcpdump_version: None,
            notes: Vec::new(),
        };
        if tools.time_reports_memory() {
            tools.time = Some(PathBuf::from(GNU_TIME));
        } else {
            tools.notes.push(format!(
                "Memory was not measured: GNU time ({GNU_TIME}) is missing or does not report \
                 the maximum resident set size. `apt-get install time` installs it."
            ));
        }
        match &tools.tcpdump {
            Some(tcpdump) => tools.tcpdump_version = tcpdump_version(tcpdump),
            None => tools.notes.push(
                "tcpdump is not installed, so its baseline was skipped. \
                 `apt-get install tcpdump` installs it."
                    .to_string(),
            ),
        }
        tools
    }

    /// Runs GNU time on `true` and checks that it writes a number of KiB.
    fn time_reports_memory(&self) -> bool {
        let status = Command::new(GNU_TIME)
            .args(["-f", "%M", "-o"])
            .arg(&self.time_report)
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        status.is_ok_and(|status| status.success()) && read_max_rss(&self.time_report).is_ok()
    }
}

fn tcpdump_version(tcpdump: &Path) -> Option<String> {
    let output = Command::new(tcpdump).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    text.lines().next().map(|line| line.trim().to_string())
}

/// Lists the commands to time on `capture`: the baselines, `wsd` with flow records
/// only (text and JSON), in one thread and in [`WORKER_THREADS`] worker threads,
/// and with packet lines, all but JSON also with the profile-guided build
/// `pgo` if it is given, and on the flood the memory comparisons, loading
/// `cache` among them if it is given.
pub fn jobs_for(
    tools: &Tools,
    wsd: &Path,
    pgo: Option<&Path>,
    capture: &Capture,
    empty: &Path,
    cache: Option<&Path>,
) -> Vec<Job> {
    let file = capture.path.as_os_str().to_owned();
    let null = OsString::from("/dev/null");
    let job = |role: Role, program: &Path, args: &[&OsString]| Job {
        role,
        program: program.to_path_buf(),
        args: args.iter().map(|&arg| arg.clone()).collect(),
    };
    let (r, l, v) = (
        OsString::from("-r"),
        OsString::from("-L"),
        OsString::from("-V"),
    );

    let mut jobs = vec![job(Role::Cat, Path::new("cat"), &[&file])];
    if let Some(tcpdump) = &tools.tcpdump {
        let w = OsString::from("-w");
        jobs.push(job(Role::Tcpdump, tcpdump, &[&r, &file, &w, &null]));
    }
    jobs.push(job(Role::Records, wsd, &[&r, &file, &l, &null]));
    let threads_flag = OsString::from("--threads");
    let workers = OsString::from(WORKER_THREADS.to_string());
    let args = [&threads_flag, &workers, &r, &file, &l, &null];
    jobs.push(job(Role::Threads(WORKER_THREADS), wsd, &args));
    if matches!(capture.kind, Kind::Mixed | Kind::Flood) {
        jobs.push(job(Role::Pair, wsd, &[&r, &file, &l, &null]));
    }
    let (format, json) = (OsString::from("--format"), OsString::from("json"));
    let args = [&format, &json, &r, &file, &l, &null];
    jobs.push(job(Role::JsonRecords, wsd, &args));
    jobs.push(job(Role::PacketLines, wsd, &[&v, &r, &file, &l, &null]));
    if let Some(pgo) = pgo {
        jobs.push(job(Role::PgoRecords, pgo, &[&r, &file, &l, &null]));
        let args = [&threads_flag, &workers, &r, &file, &l, &null];
        jobs.push(job(Role::PgoThreads(WORKER_THREADS), pgo, &args));
        jobs.push(job(Role::PgoPacketLines, pgo, &[&v, &r, &file, &l, &null]));
    }
    if capture.kind == Kind::Flood {
        let empty = empty.as_os_str().to_owned();
        jobs.push(job(Role::Empty, wsd, &[&r, &empty, &l, &null]));
        let max_flows = OsString::from("--max-flows");
        for divisor in [10, 100] {
            let max = (capture.stats.tcp_connections / divisor).max(1);
            let value = OsString::from(max.to_string());
            let args = [&max_flows, &value, &r, &file, &l, &null];
            jobs.push(job(Role::MaxFlows(max), wsd, &args));
        }
        if let Some(cache) = cache {
            let cache = cache.as_os_str().to_owned();
            let max = (capture.stats.tcp_connections / 100).max(1);
            let value = OsString::from(max.to_string());
            let big_r = OsString::from("-R");
            for threads in [1, WORKER_THREADS] {
                let count = OsString::from(threads.to_string());
                let args = [
                    &threads_flag,
                    &count,
                    &max_flows,
                    &value,
                    &big_r,
                    &cache,
                    &r,
                    &empty,
                    &l,
                    &null,
                ];
                jobs.push(job(Role::LoadCache { max, threads }, wsd, &args));
            }
        }
    }
    jobs
}

/// Runs every job once as a warm-up, then `runs` timed rounds. Each round runs
/// the jobs one after another, so that a slow spell of the machine affects
/// every command of that round and the ratios within a round stay fair.
pub fn run_rounds(tools: &Tools, jobs: &[Job], runs: usize) -> Result<Vec<Series>, String> {
    let mut series: Vec<Series> = jobs
        .iter()
        .map(|job| Series {
            role: job.role,
            samples: Vec::with_capacity(runs),
        })
        .collect();
    for round in 0..=runs {
        for (job, series) in jobs.iter().zip(&mut series) {
            let sample = run_once(tools, job)?;
            if round > 0 {
                series.samples.push(sample);
            }
        }
        let name = if round == 0 { "warm-up" } else { "round" };
        println!("  {name} {round} of {runs} done");
    }
    Ok(series)
}

/// Runs `job` once, with output discarded, and measures it.
fn run_once(tools: &Tools, job: &Job) -> Result<Sample, String> {
    if job.role == Role::Pair {
        return run_pair(job);
    }
    let mut command = match &tools.time {
        Some(time) => {
            // A report left from an earlier run must not pass for this run's.
            let _ = fs::remove_file(&tools.time_report);
            let mut command = Command::new(time);
            command
                .args(["-f", "%M", "-o"])
                .arg(&tools.time_report)
                .arg(&job.program);
            command
        }
        None => Command::new(&job.program),
    };
    add_job(&mut command, job);

    let started = Instant::now();
    let output = command
        .output()
        .map_err(|err| format!("cannot run {}: {err}", job.program.display()))?;
    let secs = started.elapsed().as_secs_f64();

    check_success(job, &output)?;
    let max_rss_kib = match tools.time {
        Some(_) => Some(read_max_rss(&tools.time_report)?),
        None => None,
    };
    Ok(Sample { secs, max_rss_kib })
}

/// Starts two processes of `job` at once and measures the time until both
/// have ended. Memory is not measured.
fn run_pair(job: &Job) -> Result<Sample, String> {
    let start = || {
        add_job(&mut Command::new(&job.program), job)
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", job.program.display()))
    };

    let started = Instant::now();
    let first = start()?;
    let second = start()?;
    let outputs = [first.wait_with_output(), second.wait_with_output()];
    let secs = started.elapsed().as_secs_f64();

    for output in outputs {
        let output =
            output.map_err(|err| format!("cannot wait for {}: {err}", job.program.display()))?;
        check_success(job, &output)?;
    }
    Ok(Sample {
        secs,
        max_rss_kib: None,
    })
}

/// Adds the arguments and environment of `job` to `command`, with its output
/// discarded and its standard error kept for the message of a failure.
fn add_job<'a>(command: &'a mut Command, job: &Job) -> &'a mut Command {
    command
        .args(&job.args)
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
}

/// Returns an error with the standard error of `job` if `output` shows that
/// it failed.
fn check_success(job: &Job, output: &std::process::Output) -> Result<(), String> {
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{}` failed with {}: {}",
        job.role.label(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// Reads the maximum resident set size, in KiB, from a GNU time report of
/// format `%M`.
fn read_max_rss(report: &Path) -> Result<u64, String> {
    let text = fs::read_to_string(report)
        .map_err(|err| format!("cannot read {}: {err}", report.display()))?;
    let last = text.lines().last().unwrap_or_default().trim();
    last.parse().map_err(|_| {
        format!(
            "{} does not end in a number of KiB: {last:?}",
            report.display()
        )
    })
}

impl Series {
    /// Wall times in seconds, in round order.
    pub fn secs(&self) -> Vec<f64> {
        self.samples.iter().map(|sample| sample.secs).collect()
    }

    /// Returns the median wall time in seconds.
    pub fn median_secs(&self) -> f64 {
        median(&self.secs())
    }

    /// Returns the shortest and longest wall times in seconds.
    pub fn range_secs(&self) -> (f64, f64) {
        range(&self.secs())
    }

    /// Returns the median of the maximum resident set sizes in KiB, if measured.
    pub fn median_rss_kib(&self) -> Option<f64> {
        let sizes: Option<Vec<f64>> = self
            .samples
            .iter()
            .map(|sample| sample.max_rss_kib.map(|kib| kib as f64))
            .collect();
        sizes.map(|sizes| median(&sizes))
    }
}

/// Returns the median of `values`: the middle one, or the mean of the two
/// middle ones. It is 0 for no values.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[middle],
        _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
    }
}

/// Returns the smallest and largest of `values`, or `(0, 0)` for no values.
pub fn range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().reduce(f64::min).unwrap_or(0.0);
    let max = values.iter().copied().reduce(f64::max).unwrap_or(0.0);
    (min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn range_of_values() {
        assert_eq!(range(&[2.0, 5.0, 1.0]), (1.0, 5.0));
        assert_eq!(range(&[]), (0.0, 0.0));
    }

    #[test]
    fn max_rss_from_time_report() {
        let report = std::env::temp_dir().join(format!("xtask-time-{}", std::process::id()));
        fs::write(&report, "Command exited with non-zero status 1\n2048\n").unwrap();
        let parsed = read_max_rss(&report);
        fs::remove_file(&report).unwrap();

        assert_eq!(parsed, Ok(2048));
    }
}
