//! `oneproxy evaluate adapt`: AdaProxy scored against full target tables.

use crate::args::{EvalAdaptArgs, SampleSetArg};
use crate::report::{fmt3, print, print_json, TextTable};
use anyhow::bail;
use oneproxy::bundled::{bundle, HELP10_NB201};
use oneproxy::evaluate::{evaluate_adapt_with_progress, AdaptEvaluation, ProxyChoice, SampleSet};
use oneproxy::{Manifest, SpaceId};
use serde::Serialize;

#[derive(Serialize)]
struct Output<'a> {
    manifest: Manifest,
    space: &'a str,
    sample_set: &'a str,
    samples: usize,
    #[serde(flatten)]
    evaluation: &'a AdaptEvaluation,
}

pub fn run_adapt(args: EvalAdaptArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space.into();
    let table = super::load_table(&args.data)?;
    let samples = match args.draw.sample_set {
        SampleSetArg::Help10 => {
            if space != SpaceId::Nb201 {
                bail!("--sample-set help10 exists for nb201 only");
            }
            SampleSet::Fixed(HELP10_NB201.iter().map(|&i| bundle(space).map(|b| b.archs[i].clone())).collect::<Result<_, _>>()?)
        }
        SampleSetArg::Random => SampleSet::Random { k: args.draw.samples, trials: args.draw.trials, seed: args.draw.seed },
        SampleSetArg::Plan => SampleSet::Plan { k: args.draw.samples, trials: args.draw.trials, seed: args.draw.seed },
    };
    let n_samples = if let SampleSet::Fixed(v) = &samples { v.len() } else { args.draw.samples };
    if args.draw.trials == 0 {
        bail!("--trials must be at least 1");
    }
    // One pool for every target: the union, minus each target at evaluation time.
    let mut pool: Vec<String> = Vec::new();
    for p in super::pools_for(&table, &args.proxy, &args.targets)?.into_iter().flatten() {
        if !pool.contains(&p) {
            pool.push(p);
        }
    }
    let choice = if args.proxy.proxy == "auto" {
        ProxyChoice::Auto { pool }
    } else {
        ProxyChoice::Device(args.proxy.proxy.clone())
    };
    let params = super::adapt_params(&args.options)?;
    let trials = if matches!(samples, SampleSet::Fixed(_)) { 1 } else { args.draw.trials };
    let bar = crate::progress::bar((args.targets.len() * trials) as u64, "trials");
    let eval = evaluate_adapt_with_progress(&table, &args.targets, &choice, &samples, &params, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let set = match args.draw.sample_set {
        SampleSetArg::Help10 => "help10",
        SampleSetArg::Random => "random",
        SampleSetArg::Plan => "plan",
    };
    if args.json {
        let seed = (args.draw.sample_set != SampleSetArg::Help10).then_some(args.draw.seed);
        return print_json(&Output {
            manifest: Manifest::new(space, seed, table.inputs().to_vec()),
            space: space.name(),
            sample_set: set,
            samples: n_samples,
            evaluation: &eval,
        });
    }
    let mut t = TextTable::new(["target", "proxy", "form", "before", "after", "trials", "scored on"]);
    for r in &eval.targets {
        t.row([
            r.target.clone(),
            r.proxy.clone(),
            r.form.name().to_string(),
            fmt3(r.spearman_before),
            fmt3(r.spearman_after),
            r.trials.len().to_string(),
            r.scored_on.to_string(),
        ]);
    }
    t.row(["mean".to_string(), String::new(), String::new(), fmt3(eval.mean_before), fmt3(eval.mean_after), String::new(), String::new()]);
    print(&format!(
        "AdaProxy, space {space}, {n_samples} {set} samples per target: Spearman against every measured architecture\n\n{}",
        t.render()
    ))
}
