//! Host replay runs the kernel's decision code: a deterministic kernel run under the learned
//! policy, emulated on the host by the same scheduler core, tick pipeline and model
//! (`sched::emulate`), agrees with the kernel's trace decision by decision.

use augur_kernel::bootcfg::{Mix, SchedPolicy};
use augur_kernel::learn::{GuardConfig, Pipeline, schema};
use augur_kernel::sched::core::Setup;
use augur_kernel::sched::emulate::{self, Decided, Script};
use augur_kernel::trace::TraceReader;
use augur_kernel::workload;
use augur_qemu::{RunOptions, Verdict};
use model_runtime::{Backend, Engine, Model};
use std::time::Duration;

/// The model the kernel embeds.
const DEFAULT_WEIGHTS: &[u8] = include_bytes!("../weights/augur-sched-v2.gguf");

/// Boots `mix` for `seconds` under the learned policy, deterministically, and returns its trace.
fn kernel_trace(seconds: u32, seed: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("learned.trace");
    let mut opts =
        RunOptions::deterministic_workload(Mix::Mix, SchedPolicy::Learned, seconds, seed, None);
    opts.timeout = Some(augur_qemu::scaled_timeout(Duration::from_secs(180)));
    opts.trace_file = Some(path.clone());
    let outcome = augur_qemu::run(&opts).unwrap_or_else(|e| panic!("could not boot: {e}"));
    assert_eq!(outcome.verdict, Verdict::Success, "{}", outcome.describe());
    std::fs::read(&path).unwrap()
}

#[test]
fn host_emulation_agrees_with_the_kernel_on_every_decision() {
    let (seconds, seed, hz) = (3u32, 7u64, 1000u64);
    let trace = kernel_trace(seconds, seed);
    let ticks = u64::from(seconds) * hz;
    let jobs = workload::generate(Mix::Mix, seed, ticks);
    let script = Script::from_trace(&trace, &jobs, ticks).unwrap();

    let model = Model::from_gguf(DEFAULT_WEIGHTS).unwrap();
    let layout = schema::check_backbone(&model).unwrap();
    let head = augur_kernel::sched::head::check_schema(&model).unwrap();
    let mut scratch = vec![0u8; model.scratch_len()];
    let engine = Engine::new(&model, Backend::detect(), &mut scratch).unwrap();
    let setup = Setup::learned(SchedPolicy::Mlfq, Ok(head), GuardConfig::default(), seed);
    let emulated = emulate::run(&jobs, &script, setup, Pipeline::new(Ok(engine), layout)).unwrap();

    let kernel: Vec<Decided> = TraceReader::new(&trace)
        .map(|e| e.unwrap().record)
        .filter_map(|r| Decided::from_record(&r))
        .filter(|d| d.tick <= emulated.end)
        .collect();
    assert!(kernel.len() > 1000, "{} decisions", kernel.len());
    let first_difference = kernel
        .iter()
        .zip(&emulated.decisions)
        .position(|(k, e)| k != e);
    if let Some(i) = first_difference {
        panic!(
            "decision {i} of {} differs:\nkernel   {:?}\nemulated {:?}",
            kernel.len(),
            kernel[i],
            emulated.decisions[i]
        );
    }
    assert_eq!(
        kernel.len(),
        emulated.decisions.len(),
        "same number of decisions"
    );
}
