//! The learned scheduling policy: the model's scheduler head picks among the runnable tasks,
//! every decision checked by guards, with a classical *shadow* policy as the fallback.
//!
//! The scheduler core keeps driving the shadow ([`super::Policy`]) with every event, exactly
//! as if it ran alone, so at each decision the shadow's `pick_next` is what the classical
//! policy would do on this very state. [`LearnedScheduler::decide`] then either runs the
//! model's best-scored candidate or, when a guard trips, the shadow's pick, and says why
//! ([`FallbackReason`]). The core commits whichever task won with `switch_to` on the shadow.
//!
//! # Guards (DESIGN.md §4, "The tick pipeline")
//! - **no-weights**: no model was loaded, or the file was refused (corrupt, unreadable);
//! - **schema**: the model was trained on another telemetry schema, window or widths;
//! - **budget**: the inference took longer than its cycle budget: its answer comes too late;
//! - **regret**: the model's picks did worse than the shadow's, in hindsight. Every decision
//!   where the two disagree is remembered with both tasks' CPU use at that moment; once both
//!   tasks have exited ([`LearnedScheduler::on_exit`] gives their total CPU), the decision's
//!   regret is known exactly. By the interchange argument behind shortest remaining work (the
//!   oracle the head is trained on), one tick given to the task with more work left instead of
//!   the one with less delays the shorter task's completion by that tick and completes nothing
//!   sooner: +1 tick of total turnaround; the other way round saves one; equal work left costs
//!   nothing. When [`GuardConfig::regret_window`] decisions have been judged (agreements count
//!   as zero) and their net regret exceeds [`GuardConfig::regret_limit`], the shadow takes the
//!   CPU for [`GuardConfig::cooldown`] ticks while the model keeps being scored and judged
//!   alongside, so it regains control only by showing a good window. The judgement lags the
//!   decisions (tasks must finish first); decisions about tasks that never exit are never
//!   judged;
//! - **bad-output**: the runtime refused to run (it never should with a validated model).
//!
//! # The first-tick rule
//! A task that has not been charged a tick yet (it just arrived) runs before the model's pick,
//! oldest first: the model ranks by expected remaining work, which serves turnaround but
//! would let a newcomer queue behind shorter work, and response time (time to first run) is a
//! metric of its own. Such decisions are the learned policy's, not fallbacks, and are counted
//! ([`LearnedScheduler::first_ticks`]); the guards judge them like any other.
//!
//! # Invariants
//! - `decide` only ever returns one of the given candidates (or `None` when there are none).
//! - No allocation after construction: rows and scores live in fixed arrays.

use super::{TaskId, Tick};
use crate::telemetry::{CANDIDATE_FEATURES, MODEL_INPUT_LEN, TaskFeatures, WINDOW_TICKS, feature};
use core::fmt;
use model_runtime::{Backend, Engine, EngineError, Model};

/// Most candidates one decision scores.
pub const MAX_SCORED: usize = 256;

/// Why the classical policy decided instead of the model. The discriminant is the reason's
/// code in trace decision records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FallbackReason {
    /// No valid weights are loaded.
    NoWeights = 1,
    /// The weights' feature schema differs from the kernel's.
    Schema = 2,
    /// The inference exceeded its per-tick budget.
    Budget = 3,
    /// The model did worse than its shadow over a window.
    Regret = 4,
    /// The runtime refused the inference.
    BadOutput = 5,
}

impl FallbackReason {
    /// Every reason, in code order.
    pub const ALL: [FallbackReason; 5] = [
        FallbackReason::NoWeights,
        FallbackReason::Schema,
        FallbackReason::Budget,
        FallbackReason::Regret,
        FallbackReason::BadOutput,
    ];

    /// Short name, as in summaries and exports.
    pub fn name(self) -> &'static str {
        match self {
            FallbackReason::NoWeights => "no-weights",
            FallbackReason::Schema => "schema",
            FallbackReason::Budget => "budget",
            FallbackReason::Regret => "regret",
            FallbackReason::BadOutput => "bad-output",
        }
    }

    /// The trace code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason with trace code `code`.
    pub fn from_code(code: u8) -> Option<FallbackReason> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Decisions taken and fallbacks counted by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FallbackCounts {
    /// Decisions with at least one candidate.
    pub decisions: u64,
    by_reason: [u64; FallbackReason::ALL.len()],
}

