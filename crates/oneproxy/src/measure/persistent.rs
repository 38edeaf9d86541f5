//! Persistent runners: one long-lived process that keeps its engine (and a session per model)
//! open and answers one request line with one answer line.
//!
//! A [`CommandTimer`](super::runner::CommandTimer) starts a process per timed run, so a Python
//! runner pays the interpreter's start-up and the engine session's creation every time (about
//! 100 times the inference of a small model). A persistent runner pays them once per
//! measurement, and its session once per model.
//!
//! # Protocol
//!
//! The command template (no `{model}`: models come in the requests) is run once by `sh -c` in
//! a process group of its own, with its stdin and stdout as the protocol's two pipes; its stderr
//! is read on the side (the last [`STDERR_KEPT`] bytes are kept and quoted in errors), never part
//! of the protocol, so logs and warnings go there.
//!
//! 1. **Start.** The runner prints the line `ready` (or `ready: <anything>`, e.g. its engine's
//!    version) once it can take requests, within the start-up timeout
//!    ([`PersistentTimer::start_timeout`], default [`DEFAULT_START_TIMEOUT`]). Lines before it
//!    are ignored (library banners).
//! 2. **Requests.** Then, for each request, oneproxy writes one line of JSON (one object, no
//!    newline inside) to the runner's stdin and reads one line from its stdout:
//!
//!    ```text
//!    {"op":"load","model":"/tmp/oneproxy-runner-41-0/model3.onnx","arch":"|nor_conv_3x3~0|+...","input_shape":[1,3,32,32],"run":0}
//!    ok
//!    {"op":"run","model":"/tmp/oneproxy-runner-41-0/model3.onnx","arch":"|nor_conv_3x3~0|+...","input_shape":[1,3,32,32],"run":1}
//!    latency_ms: 0.8312
//!    ```
//!
//!    * `op` is `load` once per architecture, before its runs: prepare the model (build a
//!      session, compile, convert, copy it to a device), untimed. The answer is `ok` (a
//!      `latency_ms:` line is accepted too, and dropped: a runner may treat every request as a
//!      run).
//!    * `op` is `run` for each warm-up and timed run: run the model once on an input of
//!      `input_shape` (NCHW, float32) and answer `latency_ms: <x>`, the time of the inference
//!      alone in milliseconds, a positive finite number.
//!    * `model` is the path of the exported ONNX file, the same for every request of one
//!      architecture; a new path means a new model (a runner may keep a session for the last
//!      path only: the previous file is deleted when the next model is written). `arch` is the
//!      architecture string, `run` counts the requests of this model (0 for the load, then 1, 2,
//!      ...). More fields may be added; runners ignore what they do not know.
//!    * Any request may be answered `error: <message>` (one line): the architecture fails with
//!      that message and the runner goes on with the next one.
//!    * Blank lines are skipped; any other line (or more than one line per request) is a
//!      protocol error.
//! 3. **End.** oneproxy closes the runner's stdin when it is done; the runner then exits. It is
//!    killed with its process group if it is still there [`GRACE`] later.
//!
//! # Failures
//!
//! A request is bounded by the request timeout ([`PersistentTimer::timeout`], `--runner-timeout`,
//! default [`DEFAULT_TIMEOUT`](super::runner::DEFAULT_TIMEOUT)). A runner that exits, does not
//! answer in time, or answers out of protocol is killed with its process group; the architecture
//! in flight fails with an error that names the command and quotes the end of its stderr, and the
//! runner is started again for the next request. After [`DEFAULT_RESTARTS`] such restarts in a
//! row ([`PersistentTimer::restarts`]) without a run answered in between, the next failure is
//! [`Error::EngineLost`]: measuring stops rather than mark every remaining architecture failed.
//! A runner that has never become ready is lost at its first failure (a wrong command or a
//! missing package is not something a restart fixes).
//!
//! A run cut off by the measurement's time budget ([`Timer::run_within`]) kills the runner too
//! (a request cannot be withdrawn), without counting as a failure; the restarted runner loads the
//! model again before its next run.
//!
//! # Files and processes
//!
//! Models are written to the same private folder scheme as the per-run runner's (see
//! [`runner`](super::runner)); the folder and the runner's process group are recorded with
//! [`crate::output::cleanup`], so they are removed and killed on drop, on error and on
//! SIGINT/SIGTERM/SIGHUP.

use super::runner::{cut, cut_to, model_dir, replace_model, with_program, Program, DEFAULT_TIMEOUT};
use super::Timer;
use crate::error::{Error, Result};
use crate::output::cleanup::{self, ChildGroup, TempPath};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Start-up limit unless [`PersistentTimer::start_timeout`] sets another: Python with a large
/// engine (OpenVINO, TensorFlow) may take seconds to import, a first `adb` call longer.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Restarts in a row allowed unless [`PersistentTimer::restarts`] sets another.
pub const DEFAULT_RESTARTS: usize = 2;

