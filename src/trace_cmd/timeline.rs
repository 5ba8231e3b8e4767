//! The schedule a trace implies: who ran when, and each task's life (arrival, first run,
//! blocked time, exit), reconstructed once for the summary and the Perfetto view.
//!
//! # Rules (the kernel's tracing contract)
//! - Only decisions of the `sched` head place tasks on the CPU; other heads' decisions (block
//!   cache, page allocator) and candidate ids that are no task id (over `u32`) are ignored here.
//! - A decision at tick `t` choosing task `c` means `c` runs from tick `t` on, until a later
//!   decision chooses another task, or `c` blocks or exits (then the CPU idles until the next
//!   decision). Several decisions may share a tick (mid-tick, after a block or exit); the last
//!   one at a tick owns that tick, so an interval can be empty and is then left out.
//! - The trace ends after its last tick: whoever runs then runs until `last tick + 1`.
//! - CPU ticks of a task = the ticks it was running; blocked ticks = the ticks between each
//!   block and the wake (or exit, or trace end) after it.
//!
//! Per task (OSTEP ch. 7): turnaround = exit − arrival, response = first run − arrival,
//! wait = turnaround − CPU ticks − blocked ticks (saturating: a trace with lost records can
//! be inconsistent). Every sum and range is saturating: a crafted or corrupt trace (an exit at
//! tick `u64::MAX`) gives large numbers, never wrapped ones. Lost records (a `dropped` marker) make these approximate; the summary
//! says how many were lost.

use augur_kernel::trace::{Entry, Record, head};
use augur_kernel::workload::metrics::TaskOutcome;
use std::collections::BTreeMap;

/// One contiguous stretch of a task on the CPU, in ticks `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The task.
    pub task: u32,
    /// First tick it ran.
    pub start: u64,
    /// First tick it no longer ran.
    pub end: u64,
}

/// What the trace says about one task.
#[derive(Debug, Clone, Default)]
pub struct Task {
    /// Its name (empty when its spawn record is missing).
    pub name: String,
    /// Its class code, when its spawn record is present.
    pub class: Option<u8>,
    /// Arrival tick.
    pub spawn: Option<u64>,
    /// First-run tick.
    pub first_run: Option<u64>,
    /// Exit tick and status.
    pub exit: Option<(u64, i32)>,
    /// Ticks it ran.
    pub cpu_ticks: u64,
    /// Ticks it was blocked.
    pub blocked_ticks: u64,
    /// When its current block began, while blocked.
    blocked_since: Option<u64>,
}

impl Task {
    /// Its outcome, when it arrived and exited inside the trace. Response is 0 for a task
    /// that exited without a first-run record (the kernel always sends one; only loss
    /// hides it).
    pub fn outcome(&self) -> Option<TaskOutcome> {
        let spawn = self.spawn?;
        let (exit, _) = self.exit?;
        let turnaround = exit.saturating_sub(spawn);
        Some(TaskOutcome {
            turnaround,
            response: self.response().unwrap_or(0),
            wait: turnaround.saturating_sub(self.cpu_ticks.saturating_add(self.blocked_ticks)),
        })
    }

    /// Its response time, when it arrived and ran inside the trace.
    pub fn response(&self) -> Option<u64> {
        Some(self.first_run?.saturating_sub(self.spawn?))
    }
}

/// The reconstructed schedule.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Every task named by any record, by id.
    pub tasks: BTreeMap<u32, Task>,
    /// Running intervals in time order.
    pub runs: Vec<Run>,
    /// First and last tick of any record, when any record has one.
    pub ticks: Option<(u64, u64)>,
    /// The task on the CPU and since when, while replaying.
    running: Option<(u32, u64)>,
}

