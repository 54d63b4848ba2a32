//! The benchmark captures: generated with `wsd-synth` into the target directory
//! and reused by later runs while the generator and its settings are unchanged.
//!
//! Each capture `NAME.pcap` has a description file `NAME.txt` beside it that
//! records the generator settings and what was generated. The capture is written
//! under a temporary name and renamed last, so an interrupted generation is never
//! reused.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use wsd_capture::{PcapWriter, Timestamp};
use wsd_synth::{BulkConfig, FloodConfig, MixedConfig, TrafficStats, TRAFFIC_VERSION};

/// Write buffer of the generated captures.
const WRITE_BUFFER: usize = 8 << 20;

/// The benchmark captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A realistic mix of TCP connections and UDP conversations.
    Mixed,
    /// A SYN flood: one half-open connection per packet.
    Flood,
    /// A few bulk transfers of full-size segments.
    Bulk,
}

impl Kind {
    /// Every capture, in the order the benchmark runs them.
    pub const ALL: [Kind; 3] = [Kind::Mixed, Kind::Flood, Kind::Bulk];

    /// Returns the name used in file names, options and tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mixed => "mixed",
            Kind::Flood => "flood",
            Kind::Bulk => "bulk",
        }
    }

    /// Parses a name as printed by [`Kind::name`].
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A generated capture file and what it contains.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The kind of capture.
    pub kind: Kind,
    /// The path of the file.
    pub path: PathBuf,
    /// Size of the file in bytes.
    pub file_bytes: u64,
    /// The generator's counts of what it wrote.
    pub stats: TrafficStats,
}

/// The generator settings of one capture, at full size or divided by
/// `divisor` for a quick run.
enum Settings {
    Mixed(MixedConfig),
    Flood(FloodConfig),
    Bulk(BulkConfig),
}

impl Settings {
    /// Returns the settings with the seed `seed` instead of the default one.
    fn with_seed(self, seed: u64) -> Settings {
        match self {
            Settings::Mixed(config) => Settings::Mixed(MixedConfig { seed, ..config }),
            Settings::Flood(config) => Settings::Flood(FloodConfig { seed, ..config }),
            Settings::Bulk(config) => Settings::Bulk(BulkConfig { seed, ..config }),
        }
    }

    fn new(kind: Kind, divisor: u32) -> Settings {
        match kind {
            Kind::Mixed => {
                let full = MixedConfig::default();
                Settings::Mixed(MixedConfig {
                    tcp_connections: full.tcp_connections / divisor,
                    udp_conversations: full.udp_conversations / divisor,
                    ..full
                })
            }
            Kind::Flood => {
                let full = FloodConfig::default();
                Settings::Flood(FloodConfig {
                    connections: full.connections / divisor,
                    ..full
                })
            }
            Kind::Bulk => {
                let full = BulkConfig::default();
                Settings::Bulk(BulkConfig {
                    segments_per_connection: full.segments_per_connection / divisor,
                    ..full
                })
            }
        }
    }

    /// Returns the settings as text, to tell whether a file on disk was
    /// generated with the same ones.
    fn describe(&self) -> String {
        let settings = match self {
            Settings::Mixed(config) => format!("{config:?}"),
            Settings::Flood(config) => format!("{config:?}"),
            Settings::Bulk(config) => format!("{config:?}"),
        };
        format!("generator version {TRAFFIC_VERSION}; {settings}")
    }

    fn generate<W: io::Write>(&self, writer: &mut PcapWriter<W>) -> io::Result<TrafficStats> {
        let sink = |ts: Timestamp, frame: &[u8]| writer.write_packet(ts, frame, frame.len() as u32);
        match self {
            Settings::Mixed(config) => wsd_synth::mixed(config, sink),
            Settings::Flood(config) => wsd_synth::syn_flood(config, sink),
            Settings::Bulk(config) => wsd_synth::bulk(config, sink),
        }
    }
}

/// The capture that `cargo xtask generate` writes, and where.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    kind: Kind,
    divisor: u32,
    seed: Option<u64>,
    dir: Option<PathBuf>,
}

