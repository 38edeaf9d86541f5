//! The main job (`oneproxy run`): the monotonicity analysis of the bundled devices, then the
//! one-proxy flow for every other device as a target, scored against its table.

use super::evaluate::{evaluate_baselines, evaluate_nas, Baselines, NasSummary, ScoredRun, Trials};
use super::nas::NasConfig;
use super::score::check_scorable;
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::predictor::{DefaultProxy, ProxyCriterion, ProxySelection};
use crate::stats::{correlation_matrix, CorrelationMatrix, Metric, ProxyRecommendation};
use serde::Serialize;

/// Settings of the main job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunConfig {
    /// The proxy; `None`: the recommended proxy ([`crate::predictor::recommend_default`]).
    pub proxy: Option<ProxySelection>,
    /// Targets; empty: every device with data except the proxy.
    pub targets: Vec<String>,
    /// The flow (its `proxy` field is replaced by the one above).
    pub nas: NasConfig,
    /// Also run the `flops` and `always-adapt` baselines.
    pub baselines: bool,
}

/// Why the proxy is the one it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProxyReason {
    /// Named by the user.
    Given,
    /// Chosen per target from a pool.
    Pool,
    /// Recommended by the monotonicity analysis (no shipped ranking for the space).
    Recommended(ProxyRecommendation),
    /// The lowest mean regret when each bundled device served all the others (shipped ranking).
    LowestRegret(crate::data::bundled::RankedProxy),
}

impl ProxyReason {
    /// The reason of a default proxy, from the criterion that chose it.
    fn of(d: &DefaultProxy) -> Self {
        match &d.criterion {
            ProxyCriterion::LowestRegret(r) => ProxyReason::LowestRegret(r.clone()),
            ProxyCriterion::HighestMeanCorrelation { .. } => ProxyReason::Recommended(ProxyRecommendation {
                device: d.device.clone(),
                mean: d.mean,
                min: d.min,
                compared: d.compared,
            }),
        }
    }

    /// Why, in words, for report headers.
    pub fn describe(&self) -> String {
        match self {
            ProxyReason::Given => "given".into(),
            ProxyReason::Pool => "chosen per target from the pool".into(),
            ProxyReason::Recommended(r) => format!("highest mean Spearman with the other measured devices, {:.3}", r.mean),
            ProxyReason::LowestRegret(r) => format!(
                "lowest mean regret, {:.3} points with {:.1} measurements, as the proxy of the other {} bundled devices (scripts/proxy_ranking.sh)",
                r.mean_regret, r.mean_measurements, r.targets
            ),
        }
    }
}

/// A target left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The device.
    pub target: String,
    /// Why it was not run.
    pub reason: String,
}

/// What the main job found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// Correlations between the devices of the panel (devices that measured every architecture).
    #[serde(skip)]
    pub matrix: CorrelationMatrix,
    /// The proxy (a device name, or `auto`).
    pub proxy: String,
    /// Why.
    pub proxy_reason: ProxyReason,
    /// The recommended proxy ([`crate::predictor::recommend_default`], the same as
    /// `monotonicity`'s and `plan`'s), with the criterion that chose it.
    pub recommended_proxy: Option<DefaultProxy>,
    /// Per target.
    pub targets: Vec<ScoredRun>,
    /// Targets that could not be run or scored.
    pub skipped: Vec<Skipped>,
    /// The baselines (`random` always; `flops` and `always-adapt` when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baselines: Option<Baselines>,
    /// Means over the targets.
    #[serde(flatten)]
    pub summary: NasSummary,
}

