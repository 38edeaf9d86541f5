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

    /// On FBNet's bundled tables, a GPU at batch 1 adapted from mobile and CPU proxies: the
    /// declaration that marks `skip` as a skip (so the layers run are counted) ranks it far
    /// better than the same declaration with `skip` only as its reference choice.
    #[test]
    fn counting_the_layers_run_ranks_a_launch_bound_gpu_from_mobile_proxies() {
        use crate::data::bundled::bundle;
        use crate::predictor::{AdaptParams, ProxySelection};
        use crate::workflow::evaluate::{evaluate_adapt, Trials};
        use crate::workflow::samples::SampleSet;
        let builtin = &bundle(SpaceId::Fbnet).unwrap().latency;
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/fbnet.toml");
        let counted = crate::space::declared::load(&file).unwrap();
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .replace("skip = \"skip\"", "reference = \"skip\"")
            .replace("fbnet-declared", "fbnet-uncounted");
        let spec = crate::space::declared::file::parse(&text, Path::new("uncounted.toml")).unwrap();
        let uncounted = crate::space::declared::intern(spec, Path::new("uncounted.toml")).unwrap();
        let pool: Vec<String> = ["essential_ph_1", "pixel2", "pixel3", "raspi4"].map(String::from).to_vec();
        let devices: Vec<&str> = pool.iter().map(String::as_str).chain(["1080ti_1"]).collect();
        let score = |id: SpaceId| {
            // The same rows under the declared space (its genes are FBNet's).
            let mut t = LatencyTable::new(id);
            for d in &devices {
                let col = builtin.device_index(d).unwrap();
                let rows = builtin.archs().iter().filter_map(|a| builtin.latency(a, col).map(|v| (a.clone(), v)));
                t.add_device(d, DeviceSource::Computed("bundled fbnet".into()), rows).unwrap();
            }
            let proxy = ProxySelection::Auto { pool: Some(pool.clone()) };
            let trials = Trials { count: 3, seed: 0 };
            let e = evaluate_adapt(
                &t,
                &["1080ti_1".into()],
                &proxy,
                &SampleSet::Random(20),
                trials,
                &AdaptParams::default(),
                &|| {},
            )
            .unwrap();
            e.mean_after
        };
        let (with, without) = (score(counted), score(uncounted));
        assert!(with > without + 0.2, "layers counted {with:.3}, not counted {without:.3}");
    }
}
