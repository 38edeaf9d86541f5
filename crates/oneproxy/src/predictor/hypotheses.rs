//! Hypotheses about a target beyond "one proxy, corrected": how the target executes a cell,
//! what several proxies say together, and what the pool says per-edge weights usually are.
//!
//! The correction forms of [`adapt`](super::adapt) all assume the target runs the cell the way
//! the proxy does. A device from another runtime may not: a graph compiler removes dead
//! operations ([`CellFeature::LiveOps`]), a parallel executor is bounded by the costliest path
//! ([`CellFeature::CostliestPath`]). Each hypothesis here is a model with its own
//! hyper-parameter chosen by leave-one-out on the samples, and competes with the correction
//! forms in the LOO-weighted average of [`adapt_pool`](super::adapt_pool):
//!
//! | form | model (on `y / mean(y)`) |
//! |---|---|
//! | [`Form::LiveOps`] | `c + sum over op kinds of beta * live count`, `beta >= 0`, ridge (NB201) |
//! | [`Form::LivePath`] | the same plus `gamma >=0` per op kind on the costliest path, costs from the live fit |
//! | [`Form::Stacking`] | `c + sum over pool devices of beta * latency`, `beta >= 0`, ridge |
//! | [`Form::PrunedStacking`] | the same on the pool's latencies of the cell with its dead operations removed (NB201) |
//! | [`Form::PoolPrior`] | one-hot weights with a Gaussian prior whose mean and covariance are those of the pool devices' additive weights (each scaled to mean latency 1) |
//!
//! Non-negative weights keep the fits physical (an operation does not make a network faster)
//! and, for the count models, positive everywhere: the cheapest cell is the one with no live
//! operation, predicted at the intercept. Every fit is still checked positive over the space
//! before it is averaged.

use super::adapt::{lambda_order, mse, reference, Form, Proxy, LOO_REFIT_LIMIT};
use super::additive::{AdditivePredictor, ProxyTerm, StructureTerm};
use super::solver::nonnegative_quadratic;
use crate::space::cell::{CellFeature, OpCounts, OPS};
use crate::space::{Arch, SpaceId};
use nalgebra::{DMatrix, DVector};

/// One hypothesis fitted on all samples, with its cross-validation.
pub(crate) struct Fitted {
    pub form: Form,
    /// Its hyper-parameter: the ridge weight, or for [`Form::PoolPrior`] the noise-to-prior ratio.
    pub lambda: f64,
    pub cv_error: f64,
    /// Held-out predictions (scaled), NaN where never held out.
    pub held_out: Vec<f64>,
    /// The model in milliseconds (device name empty).
    pub predictor: AdditivePredictor,
    /// Pool devices whose latency at some sample came from their fitted model, not a
    /// measurement ([`Form::Stacking`] only).
    pub filled: Vec<String>,
}

/// Ridge weights tried (times the number of samples in a fit), strongest last.
const RIDGE_GRID: [f64; 8] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];

/// Every hypothesis that applies to the space and pool, fitted on `(archs, ys)` (ys = latency /
/// `scale`) and validated on `tests` (held-out sets). Hypotheses whose fit is not positive over
/// the space are left out.
pub(crate) fn fit_all(proxies: &[Proxy], archs: &[Arch], ys: &[f64], scale: f64, tests: &[Vec<usize>]) -> Vec<Fitted> {
    let space = proxies[0].predictor.space;
    let table = proxies.iter().find_map(|p| p.measured.map(|(t, _)| t));
    let mut out = Vec::new();
    if space == SpaceId::Nb201 {
        let live = count_columns(archs, &CellFeature::LiveOps);
        if let Some(fit) = NonNegativeRidge::new(live.clone(), ys).fit(tests) {
            // The live fit's per-op costs decide which path is costliest.
            let per_op = fit.per_column();
            let mut op_costs = [0.0; OPS];
            op_costs[1..].copy_from_slice(&per_op);
            let path_feature = CellFeature::CostliestPath { op_costs };
            out.push(fit.into_counts(Form::LiveOps, scale, &[CellFeature::LiveOps]));
            if per_op.iter().any(|v| *v > 0.0) {
                let path = count_columns(archs, &path_feature);
                let both = DMatrix::from_fn(archs.len(), 2 * (OPS - 1), |i, j| {
                    if j < OPS - 1 {
                        live[(i, j)]
                    } else {
                        path[(i, j + 1 - OPS)]
                    }
                });
                if let Some(fit) = NonNegativeRidge::new(both, ys).fit(tests) {
                    out.push(fit.into_counts(Form::LivePath, scale, &[CellFeature::LiveOps, path_feature]));
                }
            }
        }
    }
    if proxies.len() >= 2 {
        if let Some(h) = stacking(proxies, archs, ys, scale, tests, false) {
            out.push(h);
        }
        if space == SpaceId::Nb201 {
            if let Some(h) = stacking(proxies, archs, ys, scale, tests, true) {
                out.push(h);
            }
        }
        if let Some(h) = pool_prior(proxies, archs, ys, scale) {
            out.push(h);
        }
    }
    // Finite (a degenerate fit is dropped, not averaged) and positive over the space.
    out.retain(|h| {
        let p = &h.predictor;
        let finite = p
            .weights
            .iter()
            .chain([&p.intercept])
            .chain(p.structure_terms.iter().flat_map(|t| &t.weights))
            .all(|v| v.is_finite())
            && p.proxy_terms.iter().all(|t| t.coefficient.is_finite());
        finite && p.lower_bound(table).is_ok_and(|low| p.is_positive(low.value))
    });
    out
}

