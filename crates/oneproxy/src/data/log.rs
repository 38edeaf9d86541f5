//! The measurement log of one device: the one file format `measure`, `nas` and the Python
//! binding write their measurements to, and resume from.
//!
//! The log is a latency CSV with the columns `arch,<device>` (so it is also a `--latency` input
//! as it is). A cell is
//! * a latency in ms per image, written in the shortest form that reads back to the same
//!   number, so a resumed run computes exactly what a continuous run did;
//! * empty: requested, not measured yet (a manual target fills these in);
//! * `failed`: the architecture could not be measured (a runner that fails on it, or a person who
//!   marks it); it is never asked for again, so a resumed flow does not redraw it forever. Empty
//!   the cell to try again.
//!
//! Beside the CSV, a sidecar `.<name>.oneproxy-log.json` records what the CSV cannot hold: the
//! settings the values were measured with (engine, command, batch, pruning), so that a resume
//! with other settings is refused instead of mixing two setups in one column; why each failed
//! architecture failed; every timed run of each architecture with their relative spread (MAD
//! over median); and re-measurements (`repeats`): the CSV keeps an architecture's first
//! measurement, so a resumed flow takes the path it took, and the further ones follow in the
//! sidecar, in order, so a resume answers them without asking again. A CSV without its sidecar
//! (copied elsewhere, written by hand) is still a valid log: its settings are then unknown.
//!
//! While a log is open on disk it holds the file's [`OutputLock`], so two processes never
//! rewrite it from their own rows and lose the other's.
//!
//! Every latency entering the log passes one check: a positive finite number
//! ([`check_latency`]), and the plausibility checks of [`crate::data::plausibility`] over the whole
//! column, whose new warnings [`MeasurementLog::record`] returns.

use super::latency::{check_latency, FAILED};
use crate::data::plausibility::{self, Warning};
use crate::error::{Error, Origin, Result};
use crate::output::{check_output_file, final_target, write_atomic, OutputLock};
use crate::space::{Arch, SpaceId};
use crate::stats::relative_spread;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The settings a log's latencies were measured with, by name (`engine`, `command`, `batch`,
/// `prune_dead`, ...): two runs may share a log only where their common settings agree.
pub type Settings = BTreeMap<String, String>;

/// What the device said about one architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Measured.
    Measured {
        /// Latency in ms per image (the median of the timed runs).
        latency_ms: f64,
        /// Every timed run in ms per image, when the oracle timed several (empty otherwise).
        runs_ms: Vec<f64>,
        /// What looked wrong in this measurement or in the column so far (an unstable run, a
        /// value in another unit), in words.
        warnings: Vec<String>,
    },
    /// Could not be measured: why.
    Failed(String),
}

impl Answer {
    /// A plain measured latency, without runs or warnings.
    pub fn latency(latency_ms: f64) -> Self {
        Answer::Measured { latency_ms, runs_ms: Vec::new(), warnings: Vec::new() }
    }

