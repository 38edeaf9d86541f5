//! AdaProxy: adapt a proxy device's latency predictor to a target from a few measurements.
//!
//! Every form fits, on the n target samples, a model
//!
//! ```text
//!     y  ~  a * base(arch) + C(arch) b + c,        penalty lambda * pen(b)
//! ```
//!
//! with scalars `a`, `c` free and the corrections `b` shrunk toward 0 ([`solver`](super::solver)).
//! The forms differ in the base and in the correction columns `C = (X M - mu) / sigma`, linear
//! in the encoding `X`:
//!
//! | form | base | corrections |
//! |---|---|---|
//! | [`Form::PerFeature`] (the paper) | proxy's additive prediction `X w` | `X diag(w)`: target weights `w * (a + b)` |
//! | [`Form::Grouped`] | `X w` | one column per feature kind (op type, block choice): `sum over the kind of x_f w_f` |
//! | [`Form::MeasuredCounts`] | proxy's *measured* latency | how many features of each kind are set (op counts), standardised |
//! | [`Form::AdditiveOneHot`] | `X w` | every one-hot feature, standardised |
//!
//! A few samples cannot pin down 30 (NB201) or 198 (FBNet) per-feature corrections; they can pin
//! down 4 per-kind ones, and the proxy's measured latency ranks better than its additive model.
//! Because every correction is linear in `X`, every form collapses to
//! `latency = sum of proxy terms + X . weights + intercept` ([`AdditivePredictor`]).
//!
//! `lambda`, the form and (over a pool) the proxy are chosen by leave-one-out cross-validation of
//! the squared error on the samples. Over a pool of several proxies the `ensemble` best
//! candidates are averaged, which guards against one lucky candidate (e.g. with tied
//! whole-millisecond samples).
//!
//! Conditioning: problems are solved on `y / mean(y)`, with every column O(1), so that solver
//! tolerances mean the same on every device; the paper's code divided milliseconds by 1000,
//! which left some problems badly scaled for its solver.

use super::additive::{AdditivePredictor, ProxyTerm, StructureTerm, FLOOR_FRACTION, MAX_CUTS};
use super::json_numbers;
use super::scaling::{ldexp, mean_positive, rescale_exponent};
use super::solver::{Conic, Inequality, Penalty, Problem, Solution, Spectral};
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::space::{Arch, SearchSpace, SpaceId};
use crate::stats::spearman;
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::time::Instant;

/// What the correction `b` acts on (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// One multiplicative correction per feature (the paper).
    PerFeature,
    /// One multiplicative correction per feature kind.
    Grouped,
    /// Proxy's measured latency plus a cost per feature kind.
    MeasuredCounts,
    /// Proxy's additive prediction plus a cost per feature.
    AdditiveOneHot,
    /// No proxy: a non-negative cost per *live* op kind ([`hypotheses`](super::hypotheses), NB201).
    LiveOps,
    /// No proxy: live op counts plus the op counts of the costliest path (NB201).
    LivePath,
    /// A non-negative combination of every pool device's latency.
    Stacking,
    /// The same, of the pool devices' latencies of the cell with its dead operations removed.
    PrunedStacking,
    /// One-hot weights under a prior learned from the pool devices' weights.
    PoolPrior,
}

impl Form {
    /// Every form, in the order they are tried.
    pub const ALL: [Form; 4] = [Form::PerFeature, Form::Grouped, Form::MeasuredCounts, Form::AdditiveOneHot];

    /// Name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Form::PerFeature => "per-feature",
            Form::Grouped => "grouped",
            Form::MeasuredCounts => "measured-counts",
            Form::AdditiveOneHot => "additive-onehot",
            Form::LiveOps => "live-ops",
            Form::LivePath => "live-path",
            Form::Stacking => "stacking",
            Form::PrunedStacking => "pruned-stacking",
            Form::PoolPrior => "pool-prior",
        }
    }

    /// Whether the form is one of the [`hypotheses`](super::hypotheses) rather than a
    /// correction of one proxy.
    pub fn is_hypothesis(self) -> bool {
        matches!(self, Form::LiveOps | Form::LivePath | Form::Stacking | Form::PrunedStacking | Form::PoolPrior)
    }
}

/// Which forms to consider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FormChoice {
    /// Always this form.
    Fixed(Form),
    /// Every form that suits the space (per-kind forms only where kinds share cost); the one
    /// with the lowest cross-validated error wins.
    Auto,
}

/// How `lambda` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LambdaChoice {
    /// A given value (on the scaled problem: y divided by its mean).
    Fixed(f64),
    /// Chosen by validation over a log-spaced grid of this many values, plus infinity (b = 0).
    Auto {
        /// Number of finite grid points.
        grid: usize,
    },
}

/// How candidate settings are scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Validation {
    /// Leave-one-out cross-validation.
    LeaveOneOut,
    /// K-fold cross-validation (folds by position, k >= 2).
    KFold(usize),
    /// Fit on the samples not listed, score on those listed (the paper's validation split),
    /// then refit on all.
    Holdout(Vec<usize>),
}

/// Parameters of an adaptation (checked by [`AdaptParams::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptParams {
    /// Penalty on `b`.
    pub penalty: Penalty,
    /// Forms to consider.
    pub form: FormChoice,
    /// Lambda.
    pub lambda: LambdaChoice,
    /// Validation scheme for the automatic choices.
    pub validation: Validation,
    /// With several proxies and [`Combination::Best`], average this many best candidates
    /// (1 = take the best).
    pub ensemble: usize,
    /// Which candidates take part and how they are combined.
    #[serde(default)]
    pub combination: Combination,
}

/// How the cross-validated candidates become one predictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Combination {
    /// The correction forms only; the best candidate, or with several proxies the mean of the
    /// `ensemble` best (the rule before the hypotheses existed).
    Best,
    /// The correction forms *and* the [`hypotheses`](super::hypotheses) (live ops, costliest
    /// path, stacking, pruned stacking, pool prior), averaged with weights proportional to
    /// `MSE_LOO^(-n/8)`: a tempered leave-one-out likelihood of each under Gaussian errors
    /// (see `TEMPER`), so a hypothesis the samples cannot tell from the best keeps a share,
    /// one they rule out none.
    #[default]
    Averaged,
}

impl Default for AdaptParams {
    fn default() -> Self {
        AdaptParams {
            penalty: Penalty::Ridge,
            form: FormChoice::Auto,
            lambda: LambdaChoice::Auto { grid: 25 },
            validation: Validation::LeaveOneOut,
            ensemble: 3,
            combination: Combination::Averaged,
        }
    }
}

impl AdaptParams {
    /// The paper's setting: per-feature correction, 2-norm penalty, validated lambda, no ensemble.
    pub fn paper() -> Self {
        AdaptParams {
            penalty: Penalty::L2,
            form: FormChoice::Fixed(Form::PerFeature),
            ensemble: 1,
            combination: Combination::Best,
            ..Self::default()
        }
    }

