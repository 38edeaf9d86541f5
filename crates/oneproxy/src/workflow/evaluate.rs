//! Evaluations against recorded tables: AdaProxy's ranking quality, and the whole flow's
//! result, per target and trial, each scored only on what the method did not see.

use super::nas::{Flow, NasConfig, NasOutcome};
use super::oracle::TableOracle;
use super::samples::{target_seed, SampleSet};
use super::score::{check_scorable, score_against, Score, Truth, RANDOM_DRAWS};
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::predictor::proxies::resolve_pool;
use crate::predictor::{
    adapt_pool, AdaptParams, AdditivePredictor, Form, Member, Proxy, ProxyLatency, ProxyPool, ProxySelection,
};
use crate::space::Arch;
use crate::stats::spearman;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Trials of an evaluation: `count` trials seeded `seed, seed + 1, ...` (one for a fixed
/// sample set, which gives the same result every time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trials {
    /// Number of trials.
    pub count: usize,
    /// Seed of the first trial.
    pub seed: u64,
}

impl Default for Trials {
    fn default() -> Self {
        Trials { count: 1, seed: 0 }
    }
}

impl Trials {
    /// Target samples per trial of the evaluation protocol (the paper's K = 10), which
    /// `evaluate adapt` and `evaluate nas` draw unless told otherwise. Not the NAS flow's
    /// default ([`super::SampleSet::default`]): evaluations compare with the paper at its K.
    pub const SAMPLES: usize = 10;

    /// Trials that can differ: a fixed sample set gives an adaptation the same result every
    /// time (`varies == false`), while the flow still draws its extra adaptation samples at random.
    pub fn effective(self, varies: bool) -> Result<usize> {
        if self.count == 0 {
            return Err(Error::bad_parameter("trials", "at least one trial is needed"));
        }
        Ok(if varies { self.count } else { 1 })
    }
}

fn check_targets(targets: &[String]) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::InvalidParameter("no target device given".into()));
    }
    let mut seen = HashSet::new();
    if let Some(t) = targets.iter().find(|t| !seen.insert(t.as_str())) {
        return Err(Error::InvalidParameter(format!("target '{t}' is listed twice")));
    }
    Ok(())
}

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
                if held.len() < super::score::MIN_SCORED {
                    return Err(Error::TooFewSamples(format!(
                        "target '{target}' cannot be scored: it measured {} architectures, {} of them samples; scoring needs at least {} others",
                        all_archs.len(),
                        archs.len(),
                        super::score::MIN_SCORED
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

/// One target, one trial of the flow, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRun {
    /// Trial number (0-based).
    pub trial: usize,
    /// What the flow did.
    #[serde(flatten)]
    pub outcome: NasOutcome,
    /// How well it did.
    #[serde(flatten)]
    pub score: Score,
}

/// Means over scored runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NasSummary {
    /// Mean regret per latency budget (accuracy points), the primary score.
    pub mean_regret: f64,
    /// Mean regret of the random baseline at the same measurement counts.
    pub mean_random_regret: Option<f64>,
    /// Mean fraction of the true front found.
    pub mean_pareto_recall: f64,
    /// Mean `hv_ratio`.
    pub mean_hv_ratio: f64,
    /// Picks whose latency exceeds their constraint.
    pub violations: usize,
    /// Mean gap to the best accuracy within each constraint (points), if any constraint.
    pub mean_accuracy_gap: Option<f64>,
    /// Mean target measurements per run.
    pub mean_measurements: f64,
}

impl NasSummary {
    /// The summary of `runs`.
    pub fn of(runs: &[ScoredRun]) -> Self {
        let gaps: Vec<f64> =
            runs.iter().flat_map(|r| r.score.constraints.iter().filter_map(|c| c.accuracy_gap)).collect();
        let n = runs.len().max(1) as f64;
        let random: Vec<f64> = runs.iter().filter_map(|r| r.score.random_regret).collect();
        NasSummary {
            mean_regret: runs.iter().map(|r| r.score.regret).sum::<f64>() / n,
            mean_random_regret: (random.len() == runs.len() && !runs.is_empty())
                .then(|| random.iter().sum::<f64>() / n),
            mean_pareto_recall: runs.iter().map(|r| r.score.pareto_recall).sum::<f64>() / n,
            mean_hv_ratio: runs.iter().map(|r| r.score.hv_ratio).sum::<f64>() / n,
            violations: runs.iter().map(|r| r.score.constraints.iter().filter(|c| c.violated).count()).sum(),
            mean_accuracy_gap: (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64),
            mean_measurements: runs.iter().map(|r| r.outcome.measurements as f64).sum::<f64>() / n,
        }
    }
}

/// Mean and standard deviation (sample, n - 1; 0 for one value) over trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
}

impl Spread {
    /// The spread of `values`.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n.max(1.0);
        let var =
            if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        Spread { mean, std: var.sqrt() }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(3);
        write!(f, "{:.p$} ± {:.p$}", self.mean, self.std)
    }
}

