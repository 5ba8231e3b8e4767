//! The scheduler core: every task's life, the events of each tick, and the decision of who
//! runs, in portable code that the kernel's tick path and the host's emulation both run.
//!
//! The kernel's `task/` module keeps only what needs the machine (stacks, saved stack
//! pointers, the context switch) and calls this core with the time: on each timer tick
//! ([`Core::begin_tick`], then [`Core::finish_tick`] once the telemetry is in the
//! [`Pipeline`], see `crate::tick`), and when the running thread spawns, blocks, exits or
//! yields. Each call returns the task to run; the caller switches to it and reports that with
//! [`Core::commit_switch`]. Trace records go to a [`TraceSink`]. `sched::emulate` drives the
//! same core on the host with workload threads modelled, so a kernel trace can be checked
//! decision by decision.
//!
//! # Invariants
//! - Task 0 is idle (never in the policy), task 1 the boot flow (`main`).
//! - The tick path does not allocate: the queues and scratch are reserved when a task is
//!   spawned (thread context) or at construction.
//! - Arrivals and wake-ups due at a tick are admitted in task-id order, so the policy sees the
//!   same enqueue order whatever the queues' internal order.

use super::head::{Candidate, LearnedScheduler, MAX_SCORED};
use super::{
    Leave, Nice, Policy, SchedError, TaskClass, TaskId, TaskState, TaskView, Tick, Verdict, Wake,
};
use crate::bootcfg::SchedPolicy;
use crate::learn::{Choice, Inference, Pipeline};
use crate::telemetry::{CANDIDATE_FEATURES, TaskFeatures, Telemetry, TickEvents};
use crate::trace::{self, Record};
use crate::workload::SplitMix64;
use alloc::boxed::Box;
use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

/// The idle thread: runs only when the policy has nothing runnable; never in the policy.
pub const IDLE: TaskId = TaskId(0);
/// The boot flow, adopted as a task at construction.
pub const MAIN: TaskId = TaskId(1);

/// Tasks the kernel's policies can track at once (runnable or blocked): a workload's
/// [`crate::workload::MAX_JOBS`] plus the kernel's own threads.
pub const SCHED_CAPACITY: usize = crate::workload::MAX_JOBS + 8;

/// The classical policy `which` names, at the kernel's capacity (`learned` names its default
/// shadow, MLFQ): what the kernel and host replay both build.
pub fn classical_policy(which: SchedPolicy) -> Box<dyn Policy + Send> {
    which.classical::<SCHED_CAPACITY>()
}

/// Where trace records go: the kernel's trace channel, or a host buffer.
pub trait TraceSink {
    /// Appends one record.
    fn record(&mut self, record: &Record<'_>);
}

/// A sink that drops every record.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl TraceSink for NoTrace {
    fn record(&mut self, _: &Record<'_>) {}
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    /// Spawned, its arrival not set yet ([`Core::release`]).
    Held,
    /// Spawned ahead of time; enters the policy at `arrival`.
    Pending {
        /// The arrival tick.
        arrival: Tick,
    },
    /// Runnable or running.
    Runnable,
    /// Sleeping until a tick.
    Sleeping {
        /// The wake-up tick.
        until: Tick,
    },
    /// Blocked until task `on` exits.
    Waiting {
        /// The task waited for.
        on: TaskId,
    },
    /// Exited with a status.
    Exited {
        /// The exit status.
        status: i32,
    },
}

/// No position in the live list.
const NOT_LIVE: u32 = u32::MAX;

struct Slot {
    name: &'static str,
    class: TaskClass,
    nice: Nice,
    view: TaskView,
    life: Life,
    /// CPU ticks after which the task has said it will block or exit at once: the tick that
    /// charges them does not preempt it.
    burst_end: Option<Tick>,
    /// Index in `live`, or [`NOT_LIVE`].
    live_at: u32,
}

/// The scheduler the boot settings chose: a classical policy, or the learned one with its
/// shadow.
pub struct Setup {
    /// The classical policy (the learned policy's shadow when `learned` is set).
    pub policy: Box<dyn Policy + Send>,
    /// Trace code of the policy in charge (`bootcfg::SchedPolicy::code`).
    pub policy_code: u8,
    /// The learned policy, if it is the one in charge.
    pub learned: Option<Box<LearnedScheduler>>,
    /// Percent of classical decisions replaced by a random candidate (trace collection).
    pub explore: u8,
    /// Seed of the exploration's choices.
    pub seed: u64,
}

impl Setup {
    /// The classical policy `which` in charge.
    pub fn classical(which: SchedPolicy, explore: u8, seed: u64) -> Self {
        Self {
            policy: classical_policy(which),
            policy_code: which.code(),
            learned: None,
            explore,
            seed,
        }
    }

