//! How a target is measured, as `nas` flags or a fleet file's device entry say: one choice
//! type and one builder, so that both front ends reach the same oracles by the same code.

use crate::args::{BuilderArgs, RunnerArgs, TimingArgs};
use oneproxy::workflow::{ExportModels, ManualOracle, TableOracle, TargetOracle};
use oneproxy::SpaceId;
use std::path::PathBuf;

/// Where a target's latencies come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Its column of the loaded latency data (a simulation).
    Table,
    /// Exported models timed by tract, or by the runner of [`OracleChoice::runner`].
    Timed,
    /// A person fills the measurements log; optionally with the models exported into `dir`.
    Manual {
        /// Where the requested models are written.
        export_dir: Option<PathBuf>,
        /// Whether models replace files there that oneproxy did not write.
        force: bool,
    },
}

/// Everything that decides how a target is measured.
#[derive(Debug, Clone)]
pub struct OracleChoice {
    /// Where the latencies come from.
    pub source: Source,
    /// The external runner of a timed target (none: tract).
    pub runner: RunnerArgs,
    /// How one architecture is timed.
    pub timing: TimingArgs,
    /// Whether models are timed without their dead operations.
    pub prune_dead: bool,
    /// The user's program that builds the models (none: oneproxy's export).
    pub builder: BuilderArgs,
}

/// A built oracle and the word the report names it by (`table`, `tract`, `runner`, `manual`).
pub type Built<'t> = (Box<dyn TargetOracle + Send + 't>, &'static str);

impl OracleChoice {
    /// The oracle of `target`; `seed` seeds the exported models' weights. An oracle that cannot
    /// move to another thread (a timer) runs on one of its own, so that every oracle can serve
    /// in a fleet whose devices measure side by side.
    pub fn build<'t>(
        &self,
        target: &str,
        space: SpaceId,
        seed: u64,
        table: &'t oneproxy::LatencyTable,
    ) -> anyhow::Result<Built<'t>> {
        match &self.source {
            Source::Manual { export_dir, force } => {
                let export = export_dir.as_ref().map(|dir| ExportModels {
                    dir: dir.clone(),
                    batch: self.timing.batch,
                    seed,
                    force: *force,
                    builder_cmd: self.builder.builder_cmd.clone(),
                });
                Ok((Box::new(ManualOracle::new(target, space, export)), "manual"))
            }
            Source::Table if self.prune_dead => {
                anyhow::bail!("--prune-dead changes how models are built and timed; --oracle table times nothing")
            }
            Source::Table => Ok((Box::new(TableOracle::new(table, target)?), "table")),
            Source::Timed => timed(self.clone(), target, space, seed),
        }
    }
}

/// A timed oracle on a thread of its own (the timer need not be `Send`).
#[cfg(feature = "onnx")]
fn timed(choice: OracleChoice, target: &str, space: SpaceId, seed: u64) -> anyhow::Result<Built<'static>> {
    let device = target.to_string();
    let (oracle, kind) = on_thread::OnThread::start(target, move || {
        let params = super::measure::measure_params(&choice.timing)?;
        let (timer, kind) = super::measure::timer(&choice.runner, &choice.timing)?;
        let exec = super::execution(choice.prune_dead, space)?;
        let builder = super::model_builder(&choice.builder, space, seed, exec, None)?;
        let session =
            oneproxy::measure::Session::with_builder(space, builder, timer, params, choice.timing.batch, exec)?;
        Ok((oneproxy::workflow::TimerOracle::new(&device, session), kind))
    })?;
    Ok((Box::new(oracle), kind))
}

#[cfg(not(feature = "onnx"))]
fn timed(_: OracleChoice, _: &str, _: SpaceId, _: u64) -> anyhow::Result<Built<'static>> {
    anyhow::bail!("measuring needs the ONNX export: rebuild oneproxy with `--features onnx` (or `tract`)")
}

#[cfg(feature = "onnx")]
mod on_thread {
    //! An oracle kept on a thread of its own, served over channels.

    use oneproxy::data::Settings;
    use oneproxy::workflow::{Answer, TargetOracle};
    use oneproxy::Arch;
    use std::sync::mpsc::{channel, Receiver, Sender};

    /// What the thread sends back while measuring: each answer as it comes, then the end.
    enum Reply {
        Answer(Arch, Answer),
        Done(oneproxy::error::Result<()>),
    }

    /// A `Send` handle on an oracle that lives on its own thread. Its settings, domain and
    /// exactness are read once at the start (they do not change while it measures).
    pub struct OnThread {
        device: String,
        settings: Settings,
        domain: Option<Vec<Arch>>,
        exact: bool,
        /// `None` once dropped: the thread's loop then ends.
        requests: Option<Sender<Vec<Arch>>>,
        replies: Receiver<Reply>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Drop for OnThread {
        /// Ends the thread and waits for it, so that the oracle is dropped (a runner stopped,
        /// its temporary models removed) before the program goes on, or exits.
        fn drop(&mut self) {
            self.requests.take();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    impl OnThread {
        /// Build an oracle with `make` on a new thread; `make`'s error is returned here.
        pub fn start<O, K>(
            device: &str,
            make: impl FnOnce() -> anyhow::Result<(O, K)> + Send + 'static,
        ) -> anyhow::Result<(Self, K)>
        where
            O: TargetOracle + 'static,
            K: Send + 'static,
        {
            let (req_tx, req_rx) = channel::<Vec<Arch>>();
            let (rep_tx, rep_rx) = channel::<Reply>();
            let (ready_tx, ready_rx) = channel();
            let thread = std::thread::spawn(move || {
                let mut oracle = match make() {
                    Ok((o, kind)) => {
                        let _ = ready_tx.send(Ok((o.settings(), o.domain(), o.exact(), kind)));
                        o
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Ends when the handle is dropped.
                while let Ok(archs) = req_rx.recv() {
                    let result = oracle.measure(&archs, &mut |a, ans| {
                        let _ = rep_tx.send(Reply::Answer(a.clone(), ans));
                    });
                    let _ = rep_tx.send(Reply::Done(result));
                }
            });
            let (settings, domain, exact, kind) = ready_rx
                .recv()
                .map_err(|_| anyhow::anyhow!("the measuring thread of '{device}' ended at its start"))??;
            let handle = OnThread {
                device: device.to_string(),
                settings,
                domain,
                exact,
                requests: Some(req_tx),
                replies: rep_rx,
                thread: Some(thread),
            };
            Ok((handle, kind))
        }
    }

    impl TargetOracle for OnThread {
        fn device(&self) -> &str {
            &self.device
        }

        fn domain(&self) -> Option<Vec<Arch>> {
            self.domain.clone()
        }

        fn settings(&self) -> Settings {
            self.settings.clone()
        }

        fn exact(&self) -> bool {
            self.exact
        }

        fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> oneproxy::error::Result<()> {
            let lost = || oneproxy::Error::EngineLost(format!("the measuring thread of '{}' ended", self.device));
            self.requests.as_ref().ok_or_else(lost)?.send(archs.to_vec()).map_err(|_| lost())?;
            loop {
                match self.replies.recv().map_err(|_| lost())? {
                    Reply::Answer(a, ans) => answer(&a, ans),
                    Reply::Done(result) => return result,
                }
            }
        }
    }
}
