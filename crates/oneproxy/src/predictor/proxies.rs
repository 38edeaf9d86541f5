//! Proxy devices: which devices stand in for a target ([`ProxySelection`]), their additive
//! predictors fitted once and shared ([`ProxyPool`]), and a proxy as AdaProxy sees it
//! ([`Proxy`]: its predictor and its measurements).
//!
//! Every flow resolves and fits its proxies here, so that `run`, `nas`, `plan` and both
//! evaluations agree on the default pool, on what happens when a target is its own proxy, and
//! on how a proxy's predictor is fitted.

use super::AdditivePredictor;
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::space::Arch;
use crate::stats::{correlation_matrix, CorrelationMatrix, Metric, ProxyRecommendation};
use crate::SpaceId;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

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

/// Which rule chose the recommended proxy, with the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProxyCriterion {
    /// The space's shipped ranking: the lowest mean regret of the one-proxy flow when the
    /// device served as the proxy of every other bundled device (`scripts/proxy_ranking.sh`).
    /// Measured end to end, so it is preferred whenever it covers the device.
    LowestRegret(crate::data::bundled::RankedProxy),
    /// No shipped ranking covers the table's devices: the measured device whose latencies rank
    /// architectures most like the other measured devices (highest mean correlation, figures
    /// in [`DefaultProxy`]).
    HighestMeanCorrelation {
        /// The correlation the mean is over (Spearman unless asked otherwise).
        metric: Metric,
    },
}

/// The default proxy of every front end (`monotonicity`, `plan`, `run`, Python), and why.
///
/// One function chooses it ([`recommend_default`]) so that the analysis that recommends a
/// proxy and the flows that use one never disagree. Simulated devices are never recommended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefaultProxy {
    /// The device.
    pub device: String,
    /// Its mean correlation to the other measured devices it has a defined correlation with
    /// (NaN, `null` in JSON, with none).
    pub mean: f64,
    /// The lowest of those correlations.
    pub min: f64,
    /// How many devices the mean and min are over.
    pub compared: usize,
    /// The correlation of `mean`, `min` and `by_correlation`.
    pub metric: Metric,
    /// Why it was chosen.
    pub criterion: ProxyCriterion,
    /// What the highest mean correlation alone would choose among the measured devices.
    pub by_correlation: Option<ProxyRecommendation>,
    /// The next devices under the same criterion, best first (at most three).
    pub runners_up: Vec<String>,
}

impl DefaultProxy {
    /// The criterion in words, for text outputs: `lowest mean regret ...; by mean spearman
    /// alone it would be ...`.
    pub fn describe(&self) -> String {
        match &self.criterion {
            ProxyCriterion::LowestRegret(r) => {
                let mut out = format!(
                    "lowest mean regret of the one-proxy flow over {} bundled targets: {:.3} points",
                    r.targets, r.mean_regret
                );
                if let Some(c) = self.by_correlation.as_ref().filter(|c| c.device != self.device) {
                    out.push_str(&format!(
                        "; by mean {} alone it would be {} ({:.3})",
                        self.metric.name(),
                        c.device,
                        c.mean
                    ));
                }
                out
            }
            ProxyCriterion::HighestMeanCorrelation { metric: m } => format!(
                "highest mean {} to the other {} measured device{}: {:.3}, min {:.3}",
                m.name(),
                self.compared,
                if self.compared == 1 { "" } else { "s" },
                self.mean,
                self.min
            ),
        }
    }
}

/// The recommended proxy among the devices of `matrix` (a correlation matrix of `space`'s
/// devices), leaving out `exclude` (targets) and simulated devices
/// ([`crate::data::bundled::is_simulated`]).
///
/// Criterion 1: the first device of the space's shipped regret ranking that is a candidate.
/// Criterion 2, when there is no ranking or it names none of the candidates (a user's own
/// devices): the candidate with the highest mean correlation to the other candidates
/// ([`CorrelationMatrix::recommended_proxy`]). `None` when no ranking applies and no
/// candidate pair has a defined correlation.
pub fn recommend_default(matrix: &CorrelationMatrix, space: SpaceId, exclude: &[String]) -> Option<DefaultProxy> {
    let real: Vec<String> = matrix
        .devices
        .iter()
        .filter(|d| !crate::data::bundled::is_simulated(space, d) && !exclude.contains(d))
        .cloned()
        .collect();
    let by_corr = matrix.subset(&real).proxy_candidates();
    let ranked: Vec<crate::data::bundled::RankedProxy> = crate::data::bundled::proxy_ranking(space)
        .map(|r| r.ranking.into_iter().filter(|p| real.contains(&p.proxy)).collect())
        .unwrap_or_default();
    let (device, criterion, runners_up): (String, ProxyCriterion, Vec<String>) = match ranked.split_first() {
        Some((best, rest)) => (
            best.proxy.clone(),
            ProxyCriterion::LowestRegret(best.clone()),
            rest.iter().take(3).map(|r| r.proxy.clone()).collect(),
        ),
        None => {
            let best = by_corr.first()?;
            (
                best.device.clone(),
                ProxyCriterion::HighestMeanCorrelation { metric: matrix.metric },
                by_corr[1..].iter().take(3).map(|r| r.device.clone()).collect(),
            )
        }
    };
    let figures = by_corr.iter().find(|r| r.device == device);
    Some(DefaultProxy {
        mean: figures.map_or(f64::NAN, |r| r.mean),
        min: figures.map_or(f64::NAN, |r| r.min),
        compared: figures.map_or(0, |r| r.compared),
        metric: matrix.metric,
        device,
        criterion,
        by_correlation: by_corr.first().cloned(),
        runners_up,
    })
}

