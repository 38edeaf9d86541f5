//! The positivity refit: a candidate whose least-squares fit predicts a latency <= 0 somewhere
//! in the space is refitted under "every prediction >= a floor", by cutting planes, and
//! cross-validated again under the same constraints.

use super::design::Design;
use super::params::AdaptParams;
use crate::error::{Error, Result};
use crate::predictor::additive::{AdditivePredictor, FLOOR_FRACTION, MAX_CUTS};
use crate::predictor::proxies::Proxy;
use crate::predictor::solver::{Conic, Inequality, Penalty, Problem, Solution};
use crate::predictor::ProxyLatency;
use nalgebra::DMatrix;

/// A candidate refitted positive over the space, with its new cross-validation.
pub(super) struct PositiveFit {
    pub(super) predictor: AdditivePredictor,
    /// Status of the final solve.
    pub(super) status: String,
    /// Whether the corrections had to go (only the scale and intercept were fitted).
    pub(super) uncorrected: bool,
    /// Architectures whose prediction the fit had to hold up.
    pub(super) constraints: usize,
    pub(super) cv_error: f64,
    /// Held-out predictions (scaled), NaN where a fold's solve failed.
    pub(super) held_out: Vec<f64>,
    pub(super) solves: usize,
    /// The fit's [`lower_bound`](AdditivePredictor::lower_bound) over the space, with the
    /// proxy's measurements where it has them.
    pub(super) lowest: f64,
}

/// A fit that the cutting planes made positive.
struct Held {
    predictor: AdditivePredictor,
    /// Status of the final solve.
    status: String,
    cuts: Vec<Inequality>,
    /// Its lower bound over the space (positive).
    lowest: f64,
}

/// `design` at the solver lambda `lambda`, fitted on all samples under the positivity
/// constraint ([`constrained_fit`]) and validated on `tests` under the constraints it needed.
pub(super) fn refit_positive(
    design: &Design,
    proxy: &Proxy,
    params: &AdaptParams,
    lambda: f64,
    tests: &[Vec<usize>],
) -> Result<PositiveFit> {
    let (held, lambda) = constrained_fit(design, proxy, params, lambda)?;
    let held_out = constrained_held_out(design, params, lambda, &held.cuts, tests);
    let cv_error =
        if held_out.iter().all(|v| v.is_nan()) { f64::INFINITY } else { super::cv::mse(&held_out, &design.y) };
    Ok(PositiveFit {
        predictor: held.predictor,
        status: held.status,
        uncorrected: lambda.is_infinite(),
        constraints: held.cuts.len(),
        cv_error,
        held_out,
        solves: 2 + held.cuts.len() + tests.len(),
        lowest: held.lowest,
    })
}

/// Held-out predictions of the constrained fit: each fold refitted under the constraints the
/// full-data fit needed (NaN where a fold's solve failed).
fn constrained_held_out(
    design: &Design,
    params: &AdaptParams,
    lambda: f64,
    cuts: &[Inequality],
    tests: &[Vec<usize>],
) -> Vec<f64> {
    let n = design.y.len();
    let mut held_out = vec![f64::NAN; n];
    for test in tests {
        let train = design.training_rows(test);
        let (problem, penalty, lambda) = constrained_problem(design.problem(&train), params.penalty, lambda);
        if let Ok(sol) = Conic::new(problem).solve(penalty, lambda, cuts) {
            let sol = full_width(sol, design.c.ncols());
            for &t in test {
                held_out[t] = design.predict(t, &sol);
            }
        }
    }
    held_out
}

/// The problem a constrained fit solves: without correction columns for an infinite lambda
/// (then only the scale and intercept are fitted, and the penalty is moot).
fn constrained_problem(problem: Problem, penalty: Penalty, lambda: f64) -> (Problem, Penalty, f64) {
    if lambda.is_infinite() || problem.c.ncols() == 0 {
        let n = problem.n();
        (Problem { c: DMatrix::zeros(n, 0), ..problem }, Penalty::Ridge, 0.0)
    } else {
        (problem, penalty, lambda)
    }
}

/// A solution of a problem without correction columns, padded with `b = 0` to `k` columns.
fn full_width(sol: Solution, k: usize) -> Solution {
    if sol.b.len() == k {
        sol
    } else {
        Solution { b: vec![0.0; k], ..sol }
    }
}

/// The candidate refitted on all samples (Clarabel, same penalty and lambda) under the
/// constraint that every architecture of the space is predicted at least
/// [`FLOOR_FRACTION`] of the smallest sample, by cutting planes (each round adds the
/// architecture where the fit is lowest; see [`AdditivePredictor::lower_bound`]). Feasible:
/// `a = 0, b = 0, c = floor` satisfies every constraint. If [`MAX_CUTS`] rounds do not
/// suffice (spaces with very many near-minimal architectures), the corrections are dropped
/// and only the scale and intercept are fitted under the constraint, which takes a round or
/// two. Returns the fit and the (solver) lambda used.
fn constrained_fit(design: &Design, proxy: &Proxy, params: &AdaptParams, lambda: f64) -> Result<(Held, f64)> {
    for lambda in [lambda, f64::INFINITY] {
        if let Some(held) = cutting_planes(design, proxy, params.penalty, lambda)? {
            return Ok((held, lambda));
        }
    }
    Err(Error::NotConverged(format!(
        "no positive refit of the {} form after {MAX_CUTS} constraints",
        design.form.name()
    )))
}

/// [`constrained_fit`] at one lambda; `None` after [`MAX_CUTS`] rounds.
fn cutting_planes(design: &Design, proxy: &Proxy, penalty: Penalty, lambda: f64) -> Result<Option<Held>> {
    let latency = proxy.measured.map_or(ProxyLatency::Modelled, |(t, _)| ProxyLatency::Measured(t));
    let (problem, penalty, lambda) = constrained_problem(design.full_problem(), penalty, lambda);
    let k = problem.c.ncols();
    let conic = Conic::new(problem);
    let floor = FLOOR_FRACTION * design.y.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut cuts: Vec<Inequality> = Vec::new();
    while cuts.len() <= MAX_CUTS {
        let sol = full_width(conic.solve(penalty, lambda, &cuts)?, design.c.ncols());
        let predictor = design.predictor(proxy, &sol);
        let low = predictor.lower_bound(latency)?;
        if predictor.is_positive(low.value) {
            return Ok(Some(Held { predictor, status: sol.status, cuts, lowest: low.value }));
        }
        let mut row = design.row_at(proxy, &low.arch, low.measured);
        row.truncate(2 + k);
        cuts.push(Inequality { row, at_least: floor });
    }
    Ok(None)
}
