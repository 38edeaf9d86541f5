//! `oneproxy evaluate adapt|nas|fleet`: methods scored against full target tables.

use crate::args::{ArrivalOrder, EvalAdaptArgs, EvalFleetArgs, EvalNasArgs};
use crate::report::{fmt3, print, print_json, TextTable};
use oneproxy::predictor::ProxySelection;
use oneproxy::report::{AdaptEvaluationBody, NasEvaluationBody, Report};
use oneproxy::workflow::evaluate::{
    evaluate_adapt, evaluate_baselines, evaluate_fleet, evaluate_nas, Arrival, Baselines, FleetEvaluation, MethodScore,
    NasSummary, ScoredRun, Trials,
};
use oneproxy::workflow::{FleetConfig, ProxySource};
use oneproxy::{Manifest, SpaceId};

pub fn run_adapt(args: EvalAdaptArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space()?;
    let table = super::load_table(&args.data)?;
    let samples = super::sample_set(space, &args.draw.sample_set, args.draw.samples)?;
    let proxy = super::proxy_selection(&args.proxy)?;
    let params = super::adapt_params(&args.options, oneproxy::predictor::Combination::Averaged)?;
    let trials = Trials { count: args.draw.trials, seed: args.draw.seed };
    let runs = if samples.varies() { trials.count } else { 1 };
    let bar = crate::progress::bar((args.targets.len() * runs) as u64, "trials");
    let eval = evaluate_adapt(&table, &args.targets, &proxy, &samples, trials, &params, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let set = args.draw.sample_set.as_str();
    if args.json {
        let manifest = Manifest::new(space, samples.varies().then_some(args.draw.seed), table.inputs().to_vec());
        let body = AdaptEvaluationBody { sample_set: set.to_string(), samples: samples.len(), evaluation: eval };
        return print_json(&Report::new(manifest, space, None, body));
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
    t.row([
        "mean".to_string(),
        String::new(),
        String::new(),
        fmt3(eval.mean_before),
        fmt3(eval.mean_after),
        String::new(),
        String::new(),
    ]);
    print(&format!(
        "AdaProxy, space {space}, {} {set} samples per target: Spearman against the target's measured architectures outside the samples\n\n{}",
        samples.len(),
        t.render()
    ))
}

/// The method beside its baselines, mean ± std over trials.
pub fn render_baselines(runs: &[ScoredRun], baselines: &Baselines, trials: usize) -> String {
    let mut t = TextTable::new(["method", "mean regret (points)", "measurements per target"]);
    let mut row = |name: &str, m: &Option<MethodScore>| {
        if let Some(m) = m {
            t.row([name.to_string(), m.regret.to_string(), format!("{:.1}", m.measurements)]);
        }
    };
    row("oneproxy", &MethodScore::of(runs, |r| Some(r.score.regret)));
    row("random (same count)", &baselines.random);
    row("flops as proxy", &baselines.flops);
    row("always adapt", &baselines.always_adapt);
    format!("\nmean ± std over {trials} trial(s), each the mean over targets:\n{}", t.render())
}

/// The human-readable table of scored flow runs.
pub fn render_nas(runs: &[ScoredRun], constraints: &[f64]) -> String {
    let mut header: Vec<String> = [
        "target",
        "proxy",
        "action",
        "spearman",
        "measured",
        "regret",
        "estimated: mean, 80% bound",
        "random",
        "recall",
        "hv_ratio",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(constraints.iter().map(|c| format!("acc@{c}ms")));
    let mut t = TextTable::new(header);
    for r in runs {
        let (x, s) = (&r.outcome, &r.score);
        let mut row = vec![
            x.target.clone(),
            x.proxy.clone(),
            x.decision.name().into(),
            fmt3(x.spearman_samples),
            x.measurements.to_string(),
            format!("{:.3}", s.regret),
            x.remaining_regret.map_or("-".into(), |e| format!("{:.3}, {:.3}", e.mean, e.bound)),
            s.random_regret.map_or("-".into(), |r| format!("{r:.3}")),
            format!("{:.2}", s.pareto_recall),
            format!("{:.4}", s.hv_ratio),
        ];
        row.extend(s.constraints.iter().map(|c| match (c.accuracy, c.optimal_accuracy) {
            (Some(a), Some(o)) => {
                format!("{a:.2}/{o:.2}{}", if c.violated { "!" } else { "" })
            }
            _ => "-".into(),
        }));
        t.row(row);
    }
    let s = NasSummary::of(runs);
    let mut out = t.render();
    out.push_str(&format!(
        "\nmean regret {:.3} points (random at the same counts {}); mean measurements {:.1}; mean recall {:.2}; mean hv_ratio {:.4}; {} violated constraints",
        s.mean_regret,
        s.mean_random_regret.map_or("-".into(), |r| format!("{r:.3}")),
        s.mean_measurements,
        s.mean_pareto_recall,
        s.mean_hv_ratio,
        s.violations
    ));
    if let Some(g) = s.mean_accuracy_gap {
        out.push_str(&format!("; mean accuracy gap to the true optimum {g:.3} points"));
    }
    if let (Some(e), Some(c)) = (s.mean_estimated_regret, s.estimate_coverage) {
        out.push_str(&format!(
            "\nthe flow's own estimate: mean expected remaining regret {e:.3} points; the true regret was within its 80% bound in {:.0}% of the runs",
            c * 100.0
        ));
    }
    if !s.interval_coverage.is_empty() {
        let parts: Vec<String> = s
            .interval_coverage
            .iter()
            .map(|c| format!("{:.0}% -> {:.1}%", c.level * 100.0, c.observed * 100.0))
            .collect();
        out.push_str(&format!(
            "\nits predictive intervals on the architectures it did not measure (nominal -> observed): {}",
            parts.join(", ")
        ));
    }
    out.push_str("\n(acc@C: accuracy of the pick / best accuracy within C, by true latency)\n");
    out
}

pub fn run_nas(args: EvalNasArgs) -> anyhow::Result<()> {
    let outputs = oneproxy::output::Outputs::new(args.force).inputs(&args.data.latency);
    if let Some(path) = &args.calibration_plot {
        anyhow::Context::context(outputs.check(path), "--calibration-plot")?;
    }
    let space: SpaceId = args.data.space()?;
    let table = super::load_table(&args.data)?;
    let acc = super::accuracy_table(space, &args.accuracy)?;
    let samples = super::sample_set(space, &args.draw.sample_set, args.draw.samples)?;
    let design = super::flow_design(&args.flow, false)?;
    let mut config = super::nas_config(
        &args.flow,
        &args.options,
        super::proxy_selection(&args.proxy)?,
        samples,
        design,
        args.draw.seed,
    )?;
    config.max_measurements = args.max_measurements;
    config.check()?;
    let trials = Trials { count: args.draw.trials, seed: args.draw.seed };
    let flows = if args.no_baselines { 1 } else { 3 };
    let bar = crate::progress::bar((args.targets.len() * trials.count * flows) as u64, "runs");
    let rows = evaluate_nas(&table, &acc, &args.targets, &config, trials, &|| bar.inc(1))?;
    let baselines = if args.no_baselines {
        Baselines::random_only(&rows)
    } else {
        evaluate_baselines(&table, &acc, &args.targets, &config, trials, &rows, &|| bar.inc(1))?
    };
    bar.finish_and_clear();
    let set = args.draw.sample_set.as_str();
    let summary = NasSummary::of(&rows);
    if let Some(path) = &args.calibration_plot {
        let title = format!("Does the flow mean what it says? {space}, {} runs", rows.len());
        calibration_plot(&summary, &title, path, &outputs)?;
    }
    if args.json {
        let mut inputs = table.inputs().to_vec();
        inputs.extend(acc.input().cloned());
        let body = NasEvaluationBody {
            sample_set: set.to_string(),
            trials: trials.count,
            method: MethodScore::of(&rows, |r| Some(r.score.regret)),
            baselines,
            summary,
            targets: rows,
        };
        let manifest = Manifest::new(space, Some(args.draw.seed), inputs);
        return print_json(&Report::new(manifest, space, Some(acc.name()), body));
    }
    print(&format!(
        "one-proxy NAS, space {space}, accuracy {}, {set} initial samples\n\n{}{}",
        acc.name(),
        render_nas(&rows, &args.flow.constraints),
        render_baselines(&rows, &baselines, trials.count)
    ))
}

#[cfg(feature = "plot")]
fn calibration_plot(
    summary: &NasSummary,
    title: &str,
    path: &std::path::Path,
    outputs: &oneproxy::output::Outputs,
) -> anyhow::Result<()> {
    let intervals: Vec<(f64, f64)> = summary.interval_coverage.iter().map(|c| (c.level, c.observed)).collect();
    let bound = summary.estimate_coverage.map(|c| (oneproxy::workflow::remaining::LEVEL, c));
    if intervals.is_empty() && bound.is_none() {
        anyhow::bail!("--calibration-plot: no scored run states an uncertainty to check");
    }
    oneproxy::plot::calibration(&oneproxy::plot::Calibration { title, intervals: &intervals, bound }, path, outputs)?;
    note!("wrote {}", path.display());
    Ok(())
}

#[cfg(not(feature = "plot"))]
fn calibration_plot(_: &NasSummary, _: &str, _: &std::path::Path, _: &oneproxy::output::Outputs) -> anyhow::Result<()> {
    anyhow::bail!("this oneproxy was built without the `plot` feature")
}

pub fn run_fleet(args: EvalFleetArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space;
    let table = super::load_table(&args.data)?;
    let acc = super::accuracy_table(space, &args.accuracy)?;
    let design = super::flow_design(&args.flow, false)?;
    let samples = super::flow_sample_set(space, &args.sample_set, args.samples, design)?;
    let nas = super::nas_config(&args.flow, &args.options, ProxySelection::default(), samples, design, args.seed)?;
    let targets = if args.targets.is_empty() {
        oneproxy::workflow::default_targets(&table, &acc, nas.samples.len())?
    } else {
        args.targets.clone()
    };
    let config = FleetConfig { nas, concurrency: args.concurrency, join: true, join_regret: args.join_regret };
    let order = match args.order {
        ArrivalOrder::Random => Arrival::Random,
        ArrivalOrder::Given => Arrival::Given,
    };
    let trials = Trials { count: args.trials, seed: args.seed };
    let bar = crate::progress::bar((trials.count * 2) as u64, "passes");
    let eval = evaluate_fleet(&table, &acc, &targets, &config, order, trials, &|| bar.inc(1))?;
    bar.finish_and_clear();
    if args.json {
        let mut inputs = table.inputs().to_vec();
        inputs.extend(acc.input().cloned());
        let manifest = Manifest::new(space, Some(args.seed), inputs);
        return print_json(&Report::new(manifest, space, Some(acc.name()), eval));
    }
    print(&format!(
        "a fleet of {} targets, space {space}, accuracy {}, {} {} initial samples, arrival {}, {} at a time{}; initial pool: {}\n\n{}",
        targets.len(),
        acc.name(),
        config.nas.samples.len(),
        args.sample_set,
        if order == Arrival::Random { "in a seeded random order" } else { "in the given order" },
        args.concurrency,
        args.join_regret.map_or(String::new(), |r| format!(", joining when confident within {r} points")),
        eval.initial_pool.join(", "),
        render_fleet(&eval)
    ))
}

/// The fleet beside the one-at-a-time flow: the first trial device by device, the curve over
/// arrival indices, the means over trials.
pub fn render_fleet(eval: &FleetEvaluation) -> String {
    let mut out = String::new();
    if let Some(first) = eval.runs.first() {
        let mut t = TextTable::new([
            "arrival",
            "target",
            "proxy",
            "action",
            "measured",
            "regret",
            "alone: proxy",
            "measured",
            "regret",
        ]);
        for d in &first.devices {
            let proxy = match &d.proxy_source {
                ProxySource::Fleet { arrival, .. } if d.confident_members.contains(&d.proxy) => {
                    format!("{} (fleet, #{arrival}, joined when confident)", d.proxy)
                }
                ProxySource::Fleet { arrival, .. } => format!("{} (fleet, #{arrival})", d.proxy),
                ProxySource::Pool => d.proxy.clone(),
            };
            t.row([
                d.arrival.to_string(),
                d.target.clone(),
                proxy,
                d.action.name().to_string(),
                d.measurements.to_string(),
                format!("{:.3}", d.regret),
                d.alone_proxy.clone(),
                d.alone_measurements.to_string(),
                format!("{:.3}", d.alone_regret),
            ]);
        }
        out.push_str(&format!("trial {} device by device (fleet, then alone):\n{}", first.trial, t.render()));
    }
    let mut c =
        TextTable::new(["arrival", "measured: fleet", "alone", "regret: fleet", "alone", "proxy from the fleet"]);
    for p in &eval.curve {
        c.row([
            p.arrival.to_string(),
            format!("{:.1}", p.measurements),
            format!("{:.1}", p.alone_measurements),
            format!("{:.3}", p.regret),
            format!("{:.3}", p.alone_regret),
            format!("{:.0}%", p.from_fleet * 100.0),
        ]);
    }
    out.push_str(&format!("\nper arrival index, mean over {} trial(s):\n{}", eval.trials, c.render()));
    let mut m = TextTable::new(["method", "mean regret (points)", "measurements per device"]);
    for (name, s) in [("fleet", &eval.fleet), ("one at a time", &eval.alone)] {
        m.row([name.to_string(), s.regret.to_string(), format!("{:.1}", s.measurements)]);
    }
    out.push_str(&format!(
        "\nmean ± std over {} trial(s), each the mean over devices:\n{}\na fleet member was the proxy of {:.0}% of the devices; \
         the fleet took {:.0} measurement slots ({} at a time){}\n",
        eval.trials,
        m.render(),
        eval.from_fleet * 100.0,
        eval.slots,
        eval.concurrency,
        if eval.join_regret.is_some() {
            format!("; {:.1} device(s) per trial got a member still running", eval.joined_when_confident)
        } else {
            String::new()
        }
    ));
    out
}
