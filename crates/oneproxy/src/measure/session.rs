//! One way of measuring architectures, from the architecture to its [`Measurement`]: build the
//! model ([`ModelBuilder`]: oneproxy's export with its batch, weights seed and pruning, or the
//! user's builder command), load it into a [`Timer`], time it. `measure` and the
//! `nas` flow's timer oracle both measure through a [`Session`], so they export, time, warn and
//! record their settings the same way.

use super::{measure, MeasureParams, Measurement, Timer};
use crate::data::{Answer, Settings};
use crate::error::{Error, Result};
use crate::measure::builder::{model_builder, ModelBuilder};
use crate::network::Execution;
use crate::space::{Arch, SpaceId};

/// A model builder and an engine: see the module documentation.
pub struct Session {
    space: SpaceId,
    timer: Box<dyn Timer>,
    params: MeasureParams,
    batch: usize,
    exec: Execution,
    builder: Box<dyn ModelBuilder>,
}

impl Session {
    /// Measure `space`'s architectures with `timer` within `params`; models take `batch` images,
    /// their weights are seeded by `seed`, and `exec` says whether dead operations are pruned.
    pub fn new(
        space: SpaceId,
        timer: Box<dyn Timer>,
        params: MeasureParams,
        batch: usize,
        seed: u64,
        exec: Execution,
    ) -> Result<Self> {
        let builder = model_builder(space, None, seed, exec)?;
        Self::with_builder(space, builder, timer, params, batch, exec)
    }

    /// Measure `space`'s architectures built by `builder` (see [`model_builder`]) with `timer`
    /// within `params`, `batch` images per inference; `exec` is what `builder` computes.
    pub fn with_builder(
        space: SpaceId,
        builder: Box<dyn ModelBuilder>,
        timer: Box<dyn Timer>,
        params: MeasureParams,
        batch: usize,
        exec: Execution,
    ) -> Result<Self> {
        params.check()?;
        if batch == 0 {
            return Err(Error::InvalidParameter("the batch size must be at least 1".into()));
        }
        Ok(Session { space, timer, params, batch, exec, builder })
    }

    /// What changes the numbers this session measures: the engine (and its own settings), the
    /// model builder, the batch and the pruning. A measurement log refuses to mix sessions that
    /// differ in these.
    pub fn settings(&self) -> Settings {
        let mut s = self.timer.settings();
        s.extend(self.builder.settings());
        s.insert("batch".into(), self.batch.to_string());
        s.insert("prune_dead".into(), (self.exec == Execution::PruneDead).to_string());
        s
    }

    /// The engine's name and version.
    pub fn engine(&self) -> String {
        self.timer.engine()
    }

    /// Images per inference.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The space measured.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// Whether dead operations are pruned from the models.
    pub fn execution(&self) -> Execution {
        self.exec
    }

    /// Whether the models are the space's own networks (their FLOPs and parameters are known).
    pub fn builds_networks(&self) -> bool {
        self.builder.is_network()
    }

    /// Build, load and time one architecture.
    pub fn measure(&mut self, arch: &Arch) -> Result<Measurement> {
        let model = self.builder.build(arch, self.batch)?;
        self.timer.label(&self.space.space().format(arch));
        self.timer.load(&model.bytes, model.input_shape)?;
        measure(self.timer.as_mut(), &self.params)
    }

    /// A measurement as a log answer: the median per image, every run per image, its warnings.
    pub fn answer(&self, m: &Measurement) -> Answer {
        let per_image = |v: f64| v / self.batch as f64;
        Answer::Measured {
            latency_ms: per_image(m.summary.median_ms),
            runs_ms: m.samples_ms.iter().map(|&v| per_image(v)).collect(),
            warnings: m.warnings.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timer whose runs take `ms` each, failing on architectures whose label contains `bad`.
    struct Fixed {
        ms: f64,
        bad: &'static str,
        loaded: bool,
        label: String,
    }

    impl Timer for Fixed {
        fn load(&mut self, _: &[u8], _: [usize; 4]) -> Result<()> {
            if self.label.contains(self.bad) {
                return Err(Error::Engine(format!("cannot run {}", self.label)));
            }
            self.loaded = true;
            Ok(())
        }
        fn run(&mut self) -> Result<f64> {
            Ok(self.ms)
        }
        fn engine(&self) -> String {
            "fixed".into()
        }
        fn label(&mut self, arch: &str) {
            self.label = arch.to_string();
        }
    }

    #[test]
    fn answers_are_per_image_and_settings_name_what_changes_the_numbers() {
        let timer = Fixed { ms: 8.0, bad: "avg_pool", loaded: false, label: String::new() };
        let params = MeasureParams { warmup: 0, max_runs: 5, min_runs: 5, ..MeasureParams::default() };
        let mut s = Session::new(SpaceId::Nb201, Box::new(timer), params, 4, 0, Execution::PruneDead).unwrap();
        let space = SpaceId::Nb201.space();
        let good = space
            .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
            .unwrap();
        let m = s.measure(&good).unwrap();
        assert_eq!(s.answer(&m), Answer::Measured { latency_ms: 2.0, runs_ms: vec![2.0; 5], warnings: vec![] });
        let bad = space
            .parse("|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
            .unwrap();
        assert!(s.measure(&bad).unwrap_err().to_string().contains("cannot run"));
        let settings = s.settings();
        assert_eq!(settings["engine"], "fixed");
        assert_eq!(settings["batch"], "4");
        assert_eq!(settings["prune_dead"], "true");
        let timer = Fixed { ms: 1.0, bad: "", loaded: false, label: String::new() };
        assert!(Session::new(SpaceId::Fbnet, Box::new(timer), MeasureParams::default(), 1, 0, Execution::PruneDead)
            .is_err());
    }
}
