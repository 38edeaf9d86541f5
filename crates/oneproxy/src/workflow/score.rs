//! Scoring a flow's outcome against a target's recorded table (simulations and evaluations).
//!
//! The flow's final set is measured, so it is scored by what it would give a user. The primary
//! score is the **regret per latency budget**: at each of [`REGRET_BUDGETS`] budgets
//! (the 2%, 4%, ..., 100% quantiles of the target's true latencies), the best true accuracy that
//! fits minus the best accuracy of the flow's final set that fits (the space's lowest accuracy if
//! nothing does), averaged over the budgets, in accuracy points. Unlike the hypervolume ratio,
//! whose reference point (the slowest, least accurate architecture) lets 40 random
//! architectures score above 0.8, regret counts every budget a user might have alike and is 0
//! only when the best architecture is found at each. `hv_ratio` and the per-constraint gaps stay
//! as secondary fields.

use super::nas::NasOutcome;
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::search::{best_under_constraints, hypervolume_2d, pareto_front};
use crate::space::Arch;
use serde::{Deserialize, Serialize};

/// Fewest architectures with an accuracy that a target must have measured, beyond the flow's
/// own samples, to be scored: below it, a score says more about the samples than the flow.
pub const MIN_SCORED: usize = 50;

/// What happened at one latency constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstraintResult {
    /// The constraint (ms).
    pub constraint: f64,
    /// The picked architecture (None if nothing met the constraint).
    pub arch: Option<String>,
    /// Its accuracy.
    pub accuracy: Option<f64>,
    /// Its measured latency on the target.
    pub latency: Option<f64>,
    /// Best true accuracy of any candidate within the constraint.
    pub optimal_accuracy: Option<f64>,
    /// `optimal_accuracy - accuracy`.
    pub accuracy_gap: Option<f64>,
    /// Whether the pick's latency exceeds the constraint.
    pub violated: bool,
}

/// Latency budgets of the regret: the 2%, 4%, ..., 100% quantiles of the target's latencies.
pub const REGRET_BUDGETS: usize = 50;

/// Scores of one outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Mean regret over the latency budgets, accuracy points (the primary score).
    pub regret: f64,
    /// Largest regret at any budget.
    pub regret_max: f64,
    /// Fraction of the target's true Pareto front that the final set holds.
    pub pareto_recall: f64,
    /// Mean regret of [`RANDOM_DRAWS`] draws of as many uniformly random architectures as the
    /// flow measured (front taken): the baseline at the same measurement count.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub random_regret: Option<f64>,
    /// Hypervolume of the chosen set over that of the target's true front (reference point:
    /// the slowest candidate, the least accurate one).
    pub hv_ratio: f64,
    /// Per constraint.
    pub constraints: Vec<ConstraintResult>,
    /// Architectures the score is computed over.
    pub scored_on: usize,
}

impl Score {
    /// Whether the flow did worse than random architectures at the same measurement count: a
    /// failing target, which every report highlights.
    pub fn worse_than_random(&self) -> bool {
        self.random_regret.is_some_and(|r| self.regret > r)
    }
}

/// The candidates of a target with a table: measured architectures with an accuracy.
pub fn target_candidates(table: &LatencyTable, target: usize, accuracy: &AccuracyTable) -> Vec<Arch> {
    table
        .measured_rows(target)
        .into_iter()
        .map(|r| table.archs()[r].clone())
        .filter(|a| accuracy.get(a).is_some())
        .collect()
}

/// Whether a target can be scored: `Err` says why not.
pub fn check_scorable(table: &LatencyTable, target: &str, accuracy: &AccuracyTable, samples: usize) -> Result<usize> {
    let n = target_candidates(table, table.device_index(target)?, accuracy).len();
    if n < samples + MIN_SCORED {
        return Err(Error::TooFewSamples(format!(
            "target '{target}' cannot be scored: it measured {n} architectures with an accuracy; scoring needs at least {} beyond its {samples} samples",
            MIN_SCORED
        )));
    }
    Ok(n)
}

/// Random draws averaged into [`Score::random_regret`].
pub const RANDOM_DRAWS: usize = 20;

