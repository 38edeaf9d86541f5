//! Latency predictors: the additive (lookup-table) predictor of a device, and AdaProxy, which
//! adapts a proxy device's predictor to a target device from a few target measurements.

pub mod adapt;
mod additive;
pub mod solver;

pub use adapt::{adapt, AdaptParams, AdaptReport, Adapted, Form, FormChoice, LambdaChoice, Validation};
pub use additive::{AdditivePredictor, ENCODING_VERSION};
pub use solver::Penalty;
