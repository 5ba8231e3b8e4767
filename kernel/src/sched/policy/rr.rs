//! Round robin (OSTEP ch. 7): run each runnable task for one quantum, then move it to the back
//! of the queue. New and woken tasks join at the back.
//!
//! With every task arriving at tick 0 and a quantum of 1 this is exactly OSTEP's
//! `scheduler.py -p RR -q 1`: jobs cycle in index order, a finished job drops out of the cycle.
//! Invariant: a task runs at most `quantum` ticks in a row while another task is runnable.

use crate::sched::{
    DEFAULT_CAPACITY, Leave, Policy, SchedError, TaskId, TaskView, Tick, Verdict, Wake,
};

use super::Table;

/// Round robin with a fixed quantum in ticks.
#[derive(Clone, Debug)]
pub struct RoundRobin<const N: usize = DEFAULT_CAPACITY> {
    /// Per task: ticks used in the current quantum.
    table: Table<Tick, N>,
    quantum: Tick,
}

impl<const N: usize> RoundRobin<N> {
    /// Round robin with `quantum` ticks per turn (at least 1).
    pub const fn new(quantum: Tick) -> Self {
        Self {
            table: Table::new(),
            quantum: if quantum == 0 { 1 } else { quantum },
        }
    }

    /// Ticks per turn.
    pub const fn quantum(&self) -> Tick {
        self.quantum
    }
}

impl<const N: usize> Policy for RoundRobin<N> {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn enqueue(&mut self, _now: Tick, task: &TaskView, _why: Wake) -> Result<Verdict, SchedError> {
        self.table.enqueue(task.id, 0)?.data = 0;
        Ok(Verdict::Continue)
    }

    fn dequeue(&mut self, _now: Tick, task: &TaskView, why: Leave) {
        self.table.dequeue(task.id, why == Leave::Exited);
    }

    fn tick(&mut self, _now: Tick, task: &TaskView) -> Verdict {
        let quantum = self.quantum;
        match self.table.get_mut(task.id) {
            Some(e) => {
                e.data += 1;
                if e.data >= quantum {
                    Verdict::Preempt
                } else {
                    Verdict::Continue
                }
            }
            None => Verdict::Continue,
        }
    }

    fn pick_next(&self, _now: Tick) -> Option<TaskId> {
        // The running task keeps the CPU until its quantum is used up; then it conceptually
        // goes to the back, behind every other runnable task.
        match self.table.current_entry() {
            Some(cur) if cur.runnable && cur.data < self.quantum => Some(cur.id),
            Some(cur) if cur.runnable => self.table.min_by(|e| e.id == cur.id),
            _ => self.table.min_by(|_| ()),
        }
    }

    fn switch_to(&mut self, _now: Tick, next: Option<TaskId>) {
        if let Some(prev) = self.table.current_entry().copied() {
            // Switched away from, or run again alone after a full quantum: to the back, with a
            // fresh quantum.
            if prev.runnable && (next != Some(prev.id) || prev.data >= self.quantum) {
                self.table.requeue(prev.id);
                if let Some(e) = self.table.get_mut(prev.id) {
                    e.data = 0;
                }
            }
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
