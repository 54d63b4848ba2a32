//! Errors of the capture-file reader.

use std::io;
use std::path::{Path, PathBuf};

/// An error that stops a [`FileSource`](crate::FileSource) from opening or reading a file.
///
/// Every variant names the file, and those raised after the file header name the byte
/// offset too. Problems the reader can step over, such as a single malformed packet
/// record or a file cut short after its last complete record, are not errors: they are
/// counted in [`ReadStats`](crate::ReadStats) and logged once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be opened or its size could not be read.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// Reading failed with an I/O error.
    #[error("failed to read {} at byte {offset}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Offset of the first byte not yet read.
        offset: u64,
        /// The operating system's error.
        source: io::Error,
    },

    /// The input is not a pcap or pcapng file: it is empty, too short for a file
    /// header, or starts with an unknown magic number.
    #[error("{} is not a pcap or pcapng file: {found}", path.display())]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// Description of what the file contains instead, such as `it is empty`.
        found: String,
    },

    /// The file starts with the magic number of a pcap or pcapng capture but ends
    /// inside its file header, so no packet could be read. It is usually a capture
    /// still being written, or an incomplete copy.
    #[error("{}", cut_short_message(path, header, *len, *declared))]
    CutShort {
        /// The file.
        path: PathBuf,
        /// The header that the file ends inside, such as `24-byte pcap file header`.
        header: &'static str,
        /// The length of the file in bytes.
        len: u64,
        /// The length in bytes that the header gives for itself, if the file
        /// holds that field: a pcapng section header block's total length.
        declared: Option<u64>,
    },

    /// The file header declares a format version this reader does not support.
    #[error(
        "{} uses {format} version {major}.{minor}, which is not supported \
         (supported major version: {supported_major}); if Wireshark opens it, {}",
        path.display(),
        convert_advice(path)
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// `"pcap"` or `"pcapng"`.
        format: &'static str,
        /// Major version in the header.
        major: u16,
        /// Minor version in the header.
        minor: u16,
        /// The major version this reader supports for `format`.
        supported_major: u16,
    },

    /// The file is corrupt before its first packet, so nothing could be read from it.
    ///
    /// Corruption found after packets were returned ends the file with a warning instead,
    /// and [`ReadStats::stopped_at`](crate::ReadStats::stopped_at) records where.
    #[error(
        "{} is corrupt at byte {offset}: {detail}; no packet could be read, so check that \
         the file is a complete copy, and if Wireshark opens it, {}",
        path.display(),
        convert_advice(path)
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Offset of the record or block that is corrupt.
        offset: u64,
        /// Description of the defect, with the values found.
        detail: String,
    },
}

impl CaptureError {
    /// Returns true when the input is at fault: the file is missing, unreadable, not a
    /// capture, cut short inside its file header, of an unsupported version or corrupt.
    ///
    /// A program can map these to its "bad input" exit status. Every current variant is an
    /// input error, and the method exists so that callers need not change when a variant
    /// of another kind is added.
    pub fn is_input_error(&self) -> bool {
        match self {
            CaptureError::Open { .. }
            | CaptureError::Read { .. }
            | CaptureError::NotACapture { .. }
            | CaptureError::CutShort { .. }
            | CaptureError::UnsupportedVersion { .. }
            | CaptureError::Malformed { .. } => true,
        }
    }

    /// Returns the file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            CaptureError::Open { path, .. }
            | CaptureError::Read { path, .. }
            | CaptureError::NotACapture { path, .. }
            | CaptureError::CutShort { path, .. }
            | CaptureError::UnsupportedVersion { path, .. }
            | CaptureError::Malformed { path, .. } => path,
        }
    }
}

/// Returns the message of [`CaptureError::CutShort`].
fn cut_short_message(path: &Path, header: &str, len: u64, declared: Option<u64>) -> String {
    let unit = if len == 1 { "byte" } else { "bytes" };
    let of_declared = match declared {
        Some(declared) => format!(" of the {declared} it declares"),
        None => String::new(),
    };
    format!(
        "{} is cut short: it ends inside its {header}, after {len} {unit}{of_declared}; \
         no packet could be read, so if the file is still being written, read it again \
         once it is complete, and otherwise check that it is a complete, undamaged copy",
        path.display()
    )
}

/// Returns how to convert the capture at `path` with editcap: with its path,
/// quoted for a shell where needed, when it names a file, or else, as for
/// standard input, through a saved copy.
fn convert_advice(path: &Path) -> String {
    if path.is_file() {
        format!(
            "convert it with `editcap -F pcapng {} NEW.pcapng`",
            shell_quoted(path)
        )
    } else {
        "save it to a file and convert that with `editcap -F pcapng FILE NEW.pcapng`".to_string()
    }
}

/// Returns `path` as a shell word: as it is when it has only characters that
/// no shell treats specially, else in single quotes.
fn shell_quoted(path: &Path) -> String {
    let text = path.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./+-,:@%=".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.into_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_of_paths() {
        assert_eq!(shell_quoted(Path::new("/data/a-1.pcap")), "/data/a-1.pcap");
        assert_eq!(
            shell_quoted(Path::new("my capture.pcap")),
            "'my capture.pcap'"
        );
        assert_eq!(shell_quoted(Path::new("it's.pcap")), "'it'\\''s.pcap'");
        assert_eq!(shell_quoted(Path::new("")), "''");
    }

    /// Standard input gets the advice to save a copy, not a command naming it.
    #[test]
    fn convert_advice_for_stdin() {
        let error = CaptureError::Malformed {
            path: PathBuf::from("standard input"),
            offset: 0,
            detail: "block length 29 is invalid".to_string(),
        };
        let message = error.to_string();
        assert!(message.contains("save it to a file"), "{message}");
        assert!(!message.contains("pcapng standard input"), "{message}");
    }

    /// A file's path goes into the command, quoted when it has a space.
    #[test]
    fn convert_advice_for_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old capture.pcap");
        std::fs::write(&path, b"x").unwrap();
        let error = CaptureError::UnsupportedVersion {
            path: path.clone(),
            format: "pcap",
            major: 1,
            minor: 0,
            supported_major: 2,
        };
        let message = error.to_string();
        let expected = format!("`editcap -F pcapng '{}' NEW.pcapng`", path.display());
        assert!(message.contains(&expected), "{message}");
    }
}
