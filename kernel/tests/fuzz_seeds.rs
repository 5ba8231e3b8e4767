//! Keeps the trace fuzzer's committed seed files (`kernel/fuzz/seeds/`) in step with the
//! encoder: each is a small real trace written with the kernel's own `TraceRing` (version 2)
//! or, for the old layout the reader still accepts, framed as a version-1 chunk; every seed
//! must read back with no damage, so the fuzzer starts from inputs that reach every decoder.
//! `AUGUR_WRITE_FUZZ_SEEDS=1 cargo test -p augur-kernel --test fuzz_seeds` regenerates them.

use augur_kernel::trace::{
    CHUNK_HEADER_BYTES, Candidates, Items, Record, Section, Sections, TraceReader, TraceRing, head,
    section, write_chunk_version,
};

/// Drains `ring` into a stream of chunks of at most `room` payload bytes.
fn drain<const N: usize>(ring: &mut TraceRing<N>, room: usize) -> Vec<u8> {
    let mut out = vec![0u8; CHUNK_HEADER_BYTES + room];
    let mut stream = Vec::new();
    loop {
        let n = ring.drain_chunk(&mut out).expect("drain");
        if n == 0 {
            return stream;
        }
        stream.extend_from_slice(&out[..n]);
    }
}

/// Every version-2 kind: sectioned telemetry, decisions of two heads, life cycle, the end.
fn all_kinds() -> Vec<u8> {
    let mut ring = TraceRing::<4096>::new();
    let sched: Vec<i32> = (0..12).collect();
    let secs = [
        Section {
            code: section::SCHED,
            version: 2,
            fields: Items::from_slice(&sched),
        },
        Section {
            code: section::MM,
            version: 1,
            fields: Items::from_slice(&[4096, -1]),
        },
    ];
    let feats: Vec<i16> = (0..16).collect();
    let records = [
        Record::TaskSpawn {
            tick: 0,
            task: 1,
            class: 1,
            name: "worker",
        },
        Record::Telemetry {
            tick: 0,
            sections: Sections::from_slice(&secs),
        },
        Record::Decision {
            tick: 0,
            head: head::SCHED,
            chosen: 1,
            policy: 4,
            fallback: Some(3),
            candidates: Candidates::columns(8, &[1, 2], &feats, &[5, -5]),
        },
        Record::TaskFirstRun { tick: 0, task: 1 },
        Record::Decision {
            tick: 1,
            head: head::BLK_EVICT,
            chosen: 0x1_0000_0000,
            policy: 0,
            fallback: None,
            candidates: Candidates::columns(3, &[0x1_0000_0000], &[1, 2, 3], &[0]),
        },
        Record::TaskBlock { tick: 1, task: 1 },
        Record::TaskWake { tick: 2, task: 1 },
        Record::TaskExit {
            tick: 3,
            task: 1,
            status: 3,
        },
    ];
    for r in &records {
        ring.push(r).expect("fits");
    }
    ring.close(4).expect("end fits");
    drain(&mut ring, 96)
}

/// Losses and kinds of a newer writer: unknown kinds, a full ring's dropped marker, the end.
fn drops_and_unknown_kinds() -> Vec<u8> {
    let mut ring = TraceRing::<64>::new();
    ring.push(&Record::Unknown {
        kind: 42,
        body: b"newer",
    })
    .expect("fits");
    // Fill until pushes are dropped, drain, and the marker lands before the next record.
    let wake = Record::TaskWake { tick: 9, task: 2 };
    while ring.push(&wake).is_ok() {}
    let _ = ring.push(&wake);
    let mut stream = drain(&mut ring, 40);
    ring.push(&Record::Unknown {
        kind: 250,
        body: &[],
    })
    .expect("fits");
    ring.close(10).expect("end fits");
    stream.extend(drain(&mut ring, 64));
    stream
}

/// The version-1 layouts, framed as a version-1 chunk: telemetry (schema 2, 12 fields), a
/// decision with u32 task ids and 8 features, an exit. Byte layout from the version-1
/// FORMAT.md (pinned in `trace::tests`); version 2 has no encoder for it.
fn version_1() -> Vec<u8> {
    let mut payload = vec![1u8, 60, 0];
    payload.extend_from_slice(&5u64.to_le_bytes());
    payload.extend_from_slice(&2u16.to_le_bytes());
    payload.extend_from_slice(&12u16.to_le_bytes());
    for f in 0..12i32 {
        payload.extend_from_slice(&f.to_le_bytes());
    }
    payload.extend_from_slice(&[2, 42, 0]);
    payload.extend_from_slice(&5u64.to_le_bytes());
    payload.extend_from_slice(&7u32.to_le_bytes());
    payload.extend_from_slice(&[4, 0, 0, 8, 1, 0]);
    payload.extend_from_slice(&7u32.to_le_bytes());
    for f in 0..8i16 {
        payload.extend_from_slice(&f.to_le_bytes());
    }
    payload.extend_from_slice(&(-1i32).to_le_bytes());
    // Life-cycle records have the same layout in both versions.
    let exit = Record::TaskExit {
        tick: 6,
        task: 7,
        status: 0,
    };
    let mut buf = [0u8; 32];
    let n = exit.encode(&mut buf).expect("encode");
    payload.extend_from_slice(&buf[..n]);
    let mut out = vec![0u8; CHUNK_HEADER_BYTES + payload.len()];
    let n = write_chunk_version(0, 1, &payload, &mut out).expect("chunk");
    out.truncate(n);
    out
}

#[test]
fn fuzz_seeds_are_undamaged_traces() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let seeds = [
        ("all-kinds.trace", all_kinds(), true),
        ("drops-unknown.trace", drops_and_unknown_kinds(), true),
        ("version-1.trace", version_1(), false),
    ];
    for (name, bytes, has_end) in seeds {
        let path = dir.join(name);
        if std::env::var_os("AUGUR_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            stored, bytes,
            "{name} is stale: regenerate (see module docs)"
        );
        let records: Vec<_> = TraceReader::new(&stored)
            .map(|e| e.unwrap_or_else(|e| panic!("{name}: {e}")).record)
            .collect();
        let last_is_end = matches!(records.last(), Some(Record::End { .. }));
        assert_eq!(last_is_end, has_end, "{name}: {records:?}");
        match name {
            "all-kinds.trace" => assert_eq!(records.len(), 9),
            "drops-unknown.trace" => {
                let kinds: Vec<u8> = records.iter().map(Record::kind).collect();
                assert!(kinds.contains(&42) && kinds.contains(&250), "{kinds:?}");
                assert!(kinds.contains(&8), "no dropped marker: {kinds:?}");
            }
            _ => assert_eq!(records.len(), 3),
        }
    }
}
