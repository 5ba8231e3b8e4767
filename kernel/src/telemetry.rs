//! The telemetry schema: what the model sees of the system each tick and of each task.
//!
//! One definition for the kernel (which fills it on the tick path), the trace (which records
//! it), the host tools (which print and export it) and the trainer (which learns from it). A
//! model file names the [`SCHEMA_VERSION`] it was trained on; the kernel refuses a model whose
//! version, window or widths differ (a *schema* fallback).
//!
//! Two vectors:
//! - [`Telemetry`]: system-wide counters of one tick ([`TELEMETRY_FIELDS`] `i32`s, integer
//!   units named in [`FIELDS`]). The backbone reads the last [`WINDOW_TICKS`] of them.
//! - [`TaskFeatures`]: one runnable task as the scheduler head sees it
//!   ([`CANDIDATE_FEATURES`] `i16`s, units in [`TASK_FEATURES`]).
//!
//! Both are stored raw (integers with units) in traces and quantized to the model's int8 input
//! by a fixed right shift per field and saturation ([`Field::shift`]); training applies the
//! same [`Telemetry::to_model_input`] and [`TaskFeatures::to_model_input`], so the kernel and
//! the trainer never disagree on what a unit is.
//!
//! # Invariants
//! - Field order and meaning change only together with [`SCHEMA_VERSION`].
//! - Every function here is allocation-free and cheap enough for the timer interrupt.

use crate::sched::{TaskState, TaskView, Tick};

/// Version of the field lists below. Bump it whenever a field is added, removed, reordered or
/// changes units or shift.
///
/// - 1: the first schema.
/// - 2: `cpu_total` at shift 1 instead of 3 (2-tick steps, saturating at 254 ticks): the
///   urgency of a short job (its Gittins index) changes within a few ticks of CPU, and at
///   8-tick steps the head could not tell a task about to finish from one just begun.
pub const SCHEMA_VERSION: u16 = 2;

/// Ticks of telemetry the backbone reads (oldest first).
pub const WINDOW_TICKS: usize = 8;

/// Fields of the per-tick system telemetry vector.
pub const TELEMETRY_FIELDS: usize = 12;

/// Features per scheduling candidate (the trace format carries exactly this many).
pub const CANDIDATE_FEATURES: usize = crate::trace::CANDIDATE_FEATURES;

/// Backbone input length: [`WINDOW_TICKS`] × [`TELEMETRY_FIELDS`] int8, tick-major.
pub const MODEL_INPUT_LEN: usize = WINDOW_TICKS * TELEMETRY_FIELDS;

/// One field of a vector: its name (CSV column, JSON key), unit and model-input shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Short snake_case name.
    pub name: &'static str,
    /// What it counts, for humans.
    pub unit: &'static str,
    /// Model input = `clamp(value >> shift, -128, 127)`.
    pub shift: u8,
}

const fn field(name: &'static str, unit: &'static str, shift: u8) -> Field {
    Field { name, unit, shift }
}

/// The system telemetry fields, in vector order.
pub const FIELDS: [Field; TELEMETRY_FIELDS] = [
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
pub const TASK_FEATURES: [Field; CANDIDATE_FEATURES] = [
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

/// Quantizes one raw value for the model.
fn to_i8(value: i64, shift: u8) -> i8 {
    (value >> shift).clamp(i8::MIN.into(), i8::MAX.into()) as i8
}

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

/// The system telemetry vector of one tick (raw integer units, see [`FIELDS`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Telemetry(pub [i32; TELEMETRY_FIELDS]);

impl Telemetry {
    /// The vector at `now` from every live task's view, whether a task ran this tick, and the
    /// tick's events. `tasks` are the spawned, not yet exited tasks (idle excluded).
    pub fn snapshot<'v>(
        now: Tick,
        tasks: impl Iterator<Item = &'v TaskView>,
        busy: bool,
        events: &TickEvents,
    ) -> Self {
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
        Telemetry([
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
        ])
    }

    /// The model's int8 view of this vector (one tick of the backbone input).
    pub fn to_model_input(&self, out: &mut [i8; TELEMETRY_FIELDS]) {
        for ((o, &v), f) in out.iter_mut().zip(&self.0).zip(&FIELDS) {
            *o = to_i8(v.into(), f.shift);
        }
    }
}

/// One scheduling candidate's features (raw integer units, see [`TASK_FEATURES`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskFeatures(pub [i16; CANDIDATE_FEATURES]);

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
    pub fn to_model_input(&self, out: &mut [i8; CANDIDATE_FEATURES]) {
        for ((o, &v), f) in out.iter_mut().zip(&self.0).zip(&TASK_FEATURES) {
            *o = to_i8(v.into(), f.shift);
        }
    }
}

