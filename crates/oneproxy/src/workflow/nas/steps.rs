//! The flow's steps, in the order [`Flow::run_prepared`](super::Flow::run_prepared) takes them:
//! prepare (candidates, proxies, the ledger), measure the samples, choose the proxy, fit
//! (reuse, or adapt with more samples), measure candidates as the design picks them (refitting
//! between batches when it asks to), measure the front again when the oracle is not exact,
//! finish (the measured front and the picks).

use super::candidates::{CandidateDesign, DesignView, UpfrontView};
use super::ledger::Ledger;
use super::remeasure::{in_doubt, settled, Prediction as Predicted, Reading, MAX_ROUNDS};
use super::{
    Chosen, Confidence, Decision, Flow, FlowEvent, NasConfig, NasOutcome, Pick, Prediction, ProxyTie, RankedProxy,
    Stage, TieBreak,
};
use crate::error::{Error, Result};
use crate::predictor::adapt::{low_cv_spearman, LOW_CV_SPEARMAN};
use crate::predictor::{adapt_pool, Adapted, Proxy, ProxyLatency, ProxySelection};
use crate::search::{best_under_constraints, pareto_front};
use crate::space::{seeded_rng, Arch, SearchSpace};
use crate::stats::{pearson, spearman};
use crate::workflow::design::{rounding_variance, LatencyModel, MIN_SIGMA};
use crate::workflow::oracle::TargetOracle;
use crate::workflow::remaining::resamples;
use crate::workflow::samples::SampleSet;
use crate::workflow::RemainingRegret;
use std::collections::{HashMap, HashSet};

/// Salt of the random stream that draws replacements for samples the target could not measure.
const REPLACEMENT_STREAM: u64 = 0x6661_696c_6564; // "failed"

/// Salt of the draws of the final estimate of the remaining regret.
const ESTIMATE_STREAM: u64 = 0x7265_6d61_696e; // "remain"

/// The warning for a final predictor whose cross-validated Spearman is below
/// [`LOW_CV_SPEARMAN`] (or undefined), with what would help.
fn unreliable_predictions(cv_spearman: f64) -> Option<String> {
    low_cv_spearman(cv_spearman).map(|shown| {
        format!(
            "the final predictor's cross-validated Spearman is {shown} (below {LOW_CV_SPEARMAN}): its predicted \
             latencies are unreliable and the measured front may miss architectures it ranked wrongly; measure more \
             samples (--samples), try another proxy (--proxy, --pool) or allow more measurements \
             (--max-measurements, a lower --stop)"
        )
    })
}

/// Pool members shown in the outcome's ranking: the chosen one and its runner-ups (more when
/// more tie).
const RANKING_SHOWN: usize = 4;

/// Spearman values this close count as equal: on a few samples Spearman takes few values, and
/// pool members often share the best one exactly (rounding aside).
const TIE_MARGIN: f64 = 1e-9;

/// The proxy that ranks the samples best.
pub(super) struct ProxyChoice {
    /// Index in the pool.
    pub index: usize,
    /// Its Spearman with the target on the samples.
    pub spearman: f64,
    /// Reuse or adapt.
    pub decision: Decision,
    /// The best pool members, the chosen one first.
    pub ranking: Vec<RankedProxy>,
    /// Set when several tied on the Spearman.
    pub tie: Option<ProxyTie>,
}

/// A pool member's (index, Spearman, log Pearson) on the samples.
type Scored = (usize, f64, Option<f64>);

/// Pool members ranked by Spearman on the samples, ties broken by the Pearson correlation of
/// log latencies (the member whose latencies map onto the target's by one scale fits them
/// best, as a reused proxy must), then by the pool's order. Returns (pool index, Spearman, log
/// Pearson) in that order, and how the first was chosen when it tied.
fn rank_proxies(scores: &[(f64, Option<f64>)]) -> (Vec<Scored>, Option<TieBreak>) {
    let mut order: Vec<Scored> = scores.iter().enumerate().map(|(k, &(r, p))| (k, r, p)).collect();
    let best = order.iter().map(|o| o.1).fold(f64::NEG_INFINITY, f64::max);
    let tied = |rho: f64| rho >= best - TIE_MARGIN;
    let pearson = |p: Option<f64>| p.unwrap_or(f64::NEG_INFINITY);
    order.sort_by(|a, b| match (tied(a.1), tied(b.1)) {
        (true, true) => pearson(b.2).total_cmp(&pearson(a.2)).then(a.0.cmp(&b.0)),
        _ => b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)),
    });
    let ties = order.iter().filter(|o| tied(o.1)).count();
    let rule = (ties > 1).then(|| {
        if pearson(order[0].2) > pearson(order[1].2) {
            TieBreak::LogPearson
        } else {
            TieBreak::PoolOrder
        }
    });
    (order, rule)
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
    /// Whether it comes from a refit after the decision (on the candidates' measurements too).
    pub refitted: bool,
    /// Whether `predicted` is the chosen proxy's own latencies kept by a refit because they
    /// predicted the measured candidates better than the adaptation.
    pub kept_proxy: bool,
}

