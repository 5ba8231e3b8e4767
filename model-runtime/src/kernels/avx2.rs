//! AVX2 micro-kernels in inline `asm!`, bit-identical to [`super::scalar`].
//!
//! Why `asm!`: the kernel target `x86_64-unknown-none` is soft-float and rejects
//! `#[target_feature(enable = "avx2")]`, so intrinsics are out (DESIGN.md §3). Each block names
//! its YMM registers in the template and declares `clobber_abi("C")`, which on x86-64 SysV marks
//! every vector register clobbered: the same declaration is correct in the soft-float kernel
//! (where compiled code never holds values in them) and on the host (where it does), so the
//! host unit tests exercise exactly the kernel's code. Each block ends in `vzeroupper` so the
//! host's SSE code after it pays no AVX-SSE transition penalty.
//!
//! # The `vpmaddubsw` saturation, and how Augur avoids it
//! `vpmaddubsw` multiplies unsigned bytes by signed bytes and adds adjacent pairs into a
//! *saturating* i16: `255 · 127 · 2` or `128 · -128 · 2` do not fit, and a saturated sum would
//! differ from the scalar reference. Augur keeps every pair sum inside i16 instead:
//! - **weights are symmetric int8 in `[-127, 127]`** (the reader refuses -128);
//! - **non-negative inputs** (the output of a layer whose clamp starts at 0, e.g. ReLU) are in
//!   `[0, 127]` and go straight in as the unsigned operand: `|pair| ≤ 2 · 127 · 127 = 32258`;
//! - **signed inputs** (the input window, candidate features, signed embeddings) use the sign
//!   transfer trick: `vpmaddubsw(|x|, sign(w, x))`, where `vpabsb` gives `|x|` in `[0, 128]` as
//!   an unsigned byte and `vpsignb` moves x's sign onto w, which stays in `[-127, 127]` because
//!   w ≠ -128: `|pair| ≤ 2 · 128 · 127 = 32512 < 32767`.
//!
//! So no sum ever saturates, and `vpmaddwd` against ones widens the pairs to exact i32 sums of
//! four products. The i16 `vpmaddwd` path (sign-extend both operands) was the alternative: it
//! is exact for any int8 but does half the multiplies per instruction.
//!
//! Cost does not depend on values: loop counts come from the model's shapes only.

use super::{GROUP, Gemm, LANES, PACKED_ROW, RQ_BLOCK, Requant};
use crate::Backend;

/// Proof that AVX2 is usable (CPUID and XCR0 checked): the only way to call these kernels.
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

impl Avx2 {
    /// `Some` when the CPU implements AVX2 and the OS enabled YMM state.
    pub fn new() -> Option<Avx2> {
        Backend::Avx2.is_available().then_some(Avx2(()))
    }
}

/// One output block's step for signed inputs: load packed weights, move x's sign onto them,
/// multiply by |x| (ymm13), widen pairs (ymm15 = ones), accumulate. ymm12 holds x.
macro_rules! signed_step {
    ($acc:literal, $tmp:literal, $off:literal) => {
        concat!(
            "vmovdqu ymm",
            $tmp,
            ", ymmword ptr [rdi + ",
            $off,
            "]\n",
            "vpsignb ymm",
            $tmp,
            ", ymm",
            $tmp,
            ", ymm12\n",
            "vpmaddubsw ymm",
            $tmp,
            ", ymm13, ymm",
            $tmp,
            "\n",
            "vpmaddwd ymm",
            $tmp,
            ", ymm",
            $tmp,
            ", ymm15\n",
            "vpaddd ymm",
            $acc,
            ", ymm",
            $acc,
            ", ymm",
            $tmp,
            "\n",
        )
    };
}

/// One output block's step for inputs known to be in `[0, 127]` (ymm12 holds x).
macro_rules! unsigned_step {
    ($acc:literal, $tmp:literal, $off:literal) => {
        concat!(
            "vpmaddubsw ymm",
            $tmp,
            ", ymm12, ymmword ptr [rdi + ",
            $off,
            "]\n",
            "vpmaddwd ymm",
            $tmp,
            ", ymm",
            $tmp,
            ", ymm15\n",
            "vpaddd ymm",
            $acc,
            ", ymm",
            $acc,
            ", ymm",
            $tmp,
            "\n",
        )
    };
}

/// Prologue shared by all gemm tiles: ones in ymm15 (i16 lanes) for `vpmaddwd`.
macro_rules! ones_i16 {
    () => {
        "vpcmpeqw ymm15, ymm15, ymm15\nvpsrlw ymm15, ymm15, 15\n"
    };
}

