//! Host tests of the trace format: record round trips, pinned byte layouts (version 2 and the
//! version-1 layouts still read), the ring's drop and end accounting, unknown kinds, and
//! reading truncated, bit-flipped, gapped and garbage-laden streams.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

/// An owned record, so proptest can generate one and a test can borrow a [`Record`] from it.
/// Variable-length parts are leaked (`'static`): a test's records live for the whole test.
#[derive(Debug, Clone)]
enum Owned {
    Telemetry {
        tick: u64,
        sections: Vec<Section<'static>>,
    },
    Decision {
        tick: u64,
        head: u8,
        chosen: u64,
        policy: u8,
        fallback: Option<u8>,
        cands: Candidates<'static>,
    },
    End {
        tick: u64,
        records: u64,
        dropped: u64,
    },
    Unknown {
        kind: u8,
        body: Vec<u8>,
    },
    Spawn {
        tick: u64,
        task: u32,
        class: u8,
        name: String,
    },
    FirstRun {
        tick: u64,
        task: u32,
    },
    Block {
        tick: u64,
        task: u32,
    },
    Wake {
        tick: u64,
        task: u32,
    },
    Exit {
        tick: u64,
        task: u32,
        status: i32,
    },
    Dropped {
        records: u64,
    },
}

impl Owned {
    fn record(&self) -> Record<'_> {
        match self {
            Owned::Telemetry { tick, sections } => Record::Telemetry {
                tick: *tick,
                sections: Sections::from_slice(sections),
            },
            Owned::Decision {
                tick,
                head,
                chosen,
                policy,
                fallback,
                cands,
            } => Record::Decision {
                tick: *tick,
                head: *head,
                chosen: *chosen,
                policy: *policy,
                fallback: *fallback,
                candidates: *cands,
            },
            Owned::End {
                tick,
                records,
                dropped,
            } => Record::End {
                tick: *tick,
                records: *records,
                dropped: *dropped,
            },
            Owned::Unknown { kind, body } => Record::Unknown { kind: *kind, body },
            Owned::Spawn {
                tick,
                task,
                class,
                name,
            } => Record::TaskSpawn {
                tick: *tick,
                task: *task,
                class: *class,
                name,
            },
            Owned::FirstRun { tick, task } => Record::TaskFirstRun {
                tick: *tick,
                task: *task,
            },
            Owned::Block { tick, task } => Record::TaskBlock {
                tick: *tick,
                task: *task,
            },
            Owned::Wake { tick, task } => Record::TaskWake {
                tick: *tick,
                task: *task,
            },
            Owned::Exit { tick, task, status } => Record::TaskExit {
                tick: *tick,
                task: *task,
                status: *status,
            },
            Owned::Dropped { records } => Record::Dropped { records: *records },
        }
    }
}

/// Leaks `v` for a test's `'static` records.
fn leak<T>(v: Vec<T>) -> &'static [T] {
    v.leak()
}

/// Candidate columns: `ids.len()` candidates of `width` features, leaked.
fn columns(
    width: usize,
    ids: Vec<u64>,
    features: Vec<i16>,
    scores: Vec<i32>,
) -> Candidates<'static> {
    Candidates::columns(width, leak(ids), leak(features), leak(scores))
}

/// Candidates of any head shape: width 0..=32, up to `max` of them (and the feature cap).
fn candidates(max: usize) -> impl Strategy<Value = Candidates<'static>> {
    (0..=MAX_CANDIDATE_FEATURES).prop_flat_map(move |width| {
        let n_max = max
            .min(MAX_CANDIDATES)
            .min(MAX_DECISION_FEATURE_VALUES / width.max(1));
        prop::collection::vec(
            (
                any::<u64>(),
                prop::collection::vec(any::<i16>(), width),
                any::<i32>(),
            ),
            0..=n_max,
        )
        .prop_map(move |rows| {
            let ids = rows.iter().map(|r| r.0).collect();
            let features = rows.iter().flat_map(|r| r.1.iter().copied()).collect();
            let scores = rows.iter().map(|r| r.2).collect();
            columns(width, ids, features, scores)
        })
    })
}

/// Telemetry sections with distinct codes and at most `max_fields` fields each.
fn sections(max_fields: usize) -> impl Strategy<Value = Vec<Section<'static>>> {
    prop::collection::btree_map(
        any::<u8>(),
        (
            any::<u16>(),
            prop::collection::vec(any::<i32>(), 0..=max_fields),
        ),
        0..=4,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(code, (version, fields))| Section {
                code,
                version,
                fields: Items::from_slice(leak(fields)),
            })
            .collect()
    })
}

