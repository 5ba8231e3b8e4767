//! The per-task view: everything a policy, the replay and the model's feature extractor know
//! about one task.
//!
//! One definition, so that "CPU used recently" or "time waited" means the same in the kernel,
//! in host replay and in the training data. The core (kernel task table or
//! [`Replay`](super::replay::Replay)) owns each view and updates it through the `on_*` methods;
//! policies only read it. Counters that change every tick for tasks that are *not* running
//! (time waited, the recent-CPU window) are computed lazily from timestamps, so the tick path
//! touches only the running task's view.
//!
//! Nice values and their weights follow Linux (`kernel/sched/core.c`, `sched_prio_to_weight`):
//! each nice step is about 10 % of CPU, nice 0 weighs [`NICE_0_WEIGHT`].

use super::{TaskId, Tick};

/// Length of the recent-CPU window, in ticks: one bit per tick in a `u64`.
pub const RECENT_WINDOW_TICKS: Tick = 64;

/// Weight of a nice-0 task (Linux `NICE_0_LOAD` without the fixed-point shift).
pub const NICE_0_WEIGHT: u32 = 1024;

/// Linux's `sched_prio_to_weight`: nice -20 … 19 → weight, each step ×1.25.
const PRIO_TO_WEIGHT: [u32; 40] = [
    88761, 71755, 56483, 46273, 36291, // -20 … -16
    29154, 23254, 18705, 14949, 11916, // -15 … -11
    9548, 7620, 6100, 4904, 3906, // -10 … -6
    3121, 2501, 1991, 1586, 1277, // -5 … -1
    1024, 820, 655, 526, 423, // 0 … 4
    335, 272, 215, 172, 137, // 5 … 9
    110, 87, 70, 56, 45, // 10 … 14
    36, 29, 23, 18, 15, // 15 … 19
];

/// A nice value, clamped to Linux's range −20 (most CPU) ..= 19 (least).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Nice(i8);

impl Nice {
    /// The most favoured nice value.
    pub const MIN: i8 = -20;
    /// The least favoured nice value.
    pub const MAX: i8 = 19;

    /// `value` clamped into −20 ..= 19.
    pub const fn new(value: i8) -> Self {
        let v = if value < Self::MIN {
            Self::MIN
        } else if value > Self::MAX {
            Self::MAX
        } else {
            value
        };
        Self(v)
    }

    /// The nice value itself.
    pub const fn get(self) -> i8 {
        self.0
    }
}

/// The CFS load weight of a nice value.
pub const fn nice_to_weight(nice: Nice) -> u32 {
    // `nice.0 - MIN` is in 0..40 by construction of `Nice`.
    PRIO_TO_WEIGHT[(nice.0 as i16 - Nice::MIN as i16) as usize]
}

/// What kind of work a task says it does (a feature for the model; classical policies ignore it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum TaskClass {
    /// No declared behaviour.
    #[default]
    Normal,
    /// Throughput work that tolerates latency.
    Batch,
    /// Latency-sensitive work: short bursts and sleeps.
    Interactive,
}

impl TaskClass {
    /// Every class, in trace-code order (the `class` code of trace records and features).
    pub const ALL: [TaskClass; 3] = [TaskClass::Normal, TaskClass::Batch, TaskClass::Interactive];

    /// The class's code in traces and task features: 0 normal, 1 batch, 2 interactive.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Lowercase name, as tools print it.
    pub const fn name(self) -> &'static str {
        match self {
            TaskClass::Normal => "normal",
            TaskClass::Batch => "batch",
            TaskClass::Interactive => "interactive",
        }
    }

    /// The class with trace code `code`.
    pub fn from_code(code: u8) -> Option<TaskClass> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for the CPU.
    Runnable,
    /// On the CPU.
    Running,
    /// Sleeping or waiting.
    Blocked,
    /// Finished.
    Exited,
}

/// What policies and the feature extractor see of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskView {
    /// Identity.
    pub id: TaskId,
    /// Declared kind of work.
    pub class: TaskClass,
    /// Nice value (see [`nice_to_weight`]).
    pub nice: Nice,
    /// Tick at which the task was spawned (arrived).
    pub arrival: Tick,
    /// Total CPU work in ticks, when known (replay, the oracle) or estimated; `None` if unknown.
    pub work: Option<Tick>,
    /// Life-cycle state.
    pub state: TaskState,
    /// Tick at which it first ran.
    pub first_run: Option<Tick>,
    /// End of the last tick it ran (the tick after it).
    pub last_ran: Option<Tick>,
    /// CPU ticks used since spawn.
    pub cpu_total: Tick,
    /// Ticks spent runnable but not running, since spawn.
    pub waited_total: Tick,
    /// Ticks spent blocked, since spawn.
    pub blocked_total: Tick,
    /// Times it blocked (slept or waited).
    pub sleeps: u32,
    /// Times it was woken.
    pub wakeups: u32,
    /// Tick at which it last entered its current state.
    pub state_since: Tick,
    /// Bit `i` set: it ran during tick `recent_at - 1 - i`.
    recent_bits: u64,
    /// The tick that `recent_bits` is aligned to.
    recent_at: Tick,
}

