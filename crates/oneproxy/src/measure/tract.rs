//! Measurement with tract (feature `tract`): load the ONNX model, optimise it once, keep one
//! state and time only its `run`.
//!
//! Threads: tract runs single-threaded by default; with `threads > 1` its matrix products use a
//! private pool of that many threads (tract-linalg's `multithread-mm`), other operators stay on
//! the calling thread.
//!
//! Clock: single-threaded, a run is timed by the CPU time of the calling thread by default
//! ([`Clock`]), so that other programs competing for the cores do not inflate it; with a thread
//! pool the work is spread over threads, and only the wall clock measures it.

use super::{Clock, Timer};
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

    /// Run once and return the elapsed time in ms on `clock` (only the run is timed; `Auto`
    /// reads as `Wall` here: [`TractTimer`] resolves it).
    pub fn time(&mut self, clock: Clock) -> Result<f64> {
        let input = self.input.clone();
        let state = &mut self.state;
        let cpu_error = |e: std::io::Error| Error::Engine(format!("reading this thread's CPU clock: {e}"));
        let (out, elapsed) = if clock == Clock::Cpu {
            let start = cpu_time::ThreadTime::try_now().map_err(cpu_error)?;
            let out = multithread_tract_scope(self.executor.clone(), || state.run(tvec!(input)));
            (out, start.try_elapsed().map_err(cpu_error)?)
        } else {
            let start = Instant::now();
            let out = multithread_tract_scope(self.executor.clone(), || state.run(tvec!(input)));
            (out, start.elapsed())
        };
        out.map_err(|e| engine_err("running the model", e))?;
        Ok(elapsed.as_secs_f64() * 1e3)
    }
}

/// The tract [`Timer`]: each model gets the seeded input of [`crate::onnx::seeded_input`].
#[derive(Debug)]
pub struct TractTimer {
    threads: usize,
    clock: Clock,
    seed: u64,
    model: Option<TractModel>,
}

impl TractTimer {
    /// A timer running tract with `threads` threads (1 = single-threaded), on the default
    /// clock (the CPU clock single-threaded, else the wall clock).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        TractTimer { threads, clock: Self::resolve(threads, Clock::Auto), seed: 0, model: None }
    }

    /// The same timer on `clock`; an error for the CPU clock with more than one thread, whose
    /// work the calling thread's clock does not see.
    pub fn with_clock(mut self, clock: Clock) -> Result<Self> {
        if clock == Clock::Cpu && self.threads > 1 {
            return Err(Error::InvalidParameter(format!(
                "the CPU clock times the thread that runs the model, but tract spreads its work over {} threads: \
                 use one thread or the wall clock",
                self.threads
            )));
        }
        self.clock = Self::resolve(self.threads, clock);
        Ok(self)
    }

    /// The clock runs are timed with (never `Auto`).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    fn resolve(threads: usize, clock: Clock) -> Clock {
        match clock {
            Clock::Auto if threads == 1 => Clock::Cpu,
            Clock::Auto => Clock::Wall,
            given => given,
        }
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
        let clock = self.clock;
        self.model.as_mut().ok_or_else(|| Error::Engine("tract: no model loaded".into()))?.time(clock)
    }

    fn engine(&self) -> String {
        format!("tract-onnx {TRACT_VERSION}")
    }

    fn settings(&self) -> crate::data::Settings {
        let mut s = crate::data::Settings::from([("engine".to_string(), self.engine())]);
        s.insert("threads".into(), self.threads.to_string());
        s.insert("clock".into(), self.clock.name().to_string());
        s
    }
}
