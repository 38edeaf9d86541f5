//! External runners: any program that runs an ONNX model and prints its latency.
//!
//! The command template is run by `sh -c` once per run, with `{model}` replaced by the path of the
//! exported model and `{arch}` by the architecture string (both shell-quoted), in a process
//! group of its own.
//!
//! **Output protocol.** Free text is easy to misread ("4.20 ms, 238.1 FPS" is not 238.1 ms,
//! "1,234.5" is not 234.5, an exit-0 "Error at node 17" is not 17 ms), so the latency in
//! milliseconds must be printed in one of two unambiguous ways:
//!
//! * a line `latency_ms: <x>` (anywhere in the output, exactly once), or
//! * a bare number alone on the last non-empty line;
//!
//! or, for tools whose output cannot be changed, `--runner-regex` extracts it (its first capture
//! group, or the whole match). Anything else, a non-zero exit status, or a latency that is not a
//! positive finite number is an error quoting the (truncated) output.
//!
//! **Time.** Each run is bounded by a timeout (default [`DEFAULT_TIMEOUT`]); a run that exceeds
//! it is killed with its whole process group (children included) and reported as an error. The
//! measurement loop also bounds a run by what remains of its time budget
//! ([`Timer::run_within`]): such a run is killed and not counted.
//!
//! **Files.** Models are written to a private folder `oneproxy-runner-<pid>-<n>` in the system's
//! temporary folder, removed at the end, on error and on SIGINT/SIGTERM (see
//! [`crate::output::cleanup`]); folders of dead processes (after a SIGKILL) are removed by the
//! next runner.

use super::Timer;
use crate::error::{Error, Param, Result};
use crate::output::cleanup::{self, TempPath};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Per-run time limit unless [`CommandTimer::timeout`] sets another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Most bytes of a runner's output kept (the rest is read and dropped).
const MAX_OUTPUT: usize = 1 << 20;

/// Characters of output quoted in an error.
const QUOTED: usize = 300;

const DIR_PREFIX: &str = "oneproxy-runner-";

/// Runs an external command per timed run.
#[derive(Debug)]
pub struct CommandTimer {
    template: String,
    program: Option<Program>,
    regex: Option<regex::Regex>,
    dir: TempPath,
    model: Option<PathBuf>,
    arch: String,
    count: usize,
    timeout: Duration,
}

