//! The tick pipeline in QEMU: seeded workloads under every policy, the learned policy's
//! decisions, guards and fallback reasons, its cost, and the trace it leaves behind.

use augur_kernel::bootcfg::{Mix, SchedPolicy};
use augur_kernel::learn::FallbackReason;
use augur_kernel::telemetry::{SCHEMA_VERSION, TELEMETRY_FIELDS};
use augur_kernel::trace::{Record, TraceReader};
use augur_kernel::workload::metrics::RunMetrics;
use augur_qemu::{Outcome, RunOptions, Verdict};
use std::path::Path;
use std::time::Duration;

/// Limit for one boot. Generous: TCG on a loaded 2-core machine is slow.
const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// The model the kernel embeds.
const DEFAULT_WEIGHTS: &[u8] = include_bytes!("../weights/augur-sched-v2.gguf");

/// Boots `mix` under `policy` for `seconds`, deterministically; `weights` replaces the
/// embedded model; the trace goes to `trace` if given.
fn run_workload(
    policy: SchedPolicy,
    seconds: u32,
    seed: u64,
    weights: Option<Vec<u8>>,
    trace: Option<&Path>,
) -> (Outcome, RunMetrics) {
    let mut opts = RunOptions::deterministic_workload(Mix::Mix, policy, seconds, seed, weights);
    opts.timeout = Some(augur_qemu::scaled_timeout(BOOT_LIMIT));
    opts.trace_file = trace.map(Path::to_path_buf);
    let outcome = augur_qemu::run(&opts).unwrap_or_else(|e| panic!("could not boot: {e}"));
    assert_eq!(outcome.verdict, Verdict::Success, "{}", outcome.describe());
    let metrics = outcome
        .console
        .lines()
        .find_map(RunMetrics::parse)
        .unwrap_or_else(|| panic!("no metrics line:\n{}", outcome.console));
    (outcome, metrics)
}

/// The kernel's `memory:` line: every exited job's stack is returned (the free frames grow by
/// exactly the reaped stacks' pages; when all finished, they are back where they were before
/// the jobs were spawned but for the few page-table frames kept for the reused stack slots),
/// the heap does not grow while the workload runs, and no tick missed the scheduler lock.
fn memory_is_returned(console: &str, all_finished: bool) {
    let line = console
        .lines()
        .find(|l| l.starts_with("memory: frames_before="))
        .unwrap_or_else(|| panic!("no memory line:\n{console}"));
    let field = |key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    assert_eq!(field("lock_misses"), 0, "{line}");
    assert!(field("stacks_reaped") > 0, "{line}");
    assert!(field("heap_end") <= field("heap_after_spawn"), "{line}");
    assert_eq!(
        field("frames_after"),
        field("frames_after_spawn") + field("stacks_reaped") * field("stack_pages"),
        "{line}"
    );
    if all_finished {
        let kept = field("frames_before") - field("frames_after");
        assert!(kept <= 8, "{kept} frames not returned: {line}");
        // idle's stack and nothing else (main runs on the boot stack).
        assert_eq!(field("stacks_in_use"), 1, "{line}");
    }
}

#[test]
fn learned_policy_decides_every_tick_with_guards_and_reports_its_cost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("learned.trace");
    let (outcome, m) = run_workload(SchedPolicy::Learned, 2, 11, None, Some(&path));
    let c = &outcome.console;
    assert!(c.contains("model: augur-sched-v2 (embedded"), "{c}");
    assert!(c.contains("scheduler: learned (shadow mlfq)"), "{c}");
    assert!(c.contains("fallbacks:") && c.contains("regret"), "{c}");
    assert!(c.contains("instructions/decision"), "{c}");
    assert!(m.finished > 0 && m.finished <= m.jobs, "{m:?}");
    assert!(m.decisions > 500, "{m:?}");
    memory_is_returned(c, m.finished == m.jobs);
    // A valid model with the kernel's schema: no load-time fallbacks, and the model's own pick
    // ran for most decisions.
    assert_eq!(m.fallbacks_for(FallbackReason::NoWeights), 0);
    assert_eq!(m.fallbacks_for(FallbackReason::Schema), 0);
    let total: u64 = m.fallbacks.iter().sum();
    assert!(total * 2 < m.decisions, "{m:?}");
    assert!(
        m.inference_ns > 0 && m.tick_ns > m.inference_ns / 2,
        "{m:?}"
    );

    // The trace holds each tick's telemetry and each decision with scored candidates.
    let bytes = std::fs::read(&path).unwrap();
    let (mut telemetry, mut decisions, mut scored, mut exits) = (0u64, 0u64, 0u64, 0u64);
    for entry in TraceReader::new(&bytes) {
        match entry
            .unwrap_or_else(|e| panic!("trace damaged: {e}"))
            .record
        {
            Record::Telemetry { sections, .. } => {
                let sched = sections.get(augur_kernel::trace::section::SCHED).unwrap();
                assert_eq!(
                    (sched.version, sched.fields.len()),
                    (SCHEMA_VERSION, TELEMETRY_FIELDS)
                );
                telemetry += 1;
            }
            Record::Decision {
                policy,
                fallback,
                candidates,
                chosen,
                ..
            } => {
                assert_eq!(SchedPolicy::from_code(policy), Some(SchedPolicy::Learned));
                assert!(candidates.iter().any(|c| c.id == chosen));
                let distinct = candidates.iter().any(|c| {
                    candidates
                        .get(0)
                        .is_some_and(|first| first.score != c.score)
                });
                if fallback.is_none() && distinct {
                    scored += 1;
                }
                decisions += 1;
            }
            Record::TaskExit { .. } => exits += 1,
            _ => {}
        }
    }
    assert!(
        telemetry >= m.ticks,
        "{telemetry} telemetry records for {} ticks",
        m.ticks
    );
    assert!(decisions >= m.decisions, "{decisions} vs {}", m.decisions);
    assert!(scored > 0, "no decision carried distinct model scores");
    assert!(exits >= m.finished);

    // Same seed, same image, -icount: byte-identical trace.
    let again = dir.path().join("again.trace");
    let (_, m2) = run_workload(SchedPolicy::Learned, 2, 11, None, Some(&again));
    assert_eq!(m, m2);
    assert!(
        bytes == std::fs::read(&again).unwrap(),
        "two deterministic runs with the same seed wrote different traces"
    );
}