/// Per-op counts of `feature` (op kinds 1.., `none` left out), one row per sample.
fn count_columns(archs: &[Arch], feature: &CellFeature) -> DMatrix<f64> {
    let counts: Vec<OpCounts> = archs.iter().map(|a| feature.counts(a.genes())).collect();
    DMatrix::from_fn(archs.len(), OPS - 1, |i, j| counts[i][j + 1] as f64)
}

/// `y ~ c + F beta`, `beta >= 0`, penalty `lambda * rows * |beta|^2` on columns scaled to unit
/// spread over the samples; `c` free.
struct NonNegativeRidge {
    /// Columns divided by `spread`.
    f: DMatrix<f64>,
    spread: Vec<f64>,
    y: Vec<f64>,
}

/// A [`NonNegativeRidge`] fitted on all samples at its validated lambda.
struct RidgeFit {
    problem: NonNegativeRidge,
    beta: DVector<f64>,
    intercept: f64,
    lambda: f64,
    cv_error: f64,
    held_out: Vec<f64>,
}

impl NonNegativeRidge {
    fn new(f: DMatrix<f64>, y: &[f64]) -> Self {
        let n = f.nrows() as f64;
        let spread: Vec<f64> = f
            .column_iter()
            .map(|c| {
                let m = c.sum() / n;
                let s = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
                if s > 1e-12 {
                    s
                } else {
                    0.0
                }
            })
            .collect();
        let f =
            DMatrix::from_fn(f.nrows(), f.ncols(), |i, j| if spread[j] > 0.0 { f[(i, j)] / spread[j] } else { 0.0 });
        NonNegativeRidge { f, spread, y: y.to_vec() }
    }

    /// The centred normal equations on the given rows, shared by every lambda.
    fn normal(&self, rows: &[usize]) -> Normal {
        let (m, k) = (rows.len() as f64, self.f.ncols());
        let mean_f: Vec<f64> = (0..k).map(|j| rows.iter().map(|&i| self.f[(i, j)]).sum::<f64>() / m).collect();
        let mean_y = rows.iter().map(|&i| self.y[i]).sum::<f64>() / m;
        let fc = DMatrix::from_fn(rows.len(), k, |r, j| self.f[(rows[r], j)] - mean_f[j]);
        let yc = DVector::from_iterator(rows.len(), rows.iter().map(|&i| self.y[i] - mean_y));
        Normal { gram: fc.transpose() * &fc, rhs: fc.transpose() * yc, mean_f, mean_y, rows: m }
    }

    fn predict(&self, i: usize, beta: &DVector<f64>, intercept: f64) -> f64 {
        intercept + (0..beta.len()).map(|j| self.f[(i, j)] * beta[j]).sum::<f64>()
    }

    /// Validate every lambda of [`RIDGE_GRID`] on `tests` and fit the best on all samples;
    /// `None` when no column varies over the samples. Each fold forms its normal equations once
    /// for every lambda, and finds its training rows through a mask: searching the test set
    /// for each sample cost `n * n / k` comparisons per fold, O(n^2) in all (10 folds of
    /// 1,562 at 15,625 samples: 2.4e8 per hypothesis).
    fn fit(self, tests: &[Vec<usize>]) -> Option<RidgeFit> {
        if self.spread.iter().all(|&s| s == 0.0) {
            return None;
        }
        let n = self.y.len();
        let mut preds = vec![vec![f64::NAN; n]; RIDGE_GRID.len()];
        let mut held = vec![false; n];
        for test in tests {
            test.iter().for_each(|&t| held[t] = true);
            let train: Vec<usize> = (0..n).filter(|&i| !held[i]).collect();
            test.iter().for_each(|&t| held[t] = false);
            let normal = self.normal(&train);
            for (li, &lambda) in RIDGE_GRID.iter().enumerate() {
                let (beta, c) = normal.solve(lambda);
                for &t in test {
                    preds[li][t] = self.predict(t, &beta, c);
                }
            }
        }
        let errors: Vec<f64> = preds.iter().map(|p| mse(p, &self.y)).collect();
        let best = lambda_order(&errors)[0];
        let all: Vec<usize> = (0..n).collect();
        let (beta, intercept) = self.normal(&all).solve(RIDGE_GRID[best]);
        let held_out = preds.swap_remove(best);
        Some(RidgeFit { problem: self, beta, intercept, lambda: RIDGE_GRID[best], cv_error: errors[best], held_out })
    }
}

