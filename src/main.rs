//! `augur`: boot the Augur kernel in QEMU (`cargo run --release -- [OPTIONS]`).
//!
//! Every boot goes through `augur_qemu::run`; this file only turns command-line options into
//! [`augur_qemu::RunOptions`] and the outcome into an exit status and a message.

mod collect;
mod eval;
mod grid;
mod trace_cmd;
mod train_cmd;

use augur_qemu::bootcfg::{Mix, SchedPolicy};
use augur_qemu::{Accel, BootConfig, Firmware, Job, LogLevel, Machine, RunOptions, Verdict};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Boot the Augur research kernel in QEMU.
///
/// By default: a BIOS image under TCG with `-cpu max`, the default job (a few hundred timer
/// ticks and a health summary), then power-off. The exit status is 0 when the kernel reports
/// success, 1 when it reports failure, 124 when the time limit killed it, 2 otherwise.
#[derive(Parser, Debug)]
#[command(name = "augur", version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
    /// Scheduling policy of the kernel threads: rr, cfs, mlfq, fifo or learned.
    #[arg(long, default_value = "rr", value_parser = sched_policy)]
    policy: SchedPolicy,
    /// The classical policy `learned` falls back to and is judged against: rr, cfs, mlfq or fifo.
    #[arg(long, default_value = "mlfq", value_parser = shadow_policy)]
    shadow: SchedPolicy,
    /// Run a seeded workload (batch, interactive, io or mix) and print its metrics.
    #[arg(long, value_name = "NAME", value_parser = workload_name)]
    workload: Option<Mix>,
    /// How long the workload runs, in seconds of timer ticks.
    #[arg(long, default_value_t = augur_qemu::bootcfg::DEFAULT_SECONDS,
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    seconds: u32,
    /// The workload's seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Boot with these model weights (GGUF) instead of the embedded default.
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
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

fn shadow_policy(name: &str) -> Result<SchedPolicy, String> {
    sched_policy(name)?;
    SchedPolicy::from_name(name)
        .filter(|p| *p != SchedPolicy::Learned)
        .ok_or_else(|| format!("`{name}` cannot be a shadow; valid shadows: rr, cfs, mlfq, fifo"))
}

fn workload_name(name: &str) -> Result<Mix, String> {
    Mix::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Mix::ALL.iter().map(|(_, n)| *n).collect();
        format!(
            "unknown workload `{name}`; valid workloads: {}",
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

/// Host-side tools.
#[derive(Subcommand, Debug)]
enum Command {
    /// Read a trace file written with `--trace`.
    Trace(trace_cmd::TraceArgs),
    /// Boot workloads over a grid of seeds and policies and keep their traces for training.
    Collect(collect::CollectArgs),
    /// Train the backbone and scheduler head on collected traces; quantize, check, write GGUF + card.
    Train(train_cmd::TrainArgs),
    /// Compare rr, cfs, mlfq and learned on held-out workloads; write a report with plots.
    Eval(eval::EvalArgs),
}

/// This process's command line, as `augur ARGS…`, for manifests and model cards.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("augur {}", args.join(" "))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Trace(args)) => trace_cmd::run(args),
        Some(Command::Collect(args)) => collect::run(args, &command_line()),
        Some(Command::Train(args)) => train_cmd::run(args, &command_line()),
        Some(Command::Eval(args)) => eval::run(args, &command_line()),
        None => boot(cli),
    }
}

fn boot(cli: Cli) -> ExitCode {
    let mut boot = BootConfig::default();
    boot.job = cli.job;
    boot.tick_hz = cli.hz;
    boot.run_ticks = cli.ticks;
    boot.log_level = cli.log;
    boot.policy = cli.policy;
    boot.shadow = cli.shadow;
    boot.seconds = cli.seconds;
    boot.seed = cli.seed;
    boot.icount = cli.deterministic;
    if let Some(mix) = cli.workload {
        boot.job = Job::Workload;
        boot.workload = mix;
    }
    let mut ramdisk_entries = Vec::new();
    if let Some(path) = &cli.weights {
        match std::fs::read(path) {
            Ok(bytes) => {
                ramdisk_entries.push((augur_qemu::bootcfg::WEIGHTS_ENTRY.to_owned(), bytes))
            }
            Err(e) => {
                eprintln!(
                    "augur: --weights {}: {e}; give the path of a GGUF file written by `augur train`",
                    path.display()
                );
                return ExitCode::from(2);
            }
        }
    }
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
        ramdisk_entries,
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
