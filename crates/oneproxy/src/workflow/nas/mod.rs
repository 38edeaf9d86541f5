//! The one-proxy NAS flow for one target, driven by a measurement oracle.
//!
//! 1. Measure a few sample architectures on the target and compute the Spearman correlation
//!    between each candidate proxy's latencies and the target's on them; the best proxy wins
//!    (a tie, common on a few samples, goes to the best Pearson correlation of log latencies);
//!    the outcome lists the runner-ups and any tie, so the choice shows how sure it was.
//! 2. If it reaches the threshold (0.9), **reuse** the proxy's latencies; otherwise **adapt**
//!    the proxy's predictor (AdaProxy), measuring more samples while the cross-validated
//!    Spearman stays below the threshold and the budget allows.
//! 3. Measure candidates on the target and keep what is non-dominated under the *measured*
//!    latencies (the samples join it), so that picks under a latency constraint rely on
//!    measurements, not predictions. By default ([`Design::Sequential`]) candidates are
//!    measured in small batches chosen by expected regret reduction ([`super::design`]), the
//!    predictor refitted between batches (a reused proxy too: its latencies choose the first
//!    batch, then refits on its measurements take over, `refitted` in the outcome; keeping the
//!    proxy's latencies instead doubled the mean regret, docs/results/decisions), until another
//!    batch is not expected to help; the
//!    paper's way ([`Design::Layers`]) measures the first Pareto layers of the prediction at once;
//!    for a person measuring by hand, [`Design::Upfront`] asks for the samples and the
//!    candidates in one request, chosen before any target measurement.
//!
//! 4. Unless the oracle is exact (a recorded table), measure the front again before reporting
//!    it, with measured candidates whose value is in doubt; each front value is then the median
//!    of its values ([`Remeasure`], `remeasure.rs`).
//!
//! A final predictor whose cross-validated Spearman is low earns a warning in the outcome.
//!
//! Every architecture is measured at most once and every measurement is counted (the
//! re-measurements of step 4 apart, counted as `remeasurements`). Scoring
//! against a full table is separate ([`super::score`]): a real device has no truth to score.
//!
//! Layout: the steps of a run (`steps.rs`); the designs behind [`CandidateDesign`], registered
//! in [`design_for`] (`candidates.rs`), one module each ([`Sequential`], [`Layers`]); the
//! ledger (`ledger.rs`), which asks for each architecture once and writes every answer to the
//! oracle's log when it keeps one, repeats too; what is in doubt and how repeats combine
//! (`remeasure.rs`). The settings and result types stay here.

mod candidates;
mod layers;
mod ledger;
mod remeasure;
mod sequential;
mod steps;
mod upfront;

pub use candidates::{design_for, CandidateDesign, DesignView, UpfrontView};
pub use layers::{pareto_layers, Layers};
pub use remeasure::Remeasure;
pub use sequential::Sequential;
pub use upfront::{coverage_order, Upfront};

use super::oracle::TargetOracle;
use super::samples::{target_seed, SampleSet};
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::predictor::{AdaptParams, ProxyPool, ProxySelection};
use crate::space::Arch;
use serde::{Deserialize, Serialize};

/// Settings of the flow (checked by [`NasConfig::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NasConfig {
    /// The proxy, or the pool it is chosen from.
    pub proxy: ProxySelection,
    /// The first architectures measured on the target.
    pub samples: SampleSet,
    /// Spearman on the samples at or above which the proxy is reused as is.
    pub threshold: f64,
    /// Most target samples measured for the adaptation (the candidate set comes on top).
    pub max_samples: usize,
    /// Most target measurements in all (samples, adaptation and candidates); `None`: no bound.
    pub max_measurements: Option<usize>,
    /// Pareto layers of the predicted front measured in step 3 (1 = the front only; 2 adds
    /// the front of what is left). Predictions are imperfect near the front, so a second
    /// layer buys a closer match to the target's true front for a few more measurements.
    pub layers: usize,
    /// Latency constraints, target milliseconds: the best measured architecture within each.
    pub constraints: Vec<f64>,
    /// AdaProxy settings.
    pub adapt: AdaptParams,
    /// Seed; each target's stream is derived from it and the target's name.
    pub seed: u64,
    /// How the candidates are chosen for measurement after the decision.
    pub design: Design,
    /// Whether the proxy may be reused as is (`false`: always adapt, the `always-adapt` baseline).
    pub reuse: bool,
    /// Most architectures that may fail to measure (the device cannot run them) before the
    /// flow gives up; each failure is logged and replaced by another architecture.
    pub max_failures: usize,
    /// Whether the final front is measured again before it is reported ([`Remeasure`]).
    pub remeasure: Remeasure,
    /// The regret (accuracy points) the user accepts: the sequential design also stops once
    /// the flow's own estimate of what is left to gain ([`crate::workflow::RemainingRegret`])
    /// has its 80% bound at or below it, every budget it believes populated holding a measured
    /// pick. `None`: only the design's own rule (`stop`) ends it.
    pub stop_regret: Option<f64>,
    /// Announce ([`FlowEvent::Confident`]) the first round at which the flow's estimate of the
    /// regret it leaves has its 80% bound at or below this many points, with its model then: a
    /// fleet lets such a device join the pools of the devices that start after it before it
    /// ends. `None`: never announced.
    pub confident_at: Option<f64>,
    /// Fewest candidates the sequential design measures, each predicted before it is measured,
    /// before its own rule (`stop`) may end it ([`MIN_CHECKS`] by default; 0: no floor).
    ///
    /// Why: the flow's confidence is its model's, and the model is only checked on the
    /// candidates it predicted before measuring them. A device unlike the pool looks well
    /// predicted after a dozen: on the bundled edge devices (1,999 cells) the design stopped
    /// after 16 measurements believing 0.01-0.05 points were left, with 0.055-0.09 truly left,
    /// and on each device left out a fast-end miss cost 1.43 points
    /// (docs/results/one-at-a-time).
    pub min_checks: usize,
}

