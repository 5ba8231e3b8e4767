//! Does a weight file fit this kernel? Checked once at load, for the backbone and for each
//! head separately.
//!
//! - **The backbone** must read a window of [`WINDOW_TICKS`] ticks of sections the kernel has,
//!   each at the version the kernel writes. The result is the [`InputLayout`] that feeds the
//!   model exactly the fields it was trained on, whatever else the kernel's telemetry holds.
//!   A backbone that does not fit disables every head (they all read its embedding).
//! - **Each head** the kernel knows ([`HeadSpec`]) is looked up by name: absent, trained on
//!   another version or width of its features, or with another number of outputs, it is
//!   disabled alone ([`HeadStatus`]), and the banner says so.

use super::head::Head;
use super::pipeline::InputLayout;
use crate::telemetry::{self, WINDOW_TICKS};
use core::fmt;
use model_runtime::Model;

/// Why a model's backbone or head does not fit the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaMismatch {
    /// The backbone reads another window.
    Window { model: usize, kernel: usize },
    /// The backbone reads a section the kernel does not have.
    UnknownSection { name: &'static str },
    /// The backbone was trained on another version of a section.
    SectionVersion {
        name: &'static str,
        model: u32,
        kernel: u32,
    },
    /// The backbone reads another number of fields of a section.
    SectionFields {
        name: &'static str,
        model: usize,
        kernel: usize,
    },
    /// The model's sections do not add up to its input width.
    InputFields { sections: usize, input: usize },
    /// The head is not in the file.
    NoHead { head: &'static str },
    /// The head was trained on another version of its features.
    FeaturesVersion {
        head: &'static str,
        model: u32,
        kernel: u32,
    },
    /// The head reads another number of candidate features.
    CandidateFeatures {
        head: &'static str,
        model: usize,
        kernel: usize,
    },
    /// The head gives another number of outputs per candidate.
    Outputs {
        head: &'static str,
        model: usize,
        kernel: usize,
    },
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SchemaMismatch::Window { model, kernel } => write!(
                f,
                "backbone reads {model} ticks of telemetry, the kernel keeps {kernel}"
            ),
            SchemaMismatch::UnknownSection { name } => write!(
                f,
                "backbone reads telemetry section `{name}`, which this kernel does not have"
            ),
            SchemaMismatch::SectionVersion {
                name,
                model,
                kernel,
            } => write!(
                f,
                "backbone was trained on telemetry section `{name}` version {model}, the kernel writes version {kernel}: retrain on this kernel's traces"
            ),
            SchemaMismatch::SectionFields {
                name,
                model,
                kernel,
            } => write!(
                f,
                "backbone reads {model} fields of section `{name}`, the kernel has {kernel}"
            ),
            SchemaMismatch::InputFields { sections, input } => write!(
                f,
                "the model's sections have {sections} fields in all, its input {input}"
            ),
            SchemaMismatch::NoHead { head } => write!(f, "model has no `{head}` head"),
            SchemaMismatch::FeaturesVersion {
                head,
                model,
                kernel,
            } => write!(
                f,
                "`{head}` head was trained on features version {model}, the kernel gives version {kernel}: retrain on this kernel's traces"
            ),
            SchemaMismatch::CandidateFeatures {
                head,
                model,
                kernel,
            } => write!(
                f,
                "`{head}` head reads {model} features per candidate, the kernel gives {kernel}"
            ),
            SchemaMismatch::Outputs {
                head,
                model,
                kernel,
            } => write!(
                f,
                "`{head}` head gives {model} outputs per candidate, expected {kernel}"
            ),
        }
    }
}

/// What the kernel expects of one head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadSpec {
    /// Its name in the file.
    pub name: &'static str,
    /// Version of its candidate features.
    pub features_version: u32,
    /// Candidate features per row.
    pub features: usize,
    /// Outputs per candidate.
    pub outputs: usize,
}

impl HeadSpec {
    /// The spec of head type `H`.
    pub const fn of<H: Head>() -> Self {
        Self {
            name: H::NAME,
            features_version: H::FEATURES_VERSION,
            features: H::FEATURES,
            outputs: H::OUTPUTS,
        }
    }
}