fn owned(max_items: usize) -> impl Strategy<Value = Owned> {
    let name = prop_oneof!["[a-z0-9_-]{0,32}", "\\PC{0,8}"];
    prop_oneof![
        (any::<u64>(), sections(max_items))
            .prop_map(|(tick, sections)| Owned::Telemetry { tick, sections }),
        (
            any::<u64>(),
            any::<u8>(),
            any::<u64>(),
            any::<u8>(),
            any::<Option<u8>>(),
            candidates(max_items),
        )
            .prop_map(
                |(tick, head, chosen, policy, fallback, cands)| Owned::Decision {
                    tick,
                    head,
                    chosen,
                    policy,
                    fallback,
                    cands
                }
            ),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(tick, records, dropped)| {
            Owned::End {
                tick,
                records,
                dropped,
            }
        }),
        (10u8..=255, prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(kind, body)| Owned::Unknown { kind, body }),
        (any::<u64>(), any::<u32>(), any::<u8>(), name).prop_map(|(tick, task, class, name)| {
            Owned::Spawn {
                tick,
                task,
                class,
                name,
            }
        }),
        (any::<u64>(), any::<u32>()).prop_map(|(tick, task)| Owned::FirstRun { tick, task }),
        (any::<u64>(), any::<u32>()).prop_map(|(tick, task)| Owned::Block { tick, task }),
        (any::<u64>(), any::<u32>()).prop_map(|(tick, task)| Owned::Wake { tick, task }),
        (any::<u64>(), any::<u32>(), any::<i32>()).prop_map(|(tick, task, status)| Owned::Exit {
            tick,
            task,
            status
        }),
        any::<u64>().prop_map(|records| Owned::Dropped { records }),
    ]
}

/// Records the kernel pushes (`Dropped` markers and the end record are the ring's own).
fn ring_record() -> impl Strategy<Value = Owned> {
    owned(6).prop_filter("markers and the end are the ring's", |o| {
        !matches!(o, Owned::Dropped { .. } | Owned::End { .. })
    })
}

fn encode_vec(r: &Record<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_RECORD_BYTES];
    let n = r.encode(&mut buf).expect("valid record");
    buf.truncate(n);
    buf
}

proptest! {
    #[test]
    fn every_record_kind_round_trips(o in owned(MAX_TELEMETRY_FIELDS / 4)) {
        let r = o.record();
        let bytes = encode_vec(&r);
        prop_assert_eq!(bytes.len(), r.encoded_len().unwrap());
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0xAA; 7]);
        let (back, used) = Record::decode(&padded).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, r);
        // A decoded record (borrowing the wire bytes) re-encodes to the same bytes.
        prop_assert_eq!(encode_vec(&back), bytes.clone());
        for cut in 0..bytes.len() {
            let truncated = matches!(
                Record::decode(&bytes[..cut]),
                Err(DecodeError::Truncated { have, .. }) if have == cut
            );
            prop_assert!(truncated, "cut at {}", cut);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Record::decode(&bytes);
        let mut with_magic = CHUNK_MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        prop_assert!(TraceReader::new(&with_magic).count() <= with_magic.len() + 1);
    }

    #[test]
    fn ring_preserves_order_and_counts_every_drop(
        ops in prop::collection::vec(
            prop_oneof![3 => ring_record().prop_map(Some), 1 => Just(None)], 1..120),
        drain_room in 40usize..400,
    ) {
        let mut ring = TraceRing::<256>::new();
        let mut stream = Vec::new();
        let (mut kept, mut failed) = (Vec::new(), 0u64);
        let mut out = vec![0u8; CHUNK_HEADER_BYTES + MIN_DRAIN_BUFFER];
        for op in &ops {
            match op {
                Some(o) => match ring.push(&o.record()) {
                    Ok(()) => kept.push(o.clone()),
                    Err(e) => {
                        prop_assert_eq!(e, PushError::Full);
                        failed += 1;
                    }
                },
                // A partial drain into a small buffer: whole records only, or nothing at all.
                None => match ring.drain_chunk(&mut out[..CHUNK_HEADER_BYTES + drain_room]) {
                    Ok(n) => stream.extend_from_slice(&out[..n]),
                    Err(ChunkError::BufferTooSmall { .. }) => {}
                    Err(e) => prop_assert!(false, "{}", e),
                },
            }
        }
        loop {
            let n = ring.drain_chunk(&mut out).unwrap();
            if n == 0 {
                break;
            }
            stream.extend_from_slice(&out[..n]);
        }
        prop_assert!(ring.is_empty());
        prop_assert_eq!(ring.dropped_total(), failed);

        let mut got = Vec::new();
        let mut markers = 0;
        for e in TraceReader::new(&stream) {
            let e = e.expect("an undamaged stream");
            match e.record {
                Record::Dropped { records } => markers += records,
                r => got.push(r),
            }
        }
        let want: Vec<Record<'_>> = kept.iter().map(Owned::record).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(markers, failed);
    }
}

