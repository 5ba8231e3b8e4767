//! Kernel threads and the tick pipeline: spawn, sleep, exit, wait, preempted by the timer tick
//! under a scheduling [`Policy`] (`crate::sched`), optionally driven by the model.
//!
//! Each thread has its own kernel stack with an unmapped guard page below it
//! (`mm::paging::alloc_stack`). The boot flow becomes thread `main`; an `idle` thread, outside
//! the policy, halts when nothing is runnable. A thread may be spawned *pending* an arrival
//! tick (workloads): it enters the policy at that tick, independent of who runs.
//!
//! # The tick pipeline (DESIGN.md §4)
//! On every tick the timer handler, after the LAPIC EOI:
//! 1. admits arrivals and wakes sleepers, charges the running thread, asks the policy whether
//!    its slice is over;
//! 2. snapshots the [`Telemetry`] vector and appends it to the model's window and the trace;
//! 3. decides who runs: the classical policy's pick, or for `learned` the model's pick over
//!    every runnable task's [`TaskFeatures`], checked by the guards of
//!    [`LearnedScheduler`] (the classical policy is its shadow and fallback);
//! 4. records the decision (candidates, features, scores, fallback reason);
//! 5. drains a chunk of the trace ring to COM2 if it is filling up (the idle thread drains it
//!    otherwise), so long runs keep their trace;
//! 6. switches stacks right there, so a thread is suspended either inside that handler or
//!    inside a blocking call, and resumes where it stopped.
//!
//! The pipeline's cost (TSC cycles of inference and of the whole tick's work) is accumulated
//! in [`PipelineCosts`]. The model's AVX2 kernels run inside this handler, with interrupts
//! off; threads own no SIMD state (DESIGN.md §3), so nothing needs saving around them.
//!
//! # Invariants
//! - The scheduler state is only touched with interrupts disabled (single CPU), so the tick
//!   handler can never find its lock held. The handler only uses `try_lock` all the same.
//! - The tick path does not allocate: spawning (which grows the task table) happens in thread
//!   context with interrupts off.
//! - A thread's stack is never freed while the thread can still run; exited threads keep
//!   theirs (reclaiming them is future work, with reaping by `wait`).

pub mod trace_channel;

use crate::arch::x86_64::cpu::rdtsc;
use crate::arch::x86_64::switch::{prepare_stack, switch_context};
use crate::mm::paging::{self, KernelStack, PagingError};
use crate::sched::learned::{
    Candidate, FallbackCounts, FallbackReason, LearnedScheduler, MAX_SCORED, ModelScorer,
};
use crate::sched::{
    Leave, Nice, Policy, TaskClass, TaskId, TaskState, TaskView, Tick, Verdict, Wake,
};
use crate::telemetry::{MODEL_INPUT_LEN, TaskFeatures, Telemetry, TelemetryWindow, TickEvents};
use crate::trace::{self, Record};
use crate::workload::SplitMix64;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use spin::Mutex;
use x86_64::instructions::interrupts::{self, without_interrupts};

/// Pages of each thread's stack (the guard page comes on top of these).
pub const STACK_PAGES: u64 = 8;
/// The idle thread: runs only when the policy has nothing runnable; never in the policy.
const IDLE: TaskId = TaskId(0);
/// The boot flow, adopted as a thread by [`init`].
const MAIN: TaskId = TaskId(1);

/// Where a thread is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    /// Spawned ahead of time; enters the policy at `arrival`.
    Pending {
        arrival: Tick,
    },
    Runnable,
    Sleeping {
        until: Tick,
    },
    /// Blocked in [`wait`] until thread `on` exits.
    Waiting {
        on: TaskId,
    },
    Exited {
        status: i32,
    },
}

