//! The process-wide cleanup registry: temporary files and folders, lock files and child process
//! groups that must not outlive an interrupted run.
//!
//! Errors are handled by the guards' `Drop` (a temporary entry is removed when its guard goes
//! away without being persisted). A signal skips every destructor, so entries are also recorded
//! here; [`install_signal_handlers`] starts a thread that, on the first SIGINT, SIGTERM or SIGHUP
//! (a closed terminal), kills the recorded process groups, removes the recorded paths and exits
//! with 128 + the signal number (130, 143, 129), as a shell reports a process killed by that
//! signal.
//!
//! The cleanup can neither panic nor be waited on: its one message goes to stderr with errors
//! ignored (stderr may be a closed pipe, `... 2>&1 | tee log` after tee died first), a panic in
//! it is caught and the process exits anyway, and a second signal while it runs exits at once.
//!
//! Entries are created *while the registry is locked* and the signal thread keeps the lock until
//! the process exits: an entry is therefore either recorded before the cleanup runs, or never
//! created at all. Nothing is left in the gap between "created" and "recorded".
//!
//! The handlers are installed by the program (the CLI does it first thing), not by the library on
//! its own, so that an embedding program (e.g. a Python interpreter) keeps its own SIGINT.

use crate::error::{Error, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock};

enum Entry {
    File(PathBuf),
    Dir(PathBuf),
    Group(u32),
}

struct Registry {
    next: u64,
    entries: Vec<(u64, Entry)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { next: 0, entries: Vec::new() });

/// The registry, even if a panicking thread poisoned it (its data stays consistent: every
/// operation is a single push or retain).
fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    fn add(&mut self, e: Entry) -> u64 {
        self.next += 1;
        self.entries.push((self.next, e));
        self.next
    }
}

fn forget(id: u64) {
    registry().entries.retain(|(i, _)| *i != id);
}

fn remove_path(path: &Path, dir: bool) {
    if dir {
        // Another thread may still be adding a file while the signal thread removes the
        // folder: retry a few times rather than leave it.
        for _ in 0..5 {
            if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    } else {
        let _ = std::fs::remove_file(path);
    }
}

fn kill_group(pgid: u32) {
    if let Some(p) = i32::try_from(pgid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
    }
}

/// A temporary file or folder: removed when dropped, unless [`persist`](Self::persist)ed.
#[derive(Debug)]
pub(crate) struct TempPath {
    id: u64,
    path: PathBuf,
    dir: bool,
}

impl TempPath {
    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// It has been renamed into its final place: forget it without removing anything.
    pub(crate) fn persist(self) {
        forget(self.id);
        std::mem::forget(self);
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        // Remove first, then forget: a signal in between removes a path that is already gone.
        remove_path(&self.path, self.dir);
        forget(self.id);
    }
}

/// Create a new temporary file (it must not exist) and record it.
pub(crate) fn create_file(path: &Path) -> Result<(File, TempPath)> {
    let mut reg = registry();
    let file = File::options().write(true).create_new(true).open(path).map_err(|e| Error::io(path, e))?;
    let id = reg.add(Entry::File(path.to_path_buf()));
    Ok((file, TempPath { id, path: path.to_path_buf(), dir: false }))
}

/// Create a new temporary folder (it must not exist; its parent must) and record it.
pub(crate) fn create_dir(path: &Path) -> Result<TempPath> {
    let mut reg = registry();
    std::fs::create_dir(path).map_err(|e| Error::io(path, e))?;
    let id = reg.add(Entry::Dir(path.to_path_buf()));
    Ok(TempPath { id, path: path.to_path_buf(), dir: true })
}

/// An existing file to remove on a signal (e.g. a lock file); forgotten, not removed, on drop.
#[derive(Debug)]
pub(crate) struct Tracked(u64);

impl Drop for Tracked {
    fn drop(&mut self) {
        forget(self.0);
    }
}

/// Record an existing file for removal on a signal.
pub(crate) fn track_file(path: &Path) -> Tracked {
    Tracked(registry().add(Entry::File(path.to_path_buf())))
}

/// A child started as the leader of its own process group; the whole group is killed when this
/// is dropped (stragglers such as a runner's background jobs included) or on a signal.
#[derive(Debug)]
pub(crate) struct ChildGroup {
    id: u64,
    pgid: u32,
}

impl ChildGroup {
    /// Kill every process of the group (SIGKILL); a group that is gone is not an error.
    pub(crate) fn kill(&self) {
        kill_group(self.pgid);
    }

    /// The process group's id (the leader's pid).
    pub(crate) fn pgid(&self) -> u32 {
        self.pgid
    }
}

impl Drop for ChildGroup {
    fn drop(&mut self) {
        self.kill();
        forget(self.id);
    }
}

/// Spawn `cmd` as the leader of a new process group and record the group.
pub(crate) fn spawn_group(cmd: &mut Command) -> std::io::Result<(Child, ChildGroup)> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let mut reg = registry();
    let child = cmd.spawn()?;
    let pgid = child.id();
    let id = reg.add(Entry::Group(pgid));
    Ok((child, ChildGroup { id, pgid }))
}

