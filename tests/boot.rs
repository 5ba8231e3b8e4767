//! Integration tests: boot the real kernel image in QEMU (BIOS and UEFI, with and without
//! AVX2) and check what it prints and how it exits. Each boot has a hard wall-clock limit
//! (scaled by AUGUR_TIMEOUT_SCALE on slow machines); a boot that exceeds it is killed and the
//! test fails saying so.

use augur_kernel::health::HealthSummary;
use augur_qemu::{Firmware, Job, Outcome, RunOptions, Verdict};
use std::time::Duration;

/// Limit for one boot. Generous: TCG on a loaded 2-core machine is slow.
const BOOT_LIMIT: Duration = Duration::from_secs(120);

fn boot(configure: impl FnOnce(&mut RunOptions)) -> Outcome {
    let mut opts = RunOptions {
        timeout: Some(augur_qemu::scaled_timeout(BOOT_LIMIT)),
        ..Default::default()
    };
    configure(&mut opts);
    let outcome = augur_qemu::run(&opts).unwrap_or_else(|e| panic!("could not boot: {e}"));
    if let Verdict::TimedOut { .. } = outcome.verdict
        && opts.boot.job != Job::Hang
    {
        panic!("{}", outcome.describe());
    }
    outcome
}

fn assert_success(outcome: &Outcome) {
    assert_eq!(outcome.verdict, Verdict::Success, "{}", outcome.describe());
    assert_eq!(outcome.exit_status(), 0);
}

fn assert_banner(outcome: &Outcome, mode: &str, avx2: bool) {
    let c = &outcome.console;
    assert!(
        c.contains(&format!(
            "Augur {} ({mode} boot)",
            env!("CARGO_PKG_VERSION")
        )),
        "no banner:\n{c}"
    );
    assert!(c.contains("CPU: "), "no CPU line:\n{c}");
    let (avx2_line, backend) = if avx2 {
        ("AVX2: yes", "inference: avx2")
    } else {
        ("AVX2: no", "inference: scalar")
    };
    assert!(c.contains(avx2_line), "expected `{avx2_line}`:\n{c}");
    assert!(c.contains(backend), "expected `{backend}`:\n{c}");
    assert!(c.contains("timer: 1000 Hz"), "no timer line:\n{c}");
    let usable_mib: u64 = c
        .lines()
        .find_map(|l| l.strip_prefix("memory: ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no memory line:\n{c}"));
    // 256 MiB guest, minus firmware reservations.
    assert!(
        (200..=256).contains(&usable_mib),
        "usable memory {usable_mib} MiB:\n{c}"
    );
}

/// Checks Rust-style in-kernel test output: every test reported, none failed.
fn assert_ktests_pass(outcome: &Outcome) {
    let c = &outcome.console;
    let ok = c
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with(" ... ok"))
        .count();
    let failed: Vec<_> = c
        .lines()
        .filter(|l| l.starts_with("test ") && l.contains("FAILED"))
        .collect();
    assert!(failed.is_empty(), "in-kernel tests failed: {failed:?}\n{c}");
    assert!(ok >= 15, "only {ok} in-kernel tests reported ok:\n{c}");
    assert!(
        c.contains(&format!("test result: ok. {ok} passed; 0 failed")),
        "no result line:\n{c}"
    );
    assert_success(outcome);
}

#[test]
fn bios_boot_shows_banner_and_health_then_exits_zero() {
    let outcome = boot(|o| o.machine.deterministic = true);
    assert_success(&outcome);
    assert_banner(&outcome, "BIOS", true);
    let health = outcome
        .console
        .lines()
        .find_map(HealthSummary::parse)
        .unwrap_or_else(|| panic!("no health line:\n{}", outcome.console));
    assert_eq!(health.ticks, 300);
    assert_eq!(health.tick_hz, 1000);
    // The TSC clock (calibrated against the PIT) agrees with the tick count within 2%.
    let by_ticks = health.tick_time_us();
    assert!(
        health.elapsed_us.abs_diff(by_ticks) <= by_ticks / 50,
        "{health:?}"
    );
    assert!(health.free_kib > 100 * 1024, "{health:?}");
}

#[test]
fn uefi_boot_shows_banner_and_exits_zero() {
    let outcome = boot(|o| o.machine.firmware = Firmware::Uefi);
    assert_success(&outcome);
    assert_banner(&outcome, "UEFI", true);
    assert!(
        outcome
            .console
            .lines()
            .any(|l| HealthSummary::parse(l).is_some()),
        "{}",
        outcome.console
    );
}

