//! The scheduler head behind the guard, with a scripted model: every fallback reason is taken
//! when it should be, counted, and never returns a task that is not a candidate.

use super::*;
use crate::learn::{FallbackReason, GuardConfig, Inference, InputLayout, Pipeline};
use crate::sched::TaskId;
use crate::telemetry::feature::{
    BURST as BURST_FEATURE, CPU_TOTAL as CPU_TOTAL_FEATURE, WAITING as WAITING_FEATURE,
};
use model_runtime::RunError;

/// Scores each row by a fixed function of its int8 features.
struct Scripted<F: FnMut(&[i8]) -> i32> {
    score_row: F,
    fail: bool,
}

impl<F: FnMut(&[i8]) -> i32> Inference for Scripted<F> {
    fn run_backbone(&mut self, _input: &[i8]) -> Result<(), RunError> {
        Ok(())
    }

    fn run_head(&mut self, _head: usize, rows: &[i8], scores: &mut [i32]) -> Result<(), RunError> {
        if self.fail {
            return Err(RunError::NoEmbedding);
        }
        for (s, row) in scores
            .iter_mut()
            .zip(rows.as_chunks::<{ SchedHead::FEATURES }>().0)
        {
            *s = (self.score_row)(row);
        }
        Ok(())
    }
}

/// What one decision came to, in task ids (as the scheduler core maps it).
struct D {
    chosen: Option<TaskId>,
    fallback: Option<FallbackReason>,
    scored: bool,
    inference_cycles: u64,
}

/// The learned scheduler and a pipeline over a scripted model, mapping choices to task ids
/// as `sched::core` does.
struct Harness<F: FnMut(&[i8]) -> i32> {
    learned: LearnedScheduler,
    pipeline: Pipeline<Scripted<F>>,
}

impl<F: FnMut(&[i8]) -> i32> Harness<F> {
    fn new(scorer: Result<Scripted<F>, FallbackReason>, config: GuardConfig) -> Self {
        let slot = scorer.as_ref().map(|_| 0).map_err(|r| *r);
        Self {
            learned: Guarded::new(SchedHead::default(), slot, config, MAX_SCORED),
            pipeline: Pipeline::new(scorer, InputLayout::full()),
        }
    }

    fn decide(
        &mut self,
        t: Tick,
        cands: &[Candidate],
        shadow: Option<TaskId>,
        clock: &mut dyn FnMut() -> u64,
    ) -> D {
        let shadow_at = shadow.and_then(|s| cands.iter().position(|c| c.id == s));
        let out = self
            .learned
            .decide(&mut self.pipeline, t, cands, shadow_at, clock);
        let chosen = match out.choice {
            None => None,
            Some(crate::learn::Choice::Model(i)) => Some(cands[i].id),
            Some(crate::learn::Choice::Shadow(_)) => shadow.or(Some(cands[0].id)),
        };
        D {
            chosen,
            fallback: out.fallback(),
            scored: out.scored,
            inference_cycles: out.inference_cycles,
        }
    }

    fn counts(&self) -> &crate::learn::FallbackCounts {
        self.learned.counts()
    }

    fn scores(&self, n: usize) -> &[i32] {
        self.learned.scores(n)
    }

    fn first_ticks(&self) -> u64 {
        self.learned.head().first_ticks()
    }

    fn unjudged(&self) -> u64 {
        self.learned.head().unjudged()
    }

    fn on_exit(&mut self, id: TaskId, cpu: u64) {
        self.learned.head_mut().on_exit(id, cpu);
    }
}

/// Prefers short expected bursts (feature 5, shifted by 1 in the model input).
fn short_burst_first() -> Scripted<impl FnMut(&[i8]) -> i32> {
    Scripted {
        score_row: |row: &[i8]| -i32::from(row[BURST_FEATURE]),
        fail: false,
    }
}

/// Prefers long expected bursts: the opposite of what the regret judge rewards.
fn long_burst_first() -> Scripted<impl FnMut(&[i8]) -> i32> {
    Scripted {
        score_row: |row: &[i8]| i32::from(row[BURST_FEATURE]),
        fail: false,
    }
}

/// A candidate that has run before (so the first-tick rule leaves it to the model).
fn candidate(id: u32, burst: i16) -> Candidate {
    let mut features = TaskFeatures::default();
    features.0[BURST_FEATURE] = burst;
    features.0[CPU_TOTAL_FEATURE] = burst.max(1);
    Candidate {
        id: TaskId(id),
        features,
    }
}

