//! The scheduler's telemetry: its section of the per-tick vector, and the features of each
//! scheduling candidate (the `sched` head's input).
//!
//! Both are versioned on their own ([`VERSION`], [`TASK_FEATURES_VERSION`]); the model file
//! records the versions it was trained on (`learn::schema`).

use super::{Field, field, to_i8};
use crate::sched::{TaskState, TaskView, Tick};

/// Version of the section's field list ([`FIELDS`]).
///
/// - 1: the first schema.
/// - 2: the version number the whole schema had when the task features' `cpu_total` moved to
///   shift 1; the section's own fields did not change, and it keeps the number so that models
///   trained then still load.
pub const VERSION: u32 = 2;

/// Version of the candidate features ([`TASK_FEATURES`]).
///
/// - 1: the first schema.
/// - 2: `cpu_total` at shift 1 instead of 3 (2-tick steps, saturating at 254 ticks): the
///   urgency of a short job (its Gittins index) changes within a few ticks of CPU, and at
///   8-tick steps the head could not tell a task about to finish from one just begun.
pub const TASK_FEATURES_VERSION: u32 = 2;

/// The section's code in trace telemetry records.
pub const SECTION_CODE: u8 = 1;

/// Indices of the section's fields in [`FIELDS`] (and in the telemetry vector: the section
/// starts at 0).
pub mod field {
    /// Tasks runnable or running.
    pub const RUNNABLE: usize = 0;
    /// Whether a task ran this tick.
    pub const BUSY: usize = 1;
    /// Tasks blocked.
    pub const BLOCKED: usize = 2;
    /// Tasks alive.
    pub const ALIVE: usize = 3;
    /// Arrivals this tick.
    pub const ARRIVALS: usize = 4;
    /// Exits this tick.
    pub const EXITS: usize = 5;
    /// Wake-ups this tick.
    pub const WAKEUPS: usize = 6;
    /// Blocks this tick.
    pub const BLOCKS: usize = 7;
    /// Context switches this tick.
    pub const SWITCHES: usize = 8;
    /// Mean wait of the runnable tasks.
    pub const WAIT_MEAN: usize = 9;
    /// Longest wait of a runnable task.
    pub const WAIT_MAX: usize = 10;
    /// Mean recent CPU of the runnable tasks.
    pub const CPU_RECENT_MEAN: usize = 11;
}

/// The section's fields, in vector order (indices: [`field`]).
pub const FIELDS: [Field; 12] = [
    field("runnable", "tasks runnable or running", 0),
    field("busy", "1 if a task (not idle) ran this tick", 0),
    field("blocked", "tasks sleeping or waiting", 0),
    field("alive", "tasks spawned and not exited", 0),
    field("arrivals", "tasks that arrived this tick", 0),
    field("exits", "tasks that exited this tick", 0),
    field("wakeups", "tasks woken this tick", 0),
    field("blocks", "tasks that blocked this tick", 0),
    field("switches", "context switches this tick", 0),
    field("wait_mean", "mean ticks the runnable tasks have waited", 2),
    field("wait_max", "longest ticks a runnable task has waited", 3),
    field(
        "cpu_recent_mean",
        "mean CPU ticks of runnable tasks in the last 64 ticks",
        0,
    ),
];

/// Indices of the per-task features in [`TASK_FEATURES`] (and in trace candidates).
pub mod feature {
    /// `cpu_recent`.
    pub const CPU_RECENT: usize = 0;
    /// `waiting`.
    pub const WAITING: usize = 1;
    /// `cpu_total` (raw: CPU ticks since spawn).
    pub const CPU_TOTAL: usize = 2;
    /// `age`.
    pub const AGE: usize = 3;
    /// `sleeps`.
    pub const SLEEPS: usize = 4;
    /// `burst`.
    pub const BURST: usize = 5;
    /// `class` ([`crate::sched::TaskClass::code`]).
    pub const CLASS: usize = 6;
    /// `running`.
    pub const RUNNING: usize = 7;
}

