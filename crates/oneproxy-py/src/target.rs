//! `oneproxy.OnnxTarget`: a device measured by oneproxy's own engines, from Python. Each
//! architecture's model comes from oneproxy's export (built-in spaces), the user's Python
//! callable ([`PyBuilder`]) or builder command, and is timed by tract or an external runner,
//! through the library's `Session` and `TimerOracle`: the path of the CLI's `measure` and
//! `nas --runner-...`.
//!
//! The target is a callable `target(archs) -> latencies` (ms per image), so it serves anywhere
//! a measure function does. Given to `nas` or `fleet` it is recognised and measured as the CLI's
//! timed oracle: an architecture whose model cannot be built or run is a failed measurement
//! (counted against `max_failures`) rather than the end of the run, runs and warnings go to the
//! measurement log, and the log records the engine, the builder and the batch so that a resume
//! with other models or another engine is refused.
//!
//! **Threads.** An engine need not be movable between threads (tract's model is not), while
//! Python objects and fleets are; the session therefore lives on a thread of its own and is
//! asked one architecture at a time over channels (as the CLI's fleet devices are). Whoever asks
//! waits with the GIL released, since the session's thread needs it to call a Python builder.

use crate::builder::{note_arch, PyBuilder, Raised};
use crate::convert::{parse_archs, parse_space, OrPy};
use crate::oracle::Failure;
use oneproxy::data::Settings;
use oneproxy::measure::builder::{CommandBuilder, ModelBuilder, NetworkExport};
use oneproxy::measure::persistent::PersistentTimer;
use oneproxy::measure::runner::CommandTimer;
use oneproxy::measure::{Clock, MeasureParams, Session, Timer};
use oneproxy::network::Execution;
use oneproxy::workflow::{Answer, TargetOracle, TimerOracle};
use oneproxy::{Arch, Error, SpaceId};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The answer to one architecture: the oracle's answer (none when measuring stopped), its
/// result, and the Python exception of a builder that failed on it.
struct Reply {
    answer: Option<Answer>,
    result: oneproxy::Result<()>,
    raised: Option<PyErr>,
}

/// The channels to the session's thread; `None` once closed.
struct Channels {
    requests: Sender<Arch>,
    replies: Receiver<Reply>,
    thread: std::thread::JoinHandle<()>,
}

/// A session on a thread of its own, shared by the Python object and the oracles made from it
/// (one engine: whoever measures through it takes their turn). When the last of them goes, the
/// channels go with it and the thread ends on its own, stopping the engine; nothing waits for it
/// then, as the freeing thread may hold the GIL that a builder on that thread is waiting for.
struct Served {
    channels: Mutex<Option<Channels>>,
}

impl Served {
    /// Measure `arch` (call without the GIL: a Python builder needs it on the session's thread).
    fn ask(&self, arch: Arch) -> oneproxy::Result<Reply> {
        let guard = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let closed = || Error::EngineLost("the OnnxTarget is closed (its engine was stopped)".into());
        let c = guard.as_ref().ok_or_else(closed)?;
        c.requests.send(arch).map_err(|_| closed())?;
        c.replies.recv().map_err(|_| closed())
    }

    /// Stop the session (a runner is stopped, its temporary models removed) and wait for it.
    fn close(&self) {
        let taken = self.channels.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(Channels { requests, replies, thread }) = taken {
            drop(requests);
            drop(replies);
            let _ = thread.join();
        }
    }
}

/// Where models come from, chosen on the caller's thread and made a builder on the session's.
enum BuilderChoice {
    Python(PyBuilder),
    Command(CommandBuilder),
    Network { seed: u64 },
}

/// The engine, as the CLI's runner flags choose it.
struct EngineChoice {
    runner_cmd: Option<(String, Option<String>)>,
    runner_persistent: Option<String>,
    runner_timeout: Duration,
    runner_start_timeout: Option<Duration>,
    runner_restarts: Option<usize>,
    threads: usize,
    clock: Clock,
}

impl EngineChoice {
    fn timer(&self) -> oneproxy::Result<Box<dyn Timer>> {
        if let Some((cmd, regex)) = &self.runner_cmd {
            return Ok(Box::new(CommandTimer::new(cmd, regex.as_deref())?.timeout(self.runner_timeout)?));
        }
        if let Some(cmd) = &self.runner_persistent {
            let mut runner = PersistentTimer::new(cmd)?.timeout(self.runner_timeout)?;
            if let Some(t) = self.runner_start_timeout {
                runner = runner.start_timeout(t)?;
            }
            if let Some(n) = self.runner_restarts {
                runner = runner.restarts(n);
            }
            return Ok(Box::new(runner));
        }
        tract_timer(self.threads, self.clock)
    }
}

