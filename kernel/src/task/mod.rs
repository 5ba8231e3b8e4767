//! Kernel threads: spawn, sleep, exit, wait, preempted by the timer tick under a scheduling
//! [`Policy`] (`crate::sched`).
//!
//! Each thread has its own kernel stack with an unmapped guard page below it
//! (`mm::paging::alloc_stack`). The boot flow becomes thread `main`; an `idle` thread, outside
//! the policy, halts when nothing is runnable. On every tick the timer handler charges the
//! running thread, wakes sleepers, asks the policy whether to preempt, and switches stacks
//! right there (after the LAPIC EOI), so a thread is suspended either inside that handler or
//! inside a blocking call, and resumes where it stopped.
//!
//! # Invariants
//! - The scheduler state is only touched with interrupts disabled (single CPU), so the tick
//!   handler can never find its lock held. The handler only uses `try_lock` all the same.
//! - The tick path does not allocate: spawning (which grows the task table) happens in thread
//!   context with interrupts off.
//! - A thread's stack is never freed while the thread can still run; exited threads keep
//!   theirs (reclaiming them is future work, with reaping by `wait`).

pub mod trace_channel;

use crate::arch::x86_64::switch::{prepare_stack, switch_context};
use crate::mm::paging::{self, KernelStack, PagingError};
use crate::sched::{Leave, Policy, TaskId, TaskView, Tick, Verdict, Wake};
use crate::trace::Record;
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
    Runnable,
    Sleeping { until: Tick },
    Exited { status: i32 },
}

struct Thread {
    name: &'static str,
    view: TaskView,
    life: Life,
    /// Saved stack pointer while not running.
    rsp: u64,
    /// `None` for `main` (the boot stack) and before a thread first runs it is set.
    stack: Option<KernelStack>,
    entry: Option<fn(u64) -> i32>,
    arg: u64,
}

struct Scheduler {
    /// Indexed by task id. Boxed so a thread's saved-`rsp` slot keeps its address while the
    /// table grows: `reschedule` writes through a pointer to it after dropping the lock.
    #[allow(clippy::vec_box)]
    threads: Vec<Box<Thread>>,
    policy: Box<dyn Policy + Send>,
    current: TaskId,
    switches: u64,
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

/// Adopts the boot flow as thread `main` and starts scheduling with `policy`.
pub fn init(policy: Box<dyn Policy + Send>) -> Result<(), SpawnError> {
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
        });
        let mut main = Box::new(Thread {
            name: "main",
            view: TaskView::new(MAIN, t),
            life: Life::Runnable,
            rsp: 0,
            stack: None,
            entry: None,
            arg: 0,
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
            current: MAIN,
            switches: 0,
        });
        Ok(())
    })
}

/// Starts a thread running `entry(arg)`; its return value is its exit status.
pub fn spawn(name: &'static str, entry: fn(u64) -> i32, arg: u64) -> Result<TaskId, SpawnError> {
    let stack = paging::alloc_stack(STACK_PAGES).map_err(SpawnError::Stack)?;
    without_interrupts(|| {
        let mut guard = SCHED.lock();
        let s = guard.as_mut().ok_or(SpawnError::NotStarted)?;
        let id = TaskId(s.threads.len() as u32);
        let view = TaskView::new(id, now());
        let verdict = s
            .policy
            .enqueue(now(), &view, Wake::New)
            .map_err(SpawnError::Policy)?;
        // SAFETY: the stack was just mapped for this thread alone.
        let rsp = unsafe { prepare_stack(stack.top, thread_entry) };
        s.threads.push(Box::new(Thread {
            name,
            view,
            life: Life::Runnable,
            rsp,
            stack: Some(stack),
            entry: Some(entry),
            arg,
        }));
        trace_channel::record(&Record::TaskSpawn {
            tick: now(),
            task: id.0,
            class: 0,
            name,
        });
        if verdict == Verdict::Preempt {
            reschedule(guard);
        }
        Ok(id)
    })
}

/// The running thread's id.
pub fn current() -> Option<TaskId> {
    without_interrupts(|| SCHED.lock().as_ref().map(|s| s.current))
}

