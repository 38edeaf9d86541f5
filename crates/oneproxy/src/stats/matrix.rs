//! The device-by-device correlation matrix of a latency table ("latency monotonicity").

use super::rank::{dot, standardized_ranks, Metric};
use crate::error::{Error, Result};
use crate::table::LatencyTable;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The device that ranks architectures most like all the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyRecommendation {
    /// Device name.
    pub device: String,
    /// Mean correlation to the other devices.
    pub mean: f64,
    /// Lowest correlation to another device.
    pub min: f64,
}

/// Pairwise correlations between devices, each over the architectures measured on both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationMatrix {
    /// The metric.
    pub metric: Metric,
    /// Device names (rows and columns).
    pub devices: Vec<String>,
    /// `matrix[i][j]`: correlation of devices i and j (NaN -> null where undefined).
    pub matrix: Vec<Vec<f64>>,
    /// `pairs_measured[i][j]`: number of architectures measured on both.
    pub pairs_measured: Vec<Vec<usize>>,
}

impl CorrelationMatrix {
    /// The device maximising its mean correlation to the others, ties broken by the minimum.
    /// On a full tie the device listed first wins. `None` with fewer than two devices.
    pub fn recommended_proxy(&self) -> Option<ProxyRecommendation> {
        let n = self.devices.len();
        if n < 2 {
            return None;
        }
        (0..n)
            .filter_map(|i| {
                let vals: Vec<f64> =
                    (0..n).filter(|&j| j != i).map(|j| self.matrix[i][j]).filter(|v| v.is_finite()).collect();
                if vals.is_empty() {
                    return None;
                }
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                let min = vals.iter().cloned().fold(f64::INFINITY, f64::min);
                Some(ProxyRecommendation { device: self.devices[i].clone(), mean, min })
            })
            // On a full tie the device listed first wins (`max_by` would pick the last).
            .reduce(|best, c| {
                if c.mean.total_cmp(&best.mean).then(c.min.total_cmp(&best.min)).is_gt() { c } else { best }
            })
    }

    /// Correlation between two named devices.
    pub fn get(&self, a: &str, b: &str) -> Option<f64> {
        let i = self.devices.iter().position(|d| d == a)?;
        let j = self.devices.iter().position(|d| d == b)?;
        Some(self.matrix[i][j])
    }
}

/// Correlation of every pair of `devices` (every measured device of the table when empty).
///
/// Spearman over fully measured columns reuses one ranking per device, so the 27 x 27 NB201
/// matrix costs 27 sorts and 351 dot products; pairs with missing cells are ranked on their
/// common architectures. Pairs run in parallel.
pub fn correlation_matrix(table: &LatencyTable, devices: &[String], metric: Metric) -> Result<CorrelationMatrix> {
    let names: Vec<String> = if devices.is_empty() { table.measured_device_names() } else { devices.to_vec() };
    let mut cols = Vec::with_capacity(names.len());
    let mut counts = Vec::with_capacity(names.len());
    for name in &names {
        let c = table.device_index(name)?;
        let count = table.measured_count(c);
        counts.push(count);
        if count == 0 {
            return Err(Error::TooFewSamples(format!("device '{name}' has no measurements")));
        }
        if cols.contains(&c) {
            return Err(Error::InvalidParameter(format!("device '{name}' is listed twice")));
        }
        cols.push(c);
    }
    let full: Vec<bool> = counts.iter().map(|&k| k == table.len()).collect();
    // Some(Some(z)): standardised ranks of a full column; Some(None): a constant full column.
    let ranks: Vec<Option<Option<Vec<f64>>>> = cols
        .par_iter()
        .zip(&full)
        .map(|(&c, &f)| {
            (f && metric == Metric::Spearman).then(|| standardized_ranks(table.column(c)))
        })
        .collect();
    let n = cols.len();
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
    let results: Vec<(f64, usize)> = pairs
        .par_iter()
        .map(|&(i, j)| match (&ranks[i], &ranks[j]) {
            (Some(Some(zi)), Some(Some(zj))) => (dot(zi, zj).clamp(-1.0, 1.0), table.len()),
            (Some(None), Some(_)) | (Some(_), Some(None)) => (f64::NAN, table.len()),
            _ => {
                let (x, y) = table.paired(cols[i], cols[j]);
                (metric.compute(&x, &y), x.len())
            }
        })
        .collect();
    let mut matrix = vec![vec![1.0; n]; n];
    let mut pairs_measured = vec![vec![0; n]; n];
    for (i, &k) in counts.iter().enumerate() {
        pairs_measured[i][i] = k;
    }
    for (&(i, j), &(v, m)) in pairs.iter().zip(&results) {
        matrix[i][j] = v;
        matrix[j][i] = v;
        pairs_measured[i][j] = m;
        pairs_measured[j][i] = m;
    }
    Ok(CorrelationMatrix { metric, devices: names, matrix, pairs_measured })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundled::bundle;
    use crate::SpaceId;

    fn nb201(metric: Metric, devs: &[&str]) -> CorrelationMatrix {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let devs: Vec<String> = devs.iter().map(|s| s.to_string()).collect();
        correlation_matrix(t, &devs, metric).unwrap()
    }

    #[test]
    fn reference_figures_from_the_data_readme() {
        let m = nb201(Metric::Spearman, &["pixel3", "raspi4", "eyeriss", "fpga"]);
        assert!((m.get("pixel3", "raspi4").unwrap() - 0.9667486803297226).abs() < 1e-9);
        assert!((m.get("eyeriss", "fpga").unwrap() - 0.7540970421558715).abs() < 1e-9);
        let k = nb201(Metric::Kendall, &["pixel3", "raspi4"]);
        assert!((k.get("pixel3", "raspi4").unwrap() - 0.8461928843023325).abs() < 1e-9);
    }

    #[test]
    fn fast_path_equals_pairwise_ranking_and_partial_columns_use_common_rows() {
        let m = nb201(Metric::Spearman, &["pixel3", "raspi4", "edgegpu"]);
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let (a, b) = t.paired(t.device_index("pixel3").unwrap(), t.device_index("raspi4").unwrap());
        assert!((m.get("pixel3", "raspi4").unwrap() - super::super::spearman(&a, &b)).abs() < 1e-12);
        assert_eq!(m.pairs_measured[0][2], 1999);
        assert!(m.get("pixel3", "edgegpu").unwrap().is_finite());
    }

    #[test]
    fn recommendation_maximises_mean_then_min() {
        let m = CorrelationMatrix {
            metric: Metric::Spearman,
            devices: vec!["a".into(), "b".into(), "c".into()],
            matrix: vec![vec![1.0, 0.9, 0.5], vec![0.9, 1.0, 0.7], vec![0.5, 0.7, 1.0]],
            pairs_measured: vec![vec![1; 3]; 3],
        };
        let r = m.recommended_proxy().unwrap();
        assert_eq!(r.device, "b");
        assert!((r.mean - 0.8).abs() < 1e-12 && (r.min - 0.7).abs() < 1e-12);
    }

    #[test]
    fn unknown_device_is_an_error() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let err = correlation_matrix(t, &["pixel9".into()], Metric::Spearman).unwrap_err();
        assert!(err.to_string().contains("unknown device 'pixel9'"));
    }
}
