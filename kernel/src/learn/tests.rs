//! A second head plugs into the learned layer next to the scheduler's, with no change to
//! `sched/`: both decide in the same tick on one backbone run, each behind its own guard with
//! its own counts, and a head missing from the model disables only itself.

use super::*;
use crate::sched::TaskId;
use crate::sched::head::{Candidate, MAX_SCORED, SchedHead};
use crate::telemetry::{TaskFeatures, Telemetry};
use model_runtime::RunError;
use std::vec::Vec;

/// A model double: counts backbone runs, scores rows by their first byte, records which head
/// index each call used.
#[derive(Default)]
struct Probe {
    backbone_runs: u32,
    last_input: Vec<i8>,
    head_calls: Vec<usize>,
}

impl Inference for Probe {
    fn run_backbone(&mut self, input: &[i8]) -> Result<(), RunError> {
        self.backbone_runs += 1;
        self.last_input = input.to_vec();
        Ok(())
    }

    fn run_head(&mut self, head: usize, rows: &[i8], scores: &mut [i32]) -> Result<(), RunError> {
        self.head_calls.push(head);
        let width = rows.len() / scores.len().max(1);
        for (s, row) in scores.iter_mut().zip(rows.chunks_exact(width.max(1))) {
            *s = i32::from(row[0]);
        }
        Ok(())
    }
}

/// A cache-like test head: candidates are block numbers with one feature (recency); the
/// model's highest score is evicted. It is not the scheduler's and knows nothing of it.
struct EvictHead;

impl Head for EvictHead {
    const NAME: &'static str = "evict-test";
    const CODE: u8 = 200;
    const FEATURES_VERSION: u32 = 1;
    const FEATURES: usize = 2;
    type Candidate = (u64, i8);

    fn encode(&self, c: &(u64, i8), row: &mut [i8]) {
        row[0] = c.1;
        row[1] = 0;
    }

    fn choose(&mut self, _candidates: &[(u64, i8)], scores: &[i32]) -> usize {
        model_runtime::argmax(scores).unwrap_or(0)
    }
}

fn task(id: u32, cpu: i16) -> Candidate {
    let mut features = TaskFeatures::default();
    features.0[crate::telemetry::feature::CPU_TOTAL] = cpu;
    features.0[crate::telemetry::feature::CPU_RECENT] = cpu;
    Candidate {
        id: TaskId(id),
        features,
    }
}

fn clock() -> impl FnMut() -> u64 {
    let mut t = 0;
    move || {
        t += 1;
        t
    }
}

#[test]
fn two_heads_share_one_backbone_run_per_tick() {
    let mut pipeline = Pipeline::new(Ok(Probe::default()), InputLayout::full());
    let mut sched = Guarded::new(
        SchedHead::default(),
        Ok(0),
        GuardConfig::default(),
        MAX_SCORED,
    );
    let mut evict = Guarded::new(EvictHead, Ok(1), GuardConfig::default(), 32);
    let tasks = [task(2, 5), task(3, 9)];
    let blocks = [(100u64, 3i8), (101, 40), (102, 7)];
    for tick in 1..=3u64 {
        let mut t = Telemetry::default();
        t.0[0] = tick as i32;
        pipeline.push_tick(&t);
        // The scheduler decides on the tick and again mid-tick; the cache evicts once.
        for _ in 0..2 {
            let out = sched.decide(&mut pipeline, tick, &tasks, Some(0), &mut clock());
            assert!(matches!(out.choice, Some(Choice::Model(_))), "{out:?}");
        }
        let out = evict.decide(&mut pipeline, tick, &blocks, Some(0), &mut clock());
        assert_eq!(
            out.choice,
            Some(Choice::Model(1)),
            "block 101 scores highest"
        );
    }
    let probe = pipeline.inference().unwrap();
    assert_eq!(
        probe.backbone_runs, 3,
        "one backbone run per tick, whoever asks"
    );
    assert_eq!(probe.head_calls, [0, 0, 1, 0, 0, 1, 0, 0, 1]);
    assert_eq!(pipeline.stats().backbone_runs, 3);
    assert_eq!(pipeline.stats().head_calls, 9);
    // The window the backbone read is the latest: tick 3's `runnable` is the newest row.
    let last_row = &probe.last_input[probe.last_input.len() - crate::telemetry::TELEMETRY_FIELDS..];
    assert_eq!(last_row[0], 3);
    assert_eq!((sched.counts().decisions, evict.counts().decisions), (6, 3));
    assert_eq!(sched.counts().total() + evict.counts().total(), 0);
}

