//! The flow's steps, in the order [`Flow::run_prepared`](super::Flow::run_prepared) takes them:
//! prepare (candidates, proxies, the ledger), measure the samples, choose the proxy, fit
//! (reuse, or adapt with more samples), measure candidates as the design picks them (refitting
//! between batches when it asks to), measure the front again when the oracle is not exact,
//! finish (the measured front and the picks).

use super::candidates::{CandidateDesign, DesignView, UpfrontView};
use super::ledger::Ledger;
use super::remeasure::{in_doubt, settled, Prediction, Reading, MAX_ROUNDS};
use super::{Chosen, Decision, Flow, FlowEvent, NasConfig, NasOutcome, Pick, Stage};
use crate::error::{Error, Result};
use crate::predictor::{adapt_pool, Adapted, Proxy, ProxyLatency, ProxySelection};
use crate::search::{best_under_constraints, pareto_front};
use crate::space::{seeded_rng, Arch, SearchSpace};
use crate::stats::spearman;
use crate::workflow::oracle::TargetOracle;
use crate::workflow::samples::SampleSet;
use std::collections::{HashMap, HashSet};

/// Salt of the random stream that draws replacements for samples the target could not measure.
const REPLACEMENT_STREAM: u64 = 0x6661_696c_6564; // "failed"

/// The proxy that ranks the samples best.
pub(super) struct ProxyChoice {
    /// Index in the pool.
    pub index: usize,
    /// Its Spearman with the target on the samples.
    pub spearman: f64,
    /// Reuse or adapt.
    pub decision: Decision,
}

/// The current prediction of every candidate's target latency.
pub(super) struct Fit {
    /// Per candidate, in the target's ms (a reused proxy's own latencies until the first refit).
    pub predicted: Vec<f64>,
    /// Cross-validated Spearman of the last adaptation (`None`: never adapted).
    pub cv_spearman: Option<f64>,
    /// Its cross-validated error, the floor of a calibrated spread (0 for a reused proxy).
    pub cv_error: f64,
    /// Per candidate, the spread of ln(ms) among the adaptation's members (empty: one
    /// predictor, e.g. a reused proxy before its first refit).
    pub spread: Vec<f64>,
}

/// One run of the flow for one target: what every step reads and adds to.
pub(super) struct Run<'f, 'a, 'o> {
    config: &'f NasConfig,
    flow: &'f Flow<'a>,
    space: &'static dyn SearchSpace,
    target: String,
    /// What the target may measure, with an accuracy; their accuracies and positions.
    candidates: Vec<Arch>,
    accuracies: Vec<f64>,
    position: HashMap<Arch, usize>,
    proxies: Vec<Proxy<'f>>,
    stream: u64,
    /// Size of the drawn sample set (the adaptation draws as many again each round).
    initial: usize,
    /// The measured samples and their latencies.
    samples: Vec<Arch>,
    ys: Vec<f64>,
    ledger: Ledger<'o>,
}

impl<'f, 'a, 'o> Run<'f, 'a, 'o> {
    /// Prepare: the candidates, the proxy pool and the ledger, and the drawn samples.
    pub fn prepare(
        flow: &'f Flow<'a>,
        oracle: &'o mut dyn TargetOracle,
        config: &'f NasConfig,
        stream: u64,
    ) -> Result<(Self, Vec<Arch>)> {
        let space = flow.table().space().space();
        let target = oracle.device().to_string();
        let candidates = flow.candidates(oracle);
        if candidates.is_empty() {
            return Err(Error::TooFewSamples(format!(
                "target '{target}': no architecture it can measure has a known accuracy"
            )));
        }
        let proxies = flow.proxies().proxies(&config.proxy, &target)?;
        // Samples come from the candidates (what the target can measure *and* has an accuracy):
        // a sample without an accuracy could never join the front.
        let planner = match config.samples {
            SampleSet::Plan(_) => Some(flow.proxies().planner(&config.proxy, &proxies)?),
            _ => None,
        };
        let initial = config.samples.draw(space, &candidates, planner, stream, &target)?;
        let accuracies: Vec<f64> =
            candidates.iter().map(|a| flow.accuracy().get(a).expect("candidates have accuracies")).collect();
        let position = candidates.iter().enumerate().map(|(i, a)| (a.clone(), i)).collect();
        let ledger = Ledger::new(oracle, space, config.max_failures, config.max_measurements);
        let run = Run {
            config,
            flow,
            space,
            target,
            candidates,
            accuracies,
            position,
            proxies,
            stream,
            initial: initial.len(),
            samples: Vec::new(),
            ys: Vec::new(),
            ledger,
        };
        Ok((run, initial))
    }

