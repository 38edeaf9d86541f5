//! Measurement oracles: how the flow gets latencies of architectures on the target device.
//!
//! The flow asks a [`TargetOracle`] to measure batches of architectures. Implementations:
//! * [`TableOracle`]: a recorded latency table (simulations, evaluations, `run`);
//! * [`TimerOracle`] (feature `onnx`): an exported ONNX model timed by a
//!   [`Timer`](crate::measure::Timer): tract on this machine, or an external runner command
//!   (a phone over adb, a board over ssh, a vendor SDK);
//! * [`ManualOracle`]: nobody can script the device: the flow stops and asks for the
//!   measurements ([`Error::MeasurementsNeeded`]), to be filled into the log and resumed;
//! * any user type, such as the Python binding's callable.
//!
//! [`Recorded`] wraps any oracle with a [`MeasurementLog`], the target's latency CSV: every
//! measurement is written as it arrives, and architectures already in the log are never
//! measured again, so an interrupted run resumes where it stopped, and a deterministic flow
//! asks for exactly the same architectures again.

use crate::error::{Error, Result};
use crate::space::{Arch, SpaceId};
use crate::table::LatencyTable;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Something that measures latencies of architectures on the target device.
pub trait TargetOracle {
    /// The target's name (a latency-CSV column).
    fn device(&self) -> &str;

    /// The architectures this oracle can measure, when it is limited to a set (a recorded
    /// table measured only some); `None` for a real device, which measures anything.
    fn domain(&self) -> Option<Vec<Arch>> {
        None
    }

    /// Latencies of `archs` in milliseconds per image, in order. `progress` is called after
    /// each architecture (for progress bars); it must not be relied on for the values.
    fn measure(&mut self, archs: &[Arch], progress: &mut dyn FnMut(&Arch, f64)) -> Result<Vec<f64>>;
}

impl<T: TargetOracle + ?Sized> TargetOracle for Box<T> {
    fn device(&self) -> &str {
        (**self).device()
    }

    fn domain(&self) -> Option<Vec<Arch>> {
        (**self).domain()
    }

    fn measure(&mut self, archs: &[Arch], progress: &mut dyn FnMut(&Arch, f64)) -> Result<Vec<f64>> {
        (**self).measure(archs, progress)
    }
}

/// A recorded table stands in for the device.
#[derive(Debug, Clone, Copy)]
pub struct TableOracle<'a> {
    table: &'a LatencyTable,
    column: usize,
}

impl<'a> TableOracle<'a> {
    /// The column of `device` in `table`.
    pub fn new(table: &'a LatencyTable, device: &str) -> Result<Self> {
        Ok(TableOracle { table, column: table.device_index(device)? })
    }
}

impl TargetOracle for TableOracle<'_> {
    fn device(&self) -> &str {
        &self.table.devices()[self.column].name
    }

    fn domain(&self) -> Option<Vec<Arch>> {
        Some(self.table.measured_rows(self.column).into_iter().map(|r| self.table.archs()[r].clone()).collect())
    }

    fn measure(&mut self, archs: &[Arch], progress: &mut dyn FnMut(&Arch, f64)) -> Result<Vec<f64>> {
        archs
            .iter()
            .map(|a| {
                let v = self.table.latency(a, self.column).ok_or_else(|| {
                    Error::TooFewSamples(format!(
                        "target '{}' has no measurement of {}",
                        self.device(),
                        self.table.space().space().format(a)
                    ))
                })?;
                progress(a, v);
                Ok(v)
            })
            .collect()
    }
}

/// A device nobody can script: every request stops the flow with
/// [`Error::MeasurementsNeeded`]; wrapped in [`Recorded`], the request is written to the log
/// as rows with empty values, for the user to fill in.
#[derive(Debug, Clone)]
pub struct ManualOracle {
    device: String,
    space: SpaceId,
    /// Where ONNX models of the requested architectures are written (feature `onnx`).
    export: Option<ExportModels>,
}

/// Export settings of [`ManualOracle`].
#[derive(Debug, Clone)]
pub struct ExportModels {
    /// Folder of the models (created if missing).
    pub dir: PathBuf,
    /// Batch size of the models' input.
    pub batch: usize,
    /// Seed of the models' random weights.
    pub seed: u64,
}

