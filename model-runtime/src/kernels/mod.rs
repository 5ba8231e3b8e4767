//! The two compute primitives every layer is made of, and the data layouts they share.
//!
//! - **gemm**: `acc[j][o] = init[o] + Σ_i x[j][i] · w[o][i]` for a batch of int8 input rows
//!   `x` and an int8 weight matrix `w`, in exact i32 (ranges in `quant.rs` rule out overflow).
//!   `init` is the bias, or for a head's first layer the bias plus the embedding's contribution,
//!   computed once per call.
//! - **requant**: `out[j][o] = requantize(acc[j][o], multiplier[o], shift[o], lo, hi)`.
//!
//! [`scalar`] is the reference that defines the results; [`avx2`] and [`vnni`] compute the same
//! bits with inline-`asm!` micro-kernels. Data layouts (all prepared once per model in the caller's
//! scratch, see `engine/`):
//!
//! - **Packed weights** (AVX2 and VNNI; VNNI appends a per-channel correction, see `vnni`): output channels in blocks of [`LANES`] = 8 and inputs in
//!   groups of [`GROUP`] = 4; block `b`, group `g` is 32 bytes at `(g · blocks + b) · 32`
//!   holding `w[8b + l][4g + t]` at byte `4l + t` (zero beyond the matrix). One `vpbroadcastd`
//!   of four inputs times one such row gives eight channels' partial sums with no horizontal
//!   reduction (the layout XNNPACK's x86 QS8 GEMMs use).
//! - **Requant parameters**: per block of 8 channels, [`RQ_VECTORS`] vectors of 8 i32 (see
//!   [`fill_requant_params`]): the multiplier and shift per channel (what the scalar reference
//!   reads), and the constants of AVX2's single-rounding form of the same arithmetic
//!   (`avx2::requant`), split into even and odd channels because `vpmuldq` multiplies the even
//!   i32 lanes only. Padding channels have multiplier 0.
//! - **Activation rows** are padded to a multiple of 8 bytes with zeros, so group reads of
//!   4 bytes never leave the row.

pub mod scalar;

#[cfg(target_arch = "x86_64")]
pub mod avx2;

#[cfg(target_arch = "x86_64")]
pub mod vnni;

/// Output channels per AVX2 block (i32 lanes of a YMM register).
pub const LANES: usize = 8;
/// Inputs per group (bytes that one 32-bit lane of `vpmaddubsw` + `vpmaddwd` sums).
pub const GROUP: usize = 4;
/// Bytes of one packed block-group (one YMM register of weights).
pub const PACKED_ROW: usize = LANES * GROUP;
/// Vectors of requant parameters per block of 8 channels.
pub const RQ_VECTORS: usize = 12;
/// i32 values of requant parameters per block of 8 channels.
pub const RQ_BLOCK: usize = RQ_VECTORS * LANES;

/// `n` rounded up to a multiple of `m`.
pub const fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// Bytes of the packed form of an `n × k` weight matrix.
pub const fn packed_len(n: usize, k: usize) -> usize {
    n.div_ceil(LANES) * k.div_ceil(GROUP) * PACKED_ROW
}

/// Packs columns `col0..col0 + k` of the row-major `n × w_stride` matrix `w` (see the module
/// docs). `out` must hold [`packed_len`]`(n, k)` bytes.
pub fn pack(w: &[i8], w_stride: usize, col0: usize, k: usize, n: usize, out: &mut [u8]) {
    let blocks = n.div_ceil(LANES);
    let groups = k.div_ceil(GROUP);
    for (row, chunk) in out
        .as_chunks_mut::<PACKED_ROW>()
        .0
        .iter_mut()
        .take(blocks * groups)
        .enumerate()
    {
        let (g, b) = (row / blocks, row % blocks);
        for (lane, bytes) in chunk.as_chunks_mut::<GROUP>().0.iter_mut().enumerate() {
            let o = b * LANES + lane;
            for (t, byte) in bytes.iter_mut().enumerate() {
                let i = g * GROUP + t;
                *byte = if o < n && i < k {
                    w[o * w_stride + col0 + i] as u8
                } else {
                    0
                };
            }
        }
    }
}

