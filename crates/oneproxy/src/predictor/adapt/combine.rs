//! Combining the settled candidates and the hypotheses into one predictor: with averaging,
//! weights from each member's leave-one-out error; otherwise the plain mean of the best. A
//! weighted mean of predictors is one predictor (every term is linear in its weights).

use super::candidates::{Candidate, Target};
use super::report::{Member, UnlikePool};
use super::settle::Settled;
use crate::predictor::additive::{AdditivePredictor, NetworkTerm, ProxyTerm, StructureTerm};

/// The log-weight of a cross-validated error under `MSE^(-TEMPER n)` averaging.
pub(super) fn log_weight(err: f64, n: usize) -> f64 {
    -TEMPER * n as f64 * err.max(1e-300).ln()
}

/// A member of the result: as reported, its predictor and its held-out predictions.
#[derive(Clone)]
struct Part {
    member: Member,
    predictor: AdditivePredictor,
    held_out: Vec<f64>,
    /// Its lower bound over the space, when known ([`Combined::lowest`]).
    lowest: Option<f64>,
}

/// The result of combining: the predictor, its members (heaviest first when averaged) and its
/// held-out predictions (scaled, the members' weighted mean).
pub(super) struct Combined {
    pub(super) predictor: AdditivePredictor,
    pub(super) members: Vec<Member>,
    pub(super) held_out: Vec<f64>,
    /// Each member's own predictor with its weight: where they disagree, the combination is
    /// unsure.
    pub(super) weighted: Vec<(f64, AdditivePredictor)>,
    /// A lower bound of the combination's predictions over the space (with the target's table),
    /// when every member's is known: the members' bounds weighed like the members, as the
    /// combination predicts their weighted mean everywhere and a mean is never below the mean
    /// of the minima. Checking positivity on it spares predicting the whole space once more.
    pub(super) lowest: Option<f64>,
    /// The corrections the consensus guard left out ([`without_wild`]).
    pub(super) unlike_pool: Vec<UnlikePool>,
}

/// The settled corrections (equal weights) and the hypotheses as one predictor; `averaged`
/// weighs every member by its error instead.
pub(super) fn combine(target: &Target, candidates: &[Candidate], settled: &Settled, averaged: bool) -> Combined {
    let mut parts = parts(target, candidates, settled);
    let mut unlike_pool = Vec::new();
    if averaged {
        (parts, unlike_pool) = without_wild(weighed(parts, target.n()), target);
    }
    let weights: Vec<f64> = parts.iter().map(|p| p.member.weight).collect();
    let predictors: Vec<&AdditivePredictor> = parts.iter().map(|p| &p.predictor).collect();
    let predictor = average(&predictors, &weights);
    let held_out: Vec<f64> =
        (0..target.n()).map(|i| parts.iter().zip(&weights).map(|(p, w)| w * p.held_out[i]).sum::<f64>()).collect();
    let weighted = parts.iter().zip(&weights).map(|(p, &w)| (w, p.predictor.clone())).collect();
    let lowest = parts.iter().zip(&weights).map(|(p, w)| p.lowest.map(|l| w * l)).sum::<Option<f64>>();
    Combined {
        predictor,
        members: parts.into_iter().map(|p| p.member).collect(),
        held_out,
        weighted,
        lowest,
        unlike_pool,
    }
}

/// The members in order: the settled corrections (each weighing `1 / count`), then the
/// hypotheses (no weight until weighed), proxy `pool` for those that combine the pool and
/// `none` for the others.
fn parts(target: &Target, candidates: &[Candidate], settled: &Settled) -> Vec<Part> {
    let count = settled.choices.len() as f64;
    let corrections = settled.choices.iter().map(|m| {
        let c = &candidates[m.candidate];
        Part {
            member: Member {
                proxy: target.proxies[c.proxy].predictor.device.clone(),
                form: c.form,
                lambda: m.lambda,
                cv_error: m.cv_error,
                weight: 1.0 / count,
                filled: Vec::new(),
            },
            predictor: m.predictor.clone(),
            held_out: m.held_out.clone(),
            lowest: m.lowest,
        }
    });
    let hypotheses = settled.hypotheses.iter().map(|(form, h)| Part {
        member: Member {
            proxy: if form.uses_pool() { "pool" } else { "none" }.to_string(),
            form: *form,
            lambda: h.lambda,
            cv_error: h.cv_error,
            weight: 0.0,
            filled: h.filled.clone(),
        },
        predictor: h.predictor.clone(),
        held_out: h.held_out.clone(),
        lowest: h.lowest,
    });
    corrections.chain(hypotheses).collect()
}

