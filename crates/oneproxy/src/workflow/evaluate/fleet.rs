//! A fleet evaluated on recorded tables: the targets arrive in a seeded (or the given) order,
//! each finished one joining the pool of the next ([`crate::workflow::fleet`]), and every device
//! is scored beside the same device run one at a time against the same initial pool.
//!
//! The initial pool is the table without the fleet's targets, so that no target is measured
//! twice over (once as a bundled column, once as a member). Both flows draw each device's
//! stream from the seed, the trial and its name: the fleet's gain is what the joined members
//! change, not other samples.

use super::baselines::{MethodScore, Spread};
use super::trials::Trials;
use crate::data::{AccuracyTable, LatencyTable};
use crate::error::Result;
use crate::predictor::proxies::resolve_pool;
use crate::space::seeded_rng;
use crate::workflow::fleet::{run_fleet_seeded, FleetConfig, FleetOutcome, ProxySource, Span};
use crate::workflow::nas::Decision;
use crate::workflow::oracle::{TableOracle, TargetOracle};
use crate::workflow::samples::target_seed;
use crate::workflow::score::{check_scorable, score_against, Truth};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Salt of the stream that shuffles the arrival order of a trial.
const ORDER_STREAM: u64 = 0x006f_7264_6572; // "order"

/// In which order the targets arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// As listed.
    Given,
    /// Shuffled per trial, from the seed.
    Random,
}

/// One device of one trial: the fleet's run beside the one-at-a-time run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetScored {
    /// The target.
    pub target: String,
    /// Its arrival index (0 first).
    pub arrival: usize,
    /// The proxy its flow chose in the fleet.
    pub proxy: String,
    /// Where that proxy came from.
    pub proxy_source: ProxySource,
    /// Reuse or adapt, in the fleet.
    pub action: Decision,
    /// Target measurements in the fleet.
    pub measurements: usize,
    /// Mean regret per latency budget in the fleet (points).
    pub regret: f64,
    /// The proxy chosen one at a time.
    pub alone_proxy: String,
    /// Target measurements one at a time.
    pub alone_measurements: usize,
    /// Regret one at a time (points).
    pub alone_regret: f64,
    /// Its slots on the fleet's clock.
    #[serde(default)]
    pub span: Span,
    /// The members in its pool that were still running when it started (joined when confident).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confident_members: Vec<String>,
}

/// One trial: the arrival order and every device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetTrial {
    /// Trial number (0-based).
    pub trial: usize,
    /// Per device, in arrival order.
    pub devices: Vec<FleetScored>,
}

/// Means over trials at one arrival index: how the fleet's cost falls as members join.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Arrival index (0 first).
    pub arrival: usize,
    /// Mean measurements of the device arriving there, in the fleet.
    pub measurements: f64,
    /// The same devices one at a time.
    pub alone_measurements: f64,
    /// Mean regret in the fleet (points).
    pub regret: f64,
    /// One at a time.
    pub alone_regret: f64,
    /// Share of the trials whose device there used a fleet member as its proxy.
    pub from_fleet: f64,
}

/// A fleet scored over trials beside the one-at-a-time flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetEvaluation {
    /// The arrival order.
    pub order: Arrival,
    /// Devices run side by side.
    pub concurrency: usize,
    /// The regret at which a running device joined the pool ([`FleetConfig::join_regret`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_regret: Option<f64>,
    /// The pool every device starts from (the table's devices the flow may use, the targets out).
    pub initial_pool: Vec<String>,
    /// Trials run.
    pub trials: usize,
    /// The fleet: per trial the mean over devices, then mean ± std over trials.
    pub fleet: MethodScore,
    /// One at a time, the same way.
    pub alone: MethodScore,
    /// Share of all devices whose proxy was a fleet member.
    pub from_fleet: f64,
    /// The fleet's length on its clock (the slot after its last measurement), mean ± std over
    /// trials: with devices side by side, the measurements of one device's worth of wall time.
    #[serde(default)]
    pub slots: Spread,
    /// Devices that got a member still running when they started, per trial (mean).
    #[serde(default)]
    pub joined_when_confident: f64,
    /// Per arrival index, means over trials.
    pub curve: Vec<CurvePoint>,
    /// Every trial.
    pub runs: Vec<FleetTrial>,
}

