//! `augur trace export`: one CSV row or one JSON line per record, for pandas, DuckDB, jq.
//!
//! # CSV layout
//! A fixed column set, so every file of one tool version has the same header, and a column
//! means the same thing in every row:
//!
//! | columns | used by |
//! | --- | --- |
//! | `tick`, `kind` | every record (`tick` empty for `dropped` and unknown kinds) |
//! | `task` | task records; for a `sched` decision, the candidate of that row |
//! | `name`, `task_class` | `task-spawn` (class by name: normal, batch, interactive) |
//! | `status` | `task-exit` |
//! | `dropped` | `dropped`: records lost at that point; `end`: records dropped in all |
//! | `records` | `end`: records written |
//! | `head`, `chosen`, `policy`, `fallback`, `width`, `candidate` | `decision` (head, policy and fallback reason by name; `candidate` = the row's candidate id) |
//! | the 8 `telemetry::TASK_FEATURES` names | a `sched` decision of width 8: the row's candidate |
//! | `feature_0` … `feature_31` | a decision of any other head (or width): the row's candidate |
//! | `score` | `decision`: the row's candidate |
//! | `schema`, the 12 `telemetry::FIELDS` names | `telemetry`: its `sched` section's version and fields |
//! | `other_sections` | `telemetry`: every other section as `name:version:v1;v2;…`, space-separated |
//!
//! A decision gives one row per candidate (one row with empty candidate columns when it has
//! none). Unused cells are empty. Kinds are the trace's names (`task-spawn`, …); a kind this
//! tool does not know is `unknown-N`, a head `head-N`.
//!
//! # JSON Lines layout
//! One object per record: `"kind"` and its fields by name. Telemetry: `"sections"` keyed by
//! section name, each `{version, fields}` with `fields` keyed by `FIELDS` name for the known
//! `sched` section and a plain array otherwise. Decisions: `head`, `chosen`, `policy`,
//! `fallback`, `width`, and `candidates` as `[{id, features, score}]`, features keyed by name
//! for `sched` (width 8) and a plain array otherwise. Unknown kinds: `{"kind": "unknown-N",
//! "bytes": body length}`. Keys come out in alphabetical order (`serde_json`'s default map),
//! which readers keyed by name ignore.
//!
//! A `sched` section of another version (or field count) than this tool's cannot be named:
//! CSV puts its values in the field columns by position (with one warning on stderr), JSON
//! writes its `fields` as a plain array.

use super::Trace;
use super::names;
use augur_kernel::telemetry::{FIELDS, TASK_FEATURES};
use augur_kernel::trace::{
    CandidateRef, Candidates, MAX_CANDIDATE_FEATURES, Record, Section, Sections, section,
};
use serde_json::{Map, Value, json};
use std::io::{self, Write};

/// Output format of `augur trace export`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// JSON Lines: one JSON object per line.
    Jsonl,
}

/// Writes every record of `trace` to `out` in `format`.
pub fn write(out: &mut dyn Write, format: Format, trace: &Trace<'_>) -> io::Result<()> {
    let mut records = trace.entries.iter().map(|e| e.record);
    match format {
        Format::Csv => write_csv(out, records),
        Format::Jsonl => records.try_for_each(|r| writeln!(out, "{}", json_record(&r))),
    }
}

