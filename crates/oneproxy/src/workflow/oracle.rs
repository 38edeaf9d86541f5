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
//! [`Recorded`] pairs any oracle with a [`MeasurementLog`], the target's latency CSV. The flow
//! persists its own measurements: it takes the pair apart ([`TargetOracle::recorded`]) and
//! measures through [`measure_logged`], which writes every answer as it arrives and never asks
//! again for architectures already in the log (measured, or marked as failed), so an
//! interrupted run resumes where it stopped, and a deterministic flow asks for exactly the same
//! architectures again.

use crate::data::LatencyTable;
pub use crate::data::{Answer, MeasurementLog, Settings};
use crate::error::{Error, Result};
use crate::space::{Arch, SpaceId};
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

    /// What changes the numbers this oracle gives (engine, batch, ...), recorded with its
    /// measurement log; empty by default (a person, a callable).
    fn settings(&self) -> Settings {
        Settings::new()
    }

    /// Whether asking again gives the same answer: a recorded table does, a device timed under
    /// load does not. The flow re-measures the final front of an inexact oracle before it
    /// reports it ([`Remeasure::Auto`](super::Remeasure::Auto)); `false` by default.
    fn exact(&self) -> bool {
        false
    }

    /// Measure `archs`. The contract: `answer` is called exactly once per architecture, as soon
    /// as its answer is known (a latency in ms per image, or why it could not be measured):
    /// that call is what the caller keeps and what a [`Recorded`] oracle writes to its log. An
    /// `Err` stops the flow (the engine is gone, a person must measure, the user interrupted);
    /// an architecture the device cannot run is an [`Answer::Failed`] instead.
    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> Result<()>;

    /// The oracle that measures and the log its answers are kept in, for an oracle that keeps
    /// one ([`Recorded`]); `None` by default. The flow persists through the log itself
    /// ([`measure_logged`]) rather than relying on a wrapper to intercept its answers.
    fn recorded(&mut self) -> Option<(&mut dyn TargetOracle, &mut MeasurementLog)> {
        None
    }
}

impl<T: TargetOracle + ?Sized> TargetOracle for Box<T> {
    fn device(&self) -> &str {
        (**self).device()
    }

    fn domain(&self) -> Option<Vec<Arch>> {
        (**self).domain()
    }

    fn settings(&self) -> Settings {
        (**self).settings()
    }

    fn exact(&self) -> bool {
        (**self).exact()
    }

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
        (**self).measure(archs, answer)
    }

    fn recorded(&mut self) -> Option<(&mut dyn TargetOracle, &mut MeasurementLog)> {
        (**self).recorded()
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

    fn settings(&self) -> Settings {
        Settings::from([(
            "engine".to_string(),
            format!("recorded table: {}", self.table.devices()[self.column].source),
        )])
    }

    fn exact(&self) -> bool {
        true
    }

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
        for a in archs {
            let v = self.table.latency(a, self.column).ok_or_else(|| {
                Error::TooFewSamples(format!(
                    "target '{}' has no measurement of {}",
                    self.device(),
                    self.table.space().space().format(a)
                ))
            })?;
            answer(a, Answer::latency(v));
        }
        Ok(())
    }
}

/// A device nobody can script: every request stops the flow with
/// [`Error::MeasurementsNeeded`]; wrapped in [`Recorded`], the request is written to the log
/// as rows with empty values, for the user to fill in (or to mark `failed`).
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
    /// Whether models replace files of the same names that oneproxy did not write.
    pub force: bool,
    /// The user's command that builds the models ([`CommandBuilder`](crate::measure::builder::CommandBuilder));
    /// `None`: oneproxy's export of the space's network.
    pub builder_cmd: Option<String>,
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
        let out = crate::output::Outputs::new(e.force);
        let command = e.builder_cmd.as_deref().map(|c| crate::measure::builder::CommandBuilder::new(c, self.space));
        let command = command.transpose()?.map(|c| c.in_dir(&e.dir));
        let mut builder =
            crate::measure::builder::model_builder(self.space, command, e.seed, crate::network::Execution::AsWritten)?;
        let mut rows = vec![["model".to_string(), "arch".to_string()]];
        for a in archs {
            let text = space.format(a);
            let name = format!("{}.onnx", &crate::data::manifest::sha256_hex(text.as_bytes())[..16]);
            out.write(&e.dir.join(&name), &builder.build(a, e.batch)?.bytes)?;
            rows.push([name, text]);
        }
        out.write(&e.dir.join("models.csv"), crate::data::csv_text(rows).as_bytes())?;
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

    fn measure(&mut self, archs: &[Arch], _answer: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
        let models = self.export_models(archs)?;
        Err(Error::MeasurementsNeeded { device: self.device.clone(), count: archs.len(), log: None, models })
    }
}