#[cfg(feature = "tract")]
fn tract_timer(threads: usize, clock: Clock) -> oneproxy::Result<Box<dyn Timer>> {
    Ok(Box::new(oneproxy::measure::tract::TractTimer::new(threads).with_clock(clock)?))
}

#[cfg(not(feature = "tract"))]
fn tract_timer(_: usize, _: Clock) -> oneproxy::Result<Box<dyn Timer>> {
    Err(Error::InvalidParameter(
        "this oneproxy package was built without the tract engine: measure through a runner, runner_cmd=... or \
         runner_persistent=... (e.g. [sys.executable, 'examples/runners/ort_runner.py']), or build the package with \
         `maturin build --features tract`"
            .into(),
    ))
}

/// A command template from a string (as the CLI takes it) or a list of words, each quoted for
/// the shell but for the placeholders in it (`{model}`, `{arch}`), which oneproxy fills in
/// already quoted.
fn template(value: &Bound<'_, PyAny>, keyword: &str) -> PyResult<String> {
    if let Ok(s) = value.extract::<String>() {
        return Ok(s);
    }
    let words: Vec<String> = value.extract().map_err(|_| {
        PyValueError::new_err(format!("{keyword} must be a command: a string, or a list of its words (argv)"))
    })?;
    if words.is_empty() {
        return Err(PyValueError::new_err(format!("{keyword} is an empty list: give the command's words")));
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let word = |w: &String| {
        let mut out = String::new();
        let mut rest = w.as_str();
        while !rest.is_empty() {
            let next = ["{model}", "{arch}"].iter().filter_map(|p| rest.find(p).map(|i| (i, *p))).min();
            match next {
                Some((i, p)) => {
                    if i > 0 {
                        out.push_str(&quote(&rest[..i]));
                    }
                    out.push_str(p);
                    rest = &rest[i + p.len()..];
                }
                None => {
                    out.push_str(&quote(rest));
                    rest = "";
                }
            }
        }
        if out.is_empty() {
            out.push_str("''");
        }
        out
    };
    Ok(words.iter().map(word).collect::<Vec<_>>().join(" "))
}

/// A positive number of seconds for `keyword`.
fn seconds(v: f64, keyword: &str) -> PyResult<Duration> {
    match Duration::try_from_secs_f64(v) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(PyValueError::new_err(format!("{keyword}= must be a positive number of seconds, got {v}"))),
    }
}

/// A device measured by oneproxy's engines (see the module documentation).
#[pyclass(module = "oneproxy", name = "OnnxTarget", frozen)]
pub struct OnnxTarget {
    space: SpaceId,
    served: Arc<Served>,
    settings: Settings,
    engine: String,
    batch: usize,
    builder: String,
}

impl OnnxTarget {
    /// The oracle of `nas`/`fleet` measuring through this target as `device`; a Python
    /// exception that stops measuring (Ctrl-C, a builder's `KeyboardInterrupt`) goes to `failure`.
    pub fn oracle(&self, device: &str, failure: Failure) -> OnnxOracle {
        OnnxOracle {
            device: device.to_string(),
            served: self.served.clone(),
            settings: self.settings.clone(),
            builder: self.builder.clone(),
            space: self.space,
            failure,
        }
    }
}

