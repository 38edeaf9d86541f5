//! `oneproxy.fleet`: many targets, each measured by a Python callable, run as a fleet
//! ([`oneproxy::workflow::fleet`]): every device joins the pool of the devices that start after it.
//!
//! Each device's answers go through its own measurement log (in memory, or `<log_dir>/<target>.csv`
//! so that a rerun resumes every device where it stopped). The package's Ray helpers
//! (python/oneproxy/ray.py) turn actor handles into callables that wait on `ray.get`; here they
//! are callables like any other.
//!
//! Threads: the library runs every device on a thread of its own (and the flows' parallel steps
//! on a pool with a thread for every device measuring at once), and each device's callable
//! blocks (a device timing a model, a remote call) with the GIL released most of the time, so
//! 28 devices at once on 2 cores all measure at once. Threads that wait cost no core.

use crate::convert::{parse_space, to_py, OrPy};
use crate::nas::{measured_dict, stopped_with, FlowKeywords, Progress};
use crate::oracle::Failure;
use crate::target::Device;
use oneproxy::workflow::{run_fleet, FleetConfig, MeasurementLog, Recorded, TargetOracle};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every measurement a device's log holds, as (arch, ms).
type Measured = Vec<(String, f64)>;

/// A device's log: `<dir>/<target>.csv` (resumed when present), else in memory.
fn open_log(dir: Option<&Path>, target: &str, space: oneproxy::SpaceId) -> PyResult<MeasurementLog> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("creating {}: {e}", d.display())))?;
            MeasurementLog::open(&d.join(format!("{target}.csv")), target, space, "python fleet").or_py()
        }
        None => Ok(MeasurementLog::in_memory(target, space)),
    }
}

/// Wait for the fleet on the calling thread (Python's main one), checking for Ctrl-C as it goes:
/// the devices' threads are not the main thread, where Python sees signals. An interrupt is
/// stored as every device's failure, which stops each at its next call.
fn watch_signals<T>(fleet: &std::thread::ScopedJoinHandle<'_, T>, failures: &[Failure]) {
    while !fleet.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(50));
        Python::attach(|py| {
            if let Err(interrupt) = py.check_signals() {
                for f in failures {
                    f.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| interrupt.clone_ref(py));
                }
            }
        });
    }
}

/// Run the `targets` (name, `measure(archs) -> latencies`) as a fleet in that arrival order.
/// The initial pool is the table without the targets' names (as `oneproxy evaluate fleet`'s),
/// so a target named as a bundled device is not measured twice over. Returns the fleet's
/// outcome as JSON (the library's `FleetOutcome`) and every device's measurements, in arrival
/// order. On an error, the first failed device's Python exception (else the library's error)
/// is raised with every device's measurements so far on it (`measurements`, by target).
/// `progress(event: dict)` is called on each event of each device, the dict naming its `target`;
/// `flow` holds the flow's keywords, as `nas` names them (each device runs with them).
#[pyfunction]
#[pyo3(signature = (targets, space="nb201", dataset=None, accuracy_file=None, concurrency=None, join=true, join_regret=None, log_dir=None, batch_size=Some(1), latency=Vec::new(), progress=None, flow=None))]
#[allow(clippy::too_many_arguments)]
pub fn fleet(
    py: Python<'_>,
    targets: Vec<(String, Py<PyAny>)>,
    space: &str,
    dataset: Option<String>,
    accuracy_file: Option<crate::AccuracyArg>,
    concurrency: Option<usize>,
    join: bool,
    join_regret: Option<f64>,
    log_dir: Option<PathBuf>,
    batch_size: Option<usize>,
    latency: Vec<PathBuf>,
    progress: Option<Py<PyAny>>,
    flow: Option<Bound<'_, PyDict>>,
) -> PyResult<(String, Vec<Measured>)> {
    let id = parse_space(space)?;
    for (name, measure) in &targets {
        oneproxy::data::validate_device_name(name).or_py()?;
        if !measure.bind(py).is_callable() {
            return Err(PyValueError::new_err(format!(
                "target '{name}' must be a callable measure(archs: list[str]) -> list[float] (ms per image)"
            )));
        }
    }
    if progress.as_ref().is_some_and(|p| !p.bind(py).is_callable()) {
        return Err(PyValueError::new_err("progress must be a callable: progress(event) (or None)"));
    }
    if batch_size == Some(0) {
        return Err(PyValueError::new_err("batch_size must be at least 1 (or None: every request at once)"));
    }
    let flow = flow.unwrap_or_else(|| PyDict::new(py));
    let nas = FlowKeywords::from_dict(&flow)?.config(id)?;
    let d = FleetConfig::default();
    let config = FleetConfig { nas, concurrency: concurrency.unwrap_or(d.concurrency), join, join_regret };
    config.check().or_py()?;
    let table = crate::load_table(py, id, &latency)?;
    let acc = crate::load_accuracy(py, id, dataset, accuracy_file)?;
    let names: Vec<String> = targets.iter().map(|(n, _)| n.clone()).collect();
    let initial = table.without_devices(&names);
    let failures: Vec<Failure> = targets.iter().map(|_| Failure::default()).collect();
    let mut oracles = Vec::with_capacity(targets.len());
    for ((name, measure), failure) in targets.into_iter().zip(&failures) {
        let log = open_log(log_dir.as_deref(), &name, id)?;
        crate::warn_all(py, log.warnings())?;
        let inner = Device::of(py, &name, id, measure, batch_size, failure.clone(), true)?;
        oracles.push(Recorded::new(inner, log).or_py()?);
    }
    let progresses: Vec<Mutex<Progress>> = names
        .iter()
        .zip(&failures)
        .map(|(n, f)| {
            let callable = progress.as_ref().map(|p| p.clone_ref(py));
            Mutex::new(Progress::new(callable, Some(n.clone()), f.clone(), config.nas.max_measurements))
        })
        .collect();
    let result = py.detach(|| {
        let mut refs: Vec<&mut (dyn TargetOracle + Send)> =
            oracles.iter_mut().map(|o| o as &mut (dyn TargetOracle + Send)).collect();
        std::thread::scope(|scope| {
            let fleet = scope.spawn(|| {
                run_fleet(&initial, &acc, &mut refs, &config, &|arrival, e| {
                    progresses[arrival].lock().unwrap_or_else(|e| e.into_inner()).on(&e)
                })
            });
            watch_signals(&fleet, &failures);
            fleet.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    });
    let s = id.space();
    let measured: Vec<Measured> = oracles
        .iter()
        .map(|o| o.log().rows().into_iter().filter_map(|(a, v)| v.map(|v| (s.format(&a), v))).collect())
        .collect();
    let stored = failures.iter().find_map(|f| f.lock().unwrap_or_else(|e| e.into_inner()).take());
    match (result, stored) {
        (Ok(outcome), None) => {
            for d in &outcome.devices {
                let target = &d.outcome.target;
                crate::warn_texts(py, d.outcome.warnings.iter().map(|w| format!("target '{target}': {w}")))?;
            }
            let json = serde_json::to_string(&outcome).map_err(|e| PyValueError::new_err(e.to_string()))?;
            Ok((json, measured))
        }
        (result, stored) => {
            let err = stored.unwrap_or_else(|| to_py(result.expect_err("an error when nothing is stored")));
            let so_far = PyDict::new(py);
            for (name, rows) in names.iter().zip(&measured) {
                so_far.set_item(name, measured_dict(py, rows)?)?;
            }
            let kept = log_dir.map(|d| (measured.iter().map(Vec::len).sum(), d));
            stopped_with(py, err, so_far.into_any(), kept)
        }
    }
}
