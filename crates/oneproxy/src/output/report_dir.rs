//! Report folders (`run --out DIR`): built aside, swapped in whole, and only ever replacing a
//! folder that oneproxy wrote itself.
//!
//! The files are written into a temporary sibling folder ([`super::temp`] names it), and
//! [`ReportDir::commit`] moves it into place, so a failure never leaves half a report. Every
//! report folder holds a marker, `.oneproxy-report.json`, listing the files oneproxy wrote and
//! its version. An existing `DIR` is replaced only when
//!
//! * it is a real folder (not a symbolic link, not a file), and
//! * it holds the marker and nothing but the regular files the marker lists (or nothing at all),
//! * and it is not `/`, the current folder or one of its parents, or the home folder (or one of
//!   its parents); the path is resolved first, so `./results/..` is `.`.
//!
//! Anything else is refused with an error that says why and what to do: a user's file in the
//! folder is never deleted.

use super::{cleanup, temp};
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The marker's content.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Marker {
    /// Always `oneproxy`.
    written_by: String,
    /// The version of oneproxy that wrote the folder.
    version: String,
    /// The files oneproxy wrote, besides the marker.
    files: Vec<String>,
}

impl Marker {
    fn new(files: Vec<String>) -> Self {
        Marker { written_by: "oneproxy".into(), version: env!("CARGO_PKG_VERSION").into(), files }
    }
}

/// A report folder being written; see the module documentation.
#[derive(Debug)]
pub struct ReportDir {
    dest: PathBuf,
    tmp: cleanup::TempPath,
}

/// Where a report folder goes: its (canonical) parent, its name, and whether it exists.
pub(super) struct Place {
    pub(super) parent: PathBuf,
    pub(super) name: OsString,
    pub(super) exists: bool,
}

impl Place {
    pub(super) fn full(&self) -> PathBuf {
        self.parent.join(&self.name)
    }
}

fn refused(dest: &Path, reason: impl Into<String>) -> Error {
    Error::Refused { path: dest.into(), reason: reason.into() }
}

/// Resolve `dest` and refuse what may never be replaced.
pub(super) fn place(dest: &Path) -> Result<Place> {
    match std::fs::symlink_metadata(dest) {
        Ok(m) if m.file_type().is_symlink() => Err(refused(
            dest,
            "is a symbolic link: oneproxy does not replace links; give the folder it points to, or a new name",
        )),
        Ok(m) if !m.is_dir() => {
            Err(refused(dest, "exists and is not a folder: oneproxy will not replace it; give a new folder name"))
        }
        Ok(_) => {
            let canon = dest.canonicalize().map_err(|e| Error::io(dest, e))?;
            protect(dest, &canon)?;
            match (canon.parent(), canon.file_name()) {
                (Some(parent), Some(name)) => Ok(Place { parent: parent.into(), name: name.into(), exists: true }),
                _ => Err(refused(dest, "is the root folder: oneproxy will not replace it")),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = dest.file_name().ok_or_else(|| refused(dest, "does not name a folder (it ends in '..')"))?;
            let parent = match dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            let parent = parent.canonicalize().map_err(|e| Error::io(parent, e))?;
            Ok(Place { parent, name: name.into(), exists: false })
        }
        Err(e) => Err(Error::io(dest, e)),
    }
}

/// Refuse `/`, the current folder and its parents, the home folder and its parents.
fn protect(dest: &Path, canon: &Path) -> Result<()> {
    if canon.parent().is_none() {
        return Err(refused(dest, "is the root folder: oneproxy will not replace it; give a new folder name"));
    }
    if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize()) {
        if cwd.starts_with(canon) {
            let what = if cwd == canon { "is the current folder" } else { "contains the current folder" };
            return Err(refused(
                dest,
                format!("{what}: oneproxy will not replace it; give a new folder name, e.g. ./report"),
            ));
        }
    }
    if let Some(home) = std::env::var_os("HOME").and_then(|h| Path::new(&h).canonicalize().ok()) {
        if home.starts_with(canon) {
            let what = if home == canon { "is your home folder" } else { "contains your home folder" };
            return Err(refused(dest, format!("{what}: oneproxy will not replace it; give a new folder name")));
        }
    }
    Ok(())
}

/// Refuse an existing folder unless it is empty or holds only what its marker lists.
fn check_ours(dest: &Path, dir: &Path) -> Result<Option<Marker>> {
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dest, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(dest, e))?;
    if entries.is_empty() {
        return Ok(None);
    }
    let what_to_do = "move it away, or give a new folder name";
    let marker_path = dir.join(temp::REPORT_MARKER);
    let marker: Marker = std::fs::read(&marker_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Marker>(&b).ok())
        .filter(|m| m.written_by == "oneproxy")
        .ok_or_else(|| {
            refused(
                dest,
                format!("exists and was not written by oneproxy (no valid {}): {what_to_do}", temp::REPORT_MARKER),
            )
        })?;
    // The marker comes from the folder, and a folder can come from anyone (a zip, a shared
    // drive): a listed name is only ever a plain file name in this folder, never a path.
    if let Some(bad) = marker.files.iter().find(|f| !is_plain_name(f)) {
        return Err(refused(
            dest,
            format!(
                "its {} lists '{}', which is not a plain file name: this marker was not written by oneproxy; {what_to_do}",
                temp::REPORT_MARKER,
                crate::error::clip(bad)
            ),
        ));
    }
    for e in &entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name == temp::REPORT_MARKER {
            continue;
        }
        if !marker.files.iter().any(|f| *f == name) {
            return Err(refused(dest, format!("holds '{name}', which oneproxy did not write: {what_to_do}")));
        }
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            return Err(refused(dest, format!("'{name}' is no longer the file oneproxy wrote: {what_to_do}")));
        }
    }
    Ok(Some(marker))
}

