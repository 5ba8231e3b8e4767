//! VNNI kernel for layers narrower than a register: the batch's rows fill the lanes (the VNNI
//! form of `avx2::gemv`: one `vpdpbusd` per row and 32 inputs instead of three instructions).

use super::super::avx2::{GEMV_CHUNK, GEMV_ROWS};
use super::super::{Gemm, round_up};
use super::Vnni;

/// One input row's step: `ymm$acc += quads(x_row · w)`, the weight chunk in ymm8; inputs in
/// `[0, 127]` go in as they are.
macro_rules! row_unsigned {
    ($acc:literal, $addr:literal) => {
        concat!(
            "vmovdqu ymm9, [",
            $addr,
            "]\n",
            "{{evex}} vpdpbusd ymm",
            $acc,
            ", ymm9, ymm8\n",
        )
    };
}

/// [`row_unsigned`] for signed inputs: `x XOR 0x80 = x + 128` (ymm15), the `128 · Σ w` excess
/// removed through `init` (see the module docs of `vnni`).
macro_rules! row_signed {
    ($acc:literal, $addr:literal) => {
        concat!(
            "vpxord ymm9, ymm15, [",
            $addr,
            "]\n",
            "{{evex}} vpdpbusd ymm",
            $acc,
            ", ymm9, ymm8\n",
        )
    };
}

