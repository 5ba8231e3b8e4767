//! The whole-backbone kernel (`backbone_rows`) against `scalar::gemm` + `scalar::requant` per
//! layer, over every shape it accepts (any input width, tails of layer 0's 8 blocks and
//! layer 1's 4), both input kinds, every clamp combination, and the extremes: inputs all
//! -128 or all 127, weights at ±127, biases at ±2^30, multipliers at `2^31 - 1`, shifts at 0
//! and 31. Also checks that the shapes it refuses are refused. Skipped with a message where
//! the CPU (or OS) lacks the instructions.

use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

use super::super::super::{Gemm, LANES, RQ_BLOCK, Requant, fill_requant_params, round_up, scalar};
use super::super::{Vnni, fold_correction, pack, packed_len};
use super::{BACKBONE_MID_LEN, BackboneShape, RowWeights, backbone_rows};
use crate::XorShift;

/// How a tensor is filled: random, or pinned at an extreme.
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

fn values(rng: &mut XorShift, n: usize, lo: i64, hi: i64, how: Fill) -> Vec<i64> {
    (0..n)
        .map(|i| match how {
            Fill::Min => lo,
            Fill::Max => hi,
            Fill::Alternating if i % 2 == 0 => lo,
            Fill::Alternating => hi,
            Fill::Random => rng.range(lo, hi),
        })
        .collect()
}

/// One layer: row-major weights, bias, requant parameters, clamp; and the kernel's forms.
struct TestLayer {
    k: usize,
    n: usize,
    w: Vec<i8>,
    bias: Vec<i32>,
    params: Vec<i32>,
    lo: i8,
    hi: i8,
    packed: Vec<u8>,
    start: Vec<i32>,
}

impl TestLayer {
    #[allow(clippy::too_many_arguments)]
    fn new(
        rng: &mut XorShift,
        k: usize,
        n: usize,
        signed_input: bool,
        (lo, hi): (i8, i8),
        w_fill: Fill,
        bias_fill: Fill,
        extreme_rq: bool,
    ) -> TestLayer {
        let w: Vec<i8> = values(rng, n * k, -127, 127, w_fill)
            .into_iter()
            .map(|v| v as i8)
            .collect();
        let npad = round_up(n, LANES);
        let mut bias = vec![0i32; npad];
        for (b, v) in bias
            .iter_mut()
            .zip(values(rng, n, -(1 << 30), 1 << 30, bias_fill))
        {
            *b = v as i32;
        }
        let mult: Vec<i32> = (0..n)
            .map(|i| match (extreme_rq, i % 3) {
                (true, 0) => i32::MAX,
                (true, 1) => 0,
                _ => rng.range(0, i64::from(i32::MAX)) as i32,
            })
            .collect();
        let shift: Vec<i32> = (0..n)
            .map(|i| match (extreme_rq, i % 4) {
                (true, 0) => 0,
                (true, 1) => 31,
                _ => rng.range(0, 31) as i32,
            })
            .collect();
        let mut params = vec![0i32; npad / LANES * RQ_BLOCK];
        fill_requant_params(mult.into_iter(), shift.into_iter(), n, &mut params);
        let mut packed = vec![0u8; packed_len(n, k)];
        pack(&w, k, 0, k, n, &mut packed);
        let mut start = bias.clone();
        if signed_input {
            fold_correction(&packed, n, k, &mut start);
        }
        TestLayer {
            k,
            n,
            w,
            bias,
            params,
            lo,
            hi,
            packed,
            start,
        }
    }

    /// The scalar reference: `requant(bias + W · x)`.
    fn reference(&self, x: &[i8]) -> Vec<i8> {
        let npad = round_up(self.n, LANES);
        let g = Gemm {
            rows: 1,
            x_stride: 0,
            k: self.k,
            n: self.n,
            acc_stride: npad,
            signed: true,
        };
        let mut acc = vec![0i32; npad];
        scalar::gemm(&g, x, &self.w, self.k, 0, &self.bias, &mut acc);
        let r = Requant {
            rows: 1,
            n: self.n,
            acc_stride: npad,
            out_stride: npad,
            lo: self.lo,
            hi: self.hi,
        };
        let mut out = vec![0i8; npad];
        scalar::requant(&r, &acc, &self.params, &mut out);
        out.truncate(self.n);
        out
    }