    /// Measure the drawn samples, with the candidates of a design that decides upfront in the
    /// same request; a sample the target could not measure is replaced by another
    /// drawn from the candidates (a fixed set has no replacement), on a stream of its own so
    /// that a run without failures draws exactly what it always did.
    pub fn measure_samples(
        &mut self,
        drawn: &[Arch],
        design: &mut dyn CandidateDesign,
        events: &mut dyn FnMut(FlowEvent),
    ) -> Result<()> {
        let mut samples: Vec<Arch> = Vec::new();
        for a in drawn {
            if !samples.contains(a) {
                samples.push(a.clone());
            }
        }
        let upfront = if design.decides_upfront() { self.upfront(&samples, design)? } else { Vec::new() };
        self.ledger.measure_stages(&[(&samples, Stage::Samples), (&upfront, Stage::Candidates)], events)?;
        let wanted = samples.len();
        let mut replacements = seeded_rng(self.stream ^ REPLACEMENT_STREAM);
        while self.config.samples.varies() {
            let short = wanted - samples.iter().filter(|a| self.ledger.values.contains_key(*a)).count();
            let untried: Vec<&Arch> = self.candidates.iter().filter(|a| !self.ledger.tried(a)).collect();
            if short == 0 || untried.is_empty() {
                break;
            }
            let more: Vec<Arch> = rand::seq::index::sample(&mut replacements, untried.len(), short.min(untried.len()))
                .into_iter()
                .map(|i| untried[i].clone())
                .collect();
            self.ledger.measure(&more, Stage::Samples, events)?;
            samples.extend(more);
        }
        samples.retain(|a| self.ledger.values.contains_key(a));
        self.ys = self.ledger.values_of(&samples);
        self.samples = samples;
        if self.ys.len() < 3 {
            return Err(Error::TooFewSamples(format!(
                "target '{}': at least 3 distinct samples are needed, got {}",
                self.target,
                self.ys.len()
            )));
        }
        Ok(())
    }

    /// The candidates `design` asks for with the `samples`, chosen on the latencies of the
    /// plausible targets: the proxy pool's devices (every device of the table but the target
    /// when one proxy is named, as one device is a poor guess of another's front).
    fn upfront(&self, samples: &[Arch], design: &mut dyn CandidateDesign) -> Result<Vec<Arch>> {
        let named;
        let pool = match self.config.proxy {
            ProxySelection::Auto { .. } => &self.proxies,
            ProxySelection::Device(_) => {
                named = self.flow.proxies().proxies(&ProxySelection::default(), &self.target)?;
                &named
            }
        };
        let plausible: Vec<Vec<f64>> = pool.iter().map(|p| p.latencies(&self.candidates)).collect();
        let sample_index: Vec<usize> = samples.iter().filter_map(|a| self.position.get(a).copied()).collect();
        let view = UpfrontView {
            accuracy: &self.accuracies,
            plausible: &plausible,
            samples: &sample_index,
            room: self.ledger.room().saturating_sub(samples.len()),
        };
        Ok(design.upfront(&view)?.into_iter().map(|i| self.candidates[i].clone()).collect())
    }

    /// Choose the proxy whose latencies rank the samples best, and reuse it or adapt it.
    pub fn choose_proxy(&self, events: &mut dyn FnMut(FlowEvent)) -> ProxyChoice {
        let mut best: Option<(usize, f64)> = None;
        for (k, proxy) in self.proxies.iter().enumerate() {
            // Measured where the proxy has it, else its additive prediction.
            let rho = spearman(&proxy.latencies(&self.samples), &self.ys);
            let rho = if rho.is_nan() { -1.0 } else { rho };
            if best.is_none_or(|b| rho > b.1) {
                best = Some((k, rho));
            }
        }
        let (index, spearman) = best.expect("the pool is not empty");
        let decision =
            if self.config.reuse && spearman >= self.config.threshold { Decision::Reuse } else { Decision::Adapt };
        events(FlowEvent::Decided { proxy: self.proxies[index].device().to_string(), spearman, decision });
        ProxyChoice { index, spearman, decision }
    }

