//! How the sequential design ([`super::design`]) finds the candidate to measure next, the one
//! of largest expected regret reduction, without scoring all of them at every pick.
//!
//! Scoring one candidate takes a normal distribution function per budget; the space has
//! thousands of candidates and a run makes hundreds of picks, so scoring every candidate each
//! time ([`Scan::Every`]) is where a run spent most of its time. [`Scan::Pruned`] returns the
//! very same pick (largest gain, ties to the lowest index, none unless above 0) from two facts:
//!
//! * a cheap **upper bound** on each candidate's gain: per budget, the improvement it would
//!   bring if it fitted does not depend on its latency, and the probability that it fits is
//!   bounded by the normal distribution at the top of its band of spreads from the prediction,
//!   the improvements of a band summed at once (and, for the few candidates that bound leaves
//!   in the running, by a table of the distribution read at the next grid point up);
//! * **gains only fall within a batch**: each pick joins the measured points, and a candidate's
//!   gain is the expected amount by which it beats the best of them that fits, which can only
//!   fall when one more may fit. A gain scored for an earlier pick bounds it for the later ones.
//!
//! Candidates are then scored exactly, best bound first, until no bound left reaches the best
//! exact gain found: what is skipped cannot win, or tie with a lower index. Every bound carries
//! a margin far above the rounding of the exact scores, so rounding cannot reorder a pick.

use super::design::{normal_cdf, Coverage, LatencyModel};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// How [`LatencyModel::next_batch`] finds each pick. Both give the same batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Bounds first, exact scores only where a bound could still win (the default).
    Pruned,
    /// Every candidate scored exactly for every pick, the budgets from a full sort
    /// ([`LatencyModel::next_batch_reference`]): the reference and the speed bench's baseline.
    Every,
}

static EVERY: AtomicBool = AtomicBool::new(false);

/// Make every later [`LatencyModel::next_batch`] of this process scan as `scan` says. Only the
/// speed bench needs this: the two scans pick alike, one is just slower.
pub fn set_scan(scan: Scan) {
    EVERY.store(scan == Scan::Every, Ordering::Relaxed);
}

/// The scan in use ([`Scan::Pruned`] unless [`set_scan`] said otherwise).
pub fn scan() -> Scan {
    if EVERY.load(Ordering::Relaxed) {
        Scan::Every
    } else {
        Scan::Pruned
    }
}

/// Whether candidate `i` may be picked at all.
fn eligible(model: &LatencyModel, taken: &[bool], i: usize) -> bool {
    !taken[i] && model.mu[i].is_finite()
}

/// The pick of [`Scan::Every`]: every candidate not `taken` scored under `cover`.
pub(crate) fn every_candidate_top(
    model: &LatencyModel,
    accuracy: &[f64],
    cover: &Coverage,
    taken: &[bool],
) -> Option<(usize, f64)> {
    let mut top: Option<(usize, f64)> = None;
    for i in (0..accuracy.len()).filter(|&i| eligible(model, taken, i)) {
        let e = cover.gain(model.mu[i], model.sigma_of(i), accuracy[i]);
        if e > 0.0 && top.is_none_or(|t| e > t.1) {
            top = Some((i, e));
        }
    }
    top
}

/// An upper bound on a candidate's gain under the current coverage.
#[derive(Debug, Clone, Copy)]
struct Bound {
    value: f64,
    index: usize,
    level: Level,
}

/// How a [`Bound`] was found, from the cheapest to the tightest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The budgets in bands of its spread, each at the band's highest probability
    /// ([`Segments::banded`]).
    Banded,
    /// The probabilities near its prediction bounded by the table ([`Segments::fine`]).
    Fine,
    /// Its exact gain under an earlier coverage of the batch.
    Scored,
}

impl PartialEq for Bound {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    /// Larger bound first; among equal ones the lower index, as the full scan prefers it.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.total_cmp(&other.value).then(other.index.cmp(&self.index))
    }
}

