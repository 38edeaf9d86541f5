//! Positivity over the whole space: the lowest prediction and where (exact through
//! [`SearchSpace::argmin_additive`](crate::space::SearchSpace::argmin_additive) for additive
//! predictors, by enumeration with structure terms), and the check every predictor in use
//! passes.

use super::{AdditivePredictor, ProxyLatency};
use crate::error::{Error, Result};
use crate::space::Arch;

/// Where a predictor is lowest over its space ([`AdditivePredictor::lower_bound`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LowerBound {
    /// The lowest prediction (ms).
    pub value: f64,
    /// An architecture with that prediction.
    pub arch: Arch,
    /// Whether the proxy terms use measured latencies there (false: their fallback models).
    pub measured: bool,
}

/// A prediction counts as positive when it exceeds this fraction of the size of the
/// predictor's terms ([`AdditivePredictor::magnitude`]): below that, rounding in the sum of the
/// terms could already flip its sign.
const POSITIVE_MARGIN: f64 = 1e-9;

impl AdditivePredictor {
    /// The predictor with every proxy term on its fallback model, as one additive model
    /// (weights, intercept): what [`ProxyLatency::Modelled`] predicts.
    fn fallback_model(&self) -> (Vec<f64>, f64) {
        let mut w = self.weights.clone();
        let mut c = self.intercept;
        for t in &self.proxy_terms {
            for (wi, fi) in w.iter_mut().zip(&t.fallback_weights) {
                *wi += t.coefficient * fi;
            }
            c += t.coefficient * t.fallback_intercept;
        }
        (w, c)
    }

    /// The lowest prediction over the whole space, and where.
    ///
    /// [`ProxyLatency::Modelled`]: the minimum of the predictions (proxy terms on their
    /// fallback models), exact. [`ProxyLatency::Measured`]: a lower bound of the predictions,
    /// the minimum over the table's architectures (measured cells) and over the whole space on
    /// fallback models (exact when the table holds no architecture of the space
    /// that matters, a lower bound otherwise). Both cost one pass over the encoding (plus one
    /// prediction per table row).
    pub fn lower_bound(&self, latency: ProxyLatency) -> Result<LowerBound> {
        let low = self.modelled_bound()?;
        self.with_measured(low, latency)
    }

    /// [`lower_bound`](Self::lower_bound) with every proxy term on its fallback model.
    fn modelled_bound(&self) -> Result<LowerBound> {
        let space = self.space.space();
        if self.weights.len() != space.num_features() {
            return Err(Error::InvalidParameter(format!(
                "predictor has {} weights, space {} has {} features",
                self.weights.len(),
                self.space,
                space.num_features()
            )));
        }
        let (w, c) = self.fallback_model();
        Ok(if self.is_additive() {
            let arch = space.argmin_additive(&w);
            LowerBound { value: space.min_additive(&w) + c, arch, measured: false }
        } else if let (true, Some([smallest, _])) =
            (self.is_additive_but_networks(), self.space.family().count_extremes())
        {
            // Network terms weigh counts >= 0 by weights >= 0 (checked by `validate`): the sum
            // of the additive part's minimum and the terms at the smallest network bounds every
            // prediction from below (exact when the additive part is lowest there too).
            let arch = space.argmin_additive(&w);
            LowerBound { value: space.min_additive(&w) + c + self.network_value(&smallest), arch, measured: false }
        } else {
            // Not additive: over the whole (enumerable, checked by `validate`) space.
            let all = self.space.enumerated().ok_or_else(|| {
                Error::InvalidParameter(format!("structure terms need an enumerable space, not {}", self.space))
            })?;
            if let Some(low) = self.lowest_of_counts(all) {
                return Ok(low);
            }
            let values = self.predict_modelled(all);
            let i = (0..all.len()).fold(0, |b, i| if values[i] < values[b] { i } else { b });
            LowerBound { value: values[i], arch: all[i].clone(), measured: false }
        })
    }

    /// `low`, the modelled bound, lowered to any of the table's architectures that the proxy
    /// terms predict lower with their measured latencies.
    fn with_measured(&self, mut low: LowerBound, latency: ProxyLatency) -> Result<LowerBound> {
        if let (Some(table), false) = (latency.table(), self.proxy_terms.is_empty()) {
            if table.space() != self.space {
                return Err(Error::InvalidParameter(format!(
                    "the latency table is for space {}, the predictor for {}",
                    table.space(),
                    self.space
                )));
            }
            let values = self.predict_measured(table.archs(), table)?;
            for (a, v) in table.archs().iter().zip(values) {
                // A NaN counts as lower: it must surface, not hide behind the bound.
                if matches!(v.partial_cmp(&low.value), None | Some(std::cmp::Ordering::Less)) {
                    low = LowerBound { value: v, arch: a.clone(), measured: true };
                }
            }
        }
        Ok(low)
    }

