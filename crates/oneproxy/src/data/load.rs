//! What the front ends load: the bundled table of a space with the user's latency files and
//! the pseudo-devices, and accuracy tables by source.

use super::accuracy::AccuracyTable;
use super::table::LatencyTable;
use crate::error::{Error, Result};
use crate::space::SpaceId;
use std::path::PathBuf;

impl LatencyTable {
    /// The bundled table of a space plus the devices of user files (`--latency F`).
    ///
    /// User rows are matched to bundled rows by architecture; architectures that the bundled
    /// data does not have become new rows. A user device may not reuse a bundled name.
    pub fn bundled_with(space: SpaceId, files: &[PathBuf]) -> Result<Self> {
        let bundle = crate::data::bundled::bundle(space)?;
        let mut table = bundle.latency.clone();
        for f in files {
            table.merge_csv(f, Some(&bundle.archs))?;
        }
        table.add_cost_devices()?;
        Ok(table)
    }
}

/// Where a flow's accuracies come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccuracySource {
    /// A bundled table by name (NB201: `cifar10`, `cifar100`, `imagenet16-120`).
    Bundled(String),
    /// A user CSV with columns `arch,accuracy`.
    File(std::path::PathBuf),
}

impl Default for AccuracySource {
    /// NB201's CIFAR-100 accuracies, the paper's: the table the flows and searches score with
    /// unless told otherwise.
    fn default() -> Self {
        AccuracySource::Bundled("cifar100".into())
    }
}

impl AccuracySource {
    /// Load the table for `space`.
    pub fn load(&self, space: crate::SpaceId) -> Result<AccuracyTable> {
        match self {
            AccuracySource::File(f) => AccuracyTable::from_csv(f, space.space()),
            AccuracySource::Bundled(name) if name == "synthetic" || name.starts_with("synthetic:") => {
                let seed = name.strip_prefix("synthetic:").map_or(Ok(0), |s| s.parse::<u64>()).map_err(|_| {
                    Error::InvalidParameter(format!(
                        "'{}': a synthetic accuracy's seed is a whole number, e.g. synthetic:3",
                        crate::error::clip(name)
                    ))
                })?;
                synthetic(space, seed)
            }
            AccuracySource::Bundled(name) => {
                let b = crate::data::bundled::bundle(space)?;
                match b.accuracy(name) {
                    Some(t) => Ok(t.clone()),
                    None if b.accuracy.is_empty() => Err(Error::InvalidParameter(format!(
                        "space {space} has no bundled accuracies: give an accuracy file (CSV with columns arch,accuracy)"
                    ))),
                    None => Err(Error::InvalidParameter(format!(
                        "unknown accuracy table '{name}' for {space}; bundled: {}",
                        b.accuracy.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
        }
    }
}

/// A **synthetic** accuracy for every bundled architecture of `space`, for scoring flows on spaces
/// without a public accuracy table (FBNet, OFA): a fixed random additive model over the
/// architecture encoding. Each encoding feature `f` gets a weight `w_f ~ U(0, 1)` (ChaCha seeded
/// by `seed`); an architecture's score is `sum_f w_f x_f`, mapped linearly onto 60..75 % over the
/// space's bundled architectures. It is not the accuracy of any trained network: it only gives
/// the flow a second objective with a realistic range, so that regret can be measured. The
/// table's name says so (`synthetic-seed<N>`).
pub fn synthetic(space: crate::SpaceId, seed: u64) -> Result<AccuracyTable> {
    use rand::Rng;
    let archs = &crate::data::bundled::bundle(space)?.archs;
    if archs.is_empty() {
        return Err(Error::InvalidParameter(format!(
            "space {space} has no bundled architectures to give a synthetic accuracy"
        )));
    }
    let s = space.space();
    let mut rng = crate::space::seeded_rng(seed);
    let weights: Vec<f64> = (0..s.num_features()).map(|_| rng.random::<f64>()).collect();
    let scores: Vec<f64> = archs.iter().map(|a| s.encode(a).iter().zip(&weights).map(|(x, w)| x * w).sum()).collect();
    let (lo, hi) = scores.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    AccuracyTable::new(
        &format!("synthetic-seed{seed}"),
        archs.iter().cloned().zip(scores.iter().map(|v| 60.0 + 15.0 * (v - lo) / span)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_data_raises_no_warning() {
        for space in [SpaceId::Nb201, SpaceId::Fbnet, SpaceId::OfaMbv3] {
            let t = LatencyTable::bundled_with(space, &[]).unwrap();
            assert!(t.warnings().is_empty(), "{space}: {:?}", t.warnings());
        }
    }
}

#[cfg(test)]
mod synthetic_tests {
    use super::*;

    #[test]
    fn synthetic_accuracy_is_seeded_labelled_and_in_range() {
        let a = AccuracySource::Bundled("synthetic".into()).load(crate::SpaceId::Fbnet).unwrap();
        let b = AccuracySource::Bundled("synthetic:0".into()).load(crate::SpaceId::Fbnet).unwrap();
        let c = AccuracySource::Bundled("synthetic:1".into()).load(crate::SpaceId::Fbnet).unwrap();
        assert_eq!(a.name(), "synthetic-seed0");
        let archs = &crate::data::bundled::bundle(crate::SpaceId::Fbnet).unwrap().archs;
        let values: Vec<f64> = archs.iter().map(|x| a.get(x).unwrap()).collect();
        assert!(values.iter().all(|v| (60.0..=75.0).contains(v)));
        assert!(archs.iter().all(|x| a.get(x) == b.get(x)));
        assert!(archs.iter().any(|x| a.get(x) != c.get(x)));
        assert!(AccuracySource::Bundled("synthetic:x".into()).load(crate::SpaceId::Fbnet).is_err());
        assert!(AccuracySource::Bundled("synthetic".into()).load(crate::SpaceId::Mbv2).is_err());
    }
}
