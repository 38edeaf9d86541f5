//! The latency predictor: latency = encoding . weights + intercept, plus the terms AdaProxy adds.
//!
//! With a one-hot encoding this is the classic per-operation lookup table: the latency of a
//! network is the sum of the latencies of its operations plus a fixed cost. It is the object
//! AdaProxy adapts, and the model the paper builds on. An adapted predictor may also hold
//! [`ProxyTerm`]s (a multiple of a proxy's *measured* latency, its additive model where it has
//! not measured), for NB201, [`StructureTerm`]s (costs of the operations a cell executes), and
//! for the elastic spaces [`NetworkTerm`]s (costs per kernel launched, element moved or
//! multiply-add of the architecture's network).
//! So it is additive only in general, and one method predicts, told where the proxy terms'
//! latencies come from ([`ProxyLatency`]).
//!
//! Its jobs, one file each: the type, its terms and its predictions, checks and file (here);
//! the fit of a device's measurements (`fit.rs`); positivity over the whole space
//! (`positive.rs`).
//!
//! Positivity: a latency predictor is only usable if it predicts a positive latency for every
//! architecture a search may visit. Least squares does not ensure that (pixel3's NB201 fit
//! predicts -2.3 ms for the empty cell), so [`AdditivePredictor::fit`] refits under the
//! constraint "every prediction >= a floor" when it has to, and [`AdditivePredictor::validate`]
//! refuses predictors that are not positive over their whole space
//! ([`AdditivePredictor::lower_bound`], exact through
//! [`SearchSpace::argmin_additive`](crate::space::SearchSpace::argmin_additive)).

mod fit;
mod positive;

pub(crate) use fit::{FLOOR_FRACTION, MAX_CUTS};
pub use positive::LowerBound;

use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::network::counts::NetworkCount;
use crate::space::cell::{CellFeature, LivePaths, OpCounts, OPS};
use crate::space::{Arch, Encoded, SpaceId};
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

/// Counts weighed per op kind: a structure term's value.
fn weigh(counts: &OpCounts, weights: &[f64]) -> f64 {
    counts.iter().zip(weights).map(|(&c, w)| c as f64 * w).sum()
}

/// Where a structure term reads its counts for encoded architectures.
enum Counted<'a> {
    Live(&'a [OpCounts]),
    Path(&'a [LivePaths], &'a [f64; OPS]),
}

impl<'a> Counted<'a> {
    /// Where `feature` reads its counts for `archs`, encoded as `enc`.
    fn of(feature: &'a CellFeature, enc: &'a Encoded, archs: &[Arch]) -> Self {
        match feature {
            CellFeature::LiveOps => Counted::Live(enc.live_counts(archs)),
            CellFeature::CostliestPath { op_costs } => Counted::Path(enc.live_paths(archs), op_costs),
        }
    }

    fn at(&self, i: usize) -> OpCounts {
        match self {
            Counted::Live(c) => c[i],
            Counted::Path(p, costs) => p[i].costliest_counts(costs),
        }
    }
}

