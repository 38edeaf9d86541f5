//! `oneproxy.nas`: the one-proxy NAS flow on the user's device, measured by a Python callable,
//! with every measurement logged (in memory, or to `measurements_path` so that a rerun resumes).

use crate::convert::{parse_space, to_py, OrPy};
use crate::options::{self, AdaptKeywords};
use crate::oracle::Failure;
use crate::target::Device;
use oneproxy::workflow::{Flow, FlowEvent, MeasurementLog, NasConfig, Recorded, Remeasure, Stage};
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// The flow's keywords (the CLI's `nas` flags), each `None` for the library's default.
pub struct FlowKeywords<'py> {
    pub proxy: Option<String>,
    pub pool: Option<Vec<String>>,
    pub samples: Option<usize>,
    pub sample_set: Option<String>,
    pub max_measurements: Option<usize>,
    pub threshold: Option<f64>,
    pub max_samples: Option<usize>,
    pub layers: Option<usize>,
    pub constraints: Vec<f64>,
    pub seed: Option<u64>,
    pub design: Option<String>,
    pub round_size: Option<usize>,
    pub stop: Option<f64>,
    pub always_adapt: Option<bool>,
    pub max_failures: Option<usize>,
    pub remeasure: Option<String>,
    pub stop_regret: Option<f64>,
    pub min_checks: Option<usize>,
    pub adapt: AdaptKeywords<'py>,
}

/// The flow's keywords, as `nas` names them: what `fleet` takes in one dict (`**flow` in Python).
const FLOW_KEYWORDS: [&str; 24] = [
    "proxy",
    "pool",
    "samples",
    "sample_set",
    "max_measurements",
    "threshold",
    "max_samples",
    "layers",
    "constraints",
    "seed",
    "design",
    "round_size",
    "stop",
    "always_adapt",
    "max_failures",
    "remeasure",
    "stop_regret",
    "min_checks",
    "norm",
    "form",
    "lambda_",
    "folds",
    "ensemble",
    "combine",
];

/// The value of `key` in `d` (absent or `None`: `None`), converted; a wrong type names the key.
fn keyword<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|e| {
            let e: PyErr = e.into();
            PyTypeError::new_err(format!("{key}: {e}"))
        }),
        _ => Ok(None),
    }
}

impl<'py> FlowKeywords<'py> {
    /// The keywords given in `d` (those of `nas`, by name), every other one left `None`; a key
    /// that is not one of them is refused by name.
    pub(crate) fn from_dict(d: &Bound<'py, PyDict>) -> PyResult<Self> {
        for key in d.keys() {
            let key: String = key.extract()?;
            if !FLOW_KEYWORDS.contains(&key.as_str()) {
                return Err(PyTypeError::new_err(format!(
                    "unknown keyword '{key}'; the flow's keywords are {}",
                    FLOW_KEYWORDS.join(", ")
                )));
            }
        }
        Ok(FlowKeywords {
            proxy: keyword(d, "proxy")?,
            pool: keyword(d, "pool")?,
            samples: keyword(d, "samples")?,
            sample_set: keyword(d, "sample_set")?,
            max_measurements: keyword(d, "max_measurements")?,
            threshold: keyword(d, "threshold")?,
            max_samples: keyword(d, "max_samples")?,
            layers: keyword(d, "layers")?,
            constraints: keyword(d, "constraints")?.unwrap_or_default(),
            seed: keyword(d, "seed")?,
            design: keyword(d, "design")?,
            round_size: keyword(d, "round_size")?,
            stop: keyword(d, "stop")?,
            always_adapt: keyword(d, "always_adapt")?,
            max_failures: keyword(d, "max_failures")?,
            remeasure: keyword(d, "remeasure")?,
            stop_regret: keyword(d, "stop_regret")?,
            min_checks: keyword(d, "min_checks")?,
            adapt: AdaptKeywords {
                norm: keyword(d, "norm")?,
                form: keyword(d, "form")?,
                lambda: d.get_item("lambda_")?.filter(|v| !v.is_none()),
                folds: keyword(d, "folds")?,
                ensemble: keyword(d, "ensemble")?,
                combine: keyword(d, "combine")?,
            },
        })
    }
}

