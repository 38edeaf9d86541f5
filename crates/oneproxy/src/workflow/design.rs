//! Which architectures to measure next on the target: the sequential design.
//!
//! The flow is scored by regret per latency budget (see [`super::score`]): at each budget, how
//! much accuracy is lost by taking the best *measured* architecture that fits instead of the best
//! one overall. A measurement is therefore worth what it is expected to take off that regret.
//! With a predicted latency distribution for every candidate (log-normal around the calibrated
//! prediction, with the spread seen on the measurements so far), the expected reduction from
//! measuring `x` is, averaged over the budgets `b`,
//!
//! ```text
//! E[x] = mean_b  P(latency(x) <= b) * max(0, accuracy(x) - best measured accuracy within b)
//! ```
//!
//! (expected improvement, summed over budgets). The flow measures the candidates with the largest
//! `E` in small batches, refits its predictor between batches, and stops when the best candidate
//! is expected to lower the mean regret by less than a threshold. The budgets are the quantiles of
//! the *predicted* latencies, as a real device has no table to take them from.

use super::design_scan::{every_candidate_top, Pruned, Scan};
use super::nas::Design;
use super::score::{budgets_by_sort, budgets_of_ln_owned};
use crate::error::{Error, Result};

/// How [`LatencyModel::next_batch`] finds one pick: under a coverage, with the candidates
/// already taken, the candidate of largest gain and its gain (see [`super::design_scan`]).
type TopOf<'a> = dyn FnMut(&Coverage, &[bool]) -> Option<(usize, f64)> + 'a;

/// The designs by name, as a command line or a keyword gives them, with what each does.
pub const DESIGNS: [(&str, &str); 3] = [
    ("sequential", "Rounds by expected regret reduction, refitting between them"),
    ("layers", "The first predicted Pareto layers at once (the paper's flow)"),
    ("upfront", "Everything in one request, chosen before any target measurement (for a person measuring by hand)"),
];

impl Design {
    /// The sequential design with its default round size and stopping threshold: one candidate
    /// per round, so that every measurement is refitted on before the next pick (a surprise
    /// redirects the very next pick instead of a round of picks made on the old model; on
    /// `oneproxy run` it cut the spread over seeds from 0.022 to 0.006 points at the same
    /// measurement count), stopping below 0.007 points (docs/results/one-at-a-time).
    pub const SEQUENTIAL: Design = Design::Sequential { batch: 1, stop: 0.007 };

    /// The sequential design for a person measuring by hand, where every round is a request to
    /// fill: rounds of 5, stopping below 0.01 points (the default before rounds of one; on
    /// `oneproxy run` about 7 requests instead of 32, at 0.091 points of regret against 0.077).
    pub const BY_HAND: Design = Design::Sequential { batch: 5, stop: 0.01 };

    /// The upfront design with its default cap on the measurements (samples included), used
    /// when no `max_measurements` is given.
    pub const UPFRONT: Design = Design::Upfront { cap: 35 };

    /// The design called `name` (one of [`DESIGNS`]); a sequential one measures `batch`
    /// candidates per round and stops below `stop` ([`Design::SEQUENTIAL`]'s where `None`).
    /// The others take neither.
    pub fn named(name: &str, batch: Option<usize>, stop: Option<f64>) -> Result<Design> {
        match name {
            "sequential" => {
                let (b, s) = Design::sequential_defaults();
                Ok(Design::Sequential { batch: batch.unwrap_or(b), stop: stop.unwrap_or(s) })
            }
            "layers" => Ok(Design::Layers),
            "upfront" => Ok(Design::UPFRONT),
            other => {
                let known: Vec<&str> = DESIGNS.iter().map(|d| d.0).collect();
                Err(Error::bad_parameter(
                    "design",
                    format!("unknown design '{}'; known designs: {}", crate::error::clip(other), known.join(", ")),
                ))
            }
        }
    }

