//! `oneproxy nas`: the one-proxy NAS flow on one real target device, measured through an
//! oracle (tract on this machine, an external runner, a person, or a recorded table), with
//! every measurement logged so that an interrupted run resumes.

use super::oracle::{OracleChoice, Source};
use crate::args::{NasArgs, OracleArg};
use crate::report::{fmt3, print, print_json, TextTable};
use anyhow::Context;
use oneproxy::report::NasBody;
use oneproxy::workflow::Flow;
use oneproxy::workflow::{Decision, Design, FlowEvent, NasOutcome, Remeasure, Stage};
use oneproxy::workflow::{MeasurementLog, Recorded};
use oneproxy::{Manifest, SpaceId};
use std::path::PathBuf;

/// Exit status of a manual run that stopped to ask for measurements.
pub const NEEDS_MEASUREMENTS: u8 = 3;

/// The target's report document.
pub type Output = oneproxy::report::Report<NasBody>;

/// How `nas`'s flags say the target is measured.
pub fn oracle_choice(args: &NasArgs) -> OracleChoice {
    let source = if args.manual {
        Source::Manual { export_dir: args.export_dir.clone(), force: args.force }
    } else if args.oracle == Some(OracleArg::Table) {
        Source::Table
    } else {
        Source::Timed
    };
    OracleChoice {
        source,
        runner: args.runner.clone(),
        timing: args.timing.clone(),
        prune_dead: args.prune_dead,
        builder: args.builder.clone(),
    }
}

