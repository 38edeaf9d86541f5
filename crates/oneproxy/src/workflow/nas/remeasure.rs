//! Measuring again before the front is reported: which measured architectures are in doubt, and
//! how repeated values are combined.
//!
//! A single slow or fast reading of a device under load can push a true front member off the
//! front, or put an impostor on it. So the flow measures again every member of the measured
//! front, and every measured candidate whose value is in doubt ([`in_doubt`]) where a wrong value
//! would change the front. Values are combined by their median: two that agree (within
//! [`AGREE`]) settle an architecture, and when they do not, a third decides. A value in doubt is
//! left out once the architecture is measured again, so it takes two repeats.
//! The front is then recomputed, and members new to it are measured again in the next round, at
//! most [`MAX_ROUNDS`] rounds. An exact oracle (a recorded table) answers the same every time,
//! so by default ([`Remeasure::Auto`]) it is not asked again.

use crate::error::{Error, Result};
use crate::search::pareto_front;
use crate::workflow::design::{LatencyModel, MIN_SIGMA};
use serde::{Deserialize, Serialize};

/// Rounds of re-measurement at most: the front's members, then those new to it, ...
pub(super) const MAX_ROUNDS: usize = 3;

/// Two values of one architecture agree when their ratio is within this many natural-log units
/// (about 10%); otherwise a third measurement decides.
pub(super) const AGREE: f64 = 0.1;

/// Standard deviations between a measured value and the flow's prediction beyond which the value
/// is in doubt.
const SURPRISE: f64 = 3.0;

/// Whether the flow measures its final front again before reporting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Remeasure {
    /// Only when the oracle is not exact ([`TargetOracle::exact`](crate::workflow::TargetOracle::exact)):
    /// a device, a runner, a callable; never a recorded table.
    #[default]
    Auto,
    /// Always, an exact oracle too.
    Always,
    /// Never: the front is reported on the first measurements.
    Never,
}

impl Remeasure {
    /// The names, as options take them.
    pub const NAMES: [&'static str; 3] = ["auto", "always", "never"];

    /// `auto`, `always` or `never`.
    pub fn name(self) -> &'static str {
        match self {
            Remeasure::Auto => "auto",
            Remeasure::Always => "always",
            Remeasure::Never => "never",
        }
    }

    /// The setting of a name in [`Remeasure::NAMES`].
    pub fn named(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Remeasure::Auto),
            "always" => Ok(Remeasure::Always),
            "never" => Ok(Remeasure::Never),
            other => Err(Error::InvalidParameter(format!(
                "re-measurement is one of {}, got '{other}'",
                Remeasure::NAMES.join(", ")
            ))),
        }
    }

    /// Whether to re-measure with an oracle that is `exact` or not.
    pub fn applies(self, exact: bool) -> bool {
        match self {
            Remeasure::Auto => !exact,
            Remeasure::Always => true,
            Remeasure::Never => false,
        }
    }
}

/// Whether an architecture's values settle it: none or one do not (it is measured again), two
/// that agree within [`AGREE`] do, and a third always decides.
pub(super) fn settled(values: &[f64]) -> bool {
    match values {
        [] | [_] => false,
        [a, b] => (a / b).ln().abs() <= AGREE,
        _ => true,
    }
}

/// One measured candidate, as [`in_doubt`] sees it.
#[derive(Debug, Clone)]
pub(super) struct Reading<'r> {
    /// Candidate index.
    pub index: usize,
    /// Its value now, ms.
    pub value: f64,
    /// The relative spread of its runs, if it had several.
    pub spread: Option<f64>,
    /// Its runs, ms (empty: one value).
    pub runs: &'r [f64],
}

/// What the flow predicted of every candidate: the prediction in any unit (a reused proxy's
/// own latencies) and the spread of ln(ms) among the prediction's members (empty: one).
pub(super) struct Prediction<'p> {
    pub predicted: &'p [f64],
    pub spread: &'p [f64],
}