struct Thread {
    name: &'static str,
    class: TaskClass,
    nice: Nice,
    view: TaskView,
    life: Life,
    /// Saved stack pointer while not running.
    rsp: u64,
    /// `None` for `main` (the boot stack) and before a thread first runs it is set.
    stack: Option<KernelStack>,
    entry: Option<fn(u64) -> i32>,
    arg: u64,
    /// CPU ticks after which the thread has said it will block or exit at once
    /// ([`run_until_charged`]): the tick that charges them does not preempt it.
    burst_end: Option<Tick>,
}

struct Scheduler {
    /// Indexed by task id. Boxed so a thread's saved-`rsp` slot keeps its address while the
    /// table grows: `reschedule` writes through a pointer to it after dropping the lock.
    #[allow(clippy::vec_box)]
    threads: Vec<Box<Thread>>,
    /// The classical policy: in charge, or the learned policy's shadow.
    policy: Box<dyn Policy + Send>,
    /// Trace code of the policy in charge (`bootcfg::SchedPolicy::code`).
    policy_code: u8,
    learned: Option<Box<LearnedScheduler<KernelScorer>>>,
    current: TaskId,
    switches: u64,
    window: TelemetryWindow,
    events: TickEvents,
    costs: PipelineCosts,
    explore: u8,
    rng: SplitMix64,
    /// Decision scratch, sized once so the tick path never allocates.
    ids: Box<[TaskId; MAX_SCORED]>,
    candidates: Box<[Candidate; MAX_SCORED]>,
}

/// The model as the kernel runs it: borrowing a model and scratch that live for the whole run.
pub type KernelScorer = ModelScorer<'static, 'static, 'static>;

/// The scheduler the boot settings chose: a classical policy, or the learned one with its
/// shadow.
pub struct SchedulerSetup {
    /// The classical policy (the learned policy's shadow when `learned` is set).
    pub policy: Box<dyn Policy + Send>,
    /// Trace code of the policy in charge.
    pub policy_code: u8,
    /// The learned policy, if it is the one in charge.
    pub learned: Option<Box<LearnedScheduler<KernelScorer>>>,
    /// Percent of classical decisions replaced by a random candidate (trace collection).
    pub explore: u8,
    /// Seed of the exploration's choices.
    pub seed: u64,
}

/// What the tick pipeline cost so far, in TSC cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineCosts {
    /// Ticks handled.
    pub ticks: u64,
    /// Cycles of the whole tick's work (steps 1–4 of the pipeline).
    pub tick_cycles: u64,
    /// Inferences run.
    pub inferences: u64,
    /// Cycles spent in inference.
    pub inference_cycles: u64,
    /// The longest inference.
    pub inference_max: u64,
    /// Cycles spent draining the trace to COM2 (step 5).
    pub drain_cycles: u64,
}

