//! Reading and atomically replacing flow-cache files.

use std::convert::Infallible;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use wsd_flow::{FlowSnapshot, TrackerSnapshot};

use crate::body::{read_up_to, Body};
use crate::{
    check_frame, decode, decode_each, decode_versioned, encode_into, read_u32, read_u64,
    CacheError, CacheItem, ChecksumWriter, EncodeError, FlowCache, MAGIC,
};

/// Size of the buffer between the encoder and the cache file.
const WRITE_BUFFER: usize = 256 << 10;

/// Reads the flow cache at `path`, or returns `Ok(None)` if there is no file.
///
/// # Errors
///
/// Returns an error if the file exists but cannot be read or is not an intact
/// flow cache of a supported version.
pub fn read_cache(path: &Path) -> Result<Option<FlowCache>, CacheError> {
    match read_bytes(path)? {
        Some(bytes) => decode(&bytes).map(Some),
        None => Ok(None),
    }
}

/// Reads the flow cache at `path` as [`read_cache`] does, but passes the header
/// and each flow to `receive` as [`decode_each`] does. Returns `Ok(None)`
/// without calling `receive` if there is no file.
///
/// A regular file is read twice, for its checksum and then as it is decoded,
/// in a window of a few hundred KiB, so that memory does not grow with its
/// size. Other files, such as pipes, are read whole first, up to 1 GiB, and
/// rejected at once unless they start with the magic number.
///
/// # Errors
///
/// As for [`read_cache`] and [`decode_each`].
pub fn read_cache_each(
    path: &Path,
    receive: impl FnMut(CacheItem) -> Result<(), String>,
) -> Result<Option<FlowCache>, CacheError> {
    match CacheFile::open(path)? {
        Some(mut file) => file.read_each(receive).map(Some),
        None => Ok(None),
    }
}

/// A flow-cache file held open, so that a regular file can be read more than
/// once. The later readings work after the process has lost the right to
/// open it, and read the same file if another one takes its name in between.
#[derive(Debug)]
pub struct CacheFile {
    file: File,
    metadata: fs::Metadata,
    path: PathBuf,
    /// Whether the file was read before.
    read: bool,
}

impl CacheFile {
    /// Opens the flow cache at `path` for reading, or returns `Ok(None)` if
    /// there is no file.
    ///
    /// # Errors
    ///
    /// Returns an error if the file exists but cannot be opened, or is a
    /// directory.
    pub fn open(path: &Path) -> Result<Option<CacheFile>, CacheError> {
        Ok(open_cache(path)?.map(|(file, metadata)| CacheFile {
            file,
            metadata,
            path: path.to_path_buf(),
            read: false,
        }))
    }

    /// Returns the path the file was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns true if the file can be read more than once: a regular file,
    /// not a pipe or a device.
    pub fn rereadable(&self) -> bool {
        self.metadata.is_file()
    }

