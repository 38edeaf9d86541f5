//! The paper's design: the first Pareto layers of the prediction, measured at once.

use super::candidates::{CandidateDesign, DesignView};
use crate::error::Result;
use crate::search::pareto_front;

/// Indices of the first `layers` non-dominated layers (front, front of the rest, ...).
pub fn pareto_layers(latency: &[f64], accuracy: &[f64], layers: usize) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    let mut lat = latency.to_vec();
    for _ in 0..layers {
        let front = pareto_front(&lat, accuracy)?;
        if front.is_empty() {
            break;
        }
        for &i in &front {
            lat[i] = f64::NAN; // skipped by the next round
        }
        out.extend(front);
    }
    Ok(out)
}

/// One batch: the first `layers` predicted Pareto layers, as far as the budget allows.
#[derive(Debug, Clone)]
pub struct Layers {
    layers: usize,
    done: bool,
}

impl Layers {
    /// Measure the first `layers` layers.
    pub fn new(layers: usize) -> Self {
        Layers { layers, done: false }
    }
}

impl CandidateDesign for Layers {
    fn draws_adaptation_samples(&self) -> bool {
        true
    }

    fn next_batch(&mut self, view: &DesignView) -> Result<Option<Vec<usize>>> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(None);
        }
        let layered = pareto_layers(view.predicted, view.accuracy, self.layers)?;
        // Already measured members cost nothing; the new ones as far as the budget goes.
        let mut room = view.room;
        let mut batch = Vec::with_capacity(layered.len());
        for i in layered {
            if !view.tried[i] {
                if room == 0 {
                    continue;
                }
                room -= 1;
            }
            batch.push(i);
        }
        Ok(Some(batch))
    }

    fn refits(&self) -> bool {
        false
    }
}
