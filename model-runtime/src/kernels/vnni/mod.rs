//! AVX-512 VNNI micro-kernels (EVEX-encoded `vpdpbusd` on YMM registers) in inline `asm!`,
//! bit-identical to [`super::scalar`].
//!
//! Same shape as [`super::avx2`]: the same packed weight layout (blocks of 8 output channels ×
//! groups of 4 inputs, `kernels/mod.rs`), the same `asm!` discipline (explicit registers,
//! `clobber_abi("C")`, `vzeroupper`), the row loop inside each block. What changes:
//!
//! - **One instruction per 32 MACs.** `vpdpbusd acc, x, w` multiplies 4 unsigned bytes of `x`
//!   by 4 signed bytes of `w` per i32 lane and adds the four products to `acc` **without
//!   saturation**: i32 wrap-around arithmetic, so the sum is exact whenever the true result
//!   fits in i32, which the reader's ranges guarantee (`quant.rs`). AVX2 needs `vpmaddubsw` +
//!   `vpmaddwd` for the same 32 MACs, both on the same two multiply pipes, so this doubles the
//!   bound: 2 × 32 = 64 int8 MACs per core cycle on Zen 4 (measured here: 2 `vpdpbusd ymm` per
//!   cycle, latency 4).
//! - **Signed inputs by offset, not by sign transfer.** `vpdpbusd`'s first operand is unsigned,
//!   so a signed input `x` in `[-128, 127]` goes in as `x XOR 0x80 = x + 128` in `[0, 255]`,
//!   and `Σ (x + 128)·w = Σ x·w + 128·Σ w`. The second term depends only on the weights: the
//!   packed form carries `-128 · Σ_i w[o][i]` per channel after the weights ([`pack`]), and
//!   the gemm adds it to `init`. The XOR rides on the broadcast (`vpxord` with an embedded
//!   `{1to8}` broadcast), one instruction per 4 inputs per row, shared by all blocks; no
//!   per-call split of the inputs as AVX2 needs.
//! - **YMM, not ZMM** (except the whole-head kernel, `head/`, which explains why): 256-bit
//!   vectors keep AVX2's layout, avoid the frequency licences some Intel parts apply to
//!   512-bit code, and on Zen 4 (which runs ZMM as two halves) lose no pipe throughput.
//!   AVX512VL gives EVEX encodings and 32 vector registers at this width.
//! - **Requantization** uses AVX-512's 64-bit arithmetic shift (`vpsravq`): AVX2's `+2^62`
//!   offset and its correction disappear, `vpermt2d` merges the even and odd halves, and
//!   `vpmovsdb` narrows to bytes. The loop runs blocks outside, rows inside, so each block's
//!   parameters stay in registers for the whole batch instead of being reloaded per row.
//!
//! `vpdpbusd` has two encodings: EVEX (AVX512_VNNI, what [`Vnni`] checks for) and VEX
//! (AVX-VNNI, a separate CPUID bit that e.g. Ice Lake and Zen 4 lack). Every use here is
//! written `{evex} vpdpbusd` so the assembler can never pick the VEX form.
//!
//! - **Two rows per weight load** where a tile is 4 blocks wide (`tile4x2`, the heads'
//!   candidate layer): the one-row tiles issue a weight load per `vpdpbusd`, which bounds them.
//! - **One-row layers fused with their requantization** (`fused.rs`, the backbone): the
//!   accumulators are requantized in registers and written as int8.
//! - **A whole two-layer backbone fused** (`fused/backbone.rs`, the Augur backbone): both
//!   layers and their requantizations in one kernel, layer 0's activations handed to layer 1
//!   through a 64-byte buffer in L1.
//! - **A head's last two layers fused** (`score.rs`): the hidden layer's requantization and a
//!   one-output score layer in one pass, the int8 hidden matrix kept in registers.
//! - **A whole two-layer head fused** (`head/`, the Augur heads, at ZMM width): candidate
//!   layer, requantization and score per tile of 8 rows, the hidden activations never stored.
//!
//! Cost does not depend on values: loop counts come from the model's shapes only.

