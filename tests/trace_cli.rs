//! `augur trace summary|export|perfetto` on traces written with the kernel's own encoder.
//!
//! One tiny hand-made schedule of three tasks ([`SCHEDULE`]) whose metrics are worked out by
//! hand below, framed into several chunks by `TraceRing::drain_chunk`; then the built binary
//! is run on it, on a truncated copy, on garbage and on a missing file.
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
/// Fallback reason code of `budget` (`sched::learned::FallbackReason`).
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

/// The encoded schedule and the byte offset of each chunk in it.
fn encode_schedule() -> (Vec<u8>, Vec<usize>) {
    let mut ring = TraceRing::<8192>::new();
    for &(tick, events) in SCHEDULE {
        events.iter().for_each(|&ev| push(&mut ring, tick, ev));
    }
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
    assert!(
        CHUNK_BUFFER < MAX_CHUNK_PAYLOAD && starts.len() >= 3,
        "{starts:?}"
    );
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
    assert_eq!(row(&s, "learned"), ["learned", "15"]);
    assert_eq!(row(&s, "budget"), ["budget", "1"]);
    assert_eq!(row(&s, "regret"), ["regret", "1"]);
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
        "chosen",
        "policy",
        "fallback",
    ];
    expected.extend(TASK_FEATURES.iter().map(|f| f.name));
    expected.extend(["score", "schema"]);
    expected.extend(FIELDS.iter().map(|f| f.name));
    assert_eq!(header, expected);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let expected_rows: usize = events()
        .map(|ev| match ev {
            Decide(_, cands, _) => cands.len(),
            _ => 1,
        })
        .sum();
    assert_eq!(rows.len(), expected_rows);
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
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
    assert_eq!(lines.len(), events().count());
    assert!(lines.iter().all(|v| v["kind"].is_string()));
    let tel = lines
        .iter()
        .find(|v| v["kind"] == "telemetry" && v["tick"] == 5)
        .expect("tick 5");
    for (i, f) in FIELDS.iter().enumerate() {
        assert_eq!(tel["fields"][f.name], field_value(5, i), "{}", f.name);
    }
    let dec = lines
        .iter()
        .find(|v| v["kind"] == "decision" && v["fallback"] == "regret")
        .expect("regret");
    assert_eq!(
        (dec["tick"].as_u64(), dec["chosen"].as_u64()),
        (Some(10), Some(3))
    );
    assert_eq!(dec["policy"], "learned");
    let cand = &dec["candidates"][0];
    assert_eq!(cand["task"], 3);
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
    assert_eq!(
        lines.last().map(|v| v["records"].clone()),
        Some(Value::from(LOST))
    );
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
