//! Non-negative ridge regression with a free intercept, validated over a fixed grid: the fit
//! behind the count models and the stackings.

use super::Fitted;
use crate::predictor::adapt::cv::{lambda_order, mse};
use crate::predictor::additive::{AdditivePredictor, StructureTerm};
use crate::predictor::solver::nonnegative_quadratic;
use crate::space::cell::{CellFeature, OpCounts, OPS};
use crate::space::{Arch, SpaceId};
use nalgebra::{DMatrix, DVector};

/// Ridge weights tried (times the number of samples in a fit), strongest last.
const RIDGE_GRID: [f64; 8] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];

/// Per-op counts of `feature` (op kinds 1.., `none` left out), one row per sample.
pub(super) fn count_columns(archs: &[Arch], feature: &CellFeature) -> DMatrix<f64> {
    let counts: Vec<OpCounts> = archs.iter().map(|a| feature.counts(a.genes())).collect();
    DMatrix::from_fn(archs.len(), OPS - 1, |i, j| counts[i][j + 1] as f64)
}

/// `y ~ c + F beta`, `beta >= 0`, penalty `lambda * rows * |beta|^2` on columns scaled to unit
/// spread over the samples; `c` free.
pub(super) struct NonNegativeRidge {
    /// Columns divided by `spread`.
    f: DMatrix<f64>,
    spread: Vec<f64>,
    y: Vec<f64>,
}

/// A [`NonNegativeRidge`] fitted on all samples at its validated lambda.
pub(super) struct RidgeFit {
    problem: NonNegativeRidge,
    beta: DVector<f64>,
    pub(super) intercept: f64,
    pub(super) lambda: f64,
    pub(super) cv_error: f64,
    pub(super) held_out: Vec<f64>,
}

impl NonNegativeRidge {
    pub(super) fn new(f: DMatrix<f64>, y: &[f64]) -> Self {
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
    pub(super) fn fit(self, tests: &[Vec<usize>]) -> Option<RidgeFit> {
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
    pub(super) fn per_column(&self) -> Vec<f64> {
        (0..self.beta.len())
            .map(|j| if self.problem.spread[j] > 0.0 { self.beta[j] / self.problem.spread[j] } else { 0.0 })
            .collect()
    }

    /// The fit's validation with `predictor`, the model it stands for (in milliseconds).
    pub(super) fn fitted(&self, predictor: AdditivePredictor) -> Fitted {
        Fitted {
            lambda: self.lambda,
            cv_error: self.cv_error,
            held_out: self.held_out.clone(),
            predictor,
            filled: Vec::new(),
            lowest: None,
        }
    }

    /// The fit as a predictor of structure terms: `features[t]` owns columns `4t..4t+4`.
    pub(super) fn into_counts(self, scale: f64, features: &[CellFeature]) -> Fitted {
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
        let predictor = AdditivePredictor {
            structure_terms,
            intercept: scale * self.intercept,
            ..AdditivePredictor::blank(SpaceId::Nb201)
        };
        Fitted {
            lambda: self.lambda,
            cv_error: self.cv_error,
            held_out: self.held_out,
            predictor,
            filled: Vec::new(),
            lowest: None,
        }
    }
}