/// Candidates the sequential design measures before it may stop, by default ([`NasConfig::min_checks`]):
/// with 3 samples, 25 measurements. Below 20 checks, a model that misses one prediction in 20
/// has likely not missed yet; the edge devices' regret fell by two thirds for 8 more
/// measurements each, and the main job's mean by 0.003 points for 0.6 more per target.
pub const MIN_CHECKS: usize = 22;

/// How the flow spends its target measurements after the reuse-or-adapt decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Design {
    /// The paper's flow: more random samples while the adaptation's cross-validated Spearman is
    /// below the threshold (up to `max_samples`), then the first `layers` predicted Pareto layers
    /// at once.
    Layers,
    /// Batches of `batch` candidates by expected regret reduction, refitting between batches,
    /// until the best remaining candidate is expected to lower the mean regret (over the
    /// predicted latency budgets) by less than `stop` accuracy points.
    Sequential {
        /// Candidates per batch.
        batch: usize,
        /// Expected regret reduction (points) below which no more is measured.
        stop: f64,
    },
    /// Everything in one request, decided before any target measurement: the initial samples
    /// and the candidates that cover the predicted fronts of the pool's devices best, each
    /// device taken as a plausible target ([`Upfront`]). Made for a person measuring by hand:
    /// one file to fill, one rerun to finish. The predictor is then adapted on every row.
    Upfront {
        /// Most measurements in all (samples included) when the flow's `max_measurements`
        /// gives none.
        cap: usize,
    },
}

impl Default for Design {
    fn default() -> Self {
        Design::SEQUENTIAL
    }
}

impl Design {
    /// `layers`, `sequential` or `upfront`.
    pub fn name(self) -> &'static str {
        match self {
            Design::Layers => "layers",
            Design::Sequential { .. } => "sequential",
            Design::Upfront { .. } => "upfront",
        }
    }
}

impl Default for NasConfig {
    fn default() -> Self {
        NasConfig {
            proxy: ProxySelection::default(),
            samples: SampleSet::default(),
            threshold: 0.9,
            max_samples: 30,
            max_measurements: None,
            layers: 2,
            constraints: Vec::new(),
            // The refits average every candidate and hypothesis, as `adapt` does: measured in
            // the flow, a target unlike the proxy (edgegpu) is then found by a hypothesis the
            // best correction candidates miss (docs/results/flow-averaging).
            adapt: AdaptParams::default(),
            seed: 0,
            design: Design::default(),
            reuse: true,
            max_failures: 5,
            remeasure: Remeasure::default(),
            stop_regret: None,
            confident_at: None,
            min_checks: MIN_CHECKS,
        }
    }
}

impl NasConfig {
    /// Check the settings.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidParameter(m));
        if !(-1.0..=1.0).contains(&self.threshold) {
            return bad(format!("the reuse threshold is a Spearman correlation in [-1, 1], got {}", self.threshold));
        }
        if self.samples.len() < 3 {
            return Err(Error::TooFewSamples(format!(
                "the flow needs at least 3 target samples to compare rankings, got {}",
                self.samples.len()
            )));
        }
        if self.max_samples == 0 {
            return bad("the adaptation's sample budget must be at least 1".into());
        }
        if self.layers == 0 {
            return bad("at least one Pareto layer must be measured".into());
        }
        if let Design::Upfront { cap: 0 } = self.design {
            return bad("the upfront design's cap holds at least 1 measurement".into());
        }
        if let Design::Sequential { batch, stop } = self.design {
            if batch == 0 {
                return bad("a measurement batch holds at least 1 architecture".into());
            }
            if !(stop.is_finite() && stop >= 0.0) {
                return bad(format!("the stopping threshold is a non-negative number of accuracy points, got {stop}"));
            }
        }
        if let Some(r) = self.stop_regret.filter(|r| !(r.is_finite() && *r >= 0.0)) {
            return bad(format!("the accepted regret is a non-negative number of accuracy points, got {r}"));
        }
        if let Some(r) = self.confident_at.filter(|r| !(r.is_finite() && *r >= 0.0)) {
            return bad(format!(
                "the regret a device is confident at is a non-negative number of accuracy points, got {r}"
            ));
        }
        if let Some(c) = self.constraints.iter().find(|c| !(c.is_finite() && **c > 0.0)) {
            return bad(format!("a latency constraint must be a positive number of ms, got {c}"));
        }
        if let Some(m) = self.max_measurements {
            if m < self.samples.len() {
                return bad(format!(
                    "the measurement budget ({m}) is smaller than the initial samples ({})",
                    self.samples.len()
                ));
            }
        }
        Ok(())
    }
}

