//! Workflows: the paper's flows as library calls, usable from Rust, the CLI and Python alike.
//!
//! * [`nas`]: the one-proxy NAS flow for one target, driven by a measurement [`oracle`]
//!   (a recorded table, this machine, an external runner, a person, or any user type), as
//!   named steps with the candidate designs behind a trait ([`nas::CandidateDesign`]);
//! * [`evaluate`]: AdaProxy and the flow scored against recorded tables over targets and trials
//!   (one module per job);
//! * [`fleet`]: many targets in turn, each finished device joining the proxy pool of the next;
//! * [`run`]: the main job on the bundled data;
//! * [`design`]: which candidates the flow measures next (expected regret reduction), and
//!   [`design_scan`]: how it finds them without scoring every candidate each time;
//! * [`remaining`]: the flow's own estimate of the regret it leaves (what it tells the user);
//! * [`adapt`]: AdaProxy for one target from its samples;
//! * [`samples`], [`score`]: the pieces they share (sample sets and per-target seeds, scoring),
//!   each defined once; proxy pools live with the predictors ([`crate::predictor::proxies`]).
//!
//! Workflows return data (serde types) and never print; progress is reported through callbacks.

pub mod adapt;
pub mod design;
pub mod design_scan;
pub mod evaluate;
pub mod fleet;
pub mod nas;
pub mod oracle;
pub mod remaining;
pub mod run;
pub mod samples;
pub mod score;

pub use adapt::{adapt_target, TargetAdaptation};
pub use design::DESIGNS;
pub use evaluate::{
    evaluate_adapt, evaluate_baselines, evaluate_nas, AdaptEvaluation, Baselines, MethodScore, NasSummary, ScoredRun,
    Spread, Trials,
};
pub use fleet::{run_fleet, FleetConfig, FleetDevice, FleetOutcome, ProxySource, Span};
pub use nas::Measured;
pub use nas::{
    Confidence, Decision, Design, Flow, FlowEvent, NasConfig, NasOutcome, ProxyTie, RankedProxy, Remeasure, Stage,
    TieBreak,
};
#[cfg(feature = "onnx")]
pub use oracle::TimerOracle;
pub use oracle::{Answer, ExportModels};
pub use oracle::{ManualOracle, MeasurementLog, Recorded, TableOracle, TargetOracle};
pub use remaining::RemainingRegret;
pub use run::{default_targets, run, ProxyReason, RunConfig, RunReport};
pub use samples::{target_seed, SampleSet, SAMPLE_SETS};
pub use score::{score, Score};
pub use score::{target_candidates, Truth};
