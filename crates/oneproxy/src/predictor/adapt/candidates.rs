//! The first steps of an adaptation: the samples as every candidate sees them ([`Target`]),
//! every (proxy, correction form) candidate cross-validated over the lambda grid, and the
//! candidates ranked by their best error.

use super::cv::{lambda_order, lambdas, mse, scheme, Scheme};
use super::design::{Design, Engine};
use super::params::{check_samples, AdaptParams, LambdaChoice, Validation};
use super::Form;
use crate::error::{Error, Result};
use crate::predictor::proxies::Proxy;
use crate::predictor::scaling::mean_positive;
use crate::predictor::solver::Penalty;
use crate::space::Arch;
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The samples as every candidate sees them: checked, encoded and scaled, with the validation
/// scheme they get.
pub(super) struct Target<'a> {
    pub(super) proxies: &'a [Proxy<'a>],
    pub(super) archs: &'a [Arch],
    /// The encoding of `archs` (n x d).
    x: DMatrix<f64>,
    /// mean(y): every problem is solved on `y / scale`.
    pub(super) scale: f64,
    /// `y / scale`.
    pub(super) ys: Vec<f64>,
    pub(super) scheme: Scheme,
    /// The scheme in words, for the report.
    pub(super) validation: String,
}

impl<'a> Target<'a> {
    /// Check the samples, the parameters and the proxies (valid, one space), then encode.
    pub(super) fn new(proxies: &'a [Proxy<'a>], archs: &'a [Arch], y: &[f64], params: &AdaptParams) -> Result<Self> {
        check_samples(archs, y, params)?;
        let Some(first) = proxies.first() else {
            return Err(Error::InvalidParameter("no proxy to adapt".into()));
        };
        let space = first.predictor.space;
        for p in proxies {
            p.predictor.validate()?;
            if p.predictor.space != space {
                return Err(Error::InvalidParameter("every proxy must predict the same space".into()));
            }
        }
        let n = y.len();
        let d = space.space().num_features();
        let x = DMatrix::from_row_slice(n, d, &crate::space::encode_all(space.space(), archs));
        let scale = mean_positive(y);
        let ys: Vec<f64> = y.iter().map(|v| v / scale).collect();
        // A single lambda is validated by leave-one-out whatever the scheme (it only reports).
        let validation =
            if matches!(params.lambda, LambdaChoice::Fixed(_)) { &Validation::LeaveOneOut } else { &params.validation };
        let (scheme, validation) = scheme(n, validation, params.penalty);
        Ok(Target { proxies, archs, x, scale, ys, scheme, validation })
    }

    /// Number of samples.
    pub(super) fn n(&self) -> usize {
        self.ys.len()
    }

    /// The design of `form` for proxy `proxy` (`None` where the form does not apply).
    pub(super) fn design(&self, form: Form, proxy: usize) -> Option<Design> {
        Design::new(form, &self.proxies[proxy], &self.x, self.archs, &self.ys, self.scale)
    }

    /// The table holding the proxies' measurements, if any.
    pub(super) fn table(&self) -> Option<&'a crate::data::LatencyTable> {
        self.proxies.iter().find_map(|p| p.measured.map(|(t, _)| t))
    }
}

/// A cross-validated candidate: one proxy, one form, every lambda of the grid. Only O(n) is
/// kept per candidate (a pool of 28 proxies x 4 forms on 15625 samples would otherwise hold
/// gigabytes); the chosen ones rebuild their design to be fitted on all samples.
pub(super) struct Candidate {
    pub(super) proxy: usize,
    pub(super) form: Form,
    pub(super) lambdas: Vec<f64>,
    /// Cross-validated error per lambda (infinite where a solve failed).
    pub(super) errors: Vec<f64>,
    /// The lambda the selection takes ([`lambda_order`]).
    pub(super) best: usize,
    /// Held-out predictions (scaled) at `best`, NaN where a sample was never held out.
    pub(super) held_out: Vec<f64>,
    pub(super) solves: usize,
    /// Lambdas ruled out because a conic solve did not converge.
    pub(super) unsolved: usize,
}

impl Candidate {
    /// The cross-validated error at the lambda the selection takes.
    pub(super) fn error(&self) -> f64 {
        self.errors[self.best]
    }
}