/// Reuse the proxy's ranking, or adapt its predictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The proxy ranks the samples like the target: its latencies are used as they are.
    Reuse,
    /// The proxy's predictor was adapted with target samples (AdaProxy).
    Adapt,
}

impl Decision {
    /// `reuse` or `adapt`.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Reuse => "reuse",
            Decision::Adapt => "adapt",
        }
    }
}

/// Why an architecture was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The initial samples (the reuse-or-adapt decision).
    Samples,
    /// Extra samples of the adaptation.
    Adaptation,
    /// The predicted front (step 3).
    Candidates,
}

/// What the flow is doing, for progress displays.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowEvent {
    /// About to measure `count` architectures.
    Measuring {
        /// Why.
        stage: Stage,
        /// How many (not measured before).
        count: usize,
    },
    /// One architecture measured.
    Measured {
        /// Canonical string.
        arch: String,
        /// Latency, ms.
        latency_ms: f64,
        /// What looked wrong in this measurement or in the target's values so far.
        warnings: Vec<String>,
    },
    /// One architecture could not be measured; another takes its place.
    Failed {
        /// Canonical string.
        arch: String,
        /// Why.
        reason: String,
    },
    /// The proxy and the decision.
    Decided {
        /// The proxy.
        proxy: String,
        /// Spearman on the samples.
        spearman: f64,
        /// Reuse or adapt.
        decision: Decision,
    },
    /// An adaptation round.
    Adapted {
        /// Samples used.
        samples: usize,
        /// Cross-validated Spearman.
        cv_spearman: f64,
    },
    /// About to measure `count` measured architectures again before the front is reported.
    Remeasuring {
        /// How many.
        count: usize,
        /// The round (1 first; members new to the front are re-measured in the next).
        round: usize,
    },
    /// The flow's estimate of the regret it leaves came within [`NasConfig::confident_at`]
    /// (announced once, before the next round is measured).
    Confident(std::sync::Arc<Confidence>),
    /// One architecture measured again.
    Remeasured {
        /// Canonical string.
        arch: String,
        /// This re-measurement, ms.
        latency_ms: f64,
        /// What the front now uses for it: the median of all its values, ms.
        combined_ms: f64,
    },
}

impl Stage {
    /// `samples`, `adaptation` or `candidates` (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Samples => "samples",
            Stage::Adaptation => "adaptation",
            Stage::Candidates => "candidates",
        }
    }

    /// Why the flow measures at this stage, in words for progress displays.
    pub fn purpose(self) -> &'static str {
        match self {
            Stage::Samples => "initial samples (to compare the proxy's ranking with the target's)",
            Stage::Adaptation => "more samples for the adaptation",
            Stage::Candidates => "candidates near the predicted front",
        }
    }
}

/// What a flow knew when it became confident ([`FlowEvent::Confident`]): enough to stand in for
/// its device as a proxy before its flow ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Confidence {
    /// Architectures measured so far (re-measurements come later).
    pub measurements: usize,
    /// The estimate's 80% bound on the regret left, points.
    pub bound: f64,
    /// Every architecture measured so far and its latency, ms.
    pub measured: Vec<(Arch, f64)>,
    /// The flow's model of every candidate then.
    pub prediction: Prediction,
}

/// One line per event, as progress displays print it (every front end says the same).
impl std::fmt::Display for FlowEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowEvent::Measuring { stage, count } => {
                write!(f, "measuring {count} architecture(s): {}", stage.purpose())
            }
            FlowEvent::Measured { arch, latency_ms, .. } => {
                write!(f, "measured {arch}: {} ms", crate::error::show_number(*latency_ms))
            }
            FlowEvent::Failed { arch, reason } => {
                write!(f, "could not measure {arch} (another takes its place): {reason}")
            }
            FlowEvent::Decided { proxy, spearman, decision } => {
                write!(f, "proxy {proxy}: Spearman {spearman:.3} on the samples -> {}", decision.name())
            }
            FlowEvent::Adapted { samples, cv_spearman } => {
                write!(f, "adapted with {samples} samples: cross-validated Spearman {cv_spearman:.3}")
            }
            FlowEvent::Remeasuring { count, round } => {
                write!(f, "measuring {count} architecture(s) again before reporting the front (round {round})")
            }
            FlowEvent::Confident(c) => write!(
                f,
                "confident after {} measurements: estimated remaining regret <= {:.3} points (80% bound)",
                c.measurements, c.bound
            ),
            FlowEvent::Remeasured { arch, latency_ms, combined_ms } => write!(
                f,
                "measured {arch} again: {} ms (now {} ms)",
                crate::error::show_number(*latency_ms),
                crate::error::show_number(*combined_ms)
            ),
        }
    }
}

/// One architecture of the final set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chosen {
    /// Canonical string.
    pub arch: String,
    /// Accuracy (%).
    pub accuracy: f64,
    /// Measured latency on the target (ms).
    pub latency: f64,
    /// What the flow's final model predicted for it (ms): the adapted predictor, or a reused
    /// proxy's own latency where the flow never refitted. Beside `latency`, it shows how far
    /// the model was off where it mattered.
    #[serde(default)]
    pub predicted_latency: Option<f64>,
}

