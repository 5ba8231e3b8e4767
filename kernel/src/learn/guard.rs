//! The guard every learned head runs behind: why a decision fell back to the head's classical
//! shadow, how often, and the generic checks (no weights, schema, budget, bad output, regret).
//!
//! A [`Guarded`] head never returns anything but one of its candidates or "the shadow's
//! choice". The checks run in a fixed order, the one the scheduler has always used, so a
//! head's decisions do not depend on which subsystem it serves:
//! 1. **no-weights / schema / integrity**: the head has no usable slot in the loaded model
//!    (no file, a refused file, or a head trained on other features): every decision is the
//!    shadow's, with that reason;
//! 2. **bad-output**: the runtime refused to run (it never should with a validated model);
//! 3. **budget**: the inference (backbone, if this call ran it, plus head) took longer than
//!    [`GuardConfig::budget_cycles`]: its answer comes too late;
//! 4. **regret**: the head's own hook ([`Head::judge`]) scores the decision against the
//!    shadow's in hindsight and feeds a [`RegretWindow`]; a bad window hands the decisions to
//!    the shadow for [`GuardConfig::cooldown`] (the model keeps being scored and judged
//!    meanwhile, so it regains control only by showing a good window).
//!
//! # Invariants
//! - `decide` returns [`Choice::Model`] only with an index into the given candidates.
//! - No allocation after construction: rows and scores live in buffers sized once.

use super::head::Head;
use super::pipeline::{Inference, Pipeline};
use alloc::boxed::Box;
use alloc::vec;
use core::fmt;

/// Why the classical shadow decided instead of the model. The discriminant is the reason's
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
    /// The weight file's integrity digest does not match its contents.
    Integrity = 6,
}

impl FallbackReason {
    /// Every reason, in code order.
    pub const ALL: [FallbackReason; 6] = [
        FallbackReason::NoWeights,
        FallbackReason::Schema,
        FallbackReason::Budget,
        FallbackReason::Regret,
        FallbackReason::BadOutput,
        FallbackReason::Integrity,
    ];

    /// Short name, as in summaries and exports.
    pub fn name(self) -> &'static str {
        match self {
            FallbackReason::NoWeights => "no-weights",
            FallbackReason::Schema => "schema",
            FallbackReason::Budget => "budget",
            FallbackReason::Regret => "regret",
            FallbackReason::BadOutput => "bad-output",
            FallbackReason::Integrity => "integrity",
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

/// Decisions taken and fallbacks counted by reason, for one head.
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

/// The guards' settings, in the head's units of time (ticks for the scheduler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// Most cycles (the caller's clock units) one inference may take.
    pub budget_cycles: u64,
    /// Judged decisions per regret window.
    pub regret_window: u32,
    /// Net hindsight regret a window may accumulate before the guard trips.
    pub regret_limit: i64,
    /// Time the shadow keeps the decisions after the regret guard trips.
    pub cooldown: u64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            // 100 µs at 3 GHz: a tenth of a 1 kHz tick.
            budget_cycles: 300_000,
            regret_window: 256,
            // Worse than the shadow on a net quarter of the window's decisions. The scheduler's
            // per-decision judgement is biased against the model when tasks block: a tick given
            // to a CPU-bound task while the shadow's pick would soon sleep is often CPU that
            // would otherwise idle, yet it counts +1. At an eighth, a Gittins-trained model that
            // beat its mlfq shadow by 17% on `mix` still lost 4.3% of its decisions here.
            regret_limit: 64,
            cooldown: 256,
        }
    }
}

/// Windows of judged decisions: each judged decision adds its regret (positive: the model's
/// choice cost more than the shadow's would have); a full window over the limit trips the
/// guard until `now + cooldown`.
#[derive(Clone, Copy, Debug)]
pub struct RegretWindow {
    config: GuardConfig,
    regret: i64,
    decisions: u32,
    cooldown_until: u64,
    trips: u64,
}

impl RegretWindow {
    /// An empty window under `config`.
    pub fn new(config: GuardConfig) -> Self {
        Self {
            config,
            regret: 0,
            decisions: 0,
            cooldown_until: 0,
            trips: 0,
        }
    }

    /// Adds one judged decision's `regret`; closes the window when full.
    pub fn count(&mut self, now: u64, regret: i64) {
        self.regret += regret;
        self.decisions += 1;
        if self.decisions >= self.config.regret_window {
            if self.regret > self.config.regret_limit {
                self.cooldown_until = now + self.config.cooldown;
                self.trips += 1;
            }
            self.regret = 0;
            self.decisions = 0;
        }
    }

    /// Whether the shadow holds the decisions at `now`.
    pub fn tripped(&self, now: u64) -> bool {
        now < self.cooldown_until
    }

    /// Times a window tripped the guard.
    pub fn trips(&self) -> u64 {
        self.trips
    }
}

/// Who a guarded decision went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The model's pick: an index into the candidates.
    Model(usize),
    /// The shadow's pick (the caller knows it), with the reason.
    Shadow(FallbackReason),
}

