//! Disk images for the Augur kernel.
//!
//! Wraps the `bootloader` 0.11 builder: the kernel ELF plus a boot-settings ramdisk (see
//! `augur_kernel::bootcfg`) become a BIOS (MBR) or UEFI (GPT + ESP) disk image that QEMU or a
//! USB stick boots. The bootloader's own console logging is limited to warnings, so COM1
//! carries the kernel's output and little else.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which firmware the image boots under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    Bios,
    Uefi,
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Firmware::Bios => "BIOS",
            Firmware::Uefi => "UEFI",
        })
    }
}

/// An image could not be built.
#[derive(Debug)]
pub struct ImageError {
    pub firmware: Firmware,
    pub image: PathBuf,
    pub cause: String,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not build the {} disk image {}: {}",
            self.firmware,
            self.image.display(),
            self.cause
        )
    }
}

impl std::error::Error for ImageError {}

/// The bootloader's own settings: warnings and errors only, on serial and screen.
fn bootloader_settings() -> bootloader::BootConfig {
    let mut config = bootloader::BootConfig::default();
    config.log_level = bootloader_boot_config::LevelFilter::Warn;
    config
}

/// Writes a disk image for `firmware` at `image` from the kernel ELF and an optional ramdisk.
pub fn build_image(
    firmware: Firmware,
    kernel: &Path,
    ramdisk: Option<&Path>,
    image: &Path,
) -> Result<(), ImageError> {
    let settings = bootloader_settings();
    let result = match firmware {
        Firmware::Bios => {
            let mut boot = bootloader::BiosBoot::new(kernel);
            boot.set_boot_config(&settings);
            if let Some(r) = ramdisk {
                boot.set_ramdisk(r);
            }
            boot.create_disk_image(image)
        }
        Firmware::Uefi => {
            let mut boot = bootloader::UefiBoot::new(kernel);
            boot.set_boot_config(&settings);
            if let Some(r) = ramdisk {
                boot.set_ramdisk(r);
            }
            boot.create_disk_image(image)
        }
    };
    result.map_err(|e| ImageError {
        firmware,
        image: image.to_owned(),
        cause: format!("{e:#}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_kernel_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("augur-boot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let image = dir.join("x.img");
        let err = build_image(
            Firmware::Bios,
            Path::new("/nonexistent/kernel"),
            None,
            &image,
        )
        .unwrap_err();
        assert_eq!(err.firmware, Firmware::Bios);
        assert!(
            err.to_string()
                .contains("could not build the BIOS disk image"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
