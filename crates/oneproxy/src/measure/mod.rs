//! Latency measurement: warm-up, timed runs bounded by count and by time, every sample kept,
//! robust summary, outliers and instability flagged rather than hidden.
//!
//! The pipeline ([`measure`]) drives a [`Timer`], which loads one model and runs it once per
//! call. Engines: [`tract`](self::tract) (feature `tract`: tract-onnx on this machine),
//! [`runner::CommandTimer`] (any external program that prints a latency, e.g. a phone benchmark
//! tool, started once per run) and [`persistent::PersistentTimer`] (one long-lived runner
//! process that keeps its engine and a session per model open, and times only the inference). The
//! models come from a [`builder::ModelBuilder`]: oneproxy's export of the space's network, or the
//! user's program (`--builder-cmd`). Tests drive the pipeline with a mock timer, so it is exercised without an engine.
//!
//! **Summary.** The median of the timed runs is the latency; the spread is the median absolute
//! deviation (MAD, unscaled). A sample is an outlier when its modified z-score
//! `0.6745 (x - median) / MAD` exceeds 3.5 in absolute value (Iglewicz and Hoaglin, 1993; as
//! hyperfine does). A measurement is *unstable* when MAD exceeds 5% of the median or more than
//! 10% of the samples are outliers; warnings say which, and what to do.

#[cfg(feature = "onnx")]
pub mod builder;
pub mod persistent;
pub mod runner;
#[cfg(feature = "onnx")]
pub mod session;
#[cfg(feature = "onnx")]
pub use session::Session;
#[cfg(feature = "tract")]
pub mod tract;

use crate::error::{Param, Result};
use std::time::{Duration, Instant};

/// An engine that runs one loaded model at a time.
pub trait Timer {
    /// Load a model (the bytes of an ONNX file whose input has shape `input_shape`) and make it
    /// ready to run; called once per architecture, before any run.
    fn load(&mut self, model: &[u8], input_shape: [usize; 4]) -> Result<()>;
    /// Run the loaded model once on its input; the latency in milliseconds.
    fn run(&mut self) -> Result<f64>;
    /// Run once, giving up after `limit` of wall-clock time: `Ok(None)` when the run was cut
    /// off (it is then not a sample). Engines that cannot be interrupted (in-process ones) run
    /// to completion, which is the default.
    fn run_within(&mut self, limit: Duration) -> Result<Option<f64>> {
        let _ = limit;
        self.run().map(Some)
    }
    /// The engine and its version, for the record.
    fn engine(&self) -> String;
    /// What about this engine changes the numbers it measures (a measurement log refuses to
    /// mix values measured differently): by default the engine itself.
    fn settings(&self) -> crate::data::Settings {
        crate::data::Settings::from([("engine".to_string(), self.engine())])
    }
    /// The architecture string of the model about to be loaded, for engines that pass it on
    /// (an external runner's `{arch}`); ignored by default.
    fn label(&mut self, arch: &str) {
        let _ = arch;
    }
}

/// Bounds of one measurement.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `warmup` | 5 | warm-up runs (not recorded), stopped early after `warmup_time` |
/// | `warmup_time` | 1 s | wall-clock bound of the warm-up |
/// | `min_runs` | 5 | timed runs wanted at least; fewer only when `max_time` runs out first, with a warning |
/// | `max_runs` | 30 | timed runs at most |
/// | `max_time` | 5 s | wall-clock bound of the timed runs |
///
/// The time bounds are wall-clock bounds of the loop, so that they hold whatever the engine
/// reports (an external runner spends most of its time outside the part it times): no run
/// starts once the budget is spent, and a run that can be interrupted ([`Timer::run_within`]:
/// an external runner) is stopped when it runs out and not counted. An in-process engine's run
/// cannot be stopped, so it may overrun the budget by at most one run. The budget wins over
/// `min_runs`: overrunning by seconds to reach the minimum would make `--max-time` meaningless,
/// so the measurement keeps the runs that fit and says that they are fewer than the minimum; it
/// fails only when not a single run fits.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MeasureParams {
    /// Warm-up runs.
    pub warmup: usize,
    /// Time bound of the warm-up.
    pub warmup_time: Duration,
    /// Minimum timed runs.
    pub min_runs: usize,
    /// Maximum timed runs.
    pub max_runs: usize,
    /// Time bound of the timed runs.
    pub max_time: Duration,
}

impl Default for MeasureParams {
    fn default() -> Self {
        MeasureParams {
            warmup: 5,
            warmup_time: Duration::from_secs(1),
            min_runs: 5,
            max_runs: 30,
            max_time: Duration::from_secs(5),
        }
    }
}