/// The name of the scheduling policy in use (`rr`, `cfs`, …).
pub fn policy_name() -> &'static str {
    without_interrupts(|| SCHED.lock().as_ref().map_or("none", |s| s.policy.name()))
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

/// Called by the timer interrupt handler after the EOI: charges the tick, wakes sleepers and
/// preempts when the policy says so.
pub fn on_tick() {
    let Some(mut guard) = SCHED.try_lock() else {
        return;
    };
    let Some(s) = guard.as_mut() else { return };
    let t = now();
    let mut preempt = false;
    for th in s.threads.iter_mut() {
        if let Life::Sleeping { until } = th.life
            && until <= t
        {
            th.life = Life::Runnable;
            th.view.on_wake(t);
            trace_channel::record(&Record::TaskWake {
                tick: t,
                task: th.view.id.0,
            });
            // A full table cannot happen: the thread was in it before it slept.
            preempt |= s
                .policy
                .enqueue(t, &th.view, Wake::Woken)
                .is_ok_and(|v| v == Verdict::Preempt);
        }
    }
    let cur = s.current.0 as usize;
    if s.current == IDLE {
        preempt |= s.policy.pick_next(t).is_some();
    } else {
        s.threads[cur].view.on_ran_tick(t);
        preempt |= s.policy.tick(t, &s.threads[cur].view) == Verdict::Preempt;
    }
    if preempt {
        reschedule(guard);
    }
}

/// Switches to whatever the policy picks (idle if nothing). Consumes the lock guard: the lock
/// must be free while another thread runs. Interrupts must be off.
fn reschedule(mut guard: spin::MutexGuard<'_, Option<Scheduler>>) {
    let Some(s) = guard.as_mut() else { return };
    let t = now();
    let next = s.policy.pick_next(t).unwrap_or(IDLE);
    if next == s.current {
        return;
    }
    s.policy.switch_to(t, (next != IDLE).then_some(next));
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
    let save: *mut u64 = &mut s.threads[prev].rsp;
    let next_rsp = s.threads[next.0 as usize].rsp;
    drop(guard);
    // SAFETY: interrupts are off (callers hold that), `save` points into a boxed Thread that
    // is never freed, and `next_rsp` was saved by `switch_context` or made by `prepare_stack`
    // on a stack that stays mapped.
    unsafe { switch_context(save, next_rsp) };
}

/// Lets another runnable thread run if the policy prefers one now.
pub fn yield_now() {
    without_interrupts(|| reschedule(SCHED.lock()));
}

/// Blocks the running thread for at least `ticks` timer ticks.
pub fn sleep_ticks(ticks: Tick) {
    without_interrupts(|| {
        let mut guard = SCHED.lock();
        let Some(s) = guard.as_mut() else { return };
        let t = now();
        let cur = s.current.0 as usize;
        s.threads[cur].life = Life::Sleeping {
            until: t + ticks.max(1),
        };
        s.threads[cur].view.on_block(t);
        trace_channel::record(&Record::TaskBlock {
            tick: t,
            task: cur as u32,
        });
        s.policy.dequeue(t, &s.threads[cur].view, Leave::Blocked);
        reschedule(guard);
    });
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
            trace_channel::record(&Record::TaskExit {
                tick: t,
                task: cur as u32,
                status,
            });
            s.policy.dequeue(t, &s.threads[cur].view, Leave::Exited);
        }
        reschedule(guard);
    }
    unreachable!("an exited thread was scheduled again");
}

/// Waits until thread `id` has exited and returns its status (`None`: no such thread).
pub fn wait(id: TaskId) -> Option<i32> {
    loop {
        let life = without_interrupts(|| {
            SCHED
                .lock()
                .as_ref()?
                .threads
                .get(id.0 as usize)
                .map(|t| t.life)
        })?;
        if let Life::Exited { status } = life {
            return Some(status);
        }
        sleep_ticks(1);
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

/// The idle thread: halt until the next interrupt, forever.
extern "C" fn idle_entry() -> ! {
    loop {
        interrupts::enable_and_hlt();
    }
}
