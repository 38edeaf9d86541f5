//! One correction form for one proxy on the samples, as a scaled problem for the
//! [`solver`](crate::predictor::solver): the base `z`, the standardised correction columns `C`
//! and `y / mean(y)`; and the way back from a solution to a predictor in milliseconds.
//!
//! The forms only say which columns they correct ([`Columns`]); everything else (scaling, the
//! dropping of empty columns, the base, the solver) is the same for all and lives here.

use super::cv::reference;
use super::forms::{Base, Columns, Scaling};
use super::Form;
use crate::error::Result;
use crate::predictor::additive::{AdditivePredictor, ProxyTerm};
use crate::predictor::proxies::Proxy;
use crate::predictor::scaling::{ldexp, rescale_exponent};
use crate::predictor::solver::{Conic, Penalty, Problem, Solution, Spectral};
use crate::space::Arch;
use nalgebra::{DMatrix, DVector};

/// One form for one proxy on the samples: base, correction map and the scaled data.
pub(super) struct Design {
    pub(super) form: Form,
    measured_base: bool,
    /// Feature -> correction columns (d x k).
    m: DMatrix<f64>,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    /// mean(y): the problem is solved on `y / scale`.
    scale: f64,
    /// The base is divided by this: `scale`, times a power of two when the proxy's and the
    /// target's latencies are more than 2^32 apart (any unit works; see `scaling`).
    base_scale: f64,
    /// Columns in milliseconds were divided by a further `2^column_exponent` (same reason); the
    /// penalty is rescaled to match ([`Design::solver_lambda`]), so the solution is unchanged.
    column_exponent: i32,
    z: Vec<f64>,
    pub(super) c: DMatrix<f64>,
    pub(super) y: Vec<f64>,
}

impl Design {
    /// `None` when the form does not apply (a hypothesis, or a measured base without
    /// measurements). `x` is the encoding of `archs`, `ys` is `y / scale`.
    pub(super) fn new(
        form: Form,
        proxy: &Proxy,
        x: &DMatrix<f64>,
        archs: &[Arch],
        ys: &[f64],
        scale: f64,
    ) -> Option<Self> {
        let Columns { map: m, scaling, base } = form.correction()?.columns(proxy)?;
        let space = proxy.predictor.space.space();
        // The proxy's least-squares direction (its positive fit only where it is measured).
        let w = proxy.predictor.base_weights();
        let d = w.len();
        let measured_base = base == Base::Measured;
        let (mu, sigma, column_exponent) = match scaling {
            // Columns in milliseconds (divided by `scale`).
            Scaling::Milliseconds => {
                let (k, e) = (m.ncols(), rescale_exponent(m.amax(), scale));
                (vec![0.0; k], vec![ldexp(scale, e); k], e)
            }
            // Standardised columns are O(1) already.
            Scaling::Standardised => {
                let (mu, sigma) = reference(space).column_stats(&m);
                (mu, sigma, 0)
            }
        };
        // Drop columns that carry nothing (pinned reference features, constant kinds).
        let sigma_max = sigma.iter().cloned().fold(0.0, f64::max);
        let keep: Vec<usize> =
            (0..m.ncols()).filter(|&j| sigma[j] > 1e-12 * sigma_max && m.column(j).iter().any(|v| *v != 0.0)).collect();
        let m = DMatrix::from_fn(d, keep.len(), |i, j| m[(i, keep[j])]);
        let mu: Vec<f64> = keep.iter().map(|&j| mu[j]).collect();
        let sigma: Vec<f64> = keep.iter().map(|&j| sigma[j]).collect();
        let xm = x * &m;
        let c = DMatrix::from_fn(x.nrows(), m.ncols(), |i, j| (xm[(i, j)] - mu[j]) / sigma[j]);
        let base: Vec<f64> = (0..x.nrows())
            .map(|i| {
                let row: Vec<f64> = x.row(i).iter().copied().collect();
                if measured_base {
                    proxy.latency(&archs[i], &row)
                } else {
                    crate::stats::dot(&row, w)
                }
            })
            .collect();
        let base_max = base.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let base_scale = ldexp(scale, rescale_exponent(base_max, scale));
        let z = base.iter().map(|b| b / base_scale).collect();
        Some(Design { form, measured_base, m, mu, sigma, scale, base_scale, column_exponent, z, c, y: ys.to_vec() })
    }

    /// The lambda the solver sees for `lambda` on the problem as defined (they differ only when
    /// the columns were rescaled: `b` then scales by `2^e`, a norm penalty by `2^-e`, ridge by
    /// `2^-2e`).
    pub(super) fn solver_lambda(&self, penalty: Penalty, lambda: f64) -> f64 {
        match (self.column_exponent, penalty) {
            (0, _) => lambda,
            (e, Penalty::Ridge) => ldexp(lambda, -2 * e),
            (e, _) => ldexp(lambda, -e),
        }
    }