/// A proxy as AdaProxy sees it: its additive predictor and, where available, its measurements.
#[derive(Debug, Clone, Copy)]
pub struct Proxy<'a> {
    /// The proxy's additive predictor (its `device` names the proxy).
    pub predictor: &'a AdditivePredictor,
    /// The table holding the proxy's measured latencies, and its column.
    pub measured: Option<(&'a LatencyTable, usize)>,
}

impl<'a> Proxy<'a> {
    /// A proxy with its measurements in `table` (column of the predictor's device).
    pub fn with_table(predictor: &'a AdditivePredictor, table: &'a LatencyTable) -> Result<Self> {
        let col = table.device_index(&predictor.device)?;
        Ok(Proxy { predictor, measured: Some((table, col)) })
    }

    /// A proxy known only by its predictor (no measurements: its model stands in for them).
    pub fn modelled(predictor: &'a AdditivePredictor) -> Self {
        Proxy { predictor, measured: None }
    }

    /// The proxy device's name.
    pub fn device(&self) -> &'a str {
        &self.predictor.device
    }

    /// The proxy's latency of each of `archs`: measured where it has them, its additive
    /// predictor elsewhere.
    pub fn latencies(&self, archs: &[Arch]) -> Vec<f64> {
        let space = self.predictor.space.space();
        archs
            .iter()
            .map(|a| self.measured_latency(a).unwrap_or_else(|| self.predictor.predict_encoded(&space.encode(a))))
            .collect()
    }

    /// The proxy's latency of `arch` (encoded as `encoded`): measured if available, else
    /// predicted.
    pub(crate) fn latency(&self, arch: &Arch, encoded: &[f64]) -> f64 {
        self.measured_latency(arch).unwrap_or_else(|| self.predictor.predict_encoded(encoded))
    }

    /// The proxy's measured latency of `arch`, if it has one.
    fn measured_latency(&self, arch: &Arch) -> Option<f64> {
        self.measured.and_then(|(t, c)| t.latency(arch, c))
    }
}

/// The additive predictors of a table's devices, each fitted once on all its measurements, when
/// first asked for. Shared through `&self` (one slot per device), so parallel runs over many
/// targets fit every proxy once.
#[derive(Debug, Clone)]
pub struct ProxyPool<'t> {
    table: &'t LatencyTable,
    fitted: Vec<OnceLock<AdditivePredictor>>,
}

impl<'t> ProxyPool<'t> {
    /// An empty pool over the devices of `table`.
    pub fn new(table: &'t LatencyTable) -> Self {
        ProxyPool { table, fitted: (0..table.devices().len()).map(|_| OnceLock::new()).collect() }
    }