/// The measured candidates (indices into `readings`' candidates) off the front whose value is
/// in doubt where it could change the front: a value more than [`SURPRISE`] standard deviations
/// slower than the flow's prediction (calibrated to the measurements), or runs that disagree
/// with each other (relative spread above [`UNSTABLE_SPREAD`](crate::measure::UNSTABLE_SPREAD))
/// when the front would not dominate the fastest of them. The standard deviation is the flow's
/// own: a robust spread (MAD) of the measurements around the prediction, with each candidate's
/// own spread among the prediction's members. Members of the front are not listed: they are
/// measured again anyway. A value in doubt does not count once the candidate is re-measured
/// ([`Ledger::remeasure`](super::ledger::Ledger::remeasure)).
pub(super) fn in_doubt(readings: &[Reading], prediction: &Prediction, accuracy: &[f64]) -> Result<Vec<usize>> {
    let pairs: Vec<(usize, f64)> = readings.iter().map(|r| (r.index, r.value)).collect();
    let model = LatencyModel::calibrate_with_spread(prediction.predicted, prediction.spread, &pairs, 0.0);
    let residuals: Vec<f64> =
        readings.iter().map(|r| r.value.ln() - model.mu[r.index]).filter(|e| e.is_finite()).collect();
    if residuals.is_empty() {
        return Ok(Vec::new());
    }
    let center = crate::measure::median(&residuals);
    let deviations: Vec<f64> = residuals.iter().map(|e| (e - center).abs()).collect();
    // 1.4826 MAD estimates a normal standard deviation, robust to the very outliers sought.
    let scale = (1.4826 * crate::measure::median(&deviations)).max(MIN_SIGMA);
    let values: Vec<f64> = readings.iter().map(|r| r.value).collect();
    let accs: Vec<f64> = readings.iter().map(|r| accuracy[r.index]).collect();
    let front: Vec<usize> = pareto_front(&values, &accs)?;
    let dominated = |j: usize, at: f64| front.iter().any(|&f| f != j && values[f] <= at && accs[f] >= accs[j]);
    let mut out = Vec::new();
    for (j, r) in readings.iter().enumerate() {
        if front.contains(&j) {
            continue;
        }
        let mu = model.mu[r.index];
        let sigma = scale.hypot(model.own.get(r.index).copied().unwrap_or(0.0));
        // Slower than predicted by far: wrong, it hides a member; a fast surprise off the front
        // changes nothing (the truth, slower, is dominated too).
        let slow_surprise = mu.is_finite() && (r.value.ln() - mu - center) / sigma > SURPRISE;
        // Unstable runs: what its fastest run says, if the front would not dominate that.
        let fastest = r.runs.iter().copied().fold(f64::INFINITY, f64::min);
        let unstable = r.spread.is_some_and(|s| s > crate::measure::UNSTABLE_SPREAD) && !dominated(j, fastest);
        if slow_surprise || unstable {
            out.push(r.index);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::predictor::ProxySelection;
    use crate::space::{seeded_rng, Arch, SeededRng, SpaceId};
    use crate::workflow::oracle::{Answer, MeasurementLog, Recorded, Settings, TableOracle, TargetOracle};
    use crate::workflow::{Flow, NasConfig, NasOutcome};
    use rand::Rng;
    use std::collections::BTreeSet;

    /// A recorded table read through a flaky instrument: a seeded tenth of its answers come back
    /// five times too slow. Not exact, as a device is not.
    struct Spiky<'t> {
        table: TableOracle<'t>,
        rng: SeededRng,
    }

    impl TargetOracle for Spiky<'_> {
        fn device(&self) -> &str {
            self.table.device()
        }
        fn domain(&self) -> Option<Vec<Arch>> {
            self.table.domain()
        }
        fn settings(&self) -> Settings {
            self.table.settings()
        }
        fn measure(&mut self, archs: &[Arch], answer: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
            let rng = &mut self.rng;
            self.table.measure(archs, &mut |a, ans| {
                let v = ans.latency_ms().expect("a table measures");
                answer(a, Answer::latency(if rng.random_bool(0.1) { 5.0 * v } else { v }));
            })
        }
    }

    fn front(o: &NasOutcome) -> BTreeSet<String> {
        o.chosen.iter().map(|c| c.arch.clone()).collect()
    }

    /// The front of the architectures `o` measured, under their noiseless (table) values.
    fn noiseless_front(
        o: &NasOutcome,
        table: &crate::data::LatencyTable,
        acc: &crate::data::AccuracyTable,
    ) -> BTreeSet<String> {
        let space = table.space().space();
        let col = table.device_index(&o.target).unwrap();
        let archs: Vec<Arch> = o.measured.iter().map(|m| space.parse(&m.arch).unwrap()).collect();
        let ms: Vec<f64> = archs.iter().map(|a| table.latency(a, col).unwrap()).collect();
        let accs: Vec<f64> = archs.iter().map(|a| acc.get(a).unwrap()).collect();
        pareto_front(&ms, &accs).unwrap().into_iter().map(|k| o.measured[k].arch.clone()).collect()
    }

    fn spiky_run(target: &str, seed: u64, remeasure: Remeasure, log: Option<MeasurementLog>) -> NasOutcome {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let config =
            NasConfig { proxy: ProxySelection::Device("pixel3".into()), seed, remeasure, ..NasConfig::default() };
        let spiky = Spiky { table: TableOracle::new(&b.latency, target).unwrap(), rng: seeded_rng(seed + 100) };
        let flow = Flow::new(&b.latency, acc);
        match log {
            Some(log) => flow.run(&mut Recorded::new(spiky, log).unwrap(), &config, &mut |_| {}),
            None => flow.run(&mut { spiky }, &config, &mut |_| {}),
        }
        .unwrap()
    }

    /// A tenth of the answers five times too slow: without measuring again, members of the
    /// true front are lost (and what they dominated takes their place); with it, the reported
    /// front is the noiseless front of what was measured, within one member. The comparison is
    /// with the noiseless values of the same measured architectures: a run on the noiseless
    /// table takes another path (its samples and fits see other values) and measures another
    /// set, which says nothing about re-measurement.
    #[test]
    fn remeasuring_keeps_a_spiky_devices_front_within_one_member_of_the_noiseless_one() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        for (target, seed) in [("raspi4", 2), ("pixel2", 1)] {
            let off = |o: &NasOutcome| front(o).symmetric_difference(&noiseless_front(o, &b.latency, acc)).count();
            let with = spiky_run(target, seed, Remeasure::Auto, None);
            assert!(with.remeasurements > 0);
            assert!(off(&with) <= 1, "{target} {seed}: {} off with re-measurement", off(&with));
            let without = spiky_run(target, seed, Remeasure::Never, None);
            assert_eq!(without.remeasurements, 0);
            assert!(off(&without) > 1, "{target} {seed}: the noise must matter for the test to mean anything");
        }
    }

    /// An oracle that must not be asked: everything is in the log.
    struct Refusing<'t>(TableOracle<'t>);

    impl TargetOracle for Refusing<'_> {
        fn device(&self) -> &str {
            self.0.device()
        }
        fn domain(&self) -> Option<Vec<Arch>> {
            self.0.domain()
        }
        fn measure(&mut self, archs: &[Arch], _: &mut dyn FnMut(&Arch, Answer)) -> Result<()> {
            panic!("asked for {} architecture(s) the log holds", archs.len())
        }
    }

    /// Repeats are logged beside the first values: a rerun over the log asks for nothing and
    /// reports the same, repeats included; the log's CSV keeps one value per architecture.
    #[test]
    fn a_rerun_over_the_log_asks_for_nothing_and_repeats_the_remeasured_front() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pixel2.csv");
        let open = || MeasurementLog::open(&path, "pixel2", SpaceId::Nb201, "test").unwrap();
        let first = spiky_run("pixel2", 1, Remeasure::Auto, Some(open()));
        let log = open();
        assert_eq!((log.measured(), log.repeats()), (first.measurements, first.remeasurements));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1 + first.measurements);
        let config = NasConfig { proxy: ProxySelection::Device("pixel3".into()), seed: 1, ..NasConfig::default() };
        let mut again = Recorded::new(Refusing(TableOracle::new(&b.latency, "pixel2").unwrap()), log).unwrap();
        let second = Flow::new(&b.latency, acc).run(&mut again, &config, &mut |_| {}).unwrap();
        assert_eq!(second, first);
    }

    #[test]
    fn two_values_settle_when_they_agree_and_a_third_decides_otherwise() {
        assert!(!settled(&[2.0]));
        assert!(settled(&[2.0, 2.1]));
        assert!(!settled(&[2.0, 10.0]));
        assert!(settled(&[2.0, 10.0, 2.05]));
        assert_eq!(crate::measure::median(&[10.0, 2.0, 2.05]), 2.05);
    }

    #[test]
    fn auto_remeasures_only_inexact_oracles() {
        assert!(Remeasure::Auto.applies(false) && !Remeasure::Auto.applies(true));
        assert!(Remeasure::Always.applies(true) && !Remeasure::Never.applies(false));
        for name in Remeasure::NAMES {
            assert_eq!(Remeasure::named(name).unwrap().name(), name);
        }
        assert!(Remeasure::named("sometimes").is_err());
    }

    /// Ten candidates on a line (faster is less accurate), predicted exactly; the third is read
    /// five times too slow, which drops it off the front: in doubt. Unstable runs are in doubt
    /// only where their fastest run would not be dominated.
    #[test]
    fn a_far_slower_value_than_predicted_is_in_doubt_and_unstable_runs_where_they_matter() {
        let mut predicted: Vec<f64> = (1..=10).map(|i| i as f64).collect();
        let mut accuracy: Vec<f64> = (1..=10).map(|i| 50.0 + i as f64).collect();
        let mut values = predicted.clone();
        values[2] *= 5.0;
        // Two more off the front, as predicted, with unstable runs: the first dominated even
        // at its fastest run, the second not.
        predicted.extend([3.0, 8.0]);
        accuracy.extend([0.0, 57.5]);
        values.extend([3.0, 8.0]);
        let runs = [[1.0, 3.0, 9.0], [5.5, 8.0, 12.0]];
        let readings: Vec<Reading> = values
            .iter()
            .enumerate()
            .map(|(index, &value)| match index {
                10 | 11 => Reading { index, value, spread: Some(0.5), runs: &runs[index - 10] },
                _ => Reading { index, value, spread: None, runs: &[] },
            })
            .collect();
        let p = Prediction { predicted: &predicted, spread: &[] };
        assert_eq!(in_doubt(&readings, &p, &accuracy).unwrap(), vec![2, 11]);
    }
}
