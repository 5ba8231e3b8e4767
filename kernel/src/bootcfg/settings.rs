//! The boot settings: `key=value` lines the host writes and the kernel reads.
//!
//! One table, [`KEYS`], defines every setting: its name, what it accepts (for messages), how
//! to parse a value into a [`BootConfig`] and how to write it back. [`BootConfig::parse`],
//! [`BootConfig::write_text`] and the unknown-key message all walk that table, so a new
//! setting is one entry, and writer and parser cannot drift apart (the round-trip test checks
//! every key). Enum settings carry explicit numeric codes where traces record them.

use super::ConfigError;
use crate::sched::{Cfs, Fifo, Mlfq, Policy, RoundRobin, Tick};
pub use crate::workload::Mix;
use alloc::boxed::Box;
use core::fmt;

/// Timer rate when none is given.
pub const DEFAULT_TICK_HZ: u32 = 1000;
/// Accepted timer rates. Below 10 Hz a tick is too coarse to schedule by; above 10 kHz the
/// timer interrupt alone would eat TCG's budget.
pub const TICK_HZ_RANGE: core::ops::RangeInclusive<u32> = 10..=10_000;
/// Default length of a workload run, in seconds.
pub const DEFAULT_SECONDS: u32 = 10;
/// Allowed workload lengths, in seconds.
pub const SECONDS_RANGE: core::ops::RangeInclusive<u32> = 1..=3600;
/// Ticks the default job runs for ("a few hundred").
pub const DEFAULT_RUN_TICKS: u32 = 300;
/// Time slice of the round-robin policy, in ticks (kernel and host replay alike).
pub const ROUND_ROBIN_QUANTUM_TICKS: Tick = 10;

