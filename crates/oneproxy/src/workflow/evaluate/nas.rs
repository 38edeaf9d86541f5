//! The flow evaluated: every target and trial run on its recorded table and scored.

use super::trials::{check_targets, in_target, Trials};
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::Result;
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
}

impl NasSummary {
    /// The summary of `runs`.
    pub fn of(runs: &[ScoredRun]) -> Self {
        let gaps: Vec<f64> =
            runs.iter().flat_map(|r| r.score.constraints.iter().filter_map(|c| c.accuracy_gap)).collect();
        let n = runs.len().max(1) as f64;
        let random: Vec<f64> = runs.iter().filter_map(|r| r.score.random_regret).collect();
        NasSummary {
            mean_regret: runs.iter().map(|r| r.score.regret).sum::<f64>() / n,
            mean_random_regret: (random.len() == runs.len() && !runs.is_empty())
                .then(|| random.iter().sum::<f64>() / n),
            mean_pareto_recall: runs.iter().map(|r| r.score.pareto_recall).sum::<f64>() / n,
            mean_hv_ratio: runs.iter().map(|r| r.score.hv_ratio).sum::<f64>() / n,
            violations: runs.iter().map(|r| r.score.constraints.iter().filter(|c| c.violated).count()).sum(),
            mean_accuracy_gap: (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64),
            mean_measurements: runs.iter().map(|r| r.outcome.measurements as f64).sum::<f64>() / n,
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
            on_run();
            Ok(ScoredRun { trial, outcome, score, measured })
        })
        .collect()
}
