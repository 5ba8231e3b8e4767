//! The one place that knows how to run the Augur kernel: it takes the kernel binary (built
//! for `x86_64-unknown-none` as an artifact dependency of this crate), packs the boot settings
//! into a ramdisk, builds the disk image (`augur-boot`), starts QEMU with the right devices,
//! streams and captures the console, collects the trace channel, enforces a wall-clock limit
//! and maps the kernel's exit code to a verdict.
//!
//! The `augur` command line, the integration tests and (later) the trace collector all call
//! [`run`]; none of them builds a QEMU command line of its own.
//!
//! # Notes
//! - COM1 is the console (QEMU's stdout, captured), COM2 the trace channel (a host file).
//! - `isa-debug-exit` turns the kernel's [`ExitCode`] into QEMU's exit status (`(v << 1) | 1`);
//!   only [`ExitCode::Success`] maps to [`Verdict::Success`].
//! - `--deterministic` adds `-icount shift=0,sleep=off`: virtual time counts instructions, so
//!   runs are reproducible (DESIGN.md §3).

mod launch;
pub mod tools;

pub use augur_boot::Firmware;
pub use augur_kernel::bootcfg::{self, BootConfig, Job, LogLevel};
pub use augur_kernel::exit::ExitCode;
pub use launch::{Accel, Machine};

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Multiplies every timeout, for slow machines (e.g. `AUGUR_TIMEOUT_SCALE=3`).
pub const TIMEOUT_SCALE_ENV: &str = "AUGUR_TIMEOUT_SCALE";

/// Path of the kernel ELF this crate was built with.
pub fn kernel_elf() -> &'static Path {
    Path::new(env!("CARGO_BIN_FILE_AUGUR_KERNEL_augur-kernel"))
}

/// `base` scaled by [`TIMEOUT_SCALE_ENV`] (default 1).
pub fn scaled_timeout(base: Duration) -> Duration {
    let scale = std::env::var(TIMEOUT_SCALE_ENV)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0);
    base.mul_f64(scale.unwrap_or(1.0))
}

/// Everything about one boot.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub machine: Machine,
    /// Settings handed to the kernel in the ramdisk.
    pub boot: BootConfig,
    /// More ramdisk entries (name, bytes), e.g. a weights file.
    pub ramdisk_entries: Vec<(String, Vec<u8>)>,
    /// Wall-clock limit; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Copy the console to this process's stdout as it arrives.
    pub echo: bool,
    /// Where COM2 (the trace channel) is written; a temporary file if `None`.
    pub trace_file: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            machine: Machine::default(),
            boot: BootConfig::default(),
            ramdisk_entries: Vec::new(),
            timeout: Some(Duration::from_secs(300)),
            echo: false,
            trace_file: None,
        }
    }
}

impl RunOptions {
    /// A deterministic (`-icount`) boot that runs workload `mix` with `seed` for `seconds`
    /// under `policy`, with the kernel told it may report costs in instructions; `weights`
    /// replaces the embedded model. The one definition of a measured workload run, for
    /// `collect`, `eval` and the tests.
    pub fn deterministic_workload(
        mix: bootcfg::Mix,
        policy: bootcfg::SchedPolicy,
        seconds: u32,
        seed: u64,
        weights: Option<Vec<u8>>,
    ) -> Self {
        let mut opts = RunOptions::default();
        opts.machine.deterministic = true;
        opts.boot.job = Job::Workload;
        opts.boot.workload = mix;
        opts.boot.policy = policy;
        opts.boot.seconds = seconds;
        opts.boot.seed = seed;
        opts.boot.icount = true;
        if let Some(w) = weights {
            opts.ramdisk_entries
                .push((bootcfg::WEIGHTS_ENTRY.to_owned(), w));
        }
        opts
    }
}

/// How a boot ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel wrote [`ExitCode::Success`].
    Success,
    /// The kernel wrote [`ExitCode::Failure`] (failed test, fault, panic, refused settings).
    KernelFailure,
    /// The wall-clock limit passed; QEMU was killed.
    TimedOut { after: Duration },
    /// QEMU exited without the kernel reporting (a reset after a triple fault, a QEMU error).
    NoReport { status: Option<i32> },
}

/// The result of one boot.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Everything the kernel printed on COM1 (lossily decoded as UTF-8).
    pub console: String,
    /// QEMU's own diagnostics.
    pub qemu_stderr: String,
    /// Wall time from QEMU's start to its end.
    pub wall: Duration,
}

impl Outcome {
    /// The last `n` lines of the console.
    pub fn last_lines(&self, n: usize) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The process exit status a command line should end with.
    pub fn exit_status(&self) -> i32 {
        match self.verdict {
            Verdict::Success => 0,
            Verdict::KernelFailure => 1,
            Verdict::TimedOut { .. } => 124,
            Verdict::NoReport { .. } => 2,
        }
    }