/// A bound after an exact score `e`: with room for the rounding of the next exact score,
/// which may be computed on slightly different sums (a few units of 1e-13 at most).
fn above_score(e: f64) -> f64 {
    e + 1e-9 * e.abs() + 1e-10
}

/// The pick of [`Scan::Pruned`] for one batch: the bounds of every candidate, refined to
/// exact scores as picks need them. Valid for one batch only: the coverages it is asked about
/// must each add points to the one it was built with.
pub(crate) struct Pruned<'m> {
    model: &'m LatencyModel,
    accuracy: &'m [f64],
    /// Per candidate, its whole spread ([`LatencyModel::sigma_of`]).
    spread: Vec<f64>,
    /// The coverage of the batch's first pick, arranged for bounds (valid for every later
    /// coverage of the batch, under which gains are only lower).
    segments: Segments,
    /// Bounds of the candidates not picked yet (a pick's own stays until it is popped).
    bounds: BinaryHeap<Bound>,
}

impl<'m> Pruned<'m> {
    /// Bound every candidate not `taken` under `cover`, the coverage of the batch's first pick
    /// (by bands: most are never looked at again).
    /// `spread`: every candidate's [`LatencyModel::sigma_of`].
    pub(crate) fn new(
        model: &'m LatencyModel,
        accuracy: &'m [f64],
        cover: &Coverage,
        taken: &[bool],
        spread: Vec<f64>,
    ) -> Self {
        debug_assert_eq!(spread.len(), accuracy.len());
        let segments = Segments::new(cover);
        let bounds = (0..accuracy.len())
            .filter(|&i| eligible(model, taken, i))
            .map(|i| Bound {
                value: segments.banded(model.mu[i], spread[i], accuracy[i]),
                index: i,
                level: Level::Banded,
            })
            .collect();
        Pruned { model, accuracy, spread, segments, bounds }
    }

    /// The candidate of largest gain under `cover` and its gain, ties to the lowest index, none
    /// unless some gain is above 0: what [`every_candidate_top`] returns.
    pub(crate) fn top(&mut self, cover: &Coverage, taken: &[bool]) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        let mut scored = Vec::new();
        while let Some(b) = self.bounds.peek() {
            let cannot_win = match best {
                Some((_, e)) => b.value < e,
                None => b.value <= 0.0,
            };
            if cannot_win {
                break;
            }
            let (i, level) = (b.index, b.level);
            self.bounds.pop();
            if taken[i] {
                continue;
            }
            let (mu, spread, acc) = (self.model.mu[i], self.spread[i], self.accuracy[i]);
            if level == Level::Banded {
                self.bounds.push(Bound { value: self.segments.fine(mu, spread, acc), index: i, level: Level::Fine });
                continue;
            }
            let e = cover.gain(self.model.mu[i], self.spread[i], self.accuracy[i]);
            if e > 0.0 && best.is_none_or(|(j, t)| e > t || (e == t && i < j)) {
                best = Some((i, e));
            }
            scored.push(Bound { value: above_score(e), index: i, level: Level::Scored });
        }
        self.bounds.extend(scored);
        best
    }
}

/// Budgets at or beyond this many spreads above a candidate's prediction count with
/// probability 1 in its bound (the truth there is above 0.998).
const CERTAIN: f64 = 3.0;

/// The coverage rearranged for bounds: the measured accuracies split the accuracy axis into
/// segments, and within one segment every budget's insertion point is the same, so its
/// improvement is `above * (acc - rest)` with fixed factors.
struct Segments {
    /// The coverage's ln budgets.
    ln_budgets: Vec<f64>,
    /// Distinct accuracies of the points that may fit some budget, descending.
    cuts: Vec<f64>,
    /// Per segment (`cuts` above the candidate's accuracy) and budget: `above` and `rest` at
    /// the insertion point (`budgets` entries per segment).
    above: Vec<f64>,
    rest: Vec<f64>,
    /// Per segment, suffix sums over budgets from each one on (`budgets + 1` entries per
    /// segment): of `above`, and of `above * rest`.
    above_from: Vec<f64>,
    weighted_from: Vec<f64>,
}

