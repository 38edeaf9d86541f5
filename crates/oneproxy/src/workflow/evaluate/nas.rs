//! The flow evaluated: every target and trial run on its recorded table and scored.

use super::trials::{check_targets, in_target, Trials};
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::Result;
use crate::space::Arch;
use crate::workflow::nas::{Flow, Measured, NasConfig, NasOutcome};
use crate::workflow::oracle::TableOracle;
use crate::workflow::samples::target_seed;
use crate::workflow::score::{check_scorable, score_against, Score, Truth, RANDOM_DRAWS};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One target, one trial of the flow, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRun {
    /// Trial number (0-based).
    pub trial: usize,
    /// What the flow did.
    #[serde(flatten)]
    pub outcome: NasOutcome,
    /// How well it did.
    #[serde(flatten)]
    pub score: Score,
    /// Every target measurement of the run, in order: kept for plots and further analysis,
    /// left out of the JSON (evaluations make thousands; `outcome.measured` stays empty).
    #[serde(skip)]
    pub measured: Vec<Measured>,
    /// How often the flow's final predictive intervals held the true latencies of the
    /// candidates it did not measure, per level ([`INTERVAL_LEVELS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interval_coverage: Vec<IntervalCoverage>,
}

/// Central interval levels whose coverage an evaluation checks: the calibration curve.
pub const INTERVAL_LEVELS: [f64; 5] = [0.2, 0.5, 0.8, 0.9, 0.95];

/// The share of true latencies inside the central predictive interval of one level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntervalCoverage {
    /// Nominal level of the central interval (0.8: from the 10% to the 90% quantile).
    pub level: f64,
    /// Share of the unmeasured candidates whose true latency it holds.
    pub observed: f64,
}

/// Means over scored runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NasSummary {
    /// Mean regret per latency budget (accuracy points), the primary score.
    pub mean_regret: f64,
    /// Mean regret of the random baseline at the same measurement counts.
    pub mean_random_regret: Option<f64>,
    /// Mean fraction of the true front found.
    pub mean_pareto_recall: f64,
    /// Mean `hv_ratio`.
    pub mean_hv_ratio: f64,
    /// Picks whose latency exceeds their constraint.
    pub violations: usize,
    /// Mean gap to the best accuracy within each constraint (points), if any constraint.
    pub mean_accuracy_gap: Option<f64>,
    /// Mean target measurements per run.
    pub mean_measurements: f64,
    /// Mean of the flow's own expected remaining regret (points), beside `mean_regret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_estimated_regret: Option<f64>,
    /// Share of the runs whose true regret lies within the flow's reported bound (the bound's
    /// level says how often it should): the check of the flow's honesty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_coverage: Option<f64>,
    /// Mean over runs of the interval coverage per level (where every run has it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interval_coverage: Vec<IntervalCoverage>,
}

impl NasSummary {
    /// The summary of `runs`.
    pub fn of(runs: &[ScoredRun]) -> Self {
        let gaps: Vec<f64> =
            runs.iter().flat_map(|r| r.score.constraints.iter().filter_map(|c| c.accuracy_gap)).collect();
        let n = runs.len().max(1) as f64;
        let random: Vec<f64> = runs.iter().filter_map(|r| r.score.random_regret).collect();
        let estimates: Vec<_> = runs.iter().filter_map(|r| r.outcome.remaining_regret).collect();
        let estimated = !runs.is_empty() && estimates.len() == runs.len();
        NasSummary {
            mean_regret: runs.iter().map(|r| r.score.regret).sum::<f64>() / n,
            mean_random_regret: (random.len() == runs.len() && !runs.is_empty())
                .then(|| random.iter().sum::<f64>() / n),
            mean_pareto_recall: runs.iter().map(|r| r.score.pareto_recall).sum::<f64>() / n,
            mean_hv_ratio: runs.iter().map(|r| r.score.hv_ratio).sum::<f64>() / n,
            violations: runs.iter().map(|r| r.score.constraints.iter().filter(|c| c.violated).count()).sum(),
            mean_accuracy_gap: (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64),
            mean_measurements: runs.iter().map(|r| r.outcome.measurements as f64).sum::<f64>() / n,
            mean_estimated_regret: estimated.then(|| estimates.iter().map(|e| e.mean).sum::<f64>() / n),
            interval_coverage: INTERVAL_LEVELS
                .iter()
                .enumerate()
                .filter_map(|(k, &level)| {
                    let seen: Vec<f64> =
                        runs.iter().filter_map(|r| r.interval_coverage.get(k).map(|c| c.observed)).collect();
                    (!runs.is_empty() && seen.len() == runs.len())
                        .then(|| IntervalCoverage { level, observed: seen.iter().sum::<f64>() / n })
                })
                .collect(),
            estimate_coverage: estimated.then(|| {
                runs.iter().zip(&estimates).filter(|(r, e)| r.score.regret <= e.bound + 1e-9).count() as f64 / n
            }),
        }
    }
}

/// Run the flow for every target and trial, each target's recorded table standing in for the
/// device, and score it. Runs are independent (each target's stream comes from the seed, the
/// trial and its name) and run in parallel; the result is in (target, trial) order.
pub fn evaluate_nas(
    table: &LatencyTable,
    accuracy: &AccuracyTable,
    targets: &[String],
    config: &NasConfig,
    trials: Trials,
    on_run: &(dyn Fn() + Sync),
) -> Result<Vec<ScoredRun>> {
    check_targets(targets)?;
    config.check()?;
    let n_trials = trials.effective(true)?;
    let flow = Flow::new(table, accuracy);
    for t in targets {
        check_scorable(table, t, accuracy, config.samples.len())?;
        flow.prepare(config, t)?;
    }
    let truths: Vec<Truth> = targets.par_iter().map(|t| Truth::new(table, t, accuracy)).collect::<Result<_>>()?;
    let jobs: Vec<(usize, usize)> = (0..targets.len()).flat_map(|t| (0..n_trials).map(move |k| (t, k))).collect();
    jobs.par_iter()
        .map(|&(t, trial)| {
            let target = &targets[t];
            let mut oracle = TableOracle::new(table, target)?;
            let stream = target_seed(trials.seed, trial, target);
            let mut outcome =
                flow.run_prepared(&mut oracle, config, stream, &mut |_| {}).map_err(|e| in_target(target, e))?;
            let measured = std::mem::take(&mut outcome.measured);
            let mut score = score_against(&outcome, &truths[t])?;
            // The random baseline draws from its own stream, not the flow's.
            score.random_regret =
                Some(truths[t].random_regret(outcome.measurements, RANDOM_DRAWS, stream ^ 0x5eed_0000_0000_0001));
            let col = table.device_index(target)?;
            let truth = |a: &Arch| table.latency(a, col);
            let interval_coverage = match outcome.prediction.take() {
                Some(p) => INTERVAL_LEVELS
                    .iter()
                    .filter_map(|&level| p.coverage(level, &truth).map(|observed| IntervalCoverage { level, observed }))
                    .collect(),
                None => Vec::new(),
            };
            on_run();
            Ok(ScoredRun { trial, outcome, score, measured, interval_coverage })
        })
        .collect()
}
