//! The launch-bound device of [`launch`](super::launch) in the spaces where its counts are not
//! additive in the encoding: the elastic spaces (OFA-MobileNetV3, MobileNetV2, ProxylessNAS).
//!
//! Why: at small batch a GPU runs an elastic network in time set by how many layers it runs
//! (each active block launches the same handful of kernels whatever its kernel size or width:
//! per-stage depth), by how much memory they move and, less, by their multiply-adds; both of
//! the latter grow with the resolution's pixels. The elastic encoding multiplies every feature
//! by `(res/224)^2`, so "kernels launched" (a function of the depths alone) is not in its span,
//! and no correction of a FLOP-following proxy describes such a device either. The model
//!
//! ```text
//!     c + a * kernels + b * elements moved + f * multiply-adds,    a, b, f >= 0
//! ```
//!
//! counted from each architecture's network ([`crate::network::counts`]), is kept exactly as it
//! is: the fit becomes an intercept plus [`NetworkTerm`]s of the predictor, which are bounded
//! over the space by its smallest network. It applies only where `launch` does not (the
//! counts are not additive in the encoding) and the space knows its smallest and largest
//! networks ([`Family::count_extremes`](crate::space::Family::count_extremes)).

use super::ridge::NonNegativeRidge;
use super::{Fitted, Hypothesis, Samples};
use crate::network::counts::NetworkCount;
use crate::predictor::additive::{AdditivePredictor, NetworkTerm};
use crate::space::SpaceId;
use nalgebra::DMatrix;

/// `c + a * kernels + b * traffic + f * multiply-adds`, non-negative, as network terms.
pub(super) struct LaunchDepth;

impl Hypothesis for LaunchDepth {
    fn name(&self) -> &'static str {
        "launch-depth"
    }

    fn help(&self) -> &'static str {
        "No proxy: a non-negative cost per kernel launched (per layer run), per element moved and per multiply-add, counted on each network (elastic spaces, where depth and resolution make these counts non-additive)"
    }

    fn uses_pool(&self) -> bool {
        false
    }

    fn applies(&self, space: SpaceId, _: usize) -> bool {
        space.family().count_extremes().is_some() && super::launch::projection(space).is_none()
    }

    fn fit(&self, s: &Samples) -> Option<Fitted> {
        let space = s.space();
        let counts: Vec<[f64; 3]> = s.archs.iter().map(|a| NetworkCount::all_of(&space.network(a))).collect();
        let f = DMatrix::from_fn(counts.len(), NetworkCount::ALL.len(), |i, j| counts[i][j]);
        let fit = NonNegativeRidge::new(f, s.ys).fit(s.tests)?;
        let network_terms = NetworkCount::ALL
            .iter()
            .zip(fit.per_column())
            .filter(|(_, w)| *w > 0.0)
            .map(|(&count, w)| NetworkTerm { count, weight: s.scale * w })
            .collect();
        let intercept = s.scale * fit.intercept;
        Some(fit.fitted(AdditivePredictor { intercept, network_terms, ..AdditivePredictor::blank(space) }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::fit_alone;
    use super::*;
    use crate::predictor::ProxyLatency;
    use crate::space::{seeded_rng, Arch};

    #[test]
    fn applies_to_the_elastic_spaces_only() {
        for id in [SpaceId::OfaMbv3, SpaceId::Mbv2, SpaceId::Proxyless] {
            assert!(LaunchDepth.applies(id, 1), "{id}");
        }
        // FBNet's counts are additive in its encoding (`launch` fits them there); NB201's too,
        // and it has no count extremes.
        for id in [SpaceId::Fbnet, SpaceId::Nb201] {
            assert!(!LaunchDepth.applies(id, 1), "{id}");
        }
    }

    #[test]
    fn kernels_follow_the_depths_and_are_not_additive_in_the_elastic_encoding() {
        // Two architectures with the same blocks at two resolutions launch the same kernels,
        // while every feature of the encoding scales with the pixels.
        let s = SpaceId::OfaMbv3.space();
        let small = s.parse("r128_k33-33-33-33-33_e33-33-33-33-33").unwrap();
        let large = s.parse("r224_k33-33-33-33-33_e33-33-33-33-33").unwrap();
        let deep = s.parse("r128_k333-33-33-33-33_e333-33-33-33-33").unwrap();
        let k = |a: &Arch| NetworkCount::all_of(&SpaceId::OfaMbv3.network(a))[0];
        assert_eq!(k(&small), k(&large));
        assert!(k(&deep) > k(&small));
        assert!(super::super::launch::projection(SpaceId::OfaMbv3).is_none());
    }

    #[test]
    fn the_count_extremes_bound_every_count() {
        for id in [SpaceId::OfaMbv3, SpaceId::Mbv2, SpaceId::Proxyless] {
            let [small, large] = id.family().count_extremes().unwrap();
            let (lo, hi) = (NetworkCount::all_of(&id.network(&small)), NetworkCount::all_of(&id.network(&large)));
            let mut rng = seeded_rng(4);
            for _ in 0..200 {
                let c = NetworkCount::all_of(&id.network(&id.space().sample(&mut rng)));
                for j in 0..3 {
                    assert!(lo[j] <= c[j] && c[j] <= hi[j], "{id} count {j}: {} not in [{}, {}]", c[j], lo[j], hi[j]);
                }
            }
        }
    }

    #[test]
    fn a_launch_bound_device_is_recovered_from_twelve_samples() {
        // latency = 0.8 ms + 0.02 ms per kernel + 1 ns per element moved, on OFA-MobileNetV3.
        let space = SpaceId::OfaMbv3;
        let lat = |a: &Arch| {
            let c = NetworkCount::all_of(&space.network(a));
            0.8 + 0.02 * c[0] + 1e-6 * c[1]
        };
        let s = space.space();
        let mut rng = seeded_rng(3);
        let archs: Vec<Arch> = (0..12).map(|_| s.sample(&mut rng)).collect();
        let y: Vec<f64> = archs.iter().map(lat).collect();
        let fit = fit_alone(&LaunchDepth, space, &archs, &y).unwrap();
        fit.predictor.validate().unwrap();
        let others: Vec<Arch> = (0..200).map(|_| s.sample(&mut rng)).collect();
        let predicted = fit.predictor.predict(&others, ProxyLatency::Modelled).unwrap();
        for (a, p) in others.iter().zip(&predicted) {
            assert!((p - lat(a)).abs() < 1e-3 * lat(a), "{p} vs {}", lat(a));
        }
        // Positive over the space, bounded at the smallest network, and the bound is reached.
        let low = fit.predictor.lower_bound(ProxyLatency::Modelled).unwrap();
        let [smallest, _] = space.family().count_extremes().unwrap();
        assert!((low.value - lat(&smallest)).abs() < 1e-3 * lat(&smallest));
        assert!(predicted.iter().all(|p| *p >= low.value - 1e-9));
    }
}