impl TaskView {
    /// A task spawned at `arrival`, runnable from then on.
    pub const fn new(id: TaskId, arrival: Tick) -> Self {
        Self {
            id,
            class: TaskClass::Normal,
            nice: Nice::new(0),
            arrival,
            work: None,
            state: TaskState::Runnable,
            first_run: None,
            last_ran: None,
            cpu_total: 0,
            waited_total: 0,
            blocked_total: 0,
            sleeps: 0,
            wakeups: 0,
            state_since: arrival,
            recent_bits: 0,
            recent_at: arrival,
        }
    }

    /// The same view with a class.
    pub const fn with_class(mut self, class: TaskClass) -> Self {
        self.class = class;
        self
    }

    /// The same view with a nice value.
    pub const fn with_nice(mut self, nice: Nice) -> Self {
        self.nice = nice;
        self
    }

    /// The same view with known (or estimated) total work.
    pub const fn with_work(mut self, work: Tick) -> Self {
        self.work = Some(work);
        self
    }

    /// CFS load weight of its nice value.
    pub const fn weight(&self) -> u32 {
        nice_to_weight(self.nice)
    }

    /// Work left in ticks, if its total work is known.
    pub fn remaining_work(&self) -> Option<Tick> {
        self.work.map(|w| w.saturating_sub(self.cpu_total))
    }

    /// Ticks waited since it last became runnable or last ran (0 unless runnable).
    pub fn waiting(&self, now: Tick) -> Tick {
        match self.state {
            TaskState::Runnable => now.saturating_sub(self.state_since),
            _ => 0,
        }
    }

    /// CPU ticks it used in the last [`RECENT_WINDOW_TICKS`] ticks before `now`.
    pub fn cpu_recent(&self, now: Tick) -> Tick {
        let age = now.saturating_sub(self.recent_at);
        if age >= RECENT_WINDOW_TICKS {
            0
        } else {
            Tick::from((self.recent_bits << age).count_ones())
        }
    }

    /// It ran during the tick that ends at `now` (core only).
    pub fn on_ran_tick(&mut self, now: Tick) {
        let age = now.saturating_sub(self.recent_at);
        self.recent_bits = if age >= RECENT_WINDOW_TICKS {
            0
        } else {
            self.recent_bits << age
        } | 1;
        self.recent_at = now;
        self.cpu_total += 1;
        self.last_ran = Some(now);
    }

    /// The core put it on the CPU at `now`.
    pub fn on_dispatch(&mut self, now: Tick) {
        self.settle(now);
        self.first_run.get_or_insert(now);
        self.state = TaskState::Running;
    }

    /// The core took it off the CPU at `now`, still runnable.
    pub fn on_preempt(&mut self, now: Tick) {
        self.settle(now);
        self.state = TaskState::Runnable;
    }

    /// It blocked at `now`.
    pub fn on_block(&mut self, now: Tick) {
        self.settle(now);
        self.sleeps += 1;
        self.state = TaskState::Blocked;
    }

    /// It was woken at `now`.
    pub fn on_wake(&mut self, now: Tick) {
        self.settle(now);
        self.wakeups += 1;
        self.state = TaskState::Runnable;
    }

    /// It exited at `now`.
    pub fn on_exit(&mut self, now: Tick) {
        self.settle(now);
        self.state = TaskState::Exited;
    }

    /// Adds the time since `state_since` to the total of the state being left.
    fn settle(&mut self, now: Tick) {
        let spent = now.saturating_sub(self.state_since);
        match self.state {
            TaskState::Runnable => self.waited_total += spent,
            TaskState::Blocked => self.blocked_total += spent,
            TaskState::Running | TaskState::Exited => {}
        }
        self.state_since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_match_linux_at_the_ends_and_the_middle() {
        assert_eq!(nice_to_weight(Nice::new(-20)), 88761);
        assert_eq!(nice_to_weight(Nice::new(0)), NICE_0_WEIGHT);
        assert_eq!(nice_to_weight(Nice::new(5)), 335);
        assert_eq!(nice_to_weight(Nice::new(19)), 15);
        assert_eq!(nice_to_weight(Nice::new(100)), 15, "clamped to 19");
        assert!(PRIO_TO_WEIGHT.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn recent_window_counts_only_the_last_64_ticks() {
        let mut v = TaskView::new(TaskId(1), 0);
        for t in 1..=10 {
            v.on_ran_tick(t);
        }
        assert_eq!(v.cpu_recent(10), 10);
        assert_eq!(v.cpu_recent(10 + 60), 4);
        assert_eq!(v.cpu_recent(10 + 64), 0);
        v.on_ran_tick(200);
        assert_eq!(v.cpu_recent(200), 1);
        assert_eq!(v.cpu_total, 11);
    }

    #[test]
    fn waiting_and_blocked_time_accumulate_by_state() {
        let mut v = TaskView::new(TaskId(1), 5);
        assert_eq!(v.waiting(8), 3);
        v.on_dispatch(8);
        assert_eq!(v.first_run, Some(8));
        v.on_block(10);
        v.on_wake(14);
        v.on_dispatch(15);
        v.on_exit(16);
        assert_eq!(
            (v.waited_total, v.blocked_total, v.sleeps, v.wakeups),
            (4, 4, 1, 1)
        );
    }
}
