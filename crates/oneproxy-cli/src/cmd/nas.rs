//! `oneproxy evaluate nas`: the one-proxy NAS flow per target, scored against full tables.

use crate::args::{AccuracyArgs, EvalNasArgs, SampleSetArg};
use crate::report::{fmt3, print, print_json, TextTable};
use anyhow::{bail, Context};
use oneproxy::bundled::{bundle, HELP10_NB201};
use oneproxy::evaluate::ProxyPredictors;
use oneproxy::nas::{one_proxy_nas, target_candidates, NasParams, TargetNas};
use oneproxy::space::seeded_rng;
use oneproxy::{AccuracyTable, Arch, LatencyTable, Manifest, SpaceId};
use serde::Serialize;

/// The accuracy table named by the flags (bundled or a user file).
pub fn accuracy_table(space: SpaceId, a: &AccuracyArgs) -> anyhow::Result<AccuracyTable> {
    if let Some(f) = &a.accuracy_file {
        return AccuracyTable::from_csv(f, space.space()).with_context(|| format!("reading accuracies from {}", f.display()));
    }
    let b = bundle(space)?;
    let name = a.accuracy.as_deref().unwrap_or("cifar100");
    match b.accuracy(name) {
        Some(t) => Ok(t.clone()),
        None if b.accuracy.is_empty() => bail!(
            "space {space} has no bundled accuracies; give --accuracy-file FILE (columns arch,accuracy)"
        ),
        None => bail!(
            "unknown accuracy table '{name}' for {space}; bundled: {}",
            b.accuracy.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// One target, one trial.
#[derive(Serialize)]
pub struct Row {
    pub trial: usize,
    #[serde(flatten)]
    pub result: TargetNas,
}

#[derive(Serialize)]
pub struct Summary {
    pub mean_hv_ratio: f64,
    pub violations: usize,
    pub mean_accuracy_gap: Option<f64>,
    pub mean_measurements: f64,
}

impl Summary {
    pub fn of(rows: &[Row]) -> Self {
        let gaps: Vec<f64> = rows.iter().flat_map(|r| r.result.constraints.iter().filter_map(|c| c.accuracy_gap)).collect();
        let n = rows.len().max(1) as f64;
        Summary {
            mean_hv_ratio: rows.iter().map(|r| r.result.hv_ratio).sum::<f64>() / n,
            violations: rows.iter().map(|r| r.result.constraints.iter().filter(|c| c.violated).count()).sum(),
            mean_accuracy_gap: (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64),
            mean_measurements: rows.iter().map(|r| r.result.measurements as f64).sum::<f64>() / n,
        }
    }
}

#[derive(Serialize)]
struct Output<'a> {
    manifest: Manifest,
    space: &'a str,
    accuracy: &'a str,
    sample_set: &'a str,
    targets: &'a [Row],
    #[serde(flatten)]
    summary: Summary,
}

/// Initial samples of a target for one trial.
pub fn initial_samples(
    table: &LatencyTable,
    target: &str,
    set: SampleSetArg,
    k: usize,
    seed: u64,
) -> anyhow::Result<Vec<Arch>> {
    let space = table.space();
    match set {
        SampleSetArg::Help10 => {
            if space != SpaceId::Nb201 {
                bail!("--sample-set help10 exists for nb201 only");
            }
            let b = bundle(space)?;
            Ok(HELP10_NB201.iter().map(|&i| b.archs[i].clone()).collect())
        }
        SampleSetArg::Random | SampleSetArg::Plan => {
            let col = table.device_index(target)?;
            let rows = table.measured_rows(col);
            if k > rows.len() {
                bail!("target '{target}' measured {} architectures, fewer than the {k} samples asked for", rows.len());
            }
            let mut rng = seeded_rng(seed);
            Ok(rand::seq::index::sample(&mut rng, rows.len(), k).into_iter().map(|i| table.archs()[rows[i]].clone()).collect())
        }
    }
}

/// Run the flow for every target and trial.
#[allow(clippy::too_many_arguments)]
pub fn run_flow(
    table: &LatencyTable,
    acc: &AccuracyTable,
    targets: &[String],
    pools: &[Vec<String>],
    set: SampleSetArg,
    k: usize,
    trials: usize,
    seed: u64,
    params: &NasParams,
) -> anyhow::Result<Vec<Row>> {
    let mut cache = ProxyPredictors::default();
    let mut rows = Vec::new();
    let trials = if set == SampleSetArg::Help10 { 1 } else { trials };
    let bar = crate::progress::bar((targets.len() * trials) as u64, "targets");
    for (ti, target) in targets.iter().enumerate() {
        let col = table.device_index(target)?;
        if target_candidates(table, col, acc).is_empty() {
            bail!("target '{target}' measured no architecture with a known accuracy");
        }
        for trial in 0..trials {
            let s = seed.wrapping_add(trial as u64).wrapping_mul(1000).wrapping_add(ti as u64);
            let samples = initial_samples(table, target, set, k, s)?;
            let p = NasParams { seed: s, ..params.clone() };
            let result = one_proxy_nas(table, acc, &mut cache, &pools[ti], target, &samples, &p)
                .with_context(|| format!("target '{target}'"))?;
            rows.push(Row { trial, result });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(rows)
}

/// The human-readable table of flow results.
pub fn render(rows: &[Row], constraints: &[f64]) -> String {
    let mut header: Vec<String> = ["target", "proxy", "action", "spearman", "measured", "hv_ratio"].iter().map(|s| s.to_string()).collect();
    header.extend(constraints.iter().map(|c| format!("acc@{c}ms")));
    let mut t = TextTable::new(header);
    for r in rows {
        let x = &r.result;
        let mut row = vec![x.target.clone(), x.proxy.clone(), x.action.clone(), fmt3(x.spearman_samples), x.measurements.to_string(), format!("{:.4}", x.hv_ratio)];
        row.extend(x.constraints.iter().map(|c| match (c.accuracy, c.optimal_accuracy) {
            (Some(a), Some(o)) => format!("{a:.2}/{o:.2}{}", if c.violated { "!" } else { "" }),
            _ => "-".into(),
        }));
        t.row(row);
    }
    let s = Summary::of(rows);
    let mut out = t.render();
    out.push_str(&format!(
        "\nmean hv_ratio {:.4}; {} violated constraints; mean measurements {:.1}",
        s.mean_hv_ratio, s.violations, s.mean_measurements
    ));
    if let Some(g) = s.mean_accuracy_gap {
        out.push_str(&format!("; mean accuracy gap to the true optimum {g:.3} points"));
    }
    out.push_str("\n(acc@C: accuracy of the pick / best accuracy within C, by true latency)\n");
    out
}

pub fn run(args: EvalNasArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space.into();
    let table = super::load_table(&args.data)?;
    let acc = accuracy_table(space, &args.accuracy)?;
    if args.draw.trials == 0 {
        bail!("--trials must be at least 1");
    }
    let pools = super::pools_for(&table, &args.proxy, &args.targets)?;
    let params = super::flow_params(&args.flow, &args.options, args.draw.seed)?;
    let rows = run_flow(&table, &acc, &args.targets, &pools, args.draw.sample_set, args.draw.samples, args.draw.trials, args.draw.seed, &params)?;
    let set = match args.draw.sample_set {
        SampleSetArg::Help10 => "help10",
        SampleSetArg::Random => "random",
        SampleSetArg::Plan => "random",
    };
    if args.json {
        let mut inputs = table.inputs().to_vec();
        inputs.extend(acc.input().cloned());
        return print_json(&Output {
            manifest: Manifest::new(space, (args.draw.sample_set != SampleSetArg::Help10).then_some(args.draw.seed), inputs),
            space: space.name(),
            accuracy: acc.name(),
            sample_set: set,
            summary: Summary::of(&rows),
            targets: &rows,
        });
    }
    print(&format!(
        "one-proxy NAS, space {space}, accuracy {}, {set} initial samples\n\n{}",
        acc.name(),
        render(&rows, &args.flow.constraints)
    ))
}
