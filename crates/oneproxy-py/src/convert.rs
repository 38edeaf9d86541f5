//! Conversions between the library's values and Python's: errors, spaces, architectures, arrays.

use oneproxy::error::Origin;
use oneproxy::{Arch, Error, SpaceId};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

/// The message of an error with its causes, as the CLI prints it (`{:#}`: "message: cause").
pub fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The Python exception of a library error: `OSError` for files, `RuntimeError` for engines
/// and solvers, `ValueError` for everything the caller gave.
pub fn to_py(e: Error) -> PyErr {
    let text = message(&e);
    // An error with context is of the class of the error it wraps.
    let mut inner = &e;
    while let Error::Context { inner: wrapped, .. } = inner {
        inner = wrapped;
    }
    match inner {
        Error::Io { .. } | Error::Refused { .. } | Error::Locked { .. } => PyOSError::new_err(text),
        Error::Engine(_)
        | Error::EngineLost(_)
        | Error::NotConverged(_)
        | Error::Timeout { .. }
        | Error::Signals(_)
        | Error::Plot { .. }
        | Error::TooManyFailures { .. } => PyRuntimeError::new_err(text),
        _ => PyValueError::new_err(text),
    }
}

/// `Result<T, oneproxy::Error>` to `PyResult<T>`.
pub trait OrPy<T> {
    /// The value, or the error as a Python exception ([`to_py`]).
    fn or_py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for Result<T, Error> {
    fn or_py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// A space by name (`nb201`, `fbnet`, `ofa-mbv3`, `mbv2`, `proxyless`, or a declared space
/// loaded before), or the path of a space file (read once per process, then known by its name
/// too; `docs/space-file.md` gives the format).
pub fn parse_space(name: &str) -> PyResult<SpaceId> {
    if let Some(id) = SpaceId::from_name(name) {
        return Ok(id);
    }
    let path = std::path::Path::new(name);
    if path.extension().is_some_and(|e| e == "toml") || path.is_file() {
        return oneproxy::space::declared::load(path).or_py();
    }
    name.parse().or_py()
}

/// Architecture strings of `space` (the error names the first that does not parse).
pub fn parse_archs(space: SpaceId, archs: &[String]) -> PyResult<Vec<Arch>> {
    let s = space.space();
    archs.iter().map(|a| s.parse_at(a, Origin::Argument)).collect::<Result<_, _>>().or_py()
}

/// A writable float64 numpy array holding `values` (one copy into a bytearray it shares).
pub fn f64_array<'py>(py: Python<'py>, values: &[f64]) -> PyResult<Bound<'py, PyAny>> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let buffer = PyByteArray::new(py, &bytes);
    py.import("numpy")?.getattr("frombuffer")?.call1((buffer, "float64"))
}

/// A `rows` x `cols` float64 numpy array from row-major `values`.
pub fn f64_matrix<'py>(py: Python<'py>, values: &[f64], rows: usize, cols: usize) -> PyResult<Bound<'py, PyAny>> {
    f64_array(py, values)?.call_method1("reshape", (rows, cols))
}

/// Latencies the user gave as the keyword `argument` (the samples of `adapt`), for the device
/// `column`: the architectures parsed (an error names the entry), then [`check_measurements`]
/// and [`check_unique`].
pub fn measurements(
    py: Python<'_>,
    space: SpaceId,
    argument: &str,
    column: &str,
    archs: &[String],
    latency_ms: &[f64],
) -> PyResult<Vec<Arch>> {
    if archs.len() != latency_ms.len() {
        return Err(PyValueError::new_err(format!(
            "{argument}: {} architectures but {} latencies",
            archs.len(),
            latency_ms.len()
        )));
    }
    let s = space.space();
    let parsed = archs
        .iter()
        .enumerate()
        .map(|(i, name)| {
            s.parse_at(name, Origin::Argument).map_err(|e| {
                let text = match &e {
                    // The entry says where: not "argument: ...".
                    Error::BadArch { space, value, reason, .. } => {
                        format!("invalid {space} architecture '{}': {reason}", oneproxy::error::clip(value))
                    }
                    other => message(other),
                };
                PyValueError::new_err(format!("{argument}: entry {}: {text}", i + 1))
            })
        })
        .collect::<PyResult<Vec<Arch>>>()?;
    let entries: Vec<(&str, &Arch, f64)> =
        archs.iter().zip(&parsed).zip(latency_ms).map(|((n, a), &v)| (n.as_str(), a, v)).collect();
    check_measurements(py, argument, column, &entries)?;
    check_unique(argument, archs.iter().map(String::as_str).zip(&parsed))?;
    Ok(parsed)
}