impl MeasureParams {
    /// Check the bounds.
    pub fn check(&self) -> Result<()> {
        if self.max_runs == 0 {
            return Err(crate::Error::bad_parameter("runs", "at least one timed run is needed (1 or more)"));
        }
        if self.min_runs > self.max_runs {
            return Err(crate::Error::InvalidParameter(format!(
                "minimum runs ({}) exceed maximum runs ({})",
                self.min_runs, self.max_runs
            )));
        }
        Ok(())
    }
}

/// Which clock times a run.
///
/// Why a choice: on a loaded machine the wall clock counts the time the engine waited for a
/// core, which has nothing to do with the architecture; a run longer than the scheduler's time
/// slice (a few ms) is then interrupted every time, so neither repeats nor the median of runs
/// recover its latency (measured: front members 2-4x their quiet values under one busy loop
/// per core, docs/results/remeasure). The CPU time of the thread that runs the model counts
/// only its work. It is exact for an engine that computes on that one thread (tract with one
/// thread); a multi-threaded engine or an external program needs the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Clock {
    /// The CPU clock where it is exact (tract on one thread), else the wall clock.
    #[default]
    Auto,
    /// Wall-clock time of each run.
    Wall,
    /// CPU time of the thread that runs the model (tract on one thread only).
    Cpu,
}

impl Clock {
    /// `auto`, `wall` or `cpu`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Auto => "auto",
            Clock::Wall => "wall",
            Clock::Cpu => "cpu",
        }
    }
}

/// Robust summary of samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Median, ms.
    pub median_ms: f64,
    /// Median absolute deviation from the median, ms (unscaled).
    pub mad_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Fastest sample, ms.
    pub min_ms: f64,
    /// Slowest sample, ms.
    pub max_ms: f64,
    /// Indices (into the samples) of the outliers: modified z-score above 3.5.
    pub outliers: Vec<usize>,
}

pub(crate) use crate::stats::median;

pub use crate::stats::{relative_spread, UNSTABLE_SPREAD};

/// Summarise samples (at least one).
pub fn summarize(samples: &[f64]) -> Summary {
    assert!(!samples.is_empty(), "summarize needs samples");
    let med = median(samples);
    let dev: Vec<f64> = samples.iter().map(|x| (x - med).abs()).collect();
    let mad = median(&dev);
    let outliers = if mad > 0.0 {
        samples.iter().enumerate().filter(|(_, &x)| (0.6745 * (x - med) / mad).abs() > 3.5).map(|(i, _)| i).collect()
    } else {
        Vec::new()
    };
    Summary {
        median_ms: med,
        mad_ms: mad,
        mean_ms: samples.iter().sum::<f64>() / samples.len() as f64,
        min_ms: samples.iter().copied().fold(f64::INFINITY, f64::min),
        max_ms: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        outliers,
    }
}

/// One measured model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Measurement {
    /// Every timed sample, in run order, ms.
    pub samples_ms: Vec<f64>,
    /// Warm-up samples, ms (not part of the summary).
    pub warmup_ms: Vec<f64>,
    /// Summary of the timed samples.
    pub summary: Summary,
    /// Whether the measurement is unstable (see the module documentation).
    pub unstable: bool,
    /// What looked wrong, in words.
    pub warnings: Vec<String>,
}

/// Warm up then time the model the timer has loaded.
pub fn measure(timer: &mut dyn Timer, p: &MeasureParams) -> Result<Measurement> {
    p.check()?;
    let mut warmup_ms = Vec::new();
    let start = Instant::now();
    while warmup_ms.len() < p.warmup {
        let Some(left) = remaining(p.warmup_time, start) else { break };
        match timer.run_within(left)? {
            Some(t) => warmup_ms.push(t),
            None => break,
        }
    }
    let mut samples_ms = Vec::new();
    let mut cut_off = false;
    let start = Instant::now();
    while samples_ms.len() < p.max_runs {
        let Some(left) = remaining(p.max_time, start) else { break };
        let Some(t) = timer.run_within(left)? else {
            cut_off = true;
            break;
        };
        if !t.is_finite() || t < 0.0 {
            return Err(crate::Error::Engine(format!("the timer reported an invalid latency {t}")));
        }
        samples_ms.push(t);
    }
    let budget = p.max_time.as_secs_f64();
    if samples_ms.is_empty() {
        return Err(crate::Error::TooFewSamples(format!(
            "no timed run finished within the time budget of {budget} s ({}); raise it",
            Param("max_time")
        )));
    }
    let mut m = judge(samples_ms, warmup_ms);
    if m.samples_ms.len() < p.min_runs {
        m.warnings.push(format!(
            "only {} of the minimum {} timed runs fit in the time budget of {budget} s{}; the value is less reliable: raise {}",
            m.samples_ms.len(),
            p.min_runs,
            if cut_off { " (the last run was stopped when it ran out)" } else { "" },
            Param("max_time")
        ));
    }
    Ok(m)
}