impl FallbackCounts {
    /// Fallbacks for `reason`.
    pub fn get(&self, reason: FallbackReason) -> u64 {
        self.by_reason[usize::from(reason.code() - 1)]
    }

    /// All fallbacks.
    pub fn total(&self) -> u64 {
        self.by_reason.iter().sum()
    }

    fn count(&mut self, reason: FallbackReason) {
        self.by_reason[usize::from(reason.code() - 1)] += 1;
    }
}

/// Why a model cannot drive the scheduler (the kernel prints it and runs the shadow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaMismatch {
    /// `augur.schema_version` differs.
    Version { model: u32, kernel: u16 },
    /// The backbone reads another window.
    Input {
        window: usize,
        features: usize,
        kernel_window: usize,
        kernel_features: usize,
    },
    /// There is no `sched` head.
    NoSchedHead,
    /// The `sched` head reads another number of candidate features.
    CandidateFeatures { model: usize, kernel: usize },
    /// The `sched` head gives more than one output per candidate.
    Outputs { model: usize },
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SchemaMismatch::Version { model, kernel } => write!(
                f,
                "model has feature schema {model}, the kernel has {kernel}: retrain on this kernel's traces"
            ),
            SchemaMismatch::Input {
                window,
                features,
                kernel_window,
                kernel_features,
            } => write!(
                f,
                "model reads {window} ticks x {features} fields, the kernel gives {kernel_window} x {kernel_features}"
            ),
            SchemaMismatch::NoSchedHead => write!(f, "model has no `sched` head"),
            SchemaMismatch::CandidateFeatures { model, kernel } => write!(
                f,
                "`sched` head reads {model} features per task, the kernel gives {kernel}"
            ),
            SchemaMismatch::Outputs { model } => {
                write!(f, "`sched` head gives {model} outputs per task, expected 1")
            }
        }
    }
}

/// Checks that `model` reads exactly the kernel's telemetry schema and returns its `sched`
/// head index.
pub fn check_schema(model: &Model<'_>) -> Result<usize, SchemaMismatch> {
    use crate::telemetry::{SCHEMA_VERSION, TELEMETRY_FIELDS};
    // Model format 2: the telemetry schema is the `sched` input section's version.
    let version = model.section("sched").map_or(0, |s| s.version);
    if version != u32::from(SCHEMA_VERSION) {
        return Err(SchemaMismatch::Version {
            model: version,
            kernel: SCHEMA_VERSION,
        });
    }
    if (model.input_window(), model.input_features()) != (WINDOW_TICKS, TELEMETRY_FIELDS) {
        return Err(SchemaMismatch::Input {
            window: model.input_window(),
            features: model.input_features(),
            kernel_window: WINDOW_TICKS,
            kernel_features: TELEMETRY_FIELDS,
        });
    }
    let head = model
        .head_index("sched")
        .ok_or(SchemaMismatch::NoSchedHead)?;
    let features = model.head(head).map_or(0, |h| h.candidate_features);
    if features != CANDIDATE_FEATURES {
        return Err(SchemaMismatch::CandidateFeatures {
            model: features,
            kernel: CANDIDATE_FEATURES,
        });
    }
    match model.head_outputs(head) {
        Some(1) => Ok(head),
        other => Err(SchemaMismatch::Outputs {
            model: other.unwrap_or(0),
        }),
    }
}

/// Something that scores candidates from the telemetry window: the model, or a test double.
pub trait Scorer {
    /// Runs the backbone on `window` and writes one score per row of `rows` (higher runs
    /// first) to `scores` (same length).
    fn score(
        &mut self,
        window: &[i8; MODEL_INPUT_LEN],
        rows: &[i8],
        scores: &mut [i32],
    ) -> Result<(), model_runtime::RunError>;
}

