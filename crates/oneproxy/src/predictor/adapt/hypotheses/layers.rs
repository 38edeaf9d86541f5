//! A launch-bound target in a declared space: a cost per layer run beside what the pool says.
//!
//! Why: at small batch a GPU's time follows how many layers it launches far more than their
//! arithmetic (a skipped layer saves all its kernels; a wide block costs little more than a
//! narrow one). In the built-in spaces the [`launch`](super::launch) hypotheses count kernels on
//! each architecture's network; a declared space has no network, but its file says which choice
//! skips a layer and which stages have an elastic depth, which is enough to count the layers an
//! architecture runs ([`DeclaredSpace::layers_run`]). The model
//!
//! ```text
//!     c + a * layers run + sum over pool devices of beta * latency,    a, beta >= 0
//! ```
//!
//! lets the count carry the launch cost and the pool the arithmetic. The count is linear in the
//! declared encoding, so the fit stays an additive predictor (plus the pool's proxy terms).

use super::stacking::{stack_with, LinearCount};
use super::{Fitted, Hypothesis, Samples};
use crate::space::{DeclaredSpace, SpaceId};

/// `c + a * layers run + sum of beta * pool latency`, non-negative, declared spaces.
pub(super) struct Layers;

/// The declared space of `space`, where its layers run vary.
fn counted(space: SpaceId) -> Option<(&'static DeclaredSpace, (Vec<f64>, f64))> {
    match space {
        SpaceId::Declared(d) => d.get().layers_form().map(|form| (d.get(), form)),
        _ => None,
    }
}

impl Hypothesis for Layers {
    fn name(&self) -> &'static str {
        "layers"
    }

    fn help(&self) -> &'static str {
        "A non-negative cost per layer run (from the space file's skips and elastic depths) plus a non-negative combination of the pool's latencies (declared spaces)"
    }

    fn uses_pool(&self) -> bool {
        true
    }

    fn applies(&self, space: SpaceId, pool: usize) -> bool {
        pool >= 1 && counted(space).is_some()
    }

    fn fit(&self, s: &Samples) -> Option<Fitted> {
        let (space, (weights, intercept)) = counted(s.space())?;
        let at_samples = s.archs.iter().map(|a| space.layers_run(a)).collect();
        stack_with(s, false, Some(LinearCount { at_samples, weights: &weights, intercept }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{loo, proxies, scaled};
    use super::*;
    use crate::data::{DeviceSource, LatencyTable};
    use crate::predictor::ProxyPool;
    use crate::space::{seeded_rng, Arch};
    use std::path::Path;

    #[test]
    fn a_cost_per_layer_run_is_recovered_beside_a_proxy() {
        let id = crate::space::declared::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/fbnet.toml"),
        )
        .unwrap();
        let SpaceId::Declared(d) = id else { unreachable!() };
        let space = id.space();
        // A proxy whose latency follows the blocks' arithmetic (per-choice costs), and a target
        // that pays the proxy's latency plus 0.4 ms per layer run.
        let mut rng = seeded_rng(3);
        let archs: Vec<Arch> = (0..60).map(|_| space.sample(&mut rng)).collect();
        let cost = |a: &Arch| -> f64 {
            1.0 + a.genes().iter().map(|&g| if g == 8 { 0.0 } else { 0.1 + 0.05 * g as f64 }).sum::<f64>()
        };
        let mut table = LatencyTable::new(id);
        table
            .add_device("cpu", DeviceSource::Computed("test".into()), archs.iter().map(|a| (a.clone(), cost(a))))
            .unwrap();
        let pool = ProxyPool::new(&table);
        let proxies = proxies(&pool, &["cpu"]);
        let target: Vec<f64> = archs[..20].iter().map(|a| cost(a) + 0.4 * d.get().layers_run(a)).collect();
        let (ys, scale) = scaled(&target);
        let tests = loo(20);
        let samples = Samples { proxies: &proxies, archs: &archs[..20], ys: &ys, scale, tests: &tests };
        assert!(Layers.applies(id, 1) && !Layers.applies(SpaceId::Fbnet, 1));
        let h = Layers.fit(&samples).unwrap();
        // Architectures the fit did not see are predicted within 3%.
        let unseen = &archs[20..];
        let got = h.predictor.predict(unseen, crate::predictor::ProxyLatency::Measured(&table)).unwrap();
        for (a, got) in unseen.iter().zip(got) {
            let want = cost(a) + 0.4 * d.get().layers_run(a);
            assert!((got - want).abs() < 0.03 * want, "{}: {got} vs {want}", space.format(a));
        }
    }
}