/// Exported models timed by a [`Timer`](crate::measure::Timer) (tract, an external runner),
/// through a measuring [`Session`](crate::measure::session::Session) (feature `onnx`). An
/// architecture the engine fails on is answered [`Answer::Failed`] with the engine's error; an
/// engine that is lost ([`Error::EngineLost`]: a persistent runner that keeps crashing) stops
/// the measuring with that error.
#[cfg(feature = "onnx")]
pub struct TimerOracle {
    device: String,
    session: crate::measure::session::Session,
}

#[cfg(feature = "onnx")]
impl TimerOracle {
    /// Measure `device` through `session`.
    pub fn new(device: &str, session: crate::measure::session::Session) -> Self {
        TimerOracle { device: device.to_string(), session }
    }
}

#[cfg(feature = "onnx")]
impl TargetOracle for TimerOracle {
    fn device(&self) -> &str {
        &self.device
    }

    fn settings(&self) -> Settings {
        self.session.settings()
    }

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
        for a in archs {
            let ans = match self.session.measure(a) {
                Ok(m) => self.session.answer(&m),
                // The engine is gone, not this architecture: stop (a resume measures it).
                Err(e @ Error::EngineLost(_)) => return Err(e),
                Err(e) => Answer::Failed(e.to_string()),
            };
            answer(a, ans);
        }
        Ok(())
    }
}

/// An oracle whose answers go through a [`MeasurementLog`]: logged architectures are answered
/// from the log, the others asked of `inner` and logged as their answers arrive, with the
/// log's plausibility warnings added to them.
pub struct Recorded<O> {
    inner: O,
    log: MeasurementLog,
}

impl<O: TargetOracle> Recorded<O> {
    /// Wrap `inner` with `log`: refused when the log holds measurements made with other
    /// settings than `inner`'s ([`MeasurementLog::use_settings`]).
    pub fn new(inner: O, mut log: MeasurementLog) -> Result<Self> {
        log.use_settings(&inner.settings())?;
        Ok(Recorded { inner, log })
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

    fn settings(&self) -> Settings {
        self.inner.settings()
    }

    fn exact(&self) -> bool {
        self.inner.exact()
    }

    fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
        measure_logged(&mut self.inner, Some(&mut self.log), archs, answer)
    }

    fn recorded(&mut self) -> Option<(&mut dyn TargetOracle, &mut MeasurementLog)> {
        Some((&mut self.inner, &mut self.log))
    }
}

