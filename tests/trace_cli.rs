//! `augur trace summary|export|perfetto` on traces written with the kernel's own encoder.
//!
//! One tiny hand-made schedule of three tasks ([`SCHEDULE`]) whose metrics are worked out by
//! hand below, framed into several chunks by `TraceRing::drain_chunk` and closed with the end
//! record; then the built binary is run on it, on a truncated copy, on copies cut at a chunk
//! boundary, on a version-1 trace, on crafted CRC-valid traces with extreme values, on garbage
//! and on a missing file, and with its output aimed at its input.
//!
//! The schedule (ticks; `|` = a mid-tick decision after a block or exit):
//!
//! ```text
//! tick    0  1  2  3  4  5  6  7  8  9  10 11 | 12
//! runs    1  1  2 |1  1  2  2 |3  3  1 |3  3  | 3 exits
//! ```
//! - alpha (task 1, normal): arrives 0, first runs 0, runs [0,2) [3,5) [9,10), exits 10:
//!   turnaround 10, response 0, CPU 5, wait 10 − 5 = 5.
//! - beta (task 2, interactive): arrives 0, first runs 2, runs [2,3), blocks 3, wakes 5, runs
//!   [5,7), exits 7: turnaround 7, response 2, CPU 3, blocked 2, wait 2.
//! - gamma (task 3, batch): arrives 4, first runs 7, runs [7,9) [10,12), exits 12:
//!   turnaround 8, response 3, CPU 4, wait 4.
//!
//! All (nearest-rank percentiles, means truncated to hundredths as the kernel does):
//! turnaround {7, 8, 10}: mean 8.33, p50 8, p99 10; response {0, 2, 3}: 1.66, 2, 3;
//! wait {2, 4, 5}: 3.66, 4, 5.