    /// The latency, if measured.
    pub fn latency_ms(&self) -> Option<f64> {
        match self {
            Answer::Measured { latency_ms, .. } => Some(*latency_ms),
            Answer::Failed(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Pending,
    Latency(f64),
    Failed,
}

/// The sidecar's content.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Sidecar {
    /// Always `oneproxy`.
    written_by: String,
    /// The version that last wrote it.
    version: String,
    device: String,
    space: String,
    #[serde(default)]
    settings: Settings,
    /// Why each failed architecture failed.
    #[serde(default)]
    failures: BTreeMap<String, String>,
    /// Every timed run (ms per image) of each architecture measured with several.
    #[serde(default)]
    runs: BTreeMap<String, Vec<f64>>,
    /// The relative spread of those runs (MAD over median, [`relative_spread`]), for reading.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    spread: BTreeMap<String, f64>,
    /// Re-measurements of an architecture after its first measurement (the CSV's value), in the
    /// order they were made: a flow that asks for the k-th again finds it here on a resume.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    repeats: BTreeMap<String, Vec<Repeat>>,
}

/// One re-measurement in the sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Repeat {
    /// Latency in ms per image; `None` when it could not be measured this time.
    latency_ms: Option<f64>,
    /// Its timed runs (ms per image), when there were several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    runs_ms: Vec<f64>,
    /// Why it could not be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed: Option<String>,
}

/// A device's measurements; see the module documentation.
#[derive(Debug)]
pub struct MeasurementLog {
    path: Option<PathBuf>,
    device: String,
    space: SpaceId,
    rows: Vec<(Arch, Cell)>,
    index: HashMap<Arch, usize>,
    sidecar: Sidecar,
    /// Kinds of plausibility warning already given (each is said once).
    said: HashSet<String>,
    /// Warnings about the file as it was opened.
    opened_with: Vec<Warning>,
    _lock: Option<OutputLock>,
}

/// The sidecar path of a log file (next to the final target of its links, like its lock).
fn sidecar_path(path: &Path) -> Result<PathBuf> {
    let target = final_target(path)?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(target.with_file_name(format!(".{name}.oneproxy-log.json")))
}

impl MeasurementLog {
    /// A log kept in memory only.
    pub fn in_memory(device: &str, space: SpaceId) -> Self {
        MeasurementLog {
            path: None,
            device: device.to_string(),
            space,
            rows: Vec::new(),
            index: HashMap::new(),
            sidecar: Sidecar {
                written_by: "oneproxy".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                device: device.to_string(),
                space: space.name().into(),
                ..Sidecar::default()
            },
            said: HashSet::new(),
            opened_with: Vec::new(),
            _lock: None,
        }
    }

    /// Open the log at `path` for `purpose` (a word such as `nas`, shown to another process
    /// that finds it locked), reading it if it exists. The file is locked until the log is
    /// dropped. An existing file must be a latency CSV with exactly the columns
    /// `arch,<device>` (a file with other columns is somebody else's and is refused, never
    /// rewritten).
    pub fn open(path: &Path, device: &str, space: SpaceId, purpose: &str) -> Result<Self> {
        crate::data::validate_device_name(device)?;
        check_output_file(path)?;
        let lock = OutputLock::acquire(path, purpose)?;
        let mut log =
            MeasurementLog { path: Some(path.to_path_buf()), _lock: Some(lock), ..Self::in_memory(device, space) };
        let sidecar = log.read_sidecar(path)?;
        let (_, existing) = check_output_file(path)?;
        if existing.is_none() {
            // A sidecar of ours without its CSV describes measurements that are gone.
            return Ok(log);
        }
        log.sidecar = sidecar;
        let bundled = crate::data::bundled::bundle(space).ok().map(|b| b.archs.as_slice());
        let csv = super::latency_csv::read_log_csv(path, space.space(), bundled).map_err(|e| match e {
            Error::BadValue { origin, column, value, reason } => Error::BadValue {
                origin,
                column,
                value,
                reason: format!(
                    "{reason}; a latency is a positive number of ms: correct it, empty the cell to measure it again, or write '{FAILED}'"
                ),
            },
            other => other,
        })?;
        if csv.devices != [device] {
            return Err(Error::BadHeader {
                path: path.to_path_buf(),
                reason: format!(
                    "a measurement log of '{device}' has the columns 'arch,{device}', this file has device columns '{}': choose another file",
                    csv.devices.join(",")
                ),
            });
        }
        let failed: HashSet<usize> = csv.failed.iter().map(|&(row, _)| row).collect();
        for (i, (arch, values)) in csv.rows.into_iter().enumerate() {
            let cell = match values[0] {
                _ if failed.contains(&i) => Cell::Failed,
                v if v.is_nan() => Cell::Pending,
                v => Cell::Latency(v),
            };
            log.index.insert(arch.clone(), log.rows.len());
            log.rows.push((arch, cell));
        }
        log.said = csv.warnings.iter().map(|w| w.kind.to_string()).collect();
        log.opened_with = csv.warnings;
        Ok(log)
    }