/// The model-runtime [`Engine`] as a [`Scorer`] over the `sched` head.
pub struct ModelScorer<'m, 'a, 's> {
    engine: Engine<'m, 'a, 's>,
    head: usize,
}

/// Why a [`ModelScorer`] could not be built.
#[derive(Debug)]
pub enum ScorerError {
    /// The model does not read this kernel's features.
    Schema(SchemaMismatch),
    /// The engine refused the model (scratch, backend).
    Engine(EngineError),
}

impl fmt::Display for ScorerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScorerError::Schema(e) => write!(f, "{e}"),
            ScorerError::Engine(e) => write!(f, "{e}"),
        }
    }
}

impl<'m, 'a, 's> ModelScorer<'m, 'a, 's> {
    /// A scorer for `model` on `backend` in `scratch` ([`Model::scratch_len`] bytes), after
    /// checking its schema.
    pub fn new(
        model: &'m Model<'a>,
        backend: Backend,
        scratch: &'s mut [u8],
    ) -> Result<Self, ScorerError> {
        let head = check_schema(model).map_err(ScorerError::Schema)?;
        let engine = Engine::new(model, backend, scratch).map_err(ScorerError::Engine)?;
        Ok(Self { engine, head })
    }
}

impl Scorer for ModelScorer<'_, '_, '_> {
    fn score(
        &mut self,
        window: &[i8; MODEL_INPUT_LEN],
        rows: &[i8],
        scores: &mut [i32],
    ) -> Result<(), model_runtime::RunError> {
        self.engine.run_backbone(window)?;
        self.engine.run_head(self.head, rows, scores)
    }
}

/// The guards' settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// Most cycles (the caller's clock units) one inference may take.
    pub budget_cycles: u64,
    /// Judged decisions per regret window.
    pub regret_window: u32,
    /// Net hindsight regret (ticks of total turnaround lost against the shadow) a window may
    /// accumulate before the guard trips.
    pub regret_limit: i64,
    /// Ticks the shadow keeps the CPU after the regret guard trips.
    pub cooldown: Tick,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            // 100 µs at 3 GHz: a tenth of a 1 kHz tick.
            budget_cycles: 300_000,
            regret_window: 256,
            // Worse than the shadow on a net quarter of the window's decisions. The per-decision
            // judgement is biased against the model when tasks block: a tick given to a
            // CPU-bound task while the shadow's pick would soon sleep is often CPU that would
            // otherwise idle, yet it counts +1. At an eighth, a Gittins-trained model that beat
            // its mlfq shadow by 17% on `mix` still lost 4.3% of its decisions to this guard.
            regret_limit: 64,
            cooldown: 256,
        }
    }
}

/// One candidate: the task and its features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The task.
    pub id: TaskId,
    /// Its features at decision time.
    pub features: TaskFeatures,
}

/// What [`LearnedScheduler::decide`] chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The task to run (`None`: no candidates).
    pub chosen: Option<TaskId>,
    /// `Some` when the shadow's pick was used instead of the model's.
    pub fallback: Option<FallbackReason>,
    /// Clock units the inference took (0 when it did not run).
    pub inference_cycles: u64,
    /// Whether `scores` holds the model's scores for the candidates.
    pub scored: bool,
}

/// Disagreements with the shadow remembered for judgement.
const MAX_PENDING: usize = 1024;
/// Task ids whose total work the regret guard can remember.
const MAX_TASK_IDS: usize = 1024;

/// A decision where the model and the shadow disagreed: who each picked and how much CPU each
/// had used then.
#[derive(Clone, Copy, Debug)]
struct Pending {
    model: u32,
    model_used: u32,
    shadow: u32,
    shadow_used: u32,
}

impl Pending {
    const EMPTY: Pending = Pending {
        model: 0,
        model_used: 0,
        shadow: 0,
        shadow_used: 0,
    };
}

