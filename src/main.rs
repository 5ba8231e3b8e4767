//! `augur`: boot the Augur kernel in QEMU (`cargo run --release -- [OPTIONS]`).
//!
//! Every boot goes through `augur_qemu::run`; this file only turns command-line options into
//! [`augur_qemu::RunOptions`] and the outcome into an exit status and a message.

mod collect;
mod demo;
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
/// By default: a BIOS image under TCG with `-cpu max`, a short seeded `mix` workload (3 s of
/// ticks, seed 1) under the learned scheduler, then a summary line comparing it with its
/// shadow policy replayed on the host, then power-off (`--job run` boots the plain timer job). The exit status is 0 when the kernel reports
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
    /// What the kernel does after booting (default: the demo workload; `run` is the timer job).
    #[arg(long, value_parser = job_name)]
    job: Option<Job>,
    /// Timer interrupt rate in Hz (10..=10000).
    #[arg(long, default_value_t = augur_qemu::bootcfg::DEFAULT_TICK_HZ,
          value_parser = clap::value_parser!(u32).range(10..=10_000))]
    hz: u32,
    /// How many ticks `--job run` runs (1..=4294967295).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    ticks: Option<u32>,
    /// Scheduling policy of the kernel threads: rr, cfs, mlfq, fifo or learned (default: rr,
    /// or learned for the demo workload).
    #[arg(long, value_parser = sched_policy)]
    policy: Option<SchedPolicy>,
    /// The classical policy `learned` falls back to and is judged against: rr, cfs, mlfq or fifo.
    #[arg(long, default_value = "mlfq", value_parser = shadow_policy)]
    shadow: SchedPolicy,
    /// Run a seeded workload (batch, interactive, io or mix) and print its metrics.
    #[arg(long, value_name = "NAME", value_parser = workload_name)]
    workload: Option<Mix>,
    /// How long the workload runs, in seconds of timer ticks, 1..=3600 (default: 10, or 3 for
    /// the demo workload).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3600))]
    seconds: Option<u32>,
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
    /// Kill QEMU after this many seconds, 0..=604800 (scaled by AUGUR_TIMEOUT_SCALE); 0 waits
    /// forever.
    #[arg(long, default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(0..=augur_qemu::MAX_TIMEOUT_SECS))]
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

/// Length of the demo workload `cargo run` boots with no options, in seconds of ticks: long
/// enough for a few hundred learned decisions, short enough to finish well within a minute.
const DEMO_SECONDS: u32 = 3;

/// Whether virtual time counts instructions: asked for, or the demo (so that its figures are
/// the same on every machine: a wall-clock tick under TCG on a loaded host can trip the
/// inference budget), unless KVM is asked for.
fn deterministic(cli: &Cli) -> bool {
    cli.deterministic || (is_demo(cli) && !cli.kvm)
}

/// Whether the command line asks for no job at all: then the demo workload runs.
fn is_demo(cli: &Cli) -> bool {
    cli.job.is_none() && cli.workload.is_none() && cli.ticks.is_none()
}

/// The boot settings the command line asks for.
fn boot_config(cli: &Cli) -> BootConfig {
    let demo = is_demo(cli);
    let mut boot = BootConfig::default();
    boot.job = cli
        .job
        .unwrap_or(if demo { Job::Workload } else { Job::Run });
    boot.tick_hz = cli.hz;
    boot.run_ticks = cli.ticks.unwrap_or(augur_qemu::bootcfg::DEFAULT_RUN_TICKS);
    boot.log_level = cli.log;
    boot.policy = cli.policy.unwrap_or(if demo {
        SchedPolicy::Learned
    } else {
        SchedPolicy::RoundRobin
    });
    boot.shadow = cli.shadow;
    boot.seconds = cli.seconds.unwrap_or(if demo {
        DEMO_SECONDS
    } else {
        augur_qemu::bootcfg::DEFAULT_SECONDS
    });
    boot.seed = cli.seed;
    boot.icount = deterministic(cli);
    if let Some(mix) = cli.workload {
        boot.job = Job::Workload;
        boot.workload = mix;
    }
    boot
}

/// A `--weights` file, refused on the host when it is not a GGUF file at all (the kernel
/// would refuse it too, after a boot).
fn read_weights_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "--weights {}: {e}; give the path of a GGUF file written by `augur train`",
            path.display()
        )
    })?;
    grid::check_gguf_magic(path, &bytes)?;
    Ok(bytes)
}

fn boot(cli: Cli) -> ExitCode {
    let boot = boot_config(&cli);
    let demo = is_demo(&cli);
    let is_deterministic = deterministic(&cli);
    let mut ramdisk_entries = Vec::new();
    if let Some(path) = &cli.weights {
        match read_weights_file(path) {
            Ok(bytes) => {
                ramdisk_entries.push((augur_qemu::bootcfg::WEIGHTS_ENTRY.to_owned(), bytes))
            }
            Err(e) => {
                eprintln!("augur: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut boot = boot;
    if let Err(e) = boot.set_ktest_filter(&cli.ktest) {
        eprintln!("augur: --ktest: {e}");
        return ExitCode::from(2);
    }
    let timeout = if cli.timeout == 0 {
        None
    } else {
        match augur_qemu::try_scaled_timeout(Duration::from_secs(cli.timeout)) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("augur: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let opts = RunOptions {
        machine: Machine {
            firmware: if cli.uefi {
                Firmware::Uefi
            } else {
                Firmware::Bios
            },
            accel: if cli.kvm { Accel::Kvm } else { Accel::Tcg },
            cpu: cli.cpu,
            deterministic: is_deterministic,
            gdb: cli.gdb,
            memory_mib: cli.memory,
        },
        boot,
        ramdisk_entries,
        timeout,
        echo: true,
        trace_file: cli.trace,
    };
    match augur_qemu::run(&opts) {
        Ok(outcome) => {
            if outcome.verdict != Verdict::Success {
                eprintln!("augur: {}", outcome.describe());
            } else if demo {
                match demo::summary(&opts.boot, &outcome.console) {
                    Ok(line) => println!("{line}"),
                    Err(e) => eprintln!("augur: no demo summary: {e}"),
                }
            }
            ExitCode::from(outcome.exit_status() as u8)
        }
        Err(e) => {
            eprintln!("augur: {e}");
            ExitCode::from(2)
        }
    }
}
