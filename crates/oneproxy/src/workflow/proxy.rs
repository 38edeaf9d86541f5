//! Which device stands in for the target: one named proxy, or a pool chosen from on the samples.
//!
//! Every workflow resolves its proxies here, so that `run`, `nas` and both evaluations agree on
//! the default pool and on what happens when a target is its own proxy.

use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::predictor::AdditivePredictor;
use crate::space::Arch;
use crate::stats::{correlation_matrix, Metric, ProxyRecommendation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The proxy device of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxySelection {
    /// One named device.
    Device(String),
    /// The pool member whose latencies rank the target's samples best (the flow), or whose
    /// adapted predictor cross-validates best (the adaptation). `None`: every device of the
    /// table with enough measurements for an additive predictor, except the target and
    /// simulated devices ([`crate::data::bundled::is_simulated`]).
    Auto {
        /// Candidate proxies.
        pool: Option<Vec<String>>,
    },
}

impl Default for ProxySelection {
    fn default() -> Self {
        ProxySelection::Auto { pool: None }
    }
}

impl std::fmt::Display for ProxySelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxySelection::Device(d) => f.write_str(d),
            ProxySelection::Auto { .. } => f.write_str("auto"),
        }
    }
}

/// Fewest measurements a device needs to serve as a proxy: one more than the space's features
/// (capped at 31), so that its additive predictor is determined.
pub fn min_proxy_measurements(table: &LatencyTable) -> usize {
    table.space().space().num_features().min(30) + 1
}

/// The candidate proxies of `target` (never the target itself).
pub fn resolve_pool(table: &LatencyTable, selection: &ProxySelection, target: &str) -> Result<Vec<String>> {
    let list: Vec<String> = match selection {
        ProxySelection::Device(d) => {
            if d == target {
                return Err(Error::InvalidParameter(format!(
                    "'{target}' is the proxy: a device cannot be its own target (choose another proxy, or leave '{target}' out of the targets)"
                )));
            }
            vec![d.clone()]
        }
        ProxySelection::Auto { pool: None } => {
            let min = min_proxy_measurements(table);
            table
                .measured_device_names()
                .into_iter()
                .filter(|d| d != target && table.device_index(d).is_ok_and(|i| table.measured_count(i) >= min))
                .filter(|d| !crate::data::bundled::is_simulated(table.space(), d))
                .collect()
        }
        ProxySelection::Auto { pool: Some(p) } => p.iter().filter(|d| *d != target).cloned().collect(),
    };
    for d in &list {
        table.device_index(d)?;
    }
    if list.is_empty() {
        return Err(Error::InvalidParameter(format!("no proxy candidate for target '{target}'")));
    }
    Ok(list)
}

/// The device that ranks architectures most like the others among `devices` (Spearman over
/// their common architectures), with its mean and minimum correlation.
pub fn recommend(table: &LatencyTable, devices: &[String]) -> Result<Option<ProxyRecommendation>> {
    Ok(correlation_matrix(table, devices, Metric::Spearman)?.recommended_proxy())
}

/// The device a plan of samples spans: the named proxy, or the recommended device of the pool.
pub fn planner(table: &LatencyTable, selection: &ProxySelection, pool: &[String]) -> Result<String> {
    match selection {
        ProxySelection::Device(d) => Ok(d.clone()),
        ProxySelection::Auto { .. } => Ok(recommend(table, pool)?.map_or_else(|| pool[0].clone(), |r| r.device)),
    }
}

/// AdaProxy for one target from its samples (`oneproxy adapt`, Python's `oneproxy.adapt`).
#[derive(Debug, Clone)]
pub struct TargetAdaptation {
    /// The candidate proxies (the pool of `selection`, without the target).
    pub candidates: Vec<String>,
    /// The adapted predictor, named after the target, and its report.
    pub adapted: crate::predictor::Adapted,
    /// Spearman between the chosen proxy's own predictor and the samples, before adaptation.
    pub spearman_before: f64,
}

/// Adapt the proxies of `selection` (fitted on all their measurements in `table`) to `target`
/// with its measured samples; `progress(done, total)` counts the (proxy, form) candidates.
pub fn adapt_target(
    table: &LatencyTable,
    selection: &ProxySelection,
    target: &str,
    archs: &[Arch],
    latency_ms: &[f64],
    params: &crate::predictor::AdaptParams,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<TargetAdaptation> {
    let candidates = resolve_pool(table, selection, target)?;
    let mut cache = ProxyPredictors::default();
    cache.prefit(table, &candidates)?;
    let proxies: Vec<crate::predictor::Proxy> = candidates
        .iter()
        .map(|c| crate::predictor::Proxy::with_table(cache.fitted(c)?, table))
        .collect::<Result<_>>()?;
    let mut adapted = crate::predictor::adapt_pool_with_progress(&proxies, archs, latency_ms, params, progress)?;
    let before = crate::stats::spearman(&cache.fitted(&adapted.report.proxy)?.predict_all(archs), latency_ms);
    adapted.predictor.device = target.to_string();
    Ok(TargetAdaptation { candidates, adapted, spearman_before: before })
}

/// Additive predictors of proxy devices, fitted once on all their measurements and shared.
#[derive(Debug, Default, Clone)]
pub struct ProxyPredictors {
    fitted: HashMap<String, AdditivePredictor>,
}

impl ProxyPredictors {
    /// A predictor fitted earlier by [`ProxyPredictors::get`] or [`ProxyPredictors::prefit`].
    pub fn get_fitted(&self, device: &str) -> Option<&AdditivePredictor> {
        self.fitted.get(device)
    }

    /// A fitted predictor, or an error naming the device (for code that fitted up front).
    pub fn fitted(&self, device: &str) -> Result<&AdditivePredictor> {
        self.fitted
            .get(device)
            .ok_or_else(|| Error::InvalidParameter(format!("no predictor was fitted for proxy '{device}'")))
    }

    /// Fit every named device that is not fitted yet.
    pub fn prefit<'a>(&mut self, table: &LatencyTable, devices: impl IntoIterator<Item = &'a String>) -> Result<()> {
        for d in devices {
            self.get(table, d)?;
        }
        Ok(())
    }

    /// The additive predictor of a device, fitted on all its measurements.
    pub fn get(&mut self, table: &LatencyTable, device: &str) -> Result<&AdditivePredictor> {
        if !self.fitted.contains_key(device) {
            let col = table.device_index(device)?;
            let rows = table.measured_rows(col);
            let space = table.space().space();
            let min = min_proxy_measurements(table);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::SpaceId;

    #[test]
    fn pools_never_hold_the_target() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let pool = resolve_pool(t, &ProxySelection::default(), "pixel3").unwrap();
        assert!(!pool.contains(&"pixel3".to_string()) && pool.len() > 20);
        let named = ProxySelection::Auto { pool: Some(vec!["pixel3".into(), "raspi4".into()]) };
        assert_eq!(resolve_pool(t, &named, "raspi4").unwrap(), vec!["pixel3".to_string()]);
        let err = resolve_pool(t, &ProxySelection::Device("fpga".into()), "fpga").unwrap_err().to_string();
        assert!(err.contains("'fpga' is the proxy"), "{err}");
        assert!(resolve_pool(t, &ProxySelection::Device("nope".into()), "fpga").is_err());
    }
}
