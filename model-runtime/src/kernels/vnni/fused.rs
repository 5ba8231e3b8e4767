//! One-row gemm with the requantization fused in: the backbone's layers (one input window per
//! tick) compute each tile's accumulators in registers, requantize them there with
//! `requant`'s arithmetic and write int8 straight out, skipping the i32 accumulator store and
//! the separate requantization pass.
//!
//! The accumulation is `split_tile!`'s (groups dealt round-robin to `ways` accumulator sets,
//! summed at the end; one way for the 8-block tile, whose eight chains already cover
//! `vpdpbusd`'s latency), starting from folded starting values (`fold_correction`). The
//! requantization per block is `score.rs`'s: `P = a·m + K` on 64-bit lanes, the signed
//! variant's `[y < 0]` term, `P >> (31 + s)`, merge, clamp to `[lo, hi]`, `vpmovsdb`. Bit-identical
//! to `scalar::gemm` followed by `scalar::requant`.
//!
//! Cost does not depend on values: loop counts come from the shapes only.

use super::super::{GROUP, Gemm, LANES, PACKED_ROW, RQ_BLOCK, Requant};
use super::requant::{D_EVEN, KC_EVEN, KR_EVEN, M, M_ODD, MERGE_EVEN_ODD, ODD, SHIFT_EVEN};
use super::{Vnni, correction_len};

/// Requantizes accumulator `ymm$acc` (block at parameter byte offset `$off`) into 8 bytes at
/// `[{out} + $o8]`. ymm10: `-2^62` per qword, ymm11: the merge table, ymm12/13: `lo`/`hi`.
/// The optional last argument names the `asm!` operand that holds the rounding constants'
/// offset (`k` unless given; the whole-backbone kernel's two layers need one each).
macro_rules! rq_block {
    ($acc:literal, $off:literal, $o8:literal, $fix:ident) => {
        rq_block!($acc, $off, $o8, $fix, "k")
    };
    ($acc:literal, $off:literal, $o8:literal, $fix:ident, $k:literal) => {
        concat!(
            "vpsrlq ymm9, ymm",
            $acc,
            ", 32\n",
            "vpmuldq ymm8, ymm",
            $acc,
            ", [{p} + ",
            $off,
            " + {m}]\n",
            "vpmuldq ymm9, ymm9, [{p} + ",
            $off,
            " + {m_odd}]\n",
            "vpaddq ymm8, ymm8, [{p} + ",
            $off,
            " + {",
            $k,
            "}]\n",
            "vpaddq ymm9, ymm9, [{p} + ",
            $off,
            " + {",
            $k,
            "} + {odd}]\n",
            "vpaddq ymm8, ymm8, ymm10\n",
            "vpaddq ymm9, ymm9, ymm10\n",
            $fix!($off),
            "vpsravq ymm8, ymm8, [{p} + ",
            $off,
            " + {sh}]\n",
            "vpsravq ymm9, ymm9, [{p} + ",
            $off,
            " + {sh} + {odd}]\n",
            "vpermt2d ymm8, ymm11, ymm9\n",
            "vpmaxsd ymm8, ymm8, ymm12\n",
            "vpminsd ymm8, ymm8, ymm13\n",
            "vpmovsdb xmm8, ymm8\n",
            "vmovq qword ptr [{out} + ",
            $o8,
            "], xmm8\n",
        )
    };
}

/// `P += D·2^31` where `P >= 0` (signed outputs); nothing for ReLU, whose negative `y` all
/// clamp to `lo` whatever their rounding.
macro_rules! fix_signed {
    ($off:literal) => {
        concat!(
            "vpsraq ymm14, ymm8, 63\n",
            "vpsraq ymm15, ymm9, 63\n",
            "vpandnq ymm14, ymm14, [{p} + ",
            $off,
            " + {d}]\n",
            "vpandnq ymm15, ymm15, [{p} + ",
            $off,
            " + {d} + {odd}]\n",
            "vpaddq ymm8, ymm8, ymm14\n",
            "vpaddq ymm9, ymm9, ymm15\n",
        )
    };
}
macro_rules! fix_none {
    ($off:literal) => {
        ""
    };
}

