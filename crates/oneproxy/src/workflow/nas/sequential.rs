//! The default design: small batches by expected regret reduction ([`crate::workflow::design`]),
//! the predictor refitted between batches, until another batch is not expected to help.

use super::candidates::{CandidateDesign, DesignView};
use crate::error::Result;

/// Batches of `batch` candidates while the best one is expected to lower the mean regret by at
/// least `stop` points.
#[derive(Debug, Clone, Copy)]
pub struct Sequential {
    /// Candidates per batch.
    pub batch: usize,
    /// Expected regret reduction (points) below which no more is measured.
    pub stop: f64,
    /// Candidates checked ([`DesignView::checked`]) before `stop` applies: until then the best
    /// candidate is measured whatever it is expected to gain, as long as it may gain anything.
    pub min_checks: usize,
}

impl CandidateDesign for Sequential {
    fn draws_adaptation_samples(&self) -> bool {
        // It spends no measurements on random samples: it chooses its own, where they can
        // change the result.
        false
    }

    fn next_batch(&mut self, view: &DesignView) -> Result<Option<Vec<usize>>> {
        let stop = if view.checked < self.min_checks { 0.0 } else { self.stop };
        let next = view.model.next_batch(view.accuracy, view.measured, view.failed, self.batch.min(view.room), stop);
        Ok((!next.is_empty()).then_some(next))
    }

    fn refits(&self) -> bool {
        true
    }
}
