//! AdaProxy: adapt a proxy device's additive predictor to a target from a few measurements.
//!
//! With proxy weights `w` and target samples `(X, y)`, the paper fits
//! `y ~ X (w * (a + b)) + c` with a penalty `lambda * ||b||_p` ([`solver`](super::solver)).
//! Two *forms* of the correction `b` are offered:
//!
//! * [`Form::PerFeature`], the paper's: one correction per encoding feature;
//! * [`Form::Grouped`]: one correction per feature *kind* (per op type in NB201, per block choice
//!   in FBNet, per kernel/expand value in OFA), shared across positions. A few samples can pin
//!   down 5 or 9 corrections where they cannot pin down 30 or 198; the penalty shrinks them toward
//!   the common scale `a`.
//!
//! `lambda` (and, with [`FormChoice::Auto`], the form) is chosen by leave-one-out
//! cross-validation of the squared error on the samples, over a grid; the paper's validation
//! split is available through [`Validation::Holdout`].
//!
//! Conditioning: the problem is solved on `y / mean(y)` (and the same scale for the proxy
//! features), so that its numbers are O(1) whatever the unit or device; the paper's code divided
//! milliseconds by 1000, which left some problems badly scaled for its solver.

use super::additive::AdditivePredictor;
use super::solver::{solve_conic, Penalty, Problem, Solution, Spectral};
use crate::error::{Error, Result};
use crate::space::{Arch, SearchSpace};
use crate::stats::spearman;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Shape of the correction vector `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// One correction per feature (the paper).
    PerFeature,
    /// One correction per feature kind (structured adaptation).
    Grouped,
}

impl Form {
    /// Name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Form::PerFeature => "per-feature",
            Form::Grouped => "grouped",
        }
    }
}

/// Which form to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FormChoice {
    /// Always this form.
    Fixed(Form),
    /// The form with the lower cross-validated error.
    Auto,
}

/// How `lambda` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LambdaChoice {
    /// A given value (relative to the problem's scale: y is divided by its mean).
    Fixed(f64),
    /// Chosen by validation over a log-spaced grid of this many values.
    Auto {
        /// Number of grid points.
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
    /// Form of `b`.
    pub form: FormChoice,
    /// Lambda.
    pub lambda: LambdaChoice,
    /// Validation scheme for the automatic choices.
    pub validation: Validation,
}

impl Default for AdaptParams {
    fn default() -> Self {
        AdaptParams {
            penalty: Penalty::L2,
            form: FormChoice::Auto,
            lambda: LambdaChoice::Auto { grid: 41 },
            validation: Validation::LeaveOneOut,
        }
    }
}

impl AdaptParams {
    /// The paper's setting: per-feature correction, 2-norm penalty, validated lambda.
    pub fn paper() -> Self {
        AdaptParams { form: FormChoice::Fixed(Form::PerFeature), ..Self::default() }
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

/// What an adaptation did, for people and scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptReport {
    /// Proxy device.
    pub proxy: String,
    /// Chosen form.
    pub form: Form,
    /// Penalty.
    pub penalty: Penalty,
    /// Chosen lambda (on the scaled problem).
    pub lambda: f64,
    /// Cross-validated mean squared error (relative to mean(y)^2).
    pub cv_error: f64,
    /// Spearman between the held-out predictions and the samples.
    pub cv_spearman: f64,
    /// Number of optimisation problems solved.
    pub solves: usize,
    /// Wall time spent in solvers.
    pub solve_seconds: f64,
    /// Status of the final solve.
    pub status: String,
    /// Scale `a` of the final fit.
    pub scale: f64,
    /// Number of samples.
    pub samples: usize,
}

/// The adapted predictor with its report.
#[derive(Debug, Clone)]
pub struct Adapted {
    /// The target predictor (additive, in ms).
    pub predictor: AdditivePredictor,
    /// How it was chosen.
    pub report: AdaptReport,
}

/// The adaptation problem of one form, before choosing lambda.
struct Design {
    form: Form,
    /// Proxy features per sample: `X diag(w) / s`.
    xw: DMatrix<f64>,
    /// Feature -> column of `b` (per-feature: identity; grouped: its group, or none).
    column_of: Vec<Option<usize>>,
    k: usize,
    scale: f64,
}

impl Design {
    fn new(space: &dyn SearchSpace, w: &[f64], x: &DMatrix<f64>, scale: f64, form: Form) -> Self {
        let d = w.len();
        let xw = DMatrix::from_fn(x.nrows(), d, |i, j| x[(i, j)] * w[j] / scale);
        let (column_of, k) = match form {
            Form::PerFeature => ((0..d).map(Some).collect(), d),
            Form::Grouped => {
                let groups = space.feature_groups();
                let mut col = vec![None; d];
                for (g, grp) in groups.iter().enumerate() {
                    for &f in &grp.features {
                        col[f] = Some(g);
                    }
                }
                (col, groups.len())
            }
        };
        Design { form, xw, column_of, k, scale }
    }

    /// The solver problem on a subset of rows.
    fn problem(&self, rows: &[usize], y: &[f64]) -> Problem {
        let mut c = DMatrix::zeros(rows.len(), self.k);
        let mut z = vec![0.0; rows.len()];
        for (r, &i) in rows.iter().enumerate() {
            for (j, col) in self.column_of.iter().enumerate() {
                let v = self.xw[(i, j)];
                z[r] += v;
                if let Some(g) = col {
                    c[(r, *g)] += v;
                }
            }
        }
        Problem { z, c, y: rows.iter().map(|&i| y[i] / self.scale).collect() }
    }
}

/// Solver for one design and penalty, over lambdas.
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
            Engine::Spectral(s) => s.solve(penalty, lambda),
            Engine::Conic(p) => solve_conic(p, penalty, lambda),
        }
    }
}

/// Predict scaled latency of rows of the design from a solution.
fn predict_rows(design: &Design, rows: &[usize], sol: &Solution) -> Vec<f64> {
    rows.iter()
        .map(|&i| {
            let mut v = sol.intercept;
            for (j, col) in design.column_of.iter().enumerate() {
                let mult = sol.a + col.map_or(0.0, |g| sol.b[g]);
                v += design.xw[(i, j)] * mult;
            }
            v
        })
        .collect()
}

/// Log-spaced lambda grid for a penalty, scaled to the problem: from "b free" to "b = 0".
fn lambda_grid(penalty: Penalty, points: usize) -> Vec<f64> {
    let (lo, hi): (f64, f64) = match penalty {
        Penalty::Ridge => (1e-7, 1e2),
        _ => (1e-5, 1e1),
    };
    (0..points).map(|i| lo * (hi / lo).powf(i as f64 / (points - 1) as f64)).collect()
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

struct Scored {
    form: Form,
    lambda: f64,
    cv_error: f64,
    cv_spearman: f64,
}

/// Cross-validate every lambda of one form; returns the best and counts solves.
fn validate_form(
    design: &Design,
    y: &[f64],
    penalty: Penalty,
    lambdas: &[f64],
    validation: &Validation,
    solves: &mut usize,
) -> Result<Scored> {
    let n = y.len();
    let folds = folds(n, validation);
    let mut preds = vec![vec![f64::NAN; n]; lambdas.len()];
    for (train, test) in &folds {
        let engine = Engine::new(design.problem(train, y), penalty);
        for (li, &lambda) in lambdas.iter().enumerate() {
            let sol = engine.solve(penalty, lambda)?;
            *solves += 1;
            for (&t, p) in test.iter().zip(predict_rows(design, test, &sol)) {
                preds[li][t] = p;
            }
        }
    }
    let tested: Vec<usize> = (0..n).filter(|i| !preds[0][*i].is_nan()).collect();
    let ys: Vec<f64> = tested.iter().map(|&i| y[i] / design.scale).collect();
    let mut best: Option<Scored> = None;
    // Ties go to the larger lambda (the simpler model): iterate from the largest.
    for li in (0..lambdas.len()).rev() {
        let p: Vec<f64> = tested.iter().map(|&i| preds[li][i]).collect();
        let err = p.iter().zip(&ys).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / ys.len() as f64;
        if best.as_ref().is_none_or(|b| err < b.cv_error * (1.0 - 1e-9)) {
            best = Some(Scored { form: design.form, lambda: lambdas[li], cv_error: err, cv_spearman: spearman(&p, &ys) });
        }
    }
    best.ok_or_else(|| Error::InvalidParameter("empty lambda grid".into()))
}

/// Adapt `proxy` to a target measured on `archs` (latencies `y`, ms).
pub fn adapt(proxy: &AdditivePredictor, archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<Adapted> {
    proxy.validate()?;
    params.check(archs.len())?;
    if archs.len() != y.len() {
        return Err(Error::InvalidParameter("one latency per sample architecture".into()));
    }
    if let Some(v) = y.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        return Err(Error::InvalidParameter(format!("target latency {v} is not a positive finite number")));
    }
    let space = proxy.space.space();
    let started = Instant::now();
    let d = space.num_features();
    let x = DMatrix::from_row_slice(archs.len(), d, &crate::space::encode_all(space, archs));
    let scale = y.iter().sum::<f64>() / y.len() as f64;
    let forms: Vec<Form> = match params.form {
        FormChoice::Fixed(f) => vec![f],
        FormChoice::Auto => vec![Form::Grouped, Form::PerFeature],
    };
    let mut solves = 0;
    let mut best: Option<(Scored, Design)> = None;
    for form in forms {
        let design = Design::new(space, &proxy.weights, &x, scale, form);
        let lambdas = match &params.lambda {
            LambdaChoice::Fixed(l) => vec![*l],
            LambdaChoice::Auto { grid } => {
                let pts = if matches!(params.penalty, Penalty::L1 | Penalty::Linf) { (*grid).min(15) } else { *grid };
                lambda_grid(params.penalty, pts)
            }
        };
        let scored = if lambdas.len() == 1 && matches!(params.form, FormChoice::Fixed(_)) {
            // Nothing to choose: skip validation, but still report a held-out score.
            validate_form(&design, y, params.penalty, &lambdas, &Validation::LeaveOneOut, &mut solves)?
        } else {
            validate_form(&design, y, params.penalty, &lambdas, &params.validation, &mut solves)?
        };
        if best.as_ref().is_none_or(|(b, _)| scored.cv_error < b.cv_error) {
            best = Some((scored, design));
        }
    }
    let (scored, design) = best.expect("at least one form");
    let all: Vec<usize> = (0..y.len()).collect();
    let sol = Engine::new(design.problem(&all, y), params.penalty).solve(params.penalty, scored.lambda)?;
    solves += 1;
    let weights: Vec<f64> = proxy
        .weights
        .iter()
        .zip(&design.column_of)
        .map(|(w, col)| w * (sol.a + col.map_or(0.0, |g| sol.b[g])))
        .collect();
    let report = AdaptReport {
        proxy: proxy.device.clone(),
        form: scored.form,
        penalty: params.penalty,
        lambda: scored.lambda,
        cv_error: scored.cv_error,
        cv_spearman: scored.cv_spearman,
        solves,
        solve_seconds: started.elapsed().as_secs_f64(),
        status: sol.status.clone(),
        scale: sol.a,
        samples: y.len(),
    };
    let predictor = AdditivePredictor {
        space: proxy.space,
        encoding_version: proxy.encoding_version,
        device: String::new(),
        weights,
        intercept: sol.intercept * scale,
        provenance: serde_json::json!({"adaproxy": &report}),
    };
    Ok(Adapted { predictor, report })
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
        for params in [AdaptParams::default(), AdaptParams::paper(), AdaptParams { penalty: Penalty::Ridge, ..AdaptParams::default() }] {
            let ad = adapt(&proxy, &sa, &sy, &params).unwrap();
            let after = spearman(&ad.predictor.predict_all(&all), &truth);
            assert!(after > before + 0.01, "{params:?}: {before} -> {after}");
            assert!(ad.report.solves > 10);
        }
    }

    #[test]
    fn grouped_form_recovers_per_op_slowdown() {
        let (proxy, sa, sy, all, truth) = setup();
        let p = AdaptParams { form: FormChoice::Fixed(Form::Grouped), ..AdaptParams::default() };
        let ad = adapt(&proxy, &sa, &sy, &p).unwrap();
        let after = spearman(&ad.predictor.predict_all(&all), &truth);
        assert!(after > 0.99, "{after}");
    }

    #[test]
    fn conic_penalties_work_end_to_end_and_errors_are_clear() {
        let (proxy, sa, sy, _, _) = setup();
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