/// A target's truth: every candidate's true latency and accuracy, the regret budgets, and the
/// best accuracy within each. Built once per target and shared by every run scored on it.
#[derive(Debug, Clone)]
pub struct Truth {
    /// The target's candidates.
    pub candidates: Vec<Arch>,
    /// True latencies (ms), in candidate order.
    pub latency: Vec<f64>,
    /// Accuracies, in candidate order.
    pub accuracy: Vec<f64>,
    /// The budgets (ms), ascending.
    pub budgets: Vec<f64>,
    /// Best true accuracy within each budget.
    pub best: Vec<f64>,
    /// The lowest accuracy of the space (what a budget with nothing found scores).
    pub floor: f64,
    /// The true Pareto front (canonical strings).
    pub front: std::collections::HashSet<String>,
}

/// The [`REGRET_BUDGETS`] quantiles of `latencies` (the `k/B` quantile is the smallest value
/// with at least that fraction of the values at or below it).
///
/// The quantiles are found by counting the values into buckets and sorting only the buckets
/// that hold one (see `select_ranks`), not by a full sort: the sequential design takes them
/// of nine values per candidate at every round. [`budgets_by_sort`] gives the same values.
pub fn budgets(latencies: &[f64]) -> Vec<f64> {
    let mut values: Vec<f64> = latencies.iter().copied().filter(|v| v.is_finite()).collect();
    let ranks = quantile_ranks(values.len());
    select_ranks(&mut values, &ranks)
}

/// [`budgets`] of the latencies `exp(v)` for `v` in `ln_values`, selected among the
/// logarithms: only the selected ones are exponentiated. `exp` keeps the order of its
/// arguments, so the k-th smallest exponential is the exponential of the k-th smallest
/// logarithm, and the values are those of [`budgets`] of the exponentials (tested bit for
/// bit). The sequential design's budgets are quantiles of 9 values per candidate, every
/// round; exponentiating all of them cost more than selecting among them.
pub fn budgets_of_ln(ln_values: &[f64]) -> Vec<f64> {
    budgets_of_ln_owned(ln_values.to_vec())
}

/// [`budgets_of_ln`] on values it may reorder and shorten (no copy of the design's 140,625).
pub(crate) fn budgets_of_ln_owned(mut values: Vec<f64>) -> Vec<f64> {
    // A logarithm above LN_MAX has an infinite exponential, which `budgets` drops.
    values.retain(|v| v.is_finite() && *v <= LN_MAX);
    let ranks = quantile_ranks(values.len());
    select_ranks(&mut values, &ranks).into_iter().map(f64::exp).collect()
}

/// The largest `v` whose `exp(v)` is finite (`ln(f64::MAX)` rounded down).
const LN_MAX: f64 = 709.782_712_893_384;

/// Buckets of [`select_ranks`]: a few dozen values each on the design's 140,625.
const SELECT_BUCKETS: usize = 4096;