/// `F^T F` and `F^T y` of the centred columns on some rows, with the means that centred them.
struct Normal {
    gram: DMatrix<f64>,
    rhs: DVector<f64>,
    mean_f: Vec<f64>,
    mean_y: f64,
    /// Number of rows, which scales the penalty.
    rows: f64,
}

impl Normal {
    /// `(beta, c)` at `lambda`.
    fn solve(&self, lambda: f64) -> (DVector<f64>, f64) {
        let mut g = self.gram.clone();
        for j in 0..g.ncols() {
            g[(j, j)] += lambda * self.rows;
        }
        let beta = nonnegative_quadratic(&g, &self.rhs);
        let intercept = self.mean_y - (0..beta.len()).map(|j| self.mean_f[j] * beta[j]).sum::<f64>();
        (beta, intercept)
    }
}

impl RidgeFit {
    /// Scaled-problem weight per original (unscaled) column.
    fn per_column(&self) -> Vec<f64> {
        (0..self.beta.len())
            .map(|j| if self.problem.spread[j] > 0.0 { self.beta[j] / self.problem.spread[j] } else { 0.0 })
            .collect()
    }

    /// The fit as a predictor of structure terms: `features[t]` owns columns `4t..4t+4`.
    fn into_counts(self, form: Form, scale: f64, features: &[CellFeature]) -> Fitted {
        let per = self.per_column();
        let structure_terms = features
            .iter()
            .enumerate()
            .map(|(t, feature)| {
                let mut weights = vec![0.0; OPS];
                for o in 1..OPS {
                    weights[o] = scale * per[t * (OPS - 1) + o - 1];
                }
                StructureTerm { feature: feature.clone(), weights }
            })
            .collect();
        let predictor =
            AdditivePredictor { structure_terms, intercept: scale * self.intercept, ..blank(SpaceId::Nb201) };
        Fitted {
            form,
            lambda: self.lambda,
            cv_error: self.cv_error,
            held_out: self.held_out,
            predictor,
            filled: Vec::new(),
        }
    }
}

/// A predictor of `space` that predicts 0 everywhere, to be filled in.
fn blank(space: SpaceId) -> AdditivePredictor {
    AdditivePredictor {
        space,
        encoding_version: super::ENCODING_VERSION,
        device: String::new(),
        weights: vec![0.0; space.space().num_features()],
        intercept: 0.0,
        proxy_terms: Vec::new(),
        structure_terms: Vec::new(),
        provenance: serde_json::Value::Null,
        unconstrained: None,
    }
}

/// Non-negative ridge on the pool devices' latencies at the samples (measured where the
/// device has them, its fitted model elsewhere: those devices are listed in `filled`); with
/// `pruned`, their latencies of the samples with dead operations removed.
fn stacking(
    proxies: &[Proxy],
    archs: &[Arch],
    ys: &[f64],
    scale: f64,
    tests: &[Vec<usize>],
    pruned: bool,
) -> Option<Fitted> {
    let space = proxies[0].predictor.space.space();
    let n = archs.len();
    let mut filled = Vec::new();
    let mut f = DMatrix::zeros(n, proxies.len());
    let read: Vec<Arch> =
        archs.iter().map(|a| if pruned { crate::space::cell::prune_dead(a) } else { a.clone() }).collect();
    let encoded: Vec<Vec<f64>> = read.iter().map(|a| space.encode(a)).collect();
    for (d, p) in proxies.iter().enumerate() {
        let mut any_filled = false;
        for (i, a) in read.iter().enumerate() {
            any_filled |= p.measured.is_some_and(|(t, c)| t.latency(a, c).is_none());
            f[(i, d)] = p.latency(a, &encoded[i]);
        }
        if any_filled {
            filled.push(p.predictor.device.clone());
        }
    }
    let fit = NonNegativeRidge::new(f, ys).fit(tests)?;
    let per = fit.per_column();
    let mut predictor = AdditivePredictor { intercept: scale * fit.intercept, ..blank(proxies[0].predictor.space) };
    for (p, &w) in proxies.iter().zip(&per) {
        if w <= 0.0 {
            continue;
        }
        let coefficient = scale * w;
        let q = p.predictor;
        if p.measured.is_some() || pruned {
            predictor.proxy_terms.push(ProxyTerm {
                device: q.device.clone(),
                coefficient,
                fallback_weights: q.weights.clone(),
                fallback_intercept: q.intercept,
                pruned,
            });
        } else {
            for (t, v) in predictor.weights.iter_mut().zip(&q.weights) {
                *t += coefficient * v;
            }
            predictor.intercept += coefficient * q.intercept;
        }
    }
    filled.retain(|d| predictor.proxy_terms.iter().any(|t| &t.device == d));
    let form = if pruned { Form::PrunedStacking } else { Form::Stacking };
    Some(Fitted { form, lambda: fit.lambda, cv_error: fit.cv_error, held_out: fit.held_out, predictor, filled })
}

