//! Boot-time settings: what the host hands the kernel without rebuilding it.
//!
//! The host packs a small archive into the bootloader's ramdisk ([`BootArchive`]): a
//! `settings` entry of `key=value` lines ([`BootConfig`]), and later a `weights` entry (a GGUF
//! model). The kernel finds the ramdisk in its boot information and parses it with the same
//! code the host used to write it, so a setting is defined once. Every field is checked; a
//! malformed archive or an unknown key is a [`ConfigError`] that names what was wrong.
//!
//! Archive layout (all integers little-endian):
//! ```text
//! 0   magic "AUGRBOOT"
//! 8   u32 version (= 1)
//! 12  u32 entry count (<= MAX_ENTRIES)
//! 16  entries: name [u8; 16] (UTF-8, NUL-padded), u64 offset, u64 length  (32 bytes each)
//! ..  entry data, each at its offset from the start of the archive
//! ```

pub use crate::workload::Mix;
use core::fmt;

/// First bytes of every boot archive.
pub const ARCHIVE_MAGIC: [u8; 8] = *b"AUGRBOOT";
/// Archive format version this kernel reads.
pub const ARCHIVE_VERSION: u32 = 1;
/// Most entries an archive may hold.
pub const MAX_ENTRIES: u32 = 16;
const HEADER_BYTES: usize = 16;
const ENTRY_BYTES: usize = 32;
const NAME_BYTES: usize = 16;

/// Name of the archive entry holding [`BootConfig`] text.
pub const SETTINGS_ENTRY: &str = "settings";
/// Name of the optional entry holding model weights (GGUF) that replace the embedded default.
pub const WEIGHTS_ENTRY: &str = "weights.gguf";

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

/// The scheduling policy kernel threads run under (`crate::sched::policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedPolicy {
    RoundRobin,
    Cfs,
    Mlfq,
    Fifo,
    /// The model's scheduler head, guarded by a classical shadow policy.
    Learned,
}

impl SchedPolicy {
    /// Every policy, with its name on the command line and in settings. The index is the
    /// policy's code in trace decision records ([`SchedPolicy::code`]).
    pub const ALL: [(SchedPolicy, &'static str); 5] = [
        (SchedPolicy::RoundRobin, "rr"),
        (SchedPolicy::Cfs, "cfs"),
        (SchedPolicy::Mlfq, "mlfq"),
        (SchedPolicy::Fifo, "fifo"),
        (SchedPolicy::Learned, "learned"),
    ];

    /// The policy's code in trace records.
    pub fn code(self) -> u8 {
        Self::ALL.iter().position(|(p, _)| *p == self).unwrap_or(0) as u8
    }

    /// The policy with trace code `code`.
    pub fn from_code(code: u8) -> Option<SchedPolicy> {
        Self::ALL.get(usize::from(code)).map(|(p, _)| *p)
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        name_in(&Self::ALL, self)
    }

    /// The policy with this name.
    pub fn from_name(name: &str) -> Option<SchedPolicy> {
        value_in(&Self::ALL, name)
    }
}

/// Console verbosity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
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

/// Why boot settings were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    BadMagic,
    UnsupportedVersion {
        found: u32,
    },
    TooManyEntries {
        count: u32,
    },
    Truncated {
        need: u64,
        have: u64,
    },
    EntryOutOfBounds {
        index: u32,
        end: u64,
        have: u64,
    },
    BadEntryName {
        index: u32,
    },
    NotUtf8,
    /// A line without `=`.
    MalformedLine {
        line: u32,
    },
    UnknownKey {
        line: u32,
    },
    /// A known key with a value it cannot take; `expected` says what it can.
    BadValue {
        line: u32,
        key: &'static str,
        expected: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::BadMagic => write!(f, "boot archive does not start with \"AUGRBOOT\""),
            ConfigError::UnsupportedVersion { found } => write!(
                f,
                "boot archive version {found} is not supported (this kernel reads version {ARCHIVE_VERSION}); rebuild the image with the matching host tools"
            ),
            ConfigError::TooManyEntries { count } => {
                write!(
                    f,
                    "boot archive has {count} entries, at most {MAX_ENTRIES} are allowed"
                )
            }
            ConfigError::Truncated { need, have } => {
                write!(
                    f,
                    "boot archive is truncated: need {need} bytes, have {have}"
                )
            }
            ConfigError::EntryOutOfBounds { index, end, have } => write!(
                f,
                "boot archive entry {index} ends at byte {end}, past the archive's {have} bytes"
            ),
            ConfigError::BadEntryName { index } => {
                write!(
                    f,
                    "boot archive entry {index} has a name that is not NUL-padded UTF-8"
                )
            }
            ConfigError::NotUtf8 => write!(f, "boot settings are not UTF-8 text"),
            ConfigError::MalformedLine { line } => {
                write!(f, "boot settings line {line}: expected key=value")
            }
            ConfigError::UnknownKey { line } => write!(
                f,
                "boot settings line {line}: unknown key (known: job, tick_hz, ticks, log, policy, shadow, workload, seconds, seed, explore, icount, ktest)"
            ),
            ConfigError::BadValue {
                line,
                key,
                expected,
            } => {
                write!(
                    f,
                    "boot settings line {line}: bad value for {key}: expected {expected}"
                )
            }
        }
    }
}

