//! The main job (`oneproxy run`): the monotonicity analysis of the bundled devices, then the
//! one-proxy flow for every other device as a target, scored against its table.

use super::evaluate::{evaluate_nas, NasSummary, ScoredRun, Trials};
use super::nas::NasConfig;
use super::proxy::ProxySelection;
use super::score::check_scorable;
use crate::accuracy::AccuracyTable;
use crate::error::{Error, Result};
use crate::stats::{correlation_matrix, CorrelationMatrix, Metric, ProxyRecommendation};
use crate::table::LatencyTable;
use serde::Serialize;

/// Settings of the main job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunConfig {
    /// The proxy; `None`: the device recommended by the monotonicity analysis.
    pub proxy: Option<ProxySelection>,
    /// Targets; empty: every device with data except the proxy.
    pub targets: Vec<String>,
    /// The flow (its `proxy` field is replaced by the one above).
    pub nas: NasConfig,
}

/// Why the proxy is the one it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProxyReason {
    /// Named by the user.
    Given,
    /// Chosen per target from a pool.
    Pool,
    /// Recommended by the monotonicity analysis.
    Recommended(ProxyRecommendation),
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
    /// The recommendation of the monotonicity analysis.
    pub recommended_proxy: Option<ProxyRecommendation>,
    /// Per target.
    pub targets: Vec<ScoredRun>,
    /// Targets that could not be run or scored.
    pub skipped: Vec<Skipped>,
    /// Means over the targets.
    #[serde(flatten)]
    pub summary: NasSummary,
}

/// Run the main job; `on_target` is called after each target (progress bars).
pub fn run(table: &LatencyTable, accuracy: &AccuracyTable, config: &RunConfig, on_target: &(dyn Fn() + Sync)) -> Result<RunReport> {
    // Devices with a full table rank every architecture: they are the monotonicity panel.
    let measured = table.measured_device_names();
    let full: Vec<String> = measured
        .iter()
        .filter(|d| table.device_index(d).is_ok_and(|i| table.measured_count(i) == table.len()))
        .cloned()
        .collect();
    let panel = if full.len() >= 2 { full } else { measured.clone() };
    let matrix = correlation_matrix(table, &panel, Metric::Spearman)?;
    let recommended = matrix.recommended_proxy();
    let (selection, reason) = match (&config.proxy, &recommended) {
        (Some(p @ ProxySelection::Device(_)), _) => (p.clone(), ProxyReason::Given),
        (Some(p @ ProxySelection::Auto { .. }), _) => (p.clone(), ProxyReason::Pool),
        (None, Some(r)) => (ProxySelection::Device(r.device.clone()), ProxyReason::Recommended(r.clone())),
        (None, None) => return Err(Error::TooFewSamples("need at least two devices to choose a proxy".into())),
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
    let runs = evaluate_nas(table, accuracy, &kept, &nas, Trials { count: 1, seed: nas.seed }, on_target)?;
    Ok(RunReport {
        matrix,
        proxy: proxy_name,
        proxy_reason: reason,
        recommended_proxy: recommended,
        summary: NasSummary::of(&runs),
        targets: runs,
        skipped,
    })
}
