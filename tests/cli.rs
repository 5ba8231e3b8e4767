//! The `augur` command line's handling of bad input: each mistake gets one clear message and
//! a failure status, and never a boot.

use std::process::Command;

fn augur(args: &[&str]) -> (i32, String) {
    augur_env(args, &[])
}

/// Runs augur with `env` set and no QEMU to be found: whatever is refused must be refused
/// before a boot is even attempted (a boot would fail with "QEMU not found" instead).
fn augur_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_augur"))
        .args(args)
        .env("PATH", "/nonexistent")
        .env("AUGUR_NO_INSTALL", "1")
        .env_remove("AUGUR_QEMU")
        .env_remove("AUGUR_TIMEOUT_SCALE")
        .envs(env.iter().copied())
        .output()
        .expect("run augur");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts a clean refusal: status 2, no panic or abort, `want` in the message, no boot.
fn assert_refused(args: &[&str], env: &[(&str, &str)], want: &[&str]) -> String {
    let (status, err) = augur_env(args, env);
    assert_eq!(status, 2, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(!err.contains("QEMU"), "{args:?} tried to boot: {err}");
    for w in want {
        assert!(err.contains(w), "{args:?}: expected `{w}` in:\n{err}");
    }
    err
}

#[test]
fn huge_timeouts_are_refused_naming_the_flag_and_range() {
    // Both panicked with "cannot convert float seconds to Duration" (exit 101).
    for t in ["18446744073709551615", "18446744073709551000", "604801"] {
        assert_refused(&["--timeout", t], &[], &["--timeout", "0..=604800"]);
    }
}

#[test]
fn bad_timeout_scales_are_refused_naming_the_variable() {
    // inf and 1e30 panicked in mul_f64; abc was silently ignored.
    for v in ["inf", "1e30", "abc", "0", "-2", "NaN"] {
        for args in [
            &["--job", "run"][..],
            &["collect", "-o", "/tmp/augur-never", "--seeds", "1"],
        ] {
            assert_refused(
                args,
                &[("AUGUR_TIMEOUT_SCALE", v)],
                &["AUGUR_TIMEOUT_SCALE", "above 0 and at most 1000"],
            );
        }
    }
}

#[test]
fn huge_seed_ranges_are_refused_before_allocating() {
    // 1..100000000000 aborted on a 800 GB allocation; 0..u64::MAX panicked (capacity overflow).
    for seeds in ["1..100000000000", "0..18446744073709551615"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        for cmd in ["collect", "eval"] {
            assert_refused(
                &[
                    cmd,
                    "-o",
                    out,
                    "--seeds",
                    seeds,
                    "--workloads",
                    "mix",
                    "--policies",
                    "rr",
                    "--seconds",
                    "1",
                ],
                &[],
                &["seed set", "at most 100000 are allowed"],
            );
        }
    }
}

#[test]
fn workloads_longer_than_the_job_table_are_refused_with_the_numbers() {
    // Ran the same 200 jobs as --seconds 20, silently.
    assert_refused(
        &["--workload", "mix", "--seconds", "3600"],
        &[],
        &[
            "workload mix seed 1",
            "more than 200 jobs",
            "at most 11 s fit",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    assert_refused(
        &[
            "collect",
            "-o",
            dir.path().to_str().unwrap(),
            "--seeds",
            "1",
            "--workloads",
            "mix",
            "--seconds",
            "60",
        ],
        &[],
        &["more than 200 jobs", "--seconds 60 is refused"],
    );
}

#[test]
fn out_of_range_options_name_the_flag() {
    // --hz 0 used to be reported as "boot settings line 2: bad value for tick_hz".
    let err = assert_refused(&["--hz", "0"], &[], &["--hz", "10..=10000"]);
    assert!(!err.contains("boot settings"), "{err}");
    assert_refused(&["--ticks", "0"], &[], &["--ticks"]);
    assert_refused(&["--seconds", "0"], &[], &["--seconds", "1..=3600"]);
}

#[test]
fn unwritable_trace_path_is_named_before_booting() {
    // Used to be "a triple fault or a QEMU error" with an empty list of last lines.
    assert_refused(
        &["--job", "run", "--trace", "/proc/x"],
        &[],
        &[
            "--trace /proc/x: cannot create the trace file",
            "writable directory",
        ],
    );
}

#[test]
fn ramdisk_that_cannot_fit_guest_memory_is_refused_with_the_numbers() {
    // A 40 MB weights file at --memory 64 made the bootloader panic and QEMU hang.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.gguf");
    let mut bytes = vec![0u8; 40 << 20];
    bytes[..4].copy_from_slice(b"GGUF");
    std::fs::write(&path, &bytes).unwrap();
    let p = path.to_str().unwrap();
    assert_refused(
        &["--job", "run", "--memory", "64", "--weights", p],
        &[],
        &["boot ramdisk", "40.0 MiB", "guest's 64 MiB", "--memory"],
    );
}

#[test]
fn weights_that_are_not_gguf_are_refused_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.bin");
    std::fs::write(&path, b"\x7fELF and the rest").unwrap();
    assert_refused(
        &["--job", "run", "--weights", path.to_str().unwrap()],
        &[],
        &["not a GGUF file"],
    );
}

#[test]
fn train_on_a_directory_without_traces_says_so() {
    // Used to talk about consecutive telemetry ticks.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert_refused(
        &["train", d, "-o", &format!("{d}/m.gguf")],
        &[],
        &["no trace files (*.trace) found in", d],
    );
}

#[test]
fn eval_output_that_cannot_be_written_is_named_before_any_boot() {
    // Failed after all the boots, without naming the path.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("report.md")).unwrap();
    let d = dir.path().to_str().unwrap();
    assert_refused(
        &[
            "eval",
            "-o",
            d,
            "--seeds",
            "1",
            "--workloads",
            "mix",
            "--policies",
            "rr",
        ],
        &[],
        &["report.md is a directory"],
    );
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
    // Even with no QEMU to be found, the bad option is what gets reported, by its flag.
    assert_refused(&["--hz", "5"], &[], &["--hz", "5 is not in 10..=10000"]);
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
