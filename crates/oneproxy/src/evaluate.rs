//! Evaluation of AdaProxy against full target tables (`oneproxy evaluate adapt`).
//!
//! For each target device, draw K architectures it measured (or a fixed set such as HELP's 10
//! reference architectures), adapt the proxy's predictor with them, and score the adapted
//! predictor by Spearman's rho against *every* architecture measured on the target.

use crate::error::{Error, Result};
use crate::predictor::{adapt_pool, AdaptParams, AdditivePredictor, Form, Proxy};
use crate::space::{seeded_rng, Arch};
use crate::stats::spearman;
use crate::table::LatencyTable;
use rand::seq::index::sample;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which proxy to adapt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProxyChoice {
    /// One named device.
    Device(String),
    /// The pool member whose adapted predictor cross-validates best on the target samples.
    Auto {
        /// Candidate proxies (the target itself is always excluded).
        pool: Vec<String>,
    },
}

/// Which target architectures are measured for the adaptation.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleSet {
    /// `trials` independent draws of `k` architectures measured on the target, seeded.
    Random {
        /// Samples per trial.
        k: usize,
        /// Number of trials.
        trials: usize,
        /// Seed of the first trial (trial t uses seed + t, and the target's position).
        seed: u64,
    },
    /// A fixed list of architectures (e.g. HELP's 10 for NB201); one trial.
    Fixed(Vec<Arch>),
    /// `trials` plans ([`crate::plan::plan`]) of `k` architectures among those the target
    /// measured, seeded, spanning the latency range of the proxy (with `auto`, the pool's
    /// recommended proxy).
    Plan {
        /// Samples per trial.
        k: usize,
        /// Number of trials.
        trials: usize,
        /// Seed of the first trial.
        seed: u64,
    },
}

/// Fits additive predictors of proxy devices once and keeps them.
#[derive(Debug, Default)]
pub struct ProxyPredictors {
    fitted: HashMap<String, AdditivePredictor>,
}

impl ProxyPredictors {
    /// A predictor fitted earlier by [`ProxyPredictors::get`].
    pub fn get_fitted(&self, device: &str) -> Option<&AdditivePredictor> {
        self.fitted.get(device)
    }

    /// The additive predictor of a device, fitted on all its measurements.
    pub fn get(&mut self, table: &LatencyTable, device: &str) -> Result<&AdditivePredictor> {
        if !self.fitted.contains_key(device) {
            let col = table.device_index(device)?;
            let rows = table.measured_rows(col);
            let space = table.space().space();
            let min = space.num_features().min(30) + 1;
            if rows.len() < min {
                return Err(Error::TooFewSamples(format!(
                    "proxy '{device}' has {} measurements; an additive predictor for {} needs at least {min}",
                    rows.len(),
                    table.space()
                )));
            }
            let archs: Vec<Arch> = rows.iter().map(|&r| table.archs()[r].clone()).collect();
            let y: Vec<f64> = rows.iter().map(|&r| table.column(col)[r]).collect();
            let p = AdditivePredictor::fit(space, device, &archs, &y, 1e-6)?;
            self.fitted.insert(device.to_string(), p);
        }
        Ok(&self.fitted[device])
    }
}

/// One adaptation trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Proxy of the best candidate.
    pub proxy: String,
    /// Every candidate averaged into the predictor (proxy, form, lambda).
    pub members: Vec<crate::predictor::Member>,
    /// Form chosen.
    pub form: Form,
    /// Lambda chosen (`"none"` in JSON when infinite: no correction).
    #[serde(with = "crate::predictor::json_numbers::lambda")]
    pub lambda: f64,
    /// Spearman of the unadapted proxy predictor on the target's measured architectures.
    pub spearman_before: f64,
    /// Spearman of the adapted predictor on the target's measured architectures.
    pub spearman: f64,
    /// Cross-validated Spearman on the samples (`"undefined"` in JSON when NaN).
    #[serde(with = "crate::predictor::json_numbers::undefined")]
    pub cv_spearman: f64,
    /// Status of the final solve (`exact`, `solved`, `almost_solved`).
    pub status: String,
}

/// Results for one target.
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
    /// Architectures the target measured (the scoring set).
    pub scored_on: usize,
    /// Per-trial results.
    pub trials: Vec<Trial>,
}

/// A whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptEvaluation {
    /// Per target.
    pub targets: Vec<TargetResult>,
    /// Mean over targets of `spearman_before`.
    pub mean_before: f64,
    /// Mean over targets of `spearman_after`.
    pub mean_after: f64,
}

fn most_frequent<T: Clone + Eq + std::hash::Hash>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: Vec<(T, usize)> = Vec::new();
    for it in items {
        match counts.iter_mut().find(|(k, _)| *k == it) {
            Some((_, c)) => *c += 1,
            None => counts.push((it, 1)),
        }
    }
    counts.iter().fold(None::<&(T, usize)>, |b, c| if b.is_none_or(|b| c.1 > b.1) { Some(c) } else { b }).map(|c| c.0.clone())
}

/// Run the evaluation.
pub fn evaluate_adapt(
    table: &LatencyTable,
    targets: &[String],
    proxy: &ProxyChoice,
    samples: &SampleSet,
    params: &AdaptParams,
) -> Result<AdaptEvaluation> {
    evaluate_adapt_with_progress(table, targets, proxy, samples, params, &|| {})
}

