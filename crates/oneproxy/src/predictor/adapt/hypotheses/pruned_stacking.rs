//! A device that prunes dead operations but otherwise runs cells like some proxies: the
//! stacking of the pool's latencies of the *pruned* cells (NB201).

use super::stacking::stack;
use super::{Fitted, Hypothesis, Samples};
use crate::space::SpaceId;

/// [`Stacking`](super::stacking::Stacking) on the pool's latencies of each sample with its dead
/// operations removed.
pub(super) struct PrunedStacking;

impl Hypothesis for PrunedStacking {
    fn name(&self) -> &'static str {
        "pruned-stacking"
    }

    fn help(&self) -> &'static str {
        "A non-negative combination of the pool devices' latencies of the cell with its dead operations removed"
    }

    fn uses_pool(&self) -> bool {
        true
    }

    fn applies(&self, space: SpaceId, pool: usize) -> bool {
        pool >= 2 && space.family().has_cells()
    }

    fn fit(&self, s: &Samples) -> Option<Fitted> {
        stack(s, true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{loo, nb201, proxies, scaled};
    use super::super::{fit_all, Samples};
    use crate::predictor::{ProxyLatency, ProxyPool};
    use crate::space::Arch;

    #[test]
    fn pruned_stacking_finds_a_device_that_runs_the_pruned_cell_like_a_proxy() {
        let t = nb201();
        let pool = ProxyPool::new(t);
        let proxies = proxies(&pool, &["pixel3", "1080ti_1", "eyeriss"]);
        let p3 = t.device_index("pixel3").unwrap();
        let truth = |a: &Arch| 2.0 * t.latency(&crate::space::cell::prune_dead(a), p3).unwrap() + 1.0;
        let archs: Vec<Arch> = t.archs().iter().step_by(1301).take(12).cloned().collect();
        assert!(archs.iter().filter(|a| crate::space::cell::has_dead(a.genes())).count() >= 3);
        let y: Vec<f64> = archs.iter().map(truth).collect();
        let (ys, scale) = scaled(&y);
        let tests = loo(12);
        let all = fit_all(&Samples { proxies: &proxies, archs: &archs, ys: &ys, scale, tests: &tests });
        let (_, h) = all.iter().find(|(f, _)| f.name() == "pruned-stacking").expect("pruned stacking fitted");
        assert!(h.cv_error < 1e-6, "{}", h.cv_error);
        assert!(h.predictor.proxy_terms.iter().all(|p| p.pruned));
        // Every architecture of the table, read through the pruned cells' rows.
        let pred = h.predictor.predict(t.archs(), ProxyLatency::Measured(t)).unwrap();
        for (a, p) in t.archs().iter().zip(&pred).step_by(37) {
            assert!((p - truth(a)).abs() < 1e-3 * truth(a), "{a:?}: {p} vs {}", truth(a));
        }
    }
}