/// The first-tick rule: a task that has not yet been charged a tick (just arrived) runs one
/// before the model ranks it, the longest-waiting such task first. MLFQ's top queue does the
/// same, and it is what keeps response times short: the model is trained to minimise
/// turnaround (shortest remaining work), which alone lets a newcomer wait behind shorter work.
fn first_tick(candidates: &[Candidate]) -> Option<TaskId> {
    candidates
        .iter()
        .filter(|c| {
            let f = &c.features.0;
            f[feature::CPU_TOTAL] == 0 && f[feature::SLEEPS] == 0 && f[feature::RUNNING] == 0
        })
        .max_by_key(|c| (c.features.0[feature::WAITING], core::cmp::Reverse(c.id)))
        .map(|c| c.id)
}

/// The learned policy's decision logic and guards. See the module docs.
pub struct LearnedScheduler<S> {
    scorer: Result<S, FallbackReason>,
    config: GuardConfig,
    counts: FallbackCounts,
    regret: i64,
    window_decisions: u32,
    cooldown_until: Tick,
    /// Disagreements with the shadow awaiting both tasks' exits; oldest first.
    pending: [Pending; MAX_PENDING],
    pending_len: usize,
    /// Total CPU ticks of exited tasks, by task id (0: not exited or unknown).
    total_work: [u32; MAX_TASK_IDS],
    /// Disagreements dropped unjudged (the buffer was full or a task id out of range).
    unjudged: u64,
    /// A task exited since the pending decisions were last scanned.
    exited_since_scan: bool,
    first_ticks: u64,
    rows: [i8; MAX_SCORED * CANDIDATE_FEATURES],
    scores: [i32; MAX_SCORED],
}

impl<S: Scorer> LearnedScheduler<S> {
    /// A scheduler over `scorer`, or one that always falls back with the given reason
    /// ([`FallbackReason::NoWeights`] or [`FallbackReason::Schema`]) when there is none.
    pub fn new(scorer: Result<S, FallbackReason>, config: GuardConfig) -> Self {
        Self {
            scorer,
            config,
            counts: FallbackCounts::default(),
            regret: 0,
            window_decisions: 0,
            cooldown_until: 0,
            pending: [Pending::EMPTY; MAX_PENDING],
            pending_len: 0,
            total_work: [0; MAX_TASK_IDS],
            unjudged: 0,
            exited_since_scan: false,
            first_ticks: 0,
            rows: [0; MAX_SCORED * CANDIDATE_FEATURES],
            scores: [0; MAX_SCORED],
        }
    }

    /// Decisions and fallbacks so far.
    pub fn counts(&self) -> &FallbackCounts {
        &self.counts
    }

    /// Decisions the first-tick rule made (a newcomer's first tick, not a fallback).
    pub fn first_ticks(&self) -> u64 {
        self.first_ticks
    }

    /// Whether a model is loaded and matches the schema.
    pub fn has_model(&self) -> bool {
        self.scorer.is_ok()
    }

    /// The model's scores of the last decision that ran it, one per candidate.
    pub fn scores(&self, candidates: usize) -> &[i32] {
        &self.scores[..candidates.min(MAX_SCORED)]
    }

