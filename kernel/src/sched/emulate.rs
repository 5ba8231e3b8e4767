//! Host emulation of a kernel workload run: the kernel's own scheduler core and tick pipeline,
//! driven tick by tick with the workload's threads modelled, so that a deterministic kernel
//! trace can be checked decision by decision on the host.
//!
//! What the kernel's threads do, in ticks (`workload::runner`, `task`):
//! - a **job thread**, when it first runs and whenever it runs again after a sleep, declares
//!   its next burst (`run_until_charged`: CPU so far plus the job's `run`, or all its work);
//!   on the tick that charges the burst it is not preempted and, at once, sleeps for the
//!   job's `block` ticks or, with its work done, exits with the CPU ticks it used;
//! - **main** spawns every job pending its arrival (`start + arrival`), then sleeps
//!   [`POLL_TICKS`] at a time and, whenever it runs, checks whether the workload is over (all
//!   jobs exited, or the deadline passed) — the emulation ends when it finds it is;
//! - **idle** only halts.
//!
//! Two facts depend on instruction counts, not ticks, and are read off the kernel's trace
//! ([`Script::from_trace`]): the tick the workload started at, and the tick main finished
//! spawning (its first block). Everything else is computed here by the same code the kernel
//! runs, so any disagreement with the kernel's trace is a real difference.

use super::core::{Core, Life, MAIN, Setup, TraceSink};
use super::{TaskId, Tick};
use crate::learn::{Inference, Pipeline};
use crate::trace::{Record, TraceReader};
use crate::workload::{Job, next_poll};
use std::vec;
use std::vec::Vec;

/// One decision as the trace records it: enough to compare two runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    /// The tick.
    pub tick: Tick,
    /// The task that runs from then on.
    pub chosen: u64,
    /// The fallback reason code, if the shadow decided.
    pub fallback: Option<u8>,
    /// The candidates: (task, features, score).
    pub candidates: Vec<(u64, Vec<i16>, i32)>,
}

impl Decided {
    /// The scheduler decision a decoded trace record describes, if it is one.
    pub fn from_record(record: &Record<'_>) -> Option<Self> {
        match record {
            Record::Decision {
                tick,
                head: crate::trace::head::SCHED,
                chosen,
                fallback,
                candidates,
                ..
            } => Some(Decided {
                tick: *tick,
                chosen: *chosen,
                fallback: *fallback,
                candidates: candidates
                    .iter()
                    .map(|c| (c.id, c.features.iter().collect(), c.score))
                    .collect(),
            }),
            _ => None,
        }
    }
}

/// A trace sink that keeps the decisions.
#[derive(Clone, Debug, Default)]
pub struct Decisions(pub Vec<Decided>);

impl TraceSink for Decisions {
    fn record(&mut self, record: &Record<'_>) {
        if let Some(d) = Decided::from_record(record) {
            self.0.push(d);
        }
    }
}

/// The instruction-dependent facts of one kernel run (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The tick the scheduler started at (`task::init`): the boot before it (banner, model
    /// load) takes a few ticks.
    pub init: Tick,
    /// The tick job arrivals count from (`runner::run`'s `start`).
    pub start: Tick,
    /// The tick at which main had spawned every job and first slept.
    pub spawned_by: Tick,
    /// The workload's length in ticks (`--seconds` × hz).
    pub ticks: Tick,
}

/// Why a trace cannot script an emulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptError {
    /// The trace does not decode.
    Damaged(std::string::String),
    /// The trace has no admission of job 0 or no block of main.
    Missing(&'static str),
}

impl core::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ScriptError::Damaged(e) => write!(f, "the trace is damaged: {e}"),
            ScriptError::Missing(what) => write!(f, "the trace has no {what}"),
        }
    }
}

