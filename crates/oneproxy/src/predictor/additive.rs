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

/// latency(arch) = encode(arch) . weights + intercept, in milliseconds.
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
    /// How the predictor was made (free-form, for people and the manifest).
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl AdditivePredictor {
    /// Least-squares fit on measurements, with a ridge term `ridge * mean(diag(X^T X))` on the
    /// weights (not the intercept). A tiny ridge (the default 1e-6) only resolves the
    /// collinearity of one-hot encodings (every edge's one-hots sum to 1, like the intercept),
    /// picking the minimum-norm split of cost between the intercept and the features.
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
        let d = space.num_features();
        let n = archs.len();
        let x = DMatrix::from_row_slice(n, d, &crate::space::encode_all(space, archs));
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
        Ok(AdditivePredictor {
            space: space.id(),
            encoding_version: ENCODING_VERSION,
            device: device.to_string(),
            weights: w.iter().copied().collect(),
            intercept,
            provenance: serde_json::json!({"fit": "least squares", "ridge": ridge, "samples": n}),
        })
    }

    /// Predicted latency of an encoded architecture.
    pub fn predict_encoded(&self, features: &[f64]) -> f64 {
        crate::stats::dot(features, &self.weights) + self.intercept
    }

    /// Predicted latency of an architecture.
    pub fn predict(&self, arch: &Arch) -> f64 {
        self.predict_encoded(&self.space.space().encode(arch))
    }

    /// Predicted latencies of many architectures.
    pub fn predict_all(&self, archs: &[Arch]) -> Vec<f64> {
        let space = self.space.space();
        let mut buf = vec![0.0; space.num_features()];
        archs
            .iter()
            .map(|a| {
                space.encode_into(a, &mut buf);
                self.predict_encoded(&buf)
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
        let p: Self = serde_json::from_slice(&bytes).map_err(|source| Error::Json { path: path.into(), source })?;
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
