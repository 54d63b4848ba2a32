//! `cargo xtask pgo`: release builds of `wsd` and `flowcache` optimized with
//! a profile of their own runs (profile-guided optimization).
//!
//! The programs are built once with instrumentation that counts how often
//! each branch and call is taken, then run on training captures. The counts
//! are merged into one profile with `llvm-profdata`, and a second build uses
//! them to choose what to inline and to lay out the code for the paths taken
//! most. The training captures are the bundled ones under `fixtures/` and
//! captures of the benchmark's generator with other seeds and sizes than the
//! benchmark's own, so that the benchmark measures traffic the profile has
//! not seen.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::generate::{self, Kind};
use crate::{target_dir, workspace_root};

/// The packages built with the profile.
const PACKAGES: [&str; 2] = ["wsd", "flowcache"];

/// Each training capture's size is the benchmark capture's divided by this.
const TRAINING_DIVISOR: u32 = 4;

/// Added to each benchmark capture's seed for its training capture.
const TRAINING_SEED_OFFSET: u64 = 100;

/// The separator of the flags in `CARGO_ENCODED_RUSTFLAGS`.
const ENCODED_FLAG_SEPARATOR: &str = "\x1f";

/// The directories of one profile-guided build, all under the cargo target
/// directory.
pub struct Layout {
    /// Target directory of the instrumented build.
    instrumented: PathBuf,
    /// Directory of the counts that the instrumented runs write.
    counts: PathBuf,
    /// The training captures.
    training: PathBuf,
    /// The merged profile.
    profile: PathBuf,
    /// Target directory of the optimized build; its binaries are in
    /// `release` below it.
    pub optimized: PathBuf,
}

impl Layout {
    /// Returns the layout under the target directory `target`.
    pub fn new(target: &Path) -> Layout {
        let pgo = target.join("pgo");
        Layout {
            instrumented: pgo.join("instrumented"),
            counts: pgo.join("counts"),
            training: pgo.join("training"),
            profile: pgo.join("merged.profdata"),
            optimized: pgo.join("optimized"),
        }
    }

    /// Returns the path of the optimized build of `program`.
    pub fn program(&self, program: &str) -> PathBuf {
        self.optimized.join("release").join(program)
    }
}

/// Runs `cargo xtask pgo` with the arguments that follow `pgo`.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "unknown argument {arg:?} for pgo, which takes none"
        ));
    }
    let root = workspace_root();
    if cfg!(debug_assertions) {
        return crate::run_release_build(&root, "pgo", args);
    }
    let layout = build(&root)?;
    println!("built with the profile:");
    for program in PACKAGES {
        println!("  {}", layout.program(program).display());
    }
    Ok(())
}

