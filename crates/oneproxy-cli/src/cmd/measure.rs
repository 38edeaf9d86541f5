//! `oneproxy measure`: latencies of architectures on this machine (tract) or through an external
//! runner, written as a latency CSV after every architecture.

use crate::args::{MeasureArgs, RunnerArgs, TimingArgs};
use anyhow::{bail, Context};
use oneproxy::measure::{Environment, MeasureParams, Measurement, Timer};
use oneproxy::network::Execution;
use oneproxy::{Arch, SearchSpace, SpaceId};
use std::path::Path;
use std::time::Duration;

/// One architecture's result, as printed with --json.
#[derive(serde::Serialize)]
struct Row {
    arch: String,
    /// Median latency per image (batch latency / batch), ms: the CSV value.
    latency_ms: f64,
    /// Multiply-adds per image (the network definition's count, of the model measured: the
    /// pruned one with --prune-dead).
    flops: u64,
    /// Parameters.
    params: u64,
    measurement: Measurement,
}

#[derive(serde::Serialize)]
struct Failure {
    arch: String,
    error: String,
}

#[derive(serde::Serialize)]
struct Report {
    space: &'static str,
    device: String,
    out: String,
    seed: u64,
    /// Whether the models were built without their `none` edges and dead operations
    /// (`--prune-dead`); the rows keep the architectures as given.
    prune_dead: bool,
    environment: Environment,
    params: MeasureParams,
    /// Architectures already in --out (with --resume), not measured again.
    skipped: usize,
    /// What did not go as asked (e.g. fewer architectures than --sample), in words.
    warnings: Vec<String>,
    measured: Vec<Row>,
    failed: Vec<Failure>,
}

/// Bounds of one architecture's measurement from the timing flags.
pub fn measure_params(t: &TimingArgs) -> anyhow::Result<MeasureParams> {
    anyhow::ensure!(t.batch >= 1, "--batch must be at least 1");
    anyhow::ensure!(t.threads >= 1, "--threads must be at least 1");
    let params = MeasureParams {
        warmup: t.warmup,
        warmup_time: Duration::from_secs(1),
        min_runs: t.runs.min(5),
        max_runs: t.runs,
        max_time: seconds(t.max_time, "--max-time")?,
    };
    params.check()?;
    Ok(params)
}

/// The engine of the runner flags (an external command), else tract; and its name prefix.
pub fn timer(r: &RunnerArgs, t: &TimingArgs) -> anyhow::Result<(Box<dyn Timer>, &'static str)> {
    Ok(match &r.runner_cmd {
        Some(cmd) => {
            let runner = oneproxy::measure::runner::CommandTimer::new(cmd, r.runner_regex.as_deref())?
                .timeout(seconds(r.runner_timeout, "--runner-timeout")?)?;
            (Box::new(runner), "runner")
        }
        None => (tract_timer(t.threads)?, "tract"),
    })
}

fn tract_timer(threads: usize) -> anyhow::Result<Box<dyn Timer>> {
    #[cfg(feature = "tract")]
    {
        Ok(Box::new(oneproxy::measure::tract::TractTimer::new(threads)))
    }
    #[cfg(not(feature = "tract"))]
    {
        let _ = threads;
        bail!(
            "measuring on this machine needs the `tract` feature: rebuild oneproxy with `--features tract` \
             (e.g. `cargo build --release -p oneproxy-cli --features tract`), or measure through another \
             runtime with --runner-cmd"
        )
    }
}

/// The architectures to measure, in order, without repeats, and warnings when --sample cannot
/// be met (the space is smaller, or too few distinct architectures were drawn).
fn arch_list(a: &MeasureArgs, space: &dyn SearchSpace) -> anyhow::Result<(Vec<Arch>, Vec<String>)> {
    let mut warnings = Vec::new();
    let list = if let Some(s) = &a.arch {
        vec![space.parse(s)?]
    } else if let Some(f) = &a.archs {
        super::read_arch_list(f, space)?
    } else {
        let n = a.sample.unwrap_or(0);
        anyhow::ensure!(n >= 1, "--sample must be at least 1");
        let want = match space.enumerate().map(|all| all.len()) {
            Some(size) if n > size => {
                warnings.push(format!(
                    "--sample {n}: the {} space has only {size} architectures; measuring all {size}",
                    space.id().name()
                ));
                size
            }
            _ => n,
        };
        let mut rng = oneproxy::space::seeded_rng(a.seed);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let tries = want.saturating_mul(100);
        for _ in 0..tries {
            let arch = space.sample(&mut rng);
            if seen.insert(arch.clone()) {
                out.push(arch);
            }
            if out.len() == want {
                break;
            }
        }
        if out.len() < want {
            warnings.push(format!(
                "--sample {n}: only {} distinct architectures were drawn in {tries} tries; measuring those",
                out.len()
            ));
        }
        out
    };
    let mut seen = std::collections::HashSet::new();
    Ok((list.into_iter().filter(|x| seen.insert(x.clone())).collect(), warnings))
}

