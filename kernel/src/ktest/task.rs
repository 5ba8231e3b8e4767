//! In-kernel tests of kernel threads: spawn/exit/wait, preemption by the timer under the
//! configured policy (FIFO: none) with each thread's computation intact, sleeping, and
//! guarded stacks.

use super::{KTest, ktest_assert};
use crate::mm::paging;
use crate::{task, time};
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

pub static TESTS: &[KTest] = &[
    KTest {
        name: "task::threads_are_preempted_and_keep_their_state",
        run: threads_are_preempted_and_keep_their_state,
    },
    KTest {
        name: "task::sleep_blocks_for_the_duration",
        run: sleep_blocks_for_the_duration,
    },
    KTest {
        name: "task::thread_stacks_have_guard_pages",
        run: thread_stacks_have_guard_pages,
    },
];

/// Ticks of CPU each worker burns; more than the quantum, so the timer must preempt.
const WORK_TICKS: u64 = 40;
static RESULTS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// A value that depends on every step of a long computation, so a lost register or stack
/// slot across a preemption changes it.
fn checksum(seed: u64, steps: u64) -> u64 {
    (0..steps).fold(seed, |acc, i| {
        acc.rotate_left(7).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i
    })
}

fn worker(slot: u64) -> i32 {
    let start = time::ticks();
    let mut steps = 0u64;
    let mut acc = slot;
    while time::ticks() < start + WORK_TICKS {
        acc = acc.rotate_left(7).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ steps;
        steps += 1;
    }
    // Record both, so the test can recompute `acc` from `steps` without any preemption.
    RESULTS[slot as usize].store(acc, Ordering::Relaxed);
    (steps & 0x7fff_ffff) as i32
}

fn threads_are_preempted_and_keep_their_state() -> Result<(), String> {
    let switches_before = task::switches();
    let inferences_before = task::pipeline_costs().inferences;
    let ids: Vec<_> = (0..3u64)
        .map(|slot| task::spawn("worker", worker, slot).map_err(|e| alloc::format!("{e}")))
        .collect::<Result<_, _>>()?;
    let mut steps = Vec::new();
    for &id in &ids {
        let status = task::wait(id).ok_or_else(|| String::from("thread vanished"))?;
        steps.push(status as u64);
    }
    for (slot, (&id, &n)) in ids.iter().zip(&steps).enumerate() {
        let got = RESULTS[slot].load(Ordering::Relaxed);
        ktest_assert!(n > 0, "worker {slot} made no progress");
        ktest_assert!(
            got == checksum(slot as u64, n),
            "worker {slot}'s computation was corrupted across switches"
        );
        let view = task::view(id).ok_or_else(|| String::from("no view"))?;
        ktest_assert!(view.cpu_total > 0, "worker {slot} was charged no ticks");
    }
    let first_runs: Vec<u64> = ids
        .iter()
        .filter_map(|&id| task::view(id)?.first_run)
        .collect();
    ktest_assert!(first_runs.len() == 3, "not every worker ran");
    let earliest_end = first_runs.iter().min().copied().unwrap_or(0) + WORK_TICKS;
    if task::policy_name() == "learned" {
        // The model ran on the timer ticks that interrupted the workers, and their
        // computations above still came out right.
        let ran = task::pipeline_costs().inferences - inferences_before;
        ktest_assert!(
            ran >= WORK_TICKS,
            "only {ran} inferences ran while the workers computed; is the model loaded?"
        );
    }
    if task::policy_name() == "fifo" {
        // FIFO never preempts: each worker ran to completion before the next started.
        ktest_assert!(
            first_runs.windows(2).all(|w| w[1] >= w[0] + WORK_TICKS),
            "FIFO interleaved workers (first runs {first_runs:?})"
        );
    } else {
        // Every preemptive policy interleaves: all workers start before any could have
        // finished alone.
        ktest_assert!(
            first_runs.iter().all(|&f| f < earliest_end),
            "workers ran one after another under {} (first runs {first_runs:?}): no preemption",
            task::policy_name()
        );
        let switches = task::switches() - switches_before;
        ktest_assert!(
            switches >= 6,
            "only {switches} switches under {}",
            task::policy_name()
        );
    }
    Ok(())
}

fn sleeper(ticks: u64) -> i32 {
    let start = time::ticks();
    task::sleep_ticks(ticks);
    (time::ticks() - start) as i32
}

fn sleep_blocks_for_the_duration() -> Result<(), String> {
    let id = task::spawn("sleeper", sleeper, 25).map_err(|e| alloc::format!("{e}"))?;
    let slept = task::wait(id).ok_or_else(|| String::from("thread vanished"))?;
    ktest_assert!(
        (25..=27).contains(&slept),
        "slept {slept} ticks, asked for 25"
    );
    let view = task::view(id).ok_or_else(|| String::from("no view"))?;
    ktest_assert!(
        view.sleeps == 1 && view.wakeups == 1,
        "sleeps {} wakeups {}",
        view.sleeps,
        view.wakeups
    );
    ktest_assert!(
        view.blocked_total >= 24,
        "blocked for {} ticks",
        view.blocked_total
    );
    Ok(())
}

fn thread_stacks_have_guard_pages() -> Result<(), String> {
    let id = task::spawn("short", |x| x as i32, 7).map_err(|e| alloc::format!("{e}"))?;
    let stack = task::stack(id).ok_or_else(|| String::from("spawned thread has no stack"))?;
    ktest_assert!(
        paging::translate(stack.guard).is_none(),
        "guard page {:#x} is mapped",
        stack.guard
    );
    ktest_assert!(
        paging::translate(stack.top - 8).is_some(),
        "stack top not mapped"
    );
    ktest_assert!(task::wait(id) == Some(7), "exit status lost");
    Ok(())
}