/// Three candidates: task 1 long (burst 40), task 2 short (2), task 3 medium (10).
fn three() -> [Candidate; 3] {
    [candidate(1, 40), candidate(2, 2), candidate(3, 10)]
}

fn cheap_clock() -> impl FnMut() -> u64 {
    let mut t = 0;
    move || {
        t += 10;
        t
    }
}

#[test]
fn without_a_model_every_decision_is_the_shadows_with_the_reason() {
    for reason in [FallbackReason::NoWeights, FallbackReason::Schema] {
        let mut l = Harness::<fn(&[i8]) -> i32>::new(Err(reason), GuardConfig::default());
        for t in 0..10 {
            let d = l.decide(t, &three(), Some(TaskId(3)), &mut cheap_clock());
            assert_eq!((d.chosen, d.fallback), (Some(TaskId(3)), Some(reason)));
            assert!(!d.scored);
        }
        assert_eq!((l.counts().decisions, l.counts().get(reason)), (10, 10));
        assert_eq!(l.counts().total(), 10);
    }
}

#[test]
fn a_valid_model_runs_its_best_scored_candidate() {
    let mut l = Harness::new(Ok(short_burst_first()), GuardConfig::default());
    let d = l.decide(0, &three(), Some(TaskId(1)), &mut cheap_clock());
    assert_eq!((d.chosen, d.fallback), (Some(TaskId(2)), None));
    assert!(d.scored && d.inference_cycles > 0);
    assert_eq!(l.scores(3), &[-20, -1, -5], "burst >> 1, negated");
    assert_eq!(l.counts().total(), 0);
}

#[test]
fn a_newcomer_gets_its_first_tick_before_the_models_pick() {
    let mut l = Harness::new(Ok(long_burst_first()), GuardConfig::default());
    let newcomer = |id, waiting| {
        let mut c = candidate(id, 0);
        c.features.0[CPU_TOTAL_FEATURE] = 0;
        c.features.0[WAITING_FEATURE] = waiting;
        c
    };
    let mut cands = three().to_vec();
    cands.push(newcomer(7, 3));
    cands.push(newcomer(8, 5));
    let d = l.decide(0, &cands, Some(TaskId(2)), &mut cheap_clock());
    assert_eq!(
        (d.chosen, d.fallback),
        (Some(TaskId(8)), None),
        "the longest-waiting newcomer"
    );
    assert!(d.scored, "the model still ran (its scores are traced)");
    assert_eq!(l.first_ticks(), 1);
    // Once charged a tick, a task is the model's to rank.
    let d = l.decide(1, &three(), Some(TaskId(2)), &mut cheap_clock());
    assert_eq!(d.chosen, Some(TaskId(1)));
    assert_eq!(l.first_ticks(), 1);
}

#[test]
fn no_candidates_means_idle_and_no_decision() {
    let mut l = Harness::new(Ok(short_burst_first()), GuardConfig::default());
    let d = l.decide(0, &[], None, &mut cheap_clock());
    assert_eq!((d.chosen, d.fallback), (None, None));
    assert_eq!(l.counts().decisions, 0);
}

#[test]
fn an_inference_over_budget_is_discarded() {
    let config = GuardConfig {
        budget_cycles: 100,
        ..GuardConfig::default()
    };
    let mut l = Harness::new(Ok(short_burst_first()), config);
    let mut slow = {
        let mut t = 0;
        move || {
            t += 1000;
            t
        }
    };
    let d = l.decide(0, &three(), Some(TaskId(3)), &mut slow);
    assert_eq!(
        (d.chosen, d.fallback),
        (Some(TaskId(3)), Some(FallbackReason::Budget))
    );
    assert_eq!(d.inference_cycles, 1000);
    assert_eq!(l.counts().get(FallbackReason::Budget), 1);
}

#[test]
fn a_runtime_error_is_a_bad_output_fallback() {
    let mut l = Harness::new(
        Ok(Scripted {
            score_row: |_: &[i8]| 0,
            fail: true,
        }),
        GuardConfig::default(),
    );
    let d = l.decide(0, &three(), Some(TaskId(1)), &mut cheap_clock());
    assert_eq!(
        (d.chosen, d.fallback),
        (Some(TaskId(1)), Some(FallbackReason::BadOutput))
    );
}