/// How long a runner may take to exit once its stdin is closed before it is killed.
pub const GRACE: Duration = Duration::from_secs(3);

/// Bytes of the runner's stderr kept (its end), for error messages.
pub const STDERR_KEPT: usize = 8 * 1024;

/// Lines of the runner's stderr quoted in an error (at most [`QUOTED_CHARS`] characters).
const QUOTED_LINES: usize = 8;
const QUOTED_CHARS: usize = 800;

/// Characters of an `error:` answer kept.
const ERROR_CHARS: usize = 1000;

/// Longest stdout line kept (the rest of a longer line is read and dropped).
const MAX_LINE: usize = 64 * 1024;

/// One request, as written to the runner (field order is the documented one).
#[derive(serde::Serialize)]
struct Request<'a> {
    op: &'static str,
    model: &'a str,
    arch: &'a str,
    input_shape: [usize; 4],
    run: u64,
}

/// What the stdout reader saw.
enum Event {
    Line(String),
    Eof,
}

/// What came back for a request.
enum Reply {
    Line(String),
    /// The runner closed its stdout (it exited, most likely).
    Eof,
    /// Nothing within the limit.
    TimedOut,
    /// A line arrived before the request was sent: the runner answered the previous one twice.
    Unasked(String),
}

/// The end of a stream, bounded.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > 2 * STDERR_KEPT {
            let cut = self.0.len() - STDERR_KEPT;
            self.0.drain(..cut);
        }
    }

    /// The last lines, for a message.
    fn quote(&self) -> String {
        let start = self.0.len().saturating_sub(STDERR_KEPT);
        let text = String::from_utf8_lossy(&self.0[start..]);
        let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
        let last = lines[lines.len().saturating_sub(QUOTED_LINES)..].join(" | ");
        if last.is_empty() {
            return "(nothing on stderr)".into();
        }
        match last.char_indices().rev().nth(QUOTED_CHARS) {
            Some((i, _)) => format!("\"...{}\"", &last[i..]),
            None => format!("\"{last}\""),
        }
    }
}

/// A started runner and the threads that talk to it.
struct Process {
    /// Requests for the writer thread; dropping it closes the runner's stdin.
    requests: Option<mpsc::Sender<String>>,
    lines: mpsc::Receiver<Event>,
    stderr: Arc<Mutex<Tail>>,
    /// Closed when the runner's stderr reaches its end.
    stderr_done: mpsc::Receiver<()>,
    exit: mpsc::Receiver<std::io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
    group: ChildGroup,
}