impl ManualOracle {
    /// A manual target; with `export`, the requested architectures are also written as ONNX
    /// models (with a `models.csv` mapping file names to architectures).
    pub fn new(device: &str, space: SpaceId, export: Option<ExportModels>) -> Self {
        ManualOracle { device: device.to_string(), space, export }
    }

    #[cfg(feature = "onnx")]
    fn export_models(&self, archs: &[Arch]) -> Result<Option<PathBuf>> {
        let Some(e) = &self.export else { return Ok(None) };
        std::fs::create_dir_all(&e.dir).map_err(|err| Error::io(&e.dir, err))?;
        let space = self.space.space();
        let mut rows = vec![["model".to_string(), "arch".to_string()]];
        for a in archs {
            let text = space.format(a);
            let name = format!("{}.onnx", &crate::manifest::sha256_hex(text.as_bytes())[..16]);
            crate::util::write_atomic(&e.dir.join(&name), &crate::onnx::export(self.space, a, e.batch, e.seed))?;
            rows.push([name, text]);
        }
        crate::util::write_atomic(&e.dir.join("models.csv"), csv_text(rows).as_bytes())?;
        Ok(Some(e.dir.clone()))
    }

    #[cfg(not(feature = "onnx"))]
    fn export_models(&self, _archs: &[Arch]) -> Result<Option<PathBuf>> {
        let _ = self.space; // used by the exporter of feature `onnx`
        match &self.export {
            None => Ok(None),
            Some(_) => Err(Error::InvalidParameter("exporting models needs the `onnx` feature".into())),
        }
    }
}

impl TargetOracle for ManualOracle {
    fn device(&self) -> &str {
        &self.device
    }

    fn measure(&mut self, archs: &[Arch], _progress: &mut dyn FnMut(&Arch, f64)) -> Result<Vec<f64>> {
        let models = self.export_models(archs)?;
        Err(Error::MeasurementsNeeded { device: self.device.clone(), count: archs.len(), log: None, models })
    }
}

/// A [`Timer`](crate::measure::Timer) (tract, an external runner) measuring exported models.
#[cfg(feature = "onnx")]
pub struct TimerOracle {
    device: String,
    space: SpaceId,
    timer: Box<dyn crate::measure::Timer>,
    params: crate::measure::MeasureParams,
    batch: usize,
    seed: u64,
    /// Every measurement's details (samples, spread, warnings), in order.
    pub details: Vec<(Arch, crate::measure::Measurement)>,
}

#[cfg(feature = "onnx")]
impl TimerOracle {
    /// Measure with `timer`; models have input batch `batch` and weights seeded by `seed`.
    pub fn new(
        device: &str,
        space: SpaceId,
        timer: Box<dyn crate::measure::Timer>,
        params: crate::measure::MeasureParams,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        params.check()?;
        if batch == 0 {
            return Err(Error::InvalidParameter("the batch size must be at least 1".into()));
        }
        Ok(TimerOracle { device: device.to_string(), space, timer, params, batch, seed, details: Vec::new() })
    }
}

#[cfg(feature = "onnx")]
impl TargetOracle for TimerOracle {
    fn device(&self) -> &str {
        &self.device
    }

    fn measure(&mut self, archs: &[Arch], progress: &mut dyn FnMut(&Arch, f64)) -> Result<Vec<f64>> {
        let space = self.space.space();
        archs
            .iter()
            .map(|a| {
                let bytes = crate::onnx::export(self.space, a, self.batch, self.seed);
                self.timer.label(&space.format(a));
                let m = self
                    .timer
                    .load(&bytes, crate::onnx::input_shape(self.space, a, self.batch))
                    .and_then(|()| crate::measure::measure(self.timer.as_mut(), &self.params))
                    .map_err(|e| Error::Engine(format!("measuring {} on '{}': {e}", space.format(a), self.device)))?;
                let v = m.summary.median_ms / self.batch as f64;
                progress(a, v);
                self.details.push((a.clone(), m));
                Ok(v)
            })
            .collect()
    }
}

