//! AdaProxy for one target from its measured samples (`oneproxy adapt`, Python's
//! `oneproxy.adapt`): the proxies of a selection fitted on all their measurements, adapted.

use crate::data::LatencyTable;
use crate::error::Result;
use crate::predictor::{adapt_pool_with_progress, AdaptParams, Adapted, ProxyLatency, ProxyPool, ProxySelection};
use crate::space::Arch;

/// AdaProxy for one target from its samples.
#[derive(Debug, Clone)]
pub struct TargetAdaptation {
    /// The candidate proxies (the pool of `selection`, without the target).
    pub candidates: Vec<String>,
    /// The adapted predictor, named after the target, and its report.
    pub adapted: Adapted,
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
    params: &AdaptParams,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<TargetAdaptation> {
    let pool = ProxyPool::new(table);
    let proxies = pool.proxies(selection, target)?;
    let candidates = proxies.iter().map(|p| p.device().to_string()).collect();
    let Adapted { predictor, report, members } =
        adapt_pool_with_progress(&proxies, archs, latency_ms, params, progress)?;
    let proxy = pool.get_or_fit(&report.proxy)?;
    let before = crate::stats::spearman(&proxy.predict(archs, ProxyLatency::Modelled)?, latency_ms);
    let adapted = Adapted { predictor: predictor.named(target), report, members };
    Ok(TargetAdaptation { candidates, adapted, spearman_before: before })
}
