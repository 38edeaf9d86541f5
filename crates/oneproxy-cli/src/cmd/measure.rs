//! `oneproxy measure`: latencies of architectures on this machine (tract) or through an external
//! runner, written as a latency CSV after every architecture.

use crate::args::{MeasureArgs, RunnerArgs, TimingArgs};
use anyhow::{bail, Context};
#[cfg(feature = "onnx")]
use oneproxy::data::{Answer, MeasurementLog};
#[cfg(feature = "onnx")]
use oneproxy::measure::Session;
use oneproxy::measure::{Environment, MeasureParams, Measurement, Timer};
use oneproxy::network::Execution;
use oneproxy::{Arch, SearchSpace, SpaceId};
use std::time::Duration;

/// One architecture's result, as printed with --json.
#[derive(serde::Serialize)]
struct Row {
    arch: String,
    /// Median latency per image (batch latency / batch), ms: the CSV value.
    latency_ms: f64,
    /// Multiply-adds per image (the network definition's count, of the model measured: the
    /// pruned one with --prune-dead); absent for a --builder-cmd model, which is the user's.
    #[serde(skip_serializing_if = "Option::is_none")]
    flops: Option<u64>,
    /// Parameters (absent for a --builder-cmd model).
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<u64>,
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

/// The engine of the runner flags (an external command, per run or persistent), else tract; and
/// its name prefix. A runner's program is printed as `PATH` resolves it (a `python3` that is
/// not the virtual environment's is the usual cause of "No module named onnxruntime").
pub fn timer(r: &RunnerArgs, t: &TimingArgs) -> anyhow::Result<(Box<dyn Timer>, &'static str)> {
    use oneproxy::measure::{persistent::PersistentTimer, runner::CommandTimer};
    let timeout = seconds(r.runner_timeout, "--runner-timeout")?;
    // clap's `requires` is waived when the required flag conflicts with one given (here
    // --runner-cmd), so the persistent runner's own settings are checked here.
    if r.runner_persistent.is_none() {
        for (given, flag) in [
            (r.runner_start_timeout.is_some(), "--runner-start-timeout"),
            (r.runner_restarts.is_some(), "--runner-restarts"),
        ] {
            if given {
                anyhow::bail!("{flag} only applies to a --runner-persistent runner");
            }
        }
    }
    if t.clock == oneproxy::measure::Clock::Cpu && (r.runner_cmd.is_some() || r.runner_persistent.is_some()) {
        bail!("--clock cpu times tract's runs in this process; a runner's latency is what it prints (time its runs with its own CPU clock)");
    }
    let (timer, template): (Box<dyn Timer>, &str) = match (&r.runner_cmd, &r.runner_persistent) {
        (Some(cmd), _) => (Box::new(CommandTimer::new(cmd, r.runner_regex.as_deref())?.timeout(timeout)?), cmd),
        (None, Some(cmd)) => {
            let mut runner = PersistentTimer::new(cmd)?.timeout(timeout)?;
            if let Some(s) = r.runner_start_timeout {
                runner = runner.start_timeout(seconds(s, "--runner-start-timeout")?)?;
            }
            if let Some(n) = r.runner_restarts {
                runner = runner.restarts(n);
            }
            (Box::new(runner), cmd)
        }
        (None, None) => return Ok((tract_timer(t.threads, t.clock)?, "tract")),
    };
    if let Some(program) = oneproxy::measure::runner::Program::of(template) {
        note!("runner: {}", program.describe());
        let cwd = std::env::current_dir().unwrap_or_default();
        if let Some(w) = program.venv_warning(&cwd, std::env::var_os("VIRTUAL_ENV").as_deref()) {
            note!("warning: {w}");
        }
    }
    Ok((timer, "runner"))
}

fn tract_timer(threads: usize, clock: oneproxy::measure::Clock) -> anyhow::Result<Box<dyn Timer>> {
    #[cfg(feature = "tract")]
    {
        let timer = oneproxy::measure::tract::TractTimer::new(threads).with_clock(clock).context("--clock")?;
        Ok(Box::new(timer))
    }
    #[cfg(not(feature = "tract"))]
    {
        let _ = (threads, clock);
        bail!(
            "measuring on this machine needs the `tract` feature: rebuild oneproxy with `--features tract` \
             (e.g. `cargo build --release -p oneproxy-cli --features tract`), or measure through another \
             runtime with --runner-cmd or --runner-persistent"
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

#[cfg(not(feature = "onnx"))]
pub fn run(_: MeasureArgs) -> anyhow::Result<()> {
    bail!("measuring needs the ONNX export: rebuild oneproxy with `--features onnx`")
}

#[cfg(feature = "onnx")]
pub fn run(a: MeasureArgs) -> anyhow::Result<()> {
    let space_id: SpaceId = a.space.space()?;
    let space = space_id.space();
    let exec = super::execution(a.prune_dead, space_id)?;
    let builder = super::model_builder(&a.builder, space_id, a.seed, exec, None)?;
    let params = measure_params(&a.timing)?;
    let (archs, warnings) = arch_list(&a, space)?;
    for w in &warnings {
        note!("warning: {w}");
    }
    // The log is rewritten in place, so the outputs' ownership rule does not apply to it; an
    // input never becomes the log.
    oneproxy::output::Outputs::new(true).inputs(a.archs.iter()).check(&a.out).context("--out")?;
    let (timer, prefix) = timer(&a.runner, &a.timing)?;
    let device = a.device_name.clone().unwrap_or_else(|| oneproxy::measure::host_device_name(prefix));
    oneproxy::data::validate_device_name(&device).context("--device-name")?;
    let (_, existing) = oneproxy::output::check_output_file(&a.out).context("--out")?;
    if existing.is_some() && !a.resume {
        bail!(
            "{} exists: pass --resume to keep its rows and measure only the missing architectures, or remove it",
            a.out.display()
        );
    }
    // One writer per log (a second `measure` or `nas` on it is refused while this one runs).
    let mut log = MeasurementLog::open(&a.out, &device, space_id, "measure").context("--out")?;
    super::print_warnings(log.warnings());
    let session = Session::with_builder(space_id, builder, timer, params.clone(), a.timing.batch, exec)?;
    log.use_settings(&session.settings()).context("--resume")?;
    let todo: Vec<Arch> = archs.iter().filter(|x| log.answer(x).is_none()).cloned().collect();
    let skipped = archs.iter().filter(|x| log.get(x).is_some()).count();
    let failed_before = archs.iter().filter(|x| matches!(log.answer(x), Some(Answer::Failed(_)))).count();
    if failed_before > 0 {
        note!(
            "warning: {failed_before} architecture(s) are marked failed in {}: not measured again (empty their cells to retry)",
            a.out.display()
        );
    }
    // Fail early on an unwritable output, before any measurement.
    log.request(&[]).context("writing --out")?;
    let threads = if a.runner.external() { 1 } else { a.timing.threads };
    let environment = Environment::detect(session.engine(), threads, a.timing.batch);
    let (measured, failed) = measure_all(space_id, exec, &todo, session, &mut log)?;
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
            "{} of {} architectures failed (see above; marked failed in {}); the {} others are measured",
            report.failed.len(),
            todo.len(),
            a.out.display(),
            report.measured.len(),
        );
    }
    Ok(())
}

/// Measure `todo` one by one through `session`, recording each answer in `log` as it comes.
#[cfg(feature = "onnx")]
fn measure_all(
    space_id: SpaceId,
    exec: Execution,
    todo: &[Arch],
    mut session: Session,
    log: &mut MeasurementLog,
) -> anyhow::Result<(Vec<Row>, Vec<Failure>)> {
    let space = space_id.space();
    let bar = crate::progress::bar(todo.len() as u64, "archs");
    let mut measured = Vec::new();
    let mut failed = Vec::new();
    for arch in todo {
        let text = space.format(arch);
        match session.measure(arch) {
            Ok(m) => {
                let answer = session.answer(&m);
                let column_warnings = log.record(arch, &answer).context("writing --out")?;
                for w in &m.warnings {
                    bar.suspend(|| note!("warning: {text}: {w}"));
                }
                for w in &column_warnings {
                    bar.suspend(|| note!("warning: {w}"));
                }
                let cost =
                    if session.builds_networks() { Some(space_id.network_with(arch, exec)?.cost()) } else { None };
                let latency_ms = answer.latency_ms().expect("measured");
                let (flops, params) = (cost.map(|c| c.flops), cost.map(|c| c.params));
                measured.push(Row { arch: text, latency_ms, flops, params, measurement: m });
            }
            Err(e @ oneproxy::Error::EngineLost(_)) => {
                // The runner is gone, not this architecture: nothing is marked failed, and a
                // resume measures it.
                bar.finish_and_clear();
                return Err(anyhow::Error::new(e).context(format!(
                    "measuring {text} ({} measured, kept in {})",
                    measured.len(),
                    log.path().map_or_else(|| "the log".into(), |p| p.display().to_string())
                )));
            }
            Err(e) => {
                log.record(arch, &Answer::Failed(e.to_string())).context("writing --out")?;
                bar.suspend(|| note!("error: {text}: {e}"));
                failed.push(Failure { arch: text, error: e.to_string() });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((measured, failed))
}

/// A positive number of seconds as a duration (a flag's value).
pub fn seconds(v: f64, flag: &str) -> anyhow::Result<Duration> {
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
