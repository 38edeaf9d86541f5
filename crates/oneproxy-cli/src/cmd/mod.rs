//! One module per subcommand. Each turns its arguments into library calls and renders the result.

mod adapt;
mod devices;
mod evaluate;
mod export;
mod measure;
mod monotonicity;
mod nas;
mod plan;
mod predict;
mod run;
mod search;

use crate::args::{AdaptOptions, Cli, Command, DataArgs, EvaluateCommand, FormArg, NormArg, ProxyArgs};
use anyhow::{bail, Context};
use oneproxy::predictor::{AdaptParams, Form, FormChoice, LambdaChoice, Penalty, Validation};
use oneproxy::{Arch, LatencyTable, SearchSpace, SpaceId};
use std::path::Path;

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Devices(a) => devices::run(a),
        Command::Monotonicity(a) => monotonicity::run(a),
        Command::Adapt(a) => adapt::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Evaluate(EvaluateCommand::Adapt(a)) => evaluate::run_adapt(a),
        Command::Evaluate(EvaluateCommand::Nas(a)) => nas::run(a),
        Command::Search(a) => search::run(a),
        Command::Run(a) => run::run(a),
        Command::Export(a) => export::run(a),
        Command::Measure(a) => measure::run(a),
    }
}

/// The bundled table of the space plus the user's `--latency` files.
pub fn load_table(data: &DataArgs) -> anyhow::Result<LatencyTable> {
    let space: SpaceId = data.space.into();
    let table = LatencyTable::bundled_with(space, &data.latency)
        .with_context(|| format!("loading latency data for space {space}"))?;
    if table.devices().is_empty() {
        bail!(
            "space {space} has no bundled latency data: measure architectures with `oneproxy measure --space {space}` \
             (or another runtime) and pass the CSV with --latency"
        );
    }
    Ok(table)
}

/// Library parameters from the adaptation flags.
pub fn adapt_params(o: &AdaptOptions) -> anyhow::Result<AdaptParams> {
    let penalty = match o.norm {
        NormArg::L1 => Penalty::L1,
        NormArg::L2 => Penalty::L2,
        NormArg::Inf => Penalty::Linf,
        NormArg::Ridge => Penalty::Ridge,
    };
    let form = match o.form {
        FormArg::Auto => FormChoice::Auto,
        FormArg::PerFeature => FormChoice::Fixed(Form::PerFeature),
        FormArg::Grouped => FormChoice::Fixed(Form::Grouped),
        FormArg::MeasuredCounts => FormChoice::Fixed(Form::MeasuredCounts),
        FormArg::AdditiveOnehot => FormChoice::Fixed(Form::AdditiveOneHot),
    };
    let lambda = if o.lambda == "auto" {
        LambdaChoice::Auto { grid: 25 }
    } else {
        let v: f64 = o.lambda.parse().ok().filter(|v: &f64| *v >= 0.0 && v.is_finite()).with_context(|| {
            format!("--lambda must be 'auto' or a number >= 0, got '{}'", o.lambda)
        })?;
        LambdaChoice::Fixed(v)
    };
    let validation = if o.folds == 0 { Validation::LeaveOneOut } else { Validation::KFold(o.folds) };
    Ok(AdaptParams { penalty, form, lambda, validation, ensemble: o.ensemble })
}

/// Parameters of the one-proxy NAS flow from its flags.
pub fn flow_params(flow: &crate::args::FlowArgs, options: &AdaptOptions, seed: u64) -> anyhow::Result<oneproxy::nas::NasParams> {
    Ok(oneproxy::nas::NasParams {
        threshold: flow.threshold,
        max_samples: flow.max_samples,
        constraints: flow.constraints.clone(),
        adapt: adapt_params(options)?,
        seed,
        layers: flow.layers,
    })
}

/// The proxy candidates of every target (each target must exist).
pub fn pools_for(table: &LatencyTable, p: &ProxyArgs, targets: &[String]) -> anyhow::Result<Vec<Vec<String>>> {
    targets
        .iter()
        .map(|t| {
            table.device_index(t)?;
            proxy_candidates(table, p, t)
        })
        .collect()
}

