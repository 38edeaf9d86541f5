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
//!   One decomposition serves every lambda of a sweep, and also gives exact leave-one-out
//!   predictions for the ridge penalty without refitting ([`Spectral::loo_ridge`]).
//!
//! Cost: nothing here is n x n. The spectral solver projects each column with the (at most
//! two) basis vectors of span{1, z} and works with the k x k Gram matrix (a thin SVD when
//! k > n); the conic solver only sees the (k + 2) x (k + 2) normal equations.
//!
//! Callers keep every column O(1) (see `adapt::design`): the thresholds below are relative.

use crate::error::{Error, Result};
use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// The penalty on the correction vector `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Penalty {
    /// `||b||_1` (linear program part).
    #[cfg_attr(feature = "clap", value(name = "1"))]
    L1,
    /// `||b||_2` (second-order cone), the paper's default.
    #[cfg_attr(feature = "clap", value(name = "2"))]
    L2,
    /// `||b||_inf`.
    #[cfg_attr(feature = "clap", value(name = "inf"))]
    Linf,
    /// `||b||_2^2`, closed form.
    Ridge,
}

impl Penalty {
    /// Every penalty.
    pub const ALL: [Penalty; 4] = [Penalty::L1, Penalty::L2, Penalty::Linf, Penalty::Ridge];

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
        if pen == 0.0 {
            mse
        } else {
            mse + lambda * pen
        }
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
/// The minimiser of `b' G b / 2 - h' b` over `b >= 0`, for a positive definite `G` (the
/// normal equations of a non-negative ridge fit): the exact active-set solution where it
/// settles, else cyclic coordinate descent.
///
/// Why the active set: the flow's refits fit the hypotheses' ridges on every fold and every
/// penalty of every round, and coordinate descent on a nearly singular `G` (a small penalty)
/// needs thousands of sweeps; with a handful of columns the active-set method solves a few
/// small Cholesky systems and is exact to rounding.
pub fn nonnegative_quadratic(g: &DMatrix<f64>, h: &DVector<f64>) -> DVector<f64> {
    active_set_quadratic(g, h).unwrap_or_else(|| coordinate_descent_quadratic(g, h))
}

/// Lawson and Hanson's active-set method on the quadratic form: free the coordinate whose
/// negative gradient is largest, solve the free block exactly, and step back to the boundary
/// when that solution leaves the orthant. `None` if a block is not positive definite or the
/// method does not settle (rounding), for the caller to fall back.
fn active_set_quadratic(g: &DMatrix<f64>, h: &DVector<f64>) -> Option<DVector<f64>> {
    let k = h.len();
    let mut b: DVector<f64> = DVector::zeros(k);
    let mut free = vec![false; k];
    let tol = 1e-12 * (1.0 + h.amax());
    for _ in 0..3 * k + 10 {
        let w = h - g * &b;
        let entering = (0..k).filter(|&j| !free[j] && w[j] > tol).fold(None, |best: Option<usize>, j| match best {
            Some(i) if w[i] >= w[j] => Some(i),
            _ => Some(j),
        });
        let Some(j) = entering else { return Some(b) };
        free[j] = true;
        let mut settled = false;
        for _ in 0..=k {
            let idx: Vec<usize> = (0..k).filter(|&i| free[i]).collect();
            let gp = g.select_rows(&idx).select_columns(&idx);
            let hp = DVector::from_iterator(idx.len(), idx.iter().map(|&i| h[i]));
            let z = gp.cholesky()?.solve(&hp);
            if z.iter().all(|&v| v > 0.0) {
                for (t, &i) in idx.iter().enumerate() {
                    b[i] = z[t];
                }
                settled = true;
                break;
            }
            // Step from b towards z until the first free coordinate reaches zero.
            let mut alpha = 1.0f64;
            for (t, &i) in idx.iter().enumerate() {
                if z[t] <= 0.0 {
                    alpha = alpha.min(b[i] / (b[i] - z[t]));
                }
            }
            for (t, &i) in idx.iter().enumerate() {
                b[i] += alpha * (z[t] - b[i]);
                if b[i] <= 0.0 || (z[t] <= 0.0 && b[i] <= 1e-15 * (1.0 + b.amax())) {
                    b[i] = 0.0;
                    free[i] = false;
                }
            }
        }
        if !settled {
            return None;
        }
    }
    None
}

/// Cyclic coordinate descent for [`nonnegative_quadratic`]: each step is exact in its
/// coordinate, so the objective never rises, and the loop ends when no coordinate moves by more
/// than `1e-13` of the solution's size (or after 10,000 sweeps).
fn coordinate_descent_quadratic(g: &DMatrix<f64>, h: &DVector<f64>) -> DVector<f64> {
    let k = h.len();
    let mut b: DVector<f64> = DVector::zeros(k);
    // grad = G b - h, kept up to date.
    let mut grad = -h.clone();
    for _ in 0..10_000 {
        let mut moved = 0.0f64;
        for j in 0..k {
            if g[(j, j)] <= 0.0 {
                continue;
            }
            let new = (b[j] - grad[j] / g[(j, j)]).max(0.0);
            let delta = new - b[j];
            if delta != 0.0 {
                b[j] = new;
                grad.axpy(delta, &g.column(j), 1.0);
                moved = moved.max(delta.abs() * g[(j, j)].sqrt());
            }
        }
        let size = b.iter().zip(g.diagonal().iter()).map(|(v, d)| v.abs() * d.sqrt()).fold(0.0, f64::max);
        if moved <= 1e-13 * size.max(1e-300) {
            break;
        }
    }
    b
}

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

/// A linear constraint `row . u >= at_least` on the unknowns `u = (a, c, b_1..b_k)` of a
/// [`Problem`] (or on whatever vector a least-squares helper solves for).
#[derive(Debug, Clone, PartialEq)]
pub struct Inequality {
    /// Coefficients, one per unknown.
    pub row: Vec<f64>,
    /// Lower bound.
    pub at_least: f64,
}

/// Solve the problem with Clarabel for any penalty.
pub fn solve_conic(p: &Problem, penalty: Penalty, lambda: f64) -> Result<Solution> {
    Conic::new(p.clone()).solve(penalty, lambda, &[])
}

/// The conic program of one [`Problem`], with its normal equations computed once so that a
/// sweep over lambdas costs O(k^3) per solve, independent of the number of samples.
#[derive(Debug, Clone)]
pub struct Conic {
    problem: Problem,
    /// `(2/n) M^T M` with `M = [z, 1, C]`.
    mtm: DMatrix<f64>,
    /// `-(2/n) M^T y`.
    q: Vec<f64>,
    /// Gradient of the squared error in `b` at `b = 0` (with `a`, `c` refitted):
    /// `(2/n) C^T r0`, `r0` the residual of the uncorrected fit.
    gradient_at_zero: Vec<f64>,
}

impl Conic {
    /// Form the normal equations.
    pub fn new(problem: Problem) -> Self {
        let (n, k) = (problem.n(), problem.c.ncols());
        // M = [z, 1, C]; objective (1/n)||M u - y||^2 = u^T (M^T M / n) u - (2/n) y^T M u + const.
        let mut m = DMatrix::zeros(n, 2 + k);
        for i in 0..n {
            m[(i, 0)] = problem.z[i];
            m[(i, 1)] = 1.0;
        }
        m.view_mut((0, 2), (n, k)).copy_from(&problem.c);
        let mtm = m.transpose() * &m * (2.0 / n as f64);
        let mty = m.transpose() * DVector::from_column_slice(&problem.y);
        let q = mty.iter().map(|v| -2.0 / n as f64 * v).collect();
        let zero = problem.uncorrected();
        let r0: Vec<f64> = problem.y.iter().zip(&problem.z).map(|(y, z)| y - zero.a * z - zero.intercept).collect();
        let gradient_at_zero =
            (problem.c.transpose() * DVector::from_vec(r0) * (2.0 / n as f64)).iter().copied().collect();
        Conic { problem, mtm, q, gradient_at_zero }
    }

