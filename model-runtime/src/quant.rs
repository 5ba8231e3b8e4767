//! Fixed-point requantization: the arithmetic that defines every layer's int8 output.
//!
//! Augur quantizes symmetrically (zero point 0 everywhere): a tensor's real value is
//! `q * scale`. A dense layer accumulates `acc = bias + Σ w·x` exactly in i32, then maps the
//! accumulator to the output's int8 grid with gemmlowp's two-step fixed-point scheme
//! (<https://github.com/google/gemmlowp/blob/master/fixedpoint/fixedpoint.h>, also TFLite's
//! `MultiplyByQuantizedMultiplier`): the real multiplier `m = acc_scale / out_scale` in
//! `[0, 1)` is stored as a Q0.31 `multiplier` in `[2^30, 2^31)` (or 0) and a right `shift` in
//! `[0, 31]`, with `m ≈ multiplier · 2^-31 · 2^-shift`, and
//!
//! ```text
//! y = clamp(rounding_divide_by_pot(saturating_rounding_doubling_high_mul(acc, multiplier), shift), lo, hi)
//! ```
//!
//! The first step rounds half towards +∞, the second half away from zero: both are gemmlowp's
//! definitions, reproduced here bit for bit ([`srdhm_gemmlowp`], [`rdbpot_gemmlowp`]). The
//! kernels use the branch-free forms [`srdhm`] and [`rdbpot`] (equal on every input, proven by
//! the tests below), which are what the AVX2 code computes lane by lane.
//!
//! # Ranges the kernels rely on (checked by the reader)
//! - weights in `[-127, 127]` (no -128: see `kernels/avx2.rs` on `vpmaddubsw` saturation);
//! - activations in `[-128, 127]`;
//! - layer widths at most [`MAX_WIDTH`] and `|bias| <= MAX_ABS_BIAS`, so
//!   `|acc| <= 2^30 + 4096·128·127 < 2^31`: the i32 accumulator never overflows;
//! - `multiplier` in `[0, 2^31 - 1]`, so `srdhm` never saturates.

/// Widest layer (inputs or outputs) the runtime accepts.
pub const MAX_WIDTH: usize = 4096;
/// Largest bias magnitude the runtime accepts (keeps the accumulator inside i32).
pub const MAX_ABS_BIAS: i32 = 1 << 30;
/// Largest right shift.
pub const MAX_SHIFT: i32 = 31;
/// Smallest weight value (symmetric int8: -128 is excluded).
pub const MIN_WEIGHT: i8 = -127;

