//! First in, first out (OSTEP ch. 7): run tasks in the order they became runnable, each until
//! it blocks or exits. Never preempts. A woken task goes to the back of the line.
//!
//! Invariant: the running task, while runnable, is always what `pick_next` returns (it has the
//! smallest sequence number), so FIFO is non-preemptive even if the core asks it to pick.

use crate::sched::{
    DEFAULT_CAPACITY, Leave, Policy, SchedError, TaskId, TaskView, Tick, Verdict, Wake,
};

use super::Table;

/// First in, first out.
#[derive(Clone, Debug)]
pub struct Fifo<const N: usize = DEFAULT_CAPACITY> {
    table: Table<(), N>,
}

impl<const N: usize> Fifo<N> {
    /// An empty FIFO queue.
    pub const fn new() -> Self {
        Self {
            table: Table::new(),
        }
    }
}

impl<const N: usize> Default for Fifo<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Policy for Fifo<N> {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn enqueue(&mut self, _now: Tick, task: &TaskView, _why: Wake) -> Result<Verdict, SchedError> {
        self.table.enqueue(task.id, ())?;
        Ok(Verdict::Continue)
    }

    fn dequeue(&mut self, _now: Tick, task: &TaskView, why: Leave) {
        self.table.dequeue(task.id, why == Leave::Exited);
    }

    fn tick(&mut self, _now: Tick, _task: &TaskView) -> Verdict {
        Verdict::Continue
    }

    fn pick_next(&self, _now: Tick) -> Option<TaskId> {
        self.table.min_by(|_| ())
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