impl CommandTimer {
    /// A runner from a command template (it must contain `{model}`) and an optional regex that
    /// extracts the latency in ms from the command's output.
    pub fn new(template: &str, regex: Option<&str>) -> Result<Self> {
        if !template.contains("{model}") {
            return Err(Error::bad_parameter(
                "runner_cmd",
                format!("must contain {{model}} (the exported ONNX path), got '{template}'"),
            ));
        }
        let regex = regex
            .map(|r| regex::Regex::new(r).map_err(|e| Error::bad_parameter("runner_regex", format!("'{r}': {e}"))))
            .transpose()?;
        let dir = model_dir()?;
        Ok(CommandTimer {
            template: template.into(),
            program: Program::of(template),
            regex,
            dir,
            model: None,
            arch: String::new(),
            count: 0,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Set the per-run time limit (more than zero).
    pub fn timeout(mut self, limit: Duration) -> Result<Self> {
        if limit.is_zero() {
            return Err(Error::bad_parameter("runner_timeout", "must be more than 0 s"));
        }
        self.timeout = limit;
        Ok(self)
    }

    /// The private folder the models are written to.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The command line for the loaded model.
    pub fn command_line(&self) -> Option<String> {
        let model = self.model.as_ref()?;
        let sh = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        Some(self.template.replace("{model}", &sh(&model.display().to_string())).replace("{arch}", &sh(&self.arch)))
    }

    /// The latency in an output (see the module documentation), or why there is none.
    pub fn extract(&self, output: &str) -> std::result::Result<f64, String> {
        let text = match &self.regex {
            Some(re) => {
                let caps =
                    re.captures(output).ok_or_else(|| format!("nothing matches {} '{re}'", Param("runner_regex")))?;
                caps.get(1).or_else(|| caps.get(0)).map_or("", |m| m.as_str()).trim().to_string()
            }
            None => {
                let tagged: Vec<&str> =
                    output.lines().filter_map(|l| l.trim().strip_prefix("latency_ms:")).map(str::trim).collect();
                match tagged.as_slice() {
                    [one] => one.to_string(),
                    [] => {
                        let last = output.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("");
                        if last.parse::<f64>().is_err() {
                            return Err(format!(
                                "no line 'latency_ms: <ms>', and the last line '{}' is not a bare number",
                                cut(last)
                            ));
                        }
                        last.to_string()
                    }
                    many => return Err(format!("{} lines 'latency_ms:' (one is needed)", many.len())),
                }
            }
        };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            Ok(v) => Err(format!("the latency {v} is not a positive number of ms")),
            Err(_) => Err(format!("'{}' is not a number", cut(&text))),
        }
    }

    fn run_once(&mut self, limit: Duration) -> Result<Option<f64>> {
        let cmd = self.command_line().ok_or_else(|| Error::Engine("runner: no model loaded".into()))?;
        let wait = limit.min(self.timeout);
        let mut command = Command::new("sh");
        command.arg("-c").arg(&cmd);
        let done = run_bounded(&mut command, wait).map_err(|e| match e {
            Bounded::Start(e) => Error::Engine(format!("runner: cannot start `sh -c {cmd}`: {e}")),
            Bounded::Wait(e) => Error::Engine(format!("runner `{cmd}`: {e}")),
        })?;
        let Some((status, stdout, stderr)) = done else {
            if limit < self.timeout {
                return Ok(None);
            }
            return Err(Error::Timeout {
                command: cmd,
                seconds: self.timeout.as_secs_f64(),
                hint: format!("; if the model needs longer, raise {}", Param("runner_timeout")),
            });
        };
        if !status.success() {
            return Err(Error::Engine(format!(
                "runner `{cmd}` failed ({status}): {}",
                quote(&format!("{stdout}{stderr}"))
            )));
        }
        match self.extract(&stdout) {
            Ok(v) => Ok(Some(v)),
            Err(why) => Err(Error::Engine(format!(
                "runner `{cmd}` did not report a latency: {why}. The runner must print a line 'latency_ms: <ms>' or a \
                 bare number alone on its last line (or pass {}); its output: {}",
                Param("runner_regex"),
                quote(&stdout)
            ))),
        }
    }
}

/// Why [`run_bounded`] has no output: the program could not be started, or waiting for it failed.
pub(super) enum Bounded {
    /// Spawning failed.
    Start(std::io::Error),
    /// Waiting failed.
    Wait(std::io::Error),
}

/// Run `command` in a process group of its own (stdin empty, stdout and stderr captured, at most
/// [`MAX_OUTPUT`] bytes of each), killed with its group after `limit`: its exit status and
/// output, or `None` when it was killed.
pub(super) fn run_bounded(
    command: &mut Command,
    limit: Duration,
) -> std::result::Result<Option<(std::process::ExitStatus, String, String)>, Bounded> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (mut child, group) = cleanup::spawn_group(command).map_err(Bounded::Start)?;
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(limit) {
        Ok(status) => status.map_err(Bounded::Wait)?,
        Err(_) => {
            group.kill();
            // Reap it (SIGKILL cannot be ignored; the bound only guards against the absurd).
            let _ = rx.recv_timeout(Duration::from_secs(5));
            return Ok(None);
        }
    };
    // Background jobs the program left behind hold the pipes open: kill them, then read.
    drop(group);
    let collect = |r: Option<mpsc::Receiver<Vec<u8>>>| {
        let bytes = r.and_then(|r| r.recv_timeout(Duration::from_secs(2)).ok()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok(Some((status, collect(stdout), collect(stderr))))
}

/// A new private folder for models (see the module documentation), after removing the folders
/// that dead processes left behind.
pub(super) fn model_dir() -> Result<TempPath> {
    let tmp = std::env::temp_dir();
    sweep_stale_dirs(&tmp);
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = format!("{DIR_PREFIX}{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    cleanup::create_dir(&tmp.join(name))
}

/// Write `model` as the `count`th model of `dir` and remove the previous one: only the model in
/// use stays on disk, however many architectures are measured.
pub(super) fn replace_model(dir: &Path, count: usize, previous: Option<PathBuf>, model: &[u8]) -> Result<PathBuf> {
    let path = dir.join(format!("model{count}.onnx"));
    if let Some(old) = previous {
        let _ = std::fs::remove_file(old);
    }
    crate::output::write_atomic(&path, model)?;
    Ok(path)
}

/// Read a pipe to its end on a thread of its own, keeping at most [`MAX_OUTPUT`] bytes.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = MAX_OUTPUT.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        let _ = tx.send(kept);
    });
    rx
}

/// A value cut to a readable length for a message.
pub(super) fn cut(s: &str) -> String {
    cut_to(s, 80)
}

/// `s` cut to `n` characters, marked when cut.
pub(super) fn cut_to(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The end of an output, quoted, marked when cut.
pub(super) fn quote(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return "(nothing)".into();
    }
    match s.char_indices().rev().nth(QUOTED) {
        Some((i, _)) => format!("\"...{}\"", &s[i..]),
        None => format!("\"{s}\""),
    }
}

/// Remove runner folders of dead processes from `tmp`: ours by name, owned by this user, and
/// holding nothing but models and oneproxy temporary files. Once per process.
fn sweep_stale_dirs(tmp: &Path) {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        use std::os::unix::fs::MetadataExt;
        let Ok(entries) = std::fs::read_dir(tmp) else { return };
        let uid = rustix::process::getuid().as_raw();
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(runner_dir_owner) else { continue };
            let path = e.path();
            let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == uid);
            if !ours || !crate::output::temp::is_dead(pid) {
                continue;
            }
            let only_models = std::fs::read_dir(&path).is_ok_and(|rd| {
                rd.flatten().all(|f| {
                    let n = f.file_name();
                    let n = n.to_string_lossy();
                    f.file_type().is_ok_and(|t| t.is_file())
                        && (is_model_name(&n) || crate::output::temp::owner_of(&n).is_some())
                })
            });
            if only_models {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    });
}

