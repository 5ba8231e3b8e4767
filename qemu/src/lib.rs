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

/// The factors [`TIMEOUT_SCALE_ENV`] may hold: above 0 (a limit of no time would kill every
/// boot) and at most 1000 (a thousandfold slower machine is not one a boot finishes on).
pub const TIMEOUT_SCALE_MAX: f64 = 1000.0;

/// The longest base limit a command line may ask for, in seconds (a week): with the scale
/// bounded too, every scaled limit is a [`Duration`] (no float-to-`Duration` overflow).
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

/// A bad [`TIMEOUT_SCALE_ENV`] value, or a limit too long to scale.
#[derive(Clone, Debug, PartialEq)]
pub enum TimeoutError {
    /// The variable is set to something that is not a number in `(0, TIMEOUT_SCALE_MAX]`.
    BadScale { value: String },
    /// `base × scale` is no duration (only for bases above [`MAX_TIMEOUT_SECS`]).
    TooLong { base_secs: u64, scale: f64 },
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::BadScale { value } => write!(
                f,
                "{TIMEOUT_SCALE_ENV}={value:?} is not a timeout scale: give a number above 0 and at most {TIMEOUT_SCALE_MAX} (e.g. {TIMEOUT_SCALE_ENV}=3 on a slow machine), or unset it"
            ),
            TimeoutError::TooLong { base_secs, scale } => write!(
                f,
                "a time limit of {base_secs} s scaled by {scale} is too long; the longest limit is {MAX_TIMEOUT_SECS} s (or 0: no limit)"
            ),
        }
    }
}

impl std::error::Error for TimeoutError {}

/// The factor [`TIMEOUT_SCALE_ENV`] asks for: 1 when unset or empty.
pub fn timeout_scale() -> Result<f64, TimeoutError> {
    match std::env::var(TIMEOUT_SCALE_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(1.0),
        Err(std::env::VarError::NotUnicode(v)) => Err(TimeoutError::BadScale {
            value: v.to_string_lossy().into_owned(),
        }),
        Ok(v) => parse_timeout_scale(&v),
    }
}

/// Parses a timeout scale: a finite number in `(0, TIMEOUT_SCALE_MAX]`; empty means 1.
pub fn parse_timeout_scale(text: &str) -> Result<f64, TimeoutError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(1.0);
    }
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= TIMEOUT_SCALE_MAX)
        .ok_or_else(|| TimeoutError::BadScale {
            value: text.to_owned(),
        })
}

/// `base` scaled by `scale`, or [`TimeoutError::TooLong`] if that is no [`Duration`].
pub fn scale_timeout(base: Duration, scale: f64) -> Result<Duration, TimeoutError> {
    Duration::try_from_secs_f64(base.as_secs_f64() * scale).map_err(|_| TimeoutError::TooLong {
        base_secs: base.as_secs(),
        scale,
    })
}

/// `base` scaled by [`TIMEOUT_SCALE_ENV`] (default 1); an error a user can act on if the
/// variable is not a valid scale.
pub fn try_scaled_timeout(base: Duration) -> Result<Duration, TimeoutError> {
    scale_timeout(base, timeout_scale()?)
}

