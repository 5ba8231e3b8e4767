//! `augur`: boot the Augur kernel in QEMU (`cargo run --release -- [OPTIONS]`).
//!
//! Every boot goes through `augur_qemu::run`; this file only turns command-line options into
//! [`augur_qemu::RunOptions`] and the outcome into an exit status and a message.

use augur_qemu::bootcfg::SchedPolicy;
use augur_qemu::{Accel, BootConfig, Firmware, Job, LogLevel, Machine, RunOptions, Verdict};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Boot the Augur research kernel in QEMU.
///
/// By default: a BIOS image under TCG with `-cpu max`, the default job (a few hundred timer
/// ticks and a health summary), then power-off. The exit status is 0 when the kernel reports
/// success, 1 when it reports failure, 124 when the time limit killed it, 2 otherwise.
#[derive(Parser, Debug)]
#[command(name = "augur", version, about, long_about = None)]
struct Cli {
    /// Boot the UEFI image through OVMF instead of the BIOS image.
    #[arg(long)]
    uefi: bool,
    /// Use KVM instead of TCG (only where the host's KVM works).
    #[arg(long, conflicts_with = "deterministic")]
    kvm: bool,
    /// QEMU CPU model (default: `max` under TCG, `host` under KVM), e.g. `qemu64` for a CPU without AVX2.
    #[arg(long, value_name = "MODEL")]
    cpu: Option<String>,
    /// Make virtual time count instructions (`-icount shift=0,sleep=off`): reproducible runs.
    #[arg(long)]
    deterministic: bool,
    /// Start halted and wait for gdb on localhost:1234 (prints the gdb command).
    #[arg(long)]
    gdb: bool,
    /// What the kernel does after booting.
    #[arg(long, default_value = "run", value_parser = job_name)]
    job: Job,
    /// Timer interrupt rate in Hz (10..=10000).
    #[arg(long, default_value_t = augur_qemu::bootcfg::DEFAULT_TICK_HZ)]
    hz: u32,
    /// How many ticks the default job runs.
    #[arg(long, default_value_t = augur_qemu::bootcfg::DEFAULT_RUN_TICKS)]
    ticks: u32,
    /// Scheduling policy of the kernel threads: rr, cfs, mlfq or fifo.
    #[arg(long, default_value = "rr", value_parser = sched_policy)]
    policy: SchedPolicy,
    /// Kernel console verbosity: error, warn, info, debug or trace.
    #[arg(long, default_value = "info", value_parser = log_level)]
    log: LogLevel,
    /// Only run in-kernel tests whose name contains this (with `--job ktest`).
    #[arg(long, value_name = "FILTER", default_value = "")]
    ktest: String,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(64..=65536))]
    memory: u32,
    /// Kill QEMU after this many seconds (scaled by AUGUR_TIMEOUT_SCALE); 0 waits forever.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Write the kernel's trace channel (COM2) to this file.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

fn job_name(name: &str) -> Result<Job, String> {
    Job::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Job::ALL.iter().map(|(_, n)| *n).collect();
        format!("unknown job `{name}`; valid jobs: {}", names.join(", "))
    })
}

fn sched_policy(name: &str) -> Result<SchedPolicy, String> {
    SchedPolicy::from_name(name).ok_or_else(|| {
        let names: Vec<_> = SchedPolicy::ALL.iter().map(|(_, n)| *n).collect();
        format!(
            "unknown policy `{name}`; valid policies: {}",
            names.join(", ")
        )
    })
}

fn log_level(name: &str) -> Result<LogLevel, String> {
    LogLevel::from_name(name).ok_or_else(|| {
        let names: Vec<_> = LogLevel::ALL.iter().map(|(_, n)| *n).collect();
        format!(
            "unknown log level `{name}`; valid levels: {}",
            names.join(", ")
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut boot = BootConfig::default();
    boot.job = cli.job;
    boot.tick_hz = cli.hz;
    boot.run_ticks = cli.ticks;
    boot.log_level = cli.log;
    boot.policy = cli.policy;
    if let Err(e) = boot.set_ktest_filter(&cli.ktest) {
        eprintln!("augur: --ktest: {e}");
        return ExitCode::from(2);
    }
    let opts = RunOptions {
        machine: Machine {
            firmware: if cli.uefi {
                Firmware::Uefi
            } else {
                Firmware::Bios
            },
            accel: if cli.kvm { Accel::Kvm } else { Accel::Tcg },
            cpu: cli.cpu,
            deterministic: cli.deterministic,
            gdb: cli.gdb,
            memory_mib: cli.memory,
        },
        boot,
        ramdisk_entries: Vec::new(),
        timeout: (cli.timeout > 0)
            .then(|| augur_qemu::scaled_timeout(Duration::from_secs(cli.timeout))),
        echo: true,
        trace_file: cli.trace,
    };
    match augur_qemu::run(&opts) {
        Ok(outcome) => {
            if outcome.verdict != Verdict::Success {
                eprintln!("augur: {}", outcome.describe());
            }
            ExitCode::from(outcome.exit_status() as u8)
        }
        Err(e) => {
            eprintln!("augur: {e}");
            ExitCode::from(2)
        }
    }
}