/// Defines one gemm tile kernel: `$blocks` output blocks (8 channels each) of one input row
/// over all `groups` input groups.
macro_rules! gemm_tile {
    ($name:ident, load: [$($load:literal),*], bcast: $bcast:expr, steps: [$($step:expr),*], store: [$($store:literal),*]) => {
        /// # Safety
        /// AVX2 is usable; `x` is readable for `4 · groups` bytes; `w` for `groups · wstride`
        /// bytes (this tile's blocks at the start of each `wstride` row); `init` readable and
        /// `out` writable for 32 bytes per block; `groups >= 1`.
        #[inline(always)]
        unsafe fn $name(x: *const i8, w: *const u8, wstride: usize, groups: usize, init: *const i32, out: *mut i32) {
            // SAFETY: the caller guarantees AVX2 and the extents above; the loop reads
            // `x[4g..4g+4]` and `w[g·wstride..][..32·blocks]` for g < groups, and writes
            // exactly the tile's 32-byte blocks of `out`. Vector registers are clobbered via
            // `clobber_abi("C")`; rsi (x), rdi (w) and rcx (groups) are declared modified.
            unsafe {
                core::arch::asm!(
                    $($load,)*
                    ones_i16!(),
                    "2:",
                    $bcast,
                    $($step,)*
                    "add rsi, 4",
                    "add rdi, {ws}",
                    "dec rcx",
                    "jnz 2b",
                    $($store,)*
                    "vzeroupper",
                    inout("rsi") x => _,
                    inout("rdi") w => _,
                    inout("rcx") groups => _,
                    ws = in(reg) wstride,
                    init = in(reg) init,
                    out = in(reg) out,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

/// Broadcast four signed inputs (ymm12) and their magnitudes (ymm13).
macro_rules! signed_bcast {
    () => {
        "vpbroadcastd ymm12, dword ptr [rsi]\nvpabsb ymm13, ymm12\n"
    };
}

/// Broadcast four inputs known to be in `[0, 127]` (ymm12).
macro_rules! unsigned_bcast {
    () => {
        "vpbroadcastd ymm12, dword ptr [rsi]\n"
    };
}

gemm_tile!(tile4_signed,
    load: ["vmovdqu ymm0, [{init}]", "vmovdqu ymm1, [{init} + 32]", "vmovdqu ymm2, [{init} + 64]", "vmovdqu ymm3, [{init} + 96]"],
    bcast: signed_bcast!(),
    steps: [signed_step!(0, 4, 0), signed_step!(1, 5, 32), signed_step!(2, 6, 64), signed_step!(3, 7, 96)],
    store: ["vmovdqu [{out}], ymm0", "vmovdqu [{out} + 32], ymm1", "vmovdqu [{out} + 64], ymm2", "vmovdqu [{out} + 96], ymm3"]);

gemm_tile!(tile4_unsigned,
    load: ["vmovdqu ymm0, [{init}]", "vmovdqu ymm1, [{init} + 32]", "vmovdqu ymm2, [{init} + 64]", "vmovdqu ymm3, [{init} + 96]"],
    bcast: unsigned_bcast!(),
    steps: [unsigned_step!(0, 4, 0), unsigned_step!(1, 5, 32), unsigned_step!(2, 6, 64), unsigned_step!(3, 7, 96)],
    store: ["vmovdqu [{out}], ymm0", "vmovdqu [{out} + 32], ymm1", "vmovdqu [{out} + 64], ymm2", "vmovdqu [{out} + 96], ymm3"]);

gemm_tile!(tile1_signed,
    load: ["vmovdqu ymm0, [{init}]"],
    bcast: signed_bcast!(),
    steps: [signed_step!(0, 4, 0)],
    store: ["vmovdqu [{out}], ymm0"]);

gemm_tile!(tile1_unsigned,
    load: ["vmovdqu ymm0, [{init}]"],
    bcast: unsigned_bcast!(),
    steps: [unsigned_step!(0, 4, 0)],
    store: ["vmovdqu [{out}], ymm0"]);

/// Output blocks per wide tile.
const TILE: usize = 4;

/// AVX2 [`super::scalar::gemm`] over packed weights (`kernels/mod.rs` layout for `g.n × g.k`).
///
/// # Panics
/// If a slice is shorter than the geometry needs (a bug in the caller, never input-dependent).
pub fn gemm(_: Avx2, g: &Gemm, x: &[i8], packed: &[u8], init: &[i32], acc: &mut [i32]) {
    let blocks = g.n.div_ceil(LANES);
    let groups = g.k.div_ceil(GROUP);
    if g.rows == 0 || blocks == 0 {
        return;
    }
    assert!(init.len() >= blocks * LANES);
    assert!(acc.len() >= (g.rows - 1) * g.acc_stride + blocks * LANES);
    if groups == 0 {
        for j in 0..g.rows {
            acc[j * g.acc_stride..][..blocks * LANES].copy_from_slice(&init[..blocks * LANES]);
        }
        return;
    }
    assert!(x.len() >= (g.rows - 1) * g.x_stride + groups * GROUP);
    assert!(packed.len() >= groups * blocks * PACKED_ROW);
    let wstride = blocks * PACKED_ROW;
    for j in 0..g.rows {
        let xr = x[j * g.x_stride..].as_ptr();
        let ar = &mut acc[j * g.acc_stride..][..blocks * LANES];
        let mut b = 0;
        while b < blocks {
            let wide = blocks - b >= TILE;
            let w = packed[b * PACKED_ROW..].as_ptr();
            let init = init[b * LANES..].as_ptr();
            let out = ar[b * LANES..].as_mut_ptr();
            // SAFETY: `Avx2` proves AVX2 is usable. Asserted above: the row has
            // `groups · 4` bytes from `xr`; packed rows `b..b + tile` of every group lie inside
            // `packed` (`(groups - 1) · wstride + (b + tile) · 32 <= groups · wstride`); `init`
            // and `out` have `(b + tile) · 8 <= blocks · 8` values.
            unsafe {
                match (wide, g.signed) {
                    (true, true) => tile4_signed(xr, w, wstride, groups, init, out),
                    (true, false) => tile4_unsigned(xr, w, wstride, groups, init, out),
                    (false, true) => tile1_signed(xr, w, wstride, groups, init, out),
                    (false, false) => tile1_unsigned(xr, w, wstride, groups, init, out),
                }
            }
            b += if wide { TILE } else { 1 };
        }
    }
}

/// AVX2 [`super::scalar::requant`]: gemmlowp's doubling high multiply on 64-bit lanes
/// (`vpmuldq` on even and odd i32 lanes), rounding divide with per-lane `vpsravd`, clamp, and a
/// saturating pack to 8 bytes per block (exact: values are already clamped into int8).
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn requant(_: Avx2, r: &Requant, acc: &[i32], params: &[i32], out: &mut [i8]) {
    let blocks = r.n.div_ceil(LANES);
    if r.rows == 0 || blocks == 0 {
        return;
    }
    assert!(acc.len() >= (r.rows - 1) * r.acc_stride + blocks * LANES);
    assert!(out.len() >= (r.rows - 1) * r.out_stride + blocks * LANES);
    assert!(params.len() >= blocks * RQ_BLOCK);
    let (lo, hi) = (i32::from(r.lo), i32::from(r.hi));
    for j in 0..r.rows {
        let a = acc[j * r.acc_stride..].as_ptr();
        let o = out[j * r.out_stride..].as_mut_ptr();
        // SAFETY: `Avx2` proves AVX2 is usable. Asserted above: `blocks` blocks of 8 i32 from
        // `a`, 8 bytes each to `o`, and `blocks · RQ_BLOCK` parameters are in bounds.
        // Registers: ymm14 = 2^30 per i64 lane, ymm12/13 = lo/hi.
        unsafe {
            core::arch::asm!(
                "mov eax, 0x40000000",
                "vmovq xmm14, rax",
                "vpbroadcastq ymm14, xmm14",
                "vmovd xmm12, {lo:e}",
                "vpbroadcastd ymm12, xmm12",
                "vmovd xmm13, {hi:e}",
                "vpbroadcastd ymm13, xmm13",
                "2:",
                // y = srdhm(acc, m): floor((acc·m + 2^30) / 2^31) per lane. The low dword of
                // a *logical* 64-bit shift by 31 equals the arithmetic one's.
                "vmovdqu ymm0, [rsi]",
                "vmovdqu ymm1, [rdi]",
                "vpsrlq ymm2, ymm0, 32",
                "vpsrlq ymm3, ymm1, 32",
                "vpmuldq ymm4, ymm0, ymm1",
                "vpmuldq ymm5, ymm2, ymm3",
                "vpaddq ymm4, ymm4, ymm14",
                "vpaddq ymm5, ymm5, ymm14",
                "vpsrlq ymm4, ymm4, 31",
                "vpsllq ymm5, ymm5, 1",
                "vpblendd ymm4, ymm4, ymm5, 0xAA",
                // rdbpot(y, s) = (y >> s) + ((y & mask) > (mask >> 1) + (y < 0)).
                "vpsravd ymm6, ymm4, [rdi + 32]",
                "vpand ymm7, ymm4, [rdi + 64]",
                "vpsrld ymm8, ymm4, 31",
                "vpaddd ymm8, ymm8, [rdi + 96]",
                "vpcmpgtd ymm7, ymm7, ymm8",
                "vpsubd ymm6, ymm6, ymm7",
                "vpmaxsd ymm6, ymm6, ymm12",
                "vpminsd ymm6, ymm6, ymm13",
                "vextracti128 xmm7, ymm6, 1",
                "vpackssdw xmm6, xmm6, xmm7",
                "vpacksswb xmm6, xmm6, xmm6",
                "vmovq qword ptr [rdx], xmm6",
                "add rsi, 32",
                "add rdi, 128",
                "add rdx, 8",
                "dec rcx",
                "jnz 2b",
                "vzeroupper",
                inout("rsi") a => _,
                inout("rdi") params.as_ptr() => _,
                inout("rdx") o => _,
                inout("rcx") blocks => _,
                out("rax") _,
                lo = in(reg) lo,
                hi = in(reg) hi,
                clobber_abi("C"),
                options(nostack),
            );
        }
    }
}
