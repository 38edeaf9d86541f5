//! Latency predictors: the additive (lookup-table) predictor of a device, and AdaProxy, which
//! adapts a proxy device's predictor to a target device from a few target measurements.

pub mod adapt;
mod additive;
pub mod solver;

pub use adapt::{adapt, adapt_pool, AdaptParams, AdaptReport, Adapted, Form, FormChoice, LambdaChoice, Member, Proxy, Validation};
pub use additive::{AdditivePredictor, ProxyTerm, ENCODING_VERSION};
pub use solver::Penalty;
