//! The proxy's *measured* latency plus a cost per feature kind: the measured latency ranks
//! better than the proxy's additive model, and per-kind counts are few enough to fit.

use super::{per_kind, Base, Columns, CorrectionForm, Scaling};
use crate::predictor::proxies::Proxy;
use crate::space::SearchSpace;

/// Column `g` of `C` counts the features of kind `g` that are set (standardised); the base is
/// the proxy's measured latency, so the form needs the proxy's table.
pub(super) struct MeasuredCounts;

impl CorrectionForm for MeasuredCounts {
    fn name(&self) -> &'static str {
        "measured-counts"
    }

    fn help(&self) -> &'static str {
        "Proxy's measured latency plus a cost per feature kind (op counts)"
    }

    /// Only where a kind costs about the same wherever it sits (see `kinds_share_cost`).
    fn applies(&self, space: &dyn SearchSpace) -> bool {
        space.kinds_share_cost()
    }

    fn columns(&self, proxy: &Proxy) -> Option<Columns> {
        proxy.measured?;
        let map = per_kind(proxy.predictor.space.space(), |_| 1.0);
        Some(Columns { map, scaling: Scaling::Standardised, base: Base::Measured })
    }
}
