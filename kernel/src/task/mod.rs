//! Kernel threads: spawn, sleep, exit, wait, preempted by the timer tick. Only the machine's
//! part lives here (stacks, saved stack pointers, the context switch, the lock); who runs is
//! decided by the portable scheduler core (`crate::sched::core`) and the tick pipeline
//! (`crate::tick`), which host replay runs too.
//!
//! Each thread has its own kernel stack with an unmapped guard page below it
//! (`mm::paging::alloc_stack`). The boot flow becomes thread `main`; an `idle` thread, outside
//! the policy, halts when nothing is runnable. A thread may be spawned *pending* an arrival
//! tick (workloads): it enters the policy at that tick, independent of who runs.
//!
//! # The timer tick
//! After the LAPIC EOI the handler calls [`on_tick`]: it takes the scheduler lock, runs
//! [`crate::tick::run`] (arrivals and wake-ups, charging, telemetry into the learned
//! pipeline and the trace, the decision), drains a chunk of the trace ring to COM2 if it is
//! filling up (the idle thread drains it otherwise), and switches stacks right there, so a
//! thread is suspended either inside that handler or inside a blocking call. The model's AVX2
//! kernels run inside this handler, with interrupts off; threads own no SIMD state
//! (DESIGN.md §3), so nothing needs saving around them.
//!
//! # Invariants
//! - The scheduler state is only touched with interrupts disabled (single CPU), so the tick
//!   handler can never find its lock held; it only uses `try_lock` all the same, and counts
//!   a tick it had to skip ([`lock_misses`]) instead of losing it silently.
//! - The tick path does not allocate: spawning (which grows the tables) happens in thread
//!   context with interrupts off.
//! - A thread's stack is freed only once the thread has exited and another thread runs
//!   ([`reap`]): nothing can run on it any more.

pub mod trace_channel;

use crate::arch::x86_64::cpu::rdtsc;
use crate::arch::x86_64::switch::{prepare_stack, switch_context};
use crate::learn::{FallbackCounts, Pipeline};
use crate::mm::paging::{self, KernelStack, PagingError};
use crate::sched::core::{Core, IDLE, Life, MAIN, Setup, TraceSink};
use crate::sched::{Nice, TaskClass, TaskId, TaskView, Tick};
use crate::trace::Record;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use x86_64::instructions::interrupts::{self, without_interrupts};

/// Pages of each thread's stack (the guard page comes on top of these).
pub const STACK_PAGES: u64 = 8;

/// The model as the kernel runs it: borrowing a model and scratch that live for the whole run.
pub type KernelInference = model_runtime::Engine<'static, 'static, 'static>;

/// The scheduler's trace records go to the trace channel.
pub struct ChannelSink;

impl TraceSink for ChannelSink {
    fn record(&mut self, record: &Record<'_>) {
        trace_channel::record(record);
    }
}

/// What only the machine needs of a thread.
struct Thread {
    /// Saved stack pointer while not running.
    rsp: u64,
    /// `None` for `main` (the boot stack), and once reaped.
    stack: Option<KernelStack>,
    entry: Option<fn(u64) -> i32>,
    arg: u64,
}

struct Scheduler {
    core: Core<ChannelSink>,
    pipeline: Pipeline<KernelInference>,
    /// Indexed by task id. Boxed so a thread's saved-`rsp` slot keeps its address while the
    /// table grows: a switch writes through a pointer to it after dropping the lock.
    #[allow(clippy::vec_box)]
    threads: Vec<Box<Thread>>,
    costs: PipelineCosts,
}

/// The scheduler the boot settings chose and the learned pipeline its model runs in.
pub struct SchedulerSetup {
    /// The policy (and the learned one, if in charge).
    pub sched: Setup,
    /// The learned pipeline (without a model when none was loaded or none is needed).
    pub pipeline: Pipeline<KernelInference>,
}

/// What the tick pipeline cost so far, in TSC cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineCosts {
    /// Ticks handled.
    pub ticks: u64,
    /// Cycles of the whole tick's work (the pipeline, before the trace drain).
    pub tick_cycles: u64,
    /// Inferences run.
    pub inferences: u64,
    /// Cycles spent in inference.
    pub inference_cycles: u64,
    /// The longest inference.
    pub inference_max: u64,
    /// Cycles spent draining the trace to COM2.
    pub drain_cycles: u64,
    /// Backbone runs (at most one per tick).
    pub backbone_runs: u64,
}

static SCHED: Mutex<Option<Scheduler>> = Mutex::new(None);

/// Ticks whose handler found the scheduler lock taken (it never should: see the invariants).
static LOCK_MISSES: AtomicU64 = AtomicU64::new(0);

