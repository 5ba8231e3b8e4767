//! Shortest job first and shortest remaining work (OSTEP ch. 7).
//!
//! [`ShortestJobFirst`] is non-preemptive: when the CPU is free it runs the runnable task with
//! the least total work ([`TaskView::work`]), ties in enqueue order, which is how OSTEP's
//! simulator sorts (stably by job index). [`ShortestRemainingWork`] (STCF, "shortest time to
//! completion first") is preemptive: a task whose remaining work is less than the running
//! task's takes the CPU at once. With all tasks arriving at once SJF is optimal for mean
//! turnaround; STCF is optimal with arbitrary arrivals, which is why it is the *oracle* the
//! learned scheduler head is trained to imitate (DESIGN.md §4). Both need work to be known:
//! in replay it is, in the kernel it is an estimate. A task of unknown work runs last.

use crate::sched::{
    DEFAULT_CAPACITY, Leave, Policy, SchedError, TaskId, TaskView, Tick, Verdict, Wake,
};

use super::Table;

/// Work key of a task whose work is unknown: after every known one.
const UNKNOWN_WORK: Tick = Tick::MAX;

/// Shortest (total) job first, non-preemptive.
#[derive(Clone, Debug)]
pub struct ShortestJobFirst<const N: usize = DEFAULT_CAPACITY> {
    /// Per task: total work.
    table: Table<Tick, N>,
}

impl<const N: usize> ShortestJobFirst<N> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            table: Table::new(),
        }
    }
}

impl<const N: usize> Default for ShortestJobFirst<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Policy for ShortestJobFirst<N> {
    fn name(&self) -> &'static str {
        "sjf"
    }

    fn enqueue(&mut self, _now: Tick, task: &TaskView, _why: Wake) -> Result<Verdict, SchedError> {
        self.table.enqueue(task.id, 0)?.data = task.work.unwrap_or(UNKNOWN_WORK);
        Ok(Verdict::Continue)
    }

    fn dequeue(&mut self, _now: Tick, task: &TaskView, why: Leave) {
        self.table.dequeue(task.id, why == Leave::Exited);
    }

    fn tick(&mut self, _now: Tick, _task: &TaskView) -> Verdict {
        Verdict::Continue
    }

    fn pick_next(&self, _now: Tick) -> Option<TaskId> {
        match self.table.current_entry() {
            Some(cur) if cur.runnable => Some(cur.id),
            _ => self.table.min_by(|e| e.data),
        }
    }

    fn switch_to(&mut self, _now: Tick, next: Option<TaskId>) {
        self.table.set_current(next);
    }

    fn candidates(&self, out: &mut [TaskId]) -> usize {
        self.table.candidates(out)
    }

    fn current(&self) -> Option<TaskId> {
        self.table.current()
    }
}

/// Shortest remaining work first (STCF), preemptive: the scheduler head's oracle.
#[derive(Clone, Debug)]
pub struct ShortestRemainingWork<const N: usize = DEFAULT_CAPACITY> {
    /// Per task: remaining work.
    table: Table<Tick, N>,
}

impl<const N: usize> ShortestRemainingWork<N> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            table: Table::new(),
        }
    }
}

impl<const N: usize> Default for ShortestRemainingWork<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Policy for ShortestRemainingWork<N> {
    fn name(&self) -> &'static str {
        "stcf"
    }

    fn enqueue(&mut self, _now: Tick, task: &TaskView, _why: Wake) -> Result<Verdict, SchedError> {
        let remaining = task.remaining_work().unwrap_or(UNKNOWN_WORK);
        self.table.enqueue(task.id, 0)?.data = remaining;
        let shorter = self
            .table
            .current_entry()
            .is_some_and(|cur| remaining < cur.data);
        Ok(if shorter {
            Verdict::Preempt
        } else {
            Verdict::Continue
        })
    }

    fn dequeue(&mut self, _now: Tick, task: &TaskView, why: Leave) {
        self.table.dequeue(task.id, why == Leave::Exited);
    }

    fn tick(&mut self, _now: Tick, task: &TaskView) -> Verdict {
        if let Some(e) = self.table.get_mut(task.id) {
            e.data = task.remaining_work().unwrap_or(UNKNOWN_WORK);
        }
        // A shorter task can only appear by enqueue, which preempts there.
        Verdict::Continue
    }

    fn pick_next(&self, _now: Tick) -> Option<TaskId> {
        // On equal remaining work the running task keeps the CPU (no needless switch).
        let cur = self.table.current();
        self.table.min_by(|e| (e.data, Some(e.id) != cur))
    }

    fn switch_to(&mut self, _now: Tick, next: Option<TaskId>) {
        self.table.set_current(next);
    }

    fn candidates(&self, out: &mut [TaskId]) -> usize {
        self.table.candidates(out)
    }

    fn current(&self) -> Option<TaskId> {
        self.table.current()
    }
}