    /// Reads the cache from its start, as [`read_cache_each`] does.
    ///
    /// # Errors
    ///
    /// As for [`read_cache_each`], and an I/O error of kind `Unsupported` when
    /// a file that is not [rereadable](CacheFile::rereadable) is read a second
    /// time.
    pub fn read_each(
        &mut self,
        mut receive: impl FnMut(CacheItem) -> Result<(), String>,
    ) -> Result<FlowCache, CacheError> {
        let path = self.path.as_path();
        let io_error = |source| reading_error(path, source);
        let file = &mut self.file;
        let again = std::mem::replace(&mut self.read, true);
        let len = match usize::try_from(self.metadata.len()) {
            Ok(len) if self.metadata.is_file() => len,
            _ if again => {
                let source = io::Error::new(
                    io::ErrorKind::Unsupported,
                    "only a regular file can be read a second time",
                );
                return Err(io_error(source));
            }
            _ => {
                let name = path.display().to_string();
                return read_cache_each_from(file, &name, receive);
            }
        };
        // A second reading starts where the first one stopped.
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let mut head = [0u8; FRAME_HEAD_LEN];
        let head_len = read_up_to(file, &mut head).map_err(io_error)?;
        let version = check_frame(len, &head[..head_len])?;

        // The whole file is checked before any flow is passed on, as in memory.
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let checksum_at = len - 4;
        let mut hasher = crc32fast::Hasher::new();
        let mut chunk = vec![0u8; CHECK_CHUNK];
        let mut checked = 0;
        let mut trailer = [0u8; 12];
        while checked < len {
            let want = (len - checked).min(CHECK_CHUNK);
            let read = read_up_to(file, &mut chunk[..want]).map_err(io_error)?;
            if read == 0 {
                break;
            }
            let bytes = &chunk[..read];
            hasher.update(&bytes[..checksum_at.saturating_sub(checked).min(read)]);
            keep_tail(&mut trailer, bytes);
            checked += read;
        }
        if checked < len {
            // The file was cut while it was read.
            return Err(CacheError::Truncated { len: checked });
        }
        let stored = read_u32(&trailer, 8);
        let computed = hasher.finalize();
        if stored != computed {
            return Err(CacheError::ChecksumMismatch { stored, computed });
        }
        let count = read_u64(&trailer, 0);

        let body_start = MAGIC.len() + 4;
        file.seek(SeekFrom::Start(body_start as u64))
            .map_err(io_error)?;
        let name = path.display().to_string();
        let mut body = Body::streamed(file, name, body_start, len - 12);
        decode_versioned(&mut body, version, count, &mut receive)
    }
}

/// Bytes read for the magic number and the format version.
const FRAME_HEAD_LEN: usize = MAGIC.len() + 4;

/// Bytes read at a time to compute the checksum.
const CHECK_CHUNK: usize = 256 << 10;

/// Moves the last bytes of `bytes` into the end of `tail`, so that after the
/// last chunk `tail` contains the file's last bytes.
fn keep_tail(tail: &mut [u8; 12], bytes: &[u8]) {
    let len = tail.len();
    if bytes.len() >= len {
        tail.copy_from_slice(&bytes[bytes.len() - len..]);
    } else {
        tail.copy_within(bytes.len().., 0);
        tail[len - bytes.len()..].copy_from_slice(bytes);
    }
}

/// Opens the file at `path` for reading and returns it with its metadata, or
/// `Ok(None)` if there is no file.
fn open_cache(path: &Path) -> Result<Option<(File, fs::Metadata)>, CacheError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(reading_error(path, source)),
    };
    let metadata = file
        .metadata()
        .map_err(|source| reading_error(path, source))?;
    // Opening a directory succeeds, and only its read fails.
    if metadata.is_dir() {
        return Err(CacheError::Directory);
    }
    Ok(Some((file, metadata)))
}

/// Returns the error of a failed read of the cache at `path`.
fn reading_error(path: &Path, source: io::Error) -> CacheError {
    CacheError::Io {
        operation: format!("reading {}", path.display()),
        source,
    }
}

/// Reads the whole file at `path`, or returns `Ok(None)` if there is none.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, CacheError> {
    let Some((mut file, metadata)) = open_cache(path)? else {
        return Ok(None);
    };
    if !metadata.is_file() {
        let name = path.display().to_string();
        return read_stream(&mut file, &name, MAX_STREAMED_LEN).map(Some);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|source| reading_error(path, source))?;
    Ok(Some(bytes))
}

/// Largest flow cache read from a file that is not a regular one, such as a
/// pipe: 1 GiB is about ten million flows.
const MAX_STREAMED_LEN: u64 = 1 << 30;

/// Reads a flow cache from `reader`, such as standard input or a pipe, and
/// passes the header and each flow to `receive` as [`read_cache_each`] does.
/// `name` names the source in errors.
///
/// The stream is read whole before it is decoded, up to 1 GiB, and is rejected
/// at once unless it starts with the magic number. So a device such as
/// `/dev/zero`, or an endless stream, ends with an error instead of filling
/// memory.
///
/// # Errors
///
/// As for [`read_cache_each`], and an I/O error for a stream over 1 GiB.
pub fn read_cache_each_from(
    reader: &mut dyn Read,
    name: &str,
    receive: impl FnMut(CacheItem) -> Result<(), String>,
) -> Result<FlowCache, CacheError> {
    let bytes = read_stream(reader, name, MAX_STREAMED_LEN)?;
    decode_each(&bytes, receive)
}

