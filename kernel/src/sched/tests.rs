//! Agreement with OSTEP's `cpu-sched/scheduler.py -c` (figures from
//! `../shared/data/ostep/sched_*.txt`, copied here literally so a fresh clone can check them),
//! and the behaviour of each policy on hand-built cases.

mod props;

use super::replay::{Io, Job, Outcome, Replay};
use super::*;

/// (response, turnaround, wait) per job, in job order.
type Figures = [(Tick, Tick, Tick)];

const L_100_200_300: [Tick; 3] = [100, 200, 300];
const L_300_200_100: [Tick; 3] = [300, 200, 100];
/// `-s 7 -j 5`: the lengths OSTEP's generator draws for seed 7.
const S7_J5: [Tick; 5] = [4, 2, 7, 1, 6];

fn replay(lengths: &[Tick], policy: &mut dyn Policy) -> Outcome {
    Replay::from_lengths(lengths).unwrap().run(policy).unwrap()
}

fn check(out: &Outcome, want: &Figures, averages: (&str, &str, &str)) {
    let got: std::vec::Vec<_> = out
        .jobs
        .iter()
        .map(|j| (j.response, j.turnaround, j.wait))
        .collect();
    assert_eq!(got, want);
    let avg = (
        std::format!("{:.2}", out.mean_response()),
        std::format!("{:.2}", out.mean_turnaround()),
        std::format!("{:.2}", out.mean_wait()),
    );
    assert_eq!((avg.0.as_str(), avg.1.as_str(), avg.2.as_str()), averages);
}

/// The trace as (job, start tick, ticks) runs, like OSTEP's "Run job J for N secs" lines.
fn segments(out: &Outcome) -> std::vec::Vec<(usize, Tick, Tick)> {
    let mut segs: std::vec::Vec<(usize, Tick, Tick)> = std::vec::Vec::new();
    for (t, job) in out.trace.iter().enumerate() {
        let job = job.expect("OSTEP workloads never idle");
        match segs.last_mut() {
            Some((j, _, len)) if *j == job => *len += 1,
            _ => segs.push((job, t as Tick, 1)),
        }
    }
    segs
}

#[test]
fn ostep_fifo_l100_200_300() {
    let out = replay(&L_100_200_300, &mut Fifo::<8>::new());
    check(
        &out,
        &[(0, 100, 0), (100, 300, 100), (300, 600, 300)],
        ("133.33", "333.33", "133.33"),
    );
    assert_eq!(segments(&out), [(0, 0, 100), (1, 100, 200), (2, 300, 300)]);
}

#[test]
fn ostep_fifo_l300_200_100() {
    let out = replay(&L_300_200_100, &mut Fifo::<8>::new());
    check(
        &out,
        &[(0, 300, 0), (300, 500, 300), (500, 600, 500)],
        ("266.67", "466.67", "266.67"),
    );
    assert_eq!(segments(&out), [(0, 0, 300), (1, 300, 200), (2, 500, 100)]);
}

#[test]
fn ostep_fifo_s7_j5() {
    let out = replay(&S7_J5, &mut Fifo::<8>::new());
    check(
        &out,
        &[(0, 4, 0), (4, 6, 4), (6, 13, 6), (13, 14, 13), (14, 20, 14)],
        ("7.40", "11.40", "7.40"),
    );
    assert_eq!(
        segments(&out),
        [(0, 0, 4), (1, 4, 2), (2, 6, 7), (3, 13, 1), (4, 14, 6)]
    );
}

#[test]
fn ostep_sjf_l100_200_300() {
    let out = replay(&L_100_200_300, &mut ShortestJobFirst::<8>::new());
    check(
        &out,
        &[(0, 100, 0), (100, 300, 100), (300, 600, 300)],
        ("133.33", "333.33", "133.33"),
    );
    assert_eq!(segments(&out), [(0, 0, 100), (1, 100, 200), (2, 300, 300)]);
}

#[test]
fn ostep_sjf_l300_200_100() {
    let out = replay(&L_300_200_100, &mut ShortestJobFirst::<8>::new());
    check(
        &out,
        &[(300, 600, 300), (100, 300, 100), (0, 100, 0)],
        ("133.33", "333.33", "133.33"),
    );
    assert_eq!(segments(&out), [(2, 0, 100), (1, 100, 200), (0, 300, 300)]);
}

#[test]
fn ostep_sjf_s7_j5() {
    let out = replay(&S7_J5, &mut ShortestJobFirst::<8>::new());
    check(
        &out,
        &[(3, 7, 3), (1, 3, 1), (13, 20, 13), (0, 1, 0), (7, 13, 7)],
        ("4.80", "8.80", "4.80"),
    );
    assert_eq!(
        segments(&out),
        [(3, 0, 1), (1, 1, 2), (0, 3, 4), (4, 7, 6), (2, 13, 7)]
    );
}

