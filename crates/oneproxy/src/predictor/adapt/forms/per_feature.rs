//! The paper's form: one multiplicative correction per feature, target weights `w * (a + b)`.

use super::{Base, Columns, CorrectionForm, Scaling};
use crate::predictor::proxies::Proxy;
use crate::space::SearchSpace;
use nalgebra::{DMatrix, DVector};

/// `C = X diag(w)`, on the proxy's additive prediction `X w`.
pub(super) struct PerFeature;

impl CorrectionForm for PerFeature {
    fn name(&self) -> &'static str {
        "per-feature"
    }

    fn help(&self) -> &'static str {
        "Target weights = proxy weights * (a + b), one b per encoding feature (the paper)"
    }

    fn applies(&self, _: &dyn SearchSpace) -> bool {
        true
    }

    fn columns(&self, proxy: &Proxy) -> Option<Columns> {
        let w = proxy.predictor.base_weights();
        let map = DMatrix::from_diagonal(&DVector::from_column_slice(w));
        Some(Columns { map, scaling: Scaling::Milliseconds, base: Base::Additive })
    }
}
