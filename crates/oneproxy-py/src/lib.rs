//! `oneproxy._native`: the library's calls for Python. The package `oneproxy` (python/oneproxy)
//! re-exports them and turns tables into pandas DataFrames where asked.
//!
//! Every function here configures library calls, as the CLI's subcommands do, and converts
//! values; none re-implements a flow. Long calls run with the GIL released. Library errors
//! become `ValueError` (bad input), `OSError` (files) or `RuntimeError` (engines, solvers), with
//! the library's message and its causes, as the CLI prints them.

mod builder;
mod convert;
mod fleet;
mod nas;
mod options;
mod oracle;
mod predictor;
mod target;

use convert::{f64_array, f64_matrix, parse_archs, parse_space, OrPy};
use oneproxy::data::AccuracySource;
use oneproxy::data::DeviceSource;
use oneproxy::search::EvolutionParams;
use oneproxy::search::{search as search_front, LatencySource, Method};
use oneproxy::stats::{correlation_matrix_with, Metric};
use oneproxy::{AccuracyTable, LatencyTable, SpaceId};
use predictor::Predictor;
use pyo3::exceptions::{PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A user's table from Python: architecture strings, device names, and the values row-major
/// as float64 bytes (NaN where a device did not measure an architecture).
type UserTable<'py> = (Vec<String>, Vec<String>, Bound<'py, PyBytes>);

/// Issue each plausibility warning as a Python `UserWarning`.
pub(crate) fn warn_all(py: Python<'_>, warnings: &[oneproxy::data::Warning]) -> PyResult<()> {
    warn_texts(py, warnings.iter().map(ToString::to_string))
}

/// Each text as a Python `UserWarning`.
pub(crate) fn warn_texts(py: Python<'_>, texts: impl IntoIterator<Item = String>) -> PyResult<()> {
    for t in texts {
        let text = std::ffi::CString::new(t.replace('\0', " ")).expect("NULs replaced");
        PyErr::warn(py, &py.get_type::<PyUserWarning>(), &text, 2)?;
    }
    Ok(())
}

/// Bundled tables (with the computed `flops` and `params` devices), built once per space:
/// building one costs about as much as a whole correlation matrix.
static BUNDLED: Mutex<Vec<(SpaceId, Arc<LatencyTable>)>> = Mutex::new(Vec::new());

/// The bundled table of `space` plus the user's latency CSV files, read on every call.
pub(crate) fn table_with(py: Python<'_>, space: SpaceId, latency: &[PathBuf]) -> PyResult<Arc<LatencyTable>> {
    let cached =
        || BUNDLED.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(s, _)| *s == space).map(|(_, t)| t.clone());
    if latency.is_empty() {
        if let Some(t) = cached() {
            return Ok(t);
        }
    }
    let table = Arc::new(py.detach(|| LatencyTable::bundled_with(space, latency)).or_py()?);
    warn_all(py, table.warnings())?;
    if latency.is_empty() {
        BUNDLED.lock().unwrap_or_else(|e| e.into_inner()).push((space, table.clone()));
    }
    Ok(table)
}

/// [`table_with`], refusing a space without latency data (the CLI's `--latency`).
fn load_table(py: Python<'_>, space: SpaceId, latency: &[PathBuf]) -> PyResult<Arc<LatencyTable>> {
    let table = table_with(py, space, latency)?;
    if table.devices().is_empty() {
        return Err(PyValueError::new_err(format!(
            "space {space} has no bundled latency data: measure architectures on your devices and pass the CSV files with latency=[...]"
        )));
    }
    Ok(table)
}

