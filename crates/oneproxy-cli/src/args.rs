//! Command-line arguments (clap). Converted into library types in `cmd/`, never passed further.
//!
//! Values are checked here, at parse time, wherever one flag suffices (ranges, device names,
//! trimmed lists), so a bad value is refused before any data is loaded, with clap's message
//! naming the flag; [`Cli::validate`] checks what needs a whole list (duplicates).

use anyhow::bail;
use clap::{Args, Parser, Subcommand, ValueEnum};
use oneproxy::measure::MeasureParams;
use oneproxy::predictor::{AdaptParams, Combination, Form, FormChoice, Penalty, ProxySelection};
use oneproxy::search::EvolutionParams;
use oneproxy::search::{Method, METHODS};
use oneproxy::stats::Metric;
use oneproxy::workflow::{Design, NasConfig, SampleSet, Trials, DESIGNS, SAMPLE_SETS};
use oneproxy::SpaceId;
use std::path::PathBuf;

/// One name of a comma-separated device list, trimmed: `--devices "pixel3, raspi4"` means
/// `pixel3` and `raspi4`.
fn list_name(s: &str) -> Result<String, String> {
    let name = s.trim();
    if name.is_empty() {
        return Err("empty name in the list (two commas in a row, or a trailing comma?)".into());
    }
    Ok(name.to_string())
}

/// A device name for a new CSV column, by the library's one rule.
fn device_name(s: &str) -> Result<String, String> {
    oneproxy::data::validate_device_name(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// A latency constraint: a positive, finite number of milliseconds.
fn positive_ms(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        // clap's message already names the flag and quotes the value.
        _ => Err("must be a positive number of ms".into()),
    }
}

/// A non-negative, finite number (NaN refused).
fn non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a non-negative number".into()),
    }
}

/// A correlation threshold in [-1, 1] (NaN refused: every comparison with it is false).
fn correlation(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (-1.0..=1.0).contains(&v) => Ok(v),
        _ => Err("must be a correlation in [-1, 1]".into()),
    }
}

/// A count of at least `MIN` (clap's own range parser would print the open bound as
/// "1..18446744073709551615").
fn at_least<const MIN: usize>(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if v >= MIN => Ok(v),
        Ok(_) => Err(format!("must be at least {MIN}")),
        Err(_) => Err("must be a whole number".into()),
    }
}

/// An error if `names` (the values of `flag`) repeats one.
fn check_unique(flag: &str, names: &[String]) -> anyhow::Result<()> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            bail!("{flag} lists '{}' twice: give each device once", oneproxy::error::clip(n));
        }
    }
    Ok(())
}

impl Cli {
    /// Checks that need a whole list rather than one value: no device named twice in
    /// `--targets`, `--devices` or `--pool` (a target listed twice would be run, and counted in
    /// every mean, twice).
    pub fn validate(&self) -> anyhow::Result<()> {
        let (targets, pool): (&[String], &[String]) = match &self.command {
            Command::Run(a) => (a.targets.as_slice(), a.pool.as_slice()),
            Command::Evaluate(EvaluateCommand::Adapt(a)) => (a.targets.as_slice(), a.proxy.pool.as_slice()),
            Command::Evaluate(EvaluateCommand::Nas(a)) => (a.targets.as_slice(), a.proxy.pool.as_slice()),
            Command::Evaluate(EvaluateCommand::Fleet(a)) => (a.targets.as_slice(), &[]),
            Command::Adapt(a) => (&[], a.proxy.pool.as_slice()),
            Command::Monotonicity(a) => return check_unique("--devices", &a.devices),
            _ => return Ok(()),
        };
        check_unique("--targets", targets)?;
        check_unique("--pool", pool)
    }
}

/// Hardware-aware NAS for many devices at the cost of one proxy device.
///
/// Latency rankings of architectures are strongly correlated across devices: search with one
/// proxy's latency, reuse the result everywhere, and adapt the proxy's predictor (AdaProxy) where
/// the correlation is weak.
#[derive(Debug, Parser)]
#[command(name = "oneproxy", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the devices of a space (bundled and from --latency files).
    Devices(DevicesArgs),
    /// Latency monotonicity: rank correlation between every pair of devices, and the best proxy.
    Monotonicity(MonotonicityArgs),
    /// AdaProxy: adapt a proxy device's latency predictor to a target from a few measurements.
    Adapt(AdaptArgs),
    /// Predict latencies with a saved predictor (from `adapt --out`).
    Predict(PredictArgs),
    /// Choose which architectures a new device should measure (a CSV ready to fill in).
    Plan(PlanArgs),
    /// Score methods against full device tables.
    #[command(subcommand)]
    Evaluate(EvaluateCommand),
    /// Pareto search: accuracy against a device's measured or predicted latency.
    Search(SearchArgs),
    /// The main job: one-proxy NAS for every bundled device, with a report folder.
    Run(RunArgs),
    /// Write an architecture as an ONNX model (seeded random weights) for any runtime.
    Export(ExportArgs),
    /// Measure latencies on this machine (tract) or through an external runner; writes a latency CSV.
    Measure(MeasureArgs),
    /// The one-proxy NAS flow on one real target: measure a few samples, reuse or adapt the
    /// proxy, search once, measure the candidate front; resumable.
    Nas(Box<NasArgs>),
    /// A fleet of real targets, named in a fleet file, each measured through its own oracle:
    /// every device the flow finishes joins the proxy pool of the next; one report folder.
    Fleet(FleetArgs),
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The fleet file (TOML): shared settings, then one `[[device]]` per target, in arrival
    /// order (see docs/fleet.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The fleet's folder: each device's measurements (`devices/<name>/measurements.csv`,
    /// read first so that a rerun resumes) and the report (`report/`, replaced at the end).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub figure: FigureArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The shared settings of a fleet file: each key is the `nas` flag of the same name (with `_`