#[pymethods]
impl OnnxTarget {
    #[new]
    #[pyo3(signature = (space, *, builder=None, builder_cmd=None, builder_timeout=None, input_shape=None, runner_cmd=None, runner_regex=None, runner_persistent=None, runner_timeout=None, runner_start_timeout=None, runner_restarts=None, runs=None, warmup=None, max_time=None, batch=1, threads=1, clock=None, prune_dead=false, seed=0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        space: &Bound<'_, PyAny>,
        builder: Option<Py<PyAny>>,
        builder_cmd: Option<String>,
        builder_timeout: Option<f64>,
        input_shape: Option<Vec<usize>>,
        runner_cmd: Option<Bound<'_, PyAny>>,
        runner_regex: Option<String>,
        runner_persistent: Option<Bound<'_, PyAny>>,
        runner_timeout: Option<f64>,
        runner_start_timeout: Option<f64>,
        runner_restarts: Option<usize>,
        runs: Option<usize>,
        warmup: Option<usize>,
        max_time: Option<f64>,
        batch: usize,
        threads: usize,
        clock: Option<String>,
        prune_dead: bool,
        seed: u64,
    ) -> PyResult<Self> {
        // A space's name, or the path of a space file (a str or a path object).
        let space: String = match space.extract() {
            Ok(s) => s,
            Err(_) => py.import("os")?.call_method1("fspath", (space,))?.extract()?,
        };
        let id = parse_space(&space)?;
        if batch == 0 {
            return Err(PyValueError::new_err("batch must be at least 1"));
        }
        if threads == 0 {
            return Err(PyValueError::new_err("threads must be at least 1"));
        }
        let d = MeasureParams::default();
        let runs = runs.unwrap_or(d.max_runs);
        let params = MeasureParams {
            warmup: warmup.unwrap_or(d.warmup),
            warmup_time: d.warmup_time,
            min_runs: runs.min(d.min_runs),
            max_runs: runs,
            max_time: match max_time {
                Some(t) => seconds(t, "max_time")?,
                None => d.max_time,
            },
        };
        params.check().or_py()?;
        let exec = if prune_dead { Execution::PruneDead } else { Execution::AsWritten };
        id.check_execution(exec).or_py()?;
        // The runner keywords, checked as the CLI's flags are.
        if runner_cmd.is_some() && runner_persistent.is_some() {
            return Err(PyValueError::new_err("give runner_cmd= (a command per run) or runner_persistent=, not both"));
        }
        if runner_regex.is_some() && runner_cmd.is_none() {
            return Err(PyValueError::new_err("runner_regex= reads the output of a runner_cmd= command"));
        }
        if runner_persistent.is_none() && (runner_start_timeout.is_some() || runner_restarts.is_some()) {
            return Err(PyValueError::new_err(
                "runner_start_timeout= and runner_restarts= apply to a runner_persistent= runner",
            ));
        }
        let external = runner_cmd.is_some() || runner_persistent.is_some();
        let clock = match clock.as_deref() {
            None => Clock::default(),
            Some(name) => [Clock::Auto, Clock::Wall, Clock::Cpu]
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| PyValueError::new_err(format!("unknown clock '{name}'; known: auto, wall, cpu")))?,
        };
        if external && clock == Clock::Cpu {
            return Err(PyValueError::new_err(
                "clock='cpu' times tract's runs in this process; a runner's latency is what it prints (time its runs \
                 with its own CPU clock)",
            ));
        }
        let engine = EngineChoice {
            runner_cmd: runner_cmd.map(|c| template(&c, "runner_cmd")).transpose()?.map(|c| (c, runner_regex)),
            runner_persistent: runner_persistent.map(|c| template(&c, "runner_persistent")).transpose()?,
            runner_timeout: match runner_timeout {
                Some(t) => seconds(t, "runner_timeout")?,
                None => oneproxy::measure::runner::DEFAULT_TIMEOUT,
            },
            runner_start_timeout: runner_start_timeout.map(|t| seconds(t, "runner_start_timeout")).transpose()?,
            runner_restarts,
            threads,
            clock,
        };
        // The builder: the user's callable or command, else oneproxy's export.
        if builder_timeout.is_some() && builder_cmd.is_none() {
            return Err(PyValueError::new_err(
                "builder_timeout= bounds a builder_cmd= command; a Python builder runs in this process and cannot be \
                 stopped from outside (bound its work inside it)",
            ));
        }
        if input_shape.is_some() && builder.is_none() {
            return Err(PyValueError::new_err(
                "input_shape= is the input of the torch modules a Python builder= returns",
            ));
        }
        let choice = match (builder, builder_cmd) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err("give builder= (a Python callable) or builder_cmd=, not both"))
            }
            (Some(b), None) => BuilderChoice::Python(PyBuilder::new(py, b, id, input_shape)?),
            (None, Some(cmd)) => {
                let mut c = CommandBuilder::new(&cmd, id).or_py()?;
                if let Some(t) = builder_timeout {
                    c = c.timeout(seconds(t, "builder_timeout")?).or_py()?;
                }
                BuilderChoice::Command(c)
            }
            (None, None) => {
                // Checked here, where the error can name the keywords to give.
                NetworkExport::new(id, seed, exec).map_err(|_| {
                    PyValueError::new_err(format!(
                        "the declared space {id} has no network for oneproxy to export: give builder= (a Python \
                         callable builder(arch, batch) returning the ONNX model) or builder_cmd='python build.py \
                         {{arch}} {{out}}'"
                    ))
                })?;
                BuilderChoice::Network { seed }
            }
        };
        if exec == Execution::PruneDead && !matches!(choice, BuilderChoice::Network { .. }) {
            return Err(PyValueError::new_err(
                "prune_dead=True rewrites oneproxy's own export of the network; your builder builds the model as it \
                 writes it (prune in the builder instead)",
            ));
        }
        let (builder_label, raised) = match &choice {
            BuilderChoice::Python(b) => (b.label(), Some(b.raised())),
            BuilderChoice::Command(c) => (c.template().to_string(), None),
            BuilderChoice::Network { .. } => ("oneproxy".to_string(), None),
        };
        let (served, settings, engine_name) =
            py.detach(move || start(id, choice, engine, params, batch, exec, raised)).or_py()?;
        Ok(OnnxTarget { space: id, served, settings, engine: engine_name, batch, builder: builder_label })
    }

    /// Latencies (ms per image) of `archs`, measured one after another. An architecture that
    /// cannot be measured raises: the builder's own exception (noted with the architecture), a
    /// `ValueError` for what it returned, a `RuntimeError` for the engine.
    fn __call__(&self, py: Python<'_>, archs: Vec<String>) -> PyResult<Vec<f64>> {
        let parsed = parse_archs(self.space, &archs)?;
        let mut out = Vec::with_capacity(archs.len());
        for (arch, name) in parsed.into_iter().zip(&archs) {
            py.check_signals()?;
            let served = self.served.clone();
            let reply = py.detach(move || served.ask(arch)).or_py()?;
            let (answer, result, raised) = (reply.answer, reply.result, reply.raised);
            match (answer, result) {
                (Some(Answer::Measured { latency_ms, warnings, .. }), Ok(())) => {
                    crate::warn_texts(py, warnings.iter().map(|w| format!("{name}: {w}")))?;
                    out.push(latency_ms);
                }
                (Some(Answer::Failed(why)), _) => {
                    return Err(match raised {
                        // The ValueError made of a wrong return value already names the architecture.
                        Some(e) if e.is_instance_of::<PyValueError>(py) && e.value(py).to_string().contains(name) => e,
                        Some(e) => {
                            note_arch(py, &e, name, &self.builder);
                            e
                        }
                        None => PyRuntimeError::new_err(format!("measuring {name}: {why}")),
                    });
                }
                (_, Err(e)) => {
                    return Err(match raised {
                        Some(p) => {
                            note_arch(py, &p, name, &self.builder);
                            p
                        }
                        None => PyRuntimeError::new_err(format!("measuring {name}: {}", crate::convert::message(&e))),
                    });
                }
                (None, Ok(())) => {
                    return Err(PyRuntimeError::new_err(format!("measuring {name}: the engine gave no answer")))
                }
            }
        }
        Ok(out)
    }

    /// What changes the numbers measured (engine, builder, batch, pruning): a measurement log of
    /// `nas`/`fleet` records them and refuses to resume with others.
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.settings {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// The engine's name and version.
    #[getter]
    fn engine(&self) -> &str {
        &self.engine
    }

    /// Images per inference (latencies are per image).
    #[getter]
    fn batch(&self) -> usize {
        self.batch
    }

    /// Where the models come from: `python:<module>.<name>`, the builder command, or `oneproxy`.
    #[getter]
    fn builder(&self) -> &str {
        &self.builder
    }

    /// Not exact: asking again measures again (nas's `remeasure="auto"` measures the front again).
    #[getter]
    fn exact(&self) -> bool {
        false
    }

    /// Stop the engine (a persistent runner exits, temporary models are removed); measuring
    /// afterwards is an error. Also done by `with OnnxTarget(...) as t:` and when it is freed.
    fn close(&self, py: Python<'_>) {
        let served = self.served.clone();
        py.detach(move || served.close());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "OnnxTarget(space={}, engine={}, builder={}, batch={})",
            self.space, self.engine, self.builder, self.batch
        )
    }
}

