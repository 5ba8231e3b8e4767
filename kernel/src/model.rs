//! The model the kernel boots with: the embedded default, or a file given at boot
//! (`--weights`, the ramdisk's `weights.gguf` entry), checked before it may decide anything.
//!
//! The file is checked in three steps: the runtime's reader (structure, and the SHA-256
//! integrity digest over the whole file: a mismatch is an `integrity` fallback), the backbone against the kernel's telemetry sections, and
//! each head the kernel knows against its features (`learn::schema`). A file that fails the
//! first two is refused whole: every head then falls back with that reason
//! ([`FallbackReason::NoWeights`], [`FallbackReason::Integrity`], [`FallbackReason::Schema`]) and the classical shadows
//! decide. A head that is absent or was trained on other features is disabled alone. A
//! refused boot file never silently falls back to the embedded model: the user asked for that
//! file, so the run says it did not get it.
//!
//! Nothing is loaded when no learned head will run (a classical policy): such a boot neither
//! parses nor validates weights, so its behaviour does not depend on them.

use crate::learn::schema::{self, HeadStatus};
use crate::learn::{FallbackReason, Pipeline};
use crate::sched::head::SchedHead;
use crate::task::KernelInference;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec;
use model_runtime::{Backend, Engine, LoadError, Model};

/// The embedded default model, trained from kernel traces by `augur collect` + `augur train`
/// (its card, `weights/augur-sched-v2.md`, gives the data, metrics, hash and command).
pub static DEFAULT_WEIGHTS: &[u8] = include_bytes!("../../weights/augur-sched-v2.gguf");

/// Where the weights came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built into the kernel image.
    Embedded,
    /// Given at boot.
    BootFile,
}

impl Source {
    /// How the banner names it.
    pub fn name(self) -> &'static str {
        match self {
            Source::Embedded => "embedded",
            Source::BootFile => "from --weights",
        }
    }
}

/// A model whose backbone fits the kernel, in its pipeline, and the fate of each head.
pub struct Loaded {
    /// `general.name` of the file.
    pub name: &'static str,
    /// Where it came from.
    pub source: Source,
    /// Its size in bytes.
    pub bytes: usize,
    /// The scheduler head: its index in the model, or why it cannot run.
    pub sched: HeadStatus,
    /// The pipeline over the model's backbone.
    pub pipeline: Pipeline<KernelInference>,
}

impl Loaded {
    /// The scheduler head's slot for its guard.
    pub fn sched_slot(&self) -> Result<usize, FallbackReason> {
        slot(&self.sched)
    }
}

/// A head's slot for its guard: its index, or the reason every decision falls back.
pub fn slot(status: &HeadStatus) -> Result<usize, FallbackReason> {
    match status {
        HeadStatus::Ok(index) => Ok(*index),
        HeadStatus::Absent => Err(FallbackReason::NoWeights),
        HeadStatus::Mismatch(_) => Err(FallbackReason::Schema),
    }
}

/// Why weights were refused: the fallback reason to count and a message for the console.
pub struct Refused {
    /// Where the refused weights came from.
    pub source: Source,
    /// What every head counts its fallbacks as.
    pub reason: FallbackReason,
    /// What was wrong, for the user.
    pub message: String,
}

/// The fallback reason for a reader error.
/// A file whose digest does not match, or that has none to check, is an `integrity`
/// fallback: the bytes cannot be trusted. Anything else the reader refuses is `no-weights`.
fn reason_of(e: &LoadError) -> FallbackReason {
    match e {
        LoadError::DigestMismatch { .. } | LoadError::MissingDigest => FallbackReason::Integrity,
        _ => FallbackReason::NoWeights,
    }
}

/// Validates `bytes` and builds the pipeline on `backend`. The bytes, the parsed model and
/// its scratch live for the rest of the run (leaked on purpose: the pipeline holds them
/// forever).
pub fn load(bytes: &'static [u8], source: Source, backend: Backend) -> Result<Loaded, Refused> {
    let refused = |reason, message: String| Refused {
        source,
        reason,
        message,
    };
    let model = Model::from_gguf(bytes).map_err(|e| refused(reason_of(&e), e.to_string()))?;
    let layout = schema::check_backbone(&model)
        .map_err(|e| refused(FallbackReason::Schema, e.to_string()))?;
    let sched = schema::check_head(&model, &SchedHead::SPEC);
    let model: &'static Model<'static> = Box::leak(Box::new(model));
    let scratch: &'static mut [u8] = Box::leak(vec![0u8; model.scratch_len()].into_boxed_slice());
    let engine = Engine::new(model, backend, scratch)
        .map_err(|e| refused(FallbackReason::NoWeights, e.to_string()))?;
    Ok(Loaded {
        name: model.name(),
        source,
        bytes: bytes.len(),
        sched,
        pipeline: Pipeline::new(Ok(engine), layout),
    })
}
