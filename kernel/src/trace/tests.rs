//! Host tests of the trace format: record round trips, the ring's drop accounting, and reading
//! truncated, bit-flipped, gapped and garbage-laden streams.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

/// An owned record, so proptest can generate one and a test can borrow a [`Record`] from it.
#[derive(Debug, Clone)]
enum Owned {
    Telemetry {
        tick: u64,
        schema: u16,
        fields: Vec<i32>,
    },
    Decision {
        tick: u64,
        chosen: u32,
        policy: u8,
        fallback: Option<u8>,
        cands: Vec<Candidate>,
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
            Owned::Telemetry {
                tick,
                schema,
                fields,
            } => Record::Telemetry {
                tick: *tick,
                schema: *schema,
                fields: Items::from_slice(fields),
            },
            Owned::Decision {
                tick,
                chosen,
                policy,
                fallback,
                cands,
            } => Record::Decision {
                tick: *tick,
                chosen: *chosen,
                policy: *policy,
                fallback: *fallback,
                candidates: Items::from_slice(cands),
            },
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

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        any::<u32>(),
        any::<[i16; CANDIDATE_FEATURES]>(),
        any::<i32>(),
    )
        .prop_map(|(task, features, score)| Candidate {
            task,
            features,
            score,
        })
}

fn owned(max_items: usize) -> impl Strategy<Value = Owned> {
    let name = prop_oneof!["[a-z0-9_-]{0,32}", "\\PC{0,8}"];
    prop_oneof![
        (
            any::<u64>(),
            any::<u16>(),
            prop::collection::vec(any::<i32>(), 0..=max_items)
        )
            .prop_map(|(tick, schema, fields)| Owned::Telemetry {
                tick,
                schema,
                fields
            }),
        (
            any::<u64>(),
            any::<u32>(),
            any::<u8>(),
            any::<Option<u8>>(),
            prop::collection::vec(candidate(), 0..=max_items.min(MAX_CANDIDATES)),
        )
            .prop_map(|(tick, chosen, policy, fallback, cands)| Owned::Decision {
                tick,
                chosen,
                policy,
                fallback,
                cands
            }),
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

/// Records the kernel pushes (`Dropped` markers are the ring's own).
fn ring_record() -> impl Strategy<Value = Owned> {
    owned(6).prop_filter("markers are the ring's", |o| {
        !matches!(o, Owned::Dropped { .. })
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
    fn every_record_kind_round_trips(o in owned(MAX_TELEMETRY_FIELDS)) {
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

#[test]
fn encoder_rejects_over_limit_and_short_buffers() {
    let fields = [7i32; MAX_TELEMETRY_FIELDS + 1];
    let r = Record::Telemetry {
        tick: 1,
        schema: 1,
        fields: Items::from_slice(&fields),
    };
    let too_many = EncodeError::TooMany {
        kind: record::kind::TELEMETRY,
        count: MAX_TELEMETRY_FIELDS + 1,
        max: MAX_TELEMETRY_FIELDS,
    };
    assert_eq!(r.encode(&mut [0; 4096]), Err(too_many));
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
    let mut ring = TraceRing::<1024>::new();
    let r = Record::Telemetry {
        tick: 1,
        schema: 1,
        fields: Items::from_slice(&fields),
    };
    assert_eq!(ring.push(&r), Err(PushError::Invalid(too_many)));
    assert_eq!(ring.dropped_total(), 1);
    assert!(too_many.to_string().contains("telemetry"));
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

#[test]
fn decoder_names_what_is_wrong() {
    let exit = encode_vec(&Record::TaskExit {
        tick: 1,
        task: 2,
        status: 3,
    });
    let mut unknown = exit.clone();
    unknown[0] = 200;
    assert_eq!(
        Record::decode(&unknown),
        Err(DecodeError::UnknownKind { kind: 200 })
    );
    let mut long = exit.clone();
    long[1] = 17;
    long.push(0);
    let bad_len = DecodeError::BadLength {
        kind: record::kind::TASK_EXIT,
        len: 17,
    };
    assert_eq!(Record::decode(&long), Err(bad_len));

    let cands = [Candidate {
        task: 1,
        features: [0; CANDIDATE_FEATURES],
        score: 5,
    }];
    let d = Record::Decision {
        tick: 1,
        chosen: 1,
        policy: 2,
        fallback: None,
        candidates: Items::from_slice(&cands),
    };
    let d = encode_vec(&d);
    let mut flag = d.clone();
    flag[3 + 14] = 9; // a reason without the fallback flag
    assert_eq!(
        Record::decode(&flag),
        Err(DecodeError::BadFallback { flag: 0, reason: 9 })
    );
    let mut feats = d.clone();
    feats[3 + 15] = 4;
    assert_eq!(
        Record::decode(&feats),
        Err(DecodeError::FeatureCount { found: 4 })
    );

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

/// Chunk boundaries of a test stream: (start, end, the records in it).
type Layout<'a> = Vec<(usize, usize, Vec<Record<'a>>)>;

fn sample_records() -> Vec<Owned> {
    let mut v = Vec::new();
    for t in 0..24u64 {
        let task = (t % 5) as u32;
        v.push(Owned::Telemetry {
            tick: t,
            schema: 1,
            fields: (0..6).map(|i| i * t as i32).collect(),
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
                chosen: task,
                policy: 3,
                fallback: (t % 8 == 1).then_some(2),
                cands: (0..3)
                    .map(|c| Candidate {
                        task: c,
                        features: [c as i16; 8],
                        score: -(c as i32),
                    })
                    .collect(),
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
    let n = write_chunk(7, &[], &mut out).unwrap();
    assert_eq!(&out[..4], b"AUGT");
    assert_eq!(&out[16..20], &0xeab5_8319u32.to_le_bytes());
    assert_eq!(n, CHUNK_HEADER_BYTES);
    let payload = encode_vec(&Record::Dropped { records: 5 });
    write_chunk(0, &payload, &mut out).unwrap();
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