    /// The learned policy in charge, with `shadow` beside it, its head at model head `slot`
    /// (or always falling back with that reason), under `guard`.
    pub fn learned(
        shadow: SchedPolicy,
        slot: Result<usize, crate::learn::FallbackReason>,
        guard: crate::learn::GuardConfig,
        seed: u64,
    ) -> Self {
        Self {
            policy: classical_policy(shadow),
            policy_code: SchedPolicy::Learned.code(),
            learned: Some(Box::new(crate::learn::Guarded::new(
                super::head::SchedHead::default(),
                slot,
                guard,
                MAX_SCORED,
            ))),
            explore: 0,
            seed,
        }
    }
}

/// Inference counts and cycles of the scheduler's decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InferenceCosts {
    /// Decisions that ran the model.
    pub inferences: u64,
    /// Clock units spent in them (backbone, when the call ran it, plus head).
    pub cycles: u64,
    /// The longest.
    pub max: u64,
}

/// What [`Core::begin_tick`] found, for [`Core::finish_tick`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickStart {
    /// A task (not idle) ran during the tick that ended.
    pub busy: bool,
    /// The running task completed a declared burst: it blocks or exits at once.
    pub finishing: bool,
    /// The policy asked to preempt.
    pub preempt: bool,
}

/// The scheduler core. See the module docs.
pub struct Core<S: TraceSink> {
    slots: Vec<Slot>,
    policy: Box<dyn Policy + Send>,
    policy_code: u8,
    learned: Option<Box<LearnedScheduler>>,
    current: TaskId,
    switches: u64,
    events: TickEvents,
    explore: u8,
    rng: SplitMix64,
    /// Pending arrivals and sleepers, by (tick, task id).
    arrivals: BinaryHeap<Reverse<(Tick, u32)>>,
    sleepers: BinaryHeap<Reverse<(Tick, u32)>>,
    /// Scratch for the ids due at a tick.
    due: Vec<u32>,
    /// Arrived, not exited tasks (idle excluded), for telemetry.
    live: Vec<u32>,
    costs: InferenceCosts,
    /// Decision scratch, sized once so the tick path never allocates.
    ids: Box<[TaskId; MAX_SCORED]>,
    candidates: Box<[Candidate; MAX_SCORED]>,
    /// The first [`trace::MAX_CANDIDATES`] candidates as the decision record's columns,
    /// filled as the candidates are built, so recording copies nothing.
    record_ids: Box<[u64; trace::MAX_CANDIDATES]>,
    record_features: Box<[[i16; CANDIDATE_FEATURES]; trace::MAX_CANDIDATES]>,
    sink: S,
}

impl<S: TraceSink> Core<S> {
    /// A core at tick `now` with idle and `main` (running) and the scheduler `setup` chose.
    pub fn new(setup: Setup, now: Tick, sink: S) -> Result<Self, SchedError> {
        let Setup {
            mut policy,
            policy_code,
            learned,
            explore,
            seed,
        } = setup;
        let slot = |name, id| Slot {
            name,
            class: TaskClass::Normal,
            nice: Nice::new(0),
            view: TaskView::new(id, now),
            life: Life::Runnable,
            burst_end: None,
            live_at: NOT_LIVE,
        };
        let idle = slot("idle", IDLE);
        let mut main = slot("main", MAIN);
        // Nothing runs yet, so there is no one to preempt: the verdict is moot.
        let _ = policy.enqueue(now, &main.view, Wake::New)?;
        policy.switch_to(now, Some(MAIN));
        main.view.on_dispatch(now);
        main.live_at = 0;
        Ok(Self {
            slots: alloc::vec![idle, main],
            policy,
            policy_code,
            learned,
            current: MAIN,
            switches: 0,
            events: TickEvents::default(),
            explore,
            rng: SplitMix64::new(seed),
            arrivals: BinaryHeap::with_capacity(8),
            sleepers: BinaryHeap::with_capacity(8),
            due: Vec::with_capacity(8),
            live: alloc::vec![MAIN.0],
            costs: InferenceCosts::default(),
            ids: Box::new([TaskId(0); MAX_SCORED]),
            record_ids: Box::new([0; trace::MAX_CANDIDATES]),
            record_features: Box::new([[0; CANDIDATE_FEATURES]; trace::MAX_CANDIDATES]),
            candidates: Box::new(
                [Candidate {
                    id: TaskId(0),
                    features: TaskFeatures::default(),
                }; MAX_SCORED],
            ),
            sink,
        })
    }