/// The pid in `oneproxy-runner-<pid>` or `oneproxy-runner-<pid>-<n>`.
fn runner_dir_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(DIR_PREFIX)?;
    let (pid, seq) = rest.split_once('-').unwrap_or((rest, "0"));
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

fn is_model_name(n: &str) -> bool {
    n.strip_prefix("model")
        .and_then(|r| r.strip_suffix(".onnx"))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The program a runner's shell command starts, as `sh` finds it: its first word, after
/// variable assignments (`OMP_NUM_THREADS=1 python3 ...`) and the wrappers `exec`, `env` and
/// `command`, looked up through `PATH` unless it holds a `/`.
///
/// Recorded with the measurements and printed, because a template's `python3` silently becomes
/// whatever interpreter comes first on `PATH`: the system's one when a virtual environment was
/// not activated, with other packages (or none) and another engine version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The word as written (unquoted).
    pub word: String,
    /// Where it resolves: the first executable file of that name on `PATH`, or the word made
    /// absolute when it is a path; `None` when `PATH` has none (a shell builtin, or a typo).
    pub path: Option<PathBuf>,
}

impl Program {
    /// The program of `template`, resolved through this process's `PATH` and current folder;
    /// `None` when the template starts with no plain word (e.g. a subshell).
    pub fn of(template: &str) -> Option<Program> {
        let cwd = std::env::current_dir().unwrap_or_default();
        Program::resolve(template, std::env::var_os("PATH").as_deref(), &cwd)
    }