/// Measure `archs` with `oracle`, kept in `log` when there is one: what the log holds is
/// answered from it, the rest is asked of `oracle` and each answer written to the log as it
/// arrives (with the log's plausibility warnings added to it), before `answer` sees it; a
/// request only a person can answer is written to the log as empty rows. Without a log, the
/// oracle is asked for everything.
pub fn measure_logged(
    oracle: &mut dyn TargetOracle,
    log: Option<&mut MeasurementLog>,
    archs: &[Arch],
    answer: &mut dyn FnMut(&Arch, Answer),
) -> Result<()> {
    let Some(log) = log else { return oracle.measure(archs, answer) };
    let mut missing: Vec<Arch> = Vec::new();
    for a in archs {
        match log.answer(a) {
            Some(known) => answer(a, known),
            None if !missing.contains(a) => missing.push(a.clone()),
            None => {}
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut write_error = None;
    let result = oracle.measure(&missing, &mut |a, mut ans| {
        if write_error.is_some() {
            return;
        }
        match log.record(a, &ans) {
            Ok(warnings) => {
                if let Answer::Measured { warnings: w, .. } = &mut ans {
                    w.extend(warnings.iter().map(ToString::to_string));
                }
                answer(a, ans);
            }
            Err(e) => write_error = Some(e),
        }
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    match result {
        Err(Error::MeasurementsNeeded { device, count, models, .. }) => {
            log.request(&missing)?;
            Err(Error::MeasurementsNeeded { device, count, log: log.path().map(Path::to_path_buf), models })
        }
        other => other,
    }
}

/// Measure `arch` once more, its `k`-th re-measurement (0: the first after its measurement),
/// kept in `log` when there is one: a repeat the log holds is answered from it, so a resumed flow
/// asks the device for nothing it was told before; a new one is asked of `oracle` and recorded
/// as a repeat (the log's CSV keeps the first value). `None`: the oracle gave no answer.
pub fn measure_again(
    oracle: &mut dyn TargetOracle,
    log: Option<&mut MeasurementLog>,
    arch: &Arch,
    k: usize,
) -> Result<Option<Answer>> {
    if let Some(known) = log.as_deref().and_then(|l| l.repeat(arch, k)) {
        return Ok(Some(known));
    }
    let mut got = None;
    oracle.measure(std::slice::from_ref(arch), &mut |_, ans| {
        got.get_or_insert(ans);
    })?;
    let Some(ans) = got else { return Ok(None) };
    if let Some(log) = log {
        log.record_repeat(arch, &ans)?;
    }
    Ok(Some(ans))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;

    fn first_archs(n: usize) -> Vec<Arch> {
        bundle(SpaceId::Nb201).unwrap().archs[..n].to_vec()
    }

    /// Every answer of `oracle` for `archs`, in the order given.
    fn collect(oracle: &mut dyn TargetOracle, archs: &[Arch]) -> Result<Vec<(Arch, Answer)>> {
        let mut out = Vec::new();
        oracle.measure(archs, &mut |a, ans| out.push((a.clone(), ans)))?;
        Ok(out)
    }

    #[test]
    fn table_oracle_reads_the_column() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let mut o = TableOracle::new(t, "pixel3").unwrap();
        let a = first_archs(3);
        let col = t.device_index("pixel3").unwrap();
        let got = collect(&mut o, &a).unwrap();
        let want: Vec<(Arch, Answer)> =
            a.iter().map(|x| (x.clone(), Answer::latency(t.latency(x, col).unwrap()))).collect();
        assert_eq!(got, want);
        assert_eq!(o.domain().unwrap().len(), t.measured_count(col));
    }

    #[test]
    fn recorded_logs_resumes_and_measures_each_arch_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let a = first_archs(4);
        let first = {
            let log = MeasurementLog::open(&path, "pixel3", SpaceId::Nb201, "test").unwrap();
            let mut rec = Recorded::new(TableOracle::new(t, "pixel3").unwrap(), log).unwrap();
            collect(&mut rec, &a[..2]).unwrap()
        };
        // Reopened from disk: the logged ones come back bit for bit, without the inner oracle.
        let log = MeasurementLog::open(&path, "pixel3", SpaceId::Nb201, "test").unwrap();
        assert_eq!(log.measured(), 2);
        let mut manual = Recorded::new(ManualOracle::new("pixel3", SpaceId::Nb201, None), log).unwrap();
        assert_eq!(collect(&mut manual, &a[..2]).unwrap(), first);
        // New ones are requested: written as empty rows, with a distinct error.
        match collect(&mut manual, &a) {
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
    fn a_table_log_is_not_resumed_by_another_engine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pixel3.csv");
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        {
            let log = MeasurementLog::open(&path, "pixel3", SpaceId::Nb201, "test").unwrap();
            let mut rec = Recorded::new(TableOracle::new(t, "pixel3").unwrap(), log).unwrap();
            collect(&mut rec, &first_archs(3)).unwrap();
        }
        /// An engine of its own.
        struct Other;
        impl TargetOracle for Other {
            fn device(&self) -> &str {
                "pixel3"
            }
            fn settings(&self) -> Settings {
                Settings::from([("engine".to_string(), "other".to_string())])
            }
            fn measure(&mut self, _: &[Arch], _: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
                unreachable!("refused before measuring")
            }
        }
        let log = MeasurementLog::open(&path, "pixel3", SpaceId::Nb201, "test").unwrap();
        let e = Recorded::new(Other, log).err().unwrap().to_string();
        assert!(e.contains("engine = recorded table") && e.contains("(now other)"), "{e}");
    }
}