    /// The scan's answer without the scan, for a model of counts alone: no one-hot weight
    /// (each +0.0), no proxy or network term, structure weights finite and >= 0, and the first
    /// enumerated cell (NB201's all-`none` cell) counting nothing. Every prediction is then the
    /// same encoded part (+-0.0) plus the intercept plus a sum of products >= 0, and rounding
    /// keeps the order of such sums, so none is below the first cell's, which the scan keeps.
    /// Its value is predicted by the scan's own code, so the bits are the same. Why: the
    /// count hypotheses are fitted and checked on every refit of the flow, and the scan of
    /// NB201's 15,625 cells cost more than their fit.
    fn lowest_of_counts(&self, all: &[Arch]) -> Option<LowerBound> {
        let first = all.first()?;
        let counts_alone = self.proxy_terms.is_empty()
            && self.network_terms.is_empty()
            && !self.structure_terms.is_empty()
            && self.intercept.is_finite()
            && self.weights.iter().all(|w| w.to_bits() == 0)
            && self.counts_weigh_up();
        if !counts_alone || self.structure_value_of(first) != 0.0 {
            return None;
        }
        let value = self.predict_modelled(std::slice::from_ref(first))[0];
        Some(LowerBound { value, arch: first.clone(), measured: false })
    }

    /// Whether every term is additive in the encoding (no structure terms, no pruned proxy
    /// terms): then the minimum over the space is exact from the weights.
    pub(super) fn is_additive(&self) -> bool {
        self.is_additive_but_networks() && self.network_terms.is_empty()
    }

    /// Whether every term but the network terms is additive in the encoding.
    fn is_additive_but_networks(&self) -> bool {
        self.structure_terms.is_empty() && self.proxy_terms.iter().all(|t| !t.pruned)
    }

    /// Size of the predictor's terms over the space (the largest sum of absolute contributions,
    /// fallback models included): the yardstick against which "positive" is judged.
    pub fn magnitude(&self) -> f64 {
        let space = self.space.space();
        let (w, c) = self.fallback_model();
        let abs: Vec<f64> = w.iter().map(|v| v.abs()).collect();
        // A cell has 6 edges: no count exceeds 6.
        let structure: f64 = self.structure_terms.iter().flat_map(|t| &t.weights).map(|v| 6.0 * v.abs()).sum();
        let network = match (self.network_terms.is_empty(), self.space.family().count_extremes()) {
            (false, Some([_, largest])) => self.network_parts(&largest).iter().map(|(w, c)| w.abs() * c).sum(),
            _ => 0.0,
        };
        c.abs() + space.max_additive(&abs).max(0.0) + structure + network
    }

    /// Whether `lowest` (a [`lower_bound`](Self::lower_bound) value) counts as positive.
    pub(in crate::predictor) fn is_positive(&self, lowest: f64) -> bool {
        lowest > POSITIVE_MARGIN * self.magnitude()
    }

    /// Errors unless every prediction over the whole space, with the proxy terms' latencies
    /// from `latency`, is positive. The error names the architecture and the value.
    pub fn check_positive(&self, latency: ProxyLatency) -> Result<()> {
        self.positive_at(&self.lower_bound(latency)?)
    }

    /// [`check_positive`](Self::check_positive) on the fallback models, then, unless `measured`
    /// is `None`, with the table's measured latencies: one computation of the modelled bound
    /// for both (the averaged adaptation is checked both ways on every refit of the flow).
    pub(crate) fn check_positive_both(&self, measured: Option<&crate::data::LatencyTable>) -> Result<()> {
        if measured.is_none() && self.positive_by_parts() {
            return Ok(());
        }
        let modelled = self.modelled_bound()?;
        self.positive_at(&modelled)?;
        match measured {
            Some(t) => self.positive_at(&self.with_measured(modelled, ProxyLatency::Measured(t))?),
            None => Ok(()),
        }
    }

    /// Whether every structure term weighs its counts (never negative) by finite weights
    /// >= 0: then the structure terms add nothing below 0 to any prediction.
    fn counts_weigh_up(&self) -> bool {
        self.structure_terms.iter().all(|t| t.weights.iter().all(|w| w.is_finite() && *w >= 0.0))
    }

