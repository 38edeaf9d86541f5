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

use super::additive::{AdditivePredictor, ProxyTerm};
use super::solver::{solve_conic, Penalty, Problem, Solution, Spectral};
use crate::error::{Error, Result};
use crate::space::{Arch, SearchSpace, SpaceId};
use crate::stats::spearman;
use crate::table::LatencyTable;
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
        }
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
    /// With several proxies, average this many best candidates (1 = take the best).
    pub ensemble: usize,
}

impl Default for AdaptParams {
    fn default() -> Self {
        AdaptParams {
            penalty: Penalty::Ridge,
            form: FormChoice::Auto,
            lambda: LambdaChoice::Auto { grid: 25 },
            validation: Validation::LeaveOneOut,
            ensemble: 3,
        }
    }
}

impl AdaptParams {
    /// The paper's setting: per-feature correction, 2-norm penalty, validated lambda, no ensemble.
    pub fn paper() -> Self {
        AdaptParams { penalty: Penalty::L2, form: FormChoice::Fixed(Form::PerFeature), ensemble: 1, ..Self::default() }
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
    fn latency(&self, arch: &Arch, encoded: &[f64]) -> f64 {
        self.measured
            .and_then(|(t, c)| t.latency(arch, c))
            .unwrap_or_else(|| self.predictor.predict_encoded(encoded))
    }
}

/// One candidate of the selection, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Proxy device.
    pub proxy: String,
    /// Form.
    pub form: Form,
    /// Chosen lambda (infinite = no correction).
    pub lambda: f64,
    /// Cross-validated mean squared error (relative to mean(y)^2).
    pub cv_error: f64,
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
    /// Lambda of the best candidate (on the scaled problem; infinite = no correction).
    pub lambda: f64,
    /// Cross-validated mean squared error of the result (relative to mean(y)^2).
    pub cv_error: f64,
    /// Spearman between the held-out predictions and the samples.
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
}

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
struct Reference {
    mean: DVector<f64>,
    cov: DMatrix<f64>,
}

fn reference(space: &dyn SearchSpace) -> &'static Reference {
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
    scale: f64,
    z: Vec<f64>,
    c: DMatrix<f64>,
    y: Vec<f64>,
}

impl Design {
    /// `None` when the form does not apply (e.g. measured base without measurements).
    fn new(form: Form, proxy: &Proxy, x: &DMatrix<f64>, archs: &[Arch], y: &[f64], scale: f64) -> Option<Self> {
        let space = proxy.predictor.space.space();
        let w = &proxy.predictor.weights;
        let d = w.len();
        let groups: Vec<Vec<usize>> = space
            .feature_groups()
            .into_iter()
            .map(|g| g.features)
            .collect();
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
        let (measured_base, m, mu, sigma) = match form {
            Form::PerFeature => (false, DMatrix::from_diagonal(&DVector::from_column_slice(w)), vec![0.0; d], vec![scale; d]),
            Form::Grouped => {
                let mut m = DMatrix::zeros(d, groups.len());
                for (g, feats) in groups.iter().enumerate() {
                    for &f in feats {
                        m[(f, g)] = w[f];
                    }
                }
                let k = m.ncols();
                (false, m, vec![0.0; k], vec![scale; k])
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
                (true, m, mu, sigma)
            }
            Form::AdditiveOneHot => {
                let m = DMatrix::identity(d, d);
                let (mu, sigma) = reference_stats(&m);
                (false, m, mu, sigma)
            }
        };
        // Drop columns that carry nothing (pinned reference features, constant kinds).
        let keep: Vec<usize> = (0..m.ncols())
            .filter(|&j| sigma[j] > 1e-12 && m.column(j).iter().any(|v| *v != 0.0))
            .collect();
        let m = DMatrix::from_fn(d, keep.len(), |i, j| m[(i, keep[j])]);
        let mu: Vec<f64> = keep.iter().map(|&j| mu[j]).collect();
        let sigma: Vec<f64> = keep.iter().map(|&j| sigma[j]).collect();
        let xm = x * &m;
        let c = DMatrix::from_fn(x.nrows(), m.ncols(), |i, j| (xm[(i, j)] - mu[j]) / sigma[j]);
        let z: Vec<f64> = (0..x.nrows())
            .map(|i| {
                let row: Vec<f64> = x.row(i).iter().copied().collect();
                let base = if measured_base { proxy.latency(&archs[i], &row) } else { crate::stats::dot(&row, w) };
                base / scale
            })
            .collect();
        Some(Design { form, measured_base, m, mu, sigma, scale, z, c, y: y.iter().map(|v| v / scale).collect() })
    }

