//! Host-side replay: a deterministic tick-level simulator that drives any [`Policy`] over a job
//! list through exactly the interface the kernel uses.
//!
//! Each job arrives at a tick, needs some ticks of CPU, and may do I/O: after every `run`
//! ticks of CPU it blocks for `block` ticks. Tick `t` is the interval `[t, t+1)`. At the start
//! of each tick the simulator admits arrivals and wake-ups (in job order), asks the policy to
//! pick if the CPU is free or a verdict said [`Verdict::Preempt`], runs the chosen job for the
//! tick, then reports the tick and any block or exit. It refuses a policy that picks a job that
//! is not runnable, or that idles the CPU forever, with a [`ReplayError`].
//!
//! Metrics per job are OSTEP's (ch. 7): response = first run − arrival, turnaround =
//! completion − arrival, wait = turnaround − work − time blocked. With no I/O and every job
//! arriving at 0, FIFO, SJF and RR(1) reproduce `scheduler.py -c` exactly (see the tests).
//! Host only: it allocates freely.

use std::vec::Vec;

use super::{Leave, Policy, SchedError, TaskId, TaskState, TaskView, Tick, Verdict, Wake};
use core::fmt;

pub use crate::workload::{Io, Job};

/// Per-job results, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobStats {
    /// First run − arrival.
    pub response: Tick,
    /// Completion − arrival.
    pub turnaround: Tick,
    /// Turnaround − work − blocked: time runnable but not running.
    pub wait: Tick,
    /// Ticks spent blocked.
    pub blocked: Tick,
    /// Tick at whose end it finished.
    pub completion: Tick,
}

/// A finished replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Results per job, in job order.
    pub jobs: Vec<JobStats>,
    /// Which job (index) ran in each tick; `None` when the CPU idled.
    pub trace: Vec<Option<usize>>,
    /// Times the running job changed to another job.
    pub switches: u64,
}

impl Outcome {
    fn mean(&self, f: impl Fn(&JobStats) -> Tick) -> f64 {
        if self.jobs.is_empty() {
            return 0.0;
        }
        self.jobs.iter().map(|j| f(j) as f64).sum::<f64>() / self.jobs.len() as f64
    }

    /// Mean response time, ticks.
    pub fn mean_response(&self) -> f64 {
        self.mean(|j| j.response)
    }

    /// Mean turnaround time, ticks.
    pub fn mean_turnaround(&self) -> f64 {
        self.mean(|j| j.turnaround)
    }

    /// Mean wait time, ticks.
    pub fn mean_wait(&self) -> f64 {
        self.mean(|j| j.wait)
    }

    /// Total turnaround, ticks (exact, for comparing policies without rounding).
    pub fn total_turnaround(&self) -> Tick {
        self.jobs.iter().map(|j| j.turnaround).sum()
    }
}

/// Why a replay stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// A job had zero work or an I/O pattern with `run` 0.
    BadJob { job: usize },
    /// The policy refused an enqueue.
    Policy { tick: Tick, error: SchedError },
    /// The policy picked a task that is not a runnable job.
    NotRunnable { tick: Tick, task: TaskId },
    /// Jobs were left unfinished after every job could have finished: the policy idled.
    Stalled { tick: Tick },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadJob { job } => write!(
                f,
                "job {job} has no work or an I/O pattern with no run time"
            ),
            Self::Policy { tick, error } => write!(f, "at tick {tick}: {error}"),
            Self::NotRunnable { tick, task } => write!(
                f,
                "at tick {tick} the policy picked {task}, which is not runnable"
            ),
            Self::Stalled { tick } => write!(
                f,
                "jobs unfinished at tick {tick}: the policy left the CPU idle"
            ),
        }
    }
}

/// A job list ready to be replayed under any policy.
#[derive(Clone, Debug)]
pub struct Replay {
    jobs: Vec<Job>,
}

impl Replay {
    /// A replay of `jobs`; job `i` becomes task `TaskId(i)`.
    pub fn new(jobs: &[Job]) -> Result<Self, ReplayError> {
        for (job, j) in jobs.iter().enumerate() {
            if j.work == 0 || j.io.is_some_and(|io| io.run == 0) {
                return Err(ReplayError::BadJob { job });
            }
        }
        Ok(Self {
            jobs: jobs.to_vec(),
        })
    }