/// Noise-to-prior variance ratios tried by [`pool_prior`] (relative to the prior's mean
/// variance at the samples), smallest first.
const PRIOR_RATIOS: [f64; 8] = [1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0];

/// Bayesian linear regression on the one-hot encoding (with the intercept as a last feature)
/// whose prior is the pool: the mean and covariance of the proxies' additive weights, each
/// proxy scaled to a mean latency of 1 over the space, times a scale fitted on the samples.
/// The noise-to-prior ratio is chosen by the exact leave-one-out of Gaussian-process
/// regression, computed by [`kernel_loo`] or, on many samples, by [`weight_space_loo`].
fn pool_prior(proxies: &[Proxy], archs: &[Arch], ys: &[f64], scale: f64) -> Option<Fitted> {
    let problem = PriorProblem::new(proxies, archs, ys)?;
    let fit = problem.leave_one_out(ys)?;
    let d = problem.x.ncols();
    let w = &problem.mu * problem.s + fit.deviation;
    let predictor = AdditivePredictor {
        weights: w.iter().take(d - 1).map(|v| v * scale).collect(),
        intercept: w[d - 1] * scale,
        ..blank(proxies[0].predictor.space)
    };
    Some(Fitted {
        form: Form::PoolPrior,
        lambda: fit.ratio,
        cv_error: fit.cv_error,
        held_out: fit.held_out,
        predictor,
        filled: Vec::new(),
    })
}

/// The pool prior's regression on the samples (scaled problem): `ys ~ X w`, `w` drawn from
/// `N(s mu, s^2 sigma)`.
struct PriorProblem {
    mu: DVector<f64>,
    sigma: DMatrix<f64>,
    /// The one-hot encoding of the samples with a last column of ones (n x d).
    x: DMatrix<f64>,
    /// The prior's scale, fitted on the samples.
    s: f64,
    /// The samples minus the prior mean's predictions.
    resid: DVector<f64>,
}

impl PriorProblem {
    /// `None` with fewer than two usable proxies, or when the prior mean does not fit the
    /// samples with a positive scale.
    fn new(proxies: &[Proxy], archs: &[Arch], ys: &[f64]) -> Option<Self> {
        let space = proxies[0].predictor.space.space();
        let r = reference(space);
        let d = space.num_features() + 1;
        let vs: Vec<DVector<f64>> = proxies
            .iter()
            .filter_map(|p| {
                let w = p.predictor.base_weights();
                let c = p.predictor.unconstrained.as_ref().map_or(p.predictor.intercept, |u| u.intercept);
                let mean = r.mean.dot(&DVector::from_column_slice(w)) + c;
                (mean > 0.0).then(|| DVector::from_iterator(d, w.iter().copied().chain([c]).map(|v| v / mean)))
            })
            .collect();
        if vs.len() < 2 {
            return None;
        }
        let k = vs.len() as f64;
        let mu = vs.iter().fold(DVector::zeros(d), |a, v| a + v) / k;
        let mut sigma = vs.iter().fold(DMatrix::zeros(d, d), |a, v| a + (v - &mu) * (v - &mu).transpose()) / (k - 1.0);
        let ridge = 1e-6 * sigma.trace() / d as f64;
        for j in 0..d {
            sigma[(j, j)] += ridge.max(1e-300);
        }
        let n = archs.len();
        let encoded = DMatrix::from_row_slice(n, d - 1, &crate::space::encode_all(space, archs));
        let x = DMatrix::from_fn(n, d, |i, j| if j + 1 < d { encoded[(i, j)] } else { 1.0 });
        let y = DVector::from_column_slice(ys);
        let m0 = &x * &mu;
        let s = m0.dot(&y) / m0.dot(&m0);
        if !(s.is_finite() && s > 0.0) {
            return None;
        }
        let resid = &y - &m0 * s;
        Some(PriorProblem { mu, sigma, x, s, resid })
    }

    /// The exact leave-one-out over [`PRIOR_RATIOS`] and the fit at the best ratio: on the
    /// kernel up to [`KERNEL_LOO_LIMIT`] samples, in weight space above.
    fn leave_one_out(&self, ys: &[f64]) -> Option<PriorFit> {
        let (n, d) = self.x.shape();
        if n <= KERNEL_LOO_LIMIT.max(d) {
            kernel_loo(&self.x, &self.sigma, self.s, &self.resid, ys)
        } else {
            weight_space_loo(&self.x, &self.sigma, self.s, &self.resid, ys)
        }
    }
}

