//! The correction forms: how a proxy's predictor is corrected toward the target. Each form is
//! one module implementing [`CorrectionForm`], listed once in [`FORMS`].
//!
//! A form only chooses the correction columns `C = X M` (a map `M` from the encoding's features
//! to columns), how they are scaled, and the base they correct; [`Design`](super::design::Design)
//! turns that into the scaled problem, and back into a predictor, the same way for every form.

mod additive_onehot;
mod grouped;
mod measured_counts;
mod per_feature;

use crate::predictor::proxies::Proxy;
use crate::space::SearchSpace;
use nalgebra::DMatrix;

/// A correction of one proxy's predictor.
pub(crate) trait CorrectionForm: Sync {
    /// Name on the command line (`--form`), in Python and in text output.
    fn name(&self) -> &'static str;

    /// Name in JSON reports, when it differs from [`name`](Self::name).
    fn json_name(&self) -> &'static str {
        self.name()
    }

    /// One line for `--help`.
    fn help(&self) -> &'static str;

    /// Whether `auto` tries the form on `space` (a form chosen by name is used anyway).
    fn applies(&self, space: &dyn SearchSpace) -> bool;

    /// The correction columns for `proxy`; `None` when the form cannot be built for it (it
    /// needs measurements the proxy does not have).
    fn columns(&self, proxy: &Proxy) -> Option<Columns>;
}

/// Every correction form, in the order they are tried (and listed by `--help`). The first is
/// the paper's ([`Form::paper`](super::Form::paper)).
pub(crate) static FORMS: &[&dyn CorrectionForm] =
    &[&per_feature::PerFeature, &grouped::Grouped, &measured_counts::MeasuredCounts, &additive_onehot::AdditiveOneHot];

/// What a form corrects.
pub(crate) struct Columns {
    /// Feature -> correction column (d x k): column `j` of `C` is `X map[:, j]`.
    pub map: DMatrix<f64>,
    /// How the columns are brought to O(1).
    pub scaling: Scaling,
    /// What the scale `a` multiplies.
    pub base: Base,
}

/// How correction columns are brought to O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scaling {
    /// The columns are in milliseconds (proxy weights): divided by the samples' mean latency.
    Milliseconds,
    /// Centred and divided by their spread over the space's reference set.
    Standardised,
}

/// The base of a form: what the proxy says about a sample before any correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// The proxy's additive prediction (least-squares direction, no intercept).
    Additive,
    /// The proxy's measured latency (its fallback model where it has not measured).
    Measured,
}

/// The map that sums each feature kind's features, weighted by `weight(feature)`.
fn per_kind(space: &dyn SearchSpace, weight: impl Fn(usize) -> f64) -> DMatrix<f64> {
    let groups = space.feature_groups();
    let mut m = DMatrix::zeros(space.num_features(), groups.len());
    for (g, group) in groups.iter().enumerate() {
        for &f in &group.features {
            m[(f, g)] = weight(f);
        }
    }
    m
}