/// One `sched` section of `fields`.
fn sched_section(fields: &'static [i32]) -> [Section<'static>; 1] {
    [Section {
        code: section::SCHED,
        version: 2,
        fields: Items::from_slice(fields),
    }]
}

#[test]
fn encoder_rejects_over_limit_bad_shapes_and_short_buffers() {
    let fields = leak(vec![7i32; MAX_TELEMETRY_FIELDS + 1]);
    let secs = sched_section(fields);
    let r = Record::Telemetry {
        tick: 1,
        sections: Sections::from_slice(&secs),
    };
    let too_many = EncodeError::TooMany {
        kind: record::kind::TELEMETRY,
        count: MAX_TELEMETRY_FIELDS + 1,
        max: MAX_TELEMETRY_FIELDS,
    };
    assert_eq!(r.encode(&mut [0; 4096]), Err(too_many));
    let mut ring = TraceRing::<1024>::new();
    assert_eq!(ring.push(&r), Err(PushError::Invalid(too_many)));
    assert_eq!(ring.dropped_total(), 1);
    assert!(too_many.to_string().contains("telemetry"));

    let dup = [secs[0], secs[0]];
    let r = Record::Telemetry {
        tick: 1,
        sections: Sections::from_slice(&dup),
    };
    assert_eq!(
        r.encoded_len(),
        Err(EncodeError::DuplicateSection {
            code: section::SCHED
        })
    );

    // Three ids, but features for two of width 2 and one score short.
    let bad = Record::Decision {
        tick: 0,
        head: head::MM,
        chosen: 1,
        policy: 0,
        fallback: None,
        candidates: Candidates::columns(2, &[1, 2, 3], &[0; 4], &[0; 2]),
    };
    let shape = EncodeError::Shape {
        candidates: 3,
        width: 2,
        features: 4,
        scores: 2,
    };
    assert_eq!(bad.encoded_len(), Err(shape));
    assert!(shape.to_string().contains("want 6"), "{shape}");
    let wide = Record::Decision {
        tick: 0,
        head: head::MM,
        chosen: 1,
        policy: 0,
        fallback: None,
        candidates: Candidates::none(MAX_CANDIDATE_FEATURES + 1),
    };
    assert!(matches!(
        wide.encoded_len(),
        Err(EncodeError::TooMany {
            count: 33,
            max: 32,
            ..
        })
    ));
    let known = Record::Unknown {
        kind: record::kind::TASK_EXIT,
        body: &[0; 16],
    };
    assert_eq!(
        known.encoded_len(),
        Err(EncodeError::KnownKind {
            kind: record::kind::TASK_EXIT
        })
    );

    let name = "a-name-that-is-longer-than-thirty-two-bytes";
    let r = Record::TaskSpawn {
        tick: 0,
        task: 1,
        class: 0,
        name,
    };
    assert!(matches!(
        r.encode(&mut [0; 128]),
        Err(EncodeError::TooMany { .. })
    ));
    let r = Record::TaskExit {
        tick: 3,
        task: 4,
        status: -1,
    };
    assert_eq!(
        r.encode(&mut [0; 10]),
        Err(EncodeError::BufferTooSmall { need: 19, have: 10 })
    );
}

#[test]
fn largest_records_fit_a_tick_drain() {
    // A full decision (64 candidates of width 16 = the 1024-value cap) and a full telemetry
    // record are within MAX_RECORD_BYTES, which the kernel's 4 KiB tick drain must hold.
    let d = Record::Decision {
        tick: 0,
        head: head::BLK_EVICT,
        chosen: 0,
        policy: 0,
        fallback: None,
        candidates: columns(16, vec![0; 64], vec![0; 1024], vec![0; 64]),
    };
    assert_eq!(d.encoded_len(), Ok(3 + 23 + 64 * (12 + 32)));
    assert!(d.encoded_len().unwrap() <= MAX_RECORD_BYTES);
    const { assert!(CHUNK_HEADER_BYTES + MAX_RECORD_BYTES <= 4096) };
    assert_eq!(
        encode_vec(&Record::End {
            tick: 0,
            records: 0,
            dropped: 0
        })
        .len(),
        END_RECORD_BYTES
    );
}

