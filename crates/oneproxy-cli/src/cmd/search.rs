//! `oneproxy search`: the Pareto front of accuracy against a device's latency.

use crate::args::SearchArgs;
use crate::report::{print, print_json, TextTable};
use anyhow::{bail, Context};
use oneproxy::predictor::{AdditivePredictor, ProxyLatency};
use oneproxy::search::EvolutionParams;
use oneproxy::search::{search, LatencySource, Method};
use oneproxy::{Arch, Manifest, SpaceId};
use serde::Serialize;

#[derive(Serialize, Clone)]
struct Point {
    arch: String,
    /// Row of the bundled dataset (NB201: the benchmark's own index), where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    latency: f64,
    accuracy: f64,
}

impl super::PointLike for Point {
    fn xy(&self) -> (f64, f64) {
        (self.latency, self.accuracy)
    }
}

#[derive(Serialize)]
struct Pick {
    constraint: f64,
    #[serde(flatten)]
    point: Option<Point>,
}

#[derive(Serialize)]
struct Output {
    manifest: Manifest,
    space: String,
    method: String,
    latency_source: String,
    evaluated: usize,
    front: Vec<Point>,
    constraints: Vec<Pick>,
}

pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space()?;
    let outputs = oneproxy::output::Outputs::new(args.force)
        .inputs(&args.data.latency)
        .inputs(args.accuracy.accuracy_file.iter())
        .inputs(args.predictor.iter());
    for (path, flag) in [(&args.plot, "--plot"), (&args.out_csv, "--out-csv"), (&args.to_measure, "--to-measure")] {
        if let Some(p) = path {
            outputs.check(p).context(flag)?;
        }
    }
    let table = super::load_table(&args.data)?;
    let acc = super::accuracy_table(space, &args.accuracy)?;
    let predictor = match &args.predictor {
        Some(p) => {
            // The library's error names the file; the context names the flag.
            let pred = AdditivePredictor::load(p).context("reading --predictor")?;
            if pred.space() != space {
                bail!(
                    "predictor {} is for space {}, not {space} (use --space {})",
                    p.display(),
                    pred.space(),
                    pred.space()
                );
            }
            pred.check_inputs(&table).with_context(|| format!("predictor {}", p.display()))?;
            // Positive over the space with this table's measurements too (load checked the rest).
            pred.check_positive(ProxyLatency::Measured(&table))
                .with_context(|| format!("predictor {}", p.display()))?;
            Some(pred)
        }
        None => None,
    };
    let candidates: Vec<Arch> = acc.archs();
    let (latency, source) = match (&args.device, &predictor) {
        (Some(d), _) => (LatencySource::device(&table, d)?, format!("device {d} (measured)")),
        (None, Some(p)) => (
            LatencySource::predicted(p, &table, &candidates)?,
            format!("predictor {}", args.predictor.as_ref().unwrap().display()),
        ),
        (None, None) => unreachable!("clap requires one latency source"),
    };
    let bundled = oneproxy::data::bundle(space).ok().filter(|b| !b.archs.is_empty());
    let index = |a: &Arch| bundled.and_then(|b| b.latency.row_of(a));
    // Accuracies from a file cover only its architectures: evolution would wander outside them.
    let evolution = EvolutionParams {
        population: args.population,
        generations: args.generations,
        seed: args.seed,
        ..EvolutionParams::default()
    };
    let mut method = Method::named(&args.method, evolution)?;
    if matches!(method, Method::Evolution(_)) && args.accuracy.accuracy_file.is_some() {
        note!(
            "note: accuracies from a file cover only its {} architectures; searching all of them exhaustively instead of by evolution",
            acc.len()
        );
        method = Method::Exhaustive;
    }
    let bar = match method {
        Method::Evolution(_) => crate::progress::bar(args.generations as u64, "generations"),
        Method::Exhaustive => indicatif::ProgressBar::hidden(),
    };
    let found = search(&latency, &acc, &candidates, &method, &args.constraints, |g, _| bar.set_position(g as u64))?;
    bar.finish_and_clear();
    if found.points.is_empty() {
        bail!("no architecture has both a latency ({source}) and an accuracy ({})", acc.name());
    }
    let s = space.space();
    let points: Vec<Point> = found
        .points
        .iter()
        .map(|e| Point { arch: s.format(&e.arch), index: index(&e.arch), latency: e.latency, accuracy: e.accuracy })
        .collect();
    let evaluated = found.evaluated;
    let front: Vec<Point> = found.front.iter().map(|&i| points[i].clone()).collect();
    let picks: Vec<Pick> = args
        .constraints
        .iter()
        .zip(&found.picks)
        .map(|(&c, p)| Pick { constraint: c, point: p.map(|i| points[i].clone()) })
        .collect();
    if let Some(path) = &args.plot {
        let marks: Vec<(f64, Option<(f64, f64)>)> =
            picks.iter().map(|p| (p.constraint, p.point.as_ref().map(|q| (q.latency, q.accuracy)))).collect();
        super::plot_pareto(
            path,
            &format!("{space}: {} vs {source}", acc.name()),
            &points,
            &front,
            &marks,
            args.figure,
            &outputs,
        )
        .context("--plot")?;
    }
    if let Some(path) = &args.out_csv {
        let header = ["arch", "latency_ms", "accuracy", "index"].map(String::from);
        let rows = front.iter().map(|p| {
            [
                p.arch.clone(),
                p.latency.to_string(),
                p.accuracy.to_string(),
                p.index.map_or(String::new(), |i| i.to_string()),
            ]
        });
        let text = oneproxy::data::csv_text(std::iter::once(header).chain(rows));
        outputs.write(path, text.as_bytes()).context("--out-csv")?;
        note!("wrote {} (the front: {} architectures with latency and accuracy)", path.display(), front.len());
    }
    if let Some(path) = &args.to_measure {
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<(String, String)> = front
            .iter()
            .chain(picks.iter().filter_map(|p| p.point.as_ref()))
            .filter(|p| seen.insert(p.arch.clone()))
            .map(|p| (p.arch.clone(), String::new()))
            .collect();
        let text = super::latency_csv(&args.device_name, rows).context("--device-name")?;
        outputs.write(path, text.as_bytes()).context("--to-measure")?;
        note!("wrote {} ({} architectures to measure on '{}')", path.display(), seen.len(), args.device_name);
    }
    let method = method.name();
    if args.json {
        let mut inputs = table.inputs().to_vec();
        inputs.extend(acc.input().cloned());
        if let Some(p) = &args.predictor {
            inputs.push(oneproxy::data::manifest::InputFile::from_path(p)?);
        }
        let seed = (method == "evolution").then_some(args.seed);
        return print_json(&Output {
            manifest: Manifest::new(space, seed, inputs),
            space: space.name().into(),
            method: method.into(),
            latency_source: source,
            evaluated,
            front,
            constraints: picks,
        });
    }
    let mut t = TextTable::new(["latency ms", "accuracy %", "index", "architecture"]);
    for p in &front {
        t.row([
            super::fmt_latency(p.latency, 3),
            format!("{:.2}", p.accuracy),
            p.index.map_or("-".into(), |i| i.to_string()),
            p.arch.clone(),
        ]);
    }
    let mut out = format!(
        "Pareto front ({method}, {evaluated} architectures evaluated), latency from {source}\n\n{}",
        t.render()
    );
    for p in &picks {
        match &p.point {
            Some(x) => out.push_str(&format!(
                "\nwithin {} ms: {:.2} % at {} ms  {}",
                p.constraint,
                x.accuracy,
                super::fmt_latency(x.latency, 3),
                x.arch
            )),
            None => out.push_str(&format!("\nwithin {} ms: nothing", p.constraint)),
        }
    }
    out.push('\n');
    print(&out)
}
