//! One-proxy NAS, end to end: search once on the proxy, reuse or adapt for every target.
//!
//! For one target (the paper's flow, with the target's full table standing in for the device):
//! 1. measure a few sample architectures on the target and compute the Spearman correlation
//!    between the proxy's latencies and the target's on them;
//! 2. if it reaches the threshold (0.9), **reuse** the proxy's Pareto set, its latencies mapped to
//!    target milliseconds by a monotone (positive-slope linear) fit on the samples; otherwise
//!    **adapt** the proxy's predictor (AdaProxy), measuring more samples while the
//!    cross-validated Spearman stays below the threshold and the budget allows, and take the
//!    Pareto set under the adapted predictor;
//! 3. measure that candidate set on the target and keep what is non-dominated under the
//!    measured latencies (the samples, already measured, join it), so that picks under a
//!    latency constraint use measured latencies.
//!
//! Every measurement is counted. With the target's full table the result is scored: the
//! hypervolume of the chosen set over the hypervolume of the target's true front (`hv_ratio`),
//! and, per constraint, the pick's true accuracy and latency against the true optimum.

use crate::accuracy::AccuracyTable;
use crate::error::{Error, Result};
use crate::evaluate::ProxyPredictors;
use crate::predictor::{adapt_pool, AdaptParams, Proxy};
use crate::search::{best_under_constraints, hypervolume_2d, pareto_front};
use crate::space::{seeded_rng, Arch};
use crate::stats::spearman;
use crate::table::LatencyTable;
use serde::{Deserialize, Serialize};

/// Parameters of the flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NasParams {
    /// Spearman on the samples at or above which the proxy is reused as is.
    pub threshold: f64,
    /// Most target samples measured for the adaptation (the candidate set comes on top).
    pub max_samples: usize,
    /// Latency constraints, target milliseconds.
    pub constraints: Vec<f64>,
    /// AdaProxy settings.
    pub adapt: AdaptParams,
    /// Seed of extra sample draws.
    pub seed: u64,
    /// Pareto layers of the predicted front measured in step 3 (1 = the front only; 2 adds the
    /// front of what is left, and so on). Predictions are imperfect near the front, so a
    /// second layer buys a closer match to the target's true front for a few more measurements.
    pub layers: usize,
}

impl Default for NasParams {
    fn default() -> Self {
        NasParams { threshold: 0.9, max_samples: 30, constraints: Vec::new(), adapt: AdaptParams::default(), seed: 0, layers: 2 }
    }
}

/// What happened at one latency constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstraintResult {
    /// The constraint (ms).
    pub constraint: f64,
    /// The picked architecture (None if nothing met the constraint).
    pub arch: Option<String>,
    /// Its true accuracy.
    pub accuracy: Option<f64>,
    /// Its true (measured) latency on the target.
    pub latency: Option<f64>,
    /// Best true accuracy of any candidate within the constraint.
    pub optimal_accuracy: Option<f64>,
    /// `optimal_accuracy - accuracy`.
    pub accuracy_gap: Option<f64>,
    /// Whether the pick's true latency exceeds the constraint.
    pub violated: bool,
}

/// One architecture of the final set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chosen {
    /// Canonical string.
    pub arch: String,
    /// Accuracy (%).
    pub accuracy: f64,
    /// Measured latency on the target (ms).
    pub latency: f64,
}

/// The flow's outcome for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetNas {
    /// Target device.
    pub target: String,
    /// `reuse` or `adapt`.
    pub action: String,
    /// Proxy used (the pool member with the best Spearman on the samples, for a pool).
    pub proxy: String,
    /// Spearman between proxy and target latencies on the initial samples.
    pub spearman_samples: f64,
    /// Cross-validated Spearman of the adapted predictor (adapt only).
    pub cv_spearman: Option<f64>,
    /// Samples measured for the decision and the adaptation.
    pub samples: usize,
    /// Total target measurements (samples + candidate set, each architecture once).
    pub measurements: usize,
    /// Size of the candidate set measured in step 3.
    pub candidates_measured: usize,
    /// Hypervolume of the chosen set over that of the target's true front.
    pub hv_ratio: f64,
    /// Per constraint.
    pub constraints: Vec<ConstraintResult>,
    /// The final (measured, non-dominated) set, fastest first.
    pub chosen: Vec<Chosen>,
}

/// Indices of the first `layers` non-dominated layers (front, front of the rest, ...).
pub fn pareto_layers(latency: &[f64], accuracy: &[f64], layers: usize) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    let mut lat = latency.to_vec();
    for _ in 0..layers {
        let front = pareto_front(&lat, accuracy)?;
        if front.is_empty() {
            break;
        }
        for &i in &front {
            lat[i] = f64::NAN; // skipped by the next round
        }
        out.extend(front);
    }
    Ok(out)
}