    /// One paragraph saying how the run ended, with the kernel's last lines when it failed.
    pub fn describe(&self) -> String {
        let tail = || {
            format!(
                "last lines of the kernel's console:\n{}",
                indent(&self.last_lines(15))
            )
        };
        match &self.verdict {
            Verdict::Success => format!(
                "kernel exited successfully after {:.1} s",
                self.wall.as_secs_f64()
            ),
            Verdict::KernelFailure => format!("the kernel reported failure; {}", tail()),
            Verdict::TimedOut { after } => format!(
                "timed out: the kernel did not exit within {:.0} s, so QEMU was killed (raise the limit with --timeout or {TIMEOUT_SCALE_ENV}); {}",
                after.as_secs_f64(),
                tail()
            ),
            Verdict::NoReport { status } => format!(
                "QEMU exited (status {}) without the kernel reporting success or failure: a triple fault or a QEMU error; QEMU said: {}; {}",
                status.map_or("none".into(), |s| s.to_string()),
                self.qemu_stderr.trim(),
                tail()
            ),
        }
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a boot could not even start.
#[derive(Debug)]
pub enum RunError {
    Tool(tools::MissingTool),
    Image(augur_boot::ImageError),
    Settings(augur_kernel::bootcfg::ConfigError),
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Tool(e) => e.fmt(f),
            RunError::Image(e) => e.fmt(f),
            RunError::Settings(e) => write!(f, "bad boot settings: {e}"),
            RunError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for RunError {}

fn io_context(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let context = context.into();
    move |source| RunError::Io { context, source }
}

/// Packs the boot settings and extra entries into the ramdisk bytes, checking them with the
/// kernel's own parser first.
pub fn ramdisk_bytes(opts: &RunOptions) -> Result<Vec<u8>, RunError> {
    let mut settings = String::new();
    opts.boot
        .write_text(&mut settings)
        .expect("writing to a String cannot fail");
    let mut entries: Vec<(&str, &[u8])> =
        vec![(augur_kernel::bootcfg::SETTINGS_ENTRY, settings.as_bytes())];
    entries.extend(
        opts.ramdisk_entries
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice())),
    );
    let bytes = augur_kernel::bootcfg::build_archive(&entries).map_err(RunError::Settings)?;
    augur_kernel::bootcfg::BootArchive::parse(&bytes)
        .and_then(|a| a.config())
        .map_err(RunError::Settings)?;
    Ok(bytes)
}

/// Boots the kernel once and reports how it ended.
pub fn run(opts: &RunOptions) -> Result<Outcome, RunError> {
    // Bad settings are reported before anything is looked up or installed.
    let ramdisk_bytes = ramdisk_bytes(opts)?;
    let qemu = tools::qemu().map_err(RunError::Tool)?;
    let ovmf = match opts.machine.firmware {
        Firmware::Uefi => Some(tools::ovmf().map_err(RunError::Tool)?),
        Firmware::Bios => None,
    };
    let work = tempfile::Builder::new()
        .prefix("augur-run-")
        .tempdir()
        .map_err(io_context("creating a temporary directory"))?;
    let ramdisk = work.path().join("boot.ramdisk");
    std::fs::write(&ramdisk, ramdisk_bytes).map_err(io_context("writing the boot ramdisk"))?;
    let image = work.path().join("augur.img");
    augur_boot::build_image(opts.machine.firmware, kernel_elf(), Some(&ramdisk), &image)
        .map_err(RunError::Image)?;
    let vars = match &ovmf {
        Some(o) => {
            let copy = work.path().join("OVMF_VARS.fd");
            std::fs::copy(&o.vars, &copy)
                .map_err(io_context(format!("copying {}", o.vars.display())))?;
            Some((o.code.clone(), copy))
        }
        None => None,
    };
    let trace = opts
        .trace_file
        .clone()
        .unwrap_or_else(|| work.path().join("trace.bin"));
    let args = launch::qemu_args(&opts.machine, &image, vars.as_ref(), &trace);
    if opts.machine.gdb {
        eprintln!(
            "augur: QEMU waits for a debugger on localhost:{}. In another terminal run:\n    gdb -ex 'add-symbol-file {} -o {:#x}' -ex 'target remote :{}'",
            launch::GDB_PORT,
            kernel_elf().display(),
            augur_kernel::KERNEL_BASE,
            launch::GDB_PORT
        );
    }
    supervise(&qemu, &args, opts)
}

/// Runs QEMU, copying its console as it arrives, until it exits or the limit passes.
fn supervise(
    qemu: &Path,
    args: &[std::ffi::OsString],
    opts: &RunOptions,
) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let mut child = Command::new(qemu)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_context(format!("starting {}", qemu.display())))?;
    let console = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let echo = opts.echo;
    let sink = Arc::clone(&console);
    let out_thread = std::thread::spawn(move || pump(stdout, &sink, echo));
    let err_buf = Arc::new(Mutex::new(Vec::new()));
    let err_sink = Arc::clone(&err_buf);
    let err_thread = std::thread::spawn(move || pump(stderr, &err_sink, false));

    let limit = if opts.machine.gdb { None } else { opts.timeout };
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io_context("waiting for QEMU"))? {
            break Some(status);
        }
        if limit.is_some_and(|l| started.elapsed() >= l) {
            // Kill errors mean it already exited; either way it is gone after `wait`.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = started.elapsed();
    let _ = out_thread.join();
    let _ = err_thread.join();
    let text = |buf: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    };
    let verdict = match status {
        None => Verdict::TimedOut {
            after: limit.unwrap_or_default(),
        },
        Some(s) => match s.code().and_then(ExitCode::from_qemu_status) {
            Some(ExitCode::Success) => Verdict::Success,
            Some(ExitCode::Failure) => Verdict::KernelFailure,
            None => Verdict::NoReport { status: s.code() },
        },
    };
    Ok(Outcome {
        verdict,
        console: text(&console),
        qemu_stderr: text(&err_buf),
        wall,
    })
}

/// Copies a pipe into `sink` (and to stdout when `echo`) until it closes.
fn pump(mut from: impl Read, sink: &Mutex<Vec<u8>>, echo: bool) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        if echo {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf[..n]);
            let _ = out.flush();
        }
        sink.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(&buf[..n]);
    }
}