/// A term `weight * count(network(arch))` over one physical count of the architecture's network
/// ([`NetworkCount`]): a launch-bound device (a GPU at small batch) pays per kernel launched and
/// per element moved. In the elastic spaces' encoding every feature carries the factor
/// `(res/224)^2`, so a count that does not grow with the pixels (kernels follow the depth
/// alone) is not additive there; it is a count of the network. Defined for spaces whose
/// smallest and largest networks are known ([`Family::count_extremes`](crate::space::Family::count_extremes)),
/// which bound it over the space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkTerm {
    /// Which count.
    pub count: NetworkCount,
    /// Milliseconds per unit counted, `>= 0` (a kernel or an element never makes a network
    /// faster, and the bound over the space relies on it).
    pub weight: f64,
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
    /// Terms over physical counts of the architecture's network (elastic spaces only; empty
    /// for a plain additive predictor). See [`NetworkTerm`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(in crate::predictor) network_terms: Vec<NetworkTerm>,
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
            network_terms: Vec::new(),
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

    /// Terms over physical counts of the architecture's network (see [`NetworkTerm`]).
    pub fn network_terms(&self) -> &[NetworkTerm] {
        &self.network_terms
    }

    /// The network terms' part of the prediction of `arch` (0 without network terms: the
    /// network is only built when a term needs it).
    fn network_value(&self, arch: &Arch) -> f64 {
        self.network_parts(arch).iter().map(|(w, c)| w * c).sum()
    }

    /// Each network term's weight with its count for `arch` (empty without network terms).
    fn network_parts(&self, arch: &Arch) -> Vec<(f64, f64)> {
        if self.network_terms.is_empty() {
            return Vec::new();
        }
        let counts = NetworkCount::all_of(&self.space.network(arch));
        self.network_terms.iter().map(|t| (t.weight, counts[t.count.index()])).collect()
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
            .chain(self.network_terms.iter().map(|t| &t.weight))
            .all(|v| v.is_finite())
            && self.proxy_terms.iter().all(|t| t.coefficient.is_finite())
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
        self.predict_without_lookups(archs, None)
    }

    /// Predicted latencies with every proxy term on its fallback model, `archs` encoded as
    /// `table` keeps its rows if they are its rows.
    fn predict_without_lookups(&self, archs: &[Arch], table: Option<&LatencyTable>) -> Vec<f64> {
        self.predict_encoding(archs, table, &[])
    }

    /// [`predict_impl`](Self::predict_impl) on the encoding of `archs` that the space or `table`
    /// keeps ([`kept_encoding`](Self::kept_encoding)), else on one made for the call.
    fn predict_encoding(&self, archs: &[Arch], table: Option<&LatencyTable>, lookups: &[Vec<f64>]) -> Vec<f64> {
        match self.kept_encoding(archs, table) {
            Some(enc) => self.predict_impl(archs, enc, lookups),
            None => self.predict_impl(archs, &Encoded::new(self.space, archs), lookups),
        }
    }

    /// The encoding of `archs` kept by the space (`archs` is the whole enumerated space) or by
    /// `table` (`archs` is its rows), if it is one of those: the flow predicts them on every
    /// refit, and encoding them each time cost more than the prediction.
    fn kept_encoding<'a>(&self, archs: &[Arch], table: Option<&'a LatencyTable>) -> Option<&'a Encoded> {
        if let Some(all) = self.space.enumerated().filter(|all| std::ptr::eq(*all, archs)) {
            return Encoded::enumerated(self.space).filter(|e| e.len() == all.len());
        }
        table.filter(|t| t.space() == self.space && std::ptr::eq(t.archs(), archs)).map(LatencyTable::encoded)
    }

    /// Predicted latencies, looking proxy terms up in `table` (measured cells; the fallback
    /// model elsewhere).
    fn predict_measured(&self, archs: &[Arch], table: &LatencyTable) -> Result<Vec<f64>> {
        if self.proxy_terms.is_empty() {
            return Ok(self.predict_without_lookups(archs, Some(table)));
        }
        let cols =
            self.proxy_terms.iter().map(|t| table.device_index(&t.device).map(Some)).collect::<Result<Vec<_>>>()?;
        let rows = table_rows(archs, table);
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
        Ok(self.predict_encoding(archs, Some(table), &lookups))
    }

    /// `lookups[t][i]`: measured latency of arch i for proxy term t (NaN = use the fallback);
    /// `enc`: `archs` encoded.
    fn predict_impl(&self, archs: &[Arch], enc: &Encoded, lookups: &[Vec<f64>]) -> Vec<f64> {
        // What each term reads, looked up once for every architecture.
        let structure: Vec<(Counted, &[f64])> =
            self.structure_terms.iter().map(|t| (Counted::of(&t.feature, enc, archs), &t.weights[..])).collect();
        let networks = (!self.network_terms.is_empty()).then(|| enc.network_counts(archs));
        // The pruned cells are encoded on first need (most lookups are measured).
        let mut pruned: Option<&Encoded> = None;
        (0..archs.len())
            .map(|i| {
                let structure_value: f64 = structure.iter().map(|(c, w)| weigh(&c.at(i), w)).sum();
                // The empty sum without network terms, as `network_value` gives it.
                let network_value: f64 = match networks {
                    Some(n) => self.network_terms.iter().map(|t| t.weight * n[i][t.count.index()]).sum(),
                    None => std::iter::empty::<f64>().sum(),
                };
                let mut v = enc.dot(i, &self.weights) + self.intercept + structure_value + network_value;
                for (t, term) in self.proxy_terms.iter().enumerate() {
                    let measured = lookups.get(t).map_or(f64::NAN, |l| l[i]);
                    let base = if !measured.is_nan() {
                        measured
                    } else {
                        let x = if term.pruned { *pruned.get_or_insert_with(|| enc.pruned(archs)) } else { enc };
                        x.dot(i, &term.fallback_weights) + term.fallback_intercept
                    };
                    v += term.coefficient * base;
                }
                v
            })
            .collect()
    }

    /// The structure terms' part of the prediction of `arch`, as [`predict_impl`](Self::predict_impl)
    /// sums it.
    pub(super) fn structure_value_of(&self, arch: &Arch) -> f64 {
        let archs = std::slice::from_ref(arch);
        let enc = Encoded::new(self.space, archs);
        self.structure_terms.iter().map(|t| weigh(&Counted::of(&t.feature, &enc, archs).at(0), &t.weights)).sum()
    }

    /// Check that the predictor matches the current encoding of its space, has finite
    /// weights, and predicts a positive latency for every architecture of the space (proxy
    /// terms on their fallback models; see [`check_positive`](Self::check_positive)).
    pub fn validate(&self) -> Result<()> {
        self.validate_with(None)
    }

    /// [`validate`](Self::validate), and positive with the measured latencies of `measured` too
    /// ([`check_positive`](Self::check_positive)), the bound over the space computed once.
    pub(crate) fn validate_with(&self, measured: Option<&LatencyTable>) -> Result<()> {
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
        let cell_terms = !self.structure_terms.is_empty() || self.proxy_terms.iter().any(|t| t.pruned);
        if cell_terms && !self.space.family().has_cells() {
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
        if !self.network_terms.is_empty() && self.space.family().count_extremes().is_none() {
            return Err(Error::InvalidParameter(format!(
                "network terms are defined for spaces whose smallest and largest networks are known (the elastic spaces), not {}",
                self.space
            )));
        }
        if let Some(t) = self.network_terms.iter().find(|t| !(t.weight.is_finite() && t.weight >= 0.0)) {
            return Err(Error::InvalidParameter(format!(
                "network term '{}' is malformed (needs a finite weight >= 0, has {})",
                t.count.name(),
                t.weight
            )));
        }
        if !self.weights.iter().chain([&self.intercept]).all(|w| w.is_finite()) {
            return Err(Error::InvalidParameter("predictor has non-finite weights".into()));
        }
        if let Some(u) = &self.unconstrained {
            if u.weights.len() != d || !u.weights.iter().chain([&u.intercept]).all(|w| w.is_finite()) {
                return Err(Error::InvalidParameter("the predictor's unconstrained fit is malformed".into()));
            }
        }
        // Measured proxy latencies are checked where a table is at hand.
        self.check_positive_both(measured)
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

/// The prediction of one architecture, every proxy term on its model (for the tests).
/// The row of each of `archs` in `table`. Flows predict the whole table, or its rows in
/// order, at every refit: then the rows are known without hashing each architecture.
fn table_rows(archs: &[Arch], table: &LatencyTable) -> Vec<Option<usize>> {
    let all = table.archs();
    let in_order = std::ptr::eq(archs, all) || (archs.len() == all.len() && archs.iter().zip(all).all(|(a, b)| a == b));
    if in_order {
        (0..archs.len()).map(Some).collect()
    } else {
        archs.iter().map(|a| table.row_of(a)).collect()
    }
}

#[cfg(test)]
fn at(p: &AdditivePredictor, a: &Arch) -> f64 {
    p.predict(std::slice::from_ref(a), ProxyLatency::Modelled).unwrap()[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Nb201, SearchSpace};

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

    #[test]
    fn network_terms_predict_bound_and_refuse_spaces_without_count_extremes() {
        let space = SpaceId::OfaMbv3;
        let [small, large] = space.family().count_extremes().unwrap();
        let counts = |a: &Arch| NetworkCount::all_of(&space.network(a));
        let mut p = AdditivePredictor { intercept: -1.0, ..AdditivePredictor::blank(space) };
        p.network_terms.push(NetworkTerm { count: NetworkCount::Kernels, weight: 0.05 });
        p.validate().unwrap();
        // -1 ms plus 0.05 ms per kernel; the lowest at the smallest network, and saved files
        // keep the terms.
        assert!((at(&p, &large) - (-1.0 + 0.05 * counts(&large)[0])).abs() < 1e-9);
        let low = p.lower_bound(ProxyLatency::Modelled).unwrap();
        assert!((low.value - at(&p, &small)).abs() < 1e-9);
        let back: AdditivePredictor = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        // A plain predictor's file has no network terms field.
        let plain = AdditivePredictor { network_terms: Vec::new(), intercept: 1.0, ..p.clone() };
        assert!(!serde_json::to_string(&plain).unwrap().contains("network_terms"));
        // Too negative an intercept is caught at the smallest network.
        p.intercept = -0.06 * counts(&small)[0];
        assert!(p.validate().unwrap_err().to_string().contains("not positive"));
        p.intercept = 1.0;
        p.network_terms[0].weight = -0.01;
        assert!(p.validate().unwrap_err().to_string().contains("malformed"));
        // FBNet has no smallest network in every count: no bound, so no network terms.
        let mut q = AdditivePredictor { intercept: 1.0, ..AdditivePredictor::blank(SpaceId::Fbnet) };
        q.network_terms.push(NetworkTerm { count: NetworkCount::Traffic, weight: 1e-6 });
        assert!(q.validate().unwrap_err().to_string().contains("elastic"));
    }
}