    /// Random samples the flow measures first where none are asked for. A sequential design
    /// of one candidate per round chooses the rest itself and refits on each, so a wrong first
    /// model costs one measurement: 3 samples suffice (the fewest a ranking can be compared
    /// on). With larger rounds a wrong first model wastes a whole round (on `oneproxy run`,
    /// rounds of 5 after 3 samples left edgegpu at 1.47 points, after 6 at 0.32); the layers
    /// design decides reuse and adapts on its samples alone (with 3, its regret on `run`'s
    /// targets went from 0.19 to 0.84 points), the upfront one asks for everything at once.
    /// Those keep 6.
    pub fn default_samples(self) -> usize {
        match self {
            Design::Sequential { batch: 1, .. } => 3,
            Design::Sequential { .. } | Design::Layers | Design::Upfront { .. } => 6,
        }
    }

    /// [`Design::SEQUENTIAL`]'s round size and stopping threshold.
    pub fn sequential_defaults() -> (usize, f64) {
        match Design::SEQUENTIAL {
            Design::Sequential { batch, stop } => (batch, stop),
            Design::Layers | Design::Upfront { .. } => unreachable!("Design::SEQUENTIAL is sequential"),
        }
    }
}

/// Smallest spread assumed for a prediction (log space, about 2%): even a perfect fit on the
/// measurements so far does not know the next architecture's latency to better than that.
pub const MIN_SIGMA: f64 = 0.05;

/// Predicted log-latency of every candidate, with a spread common to all of them and one of
/// each candidate's own.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyModel {
    /// ln(ms) per candidate.
    pub mu: Vec<f64>,
    /// Standard deviation of ln(ms) around `mu` that every candidate has: how far the
    /// measurements so far lie from the calibrated prediction.
    pub sigma: f64,
    /// Per candidate, a further standard deviation of ln(ms) (empty: none): how much the
    /// members of the prediction disagree about it, on the target's scale.
    pub own: Vec<f64>,
    /// The step the target reports its latencies in (ms; 0: continuous), see
    /// [`reporting_grid`]. A budget is then a reported value, and a latency fits it when it
    /// reports at or below it: when it is under the budget plus half a step.
    pub grid: f64,
}

impl LatencyModel {
    /// Calibrate `base` (a predicted or proxy latency per candidate, any positive unit) to the
    /// target: ln(target ms) = a + b ln(base), fitted by least squares on the `measured`
    /// (candidate index, target ms) pairs. The spread is the leave-one-out residual of that fit,
    /// at least `floor` (e.g. the adaptation's own cross-validated error: a root mean square
    /// relative to the mean measured latency) and [`MIN_SIGMA`].
    pub fn calibrate(base: &[f64], measured: &[(usize, f64)], floor: f64) -> Self {
        Self::calibrate_with_spread(base, &[], measured, floor)
    }

    /// [`LatencyModel::calibrate`], where `spread` gives per candidate the standard deviation
    /// of ln(base) among the predictors that `base` averages (empty: one predictor). It passes
    /// through the calibration's slope into each candidate's own spread, so the flow stays
    /// unsure where its members disagree, however well they fit the measurements.
    pub fn calibrate_with_spread(base: &[f64], spread: &[f64], measured: &[(usize, f64)], floor: f64) -> Self {
        Self::calibrate_with_spread_above(base, spread, measured, floor, MIN_SIGMA)
    }