use augur_kernel::telemetry::{FIELDS, SCHEMA_VERSION, TASK_FEATURES};
use augur_kernel::trace::{
    Candidates, Items, MAX_CHUNK_PAYLOAD, Record, Section, Sections, TraceRing, head, section,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// Policy code of `learned` (`bootcfg::SchedPolicy::ALL` order).
const LEARNED: u8 = 4;
/// Fallback reason code of `budget` (`learn::FallbackReason`).
const BUDGET: u8 = 3;
/// Fallback reason code of `regret`.
const REGRET: u8 = 4;
/// Records lost in the trace's one `dropped` marker.
const LOST: u64 = 2;
/// Bytes each drained chunk may use, small so the trace spans several chunks.
const CHUNK_BUFFER: usize = 512;

/// One thing that happens at a tick.
#[derive(Clone, Copy)]
enum Ev {
    /// Task arrives: id, class, name.
    Spawn(u32, u8, &'static str),
    FirstRun(u32),
    Block(u32),
    Wake(u32),
    Exit(u32, i32),
    /// Decision: chosen, candidates, fallback reason.
    Decide(u32, &'static [u32], Option<u8>),
    /// The tick's telemetry record.
    Tel,
    /// A loss marker.
    Dropped,
}

use Ev::*;

/// The schedule of the module docs, in stream order.
const SCHEDULE: &[(u64, &[Ev])] = &[
    (
        0,
        &[
            Spawn(1, 0, "alpha"),
            Spawn(2, 2, "beta"),
            Tel,
            Decide(1, &[1, 2], None),
            FirstRun(1),
        ],
    ),
    (1, &[Tel, Decide(1, &[1, 2], None)]),
    (2, &[Tel, Decide(2, &[1, 2], None), FirstRun(2)]),
    (
        3,
        &[
            Tel,
            Decide(2, &[1, 2], None),
            Block(2),
            Decide(1, &[1], None),
        ],
    ),
    (4, &[Spawn(3, 1, "gamma"), Tel, Decide(1, &[1, 3], None)]),
    (5, &[Wake(2), Tel, Decide(2, &[1, 2, 3], None)]),
    (6, &[Tel, Decide(2, &[1, 2, 3], None)]),
    (
        7,
        &[
            Tel,
            Decide(2, &[1, 2, 3], None),
            Exit(2, 0),
            Decide(3, &[1, 3], Some(BUDGET)),
            FirstRun(3),
        ],
    ),
    (8, &[Tel, Decide(3, &[1, 3], None)]),
    (9, &[Tel, Decide(1, &[1, 3], None)]),
    (
        10,
        &[
            Tel,
            Decide(1, &[1, 3], None),
            Exit(1, 0),
            Decide(3, &[3], Some(REGRET)),
        ],
    ),
    (11, &[Tel, Decide(3, &[3], None)]),
    (12, &[Tel, Exit(3, -2), Dropped]),
];

/// The running intervals `(task, start, end)` of the schedule, in ticks.
const RUNS: [(u32, u64, u64); 7] = [
    (1, 0, 2),
    (2, 2, 3),
    (1, 3, 5),
    (2, 5, 7),
    (3, 7, 9),
    (1, 9, 10),
    (3, 10, 12),
];

/// Telemetry field `i` at `tick`, distinct per tick and field.
fn field_value(tick: u64, i: usize) -> i32 {
    (tick * 100) as i32 + i as i32
}

/// Feature `k` of candidate `task` at `tick`.
fn feature_value(tick: u64, task: u32, k: usize) -> i16 {
    (tick * 100 + u64::from(task) * 10) as i16 + k as i16
}

/// Pushes one event at `tick` into the ring, as the kernel would record it.
fn push(ring: &mut TraceRing<8192>, tick: u64, ev: Ev) {
    let fields: Vec<i32> = (0..FIELDS.len()).map(|i| field_value(tick, i)).collect();
    let tasks: &[u32] = match ev {
        Decide(_, tasks, _) => tasks,
        _ => &[],
    };
    let ids: Vec<u64> = tasks.iter().map(|&t| u64::from(t)).collect();
    let features: Vec<i16> = tasks
        .iter()
        .flat_map(|&task| (0..TASK_FEATURES.len()).map(move |k| feature_value(tick, task, k)))
        .collect();
    let scores: Vec<i32> = tasks.iter().map(|&t| -(t as i32)).collect();
    let sections = [Section {
        code: section::SCHED,
        version: SCHEMA_VERSION,
        fields: Items::from_slice(&fields),
    }];
    let record = match ev {
        Spawn(task, class, name) => Record::TaskSpawn {
            tick,
            task,
            class,
            name,
        },
        FirstRun(task) => Record::TaskFirstRun { tick, task },
        Block(task) => Record::TaskBlock { tick, task },
        Wake(task) => Record::TaskWake { tick, task },
        Exit(task, status) => Record::TaskExit { tick, task, status },
        Decide(chosen, _, fallback) => Record::Decision {
            tick,
            head: head::SCHED,
            chosen: u64::from(chosen),
            policy: LEARNED,
            fallback,
            candidates: Candidates::columns(TASK_FEATURES.len(), &ids, &features, &scores),
        },
        Tel => Record::Telemetry {
            tick,
            sections: Sections::from_slice(&sections),
        },
        Dropped => Record::Dropped { records: LOST },
    };
    ring.push(&record)
        .expect("the ring holds the whole schedule");
}

/// The tick the schedule's job ends (its end record).
const END_TICK: u64 = 12;

/// The encoded schedule and the byte offset of each chunk in it.
fn encode_schedule() -> (Vec<u8>, Vec<usize>) {
    let mut ring = TraceRing::<8192>::new();
    for &(tick, events) in SCHEDULE {
        events.iter().for_each(|&ev| push(&mut ring, tick, ev));
    }
    ring.close(END_TICK).expect("room for the end record");
    let (bytes, starts) = drain_all(&mut ring);
    assert!(
        CHUNK_BUFFER < MAX_CHUNK_PAYLOAD && starts.len() >= 3,
        "{starts:?}"
    );
    (bytes, starts)
}

/// Drains `ring` in chunks of at most [`CHUNK_BUFFER`] bytes: the stream and each chunk's
/// byte offset.
fn drain_all(ring: &mut TraceRing<8192>) -> (Vec<u8>, Vec<usize>) {
    let (mut bytes, mut starts) = (Vec::new(), Vec::new());
    let mut out = [0u8; CHUNK_BUFFER];
    loop {
        let n = ring.drain_chunk(&mut out).expect("drain");
        if n == 0 {
            break;
        }
        starts.push(bytes.len());
        bytes.extend_from_slice(&out[..n]);
    }
    (bytes, starts)
}

/// Every event of the schedule.
fn events() -> impl Iterator<Item = Ev> {
    SCHEDULE.iter().flat_map(|(_, evs)| evs.iter().copied())
}

/// A temporary directory holding the encoded schedule as `trace.bin`.
fn trace_file() -> (TempDir, PathBuf, Vec<usize>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trace.bin");
    let (bytes, starts) = encode_schedule();
    std::fs::write(&path, bytes).expect("write trace");
    (dir, path, starts)
}

/// Runs `augur trace ARGS…`.
fn augur_trace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_augur"))
        .arg("trace")
        .args(args)
        .output()
        .expect("run augur")
}

/// `p` as a `&str` argument.
fn arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// stdout of a successful run, as text.
fn ok_stdout(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}, stderr: {stderr}",
        out.status
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

/// The whitespace-split cells of the summary row starting with `label`.
fn row<'a>(summary: &'a str, label: &str) -> Vec<&'a str> {
    summary
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&label))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{summary}"))
}

