//! Input files: checked before the run starts, opened in turn during it.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wsd_capture::{CaptureError, FileSource};

use crate::interruptible::InterruptibleReader;
use crate::run::{stop_flag, Failure};

/// An input named with `-r`, checked before the run starts.
pub struct Input {
    /// The path as given; `-` is standard input.
    pub path: PathBuf,
    /// Size in bytes, for the progress display, if known.
    pub len: Option<u64>,
    /// What the path names, to tell whether an output would overwrite it.
    pub metadata: Option<Metadata>,
    /// A source already open: standard input and pipes can be read only once,
    /// so they stay open from the check to the run.
    opened: Option<FileSource>,
}

impl Input {
    /// Returns the source to read, opening the file now unless it is already open.
    pub fn open(&mut self) -> Result<FileSource, Failure> {
        match self.opened.take() {
            Some(source) => Ok(source),
            None => open_file(&self.path),
        }
    }

    /// Opens the file now, for a run that drops privileges or changes its root
    /// directory before reading.
    ///
    /// `count` is the number of inputs, all open at once, which the message
    /// names when the limit of open files is reached.
    pub fn open_before_drop(&mut self, count: usize) -> Result<(), Failure> {
        if self.opened.is_some() {
            return Ok(());
        }
        let source = FileSource::open(&self.path).map_err(|err| {
            let too_many = matches!(&err, CaptureError::Open { source, .. }
                if source.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()));
            let mut message = err.to_string();
            if too_many {
                // The logs, the caches and the signal handling take about a
                // dozen more: 40 inputs needed 52 with -l, -R and -W.
                message.push_str(&format!(
                    "; with -u, -g or -c all {count} inputs are opened before privileges \
                     are dropped, so raise the limit of open files (ulimit -n) to {} or \
                     more, or read fewer inputs a run",
                    count + 16
                ));
            }
            Failure::Usage(message)
        })?;
        self.opened = Some(source);
        Ok(())
    }

    fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }

    /// Returns the name of the input in messages: `standard input` for `-`.
    pub fn name(&self) -> String {
        if self.is_stdin() {
            "standard input".to_string()
        } else {
            self.path.display().to_string()
        }
    }
}

/// Checks that every input opens as a capture before any is processed, so that a
/// typo in the last file name does not surface after an hour of work.
pub fn check_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, Failure> {
    let stdin_count = paths.iter().filter(|path| path.as_os_str() == "-").count();
    if stdin_count > 1 {
        return Err(Failure::Usage(format!(
            "standard input can be read only once, but -r - was given {stdin_count} times; \
             give -r - once, and save any other capture to a file to name with -r FILE"
        )));
    }
    let inputs: Vec<Input> = paths
        .iter()
        .map(|path| check_input(path))
        .collect::<Result<_, _>>()
        .map_err(|failure| match failure {
            Failure::Usage(message) if paths.len() > 1 => {
                let others = match paths.len() - 1 {
                    1 => "the other input".to_string(),
                    count => format!("the other {count} inputs"),
                };
                Failure::Usage(format!(
                    "{message}. No input was read: fix that input, or leave it out to \
                     read {others}"
                ))
            }
            failure => failure,
        })?;
    // A file read twice counts its packets twice. That can be meant, to replay
    // a capture, so it gets a warning and is not rejected.
    let mut seen: HashMap<(u64, u64), &Path> = HashMap::new();
    for input in &inputs {
        let Some(metadata) = input
            .metadata
            .as_ref()
            .filter(|metadata| metadata.is_file())
        else {
            continue;
        };
        if let Some(first) = seen.insert((metadata.dev(), metadata.ino()), &input.path) {
            tracing::warn!(
                "input {} is the same file as {}, so its packets count twice; \
                 give each capture once unless a replay is meant",
                input.path.display(),
                first.display()
            );
        }
    }
    Ok(inputs)
}