    /// The problem on some rows (a training fold).
    pub(super) fn problem(&self, rows: &[usize]) -> Problem {
        Problem {
            z: rows.iter().map(|&i| self.z[i]).collect(),
            c: DMatrix::from_fn(rows.len(), self.c.ncols(), |r, j| self.c[(rows[r], j)]),
            y: rows.iter().map(|&i| self.y[i]).collect(),
        }
    }

    /// The problem on every sample.
    pub(super) fn full_problem(&self) -> Problem {
        Problem { z: self.z.clone(), c: self.c.clone(), y: self.y.clone() }
    }

    /// Training rows: every sample outside `test`.
    pub(super) fn training_rows(&self, test: &[usize]) -> Vec<usize> {
        let n = self.y.len();
        let mut held = vec![false; n];
        for &t in test {
            held[t] = true;
        }
        (0..n).filter(|&i| !held[i]).collect()
    }

    /// The scaled prediction of sample `i` under `s`.
    pub(super) fn predict(&self, i: usize, s: &Solution) -> f64 {
        s.a * self.z[i] + (0..self.c.ncols()).map(|j| self.c[(i, j)] * s.b[j]).sum::<f64>() + s.intercept
    }

    /// The row of `(a, c, b)` giving the scaled prediction for `arch`, with the proxy's
    /// measured latency (if it has one for `arch`) or its fallback model as the base: a linear
    /// constraint of the positive refit.
    pub(super) fn row_at(&self, proxy: &Proxy, arch: &Arch, measured: bool) -> Vec<f64> {
        let x = proxy.predictor.space.space().encode(arch);
        let base = match (self.measured_base, measured) {
            (true, true) => proxy.latency(arch, &x),
            (true, false) => proxy.predictor.predict_encoded(&x),
            (false, _) => crate::stats::dot(&x, proxy.predictor.base_weights()),
        };
        let mut row = vec![base / self.base_scale, 1.0];
        row.extend(
            (0..self.m.ncols())
                .map(|j| (crate::stats::dot(&x, self.m.column(j).as_slice()) - self.mu[j]) / self.sigma[j]),
        );
        row
    }

    /// The solution as a predictor in milliseconds.
    pub(super) fn predictor(&self, proxy: &Proxy, s: &Solution) -> AdditivePredictor {
        let p = proxy.predictor;
        let scaled: Vec<f64> = (0..self.m.ncols()).map(|j| self.scale * s.b[j] / self.sigma[j]).collect();
        let mut weights: Vec<f64> = (&self.m * DVector::from_column_slice(&scaled)).iter().copied().collect();
        let intercept = self.scale * s.intercept - scaled.iter().zip(&self.mu).map(|(b, m)| b * m).sum::<f64>();
        // y / scale = a base / base_scale + ...: in milliseconds the base's coefficient is
        // a * scale / base_scale (exactly a unless the base was rescaled).
        let coefficient = s.a * (self.scale / self.base_scale);
        let mut proxy_terms = Vec::new();
        if self.measured_base {
            proxy_terms.push(ProxyTerm {
                device: p.device.clone(),
                coefficient,
                fallback_weights: p.weights.clone(),
                fallback_intercept: p.intercept,
                pruned: false,
            });
        } else {
            for (wt, pw) in weights.iter_mut().zip(p.base_weights()) {
                *wt += coefficient * pw;
            }
        }
        AdditivePredictor {
            weights,
            intercept,
            proxy_terms,
            encoding_version: p.encoding_version,
            ..AdditivePredictor::blank(p.space)
        }
    }
}

/// Solver for one design over lambdas (lambdas as the solver sees them): the spectral solver
/// for the 2-norm and ridge (and for any penalty without correction columns), Clarabel else.
pub(super) enum Engine {
    Spectral(Spectral),
    Conic(Conic),
}

impl Engine {
    pub(super) fn new(problem: Problem, penalty: Penalty) -> Self {
        match penalty {
            // Without correction columns every penalty is the same (b is empty).
            _ if problem.c.ncols() == 0 => Engine::Spectral(Spectral::new(problem)),
            Penalty::L2 | Penalty::Ridge => Engine::Spectral(Spectral::new(problem)),
            _ => Engine::Conic(Conic::new(problem)),
        }
    }

    /// The solution at `lambda` (infinite: no correction).
    pub(super) fn solve(&self, penalty: Penalty, lambda: f64) -> Result<Solution> {
        match self {
            Engine::Spectral(s) if lambda.is_infinite() => s.solve(Penalty::L2, f64::MAX),
            Engine::Spectral(s) if s.problem().c.ncols() == 0 => s.solve(Penalty::L2, lambda),
            Engine::Spectral(s) => s.solve(penalty, lambda),
            Engine::Conic(p) if lambda.is_infinite() => Ok(p.problem().uncorrected()),
            Engine::Conic(p) => p.solve(penalty, lambda, &[]),
        }
    }
}