use super::{GROUP, Gemm, LANES, PACKED_ROW, avx2::Avx2};
use crate::Backend;

/// Proof that AVX-512 F + VL + BW + VNNI (and AVX2) are usable, CPUID and XCR0 checked: the
/// only way to call these kernels.
#[derive(Clone, Copy, Debug)]
pub struct Vnni(Avx2);

impl Vnni {
    /// `Some` when the CPU implements AVX512F, AVX512VL, AVX512BW and AVX512_VNNI and the OS
    /// enabled the opmask and ZMM state as well as YMM (see `backend.rs`).
    pub fn new() -> Option<Vnni> {
        if !Backend::Vnni.is_available() {
            return None;
        }
        Avx2::new().map(Vnni)
    }

    /// VNNI implies AVX2: the proof for the AVX2 kernels.
    pub fn avx2(self) -> Avx2 {
        self.0
    }
}

/// Bytes of the per-channel correction after the weights in [`pack`]'s form: one i32 per
/// channel, whole blocks.
const fn correction_len(n: usize) -> usize {
    n.div_ceil(LANES) * LANES * 4
}

/// Bytes of [`pack`]'s form of an `n × k` weight matrix: [`super::packed_len`] bytes of
/// weights in the shared layout, then `-128 · Σ_i w[o][i]` per channel as i32.
pub const fn packed_len(n: usize, k: usize) -> usize {
    super::packed_len(n, k) + correction_len(n)
}

/// Packs columns `col0..col0 + k` of the row-major `n × w_stride` matrix `w`: the shared layout
/// ([`super::pack`]) followed by the signed-input correction (see the module docs). `out` must
/// hold [`packed_len`]`(n, k)` bytes.
pub fn pack(w: &[i8], w_stride: usize, col0: usize, k: usize, n: usize, out: &mut [u8]) {
    let (weights, corr) = out.split_at_mut(super::packed_len(n, k));
    super::pack(w, w_stride, col0, k, n, weights);
    for (o, c) in corr
        .as_chunks_mut::<4>()
        .0
        .iter_mut()
        .take(n.div_ceil(LANES) * LANES)
        .enumerate()
    {
        let sum: i32 = if o < n {
            w[o * w_stride + col0..][..k]
                .iter()
                .map(|&v| i32::from(v))
                .sum()
        } else {
            0
        };
        *c = (-128 * sum).to_ne_bytes();
    }
}

