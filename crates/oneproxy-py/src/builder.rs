//! The user's Python callable as a [`ModelBuilder`]: `builder(arch, batch)` (or `builder(arch)`)
//! returns an architecture's model, which then goes the way of every model oneproxy measures
//! (the library's `Session`: load into an engine, time).
//!
//! What the callable may return:
//! * `bytes` or `bytearray`: an ONNX file's bytes;
//! * an `onnx.ModelProto` (anything from the `onnx` package with `SerializeToString`), so that a
//!   builder written with `onnx.helper` need not serialize it itself;
//! * a `torch.nn.Module`, exported with `torch.onnx.export(module, (dummy,), path,
//!   input_names=["input"], output_names=["output"])` on a zero input of the model's shape.
//!   The shape is the module's attribute `input_shape`, else the builder's `input_shape=`; one of
//!   them is required (a module does not say what it takes). torch is imported only when the
//!   returned object's class has a `torch...Module` among its bases: a torch model exists only
//!   where torch is installed, and nothing else pays for importing it.
//!
//! Whatever it returns is checked as a builder command's file is ([`model_input_shape`]): an ONNX
//! model with one image input `[batch, C, H, W]`. A wrong value is an error naming the
//! architecture and the builder; an exception of the callable is kept (`raised`) so that the
//! caller can raise it as it was, noted with the architecture.
//!
//! The callable runs in this process, so unlike a builder command it has no time limit: there is
//! no safe way to stop Python code from the outside.

use oneproxy::data::Settings;
use oneproxy::measure::builder::{model_input_shape, BuiltModel, ModelBuilder};
use oneproxy::{Arch, Error, SpaceId};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict};
use std::sync::{Arc, Mutex};

/// The Python exception of the last build that failed in Python (or the `ValueError` of a wrong
/// return value), for the caller to raise as it was.
pub type Raised = Arc<Mutex<Option<PyErr>>>;

/// A Python callable that builds an architecture's model (see the module documentation).
pub struct PyBuilder {
    callable: Py<PyAny>,
    /// `module.qualname` of the callable: what the settings record.
    name: String,
    /// Whether it is called with the batch too (it takes two positional arguments).
    takes_batch: bool,
    /// The input shape of a returned torch module without one of its own: `(C, H, W)` or
    /// `(batch, C, H, W)`.
    input_shape: Option<Vec<usize>>,
    space: SpaceId,
    raised: Raised,
}

/// Why a build failed: the callable raised, or it returned something that is not a model.
enum Failure {
    Raised(PyErr),
    Wrong(String),
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Raised(e)
    }
}

/// `module.qualname` of a callable (of its class for an object that is called).
fn qualified_name(callable: &Bound<'_, PyAny>) -> String {
    let text = |o: &Bound<'_, PyAny>, attr: &str| -> Option<String> {
        o.getattr_opt(attr).ok().flatten().and_then(|v| v.extract::<String>().ok())
    };
    let ty = callable.get_type().into_any();
    let module = text(callable, "__module__").or_else(|| text(&ty, "__module__")).unwrap_or_default();
    let qual = text(callable, "__qualname__").or_else(|| text(&ty, "__qualname__")).unwrap_or_else(|| "?".into());
    if module.is_empty() {
        qual
    } else {
        format!("{module}.{qual}")
    }
}

/// Whether `callable` takes a second positional argument (the batch): two positional parameters
/// or `*args`. A callable whose signature cannot be read is given both.
fn takes_two(py: Python<'_>, callable: &Bound<'_, PyAny>) -> PyResult<bool> {
    let inspect = py.import("inspect")?;
    let Ok(signature) = inspect.call_method1("signature", (callable,)) else { return Ok(true) };
    let parameter = inspect.getattr("Parameter")?;
    let positional = [parameter.getattr("POSITIONAL_ONLY")?, parameter.getattr("POSITIONAL_OR_KEYWORD")?];
    let var_positional = parameter.getattr("VAR_POSITIONAL")?;
    let mut count = 0;
    for p in signature.getattr("parameters")?.call_method0("values")?.try_iter()? {
        let kind = p?.getattr("kind")?;
        if kind.eq(&var_positional)? {
            return Ok(true);
        }
        if positional.iter().any(|k| kind.eq(k).unwrap_or(false)) {
            count += 1;
        }
    }
    if count == 0 {
        return Err(PyValueError::new_err(format!(
            "the builder {} takes no positional argument: it is called as builder(arch, batch) or builder(arch)",
            qualified_name(callable)
        )));
    }
    Ok(count >= 2)
}