/// A method's score over trials: per trial the mean over targets, then mean ± std over trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MethodScore {
    /// Mean regret per latency budget (points).
    pub regret: Spread,
    /// Target measurements per target.
    pub measurements: Spread,
}

impl MethodScore {
    /// The score of `runs` with `regret` read from each run (the flow's own, or a baseline's).
    pub fn of(runs: &[ScoredRun], regret: impl Fn(&ScoredRun) -> Option<f64>) -> Option<Self> {
        let trials: std::collections::BTreeSet<usize> = runs.iter().map(|r| r.trial).collect();
        let mut regrets = Vec::new();
        let mut counts = Vec::new();
        for t in trials {
            let these: Vec<&ScoredRun> = runs.iter().filter(|r| r.trial == t).collect();
            let values: Vec<f64> = these.iter().map(|r| regret(r)).collect::<Option<_>>()?;
            regrets.push(values.iter().sum::<f64>() / values.len() as f64);
            counts.push(these.iter().map(|r| r.outcome.measurements as f64).sum::<f64>() / these.len() as f64);
        }
        (!regrets.is_empty()).then(|| MethodScore { regret: Spread::of(&regrets), measurements: Spread::of(&counts) })
    }
}

/// The method's baselines, run on the same targets and trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    /// As many uniformly random architectures as the method measured, front taken.
    pub random: Option<MethodScore>,
    /// The flow with the `flops` pseudo-device as proxy (no proxy measurements at all).
    pub flops: Option<MethodScore>,
    /// The flow with reuse disabled: always adapt.
    #[serde(rename = "always-adapt")]
    pub always_adapt: Option<MethodScore>,
}

impl Baselines {
    /// Only the random baseline, which costs no flow run.
    pub fn random_only(runs: &[ScoredRun]) -> Self {
        Baselines { random: MethodScore::of(runs, |r| r.score.random_regret), flops: None, always_adapt: None }
    }
}

/// The baselines of `runs` (the method's scored runs for `targets` and `trials` under `config`).
/// `flops` is left out when the table has no `flops` column or the method already uses it, and
/// `always-adapt` when the method never reuses.
pub fn evaluate_baselines(
    table: &LatencyTable,
    accuracy: &AccuracyTable,
    targets: &[String],
    config: &NasConfig,
    trials: Trials,
    runs: &[ScoredRun],
    on_run: &(dyn Fn() + Sync),
) -> Result<Baselines> {
    let Baselines { random, .. } = Baselines::random_only(runs);
    let flops = match &config.proxy {
        ProxySelection::Device(d) if d == "flops" => None,
        _ if table.device_index("flops").is_err() => None,
        _ => {
            let c = NasConfig { proxy: ProxySelection::Device("flops".into()), ..config.clone() };
            let targets: Vec<String> = targets.iter().filter(|t| *t != "flops").cloned().collect();
            MethodScore::of(&evaluate_nas(table, accuracy, &targets, &c, trials, on_run)?, |r| Some(r.score.regret))
        }
    };
    let always_adapt = if config.reuse {
        let c = NasConfig { reuse: false, ..config.clone() };
        MethodScore::of(&evaluate_nas(table, accuracy, targets, &c, trials, on_run)?, |r| Some(r.score.regret))
    } else {
        None
    };
    Ok(Baselines { random, flops, always_adapt })
}