    /// Validate the parameters against a sample count.
    pub fn check(&self, n: usize) -> Result<()> {
        if let LambdaChoice::Fixed(l) = self.lambda {
            if !(l >= 0.0 && l.is_finite()) {
                return Err(Error::InvalidParameter(format!("lambda must be >= 0, got {l}")));
            }
        }
        if let LambdaChoice::Auto { grid } = self.lambda {
            if grid < 2 {
                return Err(Error::InvalidParameter("the lambda grid needs at least 2 values".into()));
            }
        }
        if self.ensemble == 0 {
            return Err(Error::InvalidParameter("the ensemble size must be at least 1".into()));
        }
        // a, c and at least one held-out point need 3 samples.
        if n < 3 {
            return Err(Error::TooFewSamples(format!(
                "AdaProxy fits a scale and an intercept and validates on held-out samples: it needs at least 3 target samples, got {n}"
            )));
        }
        match &self.validation {
            Validation::KFold(k) if *k < 2 || *k > n => {
                Err(Error::InvalidParameter(format!("k-fold needs 2 <= k <= {n} samples, got k = {k}")))
            }
            Validation::Holdout(idx) if idx.is_empty() || idx.len() + 3 > n || idx.iter().any(|&i| i >= n) => {
                Err(Error::InvalidParameter(format!(
                    "the holdout must list 1 to {} of the {n} sample positions",
                    n.saturating_sub(3)
                )))
            }
            _ => Ok(()),
        }
    }
}

/// A proxy as AdaProxy sees it: its additive predictor and, where available, its measurements.
#[derive(Debug, Clone, Copy)]
pub struct Proxy<'a> {
    /// The proxy's additive predictor (its `device` names the proxy).
    pub predictor: &'a AdditivePredictor,
    /// The table holding the proxy's measured latencies, and its column.
    pub measured: Option<(&'a LatencyTable, usize)>,
}

impl<'a> Proxy<'a> {
    /// A proxy with its measurements in `table` (column of `predictor.device`).
    pub fn with_table(predictor: &'a AdditivePredictor, table: &'a LatencyTable) -> Result<Self> {
        let col = table.device_index(&predictor.device)?;
        Ok(Proxy { predictor, measured: Some((table, col)) })
    }

    /// The proxy's latency of `arch`: measured if available, else predicted.
    pub(super) fn latency(&self, arch: &Arch, encoded: &[f64]) -> f64 {
        self.measured.and_then(|(t, c)| t.latency(arch, c)).unwrap_or_else(|| self.predictor.predict_encoded(encoded))
    }
}

/// One candidate of the selection, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Proxy device.
    pub proxy: String,
    /// Form.
    pub form: Form,
    /// Chosen lambda; infinite = no correction, written `"none"` in JSON.
    #[serde(with = "json_numbers::lambda")]
    pub lambda: f64,
    /// Cross-validated mean squared error (relative to mean(y)^2).
    #[serde(with = "json_numbers::undefined")]
    pub cv_error: f64,
    /// Its weight in the average (the weights sum to 1).
    #[serde(default)]
    pub weight: f64,
    /// [`Form::Stacking`]: pool devices in the combination whose latency at some sample came
    /// from their fitted model (they had not measured it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filled: Vec<String>,
}

/// What an adaptation did, for people and scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptReport {
    /// Proxy of the best candidate.
    pub proxy: String,
    /// Form of the best candidate.
    pub form: Form,
    /// Penalty.
    pub penalty: Penalty,
    /// Lambda of the best candidate (on the scaled problem); infinite = no correction (the
    /// proxy's latency scaled and shifted), written `"none"` in JSON.
    #[serde(with = "json_numbers::lambda")]
    pub lambda: f64,
    /// Cross-validated mean squared error of the result (relative to mean(y)^2).
    #[serde(with = "json_numbers::undefined")]
    pub cv_error: f64,
    /// Spearman between the held-out predictions and the samples; NaN (JSON `"undefined"`)
    /// when either is constant, e.g. samples that all tie.
    #[serde(with = "json_numbers::undefined")]
    pub cv_spearman: f64,
    /// Number of optimisation problems solved.
    pub solves: usize,
    /// Wall time of the whole adaptation.
    pub solve_seconds: f64,
    /// Status of the final solves (`exact`, `solved`, `almost_solved`).
    pub status: String,
    /// Number of samples.
    pub samples: usize,
    /// The candidates averaged into the result (one unless an ensemble was used).
    pub members: Vec<Member>,
    /// Candidates considered (proxies x forms).
    pub candidates: usize,
    /// How candidates were validated, in words: `leave-one-out (exact, from one fit per
    /// candidate)` for ridge, `leave-one-out` with refits up to [`LOO_REFIT_LIMIT`] samples,
    /// [`LARGE_SAMPLE_FOLDS`]-fold above, or the k-fold / holdout asked for.
    #[serde(default)]
    pub validation: String,
    /// Members whose least-squares predictor was not positive for every architecture of
    /// the space, and were refitted under that constraint (see [`Constrained`]).
    #[serde(default)]
    pub constrained: Vec<Constrained>,
    /// Lambdas (over all candidates) ruled out because a conic solve did not converge on
    /// some fold; 0 in all but pathological problems.
    #[serde(default)]
    pub unsolved_lambdas: usize,
    /// Candidates left out because a solve did not converge, in words (the others still make
    /// the predictor; one pathological candidate does not stop an adaptation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A member refitted because its least-squares predictor is not positive over the whole
/// space: the same proxy, form and lambda, fitted under "every prediction >= 1% of the
/// fastest sample", and cross-validated again under the same constraints (lambda `none` when
/// the constraint could only be met without corrections).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constrained {
    /// Proxy device.
    pub proxy: String,
    /// Form.
    pub form: Form,
    /// Lambda (`"none"` in JSON when infinite).
    #[serde(with = "json_numbers::lambda")]
    pub lambda: f64,
    /// The lowest latency the unconstrained predictor gave over the space (ms).
    pub lowest_ms: f64,
    /// An architecture where it did.
    pub arch: String,
    /// Architectures whose prediction the refit had to hold up (cutting planes).
    pub constraints: usize,
    /// Cross-validated error before the constraint (the member's `cv_error` is the
    /// constrained fit's).
    #[serde(with = "json_numbers::undefined")]
    pub unconstrained_cv_error: f64,
}

/// Above this many samples, leave-one-out by refitting (every penalty but ridge, which has an
/// exact shortcut) gives way to [`LARGE_SAMPLE_FOLDS`]-fold validation: it would cost one
/// refit per sample and lambda.
pub const LOO_REFIT_LIMIT: usize = 200;

/// Folds used instead of refitting leave-one-out above [`LOO_REFIT_LIMIT`] samples.
pub const LARGE_SAMPLE_FOLDS: usize = 10;

/// The adapted predictor with its report.
#[derive(Debug, Clone)]
pub struct Adapted {
    /// The target predictor (ms).
    pub predictor: AdditivePredictor,
    /// How it was chosen.
    pub report: AdaptReport,
}

/// Mean and covariance of the encoding over a reference set of the space (every architecture
/// of NB201, the bundled sample of the others), used to standardise correction columns.
pub(super) struct Reference {
    pub(super) mean: DVector<f64>,
    cov: DMatrix<f64>,
}

