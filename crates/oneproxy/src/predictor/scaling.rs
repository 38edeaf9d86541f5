//! Powers of two that keep AdaProxy's problems O(1) for any positive finite latencies.
//!
//! Latencies arrive in whatever unit a user measured, from nanoseconds written in seconds to
//! hours written in microseconds (1e-300 and 1e300 are both valid input). Problems are solved on
//! rescaled data so that solver tolerances and rank thresholds mean the same everywhere, and so
//! that squares and sums neither overflow nor underflow. Rescaling by a power of two is exact in
//! binary floating point: mapping a solution back loses nothing.

/// Exponents beyond which a ratio of magnitudes is rescaled. Within `2^±32` the data are left
/// alone (bit for bit what they were before rescaling existed); beyond, squares of the ratio
/// would start to approach the limits of `f64`.
const LEAVE_ALONE: i32 = 32;

/// `x * 2^e`, exact unless the result overflows or underflows (then it rounds as the true
/// value would: to infinity or towards zero).
pub(crate) fn ldexp(x: f64, e: i32) -> f64 {
    let (mut x, mut e) = (x, e);
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// The exponent of the power of two nearest to `numerator / denominator` (both positive and
/// finite), computed without forming the ratio, or 0 when the ratio is within `2^±32` of 1.
pub(crate) fn rescale_exponent(numerator: f64, denominator: f64) -> i32 {
    if !(numerator > 0.0 && denominator > 0.0 && numerator.is_finite() && denominator.is_finite()) {
        return 0;
    }
    let e = (numerator.log2() - denominator.log2()).round() as i32;
    if e.abs() <= LEAVE_ALONE {
        0
    } else {
        e
    }
}

/// Mean of positive finite values without overflow: the plain mean when the sum is finite (as
/// before), else the largest value times the mean of the values divided by it.
pub(crate) fn mean_positive(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    if sum.is_finite() {
        return sum / n;
    }
    let max = values.iter().cloned().fold(0.0, f64::max);
    max * (values.iter().map(|v| v / max).sum::<f64>() / n)
}

/// The exponent `e` with `2^e` nearest to the largest of positive finite values (0 if none).
pub(crate) fn exponent_of_max(values: &[f64]) -> i32 {
    let max = values.iter().cloned().filter(|v| v.is_finite()).fold(0.0, f64::max);
    if max > 0.0 {
        max.log2().round() as i32
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_are_exact_and_saturate_like_the_true_value() {
        assert_eq!(ldexp(3.0, 4), 48.0);
        assert_eq!(ldexp(1e-300, 1500), 1e-300 * 2f64.powi(750) * 2f64.powi(750));
        assert_eq!(ldexp(ldexp(0.1, -1000), 1000), 0.1, "round trip");
        assert_eq!(ldexp(ldexp(1e300, 1030), -1030), f64::INFINITY, "overflow is not undone");
        assert_eq!(ldexp(1.0, 5000), f64::INFINITY);
        assert_eq!(ldexp(1.0, -5000), 0.0);
    }

    #[test]
    fn rescaling_only_for_extreme_ratios() {
        assert_eq!(rescale_exponent(3.0, 0.5), 0);
        assert_eq!(rescale_exponent(2f64.powi(32), 1.0), 0);
        assert_eq!(rescale_exponent(1.0, 1e-14), 47, "1e14 is 2^46.5");
        assert_eq!(rescale_exponent(1e-300, 2.0), -998);
    }

    #[test]
    fn means_do_not_overflow() {
        assert_eq!(mean_positive(&[1.0, 2.0, 3.0]), 2.0);
        let big = mean_positive(&[1e308, 1e308, 1e308]);
        assert!((big / 1e308 - 1.0).abs() < 1e-15, "{big}");
        assert_eq!(exponent_of_max(&[0.25, 3.0]), 2);
    }
}