/// `base` scaled by [`TIMEOUT_SCALE_ENV`], for tests: a bad scale stops the test with the
/// message of [`TimeoutError`]. Command lines use [`try_scaled_timeout`] and report it.
pub fn scaled_timeout(base: Duration) -> Duration {
    try_scaled_timeout(base).unwrap_or_else(|e| panic!("{e}"))
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

/// Why a boot could not start, or (for [`RunError::TraceLost`]) what it lost after ending.
#[derive(Debug)]
pub enum RunError {
    Tool(tools::MissingTool),
    Image(augur_boot::ImageError),
    Settings(augur_kernel::bootcfg::ConfigError),
    /// The workload has more jobs than the kernel holds; `longest_secs` is the longest run
    /// of that mix and seed that fits (0: none).
    Workload {
        error: augur_kernel::workload::TooManyJobs,
        secs: u32,
        longest_secs: u64,
    },
    /// The ramdisk (settings, weights) cannot fit the guest memory beside what the
    /// bootloader and the kernel need.
    RamdiskTooLarge {
        ramdisk_bytes: u64,
        memory_mib: u32,
        need_mib: u64,
    },
    /// The trace file cannot be created or written.
    TraceFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The run ended but its trace could not be written to the trace file.
    TraceLost {
        path: PathBuf,
        source: std::io::Error,
    },
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
            RunError::Workload {
                error,
                secs,
                longest_secs,
            } => write!(
                f,
                "{error}: --seconds {secs} is refused; with this workload and seed at most {longest_secs} s fit"
            ),
            RunError::RamdiskTooLarge {
                ramdisk_bytes,
                memory_mib,
                need_mib,
            } => write!(
                f,
                "the boot ramdisk (settings and weights) is {:.1} MiB; a boot with it needs {need_mib} MiB ({BOOT_RESERVE_MIB} MiB for the bootloader and kernel + 1.125 x the ramdisk, measured), more than the guest's {memory_mib} MiB: give --memory {need_mib} or more, or a smaller --weights file",
                *ramdisk_bytes as f64 / MIB as f64,
            ),
            RunError::TraceFile { path, source } => write!(
                f,
                "--trace {}: cannot create the trace file: {source}; give a path in a writable directory",
                path.display()
            ),
            RunError::TraceLost { path, source } => write!(
                f,
                "--trace {}: the kernel ran, but its trace could not be written there: {source}; the trace is lost (give a path on a disk with space)",
                path.display()
            ),
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

const MIB: u64 = 1 << 20;

/// Guest memory the bootloader and the kernel need besides the ramdisk, in MiB (the BIOS
/// area, the bootloader's stages and page tables, the kernel image, its frames and heap).
/// Measured with [`memory_needed_mib`]'s ramdisk share, see there.
pub const BOOT_RESERVE_MIB: u64 = 32;

/// The guest memory, in MiB, a boot with a ramdisk of `ramdisk_bytes` needs:
/// [`BOOT_RESERVE_MIB`] plus 1.125 × the ramdisk (the bootloader maps it page by page and
/// needs frames for that too). Measured on BIOS boots of `--job run` with GGUF-prefixed random
/// weight files (the kernel refuses them as weights, so only their size counts): at
/// `--memory 64`, 28 MiB boots and 32 MiB hangs; at `--memory 128`, 80 MiB boots and 92 MiB
/// hangs. The rule accepts both that boot and refuses both that hang.
pub fn memory_needed_mib(ramdisk_bytes: u64) -> u64 {
    BOOT_RESERVE_MIB + (ramdisk_bytes + ramdisk_bytes / 8).div_ceil(MIB)
}

/// Refuses, with the numbers, a ramdisk that would not fit `memory_mib` of guest memory:
/// such a boot panics in the bootloader or never prints, and only the time limit ends it.
pub fn check_memory_fit(ramdisk_bytes: u64, memory_mib: u32) -> Result<(), RunError> {
    let need_mib = memory_needed_mib(ramdisk_bytes);
    if need_mib > u64::from(memory_mib) {
        return Err(RunError::RamdiskTooLarge {
            ramdisk_bytes,
            memory_mib,
            need_mib,
        });
    }
    Ok(())
}

/// Refuses a workload with more jobs than the kernel holds, naming the length that fits.
pub fn check_workload(boot: &BootConfig) -> Result<(), RunError> {
    if boot.job != Job::Workload {
        return Ok(());
    }
    let hz = u64::from(boot.tick_hz);
    let ticks = u64::from(boot.seconds) * hz;
    augur_kernel::workload::check_size(boot.workload, boot.seed, ticks)
        .map(|_| ())
        .map_err(|error| RunError::Workload {
            error,
            secs: boot.seconds,
            longest_secs: augur_kernel::workload::longest_fitting_ticks(
                boot.workload,
                boot.seed,
                ticks,
            ) / hz.max(1),
        })
}

/// Everything [`run`] checks before it boots: the settings, the workload's size, the
/// ramdisk's fit in guest memory and the trace file's path. Returns the ramdisk bytes.
pub fn preflight(opts: &RunOptions) -> Result<Vec<u8>, RunError> {
    let bytes = ramdisk_bytes(opts)?;
    check_workload(&opts.boot)?;
    check_memory_fit(bytes.len() as u64, opts.machine.memory_mib)?;
    if let Some(path) = &opts.trace_file {
        // Opened (and emptied) now, so a path that cannot be written is named before the boot
        // rather than surfacing as a QEMU error with no kernel output.
        std::fs::File::create(path).map_err(|source| RunError::TraceFile {
            path: path.clone(),
            source,
        })?;
    }
    Ok(bytes)
}

/// Copies the trace QEMU wrote into the user's trace file; a write error (a full disk,
/// `/dev/full`) is reported, never dropped.
fn deliver_trace(from: &Path, to: &Path) -> Result<(), RunError> {
    let lost = |source| RunError::TraceLost {
        path: to.to_path_buf(),
        source,
    };
    let mut src = std::fs::File::open(from).map_err(lost)?;
    // `File::create` + write, never a rename: the path may be a device or another
    // filesystem, and renaming onto it would replace it.
    let mut dst = std::fs::File::create(to).map_err(lost)?;
    std::io::copy(&mut src, &mut dst).map_err(lost)?;
    dst.sync_all().or_else(|e| {
        // Character devices and pipes cannot be synced; that is not a lost trace.
        if e.kind() == std::io::ErrorKind::InvalidInput {
            Ok(())
        } else {
            Err(lost(e))
        }
    })
}

/// Boots the kernel once and reports how it ended.
pub fn run(opts: &RunOptions) -> Result<Outcome, RunError> {
    // Bad settings are reported before anything is looked up or installed.
    let ramdisk_bytes = preflight(opts)?;
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
    // QEMU writes the trace to a file of ours and ignores write errors on it, so the trace
    // is copied to the user's file afterwards, where an error can be seen and reported.
    let trace = work.path().join("trace.bin");
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
    let outcome = supervise(&qemu, &args, opts)?;
    if let Some(to) = &opts.trace_file
        && trace.exists()
    {
        deliver_trace(&trace, to)?;
    }
    Ok(outcome)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_rule_matches_the_measured_boots() {
        // (ramdisk MiB, guest MiB, booted?) as measured (see `memory_needed_mib`).
        for (ramdisk, memory, booted) in [
            (28, 64, true),
            (32, 64, false),
            (80, 128, true),
            (92, 128, false),
        ] {
            let fits = check_memory_fit(ramdisk * MIB, memory).is_ok();
            assert_eq!(fits, booted, "{ramdisk} MiB ramdisk in {memory} MiB");
        }
        let err = check_memory_fit(40 * MIB, 64).unwrap_err().to_string();
        assert!(
            err.contains("is 40.0 MiB") && err.contains("guest's 64 MiB"),
            "{err}"
        );
        assert!(err.contains("give --memory 77 or more"), "{err}");
        // A settings-only ramdisk fits the smallest guest the command line allows.
        assert!(check_memory_fit(4096, 64).is_ok());
    }

    #[test]
    fn timeout_scales_are_bounded_and_named() {
        assert_eq!(parse_timeout_scale("3").unwrap(), 3.0);
        assert_eq!(parse_timeout_scale("").unwrap(), 1.0);
        for bad in ["inf", "1e30", "abc", "0", "-1", "NaN", "1000.5"] {
            let err = parse_timeout_scale(bad).unwrap_err().to_string();
            assert!(
                err.contains(TIMEOUT_SCALE_ENV) && err.contains("at most 1000"),
                "{err}"
            );
        }
        // The largest accepted base and scale still make a Duration (no panic).
        let longest = scale_timeout(Duration::from_secs(MAX_TIMEOUT_SECS), TIMEOUT_SCALE_MAX);
        assert_eq!(
            longest.unwrap(),
            Duration::from_secs(MAX_TIMEOUT_SECS * 1000)
        );
        assert!(scale_timeout(Duration::from_secs(u64::MAX), 2.0).is_err());
    }
}
