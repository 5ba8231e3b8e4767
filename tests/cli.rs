//! The `augur` command line's handling of bad input: each mistake gets one clear message and
//! a failure status, and never a boot.

use std::process::Command;

fn augur(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_augur"))
        .args(args)
        .output()
        .expect("run augur");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_flag_is_rejected() {
    let (status, err) = augur(&["--bogus"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("unexpected argument '--bogus'"), "{err}");
}

#[test]
fn unknown_job_lists_the_valid_ones() {
    let (status, err) = augur(&["--job", "dance"]);
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains(
            "unknown job `dance`; valid jobs: run, workload, ktest, crash-page-fault, crash-panic, crash-stack-overflow, hang"
        ),
        "{err}"
    );
}

#[test]
fn unknown_policy_lists_the_valid_ones() {
    let (status, err) = augur(&["--policy", "lottery"]);
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("unknown policy `lottery`; valid policies: rr, cfs, mlfq, fifo, learned"),
        "{err}"
    );
}

#[test]
fn unknown_workload_lists_the_valid_ones() {
    let (status, err) = augur(&["--workload", "bitcoin"]);
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("unknown workload `bitcoin`; valid workloads: batch, interactive, io, mix"),
        "{err}"
    );
}

#[test]
fn learned_cannot_be_its_own_shadow() {
    let (status, err) = augur(&["--policy", "learned", "--shadow", "learned"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("valid shadows: rr, cfs, mlfq, fifo"), "{err}");
}

#[test]
fn missing_weights_file_is_one_clear_message() {
    let (status, err) = augur(&["--weights", "/nonexistent/model.gguf"]);
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("--weights /nonexistent/model.gguf: No such file"),
        "{err}"
    );
}

#[test]
fn out_of_range_tick_rate_is_refused_before_booting() {
    // Even with no QEMU to be found, the bad setting is what gets reported.
    let out = Command::new(env!("CARGO_BIN_EXE_augur"))
        .args(["--hz", "5"])
        .env("PATH", "/nonexistent")
        .env("AUGUR_NO_INSTALL", "1")
        .env_remove("AUGUR_QEMU")
        .output()
        .expect("run augur");
    let (status, err) = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("bad value for tick_hz: expected 10..=10000"),
        "{err}"
    );
}

#[test]
fn missing_qemu_that_may_not_be_installed_gives_the_install_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_augur"))
        .env("PATH", "/nonexistent")
        .env("AUGUR_NO_INSTALL", "1")
        .env_remove("AUGUR_QEMU")
        .output()
        .expect("run augur");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("QEMU (qemu-system-x86_64) not found"), "{err}");
    assert!(err.contains("AUGUR_NO_INSTALL is set"), "{err}");
    assert!(err.contains("Install it with:"), "{err}");
}