/// Install the SIGINT/SIGTERM handling described in the module documentation. Idempotent: the
/// handler thread is started once per process.
pub fn install_signal_handlers() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let mut signals =
                signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| e.to_string())?;
            std::thread::Builder::new()
                .name("oneproxy-signals".into())
                .spawn(move || {
                    let mut cleaning = false;
                    for sig in signals.forever() {
                        if cleaning {
                            // Asked again while cleaning up: stop now.
                            std::process::exit(128 + sig);
                        }
                        cleaning = true;
                        // The cleanup runs on a thread of its own so that this one keeps
                        // listening; if no thread can be started, it runs here.
                        if std::thread::Builder::new()
                            .name("oneproxy-cleanup".into())
                            .spawn(move || terminate(sig))
                            .is_err()
                        {
                            terminate(sig);
                        }
                    }
                })
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(Error::Signals)
}

/// Kill the recorded process groups, remove the recorded paths, exit with 128 + `sig`. The
/// registry stays locked until the exit, so no new entry can appear behind the cleanup's back.
/// Exits whatever happens on the way (see the module documentation).
fn terminate(sig: i32) -> ! {
    let cleaned = std::panic::catch_unwind(|| {
        let reg = registry();
        for (_, e) in &reg.entries {
            if let Entry::Group(pgid) = e {
                kill_group(*pgid);
            }
        }
        for (_, e) in &reg.entries {
            match e {
                Entry::File(p) => remove_path(p, false),
                Entry::Dir(p) => remove_path(p, true),
                Entry::Group(_) => {}
            }
        }
        // Keep the registry locked until the exit below.
        std::mem::forget(reg);
    });
    let name = match sig {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "SIGTERM",
    };
    let what = if cleaned.is_ok() { "temporary files removed" } else { "cleanup failed" };
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "oneproxy: interrupted by {name}; {what}");
    std::process::exit(128 + sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(path: &Path) -> bool {
        registry().entries.iter().any(|(_, e)| matches!(e, Entry::File(p) | Entry::Dir(p) if p == path))
    }

    #[test]
    fn temp_paths_are_recorded_and_removed_unless_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        let (_, guard) = create_file(&f).unwrap();
        assert!(f.exists() && recorded(&f));
        assert!(create_file(&f).is_err(), "never opens an existing file");
        drop(guard);
        assert!(!f.exists() && !recorded(&f));

        let (_, guard) = create_file(&f).unwrap();
        guard.persist();
        assert!(f.exists() && !recorded(&f), "persisted: kept and forgotten");

        let d = dir.path().join("d");
        let guard = create_dir(&d).unwrap();
        std::fs::write(d.join("x"), "x").unwrap();
        assert!(recorded(&d));
        drop(guard);
        assert!(!d.exists() && !recorded(&d));
    }

    #[test]
    fn dropping_a_child_group_kills_the_group() {
        let (mut child, group) = spawn_group(Command::new("sh").args(["-c", "sleep 100 & wait"])).unwrap();
        drop(group);
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed, not finished: {status}");
        assert!(install_signal_handlers().is_ok() && install_signal_handlers().is_ok(), "idempotent");
    }
}
