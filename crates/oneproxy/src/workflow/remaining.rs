//! How much regret the flow expects is left: its own estimate, from its own latency model.
//!
//! A real device has no table to score against, so the user's only answer to "is this front
//! good?" is what the flow believes about the architectures it did not measure. Under the
//! flow's predictive distribution ([`LatencyModel`]: log-normal around each calibrated
//! prediction), the regret of the measured set is a random variable: at each budget, the best
//! accuracy that *might* fit minus the best measured one that does. It is drawn by Monte Carlo:
//!
//! * every unmeasured candidate's ln(ms) is `mu + common + own`, where `common` is one normal
//!   draw shared by all of them and by the budgets (a calibration off by a factor moves every
//!   prediction and the quantiles the budgets are alike; the measured values stay put), and
//!   `own` the candidate's independent rest of its spread;
//! * the budgets are the model's predicted quantiles ([`LatencyModel::budgets`]) moved by
//!   `common`;
//! * the draw's regret is the mean over the budgets of the best accuracy within each (measured
//!   or drawn) minus the best measured one within it (the space's lowest accuracy where none
//!   fits), as [`super::score`] scores it against a true table.
//!
//! Once the flow has predicted enough candidates before measuring them ([`MIN_ERRORS`]), the
//! normal draws give way to its own record: each candidate's ln(ms) is `mu + sigma * z`, with
//! `z` one of those standardised out-of-sample errors drawn at random (and no separate shared
//! part: each recorded error already holds whatever the calibration shared at the time). Why:
//! the errors of an adapted latency predictor are not normal. Most land far inside the
//! model's spread and a few far outside it, and a normal of the same spread believes in a
//! crowd of near misses that would each beat the measured front: on the main job the normal
//! estimate's 80% bound held the true regret in 98.6% of runs and its mean was 4.5 times the
//! truth; resampled, 78.6% (docs/results/flow-estimate).
//!
//! The mean over draws is the expected remaining regret, and its upper quantile the bound
//! reported to the user ("at most x points, 80%"). Only candidates that can beat the measured
//! set at a budget they might fit are drawn, so the cost falls as the front fills.

use super::design::LatencyModel;
// Budgets and points in ln(ms) keep their order, so the scorer's fit rule applies as is.
use super::score::best_within;
use crate::space::seeded_rng;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Draws of the Monte Carlo estimate: the 80% quantile of 400 draws is within about two
/// percentiles of the true one.
pub const DRAWS: usize = 400;

/// Level of the reported bound.
pub const LEVEL: f64 = 0.8;

/// How many of its own spreads a candidate must be from a budget to be taken as missing it
/// (the chance is below 1e-15) without a draw.
const REACH: f64 = 8.0;

/// Share of a candidate's common spread (the model's `sigma`) that all candidates share.
const SHARED: f64 = 0.5;

/// Out-of-sample errors from which the draws resample them instead of drawing normals: fewer
/// make a distribution whose tail is one or two values.
pub const MIN_ERRORS: usize = 8;

/// Whether [`LatencyModel::remaining_regret`] resamples `errors` rather than drawing normals
/// (callers then give it the model the errors were measured against).
pub fn resamples(errors: &[f64]) -> bool {
    errors.len() >= MIN_ERRORS
}

/// The flow's estimate of the regret its measured set leaves, in accuracy points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RemainingRegret {
    /// Expected mean regret over the budgets.
    pub mean: f64,
    /// The regret stays at or below this with probability `level` (under the model).
    pub bound: f64,
    /// The bound's probability.
    pub level: f64,
    /// Budgets (of the model's 50) at which nothing measured is expected to fit: the flow
    /// believes architectures are that fast but has measured none of them.
    pub empty_budgets: usize,
}

impl RemainingRegret {
    /// "at most x points (80%)", as every front end says it.
    pub fn describe(&self) -> String {
        format!(
            "estimated remaining regret <= {:.2} points ({:.0}% bound; expected {:.2})",
            self.bound,
            self.level * 100.0,
            self.mean
        )
    }
}