    /// [`LatencyModel::calibrate_with_spread`] with `min_sigma` for [`MIN_SIGMA`]: for a base
    /// that is itself a measured device's latencies, whose calibration has already predicted
    /// the measured candidates, there is no model error for the floor to stand for.
    pub fn calibrate_with_spread_above(
        base: &[f64],
        spread: &[f64],
        measured: &[(usize, f64)],
        floor: f64,
        min_sigma: f64,
    ) -> Self {
        let pts: Vec<(f64, f64)> =
            measured.iter().filter(|(i, y)| base[*i] > 0.0 && *y > 0.0).map(|&(i, y)| (base[i].ln(), y.ln())).collect();
        let n = pts.len() as f64;
        let (a, b, sigma) = if pts.len() < 3 {
            // Too few points for a slope: shift only, with a wide spread.
            let shift = if pts.is_empty() { 0.0 } else { pts.iter().map(|(x, y)| y - x).sum::<f64>() / n };
            (shift, 1.0, 0.5)
        } else {
            let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
            let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
            let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
            let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
            // A base that does not vary (or ranks backwards) predicts nothing: the mean only.
            let b = if sxx > 0.0 { (sxy / sxx).max(0.0) } else { 0.0 };
            let a = my - b * mx;
            // Leave-one-out residuals of the line, e_i / (1 - h_i).
            let press: f64 = pts
                .iter()
                .map(|&(x, y)| {
                    let h = 1.0 / n + if sxx > 0.0 { (x - mx).powi(2) / sxx } else { 0.0 };
                    let e = y - (a + b * x);
                    (e / (1.0 - h).max(1e-3)).powi(2)
                })
                .sum();
            (a, b, (press / n).sqrt())
        };
        let mu = base.iter().map(|&v| if v > 0.0 { a + b * v.ln() } else { f64::NAN }).collect();
        let own = spread.iter().map(|s| b * s).collect();
        let grid = reporting_grid(measured.iter().map(|m| m.1));
        // The residuals and the floor (an adaptation's error on the same values) hold the
        // rounding of the reports; the model is of the latency before it, which the budgets on
        // the grid do themselves. The residuals are logs, so each value's share counts; the
        // floor is an error in milliseconds relative to their mean, so the mean's does.
        let (in_logs, in_mean) = if pts.is_empty() {
            (0.0, 0.0)
        } else {
            let ms: Vec<f64> = pts.iter().map(|p| p.1.exp()).collect();
            let in_logs = ms.iter().map(|&y| rounding_variance(grid, y)).sum::<f64>() / n;
            (in_logs, rounding_variance(grid, ms.iter().sum::<f64>() / n))
        };
        let beyond = |s: f64, rounding: f64| (s * s - rounding).max(0.0).sqrt();
        LatencyModel { mu, sigma: beyond(sigma, in_logs).max(beyond(floor, in_mean)).max(min_sigma), own, grid }
    }

    /// The model with every spread (common and own) multiplied by `factor`.
    pub fn widened(mut self, factor: f64) -> Self {
        self.sigma *= factor;
        self.own.iter_mut().for_each(|o| *o *= factor);
        self
    }

    /// The whole standard deviation of candidate `i`'s ln(ms): the common spread and its own.
    pub fn sigma_of(&self, i: usize) -> f64 {
        match self.own.get(i) {
            Some(o) => self.sigma.hypot(*o),
            None => self.sigma,
        }
    }

    /// The candidates to measure next: up to `batch` of those neither `measured` nor
    /// `unavailable` (the target could not measure them), in order of
    /// expected regret reduction (each assumed, once picked, to land at its prediction, so that
    /// one batch does not spend itself on a single budget). Empty when even the best one is
    /// expected to lower the mean regret by less than `stop` points.
    pub fn next_batch(
        &self,
        accuracy: &[f64],
        measured: &[(usize, f64)],
        unavailable: &[usize],
        batch: usize,
        stop: f64,
    ) -> Vec<usize> {
        match super::design_scan::scan() {
            Scan::Pruned => {
                // Every candidate's whole spread, once for the budgets and the bounds.
                let spread = self.spreads();
                let budgets = self.budgets_of(&spread);
                let mut spread = Some(spread);
                let mut pruned = None;
                self.pick(accuracy, measured, unavailable, batch, stop, budgets, &mut |cover, taken| {
                    pruned
                        .get_or_insert_with(|| {
                            Pruned::new(self, accuracy, cover, taken, spread.take().unwrap_or_else(|| self.spreads()))
                        })
                        .top(cover, taken)
                })
            }
            Scan::Every => self.next_batch_reference(accuracy, measured, unavailable, batch, stop),
        }
    }