/// gemmlowp's `SaturatingRoundingDoublingHighMul`, written as gemmlowp writes it: the high
/// 32 bits of `2·a·b`, rounded half towards +∞, saturating the single overflowing case.
pub const fn srdhm_gemmlowp(a: i32, b: i32) -> i32 {
    let overflow = a == b && a == i32::MIN;
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // C++ `/` truncates toward zero, as Rust's does.
    let high = ((ab + nudge) / (1i64 << 31)) as i32;
    if overflow { i32::MAX } else { high }
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded half away from zero.
pub const fn rdbpot_gemmlowp(x: i32, exponent: i32) -> i32 {
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + if x < 0 { 1 } else { 0 };
    (x >> exponent) + if remainder > threshold { 1 } else { 0 }
}

/// Branch-free [`srdhm_gemmlowp`]: truncating `(ab + nudge) / 2^31` with the sign-dependent
/// nudge equals flooring `(ab + 2^30) / 2^31` for every `ab`, which is one add and one
/// arithmetic shift (the AVX2 kernel does the same on 64-bit lanes).
#[inline(always)]
pub const fn srdhm(a: i32, b: i32) -> i32 {
    let overflow = (a == i32::MIN) & (b == i32::MIN);
    let high = ((a as i64 * b as i64 + (1 << 30)) >> 31) as i32;
    // Only a = b = i32::MIN reaches 2^31, which wraps to i32::MIN; gemmlowp saturates it.
    high.wrapping_sub(overflow as i32)
}

/// Branch-free [`rdbpot_gemmlowp`] (comparisons become 0/1 values, not jumps).
#[inline(always)]
pub const fn rdbpot(x: i32, exponent: i32) -> i32 {
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// Requantizes one accumulator to int8: fixed-point multiply, rounding shift, clamp to
/// `[lo, hi]` (the fused activation: `[0, 127]` is ReLU, `[-128, 127]` is none).
#[inline(always)]
pub fn requantize(acc: i32, multiplier: i32, shift: i32, lo: i8, hi: i8) -> i8 {
    let y = rdbpot(srdhm(acc, multiplier), shift);
    y.clamp(i32::from(lo), i32::from(hi)) as i8
}

/// Splits a real multiplier `m` in `[0, 1)` into `(multiplier, shift)` with
/// `m ≈ multiplier · 2^-31 · 2^-shift`, `multiplier` in `[2^30, 2^31)` (TFLite's
/// `QuantizeMultiplierSmallerThanOneExp`). Multipliers below `2^-32` become `(0, 0)`.
/// Returns `None` for `m` outside `[0, 1)` or not finite. Host-side: the kernel never
/// computes in floating point.
#[cfg(all(feature = "std", not(target_os = "none")))]
pub fn quantize_multiplier(m: f64) -> Option<(i32, i32)> {
    if !(0.0..1.0).contains(&m) {
        return None;
    }
    if m == 0.0 {
        return Some((0, 0));
    }
    // m = f · 2^e with f in [0.5, 1), e <= 0.
    let mut e = 0i32;
    let mut f = m;
    while f < 0.5 {
        f *= 2.0;
        e -= 1;
    }
    let mut q = (f * (1u64 << 31) as f64).round() as i64;
    if q == 1i64 << 31 {
        q /= 2;
        e += 1;
    }
    let shift = -e;
    if shift > MAX_SHIFT {
        return Some((0, 0));
    }
    Some((q as i32, shift))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn interesting_i32() -> impl Strategy<Value = i32> {
        prop_oneof![
            any::<i32>(),
            Just(i32::MIN),
            Just(i32::MAX),
            Just(0),
            Just(-1),
            Just(1),
            -70_000..70_000i32,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn branch_free_srdhm_equals_gemmlowp(a in interesting_i32(), b in interesting_i32()) {
            prop_assert_eq!(srdhm(a, b), srdhm_gemmlowp(a, b));
        }

        #[test]
        fn branch_free_rdbpot_equals_gemmlowp(x in interesting_i32(), e in 0..=MAX_SHIFT) {
            prop_assert_eq!(rdbpot(x, e), rdbpot_gemmlowp(x, e));
        }
    }

    #[test]
    fn rounding_directions_match_gemmlowp() {
        // 2·a·b / 2^32 with a·b = 2^30 is exactly 0.5: rounds up; -0.5 rounds up to 0.
        assert_eq!(srdhm(1 << 15, 1 << 15), 1);
        assert_eq!(srdhm(-(1 << 15), 1 << 15), 0);
        assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
        // Half away from zero in the shift.
        assert_eq!(rdbpot(3, 1), 2);
        assert_eq!(rdbpot(-3, 1), -2);
        assert_eq!(rdbpot(5, 2), 1);
        assert_eq!(rdbpot(-5, 2), -1);
        assert_eq!(rdbpot(6, 2), 2);
        assert_eq!(rdbpot(-6, 2), -2);
    }

    #[test]
    fn requantize_clamps_to_the_activation_range() {
        let half = 1 << 30; // multiplier 0.5
        assert_eq!(requantize(100, half, 0, -128, 127), 50);
        assert_eq!(requantize(-100, half, 0, 0, 127), 0);
        assert_eq!(requantize(10_000, half, 0, -128, 127), 127);
        assert_eq!(requantize(-10_000, half, 0, -128, 127), -128);
        assert_eq!(requantize(1000, half, 3, -128, 127), 63); // 1000·0.5/8 = 62.5 -> 63
    }

    #[cfg(all(feature = "std", not(target_os = "none")))]
    #[test]
    fn quantize_multiplier_round_trips() {
        for &m in &[0.5, 0.25, 0.1, 0.999_999, 1e-3, 3.7e-5, 0.75] {
            let (q, s) = quantize_multiplier(m).unwrap();
            assert!((1 << 30..=i32::MAX).contains(&q), "{m}: {q}");
            let back = f64::from(q) / (1u64 << 31) as f64 / f64::from(1u32 << s);
            assert!((back - m).abs() <= m * 1e-9, "{m} -> {back}");
        }
        assert_eq!(quantize_multiplier(1.0), None);
        assert_eq!(quantize_multiplier(-0.1), None);
        assert_eq!(quantize_multiplier(0.0), Some((0, 0)));
    }
}
