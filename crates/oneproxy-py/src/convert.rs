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

/// A space by name (`nb201`, `fbnet`, `ofa-mbv3`, `mbv2`, `proxyless`).
pub fn parse_space(name: &str) -> PyResult<SpaceId> {
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
