//! A device whose latency is set by how many kernels it launches and how much memory they move,
//! not by arithmetic: a GPU at small batch, or any runtime dominated by per-op overhead.
//!
//! Why: the correction forms scale a proxy's per-choice costs, which on mobile and CPU proxies
//! follow FLOPs. A launch-bound target ranks architectures by something else entirely (a
//! skipped FBNet layer saves its eight kernels; an expansion-6 block costs little more than an
//! expansion-1 one), so no multiple of a CPU proxy describes it, while two physical counts do.
//! Both counts come from the architecture's network ([`crate::network::counts`]).
//!
//! The model `c + a * kernels + b * traffic`, `a, b >= 0`, becomes an ordinary additive
//! predictor wherever both counts are exactly additive in the space's encoding (each choice
//! adds a fixed number of kernels and elements; true when a position's input and output shapes
//! do not depend on the other positions' choices). That is checked per space by projecting the
//! counts of sampled architectures onto the encoding; where the projection is not exact the
//! hypothesis does not apply, rather than approximate, and [`launch_depth`](super::launch_depth)
//! fits the same counts as terms of the predictor.

use super::ridge::NonNegativeRidge;
use super::{Fitted, Hypothesis, Samples};
use crate::network::counts::launch as counts;
use crate::predictor::additive::AdditivePredictor;
use crate::space::{seeded_rng, Arch, SearchSpace, SpaceId};
use nalgebra::{DMatrix, DVector};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// `c + a * kernels + b * memory traffic`, `a, b >= 0`, no proxy.
pub(super) struct Launch;

/// Architectures whose counts [`counts_of`] keeps (about 2 MB); past it, it starts afresh.
const KEPT_COUNTS: usize = 50_000;

/// Each architecture's counts, by space.
type KeptCounts = Mutex<HashMap<(SpaceId, Arch), [f64; 2]>>;

/// The counts of `arch`'s network, built once per process: the flow refits after every
/// measurement, and building its samples' networks again each time was a fiftieth of the main
/// job's time.
fn counts_of(space: SpaceId, arch: &Arch) -> [f64; 2] {
    static KEPT: OnceLock<KeptCounts> = OnceLock::new();
    let kept = KEPT.get_or_init(Default::default);
    let key = (space, arch.clone());
    if let Some(&c) = kept.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return c;
    }
    let c = counts(&space.network(arch));
    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() >= KEPT_COUNTS {
        kept.clear();
    }
    kept.insert(key, c);
    c
}

impl Hypothesis for Launch {
    fn name(&self) -> &'static str {
        "launch"
    }

    fn help(&self) -> &'static str {
        "No proxy: a non-negative cost per kernel launched and per element of memory traffic (a launch-bound target, e.g. a GPU at small batch)"
    }

    fn uses_pool(&self) -> bool {
        false
    }

    fn applies(&self, space: SpaceId, _: usize) -> bool {
        projection(space).is_some()
    }

    fn fit(&self, s: &Samples) -> Option<Fitted> {
        let space = s.space();
        let proj = projection(space)?;
        let counts: Vec<[f64; 2]> = s.archs.iter().map(|a| counts_of(space, a)).collect();
        let f = DMatrix::from_fn(counts.len(), 2, |i, j| counts[i][j]);
        let fit = NonNegativeRidge::new(f, s.ys).fit(s.tests)?;
        let per = fit.per_column();
        let weights: Vec<f64> =
            proj.kernels.iter().zip(&proj.traffic).map(|(k, m)| s.scale * (per[0] * k + per[1] * m)).collect();
        let intercept = s.scale * (fit.intercept + per[0] * proj.kernels_intercept + per[1] * proj.traffic_intercept);
        Some(fit.fitted(AdditivePredictor { weights, intercept, ..AdditivePredictor::blank(space) }))
    }
}

/// Both counts as additive models over a space's encoding.
pub(crate) struct Projection {
    kernels: Vec<f64>,
    kernels_intercept: f64,
    traffic: Vec<f64>,
    traffic_intercept: f64,
}

/// The projection of a space, computed once; `None` where the counts are not additive in the
/// encoding, or where the space has no networks to count (a declared space).
pub(super) fn projection(space: SpaceId) -> Option<Arc<Projection>> {
    if !space.family().has_network() {
        return None;
    }
    static CACHE: OnceLock<Mutex<HashMap<SpaceId, Option<Arc<Projection>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&space) {
        return p.clone();
    }
    let p = project(space.space(), space).map(Arc::new);
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(space, p.clone());
    p
}

/// Relative error below which a projection is exact (rounding of sums of up to 10^8 elements).
const EXACT: f64 = 1e-7;

