//! Latency predictors: the additive (lookup-table) predictor of a device, the proxy devices
//! that stand in for a target, and AdaProxy, which adapts proxies' predictors to a target from a
//! few target measurements.
//!
//! * [`additive`](AdditivePredictor): the predictor, its fit, positivity and file;
//! * [`proxies`]: proxy selection and the shared pool of fitted proxy predictors;
//! * [`adapt`](mod@adapt): AdaProxy (correction forms, hypotheses, validation, combination);
//! * [`solver`]: the spectral, conic and non-negative solvers behind them.

pub mod adapt;
mod additive;
pub mod json_numbers;
pub mod proxies;
mod scaling;
pub mod solver;

pub use adapt::{
    adapt, adapt_pool, adapt_pool_with_progress, AdaptParams, AdaptReport, Adapted, Combination, Constrained, Form,
    FormChoice, LambdaChoice, Member, UnlikePool, Validation, LARGE_SAMPLE_FOLDS, LOO_REFIT_LIMIT,
};
pub use additive::{
    AdditivePredictor, LowerBound, NetworkTerm, ProxyLatency, ProxyTerm, StructureTerm, Unconstrained, ENCODING_VERSION,
};
pub use proxies::{recommend_default, DefaultProxy, Proxy, ProxyCriterion, ProxyPool, ProxySelection};
pub use solver::Penalty;