/// Builds `wsd` and `flowcache` with a profile of their runs on the training
/// captures, and returns where the builds are.
pub fn build(root: &Path) -> Result<Layout, String> {
    let started = Instant::now();
    let profdata = find_profdata()?;
    // The compiler runs in another directory than this task, so a relative
    // CARGO_TARGET_DIR is made absolute here.
    let target = std::path::absolute(target_dir(root))
        .map_err(|err| format!("cannot find the target directory: {err}"))?;
    let layout = Layout::new(&target);

    println!(
        "building with instrumentation into {}",
        layout.instrumented.display()
    );
    // Build scripts run instrumented too; their counts go to a directory of
    // their own, so that only the training runs make the profile.
    let build_counts = layout.instrumented.join("build-counts");
    let flag = profile_flag("-Cprofile-generate=", &build_counts);
    cargo_build(root, &layout.instrumented, &flag)?;

    if layout.counts.exists() {
        fs::remove_dir_all(&layout.counts)
            .map_err(|err| format!("cannot remove {}: {err}", layout.counts.display()))?;
    }
    fs::create_dir_all(&layout.counts)
        .map_err(|err| format!("cannot create {}: {err}", layout.counts.display()))?;
    train(root, &layout)?;

    println!("merging the counts into {}", layout.profile.display());
    let status = Command::new(&profdata)
        .arg("merge")
        .arg("-o")
        .arg(&layout.profile)
        .arg(&layout.counts)
        .status()
        .map_err(|err| format!("cannot run {}: {err}", profdata.display()))?;
    if !status.success() {
        return Err(format!(
            "{} could not merge the counts in {} ({status})",
            profdata.display(),
            layout.counts.display()
        ));
    }

    println!(
        "building with the profile into {}",
        layout.optimized.display()
    );
    let flag = profile_flag("-Cprofile-use=", &layout.profile);
    cargo_build(root, &layout.optimized, &flag)?;
    println!(
        "profile-guided build done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(layout)
}

/// Returns `prefix` followed by `path`, as one compiler flag.
fn profile_flag(prefix: &str, path: &Path) -> OsString {
    let mut flag = OsString::from(prefix);
    flag.push(path);
    flag
}

/// Builds the packages in release mode into `target` with the compiler flag
/// `flag` added to those that the environment gives cargo.
///
/// NOTE: like `RUSTFLAGS`, the variable set here replaces any `rustflags` of
/// cargo's configuration files, so this build leaves those out.
fn cargo_build(root: &Path, target: &Path, flag: &OsString) -> Result<(), String> {
    let flags = encoded_rustflags(
        std::env::var_os("CARGO_ENCODED_RUSTFLAGS").as_deref(),
        std::env::var_os("RUSTFLAGS").as_deref(),
        flag,
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command.args(["build", "--release", "--quiet"]);
    for package in PACKAGES {
        command.args(["--package", package]);
    }
    let status = command
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_ENCODED_RUSTFLAGS", flags)
        .current_dir(root)
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the build into {} failed ({status})",
            target.display()
        ))
    }
}

/// Returns the value of `CARGO_ENCODED_RUSTFLAGS` that adds `flag` to the
/// compiler flags cargo takes from `encoded` (`CARGO_ENCODED_RUSTFLAGS`) or,
/// if that is unset, from `plain` (`RUSTFLAGS`).
///
/// Cargo ignores `RUSTFLAGS` whenever `CARGO_ENCODED_RUSTFLAGS` is set, even
/// to an empty value, and splits `RUSTFLAGS` at whitespace, which would cut a
/// profile path that contains a space. The encoded form separates the flags
/// with the 0x1f unit separator instead.
fn encoded_rustflags(encoded: Option<&OsStr>, plain: Option<&OsStr>, flag: &OsStr) -> OsString {
    let inherited: Vec<String> = match (encoded, plain) {
        (Some(encoded), _) if encoded.is_empty() => Vec::new(),
        (Some(encoded), _) => encoded
            .to_string_lossy()
            .split(ENCODED_FLAG_SEPARATOR)
            .map(str::to_string)
            .collect(),
        (None, Some(plain)) => plain
            .to_string_lossy()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        (None, None) => Vec::new(),
    };
    let mut flags = OsString::new();
    for inherited_flag in inherited {
        flags.push(inherited_flag);
        flags.push(ENCODED_FLAG_SEPARATOR);
    }
    flags.push(flag);
    flags
}