/// Reads a flow cache whole from `reader`, which has no known length, after
/// checking its magic number, and reads at most `limit` bytes.
fn read_stream(reader: &mut dyn Read, name: &str, limit: u64) -> Result<Vec<u8>, CacheError> {
    let io_error = |source| CacheError::Io {
        operation: format!("reading {name}"),
        source,
    };
    let mut head = [0u8; MAGIC.len()];
    let head_len = match read_up_to(reader, &mut head) {
        Ok(len) => len,
        // A directory, also one on standard input, opens without error and fails
        // only here, at its first read.
        Err(err) if err.kind() == io::ErrorKind::IsADirectory => return Err(CacheError::Directory),
        Err(err) => return Err(io_error(err)),
    };
    if head_len == 0 {
        return Err(CacheError::Empty);
    }
    if head_len < MAGIC.len() || head != MAGIC {
        return Err(CacheError::NotACache);
    }
    let mut bytes = head.to_vec();
    reader
        .take((limit + 1).saturating_sub(MAGIC.len() as u64))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(io_error(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "a flow cache read from a pipe or device is limited to {limit} bytes; \
                 copy it into a file first"
            ),
        )));
    }
    Ok(bytes)
}

/// Writes `snapshot` to `path` so that the file is replaced whole or not at all.
///
/// The cache goes to a temporary file in the same directory, which is flushed to
/// disk and then renamed over `path`; the directory is synced so the rename
/// survives a crash. A crash or kill at any moment leaves either the old cache or
/// the new one. On failure the temporary file is removed and `path` is untouched.
///
/// # Errors
///
/// Returns an error if any step fails, for example for lack of space or
/// permission.
pub fn write_cache(
    path: &Path,
    snapshot: &TrackerSnapshot,
    writer: &str,
) -> Result<(), CacheError> {
    write_cache_lazily(path, snapshot, snapshot.flows.iter().copied(), writer).map(|_| ())
}

/// Writes the cache of `snapshot` to `path` as [`write_cache`] does, but with
/// the flows that `flows` yields instead of those in `snapshot`, so that they
/// can come one by one from [`wsd_flow::Tracker::snapshot_lazily`]. Returns the
/// number of flows written.
///
/// # Errors
///
/// As for [`write_cache`].
pub fn write_cache_lazily(
    path: &Path,
    snapshot: &TrackerSnapshot,
    flows: impl Iterator<Item = FlowSnapshot>,
    writer: &str,
) -> Result<u64, CacheError> {
    write_cache_each(path, snapshot, flows.map(Ok::<_, Infallible>), writer)
}

