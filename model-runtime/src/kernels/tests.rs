//! Bit-exactness of the AVX2 and VNNI kernels against the scalar reference, over random shapes
//! (tails of every size), random values and the extremes (all -128 inputs, all 127, weights
//! at ±127, accumulators at the i32 limits). Skipped with a message where the CPU (or OS)
//! lacks the instructions.

use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

use super::avx2::{self, Avx2};
use super::vnni::{self, Vnni};
use super::*;

fn avx2_or_skip() -> Option<Avx2> {
    let t = Avx2::new();
    if t.is_none() {
        std::eprintln!("AVX2 not available here: AVX2 kernel test skipped");
    }
    t
}

fn vnni_or_skip() -> Option<Vnni> {
    let t = Vnni::new();
    if t.is_none() {
        std::eprintln!("AVX-512 VNNI not available here: VNNI kernel test skipped");
    }
    t
}

/// Which SIMD kernels a shared check runs.
#[derive(Clone, Copy)]
enum Simd {
    Avx2(Avx2),
    Vnni(Vnni),
}

impl Simd {
    fn packed_len(self, n: usize, k: usize) -> usize {
        match self {
            Simd::Avx2(_) => packed_len(n, k),
            Simd::Vnni(_) => vnni::packed_len(n, k),
        }
    }

    fn pack(self, w: &[i8], w_stride: usize, col0: usize, k: usize, n: usize) -> Vec<u8> {
        let mut packed = vec![0u8; self.packed_len(n, k)];
        match self {
            Simd::Avx2(_) => pack(w, w_stride, col0, k, n, &mut packed),
            Simd::Vnni(_) => vnni::pack(w, w_stride, col0, k, n, &mut packed),
        }
        packed
    }

    fn gemm(self, g: &Gemm, x: &[i8], packed: &[u8], init: &[i32], acc: &mut [i32]) {
        match self {
            Simd::Avx2(t) => {
                // Stale bytes in the split scratch must not matter.
                let mut split = vec![0xA5u8; g.rows * avx2::split_row_len(g.k)];
                avx2::gemm(t, g, x, packed, init, acc, &mut split)
            }
            Simd::Vnni(t) => vnni::gemm(t, g, x, packed, init, acc),
        }
    }

    fn requant(self, r: &Requant, acc: &[i32], params: &[i32], out: &mut [i8]) {
        match self {
            Simd::Avx2(t) => avx2::requant(t, r, acc, params, out),
            Simd::Vnni(t) => vnni::requant(t, r, acc, params, out),
        }
    }

    fn gemv_pack(self, w: &[i8], w_stride: usize, col0: usize, k: usize, n: usize) -> Vec<u8> {
        match self {
            Simd::Avx2(_) => {
                let mut p = vec![0u8; avx2::gemv_packed_len(n, k)];
                avx2::gemv_pack(w, w_stride, col0, k, n, &mut p);
                p
            }
            Simd::Vnni(_) => {
                let mut p = vec![0u8; vnni::gemv_packed_len(n, k)];
                vnni::gemv_pack(w, w_stride, col0, k, n, &mut p);
                p
            }
        }
    }

    fn gemv(self, g: &Gemm, x: &[i8], packed: &[u8], init: &[i32], acc: &mut [i32]) {
        match self {
            Simd::Avx2(t) => avx2::gemv(t, g, x, packed, init, acc),
            Simd::Vnni(t) => vnni::gemv(t, g, x, packed, init, acc),
        }
    }
}

/// The available SIMD backends, each announced as skipped where absent.
fn all_simd() -> Vec<Simd> {
    avx2_or_skip()
        .map(Simd::Avx2)
        .into_iter()
        .chain(vnni_or_skip().map(Simd::Vnni))
        .collect()
}

/// How to fill a tensor: random, or pinned at an extreme.
#[derive(Clone, Copy, Debug)]
enum Fill {
    Random,
    Min,
    Max,
    Alternating,
}

fn fill() -> impl Strategy<Value = Fill> {
    prop_oneof![4 => Just(Fill::Random), 1 => Just(Fill::Min), 1 => Just(Fill::Max), 1 => Just(Fill::Alternating)]
}

