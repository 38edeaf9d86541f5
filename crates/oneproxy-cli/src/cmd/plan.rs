//! `oneproxy plan`: which architectures a new device should measure.

use crate::args::PlanArgs;
use oneproxy::bundled::bundle;
use oneproxy::stats::{correlation_matrix, Metric};
use oneproxy::workflow::ProxyPredictors;
use oneproxy::SpaceId;

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space.into();
    let table = super::load_table(&args.data)?;
    let proxy = match &args.proxy {
        Some(p) => p.clone(),
        None => {
            let m = correlation_matrix(&table, &[], Metric::Spearman)?;
            m.recommended_proxy().map(|r| r.device).ok_or_else(|| {
                anyhow::anyhow!(
                    "no device can be recommended as proxy (no two share {} measured architectures); name one with --proxy",
                    m.min_overlap
                )
            })?
        }
    };
    let mut cache = ProxyPredictors::default();
    let predictor = cache.get(&table, &proxy)?.clone();
    let candidates = match space.space().enumerate() {
        Some(all) => all,
        None => bundle(space)?.archs.clone(),
    };
    // A budget beyond the space is clipped, and said: every candidate is planned.
    let budget = args.budget.min(candidates.len());
    if budget < args.budget {
        eprintln!(
            "note: asked for {} architectures, but space {space} has {} candidates: planning all {budget}",
            args.budget,
            candidates.len()
        );
    }
    let picks = oneproxy::plan::plan(space.space(), &predictor, &candidates, budget, args.seed)?;
    let out = super::latency_csv(
        &args.device_name,
        picks
            .iter()
            .map(|a| (space.space().format(a), String::new())),
    )?;
    eprintln!(
        "planned {} architectures spanning {proxy}'s latency range; measure them and fill in column '{}'",
        picks.len(),
        args.device_name
    );
    super::emit(&out, args.out.as_deref())
}