/// Writes the cache of `snapshot` to `path` as [`write_cache_lazily`] does,
/// with flows that can fail to come, such as those of
/// [`wsd_flow::ShardedTracker::snapshot_lazily`]. At the first error among the
/// flows, the write stops and `path` is left as it was. Returns the number of
/// flows written.
///
/// # Errors
///
/// As for [`write_cache`], and [`CacheError::Flows`] with the text of the first
/// error among the flows.
pub fn write_cache_each<E: std::fmt::Display>(
    path: &Path,
    snapshot: &TrackerSnapshot,
    flows: impl Iterator<Item = Result<FlowSnapshot, E>>,
    writer: &str,
) -> Result<u64, CacheError> {
    let temp = temp_path(path);
    let result = write_and_sync(&temp, snapshot, flows, writer).and_then(|count| {
        fs::rename(&temp, path).map_err(|source| CacheError::Io {
            operation: format!("renaming {} to {}", temp.display(), path.display()),
            source,
        })?;
        Ok(count)
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        return result;
    }
    sync_directory(path);
    remove_stale_temp_files(path);
    result
}

/// Checks that a cache can be saved at `path` by creating and removing the
/// temporary file that [`write_cache`] writes first. Call it at start, after
/// any change of user or root directory. A directory that cannot be written to
/// is then found before the input is read, not when the flows are to be saved.
///
/// # Errors
///
/// Returns [`CacheError::Io`] if the temporary file cannot be created or
/// removed, for example for lack of permission or a read-only filesystem.
pub fn check_writable(path: &Path) -> Result<(), CacheError> {
    let temp = temp_path(path);
    create_temp(&temp).map_err(|source| CacheError::Io {
        operation: format!("creating {}", temp.display()),
        source,
    })?;
    fs::remove_file(&temp).map_err(|source| CacheError::Io {
        operation: format!("removing {}", temp.display()),
        source,
    })
}

/// Removes temporary files that writers of this cache left behind when they were
/// killed mid-write. A file is stale when the process named in it no longer runs;
/// without `/proc` to tell, nothing is removed.
fn remove_stale_temp_files(path: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|name| name.strip_prefix(&prefix))
        else {
            continue;
        };
        let running = pid
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !running && pid.chars().all(|c| c.is_ascii_digit()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The lock of a flow cache, held until it is dropped. See [`lock_cache`].
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

/// Returns the lock file of the flow cache at `path`, `.NAME.lock` beside it,
/// which [`lock_cache`] locks. A symbolic link is resolved first, also one to a
/// cache not saved yet, so that it names the lock of the cache it points to.
pub fn lock_file_path(path: &Path) -> PathBuf {
    let resolved = fs::canonicalize(path).ok().or_else(|| {
        // A link to a missing file resolves to its target in the target's
        // resolved directory.
        let target = fs::read_link(path).ok()?;
        let target = path.parent().unwrap_or(Path::new(".")).join(target);
        let directory = fs::canonicalize(target.parent()?).ok()?;
        Some(directory.join(target.file_name()?))
    });
    let path = resolved.as_deref().unwrap_or(path);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "flowcache".to_string());
    path.with_file_name(format!(".{name}.lock"))
}

/// Locks the flow cache at `path`, so that two processes cannot continue one
/// series of captures at once. Both would load the same flows, and the one
/// that saved last would replace the flows of the other.
///
/// The lock is an exclusive `flock` on the file `.NAME.lock` beside the cache.
/// That file is created if it is missing and never removed, because removing
/// it could let two processes lock two different files. A link in its place is
/// not followed. The lock ends when the returned value is dropped or the
/// process exits.
///
/// # Errors
///
/// Returns [`CacheError::Locked`] if another process holds the lock, and
/// [`CacheError::Io`] if the lock file cannot be opened or locked.
pub fn lock_cache(path: &Path) -> Result<CacheLock, CacheError> {
    use std::os::unix::fs::OpenOptionsExt;

    let lock = lock_file_path(path);
    let io_error = |operation: &str, source| CacheError::Io {
        operation: format!("{operation} {}", lock.display()),
        source,
    };
    let no_follow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(no_follow)
        .open(&lock);
    // A lock file that another user created may be readable only, which is
    // enough for a lock.
    let file = match opened {
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => OpenOptions::new()
            .read(true)
            .custom_flags(no_follow)
            .open(&lock)
            .map_err(|_| err),
        other => other,
    }
    .map_err(|source| {
        let loop_error = rustix::io::Errno::LOOP.raw_os_error();
        if source.raw_os_error() == Some(loop_error) {
            let detail = "it is a symbolic link, which is not followed";
            io_error("opening the lock file", io::Error::other(detail))
        } else {
            io_error("opening the lock file", source)
        }
    })?;
    match file.try_lock() {
        Ok(()) => Ok(CacheLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(CacheError::Locked { lock }),
        Err(fs::TryLockError::Error(source)) => Err(io_error("locking", source)),
    }
}

/// Creates the temporary file `temp` as a new file. A file or link already
/// there, from an earlier process with the same id or from another user, is
/// removed first rather than written through. So a link planted in a shared
/// directory cannot make the writer truncate the file it points to.
fn create_temp(temp: &Path) -> io::Result<File> {
    let create = || OpenOptions::new().write(true).create_new(true).open(temp);
    match create() {
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(temp)?;
            create()
        }
        other => other,
    }
}

/// `.NAME.tmp-PID` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "flowcache".to_string());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes the cache of `snapshot` with the flows of `flows` to `temp` through a
/// buffer, one flow at a time, and flushes it to disk. Returns the number of
/// flows written.
fn write_and_sync<E: std::fmt::Display>(
    temp: &Path,
    snapshot: &TrackerSnapshot,
    flows: impl Iterator<Item = Result<FlowSnapshot, E>>,
    writer: &str,
) -> Result<u64, CacheError> {
    let io_error = |operation: &str| {
        let operation = format!("{operation} {}", temp.display());
        move |source| CacheError::Io { operation, source }
    };
    let file = create_temp(temp).map_err(io_error("creating"))?;
    let mut out = ChecksumWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file));
    let count = encode_into(snapshot, flows, writer, &mut out).map_err(|err| match err {
        EncodeError::Io(source) => io_error("writing")(source),
        EncodeError::Flows(detail) => CacheError::Flows { detail },
    })?;
    let (mut buffered, checksum) = out.finish();
    buffered
        .write_all(&checksum.to_le_bytes())
        .map_err(io_error("writing"))?;
    let file = buffered
        .into_inner()
        .map_err(|err| err.into_error())
        .map_err(io_error("writing"))?;
    file.sync_all().map_err(io_error("flushing to disk"))?;
    Ok(count)
}