    fn problem(&self, rows: &[usize]) -> Problem {
        Problem {
            z: rows.iter().map(|&i| self.z[i]).collect(),
            c: DMatrix::from_fn(rows.len(), self.c.ncols(), |r, j| self.c[(rows[r], j)]),
            y: rows.iter().map(|&i| self.y[i]).collect(),
        }
    }

    fn predict(&self, i: usize, s: &Solution) -> f64 {
        s.a * self.z[i] + (0..self.c.ncols()).map(|j| self.c[(i, j)] * s.b[j]).sum::<f64>() + s.intercept
    }

    /// The solution as a predictor in milliseconds.
    fn predictor(&self, proxy: &Proxy, s: &Solution) -> AdditivePredictor {
        let p = proxy.predictor;
        let scaled: Vec<f64> = (0..self.m.ncols()).map(|j| self.scale * s.b[j] / self.sigma[j]).collect();
        let mut weights: Vec<f64> = (&self.m * DVector::from_column_slice(&scaled)).iter().copied().collect();
        let mut intercept = self.scale * s.intercept - scaled.iter().zip(&self.mu).map(|(b, m)| b * m).sum::<f64>();
        let mut proxy_terms = Vec::new();
        if self.measured_base {
            proxy_terms.push(ProxyTerm {
                device: p.device.clone(),
                coefficient: s.a,
                fallback_weights: p.weights.clone(),
                fallback_intercept: p.intercept,
            });
        } else {
            for (wt, pw) in weights.iter_mut().zip(&p.weights) {
                *wt += s.a * pw;
            }
        }
        if !intercept.is_finite() {
            intercept = 0.0;
        }
        AdditivePredictor {
            space: p.space,
            encoding_version: p.encoding_version,
            device: String::new(),
            weights,
            intercept,
            proxy_terms,
            provenance: serde_json::Value::Null,
        }
    }
}

/// Solver for one design over lambdas.
enum Engine {
    Spectral(Spectral),
    Conic(Problem),
}

impl Engine {
    fn new(problem: Problem, penalty: Penalty) -> Self {
        match penalty {
            Penalty::L2 | Penalty::Ridge => Engine::Spectral(Spectral::new(problem)),
            _ => Engine::Conic(problem),
        }
    }

