//! Reading an input file: every file oneproxy reads (latency and accuracy CSVs, predictors,
//! measurement logs, architecture lists) goes through [`read`].
//!
//! Inputs are tables and predictors of a few megabytes. What is not a regular file is refused
//! before it is opened: `/dev/zero` would be read forever, a FIFO would block forever waiting
//! for a writer, a directory cannot be parsed. Links are followed (a link to a CSV is a CSV).
//! A regular file larger than [`MAX_INPUT_BYTES`] is refused too: it is a mistake (a disk
//! image, a log), and reading it whole would only run the machine out of memory.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The largest input read, in bytes (1 GiB; the bundled tables of every space together are
/// under 10 MB uncompressed).
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Check that `path` (links followed) is a regular file that may be read.
pub fn check(path: &Path) -> Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        let what = super::kind_of(&meta);
        return Err(Error::Refused {
            path: path.into(),
            reason: format!("is {what}, not a regular file: oneproxy reads its inputs from regular files only"),
        });
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_big(path));
    }
    Ok(meta)
}

fn too_big(path: &Path) -> Error {
    Error::Refused {
        path: path.into(),
        reason: format!("is larger than {} MiB: not an input oneproxy reads", MAX_INPUT_BYTES >> 20),
    }
}

/// The bytes of the input file at `path`, after [`check`]. Reading stops past
/// [`MAX_INPUT_BYTES`] even if the file grows meanwhile.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let meta = check(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big(path));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_and_links_to_them_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.csv");
        std::fs::write(&f, "arch,x\n").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(read(&f).unwrap(), b"arch,x\n");
        assert_eq!(read(&link).unwrap(), b"arch,x\n");
    }

    #[test]
    fn devices_fifos_and_folders_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.csv");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // No writer ever opens the FIFO: a read would block forever, the check returns at once.
        let e = read(&fifo).unwrap_err().to_string();
        assert!(e.contains("pipe.csv") && e.contains("FIFO") && e.contains("regular files only"), "{e}");
        let e = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("/dev/zero") && e.contains("character device"), "{e}");
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        let e = read(&dir.path().join("missing.csv")).unwrap_err().to_string();
        assert!(e.contains("missing.csv"), "{e}");
    }
}
