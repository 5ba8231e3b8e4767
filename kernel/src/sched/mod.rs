//! CPU scheduling: the policy interface, the classical policies, and host-side replay.
//!
//! The scheduler core (the kernel's task table, or [`replay::Replay`] on the host) owns every
//! task's [`TaskView`] and the notion of time; a [`Policy`] only decides *order*. The core tells
//! the policy when a task becomes runnable ([`Policy::enqueue`]), when it leaves the runnable set
//! ([`Policy::dequeue`]), when the running task has used one more tick ([`Policy::tick`]), asks
//! which task should run next ([`Policy::pick_next`]) and then commits what actually runs
//! ([`Policy::switch_to`]). Time is counted in timer ticks ([`Tick`]).
//!
//! # Why this shape
//! - **Choosing is separate from committing.** `pick_next` and [`Policy::candidates`] take
//!   `&self`: they describe the decision without changing state. `switch_to` then records what
//!   the core really ran. The learned policy (DESIGN.md §4, "The tick pipeline") scores the
//!   candidates itself and may run something else than its *shadow* baseline would; both get
//!   the same events and the same `switch_to`, so they stay on the same state and the shadow's
//!   `pick_next` is, every tick, what the baseline would have done there.
//! - **Object-safe trait, not an enum.** The kernel picks its policy at boot by name
//!   (`--policy rr|cfs|mlfq|learned`) and the learned policy holds its fallback as a
//!   `&mut dyn Policy`; a handful of indirect calls per tick is nothing next to one inference,
//!   and a new policy (or a lab's homework policy) plugs in without editing a central `match`.
//! - **Allocation-free.** Every policy keeps its per-task state in a fixed-capacity table
//!   (const generic `N`, default [`DEFAULT_CAPACITY`]); `enqueue` of one task too many is a
//!   [`SchedError::Full`], never an allocation on the tick path.
//! - **One per-task view.** [`TaskView`] is the single description of a task that the policies,
//!   the replay and the model's feature extractor read, so a feature means the same thing in the
//!   kernel, in a trace and in training.
//!
//! # Invariants every policy keeps
//! `pick_next` returns only a task that is runnable (enqueued and not dequeued since), and
//! returns `Some` whenever one is; the running task, while still runnable, is a candidate.
//! The core checks the first in [`replay`], and the property tests check both for every policy.
//!
//! # Resources
//! Arpaci-Dusseau, *Operating Systems: Three Easy Pieces*, ch. 7 (FIFO, SJF, STCF, RR),
//! ch. 8 (MLFQ), ch. 9 (proportional share); Linux `Documentation/scheduler/sched-design-CFS.rst`
//! and `kernel/sched/fair.c` (virtual runtime, `sched_prio_to_weight`, `place_entity`).

pub mod core;
#[cfg(not(target_os = "none"))]
pub mod emulate;
#[cfg(not(target_os = "none"))]
pub mod gittins;
pub mod head;
pub mod policy;
#[cfg(not(target_os = "none"))]
pub mod replay;
pub mod task;

#[cfg(test)]
mod tests;

pub use policy::{
    Cfs, CfsConfig, Fifo, Mlfq, MlfqConfig, RoundRobin, ShortestJobFirst, ShortestRemainingWork,
};
pub use task::{NICE_0_WEIGHT, Nice, TaskClass, TaskState, TaskView, nice_to_weight};

use ::core::fmt;

/// Time in timer ticks (1 ms at the default 1000 Hz LAPIC timer).
pub type Tick = u64;

/// How many tasks a policy tracks when its capacity is not given.
pub const DEFAULT_CAPACITY: usize = 64;

/// A task's identity, stable from spawn to exit. The core chooses the numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.0)
    }
}

/// What the core should do with the running task after an event.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep running the current task.
    Continue,
    /// Call [`Policy::pick_next`] and switch before the next tick.
    Preempt,
}

/// Why a task became runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Newly spawned (or newly arrived, in replay).
    New,
    /// Woken from a sleep or from waiting on I/O or another task.
    Woken,
}

/// Why a task left the runnable set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leave {
    /// It sleeps or waits; it will be enqueued again with [`Wake::Woken`]. Policies keep its
    /// history (virtual runtime, MLFQ level).
    Blocked,
    /// It is gone; policies forget it and free its slot.
    Exited,
}

/// A policy refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedError {
    /// The policy's fixed-capacity table is full: raise its capacity `N` or spawn fewer tasks.
    Full { capacity: usize },
    /// The task was enqueued while already runnable: a bug in the core.
    AlreadyRunnable(TaskId),
}

impl fmt::Display for SchedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full { capacity } => write!(
                f,
                "scheduler policy table is full ({capacity} tasks); build the policy with a larger capacity"
            ),
            Self::AlreadyRunnable(id) => write!(f, "{id} was enqueued while already runnable"),
        }
    }
}

/// A scheduling policy: decides which runnable task runs and when the running one is preempted.
///
/// Call order for the running task each tick: the core charges the tick to its [`TaskView`],
/// calls [`tick`](Self::tick) (always, so a task that then blocks is still charged), then
/// [`dequeue`](Self::dequeue) if it blocked or exited. Whenever the CPU is free or a verdict
/// said [`Verdict::Preempt`], the core calls [`pick_next`](Self::pick_next) and commits its
/// choice (or another candidate, for a learned policy) with [`switch_to`](Self::switch_to).
pub trait Policy {
    /// Short lowercase name, as on the command line (`rr`, `cfs`, `mlfq`, …).
    fn name(&self) -> &'static str;

    /// `task` became runnable at `now`. Returns whether it should preempt the running task.
    fn enqueue(&mut self, now: Tick, task: &TaskView, why: Wake) -> Result<Verdict, SchedError>;

    /// `task` stopped being runnable at `now` (it may be the running task). Unknown tasks are
    /// ignored.
    fn dequeue(&mut self, now: Tick, task: &TaskView, why: Leave);

    /// The running task `task` has just used one more tick (already counted in its view); `now`
    /// is the end of that tick. Returns whether its time slice is over.
    fn tick(&mut self, now: Tick, task: &TaskView) -> Verdict;

    /// The task this policy would run next, with the running task (if still runnable) put back
    /// by the policy's own rule. `None` only when nothing is runnable. Does not change state.
    fn pick_next(&self, now: Tick) -> Option<TaskId>;

    /// The core now runs `next` (`None`: the CPU idles). `next` must be runnable; it need not be
    /// what `pick_next` said (a learned policy may have chosen another candidate).
    fn switch_to(&mut self, now: Tick, next: Option<TaskId>);

    /// Writes the runnable tasks (the running one included) into `out`, in no particular order,
    /// and returns how many there are; only the first `out.len()` are written.
    fn candidates(&self, out: &mut [TaskId]) -> usize;

    /// The task this policy believes is running.
    fn current(&self) -> Option<TaskId>;
}

// The kernel and the learned policy hold policies as `dyn Policy`: keep the trait object-safe.
const _: Option<&dyn Policy> = None;
