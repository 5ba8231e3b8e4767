//! Boot-time settings: what the host hands the kernel without rebuilding it.
//!
//! The host packs a small archive into the bootloader's ramdisk ([`archive`]): a `settings`
//! entry of `key=value` lines ([`settings`], [`BootConfig`]) and optionally a `weights.gguf`
//! entry (a model that replaces the embedded default). The kernel finds the ramdisk in its
//! boot information and parses it with the same code the host used to write it, so a setting
//! is defined once: one table of keys ([`settings::KEYS`]) serves the parser, the writer and
//! the unknown-key message. Every field is checked; a malformed archive or an unknown key is a
//! [`ConfigError`] that names what was wrong.
//!
//! # Notes
//! - Enum codes that reach traces (the policy in a decision record) are explicit numbers,
//!   never positions in a table, so reordering a table cannot change a trace.
//! - Both parsers are fuzzed (`kernel/fuzz-bootcfg`, target `bootcfg`); its seed corpus is
//!   also run by a host test here.

pub mod archive;
pub mod settings;
#[cfg(test)]
mod tests;

use core::fmt;

pub use crate::workload::Mix;
#[cfg(not(target_os = "none"))]
pub use archive::build_archive;
pub use archive::{
    ARCHIVE_MAGIC, ARCHIVE_VERSION, BootArchive, MAX_ENTRIES, SETTINGS_ENTRY, WEIGHTS_ENTRY,
};
pub use settings::{
    BootConfig, DEFAULT_RUN_TICKS, DEFAULT_SECONDS, DEFAULT_TICK_HZ, FILTER_BYTES, FilterTooLong,
    Job, KEYS, Key, LogLevel, ROUND_ROBIN_QUANTUM_TICKS, SECONDS_RANGE, SchedPolicy, TICK_HZ_RANGE,
};

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
    /// A key that is not in [`KEYS`].
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
            ConfigError::TooManyEntries { count } => write!(
                f,
                "boot archive has {count} entries, at most {MAX_ENTRIES} are allowed"
            ),
            ConfigError::Truncated { need, have } => write!(
                f,
                "boot archive is truncated: need {need} bytes, have {have}"
            ),
            ConfigError::EntryOutOfBounds { index, end, have } => write!(
                f,
                "boot archive entry {index} ends at byte {end}, past the archive's {have} bytes"
            ),
            ConfigError::BadEntryName { index } => write!(
                f,
                "boot archive entry {index} has a name that is not NUL-padded UTF-8"
            ),
            ConfigError::NotUtf8 => write!(f, "boot settings are not UTF-8 text"),
            ConfigError::MalformedLine { line } => {
                write!(f, "boot settings line {line}: expected key=value")
            }
            ConfigError::UnknownKey { line } => {
                write!(f, "boot settings line {line}: unknown key (known: ")?;
                for (i, key) in KEYS.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{}", key.name)?;
                }
                write!(f, ")")
            }
            ConfigError::BadValue {
                line,
                key,
                expected,
            } => write!(
                f,
                "boot settings line {line}: bad value for {key}: expected {expected}"
            ),
        }
    }
}
