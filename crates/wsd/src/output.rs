//! The record destination: standard output, a named file, or a new file in the
//! log directory.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use tracing::info;
use wsd_logfmt::{LocalTimeFormatter, LogWriter, OutputFormat, RecordOptions};

use crate::inputs::{is_same_file, is_same_path, Input};
use crate::run::Failure;
use wsd::cli::{Cli, Format};

/// Size of the output buffer: large enough that writes cost little per record.
const OUTPUT_BUFFER: usize = 256 * 1024;

/// How many numbered names to try when the generated log name is taken.
const NAME_ATTEMPTS: u32 = 1000;

/// The log being written, and its name for messages.
pub struct Output {
    /// The record writer.
    pub writer: LogWriter<BufWriter<Box<dyn Write>>>,
    /// The log's name for messages.
    pub name: String,
}

impl Output {
    /// Applies the record format and options of the command line.
    fn with_settings(self, cli: &Cli) -> Output {
        let format = match cli.format {
            Format::Text => OutputFormat::Text,
            Format::Json => OutputFormat::Json,
        };
        let options = RecordOptions {
            community_id_seed: cli.community_id_seed,
            compat: cli.compat,
        };
        Output {
            writer: self.writer.with_format(format).with_record_options(options),
            name: self.name,
        }
    }

    /// Returns the failure for a write error on this output.
    pub fn write_error(&self, err: io::Error) -> Failure {
        Failure::Other(format!("cannot write to {}: {err}", self.name))
    }
}

/// Opens the log `-L` or `-l` names, after checking that it destroys no input
/// and is not the flow cache.
pub fn open_output(cli: &Cli, inputs: &[Input]) -> Result<Output, Failure> {
    if let Some(cache) = &cli.wflow {
        reject_overlap(cache, "flow cache", "-W", inputs)?;
        if let Some(log) = cli.logfile.as_ref().filter(|log| log.as_os_str() != "-") {
            if is_same_path(cache, log) {
                return Err(Failure::Usage(format!(
                    "{} is given as both the log file (-L) and the flow cache (-W); use two files",
                    log.display()
                )));
            }
        }
    }
    match &cli.logfile {
        Some(path) if path.as_os_str() == "-" => open_stdout(),
        Some(path) => open_named(path, inputs),
        None => open_generated(&cli.logdir),
    }
    .map(|output| output.with_settings(cli))
}

fn open_stdout() -> Result<Output, Failure> {
    // NOTE: a closed standard output cannot be detected here: the Rust runtime
    // opens /dev/null in its place at start-up, so records then go nowhere.
    Ok(Output {
        writer: log_writer(Box::new(io::stdout())),
        name: "standard output".to_string(),
    })
}

/// Opens `-L FILE`, replacing an existing file.
fn open_named(path: &Path, inputs: &[Input]) -> Result<Output, Failure> {
    reject_overlap(path, "log file", "-L", inputs)?;
    if path.is_dir() {
        return Err(Failure::Usage(format!(
            "log file {} is a directory; give a file name with -L, or use -l to choose the log directory",
            path.display()
        )));
    }
    let file = File::create(path).map_err(|err| {
        Failure::Usage(format!("cannot create log file {}: {err}", path.display()))
    })?;
    Ok(Output {
        writer: log_writer(Box::new(file)),
        name: path.display().to_string(),
    })
}

/// Creates a new `HOST_YYYYMMDD_HHMMSS.log` in the log directory, adding `-2`,
/// `-3` and so on when a run in the same second took the name, so that no
/// earlier log is replaced.
fn open_generated(logdir: &Path) -> Result<Output, Failure> {
    if logdir.exists() && !logdir.is_dir() {
        return Err(Failure::Usage(format!(
            "log directory {} is not a directory; choose another with -l DIR",
            logdir.display()
        )));
    }
    std::fs::create_dir_all(logdir).map_err(|err| {
        Failure::Usage(format!(
            "cannot create log directory {}: {err}; choose another with -l DIR or write to a file with -L FILE",
            logdir.display()
        ))
    })?;
    let stem = generated_log_stem();
    for attempt in 1..=NAME_ATTEMPTS {
        let name = if attempt == 1 {
            format!("{stem}.log")
        } else {
            format!("{stem}-{attempt}.log")
        };
        let path = logdir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => {
                info!(file = %path.display(), "writing records");
                return Ok(Output {
                    writer: log_writer(Box::new(file)),
                    name: path.display().to_string(),
                });
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(Failure::Usage(format!(
                    "cannot create log file {}: {err}",
                    path.display()
                )))
            }
        }
    }
    Err(Failure::Usage(format!(
        "cannot create a new log file in {}: {stem}.log and {NAME_ATTEMPTS} numbered variants exist",
        logdir.display()
    )))
}

/// Rejects an output path that names one of the inputs, which writing it would
/// destroy.
fn reject_overlap(path: &Path, role: &str, option: &str, inputs: &[Input]) -> Result<(), Failure> {
    let overlaps = inputs.iter().any(|input| {
        input
            .metadata
            .as_ref()
            .is_some_and(|metadata| is_same_file(path, metadata))
    });
    if overlaps {
        return Err(Failure::Usage(format!(
            "{role} {} is also an input file; choose another name with {option}",
            path.display()
        )));
    }
    Ok(())
}

fn log_writer(inner: Box<dyn Write>) -> LogWriter<BufWriter<Box<dyn Write>>> {
    LogWriter::new(
        BufWriter::with_capacity(OUTPUT_BUFFER, inner),
        LocalTimeFormatter::system(),
    )
}

/// `{hostname}_{YYYYMMDD}_{HHMMSS}` in local time.
fn generated_log_stem() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    };
    let now = jiff::ZonedDateTime::now();
    format!("{host}_{}", now.strftime("%Y%m%d_%H%M%S"))
}