/// A table built from a user's arrays (devices named by `devices`, values row-major). Each
/// device's measured cells pass the checks of every Python latency input
/// ([`convert::check_measurements`]).
fn user_table(py: Python<'_>, space: SpaceId, (archs, devices, values): &UserTable<'_>) -> PyResult<LatencyTable> {
    let bytes = values.as_bytes();
    let (rows, cols) = (archs.len(), devices.len());
    if bytes.len() != rows * cols * 8 {
        return Err(PyValueError::new_err(format!(
            "the table has {rows} architectures and {cols} devices but {} values",
            bytes.len() / 8
        )));
    }
    let parsed = parse_archs(space, archs)?;
    let value = |r: usize, c: usize| {
        let i = (r * cols + c) * 8;
        f64::from_ne_bytes(bytes[i..i + 8].try_into().expect("8 bytes"))
    };
    convert::check_unique("table", archs.iter().map(String::as_str).zip(&parsed))?;
    let mut table = LatencyTable::new(space);
    for a in &parsed {
        table.ensure_row(a);
    }
    for (c, name) in devices.iter().enumerate() {
        let entries: Vec<(&str, &oneproxy::Arch, f64)> = (0..rows)
            .filter(|&r| !value(r, c).is_nan())
            .map(|r| (archs[r].as_str(), &parsed[r], value(r, c)))
            .collect();
        // Rows were checked once above: this checks the values.
        convert::check_measurements(py, "table", name, &entries)?;
        let column =
            parsed.iter().enumerate().filter(|&(r, _)| !value(r, c).is_nan()).map(|(r, a)| (a.clone(), value(r, c)));
        table.add_device(name, DeviceSource::File(PathBuf::from("(table from Python)")), column).or_py()?;
    }
    Ok(table)
}

/// Where accuracies come from besides a bundled dataset: a CSV file, or the values of the
/// user's own accuracy function (its name, the architectures it was given, what it returned),
/// which the Python wrapper calls on the space's candidates.
#[derive(FromPyObject)]
pub enum AccuracyArg {
    Values(String, Vec<String>, Vec<f64>),
    File(PathBuf),
}

/// The accuracy table named `dataset` (bundled), read from a file or given as values (checked as
/// a file's are: architectures of the space, percentages, no repeats).
fn load_accuracy(
    py: Python<'_>,
    space: SpaceId,
    dataset: Option<String>,
    file: Option<AccuracyArg>,
) -> PyResult<AccuracyTable> {
    let source = match (dataset, file) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err("give either a bundled accuracy dataset or an accuracy file, not both"))
        }
        (_, Some(AccuracyArg::Values(name, archs, values))) => {
            return accuracy_from_values(space, &name, &archs, &values)
        }
        (_, Some(AccuracyArg::File(f))) => AccuracySource::File(f),
        (d, None) => d.map_or_else(AccuracySource::default, AccuracySource::Bundled),
    };
    let table = py.detach(|| source.load(space)).or_py()?;
    warn_all(py, table.warnings())?;
    Ok(table)
}

/// The accuracy table of what the user's function `name` returned for `archs`: an error names
/// the function and the first architecture at fault.
fn accuracy_from_values(space: SpaceId, name: &str, archs: &[String], values: &[f64]) -> PyResult<AccuracyTable> {
    if archs.len() != values.len() {
        return Err(PyValueError::new_err(format!(
            "the accuracy function {name} returned {} values for {} architectures",
            values.len(),
            archs.len()
        )));
    }
    let parsed = convert::parse_archs(space, archs)?;
    AccuracyTable::from_values(name, space.space(), parsed.into_iter().zip(values.iter().copied())).or_py()
}

/// Devices of a space: (name, architectures measured, source, simulated), the rows of the
/// CLI's `devices --json`.
#[pyfunction]
#[pyo3(signature = (space="nb201", latency=Vec::new()))]
fn devices(py: Python<'_>, space: &str, latency: Vec<PathBuf>) -> PyResult<Vec<(String, usize, String, bool)>> {
    let table = load_table(py, parse_space(space)?, &latency)?;
    Ok(table
        .devices()
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.clone(), table.measured_count(i), d.source.to_string(), table.simulated(i)))
        .collect())
}

/// The latency table: (architectures, devices, matrix architectures x devices, NaN = missing);
/// every measured device by default (the pseudo-devices `flops` and `params` when named).
#[pyfunction]
#[pyo3(signature = (space="nb201", devices=None, latency=Vec::new()))]
fn latency_table<'py>(
    py: Python<'py>,
    space: &str,
    devices: Option<Vec<String>>,
    latency: Vec<PathBuf>,
) -> PyResult<(Vec<String>, Vec<String>, Bound<'py, PyAny>)> {
    let id = parse_space(space)?;
    let table = load_table(py, id, &latency)?;
    let names = devices.unwrap_or_else(|| table.measured_device_names());
    let cols: Vec<usize> = names.iter().map(|d| table.device_index(d)).collect::<Result<_, _>>().or_py()?;
    let mut values = Vec::with_capacity(table.len() * cols.len());
    for r in 0..table.len() {
        values.extend(cols.iter().map(|&c| table.column(c)[r]));
    }
    let s = id.space();
    let archs = table.archs().iter().map(|a| s.format(a)).collect();
    Ok((archs, names, f64_matrix(py, &values, table.len(), cols.len())?))
}