/// What [`Guarded::decide`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `None`: there were no candidates (no decision was taken).
    pub choice: Option<Choice>,
    /// Clock units the inference took (0 when it did not run).
    pub inference_cycles: u64,
    /// Whether [`Guarded::scores`] holds the model's scores for these candidates.
    pub scored: bool,
}

impl Outcome {
    /// The fallback reason, if the shadow decided.
    pub fn fallback(&self) -> Option<FallbackReason> {
        match self.choice {
            Some(Choice::Shadow(r)) => Some(r),
            _ => None,
        }
    }
}

/// A head behind the generic guard: see the module docs.
pub struct Guarded<H: Head> {
    head: H,
    /// The head's index in the loaded model, or why it cannot run.
    slot: Result<usize, FallbackReason>,
    counts: FallbackCounts,
    regret: RegretWindow,
    config: GuardConfig,
    rows: Box<[i8]>,
    scores: Box<[i32]>,
}

impl<H: Head> Guarded<H> {
    /// `head` at model head index `slot` (or always the shadow, with that reason), scoring at
    /// most `max_candidates` per decision.
    pub fn new(
        head: H,
        slot: Result<usize, FallbackReason>,
        config: GuardConfig,
        max_candidates: usize,
    ) -> Self {
        Self {
            head,
            slot,
            counts: FallbackCounts::default(),
            regret: RegretWindow::new(config),
            config,
            rows: vec![0; max_candidates * H::FEATURES].into_boxed_slice(),
            scores: vec![0; max_candidates * H::OUTPUTS].into_boxed_slice(),
        }
    }

    /// The head's own state.
    pub fn head(&self) -> &H {
        &self.head
    }

    /// The head's own state, to feed it outcomes (exits, next uses).
    pub fn head_mut(&mut self) -> &mut H {
        &mut self.head
    }

    /// Decisions and fallbacks so far.
    pub fn counts(&self) -> &FallbackCounts {
        &self.counts
    }

    /// The regret window (trips so far).
    pub fn regret(&self) -> &RegretWindow {
        &self.regret
    }

    /// Whether a model head is loaded for this head.
    pub fn has_model(&self) -> bool {
        self.slot.is_ok()
    }

    /// Most candidates one decision scores.
    pub fn max_candidates(&self) -> usize {
        self.scores.len() / H::OUTPUTS
    }

    /// The model's scores of the last decision that ran it, `OUTPUTS` per candidate.
    pub fn scores(&self, candidates: usize) -> &[i32] {
        &self.scores[..(candidates * H::OUTPUTS).min(self.scores.len())]
    }

    /// Decides among `candidates` at `now` (the head's time unit): the model's choice through
    /// `pipeline`, or the shadow's when a guard trips. `shadow` is the index of the shadow's
    /// own pick among the candidates, when it is one of them (the regret hook compares the
    /// two). Candidates past [`Guarded::max_candidates`] are not considered by the model.
    pub fn decide<I: Inference>(
        &mut self,
        pipeline: &mut Pipeline<I>,
        now: u64,
        candidates: &[H::Candidate],
        shadow: Option<usize>,
        clock: &mut dyn FnMut() -> u64,
    ) -> Outcome {
        if candidates.is_empty() {
            return Outcome {
                choice: None,
                inference_cycles: 0,
                scored: false,
            };
        }
        self.counts.decisions += 1;
        let fallback = |this: &mut Self, reason, cycles, scored| {
            this.counts.count(reason);
            Outcome {
                choice: Some(Choice::Shadow(reason)),
                inference_cycles: cycles,
                scored,
            }
        };
        let slot = match self.slot {
            Ok(slot) => slot,
            Err(reason) => return fallback(self, reason, 0, false),
        };
        let n = candidates.len().min(self.max_candidates());
        for (c, row) in candidates[..n]
            .iter()
            .zip(self.rows.chunks_exact_mut(H::FEATURES))
        {
            self.head.encode(c, row);
        }
        let start = clock();
        let result = pipeline.score(
            slot,
            &self.rows[..n * H::FEATURES],
            &mut self.scores[..n * H::OUTPUTS],
        );
        let cycles = clock().saturating_sub(start);
        if result.is_err() {
            return fallback(self, FallbackReason::BadOutput, cycles, false);
        }
        let pick = self
            .head
            .choose(&candidates[..n], &self.scores[..n * H::OUTPUTS])
            .min(n - 1);
        if cycles > self.config.budget_cycles {
            return fallback(self, FallbackReason::Budget, cycles, true);
        }
        self.head
            .judge(now, candidates, pick, shadow, &mut self.regret);
        if self.regret.tripped(now) {
            return fallback(self, FallbackReason::Regret, cycles, true);
        }
        Outcome {
            choice: Some(Choice::Model(pick)),
            inference_cycles: cycles,
            scored: true,
        }
    }
}