/// OSTEP's RR traces for `-l`: jobs cycle 0,1,2 until the first is done; its "DONE at" lines.
fn check_rr_cycle(out: &Outcome, done: &[(usize, Tick)]) {
    let first_done = done.iter().map(|&(_, t)| t).min().unwrap();
    for (t, ran) in out.trace.iter().take(first_done as usize).enumerate() {
        assert_eq!(*ran, Some(t % 3), "tick {t}");
    }
    for &(job, at) in done {
        assert_eq!(out.jobs[job].completion, at);
        assert_eq!(out.trace[at as usize - 1], Some(job));
    }
}

#[test]
fn ostep_rr_l100_200_300() {
    let out = replay(&L_100_200_300, &mut RoundRobin::<8>::new(1));
    check(
        &out,
        &[(0, 298, 198), (1, 499, 299), (2, 600, 300)],
        ("1.00", "465.67", "265.67"),
    );
    check_rr_cycle(&out, &[(0, 298), (1, 499), (2, 600)]);
}

#[test]
fn ostep_rr_l300_200_100() {
    let out = replay(&L_300_200_100, &mut RoundRobin::<8>::new(1));
    check(
        &out,
        &[(0, 600, 300), (1, 500, 300), (2, 300, 200)],
        ("1.00", "466.67", "266.67"),
    );
    check_rr_cycle(&out, &[(2, 300), (1, 500), (0, 600)]);
}

#[test]
fn ostep_rr_s7_j5() {
    let out = replay(&S7_J5, &mut RoundRobin::<8>::new(1));
    check(
        &out,
        &[(0, 13, 9), (1, 7, 5), (2, 20, 13), (3, 4, 3), (4, 19, 13)],
        ("2.00", "12.60", "8.60"),
    );
    let ostep_trace = [0, 1, 2, 3, 4, 0, 1, 2, 4, 0, 2, 4, 0, 2, 4, 2, 4, 2, 4, 2];
    let trace: std::vec::Vec<usize> = out.trace.iter().map(|j| j.unwrap()).collect();
    assert_eq!(trace, ostep_trace);
}

#[test]
fn round_robin_runs_a_whole_quantum_per_turn() {
    let out = replay(&[5, 5], &mut RoundRobin::<8>::new(3));
    let trace: std::vec::Vec<usize> = out.trace.iter().map(|j| j.unwrap()).collect();
    assert_eq!(trace, [0, 0, 0, 1, 1, 1, 0, 0, 1, 1]);
}

#[test]
fn stcf_preempts_for_a_shorter_arrival() {
    // OSTEP Figure 7.5: A (100) at 0, B and C (10) at 10: B and C run at once.
    let jobs = [Job::new(0, 100), Job::new(10, 10), Job::new(10, 10)];
    let out = Replay::new(&jobs)
        .unwrap()
        .run(&mut ShortestRemainingWork::<8>::new())
        .unwrap();
    let turnaround: std::vec::Vec<Tick> = out.jobs.iter().map(|j| j.turnaround).collect();
    assert_eq!(
        turnaround,
        [120, 10, 20],
        "OSTEP's (120 + 10 + 20) / 3 = 50"
    );
    let sjf = Replay::new(&jobs)
        .unwrap()
        .run(&mut ShortestJobFirst::<8>::new())
        .unwrap();
    assert_eq!(
        sjf.jobs
            .iter()
            .map(|j| j.turnaround)
            .collect::<std::vec::Vec<_>>(),
        [100, 100, 110]
    );
}

#[test]
fn replay_counts_blocked_time_out_of_wait() {
    // Alone, a job that blocks 3 ticks after every 2 ticks of CPU never waits.
    let job = Job {
        io: Some(Io { run: 2, block: 3 }),
        ..Job::new(0, 6)
    };
    let out = Replay::new(&[job])
        .unwrap()
        .run(&mut Fifo::<8>::new())
        .unwrap();
    let j = out.jobs[0];
    assert_eq!((j.turnaround, j.blocked, j.wait), (12, 6, 0));
    assert_eq!(
        out.trace,
        [
            Some(0),
            Some(0),
            None,
            None,
            None,
            Some(0),
            Some(0),
            None,
            None,
            None,
            Some(0),
            Some(0)
        ]
    );
}