/// The target's measurements as a latency CSV (`arch,<device>`), rewritten atomically after
/// every change. Rows with an empty value are requests not measured yet.
#[derive(Debug, Clone)]
pub struct MeasurementLog {
    path: Option<PathBuf>,
    device: String,
    space: SpaceId,
    rows: Vec<(Arch, Option<f64>)>,
    index: HashMap<Arch, usize>,
}

impl MeasurementLog {
    /// A log kept in memory only.
    pub fn in_memory(device: &str, space: SpaceId) -> Self {
        MeasurementLog { path: None, device: device.to_string(), space, rows: Vec::new(), index: HashMap::new() }
    }

    /// Open the log at `path`, reading it if it exists. An existing file must be a latency CSV
    /// with exactly the columns `arch,<device>` (a file with other columns is somebody else's
    /// and is refused, never rewritten).
    pub fn open(path: &Path, device: &str, space: SpaceId) -> Result<Self> {
        let mut log = MeasurementLog { path: Some(path.to_path_buf()), ..Self::in_memory(device, space) };
        if !path.exists() {
            return Ok(log);
        }
        let bundled = crate::bundled::bundle(space).ok().map(|b| b.archs.as_slice());
        let csv = crate::table::read_latency_csv(path, space.space(), bundled)?;
        if csv.devices != [device] {
            return Err(Error::BadHeader {
                path: path.to_path_buf(),
                reason: format!(
                    "a measurement log of '{device}' has the columns 'arch,{device}', this file has device columns '{}': choose another file",
                    csv.devices.join(",")
                ),
            });
        }
        for (arch, values) in csv.rows {
            let v = values[0];
            log.index.insert(arch.clone(), log.rows.len());
            log.rows.push((arch, (!v.is_nan()).then_some(v)));
        }
        Ok(log)
    }

    /// The file, if the log is kept on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The recorded latency of an architecture.
    pub fn get(&self, arch: &Arch) -> Option<f64> {
        self.index.get(arch).and_then(|&i| self.rows[i].1)
    }

    /// Number of measured architectures.
    pub fn measured(&self) -> usize {
        self.rows.iter().filter(|r| r.1.is_some()).count()
    }

    /// Every row (architecture, latency if measured), in file order.
    pub fn rows(&self) -> &[(Arch, Option<f64>)] {
        &self.rows
    }

    fn set(&mut self, arch: &Arch, value: Option<f64>) {
        match self.index.get(arch) {
            Some(&i) => {
                if value.is_some() {
                    self.rows[i].1 = value;
                }
            }
            None => {
                self.index.insert(arch.clone(), self.rows.len());
                self.rows.push((arch.clone(), value));
            }
        }
    }

    /// Record a measurement and write the log.
    pub fn record(&mut self, arch: &Arch, latency_ms: f64) -> Result<()> {
        self.set(arch, Some(latency_ms));
        self.save()
    }

    /// Add rows with empty values for architectures that still need a measurement.
    pub fn request(&mut self, archs: &[Arch]) -> Result<()> {
        for a in archs {
            self.set(a, None);
        }
        self.save()
    }

    /// The CSV text: values printed in Rust's shortest round-trip form, so that a resumed
    /// run reads back exactly the numbers a continuous run used.
    pub fn to_csv(&self) -> String {
        let space = self.space.space();
        let header = ["arch".to_string(), self.device.clone()];
        let rows = self.rows.iter().map(|(a, v)| [space.format(a), v.map_or(String::new(), |v| v.to_string())]);
        csv_text(std::iter::once(header).chain(rows))
    }

    fn save(&self) -> Result<()> {
        match &self.path {
            Some(p) => crate::util::write_atomic(p, self.to_csv().as_bytes()),
            None => Ok(()),
        }
    }
}

/// CSV text of two-column records, quoted by the csv crate where needed.
fn csv_text(records: impl IntoIterator<Item = [String; 2]>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in records {
        w.write_record(&r).expect("writing to memory cannot fail");
    }
    String::from_utf8(w.into_inner().expect("writing to memory cannot fail")).expect("the records are UTF-8")
}

/// An oracle whose measurements go through a [`MeasurementLog`]: logged architectures are
/// answered from the log, the others measured by `inner` and logged as they arrive.
pub struct Recorded<O> {
    inner: O,
    log: MeasurementLog,
}

impl<O: TargetOracle> Recorded<O> {
    /// Wrap `inner` with `log`.
    pub fn new(inner: O, log: MeasurementLog) -> Self {
        Recorded { inner, log }
    }