/// The correction of channel `o` from [`pack`]'s form (`weights` = the length of the weights).
fn correction(packed: &[u8], weights: usize, o: usize) -> i32 {
    let b = &packed[weights + 4 * o..][..4];
    i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// Adds [`pack`]'s signed-input correction to `init` (`n` channels of a `k`-input layer, whole
/// blocks), giving the starting values that [`gemm_requant_row`] takes for signed inputs. Done
/// once when a model is prepared, so the per-call kernel does not rebuild them.
///
/// # Panics
/// If `packed` is shorter than [`packed_len`]`(n, k)` or `init` than whole blocks.
pub fn fold_correction(packed: &[u8], n: usize, k: usize, init: &mut [i32]) {
    let weights = super::packed_len(n, k);
    let channels = n.div_ceil(LANES) * LANES;
    assert!(packed.len() >= weights + correction_len(n) && init.len() >= channels);
    for (o, s) in init.iter_mut().take(channels).enumerate() {
        *s = s.wrapping_add(correction(packed, weights, o));
    }
}

/// One block's step: load the block's 32 weight bytes (`vpdpbusd` with a memory operand
/// measured at half the throughput of the register form on Zen 4) and accumulate the
/// broadcast inputs (ymm12) times them.
macro_rules! step {
    ($acc:literal, $tmp:literal, $off:literal) => {
        concat!(
            "vmovdqu32 ymm",
            $tmp,
            ", ymmword ptr [rdi + ",
            $off,
            "]\n",
            "{{evex}} vpdpbusd ymm",
            $acc,
            ", ymm12, ymm",
            $tmp,
            "\n",
        )
    };
}

/// Broadcast of 4 signed inputs as `x + 128` (ymm15 holds `0x80` in every byte).
macro_rules! signed_bcast {
    () => {
        "vpxord ymm12, ymm15, dword ptr [rsi]{{1to8}}\n"
    };
}

/// Broadcast of 4 inputs in `[0, 127]`.
macro_rules! unsigned_bcast {
    () => {
        "vpbroadcastd ymm12, dword ptr [rsi]\n"
    };
}

/// Defines one gemm tile kernel: `inits` (one per block, into ymm16..) are loaded once, then
/// per row the accumulators start from them and take every group's steps.
macro_rules! gemm_tile {
    ($name:ident, bcast: $bcast:expr, inits: [$($init:literal),*], starts: [$($start:literal),*], steps: [$($step:expr),*], store: [$($store:literal),*]) => {
        /// # Safety
        /// VNNI is usable; `rows, groups >= 1`; for each row `j < rows`, `x + j · xs` is
        /// readable for `4 · groups` bytes and `out + j · os` (bytes) writable for 32 bytes per
        /// block; `w` readable for `groups · wstride` bytes (this tile's blocks at the start of
        /// each `wstride` row); `init` readable for 32 bytes per block.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(x: *const i8, xs: usize, w: *const u8, wstride: usize, groups: usize, init: *const i32, out: *mut i32, os: usize, rows: usize) {
            // SAFETY: the caller guarantees VNNI and the extents above; row `j`'s loop reads
            // `x[j·xs + 4g..][..4]` and `w[g·wstride..][..32·blocks]` for g < groups, and
            // writes exactly the tile's 32-byte blocks of row `j` of `out`. Vector registers
            // are clobbered via `clobber_abi("C")` (which on x86-64 covers ymm16-31 and the
            // opmask registers too); every general register written is declared.
            unsafe {
                core::arch::asm!(
                    "mov eax, 0x80808080",
                    "vpbroadcastd ymm15, eax",
                    $($init,)*
                    "3:",
                    $($start,)*
                    "mov rsi, r8",
                    "mov rdi, {w}",
                    "mov rcx, {groups}",
                    "2:",
                    $bcast,
                    $($step,)*
                    "add rsi, 4",
                    "add rdi, {ws}",
                    "dec rcx",
                    "jnz 2b",
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
                    out("rax") _,
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

macro_rules! tile8 {
    ($name:ident, $bcast:expr) => {
        gemm_tile!($name, bcast: $bcast,
            inits: ["vmovdqu32 ymm16, [{init}]", "vmovdqu32 ymm17, [{init} + 32]", "vmovdqu32 ymm18, [{init} + 64]", "vmovdqu32 ymm19, [{init} + 96]",
                    "vmovdqu32 ymm20, [{init} + 128]", "vmovdqu32 ymm21, [{init} + 160]", "vmovdqu32 ymm22, [{init} + 192]", "vmovdqu32 ymm23, [{init} + 224]"],
            starts: ["vmovdqa64 ymm0, ymm16", "vmovdqa64 ymm1, ymm17", "vmovdqa64 ymm2, ymm18", "vmovdqa64 ymm3, ymm19",
                     "vmovdqa64 ymm4, ymm20", "vmovdqa64 ymm5, ymm21", "vmovdqa64 ymm6, ymm22", "vmovdqa64 ymm7, ymm23"],
            steps: [step!(0, 8, 0), step!(1, 9, 32), step!(2, 10, 64), step!(3, 11, 96),
                    step!(4, 13, 128), step!(5, 14, 160), step!(6, 24, 192), step!(7, 25, 224)],
            store: ["vmovdqu [r10], ymm0", "vmovdqu [r10 + 32], ymm1", "vmovdqu [r10 + 64], ymm2", "vmovdqu [r10 + 96], ymm3",
                    "vmovdqu [r10 + 128], ymm4", "vmovdqu [r10 + 160], ymm5", "vmovdqu [r10 + 192], ymm6", "vmovdqu [r10 + 224], ymm7"]);
    };
}

/// One block's step of way `$way` of a split tile: weights at `[$base + $off]`, inputs
/// broadcast in `ymm$x`.
macro_rules! split_step {
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

/// Defines a gemm tile for narrow tiles (1 or 4 blocks), whose few accumulators would make
/// `vpdpbusd`'s 4-cycle latency the bound: the groups are dealt round-robin to `ways`
/// independent accumulator sets (the first starting at `init`, the others at 0), the
/// `groups % ways` left over go to the first set one at a time, and the sets are summed at
/// the end. `bcasts` are the per-way broadcast macros' code, in ymm12, ymm13, ymm14, ymm28.
/// Each iteration sets `rax = rdi + 2·ws`; `advance` moves `rdi` on by `ways · ws`.
macro_rules! split_tile {
    ($name:ident, ways: $ways:literal, advance: $adv:literal, bcasts: [$($bc:expr),*], tail_bcast: $tbc:expr, inits: [$($init:literal),*], starts: [$($start:literal),*], steps: [$($step:expr),*], tail: [$($tail:expr),*], sum: [$($sum:literal),*], store: [$($store:literal),*]) => {
        /// # Safety
        /// As for the 8-block tiles: VNNI is usable; `rows, groups >= 1`; for each row `j`,
        /// `x + j · xs` readable for `4 · groups` bytes and `out + j · os` (bytes) writable for
        /// 32 bytes per block; `w` readable for `groups · wstride` bytes; `init` for 32 bytes
        /// per block.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(x: *const i8, xs: usize, w: *const u8, wstride: usize, groups: usize, init: *const i32, out: *mut i32, os: usize, rows: usize) {
            // SAFETY: the caller guarantees VNNI and the extents above. Per row, the main loop
            // reads groups `g..g + ways` (inputs `[rsi..rsi + 4·ways]`, weight rows
            // `g·wstride..(g + ways)·wstride`) while `g + ways <= groups`, the tail loop the
            // remaining groups one at a time; stores cover the tile's blocks of row `j`.
            // Vector and opmask registers are clobbered via `clobber_abi("C")`; every general
            // register written is declared.
            unsafe {
                core::arch::asm!(
                    "mov ecx, 0x80808080",
                    "vpbroadcastd ymm15, ecx",
                    $($init,)*
                    "3:",
                    $($start,)*
                    "mov rsi, r8",
                    "mov rdi, {w}",
                    "mov rcx, {groups}",
                    "shr rcx, {way_shift}",
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
                    inout("rax") init => _,
                    out("rsi") _,
                    out("rdi") _,
                    out("rcx") _,
                    w = in(reg) w,
                    groups = in(reg) groups,
                    ws = in(reg) wstride,
                    way_shift = const ($ways as u32).trailing_zeros(),
                    way_bytes = const 4 * $ways,
                    way_mask = const $ways - 1,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

/// Broadcast of the 4 inputs at `[rsi + $off]` into `ymm$r`, signed (`+ 128`) or not.
macro_rules! bcast_at {
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

/// 4 blocks, 2 ways: sets ymm0-3 and ymm4-7 (8 independent chains), ways at `rdi` and
/// `rdi + ws` (`split_tile!` computes `rax = rdi + 2·ws`, unused here).
macro_rules! tile4 {
    ($name:ident, $kind:ident) => {
        split_tile!($name, ways: 2, advance: "mov rdi, rax",
            bcasts: [bcast_at!($kind, "12", "0"), bcast_at!($kind, "13", "4")],
            tail_bcast: bcast_at!($kind, "12", "0"),
            inits: ["vmovdqu32 ymm16, [rax]", "vmovdqu32 ymm17, [rax + 32]", "vmovdqu32 ymm18, [rax + 64]", "vmovdqu32 ymm19, [rax + 96]"],
            starts: ["vmovdqa64 ymm0, ymm16", "vmovdqa64 ymm1, ymm17", "vmovdqa64 ymm2, ymm18", "vmovdqa64 ymm3, ymm19",
                     "vpxor xmm4, xmm4, xmm4", "vpxor xmm5, xmm5, xmm5", "vpxor xmm6, xmm6, xmm6", "vpxor xmm7, xmm7, xmm7"],
            steps: [split_step!(0, 12, 8, "rdi", 0), split_step!(1, 12, 9, "rdi", 32), split_step!(2, 12, 10, "rdi", 64), split_step!(3, 12, 11, "rdi", 96),
                    split_step!(4, 13, 24, "rdi + {ws}", 0), split_step!(5, 13, 25, "rdi + {ws}", 32), split_step!(6, 13, 26, "rdi + {ws}", 64), split_step!(7, 13, 27, "rdi + {ws}", 96)],
            tail: [split_step!(0, 12, 8, "rdi", 0), split_step!(1, 12, 9, "rdi", 32), split_step!(2, 12, 10, "rdi", 64), split_step!(3, 12, 11, "rdi", 96)],
            sum: ["vpaddd ymm0, ymm0, ymm4", "vpaddd ymm1, ymm1, ymm5", "vpaddd ymm2, ymm2, ymm6", "vpaddd ymm3, ymm3, ymm7"],
            store: ["vmovdqu [r10], ymm0", "vmovdqu [r10 + 32], ymm1", "vmovdqu [r10 + 64], ymm2", "vmovdqu [r10 + 96], ymm3"]);
    };
}

/// 4 blocks × 2 rows: each group's four weight vectors (ymm8-11), loaded once, meet the
/// broadcast inputs of two rows (ymm12, ymm13), halving the weight loads that bound the
/// one-row tiles; the two rows' eight accumulators (ymm0-3, ymm4-7) are eight independent
/// chains, enough to cover `vpdpbusd`'s latency without splitting the groups.
macro_rules! tile4x2 {
    ($name:ident, $kind:ident) => {
        /// # Safety
        /// As for the 8-block tiles, with `rows` even: VNNI is usable; `rows >= 2` and even,
        /// `groups >= 1`; for each row `j < rows`, `x + j · xs` readable for `4 · groups`
        /// bytes and `out + j · os` (bytes) writable for 128 bytes; `w` readable for
        /// `groups · wstride` bytes; `init` for 128 bytes.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(x: *const i8, xs: usize, w: *const u8, wstride: usize, groups: usize, init: *const i32, out: *mut i32, os: usize, rows: usize) {
            // SAFETY: the caller guarantees VNNI and the extents above. Each pass reads rows
            // `j, j + 1` (`[r8..r8 + 4·groups]`, `[r8 + xs..]`), weight rows
            // `g·wstride..g·wstride + 128` for every group `g`, and writes 128 bytes of
            // accumulator rows `j` and `j + 1`. Vector and opmask registers are clobbered via
            // `clobber_abi("C")`; every general register written is declared.
            unsafe {
                core::arch::asm!(
                    "mov ecx, 0x80808080",
                    "vpbroadcastd ymm15, ecx",
                    "vmovdqu32 ymm16, [rax]",
                    "vmovdqu32 ymm17, [rax + 32]",
                    "vmovdqu32 ymm18, [rax + 64]",
                    "vmovdqu32 ymm19, [rax + 96]",
                    "3:",
                    "vmovdqa64 ymm0, ymm16",
                    "vmovdqa64 ymm1, ymm17",
                    "vmovdqa64 ymm2, ymm18",
                    "vmovdqa64 ymm3, ymm19",
                    "vmovdqa64 ymm4, ymm16",
                    "vmovdqa64 ymm5, ymm17",
                    "vmovdqa64 ymm6, ymm18",
                    "vmovdqa64 ymm7, ymm19",
                    "mov rsi, r8",
                    "mov rdi, {w}",
                    "mov rcx, {groups}",
                    "2:",
                    bcast_at!($kind, "12", "0"),
                    bcast_at!($kind, "13", "r9"),
                    "vmovdqu32 ymm8, ymmword ptr [rdi]",
                    "vmovdqu32 ymm9, ymmword ptr [rdi + 32]",
                    "vmovdqu32 ymm10, ymmword ptr [rdi + 64]",
                    "vmovdqu32 ymm11, ymmword ptr [rdi + 96]",
                    "{{evex}} vpdpbusd ymm0, ymm12, ymm8",
                    "{{evex}} vpdpbusd ymm1, ymm12, ymm9",
                    "{{evex}} vpdpbusd ymm2, ymm12, ymm10",
                    "{{evex}} vpdpbusd ymm3, ymm12, ymm11",
                    "{{evex}} vpdpbusd ymm4, ymm13, ymm8",
                    "{{evex}} vpdpbusd ymm5, ymm13, ymm9",
                    "{{evex}} vpdpbusd ymm6, ymm13, ymm10",
                    "{{evex}} vpdpbusd ymm7, ymm13, ymm11",
                    "add rsi, 4",
                    "add rdi, {ws}",
                    "dec rcx",
                    "jnz 2b",
                    "vmovdqu [r10], ymm0",
                    "vmovdqu [r10 + 32], ymm1",
                    "vmovdqu [r10 + 64], ymm2",
                    "vmovdqu [r10 + 96], ymm3",
                    "vmovdqu [r10 + rdx], ymm4",
                    "vmovdqu [r10 + rdx + 32], ymm5",
                    "vmovdqu [r10 + rdx + 64], ymm6",
                    "vmovdqu [r10 + rdx + 96], ymm7",
                    "lea r8, [r8 + r9*2]",
                    "lea r10, [r10 + rdx*2]",
                    "sub r11, 2",
                    "jnz 3b",
                    "vzeroupper",
                    inout("r8") x => _,
                    inout("r9") xs => _,
                    inout("r10") out => _,
                    inout("rdx") os => _,
                    inout("r11") rows => _,
                    inout("rax") init => _,
                    out("rsi") _,
                    out("rdi") _,
                    out("rcx") _,
                    w = in(reg) w,
                    groups = in(reg) groups,
                    ws = in(reg) wstride,
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

/// 1 block, 4 ways: accumulators ymm0-3, ways at `rdi`, `rdi + ws`, `rax`, `rax + ws`.
macro_rules! tile1 {
    ($name:ident, $kind:ident) => {
        split_tile!($name, ways: 4, advance: "lea rdi, [rax + {ws}*2]",
            bcasts: [bcast_at!($kind, "12", "0"), bcast_at!($kind, "13", "4"), bcast_at!($kind, "14", "8"), bcast_at!($kind, "28", "12")],
            tail_bcast: bcast_at!($kind, "12", "0"),
            inits: ["vmovdqu32 ymm16, [rax]"],
            starts: ["vmovdqa64 ymm0, ymm16", "vpxor xmm1, xmm1, xmm1", "vpxor xmm2, xmm2, xmm2", "vpxor xmm3, xmm3, xmm3"],
            steps: [split_step!(0, 12, 8, "rdi", 0), split_step!(1, 13, 9, "rdi + {ws}", 0), split_step!(2, 14, 10, "rax", 0), split_step!(3, 28, 11, "rax + {ws}", 0)],
            tail: [split_step!(0, 12, 8, "rdi", 0)],
            sum: ["vpaddd ymm0, ymm0, ymm1", "vpaddd ymm2, ymm2, ymm3", "vpaddd ymm0, ymm0, ymm2"],
            store: ["vmovdqu [r10], ymm0"]);
    };
}

tile8!(tile8_signed, signed_bcast!());
tile8!(tile8_unsigned, unsigned_bcast!());
tile4!(tile4_signed, signed);
tile4!(tile4_unsigned, unsigned);
tile4x2!(tile4x2_signed, signed);
tile4x2!(tile4x2_unsigned, unsigned);
tile1!(tile1_signed, signed);
tile1!(tile1_unsigned, unsigned);

/// Output blocks of the widest tile.
const MAX_TILE_BLOCKS: usize = 8;

/// VNNI [`super::scalar::gemm`] over [`pack`]'s form of the `g.n × g.k` weights.
///
/// # Panics
/// If a slice is shorter than the geometry needs (a bug in the caller, never input-dependent).
pub fn gemm(_: Vnni, g: &Gemm, x: &[i8], packed: &[u8], init: &[i32], acc: &mut [i32]) {
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
    let weights = groups * blocks * PACKED_ROW;
    assert!(packed.len() >= weights + correction_len(g.n));
    let wstride = blocks * PACKED_ROW;
    let os = g.acc_stride * 4;
    let mut b = 0;
    while b < blocks {
        let tile = match blocks - b {
            8.. => 8,
            4.. => 4,
            _ => 1,
        };
        // The tile's starting values: `init`, plus for signed inputs the offset correction.
        let mut start = [0i32; MAX_TILE_BLOCKS * LANES];
        for (c, (s, &i)) in start
            .iter_mut()
            .zip(&init[b * LANES..][..tile * LANES])
            .enumerate()
        {
            let corr = if g.signed {
                correction(packed, weights, b * LANES + c)
            } else {
                0
            };
            *s = i.wrapping_add(corr);
        }
        let w = packed[b * PACKED_ROW..].as_ptr();
        let out = acc[b * LANES..].as_mut_ptr();
        let (xp, xs, r, st) = (x.as_ptr(), g.x_stride, g.rows, start.as_ptr());
        // SAFETY: `Vnni` proves VNNI is usable. Asserted above: every row has `groups · 4`
        // bytes inside `x`; packed rows `b..b + tile` of every group lie inside `packed`
        // (`(groups - 1) · wstride + (b + tile) · 32 <= groups · wstride`); `start` holds
        // `tile · 8` values and each accumulator row `(b + tile) · 8 <= blocks · 8`. The 4-block
        // pair tile covers rows `0..r & !1`; `xl`, `ol` address row `r & !1`, in bounds
        // whenever it exists (`odd`); otherwise computed with wrapping arithmetic and never used.
        unsafe {
            match (tile, g.signed) {
                (8, true) => tile8_signed(xp, xs, w, wstride, groups, st, out, os, r),
                (8, false) => tile8_unsigned(xp, xs, w, wstride, groups, st, out, os, r),
                (4, signed) => {
                    // Pairs of rows share each weight load; an odd last row runs alone.
                    let (pairs, odd) = (r & !1, r & 1);
                    let (xl, ol) = (
                        xp.wrapping_add(pairs * xs),
                        out.wrapping_byte_add(pairs * os),
                    );
                    match (signed, pairs > 0, odd > 0) {
                        (true, true, _) => {
                            tile4x2_signed(xp, xs, w, wstride, groups, st, out, os, pairs)
                        }
                        (false, true, _) => {
                            tile4x2_unsigned(xp, xs, w, wstride, groups, st, out, os, pairs)
                        }
                        _ => {}
                    }
                    match (signed, odd > 0) {
                        (true, true) => tile4_signed(xl, xs, w, wstride, groups, st, ol, os, 1),
                        (false, true) => tile4_unsigned(xl, xs, w, wstride, groups, st, ol, os, 1),
                        _ => {}
                    }
                }
                (_, true) => tile1_signed(xp, xs, w, wstride, groups, st, out, os, r),
                (_, false) => tile1_unsigned(xp, xs, w, wstride, groups, st, out, os, r),
            }
        }
        b += tile;
    }
}

mod fused;
mod gemv;
mod head;
mod requant;
mod score;

pub use fused::{
    BACKBONE_MID_LEN, Backbone, BackboneShape, RowWeights, backbone_rows, gemm_requant_row,
};
pub use gemv::{gemv, gemv_pack, gemv_packed_len};
pub use head::{HeadShape, TILE_ROWS as HEAD_TILE_ROWS, head_prepare, head_scores};
pub use requant::requant;
pub use score::{requant_score, score_weights, score_weights_len};
