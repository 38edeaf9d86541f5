//! `oneproxy run`: the main job. Monotonicity analysis, then the one-proxy NAS flow for every
//! target, a summary table, and a report folder (JSON + SVG).

use crate::args::RunArgs;
use crate::report::{fmt3, print, print_json};
use anyhow::Context;
use oneproxy::report::RunBody;
use oneproxy::workflow::ScoredRun;
use oneproxy::workflow::Truth;
use oneproxy::workflow::{RunConfig, RunReport};
use oneproxy::{Manifest, SpaceId};

/// The run's report document.
type Report = oneproxy::report::Report<RunBody>;

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space()?;
    let table = super::load_table(&args.data)?;
    let acc = super::accuracy_table(space, &args.accuracy)?;
    let design = super::flow_design(&args.flow, false)?;
    let samples = super::flow_sample_set(space, &args.sample_set, args.samples, design)?;
    let proxy = match &args.proxy {
        None => None,
        Some(p) => Some(super::proxy_selection(&crate::args::ProxyArgs { proxy: p.clone(), pool: args.pool.clone() })?),
    };
    if proxy.is_none() && !args.pool.is_empty() {
        anyhow::bail!("--pool only applies with --proxy auto");
    }
    // The flow's own proxy field is replaced by the run's choice.
    let nas = super::nas_config(&args.flow, &args.options, Default::default(), samples, design, args.seed)?;
    let config = RunConfig { proxy, targets: args.targets.clone(), nas, baselines: args.baselines };
    // Refused before any work when --out is a folder oneproxy must not replace.
    let dir = oneproxy::output::ReportDir::create(&args.out).context("--out")?;
    // Every measured device but the proxy, or the targets named.
    let targets = if args.targets.is_empty() {
        table.measured_device_names().len().saturating_sub(1)
    } else {
        args.targets.len()
    };
    let bar = crate::progress::bar(targets as u64, "targets");
    let result = oneproxy::workflow::run(&table, &acc, &config, &|| bar.inc(1));
    bar.finish_and_clear();
    let result = result?;
    for s in &result.skipped {
        note!("skipping target '{}': {}", s.target, s.reason);
    }
    let mut inputs = table.inputs().to_vec();
    inputs.extend(acc.input().cloned());
    let body = RunBody {
        sample_set: args.sample_set.as_str().to_string(),
        samples: config.nas.samples.len(),
        threshold: args.flow.threshold,
        run: result,
    };
    let report = Report::new(Manifest::new(space, Some(args.seed), inputs), space, Some(acc.name()), body);
    write_report(dir, &report, &table, &acc, &args)?;
    if args.json {
        return print_json(&report);
    }
    print(&render_summary(&report, &table, &acc, &args.out)?)
}

/// Named budgets of the summary: quantiles of each target's true latencies.
const NAMED_BUDGETS: [(&str, usize); 3] = [("tight", 10), ("mid", 50), ("loose", 90)];