/// Why a thread could not be spawned.
#[derive(Debug)]
pub enum SpawnError {
    NotStarted,
    Stack(PagingError),
    Policy(crate::sched::SchedError),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NotStarted => write!(f, "threads used before task::init"),
            SpawnError::Stack(e) => write!(f, "no stack for the new thread: {e}"),
            SpawnError::Policy(e) => write!(f, "{e}"),
        }
    }
}

fn now() -> Tick {
    crate::time::ticks()
}

/// Adopts the boot flow as thread `main` and starts scheduling with `setup`.
pub fn init(setup: SchedulerSetup) -> Result<(), SpawnError> {
    let idle_stack = paging::alloc_stack(STACK_PAGES).map_err(SpawnError::Stack)?;
    without_interrupts(|| {
        let core = Core::new(setup.sched, now(), ChannelSink).map_err(SpawnError::Policy)?;
        let idle = Box::new(Thread {
            // SAFETY: the stack was just mapped for this thread alone.
            rsp: unsafe { prepare_stack(idle_stack.top, idle_entry) },
            stack: Some(idle_stack),
            entry: None,
            arg: 0,
        });
        let main = Box::new(Thread {
            rsp: 0,
            stack: None,
            entry: None,
            arg: 0,
        });
        debug_assert_eq!((IDLE.0, MAIN.0), (0, 1));
        *SCHED.lock() = Some(Scheduler {
            core,
            pipeline: setup.pipeline,
            threads: alloc::vec![idle, main],
            costs: PipelineCosts::default(),
        });
        Ok(())
    })
}

/// Starts a thread running `entry(arg)` now; its return value is its exit status.
pub fn spawn(name: &'static str, entry: fn(u64) -> i32, arg: u64) -> Result<TaskId, SpawnError> {
    spawn_at(name, (TaskClass::Normal, Nice::new(0)), entry, arg, None)
}

/// Creates a thread of `class` and `nice` value running `entry(arg)` that becomes runnable at
/// tick `arrival` (now if `None` or already past). Its stack is allocated here, so arrival
/// costs the tick nothing but the enqueue.
pub fn spawn_at(
    name: &'static str,
    class_nice: (TaskClass, Nice),
    entry: fn(u64) -> i32,
    arg: u64,
    arrival: Option<Tick>,
) -> Result<TaskId, SpawnError> {
    spawn_thread(name, class_nice, (entry, arg), Some(arrival))
}

/// Creates a thread of `class` and `nice` value running `entry(arg)` that stays held until
/// [`release`] gives it an arrival tick.
pub fn spawn_held(
    name: &'static str,
    class_nice: (TaskClass, Nice),
    entry: fn(u64) -> i32,
    arg: u64,
) -> Result<TaskId, SpawnError> {
    spawn_thread(name, class_nice, (entry, arg), None)
}

/// Makes the thread's stack and its task in the core: arriving at `arrival` (see
/// [`spawn_at`]), or held when `arrival` is `None`.
fn spawn_thread(
    name: &'static str,
    class_nice: (TaskClass, Nice),
    (entry, arg): (fn(u64) -> i32, u64),
    arrival: Option<Option<Tick>>,
) -> Result<TaskId, SpawnError> {
    reap();
    let stack = paging::alloc_stack(STACK_PAGES).map_err(SpawnError::Stack)?;
    without_interrupts(|| {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().ok_or(SpawnError::NotStarted)?;
        let spawned = match arrival {
            Some(arrival) => s.core.spawn(now(), name, class_nice, arrival),
            None => s
                .core
                .spawn_held(now(), name, class_nice)
                .map(|id| (id, false)),
        };
        let (id, preempt) = match spawned {
            Ok(r) => r,
            Err(e) => {
                // The core refused it: the thread never existed.
                drop(guard);
                let _ = paging::free_stack(stack);
                return Err(SpawnError::Policy(e));
            }
        };
        // SAFETY: the stack was just mapped for this thread alone.
        let rsp = unsafe { prepare_stack(stack.top, thread_entry) };
        s.threads.push(Box::new(Thread {
            rsp,
            stack: Some(stack),
            entry: Some(entry),
            arg,
        }));
        debug_assert_eq!(id.0 as usize + 1, s.threads.len());
        if preempt {
            reschedule(guard);
        }
        Ok(id)
    })
}

/// Releases the held threads `ids` in one step (no tick passes in between): thread `i`
/// arrives at `arrival(i, start)`, where `start` is the next tick, which is returned.
pub fn release(ids: &[TaskId], arrival: impl Fn(usize, Tick) -> Tick) -> Result<Tick, SpawnError> {
    without_interrupts(|| {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().ok_or(SpawnError::NotStarted)?;
        let t = now();
        let start = t + 1;
        let mut preempt = false;
        for (i, &id) in ids.iter().enumerate() {
            preempt |= s
                .core
                .release(t, id, arrival(i, start))
                .map_err(SpawnError::Policy)?;
        }
        if preempt {
            reschedule(guard);
        }
        Ok(start)
    })
}

