//! Validation shared by the correction forms and the hypotheses: the schemes and their folds,
//! the lambda grid and the order in which lambdas are preferred, the error measure, and the
//! reference statistics that standardise correction columns.

use super::params::{AdaptParams, LambdaChoice, Validation};
use crate::predictor::solver::Penalty;
use crate::space::{PerSpace, SearchSpace};
use nalgebra::{DMatrix, DVector};

/// Above this many samples, leave-one-out by refitting (every penalty but ridge, which has an
/// exact shortcut) gives way to [`LARGE_SAMPLE_FOLDS`]-fold validation: it would cost one
/// refit per sample and lambda.
pub const LOO_REFIT_LIMIT: usize = 200;

/// Folds used instead of refitting leave-one-out above [`LOO_REFIT_LIMIT`] samples.
pub const LARGE_SAMPLE_FOLDS: usize = 10;

/// How held-out predictions are obtained.
pub(super) enum Scheme {
    /// Leave-one-out from one ridge fit (hat-matrix shortcut).
    ExactLeaveOneOut,
    /// Refit without each test set.
    Refit(Vec<Vec<usize>>),
}

/// The validation scheme for `n` samples, and its description for the report.
pub(super) fn scheme(n: usize, validation: &Validation, penalty: Penalty) -> (Scheme, String) {
    let by_position = |k: usize| folds_by_position(n, k);
    match validation {
        Validation::LeaveOneOut if penalty == Penalty::Ridge => {
            (Scheme::ExactLeaveOneOut, "leave-one-out (exact, from one fit per candidate)".into())
        }
        Validation::LeaveOneOut if n <= LOO_REFIT_LIMIT => {
            (Scheme::Refit((0..n).map(|i| vec![i]).collect()), "leave-one-out".into())
        }
        Validation::LeaveOneOut => (
            Scheme::Refit(by_position(LARGE_SAMPLE_FOLDS)),
            format!(
                "{LARGE_SAMPLE_FOLDS}-fold (leave-one-out with the {} penalty needs a refit per sample; it is used up to {LOO_REFIT_LIMIT} samples)",
                penalty.name()
            ),
        ),
        Validation::KFold(k) => (Scheme::Refit(by_position(*k)), format!("{k}-fold")),
        Validation::Holdout(idx) => (Scheme::Refit(vec![idx.clone()]), format!("holdout of {} samples", idx.len())),
    }
}

/// Test sets for validating by refits under `scheme`: its own, or for the exact
/// leave-one-out (which has no constrained counterpart) leave-one-out refits up to
/// [`LOO_REFIT_LIMIT`] samples and [`LARGE_SAMPLE_FOLDS`] folds above.
pub(super) fn refit_tests(scheme: &Scheme, n: usize) -> Vec<Vec<usize>> {
    match scheme {
        Scheme::Refit(tests) => tests.clone(),
        Scheme::ExactLeaveOneOut if n <= LOO_REFIT_LIMIT => (0..n).map(|i| vec![i]).collect(),
        Scheme::ExactLeaveOneOut => folds_by_position(n, LARGE_SAMPLE_FOLDS),
    }
}

/// `k` test sets, sample `i` in set `i % k`.
fn folds_by_position(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0..k).map(|f| (0..n).filter(|i| i % k == f).collect()).collect()
}

/// The lambdas a candidate is validated at (on the scaled problem): the fixed one, or the grid.
/// The conic penalties get a coarser grid (each point costs a solve per fold).
pub(super) fn lambdas(params: &AdaptParams) -> Vec<f64> {
    match &params.lambda {
        LambdaChoice::Fixed(l) => vec![*l],
        LambdaChoice::Auto { grid } => {
            let pts = if matches!(params.penalty, Penalty::L1 | Penalty::Linf) { (*grid).min(13) } else { *grid };
            lambda_grid(params.penalty, pts)
        }
    }
}

/// Log-spaced lambda grid (on the scaled problem) plus infinity, which means b = 0.
fn lambda_grid(penalty: Penalty, points: usize) -> Vec<f64> {
    let (lo, hi): (f64, f64) = match penalty {
        Penalty::Ridge => (1e-6, 1e2),
        _ => (1e-5, 1e1),
    };
    let mut g: Vec<f64> = (0..points).map(|i| lo * (hi / lo).powf(i as f64 / (points - 1) as f64)).collect();
    g.push(f64::INFINITY);
    g
}

