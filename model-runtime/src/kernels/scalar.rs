//! Portable scalar kernels: the reference semantics of every layer.
//!
//! Plain Rust over the row-major weights straight from the file (no packing). Written with
//! iterators (`zip`, `sum`) rather than indexing: on the soft-float kernel target that is
//! about 3× faster (DESIGN.md §3) and it lets the host compiler vectorise, while the result is
//! the same exact integer sum. No branch depends on data values: clamps and roundings compile to
//! conditional moves or arithmetic.

use super::{Gemm, LANES, RQ_BLOCK, Requant};
use crate::quant::requantize;

/// Exact dot product of two int8 vectors (no overflow for the widths the reader accepts).
#[inline]
pub fn dot(x: &[i8], w: &[i8]) -> i32 {
    x.iter()
        .zip(w)
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// `acc[j][o] = init[o] + Σ_{i<k} x[j][i] · w[o][col0 + i]`, `w` row-major with `w_stride`.
pub fn gemm(
    g: &Gemm,
    x: &[i8],
    w: &[i8],
    w_stride: usize,
    col0: usize,
    init: &[i32],
    acc: &mut [i32],
) {
    for j in 0..g.rows {
        let xr = &x[j * g.x_stride..][..g.k];
        let ar = &mut acc[j * g.acc_stride..][..g.n];
        for (o, (a, &base)) in ar.iter_mut().zip(init).enumerate() {
            *a = base + dot(xr, &w[o * w_stride + col0..][..g.k]);
        }
    }
}

/// `out[j][o] = requantize(acc[j][o], multiplier[o], shift[o], lo, hi)` with the parameters
/// in the block layout of `kernels/mod.rs`.
pub fn requant(r: &Requant, acc: &[i32], params: &[i32], out: &mut [i8]) {
    for j in 0..r.rows {
        let ar = &acc[j * r.acc_stride..][..r.n];
        let or = &mut out[j * r.out_stride..][..r.n];
        for (c, (o, &a)) in or.iter_mut().zip(ar).enumerate() {
            let base = (c / LANES) * RQ_BLOCK + c % LANES;
            *o = requantize(a, params[base], params[base + LANES], r.lo, r.hi);
        }
    }
}