#[test]
fn every_baseline_runs_the_workload_without_fallback_accounting() {
    for policy in [SchedPolicy::RoundRobin, SchedPolicy::Cfs, SchedPolicy::Mlfq] {
        let (outcome, m) = run_workload(policy, 1, 3, None, None);
        assert!(m.finished > 0, "{policy:?}: {m:?}");
        assert_eq!(m.decisions, 0, "{policy:?} is not the learned policy");
        assert!(
            outcome
                .console
                .contains(&format!("summary: {} on mix seed 3", policy.name())),
            "{}",
            outcome.console
        );
    }
}

#[test]
fn corrupt_weights_fall_back_to_the_shadow_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.trace");
    let mut corrupt = DEFAULT_WEIGHTS.to_vec();
    corrupt.truncate(corrupt.len() / 2);
    let (outcome, m) = run_workload(SchedPolicy::Learned, 1, 3, Some(corrupt), Some(&path));
    assert!(
        outcome
            .console
            .contains("model: weights from --weights refused (no-weights)"),
        "{}",
        outcome.console
    );
    assert!(m.decisions > 0 && m.finished > 0, "{m:?}");
    assert_eq!(
        m.fallbacks_for(FallbackReason::NoWeights),
        m.decisions,
        "{m:?}"
    );
    assert_eq!(m.inference_ns, 0, "no model may run");
    // Every decision in the trace says so, and no candidate carries a model score.
    let bytes = std::fs::read(&path).unwrap();
    let mut decisions = 0;
    for entry in TraceReader::new(&bytes) {
        if let Record::Decision {
            fallback,
            candidates,
            ..
        } = entry.unwrap().record
        {
            assert_eq!(fallback, Some(FallbackReason::NoWeights.code()));
            assert!(candidates.iter().all(|c| c.score == 0));
            decisions += 1;
        }
    }
    assert!(decisions >= m.decisions);
}

/// Boots `mix` with `weights`, which the kernel must refuse for `reason`: it says so, and the
/// shadow takes every decision, counted under that reason, with no inference.
fn assert_refused(weights: Vec<u8>, reason: FallbackReason) {
    let (outcome, m) = run_workload(SchedPolicy::Learned, 1, 3, Some(weights), None);
    let said = format!("model: weights from --weights refused ({})", reason.name());
    assert!(outcome.console.contains(&said), "{}", outcome.console);
    assert!(m.decisions > 0);
    assert_eq!(m.fallbacks_for(reason), m.decisions, "{m:?}");
    assert_eq!(m.inference_ns, 0, "no model may run");
}

#[test]
fn a_flipped_weight_byte_is_an_integrity_fallback() {
    // One bit of the last tensor byte: the structure still parses, only the digest can tell.
    let mut flipped = DEFAULT_WEIGHTS.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    assert_refused(flipped, FallbackReason::Integrity);
}

#[test]
fn a_model_for_another_schema_is_refused_with_the_reason() {
    // A valid GGUF model of the runtime's test suite: 2 ticks x 4 fields, not this schema.
    let other = include_bytes!("../model-runtime/fuzz/seeds/augur-tiny.gguf").to_vec();
    assert_refused(other, FallbackReason::Schema);
}