#[test]
fn exit_record_layout_is_pinned() {
    // kind 7, body 16, tick 0x0102, task 9, status -2: the layout FORMAT.md gives.
    let bytes = encode_vec(&Record::TaskExit {
        tick: 0x0102,
        task: 9,
        status: -2,
    });
    let want = [
        7, 16, 0, 2, 1, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff,
    ];
    assert_eq!(bytes, want);
    assert_eq!(
        encode_vec(&Record::Dropped { records: 0 }).len(),
        DROPPED_MARKER_BYTES
    );
}

/// The FORMAT.md example of a version-2 decision: head 3 (blk-evict) at tick 5 chose block
/// 0x1234 under policy 1 with fallback reason 4; width 2, one candidate 0x1234 with features
/// (−1, 2) and score 7.
const DECISION_V2_BYTES: [u8; 3 + 23 + 16] = [
    2, 39, 0, // kind 2, body_len 39
    5, 0, 0, 0, 0, 0, 0, 0, // tick 5
    3, // head blk-evict
    0x34, 0x12, 0, 0, 0, 0, 0, 0, // chosen 0x1234
    1, 1, 4, // policy 1, fallback flag 1, reason 4
    2, // width 2
    1, 0, // n 1
    0x34, 0x12, 0, 0, 0, 0, 0, 0, // id 0x1234
    0xff, 0xff, 2, 0, // features -1, 2
    7, 0, 0, 0, // score 7
];

/// The FORMAT.md example of a version-2 telemetry record: tick 9, section sched v2 with
/// fields (1, −1), section mm v1 with no fields.
const TELEMETRY_V2_BYTES: [u8; 3 + 9 + 5 + 8 + 5] = [
    1, 27, 0, // kind 1, body_len 27
    9, 0, 0, 0, 0, 0, 0, 0, // tick 9
    2, // 2 sections
    1, 2, 0, 2, 0, // sched, version 2, 2 fields
    1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, // 1, -1
    2, 1, 0, 0, 0, // mm, version 1, 0 fields
];

/// The FORMAT.md example of an end record: tick 0x10, 300 records written, 2 dropped.
const END_BYTES: [u8; 27] = [
    9, 24, 0, // kind 9, body_len 24
    0x10, 0, 0, 0, 0, 0, 0, 0, // tick 16
    0x2c, 1, 0, 0, 0, 0, 0, 0, // records 300
    2, 0, 0, 0, 0, 0, 0, 0, // dropped 2
];

#[test]
fn version_2_layouts_are_pinned() {
    let cands = Candidates::columns(2, &[0x1234], &[-1, 2], &[7]);
    let d = Record::Decision {
        tick: 5,
        head: head::BLK_EVICT,
        chosen: 0x1234,
        policy: 1,
        fallback: Some(4),
        candidates: cands,
    };
    assert_eq!(encode_vec(&d), DECISION_V2_BYTES);
    let (back, _) = Record::decode(&DECISION_V2_BYTES).unwrap();
    assert_eq!(back, d);
    let Record::Decision { candidates, .. } = back else {
        unreachable!()
    };
    let c = candidates.get(0).unwrap();
    assert_eq!(
        (c.id, c.features.to_array(), c.score),
        (0x1234, Some([-1, 2]), 7)
    );

    let secs = [
        Section {
            code: section::SCHED,
            version: 2,
            fields: Items::from_slice(&[1, -1]),
        },
        Section {
            code: section::MM,
            version: 1,
            fields: Items::from_slice(&[]),
        },
    ];
    let t = Record::Telemetry {
        tick: 9,
        sections: Sections::from_slice(&secs),
    };
    assert_eq!(encode_vec(&t), TELEMETRY_V2_BYTES);
    let (back, _) = Record::decode(&TELEMETRY_V2_BYTES).unwrap();
    assert_eq!(back, t);
    let Record::Telemetry { sections, .. } = back else {
        unreachable!()
    };
    assert_eq!(sections.get(section::MM).map(|s| s.version), Some(1));
    assert_eq!(sections.field_count(), 2);

    let e = Record::End {
        tick: 0x10,
        records: 300,
        dropped: 2,
    };
    assert_eq!(encode_vec(&e), END_BYTES);
    assert_eq!(Record::decode(&END_BYTES), Ok((e, END_BYTES.len())));
}

/// A version-1 decision (hand-checked from the version-1 FORMAT.md): tick 3, chosen task 7,
/// policy 4, fallback reason 3, 8 features, one candidate task 7 with features 0..8, score −5.
const DECISION_V1_BYTES: [u8; 3 + 18 + 24] = [
    2, 42, 0, // kind 2, body_len 42
    3, 0, 0, 0, 0, 0, 0, 0, // tick 3
    7, 0, 0, 0, // chosen 7 (u32)
    4, 1, 3, 8, // policy 4, flag 1, reason 3, features 8
    1, 0, // n 1
    7, 0, 0, 0, // task 7 (u32)
    0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, // features 0..8
    0xfb, 0xff, 0xff, 0xff, // score -5
];

