//! # oneproxy
//!
//! Hardware-aware neural architecture search across many devices at the cost of one, after
//! Lu et al., *One Proxy Device Is Enough for Hardware-Aware NAS* (SIGMETRICS 2022).
//!
//! Architecture latency **rankings** are strongly correlated across devices ("latency
//! monotonicity", measured by Spearman's rank correlation). Where a proxy device ranks like the
//! target, the architectures found with the proxy's latency are (almost) optimal on the target;
//! where it does not, the proxy's additive latency predictor is adapted to the target with a few
//! target measurements (AdaProxy).
//!
//! Layout, one job per module:
//! * [`space`]: search spaces (NB201, FBNet, OFA-MobileNetV3, MobileNetV2, ProxylessNAS), one
//!   folder each and one registry line: parse, format, sample, encode, their networks and
//!   bundled datasets;
//! * [`network`]: the layer and cost types networks are written in (FLOPs, parameters);
//! * `onnx` (feature `onnx`): ONNX export of every architecture;
//! * [`measure`]: latency measurement (tract with feature `tract`, an external runner per run,
//!   or a persistent runner);
//! * [`data`]: every table and file format oneproxy reads: [`LatencyTable`], accuracy tables,
//!   the bundled datasets, the measurement log of a device, plausibility warnings and the
//!   provenance ([`Manifest`]) attached to every JSON result;
//! * [`stats`]: Spearman, Kendall tau-b, Pearson, and the device correlation matrix;
//! * [`files`]: reading an input file and hashing bytes (under both `data` and `output`);
//! * [`predictor`]: the additive latency predictor, proxy devices and AdaProxy (correction forms
//!   and hypotheses, each one module in a registry);
//! * [`plan`]: which architectures a new device should measure;
//! * [`output`]: everything written to disk: atomic files, report folders, locks, cleanup on
//!   error and on SIGINT/SIGTERM;
//! * [`search`]: Pareto fronts, latency-constrained picks, hypervolume, NSGA-II search;
//! * `plot` (feature `plot`): heatmaps and Pareto plots;
//! * [`workflow`]: the flows (one-proxy NAS on a device, evaluations, the main job), driven by
//!   measurement oracles;
//! * [`report`]: the typed report documents and `report.html`.
//!
//! The top-level modules form a layered graph without cycles (a test keeps it so):
//! `error` and `files` at the bottom, then `stats`, `network`, `space`, `output`, `data`,
//! `predictor`, `search`, `plan`, `measure`, `workflow`, `report`. [`prelude`] gathers what a
//! program driving the flows needs.
#![deny(missing_docs)]

pub mod data;
pub mod error;
pub mod files;
// The fuzz targets' harness, shared with the corpus replay test; not public API.
#[doc(hidden)]
pub mod fuzzing;
pub mod measure;
#[cfg(test)]
mod module_graph;
pub mod network;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod output;
pub mod plan;
#[cfg(feature = "plot")]
pub mod plot;
pub mod predictor;
pub mod prelude;
pub mod report;
pub mod search;
pub mod space;
pub mod stats;
pub mod workflow;

pub use data::{AccuracyTable, LatencyTable, Manifest};
pub use error::{Error, Result};
pub use space::{Arch, SearchSpace, SpaceId};