    /// The running task.
    pub fn current(&self) -> TaskId {
        self.current
    }

    /// Tasks spawned so far, idle and main included (the next task id).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no task exists (never: idle and main always do).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The view of task `id`.
    pub fn view(&self, id: TaskId) -> Option<&TaskView> {
        self.slots.get(id.0 as usize).map(|s| &s.view)
    }

    /// The life of task `id`.
    pub fn life(&self, id: TaskId) -> Option<Life> {
        self.slots.get(id.0 as usize).map(|s| s.life)
    }

    /// The name of task `id`.
    pub fn name(&self, id: TaskId) -> Option<&'static str> {
        self.slots.get(id.0 as usize).map(|s| s.name)
    }

    /// Context switches so far.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// The name of the policy in charge.
    pub fn policy_name(&self) -> &'static str {
        if self.learned.is_some() {
            "learned"
        } else {
            self.policy.name()
        }
    }

    /// The learned policy, if it is in charge.
    pub fn learned(&self) -> Option<&LearnedScheduler> {
        self.learned.as_deref()
    }

    /// The scheduler's inference costs so far.
    pub fn inference_costs(&self) -> InferenceCosts {
        self.costs
    }

    /// The trace sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The trace sink, to drain it.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Appends `record` to the trace.
    pub fn record(&mut self, record: &Record<'_>) {
        self.sink.record(record);
    }

    /// Creates task `name` of `class` and `nice` that becomes runnable at tick `arrival` (now
    /// if `None` or already past). Returns its id and whether the policy wants the running task
    /// preempted. Call from thread context: it may grow the tables.
    pub fn spawn(
        &mut self,
        now: Tick,
        name: &'static str,
        (class, nice): (TaskClass, Nice),
        arrival: Option<Tick>,
    ) -> Result<(TaskId, bool), SchedError> {
        let id = TaskId(self.slots.len() as u32);
        let arrival = arrival.unwrap_or(now).max(now);
        // Reserve now what the tick path (and a block with interrupts off) may need for this
        // task: one entry in each queue and list, so that none of them grows later.
        let tasks = self.slots.len() + 1;
        self.arrivals
            .reserve(tasks.saturating_sub(self.arrivals.len()));
        self.sleepers
            .reserve(tasks.saturating_sub(self.sleepers.len()));
        self.due.reserve(tasks.saturating_sub(self.due.len()));
        self.live.reserve(tasks.saturating_sub(self.live.len()));
        self.slots.push(Slot {
            name,
            class,
            nice,
            view: TaskView::new(id, now).with_class(class).with_nice(nice),
            life: Life::Pending { arrival },
            burst_end: None,
            live_at: NOT_LIVE,
        });
        if arrival > now {
            self.arrivals.push(Reverse((arrival, id.0)));
            return Ok((id, false));
        }
        let preempt = self.admit(id.0 as usize, now)?;
        Ok((id, preempt))
    }

    /// Creates task `name` held: it enters the policy only once [`Core::release`] gives it an
    /// arrival. A workload spawns all its jobs held and then releases them at once, so how long
    /// spawning took (instructions, not ticks) cannot show in when they arrive.
    pub fn spawn_held(
        &mut self,
        now: Tick,
        name: &'static str,
        class_nice: (TaskClass, Nice),
    ) -> Result<TaskId, SchedError> {
        let (id, _) = self.spawn(now, name, class_nice, Some(Tick::MAX))?;
        // Not in the arrival queue: `release` puts it there.
        self.arrivals.retain(|&Reverse((_, i))| i != id.0);
        self.slots[id.0 as usize].life = Life::Held;
        Ok(id)
    }

    /// Gives held task `id` its arrival tick (admitting it at once if that is not in the
    /// future). Returns whether the policy wants the running task preempted; a task that is not
    /// held is left alone.
    pub fn release(&mut self, now: Tick, id: TaskId, arrival: Tick) -> Result<bool, SchedError> {
        let index = id.0 as usize;
        if self.slots.get(index).map(|s| s.life) != Some(Life::Held) {
            return Ok(false);
        }
        if arrival > now {
            self.slots[index].life = Life::Pending { arrival };
            self.arrivals.push(Reverse((arrival, id.0)));
            return Ok(false);
        }
        self.admit(index, now)
    }

    /// Makes pending task `index` runnable at `t`: its arrival. Returns whether the policy
    /// wants the running task preempted.
    fn admit(&mut self, index: usize, t: Tick) -> Result<bool, SchedError> {
        let s = &mut self.slots[index];
        s.view = TaskView::new(s.view.id, t)
            .with_class(s.class)
            .with_nice(s.nice);
        let verdict = self.policy.enqueue(t, &s.view, Wake::New)?;
        s.life = Life::Runnable;
        s.live_at = self.live.len() as u32;
        self.live.push(index as u32);
        self.events.arrivals += 1;
        let name = truncate_name(s.name);
        let (task, class) = (s.view.id.0, s.class.code());
        self.sink.record(&Record::TaskSpawn {
            tick: t,
            task,
            class,
            name,
        });
        Ok(verdict == Verdict::Preempt)
    }

    /// Makes blocked task `index` runnable at `t`. Returns whether the policy wants the running
    /// task preempted.
    fn wake(&mut self, index: usize, t: Tick) -> bool {
        let s = &mut self.slots[index];
        s.life = Life::Runnable;
        s.view.on_wake(t);
        self.events.wakeups += 1;
        let task = s.view.id.0;
        self.sink.record(&Record::TaskWake { tick: t, task });
        // A full table cannot happen: the task was in it before it blocked.
        self.policy
            .enqueue(t, &self.slots[index].view, Wake::Woken)
            .is_ok_and(|v| v == Verdict::Preempt)
    }

    /// Pipeline steps before the telemetry: admits the arrivals and wake-ups due at `t`,
    /// charges the running task its tick, and asks the policy whether its slice is over.
    pub fn begin_tick(&mut self, t: Tick) -> TickStart {
        let mut preempt = false;
        self.due.clear();
        while let Some(&Reverse((at, id))) = self.arrivals.peek() {
            if at > t {
                break;
            }
            self.arrivals.pop();
            self.due.push(id);
        }
        while let Some(&Reverse((at, id))) = self.sleepers.peek() {
            if at > t {
                break;
            }
            self.sleepers.pop();
            self.due.push(id);
        }
        self.due.sort_unstable();
        for i in 0..self.due.len() {
            let index = self.due[i] as usize;
            match self.slots[index].life {
                // A full policy table cannot refuse an arrival here: workloads are sized to it.
                Life::Pending { arrival } if arrival <= t => {
                    preempt |= self.admit(index, t).unwrap_or(false)
                }
                Life::Sleeping { until } if until <= t => preempt |= self.wake(index, t),
                _ => {}
            }
        }
        let cur = self.current.0 as usize;
        let busy = self.current != IDLE;
        let mut finishing = false;
        if busy {
            let s = &mut self.slots[cur];
            s.view.on_ran_tick(t);
            finishing = s.burst_end.is_some_and(|end| s.view.cpu_total >= end);
            if finishing {
                // Once: a task that breaks its word is preempted as usual from the next tick.
                s.burst_end = None;
            }
            preempt |= self.policy.tick(t, &self.slots[cur].view) == Verdict::Preempt;
        }
        TickStart {
            busy,
            finishing,
            preempt,
        }
    }

    /// The scheduler's telemetry section at `t` (the tick's events are then reset).
    pub fn telemetry(&mut self, t: Tick, start: &TickStart) -> Telemetry {
        let slots = &self.slots;
        let views = self.live.iter().map(|&i| &slots[i as usize].view);
        let telemetry = Telemetry::snapshot(t, views, start.busy, &self.events);
        self.events = TickEvents::default();
        telemetry
    }

    /// Pipeline steps after the telemetry: decides who runs from `t` on (with the model
    /// through `pipeline` when the learned policy is in charge) and records the decision.
    pub fn finish_tick<I: Inference>(
        &mut self,
        t: Tick,
        start: &TickStart,
        pipeline: &mut Pipeline<I>,
        clock: &mut dyn FnMut() -> u64,
    ) -> TaskId {
        // A task whose burst this tick completed blocks or exits the moment it runs again, as
        // it would have mid-tick on real hardware: let it, and decide when it leaves the CPU
        // (`block`, `exit`), rather than leave it runnable with its burst done.
        if start.finishing {
            return self.current;
        }
        self.decide(t, start.preempt || !start.busy, pipeline, clock)
    }

    /// Decides who runs from `t` on and tells the policy. `force`: the running task's slice is
    /// over or it cannot continue, so the classical policy picks anew.
    fn decide<I: Inference>(
        &mut self,
        t: Tick,
        force: bool,
        pipeline: &mut Pipeline<I>,
        clock: &mut dyn FnMut() -> u64,
    ) -> TaskId {
        let cur = self.current;
        let cur_runs = cur != IDLE && self.slots[cur.0 as usize].life == Life::Runnable;
        let shadow = if force || !cur_runs {
            self.policy.pick_next(t)
        } else {
            Some(cur)
        };
        let n = self.policy.candidates(&mut self.ids[..]).min(MAX_SCORED);
        for (i, (c, &id)) in self.candidates.iter_mut().zip(&self.ids[..n]).enumerate() {
            let view = &self.slots[id.0 as usize].view;
            *c = Candidate {
                id,
                features: TaskFeatures::of(view, t, id == cur && view.state == TaskState::Running),
            };
            if i < trace::MAX_CANDIDATES {
                self.record_ids[i] = u64::from(id.0);
                self.record_features[i] = c.features.0;
            }
        }
        let candidates = &self.candidates[..n];
        let (chosen, fallback, scored) = match self.learned.as_mut() {
            Some(learned) => {
                let shadow_at = shadow.and_then(|s| candidates.iter().position(|c| c.id == s));
                let out = learned.decide(pipeline, t, candidates, shadow_at, clock);
                if out.inference_cycles > 0 {
                    self.costs.inferences += 1;
                    self.costs.cycles += out.inference_cycles;
                    self.costs.max = self.costs.max.max(out.inference_cycles);
                }
                let chosen = match out.choice {
                    None => None,
                    Some(Choice::Model(i)) => Some(candidates[i].id),
                    Some(Choice::Shadow(_)) => shadow.or(Some(candidates[0].id)),
                };
                (chosen, out.fallback(), out.scored)
            }
            None if self.explore > 0
                && n > 0
                && self.rng.range(0, 99) < u64::from(self.explore) =>
            {
                let pick = self.rng.range(0, n as u64 - 1) as usize;
                (Some(candidates[pick].id), None, false)
            }
            None => (shadow, None, false),
        };
        if n > 0 {
            self.record_decision(t, chosen, fallback.map(|r| r.code()), scored, n);
        }
        let next = chosen.unwrap_or(IDLE);
        if force || next != cur {
            self.policy.switch_to(t, chosen);
        }
        next
    }

    /// Appends the decision record: the first [`trace::MAX_CANDIDATES`] candidates with their
    /// features and (when the model ran) scores, from the columns `decide` filled.
    fn record_decision(
        &mut self,
        t: Tick,
        chosen: Option<TaskId>,
        fallback: Option<u8>,
        scored: bool,
        n: usize,
    ) {
        /// Scores of candidates no model scored.
        const UNSCORED: [i32; trace::MAX_CANDIDATES] = [0; trace::MAX_CANDIDATES];
        let n = n.min(trace::MAX_CANDIDATES);
        let scores = match self.learned.as_ref() {
            Some(l) if scored => l.scores(n),
            _ => &UNSCORED[..n],
        };
        self.sink.record(&Record::Decision {
            tick: t,
            head: trace::head::SCHED,
            chosen: u64::from(chosen.unwrap_or(IDLE).0),
            policy: self.policy_code,
            fallback,
            candidates: trace::Candidates::columns(
                CANDIDATE_FEATURES,
                &self.record_ids[..n],
                self.record_features[..n].as_flattened(),
                scores,
            ),
        });
    }

    /// Records that `next` (which a decision chose) runs from `t` on. Returns the task that
    /// stops running, if the running task changes (the caller switches stacks then).
    pub fn commit_switch(&mut self, t: Tick, next: TaskId) -> Option<TaskId> {
        if next == self.current {
            return None;
        }
        let prev = self.current;
        let p = &mut self.slots[prev.0 as usize];
        if p.life == Life::Runnable && prev != IDLE {
            p.view.on_preempt(t);
        }
        let n = &mut self.slots[next.0 as usize];
        let first_run = n.view.first_run.is_none();
        n.view.on_dispatch(t);
        if first_run && next != IDLE {
            self.sink.record(&Record::TaskFirstRun {
                tick: t,
                task: next.0,
            });
        }
        self.current = next;
        self.switches += 1;
        self.events.switches += 1;
        Some(prev)
    }

    /// The running task blocks, exits or yields: decide anew at `t`.
    pub fn reschedule<I: Inference>(
        &mut self,
        t: Tick,
        pipeline: &mut Pipeline<I>,
        clock: &mut dyn FnMut() -> u64,
    ) -> TaskId {
        self.decide(t, true, pipeline, clock)
    }

    /// The running task will block or exit once it has been charged `cpu_total` CPU ticks in
    /// all: the tick that charges them does not preempt it.
    pub fn set_burst_end(&mut self, cpu_total: Tick) {
        let cur = self.current.0 as usize;
        self.slots[cur].burst_end = Some(cpu_total);
    }

    /// The running task sleeps until tick `until` (or waits, for [`Life::Waiting`]); decides
    /// who runs instead.
    pub fn block<I: Inference>(
        &mut self,
        t: Tick,
        life: Life,
        pipeline: &mut Pipeline<I>,
        clock: &mut dyn FnMut() -> u64,
    ) -> TaskId {
        let cur = self.current.0 as usize;
        let s = &mut self.slots[cur];
        s.life = life;
        s.burst_end = None;
        s.view.on_block(t);
        self.events.blocks += 1;
        if let Life::Sleeping { until } = life {
            // Reserved at spawn: at most one entry per task.
            self.sleepers.push(Reverse((until, cur as u32)));
        }
        self.sink.record(&Record::TaskBlock {
            tick: t,
            task: cur as u32,
        });
        self.policy
            .dequeue(t, &self.slots[cur].view, Leave::Blocked);
        self.reschedule(t, pipeline, clock)
    }

    /// The running task exits with `status`; wakes its waiters and decides who runs instead.
    pub fn exit<I: Inference>(
        &mut self,
        t: Tick,
        status: i32,
        pipeline: &mut Pipeline<I>,
        clock: &mut dyn FnMut() -> u64,
    ) -> TaskId {
        let cur = self.current.0 as usize;
        let me = self.current;
        let s = &mut self.slots[cur];
        s.life = Life::Exited { status };
        s.view.on_exit(t);
        let at = core::mem::replace(&mut s.live_at, NOT_LIVE);
        self.remove_live(at);
        self.events.exits += 1;
        self.sink.record(&Record::TaskExit {
            tick: t,
            task: cur as u32,
            status,
        });
        self.policy.dequeue(t, &self.slots[cur].view, Leave::Exited);
        let cpu = self.slots[cur].view.cpu_total;
        if let Some(learned) = self.learned.as_mut() {
            learned.head_mut().on_exit(me, cpu);
        }
        for i in 0..self.slots.len() {
            if self.slots[i].life == (Life::Waiting { on: me }) {
                // The exiting task is rescheduled right below whatever the verdict.
                let _ = self.wake(i, t);
            }
        }
        self.reschedule(t, pipeline, clock)
    }

    /// Takes the entry at `at` out of the live list.
    fn remove_live(&mut self, at: u32) {
        let at = at as usize;
        if at >= self.live.len() {
            return;
        }
        self.live.swap_remove(at);
        if let Some(&moved) = self.live.get(at) {
            self.slots[moved as usize].live_at = at as u32;
        }
    }
}

/// `name` cut to what a spawn record carries, at a character boundary.
fn truncate_name(name: &str) -> &str {
    let mut end = name.len().min(trace::MAX_TASK_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}