/// Run the flow for every target and trial, each target's recorded table standing in for the
/// device, and score it. Runs are independent (each target's stream comes from the seed, the
/// trial and its name) and run in parallel; the result is in (target, trial) order.
pub fn evaluate_nas(
    table: &LatencyTable,
    accuracy: &AccuracyTable,
    targets: &[String],
    config: &NasConfig,
    trials: Trials,
    on_run: &(dyn Fn() + Sync),
) -> Result<Vec<ScoredRun>> {
    check_targets(targets)?;
    config.check()?;
    let n_trials = trials.effective(true)?;
    let flow = Flow::new(table, accuracy);
    for t in targets {
        check_scorable(table, t, accuracy, config.samples.len())?;
        flow.prepare(config, t)?;
    }
    let truths: Vec<Truth> = targets.par_iter().map(|t| Truth::new(table, t, accuracy)).collect::<Result<_>>()?;
    let jobs: Vec<(usize, usize)> = (0..targets.len()).flat_map(|t| (0..n_trials).map(move |k| (t, k))).collect();
    jobs.par_iter()
        .map(|&(t, trial)| {
            let target = &targets[t];
            let mut oracle = TableOracle::new(table, target)?;
            let stream = target_seed(trials.seed, trial, target);
            let mut outcome =
                flow.run_prepared(&mut oracle, config, stream, &mut |_| {}).map_err(|e| in_target(target, e))?;
            outcome.measured.clear();
            let mut score = score_against(&outcome, &truths[t])?;
            // The random baseline draws from its own stream, not the flow's.
            score.random_regret =
                Some(truths[t].random_regret(outcome.measurements, RANDOM_DRAWS, stream ^ 0x5eed_0000_0000_0001));
            on_run();
            Ok(ScoredRun { trial, outcome, score })
        })
        .collect()
}

