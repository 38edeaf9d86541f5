//! Hypotheses about a target beyond "one proxy, corrected": how the target executes a cell,
//! what several proxies say together, and what the pool says per-edge weights usually are.
//!
//! The correction forms of [`adapt`](super) all assume the target runs the cell the way the
//! proxy does. A device from another runtime may not: a graph compiler removes dead operations
//! ([`CellFeature::LiveOps`](crate::space::cell::CellFeature::LiveOps)), a parallel executor is
//! bounded by the costliest path
//! ([`CellFeature::CostliestPath`](crate::space::cell::CellFeature::CostliestPath)). Each
//! hypothesis is a model with its own hyper-parameter chosen by cross-validation on the samples,
//! and competes with the correction forms in the LOO-weighted average of
//! [`adapt_pool`](super::adapt_pool). Each is one module implementing [`Hypothesis`], listed
//! once in [`HYPOTHESES`]:
//!
//! | form | model (on `y / mean(y)`) |
//! |---|---|
//! | `live-ops` | `c + sum over op kinds of beta * live count`, `beta >= 0`, ridge (NB201) |
//! | `live-path` | the same plus `gamma >=0` per op kind on the costliest path, costs from the live fit |
//! | `stacking` | `c + sum over pool devices of beta * latency`, `beta >= 0`, ridge |
//! | `pruned-stacking` | the same on the pool's latencies of the cell with its dead operations removed (NB201) |
//! | `launch` | `c + a * kernels launched + b * elements moved`, `a, b >= 0`, ridge (spaces where both counts are additive in the encoding) |
//! | `launch-depth` | `c + a * kernels + b * elements moved + f * multiply-adds`, non-negative, as network terms (elastic spaces, where depth and resolution make the counts non-additive) |
//! | `layers` | `c + a * layers run + sum over pool devices of beta * latency`, non-negative (declared spaces whose file declares skips or elastic depths) |
//! | `pool-prior` | one-hot weights with a Gaussian prior whose mean and covariance are those of the pool devices' additive weights (each scaled to mean latency 1) |
//!
//! Non-negative weights keep the fits physical (an operation does not make a network faster)
//! and, for the count models, positive everywhere: the cheapest cell is the one with no live
//! operation, predicted at the intercept. Every fit is still checked positive over the space
//! before it is averaged.

mod launch;
mod launch_depth;
mod layers;
mod live_ops;
mod live_path;
mod pool_prior;
mod pruned_stacking;
mod ridge;
mod stacking;

use super::Form;
use crate::predictor::additive::AdditivePredictor;
use crate::predictor::proxies::Proxy;
use crate::predictor::ProxyLatency;
use crate::space::{Arch, SpaceId};

/// A model of the target other than a correction of one proxy.
pub(crate) trait Hypothesis: Sync {
    /// Name in reports and text output.
    fn name(&self) -> &'static str;

    /// One line describing the model.
    fn help(&self) -> &'static str;

    /// Whether the model combines the pool's devices (its member is reported with proxy
    /// `pool`, else `none`).
    fn uses_pool(&self) -> bool;

    /// Whether the hypothesis is fitted for targets of `space` with a pool of `pool` proxies.
    fn applies(&self, space: SpaceId, pool: usize) -> bool;

    /// The model fitted on all samples with its validation; `None` when the samples cannot
    /// determine it.
    fn fit(&self, samples: &Samples) -> Option<Fitted>;
}

/// Every hypothesis, in the order they are fitted (and reported on ties).
pub(crate) static HYPOTHESES: &[&dyn Hypothesis] = &[
    &live_ops::LiveOps,
    &live_path::LivePath,
    &stacking::Stacking,
    &pruned_stacking::PrunedStacking,
    &pool_prior::PoolPrior,
    &launch::Launch,
    &launch_depth::LaunchDepth,
    &layers::Layers,
];

/// What every hypothesis is fitted on.
pub(crate) struct Samples<'a> {
    /// The pool (one proxy or more, all of one space).
    pub proxies: &'a [Proxy<'a>],
    /// The sample architectures.
    pub archs: &'a [Arch],
    /// Their latencies divided by `scale`.
    pub ys: &'a [f64],
    /// `mean(y)`, in milliseconds.
    pub scale: f64,
    /// Held-out sets for validation.
    pub tests: &'a [Vec<usize>],
}