/// The values of sorted ranks `ranks` (0-based, ascending, repeats allowed) among the finite
/// `values`, ordered as `f64::total_cmp` orders them.
///
/// One pass counts the values per bucket of equal width between the smallest and the
/// largest; a bucket's place is a monotone function of the value, so every value of a
/// bucket sorts after every value of the buckets below it, and the counts say which bucket
/// holds each rank. A second pass gathers the values of those buckets (at most one per
/// rank), and each is sorted on its own: three linear passes instead of a selection's
/// repeated partitions.
fn select_ranks(values: &mut [f64], ranks: &[usize]) -> Vec<f64> {
    if ranks.is_empty() || values.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = hi - lo;
    let scale = SELECT_BUCKETS as f64 / span;
    if !(span > 0.0 && span.is_finite() && scale.is_finite()) {
        // Equal values, or a span too wide or too narrow for a finite bucket width: select
        // the classic way.
        return ranks
            .iter()
            .map(|&r| {
                let (_, at, _) = values.select_nth_unstable_by(r, f64::total_cmp);
                *at
            })
            .collect();
    }
    // Monotone in the value: a subtraction, a product by a positive constant and a floor.
    let bucket = |v: f64| (((v - lo) * scale) as usize).min(SELECT_BUCKETS - 1);
    let mut counts = vec![0usize; SELECT_BUCKETS];
    for &v in values.iter() {
        counts[bucket(v)] += 1;
    }
    // Each rank's bucket and its rank within the bucket.
    let mut slot = vec![usize::MAX; SELECT_BUCKETS];
    let mut wanted: Vec<(usize, usize)> = Vec::with_capacity(ranks.len());
    let mut groups: Vec<Vec<f64>> = Vec::new();
    let (mut b, mut below) = (0, 0);
    for &r in ranks {
        while below + counts[b] <= r {
            below += counts[b];
            b += 1;
        }
        if slot[b] == usize::MAX {
            slot[b] = groups.len();
            groups.push(Vec::with_capacity(counts[b]));
        }
        wanted.push((slot[b], r - below));
    }
    for &v in values.iter() {
        let g = slot[bucket(v)];
        if g != usize::MAX {
            groups[g].push(v);
        }
    }
    for g in &mut groups {
        g.sort_unstable_by(f64::total_cmp);
    }
    wanted.into_iter().map(|(g, k)| groups[g][k]).collect()
}

/// [`budgets`] by sorting every value: the reference the selection is tested against.
pub fn budgets_by_sort(latencies: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = latencies.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    quantile_ranks(sorted.len()).into_iter().map(|r| sorted[r]).collect()
}

/// The 0-based positions in the sorted values of the [`REGRET_BUDGETS`] quantiles of `n`
/// values, ascending (none when `n == 0`).
fn quantile_ranks(n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    (1..=REGRET_BUDGETS).map(|k| (k * n).div_ceil(REGRET_BUDGETS).clamp(1, n) - 1).collect()
}

/// Best accuracy within each budget among `(latency, accuracy)` points; `floor` where none fits.
pub fn best_within(points: impl IntoIterator<Item = (f64, f64)>, budgets: &[f64], floor: f64) -> Vec<f64> {
    let mut best = vec![floor; budgets.len()];
    for (lat, acc) in points {
        // Budgets are ascending: the point fits every budget from the first at or above it.
        let first = budgets.partition_point(|&b| b < lat);
        for v in &mut best[first..] {
            if acc > *v {
                *v = acc;
            }
        }
    }
    best
}

impl Truth {
    /// The truth of `target` (its measured architectures with an accuracy).
    pub fn new(table: &LatencyTable, target: &str, accuracy: &AccuracyTable) -> Result<Self> {
        let col = table.device_index(target)?;
        let candidates = target_candidates(table, col, accuracy);
        let latency: Vec<f64> =
            candidates.iter().map(|a| table.latency(a, col).expect("candidates are measured")).collect();
        let accs: Vec<f64> = candidates.iter().map(|a| accuracy.get(a).expect("candidates have accuracies")).collect();
        let floor = accs.iter().copied().fold(f64::INFINITY, f64::min);
        let budgets = budgets(&latency);
        let best = best_within(latency.iter().copied().zip(accs.iter().copied()), &budgets, floor);
        let space = table.space().space();
        let front = pareto_front(&latency, &accs)?.into_iter().map(|i| space.format(&candidates[i])).collect();
        Ok(Truth { candidates, latency, accuracy: accs, budgets, best, floor, front })
    }

    /// Mean and largest regret of a set of measured `(latency, accuracy)` points.
    pub fn regret(&self, points: impl IntoIterator<Item = (f64, f64)>) -> (f64, f64) {
        let found = best_within(points, &self.budgets, self.floor);
        let gaps: Vec<f64> = self.best.iter().zip(&found).map(|(b, f)| (b - f).max(0.0)).collect();
        let n = gaps.len().max(1) as f64;
        (gaps.iter().sum::<f64>() / n, gaps.iter().copied().fold(0.0, f64::max))
    }