    /// Whether every prediction on the fallback models is positive, known without a scan: the
    /// additive part's exact minimum is above the margin, the structure terms weigh counts
    /// (never negative) by weights >= 0, and there is no other term. The scan sums the same
    /// terms in another order; the extra margin, on the size of every term, covers that
    /// rounding many times over. When this cannot tell, the scan does. Why: the averaged
    /// predictor holds the count hypotheses' structure terms, so without this its check
    /// predicted all 15,625 NB201 cells on every refit of the flow.
    fn positive_by_parts(&self) -> bool {
        let plain_terms = self.network_terms.is_empty() && self.proxy_terms.iter().all(|t| !t.pruned);
        if !plain_terms || !self.counts_weigh_up() {
            return false;
        }
        let (w, c) = self.fallback_model();
        let low = self.space.space().min_additive(&w) + c;
        let abs_sum = |v: &[f64]| v.iter().map(|x| x.abs()).sum::<f64>();
        let terms = self.intercept.abs()
            + abs_sum(&self.weights)
            + self
                .proxy_terms
                .iter()
                .map(|t| t.coefficient.abs() * (abs_sum(&t.fallback_weights) + t.fallback_intercept.abs()))
                .sum::<f64>()
            + self.structure_terms.iter().map(|t| 6.0 * abs_sum(&t.weights)).sum::<f64>();
        low > POSITIVE_MARGIN * (self.magnitude() + terms)
    }

