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
//! | form (`forms`, one module each) | base | corrections |
//! |---|---|---|
//! | `per-feature` (the paper) | proxy's additive prediction `X w` | `X diag(w)`: target weights `w * (a + b)` |
//! | `grouped` | `X w` | one column per feature kind (op type, block choice): `sum over the kind of x_f w_f` |
//! | `measured-counts` | proxy's *measured* latency | how many features of each kind are set (op counts), standardised |
//! | `additive-onehot` | `X w` | every one-hot feature, standardised |
//!
//! A few samples cannot pin down 30 (NB201) or 198 (FBNet) per-feature corrections; they can pin
//! down 4 per-kind ones, and the proxy's measured latency ranks better than its additive model.
//! Because every correction is linear in `X`, every form collapses to
//! `latency = sum of proxy terms + X . weights + intercept` ([`AdditivePredictor`]).
//! Beside the corrections, pool-wide `hypotheses` (live operations, costliest path, stacking
//! of the pool, a prior from the pool) compete when the form is left to the data.
//!
//! `lambda`, the form and (over a pool) the proxy are chosen by leave-one-out cross-validation of
//! the squared error on the samples. Over a pool of several proxies the `ensemble` best
//! candidates are averaged, which guards against one lucky candidate (e.g. with tied
//! whole-millisecond samples).
//!
//! Conditioning: problems are solved on `y / mean(y)`, with every column O(1), so that solver
//! tolerances mean the same on every device; the paper's code divided milliseconds by 1000,
//! which left some problems badly scaled for its solver.
//!
//! The pool adaptation, step by step ([`adapt_pool_with_progress`]):
//! 1. `candidates`: the samples encoded and scaled, every (proxy, form) cross-validated over
//!    the lambda grid (`cv`), ranked;
//! 2. `settle`: the best fitted on all samples and made positive (`constrain`), the
//!    hypotheses fitted alongside when averaging;
//! 3. `combine`: weighed and averaged into one predictor;
//! 4. `report`: what was done.
//!
//! A new correction form is one module in `forms` and one line in its registry; a new
//! hypothesis, one module in `hypotheses` and one line in its registry.

mod candidates;
mod combine;
mod constrain;
mod cv;
mod design;
mod form;
mod forms;
mod hypotheses;
mod params;
mod report;
mod settle;

pub use cv::{LARGE_SAMPLE_FOLDS, LOO_REFIT_LIMIT};
pub use form::Form;
pub use params::{AdaptParams, Combination, FormChoice, LambdaChoice, Validation};
pub use report::{AdaptReport, Constrained, Member, UnlikePool};

use super::additive::AdditivePredictor;
use super::proxies::Proxy;
use super::ProxyLatency;
use crate::error::Result;
use crate::space::Arch;
use crate::stats::spearman;
use candidates::{Candidate, Target};
use combine::Combined;
use rayon::prelude::*;
use settle::Settled;
use std::time::Instant;

/// The adapted predictor with its report.
#[derive(Debug, Clone)]
pub struct Adapted {
    /// The target predictor (ms).
    pub predictor: AdditivePredictor,
    /// How it was chosen.
    pub report: AdaptReport,
    /// The members averaged into `predictor`, each with its weight (summing to 1).
    pub members: Vec<(f64, AdditivePredictor)>,
}

impl Adapted {
    /// Per architecture, how far the members' predictions spread around their weighted mean,
    /// as the weighted standard deviation of ln(ms). Members that agree on an architecture
    /// leave it 0; a region only some members understand (the fast end of an unusual
    /// device) shows up here long before a cross-validated error notices it, because the
    /// samples seldom lie there.
    pub fn log_spread(&self, archs: &[Arch], proxy: ProxyLatency) -> Result<Vec<f64>> {
        // Each member's predictions and their logarithms (NaN where it predicts no positive
        // latency, left out below), the members side by side: when the flow's targets run in
        // parallel, the last one still running gets the idle threads this way.
        let logs: Vec<(f64, Vec<f64>)> = self
            .members
            .par_iter()
            .filter(|(w, _)| *w > 0.0)
            .map(|(w, p)| {
                let ln = |x: f64| if x > 0.0 { x.ln() } else { f64::NAN };
                Ok((*w, p.predict(archs, proxy)?.into_iter().map(ln).collect()))
            })
            .collect::<Result<_>>()?;
        // Per architecture, the members in their order.
        Ok((0..archs.len())
            .map(|i| {
                let (mut count, mut total, mut weighted_sum) = (0usize, 0.0, 0.0);
                for (w, l) in logs.iter().filter(|(_, l)| !l[i].is_nan()) {
                    count += 1;
                    total += w;
                    weighted_sum += w * l[i];
                }
                if count < 2 || total <= 0.0 {
                    return 0.0;
                }
                let mean = weighted_sum / total;
                let square: f64 =
                    logs.iter().filter(|(_, l)| !l[i].is_nan()).map(|(w, l)| w * (l[i] - mean).powi(2)).sum();
                (square / total).sqrt()
            })
            .collect())
    }
}

