//! The prepared form of a whole head: its shape ([`HeadShape`]) and the records that
//! [`head_prepare`] writes for [`head_scores`](super::head_scores).
//!
//! Prepared once per model ([`head_prepare`], in the engine's scratch), per chunk of 32
//! channels, one record:
//!
//! ```text
//! [2 half-chunk parameter blocks of 512 bytes][64 score-weight bytes]
//! [candidate groups × 128 weight bytes][embedding groups × 128 weight bytes]
//! ```
//!
//! (a group's 128 bytes: the chunk's 32 channels × 4 inputs, channel-major), followed, after
//! all records, by the starting values (one i32 per padded channel) and the score's starting
//! value. Channels past the layer's width have zero weights and parameters:
//! they requantize to 0, are clamped to some value in `[lo, hi]`, and meet a zero score weight.

use crate::kernels::{GROUP, LANES, PACKED_ROW};

/// Blocks of 8 channels per chunk.
const CHUNK_BLOCKS: usize = 4;
/// Hidden channels per chunk: 32, two ZMM registers of i32 per row.
pub const CHUNK: usize = CHUNK_BLOCKS * LANES;
/// Channels per half chunk (one ZMM register of i32).
const HALF: usize = CHUNK / 2;
/// Candidate rows per tile (two quads of 4, whose scores one reduction finishes).
pub const TILE_ROWS: usize = 8;
/// Bytes of one group's weights for a chunk.
const CHUNK_ROW: usize = CHUNK_BLOCKS * PACKED_ROW;
/// Bytes of one half chunk's requant parameters: 8 vectors of 64 bytes (see [`put_params`]).
const PARAM_HALF: usize = 8 * 64;
/// Offset of the score weights in a record (64 bytes: the 32 channels' weights for each of
/// the two rows that share a register).
pub(super) const SCORE_W: usize = 2 * PARAM_HALF;
/// Offset of the weights in a record.
pub(super) const WEIGHTS: usize = SCORE_W + 2 * CHUNK;

/// Parameter vectors of one half chunk, in bytes from its start: the multipliers (`M`: all
/// channels, the even ones' `vpmuldq` operand; `M_ODD`: the odd channels' in the even lanes),
/// then i64 vectors, even channels first and odd 64 bytes after: the rounding constant `K`,
/// the shift `31 + s`, and `D·2^31` (signed outputs only). The `asm!` in `asm.rs` spells these
/// offsets as literals: `M` 0, `M_ODD` 64, `K` 128/192, `SH` 256/320, `D` 384/448, second
/// half at 512.
const M: usize = 0;
const M_ODD: usize = 64;
const K: usize = 128;
const SH: usize = 256;
const D: usize = 384;
const ODD: usize = 64;
const _: () = assert!(M == 0 && M_ODD == 64 && K == 128 && SH == 256 && D == 384 && ODD == 64);
const _: () = assert!(PARAM_HALF == 512 && SCORE_W == 1024 && CHUNK_ROW == 128);

/// Shape of a fusable head: `k` candidate features, `n` hidden channels clamped to
/// `[lo, hi]`, then one i32 score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadShape {
    /// Embedding width (the first layer's first columns).
    pub e: usize,
    /// Whether the embedding may be negative (it then goes in as `x + 128` like the
    /// candidates, the correction folded into the starting values).
    pub emb_signed: bool,
    /// Candidate features (the first layer's columns after the embedding's).
    pub k: usize,
    /// Hidden channels.
    pub n: usize,
    /// Hidden clamp.
    pub lo: i8,
    /// Hidden clamp.
    pub hi: i8,
}

impl HeadShape {
    pub(super) fn chunks(&self) -> usize {
        self.n.div_ceil(CHUNK)
    }

    pub(super) fn groups(&self) -> usize {
        self.k.div_ceil(GROUP)
    }

    pub(super) fn emb_groups(&self) -> usize {
        self.e.div_ceil(GROUP)
    }

    /// Offset of the embedding columns' weights in a record.
    pub(super) fn emb_at(&self) -> usize {
        WEIGHTS + self.groups() * CHUNK_ROW
    }

    pub(super) fn record_len(&self) -> usize {
        self.emb_at() + self.emb_groups() * CHUNK_ROW
    }

    /// Whether the hidden outputs may be negative (the signed requantization and the `+128`
    /// offset of the score's inputs); ReLU-style clamps (`lo >= 0`) need neither.
    pub(super) fn signed(&self) -> bool {
        self.lo < 0
    }

    /// Byte offset of the starting values.
    pub(super) fn start_at(&self) -> usize {
        self.chunks() * self.record_len()
    }

    /// Byte offset of the score's starting value.
    pub(super) fn init_at(&self) -> usize {
        self.start_at() + self.chunks() * CHUNK * 4
    }

    /// Bytes of [`head_prepare`]'s form (a multiple of 32).
    pub fn prepared_len(&self) -> usize {
        self.init_at() + 32
    }