/// Smallest spread of a kept proxy's calibrated latencies (log space, 1%): the repeatability
/// of a latency measurement, not the error of a model.
const KEPT_PROXY_MIN_SIGMA: f64 = 0.01;

/// Candidates measured before their surprises widen the model ([`Run::widening`]).
const MIN_SURPRISES: usize = 4;

/// The central interval the widening calibrates on the surprises, and the normal's quantile
/// that bounds it (`|z|` within 1.2816 holds 80% of a standard normal).
const WIDENING_LEVEL: f64 = 0.8;
const WIDENING_Z: f64 = 1.281_551_565_544_6;

/// Most the surprises widen the model's spreads. Twice is enough to send the design to a fast
/// end it did not believe in (measured on the main job: a cap of 4 cost 0.5 more measurements
/// per target for the same regret; docs/results/flow-averaging).
const MAX_WIDENING: f64 = 2.0;

/// One run of the flow for one target: what every step reads and adds to.
pub(super) struct Run<'f, 'a, 'o> {
    config: &'f NasConfig,
    flow: &'f Flow<'a>,
    space: &'static dyn SearchSpace,
    target: String,
    /// What the target may measure, with an accuracy; their accuracies and positions.
    candidates: Vec<Arch>,
    /// Whether `candidates` are the pool table's rows, in order.
    candidates_are_rows: bool,
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
    /// The chosen proxy's own latency of every candidate, once chosen: each refit weighs it
    /// against the adaptation ([`Run::refit`]).
    proxy_latencies: Option<Vec<f64>>,
    /// Each measured candidate's surprise: how many of its predicted standard deviations its
    /// ln(ms) landed from the prediction made when it was chosen ([`Run::widening`]).
    surprises: Vec<f64>,
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
        let candidates_are_rows = candidates[..] == *flow.table().archs();
        let run = Run {
            config,
            flow,
            space,
            target,
            candidates,
            candidates_are_rows,
            accuracies,
            position,
            proxies,
            stream,
            initial: initial.len(),
            samples: Vec::new(),
            ys: Vec::new(),
            ledger,
            proxy_latencies: None,
            surprises: Vec::new(),
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

    /// Choose the proxy whose latencies rank the samples best (ties broken as
    /// [`rank_proxies`] says), and reuse it or adapt it.
    pub fn choose_proxy(&self, events: &mut dyn FnMut(FlowEvent)) -> ProxyChoice {
        let log_ys: Vec<f64> = self.ys.iter().map(|v| v.ln()).collect();
        let scores: Vec<(f64, Option<f64>)> = self
            .proxies
            .iter()
            .map(|proxy| {
                // Measured where the proxy has it, else its additive prediction.
                let latencies = proxy.latencies(&self.samples);
                let rho = spearman(&latencies, &self.ys);
                let logs: Vec<f64> = latencies.iter().map(|v| v.ln()).collect();
                let r = pearson(&logs, &log_ys);
                (if rho.is_nan() { -1.0 } else { rho }, r.is_finite().then_some(r))
            })
            .collect();
        let (order, rule) = rank_proxies(&scores);
        let (index, spearman, _) = order[0];
        let ties = order.iter().take_while(|o| o.1 >= spearman - TIE_MARGIN).count();
        let name = |k: usize| self.proxies[k].device().to_string();
        let ranking = order
            .iter()
            .take(RANKING_SHOWN.max(ties))
            .map(|&(k, spearman, log_pearson)| RankedProxy { proxy: name(k), spearman, log_pearson })
            .collect();
        let tie = rule.map(|broken_by| ProxyTie { tied: order[..ties].iter().map(|o| name(o.0)).collect(), broken_by });
        let decision =
            if self.config.reuse && spearman >= self.config.threshold { Decision::Reuse } else { Decision::Adapt };
        events(FlowEvent::Decided { proxy: name(index), spearman, decision });
        ProxyChoice { index, spearman, decision, ranking, tie }
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
        let proxy_latencies = self.proxies[choice.index].latencies(&self.candidates);
        self.proxy_latencies = Some(proxy_latencies.clone());
        if choice.decision == Decision::Reuse {
            let predicted = proxy_latencies;
            return Ok(Fit {
                predicted,
                cv_spearman: None,
                cv_error: 0.0,
                spread: Vec::new(),
                refitted: false,
                kept_proxy: false,
            });
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
        let mut announced = false;
        loop {
            let measured: Vec<(usize, f64)> = self.measured_candidates();
            let failed = self.failed_candidates();
            let tried = self.tried_candidates();
            // The unwidened model is what each candidate's surprise is measured against.
            let base = self.base_model(fit, &measured);
            let model = base.clone().widened(self.widening());
            let view = DesignView {
                accuracy: &self.accuracies,
                predicted: &fit.predicted,
                spread: &fit.spread,
                cv_error: fit.cv_error,
                model: &model,
                measured: &measured,
                failed: &failed,
                tried: &tried,
                room: self.ledger.room(),
                checked: self.surprises.len(),
            };
            if self.config.stop_regret.is_some() || (self.config.confident_at.is_some() && !announced) {
                // The estimate only once it can draw from recorded errors: on fewer it rests on
                // the model's own spread, which a target unlike the pool makes too sure of itself.
                if resamples(&self.surprises) {
                    let estimate = self.estimate(&base, &model, &measured, &failed);
                    let within = |points: Option<f64>| {
                        points.is_some_and(|p| estimate.bound <= p && estimate.empty_budgets == 0)
                    };
                    if !announced && within(self.config.confident_at) {
                        announced = true;
                        events(FlowEvent::Confident(std::sync::Arc::new(Confidence {
                            measurements: self.ledger.count(),
                            bound: estimate.bound,
                            measured: self.ledger.order.iter().map(|a| (a.clone(), self.ledger.values[a])).collect(),
                            prediction: self.prediction(&model),
                        })));
                    }
                    if within(self.config.stop_regret) {
                        return Ok(());
                    }
                }
            }
            let Some(next) = design.next_batch(&view)? else { return Ok(()) };
            let archs: Vec<Arch> = next.iter().map(|&i| self.candidates[i].clone()).collect();
            // What the model said of each before it was measured, on its own (unwidened) spread.
            let said: Vec<(f64, f64)> = next.iter().map(|&i| (base.mu[i], base.sigma_of(i))).collect();
            self.ledger.measure(&archs, Stage::Candidates, events)?;
            for (a, (mu, sd)) in archs.iter().zip(said) {
                if let Some(&y) = self.ledger.values.get(a) {
                    if y > 0.0 && mu.is_finite() && sd > 0.0 {
                        // Against the spread of the report: the model's and the rounding's.
                        let sd = (sd * sd + rounding_variance(base.grid, y)).sqrt();
                        self.surprises.push((y.ln() - mu) / sd);
                    }
                }
            }
            if design.refits() {
                self.refit(fit, events)?;
            }
        }
    }

    /// The flow's estimate of the regret it leaves with what is `measured` ([`LatencyModel::remaining_regret`]).
    /// Once the surprises are enough to resample, they replace the widening they set: the
    /// estimate draws them on the unwidened spreads (`base`) they were measured against.
    fn estimate(
        &self,
        base: &LatencyModel,
        model: &LatencyModel,
        measured: &[(usize, f64)],
        failed: &[usize],
    ) -> RemainingRegret {
        let estimated = if resamples(&self.surprises) { base } else { model };
        estimated.remaining_regret(&self.accuracies, measured, failed, &self.surprises, self.stream ^ ESTIMATE_STREAM)
    }

    /// Refit on everything measured (a reused proxy too: its ranking is now checked against
    /// points near the front, where the result is decided).
    ///
    /// The chosen proxy's own latencies stay in the running: where they predict the measured
    /// candidates better (leave-one-out error of their calibration) than the adaptation does
    /// (the larger of its calibration's leave-one-out error and its cross-validated error), they
    /// are kept instead. A near-identical proxy (a twin, a sibling at another batch size) is then
    /// believed as it deserves, and the flow stops when the front is measured instead of paying
    /// for the additive model's coarser error.
    fn refit(&self, fit: &mut Fit, events: &mut dyn FnMut(FlowEvent)) -> Result<()> {
        let xs = &self.ledger.order;
        let ys = self.ledger.values_of(xs);
        let adapted = adapt_pool(&self.proxies, xs, &ys, &self.config.adapt)?;
        events(FlowEvent::Adapted { samples: xs.len(), cv_spearman: adapted.report.cv_spearman });
        let refit = Fit { refitted: true, ..self.fit_of(&adapted)? };
        let measured = self.measured_candidates();
        *fit = match &self.proxy_latencies {
            Some(own) => {
                let kept = Fit {
                    predicted: own.clone(),
                    cv_spearman: refit.cv_spearman,
                    cv_error: 0.0,
                    spread: Vec::new(),
                    refitted: true,
                    kept_proxy: true,
                };
                if self.model(&kept, &measured).sigma < self.model(&refit, &measured).sigma {
                    kept
                } else {
                    refit
                }
            }
            None => refit,
        };
        Ok(())
    }

    /// The prediction of every candidate by an adaptation, with its members' spread.
    fn fit_of(&self, adapted: &Adapted) -> Result<Fit> {
        let table = ProxyLatency::Measured(self.flow.table());
        // The table's own rows when the candidates are exactly them (a recorded space, as in
        // the main job): predictions then read each proxy's column in place instead of
        // matching every candidate to its row, once per member on every refit.
        let rows = self.flow.table().archs();
        let candidates = if self.candidates_are_rows { rows } else { &self.candidates[..] };
        Ok(Fit {
            predicted: adapted.predictor.predict(candidates, table)?,
            cv_spearman: Some(adapted.report.cv_spearman),
            cv_error: adapted.report.cv_error.sqrt(),
            spread: adapted.log_spread(candidates, table)?,
            refitted: false,
            kept_proxy: false,
        })
    }

    /// The latency model of `fit` on the `measured` candidates: its predictions calibrated to
    /// them, with each candidate's spread ([`LatencyModel::calibrate_with_spread`]). The design
    /// and the final estimate of the remaining regret share it.
    fn model(&self, fit: &Fit, measured: &[(usize, f64)]) -> LatencyModel {
        self.base_model(fit, measured).widened(self.widening())
    }

    /// [`Run::model`] before its widening.
    fn base_model(&self, fit: &Fit, measured: &[(usize, f64)]) -> LatencyModel {
        let min_sigma = if fit.kept_proxy { KEPT_PROXY_MIN_SIGMA } else { MIN_SIGMA };
        LatencyModel::calibrate_with_spread_above(&fit.predicted, &fit.spread, measured, fit.cv_error, min_sigma)
    }

    /// How much wider the model's spreads must be than it says: the factor that makes its
    /// central 80% interval hold 80% of the surprises of the candidates measured so far (their
    /// 80% quantile of |z| over the normal's, 1.28), at least 1 (a model is never made surer
    /// than it says) and at most [`MAX_WIDENING`]; 1 before [`MIN_SURPRISES`] of them (with
    /// few, the quantile is their largest).
    ///
    /// Why: the model's spread is fitted on the very points it predicts (the refit has seen
    /// every measured candidate), so a target unlike the pool looks well predicted exactly where
    /// it was measured. The candidates' predictions made *before* their measurement are the
    /// only out-of-sample check the flow has; when they miss by several standard deviations,
    /// the fast end the model believes in is not to be believed either. Why a quantile, not the
    /// root mean square it was: the surprises are heavy-tailed, and one wild miss set the
    /// square's widening for every candidate; the quantile widens as far as the interval the
    /// flow reports needs, the tail is the estimate's (it resamples the surprises), and the
    /// main job spends 1.6 fewer measurements per target for the same regret
    /// (docs/results/flow-estimate).
    fn widening(&self) -> f64 {
        if self.surprises.len() < MIN_SURPRISES {
            return 1.0;
        }
        let mut size: Vec<f64> = self.surprises.iter().map(|z| z.abs()).collect();
        size.sort_by(f64::total_cmp);
        let at = ((WIDENING_LEVEL * size.len() as f64).ceil() as usize).clamp(1, size.len()) - 1;
        (size[at] / WIDENING_Z).clamp(1.0, MAX_WIDENING)
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
                let prediction = Predicted { predicted: &fit.predicted, spread: &fit.spread };
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

    /// Per candidate, whether the ledger has tried it ([`Ledger::tried`]). From the ledger's
    /// few entries rather than a lookup per candidate: the design asks on every pick, and the
    /// lookups of NB201's 15,625 candidates were a twentieth of the main job's time.
    fn tried_candidates(&self) -> Vec<bool> {
        if self.position.len() != self.candidates.len() {
            // A candidate listed twice: the lookups mark every copy.
            return self.candidates.iter().map(|a| self.ledger.tried(a)).collect();
        }
        let mut tried = vec![false; self.candidates.len()];
        for a in self.ledger.values.keys().chain(&self.ledger.failed_set) {
            if let Some(&i) = self.position.get(a) {
                tried[i] = true;
            }
        }
        tried
    }

    /// The candidate indices the target could not run.
    fn failed_candidates(&self) -> Vec<usize> {
        self.ledger.failed_set.iter().filter_map(|a| self.position.get(a).copied()).collect()
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
        let failed = self.failed_candidates();
        let base = self.base_model(&fit, &measured_pairs);
        let model = base.clone().widened(self.widening());
        let remaining = self.estimate(&base, &model, &measured_pairs, &failed);
        let ledger = self.ledger;
        let mut warnings = ledger.warnings.clone();
        warnings.extend(fit.cv_spearman.and_then(unreliable_predictions));
        Ok(NasOutcome {
            target: self.target,
            decision: choice.decision,
            proxy: self.proxies[choice.index].device().to_string(),
            spearman_samples: choice.spearman,
            proxy_ranking: choice.ranking,
            proxy_tie: choice.tie,
            refitted: fit.refitted,
            kept_proxy: fit.kept_proxy,
            cv_spearman: fit.cv_spearman,
            samples: self.samples.len(),
            measurements: ledger.count(),
            remeasurements: ledger.remeasurements,
            candidates_measured: ledger.measured.iter().filter(|m| m.stage == Stage::Candidates).count(),
            chosen,
            picks,
            measured: ledger.measured,
            failed: ledger.failed,
            warnings,
            remaining_regret: Some(remaining),
            reporting_step: (model.grid > 0.0).then_some(model.grid),
            prediction: Some(Prediction {
                measured: self.candidates.iter().map(|a| ledger.values.contains_key(a)).collect(),
                archs: self.candidates,
                sigma: (0..model.mu.len()).map(|i| model.sigma_of(i)).collect(),
                mu: model.mu,
            }),
        })
    }

    /// The model of every candidate as a [`Prediction`], with what is measured so far.
    fn prediction(&self, model: &LatencyModel) -> Prediction {
        Prediction {
            measured: self.candidates.iter().map(|a| self.ledger.values.contains_key(a)).collect(),
            archs: self.candidates.clone(),
            sigma: (0..model.mu.len()).map(|i| model.sigma_of(i)).collect(),
            mu: model.mu.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tie_on_spearman_goes_to_the_best_log_pearson_then_to_the_pool_order() {
        // Members 1 and 2 tie on the best Spearman; 2 fits the log latencies better.
        let (order, rule) = rank_proxies(&[(0.7, Some(0.9)), (0.9, Some(0.8)), (0.9, Some(0.95)), (0.8, None)]);
        assert_eq!(order.iter().map(|o| o.0).collect::<Vec<_>>(), [2, 1, 3, 0]);
        assert_eq!(rule, Some(TieBreak::LogPearson));
        // Equal on both: the first in the pool.
        let (order, rule) = rank_proxies(&[(0.9, Some(0.8)), (0.9, Some(0.8))]);
        assert_eq!(order[0].0, 0);
        assert_eq!(rule, Some(TieBreak::PoolOrder));
        // An undefined Pearson loses a tie.
        let (order, _) = rank_proxies(&[(0.9, None), (0.9, Some(-0.5))]);
        assert_eq!(order[0].0, 1);
    }

    #[test]
    fn a_clear_best_is_no_tie_whatever_its_log_pearson() {
        let (order, rule) = rank_proxies(&[(0.8, Some(0.99)), (0.9, Some(0.5))]);
        assert_eq!(order[0].0, 1);
        assert_eq!(rule, None);
    }

    #[test]
    fn a_low_or_undefined_cross_validated_spearman_warns_with_what_to_do() {
        assert!(unreliable_predictions(LOW_CV_SPEARMAN).is_none());
        assert!(unreliable_predictions(0.95).is_none());
        let w = unreliable_predictions(0.61).unwrap();
        assert!(w.contains("0.610") && w.contains("unreliable") && w.contains("--samples"), "{w}");
        assert!(unreliable_predictions(f64::NAN).unwrap().contains("undefined"));
    }
}