/// A version-1 telemetry record: tick 2, schema 2, fields (5, 6).
const TELEMETRY_V1_BYTES: [u8; 3 + 12 + 8] = [
    1, 20, 0, // kind 1, body_len 20
    2, 0, 0, 0, 0, 0, 0, 0, // tick 2
    2, 0, 2, 0, // schema 2, n 2
    5, 0, 0, 0, 6, 0, 0, 0, // 5, 6
];

#[test]
fn version_1_layouts_still_decode() {
    let (d, used) = Record::decode_version(&DECISION_V1_BYTES, 1).unwrap();
    assert_eq!(used, DECISION_V1_BYTES.len());
    let features: Vec<i16> = (0..8).collect();
    let want = Record::Decision {
        tick: 3,
        head: head::SCHED,
        chosen: 7,
        policy: 4,
        fallback: Some(3),
        candidates: Candidates::columns(8, &[7], &features, &[-5]),
    };
    assert_eq!(d, want);
    let (t, _) = Record::decode_version(&TELEMETRY_V1_BYTES, 1).unwrap();
    let secs = [Section {
        code: section::SCHED,
        version: 2,
        fields: Items::from_slice(&[5, 6]),
    }];
    let want_t = Record::Telemetry {
        tick: 2,
        sections: Sections::from_slice(&secs),
    };
    assert_eq!(t, want_t);
    // The same bytes read as version 2 are no valid record: layouts are per version.
    assert!(Record::decode(&DECISION_V1_BYTES).is_err());
    // Kind 9 is unknown in version 1 (it has no end record).
    let (u, _) = Record::decode_version(&END_BYTES, 1).unwrap();
    assert!(matches!(u, Record::Unknown { kind: 9, body } if body.len() == 24));

    // A version-1 stream: chunk version 1, read by the same reader.
    let mut payload = DECISION_V1_BYTES.to_vec();
    payload.extend_from_slice(&TELEMETRY_V1_BYTES);
    let mut out = [0u8; 256];
    let n = write_chunk_version(0, 1, &payload, &mut out).unwrap();
    let entries: Vec<_> = TraceReader::new(&out[..n]).map(Result::unwrap).collect();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.version == 1));
    assert_eq!((entries[0].record, entries[1].record), (want, want_t));
    // Version 3 is not readable.
    let n = write_chunk_version(0, 3, &payload, &mut out).unwrap();
    let err = TraceReader::new(&out[..n]).next().unwrap().unwrap_err();
    assert_eq!(err.damage, Damage::UnsupportedVersion { found: 3 });
    assert!(err.to_string().contains("knows 1 to 2"), "{err}");
}

#[test]
fn unknown_kinds_are_skipped_by_length_not_damage() {
    let exit = Record::TaskExit {
        tick: 1,
        task: 2,
        status: 3,
    };
    let mut ring = TraceRing::<512>::new();
    ring.push(&exit).unwrap();
    ring.push(&Record::Unknown {
        kind: 200,
        body: &[1, 2, 3, 4, 5],
    })
    .unwrap();
    ring.push(&Record::Unknown {
        kind: 77,
        body: &[],
    })
    .unwrap();
    ring.push(&exit).unwrap();
    let mut out = [0u8; 512];
    let n = ring.drain_chunk(&mut out).unwrap();
    let (recs, errs) = read(&out[..n]);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(
        recs,
        [
            exit,
            Record::Unknown {
                kind: 200,
                body: &[1, 2, 3, 4, 5]
            },
            Record::Unknown {
                kind: 77,
                body: &[]
            },
            exit
        ]
    );
}