fn values(n: usize, lo: i8, hi: i8, how: Fill, seed: u64) -> Vec<i8> {
    let mut s = seed | 1;
    (0..n)
        .map(|i| match how {
            Fill::Min => lo,
            Fill::Max => hi,
            Fill::Alternating => {
                if i % 2 == 0 {
                    lo
                } else {
                    hi
                }
            }
            Fill::Random => {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (i64::from(lo) + (s % (i64::from(hi) - i64::from(lo) + 1) as u64) as i64) as i8
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct GemmCase {
    rows: usize,
    k: usize,
    n: usize,
    col0: usize,
    extra_cols: usize,
    signed: bool,
    x_fill: Fill,
    w_fill: Fill,
    seed: u64,
}

fn gemm_case() -> impl Strategy<Value = GemmCase> {
    (
        1..20usize,
        1..70usize,
        1..80usize,
        0..9usize,
        0..5usize,
        any::<bool>(),
        fill(),
        fill(),
        any::<u64>(),
    )
        .prop_map(
            |(rows, k, n, col0, extra_cols, signed, x_fill, w_fill, seed)| GemmCase {
                rows,
                k,
                n,
                col0,
                extra_cols,
                signed,
                x_fill,
                w_fill,
                seed,
            },
        )
}

fn check_gemm(t: Simd, c: &GemmCase) -> Result<(), TestCaseError> {
    let w_stride = c.col0 + c.k + c.extra_cols;
    // Input rows padded to whole 8-byte blocks, as the engine lays them out.
    let x_stride = round_up(c.k, LANES);
    let (xlo, xhi) = if c.signed {
        (i8::MIN, i8::MAX)
    } else {
        (0, i8::MAX)
    };
    let mut x = values(c.rows * x_stride, xlo, xhi, c.x_fill, c.seed);
    for row in x.chunks_exact_mut(x_stride) {
        row[c.k..].fill(0);
    }
    let w = values(c.n * w_stride, -127, 127, c.w_fill, c.seed ^ 0xABCD);
    let npad = round_up(c.n, LANES);
    let init: Vec<i32> = (0..npad).map(|i| (i as i32 - 3) * 100_003).collect();
    let g = Gemm {
        rows: c.rows,
        x_stride,
        k: c.k,
        n: c.n,
        acc_stride: npad,
        signed: c.signed,
    };
    let mut want = vec![0i32; c.rows * npad];
    scalar::gemm(&g, &x, &w, w_stride, c.col0, &init, &mut want);
    let packed = t.pack(&w, w_stride, c.col0, c.k, c.n);
    let mut got = vec![0i32; c.rows * npad];
    t.gemm(&g, &x, &packed, &init, &mut got);
    for j in 0..c.rows {
        prop_assert_eq!(
            &got[j * npad..][..c.n],
            &want[j * npad..][..c.n],
            "row {}",
            j
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn avx2_gemm_equals_scalar(c in gemm_case()) {
        if let Some(t) = avx2_or_skip() {
            check_gemm(Simd::Avx2(t), &c)?;
        }
    }

    #[test]
    fn vnni_gemm_equals_scalar(c in gemm_case()) {
        if let Some(t) = vnni_or_skip() {
            check_gemm(Simd::Vnni(t), &c)?;
        }
    }

    #[test]
    fn simd_requant_equals_scalar(
        rows in 1..6usize,
        n in 1..40usize,
        seed in any::<u64>(),
        lo in -128..=127i32,
        span in 0..=255i32,
        extreme in any::<bool>(),
    ) {
        let hi = (lo + span).min(127);
        let npad = round_up(n, LANES);
        let mut s = seed | 1;
        let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let acc: Vec<i32> = (0..rows * npad)
            .map(|i| if extreme { [i32::MIN, i32::MAX, -1, 0][i % 4] } else { next() as i32 >> (next() % 24) })
            .collect();
        let mult: Vec<i32> = (0..n).map(|i| if extreme && i % 3 == 0 { i32::MAX } else { (next() % (1u64 << 31)) as i32 }).collect();
        let shift: Vec<i32> = (0..n).map(|_| (next() % 32) as i32).collect();
        let mut params = vec![0i32; npad / LANES * RQ_BLOCK];
        fill_requant_params(mult.iter().copied(), shift.iter().copied(), n, &mut params);
        let r = Requant { rows, n, acc_stride: npad, out_stride: npad, lo: lo as i8, hi: hi as i8 };
        let mut want = vec![0i8; rows * npad];
        scalar::requant(&r, &acc, &params, &mut want);
        for t in all_simd() {
            let mut got = vec![0i8; rows * npad];
            t.requant(&r, &acc, &params, &mut got);
            for j in 0..rows {
                prop_assert_eq!(&got[j * npad..][..n], &want[j * npad..][..n], "row {}", j);
            }
        }
    }
}

/// The reference for the fused requant + score layer: `scalar::requant`, then the one-output
/// layer as `scalar::gemm` computes it.
fn scalar_score(r: &Requant, acc: &[i32], params: &[i32], w: &[i8], init: i32) -> Vec<i32> {
    let npad = round_up(r.n, LANES);
    let mut h = vec![0i8; r.rows * npad];
    scalar::requant(
        &Requant {
            out_stride: npad,
            ..*r
        },
        acc,
        params,
        &mut h,
    );
    let g = Gemm {
        rows: r.rows,
        x_stride: npad,
        k: r.n,
        n: 1,
        acc_stride: 1,
        signed: r.lo < 0,
    };
    let mut out = vec![0i32; r.rows];
    scalar::gemm(&g, &h, w, r.n, 0, &[init], &mut out);
    out
}

/// Runs the fused kernel with the rows past `r.rows` (read as part of the last tile) and the
/// padding lanes of every row filled with `junk`, which must not reach the scores.
fn vnni_score(
    t: Vnni,
    r: &Requant,
    acc: &[i32],
    params: &[i32],
    w: &[i8],
    init: i32,
    junk: i32,
) -> Vec<i32> {
    let npad = round_up(r.n, LANES);
    let mut padded = vec![junk; round_up(r.rows, 8) * r.acc_stride];
    for j in 0..r.rows {
        padded[j * r.acc_stride..][..r.n].copy_from_slice(&acc[j * npad..][..r.n]);
    }
    let mut wide = vec![0x5A5A_5A5A; vnni::score_weights_len(r.n)];
    vnni::score_weights(w, r.n, &mut wide);
    let mut got = vec![0i32; r.rows];
    vnni::requant_score(t, r, &padded, params, &wide, init, &mut got);
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn vnni_requant_score_equals_scalar(
        rows in 1..140usize,
        n in 1..80usize,
        extra_stride in 0..3usize,
        seed in any::<u64>(),
        lo in -128..=127i32,
        span in 0..=255i32,
        extreme in any::<bool>(),
        w_fill in fill(),
        junk in any::<i32>(),
    ) {
        let Some(t) = vnni_or_skip() else { return Ok(()) };
        let hi = (lo + span).min(127);
        let npad = round_up(n, LANES);
        let mut s = seed | 1;
        let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let acc: Vec<i32> = (0..rows * npad)
            .map(|i| if extreme { [i32::MIN, i32::MAX, -1, 0][i % 4] } else { next() as i32 >> (next() % 24) })
            .collect();
        let mult: Vec<i32> = (0..n).map(|i| if extreme && i % 3 == 0 { i32::MAX } else { (next() % (1u64 << 31)) as i32 }).collect();
        let shift: Vec<i32> = (0..n).map(|_| (next() % 32) as i32).collect();
        let mut params = vec![0i32; npad / LANES * RQ_BLOCK];
        fill_requant_params(mult.iter().copied(), shift.iter().copied(), n, &mut params);
        let w = values(n, -127, 127, w_fill, seed ^ 0x5EED);
        let init = (next() % (1 << 24)) as i32 - (1 << 23);
        let r = Requant { rows, n, acc_stride: npad + LANES * extra_stride, out_stride: 0, lo: lo as i8, hi: hi as i8 };
        let want = scalar_score(&Requant { acc_stride: npad, ..r }, &acc, &params, &w, init);
        let got = vnni_score(t, &r, &acc, &params, &w, init, junk);
        prop_assert_eq!(got, want);
    }
}

/// The worst case for `vpmaddubsw` saturation, at every tail length: inputs all -128 against
/// weights all -127 (products +16256, pair sums 32512) and the mirrored signs.
#[test]
fn saturation_extremes_are_exact() {
    for t in all_simd() {
        saturation_extremes(t);
    }
}

fn saturation_extremes(t: Simd) {
    for k in 1..=67 {
        for ((xv, wv), n) in [(-128i8, -127i8), (-128, 127), (127, 127), (127, -127)]
            .into_iter()
            .flat_map(|p| [(p, 9), (p, 44), (p, 70)])
        {
            let x_stride = round_up(k, LANES);
            let mut x = vec![xv; x_stride];
            x[k..].fill(0);
            let w = vec![wv; n * k];
            let c = Gemm {
                rows: 1,
                x_stride,
                k,
                n,
                acc_stride: round_up(n, LANES),
                signed: true,
            };
            let init = vec![0; round_up(n, LANES)];
            let packed = t.pack(&w, k, 0, k, n);
            let mut got = vec![0; round_up(n, LANES)];
            t.gemm(&c, &x, &packed, &init, &mut got);
            let exact = k as i32 * i32::from(xv) * i32::from(wv);
            assert!(
                got[..n].iter().all(|&v| v == exact),
                "k={k} x={xv} w={wv}: {got:?} != {exact}"
            );
            if xv >= 0 {
                let c = Gemm { signed: false, ..c };
                t.gemm(&c, &x, &packed, &init, &mut got);
                assert!(got[..n].iter().all(|&v| v == exact), "unsigned k={k}");
            }
        }
    }
}

/// The single-rounding requant at every shift, on exact rounding ties (multiplier 2^30 is
/// one half), near-ties, zero and the extreme multipliers and accumulators, for a ReLU clamp,
/// the full range and narrow ones (both AVX2 variants).
#[test]
fn requant_ties_and_shifts_are_exact() {
    let simd = all_simd();
    let mut accs: Vec<i32> = (-300..300).collect();
    accs.extend([
        i32::MIN,
        i32::MIN + 1,
        i32::MAX,
        i32::MAX - 1,
        1 << 30,
        -(1 << 30),
    ]);
    accs.extend([
        (1 << 30) + (1 << 26),
        -(1 << 30) - (1 << 26),
        65_536,
        -65_536,
        98_304,
        -98_304,
    ]);
    // Five blocks per row: the four-block loop and the single-block tail.
    let n = 5 * LANES;
    accs.resize(round_up(accs.len(), n), 7);
    let rows = accs.len() / n;
    let mults = [
        0,
        1,
        1 << 30,
        (1 << 30) + 1,
        (1 << 30) - 1,
        1_518_500_250,
        i32::MAX,
    ];
    for s in 0..=31 {
        for &m in &mults {
            let mut params = vec![0i32; RQ_BLOCK];
            fill_requant_params(
                core::iter::repeat(m),
                core::iter::repeat(s),
                LANES,
                &mut params,
            );
            for (lo, hi) in [
                (-128i8, 127i8),
                (0, 127),
                (0, 0),
                (-5, 5),
                (127, 127),
                (3, 9),
            ] {
                let r = Requant {
                    rows,
                    n: LANES,
                    acc_stride: LANES,
                    out_stride: LANES,
                    lo,
                    hi,
                };
                let mut want = vec![0i8; accs.len()];
                scalar::requant(&r, &accs, &params, &mut want);
                for &t in &simd {
                    let mut got = vec![0i8; accs.len()];
                    t.requant(&r, &accs, &params, &mut got);
                    assert_eq!(got, want, "s={s} m={m} lo={lo} hi={hi}");
                }
                if let Some(t) = Vnni::new() {
                    let w: Vec<i8> = (0..LANES).map(|i| [127, -127, 1, -1][i % 4]).collect();
                    let want = scalar_score(&r, &accs, &params, &w, -77);
                    let got = vnni_score(t, &r, &accs, &params, &w, -77, i32::MIN);
                    assert_eq!(got, want, "fused s={s} m={m} lo={lo} hi={hi}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The row-vectorised kernel for narrow layers, with row counts not a multiple of 8 and
    /// beyond one call's 8 tiles,
    /// inputs not a multiple of 32, strides wider than the row, and the extremes.
    #[test]
    fn simd_gemv_equals_scalar(
        rows in 1..90usize,
        k in 1..100usize,
        n in 1..8usize,
        col0 in 0..5usize,
        stride_extra in 0..9usize,
        signed in any::<bool>(),
        x_fill in fill(),
        w_fill in fill(),
        seed in any::<u64>(),
    ) {
        let w_stride = col0 + k + 2;
        let x_stride = k + stride_extra;
        let (xlo, xhi) = if signed { (i8::MIN, i8::MAX) } else { (0, i8::MAX) };
        // Whole tiles of rows plus a chunk of slack, as the engine's buffers have; every byte
        // (padding too) holds live values, which zero weights must cancel.
        let len = round_up(rows, 8) * x_stride + 32;
        let x = values(len, xlo, xhi, x_fill, seed);
        let w = values(n * w_stride, -127, 127, w_fill, seed ^ 0x5EED);
        let init: Vec<i32> = (0..n).map(|i| (i as i32 - 2) * 1_000_003).collect();
        let g = Gemm { rows, x_stride, k, n, acc_stride: n + 1, signed };
        let mut want = vec![-1i32; rows * (n + 1)];
        scalar::gemm(&g, &x, &w, w_stride, col0, &init, &mut want);
        for t in all_simd() {
            let packed = t.gemv_pack(&w, w_stride, col0, k, n);
            let mut got = vec![-1i32; rows * (n + 1)];
            t.gemv(&g, &x, &packed, &init, &mut got);
            prop_assert_eq!(&got, &want);
        }
    }
}

/// The narrow kernel at the saturation extremes (see `saturation_extremes_are_exact`).
#[test]
fn gemv_saturation_extremes_are_exact() {
    for t in all_simd() {
        gemv_saturation_extremes(t);
    }
}

fn gemv_saturation_extremes(t: Simd) {
    for k in [1, 31, 32, 33, 64, 95] {
        for (xv, wv) in [(-128i8, -127i8), (-128, 127), (127, 127), (127, -127)] {
            let (rows, n) = (9, 3);
            let x = vec![xv; round_up(rows, 8) * k + 32];
            let w = vec![wv; n * k];
            let packed = t.gemv_pack(&w, k, 0, k, n);
            for signed in [true, false] {
                if !signed && xv < 0 {
                    continue;
                }
                let g = Gemm {
                    rows,
                    x_stride: k,
                    k,
                    n,
                    acc_stride: n,
                    signed,
                };
                let mut got = vec![0; rows * n];
                t.gemv(&g, &x, &packed, &[0; 3], &mut got);
                let exact = k as i32 * i32::from(xv) * i32::from(wv);
                assert!(
                    got.iter().all(|&v| v == exact),
                    "k={k} x={xv} w={wv}: {got:?}"
                );
            }
        }
    }
}

/// `vnni::gemm_requant_row` (one row, requantized in registers, from starting values with the
/// signed-input correction folded in by `vnni::fold_correction`) against `scalar::gemm` then
/// `scalar::requant`, over random shapes (tails of every size), fills, and both clamp kinds.
fn check_fused_row(
    t: Vnni,
    c: &GemmCase,
    lo: i8,
    hi: i8,
    extreme_rq: bool,
) -> Result<(), TestCaseError> {
    let w_stride = c.col0 + c.k + c.extra_cols;
    let x_stride = round_up(c.k, LANES);
    let (xlo, xhi) = if c.signed {
        (i8::MIN, i8::MAX)
    } else {
        (0, i8::MAX)
    };
    let mut x = values(c.rows * x_stride, xlo, xhi, c.x_fill, c.seed);
    for row in x.chunks_exact_mut(x_stride) {
        row[c.k..].fill(0);
    }
    let w = values(c.n * w_stride, -127, 127, c.w_fill, c.seed ^ 0xABCD);
    let npad = round_up(c.n, LANES);
    let init: Vec<i32> = (0..npad).map(|i| (i as i32 - 3) * 100_003).collect();
    let g = Gemm {
        rows: c.rows,
        x_stride,
        k: c.k,
        n: c.n,
        acc_stride: npad,
        signed: c.signed,
    };
    let mut want = vec![0i32; c.rows * npad];
    scalar::gemm(&g, &x, &w, w_stride, c.col0, &init, &mut want);
    let mut packed = vec![0u8; vnni::packed_len(c.n, c.k)];
    vnni::pack(&w, w_stride, c.col0, c.k, c.n, &mut packed);
    let mut start = init.clone();
    if c.signed {
        vnni::fold_correction(&packed, c.n, c.k, &mut start);
    }
    // The first row's accumulators, requantized.
    let mut s = c.seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mult: Vec<i32> = (0..c.n)
        .map(|i| {
            if extreme_rq && i % 3 == 0 {
                i32::MAX
            } else {
                (next() % (1u64 << 31)) as i32
            }
        })
        .collect();
    let shift: Vec<i32> = (0..c.n).map(|_| (next() % 32) as i32).collect();
    let mut params = vec![0i32; npad / LANES * RQ_BLOCK];
    fill_requant_params(
        mult.iter().copied(),
        shift.iter().copied(),
        c.n,
        &mut params,
    );
    let r = Requant {
        rows: 1,
        n: c.n,
        acc_stride: npad,
        out_stride: npad,
        lo,
        hi,
    };
    let mut want_q = vec![0i8; npad];
    scalar::requant(&r, &want[..npad], &params, &mut want_q);
    let g1 = Gemm { rows: 1, ..g };
    let mut got_q = vec![0x5Ai8; npad];
    vnni::gemm_requant_row(
        t,
        &g1,
        &x[..x_stride],
        &packed,
        &start,
        &r,
        &params,
        &mut got_q,
    );
    prop_assert_eq!(&got_q[..c.n], &want_q[..c.n], "fused row");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn vnni_fused_row_equals_scalar(
        c in gemm_case(),
        lo in -128..=127i32,
        span in 0..=255i32,
        relu in any::<bool>(),
        extreme_rq in any::<bool>(),
    ) {
        let Some(t) = vnni_or_skip() else { return Ok(()) };
        // Both clamp kinds: ReLU (`lo >= 0`, including `[0, 127]`) and signed.
        let lo = if relu { lo.max(0) } else { lo.min(-1) };
        let hi = (lo + span).min(127);
        check_fused_row(t, &c, lo as i8, hi as i8, extreme_rq)?;
    }
}

/// One case of the whole-head kernel (`vnni::head_scores`).
#[derive(Debug, Clone)]
struct HeadCase {
    rows: usize,
    k: usize,
    n: usize,
    col0: usize,
    stride_extra: usize,
    lo: i8,
    hi: i8,
    x_fill: Fill,
    w_fill: Fill,
    extreme_rq: bool,
    seed: u64,
}

fn head_case() -> impl Strategy<Value = HeadCase> {
    (
        (1..40usize, 1..40usize, 1..80usize, 0..9usize, 0..9usize),
        (-128..=127i32, 0..=255i32, any::<bool>()),
        (fill(), fill(), any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |(
                (rows, k, n, col0, stride_extra),
                (lo, span, relu),
                (x_fill, w_fill, extreme_rq, seed),
            )| {
                // Both clamp kinds: ReLU-style (`lo >= 0`, including `[0, 127]`) and signed.
                let lo = if relu { lo.max(0) } else { lo.min(-1) };
                let hi = (lo + span).min(127);
                HeadCase {
                    rows,
                    k,
                    n,
                    col0,
                    stride_extra,
                    lo: lo as i8,
                    hi: hi as i8,
                    x_fill,
                    w_fill,
                    extreme_rq,
                    seed,
                }
            },
        )
}

/// `vnni::head_scores` against `scalar::gemm`, `scalar::requant`, `scalar::gemm` (the engine's
/// unfused path), with junk in the rows past the last and in every row's padding bytes.
fn check_head(t: Vnni, c: &HeadCase) -> Result<(), TestCaseError> {
    // The embedding takes the first `col0` columns (0: none), signed or not by the seed.
    let (e, emb_signed) = (c.col0, c.seed % 2 == 0);
    let w_stride = e + c.k + 3;
    let x_stride = round_up(c.k, GROUP) + c.stride_extra;
    let x = values(
        round_up(c.rows, 8) * x_stride,
        i8::MIN,
        i8::MAX,
        c.x_fill,
        c.seed,
    );
    let w1 = values(c.n * w_stride, -127, 127, c.w_fill, c.seed ^ 0xABCD);
    let w2 = values(c.n, -127, 127, c.w_fill, c.seed ^ 0x5EED);
    let mut s = c.seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let bias: Vec<i32> = (0..c.n)
        .map(|i| {
            if c.extreme_rq {
                [1 << 30, -(1 << 30), 0][i % 3]
            } else {
                (next() % (1 << 26)) as i32 - (1 << 25)
            }
        })
        .collect();
    let mult: Vec<i32> = (0..c.n)
        .map(|i| {
            if c.extreme_rq && i % 2 == 0 {
                i32::MAX
            } else {
                (next() % (1u64 << 31)) as i32
            }
        })
        .collect();
    let shift: Vec<i32> = (0..c.n).map(|_| (next() % 32) as i32).collect();
    let bias2 = (next() % (1 << 24)) as i32 - (1 << 23);
    let emb_lo = if emb_signed { i8::MIN } else { 0 };
    // Padded to whole groups with junk, which zero weights must cancel.
    let emb = values(round_up(e, GROUP), emb_lo, i8::MAX, c.x_fill, c.seed ^ 0xE);

    let npad = round_up(c.n, LANES);
    let g = Gemm {
        rows: c.rows,
        x_stride,
        k: c.k,
        n: c.n,
        acc_stride: npad,
        signed: true,
    };
    let mut acc = vec![0i32; c.rows * npad];
    // The embedding's part of the accumulators, as the engine's base gemm computes it.
    let mut init: Vec<i32> = (0..c.n)
        .map(|o| bias[o] + scalar::dot(&emb[..e], &w1[o * w_stride..][..e]))
        .collect();
    init.resize(npad, 0);
    scalar::gemm(&g, &x, &w1, w_stride, e, &init, &mut acc);
    let mut params = vec![0i32; npad / LANES * RQ_BLOCK];
    fill_requant_params(
        mult.iter().copied(),
        shift.iter().copied(),
        c.n,
        &mut params,
    );
    let r = Requant {
        rows: c.rows,
        n: c.n,
        acc_stride: npad,
        out_stride: npad,
        lo: c.lo,
        hi: c.hi,
    };
    let want = scalar_score(&r, &acc, &params, &w2, bias2);

    let shape = vnni::HeadShape {
        e,
        emb_signed,
        k: c.k,
        n: c.n,
        lo: c.lo,
        hi: c.hi,
    };
    // i32-aligned backing for the prepared bytes (the starting values are read as i32).
    let mut backing = vec![0x5A5A_5A5Au32; shape.prepared_len() / 4];
    let prepared: &mut [u8] = {
        let len = backing.len() * 4;
        // SAFETY: the same memory as `backing`, exclusively borrowed for the byte view's
        // lifetime; u8 has no alignment or validity requirement.
        unsafe { core::slice::from_raw_parts_mut(backing.as_mut_ptr().cast::<u8>(), len) }
    };
    vnni::head_prepare(
        &shape,
        &w1,
        w_stride,
        bias.iter().copied(),
        mult.iter().copied(),
        shift.iter().copied(),
        &w2,
        bias2,
        prepared,
    );
    let mut base = vec![0x5A5A_5A5Ai32; shape.start_len()];
    let mut got = vec![0x7777_7777i32; c.rows];
    vnni::head_scores(t, &shape, prepared, &emb, &mut base, &x, x_stride, &mut got);
    prop_assert_eq!(got, want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn vnni_head_scores_equals_scalar(c in head_case()) {
        let Some(t) = vnni_or_skip() else { return Ok(()) };
        check_head(t, &c)?;
    }
}

/// The whole-head kernel at the extremes, every feature tail: inputs all -128 or all 127
/// against weights all ±127, at the largest bias, for both clamp kinds.
#[test]
fn vnni_head_extremes_are_exact() {
    let Some(t) = vnni_or_skip() else { return };
    for k in 1..=20 {
        for (x_fill, w_fill) in [
            (Fill::Min, Fill::Min),
            (Fill::Min, Fill::Max),
            (Fill::Max, Fill::Max),
            (Fill::Max, Fill::Min),
            (Fill::Alternating, Fill::Alternating),
        ] {
            for (lo, hi) in [(0, 127), (-128, 127), (-3, 4)] {
                for (rows, n) in [(8, 32), (13, 33), (1, 5)] {
                    let c = HeadCase {
                        rows,
                        k,
                        n,
                        col0: 2,
                        stride_extra: 0,
                        lo,
                        hi,
                        x_fill,
                        w_fill,
                        extreme_rq: true,
                        seed: k as u64,
                    };
                    check_head(t, &c).unwrap();
                }
            }
        }
    }
}
