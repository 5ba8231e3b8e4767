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
//! - **signed inputs** (the input window, candidate features, signed embeddings) use
//!   `x·w = |x|·(w XOR m) + |x|·[x < 0]` with `m = -1` where `x < 0` (else 0): `vpabsb` gives
//!   `|x|` in `[0, 128]` as an unsigned byte, and `w XOR m` is `w` or `-w - 1`, in
//!   `[-128, 127]`, so `|pair| <= 2 · 128 · 128 = 32768` with the only sum of that size
//!   `-32768`, which i16 holds: no pair saturates. The correction `Σ |x|·[x < 0]` does not
//!   depend on the output channel: `sign_split` computes it per row (with `vpsadbw`), along
//!   with `|x|` and the mask, once per call, and the gemm adds it to every accumulator at the
//!   end. Why not `vpsignb` moving x's sign onto w per weight register: measured on Zen 4,
//!   `vpsignb`, `vpabsb`, `vpcmpgtb`, `vpsadbw`, `vpmaddubsw` and `vpmaddwd` all issue on the
//!   same two pipes, so that cost three multiply-pipe instructions per 32 MACs where this
//!   costs two, the bound of the unsigned path; the per-row split keeps the sign work off the
//!   inner loop too.
//!
//! So no sum ever saturates, and `vpmaddwd` against ones widens the pairs to exact i32 sums of
//! four products. The i16 `vpmaddwd` path (sign-extend both operands) was the alternative: it
//! is exact for any int8 and needs no correction, but doubles the weight bytes: measured here,
//! the 256 -> 64 backbone layer's 32 KiB of i16 weights then streamed from L2 and ran slower
//! (277 ns against 240 ns for the `vpsignb` form).
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