impl Timeline {
    /// Replays `entries` (in stream order).
    pub fn build(entries: &[Entry<'_>]) -> Timeline {
        let mut timeline = Timeline::default();
        for entry in entries {
            timeline.apply(&entry.record);
        }
        timeline.finish();
        timeline
    }

    /// The tick after the last one (saturating at `u64::MAX`), or 0 for a trace without ticks.
    pub fn end(&self) -> u64 {
        self.ticks.map_or(0, |(_, last)| last.saturating_add(1))
    }

    /// How many ticks the trace covers, first to last inclusive (saturating).
    pub fn tick_count(&self) -> u64 {
        self.ticks
            .map_or(0, |(first, last)| (last - first).saturating_add(1))
    }

    /// Applies one record.
    fn apply(&mut self, record: &Record<'_>) {
        if let Some(tick) = record.tick() {
            let (first, last) = self.ticks.get_or_insert((tick, tick));
            *first = (*first).min(tick);
            *last = (*last).max(tick);
        }
        match *record {
            Record::Decision {
                tick,
                head: head::SCHED,
                chosen,
                ..
            } => {
                if let Ok(chosen) = u32::try_from(chosen) {
                    self.decide(tick, chosen);
                }
            }
            Record::TaskSpawn {
                tick,
                task,
                class,
                name,
            } => {
                let t = self.task(task);
                t.spawn = Some(tick);
                t.class = Some(class);
                t.name = name.to_string();
            }
            Record::TaskFirstRun { tick, task } => self.task(task).first_run = Some(tick),
            Record::TaskBlock { tick, task } => self.block(tick, task),
            Record::TaskWake { tick, task } => self.end_block(tick, task),
            Record::TaskExit { tick, task, status } => {
                self.end_block(tick, task);
                self.stop(tick, task);
                self.task(task).exit = Some((tick, status));
            }
            Record::Decision { .. }
            | Record::Telemetry { .. }
            | Record::Dropped { .. }
            | Record::End { .. }
            | Record::Unknown { .. } => {}
        }
    }

    /// The task `id`, created on first mention.
    fn task(&mut self, id: u32) -> &mut Task {
        self.tasks.entry(id).or_default()
    }

    /// A decision: `chosen` runs from `tick` on.
    fn decide(&mut self, tick: u64, chosen: u32) {
        self.task(chosen);
        match self.running {
            Some((task, _)) if task == chosen => {}
            Some((task, since)) => {
                self.close(task, since, tick);
                self.running = Some((chosen, tick));
            }
            None => self.running = Some((chosen, tick)),
        }
    }

    /// `task` blocked at `tick`.
    fn block(&mut self, tick: u64, task: u32) {
        self.stop(tick, task);
        let t = self.task(task);
        if t.blocked_since.is_none() {
            t.blocked_since = Some(tick);
        }
    }

    /// `task`'s block (if any) ends at `tick`.
    fn end_block(&mut self, tick: u64, task: u32) {
        let t = self.task(task);
        if let Some(since) = t.blocked_since.take() {
            t.blocked_ticks = t.blocked_ticks.saturating_add(tick.saturating_sub(since));
        }
    }

    /// `task` leaves the CPU at `tick`, if it is the one running.
    fn stop(&mut self, tick: u64, task: u32) {
        if let Some((running, since)) = self.running.filter(|&(r, _)| r == task) {
            self.close(running, since, tick);
            self.running = None;
        }
    }

    /// Records that `task` ran over `[start, end)` (nothing when empty).
    fn close(&mut self, task: u32, start: u64, end: u64) {
        if end > start {
            self.runs.push(Run { task, start, end });
            let t = self.task(task);
            t.cpu_ticks = t.cpu_ticks.saturating_add(end - start);
        }
    }

    /// Ends what is still open at the trace's end.
    fn finish(&mut self) {
        let end = self.end();
        if let Some((task, since)) = self.running.take() {
            self.close(task, since, end);
        }
        for t in self.tasks.values_mut() {
            if let Some(since) = t.blocked_since.take() {
                t.blocked_ticks = t.blocked_ticks.saturating_add(end.saturating_sub(since));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_kernel::trace::{Candidates, Sections};

    fn decision(tick: u64, chosen: u32) -> Record<'static> {
        Record::Decision {
            tick,
            head: head::SCHED,
            chosen: u64::from(chosen),
            policy: 0,
            fallback: None,
            candidates: Candidates::none(8),
        }
    }

    fn replay(records: &[Record<'static>]) -> Timeline {
        let mut timeline = Timeline::default();
        records.iter().for_each(|r| timeline.apply(r));
        timeline.finish();
        timeline
    }

    #[test]
    fn runs_merge_repeats_and_stop_at_block_and_exit() {
        let t = replay(&[
            Record::TaskSpawn {
                tick: 0,
                task: 1,
                class: 0,
                name: "a",
            },
            Record::TaskSpawn {
                tick: 0,
                task: 2,
                class: 2,
                name: "b",
            },
            decision(0, 1),
            decision(1, 1),
            decision(2, 2),
            Record::TaskBlock { tick: 3, task: 2 },
            decision(3, 1),
            Record::TaskWake { tick: 5, task: 2 },
            Record::TaskExit {
                tick: 6,
                task: 1,
                status: 0,
            },
            decision(6, 2),
            Record::TaskExit {
                tick: 8,
                task: 2,
                status: 0,
            },
        ]);
        let runs: Vec<_> = t.runs.iter().map(|r| (r.task, r.start, r.end)).collect();
        assert_eq!(runs, [(1, 0, 2), (2, 2, 3), (1, 3, 6), (2, 6, 8)]);
        let b = &t.tasks[&2];
        assert_eq!((b.cpu_ticks, b.blocked_ticks), (3, 2));
        // Turnaround 8 = 3 running + 2 blocked + 3 waiting (ticks 0, 1, 5).
        assert_eq!(b.outcome().map(|o| (o.turnaround, o.wait)), Some((8, 3)));
    }

    #[test]
    fn open_run_and_block_close_at_trace_end() {
        let t = replay(&[
            decision(4, 7),
            Record::TaskBlock { tick: 4, task: 9 },
            Record::Telemetry {
                tick: 9,
                sections: Sections::from_slice(&[]),
            },
        ]);
        assert_eq!(
            t.runs,
            [Run {
                task: 7,
                start: 4,
                end: 10
            }]
        );
        assert_eq!(t.tasks[&9].blocked_ticks, 6);
        assert_eq!(t.tasks[&7].outcome(), None);
    }

    #[test]
    fn other_heads_do_not_run_tasks_and_extreme_ticks_saturate() {
        let blk = Record::Decision {
            tick: 2,
            head: head::BLK_EVICT,
            chosen: 5,
            policy: 0,
            fallback: None,
            candidates: Candidates::none(3),
        };
        let t = replay(&[
            decision(0, 1),
            blk,
            Record::TaskSpawn {
                tick: 0,
                task: 2,
                class: 0,
                name: "late",
            },
            Record::TaskExit {
                tick: u64::MAX,
                task: 2,
                status: 0,
            },
        ]);
        // Block 5 never ran; task 1 runs to the end of the trace, which saturates.
        assert!(!t.tasks.contains_key(&5));
        assert_eq!(t.end(), u64::MAX);
        assert_eq!(t.tick_count(), u64::MAX);
        assert_eq!(
            t.runs,
            [Run {
                task: 1,
                start: 0,
                end: u64::MAX
            }]
        );
        let o = t.tasks[&2].outcome().unwrap();
        assert_eq!((o.turnaround, o.wait), (u64::MAX, u64::MAX));
    }
}
