//! Scoring a flow's outcome against a target's recorded table (simulations and evaluations).
//!
//! The flow's final set is measured, so it is scored by what it would give a user: the
//! hypervolume of the chosen set over that of the target's true front (`hv_ratio`), and per
//! latency constraint, the pick's accuracy against the best accuracy truly within it.

use super::nas::NasOutcome;
use crate::accuracy::AccuracyTable;
use crate::error::{Error, Result};
use crate::search::{best_under_constraints, hypervolume_2d};
use crate::space::Arch;
use crate::table::LatencyTable;
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

/// Scores of one outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Hypervolume of the chosen set over that of the target's true front (reference point:
    /// the slowest candidate, the least accurate one).
    pub hv_ratio: f64,
    /// Per constraint.
    pub constraints: Vec<ConstraintResult>,
    /// Architectures the score is computed over.
    pub scored_on: usize,
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

/// Score `outcome` against the target's column of `table`.
pub fn score(outcome: &NasOutcome, table: &LatencyTable, accuracy: &AccuracyTable) -> Result<Score> {
    let col = table.device_index(&outcome.target)?;
    let candidates = target_candidates(table, col, accuracy);
    let truth: Vec<f64> = candidates.iter().map(|a| table.latency(a, col).expect("candidates are measured")).collect();
    let accuracies: Vec<f64> = candidates.iter().map(|a| accuracy.get(a).expect("candidates have accuracies")).collect();
    let ref_lat = truth.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let ref_acc = accuracies.iter().cloned().fold(f64::INFINITY, f64::min);
    let hv_true = hypervolume_2d(&truth, &accuracies, ref_lat, ref_acc)?;
    let lat: Vec<f64> = outcome.chosen.iter().map(|c| c.latency).collect();
    let acc: Vec<f64> = outcome.chosen.iter().map(|c| c.accuracy).collect();
    let hv = hypervolume_2d(&lat, &acc, ref_lat, ref_acc)?;
    let constraints: Vec<f64> = outcome.picks.iter().map(|p| p.constraint).collect();
    let optimal = best_under_constraints(&truth, &accuracies, &constraints)?;
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
    Ok(Score { hv_ratio: if hv_true > 0.0 { hv / hv_true } else { f64::NAN }, constraints, scored_on: candidates.len() })
}