impl Segments {
    fn new(cover: &Coverage) -> Self {
        let mut cuts: Vec<f64> = cover.budgets.iter().flat_map(|c| c.acc.iter().copied()).collect();
        cuts.sort_by(|a, b| b.total_cmp(a));
        cuts.dedup();
        let k = cover.ln_budgets.len();
        let segments = cuts.len() + 1;
        let (mut above, mut rest) = (Vec::with_capacity(segments * k), Vec::with_capacity(segments * k));
        let (mut above_from, mut weighted_from) = (vec![0.0; segments * (k + 1)], vec![0.0; segments * (k + 1)]);
        for g in 0..segments {
            for c in &cover.budgets {
                // The measured points above any accuracy of this segment: those at or above
                // the lowest cut above it.
                let j = if g == 0 { 0 } else { c.acc.partition_point(|&a| a >= cuts[g - 1]) };
                above.push(c.above[j]);
                rest.push(c.rest[j]);
            }
            let row = g * (k + 1);
            for b in (0..k).rev() {
                let (a, r) = (above[g * k + b], rest[g * k + b]);
                above_from[row + b] = above_from[row + b + 1] + a;
                weighted_from[row + b] = weighted_from[row + b + 1] + a * r;
            }
        }
        Segments { ln_budgets: cover.ln_budgets.clone(), cuts, above, rest, above_from, weighted_from }
    }

    /// The segment of accuracy `acc` and the first budget a candidate predicted at `mu` with
    /// `spread` is scored on (the same as [`Coverage::gain`]'s).
    fn place(&self, mu: f64, spread: f64, acc: f64) -> (usize, usize) {
        let g = self.cuts.partition_point(|&c| c > acc);
        (g, self.ln_budgets.partition_point(|&b| b < mu - 6.0 * spread))
    }

    /// An upper bound on [`Coverage::gain`]`(mu, spread, acc)` for a few searches: the budgets
    /// split into bands by how many spreads they lie from the prediction ([`BANDS`]), each
    /// band's improvements summed at once (suffix sums) and weighed by the probability of
    /// fitting its highest budget, the last band (at and above the prediction) counted as
    /// certain. Why bands: with every budget from the first scored counted as certain, a third
    /// of NB201's candidates had bounds above the best gain at each pick of the main job, and
    /// tightening them one by one cost a fifth of its time; with the bands, few do.
    fn banded(&self, mu: f64, spread: f64, acc: f64) -> f64 {
        let lb = &self.ln_budgets;
        let k = lb.len();
        let (g, start) = self.place(mu, spread, acc);
        let row = g * (k + 1);
        let (above_from, weighted_from) = (&self.above_from[row..row + k + 1], &self.weighted_from[row..row + k + 1]);
        let improvement = |from: usize, to: usize| {
            (acc * (above_from[from] - above_from[to]) - (weighted_from[from] - weighted_from[to])).max(0.0)
        };
        let (mut total, mut from) = (0.0, start);
        for &(z, p) in band_probabilities() {
            let to = lb.partition_point(|&b| b < mu + z * spread).max(from);
            total += p * improvement(from, to);
            from = to;
        }
        total += improvement(from, k);
        // The differences of suffix sums round like the sums: a margin on the whole of them.
        let margin = 1e-9 * (1.0 + acc.abs() * above_from[start] + weighted_from[start].abs() + total);
        above_score((total + margin) / k as f64)
    }

    /// An upper bound on [`Coverage::gain`]`(mu, spread, acc)` with the probability of fitting
    /// each budget near the prediction bounded by the table. (The distance to a budget is taken
    /// times the inverse spread rather than divided by it: the rounding this changes is far
    /// inside the margin.)
    fn fine(&self, mu: f64, spread: f64, acc: f64) -> f64 {
        let lb = &self.ln_budgets;
        let k = lb.len();
        let (g, start) = self.place(mu, spread, acc);
        let certain = lb.partition_point(|&b| b < mu + CERTAIN * spread).max(start);
        let (above, rest) = (&self.above[g * k..(g + 1) * k], &self.rest[g * k..(g + 1) * k]);
        let inverse = 1.0 / spread;
        let mut near = 0.0;
        for b in start..certain {
            let gain = above[b] * (acc - rest[b]);
            if gain > 0.0 {
                near += phi_at_or_above((lb[b] - mu) * inverse) * gain;
            }
        }
        self.finish(g, certain, acc, near)
    }