impl LatencyModel {
    /// The estimate of the regret left by the `measured` (candidate index, ms) points, over
    /// the candidates with `accuracy`, skipping `unavailable` ones (the target cannot run
    /// them). `errors` are the model's standardised errors on predictions it made before the
    /// measurement, `(ln ms - mu) / sigma`; from [`MIN_ERRORS`] of them on, the draws resample
    /// them (see the module's doc), else they are normal. Deterministic: the draws are seeded
    /// by `seed`.
    pub fn remaining_regret(
        &self,
        accuracy: &[f64],
        measured: &[(usize, f64)],
        unavailable: &[usize],
        errors: &[f64],
        seed: u64,
    ) -> RemainingRegret {
        let errors: Vec<f64> = if resamples(errors) {
            errors.iter().filter(|z| z.is_finite()).map(|z| z.clamp(-REACH, REACH)).collect()
        } else {
            Vec::new()
        };
        let budgets = self.budgets();
        let floor = accuracy.iter().copied().fold(f64::INFINITY, f64::min);
        if budgets.is_empty() {
            return RemainingRegret { mean: 0.0, bound: 0.0, level: LEVEL, empty_budgets: 0 };
        }
        let ln_budgets: Vec<f64> = budgets.iter().map(|b| b.ln()).collect();
        let shared = if errors.is_empty() { SHARED.sqrt() * self.sigma } else { 0.0 };
        let points: Vec<(f64, f64)> =
            measured.iter().filter(|m| m.1 > 0.0).map(|&(i, y)| (y.ln(), accuracy[i])).collect();
        let mut skip = vec![false; accuracy.len()];
        for i in measured.iter().map(|m| m.0).chain(unavailable.iter().copied()) {
            skip[i] = true;
        }
        // Which candidates can matter: beating the measured set at the cheapest budget they
        // might fit, with every budget moved down by six shared spreads (the measured best is
        // then smallest); a resampled error reaches `REACH` spreads at most.
        let reach = if errors.is_empty() { 6.0 } else { REACH };
        let low: Vec<f64> = ln_budgets.iter().map(|b| b - reach * shared).collect();
        let low_best = best_within(points.iter().copied(), &low, floor);
        let mut drawn: Vec<(f64, f64, f64)> = (0..accuracy.len())
            .filter(|&i| !skip[i] && self.mu[i].is_finite() && accuracy[i] > floor)
            .filter_map(|i| {
                let total = self.sigma_of(i);
                let own = (total * total - shared * shared).max(0.0).sqrt();
                let k = low.partition_point(|&b| b < self.mu[i] - reach * (own + shared));
                (k < low.len() && accuracy[i] > low_best[k]).then_some((self.mu[i], own, accuracy[i]))
            })
            .collect();
        // Most accurate first: a draw's regret depends, at each budget, only on the most
        // accurate candidate that lands within it, so once one has landed at budget `k`, a less
        // accurate one matters only if it lands below `k`. Those that cannot (by more than
        // `REACH` of their own spreads) are passed over without a draw.
        drawn.sort_by(|a, b| b.2.total_cmp(&a.2));
        // For the same reason, a candidate that always lands above a more accurate one (the
        // shared part moves both alike) never matters, in any draw.
        let mut fastest = f64::INFINITY;
        drawn.retain(|&(mu, own, _)| {
            let matters = mu - REACH * own < fastest;
            fastest = fastest.min(mu + REACH * own);
            matters
        });
        let mut rng = seeded_rng(seed);
        let mut regrets = Vec::with_capacity(DRAWS);
        let mut empty = vec![0usize; ln_budgets.len()];
        let mut moved = vec![0.0; ln_budgets.len()];
        let mut top = vec![f64::NEG_INFINITY; ln_budgets.len()];
        for _ in 0..DRAWS {
            let c: f64 = shared * rng.sample::<f64, _>(StandardNormal);
            for (m, b) in moved.iter_mut().zip(&ln_budgets) {
                *m = b + c;
            }
            let best = best_within(points.iter().copied(), &moved, floor);
            top.iter_mut().for_each(|t| *t = f64::NEG_INFINITY);
            // Budgets below `lowest` are the only ones a less accurate candidate can still win.
            let mut lowest = moved.len();
            for &(mu, own, acc) in &drawn {
                if lowest == 0 {
                    break;
                }
                if mu + c - REACH * own >= moved[lowest - 1] {
                    continue;
                }
                let z: f64 = if errors.is_empty() {
                    rng.sample(StandardNormal)
                } else {
                    errors[rng.random_range(0..errors.len())]
                };
                let at = mu + c + own * z;
                if at <= moved[lowest - 1] {
                    let k = moved[..lowest - 1].partition_point(|&b| b < at);
                    top[k] = acc;
                    lowest = k;
                }
            }
            let mut run = f64::NEG_INFINITY;
            let mut regret = 0.0;
            for k in 0..moved.len() {
                run = run.max(top[k]);
                regret += (run - best[k]).max(0.0);
                if best[k] <= floor && run > floor {
                    empty[k] += 1;
                }
            }
            regrets.push(regret / moved.len() as f64);
        }
        regrets.sort_by(f64::total_cmp);
        let mean = regrets.iter().sum::<f64>() / regrets.len() as f64;
        let at = ((LEVEL * regrets.len() as f64).ceil() as usize).clamp(1, regrets.len()) - 1;
        let empty_budgets = empty.iter().filter(|&&n| n * 2 > DRAWS).count();
        RemainingRegret { mean, bound: regrets[at], level: LEVEL, empty_budgets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(mu: Vec<f64>, sigma: f64) -> LatencyModel {
        LatencyModel { mu: mu.iter().map(|m: &f64| m.ln()).collect(), sigma, own: Vec::new(), grid: 0.0 }
    }

    #[test]
    fn nothing_is_left_when_the_front_is_measured_and_predictions_are_sure() {
        // Accuracy rises with latency: every candidate is on the front. All measured.
        let lat: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        let acc: Vec<f64> = (1..=100).map(|i| 50.0 + i as f64 * 0.1).collect();
        let m = model(lat.clone(), 0.05);
        let measured: Vec<(usize, f64)> = lat.iter().enumerate().map(|(i, &y)| (i, y)).collect();
        let r = m.remaining_regret(&acc, &measured, &[], &[], 1);
        assert_eq!(r.mean, 0.0);
        assert_eq!(r.bound, 0.0);
        assert_eq!(r.empty_budgets, 0);
    }

    #[test]
    fn an_unmeasured_fast_end_is_a_large_regret_and_empty_budgets() {
        let lat: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        let acc: Vec<f64> = (1..=100).map(|i| 50.0 + i as f64 * 0.1).collect();
        let m = model(lat.clone(), 0.05);
        // Only the slower half measured: the fast half's budgets have nothing.
        let measured: Vec<(usize, f64)> = (50..100).map(|i| (i, lat[i])).collect();
        let r = m.remaining_regret(&acc, &measured, &[], &[], 1);
        assert!(r.empty_budgets >= 20, "{r:?}");
        // Half the budgets hold nothing measured: several points each, over the floor.
        assert!(r.mean > 1.0, "{r:?}");
        assert!(r.bound >= r.mean);
        // The same seed, the same estimate; unmeasurable candidates are not counted on.
        assert_eq!(m.remaining_regret(&acc, &measured, &[], &[], 1), r);
        let unavailable: Vec<usize> = (0..50).collect();
        let none = m.remaining_regret(&acc, &measured, &unavailable, &[], 1);
        assert!(none.mean < r.mean);
    }

    #[test]
    fn a_wider_spread_leaves_more_regret_to_expect() {
        // Every other candidate measured; the unmeasured ones are slightly more accurate.
        let lat: Vec<f64> = (1..=200).map(|i| i as f64).collect();
        let acc: Vec<f64> = (1..=200).map(|i| 50.0 + i as f64 * 0.1 + if i % 2 == 1 { 0.05 } else { 0.0 }).collect();
        let measured: Vec<(usize, f64)> = (0..200).step_by(2).map(|i| (i, lat[i])).collect();
        let sure = model(lat.clone(), 0.05).remaining_regret(&acc, &measured, &[], &[], 3);
        let unsure = model(lat.clone(), 0.5).remaining_regret(&acc, &measured, &[], &[], 3);
        assert!(sure.mean > 0.0 && sure.mean < 0.3, "{sure:?}");
        assert!(unsure.bound > sure.bound, "{unsure:?} vs {sure:?}");
    }

    #[test]
    fn recorded_errors_replace_the_normal_draws_once_there_are_enough() {
        let lat: Vec<f64> = (1..=200).map(|i| i as f64).collect();
        let acc: Vec<f64> = (1..=200).map(|i| 50.0 + i as f64 * 0.1 + if i % 2 == 1 { 0.05 } else { 0.0 }).collect();
        let measured: Vec<(usize, f64)> = (0..200).step_by(2).map(|i| (i, lat[i])).collect();
        let m = model(lat.clone(), 0.2);
        let normal = m.remaining_regret(&acc, &measured, &[], &[], 5);
        // Predictions that landed ten times closer than the spread says: little is left.
        let tight: Vec<f64> = (0..MIN_ERRORS).map(|k| if k % 2 == 0 { 0.1 } else { -0.1 }).collect();
        let sure = m.remaining_regret(&acc, &measured, &[], &tight, 5);
        assert!(sure.mean < normal.mean / 2.0, "{sure:?} vs {normal:?}");
        // Predictions that missed by three spreads: more is left than the normal believes.
        let wild: Vec<f64> = tight.iter().map(|z| z * 30.0).collect();
        let unsure = m.remaining_regret(&acc, &measured, &[], &wild, 5);
        assert!(unsure.bound > normal.bound, "{unsure:?} vs {normal:?}");
        // Too few errors to resample: the normal draws stand.
        assert_eq!(m.remaining_regret(&acc, &measured, &[], &tight[..MIN_ERRORS - 1], 5), normal);
    }
}