/// Fills requant parameter blocks for `n` channels (padding channels get multiplier 0 and
/// shift 0). `out` must hold `n.div_ceil(8) * RQ_BLOCK` values. Per block, vector by vector
/// (`q` is a 64-bit lane, holding channel `2q` in the even vectors and `2q + 1` in the odd):
///
/// | vector | content |
/// |---|---|
/// | 0 | multiplier `m` per channel (also the even channels' `vpmuldq` operand) |
/// | 1 | shift `s` per channel |
/// | 2 | the odd channels' `m` in the even i32 lanes (the odd `vpmuldq` operand) |
/// | 3, 4 | i64 `KC = 2^62 + 2^30 + (H - D)·2^31`, even / odd channels |
/// | 5, 6 | i64 `KR = KC + D·2^31`, even / odd |
/// | 7, 8 | i64 `31 + s`, even / odd |
/// | 9, 10 | i64 `D·2^31`, even / odd |
/// | 11 | `2^(31 - s)` per channel (wrapping i32) |
///
/// with `H = 2^(s-1)` and `D = 1` for `s >= 1`, `H = D = 0` for `s = 0`; `avx2::requant`
/// explains the arithmetic.
pub fn fill_requant_params(
    multiplier: impl Iterator<Item = i32>,
    shift: impl Iterator<Item = i32>,
    n: usize,
    out: &mut [i32],
) {
    out.fill(0);
    for (c, (m, s)) in multiplier.zip(shift).take(n).enumerate() {
        let (block, lane) = (c / LANES, c % LANES);
        let v = &mut out[block * RQ_BLOCK..][..RQ_BLOCK];
        let (h, d): (i64, i64) = if s >= 1 { (1 << (s - 1), 1) } else { (0, 0) };
        let kc = (1i64 << 62) + (1 << 30) + ((h - d) << 31);
        let kr = kc + (d << 31);
        let (parity, q) = (lane % 2, lane / 2);
        let mut put64 = |vector: usize, value: i64| {
            let at = (vector + parity) * LANES + 2 * q;
            v[at] = value as i32;
            v[at + 1] = (value >> 32) as i32;
        };
        put64(3, kc);
        put64(5, kr);
        put64(7, 31 + i64::from(s));
        put64(9, d << 31);
        v[lane] = m;
        v[LANES + lane] = s;
        if parity == 1 {
            v[2 * LANES + 2 * q] = m;
        }
        v[11 * LANES + lane] = (1i64 << (31 - s)) as i32;
    }
}

/// Geometry of one gemm call, shared by both backends.
#[derive(Clone, Copy, Debug)]
pub struct Gemm {
    /// Input rows in the batch.
    pub rows: usize,
    /// Bytes between input rows.
    pub x_stride: usize,
    /// Inputs per row that take part (`k`).
    pub k: usize,
    /// Output channels (`n`).
    pub n: usize,
    /// i32 values between accumulator rows (at least `n` rounded up to 8).
    pub acc_stride: usize,
    /// Whether inputs may be negative (selects AVX2's sign-transfer variant, VNNI's `+128`
    /// offset with the packed correction).
    pub signed: bool,
}

/// Geometry of one requant call.
#[derive(Clone, Copy, Debug)]
pub struct Requant {
    /// Rows.
    pub rows: usize,
    /// Channels per row.
    pub n: usize,
    /// i32 values between accumulator rows.
    pub acc_stride: usize,
    /// Bytes between output rows.
    pub out_stride: usize,
    /// Output clamp.
    pub lo: i8,
    /// Output clamp.
    pub hi: i8,
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests;