    /// The sidecar of an existing log, if oneproxy wrote one for this device and space.
    fn read_sidecar(&self, path: &Path) -> Result<Sidecar> {
        let fresh = self.sidecar.clone();
        let side = sidecar_path(path)?;
        if !side.exists() {
            return Ok(fresh);
        }
        let bytes = crate::data::input::read(&side)?;
        match serde_json::from_slice::<Sidecar>(&bytes) {
            Ok(s) if s.written_by == "oneproxy" && s.device == self.device && s.space == fresh.space => Ok(s),
            _ => Err(Error::Refused {
                path: side,
                reason: format!(
                    "is not the record oneproxy keeps beside the measurement log of '{}' ({} space): move it away",
                    self.device, fresh.space
                ),
            }),
        }
    }

    /// Warnings about the file's values as it was opened (implausible values, mixed units).
    pub fn warnings(&self) -> &[Warning] {
        &self.opened_with
    }

    /// Check that this run's `settings` agree with those the log was measured with, and
    /// record them. Refused when a setting both name differs and the log holds measurements:
    /// two setups would then share one column.
    pub fn use_settings(&mut self, settings: &Settings) -> Result<()> {
        if self.measured() > 0 {
            let differ: Vec<String> = settings
                .iter()
                .filter_map(|(k, v)| {
                    self.sidecar.settings.get(k).filter(|old| *old != v).map(|old| format!("{k} = {old} (now {v})"))
                })
                .collect();
            if !differ.is_empty() {
                return Err(Error::Refused {
                    path: self.path.clone().unwrap_or_default(),
                    reason: format!(
                        "its {} measurements were made with {}: use the same settings to resume, or another file",
                        self.measured(),
                        differ.join(", ")
                    ),
                });
            }
        }
        for (k, v) in settings {
            self.sidecar.settings.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    /// The settings recorded with the log.
    pub fn settings(&self) -> &Settings {
        &self.sidecar.settings
    }

    /// The device.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The space of the architectures.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// The file, if the log is kept on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The recorded latency of an architecture.
    pub fn get(&self, arch: &Arch) -> Option<f64> {
        match self.cell(arch) {
            Some(Cell::Latency(v)) => Some(v),
            _ => None,
        }
    }

    fn cell(&self, arch: &Arch) -> Option<Cell> {
        self.index.get(arch).map(|&i| self.rows[i].1)
    }

    /// What the log already knows of an architecture: its latency, or that it failed (with
    /// the recorded reason); `None` when it still needs measuring.
    pub fn answer(&self, arch: &Arch) -> Option<Answer> {
        match self.cell(arch)? {
            Cell::Latency(v) => {
                let runs = self.sidecar.runs.get(&self.space.space().format(arch)).cloned().unwrap_or_default();
                Some(Answer::Measured { latency_ms: v, runs_ms: runs, warnings: Vec::new() })
            }
            Cell::Failed => {
                let why = self.sidecar.failures.get(&self.space.space().format(arch));
                Some(Answer::Failed(why.cloned().unwrap_or_else(|| format!("marked '{FAILED}' in the log"))))
            }
            Cell::Pending => None,
        }
    }

    /// The `k`-th re-measurement of an architecture (0: the first after its measurement), if
    /// the log holds it.
    pub fn repeat(&self, arch: &Arch, k: usize) -> Option<Answer> {
        let r = self.sidecar.repeats.get(&self.space.space().format(arch))?.get(k)?;
        Some(match r.latency_ms {
            Some(v) => Answer::Measured { latency_ms: v, runs_ms: r.runs_ms.clone(), warnings: Vec::new() },
            None => Answer::Failed(r.failed.clone().unwrap_or_default()),
        })
    }

    /// Number of re-measurements the log holds (failed ones included).
    pub fn repeats(&self) -> usize {
        self.sidecar.repeats.values().map(Vec::len).sum()
    }

    /// Record a re-measurement of a measured architecture, after those already recorded, and
    /// write the log. The CSV keeps the first measurement, so that a resumed flow takes the path
    /// it took; the repeats live in the sidecar.
    pub fn record_repeat(&mut self, arch: &Arch, answer: &Answer) -> Result<()> {
        let text = self.space.space().format(arch);
        if self.get(arch).is_none() {
            return Err(Error::InvalidParameter(format!("{text} is re-measured before it was measured")));
        }
        let repeat = match answer {
            Answer::Measured { latency_ms, runs_ms, .. } => {
                let v = self.checked(*latency_ms, &format!("measuring {text} again"))?;
                let runs_ms = if runs_ms.len() > 1 { runs_ms.clone() } else { Vec::new() };
                Repeat { latency_ms: Some(v), runs_ms, failed: None }
            }
            Answer::Failed(why) => Repeat { latency_ms: None, runs_ms: Vec::new(), failed: Some(why.clone()) },
        };
        self.sidecar.repeats.entry(text).or_default().push(repeat);
        self.save()
    }

    /// Number of measured architectures.
    pub fn measured(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r.1, Cell::Latency(_))).count()
    }

