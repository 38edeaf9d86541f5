//! The latency predictor: latency = encoding . weights + intercept, plus the terms AdaProxy adds.
//!
//! With a one-hot encoding this is the classic per-operation lookup table: the latency of a
//! network is the sum of the latencies of its operations plus a fixed cost. It is the object
//! AdaProxy adapts, and the model the paper builds on. An adapted predictor may also hold
//! [`ProxyTerm`]s (a multiple of a proxy's *measured* latency, its additive model where it has
//! not measured) and, for NB201, [`StructureTerm`]s (costs of the operations a cell executes).
//! So it is additive only in general, and one method predicts, told where the proxy terms'
//! latencies come from ([`ProxyLatency`]).
//!
//! Positivity: a latency predictor is only usable if it predicts a positive latency for every
//! architecture a search may visit. Least squares does not ensure that (pixel3's NB201 fit
//! predicts -2.3 ms for the empty cell), so [`AdditivePredictor::fit`] refits under the
//! constraint "every prediction >= a floor" when it has to, and [`AdditivePredictor::validate`]
//! refuses predictors that are not positive over their whole space
//! ([`AdditivePredictor::lower_bound`], exact through [`SearchSpace::argmin_additive`]).

use super::scaling::{exponent_of_max, ldexp};
use super::solver::{constrained_least_squares, Inequality};
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::space::cell::{CellFeature, OPS};
use crate::space::{Arch, SearchSpace, SpaceId};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of the feature encodings; bumped whenever a space's encoding changes, so that a saved
/// predictor is never applied to a different encoding.
pub const ENCODING_VERSION: u32 = 1;

/// A term `coefficient * latency_on(device, arch)` of an adapted predictor.
///
/// AdaProxy may build on the proxy's measured latencies, which rank architectures better than
/// the proxy's own additive model; for an architecture the proxy has not measured, the proxy's
/// additive model (`fallback_*`) stands in for the measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyTerm {
    /// The proxy device (a bundled device or one from a `--latency` file).
    pub device: String,
    /// Multiplier of its latency (ms per ms).
    pub coefficient: f64,
    /// The proxy's additive weights, used where it has no measurement.
    pub fallback_weights: Vec<f64>,
    /// The proxy's additive intercept.
    pub fallback_intercept: f64,
    /// The term reads the proxy's latency of the cell with its dead operations removed
    /// ([`prune_dead`](crate::space::cell::prune_dead); NB201): how a device that prunes would
    /// rank cells if it otherwise ran them like the proxy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pruned: bool,
}

/// A term `weights . counts(cell)` over how an NB201 cell executes ([`CellFeature`]): the
/// latency of a device that prunes dead operations, or that runs branches concurrently, is
/// not additive in the one-hot encoding, but it is in these counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructureTerm {
    /// Which counts.
    pub feature: CellFeature,
    /// Milliseconds per counted op, one per op kind (order of the NB201 ops; `none` unused).
    pub weights: Vec<f64>,
}

impl StructureTerm {
    fn value(&self, arch: &Arch) -> f64 {
        self.feature.counts(arch.genes()).iter().zip(&self.weights).map(|(&c, w)| c as f64 * w).sum()
    }
}

/// Where a predictor is lowest over its space ([`AdditivePredictor::lower_bound`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LowerBound {
    /// The lowest prediction (ms).
    pub value: f64,
    /// An architecture with that prediction.
    pub arch: Arch,
    /// Whether the proxy terms use measured latencies there (false: their fallback models).
    pub measured: bool,
}

/// Where a predictor's proxy terms read their proxy's latency (a predictor without proxy terms
/// gives the same answer either way).
#[derive(Debug, Clone, Copy)]
pub enum ProxyLatency<'a> {
    /// The proxy's measured latency in this table, its fallback model where it has not measured
    /// the architecture. An adapted predictor is fitted this way: this is its prediction.
    Measured(&'a LatencyTable),
    /// Every proxy term on its proxy's fallback (additive) model, as when no table is at hand.
    /// Differs from [`Measured`](Self::Measured) wherever the proxy measured an architecture.
    Modelled,
}

impl<'a> ProxyLatency<'a> {
    /// The table, if the latencies are measured.
    fn table(self) -> Option<&'a LatencyTable> {
        match self {
            ProxyLatency::Measured(t) => Some(t),
            ProxyLatency::Modelled => None,
        }
    }
}

/// A prediction counts as positive when it exceeds this fraction of the size of the
/// predictor's terms ([`AdditivePredictor::magnitude`]): below that, rounding in the sum of the
/// terms could already flip its sign.
const POSITIVE_MARGIN: f64 = 1e-9;

/// Floor of a constrained fit, as a fraction of the smallest measured latency: no architecture
/// is predicted faster than 1% of the fastest one measured.
pub(crate) const FLOOR_FRACTION: f64 = 0.01;

/// Cutting planes tried before a constrained fit settles for a simpler positive model (each
/// adds the architecture where the previous fit was lowest; a handful suffice in practice).
pub(crate) const MAX_CUTS: usize = 50;

