//! A CFS-like proportional-share policy (Linux's Completely Fair Scheduler; OSTEP ch. 9).
//!
//! Each task accumulates *virtual runtime*: one tick of CPU adds
//! [`VRUNTIME_PER_TICK`] × [`NICE_0_WEIGHT`] / weight, with the weight from its nice value
//! (Linux's `sched_prio_to_weight`). The runnable task with the least virtual runtime runs, for
//! a slice of the scheduling period proportional to its weight: period = max(target latency,
//! runnable tasks × minimum granularity), slice = max(period × weight / total weight, minimum
//! granularity). Over a long window every CPU-bound task therefore gets CPU in proportion to
//! its weight.
//!
//! Placement follows `place_entity` in `kernel/sched/fair.c`: a new task starts at the queue's
//! `min_vruntime` (Linux's START_DEBIT half-slice penalty is left out); a woken task gets
//! `max(its own, min_vruntime − target latency / 2)` (GENTLE_FAIR_SLEEPERS), so a sleeper
//! is favoured a little but cannot bank unlimited credit. A woken task preempts the running one
//! when it is behind by more than the wakeup granularity. `min_vruntime` never decreases.
//!
//! Source: Linux `Documentation/scheduler/sched-design-CFS.rst`, `kernel/sched/fair.c`.

use crate::sched::{
    DEFAULT_CAPACITY, Leave, NICE_0_WEIGHT, Policy, SchedError, TaskId, TaskView, Tick, Verdict,
    Wake, nice_to_weight,
};

use super::Table;

/// Virtual runtime a nice-0 task gains per tick of CPU (fixed point, so heavy weights keep
/// precision: at nice −20 a tick still adds about 12 000 units).
pub const VRUNTIME_PER_TICK: u64 = 1 << 20;

/// Tunables, in ticks (Linux's defaults at 1 ms per tick).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CfsConfig {
    /// Period within which every runnable task should run once (`sysctl_sched_latency`, 6 ms).
    pub target_latency: Tick,
    /// Shortest slice (`sysctl_sched_min_granularity`, 0.75 ms, rounded up to a tick).
    pub min_granularity: Tick,
    /// How far behind a woken task must be to preempt (`sysctl_sched_wakeup_granularity`, 1 ms).
    pub wakeup_granularity: Tick,
}

impl Default for CfsConfig {
    fn default() -> Self {
        Self {
            target_latency: 6,
            min_granularity: 1,
            wakeup_granularity: 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct CfsTask {
    vruntime: u64,
    weight: u32,
    /// Ticks run since it was last switched to.
    ran: Tick,
}

/// CFS-like weighted fair scheduling.
#[derive(Clone, Debug)]
pub struct Cfs<const N: usize = DEFAULT_CAPACITY> {
    table: Table<CfsTask, N>,
    config: CfsConfig,
    min_vruntime: u64,
}

impl<const N: usize> Cfs<N> {
    /// An empty run queue with the given tunables (zero granularities count as one tick).
    pub fn new(config: CfsConfig) -> Self {
        let config = CfsConfig {
            target_latency: config.target_latency.max(1),
            min_granularity: config.min_granularity.max(1),
            wakeup_granularity: config.wakeup_granularity,
        };
        Self {
            table: Table::new(),
            config,
            min_vruntime: 0,
        }
    }

    /// Virtual runtime of a task this policy knows.
    pub fn vruntime(&self, id: TaskId) -> Option<u64> {
        self.table.get(id).map(|e| e.data.vruntime)
    }

    /// The queue's monotonic minimum virtual runtime.
    pub const fn min_vruntime(&self) -> u64 {
        self.min_vruntime
    }

    /// Virtual runtime gained by `ticks` of CPU at `weight`.
    fn scaled(ticks: Tick, weight: u32) -> u64 {
        ticks * VRUNTIME_PER_TICK * u64::from(NICE_0_WEIGHT) / u64::from(weight.max(1))
    }

    /// The slice, in ticks, of a runnable task of `weight`.
    fn slice(&self, weight: u32) -> Tick {
        let (nr, total) = self.table.runnable().fold((0u64, 0u64), |(n, w), e| {
            (n + 1, w + u64::from(e.data.weight))
        });
        let period = self
            .config
            .target_latency
            .max(nr * self.config.min_granularity);
        (period * u64::from(weight) / total.max(1)).max(self.config.min_granularity)
    }

    fn update_min_vruntime(&mut self) {
        if let Some(least) = self.table.runnable().map(|e| e.data.vruntime).min() {
            self.min_vruntime = self.min_vruntime.max(least);
        }
    }
}

impl<const N: usize> Default for Cfs<N> {
    fn default() -> Self {
        Self::new(CfsConfig::default())
    }
}

impl<const N: usize> Policy for Cfs<N> {
    fn name(&self) -> &'static str {
        "cfs"
    }

    fn enqueue(&mut self, _now: Tick, task: &TaskView, why: Wake) -> Result<Verdict, SchedError> {
        let weight = nice_to_weight(task.nice);
        let floor = match why {
            Wake::New => self.min_vruntime,
            Wake::Woken => self
                .min_vruntime
                .saturating_sub(Self::scaled(self.config.target_latency, NICE_0_WEIGHT) / 2),
        };
        let fresh = CfsTask {
            vruntime: self.min_vruntime,
            weight,
            ran: 0,
        };
        let entry = self.table.enqueue(task.id, fresh)?;
        entry.data.vruntime = entry.data.vruntime.max(floor);
        entry.data.weight = weight;
        entry.data.ran = 0;
        let new_v = entry.data.vruntime;
        let gran = Self::scaled(self.config.wakeup_granularity, weight);
        let behind = self
            .table
            .current_entry()
            .is_some_and(|cur| cur.data.vruntime > new_v.saturating_add(gran));
        Ok(if behind {
            Verdict::Preempt
        } else {
            Verdict::Continue
        })
    }

    fn dequeue(&mut self, _now: Tick, task: &TaskView, why: Leave) {
        self.table.dequeue(task.id, why == Leave::Exited);
        self.update_min_vruntime();
    }

    fn tick(&mut self, _now: Tick, task: &TaskView) -> Verdict {
        let Some(e) = self.table.get_mut(task.id) else {
            return Verdict::Continue;
        };
        e.data.vruntime += Self::scaled(1, e.data.weight);
        e.data.ran += 1;
        let (ran, weight) = (e.data.ran, e.data.weight);
        self.update_min_vruntime();
        let others = self.table.runnable().any(|e| e.id != task.id);
        if others && ran >= self.slice(weight) {
            Verdict::Preempt
        } else {
            Verdict::Continue
        }
    }

    fn pick_next(&self, _now: Tick) -> Option<TaskId> {
        // A preempted task goes back behind others of equal virtual runtime, as in the rbtree.
        let cur = self.table.current();
        self.table.min_by(|e| (e.data.vruntime, Some(e.id) == cur))
    }

    fn switch_to(&mut self, _now: Tick, next: Option<TaskId>) {
        if let Some(e) = next.and_then(|id| self.table.get_mut(id)) {
            e.data.ran = 0;
        }
        self.table.set_current(next);
    }

    fn candidates(&self, out: &mut [TaskId]) -> usize {
        self.table.candidates(out)
    }

    fn current(&self) -> Option<TaskId> {
        self.table.current()
    }
}