/// A name that stays inside its folder: not empty, no separator, not `.` or `..`, not the marker.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && name != temp::REPORT_MARKER && !name.contains(['/', '\\', '\0'])
}

fn write_marker(dir: &Path, marker: &Marker) -> Result<()> {
    let path = dir.join(temp::REPORT_MARKER);
    let json = serde_json::to_vec_pretty(marker).map_err(|e| Error::Json { path: path.clone(), source: e })?;
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))
}

impl ReportDir {
    /// Start a report folder that will replace `dest` on [`commit`](Self::commit). Refuses at
    /// once (before any work) a `dest` that could not be replaced.
    pub fn create(dest: &Path) -> Result<ReportDir> {
        let p = place(dest)?;
        if p.exists {
            check_ours(dest, &p.full())?;
        }
        temp::sweep_once(&p.parent);
        let tmp = cleanup::create_dir(&p.parent.join(temp::temp_name(&p.name.to_string_lossy())))?;
        // The marker goes in first: a folder left by a SIGKILL is then recognisably ours.
        write_marker(tmp.path(), &Marker::new(Vec::new()))?;
        Ok(ReportDir { dest: dest.into(), tmp })
    }

    /// The folder to write into (temporary until the commit).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The path of a report file called `name` (a plain file name) in the folder.
    pub fn file(&self, name: &str) -> Result<PathBuf> {
        if !is_plain_name(name) {
            return Err(Error::InvalidParameter(format!("report file name '{name}' must be a plain file name")));
        }
        Ok(self.tmp.path().join(name))
    }