    /// Jobs with the given lengths, all arriving at 0 (OSTEP's `-l a,b,c`).
    pub fn from_lengths(lengths: &[Tick]) -> Result<Self, ReplayError> {
        let jobs: Vec<Job> = lengths.iter().map(|&w| Job::new(0, w)).collect();
        Self::new(&jobs)
    }

    /// The job list.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Bound on the ticks any work-conserving policy needs.
    fn horizon(&self) -> Tick {
        let last_arrival = self.jobs.iter().map(|j| j.arrival).max().unwrap_or(0);
        let busy: Tick = self
            .jobs
            .iter()
            .map(|j| j.work + j.io.map_or(0, |io| (j.work / io.run + 1) * io.block))
            .sum();
        last_arrival + busy + 1
    }

    /// Runs every job to completion under `policy`.
    pub fn run(&self, policy: &mut dyn Policy) -> Result<Outcome, ReplayError> {
        let mut views: Vec<TaskView> = self
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let id = TaskId(i as u32);
                TaskView::new(id, j.arrival)
                    .with_work(j.work)
                    .with_nice(super::Nice::new(j.nice))
                    .with_class(j.class)
            })
            .collect();
        // Tick at which each blocked job wakes; `None` while not blocked.
        let mut wake_at: Vec<Option<Tick>> = std::vec![None; self.jobs.len()];
        let mut admitted = std::vec![false; self.jobs.len()];
        let mut completion: Vec<Option<Tick>> = std::vec![None; self.jobs.len()];
        let mut trace = Vec::new();
        let mut running: Option<usize> = None;
        let mut resched = false;
        let mut switches = 0;
        let horizon = self.horizon();
        let mut now: Tick = 0;

        while completion.iter().any(Option::is_none) {
            if now > horizon {
                return Err(ReplayError::Stalled { tick: now });
            }
            // Arrivals and wake-ups, in job order.
            for i in 0..self.jobs.len() {
                let why = if !admitted[i] && self.jobs[i].arrival == now {
                    admitted[i] = true;
                    Wake::New
                } else if wake_at[i] == Some(now) {
                    wake_at[i] = None;
                    views[i].on_wake(now);
                    Wake::Woken
                } else {
                    continue;
                };
                let verdict = policy
                    .enqueue(now, &views[i], why)
                    .map_err(|error| ReplayError::Policy { tick: now, error })?;
                resched |= verdict == Verdict::Preempt;
            }
            if running.is_none() || resched {
                resched = false;
                let next = policy.pick_next(now);
                let next_job = match next {
                    Some(id) => {
                        let i = id.0 as usize;
                        let ok = views.get(i).is_some_and(|v| {
                            matches!(v.state, TaskState::Runnable | TaskState::Running)
                        }) && admitted[i];
                        if !ok {
                            return Err(ReplayError::NotRunnable {
                                tick: now,
                                task: id,
                            });
                        }
                        Some(i)
                    }
                    None => None,
                };
                if next_job != running {
                    if let Some(prev) = running {
                        views[prev].on_preempt(now);
                    }
                    if let Some(n) = next_job {
                        views[n].on_dispatch(now);
                        if running.is_some() {
                            switches += 1;
                        }
                    }
                }
                policy.switch_to(now, next);
                running = next_job;
            }
            trace.push(running);
            now += 1;
            let Some(r) = running else { continue };
            let view = &mut views[r];
            view.on_ran_tick(now);
            let verdict = policy.tick(now, view);
            let job = &self.jobs[r];
            if view.cpu_total >= job.work {
                view.on_exit(now);
                policy.dequeue(now, view, Leave::Exited);
                completion[r] = Some(now);
                running = None;
            } else if let Some(io) = job.io.filter(|io| view.cpu_total.is_multiple_of(io.run)) {
                view.on_block(now);
                policy.dequeue(now, view, Leave::Blocked);
                // Runnable again at the start of tick `now + block` (this boundary if 0).
                wake_at[r] = Some(now + io.block);
                running = None;
            } else {
                resched |= verdict == Verdict::Preempt;
            }
        }

        let jobs = self
            .jobs
            .iter()
            .zip(&views)
            .zip(&completion)
            .map(|((job, v), done)| {
                let completion = done.unwrap_or(now);
                let turnaround = completion - job.arrival;
                JobStats {
                    response: v.first_run.unwrap_or(completion) - job.arrival,
                    turnaround,
                    wait: turnaround - job.work - v.blocked_total,
                    blocked: v.blocked_total,
                    completion,
                }
            })
            .collect();
        Ok(Outcome {
            jobs,
            trace,
            switches,
        })
    }
}
