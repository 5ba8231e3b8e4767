//! The whole-head kernels in inline `asm!`, at ZMM width (the parent module says why), and
//! [`head_scores`], the safe call that runs them over
//! [`head_prepare`](super::head_prepare)'s form.
//!
//! Once per call, [`head_base`] computes the base, `start + W[:, ..e] · embedding` (the
//! starting values hold the bias and the signed-input corrections), into the caller's scratch.
//! Then per quad of 4 rows (two per tile) and chunk of 32 hidden channels (two ZMM registers of i32
//! per row):
//! - **accumulate**: the accumulators start from the base and take `vpdpbusd` over the
//!   candidate's groups of 4 features (as `x + 128`): per group, two weight loads
//!   serve four rows (8 independent chains, enough for `vpdpbusd`'s latency);
//! - **requantize**: per 16 channels, `requant`'s single-rounding arithmetic, `P = a·m + K` on
//!   64-bit lanes, for signed outputs the `[y < 0]` term subtracted under an opmask
//!   (`vpcmpgtq` finds `a·m < 0`), `P >> (31 + s)` with `vpsravq`, `vpermt2d` merging even and
//!   odd channels; each half chunk's six parameter vectors are loaded once for the four rows;
//! - **narrow and clamp**: `vpackssdw` of a row's two halves and `vpacksswb` of two rows give
//!   two rows' 32 channels as bytes in one register, with saturation, which is exactly the
//!   clamp to `[-128, 127]` (the results fit in i32); then `vpmaxsb`/`vpminsb` clamp to
//!   `[lo, hi]`;
//! - **score**: one `vpdpbusd` per two rows of those bytes (offset by `+128` for signed
//!   outputs, the excess `128 · Σ w` taken out of the score's starting value) against the
//!   score weights, stored in the byte order the packs produce (they work inside 128-bit
//!   lanes; a dot product does not care about order as long as both sides agree).
//!
//! After the chunks, folding the 128-bit lanes, two `vphaddd` and one add leave the tile's 8
//! scores. ReLU-style clamps to `[lo, 127]` skip the `hi` clamp (`relu127`), which the
//! saturating packs already did.
//! Every step is exact integer arithmetic equal to `scalar::gemm`, `scalar::requant`,
//! `scalar::gemm` in turn (wrap-around sums are associative; the reader's ranges rule out
//! overflow of the true sums). Needs AVX512BW for the byte and word operations at ZMM width
//! (checked by [`Vnni`]).
//!
//! Cost does not depend on values: loop counts come from the shapes only.

use core::mem::offset_of;

use super::super::Vnni;
use super::layout::{HeadShape, SCORE_W, TILE_ROWS, WEIGHTS};
use crate::kernels::GROUP;

/// `vpermt2d` indices gathering the low dwords of the even-channel qwords (first table) and
/// the odd-channel qwords (second table) of 16 channels back into channel order.
static MERGE_EVEN_ODD_ZMM: [i32; 16] = [0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30];

/// What the kernels read through `r15`.
#[repr(C)]
struct Args {
    /// First record.
    rec: *const u8,
    /// The per-call base, one i32 per padded channel: written by [`head_base`], read by the
    /// kernels.
    base: *mut i32,
    /// The starting values.
    start: *const i32,
    /// The embedding, `4 · emb_groups` bytes.
    emb: *const i8,
    emb_groups: usize,
    emb_at: usize,
    /// XORed into the embedding's bytes: `0x80808080` where it is signed, else 0.
    emb_xor: u32,
    chunks: usize,
    rec_len: usize,
    groups: usize,
    /// The score's starting value, in each of a tile's lanes.
    init: [i32; TILE_ROWS],
    /// The hidden clamp, in every byte.
    lo: [i8; 64],
    hi: [i8; 64],
}