/// The per-task (candidate) feature fields, in vector order (indices: [`feature`]).
pub const TASK_FEATURES: [Field; 8] = [
    field("cpu_recent", "CPU ticks used in the last 64 ticks", 0),
    field("waiting", "ticks waited since it last became runnable", 1),
    field("cpu_total", "CPU ticks used since spawn", 1),
    field("age", "ticks since spawn", 4),
    field("sleeps", "times it blocked", 0),
    field(
        "burst",
        "mean CPU ticks between blocks (cpu_total / (sleeps + 1))",
        1,
    ),
    field("class", "0 normal, 1 batch, 2 interactive", 0),
    field("running", "1 if it holds the CPU now", 0),
];

/// Saturates a count into an `i32` field.
fn sat32(v: u64) -> i32 {
    v.min(i32::MAX as u64) as i32
}

/// Saturates a count into an `i16` feature.
fn sat16(v: u64) -> i16 {
    v.min(i16::MAX as u64) as i16
}

/// Event counts of one tick, which the scheduler core accumulates as things happen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickEvents {
    /// Tasks that arrived.
    pub arrivals: u32,
    /// Tasks that exited.
    pub exits: u32,
    /// Tasks woken.
    pub wakeups: u32,
    /// Tasks that blocked.
    pub blocks: u32,
    /// Context switches.
    pub switches: u32,
}

/// The section's fields at `now` from every live task's view, whether a task ran this tick,
/// and the tick's events. `tasks` are the spawned, not yet exited tasks (idle excluded).
pub fn snapshot<'v>(
    now: Tick,
    tasks: impl Iterator<Item = &'v TaskView>,
    busy: bool,
    events: &TickEvents,
) -> [i32; FIELDS.len()] {
    let (mut runnable, mut blocked, mut alive) = (0u64, 0u64, 0u64);
    let (mut wait_sum, mut wait_max, mut recent_sum) = (0u64, 0u64, 0u64);
    for v in tasks {
        alive += 1;
        match v.state {
            TaskState::Runnable | TaskState::Running => {
                runnable += 1;
                let w = v.waiting(now);
                wait_sum += w;
                wait_max = wait_max.max(w);
                recent_sum += v.cpu_recent(now);
            }
            TaskState::Blocked => blocked += 1,
            TaskState::Exited => alive -= 1,
        }
    }
    let mean = |sum: u64| sum.checked_div(runnable).unwrap_or(0);
    [
        sat32(runnable),
        i32::from(busy),
        sat32(blocked),
        sat32(alive),
        events.arrivals as i32,
        events.exits as i32,
        events.wakeups as i32,
        events.blocks as i32,
        events.switches as i32,
        sat32(mean(wait_sum)),
        sat32(wait_max),
        sat32(mean(recent_sum)),
    ]
}

/// One scheduling candidate's features (raw integer units, see [`TASK_FEATURES`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskFeatures(pub [i16; TASK_FEATURES.len()]);

impl TaskFeatures {
    /// The features of `task` at `now`; `running` says whether it holds the CPU.
    pub fn of(task: &TaskView, now: Tick, running: bool) -> Self {
        TaskFeatures([
            sat16(task.cpu_recent(now)),
            sat16(task.waiting(now)),
            sat16(task.cpu_total),
            sat16(now.saturating_sub(task.arrival)),
            sat16(task.sleeps.into()),
            sat16(task.cpu_total / (u64::from(task.sleeps) + 1)),
            i16::from(task.class.code()),
            i16::from(running),
        ])
    }

    /// The scheduler head's int8 input row for this candidate.
    pub fn to_model_input(&self, out: &mut [i8; TASK_FEATURES.len()]) {
        for ((o, &v), f) in out.iter_mut().zip(&self.0).zip(&TASK_FEATURES) {
            *o = to_i8(v.into(), f.shift);
        }
    }
}