/// A target's named budgets (ms): its regret budgets at the [`NAMED_BUDGETS`] quantiles, the
/// ones the summary's picks and the plots' dotted lines show.
fn named_budgets(truth: &Truth) -> [(&'static str, f64); 3] {
    NAMED_BUDGETS.map(|(name, q)| (name, truth.budgets[q * truth.budgets.len() / 100 - 1]))
}

/// The people's summary: per target the measurements made, the regret and the random baseline
/// at the same count, and the pick at three named budgets; then the means.
fn render_summary(
    report: &Report,
    table: &oneproxy::LatencyTable,
    acc: &oneproxy::AccuracyTable,
    out_dir: &std::path::Path,
) -> anyhow::Result<String> {
    let result = &report.body.run;
    let mut header: Vec<String> = ["target", "proxy", "action", "spearman", "measured", "regret", "random"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(NAMED_BUDGETS.iter().map(|(n, q)| format!("{n} ({q}%)")));
    let mut t = crate::report::TextTable::new(header);
    let mut partial = false;
    for r in &result.targets {
        let (x, s) = (&r.outcome, &r.score);
        let truth = Truth::new(table, &x.target, acc)?;
        let subset = truth.candidates.len() < table.len();
        partial |= subset;
        let mut row = vec![
            format!("{}{}", x.target, if subset { "*" } else { "" }),
            x.proxy.clone(),
            x.decision.name().into(),
            fmt3(x.spearman_samples),
            x.measurements.to_string(),
            format!("{:.3}", s.regret),
            s.random_regret.map_or("-".into(), |v| format!("{v:.3}")),
        ];
        for (_, budget) in named_budgets(&truth) {
            let pick = x.chosen.iter().filter(|c| c.latency <= budget).max_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
            row.push(pick.map_or_else(
                || format!("none <= {budget:.2}ms"),
                |p| format!("{:.2}% @{:.2}ms", p.accuracy, p.latency),
            ));
        }
        t.row(row);
    }
    let m = &result.summary;
    let mut out = format!(
        "oneproxy run: space {}, accuracy {}; {} {} samples per target first, then candidates in rounds by expected regret reduction\n\
         proxy {}: {}\n\
         regret: best true accuracy within a latency budget minus the best measured pick within it,\n        \
         mean over 50 budgets (the 2%..100% quantiles of the target's latencies), accuracy points\n\
         random: the regret of as many measurements spent on random architectures\n\
         tight/mid/loose: the best measured pick within the 10% / 50% / 90% latency quantile\n\n{}",
        report.space,
        report.accuracy.as_deref().unwrap_or_default(),
        report.body.samples,
        report.body.sample_set,
        result.proxy,
        proxy_why(result),
        t.render()
    );
    if partial {
        out.push_str("* scored on the architectures the device measured, not the whole space\n");
    }
    out.push_str(&format!(
        "\nmean over {} targets: regret {:.3} points (random at the same counts {}), {:.1} measurements per target, Pareto recall {:.2}, hv_ratio {:.4}\n",
        result.targets.len(),
        m.mean_regret,
        m.mean_random_regret.map_or("-".into(), |v| format!("{v:.3}")),
        m.mean_measurements,
        m.mean_pareto_recall,
        m.mean_hv_ratio
    ));
    if let Some(b) = &result.baselines {
        for (name, s) in [("flops as proxy", &b.flops), ("always adapt", &b.always_adapt)] {
            if let Some(s) = s {
                out.push_str(&format!(
                    "baseline {name}: regret {:.3} points, {:.1} measurements per target\n",
                    s.regret.mean, s.measurements.mean
                ));
            }
        }
    }
    out.push_str(&format!("report written to {}/\n", out_dir.display()));
    Ok(out)
}

/// Fill the report folder (built aside, swapped in whole by `commit`; an existing folder is
/// replaced only if oneproxy wrote it, and dropping `dir` on an error removes the temporary one):
/// report.json, summary.csv, one front-<target>.csv per target, and with the `plot` feature
/// overview.svg, heatmap.svg, one pareto-<target>.svg per target and
/// report.html, which inlines them.
fn write_report(
    dir: oneproxy::output::ReportDir,
    report: &Report,
    table: &oneproxy::LatencyTable,
    acc: &oneproxy::AccuracyTable,
    args: &RunArgs,
) -> anyhow::Result<()> {
    dir.write("report.json", &serde_json::to_vec_pretty(report)?)?;
    let result = &report.body.run;
    dir.write("summary.csv", oneproxy::report::tables::summary_csv(report).as_bytes())?;
    for r in &result.targets {
        let csv = oneproxy::report::tables::front_csv(&r.outcome, super::proxy_latency(table, &r.outcome.proxy));
        dir.write(&oneproxy::report::tables::front_file(&r.outcome.target), csv.as_bytes())?;
    }
    #[cfg(feature = "plot")]
    {
        let overview = overview_svg(report);
        dir.write("overview.svg", overview.as_bytes())?;
        let heat = heatmap_svg(result, args.heatmap_order, args.heatmap_scale)?;
        dir.write("heatmap.svg", heat.as_bytes())?;
        // Drawn side by side (each target's truth is rebuilt for its plot), written in order.
        use rayon::prelude::*;
        let plots = result
            .targets
            .par_iter()
            .map(|r| {
                let file = format!("{}.svg", oneproxy::report::html::anchor(&r.outcome.target));
                let pred = predicted_front(r, table, acc);
                let svg = pareto_plot(r, Some(&pred), table, acc, args.figure)?;
                Ok((r.outcome.target.clone(), file, svg))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (_, file, svg) in &plots {
            dir.write(file, svg.as_bytes())?;
        }
        let figures = oneproxy::report::html::Figures {
            overview: Some(oneproxy::report::html::Figure { file: "overview.svg", svg: &overview }),
            heatmap: Some(oneproxy::report::html::Figure { file: "heatmap.svg", svg: &heat }),
            pareto: plots
                .iter()
                .map(|(t, file, svg)| (t.clone(), oneproxy::report::html::Figure { file, svg }))
                .collect(),
        };
        dir.write("report.html", oneproxy::report::html::render(&report.into(), &figures).as_bytes())?;
    }
    #[cfg(not(feature = "plot"))]
    {
        let _ = (result, table, acc, args);
        dir.write("report.html", oneproxy::report::html::render(&report.into(), &Default::default()).as_bytes())?;
    }
    dir.commit().context("--out")?;
    Ok(())
}

/// The overview figure: regret per target against random, and against measurements.
#[cfg(feature = "plot")]
fn overview_svg(report: &Report) -> String {
    let result = &report.body.run;
    let targets: Vec<oneproxy::plot::OverviewTarget> = result
        .targets
        .iter()
        .map(|r| oneproxy::plot::OverviewTarget {
            name: &r.outcome.target,
            regret: r.score.regret,
            random: r.score.random_regret,
            measurements: r.outcome.measurements as f64,
            failing: r.score.worse_than_random(),
        })
        .collect();
    let m = &result.summary;
    let random = m.mean_random_regret.map_or(String::new(), |r| format!(", random {r:.2}"));
    let title = format!(
        "oneproxy on {} targets ({}, proxy {}): mean regret {:.2} accuracy points{random}",
        targets.len(),
        report.space,
        result.proxy,
        m.mean_regret
    );
    oneproxy::plot::overview_svg(&oneproxy::plot::Overview { title: &title, targets: &targets })
}

/// The heatmap of every measured device (the monotonicity panel, the proxy and every target,
/// including those that measured only part of the space: their cells are over the
/// architectures each pair shares), in the chosen order, with the proxy outlined.
#[cfg(feature = "plot")]
fn heatmap_svg(
    result: &RunReport,
    order: crate::args::HeatmapOrderArg,
    scale: crate::args::HeatmapScaleArg,
) -> anyhow::Result<String> {
    // `result.matrix` already holds every measured device of the table: the panel, the proxy
    // and every target.
    let (m, note) = super::heatmap_order(&result.matrix, order);
    let title = format!("Spearman correlation of latencies, {} devices", m.devices.len());
    let style = oneproxy::plot::HeatmapStyle {
        title: &title,
        highlight: Some(&result.proxy),
        note: Some(note),
        scale: super::heatmap_scale(scale),
    };
    Ok(oneproxy::plot::heatmap_svg(&m, &style))
}

/// What the proxy predicted to be a target's front, at the latencies measured on the target:
/// the run's candidate-stage measurements, kept by the evaluation.
#[cfg(feature = "plot")]
fn predicted_front(r: &ScoredRun, table: &oneproxy::LatencyTable, acc: &oneproxy::AccuracyTable) -> Vec<(f64, f64)> {
    let space = table.space().space();
    r.measured
        .iter()
        .filter(|m| m.stage == oneproxy::workflow::Stage::Candidates)
        .filter_map(|m| Some((m.latency_ms, acc.get(&space.parse(&m.arch).ok()?)?)))
        .collect()
}

/// One target's plot: every candidate, the true front, the predicted front as measured, the
/// flow's measured final set and the picks at the constraints.
#[cfg(feature = "plot")]
fn pareto_plot(
    r: &ScoredRun,
    predicted: Option<&[(f64, f64)]>,
    table: &oneproxy::LatencyTable,
    acc: &oneproxy::AccuracyTable,
    figure: crate::args::FigureArgs,
) -> anyhow::Result<String> {
    use oneproxy::plot::{Budget, Constraint, ParetoPlot, Series};
    let truth = Truth::new(table, &r.outcome.target, acc)?;
    let all: Vec<(f64, f64)> = truth.latency.iter().copied().zip(truth.accuracy.iter().copied()).collect();
    let front: Vec<(f64, f64)> =
        oneproxy::search::pareto_front(&truth.latency, &truth.accuracy)?.into_iter().map(|i| all[i]).collect();
    let budgets = named_budgets(&truth).map(|(name, ms)| Budget { name, ms });
    let chosen: Vec<(f64, f64)> = r.outcome.chosen.iter().map(|c| (c.latency, c.accuracy)).collect();
    let constraints: Vec<Constraint> = r
        .outcome
        .picks
        .iter()
        .map(|p| Constraint { ms: p.constraint, pick: p.pick.as_ref().map(|c| (c.latency, c.accuracy)) })
        .collect();
    let (o, s) = (&r.outcome, &r.score);
    let random = s.random_regret.map_or(String::new(), |v| format!(" (random {v:.2})"));
    let title = format!(
        "{}: regret {:.3} points{random}; proxy {} ({}), {} measurements",
        o.target,
        s.regret,
        o.proxy,
        o.decision.name(),
        o.measurements
    );
    let (l_all, l_front, l_chosen) = (
        format!("all architectures ({})", all.len()),
        format!("true Pareto front ({})", front.len()),
        format!("oneproxy's final set, measured ({})", chosen.len()),
    );
    let l_pred = predicted.map(|p| format!("predicted front, measured on target ({})", p.len()));
    let svg = oneproxy::plot::pareto_svg(&ParetoPlot {
        title: &title,
        cloud: Series { label: &l_all, points: &all },
        front: Some(Series { label: &l_front, points: &front }),
        predicted: predicted.zip(l_pred.as_deref()).map(|(points, label)| Series { label, points }),
        chosen: Some(Series { label: &l_chosen, points: &chosen }),
        constraints: &constraints,
        budgets: (&budgets, "latency budgets: 10/50/90 % quantiles"),
        latency_axis: super::latency_axis(figure.log_latency),
        spreads: &[],
    })?;
    Ok(svg)
}

/// Why the run's proxy is the one it is: the shared recommendation's words when it was the
/// default, else the given reason (named by the user, or a pool).
fn proxy_why(result: &RunReport) -> String {
    use oneproxy::workflow::ProxyReason;
    match (&result.proxy_reason, &result.recommended_proxy) {
        (ProxyReason::Given | ProxyReason::Pool, _) | (_, None) => result.proxy_reason.describe(),
        (_, Some(r)) => format!("recommended, {}", r.describe()),
    }
}
