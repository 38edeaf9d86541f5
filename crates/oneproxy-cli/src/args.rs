//! Command-line arguments (clap). Converted into library types in `cmd/`, never passed further.

use clap::{Args, Parser, Subcommand, ValueEnum};
use oneproxy::SpaceId;
use std::path::PathBuf;

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
}

/// The search space argument.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SpaceArg {
    /// NAS-Bench-201 (15625 cells)
    Nb201,
    /// FBNet (22 layers x 9 blocks)
    Fbnet,
    /// Once-for-All MobileNetV3
    #[value(name = "ofa-mbv3")]
    OfaMbv3,
}

impl From<SpaceArg> for SpaceId {
    fn from(s: SpaceArg) -> Self {
        match s {
            SpaceArg::Nb201 => SpaceId::Nb201,
            SpaceArg::Fbnet => SpaceId::Fbnet,
            SpaceArg::OfaMbv3 => SpaceId::OfaMbv3,
        }
    }
}

/// Where latencies come from: the bundled tables plus user files.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Search space.
    #[arg(long, value_enum, default_value = "nb201")]
    pub space: SpaceArg,
    /// A user latency CSV (header; an `arch` or `index` column; one column per device, ms;
    /// empty cell = not measured). Its devices are added to the bundled ones. Repeatable.
    #[arg(long = "latency", value_name = "FILE")]
    pub latency: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Correlation metric.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MetricArg {
    Spearman,
    Kendall,
    Pearson,
}

impl From<MetricArg> for oneproxy::stats::Metric {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Spearman => Self::Spearman,
            MetricArg::Kendall => Self::Kendall,
            MetricArg::Pearson => Self::Pearson,
        }
    }
}

#[derive(Debug, Args)]
pub struct MonotonicityArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Devices to compare (comma-separated); default: every device with data.
    #[arg(long, value_delimiter = ',')]
    pub devices: Vec<String>,
    /// Correlation metric.
    #[arg(long, value_enum, default_value = "spearman")]
    pub metric: MetricArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also draw the matrix as a labelled heatmap (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}
