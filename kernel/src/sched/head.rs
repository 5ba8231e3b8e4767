//! The scheduler's head: the model scores every runnable task, and the best-scored one runs.
//!
//! [`SchedHead`] is the scheduler's [`Head`] for the learned layer: its candidates are tasks
//! with their [`TaskFeatures`], its pick is the best score (after the first-tick rule), and its
//! regret hook judges each disagreement with the shadow by the interchange argument once both
//! tasks have exited. [`LearnedScheduler`] is that head behind the generic guard.
//!
//! # The first-tick rule
//! A task that has not been charged a tick yet (it just arrived) runs before the model's pick,
//! oldest first: the model ranks by expected remaining work, which serves turnaround but
//! would let a newcomer queue behind shorter work, and response time (time to first run) is a
//! metric of its own. Such decisions are the learned policy's, not fallbacks, and are counted
//! ([`SchedHead::first_ticks`]); the guards judge them like any other.
//!
//! # Regret (the hook)
//! Every decision where the model and the shadow disagree is remembered with both tasks' CPU
//! use at that moment; once both tasks have exited ([`SchedHead::on_exit`] gives their total
//! CPU), the decision's regret is known exactly. By the interchange argument behind shortest
//! remaining work, one tick given to the task with more work left instead of the one with less
//! delays the shorter task's completion by that tick and completes nothing sooner: +1 tick of
//! total turnaround; the other way round saves one; equal work left costs nothing. Agreements
//! count as zero. The judgement lags the decisions (tasks must finish first); decisions about
//! tasks that never exit are never judged.

use super::{TaskId, Tick};
use crate::learn::schema::{self, HeadSpec, SchemaMismatch};
use crate::learn::{Guarded, Head, RegretWindow};
use crate::telemetry::TaskFeatures;
use crate::telemetry::sched::{TASK_FEATURES, TASK_FEATURES_VERSION, feature};
use model_runtime::Model;

/// Most candidates one decision scores.
pub const MAX_SCORED: usize = 256;

/// The learned scheduling policy: the scheduler's head behind the guard.
pub type LearnedScheduler = Guarded<SchedHead>;

/// One candidate: the task and its features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The task.
    pub id: TaskId,
    /// Its features at decision time.
    pub features: TaskFeatures,
}

/// Disagreements with the shadow remembered for judgement.
const MAX_PENDING: usize = 1024;
/// Task ids whose total work the regret hook can remember.
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

/// The scheduler's head: see the module docs.
pub struct SchedHead {
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
}

impl Default for SchedHead {
    fn default() -> Self {
        Self {
            pending: [Pending::EMPTY; MAX_PENDING],
            pending_len: 0,
            total_work: [0; MAX_TASK_IDS],
            unjudged: 0,
            exited_since_scan: false,
            first_ticks: 0,
        }
    }
}

impl SchedHead {
    /// The head's spec, as the weight check reads it.
    pub const SPEC: HeadSpec = HeadSpec::of::<SchedHead>();

    /// Decisions the first-tick rule made (a newcomer's first tick, not a fallback).
    pub fn first_ticks(&self) -> u64 {
        self.first_ticks
    }

    /// Disagreements dropped without judgement.
    pub fn unjudged(&self) -> u64 {
        self.unjudged
    }

    /// Task `id` exited having used `cpu_total` ticks: decisions about it can now be judged.
    pub fn on_exit(&mut self, id: TaskId, cpu_total: u64) {
        if let Some(slot) = self.total_work.get_mut(id.0 as usize) {
            *slot = cpu_total.clamp(1, u64::from(u32::MAX)) as u32;
            self.exited_since_scan = true;
        }
    }
}

/// The first-tick rule: a task that has not yet been charged a tick (just arrived) runs one
/// before the model ranks it, the longest-waiting such task first. MLFQ's top queue does the
/// same, and it is what keeps response times short.
fn first_tick(candidates: &[Candidate]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let f = &c.features.0;
            f[feature::CPU_TOTAL] == 0 && f[feature::SLEEPS] == 0 && f[feature::RUNNING] == 0
        })
        .max_by_key(|(_, c)| (c.features.0[feature::WAITING], core::cmp::Reverse(c.id)))
        .map(|(i, _)| i)
}

impl Head for SchedHead {
    const NAME: &'static str = "sched";
    const CODE: u8 = crate::trace::head::SCHED;
    const FEATURES_VERSION: u32 = TASK_FEATURES_VERSION;
    const FEATURES: usize = TASK_FEATURES.len();
    type Candidate = Candidate;

    fn encode(&self, c: &Candidate, row: &mut [i8]) {
        if let Ok(row) = <&mut [i8; TASK_FEATURES.len()]>::try_from(row) {
            c.features.to_model_input(row);
        }
    }

    fn choose(&mut self, candidates: &[Candidate], scores: &[i32]) -> usize {
        match first_tick(candidates) {
            Some(new) => {
                self.first_ticks += 1;
                new
            }
            None => model_runtime::argmax(scores).unwrap_or(0),
        }
    }

    fn judge(
        &mut self,
        now: Tick,
        candidates: &[Candidate],
        pick: usize,
        shadow: Option<usize>,
        window: &mut RegretWindow,
    ) {
        let used = |c: &Candidate| c.features.0[feature::CPU_TOTAL].max(0) as u32;
        match shadow {
            Some(s) if candidates[s].id != candidates[pick].id => {
                if self.pending_len < MAX_PENDING {
                    self.pending[self.pending_len] = Pending {
                        model: candidates[pick].id.0,
                        model_used: used(&candidates[pick]),
                        shadow: candidates[s].id.0,
                        shadow_used: used(&candidates[s]),
                    };
                    self.pending_len += 1;
                } else {
                    self.unjudged += 1;
                }
            }
            // Agreeing with the shadow costs nothing.
            _ => window.count(now, 0),
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
            window.count(now, regret);
        }
    }
}

/// Checks that `model`'s backbone reads this kernel's telemetry and that it has a `sched` head
/// for this kernel's task features; returns the head's index.
pub fn check_schema(model: &Model<'_>) -> Result<usize, SchemaMismatch> {
    schema::check_model(model, &SchedHead::SPEC)
}

#[cfg(test)]
mod tests;
