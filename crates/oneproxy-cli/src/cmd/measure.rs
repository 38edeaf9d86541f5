//! `oneproxy measure`: latencies of architectures on this machine (tract) or through an external
//! runner, written as a latency CSV after every architecture.

use crate::args::MeasureArgs;
use anyhow::{bail, Context};
use oneproxy::measure::{Environment, MeasureParams, Measurement, Timer};
use oneproxy::{Arch, SearchSpace, SpaceId};
use std::path::Path;
use std::time::Duration;

/// One architecture's result, as printed with --json.
#[derive(serde::Serialize)]
struct Row {
    arch: String,
    /// Median latency per image (batch latency / batch), ms: the CSV value.
    latency_ms: f64,
    /// Multiply-adds per image (the network definition's count).
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
    environment: Environment,
    params: MeasureParams,
    /// Architectures already in --out (with --resume), not measured again.
    skipped: usize,
    measured: Vec<Row>,
    failed: Vec<Failure>,
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

/// The architectures to measure, in order, without repeats.
fn arch_list(a: &MeasureArgs, space: &dyn SearchSpace) -> anyhow::Result<Vec<Arch>> {
    let list = if let Some(s) = &a.arch {
        vec![space.parse(s)?]
    } else if let Some(f) = &a.archs {
        super::read_arch_list(f, space)?
    } else {
        let n = a.sample.unwrap_or(0);
        anyhow::ensure!(n >= 1, "--sample must be at least 1");
        let mut rng = oneproxy::space::seeded_rng(a.seed);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for _ in 0..n * 100 {
            let arch = space.sample(&mut rng);
            if seen.insert(arch.clone()) {
                out.push(arch);
            }
            if out.len() == n {
                break;
            }
        }
        out
    };
    let mut seen = std::collections::HashSet::new();
    Ok(list.into_iter().filter(|x| seen.insert(x.clone())).collect())
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
        let arch = space.parse_at(&rec[0], oneproxy::error::Origin::File { path: path.into(), line })?;
        rows.push((arch, rec[1].to_string()));
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
    anyhow::ensure!(a.batch >= 1, "--batch must be at least 1");
    anyhow::ensure!(a.threads >= 1, "--threads must be at least 1");
    anyhow::ensure!(a.max_time.is_finite() && a.max_time > 0.0, "--max-time must be a positive number of seconds");
    let params = MeasureParams {
        warmup: a.warmup,
        warmup_time: Duration::from_secs(1),
        min_runs: a.runs.min(5),
        max_runs: a.runs,
        max_time: Duration::from_secs_f64(a.max_time),
    };
    params.check()?;
    let archs = arch_list(&a, space)?;
    let (mut timer, prefix): (Box<dyn Timer>, &str) = match &a.runner_cmd {
        Some(t) => (Box::new(oneproxy::measure::runner::CommandTimer::new(t, a.runner_regex.as_deref())?), "runner"),
        None => (tract_timer(a.threads)?, "tract"),
    };
    let device = a.device_name.clone().unwrap_or_else(|| oneproxy::measure::host_device_name(prefix));
    oneproxy::table::validate_device_name(&device).context("--device-name")?;
    let mut rows = if a.out.exists() {
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
    let done: std::collections::HashSet<Arch> = rows.iter().map(|(x, _)| x.clone()).collect();
    let todo: Vec<Arch> = archs.into_iter().filter(|x| !done.contains(x)).collect();
    let skipped = done.len();
    // Fail early on an unwritable output, before any measurement.
    oneproxy::util::write_atomic(&a.out, render_csv(&device, &rows, space).as_bytes()).context("writing --out")?;
    let threads = if a.runner_cmd.is_some() { 1 } else { a.threads };
    let environment = Environment::detect(timer.engine(), threads, a.batch);
    let (measured, failed) = measure_all(&a, space_id, &todo, timer.as_mut(), &params, &device, &mut rows)?;
    let report = Report {
        space: space_id.name(),
        device,
        out: a.out.display().to_string(),
        seed: a.seed,
        environment,
        params,
        skipped,
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

fn measure_all(
    a: &MeasureArgs,
    space_id: SpaceId,
    todo: &[Arch],
    timer: &mut dyn Timer,
    params: &MeasureParams,
    device: &str,
    rows: &mut Vec<(Arch, String)>,
) -> anyhow::Result<(Vec<Row>, Vec<Failure>)> {
    #[cfg(not(feature = "onnx"))]
    {
        let _ = (a, space_id, todo, timer, params, device, rows);
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
                let bytes = oneproxy::onnx::export(space_id, arch, a.batch, a.seed);
                timer.load(&bytes, oneproxy::onnx::input_shape(space_id, arch, a.batch))?;
                oneproxy::measure::measure(timer, params)
            })();
            match result {
                Ok(m) => {
                    let per_image = m.summary.median_ms / a.batch as f64;
                    for w in &m.warnings {
                        bar.suspend(|| eprintln!("warning: {text}: {w}"));
                    }
                    rows.push((arch.clone(), format!("{per_image:.6}")));
                    oneproxy::util::write_atomic(&a.out, render_csv(device, rows, space).as_bytes())
                        .context("writing --out")?;
                    let cost = oneproxy::network::cost(space_id, arch);
                    measured.push(Row { arch: text, latency_ms: per_image, flops: cost.flops, params: cost.params, measurement: m });
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
        "device {} ({}, {} thread(s), batch {}, {})\n{}{} measured, {} already in {}, {} failed\n",
        r.device,
        r.environment.cpu_model,
        r.environment.threads,
        r.environment.batch,
        r.environment.engine,
        t.render(),
        r.measured.len(),
        r.skipped,
        r.out,
        r.failed.len()
    )
}