/// Run the `targets` of `table` as a fleet and one at a time, `trials.count` times, and score
/// every device against its table. `on_run` is called after each fleet or one-at-a-time pass.
pub fn evaluate_fleet(
    table: &LatencyTable,
    accuracy: &AccuracyTable,
    targets: &[String],
    config: &FleetConfig,
    order: Arrival,
    trials: Trials,
    on_run: &(dyn Fn() + Sync),
) -> Result<FleetEvaluation> {
    super::trials::check_targets(targets)?;
    config.check()?;
    let n_trials = trials.effective(true)?;
    for t in targets {
        check_scorable(table, t, accuracy, config.nas.samples.len())?;
    }
    let pool = table.without_devices(targets);
    let initial_pool = resolve_pool(&pool, &config.nas.proxy, "")?;
    let truths: Vec<Truth> = targets.par_iter().map(|t| Truth::new(table, t, accuracy)).collect::<Result<_>>()?;
    let alone_config = FleetConfig { join: false, concurrency: targets.len(), ..config.clone() };
    let runs: Vec<FleetTrial> = (0..n_trials)
        .into_par_iter()
        .map(|trial| {
            let arrived = arrival_order(targets.len(), order, trials.seed, trial);
            let stream = |t: &str| target_seed(trials.seed, trial, t);
            let pass = |indices: &[usize], c: &FleetConfig| -> Result<FleetOutcome> {
                let mut tables: Vec<TableOracle> =
                    indices.iter().map(|&i| TableOracle::new(table, &targets[i])).collect::<Result<_>>()?;
                let mut oracles: Vec<&mut (dyn TargetOracle + Send)> =
                    tables.iter_mut().map(|o| o as &mut (dyn TargetOracle + Send)).collect();
                let out = run_fleet_seeded(&pool, accuracy, &mut oracles, c, &stream, &|_, _| {})?;
                on_run();
                Ok(out)
            };
            let fleet = pass(&arrived, config)?;
            let alone = pass(&arrived, &alone_config)?;
            let devices = fleet
                .devices
                .iter()
                .zip(&alone.devices)
                .zip(&arrived)
                .map(|((f, a), &i)| {
                    let (x, y) = (&f.outcome, &a.outcome);
                    Ok(FleetScored {
                        target: targets[i].clone(),
                        arrival: f.arrival,
                        proxy: x.proxy.clone(),
                        proxy_source: f.proxy_source.clone(),
                        action: x.decision,
                        measurements: x.measurements,
                        regret: score_against(x, &truths[i])?.regret,
                        alone_proxy: y.proxy.clone(),
                        alone_measurements: y.measurements,
                        alone_regret: score_against(y, &truths[i])?.regret,
                        span: f.span,
                        confident_members: f.confident_members.clone(),
                    })
                })
                .collect::<Result<_>>()?;
            Ok(FleetTrial { trial, devices })
        })
        .collect::<Result<_>>()?;
    let devices = runs.iter().flat_map(|r| &r.devices);
    let from_fleet = devices.clone().filter(|d| matches!(d.proxy_source, ProxySource::Fleet { .. })).count() as f64
        / devices.count().max(1) as f64;
    Ok(FleetEvaluation {
        order,
        concurrency: config.concurrency,
        join_regret: config.join_regret,
        initial_pool,
        trials: n_trials,
        fleet: over_trials(&runs, |d| (d.regret, d.measurements)),
        alone: over_trials(&runs, |d| (d.alone_regret, d.alone_measurements)),
        from_fleet,
        slots: Spread::of(
            &runs.iter().map(|r| r.devices.iter().map(|d| d.span.end()).max().unwrap_or(0) as f64).collect::<Vec<_>>(),
        ),
        joined_when_confident: runs
            .iter()
            .map(|r| r.devices.iter().filter(|d| !d.confident_members.is_empty()).count() as f64)
            .sum::<f64>()
            / runs.len().max(1) as f64,
        curve: curve(&runs, targets.len()),
        runs,
    })
}

