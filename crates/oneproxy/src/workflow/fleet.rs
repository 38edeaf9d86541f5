//! A fleet of targets: every device the flow has finished joins the proxy pool of the next.
//!
//! Devices run the one-proxy flow ([`Flow`]) in a given arrival order. When one finishes, it
//! joins the pool of the devices that start after it as one more proxy column,
//! `fleet-<target>` ([`member_name`]): its measured latencies where it measured, and its final
//! latency model (the flow's calibrated prediction, [`super::nas::Prediction`]) for every other
//! candidate. The column is recorded as computed, not measured, and every device's outcome says
//! which proxy it used and whether that proxy was a fleet member ([`ProxySource`]). A device of
//! the same family as one finished before it then finds a proxy that ranks like it, which a
//! bundled device may not.
//!
//! Devices run `concurrency` at a time, in waves: a wave starts from the pool as it stands after
//! the previous wave, its devices run side by side, and they join in arrival order once the whole
//! wave is done. What a device sees therefore depends only on the arrival order and on what the
//! earlier waves measured, never on which answer came back first: a fleet gives the same result
//! for the same seed whatever the timing. `concurrency` 1 is one device at a time (each joins the
//! pool of the next); the fleet's size is all at once (nobody learns from anybody). A device does
//! not join in the middle of another device's run: the flow runs to its end once started.

use super::evaluate::trials::{check_targets, in_target};
use super::nas::{Flow, FlowEvent, NasConfig, NasOutcome};
use super::oracle::TargetOracle;
use super::samples::target_seed;
use crate::data::{AccuracyTable, DeviceSource, LatencyTable};
use crate::error::{Error, Result};
use crate::predictor::proxies::resolve_pool;
use crate::predictor::ProxySelection;
use crate::space::Arch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a finished device's column is called in the pool of the devices after it.
pub fn member_name(target: &str) -> String {
    format!("fleet-{target}")
}

/// Settings of a fleet (checked by [`FleetConfig::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    /// The flow every device runs; its proxy must be a pool (`Auto`), which fleet members join.
    pub nas: NasConfig,
    /// Devices run side by side in one wave (at least 1).
    pub concurrency: usize,
    /// Whether finished devices join the pool (`false`: every device runs against the initial
    /// pool alone, the one-at-a-time flow a fleet is compared with).
    pub join: bool,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig { nas: NasConfig::default(), concurrency: 1, join: true }
    }
}

impl FleetConfig {
    /// Check the settings.
    pub fn check(&self) -> Result<()> {
        self.nas.check()?;
        if self.concurrency == 0 {
            return Err(Error::bad_parameter("concurrency", "at least one device must run at a time"));
        }
        if let ProxySelection::Device(d) = &self.nas.proxy {
            return Err(Error::InvalidParameter(format!(
                "a fleet needs a pool of proxies for its devices to join, not one named proxy ('{d}'): use the pool \
                 (proxy auto)"
            )));
        }
        Ok(())
    }
}

/// Where a device's proxy came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProxySource {
    /// The initial pool (a device of the table the fleet started from).
    Pool,
    /// A fleet member that finished before this device started.
    Fleet {
        /// The member's own target name.
        target: String,
        /// Its arrival index.
        arrival: usize,
    },
}

/// One device of a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetDevice {
    /// Position in the arrival order (0 first).
    pub arrival: usize,
    /// The wave it ran in (0 first).
    pub wave: usize,
    /// Where its proxy came from.
    pub proxy_source: ProxySource,
    /// The fleet members in its pool (their column names), in the order they joined.
    pub fleet_pool: Vec<String>,
    /// What its flow did.
    pub outcome: NasOutcome,
    /// Where its measurements fall in the fleet's life ([`timeline`]).
    #[serde(default)]
    pub span: Span,
}

/// What a fleet did, device by device in arrival order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetOutcome {
    /// Per device.
    pub devices: Vec<FleetDevice>,
}

