//! `cargo xtask bench`: throughput and memory of `wsd` on generated captures,
//! against `cat` and `tcpdump` on the same files, plus the flow cache and the
//! library steps of the pipeline timed in process.
//!
//! A full run writes its tables into `docs/benchmarks.md`, replacing the
//! section from its `## Results` heading to the end. Quick and partial runs
//! only print them.

mod cache;
mod machine;
mod measure;
mod phases;
mod report;

use std::path::Path;

use crate::generate::{self, Capture, Kind};
use crate::regress::build_wsd;
use crate::{target_dir, workspace_root};

/// Timed runs of each command after the warm-up, unless `--runs` sets another number.
const DEFAULT_RUNS: usize = 5;

/// Quick runs divide every capture's size by this.
const QUICK_DIVISOR: u32 = 10;

/// The heading that starts the results section of the benchmark page.
const RESULTS_HEADING: &str = "## Results";

/// The options of `cargo xtask bench`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Timed runs of each command.
    pub runs: usize,
    /// True to run on captures a tenth of the full size.
    pub quick: bool,
    /// The one capture to run on, or `None` for all of them.
    pub only: Option<Kind>,
    /// True to time the build of `cargo xtask pgo` too, which takes minutes
    /// to make, so a quick run leaves it out.
    pub pgo: bool,
}

impl Options {
    /// Parses the arguments that follow `bench`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            runs: DEFAULT_RUNS,
            quick: false,
            only: None,
            pgo: true,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    options.quick = true;
                    options.pgo = false;
                }
                "--no-pgo" => options.pgo = false,
                "--runs" => {
                    let value = args.next().ok_or("--runs needs a number")?;
                    options.runs = match value.parse() {
                        Ok(runs) if runs > 0 => runs,
                        _ => {
                            return Err(format!(
                                "invalid value {value:?} for --runs: expected a whole number of at least 1"
                            ))
                        }
                    };
                }
                "--only" => {
                    let value = args.next().ok_or("--only needs a capture name")?;
                    let kind = Kind::from_name(value).ok_or_else(|| {
                        format!("invalid value {value:?} for --only: expected mixed, flood or bulk")
                    })?;
                    options.only = Some(kind);
                }
                other => return Err(format!("unknown option {other:?} for bench")),
            }
        }
        Ok(options)
    }

    /// True if this run covers every full-size capture, so its results may
    /// replace the recorded ones.
    fn is_full(&self) -> bool {
        !self.quick && self.only.is_none()
    }

    /// Returns the command line that reproduces this run, for the report.
    fn command_line(&self) -> String {
        let mut line = "cargo xtask bench".to_string();
        if self.runs != DEFAULT_RUNS {
            line.push_str(&format!(" --runs {}", self.runs));
        }
        if self.quick {
            line.push_str(" --quick");
        }
        if let Some(kind) = self.only {
            line.push_str(&format!(" --only {}", kind.name()));
        }
        if !self.pgo && !self.quick {
            line.push_str(" --no-pgo");
        }
        line
    }
}