/// The plain least-squares fit of a device, kept by [`AdditivePredictor::fit`] when the
/// positivity constraint had to change it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unconstrained {
    /// Weights (ms).
    pub weights: Vec<f64>,
    /// Intercept (ms).
    pub intercept: f64,
}

/// latency(arch) = encode(arch) . weights + intercept (+ proxy terms + structure terms), in
/// milliseconds: a device's additive predictor, or one adapted to a target.
///
/// The fields are the predictor file's JSON (`oneproxy adapt --out`, `Predictor.save`); they are
/// read through methods, and only this module and AdaProxy build predictors, so that every
/// predictor in use has been checked ([`validate`](Self::validate)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdditivePredictor {
    /// Space of the encoding.
    pub(in crate::predictor) space: SpaceId,
    /// Encoding version ([`ENCODING_VERSION`] when written).
    pub(in crate::predictor) encoding_version: u32,
    /// Device whose latency this predicts.
    pub(in crate::predictor) device: String,
    /// One weight per encoding feature (ms).
    pub(in crate::predictor) weights: Vec<f64>,
    /// Fixed cost (ms).
    pub(in crate::predictor) intercept: f64,
    /// Terms proportional to a proxy device's *measured* latency (empty for a plain additive
    /// predictor). See [`ProxyTerm`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(in crate::predictor) proxy_terms: Vec<ProxyTerm>,
    /// Terms over the executed structure of the cell (NB201 only; empty for a plain additive
    /// predictor). See [`StructureTerm`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(in crate::predictor) structure_terms: Vec<StructureTerm>,
    /// How the predictor was made (free-form, for people and the manifest).
    #[serde(default)]
    pub(in crate::predictor) provenance: serde_json::Value,
    /// The plain least-squares fit, when the positivity constraint changed it (`None`
    /// otherwise). Not a valid predictor (somewhere in the space it predicts <= 0), but it
    /// ranks the measured architectures as well as the data allow: AdaProxy adapts its
    /// direction ([`base_weights`](Self::base_weights); the scale and offset are refitted
    /// anyway) and `plan` spreads samples over its range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(in crate::predictor) unconstrained: Option<Unconstrained>,
}

impl AdditivePredictor {
    /// A plain additive predictor `encode(arch) . weights + intercept` of `device`, checked
    /// ([`validate`](Self::validate): one finite weight per feature, positive everywhere).
    pub fn linear(space: SpaceId, device: &str, weights: Vec<f64>, intercept: f64) -> Result<Self> {
        let p = AdditivePredictor { device: device.to_string(), weights, intercept, ..Self::blank(space) };
        p.validate()?;
        Ok(p)
    }

    /// A predictor of `space` that predicts 0 everywhere (not valid as it is), to be filled in.
    pub(in crate::predictor) fn blank(space: SpaceId) -> Self {
        AdditivePredictor {
            space,
            encoding_version: ENCODING_VERSION,
            device: String::new(),
            weights: vec![0.0; space.space().num_features()],
            intercept: 0.0,
            proxy_terms: Vec::new(),
            structure_terms: Vec::new(),
            provenance: serde_json::Value::Null,
            unconstrained: None,
        }
    }

    /// The space of the encoding.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// The device whose latency this predicts (empty when unnamed).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The same predictor, predicting for `device`.
    pub fn named(self, device: &str) -> Self {
        AdditivePredictor { device: device.to_string(), ..self }
    }

    /// One weight per encoding feature (ms).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The fixed cost (ms).
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Terms proportional to a proxy device's measured latency (see [`ProxyTerm`]).
    pub fn proxy_terms(&self) -> &[ProxyTerm] {
        &self.proxy_terms
    }

    /// Terms over the executed structure of an NB201 cell (see [`StructureTerm`]).
    pub fn structure_terms(&self) -> &[StructureTerm] {
        &self.structure_terms
    }

    /// The plain least-squares fit, when the positivity constraint changed it.
    pub fn unconstrained(&self) -> Option<&Unconstrained> {
        self.unconstrained.as_ref()
    }

    /// How the predictor was made (free-form, for people and the manifest).
    pub fn provenance(&self) -> &serde_json::Value {
        &self.provenance
    }

    /// Record how the predictor was made (the front ends write the manifest and the report).
    pub fn set_provenance(&mut self, provenance: serde_json::Value) {
        self.provenance = provenance;
    }

    /// Whether every weight, intercept and coefficient is finite.
    pub(in crate::predictor) fn is_finite(&self) -> bool {
        self.weights
            .iter()
            .chain([&self.intercept])
            .chain(self.structure_terms.iter().flat_map(|t| &t.weights))
            .all(|v| v.is_finite())
            && self.proxy_terms.iter().all(|t| t.coefficient.is_finite())
    }

