//! Work folders: a folder a job keeps adding to across runs, such as a fleet's folder, which
//! holds each device's measurement log (appended as measurements arrive, read back by a rerun)
//! beside a report folder replaced at the end.
//!
//! A work folder is never replaced or emptied; what it guards against is writing into a folder
//! that is somebody else's. It is claimed by a marker, `.oneproxy-work.json`, naming the job:
//! an existing folder is used only when it is empty or holds the marker of the same job. The
//! places a report folder may never replace (`/`, the current folder, the home folder and their
//! parents, a symbolic link, a file) are refused here too.

use super::report_dir::place;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The marker's file name in each work folder.
pub const WORK_MARKER: &str = ".oneproxy-work.json";

/// The marker's content.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Marker {
    /// Always `oneproxy`.
    written_by: String,
    /// The job that keeps the folder (`fleet`).
    job: String,
}

/// A claimed work folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// Claim `dest` for `job`: created if missing; an existing folder must be empty or hold the
    /// marker of the same job, else it is refused with the reason.
    pub fn claim(dest: &Path, job: &str) -> Result<WorkDir> {
        let p = place(dest)?;
        let full = p.full();
        let refused = |reason: String| Error::Refused { path: dest.into(), reason };
        if p.exists {
            let marker = std::fs::read(full.join(WORK_MARKER))
                .ok()
                .and_then(|b| serde_json::from_slice::<Marker>(&b).ok())
                .filter(|m| m.written_by == "oneproxy");
            match marker {
                Some(m) if m.job == job => return Ok(WorkDir { path: full }),
                Some(m) => {
                    return Err(refused(format!(
                        "is the folder of `oneproxy {}`, not of `oneproxy {job}`: give another folder",
                        m.job
                    )))
                }
                None => {
                    let empty = std::fs::read_dir(&full).map_err(|e| Error::io(dest, e))?.next().is_none();
                    if !empty {
                        return Err(refused(format!(
                            "exists and was not written by oneproxy (no valid {WORK_MARKER}): move it away, or give a new folder name"
                        )));
                    }
                }
            }
        } else {
            std::fs::create_dir(&full).map_err(|e| Error::io(dest, e))?;
        }
        let marker = Marker { written_by: "oneproxy".into(), job: job.into() };
        let path = full.join(WORK_MARKER);
        let json = serde_json::to_vec_pretty(&marker).map_err(|e| Error::Json { path: path.clone(), source: e })?;
        super::write_atomic(&path, &json)?;
        Ok(WorkDir { path: full })
    }

    /// Where it is (resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_work_folder_is_claimed_once_and_a_foreign_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("fleet");
        let w = WorkDir::claim(&dest, "fleet").unwrap();
        std::fs::write(w.path().join("kept.csv"), "x").unwrap();
        // Claimed again by the same job: kept as it is.
        assert_eq!(WorkDir::claim(&dest, "fleet").unwrap(), w);
        assert!(dest.join("kept.csv").exists());
        let e = WorkDir::claim(&dest, "other").unwrap_err().to_string();
        assert!(e.contains("oneproxy fleet"), "{e}");
        let foreign = dir.path().join("mine");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), "x").unwrap();
        let e = WorkDir::claim(&foreign, "fleet").unwrap_err().to_string();
        assert!(e.contains("not written by oneproxy"), "{e}");
        std::fs::write(dir.path().join("file"), "x").unwrap();
        assert!(WorkDir::claim(&dir.path().join("file"), "fleet").is_err());
    }
}