#[test]
fn decoder_names_what_is_wrong() {
    let exit = encode_vec(&Record::TaskExit {
        tick: 1,
        task: 2,
        status: 3,
    });
    let mut long = exit.clone();
    long[1] = 17;
    long.push(0);
    let bad_len = DecodeError::BadLength {
        kind: record::kind::TASK_EXIT,
        len: 17,
    };
    assert_eq!(Record::decode(&long), Err(bad_len));

    let d = encode_vec(&Record::Decision {
        tick: 1,
        head: head::SCHED,
        chosen: 1,
        policy: 2,
        fallback: None,
        candidates: Candidates::columns(8, &[1], &[0; 8], &[5]),
    });
    let mut flag = d.clone();
    flag[3 + 19] = 9; // a reason without the fallback flag
    assert_eq!(
        Record::decode(&flag),
        Err(DecodeError::BadFallback { flag: 0, reason: 9 })
    );
    let mut width = d.clone();
    width[3 + 20] = 4; // width 4: the body is now the wrong length
    assert!(matches!(
        Record::decode(&width),
        Err(DecodeError::BadLength { .. })
    ));
    width[3 + 20] = 40;
    assert!(matches!(
        Record::decode(&width),
        Err(DecodeError::TooMany {
            count: 40,
            max: 32,
            ..
        })
    ));
    let mut feats = DECISION_V1_BYTES;
    feats[3 + 15] = 4;
    assert_eq!(
        Record::decode_version(&feats, 1),
        Err(DecodeError::FeatureCount { found: 4 })
    );
    let mut dup = TELEMETRY_V2_BYTES;
    dup[3 + 9 + 13] = section::SCHED; // the mm section becomes a second sched
    assert_eq!(
        Record::decode(&dup),
        Err(DecodeError::DuplicateSection {
            code: section::SCHED
        })
    );
    let mut short = TELEMETRY_V2_BYTES;
    short[3 + 9 + 3] = 3; // sched claims 3 fields
    assert!(matches!(
        Record::decode(&short),
        Err(DecodeError::BadLength { .. })
    ));

    let s = encode_vec(&Record::TaskSpawn {
        tick: 0,
        task: 1,
        class: 0,
        name: "ab",
    });
    let mut bad = s.clone();
    bad[3 + 14] = 0xff;
    assert_eq!(Record::decode(&bad), Err(DecodeError::BadName));
}

#[test]
fn close_writes_the_end_record_last_with_the_counts() {
    let ev = |t| Record::TaskWake { tick: t, task: 1 };
    // 15 bytes per record: four fit in 64, the fifth is dropped.
    let mut ring = TraceRing::<64>::new();
    for t in 0..5 {
        let _ = ring.push(&ev(t));
    }
    assert_eq!((ring.written_total(), ring.dropped_total()), (4, 1));
    // No room for the end record (and the marker): refused, not dropped.
    assert_eq!(ring.close(5), Err(PushError::Full));
    assert_eq!(ring.dropped_total(), 1);
    let mut stream = Vec::new();
    let mut out = [0u8; 256];
    let n = ring.drain_chunk(&mut out).unwrap();
    stream.extend_from_slice(&out[..n]);
    ring.close(5).unwrap();
    assert!(ring.is_closed());
    assert_eq!(ring.push(&ev(6)), Err(PushError::Closed));
    assert_eq!(ring.close(6), Err(PushError::Closed));
    assert_eq!(
        ring.dropped_total(),
        1,
        "pushes after the end are not losses"
    );
    let n = ring.drain_chunk(&mut out).unwrap();
    stream.extend_from_slice(&out[..n]);
    let (recs, errs) = read(&stream);
    assert!(errs.is_empty());
    assert_eq!(
        recs,
        [
            ev(0),
            ev(1),
            ev(2),
            ev(3),
            Record::Dropped { records: 1 },
            Record::End {
                tick: 5,
                records: 4,
                dropped: 1
            }
        ]
    );
}

/// Chunk boundaries of a test stream: (start, end, the records in it).
type Layout<'a> = Vec<(usize, usize, Vec<Record<'a>>)>;

fn sample_records() -> Vec<Owned> {
    let mut v = Vec::new();
    for t in 0..24u64 {
        let task = (t % 5) as u32;
        v.push(Owned::Telemetry {
            tick: t,
            sections: vec![Section {
                code: section::SCHED,
                version: 2,
                fields: Items::from_slice(leak((0..6).map(|i| i * t as i32).collect())),
            }],
        });
        v.push(match t % 4 {
            0 => Owned::Spawn {
                tick: t,
                task,
                class: 2,
                name: std::format!("worker-{t}"),
            },
            1 => Owned::Decision {
                tick: t,
                head: if t % 8 == 5 {
                    head::BLK_EVICT
                } else {
                    head::SCHED
                },
                chosen: u64::from(task),
                policy: 3,
                fallback: (t % 8 == 1).then_some(2),
                cands: columns(
                    8,
                    (0..3).collect(),
                    (0..24).map(|i| (i / 8) as i16).collect(),
                    (0..3).map(|c: i32| -c).collect(),
                ),
            },
            2 => Owned::Block { tick: t, task },
            _ => Owned::Exit {
                tick: t,
                task,
                status: t as i32 - 10,
            },
        });
    }
    v
}

