//! The one-request design, for a person measuring by hand: every measurement is decided before
//! the first one, so the person fills one file and reruns once.
//!
//! Without target data, the best guess of the target's front is the fronts of the devices
//! already measured: each device of the pool is taken as a plausible target. The set is built
//! greedily by the sequential design's criterion ([`crate::workflow::design`]), the expected
//! reduction of the mean regret over the latency budgets, averaged over the plausible targets:
//! an architecture that is the best at many budgets of many devices comes first, and one that
//! only repeats what the set already covers comes last. The target's latencies are not any
//! device's, so each is taken with a spread ([`UPFRONT_SPREAD`]).

use super::candidates::{CandidateDesign, DesignView, UpfrontView};
use super::layers::pareto_layers;
use crate::error::Result;
use crate::workflow::design::{Coverage, MIN_SIGMA};
use crate::workflow::score::budgets;

/// Spread (log space) of a plausible target's latency around another device's: the smallest
/// the sequential design assumes for a prediction. Wider spreads (0.1, 0.2) spent more of the
/// set on the edges of budgets and scored worse (docs/results/manual-mode).
pub const UPFRONT_SPREAD: f64 = MIN_SIGMA;

/// Pareto layers of each plausible target's latencies the set is chosen from: the best at any
/// budget lies on the front, and the second layer holds what a slightly different ranking
/// would put there.
const SHORTLIST_LAYERS: usize = 2;

/// The samples and the best-covering candidates in one request, at most `cap` in all; then the
/// predictor is refitted on every row and nothing more is asked.
#[derive(Debug, Clone)]
pub struct Upfront {
    cap: usize,
    /// The chosen candidates, once chosen; handed over as the one batch (measured already).
    set: Option<Vec<usize>>,
}

impl Upfront {
    /// At most `cap` measurements, samples included.
    pub fn new(cap: usize) -> Self {
        Upfront { cap, set: None }
    }
}

impl CandidateDesign for Upfront {
    fn draws_adaptation_samples(&self) -> bool {
        // Nothing is measured after the first request.
        false
    }

    fn decides_upfront(&self) -> bool {
        true
    }

    fn upfront(&mut self, view: &UpfrontView) -> Result<Vec<usize>> {
        let count = self.cap.saturating_sub(view.samples.len()).min(view.room);
        let set = coverage_order(view.accuracy, view.plausible, view.samples, count)?;
        self.set = Some(set.clone());
        Ok(set)
    }

    fn next_batch(&mut self, _view: &DesignView) -> Result<Option<Vec<usize>>> {
        // The set, measured with the samples, is handed over once so that the flow refits on
        // every row; then the design is done.
        Ok(self.set.take())
    }

    fn refits(&self) -> bool {
        true
    }
}

/// Up to `count` candidates (indices into `accuracy`), in order of expected reduction of the
/// mean regret, averaged over the `plausible` targets (a latency per candidate each), given
/// that `taken` are measured too. Deterministic: ties go to the lower index. Fewer when no
/// other candidate can lower the regret of any plausible target.
pub fn coverage_order(accuracy: &[f64], plausible: &[Vec<f64>], taken: &[usize], count: usize) -> Result<Vec<usize>> {
    if plausible.is_empty() || count == 0 {
        return Ok(Vec::new());
    }
    let floor = accuracy.iter().copied().fold(f64::INFINITY, f64::min);
    let ln_lat: Vec<Vec<f64>> =
        plausible.iter().map(|l| l.iter().map(|&v| if v > 0.0 { v.ln() } else { f64::NAN }).collect()).collect();
    let ln_budgets: Vec<Vec<f64>> = plausible.iter().map(|l| budgets(l).iter().map(|b| b.ln()).collect()).collect();
    let mut chosen = vec![false; accuracy.len()];
    for &i in taken {
        chosen[i] = true;
    }
    let mut shortlist: Vec<usize> = Vec::new();
    for l in plausible {
        shortlist.extend(pareto_layers(l, accuracy, SHORTLIST_LAYERS)?);
    }
    shortlist.sort_unstable();
    shortlist.dedup();
    shortlist.retain(|&i| !chosen[i]);
    // Per plausible target, the points measured so far (in its latencies).
    let mut points: Vec<Vec<(f64, f64)>> = ln_lat
        .iter()
        .map(|ln| taken.iter().filter(|&&i| ln[i].is_finite()).map(|&i| (ln[i], accuracy[i])).collect())
        .collect();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let covers: Vec<Coverage> =
            points.iter().zip(&ln_budgets).map(|(p, b)| Coverage::new(p, b, UPFRONT_SPREAD, floor)).collect();
        let mut top: Option<(usize, f64)> = None;
        for &i in shortlist.iter().filter(|&&i| !chosen[i]) {
            let total: f64 = covers
                .iter()
                .zip(&ln_lat)
                .filter(|(_, ln)| ln[i].is_finite())
                .map(|(c, ln)| c.gain(ln[i], UPFRONT_SPREAD, accuracy[i]))
                .sum();
            if total > 0.0 && top.is_none_or(|t| total > t.1) {
                top = Some((i, total));
            }
        }
        let Some((i, _)) = top else { break };
        chosen[i] = true;
        out.push(i);
        for (p, ln) in points.iter_mut().zip(&ln_lat) {
            if ln[i].is_finite() {
                p.push((ln[i], accuracy[i]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_covers_every_plausible_front_before_repeating_one() {
        // Two devices that disagree on which of two strong architectures is fast: each is the
        // best at the tight budgets of one device. Both come before a weak one, and the weak
        // slow one never (it cannot beat what the set holds at any budget).
        let acc = [80.0, 80.0, 60.0, 50.0, 40.0];
        let a = vec![1.0, 5.0, 2.0, 9.0, 9.5];
        let b = vec![5.0, 1.0, 2.0, 9.0, 9.5];
        let order = coverage_order(&acc, &[a.clone(), b.clone()], &[], 5).unwrap();
        assert_eq!(&order[..2], &[0, 1], "{order:?}");
        assert!(!order.contains(&4), "{order:?}");
        // What is measured anyway is never chosen again.
        let order = coverage_order(&acc, &[a.clone(), b], &[0], 5).unwrap();
        assert_eq!(order[0], 1);
        assert!(!order.contains(&0));
        // The count is a hard bound; no plausible target, no choice.
        assert_eq!(coverage_order(&acc, &[a], &[], 1).unwrap().len(), 1);
        assert!(coverage_order(&acc, &[], &[], 5).unwrap().is_empty());
    }
}
