//! The AdaProxy optimisation problem and its solvers.
//!
//! Given a base prediction `z` (n), correction directions `C` (n x k) and targets `y` (n), find
//! scalars `a`, `c` and a vector `b` minimising
//!
//! ```text
//!     (1/n) || a z + C b + c - y ||^2  +  lambda * pen(b)
//! ```
//!
//! In the paper's form `z = X w` (the proxy's additive prediction without intercept) and
//! `C = X diag(w)`, so that the target's weights are `w * (a + b)`; `pen` is `||b||_p` for
//! p = 1, 2, inf (a conic program), or `||b||_2^2` (ridge, closed form).
//!
//! Two solvers:
//! * [`solve_conic`]: the general conic program, solved by Clarabel (the interior-point solver
//!   that cvxpy itself uses). Works for every penalty.
//! * [`Spectral`]: exact and much faster for the 2-norm and the squared 2-norm. `a` and `c` are
//!   unpenalised, so they are eliminated by projecting onto the complement of span{z, 1}; what
//!   is left is `min (1/n)||P C b - P y||^2 + lambda pen(b)`. With the eigendecomposition
//!   `G = (2/n) (PC)^T PC = V diag(s) V^T` (from a thin SVD of `PC`) and
//!   `g = (2/n) (PC)^T P y`, the ridge solution is
//!   `b = V diag(1 / (s + 2 lambda)) V^T g`, and the 2-norm solution is `b = 0` when
//!   `||g|| <= lambda`, otherwise `b = (G + mu I)^-1 g` where `mu > 0` solves the scalar
//!   equation `mu ||b(mu)|| = lambda` (increasing in mu, found by bracketing and bisection).
//!   One decomposition serves every lambda of a sweep.

use crate::error::{Error, Result};
use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// The penalty on the correction vector `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Penalty {
    /// `||b||_1` (linear program part).
    L1,
    /// `||b||_2` (second-order cone), the paper's default.
    L2,
    /// `||b||_inf`.
    Linf,
    /// `||b||_2^2`, closed form.
    Ridge,
}

impl Penalty {
    /// Name used on the command line and in JSON (`1`, `2`, `inf`, `ridge`).
    pub fn name(self) -> &'static str {
        match self {
            Penalty::L1 => "1",
            Penalty::L2 => "2",
            Penalty::Linf => "inf",
            Penalty::Ridge => "ridge",
        }
    }

    /// Value of the penalty at `b`.
    pub fn value(self, b: &[f64]) -> f64 {
        match self {
            Penalty::L1 => b.iter().map(|v| v.abs()).sum(),
            Penalty::L2 => b.iter().map(|v| v * v).sum::<f64>().sqrt(),
            Penalty::Linf => b.iter().fold(0.0, |m, v| m.max(v.abs())),
            Penalty::Ridge => b.iter().map(|v| v * v).sum(),
        }
    }
}

/// Problem data (already scaled by the caller).
#[derive(Debug, Clone)]
pub struct Problem {
    /// Base prediction per sample.
    pub z: Vec<f64>,
    /// Correction directions, n x k.
    pub c: DMatrix<f64>,
    /// Targets.
    pub y: Vec<f64>,
}

/// A solution.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Global scale.
    pub a: f64,
    /// Intercept.
    pub intercept: f64,
    /// Per-direction corrections.
    pub b: Vec<f64>,
    /// Objective value.
    pub objective: f64,
    /// Solver status (`solved`, `almost_solved`, or `exact` for the spectral solver).
    pub status: String,
    /// Interior-point iterations (0 for the spectral solver).
    pub iterations: u32,
}

impl Problem {
    /// Number of samples.
    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// Prediction `a z + C b + c` for sample rows.
    pub fn predict(&self, s: &Solution) -> Vec<f64> {
        let cb = &self.c * DVector::from_column_slice(&s.b);
        (0..self.n()).map(|i| s.a * self.z[i] + cb[i] + s.intercept).collect()
    }

    /// Objective value of a candidate.
    pub fn objective(&self, s: &Solution, penalty: Penalty, lambda: f64) -> f64 {
        let pred = self.predict(s);
        let mse = pred.iter().zip(&self.y).map(|(p, y)| (p - y).powi(2)).sum::<f64>() / self.n() as f64;
        let pen = penalty.value(&s.b);
        if pen == 0.0 { mse } else { mse + lambda * pen }
    }

