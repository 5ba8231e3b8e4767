//! Fuzzes the kernel's side of the boot ramdisk: the archive reader and the settings parser,
//! given arbitrary bytes. Neither may panic, loop without bound or read out of bounds (ASan;
//! overflow checks are on in fuzz builds). Whatever the settings parser accepts must survive a
//! round trip through the writer unchanged (one key table serves both), and every entry an
//! accepted archive lists must lie inside the archive.
//!
//! Run: `cd kernel && cargo fuzz run --fuzz-dir fuzz-bootcfg bootcfg fuzz-bootcfg/seeds/bootcfg -- -runs=10000000`

#![no_main]

use augur_kernel::bootcfg::{BootArchive, BootConfig};
use libfuzzer_sys::fuzz_target;

fn settings_round_trip(text: &str) {
    if let Ok(config) = BootConfig::parse(text) {
        let mut written = String::new();
        config.write_text(&mut written).expect("writing to a String");
        assert_eq!(BootConfig::parse(&written), Ok(config), "round trip of {text:?}");
    }
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(archive) = BootArchive::parse(bytes) {
        for (name, data) in archive.entries() {
            assert!(!name.is_empty() && data.len() <= bytes.len());
        }
        let _ = archive.config();
    }
    if let Ok(text) = core::str::from_utf8(bytes) {
        settings_round_trip(text);
    }
});