    /// Number of architectures that could not be measured.
    pub fn failed(&self) -> usize {
        self.rows.iter().filter(|r| r.1 == Cell::Failed).count()
    }

    /// Every row (architecture, latency if measured), in file order.
    pub fn rows(&self) -> Vec<(Arch, Option<f64>)> {
        self.rows
            .iter()
            .map(|(a, c)| {
                (
                    a.clone(),
                    match c {
                        Cell::Latency(v) => Some(*v),
                        _ => None,
                    },
                )
            })
            .collect()
    }

    fn set(&mut self, arch: &Arch, cell: Cell) {
        match self.index.get(arch) {
            Some(&i) => {
                if cell != Cell::Pending {
                    self.rows[i].1 = cell;
                }
            }
            None => {
                self.index.insert(arch.clone(), self.rows.len());
                self.rows.push((arch.clone(), cell));
            }
        }
    }

    /// A latency entering the log, checked by [`check_latency`]; `what` says where it came from.
    fn checked(&self, latency_ms: f64, what: &str) -> Result<f64> {
        check_latency(latency_ms).map_err(|reason| Error::BadValue {
            origin: Origin::Argument,
            column: self.device.clone(),
            value: crate::error::show_number(latency_ms),
            reason: format!("{reason} ({what})"),
        })
    }

    /// Record an answer and write the log. A latency must pass [`check_latency`]; returns the
    /// plausibility warnings about the column that this value raised for the first time.
    pub fn record(&mut self, arch: &Arch, answer: &Answer) -> Result<Vec<Warning>> {
        let text = self.space.space().format(arch);
        match answer {
            Answer::Measured { latency_ms, runs_ms, .. } => {
                let v = self.checked(*latency_ms, &format!("measuring {text}"))?;
                self.set(arch, Cell::Latency(v));
                self.sidecar.failures.remove(&text);
                // A new first measurement: re-measurements of the old one no longer apply.
                self.sidecar.repeats.remove(&text);
                if runs_ms.len() > 1 {
                    if let Some(spread) = relative_spread(runs_ms) {
                        self.sidecar.spread.insert(text.clone(), spread);
                    }
                    self.sidecar.runs.insert(text, runs_ms.clone());
                }
            }
            Answer::Failed(why) => {
                self.set(arch, Cell::Failed);
                self.sidecar.failures.insert(text, why.clone());
            }
        }
        self.save()?;
        Ok(self.new_warnings())
    }