    /// Chooses among `candidates` at `now`: the model's best-scored one, or `shadow` (the
    /// shadow policy's pick on the same state) when a guard trips. `window` is the backbone
    /// input; `clock` reads a cycle counter around the inference. Candidates past
    /// [`MAX_SCORED`] are not considered by the model.
    pub fn decide(
        &mut self,
        now: Tick,
        window: &[i8; MODEL_INPUT_LEN],
        candidates: &[Candidate],
        shadow: Option<TaskId>,
        clock: &mut dyn FnMut() -> u64,
    ) -> Decision {
        if candidates.is_empty() {
            return Decision {
                chosen: None,
                fallback: None,
                inference_cycles: 0,
                scored: false,
            };
        }
        self.counts.decisions += 1;
        let fallback = |this: &mut Self, reason, cycles, scored| {
            this.counts.count(reason);
            Decision {
                chosen: shadow.or(Some(candidates[0].id)),
                fallback: Some(reason),
                inference_cycles: cycles,
                scored,
            }
        };
        let scorer = match &mut self.scorer {
            Ok(s) => s,
            Err(reason) => {
                let reason = *reason;
                return fallback(self, reason, 0, false);
            }
        };
        let n = candidates.len().min(MAX_SCORED);
        let (rows, _) = self.rows.as_chunks_mut::<CANDIDATE_FEATURES>();
        for (c, row) in candidates[..n].iter().zip(rows) {
            c.features.to_model_input(row);
        }
        let start = clock();
        let result = scorer.score(
            window,
            &self.rows[..n * CANDIDATE_FEATURES],
            &mut self.scores[..n],
        );
        let cycles = clock().saturating_sub(start);
        if result.is_err() {
            return fallback(self, FallbackReason::BadOutput, cycles, false);
        }
        let pick = match first_tick(&candidates[..n]) {
            Some(new) => {
                self.first_ticks += 1;
                new
            }
            None => candidates[model_runtime::argmax(&self.scores[..n]).unwrap_or(0)].id,
        };
        if cycles > self.config.budget_cycles {
            return fallback(self, FallbackReason::Budget, cycles, true);
        }
        self.judge(now, candidates, pick, shadow);
        if now < self.cooldown_until {
            return fallback(self, FallbackReason::Regret, cycles, true);
        }
        Decision {
            chosen: Some(pick),
            fallback: None,
            inference_cycles: cycles,
            scored: true,
        }
    }

    /// Task `id` exited having used `cpu_total` ticks: decisions about it can now be judged.
    pub fn on_exit(&mut self, id: TaskId, cpu_total: u64) {
        if let Some(slot) = self.total_work.get_mut(id.0 as usize) {
            *slot = cpu_total.clamp(1, u64::from(u32::MAX)) as u32;
            self.exited_since_scan = true;
        }
    }

    /// Disagreements dropped without judgement.
    pub fn unjudged(&self) -> u64 {
        self.unjudged
    }

    /// Remembers this decision for judgement, judges every remembered one whose tasks have
    /// both exited, and trips the guard at the end of a bad window.
    fn judge(&mut self, now: Tick, candidates: &[Candidate], pick: TaskId, shadow: Option<TaskId>) {
        let used = |id: TaskId| {
            candidates
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.features.0[feature::CPU_TOTAL].max(0) as u32)
        };
        match shadow {
            Some(s) if s != pick => match (used(pick), used(s)) {
                (Some(model_used), Some(shadow_used)) if self.pending_len < MAX_PENDING => {
                    self.pending[self.pending_len] = Pending {
                        model: pick.0,
                        model_used,
                        shadow: s.0,
                        shadow_used,
                    };
                    self.pending_len += 1;
                }
                _ => self.unjudged += 1,
            },
            // Agreeing with the shadow costs nothing.
            _ => self.count_judged(now, 0),
        }
        if !self.exited_since_scan {
            return;
        }
        self.exited_since_scan = false;
        let mut i = 0;
        while i < self.pending_len {
            let p = self.pending[i];
            let total = |id: u32| self.total_work.get(id as usize).copied().unwrap_or(0);
            let (tm, ts) = (total(p.model), total(p.shadow));
            if tm == 0 || ts == 0 {
                i += 1;
                continue;
            }
            let (left_m, left_s) = (
                tm.saturating_sub(p.model_used),
                ts.saturating_sub(p.shadow_used),
            );
            // The tick's cost in turnaround against the shadow's pick (module docs, "regret").
            let regret = left_m.cmp(&left_s) as i64;
            self.pending.copy_within(i + 1..self.pending_len, i);
            self.pending_len -= 1;
            self.count_judged(now, regret);
        }
    }

    /// Adds one judged decision's regret to the window; closes the window when full.
    fn count_judged(&mut self, now: Tick, regret: i64) {
        self.regret += regret;
        self.window_decisions += 1;
        if self.window_decisions >= self.config.regret_window {
            if self.regret > self.config.regret_limit {
                self.cooldown_until = now + self.config.cooldown;
            }
            self.regret = 0;
            self.window_decisions = 0;
        }
    }
}

#[cfg(test)]
mod tests;
