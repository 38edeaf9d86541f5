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