/// An accuracy table: (architectures, accuracies in %).
#[pyfunction]
#[pyo3(signature = (space="nb201", dataset=None, file=None))]
fn accuracy_table<'py>(
    py: Python<'py>,
    space: &str,
    dataset: Option<String>,
    file: Option<PathBuf>,
) -> PyResult<(Vec<String>, Bound<'py, PyAny>)> {
    let id = parse_space(space)?;
    let table = load_accuracy(py, id, dataset, file.map(AccuracyArg::File))?;
    let archs = table.archs();
    let values: Vec<f64> = archs.iter().map(|a| table.get(a).expect("listed by the table")).collect();
    let s = id.space();
    Ok((archs.iter().map(|a| s.format(a)).collect(), f64_array(py, &values)?))
}

/// The device correlation matrix (bundled table plus files, or a user's table).
#[pyfunction]
#[pyo3(signature = (space="nb201", devices=Vec::new(), metric=None, min_overlap=None, latency=Vec::new(), table=None))]
fn monotonicity<'py>(
    py: Python<'py>,
    space: &str,
    devices: Vec<String>,
    metric: Option<&str>,
    min_overlap: Option<usize>,
    latency: Vec<PathBuf>,
    table: Option<UserTable<'py>>,
) -> PyResult<Bound<'py, PyDict>> {
    let id = parse_space(space)?;
    let metric = match metric {
        None => Metric::default(),
        Some(name) => options::metric(name)?,
    };
    let min_overlap = min_overlap.unwrap_or(oneproxy::stats::MIN_OVERLAP);
    let table = match &table {
        Some(t) => Arc::new(user_table(py, id, t)?),
        None => load_table(py, id, &latency)?,
    };
    let m = py.detach(|| correlation_matrix_with(&*table, &devices, metric, min_overlap)).or_py()?;
    let n = m.devices.len();
    let flat: Vec<f64> = m.matrix.iter().flatten().copied().collect();
    let out = PyDict::new(py);
    out.set_item("metric", metric.name())?;
    out.set_item("devices", &m.devices)?;
    out.set_item("matrix", f64_matrix(py, &flat, n, n)?)?;
    out.set_item("overlaps", &m.overlaps)?;
    out.set_item("min_overlap", m.min_overlap)?;
    // The proxy every front end recommends, as the CLI's JSON has it (criterion included).
    let rec = oneproxy::predictor::recommend_default(&m, id, &[]).map(|r| -> PyResult<_> {
        let text = serde_json::to_string(&r).map_err(|e| PyValueError::new_err(e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    });
    out.set_item("recommended_proxy", rec.transpose()?)?;
    out.set_item("not_comparable", m.unrankable())?;
    Ok(out)
}

/// Which architectures a new device should measure: (proxy, architectures).
#[pyfunction]
#[pyo3(signature = (space="nb201", budget=10, proxy=None, seed=0, latency=Vec::new()))]
fn plan(
    py: Python<'_>,
    space: &str,
    budget: usize,
    proxy: Option<String>,
    seed: u64,
    latency: Vec<PathBuf>,
) -> PyResult<(String, Vec<String>)> {
    let id = parse_space(space)?;
    let table = load_table(py, id, &latency)?;
    let planned = py.detach(|| oneproxy::plan::plan_for_table(&table, proxy.as_deref(), budget, seed)).or_py()?;
    let s = id.space();
    Ok((planned.proxy, planned.archs.iter().map(|a| s.format(a)).collect()))
}

/// The Pareto front of accuracy against a device's or a predictor's latency. Returns a dict with
/// `method`, `evaluated`, `latency_source`, `front` and `picks` (lists of (arch, latency,
/// accuracy), a pick `None` where nothing fits).
#[pyfunction]
#[pyo3(signature = (space="nb201", device=None, predictor=None, dataset=None, accuracy_file=None, constraints=Vec::new(), method=None, population=None, generations=None, seed=None, latency=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn search<'py>(
    py: Python<'py>,
    space: &str,
    device: Option<String>,
    predictor: Option<PyRef<'py, Predictor>>,
    dataset: Option<String>,
    accuracy_file: Option<AccuracyArg>,
    constraints: Vec<f64>,
    method: Option<&str>,
    population: Option<usize>,
    generations: Option<usize>,
    seed: Option<u64>,
    latency: Vec<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let id = parse_space(space)?;
    let from_file = accuracy_file.is_some();
    let acc = load_accuracy(py, id, dataset, accuracy_file)?;
    let table = match &predictor {
        Some(p) if p.inner().space() != id => {
            return Err(PyValueError::new_err(format!("the predictor is for space {}, not {id}", p.inner().space())))
        }
        Some(p) => p.table_for(py, &latency)?,
        None => load_table(py, id, &latency)?,
    };
    let d = EvolutionParams::default();
    let evolution = EvolutionParams {
        population: population.unwrap_or(d.population),
        generations: generations.unwrap_or(d.generations),
        seed: seed.unwrap_or(d.seed),
        ..d
    };
    let mut method = Method::named(method.unwrap_or(Method::default().name()), evolution).or_py()?;
    // Accuracies from a file or a function cover only their architectures: evolution would
    // wander outside them.
    if matches!(method, Method::Evolution(_)) && from_file {
        let msg = c"accuracies from a file or an accuracy function cover only their architectures: searching them exhaustively instead of by evolution";
        PyErr::warn(py, &py.get_type::<PyUserWarning>(), msg, 2)?;
        method = Method::Exhaustive;
    }
    let candidates = acc.archs();
    let (found, source) = match (&device, &predictor) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err("give the latency as a device name or a predictor, not both"))
        }
        (Some(d), None) => {
            let src = LatencySource::device(&table, d).or_py()?;
            let found =
                py.detach(|| search_front(&src, &acc, &candidates, &method, &constraints, |_, _| {})).or_py()?;
            (found, format!("device {d} (measured)"))
        }
        (None, Some(p)) => {
            let inner = p.inner();
            let found = py
                .detach(|| {
                    let src = LatencySource::predicted(inner, &table, &candidates)?;
                    search_front(&src, &acc, &candidates, &method, &constraints, |_, _| {})
                })
                .or_py()?;
            (
                found,
                format!(
                    "predictor of {}",
                    if inner.device().is_empty() { "an unnamed device" } else { inner.device() }
                ),
            )
        }
        (None, None) => return Err(PyValueError::new_err("give the latency as a device name or a predictor")),
    };
    if found.points.is_empty() {
        return Err(PyValueError::new_err(format!(
            "no architecture has both a latency ({source}) and an accuracy ({})",
            acc.name()
        )));
    }
    let s = id.space();
    let row = |i: usize| {
        let p = &found.points[i];
        (s.format(&p.arch), p.latency, p.accuracy)
    };
    let out = PyDict::new(py);
    out.set_item("method", method.name())?;
    out.set_item("evaluated", found.evaluated)?;
    out.set_item("latency_source", source)?;
    out.set_item("accuracy", acc.name())?;
    out.set_item("front", found.front.iter().map(|&i| row(i)).collect::<Vec<_>>())?;
    let picks = PyList::empty(py);
    for (c, p) in constraints.iter().zip(&found.picks) {
        picks.append((c, p.map(row)))?;
    }
    out.set_item("picks", picks)?;
    Ok(out)
}