/// Requantizes half-chunk accumulator `zmm$a` (16 channels) into 16 i32 in channel order in
/// `zmm$e` (`zmm$a` is clobbered), with the half's parameters in zmm24-29: `m` (its even
/// lanes the even channels' multipliers), the odd channels' `m` in even lanes, `K` even/odd,
/// `31 + s` even/odd.
macro_rules! rq_row {
    ($v:ident, $off:literal, $e:literal, $a:literal) => {
        concat!(
            "vpmuldq zmm",
            $e,
            ", zmm",
            $a,
            ", zmm24\n",
            "vpsrlq zmm",
            $a,
            ", zmm",
            $a,
            ", 32\n",
            "vpmuldq zmm",
            $a,
            ", zmm",
            $a,
            ", zmm25\n",
            sign_test!($v, $e, $a),
            "vpaddq zmm",
            $e,
            ", zmm",
            $e,
            ", zmm26\n",
            "vpaddq zmm",
            $a,
            ", zmm",
            $a,
            ", zmm27\n",
            sign_fix!($v, $off, $e, $a),
            "vpsravq zmm",
            $e,
            ", zmm",
            $e,
            ", zmm28\n",
            "vpsravq zmm",
            $a,
            ", zmm",
            $a,
            ", zmm29\n",
            "vpermt2d zmm",
            $e,
            ", zmm31, zmm",
            $a,
            "\n",
        )
    };
}

/// Signed outputs: gemmlowp's `[y < 0]` term, `P -= D·2^31` where the product `a·m` is
/// negative (zmm12 = 0). `[a·m < 0]` may stand for `[y < 0]`: with `m >= 0` they differ only
/// where `y = 0`, and there `floor((H - D) / 2^s) = floor(H / 2^s) = 0`. ReLU-style clamps
/// need nothing: every negative result clamps to `lo` whatever its rounding.
macro_rules! sign_test {
    (signed, $e:literal, $a:literal) => {
        concat!(
            "vpcmpgtq k1, zmm12, zmm",
            $e,
            "\n",
            "vpcmpgtq k2, zmm12, zmm",
            $a,
            "\n",
        )
    };
    ($other:ident, $e:literal, $a:literal) => {
        ""
    };
}
macro_rules! sign_fix {
    (signed, $off:literal, $e:literal, $a:literal) => {
        concat!(
            "vpsubq zmm",
            $e,
            " {{k1}}, zmm",
            $e,
            ", zmmword ptr [r10 + ",
            $off,
            " + 384]\n",
            "vpsubq zmm",
            $a,
            " {{k2}}, zmm",
            $a,
            ", zmmword ptr [r10 + ",
            $off,
            " + 448]\n",
        )
    };
    ($other:ident, $off:literal, $e:literal, $a:literal) => {
        ""
    };
}

/// One half chunk (16 channels, parameters at `[r10 + $off]`) of the quad's four rows: the
/// parameters loaded once into zmm24-29 for all four.
macro_rules! rq_half {
    ($v:ident, $off:literal, [$($e:literal, $a:literal),*]) => {
        concat!(
            "vmovdqu64 zmm24, zmmword ptr [r10 + ", $off, "]\n",
            "vmovdqu64 zmm25, zmmword ptr [r10 + ", $off, " + 64]\n",
            "vmovdqu64 zmm26, zmmword ptr [r10 + ", $off, " + 128]\n",
            "vmovdqu64 zmm27, zmmword ptr [r10 + ", $off, " + 192]\n",
            "vmovdqu64 zmm28, zmmword ptr [r10 + ", $off, " + 256]\n",
            "vmovdqu64 zmm29, zmmword ptr [r10 + ", $off, " + 320]\n",
            $(rq_row!($v, $off, $e, $a),)*
        )
    };
}

/// Clamp of the narrowed rows (zmm0, zmm4) to `[lo, hi]` (zmm10/11); `relu127` drops the
/// `hi` side, which `vpacksswb`'s saturation already did. Signed outputs then go into the
/// score's `vpdpbusd` as `h + 128` (zmm30 = `0x80` bytes).
macro_rules! clamp {
    (signed) => {
        concat!(clamp!(relu127), clamp!(@hi), "vpxord zmm0, zmm0, zmm30\nvpxord zmm4, zmm4, zmm30\n")
    };
    (relu) => {
        concat!(clamp!(relu127), clamp!(@hi))
    };
    (relu127) => {
        "vpmaxsb zmm0, zmm0, zmm10\nvpmaxsb zmm4, zmm4, zmm10\n"
    };
    (@hi) => {
        "vpminsb zmm0, zmm0, zmm11\nvpminsb zmm4, zmm4, zmm11\n"
    };
}