pub fn run(args: NasArgs) -> anyhow::Result<()> {
    let builds_models = (!args.manual && args.oracle != Some(OracleArg::Table)) || args.export_dir.is_some();
    if args.builder.builder_cmd.is_some() && !builds_models {
        anyhow::bail!(
            "--builder-cmd builds the models to time or to export; this run builds none (--oracle table, or --manual \
             without --export-dir)"
        )
    }
    let space: SpaceId = args.data.space()?;
    let table = super::load_table(&args.data)?;
    let acc = super::accuracy_table(space, &args.accuracy)?;
    let design = super::flow_design(&args.flow, args.manual)?;
    let samples = super::flow_sample_set(space, &args.sample_set, args.samples, design)?;
    let mut config =
        super::nas_config(&args.flow, &args.options, super::proxy_selection(&args.proxy)?, samples, design, args.seed)?;
    config.max_measurements = args.max_measurements;
    config.max_failures = args.max_failures;
    // A person fills one value per row: nobody to ask again through the log.
    config.remeasure = match args.remeasure {
        Remeasure::Auto if args.manual => Remeasure::Never,
        r => r,
    };
    config.check()?;
    oneproxy::data::validate_device_name(&args.target).context("--target")?;
    let log_path = args.measurements.clone().unwrap_or_else(|| PathBuf::from(format!("{}.csv", args.target)));
    // Refused before any measurement when --out is a folder oneproxy must not replace, or one
    // that holds an input (the new report would replace it).
    let inputs = oneproxy::output::Outputs::new(false)
        .inputs(&args.data.latency)
        .inputs(args.accuracy.accuracy_file.iter())
        .input(&log_path);
    if let Some(out) = &args.out {
        inputs.check_folder(out).context("--out")?;
        if inside(out, &log_path) {
            anyhow::bail!(
                "--measurements {} lies inside the --out folder {}, which each report replaces: keep the measurements elsewhere",
                log_path.display(),
                out.display()
            );
        }
    }
    let report_dir = args.out.as_deref().map(oneproxy::output::ReportDir::create).transpose().context("--out")?;
    let log = MeasurementLog::open(&log_path, &args.target, space, "nas").context("--measurements")?;
    super::print_warnings(log.warnings());
    if log.measured() + log.failed() > 0 {
        note!(
            "resuming: {} measurements of '{}' already in {}{}",
            log.measured(),
            args.target,
            log_path.display(),
            if log.failed() > 0 { format!(" ({} marked failed)", log.failed()) } else { String::new() }
        );
    }
    let (inner, kind) = oracle_choice(&args).build(&args.target, space, args.seed, &table)?;
    let mut oracle = Recorded::new(inner, log).context("--measurements")?;
    let flow = Flow::new(&table, &acc);
    let bar = crate::progress::bar(0, "measured");
    // What the flow asked for, by stage, for the manual request's summary.
    let mut asked: Vec<(Stage, usize)> = Vec::new();
    let mut on_event = |e: FlowEvent| match &e {
        FlowEvent::Measuring { stage, count } => {
            asked.push((*stage, *count));
            bar.suspend(|| note!("{e}"));
            // Counted over the whole run: what is measured so far plus this request.
            bar.set_length(bar.position() + *count as u64);
        }
        FlowEvent::Measured { arch, latency_ms, warnings } => {
            for w in warnings {
                bar.suspend(|| note!("warning: {arch}: {w}"));
            }
            bar.inc(1);
            bar.set_message(format!("last {} ms", super::fmt_latency(*latency_ms, 3)));
        }
        FlowEvent::Failed { .. } => {
            bar.suspend(|| note!("{e}"));
            bar.inc(1);
        }
        FlowEvent::Decided { .. }
        | FlowEvent::Adapted { .. }
        | FlowEvent::Remeasuring { .. }
        | FlowEvent::Confident(_) => bar.suspend(|| note!("{e}")),
        FlowEvent::Remeasured { .. } => bar.suspend(|| note!("{e}")),
    };
    let result = flow.run(&mut oracle, &config, &mut on_event);
    bar.finish_and_clear();
    let outcome = match result {
        Ok(o) => o,
        // Passed up as it is: `main` turns it into exit status 3.
        Err(e @ oneproxy::Error::MeasurementsNeeded { .. }) => {
            note!("{}", manual_request_note(config.design, &asked));
            return Err(e.into());
        }
        Err(e) => return Err(e).with_context(|| format!("measurements so far are in {}", log_path.display())),
    };
    let mut inputs = table.inputs().to_vec();
    inputs.extend(acc.input().cloned());
    let body = NasBody { oracle: kind.to_string(), measurements_file: log_path.display().to_string(), outcome };
    let output = Output::new(Manifest::new(space, Some(args.seed), inputs), space, Some(acc.name()), body);
    if let Some(dir) = report_dir {
        write_report(dir, &output, (&table, &acc), &oracle.log().to_csv(), args.figure)?;
    }
    if args.json {
        return print_json(&output);
    }
    print(&render(&output.body.outcome, &log_path))
}

/// What a person who was just asked for measurements should expect: with the upfront design,
/// this request is the only one; with the others, how the requests will go on.
fn manual_request_note(design: Design, asked: &[(Stage, usize)]) -> String {
    let of = |s: Stage| asked.iter().filter(|a| a.0 == s).map(|a| a.1).sum::<usize>();
    match design {
        Design::Upfront { .. } => format!(
            "design upfront: one request of {} rows ({} initial samples and {} candidates chosen before any \
             target measurement); fill them all and run the same command once more: it finishes without asking \
             again (a sample marked `failed` is replaced, which asks for one more row)",
            of(Stage::Samples) + of(Stage::Candidates),
            of(Stage::Samples),
            of(Stage::Candidates)
        ),
        Design::Sequential { batch, .. } => format!(
            "design sequential: the flow asks again after each round of up to {batch} candidates (--round-size), \
             until another round is not expected to help; --design upfront asks for everything in one file"
        ),
        Design::Layers => "design layers: the flow asks for the samples (and more while the adaptation is \
                           unsure), then for the predicted Pareto layers at once; --design upfront asks for \
                           everything in one file"
            .to_string(),
    }
}