#[test]
fn bios_in_kernel_tests_pass() {
    let outcome = boot(|o| {
        o.machine.deterministic = true;
        o.boot.job = Job::KTest;
    });
    assert_banner(&outcome, "BIOS", true);
    assert_ktests_pass(&outcome);
}

#[test]
fn uefi_in_kernel_tests_pass() {
    let outcome = boot(|o| {
        o.machine.firmware = Firmware::Uefi;
        o.machine.deterministic = true;
        o.boot.job = Job::KTest;
    });
    assert_ktests_pass(&outcome);
}

#[test]
fn cpu_without_avx2_reports_it_and_uses_scalar_kernels() {
    let outcome = boot(|o| {
        o.machine.cpu = Some("qemu64".into());
        o.machine.deterministic = true;
        o.boot.job = Job::KTest;
    });
    assert_banner(&outcome, "BIOS", false);
    assert_ktests_pass(&outcome);
}

#[test]
fn threads_run_under_every_scheduling_policy() {
    for (policy, name) in augur_qemu::bootcfg::SchedPolicy::ALL {
        let outcome = boot(|o| {
            o.machine.deterministic = true;
            o.boot.job = Job::KTest;
            o.boot.policy = policy;
            o.boot.set_ktest_filter("task::").unwrap();
        });
        assert!(
            outcome.console.contains(&format!("scheduler: {name}")),
            "{}",
            outcome.console
        );
        assert!(
            outcome
                .console
                .contains("test result: ok. 3 passed; 0 failed"),
            "{name}: {}",
            outcome.describe()
        );
        assert_success(&outcome);
    }
}

/// Boots the thread tests deterministically with the trace channel written to a file.
fn traced_thread_run(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    let outcome = boot(|o| {
        o.machine.deterministic = true;
        o.boot.job = Job::KTest;
        o.boot.set_ktest_filter("task::").unwrap();
        o.trace_file = Some(path.clone());
    });
    assert_success(&outcome);
    std::fs::read(&path).expect("trace file written")
}

#[test]
fn thread_lifecycle_reaches_the_trace_file_and_is_deterministic() {
    use augur_kernel::trace::{Record, TraceReader};
    let dir = tempfile::tempdir().unwrap();
    let first = traced_thread_run(dir.path(), "a.bin");
    let (mut spawns, mut exits, mut first_runs, mut blocks, mut wakes) =
        (Vec::new(), Vec::new(), 0, 0, 0);
    let (mut telemetry, mut decisions, mut ends) = (0, 0, 0);
    for entry in TraceReader::new(&first) {
        match entry
            .unwrap_or_else(|e| panic!("trace damaged: {e}"))
            .record
        {
            Record::TaskSpawn { task, name, .. } => spawns.push((task, name.to_owned())),
            Record::TaskExit { task, status, .. } => exits.push((task, status)),
            Record::TaskFirstRun { .. } => first_runs += 1,
            Record::TaskBlock { .. } => blocks += 1,
            Record::TaskWake { .. } => wakes += 1,
            Record::Telemetry { .. } => telemetry += 1,
            Record::Decision { .. } => decisions += 1,
            Record::End { dropped, .. } => {
                ends += 1;
                assert_eq!(dropped, 0, "the kernel dropped records");
            }
            other => panic!("unexpected record {other:?}"),
        }
    }
    assert_eq!(ends, 1, "one end record: the trace is complete");
    let names: Vec<&str> = spawns.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        ["worker", "worker", "worker", "sleeper", "short"],
        "{spawns:?}"
    );
    // Every spawned thread ran and exited; the sleeper reported ~25 ticks; `short` returned 7.
    assert_eq!(first_runs, 5);
    assert_eq!(exits.len(), 5, "{exits:?}");
    let status_of = |name: &str| {
        spawns
            .iter()
            .find(|(_, n)| n == name)
            .and_then(|(id, _)| exits.iter().find(|e| e.0 == *id))
            .map(|e| e.1)
    };
    assert!(
        status_of("sleeper").is_some_and(|s| (25..=27).contains(&s)),
        "{exits:?}"
    );
    assert_eq!(status_of("short"), Some(7));
    assert!(blocks >= 1 && wakes >= 1, "blocks {blocks} wakes {wakes}");
    // The tick pipeline logged every tick's telemetry and the scheduler's decisions.
    assert!(
        telemetry >= 100 && decisions >= 100,
        "{telemetry} {decisions}"
    );
    // Under -icount the same image and settings give the same bytes.
    let second = traced_thread_run(dir.path(), "b.bin");
    assert!(
        first == second,
        "two deterministic runs wrote different traces ({} vs {} bytes)",
        first.len(),
        second.len()
    );
}