impl Process {
    /// Start `template` and wait for its `ready` line.
    fn start(template: &str, limit: Duration) -> std::result::Result<Process, String> {
        let mut command = Command::new("sh");
        command.arg("-c").arg(template).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let (mut child, group) =
            cleanup::spawn_group(&mut command).map_err(|e| format!("cannot start `sh -c {template}`: {e}"))?;
        let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(i), Some(o), Some(e)) => (i, o, e),
            _ => return Err("no pipes to the runner".into()),
        };
        let (exit_tx, exit) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = exit_tx.send(child.wait());
        });
        let (req_tx, req_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || write_requests(stdin, req_rx));
        let (line_tx, lines) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, line_tx));
        let tail = Arc::new(Mutex::new(Tail::default()));
        let sink = Arc::clone(&tail);
        let (done_tx, stderr_done) = mpsc::channel();
        std::thread::spawn(move || {
            read_stderr(stderr, sink);
            drop(done_tx);
        });
        let mut p = Process { requests: Some(req_tx), lines, stderr: tail, stderr_done, exit, status: None, group };
        let deadline = Instant::now() + limit;
        // The last lines before `ready`, quoted when it never comes (a per-run runner's output, say).
        let mut early: Vec<String> = Vec::new();
        let said = |early: &[String]| {
            if early.is_empty() {
                String::new()
            } else {
                let quoted: Vec<String> = early.iter().map(|l| format!("'{}'", cut(l))).collect();
                format!(" (its stdout said {})", quoted.join(", "))
            }
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match p.lines.recv_timeout(left) {
                Ok(Event::Line(l)) if l.trim() == "ready" || l.trim_start().starts_with("ready:") => return Ok(p),
                Ok(Event::Line(l)) => {
                    if early.len() == 3 {
                        early.remove(0);
                    }
                    early.push(l);
                }
                Ok(Event::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = p.stop_now();
                    return Err(format!(
                        "exited ({status}) before it printed 'ready'{}; its stderr: {}",
                        said(&early),
                        p.stderr_quote()
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    p.stop_now();
                    return Err(format!(
                        "did not print 'ready' within {} s of its start and was killed{}; its stderr: {}",
                        limit.as_secs_f64(),
                        said(&early),
                        p.stderr_quote()
                    ));
                }
            }
        }
    }

    /// Send one request line and wait at most `limit` for the answer line.
    fn ask(&mut self, line: String, limit: Duration) -> Reply {
        // Whatever came since the last answer is out of protocol.
        loop {
            match self.lines.try_recv() {
                Ok(Event::Line(l)) if l.trim().is_empty() => continue,
                Ok(Event::Line(l)) => return Reply::Unasked(l),
                Ok(Event::Eof) | Err(mpsc::TryRecvError::Disconnected) => return Reply::Eof,
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let sent = self.requests.as_ref().is_some_and(|r| r.send(line).is_ok());
        if !sent {
            return Reply::Eof;
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Event::Line(l)) if l.trim().is_empty() => continue,
                Ok(Event::Line(l)) => return Reply::Line(l),
                Ok(Event::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => return Reply::Eof,
                Err(mpsc::RecvTimeoutError::Timeout) => return Reply::TimedOut,
            }
        }
    }

    /// The end of the runner's stderr, quoted (once it is stopped, the whole of it).
    fn stderr_quote(&self) -> String {
        // The group is dead: its stderr ends as soon as the reader has taken in the last bytes
        // (a background job that escaped the group could hold it open: do not wait long).
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(500));
        self.stderr.lock().map_or_else(|e| e.into_inner().quote(), |t| t.quote())
    }

    /// Kill the group now and reap the runner: its exit status, in words.
    fn stop_now(&mut self) -> String {
        // A runner that exited by itself has its own status; give it a moment to be reaped.
        if self.status.is_none() {
            if let Ok(Ok(s)) = self.exit.recv_timeout(Duration::from_millis(200)) {
                self.status = Some(s);
            }
        }
        self.group.kill();
        self.requests = None;
        if self.status.is_none() {
            if let Ok(Ok(s)) = self.exit.recv_timeout(Duration::from_secs(5)) {
                self.status = Some(s);
            }
        }
        self.status.map_or_else(|| "status unknown".into(), |s| s.to_string())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Closing stdin asks the runner to finish (its own clean-up, e.g. on a phone); the group
        // is killed anyway when `group` is dropped, stragglers included.
        self.requests = None;
        if self.status.is_none() {
            let _ = self.exit.recv_timeout(GRACE);
        }
        self.group.kill();
        let _ = self.exit.recv_timeout(Duration::from_secs(5));
    }
}

fn write_requests(mut stdin: std::process::ChildStdin, requests: mpsc::Receiver<String>) {
    for mut r in requests {
        r.push('\n');
        if stdin.write_all(r.as_bytes()).and_then(|_| stdin.flush()).is_err() {
            break;
        }
    }
}

/// Send each line of `pipe` (cut to [`MAX_LINE`] bytes), then `Eof`.
fn read_lines(pipe: impl Read, tx: mpsc::Sender<Event>) {
    let mut r = BufReader::new(pipe);
    loop {
        let mut line = Vec::new();
        let mut seen = 0usize;
        loop {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => &[],
            };
            if buf.is_empty() {
                break;
            }
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            let room = MAX_LINE.saturating_sub(line.len());
            line.extend_from_slice(&buf[..take.min(room)]);
            seen += take + usize::from(end);
            r.consume(take + usize::from(end));
            if end {
                break;
            }
        }
        if seen == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
        if tx.send(Event::Line(text)).is_err() {
            return;
        }
    }
    let _ = tx.send(Event::Eof);
}

fn read_stderr(mut pipe: impl Read, tail: Arc<Mutex<Tail>>) {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => tail.lock().unwrap_or_else(|e| e.into_inner()).push(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

/// Runs every request of a measurement through one long-lived runner process (see the module
/// documentation).
pub struct PersistentTimer {
    // Declared first so that it is dropped (stopped) before the model folder is removed.
    process: Option<Process>,
    template: String,
    program: Option<Program>,
    dir: TempPath,
    model: Option<PathBuf>,
    arch: String,
    shape: [usize; 4],
    count: usize,
    run: u64,
    /// Whether the running process has loaded the current model.
    loaded: bool,
    timeout: Duration,
    start_timeout: Duration,
    restarts: usize,
    /// Failures (crash, timeout, protocol error, failed start) since the last good answer.
    failures: usize,
    ever_ready: bool,
    /// Why the runner was given up, once it was.
    lost: Option<String>,
}

impl std::fmt::Debug for PersistentTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentTimer")
            .field("template", &self.template)
            .field("dir", &self.dir.path())
            .field("running", &self.process.is_some())
            .finish_non_exhaustive()
    }
}