/// for `-`), parsed by this definition so that both read a setting the same way.
#[derive(Debug, Parser)]
#[command(name = "fleet file", no_binary_name = true, disable_help_flag = true, disable_version_flag = true)]
pub struct FleetSettings {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub accuracy: AccuracyArgs,
    /// The proxy pool the fleet starts from; default: every device with data that is not in
    /// the fleet.
    #[arg(long, value_delimiter = ',', value_parser = list_name)]
    pub pool: Vec<String>,
    #[arg(long)]
    pub samples: Option<usize>,
    #[arg(long, value_parser = named(&SAMPLE_SETS), default_value = SampleSet::default().name())]
    pub sample_set: String,
    #[arg(long, value_name = "N")]
    pub max_measurements: Option<usize>,
    #[arg(long, value_name = "N", default_value_t = oneproxy::workflow::NasConfig::default().max_failures)]
    pub max_failures: usize,
    #[arg(long, value_enum, default_value_t = oneproxy::workflow::Remeasure::default())]
    pub remeasure: oneproxy::workflow::Remeasure,
    #[arg(long, default_value_t = NasConfig::default().seed)]
    pub seed: u64,
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub options: AdaptOptions,
    /// Devices measured side by side; each next one starts when one of them ends.
    #[arg(long, default_value_t = 1, value_parser = at_least::<1>)]
    pub concurrency: usize,
    /// Whether devices join the pool of the devices that start after them.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub join: bool,
    /// A running device also joins, with its model then, once its flow's estimate of the regret
    /// it leaves is within this many accuracy points (80% bound); default: only when it ends.
    #[arg(long, value_name = "POINTS", value_parser = non_negative, allow_negative_numbers = true)]
    pub join_regret: Option<f64>,
}

/// How a fleet device is measured (`oracle = ...`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DeviceOracleArg {
    /// This machine, with tract (`nas --oracle tract`)
    Tract,
    /// Its column of the loaded latency data (`nas --oracle table`)
    Table,
    /// An external command per run (`nas --runner-cmd`; give `runner_cmd`)
    Runner,
    /// A long-lived runner process (`nas --runner-persistent`; give `runner_persistent`)
    Persistent,
    /// A person fills its measurements file (`nas --manual`)
    Manual,
}

/// One `[[device]]` of a fleet file: its name and the `nas` flags of its oracle.
#[derive(Debug, Parser)]
#[command(name = "[[device]]", no_binary_name = true, disable_help_flag = true, disable_version_flag = true)]
pub struct FleetDeviceArgs {
    /// The device's name (its measurements' column).
    #[arg(long, value_parser = device_name)]
    pub name: String,
    #[arg(long, value_enum)]
    pub oracle: DeviceOracleArg,
    #[command(flatten)]
    pub runner: RunnerArgs,
    #[command(flatten)]
    pub timing: TimingArgs,
    #[arg(long)]
    pub prune_dead: bool,
    #[command(flatten)]
    pub builder: BuilderArgs,
    /// With `oracle = "manual"`: also write the requested models here.
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// With `export_dir`: replace files there that oneproxy did not write.
    #[arg(long)]
    pub force: bool,
    /// Latency files added to the loaded data (with `oracle = "table"`, the one holding the
    /// device's column).
    #[arg(long = "latency", value_name = "FILE")]
    pub latency: Vec<PathBuf>,
}

/// Where the target's latencies come from in `oneproxy nas`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OracleArg {
    /// This machine, with tract (build with `--features tract`)
    Tract,
    /// The target's column of the loaded latency data (bundled or --latency): a simulation
    Table,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("oracle_kind").required(true).multiple(false).args(["oracle", "runner_cmd", "runner_persistent", "manual"])))]
