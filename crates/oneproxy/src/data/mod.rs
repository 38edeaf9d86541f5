//! The data layer: every table, file format and file oneproxy reads, one job per module.
//!
//! * [`input`]: the one way an input file is read (regular files only, bounded; it lives in
//!   [`crate::files`], under both `data` and `output`);
//! * [`csv`]: the one CSV writer, and line numbers for the readers' messages;
//! * [`latency`]: the one check a latency passes wherever it enters;
//! * [`device`]: device names (one rule everywhere) and where a device's data came from;
//! * [`latency_csv`]: the latency CSV format ([`LatencyCsv`]);
//! * [`table`]: [`LatencyTable`], architectures x devices, nothing else;
//! * [`pseudo`]: the computed `flops` and `params` pseudo-devices;
//! * [`accuracy`]: [`AccuracyTable`] and its CSV format;
//! * [`bundled`]: the datasets embedded in the binary;
//! * [`load`]: what front ends load (bundled data with user files, accuracies by source);
//! * [`plausibility`]: warnings about values that parse but look wrong (units, ranges);
//! * [`manifest`]: the provenance attached to every result (inputs and their hashes);
//! * [`log`]: [`MeasurementLog`], a device's resumable latency CSV, locked while open, with the
//!   settings it was measured with and the architectures that could not be measured.

pub mod accuracy;
pub mod bundled;
pub mod csv;
pub mod device;
/// Reading input files lives in [`crate::files`]; kept here under its old path.
pub use crate::files::input;
pub mod latency;
pub mod latency_csv;
pub mod load;
pub mod log;
pub mod manifest;
pub mod plausibility;
pub mod pseudo;
pub mod table;

pub use self::csv::{csv_text, LineIndex};
pub use accuracy::AccuracyTable;
pub use bundled::{bundle, is_simulated};
pub use device::{validate_device_name, Device, DeviceSource, MAX_DEVICE_NAME_CHARS};
pub use latency::{check_latency, parse_latency, FAILED};
pub use latency_csv::{parse_latency_csv, read_latency_csv, LatencyCsv};
pub use load::{synthetic, AccuracySource};
pub use log::{Answer, MeasurementLog, Settings};
pub use manifest::{InputFile, Manifest};
pub use plausibility::Warning;
pub use table::LatencyTable;