impl BootConfig {
    /// Parses `key=value` lines. Blank lines and lines starting with `#` are ignored.
    pub fn parse(text: &str) -> Result<BootConfig, ConfigError> {
        let mut config = BootConfig::default();
        for (n, raw) in text.lines().enumerate() {
            let line = n as u32 + 1;
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (key, value) = raw
                .split_once('=')
                .ok_or(ConfigError::MalformedLine { line })?;
            let (key, value) = (key.trim(), value.trim());
            match key {
                "job" => {
                    config.job = Job::from_name(value).ok_or(ConfigError::BadValue {
                        line,
                        key: "job",
                        expected: "run, workload, ktest, crash-page-fault, crash-panic, crash-stack-overflow or hang",
                    })?;
                }
                "tick_hz" => {
                    config.tick_hz = value
                        .parse()
                        .ok()
                        .filter(|hz| TICK_HZ_RANGE.contains(hz))
                        .ok_or(ConfigError::BadValue {
                            line,
                            key: "tick_hz",
                            expected: "10..=10000",
                        })?;
                }
                "ticks" => {
                    config.run_ticks =
                        value
                            .parse()
                            .ok()
                            .filter(|&t| t > 0)
                            .ok_or(ConfigError::BadValue {
                                line,
                                key: "ticks",
                                expected: "a positive integer",
                            })?;
                }
                "log" => {
                    config.log_level = LogLevel::from_name(value).ok_or(ConfigError::BadValue {
                        line,
                        key: "log",
                        expected: "error, warn, info, debug or trace",
                    })?;
                }
                "policy" => {
                    config.policy = SchedPolicy::from_name(value).ok_or(ConfigError::BadValue {
                        line,
                        key: "policy",
                        expected: "rr, cfs, mlfq, fifo or learned",
                    })?;
                }
                "shadow" => {
                    config.shadow = SchedPolicy::from_name(value)
                        .filter(|p| *p != SchedPolicy::Learned)
                        .ok_or(ConfigError::BadValue {
                            line,
                            key: "shadow",
                            expected: "rr, cfs, mlfq or fifo",
                        })?;
                }
                "workload" => {
                    config.workload = Mix::from_name(value).ok_or(ConfigError::BadValue {
                        line,
                        key: "workload",
                        expected: "batch, interactive, io or mix",
                    })?;
                }
                "seconds" => {
                    config.seconds = value
                        .parse()
                        .ok()
                        .filter(|s| SECONDS_RANGE.contains(s))
                        .ok_or(ConfigError::BadValue {
                            line,
                            key: "seconds",
                            expected: "1..=3600",
                        })?;
                }
                "seed" => {
                    config.seed = value.parse().map_err(|_| ConfigError::BadValue {
                        line,
                        key: "seed",
                        expected: "an unsigned 64-bit integer",
                    })?;
                }
                "explore" => {
                    config.explore =
                        value
                            .parse()
                            .ok()
                            .filter(|p| *p <= 100)
                            .ok_or(ConfigError::BadValue {
                                line,
                                key: "explore",
                                expected: "a percentage 0..=100",
                            })?;
                }
                "icount" => {
                    config.icount = match value {
                        "0" => false,
                        "1" => true,
                        _ => {
                            return Err(ConfigError::BadValue {
                                line,
                                key: "icount",
                                expected: "0 or 1",
                            });
                        }
                    };
                }
                "ktest" => {
                    config
                        .set_ktest_filter(value)
                        .map_err(|_| ConfigError::BadValue {
                            line,
                            key: "ktest",
                            expected: "a test-name filter of at most 48 bytes",
                        })?;
                }
                _ => return Err(ConfigError::UnknownKey { line }),
            }
        }
        Ok(config)
    }