/// The correlations of the measured devices and the default proxy, leaving out `targets`.
fn recommendation(table: &LatencyTable, targets: &[String]) -> Result<(CorrelationMatrix, Option<DefaultProxy>)> {
    // Devices with a full table rank every architecture: they are the monotonicity panel.
    let measured = table.measured_device_names();
    let full: Vec<String> = measured
        .iter()
        .filter(|d| table.device_index(d).is_ok_and(|i| table.measured_count(i) == table.len()))
        .cloned()
        .collect();
    let panel = if full.len() >= 2 { full } else { measured.clone() };
    // Every target is in the matrix (edgegpu and edgetpu too, over the architectures they share).
    let matrix = correlation_matrix(table, &measured, Metric::Spearman)?;
    // The default proxy: the one every front end recommends (`recommend_default`: the shipped
    // regret ranking's best device present here and not asked for as a target, else the measured
    // device that ranks like the others best); simulated devices are never a default.
    let recommended = crate::predictor::recommend_default(&matrix.subset(&panel), table.space(), targets);
    Ok((matrix, recommended))
}

/// The targets of the main job with its defaults: every measured device but the default proxy
/// that the flow can run and score with `samples` initial samples.
pub fn default_targets(table: &LatencyTable, accuracy: &AccuracyTable, samples: usize) -> Result<Vec<String>> {
    let (_, recommended) = recommendation(table, &[])?;
    let proxy = recommended.map(|r| r.device);
    Ok(table
        .measured_device_names()
        .into_iter()
        .filter(|d| Some(d) != proxy.as_ref() && check_scorable(table, d, accuracy, samples).is_ok())
        .collect())
}

/// Run the main job; `on_target` is called after each target (progress bars).
pub fn run(
    table: &LatencyTable,
    accuracy: &AccuracyTable,
    config: &RunConfig,
    on_target: &(dyn Fn() + Sync),
) -> Result<RunReport> {
    let measured = table.measured_device_names();
    let (matrix, recommended) = recommendation(table, &config.targets)?;
    let (selection, reason) = match (&config.proxy, &recommended) {
        (Some(p @ ProxySelection::Device(_)), _) => (p.clone(), ProxyReason::Given),
        (Some(p @ ProxySelection::Auto { .. }), _) => (p.clone(), ProxyReason::Pool),
        (None, Some(r)) => (ProxySelection::Device(r.device.clone()), ProxyReason::of(r)),
        (None, None) => {
            return Err(Error::TooFewSamples("need at least two measured devices to choose a proxy".into()));
        }
    };
    let proxy_name = selection.to_string();
    let (targets, explicit) = if config.targets.is_empty() {
        (measured.iter().filter(|d| **d != proxy_name).cloned().collect::<Vec<_>>(), false)
    } else {
        (config.targets.clone(), true)
    };
    let nas = NasConfig { proxy: selection, ..config.nas.clone() };
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for t in &targets {
        if let ProxySelection::Device(p) = &nas.proxy {
            if p == t {
                return Err(Error::InvalidParameter(format!(
                    "'{t}' is the proxy of this run, so it cannot also be a target: leave it out of the targets or choose another proxy"
                )));
            }
        }
        match check_scorable(table, t, accuracy, nas.samples.len()) {
            Ok(_) => kept.push(t.clone()),
            Err(e) if !explicit => skipped.push(Skipped { target: t.clone(), reason: e.to_string() }),
            Err(e) => return Err(e),
        }
    }
    if kept.is_empty() {
        return Err(Error::TooFewSamples(format!(
            "no target device can be run and scored{}",
            skipped.first().map_or(String::new(), |s| format!(" ({})", s.reason))
        )));
    }
    let trials = Trials { count: 1, seed: nas.seed };
    let runs = evaluate_nas(table, accuracy, &kept, &nas, trials, on_target)?;
    let baselines = if config.baselines {
        evaluate_baselines(table, accuracy, &kept, &nas, trials, &runs, &|| {})?
    } else {
        Baselines::random_only(&runs)
    };
    Ok(RunReport {
        matrix,
        proxy: proxy_name,
        proxy_reason: reason,
        recommended_proxy: recommended,
        summary: NasSummary::of(&runs),
        targets: runs,
        skipped,
        baselines: Some(baselines),
    })
}