/// Where one device's measurements fall in the fleet's life, in measurement slots: the devices
/// of a wave measure side by side, one architecture per slot each, and a wave starts when the
/// longest device of the one before it has finished. Slots, not seconds: a table oracle has no
/// clock, and a real fleet's seconds depend on its devices, while slots show what the fleet's
/// order and its learning decide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The slot its first measurement takes (its wave's start).
    pub start: usize,
    /// Initial samples (the reuse-or-adapt decision).
    pub samples: usize,
    /// Every other architecture measured (adaptation samples and candidates).
    pub candidates: usize,
    /// Re-measurements before its front was reported.
    pub remeasurements: usize,
}

impl Span {
    /// The slot after its last measurement.
    pub fn end(&self) -> usize {
        self.start + self.samples + self.candidates + self.remeasurements
    }
}

/// Each of `devices`' [`Span`] (in their order; waves as they record them).
pub fn timeline(devices: &[FleetDevice]) -> Vec<Span> {
    let waves = devices.iter().map(|d| d.wave + 1).max().unwrap_or(0);
    let mut spans: Vec<Span> = devices
        .iter()
        .map(|d| {
            let o = &d.outcome;
            let samples = o.measured.iter().filter(|m| m.stage == super::nas::Stage::Samples).count();
            Span { start: 0, samples, candidates: o.measured.len() - samples, remeasurements: o.remeasurements }
        })
        .collect();
    let mut start = 0;
    for w in 0..waves {
        let mut longest = 0;
        for (_, span) in devices.iter().zip(spans.iter_mut()).filter(|(d, _)| d.wave == w) {
            span.start = start;
            longest = longest.max(span.end() - start);
        }
        start += longest;
    }
    spans
}

/// A fleet member: its column name, its target and its arrival index.
struct Member {
    column: String,
    target: String,
    arrival: usize,
}

/// Run a fleet: the targets behind `oracles` in that arrival order, each proxied from `pool`
/// and the members that joined before it. Each device's random stream comes from
/// `config.nas.seed` and its name, as [`Flow::run`]'s does; `events` gets every device's
/// progress with its arrival index.
pub fn run_fleet(
    pool: &LatencyTable,
    accuracy: &AccuracyTable,
    oracles: &mut [&mut (dyn TargetOracle + Send)],
    config: &FleetConfig,
    events: &(dyn Fn(usize, FlowEvent) + Sync),
) -> Result<FleetOutcome> {
    let seed = config.nas.seed;
    run_fleet_seeded(pool, accuracy, oracles, config, &|t| target_seed(seed, 0, t), events)
}

/// [`run_fleet`] with each device's stream given by `stream(target)` (evaluations derive one
/// per target and trial).
pub fn run_fleet_seeded(
    pool: &LatencyTable,
    accuracy: &AccuracyTable,
    oracles: &mut [&mut (dyn TargetOracle + Send)],
    config: &FleetConfig,
    stream: &(dyn Fn(&str) -> u64 + Sync),
    events: &(dyn Fn(usize, FlowEvent) + Sync),
) -> Result<FleetOutcome> {
    config.check()?;
    let targets: Vec<String> = oracles.iter().map(|o| o.device().to_string()).collect();
    check_targets(&targets).map_err(|e| e.context("fleet"))?;
    for t in &targets {
        if pool.device_index(&member_name(t)).is_ok() {
            return Err(Error::InvalidParameter(format!(
                "the pool already holds a device named '{}', the name target '{t}' would join under",
                member_name(t)
            )));
        }
    }
    // The initial pool, named (no target is left out here: each device's flow leaves itself out).
    let initial = resolve_pool(pool, &config.nas.proxy, "").map_err(|e| e.context("the fleet's initial pool"))?;
    let mut table = pool.clone();
    let mut members: Vec<Member> = Vec::new();
    let mut devices: Vec<FleetDevice> = Vec::with_capacity(oracles.len());
    for (wave, chunk) in oracles.chunks_mut(config.concurrency).enumerate() {
        let start = devices.len();
        let nas = with_members(&config.nas, &initial, &members);
        let outcomes: Vec<Result<NasOutcome>> = {
            let flow = Flow::new(&table, accuracy);
            chunk
                .par_iter_mut()
                .enumerate()
                .map(|(k, oracle)| {
                    let target = oracle.device().to_string();
                    flow.prepare(&nas, &target).map_err(|e| in_target(&target, e))?;
                    flow.run_prepared(&mut **oracle, &nas, stream(&target), &mut |e| events(start + k, e))
                        .map_err(|e| in_target(&target, e))
                })
                .collect()
        };
        let fleet_pool: Vec<String> = members.iter().map(|m| m.column.clone()).collect();
        for (k, outcome) in outcomes.into_iter().enumerate() {
            let outcome = outcome?;
            let proxy_source = members
                .iter()
                .find(|m| m.column == outcome.proxy)
                .map_or(ProxySource::Pool, |m| ProxySource::Fleet { target: m.target.clone(), arrival: m.arrival });
            devices.push(FleetDevice {
                arrival: start + k,
                wave,
                proxy_source,
                fleet_pool: fleet_pool.clone(),
                outcome,
                span: Span::default(),
            });
        }
        if config.join {
            for d in &devices[start..] {
                let column = member_name(&d.outcome.target);
                let (values, measured) = member_column(&table, &d.outcome)?;
                let source = DeviceSource::Computed(format!(
                    "fleet member '{}': {measured} measured latencies, its final model's predictions elsewhere",
                    d.outcome.target
                ));
                table.add_device(&column, source, values)?;
                members.push(Member { column, target: d.outcome.target.clone(), arrival: d.arrival });
            }
        }
    }
    for (device, span) in timeline(&devices).into_iter().enumerate() {
        devices[device].span = span;
    }
    Ok(FleetOutcome { devices })
}

