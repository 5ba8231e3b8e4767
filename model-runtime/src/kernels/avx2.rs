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
        concat!(
            "vpsrlq ymm1, ymm0, 32\n",
            "vpmuldq ymm0, ymm0, [", $p, " + ", rq_off!(m), "]\n",
            "vpmuldq ymm1, ymm1, [", $p, " + ", rq_off!(m_odd), "]\n",
            "vpaddq ymm0, ymm0, [", $p, " + ", rq_off!(kr_e), "]\n",
            "vpaddq ymm1, ymm1, [", $p, " + ", rq_off!(kr_o), "]\n",
            requant_block!(@tail, $p),
        )
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
            "vpminsd ymm0, ymm0, ymm13\n",
        )
    };
}

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
                    "2:",
                    "mov rax, rsi",
                    "mov r11, rdx",
                    "mov rdi, {params}",
                    "mov rcx, {blocks}",
                    "3:",
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
                    "jnz 3b",
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
        if lo >= 0 {
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

/// One input row's step of [`gemv`]: `ymm$acc += pairs(x_row · w)` with the weight chunk in
/// ymm8, inputs known to be in `[0, 127]`.
macro_rules! gemv_row_unsigned {
    ($acc:literal, $addr:literal) => {
        concat!(
            "vmovdqu ymm9, [",
            $addr,
            "]\n",
            "vpmaddubsw ymm9, ymm9, ymm8\n",
            "vpmaddwd ymm9, ymm9, ymm15\n",
            "vpaddd ymm",
            $acc,
            ", ymm",
            $acc,
            ", ymm9\n",
        )
    };
}

/// [`gemv_row_unsigned`] for signed inputs (sign transfer, as in the gemm tiles).
macro_rules! gemv_row_signed {
    ($acc:literal, $addr:literal) => {
        concat!(
            "vmovdqu ymm9, [",
            $addr,
            "]\n",
            "vpsignb ymm10, ymm8, ymm9\n",
            "vpabsb ymm9, ymm9\n",
            "vpmaddubsw ymm9, ymm9, ymm10\n",
            "vpmaddwd ymm9, ymm9, ymm15\n",
            "vpaddd ymm",
            $acc,
            ", ymm",
            $acc,
            ", ymm9\n",
        )
    };
}

/// Defines one [`gemv`] kernel: 8 input rows against one output channel's weights, 32 inputs
/// per step, then a transposing reduction (`vphaddd` tree) to one i32 per row.
macro_rules! gemv_tile {
    ($name:ident, $row:ident) => {
        /// # Safety
        /// AVX2 is usable; `chunks >= 1`; `32 · chunks` bytes are readable at
        /// `x + r · stride` for `r < 8` and at `w`; `init` readable for 4 bytes and `out`
        /// writable for 32.
        unsafe fn $name(
            x: *const i8,
            stride: usize,
            w: *const u8,
            chunks: usize,
            init: *const i32,
            out: *mut i32,
        ) {
            // SAFETY: the caller guarantees AVX2 and the extents above: step `c` reads bytes
            // `32c..32c + 32` of the 8 rows and of `w`. Vector registers are clobbered via
            // `clobber_abi("C")`; the general registers written are declared.
            unsafe {
                core::arch::asm!(
                    ones_i16!(),
                    "vpxor xmm0, xmm0, xmm0",
                    "vpxor xmm1, xmm1, xmm1",
                    "vpxor xmm2, xmm2, xmm2",
                    "vpxor xmm3, xmm3, xmm3",
                    "vpxor xmm4, xmm4, xmm4",
                    "vpxor xmm5, xmm5, xmm5",
                    "vpxor xmm6, xmm6, xmm6",
                    "vpxor xmm7, xmm7, xmm7",
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
                    // Rows 0-3 in ymm0, rows 4-7 in ymm4, each lane half summed apart...
                    "vphaddd ymm0, ymm0, ymm1",
                    "vphaddd ymm2, ymm2, ymm3",
                    "vphaddd ymm4, ymm4, ymm5",
                    "vphaddd ymm6, ymm6, ymm7",
                    "vphaddd ymm0, ymm0, ymm2",
                    "vphaddd ymm4, ymm4, ymm6",
                    // ...then the two 128-bit halves added: rows 0-7 in order.
                    "vperm2i128 ymm1, ymm0, ymm4, 0x20",
                    "vperm2i128 ymm2, ymm0, ymm4, 0x31",
                    "vpaddd ymm0, ymm1, ymm2",
                    "vpbroadcastd ymm1, dword ptr [{init}]",
                    "vpaddd ymm0, ymm0, ymm1",
                    "vmovdqu [{out}], ymm0",
                    "vzeroupper",
                    inout("rsi") x => _,
                    inout("r8") x.wrapping_add(4 * stride) => _,
                    inout("r9") stride => _,
                    inout("r10") 3 * stride => _,
                    inout("rdi") w => _,
                    inout("rcx") chunks => _,
                    init = in(reg) init,
                    out = in(reg) out,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

gemv_tile!(gemv8_unsigned, gemv_row_unsigned);
gemv_tile!(gemv8_signed, gemv_row_signed);

/// Rows per [`gemv`] tile (i32 lanes of the result register).
pub const GEMV_ROWS: usize = 8;
/// Inputs per [`gemv`] step (bytes of one YMM register).
pub const GEMV_CHUNK: usize = 32;

/// Bytes of the [`gemv`] form of an `n × k` weight matrix: each row zero-padded to whole
/// 32-byte chunks.
pub const fn gemv_packed_len(n: usize, k: usize) -> usize {
    n * k.div_ceil(GEMV_CHUNK) * GEMV_CHUNK
}

/// Packs columns `col0..col0 + k` of the row-major `n × w_stride` matrix `w` for [`gemv`].
pub fn gemv_pack(w: &[i8], w_stride: usize, col0: usize, k: usize, n: usize, out: &mut [u8]) {
    let kpad = k.div_ceil(GEMV_CHUNK) * GEMV_CHUNK;
    for (o, dst) in out.chunks_exact_mut(kpad).take(n).enumerate() {
        for (d, &v) in dst.iter_mut().zip(&w[o * w_stride + col0..][..k]) {
            *d = v as u8;
        }
        dst[k..].fill(0);
    }
}

/// [`super::scalar::gemm`] for layers with fewer outputs than a YMM register has lanes (a
/// head's score layer): the batch's rows, not the channels, fill the lanes, 8 rows per
/// register, so no lane is wasted on padding channels. `packed` is [`gemv_pack`]'s form.
///
/// Reads whole 32-byte chunks of `round_up(rows, 8)` rows: `x` must hold
/// `(round_up(rows, 8) - 1) · x_stride + round_up(k, 32)` bytes. Bytes past a row's `k`
/// inputs meet zero weights, so their values do not matter.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn gemv(_: Avx2, g: &Gemm, x: &[i8], packed: &[u8], init: &[i32], acc: &mut [i32]) {
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
    assert!(packed.len() >= g.n * kpad);
    let mut tmp = [0i32; GEMV_ROWS];
    for o in 0..g.n {
        let w = packed[o * kpad..].as_ptr();
        for t in 0..tiles {
            let xr = x[t * GEMV_ROWS * g.x_stride..].as_ptr();
            // SAFETY: `Avx2` proves AVX2 is usable. Asserted above: rows `8t..8t + 8` have
            // `kpad` bytes each inside `x`, output `o`'s `kpad` weights lie in `packed`,
            // `init[o]` exists and `tmp` holds 8 i32.
            unsafe {
                if g.signed {
                    gemv8_signed(xr, g.x_stride, w, chunks, &init[o], tmp.as_mut_ptr());
                } else {
                    gemv8_unsigned(xr, g.x_stride, w, chunks, &init[o], tmp.as_mut_ptr());
                }
            }
            let valid = GEMV_ROWS.min(g.rows - t * GEMV_ROWS);
            for (r, &v) in tmp.iter().take(valid).enumerate() {
                acc[(t * GEMV_ROWS + r) * g.acc_stride + o] = v;
            }
        }
    }
}