    fn solve(&self, penalty: Penalty, lambda: f64) -> Result<Solution> {
        match self {
            Engine::Spectral(s) if lambda.is_infinite() => s.solve(Penalty::L2, f64::MAX),
            Engine::Spectral(s) => s.solve(penalty, lambda),
            Engine::Conic(p) if lambda.is_infinite() => Ok(p.uncorrected()),
            Engine::Conic(p) => solve_conic(p, penalty, lambda),
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

fn folds(n: usize, v: &Validation) -> Vec<(Vec<usize>, Vec<usize>)> {
    let split = |test: Vec<usize>| {
        let train = (0..n).filter(|i| !test.contains(i)).collect();
        (train, test)
    };
    match v {
        Validation::LeaveOneOut => (0..n).map(|i| split(vec![i])).collect(),
        Validation::KFold(k) => (0..*k).map(|f| split((0..n).filter(|i| i % k == f).collect())).collect(),
        Validation::Holdout(idx) => vec![split(idx.clone())],
    }
}

/// A validated candidate: one proxy, one form, its best lambda.
struct Candidate {
    proxy: usize,
    design: Design,
    lambda: f64,
    cv_error: f64,
    /// Held-out predictions (scaled), NaN where a sample was never held out.
    held_out: Vec<f64>,
    solves: usize,
}

fn validate(design: Design, proxy: usize, params: &AdaptParams) -> Result<Candidate> {
    let n = design.y.len();
    let lambdas = match &params.lambda {
        LambdaChoice::Fixed(l) => vec![*l],
        LambdaChoice::Auto { grid } => {
            let pts = if matches!(params.penalty, Penalty::L1 | Penalty::Linf) { (*grid).min(13) } else { *grid };
            lambda_grid(params.penalty, pts)
        }
    };
    let validation = if lambdas.len() == 1 { &Validation::LeaveOneOut } else { &params.validation };
    let mut preds = vec![vec![f64::NAN; n]; lambdas.len()];
    let mut solves = 0;
    for (train, test) in folds(n, validation) {
        let engine = Engine::new(design.problem(&train), params.penalty);
        for (li, &lambda) in lambdas.iter().enumerate() {
            let sol = engine.solve(params.penalty, lambda)?;
            solves += 1;
            // Map the fold's solution back: the engine saw rows `train` in order.
            for &t in &test {
                preds[li][t] = design.predict(t, &sol);
            }
        }
    }
    let mut best: Option<(usize, f64)> = None;
    // Ties go to the larger lambda (the simpler model): iterate from the largest.
    for li in (0..lambdas.len()).rev() {
        let err = mse(&preds[li], &design.y);
        if best.is_none_or(|(_, e)| err < e * (1.0 - 1e-9)) {
            best = Some((li, err));
        }
    }
    let (li, cv_error) = best.ok_or_else(|| Error::InvalidParameter("empty lambda grid".into()))?;
    Ok(Candidate { proxy, lambda: lambdas[li], cv_error, held_out: preds.swap_remove(li), design, solves })
}

/// Mean squared error over the entries where `pred` is defined.
fn mse(pred: &[f64], y: &[f64]) -> f64 {
    let (s, k) = pred.iter().zip(y).filter(|(p, _)| !p.is_nan()).fold((0.0, 0usize), |(s, k), (p, t)| (s + (p - t).powi(2), k + 1));
    if k == 0 { f64::INFINITY } else { s / k as f64 }
}

fn check_samples(archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<()> {
    params.check(archs.len())?;
    if archs.len() != y.len() {
        return Err(Error::InvalidParameter("one latency per sample architecture".into()));
    }
    if let Some(v) = y.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        return Err(Error::InvalidParameter(format!("target latency {v} is not a positive finite number")));
    }
    Ok(())
}

/// Adapt one proxy to a target measured on `archs` (latencies `y`, ms).
pub fn adapt(proxy: &Proxy, archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<Adapted> {
    adapt_pool(std::slice::from_ref(proxy), archs, y, params)
}

/// Adapt the best of several proxies (and forms) to a target; with more than one proxy the
/// `params.ensemble` best candidates are averaged.
pub fn adapt_pool(proxies: &[Proxy], archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<Adapted> {
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
    let d = space.space().num_features();
    let x = DMatrix::from_row_slice(archs.len(), d, &crate::space::encode_all(space.space(), archs));
    let scale = y.iter().sum::<f64>() / y.len() as f64;
    let forms: Vec<Form> = match params.form {
        FormChoice::Fixed(f) => vec![f],
        // Per-kind forms only where a kind costs the same everywhere (see `kinds_share_cost`).
        FormChoice::Auto if space.space().kinds_share_cost() => Form::ALL.to_vec(),
        FormChoice::Auto => vec![Form::PerFeature, Form::AdditiveOneHot],
    };
    let jobs: Vec<(usize, Form)> = (0..proxies.len()).flat_map(|p| forms.iter().map(move |&f| (p, f))).collect();
    let mut candidates: Vec<Candidate> = jobs
        .par_iter()
        .filter_map(|&(p, f)| Design::new(f, &proxies[p], &x, archs, y, scale).map(|d| validate(d, p, params)))
        .collect::<Result<_>>()?;
    if candidates.is_empty() {
        return Err(Error::InvalidParameter("no applicable form (the measured-latency form needs the proxy's table)".into()));
    }
    let mut solves: usize = candidates.iter().map(|c| c.solves).sum();
    candidates.sort_by(|a, b| a.cv_error.total_cmp(&b.cv_error).then(a.proxy.cmp(&b.proxy)));
    let take = if proxies.len() > 1 { params.ensemble.min(candidates.len()) } else { 1 };
    let members = &candidates[..take];
    let all: Vec<usize> = (0..y.len()).collect();
    let mut predictors = Vec::with_capacity(take);
    let mut statuses = Vec::new();
    for c in members {
        let sol = Engine::new(c.design.problem(&all), params.penalty).solve(params.penalty, c.lambda)?;
        solves += 1;
        statuses.push(sol.status.clone());
        predictors.push(c.design.predictor(&proxies[c.proxy], &sol));
    }
    let predictor = average(&predictors);
    let n = y.len();
    let held_out: Vec<f64> = (0..n).map(|i| members.iter().map(|c| c.held_out[i]).sum::<f64>() / take as f64).collect();
    let ys: Vec<f64> = y.iter().map(|v| v / scale).collect();
    let defined: Vec<usize> = (0..n).filter(|&i| !held_out[i].is_nan()).collect();
    let best = &members[0];
    let status = if statuses.iter().all(|s| s == "exact") {
        "exact".to_string()
    } else if statuses.iter().all(|s| s == "exact" || s == "solved") {
        "solved".to_string()
    } else {
        "almost_solved".to_string()
    };
    let report = AdaptReport {
        proxy: proxies[best.proxy].predictor.device.clone(),
        form: best.design.form,
        penalty: params.penalty,
        lambda: best.lambda,
        cv_error: mse(&held_out, &ys),
        cv_spearman: spearman(
            &defined.iter().map(|&i| held_out[i]).collect::<Vec<_>>(),
            &defined.iter().map(|&i| ys[i]).collect::<Vec<_>>(),
        ),
        solves,
        solve_seconds: started.elapsed().as_secs_f64(),
        status,
        samples: n,
        members: members
            .iter()
            .map(|c| Member {
                proxy: proxies[c.proxy].predictor.device.clone(),
                form: c.design.form,
                lambda: c.lambda,
                cv_error: c.cv_error,
            })
            .collect(),
        candidates: candidates.len(),
    };
    Ok(Adapted { predictor, report })
}

/// The mean of predictors of one space (linear, so the mean predicts the mean).
fn average(ps: &[AdditivePredictor]) -> AdditivePredictor {
    let k = ps.len() as f64;
    let mut out = ps[0].clone();
    out.weights = (0..out.weights.len()).map(|j| ps.iter().map(|p| p.weights[j]).sum::<f64>() / k).collect();
    out.intercept = ps.iter().map(|p| p.intercept).sum::<f64>() / k;
    out.proxy_terms.clear();
    for term in ps.iter().flat_map(|p| &p.proxy_terms) {
        match out.proxy_terms.iter_mut().find(|t| t.device == term.device) {
            Some(t) => t.coefficient += term.coefficient / k,
            None => out.proxy_terms.push(ProxyTerm { coefficient: term.coefficient / k, ..term.clone() }),
        }
    }
    out
}

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
            provenance: serde_json::Value::Null,
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
        for params in [AdaptParams::default(), AdaptParams::paper(), AdaptParams { penalty: Penalty::L2, ..AdaptParams::default() }] {
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
}