/// One head's fate at load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadStatus {
    /// Usable, at this head index of the model.
    Ok(usize),
    /// Not in the file.
    Absent,
    /// In the file, but does not fit.
    Mismatch(SchemaMismatch),
}

impl HeadStatus {
    /// As the banner says it: `ok`, `absent`, `schema`.
    pub fn word(&self) -> &'static str {
        match self {
            HeadStatus::Ok(_) => "ok",
            HeadStatus::Absent => "absent",
            HeadStatus::Mismatch(_) => "schema",
        }
    }
}

/// The backbone's input layout over the kernel's telemetry, or why it does not fit.
pub fn check_backbone(model: &Model<'_>) -> Result<InputLayout, SchemaMismatch> {
    if model.input_window() != WINDOW_TICKS {
        return Err(SchemaMismatch::Window {
            model: model.input_window(),
            kernel: WINDOW_TICKS,
        });
    }
    let mut layout = InputLayout::empty();
    let mut total = 0;
    for s in model.sections() {
        let Some(kernel) = telemetry::SECTIONS.iter().find(|k| k.name == s.name) else {
            return Err(SchemaMismatch::UnknownSection {
                name: static_name(s.name),
            });
        };
        if s.version != kernel.version {
            return Err(SchemaMismatch::SectionVersion {
                name: kernel.name,
                model: s.version,
                kernel: kernel.version,
            });
        }
        if s.fields != kernel.fields.len() {
            return Err(SchemaMismatch::SectionFields {
                name: kernel.name,
                model: s.fields,
                kernel: kernel.fields.len(),
            });
        }
        if !layout.push(kernel.offset, kernel.fields.len()) {
            // More sections than the kernel has: one must be named twice (the reader forbids
            // it), so this cannot fit either.
            return Err(SchemaMismatch::UnknownSection { name: kernel.name });
        }
        total += kernel.fields.len();
    }
    if total != model.input_features() {
        return Err(SchemaMismatch::InputFields {
            sections: total,
            input: model.input_features(),
        });
    }
    Ok(layout)
}

/// A section name as `'static` for the message: the kernel's own if it has it, else `?`.
fn static_name(name: &str) -> &'static str {
    telemetry::section(name).map_or("?", |s| s.name)
}

/// Where head `spec` is in `model`, or why it cannot run.
pub fn check_head(model: &Model<'_>, spec: &HeadSpec) -> HeadStatus {
    let Some(index) = model.head_index(spec.name) else {
        return HeadStatus::Absent;
    };
    let Some(head) = model.head(index) else {
        return HeadStatus::Absent;
    };
    if head.features_version != spec.features_version {
        return HeadStatus::Mismatch(SchemaMismatch::FeaturesVersion {
            head: spec.name,
            model: head.features_version,
            kernel: spec.features_version,
        });
    }
    if head.candidate_features != spec.features {
        return HeadStatus::Mismatch(SchemaMismatch::CandidateFeatures {
            head: spec.name,
            model: head.candidate_features,
            kernel: spec.features,
        });
    }
    match model.head_outputs(index) {
        Some(n) if n == spec.outputs => HeadStatus::Ok(index),
        other => HeadStatus::Mismatch(SchemaMismatch::Outputs {
            head: spec.name,
            model: other.unwrap_or(0),
            kernel: spec.outputs,
        }),
    }
}

/// Checks the backbone and head `spec` together: the head's index, or the first reason it
/// cannot run (what the trainer and the weight tests ask of a file they write).
pub fn check_model(model: &Model<'_>, spec: &HeadSpec) -> Result<usize, SchemaMismatch> {
    check_backbone(model)?;
    match check_head(model, spec) {
        HeadStatus::Ok(index) => Ok(index),
        HeadStatus::Absent => Err(SchemaMismatch::NoHead { head: spec.name }),
        HeadStatus::Mismatch(m) => Err(m),
    }
}
