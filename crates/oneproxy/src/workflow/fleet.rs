//! A fleet of targets: every device the flow has finished, or whose model is confident enough,
//! joins the proxy pool of the devices that start after it.
//!
//! Devices run the one-proxy flow ([`Flow`]) in a given arrival order. A device joins the pool
//! of the devices that start after it as one more proxy column, `fleet-<target>`
//! ([`member_name`]): its measured latencies where it measured, and its latency model (the
//! flow's calibrated prediction, [`super::nas::Prediction`]) for every other candidate. It joins
//! when its flow ends, or, with [`FleetConfig::join_regret`], as soon as its flow's estimate of
//! the regret it leaves is within that many points ([`FlowEvent::Confident`]), with its model
//! then. The column is recorded as computed, not measured, and every device's outcome says which
//! proxy it used and whether that proxy was a fleet member ([`ProxySource`]). A device of the same
//! family as one before it then finds a proxy that ranks like it, which a bundled device may not.
//!
//! **Schedule.** Devices run `concurrency` at a time, on a clock counted in measurement slots
//! (one architecture measured per slot per device, re-measurements included): the first
//! `concurrency` devices start at slot 0, and each next one in arrival order starts when a running
//! device ends, in its slot (the lowest one when several end together), so a slot never idles
//! while devices wait. A device's pool is the initial pool and the members whose column was
//! there by its start: those that ended at or before it, and, with `join_regret`, those that were
//! confident by then (a member counts once, with its latest column), in the order they joined.
//!
//! **Determinism.** Every decision reads that clock, never the wall clock: a device starts only
//! once the devices before it have measured far enough for its start and its pool to be
//! settled (each has ended, or has measured beyond that slot: a confidence announced by then
//! precedes its next measurement), and it waits for them otherwise. The same arrival order and
//! seed give the same fleet whatever the order in which answers come back. `concurrency` 1 is one
//! device at a time (each joins the pool of the next); the fleet's size is all at once, where
//! every device starts at slot 0 and nobody learns from anybody.

use super::evaluate::trials::{check_targets, in_target};
use super::nas::{Confidence, Flow, FlowEvent, NasConfig, NasOutcome, Prediction};
use super::oracle::TargetOracle;
use super::samples::target_seed;
use crate::data::{AccuracyTable, DeviceSource, LatencyTable};
use crate::error::{Error, Result};
use crate::predictor::proxies::resolve_pool;
use crate::predictor::ProxySelection;
use crate::space::Arch;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};

/// What a finished device's column is called in the pool of the devices after it.
pub fn member_name(target: &str) -> String {
    format!("fleet-{target}")
}

/// Settings of a fleet (checked by [`FleetConfig::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    /// The flow every device runs; its proxy must be a pool (`Auto`), which fleet members join.
    pub nas: NasConfig,
    /// Devices measured side by side (at least 1).
    pub concurrency: usize,
    /// Whether devices join the pool (`false`: every device runs against the initial pool
    /// alone, the one-at-a-time flow a fleet is compared with).
    pub join: bool,
    /// A running device also joins, with its model then, once its flow's estimate of the regret
    /// it leaves has its 80% bound within this many points ([`NasConfig::confident_at`]);
    /// `None`: only when its flow ends.
    pub join_regret: Option<f64>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig { nas: NasConfig::default(), concurrency: 1, join: true, join_regret: None }
    }
}

