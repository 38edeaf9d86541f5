//! What several proxies say together: a non-negative combination of the pool devices'
//! latencies, for a target that ranks like a blend of them.

use super::ridge::NonNegativeRidge;
use super::{Fitted, Hypothesis, Samples};
use crate::predictor::additive::{AdditivePredictor, ProxyTerm};
use crate::space::{Arch, SpaceId};
use nalgebra::DMatrix;

/// `c + sum over pool devices of beta * latency`, `beta >= 0`, ridge.
pub(super) struct Stacking;

impl Hypothesis for Stacking {
    fn name(&self) -> &'static str {
        "stacking"
    }

    fn help(&self) -> &'static str {
        "A non-negative combination of every pool device's latency"
    }

    fn uses_pool(&self) -> bool {
        true
    }

    fn applies(&self, _: SpaceId, pool: usize) -> bool {
        pool >= 2
    }

    fn fit(&self, s: &Samples) -> Option<Fitted> {
        stack(s, false)
    }
}

/// Non-negative ridge on the pool devices' latencies at the samples (measured where the
/// device has them, its fitted model elsewhere: those devices are listed in `filled`); with
/// `pruned`, their latencies of the samples with dead operations removed.
pub(super) fn stack(s: &Samples, pruned: bool) -> Option<Fitted> {
    stack_with(s, pruned, None)
}

/// A count that is a linear function of the encoding, `weights . encode(arch) + intercept`,
/// fitted beside the pool's latencies by [`stack_with`] (with a non-negative cost per unit).
pub(super) struct LinearCount<'a> {
    /// The count at each sample.
    pub at_samples: Vec<f64>,
    /// Its linear form.
    pub weights: &'a [f64],
    pub intercept: f64,
}

/// [`stack`], with one more non-negative column: `count`, whose cost per unit becomes weights of
/// the predictor (it is linear in the encoding).
pub(super) fn stack_with(s: &Samples, pruned: bool, count: Option<LinearCount>) -> Option<Fitted> {
    let proxies = s.proxies;
    let space = s.space().space();
    let n = s.archs.len();
    let mut filled = Vec::new();
    let mut f = DMatrix::zeros(n, proxies.len() + usize::from(count.is_some()));
    let read: Vec<Arch> =
        s.archs.iter().map(|a| if pruned { crate::space::cell::prune_dead(a) } else { a.clone() }).collect();
    let encoded: Vec<Vec<f64>> = read.iter().map(|a| space.encode(a)).collect();
    for (d, p) in proxies.iter().enumerate() {
        let mut any_filled = false;
        for (i, a) in read.iter().enumerate() {
            any_filled |= p.measured.is_some_and(|(t, c)| t.latency(a, c).is_none());
            f[(i, d)] = p.latency(a, &encoded[i]);
        }
        if any_filled {
            filled.push(p.predictor.device.clone());
        }
    }
    if let Some(c) = &count {
        for (i, v) in c.at_samples.iter().enumerate() {
            f[(i, proxies.len())] = *v;
        }
    }
    let fit = NonNegativeRidge::new(f, s.ys).fit(s.tests)?;
    let per = fit.per_column();
    let mut predictor = AdditivePredictor { intercept: s.scale * fit.intercept, ..AdditivePredictor::blank(s.space()) };
    if let Some(c) = &count {
        let per_unit = s.scale * per[proxies.len()];
        for (t, v) in predictor.weights.iter_mut().zip(c.weights) {
            *t += per_unit * v;
        }
        predictor.intercept += per_unit * c.intercept;
    }
    for (p, &w) in proxies.iter().zip(&per) {
        if w <= 0.0 {
            continue;
        }
        let coefficient = s.scale * w;
        let q = p.predictor;
        if p.measured.is_some() || pruned {
            predictor.proxy_terms.push(ProxyTerm {
                device: q.device.clone(),
                coefficient,
                fallback_weights: q.weights.clone(),
                fallback_intercept: q.intercept,
                pruned,
            });
        } else {
            for (t, v) in predictor.weights.iter_mut().zip(&q.weights) {
                *t += coefficient * v;
            }
            predictor.intercept += coefficient * q.intercept;
        }
    }
    filled.retain(|d| predictor.proxy_terms.iter().any(|t| &t.device == d));
    Some(Fitted { lambda: fit.lambda, cv_error: fit.cv_error, held_out: fit.held_out, predictor, filled, lowest: None })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{loo, nb201, proxies, scaled};
    use super::super::{fit_all, Samples};
    use super::*;
    use crate::predictor::{Form, ProxyLatency, ProxyPool};

    #[test]
    fn stacking_recovers_a_blend_of_pool_devices_and_flags_filled_ones() {
        let t = nb201();
        let pool = ProxyPool::new(t);
        let proxies = proxies(&pool, &["pixel3", "1080ti_1", "edgetpu"]);
        let col = |d: &str| t.device_index(d).unwrap();
        let (p3, gpu) = (col("pixel3"), col("1080ti_1"));
        // Samples the edge device has not measured: its latency there is its fitted model's.
        let et = col("edgetpu");
        let archs: Vec<Arch> =
            t.archs().iter().filter(|a| t.latency(a, et).is_none()).step_by(997).take(12).cloned().collect();
        let y: Vec<f64> =
            archs.iter().map(|a| 0.3 * t.latency(a, p3).unwrap() + 2.0 * t.latency(a, gpu).unwrap() + 1.0).collect();
        let (ys, scale) = scaled(&y);
        let tests = loo(12);
        let samples = Samples { proxies: &proxies, archs: &archs, ys: &ys, scale, tests: &tests };
        let h = Stacking.fit(&samples).unwrap();
        assert!(h.cv_error < 1e-4, "{}", h.cv_error);
        let coef = |d: &str| h.predictor.proxy_terms.iter().find(|p| p.device == d).map_or(0.0, |p| p.coefficient);
        assert!(
            (coef("pixel3") - 0.3).abs() < 0.03 && (coef("1080ti_1") - 2.0).abs() < 0.2,
            "{:?}",
            h.predictor.proxy_terms
        );
        assert!(h.filled.iter().all(|d| d == "edgetpu"));
        // The pool prior and the stacking both come out of `fit_all`, positive over the space.
        let all = fit_all(&samples);
        let forms: Vec<&str> = all.iter().map(|(f, _)| f.name()).collect();
        assert!(forms.contains(&"stacking") && forms.contains(&"live-ops"), "{forms:?}");
        for (form, h) in &all {
            assert!(h.predictor.check_positive(ProxyLatency::Measured(t)).is_ok(), "{form:?}");
            assert_eq!(h.held_out.len(), 12);
        }
        assert!(all.iter().all(|(f, _)| f.is_hypothesis() && Form::named(f.name()) == Some(*f)));
    }
}