    /// Whether `b = 0` is optimal for a norm penalty: the dual norm of the gradient at 0 is at
    /// most lambda (the L2 rule of the spectral solver, for every norm). Answering this exactly
    /// spares the interior-point method problems whose answer is "no correction", which it
    /// solves badly when lambda dwarfs the data (e.g. a target 1e14 times slower than its proxy).
    fn zero_is_optimal(&self, penalty: Penalty, lambda: f64) -> bool {
        let g = &self.gradient_at_zero;
        let dual = match penalty {
            Penalty::L1 => g.iter().fold(0.0f64, |m, v| m.max(v.abs())),
            Penalty::L2 => g.iter().map(|v| v * v).sum::<f64>().sqrt(),
            Penalty::Linf => g.iter().map(|v| v.abs()).sum(),
            Penalty::Ridge => return false,
        };
        dual <= lambda
    }

    /// The problem being solved.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// Solve for one penalty and lambda, subject to extra linear constraints on `(a, c, b)`.
    pub fn solve(&self, penalty: Penalty, lambda: f64, constraints: &[Inequality]) -> Result<Solution> {
        if constraints.is_empty() && self.zero_is_optimal(penalty, lambda) {
            let mut s = self.problem.uncorrected();
            s.objective = self.problem.objective(&s, penalty, lambda);
            return Ok(s);
        }
        let k = self.problem.c.ncols();
        let nt = match penalty {
            Penalty::L2 | Penalty::Linf => 1,
            Penalty::L1 => k,
            Penalty::Ridge => 0,
        };
        let nx = 2 + k + nt;
        let mut pm = DMatrix::zeros(nx, nx);
        pm.view_mut((0, 0), (2 + k, 2 + k)).copy_from(&self.mtm);
        if penalty == Penalty::Ridge {
            for j in 0..k {
                pm[(2 + j, 2 + j)] += 2.0 * lambda;
            }
        }
        let mut q = vec![0.0; nx];
        q[..2 + k].copy_from_slice(&self.q);
        for t in 0..nt {
            q[2 + k + t] = lambda;
        }
        // Cone constraints A x + s = b, s in K.
        let (mut a, mut cones): (DMatrix<f64>, Vec<SupportedConeT<f64>>) = match penalty {
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
        let mut b = vec![0.0; a.nrows()];
        if !constraints.is_empty() {
            let (rows, rhs) = inequality_rows(constraints, nx)?;
            a = stack(&a, &rows);
            b.extend(rhs);
            cones.push(SupportedConeT::NonnegativeConeT(constraints.len()));
        }
        let (x, status, iterations) = run_clarabel(&pm, &q, &a, &b, &cones)
            .map_err(|e| Error::NotConverged(format!("{e} (penalty {}, lambda {lambda})", penalty.name())))?;
        let mut sol =
            Solution { a: x[0], intercept: x[1], b: x[2..2 + k].to_vec(), objective: 0.0, status, iterations };
        sol.objective = self.problem.objective(&sol, penalty, lambda);
        Ok(sol)
    }
}

/// `min ||X u - y||^2 + sum_j ridge_j u_j^2` subject to linear constraints, for fits that must
/// respect bounds (e.g. a predictor that stays positive over a whole search space).
pub fn constrained_least_squares(
    x: &DMatrix<f64>,
    y: &[f64],
    ridge: &[f64],
    constraints: &[Inequality],
) -> Result<Vec<f64>> {
    let (n, d) = x.shape();
    if y.len() != n || ridge.len() != d {
        return Err(Error::InvalidParameter("constrained least squares: inconsistent sizes".into()));
    }
    // Divided by n, so that the solver's tolerances do not depend on the sample count.
    let mut pm = x.transpose() * x * (2.0 / n as f64);
    for (j, r) in ridge.iter().enumerate() {
        pm[(j, j)] += 2.0 * r / n as f64;
    }
    let q: Vec<f64> = (x.transpose() * DVector::from_column_slice(y)).iter().map(|v| -2.0 / n as f64 * v).collect();
    let (a, b) = inequality_rows(constraints, d)?;
    let cones = [SupportedConeT::NonnegativeConeT(constraints.len())];
    let (u, _, _) = run_clarabel(&pm, &q, &a, &b, if constraints.is_empty() { &[] } else { &cones })
        .map_err(|e| Error::NotConverged(format!("constrained least squares: {e}")))?;
    Ok(u)
}

/// `row . u >= h` as Clarabel's `A u + s = b, s >= 0`: `A = -row`, `b = -h`.
fn inequality_rows(constraints: &[Inequality], nx: usize) -> Result<(DMatrix<f64>, Vec<f64>)> {
    let mut a = DMatrix::zeros(constraints.len(), nx);
    for (i, c) in constraints.iter().enumerate() {
        if c.row.len() > nx || !c.at_least.is_finite() || c.row.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidParameter(format!(
                "constraint {i} is malformed (length {} for {nx} unknowns, or not finite)",
                c.row.len()
            )));
        }
        for (j, v) in c.row.iter().enumerate() {
            a[(i, j)] = -v;
        }
    }
    Ok((a, constraints.iter().map(|c| -c.at_least).collect()))
}

