//! The learned layer: one model, shared by every subsystem that decides with it.
//!
//! Every tick the kernel pushes its telemetry (all sections) into the [`Pipeline`], which runs
//! the model's backbone at most once over the window and keeps the embedding for the rest of
//! the tick. Each subsystem that wants a decision wraps its [`Head`] in a [`Guarded`]: the
//! head turns its candidates into model rows and the scores into a pick; the guard decides
//! whether the model's pick stands or the head's classical shadow decides, and counts why
//! ([`FallbackReason`]). [`schema`] checks a weight file against the kernel, head by head, so
//! a file that lacks a head, or has an old version of one, disables only that head.
//!
//! Everything here is portable, safe code, host-tested: the kernel's tick path and the host's
//! replay run the same decisions through it.
//!
//! # Resources
//! FM4OS (arXiv 2312.07813) for the shared backbone; DESIGN.md §4, "The tick pipeline".

#![deny(unsafe_code)]

pub mod guard;
pub mod head;
pub mod pipeline;
pub mod schema;

pub use guard::{
    Choice, FallbackCounts, FallbackReason, GuardConfig, Guarded, Outcome, RegretWindow,
};
pub use head::Head;
pub use pipeline::{Inference, InputLayout, Pipeline, PipelineStats};

#[cfg(test)]
mod tests;