    /// Fit: a reused proxy predicts with its own latencies; an adapted one is refitted with
    /// more random samples while its cross-validated Spearman stays below the threshold, when
    /// the design spends measurements that way.
    pub fn fit(
        &mut self,
        choice: &ProxyChoice,
        design: &dyn CandidateDesign,
        events: &mut dyn FnMut(FlowEvent),
    ) -> Result<Fit> {
        if choice.decision == Decision::Reuse {
            let predicted = self.proxies[choice.index].latencies(&self.candidates);
            return Ok(Fit { predicted, cv_spearman: None, cv_error: 0.0, spread: Vec::new() });
        }
        let mut rng = seeded_rng(self.stream);
        let random_samples = design.draws_adaptation_samples();
        loop {
            let adapted = adapt_pool(&self.proxies, &self.samples, &self.ys, &self.config.adapt)?;
            let cv = adapted.report.cv_spearman;
            events(FlowEvent::Adapted { samples: self.samples.len(), cv_spearman: cv });
            let room = if random_samples {
                self.config.max_samples.saturating_sub(self.samples.len()).min(self.ledger.room())
            } else {
                0
            };
            let fresh: Vec<&Arch> = self.candidates.iter().filter(|a| !self.ledger.tried(a)).collect();
            if cv >= self.config.threshold || room == 0 || fresh.is_empty() {
                return self.fit_of(&adapted);
            }
            // Measure more: as many again as the initial set (bounded by the budget), drawn at
            // random among the candidates not measured yet.
            let more = room.min(self.initial.max(1)).min(fresh.len());
            let draw: Vec<Arch> =
                rand::seq::index::sample(&mut rng, fresh.len(), more).into_iter().map(|i| fresh[i].clone()).collect();
            self.ledger.measure(&draw, Stage::Adaptation, events)?;
            let measured: Vec<Arch> = draw.into_iter().filter(|a| self.ledger.values.contains_key(a)).collect();
            self.ys.extend(self.ledger.values_of(&measured));
            self.samples.extend(measured);
        }
    }

    /// Measure candidates as `design` picks them, refitting after each batch when it asks to,
    /// until it stops.
    pub fn measure_candidates(
        &mut self,
        design: &mut dyn CandidateDesign,
        fit: &mut Fit,
        events: &mut dyn FnMut(FlowEvent),
    ) -> Result<()> {
        loop {
            let measured: Vec<(usize, f64)> = self.measured_candidates();
            let failed: Vec<usize> =
                self.ledger.failed_set.iter().filter_map(|a| self.position.get(a).copied()).collect();
            let tried: Vec<bool> = self.candidates.iter().map(|a| self.ledger.tried(a)).collect();
            let view = DesignView {
                accuracy: &self.accuracies,
                predicted: &fit.predicted,
                spread: &fit.spread,
                cv_error: fit.cv_error,
                measured: &measured,
                failed: &failed,
                tried: &tried,
                room: self.ledger.room(),
            };
            let Some(next) = design.next_batch(&view)? else { return Ok(()) };
            let archs: Vec<Arch> = next.iter().map(|&i| self.candidates[i].clone()).collect();
            self.ledger.measure(&archs, Stage::Candidates, events)?;
            if design.refits() {
                self.refit(fit, events)?;
            }
        }
    }

    /// Refit on everything measured (a reused proxy too: its ranking is now checked against
    /// points near the front, where the result is decided).
    fn refit(&self, fit: &mut Fit, events: &mut dyn FnMut(FlowEvent)) -> Result<()> {
        let xs = &self.ledger.order;
        let ys = self.ledger.values_of(xs);
        let adapted = adapt_pool(&self.proxies, xs, &ys, &self.config.adapt)?;
        events(FlowEvent::Adapted { samples: xs.len(), cv_spearman: adapted.report.cv_spearman });
        *fit = self.fit_of(&adapted)?;
        Ok(())
    }

    /// The prediction of every candidate by an adaptation, with its members' spread.
    fn fit_of(&self, adapted: &Adapted) -> Result<Fit> {
        let table = ProxyLatency::Measured(self.flow.table());
        Ok(Fit {
            predicted: adapted.predictor.predict(&self.candidates, table)?,
            cv_spearman: Some(adapted.report.cv_spearman),
            cv_error: adapted.report.cv_error.sqrt(),
            spread: adapted.log_spread(&self.candidates, table)?,
        })
    }

