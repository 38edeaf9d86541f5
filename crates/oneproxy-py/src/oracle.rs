//! The target oracle of `oneproxy.nas`: a Python callable `measure(archs) -> latencies (ms)`.

use oneproxy::workflow::Answer;
use oneproxy::workflow::TargetOracle;
use oneproxy::{Arch, Error, SpaceId};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};

/// The Python exception that stopped a flow, kept to be raised again once the flow returns.
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
}

impl PyOracle {
    /// One call of the callable on `names`, with the values checked.
    fn call(&self, py: Python<'_>, names: &[String]) -> PyResult<Vec<f64>> {
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

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> oneproxy::Result<()> {
        let space = self.space.space();
        for part in archs.chunks(self.batch.unwrap_or(archs.len()).max(1)) {
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