    /// The bound of `near` (the budgets before `from`) and every budget from `from` on counted
    /// as certain: their `above * (acc - rest)` summed at once (each at least 0 but for
    /// rounding, which the margin covers), averaged over the budgets, with the margin.
    fn finish(&self, g: usize, from: usize, acc: f64, near: f64) -> f64 {
        let k = self.ln_budgets.len();
        let row = g * (k + 1) + from;
        let (sum_above, sum_weighted) = (self.above_from[row], self.weighted_from[row]);
        let total = near + (acc * sum_above - sum_weighted).max(0.0);
        let margin = 1e-9 * (1.0 + acc.abs() * sum_above + sum_weighted.abs() + total);
        above_score((total + margin) / k as f64)
    }
}

/// The bands of [`Segments::banded`]: budgets below `mu + z * spread` (and above the band
/// before) fit with probability below the normal distribution at `z`.
const BANDS: [f64; 3] = [-2.5, -1.0, 0.0];

/// [`BANDS`] with the normal distribution at each, a little above it so that the rounding of
/// the distribution function cannot bring a budget's probability over its band's.
fn band_probabilities() -> &'static [(f64, f64)] {
    static TABLE: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    TABLE.get_or_init(|| BANDS.iter().map(|&z| (z, normal_cdf(z) * (1.0 + 1e-12))).collect())
}

/// Grid of the table of [`phi_at_or_above`]: points per unit of z, and the lowest z.
const STEPS: f64 = 16.0;
const LOWEST: f64 = -9.0;

/// The normal distribution function at `LOWEST + m / STEPS`, up to `-LOWEST`.
fn phi_table() -> &'static [f64] {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let n = (-2.0 * LOWEST * STEPS) as usize;
        (0..=n).map(|m| normal_cdf(LOWEST + m as f64 / STEPS)).collect()
    })
}