/// An architecture as an ONNX model, written atomically to `path`; returns the model's size. An
/// existing file that oneproxy did not write is replaced only with `overwrite`. The model is
/// oneproxy's export of a built-in space's network, or what `builder` (a Python callable, see
/// [`builder`]) or `builder_cmd` builds, which serves declared spaces too.
#[pyfunction]
#[pyo3(signature = (space, arch, path, batch=1, seed=0, overwrite=false, builder=None, input_shape=None, builder_cmd=None, builder_timeout=None))]
#[allow(clippy::too_many_arguments)]
fn export_onnx(
    py: Python<'_>,
    space: &str,
    arch: &str,
    path: PathBuf,
    batch: usize,
    seed: u64,
    overwrite: bool,
    builder: Option<Py<PyAny>>,
    input_shape: Option<Vec<usize>>,
    builder_cmd: Option<String>,
    builder_timeout: Option<f64>,
) -> PyResult<usize> {
    use oneproxy::measure::builder::{CommandBuilder, ModelBuilder};
    let id = parse_space(space)?;
    if batch == 0 {
        return Err(PyValueError::new_err("the batch size must be at least 1"));
    }
    if input_shape.is_some() && builder.is_none() {
        return Err(PyValueError::new_err("input_shape= is the input of the torch modules a Python builder= returns"));
    }
    if builder_timeout.is_some() && builder_cmd.is_none() {
        return Err(PyValueError::new_err(
            "builder_timeout= bounds a builder_cmd= command; a Python builder runs in this process",
        ));
    }
    let bytes = match (builder, builder_cmd) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err("give builder= (a Python callable) or builder_cmd=, not both"))
        }
        (Some(callable), None) => {
            let arch = id.space().parse(arch).or_py()?;
            let mut b = builder::PyBuilder::new(py, callable, id, input_shape)?;
            match b.build(&arch, batch) {
                Ok(model) => model.bytes,
                Err(e) => {
                    let kept = b.raised().lock().unwrap_or_else(|e| e.into_inner()).take();
                    return Err(match kept {
                        Some(err)
                            if err.is_instance_of::<PyValueError>(py)
                                && err.value(py).to_string().contains(&b.label()) =>
                        {
                            err
                        }
                        Some(err) => {
                            builder::note_arch(py, &err, &id.space().format(&arch), &b.label());
                            err
                        }
                        None => convert::to_py(e),
                    });
                }
            }
        }
        (None, Some(cmd)) => {
            let arch = id.space().parse(arch).or_py()?;
            let mut c = CommandBuilder::new(&cmd, id).or_py()?;
            if let Some(t) = builder_timeout {
                let limit =
                    std::time::Duration::try_from_secs_f64(t).ok().filter(|d| !d.is_zero()).ok_or_else(|| {
                        PyValueError::new_err(format!("builder_timeout= must be a positive number of seconds, got {t}"))
                    })?;
                c = c.timeout(limit).or_py()?;
            }
            // The builder's private folder goes next to the file, as the CLI's export puts it.
            if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
                c = c.in_dir(dir);
            }
            py.detach(|| c.build(&arch, batch)).or_py()?.bytes
        }
        (None, None) => {
            id.require_network("exporting a model").map_err(|e| {
                PyValueError::new_err(format!(
                    "{e}: give builder= (a Python callable builder(arch, batch) returning the ONNX model) or \
                     builder_cmd='python build.py {{arch}} {{out}}'"
                ))
            })?;
            let arch = id.space().parse(arch).or_py()?;
            py.detach(|| oneproxy::onnx::export(id, &arch, batch, seed))
        }
    };
    py.detach(|| oneproxy::output::Outputs::new(overwrite).write(&path, &bytes).map(|()| bytes.len())).or_py()
}