    /// Write a report file.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.file(name)?;
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
    }

    /// Record the files in the marker and swap the folder into place; the folder it replaces
    /// (checked again now) loses exactly the files its marker lists. Returns where it went.
    pub fn commit(self) -> Result<PathBuf> {
        let mut files = Vec::new();
        for e in std::fs::read_dir(self.tmp.path()).map_err(|e| Error::io(self.tmp.path(), e))? {
            let e = e.map_err(|e| Error::io(self.tmp.path(), e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name == temp::REPORT_MARKER {
                continue;
            }
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                return Err(Error::InvalidParameter(format!("a report folder holds files only, not '{name}'")));
            }
            files.push(name);
        }
        files.sort();
        write_marker(self.tmp.path(), &Marker::new(files))?;
        let p = place(&self.dest)?;
        let full = p.full();
        let old = if p.exists { check_ours(&self.dest, &full)? } else { None };
        let Some(old_marker) = old else {
            // New, or an empty folder: rename(2) replaces an empty folder atomically.
            std::fs::rename(self.tmp.path(), &full).map_err(|e| Error::io(&self.dest, e))?;
            self.tmp.persist();
            return Ok(full);
        };
        let aside = p.parent.join(temp::temp_name(&p.name.to_string_lossy()));
        std::fs::rename(&full, &aside).map_err(|e| Error::io(&self.dest, e))?;
        if let Err(e) = std::fs::rename(self.tmp.path(), &full) {
            let _ = std::fs::rename(&aside, &full);
            return Err(Error::io(&self.dest, e));
        }
        self.tmp.persist();
        // Remove what is both listed and found in the folder set aside, as a regular file: the
        // names come from the folder's own listing, so nothing outside it can be reached.
        if let Ok(entries) = std::fs::read_dir(&aside) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let listed = name == temp::REPORT_MARKER || old_marker.files.contains(&name);
                if listed && e.file_type().is_ok_and(|t| t.is_file()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // Fails (and leaves it, for the user to see) only if something appeared meanwhile.
        let _ = std::fs::remove_dir(&aside);
        Ok(full)
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

    fn report(dest: &Path, files: &[(&str, &str)]) -> Result<PathBuf> {
        let r = ReportDir::create(dest)?;
        for (n, c) in files {
            r.write(n, c.as_bytes())?;
        }
        r.commit()
    }

    #[test]
    fn writes_a_new_folder_with_its_marker_and_replaces_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("deep/report");
        report(&dest, &[("report.json", "{}"), ("a.svg", "<svg/>")]).unwrap();
        assert_eq!(names(&dest), [".oneproxy-report.json", "a.svg", "report.json"]);
        let m: Marker = serde_json::from_slice(&std::fs::read(dest.join(".oneproxy-report.json")).unwrap()).unwrap();
        assert_eq!(m.files, ["a.svg", "report.json"]);
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        // A marker-only folder, and one of its own files: replaced, the old files gone.
        report(&dest, &[("report.json", "{\"v\":2}")]).unwrap();
        assert_eq!(names(&dest), [".oneproxy-report.json", "report.json"]);
        assert_eq!(std::fs::read_to_string(dest.join("report.json")).unwrap(), "{\"v\":2}");
        std::fs::remove_file(dest.join("report.json")).unwrap();
        report(&dest, &[("b.svg", "<svg/>")]).unwrap();
        assert_eq!(names(&dest), [".oneproxy-report.json", "b.svg"]);
        assert_eq!(names(&dir.path().join("deep")), ["report"], "no temporary folder left");
        // An empty folder holds nothing to lose.
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        report(&empty, &[("report.json", "{}")]).unwrap();
        assert!(empty.join("report.json").is_file());
    }

    #[test]
    fn a_folder_with_a_user_file_is_refused_and_left_intact() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("results");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("thesis.tex"), "years of work").unwrap();
        let e = report(&dest, &[("report.json", "{}")]).unwrap_err().to_string();
        assert!(e.contains("results") && e.contains("not written by oneproxy") && e.contains("move it away"), "{e}");
        // Ours, plus a user's file added later.
        let ours = dir.path().join("ours");
        report(&ours, &[("report.json", "{}")]).unwrap();
        std::fs::write(ours.join("notes.txt"), "mine").unwrap();
        let e = report(&ours, &[("report.json", "{}")]).unwrap_err().to_string();
        assert!(e.contains("'notes.txt'") && e.contains("did not write"), "{e}");
        assert_eq!(std::fs::read_to_string(dest.join("thesis.tex")).unwrap(), "years of work");
        assert_eq!(names(&ours), [".oneproxy-report.json", "notes.txt", "report.json"]);
        assert_eq!(names(dir.path()), ["ours", "results"], "no temporary folder left");
    }

    #[test]
    fn a_marker_listing_paths_outside_its_folder_is_refused_and_nothing_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("abs.txt"), "precious too").unwrap();
        let dest = dir.path().join("rep");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("report.json"), "{}").unwrap();
        for listed in ["../victim.txt", &elsewhere.join("abs.txt").display().to_string(), "..", "sub/x"] {
            let marker = Marker::new(vec!["report.json".into(), listed.to_string()]);
            write_marker(&dest, &marker).unwrap();
            let e = report(&dest, &[("report.json", "{\"new\":1}")]).unwrap_err().to_string();
            assert!(e.contains("not a plain file name"), "{listed}: {e}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(elsewhere.join("abs.txt")).unwrap(), "precious too");
        assert_eq!(names(&dest), [".oneproxy-report.json", "report.json"]);
        assert_eq!(std::fs::read_to_string(dest.join("report.json")).unwrap(), "{}");
    }

    #[test]
    fn the_check_is_made_again_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("r");
        let r = ReportDir::create(&dest).unwrap();
        r.write("report.json", b"{}").unwrap();
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("late.txt"), "arrived meanwhile").unwrap();
        assert!(r.commit().is_err());
        assert_eq!(names(&dest), ["late.txt"]);
        assert_eq!(names(dir.path()), ["r"], "the temporary folder is removed on error");
    }

    #[test]
    fn links_files_and_precious_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        report(&real, &[("report.json", "{}")]).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = ReportDir::create(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(ReportDir::create(&file).unwrap_err().to_string().contains("not a folder"));
        let e = ReportDir::create(Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("root folder"), "{e}");
        // The current folder (this test process's), however it is spelled, and its parents.
        let cwd = std::env::current_dir().unwrap();
        for p in [PathBuf::from("."), cwd.join("src/.."), PathBuf::from(".."), cwd.clone()] {
            let e = ReportDir::create(&p).unwrap_err().to_string();
            assert!(e.contains("current folder"), "{}: {e}", p.display());
        }
        if let Some(home) = std::env::var_os("HOME").filter(|h| Path::new(h).is_dir() && !cwd.starts_with(h)) {
            let e = ReportDir::create(Path::new(&home)).unwrap_err().to_string();
            assert!(e.contains("home folder"), "{e}");
        }
        assert!(ReportDir::create(&dir.path().join("x/..")).is_err());
        let r = ReportDir::create(&dir.path().join("ok")).unwrap();
        for bad in ["", "a/b", "..", ".oneproxy-report.json"] {
            assert!(r.file(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_stale_report_folder_of_a_dead_process_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let dead = temp::tests::dead_pid();
        let stale = dir.path().join(format!(".r.oneproxy-tmp.{dead}-0"));
        std::fs::create_dir(&stale).unwrap();
        write_marker(&stale, &Marker::new(vec![])).unwrap();
        std::fs::write(stale.join("report.json"), "{}").unwrap();
        report(&dir.path().join("r"), &[("report.json", "{}")]).unwrap();
        assert_eq!(names(dir.path()), ["r"]);
    }
}