    /// Plausibility warnings about the column that were not given before.
    fn new_warnings(&mut self) -> Vec<Warning> {
        let cells: Vec<(u64, f64)> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, c))| match c {
                Cell::Latency(v) => Some((i as u64 + 2, *v)),
                _ => None,
            })
            .collect();
        let shown = self.path.clone().unwrap_or_else(|| PathBuf::from(format!("measurements of '{}'", self.device)));
        let all = plausibility::latency_column(&shown, &self.device, &cells);
        all.into_iter().filter(|w| self.said.insert(w.kind.to_string())).collect()
    }

    /// Add rows with empty values for architectures that still need a measurement.
    pub fn request(&mut self, archs: &[Arch]) -> Result<()> {
        for a in archs {
            self.set(a, Cell::Pending);
        }
        self.save()
    }

    /// The CSV text. Values are printed in Rust's shortest round-trip form.
    pub fn to_csv(&self) -> String {
        let space = self.space.space();
        let header = ["arch".to_string(), self.device.clone()];
        let rows = self.rows.iter().map(|(a, c)| {
            let cell = match c {
                Cell::Pending => String::new(),
                Cell::Latency(v) => v.to_string(),
                Cell::Failed => FAILED.to_string(),
            };
            [space.format(a), cell]
        });
        crate::data::csv_text(std::iter::once(header).chain(rows))
    }

    fn save(&self) -> Result<()> {
        let Some(p) = &self.path else { return Ok(()) };
        write_atomic(p, self.to_csv().as_bytes())?;
        let side = sidecar_path(p)?;
        let mut sidecar = self.sidecar.clone();
        sidecar.version = env!("CARGO_PKG_VERSION").into();
        let json = serde_json::to_vec_pretty(&sidecar).map_err(|source| Error::Json { path: side.clone(), source })?;
        write_atomic(&side, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;

    fn archs(n: usize) -> Vec<Arch> {
        bundle(SpaceId::Nb201).unwrap().archs[..n].to_vec()
    }

    #[test]
    fn records_resume_bit_for_bit_with_failures_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        let a = archs(4);
        {
            let mut log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "test").unwrap();
            log.record(&a[0], &Answer::Measured { latency_ms: 0.1 + 0.2, runs_ms: vec![0.3, 0.31], warnings: vec![] })
                .unwrap();
            log.record(&a[1], &Answer::Failed("the runner crashed".into())).unwrap();
            log.request(&a[2..3]).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(",0.30000000000000004\n"), "shortest round trip: {text}");
        assert!(text.contains(",failed\n") && text.ends_with(",\n"), "{text}");
        let log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "test").unwrap();
        assert_eq!(log.get(&a[0]), Some(0.1 + 0.2));
        assert_eq!(
            log.answer(&a[0]).unwrap(),
            Answer::Measured { latency_ms: 0.1 + 0.2, runs_ms: vec![0.3, 0.31], warnings: vec![] }
        );
        assert_eq!(log.answer(&a[1]), Some(Answer::Failed("the runner crashed".into())));
        assert_eq!(log.answer(&a[2]), None, "requested, not measured");
        assert_eq!(log.answer(&a[3]), None);
        assert_eq!((log.measured(), log.failed()), (1, 1));
    }

    /// Re-measurements go to the sidecar in order, the CSV keeping the first value; a new first
    /// measurement drops them. A sidecar of an older version (no spreads, no repeats) still loads.
    #[test]
    fn repeats_are_kept_beside_the_first_value_and_old_sidecars_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        let a = archs(2);
        let runs = |v: f64| Answer::Measured { latency_ms: v, runs_ms: vec![v, v * 1.5, v], warnings: vec![] };
        {
            let mut log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "test").unwrap();
            assert!(log.record_repeat(&a[0], &Answer::latency(2.0)).is_err(), "measured first");
            log.record(&a[0], &runs(2.0)).unwrap();
            log.record_repeat(&a[0], &runs(10.0)).unwrap();
            log.record_repeat(&a[0], &Answer::Failed("the runner crashed".into())).unwrap();
        }
        assert!(std::fs::read_to_string(&path).unwrap().ends_with(",2\n"), "the CSV keeps the first");
        let side = dir.path().join(".board.csv.oneproxy-log.json");
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
        let text = SpaceId::Nb201.space().format(&a[0]);
        assert_eq!(json["spread"][&text], 0.0, "MAD over median of 2, 3, 2");
        let mut log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "test").unwrap();
        assert_eq!(log.repeat(&a[0], 0), Some(runs(10.0)));
        assert_eq!(log.repeat(&a[0], 1), Some(Answer::Failed("the runner crashed".into())));
        assert_eq!((log.repeat(&a[0], 2), log.repeats()), (None, 2));
        log.record(&a[0], &Answer::latency(3.0)).unwrap();
        assert_eq!(log.repeats(), 0, "a new first value drops the old repeats");
        drop(log);
        // What an older version wrote: settings, failures and runs only.
        let old = format!(
            r#"{{"written_by":"oneproxy","version":"0.1.0","device":"board","space":"nb201","runs":{{"{text}":[3.0,3.1]}}}}"#
        );
        std::fs::write(&side, old).unwrap();
        let log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "test").unwrap();
        assert_eq!((log.repeats(), log.repeat(&a[0], 0)), (0, None));
        assert!(matches!(log.answer(&a[0]), Some(Answer::Measured { runs_ms, .. }) if runs_ms == [3.0, 3.1]));
    }

    #[test]
    fn a_person_can_mark_a_cell_failed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        let s = SpaceId::Nb201.space();
        let a = archs(2);
        std::fs::write(&path, format!("arch,board\n{},2.5\n{},FAILED\n", s.format(&a[0]), s.format(&a[1]))).unwrap();
        let log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "test").unwrap();
        assert!(matches!(log.answer(&a[1]), Some(Answer::Failed(why)) if why.contains("marked")));
    }

    #[test]
    fn a_second_writer_is_refused_while_the_log_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        let _first = MeasurementLog::open(&path, "board", SpaceId::Nb201, "nas").unwrap();
        let e = MeasurementLog::open(&path, "board", SpaceId::Nb201, "nas").unwrap_err().to_string();
        assert!(e.contains("another oneproxy nas is writing"), "{e}");
    }

    #[test]
    fn a_resume_with_other_settings_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        let a = archs(1);
        let settings = |batch: &str| Settings::from([("batch".to_string(), batch.to_string())]);
        {
            let mut log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "measure").unwrap();
            log.use_settings(&settings("1")).unwrap();
            log.record(&a[0], &Answer::latency(3.0)).unwrap();
        }
        let mut log = MeasurementLog::open(&path, "board", SpaceId::Nb201, "measure").unwrap();
        let e = log.use_settings(&settings("64")).unwrap_err().to_string();
        assert!(e.contains("batch = 1 (now 64)") && e.contains("board.csv"), "{e}");
        log.use_settings(&settings("1")).unwrap();
        // A setting the log does not know is added.
        log.use_settings(&Settings::from([("engine".to_string(), "tract".to_string())])).unwrap();
        assert_eq!(log.settings().len(), 2);
    }

    #[test]
    fn bad_latencies_are_refused_and_implausible_ones_warned_once() {
        let mut log = MeasurementLog::in_memory("board", SpaceId::Nb201);
        let a = archs(8);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(log.record(&a[0], &Answer::latency(bad)).is_err(), "{bad}");
        }
        assert_eq!(log.measured(), 0);
        for (i, v) in [3.0, 3.5, 2.8, 4.1].into_iter().enumerate() {
            assert!(log.record(&a[i], &Answer::latency(v)).unwrap().is_empty());
        }
        // Seconds among milliseconds: a 1000x gap.
        let w = log.record(&a[4], &Answer::latency(0.003)).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].message.contains("different units"), "{}", w[0]);
        let w = log.record(&a[5], &Answer::latency(1e306)).unwrap();
        assert!(w.iter().any(|w| w.message.contains("implausibly slow")), "{w:?}");
        assert!(log.record(&a[6], &Answer::latency(3.3)).unwrap().is_empty(), "each warning once");
    }

    #[test]
    fn a_foreign_csv_or_sidecar_is_not_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.csv");
        std::fs::write(&path, "arch,a,b\n").unwrap();
        let err = MeasurementLog::open(&path, "a", SpaceId::Nb201, "nas").unwrap_err().to_string();
        assert!(err.contains("other.csv"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "arch,a,b\n", "untouched");
        let path = dir.path().join("b.csv");
        std::fs::write(dir.path().join(".b.csv.oneproxy-log.json"), "{\"mine\": true}").unwrap();
        let err = MeasurementLog::open(&path, "b", SpaceId::Nb201, "nas").unwrap_err().to_string();
        assert!(err.contains(".b.csv.oneproxy-log.json") && err.contains("move it away"), "{err}");
    }
}
