//! The one atomic file writer every command uses.
//!
//! A result is written to a temporary sibling ([`super::temp`] names it) and renamed over the
//! destination, so a reader never sees half a file and a failure leaves the old file as it was.
//! Two rules keep the rename from destroying anything:
//!
//! * a **symbolic link** is written *through*: the temporary file goes beside the link's final
//!   target and replaces the target, so the link stays a link (renaming over the link itself
//!   would turn it into a standalone file and leave the target stale);
//! * anything that is not a **regular file** (a directory, a device node such as `/dev/full`, a
//!   FIFO, a socket) is refused with an error naming it, never replaced.

use super::{cleanup, temp};
use crate::error::{Error, Result};
use crate::files::kind_of;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Most links followed before giving up (as the kernel's own limit, `ELOOP`).
const MAX_LINKS: usize = 40;

/// The path a write to `path` lands on: `path` itself, or the final target of the chain of
/// symbolic links it starts (which need not exist yet).
pub fn final_target(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p).map_err(|e| Error::io(&p, e))?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::Refused {
        path: path.into(),
        reason: format!("more than {MAX_LINKS} symbolic links in a chain (a loop?)"),
    })
}

/// Check that an output file may be written at `path` (following links): it is a regular file
/// or does not exist yet. Returns the path the write lands on and the existing file's metadata.
pub fn check_output_file(path: &Path) -> Result<(PathBuf, Option<std::fs::Metadata>)> {
    let target = final_target(path)?;
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_file() => Ok((target, Some(m))),
        Ok(m) => {
            let what = kind_of(&m);
            let shown =
                if target == path { String::new() } else { format!(" (the link's target {})", target.display()) };
            Err(Error::Refused {
                path: path.into(),
                reason: format!("is {what}{shown}, not a regular file: oneproxy will not replace it; give a file path"),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((target, None)),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Write `bytes` to `path` atomically (temporary sibling + rename), following symbolic links
/// and refusing non-regular files (see the module documentation). An existing file keeps its
/// permissions. Stale temporary files of dead oneproxy processes in the same folder are swept
/// first (once per folder and process).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let (target, existing) = check_output_file(path)?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = match target.file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => {
            return Err(Error::Refused {
                path: path.into(),
                reason: "does not name a file (it ends in '..' or '/')".into(),
            })
        }
    };
    temp::sweep_once(dir);
    let (mut file, tmp) = cleanup::create_file(&dir.join(temp::temp_name(&name))).map_err(|e| match e {
        // Name the destination the user gave, not our temporary name.
        Error::Io { source, .. } => Error::io(path, source),
        other => other,
    })?;
    let written = (|| {
        file.write_all(bytes)?;
        if let Some(m) = &existing {
            file.set_permissions(m.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(tmp.path(), &target)
    })();
    match written {
        Ok(()) => {
            tmp.persist();
            Ok(())
        }
        // Dropping `tmp` removes the temporary file.
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces_without_litter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["out.json"], "no temp file left");
        let e = write_atomic(&dir.path().join("no/such/dir/x"), b"x").unwrap_err().to_string();
        assert!(e.contains("no/such/dir/x"), "{e}");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn keeps_the_permissions_of_the_file_it_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("script.sh");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o750)).unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o750);
    }

    #[test]
    fn symlinks_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let real = data.join("real.csv");
        std::fs::write(&real, "old").unwrap();
        // A relative link in another folder, and a link to that link.
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("data/real.csv", &link).unwrap();
        let link2 = dir.path().join("link2.csv");
        std::os::unix::fs::symlink(&link, &link2).unwrap();
        write_atomic(&link2, b"new").unwrap();
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        for l in [&link, &link2] {
            assert!(std::fs::symlink_metadata(l).unwrap().file_type().is_symlink(), "{} stays a link", l.display());
        }
        assert_eq!(names(&data), ["real.csv"], "the temp file went beside the target and is gone");
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling.csv");
        std::os::unix::fs::symlink("data/new.csv", &dangling).unwrap();
        write_atomic(&dangling, b"fresh").unwrap();
        assert_eq!(std::fs::read(data.join("new.csv")).unwrap(), b"fresh");
        // A loop is an error, not a hang.
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        assert!(write_atomic(&a, b"x").unwrap_err().to_string().contains("symbolic links"));
    }

    #[test]
    fn special_files_are_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = write_atomic(&fifo, b"x").unwrap_err().to_string();
        assert!(e.contains("pipe") && e.contains("FIFO"), "{e}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");

        let e = write_atomic(Path::new("/dev/full"), b"x").unwrap_err().to_string();
        assert!(e.contains("/dev/full") && e.contains("character device"), "{e}");
        assert!(std::fs::symlink_metadata("/dev/full").unwrap().file_type().is_char_device());

        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("keep"), "k").unwrap();
        let e = write_atomic(&sub, b"x").unwrap_err().to_string();
        assert!(e.contains("sub") && e.contains("a directory"), "{e}");
        // Through a link, the error names both.
        let link = dir.path().join("to-full");
        std::os::unix::fs::symlink("/dev/full", &link).unwrap();
        let e = write_atomic(&link, b"x").unwrap_err().to_string();
        assert!(e.contains("to-full") && e.contains("/dev/full"), "{e}");
        assert_eq!(names(dir.path()), ["pipe", "sub", "to-full"], "nothing written, no litter");
        assert_eq!(names(&sub), ["keep"]);
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_swept_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let dead = temp::tests::dead_pid();
        let stale = dir.path().join(format!(".out.csv.oneproxy-tmp.{dead}-3"));
        let live = dir.path().join(".out.csv.oneproxy-tmp.1-3");
        let user = dir.path().join(".out.csv.tmp");
        for p in [&stale, &live, &user] {
            std::fs::write(p, "x").unwrap();
        }
        write_atomic(&dir.path().join("out.csv"), b"rows").unwrap();
        assert!(!stale.exists());
        assert_eq!(names(dir.path()), [".out.csv.oneproxy-tmp.1-3", ".out.csv.tmp", "out.csv"]);
    }
}