/// Pushes `records` through a ring and drains it in small chunks.
fn build_stream(records: &[Owned]) -> (Vec<u8>, Layout<'_>) {
    let mut ring = TraceRing::<4096>::new();
    for o in records {
        ring.push(&o.record()).expect("the ring is large enough");
    }
    let mut stream = Vec::new();
    let mut out = [0u8; CHUNK_HEADER_BYTES + 160];
    loop {
        let n = ring.drain_chunk(&mut out).unwrap();
        if n == 0 {
            break;
        }
        stream.extend_from_slice(&out[..n]);
    }
    let mut layout = Layout::new();
    let mut next = 0;
    let mut at = 0;
    while at < stream.len() {
        let chunk = Chunk::parse(&stream, at).unwrap();
        let mut recs = Vec::new();
        let mut p = 0;
        while p < chunk.payload.len() {
            let (r, used) = Record::decode(&chunk.payload[p..]).unwrap();
            assert_eq!(r, records[next].record());
            recs.push(records[next].record());
            next += 1;
            p += used;
        }
        layout.push((at, at + chunk.len(), recs));
        at += chunk.len();
    }
    (stream, layout)
}

fn read(stream: &[u8]) -> (Vec<Record<'_>>, Vec<StreamError>) {
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    for e in TraceReader::new(stream) {
        match e {
            Ok(e) => recs.push(e.record),
            Err(e) => errs.push(e),
        }
    }
    (recs, errs)
}

#[test]
fn stream_is_deterministic_and_multi_chunk() {
    let records = sample_records();
    let (a, layout) = build_stream(&records);
    let (b, _) = build_stream(&records);
    assert_eq!(a, b);
    assert!(layout.len() >= 5, "{} chunks", layout.len());
    let (recs, errs) = read(&a);
    assert!(errs.is_empty(), "{errs:?}");
    let want: Vec<_> = records.iter().map(Owned::record).collect();
    assert_eq!(recs, want);
}

#[test]
fn chunk_crc_is_crc32_iso_hdlc() {
    // Expected values from Python's zlib.crc32 over header bytes 4..16 and the payload.
    let mut out = [0u8; 64];
    // Version 2 (what write_chunk writes): zlib.crc32(pack('<HHII', 2, 0, 7, 0)).
    let n = write_chunk(7, &[], &mut out).unwrap();
    assert_eq!(&out[..6], b"AUGT\x02\x00");
    assert_eq!(&out[16..20], &0x9d2b_51e9u32.to_le_bytes());
    assert_eq!(n, CHUNK_HEADER_BYTES);
    let payload = encode_vec(&Record::Dropped { records: 5 });
    write_chunk(0, &payload, &mut out).unwrap();
    assert_eq!(&out[16..20], &0xa036_fe86u32.to_le_bytes());
    // Version-1 headers keep their old CRCs.
    write_chunk_version(7, 1, &[], &mut out).unwrap();
    assert_eq!(&out[16..20], &0xeab5_8319u32.to_le_bytes());
    write_chunk_version(0, 1, &payload, &mut out).unwrap();
    assert_eq!(&out[16..20], &0xd6d3_c7bbu32.to_le_bytes());
}

#[test]
fn truncation_at_every_offset_keeps_the_intact_prefix_and_says_where() {
    let records = sample_records();
    let (stream, layout) = build_stream(&records);
    for cut in 0..=stream.len() {
        let (recs, errs) = read(&stream[..cut]);
        let intact: Vec<_> = layout
            .iter()
            .filter(|c| c.1 <= cut)
            .flat_map(|c| c.2.iter().copied())
            .collect();
        assert_eq!(recs, intact, "cut at {cut}");
        match layout.iter().position(|c| c.0 < cut && cut < c.1) {
            None => assert!(errs.is_empty(), "cut at boundary {cut}: {errs:?}"),
            Some(k) => {
                let e = &errs[0];
                assert_eq!(e.offset, layout[k].0, "cut at {cut}");
                assert!(
                    matches!(e.damage, Damage::Truncated { .. }),
                    "cut at {cut}: {e}"
                );
                let at = std::format!("at byte {}", layout[k].0);
                assert!(e.to_string().contains(&at), "{e}");
            }
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_loses_only_its_chunk() {
    let records = sample_records();
    let (stream, layout) = build_stream(&records);
    for byte in 0..stream.len() {
        let k = layout
            .iter()
            .position(|c| c.0 <= byte && byte < c.1)
            .unwrap();
        let want: Vec<_> = layout
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != k)
            .flat_map(|(_, c)| c.2.iter().copied())
            .collect();
        for bit in 0..8 {
            let mut damaged = stream.clone();
            damaged[byte] ^= 1 << bit;
            let (recs, errs) = read(&damaged);
            assert_eq!(recs, want, "bit {bit} of byte {byte}");
            assert_eq!(errs[0].offset, layout[k].0, "bit {bit} of byte {byte}");
            if k + 1 < layout.len() {
                let gap = Damage::SequenceGap {
                    expected: k as u32,
                    found: k as u32 + 1,
                };
                assert!(errs.iter().any(|e| e.damage == gap), "{errs:?}");
            }
        }
    }
}

#[test]
fn a_missing_chunk_is_a_sequence_gap() {
    let records = sample_records();
    let (stream, layout) = build_stream(&records);
    let (start, end, _) = layout[2];
    let mut cut = stream[..start].to_vec();
    cut.extend_from_slice(&stream[end..]);
    let (recs, errs) = read(&cut);
    assert_eq!(recs.len(), records.len() - layout[2].2.len());
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].damage,
        Damage::SequenceGap {
            expected: 2,
            found: 3
        }
    );
    assert_eq!(errs[0].offset, start);
    assert!(
        errs[0].to_string().contains("expected chunk #2, found #3"),
        "{}",
        errs[0]
    );
}

