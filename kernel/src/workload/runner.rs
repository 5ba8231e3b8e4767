//! Runs a seeded workload as kernel threads and prints its metrics (`--workload`).
//!
//! Every job of [`super::generate`] becomes a thread spawned up front, pending its arrival
//! tick, so arrivals happen on the tick whoever runs. A job's thread burns CPU until the
//! scheduler has charged it the ticks of its next burst, then sleeps for the job's I/O wait,
//! until its work is done; it exits with the CPU ticks it used (what the trainer's hindsight
//! labels read). The main thread only wakes every [`super::POLL_TICKS`] to see whether all are done.

use super::metrics::{RunMetrics, TaskOutcome};
use super::{Job, check_size, generate};
use crate::bootcfg::{BootConfig, SchedPolicy};
use crate::learn::FallbackReason;
use crate::sched::{Nice, TaskClass, TaskId, TaskState, Tick};
use crate::{kprintln, task, time};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use spin::Once;

static JOBS: Once<Vec<Job>> = Once::new();

/// A job's thread: CPU bursts and waits as its [`Job`] says. Returns its CPU ticks.
fn job_thread(index: u64) -> i32 {
    let Some(job) = JOBS
        .get()
        .and_then(|jobs| jobs.get(index as usize))
        .copied()
    else {
        return -1;
    };
    let Some(me) = task::current() else { return -1 };
    let cpu = || task::view(me).map_or(0, |v| v.cpu_total);
    let mut state = index.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    loop {
        let used = cpu();
        let target = match job.io {
            Some(io) => (used + io.run).min(job.work),
            None => job.work,
        };
        task::run_until_charged(target, || state = burn(state));
        if target >= job.work {
            break;
        }
        if let Some(io) = job.io {
            task::sleep_ticks(io.block);
        }
    }
    core::hint::black_box(state);
    cpu() as i32
}

/// About ten thousand instructions of integer work.
fn burn(mut x: u64) -> u64 {
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    core::hint::black_box(x)
}

fn class_name(class: TaskClass) -> &'static str {
    match class {
        TaskClass::Normal => "io",
        TaskClass::Batch => "batch",
        TaskClass::Interactive => "interactive",
    }
}

/// Runs the workload the boot settings name; prints the summary. `false` if it could not run.
pub fn run(config: &BootConfig) -> bool {
    let hz = u64::from(config.tick_hz);
    let ticks = u64::from(config.seconds) * hz;
    // The host refuses such a run before booting; this is the kernel's own word on it, so a
    // workload is never cut short in silence whoever built the settings.
    if let Err(e) = check_size(config.workload, config.seed, ticks) {
        kprintln!("workload refused: {e}");
        return false;
    }
    let jobs = JOBS.call_once(|| generate(config.workload, config.seed, ticks));
    kprintln!(
        "workload: {} seed={} jobs={} over {} ticks, policy {}",
        config.workload.name(),
        config.seed,
        jobs.len(),
        ticks,
        task::policy_name()
    );
    let frames_before = crate::mm::frames::stats().free_frames;
    let mut ids = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let name: &'static str = String::leak(format!("{}-{i}", class_name(job.class)));
        match task::spawn_held(name, (job.class, Nice::new(job.nice)), job_thread, i as u64) {
            Ok(id) => ids.push(id),
            Err(e) => {
                kprintln!("workload: cannot spawn job {i}: {e}");
                return false;
            }
        }
    }
    // Every job arrives relative to the tick after the last one was spawned, so neither the
    // boot nor the spawning (instructions, not ticks) shows in the workload's timing.
    let start = match task::release(&ids, |i, start| start + jobs[i].arrival) {
        Ok(start) => start,
        Err(e) => {
            kprintln!("workload: cannot release the jobs: {e}");
            return false;
        }
    };
    let heap_after_spawn = crate::mm::heap::used();
    let frames_after_spawn = crate::mm::frames::stats().free_frames;
    let costs_before = task::pipeline_costs();
    let start_ns = time::now_ns();
    let deadline = start + ticks;
    while time::ticks() < deadline && !ids.iter().all(|&id| exited(id)) {
        task::sleep_ticks(super::next_poll(time::ticks(), start, deadline) - time::ticks());
    }
    let elapsed = time::ticks() - start;
    // Every exited job's stack goes back to the frame allocator: a finished workload leaves
    // the frames and the heap where they were (the tables keep one small entry per task).
    let reaped = task::reap();
    kprintln!(
        "memory: frames_before={frames_before} frames_after_spawn={frames_after_spawn} frames_after={} stack_pages={} heap_after_spawn={heap_after_spawn} heap_end={} stacks_reaped={reaped} stacks_in_use={} lock_misses={}",
        crate::mm::frames::stats().free_frames,
        task::STACK_PAGES,
        crate::mm::heap::used(),
        task::stacks_in_use(),
        task::lock_misses()
    );
    let metrics = measure(&ids, jobs.len(), elapsed, hz, &costs_before);
    print_summary(config, &metrics);
    kprintln!("{metrics}");
    // The same health line as the timer job's, so every boot ends with one.
    kprintln!(
        "{}",
        crate::health::HealthSummary {
            ticks: elapsed,
            tick_hz: config.tick_hz,
            elapsed_us: (time::now_ns() - start_ns) / 1000,
            free_kib: crate::mm::frames::stats().free_frames * crate::mm::PAGE_BYTES / 1024,
            heap_used: crate::mm::heap::used(),
        }
    );
    true
}

