//! The log directory: kept open so that new log files are created relative to
//! it, which still works after a chroot.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use rustix::fs::{Mode, OFlags};

use crate::privileges::Identity;
use crate::run::Failure;

/// How many names to try, the plain one included, when the generated log name is
/// taken. The numbered names have three digits, so they sort in creation order.
const NAME_ATTEMPTS: u32 = 999;

/// An open log directory that creates `HOST_YYYYMMDD_HHMMSS.log` files.
#[derive(Debug)]
pub struct LogDir {
    dir: OwnedFd,
    path: PathBuf,
    host: String,
    /// Loaded once at start-up, because the zone files may be out of reach after
    /// a chroot.
    time_zone: TimeZone,
    /// The user that files are handed to, when privileges are dropped.
    owner: Option<Identity>,
}

impl LogDir {
    /// Creates the directory at `path` if it is missing and opens it. When
    /// privileges will be dropped to `owner`, a directory created here is handed
    /// to that user, and an existing one must be writable by it.
    pub fn open(
        path: &Path,
        time_zone: TimeZone,
        owner: Option<&Identity>,
    ) -> Result<LogDir, Failure> {
        if path.exists() && !path.is_dir() {
            return Err(Failure::Usage(format!(
                "log directory {} is not a directory; choose another with -l DIR",
                path.display()
            )));
        }
        let created = !path.exists();
        std::fs::create_dir_all(path).map_err(|err| {
            Failure::CannotCreate(format!(
                "cannot create log directory {}: {err}; choose another with -l DIR or write to a file with -L FILE",
                path.display()
            ))
        })?;
        let dir = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|err| {
            Failure::CannotCreate(format!(
                "cannot open log directory {}: {err}",
                path.display()
            ))
        })?;
        if let Some(owner) = owner {
            if created {
                rustix::fs::fchown(&dir, owner.uid, Some(owner.gid)).map_err(|err| {
                    Failure::Other(format!(
                        "cannot hand log directory {} to {}: {err}",
                        path.display(),
                        owner.name
                    ))
                })?;
            }
            check_writable(&dir, path, owner)?;
        }
        Ok(LogDir {
            dir,
            path: path.to_path_buf(),
            host: host_name(),
            time_zone,
            owner: owner.cloned(),
        })
    }

    /// Creates a new log file named after the current local time, adding `_002`,
    /// `_003` and so on when the name is taken, so that no log is replaced and
    /// the names sort in the order the files were created.
    /// Returns the file and its path for messages.
    pub fn create_log(&self) -> Result<(File, PathBuf), Failure> {
        let now = jiff::Timestamp::now().to_zoned_datetime(self.time_zone.clone());
        let stem = format!("{}_{}", self.host, now.strftime("%Y%m%d_%H%M%S"));
        for attempt in 1..=NAME_ATTEMPTS {
            let name = if attempt == 1 {
                format!("{stem}.log")
            } else {
                format!("{stem}_{attempt:03}.log")
            };
            let path = self.path.join(&name);
            let opened = rustix::fs::openat(
                &self.dir,
                name.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            );
            match opened {
                Ok(fd) => {
                    self.hand_over(&fd, &path)?;
                    return Ok((File::from(fd), path));
                }
                Err(rustix::io::Errno::EXIST) => continue,
                Err(err) => {
                    return Err(Failure::CannotCreate(format!(
                        "cannot create log file {}: {}; make the log directory writable \
                         or free space there",
                        path.display(),
                        io::Error::from(err)
                    )))
                }
            }
        }
        Err(Failure::Usage(format!(
            "cannot create a new log file in {}: {stem}.log and its {} numbered variants \
             ({stem}_002.log to {stem}_{NAME_ATTEMPTS:03}.log) exist; rotate less often with \
             a larger --rotate-size or --rotate-interval",
            self.path.display(),
            NAME_ATTEMPTS - 1
        )))
    }

    /// Gives a file created while still root to the user that privileges are
    /// dropped to. A file created after the drop already belongs to that user.
    fn hand_over(&self, fd: &OwnedFd, path: &Path) -> Result<(), Failure> {
        let Some(owner) = &self.owner else {
            return Ok(());
        };
        let Ok(stat) = rustix::fs::fstat(fd) else {
            return Ok(());
        };
        if owner.uid.is_some_and(|uid| uid.as_raw() == stat.st_uid) {
            return Ok(());
        }
        rustix::fs::fchown(fd, owner.uid, Some(owner.gid)).map_err(|err| {
            Failure::Other(format!(
                "cannot hand log file {} to {}: {err}",
                path.display(),
                owner.name
            ))
        })
    }
}