    /// The solution with `b = 0` (infinite lambda): least squares on [z, 1].
    pub fn uncorrected(&self) -> Solution {
        let b = vec![0.0; self.c.ncols()];
        let (a, intercept) = self.fit_scale_and_intercept(&b);
        let mut s = Solution { a, intercept, b, objective: 0.0, status: "exact".into(), iterations: 0 };
        s.objective = self.objective(&s, Penalty::Ridge, 0.0);
        s
    }

    /// `a` and `c` minimising the squared error for a fixed `b` (least squares on [z, 1]).
    fn fit_scale_and_intercept(&self, b: &[f64]) -> (f64, f64) {
        let n = self.n() as f64;
        let cb = &self.c * DVector::from_column_slice(b);
        let r: Vec<f64> = (0..self.n()).map(|i| self.y[i] - cb[i]).collect();
        let (mz, mr) = (self.z.iter().sum::<f64>() / n, r.iter().sum::<f64>() / n);
        let szz: f64 = self.z.iter().map(|v| (v - mz).powi(2)).sum();
        let szr: f64 = self.z.iter().zip(&r).map(|(v, w)| (v - mz) * (w - mr)).sum();
        let a = if szz > 1e-14 * (1.0 + mz * mz) * n { szr / szz } else { 0.0 };
        (a, mr - a * mz)
    }
}

/// Dense matrix to Clarabel's compressed-column format (upper triangle only if `upper`).
fn to_csc(m: &DMatrix<f64>, upper: bool) -> CscMatrix<f64> {
    let (rows, cols) = m.shape();
    let mut colptr = vec![0usize];
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    for j in 0..cols {
        for i in 0..rows {
            if upper && i > j {
                break;
            }
            let v = m[(i, j)];
            if v != 0.0 {
                rowval.push(i);
                nzval.push(v);
            }
        }
        colptr.push(rowval.len());
    }
    CscMatrix::new(rows, cols, colptr, rowval, nzval)
}

/// Solve the problem with Clarabel for any penalty.
pub fn solve_conic(p: &Problem, penalty: Penalty, lambda: f64) -> Result<Solution> {
    let (n, k) = (p.n(), p.c.ncols());
    let nt = match penalty {
        Penalty::L2 | Penalty::Linf => 1,
        Penalty::L1 => k,
        Penalty::Ridge => 0,
    };
    let nx = 2 + k + nt;
    // M = [z, 1, C]; objective (1/n)||M u - y||^2 = u^T (M^T M / n) u - (2/n) y^T M u + const.
    let mut m = DMatrix::zeros(n, 2 + k);
    for i in 0..n {
        m[(i, 0)] = p.z[i];
        m[(i, 1)] = 1.0;
        for j in 0..k {
            m[(i, 2 + j)] = p.c[(i, j)];
        }
    }
    let mtm = m.transpose() * &m * (2.0 / n as f64);
    let mut pm = DMatrix::zeros(nx, nx);
    pm.view_mut((0, 0), (2 + k, 2 + k)).copy_from(&mtm);
    if penalty == Penalty::Ridge {
        for j in 0..k {
            pm[(2 + j, 2 + j)] += 2.0 * lambda;
        }
    }
    let mty = m.transpose() * DVector::from_column_slice(&p.y);
    let mut q = vec![0.0; nx];
    for j in 0..2 + k {
        q[j] = -2.0 / n as f64 * mty[j];
    }
    for t in 0..nt {
        q[2 + k + t] = lambda;
    }
    // Cone constraints A x + s = 0, s in K.
    let (a, cones): (DMatrix<f64>, Vec<SupportedConeT<f64>>) = match penalty {
        Penalty::Ridge => (DMatrix::zeros(0, nx), vec![]),
        Penalty::L2 => {
            let mut a = DMatrix::zeros(k + 1, nx);
            a[(0, 2 + k)] = -1.0;
            for j in 0..k {
                a[(1 + j, 2 + j)] = -1.0;
            }
            (a, vec![SupportedConeT::SecondOrderConeT(k + 1)])
        }
        Penalty::Linf | Penalty::L1 => {
            // t_j - b_j >= 0 and t_j + b_j >= 0 (t_j = t for inf).
            let mut a = DMatrix::zeros(2 * k, nx);
            for j in 0..k {
                let t = if penalty == Penalty::L1 { 2 + k + j } else { 2 + k };
                a[(2 * j, 2 + j)] = 1.0;
                a[(2 * j, t)] = -1.0;
                a[(2 * j + 1, 2 + j)] = -1.0;
                a[(2 * j + 1, t)] = -1.0;
            }
            (a, vec![SupportedConeT::NonnegativeConeT(2 * k)])
        }
    };
    let b = vec![0.0; a.nrows()];
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .max_iter(200)
        .build()
        .map_err(|e| Error::InvalidParameter(format!("clarabel settings: {e:?}")))?;
    let mut solver = DefaultSolver::new(&to_csc(&pm, true), &q, &to_csc(&a, false), &b, &cones, settings)
        .map_err(|e| Error::InvalidParameter(format!("clarabel: {e:?}")))?;
    solver.solve();
    let status = match solver.solution.status {
        SolverStatus::Solved => "solved",
        SolverStatus::AlmostSolved => "almost_solved",
        other => return Err(Error::NotConverged(format!("clarabel status {other:?} (penalty {}, lambda {lambda})", penalty.name()))),
    };
    let x = &solver.solution.x;
    let mut sol = Solution {
        a: x[0],
        intercept: x[1],
        b: x[2..2 + k].to_vec(),
        objective: 0.0,
        status: status.into(),
        iterations: solver.solution.iterations,
    };
    sol.objective = p.objective(&sol, penalty, lambda);
    Ok(sol)
}

