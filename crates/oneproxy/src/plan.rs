//! Which architectures should a new device's owner measure? (`oneproxy plan`)
//!
//! A good sample set makes the adaptation well-posed and informative: it covers every encoding
//! feature (otherwise that feature's correction is unidentifiable) and it spans the proxy's
//! latency range (a ranking is learned from differences). The plan spreads `budget` latency
//! targets evenly over the proxy's predicted range and, among the candidates nearest each
//! target, picks the one
//! that adds the most information to the design, greedy D-optimal: the largest
//! `x^T M^-1 x`, where `M = eps I + sum of x x^T` over the picks so far and `x` is the encoding
//! with an intercept, the proxy's predicted latency (scaled to 0..1 over the candidates) and,
//! for NB201, the counts of live and of dead operations per op kind (divided by 6, the most a
//! cell holds). With a one-hot encoding this first fills uncovered features; the counts make
//! the samples tell apart a device that runs dead operations from one that removes them (the
//! hypotheses of `predictor::adapt`), which a plan over the encoding alone can leave
//! confounded.
//!
//! Every bin picks one architecture, so a plan has exactly `budget` rows: when large budgets
//! have taken every candidate near a bin's target, the bin looks further out, to the nearest
//! candidates not yet picked (earlier versions skipped such bins and silently returned fewer
//! rows, 3621 for a budget of 5000).

use crate::error::{Error, Result};
use crate::predictor::AdditivePredictor;
use crate::space::cell::{self, OPS};
use crate::space::{seeded_rng, Arch, SearchSpace};
use nalgebra::{DMatrix, DVector};
use rand::seq::SliceRandom;

/// Candidates examined per bin (a seeded random subset when a bin has more).
const PER_BIN: usize = 400;

/// Pick `budget` architectures from `candidates` to measure on a new device: exactly `budget`
/// distinct ones (an error when `budget` exceeds the candidates).
pub fn plan(
    space: &dyn SearchSpace,
    proxy: &AdditivePredictor,
    candidates: &[Arch],
    budget: usize,
    seed: u64,
) -> Result<Vec<Arch>> {
    if budget == 0 {
        return Err(Error::InvalidParameter("the budget must be at least 1".into()));
    }
    if budget > candidates.len() {
        return Err(Error::InvalidParameter(format!(
            "budget {budget} exceeds the {} candidate architectures",
            candidates.len()
        )));
    }
    let mut rng = seeded_rng(seed);
    // Ranking, not latency: the proxy's plain least-squares fit.
    let pred = proxy.least_squares_predictions(candidates);
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| pred[a].total_cmp(&pred[b]).then(a.cmp(&b)));
    if budget == candidates.len() {
        // Every candidate is picked whatever the design: skip the search, fastest first.
        return Ok(order.into_iter().map(|i| candidates[i].clone()).collect());
    }
    let (lat_lo, lat_hi) = (pred[order[0]], pred[order[order.len() - 1]]);
    let structure = space.id().family().has_cells();
    let e = space.num_features();
    let d = e + 2 + if structure { 2 * (OPS - 1) } else { 0 };
    let span = (lat_hi - lat_lo).max(f64::MIN_POSITIVE);
    let mut m_inv = DMatrix::<f64>::identity(d, d) * 1e3; // (eps I)^-1 with eps = 1e-3
    let mut picked: Vec<usize> = Vec::with_capacity(budget);
    let mut taken = vec![false; candidates.len()];
    let mut x = vec![0.0; d];
    for bin in 0..budget {
        // Evenly spaced latency targets over the proxy's range, and the candidates nearest each.
        let target = lat_lo + (bin as f64 + 0.5) / budget as f64 * (lat_hi - lat_lo);
        let at = order.partition_point(|&i| pred[i] < target);
        let from = at.saturating_sub(PER_BIN / 2);
        let to = (from + PER_BIN).min(order.len());
        let from = to.saturating_sub(PER_BIN);
        let mut members: Vec<usize> = order[from..to].iter().copied().filter(|&i| !taken[i]).collect();
        if members.is_empty() {
            members = nearest_free(&order, &taken, at, PER_BIN);
        }
        members.shuffle(&mut rng);
        let mut best: Option<(f64, usize, DVector<f64>)> = None;
        for &i in &members {
            let a = &candidates[i];
            space.encode_into(a, &mut x[..e]);
            x[e] = 1.0;
            x[e + 1] = (pred[i] - lat_lo) / span;
            if structure {
                let (live, dead) = (cell::live_counts(a.genes()), cell::dead_counts(a.genes()));
                for o in 1..OPS {
                    x[e + 1 + o] = live[o] as f64 / 6.0;
                    x[e + OPS + o] = dead[o] as f64 / 6.0;
                }
            }
            let v = DVector::from_column_slice(&x);
            let mv = &m_inv * &v;
            let gain = v.dot(&mv);
            if best.as_ref().is_none_or(|b| gain > b.0) {
                best = Some((gain, i, mv));
            }
        }
        // Never empty: fewer than `budget` <= `candidates.len()` are taken.
        let (gain, i, mv) =
            best.ok_or_else(|| Error::InvalidParameter(format!("plan: no candidate left for bin {bin} of {budget}")))?;
        // Sherman-Morrison: (M + v v^T)^-1 = M^-1 - (M^-1 v)(M^-1 v)^T / (1 + v^T M^-1 v).
        m_inv -= &mv * mv.transpose() / (1.0 + gain);
        picked.push(i);
        taken[i] = true;
    }
    Ok(picked.into_iter().map(|i| candidates[i].clone()).collect())
}

