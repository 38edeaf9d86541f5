//! The measurements of one run: each architecture asked for once, every answer kept in order
//! and, when the oracle keeps a log, written to it by the flow as it arrives. Before the front
//! is reported, some are measured again ([`Ledger::remeasure`]): each repeat is logged too, and
//! the value the flow then uses is the median of all of an architecture's values.

use super::{Failure, FlowEvent, Measured, Stage};
use crate::data::{Answer, MeasurementLog};
use crate::error::{Error, Result};
use crate::space::{Arch, SearchSpace};
use crate::workflow::oracle::{measure_again, measure_logged, TargetOracle};
use std::collections::{HashMap, HashSet};

/// Measurements of one run: each architecture once, in order.
pub(super) struct Ledger<'o> {
    oracle: &'o mut dyn TargetOracle,
    /// Where answers are persisted (a [`Recorded`](crate::workflow::Recorded) oracle's log).
    log: Option<&'o mut MeasurementLog>,
    space: &'static dyn SearchSpace,
    /// Per architecture measured, the value the flow uses: its measurement, or once measured
    /// again, the median of its values.
    pub values: HashMap<Arch, f64>,
    /// Where each measured architecture's entry is in `measured`.
    entry: HashMap<Arch, usize>,
    /// Re-measurements asked for per architecture (failed ones included): the next one's index
    /// in the log.
    asked_again: HashMap<Arch, usize>,
    /// Re-measurements made.
    pub remeasurements: usize,
    /// Set when the oracle cannot measure again (a person measuring by hand).
    no_repeats: bool,
    /// Architectures whose first value is in doubt: once re-measured, only the repeats count.
    doubted: HashSet<Arch>,
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
            entry: HashMap::new(),
            asked_again: HashMap::new(),
            remeasurements: 0,
            no_repeats: false,
            doubted: HashSet::new(),
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
                Some(Answer::Measured { latency_ms, warnings, runs_ms }) => {
                    let v = checked(latency_ms, &text)?;
                    self.warnings.extend(warnings.into_iter().map(|w| format!("{text}: {w}")));
                    self.values.insert(a.clone(), v);
                    self.entry.insert(a.clone(), self.measured.len());
                    self.order.push(a);
                    let spread = crate::measure::relative_spread(&runs_ms);
                    let runs_ms = if runs_ms.len() > 1 { runs_ms } else { Vec::new() };
                    self.measured.push(Measured {
                        arch: text,
                        latency_ms: v,
                        stage,
                        runs_ms,
                        spread,
                        repeats_ms: Vec::new(),
                        combined_ms: None,
                    });
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

    /// Whether the oracle answers the same when asked again (a recorded table).
    pub fn exact(&self) -> bool {
        self.oracle.exact()
    }

    /// The measurement entry of a measured architecture.
    pub fn entry(&self, a: &Arch) -> &Measured {
        &self.measured[self.entry[a]]
    }

    /// Take the first value of a measured architecture as in doubt: once it is measured again,
    /// its value is the median of its repeats only.
    pub fn doubt(&mut self, a: &Arch) {
        self.doubted.insert(a.clone());
    }

    /// The values of a measured architecture that count: its first and its repeats, or the
    /// repeats only when its first is in doubt.
    pub fn values_used(&self, a: &Arch) -> Vec<f64> {
        let m = self.entry(a);
        let first = (!self.doubted.contains(a)).then_some(m.latency_ms);
        first.into_iter().chain(m.repeats_ms.iter().copied()).collect()
    }

    /// Measure a measured architecture again (from the log when it holds this repeat) and
    /// combine: its value becomes the median of the values that count ([`Ledger::values_used`]).
    /// Returns the new value, or
    /// `None` when this repeat could not be measured (the value stays as it was) or the oracle
    /// cannot measure again at all (a person measuring by hand: said once in the warnings).
    pub fn remeasure(&mut self, a: &Arch, events: &mut dyn FnMut(FlowEvent)) -> Result<Option<f64>> {
        if self.no_repeats {
            return Ok(None);
        }
        let k = *self.asked_again.get(a).unwrap_or(&0);
        let text = self.space.format(a);
        let answer = match measure_again(&mut *self.oracle, self.log.as_deref_mut(), a, k) {
            Ok(Some(ans)) => ans,
            Ok(None) => {
                return Err(Error::Engine(format!(
                    "the target oracle of '{}' gave no answer for {text}",
                    self.oracle.device()
                )))
            }
            Err(Error::MeasurementsNeeded { .. }) => {
                self.no_repeats = true;
                self.warnings.push("the front was not measured again: the target is measured by hand".into());
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        self.asked_again.insert(a.clone(), k + 1);
        let Answer::Measured { latency_ms, warnings, .. } = answer else { return Ok(None) };
        let v = checked(latency_ms, &text)?;
        self.remeasurements += 1;
        self.warnings.extend(warnings.into_iter().map(|w| format!("{text} (again): {w}")));
        let at = self.entry[a];
        self.measured[at].repeats_ms.push(v);
        let combined = crate::measure::median(&self.values_used(a));
        self.measured[at].combined_ms = Some(combined);
        self.values.insert(a.clone(), combined);
        events(FlowEvent::Remeasured { arch: text, latency_ms: v, combined_ms: combined });
        Ok(Some(v))
    }

    /// The latencies of `archs`, all measured.
    pub fn values_of(&self, archs: &[Arch]) -> Vec<f64> {
        archs.iter().map(|a| self.values[a]).collect()
    }
}

/// A latency the oracle gave, checked.
fn checked(latency_ms: f64, text: &str) -> Result<f64> {
    crate::data::check_latency(latency_ms)
        .map_err(|why| Error::Engine(format!("the target oracle measured {text}: {why}")))
}