    /// Errors unless `low` is positive, naming where it is not.
    fn positive_at(&self, low: &LowerBound) -> Result<()> {
        if self.is_positive(low.value) {
            return Ok(());
        }
        let who = if self.device.is_empty() { String::new() } else { format!(" for '{}'", self.device) };
        let how = match (low.measured, self.proxy_terms.is_empty()) {
            (_, true) => "",
            (true, false) => " (with the proxy's measured latency)",
            (false, false) => " (with the proxy's fallback model)",
        };
        Err(Error::InvalidParameter(format!(
            "the predictor{who} is not positive over the {} space: it predicts {:.6e} ms for {}{how}",
            self.space,
            low.value,
            self.space.space().format(&low.arch)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ProxyTerm, StructureTerm, ENCODING_VERSION};
    use super::*;
    use crate::data::LatencyTable;
    use crate::space::{Nb201, SearchSpace, SpaceId};

    #[test]
    fn predictors_that_are_not_positive_everywhere_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        let mut w = vec![1.0; 30];
        w[3] = -8.0; // nor_conv_3x3 on the first edge: 1 + 5 * 1 - 8 = -2 ms at best
        let p = AdditivePredictor {
            space: SpaceId::Nb201,
            encoding_version: ENCODING_VERSION,
            device: "board".into(),
            weights: w,
            intercept: 1.0,
            proxy_terms: Vec::new(),
            structure_terms: Vec::new(),
            network_terms: Vec::new(),
            provenance: serde_json::Value::Null,
            unconstrained: None,
        };
        std::fs::write(&f, serde_json::to_string(&p).unwrap()).unwrap();
        let err = AdditivePredictor::load(&f).unwrap_err().to_string();
        assert!(err.contains("not positive") && err.contains("|nor_conv_3x3~0|+") && err.contains("-2.0"), "{err}");
        // A proxy term with a negative coefficient: positive on its fallback, negative with the
        // measured latency of a slow architecture.
        let mut table = LatencyTable::new(SpaceId::Nb201);
        let all = Nb201.enumerate().unwrap();
        table
            .add_device(
                "slow",
                crate::data::DeviceSource::Computed("test".into()),
                [(all[1].clone(), 50.0), (all[2].clone(), 1.0)],
            )
            .unwrap();
        let q = AdditivePredictor {
            weights: vec![0.1; 30],
            intercept: 5.0,
            proxy_terms: vec![ProxyTerm {
                device: "slow".into(),
                coefficient: -0.2,
                fallback_weights: vec![0.1; 30],
                fallback_intercept: 1.0,
                pruned: false,
            }],
            ..p
        };
        q.validate().unwrap();
        let err = q.check_positive(ProxyLatency::Measured(&table)).unwrap_err().to_string();
        assert!(err.contains("measured latency"), "{err}");
        assert!(q.lower_bound(ProxyLatency::Measured(&table)).unwrap().measured);
    }

    /// The bound of the whole scan, as it was computed before any shortcut.
    fn scanned(p: &AdditivePredictor) -> (f64, Arch) {
        let all = p.space.enumerated().unwrap();
        let values = p.predict_modelled(all);
        let i = (0..all.len()).fold(0, |b, i| if values[i] < values[b] { i } else { b });
        (values[i], all[i].clone())
    }

    #[test]
    fn a_model_of_counts_alone_is_bounded_without_a_scan_by_the_scans_own_answer() {
        use crate::space::cell::{CellFeature, OPS};
        use rand::Rng;
        let mut rng = crate::space::seeded_rng(7);
        let features = [CellFeature::LiveOps, CellFeature::CostliestPath { op_costs: [0.0, 0.1, 1.0, 9.0, 0.5] }];
        let mut shortcuts = 0;
        for case in 0..200 {
            let kept: Vec<&CellFeature> = features.iter().filter(|_| rng.random_bool(0.7)).collect();
            let structure_terms = kept
                .into_iter()
                .map(|f| StructureTerm {
                    feature: f.clone(),
                    // Zeros (ties everywhere), tiny and large weights; now and then a negative
                    // one, which the shortcut must leave to the scan.
                    weights: (0..OPS)
                        .map(|_| match rng.random_range(0..6) {
                            0 => 0.0,
                            1 => 1e-300,
                            2 if case % 7 == 0 => -0.3,
                            _ => rng.random_range(0.0..5.0),
                        })
                        .collect(),
                })
                .collect();
            let mut weights = vec![0.0; 30];
            if case % 11 == 0 {
                weights[rng.random_range(0..30)] = 0.25;
            }
            let p = AdditivePredictor {
                weights,
                intercept: [0.0, -0.0, 1e-9, 3.5, -2.0][case % 5],
                structure_terms,
                ..AdditivePredictor::blank(SpaceId::Nb201)
            };
            shortcuts += usize::from(p.lowest_of_counts(p.space.enumerated().unwrap()).is_some());
            let low = p.lower_bound(ProxyLatency::Modelled).unwrap();
            let (value, arch) = scanned(&p);
            assert_eq!(low.value.to_bits(), value.to_bits(), "case {case}: {p:?}");
            assert_eq!(low.arch, arch, "case {case}");
        }
        assert!(shortcuts > 100, "the shortcut applied in {shortcuts} of 200 cases");
    }

    #[test]
    fn positive_by_parts_only_when_the_scan_agrees() {
        use crate::space::cell::{CellFeature, OPS};
        use rand::Rng;
        let mut rng = crate::space::seeded_rng(11);
        let (mut said, mut near_zero, mut failing) = (0, 0, 0);
        for case in 0..300 {
            // Additive weights around zero (some cells cheap, some not), a proxy term on its
            // fallback model, and count terms: the averaged predictor's shape.
            let weights: Vec<f64> = (0..30).map(|_| rng.random_range(-0.4..1.0)).collect();
            let proxy_terms = vec![ProxyTerm {
                device: "proxy".into(),
                coefficient: rng.random_range(-0.5..1.5),
                fallback_weights: (0..30).map(|_| rng.random_range(0.0..2.0)).collect(),
                fallback_intercept: rng.random_range(0.0..1.0),
                pruned: false,
            }];
            let structure_terms = vec![StructureTerm {
                feature: CellFeature::LiveOps,
                weights: (0..OPS).map(|_| if case % 9 == 0 { -0.2 } else { rng.random_range(0.0..0.5) }).collect(),
            }];
            let intercept = rng.random_range(-3.0..3.0);
            let p = AdditivePredictor {
                weights,
                intercept,
                proxy_terms,
                structure_terms,
                ..AdditivePredictor::blank(SpaceId::Nb201)
            };
            let scanned = p.modelled_bound().unwrap().value;
            near_zero += usize::from(scanned.abs() < 0.5);
            failing += usize::from(!p.is_positive(scanned));
            if p.positive_by_parts() {
                said += 1;
                assert!(p.is_positive(scanned), "case {case}: parts say positive, the scan found {scanned}");
            }
            // Whatever the shortcut says, the check's outcome is the scan's.
            assert_eq!(p.check_positive_both(None).is_ok(), p.is_positive(scanned), "case {case}");
        }
        assert!(
            said > 30 && near_zero > 10 && failing > 10,
            "the shortcut applied {said} times; {near_zero} cases near zero, {failing} not positive"
        );
    }
}