#[test]
fn summary_reports_hand_computed_metrics() {
    let (_dir, path, _) = trace_file();
    let out = augur_trace(&["summary", arg(&path)]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = ok_stdout(&out);
    // class spawned finished turn(mean p50 p99) resp(…) wait(…) cpu_ticks
    assert_eq!(
        row(&s, "all"),
        [
            "all", "3", "3", "8.33", "8", "10", "1.66", "2", "3", "3.66", "4", "5", "12"
        ]
    );
    assert_eq!(
        row(&s, "normal"),
        [
            "normal", "1", "1", "10.00", "10", "10", "0.00", "0", "0", "5.00", "5", "5", "5"
        ]
    );
    assert_eq!(
        row(&s, "interactive")[3..],
        ["7.00", "7", "7", "2.00", "2", "2", "2.00", "2", "2", "3"]
    );
    assert_eq!(
        row(&s, "batch")[3..],
        ["8.00", "8", "8", "3.00", "3", "3", "4.00", "4", "4", "4"]
    );
    assert_eq!(row(&s, "telemetry"), ["telemetry", "13"]);
    assert_eq!(row(&s, "decision"), ["decision", "15"]);
    assert_eq!(row(&s, "end"), ["end", "1"]);
    assert_eq!(row(&s, "sched"), ["sched", "15", "2"]);
    assert_eq!(row(&s, "sched/learned"), ["sched/learned", "15"]);
    assert_eq!(row(&s, "sched/budget"), ["sched/budget", "1"]);
    assert_eq!(row(&s, "sched/regret"), ["sched/regret", "1"]);
    // Every record but the dropped marker and the end itself counts as written.
    let written = events().filter(|e| !matches!(e, Dropped)).count();
    assert!(
        s.contains(&format!(
            "end: complete ({written} records written, {written} read, 0 dropped by the kernel)\n"
        )),
        "{s}"
    );
    assert!(s.contains("format version 2)"), "{s}");
    assert!(
        s.contains("ticks: 0..=12 (13 ticks, 13.000 ms at 1000 Hz)"),
        "{s}"
    );
    assert!(s.contains("tasks: 3 spawned, 3 finished"), "{s}");
    assert!(
        s.contains(&format!("dropped records: {LOST} (in 1 marker")),
        "{s}"
    );
    assert!(s.contains("damage\n  none"), "{s}");
}

#[test]
fn csv_has_the_documented_header_and_one_row_per_record_or_candidate() {
    let (dir, path, _) = trace_file();
    let csv_path = dir.path().join("t.csv");
    let out = augur_trace(&[
        "export",
        arg(&path),
        "--format",
        "csv",
        "-o",
        arg(&csv_path),
    ]);
    assert!(ok_stdout(&out).is_empty(), "CSV went to stdout despite -o");
    let mut reader = csv::Reader::from_path(&csv_path).expect("CSV");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let mut expected = vec![
        "tick",
        "kind",
        "task",
        "name",
        "task_class",
        "status",
        "dropped",
        "records",
        "head",
        "chosen",
        "policy",
        "fallback",
        "width",
        "candidate",
        "score",
        "schema",
    ];
    expected.extend(TASK_FEATURES.iter().map(|f| f.name));
    let generic: Vec<String> = (0..32).map(|k| format!("feature_{k}")).collect();
    expected.extend(generic.iter().map(String::as_str));
    expected.extend(FIELDS.iter().map(|f| f.name));
    expected.push("other_sections");
    assert_eq!(header, expected);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let expected_rows: usize = events()
        .map(|ev| match ev {
            Decide(_, cands, _) => cands.len(),
            _ => 1,
        })
        .sum();
    assert_eq!(
        rows.len(),
        expected_rows + 1,
        "one row per record, the end too"
    );
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(&rows[rows.len() - 1][col("kind")], "end");
    // The mid-tick fallback decision at tick 7: two candidate rows, tasks 1 and 3.
    let fb: Vec<_> = rows
        .iter()
        .filter(|r| &r[col("fallback")] == "budget")
        .collect();
    assert_eq!(fb.len(), 2);
    assert_eq!(
        (
            &fb[1][col("tick")],
            &fb[1][col("chosen")],
            &fb[1][col("task")]
        ),
        ("7", "3", "3")
    );
    assert_eq!(
        fb[1][col(TASK_FEATURES[1].name)],
        feature_value(7, 3, 1).to_string()
    );
    assert_eq!(&fb[1][col("policy")], "learned");
    assert_eq!(
        (
            &fb[1][col("head")],
            &fb[1][col("candidate")],
            &fb[1][col("width")]
        ),
        ("sched", "3", "8")
    );
    let tel5 = rows
        .iter()
        .find(|r| &r[col("kind")] == "telemetry" && &r[col("tick")] == "5")
        .expect("tick 5");
    assert_eq!(
        tel5[col("blocked")],
        field_value(5, col("blocked") - col(FIELDS[0].name)).to_string()
    );
    let spawn = rows
        .iter()
        .find(|r| &r[col("kind")] == "task-spawn" && &r[col("task")] == "2")
        .expect("spawn 2");
    assert_eq!(
        (&spawn[col("name")], &spawn[col("task_class")]),
        ("beta", "interactive")
    );
}

#[test]
fn jsonl_lines_parse_and_carry_named_fields() {
    let (_dir, path, _) = trace_file();
    let text = ok_stdout(&augur_trace(&["export", arg(&path), "--format", "jsonl"]));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    assert_eq!(lines.len(), events().count() + 1, "the end record too");
    assert!(lines.iter().all(|v| v["kind"].is_string()));
    let tel = lines
        .iter()
        .find(|v| v["kind"] == "telemetry" && v["tick"] == 5)
        .expect("tick 5");
    let sched = &tel["sections"]["sched"];
    assert_eq!(sched["version"], SCHEMA_VERSION);
    for (i, f) in FIELDS.iter().enumerate() {
        assert_eq!(sched["fields"][f.name], field_value(5, i), "{}", f.name);
    }
    let dec = lines
        .iter()
        .find(|v| v["kind"] == "decision" && v["fallback"] == "regret")
        .expect("regret");
    assert_eq!(
        (dec["tick"].as_u64(), dec["chosen"].as_u64()),
        (Some(10), Some(3))
    );
    assert_eq!(
        (dec["policy"].as_str(), dec["head"].as_str()),
        (Some("learned"), Some("sched"))
    );
    let cand = &dec["candidates"][0];
    assert_eq!(cand["id"], 3);
    assert_eq!(cand["score"], -3);
    for (k, f) in TASK_FEATURES.iter().enumerate() {
        assert_eq!(
            cand["features"][f.name],
            feature_value(10, 3, k),
            "{}",
            f.name
        );
    }
    let exit = lines
        .iter()
        .find(|v| v["kind"] == "task-exit" && v["task"] == 3)
        .expect("exit 3");
    assert_eq!(
        (exit["tick"].as_u64(), exit["status"].as_i64()),
        (Some(12), Some(-2))
    );
    let spawn = lines
        .iter()
        .find(|v| v["kind"] == "task-spawn" && v["task"] == 3)
        .expect("spawn 3");
    assert_eq!(
        (spawn["name"].as_str(), spawn["class"].as_str()),
        (Some("gamma"), Some("batch"))
    );
    let n = lines.len();
    assert_eq!(lines[n - 2]["records"], Value::from(LOST));
    assert_eq!(lines[n - 1]["kind"], "end");
    assert_eq!(lines[n - 1]["tick"], END_TICK);
}

#[test]
fn perfetto_has_named_tracks_and_run_intervals_of_the_schedule() {
    let (dir, path, _) = trace_file();
    let json_path = dir.path().join("t.json");
    // 250 Hz: a tick is 4000 µs.
    let us_per_tick = 4000.0;
    ok_stdout(&augur_trace(&[
        "perfetto",
        arg(&path),
        "-o",
        arg(&json_path),
        "--hz",
        "250",
    ]));
    let doc: Value =
        serde_json::from_slice(&std::fs::read(&json_path).expect("read")).expect("JSON");
    assert_eq!(doc["displayTimeUnit"], "ms");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let of = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph);
    let names: Vec<(u64, &str)> = of("M")
        .filter(|e| e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [(1, "alpha"), (2, "beta"), (3, "gamma")]);
    let runs: Vec<(u64, f64, f64)> = of("X")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["ts"].as_f64().unwrap(),
                e["dur"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(u64, f64, f64)> = RUNS
        .iter()
        .map(|&(t, s, e)| {
            (
                u64::from(t),
                s as f64 * us_per_tick,
                (e - s) as f64 * us_per_tick,
            )
        })
        .collect();
    assert_eq!(runs, expected);
    let instants = |name: &str| of("i").filter(|e| e["name"] == name).count();
    assert_eq!(
        (
            instants("spawn"),
            instants("block"),
            instants("wake"),
            instants("exit")
        ),
        (3, 1, 1, 3)
    );
    assert_eq!(instants("fallback: budget"), 1);
    assert!(
        of("C").any(|e| e["args"]["runnable"].is_i64()),
        "no runnable counter"
    );
}

#[test]
fn truncated_trace_still_summarises_and_names_the_offset() {
    let (dir, path, starts) = trace_file();
    let bytes = std::fs::read(&path).expect("read");
    let last = *starts.last().unwrap();
    let cut = last + 30; // inside the last chunk: its header and 10 payload bytes
    assert!(cut < bytes.len());
    let cut_path = dir.path().join("cut.bin");
    std::fs::write(&cut_path, &bytes[..cut]).expect("write");
    let out = augur_trace(&["summary", arg(&cut_path)]);
    let s = ok_stdout(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("damaged at byte {last}")),
        "{stderr}"
    );
    assert!(stderr.contains("ends inside a chunk"), "{stderr}");
    assert!(
        s.contains(&format!("  trace damaged at byte {last}")),
        "{s}"
    );
    let full = ok_stdout(&augur_trace(&["summary", arg(&path)]));
    let records = |s: &str| -> usize {
        let head = s.lines().next().unwrap();
        head.split(", ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(records(&s) > 0 && records(&s) < records(&full), "{s}");
}

#[test]
fn garbage_only_file_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("garbage.bin");
    std::fs::write(&path, [0x5a_u8; 300]).expect("write");
    let out = augur_trace(&["summary", arg(&path)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("damaged at byte 0") && stderr.contains("magic"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no trace records could be decoded"),
        "{stderr}"
    );
}

#[test]
fn missing_file_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.bin");
    let out = augur_trace(&["export", arg(&path), "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("absent.bin") && stderr.contains("no such file"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn help_documents_the_exit_status() {
    let text = ok_stdout(&augur_trace(&["--help"]));
    assert!(
        text.contains("Exit status: 0 when at least one record decoded"),
        "{text}"
    );
    assert!(text.contains("summary") && text.contains("export") && text.contains("perfetto"));
}

/// Writes `records` through the kernel's ring as `dir/name`, closed with an end record at
/// `end` when given.
fn write_records(dir: &Path, name: &str, records: &[Record<'_>], end: Option<u64>) -> PathBuf {
    let mut ring = TraceRing::<8192>::new();
    for r in records {
        ring.push(r).expect("the ring holds the records");
    }
    if let Some(tick) = end {
        ring.close(tick).expect("room for the end record");
    }
    let path = dir.join(name);
    std::fs::write(&path, drain_all(&mut ring).0).expect("write trace");
    path
}

#[test]
fn a_trace_cut_exactly_at_a_chunk_boundary_has_no_end_marker() {
    let (dir, path, starts) = trace_file();
    let bytes = std::fs::read(&path).expect("read");
    let last = *starts.last().unwrap();
    let cut_path = dir.path().join("cut.bin");
    // Whole chunks only: no damage to report, and yet the trace is not complete.
    std::fs::write(&cut_path, &bytes[..last]).expect("write");
    let out = augur_trace(&["summary", arg(&cut_path)]);
    let s = ok_stdout(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        s.contains(
            "end: no end marker: the trace was cut (or the kernel stopped before the end of \
             its job)"
        ),
        "{s}"
    );
    assert!(s.contains("damage\n  none"), "{s}");
    let full = ok_stdout(&augur_trace(&["summary", arg(&path)]));
    assert!(full.contains("end: complete ("), "{full}");
}

#[test]
fn a_version_1_trace_is_read_and_said_to_have_no_end_marker() {
    // The version-1 layouts (FORMAT.md of version 1): telemetry tick 5, schema 2, 12 fields;
    // a decision at tick 5 choosing task 7 (policy 4 learned, fallback reason 3 budget) with
    // one candidate; task 7's exit at tick 6.
    let mut payload = vec![1u8, 60, 0];
    payload.extend_from_slice(&5u64.to_le_bytes());
    payload.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    payload.extend_from_slice(&12u16.to_le_bytes());
    (0..12i32).for_each(|f| payload.extend_from_slice(&f.to_le_bytes()));
    payload.extend_from_slice(&[2, 42, 0]);
    payload.extend_from_slice(&5u64.to_le_bytes());
    payload.extend_from_slice(&7u32.to_le_bytes());
    payload.extend_from_slice(&[LEARNED, 1, BUDGET, 8, 1, 0]);
    payload.extend_from_slice(&7u32.to_le_bytes());
    (0..8i16).for_each(|f| payload.extend_from_slice(&f.to_le_bytes()));
    payload.extend_from_slice(&(-1i32).to_le_bytes());
    payload.extend_from_slice(&[7, 16, 0]);
    payload.extend_from_slice(&6u64.to_le_bytes());
    payload.extend_from_slice(&7u32.to_le_bytes());
    payload.extend_from_slice(&0i32.to_le_bytes());
    let mut out = vec![0u8; 512];
    let n = augur_kernel::trace::write_chunk_version(0, 1, &payload, &mut out).expect("chunk");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.bin");
    std::fs::write(&path, &out[..n]).expect("write");
    let out = augur_trace(&["summary", arg(&path)]);
    let s = ok_stdout(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.contains("3 records, format version 1)"), "{s}");
    assert!(
        s.contains("end: no end marker (format version 1 traces have none)"),
        "{s}"
    );
    assert_eq!(row(&s, "sched/learned"), ["sched/learned", "1"]);
    assert_eq!(row(&s, "sched/budget"), ["sched/budget", "1"]);
    let text = ok_stdout(&augur_trace(&["export", arg(&path), "--format", "jsonl"]));
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).expect("JSON");
    assert_eq!(first["sections"]["sched"]["fields"][FIELDS[3].name], 3);
}

#[test]
fn other_heads_and_unknown_kinds_are_shown_not_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blk = Record::Decision {
        tick: 2,
        head: head::BLK_EVICT,
        chosen: 1 << 40,
        policy: 0,
        fallback: Some(BUDGET),
        candidates: Candidates::columns(3, &[1 << 40, 5], &[1, 2, 3, 4, 5, 6], &[10, 20]),
    };
    let records = [
        Record::Unknown {
            kind: 200,
            body: &[1, 2, 3],
        },
        blk,
        Record::Unknown {
            kind: 200,
            body: &[],
        },
        Record::Unknown {
            kind: 77,
            body: &[9; 40],
        },
        Record::TaskWake { tick: 3, task: 1 },
    ];
    let path = write_records(dir.path(), "heads.bin", &records, Some(4));
    let out = augur_trace(&["summary", arg(&path)]);
    let s = ok_stdout(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(row(&s, "unknown-77"), ["unknown-77", "1"]);
    assert_eq!(row(&s, "unknown-200"), ["unknown-200", "2"]);
    assert_eq!(row(&s, "blk-evict"), ["blk-evict", "1", "1"]);
    assert_eq!(row(&s, "blk-evict/code-0"), ["blk-evict/code-0", "1"]);
    assert_eq!(row(&s, "blk-evict/budget"), ["blk-evict/budget", "1"]);
    assert!(
        s.contains("end: complete (5 records written, 5 read"),
        "{s}"
    );
    assert!(s.contains("damage\n  none"), "{s}");
    // The block decision places no task on the CPU.
    assert!(s.contains("tasks: 0 spawned, 0 finished, 1 seen"), "{s}");

    let csv_path = dir.path().join("heads.csv");
    ok_stdout(&augur_trace(&["export", arg(&path), "-o", arg(&csv_path)]));
    let mut reader = csv::Reader::from_path(&csv_path).expect("CSV");
    let header = reader.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| &r[col("kind")]).collect();
    assert_eq!(
        kinds,
        [
            "unknown-200",
            "decision",
            "decision",
            "unknown-200",
            "unknown-77",
            "task-wake",
            "end"
        ]
    );
    let second = &rows[2];
    assert_eq!(
        (
            &second[col("head")],
            &second[col("candidate")],
            &second[col("task")]
        ),
        ("blk-evict", "5", "")
    );
    assert_eq!(
        (
            &second[col("feature_0")],
            &second[col("feature_2")],
            &second[col("feature_3")]
        ),
        ("4", "6", "")
    );
    assert_eq!(&second[col(TASK_FEATURES[0].name)], "");
    assert_eq!(
        &rows[1][col("candidate")],
        (1u64 << 40).to_string().as_str()
    );
}

#[test]
fn crafted_extreme_values_saturate_instead_of_wrapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = [
        Record::TaskSpawn {
            tick: 0,
            task: 1,
            class: 0,
            name: "forever",
        },
        Record::Decision {
            tick: 0,
            head: head::SCHED,
            chosen: 1,
            policy: LEARNED,
            fallback: None,
            candidates: Candidates::none(8),
        },
        Record::TaskExit {
            tick: u64::MAX,
            task: 1,
            status: 0,
        },
        Record::Dropped { records: u64::MAX },
        Record::Dropped { records: u64::MAX },
        Record::Dropped { records: u64::MAX },
        Record::Dropped { records: 6 },
    ];
    let path = write_records(dir.path(), "extreme.bin", &records, None);
    let s = ok_stdout(&augur_trace(&["summary", arg(&path)]));
    let max = u64::MAX.to_string();
    assert!(s.contains(&format!("ticks: 0..={max} ({max} ticks")), "{s}");
    assert!(
        s.contains(&format!("dropped records: {max} or more")),
        "{s}"
    );
    let all = row(&s, "all");
    // Turnaround u64::MAX ticks (mean in hundredths saturates), CPU u64::MAX.
    assert_eq!(all[4], max, "{all:?}");
    assert_eq!(all[12], max, "{all:?}");
}

#[test]
fn output_onto_its_own_input_is_refused() {
    let (dir, path, _) = trace_file();
    let before = std::fs::read(&path).expect("read");
    let link = dir.path().join("hard-link.bin");
    std::fs::hard_link(&path, &link).expect("hard link");
    let dotted = dir.path().join(".").join("trace.bin");
    for output in [path.clone(), dotted, link] {
        for args in [
            vec!["perfetto", arg(&path), "-o", arg(&output)],
            vec!["export", arg(&path), "--format", "csv", "-o", arg(&output)],
        ] {
            let out = augur_trace(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("is the input trace") && stderr.contains("another -o path"),
                "{stderr}"
            );
            assert_eq!(std::fs::read(&path).expect("read"), before, "{args:?}");
        }
    }
}

#[test]
fn export_to_a_closed_pipe_exits_0_like_summary() {
    // Big enough that the CSV writer's own buffer fills and writes mid-export (a small
    // export only writes at its final flush, which was always mapped right).
    let dir = tempfile::tempdir().expect("tempdir");
    let wakes: Vec<Record<'_>> = (0..400)
        .map(|t| Record::TaskWake { tick: t, task: 1 })
        .collect();
    let path = write_records(dir.path(), "big.bin", &wakes, Some(400));
    for args in [
        vec!["export", arg(&path), "--format", "csv"],
        vec!["export", arg(&path), "--format", "jsonl"],
        vec!["summary", arg(&path)],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_augur"))
            .arg("trace")
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run augur");
        // `| head -0`: the reader is gone before the first write.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("Broken pipe"), "{stderr}");
    }
}
