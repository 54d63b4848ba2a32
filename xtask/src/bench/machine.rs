//! The machine and the software a benchmark ran on, for the report.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The provenance of the figures: the machine and the software of the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Machine {
    /// CPU model, from `/proc/cpuinfo`.
    pub cpu: String,
    /// Logical processors.
    pub cores: usize,
    /// Total memory in GiB, from `/proc/meminfo`.
    pub memory_gib: f64,
    /// Kernel name and release.
    pub kernel: String,
    /// Output of `rustc --version`.
    pub rustc: String,
    /// First line of `tcpdump --version`, if tcpdump is installed.
    pub tcpdump: Option<String>,
    /// The commit of the measured `wsd`, marked when the work tree has changes.
    pub commit: String,
    /// Date of the run, `YYYY-MM-DD` in UTC.
    pub date: String,
    /// The one-minute load average when the run started, which shows whether
    /// other work competed for the processors.
    pub load_at_start: Option<f64>,
    /// The one-minute load average when the run ended.
    pub load_at_end: Option<f64>,
}

impl Machine {
    /// Describes this machine; anything that cannot be read is `unknown`.
    pub fn describe(root: &Path, tcpdump: Option<&str>) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown", |(_, model)| model.trim())
            .to_string();
        let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
        Machine {
            cpu,
            cores,
            memory_gib: total_memory_gib(),
            kernel: kernel(),
            rustc: command_line_output("rustc", &["--version"], root),
            tcpdump: tcpdump.map(str::to_string),
            commit: commit(root),
            date: today(),
            load_at_start: load_average(),
            load_at_end: None,
        }
    }
}

/// Reads the one-minute load average from `/proc/loadavg`.
pub fn load_average() -> Option<f64> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn total_memory_gib() -> f64 {
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kib as f64 / (1024.0 * 1024.0)
}

fn kernel() -> String {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    match release.trim() {
        "" => "unknown".to_string(),
        release => format!("Linux {release}"),
    }
}

/// Runs a command and returns the first line of its output, or `unknown` if it
/// fails.
fn command_line_output(program: &str, args: &[&str], dir: &Path) -> String {
    let output = Command::new(program).args(args).current_dir(dir).output();
    match output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("unknown")
            .trim()
            .to_string(),
        _ => "unknown".to_string(),
    }
}

/// Returns the short hash of `HEAD`, with `+ changes` when tracked files differ
/// from it.
fn commit(root: &Path) -> String {
    let hash = command_line_output("git", &["rev-parse", "--short", "HEAD"], root);
    let changed = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .is_ok_and(|output| !output.stdout.is_empty());
    if changed {
        format!("{hash} + changes")
    } else {
        hash
    }
}

/// Returns today's date in UTC as `YYYY-MM-DD`.
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Converts days since 1970-01-01 to a date of the proleptic Gregorian
/// calendar, counting years from March so that leap days fall last.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
    }
}