/// Rows of an existing output file (for --resume): (canonical arch, value as written).
fn read_existing(path: &Path, device: &str, space: &dyn SearchSpace) -> anyhow::Result<Vec<(Arch, String)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(String::from).collect();
    if header != ["arch", device] {
        bail!(
            "{}: --resume needs the header 'arch,{device}', found '{}' (a different --device-name?)",
            path.display(),
            header.join(",")
        );
    }
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let origin = || oneproxy::error::Origin::File { path: path.into(), line };
        let arch = space.parse_at(rec.get(0).unwrap_or(""), origin())?;
        // An empty value is measured again; anything else must be a usable latency.
        let value = rec.get(1).unwrap_or("");
        if !value.is_empty() && !value.parse::<f64>().is_ok_and(|v| v.is_finite() && v > 0.0) {
            let shown: String = value.chars().take(60).collect();
            return Err(oneproxy::Error::BadValue {
                origin: origin(),
                column: device.to_string(),
                value: if shown.len() < value.len() { format!("{shown}...") } else { shown },
                reason: "a latency must be a positive number of ms; correct it, or empty the cell to measure it again"
                    .into(),
            }
            .into());
        }
        rows.push((arch, value.to_string()));
    }
    Ok(rows)
}

fn render_csv(device: &str, rows: &[(Arch, String)], space: &dyn SearchSpace) -> String {
    let mut out = format!("arch,{}\n", super::csv_field(device));
    for (arch, v) in rows {
        out.push_str(&format!("{},{v}\n", super::csv_field(&space.format(arch))));
    }
    out
}