    /// [`Program::of`] with an explicit `PATH` value and current folder.
    pub fn resolve(template: &str, path_var: Option<&std::ffi::OsStr>, cwd: &Path) -> Option<Program> {
        let word = first_program_word(template)?;
        let path = if word.contains('/') {
            Some(cwd.join(&word))
        } else {
            path_var.and_then(|pv| {
                std::env::split_paths(pv)
                    // An empty entry of PATH is the current folder, for sh as for execvp.
                    .map(|d| if d.as_os_str().is_empty() { cwd.join(&word) } else { d.join(&word) })
                    .find(|c| is_executable(c))
            })
        };
        Some(Program { word, path })
    }

    /// `word -> path`, as printed and recorded.
    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) if self.word.contains('/') && !is_executable(p) => {
                format!("{} -> {} (not an executable file)", self.word, p.display())
            }
            Some(p) => format!("{} -> {}", self.word, p.display()),
            None => format!("{} -> not found on PATH (a shell builtin, or not installed)", self.word),
        }
    }

    /// A warning when the program is a `python`/`python3` found on `PATH` while no virtual
    /// environment is active (`virtual_env`, the value of `VIRTUAL_ENV`, is unset or empty) and
    /// `cwd` holds one (`.venv/bin/python`): the runner then most likely runs without the
    /// packages installed for it.
    pub fn venv_warning(&self, cwd: &Path, virtual_env: Option<&std::ffi::OsStr>) -> Option<String> {
        let python = ["python", "python3"].contains(&self.word.as_str());
        let venv_python = cwd.join(".venv/bin/python");
        if !python || virtual_env.is_some_and(|v| !v.is_empty()) || !venv_python.exists() {
            return None;
        }
        let found = self.path.as_ref()?;
        if found.parent() == venv_python.parent() {
            return None;
        }
        Some(format!(
            "the runner's `{}` is {} (found on PATH, no virtual environment active), but {} exists: if the \
             runner's packages are installed there, write `.venv/bin/python` in the command (or activate the \
             environment first)",
            self.word,
            found.display(),
            venv_python.display()
        ))
    }
}