pub struct NasArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub accuracy: AccuracyArgs,
    /// Name of the target device (its column in the measurements CSV).
    #[arg(long)]
    pub target: String,
    /// Measure on this machine (`tract`), or look the target up in the loaded data (`table`).
    #[arg(long, value_enum)]
    pub oracle: Option<OracleArg>,
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// Nobody can script the device: write the architectures to measure into the measurements
    /// CSV (empty values) and exit with status 3; fill them in and run the same command again.
    #[arg(long)]
    pub manual: bool,
    /// With --manual: also write ONNX models of the requested architectures into DIR.
    #[arg(long, value_name = "DIR", requires = "manual")]
    pub export_dir: Option<PathBuf>,
    /// With --export-dir: replace files there (`models.csv`, models) that oneproxy did not write.
    #[arg(long, requires = "export_dir")]
    pub force: bool,
    /// Time each architecture without its `none` edges and dead operations (see `export
    /// --prune-dead`); the log keeps the architectures as given. NB201 only.
    #[arg(long, conflicts_with = "manual")]
    pub prune_dead: bool,
    #[command(flatten)]
    pub builder: BuilderArgs,
    /// Most architectures that may fail to measure (the runner fails on them) before the flow
    /// gives up; each failure is marked `failed` in the measurements file, never asked for
    /// again, and replaced by another architecture.
    #[arg(long, value_name = "N", default_value_t = oneproxy::workflow::NasConfig::default().max_failures)]
    pub max_failures: usize,
    /// Measure the final front again before reporting it, with measured candidates whose value
    /// is in doubt (unstable runs, far from the prediction); repeats are combined by their median
    /// and logged beside the measurements. With --manual, `auto` is `never`.
    #[arg(long, value_enum, default_value_t = oneproxy::workflow::Remeasure::default())]
    pub remeasure: oneproxy::workflow::Remeasure,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    /// Initial samples: random architectures measured for the reuse-or-adapt decision (the
    /// sequential design chooses the rest; see `run --help`). Default: 3 with the sequential
    /// design, 6 with the others.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Which architectures are measured first.
    #[arg(long, value_parser = named(&SAMPLE_SETS), default_value = SampleSet::default().name())]
    pub sample_set: String,
    /// Most target measurements in all (samples, adaptation, candidates).
    #[arg(long, value_name = "N")]
    pub max_measurements: Option<usize>,
    /// Seed of the sample draws (and of the models' weights).
    #[arg(long, default_value_t = NasConfig::default().seed)]
    pub seed: u64,
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub options: AdaptOptions,
    #[command(flatten)]
    pub timing: TimingArgs,
    /// The target's measurements (latency CSV `arch,<target>`): read first, so that a run resumes
    /// without measuring anything twice, and written as each measurement arrives.
    /// Default: `<target>.csv` in the current directory.
    #[arg(long, value_name = "FILE")]
    pub measurements: Option<PathBuf>,
    /// Write a report folder here: report.json, the measurements, the Pareto plot (SVG) and
    /// report.html, one page to open in a browser.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub figure: FigureArgs,
    /// Print the result (and every measurement) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The latency axis of Pareto plots.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogLatencyArg {
    /// Logarithmic when the latencies span more than two decades (a factor of 100)
    Auto,
    /// Always logarithmic
    On,
    /// Always linear
    Off,
}

/// Device order of a correlation heatmap.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum HeatmapOrderArg {
    /// Hierarchical clustering of the correlations (alike devices form blocks)
    Cluster,
    /// Alphabetical
    Alpha,
}

/// Colour scale of a correlation heatmap.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum HeatmapScaleArg {
    /// Sequential, over the range the correlations span
    Data,
    /// Diverging, fixed from -1 to 1 (figures compare across reports)
    Full,
}

/// How figures are drawn.
#[derive(Debug, Clone, Copy, Args)]
pub struct FigureArgs {
    /// Latency axis of Pareto plots: `auto` (log when the latencies span more than two decades),
    /// `on` (also `--log-latency` alone) or `off`.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto", num_args = 0..=1, default_missing_value = "on")]
    pub log_latency: LogLatencyArg,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("latency_source").required(true).multiple(false)))]
pub struct SearchArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub accuracy: AccuracyArgs,
    /// Use this device's measured latencies.
    #[arg(long, group = "latency_source")]
    pub device: Option<String>,
    /// Use a saved predictor (from `adapt --out`).
    #[arg(long, value_name = "FILE", group = "latency_source")]
    pub predictor: Option<PathBuf>,
    /// Latency constraint in ms (repeatable): report the best architecture within each.
    #[arg(long = "constraint", value_name = "MS", value_parser = positive_ms, allow_negative_numbers = true)]
    pub constraints: Vec<f64>,
    /// Search method.
    #[arg(long, value_parser = named(&METHODS), default_value = Method::default().name())]
    pub method: String,
    /// Evolution: generations.
    #[arg(long, default_value_t = EvolutionParams::default().generations)]
    pub generations: usize,
    /// Evolution: population size.
    #[arg(long, default_value_t = EvolutionParams::default().population)]
    pub population: usize,
    /// Evolution: seed.
    #[arg(long, default_value_t = EvolutionParams::default().seed)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Draw the Pareto front (.svg, .png or .pdf).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub figure: FigureArgs,
    /// Write the Pareto front as a CSV: `arch`, `latency_ms` (from the latency source, measured
    /// or predicted), `accuracy` and `index` (row of the bundled data, empty outside it).
    #[arg(long, value_name = "FILE")]
    pub out_csv: Option<PathBuf>,
    /// Write the front and the picks as a list to measure on a new device: a latency CSV with an
    /// empty column named by --device-name, ready for `oneproxy measure --archs FILE` or to fill
    /// in by hand.
    #[arg(long, value_name = "FILE")]
    pub to_measure: Option<PathBuf>,
    /// Name of the empty target column of --to-measure.
    #[arg(long, default_value = "my_device", requires = "to_measure")]
    pub device_name: String,
    /// Replace an existing output file that oneproxy did not write (or that was changed since it
    /// wrote it); without it such a file is left alone and the command stops. An output is never
    /// written onto one of the command's inputs, forced or not.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub accuracy: AccuracyArgs,
    /// Proxy device (default: the recommended proxy of the monotonicity analysis), or `auto`.
    #[arg(long)]
    pub proxy: Option<String>,
    /// Candidate proxies for `--proxy auto` (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = list_name)]
    pub pool: Vec<String>,
    /// Target devices (default: every other device with data).
    #[arg(long, value_delimiter = ',', value_parser = list_name)]
    pub targets: Vec<String>,
    /// Initial samples per target: random architectures measured for the reuse-or-adapt
    /// decision. Default: 3 with the sequential design, which chooses the rest itself and
    /// refits on each (3 reached a lower regret than 6 at the same measurement count;
    /// docs/results/one-at-a-time), 6 with the others.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Which architectures are measured first on each target.
    #[arg(long, value_parser = named(&SAMPLE_SETS), default_value = SampleSet::default().name())]
    pub sample_set: String,
    /// Seed of the sample draws.
    #[arg(long, default_value_t = NasConfig::default().seed)]
    pub seed: u64,
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub options: AdaptOptions,
    /// Report folder (report.json, report.html to open in a browser, SVG plots); replaced
    /// atomically.
    #[arg(long, value_name = "DIR", default_value = "oneproxy-report")]
    pub out: PathBuf,
    #[command(flatten)]
    pub figure: FigureArgs,
    /// Device order of the heatmap.
    #[arg(long, value_enum, default_value = "cluster")]
    pub heatmap_order: HeatmapOrderArg,
    /// Colour scale of the heatmap: `data` (sequential over the correlations' range) or `full`
    /// (diverging, -1 to 1).
    #[arg(long, value_enum, default_value = "data")]
    pub heatmap_scale: HeatmapScaleArg,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also run the flow with `flops` as proxy and with reuse disabled, as baselines (about
    /// triples the run time; the random baseline is always there).
    #[arg(long)]
    pub baselines: bool,
}