/// One group of 4 features (at `[rsi + $x]`, weights at `[rdi + $w]`) for a quad's four
/// rows: inputs broadcast as `x + 128` (zmm26-29), two weight loads (zmm24/25) for 8 chains.
macro_rules! group {
    ($x:literal, $w:literal) => {
        concat!(
            "vpxord zmm26, zmm30, dword ptr [rsi + ",
            $x,
            "]{{1to16}}\n",
            "vpxord zmm27, zmm30, dword ptr [rsi + r9 + ",
            $x,
            "]{{1to16}}\n",
            "vpxord zmm28, zmm30, dword ptr [rsi + r9*2 + ",
            $x,
            "]{{1to16}}\n",
            "vpxord zmm29, zmm30, dword ptr [rsi + r12 + ",
            $x,
            "]{{1to16}}\n",
            "vmovdqu64 zmm24, zmmword ptr [rdi + ",
            $w,
            "]\n",
            "vmovdqu64 zmm25, zmmword ptr [rdi + ",
            $w,
            " + 64]\n",
            "vpdpbusd zmm16, zmm26, zmm24\n",
            "vpdpbusd zmm17, zmm26, zmm25\n",
            "vpdpbusd zmm18, zmm27, zmm24\n",
            "vpdpbusd zmm19, zmm27, zmm25\n",
            "vpdpbusd zmm20, zmm28, zmm24\n",
            "vpdpbusd zmm21, zmm28, zmm25\n",
            "vpdpbusd zmm22, zmm29, zmm24\n",
            "vpdpbusd zmm23, zmm29, zmm25\n",
        )
    };
}

/// Four rows (from `[$rows]`, `xs` apart) through the current chunk, their scores added to
/// `zmm$s01` (rows 0 and 1, see `packed_channel`) and `zmm$s23`. Accumulators zmm16-23 (two
/// per row) start from the base chunk at `[rax]`; requantized halves in zmm0-7, narrowed to
/// zmm0 and zmm4; score weights in zmm13.
macro_rules! quad {
    ($v:ident, $rows:literal, $s01:literal, $s23:literal) => {
        concat!(
            "vmovdqu64 zmm16, zmmword ptr [rax]\n",
            "vmovdqu64 zmm17, zmmword ptr [rax + 64]\n",
            "vmovdqu64 zmm18, zmmword ptr [rax]\n",
            "vmovdqu64 zmm19, zmmword ptr [rax + 64]\n",
            "vmovdqu64 zmm20, zmmword ptr [rax]\n",
            "vmovdqu64 zmm21, zmmword ptr [rax + 64]\n",
            "vmovdqu64 zmm22, zmmword ptr [rax]\n",
            "vmovdqu64 zmm23, zmmword ptr [rax + 64]\n",
            "lea rsi, [",
            $rows,
            "]\n",
            "lea rdi, [r10 + {weights}]\n",
            // Two groups per iteration, then an odd one.
            "mov rcx, qword ptr [r15 + {a_groups}]\n",
            "shr rcx, 1\n",
            "jz 5f\n",
            "2:\n",
            group!("0", "0"),
            group!("4", "128"),
            "add rsi, 8\n",
            "add rdi, 256\n",
            "dec rcx\n",
            "jnz 2b\n",
            "5:\n",
            "test byte ptr [r15 + {a_groups}], 1\n",
            "jz 6f\n",
            group!("0", "0"),
            "6:\n",
            rq_half!($v, "0", ["0", "16", "2", "18", "4", "20", "6", "22"]),
            rq_half!($v, "512", ["1", "17", "3", "19", "5", "21", "7", "23"]),
            // Rows 0 and 1 narrowed into zmm0, rows 2 and 3 into zmm4 (see
            // `packed_channel`), clamped, and dotted with the score weights.
            "vpackssdw zmm0, zmm0, zmm1\n",
            "vpackssdw zmm2, zmm2, zmm3\n",
            "vpackssdw zmm4, zmm4, zmm5\n",
            "vpackssdw zmm6, zmm6, zmm7\n",
            "vpacksswb zmm0, zmm0, zmm2\n",
            "vpacksswb zmm4, zmm4, zmm6\n",
            clamp!($v),
            "vpdpbusd zmm",
            $s01,
            ", zmm0, zmm13\n",
            "vpdpbusd zmm",
            $s23,
            ", zmm4, zmm13\n",
        )
    };
}