    /// [`LatencyModel::next_batch`] as first written: every candidate scored for every pick,
    /// the budgets from a full sort. Kept as the reference that the pruned scan must match
    /// pick for pick, and as the baseline of the speed bench.
    pub fn next_batch_reference(
        &self,
        accuracy: &[f64],
        measured: &[(usize, f64)],
        unavailable: &[usize],
        batch: usize,
        stop: f64,
    ) -> Vec<usize> {
        let budgets = self.on_grid(budgets_by_sort(&self.budget_spread()));
        self.pick(accuracy, measured, unavailable, batch, stop, budgets, &mut |cover, taken| {
            every_candidate_top(self, accuracy, cover, taken)
        })
    }

    /// The batch loop of [`LatencyModel::next_batch`], with `top` finding the candidate of largest
    /// expected regret reduction under a coverage (ties: the lowest index), or none above 0.
    #[allow(clippy::too_many_arguments)]
    fn pick(
        &self,
        accuracy: &[f64],
        measured: &[(usize, f64)],
        unavailable: &[usize],
        batch: usize,
        stop: f64,
        budgets: Vec<f64>,
        top: &mut TopOf<'_>,
    ) -> Vec<usize> {
        if budgets.is_empty() || batch == 0 {
            return Vec::new();
        }
        let ln_budgets: Vec<f64> = budgets.iter().map(|b| b.ln()).collect();
        let floor = accuracy.iter().copied().fold(f64::INFINITY, f64::min);
        let mut points: Vec<(f64, f64)> = measured.iter().map(|&(i, y)| (y.ln(), accuracy[i])).collect();
        let mut taken = vec![false; accuracy.len()];
        for i in measured.iter().map(|m| m.0).chain(unavailable.iter().copied()) {
            taken[i] = true;
        }
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch {
            let cover = Coverage::new(&points, &ln_budgets, self.sigma, floor);
            match top(&cover, &taken) {
                Some((i, e)) if e >= stop => {
                    taken[i] = true;
                    out.push(i);
                    points.push((self.mu[i], accuracy[i]));
                }
                _ => break,
            }
        }
        out
    }

    /// The regret budgets as the flow sees them: quantiles of the predicted distribution of
    /// latencies over the candidates. True latencies spread around the predictions, so the
    /// fastest few percent of the truth are faster than the fastest few percent of the
    /// predictions: each prediction counts at the deciles of its own spread.
    pub fn budgets(&self) -> Vec<f64> {
        self.budgets_of(&self.spreads())
    }

    /// [`LatencyModel::budgets`] with every candidate's spread given.
    fn budgets_of(&self, spread: &[f64]) -> Vec<f64> {
        self.on_grid(budgets_of_ln_owned(self.budget_spread_ln_of(spread)))
    }

    /// `budgets` as latencies fit them on a target that reports on [`LatencyModel::grid`]:
    /// each budget is the reported value its quantile rounds to (a quantile of rounded values
    /// is the rounded quantile), and a latency reports within it when it lies below that value
    /// plus half a step. Unchanged on a continuous target.
    fn on_grid(&self, mut budgets: Vec<f64>) -> Vec<f64> {
        let r = self.grid;
        if r > 0.0 {
            budgets.iter_mut().for_each(|b| *b = ((*b / r).round().max(1.0) + 0.5) * r);
        }
        budgets
    }

    /// Every candidate's [`LatencyModel::sigma_of`].
    fn spreads(&self) -> Vec<f64> {
        (0..self.mu.len()).map(|i| self.sigma_of(i)).collect()
    }

    /// Every candidate's predicted latency at the deciles of its spread, that
    /// [`LatencyModel::budgets`] takes the quantiles of.
    fn budget_spread(&self) -> Vec<f64> {
        self.budget_spread_ln_of(&self.spreads()).into_iter().map(f64::exp).collect()
    }