/// The last [`WINDOW_TICKS`] telemetry vectors, already quantized, oldest first.
#[derive(Clone, Debug)]
pub struct TelemetryWindow {
    /// Tick-major ring of quantized vectors; `head` is the oldest.
    rows: [[i8; TELEMETRY_FIELDS]; WINDOW_TICKS],
    head: usize,
}

impl Default for TelemetryWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl TelemetryWindow {
    /// A window of all-zero ticks (the system before boot).
    pub const fn new() -> Self {
        Self {
            rows: [[0; TELEMETRY_FIELDS]; WINDOW_TICKS],
            head: 0,
        }
    }

    /// Appends one tick, forgetting the oldest.
    pub fn push(&mut self, t: &Telemetry) {
        t.to_model_input(&mut self.rows[self.head]);
        self.head = (self.head + 1) % WINDOW_TICKS;
    }

    /// The backbone input, oldest tick first.
    pub fn model_input(&self, out: &mut [i8; MODEL_INPUT_LEN]) {
        for i in 0..WINDOW_TICKS {
            let row = &self.rows[(self.head + i) % WINDOW_TICKS];
            out[i * TELEMETRY_FIELDS..][..TELEMETRY_FIELDS].copy_from_slice(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::{TaskClass, TaskId};

    #[test]
    fn names_are_unique_snake_case() {
        for list in [&FIELDS[..], &TASK_FEATURES[..]] {
            for (i, f) in list.iter().enumerate() {
                assert!(f.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                assert!(list[..i].iter().all(|g| g.name != f.name), "{}", f.name);
            }
        }
    }

    #[test]
    fn feature_indices_name_their_fields() {
        use feature::*;
        let named = [
            (CPU_RECENT, "cpu_recent"),
            (WAITING, "waiting"),
            (CPU_TOTAL, "cpu_total"),
            (AGE, "age"),
            (SLEEPS, "sleeps"),
            (BURST, "burst"),
            (CLASS, "class"),
            (RUNNING, "running"),
        ];
        for (i, name) in named {
            assert_eq!(TASK_FEATURES[i].name, name);
        }
    }

    #[test]
    fn snapshot_counts_states_and_waits() {
        let mut a = TaskView::new(TaskId(1), 0);
        a.on_dispatch(0);
        let b = TaskView::new(TaskId(2), 4);
        let mut c = TaskView::new(TaskId(3), 0);
        c.on_block(2);
        let events = TickEvents {
            arrivals: 1,
            switches: 2,
            ..TickEvents::default()
        };
        let t = Telemetry::snapshot(10, [a, b, c].iter(), true, &events);
        assert_eq!(t.0[..5], [2, 1, 1, 3, 1]);
        assert_eq!(t.0[8], 2);
        assert_eq!((t.0[9], t.0[10]), (3, 6), "waits: a 0 (running), b 6");
    }

    #[test]
    fn model_input_saturates_and_shifts() {
        let mut t = Telemetry::default();
        t.0[0] = 1000;
        t.0[9] = 40;
        let mut q = [0i8; TELEMETRY_FIELDS];
        t.to_model_input(&mut q);
        assert_eq!((q[0], q[9]), (127, 10));
        let mut v = TaskView::new(TaskId(1), 0).with_class(TaskClass::Interactive);
        v.on_dispatch(0);
        for t in 1..=30 {
            v.on_ran_tick(t);
        }
        let f = TaskFeatures::of(&v, 30, true);
        assert_eq!(f.0, [30, 0, 30, 30, 0, 30, 2, 1]);
        let mut q = [0i8; CANDIDATE_FEATURES];
        f.to_model_input(&mut q);
        assert_eq!(q, [30, 0, 15, 1, 0, 15, 2, 1]);
    }

    #[test]
    fn window_is_oldest_first() {
        let mut w = TelemetryWindow::new();
        for tick in 1..=(WINDOW_TICKS as i32 + 2) {
            let mut t = Telemetry::default();
            t.0[0] = tick;
            w.push(&t);
        }
        let mut input = [0i8; MODEL_INPUT_LEN];
        w.model_input(&mut input);
        let firsts: [i8; WINDOW_TICKS] = core::array::from_fn(|i| input[i * TELEMETRY_FIELDS]);
        assert_eq!(firsts, core::array::from_fn(|i| i as i8 + 3));
    }
}