/// Frees the stacks of the threads that have exited (not the running one). Thread context.
/// Returns how many were freed.
pub fn reap() -> usize {
    let mut freed = 0;
    loop {
        let stack = without_interrupts(|| {
            let mut guard = SCHED.lock();
            let s = guard.as_mut()?;
            let current = s.core.current();
            (2..s.threads.len()).find_map(|i| {
                let id = TaskId(i as u32);
                let exited = matches!(s.core.life(id), Some(Life::Exited { .. }));
                if exited && id != current {
                    s.threads[i].stack.take()
                } else {
                    None
                }
            })
        });
        let Some(stack) = stack else { return freed };
        if let Err(e) = paging::free_stack(stack) {
            crate::warn!("could not free a thread's stack: {e}");
            return freed;
        }
        freed += 1;
    }
}

/// Threads whose stacks are still mapped (idle's included).
pub fn stacks_in_use() -> usize {
    without_interrupts(|| {
        SCHED.lock().as_ref().map_or(0, |s| {
            s.threads.iter().filter(|t| t.stack.is_some()).count()
        })
    })
}

/// The running thread's id.
pub fn current() -> Option<TaskId> {
    without_interrupts(|| SCHED.lock().as_ref().map(|s| s.core.current()))
}

/// The name of the scheduling policy in use (`rr`, `cfs`, …).
pub fn policy_name() -> &'static str {
    without_interrupts(|| {
        SCHED
            .lock()
            .as_ref()
            .map_or("none", |s| s.core.policy_name())
    })
}

/// Context switches so far.
pub fn switches() -> u64 {
    without_interrupts(|| SCHED.lock().as_ref().map_or(0, |s| s.core.switches()))
}

/// The view of thread `id` (a copy), if it exists.
pub fn view(id: TaskId) -> Option<TaskView> {
    without_interrupts(|| SCHED.lock().as_ref()?.core.view(id).copied())
}

/// The stack of thread `id` (`None` for `main`, which runs on the boot stack, and once reaped).
pub fn stack(id: TaskId) -> Option<KernelStack> {
    without_interrupts(|| SCHED.lock().as_ref()?.threads.get(id.0 as usize)?.stack)
}

/// The name of thread `id`.
pub fn name(id: TaskId) -> Option<&'static str> {
    without_interrupts(|| SCHED.lock().as_ref()?.core.name(id))
}

/// Ticks whose handler found the scheduler lock taken and skipped the pipeline.
pub fn lock_misses() -> u64 {
    LOCK_MISSES.load(Ordering::Relaxed)
}