    /// Only in-kernel tests whose name contains `filter` will run.
    pub fn set_ktest_filter(&mut self, filter: &str) -> Result<(), FilterTooLong> {
        let bytes = filter.as_bytes();
        if bytes.len() > FILTER_BYTES {
            return Err(FilterTooLong { len: bytes.len() });
        }
        self.filter = [0; FILTER_BYTES];
        self.filter[..bytes.len()].copy_from_slice(bytes);
        self.filter_len = bytes.len() as u8;
        Ok(())
    }

    /// The in-kernel test filter (empty: every test).
    pub fn ktest_filter(&self) -> &str {
        // The bytes came from a &str and were cut at its end, so they are UTF-8.
        core::str::from_utf8(&self.filter[..self.filter_len as usize]).unwrap_or("")
    }

    /// Writes the settings as the `key=value` text [`parse`](Self::parse) reads.
    pub fn write_text(&self, out: &mut impl fmt::Write) -> fmt::Result {
        writeln!(out, "job={}", self.job.name())?;
        writeln!(out, "tick_hz={}", self.tick_hz)?;
        writeln!(out, "ticks={}", self.run_ticks)?;
        writeln!(out, "log={}", self.log_level.name())?;
        writeln!(out, "policy={}", self.policy.name())?;
        writeln!(out, "shadow={}", self.shadow.name())?;
        writeln!(out, "workload={}", self.workload.name())?;
        writeln!(out, "seconds={}", self.seconds)?;
        writeln!(out, "seed={}", self.seed)?;
        writeln!(out, "explore={}", self.explore)?;
        writeln!(out, "icount={}", u8::from(self.icount))?;
        if self.filter_len > 0 {
            writeln!(out, "ktest={}", self.ktest_filter())?;
        }
        Ok(())
    }
}

/// A parsed boot archive: named byte ranges borrowed from the ramdisk.
#[derive(Clone, Copy, Debug)]
pub struct BootArchive<'a> {
    bytes: &'a [u8],
    count: u32,
}