static SCHED: Mutex<Option<Scheduler>> = Mutex::new(None);

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
    let SchedulerSetup {
        policy,
        policy_code,
        learned,
        explore,
        seed,
    } = setup;
    let idle_stack = paging::alloc_stack(STACK_PAGES).map_err(SpawnError::Stack)?;
    without_interrupts(|| {
        let t = now();
        let idle = Box::new(Thread {
            name: "idle",
            view: TaskView::new(IDLE, t),
            life: Life::Runnable,
            // SAFETY: the stack was just mapped for this thread alone.
            rsp: unsafe { prepare_stack(idle_stack.top, idle_entry) },
            stack: Some(idle_stack),
            entry: None,
            arg: 0,
            burst_end: None,
            class: TaskClass::Normal,
            nice: Nice::new(0),
        });
        let mut main = Box::new(Thread {
            name: "main",
            view: TaskView::new(MAIN, t),
            life: Life::Runnable,
            rsp: 0,
            stack: None,
            entry: None,
            arg: 0,
            burst_end: None,
            class: TaskClass::Normal,
            nice: Nice::new(0),
        });
        let mut policy = policy;
        // Nothing runs yet, so there is no one to preempt: the verdict is moot.
        let _ = policy
            .enqueue(t, &main.view, Wake::New)
            .map_err(SpawnError::Policy)?;
        policy.switch_to(t, Some(MAIN));
        main.view.on_dispatch(t);
        *SCHED.lock() = Some(Scheduler {
            threads: alloc::vec![idle, main],
            policy,
            policy_code,
            learned,
            current: MAIN,
            switches: 0,
            window: TelemetryWindow::new(),
            events: TickEvents::default(),
            costs: PipelineCosts::default(),
            explore,
            rng: SplitMix64::new(seed),
            ids: Box::new([TaskId(0); MAX_SCORED]),
            candidates: Box::new(
                [Candidate {
                    id: TaskId(0),
                    features: TaskFeatures::default(),
                }; MAX_SCORED],
            ),
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
    (class, nice): (TaskClass, Nice),
    entry: fn(u64) -> i32,
    arg: u64,
    arrival: Option<Tick>,
) -> Result<TaskId, SpawnError> {
    let stack = paging::alloc_stack(STACK_PAGES).map_err(SpawnError::Stack)?;
    without_interrupts(|| {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().ok_or(SpawnError::NotStarted)?;
        let id = TaskId(s.threads.len() as u32);
        let t = now();
        // SAFETY: the stack was just mapped for this thread alone.
        let rsp = unsafe { prepare_stack(stack.top, thread_entry) };
        s.threads.push(Box::new(Thread {
            name,
            class,
            nice,
            view: TaskView::new(id, t).with_class(class).with_nice(nice),
            life: Life::Pending {
                arrival: arrival.unwrap_or(t),
            },
            rsp,
            stack: Some(stack),
            entry: Some(entry),
            arg,
            burst_end: None,
        }));
        if arrival.is_some_and(|a| a > t) {
            return Ok(id);
        }
        let preempt = admit(s, id.0 as usize, t).map_err(SpawnError::Policy)?;
        if preempt {
            reschedule(guard);
        }
        Ok(id)
    })
}

/// Makes pending thread `index` runnable at `t`: its arrival. Returns whether the policy wants
/// the running thread preempted.
fn admit(s: &mut Scheduler, index: usize, t: Tick) -> Result<bool, crate::sched::SchedError> {
    let th = &mut s.threads[index];
    th.view = TaskView::new(th.view.id, t)
        .with_class(th.class)
        .with_nice(th.nice);
    let verdict = s.policy.enqueue(t, &th.view, Wake::New)?;
    th.life = Life::Runnable;
    s.events.arrivals += 1;
    trace_channel::record(&Record::TaskSpawn {
        tick: t,
        task: th.view.id.0,
        class: th.class.code(),
        name: truncate_name(th.name),
    });
    Ok(verdict == Verdict::Preempt)
}

/// `name` cut to what a spawn record carries, at a character boundary.
fn truncate_name(name: &str) -> &str {
    let mut end = name.len().min(trace::MAX_TASK_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The running thread's id.
pub fn current() -> Option<TaskId> {
    without_interrupts(|| SCHED.lock().as_ref().map(|s| s.current))
}

/// The name of the scheduling policy in use (`rr`, `cfs`, …).
pub fn policy_name() -> &'static str {
    without_interrupts(|| {
        SCHED.lock().as_ref().map_or("none", |s| {
            if s.learned.is_some() {
                "learned"
            } else {
                s.policy.name()
            }
        })
    })
}

/// Context switches so far.
pub fn switches() -> u64 {
    without_interrupts(|| SCHED.lock().as_ref().map_or(0, |s| s.switches))
}

/// The view of thread `id` (a copy), if it exists.
pub fn view(id: TaskId) -> Option<TaskView> {
    without_interrupts(|| {
        SCHED
            .lock()
            .as_ref()?
            .threads
            .get(id.0 as usize)
            .map(|t| t.view)
    })
}

/// The stack of thread `id` (`None` for `main`, which runs on the boot stack).
pub fn stack(id: TaskId) -> Option<KernelStack> {
    without_interrupts(|| SCHED.lock().as_ref()?.threads.get(id.0 as usize)?.stack)
}

/// The name of thread `id`.
pub fn name(id: TaskId) -> Option<&'static str> {
    without_interrupts(|| {
        SCHED
            .lock()
            .as_ref()?
            .threads
            .get(id.0 as usize)
            .map(|t| t.name)
    })
}

/// Called by the timer interrupt handler after the EOI: runs the tick pipeline (module docs).
pub fn on_tick() {
    let start = rdtsc();
    let Some(mut guard) = SCHED.try_lock() else {
        return;
    };
    let Some(s) = guard.as_mut() else { return };
    let t = now();
    let mut preempt = false;
    for i in 0..s.threads.len() {
        match s.threads[i].life {
            // A full policy table cannot refuse an arrival here: workloads are sized to it.
            Life::Pending { arrival } if arrival <= t => preempt |= admit(s, i, t).unwrap_or(false),
            Life::Sleeping { until } if until <= t => preempt |= wake(s, i, t),
            _ => {}
        }
    }
    let cur = s.current.0 as usize;
    let busy = s.current != IDLE;
    let mut finishing = false;
    if busy {
        let th = &mut s.threads[cur];
        th.view.on_ran_tick(t);
        finishing = th.burst_end.is_some_and(|end| th.view.cpu_total >= end);
        if finishing {
            // Once: a thread that breaks its word is preempted as usual from the next tick.
            th.burst_end = None;
        }
        preempt |= s.policy.tick(t, &s.threads[cur].view) == Verdict::Preempt;
    }
    let telemetry = Telemetry::snapshot(t, live_views(s), busy, &s.events);
    s.events = TickEvents::default();
    s.window.push(&telemetry);
    let sections = [trace::Section {
        code: trace::section::SCHED,
        version: crate::telemetry::SCHEMA_VERSION,
        fields: trace::Items::from_slice(&telemetry.0),
    }];
    trace_channel::record(&Record::Telemetry {
        tick: t,
        sections: trace::Sections::from_slice(&sections),
    });
    // A thread whose burst this tick completed blocks or exits the moment it runs again, as
    // it would have mid-tick on real hardware: let it, and decide when it leaves the CPU
    // (`block`, `exit`), rather than leave it runnable with its burst done.
    let next = if finishing {
        s.current
    } else {
        decide(s, t, preempt || !busy)
    };
    s.costs.ticks += 1;
    s.costs.tick_cycles += rdtsc().wrapping_sub(start);
    let drain_start = rdtsc();
    trace_channel::drain_on_tick();
    s.costs.drain_cycles += rdtsc().wrapping_sub(drain_start);
    switch_to(guard, next);
}

/// The views of the threads the system has now: arrived, not exited, not idle.
fn live_views(s: &Scheduler) -> impl Iterator<Item = &TaskView> {
    s.threads
        .iter()
        .skip(1)
        .filter(|th| !matches!(th.life, Life::Pending { .. } | Life::Exited { .. }))
        .map(|th| &th.view)
}

/// Decides who runs from `t` on (pipeline steps 3 and 4) and tells the policy. `force`: the
/// running thread's slice is over or it cannot continue, so the classical policy picks anew.
fn decide(s: &mut Scheduler, t: Tick, force: bool) -> TaskId {
    let cur = s.current;
    let cur_runs = cur != IDLE && s.threads[cur.0 as usize].life == Life::Runnable;
    let shadow = if force || !cur_runs {
        s.policy.pick_next(t)
    } else {
        Some(cur)
    };
    let n = s.policy.candidates(&mut s.ids[..]).min(MAX_SCORED);
    for (c, &id) in s.candidates.iter_mut().zip(&s.ids[..n]) {
        let view = &s.threads[id.0 as usize].view;
        *c = Candidate {
            id,
            features: TaskFeatures::of(view, t, id == cur && view.state == TaskState::Running),
        };
    }
    let (chosen, fallback, scored) = match s.learned.as_mut() {
        Some(learned) => {
            let mut input = [0i8; MODEL_INPUT_LEN];
            s.window.model_input(&mut input);
            let d = learned.decide(t, &input, &s.candidates[..n], shadow, &mut rdtsc);
            if d.inference_cycles > 0 {
                s.costs.inferences += 1;
                s.costs.inference_cycles += d.inference_cycles;
                s.costs.inference_max = s.costs.inference_max.max(d.inference_cycles);
            }
            (d.chosen, d.fallback, d.scored)
        }
        None if s.explore > 0 && n > 0 && s.rng.range(0, 99) < u64::from(s.explore) => {
            let pick = s.rng.range(0, n as u64 - 1) as usize;
            (Some(s.candidates[pick].id), None, false)
        }
        None => (shadow, None, false),
    };
    if n > 0 {
        record_decision(s, t, chosen, fallback, scored, n);
    }
    let next = chosen.unwrap_or(IDLE);
    if force || next != cur {
        s.policy.switch_to(t, chosen);
    }
    next
}

/// Appends the decision record: the first [`trace::MAX_CANDIDATES`] candidates with their
/// features and (when the model ran) scores.
fn record_decision(
    s: &Scheduler,
    t: Tick,
    chosen: Option<TaskId>,
    fallback: Option<FallbackReason>,
    scored: bool,
    n: usize,
) {
    let n = n.min(trace::MAX_CANDIDATES);
    let scores = s.learned.as_ref().map(|l| l.scores(n));
    let mut ids = [0u64; trace::MAX_CANDIDATES];
    let mut features = [[0i16; crate::telemetry::CANDIDATE_FEATURES]; trace::MAX_CANDIDATES];
    let mut row_scores = [0i32; trace::MAX_CANDIDATES];
    for (i, c) in s.candidates[..n].iter().enumerate() {
        ids[i] = u64::from(c.id.0);
        features[i] = c.features.0;
        row_scores[i] = match scores {
            Some(sc) if scored => sc[i],
            _ => 0,
        };
    }
    trace_channel::record(&Record::Decision {
        tick: t,
        head: trace::head::SCHED,
        chosen: u64::from(chosen.unwrap_or(IDLE).0),
        policy: s.policy_code,
        fallback: fallback.map(FallbackReason::code),
        candidates: trace::Candidates::columns(
            crate::telemetry::CANDIDATE_FEATURES,
            &ids[..n],
            features[..n].as_flattened(),
            &row_scores[..n],
        ),
    });
}

/// Switches to `next` (which [`decide`] chose). Consumes the lock guard: the lock must be free
/// while another thread runs. Interrupts must be off.
fn switch_to(mut guard: spin::MutexGuard<'_, Option<Scheduler>>, next: TaskId) {
    let Some(s) = guard.as_mut() else { return };
    if next == s.current {
        return;
    }
    let t = now();
    let prev = s.current.0 as usize;
    if s.threads[prev].life == Life::Runnable && s.current != IDLE {
        s.threads[prev].view.on_preempt(t);
    }
    let first_run = s.threads[next.0 as usize].view.first_run.is_none();
    s.threads[next.0 as usize].view.on_dispatch(t);
    if first_run && next != IDLE {
        trace_channel::record(&Record::TaskFirstRun {
            tick: t,
            task: next.0,
        });
    }
    s.current = next;
    s.switches += 1;
    s.events.switches += 1;
    let save: *mut u64 = &mut s.threads[prev].rsp;
    let next_rsp = s.threads[next.0 as usize].rsp;
    drop(guard);
    // SAFETY: interrupts are off (callers hold that), `save` points into a boxed Thread that
    // is never freed, and `next_rsp` was saved by `switch_context` or made by `prepare_stack`
    // on a stack that stays mapped.
    unsafe { switch_context(save, next_rsp) };
}

/// Decides anew and switches, from thread context (the running thread blocked, exited,
/// yielded, or a spawn asked for preemption). Interrupts must be off.
fn reschedule(mut guard: spin::MutexGuard<'_, Option<Scheduler>>) {
    let Some(s) = guard.as_mut() else { return };
    let next = decide(s, now(), true);
    switch_to(guard, next);
}

/// Decisions and fallbacks of the learned policy, and its first-tick decisions (`None` when a
/// classical policy is in charge).
pub fn fallbacks() -> Option<(FallbackCounts, u64)> {
    without_interrupts(|| {
        let guard = SCHED.lock();
        let learned = guard.as_ref()?.learned.as_ref()?;
        Some((*learned.counts(), learned.first_ticks()))
    })
}

/// The tick pipeline's costs so far.
pub fn pipeline_costs() -> PipelineCosts {
    without_interrupts(|| {
        SCHED
            .lock()
            .as_ref()
            .map_or_else(PipelineCosts::default, |s| s.costs)
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
            let cur = s.current.0 as usize;
            s.threads[cur].burst_end = Some(cpu_total);
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
        let guard = SCHED.lock();
        let until = now() + ticks.max(1);
        block(guard, Life::Sleeping { until });
    });
}

/// Blocks the running thread in state `life` and runs another. Interrupts must be off.
fn block(mut guard: spin::MutexGuard<'_, Option<Scheduler>>, life: Life) {
    let Some(s) = guard.as_mut() else { return };
    let t = now();
    let cur = s.current.0 as usize;
    s.threads[cur].life = life;
    s.threads[cur].burst_end = None;
    s.threads[cur].view.on_block(t);
    s.events.blocks += 1;
    trace_channel::record(&Record::TaskBlock {
        tick: t,
        task: cur as u32,
    });
    s.policy.dequeue(t, &s.threads[cur].view, Leave::Blocked);
    reschedule(guard);
}

/// Makes blocked thread `index` runnable at `t`. Returns whether the policy wants the running
/// thread preempted.
fn wake(s: &mut Scheduler, index: usize, t: Tick) -> bool {
    let th = &mut s.threads[index];
    th.life = Life::Runnable;
    th.view.on_wake(t);
    s.events.wakeups += 1;
    trace_channel::record(&Record::TaskWake {
        tick: t,
        task: th.view.id.0,
    });
    // A full table cannot happen: the thread was in it before it blocked.
    s.policy
        .enqueue(t, &th.view, Wake::Woken)
        .is_ok_and(|v| v == Verdict::Preempt)
}

/// Ends the running thread with `status`.
pub fn exit(status: i32) -> ! {
    interrupts::disable();
    {
        let mut guard = SCHED.lock();
        if let Some(s) = guard.as_mut() {
            let t = now();
            let cur = s.current.0 as usize;
            s.threads[cur].life = Life::Exited { status };
            s.threads[cur].view.on_exit(t);
            s.events.exits += 1;
            trace_channel::record(&Record::TaskExit {
                tick: t,
                task: cur as u32,
                status,
            });
            s.policy.dequeue(t, &s.threads[cur].view, Leave::Exited);
            let me = TaskId(cur as u32);
            if let Some(learned) = s.learned.as_mut() {
                learned.on_exit(me, s.threads[cur].view.cpu_total);
            }
            for i in 0..s.threads.len() {
                if s.threads[i].life == (Life::Waiting { on: me }) {
                    // The exiting thread is rescheduled right below whatever the verdict.
                    let _ = wake(s, i, t);
                }
            }
        }
        reschedule(guard);
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
            if id == s.current || id == IDLE {
                return None;
            }
            match s.threads.get(id.0 as usize)?.life {
                Life::Exited { status } => Some(Some(status)),
                _ => {
                    // Blocks until `exit` of `id` wakes this thread, then looks again.
                    block(guard, Life::Waiting { on: id });
                    Some(None)
                }
            }
        })?;
        if let Some(status) = exited {
            return Some(status);
        }
    }
}

/// First code of every spawned thread: runs its entry function, then exits with its result.
extern "C" fn thread_entry() -> ! {
    let (entry, arg) = without_interrupts(|| {
        let guard = SCHED.lock();
        let s = guard.as_ref().expect("threads run only after init");
        let th = &s.threads[s.current.0 as usize];
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
