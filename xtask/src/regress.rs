//! Fixture regressions: run `wsd` over every fixture capture and compare its
//! output with the golden files committed under `fixtures/golden`.
//!
//! The fixtures are the captures under `fixtures/captures` plus the files of the
//! shared corpus named in `fixtures/corpus.txt`, found in `../shared/corpus`
//! beside the repository. Each golden file starts with the exit status of the run.
//! Packet-line goldens (`-V`) are kept only for captures small enough that their
//! golden stays reviewable.
//!
//! Each case also runs with `--compat`, whose output must equal the golden cut
//! down to the classic format: only `TCPFLOW` records, each ending after its
//! `bytesOut` key, and every packet line. Before the keys after `bytesOut` and
//! the records of other protocols were added, that cut-down text was the golden
//! itself, so this checks that `--compat` still writes exactly the old output.
//! Where the cut-down golden cannot match (see [`bless_compat_override`]), the
//! `--compat` output has its own golden beside the others, ending in `.compat`.
//!
//! With `--pgo`, the build of `cargo xtask pgo` is checked against the goldens,
//! and its output with worker threads and with JSON records against that of the
//! plain release build, which has no goldens of those.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{target_dir, workspace_root};

/// Captures up to this size also get a packet-line golden.
const VERBOSE_MAX_BYTES: u64 = 200 * 1024;

/// Whether to compare with the goldens or rewrite them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compare and fail on any difference.
    Compare,
    /// Rewrite the goldens.
    Bless,
}

/// One run of `wsd` to check.
struct Case {
    name: String,
    capture: PathBuf,
    verbose: bool,
}

/// Returns `golden` as `--compat` writes it: record lines of other protocols
/// dropped, and every `TCPFLOW` line cut after its `bytesOut` value.
fn classic_output(golden: &str) -> String {
    let mut classic = String::with_capacity(golden.len());
    for line in golden.lines() {
        let is_record = ["UDPFLOW ", "ICMPFLOW ", "IPFLOW "]
            .iter()
            .any(|keyword| line.starts_with(keyword));
        if is_record {
            continue;
        }
        let kept = match (line.starts_with("TCPFLOW "), line.find(" bytesOut=")) {
            (true, Some(start)) => {
                let value_start = start + " bytesOut=".len();
                let value_end = line[value_start..]
                    .find(' ')
                    .map_or(line.len(), |end| value_start + end);
                &line[..value_end]
            }
            _ => line,
        };
        classic.push_str(kept);
        classic.push('\n');
    }
    classic
}

/// Writes the `--compat` golden `path` when `compat` differs from `classic`, the
/// golden cut down to the classic format, and removes a stale one otherwise.
///
/// The cut-down golden cannot always be the old output. With only TCP records,
/// ICMP is tracked per address pair as in earlier versions. An ICMP error's
/// packet line can then point the other way than in the default run, where an
/// ICMP error is a flow of its own. Such cases keep their `--compat` output in a file
/// of its own.
fn bless_compat_override(path: &Path, classic: &str, compat: &str) -> Result<(), String> {
    if compat == classic {
        return match fs::remove_file(path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove {}: {err}", path.display()))
            }
            _ => Ok(()),
        };
    }
    println!(
        "{}: --compat output differs from the cut-down golden; review this file",
        path.display()
    );
    fs::write(path, compat).map_err(|err| format!("cannot write {}: {err}", path.display()))
}

