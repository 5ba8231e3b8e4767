//! Host tests of the boot archive and settings: round trips, refusals that name what was
//! wrong, explicit trace codes, and the fuzz target's seed corpus run through both parsers.

use super::*;
use std::string::String;

fn archive_with(settings: &str) -> std::vec::Vec<u8> {
    build_archive(&[
        (SETTINGS_ENTRY, settings.as_bytes()),
        ("weights", b"GGUF...."),
    ])
    .unwrap()
}

#[test]
fn settings_round_trip_through_the_archive() {
    let mut config = BootConfig::default();
    config.job = Job::KTest;
    config.tick_hz = 250;
    config.run_ticks = 42;
    config.log_level = LogLevel::Debug;
    config.policy = SchedPolicy::Mlfq;
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

#[test]
fn every_key_round_trips_with_a_non_default_value() {
    let mut config = BootConfig::default();
    config.job = Job::Workload;
    config.tick_hz = 250;
    config.run_ticks = 42;
    config.log_level = LogLevel::Trace;
    config.policy = SchedPolicy::Learned;
    config.shadow = SchedPolicy::Fifo;
    config.workload = Mix::Io;
    config.seconds = 77;
    config.seed = u64::MAX;
    config.explore = 100;
    config.icount = true;
    config.set_ktest_filter("frames").unwrap();
    let mut text = String::new();
    config.write_text(&mut text).unwrap();
    // One line per key, in table order, each parsed back to the same value.
    let keys: std::vec::Vec<&str> = text.lines().map(|l| l.split_once('=').unwrap().0).collect();
    let table: std::vec::Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    assert_eq!(keys, table);
    assert_eq!(BootConfig::parse(&text).unwrap(), config);
    // Every field differs from its default, so a key the writer or parser dropped would show.
    let d = BootConfig::default();
    for line in text.lines() {
        let one = BootConfig::parse(line).unwrap();
        assert_ne!(one, d, "line `{line}` changed nothing");
    }
    // With no filter, no ktest line.
    let mut plain = String::new();
    BootConfig::default().write_text(&mut plain).unwrap();
    assert!(!plain.contains("ktest"), "{plain}");
    assert_eq!(BootConfig::parse(&plain).unwrap(), BootConfig::default());
}

#[test]
fn unknown_key_message_lists_every_known_key() {
    let err = BootConfig::parse("bogus=1").unwrap_err();
    let text = std::format!("{err}");
    assert!(
        text.starts_with("boot settings line 1: unknown key (known: job, tick_hz"),
        "{text}"
    );
    for key in KEYS {
        assert!(text.contains(key.name), "{text} lacks {}", key.name);
    }
}

#[test]
fn bad_values_name_the_key_and_what_it_takes() {
    for key in KEYS {
        let err = BootConfig::parse(&std::format!(
            "\n{}={}\u{7f}",
            key.name,
            "x".repeat(FILTER_BYTES + 1)
        ))
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::BadValue {
                line: 2,
                key: key.name,
                expected: key.expected
            }
        );
        let text = std::format!("{err}");
        assert!(
            text.contains(key.name) && text.contains(key.expected),
            "{text}"
        );
    }
}

#[test]
fn policy_trace_codes_are_the_documented_numbers() {
    // FORMAT.md: 0 rr, 1 cfs, 2 mlfq, 3 fifo, 4 learned.
    let want = [
        (SchedPolicy::RoundRobin, 0),
        (SchedPolicy::Cfs, 1),
        (SchedPolicy::Mlfq, 2),
        (SchedPolicy::Fifo, 3),
        (SchedPolicy::Learned, 4),
    ];
    for (policy, code) in want {
        assert_eq!(policy.code(), code);
        assert_eq!(SchedPolicy::from_code(code), Some(policy));
    }
    assert_eq!(SchedPolicy::from_code(5), None);
    assert_eq!(SchedPolicy::from_code(255), None);
}

#[test]
fn fuzz_seed_corpus_goes_through_both_parsers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-bootcfg/seeds/bootcfg");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        // The fuzz target's body: neither parser may panic, whatever the bytes.
        if let Ok(archive) = BootArchive::parse(&bytes) {
            let _ = archive.entries().count();
            let _ = archive.config();
        }
        if let Ok(text) = core::str::from_utf8(&bytes) {
            let _ = BootConfig::parse(text);
        }
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} seeds in {}", dir.display());
}