/// The CSV columns before the scheduler's candidate features.
const BASE_COLUMNS: [&str; 16] = [
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

/// Names of the generic feature columns, `feature_0` … `feature_31`.
const GENERIC_FEATURES: [&str; MAX_CANDIDATE_FEATURES] = [
    "feature_0",
    "feature_1",
    "feature_2",
    "feature_3",
    "feature_4",
    "feature_5",
    "feature_6",
    "feature_7",
    "feature_8",
    "feature_9",
    "feature_10",
    "feature_11",
    "feature_12",
    "feature_13",
    "feature_14",
    "feature_15",
    "feature_16",
    "feature_17",
    "feature_18",
    "feature_19",
    "feature_20",
    "feature_21",
    "feature_22",
    "feature_23",
    "feature_24",
    "feature_25",
    "feature_26",
    "feature_27",
    "feature_28",
    "feature_29",
    "feature_30",
    "feature_31",
];

/// Column indices of the CSV layout.
mod col {
    use super::{BASE_COLUMNS, FIELDS, GENERIC_FEATURES, TASK_FEATURES};
    pub const TICK: usize = 0;
    pub const KIND: usize = 1;
    pub const TASK: usize = 2;
    pub const NAME: usize = 3;
    pub const TASK_CLASS: usize = 4;
    pub const STATUS: usize = 5;
    pub const DROPPED: usize = 6;
    pub const RECORDS: usize = 7;
    pub const HEAD: usize = 8;
    pub const CHOSEN: usize = 9;
    pub const POLICY: usize = 10;
    pub const FALLBACK: usize = 11;
    pub const WIDTH: usize = 12;
    pub const CANDIDATE: usize = 13;
    pub const SCORE: usize = 14;
    pub const SCHEMA: usize = 15;
    pub const SCHED_FEATURE0: usize = BASE_COLUMNS.len();
    pub const FEATURE0: usize = SCHED_FEATURE0 + TASK_FEATURES.len();
    pub const FIELD0: usize = FEATURE0 + GENERIC_FEATURES.len();
    pub const OTHER_SECTIONS: usize = FIELD0 + FIELDS.len();
}

/// The CSV header, in column order.
pub fn csv_header() -> Vec<&'static str> {
    let mut header = BASE_COLUMNS.to_vec();
    header.extend(TASK_FEATURES.iter().map(|f| f.name));
    header.extend(GENERIC_FEATURES);
    header.extend(FIELDS.iter().map(|f| f.name));
    header.push("other_sections");
    header
}

/// The I/O error inside a CSV error, kind intact, so a closed pipe stays a
/// [`io::ErrorKind::BrokenPipe`] (which `with_output` treats as a reader that stopped early)
/// instead of becoming an opaque "other" error.
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        kind => io::Error::other(format!("CSV: {kind:?}")),
    }
}

/// Writes the CSV header and the rows of `records`.
fn write_csv<'a>(out: &mut dyn Write, records: impl Iterator<Item = Record<'a>>) -> io::Result<()> {
    let header = csv_header();
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(&header).map_err(csv_io)?;
    let mut warned = false;
    for record in records {
        if let Record::Telemetry { sections, .. } = record
            && let Some(s) = sections.get(section::SCHED)
            && !names::telemetry_is_known(s.code, s.version, s.fields.len())
            && !std::mem::replace(&mut warned, true)
        {
            eprintln!(
                "augur trace: telemetry section sched version {} with {} fields is not this \
                 tool's; its values are in the field columns by position",
                s.version,
                s.fields.len()
            );
        }
        for row in csv_rows(&record, header.len()) {
            csv.write_record(&row).map_err(csv_io)?;
        }
    }
    csv.flush()
}

/// The CSV rows of one record (`width` cells each).
fn csv_rows(record: &Record<'_>, width: usize) -> Vec<Vec<String>> {
    let mut row = vec![String::new(); width];
    if let Some(tick) = record.tick() {
        row[col::TICK] = tick.to_string();
    }
    row[col::KIND] = match record {
        Record::Unknown { kind, .. } => format!("unknown-{kind}"),
        r => names::kind(r.kind()),
    };
    match *record {
        Record::Telemetry { sections, .. } => telemetry_cells(&mut row, sections),
        Record::Decision {
            head,
            chosen,
            policy,
            fallback,
            candidates,
            ..
        } => {
            row[col::HEAD] = names::head(head);
            row[col::CHOSEN] = chosen.to_string();
            row[col::POLICY] = names::policy(head, policy);
            row[col::FALLBACK] = fallback.map(names::fallback).unwrap_or_default();
            row[col::WIDTH] = candidates.width().to_string();
            if !candidates.is_empty() {
                let named = names::sched_features_known(head, candidates.width());
                return candidates
                    .iter()
                    .map(|c| candidate_row(&row, &c, named))
                    .collect();
            }
        }
        Record::TaskSpawn {
            task, class, name, ..
        } => {
            row[col::TASK] = task.to_string();
            row[col::NAME] = name.to_string();
            row[col::TASK_CLASS] = names::class(class);
        }
        Record::TaskFirstRun { task, .. }
        | Record::TaskBlock { task, .. }
        | Record::TaskWake { task, .. } => row[col::TASK] = task.to_string(),
        Record::TaskExit { task, status, .. } => {
            row[col::TASK] = task.to_string();
            row[col::STATUS] = status.to_string();
        }
        Record::Dropped { records } => row[col::DROPPED] = records.to_string(),
        Record::End {
            records, dropped, ..
        } => {
            row[col::RECORDS] = records.to_string();
            row[col::DROPPED] = dropped.to_string();
        }
        Record::Unknown { .. } => {}
    }
    vec![row]
}

