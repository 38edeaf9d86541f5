//! Two-objective Pareto analysis: minimise latency, maximise accuracy.
//!
//! Points are given index-wise as two parallel slices (`latency[i]`, `accuracy[i]`), the way
//! [`LatencyTable::column`](crate::LatencyTable::column) and accuracy lookups produce them, so
//! callers need not build a point type and the answers are indices back into their data.
//!
//! Conventions shared by every function here:
//! * point `a` **dominates** `b` iff `a` is no slower, no less accurate, and strictly better in
//!   at least one of the two ([`dominates`]);
//! * a point with a non-finite latency or accuracy (NaN marks a missing measurement in a
//!   latency column) is **skipped**: it is in no front, never picked, and adds no area;
//! * slices of different lengths are refused with [`Error::InvalidParameter`].

use crate::error::{Error, Result};

/// Whether `(latency, accuracy)` point `a` dominates `b`: no slower, no less accurate, and
/// strictly better in one objective. Identical points do not dominate each other.
pub fn dominates(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.0 && a.1 >= b.1 && (a.0 < b.0 || a.1 > b.1)
}

/// An integer with the order of the finite float `x`, so sorting compares integers.
///
/// `-0.0` maps like `0.0`, as the two are equal under `==` and hence in [`dominates`].
fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 0 {
        bits | 1 << 63
    } else {
        !bits
    }
}

fn check_lengths(latency: &[f64], accuracy: &[f64]) -> Result<()> {
    if latency.len() != accuracy.len() {
        return Err(Error::InvalidParameter(format!(
            "Pareto analysis needs one accuracy per latency: {} latencies, {} accuracies",
            latency.len(),
            accuracy.len()
        )));
    }
    Ok(())
}

/// Indices of the non-dominated points, sorted by latency ascending (accuracy then ascends
/// strictly too).
///
/// Ties: among exact duplicates (same latency and same accuracy) only the lowest index is in
/// the front; a point with the same latency as a front point but lower accuracy (or the same
/// accuracy but higher latency) is dominated. Non-finite points are skipped.
///
/// O(n log n): sort by latency ascending, then accuracy descending, then index; a point is in
/// the front iff its accuracy beats every point before it in that order.
pub fn pareto_front(latency: &[f64], accuracy: &[f64]) -> Result<Vec<usize>> {
    check_lengths(latency, accuracy)?;
    // Sorting packed integer keys instead of indices into the slices keeps the sort in cache.
    let mut order: Vec<(u64, u64, usize)> = (0..latency.len())
        .filter(|&i| latency[i].is_finite() && accuracy[i].is_finite())
        .map(|i| (order_key(latency[i]), !order_key(accuracy[i]), i))
        .collect();
    order.sort_unstable();
    let mut front = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for (_, _, i) in order {
        // A finite accuracy always beats the initial -inf, so the fastest point is kept.
        if accuracy[i] > best {
            best = accuracy[i];
            front.push(i);
        }
    }
    Ok(front)
}

/// For each latency constraint `C`, the most accurate point with `latency <= C`, or `None` if
/// no point meets it.
///
/// Ties: among equally accurate points the lower latency wins, then the lower index. That
/// choice is always a member of [`pareto_front`] (the last one not slower than `C`), so the
/// front is computed once and each constraint is a binary search: O(n log n + m log n).
///
/// Constraints may be infinite (`+inf` asks for the most accurate point overall); a NaN
/// constraint is refused.
pub fn best_under_constraints(latency: &[f64], accuracy: &[f64], constraints: &[f64]) -> Result<Vec<Option<usize>>> {
    if let Some(c) = constraints.iter().find(|c| c.is_nan()) {
        return Err(Error::InvalidParameter(format!("latency constraint {c} is not a number")));
    }
    let front = pareto_front(latency, accuracy)?;
    Ok(constraints
        .iter()
        .map(|&c| {
            let fits = front.partition_point(|&i| latency[i] <= c);
            fits.checked_sub(1).map(|k| front[k])
        })
        .collect())
}

