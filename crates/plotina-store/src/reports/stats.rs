//! Small statistics the reports share, with their definitions written down.

/// The nearest-rank percentile: the smallest value such that at least `p` % of the
/// values are at or below it (rank `ceil(p/100 · n)`, counted from 1). For `p = 50` and
/// an even count this is the lower of the two middle values — a value that really
/// occurred, not an average of two. `None` for no values.
pub fn percentile(values: &[i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len() as u64;
    let rank = (u64::from(p) * n).div_ceil(100).max(1);
    v.get((rank - 1) as usize).copied()
}

/// `part / whole` rounded to four decimals; `None` when `whole` is zero.
pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    if whole == 0 {
        return None;
    }
    Some(((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        // Sorted: 1 2 3 4 5 6 7 8 9 10. Median rank ceil(5) = 5 → 5; p90 rank 9 → 9.
        let v = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        // Three values: median rank 2 → 20; p90 rank ceil(2.7) = 3 → 30.
        assert_eq!(percentile(&[30, 10, 20], 50), Some(20));
        assert_eq!(percentile(&[30, 10, 20], 90), Some(30));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn ratios_round_to_four_places() {
        assert_eq!(ratio(2, 3), Some(0.6667));
        assert_eq!(ratio(1, 4), Some(0.25));
        assert_eq!(ratio(1, 0), None);
    }
}