impl FleetConfig {
    /// Check the settings.
    pub fn check(&self) -> Result<()> {
        self.nas.check()?;
        if let Some(r) = self.join_regret.filter(|r| !(r.is_finite() && *r >= 0.0)) {
            return Err(Error::bad_parameter(
                "join_regret",
                format!("the regret a device joins at is a non-negative number of accuracy points, got {r}"),
            ));
        }
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
    /// Which start it shared (0: the devices that started at slot 0, 1: the next start, ...).
    pub wave: usize,
    /// Where its proxy came from.
    pub proxy_source: ProxySource,
    /// The fleet members in its pool (their column names), in the order they joined.
    pub fleet_pool: Vec<String>,
    /// Those of `fleet_pool` that were still running when it started: they joined with their
    /// model when they became confident ([`FleetConfig::join_regret`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confident_members: Vec<String>,
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

/// Where one device's measurements fall in the fleet's life, in measurement slots (the
/// module's schedule): running devices measure side by side, one architecture per slot each.
/// Slots, not seconds: a table oracle has no clock, and a real fleet's seconds depend on its
/// devices, while slots show what the fleet's order and its learning decide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The slot its first measurement takes.
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

impl Span {
    /// The span of a device whose flow gave `outcome`, started at slot `start`.
    fn of(outcome: &NasOutcome, start: usize) -> Span {
        let samples = outcome.measured.iter().filter(|m| m.stage == super::nas::Stage::Samples).count();
        Span { start, samples, candidates: outcome.measured.len() - samples, remeasurements: outcome.remeasurements }
    }
}

/// A fleet member's column, as the devices after it read it.
struct Column {
    /// Its latency of every candidate it has one for.
    values: Arc<Vec<(Arch, f64)>>,
    /// How it was made (the column's source in the pool).
    source: String,
}

/// What one device has done so far, as the schedule of the devices after it reads it.
#[derive(Default)]
struct Progress {
    /// Its start and slot, once scheduled.
    start: Option<(usize, usize)>,
    /// The architectures it measured so far (at most as many as its flow counts).
    measured: HashSet<String>,
    /// Its flow's measurement count when it became confident, with its column then.
    confident: Option<(usize, Arc<Column>)>,
    /// Its length in slots once its flow ended, with its final column (when members join).
    ended: Option<(usize, Option<Arc<Column>>)>,
    /// Whether it will change nothing more: it ended, failed, or gave up without starting.
    settled: bool,
}

impl Progress {
    /// The slot its start plus what it measured reached (it ends at or after it).
    fn reached(&self) -> Option<usize> {
        self.start.map(|(s, _)| s + self.measured.len())
    }

    /// Its end slot, once ended.
    fn end(&self) -> Option<usize> {
        Some(self.start?.0 + self.ended.as_ref()?.0)
    }
}

/// Every device's progress, shared by their threads.
struct Board {
    devices: Vec<Progress>,
    /// Set when a device's flow failed: the devices whose start the clock can no longer
    /// settle give up.
    aborted: bool,
}

/// A member in a device's pool: its arrival index, the slot its column joined at, whether it
/// was still running (confident) then, and the column.
type Joined = (usize, usize, bool, Arc<Column>);

/// Device `i`'s start, slot and pool, once what the devices before it did settles them (`None`:
/// not yet; see the module's schedule).
fn plan(board: &Board, i: usize, concurrency: usize, join: bool) -> Option<(usize, usize, Vec<Joined>)> {
    let before = &board.devices[..i];
    let (start, slot) = if i < concurrency {
        (0, i)
    } else {
        // The running device of each slot: the last one started in it.
        let mut occupant: Vec<Option<usize>> = vec![None; concurrency];
        for (j, p) in before.iter().enumerate() {
            occupant[p.start?.1] = Some(j);
        }
        let occupants: Vec<usize> = occupant.into_iter().flatten().collect();
        let first_end = occupants.iter().filter_map(|&j| before[j].end()).min()?;
        // Settled once every device still running has measured beyond it (it ends later).
        if occupants.iter().any(|&j| before[j].end().is_none() && before[j].reached().is_none_or(|r| r <= first_end)) {
            return None;
        }
        let slot = occupants
            .iter()
            .filter(|&&j| before[j].end() == Some(first_end))
            .map(|&j| before[j].start.map_or(usize::MAX, |s| s.1))
            .min()?;
        (first_end, slot)
    };
    let mut pool: Vec<Joined> = Vec::new();
    if join && start > 0 {
        for (j, p) in before.iter().enumerate() {
            let s = p.start?.0;
            match (p.end(), &p.ended) {
                (Some(end), Some((_, Some(column)))) if end <= start => pool.push((j, end, false, column.clone())),
                (None, _) if p.reached()? <= start => return None,
                _ => {
                    if let Some((k, column)) = p.confident.as_ref().filter(|(k, _)| s + k <= start) {
                        pool.push((j, s + k, true, column.clone()));
                    }
                }
            }
        }
    }
    pool.sort_by_key(|m| (m.1, m.0));
    Some((start, slot, pool))
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
/// per target and trial). Every device runs on a thread of its own, waiting for its start
/// (the module's schedule).
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
    let nas = NasConfig { confident_at: config.join_regret.filter(|_| config.join), ..config.nas.clone() };
    // The flows' parallel steps run on a pool of the fleet's own, with a thread for every device
    // that may measure at once: a device blocks its thread while its oracle answers, and a
    // caller's pool (rayon's global one, whose threads may all be blocked waiting for fleets of
    // their own) is never waited on from here.
    let side_by_side = config.concurrency.min(targets.len());
    let workers = rayon::ThreadPoolBuilder::new()
        .num_threads(side_by_side.max(rayon::current_num_threads()))
        .thread_name(|i| format!("oneproxy-fleet-{i}"))
        .build()
        .map_err(|e| Error::Engine(format!("starting the fleet's threads: {e}")))?;
    let board =
        Mutex::new(Board { devices: (0..targets.len()).map(|_| Progress::default()).collect(), aborted: false });
    let changed = Condvar::new();
    let lock = || board.lock().unwrap_or_else(|e| e.into_inner());
    let update = |f: &mut dyn FnMut(&mut Board)| {
        f(&mut lock());
        changed.notify_all();
    };
    // One device: wait for its start and pool, run its flow, say what it did. `Ok(None)`: a
    // device failed and the clock can no longer settle this one's start.
    //
    // After a failure the others go on: those running finish, and a device still waiting starts
    // if what the devices before it measure (the failed one's measurements up to its failure
    // included) settles its start. It gives up only once every device before it is settled
    // itself (ended, failed or given up), so which devices run after a failure depends on the
    // clock, never on which thread woke first.
    let device = |i: usize, oracle: &mut (dyn TargetOracle + Send)| -> Result<Option<(FleetDevice, usize)>> {
        let target = oracle.device().to_string();
        let (start, members) = {
            let mut b = lock();
            loop {
                if let Some((start, slot, members)) = plan(&b, i, config.concurrency, config.join) {
                    b.devices[i].start = Some((start, slot));
                    break (start, members);
                }
                if b.aborted && b.devices[..i].iter().all(|p| p.settled) {
                    b.devices[i].settled = true;
                    drop(b);
                    changed.notify_all();
                    return Ok(None);
                }
                b = changed.wait(b).unwrap_or_else(|e| e.into_inner());
            }
        };
        changed.notify_all();
        let mut run = || -> Result<NasOutcome> {
            let mut table = pool.clone();
            let mut names = Vec::with_capacity(members.len());
            for (j, _, _, column) in &members {
                let name = member_name(&targets[*j]);
                table.add_device(&name, DeviceSource::Computed(column.source.clone()), column.values.to_vec())?;
                names.push(name);
            }
            let nas = with_members(&nas, &initial, &names);
            let flow = Flow::new(&table, accuracy);
            let space = table.space().space();
            let oracle = &mut *oracle;
            workers.install(|| -> Result<NasOutcome> {
                flow.prepare(&nas, &target)?;
                flow.run_prepared(oracle, &nas, stream(&target), &mut |e| {
                    match &e {
                        FlowEvent::Measured { arch, .. } => {
                            update(&mut |b| {
                                b.devices[i].measured.insert(arch.clone());
                            });
                        }
                        FlowEvent::Confident(c) => {
                            let column = Arc::new(confident_column(space, &target, c));
                            update(&mut |b| b.devices[i].confident = Some((c.measurements, column.clone())));
                        }
                        _ => {}
                    }
                    events(i, e)
                })
            })
        };
        // The flow and its column to join with; on failure the devices waiting on it are told.
        let finished = run().map_err(|e| in_target(&target, e)).and_then(|outcome| {
            let column = if config.join { Some(Arc::new(final_column(pool, &outcome)?)) } else { None };
            Ok((outcome, column))
        });
        let (outcome, column) = match finished {
            Ok(finished) => finished,
            Err(e) => {
                update(&mut |b| {
                    b.aborted = true;
                    b.devices[i].settled = true;
                });
                return Err(e);
            }
        };
        let span = Span::of(&outcome, start);
        update(&mut |b| {
            b.devices[i].ended = Some((span.end() - start, column.clone()));
            b.devices[i].settled = true;
        });
        let proxy_source = members
            .iter()
            .find(|(j, ..)| member_name(&targets[*j]) == outcome.proxy)
            .map_or(ProxySource::Pool, |(j, ..)| ProxySource::Fleet { target: targets[*j].clone(), arrival: *j });
        let name = |(j, ..): &Joined| member_name(&targets[*j]);
        let device = FleetDevice {
            arrival: i,
            wave: 0,
            proxy_source,
            fleet_pool: members.iter().map(name).collect(),
            confident_members: members.iter().filter(|m| m.2).map(name).collect(),
            outcome,
            span,
        };
        Ok(Some((device, start)))
    };
    let results: Vec<Result<Option<(FleetDevice, usize)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = oracles
            .iter_mut()
            .enumerate()
            .map(|(i, oracle)| {
                let device = &device;
                scope.spawn(move || device(i, &mut **oracle))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Engine("a fleet device's thread panicked".into()))))
            .collect()
    });
    let mut devices = Vec::with_capacity(results.len());
    let mut first_error = None;
    for r in results {
        match r {
            Ok(Some(d)) => devices.push(d),
            Ok(None) => {}
            Err(e) => _ = first_error.get_or_insert(e),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // Waves: the devices that shared a start.
    let mut starts: Vec<usize> = devices.iter().map(|d| d.1).collect();
    starts.dedup();
    let devices = devices
        .into_iter()
        .map(|(d, start)| FleetDevice { wave: starts.partition_point(|&s| s < start), ..d })
        .collect();
    Ok(FleetOutcome { devices })
}

/// The flow's settings with the members added to the pool, named: the default pool holds only
/// measured devices, and a member's column is computed.
fn with_members(nas: &NasConfig, initial: &[String], members: &[String]) -> NasConfig {
    let mut pool = initial.to_vec();
    pool.extend(members.iter().cloned());
    NasConfig { proxy: ProxySelection::Auto { pool: Some(pool) }, ..nas.clone() }
}

/// A column: `measured` latencies where measured (by canonical string), the prediction's
/// elsewhere; and how many were measured.
fn column_of(
    space: &dyn crate::space::SearchSpace,
    prediction: &Prediction,
    measured: &HashMap<String, f64>,
) -> (Vec<(Arch, f64)>, usize) {
    let mut count = 0;
    let values = prediction
        .archs
        .iter()
        .zip(&prediction.mu)
        .filter_map(|(a, mu)| match measured.get(&space.format(a)) {
            Some(&v) => {
                count += 1;
                Some((a.clone(), v))
            }
            None => mu.is_finite().then(|| (a.clone(), mu.exp())),
        })
        .collect();
    (values, count)
}

/// A finished device's column: its measured latencies (the values its front used), its final
/// model's prediction for every other candidate.
fn final_column(table: &LatencyTable, outcome: &NasOutcome) -> Result<Column> {
    let space = table.space().space();
    let prediction = outcome.prediction.as_ref().ok_or_else(|| {
        Error::InvalidParameter(format!("target '{}': the flow kept no final prediction to join with", outcome.target))
    })?;
    let measured: HashMap<String, f64> = outcome.measured.iter().map(|m| (m.arch.clone(), m.value_ms())).collect();
    let (values, count) = column_of(space, prediction, &measured);
    let source = format!(
        "fleet member '{}': {count} measured latencies, its final model's predictions elsewhere",
        outcome.target
    );
    Ok(Column { values: Arc::new(values), source })
}

/// A running device's column once it is confident: what it measured so far, its model's
/// prediction then for every other candidate.
fn confident_column(space: &'static dyn crate::space::SearchSpace, target: &str, c: &Confidence) -> Column {
    let measured: HashMap<String, f64> = c.measured.iter().map(|(a, v)| (space.format(a), *v)).collect();
    let (values, count) = column_of(space, &c.prediction, &measured);
    let source = format!(
        "fleet member '{target}', confident after {} measurements (estimated remaining regret <= {:.3} points): \
         {count} measured latencies, its model's predictions then elsewhere",
        c.measurements, c.bound
    );
    Column { values: Arc::new(values), source }
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

    /// A table that answers after a pause of random length, drawn from the clock: the order in
    /// which the devices' answers come back changes from run to run. With `requests_left`, the
    /// device goes away as soon as it has answered that many requests (the last one's answers
    /// are kept).
    struct Jittery<'t> {
        table: TableOracle<'t>,
        requests_left: Option<usize>,
        /// Architectures answered so far.
        answered: usize,
    }

    impl TargetOracle for Jittery<'_> {
        fn device(&self) -> &str {
            self.table.device()
        }
        fn domain(&self) -> Option<Vec<Arch>> {
            self.table.domain()
        }
        fn exact(&self) -> bool {
            self.table.exact()
        }
        fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, crate::workflow::Answer)) -> Result<()> {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
            std::thread::sleep(std::time::Duration::from_micros(u64::from(nanos % 3000)));
            self.answered += archs.len();
            self.table.measure(archs, answer)?;
            match &mut self.requests_left {
                Some(left) if *left <= 1 => Err(Error::Engine(format!("{} went away", self.table.device()))),
                Some(left) => {
                    *left -= 1;
                    Ok(())
                }
                None => Ok(()),
            }
        }
    }

    /// The fleet on jittery tables, `fail` naming a device and after how many requests it goes
    /// away; with how many architectures each device answered.
    fn jittery_run(
        targets: &[&str],
        config: &FleetConfig,
        fail: Option<(&str, usize)>,
    ) -> (Result<FleetOutcome>, Vec<usize>) {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let names: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        let pool = b.latency.without_devices(&names);
        let mut tables: Vec<Jittery> = targets
            .iter()
            .map(|t| Jittery {
                table: TableOracle::new(&b.latency, t).unwrap(),
                requests_left: fail.filter(|f| f.0 == *t).map(|f| f.1),
                answered: 0,
            })
            .collect();
        let mut oracles: Vec<&mut (dyn TargetOracle + Send)> =
            tables.iter_mut().map(|o| o as &mut (dyn TargetOracle + Send)).collect();
        let out = run_fleet(&pool, acc, &mut oracles, config, &|_, _| {});
        (out, tables.iter().map(|t| t.answered).collect())
    }

    fn jittery_fleet(targets: &[&str], config: &FleetConfig) -> FleetOutcome {
        jittery_run(targets, config, None).0.unwrap()
    }

    /// When a device fails, the others go on: a device waiting for its start runs to its end if
    /// what was measured before the failure settles its start, whichever thread woke first.
    #[test]
    fn after_a_failure_a_device_whose_start_was_settled_runs_whatever_the_timing() {
        let config = FleetConfig { concurrency: 2, ..small_pool() };
        let targets = ["titanx_1", "titanx_32", "pixel2", "titanxp_1"];
        let whole = fleet(&targets, &config).unwrap();
        let span = |k: usize| whole.devices[k].span;
        let (third, fourth) = (span(2), span(3));
        // The fourth starts when the earlier of the first two ends, pixel2 still running then.
        assert!(fourth.start > third.start && third.end() > fourth.start + 2, "{third:?} {fourth:?}");
        // pixel2 answers its samples in one request, then one candidate per request, and goes
        // away right after the answer that takes it beyond the fourth's start (long before its
        // end): the fourth's thread can hardly have woken to see its start settled by then.
        let short = (fourth.start + 1).saturating_sub(third.start + third.samples);
        let requests = short + 1;
        let whole_answers: Vec<usize> =
            whole.devices.iter().map(|d| d.outcome.measurements + d.outcome.remeasurements).collect();
        for _ in 0..3 {
            let (out, answered) = jittery_run(&targets, &config, Some(("pixel2", requests)));
            let err = out.unwrap_err().to_string();
            assert!(err.contains("pixel2 went away"), "{err}");
            assert_eq!(answered[2], third.samples + requests - 1);
            assert!(third.start + answered[2] > fourth.start);
            // Every other device measured exactly what it measures in the unbroken fleet.
            for k in [0, 1, 3] {
                assert_eq!(answered[k], whole_answers[k], "{}", targets[k]);
            }
        }
    }

    /// Two devices measure side by side from slot 0; the third takes the slot of the first to
    /// end, when it ends, with that one in its pool and not the one still running; every
    /// measurement has a slot.
    #[test]
    fn a_device_starts_in_the_first_slot_to_free_with_the_members_ended_by_then() {
        let config = FleetConfig { concurrency: 2, ..small_pool() };
        let targets = ["titanx_1", "titanx_32", "pixel2"];
        let first = fleet(&targets, &config).unwrap();
        let spans: Vec<Span> = first.devices.iter().map(|d| d.span).collect();
        assert_eq!((spans[0].start, spans[1].start), (0, 0));
        let (end0, end1) = (spans[0].end(), spans[1].end());
        assert_eq!(spans[2].start, end0.min(end1));
        let ended: Vec<String> = [(end0, "titanx_1"), (end1, "titanx_32")]
            .iter()
            .filter(|e| e.0 <= spans[2].start)
            .map(|e| member_name(e.1))
            .collect();
        assert_eq!(first.devices[2].fleet_pool, ended);
        assert!(first.devices[1].fleet_pool.is_empty() && first.devices[2].confident_members.is_empty());
        assert_eq!(first.devices.iter().map(|d| d.wave).collect::<Vec<_>>(), [0, 0, 1]);
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

    /// With `join_regret`, a device still running joins the pool of a device that starts after
    /// it became confident, with its model then; and the fleet is the same whatever the order
    /// in which the answers come back.
    #[test]
    fn a_confident_device_joins_before_it_ends_and_the_fleet_ignores_timing() {
        let config = FleetConfig { concurrency: 2, join_regret: Some(5.0), ..small_pool() };
        let targets = ["titanx_1", "titanx_32", "titanxp_1", "titanxp_32"];
        let first = jittery_fleet(&targets, &config);
        for _ in 0..2 {
            assert_eq!(jittery_fleet(&targets, &config), first);
        }
        let joined_early: Vec<&String> = first.devices.iter().flat_map(|d| &d.confident_members).collect();
        assert!(!joined_early.is_empty(), "{:?}", first.devices.iter().map(|d| &d.fleet_pool).collect::<Vec<_>>());
        for d in &first.devices {
            for m in &d.confident_members {
                assert!(d.fleet_pool.contains(m));
                let member = first.devices.iter().find(|e| &member_name(&e.outcome.target) == m).unwrap();
                assert!(
                    member.span.start < d.span.start && member.span.end() > d.span.start,
                    "{m} in {}",
                    d.outcome.target
                );
            }
        }
        let err = fleet(&targets, &FleetConfig { join_regret: Some(-1.0), ..small_pool() }).unwrap_err().to_string();
        assert!(err.contains("join_regret"), "{err}");
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
