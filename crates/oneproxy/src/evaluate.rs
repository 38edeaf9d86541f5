//! Moved to [`crate::workflow`]: kept so that existing imports of the proxy cache keep working.

pub use crate::workflow::proxy::ProxyPredictors;