/// Weights proportional to `MSE^(-TEMPER n)`, negligible ones dropped; the members with
/// weight, heaviest first (ties in the order given).
fn weighed(mut parts: Vec<Part>, n: usize) -> Vec<Part> {
    let logs: Vec<f64> = parts.iter().map(|p| log_weight(p.member.cv_error, n)).collect();
    let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = logs.iter().map(|l| if top.is_finite() { (l - top).exp() } else { 1.0 }).collect();
    let raw: Vec<f64> = raw.iter().map(|&w| if w < NEGLIGIBLE_WEIGHT { 0.0 } else { w }).collect();
    let total: f64 = raw.iter().sum();
    for (p, w) in parts.iter_mut().zip(raw) {
        p.member.weight = w / total;
    }
    let mut order: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].member.weight > 0.0).collect();
    order.sort_by(|&a, &b| parts[b].member.weight.total_cmp(&parts[a].member.weight).then(a.cmp(&b)));
    order.iter().map(|&i| parts[i].clone()).collect()
}

/// Below [`WILD_BELOW_SAMPLES`] samples: the correction members whose ranking of the space
/// departs from the pool's consensus further than any pool device's own does (by
/// [`WILD_MARGIN`]), dropped and the others reweighed.
///
/// Why: latency monotonicity. Every measured device ranks architectures much like the others,
/// so a correction ranking them unlike all of them fits its few samples by extrapolating, not
/// by physics; and on five samples leave-one-out cannot see it (a handful of op-count weights
/// fitted to five points can turn a GPU's ranking over). Left in, such a member took the
/// averaged predictor of 1080ti_32 from 0.98 to 0.32 Spearman in one trial of ten
/// (docs/results/structure-hypotheses). The hypotheses are kept whatever they rank: they
/// describe a device unlike the pool (a launch-bound GPU among phones) on purpose, with few
/// parameters of fixed sign. From ten samples on, cross-validation sees extrapolation itself,
/// and a target truly unlike the pool (edgetpu) needs the corrections that rank like it.
///
/// The consensus is the pool devices' mean rank over about [`WILD_CELLS`] cells that every one
/// of them measured, spread evenly over the table. Needs [`WILD_MIN_DEVICES`] measured pool
/// devices (two cannot tell a consensus from a disagreement); keeps every member when all of
/// them would go. Returns the members kept and those left out, as reported.
fn without_wild(parts: Vec<Part>, target: &Target) -> (Vec<Part>, Vec<UnlikePool>) {
    let Some(table) = target.table() else { return (parts, Vec::new()) };
    // The pool devices measured in that table (a proxy from another table has other rows).
    let cols: Vec<usize> = target
        .proxies
        .iter()
        .filter_map(|p| p.measured.filter(|(t, _)| std::ptr::eq(*t, table)).map(|(_, c)| c))
        .collect();
    if target.n() >= WILD_BELOW_SAMPLES || cols.len() < WILD_MIN_DEVICES || parts.len() < 2 {
        return (parts, Vec::new());
    }
    let n = table.archs().len();
    let step = (n / WILD_CELLS).max(1);
    // Cells every pool device measured.
    let rows: Vec<usize> = (0..n).step_by(step).filter(|&r| cols.iter().all(|&c| table.get(r, c).is_some())).collect();
    if rows.len() < WILD_MIN_CELLS {
        return (parts, Vec::new());
    }
    let ranks = crate::stats::average_ranks;
    let device_ranks: Vec<Vec<f64>> =
        cols.iter().map(|&c| ranks(&rows.iter().map(|&r| table.get(r, c).unwrap()).collect::<Vec<_>>())).collect();
    let consensus: Vec<f64> =
        (0..rows.len()).map(|i| device_ranks.iter().map(|d| d[i]).sum::<f64>() / cols.len() as f64).collect();
    let floor =
        device_ranks.iter().map(|d| crate::stats::spearman(d, &consensus)).fold(f64::INFINITY, f64::min) - WILD_MARGIN;
    let archs: Vec<_> = rows.iter().map(|&r| table.archs()[r].clone()).collect();
    // Per member, its Spearman with the consensus when it falls below the floor.
    let wild: Vec<Option<f64>> = parts
        .iter()
        .map(|p| {
            if p.member.form.is_hypothesis() {
                return None;
            }
            let pred = p.predictor.predict(&archs, crate::predictor::ProxyLatency::Measured(table)).ok()?;
            Some(crate::stats::spearman(&pred, &consensus)).filter(|&s| s < floor)
        })
        .collect();
    let kept: f64 = parts.iter().zip(&wild).filter(|(_, w)| w.is_none()).map(|(p, _)| p.member.weight).sum();
    if kept <= 0.0 || wild.iter().all(Option::is_none) {
        return (parts, Vec::new());
    }
    let mut out = Vec::with_capacity(parts.len());
    let mut left_out = Vec::new();
    for (mut p, w) in parts.into_iter().zip(wild) {
        match w {
            None => {
                p.member.weight /= kept;
                out.push(p);
            }
            Some(spearman) => left_out.push(UnlikePool { member: p.member, spearman, floor }),
        }
    }
    (out, left_out)
}