impl<'a> BootArchive<'a> {
    /// Checks the header and that every entry lies inside `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<BootArchive<'a>, ConfigError> {
        let have = bytes.len() as u64;
        if bytes.len() < HEADER_BYTES {
            return Err(ConfigError::Truncated {
                need: HEADER_BYTES as u64,
                have,
            });
        }
        if bytes[..8] != ARCHIVE_MAGIC {
            return Err(ConfigError::BadMagic);
        }
        let version = read_u32(bytes, 8);
        if version != ARCHIVE_VERSION {
            return Err(ConfigError::UnsupportedVersion { found: version });
        }
        let count = read_u32(bytes, 12);
        if count > MAX_ENTRIES {
            return Err(ConfigError::TooManyEntries { count });
        }
        let table_end = HEADER_BYTES as u64 + u64::from(count) * ENTRY_BYTES as u64;
        if table_end > have {
            return Err(ConfigError::Truncated {
                need: table_end,
                have,
            });
        }
        let archive = BootArchive { bytes, count };
        for index in 0..count {
            let at = HEADER_BYTES + index as usize * ENTRY_BYTES;
            let name = &bytes[at..at + NAME_BYTES];
            let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
            if len == 0
                || name[len..].iter().any(|&b| b != 0)
                || core::str::from_utf8(&name[..len]).is_err()
            {
                return Err(ConfigError::BadEntryName { index });
            }
            let offset = read_u64(bytes, at + NAME_BYTES);
            let size = read_u64(bytes, at + NAME_BYTES + 8);
            let end = offset.saturating_add(size);
            if end > have {
                return Err(ConfigError::EntryOutOfBounds { index, end, have });
            }
        }
        Ok(archive)
    }

    /// The entries, as `(name, bytes)`.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        let bytes = self.bytes;
        (0..self.count as usize).map(move |index| {
            let at = HEADER_BYTES + index * ENTRY_BYTES;
            let name = &bytes[at..at + NAME_BYTES];
            let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
            let offset = read_u64(bytes, at + NAME_BYTES) as usize;
            let size = read_u64(bytes, at + NAME_BYTES + 8) as usize;
            // `parse` checked the name is UTF-8 and the range is inside `bytes`.
            (
                core::str::from_utf8(&name[..len]).unwrap_or(""),
                &bytes[offset..offset + size],
            )
        })
    }

    /// The first entry called `name`.
    pub fn entry(&self, name: &str) -> Option<&'a [u8]> {
        self.entries().find(|(n, _)| *n == name).map(|(_, b)| b)
    }

    /// The boot settings in this archive (defaults if it has no settings entry).
    pub fn config(&self) -> Result<BootConfig, ConfigError> {
        match self.entry(SETTINGS_ENTRY) {
            None => Ok(BootConfig::default()),
            Some(text) => {
                BootConfig::parse(core::str::from_utf8(text).map_err(|_| ConfigError::NotUtf8)?)
            }
        }
    }
}