/// Up to this many samples (or features, if there are more) the pool prior's leave-one-out is
/// computed on the n x n kernel ([`kernel_loo`]), as it always was: 8 inversions of at most a
/// 200 x 200 matrix (tens of milliseconds), and the results of every adaptation on few samples
/// stay what they were, bit for bit. Above, the kernel costs O(n^3) time and O(n^2) memory
/// (8 inversions of a 6,400 x 6,400 matrix, a gigabyte, at 6,400 samples), and gives way to the
/// same leave-one-out in weight space ([`weight_space_loo`], O(n d^2)), equal up to rounding.
/// The count is [`LOO_REFIT_LIMIT`], where the refitting validations switch to folds: up to it,
/// every validation is what it has always been.
const KERNEL_LOO_LIMIT: usize = LOO_REFIT_LIMIT;

/// The pool prior at its validated noise-to-prior ratio (scaled problem).
struct PriorFit {
    ratio: f64,
    cv_error: f64,
    held_out: Vec<f64>,
    /// Posterior mean of the weights minus the prior mean.
    deviation: DVector<f64>,
    /// Order of the largest linear system solved (n on the kernel, d in weight space), for the
    /// tests of the work done.
    #[cfg(test)]
    system: usize,
}

/// The ratio of [`PRIOR_RATIOS`] whose held-out predictions (from `held_out_at`, with what it
/// needs to finish the fit) score best, with its error. Ties go to the larger ratio (the prior
/// mean, the simpler model).
fn best_ratio<T>(
    ys: &[f64],
    mut held_out_at: impl FnMut(f64) -> Option<(Vec<f64>, T)>,
) -> Option<(f64, f64, Vec<f64>, T)> {
    let mut best: Option<(f64, f64, Vec<f64>, T)> = None;
    for &ratio in &PRIOR_RATIOS {
        let Some((held, extra)) = held_out_at(ratio) else { continue };
        let err = mse(&held, ys);
        if best.as_ref().is_none_or(|b| err <= b.1 * (1.0 + 1e-9)) {
            best = Some((ratio, err, held, extra));
        }
    }
    best
}

/// Gaussian-process leave-one-out on the kernel `K = s^2 X Sigma X^T + noise I` (n x n):
/// `residual_i = [K^-1 r]_i / [K^-1]_ii`, one inversion per ratio (`noise` is the ratio times
/// the kernel's mean prior variance, `trace(s^2 X Sigma X^T) / n`).
fn kernel_loo(x: &DMatrix<f64>, sigma: &DMatrix<f64>, s: f64, resid: &DVector<f64>, ys: &[f64]) -> Option<PriorFit> {
    let n = x.nrows();
    let xs = x * sigma;
    let k_prior = (&xs * x.transpose()) * (s * s);
    let level = k_prior.trace() / n as f64;
    let (ratio, cv_error, held_out, alpha) = best_ratio(ys, |ratio| {
        let mut kk = k_prior.clone();
        for i in 0..n {
            kk[(i, i)] += ratio * level;
        }
        let inv = kk.try_inverse()?;
        let alpha = &inv * resid;
        let held: Vec<f64> = (0..n).map(|i| ys[i] - alpha[i] / inv[(i, i)]).collect();
        Some((held, alpha))
    })?;
    let deviation = (xs.transpose() * alpha) * (s * s);
    Some(PriorFit {
        ratio,
        cv_error,
        held_out,
        deviation,
        #[cfg(test)]
        system: n,
    })
}