/// How much further from the pool's consensus than its least typical device a correction may
/// rank the space ([`without_wild`]): the 29 bundled NB201 devices' own Spearman with their
/// consensus spans 0.70 (edgetpu) to 0.95 (fpga), so 0.1 below the least typical only catches
/// rankings no device resembles.
const WILD_MARGIN: f64 = 0.1;
/// Samples from which cross-validation alone judges the members ([`without_wild`]).
const WILD_BELOW_SAMPLES: usize = 10;
/// Measured pool devices needed for a consensus ([`without_wild`]).
const WILD_MIN_DEVICES: usize = 3;
/// Cells the consensus is taken over ([`without_wild`]).
const WILD_CELLS: usize = 500;
/// Fewest of them the pool must have measured in common for a consensus ([`without_wild`]): a
/// Spearman over fewer moves by more than the margin from one trial to the next.
const WILD_MIN_CELLS: usize = 30;

/// The weighted mean of predictors of one space (weights summing to 1; linear, so the mean
/// predicts the mean): proxy terms of one device, structure terms of one feature and network terms of one count merge.
fn average(ps: &[&AdditivePredictor], weights: &[f64]) -> AdditivePredictor {
    let mut out = ps[0].clone();
    out.weights =
        (0..out.weights.len()).map(|j| ps.iter().zip(weights).map(|(p, w)| w * p.weights[j]).sum::<f64>()).collect();
    out.intercept = ps.iter().zip(weights).map(|(p, w)| w * p.intercept).sum::<f64>();
    out.proxy_terms.clear();
    out.structure_terms.clear();
    out.network_terms.clear();
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
        for term in &p.network_terms {
            match out.network_terms.iter_mut().find(|t| t.count == term.count) {
                Some(t) => t.weight += w * term.weight,
                None => out.network_terms.push(NetworkTerm { weight: w * term.weight, ..term.clone() }),
            }
        }
    }
    out
}

/// Correction candidates settled (fitted on all samples) at most when averaging.
pub(super) const MAX_SETTLED: usize = 16;

/// Weights are `MSE_LOO^(-TEMPER n)`. `TEMPER = 1/2` is the Gaussian leave-one-out likelihood;
/// on 10 samples it gave nearly all the weight to the few candidates whose LOO error was lowest
/// by chance, and lost to the plain mean of the 3 best (mean Spearman 0.947 against 0.950,
/// leave-one-device-out over the 29 bundled NB201 devices, 10 seeds). Tempering to 1/8 keeps
/// the order of the candidates but averages more of them: 0.957 (docs/results/structure-hypotheses).
const TEMPER: f64 = 0.125;

/// A weight below this fraction of the largest is dropped from the average.
pub(super) const NEGLIGIBLE_WEIGHT: f64 = 1e-3;

#[cfg(test)]
mod tests {
    use super::super::hypotheses::testing::{nb201, proxies};
    use super::super::{candidates, settle, AdaptParams, Form};
    use super::*;
    use crate::predictor::{ProxyLatency, ProxyPool};

    #[test]
    fn the_members_bounds_weighed_bound_the_combination_from_below() {
        let table = nb201();
        let pool = ProxyPool::new(table);
        let proxies = proxies(&pool, &["raspi4", "pixel3", "1080ti_1"]);
        let target = table.device_index("edgegpu").unwrap();
        let measured: Vec<usize> = (0..table.archs().len()).filter(|&r| table.get(r, target).is_some()).collect();
        let rows: Vec<usize> = (0..20).map(|k| measured[(37 + 701 * k) % measured.len()]).collect();
        let archs: Vec<_> = rows.iter().map(|&r| table.archs()[r].clone()).collect();
        let y: Vec<f64> = rows.iter().map(|&r| table.get(r, target).unwrap()).collect();
        let params = AdaptParams::default();
        let t = Target::new(&proxies, &archs, &y, &params).unwrap();
        let mut warnings = Vec::new();
        let cands = candidates::validate_all(&t, &params, &|_, _| {}, &mut warnings).unwrap();
        let settled = settle::settle(&t, &cands, &params, &mut warnings).unwrap();
        let combined = combine(&t, &cands, &settled, params.averaged());
        assert!(combined.weighted.len() > 1, "an average of several members");
        let bound = combined.lowest.expect("every member's bound is known");
        let exact = combined.predictor.lower_bound(ProxyLatency::Measured(table)).unwrap().value;
        // Rounding in the weighted sums aside, the members' weighed bounds never exceed the
        // combination's own.
        assert!(bound <= exact + 1e-12 * combined.predictor.magnitude(), "{bound} > {exact}");
        assert!(combined.predictor.is_positive(bound));
    }

