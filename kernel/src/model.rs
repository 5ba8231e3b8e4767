//! The model the kernel boots with: the embedded default, or a file given at boot
//! (`--weights`, the ramdisk's `weights.gguf` entry), checked before it may decide anything.
//!
//! A file that fails the reader's validation or the schema check is refused with its reason;
//! the learned policy then counts every decision as a fallback with that reason
//! ([`FallbackReason::NoWeights`] or [`FallbackReason::Schema`]) and the classical shadow
//! schedules. A refused boot file never silently falls back to the embedded model: the user
//! asked for that file, so the run says it did not get it.

use crate::sched::learned::{FallbackReason, ModelScorer, ScorerError};
use crate::task::KernelScorer;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec;
use model_runtime::{Backend, Model};

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

/// A model that passed every check, ready to score.
pub struct Loaded {
    /// `general.name` of the file.
    pub name: &'static str,
    /// Where it came from.
    pub source: Source,
    /// Its size in bytes.
    pub bytes: usize,
    /// The scorer over its `sched` head.
    pub scorer: KernelScorer,
}

/// Why weights were refused: the fallback reason to count and a message for the console.
pub struct Refused {
    /// Where the refused weights came from.
    pub source: Source,
    /// What the learned policy counts its fallbacks as.
    pub reason: FallbackReason,
    /// What was wrong, for the user.
    pub message: String,
}

/// Validates `bytes` and builds a scorer on `backend`. The bytes, the parsed model and its
/// scratch live for the rest of the run (leaked on purpose: the scheduler holds them forever).
pub fn load(bytes: &'static [u8], source: Source, backend: Backend) -> Result<Loaded, Refused> {
    let refused = |reason, message: String| Refused {
        source,
        reason,
        message,
    };
    let model =
        Model::from_gguf(bytes).map_err(|e| refused(FallbackReason::NoWeights, e.to_string()))?;
    let model: &'static Model<'static> = Box::leak(Box::new(model));
    let scratch: &'static mut [u8] = Box::leak(vec![0u8; model.scratch_len()].into_boxed_slice());
    let scorer = ModelScorer::new(model, backend, scratch).map_err(|e| match e {
        ScorerError::Schema(s) => refused(FallbackReason::Schema, s.to_string()),
        ScorerError::Engine(e) => refused(FallbackReason::NoWeights, e.to_string()),
    })?;
    Ok(Loaded {
        name: model.name(),
        source,
        bytes: bytes.len(),
        scorer,
    })
}
