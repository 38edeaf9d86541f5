//! `oneproxy evaluate adapt|nas`: methods scored against full target tables.

use crate::args::{EvalAdaptArgs, EvalNasArgs};
use crate::report::{fmt3, print, print_json, TextTable};
use oneproxy::report::{AdaptEvaluationBody, NasEvaluationBody, Report};
use oneproxy::workflow::evaluate::{
    evaluate_adapt, evaluate_baselines, evaluate_nas, Baselines, MethodScore, NasSummary, ScoredRun, Trials,
};
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
    let space: SpaceId = args.data.space()?;
    let table = super::load_table(&args.data)?;
    let acc = super::accuracy_table(space, &args.accuracy)?;
    let samples = super::sample_set(space, &args.draw.sample_set, args.draw.samples)?;
    let mut config =
        super::nas_config(&args.flow, &args.options, super::proxy_selection(&args.proxy)?, samples, args.draw.seed)?;
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
    if args.json {
        let mut inputs = table.inputs().to_vec();
        inputs.extend(acc.input().cloned());
        let body = NasEvaluationBody {
            sample_set: set.to_string(),
            trials: trials.count,
            method: MethodScore::of(&rows, |r| Some(r.score.regret)),
            baselines,
            summary: NasSummary::of(&rows),
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