/// The flow's settings with the members added to the pool, named: the default pool holds only
/// measured devices, and a member's column is computed.
fn with_members(nas: &NasConfig, initial: &[String], members: &[Member]) -> NasConfig {
    let mut pool = initial.to_vec();
    pool.extend(members.iter().map(|m| m.column.clone()));
    NasConfig { proxy: ProxySelection::Auto { pool: Some(pool) }, ..nas.clone() }
}

/// A finished device's column: its measured latencies (the values its front used), its final
/// model's prediction for every other candidate; and how many were measured.
fn member_column(table: &LatencyTable, outcome: &NasOutcome) -> Result<(Vec<(Arch, f64)>, usize)> {
    let space = table.space().space();
    let prediction = outcome.prediction.as_ref().ok_or_else(|| {
        Error::InvalidParameter(format!("target '{}': the flow kept no final prediction to join with", outcome.target))
    })?;
    let measured: HashMap<&str, f64> = outcome.measured.iter().map(|m| (m.arch.as_str(), m.value_ms())).collect();
    let mut count = 0;
    let values = prediction
        .archs
        .iter()
        .zip(&prediction.mu)
        .filter_map(|(a, mu)| match measured.get(space.format(a).as_str()) {
            Some(&v) => {
                count += 1;
                Some((a.clone(), v))
            }
            None => mu.is_finite().then(|| (a.clone(), mu.exp())),
        })
        .collect();
    Ok((values, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::workflow::oracle::TableOracle;
    use crate::SpaceId;

    fn fleet(targets: &[&str], config: &FleetConfig) -> Result<FleetOutcome> {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let names: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        let pool = b.latency.without_devices(&names);
        let mut tables: Vec<TableOracle> = targets.iter().map(|t| TableOracle::new(&b.latency, t).unwrap()).collect();
        let mut oracles: Vec<&mut (dyn TargetOracle + Send)> =
            tables.iter_mut().map(|o| o as &mut (dyn TargetOracle + Send)).collect();
        run_fleet(&pool, acc, &mut oracles, config, &|_, _| {})
    }

    /// Only pixel3 and a device of another family in the initial pool: the two titanx devices
    /// of the fleet rank like each other far better than like either.
    fn small_pool() -> FleetConfig {
        let pool = Some(vec!["pixel3".to_string(), "eyeriss".to_string()]);
        FleetConfig {
            nas: NasConfig { proxy: ProxySelection::Auto { pool }, ..NasConfig::default() },
            ..Default::default()
        }
    }

    #[test]
    fn a_finished_device_is_a_marked_proxy_of_the_devices_after_it() {
        let out = fleet(&["titanx_1", "titanx_32", "titanxp_1"], &small_pool()).unwrap();
        let d = &out.devices;
        assert_eq!(d.iter().map(|d| d.arrival).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(d[0].fleet_pool.is_empty() && d[0].proxy_source == ProxySource::Pool);
        assert_eq!(d[1].fleet_pool, ["fleet-titanx_1"]);
        assert_eq!(d[2].fleet_pool, ["fleet-titanx_1", "fleet-titanx_32"]);
        // The later devices find their family in the fleet, and say so.
        let from_fleet: Vec<&FleetDevice> =
            d[1..].iter().filter(|d| matches!(d.proxy_source, ProxySource::Fleet { .. })).collect();
        assert!(!from_fleet.is_empty(), "{:?}", d.iter().map(|d| &d.outcome.proxy).collect::<Vec<_>>());
        for f in from_fleet {
            let ProxySource::Fleet { target, arrival } = &f.proxy_source else { unreachable!() };
            assert_eq!(f.outcome.proxy, member_name(target));
            assert!(*arrival < f.arrival);
        }
    }

    #[test]
    fn a_fleet_gives_the_same_result_for_a_seed_whatever_the_concurrency_of_a_wave() {
        let config = FleetConfig { concurrency: 2, ..small_pool() };
        let targets = ["titanx_1", "titanx_32", "pixel2"];
        let first = fleet(&targets, &config).unwrap();
        assert_eq!(fleet(&targets, &config).unwrap(), first);
        // The first wave learns nothing from itself; the third device sees both.
        assert_eq!((first.devices[1].wave, first.devices[2].wave), (0, 1));
        assert!(first.devices[1].fleet_pool.is_empty());
        assert_eq!(first.devices[2].fleet_pool.len(), 2);
        // On the timeline the first wave measures side by side from slot 0; the third device
        // starts when the longer of the two has finished, and every measurement has a slot.
        let spans: Vec<Span> = first.devices.iter().map(|d| d.span).collect();
        assert_eq!(spans, timeline(&first.devices));
        assert_eq!((spans[0].start, spans[1].start), (0, 0));
        assert_eq!(spans[2].start, spans[0].end().max(spans[1].end()));
        for (span, d) in spans.iter().zip(&first.devices) {
            assert_eq!(span.samples + span.candidates, d.outcome.measurements);
            assert_eq!(span.end() - span.start, d.outcome.measurements + d.outcome.remeasurements);
            assert!(span.samples > 0 && span.candidates > 0, "{span:?}");
        }
        // Without joining, every device runs as alone, whatever the order.
        let alone = FleetConfig { join: false, ..small_pool() };
        let a = fleet(&targets, &alone).unwrap();
        let b = fleet(&["pixel2", "titanx_32", "titanx_1"], &alone).unwrap();
        assert_eq!(a.devices[0].outcome, b.devices[2].outcome);
        assert!(a.devices.iter().all(|d| d.fleet_pool.is_empty()));
    }

    #[test]
    fn an_empty_or_repeated_fleet_or_a_named_proxy_is_refused_with_the_reason() {
        let err = fleet(&[], &FleetConfig::default()).unwrap_err().to_string();
        assert!(err.contains("no target"), "{err}");
        let err = fleet(&["pixel2", "pixel2"], &FleetConfig::default()).unwrap_err().to_string();
        assert!(err.contains("'pixel2' is listed twice"), "{err}");
        let named = FleetConfig {
            nas: NasConfig { proxy: ProxySelection::Device("pixel3".into()), ..NasConfig::default() },
            ..Default::default()
        };
        let err = fleet(&["pixel2"], &named).unwrap_err().to_string();
        assert!(err.contains("pool of proxies"), "{err}");
        let err = fleet(&["pixel2"], &FleetConfig { concurrency: 0, ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("concurrency"), "{err}");
    }

    #[test]
    fn a_table_without_some_devices_keeps_the_rest_and_the_row_order() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let less = t.without_devices(&["pixel3".into(), "nope".into()]);
        assert!(less.device_index("pixel3").is_err());
        assert_eq!(less.devices().len(), t.devices().len() - 1);
        assert_eq!(less.archs(), t.archs());
        let col = (t.device_index("raspi4").unwrap(), less.device_index("raspi4").unwrap());
        assert_eq!(t.column(col.0), less.column(col.1));
    }
}