/// The proxy candidates for a target: the named proxy, the given pool, or every other device.
pub fn proxy_candidates(table: &LatencyTable, p: &ProxyArgs, target: &str) -> anyhow::Result<Vec<String>> {
    let list: Vec<String> = if p.proxy != "auto" {
        if !p.pool.is_empty() {
            bail!("--pool only applies with --proxy auto");
        }
        vec![p.proxy.clone()]
    } else if p.pool.is_empty() {
        let space_min = table.space().space().num_features().min(30) + 1;
        table
            .measured_device_names()
            .into_iter()
            .filter(|d| d != target && table.device_index(d).is_ok_and(|i| table.measured_count(i) >= space_min))
            .collect()
    } else {
        p.pool.iter().filter(|d| *d != target).cloned().collect()
    };
    for d in &list {
        table.device_index(d)?;
    }
    if list.is_empty() {
        bail!("no proxy candidate for target '{target}'");
    }
    Ok(list)
}

/// Read a CSV with an `arch` column (other columns ignored).
pub fn read_arch_list(path: &Path, space: &dyn SearchSpace) -> anyhow::Result<Vec<Arch>> {
    let mut reader = csv_reader(path)?;
    let header = reader.headers().with_context(|| format!("{}: reading the header", path.display()))?.clone();
    let col = header.iter().position(|h| h == "arch").with_context(|| format!("{}: no 'arch' column", path.display()))?;
    let mut out = Vec::new();
    for rec in reader.records() {
        let rec = rec.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let line = rec.position().map_or(0, |p| p.line());
        out.push(space.parse_at(&rec[col], oneproxy::error::Origin::File { path: path.into(), line })?);
    }
    if out.is_empty() {
        bail!("{}: no architectures", path.display());
    }
    Ok(out)
}

fn csv_reader(path: &Path) -> anyhow::Result<csv::Reader<std::fs::File>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(f))
}

/// Quote a CSV field if needed (NB201 strings contain '|' but no commas; be safe anyway).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// A latency in ms with `decimals` decimals in the usual range (0.1 ms to 1e9 ms), and in
/// scientific notation outside it, so that no positive latency prints as 0.000.
pub fn fmt_latency(v: f64, decimals: usize) -> String {
    if (0.1..1e9).contains(&v) { format!("{v:.decimals$}") } else { format!("{v:.decimals$e}") }
}

/// Write text to a file (atomically) or to stdout.
pub fn emit(text: &str, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(p) => {
            oneproxy::util::write_atomic(p, text.as_bytes())?;
            eprintln!("wrote {}", p.display());
            Ok(())
        }
        None => crate::report::print(text),
    }
}

/// Draw a Pareto plot (feature `plot`).
#[cfg(feature = "plot")]
fn plot_pareto(
    path: &Path,
    title: &str,
    points: &[impl PointLike],
    front: &[impl PointLike],
    chosen: Option<&[(f64, f64)]>,
    constraints: &[f64],
) -> anyhow::Result<()> {
    use oneproxy::plot::{pareto, Series};
    let all: Vec<(f64, f64)> = points.iter().map(|p| p.xy()).collect();
    let fr: Vec<(f64, f64)> = front.iter().map(|p| p.xy()).collect();
    pareto(
        path,
        title,
        Series { label: "evaluated architectures", points: &all },
        Series { label: "Pareto front", points: &fr },
        chosen.map(|c| Series { label: "chosen", points: c }),
        constraints,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[cfg(not(feature = "plot"))]
fn plot_pareto(
    _: &Path,
    _: &str,
    _: &[impl PointLike],
    _: &[impl PointLike],
    _: Option<&[(f64, f64)]>,
    _: &[f64],
) -> anyhow::Result<()> {
    anyhow::bail!("this oneproxy was built without the `plot` feature")
}

/// Something with a (latency, accuracy) position.
pub trait PointLike {
    /// (latency, accuracy).
    fn xy(&self) -> (f64, f64);
}