impl PersistentTimer {
    /// A runner from a command template (without `{model}`: see the module documentation). The
    /// process starts with the first model.
    pub fn new(template: &str) -> Result<Self> {
        if template.trim().is_empty() {
            return Err(Error::InvalidParameter("--runner-persistent needs a command".into()));
        }
        if template.contains("{model}") || template.contains("{arch}") {
            return Err(Error::InvalidParameter(format!(
                "--runner-persistent takes no {{model}} or {{arch}}: the runner is started once and gets each model's \
                 path and architecture in its requests (see docs/measuring.md); for a command run once per model, use \
                 --runner-cmd. Got '{}'",
                cut(template)
            )));
        }
        Ok(PersistentTimer {
            process: None,
            template: template.into(),
            program: Program::of(template),
            dir: model_dir()?,
            model: None,
            arch: String::new(),
            shape: [0; 4],
            count: 0,
            run: 0,
            loaded: false,
            timeout: DEFAULT_TIMEOUT,
            start_timeout: DEFAULT_START_TIMEOUT,
            restarts: DEFAULT_RESTARTS,
            failures: 0,
            ever_ready: false,
            lost: None,
        })
    }

    /// Set the per-request time limit (more than zero).
    pub fn timeout(mut self, limit: Duration) -> Result<Self> {
        if limit.is_zero() {
            return Err(Error::InvalidParameter("the runner timeout must be more than 0 s".into()));
        }
        self.timeout = limit;
        Ok(self)
    }

    /// Set the start-up time limit (more than zero).
    pub fn start_timeout(mut self, limit: Duration) -> Result<Self> {
        if limit.is_zero() {
            return Err(Error::InvalidParameter("the runner start-up timeout must be more than 0 s".into()));
        }
        self.start_timeout = limit;
        Ok(self)
    }

    /// Set how many times in a row the runner may be restarted after a failure.
    pub fn restarts(mut self, n: usize) -> Self {
        self.restarts = n;
        self
    }

    /// The private folder the models are written to.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The program the template starts, resolved through `PATH`.
    pub fn program(&self) -> Option<&Program> {
        self.program.as_ref()
    }

