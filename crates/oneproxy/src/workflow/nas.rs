//! The one-proxy NAS flow for one target, driven by a measurement oracle.
//!
//! 1. Measure a few sample architectures on the target and compute the Spearman correlation
//!    between each candidate proxy's latencies and the target's on them; the best proxy wins.
//! 2. If it reaches the threshold (0.9), **reuse** the proxy's latencies; otherwise **adapt**
//!    the proxy's predictor (AdaProxy), measuring more samples while the cross-validated
//!    Spearman stays below the threshold and the budget allows.
//! 3. Measure candidates on the target and keep what is non-dominated under the *measured*
//!    latencies (the samples join it), so that picks under a latency constraint rely on
//!    measurements, not predictions. By default ([`Design::Sequential`]) candidates are
//!    measured in small batches chosen by expected regret reduction ([`super::design`]), the
//!    predictor refitted between batches, until another batch is not expected to help; the
//!    paper's way ([`Design::Layers`]) measures the first Pareto layers of the prediction at once.
//!
//! Every architecture is measured at most once and every measurement is counted. Scoring
//! against a full table is separate ([`super::score`]): a real device has no truth to score.

use super::oracle::{Answer, TargetOracle};
use super::samples::{target_seed, SampleSet};
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::predictor::{adapt_pool, AdaptParams, ProxyLatency, ProxyPool, ProxySelection};
use crate::search::{best_under_constraints, pareto_front};
use crate::space::{seeded_rng, Arch};
use crate::stats::spearman;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

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
}

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
}

impl Default for Design {
    fn default() -> Self {
        Design::SEQUENTIAL
    }
}

impl Design {
    /// `layers` or `sequential`.
    pub fn name(self) -> &'static str {
        match self {
            Design::Layers => "layers",
            Design::Sequential { .. } => "sequential",
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
            // The flow refits every round; the averaged hypotheses were not measured in it yet
            // (they were measured on one-shot adaptations), so it keeps the best-candidates rule.
            adapt: AdaptParams { combination: crate::predictor::Combination::Best, ..AdaptParams::default() },
            seed: 0,
            design: Design::default(),
            reuse: true,
            max_failures: 5,
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
        if let Design::Sequential { batch, stop } = self.design {
            if batch == 0 {
                return bad("a measurement batch holds at least 1 architecture".into());
            }
            if !(stop.is_finite() && stop >= 0.0) {
                return bad(format!("the stopping threshold is a non-negative number of accuracy points, got {stop}"));
            }
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
}

/// An architecture the target could not measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Canonical string.
    pub arch: String,
    /// Why.
    pub reason: String,
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
    /// Cross-validated Spearman of the adapted predictor (adapt only).
    pub cv_spearman: Option<f64>,
    /// Samples measured for the decision and the adaptation.
    pub samples: usize,
    /// Total target measurements (each architecture once).
    pub measurements: usize,
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
}

/// Indices of the first `layers` non-dominated layers (front, front of the rest, ...).
pub fn pareto_layers(latency: &[f64], accuracy: &[f64], layers: usize) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    let mut lat = latency.to_vec();
    for _ in 0..layers {
        let front = pareto_front(&lat, accuracy)?;
        if front.is_empty() {
            break;
        }
        for &i in &front {
            lat[i] = f64::NAN; // skipped by the next round
        }
        out.extend(front);
    }
    Ok(out)
}

/// Salt of the random stream that draws replacements for samples the target could not measure.
const REPLACEMENT_STREAM: u64 = 0x6661_696c_6564; // "failed"

/// The data the flow searches over: proxies' latencies and the accuracies, with the proxies'
/// additive predictors fitted once (so one `Flow` serves many targets, in parallel).
#[derive(Debug, Clone)]
pub struct Flow<'a> {
    table: &'a LatencyTable,
    accuracy: &'a AccuracyTable,
    proxies: ProxyPool<'a>,
}

/// Measurements of one run: each architecture once, in order.
struct Ledger<'o> {
    oracle: &'o mut dyn TargetOracle,
    space: &'static dyn crate::space::SearchSpace,
    values: HashMap<Arch, f64>,
    /// The architectures of `log`, in the same order.
    order: Vec<Arch>,
    log: Vec<Measured>,
    /// What could not be measured, in order, and the same as a set.
    failed: Vec<Failure>,
    failed_set: HashSet<Arch>,
    max_failures: usize,
    warnings: Vec<String>,
    budget: Option<usize>,
}