#[test]
fn replay_rejects_a_policy_that_never_runs_anything() {
    struct Lazy;
    impl Policy for Lazy {
        fn name(&self) -> &'static str {
            "lazy"
        }
        fn enqueue(&mut self, _: Tick, _: &TaskView, _: Wake) -> Result<Verdict, SchedError> {
            Ok(Verdict::Continue)
        }
        fn dequeue(&mut self, _: Tick, _: &TaskView, _: Leave) {}
        fn tick(&mut self, _: Tick, _: &TaskView) -> Verdict {
            Verdict::Continue
        }
        fn pick_next(&self, now: Tick) -> Option<TaskId> {
            (now == 3).then_some(TaskId(7))
        }
        fn switch_to(&mut self, _: Tick, _: Option<TaskId>) {}
        fn candidates(&self, _: &mut [TaskId]) -> usize {
            0
        }
        fn current(&self) -> Option<TaskId> {
            None
        }
    }
    let r = Replay::from_lengths(&[2]).unwrap();
    assert_eq!(
        r.run(&mut Lazy),
        Err(replay::ReplayError::NotRunnable {
            tick: 3,
            task: TaskId(7)
        })
    );
    let long = Replay::from_lengths(&[200]).unwrap();
    assert!(matches!(
        long.run(&mut Lazy),
        Err(replay::ReplayError::NotRunnable { .. })
    ));
    assert_eq!(
        Replay::from_lengths(&[0]).unwrap_err(),
        replay::ReplayError::BadJob { job: 0 }
    );
}

#[test]
fn a_full_table_is_an_error_not_an_allocation() {
    let mut rr = RoundRobin::<2>::new(1);
    for i in 0..2 {
        assert_eq!(
            rr.enqueue(0, &TaskView::new(TaskId(i), 0), Wake::New),
            Ok(Verdict::Continue)
        );
    }
    let third = rr.enqueue(0, &TaskView::new(TaskId(2), 0), Wake::New);
    assert_eq!(third, Err(SchedError::Full { capacity: 2 }));
    let again = rr.enqueue(0, &TaskView::new(TaskId(1), 0), Wake::New);
    assert_eq!(again, Err(SchedError::AlreadyRunnable(TaskId(1))));
    let err = Replay::from_lengths(&[1, 1, 1])
        .unwrap()
        .run(&mut Fifo::<2>::new())
        .unwrap_err();
    assert!(std::format!("{err}").contains("larger capacity"), "{err}");
}

/// Ticks of CPU each job got in `trace[..window]`.
fn shares(out: &Outcome, jobs: usize, window: usize) -> std::vec::Vec<u64> {
    let mut n = std::vec![0; jobs];
    for j in out.trace[..window].iter().flatten() {
        n[*j] += 1;
    }
    n
}

#[test]
fn cfs_shares_cpu_in_proportion_to_weight() {
    let nices = [0i8, 0, 5, -5];
    let jobs: std::vec::Vec<Job> = nices
        .iter()
        .map(|&nice| Job {
            nice,
            ..Job::new(0, 50_000)
        })
        .collect();
    let out = Replay::new(&jobs)
        .unwrap()
        .run(&mut Cfs::<8>::default())
        .unwrap();
    let window = 20_000;
    let got = shares(&out, jobs.len(), window);
    let weights: std::vec::Vec<u64> = nices
        .iter()
        .map(|&n| u64::from(nice_to_weight(Nice::new(n))))
        .collect();
    let total: u64 = weights.iter().sum();
    for (i, (&g, &w)) in got.iter().zip(&weights).enumerate() {
        let want = window as f64 * w as f64 / total as f64;
        assert!(
            (g as f64 - want).abs() <= want * 0.02 + 2.0,
            "job {i} (nice {}): {g} ticks, want {want:.0}",
            nices[i]
        );
    }
}

#[test]
fn cfs_places_a_newcomer_at_min_vruntime_so_it_shares_instead_of_monopolising() {
    let jobs = [Job::new(0, 5_000), Job::new(1_000, 5_000)];
    let out = Replay::new(&jobs)
        .unwrap()
        .run(&mut Cfs::<8>::default())
        .unwrap();
    let mut n = [0u64; 2];
    for j in out.trace[1_000..1_600].iter().flatten() {
        n[*j] += 1;
    }
    assert!(
        n[0].abs_diff(n[1]) <= 12,
        "equal weights after the arrival: {n:?}"
    );
}

#[test]
fn cfs_limits_sleeper_credit_and_wakes_into_preemption() {
    let cfg = CfsConfig::default();
    let mut cfs = Cfs::<8>::new(cfg);
    let (mut hog, mut sleeper) = (TaskView::new(TaskId(0), 0), TaskView::new(TaskId(1), 0));
    assert_eq!(cfs.enqueue(0, &hog, Wake::New), Ok(Verdict::Continue));
    assert_eq!(cfs.enqueue(0, &sleeper, Wake::New), Ok(Verdict::Continue));
    cfs.switch_to(0, Some(sleeper.id));
    sleeper.on_ran_tick(1);
    let _ = cfs.tick(1, &sleeper);
    cfs.dequeue(1, &sleeper, Leave::Blocked);
    cfs.switch_to(1, cfs.pick_next(1));
    assert_eq!(cfs.current(), Some(hog.id));
    for t in 2..1_000 {
        hog.on_ran_tick(t);
        let _ = cfs.tick(t, &hog);
    }
    let floor = cfs.min_vruntime() - cfg.target_latency * policy::VRUNTIME_PER_TICK / 2;
    assert_eq!(
        cfs.enqueue(1_000, &sleeper, Wake::Woken),
        Ok(Verdict::Preempt)
    );
    assert_eq!(
        cfs.vruntime(sleeper.id),
        Some(floor),
        "credit capped at half the target latency"
    );
    assert_eq!(cfs.pick_next(1_000), Some(sleeper.id));
}