/// Adds `zmm$z`'s two 256-bit halves into `ymm$y`.
macro_rules! fold {
    ($y:literal, $z:literal) => {
        concat!(
            "vextracti64x4 ymm",
            $y,
            ", zmm",
            $z,
            ", 1\n",
            "vpaddd ymm",
            $y,
            ", ymm",
            $y,
            ", ymm",
            $z,
            "\n",
        )
    };
}

/// `base = start + W[:, ..e] · embedding` for every chunk, from the embedding columns' weights
/// in the records (two groups per iteration into two accumulator sets, summed at the end).
///
/// # Safety
/// VNNI is usable; `args` is valid with `chunks >= 1`, `rec` readable for `chunks · rec_len`
/// bytes of [`head_prepare`](super::head_prepare)'s records, `start` readable and `base`
/// writable for `32 · chunks` i32, `emb` readable for `4 · emb_groups` bytes.
unsafe fn head_base(args: *const Args) {
    // SAFETY: the caller guarantees VNNI and the extents above: chunk `c` reads its record's
    // embedding weights (`emb_groups · 128` bytes at `emb_at`), `start[32c..32c + 32]` and the
    // embedding, and writes `base[32c..32c + 32]`; `Args` is read at its field offsets. Vector
    // and opmask registers are clobbered via `clobber_abi("C")`; every general register written
    // is declared.
    unsafe {
        core::arch::asm!(
            "vpbroadcastd zmm15, dword ptr [r15 + {a_emb_xor}]",
            "mov r10, qword ptr [r15 + {a_rec}]",
            "mov rax, qword ptr [r15 + {a_base}]",
            "mov rdx, qword ptr [r15 + {a_start}]",
            "mov r11, qword ptr [r15 + {a_chunks}]",
            "7:",
            "vmovdqu64 zmm16, zmmword ptr [rdx]",
            "vmovdqu64 zmm17, zmmword ptr [rdx + 64]",
            "vpxord zmm18, zmm18, zmm18",
            "vpxord zmm19, zmm19, zmm19",
            "mov rsi, qword ptr [r15 + {a_emb}]",
            "mov rdi, r10",
            "add rdi, qword ptr [r15 + {a_emb_at}]",
            "mov rcx, qword ptr [r15 + {a_emb_groups}]",
            "shr rcx, 1",
            "jz 3f",
            "2:",
            "vpxord zmm26, zmm15, dword ptr [rsi]{{1to16}}",
            "vpxord zmm27, zmm15, dword ptr [rsi + 4]{{1to16}}",
            "vpdpbusd zmm16, zmm26, zmmword ptr [rdi]",
            "vpdpbusd zmm17, zmm26, zmmword ptr [rdi + 64]",
            "vpdpbusd zmm18, zmm27, zmmword ptr [rdi + 128]",
            "vpdpbusd zmm19, zmm27, zmmword ptr [rdi + 192]",
            "add rsi, 8",
            "add rdi, 256",
            "dec rcx",
            "jnz 2b",
            "3:",
            "test byte ptr [r15 + {a_emb_groups}], 1",
            "jz 4f",
            "vpxord zmm26, zmm15, dword ptr [rsi]{{1to16}}",
            "vpdpbusd zmm16, zmm26, zmmword ptr [rdi]",
            "vpdpbusd zmm17, zmm26, zmmword ptr [rdi + 64]",
            "4:",
            "vpaddd zmm16, zmm16, zmm18",
            "vpaddd zmm17, zmm17, zmm19",
            "vmovdqu64 zmmword ptr [rax], zmm16",
            "vmovdqu64 zmmword ptr [rax + 64], zmm17",
            "add r10, qword ptr [r15 + {a_rec_len}]",
            "sub rax, -128",
            "sub rdx, -128",
            "dec r11",
            "jnz 7b",
            "vzeroupper",
            in("r15") args,
            out("r10") _,
            out("r11") _,
            out("rax") _,
            out("rdx") _,
            out("rsi") _,
            out("rdi") _,
            out("rcx") _,
            a_rec = const offset_of!(Args, rec),
            a_base = const offset_of!(Args, base),
            a_start = const offset_of!(Args, start),
            a_emb = const offset_of!(Args, emb),
            a_emb_groups = const offset_of!(Args, emb_groups),
            a_emb_at = const offset_of!(Args, emb_at),
            a_emb_xor = const offset_of!(Args, emb_xor),
            a_chunks = const offset_of!(Args, chunks),
            a_rec_len = const offset_of!(Args, rec_len),
            clobber_abi("C"),
            options(nostack),
        );
    }
}

