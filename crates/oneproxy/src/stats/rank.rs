//! Correlation coefficients.
//!
//! * Spearman's rho is Pearson's r of the *average* ranks (ties share the mean of the ranks
//!   they span), which is what scipy computes.
//! * Kendall's tau-b counts discordant pairs with a merge sort after sorting by (x, y), the
//!   O(n log n) method of Knight (1966), with the tie corrections of tau-b:
//!   `tau_b = (P - Q) / sqrt((n0 - n1) (n0 - n2))`, where n1, n2 count pairs tied in x, in y.
//!
//! Degenerate inputs (fewer than 2 points, a constant column) give NaN, as in scipy: there is
//! no ranking to compare.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// Which correlation to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Metric {
    /// Spearman's rank correlation (the paper's monotonicity measure).
    #[default]
    Spearman,
    /// Kendall's tau-b.
    Kendall,
    /// Pearson's linear correlation.
    Pearson,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [Metric::Spearman, Metric::Kendall, Metric::Pearson];

    /// Name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Spearman => "spearman",
            Metric::Kendall => "kendall",
            Metric::Pearson => "pearson",
        }
    }

    /// Compute this metric on paired samples.
    pub fn compute(self, x: &[f64], y: &[f64]) -> f64 {
        match self {
            Metric::Spearman => spearman(x, y),
            Metric::Kendall => kendall_tau_b(x, y),
            Metric::Pearson => pearson(x, y),
        }
    }
}

fn total_cmp(a: &f64, b: &f64) -> Ordering {
    a.total_cmp(b)
}

/// 1-based ranks with ties given the average of the ranks they span (ties are exact equality;
/// NaNs rank last).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let order = sorted_indices(x);
    let mut ranks = vec![0.0; x.len()];
    for (i, j) in tie_groups(x, &order) {
        // Positions i..j (0-based) share ranks i+1..=j; their mean is (i + j + 1) / 2.
        let r = (i + j + 1) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k as usize] = r;
        }
    }
    ranks
}

/// Maximal runs `[i, j)` of positions `0..n` where `same(i, k)` holds for every `k` in the run.
fn runs(n: usize, same: impl Fn(usize, usize) -> bool) -> impl Iterator<Item = (usize, usize)> {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= n {
            return None;
        }
        let start = i;
        i += 1;
        while i < n && same(start, i) {
            i += 1;
        }
        Some((start, i))
    })
}

/// Runs of tied values along `order` (ascending indices of `x`): exact equality, or identical
/// bits (so that identical NaNs tie).
fn tie_groups<'a>(x: &'a [f64], order: &'a [u32]) -> impl Iterator<Item = (usize, usize)> + 'a {
    runs(order.len(), move |a, b| {
        let (u, v) = (x[order[a] as usize], x[order[b] as usize]);
        u == v || u.to_bits() == v.to_bits()
    })
}

/// Average ranks of `x`, centred and scaled to unit norm (so that Spearman's rho of two columns
/// is the dot product of their standardised ranks); `None` when `x` is constant or shorter than
/// 2. One pass over the sorted order: the mean rank is always (n + 1) / 2 and the sum of squares
/// adds up per tie group.
pub fn standardized_ranks(x: &[f64]) -> Option<Vec<f64>> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let order = sorted_indices(x);
    let mean = (n + 1) as f64 / 2.0;
    let mut z = vec![0.0; n];
    let mut ss = 0.0;
    for (i, j) in tie_groups(x, &order) {
        let d = (i + j + 1) as f64 / 2.0 - mean;
        ss += (j - i) as f64 * d * d;
        for &k in &order[i..j] {
            z[k as usize] = d;
        }
    }
    if ss == 0.0 {
        return None;
    }
    let inv = 1.0 / ss.sqrt();
    z.iter_mut().for_each(|v| *v *= inv);
    Some(z)
}