/// The one check of every Python latency value, as (architecture as written, parsed, ms) for
/// the device `column` given as the keyword `argument` (also a column of a user's table, whose
/// rows the caller checks once with [`check_unique`]): each latency a positive finite number of ms
/// ([`oneproxy::data::check_latency`]); errors name the argument and the entry. What is
/// accepted but looks wrong (values in seconds, mixed units, out of range) comes as
/// `UserWarning`s ([`oneproxy::data::plausibility::latency_values`]).
pub fn check_measurements(
    py: Python<'_>,
    argument: &str,
    column: &str,
    entries: &[(&str, &Arch, f64)],
) -> PyResult<()> {
    for (i, &(name, _, v)) in entries.iter().enumerate() {
        oneproxy::data::check_latency(v).map_err(|why| {
            PyValueError::new_err(format!(
                "{argument}: column '{}': entry {} ('{}'): {why}",
                oneproxy::error::clip(column),
                i + 1,
                oneproxy::error::clip(name)
            ))
        })?;
    }
    let named: Vec<(String, f64)> = entries.iter().map(|&(n, _, v)| (n.to_string(), v)).collect();
    crate::warn_all(py, &oneproxy::data::plausibility::latency_values(argument, column, &named))
}

/// Each architecture once, by its canonical form, among (as written, parsed): two spellings of
/// one architecture would give it two latencies.
pub fn check_unique<'a>(argument: &str, archs: impl ExactSizeIterator<Item = (&'a str, &'a Arch)>) -> PyResult<()> {
    let mut seen: std::collections::HashMap<&Arch, usize> = std::collections::HashMap::with_capacity(archs.len());
    for (i, (name, arch)) in archs.enumerate() {
        if let Some(first) = seen.insert(arch, i) {
            return Err(PyValueError::new_err(format!(
                "{argument}: entry {} ('{}'): the architecture is given twice (entries {} and {}): give each once",
                i + 1,
                oneproxy::error::clip(name),
                first + 1,
                i + 1
            )));
        }
    }
    Ok(())
}

/// Strings from any iterable (a list, a tuple, a pandas Index or Series, a numpy array of
/// str), for the keyword `argument`. One string alone is refused: it would iterate by
/// character.
pub fn strings(value: &Bound<'_, PyAny>, argument: &str) -> PyResult<Vec<String>> {
    if value.is_instance_of::<pyo3::types::PyString>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{argument}: give a list of architecture strings, not one string (write [{}])",
            value.repr()?
        )));
    }
    value
        .try_iter()?
        .enumerate()
        .map(|(i, item)| {
            let item = item?;
            item.extract::<String>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "{argument}: entry {} is {} ({}), not an architecture string",
                    i + 1,
                    item.get_type().name().map_or_else(|_| "?".to_string(), |n| n.to_string()),
                    item.repr().map_or_else(|_| "?".to_string(), |r| r.to_string())
                ))
            })
        })
        .collect()
}

/// Values by architecture: a pandas Series indexed by `archs` (index name `arch`) named `name`
/// when `labelled` and pandas is installed, else the plain numpy array in the order of `archs`.
pub fn by_arch<'py>(
    py: Python<'py>,
    values: &[f64],
    archs: impl FnOnce() -> Vec<String>,
    name: &str,
    labelled: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let array = f64_array(py, values)?;
    let pandas = match py.import("pandas") {
        Ok(pd) if labelled => pd,
        _ => return Ok(array),
    };
    let named = pyo3::types::PyDict::new(py);
    named.set_item("name", "arch")?;
    let index = pandas.getattr("Index")?.call((archs(),), Some(&named))?;
    let series = pyo3::types::PyDict::new(py);
    series.set_item("index", index)?;
    series.set_item("name", name)?;
    pandas.getattr("Series")?.call((array,), Some(&series))
}