/// What is left of `budget` since `start`, if anything.
fn remaining(budget: Duration, start: Instant) -> Option<Duration> {
    budget.checked_sub(start.elapsed()).filter(|d| !d.is_zero())
}

/// Summarise samples and flag what looks wrong.
pub fn judge(samples_ms: Vec<f64>, warmup_ms: Vec<f64>) -> Measurement {
    let summary = summarize(&samples_ms);
    let mut warnings = Vec::new();
    let mut unstable = false;
    let rel = summary.mad_ms / summary.median_ms;
    if rel > UNSTABLE_SPREAD {
        unstable = true;
        warnings.push(format!(
            "unstable: the spread (MAD) is {:.1}% of the median; close other programs, pin the CPU frequency or use more {}",
            100.0 * rel,
            Param("runs")
        ));
    }
    let n_out = summary.outliers.len();
    if n_out > 0 {
        if n_out * 10 > samples_ms.len() {
            unstable = true;
        }
        warnings.push(format!(
            "{n_out} of {} samples are statistical outliers (modified z-score > 3.5); other programs may have interfered",
            samples_ms.len()
        ));
    }
    if warmup_ms.is_empty() && samples_ms.len() > 1 && samples_ms[0] > 2.0 * summary.median_ms {
        warnings.push(format!("the first run was much slower than the others: use {}", Param("warmup")));
    }
    Measurement { samples_ms, warmup_ms, summary, unstable, warnings }
}

/// Where a measurement was made.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Environment {
    /// CPU model (`model name` of /proc/cpuinfo), or `unknown`.
    pub cpu_model: String,
    /// Logical CPUs of the machine.
    pub logical_cpus: usize,
    /// Threads the engine was allowed.
    pub threads: usize,
    /// Images per inference.
    pub batch: usize,
    /// Engine and version.
    pub engine: String,
    /// Operating system and architecture.
    pub os: String,
}

