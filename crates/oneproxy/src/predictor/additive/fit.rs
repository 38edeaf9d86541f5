//! The additive predictor of a device from its measurements: least squares, refitted under a
//! positivity constraint where least squares dips to zero or below somewhere in the space.

use super::{AdditivePredictor, ProxyLatency, Unconstrained, ENCODING_VERSION};
use crate::error::{Error, Result};
use crate::predictor::scaling::{exponent_of_max, ldexp};
use crate::predictor::solver::{constrained_least_squares, Inequality};
use crate::space::{Arch, SearchSpace};
use nalgebra::{DMatrix, DVector};

/// Floor of a constrained fit, as a fraction of the smallest measured latency: no architecture
/// is predicted faster than 1% of the fastest one measured.
pub(crate) const FLOOR_FRACTION: f64 = 0.01;

/// Cutting planes tried before a constrained fit settles for a simpler positive model (each
/// adds the architecture where the previous fit was lowest; a handful suffice in practice).
pub(crate) const MAX_CUTS: usize = 50;

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
            network_terms: Vec::new(),
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
}

#[cfg(test)]
mod tests {
    use super::super::at;
    use super::*;
    use crate::space::{Nb201, SpaceId};

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
}
