//! Development tasks: `cargo xtask regress`, `cargo xtask bless`,
//! `cargo xtask gen-fixtures`, `cargo xtask compare-tshark`,
//! `cargo xtask bench`, `cargo xtask generate`, `cargo xtask pgo` and
//! `cargo xtask man`.

#![forbid(unsafe_code)]

mod bench;
mod fixtures;
mod generate;
mod man;
mod pgo;
mod regress;
mod tshark;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  regress [--pgo]
                 run wsd over every fixture and compare with the golden outputs;
                 --pgo checks the build of `cargo xtask pgo` instead
  bless          rewrite the golden outputs from the current wsd (review the diff!)
  gen-fixtures   write the generated captures under fixtures/captures again
  compare-tshark [FILE...]
                 compare wsd's TCP flow records with tshark's TCP streams
                 (default: every capture in ../shared/corpus)
  bench [--runs N] [--quick] [--only mixed|flood|bulk] [--no-pgo]
                 time wsd, cat and tcpdump on generated captures, the flow
                 cache and the library steps; a full run (no --quick or
                 --only) writes the results into docs/benchmarks.md.
                 --runs N   timed runs of each command after one warm-up (default 5)
                 --quick    captures a tenth of the full size, for a smoke run,
                            and no profile-guided build
                 --only C   only the capture C
                 --no-pgo   leave out the build of `cargo xtask pgo`, which is
                            timed beside the plain release build where rustup's
                            llvm-tools are installed
  generate mixed|flood|bulk [--divisor N] [--seed N] [--out DIR]
                 write one of the bench's captures (in the target directory's
                 bench folder unless --out) and print what it holds; --divisor
                 divides its size, --seed gives other traffic of the same shape
  pgo            build wsd and flowcache optimized with a profile of their
                 runs on generated captures (needs rustup's llvm-tools)
  man [--check]  write the manual pages man/wsd.1 and man/flowcache.1 from the
                 command-line definitions; --check writes nothing and fails if
                 the committed pages are out of date";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "regress" => regress::run(regress::Mode::Compare, &args()),
        "bless" => regress::run(regress::Mode::Bless, &args()),
        "gen-fixtures" => fixtures::generate(&workspace_root().join("fixtures/captures")),
        "compare-tshark" => tshark::run(std::env::args_os().skip(2).map(PathBuf::from).collect()),
        "bench" => bench::run(&args()),
        "generate" => generate::run(&args()),
        "pgo" => pgo::run(&args()),
        "man" => man::run(&args()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {task}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the arguments that follow the task's name.
fn args() -> Vec<String> {
    std::env::args().skip(2).collect()
}

/// Returns the cargo target directory: `CARGO_TARGET_DIR` if set, else
/// `target` in the workspace root.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Returns the workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match manifest_dir.parent() {
        Some(root) => root.to_path_buf(),
        None => manifest_dir,
    }
}

/// Finds an executable named `name` in the directories of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Builds xtask in release mode and runs its task `task` with `args`, for
/// the tasks that generate captures, which an unoptimized build makes slowly.
fn run_release_build(root: &Path, task: &str, args: &[String]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--package", "xtask"])
        .current_dir(root)
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err("building xtask in release mode failed".to_string());
    }
    let xtask = target_dir(root).join("release/xtask");
    let status = Command::new(&xtask)
        .arg(task)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|err| format!("cannot run {}: {err}", xtask.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the release build of `cargo xtask {task}` failed ({status})"
        ))
    }
}