#[test]
fn garbage_between_chunks_is_skipped_and_reported() {
    let records = sample_records();
    let (stream, layout) = build_stream(&records);
    let at = layout[1].1;
    let mut noisy = stream[..at].to_vec();
    noisy.extend_from_slice(b"line noise\n");
    noisy.extend_from_slice(&stream[at..]);
    let (recs, errs) = read(&noisy);
    assert_eq!(recs.len(), records.len());
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].offset, at);
    assert_eq!(errs[0].resume_at, at + 11);
    assert!(matches!(errs[0].damage, Damage::BadMagic { found } if &found == b"line"));
}

#[test]
fn full_ring_drops_counts_and_marks_the_gap() {
    let ev = |t| Record::TaskWake { tick: t, task: 1 };
    // 15 bytes per record: four fit in 64, the fifth and sixth are dropped.
    let mut ring = TraceRing::<64>::new();
    for t in 0..4 {
        ring.push(&ev(t)).unwrap();
    }
    assert_eq!(ring.push(&ev(4)), Err(PushError::Full));
    assert_eq!(ring.push(&ev(5)), Err(PushError::Full));
    assert_eq!(
        (ring.dropped_total(), ring.pending_dropped(), ring.len()),
        (2, 2, 60)
    );

    // Drain two; then one more record fits behind the marker for the two lost ones.
    let mut out = [0u8; CHUNK_HEADER_BYTES + 30];
    let n = ring.drain_chunk(&mut out).unwrap();
    let mut stream = out[..n].to_vec();
    ring.push(&ev(6)).unwrap();
    assert_eq!(ring.pending_dropped(), 0);
    let mut out = [0u8; 256];
    let n = ring.drain_chunk(&mut out).unwrap();
    stream.extend_from_slice(&out[..n]);
    assert_eq!(ring.drain_chunk(&mut out), Ok(0));

    let (recs, errs) = read(&stream);
    assert!(errs.is_empty());
    let want = [
        ev(0),
        ev(1),
        ev(2),
        ev(3),
        Record::Dropped { records: 2 },
        ev(6),
    ];
    assert_eq!(recs, want);
}

#[test]
fn drops_after_the_last_record_close_the_chunk() {
    let mut ring = TraceRing::<16>::new();
    ring.push(&Record::TaskBlock { tick: 1, task: 1 }).unwrap();
    assert_eq!(
        ring.push(&Record::TaskBlock { tick: 2, task: 1 }),
        Err(PushError::Full)
    );
    let mut out = [0u8; 128];
    let n = ring.drain_chunk(&mut out).unwrap();
    let (recs, _) = read(&out[..n]);
    assert_eq!(
        recs,
        [
            Record::TaskBlock { tick: 1, task: 1 },
            Record::Dropped { records: 1 }
        ]
    );
    assert!(ring.is_empty());
}

#[test]
fn drain_into_a_too_small_buffer_is_an_error_not_a_loss() {
    let mut ring = TraceRing::<256>::new();
    ring.push(&Record::TaskSpawn {
        tick: 0,
        task: 1,
        class: 0,
        name: "init",
    })
    .unwrap();
    let before = ring.len();
    let mut tiny = [0u8; CHUNK_HEADER_BYTES + 4];
    let err = ring.drain_chunk(&mut tiny).unwrap_err();
    assert!(
        matches!(err, ChunkError::BufferTooSmall { need, .. } if need == CHUNK_HEADER_BYTES + before)
    );
    assert!(ring.drain_chunk(&mut [0u8; 8]).is_err());
    assert_eq!((ring.len(), ring.next_seq()), (before, 0));
}