impl PyBuilder {
    /// The builder `callable` of `space`'s models; `input_shape` serves torch modules that do
    /// not carry their own. A callable that is not one, or an input shape of the wrong length,
    /// is a `ValueError`.
    pub fn new(py: Python<'_>, callable: Py<PyAny>, space: SpaceId, input_shape: Option<Vec<usize>>) -> PyResult<Self> {
        let bound = callable.bind(py);
        if !bound.is_callable() {
            return Err(PyValueError::new_err(
                "builder must be a callable builder(arch: str, batch: int) -> ONNX bytes, onnx.ModelProto or torch.nn.Module",
            ));
        }
        if let Some(s) = &input_shape {
            check_shape(s).map_err(PyValueError::new_err)?;
        }
        Ok(PyBuilder {
            name: qualified_name(bound),
            takes_batch: takes_two(py, bound)?,
            callable,
            input_shape,
            space,
            raised: Raised::default(),
        })
    }

    /// Where the exception of a failed build is kept.
    pub fn raised(&self) -> Raised {
        self.raised.clone()
    }

    /// How the builder is named in messages and settings: `python:module.qualname`.
    pub fn label(&self) -> String {
        format!("python:{}", self.name)
    }

    /// The model's bytes of `arch` (the architecture string `text`).
    fn model_bytes(&self, py: Python<'_>, text: &str, batch: usize) -> Result<Vec<u8>, Failure> {
        let callable = self.callable.bind(py);
        let returned = if self.takes_batch { callable.call1((text, batch))? } else { callable.call1((text,))? };
        if let Ok(b) = returned.cast::<PyBytes>() {
            return Ok(b.as_bytes().to_vec());
        }
        if let Ok(b) = returned.cast::<PyByteArray>() {
            return Ok(b.to_vec());
        }
        let ty = returned.get_type();
        let module: String = ty.getattr("__module__").and_then(|m| m.extract()).unwrap_or_default();
        if (module == "onnx" || module.starts_with("onnx.")) && returned.hasattr("SerializeToString")? {
            let b = returned.call_method0("SerializeToString")?;
            return b.cast::<PyBytes>().map(|b| b.as_bytes().to_vec()).map_err(|_| {
                Failure::Wrong(format!(
                    "returned for {text} an {module} object whose SerializeToString() did not give bytes"
                ))
            });
        }
        if is_torch_module(py, &returned)? {
            return self.export_torch(py, &returned, text, batch);
        }
        let shown = ty.name().map_or_else(|_| "?".to_string(), |n| n.to_string());
        Err(Failure::Wrong(format!(
            "returned {shown} for {text}: a builder returns the ONNX model as bytes (or bytearray), an onnx.ModelProto, \
             or a torch.nn.Module to export"
        )))
    }

    /// `module` exported to ONNX by torch, on a zero input of its shape (see the module
    /// documentation).
    fn export_torch(
        &self,
        py: Python<'_>,
        module: &Bound<'_, PyAny>,
        text: &str,
        batch: usize,
    ) -> Result<Vec<u8>, Failure> {
        let own = module.getattr_opt("input_shape")?.filter(|s| !s.is_none());
        let shape: Vec<usize> = match (own, &self.input_shape) {
            (Some(s), _) => s.extract().map_err(|_| {
                Failure::Wrong(format!(
                    "returned a torch module for {text} whose input_shape is not a tuple of sizes (C, H, W)"
                ))
            })?,
            (None, Some(s)) => s.clone(),
            (None, None) => {
                return Err(Failure::Wrong(format!(
                    "returned a torch.nn.Module for {text}, but a module does not say what input it takes: give \
                     input_shape=(C, H, W) (the size of one image) or set the module's attribute input_shape"
                )))
            }
        };
        check_shape(&shape)
            .map_err(|why| Failure::Wrong(format!("returned a torch module for {text}, but its {why}")))?;
        let full: Vec<usize> = match shape.as_slice() {
            [c, h, w] => vec![batch, *c, *h, *w],
            [b, ..] if *b != batch => {
                return Err(Failure::Wrong(format!(
                    "returned a torch module for {text} with input_shape {shape:?}, of batch {b}, but models of batch \
                     {batch} are asked for: give (C, H, W) and the batch is added"
                )))
            }
            _ => shape.clone(),
        };
        let torch = py.import("torch")?;
        module.call_method0("eval")?;
        let dummy = torch.call_method1("zeros", (full,))?;
        let dir: String = py.import("tempfile")?.call_method1("mkdtemp", ("", "oneproxy-torch-"))?.extract()?;
        let dir = RemovedDir(std::path::PathBuf::from(dir));
        let path = dir.0.join("model.onnx");
        let kwargs = PyDict::new(py);
        kwargs.set_item("input_names", vec!["input"])?;
        kwargs.set_item("output_names", vec!["output"])?;
        torch.getattr("onnx")?.call_method("export", (module, (dummy,), path.display().to_string()), Some(&kwargs))?;
        std::fs::read(&path).map_err(|e| {
            Failure::Wrong(format!(
                "returned a torch module for {text}, but torch.onnx.export wrote no model at {}: {e}",
                path.display()
            ))
        })
    }
}

