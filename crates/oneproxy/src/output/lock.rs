//! An exclusive lock on an output file that is rewritten many times (e.g. `measure --out`), so
//! that two processes cannot each rewrite it from their own rows and silently lose the other's.
//!
//! The lock is an advisory `flock` on a sidecar file `.<name>.oneproxy-lock` next to the
//! output's final target (two links to one file share one lock). The holder writes its pid and
//! purpose into it so that the refusal can say who holds it. The sidecar is removed when the lock
//! is released (and on SIGINT/SIGTERM); after a SIGKILL it stays, but the kernel released the
//! `flock` with the process, so it does not block the next run.

use super::{atomic::final_target, cleanup};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A held lock; released (and its sidecar removed) when dropped.
#[derive(Debug)]
pub struct OutputLock {
    file: File,
    sidecar: PathBuf,
    _tracked: cleanup::Tracked,
}

impl OutputLock {
    /// Take the lock of `output` for `purpose` (a word such as `measure`, shown to a process that
    /// finds the lock held); fails at once, naming the holder's pid, if another process holds it.
    pub fn acquire(output: &Path, purpose: &str) -> Result<OutputLock> {
        let target = final_target(output)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let sidecar = target.with_file_name(format!(".{name}.oneproxy-lock"));
        // A released lock's sidecar may be removed between our open and our lock: then we hold a
        // lock on an unlinked file, which nobody else sees. Check and retry on a fresh file.
        for _ in 0..8 {
            let mut file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&sidecar)
                // Named by the output: the sidecar is ours, the folder's problem is the user's.
                .map_err(|e| Error::io(output, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut held = String::new();
                    let _ = file.read_to_string(&mut held);
                    let (pid, purpose) = held.trim().split_once(' ').unwrap_or((held.trim(), ""));
                    let pid = pid.parse().ok();
                    let purpose = if purpose.is_empty() { "process".to_string() } else { purpose.to_string() };
                    return Err(Error::Locked { path: output.into(), purpose, pid });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&sidecar, e)),
            }
            let same = match (file.metadata(), std::fs::metadata(&sidecar)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
            let tracked = cleanup::track_file(&sidecar);
            let record = (|| {
                file.set_len(0)?;
                file.write_all(format!("{} {purpose}\n", std::process::id()).as_bytes())?;
                file.flush()
            })();
            record.map_err(|e| Error::io(&sidecar, e))?;
            return Ok(OutputLock { file, sidecar, _tracked: tracked });
        }
        Err(Error::Refused {
            path: output.into(),
            reason: format!("cannot lock {}: it keeps being replaced", sidecar.display()),
        })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock; the lock itself goes with the file descriptor.
        let _ = std::fs::remove_file(&self.sidecar);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lat.csv");
        let first = OutputLock::acquire(&out, "measure").unwrap();
        let sidecar = dir.path().join(".lat.csv.oneproxy-lock");
        assert!(sidecar.exists());
        // flock locks belong to the open file description: a second open in this process conflicts.
        let e = OutputLock::acquire(&out, "measure").unwrap_err().to_string();
        assert!(
            e.contains("another oneproxy measure is writing") && e.contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        assert!(e.contains("lat.csv"), "{e}");
        // Through a link to the same file: the same lock.
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&out, &link).unwrap();
        assert!(OutputLock::acquire(&link, "measure").is_err());
        drop(first);
        assert!(!sidecar.exists(), "the sidecar is removed on release");
        let again = OutputLock::acquire(&out, "measure").unwrap();
        drop(again);
    }

    #[test]
    fn a_stale_sidecar_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lat.csv");
        std::fs::write(dir.path().join(".lat.csv.oneproxy-lock"), "999999 measure\n").unwrap();
        let lock = OutputLock::acquire(&out, "measure").unwrap();
        let content = std::fs::read_to_string(dir.path().join(".lat.csv.oneproxy-lock")).unwrap();
        assert_eq!(content, format!("{} measure\n", std::process::id()));
        drop(lock);
    }
}