/// Fills the telemetry cells: the `sched` section in the named columns, the rest as text.
fn telemetry_cells(row: &mut [String], sections: Sections<'_>) {
    let mut others = Vec::new();
    for s in sections.iter() {
        if s.code == section::SCHED {
            row[col::SCHEMA] = s.version.to_string();
            let cells = &mut row[col::FIELD0..col::OTHER_SECTIONS];
            for (cell, v) in cells.iter_mut().zip(s.fields.iter()) {
                *cell = v.to_string();
            }
        } else {
            others.push(section_text(&s));
        }
    }
    row[col::OTHER_SECTIONS] = others.join(" ");
}

/// A section as `name:version:v1;v2;…`.
fn section_text(s: &Section<'_>) -> String {
    let values: Vec<String> = s.fields.iter().map(|v| v.to_string()).collect();
    format!(
        "{}:{}:{}",
        names::section(s.code),
        s.version,
        values.join(";")
    )
}

/// A decision row (`base`) completed with candidate `c`; its features in the scheduler's named
/// columns when `named`, else in the generic ones.
fn candidate_row(base: &[String], c: &CandidateRef<'_>, named: bool) -> Vec<String> {
    let mut row = base.to_vec();
    row[col::CANDIDATE] = c.id.to_string();
    if named {
        row[col::TASK] = c.id.to_string();
    }
    let cells = if named {
        &mut row[col::SCHED_FEATURE0..col::FEATURE0]
    } else {
        &mut row[col::FEATURE0..col::FIELD0]
    };
    for (cell, f) in cells.iter_mut().zip(c.features.iter()) {
        *cell = f.to_string();
    }
    row[col::SCORE] = c.score.to_string();
    row
}

/// The JSON object of one record.
pub fn json_record(record: &Record<'_>) -> Value {
    let kind = names::kind(record.kind());
    match *record {
        Record::Telemetry { tick, sections } => {
            let sections: Map<String, Value> = sections
                .iter()
                .map(|s| (names::section(s.code), json_section(&s)))
                .collect();
            json!({"kind": kind, "tick": tick, "sections": sections})
        }
        Record::Decision {
            tick,
            head,
            chosen,
            policy,
            fallback,
            candidates,
        } => json!({
            "kind": kind, "tick": tick, "head": names::head(head), "chosen": chosen,
            "policy": names::policy(head, policy), "fallback": fallback.map(names::fallback),
            "width": candidates.width(), "candidates": json_candidates(head, candidates),
        }),
        Record::TaskSpawn {
            tick,
            task,
            class,
            name,
        } => json!({
            "kind": kind, "tick": tick, "task": task, "class": names::class(class), "name": name,
        }),
        Record::TaskFirstRun { tick, task }
        | Record::TaskBlock { tick, task }
        | Record::TaskWake { tick, task } => json!({"kind": kind, "tick": tick, "task": task}),
        Record::TaskExit { tick, task, status } => {
            json!({"kind": kind, "tick": tick, "task": task, "status": status})
        }
        Record::Dropped { records } => json!({"kind": kind, "records": records}),
        Record::End {
            tick,
            records,
            dropped,
        } => json!({"kind": kind, "tick": tick, "records": records, "dropped": dropped}),
        Record::Unknown { kind, body } => {
            json!({"kind": format!("unknown-{kind}"), "bytes": body.len()})
        }
    }
}

/// A section as `{version, fields}`, fields by name when it is the known `sched` section.
fn json_section(s: &Section<'_>) -> Value {
    let values: Vec<i32> = s.fields.iter().collect();
    let fields = if names::telemetry_is_known(s.code, s.version, values.len()) {
        named(FIELDS.iter().map(|f| f.name), values)
    } else {
        json!(values)
    };
    json!({"version": s.version, "fields": fields})
}

/// The candidates as `[{id, features, score}]`.
fn json_candidates(head: u8, candidates: Candidates<'_>) -> Vec<Value> {
    let named_features = names::sched_features_known(head, candidates.width());
    candidates
        .iter()
        .map(|c| {
            let features = if named_features {
                named(TASK_FEATURES.iter().map(|f| f.name), c.features.iter())
            } else {
                json!(c.features.iter().collect::<Vec<_>>())
            };
            json!({"id": c.id, "features": features, "score": c.score})
        })
        .collect()
}