pub(super) fn reference(space: &dyn SearchSpace) -> &'static Reference {
    static CELLS: [OnceLock<Reference>; SpaceId::ALL.len()] = [const { OnceLock::new() }; SpaceId::ALL.len()];
    let i = SpaceId::ALL.iter().position(|&s| s == space.id()).expect("every space is in ALL");
    CELLS[i].get_or_init(|| {
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

/// One form for one proxy on the samples: base, correction map and the scaled data.
struct Design {
    form: Form,
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
    c: DMatrix<f64>,
    y: Vec<f64>,
}

impl Design {
    /// `None` when the form does not apply (e.g. measured base without measurements).
    /// `ys` is `y / scale`.
    fn new(form: Form, proxy: &Proxy, x: &DMatrix<f64>, archs: &[Arch], ys: &[f64], scale: f64) -> Option<Self> {
        let space = proxy.predictor.space.space();
        // The proxy's least-squares direction (its positive fit only where it is measured).
        let w = proxy.predictor.base_weights();
        let d = w.len();
        let groups: Vec<Vec<usize>> = space.feature_groups().into_iter().map(|g| g.features).collect();
        let reference_stats = |m: &DMatrix<f64>| {
            let r = reference(space);
            let mu: Vec<f64> = (0..m.ncols()).map(|j| r.mean.dot(&m.column(j))).collect();
            let sigma: Vec<f64> = (0..m.ncols())
                .map(|j| {
                    let col = m.column(j);
                    (col.transpose() * &r.cov * col)[(0, 0)].max(0.0).sqrt()
                })
                .collect();
            (mu, sigma)
        };
        // Columns of the multiplicative forms are in milliseconds (divided by `scale`); the
        // standardised ones are O(1) already.
        let in_ms = |m: &DMatrix<f64>| rescale_exponent(m.amax(), scale);
        let (measured_base, m, mu, sigma, column_exponent) = match form {
            Form::PerFeature => {
                let m = DMatrix::from_diagonal(&DVector::from_column_slice(w));
                let e = in_ms(&m);
                (false, m, vec![0.0; d], vec![ldexp(scale, e); d], e)
            }
            Form::Grouped => {
                let mut m = DMatrix::zeros(d, groups.len());
                for (g, feats) in groups.iter().enumerate() {
                    for &f in feats {
                        m[(f, g)] = w[f];
                    }
                }
                let (k, e) = (m.ncols(), in_ms(&m));
                (false, m, vec![0.0; k], vec![ldexp(scale, e); k], e)
            }
            Form::MeasuredCounts => {
                proxy.measured?;
                let mut m = DMatrix::zeros(d, groups.len());
                for (g, feats) in groups.iter().enumerate() {
                    for &f in feats {
                        m[(f, g)] = 1.0;
                    }
                }
                let (mu, sigma) = reference_stats(&m);
                (true, m, mu, sigma, 0)
            }
            Form::AdditiveOneHot => {
                let m = DMatrix::identity(d, d);
                let (mu, sigma) = reference_stats(&m);
                (false, m, mu, sigma, 0)
            }
            // The hypotheses (`Form::is_hypothesis`) are not corrections of one proxy.
            _ => return None,
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
    fn solver_lambda(&self, penalty: Penalty, lambda: f64) -> f64 {
        match (self.column_exponent, penalty) {
            (0, _) => lambda,
            (e, Penalty::Ridge) => ldexp(lambda, -2 * e),
            (e, _) => ldexp(lambda, -e),
        }
    }

    fn problem(&self, rows: &[usize]) -> Problem {
        Problem {
            z: rows.iter().map(|&i| self.z[i]).collect(),
            c: DMatrix::from_fn(rows.len(), self.c.ncols(), |r, j| self.c[(rows[r], j)]),
            y: rows.iter().map(|&i| self.y[i]).collect(),
        }
    }

    fn full_problem(&self) -> Problem {
        Problem { z: self.z.clone(), c: self.c.clone(), y: self.y.clone() }
    }

    fn predict(&self, i: usize, s: &Solution) -> f64 {
        s.a * self.z[i] + (0..self.c.ncols()).map(|j| self.c[(i, j)] * s.b[j]).sum::<f64>() + s.intercept
    }

    /// The row of `(a, c, b)` giving the scaled prediction for `arch`, with the proxy's
    /// measured latency (if it has one for `arch`) or its fallback model as the base: a linear
    /// constraint of the positive refit.
    fn row_at(&self, proxy: &Proxy, arch: &Arch, measured: bool) -> Vec<f64> {
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
    fn predictor(&self, proxy: &Proxy, s: &Solution) -> AdditivePredictor {
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
            space: p.space,
            encoding_version: p.encoding_version,
            device: String::new(),
            weights,
            intercept,
            proxy_terms,
            structure_terms: Vec::new(),
            provenance: serde_json::Value::Null,
            unconstrained: None,
        }
    }
}

/// Solver for one design over lambdas (lambdas as the solver sees them).
enum Engine {
    Spectral(Spectral),
    Conic(Conic),
}

impl Engine {
    fn new(problem: Problem, penalty: Penalty) -> Self {
        match penalty {
            // Without correction columns every penalty is the same (b is empty).
            _ if problem.c.ncols() == 0 => Engine::Spectral(Spectral::new(problem)),
            Penalty::L2 | Penalty::Ridge => Engine::Spectral(Spectral::new(problem)),
            _ => Engine::Conic(Conic::new(problem)),
        }
    }

    fn solve(&self, penalty: Penalty, lambda: f64) -> Result<Solution> {
        match self {
            Engine::Spectral(s) if lambda.is_infinite() => s.solve(Penalty::L2, f64::MAX),
            Engine::Spectral(s) if s.problem().c.ncols() == 0 => s.solve(Penalty::L2, lambda),
            Engine::Spectral(s) => s.solve(penalty, lambda),
            Engine::Conic(p) if lambda.is_infinite() => Ok(p.problem().uncorrected()),
            Engine::Conic(p) => p.solve(penalty, lambda, &[]),
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

/// How held-out predictions are obtained.
enum Scheme {
    /// Leave-one-out from one ridge fit (hat-matrix shortcut).
    ExactLeaveOneOut,
    /// Refit without each test set.
    Refit(Vec<Vec<usize>>),
}

/// The validation scheme for `n` samples, and its description for the report.
fn scheme(n: usize, validation: &Validation, penalty: Penalty) -> (Scheme, String) {
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

/// A cross-validated candidate: one proxy, one form, every lambda of the grid. Only O(n) is
/// kept per candidate (a pool of 28 proxies x 4 forms on 15625 samples would otherwise hold
/// gigabytes); the chosen ones rebuild their design to be fitted on all samples.
struct Candidate {
    proxy: usize,
    form: Form,
    lambdas: Vec<f64>,
    /// Cross-validated error per lambda (infinite where a solve failed).
    errors: Vec<f64>,
    /// The lambda the selection takes ([`lambda_order`]).
    best: usize,
    /// Held-out predictions (scaled) at `best`, NaN where a sample was never held out.
    held_out: Vec<f64>,
    solves: usize,
    /// Lambdas ruled out because a conic solve did not converge.
    unsolved: usize,
}

fn cross_validate(
    design: &Design,
    proxy: usize,
    params: &AdaptParams,
    n_scheme: &(Scheme, String),
) -> Result<Candidate> {
    let n = design.y.len();
    let lambdas = match &params.lambda {
        LambdaChoice::Fixed(l) => vec![*l],
        LambdaChoice::Auto { grid } => {
            let pts = if matches!(params.penalty, Penalty::L1 | Penalty::Linf) { (*grid).min(13) } else { *grid };
            lambda_grid(params.penalty, pts)
        }
    };
    let solver_lambdas: Vec<f64> = lambdas.iter().map(|&l| design.solver_lambda(params.penalty, l)).collect();
    let engine = Engine::new(design.full_problem(), params.penalty);
    let mut solves = 0;
    // A (fold, lambda) whose conic solve fails rules that lambda out (never the infinite
    // lambda, which needs no solver); the count is reported.
    let mut unsolved = vec![false; lambdas.len()];
    let refit = |test: &[usize], preds: &mut [Vec<f64>], solves: &mut usize, unsolved: &mut [bool]| -> Result<()> {
        let mut held = vec![false; n];
        for &t in test {
            held[t] = true;
        }
        let train: Vec<usize> = (0..n).filter(|&i| !held[i]).collect();
        let fold = Engine::new(design.problem(&train), params.penalty);
        for (li, &lambda) in solver_lambdas.iter().enumerate() {
            *solves += 1;
            match fold.solve(params.penalty, lambda) {
                Ok(sol) => {
                    for &t in test {
                        preds[li][t] = design.predict(t, &sol);
                    }
                }
                Err(Error::NotConverged(_)) => unsolved[li] = true,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    let mut preds = vec![vec![f64::NAN; n]; lambdas.len()];
    match (&n_scheme.0, &engine) {
        (Scheme::ExactLeaveOneOut, Engine::Spectral(s)) => {
            preds = s.loo_ridge(&solver_lambdas);
            solves += lambdas.len();
            // Samples with leverage 1: refit their folds.
            let high_leverage: Vec<usize> = (0..n).filter(|&i| preds.iter().any(|p| p[i].is_nan())).collect();
            for i in high_leverage {
                refit(&[i], &mut preds, &mut solves, &mut unsolved)?;
            }
        }
        (Scheme::ExactLeaveOneOut, Engine::Conic(_)) => {
            for i in 0..n {
                refit(&[i], &mut preds, &mut solves, &mut unsolved)?;
            }
        }
        (Scheme::Refit(tests), _) => {
            for test in tests {
                refit(test, &mut preds, &mut solves, &mut unsolved)?;
            }
        }
    }
    let errors: Vec<f64> =
        preds.iter().zip(&unsolved).map(|(p, &bad)| if bad { f64::INFINITY } else { mse(p, &design.y) }).collect();
    let unsolved = unsolved.iter().filter(|&&u| u).count();
    let best = lambda_order(&errors)[0];
    let held_out = preds.swap_remove(best);
    Ok(Candidate { proxy, form: design.form, lambdas, errors, best, held_out, solves, unsolved })
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

fn check_samples(archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<()> {
    params.check(archs.len())?;
    if archs.len() != y.len() {
        return Err(Error::InvalidParameter("one latency per sample architecture".into()));
    }
    if let Some(why) = y.iter().find_map(|&v| crate::data::check_latency(v).err()) {
        return Err(Error::InvalidParameter(format!("target {why}")));
    }
    let (lo, hi) = y.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if hi / lo > MAX_SPREAD {
        return Err(Error::InvalidParameter(format!(
            "target latencies range from {lo:e} to {hi:e} ms, more than 1e200 apart: no latency model spans that (mixed units?)"
        )));
    }
    Ok(())
}

/// The largest ratio between two latencies of one target that AdaProxy accepts: beyond it the
/// smallest vanish next to the largest in double precision.
const MAX_SPREAD: f64 = 1e200;

/// Adapt one proxy to a target measured on `archs` (latencies `y`, ms).
pub fn adapt(proxy: &Proxy, archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<Adapted> {
    adapt_pool(std::slice::from_ref(proxy), archs, y, params)
}

/// Adapt the best of several proxies (and forms) to a target; with more than one proxy the
/// `params.ensemble` best candidates are averaged.
pub fn adapt_pool(proxies: &[Proxy], archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<Adapted> {
    adapt_pool_with_progress(proxies, archs, y, params, &|_, _| {})
}

/// A candidate at its best lambda, fitted on all samples and positive over the space.
struct Choice {
    candidate: usize,
    /// The lambda fitted (infinite if a constrained fit had to drop the corrections).
    lambda: f64,
    predictor: AdditivePredictor,
    status: String,
    /// Cross-validated error of this fit (of the constrained fit, when it had to be).
    cv_error: f64,
    /// Its held-out predictions (scaled).
    held_out: Vec<f64>,
    constrained: Option<Constrained>,
    solves: usize,
}

/// [`adapt_pool`], calling `progress(done, total)` as candidates (proxy x form) are validated.
pub fn adapt_pool_with_progress(
    proxies: &[Proxy],
    archs: &[Arch],
    y: &[f64],
    params: &AdaptParams,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Adapted> {
    check_samples(archs, y, params)?;
    if proxies.is_empty() {
        return Err(Error::InvalidParameter("no proxy to adapt".into()));
    }
    let space = proxies[0].predictor.space;
    for p in proxies {
        p.predictor.validate()?;
        if p.predictor.space != space {
            return Err(Error::InvalidParameter("every proxy must predict the same space".into()));
        }
    }
    let started = Instant::now();
    let n = y.len();
    let d = space.space().num_features();
    let x = DMatrix::from_row_slice(n, d, &crate::space::encode_all(space.space(), archs));
    let scale = mean_positive(y);
    let ys: Vec<f64> = y.iter().map(|v| v / scale).collect();
    let forms: Vec<Form> = match params.form {
        FormChoice::Fixed(f) => vec![f],
        // Per-kind forms only where a kind costs the same everywhere (see `kinds_share_cost`).
        FormChoice::Auto if space.space().kinds_share_cost() => Form::ALL.to_vec(),
        FormChoice::Auto => vec![Form::PerFeature, Form::AdditiveOneHot],
    };
    // A single lambda is validated by leave-one-out whatever the scheme (it only reports).
    let validation =
        if matches!(params.lambda, LambdaChoice::Fixed(_)) { &Validation::LeaveOneOut } else { &params.validation };
    let plan = scheme(n, validation, params.penalty);
    let jobs: Vec<(usize, Form)> = (0..proxies.len()).flat_map(|p| forms.iter().map(move |&f| (p, f))).collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut warnings = Vec::new();
    let validated: Vec<(usize, Form, Result<Candidate>)> = jobs
        .par_iter()
        .filter_map(|&(p, f)| {
            let c = Design::new(f, &proxies[p], &x, archs, &ys, scale)
                .map(|d| (p, f, cross_validate(&d, p, params, &plan)));
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, jobs.len());
            c
        })
        .collect();
    let mut candidates: Vec<Candidate> = Vec::with_capacity(validated.len());
    for (p, f, c) in validated {
        match c {
            Ok(c) => candidates.push(c),
            Err(e) => warnings.push(drop_unsolved(e, &proxies[p], f)?),
        }
    }
    if candidates.is_empty() {
        return Err(Error::InvalidParameter(
            "no applicable form (the measured-latency form needs the proxy's table)".into(),
        ));
    }
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (ca, cb) = (&candidates[a], &candidates[b]);
        ca.errors[ca.best].total_cmp(&cb.errors[cb.best]).then(ca.proxy.cmp(&cb.proxy))
    });
    // The hypotheses join only when the form is left to the data (`FormChoice::Auto`).
    let averaged = params.combination == Combination::Averaged && params.form == FormChoice::Auto;
    // The log-weight of a cross-validated error under `MSE^(-TEMPER n)` averaging.
    let log_weight = |err: f64| -TEMPER * n as f64 * err.max(1e-300).ln();
    let take = if averaged {
        MAX_SETTLED.min(candidates.len())
    } else if proxies.len() > 1 {
        params.ensemble.min(candidates.len())
    } else {
        1
    };
    // The best candidates, each fitted on all samples and made positive over the space. A
    // constrained fit is cross-validated again, so it competes with its real error; as the
    // constraint rarely helps, candidates stop being settled once `take` settled ones beat
    // the next one's unconstrained error (with every fit positive: the first `take`).
    let settle_one = |ci: usize| -> Result<Choice> {
        let c = &candidates[ci];
        let proxy = &proxies[c.proxy];
        let design = Design::new(c.form, proxy, &x, archs, &ys, scale)
            .ok_or_else(|| Error::InvalidParameter(format!("form {} no longer applies", c.form.name())))?;
        settle(ci, c, &design, proxy, params, &plan.0)
    };
    let (mut settled, hypotheses): (Vec<Choice>, Vec<super::hypotheses::Fitted>) = if averaged {
        // Every candidate whose weight is not negligible beside the best one's, up to `take`,
        // settled in parallel with the hypotheses (the stopping rule below needs them one by
        // one). Weights negligible beside a hypothesis are dropped when averaging.
        let first = &candidates[order[0]];
        let best = log_weight(first.errors[first.best]);
        let chosen: Vec<usize> = order
            .iter()
            .copied()
            .take(take)
            .take_while(|&ci| log_weight(candidates[ci].errors[candidates[ci].best]) >= best + NEGLIGIBLE_WEIGHT.ln())
            .collect();
        let (settled, hypotheses) = rayon::join(
            || chosen.into_par_iter().map(|ci| (ci, settle_one(ci))).collect::<Vec<_>>(),
            || super::hypotheses::fit_all(proxies, archs, &ys, scale, &refit_tests(&plan.0, n)),
        );
        let mut kept = Vec::with_capacity(settled.len());
        for (ci, s) in settled {
            match s {
                Ok(s) => kept.push(s),
                Err(e) => {
                    let c = &candidates[ci];
                    warnings.push(drop_unsolved(e, &proxies[c.proxy], c.form)?);
                }
            }
        }
        (kept, hypotheses)
    } else {
        let mut settled: Vec<Choice> = Vec::new();
        for &ci in &order {
            let c = &candidates[ci];
            let mut errs: Vec<f64> = settled.iter().map(|s| s.cv_error).collect();
            errs.sort_by(f64::total_cmp);
            if settled.len() >= take && c.errors[c.best] >= errs[take - 1] {
                break;
            }
            match settle_one(ci) {
                Ok(s) => settled.push(s),
                Err(e) => warnings.push(drop_unsolved(e, &proxies[c.proxy], c.form)?),
            }
        }
        (settled, Vec::new())
    };
    if settled.is_empty() {
        return Err(Error::NotConverged(format!("no candidate could be fitted: {}", warnings.join("; "))));
    }
    settled.sort_by(|a, b| {
        a.cv_error.total_cmp(&b.cv_error).then(candidates[a.candidate].proxy.cmp(&candidates[b.candidate].proxy))
    });
    let solves: usize =
        candidates.iter().map(|c| c.solves).sum::<usize>() + settled.iter().map(|s| s.solves).sum::<usize>();
    settled.truncate(take);
    let constrained: Vec<Constrained> = settled.iter().filter_map(|s| s.constrained.clone()).collect();
    let mut members: Vec<Member> = settled
        .iter()
        .map(|m| {
            let c = &candidates[m.candidate];
            Member {
                proxy: proxies[c.proxy].predictor.device.clone(),
                form: c.form,
                lambda: m.lambda,
                cv_error: m.cv_error,
                weight: 1.0 / settled.len() as f64,
                filled: Vec::new(),
            }
        })
        .collect();
    let mut predictors: Vec<AdditivePredictor> = settled.iter().map(|m| m.predictor.clone()).collect();
    let mut held_outs: Vec<Vec<f64>> = settled.iter().map(|m| m.held_out.clone()).collect();
    let pool_name = |form: Form| {
        if matches!(form, Form::Stacking | Form::PrunedStacking | Form::PoolPrior) {
            "pool"
        } else {
            "none"
        }
    };
    for h in hypotheses {
        members.push(Member {
            proxy: pool_name(h.form).to_string(),
            form: h.form,
            lambda: h.lambda,
            cv_error: h.cv_error,
            weight: 0.0,
            filled: h.filled,
        });
        predictors.push(h.predictor);
        held_outs.push(h.held_out);
    }
    if averaged {
        let logs: Vec<f64> = members.iter().map(|m| log_weight(m.cv_error)).collect();
        let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let raw: Vec<f64> = logs.iter().map(|l| if top.is_finite() { (l - top).exp() } else { 1.0 }).collect();
        let raw: Vec<f64> = raw.iter().map(|&w| if w < NEGLIGIBLE_WEIGHT { 0.0 } else { w }).collect();
        let total: f64 = raw.iter().sum();
        for (m, w) in members.iter_mut().zip(raw) {
            m.weight = w / total;
        }
        // Heaviest first; members without weight are not reported.
        let mut order: Vec<usize> = (0..members.len()).filter(|&i| members[i].weight > 0.0).collect();
        order.sort_by(|&a, &b| members[b].weight.total_cmp(&members[a].weight).then(a.cmp(&b)));
        members = order.iter().map(|&i| members[i].clone()).collect();
        predictors = order.iter().map(|&i| predictors[i].clone()).collect();
        held_outs = order.iter().map(|&i| held_outs[i].clone()).collect();
    }
    let weights: Vec<f64> = members.iter().map(|m| m.weight).collect();
    // A convex combination of predictors that are positive everywhere is positive everywhere;
    // checked anyway (with the measurements, and that every weight is finite).
    let predictor = average(&predictors, &weights);
    let table = proxies.iter().find_map(|p| p.measured.map(|(t, _)| t));
    predictor.validate()?;
    predictor.check_positive(table)?;
    let held_out: Vec<f64> =
        (0..n).map(|i| held_outs.iter().zip(&weights).map(|(h, w)| w * h[i]).sum::<f64>()).collect();
    let defined: Vec<usize> = (0..n).filter(|&i| !held_out[i].is_nan()).collect();
    // The proxy reported is the heaviest member with one (a correction form).
    let lead = members.iter().position(|m| !m.form.is_hypothesis());
    let best = &candidates[settled[0].candidate];
    let (lead_proxy, lead_form, lead_lambda) = match lead {
        Some(i) => (members[i].proxy.clone(), members[i].form, members[i].lambda),
        None => (proxies[best.proxy].predictor.device.clone(), best.form, settled[0].lambda),
    };
    let status = if settled.iter().all(|m| m.status == "exact") {
        "exact".to_string()
    } else if settled.iter().all(|m| m.status == "exact" || m.status == "solved") {
        "solved".to_string()
    } else {
        "almost_solved".to_string()
    };
    let report = AdaptReport {
        proxy: lead_proxy,
        form: lead_form,
        penalty: params.penalty,
        lambda: lead_lambda,
        cv_error: mse(&held_out, &ys),
        cv_spearman: spearman(
            &defined.iter().map(|&i| held_out[i]).collect::<Vec<_>>(),
            &defined.iter().map(|&i| ys[i]).collect::<Vec<_>>(),
        ),
        solves,
        solve_seconds: started.elapsed().as_secs_f64(),
        status,
        samples: n,
        members,
        candidates: candidates.len(),
        validation: plan.1,
        constrained,
        unsolved_lambdas: candidates.iter().map(|c| c.unsolved).sum(),
        warnings,
    };
    Ok(Adapted { predictor, report })
}

/// A candidate whose solve did not converge is dropped with a warning; any other error stops
/// the adaptation.
fn drop_unsolved(e: Error, proxy: &Proxy, form: Form) -> Result<String> {
    match e {
        Error::NotConverged(why) => Ok(format!(
            "candidate {} x {} left out: the solver did not converge ({why})",
            proxy.predictor.device,
            form.name()
        )),
        other => Err(other),
    }
}

/// A candidate at its best lambda, fitted on all samples. If its predictor is not positive
/// for every architecture of the space (with the proxy's measurements where it has them), it
/// is refitted under that constraint ([`constrained_fit`]) and cross-validated again, rather
/// than passed over: on edgetpu (pixel3, 60 samples) passing over such candidates cost 0.05
/// Spearman, the constraint much less.
fn settle(
    ci: usize,
    c: &Candidate,
    design: &Design,
    proxy: &Proxy,
    params: &AdaptParams,
    scheme: &Scheme,
) -> Result<Choice> {
    let li = c.best;
    let lambda = design.solver_lambda(params.penalty, c.lambdas[li]);
    let sol = Engine::new(design.full_problem(), params.penalty).solve(params.penalty, lambda)?;
    let predictor = design.predictor(proxy, &sol);
    let low = predictor.lower_bound(proxy.measured.map(|(t, _)| t))?;
    if predictor.is_positive(low.value) {
        let (cv_error, held_out) = (c.errors[li], c.held_out.clone());
        let lambda = c.lambdas[li];
        return Ok(Choice {
            candidate: ci,
            lambda,
            predictor,
            status: sol.status,
            cv_error,
            held_out,
            constrained: None,
            solves: 1,
        });
    }
    let (predictor, status, cuts, lambda) = constrained_fit(design, proxy, params, lambda)?;
    let tests = refit_tests(scheme, design.y.len());
    let held_out = constrained_held_out(design, params, lambda, &cuts, &tests);
    let cv_error = if held_out.iter().all(|v| v.is_nan()) { f64::INFINITY } else { mse(&held_out, &design.y) };
    let constrained = Constrained {
        proxy: proxy.predictor.device.clone(),
        form: design.form,
        lambda: if lambda.is_infinite() { f64::INFINITY } else { c.lambdas[li] },
        lowest_ms: low.value,
        arch: proxy.predictor.space.space().format(&low.arch),
        constraints: cuts.len(),
        unconstrained_cv_error: c.errors[li],
    };
    let solves = 2 + cuts.len() + tests.len();
    let lambda = if lambda.is_infinite() { f64::INFINITY } else { c.lambdas[li] };
    Ok(Choice { candidate: ci, lambda, predictor, status, cv_error, held_out, constrained: Some(constrained), solves })
}

/// Test sets for validating by refits under `scheme`: its own, or for the exact
/// leave-one-out (which has no constrained counterpart) leave-one-out refits up to
/// [`LOO_REFIT_LIMIT`] samples and [`LARGE_SAMPLE_FOLDS`] folds above.
fn refit_tests(scheme: &Scheme, n: usize) -> Vec<Vec<usize>> {
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
        let mut held = vec![false; n];
        for &t in test {
            held[t] = true;
        }
        let train: Vec<usize> = (0..n).filter(|&i| !held[i]).collect();
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
/// two. Returns the predictor, the solver status, the constraints and the (solver) lambda
/// used.
fn constrained_fit(
    design: &Design,
    proxy: &Proxy,
    params: &AdaptParams,
    lambda: f64,
) -> Result<(AdditivePredictor, String, Vec<Inequality>, f64)> {
    for lambda in [lambda, f64::INFINITY] {
        if let Some((predictor, status, cuts)) = cutting_planes(design, proxy, params.penalty, lambda)? {
            return Ok((predictor, status, cuts, lambda));
        }
    }
    Err(Error::NotConverged(format!(
        "no positive refit of the {} form after {MAX_CUTS} constraints",
        design.form.name()
    )))
}

/// [`constrained_fit`] at one lambda; `None` after [`MAX_CUTS`] rounds.
fn cutting_planes(
    design: &Design,
    proxy: &Proxy,
    penalty: Penalty,
    lambda: f64,
) -> Result<Option<(AdditivePredictor, String, Vec<Inequality>)>> {
    let table = proxy.measured.map(|(t, _)| t);
    let (problem, penalty, lambda) = constrained_problem(design.full_problem(), penalty, lambda);
    let k = problem.c.ncols();
    let conic = Conic::new(problem);
    let floor = FLOOR_FRACTION * design.y.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut cuts: Vec<Inequality> = Vec::new();
    while cuts.len() <= MAX_CUTS {
        let sol = full_width(conic.solve(penalty, lambda, &cuts)?, design.c.ncols());
        let predictor = design.predictor(proxy, &sol);
        let low = predictor.lower_bound(table)?;
        if predictor.is_positive(low.value) {
            return Ok(Some((predictor, sol.status, cuts)));
        }
        let mut row = design.row_at(proxy, &low.arch, low.measured);
        row.truncate(2 + k);
        cuts.push(Inequality { row, at_least: floor });
    }
    Ok(None)
}

/// The weighted mean of predictors of one space (weights summing to 1; linear, so the mean
/// predicts the mean): proxy terms of one device, and structure terms of one feature, merge.
fn average(ps: &[AdditivePredictor], weights: &[f64]) -> AdditivePredictor {
    let mut out = ps[0].clone();
    out.weights =
        (0..out.weights.len()).map(|j| ps.iter().zip(weights).map(|(p, w)| w * p.weights[j]).sum::<f64>()).collect();
    out.intercept = ps.iter().zip(weights).map(|(p, w)| w * p.intercept).sum::<f64>();
    out.proxy_terms.clear();
    out.structure_terms.clear();
    for (p, &w) in ps.iter().zip(weights) {
        for term in &p.proxy_terms {
            match out.proxy_terms.iter_mut().find(|t| t.device == term.device && t.pruned == term.pruned) {
                Some(t) => t.coefficient += w * term.coefficient,
                None => out.proxy_terms.push(ProxyTerm { coefficient: w * term.coefficient, ..term.clone() }),
            }
        }
        for term in &p.structure_terms {
            let scaled = term.weights.iter().map(|v| w * v);
            match out.structure_terms.iter_mut().find(|t| t.feature == term.feature) {
                Some(t) => t.weights.iter_mut().zip(scaled).for_each(|(a, b)| *a += b),
                None => out.structure_terms.push(StructureTerm { weights: scaled.collect(), ..term.clone() }),
            }
        }
    }
    out
}

/// Correction candidates settled (fitted on all samples) at most when averaging.
const MAX_SETTLED: usize = 16;

/// Weights are `MSE_LOO^(-TEMPER n)`. `TEMPER = 1/2` is the Gaussian leave-one-out likelihood;
/// on 10 samples it gave nearly all the weight to the few candidates whose LOO error was lowest
/// by chance, and lost to the plain mean of the 3 best (mean Spearman 0.947 against 0.950,
/// leave-one-device-out over the 29 bundled NB201 devices, 10 seeds). Tempering to 1/8 keeps
/// the order of the candidates but averages more of them: 0.957 (docs/results/structure-hypotheses).
const TEMPER: f64 = 0.125;

/// A weight below this fraction of the largest is dropped from the average.
const NEGLIGIBLE_WEIGHT: f64 = 1e-3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{seeded_rng, Nb201};

    /// A synthetic target: the proxy with some op types slower, a different scale and offset.
    fn setup() -> (AdditivePredictor, Vec<Arch>, Vec<f64>, Vec<Arch>, Vec<f64>) {
        let all = Nb201.enumerate().unwrap();
        let w: Vec<f64> = (0..30).map(|j| [0.0, 0.1, 1.0, 3.0, 0.6][j % 5] * (1.0 + (j / 5) as f64 * 0.05)).collect();
        let proxy = AdditivePredictor {
            space: crate::SpaceId::Nb201,
            encoding_version: 1,
            device: "proxy".into(),
            weights: w.clone(),
            intercept: 1.0,
            proxy_terms: Vec::new(),
            structure_terms: Vec::new(),
            provenance: serde_json::Value::Null,
            unconstrained: None,
        };
        // Target: skip and pooling much slower, 1x1 convs faster, relative to 3x3 convs.
        let tw: Vec<f64> = w.iter().enumerate().map(|(j, v)| v * [1.0, 12.0, 0.3, 1.0, 6.0][j % 5]).collect();
        let truth: Vec<f64> = all.iter().map(|a| crate::stats::dot(&Nb201.encode(a), &tw) + 0.5).collect();
        let mut rng = seeded_rng(1);
        let idx: Vec<usize> = (0..12).map(|_| rand::Rng::random_range(&mut rng, 0..all.len())).collect();
        let sa = idx.iter().map(|&i| all[i].clone()).collect();
        let sy = idx.iter().map(|&i| truth[i]).collect();
        (proxy, sa, sy, all, truth)
    }

    #[test]
    fn adaptation_improves_ranking_of_a_distorted_target() {
        let (proxy, sa, sy, all, truth) = setup();
        let before = spearman(&proxy.predict_all(&all), &truth);
        let px = Proxy { predictor: &proxy, measured: None };
        for params in [
            AdaptParams::default(),
            AdaptParams::paper(),
            AdaptParams { penalty: Penalty::L2, ..AdaptParams::default() },
        ] {
            let ad = adapt(&px, &sa, &sy, &params).unwrap();
            let after = spearman(&ad.predictor.predict_all(&all), &truth);
            assert!(after > before + 0.01, "{params:?}: {before} -> {after}");
            assert!(ad.report.solves > 10);
        }
    }

    #[test]
    fn grouped_form_recovers_per_op_slowdown() {
        let (proxy, sa, sy, all, truth) = setup();
        let p = AdaptParams { form: FormChoice::Fixed(Form::Grouped), ..AdaptParams::default() };
        let ad = adapt(&Proxy { predictor: &proxy, measured: None }, &sa, &sy, &p).unwrap();
        let after = spearman(&ad.predictor.predict_all(&all), &truth);
        assert!(after > 0.99, "{after}");
    }

    #[test]
    fn conic_penalties_work_end_to_end_and_errors_are_clear() {
        let (proxy, sa, sy, _, _) = setup();
        let proxy = Proxy { predictor: &proxy, measured: None };
        for penalty in [Penalty::L1, Penalty::Linf] {
            let ad = adapt(&proxy, &sa, &sy, &AdaptParams { penalty, ..AdaptParams::paper() }).unwrap();
            assert!(ad.report.status.contains("solved"), "{}", ad.report.status);
        }
        let err = adapt(&proxy, &sa[..2], &sy[..2], &AdaptParams::default()).unwrap_err();
        assert!(err.to_string().contains("at least 3 target samples"));
        let mut bad = sy.clone();
        bad[0] = f64::NAN;
        assert!(adapt(&proxy, &sa, &bad, &AdaptParams::default()).is_err());
        let hold = AdaptParams { validation: Validation::Holdout(vec![0, 1, 2]), ..AdaptParams::default() };
        assert!(adapt(&proxy, &sa, &sy, &hold).is_ok());
        let k = AdaptParams { validation: Validation::KFold(4), ..AdaptParams::default() };
        assert!(adapt(&proxy, &sa, &sy, &k).is_ok());
    }

    /// Samples of the synthetic target, `n` of them, seeded.
    fn samples(n: usize, seed: u64, all: &[Arch], truth: &[f64]) -> (Vec<Arch>, Vec<f64>) {
        let mut rng = seeded_rng(seed);
        let idx = rand::seq::index::sample(&mut rng, all.len(), n);
        (idx.iter().map(|i| all[i].clone()).collect(), idx.iter().map(|i| truth[i]).collect())
    }

    #[test]
    fn any_positive_finite_latency_unit_works() {
        let (proxy, sa, sy, all, _) = setup();
        let px = Proxy { predictor: &proxy, measured: None };
        let onehot = AdaptParams { form: FormChoice::Fixed(Form::AdditiveOneHot), ..AdaptParams::default() };
        let reference = adapt(&px, &sa, &sy, &onehot).unwrap().predictor.predict_all(&all);
        // 1e306: the sum of the samples overflows.
        for factor in [1e-300, 1e-14, 1e-3, 1e14, 1e300, 1e306] {
            let y: Vec<f64> = sy.iter().map(|v| v * factor).collect();
            for params in [
                AdaptParams::default(),
                AdaptParams::paper(),
                AdaptParams { penalty: Penalty::L1, ..AdaptParams::paper() },
                onehot.clone(),
            ] {
                let ad = adapt(&px, &sa, &y, &params).unwrap_or_else(|e| panic!("x{factor} {params:?}: {e}"));
                let p = &ad.predictor;
                assert!(p.weights.iter().chain([&p.intercept]).all(|w| w.is_finite()), "x{factor}: {p:?}");
                p.check_positive(None).unwrap();
                assert!(ad.report.cv_error.is_finite());
            }
            // Standardised corrections do not depend on the unit: the same predictor, scaled.
            let scaled = adapt(&px, &sa, &y, &onehot).unwrap().predictor.predict_all(&all);
            for (s, r) in scaled.iter().zip(&reference).step_by(101) {
                assert!((s / factor - r).abs() <= 1e-9 * r.abs(), "x{factor}: {} vs {r}", s / factor);
            }
        }
        let spread = [1e-150, 1.0, 1e150];
        let err = adapt(&px, &sa[..3], &spread, &AdaptParams::default()).unwrap_err();
        assert!(err.to_string().contains("1e200"), "{err}");
    }

    #[test]
    fn exact_leave_one_out_agrees_with_refitting_each_fold() {
        let (proxy, _, _, all, truth) = setup();
        let px = Proxy { predictor: &proxy, measured: None };
        for (n, seed) in [(12, 3), (40, 4)] {
            let (sa, sy) = samples(n, seed, &all, &truth);
            let exact = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap().report;
            let refit =
                adapt(&px, &sa, &sy, &AdaptParams { validation: Validation::KFold(n), ..AdaptParams::default() })
                    .unwrap()
                    .report;
            assert!(exact.validation.contains("exact") && refit.validation == format!("{n}-fold"));
            assert_eq!((exact.form, exact.lambda), (refit.form, refit.lambda), "n = {n}");
            assert!(
                (exact.cv_error - refit.cv_error).abs() <= 1e-7 * refit.cv_error,
                "{} vs {}",
                exact.cv_error,
                refit.cv_error
            );
            assert!(exact.solves < refit.solves / 5, "{} vs {} solves", exact.solves, refit.solves);
        }
    }

    #[test]
    fn many_samples_validate_by_folds_where_leave_one_out_needs_refits() {
        let (proxy, _, _, all, truth) = setup();
        let px = Proxy { predictor: &proxy, measured: None };
        let (sa, sy) = samples(LOO_REFIT_LIMIT + 50, 5, &all, &truth);
        let l2 = AdaptParams { penalty: Penalty::L2, form: FormChoice::Fixed(Form::Grouped), ..AdaptParams::default() };
        let r = adapt(&px, &sa, &sy, &l2).unwrap().report;
        assert!(r.validation.starts_with(&format!("{LARGE_SAMPLE_FOLDS}-fold")), "{}", r.validation);
        let r = adapt(&px, &sa, &sy, &AdaptParams { penalty: Penalty::Ridge, ..l2 }).unwrap().report;
        assert!(r.validation.contains("exact"), "{}", r.validation);
        let (sa, sy) = samples(LOO_REFIT_LIMIT, 5, &all, &truth);
        let r = adapt(&px, &sa, &sy, &AdaptParams { penalty: Penalty::L2, ..AdaptParams::default() }).unwrap().report;
        assert_eq!(r.validation, "leave-one-out");
    }

    #[test]
    fn predictions_are_positive_everywhere_even_against_the_proxy() {
        // Adversarial target: the slower the proxy, the faster the target.
        let (proxy, _, _, all, _) = setup();
        let proxy_all = proxy.predict_all(&all);
        let top = proxy_all.iter().cloned().fold(0.0, f64::max);
        let inverse: Vec<f64> = proxy_all.iter().map(|v| top / v).collect();
        let px = Proxy { predictor: &proxy, measured: None };
        let mut constrained = 0;
        for seed in 0..4 {
            let (sa, sy) = samples(10, seed, &all, &inverse);
            for params in [
                AdaptParams::default(),
                AdaptParams::paper(),
                AdaptParams { penalty: Penalty::Linf, ..AdaptParams::paper() },
            ] {
                let ad = adapt(&px, &sa, &sy, &params).unwrap();
                let lowest = ad.predictor.predict_all(&all).into_iter().fold(f64::INFINITY, f64::min);
                assert!(lowest > 0.0, "seed {seed} {params:?}: {lowest}");
                let bound = ad.predictor.lower_bound(None).unwrap().value;
                assert!((bound - lowest).abs() <= 1e-9 * top, "the bound is the minimum: {bound} vs {lowest}");
                constrained += ad.report.constrained.len();
                for c in &ad.report.constrained {
                    assert!(c.lowest_ms <= 0.0 || c.lowest_ms < 1e-8 * top, "{c:?}");
                }
            }
        }
        assert!(constrained > 0, "the adversarial target needs the constraint somewhere");
    }

    #[test]
    fn averaging_finds_a_device_that_removes_dead_ops() {
        // The proxy runs every op as written; the target removes dead ones (a graph compiler).
        let (proxy, _, _, all, _) = setup();
        let cost = [0.0, 0.05, 0.8, 2.5, 0.4];
        let truth: Vec<f64> = all
            .iter()
            .map(|a| {
                2.0 + crate::space::cell::live_counts(a.genes())
                    .iter()
                    .zip(cost)
                    .map(|(&c, w)| c as f64 * w)
                    .sum::<f64>()
            })
            .collect();
        let px = Proxy { predictor: &proxy, measured: None };
        let (sa, sy) = samples(10, 4, &all, &truth);
        let best =
            adapt(&px, &sa, &sy, &AdaptParams { combination: Combination::Best, ..AdaptParams::default() }).unwrap();
        let averaged = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap();
        let score = |a: &Adapted| spearman(&a.predictor.predict_all(&all), &truth);
        assert!(
            score(&averaged) > 0.99 && score(&averaged) > score(&best) + 0.02,
            "{} vs {}",
            score(&averaged),
            score(&best)
        );
        let r = &averaged.report;
        let total: f64 = r.members.iter().map(|m| m.weight).sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        assert!(r.members.windows(2).all(|w| w[0].weight >= w[1].weight));
        assert!(matches!(r.members[0].form, Form::LiveOps | Form::LivePath), "{:?}", r.members);
        // The proxy reported is a real one (the heaviest correction member), not the hypothesis.
        assert_eq!(r.proxy, "proxy");
        assert!(!averaged.predictor.structure_terms.is_empty());
        averaged.predictor.validate().unwrap();
        // Deterministic, and the predictor survives a JSON round trip.
        let again = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap();
        assert_eq!(again.predictor, averaged.predictor);
        let json = serde_json::to_vec(&averaged.predictor).unwrap();
        let back = AdditivePredictor::from_json(&json, std::path::Path::new("p.json")).unwrap();
        assert_eq!(back.predict_all(&all[..50]), averaged.predictor.predict_all(&all[..50]));
        // A device that runs the cell as written keeps the proxy's model on top.
        let (_, sa, sy, _, _) = setup();
        let r = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap().report;
        assert!(!matches!(r.members[0].form, Form::LiveOps | Form::LivePath), "{:?}", r.members);
    }

    #[test]
    fn elastic_space_adaptations_are_positive_everywhere() {
        // OFA, a strongly curved target: linear corrections undershoot where samples never go.
        let space = crate::space::OfaMbv3;
        let d = space.num_features();
        let mut rng = seeded_rng(8);
        let proxy = AdditivePredictor {
            space: crate::SpaceId::OfaMbv3,
            encoding_version: 1,
            device: "proxy".into(),
            weights: (0..d).map(|j| 0.05 + 0.02 * (j % 5) as f64).collect(),
            intercept: 0.5,
            proxy_terms: Vec::new(),
            structure_terms: Vec::new(),
            provenance: serde_json::Value::Null,
            unconstrained: None,
        };
        let v: Vec<f64> = (0..d).map(|j| 0.02 + 0.01 * (j % 7) as f64).collect();
        let archs: Vec<Arch> = (0..20).map(|_| space.sample(&mut rng)).collect();
        let y: Vec<f64> = archs.iter().map(|a| (12.0 * crate::stats::dot(&space.encode(a), &v)).exp()).collect();
        let px = Proxy { predictor: &proxy, measured: None };
        let mut constrained = 0;
        for params in [AdaptParams::default(), AdaptParams::paper()] {
            let ad = adapt(&px, &archs, &y, &params).unwrap();
            let low = ad.predictor.lower_bound(None).unwrap();
            assert!(low.value > 0.0, "{params:?}: {}", low.value);
            constrained += ad.report.constrained.len();
            for _ in 0..1000 {
                assert!(ad.predictor.predict(&space.sample(&mut rng)) >= low.value * (1.0 - 1e-12));
            }
        }
        assert!(constrained > 0, "the curved target must need the constraint");
    }
}