/// At least [`normal_cdf`]`(z)`: its value at the next grid point up (1 beyond the grid).
fn phi_at_or_above(z: f64) -> f64 {
    let table = phi_table();
    let x = (z - LOWEST) * STEPS;
    // Beyond the grid, or not a number: 1 bounds every probability.
    if x.is_nan() || x >= (table.len() - 1) as f64 {
        return 1.0;
    }
    table[x.ceil().max(0.0) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::seeded_rng;
    use rand::Rng;

    #[test]
    fn the_table_never_reads_below_the_normal_distribution() {
        for m in 0..=40_000 {
            let z = -10.0 + m as f64 * 0.0005;
            assert!(phi_at_or_above(z) >= normal_cdf(z), "z = {z}");
        }
        assert_eq!(phi_at_or_above(f64::NAN), 1.0);
    }

    /// A model, the accuracies, the measured (candidate, ms) and the unavailable candidates.
    type Case = (LatencyModel, Vec<f64>, Vec<(usize, f64)>, Vec<usize>);

    /// A model of `n` candidates with random predictions, spreads and accuracies, some points
    /// measured, and ties in accuracy (the space has many).
    fn random_case(seed: u64, n: usize) -> Case {
        let mut rng = seeded_rng(seed);
        let mu: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..3.0)).collect();
        let own: Vec<f64> =
            if seed.is_multiple_of(2) { (0..n).map(|_| rng.random_range(0.0..0.3)).collect() } else { vec![] };
        let accuracy: Vec<f64> =
            mu.iter().map(|m| (40.0 + 10.0 * m + rng.random_range(0.0..20.0_f64)).round()).collect();
        let measured: Vec<(usize, f64)> =
            (0..(seed as usize % 7) * 3).map(|_| rng.random_range(0..n)).map(|i| (i, mu[i].exp() * 1.1)).collect();
        let mut measured_once = Vec::new();
        for m in measured {
            if !measured_once.iter().any(|x: &(usize, f64)| x.0 == m.0) {
                measured_once.push(m);
            }
        }
        let unavailable =
            vec![rng.random_range(0..n)].into_iter().filter(|u| !measured_once.iter().any(|m| m.0 == *u)).collect();
        let sigma = rng.random_range(0.05..0.4);
        // Every third case reports on a grid of half a millisecond: budgets on reported values.
        let grid = if seed % 3 == 1 { 0.5 } else { 0.0 };
        (LatencyModel { mu, sigma, own, grid }, accuracy, measured_once, unavailable)
    }

    #[test]
    fn pruned_batches_are_the_reference_batches() {
        for seed in 0..24 {
            let (model, acc, measured, unavailable) = random_case(seed, 600);
            for (batch, stop) in [(5, 0.0), (8, 0.01), (1, 0.0), (3, 0.5)] {
                let fast = model.next_batch(&acc, &measured, &unavailable, batch, stop);
                let slow = model.next_batch_reference(&acc, &measured, &unavailable, batch, stop);
                assert_eq!(fast, slow, "seed {seed}, batch {batch}, stop {stop}");
            }
        }
    }

    #[test]
    fn bounds_hold_over_every_candidate() {
        for seed in 0..8 {
            let (model, acc, measured, _) = random_case(seed, 300);
            let lb: Vec<f64> = model.budgets().iter().map(|b| b.ln()).collect();
            let floor = acc.iter().copied().fold(f64::INFINITY, f64::min);
            let points: Vec<(f64, f64)> = measured.iter().map(|&(i, y)| (y.ln(), acc[i])).collect();
            let cover = Coverage::new(&points, &lb, model.sigma, floor);
            let segments = Segments::new(&cover);
            for (i, &a) in acc.iter().enumerate() {
                let (m, s) = (model.mu[i], model.sigma_of(i));
                let exact = cover.gain(m, s, a);
                assert!(segments.fine(m, s, a) >= exact, "seed {seed}, candidate {i}");
                assert!(segments.banded(m, s, a) >= exact, "seed {seed}, candidate {i}");
            }
        }
    }

    /// On the bundled space: the proxy's latencies calibrated to a target from a few of its
    /// measurements, as the flow's first rounds see them.
    #[test]
    fn pruned_batches_are_the_reference_batches_on_the_bundled_space() {
        let b = crate::data::bundled::bundle(crate::SpaceId::Nb201).unwrap();
        let acc_table = b.accuracy("cifar100").unwrap();
        let t = &b.latency;
        let archs: Vec<_> = t.archs().iter().filter(|a| acc_table.get(a).is_some()).cloned().collect();
        let accuracy: Vec<f64> = archs.iter().map(|a| acc_table.get(a).unwrap()).collect();
        let column = |device: &str| {
            let c = t.device_index(device).unwrap();
            archs.iter().map(|a| t.latency(a, c).unwrap_or(f64::NAN)).collect::<Vec<f64>>()
        };
        let base = column("pixel3");
        // pixel2 reports whole milliseconds, so its model reads budgets on that grid.
        for (target, seed) in [("raspi4", 1), ("titan_rtx_32", 2), ("eyeriss", 3), ("pixel2", 4)] {
            let truth = column(target);
            let mut rng = seeded_rng(seed);
            let measured: Vec<(usize, f64)> = rand::seq::index::sample(&mut rng, archs.len(), 12)
                .into_iter()
                .filter(|&i| truth[i].is_finite())
                .map(|i| (i, truth[i]))
                .collect();
            let model = LatencyModel::calibrate(&base, &measured, 0.0);
            assert_eq!(model.grid > 0.0, target == "pixel2", "{target}: grid {}", model.grid);
            let fast = model.next_batch(&accuracy, &measured, &[], 5, 0.01);
            assert!(!fast.is_empty(), "{target}: a batch is expected");
            assert_eq!(fast, model.next_batch_reference(&accuracy, &measured, &[], 5, 0.01), "{target}");
        }
    }
}
