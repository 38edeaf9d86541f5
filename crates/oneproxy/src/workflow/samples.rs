//! The first architectures a target measures, and the random stream of each target.

use crate::data::bundled::bundle;
use crate::error::{Error, Result};
use crate::predictor::AdditivePredictor;
use crate::space::{seeded_rng, Arch, SearchSpace, SpaceId};

/// Which architectures a target measures first.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleSet {
    /// This many architectures drawn uniformly (seeded) from those the target can measure.
    Random(usize),
    /// This many architectures chosen by [`crate::plan::plan`] (seeded): they span the
    /// planner proxy's latency range and cover every encoding feature.
    Plan(usize),
    /// A fixed list (e.g. HELP's 10 reference architectures): the same in every trial.
    Fixed(Vec<Arch>),
}

impl Default for SampleSet {
    /// The default design's random samples ([`crate::workflow::Design::default_samples`]).
    fn default() -> Self {
        SampleSet::Random(crate::workflow::Design::default().default_samples())
    }
}

/// The sample sets by name, as a command line or a keyword gives them, with what each is.
pub const SAMPLE_SETS: [(&str, &str); 3] = [
    ("random", "K random architectures measured on the target"),
    ("help10", "HELP's 10 reference architectures (nb201 only)"),
    ("plan", "The architectures `oneproxy plan` would choose (budget K)"),
];

impl SampleSet {
    /// The set called `name` (one of [`SAMPLE_SETS`]) of `k` architectures; `help10` has its own 10.
    pub fn named(name: &str, k: usize, space: SpaceId) -> Result<Self> {
        match name {
            "random" => Ok(SampleSet::Random(k)),
            "plan" => Ok(SampleSet::Plan(k)),
            "help10" => SampleSet::help10(space),
            other => {
                let known: Vec<&str> = SAMPLE_SETS.iter().map(|(n, _)| *n).collect();
                Err(Error::bad_parameter(
                    "sample_set",
                    format!(
                        "unknown sample set '{}'; known sample sets: {}",
                        crate::error::clip(other),
                        known.join(", ")
                    ),
                ))
            }
        }
    }

    /// HELP's 10 reference architectures of NB201 (the only space they exist for).
    pub fn help10(space: SpaceId) -> Result<Self> {
        let rows = space.family().dataset().map_or(&[][..], |d| d.reference_rows);
        if rows.is_empty() {
            return Err(Error::InvalidParameter(format!("the help10 sample set exists for nb201 only, not {space}")));
        }
        let b = bundle(space)?;
        Ok(SampleSet::Fixed(rows.iter().map(|&i| b.archs[i].clone()).collect()))
    }

    /// Number of architectures.
    pub fn len(&self) -> usize {
        match self {
            SampleSet::Random(k) | SampleSet::Plan(k) => *k,
            SampleSet::Fixed(v) => v.len(),
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether trials differ (a fixed list gives the same result every time).
    pub fn varies(&self) -> bool {
        !matches!(self, SampleSet::Fixed(_))
    }

    /// Short name for reports (`random`, `plan`, `fixed`).
    pub fn name(&self) -> &'static str {
        match self {
            SampleSet::Random(_) => "random",
            SampleSet::Plan(_) => "plan",
            SampleSet::Fixed(_) => "fixed",
        }
    }

    /// Draw the set from `domain` (the architectures the target can measure). `planner` is the
    /// predictor a plan spans (needed for [`SampleSet::Plan`] only).
    pub fn draw(
        &self,
        space: &dyn SearchSpace,
        domain: &[Arch],
        planner: Option<&AdditivePredictor>,
        seed: u64,
        target: &str,
    ) -> Result<Vec<Arch>> {
        let too_few = |k: usize| {
            Error::TooFewSamples(format!(
                "target '{target}' can measure {} architectures, fewer than the {k} samples asked for",
                domain.len()
            ))
        };
        match self {
            SampleSet::Fixed(v) => Ok(v.clone()),
            SampleSet::Random(k) => {
                if *k > domain.len() {
                    return Err(too_few(*k));
                }
                let mut rng = seeded_rng(seed);
                Ok(rand::seq::index::sample(&mut rng, domain.len(), *k)
                    .into_iter()
                    .map(|i| domain[i].clone())
                    .collect())
            }
            SampleSet::Plan(k) => {
                if *k > domain.len() {
                    return Err(too_few(*k));
                }
                let planner = planner
                    .ok_or_else(|| Error::InvalidParameter("a planned sample set needs a planner proxy".into()))?;
                crate::plan::plan(space, planner, domain, *k, seed)
            }
        }
    }
}

/// The seed of one target's random stream in one trial: a stable hash of (seed, trial, target
/// name), so that a target's result does not depend on which other targets run with it, nor on
/// their order. Trial `t` of an evaluation seeded `s` is the single run seeded `s + t`.
pub fn target_seed(seed: u64, trial: usize, target: &str) -> u64 {
    // FNV-1a over the name, then SplitMix64 finalisation of the mix: stable across platforms
    // and releases (unlike `std`'s hasher).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in target.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed.wrapping_add(trial as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Nb201;

    #[test]
    fn target_seeds_are_stable_and_distinct() {
        assert_eq!(target_seed(0, 0, "pixel2"), target_seed(0, 0, "pixel2"));
        assert_ne!(target_seed(0, 0, "pixel2"), target_seed(0, 0, "pixel3"));
        assert_ne!(target_seed(0, 0, "pixel2"), target_seed(0, 1, "pixel2"));
        // Trial t of seed s is seed s + t.
        assert_eq!(target_seed(5, 2, "raspi4"), target_seed(7, 0, "raspi4"));
    }

    #[test]
    fn draws_are_seeded_and_bounded() {
        let all = Nb201.enumerate().unwrap();
        let a = SampleSet::Random(10).draw(&Nb201, &all, None, 3, "t").unwrap();
        assert_eq!(a, SampleSet::Random(10).draw(&Nb201, &all, None, 3, "t").unwrap());
        assert_ne!(a, SampleSet::Random(10).draw(&Nb201, &all, None, 4, "t").unwrap());
        let err = SampleSet::Random(11).draw(&Nb201, &all[..10], None, 3, "t").unwrap_err().to_string();
        assert!(err.contains("fewer than the 11 samples"), "{err}");
        assert!(SampleSet::Plan(3).draw(&Nb201, &all, None, 0, "t").is_err(), "a plan needs a planner");
        assert_eq!(SampleSet::help10(SpaceId::Nb201).unwrap().len(), 10);
        assert!(SampleSet::help10(SpaceId::Fbnet).is_err());
    }
}
