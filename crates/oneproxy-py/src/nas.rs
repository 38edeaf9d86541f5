//! `oneproxy.nas`: the one-proxy NAS flow on the user's device, measured by a Python callable,
//! with every measurement logged (in memory, or to `measurements_path` so that a rerun resumes).

use crate::convert::{parse_space, to_py, OrPy};
use crate::oracle::{Failure, PyOracle};
use crate::predictor::{adapt_params, proxy_selection};
use oneproxy::workflow::{Flow, MeasurementLog, NasConfig, Recorded, SampleSet};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// The flow's settings from the keyword arguments (the CLI's `nas` flags).
#[allow(clippy::too_many_arguments)]
fn config(
    py: Python<'_>,
    space: oneproxy::SpaceId,
    proxy: &str,
    pool: Option<Vec<String>>,
    samples: usize,
    sample_set: &str,
    max_measurements: Option<usize>,
    threshold: f64,
    max_samples: usize,
    layers: usize,
    constraints: Vec<f64>,
    seed: u64,
    adapt: (&str, &str, Option<Bound<'_, PyAny>>, usize, usize),
) -> PyResult<NasConfig> {
    let (norm, form, lambda, folds, ensemble) = adapt;
    let auto = pyo3::types::PyString::new(py, "auto").into_any();
    let mut c = NasConfig::default();
    c.proxy = proxy_selection(proxy, pool)?;
    c.samples = match sample_set {
        "random" => SampleSet::Random(samples),
        "plan" => SampleSet::Plan(samples),
        "help10" => SampleSet::help10(space).or_py()?,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown sample set '{other}'; known sample sets: random, plan, help10"
            )))
        }
    };
    c.max_measurements = max_measurements;
    c.threshold = threshold;
    c.max_samples = max_samples;
    c.layers = layers;
    c.constraints = constraints;
    c.seed = seed;
    c.adapt = adapt_params(norm, form, lambda.as_ref().unwrap_or(&auto), folds, ensemble, c.adapt.combination)?;
    c.check().or_py()?;
    Ok(c)
}

/// Run the flow with `target(archs) -> latencies` as the device. Returns the outcome as JSON
/// (the fields of `oneproxy nas --json`) and every measurement in the log (arch, ms), resumed
/// ones included. On an error the measurements so far are on the exception (`measurements`)
/// and, with `measurements_path`, in that file.
#[pyfunction]
#[pyo3(signature = (target, space="nb201", dataset=None, accuracy_file=None, target_name="target", proxy="auto", pool=None, samples=10, sample_set="random", max_measurements=None, threshold=0.9, max_samples=30, layers=2, constraints=Vec::new(), seed=0, measurements_path=None, batch_size=Some(1), norm="ridge", form="auto", lambda_=None, folds=0, ensemble=3, latency=Vec::new()))]
#[allow(clippy::too_many_arguments)]
pub fn nas(
    py: Python<'_>,
    target: Py<PyAny>,
    space: &str,
    dataset: Option<String>,
    accuracy_file: Option<PathBuf>,
    target_name: &str,
    proxy: &str,
    pool: Option<Vec<String>>,
    samples: usize,
    sample_set: &str,
    max_measurements: Option<usize>,
    threshold: f64,
    max_samples: usize,
    layers: usize,
    constraints: Vec<f64>,
    seed: u64,
    measurements_path: Option<PathBuf>,
    batch_size: Option<usize>,
    norm: &str,
    form: &str,
    lambda_: Option<Bound<'_, PyAny>>,
    folds: usize,
    ensemble: usize,
    latency: Vec<PathBuf>,
) -> PyResult<(String, Vec<(String, f64)>)> {
    let id = parse_space(space)?;
    if !target.bind(py).is_callable() {
        return Err(PyValueError::new_err(
            "target must be a callable: measure(archs: list[str]) -> list[float] (ms per image)",
        ));
    }
    if batch_size == Some(0) {
        return Err(PyValueError::new_err("batch_size must be at least 1 (or None: every request at once)"));
    }
    oneproxy::data::validate_device_name(target_name).or_py()?;
    let config = config(
        py,
        id,
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
        (norm, form, lambda_, folds, ensemble),
    )?;
    let table = crate::load_table(py, id, &latency)?;
    let acc = crate::load_accuracy(py, id, dataset, accuracy_file)?;
    let log = match &measurements_path {
        Some(p) => MeasurementLog::open(p, target_name, id, "python nas").or_py()?,
        None => MeasurementLog::in_memory(target_name, id),
    };
    let failure = Failure::default();
    let inner = PyOracle {
        device: target_name.to_string(),
        space: id,
        callable: target,
        batch: batch_size,
        failure: failure.clone(),
    };
    crate::warn_all(py, log.warnings())?;
    let mut oracle = Recorded::new(inner, log).or_py()?;
    let result = py.detach(|| Flow::new(&table, &acc).run(&mut oracle, &config, &mut |_| {}));
    let s = id.space();
    let measured: Vec<(String, f64)> =
        oracle.log().rows().into_iter().filter_map(|(a, v)| v.map(|v| (s.format(&a), v))).collect();
    let stored = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (result, stored) {
        (Ok(outcome), _) => {
            crate::warn_texts(py, outcome.warnings.iter().cloned())?;
            let json = serde_json::to_string(&outcome).map_err(|e| PyValueError::new_err(e.to_string()))?;
            Ok((json, measured))
        }
        (Err(e), stored) => {
            let err = stored.unwrap_or_else(|| to_py(e));
            let value = err.value(py);
            let so_far = PyDict::new(py);
            for (a, v) in &measured {
                so_far.set_item(a, v)?;
            }
            let _ = value.setattr("measurements", so_far);
            if let Some(p) = &measurements_path {
                if value.hasattr("add_note").unwrap_or(false) {
                    let note =
                        format!("{} measurements so far are in {}; run again to resume", measured.len(), p.display());
                    let _ = value.call_method1("add_note", (note,));
                }
            }
            Err(err)
        }
    }
}