/// Runs `task` alone on `mlfq` for `ticks` ticks from `*now`, re-picking on each preemption.
fn run_alone(mlfq: &mut Mlfq<8>, task: &mut TaskView, now: &mut Tick, ticks: Tick) {
    for _ in 0..ticks {
        if mlfq.current() != Some(task.id) {
            mlfq.switch_to(*now, mlfq.pick_next(*now));
        }
        *now += 1;
        task.on_ran_tick(*now);
        if mlfq.tick(*now, task) == Verdict::Preempt {
            mlfq.switch_to(*now, mlfq.pick_next(*now));
        }
    }
}

#[test]
fn mlfq_demotes_a_cpu_hog_level_by_level_and_boosts_it_back() {
    let mut mlfq = Mlfq::<8>::default(); // quanta 2, 4, 8; boost every 200
    let mut hog = TaskView::new(TaskId(0), 0);
    let mut now = 0;
    assert_eq!(mlfq.enqueue(0, &hog, Wake::New), Ok(Verdict::Continue));
    assert_eq!(
        mlfq.level_of(hog.id),
        Some(0),
        "rule 3: new tasks start at the top"
    );
    run_alone(&mut mlfq, &mut hog, &mut now, 2);
    assert_eq!(mlfq.level_of(hog.id), Some(1));
    run_alone(&mut mlfq, &mut hog, &mut now, 4);
    assert_eq!(mlfq.level_of(hog.id), Some(2));
    run_alone(&mut mlfq, &mut hog, &mut now, 150);
    assert_eq!(mlfq.level_of(hog.id), Some(2), "the bottom level keeps it");
    // Rule 1: a newcomer at the top outranks it at once.
    let newcomer = TaskView::new(TaskId(1), now);
    assert_eq!(
        mlfq.enqueue(now, &newcomer, Wake::New),
        Ok(Verdict::Preempt)
    );
    assert_eq!(mlfq.pick_next(now), Some(newcomer.id));
    mlfq.dequeue(now, &newcomer, Leave::Exited);
    let until_boost = 200 - now;
    run_alone(&mut mlfq, &mut hog, &mut now, until_boost);
    assert_eq!(now, 200);
    assert_eq!(
        mlfq.level_of(hog.id),
        Some(0),
        "rule 5: boosted at tick 200"
    );
}

#[test]
fn mlfq_demotes_a_task_that_games_the_quantum_by_sleeping() {
    // Rule 4: it uses 1 of its 2-tick allotment, sleeps, and again: demoted all the same.
    let mut mlfq = Mlfq::<8>::default();
    let mut gamer = TaskView::new(TaskId(0), 0);
    let mut now = 0;
    assert_eq!(mlfq.enqueue(now, &gamer, Wake::New), Ok(Verdict::Continue));
    for round in 0..2 {
        assert_eq!(mlfq.level_of(gamer.id), Some(0), "round {round}");
        run_alone(&mut mlfq, &mut gamer, &mut now, 1);
        gamer.on_block(now);
        mlfq.dequeue(now, &gamer, Leave::Blocked);
        mlfq.switch_to(now, mlfq.pick_next(now));
        now += 5;
        gamer.on_wake(now);
        assert_eq!(
            mlfq.enqueue(now, &gamer, Wake::Woken),
            Ok(Verdict::Continue)
        );
    }
    assert_eq!(mlfq.level_of(gamer.id), Some(1));
}

#[test]
fn mlfq_keeps_an_interactive_job_responsive_beside_hogs() {
    // Two hogs and one job that runs 1 tick then sleeps 10: it never waits long for the CPU.
    let interactive = Job {
        io: Some(Io { run: 1, block: 10 }),
        ..Job::new(5, 30)
    };
    let jobs = [Job::new(0, 2_000), Job::new(0, 2_000), interactive];
    let out = Replay::new(&jobs)
        .unwrap()
        .run(&mut Mlfq::<8>::default())
        .unwrap();
    let rr = Replay::new(&jobs)
        .unwrap()
        .run(&mut RoundRobin::<8>::new(8))
        .unwrap();
    assert!(
        out.jobs[2].wait * 2 < rr.jobs[2].wait,
        "mlfq {} vs rr(8) {}",
        out.jobs[2].wait,
        rr.jobs[2].wait
    );
}
