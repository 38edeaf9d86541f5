//! What the pool says per-edge weights usually are: Bayesian linear regression on the one-hot
//! encoding, whose prior is learned from the pool devices' additive weights. Where a few samples
//! cannot pin down every weight, the prior fills in what devices usually pay for each choice.

use super::{Fitted, Hypothesis, Samples};
use crate::predictor::adapt::cv::{mse, reference, LOO_REFIT_LIMIT};
use crate::predictor::additive::AdditivePredictor;
use crate::predictor::proxies::Proxy;
use crate::space::{Arch, SpaceId};
use nalgebra::{DMatrix, DVector};

/// One-hot weights under a prior learned from the pool devices' weights.
pub(super) struct PoolPrior;

impl Hypothesis for PoolPrior {
    fn name(&self) -> &'static str {
        "pool-prior"
    }

    fn help(&self) -> &'static str {
        "One-hot weights under a prior learned from the pool devices' weights"
    }

    fn uses_pool(&self) -> bool {
        true
    }

    fn applies(&self, _: SpaceId, pool: usize) -> bool {
        pool >= 2
    }

    fn fit(&self, s: &Samples) -> Option<Fitted> {
        pool_prior(s)
    }
}

/// Noise-to-prior variance ratios tried by [`pool_prior`] (relative to the prior's mean
/// variance at the samples), smallest first.
const PRIOR_RATIOS: [f64; 8] = [1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0];

/// Bayesian linear regression on the one-hot encoding (with the intercept as a last feature)
/// whose prior is the pool: the mean and covariance of the proxies' additive weights, each
/// proxy scaled to a mean latency of 1 over the space, times a scale fitted on the samples.
/// The noise-to-prior ratio is chosen by the exact leave-one-out of Gaussian-process
/// regression, computed by [`kernel_loo`] or, on many samples, by [`weight_space_loo`].
fn pool_prior(s: &Samples) -> Option<Fitted> {
    let (ys, scale) = (s.ys, s.scale);
    let problem = PriorProblem::new(s.proxies, s.archs, ys)?;
    let fit = problem.leave_one_out(ys)?;
    let d = problem.x.ncols();
    let w = &problem.mu * problem.s + fit.deviation;
    let predictor = AdditivePredictor {
        weights: w.iter().take(d - 1).map(|v| v * scale).collect(),
        intercept: w[d - 1] * scale,
        ..AdditivePredictor::blank(s.space())
    };
    Some(Fitted {
        lambda: fit.ratio,
        cv_error: fit.cv_error,
        held_out: fit.held_out,
        predictor,
        filled: Vec::new(),
        lowest: None,
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
    use super::super::testing::{nb201, proxies, scaled};
    use super::*;
    use crate::predictor::ProxyPool;
    use crate::space::seeded_rng;

    /// The pool prior's problem on `n` NB201 architectures drawn with `seed`, raspi4 as the
    /// target and three other bundled devices as the pool; with `y / mean(y)`.
    fn prior_problem(n: usize, seed: u64) -> (PriorProblem, Vec<f64>) {
        let t = nb201();
        let pool = ProxyPool::new(t);
        let proxies = proxies(&pool, &["pixel3", "1080ti_1", "eyeriss"]);
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
}