/// Every (proxy, form) candidate that applies, cross-validated in parallel (in a fixed order:
/// proxies, then forms), calling `progress(done, total)` as they finish. A candidate whose solve
/// did not converge is left out with a warning.
pub(super) fn validate_all(
    target: &Target,
    params: &AdaptParams,
    progress: &(dyn Fn(usize, usize) + Sync),
    warnings: &mut Vec<String>,
) -> Result<Vec<Candidate>> {
    let space = target.proxies[0].predictor.space.space();
    let forms = params.forms(space);
    let jobs: Vec<(usize, Form)> = (0..target.proxies.len()).flat_map(|p| forms.iter().map(move |&f| (p, f))).collect();
    let done = AtomicUsize::new(0);
    let validated: Vec<(usize, Form, Result<Candidate>)> = jobs
        .par_iter()
        .filter_map(|&(p, f)| {
            let c = target.design(f, p).map(|d| (p, f, cross_validate(&d, p, params, &target.scheme)));
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            c
        })
        .collect();
    let mut candidates: Vec<Candidate> = Vec::with_capacity(validated.len());
    for (p, f, c) in validated {
        match c {
            Ok(c) => candidates.push(c),
            Err(e) => warnings.push(drop_unsolved(e, &target.proxies[p], f)?),
        }
    }
    if candidates.is_empty() {
        return Err(Error::InvalidParameter(
            "no applicable form (the measured-latency form needs the proxy's table)".into(),
        ));
    }
    Ok(candidates)
}

/// Candidate indices from the lowest cross-validated error up; ties keep the earlier proxy
/// (then the validation order).
pub(super) fn ranked(candidates: &[Candidate]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (ca, cb) = (&candidates[a], &candidates[b]);
        ca.error().total_cmp(&cb.error()).then(ca.proxy.cmp(&cb.proxy))
    });
    order
}

/// A candidate whose solve did not converge is dropped with a warning; any other error stops
/// the adaptation.
pub(super) fn drop_unsolved(e: Error, proxy: &Proxy, form: Form) -> Result<String> {
    match e {
        Error::NotConverged(why) => Ok(format!(
            "candidate {} x {} left out: the solver did not converge ({why})",
            proxy.predictor.device,
            form.name()
        )),
        other => Err(other),
    }
}

/// Held-out predictions of one design at every lambda, filled in by folds.
struct Folds<'d> {
    design: &'d Design,
    penalty: Penalty,
    /// The lambdas as the solver sees them.
    solver_lambdas: Vec<f64>,
    /// `preds[lambda][sample]`, NaN until the sample is held out.
    preds: Vec<Vec<f64>>,
    solves: usize,
    /// A (fold, lambda) whose conic solve fails rules that lambda out (never the infinite
    /// lambda, which needs no solver); the count is reported.
    unsolved: Vec<bool>,
}

impl Folds<'_> {
    /// Refit without the samples of `test` at every lambda and predict them.
    fn refit(&mut self, test: &[usize]) -> Result<()> {
        let train = self.design.training_rows(test);
        let fold = Engine::new(self.design.problem(&train), self.penalty);
        for (li, &lambda) in self.solver_lambdas.iter().enumerate() {
            self.solves += 1;
            match fold.solve(self.penalty, lambda) {
                Ok(sol) => {
                    for &t in test {
                        self.preds[li][t] = self.design.predict(t, &sol);
                    }
                }
                Err(Error::NotConverged(_)) => self.unsolved[li] = true,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Cross-validate one design over its lambdas under `scheme`.
fn cross_validate(design: &Design, proxy: usize, params: &AdaptParams, scheme: &Scheme) -> Result<Candidate> {
    let n = design.y.len();
    let lambdas = lambdas(params);
    let solver_lambdas: Vec<f64> = lambdas.iter().map(|&l| design.solver_lambda(params.penalty, l)).collect();
    let engine = Engine::new(design.full_problem(), params.penalty);
    let mut folds = Folds {
        design,
        penalty: params.penalty,
        preds: vec![vec![f64::NAN; n]; lambdas.len()],
        solves: 0,
        unsolved: vec![false; lambdas.len()],
        solver_lambdas,
    };
    match (scheme, &engine) {
        (Scheme::ExactLeaveOneOut, Engine::Spectral(s)) => {
            folds.preds = s.loo_ridge(&folds.solver_lambdas);
            folds.solves += lambdas.len();
            // Samples with leverage 1: refit their folds.
            let high_leverage: Vec<usize> = (0..n).filter(|&i| folds.preds.iter().any(|p| p[i].is_nan())).collect();
            for i in high_leverage {
                folds.refit(&[i])?;
            }
        }
        (Scheme::ExactLeaveOneOut, Engine::Conic(_)) => {
            for i in 0..n {
                folds.refit(&[i])?;
            }
        }
        (Scheme::Refit(tests), _) => {
            for test in tests {
                folds.refit(test)?;
            }
        }
    }
    let Folds { mut preds, solves, unsolved, .. } = folds;
    let errors: Vec<f64> =
        preds.iter().zip(&unsolved).map(|(p, &bad)| if bad { f64::INFINITY } else { mse(p, &design.y) }).collect();
    let unsolved = unsolved.iter().filter(|&&u| u).count();
    let best = lambda_order(&errors)[0];
    let held_out = preds.swap_remove(best);
    Ok(Candidate { proxy, form: design.form, lambdas, errors, best, held_out, solves, unsolved })
}
