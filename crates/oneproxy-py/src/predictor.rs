//! `oneproxy.adapt` and the `Predictor` class: AdaProxy from the user's samples, and the
//! predictor file shared with the CLI (`oneproxy adapt --out`, `oneproxy predict`).

use crate::convert::{by_arch, measurements, parse_archs, parse_space, strings, OrPy};
use crate::options::{proxy_selection, AdaptKeywords};
use oneproxy::predictor::{AdaptParams, AdditivePredictor, ProxyLatency};
use oneproxy::workflow::{adapt_target, TargetAdaptation};
use oneproxy::{LatencyTable, Manifest};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// A latency predictor: the proxy's additive predictor adapted to a target, or any predictor
/// file written by `oneproxy adapt --out`.
#[pyclass(module = "oneproxy", frozen)]
pub struct Predictor {
    inner: AdditivePredictor,
    /// The table its proxy terms read measured latencies from (bundled data plus files).
    table: Arc<LatencyTable>,
}

impl Predictor {
    /// The library's predictor.
    pub fn inner(&self) -> &AdditivePredictor {
        &self.inner
    }

    /// The table for predictions: its own, or the bundled data plus `latency` files.
    pub fn table_for(&self, py: Python<'_>, latency: &[PathBuf]) -> PyResult<Arc<LatencyTable>> {
        if latency.is_empty() {
            return Ok(self.table.clone());
        }
        Self::with_table(py, self.inner.clone(), latency).map(|p| p.table)
    }

    /// Wrap `inner` with the bundled table of its space plus `latency` files, checking that it
    /// predicts positive latencies with those measurements.
    fn with_table(py: Python<'_>, inner: AdditivePredictor, latency: &[PathBuf]) -> PyResult<Self> {
        let table = crate::table_with(py, inner.space(), latency)?;
        py.detach(|| inner.check_positive(ProxyLatency::Measured(&table))).or_py()?;
        Ok(Predictor { inner, table })
    }
}

#[pymethods]
impl Predictor {
    /// Predicted latencies (ms per image) of `archs` (any iterable of architecture strings), or
    /// of every architecture of the space (NB201; the bundled ones elsewhere) when `None`: a
    /// pandas Series indexed by architecture and named by the device, or with `as_frame=False`
    /// (or without pandas) a numpy array in the order of `archs`.
    #[pyo3(signature = (archs=None, as_frame=true))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        archs: Option<Bound<'py, PyAny>>,
        as_frame: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = archs.map(|a| strings(&a, "archs")).transpose()?;
        let space = self.inner.space();
        let parsed = match &names {
            Some(a) => parse_archs(space, a)?,
            None => match space.space().enumerate() {
                Some(all) => all,
                None => self.table.archs().to_vec(),
            },
        };
        let values = py.detach(|| self.inner.predict(&parsed, ProxyLatency::Measured(&self.table))).or_py()?;
        let device = if self.inner.device().is_empty() { "latency_ms" } else { self.inner.device() };
        let formatted = || names.unwrap_or_else(|| parsed.iter().map(|a| space.space().format(a)).collect());
        by_arch(py, &values, formatted, device, as_frame)
    }

    /// Write the predictor as JSON (atomically): the file `oneproxy predict --predictor` reads.
    /// An existing file that oneproxy did not write is replaced only with `overwrite=True`.
    #[pyo3(signature = (path, overwrite=false))]
    fn save(&self, py: Python<'_>, path: PathBuf, overwrite: bool) -> PyResult<()> {
        py.detach(|| self.inner.save(&path, &oneproxy::output::Outputs::new(overwrite))).or_py()
    }

    /// Read a predictor file (written by `Predictor.save` or `oneproxy adapt --out`);
    /// `latency_files` adds the CSV files whose measurements its proxy terms use (`latency` is
    /// its old name, deprecated).
    #[staticmethod]
    #[pyo3(signature = (path, latency_files=Vec::new(), *, latency=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        mut latency_files: Vec<PathBuf>,
        latency: Option<Vec<PathBuf>>,
    ) -> PyResult<Self> {
        if let Some(old) = latency {
            if !latency_files.is_empty() {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "Predictor.load() got latency= and latency_files=: give latency_files= only (latency= is its old name)",
                ));
            }
            let text =
                c"Predictor.load(latency=...) is now Predictor.load(latency_files=...); latency= will be removed";
            PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(), text, 1)?;
            latency_files = old;
        }
        let inner = py.detach(|| AdditivePredictor::load(&path)).or_py()?;
        Self::with_table(py, inner, &latency_files)
    }

    /// The device it predicts.
    #[getter]
    fn device(&self) -> &str {
        self.inner.device()
    }

    /// The search space.
    #[getter]
    fn space(&self) -> &'static str {
        self.inner.space().name()
    }

    /// How it was made (the adaptation report for an adapted predictor), as a JSON string.
    #[getter]
    fn provenance(&self) -> String {
        self.inner.provenance().to_string()
    }

    /// The predictor file's JSON text.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.inner).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    fn __repr__(&self) -> String {
        format!("Predictor(space='{}', device='{}')", self.inner.space().name(), self.inner.device())
    }
}