/// Multiply-adds and parameters of an architecture, per image: (flops, params).
#[pyfunction]
fn flops(space: &str, arch: &str) -> PyResult<(u64, u64)> {
    let id = parse_space(space)?;
    id.require_network("FLOPs and parameters").or_py()?;
    let arch = id.space().parse(arch).or_py()?;
    let cost = id.cost(&arch);
    Ok((cost.flops, cost.params))
}

/// Every architecture of a space that can be enumerated (NB201: 15,625), else the bundled ones.
#[pyfunction]
#[pyo3(signature = (space="nb201"))]
fn architectures(py: Python<'_>, space: &str) -> PyResult<Vec<String>> {
    let id = parse_space(space)?;
    let archs = match id.space().enumerate() {
        Some(all) => all,
        None => py.detach(|| oneproxy::data::bundle(id)).or_py()?.archs.clone(),
    };
    let s = id.space();
    Ok(archs.iter().map(|a| s.format(a)).collect())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Library messages name parameters as Python's keywords (`max_time` as `max_time=`).
    oneproxy::error::set_param_spelling(options::spell_param);
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    m.add_function(wrap_pyfunction!(latency_table, m)?)?;
    m.add_function(wrap_pyfunction!(accuracy_table, m)?)?;
    m.add_function(wrap_pyfunction!(monotonicity, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(search, m)?)?;
    m.add_function(wrap_pyfunction!(export_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(flops, m)?)?;
    m.add_function(wrap_pyfunction!(architectures, m)?)?;
    m.add_function(wrap_pyfunction!(predictor::adapt, m)?)?;
    m.add_function(wrap_pyfunction!(nas::nas, m)?)?;
    m.add_function(wrap_pyfunction!(fleet::fleet, m)?)?;
    m.add_function(wrap_pyfunction!(options::defaults, m)?)?;
    m.add_class::<Predictor>()?;
    m.add_class::<target::OnnxTarget>()?;
    Ok(())
}