    /// Least-squares fit on measurements, with a ridge term `ridge * mean(diag(X^T X))` on the
    /// weights (not the intercept). The space's [reference features](SearchSpace::reference_features)
    /// are pinned to 0, which removes the collinearity of one-hot encodings with the intercept;
    /// a tiny ridge (1e-6) guards against what remains (e.g. choices never measured).
    pub fn fit(space: &dyn SearchSpace, device: &str, archs: &[Arch], latency: &[f64], ridge: f64) -> Result<Self> {
        if archs.len() != latency.len() {
            return Err(Error::InvalidParameter("one latency per architecture".into()));
        }
        if archs.len() < 2 {
            return Err(Error::TooFewSamples(format!(
                "fitting a predictor for '{device}' needs at least 2 measurements, got {}",
                archs.len()
            )));
        }
        if !(ridge >= 0.0 && ridge.is_finite()) {
            return Err(Error::InvalidParameter(format!("ridge must be >= 0, got {ridge}")));
        }
        if let Some(why) = latency.iter().find_map(|&v| crate::data::check_latency(v).err()) {
            return Err(Error::InvalidParameter(format!("device '{device}': {why}")));
        }
        // Solve on latency / 2^e: exact, and sums cannot overflow whatever the unit.
        let e = exponent_of_max(latency);
        let ys: Vec<f64> = latency.iter().map(|v| ldexp(*v, -e)).collect();
        let d_all = space.num_features();
        let n = archs.len();
        let pinned = space.reference_features();
        let free: Vec<usize> = (0..d_all).filter(|j| !pinned.contains(j)).collect();
        let d = free.len();
        let x_all = DMatrix::from_row_slice(n, d_all, &crate::space::encode_all(space, archs));
        let x = DMatrix::from_fn(n, d, |i, j| x_all[(i, free[j])]);
        let mean_x: Vec<f64> = (0..d).map(|j| x.column(j).mean()).collect();
        let mean_y = ys.iter().sum::<f64>() / n as f64;
        let xc = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - mean_x[j]);
        let yc = DVector::from_iterator(n, ys.iter().map(|v| v - mean_y));
        let mut gram = xc.transpose() * &xc;
        let scale = (0..d).map(|j| gram[(j, j)]).sum::<f64>() / d as f64;
        let rho = ridge.max(1e-12) * scale.max(1e-300);
        for j in 0..d {
            gram[(j, j)] += rho;
        }
        let rhs = xc.transpose() * yc;
        let w = gram
            .cholesky()
            .ok_or_else(|| Error::NotConverged("normal equations are not positive definite".into()))?
            .solve(&rhs);
        let intercept = ldexp(mean_y - (0..d).map(|j| mean_x[j] * w[j]).sum::<f64>(), e);
        let mut weights = vec![0.0; d_all];
        for (j, &f) in free.iter().enumerate() {
            weights[f] = ldexp(w[j], e);
        }
        let p = AdditivePredictor {
            space: space.id(),
            encoding_version: ENCODING_VERSION,
            device: device.to_string(),
            weights,
            intercept,
            proxy_terms: Vec::new(),
            structure_terms: Vec::new(),
            provenance: serde_json::json!({"fit": "least squares", "ridge": ridge, "samples": n}),
            unconstrained: None,
        };
        if p.check_positive(ProxyLatency::Modelled).is_ok() {
            return Ok(p);
        }
        p.refit_positive(&x, &free, latency, rho)
    }

    /// The least-squares fit (same ridge `rho` on the weights) under the constraint that every
    /// architecture of the space is predicted at least [`FLOOR_FRACTION`] of the smallest
    /// measured latency, by cutting planes: solve with the constraints found so far, find the
    /// architecture where the fit is lowest ([`SearchSpace::argmin_additive`]), add
    /// "prediction there >= floor" if it is below, repeat. Each round adds a violated
    /// constraint, so it only ever constrains what must be; a handful of rounds suffice on the
    /// bundled devices. Spaces with very many near-minimal architectures (the elastic ones,
    /// on strongly curved data) may need more than [`MAX_CUTS`]: then the fit falls back to
    /// non-negative weights and an intercept of at least the floor, positive because every
    /// encoding is non-negative ("no choice is cheaper than the reference one").
    fn refit_positive(mut self, x: &DMatrix<f64>, free: &[usize], latency: &[f64], rho: f64) -> Result<Self> {
        let space = self.space.space();
        self.unconstrained = Some(Unconstrained { weights: self.weights.clone(), intercept: self.intercept });
        let (n, d) = x.shape();
        // Solve on y / 2^e (exact), so that any positive finite latencies are O(1).
        let e = exponent_of_max(latency);
        let ys: Vec<f64> = latency.iter().map(|v| ldexp(*v, -e)).collect();
        let floor = FLOOR_FRACTION * ys.iter().cloned().fold(f64::INFINITY, f64::min);
        let design = DMatrix::from_fn(n, d + 1, |i, j| if j < d { x[(i, j)] } else { 1.0 });
        let mut ridge = vec![rho; d + 1];
        ridge[d] = 0.0;
        let mut cuts: Vec<Inequality> = Vec::new();
        let mut non_negative = false;
        loop {
            let u = constrained_least_squares(&design, &ys, &ridge, &cuts)?;
            for (j, &f) in free.iter().enumerate() {
                self.weights[f] = ldexp(u[j], e);
            }
            self.intercept = ldexp(u[d], e);
            let low = self.lower_bound(ProxyLatency::Modelled)?;
            if self.is_positive(low.value) {
                let how = if non_negative {
                    "non-negative least squares"
                } else {
                    "least squares, constrained to be positive over the space"
                };
                self.provenance = serde_json::json!({
                    "fit": how,
                    "floor_ms": ldexp(floor, e),
                    "cuts": if non_negative { 0 } else { cuts.len() },
                    "ridge": rho,
                    "samples": n,
                });
                return Ok(self);
            }
            if non_negative {
                return Err(Error::NotConverged(format!(
                    "no positive additive fit for '{}' (non-negative weights still predict {:e} ms)",
                    self.device, low.value
                )));
            }
            if cuts.len() == MAX_CUTS {
                non_negative = true;
                cuts = (0..=d)
                    .map(|j| Inequality {
                        row: (0..=d).map(|i| if i == j { 1.0 } else { 0.0 }).collect(),
                        at_least: if j == d { floor } else { 0.0 },
                    })
                    .collect();
                continue;
            }
            let enc = space.encode(&low.arch);
            cuts.push(Inequality { row: free.iter().map(|&f| enc[f]).chain([1.0]).collect(), at_least: floor });
        }
    }

    /// The predictor with every proxy term on its fallback model, as one additive model
    /// (weights, intercept): what [`ProxyLatency::Modelled`] predicts.
    fn fallback_model(&self) -> (Vec<f64>, f64) {
        let mut w = self.weights.clone();
        let mut c = self.intercept;
        for t in &self.proxy_terms {
            for (wi, fi) in w.iter_mut().zip(&t.fallback_weights) {
                *wi += t.coefficient * fi;
            }
            c += t.coefficient * t.fallback_intercept;
        }
        (w, c)
    }

    /// The lowest prediction over the whole space, and where.
    ///
    /// [`ProxyLatency::Modelled`]: the minimum of the predictions (proxy terms on their
    /// fallback models), exact. [`ProxyLatency::Measured`]: a lower bound of the predictions,
    /// the minimum over the table's architectures (measured cells) and over the whole space on
    /// fallback models (exact when the table holds no architecture of the space
    /// that matters, a lower bound otherwise). Both cost one pass over the encoding (plus one
    /// prediction per table row).
    pub fn lower_bound(&self, latency: ProxyLatency) -> Result<LowerBound> {
        let space = self.space.space();
        if self.weights.len() != space.num_features() {
            return Err(Error::InvalidParameter(format!(
                "predictor has {} weights, space {} has {} features",
                self.weights.len(),
                self.space,
                space.num_features()
            )));
        }
        let (w, c) = self.fallback_model();
        let mut low = if self.is_additive() {
            let arch = space.argmin_additive(&w);
            LowerBound { value: space.min_additive(&w) + c, arch, measured: false }
        } else {
            // Not additive: over the whole (enumerable, checked by `validate`) space.
            let all = space.enumerate().ok_or_else(|| {
                Error::InvalidParameter(format!("structure terms need an enumerable space, not {}", self.space))
            })?;
            let values = self.predict_modelled(&all);
            let i = (0..all.len()).fold(0, |b, i| if values[i] < values[b] { i } else { b });
            LowerBound { value: values[i], arch: all[i].clone(), measured: false }
        };
        if let (Some(table), false) = (latency.table(), self.proxy_terms.is_empty()) {
            if table.space() != self.space {
                return Err(Error::InvalidParameter(format!(
                    "the latency table is for space {}, the predictor for {}",
                    table.space(),
                    self.space
                )));
            }
            let values = self.predict_measured(table.archs(), table)?;
            for (a, v) in table.archs().iter().zip(values) {
                // A NaN counts as lower: it must surface, not hide behind the bound.
                if matches!(v.partial_cmp(&low.value), None | Some(std::cmp::Ordering::Less)) {
                    low = LowerBound { value: v, arch: a.clone(), measured: true };
                }
            }
        }
        Ok(low)
    }

    /// Whether every term is additive in the encoding (no structure terms, no pruned proxy
    /// terms): then the minimum over the space is exact from the weights.
    fn is_additive(&self) -> bool {
        self.structure_terms.is_empty() && self.proxy_terms.iter().all(|t| !t.pruned)
    }

    /// Size of the predictor's terms over the space (the largest sum of absolute contributions,
    /// fallback models included): the yardstick against which "positive" is judged.
    pub fn magnitude(&self) -> f64 {
        let space = self.space.space();
        let (w, c) = self.fallback_model();
        let abs: Vec<f64> = w.iter().map(|v| v.abs()).collect();
        // A cell has 6 edges: no count exceeds 6.
        let structure: f64 = self.structure_terms.iter().flat_map(|t| &t.weights).map(|v| 6.0 * v.abs()).sum();
        c.abs() + space.max_additive(&abs).max(0.0) + structure
    }

    /// Whether `lowest` (a [`lower_bound`](Self::lower_bound) value) counts as positive.
    pub(in crate::predictor) fn is_positive(&self, lowest: f64) -> bool {
        lowest > POSITIVE_MARGIN * self.magnitude()
    }

    /// Errors unless every prediction over the whole space, with the proxy terms' latencies
    /// from `latency`, is positive. The error names the architecture and the value.
    pub fn check_positive(&self, latency: ProxyLatency) -> Result<()> {
        let low = self.lower_bound(latency)?;
        if self.is_positive(low.value) {
            return Ok(());
        }
        let who = if self.device.is_empty() { String::new() } else { format!(" for '{}'", self.device) };
        let how = match (low.measured, self.proxy_terms.is_empty()) {
            (_, true) => "",
            (true, false) => " (with the proxy's measured latency)",
            (false, false) => " (with the proxy's fallback model)",
        };
        Err(Error::InvalidParameter(format!(
            "the predictor{who} is not positive over the {} space: it predicts {:.6e} ms for {}{how}",
            self.space,
            low.value,
            self.space.space().format(&low.arch)
        )))
    }

    /// The weights whose direction AdaProxy adapts: the plain least-squares fit's (see
    /// [`unconstrained`](Self::unconstrained)), else [`weights`](Self::weights).
    pub fn base_weights(&self) -> &[f64] {
        self.unconstrained.as_ref().map_or(&self.weights, |u| &u.weights)
    }

    /// Predictions of the plain least-squares fit (the same as [`predict`](Self::predict) of a
    /// device's own predictor unless the positivity constraint changed the fit):
    /// for ranking and spreading architectures, not as latencies. Additive part only.
    pub fn least_squares_predictions(&self, archs: &[Arch]) -> Vec<f64> {
        let Some(u) = &self.unconstrained else { return self.predict_modelled(archs) };
        let space = self.space.space();
        let mut buf = vec![0.0; space.num_features()];
        archs
            .iter()
            .map(|a| {
                space.encode_into(a, &mut buf);
                crate::stats::dot(&buf, &u.weights) + u.intercept
            })
            .collect()
    }

    /// Predicted latency of an encoded architecture, additive part only: the whole prediction
    /// of a device's own (plain) predictor.
    pub(in crate::predictor) fn predict_encoded(&self, features: &[f64]) -> f64 {
        crate::stats::dot(features, &self.weights) + self.intercept
    }

    /// Whether predictions need a latency table (the predictor has proxy terms).
    pub fn needs_table(&self) -> bool {
        !self.proxy_terms.is_empty()
    }

    /// Check that `table` holds the same measurements of this predictor's proxies as it was
    /// fitted on. The predictor's manifest (`provenance.manifest.inputs`) records the SHA-256
    /// of every file it was fitted from; a proxy whose latencies now come from a file with
    /// another hash would silently give other predictions (the same name, other numbers), so
    /// it is refused. A predictor without a manifest (written by hand) is not checked.
    pub fn check_inputs(&self, table: &LatencyTable) -> Result<()> {
        let Some(recorded) = self.provenance.pointer("/manifest/inputs").and_then(|v| v.as_array()) else {
            return Ok(());
        };
        let hashes: Vec<&str> = recorded.iter().filter_map(|i| i.get("sha256")?.as_str()).collect();
        for term in &self.proxy_terms {
            let d = table.device_index(&term.device)?;
            let source = table.devices()[d].source.to_string();
            let Some(input) = table.inputs().iter().find(|i| i.name == source) else { continue };
            if !hashes.contains(&input.sha256.as_str()) {
                return Err(Error::Refused {
                    path: source.into(),
                    reason: format!(
                        "holds other measurements of '{}' than the predictor was fitted on (its SHA-256 {} is not among the inputs the predictor records): pass the latency file it was adapted with",
                        term.device,
                        &input.sha256[..12]
                    ),
                });
            }
        }
        Ok(())
    }

    /// Predicted latencies (ms) of `archs`, with the proxy terms' latencies taken from
    /// `latency` (see [`ProxyLatency`]). Errors if a proxy term's device is not in the table.
    pub fn predict(&self, archs: &[Arch], latency: ProxyLatency) -> Result<Vec<f64>> {
        match latency {
            ProxyLatency::Measured(table) => self.predict_measured(archs, table),
            ProxyLatency::Modelled => Ok(self.predict_modelled(archs)),
        }
    }

    /// Predicted latencies with every proxy term on its fallback model.
    fn predict_modelled(&self, archs: &[Arch]) -> Vec<f64> {
        self.predict_impl(archs, &[])
    }

    /// Predicted latencies, looking proxy terms up in `table` (measured cells; the fallback
    /// model elsewhere).
    fn predict_measured(&self, archs: &[Arch], table: &LatencyTable) -> Result<Vec<f64>> {
        if self.proxy_terms.is_empty() {
            return Ok(self.predict_modelled(archs));
        }
        let cols =
            self.proxy_terms.iter().map(|t| table.device_index(&t.device).map(Some)).collect::<Result<Vec<_>>>()?;
        let rows: Vec<Option<usize>> = archs.iter().map(|a| table.row_of(a)).collect();
        let pruned_rows: Vec<Option<usize>> = if self.proxy_terms.iter().any(|t| t.pruned) {
            archs.iter().map(|a| table.row_of(&crate::space::cell::prune_dead(a))).collect()
        } else {
            Vec::new()
        };
        let lookups: Vec<Vec<f64>> = cols
            .iter()
            .zip(&self.proxy_terms)
            .map(|(c, t)| {
                let rows = if t.pruned { &pruned_rows } else { &rows };
                rows.iter().map(|r| r.and_then(|r| c.and_then(|c| table.get(r, c))).unwrap_or(f64::NAN)).collect()
            })
            .collect();
        Ok(self.predict_impl(archs, &lookups))
    }

    /// `lookups[t][i]`: measured latency of arch i for proxy term t (NaN = use the fallback).
    fn predict_impl(&self, archs: &[Arch], lookups: &[Vec<f64>]) -> Vec<f64> {
        let space = self.space.space();
        let mut buf = vec![0.0; space.num_features()];
        let any_pruned = self.proxy_terms.iter().any(|t| t.pruned);
        let mut pruned_buf = vec![0.0; if any_pruned { space.num_features() } else { 0 }];
        archs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                space.encode_into(a, &mut buf);
                if any_pruned {
                    space.encode_into(&crate::space::cell::prune_dead(a), &mut pruned_buf);
                }
                let mut v = self.predict_encoded(&buf) + self.structure_terms.iter().map(|t| t.value(a)).sum::<f64>();
                for (t, term) in self.proxy_terms.iter().enumerate() {
                    let measured = lookups.get(t).map_or(f64::NAN, |l| l[i]);
                    let base = if !measured.is_nan() {
                        measured
                    } else {
                        let x = if term.pruned { &pruned_buf } else { &buf };
                        crate::stats::dot(x, &term.fallback_weights) + term.fallback_intercept
                    };
                    v += term.coefficient * base;
                }
                v
            })
            .collect()
    }

    /// Check that the predictor matches the current encoding of its space, has finite
    /// weights, and predicts a positive latency for every architecture of the space (proxy
    /// terms on their fallback models; see [`check_positive`](Self::check_positive)).
    pub fn validate(&self) -> Result<()> {
        let d = self.space.space().num_features();
        if self.encoding_version != ENCODING_VERSION {
            return Err(Error::InvalidParameter(format!(
                "predictor uses encoding version {}, this oneproxy uses {ENCODING_VERSION}",
                self.encoding_version
            )));
        }
        if self.weights.len() != d {
            return Err(Error::InvalidParameter(format!(
                "predictor has {} weights, space {} has {d} features",
                self.weights.len(),
                self.space
            )));
        }
        for t in &self.proxy_terms {
            if t.fallback_weights.len() != d || !t.coefficient.is_finite() || !t.fallback_intercept.is_finite() {
                return Err(Error::InvalidParameter(format!("proxy term '{}' is malformed", t.device)));
            }
        }
        if !self.is_additive() && self.space != SpaceId::Nb201 {
            return Err(Error::InvalidParameter(format!(
                "structure terms and pruned proxy terms are defined for nb201 cells, not {}",
                self.space
            )));
        }
        for t in &self.structure_terms {
            let costs_ok = match &t.feature {
                CellFeature::LiveOps => true,
                CellFeature::CostliestPath { op_costs } => op_costs.iter().all(|c| c.is_finite()),
            };
            if t.weights.len() != OPS || !t.weights.iter().all(|w| w.is_finite()) || !costs_ok {
                return Err(Error::InvalidParameter(format!(
                    "structure term '{}' is malformed (needs {OPS} finite weights)",
                    t.feature.name()
                )));
            }
        }
        if !self.weights.iter().chain([&self.intercept]).all(|w| w.is_finite()) {
            return Err(Error::InvalidParameter("predictor has non-finite weights".into()));
        }
        if let Some(u) = &self.unconstrained {
            if u.weights.len() != d || !u.weights.iter().chain([&u.intercept]).all(|w| w.is_finite()) {
                return Err(Error::InvalidParameter("the predictor's unconstrained fit is malformed".into()));
            }
        }
        // Measured proxy latencies are checked where a table is at hand (`check_positive`).
        self.check_positive(ProxyLatency::Modelled)
    }

    /// Save as JSON through `out` (atomically; never over an input or a file oneproxy did not
    /// write).
    pub fn save(&self, path: &Path, out: &crate::output::Outputs) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|source| Error::Json { path: path.into(), source })?;
        out.write(path, &text)
    }

    /// Load from JSON and validate.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::data::input::read(path)?;
        Self::from_json(&bytes, path)
    }

    /// Parse JSON bytes and validate; `path` only names the source in errors. Separate from
    /// [`load`](Self::load) so that the parser can be fuzzed and tested without files.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Self> {
        let p: Self = serde_json::from_slice(bytes).map_err(|source| Error::Json { path: path.into(), source })?;
        p.validate()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Nb201;

    /// The prediction of one architecture, every proxy term on its model.
    fn at(p: &AdditivePredictor, a: &Arch) -> f64 {
        p.predict(std::slice::from_ref(a), ProxyLatency::Modelled).unwrap()[0]
    }

    #[test]
    fn recovers_an_exact_additive_model() {
        let archs = Nb201.enumerate().unwrap();
        let truth: Vec<f64> = (0..30).map(|j| (j % 5) as f64 * 0.5 + (j / 5) as f64 * 0.1).collect();
        let y: Vec<f64> = archs.iter().map(|a| crate::stats::dot(&Nb201.encode(a), &truth) + 2.0).collect();
        let p = AdditivePredictor::fit(&Nb201, "t", &archs, &y, 1e-9).unwrap();
        for (a, v) in archs.iter().zip(&y).step_by(97) {
            assert!((at(&p, a) - v).abs() < 1e-6, "{} vs {v}", at(&p, a));
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        p.save(&f, &crate::output::Outputs::default()).unwrap();
        assert_eq!(AdditivePredictor::load(&f).unwrap(), p);
    }

    #[test]
    fn refuses_too_few_samples_and_bad_files() {
        let a = Nb201.enumerate().unwrap();
        assert!(AdditivePredictor::fit(&Nb201, "t", &a[..1], &[1.0], 0.0).is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"{"space":"nb201","encoding_version":1,"device":"x","weights":[1.0],"intercept":0}"#)
            .unwrap();
        assert!(AdditivePredictor::load(&f).unwrap_err().to_string().contains("30 features"));
    }

    /// Lowest prediction over every architecture of NB201, by brute force.
    fn brute_min(p: &AdditivePredictor) -> f64 {
        p.predict(&Nb201.enumerate().unwrap(), ProxyLatency::Modelled)
            .unwrap()
            .into_iter()
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn a_least_squares_fit_below_zero_is_refitted_positive() {
        // pixel3's NB201 latencies: least squares predicts about -2.3 ms for the empty cell.
        let b = crate::data::bundled::bundle(SpaceId::Nb201).unwrap();
        let col = b.latency.device_index("pixel3").unwrap();
        let rows = b.latency.measured_rows(col);
        let archs: Vec<Arch> = rows.iter().map(|&r| b.latency.archs()[r].clone()).collect();
        let y: Vec<f64> = rows.iter().map(|&r| b.latency.column(col)[r]).collect();
        let p = AdditivePredictor::fit(&Nb201, "pixel3", &archs, &y, 1e-6).unwrap();
        let ls = p.unconstrained.clone().expect("least squares dips below zero on pixel3");
        let ls_pred =
            AdditivePredictor { weights: ls.weights, intercept: ls.intercept, unconstrained: None, ..p.clone() };
        assert!(brute_min(&ls_pred) < -1.0, "{}", brute_min(&ls_pred));
        let low = p.lower_bound(ProxyLatency::Modelled).unwrap();
        assert!((low.value - brute_min(&p)).abs() < 1e-9, "the bound is the minimum");
        let floor = FLOOR_FRACTION * y.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(low.value >= 0.9 * floor, "{} < floor {floor} (within the solver's tolerance)", low.value);
        // Still a good model of pixel3.
        let rho = crate::stats::spearman(&p.predict(&archs, ProxyLatency::Modelled).unwrap(), &y);
        assert!(rho > 0.9, "{rho}");
        // The least-squares direction is what AdaProxy and plan build on.
        assert_eq!(p.base_weights(), &p.unconstrained.as_ref().unwrap().weights[..]);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        p.save(&f, &crate::output::Outputs::default()).unwrap();
        assert_eq!(AdditivePredictor::load(&f).unwrap(), p);
    }

    #[test]
    fn elastic_fits_are_positive_whatever_the_data() {
        // A convex latency (exponential in the encoding) on OFA: a linear fit undershoots at
        // the cheap end of the space, which samples rarely reach.
        let space = crate::space::OfaMbv3;
        let mut rng = crate::space::seeded_rng(4);
        let archs: Vec<Arch> = (0..300).map(|_| space.sample(&mut rng)).collect();
        let v: Vec<f64> = (0..space.num_features()).map(|j| 0.02 + 0.01 * (j % 7) as f64).collect();
        let y: Vec<f64> = archs.iter().map(|a| (12.0 * crate::stats::dot(&space.encode(a), &v)).exp()).collect();
        let p = AdditivePredictor::fit(&space, "convex", &archs, &y, 1e-6).unwrap();
        assert!(p.unconstrained.is_some(), "the data must need the constraint");
        let low = p.lower_bound(ProxyLatency::Modelled).unwrap();
        assert!(low.value > 0.0);
        for _ in 0..2000 {
            assert!(at(&p, &space.sample(&mut rng)) >= low.value - 1e-9);
        }
    }

    #[test]
    fn predictors_that_are_not_positive_everywhere_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        let mut w = vec![1.0; 30];
        w[3] = -8.0; // nor_conv_3x3 on the first edge: 1 + 5 * 1 - 8 = -2 ms at best
        let p = AdditivePredictor {
            space: SpaceId::Nb201,
            encoding_version: ENCODING_VERSION,
            device: "board".into(),
            weights: w,
            intercept: 1.0,
            proxy_terms: Vec::new(),
            structure_terms: Vec::new(),
            provenance: serde_json::Value::Null,
            unconstrained: None,
        };
        std::fs::write(&f, serde_json::to_string(&p).unwrap()).unwrap();
        let err = AdditivePredictor::load(&f).unwrap_err().to_string();
        assert!(err.contains("not positive") && err.contains("|nor_conv_3x3~0|+") && err.contains("-2.0"), "{err}");
        // A proxy term with a negative coefficient: positive on its fallback, negative with the
        // measured latency of a slow architecture.
        let mut table = LatencyTable::new(SpaceId::Nb201);
        let all = Nb201.enumerate().unwrap();
        table
            .add_device(
                "slow",
                crate::data::DeviceSource::Computed("test".into()),
                [(all[1].clone(), 50.0), (all[2].clone(), 1.0)],
            )
            .unwrap();
        let q = AdditivePredictor {
            weights: vec![0.1; 30],
            intercept: 5.0,
            proxy_terms: vec![ProxyTerm {
                device: "slow".into(),
                coefficient: -0.2,
                fallback_weights: vec![0.1; 30],
                fallback_intercept: 1.0,
                pruned: false,
            }],
            ..p
        };
        q.validate().unwrap();
        let err = q.check_positive(ProxyLatency::Measured(&table)).unwrap_err().to_string();
        assert!(err.contains("measured latency"), "{err}");
        assert!(q.lower_bound(ProxyLatency::Measured(&table)).unwrap().measured);
    }

    #[test]
    fn proxy_terms_read_measurements_only_when_told_where() {
        let all = Nb201.enumerate().unwrap();
        let mut table = LatencyTable::new(SpaceId::Nb201);
        table.add_device("proxy", crate::data::DeviceSource::Computed("test".into()), [(all[7].clone(), 9.0)]).unwrap();
        let plain = AdditivePredictor::linear(SpaceId::Nb201, "plain", vec![0.1; 30], 1.0).unwrap();
        let adapted = AdditivePredictor {
            weights: vec![0.0; 30],
            intercept: 0.5,
            proxy_terms: vec![ProxyTerm {
                device: "proxy".into(),
                coefficient: 2.0,
                fallback_weights: vec![0.1; 30],
                fallback_intercept: 1.0,
                pruned: false,
            }],
            ..plain.clone()
        };
        let archs = [all[7].clone(), all[8].clone()];
        let modelled = adapted.predict(&archs, ProxyLatency::Modelled).unwrap();
        let measured = adapted.predict(&archs, ProxyLatency::Measured(&table)).unwrap();
        // all[7] was measured (9 ms): 0.5 + 2 * 9; all[8] was not: both read the model.
        assert_eq!(measured[0], 18.5);
        assert_ne!(modelled[0], measured[0]);
        assert_eq!(modelled[1], measured[1]);
        // Without proxy terms the table changes nothing; with them, a table without the proxy
        // is an error rather than a silent fallback.
        let empty = LatencyTable::new(SpaceId::Nb201);
        assert_eq!(
            plain.predict(&archs, ProxyLatency::Measured(&empty)).unwrap(),
            plain.predict(&archs, ProxyLatency::Modelled).unwrap()
        );
        assert!(adapted.predict(&archs, ProxyLatency::Measured(&empty)).is_err());
        assert!(AdditivePredictor::linear(SpaceId::Nb201, "short", vec![0.1; 3], 1.0).is_err());
    }

    #[test]
    fn structure_terms_predict_check_and_refuse_other_spaces() {
        let all = Nb201.enumerate().unwrap();
        let mut p = AdditivePredictor::fit(&Nb201, "d", &all[..200], &vec![1.0; 200], 1e-6).unwrap();
        p.intercept = 1.0;
        p.weights.fill(0.0);
        p.structure_terms.push(StructureTerm { feature: CellFeature::LiveOps, weights: vec![0.0, 0.1, 1.0, 3.0, 0.5] });
        p.validate().unwrap();
        let cell = Nb201.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|").unwrap();
        // Only the two skips are live: 1 + 2 * 0.1.
        assert!((at(&p, &cell) - 1.2).abs() < 1e-12);
        // The lowest prediction is the all-none cell's (nothing live).
        let low = p.lower_bound(ProxyLatency::Modelled).unwrap();
        assert_eq!((low.value, low.arch.genes().to_vec()), (1.0, vec![0; 6]));
        // A negative live cost can make it non-positive: found by enumeration.
        p.structure_terms[0].weights[3] = -1.0;
        assert!(p.validate().unwrap_err().to_string().contains("not positive"));
        p.structure_terms[0].weights = vec![0.0; 3];
        assert!(p.validate().unwrap_err().to_string().contains("malformed"));
        let mut rng = crate::space::seeded_rng(1);
        let fb: Vec<Arch> = (0..50).map(|_| crate::space::Fbnet.sample(&mut rng)).collect();
        let mut q = AdditivePredictor::fit(&crate::space::Fbnet, "d", &fb, &vec![1.0; 50], 1e-6).unwrap();
        q.structure_terms.push(StructureTerm { feature: CellFeature::LiveOps, weights: vec![0.0; 5] });
        assert!(q.validate().unwrap_err().to_string().contains("nb201"));
    }
}
