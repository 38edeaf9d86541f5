//! Names of oneproxy's temporary files and folders, and the sweep of stale ones.
//!
//! Every temporary entry oneproxy creates next to an output is named
//! `.<name>.oneproxy-tmp.<pid>-<seq>`: the leading dot hides it, the fixed infix makes it
//! recognisable, and the pid says which process owns it. A process killed with SIGKILL cannot
//! clean up, so the next write into the same folder removes entries of this exact pattern whose
//! pid is no longer alive. Nothing else is ever touched: an entry of another pattern, of a live
//! process, of this process, a symbolic link, or a folder that does not look like ours stays.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const INFIX: &str = ".oneproxy-tmp.";

/// The marker file of a report folder (see [`super::ReportDir`]); a stale temporary folder is
/// only removed whole when it holds one.
pub(crate) const REPORT_MARKER: &str = ".oneproxy-report.json";

/// Longest part of the output's name kept in a temporary name: the whole must stay below the
/// usual 255-byte limit of a file name.
const MAX_STEM: usize = 200;

/// A fresh temporary name for an output called `name`, owned by this process.
pub(crate) fn temp_name(name: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut cut = name.len().min(MAX_STEM);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(".{}{INFIX}{}-{}", &name[..cut], std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// The owner's pid if `name` follows the temporary pattern exactly.
pub(crate) fn owner_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(INFIX)?;
    let (pid, seq) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(seq) {
        return None;
    }
    pid.parse().ok()
}

/// Whether `pid` is certainly gone. Any doubt (a pid that cannot be represented, no permission
/// to ask) counts as alive, so that doubt never deletes anything.
pub(crate) fn is_dead(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    let Some(p) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    matches!(rustix::process::test_kill_process(p), Err(e) if e == rustix::io::Errno::SRCH)
}

/// Remove stale temporary entries of dead oneproxy processes from `dir`, once per folder and
/// process (later writes into the same folder skip the scan). Best effort: a failure leaves the
/// entry, it never fails the write that triggered the sweep.
pub(crate) fn sweep_once(dir: &Path) {
    static SWEPT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
        if !swept.get_or_insert_with(HashSet::new).insert(key) {
            return;
        }
    }
    sweep(dir);
}

/// Remove, from `dir`, every stale temporary entry (see the module documentation); the number
/// removed.
pub(crate) fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_of) else { continue };
        if !is_dead(pid) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let gone = if meta.is_file() {
            std::fs::remove_file(&path).is_ok()
        } else if meta.is_dir() {
            remove_stale_dir(&path)
        } else {
            false
        };
        removed += usize::from(gone);
    }
    removed
}

/// A stale temporary folder is a report being built: removed whole only if it holds the report
/// marker (written first) and nothing but regular files; otherwise only if it is empty.
fn remove_stale_dir(path: &Path) -> bool {
    let only_files = std::fs::read_dir(path)
        .map(|rd| rd.flatten().all(|e| e.file_type().is_ok_and(|t| t.is_file())))
        .unwrap_or(false);
    if only_files && path.join(REPORT_MARKER).is_file() {
        std::fs::remove_dir_all(path).is_ok()
    } else {
        std::fs::remove_dir(path).is_ok()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A pid that certainly belonged to a process that has exited and been reaped.
    pub(crate) fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(is_dead(pid));
        pid
    }

    #[test]
    fn names_round_trip_and_only_the_exact_pattern_matches() {
        let n = temp_name("report.json");
        assert!(n.starts_with(".report.json.oneproxy-tmp."), "{n}");
        assert_eq!(owner_of(&n), Some(std::process::id()));
        assert_ne!(temp_name("report.json"), n, "every call gets its own name");
        for other in [
            ".x.oneproxy-tmp.12",
            ".x.oneproxy-tmp.12-",
            ".x.oneproxy-tmp.a-1",
            "x.oneproxy-tmp.1-2",
            ".x.tmp.1-2",
            ".x.oneproxy-tmp.1-2 ",
        ] {
            assert_eq!(owner_of(other), None, "{other}");
        }
        assert_eq!(owner_of(".a.b.oneproxy-tmp.77-0"), Some(77));
        let long = "é".repeat(300);
        assert!(temp_name(&long).len() < 255);
    }

    #[test]
    fn liveness() {
        assert!(!is_dead(std::process::id()));
        assert!(!is_dead(1), "pid 1 is always alive");
        assert!(!is_dead(u32::MAX), "an impossible pid is never taken for dead");
        dead_pid();
    }

    #[test]
    fn sweep_removes_only_stale_entries_of_our_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let dead = dead_pid();
        let stale_file = d.join(format!(".out.csv{INFIX}{dead}-0"));
        let stale_report = d.join(format!(".rep{INFIX}{dead}-1"));
        let stale_empty = d.join(format!(".rep2{INFIX}{dead}-2"));
        let foreign_dir = d.join(format!(".rep3{INFIX}{dead}-3"));
        let live = d.join(format!(".out.csv{INFIX}1-0"));
        let mine = d.join(format!(".out.csv{INFIX}{}-9", std::process::id()));
        let user = d.join(format!(".out.csv{INFIX}{dead}"));
        let link = d.join(format!(".lnk{INFIX}{dead}-4"));
        std::fs::write(&stale_file, "x").unwrap();
        std::fs::create_dir(&stale_report).unwrap();
        std::fs::write(stale_report.join(REPORT_MARKER), "{}").unwrap();
        std::fs::write(stale_report.join("report.json"), "{}").unwrap();
        std::fs::create_dir(&stale_empty).unwrap();
        std::fs::create_dir(&foreign_dir).unwrap();
        std::fs::write(foreign_dir.join("notes.txt"), "user").unwrap();
        for p in [&live, &mine, &user] {
            std::fs::write(p, "keep").unwrap();
        }
        std::os::unix::fs::symlink(&live, &link).unwrap();
        assert_eq!(sweep(d), 3);
        for p in [&stale_file, &stale_report, &stale_empty] {
            assert!(!p.exists(), "{} should be gone", p.display());
        }
        for p in [&live, &mine, &user, &foreign_dir.join("notes.txt")] {
            assert!(p.exists(), "{} must stay", p.display());
        }
        assert!(std::fs::symlink_metadata(&link).is_ok(), "links are never removed");
    }
}