/// Area dominated by the points and bounded by the reference point: the union of the
/// rectangles `[latency_i, ref_latency] x [ref_accuracy, accuracy_i]`.
///
/// The reference should be the worst corner (largest latency, lowest accuracy) of interest;
/// points outside its box (slower than `ref_latency` or less accurate than `ref_accuracy`)
/// contribute nothing. Any set of points may be passed: dominated points add no area, so the
/// hypervolume of a set equals that of its front. A non-finite reference is refused (the area
/// would be infinite or undefined); non-finite points are skipped.
pub fn hypervolume_2d(latency: &[f64], accuracy: &[f64], ref_latency: f64, ref_accuracy: f64) -> Result<f64> {
    check_lengths(latency, accuracy)?;
    if !ref_latency.is_finite() || !ref_accuracy.is_finite() {
        return Err(Error::InvalidParameter(format!(
            "hypervolume reference point ({ref_latency}, {ref_accuracy}) must be finite"
        )));
    }
    let front = pareto_front(latency, accuracy)?;
    // Along the front latency ascends and accuracy ascends: between two consecutive front
    // latencies, the best accuracy reachable is the earlier point's.
    let inside: Vec<usize> =
        front.into_iter().filter(|&i| latency[i] < ref_latency && accuracy[i] > ref_accuracy).collect();
    let mut area = 0.0;
    for (k, &i) in inside.iter().enumerate() {
        let right = inside.get(k + 1).map_or(ref_latency, |&j| latency[j]);
        area += (right - latency[i]) * (accuracy[i] - ref_accuracy);
    }
    Ok(area)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute_front(lat: &[f64], acc: &[f64]) -> Vec<usize> {
        let ok = |i: usize| lat[i].is_finite() && acc[i].is_finite();
        let mut front: Vec<usize> = (0..lat.len())
            .filter(|&i| ok(i))
            .filter(|&i| !(0..lat.len()).any(|j| ok(j) && dominates((lat[j], acc[j]), (lat[i], acc[i]))))
            .filter(|&i| !(0..i).any(|j| lat[j] == lat[i] && acc[j] == acc[i]))
            .collect();
        front.sort_by(|&i, &j| lat[i].total_cmp(&lat[j]));
        front
    }

    fn brute_best(lat: &[f64], acc: &[f64], c: f64) -> Option<usize> {
        (0..lat.len())
            .filter(|&i| lat[i].is_finite() && acc[i].is_finite() && lat[i] <= c)
            .min_by(|&i, &j| acc[j].total_cmp(&acc[i]).then(lat[i].total_cmp(&lat[j])).then(i.cmp(&j)))
    }

    /// Unit cells of the integer grid covered by some point's rectangle.
    fn brute_area(lat: &[f64], acc: &[f64], rl: i32, ra: i32) -> f64 {
        let mut cells = 0;
        for x in rl.min(0)..rl {
            for y in ra..ra.max(40) {
                let covered = lat.iter().zip(acc).any(|(&l, &a)| l <= f64::from(x) && a >= f64::from(y + 1));
                cells += i32::from(covered);
            }
        }
        f64::from(cells)
    }

    /// Small integer grids, so ties and exact duplicates are frequent; occasionally a NaN.
    fn points() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        let v = prop_oneof![20 => (0i32..20).prop_map(f64::from), 1 => Just(f64::NAN)];
        proptest::collection::vec((v.clone(), v), 0..80).prop_map(|p| p.into_iter().unzip())
    }

    fn int_points() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        proptest::collection::vec(((0i32..20).prop_map(f64::from), (0i32..20).prop_map(f64::from)), 0..40)
            .prop_map(|p| p.into_iter().unzip())
    }

    #[test]
    fn ties_and_duplicates() {
        let lat = [1.0, 1.0, 2.0, 1.0, 3.0, 0.5, f64::NAN];
        let acc = [5.0, 5.0, 5.0, 4.0, 6.0, 1.0, 9.0];
        // 1 duplicates 0 (higher index), 2 and 3 are dominated by 0, 6 is missing.
        assert_eq!(pareto_front(&lat, &acc).unwrap(), vec![5, 0, 4]);
        let best = best_under_constraints(&lat, &acc, &[0.1, 0.5, 1.5, 2.9, f64::INFINITY]).unwrap();
        assert_eq!(best, vec![None, Some(5), Some(0), Some(0), Some(4)]);
        assert_eq!(pareto_front(&[-0.0, 0.0], &[1.0, 1.0]).unwrap(), vec![0]);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(pareto_front(&[1.0], &[]).is_err());
        assert!(best_under_constraints(&[1.0], &[1.0], &[f64::NAN]).is_err());
        assert!(hypervolume_2d(&[1.0], &[1.0], f64::INFINITY, 0.0).is_err());
        assert!(hypervolume_2d(&[1.0, 2.0], &[1.0], 3.0, 0.0).is_err());
        assert_eq!(pareto_front(&[], &[]).unwrap(), Vec::<usize>::new());
        assert_eq!(hypervolume_2d(&[], &[], 1.0, 0.0).unwrap(), 0.0);
    }

    #[test]
    fn hypervolume_of_a_staircase() {
        // Rectangles [1,4]x[0,1] and [2,4]x[0,3]: 3*1 + 2*2 = 7; the point at (5, 9) is outside.
        let hv = hypervolume_2d(&[1.0, 2.0, 5.0], &[1.0, 3.0, 9.0], 4.0, 0.0).unwrap();
        assert_eq!(hv, 7.0);
    }

    proptest! {
        #[test]
        fn order_keys_order_like_floats(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL, b in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            prop_assert_eq!(order_key(a).cmp(&order_key(b)), a.partial_cmp(&b).unwrap());
        }

        #[test]
        fn front_equals_brute_force((lat, acc) in points()) {
            let front = pareto_front(&lat, &acc).unwrap();
            prop_assert_eq!(&front, &brute_front(&lat, &acc));
            for i in (0..lat.len()).filter(|&i| lat[i].is_finite() && acc[i].is_finite() && !front.contains(&i)) {
                // Dominated, or an exact duplicate of a front point with a lower index.
                let covered = front.iter().any(|&f| {
                    dominates((lat[f], acc[f]), (lat[i], acc[i])) || (lat[f] == lat[i] && acc[f] == acc[i] && f < i)
                });
                prop_assert!(covered, "point {} is neither in the front nor dominated by it", i);
            }
        }

        #[test]
        fn constrained_pick_equals_brute_force(
            (lat, acc) in points(),
            cs in proptest::collection::vec(prop_oneof![(-2i32..23).prop_map(f64::from), Just(f64::INFINITY), Just(f64::NEG_INFINITY)], 0..20),
        ) {
            let got = best_under_constraints(&lat, &acc, &cs).unwrap();
            let want: Vec<Option<usize>> = cs.iter().map(|&c| brute_best(&lat, &acc, c)).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn hypervolume_matches_grid_and_front((lat, acc) in int_points(), rl in 0i32..22, ra in -2i32..20, extra in (0i32..20, 0i32..20)) {
            let (rlf, raf) = (f64::from(rl), f64::from(ra));
            let hv = hypervolume_2d(&lat, &acc, rlf, raf).unwrap();
            prop_assert_eq!(hv, brute_area(&lat, &acc, rl, ra));
            let front = pareto_front(&lat, &acc).unwrap();
            let (fl, fa): (Vec<f64>, Vec<f64>) = front.iter().map(|&i| (lat[i], acc[i])).unzip();
            prop_assert_eq!(hypervolume_2d(&fl, &fa, rlf, raf).unwrap(), hv);
            let (mut ml, mut ma) = (lat.clone(), acc.clone());
            ml.push(f64::from(extra.0));
            ma.push(f64::from(extra.1));
            prop_assert!(hypervolume_2d(&ml, &ma, rlf, raf).unwrap() >= hv);
        }
    }
}
