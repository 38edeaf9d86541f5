//! A device that removes dead operations (a graph compiler): latency is additive in the counts
//! of *live* operations per kind, not in the one-hot encoding (NB201).

use super::ridge::{count_columns, NonNegativeRidge, RidgeFit};
use super::{Fitted, Hypothesis, Samples};
use crate::space::cell::CellFeature;
use crate::space::SpaceId;
use nalgebra::DMatrix;

/// `c + sum over op kinds of beta * live count`, `beta >= 0`, no proxy.
pub(super) struct LiveOps;

impl Hypothesis for LiveOps {
    fn name(&self) -> &'static str {
        "live-ops"
    }

    fn help(&self) -> &'static str {
        "No proxy: a non-negative cost per live op kind (the target removes dead operations)"
    }

    fn uses_pool(&self) -> bool {
        false
    }

    fn applies(&self, space: SpaceId, _: usize) -> bool {
        space.family().has_cells()
    }

    fn fit(&self, s: &Samples) -> Option<Fitted> {
        let (_, fit) = live_fit(s)?;
        Some(fit.into_counts(s.scale, &[CellFeature::LiveOps]))
    }
}

/// The live-op counts of the samples and their non-negative ridge fit (shared with the
/// costliest-path hypothesis, whose path costs come from it).
pub(super) fn live_fit(s: &Samples) -> Option<(DMatrix<f64>, RidgeFit)> {
    let live = count_columns(s.archs, &CellFeature::LiveOps);
    let fit = NonNegativeRidge::new(live.clone(), s.ys).fit(s.tests)?;
    Some((live, fit))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{loo, scaled};
    use super::*;
    use crate::space::{seeded_rng, Arch, Nb201, SearchSpace};

    #[test]
    fn nonnegative_ridge_recovers_a_live_op_device() {
        // A device that prunes dead ops: latency = 1 + 0.1 skip + 0.5 conv1 + 2 conv3 + 0.3 pool (live only).
        let all = Nb201.enumerate().unwrap();
        let cost = [0.0, 0.1, 0.5, 2.0, 0.3];
        let lat = |a: &Arch| {
            1.0 + CellFeature::LiveOps.counts(a.genes()).iter().zip(cost).map(|(&c, w)| c as f64 * w).sum::<f64>()
        };
        let mut rng = seeded_rng(3);
        let idx = rand::seq::index::sample(&mut rng, all.len(), 12);
        let archs: Vec<Arch> = idx.iter().map(|i| all[i].clone()).collect();
        let y: Vec<f64> = archs.iter().map(lat).collect();
        let (ys, scale) = scaled(&y);
        let samples = Samples { proxies: &[], archs: &archs, ys: &ys, scale, tests: &loo(12) };
        let fit = LiveOps.fit(&samples).unwrap();
        assert!(fit.cv_error < 1e-6, "{}", fit.cv_error);
        let predicted = fit.predictor.predict(&all, crate::predictor::ProxyLatency::Modelled).unwrap();
        for (a, p) in all.iter().zip(&predicted).step_by(97) {
            assert!((p - lat(a)).abs() < 1e-3 * lat(a), "{a:?}: {p} vs {}", lat(a));
        }
        fit.predictor.validate().unwrap();
    }
}
