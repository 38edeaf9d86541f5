//! The flow's baselines (random at the same count, flops as proxy, always adapt) and the
//! scores over trials they are compared by.

use super::nas::{evaluate_nas, ScoredRun};
use super::trials::Trials;
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::Result;
use crate::predictor::ProxySelection;
use crate::workflow::nas::NasConfig;
use serde::{Deserialize, Serialize};

/// Mean and standard deviation (sample, n - 1; 0 for one value) over trials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
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
