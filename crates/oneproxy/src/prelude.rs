//! What a program driving oneproxy's flows needs, in one `use oneproxy::prelude::*;`.
//!
//! Why a prelude: the modules are organised by job, one concept each, which is the right shape
//! for maintaining the library but makes a front end name a dozen modules to run one flow. The
//! prelude is the curated surface the CLI and the Python module are written against: the
//! spaces, the data a flow reads, the predictors, the flows with their configs and oracles, and
//! what they return. Everything else stays reachable through its module.

pub use crate::data::{AccuracySource, AccuracyTable, LatencyTable, Manifest, MeasurementLog};
pub use crate::error::{Error, Result};
pub use crate::output::Outputs;
pub use crate::predictor::{AdaptParams, AdditivePredictor, ProxyLatency, ProxySelection};
pub use crate::search::{pareto_front, EvolutionParams};
pub use crate::space::{seeded_rng, Arch, SearchSpace, SpaceId};
pub use crate::workflow::{
    adapt_target, evaluate_adapt, evaluate_nas, run, Design, Flow, FlowEvent, ManualOracle, NasConfig, NasOutcome,
    Recorded, RunConfig, RunReport, SampleSet, TableOracle, TargetOracle, Trials,
};