/// The pick at one latency constraint (from the measured final set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// The constraint (ms).
    pub constraint: f64,
    /// The most accurate measured architecture within it (`None`: nothing fits).
    pub pick: Option<Chosen>,
}

/// One target measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Canonical string.
    pub arch: String,
    /// Latency, ms per image.
    pub latency_ms: f64,
    /// Why it was measured.
    pub stage: Stage,
    /// Every timed run of this measurement, ms per image (empty: the oracle gave one value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs_ms: Vec<f64>,
    /// How much those runs disagree: their MAD over their median
    /// ([`relative_spread`](crate::measure::relative_spread)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// Re-measurements before the front was reported, ms per image, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeats_ms: Vec<f64>,
    /// With re-measurements: the value the front uses, the median of `latency_ms` and
    /// `repeats_ms` (of the repeats only when `latency_ms` was in doubt: far slower than
    /// predicted, or from unstable runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combined_ms: Option<f64>,
}

impl Measured {
    /// The latency the flow's front uses: the combined value once re-measured.
    pub fn value_ms(&self) -> f64 {
        self.combined_ms.unwrap_or(self.latency_ms)
    }

    /// The range this architecture's values spanned: over its repeats (the first value
    /// included) when re-measured, else over its runs; `None` when it has a single value.
    pub fn range_ms(&self) -> Option<(f64, f64)> {
        let values: Vec<f64> = if self.repeats_ms.is_empty() {
            self.runs_ms.clone()
        } else {
            std::iter::once(self.latency_ms).chain(self.repeats_ms.iter().copied()).collect()
        };
        (values.len() > 1)
            .then(|| values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v))))
    }
}

/// An architecture the target could not measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Canonical string.
    pub arch: String,
    /// Why.
    pub reason: String,
}

/// One pool member's agreement with the target on the initial samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedProxy {
    /// The pool member.
    pub proxy: String,
    /// Spearman between its latencies and the target's on the samples (-1 when undefined).
    pub spearman: f64,
    /// Pearson correlation of the logs of its latencies and the target's on the samples (`None`
    /// when undefined): how well one scale and one offset carry its latencies over, which
    /// breaks ties of the Spearman.
    pub log_pearson: Option<f64>,
}

/// How the proxy was picked among pool members that rank the samples equally well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    /// The best Pearson correlation of log latencies among the tied members.
    LogPearson,
    /// Equal on that too: the first of them in the pool's order.
    PoolOrder,
}

impl TieBreak {
    /// In words, as the text output prints it.
    pub fn describe(self) -> &'static str {
        match self {
            TieBreak::LogPearson => "the best Pearson correlation of log latencies on the samples",
            TieBreak::PoolOrder => "the pool's order (equal on the Pearson correlation of log latencies too)",
        }
    }
}

/// Several pool members with the same Spearman on the samples (few samples allow few values),
/// and how one of them was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyTie {
    /// The tied members, the chosen one first (as in `proxy_ranking`).
    pub tied: Vec<String>,
    /// What chose among them.
    pub broken_by: TieBreak,
}

/// The flow's outcome for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NasOutcome {
    /// Target device.
    pub target: String,
    /// Reuse or adapt (`action` in JSON).
    #[serde(rename = "action")]
    pub decision: Decision,
    /// Proxy used (the pool member with the best Spearman on the samples, for a pool).
    pub proxy: String,
    /// Spearman between proxy and target latencies on the initial samples.
    pub spearman_samples: f64,
    /// The best pool members on the initial samples, the chosen proxy first, then the
    /// runner-ups: how clear the choice was.
    #[serde(default)]
    pub proxy_ranking: Vec<RankedProxy>,
    /// Set when several pool members tied on the samples' Spearman: which, and what chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_tie: Option<ProxyTie>,
    /// Whether the final predictions come from a refit on the target's measurements made after
    /// the decision (the sequential and upfront designs refit after each batch, a reused proxy
    /// too: "reuse" then means its latencies guided the first batch only).
    #[serde(default)]
    pub refitted: bool,
    /// Whether the final predictions are the chosen proxy's own latencies (calibrated), kept by
    /// the refits because they predicted the measured candidates better than the adaptation
    /// (leave-one-out): a proxy near-identical to the target.
    #[serde(default)]
    pub kept_proxy: bool,
    /// Cross-validated Spearman of the adapted predictor (adapt only).
    pub cv_spearman: Option<f64>,
    /// Samples measured for the decision and the adaptation.
    pub samples: usize,
    /// Total target measurements (each architecture once).
    pub measurements: usize,
    /// Measurements made again before the front was reported (not in `measurements`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub remeasurements: usize,
    /// Size of the candidate set of step 3.
    pub candidates_measured: usize,
    /// The final (measured, non-dominated) set, fastest first.
    pub chosen: Vec<Chosen>,
    /// The pick per constraint.
    pub picks: Vec<Pick>,
    /// Every measurement, in order (left empty by evaluations, which make thousands).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measured: Vec<Measured>,
    /// Architectures the target could not measure (replaced by others).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Failure>,
    /// What looked wrong in the measurements (unstable runs, implausible values), in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The flow's own estimate of the regret its final set leaves, from its final latency model
    /// (a real device has no truth to score against; this is what the flow believes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_regret: Option<crate::workflow::RemainingRegret>,
    /// The step the target reported its latencies in (ms), when coarse enough to matter (see
    /// [`reporting_grid`](crate::workflow::design::reporting_grid)): the design and the estimate
    /// read every budget as a reported value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_step: Option<f64>,
    /// The final predictive distribution of every candidate's latency, kept in memory for
    /// evaluations that check it against a table (not written out: thousands of numbers).
    #[serde(skip)]
    pub prediction: Option<Prediction>,
}