// ---- export and measure ----

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub space: SpaceChoice,
    #[command(flatten)]
    pub builder: BuilderArgs,
    /// The architecture (canonical string of the space).
    #[arg(long)]
    pub arch: String,
    /// The ONNX file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Images per inference (the model's fixed batch dimension).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also run the model with tract on a seeded input (`--seed`) and write input and output as
    /// JSON (`input_shape`, `input`, `output_shape`, `output`) to compare runtimes. Needs the
    /// `tract` feature.
    #[arg(long, value_name = "FILE")]
    pub dump_io: Option<PathBuf>,
    /// Build the model as a deployment compiler runs it: each cell computes only its live
    /// operations, without its `none` edges and its dead operations (whose input is always zero
    /// or whose output never reaches the cell output). NB201 only.
    #[arg(long)]
    pub prune_dead: bool,
    /// Replace an existing output file that oneproxy did not write (or that was changed since it
    /// wrote it); without it such a file is left alone and the command stops. An output is never
    /// written onto one of the command's inputs, forced or not.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(false)))]
pub struct MeasureArgs {
    #[command(flatten)]
    pub space: SpaceChoice,
    #[command(flatten)]
    pub builder: BuilderArgs,
    /// One architecture string.
    #[arg(long, group = "which")]
    pub arch: Option<String>,
    /// A CSV file with an `arch` column (e.g. the output of `plan`).
    #[arg(long, value_name = "FILE", group = "which")]
    pub archs: Option<PathBuf>,
    /// Measure N architectures sampled with --seed.
    #[arg(long, value_name = "N", group = "which")]
    pub sample: Option<usize>,
    /// Seed of --sample (and of the model weights and inputs).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub timing: TimingArgs,
    /// Name of the device column; default: derived from the engine and the CPU model.
    #[arg(long)]
    pub device_name: Option<String>,
    /// The latency CSV to write (`arch,<device>`), rewritten after every architecture.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Continue an interrupted run: keep the rows already in --out and skip their architectures.
    #[arg(long)]
    pub resume: bool,
    /// Print every measurement (all samples, summary, warnings, environment) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Time each architecture as a deployment compiler runs it: its `none` edges and dead
    /// operations are left out of the model (see `export --prune-dead`), while the rows keep the
    /// architecture as given. NB201 only.
    #[arg(long)]
    pub prune_dead: bool,
    #[command(flatten)]
    pub runner: RunnerArgs,
}

/// The space of `export` and `measure`: a built-in one, or one declared in a space file.
#[derive(Debug, Clone, Args)]
pub struct SpaceChoice {
    /// Search space.
    #[arg(long, value_parser = space_id(), required_unless_present = "space_file")]
    pub space: Option<SpaceId>,
    /// Your own search space, declared in a space file (see docs/space-file.md), instead of
    /// --space. It has no network: its models come from --builder-cmd.
    #[arg(long, value_name = "FILE", conflicts_with = "space")]
    pub space_file: Option<PathBuf>,
}

impl SpaceChoice {
    /// The space: the declared one of `--space-file`, else `--space`.
    pub fn space(&self) -> anyhow::Result<SpaceId> {
        match (&self.space_file, self.space) {
            (Some(file), _) => Ok(oneproxy::space::declared::load(file)?),
            (None, Some(space)) => Ok(space),
            (None, None) => anyhow::bail!("give --space or --space-file"),
        }
    }
}

/// The user's program that builds each architecture's ONNX model.
#[derive(Debug, Clone, Args)]
pub struct BuilderArgs {
    /// Build each architecture's ONNX model with your own program instead of oneproxy's export:
    /// a command template where `{arch}` is the architecture string, `{out}` the ONNX file to
    /// write and `{batch}` the images per inference. It is split into words as a shell would,
    /// each placeholder filled in inside its word, and run without a shell (an architecture is
    /// always one argument). The model's input shape is read from the file. Needed for a
    /// --space-file space, which has no network; see docs/space-file.md.
    #[arg(long, value_name = "TEMPLATE")]
    pub builder_cmd: Option<String>,
    /// Time limit of one --builder-cmd run, in seconds: a builder still going is killed with its
    /// child processes, and the architecture fails.
    // The library's `DEFAULT_BUILD_TIMEOUT` (its module exists only with the `onnx` feature).
    #[arg(long, value_name = "SECS", requires = "builder_cmd", default_value_t = 300.0)]
    pub builder_timeout: f64,
}