/// Runs the benchmark with the arguments that follow `bench`.
///
/// The in-process timings need optimized library crates, which `cargo xtask`
/// does not build, so an unoptimized xtask builds itself in release mode and
/// runs that build instead.
pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let root = workspace_root();
    if cfg!(debug_assertions) {
        return crate::run_release_build(&root, "bench", args);
    }
    let wsd = build_wsd(&root)?;
    let dir = target_dir(&root).join("bench");
    let divisor = if options.quick { QUICK_DIVISOR } else { 1 };
    let kinds = match options.only {
        Some(kind) => vec![kind],
        None => Kind::ALL.to_vec(),
    };
    let captures = kinds
        .iter()
        .map(|&kind| generate::ensure(kind, divisor, &dir))
        .collect::<Result<Vec<Capture>, String>>()?;
    let empty = generate::ensure_empty(&dir)?;

    let tools = measure::Tools::detect(&dir);
    let mut notes = tools.notes.clone();
    let pgo = match options.pgo {
        true => match crate::pgo::find_profdata() {
            Ok(_) => Some(crate::pgo::build(&root)?.program("wsd")),
            Err(reason) => {
                notes.push(format!("The profile-guided build was not timed: {reason}."));
                None
            }
        },
        false => None,
    };
    let mut results = report::Results {
        machine: machine::Machine::describe(&root, tools.tcpdump_version.as_deref()),
        command_line: options.command_line(),
        runs: options.runs,
        notes,
        ..report::Results::default()
    };
    for capture in &captures {
        let cache = match capture.kind {
            Kind::Flood => Some(generate::open_flows_cache(&wsd, capture, &dir)?),
            _ => None,
        };
        println!("timing commands on {}", capture.kind.name());
        let jobs = measure::jobs_for(
            &tools,
            &wsd,
            pgo.as_deref(),
            capture,
            &empty,
            cache.as_deref(),
        );
        let series = measure::run_rounds(&tools, &jobs, options.runs)?;
        results.commands.push((capture.clone(), series));
    }
    for capture in &captures {
        println!("timing the library steps on {}", capture.kind.name());
        results.phases.push(phases::measure(capture, options.runs)?);
    }
    if let Some(flood) = captures.iter().find(|capture| capture.kind == Kind::Flood) {
        println!("timing the flow cache");
        results.cache = Some(cache::measure(flood, options.runs, &dir)?);
    }

    results.machine.load_at_end = machine::load_average();
    let text = report::render(&results);
    println!("\n{text}");
    if options.is_full() {
        let page = root.join("docs/benchmarks.md");
        write_results(&page, &text)?;
        println!("wrote the results into {}", page.display());
    } else {
        println!("docs/benchmarks.md left as it is: only full runs of every capture are recorded");
    }
    Ok(())
}

/// Replaces the results section of the benchmark page with `results`, keeping
/// everything before its heading.
fn write_results(page: &Path, results: &str) -> Result<(), String> {
    let old = match std::fs::read_to_string(page) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(format!("cannot read {}: {err}", page.display())),
    };
    let intro = match old.find(&format!("\n{RESULTS_HEADING}\n")) {
        Some(at) => &old[..=at],
        None if old.is_empty() => "# Benchmarks\n\n",
        None => old.as_str(),
    };
    let mut text = intro.trim_end_matches('\n').to_string();
    text.push_str("\n\n");
    text.push_str(RESULTS_HEADING);
    text.push_str("\n\n");
    text.push_str(results);
    std::fs::write(page, text).map_err(|err| format!("cannot write {}: {err}", page.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        Options::parse(&args)
    }

    #[test]
    fn options_default() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.runs, DEFAULT_RUNS);
        assert!(!options.quick);
        assert_eq!(options.only, None);
        assert!(options.pgo);
        assert!(options.is_full());
        assert_eq!(options.command_line(), "cargo xtask bench");
    }

    #[test]
    fn options_all_given() {
        let options = parse(&["--runs", "3", "--quick", "--only", "flood"]).unwrap();
        assert_eq!(options.runs, 3);
        assert!(options.quick);
        assert_eq!(options.only, Some(Kind::Flood));
        assert!(!options.pgo);
        assert!(!options.is_full());
        assert_eq!(
            options.command_line(),
            "cargo xtask bench --runs 3 --quick --only flood"
        );

        let options = parse(&["--no-pgo"]).unwrap();
        assert!(!options.pgo);
        assert!(options.is_full());
        assert_eq!(options.command_line(), "cargo xtask bench --no-pgo");
    }

    #[test]
    fn options_rejected() {
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--runs"]).is_err());
        assert!(parse(&["--only", "huge"]).is_err());
        assert!(parse(&["--fast"]).is_err());
    }

    #[test]
    fn results_replace_old_section() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let page = dir.join("benchmarks.md");
        std::fs::write(&page, "# Benchmarks\n\nIntro.\n\n## Results\n\nold table\n").unwrap();

        write_results(&page, "new table\n").unwrap();
        let text = std::fs::read_to_string(&page).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(text, "# Benchmarks\n\nIntro.\n\n## Results\n\nnew table\n");
    }
}
