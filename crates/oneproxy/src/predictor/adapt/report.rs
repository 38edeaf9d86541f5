//! What an adaptation reports: the chosen and averaged candidates, how they were validated,
//! and what the positivity requirement changed.

use super::Form;
use crate::predictor::json_numbers;
use crate::predictor::solver::Penalty;
use serde::{Deserialize, Serialize};

/// One candidate of the selection, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Proxy device.
    pub proxy: String,
    /// Form.
    pub form: Form,
    /// Chosen lambda; infinite = no correction, written `"none"` in JSON.
    #[serde(with = "json_numbers::lambda")]
    pub lambda: f64,
    /// Cross-validated mean squared error (relative to mean(y)^2).
    #[serde(with = "json_numbers::undefined")]
    pub cv_error: f64,
    /// Its weight in the average (the weights sum to 1).
    #[serde(default)]
    pub weight: f64,
    /// Stacking: pool devices in the combination whose latency at some sample came
    /// from their fitted model (they had not measured it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filled: Vec<String>,
}

/// What an adaptation did, for people and scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptReport {
    /// Proxy of the best candidate.
    pub proxy: String,
    /// Form of the best candidate.
    pub form: Form,
    /// Penalty.
    pub penalty: Penalty,
    /// Lambda of the best candidate (on the scaled problem); infinite = no correction (the
    /// proxy's latency scaled and shifted), written `"none"` in JSON.
    #[serde(with = "json_numbers::lambda")]
    pub lambda: f64,
    /// Cross-validated mean squared error of the result (relative to mean(y)^2).
    #[serde(with = "json_numbers::undefined")]
    pub cv_error: f64,
    /// Spearman between the held-out predictions and the samples; NaN (JSON `"undefined"`)
    /// when either is constant, e.g. samples that all tie.
    #[serde(with = "json_numbers::undefined")]
    pub cv_spearman: f64,
    /// Number of optimisation problems solved.
    pub solves: usize,
    /// Wall time of the whole adaptation.
    pub solve_seconds: f64,
    /// Status of the final solves (`exact`, `solved`, `almost_solved`).
    pub status: String,
    /// Number of samples.
    pub samples: usize,
    /// The candidates averaged into the result (one unless an ensemble was used).
    pub members: Vec<Member>,
    /// Candidates considered (proxies x forms).
    pub candidates: usize,
    /// How candidates were validated, in words: `leave-one-out (exact, from one fit per
    /// candidate)` for ridge, `leave-one-out` with refits up to [`LOO_REFIT_LIMIT`](super::LOO_REFIT_LIMIT) samples,
    /// [`LARGE_SAMPLE_FOLDS`](super::LARGE_SAMPLE_FOLDS)-fold above, or the k-fold / holdout asked for.
    #[serde(default)]
    pub validation: String,
    /// Members whose least-squares predictor was not positive for every architecture of
    /// the space, and were refitted under that constraint (see [`Constrained`]).
    #[serde(default)]
    pub constrained: Vec<Constrained>,
    /// Lambdas (over all candidates) ruled out because a conic solve did not converge on
    /// some fold; 0 in all but pathological problems.
    #[serde(default)]
    pub unsolved_lambdas: usize,
    /// Candidates left out because a solve did not converge, in words (the others still make
    /// the predictor; one pathological candidate does not stop an adaptation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Corrections left out of the average because they rank the space unlike every pool
    /// device (below ten samples only; the members kept were reweighed to sum to 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlike_pool: Vec<UnlikePool>,
}

/// A correction left out of the average: fitted to a handful of samples, it ranks the space
/// further from the pool's consensus than any pool device does, which latency monotonicity
/// says no device does (the consensus guard of the averaging).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnlikePool {
    /// The member, with the weight it had before it was left out.
    pub member: Member,
    /// Its Spearman with the pool devices' mean rank, over the cells they all measured.
    pub spearman: f64,
    /// The least it needed: the least typical pool device's own Spearman with that mean rank,
    /// less the margin.
    pub floor: f64,
}

/// A member refitted because its least-squares predictor is not positive over the whole
/// space: the same proxy, form and lambda, fitted under "every prediction >= 1% of the
/// fastest sample", and cross-validated again under the same constraints (lambda `none` when
/// the constraint could only be met without corrections).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constrained {
    /// Proxy device.
    pub proxy: String,
    /// Form.
    pub form: Form,
    /// Lambda (`"none"` in JSON when infinite).
    #[serde(with = "json_numbers::lambda")]
    pub lambda: f64,
    /// The lowest latency the unconstrained predictor gave over the space (ms).
    pub lowest_ms: f64,
    /// An architecture where it did.
    pub arch: String,
    /// Architectures whose prediction the refit had to hold up (cutting planes).
    pub constraints: usize,
    /// Cross-validated error before the constraint (the member's `cv_error` is the
    /// constrained fit's).
    #[serde(with = "json_numbers::undefined")]
    pub unconstrained_cv_error: f64,
}
