//! Property tests over random job sets, for every policy: the invariants of a scheduler
//! (exact work, only runnable tasks run, work conservation, candidates agree with picks)
//! checked against an independent re-simulation of the trace, and the optimality results of
//! OSTEP ch. 7 (SJF and STCF minimise mean turnaround).

use std::boxed::Box;
use std::vec::Vec;

use proptest::prelude::*;

use crate::sched::replay::{Io, Job, Outcome, Replay};
use crate::sched::*;

const CAP: usize = 16;

fn policies() -> Vec<Box<dyn Policy>> {
    let mut quick_boost = MlfqConfig {
        boost_period: 7,
        ..MlfqConfig::default()
    };
    quick_boost.levels = 4;
    std::vec![
        Box::new(Fifo::<CAP>::new()),
        Box::new(ShortestJobFirst::<CAP>::new()),
        Box::new(ShortestRemainingWork::<CAP>::new()),
        Box::new(RoundRobin::<CAP>::new(1)),
        Box::new(RoundRobin::<CAP>::new(3)),
        Box::new(Cfs::<CAP>::default()),
        Box::new(Cfs::<CAP>::new(CfsConfig {
            target_latency: 20,
            min_granularity: 3,
            wakeup_granularity: 2
        })),
        Box::new(Mlfq::<CAP>::default()),
        Box::new(Mlfq::<CAP>::new(quick_boost)),
        Box::new(crate::sched::gittins::GittinsIndex::new()),
    ]
}

/// Wraps a policy and checks, at every pick, that its choice is among its candidates and that
/// its candidates are exactly the tasks enqueued and not dequeued since.
struct Audited<'a> {
    inner: &'a mut dyn Policy,
    runnable: Vec<TaskId>,
}

impl Policy for Audited<'_> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn enqueue(&mut self, now: Tick, task: &TaskView, why: Wake) -> Result<Verdict, SchedError> {
        self.runnable.push(task.id);
        self.inner.enqueue(now, task, why)
    }
    fn dequeue(&mut self, now: Tick, task: &TaskView, why: Leave) {
        self.runnable.retain(|&id| id != task.id);
        self.inner.dequeue(now, task, why);
    }
    fn tick(&mut self, now: Tick, task: &TaskView) -> Verdict {
        self.inner.tick(now, task)
    }
    fn pick_next(&self, now: Tick) -> Option<TaskId> {
        let mut out = [TaskId(u32::MAX); CAP];
        let n = self.inner.candidates(&mut out);
        let mut got = out[..n].to_vec();
        got.sort();
        let mut want = self.runnable.clone();
        want.sort();
        assert_eq!(got, want, "{} candidates at tick {now}", self.inner.name());
        let pick = self.inner.pick_next(now);
        assert_eq!(
            pick.is_some(),
            n > 0,
            "{} must pick iff something is runnable",
            self.inner.name()
        );
        assert!(pick.is_none_or(|p| got.contains(&p)));
        pick
    }
    fn switch_to(&mut self, now: Tick, next: Option<TaskId>) {
        self.inner.switch_to(now, next);
        assert_eq!(self.inner.current(), next);
    }
    fn candidates(&self, out: &mut [TaskId]) -> usize {
        self.inner.candidates(out)
    }
    fn current(&self) -> Option<TaskId> {
        self.inner.current()
    }
}

/// Stands in for the learned policy: it forwards every event to `inner` (its shadow baseline)
/// but runs the runnable task with the highest id, whatever `inner` would pick. The shadow must
/// stay consistent when the core runs something it did not choose.
struct Overruled<'a> {
    inner: &'a mut dyn Policy,
}

impl Policy for Overruled<'_> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn enqueue(&mut self, now: Tick, task: &TaskView, why: Wake) -> Result<Verdict, SchedError> {
        self.inner.enqueue(now, task, why)
    }
    fn dequeue(&mut self, now: Tick, task: &TaskView, why: Leave) {
        self.inner.dequeue(now, task, why);
    }
    fn tick(&mut self, now: Tick, task: &TaskView) -> Verdict {
        self.inner.tick(now, task)
    }
    fn pick_next(&self, now: Tick) -> Option<TaskId> {
        let shadow = self.inner.pick_next(now);
        let mut out = [TaskId(0); CAP];
        let n = self.inner.candidates(&mut out);
        let chosen = out[..n].iter().copied().max();
        assert!(
            chosen.is_some() == shadow.is_some(),
            "shadow picks iff there are candidates"
        );
        chosen
    }
    fn switch_to(&mut self, now: Tick, next: Option<TaskId>) {
        self.inner.switch_to(now, next);
    }
    fn candidates(&self, out: &mut [TaskId]) -> usize {
        self.inner.candidates(out)
    }
    fn current(&self) -> Option<TaskId> {
        self.inner.current()
    }
}

