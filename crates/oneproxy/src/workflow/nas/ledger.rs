//! The measurements of one run: each architecture asked for once, every answer kept in order
//! and, when the oracle keeps a log, written to it by the flow as it arrives.

use super::{Failure, FlowEvent, Measured, Stage};
use crate::data::{Answer, MeasurementLog};
use crate::error::{Error, Result};
use crate::space::{Arch, SearchSpace};
use crate::workflow::oracle::{measure_logged, TargetOracle};
use std::collections::{HashMap, HashSet};

/// Measurements of one run: each architecture once, in order.
pub(super) struct Ledger<'o> {
    oracle: &'o mut dyn TargetOracle,
    /// Where answers are persisted (a [`Recorded`](crate::workflow::Recorded) oracle's log).
    log: Option<&'o mut MeasurementLog>,
    space: &'static dyn SearchSpace,
    pub values: HashMap<Arch, f64>,
    /// The architectures of `log`, in the same order.
    pub order: Vec<Arch>,
    pub measured: Vec<Measured>,
    /// What could not be measured, in order, and the same as a set.
    pub failed: Vec<Failure>,
    pub failed_set: HashSet<Arch>,
    max_failures: usize,
    pub warnings: Vec<String>,
    budget: Option<usize>,
}

impl<'o> Ledger<'o> {
    /// A ledger over `oracle`, persisting through its log when it keeps one.
    pub fn new(
        oracle: &'o mut dyn TargetOracle,
        space: &'static dyn SearchSpace,
        max_failures: usize,
        budget: Option<usize>,
    ) -> Self {
        // Taken apart once: the flow measures with the inner oracle and writes to the log itself.
        let (oracle, log) = if oracle.recorded().is_some() {
            let (inner, log) = oracle.recorded().expect("checked just above");
            (inner, Some(log))
        } else {
            (oracle, None)
        };
        Ledger {
            oracle,
            log,
            space,
            values: HashMap::new(),
            order: Vec::new(),
            measured: Vec::new(),
            failed: Vec::new(),
            failed_set: HashSet::new(),
            max_failures,
            warnings: Vec::new(),
            budget,
        }
    }

    /// Measurements made (failures do not count).
    pub fn count(&self) -> usize {
        self.measured.len()
    }

    /// Measurements the budget still allows.
    pub fn room(&self) -> usize {
        self.budget.map_or(usize::MAX, |b| b.saturating_sub(self.count()))
    }

    /// Whether an architecture was asked for already (measured or failed).
    pub fn tried(&self, a: &Arch) -> bool {
        self.values.contains_key(a) || self.failed_set.contains(a)
    }

    /// Measure what is new among `archs`; afterwards each is in `values` or in `failed`.
    /// Answers are taken in the order asked, whatever the order they arrive in.
    pub fn measure(&mut self, archs: &[Arch], stage: Stage, events: &mut dyn FnMut(FlowEvent)) -> Result<()> {
        self.measure_stages(&[(archs, stage)], events)
    }

    /// [`Ledger::measure`] for groups measured for different reasons, asked of the oracle in
    /// one request (a person gets one file to fill).
    pub fn measure_stages(&mut self, groups: &[(&[Arch], Stage)], events: &mut dyn FnMut(FlowEvent)) -> Result<()> {
        let mut fresh: Vec<Arch> = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for &(archs, stage) in groups {
            let before = fresh.len();
            for a in archs {
                if !self.tried(a) && !fresh.contains(a) {
                    fresh.push(a.clone());
                    stages.push(stage);
                }
            }
            if fresh.len() > before {
                events(FlowEvent::Measuring { stage, count: fresh.len() - before });
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let space = self.space;
        let mut answers: HashMap<Arch, Answer> = HashMap::new();
        // Persisted here, answer by answer, so that an interrupted run keeps all it was told.
        measure_logged(&mut *self.oracle, self.log.as_deref_mut(), &fresh, &mut |a, ans| {
            events(match &ans {
                Answer::Measured { latency_ms, warnings, .. } => {
                    FlowEvent::Measured { arch: space.format(a), latency_ms: *latency_ms, warnings: warnings.clone() }
                }
                Answer::Failed(reason) => FlowEvent::Failed { arch: space.format(a), reason: reason.clone() },
            });
            answers.entry(a.clone()).or_insert(ans);
        })?;
        for (a, stage) in fresh.into_iter().zip(stages) {
            let text = space.format(&a);
            match answers.remove(&a) {
                Some(Answer::Measured { latency_ms, warnings, .. }) => {
                    let v = crate::data::check_latency(latency_ms)
                        .map_err(|why| Error::Engine(format!("the target oracle measured {text}: {why}")))?;
                    self.warnings.extend(warnings.into_iter().map(|w| format!("{text}: {w}")));
                    self.values.insert(a.clone(), v);
                    self.order.push(a);
                    self.measured.push(Measured { arch: text, latency_ms: v, stage });
                }
                Some(Answer::Failed(reason)) => {
                    self.failed_set.insert(a);
                    self.failed.push(Failure { arch: text, reason });
                    if self.failed.len() > self.max_failures {
                        let last = self.failed.last().expect("just pushed");
                        return Err(Error::TooManyFailures {
                            device: self.oracle.device().to_string(),
                            count: self.failed.len(),
                            limit: self.max_failures,
                            last: format!("{}: {}", last.arch, last.reason),
                        });
                    }
                }
                None => {
                    return Err(Error::Engine(format!(
                        "the target oracle of '{}' gave no answer for {text}",
                        self.oracle.device()
                    )))
                }
            }
        }
        Ok(())
    }

    /// The latencies of `archs`, all measured.
    pub fn values_of(&self, archs: &[Arch]) -> Vec<f64> {
        archs.iter().map(|a| self.values[a]).collect()
    }
}