#[test]
fn a_head_without_a_slot_falls_back_alone() {
    let mut pipeline = Pipeline::new(Ok(Probe::default()), InputLayout::full());
    let mut sched = Guarded::new(
        SchedHead::default(),
        Ok(0),
        GuardConfig::default(),
        MAX_SCORED,
    );
    let mut evict = Guarded::new(
        EvictHead,
        Err(FallbackReason::NoWeights),
        GuardConfig::default(),
        32,
    );
    pipeline.push_tick(&Telemetry::default());
    let out = evict.decide(&mut pipeline, 1, &[(7, 1), (8, 2)], Some(1), &mut clock());
    assert_eq!(out.choice, Some(Choice::Shadow(FallbackReason::NoWeights)));
    assert!(!out.scored);
    assert_eq!(
        pipeline.stats().backbone_runs,
        0,
        "a disabled head costs no inference"
    );
    let out = sched.decide(&mut pipeline, 1, &[task(2, 5)], Some(0), &mut clock());
    assert_eq!(out.choice, Some(Choice::Model(0)));
    assert_eq!(evict.counts().get(FallbackReason::NoWeights), 1);
    assert_eq!(sched.counts().total(), 0);
}

#[test]
fn without_a_model_every_head_falls_back_and_nothing_runs() {
    let mut pipeline: Pipeline<Probe> = Pipeline::without_model(FallbackReason::Schema);
    let mut sched = Guarded::new(
        SchedHead::default(),
        Err(FallbackReason::Schema),
        GuardConfig::default(),
        MAX_SCORED,
    );
    pipeline.push_tick(&Telemetry::default());
    let out = sched.decide(&mut pipeline, 1, &[task(2, 5)], None, &mut clock());
    assert_eq!(out.choice, Some(Choice::Shadow(FallbackReason::Schema)));
    assert_eq!(pipeline.missing(), Some(FallbackReason::Schema));
}

#[test]
fn a_second_heads_decision_goes_into_the_trace_as_its_own_kind_of_record() {
    use crate::trace::{Candidates, Record};
    let mut pipeline = Pipeline::new(Ok(Probe::default()), InputLayout::full());
    let mut evict = Guarded::new(EvictHead, Ok(1), GuardConfig::default(), 32);
    pipeline.push_tick(&Telemetry::default());
    let blocks = [(100u64, 3i8), (101, 40), (102, 7)];
    let out = evict.decide(&mut pipeline, 9, &blocks, Some(0), &mut clock());
    let Some(Choice::Model(victim)) = out.choice else {
        panic!("{out:?}")
    };
    // The head's own record: its code, its candidates' ids and its width of features.
    let ids: Vec<u64> = blocks.iter().map(|b| b.0).collect();
    let features: Vec<i16> = blocks.iter().flat_map(|b| [i16::from(b.1), 0]).collect();
    let record = Record::Decision {
        tick: 9,
        head: EvictHead::CODE,
        chosen: blocks[victim].0,
        policy: 0,
        fallback: out.fallback().map(FallbackReason::code),
        candidates: Candidates::columns(
            EvictHead::FEATURES,
            &ids,
            &features,
            evict.scores(blocks.len()),
        ),
    };
    let mut bytes = [0u8; 512];
    let len = record.encode(&mut bytes).unwrap();
    let (back, used) = Record::decode(&bytes[..len]).unwrap();
    assert_eq!(used, len);
    let Record::Decision {
        head,
        chosen,
        candidates,
        ..
    } = back
    else {
        panic!("{back:?}")
    };
    assert_eq!((head, chosen), (EvictHead::CODE, 101));
    assert_eq!(candidates.width(), EvictHead::FEATURES);
    let decoded: Vec<(u64, Vec<i16>, i32)> = candidates
        .iter()
        .map(|c| (c.id, c.features.iter().collect(), c.score))
        .collect();
    assert_eq!(
        decoded,
        [
            (100, vec![3, 0], 3),
            (101, vec![40, 0], 40),
            (102, vec![7, 0], 7)
        ]
    );
}