/// Exact solver for the 2-norm and squared 2-norm penalties; build once, solve for many lambdas.
#[derive(Debug, Clone)]
pub struct Spectral {
    problem: Problem,
    vectors: DMatrix<f64>,
    values: Vec<f64>,
    gamma: Vec<f64>,
    g_norm: f64,
}

impl Spectral {
    /// Eliminate `a` and `c` and decompose the reduced Gram matrix.
    pub fn new(problem: Problem) -> Self {
        let n = problem.n();
        let k = problem.c.ncols();
        // Orthonormal basis of span{1, z} by Gram-Schmidt.
        let one = DVector::from_element(n, 1.0 / (n as f64).sqrt());
        let mut basis = vec![one.clone()];
        let z = DVector::from_column_slice(&problem.z);
        let zr = &z - &one * one.dot(&z);
        if zr.norm() > 1e-12 * z.norm().max(1e-300) {
            basis.push(zr.normalize());
        }
        let project = |v: DVector<f64>| basis.iter().fold(v, |acc, q| &acc - q * q.dot(&acc));
        let mut pc = DMatrix::zeros(n, k);
        for j in 0..k {
            pc.set_column(j, &project(problem.c.column(j).into_owned()));
        }
        let py = project(DVector::from_column_slice(&problem.y));
        let scale = 2.0 / n as f64;
        if k <= n {
            // Few features: eigendecompose the k x k Gram matrix G = (2/n) (PC)^T PC.
            let gram = pc.transpose() * &pc * scale;
            let g = pc.transpose() * py * scale;
            let eig = nalgebra::SymmetricEigen::new(gram);
            let gamma: Vec<f64> = (eig.eigenvectors.transpose() * &g).iter().copied().collect();
            let values = eig.eigenvalues.iter().map(|v| v.max(0.0)).collect();
            return Spectral { problem, vectors: eig.eigenvectors, values, gamma, g_norm: g.norm() };
        }
        // More features than samples (198 for FBNet): a thin SVD PC = U S W^T (rank <= n) gives
        // G = (2/n) W S^2 W^T and g = (2/n) W S U^T P y at the cost of an n x k factorisation.
        let svd = pc.svd(true, true);
        let u = svd.u.expect("requested U");
        let w_t = svd.v_t.expect("requested V^T");
        let uy = u.transpose() * &py;
        let values: Vec<f64> = svd.singular_values.iter().map(|sv| scale * sv * sv).collect();
        let gamma: Vec<f64> = svd.singular_values.iter().zip(uy.iter()).map(|(sv, v)| scale * sv * v).collect();
        let g_norm = gamma.iter().map(|v| v * v).sum::<f64>().sqrt();
        Spectral { problem, vectors: w_t.transpose(), values, gamma, g_norm }
    }

    /// The problem being solved.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// `b = V diag(1 / (s + shift)) gamma`, treating directions with s + shift ~ 0 as null.
    fn b_for_shift(&self, shift: f64) -> Vec<f64> {
        let smax = self.values.iter().cloned().fold(0.0, f64::max);
        let coef: Vec<f64> = self
            .values
            .iter()
            .zip(&self.gamma)
            .map(|(s, g)| if s + shift > 1e-12 * smax.max(1e-300) { g / (s + shift) } else { 0.0 })
            .collect();
        (&self.vectors * DVector::from_vec(coef)).iter().copied().collect()
    }