pub fn run(a: MeasureArgs) -> anyhow::Result<()> {
    let space_id: SpaceId = a.space.into();
    let space = space_id.space();
    let exec = super::execution(a.prune_dead, space_id)?;
    let params = measure_params(&a.timing)?;
    let (archs, warnings) = arch_list(&a, space)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    // One writer per output: a second `measure` on the same file would rewrite it from its own
    // rows and lose the first one's.
    oneproxy::output::check_output_file(&a.out).context("--out")?;
    let _lock = oneproxy::output::OutputLock::acquire(&a.out, "measure")
        .with_context(|| format!("locking --out {}", a.out.display()))?;
    let (_, existing) = oneproxy::output::check_output_file(&a.out).context("--out")?;
    let (mut timer, prefix) = timer(&a.runner, &a.timing)?;
    let device = a.device_name.clone().unwrap_or_else(|| oneproxy::measure::host_device_name(prefix));
    oneproxy::table::validate_device_name(&device).context("--device-name")?;
    let mut rows = if existing.is_some() {
        if !a.resume {
            bail!(
                "{} exists: pass --resume to keep its rows and measure only the missing architectures, or remove it",
                a.out.display()
            );
        }
        read_existing(&a.out, &device, space)?
    } else {
        Vec::new()
    };
    let done: std::collections::HashSet<Arch> =
        rows.iter().filter(|(_, v)| !v.is_empty()).map(|(x, _)| x.clone()).collect();
    let todo: Vec<Arch> = archs.into_iter().filter(|x| !done.contains(x)).collect();
    let skipped = done.len();
    // Fail early on an unwritable output, before any measurement.
    oneproxy::util::write_atomic(&a.out, render_csv(&device, &rows, space).as_bytes()).context("writing --out")?;
    let threads = if a.runner.runner_cmd.is_some() { 1 } else { a.timing.threads };
    let environment = Environment::detect(timer.engine(), threads, a.timing.batch);
    let (measured, failed) = measure_all(&a, space_id, exec, &todo, timer.as_mut(), &params, &device, &mut rows)?;
    let report = Report {
        space: space_id.name(),
        device,
        out: a.out.display().to_string(),
        seed: a.seed,
        prune_dead: a.prune_dead,
        environment,
        params,
        skipped,
        warnings,
        measured,
        failed,
    };
    if a.json {
        crate::report::print_json(&report)?;
    } else {
        crate::report::print(&summary_text(&report))?;
    }
    if !report.failed.is_empty() {
        bail!(
            "{} of {} architectures failed (see above); the {} others are in {}",
            report.failed.len(),
            todo.len(),
            report.measured.len(),
            a.out.display()
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn measure_all(
    a: &MeasureArgs,
    space_id: SpaceId,
    exec: Execution,
    todo: &[Arch],
    timer: &mut dyn Timer,
    params: &MeasureParams,
    device: &str,
    rows: &mut Vec<(Arch, String)>,
) -> anyhow::Result<(Vec<Row>, Vec<Failure>)> {
    #[cfg(not(feature = "onnx"))]
    {
        let _ = (a, space_id, exec, todo, timer, params, device, rows);
        bail!("measuring needs the ONNX export: rebuild oneproxy with `--features onnx`")
    }
    #[cfg(feature = "onnx")]
    {
        let space = space_id.space();
        let bar = indicatif::ProgressBar::new(todo.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} archs, eta {eta} {msg}")
                .expect("valid template"),
        );
        let mut measured = Vec::new();
        let mut failed = Vec::new();
        for arch in todo {
            let text = space.format(arch);
            let result = (|| -> oneproxy::Result<Measurement> {
                let bytes = oneproxy::onnx::export_with(space_id, arch, a.timing.batch, a.seed, exec)?;
                timer.label(&text);
                timer.load(&bytes, oneproxy::onnx::input_shape(space_id, arch, a.timing.batch))?;
                oneproxy::measure::measure(timer, params)
            })();
            match result {
                Ok(m) => {
                    let per_image = m.summary.median_ms / a.timing.batch as f64;
                    for w in &m.warnings {
                        bar.suspend(|| eprintln!("warning: {text}: {w}"));
                    }
                    let value = format!("{per_image:.6}");
                    match rows.iter_mut().find(|(x, _)| x == arch) {
                        Some(row) => row.1 = value,
                        None => rows.push((arch.clone(), value)),
                    }
                    oneproxy::util::write_atomic(&a.out, render_csv(device, rows, space).as_bytes())
                        .context("writing --out")?;
                    let cost = oneproxy::network::build_with(space_id, arch, exec)?.cost();
                    measured.push(Row {
                        arch: text,
                        latency_ms: per_image,
                        flops: cost.flops,
                        params: cost.params,
                        measurement: m,
                    });
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {text}: {e:#}"));
                    failed.push(Failure { arch: text, error: format!("{e:#}") });
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok((measured, failed))
    }
}

/// A positive number of seconds as a duration (a flag's value).
fn seconds(v: f64, flag: &str) -> anyhow::Result<Duration> {
    match Duration::try_from_secs_f64(v) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => bail!("{flag} must be a positive number of seconds, got {v}"),
    }
}

fn summary_text(r: &Report) -> String {
    let mut t = crate::report::TextTable::new(["arch", "ms/image", "MAD %", "runs", "outliers", "flag"]);
    for row in &r.measured {
        let s = &row.measurement.summary;
        t.row([
            row.arch.clone(),
            format!("{:.4}", row.latency_ms),
            format!("{:.2}", 100.0 * s.mad_ms / s.median_ms),
            row.measurement.samples_ms.len().to_string(),
            s.outliers.len().to_string(),
            if row.measurement.unstable { "unstable".into() } else { String::new() },
        ]);
    }
    format!(
        "device {} ({}, {} thread(s), batch {}, {}{})\n{}{} measured, {} already in {}, {} failed\n",
        r.device,
        r.environment.cpu_model,
        r.environment.threads,
        r.environment.batch,
        r.environment.engine,
        if r.prune_dead { ", dead operations pruned" } else { "" },
        t.render(),
        r.measured.len(),
        r.skipped,
        r.out,
        r.failed.len()
    )
}