fn check_input(path: &Path) -> Result<Input, Failure> {
    let mut input = Input {
        path: path.to_path_buf(),
        len: None,
        metadata: None,
        opened: None,
    };
    if input.is_stdin() {
        // Standard input redirected from a file names that file, which an output
        // must not overwrite.
        input.metadata = std::fs::metadata("/dev/stdin").ok();
        // A file given on standard input counts as a file: its size shows the
        // progress, and a signal that stops it before its end is reported.
        input.len = input
            .metadata
            .as_ref()
            .filter(|metadata| metadata.is_file())
            .map(|metadata| metadata.len());
        let stdin = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|err| Failure::Other(format!("cannot read standard input: {err}")))?;
        let source = open_stream(input.name(), File::from(stdin))?;
        input.opened = Some(source);
        return Ok(input);
    }
    let metadata = std::fs::metadata(path).map_err(|err| {
        let advice = match err.kind() {
            io::ErrorKind::PermissionDenied => format!("; {READ_ADVICE}"),
            _ => String::new(),
        };
        Failure::Usage(format!(
            "cannot read input {}: {err}{advice}",
            path.display()
        ))
    })?;
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return Err(Failure::Usage(format!(
            "input {} is a directory; give capture files with -r",
            path.display()
        )));
    }
    if file_type.is_fifo() || file_type.is_socket() {
        // Checking consumes the start of the stream, so this source is the one read.
        let file = File::open(path).map_err(|err| {
            Failure::Usage(format!("cannot read input {}: {err}", path.display()))
        })?;
        let source = open_stream(path.display().to_string(), file)?;
        input.opened = Some(source);
        input.metadata = Some(metadata);
        return Ok(input);
    }
    if file_type.is_char_device() {
        // Checking consumes the start of the stream, so this source is the one read.
        let source = open_file(path)?;
        input.len = source.len();
        input.opened = Some(source);
    } else {
        // A small buffer, so that checking many files reads little of each.
        let source = FileSource::open_to_check(path).map_err(open_failure)?;
        input.len = source.len();
    }
    input.metadata = Some(metadata);
    Ok(input)
}

/// Opens a pipe or socket as a source whose reads a signal can end. The source
/// takes an end of input that the stop flag causes for a stop, not for a capture
/// cut short.
fn open_stream(name: String, file: File) -> Result<FileSource, Failure> {
    let stop = stop_flag();
    let reader = InterruptibleReader::new(file, Arc::clone(&stop));
    let mut source = FileSource::from_reader(name, reader, None)
        .map_err(|err| Failure::Usage(err.to_string()))?;
    source.set_stop_flag(stop);
    Ok(source)
}

fn open_file(path: &Path) -> Result<FileSource, Failure> {
    FileSource::open(path).map_err(open_failure)
}

/// Returns the failure of an input that could not be opened, with advice when
/// the user wsd runs as may not read it.
fn open_failure(err: CaptureError) -> Failure {
    let denied = matches!(&err, CaptureError::Open { source, .. }
        if source.kind() == io::ErrorKind::PermissionDenied);
    match denied {
        true => Failure::Usage(format!("{err}; {READ_ADVICE}")),
        false => Failure::Usage(err.to_string()),
    }
}

/// The advice for an input that the user wsd runs as may not read.
const READ_ADVICE: &str = "let the user wsd runs as read the file and enter each directory \
                           above it, or run wsd as a user who can";

/// True if `path` names the same file as `metadata`, by device and inode, which
/// also catches hard links and symbolic links.
pub fn is_same_file(path: &Path, metadata: &Metadata) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|other| other.dev() == metadata.dev() && other.ino() == metadata.ino())
}

/// True if two paths name the same file: the same device and inode when both
/// exist, else the same path once their directories are resolved.
pub fn is_same_path(a: &Path, b: &Path) -> bool {
    if let Ok(metadata) = std::fs::metadata(a) {
        if std::fs::metadata(b).is_ok() {
            return is_same_file(b, &metadata);
        }
    }
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Returns `path` with its directory resolved, links and `..` included, where
/// that directory exists, else `path` made absolute. So `sub/../c.cache` and
/// `c.cache` compare equal before either file exists. A symbolic link to a
/// file that does not exist yet resolves to that file, which writing through
/// the link would create.
fn resolved(path: &Path) -> Option<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let Ok(target) = std::fs::read_link(&path) else {
            break;
        };
        // An absolute target replaces the directory in `join`.
        path = match path.parent() {
            Some(parent) => parent.join(target),
            None => target,
        };
    }
    let in_directory = path.file_name().and_then(|name| {
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        parent.canonicalize().ok().map(|dir| dir.join(name))
    });
    in_directory.or_else(|| std::path::absolute(&path).ok())
}

/// Symbolic links followed in a row, as the kernel's limit for a path.
const MAX_LINKS: usize = 40;

#[cfg(test)]
mod tests {
    use super::*;

    /// An input that may not be read gets the advice; one that is missing
    /// does not.
    #[test]
    fn denied_input_advised() {
        let error = |kind| CaptureError::Open {
            path: PathBuf::from("capture.pcap"),
            source: io::Error::from(kind),
        };
        let denied = open_failure(error(io::ErrorKind::PermissionDenied));
        let denied = denied.message();
        let missing = open_failure(error(io::ErrorKind::NotFound));
        let missing = missing.message();

        assert!(denied.starts_with("cannot open capture.pcap: "), "{denied}");
        assert!(denied.ends_with(READ_ADVICE), "{denied}");
        assert!(!missing.contains(READ_ADVICE), "{missing}");
    }
}
