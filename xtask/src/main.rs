//! Development tasks: `cargo xtask regress`, `cargo xtask bless`,
//! `cargo xtask gen-fixtures`, `cargo xtask compare-tshark`,
//! `cargo xtask bench` and `cargo xtask man`.

#![forbid(unsafe_code)]

mod bench;
mod fixtures;
mod generate;
mod man;
mod regress;
mod tshark;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  regress        run wsd over every fixture and compare with the golden outputs
  bless          rewrite the golden outputs from the current wsd (review the diff!)
  gen-fixtures   write the generated captures under fixtures/captures again
  compare-tshark [FILE...]
                 compare wsd's TCP flow records with tshark's TCP streams
                 (default: every capture in ../shared/corpus)
  bench [--runs N] [--quick] [--only mixed|flood|bulk]
                 time wsd, cat and tcpdump on generated captures, the flow
                 cache and the library steps; a full run (no --quick or
                 --only) writes the results into docs/benchmarks.md.
                 --runs N   timed runs of each command after one warm-up (default 5)
                 --quick    captures a tenth of the full size, for a smoke run
                 --only C   only the capture C
  man [--check]  write the manual pages man/wsd.1 and man/flowcache.1 from the
                 command-line definitions; --check writes nothing and fails if
                 the committed pages are out of date";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "regress" => regress::run(regress::Mode::Compare),
        "bless" => regress::run(regress::Mode::Bless),
        "gen-fixtures" => fixtures::generate(&workspace_root().join("fixtures/captures")),
        "compare-tshark" => tshark::run(std::env::args_os().skip(2).map(PathBuf::from).collect()),
        "bench" => bench::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        "man" => man::run(&std::env::args().skip(2).collect::<Vec<_>>()),
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