impl Ledger<'_> {
    fn count(&self) -> usize {
        self.log.len()
    }

    fn room(&self) -> usize {
        self.budget.map_or(usize::MAX, |b| b.saturating_sub(self.count()))
    }

    /// Whether an architecture was asked for already (measured or failed).
    fn tried(&self, a: &Arch) -> bool {
        self.values.contains_key(a) || self.failed_set.contains(a)
    }

    /// Measure what is new among `archs`; afterwards each is in `values` or in `failed`.
    /// Answers are taken in the order asked, whatever the order they arrive in.
    fn measure(&mut self, archs: &[Arch], stage: Stage, events: &mut dyn FnMut(FlowEvent)) -> Result<()> {
        let mut fresh: Vec<Arch> = Vec::new();
        for a in archs {
            if !self.tried(a) && !fresh.contains(a) {
                fresh.push(a.clone());
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        events(FlowEvent::Measuring { stage, count: fresh.len() });
        let space = self.space;
        let mut answers: HashMap<Arch, Answer> = HashMap::new();
        self.oracle.measure(&fresh, &mut |a, ans| {
            events(match &ans {
                Answer::Measured { latency_ms, warnings, .. } => {
                    FlowEvent::Measured { arch: space.format(a), latency_ms: *latency_ms, warnings: warnings.clone() }
                }
                Answer::Failed(reason) => FlowEvent::Failed { arch: space.format(a), reason: reason.clone() },
            });
            answers.entry(a.clone()).or_insert(ans);
        })?;
        for a in fresh {
            let text = space.format(&a);
            match answers.remove(&a) {
                Some(Answer::Measured { latency_ms, warnings, .. }) => {
                    let v = crate::data::check_latency(latency_ms)
                        .map_err(|why| Error::Engine(format!("the target oracle measured {text}: {why}")))?;
                    self.warnings.extend(warnings.into_iter().map(|w| format!("{text}: {w}")));
                    self.values.insert(a.clone(), v);
                    self.order.push(a);
                    self.log.push(Measured { arch: text, latency_ms: v, stage });
                }
                Some(Answer::Failed(reason)) => {
                    self.failed_set.insert(a);
                    self.failed.push(Failure { arch: text, reason });
                    if self.failed.len() > self.max_failures {
                        let last = self.failed.last().expect("just pushed");
                        return Err(Error::TooManyFailures {
                            device: self.oracle.device().to_string(),
                            count: self.failed.len(),
                            limit: self.max_failures,
                            last: format!("{}: {}", last.arch, last.reason),
                        });
                    }
                }
                None => {
                    return Err(Error::Engine(format!(
                        "the target oracle of '{}' gave no answer for {text}",
                        self.oracle.device()
                    )))
                }
            }
        }
        Ok(())
    }

    /// The latencies of `archs`, all measured.
    fn values_of(&self, archs: &[Arch]) -> Vec<f64> {
        archs.iter().map(|a| self.values[a]).collect()
    }
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
    /// seed (evaluations derive one per target and trial).
    pub fn run_prepared(
        &self,
        oracle: &mut dyn TargetOracle,
        config: &NasConfig,
        stream: u64,
        events: &mut dyn FnMut(FlowEvent),
    ) -> Result<NasOutcome> {
        config.check()?;
        let table = self.table;
        let space = table.space().space();
        let target = oracle.device().to_string();
        let candidates = self.candidates(oracle);
        if candidates.is_empty() {
            return Err(Error::TooFewSamples(format!(
                "target '{target}': no architecture it can measure has a known accuracy"
            )));
        }
        let proxies = self.proxies.proxies(&config.proxy, &target)?;
        // Samples come from the candidates (what the target can measure *and* has an accuracy):
        // a sample without an accuracy could never join the front.
        let domain = candidates.clone();
        let planner_pred = match config.samples {
            SampleSet::Plan(_) => Some(self.proxies.planner(&config.proxy, &proxies)?),
            _ => None,
        };
        let initial = config.samples.draw(space, &domain, planner_pred, stream, &target)?;
        let mut ledger = Ledger {
            oracle,
            space,
            values: HashMap::new(),
            order: Vec::new(),
            log: Vec::new(),
            failed: Vec::new(),
            failed_set: HashSet::new(),
            max_failures: config.max_failures,
            warnings: Vec::new(),
            budget: config.max_measurements,
        };
        let mut sample_archs: Vec<Arch> = Vec::new();
        for a in &initial {
            if !sample_archs.contains(a) {
                sample_archs.push(a.clone());
            }
        }
        ledger.measure(&sample_archs, Stage::Samples, events)?;
        // A sample the target could not measure is replaced by another drawn from the domain
        // (a fixed set has no replacement), on a stream of its own so that a run without
        // failures draws exactly what it always did.
        let wanted = sample_archs.len();
        let mut replacements = seeded_rng(stream ^ REPLACEMENT_STREAM);
        while config.samples.varies() {
            let short = wanted - sample_archs.iter().filter(|a| ledger.values.contains_key(*a)).count();
            let untried: Vec<&Arch> = domain.iter().filter(|a| !ledger.tried(a)).collect();
            if short == 0 || untried.is_empty() {
                break;
            }
            let more: Vec<Arch> = rand::seq::index::sample(&mut replacements, untried.len(), short.min(untried.len()))
                .into_iter()
                .map(|i| untried[i].clone())
                .collect();
            ledger.measure(&more, Stage::Samples, events)?;
            sample_archs.extend(more);
        }
        sample_archs.retain(|a| ledger.values.contains_key(a));
        let mut ys = ledger.values_of(&sample_archs);
        if ys.len() < 3 {
            return Err(Error::TooFewSamples(format!(
                "target '{target}': at least 3 distinct samples are needed, got {}",
                ys.len()
            )));
        }
        // Proxy latency of an arch: measured where the proxy has it, else its additive prediction.
        let proxy_latency = |k: usize, archs: &[Arch]| proxies[k].latencies(archs);
        // The proxy whose latencies rank the samples best.
        let mut best: Option<(usize, f64)> = None;
        for k in 0..proxies.len() {
            let rho = spearman(&proxy_latency(k, &sample_archs), &ys);
            let rho = if rho.is_nan() { -1.0 } else { rho };
            if best.is_none_or(|b| rho > b.1) {
                best = Some((k, rho));
            }
        }
        let (proxy_k, spearman_samples) = best.expect("the pool is not empty");
        let accuracies: Vec<f64> =
            candidates.iter().map(|a| self.accuracy.get(a).expect("candidates have accuracies")).collect();
        let decision =
            if config.reuse && spearman_samples >= config.threshold { Decision::Reuse } else { Decision::Adapt };
        events(FlowEvent::Decided {
            proxy: proxies[proxy_k].device().to_string(),
            spearman: spearman_samples,
            decision,
        });

        let (mut cv_spearman, predicted, mut cv_error) = match decision {
            Decision::Reuse => (None, proxy_latency(proxy_k, &candidates), 0.0),
            Decision::Adapt => {
                let mut rng = seeded_rng(stream);
                // The sequential design spends no measurements on random samples: it chooses
                // its own, where they can change the result.
                let random_samples = config.design == Design::Layers;
                loop {
                    let adapted = adapt_pool(&proxies, &sample_archs, &ys, &config.adapt)?;
                    let cv = adapted.report.cv_spearman;
                    events(FlowEvent::Adapted { samples: sample_archs.len(), cv_spearman: cv });
                    let room = if random_samples {
                        config.max_samples.saturating_sub(sample_archs.len()).min(ledger.room())
                    } else {
                        0
                    };
                    let fresh: Vec<&Arch> = candidates.iter().filter(|a| !ledger.tried(a)).collect();
                    if cv >= config.threshold || room == 0 || fresh.is_empty() {
                        break (
                            Some(cv),
                            adapted.predictor.predict(&candidates, ProxyLatency::Measured(table))?,
                            adapted.report.cv_error.sqrt(),
                        );
                    }
                    // Measure more: as many again as the initial set (bounded by the budget),
                    // drawn at random among the candidates not measured yet.
                    let more = room.min(initial.len().max(1)).min(fresh.len());
                    let draw: Vec<Arch> = rand::seq::index::sample(&mut rng, fresh.len(), more)
                        .into_iter()
                        .map(|i| fresh[i].clone())
                        .collect();
                    ledger.measure(&draw, Stage::Adaptation, events)?;
                    let measured: Vec<Arch> = draw.into_iter().filter(|a| ledger.values.contains_key(a)).collect();
                    ys.extend(ledger.values_of(&measured));
                    sample_archs.extend(measured);
                }
            }
        };
        // Step 3: measure candidates, then keep what is non-dominated when measured; every
        // measured candidate (the samples too) takes part.
        let position: HashMap<&Arch, usize> = candidates.iter().enumerate().map(|(i, a)| (a, i)).collect();
        match config.design {
            Design::Layers => {
                let layered = pareto_layers(&predicted, &accuracies, config.layers)?;
                let mut room = ledger.room();
                let mut front: Vec<Arch> = Vec::with_capacity(layered.len());
                for i in layered {
                    if !ledger.tried(&candidates[i]) {
                        if room == 0 {
                            continue;
                        }
                        room -= 1;
                    }
                    front.push(candidates[i].clone());
                }
                ledger.measure(&front, Stage::Candidates, events)?;
            }
            Design::Sequential { batch, stop } => {
                let mut base = predicted;
                loop {
                    let measured: Vec<(usize, f64)> =
                        ledger.order.iter().filter_map(|a| position.get(a).map(|&i| (i, ledger.values[a]))).collect();
                    let model = super::design::LatencyModel::calibrate(&base, &measured, cv_error);
                    let failed: Vec<usize> =
                        ledger.failed_set.iter().filter_map(|a| position.get(a).copied()).collect();
                    let next = model.next_batch(&accuracies, &measured, &failed, batch.min(ledger.room()), stop);
                    if next.is_empty() {
                        break;
                    }
                    let archs: Vec<Arch> = next.iter().map(|&i| candidates[i].clone()).collect();
                    ledger.measure(&archs, Stage::Candidates, events)?;
                    {
                        // Refit on everything measured (a reused proxy too: its ranking is now
                        // checked against points near the front, where the result is decided).
                        let xs = ledger.order.clone();
                        let ys: Vec<f64> = xs.iter().map(|a| ledger.values[a]).collect();
                        let adapted = adapt_pool(&proxies, &xs, &ys, &config.adapt)?;
                        events(FlowEvent::Adapted { samples: xs.len(), cv_spearman: adapted.report.cv_spearman });
                        cv_spearman = Some(adapted.report.cv_spearman);
                        cv_error = adapted.report.cv_error.sqrt();
                        base = adapted.predictor.predict(&candidates, ProxyLatency::Measured(table))?;
                    }
                }
            }
        }
        let pool_idx: Vec<usize> = ledger.order.iter().filter_map(|a| position.get(a).copied()).collect();
        let measured: Vec<f64> = pool_idx.iter().map(|&i| ledger.values[&candidates[i]]).collect();
        let accs: Vec<f64> = pool_idx.iter().map(|&i| accuracies[i]).collect();
        let kept = pareto_front(&measured, &accs)?;
        let kept_lat: Vec<f64> = kept.iter().map(|&k| measured[k]).collect();
        let kept_acc: Vec<f64> = kept.iter().map(|&k| accs[k]).collect();
        let chosen: Vec<Chosen> = kept
            .iter()
            .map(|&k| Chosen { arch: space.format(&candidates[pool_idx[k]]), accuracy: accs[k], latency: measured[k] })
            .collect();
        let picks = best_under_constraints(&kept_lat, &kept_acc, &config.constraints)?
            .into_iter()
            .zip(&config.constraints)
            .map(|(p, &c)| Pick { constraint: c, pick: p.map(|k| chosen[k].clone()) })
            .collect();
        Ok(NasOutcome {
            target,
            decision,
            proxy: proxies[proxy_k].device().to_string(),
            spearman_samples,
            cv_spearman,
            samples: sample_archs.len(),
            measurements: ledger.count(),
            candidates_measured: ledger.log.iter().filter(|m| m.stage == Stage::Candidates).count(),
            chosen,
            picks,
            measured: ledger.log,
            failed: ledger.failed,
            warnings: ledger.warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::oracle::TableOracle;
    use super::super::score::score;
    use super::*;
    use crate::data::bundled::bundle;
    use crate::SpaceId;

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
        let bad = NasConfig { max_measurements: Some(5), ..NasConfig::default() };
        assert!(bad.check().is_err());
    }
}
