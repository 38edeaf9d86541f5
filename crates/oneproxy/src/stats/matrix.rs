//! The device-by-device correlation matrix of a latency table ("latency monotonicity").
//!
//! A correlation only counts when the two devices share enough measured architectures
//! ([`MIN_OVERLAP`]): over a handful of points a rank correlation is mostly noise (over 10
//! architectures a Spearman of 0.6 has a 95 % interval of about [-0.05, 0.89]), and a device that
//! measured 2 architectures would otherwise be "recommended" with a perfect 1.0. Below the
//! minimum the value is undefined: NaN in [`CorrelationMatrix::matrix`], a reason in words in
//! JSON ([`Correlation::Undefined`]), `-` in tables.

use super::rank::{dot, standardized_ranks, Metric};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Fewest architectures two devices must both have measured for their correlation to count.
pub const MIN_OVERLAP: usize = 30;

/// The device that ranks architectures most like all the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyRecommendation {
    /// Device name.
    pub device: String,
    /// Mean correlation to the other devices it has a defined correlation with.
    pub mean: f64,
    /// Lowest of those correlations.
    pub min: f64,
    /// How many other devices the mean and min are over (those sharing at least
    /// [`CorrelationMatrix::min_overlap`] measured architectures with it).
    pub compared: usize,
}

/// One cell of the matrix as reported: a value, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Correlation {
    /// The correlation.
    Value(f64),
    /// Undefined, with the reason in words (too few common architectures, constant latencies).
    Undefined(String),
}

/// Pairwise correlations between devices, each over the architectures measured on both.
///
/// Serialised with `matrix` cells as numbers or, where undefined, a reason in words (never
/// `null`), next to `overlaps` and `min_overlap`.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationMatrix {
    /// The metric.
    pub metric: Metric,
    /// Device names (rows and columns).
    pub devices: Vec<String>,
    /// `matrix[i][j]`: correlation of devices i and j; NaN where undefined ([`Self::cell`] says why).
    pub matrix: Vec<Vec<f64>>,
    /// `overlaps[i][j]`: number of architectures measured on both (on the diagonal: on the device).
    pub overlaps: Vec<Vec<usize>>,
    /// Correlations over fewer common architectures than this are undefined.
    pub min_overlap: usize,
}

impl Serialize for CorrelationMatrix {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            metric: Metric,
            devices: &'a [String],
            matrix: Vec<Vec<Correlation>>,
            overlaps: &'a [Vec<usize>],
            min_overlap: usize,
        }
        Json {
            metric: self.metric,
            devices: &self.devices,
            matrix: self.cells(),
            overlaps: &self.overlaps,
            min_overlap: self.min_overlap,
        }
        .serialize(serializer)
    }
}

impl CorrelationMatrix {
    /// Cell (i, j): the value, or why it is undefined.
    pub fn cell(&self, i: usize, j: usize) -> Correlation {
        let (v, k) = (self.matrix[i][j], self.overlaps[i][j]);
        if v.is_finite() {
            Correlation::Value(v)
        } else if k < self.min_overlap {
            Correlation::Undefined(format!(
                "undefined: {k} architectures measured on both, fewer than the {} required",
                self.min_overlap
            ))
        } else {
            Correlation::Undefined("undefined: a device's latencies are constant on the common architectures".into())
        }
    }

    /// Every cell ([`Self::cell`]), row by row.
    pub fn cells(&self) -> Vec<Vec<Correlation>> {
        let n = self.devices.len();
        (0..n).map(|i| (0..n).map(|j| self.cell(i, j)).collect()).collect()
    }

    /// Devices that cannot be recommended: no defined correlation to any other device (too few
    /// measured architectures in common with every one).
    pub fn unrankable(&self) -> Vec<String> {
        let n = self.devices.len();
        (0..n)
            .filter(|&i| n > 1 && (0..n).all(|j| j == i || !self.matrix[i][j].is_finite()))
            .map(|i| self.devices[i].clone())
            .collect()
    }

