//! `augur trace export`: one CSV row or one JSON line per record, for pandas, DuckDB, jq.
//!
//! # CSV layout
//! A fixed column set, so every file of one schema version has the same header:
//!
//! | columns | used by |
//! | --- | --- |
//! | `tick`, `kind` | every record (`tick` empty for `dropped`) |
//! | `task` | task records; for a decision, the candidate of that row |
//! | `name`, `task_class` | `task-spawn` (class by name: normal, batch, interactive) |
//! | `status` | `task-exit` |
//! | `dropped` | `dropped`: records lost at that point |
//! | `chosen`, `policy`, `fallback` | `decision` (policy and fallback reason by name) |
//! | the 8 `telemetry::TASK_FEATURES` names, `score` | `decision`: the row's candidate |
//! | `schema`, the 12 `telemetry::FIELDS` names | `telemetry` |
//!
//! A decision gives one row per candidate (one row with empty candidate columns when it has
//! none). Unused cells are empty. Kinds are the trace's names (`task-spawn`, …).
//!
//! # JSON Lines layout
//! One object per record: `"kind"` and its fields by name; telemetry values under `"fields"`
//! keyed by `FIELDS` name, candidates as `[{task, features: {name: value}, score}]`. Keys come
//! out in alphabetical order (`serde_json`'s default map), which readers keyed by name ignore.
//!
//! A telemetry record of another schema version (or field count) than this tool's cannot be
//! named: CSV puts its values in the field columns by position (with one warning on stderr),
//! JSON writes `"fields"` as a plain array.

use super::Trace;
use super::names;
use augur_kernel::telemetry::{FIELDS, TASK_FEATURES};
use augur_kernel::trace::record::kind_name;
use augur_kernel::trace::{Candidate, Record};
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

/// The CSV columns before the candidate features.
const BASE_COLUMNS: [&str; 10] = [
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

/// Column indices of the CSV layout.
mod col {
    use super::{BASE_COLUMNS, TASK_FEATURES};
    pub const TICK: usize = 0;
    pub const KIND: usize = 1;
    pub const TASK: usize = 2;
    pub const NAME: usize = 3;
    pub const TASK_CLASS: usize = 4;
    pub const STATUS: usize = 5;
    pub const DROPPED: usize = 6;
    pub const CHOSEN: usize = 7;
    pub const POLICY: usize = 8;
    pub const FALLBACK: usize = 9;
    pub const FEATURE0: usize = BASE_COLUMNS.len();
    pub const SCORE: usize = FEATURE0 + TASK_FEATURES.len();
    pub const SCHEMA: usize = SCORE + 1;
    pub const FIELD0: usize = SCHEMA + 1;
}

/// The CSV header, in column order.
pub fn csv_header() -> Vec<&'static str> {
    let mut header = BASE_COLUMNS.to_vec();
    header.extend(TASK_FEATURES.iter().map(|f| f.name));
    header.extend(["score", "schema"]);
    header.extend(FIELDS.iter().map(|f| f.name));
    header
}

/// Writes the CSV header and the rows of `records`.
fn write_csv<'a>(out: &mut dyn Write, records: impl Iterator<Item = Record<'a>>) -> io::Result<()> {
    let header = csv_header();
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(&header)?;
    let mut warned = false;
    for record in records {
        if let Record::Telemetry { schema, fields, .. } = record
            && !names::telemetry_is_known(schema, fields.len())
            && !std::mem::replace(&mut warned, true)
        {
            eprintln!(
                "augur trace: telemetry schema {schema} with {} fields is not this tool's; \
                 its values are in the field columns by position",
                fields.len()
            );
        }
        for row in csv_rows(&record, header.len()) {
            csv.write_record(&row)?;
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
    row[col::KIND] = kind_name(record.kind()).to_string();
    match *record {
        Record::Telemetry { schema, fields, .. } => {
            row[col::SCHEMA] = schema.to_string();
            for (cell, v) in row[col::FIELD0..].iter_mut().zip(fields.iter()) {
                *cell = v.to_string();
            }
        }
        Record::Decision {
            chosen,
            policy,
            fallback,
            candidates,
            ..
        } => {
            row[col::CHOSEN] = chosen.to_string();
            row[col::POLICY] = names::policy(policy);
            row[col::FALLBACK] = fallback.map(names::fallback).unwrap_or_default();
            if !candidates.is_empty() {
                return candidates.iter().map(|c| candidate_row(&row, &c)).collect();
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
    }
    vec![row]
}

/// A decision row (`base`) completed with candidate `c`.
fn candidate_row(base: &[String], c: &Candidate) -> Vec<String> {
    let mut row = base.to_vec();
    row[col::TASK] = c.task.to_string();
    for (cell, f) in row[col::FEATURE0..col::SCORE].iter_mut().zip(c.features) {
        *cell = f.to_string();
    }
    row[col::SCORE] = c.score.to_string();
    row
}

/// The JSON object of one record.
pub fn json_record(record: &Record<'_>) -> Value {
    let kind = kind_name(record.kind());
    match *record {
        Record::Telemetry {
            tick,
            schema,
            fields,
        } => {
            let values: Vec<i32> = fields.iter().collect();
            let fields = if names::telemetry_is_known(schema, values.len()) {
                named(FIELDS.iter().map(|f| f.name), values)
            } else {
                json!(values)
            };
            json!({"kind": kind, "tick": tick, "schema": schema, "fields": fields})
        }
        Record::Decision {
            tick,
            chosen,
            policy,
            fallback,
            candidates,
        } => json!({
            "kind": kind, "tick": tick, "chosen": chosen, "policy": names::policy(policy),
            "fallback": fallback.map(names::fallback),
            "candidates": candidates.iter().map(|c| json_candidate(&c)).collect::<Vec<_>>(),
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
    }
}

/// A candidate as `{task, features: {name: value}, score}`.
fn json_candidate(c: &Candidate) -> Value {
    let features = named(TASK_FEATURES.iter().map(|f| f.name), c.features);
    json!({"task": c.task, "features": features, "score": c.score})
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
    use augur_kernel::trace::Items;
    use std::collections::HashSet;

    #[test]
    fn csv_header_names_are_unique_and_indices_match() {
        let header = csv_header();
        let unique: HashSet<_> = header.iter().collect();
        assert_eq!(unique.len(), header.len(), "duplicate column in {header:?}");
        assert_eq!(header[col::FEATURE0], TASK_FEATURES[0].name);
        assert_eq!(header[col::SCORE], "score");
        assert_eq!(header[col::FIELD0], FIELDS[0].name);
        assert_eq!(header.len(), col::FIELD0 + FIELDS.len());
    }

    #[test]
    fn decision_without_candidates_is_one_row() {
        let r = Record::Decision {
            tick: 5,
            chosen: 3,
            policy: 4,
            fallback: Some(1),
            candidates: Items::from_slice(&[]),
        };
        let rows = csv_rows(&r, csv_header().len());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][col::POLICY], "learned");
        assert_eq!(rows[0][col::FALLBACK], "no-weights");
        assert_eq!(rows[0][col::TASK], "");
    }

    #[test]
    fn foreign_schema_telemetry_is_an_array() {
        let r = Record::Telemetry {
            tick: 1,
            schema: 99,
            fields: Items::from_slice(&[1, 2]),
        };
        assert_eq!(json_record(&r)["fields"], json!([1, 2]));
    }
}