/// Defines one [`gemv`] kernel: `tiles` tiles of 8 input rows against one output channel's
/// weights, 32 inputs per step, then `avx2::gemv`'s transposing reduction to one i32 per row.
macro_rules! gemv_tile {
    ($name:ident, $row:ident) => {
        /// # Safety
        /// VNNI is usable; `chunks, tiles >= 1`; `32 · chunks` bytes are readable at
        /// `x + r · stride` for `r < 8 · tiles` and at `w`; `init` readable for 4 bytes and
        /// `out` writable for `32 · tiles` bytes.
        unsafe fn $name(
            x: *const i8,
            stride: usize,
            w: *const u8,
            chunks: usize,
            init: *const i32,
            out: *mut i32,
            tiles: usize,
        ) {
            // SAFETY: the caller guarantees VNNI and the extents above: tile `t`, step `c`
            // reads bytes `32c..32c + 32` of rows `8t..8t + 8` and of `w`, and writes
            // `out[8t..8t + 8]`. Vector registers are clobbered via `clobber_abi("C")`; the
            // general registers written are declared.
            unsafe {
                core::arch::asm!(
                    "mov eax, 0x80808080",
                    "vpbroadcastd ymm15, eax",
                    "vpbroadcastd ymm11, dword ptr [{init}]",
                    "4:",
                    "vpxor xmm0, xmm0, xmm0",
                    "vpxor xmm1, xmm1, xmm1",
                    "vpxor xmm2, xmm2, xmm2",
                    "vpxor xmm3, xmm3, xmm3",
                    "vpxor xmm4, xmm4, xmm4",
                    "vpxor xmm5, xmm5, xmm5",
                    "vpxor xmm6, xmm6, xmm6",
                    "vpxor xmm7, xmm7, xmm7",
                    "mov rsi, r13",
                    "lea r8, [r13 + r9*4]",
                    "mov rdi, {w}",
                    "mov rcx, {chunks}",
                    "2:",
                    "vmovdqu ymm8, [rdi]",
                    $row!("0", "rsi"),
                    $row!("1", "rsi + r9"),
                    $row!("2", "rsi + r9*2"),
                    $row!("3", "rsi + r10"),
                    $row!("4", "r8"),
                    $row!("5", "r8 + r9"),
                    $row!("6", "r8 + r9*2"),
                    $row!("7", "r8 + r10"),
                    "add rsi, 32",
                    "add r8, 32",
                    "add rdi, 32",
                    "dec rcx",
                    "jnz 2b",
                    "vphaddd ymm0, ymm0, ymm1",
                    "vphaddd ymm2, ymm2, ymm3",
                    "vphaddd ymm4, ymm4, ymm5",
                    "vphaddd ymm6, ymm6, ymm7",
                    "vphaddd ymm0, ymm0, ymm2",
                    "vphaddd ymm4, ymm4, ymm6",
                    "vperm2i128 ymm1, ymm0, ymm4, 0x20",
                    "vperm2i128 ymm2, ymm0, ymm4, 0x31",
                    "vpaddd ymm0, ymm1, ymm2",
                    "vpaddd ymm0, ymm0, ymm11",
                    "vmovdqu [rdx], ymm0",
                    "add r13, r11",
                    "add rdx, 32",
                    "dec r12",
                    "jnz 4b",
                    "vzeroupper",
                    inout("r13") x => _,
                    inout("r9") stride => _,
                    inout("r10") 3 * stride => _,
                    inout("r11") 8 * stride => _,
                    inout("rdx") out => _,
                    inout("r12") tiles => _,
                    out("rax") _,
                    out("rsi") _,
                    out("r8") _,
                    out("rdi") _,
                    out("rcx") _,
                    w = in(reg) w,
                    chunks = in(reg) chunks,
                    init = in(reg) init,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

gemv_tile!(gemv8_unsigned, row_unsigned);
gemv_tile!(gemv8_signed, row_signed);

/// Bytes of the [`gemv`] form of an `n × k` weight matrix: `avx2::gemv_pack`'s rows, then the
/// signed-input correction `-128 · Σ_i w[o][i]` per channel as i32 (padded to 32 bytes).
pub const fn gemv_packed_len(n: usize, k: usize) -> usize {
    super::super::avx2::gemv_packed_len(n, k) + round_up(n * 4, 32)
}

/// Packs columns `col0..col0 + k` of the row-major `n × w_stride` matrix `w` for [`gemv`].
pub fn gemv_pack(w: &[i8], w_stride: usize, col0: usize, k: usize, n: usize, out: &mut [u8]) {
    let rows = super::super::avx2::gemv_packed_len(n, k);
    let (weights, corr) = out.split_at_mut(rows);
    super::super::avx2::gemv_pack(w, w_stride, col0, k, n, weights);
    for (o, c) in corr.as_chunks_mut::<4>().0.iter_mut().take(n).enumerate() {
        let sum: i32 = w[o * w_stride + col0..][..k]
            .iter()
            .map(|&v| i32::from(v))
            .sum();
        *c = (-128 * sum).to_ne_bytes();
    }
}

/// [`super::super::scalar::gemm`] for layers with fewer outputs than a YMM register has lanes,
/// rows in the lanes (see `avx2::gemv`, whose contract this shares). `packed` is
/// [`gemv_pack`]'s form.
///
/// Reads whole 32-byte chunks of `round_up(rows, 8)` rows: `x` must hold
/// `(round_up(rows, 8) - 1) · x_stride + round_up(k, 32)` bytes. Bytes past a row's `k`
/// inputs meet zero weights, so their values do not matter.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn gemv(_: Vnni, g: &Gemm, x: &[i8], packed: &[u8], init: &[i32], acc: &mut [i32]) {
    if g.rows == 0 || g.n == 0 {
        return;
    }
    assert!(init.len() >= g.n);
    assert!(acc.len() >= (g.rows - 1) * g.acc_stride + g.n);
    let chunks = g.k.div_ceil(GEMV_CHUNK);
    if chunks == 0 {
        for j in 0..g.rows {
            acc[j * g.acc_stride..][..g.n].copy_from_slice(&init[..g.n]);
        }
        return;
    }
    let kpad = chunks * GEMV_CHUNK;
    let tiles = g.rows.div_ceil(GEMV_ROWS);
    assert!(x.len() >= (tiles * GEMV_ROWS - 1) * g.x_stride + kpad);
    assert!(packed.len() >= gemv_packed_len(g.n, g.k));
    const TILES_PER_CALL: usize = 8;
    let mut tmp = [0i32; GEMV_ROWS * TILES_PER_CALL];
    for o in 0..g.n {
        let w = packed[o * kpad..].as_ptr();
        let start = if g.signed {
            let b = &packed[g.n * kpad + 4 * o..][..4];
            init[o].wrapping_add(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        } else {
            init[o]
        };
        let mut t = 0;
        while t < tiles {
            let count = TILES_PER_CALL.min(tiles - t);
            let xr = x[t * GEMV_ROWS * g.x_stride..].as_ptr();
            // SAFETY: `Vnni` proves VNNI is usable. Asserted above: rows
            // `8t..8(t + count)` have `kpad` bytes each inside `x`, output `o`'s `kpad`
            // weights lie in `packed`, `start` is one i32 and `tmp` holds `8 · count` i32.
            unsafe {
                if g.signed {
                    gemv8_signed(xr, g.x_stride, w, chunks, &start, tmp.as_mut_ptr(), count);
                } else {
                    gemv8_unsigned(xr, g.x_stride, w, chunks, &start, tmp.as_mut_ptr(), count);
                }
            }
            let valid = (count * GEMV_ROWS).min(g.rows - t * GEMV_ROWS);
            for (r, &v) in tmp.iter().take(valid).enumerate() {
                acc[(t * GEMV_ROWS + r) * g.acc_stride + o] = v;
            }
            t += count;
        }
    }
}
