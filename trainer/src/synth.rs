//! Synthetic traces: a tiny tick-level simulator that writes what the kernel writes, for tests
//! and for trying the trainer without booting anything.
//!
//! It runs a seeded workload ([`augur_kernel::workload::generate`]) under quantum round robin
//! with optional random exploration, and records through the kernel's own encoder
//! ([`TraceRing`], `drain_chunk`) in the kernel's order (`kernel/src/task/mod.rs`, `on_tick`):
//! arrivals and wake-ups, the running task charged its tick, a telemetry record, the tick's
//! decision, then — when the running task has finished its burst — its block or exit and a
//! mid-tick decision with the same tick number. Features come from the kernel's
//! [`TaskView`] and [`TaskFeatures::of`], so they mean exactly what they mean in a kernel trace;
//! a task's exit status is the CPU ticks it used, as the workload runner's threads report.
//!
//! # Notes
//! This is not the kernel's scheduler: it only has to produce traces with the kernel's record
//! shapes, orders and feature semantics. Task ids start at 1 (0 is the kernel's idle thread).

use std::collections::VecDeque;

use augur_kernel::sched::{TaskClass, TaskId, TaskState, TaskView, Tick};
use augur_kernel::telemetry::CANDIDATE_FEATURES;
use augur_kernel::telemetry::{SCHEMA_VERSION, TaskFeatures, Telemetry, TickEvents};
use augur_kernel::trace::{
    CHUNK_HEADER_BYTES, Candidates, Items, MAX_CHUNK_PAYLOAD, Record, Section, Sections, TraceRing,
    head, section,
};
use augur_kernel::workload::{Job, Mix, SplitMix64, generate};

/// Bytes of the simulator's trace ring (drained every tick, so it never fills).
const RING_BYTES: usize = 1 << 16;
/// Round-robin time slice, in ticks.
const QUANTUM_TICKS: u64 = 4;
/// Policy code written in decision records (not one of the kernel's: this is the simulator).
pub const SYNTH_POLICY_CODE: u8 = 0xee;

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub struct SynthConfig {
    /// The workload family.
    pub mix: Mix,
    /// Its seed (also seeds the exploration).
    pub seed: u64,
    /// Ticks to simulate.
    pub ticks: Tick,
    /// Percent of forced decisions taken at random instead of round robin.
    pub explore_percent: u8,
}

struct Sim {
    ring: Box<TraceRing<RING_BYTES>>,
    out: Vec<u8>,
    chunk: Vec<u8>,
}

impl Sim {
    fn record(&mut self, r: &Record<'_>) {
        // The ring is drained after every record batch, so a full ring is a simulator bug.
        self.ring.push(r).expect("synthetic trace ring overflow");
        if self.ring.len() > RING_BYTES / 2 {
            self.drain();
        }
    }

    fn drain(&mut self) {
        loop {
            let n = self
                .ring
                .drain_chunk(&mut self.chunk)
                .expect("drain buffer holds a whole chunk");
            if n == 0 {
                break;
            }
            self.out.extend_from_slice(&self.chunk[..n]);
        }
    }
}

/// Per-task simulator state.
struct Task {
    view: TaskView,
    job: Job,
    /// CPU ticks at which the current burst ends (block or exit).
    target: Tick,
    wake_at: Option<Tick>,
}

/// Simulates `cfg` and returns the trace bytes (chunks from #0, as a kernel writes them).
pub fn synth_trace(cfg: &SynthConfig) -> Vec<u8> {
    synth_trace_of(&generate(cfg.mix, cfg.seed, cfg.ticks), cfg)
}

