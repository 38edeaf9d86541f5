//! Output files a command writes (`--out FILE`, `--plot`, `--out-csv`, a saved predictor, an
//! exported model): never onto one of the command's inputs, and never over a file oneproxy did
//! not write, unless the user says so (`--force`).
//!
//! **Recognising our own files.** Each folder oneproxy writes outputs into gets one ledger,
//! `.oneproxy-outputs.json`, that maps each output's file name to the SHA-256 of the bytes
//! oneproxy wrote there. An existing file may be replaced without `--force` only when it is
//! still exactly what oneproxy wrote: rerunning a command onto its own earlier output works,
//! while a file of the same name written by someone else, or edited since, is refused. Any
//! format is covered (CSV, JSON, SVG, PNG, PDF, ONNX), and nothing is added inside the files.
//! A ledger that is unreadable or not ours only means "nothing is known to be ours"; it is never
//! removed. Updates take an exclusive `flock` on the ledger, so two processes writing into one
//! folder keep both entries.
//!
//! **Outputs onto inputs.** Every input file of the command is declared ([`Outputs::input`]);
//! an output whose final target (links followed) is the same file (device and inode: hard links
//! and other spellings included) is refused even with `--force`, before any work: it would
//! replace the data the command is reading with what it computed from them.

use super::{atomic::check_output_file, final_target, write_atomic};
use crate::error::{Error, Result};
use crate::files::sha256_hex;
use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The ledger's file name in each output folder.
pub const LEDGER: &str = ".oneproxy-outputs.json";

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Ledger {
    /// Always `oneproxy`.
    written_by: String,
    /// File name -> SHA-256 of what oneproxy wrote.
    files: BTreeMap<String, String>,
}

/// The outputs of one command; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    force: bool,
    /// Declared inputs and their (device, inode).
    inputs: Vec<(PathBuf, (u64, u64))>,
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

impl Outputs {
    /// Outputs that may replace files oneproxy did not write only when `force` is set.
    pub fn new(force: bool) -> Self {
        Outputs { force, inputs: Vec::new() }
    }

    /// Declare an input file: no output may be written onto it. A path that does not exist
    /// (yet) declares nothing.
    pub fn input(mut self, path: &Path) -> Self {
        if let Ok(meta) = std::fs::metadata(path) {
            self.inputs.push((path.to_path_buf(), identity(&meta)));
        }
        self
    }

    /// Declare several inputs.
    pub fn inputs<P: AsRef<Path>>(self, paths: impl IntoIterator<Item = P>) -> Self {
        paths.into_iter().fold(self, |o, p| o.input(p.as_ref()))
    }

    /// The input that `path` (links followed) is, if any.
    fn input_at(&self, path: &Path) -> Option<&Path> {
        let meta = std::fs::metadata(path).ok()?;
        let id = identity(&meta);
        self.inputs.iter().find(|(_, i)| *i == id).map(|(p, _)| p.as_path())
    }

    /// Check, before any work, that `path` may be written: not an input, a regular file or
    /// nothing yet, and (unless forced) not a file oneproxy did not write.
    pub fn check(&self, path: &Path) -> Result<()> {
        if let Some(input) = self.input_at(path) {
            let same = if input == path { String::new() } else { format!(" ({} is the same file)", input.display()) };
            return Err(Error::Refused {
                path: path.into(),
                reason: format!(
                    "is also an input of this command{same}: writing the result there would destroy the data it reads; give another output path"
                ),
            });
        }
        let (target, existing) = check_output_file(path)?;
        if existing.is_none() || self.force || is_ours(&target) {
            return Ok(());
        }
        Err(Error::Refused {
            path: path.into(),
            reason: format!(
                "exists and was not written by oneproxy (or was changed since): it is left alone; give a new name, \
                 or pass {} to replace it",
                crate::error::Param("force")
            ),
        })
    }

