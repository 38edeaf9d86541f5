//! Rank statistics and the device-by-device correlation matrix.

mod cluster;
mod matrix;
mod rank;

pub use cluster::cluster_order;
pub use matrix::{
    correlation_matrix, correlation_matrix_with, Correlation, CorrelationMatrix, DeviceColumns, ProxyRecommendation,
    MIN_OVERLAP,
};
pub use rank::{
    average_ranks, dot, kendall_tau_b, pearson, sorted_indices, spearman, standardize, standardized_ranks, Metric,
};

/// The median of `v` (not empty); the mean of the middle two for an even count.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Relative spread above which a measurement is unstable: the MAD over the median.
pub const UNSTABLE_SPREAD: f64 = 0.05;

/// The spread of a measurement's runs as one scale-free number: their median absolute deviation
/// over their median (the statistic behind [`UNSTABLE_SPREAD`]); `None` for fewer than two runs,
/// which have no spread to speak of.
pub fn relative_spread(runs_ms: &[f64]) -> Option<f64> {
    if runs_ms.len() < 2 {
        return None;
    }
    let m = median(runs_ms);
    let deviations: Vec<f64> = runs_ms.iter().map(|x| (x - m).abs()).collect();
    (m > 0.0).then(|| median(&deviations) / m)
}