/// Whether `file` would be in folder `dir` (both resolved as far as they exist).
fn inside(dir: &std::path::Path, file: &std::path::Path) -> bool {
    let resolve = |p: &std::path::Path| {
        let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
        abs.canonicalize().unwrap_or(abs)
    };
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    resolve(parent).starts_with(resolve(dir))
}

/// The decision in words: "reuse" alone would hide that a sequential run refits the reused
/// proxy on what it measures.
fn decision_text(o: &NasOutcome) -> String {
    match (o.decision, o.refitted, o.kept_proxy) {
        (Decision::Reuse, _, true) => {
            "reuse (its latencies predicted its measurements better than any refit)".to_string()
        }
        (Decision::Reuse, true, false) => "reuse, then refit on its measurements".to_string(),
        (d, _, true) => {
            format!("{}, then the proxy's own latencies (they predicted the measurements better)", d.name())
        }
        (d, _, _) => d.name().to_string(),
    }
}

/// The runner-up proxies and, when the best ones tied, what chose among them.
fn proxy_choice_text(o: &NasOutcome) -> String {
    let mut out = String::new();
    let runner_ups: Vec<String> =
        o.proxy_ranking.iter().skip(1).map(|r| format!("{} ({})", r.proxy, fmt3(r.spearman))).collect();
    if !runner_ups.is_empty() {
        out.push_str(&format!("runner-up proxies (Spearman on the samples): {}\n", runner_ups.join(", ")));
    }
    if let Some(tie) = &o.proxy_tie {
        out.push_str(&format!(
            "tie: {} share the best Spearman; {} chosen by {}\n",
            tie.tied.join(", "),
            o.proxy,
            tie.broken_by.describe()
        ));
    }
    out
}

