//! The boot archive: the named entries the host packs into the bootloader's ramdisk.
//!
//! A tiny, versioned container, read by the kernel in place (entries are byte ranges borrowed
//! from the ramdisk, no copies) and written by the host with [`build_archive`]. The reader
//! checks the header, the entry table and that every entry lies inside the bytes it was given,
//! so no input can make it read out of bounds (fuzzed: `kernel/fuzz-bootcfg`).
//!
//! Layout (all integers little-endian):
//! ```text
//! 0   magic "AUGRBOOT"
//! 8   u32 version (= 1)
//! 12  u32 entry count (<= MAX_ENTRIES)
//! 16  entries: name [u8; 16] (UTF-8, NUL-padded), u64 offset, u64 length  (32 bytes each)
//! ..  entry data, each at its offset from the start of the archive
//! ```

use super::{BootConfig, ConfigError};

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