/// Runs the regressions in `mode` with the arguments that follow the task:
/// none, or `--pgo` to check the build of `cargo xtask pgo` instead of the
/// plain release build.
pub fn run(mode: Mode, args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    // With `--pgo`, the plain build to compare the other options with.
    let (wsd, plain) = match args {
        [] => (build_wsd(&root)?, None),
        [flag] if flag == "--pgo" && mode == Mode::Compare => {
            if cfg!(debug_assertions) {
                return crate::run_release_build(&root, "regress", args);
            }
            let pgo = crate::pgo::build(&root)?.program("wsd");
            (pgo, Some(build_wsd(&root)?))
        }
        _ => return Err(invalid_arguments(mode, args)),
    };
    let cases = collect_cases(&root)?;
    let golden_dir = root.join("fixtures/golden");
    fs::create_dir_all(&golden_dir)
        .map_err(|err| format!("cannot create {}: {err}", golden_dir.display()))?;

    let mut failures = Vec::new();
    for case in &cases {
        let actual = run_wsd(&wsd, case, &[])?;
        let suffix = if case.verbose { "verbose" } else { "flows" };
        let golden = golden_dir.join(format!("{}.{suffix}", case.name));
        let expected = match mode {
            Mode::Bless => {
                fs::write(&golden, &actual)
                    .map_err(|err| format!("cannot write {}: {err}", golden.display()))?;
                actual
            }
            Mode::Compare => {
                let expected = fs::read_to_string(&golden).unwrap_or_default();
                if expected != actual {
                    failures.push(describe_difference(&golden, &expected, &actual));
                }
                expected
            }
        };

        if let Some(plain) = &plain {
            failures.extend(compare_builds(&wsd, plain, case)?);
        }

        let compat = run_wsd(&wsd, case, &["--compat"])?;
        let override_path = golden_dir.join(format!("{}.{suffix}.compat", case.name));
        let expected_compat = match mode {
            Mode::Bless => {
                bless_compat_override(&override_path, &classic_output(&expected), &compat)?;
                continue;
            }
            Mode::Compare => match fs::read_to_string(&override_path) {
                Ok(text) => text,
                Err(_) => classic_output(&expected),
            },
        };
        if compat != expected_compat {
            let label = golden.with_extension(format!("{suffix} (--compat)"));
            failures.push(describe_difference(&label, &expected_compat, &compat));
        }
    }

    match mode {
        Mode::Bless => {
            println!(
                "rewrote {} golden files under {}",
                cases.len(),
                golden_dir.display()
            );
            Ok(())
        }
        Mode::Compare if failures.is_empty() => {
            println!("{} passed, 0 failed", cases.len());
            Ok(())
        }
        Mode::Compare => {
            for failure in &failures {
                eprintln!("{failure}");
            }
            println!(
                "{} passed, {} failed",
                cases.len() - failures.len(),
                failures.len()
            );
            Err("output differs from the goldens; if the change is intended, run `cargo xtask bless` and review the diff".to_string())
        }
    }
}

/// Returns the error for arguments that the task of `mode` does not take.
fn invalid_arguments(mode: Mode, args: &[String]) -> String {
    match mode {
        Mode::Compare => {
            format!("invalid arguments {args:?} for regress, which takes none or --pgo")
        }
        Mode::Bless => format!(
            "invalid arguments {args:?} for bless, which takes none: it writes the goldens \
             with the plain release build, and `cargo xtask regress --pgo` checks the \
             profile-guided build against them"
        ),
    }
}

/// Builds `wsd` in release mode and returns the path of the binary.
pub fn build_wsd(root: &Path) -> Result<PathBuf, String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
        .args(["build", "--release", "--quiet", "--package", "wsd"])
        .current_dir(root)
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err("building wsd failed".to_string());
    }
    Ok(target_dir(root).join("release/wsd"))
}

fn collect_cases(root: &Path) -> Result<Vec<Case>, String> {
    let mut captures = Vec::new();
    let generated = root.join("fixtures/captures");
    let entries = fs::read_dir(&generated)
        .map_err(|err| format!("cannot list {}: {err}", generated.display()))?;
    for entry in entries.flatten() {
        captures.push(entry.path());
    }

    let corpus_dir = root.join("../shared/corpus");
    let list_path = root.join("fixtures/corpus.txt");
    let list = fs::read_to_string(&list_path)
        .map_err(|err| format!("cannot read {}: {err}", list_path.display()))?;
    for name in list
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let path = corpus_dir.join(name);
        if !path.is_file() {
            return Err(format!(
                "corpus capture {} is missing; the shared captures must sit in ../shared/corpus beside the repository",
                path.display()
            ));
        }
        captures.push(path);
    }
    captures.sort();

    let mut cases = Vec::new();
    for capture in captures {
        let name = capture
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let small = fs::metadata(&capture)
            .map(|meta| meta.len() <= VERBOSE_MAX_BYTES)
            .unwrap_or(false);
        cases.push(Case {
            name: name.clone(),
            capture: capture.clone(),
            verbose: false,
        });
        if small {
            cases.push(Case {
                name,
                capture,
                verbose: true,
            });
        }
    }
    Ok(cases)
}

