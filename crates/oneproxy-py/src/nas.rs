//! `oneproxy.nas`: the one-proxy NAS flow on the user's device, measured by a Python callable,
//! with every measurement logged (in memory, or to `measurements_path` so that a rerun resumes).

use crate::convert::{parse_space, to_py, OrPy};
use crate::options::{self, AdaptKeywords};
use crate::oracle::{Failure, PyOracle};
use oneproxy::workflow::{Flow, MeasurementLog, NasConfig, Recorded};
use pyo3::exceptions::PyValueError;
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
    pub adapt: AdaptKeywords<'py>,
}

impl FlowKeywords<'_> {
    /// The library's default settings with the keywords given applied, checked.
    fn config(self, space: oneproxy::SpaceId) -> PyResult<NasConfig> {
        let d = NasConfig::default();
        let c = NasConfig {
            proxy: options::proxy_selection(self.proxy.as_deref(), self.pool)?,
            samples: options::sample_set(space, self.sample_set.as_deref(), self.samples)?,
            threshold: self.threshold.unwrap_or(d.threshold),
            max_samples: self.max_samples.unwrap_or(d.max_samples),
            max_measurements: self.max_measurements.or(d.max_measurements),
            layers: self.layers.unwrap_or(d.layers),
            constraints: self.constraints,
            adapt: self.adapt.apply(d.adapt.clone())?,
            seed: self.seed.unwrap_or(d.seed),
            design: options::design(self.design.as_deref(), self.round_size, self.stop)?,
            reuse: self.always_adapt.map_or(d.reuse, |always| !always),
            max_failures: self.max_failures.unwrap_or(d.max_failures),
        };
        c.check().or_py()?;
        Ok(c)
    }
}

/// Run the flow with `target(archs) -> latencies` as the device. Returns the outcome as JSON
/// (the fields of `oneproxy nas --json`) and every measurement in the log (arch, ms), resumed
/// ones included. On an error the measurements so far are on the exception (`measurements`)
/// and, with `measurements_path`, in that file. Every setting left `None` takes the library's
/// default (`defaults()["nas"]`).
#[pyfunction]
#[pyo3(signature = (target, space="nb201", dataset=None, accuracy_file=None, target_name="target", proxy=None, pool=None, samples=None, sample_set=None, max_measurements=None, threshold=None, max_samples=None, layers=None, constraints=Vec::new(), seed=None, measurements_path=None, batch_size=Some(1), norm=None, form=None, lambda_=None, folds=None, ensemble=None, latency=Vec::new(), combine=None, design=None, round_size=None, stop=None, always_adapt=None, max_failures=None))]
#[allow(clippy::too_many_arguments)]
pub fn nas(
    py: Python<'_>,
    target: Py<PyAny>,
    space: &str,
    dataset: Option<String>,
    accuracy_file: Option<PathBuf>,
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
        adapt: AdaptKeywords { norm, form, lambda: lambda_, folds, ensemble, combine },
    }
    .config(id)?;
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
