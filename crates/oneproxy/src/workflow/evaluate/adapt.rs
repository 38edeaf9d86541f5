//! AdaProxy evaluated: each target adapted from its samples per trial, scored by Spearman's rho
//! over the target's measured architectures that were not samples.

use super::trials::{check_targets, Trials};
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::predictor::proxies::resolve_pool;
use crate::predictor::{
    adapt_pool, AdaptParams, AdditivePredictor, Form, Member, Proxy, ProxyLatency, ProxyPool, ProxySelection,
};
use crate::space::Arch;
use crate::stats::spearman;
use crate::workflow::samples::{target_seed, SampleSet};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// One adaptation trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Proxy of the best candidate.
    pub proxy: String,
    /// Every candidate averaged into the predictor (proxy, form, lambda).
    pub members: Vec<Member>,
    /// Form chosen.
    pub form: Form,
    /// Lambda chosen (`"none"` in JSON when infinite: no correction).
    #[serde(with = "crate::predictor::json_numbers::lambda")]
    pub lambda: f64,
    /// Spearman of the unadapted proxy predictor on the target's architectures outside the samples.
    pub spearman_before: f64,
    /// Spearman of the adapted predictor on the target's architectures outside the samples.
    pub spearman: f64,
    /// Cross-validated Spearman on the samples (`"undefined"` in JSON when NaN).
    #[serde(with = "crate::predictor::json_numbers::undefined")]
    pub cv_spearman: f64,
    /// Status of the final solve (`exact`, `solved`, `almost_solved`).
    pub status: String,
}

/// Adaptation results for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// Target device.
    pub target: String,
    /// Proxy (the most frequently chosen one with `auto`).
    pub proxy: String,
    /// Form (the most frequently chosen one).
    pub form: Form,
    /// Mean Spearman of the unadapted proxy predictor.
    pub spearman_before: f64,
    /// Mean Spearman of the adapted predictor over trials.
    pub spearman_after: f64,
    /// Architectures the target measured; each trial is scored on those outside its samples.
    pub scored_on: usize,
    /// Per-trial results.
    pub trials: Vec<Trial>,
}

/// An adaptation evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptEvaluation {
    /// Per target.
    pub targets: Vec<TargetResult>,
    /// Mean over targets of `spearman_before`.
    pub mean_before: f64,
    /// Mean over targets of `spearman_after`.
    pub mean_after: f64,
}

fn most_frequent<T: Clone + Eq>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: Vec<(T, usize)> = Vec::new();
    for it in items {
        match counts.iter_mut().find(|(k, _)| *k == it) {
            Some((_, c)) => *c += 1,
            None => counts.push((it, 1)),
        }
    }
    counts
        .iter()
        .fold(None::<&(T, usize)>, |b, c| if b.is_none_or(|b| c.1 > b.1) { Some(c) } else { b })
        .map(|c| c.0.clone())
}

/// Adapt a proxy to each target with its samples (per trial) and score the adapted predictor by
/// Spearman's rho over the target's measured architectures that were not samples.
/// `on_trial` is called after every finished trial (progress bars).
pub fn evaluate_adapt(
    table: &LatencyTable,
    targets: &[String],
    proxy: &ProxySelection,
    samples: &SampleSet,
    trials: Trials,
    params: &AdaptParams,
    on_trial: &(dyn Fn() + Sync),
) -> Result<AdaptEvaluation> {
    check_targets(targets)?;
    let n_trials = trials.effective(samples.varies())?;
    let fitted = ProxyPool::new(table);
    // Every target's pool is resolved (and checked) before any proxy is fitted.
    let names: Vec<Vec<String>> = targets.iter().map(|t| resolve_pool(table, proxy, t)).collect::<Result<_>>()?;
    let pools: Vec<Vec<Proxy>> = names.iter().map(|pool| fitted.proxies_named(pool)).collect::<Result<_>>()?;
    let planners: Vec<Option<&AdditivePredictor>> = pools
        .iter()
        .map(|pool| match samples {
            SampleSet::Plan(_) => fitted.planner(proxy, pool).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;
    let mut results = Vec::new();
    for ((target, candidates), &planner) in targets.iter().zip(&pools).zip(&planners) {
        let col = table.device_index(target)?;
        let rows = table.measured_rows(col);
        let all_archs: Vec<Arch> = rows.iter().map(|&r| table.archs()[r].clone()).collect();
        let draws: Vec<Vec<Arch>> = (0..n_trials)
            .map(|t| {
                samples.draw(table.space().space(), &all_archs, planner, target_seed(trials.seed, t, target), target)
            })
            .collect::<Result<_>>()?;
        let trial_results: Vec<Trial> = draws
            .par_iter()
            .map(|archs| {
                let y: Vec<f64> = archs
                    .iter()
                    .map(|a| {
                        table.latency(a, col).ok_or_else(|| {
                            Error::TooFewSamples(format!(
                                "target '{target}' has no measurement for sample architecture {}",
                                table.space().space().format(a)
                            ))
                        })
                    })
                    .collect::<Result<_>>()?;
                // Score on what the adaptation did not see.
                let seen: HashSet<&Arch> = archs.iter().collect();
                let held: Vec<usize> = (0..all_archs.len()).filter(|&i| !seen.contains(&all_archs[i])).collect();
                if held.len() < crate::workflow::score::MIN_SCORED {
                    return Err(Error::TooFewSamples(format!(
                        "target '{target}' cannot be scored: it measured {} architectures, {} of them samples; scoring needs at least {} others",
                        all_archs.len(),
                        archs.len(),
                        crate::workflow::score::MIN_SCORED
                    )));
                }
                let held_archs: Vec<Arch> = held.iter().map(|&i| all_archs[i].clone()).collect();
                let truth: Vec<f64> = held.iter().map(|&i| table.column(col)[rows[i]]).collect();
                let ad = adapt_pool(candidates, archs, &y, params)?;
                let proxy_pred = fitted.get_or_fit(&ad.report.proxy)?;
                on_trial();
                Ok(Trial {
                    proxy: ad.report.proxy.clone(),
                    members: ad.report.members.clone(),
                    form: ad.report.form,
                    lambda: ad.report.lambda,
                    spearman_before: spearman(&proxy_pred.predict(&held_archs, ProxyLatency::Modelled)?, &truth),
                    spearman: spearman(&ad.predictor.predict(&held_archs, ProxyLatency::Measured(table))?, &truth),
                    cv_spearman: ad.report.cv_spearman,
                    status: ad.report.status.clone(),
                })
            })
            .collect::<Result<_>>()?;
        let mean = |f: fn(&Trial) -> f64| trial_results.iter().map(f).sum::<f64>() / trial_results.len() as f64;
        results.push(TargetResult {
            target: target.clone(),
            proxy: most_frequent(trial_results.iter().map(|t| t.proxy.clone())).unwrap_or_default(),
            form: most_frequent(trial_results.iter().map(|t| t.form)).unwrap_or(Form::paper()),
            spearman_before: mean(|t| t.spearman_before),
            spearman_after: mean(|t| t.spearman),
            scored_on: rows.len(),
            trials: trial_results,
        });
    }
    let n = results.len() as f64;
    Ok(AdaptEvaluation {
        mean_before: results.iter().map(|r| r.spearman_before).sum::<f64>() / n,
        mean_after: results.iter().map(|r| r.spearman_after).sum::<f64>() / n,
        targets: results,
    })
}