    fn weights(&self) -> RowWeights<'_> {
        RowWeights {
            packed: &self.packed,
            start: &self.start,
            params: &self.params,
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    k: usize,
    signed: bool,
    hidden: usize,
    n: usize,
    clamp0: (i8, i8),
    clamp1: (i8, i8),
    x_fill: Fill,
    w_fill: Fill,
    bias_fill: Fill,
    extreme_rq: bool,
    seed: u64,
}

/// A ReLU (`lo >= 0`) or a signed clamp, `lo <= hi`.
fn clamp() -> impl Strategy<Value = (i8, i8)> {
    (any::<bool>(), -128..=127i32, 0..=255i32).prop_map(|(relu, lo, span)| {
        let lo = if relu { lo.max(0) } else { lo.min(-1) };
        (lo as i8, (lo + span).min(127) as i8)
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1..300usize, any::<bool>(), 57..=64usize, 25..=32usize),
        (clamp(), clamp()),
        (fill(), fill(), fill(), any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |(
                (k, signed, hidden, n),
                (clamp0, clamp1),
                (x_fill, w_fill, bias_fill, extreme_rq, seed),
            )| Case {
                k,
                signed,
                hidden,
                n,
                clamp0,
                clamp1,
                x_fill,
                w_fill,
                bias_fill,
                extreme_rq,
                seed,
            },
        )
}

fn check(t: Vnni, c: &Case) -> Result<(), TestCaseError> {
    let mut rng = XorShift::new(c.seed);
    let (xlo, xhi) = if c.signed { (-128, 127) } else { (0, 127) };
    let mut x: Vec<i8> = values(&mut rng, c.k, xlo, xhi, c.x_fill)
        .into_iter()
        .map(|v| v as i8)
        .collect();
    let signed1 = c.clamp0.0 < 0;
    let first = TestLayer::new(
        &mut rng,
        c.k,
        c.hidden,
        c.signed,
        c.clamp0,
        c.w_fill,
        c.bias_fill,
        c.extreme_rq,
    );
    let second = TestLayer::new(
        &mut rng,
        c.hidden,
        c.n,
        signed1,
        c.clamp1,
        c.w_fill,
        c.bias_fill,
        c.extreme_rq,
    );
    let want_mid = first.reference(&x);
    let want = second.reference(&want_mid);
    let shape = BackboneShape {
        k: c.k,
        signed: c.signed,
        hidden: c.hidden,
        n: c.n,
        lo0: c.clamp0.0,
        hi0: c.clamp0.1,
        lo1: c.clamp1.0,
        hi1: c.clamp1.1,
    };
    prop_assert!(shape.fits(signed1));
    // The kernel reads whole groups of 4 inputs, zero past `k`.
    x.resize(round_up(c.k, 4), 0);
    // Stale bytes in the buffers must not matter.
    let mut mid = vec![0x5Ai8; BACKBONE_MID_LEN];
    let mut got = vec![0x5Ai8; round_up(c.n, LANES)];
    backbone_rows(
        t,
        &shape,
        &x,
        &first.weights(),
        &second.weights(),
        &mut mid,
        &mut got,
    );
    prop_assert_eq!(&mid[..c.hidden], &want_mid[..], "layer 0");
    prop_assert_eq!(&got[..c.n], &want[..], "layer 1");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn vnni_backbone_equals_scalar(c in case()) {
        let Some(t) = Vnni::new() else {
            std::eprintln!("AVX-512 VNNI not available here: backbone kernel test skipped");
            return Ok(());
        };
        check(t, &c)?;
    }
}

/// Every clamp combination at the extremes, deterministically (the property test reaches them
/// only by chance): inputs and weights pinned, biases and requant parameters at their limits.
#[test]
fn vnni_backbone_extremes_are_exact() {
    let Some(t) = Vnni::new() else {
        std::eprintln!("AVX-512 VNNI not available here: backbone kernel test skipped");
        return;
    };
    let clamps = [(0, 127), (-128, 127), (5, 9), (-3, -1)];
    let mut seed = 0;
    for signed in [true, false] {
        for clamp0 in clamps {
            for clamp1 in clamps {
                for (x_fill, w_fill) in [(Fill::Min, Fill::Max), (Fill::Max, Fill::Max)] {
                    for bias_fill in [Fill::Min, Fill::Max] {
                        seed += 1;
                        let c = Case {
                            k: 256,
                            signed,
                            hidden: 64,
                            n: 32,
                            clamp0,
                            clamp1,
                            x_fill,
                            w_fill,
                            bias_fill,
                            extreme_rq: true,
                            seed,
                        };
                        check(t, &c).unwrap();
                    }
                }
            }
        }
    }
}

/// The shapes outside the kernel's tile are refused (the engine then runs the layers one by
/// one), and so is layer 1 taking unsigned inputs after a clamp that allows negatives.
#[test]
fn other_shapes_do_not_fit() {
    let shape = BackboneShape {
        k: 256,
        signed: true,
        hidden: 64,
        n: 32,
        lo0: 0,
        hi0: 127,
        lo1: 0,
        hi1: 127,
    };
    assert!(shape.fits(false));
    assert!(!shape.fits(true));
    for (k, hidden, n) in [
        (0, 64, 32),
        (256, 56, 32),
        (256, 65, 32),
        (256, 64, 24),
        (256, 64, 33),
    ] {
        assert!(
            !BackboneShape {
                k,
                hidden,
                n,
                ..shape
            }
            .fits(false)
        );
    }
    let signed = BackboneShape { lo0: -1, ..shape };
    assert!(signed.fits(true) && !signed.fits(false));
}
