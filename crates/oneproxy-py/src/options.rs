//! Keyword arguments that configure library calls. Every keyword defaults to `None`, meaning
//! the library's default: the defaults are declared once, in the library's `Default` impls,
//! and [`defaults`] shows them to Python (the docstrings of `oneproxy` read them from there).

use crate::convert::OrPy;
use oneproxy::predictor::{AdaptParams, Combination, FormChoice, LambdaChoice, Penalty, ProxySelection, Validation};
use oneproxy::search::EvolutionParams;
use oneproxy::stats::Metric;
use oneproxy::workflow::{Design, NasConfig, SampleSet};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// How messages spell a parameter for Python users: as the keyword (`max_time=`).
pub fn spell_param(name: &str) -> String {
    match name {
        // The CLI's `--force` is `overwrite=True` in Python.
        "force" => "overwrite=True".into(),
        "lambda" => "lambda_=".into(),
        other => format!("{other}="),
    }
}

/// `name` among `known` by `name_of`, or an error that names the keyword and lists the names.
fn by_name<T: Copy>(keyword: &str, name: &str, known: &[T], name_of: fn(T) -> &'static str) -> PyResult<T> {
    known.iter().copied().find(|k| name_of(*k) == name).ok_or_else(|| {
        let names: Vec<&str> = known.iter().map(|k| name_of(*k)).collect();
        PyValueError::new_err(format!("unknown {keyword} '{name}'; known: {}", names.join(", ")))
    })
}

/// A correlation metric by name (`metric=`).
pub fn metric(name: &str) -> PyResult<Metric> {
    by_name("metric", name, &Metric::ALL, Metric::name)
}

/// The adaptation keywords (`norm`, `form`, `lambda_`, `folds`, `ensemble`, `combine`), each
/// `None` for the value in `base`.
pub struct AdaptKeywords<'py> {
    pub norm: Option<String>,
    pub form: Option<String>,
    pub lambda: Option<Bound<'py, PyAny>>,
    pub folds: Option<usize>,
    pub ensemble: Option<usize>,
    pub combine: Option<String>,
}

impl AdaptKeywords<'_> {
    /// `base` with the keywords given applied.
    pub fn apply(&self, base: AdaptParams) -> PyResult<AdaptParams> {
        let mut p = base;
        if let Some(norm) = &self.norm {
            p.penalty = by_name("norm", norm, &Penalty::ALL, Penalty::name)?;
        }
        if let Some(form) = &self.form {
            // The library's message lists the forms of its registry.
            p.form = form.parse::<FormChoice>().or_py()?;
        }
        if let Some(lambda) = &self.lambda {
            p.lambda = match lambda.extract::<String>() {
                Ok(s) if s == "auto" => AdaptParams::default().lambda,
                _ => match lambda.extract::<f64>() {
                    Ok(v) if v >= 0.0 && v.is_finite() => LambdaChoice::Fixed(v),
                    _ => {
                        return Err(PyValueError::new_err(format!(
                            "lambda_ must be 'auto' or a number >= 0, got {lambda}"
                        )))
                    }
                },
            };
        }
        if let Some(folds) = self.folds {
            p.validation = if folds == 0 { Validation::LeaveOneOut } else { Validation::KFold(folds) };
        }
        if let Some(ensemble) = self.ensemble {
            p.ensemble = ensemble;
        }
        if let Some(combine) = &self.combine {
            p.combination = by_name("combine", combine, &Combination::ALL, Combination::name)?;
        }
        Ok(p)
    }
}

/// The proxy of a flow: a device name, or `auto` (the best of `pool`, or of every device);
/// `None`: the library's default.
pub fn proxy_selection(proxy: Option<&str>, pool: Option<Vec<String>>) -> PyResult<ProxySelection> {
    match (proxy, pool) {
        (None, None) => Ok(ProxySelection::default()),
        (None | Some("auto"), pool) => Ok(ProxySelection::Auto { pool }),
        (Some(_), Some(_)) => Err(PyValueError::new_err("pool only applies with proxy='auto'")),
        (Some(device), None) => Ok(ProxySelection::Device(device.to_string())),
    }
}

