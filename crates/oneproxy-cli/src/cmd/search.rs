//! `oneproxy search`: the Pareto front of accuracy against a device's latency.

use crate::args::{MethodArg, SearchArgs};
use crate::report::{print, print_json, TextTable};
use anyhow::{bail, Context};
use oneproxy::predictor::AdditivePredictor;
use oneproxy::search::{best_under_constraints, evolve, pareto_front, EvolutionParams};
use oneproxy::{Arch, LatencyTable, Manifest, SpaceId};
use serde::Serialize;
use std::collections::HashMap;

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

/// Latency of architectures from a device column or a predictor.
enum Latency<'a> {
    Device { table: &'a LatencyTable, col: usize },
    Predicted(HashMap<Arch, f64>, &'a AdditivePredictor, &'a LatencyTable),
}

impl Latency<'_> {
    fn of(&self, a: &Arch) -> Option<f64> {
        match self {
            Latency::Device { table, col } => table.latency(a, *col),
            Latency::Predicted(cache, p, table) => {
                cache.get(a).copied().or_else(|| p.predict_with(std::slice::from_ref(a), table).ok().map(|v| v[0]))
            }
        }
    }
}

pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space.into();
    let table = super::load_table(&args.data)?;
    let acc = super::accuracy_table(space, &args.accuracy)?;
    let predictor = match &args.predictor {
        Some(p) => {
            // The library's error names the file; the context names the flag.
            let pred = AdditivePredictor::load(p).context("reading --predictor")?;
            if pred.space != space {
                bail!("predictor {} is for space {}, not {space} (use --space {})", p.display(), pred.space, pred.space);
            }
            // Positive over the space with this table's measurements too (load checked the rest).
            pred.check_positive(Some(&table)).with_context(|| format!("predictor {}", p.display()))?;
            Some(pred)
        }
        None => None,
    };
    let candidates: Vec<Arch> = acc.archs();
    let (latency, source) = match (&args.device, &predictor) {
        (Some(d), _) => (Latency::Device { table: &table, col: table.device_index(d)? }, format!("device {d} (measured)")),
        (None, Some(p)) => {
            let values = p.predict_with(&candidates, &table)?;
            let cache: HashMap<Arch, f64> = candidates.iter().cloned().zip(values).collect();
            (Latency::Predicted(cache, p, &table), format!("predictor {}", args.predictor.as_ref().unwrap().display()))
        }
        (None, None) => unreachable!("clap requires one latency source"),
    };
    let s = space.space();
    let bundled = oneproxy::bundled::bundle(space).ok().filter(|b| !b.archs.is_empty());
    let index = |a: &Arch| bundled.and_then(|b| b.latency.row_of(a));
    // Accuracies from a file cover only its architectures: evolution would wander outside them.
    let method = if args.method == MethodArg::Evolution && args.accuracy.accuracy_file.is_some() {
        eprintln!(
            "note: accuracies from a file cover only its {} architectures; searching all of them exhaustively instead of by evolution",
            acc.len()
        );
        MethodArg::Exhaustive
    } else {
        args.method
    };
    let (points, evaluated): (Vec<Point>, usize) = match method {
        MethodArg::Exhaustive => {
            let pts: Vec<Point> = candidates
                .iter()
                .filter_map(|a| Some(Point { arch: s.format(a), index: index(a), latency: latency.of(a)?, accuracy: acc.get(a)? }))
                .collect();
            let n = pts.len();
            (pts, n)
        }
        MethodArg::Evolution => {
            let params = EvolutionParams { population: args.population, generations: args.generations, seed: args.seed, ..EvolutionParams::default() };
            let bar = crate::progress::bar(args.generations as u64, "generations");
            let result = evolve(s, |a| Some((latency.of(a)?, acc.get(a)?)), &params, |g, _| bar.set_position(g as u64))?;
            bar.finish_and_clear();
            let n = result.evaluations();
            (result.archive.iter().map(|e| Point { arch: s.format(&e.arch), index: index(&e.arch), latency: e.latency, accuracy: e.accuracy }).collect(), n)
        }
    };
    if points.is_empty() {
        bail!("no architecture has both a latency ({source}) and an accuracy ({})", acc.name());
    }
    let lat: Vec<f64> = points.iter().map(|p| p.latency).collect();
    let accs: Vec<f64> = points.iter().map(|p| p.accuracy).collect();
    let front: Vec<Point> = pareto_front(&lat, &accs)?.into_iter().map(|i| points[i].clone()).collect();
    let picks = best_under_constraints(&lat, &accs, &args.constraints)?;
    let picks: Vec<Pick> = args.constraints.iter().zip(picks).map(|(&c, p)| Pick { constraint: c, point: p.map(|i| points[i].clone()) }).collect();
    if let Some(path) = &args.plot {
        let marks: Vec<(f64, Option<(f64, f64)>)> = picks.iter().map(|p| (p.constraint, p.point.as_ref().map(|q| (q.latency, q.accuracy)))).collect();
        super::plot_pareto(path, &format!("{space}: {} vs {source}", acc.name()), &points, &front, &marks, args.figure)?;
    }
    if let Some(path) = &args.out_csv {
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<(String, String)> = front
            .iter()
            .chain(picks.iter().filter_map(|p| p.point.as_ref()))
            .filter(|p| seen.insert(p.arch.clone()))
            .map(|p| (p.arch.clone(), String::new()))
            .collect();
        let text = super::latency_csv(&args.device_name, rows).context("--device-name")?;
        oneproxy::util::write_atomic(path, text.as_bytes())?;
        eprintln!("wrote {} ({} architectures to measure on '{}')", path.display(), seen.len(), args.device_name);
    }
    let method = match method {
        MethodArg::Exhaustive => "exhaustive",
        MethodArg::Evolution => "evolution",
    };
    if args.json {
        let mut inputs = table.inputs().to_vec();
        inputs.extend(acc.input().cloned());
        if let Some(p) = &args.predictor {
            inputs.push(oneproxy::manifest::InputFile::from_path(p)?);
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
        t.row([super::fmt_latency(p.latency, 3), format!("{:.2}", p.accuracy), p.index.map_or("-".into(), |i| i.to_string()), p.arch.clone()]);
    }
    let mut out = format!("Pareto front ({method}, {evaluated} architectures evaluated), latency from {source}\n\n{}", t.render());
    for p in &picks {
        match &p.point {
            Some(x) => out.push_str(&format!("\nwithin {} ms: {:.2} % at {} ms  {}", p.constraint, x.accuracy, super::fmt_latency(x.latency, 3), x.arch)),
            None => out.push_str(&format!("\nwithin {} ms: nothing", p.constraint)),
        }
    }
    out.push('\n');
    print(&out)
}