/// One output block's step for signed inputs: `x·w = |x|·(w XOR m) + |x|·[x < 0]` with
/// `m = (x < 0 ? -1 : 0)` per byte (ymm12) and `|x|` in ymm13; the second term does not depend
/// on the channel and is summed once per group (`signed_bcast!`). The XOR and the final add
/// run on any vector pipe, unlike `vpsignb`, which competes with the two multiplies for the
/// two multiply pipes (Zen 4, measured): two multiply-pipe instructions per 32 MACs instead
/// of three. ymm15 = ones (i16).
macro_rules! signed_step {
    ($acc:literal, $tmp:literal, $off:literal) => {
        concat!(
            "vpxor ymm",
            $tmp,
            ", ymm12, ymmword ptr [rdi + ",
            $off,
            "]\n",
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

/// Defines one gemm tile kernel: the tile's output blocks (8 channels each) of `rows` input
/// rows over all `groups` input groups, the row loop inside the `asm!` block so the per-call
/// set-up is paid once per layer, not once per row.
macro_rules! gemm_tile {
    ($name:ident, xstep: $xstep:literal, pre: $pre:expr, load: [$($load:literal),*], bcast: $bcast:expr, steps: [$($step:expr),*], fix: [$($fix:expr),*], store: [$($store:literal),*]) => {
        /// # Safety
        /// AVX2 is usable; `rows, groups >= 1`; for each row `j < rows`, `x + j · xs` is
        /// readable for `xstep · groups` bytes (plus the 4-byte correction after them for
        /// the signed tiles, whose rows are `sign_split`'s) and `out + j · os` (bytes)
        /// writable for 32 bytes per
        /// block; `w` readable for `groups · wstride` bytes (this tile's blocks at the start of
        /// each `wstride` row); `init` readable for 32 bytes per block.
        #[allow(clippy::too_many_arguments)]
        #[inline(always)]
        unsafe fn $name(x: *const i8, xs: usize, w: *const u8, wstride: usize, groups: usize, init: *const i32, out: *mut i32, os: usize, rows: usize) {
            // SAFETY: the caller guarantees AVX2 and the extents above; row `j`'s loop reads
            // `x[j·xs + 4g..][..4]` and `w[g·wstride..][..32·blocks]` for g < groups, and
            // writes exactly the tile's 32-byte blocks of row `j` of `out`. Vector registers
            // are clobbered via `clobber_abi("C")`; every general register written is declared.
            unsafe {
                core::arch::asm!(
                    ones_i16!(),
                    "3:",
                    $pre,
                    $($load,)*
                    "mov rsi, r8",
                    "mov rdi, {w}",
                    "mov rcx, {groups}",
                    "2:",
                    $bcast,
                    $($step,)*
                    concat!("add rsi, ", $xstep),
                    "add rdi, {ws}",
                    "dec rcx",
                    "jnz 2b",
                    $($fix,)*
                    $($store,)*
                    "add r8, r9",
                    "add r10, rdx",
                    "dec r11",
                    "jnz 3b",
                    "vzeroupper",
                    inout("r8") x => _,
                    inout("r9") xs => _,
                    inout("r10") out => _,
                    inout("rdx") os => _,
                    inout("r11") rows => _,
                    out("rsi") _,
                    out("rdi") _,
                    out("rcx") _,
                    w = in(reg) w,
                    groups = in(reg) groups,
                    ws = in(reg) wstride,
                    init = in(reg) init,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

/// Signed tiles' prologue: nothing (the inputs were split by `sign_split`).
macro_rules! signed_pre {
    () => {
        ""
    };
}

/// Broadcast one group of a `sign_split` row: `|x|` (ymm13, in `[0, 128]`) and the sign
/// mask `m` (ymm12).
macro_rules! signed_bcast {
    () => {
        "vpbroadcastd ymm13, dword ptr [rsi]\nvpbroadcastd ymm12, dword ptr [rsi + 4]\n"
    };
}

/// After the loop `rsi` points at the row's `Σ |x|·[x < 0]`: broadcast it (ymm9) and add it
/// to accumulator `$acc`.
macro_rules! signed_fix {
    () => {
        "vpbroadcastd ymm9, dword ptr [rsi]\n"
    };
    ($acc:literal) => {
        concat!("vpaddd ymm", $acc, ", ymm", $acc, ", ymm9\n")
    };
}

/// Broadcast four inputs known to be in `[0, 127]` (ymm12).
macro_rules! unsigned_bcast {
    () => {
        "vpbroadcastd ymm12, dword ptr [rsi]\n"
    };
}

gemm_tile!(tile8_signed, xstep: "8",
    pre: signed_pre!(),
    load: ["vmovdqu ymm0, [{init}]", "vmovdqu ymm1, [{init} + 32]", "vmovdqu ymm2, [{init} + 64]", "vmovdqu ymm3, [{init} + 96]",
           "vmovdqu ymm4, [{init} + 128]", "vmovdqu ymm5, [{init} + 160]", "vmovdqu ymm6, [{init} + 192]", "vmovdqu ymm7, [{init} + 224]"],
    bcast: signed_bcast!(),
    steps: [signed_step!(0, 8, 0), signed_step!(1, 10, 32), signed_step!(2, 14, 64), signed_step!(3, 8, 96),
            signed_step!(4, 10, 128), signed_step!(5, 14, 160), signed_step!(6, 8, 192), signed_step!(7, 10, 224)],
    fix: [signed_fix!(), signed_fix!(0), signed_fix!(1), signed_fix!(2), signed_fix!(3),
          signed_fix!(4), signed_fix!(5), signed_fix!(6), signed_fix!(7)],
    store: ["vmovdqu [r10], ymm0", "vmovdqu [r10 + 32], ymm1", "vmovdqu [r10 + 64], ymm2", "vmovdqu [r10 + 96], ymm3",
            "vmovdqu [r10 + 128], ymm4", "vmovdqu [r10 + 160], ymm5", "vmovdqu [r10 + 192], ymm6", "vmovdqu [r10 + 224], ymm7"]);

gemm_tile!(tile8_unsigned, xstep: "4",
    pre: "",
    load: ["vmovdqu ymm0, [{init}]", "vmovdqu ymm1, [{init} + 32]", "vmovdqu ymm2, [{init} + 64]", "vmovdqu ymm3, [{init} + 96]",
           "vmovdqu ymm4, [{init} + 128]", "vmovdqu ymm5, [{init} + 160]", "vmovdqu ymm6, [{init} + 192]", "vmovdqu ymm7, [{init} + 224]"],
    bcast: unsigned_bcast!(),
    steps: [unsigned_step!(0, 8, 0), unsigned_step!(1, 9, 32), unsigned_step!(2, 10, 64), unsigned_step!(3, 11, 96),
            unsigned_step!(4, 13, 128), unsigned_step!(5, 14, 160), unsigned_step!(6, 8, 192), unsigned_step!(7, 9, 224)],
    fix: [],
    store: ["vmovdqu [r10], ymm0", "vmovdqu [r10 + 32], ymm1", "vmovdqu [r10 + 64], ymm2", "vmovdqu [r10 + 96], ymm3",
            "vmovdqu [r10 + 128], ymm4", "vmovdqu [r10 + 160], ymm5", "vmovdqu [r10 + 192], ymm6", "vmovdqu [r10 + 224], ymm7"]);

gemm_tile!(tile4_signed, xstep: "8",
    pre: signed_pre!(),
    load: ["vmovdqu ymm0, [{init}]", "vmovdqu ymm1, [{init} + 32]", "vmovdqu ymm2, [{init} + 64]", "vmovdqu ymm3, [{init} + 96]"],
    bcast: signed_bcast!(),
    steps: [signed_step!(0, 4, 0), signed_step!(1, 5, 32), signed_step!(2, 6, 64), signed_step!(3, 7, 96)],
    fix: [signed_fix!(), signed_fix!(0), signed_fix!(1), signed_fix!(2), signed_fix!(3)],
    store: ["vmovdqu [r10], ymm0", "vmovdqu [r10 + 32], ymm1", "vmovdqu [r10 + 64], ymm2", "vmovdqu [r10 + 96], ymm3"]);

gemm_tile!(tile4_unsigned, xstep: "4",
    pre: "",
    load: ["vmovdqu ymm0, [{init}]", "vmovdqu ymm1, [{init} + 32]", "vmovdqu ymm2, [{init} + 64]", "vmovdqu ymm3, [{init} + 96]"],
    bcast: unsigned_bcast!(),
    steps: [unsigned_step!(0, 4, 0), unsigned_step!(1, 5, 32), unsigned_step!(2, 6, 64), unsigned_step!(3, 7, 96)],
    fix: [],
    store: ["vmovdqu [r10], ymm0", "vmovdqu [r10 + 32], ymm1", "vmovdqu [r10 + 64], ymm2", "vmovdqu [r10 + 96], ymm3"]);

gemm_tile!(tile1_signed, xstep: "8",
    pre: signed_pre!(),
    load: ["vmovdqu ymm0, [{init}]"],
    bcast: signed_bcast!(),
    steps: [signed_step!(0, 4, 0)],
    fix: [signed_fix!(), signed_fix!(0)],
    store: ["vmovdqu [r10], ymm0"]);

gemm_tile!(tile1_unsigned, xstep: "4",
    pre: "",
    load: ["vmovdqu ymm0, [{init}]"],
    bcast: unsigned_bcast!(),
    steps: [unsigned_step!(0, 4, 0)],
    fix: [],
    store: ["vmovdqu [r10], ymm0"]);

/// Bytes of one `sign_split` row for `k` inputs: per group of 4, `|x|` then the sign mask
/// (4 bytes each), then `Σ |x|·[x < 0]` as an i32 and 4 bytes of padding.
pub const fn split_row_len(k: usize) -> usize {
    k.div_ceil(GROUP) * 2 * GROUP + 8
}

/// Splits each signed input row once per call into what the signed gemm steps broadcast:
/// `|x|`, the sign mask, and the row's channel-independent correction `Σ |x|·[x < 0]`
/// (see the module docs). `vpabsb`, `vpcmpgtb` and `vpsadbw` issue on the multiply pipes
/// (Zen 4, measured): done here on 16 inputs at a time instead of once per 4-input broadcast
/// in the gemm loop, they stop competing with the multiplies. Reads exactly the `4 · groups`
/// bytes of each row that the gemm would (16 at a time, then 4).
fn sign_split(_: Avx2, g: &Gemm, x: &[i8], out: &mut [u8]) {
    let groups = g.k.div_ceil(GROUP);
    assert!(g.rows >= 1 && groups >= 1);
    assert!(x.len() >= (g.rows - 1) * g.x_stride + groups * GROUP);
    assert!(out.len() >= g.rows * split_row_len(g.k));
    // SAFETY: `Avx2` proves AVX2 is usable. Asserted above: row `j` reads
    // `x[j·x_stride..][..4·groups]` and writes `out[j·row_len..][..row_len]` (the rows are
    // written back to back, 8 bytes per group plus 8 for the correction). Vector registers
    // are clobbered via `clobber_abi("C")`; every general register written is declared.
    unsafe {
        core::arch::asm!(
            "vpxor xmm11, xmm11, xmm11",
            "2:",
            "vpxor xmm9, xmm9, xmm9",
            "mov rsi, r8",
            "mov rcx, r11",
            "test rcx, rcx",
            "jz 4f",
            "3:",
            "vmovdqu xmm0, [rsi]",
            "vpabsb xmm1, xmm0",
            "vpcmpgtb xmm2, xmm11, xmm0",
            "vpand xmm3, xmm1, xmm2",
            "vpsadbw xmm3, xmm3, xmm11",
            "vpaddq xmm9, xmm9, xmm3",
            "vpunpckldq xmm4, xmm1, xmm2",
            "vpunpckhdq xmm5, xmm1, xmm2",
            "vmovdqu [rdi], xmm4",
            "vmovdqu [rdi + 16], xmm5",
            "add rsi, 16",
            "add rdi, 32",
            "dec rcx",
            "jnz 3b",
            "4:",
            "mov rcx, rax",
            "test rcx, rcx",
            "jz 6f",
            "5:",
            "vmovd xmm0, [rsi]",
            "vpabsb xmm1, xmm0",
            "vpcmpgtb xmm2, xmm11, xmm0",
            "vpand xmm3, xmm1, xmm2",
            "vpsadbw xmm3, xmm3, xmm11",
            "vpaddq xmm9, xmm9, xmm3",
            "vpunpckldq xmm4, xmm1, xmm2",
            "vmovq [rdi], xmm4",
            "add rsi, 4",
            "add rdi, 8",
            "dec rcx",
            "jnz 5b",
            "6:",
            "vpshufd xmm3, xmm9, 0x4E",
            "vpaddq xmm9, xmm9, xmm3",
            "vmovq [rdi], xmm9",
            "add rdi, 8",
            "add r8, r9",
            "dec r10",
            "jnz 2b",
            "vzeroupper",
            inout("r8") x.as_ptr() => _,
            inout("r9") g.x_stride => _,
            inout("r10") g.rows => _,
            inout("r11") groups / 4 => _,
            inout("rax") groups % 4 => _,
            inout("rdi") out.as_mut_ptr() => _,
            out("rsi") _,
            out("rcx") _,
            clobber_abi("C"),
            options(nostack),
        );
    }
}

/// AVX2 [`super::scalar::gemm`] over packed weights (`kernels/mod.rs` layout for `g.n × g.k`).
/// For signed inputs, `split` is scratch for `sign_split`: `g.rows · split_row_len(g.k)`
/// bytes (unused for unsigned inputs).
///
/// # Panics
/// If a slice is shorter than the geometry needs (a bug in the caller, never input-dependent).
pub fn gemm(
    t: Avx2,
    g: &Gemm,
    x: &[i8],
    packed: &[u8],
    init: &[i32],
    acc: &mut [i32],
    split: &mut [u8],
) {
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
    let os = g.acc_stride * 4;
    let (xr, xs) = if g.signed {
        let xs = split_row_len(g.k);
        sign_split(t, g, x, &mut split[..g.rows * xs]);
        (split.as_ptr().cast::<i8>(), xs)
    } else {
        (x.as_ptr(), g.x_stride)
    };
    let mut b = 0;
    while b < blocks {
        let left = blocks - b;
        let w = packed[b * PACKED_ROW..].as_ptr();
        let init = init[b * LANES..].as_ptr();
        let out = acc[b * LANES..].as_mut_ptr();
        let r = g.rows;
        // SAFETY: `Avx2` proves AVX2 is usable. Asserted above: every row has `groups · 4`
        // bytes inside `x`; packed rows `b..b + tile` of every group lie inside `packed`
        // (`(groups - 1) · wstride + (b + tile) · 32 <= groups · wstride`); `init` and each
        // accumulator row have `(b + tile) · 8 <= blocks · 8` values.
        unsafe {
            b += match (left, g.signed) {
                (8.., true) => {
                    tile8_signed(xr, xs, w, wstride, groups, init, out, os, r);
                    8
                }
                (8.., false) => {
                    tile8_unsigned(xr, xs, w, wstride, groups, init, out, os, r);
                    8
                }
                (4.., true) => {
                    tile4_signed(xr, xs, w, wstride, groups, init, out, os, r);
                    4
                }
                (4.., false) => {
                    tile4_unsigned(xr, xs, w, wstride, groups, init, out, os, r);
                    4
                }
                (_, true) => {
                    tile1_signed(xr, xs, w, wstride, groups, init, out, os, r);
                    1
                }
                (_, false) => {
                    tile1_unsigned(xr, xs, w, wstride, groups, init, out, os, r);
                    1
                }
            };
        }
    }
}

/// Offsets of the requant parameter vectors of one block (`fill_requant_params`), in bytes.
macro_rules! rq_off {
    (m) => {
        "0"
    };
    (m_odd) => {
        "64"
    };
    (kc_e) => {
        "96"
    };
    (kc_o) => {
        "128"
    };
    (kr_e) => {
        "160"
    };
    (kr_o) => {
        "192"
    };
    (sh_e) => {
        "224"
    };
    (sh_o) => {
        "256"
    };
    (d_e) => {
        "288"
    };
    (d_o) => {
        "320"
    };
    (off) => {
        "352"
    };
}

/// Requantizes the 8 accumulators in ymm0 in place (result i32 in `[lo, hi]` in ymm0), with the
/// block's parameters at `[$p]`, lo/hi broadcast in ymm12/ymm13; clobbers ymm1-3.
///
/// gemmlowp's two roundings, `rdbpot(srdhm(a, m), s)`, are one rounding of the 64-bit product:
/// `srdhm` is `floor((a·m + 2^30) / 2^31)` and `rdbpot(y, s)` is
/// `floor((y + H - D·[y < 0]) / 2^s)`, and nested floors of divisions by positive integers
/// compose, so the result is `floor((a·m + 2^30 + (H - D·[y < 0])·2^31) / 2^(31+s))`. AVX2 has
/// no 64-bit arithmetic shift, so the numerator carries `+2^62` (which keeps it in `(0, 2^63)`)
/// and the logical shift's result is `z + 2^(31-s)`, fixed by one `vpsubd`.
/// - `relu` (`lo >= 0`): every `y < 0` clamps to `lo` either way, so the `[y < 0]` term is
///   dropped: multiply, add `KR`, shift (3 instructions per half).
/// - `signed`: `[y < 0]` is read from bit 62 of `a·m + KC` (set iff
///   `a·m + 2^30 + (H - D)·2^31 >= 0`; where that differs from `y >= 0` the quotient is 0 either
///   way), moved to bit 31 and masked with `D·2^31`.
macro_rules! requant_block {
    (relu, $p:literal) => {
        concat!(requant_block!(@relu, $p), requant_block!(@tail, $p), requant_block!(@min))
    };
    // ReLU to `[lo, 127]`: the signed saturating packs that follow clamp to 127 already.
    (relu127, $p:literal) => {
        concat!(requant_block!(@relu, $p), requant_block!(@tail, $p))
    };
    (@relu, $p:literal) => {
        concat!(
            "vpsrlq ymm1, ymm0, 32\n",
            "vpmuldq ymm0, ymm0, [", $p, " + ", rq_off!(m), "]\n",
            "vpmuldq ymm1, ymm1, [", $p, " + ", rq_off!(m_odd), "]\n",
            "vpaddq ymm0, ymm0, [", $p, " + ", rq_off!(kr_e), "]\n",
            "vpaddq ymm1, ymm1, [", $p, " + ", rq_off!(kr_o), "]\n",
        )
    };
    (@min) => {
        "vpminsd ymm0, ymm0, ymm13\n"
    };
    (signed, $p:literal) => {
        concat!(
            "vpsrlq ymm1, ymm0, 32\n",
            "vpmuldq ymm0, ymm0, [", $p, " + ", rq_off!(m), "]\n",
            "vpmuldq ymm1, ymm1, [", $p, " + ", rq_off!(m_odd), "]\n",
            "vpaddq ymm0, ymm0, [", $p, " + ", rq_off!(kc_e), "]\n",
            "vpaddq ymm1, ymm1, [", $p, " + ", rq_off!(kc_o), "]\n",
            "vpsrlq ymm2, ymm0, 31\n",
            "vpsrlq ymm3, ymm1, 31\n",
            "vpand ymm2, ymm2, [", $p, " + ", rq_off!(d_e), "]\n",
            "vpand ymm3, ymm3, [", $p, " + ", rq_off!(d_o), "]\n",
            "vpaddq ymm0, ymm0, ymm2\n",
            "vpaddq ymm1, ymm1, ymm3\n",
            requant_block!(@tail, $p),
            requant_block!(@min),
        )
    };
    (@tail, $p:literal) => {
        concat!(
            "vpsrlvq ymm0, ymm0, [", $p, " + ", rq_off!(sh_e), "]\n",
            "vpsrlvq ymm1, ymm1, [", $p, " + ", rq_off!(sh_o), "]\n",
            "vpsllq ymm1, ymm1, 32\n",
            "vpblendd ymm0, ymm0, ymm1, 0xAA\n",
            "vpsubd ymm0, ymm0, [", $p, " + ", rq_off!(off), "]\n",
            "vpmaxsd ymm0, ymm0, ymm12\n",
        )
    };
}

/// `vpermd` indices that put four blocks packed by `vpackssdw`/`vpacksswb` (which work within
/// 128-bit lanes) back in channel order: dwords `b0.lo, b1.lo, b2.lo, b3.lo | b0.hi, ...`.
static PACK4_ORDER: [i32; 8] = [0, 4, 1, 5, 2, 6, 3, 7];

// The quad loop of `requant_loop!` addresses parameter blocks at literal 384-byte steps.
const _: () = assert!(RQ_BLOCK * 4 == 384);

/// Defines a whole-batch requant loop (rows × blocks) for one `requant_block!` variant.
macro_rules! requant_loop {
    ($name:ident, $variant:ident) => {
        /// # Safety
        /// AVX2 is usable; `rows, blocks >= 1`; for every row `j < rows`, 8 · `blocks` i32 at
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
            // SAFETY: the caller guarantees AVX2 and the extents above: the inner loop reads
            // `blocks` 32-byte accumulator blocks and parameter blocks and writes `blocks`
            // 8-byte outputs per row; the outer loop steps rows by the given strides. Vector
            // registers are clobbered via `clobber_abi("C")`; every general register written
            // is declared.
            unsafe {
                core::arch::asm!(
                    "vmovd xmm12, r8d",
                    "vpbroadcastd ymm12, xmm12",
                    "vmovd xmm13, r9d",
                    "vpbroadcastd ymm13, xmm13",
                    "vmovdqu ymm11, [rip + {perm}]",
                    "2:",
                    "mov rax, rsi",
                    "mov r11, rdx",
                    "mov rdi, {params}",
                    // Four blocks at a time: one pack to 32 bytes and one store.
                    "mov rcx, {blocks}",
                    "shr rcx, 2",
                    "jz 4f",
                    "3:",
                    "vmovdqu ymm0, [rax + 0]",
                    requant_block!($variant, "rdi"),
                    "vmovdqa ymm4, ymm0",
                    "vmovdqu ymm0, [rax + 32]",
                    requant_block!($variant, "rdi + 384"),
                    "vmovdqa ymm5, ymm0",
                    "vmovdqu ymm0, [rax + 64]",
                    requant_block!($variant, "rdi + 768"),
                    "vmovdqa ymm6, ymm0",
                    "vmovdqu ymm0, [rax + 96]",
                    requant_block!($variant, "rdi + 1152"),
                    "vmovdqa ymm7, ymm0",
                    "vpackssdw ymm4, ymm4, ymm5",
                    "vpackssdw ymm6, ymm6, ymm7",
                    "vpacksswb ymm4, ymm4, ymm6",
                    "vpermd ymm4, ymm11, ymm4",
                    "vmovdqu [r11], ymm4",
                    "add rax, 128",
                    "add rdi, {rq4_bytes}",
                    "add r11, 32",
                    "dec rcx",
                    "jnz 3b",
                    "4:",
                    "mov rcx, {blocks}",
                    "and rcx, 3",
                    "jz 6f",
                    "5:",
                    "vmovdqu ymm0, [rax]",
                    requant_block!($variant, "rdi"),
                    "vextracti128 xmm1, ymm0, 1",
                    "vpackssdw xmm0, xmm0, xmm1",
                    "vpacksswb xmm0, xmm0, xmm0",
                    "vmovq qword ptr [r11], xmm0",
                    "add rax, 32",
                    "add rdi, {rq_bytes}",
                    "add r11, 8",
                    "dec rcx",
                    "jnz 5b",
                    "6:",
                    "add rsi, {acc_stride}",
                    "add rdx, {out_stride}",
                    "dec r10",
                    "jnz 2b",
                    "vzeroupper",
                    inout("rsi") acc => _,
                    inout("rdx") out => _,
                    inout("r10") rows => _,
                    params = in(reg) params,
                    blocks = in(reg) blocks,
                    acc_stride = in(reg) acc_stride,
                    out_stride = in(reg) out_stride,
                    inout("r8") lo => _,
                    inout("r9") hi => _,
                    rq_bytes = const RQ_BLOCK * 4,
                    rq4_bytes = const 4 * RQ_BLOCK * 4,
                    perm = sym PACK4_ORDER,
                    out("rax") _,
                    out("rdi") _,
                    out("rcx") _,
                    out("r11") _,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

requant_loop!(requant_relu, relu);
requant_loop!(requant_signed, signed);
requant_loop!(requant_relu127, relu127);

/// AVX2 [`super::scalar::requant`] in one loop over the batch: the single-rounding form of
/// gemmlowp's arithmetic (`requant_block!`), per-lane `vpsrlvq`, clamp, and a saturating pack
/// to 8 bytes per block (exact: values are already clamped into int8). Which variant runs
/// depends on the clamp (the layer's shape), never on values.
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
    let args = (
        acc.as_ptr(),
        r.acc_stride * 4,
        params.as_ptr(),
        out.as_mut_ptr(),
        r.out_stride,
        r.rows,
        blocks,
    );
    // SAFETY: `Avx2` proves AVX2 is usable. Asserted above: every row's `blocks` blocks of
    // 8 i32 and 8 bytes, and `blocks · RQ_BLOCK` parameters, are in bounds.
    unsafe {
        if lo >= 0 && hi == i32::from(i8::MAX) {
            requant_relu127(
                args.0, args.1, args.2, args.3, args.4, args.5, args.6, lo, hi,
            );
        } else if lo >= 0 {
            requant_relu(
                args.0, args.1, args.2, args.3, args.4, args.5, args.6, lo, hi,
            );
        } else {
            requant_signed(
                args.0, args.1, args.2, args.3, args.4, args.5, args.6, lo, hi,
            );
        }
    }
}

mod gemv;

pub use gemv::{GEMV_CHUNK, GEMV_ROWS, gemv, gemv_pack, gemv_packed_len};
