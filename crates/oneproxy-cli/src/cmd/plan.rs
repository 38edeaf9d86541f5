//! `oneproxy plan`: which architectures a new device should measure.

use crate::args::PlanArgs;
use anyhow::Context;
use oneproxy::SpaceId;

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space()?;
    let outputs = oneproxy::output::Outputs::new(args.force).inputs(&args.data.latency);
    if let Some(out) = &args.out {
        outputs.check(out).context("--out")?;
    }
    let table = super::load_table(&args.data)?;
    let planned = oneproxy::plan::plan_for_table(&table, args.proxy.as_deref(), args.budget, args.seed)
        .context("choosing the architectures (name a proxy with --proxy)")?;
    if let Some(r) = &planned.recommended {
        note!("recommended proxy: {} ({})", r.device, r.describe());
    }
    let (proxy, picks) = (planned.proxy, planned.archs);
    // A budget beyond the space is clipped, and said: every candidate is planned.
    if picks.len() < args.budget {
        note!(
            "note: asked for {} architectures, but space {space} has {} candidates: planning all {}",
            args.budget,
            planned.candidates,
            picks.len()
        );
    }
    let out = super::latency_csv(&args.device_name, picks.iter().map(|a| (space.space().format(a), String::new())))?;
    note!(
        "planned {} architectures spanning {proxy}'s latency range; measure them and fill in column '{}'",
        picks.len(),
        args.device_name
    );
    super::emit(&out, args.out.as_deref(), &outputs).context("--out")
}