impl Request {
    /// Parses the arguments of `cargo xtask generate`.
    fn parse(args: &[String]) -> Result<Request, String> {
        let mut args = args.iter();
        let name = args
            .next()
            .ok_or("generate needs a capture: mixed, flood or bulk")?;
        let kind = Kind::from_name(name).ok_or_else(|| {
            format!("invalid capture {name:?} for generate: expected mixed, flood or bulk")
        })?;
        let mut request = Request {
            kind,
            divisor: 1,
            seed: None,
            dir: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--divisor" => {
                    let value = value()?;
                    request.divisor = match value.parse() {
                        Ok(divisor) if divisor > 0 => divisor,
                        _ => {
                            return Err(format!(
                                "invalid value {value:?} for --divisor: expected a whole number \
                                 of at least 1"
                            ))
                        }
                    };
                }
                "--seed" => {
                    let value = value()?;
                    let seed = value.parse().map_err(|_| {
                        format!("invalid value {value:?} for --seed: expected a whole number")
                    })?;
                    request.seed = Some(seed);
                }
                "--out" => request.dir = Some(PathBuf::from(value()?)),
                other => return Err(format!("unknown option {other:?} for generate")),
            }
        }
        Ok(request)
    }
}

/// Runs `cargo xtask generate`: writes one of the benchmark's captures, at
/// full size unless divided, into the benchmark's directory or the one given,
/// and prints its path and contents.
pub fn run(args: &[String]) -> Result<(), String> {
    let request = Request::parse(args)?;
    let dir = match request.dir {
        Some(dir) => dir,
        None => crate::target_dir(&crate::workspace_root()).join("bench"),
    };
    match request.seed {
        Some(seed) => ensure_seeded(request.kind, request.divisor, seed, &dir).map(drop),
        None => ensure(request.kind, request.divisor, &dir).map(drop),
    }
}

/// Returns the capture `kind` in `dir`, generating it unless a file generated
/// with the same settings is already there. `divisor` divides its size: 1 for
/// the full capture.
pub fn ensure(kind: Kind, divisor: u32, dir: &Path) -> Result<Capture, String> {
    let stem = match divisor {
        1 => format!("{}-v{TRAFFIC_VERSION}", kind.name()),
        _ => format!("{}-v{TRAFFIC_VERSION}-div{divisor}", kind.name()),
    };
    ensure_settings(kind, Settings::new(kind, divisor), &stem, dir)
}

/// Returns the capture `kind` divided by `divisor` as [`ensure`] does, but
/// generated with the seed `seed`: other traffic of the same shape.
pub fn ensure_seeded(kind: Kind, divisor: u32, seed: u64, dir: &Path) -> Result<Capture, String> {
    let stem = format!("{}-v{TRAFFIC_VERSION}-div{divisor}-seed{seed}", kind.name());
    ensure_settings(
        kind,
        Settings::new(kind, divisor).with_seed(seed),
        &stem,
        dir,
    )
}

/// Returns the seed of the capture `kind` at its default settings.
pub fn default_seed(kind: Kind) -> u64 {
    match kind {
        Kind::Mixed => MixedConfig::default().seed,
        Kind::Flood => FloodConfig::default().seed,
        Kind::Bulk => BulkConfig::default().seed,
    }
}

