//! The whole loop, small: collect traces from the kernel, train on them, boot with the new
//! weights, and check that the kernel loaded them and the learned policy ran on them without
//! a schema fallback.

use augur_kernel::learn::FallbackReason;
use augur_kernel::workload::metrics::RunMetrics;
use std::path::Path;
use std::process::Command;

fn augur(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_augur"))
        .args(args)
        .output()
        .expect("run augur");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn collect_train_and_boot_with_the_new_weights() {
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    let (status, out, err) = augur(&[
        "collect",
        "--workloads",
        "mix",
        "--seeds",
        "1..3",
        "--policies",
        "mlfq",
        "--seconds",
        "2",
        "-o",
        path(&traces),
    ]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("collected 2 of 2 traces"), "{out}{err}");

    let model = dir.path().join("tiny-loop.gguf");
    let (status, out, err) = augur(&[
        "train",
        path(&traces),
        "-o",
        path(&model),
        "--holdout-seeds-from",
        "2",
        "--pretrain-epochs",
        "1",
        "--finetune-epochs",
        "2",
    ]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(model.exists() && model.with_extension("md").exists());
    assert!(out.contains("oracle agreement held-out"), "{out}");

    let (status, out, err) = augur(&[
        "--workload",
        "mix",
        "--policy",
        "learned",
        "--seconds",
        "1",
        "--seed",
        "7",
        "--deterministic",
        "--weights",
        path(&model),
    ]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.contains("model: tiny-loop (from --weights"),
        "the kernel did not report the new weights:\n{out}"
    );
    let m = out
        .lines()
        .find_map(RunMetrics::parse)
        .unwrap_or_else(|| panic!("no metrics line:\n{out}"));
    assert!(m.decisions > 0, "{m:?}");
    assert_eq!(
        (
            m.fallbacks_for(FallbackReason::NoWeights),
            m.fallbacks_for(FallbackReason::Schema)
        ),
        (0, 0),
        "no-weights/schema: {m:?}"
    );
    assert!(m.inference_ns > 0, "the model never ran: {m:?}");
}