impl Environment {
    /// The environment of this process.
    pub fn detect(engine: String, threads: usize, batch: usize) -> Self {
        Environment {
            cpu_model: cpu_model(),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads,
            batch,
            engine,
            os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// The CPU model of this machine (`model name` in /proc/cpuinfo), or `unknown`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Hardware") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A device name derived from the host: the CPU model in lower case, non-alphanumerics as `_`
/// (e.g. `amd_epyc_7b13`), prefixed with the engine kind.
pub fn host_device_name(prefix: &str) -> String {
    let cpu = cpu_model().to_lowercase();
    let mut slug = String::new();
    for word in cpu.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if ["r", "tm", "cpu", "processor", "core"].contains(&word) || word.ends_with("ghz") {
            continue;
        }
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(word);
    }
    if slug.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}_{slug}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays a fixed list of latencies (cycling).
    struct Mock {
        values: Vec<f64>,
        i: usize,
        loaded: bool,
    }

    impl Timer for Mock {
        fn load(&mut self, _: &[u8], _: [usize; 4]) -> Result<()> {
            self.loaded = true;
            Ok(())
        }
        fn run(&mut self) -> Result<f64> {
            let v = self.values[self.i % self.values.len()];
            self.i += 1;
            Ok(v)
        }
        fn engine(&self) -> String {
            "mock".into()
        }
    }

    fn mock(values: &[f64]) -> Mock {
        Mock { values: values.to_vec(), i: 0, loaded: false }
    }

    #[test]
    fn counts_bound_the_runs_and_warmup_is_kept_apart() {
        let p = MeasureParams { warmup: 2, max_runs: 7, ..Default::default() };
        let m = measure(&mut mock(&[1.0]), &p).unwrap();
        assert_eq!((m.warmup_ms.len(), m.samples_ms.len()), (2, 7));
        assert_eq!(m.summary.median_ms, 1.0);
        assert!(!m.unstable && m.warnings.is_empty());
    }

    /// Takes `each` of wall-clock time per run, or is cut off by a shorter limit; records the
    /// limits it was given.
    struct Slow {
        each: Duration,
        limits: Vec<Duration>,
    }

    impl Timer for Slow {
        fn load(&mut self, _: &[u8], _: [usize; 4]) -> Result<()> {
            Ok(())
        }
        fn run(&mut self) -> Result<f64> {
            std::thread::sleep(self.each);
            Ok(self.each.as_secs_f64() * 1e3)
        }
        fn run_within(&mut self, limit: Duration) -> Result<Option<f64>> {
            self.limits.push(limit);
            if limit < self.each {
                std::thread::sleep(limit);
                return Ok(None);
            }
            self.run().map(Some)
        }
        fn engine(&self) -> String {
            "slow".into()
        }
    }

    #[test]
    fn the_time_budget_bounds_the_runs_started_even_below_the_minimum() {
        // 30 ms per run and a 100 ms budget: runs start at 0, >= 30, >= 60 and >= 90 ms at the
        // latest, the fourth with at most 10 ms left, so it is cut off; 5 runs are not reached.
        let p = MeasureParams {
            warmup: 0,
            min_runs: 5,
            max_runs: 100,
            max_time: Duration::from_millis(100),
            ..Default::default()
        };
        let mut t = Slow { each: Duration::from_millis(30), limits: Vec::new() };
        let m = measure(&mut t, &p).unwrap();
        assert!(t.limits.len() <= 4, "{} runs started", t.limits.len());
        assert!((1..=3).contains(&m.samples_ms.len()), "{} samples", m.samples_ms.len());
        assert!(t.limits.iter().all(|l| *l <= p.max_time), "each run is bounded by what is left");
        assert!(t.limits.windows(2).all(|w| w[1] < w[0]), "and what is left shrinks: {:?}", t.limits);
        assert!(m.warnings.iter().any(|w| w.contains("of the minimum 5 timed runs fit")), "{:?}", m.warnings);
        // The warm-up has its own bound.
        let p = MeasureParams {
            warmup: 10,
            warmup_time: Duration::from_millis(50),
            min_runs: 1,
            max_runs: 1,
            ..Default::default()
        };
        let mut t = Slow { each: Duration::from_millis(30), limits: Vec::new() };
        let m = measure(&mut t, &p).unwrap();
        assert!(m.warmup_ms.len() <= 2, "{} warm-up runs", m.warmup_ms.len());
        assert_eq!(m.samples_ms.len(), 1);
        // Not even one run fits: an error that names the flag.
        let p = MeasureParams { warmup: 0, max_time: Duration::from_millis(20), ..Default::default() };
        let e = measure(&mut Slow { each: Duration::from_millis(50), limits: Vec::new() }, &p).unwrap_err().to_string();
        assert!(e.contains("`max_time`"), "{e}");
    }

    #[test]
    fn outliers_are_flagged_not_dropped() {
        let p = MeasureParams { warmup: 0, min_runs: 10, max_runs: 10, ..Default::default() };
        let m = measure(&mut mock(&[1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99, 5.0]), &p).unwrap();
        assert_eq!(m.samples_ms.len(), 10);
        assert_eq!(m.summary.outliers, vec![9]);
        assert_eq!(m.summary.max_ms, 5.0);
        assert!((m.summary.median_ms - 1.0).abs() < 1e-12);
        assert!(m.warnings.iter().any(|w| w.contains("outlier")));
        assert!(!m.unstable, "one outlier in 10 is not instability");
    }

    #[test]
    fn large_spread_is_unstable() {
        let p = MeasureParams { warmup: 0, min_runs: 6, max_runs: 6, ..Default::default() };
        let m = measure(&mut mock(&[1.0, 2.0, 1.5, 1.0, 2.0, 1.5]), &p).unwrap();
        assert!(m.unstable);
        assert!(m.warnings[0].starts_with("unstable"));
    }

    #[test]
    fn summary_against_hand_values() {
        let s = summarize(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!(s.median_ms, 2.5);
        // Deviations 0.5, 1.5, 0.5, 7.5 -> MAD 1.0; z of 10 = 0.6745 * 7.5 = 5.06.
        assert_eq!(s.mad_ms, 1.0);
        assert_eq!(s.outliers, vec![3]);
        assert_eq!((s.min_ms, s.max_ms, s.mean_ms), (1.0, 10.0, 4.0));
    }

    #[test]
    fn bad_bounds_and_bad_samples_are_errors() {
        let p = MeasureParams { max_runs: 0, ..Default::default() };
        assert!(measure(&mut mock(&[1.0]), &p).is_err());
        let p = MeasureParams { warmup: 0, ..Default::default() };
        assert!(measure(&mut mock(&[f64::NAN]), &p).is_err());
    }

    #[test]
    fn host_names_are_slugs() {
        let n = host_device_name("tract");
        assert!(n.starts_with("tract"));
        assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{n}");
        let _ = mock(&[1.0]).load(&[], [1, 3, 32, 32]).map(|_| ());
    }
}