/// How one architecture is timed (tract or an external runner).
#[derive(Debug, Clone, Args)]
pub struct TimingArgs {
    /// Timed runs per architecture at most (min(5, R) are wanted; fewer than R when they take
    /// more than --max-time, with a warning if fewer than the minimum fit).
    #[arg(long, default_value_t = MeasureParams::default().max_runs)]
    pub runs: usize,
    /// Warm-up runs per architecture (not recorded; stopped after 1 s).
    #[arg(long, default_value_t = MeasureParams::default().warmup)]
    pub warmup: usize,
    /// Wall-clock budget of the timed runs of one architecture, in seconds: no run starts after
    /// it, and a runner's run still going when it runs out is stopped.
    #[arg(long, default_value_t = MeasureParams::default().max_time.as_secs_f64())]
    pub max_time: f64,
    /// Images per inference; latencies are ms per image (batch latency / B).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Threads for tract's matrix products (ignored by the runners: give theirs in the command).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The clock that times tract's runs: `cpu` counts only the work of the thread that runs the
    /// model, so other programs competing for the cores do not inflate it (one thread only);
    /// `wall` counts waiting too; `auto` is `cpu` with one thread, else `wall`. A runner's
    /// latency is what it prints (time its runs with its own CPU clock if it has one).
    #[arg(long, value_enum, default_value_t = oneproxy::measure::Clock::default())]
    pub clock: oneproxy::measure::Clock,
}

/// An external program that times exported models.
#[derive(Debug, Clone, Args)]
pub struct RunnerArgs {
    /// Measure with an external program instead of tract: a shell command template where
    /// `{model}` is the exported ONNX path and `{arch}` the architecture string (both
    /// shell-quoted). It must print its latency in ms as a line `latency_ms: <x>`, or as a bare
    /// number alone on its last line (else see --runner-regex).
    #[arg(long, value_name = "TEMPLATE")]
    pub runner_cmd: Option<String>,
    /// Regex extracting the latency (ms) from the runner's output, for tools whose output
    /// cannot follow the protocol: its first capture group, or the whole match.
    #[arg(long, value_name = "RE", requires = "runner_cmd")]
    pub runner_regex: Option<String>,
    /// Measure through one long-lived runner process instead: a shell command template (no
    /// `{model}`) started once, that prints `ready`, then reads one JSON request per line on
    /// stdin (`{"op":"load"|"run","model":PATH,"arch":..,"input_shape":[..],"run":K}`) and
    /// answers each with one line, `ok`, `latency_ms: <x>` or `error: <message>`; see
    /// docs/measuring.md and examples/runners/ (e.g. `.venv/bin/python
    /// examples/runners/ort_runner.py --threads 1`).
    #[arg(long, value_name = "TEMPLATE", conflicts_with_all = ["runner_cmd", "runner_regex"])]
    pub runner_persistent: Option<String>,
    /// Time limit of one --runner-cmd run, or of one request to --runner-persistent, in seconds:
    /// a runner still going is killed with its child processes, and the architecture fails.
    #[arg(long, value_name = "SECS", default_value_t = oneproxy::measure::runner::DEFAULT_TIMEOUT.as_secs_f64())]
    pub runner_timeout: f64,
    /// Time limit of the --runner-persistent start, until it prints `ready`, in seconds
    /// [default: 60].
    #[arg(long, value_name = "SECS", requires = "runner_persistent")]
    pub runner_start_timeout: Option<f64>,
    /// How many times in a row --runner-persistent is restarted after it crashes, hangs or breaks
    /// the protocol (each time the architecture in flight fails); at the next failure measuring
    /// stops, keeping what was measured [default: 2].
    #[arg(long, value_name = "N", requires = "runner_persistent")]
    pub runner_restarts: Option<usize>,
}

impl RunnerArgs {
    /// Whether an external runner (per run or persistent) does the timing.
    pub fn external(&self) -> bool {
        self.runner_cmd.is_some() || self.runner_persistent.is_some()
    }
}

// ---- end of export and measure ----

#[derive(Debug, Subcommand)]
pub enum EvaluateCommand {
    /// Adapt a proxy to each target with K samples; Spearman against all the target's archs.
    Adapt(EvalAdaptArgs),
    /// The one-proxy NAS flow per target (reuse or adapt), scored against the true front.
    Nas(EvalNasArgs),
    /// A fleet: targets arriving one after another, each finished device joining the proxy
    /// pool of the next, scored beside the same targets run one at a time.
    Fleet(EvalFleetArgs),
}

/// Where accuracies come from.
#[derive(Debug, Clone, Args)]
pub struct AccuracyArgs {
    /// Bundled accuracy table (nb201: cifar10, cifar100, imagenet16-120), or `synthetic[:SEED]`
    /// for any space with bundled architectures: a fixed random additive model, NOT a real
    /// accuracy, for scoring flows where no public table exists (FBNet, OFA).
    #[arg(long, conflicts_with = "accuracy_file")]
    pub accuracy: Option<String>,
    /// A CSV with columns `arch,accuracy` (any space).
    #[arg(long, value_name = "FILE")]
    pub accuracy_file: Option<PathBuf>,
}