/// Checks from the owner and mode bits that `owner` may create files in the
/// directory, so that rotation after the drop does not fail hours later.
/// Access control lists are not read.
fn check_writable(dir: &OwnedFd, path: &Path, owner: &Identity) -> Result<(), Failure> {
    let stat = rustix::fs::fstat(dir).map_err(|err| {
        Failure::CannotCreate(format!(
            "cannot read log directory {}: {err}",
            path.display()
        ))
    })?;
    if crate::privileges::may_write(stat.st_mode, stat.st_uid, stat.st_gid, owner) {
        return Ok(());
    }
    Err(Failure::CannotCreate(format!(
        "log directory {} is not writable by {owner}, which wsd runs as after -u or -g; \
         make it writable for {owner}, or give -l a directory that does not exist yet \
         so that wsd creates it with that owner",
        path.display(),
        owner = owner.name
    )))
}

fn host_name() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read log directory")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_missing_directory() {
        let root = tempfile::tempdir().expect("temporary directory");
        let path = root.path().join("a/b");
        let log_dir = LogDir::open(&path, TimeZone::UTC, None).expect("log directory opens");
        let (_file, created) = log_dir.create_log().expect("log file");
        assert_eq!(created.parent(), Some(path.as_path()));
        assert_eq!(file_names(&path).len(), 1);
    }

    #[test]
    fn name_clash_gets_suffix() {
        let root = tempfile::tempdir().expect("temporary directory");
        let log_dir = LogDir::open(root.path(), TimeZone::UTC, None).expect("log directory opens");
        let names: Vec<PathBuf> = (0..3)
            .map(|_| log_dir.create_log().expect("log file").1)
            .collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), 3, "{names:?}");
        let stems = names
            .iter()
            .filter(|name| name.to_string_lossy().ends_with("_002.log"))
            .count();
        // Three files in one second take the plain name, _002 and _003; a second
        // boundary between the calls leaves fewer suffixes.
        assert!(stems <= 1, "{names:?}");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, names, "names sort in creation order");
    }

    #[test]
    fn creates_after_directory_renamed() {
        let root = tempfile::tempdir().expect("temporary directory");
        let first = root.path().join("first");
        let log_dir = LogDir::open(&first, TimeZone::UTC, None).expect("log directory opens");
        let moved = root.path().join("moved");
        std::fs::rename(&first, &moved).expect("rename");
        // The directory is used through its descriptor, as after a chroot.
        log_dir.create_log().expect("log file");
        assert_eq!(file_names(&moved).len(), 1);
    }

    #[test]
    fn file_instead_of_directory_rejected() {
        let root = tempfile::tempdir().expect("temporary directory");
        let path = root.path().join("plain");
        std::fs::write(&path, "").expect("file");
        let failure = LogDir::open(&path, TimeZone::UTC, None).expect_err("not a directory");
        assert!(
            failure.message().contains("-l DIR"),
            "{}",
            failure.message()
        );
    }

    #[test]
    fn name_has_local_time() {
        let root = tempfile::tempdir().expect("temporary directory");
        let zone = TimeZone::fixed(jiff::tz::offset(14));
        let log_dir = LogDir::open(root.path(), zone.clone(), None).expect("log directory opens");
        let before = jiff::Timestamp::now().to_zoned_datetime(zone);
        let (_file, path) = log_dir.create_log().expect("log file");
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let date = before.strftime("_%Y%m%d_").to_string();
        assert!(name.contains(&date), "{name} lacks {date}");
    }
}