/// Lambda indices from best to worst cross-validated error, in the order the selection tries
/// them: ties (within 1e-9 relative) go to the larger lambda, the simpler model.
pub(super) fn lambda_order(errors: &[f64]) -> Vec<usize> {
    let mut left: Vec<usize> = (0..errors.len()).collect();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let mut best: Option<(usize, f64)> = None;
        for pos in (0..left.len()).rev() {
            let err = errors[left[pos]];
            if best.is_none_or(|(_, e)| err < e * (1.0 - 1e-9)) {
                best = Some((pos, err));
            }
        }
        let (pos, _) = best.unwrap_or((0, f64::NAN));
        order.push(left.remove(pos));
    }
    order
}

/// Mean squared error over the entries where `pred` is defined.
pub(super) fn mse(pred: &[f64], y: &[f64]) -> f64 {
    let (s, k) = pred
        .iter()
        .zip(y)
        .filter(|(p, _)| !p.is_nan())
        .fold((0.0, 0usize), |(s, k), (p, t)| (s + (p - t).powi(2), k + 1));
    if k == 0 {
        f64::INFINITY
    } else {
        s / k as f64
    }
}

/// Mean and covariance of the encoding over a reference set of the space (every architecture
/// of NB201, the bundled sample of the others), used to standardise correction columns.
pub(super) struct Reference {
    pub(super) mean: DVector<f64>,
    cov: DMatrix<f64>,
}

/// The reference statistics of `space`, computed once per process.
pub(super) fn reference(space: &dyn SearchSpace) -> &'static Reference {
    static CELLS: PerSpace<Reference> = PerSpace::new();
    CELLS.get_or_init(space.id(), || {
        let archs = space.enumerate().unwrap_or_else(|| {
            let mut rng = crate::space::seeded_rng(0);
            (0..4000).map(|_| space.sample(&mut rng)).collect()
        });
        let d = space.num_features();
        let x = DMatrix::from_row_slice(archs.len(), d, &crate::space::encode_all(space, &archs));
        let n = archs.len() as f64;
        let mean = DVector::from_iterator(d, (0..d).map(|j| x.column(j).sum() / n));
        let xc = DMatrix::from_fn(archs.len(), d, |i, j| x[(i, j)] - mean[j]);
        let cov = xc.transpose() * xc / n;
        Reference { mean, cov }
    })
}

impl Reference {
    /// Mean and standard deviation over the reference set of each column of `X m`.
    pub(super) fn column_stats(&self, m: &DMatrix<f64>) -> (Vec<f64>, Vec<f64>) {
        let mu: Vec<f64> = (0..m.ncols()).map(|j| self.mean.dot(&m.column(j))).collect();
        let sigma: Vec<f64> = (0..m.ncols())
            .map(|j| {
                let col = m.column(j);
                (col.transpose() * &self.cov * col)[(0, 0)].max(0.0).sqrt()
            })
            .collect();
        (mu, sigma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_in_error_go_to_the_larger_lambda() {
        assert_eq!(lambda_order(&[2.0, 1.0, 1.0, 3.0]), [2, 1, 0, 3]);
        assert_eq!(lambda_order(&[1.0, 1.0 + 1e-12, 5.0]), [1, 0, 2]);
        assert_eq!(mse(&[f64::NAN, 1.0, 3.0], &[0.0, 0.0, 1.0]), 2.5);
        assert_eq!(mse(&[f64::NAN], &[0.0]), f64::INFINITY);
    }

    #[test]
    fn schemes_switch_to_folds_where_refits_get_expensive() {
        let (s, text) = scheme(LOO_REFIT_LIMIT + 1, &Validation::LeaveOneOut, Penalty::L2);
        assert!(matches!(&s, Scheme::Refit(t) if t.len() == LARGE_SAMPLE_FOLDS), "{text}");
        let (s, _) = scheme(LOO_REFIT_LIMIT + 1, &Validation::LeaveOneOut, Penalty::Ridge);
        assert!(matches!(s, Scheme::ExactLeaveOneOut));
        assert_eq!(refit_tests(&s, 5).len(), 5);
        assert_eq!(refit_tests(&s, LOO_REFIT_LIMIT + 1).len(), LARGE_SAMPLE_FOLDS);
        assert_eq!(folds_by_position(5, 2), [vec![0, 2, 4], vec![1, 3]]);
    }
}