    /// The process group of the running runner, if one runs (for tests and diagnostics).
    pub fn process_group(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.group.pgid())
    }

    fn lost_error(&self) -> Option<Error> {
        self.lost.as_ref().map(|why| Error::EngineLost(why.clone()))
    }

    /// The runner failed as `what` (its process is already stopped, and `what` quotes its
    /// stderr): the error for the architecture in flight, or the runner is lost.
    fn failed(&mut self, what: String) -> Error {
        self.process = None;
        self.loaded = false;
        self.failures += 1;
        let arch = if self.arch.is_empty() { String::new() } else { format!(" (architecture {})", cut(&self.arch)) };
        if !self.ever_ready || self.failures > self.restarts {
            let why = if self.ever_ready {
                format!(
                    "the runner `{}` failed {} times in a row without a run answered in between, the last time{arch}: \
                     {what}. Measuring stops here (the measurements so far are kept): fix the runner, then run the \
                     same command again to resume",
                    self.template, self.failures
                )
            } else {
                format!(
                    "the runner `{}` {what}. Check that the command starts by hand and prints 'ready' (its program: \
                     {}); the protocol is in docs/measuring.md",
                    self.template,
                    self.program.as_ref().map_or_else(|| "unknown".into(), Program::describe)
                )
            };
            self.lost = Some(why.clone());
            return Error::EngineLost(why);
        }
        Error::Engine(format!(
            "the runner `{}` {what}{arch}. It is started again for the next architecture (restart {} of at most {} \
             in a row)",
            self.template, self.failures, self.restarts
        ))
    }

    /// Start the runner if none runs, and have it load the current model if it has not.
    fn prepare(&mut self) -> Result<()> {
        if let Some(e) = self.lost_error() {
            return Err(e);
        }
        if self.process.is_none() {
            match Process::start(&self.template, self.start_timeout) {
                Ok(p) => {
                    self.process = Some(p);
                    self.ever_ready = true;
                    self.loaded = false;
                }
                Err(why) => {
                    let what = if self.ever_ready { format!("could not be restarted: it {why}") } else { why };
                    return Err(self.failed(what));
                }
            }
        }
        if !self.loaded {
            match self.request("load", self.timeout)? {
                Some(Answer::Ok) | Some(Answer::Latency(_)) | Some(Answer::Invalid(_)) => {
                    self.loaded = true;
                }
                Some(Answer::Error(m)) => {
                    return Err(Error::Engine(format!(
                        "the runner `{}` could not load the model of {}: {m}",
                        self.template,
                        cut(&self.arch)
                    )))
                }
                None => {
                    return Err(Error::Engine("the runner's load was cut off without a timeout error".into()));
                }
            }
        }
        Ok(())
    }

    /// Send one request and read its answer within `limit`. `Ok(None)` when `limit` (shorter
    /// than the timeout) ran out: the runner was stopped, not failed.
    fn request(&mut self, op: &'static str, limit: Duration) -> Result<Option<Answer>> {
        let model = self.model.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let line = serde_json::to_string(&Request {
            op,
            model: &model,
            arch: &self.arch,
            input_shape: self.shape,
            run: self.run,
        })
        .map_err(|e| Error::Engine(format!("cannot write a runner request: {e}")))?;
        let wait = limit.min(self.timeout);
        let Some(p) = self.process.as_mut() else {
            return Err(Error::Engine("the runner is not running".into()));
        };
        let which = if op == "load" { "the load".to_string() } else { format!("run {}", self.run) };
        let reply = p.ask(line, wait);
        let what = match reply {
            Reply::Line(l) => match parse_answer(&l) {
                Ok(a) => {
                    if op == "run" {
                        // A run answered in protocol: the runner works.
                        self.failures = 0;
                    }
                    return Ok(Some(a));
                }
                Err(why) => {
                    p.stop_now();
                    format!(
                        "broke the protocol on {which}: {why} (a persistent runner answers each request with one line, \
                         'latency_ms: <ms>', 'ok' or 'error: <message>', and prints everything else to stderr); its \
                         stderr: {}",
                        p.stderr_quote()
                    )
                }
            },
            Reply::Unasked(l) => {
                p.stop_now();
                format!(
                    "printed '{}' when nothing was asked, before {which} (one line per request, everything else to \
                     stderr); its stderr: {}",
                    cut(&l),
                    p.stderr_quote()
                )
            }
            Reply::Eof => {
                let status = p.stop_now();
                format!("exited ({status}) during {which}; its stderr: {}", p.stderr_quote())
            }
            Reply::TimedOut if wait < self.timeout => {
                // Cut off by the measurement's budget: not the runner's fault.
                p.stop_now();
                self.process = None;
                self.loaded = false;
                return Ok(None);
            }
            Reply::TimedOut => {
                p.stop_now();
                format!(
                    "did not answer {which} within {} s and was killed with its process group (raise \
                     --runner-timeout if the model needs longer); its stderr: {}",
                    self.timeout.as_secs_f64(),
                    p.stderr_quote()
                )
            }
        };
        Err(self.failed(what))
    }

    fn run_once(&mut self, limit: Duration) -> Result<Option<f64>> {
        if self.model.is_none() {
            return Err(Error::Engine("the runner has no model loaded".into()));
        }
        self.prepare()?;
        self.run += 1;
        match self.request("run", limit)? {
            Some(Answer::Latency(v)) => Ok(Some(v)),
            Some(Answer::Ok) => Err(Error::Engine(format!(
                "the runner `{}` answered 'ok' to run {} of {}: a run is answered 'latency_ms: <ms>'",
                self.template,
                self.run,
                cut(&self.arch)
            ))),
            Some(Answer::Error(m)) => Err(Error::Engine(format!(
                "the runner `{}` failed on run {} of {}: {m}",
                self.template,
                self.run,
                cut(&self.arch)
            ))),
            Some(Answer::Invalid(why)) => Err(Error::Engine(format!(
                "the runner `{}` answered run {} of {} with a bad latency: {why}",
                self.template,
                self.run,
                cut(&self.arch)
            ))),
            None => Ok(None),
        }
    }
}

/// An answer line, parsed.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Ok,
    Latency(f64),
    Error(String),
    /// A `latency_ms:` line whose value is not a positive finite number: in protocol (the runner
    /// keeps running), but the architecture fails.
    Invalid(String),
}

/// Parse one answer line (see the module documentation), or say why it is not one.
fn parse_answer(line: &str) -> std::result::Result<Answer, String> {
    let l = line.trim();
    if l == "ok" {
        return Ok(Answer::Ok);
    }
    if let Some(m) = l.strip_prefix("error:") {
        let m = m.trim();
        // The runner's own words: long enough for a tool's last lines, bounded for the log.
        return Ok(Answer::Error(if m.is_empty() { "(no message)".into() } else { cut_to(m, ERROR_CHARS) }));
    }
    if let Some(v) = l.strip_prefix("latency_ms:") {
        let v = v.trim();
        return Ok(match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Answer::Latency(x),
            Ok(x) => Answer::Invalid(format!("the latency {x} is not a positive number of ms")),
            Err(_) => Answer::Invalid(format!("'{}' is not a number of ms", cut(v))),
        });
    }
    Err(format!("'{}' is not an answer", cut(l)))
}