/// The name of `value` in a (value, name) table.
fn name_in<T: Copy + PartialEq>(table: &[(T, &'static str)], value: T) -> &'static str {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("?", |(_, n)| n)
}

/// The value called `name` in a (value, name) table.
fn value_in<T: Copy>(table: &[(T, &'static str)], name: &str) -> Option<T> {
    table.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

/// What the kernel does after it has booted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Run the timer for `ticks` ticks, print a health summary, power off.
    Run,
    /// Run a seeded workload ([`crate::workload`]) under the policy and print its metrics.
    Workload,
    /// Run the in-kernel tests and report each.
    KTest,
    /// Touch an unmapped address, to check that faults are reported (test hook).
    CrashPageFault,
    /// Panic, to check that panics are reported (test hook).
    CrashPanic,
    /// Overflow the boot stack into its guard page, to check that the double fault is caught
    /// on its own stack and reported (test hook).
    CrashStackOverflow,
    /// Spin forever with interrupts on, to check the host's timeout (test hook).
    Hang,
}

impl Job {
    /// Every job, with the name used in settings and on the command line.
    pub const ALL: [(Job, &'static str); 7] = [
        (Job::Run, "run"),
        (Job::Workload, "workload"),
        (Job::KTest, "ktest"),
        (Job::CrashPageFault, "crash-page-fault"),
        (Job::CrashPanic, "crash-panic"),
        (Job::CrashStackOverflow, "crash-stack-overflow"),
        (Job::Hang, "hang"),
    ];

    /// The job's name.
    pub fn name(self) -> &'static str {
        name_in(&Self::ALL, self)
    }

    /// The job with this name.
    pub fn from_name(name: &str) -> Option<Job> {
        value_in(&Self::ALL, name)
    }
}

/// The scheduling policy kernel threads run under (`crate::sched::policy`). The discriminant
/// is the policy's code in trace decision records (`FORMAT.md`): fixed numbers, not positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SchedPolicy {
    RoundRobin = 0,
    Cfs = 1,
    Mlfq = 2,
    Fifo = 3,
    /// The model's scheduler head, guarded by a classical shadow policy.
    Learned = 4,
}

impl SchedPolicy {
    /// Every policy, with its name on the command line and in settings.
    pub const ALL: [(SchedPolicy, &'static str); 5] = [
        (SchedPolicy::RoundRobin, "rr"),
        (SchedPolicy::Cfs, "cfs"),
        (SchedPolicy::Mlfq, "mlfq"),
        (SchedPolicy::Fifo, "fifo"),
        (SchedPolicy::Learned, "learned"),
    ];

    /// The policy's code in trace records (its explicit discriminant).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The policy with trace code `code`.
    pub const fn from_code(code: u8) -> Option<SchedPolicy> {
        Some(match code {
            0 => SchedPolicy::RoundRobin,
            1 => SchedPolicy::Cfs,
            2 => SchedPolicy::Mlfq,
            3 => SchedPolicy::Fifo,
            4 => SchedPolicy::Learned,
            _ => return None,
        })
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        name_in(&Self::ALL, self)
    }

    /// The policy with this name.
    pub fn from_name(name: &str) -> Option<SchedPolicy> {
        value_in(&Self::ALL, name)
    }

    /// The classical policy this names, with the kernel's parameters, tracking up to `N`
    /// tasks: one definition for the kernel and for host replay. `Learned` gives its default
    /// shadow's policy, MLFQ (the learned layer wraps whichever shadow it is given).
    pub fn classical<const N: usize>(self) -> Box<dyn Policy + Send> {
        match self {
            SchedPolicy::RoundRobin => Box::new(RoundRobin::<N>::new(ROUND_ROBIN_QUANTUM_TICKS)),
            SchedPolicy::Cfs => Box::new(Cfs::<N>::default()),
            SchedPolicy::Fifo => Box::new(Fifo::<N>::default()),
            SchedPolicy::Mlfq | SchedPolicy::Learned => Box::new(Mlfq::<N>::default()),
        }
    }
}

/// Console verbosity, least to most verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum LogLevel {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
    Trace = 4,
}

impl LogLevel {
    /// Every level, with its name.
    pub const ALL: [(LogLevel, &'static str); 5] = [
        (LogLevel::Error, "error"),
        (LogLevel::Warn, "warn"),
        (LogLevel::Info, "info"),
        (LogLevel::Debug, "debug"),
        (LogLevel::Trace, "trace"),
    ];

    /// The level's name.
    pub fn name(self) -> &'static str {
        name_in(&Self::ALL, self)
    }

    /// The level with this name.
    pub fn from_name(name: &str) -> Option<LogLevel> {
        value_in(&Self::ALL, name)
    }
}

/// Longest in-kernel test filter.
pub const FILTER_BYTES: usize = 48;

/// An in-kernel test filter longer than [`FILTER_BYTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterTooLong {
    pub len: usize,
}

impl fmt::Display for FilterTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the in-kernel test filter is {} bytes long; at most {FILTER_BYTES} are allowed",
            self.len
        )
    }
}

/// The settings the kernel boots with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootConfig {
    pub job: Job,
    /// Timer interrupt rate.
    pub tick_hz: u32,
    /// How long [`Job::Run`] runs, in ticks.
    pub run_ticks: u32,
    pub log_level: LogLevel,
    /// Scheduling policy of the kernel threads.
    pub policy: SchedPolicy,
    /// The classical policy the learned one falls back to (never `Learned`).
    pub shadow: SchedPolicy,
    /// Which workload [`Job::Workload`] runs.
    pub workload: Mix,
    /// How long [`Job::Workload`] runs, in seconds of timer ticks.
    pub seconds: u32,
    /// The workload's seed.
    pub seed: u64,
    /// Percent of a classical policy's decisions replaced by a random runnable task (seeded
    /// by `seed`): exploration when collecting training traces. 0 for normal runs.
    pub explore: u8,
    /// The host runs QEMU with `-icount shift=0`: one nanosecond of guest time is one
    /// instruction, so costs can be reported in instructions.
    pub icount: bool,
    /// Only in-kernel tests whose name contains this run (empty: all).
    filter: [u8; FILTER_BYTES],
    filter_len: u8,
}