    /// What `without_wild` keeps (member and weight) of two members adapted to `samples`
    /// architectures with the named devices as pool: the first device's own predictor (weight
    /// 0.4), and the same costs turned over (0.6; the dearest choice at each position becomes
    /// the cheapest), which ranks the space backwards.
    fn kept_of_tame_and_wild(devices: &[&str], samples: usize) -> Vec<(String, f64)> {
        let (kept, left_out) = tame_and_wild(devices, samples);
        assert!(
            left_out.is_empty() == (kept.len() == 2),
            "a member is reported left out exactly when it is: {kept:?}, {left_out:?}"
        );
        kept
    }

    /// [`kept_of_tame_and_wild`] with the members left out, as reported.
    fn tame_and_wild(devices: &[&str], samples: usize) -> (Vec<(String, f64)>, Vec<UnlikePool>) {
        let table = nb201();
        let pool = ProxyPool::new(table);
        let proxies = proxies(&pool, devices);
        let archs: Vec<_> = table.archs()[..samples].to_vec();
        let y: Vec<f64> = (0..samples).map(|i| 2.0 + i as f64).collect();
        let t = Target::new(&proxies, &archs, &y, &AdaptParams::default()).unwrap();
        let tame = proxies[0].predictor.clone();
        let mut wild = tame.clone();
        let top = wild.weights.iter().cloned().fold(0.0, f64::max);
        wild.weights = wild.weights.iter().map(|w| top - w).collect();
        let part = |predictor: AdditivePredictor, name: &str, weight: f64| Part {
            member: Member {
                proxy: name.to_string(),
                form: Form::corrections().next().unwrap(),
                lambda: 0.0,
                cv_error: 0.01,
                weight,
                filled: Vec::new(),
            },
            predictor,
            held_out: Vec::new(),
            lowest: None,
        };
        let parts = vec![part(wild, "wild", 0.6), part(tame, "tame", 0.4)];
        let (kept, left_out) = without_wild(parts, &t);
        (kept.into_iter().map(|p| (p.member.proxy, p.member.weight)).collect(), left_out)
    }

    const FOUR: [&str; 4] = ["raspi4", "pixel3", "1080ti_1", "gold_6226"];

    #[test]
    fn a_member_ranking_the_space_unlike_every_pool_device_is_dropped() {
        let kept = kept_of_tame_and_wild(&FOUR, 5);
        assert_eq!(kept.len(), 1, "only the member that ranks like the pool stays: {kept:?}");
        assert_eq!(kept[0].0, "tame");
        assert!((kept[0].1 - 1.0).abs() < 1e-12, "reweighed to sum to 1");
    }

    #[test]
    fn a_member_left_out_is_reported_with_its_weight_and_how_far_it_ranks_from_the_pool() {
        let (_, left_out) = tame_and_wild(&FOUR, 5);
        assert_eq!(left_out.len(), 1, "{left_out:?}");
        let w = &left_out[0];
        assert_eq!((w.member.proxy.as_str(), w.member.weight), ("wild", 0.6));
        // Costs turned over rank the space backwards: far below any device's agreement.
        assert!(w.spearman < 0.0 && w.spearman < w.floor, "{w:?}");
        assert!(w.floor > 0.3 && w.floor < 1.0, "{w:?}");
    }

    #[test]
    fn from_ten_samples_every_member_stays() {
        let kept = kept_of_tame_and_wild(&FOUR, WILD_BELOW_SAMPLES);
        assert_eq!(kept, [("wild".to_string(), 0.6), ("tame".to_string(), 0.4)]);
    }

    #[test]
    fn with_fewer_than_three_measured_pool_devices_every_member_stays() {
        let kept = kept_of_tame_and_wild(&FOUR[..2], 5);
        let weights: Vec<f64> = kept.iter().map(|k| k.1).collect();
        assert_eq!(weights, [0.6, 0.4], "two devices cannot tell a consensus from a disagreement");
    }
}
