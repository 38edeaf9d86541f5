//! The proxy's additive prediction plus a cost per encoding feature: an additive correction,
//! where the paper's is multiplicative (a feature the proxy finds free can still cost on the
//! target).

use super::{Base, Columns, CorrectionForm, Scaling};
use crate::predictor::proxies::Proxy;
use crate::space::SearchSpace;
use nalgebra::DMatrix;

/// `C = X` (standardised), on the proxy's `X w`.
pub(super) struct AdditiveOneHot;

impl CorrectionForm for AdditiveOneHot {
    fn name(&self) -> &'static str {
        "additive-onehot"
    }

    /// serde's spelling of the form before the registry existed; reports keep it.
    fn json_name(&self) -> &'static str {
        "additive-one-hot"
    }

    fn help(&self) -> &'static str {
        "Proxy's additive prediction plus a cost per encoding feature"
    }

    fn applies(&self, _: &dyn SearchSpace) -> bool {
        true
    }

    fn columns(&self, proxy: &Proxy) -> Option<Columns> {
        let d = proxy.predictor.base_weights().len();
        Some(Columns { map: DMatrix::identity(d, d), scaling: Scaling::Standardised, base: Base::Additive })
    }
}