impl Default for BootConfig {
    fn default() -> Self {
        BootConfig {
            job: Job::Run,
            tick_hz: DEFAULT_TICK_HZ,
            run_ticks: DEFAULT_RUN_TICKS,
            log_level: LogLevel::Info,
            policy: SchedPolicy::RoundRobin,
            shadow: SchedPolicy::Mlfq,
            workload: Mix::Mix,
            seconds: DEFAULT_SECONDS,
            seed: 1,
            explore: 0,
            icount: false,
            filter: [0; FILTER_BYTES],
            filter_len: 0,
        }
    }
}

/// One setting: its name in the text, what it accepts, and how it is read and written.
pub struct Key {
    /// The key before `=`.
    pub name: &'static str,
    /// What the value may be, for [`ConfigError::BadValue`].
    pub expected: &'static str,
    /// Stores `value` in the config; `None` if the value is not one the key takes.
    pub parse: fn(&mut BootConfig, &str) -> Option<()>,
    /// Writes the config's value (without the key), or nothing if the value is the key's
    /// "absent" (only `ktest` has one: no filter).
    pub write: fn(&BootConfig, &mut dyn fmt::Write) -> Option<fmt::Result>,
}

/// Stores `value` in `slot`; `None` (refused) if there is no value.
fn set<T>(slot: &mut T, value: Option<T>) -> Option<()> {
    *slot = value?;
    Some(())
}

/// A number in `range`.
fn number_in<T: core::str::FromStr + PartialOrd>(
    value: &str,
    range: core::ops::RangeInclusive<T>,
) -> Option<T> {
    value.parse().ok().filter(|v| range.contains(v))
}

/// Every setting, in the order [`BootConfig::write_text`] writes them.
pub const KEYS: &[Key] = &[
    Key {
        name: "job",
        expected: "run, workload, ktest, crash-page-fault, crash-panic, crash-stack-overflow or hang",
        parse: |c, v| set(&mut c.job, Job::from_name(v)),
        write: |c, out| Some(out.write_str(c.job.name())),
    },
    Key {
        name: "tick_hz",
        expected: "10..=10000",
        parse: |c, v| set(&mut c.tick_hz, number_in(v, TICK_HZ_RANGE)),
        write: |c, out| Some(write!(out, "{}", c.tick_hz)),
    },
    Key {
        name: "ticks",
        expected: "a positive integer",
        parse: |c, v| set(&mut c.run_ticks, number_in(v, 1..=u32::MAX)),
        write: |c, out| Some(write!(out, "{}", c.run_ticks)),
    },
    Key {
        name: "log",
        expected: "error, warn, info, debug or trace",
        parse: |c, v| set(&mut c.log_level, LogLevel::from_name(v)),
        write: |c, out| Some(out.write_str(c.log_level.name())),
    },
    Key {
        name: "policy",
        expected: "rr, cfs, mlfq, fifo or learned",
        parse: |c, v| set(&mut c.policy, SchedPolicy::from_name(v)),
        write: |c, out| Some(out.write_str(c.policy.name())),
    },
    Key {
        name: "shadow",
        expected: "rr, cfs, mlfq or fifo",
        parse: |c, v| {
            set(
                &mut c.shadow,
                SchedPolicy::from_name(v).filter(|p| *p != SchedPolicy::Learned),
            )
        },
        write: |c, out| Some(out.write_str(c.shadow.name())),
    },
    Key {
        name: "workload",
        expected: "batch, interactive, io or mix",
        parse: |c, v| set(&mut c.workload, Mix::from_name(v)),
        write: |c, out| Some(out.write_str(c.workload.name())),
    },
    Key {
        name: "seconds",
        expected: "1..=3600",
        parse: |c, v| set(&mut c.seconds, number_in(v, SECONDS_RANGE)),
        write: |c, out| Some(write!(out, "{}", c.seconds)),
    },
    Key {
        name: "seed",
        expected: "an unsigned 64-bit integer",
        parse: |c, v| set(&mut c.seed, v.parse().ok()),
        write: |c, out| Some(write!(out, "{}", c.seed)),
    },
    Key {
        name: "explore",
        expected: "a percentage 0..=100",
        parse: |c, v| set(&mut c.explore, number_in(v, 0..=100)),
        write: |c, out| Some(write!(out, "{}", c.explore)),
    },
    Key {
        name: "icount",
        expected: "0 or 1",
        parse: |c, v| {
            c.icount = match v {
                "0" => false,
                "1" => true,
                _ => return None,
            };
            Some(())
        },
        write: |c, out| Some(write!(out, "{}", u8::from(c.icount))),
    },
    Key {
        name: "ktest",
        expected: "a test-name filter of at most 48 bytes",
        parse: |c, v| c.set_ktest_filter(v).ok(),
        write: |c, out| (c.filter_len > 0).then(|| out.write_str(c.ktest_filter())),
    },
];