impl FlowKeywords<'_> {
    /// The library's default settings with the keywords given applied, checked.
    pub(crate) fn config(self, space: oneproxy::SpaceId) -> PyResult<NasConfig> {
        let d = NasConfig::default();
        let design = options::design(self.design.as_deref(), self.round_size, self.stop)?;
        let c = NasConfig {
            proxy: options::proxy_selection(self.proxy.as_deref(), self.pool)?,
            samples: options::sample_set(space, self.sample_set.as_deref(), self.samples, design)?,
            threshold: self.threshold.unwrap_or(d.threshold),
            max_samples: self.max_samples.unwrap_or(d.max_samples),
            max_measurements: self.max_measurements.or(d.max_measurements),
            layers: self.layers.unwrap_or(d.layers),
            constraints: self.constraints,
            adapt: self.adapt.apply(d.adapt.clone())?,
            seed: self.seed.unwrap_or(d.seed),
            design,
            reuse: self.always_adapt.map_or(d.reuse, |always| !always),
            max_failures: self.max_failures.unwrap_or(d.max_failures),
            remeasure: self.remeasure.as_deref().map_or(Ok(d.remeasure), Remeasure::named).or_py()?,
            stop_regret: self.stop_regret.or(d.stop_regret),
            confident_at: d.confident_at,
            min_checks: self.min_checks.unwrap_or(d.min_checks),
        };
        c.check().or_py()?;
        Ok(c)
    }
}

/// The flow's events for a Python callable `progress(event: dict)`: the library's
/// [`FlowEvent`]s (what the CLI's progress bar shows) with counts over the run. An exception of
/// the callable is kept in `failure`, which stops the flow before its next measurement; the
/// callable is not called again. In a fleet, each device has its own, which names its
/// `target` in every event.
pub(crate) struct Progress {
    callable: Option<Py<PyAny>>,
    target: Option<String>,
    failure: Failure,
    max_measurements: Option<usize>,
    measured: usize,
    failed: usize,
    requested: usize,
    stage: Stage,
}

impl Progress {
    /// Counts from zero; events go to `callable` (none: only counted) until `failure` is set.
    pub(crate) fn new(
        callable: Option<Py<PyAny>>,
        target: Option<String>,
        failure: Failure,
        max_measurements: Option<usize>,
    ) -> Self {
        Progress {
            callable,
            target,
            failure,
            max_measurements,
            measured: 0,
            failed: 0,
            requested: 0,
            stage: Stage::Samples,
        }
    }

    pub(crate) fn on(&mut self, event: &FlowEvent) {
        match event {
            FlowEvent::Measuring { stage, count } => {
                self.stage = *stage;
                self.requested = self.measured + self.failed + count;
            }
            FlowEvent::Measured { .. } => self.measured += 1,
            FlowEvent::Failed { .. } => self.failed += 1,
            FlowEvent::Decided { .. }
            | FlowEvent::Adapted { .. }
            | FlowEvent::Remeasuring { .. }
            | FlowEvent::Confident(_)
            | FlowEvent::Remeasured { .. } => {}
        }
        let Some(callable) = &self.callable else { return };
        if self.failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return;
        }
        Python::attach(|py| {
            if let Err(err) = self.call(py, callable, event) {
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
            }
        });
    }

    fn call(&self, py: Python<'_>, callable: &Py<PyAny>, event: &FlowEvent) -> PyResult<()> {
        let d = PyDict::new(py);
        let (kind, phase) = match event {
            FlowEvent::Measuring { .. } => ("measuring", self.stage.name()),
            FlowEvent::Measured { arch, latency_ms, .. } => {
                d.set_item("arch", arch)?;
                d.set_item("latency_ms", latency_ms)?;
                ("measured", self.stage.name())
            }
            FlowEvent::Failed { arch, .. } => {
                d.set_item("arch", arch)?;
                ("failed", self.stage.name())
            }
            FlowEvent::Decided { .. } => ("decided", "decision"),
            FlowEvent::Adapted { .. } => ("adapted", "adaptation"),
            FlowEvent::Remeasuring { .. } => ("remeasuring", "remeasure"),
            FlowEvent::Confident(_) => ("confident", "candidates"),
            FlowEvent::Remeasured { arch, latency_ms, .. } => {
                d.set_item("arch", arch)?;
                d.set_item("latency_ms", latency_ms)?;
                ("remeasured", "remeasure")
            }
        };
        d.set_item("event", kind)?;
        d.set_item("phase", phase)?;
        d.set_item("measured", self.measured)?;
        d.set_item("failed", self.failed)?;
        d.set_item("requested", self.requested)?;
        d.set_item("max_measurements", self.max_measurements)?;
        d.set_item("message", event.to_string())?;
        if let Some(target) = &self.target {
            d.set_item("target", target)?;
        }
        callable.bind(py).call1((d,))?;
        Ok(())
    }
}