/// AdaProxy: adapt the proxy's predictor to a target from its measured samples. Every setting
/// left `None` takes the library's default (`defaults()["adapt"]`).
#[pyfunction]
#[pyo3(signature = (archs, latency_ms, space="nb201", proxy=None, pool=None, target="target", norm=None, form=None, lambda_=None, folds=None, ensemble=None, latency=Vec::new(), combine=None))]
#[allow(clippy::too_many_arguments)]
pub fn adapt(
    py: Python<'_>,
    archs: Vec<String>,
    latency_ms: Vec<f64>,
    space: &str,
    proxy: Option<String>,
    pool: Option<Vec<String>>,
    target: &str,
    norm: Option<String>,
    form: Option<String>,
    lambda_: Option<Bound<'_, PyAny>>,
    folds: Option<usize>,
    ensemble: Option<usize>,
    latency: Vec<PathBuf>,
    combine: Option<String>,
) -> PyResult<(Predictor, String)> {
    let id = parse_space(space)?;
    oneproxy::data::validate_device_name(target).or_py()?;
    let params =
        AdaptKeywords { norm, form, lambda: lambda_, folds, ensemble, combine }.apply(AdaptParams::default())?;
    let selection = proxy_selection(proxy.as_deref(), pool)?;
    let parsed = measurements(py, id, "samples", target, &archs, &latency_ms)?;
    let table = crate::load_table(py, id, &latency)?;
    let TargetAdaptation { adapted, spearman_before, candidates } = py
        .detach(|| adapt_target(&table, &selection, target, &parsed, &latency_ms, &params, &|_, _| {}))
        .map_err(|e| {
            crate::convert::to_py(e)
                .with_context(py, format!("adapting to '{target}' with {} samples", latency_ms.len()))
        })?;
    let mut inner = adapted.predictor;
    inner.set_provenance(serde_json::json!({
        "manifest": Manifest::new(id, None, table.inputs().to_vec()),
        "adaproxy": &adapted.report,
        "target": target,
    }));
    let summary = serde_json::json!({
        "target": target,
        "candidates": candidates,
        "spearman_samples_before": spearman_before,
        "report": &adapted.report,
    });
    Ok((Predictor { inner, table }, summary.to_string()))
}

/// Prefixing a context to an exception's message, as the CLI's `with_context`.
trait WithContext {
    fn with_context(self, py: Python<'_>, context: String) -> PyErr;
}

impl WithContext for PyErr {
    fn with_context(self, py: Python<'_>, context: String) -> PyErr {
        let text = format!("{context}: {}", self.value(py));
        let kind = self.get_type(py);
        match kind.call1((text,)) {
            Ok(e) => PyErr::from_value(e),
            Err(_) => self,
        }
    }
}
