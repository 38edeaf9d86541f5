//! Settling: the best candidates fitted on all samples at their chosen lambda and made positive
//! over the space; with averaging, the hypotheses are fitted alongside.

use super::candidates::{drop_unsolved, ranked, Candidate, Target};
use super::combine::{log_weight, MAX_SETTLED, NEGLIGIBLE_WEIGHT};
use super::constrain::refit_positive;
use super::cv::refit_tests;
use super::design::Engine;
use super::hypotheses::{fit_all, FittedHypotheses, Samples};
use super::params::AdaptParams;
use super::report::Constrained;
use crate::error::{Error, Result};
use crate::predictor::additive::AdditivePredictor;
use crate::predictor::ProxyLatency;
use rayon::prelude::*;

/// A candidate at its best lambda, fitted on all samples and positive over the space.
pub(super) struct Choice {
    pub(super) candidate: usize,
    /// The lambda fitted (infinite if a constrained fit had to drop the corrections).
    pub(super) lambda: f64,
    pub(super) predictor: AdditivePredictor,
    pub(super) status: String,
    /// Cross-validated error of this fit (of the constrained fit, when it had to be).
    pub(super) cv_error: f64,
    /// Its held-out predictions (scaled).
    pub(super) held_out: Vec<f64>,
    pub(super) constrained: Option<Constrained>,
    pub(super) solves: usize,
}

/// What settling kept: the members from the corrections, best first, and the hypotheses.
pub(super) struct Settled {
    /// At most the number of members the combination takes.
    pub(super) choices: Vec<Choice>,
    pub(super) hypotheses: FittedHypotheses,
    /// Solves of the validation and of every settled candidate (kept or not).
    pub(super) solves: usize,
}

/// How many correction members the combination takes: up to [`MAX_SETTLED`] when averaging,
/// the ensemble over a pool, else the best one.
fn members_taken(params: &AdaptParams, proxies: usize, candidates: usize) -> usize {
    if params.averaged() {
        MAX_SETTLED.min(candidates)
    } else if proxies > 1 {
        params.ensemble.min(candidates)
    } else {
        1
    }
}

/// Settle the best candidates (and fit the hypotheses when averaging). A constrained fit is
/// cross-validated again, so it competes with its real error. Candidates whose solve does not
/// converge are left out with a warning.
pub(super) fn settle(
    target: &Target,
    candidates: &[Candidate],
    params: &AdaptParams,
    warnings: &mut Vec<String>,
) -> Result<Settled> {
    let order = ranked(candidates);
    let take = members_taken(params, target.proxies.len(), candidates.len());
    let (mut choices, hypotheses) = if params.averaged() {
        settle_with_hypotheses(target, candidates, &order, take, params, warnings)?
    } else {
        (settle_until_beaten(target, candidates, &order, take, params, warnings)?, Vec::new())
    };
    if choices.is_empty() {
        return Err(Error::NotConverged(format!("no candidate could be fitted: {}", warnings.join("; "))));
    }
    choices.sort_by(|a, b| {
        a.cv_error.total_cmp(&b.cv_error).then(candidates[a.candidate].proxy.cmp(&candidates[b.candidate].proxy))
    });
    let solves = candidates.iter().map(|c| c.solves).sum::<usize>() + choices.iter().map(|s| s.solves).sum::<usize>();
    choices.truncate(take);
    Ok(Settled { choices, hypotheses, solves })
}

