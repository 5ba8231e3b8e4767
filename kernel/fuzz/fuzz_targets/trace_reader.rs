//! Fuzzes the trace reader the host tools use (`TraceReader`: chunks, then records of format
//! version 1 or 2, including the end record and unknown kinds) with arbitrary bytes. Reading
//! must never panic, loop without bound or read out of bounds (ASan; overflow checks are on in
//! fuzz builds), and every record it yields must walk cleanly and, where it is encodable,
//! re-encode to bytes that decode to the same record.
//!
//! Run: `cd kernel/fuzz && cargo fuzz run trace_reader corpus/trace_reader seeds -- -max_total_time=300`

#![no_main]

use augur_kernel::trace::{FORMAT_VERSION, MAX_RECORD_BYTES, Record, TraceReader};
use libfuzzer_sys::fuzz_target;

/// Touches every part of `record` a reader can reach.
fn walk(record: &Record<'_>) {
    match *record {
        Record::Telemetry { sections, .. } => {
            let mut n = 0;
            for s in sections.iter() {
                n += s.fields.iter().map(i64::from).count();
            }
            assert_eq!(n, sections.field_count());
            assert_eq!(sections.iter().count(), sections.len());
        }
        Record::Decision { candidates, .. } => {
            for c in candidates.iter() {
                assert_eq!(c.features.len(), candidates.width());
                std::hint::black_box(c.features.iter().map(i32::from).sum::<i32>());
            }
            assert_eq!(candidates.iter().count(), candidates.len());
        }
        _ => {}
    }
    std::hint::black_box(record.tick());
}

/// A decoded record re-encodes (in the current version) to bytes that decode back to it.
fn round_trip(record: &Record<'_>) {
    let mut buf = [0u8; MAX_RECORD_BYTES];
    if let Ok(n) = record.encode(&mut buf) {
        let (back, used) = Record::decode(&buf[..n]).expect("re-encoded record decodes");
        assert_eq!(used, n);
        assert_eq!(&back, record);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut items = 0usize;
    for item in TraceReader::new(data) {
        items += 1;
        // Each damage report consumes at least one byte, each record at least three.
        assert!(items <= data.len() + 1, "reader does not advance");
        if let Ok(entry) = item {
            walk(&entry.record);
            round_trip(&entry.record);
        }
    }
    // The record decoder on its own, in both layouts.
    for version in 1..=FORMAT_VERSION {
        if let Ok((record, used)) = Record::decode_version(data, version) {
            assert!(used <= data.len());
            walk(&record);
        }
    }
});