    /// The table the proxies are fitted on and measured in.
    pub fn table(&self) -> &'t LatencyTable {
        self.table
    }

    /// The additive predictor of `device`, fitted on all its measurements (the first call fits
    /// it; the others share it). Errors for a device not in the table, or with too few
    /// measurements ([`min_proxy_measurements`]).
    pub fn get_or_fit(&self, device: &str) -> Result<&AdditivePredictor> {
        let col = self.table.device_index(device)?;
        if let Some(p) = self.fitted[col].get() {
            return Ok(p);
        }
        // Two threads may both fit a device the first time: the fit is deterministic, and the
        // first one stored is kept.
        let p = self.fit(device, col)?;
        Ok(self.fitted[col].get_or_init(|| p))
    }

    fn fit(&self, device: &str, col: usize) -> Result<AdditivePredictor> {
        let table = self.table;
        let rows = table.measured_rows(col);
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
        AdditivePredictor::fit(table.space().space(), device, &archs, &y, 1e-6)
    }

    /// The proxies of `target` under `selection` ([`resolve_pool`]), fitted and with their
    /// measurements, in the pool's order.
    pub fn proxies(&self, selection: &ProxySelection, target: &str) -> Result<Vec<Proxy<'_>>> {
        self.proxies_named(&resolve_pool(self.table, selection, target)?)
    }

    /// The named devices as proxies, fitted and with their measurements, in order.
    pub fn proxies_named(&self, devices: &[String]) -> Result<Vec<Proxy<'_>>> {
        devices.iter().map(|d| Proxy::with_table(self.get_or_fit(d)?, self.table)).collect()
    }

    /// The predictor a plan of samples spans: the named proxy's, or that of the pool member
    /// that ranks most like the others (highest mean Spearman within the pool; the first member
    /// when none is defined). Left on the pool's correlations: the adaptation's results depend on it.
    pub fn planner(&self, selection: &ProxySelection, pool: &[Proxy]) -> Result<&AdditivePredictor> {
        let device = match selection {
            ProxySelection::Device(d) => d.clone(),
            ProxySelection::Auto { .. } => {
                let names: Vec<String> = pool.iter().map(|p| p.device().to_string()).collect();
                let m = correlation_matrix(self.table, &names, Metric::Spearman)?;
                m.recommended_proxy().map_or_else(|| names[0].clone(), |r| r.device)
            }
        };
        self.get_or_fit(&device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::space::SearchSpace;
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

    #[test]
    fn a_pool_fits_each_device_once_and_shares_it_across_threads() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let pool = ProxyPool::new(t);
        let addresses: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..4).map(|_| s.spawn(|| pool.get_or_fit("pixel3").unwrap() as *const _ as usize)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(addresses.windows(2).all(|w| w[0] == w[1]), "one predictor per device");
        let named = ProxySelection::Auto { pool: Some(vec!["pixel3".into(), "raspi4".into(), "eyeriss".into()]) };
        let proxies = pool.proxies(&named, "raspi4").unwrap();
        let devices: Vec<&str> = proxies.iter().map(|p| p.device()).collect();
        assert_eq!(devices, ["pixel3", "eyeriss"]);
        assert_eq!(proxies[0].predictor as *const _ as usize, addresses[0]);
        assert!(proxies.iter().all(|p| p.measured.is_some()));
        // Measured where the proxy has the architecture, its model elsewhere.
        let col = t.device_index("pixel3").unwrap();
        let some = &t.archs()[..50];
        let lat = proxies[0].latencies(some);
        for (a, v) in some.iter().zip(&lat) {
            assert_eq!(t.latency(a, col).unwrap_or(*v), *v);
        }
        let planner = pool.planner(&ProxySelection::Device("eyeriss".into()), &proxies).unwrap();
        assert_eq!(planner.device(), "eyeriss");
    }

    #[test]
    fn the_default_proxy_is_the_ranking_s_best_measured_device_else_the_best_correlated() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let m = correlation_matrix(t, &[], Metric::Spearman).unwrap();
        let d = recommend_default(&m, SpaceId::Nb201, &[]).unwrap();
        assert_eq!(d.device, "raspi4");
        assert!(matches!(&d.criterion, ProxyCriterion::LowestRegret(r) if r.proxy == "raspi4"));
        assert!(d.describe().starts_with("lowest mean regret of the one-proxy flow over 26 bundled targets"));
        // A target is never its own proxy: the next ranked device takes over.
        let next = recommend_default(&m, SpaceId::Nb201, &["raspi4".into()]).unwrap();
        assert_eq!(next.device, d.runners_up[0]);
        // Only simulated devices and one the ranking does not name: no ranking applies, and the
        // simulated devices are never chosen.
        let sub = m.subset(&["fpga".into(), "eyeriss".into(), "edgegpu".into(), "edgetpu".into()]);
        let own = recommend_default(&sub, SpaceId::Nb201, &[]).unwrap();
        assert!(matches!(own.criterion, ProxyCriterion::HighestMeanCorrelation { .. }));
        assert!(own.device == "edgegpu" || own.device == "edgetpu", "{}", own.device);
    }

    #[test]
    fn a_device_with_too_few_measurements_is_no_proxy() {
        let mut t = LatencyTable::new(SpaceId::Nb201);
        let all = crate::space::Nb201.enumerate().unwrap();
        let few: Vec<(Arch, f64)> = all.iter().take(5).map(|a| (a.clone(), 1.0)).collect();
        t.add_device("few", crate::data::DeviceSource::Computed("test".into()), few).unwrap();
        let pool = ProxyPool::new(&t);
        let err = pool.get_or_fit("few").unwrap_err().to_string();
        assert!(err.contains("proxy 'few' has 5 measurements"), "{err}");
        assert!(pool.get_or_fit("other").is_err());
    }
}