/// Start the session's thread: builder and engine are made there, and its settings and engine
/// name sent back (or why they could not be made).
fn start(
    space: SpaceId,
    choice: BuilderChoice,
    engine: EngineChoice,
    params: MeasureParams,
    batch: usize,
    exec: Execution,
    raised: Option<Raised>,
) -> oneproxy::Result<(Arc<Served>, Settings, String)> {
    let (req_tx, req_rx) = channel::<Arch>();
    let (rep_tx, rep_rx) = channel::<Reply>();
    let (ready_tx, ready_rx) = channel::<oneproxy::Result<(Settings, String)>>();
    let thread = std::thread::Builder::new()
        .name("oneproxy-onnx-target".into())
        .spawn(move || {
            let made = (|| -> oneproxy::Result<TimerOracle> {
                let builder: Box<dyn ModelBuilder> = match choice {
                    BuilderChoice::Python(b) => Box::new(b),
                    BuilderChoice::Command(c) => Box::new(c),
                    BuilderChoice::Network { seed } => Box::new(NetworkExport::new(space, seed, exec)?),
                };
                let timer = engine.timer()?;
                let session = Session::with_builder(space, builder, timer, params, batch, exec)?;
                let _ = ready_tx.send(Ok((session.settings(), session.engine())));
                Ok(TimerOracle::new("onnx-target", session))
            })();
            let mut oracle = match made {
                Ok(o) => o,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // Ends when the requests' sender is dropped (closed or freed).
            while let Ok(arch) = req_rx.recv() {
                let mut answer = None;
                let result = oracle.measure(std::slice::from_ref(&arch), &mut |_, a| answer = Some(a));
                let raised = raised.as_ref().and_then(|r| r.lock().unwrap_or_else(|e| e.into_inner()).take());
                if rep_tx.send(Reply { answer, result, raised }).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::Engine(format!("starting the measuring thread: {e}")))?;
    let (settings, engine) =
        ready_rx.recv().map_err(|_| Error::Engine("the measuring thread ended at its start".into()))??;
    let served = Served { channels: Mutex::new(Some(Channels { requests: req_tx, replies: rep_rx, thread })) };
    Ok((Arc::new(served), settings, engine))
}

/// An [`OnnxTarget`] as the oracle of `nas`/`fleet`: the library's timed oracle, one
/// architecture at a time, stopping at Ctrl-C or when the run's `failure` is set.
pub struct OnnxOracle {
    device: String,
    served: Arc<Served>,
    settings: Settings,
    /// The builder's label, for the note on an exception that stops measuring.
    builder: String,
    space: SpaceId,
    failure: Failure,
}

impl TargetOracle for OnnxOracle {
    fn device(&self) -> &str {
        &self.device
    }

    fn settings(&self) -> Settings {
        self.settings.clone()
    }

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> oneproxy::Result<()> {
        let stopped = |why: &str| Error::Engine(format!("measuring on '{}': {why}", self.device));
        for a in archs {
            if self.failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                return Err(stopped("stopped by an exception in Python"));
            }
            // Ctrl-C, seen on Python's main thread (a fleet's devices see it through `failure`).
            if let Err(interrupt) = Python::attach(|py| py.check_signals()) {
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(interrupt);
                return Err(stopped("interrupted"));
            }
            let reply = self.served.ask(a.clone())?;
            if let Some(ans) = reply.answer {
                answer(a, ans);
            }
            if let Err(e) = reply.result {
                if let Some(p) = reply.raised {
                    let name = self.space.space().format(a);
                    Python::attach(|py| note_arch(py, &p, &name, &self.builder));
                    *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// A device of `nas`/`fleet`: the user's measure function, or an [`OnnxTarget`] measured as the
/// CLI's timed oracle.
pub enum Device {
    Callable(crate::oracle::PyOracle),
    Onnx(OnnxOracle),
}

impl Device {
    /// The device `name` measured by `target`; a measure function's `domain` and `exact` are read
    /// when `described` (as a fleet does).
    pub fn of(
        py: Python<'_>,
        name: &str,
        space: SpaceId,
        target: Py<PyAny>,
        batch: Option<usize>,
        failure: Failure,
        described: bool,
    ) -> PyResult<Self> {
        if let Ok(t) = target.bind(py).cast::<OnnxTarget>() {
            let t = t.get();
            if t.space != space {
                return Err(PyValueError::new_err(format!(
                    "target '{name}' measures the space {}, not {space}",
                    t.space
                )));
            }
            return Ok(Device::Onnx(t.oracle(name, failure)));
        }
        let oracle = crate::oracle::PyOracle::new(name, space, target, batch, failure);
        Ok(Device::Callable(if described { oracle.described(py)? } else { oracle }))
    }
}

impl TargetOracle for Device {
    fn device(&self) -> &str {
        match self {
            Device::Callable(o) => o.device(),
            Device::Onnx(o) => o.device(),
        }
    }

    fn domain(&self) -> Option<Vec<Arch>> {
        match self {
            Device::Callable(o) => o.domain(),
            Device::Onnx(o) => o.domain(),
        }
    }

    fn settings(&self) -> Settings {
        match self {
            Device::Callable(o) => o.settings(),
            Device::Onnx(o) => o.settings(),
        }
    }

    fn exact(&self) -> bool {
        match self {
            Device::Callable(o) => o.exact(),
            Device::Onnx(o) => o.exact(),
        }
    }

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> oneproxy::Result<()> {
        match self {
            Device::Callable(o) => o.measure(archs, answer),
            Device::Onnx(o) => o.measure(archs, answer),
        }
    }
}