/// A folder removed when dropped (torch's export writes a file, which is read back).
struct RemovedDir(std::path::PathBuf);

impl Drop for RemovedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why an input shape cannot be one: it is `(C, H, W)` or `(batch, C, H, W)`, every size positive.
fn check_shape(shape: &[usize]) -> Result<(), String> {
    if !(3..=4).contains(&shape.len()) || shape.contains(&0) {
        return Err(format!(
            "input_shape must be (C, H, W) or (batch, C, H, W) with positive sizes, e.g. (3, 224, 224); got {shape:?}"
        ));
    }
    Ok(())
}

/// Whether `obj` is a torch module: its class has a base named `Module` from a `torch` module
/// (checked without importing torch), confirmed by `isinstance(obj, torch.nn.Module)`.
fn is_torch_module(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let mut looks_like = false;
    for class in obj.get_type().getattr("__mro__")?.try_iter()? {
        let class = class?;
        let module: String = class.getattr("__module__").and_then(|m| m.extract()).unwrap_or_default();
        let name: String = class.getattr("__name__").and_then(|m| m.extract()).unwrap_or_default();
        if name == "Module" && (module == "torch" || module.starts_with("torch.")) {
            looks_like = true;
            break;
        }
    }
    if !looks_like {
        return Ok(false);
    }
    let base = py.import("torch")?.getattr("nn")?.getattr("Module")?;
    obj.is_instance(&base)
}

impl ModelBuilder for PyBuilder {
    fn build(&mut self, arch: &Arch, batch: usize) -> oneproxy::Result<BuiltModel> {
        let text = self.space.space().format(arch);
        let label = self.label();
        Python::attach(|py| {
            *self.raised.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let failure = match self.model_bytes(py, &text, batch) {
                Ok(bytes) => match model_input_shape(&bytes, batch) {
                    Ok(input_shape) => return Ok(BuiltModel { bytes, input_shape }),
                    Err(why) => Failure::Wrong(format!(
                        "returned for {text} a model oneproxy cannot measure: {}",
                        why.replacen("what it wrote", "what it returned", 1).replace(
                            "pass {batch} to the command or export a dynamic batch dimension",
                            "build the model for the batch it is given (builder(arch, batch)) or with a dynamic batch dimension"
                        )
                    )),
                },
                Err(f) => f,
            };
            let (err, raised) = match failure {
                Failure::Wrong(why) => {
                    let message = format!("the builder {label} {why}");
                    (Error::Engine(message.clone()), PyValueError::new_err(message))
                }
                Failure::Raised(e) => {
                    let message = format!("the builder {label} raised on {text}: {e}");
                    // KeyboardInterrupt, SystemExit: not this architecture's fault; measuring stops.
                    let err = if e.is_instance_of::<PyException>(py) {
                        Error::Engine(message)
                    } else {
                        Error::EngineLost(message)
                    };
                    (err, e)
                }
            };
            *self.raised.lock().unwrap_or_else(|e| e.into_inner()) = Some(raised);
            Err(err)
        })
    }

    fn settings(&self) -> Settings {
        Settings::from([("builder".to_string(), self.label())])
    }

    fn is_network(&self) -> bool {
        false
    }
}

/// Name the architecture on an exception raised while building it: a note (Python 3.11+) and the
/// attribute `arch`.
pub fn note_arch(py: Python<'_>, err: &PyErr, arch: &str, builder: &str) {
    let value = err.value(py);
    if value.hasattr("add_note").unwrap_or(false) {
        let _ = value.call_method1("add_note", (format!("while building {arch} with the builder {builder}"),));
    }
    let _ = value.setattr("arch", arch);
}
