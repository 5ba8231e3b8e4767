//! A head's last two layers in one pass: requantize the hidden layer's accumulators and take
//! their dot product with a one-output score layer's weights while they are still in registers,
//! so the batch's int8 hidden matrix never goes through memory.
//!
//! Per row and block of 8 hidden channels the arithmetic is `requant`'s (`P = a·m + K` on
//! 64-bit lanes, the signed variant's `[y < 0]` fix, `P >> (31 + s)`, merge, clamp to
//! `[lo, hi]`), then `vpmulld` by the score weights (held as i32 so no narrowing is needed)
//! and `vpaddd` into the row's sum. Eight rows fill eight registers; `avx2::gemv`'s
//! transposing `vphaddd` tree turns them into eight scores. The score is the exact i32
//! `bias + Σ_o h[o] · w[o]` that `scalar::gemm` computes from the requantized `h`: every
//! product and partial sum is an exact integer (the reader's ranges rule out overflow), and
//! wrap-around addition is associative, so the order does not matter.
//!
//! Cost does not depend on values: loop counts come from the shapes only.

use super::super::{LANES, RQ_BLOCK, Requant, round_up};
use super::Vnni;
use super::requant::{D_EVEN, KC_EVEN, KR_EVEN, M, M_ODD, MERGE_EVEN_ODD, ODD, SHIFT_EVEN};

/// Rows per kernel tile (one per accumulator register before the reduction).
const TILE_ROWS: usize = 8;
/// Tiles per kernel call; the scores go through a stack buffer of this many tiles.
const TILES_PER_CALL: usize = 8;

/// One row (`r10`) into `ymm$r`: every block requantized and multiplied by the score
/// weights, summed per lane. `r10` moves on to the next row.
macro_rules! score_row {
    ($r:literal, $fix:ident) => {
        concat!(
            "vpxor xmm",
            $r,
            ", xmm",
            $r,
            ", xmm",
            $r,
            "\n",
            "mov rax, r10\n",
            "mov rdi, {params}\n",
            "mov rsi, {w}\n",
            "mov rcx, {blocks}\n",
            "2:\n",
            "vmovdqu ymm8, [rax]\n",
            "vpsrlq ymm9, ymm8, 32\n",
            "vpmuldq ymm8, ymm8, [rdi + {m}]\n",
            "vpmuldq ymm9, ymm9, [rdi + {m_odd}]\n",
            "vpaddq ymm8, ymm8, [rdi + {k}]\n",
            "vpaddq ymm9, ymm9, [rdi + {k} + {odd}]\n",
            "vpaddq ymm8, ymm8, ymm10\n",
            "vpaddq ymm9, ymm9, ymm10\n",
            $fix!(),
            "vpsravq ymm8, ymm8, [rdi + {sh}]\n",
            "vpsravq ymm9, ymm9, [rdi + {sh} + {odd}]\n",
            "vpermt2d ymm8, ymm11, ymm9\n",
            "vpmaxsd ymm8, ymm8, ymm12\n",
            "vpminsd ymm8, ymm8, ymm13\n",
            "vpmulld ymm8, ymm8, [rsi]\n",
            "vpaddd ymm",
            $r,
            ", ymm",
            $r,
            ", ymm8\n",
            "add rax, 32\n",
            "add rdi, {rq_bytes}\n",
            "add rsi, 32\n",
            "dec rcx\n",
            "jnz 2b\n",
            "add r10, r9\n",
        )
    };
}

/// `P += D·2^31` where `P >= 0` on both halves (ymm8 even, ymm9 odd channels), the signed
/// variant's `[y < 0]` term; and its absence (ReLU).
macro_rules! fix_signed {
    () => {
        concat!(
            "vpsraq ymm14, ymm8, 63\n",
            "vpsraq ymm15, ymm9, 63\n",
            "vpandnq ymm14, ymm14, [rdi + {d}]
",
            "vpandnq ymm15, ymm15, [rdi + {d} + {odd}]
",
            "vpaddq ymm8, ymm8, ymm14\n",
            "vpaddq ymm9, ymm9, ymm15\n",
        )
    };
}
macro_rules! fix_none {
    () => {
        ""
    };
}