/// Options of the one-proxy NAS flow.
#[derive(Debug, Clone, Args)]
pub struct FlowArgs {
    /// Latency constraint in target milliseconds (repeatable).
    #[arg(long = "constraint", value_name = "MS", value_parser = positive_ms, allow_negative_numbers = true)]
    pub constraints: Vec<f64>,
    /// Spearman on the samples at or above which the proxy's result is reused as is (in [-1, 1]).
    #[arg(long, default_value_t = NasConfig::default().threshold, value_parser = correlation, allow_negative_numbers = true)]
    pub threshold: f64,
    /// Most target samples the adaptation may measure (at least 1).
    #[arg(long, default_value_t = NasConfig::default().max_samples, value_parser = at_least::<1>)]
    pub max_samples: usize,
    /// Pareto layers of the predicted front to measure on the target (1 = the front only;
    /// with --design layers).
    #[arg(long, default_value_t = NasConfig::default().layers, value_parser = at_least::<1>)]
    pub layers: usize,
    /// How candidates are measured after the reuse-or-adapt decision: `sequential` (small
    /// rounds by expected regret reduction, refitting between them), `layers` (the paper's
    /// flow: the first predicted Pareto layers at once) or `upfront` (the samples and every
    /// candidate in one request, chosen before any target measurement: one file to fill with
    /// --manual; at most 35 measurements, or --max-measurements).
    #[arg(long, value_parser = named(&DESIGNS), default_value = Design::default().name())]
    pub design: String,
    /// Candidates measured per round, between refits (--design sequential). Default: 1, a
    /// refit after every measurement; 5 for a person measuring by hand (--manual), each round
    /// being a request to fill.
    #[arg(long, value_parser = at_least::<1>)]
    pub round_size: Option<usize>,
    /// Stop when the best remaining candidate is expected to lower the mean regret by less
    /// than this many accuracy points (--design sequential), once --min-checks candidates are
    /// measured. Default: 0.007; 0.01 with --manual.
    #[arg(long, value_parser = non_negative, allow_negative_numbers = true)]
    pub stop: Option<f64>,
    /// The regret you accept, in accuracy points: also stop once the flow's own estimate of
    /// what is left to gain is at most this with 80% confidence, every budget it believes
    /// populated holding a measured pick (--design sequential; default: no such stop).
    #[arg(long, value_name = "POINTS", value_parser = non_negative, allow_negative_numbers = true)]
    pub stop_regret: Option<f64>,
    /// Fewest candidates measured, each predicted before it is measured, before the stopping
    /// threshold (--stop) may end the flow: the flow's confidence is its model's, checked only
    /// on such candidates (--design sequential; 0: no floor). --stop-regret, the regret you
    /// accept, may still end it sooner.
    #[arg(long, value_name = "N", default_value_t = NasConfig::default().min_checks, allow_negative_numbers = true)]
    pub min_checks: usize,
    /// Never reuse the proxy as is: always adapt its predictor.
    #[arg(long)]
    pub always_adapt: bool,
}

/// A choice among the library's named options (`(name, help)` pairs), kept as its name: the
/// library turns the name into its value (`SampleSet::named`, `Design::named`).
fn named(choices: &'static [(&'static str, &'static str)]) -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        choices.iter().map(|&(name, help)| clap::builder::PossibleValue::new(name).help(help)),
    )
}

#[derive(Debug, Args)]
pub struct EvalNasArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Target devices (comma-separated).
    #[arg(long, value_delimiter = ',', required = true, value_parser = list_name)]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    #[command(flatten)]
    pub accuracy: AccuracyArgs,
    #[command(flatten)]
    pub draw: SampleArgs,
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub options: AdaptOptions,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Skip the baselines (flops as proxy, always adapt; the random one costs nothing and stays).
    #[arg(long)]
    pub no_baselines: bool,
    /// Most target measurements per run in all (samples included); with --stop 0 the flow
    /// spends exactly this many (the regret-versus-measurements curve).
    #[arg(long, value_name = "N")]
    pub max_measurements: Option<usize>,
    /// Also draw the calibration of the flow's uncertainty (.svg, .png or .pdf): how often its
    /// latency intervals on the architectures it did not measure, and its bound on the
    /// remaining regret, held the truth, against their nominal levels.
    #[arg(long, value_name = "FILE")]
    pub calibration_plot: Option<PathBuf>,
    /// Replace an existing output file that oneproxy did not write (or that was changed since it
    /// wrote it); without it such a file is left alone and the command stops. An output is never
    /// written onto one of the command's inputs, forced or not.
    #[arg(long)]
    pub force: bool,
}

/// In which order a fleet's targets arrive.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ArrivalOrder {
    /// Shuffled per trial, from the seed.
    Random,
    /// As listed in --targets.
    Given,
}