    /// The logarithms of [`LatencyModel::budget_spread`]'s values with every candidate's spread
    /// given, which the budgets are selected among
    /// ([`budgets_of_ln`](super::score::budgets_of_ln)).
    fn budget_spread_ln_of(&self, spread: &[f64]) -> Vec<f64> {
        const Z: [f64; 9] = [-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816];
        let mut values = Vec::with_capacity(Z.len() * self.mu.len());
        for (&m, &s) in self.mu.iter().zip(spread).filter(|(m, _)| m.is_finite()) {
            values.extend(Z.iter().map(|z| m + z * s));
        }
        values
    }
}

/// What the measured architectures are expected to give at each budget, when a budget's true
/// position is itself uncertain: an architecture measured at `y` fits budget `b` with
/// probability `Phi((ln b - ln y) / tau)`, so one measured right at the edge of the fastest
/// budget counts half, and the flow keeps looking for a safer one. (Scored budgets are quantiles
/// of the *true* latencies, which the flow only estimates; at the fastest budgets a few percent
/// decide between the best accuracy and none.)
pub(crate) struct Coverage {
    /// Per budget: the measured points that may fit it, most accurate first, with
    /// `above[j]` = probability that none of the first `j` fits and `rest[j]` = the expected best
    /// accuracy of those from `j` on, given that none before `j` fits.
    pub(super) budgets: Vec<BudgetCover>,
    pub(super) ln_budgets: Vec<f64>,
}

pub(super) struct BudgetCover {
    pub(super) acc: Vec<f64>,
    pub(super) above: Vec<f64>,
    pub(super) rest: Vec<f64>,
}

impl Coverage {
    /// The coverage of `points` (ln ms, accuracy) at `ln_budgets`, a point fitting a budget
    /// with the probability its distance allows at spread `tau`; `floor`: nothing fits.
    pub(crate) fn new(points: &[(f64, f64)], ln_budgets: &[f64], tau: f64, floor: f64) -> Self {
        let mut sorted: Vec<(f64, f64)> = points.to_vec();
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        let budgets = ln_budgets
            .iter()
            .map(|&lb| {
                let fits: Vec<(f64, f64)> = sorted
                    .iter()
                    .map(|&(ly, a)| (normal_cdf((lb - ly) / tau), a))
                    .filter(|&(p, a)| p > 1e-9 && a > floor)
                    .collect();
                let n = fits.len();
                let mut above = vec![1.0; n + 1];
                for j in 0..n {
                    above[j + 1] = above[j] * (1.0 - fits[j].0);
                }
                let mut rest = vec![floor; n + 1];
                for j in (0..n).rev() {
                    rest[j] = fits[j].0 * fits[j].1 + (1.0 - fits[j].0) * rest[j + 1];
                }
                BudgetCover { acc: fits.iter().map(|f| f.1).collect(), above, rest }
            })
            .collect();
        Coverage { budgets, ln_budgets: ln_budgets.to_vec() }
    }

    /// Expected reduction of the mean regret from measuring an architecture of accuracy `acc`
    /// whose ln-latency is normal (`mu`, `spread`).
    pub(crate) fn gain(&self, mu: f64, spread: f64, acc: f64) -> f64 {
        // Budgets far below the prediction have no chance of fitting it.
        let start = self.ln_budgets.partition_point(|&b| b < mu - 6.0 * spread);
        let mut total = 0.0;
        for k in start..self.ln_budgets.len() {
            let c = &self.budgets[k];
            // Insert it among the measured by accuracy: it helps when none above it fits.
            let j = c.acc.partition_point(|&a| a > acc);
            let gain = c.above[j] * (acc - c.rest[j]);
            if gain > 0.0 {
                total += normal_cdf((self.ln_budgets[k] - mu) / spread) * gain;
            }
        }
        total / self.ln_budgets.len() as f64
    }
}