impl Samples<'_> {
    /// The space of the pool.
    fn space(&self) -> SpaceId {
        self.proxies[0].predictor.space
    }
}

/// One hypothesis fitted on all samples, with its cross-validation.
pub(crate) struct Fitted {
    /// Its hyper-parameter: the ridge weight, or for the pool prior the noise-to-prior ratio.
    pub lambda: f64,
    pub cv_error: f64,
    /// Held-out predictions (scaled), NaN where never held out.
    pub held_out: Vec<f64>,
    /// The model in milliseconds (device name empty).
    pub predictor: AdditivePredictor,
    /// Pool devices whose latency at some sample came from their fitted model, not a
    /// measurement (stacking only).
    pub filled: Vec<String>,
    /// Its [`lower_bound`](AdditivePredictor::lower_bound) over the space, with the proxies'
    /// measurements where the pool has them (set by [`fit_all`], which checks it).
    pub lowest: Option<f64>,
}

/// Fitted hypotheses with their forms, in registry order.
pub(crate) type FittedHypotheses = Vec<(Form, Fitted)>;

/// Every hypothesis that applies to the space and pool, fitted on `samples`. Hypotheses whose
/// fit is not finite, or not positive over the space, are left out.
pub(crate) fn fit_all(samples: &Samples) -> FittedHypotheses {
    let (space, pool) = (samples.space(), samples.proxies.len());
    let table = samples.proxies.iter().find_map(|p| p.measured.map(|(t, _)| t));
    let latency = table.map_or(ProxyLatency::Modelled, ProxyLatency::Measured);
    Form::hypotheses()
        .filter_map(|form| {
            let h = form.hypothesis()?;
            if !h.applies(space, pool) {
                return None;
            }
            h.fit(samples).map(|fit| (form, fit))
        })
        .filter_map(|(form, mut h)| {
            // Finite (a degenerate fit is dropped, not averaged) and positive over the space.
            let p = &h.predictor;
            if !p.is_finite() {
                return None;
            }
            let low = p.lower_bound(latency).ok().filter(|low| p.is_positive(low.value))?;
            h.lowest = Some(low.value);
            Some((form, h))
        })
        .collect()
}

#[cfg(test)]
pub(super) mod testing {
    //! Pools of bundled devices and scaled samples for the hypotheses' tests.

    use crate::data::LatencyTable;
    use crate::predictor::{Proxy, ProxyPool};

    /// Leave-one-out test sets.
    pub fn loo(n: usize) -> Vec<Vec<usize>> {
        (0..n).map(|i| vec![i]).collect()
    }

    /// `y / mean(y)` and the mean.
    pub fn scaled(y: &[f64]) -> (Vec<f64>, f64) {
        let scale = y.iter().sum::<f64>() / y.len() as f64;
        (y.iter().map(|v| v / scale).collect(), scale)
    }

    /// The named devices of `table` as proxies, fitted on all their measurements.
    pub fn proxies<'t>(pool: &'t ProxyPool<'t>, devices: &[&str]) -> Vec<Proxy<'t>> {
        let names: Vec<String> = devices.iter().map(|d| d.to_string()).collect();
        pool.proxies_named(&names).unwrap()
    }

    /// `h` fitted on `archs` measured at `y` (ms) with leave-one-out, for a hypothesis that uses
    /// no proxy: the pool is the first bundled device of `space`, which only names the space.
    pub fn fit_alone(
        h: &dyn super::Hypothesis,
        space: crate::SpaceId,
        archs: &[crate::space::Arch],
        y: &[f64],
    ) -> Option<super::Fitted> {
        let table = &crate::data::bundled::bundle(space).unwrap().latency;
        let pool = ProxyPool::new(table);
        let first = table.devices()[0].name.clone();
        let pool = proxies(&pool, &[first.as_str()]);
        let (ys, scale) = scaled(y);
        let tests = loo(y.len());
        h.fit(&super::Samples { proxies: &pool, archs, ys: &ys, scale, tests: &tests })
    }

    /// The bundled NB201 table.
    pub fn nb201() -> &'static LatencyTable {
        &crate::data::bundled::bundle(crate::SpaceId::Nb201).unwrap().latency
    }
}