/// The leave-one-out of [`kernel_loo`] in weight space. With `F` a factor of the prior
/// covariance (`F F^T = s^2 Sigma`, d x d) and `Z = X F` (n x d), the kernel is
/// `Z Z^T + noise I`, and by the Woodbury identity `K^-1 = (I - H) / noise` with the hat
/// matrix `H = Z (Z^T Z + noise I)^-1 Z^T` of a ridge regression on `Z`. The held-out residual
/// `[K^-1 r]_i / [K^-1]_ii` is then `e_i / (1 - h_ii)`, `e = (I - H) r`, and the posterior
/// mean `F Z^T K^-1 r = F (Z^T Z + noise I)^-1 Z^T r`: one eigendecomposition of the d x d
/// `Z^T Z` (O(n d^2)) serves every ratio at O(n d) each.
///
/// As in [`Spectral::loo_ridge`](super::solver::Spectral::loo_ridge), `e` and `1 - h` are
/// summed without cancellation: with `u_j` the orthonormal directions of `Z` (eigenvalue
/// `l_j`) and `t_j = noise / (l_j + noise)`, `e = r_perp + sum_j u_j (u_j . r) t_j` and
/// `1 - h_ii = p_ii + sum_j u_ij^2 t_j`, where `r_perp` and `p_ii` are the residual and the
/// leverage outside the span of `Z`.
fn weight_space_loo(
    x: &DMatrix<f64>,
    sigma: &DMatrix<f64>,
    s: f64,
    resid: &DVector<f64>,
    ys: &[f64],
) -> Option<PriorFit> {
    let (n, d) = x.shape();
    let prior = nalgebra::SymmetricEigen::new(sigma.clone());
    let f = DMatrix::from_fn(d, d, |i, j| prior.eigenvectors[(i, j)] * s * prior.eigenvalues[j].max(0.0).sqrt());
    let z = x * &f;
    let gram = z.transpose() * &z;
    // trace(K_prior) / n, as on the kernel: trace(Z Z^T) = trace(Z^T Z).
    let level = gram.trace() / n as f64;
    let eig = nalgebra::SymmetricEigen::new(gram);
    let values: Vec<f64> = eig.eigenvalues.iter().map(|v| v.max(0.0)).collect();
    let top = values.iter().cloned().fold(0.0, f64::max);
    let zv = &z * &eig.eigenvectors;
    // (u_j, l_j, u_j . r) for the directions clear of 0.
    let dirs: Vec<(DVector<f64>, f64, f64)> = (0..d)
        .filter(|&j| values[j] > 1e-12 * top)
        .map(|j| {
            let u = zv.column(j) / values[j].sqrt();
            let ur = u.dot(resid);
            (u, values[j], ur)
        })
        .collect();
    let mut r_perp = resid.clone();
    let mut p_diag = DVector::from_element(n, 1.0);
    for (u, _, ur) in &dirs {
        r_perp.axpy(-ur, u, 1.0);
        p_diag -= u.component_mul(u);
    }
    if dirs.len() >= n {
        r_perp.fill(0.0);
        p_diag.fill(0.0);
    }
    p_diag.apply(|v| *v = v.max(0.0));
    let (ratio, cv_error, held_out, noise) = best_ratio(ys, |ratio| {
        let noise = ratio * level;
        // A zero kernel plus zero noise is singular (the kernel form finds no inverse either).
        if !(noise > 0.0 && noise.is_finite()) {
            return None;
        }
        let mut e = r_perp.clone();
        let mut free = p_diag.clone();
        for (u, l, ur) in &dirs {
            let t = noise / (l + noise);
            e.axpy(ur * t, u, 1.0);
            free += u.component_mul(u) * t;
        }
        Some(((0..n).map(|i| ys[i] - e[i] / free[i]).collect(), noise))
    })?;
    let coef = DVector::from_iterator(d, (0..d).map(|j| zv.column(j).dot(resid) / (values[j] + noise)));
    let deviation = f * (eig.eigenvectors * coef);
    Some(PriorFit {
        ratio,
        cv_error,
        held_out,
        deviation,
        #[cfg(test)]
        system: d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{seeded_rng, Nb201, SearchSpace};

    fn loo(n: usize) -> Vec<Vec<usize>> {
        (0..n).map(|i| vec![i]).collect()
    }

    /// Additive predictors of bundled NB201 devices, fitted on all their measurements.
    fn fitted(t: &crate::data::LatencyTable, pool: &[String]) -> crate::workflow::ProxyPredictors {
        let mut cache = crate::workflow::ProxyPredictors::default();
        cache.prefit(t, pool).unwrap();
        cache
    }

    /// `y / mean(y)` and the mean.
    fn scaled(y: &[f64]) -> (Vec<f64>, f64) {
        let scale = y.iter().sum::<f64>() / y.len() as f64;
        (y.iter().map(|v| v / scale).collect(), scale)
    }

    #[test]
    fn nonnegative_ridge_recovers_a_live_op_device() {
        // A device that prunes dead ops: latency = 1 + 0.1 skip + 0.5 conv1 + 2 conv3 + 0.3 pool (live only).
        let all = Nb201.enumerate().unwrap();
        let cost = [0.0, 0.1, 0.5, 2.0, 0.3];
        let lat = |a: &Arch| {
            1.0 + CellFeature::LiveOps.counts(a.genes()).iter().zip(cost).map(|(&c, w)| c as f64 * w).sum::<f64>()
        };
        let mut rng = seeded_rng(3);
        let idx = rand::seq::index::sample(&mut rng, all.len(), 12);
        let archs: Vec<Arch> = idx.iter().map(|i| all[i].clone()).collect();
        let y: Vec<f64> = archs.iter().map(lat).collect();
        let (ys, scale) = scaled(&y);
        let live = count_columns(&archs, &CellFeature::LiveOps);
        let fit = NonNegativeRidge::new(live, &ys).fit(&loo(12)).unwrap().into_counts(
            Form::LiveOps,
            scale,
            &[CellFeature::LiveOps],
        );
        assert!(fit.cv_error < 1e-6, "{}", fit.cv_error);
        for a in all.iter().step_by(97) {
            let p = fit.predictor.predict(a);
            assert!((p - lat(a)).abs() < 1e-3 * lat(a), "{a:?}: {p} vs {}", lat(a));
        }
        fit.predictor.validate().unwrap();
    }

    #[test]
    fn stacking_recovers_a_blend_of_pool_devices_and_flags_filled_ones() {
        let b = crate::data::bundled::bundle(SpaceId::Nb201).unwrap();
        let t = &b.latency;
        let pool = ["pixel3", "1080ti_1", "edgetpu"].map(String::from);
        let cache = fitted(t, &pool);
        let proxies: Vec<Proxy> =
            pool.iter().map(|d| Proxy::with_table(cache.fitted(d).unwrap(), t).unwrap()).collect();
        let col = |d: &str| t.device_index(d).unwrap();
        let (p3, gpu) = (col("pixel3"), col("1080ti_1"));
        // Samples the edge device has not measured: its latency there is its fitted model's.
        let et = col("edgetpu");
        let archs: Vec<Arch> =
            t.archs().iter().filter(|a| t.latency(a, et).is_none()).step_by(997).take(12).cloned().collect();
        let y: Vec<f64> =
            archs.iter().map(|a| 0.3 * t.latency(a, p3).unwrap() + 2.0 * t.latency(a, gpu).unwrap() + 1.0).collect();
        let (ys, scale) = scaled(&y);
        let h = stacking(&proxies, &archs, &ys, scale, &loo(12), false).unwrap();
        assert!(h.cv_error < 1e-4, "{}", h.cv_error);
        let coef = |d: &str| h.predictor.proxy_terms.iter().find(|p| p.device == d).map_or(0.0, |p| p.coefficient);
        assert!(
            (coef("pixel3") - 0.3).abs() < 0.03 && (coef("1080ti_1") - 2.0).abs() < 0.2,
            "{:?}",
            h.predictor.proxy_terms
        );
        assert!(h.filled.iter().all(|d| d == "edgetpu"));
        // The pool prior and the stacking both come out of `fit_all`, positive over the space.
        let all = fit_all(&proxies, &archs, &ys, scale, &loo(12));
        let forms: Vec<Form> = all.iter().map(|h| h.form).collect();
        assert!(forms.contains(&Form::Stacking) && forms.contains(&Form::LiveOps), "{forms:?}");
        for h in &all {
            assert!(h.predictor.check_positive(Some(t)).is_ok(), "{:?}", h.form);
            assert_eq!(h.held_out.len(), 12);
        }
    }

    #[test]
    fn pruned_stacking_finds_a_device_that_runs_the_pruned_cell_like_a_proxy() {
        let b = crate::data::bundled::bundle(SpaceId::Nb201).unwrap();
        let t = &b.latency;
        let pool = ["pixel3", "1080ti_1", "eyeriss"].map(String::from);
        let cache = fitted(t, &pool);
        let proxies: Vec<Proxy> =
            pool.iter().map(|d| Proxy::with_table(cache.fitted(d).unwrap(), t).unwrap()).collect();
        let p3 = t.device_index("pixel3").unwrap();
        let truth = |a: &Arch| 2.0 * t.latency(&crate::space::cell::prune_dead(a), p3).unwrap() + 1.0;
        let archs: Vec<Arch> = t.archs().iter().step_by(1301).take(12).cloned().collect();
        assert!(archs.iter().filter(|a| crate::space::cell::has_dead(a.genes())).count() >= 3);
        let y: Vec<f64> = archs.iter().map(truth).collect();
        let (ys, scale) = scaled(&y);
        let all = fit_all(&proxies, &archs, &ys, scale, &loo(12));
        let h = all.iter().find(|h| h.form == Form::PrunedStacking).expect("pruned stacking fitted");
        assert!(h.cv_error < 1e-6, "{}", h.cv_error);
        assert!(h.predictor.proxy_terms.iter().all(|p| p.pruned));
        // Every architecture of the table, read through the pruned cells' rows.
        let pred = h.predictor.predict_with(t.archs(), t).unwrap();
        for (a, p) in t.archs().iter().zip(&pred).step_by(37) {
            assert!((p - truth(a)).abs() < 1e-3 * truth(a), "{a:?}: {p} vs {}", truth(a));
        }
    }

    /// The pool prior's problem on `n` NB201 architectures drawn with `seed`, raspi4 as the
    /// target and three other bundled devices as the pool; with `y / mean(y)`.
    fn prior_problem(n: usize, seed: u64) -> (PriorProblem, Vec<f64>) {
        let b = crate::data::bundled::bundle(SpaceId::Nb201).unwrap();
        let t = &b.latency;
        let pool = ["pixel3", "1080ti_1", "eyeriss"].map(String::from);
        let cache = fitted(t, &pool);
        let proxies: Vec<Proxy> =
            pool.iter().map(|d| Proxy::with_table(cache.fitted(d).unwrap(), t).unwrap()).collect();
        let target = t.device_index("raspi4").unwrap();
        let idx = rand::seq::index::sample(&mut seeded_rng(seed), t.len(), n);
        let archs: Vec<Arch> = idx.iter().map(|i| t.archs()[i].clone()).collect();
        let y: Vec<f64> = archs.iter().map(|a| t.latency(a, target).unwrap()).collect();
        let (ys, _) = scaled(&y);
        (PriorProblem::new(&proxies, &archs, &ys).unwrap(), ys)
    }

    /// Held-out predictions of the pool prior at `ratio`, for the samples `rows`, by fitting
    /// the posterior mean on the other samples: no hat matrix, no n x n kernel, the prior
    /// factored by Cholesky rather than eigenvectors.
    fn refit_without_each(p: &PriorProblem, ys: &[f64], ratio: f64, rows: &[usize]) -> Vec<f64> {
        let (n, d) = p.x.shape();
        let factor = (&p.sigma * (p.s * p.s)).cholesky().unwrap().unpack();
        let z = &p.x * factor;
        // The noise is relative to the whole kernel's mean variance, as in the fit.
        let noise = ratio * z.iter().map(|v| v * v).sum::<f64>() / n as f64;
        rows.iter()
            .map(|&i| {
                let keep: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                let zk = z.select_rows(&keep);
                let rk = DVector::from_iterator(keep.len(), keep.iter().map(|&j| p.resid[j]));
                let mut m = zk.transpose() * &zk;
                for j in 0..d {
                    m[(j, j)] += noise;
                }
                let c = m.cholesky().unwrap().solve(&(zk.transpose() * rk));
                ys[i] - p.resid[i] + z.row(i).transpose().dot(&c)
            })
            .collect()
    }

    fn largest_gap(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn pool_prior_up_to_the_limit_is_the_kernel_leave_one_out_it_always_was() {
        for (n, seed) in [(40, 1), (KERNEL_LOO_LIMIT, 2)] {
            let (p, ys) = prior_problem(n, seed);
            let fit = p.leave_one_out(&ys).unwrap();
            // Computed on the n x n kernel, as before there was another way.
            assert_eq!(fit.system, n);
            let all: Vec<usize> = (0..n).collect();
            let direct = refit_without_each(&p, &ys, fit.ratio, &all);
            let gap = largest_gap(&fit.held_out, &direct);
            assert!(gap < 1e-9, "n = {n}: held-out predictions differ by {gap:e}");
            assert!((fit.cv_error - mse(&direct, &ys)).abs() <= 1e-9 * fit.cv_error);
        }
    }

    #[test]
    fn pool_prior_in_weight_space_equals_the_kernel_leave_one_out() {
        let (p, ys) = prior_problem(KERNEL_LOO_LIMIT + 100, 3);
        let (n, d) = p.x.shape();
        let fast = p.leave_one_out(&ys).unwrap();
        assert_eq!(fast.system, d, "above the limit the systems are d x d");
        let kernel = kernel_loo(&p.x, &p.sigma, p.s, &p.resid, &ys).unwrap();
        assert_eq!((kernel.system, kernel.ratio), (n, fast.ratio));
        let gap = largest_gap(&fast.held_out, &kernel.held_out);
        assert!(gap < 1e-9, "held-out predictions differ by {gap:e}");
        assert!((fast.cv_error - kernel.cv_error).abs() <= 1e-9 * kernel.cv_error);
        let size = kernel.deviation.amax();
        let gap = largest_gap(fast.deviation.as_slice(), kernel.deviation.as_slice());
        assert!(gap <= 1e-8 * size, "posterior weights differ by {gap:e} (largest {size:e})");
    }

    #[test]
    fn pool_prior_on_thousands_of_samples_solves_no_sample_sized_system() {
        let n = 6400;
        let (p, ys) = prior_problem(n, 4);
        let fit = p.leave_one_out(&ys).unwrap();
        // The kernel form factorised 6,400 x 6,400 matrices, one per ratio.
        assert_eq!(fit.system, p.x.ncols());
        assert!(fit.system < 100);
        assert!(fit.held_out.iter().all(|v| v.is_finite()));
        let rows: Vec<usize> = (0..n).step_by(397).collect();
        let direct = refit_without_each(&p, &ys, fit.ratio, &rows);
        let fast: Vec<f64> = rows.iter().map(|&i| fit.held_out[i]).collect();
        let gap = largest_gap(&fast, &direct);
        assert!(gap < 1e-9, "held-out predictions differ by {gap:e}");
    }

    #[test]
    fn nonnegative_quadratic_meets_its_optimality_conditions() {
        let mut rng = seeded_rng(1);
        for _ in 0..20 {
            let a = DMatrix::from_fn(12, 5, |_, _| rand::Rng::random_range(&mut rng, -1.0..1.0));
            let b = DVector::from_fn(12, |_, _| rand::Rng::random_range(&mut rng, -1.0..1.0));
            let mut g = a.transpose() * &a;
            for j in 0..5 {
                g[(j, j)] += 1e-3;
            }
            let h = a.transpose() * b;
            let x = nonnegative_quadratic(&g, &h);
            let grad = &g * &x - &h;
            for j in 0..5 {
                assert!(x[j] >= 0.0);
                // KKT: zero gradient where free, non-negative where at the bound.
                if x[j] > 0.0 {
                    assert!(grad[j].abs() < 1e-9, "{grad}");
                } else {
                    assert!(grad[j] > -1e-9, "{grad}");
                }
            }
        }
    }
}