/// Defines one head kernel for a variant (`relu`, `relu127` or `signed`; see `sign_test!` and
/// `clamp!`).
macro_rules! head_kernel {
    ($name:ident, $v:ident) => {
        /// # Safety
        /// VNNI is usable; `tiles >= 1`; `args` is valid with `chunks, groups >= 1`, `rec`
        /// readable for `chunks · rec_len` bytes of [`head_prepare`](super::head_prepare)'s
        /// records and `base` for `32 · chunks` i32; for every row `j < 8 · tiles`,
        /// `x + j · xs` is readable for `4 · groups` bytes; `out` writable for `8 · tiles` i32.
        unsafe fn $name(args: *const Args, x: *const i8, xs: usize, out: *mut i32, tiles: usize) {
            // SAFETY: the caller guarantees VNNI and the extents above: tile `t` reads rows
            // `8t..8t + 8` (`4 · groups` bytes each, from `x + (8t + j)·xs`), every record and
            // base chunk, and writes `out[8t..8t + 8]`; `Args` is read at its field offsets.
            // Vector and opmask registers are clobbered via `clobber_abi("C")`; every general
            // register written is declared.
            unsafe {
                core::arch::asm!(
                    "mov eax, 0x80808080",
                    "vpbroadcastd zmm30, eax",
                    "vmovdqu64 zmm31, zmmword ptr [rip + {merge}]",
                    "vmovdqu64 zmm10, zmmword ptr [r15 + {a_lo}]",
                    "vmovdqu64 zmm11, zmmword ptr [r15 + {a_hi}]",
                    "vpxor xmm12, xmm12, xmm12",
                    "lea r12, [r9 + r9*2]",
                    "3:",
                    "vpxor xmm14, xmm14, xmm14",
                    "vpxor xmm15, xmm15, xmm15",
                    "vpxor xmm8, xmm8, xmm8",
                    "vpxor xmm9, xmm9, xmm9",
                    "mov r10, qword ptr [r15 + {a_rec}]",
                    "mov rax, qword ptr [r15 + {a_base}]",
                    "mov r13, qword ptr [r15 + {a_chunks}]",
                    "4:",
                    "vmovdqu64 zmm13, zmmword ptr [r10 + {score_w}]",
                    quad!($v, "r8", "14", "15"),
                    quad!($v, "r8 + r9*4", "8", "9"),
                    "add r10, qword ptr [r15 + {a_rec_len}]",
                    "sub rax, -128",
                    "dec r13",
                    "jnz 4b",
                    // zmm14 holds rows 0, 0, 1, 1 in each 128-bit lane, zmm15 rows 2, 2, 3, 3,
                    // zmm8 and zmm9 rows 4-7 likewise: fold the lanes, `vphaddd` leaves rows
                    // 0-3 and 4-7 in each half, and the halves are added.
                    fold!("4", "14"),
                    fold!("5", "15"),
                    fold!("6", "8"),
                    fold!("7", "9"),
                    "vphaddd ymm4, ymm4, ymm5",
                    "vphaddd ymm6, ymm6, ymm7",
                    "vperm2i128 ymm5, ymm4, ymm6, 0x20",
                    "vperm2i128 ymm7, ymm4, ymm6, 0x31",
                    "vpaddd ymm4, ymm5, ymm7",
                    "vpaddd ymm4, ymm4, ymmword ptr [r15 + {a_init}]",
                    "vmovdqu ymmword ptr [rdx], ymm4",
                    "add rdx, 32",
                    "lea r8, [r8 + r9*8]",
                    "dec r11",
                    "jnz 3b",
                    "vzeroupper",
                    in("r15") args,
                    inout("r8") x => _,
                    inout("r9") xs => _,
                    inout("rdx") out => _,
                    inout("r11") tiles => _,
                    out("r10") _,
                    out("r12") _,
                    out("r13") _,
                    out("rax") _,
                    out("rsi") _,
                    out("rdi") _,
                    out("rcx") _,
                    merge = sym MERGE_EVEN_ODD_ZMM,
                    weights = const WEIGHTS,
                    score_w = const SCORE_W,
                    a_rec = const offset_of!(Args, rec),
                    a_base = const offset_of!(Args, base),
                    a_chunks = const offset_of!(Args, chunks),
                    a_rec_len = const offset_of!(Args, rec_len),
                    a_groups = const offset_of!(Args, groups),
                    a_init = const offset_of!(Args, init),
                    a_lo = const offset_of!(Args, lo),
                    a_hi = const offset_of!(Args, hi),
                    clobber_abi("C"),
                    options(nostack),
                );
            }
        }
    };
}

