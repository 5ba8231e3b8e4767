//! Augur's int8 fixed-point inference runtime, `no_std` and allocation-free.
//!
//! The kernel consults an embedded model every timer tick (DESIGN.md §4): a **backbone** turns
//! a window of telemetry into an embedding once per tick, and **heads** (scheduler, page
//! allocator, block cache) score batches of candidates against it. This crate is that model's
//! runtime, and knows nothing about the kernel:
//!
//! - [`Model::from_gguf`] validates a GGUF v3 weight file byte by byte, checks its SHA-256
//!   integrity digest and borrows its tensors without copying (`gguf/`, `integrity.rs`,
//!   `sections.rs`, `graph.rs`); a bad file is a typed [`LoadError`].
//! - [`Engine`] runs it over caller-provided scratch: no heap, no floating point, cost
//!   independent of the input values (`engine/`).
//! - The arithmetic is int8 × int8 → exact i32, then gemmlowp fixed-point requantization
//!   (`quant.rs`), computed by a portable scalar reference or by AVX2 or AVX-512 VNNI `asm!`
//!   micro-kernels, bit for bit the same (`kernels/`), picked by [`Backend::detect`] (VNNI only
//!   where the OS enabled AVX-512 state: on hosts, not yet in the Augur kernel, see
//!   `backend.rs`).
//!
//! ```no_run
//! # fn demo(bytes: &[u8], window: &[i8], tasks: &[i8]) -> Result<(), Box<dyn std::error::Error>> {
//! use model_runtime::{Backend, Engine, Model, argmax};
//! let model = Model::from_gguf(bytes)?;
//! let mut scratch = vec![0u8; model.scratch_len()];      // once, at load
//! let mut engine = Engine::new(&model, Backend::detect(), &mut scratch)?;
//! engine.run_backbone(window)?;                           // every tick
//! let sched = model.head_index("sched").ok_or("no sched head")?;
//! let mut scores = [0i32; 64];
//! engine.run_head(sched, tasks, &mut scores[..tasks.len() / 16])?;
//! let _pick = argmax(&scores);
//! # Ok(()) }
//! ```
//!
//! # Notes
//! The `std` feature adds the host side: a GGUF writer and [`QuantizedModel`], the one
//! definition of the file layout that `weights/`'s quantizer fills and this reader checks.
//!
//! # Resources
//! - GGUF: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>
//! - gemmlowp fixed point: <https://github.com/google/gemmlowp/blob/master/doc/quantization.md>
//! - Jacob et al., "Quantization and Training of Neural Networks for Efficient
//!   Integer-Arithmetic-Only Inference", CVPR 2018.

#![no_std]

// `std` is ignored on the kernel target: cargo's artifact dependencies may unify the host's
// features (weights/ turns `std` on) into the kernel's build of this crate.
#[cfg(any(test, all(feature = "std", not(target_os = "none"))))]
extern crate std;

mod backend;
mod engine;
mod error;
pub mod gguf;
pub mod graph;
pub mod integrity;
pub mod kernels;
mod model;
mod plan;
pub mod quant;
pub mod sections;
mod select;
mod types;

#[cfg(all(feature = "std", not(target_os = "none")))]
mod qmodel;
#[cfg(all(feature = "std", not(target_os = "none")))]
pub mod writer;

pub use backend::Backend;
pub use engine::{Engine, HEAD_BATCH};
pub use error::{EngineError, LoadError, Name, REEXPORT_COMMAND, RunError};
pub use graph::{Head, Layer, LayerOutput};
pub use model::Model;
pub use sections::Section;
pub use select::{argmax, top_k};

#[cfg(all(feature = "std", not(target_os = "none")))]
pub use qmodel::{
    InputSection, QuantizedHead, QuantizedLayer, QuantizedModel, XorShift, random_layer,
    random_model,
};
