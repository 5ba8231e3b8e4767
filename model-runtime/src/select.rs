//! Picking decisions from scores: argmax and top-k, allocation-free.
//!
//! Ties go to the lower index, so a decision is a pure function of the scores (the same trace
//! replays to the same choice on the host). These helpers branch on values by nature; they are
//! not kernels and their cost is `O(n)` and `O(n·k)`.

/// Index of the largest score (the first on ties); `None` for no scores.
pub fn argmax(scores: &[i32]) -> Option<usize> {
    let mut best: Option<(usize, i32)> = None;
    for (i, &s) in scores.iter().enumerate() {
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

/// Writes the indices of the `out.len()` largest scores to `out`, best first (lower index first
/// on ties), and returns how many were written (`min(out.len(), scores.len())`).
pub fn top_k(scores: &[i32], out: &mut [usize]) -> usize {
    let k = out.len().min(scores.len());
    let mut filled = 0;
    for (i, &s) in scores.iter().enumerate() {
        // Position among the current best: after every entry with a score >= s (stable).
        let pos = out[..filled]
            .iter()
            .position(|&j| scores[j] < s)
            .unwrap_or(filled);
        if pos >= k {
            continue;
        }
        let end = filled.min(k - 1);
        out.copy_within(pos..end, pos + 1);
        out[pos] = i;
        filled = (filled + 1).min(k);
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn argmax_picks_the_first_maximum() {
        assert_eq!(argmax(&[]), None);
        assert_eq!(argmax(&[3, 9, 9, -1]), Some(1));
        assert_eq!(argmax(&[i32::MIN]), Some(0));
    }

    #[test]
    fn top_k_orders_best_first() {
        let mut out = [0; 3];
        assert_eq!(top_k(&[5, 1, 9, 5, 7], &mut out), 3);
        assert_eq!(out, [2, 4, 0]);
        let mut out = [0; 4];
        assert_eq!(top_k(&[1, 2], &mut out), 2);
        assert_eq!(out[..2], [1, 0]);
    }

    proptest! {
        #[test]
        fn top_k_matches_a_stable_sort(scores in proptest::collection::vec(-5..5i32, 0..40), k in 0..10usize) {
            let mut out = vec![0; k];
            let n = top_k(&scores, &mut out);
            let mut idx: Vec<usize> = (0..scores.len()).collect();
            idx.sort_by_key(|&i| core::cmp::Reverse(scores[i]));
            prop_assert_eq!(&out[..n], &idx[..k.min(scores.len())]);
            if let Some(&first) = idx.first() {
                prop_assert_eq!(argmax(&scores), Some(first));
            }
        }
    }
}