head_kernel!(head_relu, relu);
head_kernel!(head_relu127, relu127);
head_kernel!(head_signed, signed);

/// `out[j] = score of candidate row j` for `out.len()` rows: the head that
/// [`head_prepare`](super::head_prepare) prepared, against `embedding` (at least
/// `round_up(e, 4)` bytes; bytes past `e` meet zero weights). `base` is scratch for the per-call
/// `start + W[:, ..e] · embedding` ([`HeadShape::start_len`] i32). Row `j` is
/// `x[j · x_stride..]`; the kernel reads whole tiles of 8 rows, so `x` must hold
/// `round_up(rows, 8)` rows (`4 · groups` bytes in the last); rows past `out.len()` are read (any
/// values) but not written out. Bytes of a row past its `k` features meet zero weights: their
/// values do not matter. Which kernel runs depends on the clamp (the layer's shape), never on
/// values.
///
/// # Panics
/// If `h` has no features or channels, or a slice is shorter than the geometry needs.
#[allow(clippy::too_many_arguments)]
pub fn head_scores(
    _: Vnni,
    h: &HeadShape,
    prepared: &[u8],
    embedding: &[i8],
    base: &mut [i32],
    x: &[i8],
    x_stride: usize,
    out: &mut [i32],
) {
    let rows = out.len();
    if rows == 0 {
        return;
    }
    let (groups, chunks) = (h.groups(), h.chunks());
    assert!(groups >= 1 && chunks >= 1);
    assert!(prepared.len() >= h.prepared_len());
    assert!(base.len() >= h.start_len());
    assert!(embedding.len() >= h.emb_groups() * GROUP);
    let tiles = rows.div_ceil(TILE_ROWS);
    assert!(x.len() >= (tiles * TILE_ROWS - 1) * x_stride + groups * GROUP);
    let init_at = h.init_at();
    let b = &prepared[init_at..init_at + 4];
    let args = Args {
        rec: prepared.as_ptr(),
        base: base.as_mut_ptr(),
        start: prepared[h.start_at()..].as_ptr().cast::<i32>(),
        emb: embedding.as_ptr(),
        emb_groups: h.emb_groups(),
        emb_at: h.emb_at(),
        emb_xor: if h.emb_signed { 0x8080_8080 } else { 0 },
        chunks,
        rec_len: h.record_len(),
        groups,
        init: [i32::from_ne_bytes([b[0], b[1], b[2], b[3]]); TILE_ROWS],
        lo: [h.lo; 64],
        hi: [h.hi; 64],
    };
    // SAFETY: `Vnni` proves VNNI is usable. Asserted above: `args` points at `chunks >= 1`
    // records, `32 · chunks` starting values (inside `prepared`, read unaligned) and base
    // values, and `4 · emb_groups` embedding bytes, all in bounds.
    unsafe { head_base(&args) };
    let kernel = match (h.signed(), h.hi) {
        (true, _) => head_signed,
        (false, i8::MAX) => head_relu127,
        (false, _) => head_relu,
    };
    let full = rows / TILE_ROWS;
    if full > 0 {
        // SAFETY: `Vnni` proves VNNI is usable. Asserted above: `args` points at `chunks`
        // records and `32 · chunks` base values in bounds, `chunks, groups >= 1`; rows
        // `0..8 · full` have `4 · groups` bytes inside `x`; `out` holds `8 · full` i32.
        unsafe { kernel(&args, x.as_ptr(), x_stride, out.as_mut_ptr(), full) };
    }
    let done = full * TILE_ROWS;
    if done < rows {
        let mut tmp = [0i32; TILE_ROWS];
        let xl = x[done * x_stride..].as_ptr();
        // SAFETY: as above for the one tile of rows `done..done + 8`, inside `x` by the
        // `round_up(rows, 8)` assertion; `tmp` holds 8 i32.
        unsafe { kernel(&args, xl, x_stride, tmp.as_mut_ptr(), 1) };
        out[done..].copy_from_slice(&tmp[..rows - done]);
    }
}
