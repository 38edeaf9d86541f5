//! One multiplicative correction per feature kind (op type, block choice): a few samples cannot
//! pin down 30 (NB201) or 198 (FBNet) per-feature corrections, but they can pin down a few
//! per-kind ones.

use super::{per_kind, Base, Columns, CorrectionForm, Scaling};
use crate::predictor::proxies::Proxy;
use crate::space::SearchSpace;

/// Column `g` of `C` is `sum over the kind's features of x_f w_f`, on the proxy's `X w`.
pub(super) struct Grouped;

impl CorrectionForm for Grouped {
    fn name(&self) -> &'static str {
        "grouped"
    }

    fn help(&self) -> &'static str {
        "One multiplicative correction per feature kind (op type / block choice)"
    }

    /// Only where a kind costs about the same wherever it sits (see `kinds_share_cost`).
    fn applies(&self, space: &dyn SearchSpace) -> bool {
        space.kinds_share_cost()
    }

    fn columns(&self, proxy: &Proxy) -> Option<Columns> {
        let w = proxy.predictor.base_weights();
        let map = per_kind(proxy.predictor.space.space(), |f| w[f]);
        Some(Columns { map, scaling: Scaling::Milliseconds, base: Base::Additive })
    }
}