impl Script {
    /// The script of the kernel run that wrote `trace`, whose jobs are `jobs` over `ticks`.
    pub fn from_trace(trace: &[u8], jobs: &[Job], ticks: Tick) -> Result<Self, ScriptError> {
        let first_job = TaskId(MAIN.0 + 1);
        let (mut admitted, mut blocked) = (None, None);
        let mut first_tick = None;
        for entry in TraceReader::new(trace) {
            let entry = entry.map_err(|e| ScriptError::Damaged(std::format!("{e}")))?;
            match entry.record {
                Record::Telemetry { tick, .. } => {
                    first_tick.get_or_insert(tick);
                }
                Record::TaskSpawn { tick, task, .. } if task == first_job.0 => {
                    admitted.get_or_insert(tick);
                }
                Record::TaskBlock { tick, task } if task == MAIN.0 => {
                    blocked.get_or_insert(tick);
                }
                _ => {}
            }
        }
        let admitted = admitted.ok_or(ScriptError::Missing("admission of the first job"))?;
        let arrival = jobs.first().map_or(0, |j| j.arrival);
        let first_tick = first_tick.ok_or(ScriptError::Missing("telemetry"))?;
        Ok(Script {
            // The first tick the scheduler handled is the one after it started.
            init: first_tick.saturating_sub(1),
            start: admitted.saturating_sub(arrival),
            spawned_by: blocked.ok_or(ScriptError::Missing("block of main"))?,
            ticks,
        })
    }
}

/// What a job thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Burst {
    /// It will declare its next burst when it runs.
    Next,
    /// It runs until charged this many CPU ticks in all.
    Until(Tick),
}

/// The result of an emulated run.
#[derive(Debug)]
pub struct Emulated {
    /// Every decision, in order.
    pub decisions: Vec<Decided>,
    /// The tick main found the workload over.
    pub end: Tick,
}

/// Emulates the kernel's workload run of `jobs` under the scheduler `setup` with `pipeline`,
/// as `script` says the kernel's run went: the scheduler starts at `script.init`, as it did
/// in the kernel.
pub fn run<I: Inference>(
    jobs: &[Job],
    script: &Script,
    setup: Setup,
    mut pipeline: Pipeline<I>,
) -> Result<Emulated, super::SchedError> {
    // The model's clock: budgets never trip on the host (the kernel's never did either; a
    // budget fallback in its trace shows as a difference).
    let mut clock = || 0u64;
    let mut core = Core::new(setup, script.init, Decisions::default())?;
    let first = MAIN.0 as usize + 1;
    let bursts = &mut vec![Burst::Next; jobs.len()][..];
    // Spawned held and released at once in the kernel: nothing about a job is observable
    // before its arrival, so it may as well be pending from the start here.
    for job in jobs {
        let arrival = Some(script.start + job.arrival);
        core.spawn(
            script.init,
            "job",
            (job.class, super::Nice::new(job.nice)),
            arrival,
        )?;
    }
    let deadline = script.start + script.ticks;
    let mut spawning = true;
    let mut t: Tick = script.init;
    loop {
        // What the running thread does before the next tick.
        loop {
            let cur = core.current();
            let next = if cur == MAIN {
                if spawning && t < script.spawned_by {
                    break;
                }
                spawning = false;
                let over = (first..core.len())
                    .all(|i| matches!(core.life(TaskId(i as u32)), Some(Life::Exited { .. })));
                if t >= deadline || over {
                    return Ok(Emulated {
                        decisions: core.sink_mut().0.split_off(0),
                        end: t,
                    });
                }
                let until = next_poll(t, script.start, deadline);
                core.block(t, Life::Sleeping { until }, &mut pipeline, &mut clock)
            } else if (cur.0 as usize) >= first {
                let index = cur.0 as usize - first;
                let job = &jobs[index];
                let used = core.view(cur).map_or(0, |v| v.cpu_total);
                let target = match bursts[index] {
                    Burst::Until(target) => target,
                    Burst::Next => {
                        let target = match job.io {
                            Some(io) => (used + io.run).min(job.work),
                            None => job.work,
                        };
                        core.set_burst_end(target);
                        bursts[index] = Burst::Until(target);
                        target
                    }
                };
                if used < target {
                    break;
                }
                bursts[index] = Burst::Next;
                match job.io {
                    Some(io) if target < job.work => {
                        let until = t + io.block.max(1);
                        core.block(t, Life::Sleeping { until }, &mut pipeline, &mut clock)
                    }
                    _ => core.exit(t, used as i32, &mut pipeline, &mut clock),
                }
            } else {
                break;
            };
            core.commit_switch(t, next);
        }
        t += 1;
        let next = crate::tick::run(&mut core, &mut pipeline, t, &mut clock);
        core.commit_switch(t, next);
    }
}