/// Defines one fused kernel: `k` is the rounding constant's vector, `fix` the signed
/// variant's extra step, `extra` the operands only that step names.
macro_rules! score_kernel {
    ($name:ident, row: $row:ident, k: $k:expr, fix: $fix:ident, extra: [$($extra:tt)*]) => {
        /// # Safety
        /// VNNI is usable; `tiles, blocks >= 1`; for every row `j < 8 · tiles`, 8 · `blocks`
        /// i32 at `acc + j · acc_stride` (bytes) are readable; `blocks` parameter blocks at
        /// `params` and 8 · `blocks` i32 at `w` readable; `init` readable for 4 bytes; `out`
        /// writable for 8 · `tiles` i32.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            acc: *const i32,
            acc_stride: usize,
            params: *const i32,
            w: *const i32,
            blocks: usize,
            init: *const i32,
            out: *mut i32,
            tiles: usize,
            lo: i32,
            hi: i32,
        ) {
            // SAFETY: the caller guarantees VNNI and the extents above: row `j` of tile `t`
            // reads `blocks` × 32 bytes at `acc + (8t + j)·acc_stride`, each block's parameters
            // and score weights; tile `t` writes `out[8t..8t + 8]`. Vector and opmask
            // registers are clobbered via `clobber_abi("C")`; every general register written
            // is declared.
            unsafe {
                core::arch::asm!(
                    "vpbroadcastd ymm12, eax",
                    "vpbroadcastd ymm13, ecx",
                    "vpbroadcastd ymm16, dword ptr [rsi]",
                    "vmovdqu ymm11, [rip + {merge}]",
                    "mov rax, 0xC000000000000000",
                    "vpbroadcastq ymm10, rax",
                    "3:",
                    "mov r10, r8",
                    "mov rdi, {params}",
                    "mov rsi, {w}",
                    $row!("0", $fix),
                    $row!("1", $fix),
                    $row!("2", $fix),
                    $row!("3", $fix),
                    $row!("4", $fix),
                    $row!("5", $fix),
                    $row!("6", $fix),
                    $row!("7", $fix),
                    "vphaddd ymm0, ymm0, ymm1",
                    "vphaddd ymm2, ymm2, ymm3",
                    "vphaddd ymm4, ymm4, ymm5",
                    "vphaddd ymm6, ymm6, ymm7",
                    "vphaddd ymm0, ymm0, ymm2",
                    "vphaddd ymm4, ymm4, ymm6",
                    "vperm2i128 ymm1, ymm0, ymm4, 0x20",
                    "vperm2i128 ymm2, ymm0, ymm4, 0x31",
                    "vpaddd ymm0, ymm1, ymm2",
                    "vpaddd ymm0, ymm0, ymm16",
                    "vmovdqu [rdx], ymm0",
                    "add rdx, 32",
                    "lea r8, [r8 + r9*8]",
                    "dec r11",
                    "jnz 3b",
                    "vzeroupper",
                    inout("r8") acc => _,
                    inout("r9") acc_stride => _,
                    inout("rdx") out => _,
                    inout("r11") tiles => _,
                    inout("rsi") init => _,
                    inout("eax") lo => _,
                    inout("ecx") hi => _,
                    out("rdi") _,
                    out("r10") _,
                    params = in(reg) params,
                    blocks = in(reg) blocks,
                    rq_bytes = const RQ_BLOCK * 4,
                    w = in(reg) w,
                    m = const M,
                    m_odd = const M_ODD,
                    k = const $k,
                    sh = const SHIFT_EVEN,
                    odd = const ODD,
                    merge = sym MERGE_EVEN_ODD,
                    $($extra)*
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

// ReLU (`lo >= 0`): `[y < 0]` is dropped as in `requant` (every `y < 0` clamps to `lo`).
score_kernel!(score_relu, row: score_row, k: KR_EVEN, fix: fix_none,
    extra: []);
score_kernel!(score_signed, row: score_row, k: KC_EVEN, fix: fix_signed,
    extra: [d = const D_EVEN,]);

/// i32 values of [`score_weights`]' form for a layer with `k` inputs.
pub const fn score_weights_len(k: usize) -> usize {
    round_up(k, LANES)
}

/// Widens a one-output layer's `k` weights to i32, zero-padded to whole blocks of 8, the form
/// [`requant_score`] multiplies by. `out` must hold [`score_weights_len`]`(k)` values.
pub fn score_weights(w: &[i8], k: usize, out: &mut [i32]) {
    out[..score_weights_len(k)].fill(0);
    for (o, &v) in out.iter_mut().zip(&w[..k]) {
        *o = i32::from(v);
    }
}

/// `out[j] = init + Σ_o requantize(acc[j][o]) · w[o]`: [`super::requant`] of the `r.n`
/// hidden channels (`r.out_stride` unused) followed by a one-output layer over them, fused.
/// `w` is [`score_weights`]' form, `params` the hidden layer's requant blocks.
///
/// Reads whole tiles of 8 rows: `acc` must hold `(round_up(rows, 8) - 1) · acc_stride +
/// round_up(n, 8)` values; rows past `r.rows` are read (any values) but not written out.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn requant_score(
    _: Vnni,
    r: &Requant,
    acc: &[i32],
    params: &[i32],
    w: &[i32],
    init: i32,
    out: &mut [i32],
) {
    let blocks = r.n.div_ceil(LANES);
    if r.rows == 0 {
        return;
    }
    if blocks == 0 {
        out[..r.rows].fill(init);
        return;
    }
    let tiles = r.rows.div_ceil(TILE_ROWS);
    assert!(acc.len() >= (tiles * TILE_ROWS - 1) * r.acc_stride + blocks * LANES);
    assert!(params.len() >= blocks * RQ_BLOCK);
    assert!(w.len() >= blocks * LANES);
    assert!(out.len() >= r.rows);
    let (lo, hi) = (i32::from(r.lo), i32::from(r.hi));
    let mut tmp = [0i32; TILE_ROWS * TILES_PER_CALL];
    let mut t = 0;
    while t < tiles {
        let count = TILES_PER_CALL.min(tiles - t);
        let a = acc[t * TILE_ROWS * r.acc_stride..].as_ptr();
        let (s, p, wp, o) = (
            r.acc_stride * 4,
            params.as_ptr(),
            w.as_ptr(),
            tmp.as_mut_ptr(),
        );
        // SAFETY: `Vnni` proves VNNI is usable. Asserted above: rows `8t..8(t + count)` have
        // `blocks` blocks of 8 i32 inside `acc`, `blocks` parameter blocks and `8 · blocks`
        // weights are in bounds; `init` is one i32 and `tmp` holds `8 · count` i32.
        unsafe {
            if lo >= 0 {
                score_relu(a, s, p, wp, blocks, &init, o, count, lo, hi);
            } else {
                score_signed(a, s, p, wp, blocks, &init, o, count, lo, hi);
            }
        }
        let first = t * TILE_ROWS;
        let valid = (count * TILE_ROWS).min(r.rows - first);
        out[first..first + valid].copy_from_slice(&tmp[..valid]);
        t += count;
    }
}
