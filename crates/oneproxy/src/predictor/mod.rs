//! Latency predictors: the additive (lookup-table) predictor of a device, and AdaProxy, which
//! adapts a proxy device's predictor to a target device from a few target measurements.

pub mod adapt;
mod additive;
mod hypotheses;
pub mod json_numbers;
mod scaling;
pub mod solver;

pub use adapt::{
    adapt, adapt_pool, adapt_pool_with_progress, AdaptParams, AdaptReport, Adapted, Combination, Constrained, Form,
    FormChoice, LambdaChoice, Member, Proxy, Validation, LARGE_SAMPLE_FOLDS, LOO_REFIT_LIMIT,
};
pub use additive::{AdditivePredictor, LowerBound, ProxyTerm, StructureTerm, Unconstrained, ENCODING_VERSION};
pub use solver::Penalty;