impl Timer for PersistentTimer {
    fn load(&mut self, model: &[u8], input_shape: [usize; 4]) -> Result<()> {
        if let Some(e) = self.lost_error() {
            return Err(e);
        }
        self.count += 1;
        self.model = Some(replace_model(self.dir.path(), self.count, self.model.take(), model)?);
        self.shape = input_shape;
        self.run = 0;
        self.loaded = false;
        self.prepare()
    }

    fn run(&mut self) -> Result<f64> {
        let limit = self.timeout;
        self.run_once(limit)?.ok_or_else(|| Error::Engine("the runner was cut off without a timeout error".into()))
    }

    fn run_within(&mut self, limit: Duration) -> Result<Option<f64>> {
        self.run_once(limit)
    }

    fn engine(&self) -> String {
        format!("persistent: {}", self.template)
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

    /// A fake runner: records its starts and requests in `dir`, answers by the architecture:
    /// `bad` -> `error:`, `junk` -> free text, `negative` -> a negative latency, `crash` -> exits
    /// with a message on stderr, `hang` -> hangs with a child, `slow` -> answers after 0.5 s,
    /// `badload` -> `error:` to the load, else `latency_ms: 2.5` (`ok` to a load).
    fn fake(dir: &std::path::Path) -> String {
        let script = dir.join("fake_runner.sh");
        std::fs::write(
            &script,
            r#"d="$1"
echo $$ >> "$d/starts"
echo "warming up the fake engine" >&2
echo "a banner before ready"
echo "ready: fake 1.0"
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$d/requests"
  case "$line" in
    *'"op":"load"'*'"arch":"badload'*) echo "error: cannot parse the model" ;;
    *'"op":"load"'*) echo ok ;;
    *'"arch":"bad'*) echo "error: unsupported op Foo at node 17" ;;
    *'"arch":"junk'*) echo "4.20 ms, 238.1 FPS" ;;
    *'"arch":"negative'*) echo "latency_ms: -3" ;;
    *'"arch":"crash'*) echo "fatal: out of memory in the fake engine" >&2; exit 3 ;;
    *'"arch":"hang'*) echo $$ > "$d/hung"; sleep 100 & wait ;;
    *'"arch":"slow'*) sleep 0.5; echo "latency_ms: 1.5" ;;
    *) echo "" ; echo "latency_ms: 2.5" ;;
  esac