/// The design keywords of the flow: `design` (`sequential`, `layers` or `upfront`), and the sequential
/// design's `round_size` and `stop`, each `None` for the library's default.
pub fn design(name: Option<&str>, round_size: Option<usize>, stop: Option<f64>) -> PyResult<Design> {
    Design::named(name.unwrap_or(Design::default().name()), round_size, stop).or_py()
}

/// The first samples of the flow: `sample_set` (`random`, `plan` or `help10`) of `samples`
/// architectures, each `None` for the library's default (the count: `design`'s).
pub fn sample_set(
    space: oneproxy::SpaceId,
    set: Option<&str>,
    samples: Option<usize>,
    design: Design,
) -> PyResult<SampleSet> {
    SampleSet::named(set.unwrap_or(SampleSet::default().name()), samples.unwrap_or(design.default_samples()), space)
        .or_py()
}

/// The library's defaults of the keywords of `nas`, `adapt`, `search` and `monotonicity`, by
/// function and keyword (`None` where the default is "no bound"), and the default bundled
/// accuracy dataset (`accuracy`).
#[pyfunction]
pub fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    let adapt_dict = |p: &AdaptParams| -> PyResult<Bound<'_, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("norm", p.penalty.name())?;
        d.set_item(
            "form",
            match p.form {
                FormChoice::Auto => "auto",
                FormChoice::Fixed(f) => f.name(),
            },
        )?;
        match p.lambda {
            LambdaChoice::Auto { .. } => d.set_item("lambda_", "auto")?,
            LambdaChoice::Fixed(v) => d.set_item("lambda_", v)?,
        }
        d.set_item(
            "folds",
            match p.validation {
                Validation::KFold(k) => k,
                _ => 0,
            },
        )?;
        d.set_item("ensemble", p.ensemble)?;
        d.set_item("combine", p.combination.name())?;
        Ok(d)
    };
    if let oneproxy::data::AccuracySource::Bundled(name) = oneproxy::data::AccuracySource::default() {
        out.set_item("accuracy", name)?;
    }
    let c = NasConfig::default();
    let nas = adapt_dict(&c.adapt)?;
    nas.set_item("proxy", c.proxy.to_string())?;
    nas.set_item("samples", c.samples.len())?;
    nas.set_item("sample_set", c.samples.name())?;
    nas.set_item("max_measurements", c.max_measurements)?;
    nas.set_item("threshold", c.threshold)?;
    nas.set_item("max_samples", c.max_samples)?;
    nas.set_item("layers", c.layers)?;
    nas.set_item("seed", c.seed)?;
    nas.set_item("design", c.design.name())?;
    let (round_size, stop) = Design::sequential_defaults();
    nas.set_item("round_size", round_size)?;
    nas.set_item("stop", stop)?;
    nas.set_item("always_adapt", !c.reuse)?;
    nas.set_item("max_failures", c.max_failures)?;
    nas.set_item("remeasure", c.remeasure.name())?;
    nas.set_item("stop_regret", c.stop_regret)?;
    nas.set_item("min_checks", c.min_checks)?;
    out.set_item("nas", nas)?;
    let adapt = adapt_dict(&AdaptParams::default())?;
    adapt.set_item("proxy", ProxySelection::default().to_string())?;
    out.set_item("adapt", adapt)?;
    let e = EvolutionParams::default();
    let search = PyDict::new(py);
    search.set_item("population", e.population)?;
    search.set_item("generations", e.generations)?;
    search.set_item("seed", e.seed)?;
    search.set_item("method", oneproxy::search::Method::default().name())?;
    out.set_item("search", search)?;
    let monotonicity = PyDict::new(py);
    monotonicity.set_item("metric", Metric::default().name())?;
    monotonicity.set_item("min_overlap", oneproxy::stats::MIN_OVERLAP)?;
    out.set_item("monotonicity", monotonicity)?;
    Ok(out)
}