fn run(jobs: &[Job], policy: &mut dyn Policy) -> Outcome {
    let mut audited = Audited {
        inner: policy,
        runnable: Vec::new(),
    };
    Replay::new(jobs)
        .unwrap()
        .run(&mut audited)
        .unwrap_or_else(|e| panic!("{}: {e}", policy_name(&audited)))
}

fn policy_name(p: &Audited<'_>) -> &'static str {
    p.inner.name()
}

/// Re-derives from the trace alone which jobs were runnable each tick, and checks the trace
/// and the reported figures against it.
fn check_trace(jobs: &[Job], out: &Outcome, name: &str) {
    let mut cpu = std::vec![0; jobs.len()];
    let mut blocked_until = std::vec![0; jobs.len()];
    let mut first = std::vec![None; jobs.len()];
    let mut done = std::vec![None; jobs.len()];
    for (t, ran) in out.trace.iter().enumerate() {
        let t = t as Tick;
        let runnable: Vec<usize> = (0..jobs.len())
            .filter(|&i| jobs[i].arrival <= t && cpu[i] < jobs[i].work && blocked_until[i] <= t)
            .collect();
        match *ran {
            None => assert!(
                runnable.is_empty(),
                "{name}: idle at tick {t} with {runnable:?} runnable"
            ),
            Some(j) => {
                assert!(
                    runnable.contains(&j),
                    "{name}: ran job {j} at tick {t}, not runnable"
                );
                first[j].get_or_insert(t);
                cpu[j] += 1;
                if cpu[j] == jobs[j].work {
                    done[j] = Some(t + 1);
                } else if let Some(io) = jobs[j].io.filter(|io| cpu[j].is_multiple_of(io.run)) {
                    blocked_until[j] = t + 1 + io.block;
                }
            }
        }
    }
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(cpu[i], job.work, "{name}: job {i} ran exactly its work");
        let stats = out.jobs[i];
        assert_eq!(
            Some(stats.completion),
            done[i],
            "{name}: job {i} completion"
        );
        assert_eq!(
            Some(stats.response + job.arrival),
            first[i],
            "{name}: job {i} response"
        );
        assert_eq!(stats.turnaround, stats.completion - job.arrival);
        assert_eq!(stats.turnaround, job.work + stats.blocked + stats.wait);
    }
}

fn job() -> impl Strategy<Value = Job> {
    (
        0..30u64,
        1..25u64,
        proptest::option::of((1..6u64, 0..8u64)),
        -6i8..=6,
    )
        .prop_map(|(arrival, work, io, nice)| Job {
            arrival,
            work,
            io: io.map(|(run, block)| Io { run, block }),
            nice,
            class: Default::default(),
        })
}

fn cpu_job(max_arrival: u64) -> impl Strategy<Value = Job> {
    (0..=max_arrival, 1..40u64).prop_map(|(arrival, work)| Job::new(arrival, work))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_policy_is_exact_safe_and_work_conserving(jobs in proptest::collection::vec(job(), 1..10)) {
        for mut p in policies() {
            let out = run(&jobs, p.as_mut());
            check_trace(&jobs, &out, p.name());
        }
    }

    #[test]
    fn sjf_and_stcf_minimise_mean_turnaround_when_all_arrive_at_once(
        jobs in proptest::collection::vec(cpu_job(0), 1..10),
    ) {
        let stcf = run(&jobs, &mut ShortestRemainingWork::<CAP>::new()).total_turnaround();
        let sjf = run(&jobs, &mut ShortestJobFirst::<CAP>::new()).total_turnaround();
        prop_assert_eq!(sjf, stcf);
        for mut p in policies() {
            let other = run(&jobs, p.as_mut()).total_turnaround();
            prop_assert!(stcf <= other, "stcf {} > {} {}", stcf, p.name(), other);
        }
    }

    #[test]
    fn stcf_minimises_mean_turnaround_with_arrivals(jobs in proptest::collection::vec(cpu_job(40), 1..10)) {
        let stcf = run(&jobs, &mut ShortestRemainingWork::<CAP>::new()).total_turnaround();
        for mut p in policies() {
            let other = run(&jobs, p.as_mut()).total_turnaround();
            prop_assert!(stcf <= other, "stcf {} > {} {}", stcf, p.name(), other);
        }
    }

    #[test]
    fn replay_is_deterministic(jobs in proptest::collection::vec(job(), 1..8)) {
        for (mut a, mut b) in policies().into_iter().zip(policies()) {
            prop_assert_eq!(run(&jobs, a.as_mut()), run(&jobs, b.as_mut()));
        }
    }

    #[test]
    fn every_policy_stays_consistent_as_a_shadow_when_overruled(jobs in proptest::collection::vec(job(), 1..10)) {
        for mut p in policies() {
            let name = p.name();
            let mut overruled = Overruled { inner: p.as_mut() };
            let out = run(&jobs, &mut overruled);
            check_trace(&jobs, &out, name);
        }
    }
}
