//! `oneproxy plan`: which architectures a new device should measure.

use crate::args::PlanArgs;
use oneproxy::bundled::bundle;
use oneproxy::evaluate::ProxyPredictors;
use oneproxy::stats::{correlation_matrix, Metric};
use oneproxy::SpaceId;

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space.into();
    let table = super::load_table(&args.data)?;
    let proxy = match &args.proxy {
        Some(p) => p.clone(),
        None => {
            let m = correlation_matrix(&table, &[], Metric::Spearman)?;
            m.recommended_proxy().map(|r| r.device).ok_or_else(|| anyhow::anyhow!("no device to plan with"))?
        }
    };
    let mut cache = ProxyPredictors::default();
    let predictor = cache.get(&table, &proxy)?.clone();
    let candidates = match space.space().enumerate() {
        Some(all) => all,
        None => bundle(space)?.archs.clone(),
    };
    let picks = oneproxy::plan::plan(space.space(), &predictor, &candidates, args.budget, args.seed)?;
    let mut out = format!("arch,{}\n", args.device_name);
    for a in &picks {
        out.push_str(&format!("{},\n", super::csv_field(&space.space().format(a))));
    }
    eprintln!(
        "planned {} architectures spanning {proxy}'s latency range; measure them and fill in column '{}'",
        picks.len(),
        args.device_name
    );
    super::emit(&out, args.out.as_deref())
}