    /// Mean regret of `draws` sets of `count` uniformly random candidates (seeded).
    pub fn random_regret(&self, count: usize, draws: usize, seed: u64) -> f64 {
        let mut rng = crate::space::seeded_rng(seed);
        let count = count.min(self.candidates.len());
        let total: f64 = (0..draws)
            .map(|_| {
                let pick = rand::seq::index::sample(&mut rng, self.candidates.len(), count);
                self.regret(pick.into_iter().map(|i| (self.latency[i], self.accuracy[i]))).0
            })
            .sum();
        total / draws.max(1) as f64
    }
}

/// Score `outcome` against the target's column of `table`.
pub fn score(outcome: &NasOutcome, table: &LatencyTable, accuracy: &AccuracyTable) -> Result<Score> {
    score_against(outcome, &Truth::new(table, &outcome.target, accuracy)?)
}

/// [`score`] against a target's truth built once.
pub fn score_against(outcome: &NasOutcome, truth_of: &Truth) -> Result<Score> {
    let candidates = &truth_of.candidates;
    let truth = &truth_of.latency;
    let accuracies = &truth_of.accuracy;
    let (regret, regret_max) = truth_of.regret(outcome.chosen.iter().map(|c| (c.latency, c.accuracy)));
    let found = outcome.chosen.iter().filter(|c| truth_of.front.contains(&c.arch)).count();
    let pareto_recall = found as f64 / truth_of.front.len().max(1) as f64;
    let ref_lat = truth.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let ref_acc = accuracies.iter().cloned().fold(f64::INFINITY, f64::min);
    let hv_true = hypervolume_2d(truth, accuracies, ref_lat, ref_acc)?;
    let lat: Vec<f64> = outcome.chosen.iter().map(|c| c.latency).collect();
    let acc: Vec<f64> = outcome.chosen.iter().map(|c| c.accuracy).collect();
    let hv = hypervolume_2d(&lat, &acc, ref_lat, ref_acc)?;
    let constraints: Vec<f64> = outcome.picks.iter().map(|p| p.constraint).collect();
    let optimal = best_under_constraints(truth, accuracies, &constraints)?;
    let constraints = outcome
        .picks
        .iter()
        .zip(optimal)
        .map(|(p, opt)| {
            let optimal_accuracy = opt.map(|o| accuracies[o]);
            let accuracy = p.pick.as_ref().map(|c| c.accuracy);
            ConstraintResult {
                constraint: p.constraint,
                arch: p.pick.as_ref().map(|c| c.arch.clone()),
                accuracy,
                latency: p.pick.as_ref().map(|c| c.latency),
                optimal_accuracy,
                accuracy_gap: match (optimal_accuracy, accuracy) {
                    (Some(o), Some(a)) => Some(o - a),
                    _ => None,
                },
                violated: p.pick.as_ref().is_some_and(|c| c.latency > p.constraint),
            }
        })
        .collect();
    Ok(Score {
        regret,
        regret_max,
        pareto_recall,
        random_regret: None,
        hv_ratio: if hv_true > 0.0 { hv / hv_true } else { f64::NAN },
        constraints,
        scored_on: candidates.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_by_selection_are_the_sorted_quantiles() {
        let mut rng = crate::space::seeded_rng(5);
        for n in [0, 1, 2, 3, 49, 50, 51, 99, 1000, 4321] {
            // Repeats and a non-finite value among them, as predictions may have.
            let mut v: Vec<f64> = (0..n).map(|_| (rand::Rng::random_range(&mut rng, 0..40) as f64).exp()).collect();
            v.push(f64::NAN);
            assert_eq!(budgets(&v), budgets_by_sort(&v), "{n} values");
        }
    }

    #[test]
    fn bucketed_selection_matches_the_sort_on_skewed_and_extreme_values() {
        let mut rng = crate::space::seeded_rng(11);
        // Most values in one narrow cluster and a few far out (one bucket holds nearly all),
        // the extremes of the floats (a span too wide for buckets), signed zeros, and one value.
        let mut skewed: Vec<f64> = (0..5000).map(|_| 1.0 + rand::Rng::random_range(&mut rng, 0.0..1e-9)).collect();
        skewed.extend([1e6, -1e6, 3.0]);
        let extremes = vec![-f64::MAX, -3.5, -0.0, 0.0, 5e-324, 1.0, f64::MAX, 0.0, -0.0];
        // A span so narrow that the bucket width is not finite.
        let subnormal = vec![5e-324, 0.0, -0.0, 1e-323, 5e-324];
        for v in [skewed, extremes, subnormal, vec![2.5], vec![7.0; 120]] {
            let (by_buckets, by_sort) = (budgets(&v), budgets_by_sort(&v));
            let bits = |b: &[f64]| b.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&by_buckets), bits(&by_sort), "{} values", v.len());
        }
    }

    #[test]
    fn budgets_selected_among_logarithms_are_those_of_the_exponentials_bit_for_bit() {
        let mut rng = crate::space::seeded_rng(3);
        for n in [0, 1, 7, 50, 51, 999, 140_625] {
            // Log-latencies of 0.4 to 55 ms, a tenth of them repeated, and values whose
            // exponential is not finite.
            let mut ln: Vec<f64> = (0..n).map(|_| rand::Rng::random_range(&mut rng, -1.0..4.0_f64)).collect();
            ln.extend_from_within(..n / 10);
            ln.extend([f64::NAN, f64::INFINITY, 800.0]);
            let exps: Vec<f64> = ln.iter().map(|v| v.exp()).collect();
            let bits = |b: &[f64]| b.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&budgets_of_ln(&ln)), bits(&budgets(&exps)), "{n} values");
        }
    }

    use crate::data::bundled::bundle;
    use crate::SpaceId;

    #[test]
    fn budgets_are_the_quantiles() {
        let lat: Vec<f64> = (1..=100).map(|v| v as f64).collect();
        let b = budgets(&lat);
        assert_eq!(b.len(), REGRET_BUDGETS);
        assert_eq!((b[0], b[24], b[49]), (2.0, 50.0, 100.0));
        // Fewer values than budgets: every budget is one of them, the last the largest.
        let b = budgets(&[3.0, 1.0, 2.0]);
        assert_eq!((b[0], b[49]), (1.0, 3.0));
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
        assert!(budgets(&[f64::NAN]).is_empty());
    }

    #[test]
    fn best_within_counts_what_fits() {
        let b = [1.0, 2.0, 3.0];
        assert_eq!(best_within([(2.0, 70.0), (1.5, 60.0), (3.5, 99.0)], &b, 10.0), vec![10.0, 70.0, 70.0]);
    }

    #[test]
    fn the_true_front_has_no_regret_and_nothing_has_the_most() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let t = Truth::new(&b.latency, "pixel3", acc).unwrap();
        let col = b.latency.device_index("pixel3").unwrap();
        let space = b.latency.space().space();
        let front: Vec<(f64, f64)> = t
            .front
            .iter()
            .map(|s| {
                let a = space.parse(s).unwrap();
                (b.latency.latency(&a, col).unwrap(), acc.get(&a).unwrap())
            })
            .collect();
        assert_eq!(t.regret(front.iter().copied()), (0.0, 0.0));
        // Nothing found: every budget scores the space's lowest accuracy.
        let (mean, max) = t.regret(std::iter::empty());
        let expected = t.best.iter().map(|b| b - t.floor).sum::<f64>() / t.best.len() as f64;
        assert!((mean - expected).abs() < 1e-9 && max >= mean);
        // Dropping the front member that wins the tightest budget costs regret there.
        let winner = front.iter().copied().filter(|p| p.0 <= t.budgets[0]).fold((0.0, f64::NEG_INFINITY), |a, p| {
            if p.1 > a.1 {
                p
            } else {
                a
            }
        });
        let without: Vec<(f64, f64)> = front.iter().copied().filter(|p| *p != winner).collect();
        assert!(t.regret(without).0 > 0.0);
        // Random sets do worse with fewer draws, and the same seed gives the same figure.
        let (r20, r200) = (t.random_regret(20, 10, 1), t.random_regret(200, 10, 1));
        assert!(r20 > r200 && r200 > 0.0, "{r20} {r200}");
        assert_eq!(r20, t.random_regret(20, 10, 1));
    }
}