fn exited(id: TaskId) -> bool {
    task::view(id).is_some_and(|v| v.state == TaskState::Exited)
}

/// Gathers the per-task outcomes and the pipeline's costs since `before`.
fn measure(
    ids: &[TaskId],
    jobs: usize,
    elapsed: Tick,
    hz: u64,
    before: &task::PipelineCosts,
) -> RunMetrics {
    let outcomes: Vec<TaskOutcome> = ids
        .iter()
        .filter_map(|&id| task::view(id))
        .filter(|v| v.state == TaskState::Exited)
        .map(|v| TaskOutcome {
            turnaround: v.state_since - v.arrival,
            response: v.first_run.unwrap_or(v.state_since) - v.arrival,
            wait: v.waited_total,
        })
        .collect();
    let mut m = RunMetrics {
        jobs: jobs as u64,
        ticks: elapsed,
        hz,
        ..RunMetrics::default()
    };
    m.set_outcomes(&outcomes);
    if let Some((fb, first_ticks)) = task::fallbacks() {
        m.decisions = fb.decisions;
        m.first_ticks = first_ticks;
        for (slot, reason) in m.fallbacks.iter_mut().zip(FallbackReason::ALL) {
            *slot = fb.get(reason);
        }
    }
    let after = task::pipeline_costs();
    let inferences = after.inferences - before.inferences;
    m.inference_ns = time::cycles_to_ns(
        (after.inference_cycles - before.inference_cycles)
            .checked_div(inferences)
            .unwrap_or(0),
    );
    m.tick_ns = time::cycles_to_ns(
        (after.tick_cycles - before.tick_cycles)
            .checked_div(after.ticks - before.ticks)
            .unwrap_or(0),
    );
    m
}

/// The human-readable end-of-run table.
fn print_summary(config: &BootConfig, m: &RunMetrics) {
    let ms = |ticks: f64| ticks * 1000.0 / m.hz.max(1) as f64;
    let policy = match config.policy {
        SchedPolicy::Learned => format!("learned (shadow {})", config.shadow.name()),
        p => String::from(p.name()),
    };
    kprintln!(
        "summary: {policy} on {} seed {}: {} of {} jobs finished in {} ticks",
        config.workload.name(),
        config.seed,
        m.finished,
        m.jobs,
        m.ticks
    );
    kprintln!("  {:<12} {:>10} {:>10} {:>10}", "ms", "mean", "p50", "p99");
    for (name, s) in [
        ("turnaround", m.turnaround),
        ("response", m.response),
        ("wait", m.wait),
    ] {
        kprintln!(
            "  {:<12} {:>10.2} {:>10.2} {:>10.2}",
            name,
            ms(s.mean()),
            ms(s.p50 as f64),
            ms(s.p99 as f64)
        );
    }
    if config.policy == SchedPolicy::Learned {
        let total: u64 = m.fallbacks.iter().sum();
        kprintln!(
            "  decisions: {}, of which {} first ticks of newcomers",
            m.decisions,
            m.first_ticks
        );
        kprintln!(
            "  fallbacks: {total} of {} decisions ({:.2}%)",
            m.decisions,
            total as f64 * 100.0 / m.decisions.max(1) as f64
        );
        for (reason, n) in FallbackReason::ALL.iter().zip(m.fallbacks) {
            kprintln!("    {:<11} {n}", reason.name());
        }
    }
    let unit = if config.icount { "instructions" } else { "ns" };
    let tick_period_ns = 1_000_000_000 / m.hz.max(1);
    kprintln!(
        "  pipeline: inference {} {unit}/decision, tick work {} {unit}/tick = {:.2}% of the {} {unit} tick",
        m.inference_ns,
        m.tick_ns,
        m.tick_ns as f64 * 100.0 / tick_period_ns as f64,
        tick_period_ns
    );
}