/// Called by the timer interrupt handler after the EOI: runs the tick pipeline (module docs).
pub fn on_tick() {
    let start = rdtsc();
    let Some(mut guard) = SCHED.try_lock() else {
        LOCK_MISSES.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(s) = guard.as_mut() else { return };
    let next = crate::tick::run(&mut s.core, &mut s.pipeline, now(), &mut rdtsc);
    s.costs.ticks += 1;
    s.costs.tick_cycles += rdtsc().wrapping_sub(start);
    let drain_start = rdtsc();
    trace_channel::drain_on_tick();
    s.costs.drain_cycles += rdtsc().wrapping_sub(drain_start);
    switch_to(guard, next);
}

/// Switches to `next` (which the core chose). Consumes the lock guard: the lock must be free
/// while another thread runs. Interrupts must be off.
fn switch_to(mut guard: spin::MutexGuard<'_, Option<Scheduler>>, next: TaskId) {
    debug_assert!(!interrupts::are_enabled(), "switch_to with interrupts on");
    let Some(s) = guard.as_mut() else { return };
    let Some(prev) = s.core.commit_switch(now(), next) else {
        return;
    };
    let save: *mut u64 = &mut s.threads[prev.0 as usize].rsp;
    let next_rsp = s.threads[next.0 as usize].rsp;
    drop(guard);
    // SAFETY: interrupts are off (callers hold that), `save` points into a boxed Thread that
    // is never freed, and `next_rsp` was saved by `switch_context` or made by `prepare_stack`
    // on a stack that stays mapped (stacks are freed only after their thread exited).
    unsafe { switch_context(save, next_rsp) };
}

/// Decides anew and switches, from thread context (the running thread blocked, exited,
/// yielded, or a spawn asked for preemption). Interrupts must be off.
fn reschedule(mut guard: spin::MutexGuard<'_, Option<Scheduler>>) {
    let Some(s) = guard.as_mut() else { return };
    let next = s.core.reschedule(now(), &mut s.pipeline, &mut rdtsc);
    switch_to(guard, next);
}

/// Decisions and fallbacks of the learned policy, and its first-tick decisions (`None` when a
/// classical policy is in charge).
pub fn fallbacks() -> Option<(FallbackCounts, u64)> {
    without_interrupts(|| {
        let guard = SCHED.lock();
        let learned = guard.as_ref()?.core.learned()?;
        Some((*learned.counts(), learned.head().first_ticks()))
    })
}

/// The tick pipeline's costs so far.
pub fn pipeline_costs() -> PipelineCosts {
    without_interrupts(|| {
        SCHED
            .lock()
            .as_ref()
            .map_or_else(PipelineCosts::default, |s| {
                let inference = s.core.inference_costs();
                PipelineCosts {
                    inferences: inference.inferences,
                    inference_cycles: inference.cycles,
                    inference_max: inference.max,
                    backbone_runs: s.pipeline.stats().backbone_runs,
                    ..s.costs
                }
            })
    })
}

/// Runs the calling thread until the scheduler has charged it `cpu_total` CPU ticks in all,
/// calling `work` meanwhile (workloads burn CPU in it), after which the caller must block or
/// exit straight away: the tick that completes the burst does not preempt it, so its I/O or
/// exit starts at the end of that tick, as it would on hardware (and as host replay assumes),
/// not whenever the policy next picks it.
pub fn run_until_charged(cpu_total: Tick, mut work: impl FnMut()) {
    let me = current();
    let charged = || me.and_then(view).map_or(Tick::MAX, |v| v.cpu_total);
    without_interrupts(|| {
        if let Some(s) = SCHED.lock().as_mut() {
            s.core.set_burst_end(cpu_total);
        }
    });
    while charged() < cpu_total {
        work();
    }
}

/// Lets another runnable thread run if the policy prefers one now.
pub fn yield_now() {
    without_interrupts(|| reschedule(SCHED.lock()));
}

/// Blocks the running thread for at least `ticks` timer ticks.
pub fn sleep_ticks(ticks: Tick) {
    without_interrupts(|| {
        let until = now() + ticks.max(1);
        block(SCHED.lock(), Life::Sleeping { until });
    });
}

/// Blocks the running thread in state `life` and runs another. Interrupts must be off.
fn block(mut guard: spin::MutexGuard<'_, Option<Scheduler>>, life: Life) {
    let Some(s) = guard.as_mut() else { return };
    let next = s.core.block(now(), life, &mut s.pipeline, &mut rdtsc);
    switch_to(guard, next);
}

/// Ends the running thread with `status`.
pub fn exit(status: i32) -> ! {
    interrupts::disable();
    {
        let mut guard = SCHED.lock();
        if let Some(s) = guard.as_mut() {
            let next = s.core.exit(now(), status, &mut s.pipeline, &mut rdtsc);
            switch_to(guard, next);
        }
    }
    unreachable!("an exited thread was scheduled again");
}

/// Blocks until thread `id` has exited and returns its status (`None`: no such thread, or
/// the caller itself or idle, which would wait forever).
pub fn wait(id: TaskId) -> Option<i32> {
    loop {
        let exited = without_interrupts(|| {
            let guard = SCHED.lock();
            let s = guard.as_ref()?;
            if id == s.core.current() || id == IDLE {
                return None;
            }
            match s.core.life(id)? {
                Life::Exited { status } => Some(Some(status)),
                _ => {
                    // Blocks until `exit` of `id` wakes this thread, then looks again.
                    block(guard, Life::Waiting { on: id });
                    Some(None)
                }
            }
        })?;
        if let Some(status) = exited {
            reap();
            return Some(status);
        }
    }
}

/// First code of every spawned thread: runs its entry function, then exits with its result.
extern "C" fn thread_entry() -> ! {
    let (entry, arg) = without_interrupts(|| {
        let guard = SCHED.lock();
        let s = guard.as_ref().expect("threads run only after init");
        let th = &s.threads[s.core.current().0 as usize];
        (th.entry.expect("spawned threads have an entry"), th.arg)
    });
    // A new thread starts from inside a switch made with interrupts off.
    interrupts::enable();
    exit(entry(arg))
}

/// The idle thread: drain the trace while there is some, else halt until the next interrupt.
extern "C" fn idle_entry() -> ! {
    loop {
        // Interrupts off while draining, so the chunk goes out whole; a tick that arrives
        // meanwhile is taken right after.
        let drained = without_interrupts(trace_channel::drain_one_chunk);
        if !drained {
            interrupts::enable_and_hlt();
        }
    }
}