/// Runs the instrumented programs on the training captures: flow records as
/// text and JSON, packet lines, worker threads, the flow cache and the bundled
/// captures.
fn train(root: &Path, layout: &Layout) -> Result<(), String> {
    let mut captures = Vec::new();
    for kind in Kind::ALL {
        let seed = generate::default_seed(kind) + TRAINING_SEED_OFFSET;
        let capture = generate::ensure_seeded(kind, TRAINING_DIVISOR, seed, &layout.training)?;
        captures.push(capture.path);
    }
    let fixtures = root.join("fixtures/captures");
    let mut bundled: Vec<PathBuf> = fs::read_dir(&fixtures)
        .map_err(|err| format!("cannot list {}: {err}", fixtures.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    bundled.sort();

    let wsd = layout.instrumented.join("release/wsd");
    let flowcache = layout.instrumented.join("release/flowcache");
    let cache = layout.training.join("training.cache");
    let _ = fs::remove_file(&cache);
    let counts = &layout.counts;
    println!("running the instrumented build on the training captures");
    for capture in &captures {
        for options in [&[][..], &["-V"], &["--format", "json"], &["--threads", "2"]] {
            let mut args = os_args(options);
            args.extend(os_args(&["-L", "/dev/null", "-r"]));
            args.push(capture.into());
            train_run(&wsd, &args, counts)?;
        }
        // Each capture continues the flows that the one before left, as in
        // a series of captures.
        let mut args = os_args(&["-L", "/dev/null", "-R"]);
        args.extend([cache.clone().into(), "-W".into(), cache.clone().into()]);
        args.extend(["-r".into(), capture.into()]);
        train_run(&wsd, &args, counts)?;
    }
    for options in [&[][..], &["--summary"], &["--check"]] {
        let mut args = os_args(options);
        args.push(cache.clone().into());
        train_run(&flowcache, &args, counts)?;
    }
    for capture in &bundled {
        let mut args = os_args(&["-V", "-L", "/dev/null", "-r"]);
        args.push(capture.into());
        train_run(&wsd, &args, counts)?;
    }
    Ok(())
}

/// Returns `args` as arguments of a command.
fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Runs the instrumented `program` with `args`, its counts written into the
/// directory `counts`, and fails unless it succeeds.
fn train_run(program: &Path, args: &[OsString], counts: &Path) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        // %m names the binary and %p the process, so that no two runs write
        // one file.
        .env("LLVM_PROFILE_FILE", counts.join("%m-%p.profraw"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| format!("cannot run {}: {err}", program.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let args: Vec<_> = args.iter().map(|arg| arg.to_string_lossy()).collect();
    Err(format!(
        "training run `{} {}` failed ({}): {}",
        program.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// Finds an `llvm-profdata` of the LLVM version that `rustc` is built on: the
/// one of rustup's `llvm-tools` component first, then `llvm-profdata-N` and
/// `llvm-profdata` on `PATH`. The tool of another LLVM version rejects the
/// counts: that of LLVM 14 reports an unsupported profile format version.
pub fn find_profdata() -> Result<PathBuf, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let output = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|err| format!("cannot run {rustc}: {err}"))?;
    let info = String::from_utf8_lossy(&output.stdout);
    let major = rustc_llvm_major(&info)
        .ok_or_else(|| format!("`{rustc} -vV` names no LLVM version:\n{info}"))?;
    let host = info
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .unwrap_or_default()
        .trim()
        .to_string();
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|err| format!("cannot run {rustc}: {err}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());

    let mut candidates = vec![sysroot.join(format!("lib/rustlib/{host}/bin/llvm-profdata"))];
    for name in [
        format!("llvm-profdata-{major}"),
        "llvm-profdata".to_string(),
    ] {
        candidates.extend(crate::find_on_path(&name));
    }
    let mut rejected = Vec::new();
    for candidate in candidates.into_iter().filter(|path| path.is_file()) {
        // `llvm-profdata --version` of LLVM 14 fails without output, and
        // `merge --version` prints the version in LLVM 14 and 22 alike.
        let version = Command::new(&candidate)
            .args(["merge", "--version"])
            .output()
            .ok()
            .and_then(|output| profdata_llvm_major(&String::from_utf8_lossy(&output.stdout)));
        match version {
            Some(found) if found == major => return Ok(candidate),
            Some(found) => rejected.push(format!("{} is of LLVM {found}", candidate.display())),
            None => rejected.push(format!("{} gave no version", candidate.display())),
        }
    }
    let mut message = format!(
        "a profile-guided build needs llvm-profdata of LLVM {major}, the version rustc is \
         built on, and none was found. `rustup component add llvm-tools` installs it, or \
         put llvm-profdata-{major} on PATH"
    );
    if !rejected.is_empty() {
        message.push_str(&format!(" ({})", rejected.join("; ")));
    }
    Err(message)
}

/// Returns the major LLVM version in the output of `rustc -vV`.
fn rustc_llvm_major(info: &str) -> Option<u32> {
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("LLVM version: "))?;
    leading_number(version)
}

/// Returns the major LLVM version in the output of
/// `llvm-profdata merge --version`, which has a line such as
/// `LLVM version 22.1.2-rust-1.95.0-stable` from rustup's build or
/// `Debian LLVM version 14.0.6` from Debian's.
fn profdata_llvm_major(text: &str) -> Option<u32> {
    const MARKER: &str = "LLVM version ";
    let version = text.lines().find_map(|line| {
        let start = line.find(MARKER)? + MARKER.len();
        Some(&line[start..])
    })?;
    leading_number(version)
}

/// Returns the whole number at the start of `text`, up to its first dot.
fn leading_number(text: &str) -> Option<u32> {
    text.trim().split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llvm_version_of_rustc() {
        let info = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n\
                    host: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n";
        assert_eq!(rustc_llvm_major(info), Some(22));
        assert_eq!(rustc_llvm_major("rustc 1.95.0\n"), None);
    }

    #[test]
    fn llvm_version_of_profdata() {
        let rustup = "LLVM (http://llvm.org/):\n  LLVM version 22.1.2-rust-1.95.0-stable\n  \
                      Optimized build.\n";
        assert_eq!(profdata_llvm_major(rustup), Some(22));
        assert_eq!(
            profdata_llvm_major("llvm-profdata: Unknown command!\n"),
            None
        );
        let plain = "LLVM (http://llvm.org/):\n  LLVM version 14.0.6\n";
        assert_eq!(profdata_llvm_major(plain), Some(14));
        let debian = "Debian LLVM version 14.0.6\n  Optimized build.\n  \
                      Default target: x86_64-pc-linux-gnu\n";
        assert_eq!(profdata_llvm_major(debian), Some(14));
    }

    #[test]
    fn rustflags_split_at_whitespace() {
        let flags = encoded_rustflags(
            None,
            Some(OsStr::new(" -C  target-cpu=native ")),
            OsStr::new("-Cprofile-use=/a b/merged.profdata"),
        );
        assert_eq!(
            flags,
            "-C\x1ftarget-cpu=native\x1f-Cprofile-use=/a b/merged.profdata"
        );
    }

    #[test]
    fn encoded_rustflags_replace_plain_ones() {
        let flags = encoded_rustflags(
            Some(OsStr::new("--cfg\x1ffoo bar")),
            Some(OsStr::new("-Copt-level=1")),
            OsStr::new("-Cprofile-use=p"),
        );
        assert_eq!(flags, "--cfg\x1ffoo bar\x1f-Cprofile-use=p");

        let empty = encoded_rustflags(
            Some(OsStr::new("")),
            Some(OsStr::new("-Copt-level=1")),
            OsStr::new("-Cprofile-use=p"),
        );
        assert_eq!(empty, "-Cprofile-use=p");
    }

    #[test]
    fn rustflags_without_environment() {
        let flags = encoded_rustflags(None, None, OsStr::new("-Cprofile-use=p"));
        assert_eq!(flags, "-Cprofile-use=p");
    }

    #[test]
    fn layout_under_target() {
        let layout = Layout::new(Path::new("/t"));
        assert_eq!(
            layout.program("wsd"),
            Path::new("/t/pgo/optimized/release/wsd")
        );
        assert!(layout.counts.starts_with("/t/pgo"));
        assert_ne!(layout.instrumented, layout.optimized);
    }
}