/// Least squares of each count on the encoding (plus an intercept) over seeded samples, and
/// the check that it reproduces the counts of a second, independent set exactly.
fn project(s: &dyn SearchSpace, id: SpaceId) -> Option<Projection> {
    let d = s.num_features();
    let fit_set: Vec<Arch> = {
        let mut rng = seeded_rng(1);
        (0..3 * d + 32).map(|_| s.sample(&mut rng)).collect()
    };
    let check_set: Vec<Arch> = {
        let mut rng = seeded_rng(2);
        (0..64).map(|_| s.sample(&mut rng)).collect()
    };
    let design = |archs: &[Arch]| {
        let mut m = DMatrix::zeros(archs.len(), d + 1);
        for (i, a) in archs.iter().enumerate() {
            let e = s.encode(a);
            for j in 0..d {
                m[(i, j)] = e[j];
            }
            m[(i, d)] = 1.0;
        }
        m
    };
    let x = design(&fit_set);
    let svd = x.clone().svd(true, true);
    let fit_counts: Vec<[f64; 2]> = fit_set.iter().map(|a| counts(&id.network(a))).collect();
    let check_counts: Vec<[f64; 2]> = check_set.iter().map(|a| counts(&id.network(a))).collect();
    let xc = design(&check_set);
    let mut solved = Vec::with_capacity(2);
    for k in 0..2 {
        let y = DVector::from_iterator(fit_set.len(), fit_counts.iter().map(|c| c[k]));
        let w = svd.solve(&y, 1e-9).ok()?;
        let predicted = &xc * &w;
        let exact =
            check_counts.iter().zip(predicted.iter()).all(|(c, p)| (c[k] - p).abs() <= EXACT * c[k].abs().max(1.0));
        if !exact {
            return None;
        }
        solved.push(w);
    }
    let split = |w: &DVector<f64>| (w.rows(0, d).iter().copied().collect::<Vec<f64>>(), w[d]);
    let (kernels, kernels_intercept) = split(&solved[0]);
    let (traffic, traffic_intercept) = split(&solved[1]);
    Some(Projection { kernels, kernels_intercept, traffic, traffic_intercept })
}

#[cfg(test)]
mod tests {
    use super::super::testing::fit_alone;
    use super::*;
    use crate::predictor::ProxyLatency;

    #[test]
    fn counts_are_exactly_additive_in_the_fbnet_encoding() {
        let p = projection(SpaceId::Fbnet).expect("FBNet's layers have fixed shapes");
        let s = SpaceId::Fbnet.space();
        let mut rng = seeded_rng(11);
        for _ in 0..50 {
            let a = s.sample(&mut rng);
            let c = counts(&SpaceId::Fbnet.network(&a));
            let e = s.encode(&a);
            let k: f64 = p.kernels_intercept + e.iter().zip(&p.kernels).map(|(x, w)| x * w).sum::<f64>();
            assert!((k - c[0]).abs() < 1e-6 * c[0], "{k} vs {}", c[0]);
        }
    }

    #[test]
    fn a_skipped_layer_launches_fewer_kernels_than_any_block() {
        let s = SpaceId::Fbnet.space();
        let mut rng = seeded_rng(5);
        let a = s.sample(&mut rng);
        let mut genes = a.genes().to_vec();
        let skip = s.gene_cardinalities()[3] - 1;
        genes[3] = skip;
        let skipped = counts(&SpaceId::Fbnet.network(&Arch::from_genes(genes.clone())));
        for g in 0..skip {
            genes[3] = g;
            let block = counts(&SpaceId::Fbnet.network(&Arch::from_genes(genes.clone())));
            assert!(block[0] > skipped[0] && block[1] > skipped[1], "choice {g}: {block:?} vs skip {skipped:?}");
        }
    }

    #[test]
    fn a_launch_bound_device_is_recovered_from_twelve_samples() {
        // latency = 0.5 ms + 0.01 ms per kernel + 2 ns per element moved.
        let space = SpaceId::Fbnet;
        let lat = |a: &Arch| {
            let c = counts(&space.network(a));
            0.5 + 0.01 * c[0] + 2e-6 * c[1]
        };
        let s = space.space();
        let mut rng = seeded_rng(3);
        let archs: Vec<Arch> = (0..12).map(|_| s.sample(&mut rng)).collect();
        let y: Vec<f64> = archs.iter().map(lat).collect();
        let fit = fit_alone(&Launch, space, &archs, &y).unwrap();
        let others: Vec<Arch> = (0..200).map(|_| s.sample(&mut rng)).collect();
        let predicted = fit.predictor.predict(&others, ProxyLatency::Modelled).unwrap();
        for (a, p) in others.iter().zip(&predicted) {
            assert!((p - lat(a)).abs() < 1e-3 * lat(a), "{p} vs {}", lat(a));
        }
        fit.predictor.validate().unwrap();
    }
}