fn render(o: &NasOutcome, log: &std::path::Path) -> String {
    let mut out = format!(
        "target {}: proxy {} (Spearman {} on {} samples) -> {}{}\n{}{} measurements in all{} (in {})\n\nmeasured Pareto front:\n",
        o.target,
        o.proxy,
        fmt3(o.spearman_samples),
        o.measured.iter().filter(|m| m.stage == Stage::Samples).count(),
        decision_text(o),
        o.cv_spearman.map_or(String::new(), |c| format!(" (cross-validated Spearman {c:.3})")),
        proxy_choice_text(o),
        o.measurements,
        match o.remeasurements {
            0 => String::new(),
            n => format!(", and {n} again before reporting the front (latencies: the median of each one's values)"),
        },
        log.display()
    );
    // What the flow believes it left, and the step it read budgets on, before the front.
    let mut beliefs = String::new();
    if let Some(e) = &o.remaining_regret {
        beliefs.push_str(&format!("{}\n", e.describe()));
    }
    if let Some(step) = o.reporting_step {
        beliefs.push_str(&format!(
            "the target reports latencies in steps of {step} ms: budgets are read as reported values\n"
        ));
    }
    out.insert_str(out.len() - "\nmeasured Pareto front:\n".len(), &beliefs);
    let mut t = TextTable::new(["latency ms", "accuracy %", "architecture"]);
    for c in &o.chosen {
        t.row([format!("{:.3}", c.latency), format!("{:.2}", c.accuracy), c.arch.clone()]);
    }
    out.push_str(&t.render());
    for p in &o.picks {
        match &p.pick {
            Some(c) => out.push_str(&format!(
                "\nwithin {} ms: {:.2} % at {:.3} ms (measured)  {}",
                p.constraint, c.accuracy, c.latency, c.arch
            )),
            None => out.push_str(&format!("\nwithin {} ms: nothing measured fits", p.constraint)),
        }
    }
    out.push('\n');
    for w in &o.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The report folder of one target: its files ([`write_target`]), then the swap into place.
fn write_report(
    dir: oneproxy::output::ReportDir,
    output: &Output,
    data: (&oneproxy::LatencyTable, &oneproxy::AccuracyTable),
    log_csv: &str,
    figure: crate::args::FigureArgs,
) -> anyhow::Result<()> {
    write_target(&dir, "", output, data, log_csv, figure)?;
    let path = dir.commit()?;
    note!("wrote {}/", path.display());
    Ok(())
}

/// One target's files in a report folder, each name after `prefix` (empty for `nas`, the
/// device's for a fleet): `report.json`, the measurements CSV, the front CSV and (feature
/// `plot`) the Pareto plot of the measured architectures; then `report.html`, which inlines it.
pub fn write_target(
    dir: &oneproxy::output::ReportDir,
    prefix: &str,
    output: &Output,
    (table, acc): (&oneproxy::LatencyTable, &oneproxy::AccuracyTable),
    log_csv: &str,
    figure: crate::args::FigureArgs,
) -> anyhow::Result<()> {
    let name = |file: &str| format!("{prefix}{file}");
    dir.write(&name("report.json"), &serde_json::to_vec_pretty(output)?)?;
    dir.write(&name("measurements.csv"), log_csv.as_bytes())?;
    let o = &output.body.outcome;
    let front = oneproxy::report::tables::front_csv(o, super::proxy_latency(table, &o.proxy));
    dir.write(&oneproxy::report::tables::front_file(&o.target), front.as_bytes())?;
    #[cfg(feature = "plot")]
    {
        use oneproxy::plot::{Constraint, ParetoPlot, Series};
        let space = table.space().space();
        let point = |m: &oneproxy::workflow::Measured| {
            space.parse(&m.arch).ok().and_then(|a| acc.get(&a)).map(|a| (m.value_ms(), a))
        };
        let spreads: Vec<oneproxy::plot::Spread> = o
            .measured
            .iter()
            .filter_map(|m| Some(oneproxy::plot::Spread { ms: m.range_ms()?, accuracy: point(m)?.1 }))
            .collect();
        let measured: Vec<(f64, f64)> = o.measured.iter().filter_map(point).collect();
        let predicted: Vec<(f64, f64)> =
            o.measured.iter().filter(|m| m.stage == Stage::Candidates).filter_map(point).collect();
        let chosen: Vec<(f64, f64)> = o.chosen.iter().map(|c| (c.latency, c.accuracy)).collect();
        let constraints: Vec<Constraint> = o
            .picks
            .iter()
            .map(|p| Constraint { ms: p.constraint, pick: p.pick.as_ref().map(|c| (c.latency, c.accuracy)) })
            .collect();
        let labels = (
            format!("measured architectures ({})", measured.len()),
            format!("predicted front, measured ({})", predicted.len()),
            format!("oneproxy's final set, measured ({})", chosen.len()),
        );
        let svg = oneproxy::plot::pareto_svg(&ParetoPlot {
            title: &format!("{}: proxy {} ({}), {} measurements", o.target, o.proxy, o.decision.name(), o.measurements),
            cloud: Series { label: &labels.0, points: &measured },
            front: None,
            predicted: Some(Series { label: &labels.1, points: &predicted }),
            chosen: Some(Series { label: &labels.2, points: &chosen }),
            constraints: &constraints,
            budgets: (&[], ""),
            latency_axis: super::latency_axis(figure.log_latency),
            spreads: &spreads,
        })?;
        let file = name("pareto.svg");
        dir.write(&file, svg.as_bytes())?;
        let figures = oneproxy::report::html::Figures {
            pareto: vec![(o.target.clone(), oneproxy::report::html::Figure { file: &file, svg: &svg })],
            ..Default::default()
        };
        dir.write(&name("report.html"), oneproxy::report::html::render(&output.into(), &figures).as_bytes())?;
    }
    #[cfg(not(feature = "plot"))]
    {
        let _ = (figure, acc);
        dir.write(
            &name("report.html"),
            oneproxy::report::html::render(&output.into(), &Default::default()).as_bytes(),
        )?;
    }
    Ok(())
}