/// Options with which the profile-guided build must write what the plain build
/// writes. Cases with packet lines leave out `-V` where worker threads run,
/// because the two do not go together.
const BUILDS_COMPARED_WITH: [&[&str]; 3] = [
    &["--threads", "2"],
    &["--format", "json"],
    &["--threads", "3", "--format", "json"],
];

/// Runs `case` with each of [`BUILDS_COMPARED_WITH`] in the profile-guided
/// build `pgo` and the plain build `plain`, and returns a description of each
/// difference.
fn compare_builds(pgo: &Path, plain: &Path, case: &Case) -> Result<Vec<String>, String> {
    let mut differences = Vec::new();
    for options in BUILDS_COMPARED_WITH {
        let case = Case {
            name: case.name.clone(),
            capture: case.capture.clone(),
            verbose: case.verbose && !options.contains(&"--threads"),
        };
        let expected = run_wsd(plain, &case, options)?;
        let actual = run_wsd(pgo, &case, options)?;
        if expected != actual {
            let label = PathBuf::from(format!(
                "{} with {} (the plain build's output)",
                case.name,
                options.join(" ")
            ));
            differences.push(describe_difference(&label, &expected, &actual));
        }
    }
    Ok(differences)
}

/// Runs `wsd` in UTC with the options `extra` after the case's own, and returns
/// the golden text: the exit status, then standard output.
fn run_wsd(wsd: &Path, case: &Case, extra: &[&str]) -> Result<String, String> {
    let mut command = Command::new(wsd);
    command
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .arg("-r")
        .arg(&case.capture)
        .args(["-L", "-"]);
    if case.verbose {
        command.arg("-V");
    }
    command.args(extra);
    let output = command
        .output()
        .map_err(|err| format!("cannot run {}: {err}", wsd.display()))?;
    let status = output
        .status
        .code()
        .map_or_else(|| "killed".to_string(), |code| code.to_string());
    Ok(format!(
        "# exit {status}\n{}",
        String::from_utf8_lossy(&output.stdout)
    ))
}

fn describe_difference(golden: &Path, expected: &str, actual: &str) -> String {
    let mismatch = expected
        .lines()
        .zip(actual.lines())
        .enumerate()
        .find(|(_, (e, a))| e != a);
    match mismatch {
        Some((line, (e, a))) => format!(
            "{}: line {} differs\n  expected: {e}\n  actual:   {a}",
            golden.display(),
            line + 1
        ),
        None => format!(
            "{}: expected {} lines, got {}",
            golden.display(),
            expected.lines().count(),
            actual.lines().count()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Writes an executable shell script `name` in `dir` with `body`.
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A build that writes other records with worker threads differs once for
    /// each option set with threads, and a verbose case gets no `-V` there.
    #[test]
    fn builds_differ_with_threads() {
        let dir = std::env::temp_dir().join(format!("xtask-regress-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let plain = script(&dir, "plain", r#"echo "TCPFLOW $*""#);
        let pgo = script(
            &dir,
            "pgo",
            r#"case "$*" in *--threads*) echo "TCPFLOW other";; *) echo "TCPFLOW $*";; esac"#,
        );
        let case = Case {
            name: "sample".to_string(),
            capture: dir.join("sample.pcap"),
            verbose: true,
        };
        let differences = compare_builds(&pgo, &plain, &case).unwrap();
        let same = compare_builds(&plain, &plain, &case).unwrap();
        fs::remove_dir_all(&dir).unwrap();

        assert!(same.is_empty(), "{same:?}");
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[0].contains("sample with --threads 2"));
        assert!(!differences[0].contains("-V"), "{}", differences[0]);
        assert!(differences[1].contains("--threads 3 --format json"));
    }
}
