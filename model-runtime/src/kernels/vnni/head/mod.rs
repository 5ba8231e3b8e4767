//! A whole two-layer head in one kernel: the candidate layer, its requantization and a
//! one-output score layer, tile by tile of 8 candidate rows, the hidden activations never
//! leaving registers between the first multiply and the score.
//!
//! **ZMM, unlike the other VNNI kernels.** At YMM width this kernel was bound by how many
//! instructions it issues rather than by the multiply pipes: measured on Zen 4 here (a shared,
//! busy machine), a YMM version with the hidden-layer parameters as memory operands took about
//! 6.2 ns per candidate, one loading each parameter vector once per pair of rows (fewer loads,
//! more instructions) 7.2 ns, and this ZMM version 5.7 ns. Zen 4 issues a 512-bit operation as
//! one instruction and runs it in two halves, so ZMM halves the instruction count at the same
//! pipe time. On Intel parts with AVX-512 frequency licences the short bursts here (one head
//! per tick) cost little.
//!
//! Two parts:
//! - `layout.rs`: the head's shape ([`HeadShape`]) and the form that [`head_prepare`] writes
//!   once per model: one record per chunk of 32 hidden channels (requant parameters, score
//!   weights in the packs' byte order, candidate and embedding weights), then the starting
//!   values;
//! - `asm.rs`: [`head_scores`] and the `asm!` kernels it runs per call: the embedding's base,
//!   then per tile the candidate layer, requantization, clamp and score, each step exact
//!   integer arithmetic equal to the scalar reference.
//!
//! Cost does not depend on values: loop counts come from the shapes only.

mod asm;
mod layout;

pub use asm::head_scores;
pub use layout::{HeadShape, TILE_ROWS, head_prepare};
