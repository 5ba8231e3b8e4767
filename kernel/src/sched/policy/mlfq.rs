//! Multi-level feedback queue (OSTEP ch. 8), with the chapter's five rules:
//!
//! 1. A task at a higher level (0 is highest) runs before one at a lower level.
//! 2. Tasks at the same level take turns, round robin, for that level's quantum.
//! 3. A new task enters at the top level.
//! 4. Once a task has used up its *allotment* at a level, however many times it gave up the
//!    CPU meanwhile, it moves down one level (so sleeping just before the quantum ends does not
//!    game the scheduler). With allotment = quantum this is "demote on a full quantum".
//! 5. Every `boost_period` ticks all tasks move back to the top (no starvation, and a task that
//!    turned interactive is treated as such again).
//!
//! A woken task that outranks the running one preempts it. Levels and their quanta and
//! allotments are fixed at construction; at most [`MLFQ_MAX_LEVELS`] levels, so the state is
//! allocation-free.

use crate::sched::{
    DEFAULT_CAPACITY, Leave, Policy, SchedError, TaskId, TaskView, Tick, Verdict, Wake,
};

use super::Table;

/// Most levels an [`Mlfq`] can have.
pub const MLFQ_MAX_LEVELS: usize = 8;

/// MLFQ shape, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlfqConfig {
    /// Number of levels, 1 ..= [`MLFQ_MAX_LEVELS`].
    pub levels: usize,
    /// Round-robin quantum at each level (index 0 is the top).
    pub quantum: [Tick; MLFQ_MAX_LEVELS],
    /// CPU a task may use at a level before it is demoted (rule 4).
    pub allotment: [Tick; MLFQ_MAX_LEVELS],
    /// Ticks between priority boosts (rule 5); 0 disables boosting.
    pub boost_period: Tick,
}

impl Default for MlfqConfig {
    /// Three levels with quanta 2, 4, 8 ticks, allotment one quantum, boost every 200 ticks:
    /// short enough quanta at the top for interactive tasks at 1 kHz, long at the bottom for
    /// batch work, the shape of OSTEP's Figure 8.5.
    fn default() -> Self {
        let mut quantum = [8; MLFQ_MAX_LEVELS];
        quantum[0] = 2;
        quantum[1] = 4;
        Self {
            levels: 3,
            quantum,
            allotment: quantum,
            boost_period: 200,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct MlfqTask {
    level: usize,
    /// Ticks used of the current quantum.
    used_quantum: Tick,
    /// Ticks used of the allotment at this level.
    used_allotment: Tick,
    /// Its turn is over (quantum, demotion or boost): it goes to the back of its level.
    expired: bool,
}

impl MlfqTask {
    const TOP: Self = Self {
        level: 0,
        used_quantum: 0,
        used_allotment: 0,
        expired: false,
    };
}

/// Multi-level feedback queue.
#[derive(Clone, Debug)]
pub struct Mlfq<const N: usize = DEFAULT_CAPACITY> {
    table: Table<MlfqTask, N>,
    config: MlfqConfig,
    last_boost: Tick,
}

impl<const N: usize> Mlfq<N> {
    /// An empty MLFQ. Levels are clamped into 1 ..= [`MLFQ_MAX_LEVELS`], zero quanta and
    /// allotments count as one tick.
    pub fn new(config: MlfqConfig) -> Self {
        let mut config = config;
        config.levels = config.levels.clamp(1, MLFQ_MAX_LEVELS);
        for q in config.quantum.iter_mut().chain(config.allotment.iter_mut()) {
            *q = (*q).max(1);
        }
        Self {
            table: Table::new(),
            config,
            last_boost: 0,
        }
    }

    /// The level (0 = top) of a task this policy knows.
    pub fn level_of(&self, id: TaskId) -> Option<usize> {
        self.table.get(id).map(|e| e.data.level)
    }

    /// Rule 5: everyone back to the top.
    fn boost(&mut self, now: Tick) {
        self.last_boost = now;
        for e in self.table.entries_mut() {
            e.data = MlfqTask {
                expired: true,
                ..MlfqTask::TOP
            };
        }
    }
}

impl<const N: usize> Default for Mlfq<N> {
    fn default() -> Self {
        Self::new(MlfqConfig::default())
    }
}

impl<const N: usize> Policy for Mlfq<N> {
    fn name(&self) -> &'static str {
        "mlfq"
    }

    fn enqueue(&mut self, _now: Tick, task: &TaskView, _why: Wake) -> Result<Verdict, SchedError> {
        // Rule 3 for a new task (fresh state); a woken one keeps its level and allotment use.
        let entry = self.table.enqueue(task.id, MlfqTask::TOP)?;
        entry.data.used_quantum = 0;
        entry.data.expired = false;
        let level = entry.data.level;
        let outranks = self
            .table
            .current_entry()
            .is_some_and(|cur| level < cur.data.level);
        Ok(if outranks {
            Verdict::Preempt
        } else {
            Verdict::Continue
        })
    }

    fn dequeue(&mut self, _now: Tick, task: &TaskView, why: Leave) {
        self.table.dequeue(task.id, why == Leave::Exited);
    }

    fn tick(&mut self, now: Tick, task: &TaskView) -> Verdict {
        let bottom = self.config.levels - 1;
        let mut verdict = Verdict::Continue;
        if let Some(e) = self.table.get_mut(task.id) {
            let t = &mut e.data;
            t.used_quantum += 1;
            t.used_allotment += 1;
            if t.used_allotment >= self.config.allotment[t.level] && t.level < bottom {
                *t = MlfqTask {
                    level: t.level + 1,
                    expired: true,
                    ..MlfqTask::TOP
                };
                verdict = Verdict::Preempt;
            } else if t.used_quantum >= self.config.quantum[t.level] {
                t.expired = true;
                if t.level == bottom {
                    t.used_allotment = 0;
                }
                verdict = Verdict::Preempt;
            }
        }
        if self.config.boost_period > 0
            && now.saturating_sub(self.last_boost) >= self.config.boost_period
        {
            self.boost(now);
            verdict = Verdict::Preempt;
        }
        verdict
    }

    fn pick_next(&self, _now: Tick) -> Option<TaskId> {
        let cur = self.table.current();
        self.table
            .min_by(|e| (e.data.level, e.data.expired && Some(e.id) == cur))
    }

    fn switch_to(&mut self, _now: Tick, next: Option<TaskId>) {
        let prev = self.table.current_entry().copied();
        if let Some(prev) = prev.filter(|p| p.runnable && p.data.expired) {
            // Its turn is over: to the back of its (maybe new) level, with a fresh quantum.
            self.table.requeue(prev.id);
            if let Some(e) = self.table.get_mut(prev.id) {
                e.data.used_quantum = 0;
            }
        }
        let switched = next != prev.map(|p| p.id);
        for e in self.table.entries_mut() {
            e.data.expired = false;
            if switched && Some(e.id) == next {
                e.data.used_quantum = 0;
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