    /// `mu * ||b(mu)||`, increasing in mu.
    fn secular(&self, mu: f64) -> f64 {
        mu * self
            .values
            .iter()
            .zip(&self.gamma)
            .map(|(s, g)| (g / (s + mu)).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// Solve for one lambda (`penalty` must be `L2` or `Ridge`).
    pub fn solve(&self, penalty: Penalty, lambda: f64) -> Result<Solution> {
        let b = match penalty {
            Penalty::Ridge => self.b_for_shift(2.0 * lambda),
            Penalty::L2 => {
                if self.g_norm <= lambda {
                    vec![0.0; self.vectors.nrows()]
                } else {
                    // Bracket the root of mu ||b(mu)|| = lambda, then bisect in log space.
                    let (mut lo, mut hi) = (1e-300f64.max(lambda * 1e-12), lambda.max(1e-12));
                    let mut guard = 0;
                    while self.secular(hi) < lambda && guard < 2000 {
                        lo = hi;
                        hi *= 4.0;
                        guard += 1;
                    }
                    for _ in 0..200 {
                        let mid = (lo * hi).sqrt();
                        if self.secular(mid) < lambda {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                        if hi / lo < 1.0 + 1e-13 {
                            break;
                        }
                    }
                    self.b_for_shift(0.5 * (lo + hi))
                }
            }
            other => {
                return Err(Error::InvalidParameter(format!(
                    "the spectral solver handles the 2-norm and ridge penalties, not {}",
                    other.name()
                )))
            }
        };
        let (a, intercept) = self.problem.fit_scale_and_intercept(&b);
        let mut sol = Solution { a, intercept, b, objective: 0.0, status: "exact".into(), iterations: 0 };
        sol.objective = self.problem.objective(&sol, penalty, lambda);
        Ok(sol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_problem(n: usize, k: usize, seed: u64) -> Problem {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let c = DMatrix::from_fn(n, k, |_, _| if r.random_bool(0.3) { r.random_range(0.1..2.0) } else { 0.0 });
        let z: Vec<f64> = (0..n).map(|i| c.row(i).sum()).collect();
        let y: Vec<f64> = z.iter().map(|v| 1.3 * v + 0.5 + r.random_range(-0.3..0.3)).collect();
        Problem { z, c, y }
    }

    #[test]
    fn spectral_matches_clarabel_for_l2_and_ridge() {
        for (seed, n, k) in [(1, 10, 30), (2, 60, 31), (3, 8, 5), (4, 40, 6)] {
            let p = random_problem(n, k, seed);
            let fast = Spectral::new(p.clone());
            for lambda in [1e-4, 1e-2, 0.1, 1.0, 10.0] {
                for pen in [Penalty::L2, Penalty::Ridge] {
                    let a = fast.solve(pen, lambda).unwrap();
                    let b = solve_conic(&p, pen, lambda).unwrap();
                    let tol = 1e-6 * (1.0 + b.objective.abs());
                    assert!(
                        a.objective <= b.objective + tol,
                        "seed {seed} {pen:?} lambda {lambda}: spectral {} vs clarabel {}",
                        a.objective,
                        b.objective
                    );
                    assert!((a.objective - b.objective).abs() < 1e-5 * (1.0 + b.objective.abs()));
                }
            }
        }
    }

    #[test]
    fn conic_penalties_solve_and_shrink_with_lambda() {
        let p = random_problem(12, 8, 9);
        for pen in [Penalty::L1, Penalty::L2, Penalty::Linf, Penalty::Ridge] {
            let small = solve_conic(&p, pen, 1e-4).unwrap();
            let large = solve_conic(&p, pen, 100.0).unwrap();
            assert!(pen.value(&large.b) <= pen.value(&small.b) + 1e-9, "{pen:?}");
            assert!(pen.value(&large.b) < 1e-5, "{pen:?}: a huge lambda zeroes b");
            // With b = 0 the model is least squares on [z, 1].
            let (a, c) = p.fit_scale_and_intercept(&vec![0.0; 8]);
            assert!((large.a - a).abs() < 1e-4 && (large.intercept - c).abs() < 1e-4, "{pen:?}");
        }
    }

    #[test]
    fn zero_lambda_ridge_interpolates_when_underdetermined() {
        let p = random_problem(6, 20, 5);
        let s = Spectral::new(p.clone()).solve(Penalty::Ridge, 0.0).unwrap();
        assert!(s.objective < 1e-12, "{}", s.objective);
    }
}
