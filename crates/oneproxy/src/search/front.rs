//! The search behind `oneproxy search` and the Python `oneproxy.search`: accuracy against one
//! latency source (a device's measured column or a predictor), over every candidate or by
//! NSGA-II, then the Pareto front and the best pick under each latency constraint.

use super::{best_under_constraints, evolve, pareto_front, Evaluated, EvolutionParams};
use crate::data::AccuracyTable;
use crate::data::LatencyTable;
use crate::error::{Error, Result};
use crate::predictor::{AdditivePredictor, ProxyLatency};
use crate::space::Arch;
use std::collections::HashMap;

/// Where latencies come from.
#[derive(Debug)]
pub enum LatencySource<'a> {
    /// A device's measured column (architectures it did not measure are skipped).
    Device {
        /// The table.
        table: &'a LatencyTable,
        /// The device's column.
        column: usize,
    },
    /// A predictor, evaluated once over the candidates up front (other architectures, met by
    /// evolution, are predicted as they come).
    Predicted {
        /// Predictions of the candidates.
        cache: HashMap<Arch, f64>,
        /// The predictor.
        predictor: &'a AdditivePredictor,
        /// The table its proxy terms read measured latencies from.
        table: &'a LatencyTable,
    },
}

impl<'a> LatencySource<'a> {
    /// The column of `device` in `table`.
    pub fn device(table: &'a LatencyTable, device: &str) -> Result<Self> {
        Ok(LatencySource::Device { table, column: table.device_index(device)? })
    }

    /// `predictor`'s latencies, predicted for `candidates` at once.
    pub fn predicted(predictor: &'a AdditivePredictor, table: &'a LatencyTable, candidates: &[Arch]) -> Result<Self> {
        let values = predictor.predict(candidates, ProxyLatency::Measured(table))?;
        Ok(LatencySource::Predicted { cache: candidates.iter().cloned().zip(values).collect(), predictor, table })
    }

    /// The latency of `arch`, if the source has one.
    pub fn of(&self, arch: &Arch) -> Option<f64> {
        match self {
            LatencySource::Device { table, column } => table.latency(arch, *column),
            LatencySource::Predicted { cache, predictor, table } => cache.get(arch).copied().or_else(|| {
                predictor.predict(std::slice::from_ref(arch), ProxyLatency::Measured(table)).ok().map(|v| v[0])
            }),
        }
    }
}

/// How candidates are found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Evaluate every candidate.
    Exhaustive,
    /// NSGA-II over the space ([`evolve`]).
    Evolution(EvolutionParams),
}

impl Default for Method {
    /// Every candidate: exact, and fast enough for NB201's 15625 or a bundled table.
    fn default() -> Self {
        Method::Exhaustive
    }
}

/// The methods by name, as a command line or a keyword gives them, with what each does.
pub const METHODS: [(&str, &str); 2] = [
    ("exhaustive", "Evaluate every candidate (NB201, or every architecture with an accuracy)"),
    ("evolution", "NSGA-II over the space (for spaces too large to enumerate)"),
];

impl Method {
    /// The method called `name` (one of [`METHODS`]); evolution runs with `evolution`.
    pub fn named(name: &str, evolution: EvolutionParams) -> Result<Method> {
        match name {
            "exhaustive" => Ok(Method::Exhaustive),
            "evolution" => Ok(Method::Evolution(evolution)),
            other => Err(Error::bad_parameter(
                "method",
                format!("unknown search method '{}'; known methods: exhaustive, evolution", crate::error::clip(other)),
            )),
        }
    }

    /// `exhaustive` or `evolution`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Exhaustive => "exhaustive",
            Method::Evolution(_) => "evolution",
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Every evaluated architecture with both a latency and an accuracy.
    pub points: Vec<Evaluated>,
    /// Calls made to the evaluator.
    pub evaluated: usize,
    /// Indices into `points` of the Pareto front, fastest first.
    pub front: Vec<usize>,
    /// Index into `points` of the most accurate architecture within each constraint.
    pub picks: Vec<Option<usize>>,
}

/// Search `candidates` (exhaustive) or the whole space (evolution) for architectures with a
/// latency from `latency` and an accuracy from `accuracy`. `progress(generation, generations)`
/// follows an evolution. `points` is empty when no architecture has both.
pub fn search(
    latency: &LatencySource,
    accuracy: &AccuracyTable,
    candidates: &[Arch],
    method: &Method,
    constraints: &[f64],
    progress: impl FnMut(usize, usize),
) -> Result<Found> {
    let evaluate = |a: &Arch| Some((latency.of(a)?, accuracy.get(a)?));
    let (points, evaluated) = match method {
        Method::Exhaustive => {
            let points: Vec<Evaluated> = candidates
                .iter()
                .filter_map(|a| evaluate(a).map(|(latency, accuracy)| Evaluated { arch: a.clone(), latency, accuracy }))
                .collect();
            let n = points.len();
            (points, n)
        }
        Method::Evolution(params) => {
            let space = match latency {
                LatencySource::Device { table, .. } | LatencySource::Predicted { table, .. } => table.space().space(),
            };
            let result = evolve(space, evaluate, params, progress)?;
            let n = result.evaluations();
            (result.archive, n)
        }
    };
    let lat: Vec<f64> = points.iter().map(|p| p.latency).collect();
    let acc: Vec<f64> = points.iter().map(|p| p.accuracy).collect();
    let front = pareto_front(&lat, &acc)?;
    let picks = best_under_constraints(&lat, &acc, constraints)?;
    Ok(Found { points, evaluated, front, picks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::SpaceId;

    #[test]
    fn exhaustive_front_is_non_dominated_and_picks_fit() {
        let b = bundle(SpaceId::Nb201).unwrap();
        let acc = b.accuracy("cifar100").unwrap();
        let source = LatencySource::device(&b.latency, "pixel3").unwrap();
        let found = search(&source, acc, &acc.archs(), &Method::Exhaustive, &[5.0], |_, _| {}).unwrap();
        assert_eq!(found.evaluated, found.points.len());
        for w in found.front.windows(2) {
            let (a, b) = (&found.points[w[0]], &found.points[w[1]]);
            assert!(a.latency < b.latency && a.accuracy < b.accuracy);
        }
        let pick = &found.points[found.picks[0].unwrap()];
        assert!(pick.latency <= 5.0);
    }
}