/// The candidate architectures of a target: those with an accuracy that the target measured.
pub fn target_candidates(table: &LatencyTable, target: usize, accuracy: &AccuracyTable) -> Vec<Arch> {
    table
        .measured_rows(target)
        .into_iter()
        .map(|r| table.archs()[r].clone())
        .filter(|a| accuracy.get(a).is_some())
        .collect()
}

/// Run the flow for one target. `pool` lists the proxy (one name) or the candidate proxies;
/// `samples` are the initial target measurements (architectures the target's table has).
pub fn one_proxy_nas(
    table: &LatencyTable,
    accuracy: &AccuracyTable,
    proxies: &mut ProxyPredictors,
    pool: &[String],
    target: &str,
    samples: &[Arch],
    params: &NasParams,
) -> Result<TargetNas> {
    let space = table.space().space();
    let tcol = table.device_index(target)?;
    let candidates = target_candidates(table, tcol, accuracy);
    if candidates.is_empty() {
        return Err(Error::TooFewSamples(format!("target '{target}' measured no architecture with a known accuracy")));
    }
    let pool: Vec<&String> = pool.iter().filter(|p| *p != target).collect();
    if pool.is_empty() {
        return Err(Error::InvalidParameter(format!("no proxy for target '{target}'")));
    }
    let measure = |a: &Arch| {
        table.latency(a, tcol).ok_or_else(|| {
            Error::TooFewSamples(format!("target '{target}' has no measurement of sample {}", space.format(a)))
        })
    };
    let mut sample_archs: Vec<Arch> = samples.to_vec();
    let mut ys: Vec<f64> = sample_archs.iter().map(measure).collect::<Result<_>>()?;
    if ys.len() < 3 {
        return Err(Error::TooFewSamples(format!("target '{target}': at least 3 samples are needed, got {}", ys.len())));
    }
    // Proxy latency of an arch: measured where the proxy has it, else its additive prediction.
    for p in &pool {
        proxies.get(table, p)?;
    }
    let proxy_latency = |name: &str, archs: &[Arch]| -> Result<Vec<f64>> {
        let col = table.device_index(name)?;
        let pred = proxies.get_fitted(name).expect("fitted above");
        Ok(archs.iter().map(|a| table.latency(a, col).unwrap_or_else(|| pred.predict(a))).collect())
    };
    // The proxy whose latencies rank the samples best.
    let mut best: Option<(String, f64)> = None;
    for p in &pool {
        let rho = spearman(&proxy_latency(p, &sample_archs)?, &ys);
        let rho = if rho.is_nan() { -1.0 } else { rho };
        if best.as_ref().is_none_or(|b| rho > b.1) {
            best = Some(((*p).clone(), rho));
        }
    }
    let (proxy, spearman_samples) = best.expect("pool is not empty");
    let accuracies: Vec<f64> = candidates.iter().map(|a| accuracy.get(a).expect("filtered")).collect();

    let (action, cv_spearman, predicted) = if spearman_samples >= params.threshold {
        ("reuse", None, proxy_latency(&proxy, &candidates)?)
    } else {
        let proxies_ref: Vec<Proxy> = pool
            .iter()
            .map(|p| Proxy::with_table(proxies.get_fitted(p).expect("fitted above"), table))
            .collect::<Result<_>>()?;
        let mut rng = seeded_rng(params.seed);
        loop {
            let adapted = adapt_pool(&proxies_ref, &sample_archs, &ys, &params.adapt)?;
            let cv = adapted.report.cv_spearman;
            let room = params.max_samples.saturating_sub(sample_archs.len());
            if cv >= params.threshold || room == 0 {
                break ("adapt", Some(cv), adapted.predictor.predict_with(&candidates, table)?);
            }
            // Measure more: as many again as we have (bounded by the budget), drawn at random
            // among architectures not measured yet.
            let more = room.min(samples.len().max(1));
            let fresh: Vec<&Arch> = candidates.iter().filter(|a| !sample_archs.contains(a)).collect();
            if fresh.is_empty() {
                break ("adapt", Some(cv), adapted.predictor.predict_with(&candidates, table)?);
            }
            for i in rand::seq::index::sample(&mut rng, fresh.len(), more.min(fresh.len())) {
                ys.push(measure(fresh[i])?);
                sample_archs.push(fresh[i].clone());
            }
        }
    };
    // Step 3: measure the candidate Pareto set, keep what is non-dominated when measured.
    let front = pareto_layers(&predicted, &accuracies, params.layers.max(1))?;
    let mut pool_idx: Vec<usize> = front.clone();
    for a in &sample_archs {
        if let Some(i) = candidates.iter().position(|c| c == a) {
            if !pool_idx.contains(&i) {
                pool_idx.push(i);
            }
        }
    }
    let measured: Vec<f64> = pool_idx.iter().map(|&i| measure(&candidates[i])).collect::<Result<_>>()?;
    let accs: Vec<f64> = pool_idx.iter().map(|&i| accuracies[i]).collect();
    let kept = pareto_front(&measured, &accs)?;
    let new_measurements = front.iter().filter(|&&i| !sample_archs.contains(&candidates[i])).count();

    // Scoring against the target's full table.
    let truth: Vec<f64> = candidates.iter().map(|a| table.latency(a, tcol).expect("candidates are measured")).collect();
    let ref_lat = truth.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let ref_acc = accuracies.iter().cloned().fold(f64::INFINITY, f64::min);
    let hv_true = hypervolume_2d(&truth, &accuracies, ref_lat, ref_acc)?;
    let kept_lat: Vec<f64> = kept.iter().map(|&k| measured[k]).collect();
    let kept_acc: Vec<f64> = kept.iter().map(|&k| accs[k]).collect();
    let hv = hypervolume_2d(&kept_lat, &kept_acc, ref_lat, ref_acc)?;
    let picks = best_under_constraints(&kept_lat, &kept_acc, &params.constraints)?;
    let optimal = best_under_constraints(&truth, &accuracies, &params.constraints)?;
    let constraints = params
        .constraints
        .iter()
        .zip(picks.iter().zip(&optimal))
        .map(|(&c, (pick, opt))| {
            let arch = pick.map(|k| &candidates[pool_idx[kept[k]]]);
            let latency = arch.map(|a| table.latency(a, tcol).expect("measured"));
            let acc = pick.map(|k| kept_acc[k]);
            let optimal_accuracy = opt.map(|o| accuracies[o]);
            ConstraintResult {
                constraint: c,
                arch: arch.map(|a| space.format(a)),
                accuracy: acc,
                latency,
                optimal_accuracy,
                accuracy_gap: match (optimal_accuracy, acc) {
                    (Some(o), Some(a)) => Some(o - a),
                    _ => None,
                },
                violated: latency.is_some_and(|l| l > c),
            }
        })
        .collect();
    Ok(TargetNas {
        target: target.to_string(),
        action: action.to_string(),
        proxy,
        spearman_samples,
        cv_spearman,
        samples: sample_archs.len(),
        measurements: sample_archs.len() + new_measurements,
        candidates_measured: front.len(),
        hv_ratio: if hv_true > 0.0 { hv / hv_true } else { f64::NAN },
        constraints,
        chosen: kept
            .iter()
            .map(|&k| Chosen { arch: space.format(&candidates[pool_idx[k]]), accuracy: accs[k], latency: measured[k] })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundled::{bundle, HELP10_NB201};
    use crate::SpaceId;

    fn run(proxy: &str, target: &str, constraints: Vec<f64>) -> TargetNas {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let help: Vec<Arch> = HELP10_NB201.iter().map(|&i| b.archs[i].clone()).collect();
        let params = NasParams { constraints, ..NasParams::default() };
        one_proxy_nas(&b.latency, acc, &mut ProxyPredictors::default(), &[proxy.to_string()], target, &help, &params).unwrap()
    }

    #[test]
    fn reuse_when_monotone_and_adapt_otherwise() {
        let r = run("pixel3", "raspi4", vec![5.0, 1e9]);
        assert_eq!(r.action, "reuse", "Spearman {}", r.spearman_samples);
        assert!(r.hv_ratio > 0.95 && r.hv_ratio <= 1.0 + 1e-12, "{}", r.hv_ratio);
        assert!(r.constraints.iter().all(|c| !c.violated));
        // With no constraint binding, the pick is the most accurate chosen architecture.
        let last = &r.constraints[1];
        assert_eq!(last.accuracy, r.chosen.last().map(|c| c.accuracy));
        let e = run("pixel3", "eyeriss", vec![]);
        assert_eq!(e.action, "adapt", "Spearman {}", e.spearman_samples);
        assert!(e.measurements > e.samples);
        assert!(e.hv_ratio > 0.9, "{}", e.hv_ratio);
    }

    #[test]
    fn chosen_set_is_measured_and_non_dominated() {
        let r = run("pixel3", "fpga", vec![3.0, 4.0]);
        for w in r.chosen.windows(2) {
            assert!(w[0].latency < w[1].latency && w[0].accuracy < w[1].accuracy);
        }
        for c in &r.constraints {
            if let (Some(a), Some(o)) = (c.accuracy, c.optimal_accuracy) {
                assert!(a <= o + 1e-12);
                assert!(!c.violated);
            }
        }
    }
}