#[derive(Debug, Args)]
pub struct EvalFleetArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The fleet (comma-separated); default: the targets of `oneproxy run` (every measured
    /// device but its default proxy). The initial pool is every other device with data.
    #[arg(long, value_delimiter = ',', value_parser = list_name)]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub accuracy: AccuracyArgs,
    /// Order in which the targets arrive.
    #[arg(long, value_enum, default_value = "random")]
    pub order: ArrivalOrder,
    /// Devices measured side by side; each next one starts when one of them ends (1: one at a
    /// time, each joins the pool of the next; the fleet's size: all at once).
    #[arg(long, default_value_t = 1, value_parser = at_least::<1>)]
    pub concurrency: usize,
    /// A running device also joins, with its model then, once its flow's estimate of the regret
    /// it leaves is within this many accuracy points (80% bound); default: only when it ends.
    #[arg(long, value_name = "POINTS", value_parser = non_negative, allow_negative_numbers = true)]
    pub join_regret: Option<f64>,
    /// Initial samples per target; default: the flow's, as `oneproxy run` (3 with the
    /// sequential design, 6 with the others).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Which architectures are measured first on each target.
    #[arg(long, value_parser = named(&SAMPLE_SETS), default_value = SampleSet::default().name())]
    pub sample_set: String,
    /// Trials (arrival orders and sample draws), seeded `seed, seed + 1, ...`.
    #[arg(long, default_value_t = Trials::default().count)]
    pub trials: usize,
    /// Seed of the first trial.
    #[arg(long, default_value_t = Trials::default().seed)]
    pub seed: u64,
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub options: AdaptOptions,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `--form`: `auto` or a correction form, the names and their help read from the library's
/// registry of forms (a new form needs no change here).
fn form_choice() -> impl clap::builder::TypedValueParser<Value = FormChoice> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let auto = PossibleValue::new("auto").help("Every form below; the best cross-validated one wins");
    let forms = Form::corrections().map(|f| PossibleValue::new(f.name()).help(f.help()));
    PossibleValuesParser::new(std::iter::once(auto).chain(forms)).try_map(|name| name.parse::<FormChoice>())
}

/// Options of the adaptation itself, shared by `adapt` and `evaluate adapt`.
#[derive(Debug, Clone, Args)]
pub struct AdaptOptions {
    /// Penalty on the corrections (the paper uses 2).
    #[arg(long, value_enum, default_value_t = AdaptParams::default().penalty)]
    pub norm: Penalty,
    /// Penalty weight on the scaled problem (latencies divided by their mean), or `auto` to
    /// choose it by cross-validation over a log grid (the default).
    #[arg(long, allow_hyphen_values = true)]
    pub lambda: Option<String>,
    /// Form of the correction.
    #[arg(long, value_parser = form_choice(), default_value = form_name(AdaptParams::default().form))]
    pub form: FormChoice,
    /// Cross-validation folds for the automatic choices (0 = leave-one-out, the default).
    #[arg(long)]
    pub folds: Option<usize>,
    /// With several candidate proxies and `--combine best`, average this many best
    /// candidates (1 = take the best).
    #[arg(long, default_value_t = AdaptParams::default().ensemble)]
    pub ensemble: usize,
    /// How candidates become one predictor. `averaged` (the default, with `--form auto`) adds
    /// the structure-aware hypotheses (live ops, costliest path, stacking of the pool, a prior
    /// from the pool's weights, layers run) and averages every candidate with weights from its
    /// leave-one-out error, in `adapt` and in every refit of the NAS flows; `best` keeps the
    /// `--ensemble` best correction candidates (the NAS flows' rule before).
    #[arg(long, value_enum)]
    pub combine: Option<Combination>,
}

/// The command-line name of a form choice (`auto` or the form's name).
fn form_name(choice: FormChoice) -> &'static str {
    match choice {
        FormChoice::Auto => "auto",
        FormChoice::Fixed(form) => form.name(),
    }
}

/// The proxy device and its candidates.
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// Proxy device, or `auto` to pick the pool member that cross-validates best on the target.
    #[arg(long, default_value_t = ProxySelection::default().to_string())]
    pub proxy: String,
    /// Candidate proxies for `--proxy auto` (comma-separated); default: every device with data
    /// except the target.
    #[arg(long, value_delimiter = ',', value_parser = list_name)]
    pub pool: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AdaptArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    /// The target's measurements: a latency CSV (`arch` or `index` column, device columns).
    #[arg(long, value_name = "FILE")]
    pub samples: PathBuf,
    /// Which device column of the samples file is the target (needed if it has several).
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub options: AdaptOptions,
    /// Save the adapted predictor as JSON (for `oneproxy predict` and `search --predictor`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing output file that oneproxy did not write (or that was changed since it
    /// wrote it); without it such a file is left alone and the command stops. An output is never
    /// written onto one of the command's inputs, forced or not.
    #[arg(long)]
    pub force: bool,
    /// Print JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(false)))]
pub struct PredictArgs {
    /// A predictor JSON file (from `adapt --out`).
    #[arg(long, value_name = "FILE")]
    pub predictor: PathBuf,
    /// The space file of the predictor's space, when it is a declared one (`adapt
    /// --space-file`): it is read before the predictor, which names the space.
    #[arg(long, value_name = "FILE")]
    pub space_file: Option<PathBuf>,
    /// One architecture string.
    #[arg(long, group = "which")]
    pub arch: Option<String>,
    /// A CSV file with an `arch` column.
    #[arg(long, value_name = "FILE", group = "which")]
    pub archs: Option<PathBuf>,
    /// Every architecture of the space (NB201) or of its bundled dataset.
    #[arg(long, group = "which")]
    pub all: bool,
    /// Write the CSV here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing output file that oneproxy did not write (or that was changed since it
    /// wrote it); without it such a file is left alone and the command stops. An output is never
    /// written onto one of the command's inputs, forced or not.
    #[arg(long)]
    pub force: bool,
    /// Latency files holding the proxy's measurements, if the predictor builds on a proxy
    /// device that is not bundled. Repeatable.
    #[arg(long = "latency", value_name = "FILE")]
    pub latency: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of architectures to measure (at most every candidate of the space).
    #[arg(long, value_parser = at_least::<1>)]
    pub budget: usize,
    /// Proxy whose latency range the plan spans; default: the recommended proxy.
    #[arg(long)]
    pub proxy: Option<String>,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Name of the (empty) latency column to fill in.
    #[arg(long, default_value = "my_device", value_parser = device_name)]
    pub device_name: String,
    /// Write the CSV here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing output file that oneproxy did not write (or that was changed since it
    /// wrote it); without it such a file is left alone and the command stops. An output is never
    /// written onto one of the command's inputs, forced or not.
    #[arg(long)]
    pub force: bool,
}