/// The flow's final belief about every candidate's target latency: ln(ms) is normal with mean
/// `mu` and standard deviation `sigma` (the model the design and the estimate of the remaining
/// regret use).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prediction {
    /// The candidates.
    pub archs: Vec<Arch>,
    /// Mean ln(ms) per candidate (not finite: no prediction).
    pub mu: Vec<f64>,
    /// Standard deviation of ln(ms) per candidate.
    pub sigma: Vec<f64>,
    /// Whether the flow measured it (its interval is no prediction any more).
    pub measured: Vec<bool>,
}

impl Prediction {
    /// Share of the unmeasured candidates with a `truth` (ms) whose true latency lies inside
    /// their central `level` interval; `None` when there is none to check.
    pub fn coverage(&self, level: f64, truth: &dyn Fn(&Arch) -> Option<f64>) -> Option<f64> {
        let z = crate::workflow::design::normal_quantile(0.5 + level / 2.0);
        let (mut n, mut inside) = (0usize, 0usize);
        for (i, a) in self.archs.iter().enumerate() {
            if self.measured[i] || !self.mu[i].is_finite() {
                continue;
            }
            if let Some(t) = truth(a).filter(|t| *t > 0.0) {
                n += 1;
                inside += usize::from((t.ln() - self.mu[i]).abs() <= z * self.sigma[i]);
            }
        }
        (n > 0).then(|| inside as f64 / n as f64)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The data the flow searches over: proxies' latencies and the accuracies, with the proxies'
/// additive predictors fitted once (so one `Flow` serves many targets, in parallel).
#[derive(Debug, Clone)]
pub struct Flow<'a> {
    table: &'a LatencyTable,
    accuracy: &'a AccuracyTable,
    proxies: ProxyPool<'a>,
}

impl<'a> Flow<'a> {
    /// A flow over the proxies of `table` and the accuracies of `accuracy`.
    pub fn new(table: &'a LatencyTable, accuracy: &'a AccuracyTable) -> Self {
        Flow { table, accuracy, proxies: ProxyPool::new(table) }
    }

    /// The latency table of the proxies.
    pub fn table(&self) -> &'a LatencyTable {
        self.table
    }

    /// The accuracy table.
    pub fn accuracy(&self) -> &'a AccuracyTable {
        self.accuracy
    }

    /// Fit the proxies `config` uses for `target` (and the planner of a planned sample set),
    /// each once, so that runs in parallel share them rather than fit them side by side.
    pub fn prepare(&self, config: &NasConfig, target: &str) -> Result<()> {
        let pool = self.proxies.proxies(&config.proxy, target)?;
        if matches!(config.samples, SampleSet::Plan(_)) {
            self.proxies.planner(&config.proxy, &pool)?;
        }
        Ok(())
    }

    /// The fitted proxy predictors.
    pub fn proxies(&self) -> &ProxyPool<'a> {
        &self.proxies
    }

    /// The candidates of a target: architectures with an accuracy that the oracle can measure,
    /// in the latency table's order (then the others, sorted), so that a real device and a
    /// recorded one with the same data draw the same samples.
    pub fn candidates(&self, oracle: &dyn TargetOracle) -> Vec<Arch> {
        match oracle.domain() {
            Some(domain) => domain.into_iter().filter(|a| self.accuracy.get(a).is_some()).collect(),
            None => {
                let mut out: Vec<Arch> =
                    self.table.archs().iter().filter(|a| self.accuracy.get(a).is_some()).cloned().collect();
                out.extend(self.accuracy.archs().into_iter().filter(|a| self.table.row_of(a).is_none()));
                out
            }
        }
    }

    /// Run the flow for the target behind `oracle`, its random stream derived from
    /// `config.seed` and the target's name.
    pub fn run(
        &self,
        oracle: &mut dyn TargetOracle,
        config: &NasConfig,
        events: &mut dyn FnMut(FlowEvent),
    ) -> Result<NasOutcome> {
        let target = oracle.device().to_string();
        self.prepare(config, &target)?;
        self.run_prepared(oracle, config, target_seed(config.seed, 0, &target), events)
    }

    /// [`Flow::run`] with proxies fitted up front ([`Flow::prepare`]) and an explicit stream
    /// seed (evaluations derive one per target and trial). The steps of [`steps::Run`], in order.
    pub fn run_prepared(
        &self,
        oracle: &mut dyn TargetOracle,
        config: &NasConfig,
        stream: u64,
        events: &mut dyn FnMut(FlowEvent),
    ) -> Result<NasOutcome> {
        config.check()?;
        let (mut run, drawn) = steps::Run::prepare(self, oracle, config, stream)?;
        let mut design = design_for(config);
        run.measure_samples(&drawn, design.as_mut(), events)?;
        let choice = run.choose_proxy(events);
        let mut fit = run.fit(&choice, design.as_ref(), events)?;
        run.measure_candidates(design.as_mut(), &mut fit, events)?;
        run.remeasure(&fit, events)?;
        run.finish(choice, fit)
    }
}