    /// The device compared with the most others (a defined correlation needs
    /// [`Self::min_overlap`] common architectures), then maximising its mean correlation to them,
    /// ties broken by the minimum; on a full tie the device listed first wins. Comparing counts
    /// first keeps a device correlated with one other device (a mean over one pair) from beating
    /// one correlated with all. `None` when no pair has a defined correlation.
    pub fn recommended_proxy(&self) -> Option<ProxyRecommendation> {
        self.proxy_candidates().into_iter().next()
    }

    /// Every device with a defined correlation, best proxy first, ordered as
    /// [`Self::recommended_proxy`] chooses (a stable sort: full ties keep the listed order).
    pub fn proxy_candidates(&self) -> Vec<ProxyRecommendation> {
        let n = self.devices.len();
        let mut all: Vec<ProxyRecommendation> = (0..n)
            .filter_map(|i| {
                let vals: Vec<f64> =
                    (0..n).filter(|&j| j != i).map(|j| self.matrix[i][j]).filter(|v| v.is_finite()).collect();
                if vals.is_empty() {
                    return None;
                }
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                let min = vals.iter().cloned().fold(f64::INFINITY, f64::min);
                Some(ProxyRecommendation { device: self.devices[i].clone(), mean, min, compared: vals.len() })
            })
            .collect();
        all.sort_by(|a, b| b.compared.cmp(&a.compared).then(b.mean.total_cmp(&a.mean)).then(b.min.total_cmp(&a.min)));
        all
    }

    /// Device names in [`Self::proxy_candidates`] order.
    pub fn ranked_devices(&self) -> Vec<String> {
        self.proxy_candidates().into_iter().map(|r| r.device).collect()
    }

    /// The rows and columns of `devices` that this matrix holds, in this matrix's order (a
    /// sub-panel without recomputing any correlation).
    pub fn subset(&self, devices: &[String]) -> CorrelationMatrix {
        let keep: Vec<usize> = (0..self.devices.len()).filter(|&i| devices.contains(&self.devices[i])).collect();
        let pick = |m: &Vec<Vec<f64>>| keep.iter().map(|&i| keep.iter().map(|&j| m[i][j]).collect()).collect();
        CorrelationMatrix {
            metric: self.metric,
            devices: keep.iter().map(|&i| self.devices[i].clone()).collect(),
            matrix: pick(&self.matrix),
            overlaps: keep.iter().map(|&i| keep.iter().map(|&j| self.overlaps[i][j]).collect()).collect(),
            min_overlap: self.min_overlap,
        }
    }

    /// Correlation between two named devices (NaN where undefined).
    pub fn get(&self, a: &str, b: &str) -> Option<f64> {
        let i = self.devices.iter().position(|d| d == a)?;
        let j = self.devices.iter().position(|d| d == b)?;
        Some(self.matrix[i][j])
    }
}

/// What the correlation matrix reads of a table of latencies: devices as columns over one list
/// of architectures, with missing cells.
///
/// Why a trait: the table ([`crate::data::LatencyTable`]) sits above the statistics (it is
/// loaded, checked, merged); statistics only read numbers, so they name what they read and
/// the table provides it, keeping `stats` free of the data layer.
pub trait DeviceColumns: Sync {
    /// Number of architectures (rows).
    fn rows(&self) -> usize;
    /// Names of the devices with at least one measurement, in column order.
    fn measured_device_names(&self) -> Vec<String>;
    /// Column of a device by name; an error naming the device when there is none.
    fn device_index(&self, name: &str) -> Result<usize>;
    /// One device's latencies, one per row (NaN where not measured).
    fn column(&self, device: usize) -> &[f64];
    /// Rows measured on a device.
    fn measured_count(&self, device: usize) -> usize;
    /// The latencies of two devices on the rows measured on both.
    fn paired(&self, a: usize, b: usize) -> (Vec<f64>, Vec<f64>);
}

/// [`correlation_matrix_with`] at the default minimum overlap, [`MIN_OVERLAP`].
pub fn correlation_matrix(table: &impl DeviceColumns, devices: &[String], metric: Metric) -> Result<CorrelationMatrix> {
    correlation_matrix_with(table, devices, metric, MIN_OVERLAP)
}