/// Indices of `x` in ascending order (`total_cmp`, so NaNs last).
///
/// For long finite inputs: an LSD radix sort on a 24-bit order-preserving key of the value
/// rounded to `f32` (packed with the index into one u64; two 12-bit passes, a pass skipped when
/// every item shares the digit), then runs that share a key are put in exact `f64` order.
/// Rounding and truncating are monotone, so the order is exact; it costs two linear passes
/// instead of a comparison sort.
pub fn sorted_indices(x: &[f64]) -> Vec<u32> {
    let n = x.len();
    let by_value = |a: &u32, b: &u32| x[*a as usize].total_cmp(&x[*b as usize]);
    if n < 512 || n > u32::MAX as usize || !x.iter().all(|v| v.is_finite()) {
        let mut idx: Vec<u32> = (0..n as u32).collect();
        idx.sort_unstable_by(by_value);
        return idx;
    }
    // 24-bit key: sign, exponent and 15 mantissa bits of the value as f32, order-preserving.
    // Two 12-bit passes sort it; values that share a key (relative gap < 3e-5) are put in
    // exact order afterwards.
    let key24 = |a: f64| {
        let b = (a as f32).to_bits();
        (if b >> 31 == 1 { !b } else { b | (1 << 31) }) >> 8
    };
    let mut items: Vec<u64> = (0..n).map(|i| ((key24(x[i]) as u64) << 32) | i as u64).collect();
    let mut buf = vec![0u64; n];
    let mut count = vec![0usize; 1 << 12];
    for pass in 0..2 {
        let shift = 32 + 12 * pass;
        count.iter_mut().for_each(|c| *c = 0);
        for &it in &items {
            count[((it >> shift) & 0xfff) as usize] += 1;
        }
        if count.contains(&n) {
            continue;
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let k = *c;
            *c = sum;
            sum += k;
        }
        for &it in &items {
            let d = ((it >> shift) & 0xfff) as usize;
            buf[count[d]] = it;
            count[d] += 1;
        }
        std::mem::swap(&mut items, &mut buf);
    }
    let mut idx: Vec<u32> = items.iter().map(|it| (it & 0xffff_ffff) as u32).collect();
    // Exact order inside runs of equal keys (rare and short).
    for (i, j) in runs(n, |a, b| items[a] >> 32 == items[b] >> 32) {
        if j - i > 1 {
            idx[i..j].sort_unstable_by(by_value);
        }
    }
    idx
}

/// `x` centred and scaled to unit norm, so that Pearson's r of two such vectors is their dot
/// product. `None` for a constant vector.
pub fn standardize(x: &[f64]) -> Option<Vec<f64>> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let m = x.iter().sum::<f64>() / n as f64;
    let mut z: Vec<f64> = x.iter().map(|v| v - m).collect();
    let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm == 0.0 {
        return None;
    }
    z.iter_mut().for_each(|v| *v /= norm);
    Some(z)
}

/// Dot product written for auto-vectorisation (4 independent accumulators).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Pearson's correlation coefficient (two-pass, numerically stable).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson: samples must be paired");
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Spearman's rank correlation with average ranks for ties.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "spearman: samples must be paired");
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Number of pairs within runs of equal values of an already sorted key sequence.
fn tied_pairs<T: PartialEq>(sorted: impl Iterator<Item = T>) -> u64 {
    let mut total = 0u64;
    let mut run = 0u64;
    let mut prev: Option<T> = None;
    for v in sorted {
        if prev.as_ref() == Some(&v) {
            run += 1;
        } else {
            total += run * (run + 1) / 2;
            run = 0;
        }
        prev = Some(v);
    }
    total + run * (run + 1) / 2
}

/// Sort `v` with a merge sort and return the number of inversions (swaps a bubble sort would do).
fn merge_count(v: &mut [f64], buf: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut swaps = merge_count(&mut v[..mid], &mut buf[..mid]) + merge_count(&mut v[mid..], &mut buf[mid..]);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if v[j] < v[i] {
            buf[k] = v[j];
            swaps += (mid - i) as u64;
            j += 1;
        } else {
            buf[k] = v[i];
            i += 1;
        }
        k += 1;
    }
    buf[k..k + mid - i].copy_from_slice(&v[i..mid]);
    k += mid - i;
    buf[k..k + n - j].copy_from_slice(&v[j..n]);
    v.copy_from_slice(&buf[..n]);
    swaps
}