#[cfg(test)]
mod tests {
    use super::super::oracle::TableOracle;
    use super::super::score::score;
    use super::*;
    use crate::data::bundled::bundle;
    use crate::SpaceId;

    #[test]
    fn flow_events_read_as_the_lines_progress_displays_print() {
        let measuring = FlowEvent::Measuring { stage: Stage::Adaptation, count: 3 };
        assert_eq!(measuring.to_string(), "measuring 3 architecture(s): more samples for the adaptation");
        let measured = FlowEvent::Measured { arch: "a".into(), latency_ms: 4.25, warnings: vec![] };
        assert_eq!(measured.to_string(), "measured a: 4.25 ms");
        let decided = FlowEvent::Decided { proxy: "pixel3".into(), spearman: 0.91234, decision: Decision::Reuse };
        assert_eq!(decided.to_string(), "proxy pixel3: Spearman 0.912 on the samples -> reuse");
        assert_eq!(Stage::Candidates.name(), serde_json::to_value(Stage::Candidates).unwrap());
    }

    /// A proxy identical to the target (a twin) keeps its own latencies through the refits and
    /// ends the flow sooner than a proxy that is the same device seen through 10% of noise per
    /// architecture; both find the front. (Without the floor of checked predictions, which
    /// holds both to at least its count: this is about the design's own threshold.)
    #[test]
    fn a_twin_proxy_is_kept_by_the_refits_and_needs_fewer_measurements() {
        use crate::data::DeviceSource;
        use rand::Rng;
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let mut table = b.latency.clone();
        let col = table.device_index("pixel2").unwrap();
        let exact: Vec<(Arch, f64)> =
            table.archs().iter().cloned().zip(table.column(col).to_vec()).filter(|(_, v)| v.is_finite()).collect();
        let mut rng = crate::space::seeded_rng(5);
        let noisy: Vec<(Arch, f64)> =
            exact.iter().map(|(a, v)| (a.clone(), v * (1.0 + 0.1 * rng.random_range(-1.0..1.0)))).collect();
        table.add_device("twin", DeviceSource::File("twin.csv".into()), exact).unwrap();
        table.add_device("blurred", DeviceSource::File("blurred.csv".into()), noisy).unwrap();
        let flow = Flow::new(&table, acc);
        let run = |proxy: &str| {
            let config = NasConfig {
                proxy: ProxySelection::Device(proxy.into()),
                samples: SampleSet::Random(6),
                min_checks: 0,
                ..NasConfig::default()
            };
            let mut oracle = TableOracle::new(&table, "pixel2").unwrap();
            let out = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
            let regret = score(&out, &table, acc).unwrap().regret;
            (out.measurements, regret, out.kept_proxy)
        };
        let twin = run("twin");
        let blurred = run("blurred");
        assert!(twin.0 < blurred.0, "twin {twin:?}, blurred {blurred:?}");
        assert!(twin.2, "the twin's own latencies are kept: {twin:?}");
        assert!(twin.1 < 0.1 && blurred.1 < 0.5, "{twin:?} {blurred:?}");
    }

