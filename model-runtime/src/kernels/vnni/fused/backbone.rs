//! The whole two-layer backbone of one input window as one kernel: the Augur backbone
//! (256 inputs → 64 → 32, DESIGN.md §4) costs about a hundred nanoseconds, so two calls of
//! [`super::gemm_requant_row`] with the engine's per-layer bookkeeping between them are a
//! sizeable share of it. Here one `asm!` block runs
//!
//! 1. layer 0 at the 8-block tile, from its folded starting values, two groups of inputs per
//!    iteration into two sets of eight accumulators (summed at the end: sixteen chains, so
//!    `vpdpbusd`'s latency never waits; the loads of the 16 KiB of weights are the bound);
//! 2. its requantization in registers (`rq_block!`), the 64 int8 activations written to a
//!    64-byte buffer that stays in L1 (a store forwarded to the next loads, no pass over memory);
//! 3. layer 1 at the 4-block tile with four accumulator sets (`split_tile!`'s deal of groups),
//!    broadcasting those activations;
//! 4. its requantization, written once to the embedding.
//!
//! Shapes: layer 0 has 57..=64 outputs (exactly 8 blocks) over any number of inputs, layer 1
//! 25..=32 outputs (4 blocks) over layer 0's; other backbones take the per-layer path
//! ([`BackboneShape::fits`]). Layer 0's padding channels are requantized like the others
//! (from their padded parameters, as `requant` does) and meet zero weights in layer 1, whose
//! packed form is zero past its real inputs. Layer 1's inputs are signed exactly when layer 0's
//! clamp allows negatives (how the graph reader sets `signed_input`).
//!
//! [`Backbone::new`] checks the prepared data and picks the kernel variant once (the engine
//! does it in `Engine::new`), so a call checks only its own slices. Measured on the Augur
//! shape (Zen 4, `cargo bench`, noisy shared machine): 118–123 ns against 143–147 ns for the
//! two per-layer calls; layer 0's loop is about 80 ns of it (its loads' bound is about 70).
//!
//! Bit-identical to `scalar::gemm` + `scalar::requant` per layer: exact i32 sums (wrapping,
//! so the order of the partial sums does not matter) and `fused.rs`'s requantization. Cost
//! does not depend on values: the loop counts come from the shapes only.

use super::super::super::{GROUP, LANES, PACKED_ROW, RQ_BLOCK};
use super::super::requant::{D_EVEN, KC_EVEN, KR_EVEN, M, M_ODD, MERGE_EVEN_ODD, ODD, SHIFT_EVEN};
use super::super::{Vnni, correction_len};

/// Blocks of 8 channels in layer 0 (its outputs round up to exactly this many).
pub const FIRST_BLOCKS: usize = 8;
/// Blocks of 8 channels in layer 1.
pub const SECOND_BLOCKS: usize = 4;
/// Bytes of the buffer that carries layer 0's activations to layer 1.
pub const MID_LEN: usize = FIRST_BLOCKS * LANES;

/// The shape of a two-layer backbone, as [`backbone_rows`] needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackboneShape {
    /// Layer 0's inputs (the input window).
    pub k: usize,
    /// Whether those inputs may be negative.
    pub signed: bool,
    /// Layer 0's outputs (layer 1's inputs).
    pub hidden: usize,
    /// Layer 1's outputs (the embedding).
    pub n: usize,
    /// Layer 0's clamp.
    pub lo0: i8,
    pub hi0: i8,
    /// Layer 1's clamp.
    pub lo1: i8,
    pub hi1: i8,
}

impl BackboneShape {
    /// Whether [`backbone_rows`] runs this shape (see the module docs); `second_signed` is
    /// layer 1's `signed_input`, which must follow layer 0's clamp.
    pub fn fits(&self, second_signed: bool) -> bool {
        self.k > 0
            && self.hidden.div_ceil(LANES) == FIRST_BLOCKS
            && self.n.div_ceil(LANES) == SECOND_BLOCKS
            && second_signed == (self.lo0 < 0)
    }
}