/// Kendall's tau-b in O(n log n).
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "kendall: samples must be paired");
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&i, &j| total_cmp(&x[i], &x[j]).then(total_cmp(&y[i], &y[j])));
    let n0 = (n as u64) * (n as u64 - 1) / 2;
    let n1 = tied_pairs(order.iter().map(|&i| x[i].to_bits()));
    let n3 = tied_pairs(order.iter().map(|&i| (x[i].to_bits(), y[i].to_bits())));
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let mut buf = vec![0.0; n];
    let swaps = merge_count(&mut ys, &mut buf);
    let n2 = tied_pairs(ys.iter().map(|v| v.to_bits()));
    if n0 == n1 || n0 == n2 {
        return f64::NAN;
    }
    // Concordant minus discordant = n0 - n1 - n2 + n3 - 2 * swaps.
    let s = n0 as f64 - n1 as f64 - n2 as f64 + n3 as f64 - 2.0 * swaps as f64;
    (s / ((n0 - n1) as f64).sqrt() / ((n0 - n2) as f64).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Kendall tau-b by its definition, O(n^2).
    fn kendall_naive(x: &[f64], y: &[f64]) -> f64 {
        let (mut s, mut tx, mut ty, mut n0) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                let a = (x[i] - x[j]).signum() * (x[i] != x[j]) as i32 as f64;
                let b = (y[i] - y[j]).signum() * (y[i] != y[j]) as i32 as f64;
                s += a * b;
                n0 += 1.0;
                tx += (a == 0.0) as i32 as f64;
                ty += (b == 0.0) as i32 as f64;
            }
        }
        s / ((n0 - tx) * (n0 - ty)).sqrt()
    }

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(average_ranks(&[10.0, 20.0, 10.0, 30.0]), vec![1.5, 3.0, 1.5, 4.0]);
    }

    #[test]
    fn scipy_reference_values() {
        // scipy.stats.spearmanr / kendalltau on these inputs.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 5.0];
        let y = [2.0, 1.0, 4.0, 3.0, 6.0, 5.0];
        assert!((spearman(&x, &y) - 0.8696565534786727).abs() < 1e-12);
        assert!((kendall_tau_b(&x, &y) - 0.6900655593423541).abs() < 1e-12);
        assert!((pearson(&x, &y) - 0.8510497719203701).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs_are_nan() {
        assert!(spearman(&[1.0], &[2.0]).is_nan());
        assert!(kendall_tau_b(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
        assert!(pearson(&[], &[]).is_nan());
    }

    fn column() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        (3usize..60).prop_flat_map(|n| {
            // Small integer values produce many ties.
            (proptest::collection::vec(0u8..8, n), proptest::collection::vec(0u8..8, n))
                .prop_map(|(a, b)| (a.into_iter().map(f64::from).collect(), b.into_iter().map(f64::from).collect()))
        })
    }

    proptest! {
        #[test]
        fn fast_ranks_equal_comparison_ranks(x in proptest::collection::vec(prop_oneof![-1e6f64..1e6, (0i32..20).prop_map(f64::from)], 0..2000)) {
            let mut idx: Vec<usize> = (0..x.len()).collect();
            idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
            let r = average_ranks(&x);
            for w in idx.windows(2) {
                prop_assert!(r[w[0]] <= r[w[1]]);
                prop_assert_eq!(r[w[0]] == r[w[1]], x[w[0]] == x[w[1]]);
            }
            prop_assert!((r.iter().sum::<f64>() - (x.len() * (x.len() + 1)) as f64 / 2.0).abs() < 1e-6);
        }

        #[test]
        fn standardized_ranks_match_standardize_of_ranks((x, _y) in column()) {
            let a = standardized_ranks(&x);
            let b = standardize(&average_ranks(&x));
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                for (p, q) in a.iter().zip(&b) {
                    prop_assert!((p - q).abs() < 1e-12);
                }
            }
        }

        #[test]
        fn kendall_matches_its_definition((x, y) in column()) {
            let (fast, slow) = (kendall_tau_b(&x, &y), kendall_naive(&x, &y));
            prop_assert!((fast.is_nan() && slow.is_nan()) || (fast - slow).abs() < 1e-12, "{fast} vs {slow}");
        }

        #[test]
        fn correlations_are_symmetric_and_bounded((x, y) in column()) {
            for m in [Metric::Spearman, Metric::Kendall, Metric::Pearson] {
                let (a, b) = (m.compute(&x, &y), m.compute(&y, &x));
                prop_assert!(a.is_nan() == b.is_nan());
                if !a.is_nan() {
                    prop_assert!((a - b).abs() < 1e-12);
                    prop_assert!((-1.0..=1.0).contains(&a));
                }
            }
        }

        #[test]
        fn identical_columns_correlate_perfectly(x in proptest::collection::vec(-1e3f64..1e3, 2..50)) {
            prop_assume!(x.iter().any(|v| *v != x[0]));
            for m in [Metric::Spearman, Metric::Kendall, Metric::Pearson] {
                prop_assert!((m.compute(&x, &x) - 1.0).abs() < 1e-12);
            }
        }

        #[test]
        fn rank_metrics_ignore_increasing_transforms((x, y) in column()) {
            let fx: Vec<f64> = x.iter().map(|v| (v * 0.7).exp() + 3.0 * v).collect();
            let gy: Vec<f64> = y.iter().map(|v| v.powi(3) + 1.0).collect();
            for m in [Metric::Spearman, Metric::Kendall] {
                let (a, b) = (m.compute(&x, &y), m.compute(&fx, &gy));
                prop_assert!((a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-12);
            }
        }
    }
}