/// An object pairing `keys` with `values` in order.
fn named<V: Into<Value>>(
    keys: impl Iterator<Item = &'static str>,
    values: impl IntoIterator<Item = V>,
) -> Value {
    let map: Map<String, Value> = keys
        .zip(values)
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_kernel::trace::{Items, head};
    use std::collections::HashSet;

    #[test]
    fn csv_header_names_are_unique_and_indices_match() {
        let header = csv_header();
        let unique: HashSet<_> = header.iter().collect();
        assert_eq!(unique.len(), header.len(), "duplicate column in {header:?}");
        assert_eq!(header[col::SCHED_FEATURE0], TASK_FEATURES[0].name);
        assert_eq!(header[col::FEATURE0], "feature_0");
        assert_eq!(header[col::FIELD0 - 1], "feature_31");
        assert_eq!(header[col::SCORE], "score");
        assert_eq!(header[col::CANDIDATE], "candidate");
        assert_eq!(header[col::FIELD0], FIELDS[0].name);
        assert_eq!(header[col::OTHER_SECTIONS], "other_sections");
        assert_eq!(header.len(), col::OTHER_SECTIONS + 1);
    }

    #[test]
    fn decision_without_candidates_is_one_row() {
        let r = Record::Decision {
            tick: 5,
            head: head::SCHED,
            chosen: 3,
            policy: 4,
            fallback: Some(1),
            candidates: Candidates::none(8),
        };
        let rows = csv_rows(&r, csv_header().len());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][col::HEAD], "sched");
        assert_eq!(rows[0][col::POLICY], "learned");
        assert_eq!(rows[0][col::FALLBACK], "no-weights");
        assert_eq!(rows[0][col::TASK], "");
    }

    #[test]
    fn other_heads_use_the_generic_feature_columns() {
        let (ids, features, scores) = ([70u64, 71], [1i16, 2, 3, 4, 5, 6], [9, -9]);
        let r = Record::Decision {
            tick: 5,
            head: head::BLK_EVICT,
            chosen: 71,
            policy: 0,
            fallback: None,
            candidates: Candidates::columns(3, &ids, &features, &scores),
        };
        let rows = csv_rows(&r, csv_header().len());
        assert_eq!(rows.len(), 2);
        let r1 = &rows[1];
        assert_eq!(
            (&*r1[col::HEAD], &*r1[col::CANDIDATE], &*r1[col::TASK]),
            ("blk-evict", "71", "")
        );
        assert_eq!(&r1[col::FEATURE0..col::FEATURE0 + 4], ["4", "5", "6", ""]);
        assert!(
            r1[col::SCHED_FEATURE0..col::FEATURE0]
                .iter()
                .all(String::is_empty)
        );
        assert_eq!(r1[col::SCORE], "-9");
        let j = json_record(&r);
        assert_eq!(j["candidates"][1]["features"], json!([4, 5, 6]));
        assert_eq!(j["head"], "blk-evict");
    }

    #[test]
    fn telemetry_sections_are_split() {
        let sched: Vec<i32> = (0..FIELDS.len() as i32).collect();
        let sections = [
            Section {
                code: section::SCHED,
                version: augur_kernel::telemetry::SCHEMA_VERSION,
                fields: Items::from_slice(&sched),
            },
            Section {
                code: section::MM,
                version: 3,
                fields: Items::from_slice(&[7, -8]),
            },
        ];
        let r = Record::Telemetry {
            tick: 1,
            sections: Sections::from_slice(&sections),
        };
        let row = &csv_rows(&r, csv_header().len())[0];
        assert_eq!(row[col::FIELD0 + 2], "2");
        assert_eq!(row[col::OTHER_SECTIONS], "mm:3:7;-8");
        let j = json_record(&r);
        assert_eq!(
            j["sections"]["mm"],
            json!({"version": 3, "fields": [7, -8]})
        );
        assert_eq!(j["sections"]["sched"]["fields"][FIELDS[2].name], 2);
    }

    #[test]
    fn foreign_schema_telemetry_is_an_array() {
        let sections = [Section {
            code: section::SCHED,
            version: 99,
            fields: Items::from_slice(&[1, 2]),
        }];
        let r = Record::Telemetry {
            tick: 1,
            sections: Sections::from_slice(&sections),
        };
        assert_eq!(
            json_record(&r)["sections"]["sched"]["fields"],
            json!([1, 2])
        );
    }
}
