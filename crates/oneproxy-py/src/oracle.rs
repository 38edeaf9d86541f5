//! The target oracle of `oneproxy.nas`: a Python callable `measure(archs) -> latencies (ms)`.

use oneproxy::workflow::Answer;
use oneproxy::workflow::TargetOracle;
use oneproxy::{Arch, Error, SpaceId};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};

/// The Python exception that stopped a flow (raised by the measure function or the progress
/// callable), kept to be raised again once the flow returns.
pub type Failure = Arc<Mutex<Option<PyErr>>>;

/// A Python callable as the target device. It is called with lists of at most `batch`
/// architecture strings (all those requested at once when `None`) and returns as many
/// latencies in ms per image. A Python exception (including `KeyboardInterrupt`, and a Ctrl-C
/// pending when a call starts) stops the flow: it is stored in `failure`, noted with the
/// architectures of the call, and the flow gets an engine error.
pub struct PyOracle {
    pub device: String,
    pub space: SpaceId,
    pub callable: Py<PyAny>,
    pub batch: Option<usize>,
    pub failure: Failure,
    /// The architectures the callable can measure, when it says (its attribute `domain`).
    pub domain: Option<Vec<Arch>>,
    /// Whether it answers the same every time (its attribute `exact`), as a recorded table does.
    pub exact: bool,
    /// Every latency returned so far, for the check that they are not seconds.
    returned: Vec<f64>,
    /// Whether the values were said to look like seconds (said once).
    said_seconds: bool,
}

impl PyOracle {
    /// The callable `callable` measuring `device`; a Python exception is kept in `failure`.
    pub fn new(device: &str, space: SpaceId, callable: Py<PyAny>, batch: Option<usize>, failure: Failure) -> Self {
        PyOracle {
            device: device.to_string(),
            space,
            callable,
            batch,
            failure,
            domain: None,
            exact: false,
            returned: Vec::new(),
            said_seconds: false,
        }
    }

    /// Read what the callable says of itself, as a [`TargetOracle`] does: `domain` (the
    /// architecture strings it can measure; absent or `None`: any) and `exact` (whether asking
    /// again gives the same answer; absent: no). A fleet's table-backed callables say both, so
    /// that they run as the library's recorded tables do.
    pub fn described(mut self, py: Python<'_>) -> PyResult<Self> {
        let callable = self.callable.bind(py);
        if let Some(domain) = callable.getattr_opt("domain")?.filter(|d| !d.is_none()) {
            let names: Vec<String> = domain.extract().map_err(|_| {
                PyValueError::new_err(format!(
                    "target '{}': domain must be a list of architecture strings",
                    self.device
                ))
            })?;
            self.domain = Some(crate::convert::parse_archs(self.space, &names)?);
        }
        if let Some(exact) = callable.getattr_opt("exact")? {
            self.exact = exact.is_truthy()?;
        }
        Ok(self)
    }

    /// One call of the callable on `names`, with the values checked; once the values so far
    /// look like seconds, a `UserWarning` says so.
    fn call(&mut self, py: Python<'_>, names: &[String]) -> PyResult<Vec<f64>> {
        py.check_signals()?;
        let returned = self.callable.bind(py).call1((names.to_vec(),))?;
        let values: Vec<f64> = returned.extract().map_err(|_| {
            PyValueError::new_err(format!(
                "the measure function must return a list of latencies (float, ms per image); it returned {} for {}",
                returned.get_type().name().map_or_else(|_| "?".to_string(), |n| n.to_string()),
                names[0]
            ))
        })?;
        if values.len() != names.len() {
            return Err(PyValueError::new_err(format!(
                "the measure function returned {} latencies for {} architectures (first: {})",
                values.len(),
                names.len(),
                names[0]
            )));
        }
        if let Some((why, name)) =
            values.iter().zip(names).find_map(|(&v, name)| oneproxy::data::check_latency(v).err().map(|w| (w, name)))
        {
            return Err(PyValueError::new_err(format!("the measure function returned for {name}: {why}")));
        }
        self.returned.extend(&values);
        if !self.said_seconds {
            if let Some(why) = oneproxy::data::plausibility::seconds_like(&self.returned) {
                self.said_seconds = true;
                crate::warn_texts(py, [format!("target '{}': {why}", self.device)])?;
            }
        }
        Ok(values)
    }
}

/// Name the architectures of the failed call on the exception: a note (Python 3.11+) and the
/// attribute `archs`.
fn note_archs(py: Python<'_>, err: &PyErr, device: &str, names: &[String]) {
    let value = err.value(py);
    let shown = if names.len() <= 3 {
        names.join(", ")
    } else {
        format!("{}, ... ({} in all)", names[..3].join(", "), names.len())
    };
    let note = format!("while measuring {shown} on '{device}'");
    if value.hasattr("add_note").unwrap_or(false) {
        let _ = value.call_method1("add_note", (note,));
    }
    let _ = value.setattr("archs", names.to_vec());
}

impl TargetOracle for PyOracle {
    fn device(&self) -> &str {
        &self.device
    }

    fn domain(&self) -> Option<Vec<Arch>> {
        self.domain.clone()
    }

    fn exact(&self) -> bool {
        self.exact
    }

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> oneproxy::Result<()> {
        let space = self.space.space();
        for part in archs.chunks(self.batch.unwrap_or(archs.len()).max(1)) {
            // A failure of the progress callable stops the flow before the next call.
            if self.failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                return Err(Error::Engine(format!("measuring on '{}': stopped by the progress callable", self.device)));
            }
            let names: Vec<String> = part.iter().map(|a| space.format(a)).collect();
            let values = Python::attach(|py| {
                self.call(py, &names).inspect_err(|err| {
                    note_archs(py, err, &self.device, &names);
                })
            });
            match values {
                Ok(values) => {
                    for (a, v) in part.iter().zip(values) {
                        answer(a, Answer::latency(v));
                    }
                }
                Err(err) => {
                    *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
                    return Err(Error::Engine(format!(
                        "measuring {} on '{}': the measure function failed",
                        names[0], self.device
                    )));
                }
            }
        }
        Ok(())
    }
}