/// The step a target reports its latencies in, from what it reported (ms; 0: continuous or
/// too fine to matter). Phone benchmarks often print whole milliseconds: on a phone whose
/// fastest networks take 4 to 6 ms, one step is a sixth of the latency, every budget holds a
/// tie of cells reported alike, and a network truly at 6.4 ms fits a budget of 6. Found as the
/// coarsest power of ten that every value is a whole multiple of, once [`GRID_MIN_VALUES`]
/// values agree, and kept only when it is at least [`GRID_MIN_SHARE`] of the smallest value.
/// Powers of ten only: a step of 2 or 5 would be claimed by chance (three whole numbers are
/// all even one time in eight), and a claimed step too coarse misplaces every budget, where
/// one too fine only leaves the budgets nearly as they were.
pub fn reporting_grid(values: impl IntoIterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite() && *v > 0.0).collect();
    if values.len() < GRID_MIN_VALUES {
        return 0.0;
    }
    let smallest = values.iter().copied().fold(f64::INFINITY, f64::min);
    let on = |r: f64| values.iter().all(|v| ((v / r) - (v / r).round()).abs() <= 1e-6 * (v / r).max(1.0));
    (-6..=3).rev().map(|k| 10f64.powi(k)).find(|&r| r >= GRID_MIN_SHARE * smallest && on(r)).unwrap_or(0.0)
}

/// Variance of ln(ms) that reporting on a grid of `step` ms adds to a latency of `ms`: rounded to
/// the nearest step, the error is uniform over one step, (step / ms)^2 / 12 in log space while
/// the step is small against the value. 0 on a continuous target.
pub fn rounding_variance(step: f64, ms: f64) -> f64 {
    if step > 0.0 && ms > 0.0 {
        (step / ms).powi(2) / 12.0
    } else {
        0.0
    }
}

/// Fewest reported values that [`reporting_grid`] takes a grid from: the flow's samples.
pub const GRID_MIN_VALUES: usize = 3;

/// Smallest step, as a share of the smallest reported value, that [`reporting_grid`] keeps:
/// finer steps move no budget by more than the model's own spread floor could tell.
pub const GRID_MIN_SHARE: f64 = 0.01;