/// Adapt one proxy to a target measured on `archs` (latencies `y`, ms).
pub fn adapt(proxy: &Proxy, archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<Adapted> {
    adapt_pool(std::slice::from_ref(proxy), archs, y, params)
}

/// Adapt the best of several proxies (and forms) to a target; with more than one proxy the
/// `params.ensemble` best candidates are averaged.
pub fn adapt_pool(proxies: &[Proxy], archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<Adapted> {
    adapt_pool_with_progress(proxies, archs, y, params, &|_, _| {})
}

/// [`adapt_pool`], calling `progress(done, total)` as candidates (proxy x form) are validated.
pub fn adapt_pool_with_progress(
    proxies: &[Proxy],
    archs: &[Arch],
    y: &[f64],
    params: &AdaptParams,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Adapted> {
    let started = Instant::now();
    let target = Target::new(proxies, archs, y, params)?;
    let mut warnings = Vec::new();
    let candidates = candidates::validate_all(&target, params, progress, &mut warnings)?;
    let settled = settle::settle(&target, &candidates, params, &mut warnings)?;
    let combined = combine::combine(&target, &candidates, &settled, params.averaged());
    // A convex combination of predictors that are positive everywhere is positive everywhere;
    // checked anyway (with the measurements, and that every weight is finite): on the
    // members' bounds when they suffice, else over the whole space.
    let bounded = combined.lowest.is_some_and(|low| combined.predictor.is_positive(low));
    combined.predictor.validate_with(if bounded { None } else { target.table() })?;
    let report = report(&target, &candidates, &settled, &combined, params, warnings, started);
    Ok(Adapted { predictor: combined.predictor, report, members: combined.weighted })
}

/// Cross-validated Spearman below which an adapted predictor's ranking is not to be relied on:
/// the adaptation warns, and so does a NAS flow whose final predictor it is (docs/results/decisions:
/// below it, the final predictor was off by several times more on the final set).
pub const LOW_CV_SPEARMAN: f64 = 0.8;

/// `cv_spearman` as a warning about it shows it (`undefined` for NaN), when it is below
/// [`LOW_CV_SPEARMAN`] or undefined; `None` when it is not low. The adaptation and the NAS flow
/// word their advice each for its own user, on this one test.
pub fn low_cv_spearman(cv_spearman: f64) -> Option<String> {
    if cv_spearman >= LOW_CV_SPEARMAN {
        return None;
    }
    Some(if cv_spearman.is_nan() { "undefined".to_string() } else { format!("{cv_spearman:.3}") })
}

/// The report of an adaptation. The proxy and form reported are the heaviest member's that has
/// one (a correction), else the best settled candidate's.
fn report(
    target: &Target,
    candidates: &[Candidate],
    settled: &Settled,
    combined: &Combined,
    params: &AdaptParams,
    mut warnings: Vec<String>,
    started: Instant,
) -> AdaptReport {
    let (ys, held_out, members) = (&target.ys, &combined.held_out, &combined.members);
    let defined: Vec<usize> = (0..target.n()).filter(|&i| !held_out[i].is_nan()).collect();
    let first = &settled.choices[0];
    let best = &candidates[first.candidate];
    let (proxy, form, lambda) = match members.iter().find(|m| !m.form.is_hypothesis()) {
        Some(m) => (m.proxy.clone(), m.form, m.lambda),
        None => (target.proxies[best.proxy].predictor.device.clone(), best.form, first.lambda),
    };
    let status = if settled.choices.iter().all(|m| m.status == "exact") {
        "exact"
    } else if settled.choices.iter().all(|m| m.status == "exact" || m.status == "solved") {
        "solved"
    } else {
        "almost_solved"
    };
    let cv_spearman = spearman(
        &defined.iter().map(|&i| held_out[i]).collect::<Vec<_>>(),
        &defined.iter().map(|&i| ys[i]).collect::<Vec<_>>(),
    );
    if let Some(shown) = low_cv_spearman(cv_spearman) {
        warnings.push(format!(
            "the adapted predictor's cross-validated Spearman is {shown} (below {LOW_CV_SPEARMAN}): it ranks the \
             samples it did not see unreliably; measure more samples or try other proxies"
        ));
    }
    AdaptReport {
        proxy,
        form,
        penalty: params.penalty,
        lambda,
        cv_error: cv::mse(held_out, ys),
        cv_spearman,
        solves: settled.solves,
        solve_seconds: started.elapsed().as_secs_f64(),
        status: status.to_string(),
        samples: target.n(),
        members: members.clone(),
        candidates: candidates.len(),
        validation: target.validation.clone(),
        constrained: settled.choices.iter().filter_map(|s| s.constrained.clone()).collect(),
        unsolved_lambdas: candidates.iter().map(|c| c.unsolved).sum(),
        warnings,
        unlike_pool: combined.unlike_pool.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::solver::Penalty;
    use crate::space::{seeded_rng, Nb201, SearchSpace};

    /// Predictions with every proxy term on its model (the synthetic proxies have no table).
    fn predict_all(p: &AdditivePredictor, archs: &[Arch]) -> Vec<f64> {
        p.predict(archs, ProxyLatency::Modelled).unwrap()
    }

    fn form(name: &str) -> FormChoice {
        name.parse().unwrap()
    }

    /// A synthetic target: the proxy with some op types slower, a different scale and offset.
    fn setup() -> (AdditivePredictor, Vec<Arch>, Vec<f64>, Vec<Arch>, Vec<f64>) {
        let all = Nb201.enumerate().unwrap();
        let w: Vec<f64> = (0..30).map(|j| [0.0, 0.1, 1.0, 3.0, 0.6][j % 5] * (1.0 + (j / 5) as f64 * 0.05)).collect();
        let proxy = AdditivePredictor::linear(crate::SpaceId::Nb201, "proxy", w.clone(), 1.0).unwrap();
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
        let before = spearman(&predict_all(&proxy, &all), &truth);
        let px = Proxy::modelled(&proxy);
        for params in [
            AdaptParams::default(),
            AdaptParams::paper(),
            AdaptParams { penalty: Penalty::L2, ..AdaptParams::default() },
        ] {
            let ad = adapt(&px, &sa, &sy, &params).unwrap();
            let after = spearman(&predict_all(&ad.predictor, &all), &truth);
            assert!(after > before + 0.01, "{params:?}: {before} -> {after}");
            assert!(ad.report.solves > 10);
        }
    }

    #[test]
    fn the_members_spread_is_zero_where_they_agree_and_the_weights_sum_to_one() {
        let (proxy, sa, sy, all, _) = setup();
        let px = Proxy::modelled(&proxy);
        let ad = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap();
        assert!(!ad.members.is_empty());
        assert!((ad.members.iter().map(|m| m.0).sum::<f64>() - 1.0).abs() < 1e-9);
        // The paper's setting is one member: no spread.
        let paper = adapt(&px, &sa, &sy, &AdaptParams::paper()).unwrap();
        assert_eq!(paper.members.len(), 1);
        assert!(paper.log_spread(&all[..50], ProxyLatency::Modelled).unwrap().iter().all(|s| *s == 0.0));
        // Two copies of one predictor agree everywhere; two different fits do not.
        let members = |a: &AdditivePredictor, b: &AdditivePredictor| vec![(0.5, a.clone()), (0.5, b.clone())];
        let twin = Adapted { members: members(&ad.predictor, &ad.predictor), ..ad.clone() };
        assert!(twin.log_spread(&all[..500], ProxyLatency::Modelled).unwrap().iter().all(|s| *s < 1e-12));
        let pair = Adapted { members: members(&ad.predictor, &paper.predictor), ..ad.clone() };
        let spread = pair.log_spread(&all[..500], ProxyLatency::Modelled).unwrap();
        assert!(spread.iter().all(|s| s.is_finite() && *s >= 0.0));
        // Half of the weight on each of two values: the spread is half their log distance.
        let (p, q) = (predict_all(&ad.predictor, &all[..500]), predict_all(&paper.predictor, &all[..500]));
        for i in 0..500 {
            assert!((spread[i] - 0.5 * (p[i].ln() - q[i].ln()).abs()).abs() < 1e-9);
        }
        assert!(spread.iter().any(|s| *s > 1e-6));
    }

    #[test]
    fn grouped_form_recovers_per_op_slowdown() {
        let (proxy, sa, sy, all, truth) = setup();
        let p = AdaptParams { form: form("grouped"), ..AdaptParams::default() };
        let ad = adapt(&Proxy::modelled(&proxy), &sa, &sy, &p).unwrap();
        let after = spearman(&predict_all(&ad.predictor, &all), &truth);
        assert!(after > 0.99, "{after}");
    }

    #[test]
    fn conic_penalties_work_end_to_end_and_errors_are_clear() {
        let (proxy, sa, sy, _, _) = setup();
        let proxy = Proxy::modelled(&proxy);
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
        let px = Proxy::modelled(&proxy);
        let onehot = AdaptParams { form: form("additive-onehot"), ..AdaptParams::default() };
        let reference = predict_all(&adapt(&px, &sa, &sy, &onehot).unwrap().predictor, &all);
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
                p.check_positive(ProxyLatency::Modelled).unwrap();
                assert!(ad.report.cv_error.is_finite());
            }
            // Standardised corrections do not depend on the unit: the same predictor, scaled.
            let scaled = predict_all(&adapt(&px, &sa, &y, &onehot).unwrap().predictor, &all);
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
        let px = Proxy::modelled(&proxy);
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
        let px = Proxy::modelled(&proxy);
        let (sa, sy) = samples(LOO_REFIT_LIMIT + 50, 5, &all, &truth);
        let l2 = AdaptParams { penalty: Penalty::L2, form: form("grouped"), ..AdaptParams::default() };
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
        let proxy_all = predict_all(&proxy, &all);
        let top = proxy_all.iter().cloned().fold(0.0, f64::max);
        let inverse: Vec<f64> = proxy_all.iter().map(|v| top / v).collect();
        let px = Proxy::modelled(&proxy);
        let mut constrained = 0;
        for seed in 0..4 {
            let (sa, sy) = samples(10, seed, &all, &inverse);
            for params in [
                AdaptParams::default(),
                AdaptParams::paper(),
                AdaptParams { penalty: Penalty::Linf, ..AdaptParams::paper() },
            ] {
                let ad = adapt(&px, &sa, &sy, &params).unwrap();
                let lowest = predict_all(&ad.predictor, &all).into_iter().fold(f64::INFINITY, f64::min);
                assert!(lowest > 0.0, "seed {seed} {params:?}: {lowest}");
                let bound = ad.predictor.lower_bound(ProxyLatency::Modelled).unwrap().value;
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
        let px = Proxy::modelled(&proxy);
        let (sa, sy) = samples(10, 4, &all, &truth);
        let best =
            adapt(&px, &sa, &sy, &AdaptParams { combination: Combination::Best, ..AdaptParams::default() }).unwrap();
        let averaged = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap();
        let score = |a: &Adapted| spearman(&predict_all(&a.predictor, &all), &truth);
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
        assert!(["live-ops", "live-path"].contains(&r.members[0].form.name()), "{:?}", r.members);
        // The proxy reported is a real one (the heaviest correction member), not the hypothesis.
        assert_eq!(r.proxy, "proxy");
        assert!(!averaged.predictor.structure_terms.is_empty());
        averaged.predictor.validate().unwrap();
        // Deterministic, and the predictor survives a JSON round trip.
        let again = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap();
        assert_eq!(again.predictor, averaged.predictor);
        let json = serde_json::to_vec(&averaged.predictor).unwrap();
        let back = AdditivePredictor::from_json(&json, std::path::Path::new("p.json")).unwrap();
        assert_eq!(predict_all(&back, &all[..50]), predict_all(&averaged.predictor, &all[..50]));
        // A device that runs the cell as written keeps the proxy's model on top.
        let (_, sa, sy, _, _) = setup();
        let r = adapt(&px, &sa, &sy, &AdaptParams::default()).unwrap().report;
        assert!(!["live-ops", "live-path"].contains(&r.members[0].form.name()), "{:?}", r.members);
    }

    #[test]
    fn elastic_space_adaptations_are_positive_everywhere() {
        // OFA, a strongly curved target: linear corrections undershoot where samples never go.
        let space = crate::space::OfaMbv3;
        let d = space.num_features();
        let mut rng = seeded_rng(8);
        let weights = (0..d).map(|j| 0.05 + 0.02 * (j % 5) as f64).collect();
        let proxy = AdditivePredictor::linear(crate::SpaceId::OfaMbv3, "proxy", weights, 0.5).unwrap();
        let v: Vec<f64> = (0..d).map(|j| 0.02 + 0.01 * (j % 7) as f64).collect();
        let archs: Vec<Arch> = (0..20).map(|_| space.sample(&mut rng)).collect();
        let y: Vec<f64> = archs.iter().map(|a| (12.0 * crate::stats::dot(&space.encode(a), &v)).exp()).collect();
        let px = Proxy::modelled(&proxy);
        let mut constrained = 0;
        for params in [AdaptParams::default(), AdaptParams::paper()] {
            let ad = adapt(&px, &archs, &y, &params).unwrap();
            let low = ad.predictor.lower_bound(ProxyLatency::Modelled).unwrap();
            assert!(low.value > 0.0, "{params:?}: {}", low.value);
            constrained += ad.report.constrained.len();
            for _ in 0..1000 {
                assert!(predict_all(&ad.predictor, &[space.sample(&mut rng)])[0] >= low.value * (1.0 - 1e-12));
            }
        }
        assert!(constrained > 0, "the curved target must need the constraint");
    }
}