/// Latencies of the target measured before (the keyword `measurements`) into its log, checked as
/// every Python latency input: the flow takes them as measured and does not ask for them again.
/// One that the log (`measurements_path`) holds with another value is refused.
fn record_known(py: Python<'_>, log: &mut MeasurementLog, archs: &[String], ms: &[f64]) -> PyResult<()> {
    let parsed = crate::convert::measurements(py, log.space(), "measurements", log.device(), archs, ms)?;
    for ((arch, &v), name) in parsed.iter().zip(ms).zip(archs) {
        match log.get(arch) {
            Some(old) if old != v => {
                return Err(PyValueError::new_err(format!(
                    "measurements: {name} is {v} ms but the log has {old} ms: give the log's value or leave it out"
                )))
            }
            Some(_) => {}
            None => {
                log.record(arch, &oneproxy::data::Answer::latency(v)).or_py()?;
            }
        }
    }
    Ok(())
}

/// Run the flow with `target(archs) -> latencies` as the device. Returns the outcome as JSON
/// (the fields of `oneproxy nas --json`) and every measurement in the log (arch, ms), resumed
/// ones included. On an error the measurements so far are on the exception (`measurements`)
/// and, with `measurements_path`, in that file. Every setting left `None` takes the library's
/// default (`defaults()["nas"]`). `progress(event: dict)` is called on each event of the flow
/// (an exception it raises stops the flow as one of `target` does). `measurements`, (archs, ms)
/// measured before, are taken as measured.
#[pyfunction]
#[pyo3(signature = (target, space="nb201", dataset=None, accuracy_file=None, target_name="target", proxy=None, pool=None, samples=None, sample_set=None, max_measurements=None, threshold=None, max_samples=None, layers=None, constraints=Vec::new(), seed=None, measurements_path=None, batch_size=Some(1), norm=None, form=None, lambda_=None, folds=None, ensemble=None, latency=Vec::new(), combine=None, design=None, round_size=None, stop=None, always_adapt=None, max_failures=None, progress=None, measurements=None, remeasure=None, stop_regret=None, min_checks=None))]
#[allow(clippy::too_many_arguments)]
pub fn nas(
    py: Python<'_>,
    target: Py<PyAny>,
    space: &str,
    dataset: Option<String>,
    accuracy_file: Option<crate::AccuracyArg>,
    target_name: &str,
    proxy: Option<String>,
    pool: Option<Vec<String>>,
    samples: Option<usize>,
    sample_set: Option<String>,
    max_measurements: Option<usize>,
    threshold: Option<f64>,
    max_samples: Option<usize>,
    layers: Option<usize>,
    constraints: Vec<f64>,
    seed: Option<u64>,
    measurements_path: Option<PathBuf>,
    batch_size: Option<usize>,
    norm: Option<String>,
    form: Option<String>,
    lambda_: Option<Bound<'_, PyAny>>,
    folds: Option<usize>,
    ensemble: Option<usize>,
    latency: Vec<PathBuf>,
    combine: Option<String>,
    design: Option<String>,
    round_size: Option<usize>,
    stop: Option<f64>,
    always_adapt: Option<bool>,
    max_failures: Option<usize>,
    progress: Option<Py<PyAny>>,
    measurements: Option<(Vec<String>, Vec<f64>)>,
    remeasure: Option<String>,
    stop_regret: Option<f64>,
    min_checks: Option<usize>,
) -> PyResult<(String, Vec<(String, f64)>)> {
    let id = parse_space(space)?;
    if !target.bind(py).is_callable() {
        return Err(PyValueError::new_err(
            "target must be a callable: measure(archs: list[str]) -> list[float] (ms per image)",
        ));
    }
    if progress.as_ref().is_some_and(|p| !p.bind(py).is_callable()) {
        return Err(PyValueError::new_err("progress must be a callable: progress(event) (or None)"));
    }
    if batch_size == Some(0) {
        return Err(PyValueError::new_err("batch_size must be at least 1 (or None: every request at once)"));
    }
    oneproxy::data::validate_device_name(target_name).or_py()?;
    let config = FlowKeywords {
        proxy,
        pool,
        samples,
        sample_set,
        max_measurements,
        threshold,
        max_samples,
        layers,
        constraints,
        seed,
        design,
        round_size,
        stop,
        always_adapt,
        max_failures,
        remeasure,
        stop_regret,
        min_checks,
        adapt: AdaptKeywords { norm, form, lambda: lambda_, folds, ensemble, combine },
    }
    .config(id)?;
    let table = crate::load_table(py, id, &latency)?;
    let acc = crate::load_accuracy(py, id, dataset, accuracy_file)?;
    let mut log = match &measurements_path {
        Some(p) => MeasurementLog::open(p, target_name, id, "python nas").or_py()?,
        None => MeasurementLog::in_memory(target_name, id),
    };
    if let Some((archs, ms)) = &measurements {
        record_known(py, &mut log, archs, ms)?;
    }
    let failure = Failure::default();
    let inner = Device::of(py, target_name, id, target, batch_size, failure.clone(), false)?;
    let mut progress = Progress::new(progress, None, failure.clone(), config.max_measurements);
    crate::warn_all(py, log.warnings())?;
    let mut oracle = Recorded::new(inner, log).or_py()?;
    let result = py.detach(|| Flow::new(&table, &acc).run(&mut oracle, &config, &mut |e| progress.on(&e)));
    let s = id.space();
    let measured: Vec<(String, f64)> =
        oracle.log().rows().into_iter().filter_map(|(a, v)| v.map(|v| (s.format(&a), v))).collect();
    let stored = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (result, stored) {
        (Ok(outcome), None) => {
            crate::warn_texts(py, outcome.warnings.iter().cloned())?;
            let json = serde_json::to_string(&outcome).map_err(|e| PyValueError::new_err(e.to_string()))?;
            Ok((json, measured))
        }
        (result, stored) => {
            let err = stored.unwrap_or_else(|| to_py(result.expect_err("an error when nothing is stored")));
            let note = measurements_path.map(|p| (measured.len(), p));
            stopped_with(py, err, measured_dict(py, &measured)?.into_any(), note)
        }
    }
}

/// `{arch: ms}` of measurements.
pub(crate) fn measured_dict<'py>(py: Python<'py>, measured: &[(String, f64)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (a, v) in measured {
        d.set_item(a, v)?;
    }
    Ok(d)
}

/// The exception that stopped a flow, with the measurements so far on it (`measurements`) and,
/// when they are in a file or folder, a note saying how many and where (a rerun resumes).
pub(crate) fn stopped_with<T>(
    py: Python<'_>,
    err: PyErr,
    so_far: Bound<'_, PyAny>,
    kept: Option<(usize, PathBuf)>,
) -> PyResult<T> {
    let value = err.value(py);
    let _ = value.setattr("measurements", so_far);
    if let Some((count, path)) = kept {
        if value.hasattr("add_note").unwrap_or(false) {
            let note = format!("{count} measurements so far are in {}; run again to resume", path.display());
            let _ = value.call_method1("add_note", (note,));
        }
    }
    Err(err)
}
