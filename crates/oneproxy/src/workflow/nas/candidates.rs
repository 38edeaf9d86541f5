//! How the flow spends its measurements after the reuse-or-adapt decision: a
//! [`CandidateDesign`] per [`Design`], registered in [`design_for`].
//!
//! A new design is a module with a type implementing the trait, a variant of [`Design`] (its
//! settings) and one line in [`design_for`].

use super::{Design, NasConfig};
use crate::error::Result;
use crate::workflow::design::LatencyModel;

/// What a design sees of the run when it picks the next batch. Candidates are indices into
/// the run's candidate list (the architectures the target can measure, with an accuracy).
#[derive(Debug, Clone, Copy)]
pub struct DesignView<'a> {
    /// Accuracy (%) per candidate.
    pub accuracy: &'a [f64],
    /// Current prediction of the target latency per candidate (a reused proxy's latencies
    /// until the first refit).
    pub predicted: &'a [f64],
    /// Per candidate, the spread of ln(ms) among the members of the prediction (empty: one
    /// predictor).
    pub spread: &'a [f64],
    /// Cross-validated error of the last fit (0 for a reused proxy).
    pub cv_error: f64,
    /// The run's latency model: `predicted` calibrated on the measurements, with a spread
    /// per candidate (what the flow's estimate of the remaining regret uses too).
    pub model: &'a LatencyModel,
    /// (candidate, target ms) of every measured candidate, in measurement order.
    pub measured: &'a [(usize, f64)],
    /// Candidates the target could not measure.
    pub failed: &'a [usize],
    /// Per candidate, whether it was measured or failed already.
    pub tried: &'a [bool],
    /// Measurements the budget still allows.
    pub room: usize,
    /// Candidates measured so far that the flow predicted before measuring them: the checks
    /// of its model ([`crate::workflow::nas::NasConfig::min_checks`]).
    pub checked: usize,
}

/// What a design that decides before any target measurement sees ([`CandidateDesign::upfront`]).
#[derive(Debug, Clone, Copy)]
pub struct UpfrontView<'a> {
    /// Accuracy (%) per candidate.
    pub accuracy: &'a [f64],
    /// Per plausible target (a device of the proxy pool), its latency per candidate: measured
    /// where its table has one, else its additive prediction.
    pub plausible: &'a [Vec<f64>],
    /// The drawn samples, measured in the same request.
    pub samples: &'a [usize],
    /// Measurements the budget allows beyond the samples.
    pub room: usize,
}

/// A way of choosing which candidates to measure on the target.
pub trait CandidateDesign {
    /// Whether the adaptation first measures random samples while its cross-validated Spearman
    /// stays below the threshold (the paper's flow), rather than leaving every measurement to
    /// [`CandidateDesign::next_batch`].
    fn draws_adaptation_samples(&self) -> bool;

    /// The next candidates to measure (already tried ones are skipped by the flow); `None`
    /// when the design is done.
    fn next_batch(&mut self, view: &DesignView) -> Result<Option<Vec<usize>>>;

    /// Whether the predictor is refitted on everything measured after each batch.
    fn refits(&self) -> bool;

    /// Whether the design chooses candidates before any target measurement
    /// ([`CandidateDesign::upfront`]); `false` by default.
    fn decides_upfront(&self) -> bool {
        false
    }

    /// The candidates asked for together with the samples, in one request (asked only when
    /// [`CandidateDesign::decides_upfront`]); none by default.
    fn upfront(&mut self, _view: &UpfrontView) -> Result<Vec<usize>> {
        Ok(Vec::new())
    }
}

/// The design `config` asks for: one line per design.
pub fn design_for(config: &NasConfig) -> Box<dyn CandidateDesign> {
    match config.design {
        Design::Layers => Box::new(super::layers::Layers::new(config.layers)),
        Design::Sequential { batch, stop } => {
            Box::new(super::sequential::Sequential { batch, stop, min_checks: config.min_checks })
        }
        Design::Upfront { cap } => Box::new(super::upfront::Upfront::new(config.max_measurements.unwrap_or(cap))),
    }
}