/// Correlation of every pair of `devices` (every measured device of the table when empty);
/// pairs sharing fewer than `min_overlap` (at least 2) measured architectures are undefined.
///
/// Spearman over fully measured columns reuses one ranking per device, so the 27 x 27 NB201
/// matrix costs 27 sorts and 351 dot products; pairs with missing cells are ranked on their
/// common architectures. Pairs run in parallel.
pub fn correlation_matrix_with(
    table: &impl DeviceColumns,
    devices: &[String],
    metric: Metric,
    min_overlap: usize,
) -> Result<CorrelationMatrix> {
    if min_overlap < 2 {
        return Err(Error::InvalidParameter(format!(
            "the minimum overlap must be at least 2 architectures (a correlation needs two points), got {min_overlap}"
        )));
    }
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
    let full: Vec<bool> = counts.iter().map(|&k| k == table.rows()).collect();
    // Some(Some(z)): standardised ranks of a full column; Some(None): a constant full column.
    let ranks: Vec<Option<Option<Vec<f64>>>> = cols
        .par_iter()
        .zip(&full)
        .map(|(&c, &f)| (f && metric == Metric::Spearman).then(|| standardized_ranks(table.column(c))))
        .collect();
    let n = cols.len();
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
    let results: Vec<(f64, usize)> = pairs
        .par_iter()
        .map(|&(i, j)| match (&ranks[i], &ranks[j]) {
            (Some(Some(zi)), Some(Some(zj))) => (dot(zi, zj).clamp(-1.0, 1.0), table.rows()),
            (Some(None), Some(_)) | (Some(_), Some(None)) => (f64::NAN, table.rows()),
            _ => {
                let (x, y) = table.paired(cols[i], cols[j]);
                let v = if x.len() >= min_overlap { metric.compute(&x, &y) } else { f64::NAN };
                (v, x.len())
            }
        })
        .collect();
    let mut matrix = vec![vec![1.0; n]; n];
    let mut overlaps = vec![vec![0; n]; n];
    for (i, &k) in counts.iter().enumerate() {
        overlaps[i][i] = k;
    }
    for (&(i, j), &(v, m)) in pairs.iter().zip(&results) {
        let v = if m >= min_overlap { v } else { f64::NAN };
        matrix[i][j] = v;
        matrix[j][i] = v;
        overlaps[i][j] = m;
        overlaps[j][i] = m;
    }
    Ok(CorrelationMatrix { metric, devices: names, matrix, overlaps, min_overlap })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled::bundle;
    use crate::data::LatencyTable;
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
        assert_eq!(m.overlaps[0][2], 1999);
        assert!(m.get("pixel3", "edgegpu").unwrap().is_finite());
    }

    #[test]
    fn recommendation_maximises_mean_then_min() {
        let m = CorrelationMatrix {
            metric: Metric::Spearman,
            devices: vec!["a".into(), "b".into(), "c".into()],
            matrix: vec![vec![1.0, 0.9, 0.5], vec![0.9, 1.0, 0.7], vec![0.5, 0.7, 1.0]],
            overlaps: vec![vec![100; 3]; 3],
            min_overlap: MIN_OVERLAP,
        };
        let r = m.recommended_proxy().unwrap();
        assert_eq!(r.device, "b");
        assert!((r.mean - 0.8).abs() < 1e-12 && (r.min - 0.7).abs() < 1e-12);
        assert_eq!(r.compared, 2);
    }

    /// A table of the NB201 archs with `full` devices measured everywhere (bundled values) and
    /// one device measured on the first `k` architectures only (with its ranking reversed, so a
    /// value computed anyway would be -1, and perfectly consistent with itself).
    fn with_small_device(k: usize) -> LatencyTable {
        let b = bundle(SpaceId::Nb201).unwrap();
        let mut t = LatencyTable::new(SpaceId::Nb201);
        for d in ["pixel3", "raspi4", "fpga"] {
            let c = b.latency.device_index(d).unwrap();
            let values: Vec<(crate::Arch, f64)> =
                b.archs.iter().enumerate().map(|(r, a)| (a.clone(), b.latency.get(r, c).unwrap())).collect();
            t.add_device(d, crate::data::DeviceSource::File("test.csv".into()), values).unwrap();
        }
        let pixel3 = t.column(0).to_vec();
        let small: Vec<(crate::Arch, f64)> = (0..k).map(|r| (t.archs()[r].clone(), 1000.0 / pixel3[r])).collect();
        t.add_device("small", crate::data::DeviceSource::File("test.csv".into()), small).unwrap();
        t
    }

    #[test]
    fn correlations_over_too_few_common_architectures_are_undefined() {
        let t = with_small_device(10);
        let m = correlation_matrix(&t, &[], Metric::Spearman).unwrap();
        let s = m.devices.iter().position(|d| d == "small").unwrap();
        assert_eq!(m.overlaps[s][0], 10);
        assert!(m.matrix[s][0].is_nan() && m.matrix[0][s].is_nan());
        match m.cell(s, 0) {
            Correlation::Undefined(why) => {
                assert!(why.contains("10 architectures measured on both, fewer than the 30"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.unrankable(), vec!["small".to_string()]);
        let rec = m.recommended_proxy().unwrap();
        assert_ne!(rec.device, "small");
        assert_eq!(rec.compared, 2);
        // JSON: a reason in words, never null.
        let json = serde_json::to_value(&m).unwrap();
        assert!(json["matrix"][s][0].is_string() && json["matrix"][0][1].is_f64(), "{json}");
        assert_eq!(json["overlaps"][s][0], 10);
        assert!(!json.to_string().contains("null"));
        // At a lower minimum the same pair counts (and is the exact reversal).
        let low = correlation_matrix_with(&t, &[], Metric::Spearman, 10).unwrap();
        assert!((low.matrix[s][0] + 1.0).abs() < 1e-12);
        assert!(low.unrankable().is_empty());
        assert!(correlation_matrix_with(&t, &[], Metric::Spearman, 1).is_err());
    }

    #[test]
    fn a_device_with_enough_overlap_counts() {
        let t = with_small_device(MIN_OVERLAP);
        let m = correlation_matrix(&t, &[], Metric::Spearman).unwrap();
        let s = m.devices.iter().position(|d| d == "small").unwrap();
        assert!(m.matrix[s][0].is_finite());
        assert!(m.unrankable().is_empty());
    }

    #[test]
    fn unknown_device_is_an_error() {
        let t = &bundle(SpaceId::Nb201).unwrap().latency;
        let err = correlation_matrix(t, &["pixel9".into()], Metric::Spearman).unwrap_err();
        assert!(err.to_string().contains("unknown device 'pixel9'"));
    }
}

#[cfg(test)]
mod subset_tests {
    use super::*;

    #[test]
    fn a_subset_is_the_matrix_of_those_devices() {
        let t = &crate::data::bundled::bundle(crate::SpaceId::Nb201).unwrap().latency;
        let all: Vec<String> = ["pixel3", "raspi4", "edgegpu", "fpga"].iter().map(|s| s.to_string()).collect();
        let some: Vec<String> = ["fpga", "pixel3", "edgegpu"].iter().map(|s| s.to_string()).collect();
        let sub = correlation_matrix(t, &all, Metric::Spearman).unwrap().subset(&some);
        let direct =
            correlation_matrix(t, &["pixel3".into(), "edgegpu".into(), "fpga".into()], Metric::Spearman).unwrap();
        assert_eq!(sub.devices, direct.devices);
        assert_eq!(sub.overlaps, direct.overlaps);
        for (a, b) in sub.matrix.iter().flatten().zip(direct.matrix.iter().flatten()) {
            assert!(a == b || (a.is_nan() && b.is_nan()));
        }
        assert_eq!(sub.recommended_proxy(), direct.recommended_proxy());
    }
}