    /// The log.
    pub fn log(&self) -> &MeasurementLog {
        &self.log
    }

    /// The wrapped oracle.
    pub fn inner(&self) -> &O {
        &self.inner
    }
}

impl<O: TargetOracle> TargetOracle for Recorded<O> {
    fn device(&self) -> &str {
        self.inner.device()
    }

    fn domain(&self) -> Option<Vec<Arch>> {
        self.inner.domain()
    }

    fn measure(&mut self, archs: &[Arch], progress: &mut dyn FnMut(&Arch, f64)) -> Result<Vec<f64>> {
        let mut missing: Vec<Arch> = Vec::new();
        for a in archs {
            if self.log.get(a).is_none() && !missing.contains(a) {
                missing.push(a.clone());
            }
        }
        if !missing.is_empty() {
            let log = &mut self.log;
            let mut write_error = None;
            let result = self.inner.measure(&missing, &mut |a, v| {
                if write_error.is_none() {
                    if let Err(e) = log.record(a, v) {
                        write_error = Some(e);
                    }
                }
                progress(a, v);
            });
            if let Some(e) = write_error {
                return Err(e);
            }
            match result {
                Ok(values) => {
                    // Values the inner oracle returned without reporting them.
                    for (a, v) in missing.iter().zip(values) {
                        if self.log.get(a).is_none() {
                            self.log.record(a, v)?;
                        }
                    }
                }
                Err(Error::MeasurementsNeeded { device, count, models, .. }) => {
                    self.log.request(&missing)?;
                    return Err(Error::MeasurementsNeeded {
                        device,
                        count,
                        log: self.log.path().map(Path::to_path_buf),
                        models,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        archs
            .iter()
            .map(|a| {
                self.log.get(a).ok_or_else(|| {
                    Error::Engine(format!("no latency recorded for {}", self.log.space.space().format(a)))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundled::bundle;

    fn first_archs(n: usize) -> Vec<Arch> {
        bundle(SpaceId::Nb201).unwrap().archs[..n].to_vec()
    }

    #[test]
    fn table_oracle_reads_the_column() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let mut o = TableOracle::new(t, "pixel3").unwrap();
        let a = first_archs(3);
        let col = t.device_index("pixel3").unwrap();
        let mut seen = 0;
        let v = o.measure(&a, &mut |_, _| seen += 1).unwrap();
        assert_eq!(v, a.iter().map(|x| t.latency(x, col).unwrap()).collect::<Vec<_>>());
        assert_eq!(seen, 3);
        assert_eq!(o.domain().unwrap().len(), t.measured_count(col));
    }

    #[test]
    fn recorded_logs_resumes_and_measures_each_arch_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let a = first_archs(4);
        let log = MeasurementLog::open(&path, "pixel3", SpaceId::Nb201).unwrap();
        let mut rec = Recorded::new(TableOracle::new(t, "pixel3").unwrap(), log);
        let first = rec.measure(&a[..2], &mut |_, _| {}).unwrap();
        // Reopened from disk: the logged ones come back bit for bit, without the inner oracle.
        let log = MeasurementLog::open(&path, "pixel3", SpaceId::Nb201).unwrap();
        assert_eq!(log.measured(), 2);
        let mut manual = Recorded::new(ManualOracle::new("pixel3", SpaceId::Nb201, None), log);
        assert_eq!(manual.measure(&a[..2], &mut |_, _| {}).unwrap(), first);
        // New ones are requested: written as empty rows, with a distinct error.
        match manual.measure(&a, &mut |_, _| {}) {
            Err(Error::MeasurementsNeeded { count, log: Some(p), .. }) => {
                assert_eq!(count, 2);
                assert_eq!(p, path);
            }
            other => panic!("{other:?}"),
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.lines().last().unwrap().ends_with(','), "{text}");
    }

    #[test]
    fn a_foreign_csv_is_not_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.csv");
        std::fs::write(&path, "arch,a,b\n").unwrap();
        let err = MeasurementLog::open(&path, "a", SpaceId::Nb201).unwrap_err().to_string();
        assert!(err.contains("other.csv"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "arch,a,b\n", "untouched");
    }
}