    /// Write `bytes` to `path` atomically after [`check`](Self::check), and record the file as
    /// oneproxy's.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.check(path)?;
        write_atomic(path, bytes)?;
        // The output is written; failing to record it only means a later run asks for --force.
        let _ = record(&final_target(path)?, bytes);
        Ok(())
    }

    /// Check that a report folder about to be replaced holds none of the inputs.
    pub fn check_folder(&self, dir: &Path) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
        for e in entries.flatten() {
            if let Some(input) = self.input_at(&e.path()) {
                return Err(Error::Refused {
                    path: dir.into(),
                    reason: format!(
                        "holds {}, an input of this command: the report would replace it; give another folder",
                        input.display()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The folder and name of a (final) output path.
fn split(target: &Path) -> Option<(PathBuf, String)> {
    let name = target.file_name()?.to_string_lossy().into_owned();
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some((dir, name))
}

/// Whether the regular file at `target` is byte for byte what oneproxy last wrote there.
fn is_ours(target: &Path) -> bool {
    let Some((dir, name)) = split(target) else { return false };
    let Some(want) = read_ledger(&dir.join(LEDGER)).and_then(|l| l.files.get(&name).cloned()) else { return false };
    crate::files::read(target).is_ok_and(|bytes| sha256_hex(&bytes) == want)
}

fn read_ledger(path: &Path) -> Option<Ledger> {
    let bytes = crate::files::read(path).ok()?;
    serde_json::from_slice::<Ledger>(&bytes).ok().filter(|l| l.written_by == "oneproxy")
}

/// Record `bytes` as what oneproxy wrote at `target`, under an exclusive lock on the ledger.
fn record(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let Some((dir, name)) = split(target) else { return Ok(()) };
    let path = dir.join(LEDGER);
    // Never touch a ledger-named entry that is not a regular file, or a file that is not ours.
    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Ok(());
    }
    let mut file = std::fs::File::options().read(true).write(true).create(true).truncate(false).open(&path)?;
    file.lock()?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)?;
    let mut ledger = if text.is_empty() {
        Ledger { written_by: "oneproxy".into(), files: BTreeMap::new() }
    } else {
        match serde_json::from_slice::<Ledger>(&text) {
            Ok(l) if l.written_by == "oneproxy" => l,
            _ => return Ok(()),
        }
    };
    ledger.files.insert(name, sha256_hex(bytes));
    let json = serde_json::to_vec_pretty(&ledger).map_err(std::io::Error::other)?;
    // Rewritten in place under the lock (a rename would leave waiting writers on the old file).
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(&json)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_own_output_is_replaced_a_users_file_only_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("front.csv");
        let o = Outputs::new(false);
        o.write(&out, b"one").unwrap();
        o.write(&out, b"two").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"two");
        // Edited by the user since: theirs now.
        std::fs::write(&out, b"my notes").unwrap();
        let e = o.write(&out, b"three").unwrap_err().to_string();
        assert!(e.contains("front.csv") && e.contains("not written by oneproxy") && e.contains("`force`"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"my notes");
        let theirs = dir.path().join("thesis.tex");
        std::fs::write(&theirs, b"years").unwrap();
        assert!(o.write(&theirs, b"x").is_err());
        assert_eq!(std::fs::read(&theirs).unwrap(), b"years");
        Outputs::new(true).write(&theirs, b"x").unwrap();
        assert_eq!(std::fs::read(&theirs).unwrap(), b"x");
        // Forced once, it is ours from then on.
        o.write(&theirs, b"y").unwrap();
    }

    #[test]
    fn an_output_onto_an_input_is_refused_even_forced() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("samples.csv");
        std::fs::write(&input, b"arch,board\n").unwrap();
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&input, &hard).unwrap();
        let soft = dir.path().join("soft.csv");
        std::os::unix::fs::symlink(&input, &soft).unwrap();
        let o = Outputs::new(true).input(&input);
        for out in [&input, &hard, &soft, &dir.path().join("./samples.csv")] {
            let e = o.write(out, b"predictor").unwrap_err().to_string();
            assert!(e.contains("also an input"), "{}: {e}", out.display());
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"arch,board\n");
        let rep = dir.path().join("rep");
        std::fs::create_dir(&rep).unwrap();
        std::fs::hard_link(&input, rep.join("measurements.csv")).unwrap();
        assert!(o.check_folder(&rep).unwrap_err().to_string().contains("an input"));
    }

    #[test]
    fn a_foreign_ledger_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEDGER), b"not json").unwrap();
        let out = dir.path().join("a.svg");
        Outputs::new(false).write(&out, b"<svg/>").unwrap();
        assert_eq!(std::fs::read(dir.path().join(LEDGER)).unwrap(), b"not json");
        // Nothing is known to be ours there: a rerun needs --force.
        assert!(Outputs::new(false).write(&out, b"<svg/>").is_err());
    }
}
