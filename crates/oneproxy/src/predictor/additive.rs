//! The additive latency predictor: latency = encoding . weights + intercept.
//!
//! With a one-hot encoding this is the classic per-operation lookup table: the latency of a
//! network is the sum of the latencies of its operations plus a fixed cost. It is the object
//! AdaProxy adapts, and the model the paper builds on.

use crate::error::{Error, Result};
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
}

/// latency(arch) = encode(arch) . weights + intercept (+ proxy terms), in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdditivePredictor {
    /// Space of the encoding.
    pub space: SpaceId,
    /// Encoding version ([`ENCODING_VERSION`] when written).
    pub encoding_version: u32,
    /// Device whose latency this predicts.
    pub device: String,
    /// One weight per encoding feature (ms).
    pub weights: Vec<f64>,
    /// Fixed cost (ms).
    pub intercept: f64,
    /// Terms proportional to a proxy device's *measured* latency (empty for a plain additive
    /// predictor). See [`ProxyTerm`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_terms: Vec<ProxyTerm>,
    /// How the predictor was made (free-form, for people and the manifest).
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl AdditivePredictor {
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
        let d_all = space.num_features();
        let n = archs.len();
        let pinned = space.reference_features();
        let free: Vec<usize> = (0..d_all).filter(|j| !pinned.contains(j)).collect();
        let d = free.len();
        let x_all = DMatrix::from_row_slice(n, d_all, &crate::space::encode_all(space, archs));
        let x = DMatrix::from_fn(n, d, |i, j| x_all[(i, free[j])]);
        let mean_x: Vec<f64> = (0..d).map(|j| x.column(j).mean()).collect();
        let mean_y = latency.iter().sum::<f64>() / n as f64;
        let xc = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - mean_x[j]);
        let yc = DVector::from_iterator(n, latency.iter().map(|v| v - mean_y));
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
        let intercept = mean_y - (0..d).map(|j| mean_x[j] * w[j]).sum::<f64>();
        let mut weights = vec![0.0; d_all];
        for (j, &f) in free.iter().enumerate() {
            weights[f] = w[j];
        }
        Ok(AdditivePredictor {
            space: space.id(),
            encoding_version: ENCODING_VERSION,
            device: device.to_string(),
            weights,
            intercept,
            proxy_terms: Vec::new(),
            provenance: serde_json::json!({"fit": "least squares", "ridge": ridge, "samples": n}),
        })
    }

    /// Predicted latency of an encoded architecture (additive part only).
    pub fn predict_encoded(&self, features: &[f64]) -> f64 {
        crate::stats::dot(features, &self.weights) + self.intercept
    }

    /// Whether predictions need a latency table (the predictor has proxy terms).
    pub fn needs_table(&self) -> bool {
        !self.proxy_terms.is_empty()
    }

    /// Predicted latency of an architecture; proxy terms use their fallback model.
    pub fn predict(&self, arch: &Arch) -> f64 {
        self.predict_all(std::slice::from_ref(arch))[0]
    }

    /// Predicted latencies; proxy terms use the fallback (additive) model of their proxy.
    pub fn predict_all(&self, archs: &[Arch]) -> Vec<f64> {
        self.predict_impl(archs, &[])
    }

    /// Predicted latencies, looking proxy terms up in `table` (measured cells; the fallback
    /// model elsewhere). Errors if a proxy term's device is not in the table.
    pub fn predict_with(&self, archs: &[Arch], table: &crate::table::LatencyTable) -> Result<Vec<f64>> {
        let cols = self
            .proxy_terms
            .iter()
            .map(|t| table.device_index(&t.device).map(Some))
            .collect::<Result<Vec<_>>>()?;
        let rows: Vec<Option<usize>> = archs.iter().map(|a| table.row_of(a)).collect();
        let lookups: Vec<Vec<f64>> = cols
            .iter()
            .map(|c| rows.iter().map(|r| r.and_then(|r| c.and_then(|c| table.get(r, c))).unwrap_or(f64::NAN)).collect())
            .collect();
        Ok(self.predict_impl(archs, &lookups))
    }

    /// `lookups[t][i]`: measured latency of arch i for proxy term t (NaN = use the fallback).
    fn predict_impl(&self, archs: &[Arch], lookups: &[Vec<f64>]) -> Vec<f64> {
        let space = self.space.space();
        let mut buf = vec![0.0; space.num_features()];
        archs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                space.encode_into(a, &mut buf);
                let mut v = self.predict_encoded(&buf);
                for (t, term) in self.proxy_terms.iter().enumerate() {
                    let measured = lookups.get(t).map_or(f64::NAN, |l| l[i]);
                    let base = if measured.is_nan() {
                        crate::stats::dot(&buf, &term.fallback_weights) + term.fallback_intercept
                    } else {
                        measured
                    };
                    v += term.coefficient * base;
                }
                v
            })
            .collect()
    }

    /// Check that the predictor matches the current encoding of its space.
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
        if !self.weights.iter().chain([&self.intercept]).all(|w| w.is_finite()) {
            return Err(Error::InvalidParameter("predictor has non-finite weights".into()));
        }
        Ok(())
    }

    /// Save as JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|source| Error::Json { path: path.into(), source })?;
        crate::util::write_atomic(path, &text)
    }

    /// Load from JSON and validate.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
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

    #[test]
    fn recovers_an_exact_additive_model() {
        let archs = Nb201.enumerate().unwrap();
        let truth: Vec<f64> = (0..30).map(|j| (j % 5) as f64 * 0.5 + (j / 5) as f64 * 0.1).collect();
        let y: Vec<f64> =
            archs.iter().map(|a| crate::stats::dot(&Nb201.encode(a), &truth) + 2.0).collect();
        let p = AdditivePredictor::fit(&Nb201, "t", &archs, &y, 1e-9).unwrap();
        for (a, v) in archs.iter().zip(&y).step_by(97) {
            assert!((p.predict(a) - v).abs() < 1e-6, "{} vs {v}", p.predict(a));
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        p.save(&f).unwrap();
        assert_eq!(AdditivePredictor::load(&f).unwrap(), p);
    }

    #[test]
    fn refuses_too_few_samples_and_bad_files() {
        let a = Nb201.enumerate().unwrap();
        assert!(AdditivePredictor::fit(&Nb201, "t", &a[..1], &[1.0], 0.0).is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"{"space":"nb201","encoding_version":1,"device":"x","weights":[1.0],"intercept":0}"#).unwrap();
        assert!(AdditivePredictor::load(&f).unwrap_err().to_string().contains("30 features"));
    }
}