/// Syncs the directory of `path` so that a rename in it is durable. Failure only
/// weakens durability after a power loss, so it is ignored.
fn sync_directory(path: &Path) {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use wsd_flow::{Tracker, TrackerConfig};

    use super::*;

    fn cache_bytes() -> Vec<u8> {
        crate::encode(
            &Tracker::new(TrackerConfig::default()).snapshot(),
            "test 1.0",
        )
    }

    /// A directory is named as one, instead of failing at its first read, also
    /// when it is read as a stream.
    #[test]
    fn directory_not_a_cache() {
        let dir = std::env::temp_dir();
        let result = read_bytes(&dir);
        assert!(matches!(result, Err(CacheError::Directory)), "{result:?}");

        let mut opened = File::open(&dir).unwrap();
        let result = read_stream(&mut opened, "a directory", MAX_STREAMED_LEN);
        assert!(matches!(result, Err(CacheError::Directory)), "{result:?}");
    }

    /// An endless stream of zeros, as `/dev/zero` gives, fails at its first
    /// bytes.
    #[test]
    fn endless_zeros_not_a_cache() {
        let result = read_stream(&mut io::repeat(0), "zeros", MAX_STREAMED_LEN);
        assert!(matches!(result, Err(CacheError::NotACache)), "{result:?}");
    }

    /// A stream that starts as a cache but goes on past the limit ends with an
    /// error instead of filling memory.
    #[test]
    fn endless_cache_stream_limited() {
        let bytes = cache_bytes();
        let limit = bytes.len() as u64 + 100;
        let mut endless = bytes.as_slice().chain(io::repeat(0));
        let result = read_stream(&mut endless, "stream", limit);
        let Err(CacheError::Io { source, .. }) = result else {
            panic!("expected an I/O error, got {result:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::FileTooLarge);
    }

    /// A whole cache from a stream decodes as from a file, and an empty
    /// stream is an empty file.
    #[test]
    fn cache_stream_decoded() {
        let bytes = cache_bytes();
        let cache = read_cache_each_from(&mut bytes.as_slice(), "stream", |_| Ok(())).unwrap();
        assert_eq!(cache.writer, "test 1.0");
        let empty = read_cache_each_from(&mut io::empty(), "stream", |_| Ok(()));
        assert!(matches!(empty, Err(CacheError::Empty)), "{empty:?}");
    }
}