/// The standard normal distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile of `p` in (0, 1), by bisection on [`normal_cdf`] (to the last
/// bits: it is called a few times per evaluation, never in a loop over candidates).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rounds_of_one_start_from_three_samples_and_by_hand_rounds_are_larger() {
        assert_eq!(Design::default().default_samples(), 3);
        assert_eq!(Design::named("sequential", Some(5), None).unwrap().default_samples(), 6);
        assert_eq!(Design::Layers.default_samples(), 6);
        assert_eq!(Design::UPFRONT.default_samples(), 6);
        assert_eq!(crate::workflow::SampleSet::default().len(), Design::default().default_samples());
        match (Design::default(), Design::BY_HAND) {
            (Design::Sequential { batch: a, .. }, Design::Sequential { batch: b, .. }) => assert!(a < b),
            other => panic!("both are sequential: {other:?}"),
        }
    }

    #[test]
    fn calibration_recovers_a_power_law_and_its_spread() {
        // Target = 3 * base^0.8 exactly: a = ln 3, b = 0.8, no residual (spread at the floor).
        let base: Vec<f64> = (1..=40).map(|i| i as f64).collect();
        let measured: Vec<(usize, f64)> = (0..40).step_by(3).map(|i| (i, 3.0 * base[i].powf(0.8))).collect();
        let m = LatencyModel::calibrate(&base, &measured, 0.0);
        for (i, mu) in m.mu.iter().enumerate() {
            assert!((mu.exp() - 3.0 * base[i].powf(0.8)).abs() < 1e-9 * base[i].max(1.0) * 10.0);
        }
        assert_eq!(m.sigma, MIN_SIGMA);
        // Noise shows in the spread; the floor holds.
        let noisy: Vec<(usize, f64)> =
            measured.iter().enumerate().map(|(k, &(i, y))| (i, y * if k % 2 == 0 { 1.2 } else { 0.8 })).collect();
        assert!(LatencyModel::calibrate(&base, &noisy, 0.0).sigma > 0.1);
        assert_eq!(LatencyModel::calibrate(&base, &measured, 0.3).sigma, 0.3);
    }

    #[test]
    fn members_disagreeing_widen_their_candidates_and_lower_the_fast_budgets() {
        // Target = 2 * base exactly on the measured: the common spread is at the floor.
        let base: Vec<f64> = (1..=200).map(|i| i as f64).collect();
        let measured: Vec<(usize, f64)> = (50..200).step_by(10).map(|i| (i, 2.0 * base[i])).collect();
        let agreed = LatencyModel::calibrate(&base, &measured, 0.0);
        // The members disagree about the ten fastest candidates only.
        let spread: Vec<f64> = (0..200).map(|i| if i < 10 { 0.5 } else { 0.0 }).collect();
        let unsure = LatencyModel::calibrate_with_spread(&base, &spread, &measured, 0.0);
        assert_eq!(unsure.mu, agreed.mu);
        assert_eq!(unsure.sigma, agreed.sigma);
        assert!((unsure.sigma_of(0) - agreed.sigma.hypot(0.5)).abs() < 1e-9, "slope 1 passes the spread as is");
        assert_eq!(unsure.sigma_of(100), agreed.sigma);
        // Fast candidates that may be much faster than predicted pull the fastest budget down;
        // the slow end does not move.
        let (a, u) = (agreed.budgets(), unsure.budgets());
        assert!(u[0] < a[0], "fastest budget {} not below {}", u[0], a[0]);
        assert!((u[49] - a[49]).abs() < 1e-9);
    }

    #[test]
    fn the_batch_goes_where_regret_can_fall() {
        // Four candidates: a fast weak one, a fast strong one, a slow strong one, a slow weak
        // one. Nothing measured: the fast strong one covers the most budgets best.
        let model = LatencyModel {
            mu: vec![1.0f64.ln(), 1.0f64.ln(), 10.0f64.ln(), 10.0f64.ln()],
            sigma: 0.05,
            own: Vec::new(),
            grid: 0.0,
        };
        let acc = [50.0, 70.0, 80.0, 40.0];
        let first = model.next_batch(&acc, &[], &[], 1, 0.0);
        assert_eq!(first, vec![1]);
        // With it measured, the slow strong one is next. The fast weak one may follow: the fast
        // strong one sits right at the tightest budgets, which it covers only with some
        // probability. The least accurate one never comes (it cannot beat the floor).
        let next = model.next_batch(&acc, &[(1, 1.0)], &[], 4, 0.0);
        assert_eq!(next[0], 2);
        assert!(!next.contains(&3) && !next.contains(&1));
        // A fast strong one measured well inside the tightest budget leaves the weak one
        // worthless; then nothing is worth a measurement.
        assert!(!model.next_batch(&acc, &[(1, 0.5), (2, 10.0)], &[], 4, 0.0).contains(&0));
        assert!(model.next_batch(&acc, &[(0, 1.0), (1, 0.5), (2, 10.0)], &[], 4, 0.0).is_empty());
        assert!(model.next_batch(&acc, &[], &[], 0, 0.0).is_empty());
        // What the target could not measure is never proposed again: the next best comes.
        assert_eq!(model.next_batch(&acc, &[], &[1], 1, 0.0), vec![2]);
    }

    #[test]
    fn a_target_reporting_whole_milliseconds_has_a_grid_of_one() {
        assert_eq!(reporting_grid([9.0, 14.0, 6.0, 23.0]), 1.0);
        // Medians of an even number of whole-millisecond runs end in .5.
        assert_eq!(reporting_grid([9.0, 14.5, 6.0]), 0.1);
        assert_eq!(reporting_grid([0.25, 0.5, 0.75]), 0.01);
        // Continuous values, too few values, or a step too fine to matter: no grid.
        assert_eq!(reporting_grid([3.60585, 10.482, 7.52681]), 0.0);
        assert_eq!(reporting_grid([9.0, 14.0]), 0.0);
        assert_eq!(reporting_grid([312.0, 451.0, 1210.0]), 0.0);
        // Values that are not positive numbers say nothing.
        assert_eq!(reporting_grid([9.0, f64::NAN, 0.0, 14.0]), 0.0);
    }

    #[test]
    fn on_a_grid_a_budget_is_a_reported_value_and_fits_up_to_half_a_step_above() {
        let base: Vec<f64> = (1..=60).map(|i| i as f64).collect();
        let whole: Vec<(usize, f64)> = (0..60).step_by(4).map(|i| (i, (base[i] * 1.3).round())).collect();
        let model = LatencyModel::calibrate(&base, &whole, 0.0);
        assert_eq!(model.grid, 1.0);
        let continuous = LatencyModel { grid: 0.0, ..model.clone() };
        for (on, off) in model.budgets().iter().zip(continuous.budgets()) {
            // The reported value the continuous budget rounds to, plus half a step.
            assert_eq!(*on, off.round().max(1.0) + 0.5, "{off}");
        }
        // A measurement reported at a budget's value fits it: measured at 6 with a budget of
        // 6, it covers the budget nearly surely, where without the grid it would count half.
        let cover = Coverage::new(&[(6f64.ln(), 70.0)], &[6.5f64.ln()], 0.05, 0.0);
        assert!(cover.budgets[0].above[1] < 0.06, "{}", cover.budgets[0].above[1]);
    }

    #[test]
    fn the_rounding_of_whole_millisecond_reports_is_not_taken_for_model_error() {
        // Half a step either way at 6 ms: uniform over one step, (1/6)^2 / 12 in log space.
        assert!((rounding_variance(1.0, 6.0) - 1.0 / 432.0).abs() < 1e-15);
        assert_eq!(rounding_variance(0.0, 6.0), 0.0);
        // The same fit, its error floor (an adaptation's error on the same reports) 0.1: the
        // whole-millisecond reports of a fast device owe part of it to their rounding, values
        // between the steps owe none of it.
        let base: Vec<f64> = (0..40).map(|i| 4.0 + 0.25 * i as f64).collect();
        let whole: Vec<(usize, f64)> = (0..40).step_by(3).map(|i| (i, (base[i] * 1.3).round())).collect();
        let between: Vec<(usize, f64)> = whole.iter().map(|&(i, y)| (i, y + 0.013)).collect();
        let on_grid = LatencyModel::calibrate_with_spread_above(&base, &[], &whole, 0.1, 1e-3);
        let off_grid = LatencyModel::calibrate_with_spread_above(&base, &[], &between, 0.1, 1e-3);
        assert_eq!((on_grid.grid, off_grid.grid), (1.0, 0.0));
        assert!((off_grid.sigma - 0.1).abs() < 1e-12, "{}", off_grid.sigma);
        // The floor is relative to the mean latency: the rounding's share at the mean comes off.
        let mean = whole.iter().map(|m| m.1).sum::<f64>() / whole.len() as f64;
        assert!((on_grid.sigma - (0.01 - rounding_variance(1.0, mean)).sqrt()).abs() < 1e-12, "{}", on_grid.sigma);
        assert!(on_grid.sigma < 0.099);
    }

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        assert!(normal_quantile(0.5).abs() < 1e-12);
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-9);
        assert!((normal_quantile(0.9) - 1.2815515655446004).abs() < 1e-9);
    }

    #[test]
    fn normal_cdf_is_the_normal_cdf() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_cdf(1.959963984540054) - 0.975).abs() < 1e-12);
        assert!(normal_cdf(-40.0) >= 0.0 && normal_cdf(40.0) <= 1.0);
    }
}
