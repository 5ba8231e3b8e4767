//! The classical scheduling policies, and the fixed-capacity task table they share.
//!
//! | policy | preempts | runs next | source |
//! | --- | --- | --- | --- |
//! | [`Fifo`] | never | earliest enqueued | OSTEP ch. 7 |
//! | [`ShortestJobFirst`] | never | least total work | OSTEP ch. 7 |
//! | [`ShortestRemainingWork`] | on a shorter arrival | least remaining work (STCF, the oracle) | OSTEP ch. 7 |
//! | [`RoundRobin`] | every quantum | next in the circular queue | OSTEP ch. 7 |
//! | [`Cfs`] | at the end of a weighted slice | least virtual runtime | Linux CFS, OSTEP ch. 9 |
//! | [`Mlfq`] | quantum, allotment, boost | highest level, round-robin within | OSTEP ch. 8 |
//!
//! Every policy keeps its per-task state in a [`Table`] of `N` slots (no allocation) and breaks
//! ties by enqueue order (a sequence number), so a schedule is a pure function of the events:
//! replay is deterministic and matches OSTEP's simulator, which sorts stably by job index.

mod cfs;
mod fifo;
mod mlfq;
mod rr;
mod sjf;

pub use cfs::{Cfs, CfsConfig, VRUNTIME_PER_TICK};
pub use fifo::Fifo;
pub use mlfq::{MLFQ_MAX_LEVELS, Mlfq, MlfqConfig};
pub use rr::RoundRobin;
pub use sjf::{ShortestJobFirst, ShortestRemainingWork};

use super::{SchedError, TaskId};

/// One task's slot in a policy's table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<T> {
    pub id: TaskId,
    /// Enqueued and not dequeued since.
    pub runnable: bool,
    /// Position in enqueue order; lower runs first among equals.
    pub seq: u64,
    /// The policy's own per-task state.
    pub data: T,
}

/// A fixed-capacity table of tasks known to a policy (runnable or blocked), plus the running
/// task and the enqueue-order counter.
///
/// Every scan stops at `used`, one past the highest occupied slot: a table sized for a
/// workload's 200 jobs with 30 alive costs 30 steps per scan, not 200, and slot order (which
/// orders the candidates) is the same as a full scan's.
#[derive(Clone, Debug)]
pub(crate) struct Table<T: Copy, const N: usize> {
    slots: [Option<Entry<T>>; N],
    /// Slots at and past this index are all empty.
    used: usize,
    current: Option<TaskId>,
    next_seq: u64,
}

impl<T: Copy, const N: usize> Table<T, N> {
    pub const fn new() -> Self {
        Self {
            slots: [None; N],
            used: 0,
            current: None,
            next_seq: 0,
        }
    }

    /// Marks `id` runnable at the tail of enqueue order. A task seen for the first time gets
    /// `fresh` as its state; a blocked one keeps its own. Returns its entry.
    pub fn enqueue(&mut self, id: TaskId, fresh: T) -> Result<&mut Entry<T>, SchedError> {
        let seq = self.bump();
        let index = match self.index_of(id) {
            Some(i) => i,
            None => {
                let i = self
                    .slots
                    .iter()
                    .position(Option::is_none)
                    .ok_or(SchedError::Full { capacity: N })?;
                self.used = self.used.max(i + 1);
                self.slots[i] = Some(Entry {
                    id,
                    runnable: false,
                    seq,
                    data: fresh,
                });
                i
            }
        };
        let Some(entry) = self.slots[index].as_mut() else {
            unreachable!("slot {index} was just filled")
        };
        if entry.runnable {
            return Err(SchedError::AlreadyRunnable(id));
        }
        entry.runnable = true;
        entry.seq = seq;
        Ok(entry)
    }

    /// Moves `id` to the tail of enqueue order.
    pub fn requeue(&mut self, id: TaskId) {
        let seq = self.bump();
        if let Some(e) = self.get_mut(id) {
            e.seq = seq;
        }
    }

    /// `id` is no longer runnable; if `forget`, its slot is freed.
    pub fn dequeue(&mut self, id: TaskId, forget: bool) {
        if self.current == Some(id) {
            self.current = None;
        }
        if let Some(i) = self.index_of(id) {
            if forget {
                self.slots[i] = None;
                while self.used > 0 && self.slots[self.used - 1].is_none() {
                    self.used -= 1;
                }
            } else if let Some(e) = self.slots[i].as_mut() {
                e.runnable = false;
            }
        }
    }

    pub fn get(&self, id: TaskId) -> Option<&Entry<T>> {
        self.slots[..self.used]
            .iter()
            .flatten()
            .find(|e| e.id == id)
    }

    pub fn get_mut(&mut self, id: TaskId) -> Option<&mut Entry<T>> {
        self.slots[..self.used]
            .iter_mut()
            .flatten()
            .find(|e| e.id == id)
    }

    /// The running task's entry.
    pub fn current_entry(&self) -> Option<&Entry<T>> {
        self.current.and_then(|id| self.get(id))
    }

    pub fn current(&self) -> Option<TaskId> {
        self.current
    }

    pub fn set_current(&mut self, id: Option<TaskId>) {
        self.current = id;
    }

    /// Every entry, runnable or not.
    pub fn entries_mut(&mut self) -> impl Iterator<Item = &mut Entry<T>> {
        self.slots[..self.used].iter_mut().flatten()
    }

    /// The runnable entries.
    pub fn runnable(&self) -> impl Iterator<Item = &Entry<T>> {
        self.slots[..self.used]
            .iter()
            .flatten()
            .filter(|e| e.runnable)
    }

    /// The runnable task with the smallest `key`, ties broken by enqueue order.
    pub fn min_by<K: Ord>(&self, key: impl Fn(&Entry<T>) -> K) -> Option<TaskId> {
        self.runnable()
            .min_by_key(|e| (key(e), e.seq))
            .map(|e| e.id)
    }

    /// See [`Policy::candidates`](crate::sched::Policy::candidates).
    pub fn candidates(&self, out: &mut [TaskId]) -> usize {
        let mut n = 0;
        for e in self.runnable() {
            if let Some(slot) = out.get_mut(n) {
                *slot = e.id;
            }
            n += 1;
        }
        n
    }

    fn index_of(&self, id: TaskId) -> Option<usize> {
        self.slots[..self.used]
            .iter()
            .position(|s| s.is_some_and(|e| e.id == id))
    }

    fn bump(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }
}