/// Rows of `top` above rows of `bottom` (same number of columns).
fn stack(top: &DMatrix<f64>, bottom: &DMatrix<f64>) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(top.nrows() + bottom.nrows(), top.ncols());
    m.view_mut((0, 0), top.shape()).copy_from(top);
    m.view_mut((top.nrows(), 0), bottom.shape()).copy_from(bottom);
    m
}

/// Run Clarabel on `min 1/2 x^T P x + q^T x, A x + s = b, s in cones`: the solution, the status
/// name and the iterations; an error message unless solved or almost solved.
fn run_clarabel(
    p: &DMatrix<f64>,
    q: &[f64],
    a: &DMatrix<f64>,
    b: &[f64],
    cones: &[SupportedConeT<f64>],
) -> std::result::Result<(Vec<f64>, String, u32), String> {
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .max_iter(200)
        .build()
        .map_err(|e| format!("clarabel settings: {e:?}"))?;
    let mut solver = DefaultSolver::new(&to_csc(p, true), q, &to_csc(a, false), b, cones, settings)
        .map_err(|e| format!("clarabel: {e:?}"))?;
    solver.solve();
    let status = match solver.solution.status {
        SolverStatus::Solved => "solved",
        SolverStatus::AlmostSolved => "almost_solved",
        other => return Err(format!("clarabel status {other:?}")),
    };
    let x = solver.solution.x.clone();
    if x.iter().any(|v| !v.is_finite()) {
        return Err("clarabel returned a non-finite solution".into());
    }
    Ok((x, status.into(), solver.solution.iterations))
}