/// Name the target in an error unless the message already does.
fn in_target(target: &str, e: Error) -> Error {
    if e.to_string().contains(&format!("'{target}'")) {
        e
    } else {
        e.context(format!("target '{target}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
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
        let help = SampleSet::help10(SpaceId::Nb201).unwrap();
        for penalty in [Penalty::L1, Penalty::L2, Penalty::Linf] {
            let params = AdaptParams { penalty, form: FormChoice::Fixed(Form::paper()), ..AdaptParams::default() };
            let e = evaluate_adapt(
                &b.latency,
                &targets,
                &ProxySelection::Device("pixel3".into()),
                &help,
                Trials::default(),
                &params,
                &|| {},
            )
            .unwrap();
            for t in &e.targets {
                let status = &t.trials[0].status;
                assert!(["solved", "almost_solved", "exact"].contains(&status.as_str()), "{}: {status}", t.target);
                assert!(t.spearman_after.is_finite());
            }
        }
    }

    /// A target's result does not depend on the other targets of the same evaluation.
    #[test]
    fn results_per_target_do_not_depend_on_the_company() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let config = NasConfig { proxy: ProxySelection::Device("pixel3".into()), ..NasConfig::default() };
        let trials = Trials { count: 2, seed: 3 };
        let both =
            evaluate_nas(&b.latency, acc, &["eyeriss".into(), "pixel2".into()], &config, trials, &|| {}).unwrap();
        let alone = evaluate_nas(&b.latency, acc, &["pixel2".into()], &config, trials, &|| {}).unwrap();
        assert_eq!(both[2..], alone[..]);
        let adapt = |targets: &[String]| {
            evaluate_adapt(
                &b.latency,
                targets,
                &ProxySelection::Device("pixel3".into()),
                &SampleSet::Random(10),
                trials,
                &AdaptParams::default(),
                &|| {},
            )
            .unwrap()
        };
        assert_eq!(adapt(&["fpga".into(), "raspi4".into()]).targets[1], adapt(&["raspi4".into()]).targets[0]);
        assert!(evaluate_nas(&b.latency, acc, &["pixel2".into(), "pixel2".into()], &config, trials, &|| {}).is_err());
    }

    /// A device with only a few measured rows is not scored on its own samples.
    #[test]
    fn small_targets_are_not_scored_on_their_samples() {
        let mut t = bundle(SpaceId::Nb201).unwrap().latency.clone();
        let archs: Vec<Arch> = t.archs()[..12].to_vec();
        let col = t.device_index("raspi4").unwrap();
        let values: Vec<(Arch, f64)> = archs.iter().map(|a| (a.clone(), t.latency(a, col).unwrap())).collect();
        t.add_device("board", crate::data::DeviceSource::Computed("test".into()), values).unwrap();
        let err = evaluate_adapt(
            &t,
            &["board".into()],
            &ProxySelection::Device("pixel3".into()),
            &SampleSet::Random(10),
            Trials::default(),
            &AdaptParams::default(),
            &|| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot be scored"), "{err}");
        let acc = bundle(SpaceId::Nb201).unwrap().accuracy("cifar100").unwrap();
        let err = evaluate_nas(&t, acc, &["board".into()], &NasConfig::default(), Trials::default(), &|| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be scored"), "{err}");
    }
}

#[cfg(test)]
mod baseline_tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::SpaceId;

    #[test]
    fn spread_is_mean_and_sample_std() {
        let s = Spread::of(&[1.0, 2.0, 3.0]);
        assert_eq!((s.mean, s.std), (2.0, 1.0));
        assert_eq!(Spread::of(&[4.0]).std, 0.0);
        assert_eq!(format!("{:.1}", s), "2.0 ± 1.0");
    }

    /// The default flow beats its random baseline at the same count by far, every baseline is
    /// there, and the measurement counts agree with the runs.
    #[test]
    fn baselines_run_beside_the_method() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let mut table = b.latency.clone();
        table.add_cost_devices().unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let targets: Vec<String> = ["pixel2", "gold_6226", "titanx_32"].iter().map(|s| s.to_string()).collect();
        let config = NasConfig { proxy: ProxySelection::Device("raspi4".into()), ..NasConfig::default() };
        let trials = Trials { count: 2, seed: 0 };
        let runs = evaluate_nas(&table, acc, &targets, &config, trials, &|| {}).unwrap();
        let method = MethodScore::of(&runs, |r| Some(r.score.regret)).unwrap();
        let base = evaluate_baselines(&table, acc, &targets, &config, trials, &runs, &|| {}).unwrap();
        let random = base.random.unwrap();
        assert!(random.regret.mean > 5.0 * method.regret.mean, "{random:?} vs {method:?}");
        assert_eq!(random.measurements, method.measurements);
        assert!(base.flops.is_some() && base.always_adapt.is_some());
        let mean_count = runs.iter().map(|r| r.outcome.measurements as f64).sum::<f64>() / runs.len() as f64;
        assert!((method.measurements.mean - mean_count).abs() < 1e-9);
        // Nothing to compare with: an always-adapting method has no always-adapt baseline.
        let never = NasConfig { reuse: false, ..config.clone() };
        let r2 = evaluate_nas(&table, acc, &targets[..1], &never, Trials::default(), &|| {}).unwrap();
        assert!(r2.iter().all(|r| r.outcome.decision == crate::workflow::Decision::Adapt));
        assert!(evaluate_baselines(&table, acc, &targets[..1], &never, Trials::default(), &r2, &|| {})
            .unwrap()
            .always_adapt
            .is_none());
    }
}
