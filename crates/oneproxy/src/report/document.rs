//! The report documents, typed: what `report.json` and `--json` hold, built here once so that
//! the CLI, the Python binding and the HTML page agree on every field.
//!
//! A [`Report`] is the envelope every document shares (provenance, space, accuracy source)
//! around a body per job. Bodies flatten their results into the top level, so the JSON is one
//! flat object per report, as it always was; field order is the order of declaration.

use crate::data::Manifest;
use crate::workflow::evaluate::{AdaptEvaluation, Baselines, MethodScore, NasSummary, ScoredRun};
use crate::workflow::fleet::FleetDevice;
use crate::workflow::nas::NasOutcome;
use crate::workflow::run::RunReport;
use crate::SpaceId;
use serde::Serialize;

/// A report document: the envelope and a job's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report<B> {
    /// Tool, version, seed, units and the input files' hashes.
    pub manifest: Manifest,
    /// The search space.
    pub space: String,
    /// The accuracy source (absent from reports that use none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<String>,
    /// The job's own fields.
    #[serde(flatten)]
    pub body: B,
}

impl<B> Report<B> {
    /// A report on `space`, with `accuracy` when the job used accuracies.
    pub fn new(manifest: Manifest, space: SpaceId, accuracy: Option<&str>, body: B) -> Self {
        Report { manifest, space: space.name().to_string(), accuracy: accuracy.map(str::to_string), body }
    }
}

/// `oneproxy run`: the main job over every target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunBody {
    /// The sample set's name.
    pub sample_set: String,
    /// Samples per target.
    pub samples: usize,
    /// The reuse threshold (Spearman).
    pub threshold: f64,
    /// What the job found.
    #[serde(flatten)]
    pub run: RunReport,
}

/// `oneproxy nas`: the flow on one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NasBody {
    /// What measured the target (`table`, `tract`, `manual`, ...).
    pub oracle: String,
    /// The measurement log.
    pub measurements_file: String,
    /// What the flow did.
    #[serde(flatten)]
    pub outcome: NasOutcome,
}

/// `oneproxy evaluate nas`: the flow scored over targets and trials, beside its baselines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NasEvaluationBody {
    /// The sample set's name.
    pub sample_set: String,
    /// Trials run.
    pub trials: usize,
    /// The method over trials (mean ± std of the per-trial means over targets).
    pub method: Option<MethodScore>,
    /// Its baselines.
    pub baselines: Baselines,
    /// Every scored run.
    pub targets: Vec<ScoredRun>,
    /// Means over the runs.
    #[serde(flatten)]
    pub summary: NasSummary,
}

/// `oneproxy evaluate adapt`: AdaProxy scored over targets and trials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdaptEvaluationBody {
    /// The sample set's name.
    pub sample_set: String,
    /// Samples per target.
    pub samples: usize,
    /// The results.
    #[serde(flatten)]
    pub evaluation: AdaptEvaluation,
}

/// `oneproxy fleet`: real targets in arrival order, each finished one joining the pool of the
/// next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetBody {
    /// The fleet file.
    pub fleet_file: String,
    /// Devices measured side by side.
    pub concurrency: usize,
    /// Whether finished devices joined the pool.
    pub join: bool,
    /// The regret at which a running device joined the pool, once confident (`None`: only at
    /// its end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_regret: Option<f64>,
    /// The pool the first device started from.
    pub initial_pool: Vec<String>,
    /// Per device, in arrival order.
    pub devices: Vec<FleetMember>,
}

/// One device of a fleet report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetMember {
    /// What measured it (`table`, `tract`, `runner`, `manual`).
    pub oracle: String,
    /// Its measurement log.
    pub measurements_file: String,
    /// Its page in the report folder.
    pub page: String,
    /// Where it arrived, what proxied it and what its flow did.
    #[serde(flatten)]
    pub device: FleetDevice,
}