/// One block's step: weights at `[$base + $off]` into `ymm$tmp`, times the inputs in `ymm$x`.
macro_rules! fstep {
    ($acc:literal, $x:literal, $tmp:literal, $base:literal, $off:literal) => {
        concat!(
            "vmovdqu32 ymm",
            $tmp,
            ", ymmword ptr [",
            $base,
            " + ",
            $off,
            "]\n",
            "{{evex}} vpdpbusd ymm",
            $acc,
            ", ymm",
            $x,
            ", ymm",
            $tmp,
            "\n",
        )
    };
}

/// Broadcast of the 4 inputs at `[rsi + $off]` into `ymm$r`, signed (`+ 128`) or not.
macro_rules! fbcast {
    (signed, $r:literal, $off:literal) => {
        concat!(
            "vpxord ymm",
            $r,
            ", ymm15, dword ptr [rsi + ",
            $off,
            "]{{1to8}}\n"
        )
    };
    (unsigned, $r:literal, $off:literal) => {
        concat!("vpbroadcastd ymm", $r, ", dword ptr [rsi + ", $off, "]\n")
    };
}

/// Defines one fused one-row kernel (see the module docs and `split_tile!`).
macro_rules! fused_tile {
    ($name:ident, ways: $ways:literal, advance: $adv:literal, bcasts: [$($bc:expr),*],
     tail_bcast: $tbc:expr, starts: [$($start:literal),*], steps: [$($step:expr),*],
     tail: [$($tail:expr),*], sum: [$($sum:literal),*], rq: [$($rq:expr),*], k: $k:expr,
     extra: [$($extra:tt)*]) => {
        /// # Safety
        /// VNNI is usable; `groups >= 1`; `x` readable for `4 · groups` bytes, `w` for
        /// `groups · wstride` bytes (this tile's blocks at the start of each `wstride` row),
        /// `start` for 32 bytes, `params` for one parameter block and `out` writable for 8
        /// bytes per block of the tile; `lohi` readable for two i32.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(x: *const i8, w: *const u8, wstride: usize, groups: usize, start: *const i32, params: *const i32, out: *mut i8, lohi: *const i32) {
            // SAFETY: the caller guarantees VNNI and the extents above: the main loop reads
            // groups `g..g + ways` (inputs `[rsi..rsi + 4·ways]`, weight rows
            // `g·wstride..(g + ways)·wstride`) while `g + ways <= groups`, the tail loop the
            // remaining groups one at a time; the epilogue reads the tile's parameter blocks
            // and writes its 8 bytes per block. Vector and opmask registers are clobbered via
            // `clobber_abi("C")`; every general register written is declared.
            unsafe {
                core::arch::asm!(
                    "mov ecx, 0x80808080",
                    "vpbroadcastd ymm15, ecx",
                    $($start,)*
                    "mov rcx, {groups}",
                    "shr rcx, {way_shift}",
                    // A shift by 0 (one way) leaves the flags alone: test explicitly.
                    "test rcx, rcx",
                    "jz 4f",
                    "2:",
                    $($bc,)*
                    "lea rax, [rdi + {ws}*2]",
                    $($step,)*
                    "add rsi, {way_bytes}",
                    $adv,
                    "dec rcx",
                    "jnz 2b",
                    "4:",
                    "mov rcx, {groups}",
                    "and rcx, {way_mask}",
                    "jz 6f",
                    "5:",
                    $tbc,
                    $($tail,)*
                    "add rsi, 4",
                    "add rdi, {ws}",
                    "dec rcx",
                    "jnz 5b",
                    "6:",
                    $($sum,)*
                    "mov rax, 0xC000000000000000",
                    "vpbroadcastq ymm10, rax",
                    "vmovdqu ymm11, [rip + {merge}]",
                    "vpbroadcastd ymm12, dword ptr [{lohi}]",
                    "vpbroadcastd ymm13, dword ptr [{lohi} + 4]",
                    $($rq,)*
                    "vzeroupper",
                    inout("rsi") x => _,
                    inout("rdi") w => _,
                    inout("rax") start => _,
                    out("rcx") _,
                    groups = in(reg) groups,
                    ws = in(reg) wstride,
                    p = in(reg) params,
                    out = in(reg) out,
                    lohi = in(reg) lohi,
                    way_shift = const ($ways as u32).trailing_zeros(),
                    way_bytes = const 4 * $ways,
                    way_mask = const $ways - 1,
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

/// 8 blocks, one way: accumulators ymm0-7 (eight chains).
macro_rules! ftile8 {
    ($name:ident, $kind:ident, $fix:ident, $k:expr, [$($extra:tt)*]) => {
        fused_tile!($name, ways: 1, advance: "add rdi, {ws}",
            bcasts: [fbcast!($kind, "12", "0")],
            tail_bcast: fbcast!($kind, "12", "0"),
            starts: ["vmovdqu32 ymm0, [rax]", "vmovdqu32 ymm1, [rax + 32]", "vmovdqu32 ymm2, [rax + 64]", "vmovdqu32 ymm3, [rax + 96]",
                     "vmovdqu32 ymm4, [rax + 128]", "vmovdqu32 ymm5, [rax + 160]", "vmovdqu32 ymm6, [rax + 192]", "vmovdqu32 ymm7, [rax + 224]"],
            steps: [fstep!(0, 12, 8, "rdi", 0), fstep!(1, 12, 9, "rdi", 32), fstep!(2, 12, 10, "rdi", 64), fstep!(3, 12, 11, "rdi", 96),
                    fstep!(4, 12, 13, "rdi", 128), fstep!(5, 12, 14, "rdi", 160), fstep!(6, 12, 24, "rdi", 192), fstep!(7, 12, 25, "rdi", 224)],
            tail: [],
            sum: [],
            rq: [rq_block!("0", "0", "0", $fix), rq_block!("1", "384", "8", $fix), rq_block!("2", "768", "16", $fix), rq_block!("3", "1152", "24", $fix),
                 rq_block!("4", "1536", "32", $fix), rq_block!("5", "1920", "40", $fix), rq_block!("6", "2304", "48", $fix), rq_block!("7", "2688", "56", $fix)],
            k: $k, extra: [$($extra)*]);
    };
}

/// 4 blocks, 2 ways: sets ymm0-3 and ymm4-7.
macro_rules! ftile4 {
    ($name:ident, $kind:ident, $fix:ident, $k:expr, [$($extra:tt)*]) => {
        fused_tile!($name, ways: 2, advance: "mov rdi, rax",
            bcasts: [fbcast!($kind, "12", "0"), fbcast!($kind, "13", "4")],
            tail_bcast: fbcast!($kind, "12", "0"),
            starts: ["vmovdqu32 ymm0, [rax]", "vmovdqu32 ymm1, [rax + 32]", "vmovdqu32 ymm2, [rax + 64]", "vmovdqu32 ymm3, [rax + 96]",
                     "vpxor xmm4, xmm4, xmm4", "vpxor xmm5, xmm5, xmm5", "vpxor xmm6, xmm6, xmm6", "vpxor xmm7, xmm7, xmm7"],
            steps: [fstep!(0, 12, 8, "rdi", 0), fstep!(1, 12, 9, "rdi", 32), fstep!(2, 12, 10, "rdi", 64), fstep!(3, 12, 11, "rdi", 96),
                    fstep!(4, 13, 24, "rdi + {ws}", 0), fstep!(5, 13, 25, "rdi + {ws}", 32), fstep!(6, 13, 26, "rdi + {ws}", 64), fstep!(7, 13, 27, "rdi + {ws}", 96)],
            tail: [fstep!(0, 12, 8, "rdi", 0), fstep!(1, 12, 9, "rdi", 32), fstep!(2, 12, 10, "rdi", 64), fstep!(3, 12, 11, "rdi", 96)],
            sum: ["vpaddd ymm0, ymm0, ymm4", "vpaddd ymm1, ymm1, ymm5", "vpaddd ymm2, ymm2, ymm6", "vpaddd ymm3, ymm3, ymm7"],
            rq: [rq_block!("0", "0", "0", $fix), rq_block!("1", "384", "8", $fix), rq_block!("2", "768", "16", $fix), rq_block!("3", "1152", "24", $fix)],
            k: $k, extra: [$($extra)*]);
    };
}

/// 1 block, 4 ways: accumulators ymm0-3, ways at `rdi`, `rdi + ws`, `rax`, `rax + ws`.
macro_rules! ftile1 {
    ($name:ident, $kind:ident, $fix:ident, $k:expr, [$($extra:tt)*]) => {
        fused_tile!($name, ways: 4, advance: "lea rdi, [rax + {ws}*2]",
            bcasts: [fbcast!($kind, "12", "0"), fbcast!($kind, "13", "4"), fbcast!($kind, "14", "8"), fbcast!($kind, "28", "12")],
            tail_bcast: fbcast!($kind, "12", "0"),
            starts: ["vmovdqu32 ymm0, [rax]", "vpxor xmm1, xmm1, xmm1", "vpxor xmm2, xmm2, xmm2", "vpxor xmm3, xmm3, xmm3"],
            steps: [fstep!(0, 12, 8, "rdi", 0), fstep!(1, 13, 9, "rdi + {ws}", 0), fstep!(2, 14, 10, "rax", 0), fstep!(3, 28, 11, "rax + {ws}", 0)],
            tail: [fstep!(0, 12, 8, "rdi", 0)],
            sum: ["vpaddd ymm0, ymm0, ymm1", "vpaddd ymm2, ymm2, ymm3", "vpaddd ymm0, ymm0, ymm2"],
            rq: [rq_block!("0", "0", "0", $fix)],
            k: $k, extra: [$($extra)*]);
    };
}

ftile8!(f8_s_signed, signed, fix_signed, KC_EVEN, [d = const D_EVEN,]);
ftile8!(f8_s_relu, signed, fix_none, KR_EVEN, []);
ftile8!(f8_u_signed, unsigned, fix_signed, KC_EVEN, [d = const D_EVEN,]);
ftile8!(f8_u_relu, unsigned, fix_none, KR_EVEN, []);
ftile4!(f4_s_signed, signed, fix_signed, KC_EVEN, [d = const D_EVEN,]);
ftile4!(f4_s_relu, signed, fix_none, KR_EVEN, []);
ftile4!(f4_u_signed, unsigned, fix_signed, KC_EVEN, [d = const D_EVEN,]);
ftile4!(f4_u_relu, unsigned, fix_none, KR_EVEN, []);
ftile1!(f1_s_signed, signed, fix_signed, KC_EVEN, [d = const D_EVEN,]);
ftile1!(f1_s_relu, signed, fix_none, KR_EVEN, []);
ftile1!(f1_u_signed, unsigned, fix_signed, KC_EVEN, [d = const D_EVEN,]);
ftile1!(f1_u_relu, unsigned, fix_none, KR_EVEN, []);

/// One row of [`super::gemm`] followed by [`super::requant`], fused: `out` receives the
/// requantized `g.n` outputs (whole blocks: `round_up(g.n, 8)` bytes, padding channels
/// requantized from their padded parameters as `requant` does). `g.rows` must be 1; `start`
/// is `init` passed through [`super::fold_correction`] for signed inputs (`init` itself
/// for unsigned ones), `params` as for `requant`; `r` gives the clamp (its row geometry
/// is unused). Which kernel runs depends on the shape and the clamp, never on values.
///
/// # Panics
/// If `g.rows != 1` or a slice is shorter than the geometry needs.
#[allow(clippy::too_many_arguments)]
pub fn gemm_requant_row(
    t: Vnni,
    g: &Gemm,
    x: &[i8],
    packed: &[u8],
    start: &[i32],
    r: &Requant,
    params: &[i32],
    out: &mut [i8],
) {
    assert_eq!(g.rows, 1);
    let blocks = g.n.div_ceil(LANES);
    let groups = g.k.div_ceil(GROUP);
    if blocks == 0 {
        return;
    }
    if groups == 0 {
        // No inputs: the accumulators are the starting values; requantize those.
        let rq = Requant {
            rows: 1,
            n: g.n,
            acc_stride: 0,
            out_stride: 0,
            ..*r
        };
        super::requant(t, &rq, start, params, out);
        return;
    }
    assert!(start.len() >= blocks * LANES);
    assert!(out.len() >= blocks * LANES);
    assert!(params.len() >= blocks * RQ_BLOCK);
    assert!(x.len() >= groups * GROUP);
    let wstride = blocks * PACKED_ROW;
    assert!(packed.len() >= groups * wstride + correction_len(g.n));
    let lohi = [i32::from(r.lo), i32::from(r.hi)];
    let relu = r.lo >= 0;
    let mut b = 0;
    while b < blocks {
        let tile = match blocks - b {
            8.. => 8,
            4.. => 4,
            _ => 1,
        };
        let (xp, w, st) = (
            x.as_ptr(),
            packed[b * PACKED_ROW..].as_ptr(),
            start[b * LANES..].as_ptr(),
        );
        let (p, o, lh) = (
            params[b * RQ_BLOCK..].as_ptr(),
            out[b * LANES..].as_mut_ptr(),
            lohi.as_ptr(),
        );
        // SAFETY: `Vnni` proves VNNI is usable. Asserted above: `x` holds `groups · 4` bytes;
        // packed rows `b..b + tile` of every group lie inside `packed`; `start`, `params` and
        // `out` hold blocks `b..b + tile <= blocks`; `lohi` is two i32.
        unsafe {
            match (tile, g.signed, relu) {
                (8, true, false) => f8_s_signed(xp, w, wstride, groups, st, p, o, lh),
                (8, true, true) => f8_s_relu(xp, w, wstride, groups, st, p, o, lh),
                (8, false, false) => f8_u_signed(xp, w, wstride, groups, st, p, o, lh),
                (8, false, true) => f8_u_relu(xp, w, wstride, groups, st, p, o, lh),
                (4, true, false) => f4_s_signed(xp, w, wstride, groups, st, p, o, lh),
                (4, true, true) => f4_s_relu(xp, w, wstride, groups, st, p, o, lh),
                (4, false, false) => f4_u_signed(xp, w, wstride, groups, st, p, o, lh),
                (4, false, true) => f4_u_relu(xp, w, wstride, groups, st, p, o, lh),
                (_, true, false) => f1_s_signed(xp, w, wstride, groups, st, p, o, lh),
                (_, true, true) => f1_s_relu(xp, w, wstride, groups, st, p, o, lh),
                (_, false, false) => f1_u_signed(xp, w, wstride, groups, st, p, o, lh),
                (_, false, true) => f1_u_relu(xp, w, wstride, groups, st, p, o, lh),
            }
        }
        b += tile;
    }
}

// After the macros above, which it uses.
mod backbone;
#[cfg(all(test, feature = "std"))]
mod tests;
pub use backbone::{
    Backbone, BackboneShape, MID_LEN as BACKBONE_MID_LEN, RowWeights, backbone_rows,
};