/// One layer's prepared data: packed weights ([`super::super::pack`]'s form), starting values
/// (`init` through `fold_correction` for signed inputs) and requant parameter blocks.
#[derive(Clone, Copy, Debug)]
pub struct RowWeights<'p> {
    pub packed: &'p [u8],
    pub start: &'p [i32],
    pub params: &'p [i32],
}

/// Layer 1's pointers and group count and both layers' clamps, read by the kernel from
/// memory (too few general registers to pass them all).
#[repr(C)]
struct Second {
    w: *const u8,
    start: *const i32,
    params: *const i32,
    groups: usize,
    /// `[lo0, hi0, lo1, hi1]`.
    lohi: [i32; 4],
}

/// The kernels' common signature (see `backbone_kernel!`).
type Kernel =
    unsafe fn(*const i8, *const u8, usize, *const i32, *const i32, *mut i8, *mut i8, *const Second);

/// Defines one whole-backbone kernel: `$in0`/`$in1` the broadcast kind of each layer's inputs,
/// `$fix0`/`$fix1` and `$k0`/`$k1` each layer's requant variant (as in `fused.rs`).
macro_rules! backbone_kernel {
    ($name:ident, $in0:ident, $fix0:ident, $k0:expr, $in1:ident, $fix1:ident, $k1:expr,
     [$($extra:tt)*]) => {
        /// # Safety
        /// VNNI is usable; `groups >= 1`; `x` readable for `4 · groups` bytes; `w` for
        /// `groups` rows of 8 blocks (256 bytes each); `start`, `params` for 8 blocks; `mid`
        /// writable for [`MID_LEN`] bytes, `out` for 32 bytes, not overlapping; `second`
        /// points to a valid [`Second`]: `w` readable for `groups` rows of 4 blocks
        /// (`1 <= groups <= 16`), `start`, `params` for 4 blocks.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            x: *const i8,
            w: *const u8,
            groups: usize,
            start: *const i32,
            params: *const i32,
            mid: *mut i8,
            out: *mut i8,
            second: *const Second,
        ) {
            // SAFETY: the caller guarantees VNNI and the extents above. Layer 0 reads
            // `x[4g..][..4]` and `w[256g..][..256]` for g < groups (two groups per iteration
            // while whole pairs remain, then the odd one), 8 blocks of `start` and `params`,
            // writes `mid[..64]`; layer 1 reads `mid[..4·groups1]` and its weight rows (four
            // per iteration while whole quads remain, then one at a time), 4 blocks of its
            // `start` and `params` and the clamps in `second`, writes `out[..32]`. `mid` does
            // not overlap `out`. The input registers `p` and `out` are changed for layer 1
            // and restored from r10/r11 before the end. Vector and opmask registers are
            // clobbered via `clobber_abi("C")`; every other general register written is
            // declared.
            unsafe {
                core::arch::asm!(
                    "mov ecx, 0x80808080",
                    "vpbroadcastd ymm15, ecx",
                    "vmovdqu32 ymm0, [rax]",
                    "vmovdqu32 ymm1, [rax + 32]",
                    "vmovdqu32 ymm2, [rax + 64]",
                    "vmovdqu32 ymm3, [rax + 96]",
                    "vmovdqu32 ymm4, [rax + 128]",
                    "vmovdqu32 ymm5, [rax + 160]",
                    "vmovdqu32 ymm6, [rax + 192]",
                    "vmovdqu32 ymm7, [rax + 224]",
                    "vpxord xmm16, xmm16, xmm16",
                    "vpxord xmm17, xmm17, xmm17",
                    "vpxord xmm18, xmm18, xmm18",
                    "vpxord xmm19, xmm19, xmm19",
                    "vpxord xmm20, xmm20, xmm20",
                    "vpxord xmm21, xmm21, xmm21",
                    "vpxord xmm22, xmm22, xmm22",
                    "vpxord xmm23, xmm23, xmm23",
                    "mov rcx, {groups}",
                    "shr rcx, 1",
                    "jz 4f",
                    // Layer 0: two groups per iteration into two sets of eight chains
                    // (ymm0-7, ymm16-23).
                    "2:",
                    fbcast!($in0, "12", "0"),
                    fbcast!($in0, "13", "4"),
                    fstep!(0, 12, 8, "rdi", 0),
                    fstep!(1, 12, 9, "rdi", 32),
                    fstep!(2, 12, 10, "rdi", 64),
                    fstep!(3, 12, 11, "rdi", 96),
                    fstep!(4, 12, 14, "rdi", 128),
                    fstep!(5, 12, 24, "rdi", 160),
                    fstep!(6, 12, 25, "rdi", 192),
                    fstep!(7, 12, 26, "rdi", 224),
                    fstep!(16, 13, 27, "rdi", 256),
                    fstep!(17, 13, 28, "rdi", 288),
                    fstep!(18, 13, 29, "rdi", 320),
                    fstep!(19, 13, 30, "rdi", 352),
                    fstep!(20, 13, 31, "rdi", 384),
                    fstep!(21, 13, 8, "rdi", 416),
                    fstep!(22, 13, 9, "rdi", 448),
                    fstep!(23, 13, 10, "rdi", 480),
                    "add rsi, 8",
                    "add rdi, 512",
                    "dec rcx",
                    "jnz 2b",
                    "4:",
                    // The odd group left over, into the first set.
                    "test {groups}, 1",
                    "jz 6f",
                    fbcast!($in0, "12", "0"),
                    fstep!(0, 12, 8, "rdi", 0),
                    fstep!(1, 12, 9, "rdi", 32),
                    fstep!(2, 12, 10, "rdi", 64),
                    fstep!(3, 12, 11, "rdi", 96),
                    fstep!(4, 12, 14, "rdi", 128),
                    fstep!(5, 12, 24, "rdi", 160),
                    fstep!(6, 12, 25, "rdi", 192),
                    fstep!(7, 12, 26, "rdi", 224),
                    "6:",
                    "vpaddd ymm0, ymm0, ymm16",
                    "vpaddd ymm1, ymm1, ymm17",
                    "vpaddd ymm2, ymm2, ymm18",
                    "vpaddd ymm3, ymm3, ymm19",
                    "vpaddd ymm4, ymm4, ymm20",
                    "vpaddd ymm5, ymm5, ymm21",
                    "vpaddd ymm6, ymm6, ymm22",
                    "vpaddd ymm7, ymm7, ymm23",
                    // Layer 0's requantization into `mid`.
                    "mov rax, 0xC000000000000000",
                    "vpbroadcastq ymm10, rax",
                    "vmovdqu ymm11, [rip + {merge}]",
                    "vpbroadcastd ymm12, dword ptr [{second} + 32]",
                    "vpbroadcastd ymm13, dword ptr [{second} + 36]",
                    rq_block!("0", "0", "0", $fix0, "k0"),
                    rq_block!("1", "384", "8", $fix0, "k0"),
                    rq_block!("2", "768", "16", $fix0, "k0"),
                    rq_block!("3", "1152", "24", $fix0, "k0"),
                    rq_block!("4", "1536", "32", $fix0, "k0"),
                    rq_block!("5", "1920", "40", $fix0, "k0"),
                    rq_block!("6", "2304", "48", $fix0, "k0"),
                    rq_block!("7", "2688", "56", $fix0, "k0"),
                    // Layer 1: inputs from `mid`, the rest from `second`.
                    "mov ecx, 0x80808080",
                    "vpbroadcastd ymm15, ecx",
                    // `p` and `out` are inputs: saved here, restored at the end.
                    "mov rsi, {out}",
                    "mov r10, {p}",
                    "mov r11, {out}",
                    "mov rdi, [{second}]",
                    "mov rax, [{second} + 8]",
                    "mov {p}, [{second} + 16]",
                    "mov {out}, {out1}",
                    "vmovdqu32 ymm0, [rax]",
                    "vmovdqu32 ymm1, [rax + 32]",
                    "vmovdqu32 ymm2, [rax + 64]",
                    "vmovdqu32 ymm3, [rax + 96]",
                    "vpxor xmm4, xmm4, xmm4",
                    "vpxor xmm5, xmm5, xmm5",
                    "vpxor xmm6, xmm6, xmm6",
                    "vpxor xmm7, xmm7, xmm7",
                    "vpxord xmm16, xmm16, xmm16",
                    "vpxord xmm17, xmm17, xmm17",
                    "vpxord xmm18, xmm18, xmm18",
                    "vpxord xmm19, xmm19, xmm19",
                    "vpxord xmm20, xmm20, xmm20",
                    "vpxord xmm21, xmm21, xmm21",
                    "vpxord xmm22, xmm22, xmm22",
                    "vpxord xmm23, xmm23, xmm23",
                    "mov rcx, [{second} + 24]",
                    "shr rcx, 2",
                    "jz 4f",
                    // Four groups per iteration into four accumulator sets (ymm0-3, ymm4-7,
                    // ymm16-19, ymm20-23): chains of at most 4 `vpdpbusd`.
                    "2:",
                    fbcast!($in1, "26", "0"),
                    fbcast!($in1, "27", "4"),
                    fbcast!($in1, "28", "8"),
                    fbcast!($in1, "29", "12"),
                    fstep!(0, 26, 8, "rdi", 0),
                    fstep!(1, 26, 9, "rdi", 32),
                    fstep!(2, 26, 12, "rdi", 64),
                    fstep!(3, 26, 13, "rdi", 96),
                    fstep!(4, 27, 14, "rdi", 128),
                    fstep!(5, 27, 24, "rdi", 160),
                    fstep!(6, 27, 25, "rdi", 192),
                    fstep!(7, 27, 30, "rdi", 224),
                    fstep!(16, 28, 31, "rdi", 256),
                    fstep!(17, 28, 8, "rdi", 288),
                    fstep!(18, 28, 9, "rdi", 320),
                    fstep!(19, 28, 12, "rdi", 352),
                    fstep!(20, 29, 13, "rdi", 384),
                    fstep!(21, 29, 14, "rdi", 416),
                    fstep!(22, 29, 24, "rdi", 448),
                    fstep!(23, 29, 25, "rdi", 480),
                    "add rsi, 16",
                    "add rdi, 512",
                    "dec rcx",
                    "jnz 2b",
                    "4:",
                    // The 0-3 groups left over, one at a time into the first set.
                    "mov rcx, [{second} + 24]",
                    "and rcx, 3",
                    "jz 6f",
                    "5:",
                    fbcast!($in1, "26", "0"),
                    fstep!(0, 26, 8, "rdi", 0),
                    fstep!(1, 26, 9, "rdi", 32),
                    fstep!(2, 26, 12, "rdi", 64),
                    fstep!(3, 26, 13, "rdi", 96),
                    "add rsi, 4",
                    "add rdi, 128",
                    "dec rcx",
                    "jnz 5b",
                    "6:",
                    "vpaddd ymm0, ymm0, ymm4",
                    "vpaddd ymm1, ymm1, ymm5",
                    "vpaddd ymm2, ymm2, ymm6",
                    "vpaddd ymm3, ymm3, ymm7",
                    "vpaddd ymm16, ymm16, ymm20",
                    "vpaddd ymm17, ymm17, ymm21",
                    "vpaddd ymm18, ymm18, ymm22",
                    "vpaddd ymm19, ymm19, ymm23",
                    "vpaddd ymm0, ymm0, ymm16",
                    "vpaddd ymm1, ymm1, ymm17",
                    "vpaddd ymm2, ymm2, ymm18",
                    "vpaddd ymm3, ymm3, ymm19",
                    "vpbroadcastd ymm12, dword ptr [{second} + 40]",
                    "vpbroadcastd ymm13, dword ptr [{second} + 44]",
                    rq_block!("0", "0", "0", $fix1, "k1"),
                    rq_block!("1", "384", "8", $fix1, "k1"),
                    rq_block!("2", "768", "16", $fix1, "k1"),
                    rq_block!("3", "1152", "24", $fix1, "k1"),
                    "mov {p}, r10",
                    "mov {out}, r11",
                    "vzeroupper",
                    inout("rsi") x => _,
                    inout("rdi") w => _,
                    inout("rax") start => _,
                    out("rcx") _,
                    groups = in(reg) groups,
                    out("r10") _,
                    out("r11") _,
                    p = in(reg) params,
                    out = in(reg) mid,
                    out1 = in(reg) out,
                    second = in(reg) second,
                    m = const M,
                    m_odd = const M_ODD,
                    k0 = const $k0,
                    k1 = const $k1,
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

// Layer 1's inputs are signed exactly when layer 0's clamp is not a ReLU (`BackboneShape::fits`).
backbone_kernel!(
    s_relu_relu,
    signed,
    fix_none,
    KR_EVEN,
    unsigned,
    fix_none,
    KR_EVEN,
    []
);
backbone_kernel!(s_relu_signed, signed, fix_none, KR_EVEN, unsigned, fix_signed, KC_EVEN, [d = const D_EVEN,]);
backbone_kernel!(s_signed_relu, signed, fix_signed, KC_EVEN, signed, fix_none, KR_EVEN, [d = const D_EVEN,]);
backbone_kernel!(s_signed_signed, signed, fix_signed, KC_EVEN, signed, fix_signed, KC_EVEN, [d = const D_EVEN,]);
backbone_kernel!(
    u_relu_relu,
    unsigned,
    fix_none,
    KR_EVEN,
    unsigned,
    fix_none,
    KR_EVEN,
    []
);
backbone_kernel!(u_relu_signed, unsigned, fix_none, KR_EVEN, unsigned, fix_signed, KC_EVEN, [d = const D_EVEN,]);
backbone_kernel!(u_signed_relu, unsigned, fix_signed, KC_EVEN, signed, fix_none, KR_EVEN, [d = const D_EVEN,]);
backbone_kernel!(u_signed_signed, unsigned, fix_signed, KC_EVEN, signed, fix_signed, KC_EVEN, [d = const D_EVEN,]);

/// A two-layer backbone bound to its prepared data, checked once ([`Backbone::new`]) so that
/// a call ([`Backbone::run`]) checks only its own slices and picks no kernel.
#[derive(Clone, Copy, Debug)]
pub struct Backbone<'p> {
    first: RowWeights<'p>,
    second: RowWeights<'p>,
    groups: usize,
    groups1: usize,
    /// Layer 1's outputs.
    n: usize,
    lohi: [i32; 4],
    kernel: Kernel,
}

impl<'p> Backbone<'p> {
    /// Binds `shape` to each layer's prepared data. Which kernel runs depends on the
    /// signedness and the clamps, never on values.
    ///
    /// # Panics
    /// If `shape` does not [`BackboneShape::fits`] (taking layer 1's inputs as signed exactly
    /// when layer 0's clamp allows negatives) or a slice is shorter than the shape needs.
    pub fn new(
        _: Vnni,
        shape: &BackboneShape,
        first: RowWeights<'p>,
        second: RowWeights<'p>,
    ) -> Backbone<'p> {
        assert!(shape.fits(shape.lo0 < 0));
        let groups = shape.k.div_ceil(GROUP);
        let groups1 = shape.hidden.div_ceil(GROUP);
        assert!(
            first.packed.len() >= groups * FIRST_BLOCKS * PACKED_ROW + correction_len(shape.hidden)
        );
        assert!(first.start.len() >= FIRST_BLOCKS * LANES);
        assert!(first.params.len() >= FIRST_BLOCKS * RQ_BLOCK);
        assert!(
            second.packed.len() >= groups1 * SECOND_BLOCKS * PACKED_ROW + correction_len(shape.n)
        );
        assert!(second.start.len() >= SECOND_BLOCKS * LANES);
        assert!(second.params.len() >= SECOND_BLOCKS * RQ_BLOCK);
        let kernel: Kernel = match (shape.signed, shape.lo0 >= 0, shape.lo1 >= 0) {
            (true, true, true) => s_relu_relu,
            (true, true, false) => s_relu_signed,
            (true, false, true) => s_signed_relu,
            (true, false, false) => s_signed_signed,
            (false, true, true) => u_relu_relu,
            (false, true, false) => u_relu_signed,
            (false, false, true) => u_signed_relu,
            (false, false, false) => u_signed_signed,
        };
        Backbone {
            first,
            second,
            groups,
            groups1,
            n: shape.n,
            lohi: [
                i32::from(shape.lo0),
                i32::from(shape.hi0),
                i32::from(shape.lo1),
                i32::from(shape.hi1),
            ],
            kernel,
        }
    }

    /// The backbone's outputs (the embedding's length).
    pub fn outputs(&self) -> usize {
        self.n
    }

    /// Runs the backbone on one input row `x` (whole groups of 4 bytes, zero past the shape's
    /// `k`): `out` receives layer 1's requantized outputs (32 bytes, padding channels from
    /// their padded parameters as `requant` writes them), `mid` (at least [`MID_LEN`] bytes)
    /// layer 0's. Equal to [`super::gemm_requant_row`] per layer.
    ///
    /// # Panics
    /// If a slice is shorter than the shape needs.
    pub fn run(&self, x: &[i8], mid: &mut [i8], out: &mut [i8]) {
        assert!(x.len() >= self.groups * GROUP);
        assert!(mid.len() >= MID_LEN && out.len() >= SECOND_BLOCKS * LANES);
        let s = Second {
            w: self.second.packed.as_ptr(),
            start: self.second.start.as_ptr(),
            params: self.second.params.as_ptr(),
            groups: self.groups1,
            lohi: self.lohi,
        };
        let f = &self.first;
        // SAFETY: `Backbone::new` took a `Vnni` (VNNI is usable) and checked, for the shape it
        // fits: `groups >= 1` (`k > 0`); layer 0's packed weights hold `groups` rows of 8
        // blocks, its starting values and parameters 8 blocks; layer 1's weights
        // `groups1 <= 16` rows of 4 blocks, its starting values and parameters 4 blocks; the
        // kernel matches the clamps. Asserted above: `x` holds `groups` groups, `mid` 64 bytes,
        // `out` 32 bytes; `mid` and `out` are distinct `&mut` slices; `s` lives across the call.
        unsafe {
            (self.kernel)(
                x.as_ptr(),
                f.packed.as_ptr(),
                self.groups,
                f.start.as_ptr(),
                f.params.as_ptr(),
                mid.as_mut_ptr(),
                out.as_mut_ptr(),
                &raw const s,
            )
        }
    }
}

/// [`Backbone::new`] then [`Backbone::run`], for one call.
///
/// # Panics
/// As those two.
pub fn backbone_rows(
    t: Vnni,
    shape: &BackboneShape,
    x: &[i8],
    first: &RowWeights<'_>,
    second: &RowWeights<'_>,
    mid: &mut [i8],
    out: &mut [i8],
) {
    Backbone::new(t, shape, *first, *second).run(x, mid, out);
}