done
echo "stdin closed, bye" >&2
touch "$d/closed"
"#,
        )
        .unwrap();
        format!("sh '{}' '{}'", script.display(), dir.display())
    }

    fn count_lines(p: &std::path::Path) -> usize {
        std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
    }

    fn requests(dir: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("requests"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn timer(dir: &std::path::Path) -> PersistentTimer {
        PersistentTimer::new(&fake(dir)).unwrap().timeout(Duration::from_secs(20)).unwrap()
    }

    fn load(t: &mut PersistentTimer, arch: &str) -> Result<()> {
        t.label(arch);
        t.load(arch.as_bytes(), [1, 3, 32, 32])
    }

    /// Processes of a group that are still running (zombies waiting for a reaper do not count).
    fn live_in_group(pgid: u32) -> usize {
        let Ok(procs) = std::fs::read_dir("/proc") else { return 0 };
        procs
            .flatten()
            .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
            .filter(|stat| {
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string()
            })
            .count()
    }

    /// Live members of a group once a kill has had time to land (up to 2 s of polling).
    fn settled_live_in_group(pgid: u32) -> usize {
        for _ in 0..100 {
            if live_in_group(pgid) == 0 {
                return 0;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        live_in_group(pgid)
    }

    #[test]
    fn one_process_answers_every_run_of_every_model_with_documented_requests() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = timer(dir.path());
        load(&mut t, "first").unwrap();
        assert_eq!((t.run().unwrap(), t.run().unwrap()), (2.5, 2.5));
        let first_model = t.model.clone().unwrap();
        load(&mut t, "second").unwrap();
        assert_eq!(t.run_within(Duration::from_secs(5)).unwrap(), Some(2.5));
        assert_eq!(count_lines(&dir.path().join("starts")), 1, "one process for both models");
        assert!(!first_model.exists(), "only the model in use stays on disk");
        let r = requests(dir.path());
        let ops: Vec<(&str, &str, u64)> = r
            .iter()
            .map(|v| (v["op"].as_str().unwrap(), v["arch"].as_str().unwrap(), v["run"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            ops,
            [
                ("load", "first", 0),
                ("run", "first", 1),
                ("run", "first", 2),
                ("load", "second", 0),
                ("run", "second", 1)
            ]
        );
        assert_eq!(r[0]["input_shape"], serde_json::json!([1, 3, 32, 32]));
        assert_eq!(r[0]["model"], r[2]["model"]);
        assert_ne!(r[0]["model"], r[3]["model"], "a new model has a new path");
        let model = r[4]["model"].as_str().unwrap();
        assert!(std::path::Path::new(model).starts_with(t.dir()), "{model}");
        assert_eq!(std::fs::read(model).unwrap(), b"second");
        assert!(t.engine().starts_with("persistent: sh "), "{}", t.engine());
        let settings = t.settings();
        assert_eq!(settings["engine"], t.engine());
        assert!(settings["runner"].starts_with("sh -> /"), "{:?}", settings);
    }

    #[test]
    fn error_answers_fail_the_architecture_and_keep_the_runner() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = timer(dir.path());
        load(&mut t, "bad-cell").unwrap();
        let e = t.run().unwrap_err().to_string();
        assert!(e.contains("unsupported op Foo at node 17") && e.contains("run 1 of bad-cell"), "{e}");
        let e = load(&mut t, "badload-cell").unwrap_err().to_string();
        assert!(e.contains("could not load the model of badload-cell: cannot parse the model"), "{e}");
        let e = {
            load(&mut t, "negative").unwrap();
            t.run().unwrap_err().to_string()
        };
        assert!(e.contains("bad latency") && e.contains("-3"), "{e}");
        load(&mut t, "good").unwrap();
        assert_eq!(t.run().unwrap(), 2.5);
        assert_eq!(count_lines(&dir.path().join("starts")), 1, "never restarted");
    }

    #[test]
    fn malformed_answers_fail_the_architecture_and_restart_the_runner() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = timer(dir.path());
        load(&mut t, "junk").unwrap();
        let e = t.run().unwrap_err();
        assert!(matches!(e, Error::Engine(_)), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("broke the protocol on run 1") && e.contains("'4.20 ms, 238.1 FPS' is not an answer"),
            "{e}"
        );
        assert!(e.contains("warming up the fake engine"), "stderr is quoted: {e}");
        assert!(e.contains("started again") && e.contains(&fake(dir.path())), "{e}");
        load(&mut t, "good").unwrap();
        assert_eq!(t.run().unwrap(), 2.5);
        assert_eq!(count_lines(&dir.path().join("starts")), 2);
    }

    #[test]
    fn a_runner_that_dies_is_restarted_and_the_next_architecture_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = timer(dir.path());
        load(&mut t, "crash").unwrap();
        let pgid = t.process_group().unwrap();
        let e = t.run().unwrap_err().to_string();
        assert!(e.contains("exited (exit status: 3) during run 1"), "{e}");
        assert!(e.contains("fatal: out of memory in the fake engine"), "the last stderr lines: {e}");
        assert!(e.contains("architecture crash") && e.contains("restart 1 of at most 2"), "{e}");
        assert_eq!(settled_live_in_group(pgid), 0);
        load(&mut t, "good").unwrap();
        assert_eq!(t.run().unwrap(), 2.5);
        assert_eq!(count_lines(&dir.path().join("starts")), 2);
        // A good run resets the count: two more crashes are still within the restarts allowed.
        for _ in 0..2 {
            load(&mut t, "crash").unwrap();
            assert!(matches!(t.run().unwrap_err(), Error::Engine(_)));
        }
    }

    #[test]
    fn a_hanging_runner_is_killed_with_its_group_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = PersistentTimer::new(&fake(dir.path())).unwrap().timeout(Duration::from_secs(1)).unwrap();
        load(&mut t, "hang").unwrap();
        let pgid = t.process_group().unwrap();
        let e = t.run().unwrap_err().to_string();
        assert!(e.contains("did not answer run 1 within 1 s") && e.contains("--runner-timeout"), "{e}");
        assert!(dir.path().join("hung").exists(), "the request did reach the runner");
        assert_eq!(settled_live_in_group(pgid), 0, "the runner and its sleep are gone");
        assert!(t.process_group().is_none());
    }

    #[test]
    fn a_run_cut_off_by_the_budget_is_no_sample_and_no_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = timer(dir.path());
        load(&mut t, "slow").unwrap();
        assert_eq!(t.run_within(Duration::from_millis(100)).unwrap(), None);
        assert_eq!(t.failures, 0);
        // The restarted runner loads the model again before the next run.
        assert_eq!(t.run_within(Duration::from_secs(10)).unwrap(), Some(1.5));
        assert_eq!(count_lines(&dir.path().join("starts")), 2);
        let loads = requests(dir.path()).iter().filter(|r| r["op"] == "load").count();
        assert_eq!(loads, 2);
    }

    #[test]
    fn a_runner_that_never_becomes_ready_is_lost_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let quiet = format!("echo $$ > '{}'; echo 'loading...'; sleep 100", pidfile.display());
        let mut t = PersistentTimer::new(&quiet).unwrap().start_timeout(Duration::from_millis(500)).unwrap();
        let e = load(&mut t, "any").unwrap_err();
        assert!(matches!(e, Error::EngineLost(_)), "{e}");
        let e = e.to_string();
        assert!(e.contains("did not print 'ready' within 0.5 s") && e.contains("'loading...'"), "{e}");
        let pgid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        assert_eq!(settled_live_in_group(pgid), 0, "killed with its sleep");
        // Lost for good: no second start.
        std::fs::remove_file(&pidfile).unwrap();
        assert!(matches!(load(&mut t, "other").unwrap_err(), Error::EngineLost(_)));
        assert!(!pidfile.exists());

        let broken = "echo 'ModuleNotFoundError: No module named onnxruntime' >&2; exit 1";
        let mut t = PersistentTimer::new(broken).unwrap();
        let e = load(&mut t, "any").unwrap_err().to_string();
        assert!(e.contains("exited (exit status: 1) before it printed 'ready'"), "{e}");
        assert!(e.contains("No module named onnxruntime") && e.contains("its program: echo -> "), "{e}");
    }

    #[test]
    fn repeated_failures_give_up_after_the_allowed_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = timer(dir.path()).restarts(1);
        load(&mut t, "crash-1").unwrap();
        assert!(matches!(t.run().unwrap_err(), Error::Engine(_)));
        load(&mut t, "crash-2").unwrap();
        let e = t.run().unwrap_err();
        assert!(matches!(e, Error::EngineLost(_)), "{e}");
        assert!(e.to_string().contains("failed 2 times in a row") && e.to_string().contains("crash-2"), "{e}");
        let starts = count_lines(&dir.path().join("starts"));
        assert!(matches!(load(&mut t, "good").unwrap_err(), Error::EngineLost(_)));
        assert_eq!(count_lines(&dir.path().join("starts")), starts, "not started again");
    }

    #[test]
    fn dropping_the_timer_stops_the_runner_and_removes_the_models() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = timer(dir.path());
        load(&mut t, "good").unwrap();
        let (pgid, models) = (t.process_group().unwrap(), t.dir().to_path_buf());
        assert!(models.is_dir() && live_in_group(pgid) > 0);
        drop(t);
        assert!(!models.exists());
        assert_eq!(settled_live_in_group(pgid), 0);
        assert!(dir.path().join("closed").exists(), "the runner saw its stdin close and finished by itself");
    }

    #[test]
    fn templates_with_placeholders_are_refused() {
        for bad in ["python3 r.py {model}", "r --arch {arch}", "  "] {
            let e = PersistentTimer::new(bad).unwrap_err().to_string();
            assert!(e.contains("--runner-persistent"), "{e}");
        }
        assert!(PersistentTimer::new("x").unwrap().timeout(Duration::ZERO).is_err());
        assert!(PersistentTimer::new("x").unwrap().start_timeout(Duration::ZERO).is_err());
    }

    #[test]
    fn answers_are_parsed_strictly() {
        assert_eq!(parse_answer("latency_ms: 0.25"), Ok(Answer::Latency(0.25)));
        assert_eq!(parse_answer("  ok "), Ok(Answer::Ok));
        assert_eq!(parse_answer("error: boom"), Ok(Answer::Error("boom".into())));
        assert!(matches!(parse_answer("latency_ms: 0"), Ok(Answer::Invalid(_))));
        assert!(matches!(parse_answer("latency_ms: 4.2 ms"), Ok(Answer::Invalid(_))));
        for junk in ["4.2", "OK", "latency 4.2", "ready"] {
            assert!(parse_answer(junk).is_err(), "{junk}");
        }
        let mut tail = Tail::default();
        tail.push(&vec![b'x'; 3 * STDERR_KEPT]);
        tail.push(b"\nlast words\n");
        assert!(tail.0.len() <= 2 * STDERR_KEPT && tail.quote().ends_with("last words\""), "{}", tail.quote());
        assert_eq!(Tail::default().quote(), "(nothing on stderr)");
    }
}
