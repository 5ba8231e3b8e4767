//! AVX-512 requantization: the single-rounding form of `avx2::requant`'s arithmetic with a real
//! 64-bit arithmetic shift, blocks outside and rows inside so parameters stay in registers.

use super::super::{LANES, RQ_BLOCK, Requant};
use super::Vnni;

/// `vpermt2d` indices gathering the low dwords of the even-channel qwords (first table) and the
/// odd-channel qwords (second table) back into channel order.
pub(super) static MERGE_EVEN_ODD: [i32; 8] = [0, 8, 2, 10, 4, 12, 6, 14];

/// Byte offsets of one block's parameter vectors (`kernels::fill_requant_params`).
pub(super) const M: usize = 0;
pub(super) const M_ODD: usize = 2 * 32;
pub(super) const KC_EVEN: usize = 3 * 32;
pub(super) const KR_EVEN: usize = 5 * 32;
pub(super) const SHIFT_EVEN: usize = 7 * 32;
pub(super) const D_EVEN: usize = 9 * 32;
/// The odd-channel vector follows each even one.
pub(super) const ODD: usize = 32;

/// Defines a batch requant loop: blocks outside, rows inside.
///
/// Per block, before the rows: the multipliers (ymm20 even, ymm21 odd), the rounding constants
/// `K - 2^62` (ymm22/23: the parameter block stores AVX2's offset form, `vpsravq` needs none),
/// the shifts `31 + s` (ymm24/25) and for the signed variant `D·2^31` (ymm26/27). Per row:
/// `P = a·m + K` on 64-bit lanes (exact: `|a·m| < 2^62`, `|K| < 2^62`), for signed outputs
/// `P += D·2^31` where `P >= 0` (see `avx2::requant_block!` for why that is gemmlowp's `[y < 0]`
/// term), `P >> (31 + s)` arithmetic, merge, clamp, narrow to bytes.
macro_rules! requant_loop {
    ($name:ident, k: $k:expr, fix: $fix:expr, clamp: $clamp:expr) => {
        /// # Safety
        /// VNNI is usable; `rows, blocks >= 1`; for every row `j < rows`, 8 · `blocks` i32 at
        /// `acc + j · acc_stride` (bytes) are readable, 8 · `blocks` bytes at
        /// `out + j · out_stride` writable, and `blocks` parameter blocks at `params` readable.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            acc: *const i32,
            acc_stride: usize,
            params: *const i32,
            out: *mut i8,
            out_stride: usize,
            rows: usize,
            blocks: usize,
            lo: i32,
            hi: i32,
        ) {
            // SAFETY: the caller guarantees VNNI and the extents above: block `b`'s loop reads
            // 32 bytes of accumulators at `acc + 32b + j·acc_stride` and writes 8 bytes at
            // `out + 8b + j·out_stride` for each row `j`, and reads parameter block `b`.
            // Vector and opmask registers are clobbered via `clobber_abi("C")`; every general
            // register written is declared.
            unsafe {
                core::arch::asm!(
                    "vpbroadcastd ymm12, r8d",
                    "vpbroadcastd ymm13, r9d",
                    "vmovdqu ymm11, [rip + {merge}]",
                    "mov rax, 0xC000000000000000",
                    "vpbroadcastq ymm10, rax",
                    "2:",
                    "vmovdqu32 ymm20, [rdi + {m}]",
                    "vmovdqu32 ymm21, [rdi + {m_odd}]",
                    "vpaddq ymm22, ymm10, [rdi + {k}]",
                    "vpaddq ymm23, ymm10, [rdi + {k} + {odd}]",
                    "vmovdqu32 ymm24, [rdi + {sh}]",
                    "vmovdqu32 ymm25, [rdi + {sh} + {odd}]",
                    "vmovdqu32 ymm26, [rdi + {d}]",
                    "vmovdqu32 ymm27, [rdi + {d} + {odd}]",
                    "mov rax, rsi",
                    "mov r11, rdx",
                    "mov rcx, {rows}",
                    "3:",
                    "vmovdqu ymm0, [rax]",
                    "vpsrlq ymm1, ymm0, 32",
                    "vpmuldq ymm0, ymm0, ymm20",
                    "vpmuldq ymm1, ymm1, ymm21",
                    "vpaddq ymm0, ymm0, ymm22",
                    "vpaddq ymm1, ymm1, ymm23",
                    $fix,
                    "vpsravq ymm0, ymm0, ymm24",
                    "vpsravq ymm1, ymm1, ymm25",
                    "vpermt2d ymm0, ymm11, ymm1",
                    $clamp,
                    "vpmovsdb xmm0, ymm0",
                    "vmovq qword ptr [r11], xmm0",
                    "add rax, {acc_stride}",
                    "add r11, {out_stride}",
                    "dec rcx",
                    "jnz 3b",
                    "add rsi, 32",
                    "add rdx, 8",
                    "add rdi, {rq_bytes}",
                    "dec r10",
                    "jnz 2b",
                    "vzeroupper",
                    inout("rsi") acc => _,
                    inout("rdx") out => _,
                    inout("rdi") params => _,
                    inout("r10") blocks => _,
                    rows = in(reg) rows,
                    acc_stride = in(reg) acc_stride,
                    out_stride = in(reg) out_stride,
                    in("r8") lo,
                    in("r9") hi,
                    rq_bytes = const RQ_BLOCK * 4,
                    m = const M,
                    m_odd = const M_ODD,
                    k = const $k,
                    sh = const SHIFT_EVEN,
                    d = const D_EVEN,
                    odd = const ODD,
                    merge = sym MERGE_EVEN_ODD,
                    out("rax") _,
                    out("rcx") _,
                    out("r11") _,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

/// `P += D·2^31` where `P >= 0`, both halves (ymm26/27 hold `D·2^31`).
macro_rules! signed_fix {
    () => {
        concat!(
            "vpsraq ymm2, ymm0, 63\n",
            "vpsraq ymm3, ymm1, 63\n",
            "vpandnq ymm2, ymm2, ymm26\n",
            "vpandnq ymm3, ymm3, ymm27\n",
            "vpaddq ymm0, ymm0, ymm2\n",
            "vpaddq ymm1, ymm1, ymm3\n",
        )
    };
}

// ReLU (`lo >= 0`): every `y < 0` clamps to `lo` whatever its rounding, so the `[y < 0]` term
// is dropped (`KR` already holds `H`). With `hi = 127`, `vpmovsdb`'s saturation is the clamp.
requant_loop!(requant_relu127, k: KR_EVEN, fix: "", clamp: "vpmaxsd ymm0, ymm0, ymm12");
requant_loop!(requant_relu, k: KR_EVEN, fix: "",
    clamp: "vpmaxsd ymm0, ymm0, ymm12\nvpminsd ymm0, ymm0, ymm13");
requant_loop!(requant_signed, k: KC_EVEN, fix: signed_fix!(),
    clamp: "vpmaxsd ymm0, ymm0, ymm12\nvpminsd ymm0, ymm0, ymm13");

/// VNNI-backend [`super::super::scalar::requant`]. Which variant runs depends on the clamp (the
/// layer's shape), never on values.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn requant(_: Vnni, r: &Requant, acc: &[i32], params: &[i32], out: &mut [i8]) {
    let blocks = r.n.div_ceil(LANES);
    if r.rows == 0 || blocks == 0 {
        return;
    }
    assert!(acc.len() >= (r.rows - 1) * r.acc_stride + blocks * LANES);
    assert!(out.len() >= (r.rows - 1) * r.out_stride + blocks * LANES);
    assert!(params.len() >= blocks * RQ_BLOCK);
    let (lo, hi) = (i32::from(r.lo), i32::from(r.hi));
    let (a, s, p, o, os) = (
        acc.as_ptr(),
        r.acc_stride * 4,
        params.as_ptr(),
        out.as_mut_ptr(),
        r.out_stride,
    );
    // SAFETY: `Vnni` proves VNNI is usable. Asserted above: every row's `blocks` blocks of
    // 8 i32 and 8 bytes, and `blocks · RQ_BLOCK` parameters, are in bounds.
    unsafe {
        if lo >= 0 && hi == i32::from(i8::MAX) {
            requant_relu127(a, s, p, o, os, r.rows, blocks, lo, hi);
        } else if lo >= 0 {
            requant_relu(a, s, p, o, os, r.rows, blocks, lo, hi);
        } else {
            requant_signed(a, s, p, o, os, r.rows, blocks, lo, hi);
        }
    }
}
