//! The pid file: created and locked at start-up, removed at exit.
//!
//! The lock, not the file's presence, shows whether a `wsd` is running. The
//! kernel releases it when the process ends in any way, so a file left behind
//! by a crash is taken over by the next start.

use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::run::Failure;

/// How often to retry when the file was replaced between opening and locking it.
const LOCK_ATTEMPTS: u32 = 10;

/// A pid file that this process holds locked.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    /// The directory that contains the file, open so that the file can still be
    /// removed after a chroot.
    dir: OwnedFd,
    name: PathBuf,
    file: File,
}

impl PidFile {
    /// Creates or takes over the pid file at `path`, locks it and writes the pid
    /// of this process into it.
    ///
    /// # Errors
    ///
    /// Fails with a message naming the running pid when another process holds
    /// the lock, and with the system error when the file cannot be created.
    pub fn acquire(path: &Path) -> Result<PidFile, Failure> {
        let name = path.file_name().map(PathBuf::from).ok_or_else(|| {
            Failure::Usage(format!(
                "invalid pid file {}: it names no file",
                path.display()
            ))
        })?;
        let dir_path = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let dir = rustix::fs::open(
            dir_path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|err| {
            Failure::Usage(format!(
                "cannot open the directory of pid file {}: {err}; choose another with --pid-file",
                path.display()
            ))
        })?;
        let create_error = |err: io::Error| {
            Failure::Usage(format!(
                "cannot create pid file {}: {err}; choose another with --pid-file",
                path.display()
            ))
        };
        for _ in 0..LOCK_ATTEMPTS {
            let fd = rustix::fs::openat(
                &dir,
                &name,
                OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o644),
            )
            .map_err(|err| create_error(err.into()))?;
            let mut file = File::from(fd);
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(Failure::Usage(running_message(path, &mut file)));
                }
                Err(TryLockError::Error(err)) => {
                    return Err(Failure::Usage(format!(
                        "cannot lock pid file {}: {err}",
                        path.display()
                    )))
                }
            }
            // A process that was removing the file at exit may have unlinked it
            // between the open and the lock: then this lock guards nothing.
            if !names_file(&dir, &name, &file) {
                continue;
            }
            file.set_len(0).map_err(create_error)?;
            writeln!(file, "{}", std::process::id()).map_err(create_error)?;
            file.flush().map_err(create_error)?;
            return Ok(PidFile {
                path: path.to_path_buf(),
                dir,
                name,
                file,
            });
        }
        Err(Failure::Usage(format!(
            "cannot lock pid file {}: it was replaced {LOCK_ATTEMPTS} times while being locked",
            path.display()
        )))
    }

    /// Removes the pid file. The lock is released when the file is closed.
    ///
    /// After a drop of privileges the directory may no longer be writable. The
    /// file is then emptied through the open descriptor instead, so the next
    /// start finds it stale. Returns false if it was emptied.
    fn release(&mut self) -> io::Result<bool> {
        if !names_file(&self.dir, &self.name, &self.file) {
            return Ok(true);
        }
        match rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(err) if err == rustix::io::Errno::ACCESS || err == rustix::io::Errno::PERM => {
                self.file.set_len(0)?;
                self.file.flush()?;
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// Removes the file at the end of the run, and also when a start-up step after
/// locking it fails.
impl Drop for PidFile {
    fn drop(&mut self) {
        match self.release() {
            Ok(true) => {}
            // The expected outcome of -u with a pid file in a directory of
            // root, which the documentation describes, so no warning.
            Ok(false) => tracing::info!(
                file = %self.path.display(),
                "emptied the pid file, because the user wsd runs as may not remove it \
                 from its directory; the next start reuses it"
            ),
            Err(err) => {
                tracing::warn!(file = %self.path.display(), "cannot remove the pid file: {err}");
            }
        }
    }
}

/// True if `name` in `dir` is still the file open as `file`.
fn names_file(dir: &OwnedFd, name: &Path, file: &File) -> bool {
    let (Ok(named), Ok(open)) = (
        rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW),
        rustix::fs::fstat(file),
    ) else {
        return false;
    };
    named.st_dev == open.st_dev && named.st_ino == open.st_ino
}

/// Returns the message for a pid file that another process holds locked.
fn running_message(path: &Path, file: &mut File) -> String {
    let mut text = String::new();
    let pid = file
        .rewind()
        .and_then(|()| file.read_to_string(&mut text))
        .ok()
        .and_then(|_| text.trim().parse::<u32>().ok());
    match pid {
        Some(pid) => format!(
            "another wsd is running with pid {pid} (pid file {} is locked); stop it first, or give this one another pid file with --pid-file",
            path.display()
        ),
        None => format!(
            "another wsd is running (pid file {} is locked); stop it first, or give this one another pid file with --pid-file",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).expect("pid file is readable")
    }

    #[test]
    fn acquire_writes_pid() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("wsd.pid");
        let pid_file = PidFile::acquire(&path).expect("pid file is created");
        assert_eq!(read(&path), format!("{}\n", std::process::id()));
        drop(pid_file);
        assert!(!path.exists());
    }

    #[test]
    fn second_acquire_names_running_pid() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("wsd.pid");
        let _locked = PidFile::acquire(&path).expect("pid file is created");
        let failure = PidFile::acquire(&path).expect_err("the pid file is locked");
        let message = failure.message();
        assert!(
            message.contains(&format!("running with pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("--pid-file"), "{message}");
    }

    #[test]
    fn stale_file_taken_over() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("wsd.pid");
        std::fs::write(&path, "99999999\nleft over by a crash\n").expect("stale file");
        let _locked = PidFile::acquire(&path).expect("a stale file is taken over");
        assert_eq!(read(&path), format!("{}\n", std::process::id()));
    }

    #[test]
    fn remove_keeps_replaced_file() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("wsd.pid");
        let locked = PidFile::acquire(&path).expect("pid file is created");
        std::fs::remove_file(&path).expect("remove");
        std::fs::write(&path, "1\n").expect("another process's file");
        drop(locked);
        assert_eq!(read(&path), "1\n");
    }

    #[test]
    fn missing_directory_rejected() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("missing/wsd.pid");
        let failure = PidFile::acquire(&path).expect_err("no directory");
        assert!(
            failure.message().contains("--pid-file"),
            "{}",
            failure.message()
        );
    }
}