/// Builds the archive bytes from named entries (host side). Names must be 1..=16 bytes.
#[cfg(not(target_os = "none"))]
pub fn build_archive(entries: &[(&str, &[u8])]) -> Result<std::vec::Vec<u8>, ConfigError> {
    if entries.len() > MAX_ENTRIES as usize {
        return Err(ConfigError::TooManyEntries {
            count: entries.len() as u32,
        });
    }
    let mut out = std::vec::Vec::new();
    out.extend_from_slice(&ARCHIVE_MAGIC);
    out.extend_from_slice(&ARCHIVE_VERSION.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut offset = (HEADER_BYTES + entries.len() * ENTRY_BYTES) as u64;
    for (index, (name, data)) in entries.iter().enumerate() {
        if name.is_empty() || name.len() > NAME_BYTES {
            return Err(ConfigError::BadEntryName {
                index: index as u32,
            });
        }
        let mut padded = [0u8; NAME_BYTES];
        padded[..name.len()].copy_from_slice(name.as_bytes());
        out.extend_from_slice(&padded);
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        offset += data.len() as u64;
    }
    for (_, data) in entries {
        out.extend_from_slice(data);
    }
    Ok(out)
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive_with(settings: &str) -> std::vec::Vec<u8> {
        build_archive(&[
            (SETTINGS_ENTRY, settings.as_bytes()),
            ("weights", b"GGUF...."),
        ])
        .unwrap()
    }

    #[test]
    fn settings_round_trip_through_the_archive() {
        let mut config = BootConfig {
            job: Job::KTest,
            tick_hz: 250,
            run_ticks: 42,
            log_level: LogLevel::Debug,
            policy: SchedPolicy::Mlfq,
            ..Default::default()
        };
        config.set_ktest_filter("heap").unwrap();
        let mut text = String::new();
        config.write_text(&mut text).unwrap();
        let bytes = archive_with(&text);
        let archive = BootArchive::parse(&bytes).unwrap();
        assert_eq!(archive.config().unwrap(), config);
        assert_eq!(archive.entry("weights"), Some(&b"GGUF...."[..]));
        assert_eq!(archive.entry("missing"), None);
    }

    #[test]
    fn defaults_without_settings() {
        let bytes = build_archive(&[]).unwrap();
        assert_eq!(
            BootArchive::parse(&bytes).unwrap().config().unwrap(),
            BootConfig::default()
        );
    }

    #[test]
    fn bad_settings_name_the_line() {
        assert_eq!(
            BootConfig::parse("job=run\nfoo=1"),
            Err(ConfigError::UnknownKey { line: 2 })
        );
        assert_eq!(
            BootConfig::parse("\n# c\njob"),
            Err(ConfigError::MalformedLine { line: 3 })
        );
        assert!(matches!(
            BootConfig::parse("tick_hz=5"),
            Err(ConfigError::BadValue { key: "tick_hz", .. })
        ));
        assert!(matches!(
            BootConfig::parse("job=dance"),
            Err(ConfigError::BadValue { key: "job", .. })
        ));
        assert!(matches!(
            BootConfig::parse("ticks=0"),
            Err(ConfigError::BadValue { key: "ticks", .. })
        ));
        let long = format!("ktest={}", "x".repeat(FILTER_BYTES + 1));
        assert!(matches!(
            BootConfig::parse(&long),
            Err(ConfigError::BadValue { key: "ktest", .. })
        ));
    }

    #[test]
    fn corrupt_archives_are_refused() {
        let good = archive_with("job=run\n");
        assert!(matches!(
            BootArchive::parse(&good[..10]),
            Err(ConfigError::Truncated { .. })
        ));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(BootArchive::parse(&bad).unwrap_err(), ConfigError::BadMagic);
        let mut bad = good.clone();
        bad[8] = 9;
        assert_eq!(
            BootArchive::parse(&bad).unwrap_err(),
            ConfigError::UnsupportedVersion { found: 9 }
        );
        let mut bad = good.clone();
        bad[12] = 200;
        assert_eq!(
            BootArchive::parse(&bad).unwrap_err(),
            ConfigError::TooManyEntries { count: 200 }
        );
        // Entry 1's length pushed past the end, and to u64::MAX (overflow).
        let mut bad = good.clone();
        bad[16 + 32 + 24] = 0xff;
        assert!(matches!(
            BootArchive::parse(&bad),
            Err(ConfigError::EntryOutOfBounds { index: 1, .. })
        ));
        let mut bad = good.clone();
        bad[16 + 32 + 16..16 + 32 + 32].fill(0xff);
        assert!(matches!(
            BootArchive::parse(&bad),
            Err(ConfigError::EntryOutOfBounds { index: 1, .. })
        ));
        let mut bad = good.clone();
        bad[16] = 0;
        assert_eq!(
            BootArchive::parse(&bad).unwrap_err(),
            ConfigError::BadEntryName { index: 0 }
        );
        // Cutting the data off is caught even though the table is intact.
        assert!(matches!(
            BootArchive::parse(&good[..good.len() - 1]),
            Err(ConfigError::EntryOutOfBounds { .. })
        ));
    }

    #[test]
    fn job_and_level_names_round_trip() {
        for (job, name) in Job::ALL {
            assert_eq!(Job::from_name(name), Some(job));
            assert_eq!(job.name(), name);
        }
        for (level, name) in LogLevel::ALL {
            assert_eq!(LogLevel::from_name(name), Some(level));
        }
        for (policy, name) in SchedPolicy::ALL {
            assert_eq!(SchedPolicy::from_name(name), Some(policy));
            assert_eq!(policy.name(), name);
        }
    }
}