/// A runner's settings for its measurement log: the engine, and the program it starts.
pub(super) fn with_program(engine: String, program: Option<&Program>) -> crate::data::Settings {
    let mut s = crate::data::Settings::from([("engine".to_string(), engine)]);
    if let Some(p) = program {
        s.insert("runner".to_string(), p.describe());
    }
    s
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first word of a shell command that names a program (see [`Program`]), unquoted: `'...'`,
/// `"..."` and backslashes as `sh` reads them; `None` when the command starts otherwise (a
/// subshell, a redirection). A compound command's keyword (`if`, `for`) is returned as it is.
fn first_program_word(cmd: &str) -> Option<String> {
    let mut rest = cmd;
    let mut after_env = false;
    loop {
        let (word, bare, tail) = shell_word(rest)?;
        rest = tail;
        // `NAME=value`, where NAME is unquoted (the value may be quoted).
        let assignment = word.find('=').is_some_and(|eq| {
            eq > 0
                && eq < bare
                && !word.starts_with(|c: char| c.is_ascii_digit())
                && word[..eq].chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if assignment || (after_env && word.starts_with('-')) {
            continue;
        }
        if bare == word.len() && ["exec", "env", "command"].contains(&word.as_str()) {
            after_env = word == "env";
            continue;
        }
        return Some(word);
    }
}

/// The next shell word of `s`: the word, how many of its first bytes were read before any
/// quoting (an assignment's name must be bare), and the rest of `s`. `None` at the end, at an
/// operator, or at an unterminated quote.
fn shell_word(s: &str) -> Option<(String, usize, &str)> {
    let s = s.trim_start_matches([' ', '\t']);
    let mut word = String::new();
    let mut bare: Option<usize> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' => {
                return finish_word(word, bare, &s[i..]);
            }
            '\'' => {
                bare.get_or_insert(word.len());
                loop {
                    match chars.next()? {
                        (_, '\'') => break,
                        (_, ch) => word.push(ch),
                    }
                }
            }
            '"' => {
                bare.get_or_insert(word.len());
                loop {
                    match chars.next()? {
                        (_, '"') => break,
                        (_, '\\') => match chars.next()? {
                            (_, ch @ ('"' | '\\' | '$' | '`')) => word.push(ch),
                            (_, ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                        },
                        (_, ch) => word.push(ch),
                    }
                }
            }
            '\\' => {
                bare.get_or_insert(word.len());
                if let Some((_, ch)) = chars.next() {
                    word.push(ch);
                }
            }
            _ => word.push(c),
        }
    }
    finish_word(word, bare, "")
}

/// A word read by [`shell_word`] (`''` is a word, nothing is none).
fn finish_word(word: String, bare: Option<usize>, rest: &str) -> Option<(String, usize, &str)> {
    if word.is_empty() && bare.is_none() {
        return None;
    }
    let bare = bare.unwrap_or(word.len());
    Some((word, bare, rest))
}

impl Timer for CommandTimer {
    fn load(&mut self, model: &[u8], _input_shape: [usize; 4]) -> Result<()> {
        self.count += 1;
        self.model = Some(replace_model(self.dir.path(), self.count, self.model.take(), model)?);
        Ok(())
    }

    fn run(&mut self) -> Result<f64> {
        let limit = self.timeout;
        // With the limit equal to the timeout, running out of time is an error, never `None`.
        self.run_once(limit)?.ok_or_else(|| Error::Engine("runner: cut off without a timeout error".into()))
    }

    fn run_within(&mut self, limit: Duration) -> Result<Option<f64>> {
        self.run_once(limit)
    }

    fn engine(&self) -> String {
        format!("external: {}", self.template)
    }

    fn settings(&self) -> crate::data::Settings {
        with_program(self.engine(), self.program.as_ref())
    }

    fn label(&mut self, arch: &str) {
        self.arch = arch.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> CommandTimer {
        CommandTimer::new("x {model}", None).unwrap()
    }

    #[test]
    fn the_protocol_reads_only_unambiguous_output() {
        let t = plain();
        assert_eq!(t.extract("loading\nlatency_ms: 12.5\ndone, 3 files\n"), Ok(12.5));
        assert_eq!(t.extract("warm-up 3 runs\n  4.25  \n\n"), Ok(4.25));
        assert_eq!(t.extract("1e-3\n"), Ok(0.001));
        for bad in [
            "4.20 ms, 238.1 FPS",
            "1,234.5",
            "Error: unsupported op at node 17",
            "latency 12.5 ms",
            "",
            "latency_ms: 1\nlatency_ms: 2",
            "latency_ms: 4.2 ms",
            "latency_ms: -3",
            "0",
            "NaN",
            "inf",
        ] {
            assert!(t.extract(bad).is_err(), "{bad:?} must be refused, got {:?}", t.extract(bad));
        }
        let e = t.extract("4.20 ms, 238.1 FPS").unwrap_err();
        assert!(e.contains("'4.20 ms, 238.1 FPS' is not a bare number"), "{e}");
        let t = CommandTimer::new("x {model}", Some(r"avg=([0-9.]+)")).unwrap();
        assert_eq!(t.extract("min=1.0 avg=2.25 max=9"), Ok(2.25));
        assert!(t.extract("nothing").unwrap_err().contains("`runner_regex`"));
        assert!(CommandTimer::new("no placeholder", None).is_err());
        assert!(CommandTimer::new("x {model}", Some("(")).is_err());
    }

    #[test]
    fn runs_a_command_per_sample_and_quotes_failures() {
        let mut t = CommandTimer::new("test -s {model} && echo 'model ok' && echo 'latency_ms: 4.5'", None).unwrap();
        t.load(b"onnx bytes", [1, 3, 32, 32]).unwrap();
        assert_eq!(t.run().unwrap(), 4.5);
        let mut bad = CommandTimer::new("echo oops; false {model}", None).unwrap();
        bad.load(b"x", [1, 3, 32, 32]).unwrap();
        let e = bad.run().unwrap_err().to_string();
        assert!(e.contains("failed") && e.contains("oops"), "{e}");
        let mut noisy = CommandTimer::new("echo 'Error ... node 17'; : {model}", None).unwrap();
        noisy.load(b"x", [1, 3, 32, 32]).unwrap();
        let e = noisy.run().unwrap_err().to_string();
        assert!(e.contains("did not report a latency") && e.contains("\"Error ... node 17\""), "{e}");
        let mut long = CommandTimer::new("yes abcdefgh | head -c 100000; : {model}", None).unwrap();
        long.load(b"x", [1, 3, 32, 32]).unwrap();
        let e = long.run().unwrap_err().to_string();
        assert!(e.len() < 1200, "the quoted output is cut: {} bytes", e.len());
    }

    /// Processes of a group that are still running (zombies waiting for a reaper do not count).
    fn live_in_group(pgid: u32) -> usize {
        let Ok(procs) = std::fs::read_dir("/proc") else { return 0 };
        procs
            .flatten()
            .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
            .filter(|stat| {
                // Fields after the parenthesised command: state, ppid, pgrp.
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string()
            })
            .count()
    }

    /// Live members of a group once a kill has had time to land: SIGKILL is sent at once, but
    /// a loaded machine may take a moment to reap (up to 2 s of polling, then the count).
    fn settled_live_in_group(pgid: u32) -> usize {
        let mut live = live_in_group(pgid);
        for _ in 0..100 {
            if live == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            live = live_in_group(pgid);
        }
        live
    }

    #[test]
    fn a_hanging_runner_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pg = dir.path().join("pgid");
        let template = format!("echo $$ > '{}'; sleep 100; echo 1; : {{model}}", pg.display());
        let mut t = CommandTimer::new(&template, None).unwrap().timeout(Duration::from_secs(1)).unwrap();
        t.load(b"x", [1, 3, 32, 32]).unwrap();
        let e = t.run().unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("`runner_timeout`"), "{e}");
        let pgid: u32 = std::fs::read_to_string(&pg).unwrap().trim().parse().unwrap();
        assert_eq!(settled_live_in_group(pgid), 0, "sh and its sleep are gone");
        // Cut off by the budget rather than the timeout: not an error, no sample.
        let mut t = CommandTimer::new("sleep 100; : {model}", None).unwrap();
        t.load(b"x", [1, 3, 32, 32]).unwrap();
        assert!(t.run_within(Duration::from_millis(100)).unwrap().is_none());
        assert!(CommandTimer::new("x {model}", None).unwrap().timeout(Duration::ZERO).is_err());
    }

    #[test]
    fn background_jobs_do_not_hold_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let pg = dir.path().join("pgid");
        let template = format!("echo $$ > '{}'; sleep 100 & echo 2.5; : {{model}}", pg.display());
        let mut t = CommandTimer::new(&template, None).unwrap();
        t.load(b"x", [1, 3, 32, 32]).unwrap();
        assert_eq!(t.run().unwrap(), 2.5);
        let pgid: u32 = std::fs::read_to_string(&pg).unwrap().trim().parse().unwrap();
        assert_eq!(settled_live_in_group(pgid), 0, "the background sleep was killed");
    }

    #[test]
    fn the_model_folder_is_removed_and_stale_ones_are_recognised() {
        let t = CommandTimer::new("x {model}", None).unwrap();
        let dir = t.dir().to_path_buf();
        assert!(dir.is_dir());
        drop(t);
        assert!(!dir.exists());
        assert_eq!(runner_dir_owner("oneproxy-runner-123"), Some(123));
        assert_eq!(runner_dir_owner("oneproxy-runner-123-4"), Some(123));
        for other in ["oneproxy-runner-", "oneproxy-runner-12x", "oneproxy-runner-1-", "my-oneproxy-runner-1"] {
            assert_eq!(runner_dir_owner(other), None, "{other}");
        }
        assert!(is_model_name("model12.onnx") && !is_model_name("model.onnx") && !is_model_name("notes.txt"));
    }

    #[test]
    fn programs_resolve_as_sh_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let exe = |name: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = bin.join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        exe("python3");
        std::fs::write(bin.join("notexec"), "").unwrap();
        let path = std::ffi::OsString::from(format!("/nonexistent:{}", bin.display()));
        let cwd = dir.path();
        let word = |t: &str| Program::resolve(t, Some(&path), cwd).map(|p| p.word);
        assert_eq!(word("python3 r.py {model}").as_deref(), Some("python3"));
        assert_eq!(word("OMP_NUM_THREADS=1 A='x y' exec env -i B=2 python3 -u r.py").as_deref(), Some("python3"));
        assert_eq!(word("'my tool' --x").as_deref(), Some("my tool"));
        assert_eq!(word("\"a\\\"b\"c; d").as_deref(), Some("a\"bc"));
        assert_eq!(word("'X=1' y").as_deref(), Some("X=1"), "a quoted name is no assignment");
        assert_eq!(word("(cd x && y)"), None);
        assert_eq!(word("'unterminated"), None);
        let p = Program::resolve("python3 r.py", Some(&path), cwd).unwrap();
        assert_eq!(p.path.as_deref(), Some(bin.join("python3").as_path()));
        assert_eq!(p.describe(), format!("python3 -> {}", bin.join("python3").display()));
        let p = Program::resolve("notexec x", Some(&path), cwd).unwrap();
        assert!(p.path.is_none() && p.describe().contains("not found on PATH"), "{}", p.describe());
        let p = Program::resolve(".venv/bin/python r.py", Some(&path), cwd).unwrap();
        assert_eq!(p.path.as_deref(), Some(cwd.join(".venv/bin/python").as_path()));
        assert!(p.describe().contains("not an executable file"), "{}", p.describe());
        assert!(Program::resolve("python3", None, cwd).unwrap().path.is_none());
    }

    #[test]
    fn a_python_on_path_beside_an_inactive_venv_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        let system = Program { word: "python3".into(), path: Some("/usr/bin/python3".into()) };
        assert_eq!(system.venv_warning(cwd, None), None, "no .venv here");
        std::fs::create_dir_all(cwd.join(".venv/bin")).unwrap();
        std::fs::write(cwd.join(".venv/bin/python"), "").unwrap();
        let w = system.venv_warning(cwd, None).unwrap();
        assert!(w.contains("/usr/bin/python3") && w.contains(".venv/bin/python"), "{w}");
        assert!(system.venv_warning(cwd, Some(std::ffi::OsStr::new(""))).is_some(), "an empty VIRTUAL_ENV is unset");
        assert_eq!(system.venv_warning(cwd, Some(std::ffi::OsStr::new("/some/venv"))), None, "a venv is active");
        let named = Program { word: ".venv/bin/python".into(), path: Some(cwd.join(".venv/bin/python")) };
        assert_eq!(named.venv_warning(cwd, None), None, "named explicitly");
        let other = Program { word: "adb".into(), path: Some("/usr/bin/adb".into()) };
        assert_eq!(other.venv_warning(cwd, None), None);
        let venv = Program { word: "python".into(), path: Some(cwd.join(".venv/bin/python")) };
        assert_eq!(venv.venv_warning(cwd, None), None, "PATH already finds the venv's");
    }

    #[test]
    fn settings_record_the_engine_and_the_program() {
        let t = CommandTimer::new("sh -c 'echo 1' {model}", None).unwrap();
        let s = t.settings();
        assert_eq!(s["engine"], "external: sh -c 'echo 1' {model}");
        assert!(s["runner"].starts_with("sh -> /"), "{s:?}");
    }
}