    /// A user who accepts some regret gets a flow that stops once its own estimate says so:
    /// fewer measurements, the reported 80% bound within what was accepted; accepting none
    /// changes nothing; a negative or undefined amount is refused.
    #[test]
    fn an_accepted_regret_stops_the_flow_once_its_estimate_is_within_it() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let flow = Flow::new(&b.latency, acc);
        let run = |stop_regret: Option<f64>| {
            let config = NasConfig {
                proxy: ProxySelection::Device("raspi4".into()),
                samples: SampleSet::Random(6),
                stop_regret,
                ..NasConfig::default()
            };
            let mut oracle = TableOracle::new(&b.latency, "silver_4210r").unwrap();
            flow.run(&mut oracle, &config, &mut |_| {}).unwrap()
        };
        let (strict, none) = (run(None), run(Some(0.0)));
        assert_eq!(strict.measured, none.measured, "accepting no regret is the design's own rule");
        let lenient = run(Some(0.5));
        assert!(lenient.measurements < strict.measurements, "{} vs {}", lenient.measurements, strict.measurements);
        let bound = lenient.remaining_regret.as_ref().unwrap().bound;
        assert!(bound <= 0.5, "stopped with an estimated bound of {bound}");
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            let e = NasConfig { stop_regret: Some(bad), ..NasConfig::default() }.check().unwrap_err();
            assert!(e.to_string().contains("accepted regret"), "{e}");
        }
    }

    /// The design does not stop before its model was checked on enough of its own
    /// predictions: edgetpu from raspi4 (a device unlike the proxy, on a 1,999-cell space),
    /// over seeds. Without the floor the flow stops early, confident and wrong; with it, every
    /// run measures at least the floor and leaves less regret on average.
    #[test]
    fn a_floor_of_checked_predictions_keeps_a_confident_flow_from_stopping_early() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let flow = Flow::new(&b.latency, acc);
        let runs = |min_checks: usize| -> Vec<(usize, f64)> {
            (0..5)
                .map(|seed| {
                    let config = NasConfig {
                        proxy: ProxySelection::Device("raspi4".into()),
                        samples: SampleSet::Random(3),
                        seed,
                        min_checks,
                        ..NasConfig::default()
                    };
                    let mut oracle = TableOracle::new(&b.latency, "edgetpu").unwrap();
                    let out = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
                    (out.measurements, score(&out, &b.latency, acc).unwrap().regret)
                })
                .collect()
        };
        let (floored, free) = (runs(MIN_CHECKS), runs(0));
        let floor = 3 + MIN_CHECKS;
        assert!(floored.iter().all(|r| r.0 >= floor), "every run measures the floor: {floored:?}");
        assert!(free.iter().any(|r| r.0 < floor), "without it the flow stops sooner: {free:?}");
        let mean = |v: &[(usize, f64)]| v.iter().map(|r| r.1).sum::<f64>() / v.len() as f64;
        assert!(mean(&floored) < mean(&free), "with the floor {floored:?}, without {free:?}");
    }

    /// Refitting after every measurement keeps a target unlike its proxy from being declared
    /// done with its fast budgets empty: edgegpu from raspi4 (the main job's hardest target),
    /// over seeds, with the default design (rounds of one after 3 samples) against rounds of 5
    /// after 3 samples, whose first rounds are chosen on a model no measurement corrected.
    #[test]
    fn rounds_of_one_keep_a_target_unlike_its_proxy_from_stopping_short() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let flow = Flow::new(&b.latency, acc);
        let regrets = |design: Design| -> Vec<f64> {
            (0..5)
                .map(|seed| {
                    let config = NasConfig {
                        proxy: ProxySelection::Device("raspi4".into()),
                        samples: SampleSet::Random(3),
                        design,
                        seed,
                        ..NasConfig::default()
                    };
                    let mut oracle = TableOracle::new(&b.latency, "edgegpu").unwrap();
                    let out = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
                    score(&out, &b.latency, acc).unwrap().regret
                })
                .collect()
        };
        let ones = regrets(Design::default());
        let fives = regrets(Design::Sequential { batch: 5, stop: 0.007 });
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(ones.iter().all(|&r| r < 0.5), "rounds of one: {ones:?}");
        assert!(mean(&ones) < mean(&fives), "rounds of one {ones:?}, of five {fives:?}");
    }

    #[test]
    fn a_pool_run_reports_the_runner_up_proxies_best_first() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let flow = Flow::new(&b.latency, acc);
        let config = NasConfig { samples: SampleSet::Random(6), ..NasConfig::default() };
        let mut oracle = TableOracle::new(&b.latency, "edgegpu").unwrap();
        let out = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
        let ranking = &out.proxy_ranking;
        assert!(ranking.len() >= 4, "{ranking:?}");
        assert_eq!((ranking[0].proxy.as_str(), ranking[0].spearman), (out.proxy.as_str(), out.spearman_samples));
        assert!(ranking.windows(2).all(|w| w[0].spearman >= w[1].spearman - 1e-9), "{ranking:?}");
        if let Some(tie) = &out.proxy_tie {
            assert_eq!(tie.tied[0], out.proxy);
            assert!(tie.tied.iter().all(|t| ranking.iter().any(|r| &r.proxy == t)));
        }
        // The fields survive a JSON round trip (the in-memory prediction is never written); an
        // outcome written before them still reads.
        let out = NasOutcome { prediction: None, ..out };
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(serde_json::from_value::<NasOutcome>(json.clone()).unwrap(), out);
        let mut old = json;
        for key in ["proxy_ranking", "proxy_tie", "refitted", "kept_proxy"] {
            old.as_object_mut().unwrap().remove(key);
        }
        assert!(serde_json::from_value::<NasOutcome>(old).is_ok());
    }

    /// A table that counts the requests it gets (`.2`) and the architectures in them (`.1`).
    struct Counting<'t>(TableOracle<'t>, usize, usize);

    impl<'t> Counting<'t> {
        fn new(table: TableOracle<'t>) -> Self {
            Counting(table, 0, 0)
        }
    }

    impl TargetOracle for Counting<'_> {
        fn device(&self) -> &str {
            self.0.device()
        }
        fn domain(&self) -> Option<Vec<Arch>> {
            self.0.domain()
        }
        fn settings(&self) -> super::super::oracle::Settings {
            self.0.settings()
        }
        fn exact(&self) -> bool {
            self.0.exact()
        }
        fn measure(
            &mut self,
            archs: &[Arch],
            answer: &mut dyn FnMut(&Arch, super::super::oracle::Answer),
        ) -> Result<()> {
            self.1 += archs.len();
            self.2 += 1;
            self.0.measure(archs, answer)
        }
    }

    fn run(proxy: &str, target: &str, constraints: Vec<f64>) -> (NasOutcome, super::super::score::Score) {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let config = NasConfig {
            proxy: ProxySelection::Device(proxy.into()),
            samples: SampleSet::help10(SpaceId::Nb201).unwrap(),
            constraints,
            ..NasConfig::default()
        };
        let flow = Flow::new(&b.latency, acc);
        let mut oracle = TableOracle::new(&b.latency, target).unwrap();
        let out = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
        let s = score(&out, &b.latency, acc).unwrap();
        (out, s)
    }

    #[test]
    fn reuse_when_monotone_and_adapt_otherwise() {
        let (r, s) = run("pixel3", "raspi4", vec![5.0, 1e9]);
        assert_eq!(r.decision, Decision::Reuse, "Spearman {}", r.spearman_samples);
        // The sequential design refits the reused proxy on what it measured, and says so.
        assert!(r.refitted && r.cv_spearman.is_some());
        // One proxy named: the ranking holds it alone, with the Spearman the decision used.
        assert_eq!(r.proxy_ranking.len(), 1);
        assert_eq!((r.proxy_ranking[0].proxy.as_str(), r.proxy_ranking[0].spearman), ("pixel3", r.spearman_samples));
        assert!(s.hv_ratio > 0.95 && s.hv_ratio <= 1.0 + 1e-12, "{}", s.hv_ratio);
        assert!(s.constraints.iter().all(|c| !c.violated));
        // With no constraint binding, the pick is the most accurate chosen architecture.
        assert_eq!(s.constraints[1].accuracy, r.chosen.last().map(|c| c.accuracy));
        let (e, s) = run("pixel3", "eyeriss", vec![]);
        assert_eq!(e.decision, Decision::Adapt, "Spearman {}", e.spearman_samples);
        assert!(e.measurements > e.samples);
        assert!(s.hv_ratio > 0.9, "{}", s.hv_ratio);
        // Every measurement is logged once, samples first.
        assert_eq!(e.measured.len(), e.measurements);
        assert!(e.measured[..10].iter().all(|m| m.stage == Stage::Samples));
    }

    #[test]
    fn chosen_set_is_measured_and_non_dominated() {
        let (r, s) = run("pixel3", "fpga", vec![3.0, 4.0]);
        for w in r.chosen.windows(2) {
            assert!(w[0].latency < w[1].latency && w[0].accuracy < w[1].accuracy);
        }
        for c in &s.constraints {
            if let (Some(a), Some(o)) = (c.accuracy, c.optimal_accuracy) {
                assert!(a <= o + 1e-12);
                assert!(!c.violated);
            }
        }
    }

    /// The flow writes each measurement to the log of a recorded oracle itself, and a second
    /// run over the same log asks the device for nothing.
    #[test]
    fn the_flow_persists_every_measurement_in_the_log() {
        use super::super::oracle::{MeasurementLog, Recorded};
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let flow = Flow::new(&b.latency, acc);
        let config = NasConfig { proxy: ProxySelection::Device("pixel3".into()), ..NasConfig::default() };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eyeriss.csv");
        let open = || MeasurementLog::open(&path, "eyeriss", SpaceId::Nb201, "test").unwrap();
        let table = || Counting::new(TableOracle::new(&b.latency, "eyeriss").unwrap());
        let mut oracle = Recorded::new(table(), open()).unwrap();
        let first = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
        assert_eq!(oracle.inner().1, first.measurements);
        drop(oracle); // the log is locked while open
        assert_eq!(open().measured(), first.measurements);
        let mut again = Recorded::new(table(), open()).unwrap();
        assert_eq!(flow.run(&mut again, &config, &mut |_| {}).unwrap(), first);
        assert_eq!(again.inner().1, 0, "everything came from the log");
    }

    #[test]
    fn the_measurement_budget_is_a_hard_bound() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let flow = Flow::new(&b.latency, acc);
        for budget in [12, 25] {
            let config = NasConfig {
                proxy: ProxySelection::Device("pixel3".into()),
                max_measurements: Some(budget),
                ..NasConfig::default()
            };
            let mut oracle = TableOracle::new(&b.latency, "eyeriss").unwrap();
            let out = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
            assert!(out.measurements <= budget, "{} > {budget}", out.measurements);
            assert!(!out.chosen.is_empty());
        }
        // A budget that cannot even hold the initial samples is refused.
        let fewer = NasConfig::default().samples.len() - 1;
        let bad = NasConfig { max_measurements: Some(fewer), ..NasConfig::default() };
        assert!(bad.check().is_err());
    }

    /// The upfront design on a complete table: one request, then the flow finishes on what it
    /// measured (nothing asked again), with the same set for the same seed, within the budget.
    #[test]
    fn the_upfront_design_asks_once_for_a_set_fixed_by_the_seed() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let flow = Flow::new(&b.latency, acc);
        let run = |seed: u64, max_measurements: Option<usize>| {
            let config = NasConfig { design: Design::UPFRONT, seed, max_measurements, ..NasConfig::default() };
            let mut oracle = Counting::new(TableOracle::new(&b.latency, "pixel3").unwrap());
            let out = flow.run(&mut oracle, &config, &mut |_| {}).unwrap();
            assert_eq!(oracle.2, 1, "one request");
            assert_eq!(oracle.1, out.measurements);
            out
        };
        let first = run(3, None);
        let Design::Upfront { cap } = Design::UPFRONT else { unreachable!() };
        assert_eq!(first.measurements, cap);
        assert!(first.measured.iter().any(|m| m.stage == Stage::Candidates));
        // Adapted on every row measured, the front from the measured set.
        assert!(first.cv_spearman.is_some());
        assert!(!first.chosen.is_empty());
        assert_eq!(run(3, None), first, "the same seed, the same set");
        assert_ne!(run(4, None).measured, first.measured, "another seed draws other samples");
        for budget in [12, 50] {
            assert_eq!(run(3, Some(budget)).measurements, budget);
        }
    }
}