#[test]
fn regret_guard_judges_in_hindsight_trips_on_a_bad_window_and_recovers() {
    use std::cell::Cell;
    use std::rc::Rc;
    let config = GuardConfig {
        regret_window: 8,
        regret_limit: 4,
        cooldown: 20,
        ..GuardConfig::default()
    };
    // While `bad`, the model prefers long bursts; the shadow always runs the short task.
    let bad = Rc::new(Cell::new(true));
    let flag = bad.clone();
    let scorer = Scripted {
        score_row: move |row: &[i8]| {
            let burst = i32::from(row[BURST_FEATURE]);
            if flag.get() { burst } else { -burst }
        },
        fail: false,
    };
    let mut l = Harness::new(Ok(scorer), config);
    let pair = |long, short| [candidate(long, 40), candidate(short, 2)];
    let decide = |l: &mut Harness<_>, t, cands: &[Candidate], shadow| {
        let d = l.decide(t, cands, Some(TaskId(shadow)), &mut cheap_clock());
        (d.chosen, d.fallback)
    };
    // Ticks 0..8: the model runs task 1 against the shadow's task 2. Nothing is judged yet:
    // neither task has finished, so nobody knows who had less work left.
    for t in 0..8 {
        assert_eq!(
            decide(&mut l, t, &pair(1, 2), 2),
            (Some(TaskId(1)), None),
            "tick {t}"
        );
    }
    // Task 1 turns out to have had 1000 - 40 ticks left, task 2 only 3 - 2: each of those
    // decisions delayed the shorter task by a tick, 8 ticks net against a limit of 4. The next
    // decision judges them and trips.
    l.on_exit(TaskId(1), 1000);
    l.on_exit(TaskId(2), 3);
    for t in 8..28 {
        let d = decide(&mut l, t, &pair(11, 12), 12);
        assert_eq!(
            d,
            (Some(TaskId(12)), Some(FallbackReason::Regret)),
            "tick {t}"
        );
    }
    // It turns good: agreeing with the shadow is judged at once, at zero regret, and when the
    // cooldown ends at tick 28 its own picks run again.
    bad.set(false);
    for t in 28..60 {
        assert_eq!(
            decide(&mut l, t, &pair(11, 12), 12),
            (Some(TaskId(12)), None),
            "tick {t}"
        );
    }
    assert_eq!(l.counts().get(FallbackReason::Regret), 20);
    assert_eq!(l.unjudged(), 0);
}

#[test]
fn a_model_that_beats_its_shadow_in_hindsight_is_never_stopped() {
    let config = GuardConfig {
        regret_window: 4,
        regret_limit: 0,
        ..GuardConfig::default()
    };
    let mut l = Harness::new(Ok(short_burst_first()), config);
    for round in 0..50u32 {
        let (long, short) = (2 * round + 100, 2 * round + 101);
        let cands = [candidate(long, 40), candidate(short, 2)];
        let d = l.decide(
            u64::from(round),
            &cands,
            Some(TaskId(long)),
            &mut cheap_clock(),
        );
        assert_eq!(
            (d.chosen, d.fallback),
            (Some(TaskId(short)), None),
            "round {round}"
        );
        l.on_exit(TaskId(long), 500);
        l.on_exit(TaskId(short), 5);
    }
    assert_eq!(l.counts().total(), 0);
}

#[test]
fn decisions_only_return_candidates() {
    let mut l = Harness::new(Ok(long_burst_first()), GuardConfig::default());
    for n in 1..=3 {
        let cands = &three()[..n];
        for shadow in [None, Some(cands[n - 1].id)] {
            let d = l.decide(0, cands, shadow, &mut cheap_clock());
            let c = d.chosen.expect("some candidate");
            assert!(cands.iter().any(|x| x.id == c));
        }
    }
}

#[test]
fn reasons_round_trip_their_codes_and_names() {
    for r in FallbackReason::ALL {
        assert_eq!(FallbackReason::from_code(r.code()), Some(r));
    }
    assert_eq!(FallbackReason::from_code(0), None);
    assert_eq!(FallbackReason::from_code(7), None);
    let names: Vec<_> = FallbackReason::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "no-weights",
            "schema",
            "budget",
            "regret",
            "bad-output",
            "integrity"
        ]
    );
}
