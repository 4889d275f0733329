//! Quantiles with numpy's default convention (method 'linear', Hyndman and
//! Fan type 7), and the median absolute deviation, shared by the binning,
//! market-risk, anomaly and cleaning functions.

/// The q-quantile (0 <= q <= 1) of ascending `sorted` values: with
/// h = (n - 1) q, x[⌊h⌋] + (h - ⌊h⌋)(x[⌊h⌋ + 1] - x[⌊h⌋]). None when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let (lower, upper, fraction) = virtual_index(n, q);
    Some(lerp(sorted[lower], sorted[upper], fraction))
}

/// The two positions the q-quantile of n > 0 sorted values reads, and the
/// fraction between them: numpy's virtual index for 'linear' is (n - 1) q,
/// computed just so, which keeps results identical to the last bit.
pub fn virtual_index(n: usize, q: f64) -> (usize, usize, f64) {
    let h = ((n - 1) as f64 * q).clamp(0.0, (n - 1) as f64);
    let lower = h.floor() as usize;
    (lower, (lower + 1).min(n - 1), h - lower as f64)
}

/// numpy's _lerp: exact at both ends of the interval.
pub fn lerp(a: f64, b: f64, fraction: f64) -> f64 {
    let diff = b - a;
    if fraction >= 0.5 {
        b - diff * (1.0 - fraction)
    } else {
        a + diff * fraction
    }
}

/// [`quantile_sorted`] without sorting: selects the two order statistics
/// it needs in O(n), reordering `values` (NaN-free input).
pub fn quantile_select(values: &mut [f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    for v in values.iter_mut() {
        *v += 0.0;
    }
    let (lower, _, fraction) = virtual_index(n, q);
    let (_, a, above) = values.select_nth_unstable_by(lower, f64::total_cmp);
    let a = *a;
    let b = above.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    Some(lerp(a, b, fraction))
}

/// Moves the order statistics at `positions` (strictly increasing, each
/// below `values.len()`) to where a sort would put them, and leaves the
/// rest unsorted: a selection for the middle position, then each side for
/// its own positions, O(n log positions) instead of a sort's O(n log n).
/// NaN-free input.
pub fn select_positions(values: &mut [f64], positions: &[usize]) {
    fn select(values: &mut [f64], offset: usize, positions: &[usize]) {
        let middle = positions.len() / 2;
        let Some(&position) = positions.get(middle) else {
            return;
        };
        let at = position - offset;
        if at >= values.len() {
            return;
        }
        let (left, _, right) = values.select_nth_unstable_by(at, f64::total_cmp);
        select(left, offset, &positions[..middle]);
        select(right, offset + at + 1, &positions[middle + 1..]);
    }
    select(values, 0, positions)
}

/// Sorts in place (NaN-free input) and folds -0.0 into 0.0.
pub fn sort_values(values: &mut [f64]) {
    for v in values.iter_mut() {
        *v += 0.0;
    }
    values.sort_unstable_by(f64::total_cmp);
}

/// Φ⁻¹(3/4): dividing the MAD by it estimates the standard deviation of
/// normal data (scipy's median_abs_deviation(scale='normal')).
const NORMAL_MAD_SCALE: f64 = 0.674_489_750_196_081_7;

/// Median and MAD / Φ⁻¹(3/4) of ascending `sorted` values; None when empty.
pub fn median_and_scaled_mad(sorted: &[f64]) -> Option<(f64, f64)> {
    let median = quantile_sorted(sorted, 0.5)?;
    let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
    deviations.sort_unstable_by(f64::total_cmp);
    let mad = quantile_sorted(&deviations, 0.5)?;
    Some((median, mad / NORMAL_MAD_SCALE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_positions_hold_the_sorted_values() {
        // Deterministic values with ties (an LCG modulo 97).
        let mut state = 12_345u64;
        let values: Vec<f64> = (0..5_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                ((state >> 33) % 97) as f64 - 40.0
            })
            .collect();
        let mut sorted = values.clone();
        sort_values(&mut sorted);
        for positions in [
            vec![],
            vec![0],
            vec![4_999],
            vec![0, 1, 17, 2_500, 2_501, 4_998, 4_999],
        ] {
            let mut selected = values.clone();
            select_positions(&mut selected, &positions);
            for p in &positions {
                assert_eq!(selected[*p], sorted[*p], "position {p}");
            }
        }
    }

    #[test]
    fn matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4, 10], [0, 0.1, 0.25, 0.5, 0.9, 1]) =
        // [1, 1.4, 2, 3, 7.6, 10].
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        let expected = [
            (0.0, 1.0),
            (0.1, 1.4),
            (0.25, 2.0),
            (0.5, 3.0),
            (0.9, 7.6),
            (1.0, 10.0),
        ];
        for (q, e) in expected {
            let v = quantile_sorted(&x, q).unwrap_or(f64::NAN);
            assert!((v - e).abs() < 1e-12, "{q}: {v}");
        }
        assert_eq!(quantile_sorted(&[], 0.5), None);
        for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.9, 1.0] {
            let mut shuffled = [10.0, 3.0, -0.0, 4.0, 1.0, 2.0, 7.5];
            let mut sorted = shuffled;
            sort_values(&mut sorted);
            assert_eq!(
                quantile_select(&mut shuffled, q),
                quantile_sorted(&sorted, q),
                "{q}"
            );
        }
        assert_eq!(quantile_sorted(&[7.0], 0.3), Some(7.0));
    }
}