/// [`evaluate_adapt`], calling `on_trial` after every finished trial (for progress bars).
pub fn evaluate_adapt_with_progress(
    table: &LatencyTable,
    targets: &[String],
    proxy: &ProxyChoice,
    samples: &SampleSet,
    params: &AdaptParams,
    on_trial: &(dyn Fn() + Sync),
) -> Result<AdaptEvaluation> {
    if targets.is_empty() {
        return Err(Error::InvalidParameter("no target device given".into()));
    }
    let mut cache = ProxyPredictors::default();
    let pool: Vec<String> = match proxy {
        ProxyChoice::Device(d) => vec![d.clone()],
        ProxyChoice::Auto { pool } => pool.clone(),
    };
    for p in &pool {
        cache.get(table, p)?;
    }
    let mut results = Vec::new();
    for (ti, target) in targets.iter().enumerate() {
        let col = table.device_index(target)?;
        let rows = table.measured_rows(col);
        let all_archs: Vec<Arch> = rows.iter().map(|&r| table.archs()[r].clone()).collect();
        let truth: Vec<f64> = rows.iter().map(|&r| table.column(col)[r]).collect();
        let candidates: Vec<Proxy> = pool
            .iter()
            .filter(|p| *p != target)
            .map(|p| Proxy::with_table(&cache.fitted[p], table))
            .collect::<Result<_>>()?;
        if candidates.is_empty() {
            return Err(Error::InvalidParameter(format!("no proxy left for target '{target}' (a device cannot be its own proxy)")));
        }
        let draws: Vec<Vec<Arch>> = match samples {
            SampleSet::Random { k, trials, seed } => {
                if *k > rows.len() {
                    return Err(Error::TooFewSamples(format!(
                        "target '{target}' measured {} architectures, fewer than the {k} samples asked for",
                        rows.len()
                    )));
                }
                (0..*trials)
                    .map(|t| {
                        let mut rng = seeded_rng(seed.wrapping_add(t as u64).wrapping_mul(1000).wrapping_add(ti as u64));
                        sample(&mut rng, rows.len(), *k).into_iter().map(|i| all_archs[i].clone()).collect()
                    })
                    .collect()
            }
            SampleSet::Fixed(list) => vec![list.clone()],
            SampleSet::Plan { k, trials, seed } => {
                let planner = match proxy {
                    ProxyChoice::Device(d) => d.clone(),
                    ProxyChoice::Auto { .. } => {
                        let names: Vec<String> = pool.iter().filter(|p| *p != target).cloned().collect();
                        let m = crate::stats::correlation_matrix(table, &names, crate::stats::Metric::Spearman)?;
                        m.recommended_proxy().map_or_else(|| names[0].clone(), |r| r.device)
                    }
                };
                let planner = &cache.fitted[&planner];
                (0..*trials)
                    .map(|t| crate::plan::plan(table.space().space(), planner, &all_archs, *k, seed.wrapping_add(t as u64)))
                    .collect::<Result<_>>()?
            }
        };
        let trials: Vec<Trial> = draws
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
                let ad = adapt_pool(&candidates, archs, &y, params)?;
                let proxy_pred = &cache.fitted[&ad.report.proxy];
                on_trial();
                Ok(Trial {
                    proxy: ad.report.proxy.clone(),
                    members: ad.report.members.clone(),
                    form: ad.report.form,
                    lambda: ad.report.lambda,
                    spearman_before: spearman(&proxy_pred.predict_all(&all_archs), &truth),
                    spearman: spearman(&ad.predictor.predict_with(&all_archs, table)?, &truth),
                    cv_spearman: ad.report.cv_spearman,
                    status: ad.report.status.clone(),
                })
            })
            .collect::<Result<_>>()?;
        let mean = |f: fn(&Trial) -> f64| trials.iter().map(f).sum::<f64>() / trials.len() as f64;
        results.push(TargetResult {
            target: target.clone(),
            proxy: most_frequent(trials.iter().map(|t| t.proxy.clone())).unwrap_or_default(),
            form: most_frequent(trials.iter().map(|t| t.form)).unwrap_or(Form::PerFeature),
            spearman_before: mean(|t| t.spearman_before),
            spearman_after: mean(|t| t.spearman),
            scored_on: rows.len(),
            trials,
        });
    }
    let n = results.len() as f64;
    Ok(AdaptEvaluation {
        mean_before: results.iter().map(|r| r.spearman_before).sum::<f64>() / n,
        mean_after: results.iter().map(|r| r.spearman_after).sum::<f64>() / n,
        targets: results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundled::{bundle, HELP10_NB201};
    use crate::predictor::{FormChoice, Penalty};
    use crate::SpaceId;

    /// The paper's code divided milliseconds by 1000 and some of its solves failed; ours scale
    /// every problem to O(1). Every device of NB201 as a target, every conic norm: all converge.
    #[test]
    fn every_nb201_pair_converges_for_every_norm() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let targets: Vec<String> = (0..b.latency.devices().len())
            .filter(|&i| b.latency.measured_count(i) == b.latency.len())
            .map(|i| b.latency.devices()[i].name.clone())
            .filter(|d| d != "pixel3")
            .collect();
        let help: Vec<Arch> = HELP10_NB201.iter().map(|&i| b.archs[i].clone()).collect();
        for penalty in [Penalty::L1, Penalty::L2, Penalty::Linf] {
            let params = AdaptParams { penalty, form: FormChoice::Fixed(Form::PerFeature), ..AdaptParams::default() };
            let e = evaluate_adapt(&b.latency, &targets, &ProxyChoice::Device("pixel3".into()), &SampleSet::Fixed(help.clone()), &params)
                .unwrap();
            for t in &e.targets {
                let status = &t.trials[0].status;
                assert!(["solved", "almost_solved", "exact"].contains(&status.as_str()), "{}: {status}", t.target);
                assert!(t.spearman_after.is_finite());
            }
        }
    }
}