/// The arrival order of a trial: indices into the targets.
fn arrival_order(n: usize, order: Arrival, seed: u64, trial: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    if order == Arrival::Random {
        let mut rng = seeded_rng(seed.wrapping_add(trial as u64) ^ ORDER_STREAM);
        rand::seq::SliceRandom::shuffle(indices.as_mut_slice(), &mut rng);
    }
    indices
}

/// Per trial the mean over devices of (regret, measurements), then mean ± std over trials.
fn over_trials(runs: &[FleetTrial], of: impl Fn(&FleetScored) -> (f64, usize)) -> MethodScore {
    let means: Vec<(f64, f64)> = runs
        .iter()
        .map(|r| {
            let n = r.devices.len().max(1) as f64;
            let (regret, count) = r.devices.iter().map(&of).fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y as f64));
            (regret / n, count / n)
        })
        .collect();
    let (regrets, counts): (Vec<f64>, Vec<f64>) = means.into_iter().unzip();
    MethodScore { regret: Spread::of(&regrets), measurements: Spread::of(&counts) }
}

/// Per arrival index, means over trials.
fn curve(runs: &[FleetTrial], n: usize) -> Vec<CurvePoint> {
    let trials = runs.len().max(1) as f64;
    (0..n)
        .map(|arrival| {
            let at: Vec<&FleetScored> = runs.iter().filter_map(|r| r.devices.get(arrival)).collect();
            let mean = |f: &dyn Fn(&FleetScored) -> f64| at.iter().map(|d| f(d)).sum::<f64>() / trials;
            CurvePoint {
                arrival,
                measurements: mean(&|d| d.measurements as f64),
                alone_measurements: mean(&|d| d.alone_measurements as f64),
                regret: mean(&|d| d.regret),
                alone_regret: mean(&|d| d.alone_regret),
                from_fleet: mean(&|d| f64::from(u8::from(matches!(d.proxy_source, ProxySource::Fleet { .. })))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::SpaceId;

    fn evaluate(targets: &[&str], order: Arrival, trials: Trials) -> Result<FleetEvaluation> {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        evaluate_fleet(&b.latency, acc, &targets, &FleetConfig::default(), order, trials, &|| {})
    }

    #[test]
    fn a_fleet_evaluation_scores_every_device_beside_its_run_alone_and_repeats_for_a_seed() {
        let targets = ["titanx_1", "titanx_32", "titanxp_1"];
        let e = evaluate(&targets, Arrival::Random, Trials { count: 2, seed: 5 }).unwrap();
        assert_eq!((e.trials, e.runs.len(), e.curve.len()), (2, 2, 3));
        assert!(e.initial_pool.iter().all(|p| !targets.contains(&p.as_str())));
        for r in &e.runs {
            let mut seen: Vec<&str> = r.devices.iter().map(|d| d.target.as_str()).collect();
            seen.sort();
            assert_eq!(seen, targets);
            // The first device has nobody to learn from: the fleet is the flow alone.
            let first = &r.devices[0];
            assert_eq!((first.measurements, first.regret), (first.alone_measurements, first.alone_regret));
        }
        assert_eq!(e.curve[0].from_fleet, 0.0);
        assert_eq!(evaluate(&targets, Arrival::Random, Trials { count: 2, seed: 5 }).unwrap(), e);
        let given = evaluate(&targets, Arrival::Given, Trials { count: 1, seed: 5 }).unwrap();
        assert_eq!(given.runs[0].devices.iter().map(|d| d.target.as_str()).collect::<Vec<_>>(), targets);
    }

    #[test]
    fn an_unknown_or_repeated_target_or_an_empty_fleet_is_refused_with_the_reason() {
        let err = evaluate(&["pixel2", "nope"], Arrival::Given, Trials::default()).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
        let err = evaluate(&["pixel2", "pixel2"], Arrival::Given, Trials::default()).unwrap_err().to_string();
        assert!(err.contains("listed twice"), "{err}");
        let err = evaluate(&[], Arrival::Given, Trials::default()).unwrap_err().to_string();
        assert!(err.contains("no target"), "{err}");
    }
}