/// Which target samples an evaluation draws, how many, how often.
#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// Samples per target (ignored with --sample-set help10); the evaluation protocol's K,
    /// not the NAS flow's default.
    #[arg(long, default_value_t = Trials::SAMPLES)]
    pub samples: usize,
    /// Trials of random samples.
    #[arg(long, default_value_t = Trials::default().count)]
    pub trials: usize,
    /// Seed of the sample draws.
    #[arg(long, default_value_t = Trials::default().seed)]
    pub seed: u64,
    /// Which architectures are measured first on each target.
    #[arg(long, value_parser = named(&SAMPLE_SETS), default_value = SampleSet::default().name())]
    pub sample_set: String,
}

#[derive(Debug, Args)]
pub struct EvalAdaptArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Target devices (comma-separated).
    #[arg(long, value_delimiter = ',', required = true, value_parser = list_name)]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    #[command(flatten)]
    pub draw: SampleArgs,
    #[command(flatten)]
    pub options: AdaptOptions,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--space`: one of the library's spaces, listed by their `Display` names and parsed by
/// `SpaceId`'s own `FromStr` (a new space needs no change here).
fn space_id() -> impl clap::builder::TypedValueParser<Value = SpaceId> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(SpaceId::ALL.iter().map(|s| s.to_string())).try_map(|name| name.parse::<SpaceId>())
}

/// Where latencies come from: the bundled tables plus user files.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Search space.
    #[arg(long, value_parser = space_id(), default_value_t = SpaceId::Nb201)]
    pub space: SpaceId,
    /// Your own search space, declared in a space file (TOML: named positions, each with its
    /// choices; see docs/space-file.md), instead of --space. It has no bundled data: give its
    /// latencies with --latency (architecture strings in the file's form).
    #[arg(long, value_name = "FILE", conflicts_with = "space")]
    pub space_file: Option<PathBuf>,
    /// A user latency CSV (header; an `arch` or `index` column; one column per device, ms;
    /// empty cell = not measured). Its devices are added to the bundled ones. Repeatable.
    #[arg(long = "latency", value_name = "FILE")]
    pub latency: Vec<PathBuf>,
}

impl DataArgs {
    /// The space: the declared one of `--space-file` (read once per process, then shared),
    /// else `--space`.
    pub fn space(&self) -> anyhow::Result<SpaceId> {
        match &self.space_file {
            Some(file) => Ok(oneproxy::space::declared::load(file)?),
            None => Ok(self.space),
        }
    }
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MonotonicityArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Devices to compare (comma-separated); default: every device with data.
    #[arg(long, value_delimiter = ',', value_parser = list_name)]
    pub devices: Vec<String>,
    /// Fewest architectures two devices must both have measured for their correlation to
    /// count; below, it is undefined (`-`) and cannot make a device the recommended proxy.
    #[arg(long, value_name = "N", default_value_t = oneproxy::stats::MIN_OVERLAP, value_parser = at_least::<2>)]
    pub min_overlap: usize,
    /// Correlation metric.
    #[arg(long, value_enum, default_value_t = Metric::default())]
    pub metric: Metric,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also draw the matrix as a labelled heatmap (.svg, .png or .pdf).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Device order of the heatmap.
    #[arg(long, value_enum, default_value = "cluster")]
    pub heatmap_order: HeatmapOrderArg,
    /// Colour scale of the heatmap: `data` (sequential over the correlations' range) or `full`
    /// (diverging, -1 to 1).
    #[arg(long, value_enum, default_value = "data")]
    pub heatmap_scale: HeatmapScaleArg,
    /// Replace an existing output file that oneproxy did not write (or that was changed since it
    /// wrote it); without it such a file is left alone and the command stops. An output is never
    /// written onto one of the command's inputs, forced or not.
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_value_parsers() {
        assert_eq!(list_name(" pixel3 ").unwrap(), "pixel3");
        assert!(list_name("  ").is_err());
        assert_eq!(positive_ms("2.5").unwrap(), 2.5);
        for bad in ["-1", "0", "inf", "NaN", "fast"] {
            assert!(positive_ms(bad).is_err(), "{bad}");
        }
        assert_eq!(correlation("-0.5").unwrap(), -0.5);
        for bad in ["1.01", "-1.5", "NaN", "x"] {
            assert!(correlation(bad).is_err(), "{bad}");
        }
        assert!(device_name("my board").is_ok());
        assert!(device_name("a,b").unwrap_err().contains("comma"));
        assert_eq!(at_least::<1>("3").unwrap(), 3);
        assert_eq!(at_least::<1>("0").unwrap_err(), "must be at least 1");
        assert_eq!(at_least::<2>("-1").unwrap_err(), "must be a whole number");
    }

    #[test]
    fn lists_naming_a_device_twice_are_refused() {
        let cli = Cli::try_parse_from(["oneproxy", "evaluate", "adapt", "--targets", "a, b,a"]).unwrap();
        assert!(cli.validate().unwrap_err().to_string().contains("--targets lists 'a' twice"));
        let cli = Cli::try_parse_from(["oneproxy", "evaluate", "adapt", "--targets", "a,b"]).unwrap();
        assert!(cli.validate().is_ok());
    }

    #[test]
    fn clap_configuration_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