/// Exact solver for the 2-norm and squared 2-norm penalties; build once, solve for many lambdas.
#[derive(Debug, Clone)]
pub struct Spectral {
    problem: Problem,
    /// Orthonormal basis of span{1, z} (one or two vectors).
    basis: Vec<DVector<f64>>,
    /// The projected corrections `P C` (n x k), kept for leave-one-out.
    pc: DMatrix<f64>,
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
        // Orthonormal basis of span{1, z} by Gram-Schmidt: projecting a column costs two dot
        // products and two updates, instead of an n x n projector.
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
        if k == 0 {
            // Nothing to correct (every column was dropped): only the scale and intercept.
            return Spectral {
                problem,
                basis,
                pc,
                vectors: DMatrix::zeros(0, 0),
                values: vec![],
                gamma: vec![],
                g_norm: 0.0,
            };
        }
        if k <= n {
            // Few features: eigendecompose the k x k Gram matrix G = (2/n) (PC)^T PC.
            let gram = pc.transpose() * &pc * scale;
            let g = pc.transpose() * py * scale;
            let eig = nalgebra::SymmetricEigen::new(gram);
            let gamma: Vec<f64> = (eig.eigenvectors.transpose() * &g).iter().copied().collect();
            let values = eig.eigenvalues.iter().map(|v| v.max(0.0)).collect();
            return Spectral { problem, basis, pc, vectors: eig.eigenvectors, values, gamma, g_norm: g.norm() };
        }
        // More features than samples (198 for FBNet): a thin SVD PC = U S W^T (rank <= n) gives
        // G = (2/n) W S^2 W^T and g = (2/n) W S U^T P y at the cost of an n x k factorisation.
        let svd = pc.clone().svd(true, true);
        let (Some(u), Some(w_t)) = (svd.u, svd.v_t) else {
            unreachable!("nalgebra returns U and V^T when asked for them")
        };
        let uy = u.transpose() * &py;
        let values: Vec<f64> = svd.singular_values.iter().map(|sv| scale * sv * sv).collect();
        let gamma: Vec<f64> = svd.singular_values.iter().zip(uy.iter()).map(|(sv, v)| scale * sv * v).collect();
        let g_norm = gamma.iter().map(|v| v * v).sum::<f64>().sqrt();
        Spectral { problem, basis, pc, vectors: w_t.transpose(), values, gamma, g_norm }
    }

    /// Leave-one-out predictions of the ridge fit for each lambda, without refitting.
    ///
    /// Leaving sample i out of `(1/n')||r||^2 + lambda ||b||^2` (n' = n - 1 samples) is the
    /// penalised least-squares problem with penalty `gamma = (n - 1) lambda` on the unscaled
    /// squared error, a linear smoother `H = Q Q^T + PC (C^T P C + gamma)^-1 C^T P` (Q: the basis
    /// of span{1, z}). For such smoothers the held-out prediction is exactly
    /// `y_i - e_i / (1 - h_ii)`, with the residual `e` and leverage `h` of the full-data fit,
    /// both from the one eigendecomposition: O(n k) per lambda. An infinite lambda is the
    /// uncorrected fit.
    ///
    /// Precision: with few samples and small lambdas the fit nearly interpolates, and `e` and
    /// `1 - h` are tiny differences of O(1) numbers. They are computed without that
    /// cancellation: with `u_j` the orthonormal directions of `PC` (eigenvalue `s_j`) and
    /// `t_j = shift / (s_j + shift)`, `e = r_perp + sum_j u_j (u_j . y) t_j` and
    /// `1 - h_ii = p_ii + sum_j u_ij^2 t_j`, where `r_perp` and `p_ii` (the part of `y` and the
    /// leverage outside span{1, z, PC}) do not depend on lambda and vanish when n <= k + 2.
    /// Entries are NaN where `1 - h_ii` is 0 to working precision (refit that fold).
    pub fn loo_ridge(&self, lambdas: &[f64]) -> Vec<Vec<f64>> {
        let n = self.problem.n();
        let half_n = n as f64 / 2.0;
        let y = DVector::from_column_slice(&self.problem.y);
        let smax = self.values.iter().cloned().fold(0.0, f64::max);
        // Orthonormal directions of PC: PC v_j / sqrt((n/2) s_j), for s_j clear of 0.
        let pv = &self.pc * &self.vectors;
        let dirs: Vec<(DVector<f64>, f64, f64)> = self
            .values
            .iter()
            .enumerate()
            .filter(|(_, &s)| s > 1e-12 * smax)
            .map(|(j, &s)| {
                let u = pv.column(j) / (half_n * s).sqrt();
                let uy = u.dot(&y);
                (u, s, uy)
            })
            .collect();
        // What no lambda changes: the residual and leverage outside span{1, z, PC}.
        let mut r_perp = y.clone();
        let mut p_diag = DVector::from_element(n, 1.0);
        for q in &self.basis {
            r_perp -= q * q.dot(&y);
            p_diag -= q.component_mul(q);
        }
        for (u, _, uy) in &dirs {
            r_perp -= u * *uy;
            p_diag -= u.component_mul(u);
        }
        if self.basis.len() + dirs.len() >= n {
            // span{1, z, PC} is everything: both are 0, whatever rounding left.
            r_perp.fill(0.0);
            p_diag.fill(0.0);
        }
        p_diag.apply(|v| *v = v.max(0.0));
        lambdas
            .iter()
            .map(|&lambda| {
                let shift = if lambda.is_finite() { 2.0 * (n as f64 - 1.0) * lambda / n as f64 } else { f64::INFINITY };
                let mut e = r_perp.clone();
                let mut free = p_diag.clone();
                for (u, s, uy) in &dirs {
                    let t = if shift.is_infinite() { 1.0 } else { shift / (s + shift) };
                    e.axpy(uy * t, u, 1.0);
                    free += u.component_mul(u) * t;
                }
                (0..n).map(|i| if free[i] > 1e-12 { y[i] - e[i] / free[i] } else { f64::NAN }).collect()
            })
            .collect()
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
        mu * self.values.iter().zip(&self.gamma).map(|(s, g)| (g / (s + mu)).powi(2)).sum::<f64>().sqrt()
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
            let (a, c) = p.fit_scale_and_intercept(&[0.0; 8]);
            assert!((large.a - a).abs() < 1e-4 && (large.intercept - c).abs() < 1e-4, "{pen:?}");
        }
    }

    #[test]
    // `i` picks the left-out sample in three places, not only in `fast`.
    #[allow(clippy::needless_range_loop)]
    fn exact_leave_one_out_equals_refitting_without_each_sample() {
        // Including nearly interpolating fits (k >= n, tiny lambda), where the residuals and
        // 1 - leverage are tiny.
        for (seed, n, k) in [(21, 12, 5), (22, 9, 20), (23, 40, 6), (24, 15, 15), (25, 12, 25)] {
            let p = random_problem(n, k, seed);
            let lambdas = [1e-7, 1e-5, 1e-2, 1.0, 50.0, f64::INFINITY];
            let fast = Spectral::new(p.clone()).loo_ridge(&lambdas);
            for i in 0..n {
                let keep: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                let fold = Problem {
                    z: keep.iter().map(|&j| p.z[j]).collect(),
                    c: DMatrix::from_fn(n - 1, k, |r, j| p.c[(keep[r], j)]),
                    y: keep.iter().map(|&j| p.y[j]).collect(),
                };
                let s = Spectral::new(fold);
                for (li, &lambda) in lambdas.iter().enumerate() {
                    let sol = if lambda.is_infinite() {
                        s.solve(Penalty::L2, f64::MAX)
                    } else {
                        s.solve(Penalty::Ridge, lambda)
                    }
                    .unwrap();
                    let one =
                        Problem { z: vec![p.z[i]], c: DMatrix::from_fn(1, k, |_, j| p.c[(i, j)]), y: vec![p.y[i]] };
                    let refit = one.predict(&sol)[0];
                    let got = fast[li][i];
                    assert!(
                        (got - refit).abs() < 1e-8 * (1.0 + refit.abs()),
                        "seed {seed} sample {i} lambda {lambda}: {got} vs {refit}"
                    );
                }
            }
        }
    }

    #[test]
    fn no_correction_columns_leave_scale_and_intercept() {
        let p = Problem { c: DMatrix::zeros(7, 0), ..random_problem(7, 3, 31) };
        let s = Spectral::new(p.clone());
        for pen in [Penalty::L2, Penalty::Ridge] {
            let sol = s.solve(pen, 0.1).unwrap();
            assert!(sol.b.is_empty());
            assert_eq!((sol.a, sol.intercept), (p.uncorrected().a, p.uncorrected().intercept));
        }
        let loo = s.loo_ridge(&[0.1]);
        assert!(loo[0].iter().all(|v| v.is_finite()));
        let conic = Conic::new(p.clone()).solve(Penalty::Ridge, 0.0, &[]).unwrap();
        assert!((conic.a - p.uncorrected().a).abs() < 1e-6);
    }

    #[test]
    fn constraints_are_respected_and_cost_what_they_must() {
        let p = random_problem(30, 4, 41);
        let conic = Conic::new(p.clone());
        let free = conic.solve(Penalty::L2, 0.01, &[]).unwrap();
        // Force the intercept well above its unconstrained value, and b_0 >= 0.5.
        let at_least = free.intercept + 1.0;
        let cons =
            [Inequality { row: vec![0.0, 1.0], at_least }, Inequality { row: vec![0.0, 0.0, 1.0], at_least: 0.5 }];
        let tied = conic.solve(Penalty::L2, 0.01, &cons).unwrap();
        assert!(tied.intercept >= at_least - 1e-6, "{} < {at_least}", tied.intercept);
        assert!(tied.b[0] >= 0.5 - 1e-6);
        assert!(tied.objective >= free.objective - 1e-9, "constraints cannot lower the optimum");
        // Least squares with u >= 0 on a problem whose unconstrained fit has a negative entry.
        let x = DMatrix::from_row_slice(4, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0]);
        let y = [1.0, -1.0, 0.0, 1.0];
        let nonneg: Vec<Inequality> = (0..2)
            .map(|j| Inequality { row: (0..2).map(|i| if i == j { 1.0 } else { 0.0 }).collect(), at_least: 0.0 })
            .collect();
        let u = constrained_least_squares(&x, &y, &[0.0, 0.0], &nonneg).unwrap();
        assert!(u[1].abs() < 1e-6 && u[0] > 0.3, "{u:?}");
        let bad = [Inequality { row: vec![f64::NAN], at_least: 0.0 }];
        assert!(constrained_least_squares(&x, &y, &[0.0, 0.0], &bad).is_err());
    }

    #[test]
    fn zero_lambda_ridge_interpolates_when_underdetermined() {
        let p = random_problem(6, 20, 5);
        let s = Spectral::new(p.clone()).solve(Penalty::Ridge, 0.0).unwrap();
        assert!(s.objective < 1e-12, "{}", s.objective);
    }

    /// The active-set solution and coordinate descent agree on random problems, ill-conditioned
    /// ones (a tiny ridge) included, and the active set settles on every one of them.
    #[test]
    fn the_active_set_and_coordinate_descent_agree() {
        let mut rng = crate::space::seeded_rng(4);
        for draw in 0..200 {
            let k = 1 + draw % 12;
            let a = DMatrix::from_fn(20, k, |_, _| rand::Rng::random_range(&mut rng, -1.0..1.0));
            let y = DVector::from_fn(20, |_, _| rand::Rng::random_range(&mut rng, -1.0..1.0));
            let mut g = a.transpose() * &a;
            let ridge = [1e-8, 1e-3, 1.0][draw % 3];
            for j in 0..k {
                g[(j, j)] += ridge;
            }
            let h = a.transpose() * y;
            let exact = active_set_quadratic(&g, &h).expect("settles");
            let cd = coordinate_descent_quadratic(&g, &h);
            let objective = |x: &DVector<f64>| 0.5 * x.dot(&(&g * x)) - h.dot(x);
            assert!(exact.iter().all(|&v| v >= 0.0));
            assert!(objective(&exact) <= objective(&cd) + 1e-10 * (1.0 + objective(&cd).abs()), "draw {draw}");
        }
    }

    #[test]
    fn nonnegative_quadratic_meets_its_optimality_conditions() {
        let mut rng = crate::space::seeded_rng(1);
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
