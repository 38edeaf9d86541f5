//! Measurement with tract (feature `tract`): load the ONNX model, optimise it once, keep one
//! state and time only its `run`.
//!
//! Threads: tract runs single-threaded by default; with `threads > 1` its matrix products use a
//! private pool of that many threads (tract-linalg's `multithread-mm`), other operators stay on
//! the calling thread.

use super::Timer;
use crate::error::{Error, Result};
use std::sync::Arc;
use std::time::Instant;
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;

/// The tract-onnx version requirement this library is built against (Cargo.lock pins the exact
/// release).
pub const TRACT_VERSION: &str = "0.23";

fn engine_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Engine(format!("tract: {what}: {e:#}"))
}

/// A model loaded and optimised by tract, with its input.
pub struct TractModel {
    state: TypedSimpleState,
    input: TValue,
    executor: Executor,
}

impl std::fmt::Debug for TractModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractModel").field("input", &self.input.shape()).finish_non_exhaustive()
    }
}

impl TractModel {
    /// Load, type, declutter and optimise an ONNX model; `input` (NCHW, row-major) is what every
    /// run will use. `threads` as in the module documentation.
    pub fn load(model: &[u8], input_shape: [usize; 4], input: &[f32], threads: usize) -> Result<Self> {
        let plan: Arc<TypedRunnableModel> = tract_onnx::onnx()
            .model_for_read(&mut &model[..])
            .map_err(|e| engine_err("loading the ONNX model", e))?
            .into_optimized()
            .map_err(|e| engine_err("optimising the model", e))?
            .into_runnable()
            .map_err(|e| engine_err("planning the model", e))?;
        let state = plan.spawn().map_err(|e| engine_err("making a state", e))?;
        let tensor = tract_ndarray::ArrayD::from_shape_vec(input_shape.to_vec(), input.to_vec())
            .map_err(|e| Error::InvalidParameter(format!("input of shape {input_shape:?}: {e}")))?;
        let executor = if threads > 1 { Executor::multithread(threads) } else { Executor::SingleThread };
        Ok(TractModel { state, input: Tensor::from(tensor).into_tvalue(), executor })
    }

    /// Run once; the output's shape and values.
    pub fn run(&mut self) -> Result<(Vec<usize>, Vec<f32>)> {
        let input = self.input.clone();
        let state = &mut self.state;
        let out = multithread_tract_scope(self.executor.clone(), || state.run(tvec!(input)))
            .map_err(|e| engine_err("running the model", e))?;
        let t = out[0].to_plain_array_view::<f32>().map_err(|e| engine_err("reading the output", e))?;
        Ok((t.shape().to_vec(), t.iter().copied().collect()))
    }

    /// Run once and return the elapsed time in ms (only the run is timed).
    pub fn time(&mut self) -> Result<f64> {
        let input = self.input.clone();
        let state = &mut self.state;
        let start = Instant::now();
        let out = multithread_tract_scope(self.executor.clone(), || state.run(tvec!(input)));
        let ms = start.elapsed().as_secs_f64() * 1e3;
        out.map_err(|e| engine_err("running the model", e))?;
        Ok(ms)
    }
}

/// The tract [`Timer`]: each model gets the seeded input of [`crate::onnx::seeded_input`].
#[derive(Debug)]
pub struct TractTimer {
    threads: usize,
    seed: u64,
    model: Option<TractModel>,
}

impl TractTimer {
    /// A timer running tract with `threads` threads (1 = single-threaded).
    pub fn new(threads: usize) -> Self {
        TractTimer { threads: threads.max(1), seed: 0, model: None }
    }
}

impl Timer for TractTimer {
    fn load(&mut self, model: &[u8], input_shape: [usize; 4]) -> Result<()> {
        self.model = None;
        let input = crate::onnx::seeded_input(input_shape, self.seed);
        self.model = Some(TractModel::load(model, input_shape, &input, self.threads)?);
        Ok(())
    }

    fn run(&mut self) -> Result<f64> {
        self.model.as_mut().ok_or_else(|| Error::Engine("tract: no model loaded".into()))?.time()
    }

    fn engine(&self) -> String {
        format!("tract-onnx {TRACT_VERSION}")
    }

    fn settings(&self) -> crate::data::Settings {
        let mut s = crate::data::Settings::from([("engine".to_string(), self.engine())]);
        s.insert("threads".into(), self.threads.to_string());
        s
    }
}
