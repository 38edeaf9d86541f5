//! What every evaluation shares: the trials (and their seeds) and the target list.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Trials of an evaluation: `count` trials seeded `seed, seed + 1, ...` (one for a fixed
/// sample set, which gives the same result every time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trials {
    /// Number of trials.
    pub count: usize,
    /// Seed of the first trial.
    pub seed: u64,
}

impl Default for Trials {
    fn default() -> Self {
        Trials { count: 1, seed: 0 }
    }
}

impl Trials {
    /// Target samples per trial of the evaluation protocol (the paper's K = 10), which
    /// `evaluate adapt` and `evaluate nas` draw unless told otherwise. Not the NAS flow's
    /// default ([`crate::workflow::SampleSet::default`]): evaluations compare with the paper at its K.
    pub const SAMPLES: usize = 10;

    /// Trials that can differ: a fixed sample set gives an adaptation the same result every
    /// time (`varies == false`), while the flow still draws its extra adaptation samples at random.
    pub fn effective(self, varies: bool) -> Result<usize> {
        if self.count == 0 {
            return Err(Error::bad_parameter("trials", "at least one trial is needed"));
        }
        Ok(if varies { self.count } else { 1 })
    }
}

pub(crate) fn check_targets(targets: &[String]) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::InvalidParameter("no target device given".into()));
    }
    let mut seen = HashSet::new();
    if let Some(t) = targets.iter().find(|t| !seen.insert(t.as_str())) {
        return Err(Error::InvalidParameter(format!("target '{t}' is listed twice")));
    }
    Ok(())
}

/// Name the target in an error unless the message already does.
pub(crate) fn in_target(target: &str, e: Error) -> Error {
    if e.to_string().contains(&format!("'{target}'")) {
        e
    } else {
        e.context(format!("target '{target}'"))
    }
}