#[test]
fn page_fault_is_reported_and_fails() {
    let outcome = boot(|o| o.boot.job = Job::CrashPageFault);
    assert_eq!(
        outcome.verdict,
        Verdict::KernelFailure,
        "{}",
        outcome.describe()
    );
    assert_ne!(outcome.exit_status(), 0);
    let c = &outcome.console;
    assert!(c.contains("EXCEPTION: page fault (vector 14)"), "{c}");
    assert!(c.contains("CR2 0x5eadbeeff000"), "{c}");
    assert!(c.contains("at RIP 0xffffffff8"), "{c}");
    assert!(
        outcome.describe().contains("EXCEPTION: page fault"),
        "{}",
        outcome.describe()
    );
}

#[test]
fn panic_is_reported_and_fails() {
    let outcome = boot(|o| o.boot.job = Job::CrashPanic);
    assert_eq!(
        outcome.verdict,
        Verdict::KernelFailure,
        "{}",
        outcome.describe()
    );
    let c = &outcome.console;
    assert!(
        c.contains("KERNEL PANIC: deliberate panic requested"),
        "{c}"
    );
    assert!(c.contains("at kernel/src/kmain.rs:"), "{c}");
}

#[test]
fn stack_overflow_hits_the_guard_page_and_is_reported() {
    let outcome = boot(|o| o.boot.job = Job::CrashStackOverflow);
    assert_eq!(
        outcome.verdict,
        Verdict::KernelFailure,
        "{}",
        outcome.describe()
    );
    // The page fault on the guard page cannot push its frame on the dead stack, so the CPU
    // escalates to a double fault, which runs on its own IST stack and reports.
    assert!(
        outcome
            .console
            .contains("EXCEPTION: double fault (vector 8)"),
        "{}",
        outcome.console
    );
}

#[test]
fn hung_kernel_is_killed_by_the_timeout() {
    let limit = augur_qemu::scaled_timeout(Duration::from_secs(15));
    let outcome = boot(|o| {
        o.boot.job = Job::Hang;
        o.timeout = Some(limit);
    });
    assert_eq!(
        outcome.verdict,
        Verdict::TimedOut { after: limit },
        "{}",
        outcome.describe()
    );
    assert_eq!(outcome.exit_status(), 124);
    assert!(
        outcome.wall >= limit && outcome.wall < limit + Duration::from_secs(10),
        "{:?}",
        outcome.wall
    );
    assert!(
        outcome
            .describe()
            .starts_with("timed out: the kernel did not exit"),
        "{}",
        outcome.describe()
    );
    // It did boot: the hang is in the job, after the banner.
    assert!(outcome.console.contains("job: hang"), "{}", outcome.console);
}

#[test]
fn trace_write_error_after_the_run_is_reported_not_lost() {
    // `--trace /dev/full` used to run normally and lose the whole trace without a word.
    let mut opts = RunOptions {
        timeout: Some(augur_qemu::scaled_timeout(BOOT_LIMIT)),
        trace_file: Some("/dev/full".into()),
        ..Default::default()
    };
    opts.boot.run_ticks = 20;
    match augur_qemu::run(&opts) {
        Err(augur_qemu::RunError::TraceLost { path, source }) => {
            assert_eq!(path, std::path::Path::new("/dev/full"));
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{source}");
        }
        Err(e) => panic!("expected a lost-trace error, got: {e}"),
        Ok(o) => panic!("the lost trace went unreported: {}", o.describe()),
    }
}

#[test]
fn default_boot_is_the_learned_demo_with_a_shadow_summary() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_augur"))
        .output()
        .expect("run augur");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("scheduler: learned (shadow mlfq)"),
        "{stdout}"
    );
    assert!(stdout.contains("workload: mix seed=1"), "{stdout}");
    let health = stdout
        .lines()
        .find_map(HealthSummary::parse)
        .unwrap_or_else(|| panic!("no health line:\n{stdout}"));
    assert_eq!(health.tick_hz, 1000);
    let demo = stdout
        .lines()
        .find(|l| l.starts_with("demo: learned on mix seed 1 for 3 s: "))
        .unwrap_or_else(|| panic!("no demo line:\n{stdout}"));
    assert!(demo.contains("fallbacks no-weights 0"), "{demo}");
    assert!(
        demo.contains("for its shadow mlfq replayed on the host"),
        "{demo}"
    );
}