/// Up to `count` candidates not yet taken, nearest to position `at` of the latency order
/// (alternately below and above it).
fn nearest_free(order: &[usize], taken: &[bool], at: usize, count: usize) -> Vec<usize> {
    let mut below = order[..at.min(order.len())].iter().rev().copied().filter(|&i| !taken[i]);
    let mut above = order[at.min(order.len())..].iter().copied().filter(|&i| !taken[i]);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let (a, b) = (above.next(), below.next());
        if a.is_none() && b.is_none() {
            break;
        }
        out.extend(a.into_iter().chain(b).take(count - out.len()));
    }
    out
}

/// A plan for a new device from a latency table (`oneproxy plan`, Python's `oneproxy.plan`).
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// The proxy whose predictor the plan spans (named, or the recommended one).
    pub proxy: String,
    /// The recommendation that chose the proxy when none was named, with its criterion.
    pub recommended: Option<crate::predictor::DefaultProxy>,
    /// The architectures to measure: `budget` of them, or every candidate of a smaller space.
    pub archs: Vec<Arch>,
    /// Number of candidates (every architecture of the space, else the bundled ones).
    pub candidates: usize,
}

/// [`plan`] over the whole space (or the bundled architectures of a space too large to
/// enumerate), spanning `proxy`'s additive predictor, or the recommended proxy's when `None`.
/// A budget beyond the candidates plans all of them.
pub fn plan_for_table(
    table: &crate::data::LatencyTable,
    proxy: Option<&str>,
    budget: usize,
    seed: u64,
) -> Result<TablePlan> {
    use crate::stats::{correlation_matrix, Metric};
    let (proxy, recommended) = match proxy {
        Some(p) => (p.to_string(), None),
        None => {
            let m = correlation_matrix(table, &[], Metric::Spearman)?;
            let r = crate::predictor::recommend_default(&m, table.space(), &[]).ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "no device can be recommended as proxy (no two measured devices share {} architectures); name one",
                    m.min_overlap
                ))
            })?;
            (r.device.clone(), Some(r))
        }
    };
    let proxies = crate::predictor::ProxyPool::new(table);
    let predictor = proxies.get_or_fit(&proxy)?;
    let space = table.space();
    // Every architecture where the space is small, else the bundled sample, else (a space
    // without bundled data, such as a declared one) the architectures of the user's tables.
    let candidates = match space.space().enumerate() {
        Some(all) => all,
        None => match &crate::data::bundled::bundle(space)?.archs {
            bundled if bundled.is_empty() => table.archs().to_vec(),
            bundled => bundled.clone(),
        },
    };
    let archs = plan(space.space(), predictor, &candidates, budget.min(candidates.len()), seed)?;
    Ok(TablePlan { proxy, recommended, archs, candidates: candidates.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::ProxyLatency;
    use crate::space::Nb201;

    #[test]
    fn plan_covers_every_feature_and_spans_latency() {
        let all = Nb201.enumerate().unwrap();
        let w: Vec<f64> = (0..30).map(|j| (j % 5) as f64 + 0.1).collect();
        let proxy = AdditivePredictor::linear(crate::SpaceId::Nb201, "p", w, 1.0).unwrap();
        let picks = plan(&Nb201, &proxy, &all, 10, 0).unwrap();
        assert_eq!(picks.len(), 10);
        let mut covered = vec![false; 30];
        for a in &picks {
            for (j, v) in Nb201.encode(a).iter().enumerate() {
                covered[j] |= *v > 0.0;
            }
        }
        assert!(covered.iter().all(|c| *c), "{covered:?}");
        let lat = proxy.predict(&picks, ProxyLatency::Modelled).unwrap();
        let all_lat = proxy.predict(&all, ProxyLatency::Modelled).unwrap();
        let (lo, hi) =
            (all_lat.iter().cloned().fold(f64::INFINITY, f64::min), all_lat.iter().cloned().fold(0.0, f64::max));
        assert!(lat.iter().any(|v| *v < lo + 0.25 * (hi - lo)) && lat.iter().any(|v| *v > hi - 0.25 * (hi - lo)));
        assert_eq!(plan(&Nb201, &proxy, &all, 10, 0).unwrap(), picks, "seeded");
        let mut dedup = picks.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 10);
        assert!(plan(&Nb201, &proxy, &all[..5], 10, 0).is_err());
        // The samples tell a pruning device from one that runs every op: for every seed, some
        // planned cells have dead ops and some do not, with several different dead counts.
        for seed in 0..4 {
            let picks = plan(&Nb201, &proxy, &all, 10, seed).unwrap();
            let dead: std::collections::BTreeSet<u32> =
                picks.iter().map(|a| cell::dead_counts(a.genes()).iter().sum()).collect();
            assert!(dead.contains(&0) && dead.len() >= 3, "seed {seed}: dead-op totals {dead:?}");
        }
    }

    #[test]
    fn large_budgets_get_every_row_they_ask_for() {
        // A proxy with few distinct latencies crowds the bins: most bins' neighbourhoods are
        // taken long before the budget is spent.
        let all = Nb201.enumerate().unwrap();
        let cands = &all[..1200];
        let weights = (0..30).map(|j| if j % 5 == 3 { 1.0 } else { 0.0 }).collect();
        let proxy = AdditivePredictor::linear(crate::SpaceId::Nb201, "p", weights, 1.0).unwrap();
        for budget in [700, 1199, 1200] {
            let picks = plan(&Nb201, &proxy, cands, budget, 3).unwrap();
            let mut distinct = picks.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!((picks.len(), distinct.len()), (budget, budget));
        }
    }
}