/// Returns the capture `kind` generated with `settings` into `dir` as
/// `STEM.pcap`, reusing a file generated with the same settings.
fn ensure_settings(
    kind: Kind,
    settings: Settings,
    stem: &str,
    dir: &Path,
) -> Result<Capture, String> {
    let description = settings.describe();
    let path = dir.join(format!("{stem}.pcap"));
    let info_path = dir.join(format!("{stem}.txt"));

    if let Some(stats) = reusable(&path, &info_path, &description) {
        let file_bytes = file_len(&path)?;
        println!(
            "reusing {} ({})",
            path.display(),
            summarize(&stats, file_bytes)
        );
        return Ok(Capture {
            kind,
            path,
            file_bytes,
            stats,
        });
    }

    fs::create_dir_all(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let started = Instant::now();
    let temp = dir.join(format!(".{stem}.pcap.partial"));
    let stats = write_capture(&temp, &settings)
        .map_err(|err| format!("cannot write {}: {err}", temp.display()))?;
    fs::write(&info_path, info_text(&description, &stats))
        .map_err(|err| format!("cannot write {}: {err}", info_path.display()))?;
    fs::rename(&temp, &path).map_err(|err| {
        format!(
            "cannot rename {} to {}: {err}",
            temp.display(),
            path.display()
        )
    })?;
    let file_bytes = file_len(&path)?;
    println!(
        "generated {} in {:.1} s ({})",
        path.display(),
        started.elapsed().as_secs_f64(),
        summarize(&stats, file_bytes)
    );
    Ok(Capture {
        kind,
        path,
        file_bytes,
        stats,
    })
}

/// Writes a capture of only the file header, for the memory of `wsd` at rest.
pub fn ensure_empty(dir: &Path) -> Result<PathBuf, String> {
    fs::create_dir_all(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let path = dir.join("empty.pcap");
    let writer = PcapWriter::new(Vec::new(), 1, 65535, false)
        .map_err(|err| format!("cannot build an empty capture: {err}"))?;
    fs::write(&path, writer.into_inner())
        .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    Ok(path)
}

/// Writes the flow cache that `wsd` saves at the end of `capture` into `dir`,
/// and returns its path. It is written anew on every run, because its format
/// follows the build of `wsd`.
pub fn open_flows_cache(wsd: &Path, capture: &Capture, dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join(format!("{}.cache", capture.kind.name()));
    let status = Command::new(wsd)
        .arg("-r")
        .arg(&capture.path)
        .args(["-L", "/dev/null", "-W"])
        .arg(&path)
        .stderr(Stdio::null())
        .status()
        .map_err(|err| format!("cannot run {}: {err}", wsd.display()))?;
    if !status.success() {
        return Err(format!(
            "{} could not save the flows of {} to {} ({status})",
            wsd.display(),
            capture.path.display(),
            path.display()
        ));
    }
    Ok(path)
}

fn write_capture(path: &Path, settings: &Settings) -> io::Result<TrafficStats> {
    let file = BufWriter::with_capacity(WRITE_BUFFER, File::create(path)?);
    let mut writer = PcapWriter::new(file, 1, 65535, false)?;
    let stats = settings.generate(&mut writer)?;
    let file = writer
        .into_inner()
        .into_inner()
        .map_err(|err| err.into_error())?;
    file.sync_all()?;
    Ok(stats)
}

fn file_len(path: &Path) -> Result<u64, String> {
    fs::metadata(path)
        .map(|meta| meta.len())
        .map_err(|err| format!("cannot read the size of {}: {err}", path.display()))
}

/// Builds the text of a description file: the settings line, then `key=value` lines.
fn info_text(description: &str, stats: &TrafficStats) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{description}");
    let _ = writeln!(text, "packets={}", stats.packets);
    let _ = writeln!(text, "frame_bytes={}", stats.frame_bytes);
    let _ = writeln!(text, "tcp_connections={}", stats.tcp_connections);
    let _ = writeln!(text, "udp_conversations={}", stats.udp_conversations);
    text
}

/// Reads the statistics of a capture already on disk, or `None` if it is
/// missing or was generated with other settings.
fn reusable(path: &Path, info_path: &Path, description: &str) -> Option<TrafficStats> {
    if !path.is_file() {
        return None;
    }
    let text = fs::read_to_string(info_path).ok()?;
    let mut lines = text.lines();
    if lines.next()? != description {
        return None;
    }
    let mut stats = TrafficStats::default();
    for line in lines {
        let (key, value) = line.split_once('=')?;
        let value: u64 = value.parse().ok()?;
        match key {
            "packets" => stats.packets = value,
            "frame_bytes" => stats.frame_bytes = value,
            "tcp_connections" => stats.tcp_connections = value,
            "udp_conversations" => stats.udp_conversations = value,
            _ => return None,
        }
    }
    Some(stats)
}

fn summarize(stats: &TrafficStats, file_bytes: u64) -> String {
    let average = stats.frame_bytes as f64 / stats.packets.max(1) as f64;
    format!(
        "{} packets of {average:.0} bytes on average, {} TCP connections, {} UDP conversations, {:.1} MB",
        stats.packets,
        stats.tcp_connections,
        stats.udp_conversations,
        file_bytes as f64 / 1e6
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Request, String> {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        Request::parse(&args)
    }

    #[test]
    fn request_with_options() {
        let request = parse(&["flood", "--divisor", "4", "--seed", "7", "--out", "x"]).unwrap();
        let expected = Request {
            kind: Kind::Flood,
            divisor: 4,
            seed: Some(7),
            dir: Some(PathBuf::from("x")),
        };
        assert_eq!(request, expected);
        assert_eq!(parse(&["bulk"]).unwrap().divisor, 1);
    }

    #[test]
    fn request_errors_name_value() {
        let missing = parse(&[]).unwrap_err();
        assert!(missing.contains("mixed, flood or bulk"), "{missing}");
        let kind = parse(&["huge"]).unwrap_err();
        assert!(kind.contains("\"huge\""), "{kind}");
        let divisor = parse(&["mixed", "--divisor", "0"]).unwrap_err();
        assert!(divisor.contains("at least 1"), "{divisor}");
        let bare = parse(&["mixed", "--seed"]).unwrap_err();
        assert!(bare.contains("--seed needs a value"), "{bare}");
    }
}
