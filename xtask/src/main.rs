//! Development tasks: `cargo xtask regress`, `cargo xtask bless`,
//! `cargo xtask gen-fixtures` and `cargo xtask compare-tshark`.

mod fixtures;
mod regress;
mod tshark;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  regress        run wsd over every fixture and compare with the golden outputs
  bless          rewrite the golden outputs from the current wsd (review the diff!)
  gen-fixtures   write the generated captures under fixtures/captures again
  compare-tshark [FILE...]
                 compare wsd's TCP flow records with tshark's TCP streams
                 (default: every capture in ../shared/corpus)";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "regress" => regress::run(regress::Mode::Compare),
        "bless" => regress::run(regress::Mode::Bless),
        "gen-fixtures" => fixtures::generate(&workspace_root().join("fixtures/captures")),
        "compare-tshark" => tshark::run(std::env::args_os().skip(2).map(PathBuf::from).collect()),
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

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match manifest_dir.parent() {
        Some(root) => root.to_path_buf(),
        None => manifest_dir,
    }
}