/// Simulates `jobs` (in arrival order; `cfg.mix` is ignored) for `cfg.ticks` ticks.
pub fn synth_trace_of(jobs: &[Job], cfg: &SynthConfig) -> Vec<u8> {
    let mut sim = Sim {
        ring: Box::new(TraceRing::new()),
        out: Vec::new(),
        chunk: vec![0; CHUNK_HEADER_BYTES + MAX_CHUNK_PAYLOAD],
    };
    let mut rng = SplitMix64::new(cfg.seed ^ 0x5eed_5eed);
    let mut tasks: Vec<Task> = Vec::new();
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut cur: Option<usize> = None;
    let mut slice: u64 = 0;
    let mut events = TickEvents::default();
    let mut next_job = 0;

    for t in 1..=cfg.ticks {
        while next_job < jobs.len() && jobs[next_job].arrival < t {
            let job = jobs[next_job];
            let id = TaskId(tasks.len() as u32 + 1);
            let view = TaskView::new(id, t).with_class(job.class);
            let target = job.io.map_or(job.work, |io| io.run.min(job.work));
            sim.record(&Record::TaskSpawn {
                tick: t,
                task: id.0,
                class: TaskClass::code(job.class),
                name: "job",
            });
            events.arrivals += 1;
            queue.push_back(tasks.len());
            tasks.push(Task {
                view,
                job,
                target,
                wake_at: None,
            });
            next_job += 1;
        }
        for (i, task) in tasks.iter_mut().enumerate() {
            if task.wake_at == Some(t) {
                task.wake_at = None;
                task.view.on_wake(t);
                events.wakeups += 1;
                sim.record(&Record::TaskWake {
                    tick: t,
                    task: task.view.id.0,
                });
                queue.push_back(i);
            }
        }
        let busy = cur.is_some();
        if let Some(c) = cur {
            tasks[c].view.on_ran_tick(t);
            slice += 1;
        }
        let telemetry = Telemetry::snapshot(
            t,
            tasks
                .iter()
                .map(|x| &x.view)
                .filter(|v| v.state != TaskState::Exited),
            busy,
            &events,
        );
        events = TickEvents::default();
        let sections = [Section {
            code: section::SCHED,
            version: SCHEMA_VERSION,
            fields: Items::from_slice(&telemetry.0),
        }];
        sim.record(&Record::Telemetry {
            tick: t,
            sections: Sections::from_slice(&sections),
        });
        let force = cur.is_none() || slice >= QUANTUM_TICKS;
        decide(
            &mut sim,
            &mut tasks,
            &mut queue,
            &mut cur,
            &mut slice,
            &mut rng,
            cfg,
            t,
            force,
            &mut events,
        );
        // The running task may have finished its burst: it blocks or exits at once, and the
        // CPU is decided again within the same tick.
        while let Some(c) = cur {
            let task = &mut tasks[c];
            if task.view.cpu_total < task.target {
                break;
            }
            if task.view.cpu_total >= task.job.work {
                task.view.on_exit(t);
                events.exits += 1;
                sim.record(&Record::TaskExit {
                    tick: t,
                    task: task.view.id.0,
                    status: task.view.cpu_total as i32,
                });
            } else if let Some(io) = task.job.io {
                task.view.on_block(t);
                task.wake_at = Some(t + io.block.max(1));
                task.target = (task.view.cpu_total + io.run).min(task.job.work);
                events.blocks += 1;
                sim.record(&Record::TaskBlock {
                    tick: t,
                    task: task.view.id.0,
                });
            }
            cur = None;
            decide(
                &mut sim,
                &mut tasks,
                &mut queue,
                &mut cur,
                &mut slice,
                &mut rng,
                cfg,
                t,
                true,
                &mut events,
            );
        }
    }
    sim.drain();
    sim.out
}

/// One scheduling decision: records it and switches.
#[allow(clippy::too_many_arguments)]
fn decide(
    sim: &mut Sim,
    tasks: &mut [Task],
    queue: &mut VecDeque<usize>,
    cur: &mut Option<usize>,
    slice: &mut u64,
    rng: &mut SplitMix64,
    cfg: &SynthConfig,
    t: Tick,
    force: bool,
    events: &mut TickEvents,
) {
    let cands: Vec<usize> = cur.iter().copied().chain(queue.iter().copied()).collect();
    if cands.is_empty() {
        return;
    }
    let pick = if !force {
        cands[0]
    } else if rng.range(0, 99) < u64::from(cfg.explore_percent) {
        cands[rng.range(0, cands.len() as u64 - 1) as usize]
    } else {
        // Round robin: the longest-queued task, or the running one when it is alone.
        queue.front().copied().unwrap_or(cands[0])
    };
    let shown = &cands[..cands.len().min(augur_kernel::trace::MAX_CANDIDATES)];
    let ids: Vec<u64> = shown
        .iter()
        .map(|&i| u64::from(tasks[i].view.id.0))
        .collect();
    let features: Vec<[i16; CANDIDATE_FEATURES]> = shown
        .iter()
        .map(|&i| {
            let v = &tasks[i].view;
            TaskFeatures::of(v, t, Some(i) == *cur && v.state == TaskState::Running).0
        })
        .collect();
    let scores = vec![0; shown.len()];
    sim.record(&Record::Decision {
        tick: t,
        head: head::SCHED,
        chosen: u64::from(tasks[pick].view.id.0),
        policy: SYNTH_POLICY_CODE,
        fallback: None,
        candidates: Candidates::columns(CANDIDATE_FEATURES, &ids, features.as_flattened(), &scores),
    });
    if Some(pick) != *cur {
        if let Some(c) = *cur {
            tasks[c].view.on_preempt(t);
            queue.push_back(c);
        }
        queue.retain(|&i| i != pick);
        let v = &mut tasks[pick].view;
        if v.first_run.is_none() {
            sim.record(&Record::TaskFirstRun {
                tick: t,
                task: v.id.0,
            });
        }
        tasks[pick].view.on_dispatch(t);
        *cur = Some(pick);
        *slice = 0;
        events.switches += 1;
    } else if force {
        *slice = 0;
    }
}