impl BootConfig {
    /// Parses `key=value` lines. Blank lines and lines starting with `#` are ignored; a later
    /// line for a key overrides an earlier one.
    pub fn parse(text: &str) -> Result<BootConfig, ConfigError> {
        let mut config = BootConfig::default();
        for (n, raw) in text.lines().enumerate() {
            let line = u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1);
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (key, value) = raw
                .split_once('=')
                .ok_or(ConfigError::MalformedLine { line })?;
            let (key, value) = (key.trim(), value.trim());
            let spec = KEYS
                .iter()
                .find(|k| k.name == key)
                .ok_or(ConfigError::UnknownKey { line })?;
            (spec.parse)(&mut config, value).ok_or(ConfigError::BadValue {
                line,
                key: spec.name,
                expected: spec.expected,
            })?;
        }
        Ok(config)
    }

    /// Writes the settings as the `key=value` text [`parse`](Self::parse) reads.
    pub fn write_text(&self, out: &mut impl fmt::Write) -> fmt::Result {
        for key in KEYS {
            let mut line = LineWriter {
                out: &mut *out,
                key,
                started: false,
            };
            if let Some(result) = (key.write)(self, &mut line) {
                result?;
                let started = line.started;
                if !started {
                    write!(out, "{}=", key.name)?;
                }
                writeln!(out)?;
            }
        }
        Ok(())
    }

    /// Only in-kernel tests whose name contains `filter` will run.
    pub fn set_ktest_filter(&mut self, filter: &str) -> Result<(), FilterTooLong> {
        let bytes = filter.as_bytes();
        if bytes.len() > FILTER_BYTES {
            return Err(FilterTooLong { len: bytes.len() });
        }
        self.filter = [0; FILTER_BYTES];
        self.filter[..bytes.len()].copy_from_slice(bytes);
        // At most FILTER_BYTES (48), checked above.
        self.filter_len = bytes.len() as u8;
        Ok(())
    }

    /// The in-kernel test filter (empty: every test).
    pub fn ktest_filter(&self) -> &str {
        // The bytes came from a &str and were cut at its end, so they are UTF-8.
        core::str::from_utf8(&self.filter[..self.filter_len as usize]).unwrap_or("")
    }
}

/// Puts `key=` before the first byte a [`Key::write`] produces, so an absent value writes
/// no line at all and a present one exactly one.
struct LineWriter<'a, W: fmt::Write> {
    out: &'a mut W,
    key: &'a Key,
    started: bool,
}

impl<W: fmt::Write> fmt::Write for LineWriter<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !self.started {
            self.started = true;
            write!(self.out, "{}=", self.key.name)?;
        }
        self.out.write_str(s)
    }
}