/// Every candidate whose weight is not negligible beside the best one's, up to `take`, settled
/// in parallel with the hypotheses (weights negligible beside a hypothesis are dropped when
/// averaging).
fn settle_with_hypotheses(
    target: &Target,
    candidates: &[Candidate],
    order: &[usize],
    take: usize,
    params: &AdaptParams,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Choice>, FittedHypotheses)> {
    let n = target.n();
    let best = log_weight(candidates[order[0]].error(), n);
    let chosen: Vec<usize> = order
        .iter()
        .copied()
        .take(take)
        .take_while(|&ci| log_weight(candidates[ci].error(), n) >= best + NEGLIGIBLE_WEIGHT.ln())
        .collect();
    let (settled, hypotheses) = rayon::join(
        || chosen.into_par_iter().map(|ci| (ci, settle_one(target, candidates, ci, params))).collect::<Vec<_>>(),
        || {
            let tests = refit_tests(&target.scheme, n);
            let samples = Samples {
                proxies: target.proxies,
                archs: target.archs,
                ys: &target.ys,
                scale: target.scale,
                tests: &tests,
            };
            fit_all(&samples)
        },
    );
    let mut kept = Vec::with_capacity(settled.len());
    for (ci, s) in settled {
        match s {
            Ok(s) => kept.push(s),
            Err(e) => {
                let c = &candidates[ci];
                warnings.push(drop_unsolved(e, &target.proxies[c.proxy], c.form)?);
            }
        }
    }
    Ok((kept, hypotheses))
}

/// Candidates settled one by one, best first. As the constraint rarely helps, they stop being
/// settled once `take` settled ones beat the next one's unconstrained error (with every fit
/// positive: the first `take`).
fn settle_until_beaten(
    target: &Target,
    candidates: &[Candidate],
    order: &[usize],
    take: usize,
    params: &AdaptParams,
    warnings: &mut Vec<String>,
) -> Result<Vec<Choice>> {
    let mut settled: Vec<Choice> = Vec::new();
    for &ci in order {
        let c = &candidates[ci];
        let mut errs: Vec<f64> = settled.iter().map(|s| s.cv_error).collect();
        errs.sort_by(f64::total_cmp);
        if settled.len() >= take && c.error() >= errs[take - 1] {
            break;
        }
        match settle_one(target, candidates, ci, params) {
            Ok(s) => settled.push(s),
            Err(e) => warnings.push(drop_unsolved(e, &target.proxies[c.proxy], c.form)?),
        }
    }
    Ok(settled)
}

/// Candidate `ci` at its best lambda, fitted on all samples. If its predictor is not positive
/// for every architecture of the space (with the proxy's measurements where it has them), it
/// is refitted under that constraint ([`refit_positive`]) and cross-validated again, rather
/// than passed over: on edgetpu (pixel3, 60 samples) passing over such candidates cost 0.05
/// Spearman, the constraint much less.
fn settle_one(target: &Target, candidates: &[Candidate], ci: usize, params: &AdaptParams) -> Result<Choice> {
    let c = &candidates[ci];
    let proxy = &target.proxies[c.proxy];
    let design = target
        .design(c.form, c.proxy)
        .ok_or_else(|| Error::InvalidParameter(format!("form {} no longer applies", c.form.name())))?;
    let li = c.best;
    let lambda = design.solver_lambda(params.penalty, c.lambdas[li]);
    let sol = Engine::new(design.full_problem(), params.penalty).solve(params.penalty, lambda)?;
    let predictor = design.predictor(proxy, &sol);
    let latency = proxy.measured.map_or(ProxyLatency::Modelled, |(t, _)| ProxyLatency::Measured(t));
    let low = predictor.lower_bound(latency)?;
    if predictor.is_positive(low.value) {
        return Ok(Choice {
            candidate: ci,
            lambda: c.lambdas[li],
            predictor,
            status: sol.status,
            cv_error: c.errors[li],
            held_out: c.held_out.clone(),
            constrained: None,
            solves: 1,
        });
    }
    let fit = refit_positive(&design, proxy, params, lambda, &refit_tests(&target.scheme, design.y.len()))?;
    let lambda = if fit.uncorrected { f64::INFINITY } else { c.lambdas[li] };
    let constrained = Constrained {
        proxy: proxy.predictor.device.clone(),
        form: design.form,
        lambda,
        lowest_ms: low.value,
        arch: proxy.predictor.space.space().format(&low.arch),
        constraints: fit.constraints,
        unconstrained_cv_error: c.errors[li],
    };
    Ok(Choice {
        candidate: ci,
        lambda,
        predictor: fit.predictor,
        status: fit.status,
        cv_error: fit.cv_error,
        held_out: fit.held_out,
        constrained: Some(constrained),
        solves: fit.solves,
    })
}