    /// i32 values of the starting values, and of the base that
    /// [`head_scores`](super::head_scores) computes.
    pub fn start_len(&self) -> usize {
        self.chunks() * CHUNK
    }
}

fn put_i32(out: &mut [u8], at: usize, v: i32) {
    out[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_i64(out: &mut [u8], at: usize, v: i64) {
    out[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

/// Writes channel `c`'s requant parameters (`m`, `s`) into the parameter blocks at `out`.
/// `K` is `requant`'s `KR` less AVX2's `2^62` offset, `2^30 + H·2^31`, and signed outputs
/// subtract `D·2^31` where `a·m < 0` (`sign_fix!`), with `H = 2^(s-1)`, `D = 1` for `s >= 1`
/// and `H = D = 0` for `s = 0` (see `avx2::requant_block!`).
fn put_params(out: &mut [u8], c: usize, m: i32, s: i32) {
    let (half, lane) = (c / HALF, c % HALF);
    let at = half * PARAM_HALF;
    let (h, d): (i64, i64) = if s >= 1 { (1 << (s - 1), 1) } else { (0, 0) };
    let k = (1i64 << 30) + (h << 31);
    let (odd, q) = (lane % 2 * ODD, lane / 2);
    put_i32(out, at + M + 4 * lane, m);
    if lane % 2 == 1 {
        put_i32(out, at + M_ODD + 8 * q, m);
    }
    put_i64(out, at + K + odd + 8 * q, k);
    put_i64(out, at + SH + odd + 8 * q, 31 + i64::from(s));
    put_i64(out, at + D + odd + 8 * q, d << 31);
}

/// The hidden channel (within its chunk) whose value the packs leave at byte `p` of a narrowed
/// register. Per 128-bit lane `l` (`vpackssdw`/`vpacksswb` work inside lanes), `vpackssdw` of
/// a row's two halves gives words `4l..4l + 4` of the first half then of the second, and
/// `vpacksswb` of two rows' words gives 8 bytes of the first row then 8 of the second.
const fn packed_channel(p: usize) -> usize {
    let (lane, i) = (p / 16, p % 8);
    (i / 4) * HALF + lane * 4 + i % 4
}

/// Prepares a head for [`head_scores`](super::head_scores): the first layer (row-major
/// `n × w_stride` weights `w1`, embedding columns `0..e`, candidate columns `e..e + k`; its
/// bias, multipliers and shifts) and the one-output score layer (`n` weights `w2`, bias
/// `bias2`). `out` must hold [`HeadShape::prepared_len`] bytes.
#[allow(clippy::too_many_arguments)]
pub fn head_prepare(
    h: &HeadShape,
    w1: &[i8],
    w_stride: usize,
    bias: impl Iterator<Item = i32>,
    multiplier: impl Iterator<Item = i32>,
    shift: impl Iterator<Item = i32>,
    w2: &[i8],
    bias2: i32,
    out: &mut [u8],
) {
    let (n, k, e, signed) = (h.n, h.k, h.e, h.signed());
    let out = &mut out[..h.prepared_len()];
    out.fill(0);
    let rec_len = h.record_len();
    for (c, (m, s)) in multiplier.zip(shift).take(n).enumerate() {
        let rec = &mut out[(c / CHUNK) * rec_len..][..rec_len];
        put_params(rec, c % CHUNK, m, s);
    }
    for chunk in 0..h.chunks() {
        let rec = &mut out[chunk * rec_len..][..rec_len];
        for p in 0..2 * CHUNK {
            let o = chunk * CHUNK + packed_channel(p);
            rec[SCORE_W + p] = if o < n { w2[o] as u8 } else { 0 };
        }
        // Candidate columns, then the embedding's, each `groups × 128` bytes.
        for (at, col0, width) in [(WEIGHTS, e, k), (h.emb_at(), 0, e)] {
            for g in 0..width.div_ceil(GROUP) {
                for (b, bytes) in rec[at + g * CHUNK_ROW..][..CHUNK_ROW]
                    .iter_mut()
                    .enumerate()
                {
                    let (o, i) = (chunk * CHUNK + b / GROUP, g * GROUP + b % GROUP);
                    if o < n && i < width {
                        *bytes = w1[o * w_stride + col0 + i] as u8;
                    }
                }
            }
        }
    }
    // Starting values: the bias plus `-128 · Σ w` over the columns whose inputs go in as
    // `x + 128`: the candidates', and the embedding's where it is signed.
    let start_at = h.start_at();
    let signed_cols = if h.emb_signed { 0 } else { e };
    for (o, b) in bias.take(n).enumerate() {
        let sum: i32 = w1[o * w_stride + signed_cols..][..e + k - signed_cols]
            .iter()
            .map(|&v| i32::from(v))
            .sum();
        put_i32(out, start_at + 4 * o, b.wrapping_add(-128 * sum));
    }
    let sum2: i32 = w2[..n].iter().map(|&v| i32::from(v)).sum();
    let init = if signed {
        bias2.wrapping_add(-128 * sum2)
    } else {
        bias2
    };
    put_i32(out, h.init_at(), init);
}