    /// Measure again, before the front is reported, what it rests on (see
    /// [`super::remeasure`]): the members of the measured front and the candidates in doubt, then
    /// the members new to the front, for at most [`MAX_ROUNDS`] rounds. Nothing when the
    /// configuration says so for this oracle.
    pub fn remeasure(&mut self, fit: &Fit, events: &mut dyn FnMut(FlowEvent)) -> Result<()> {
        if !self.config.remeasure.applies(self.ledger.exact()) {
            return Ok(());
        }
        let mut done: HashSet<usize> = HashSet::new();
        for round in 1..=MAX_ROUNDS {
            let measured = self.measured_candidates();
            let values: Vec<f64> = measured.iter().map(|&(_, v)| v).collect();
            let accs: Vec<f64> = measured.iter().map(|&(i, _)| self.accuracies[i]).collect();
            let mut todo: Vec<usize> = pareto_front(&values, &accs)?.into_iter().map(|k| measured[k].0).collect();
            if round == 1 {
                let entries: Vec<_> = measured.iter().map(|&(i, _)| self.ledger.entry(&self.candidates[i])).collect();
                let readings: Vec<Reading> = measured
                    .iter()
                    .zip(&entries)
                    .map(|(&(index, value), m)| Reading { index, value, spread: m.spread, runs: &m.runs_ms })
                    .collect();
                let prediction = Prediction { predicted: &fit.predicted, spread: &fit.spread };
                let doubted = in_doubt(&readings, &prediction, &self.accuracies)?;
                for &i in &doubted {
                    self.ledger.doubt(&self.candidates[i]);
                }
                todo.extend(doubted);
            }
            todo.retain(|i| done.insert(*i));
            if todo.is_empty() {
                break;
            }
            events(FlowEvent::Remeasuring { count: todo.len(), round });
            for i in todo {
                let arch = self.candidates[i].clone();
                // Until two values agree, or a third decides.
                while !settled(&self.ledger.values_used(&arch)) {
                    if self.ledger.remeasure(&arch, events)?.is_none() {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// (candidate index, target ms) of every measured candidate, in measurement order.
    fn measured_candidates(&self) -> Vec<(usize, f64)> {
        self.ledger.order.iter().filter_map(|a| self.position.get(a).map(|&i| (i, self.ledger.values[a]))).collect()
    }

    /// Finish: keep what is non-dominated when measured (every measured candidate, the samples
    /// too, takes part), pick within each constraint, and report.
    pub fn finish(self, choice: ProxyChoice, fit: Fit) -> Result<NasOutcome> {
        let measured_pairs = self.measured_candidates();
        let measured: Vec<f64> = measured_pairs.iter().map(|&(_, v)| v).collect();
        let accs: Vec<f64> = measured_pairs.iter().map(|&(i, _)| self.accuracies[i]).collect();
        let kept = pareto_front(&measured, &accs)?;
        let kept_lat: Vec<f64> = kept.iter().map(|&k| measured[k]).collect();
        let kept_acc: Vec<f64> = kept.iter().map(|&k| accs[k]).collect();
        let chosen: Vec<Chosen> = kept
            .iter()
            .map(|&k| Chosen {
                arch: self.space.format(&self.candidates[measured_pairs[k].0]),
                accuracy: accs[k],
                latency: measured[k],
                predicted_latency: fit.predicted.get(measured_pairs[k].0).copied().filter(|v| v.is_finite()),
            })
            .collect();
        let constraints = &self.config.constraints;
        let picks = best_under_constraints(&kept_lat, &kept_acc, constraints)?
            .into_iter()
            .zip(constraints)
            .map(|(p, &c)| Pick { constraint: c, pick: p.map(|k| chosen[k].clone()) })
            .collect();
        let ledger = self.ledger;
        Ok(NasOutcome {
            target: self.target,
            decision: choice.decision,
            proxy: self.proxies[choice.index].device().to_string(),
            spearman_samples: choice.spearman,
            cv_spearman: fit.cv_spearman,
            samples: self.samples.len(),
            measurements: ledger.count(),
            remeasurements: ledger.remeasurements,
            candidates_measured: ledger.measured.iter().filter(|m| m.stage == Stage::Candidates).count(),
            chosen,
            picks,
            measured: ledger.measured,
            failed: ledger.failed,
            warnings: ledger.warnings,
        })
    }
}
