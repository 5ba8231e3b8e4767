//! The tick's model: one backbone run per tick over the telemetry window, shared by every head
//! that decides in that tick.
//!
//! The tick path pushes each tick's telemetry ([`Pipeline::push_tick`]); the first head that
//! asks for scores in that tick runs the backbone over the window as the model reads it (the
//! sections it was trained on, [`InputLayout`]), and every later call in the same tick, of any
//! head and any number of times (the scheduler decides again mid-tick when a task blocks or
//! exits), reuses that embedding. A tick in which nobody decides costs no inference.
//!
//! # Invariants
//! - The embedding used by a head call is always that of the window of the latest tick pushed.
//! - No allocation after construction.

use super::guard::FallbackReason;
use crate::telemetry::{
    MODEL_INPUT_LEN, TELEMETRY_FIELDS, Telemetry, TelemetryWindow, WINDOW_TICKS,
};
use alloc::boxed::Box;
use alloc::vec;
use model_runtime::RunError;

/// The model as the pipeline runs it: model-runtime's `Engine`, or a test double.
pub trait Inference {
    /// Runs the backbone over one input window and keeps the embedding.
    fn run_backbone(&mut self, input: &[i8]) -> Result<(), RunError>;
    /// Scores `rows` with head `head` against the kept embedding.
    fn run_head(&mut self, head: usize, rows: &[i8], scores: &mut [i32]) -> Result<(), RunError>;
}

impl Inference for model_runtime::Engine<'_, '_, '_> {
    fn run_backbone(&mut self, input: &[i8]) -> Result<(), RunError> {
        model_runtime::Engine::run_backbone(self, input).map(|_| ())
    }

    fn run_head(&mut self, head: usize, rows: &[i8], scores: &mut [i32]) -> Result<(), RunError> {
        model_runtime::Engine::run_head(self, head, rows, scores)
    }
}

/// Which fields of the kernel's telemetry vector the model's backbone reads, in its order:
/// ranges `(start, len)` of the kernel's row, one per section the model was trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputLayout {
    ranges: [(usize, usize); crate::telemetry::SECTIONS.len()],
    count: usize,
}

impl InputLayout {
    /// Every section of the kernel, in kernel order (what a model trained on this kernel reads).
    pub fn full() -> Self {
        let mut layout = Self {
            ranges: [(0, 0); crate::telemetry::SECTIONS.len()],
            count: 0,
        };
        for s in crate::telemetry::SECTIONS {
            layout.push(s.offset, s.fields.len());
        }
        layout
    }

    /// An empty layout, to [`InputLayout::push`] onto.
    pub fn empty() -> Self {
        Self {
            ranges: [(0, 0); crate::telemetry::SECTIONS.len()],
            count: 0,
        }
    }

    /// Appends the kernel fields `start..start + len`. Returns `false` if the layout is full.
    pub fn push(&mut self, start: usize, len: usize) -> bool {
        if self.count == self.ranges.len() {
            return false;
        }
        self.ranges[self.count] = (start, len);
        self.count += 1;
        true
    }

    /// Fields per tick the model reads.
    pub fn fields(&self) -> usize {
        self.ranges[..self.count].iter().map(|r| r.1).sum()
    }

    fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges[..self.count]
    }
}

/// Backbone runs and their cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Ticks pushed.
    pub ticks: u64,
    /// Backbone runs (at most one per tick).
    pub backbone_runs: u64,
    /// Head calls.
    pub head_calls: u64,
}

/// The telemetry window and the model that reads it. See the module docs.
pub struct Pipeline<I> {
    inference: Result<I, FallbackReason>,
    layout: InputLayout,
    /// The layout is the kernel's whole row in order: the window is the input as it stands.
    whole_row: bool,
    window: TelemetryWindow,
    input: Box<[i8]>,
    /// `Some(result)` once the backbone ran over the current window.
    embedded: Option<Result<(), RunError>>,
    stats: PipelineStats,
}

impl<I: Inference> Pipeline<I> {
    /// A pipeline running `inference` over the window fields `layout` names, or none (every
    /// head falls back with that reason).
    pub fn new(inference: Result<I, FallbackReason>, layout: InputLayout) -> Self {
        Self {
            inference,
            layout,
            whole_row: layout == InputLayout::full(),
            window: TelemetryWindow::new(),
            input: vec![0; WINDOW_TICKS * layout.fields()].into_boxed_slice(),
            embedded: None,
            stats: PipelineStats::default(),
        }
    }

    /// A pipeline with no model: heads fall back with `reason`.
    pub fn without_model(reason: FallbackReason) -> Self {
        Self::new(Err(reason), InputLayout::full())
    }

    /// The model, if there is one.
    pub fn inference(&self) -> Option<&I> {
        self.inference.as_ref().ok()
    }

    /// Why there is no model, if there is none.
    pub fn missing(&self) -> Option<FallbackReason> {
        self.inference.as_ref().err().copied()
    }

    /// Appends one tick's telemetry: the embedding is stale until a head asks again.
    pub fn push_tick(&mut self, telemetry: &Telemetry) {
        self.window.push(telemetry);
        self.embedded = None;
        self.stats.ticks += 1;
    }

    /// The window (kernel layout), oldest tick first.
    pub fn window(&self) -> &TelemetryWindow {
        &self.window
    }

    /// Runs and counts.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Scores `rows` with model head `head`, running the backbone first if this tick's
    /// embedding is not there yet.
    pub fn score(&mut self, head: usize, rows: &[i8], scores: &mut [i32]) -> Result<(), RunError> {
        let Ok(inference) = self.inference.as_mut() else {
            return Err(RunError::NoEmbedding);
        };
        let embedded = match self.embedded {
            Some(result) => result,
            None => {
                let all = <&mut [i8; MODEL_INPUT_LEN]>::try_from(&mut *self.input);
                if let (true, Ok(all)) = (self.whole_row, all) {
                    self.window.model_input(all);
                } else {
                    let mut full = [0i8; MODEL_INPUT_LEN];
                    self.window.model_input(&mut full);
                    let mut at = 0;
                    for tick in full.as_chunks::<TELEMETRY_FIELDS>().0 {
                        for &(start, len) in self.layout.ranges() {
                            self.input[at..at + len].copy_from_slice(&tick[start..start + len]);
                            at += len;
                        }
                    }
                }
                let result = inference.run_backbone(&self.input);
                self.stats.backbone_runs += 1;
                self.embedded = Some(result);
                result
            }
        };
        embedded?;
        self.stats.head_calls += 1;
        inference.run_head(head, rows, scores)
    }
}
