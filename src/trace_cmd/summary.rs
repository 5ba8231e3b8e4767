//! `augur trace summary`: what a trace holds, as plain aligned text tables.
//!
//! Sections: the file, its format version and ticks covered, whether the trace is complete
//! (its end record), records by kind (kinds this tool does not know are counted as
//! `unknown-N`: stepped over, not damage), scheduling metrics per task class and overall
//! (turnaround, response and wait in ticks: mean, p50, p99 with nearest-rank percentiles, the
//! kernel's own `workload::metrics::Spread`, so the numbers match the kernel's `metrics:`
//! line), decisions by head, by head and policy, fallbacks by head and reason, dropped records
//! and damage. Every count and sum of decoded values saturates, so a crafted trace cannot make
//! one wrap. Every table starts with a header row; the first column is left-aligned, the rest
//! right-aligned, so `split_whitespace` reads a row back.

use super::Trace;
use super::names;
use super::timeline::{Task, Timeline};
use augur_kernel::trace::Record;
use augur_kernel::workload::metrics::{Spread, TaskOutcome};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

/// Microseconds per second, for tick → time conversion.
const US_PER_S: f64 = 1e6;

/// Writes the summary of `trace` (read from `file`, ticks at `hz`) to `out`.
pub fn write(out: &mut dyn Write, file: &Path, trace: &Trace<'_>, hz: u32) -> io::Result<()> {
    let timeline = Timeline::build(&trace.entries);
    write_header(out, file, trace, &timeline, hz)?;
    write_completeness(out, trace)?;
    section(out, "records by kind", &["kind", "count"], kind_rows(trace))?;
    section(
        out,
        "scheduling metrics (ticks; turnaround and wait over finished tasks, response over tasks that ran)",
        &METRIC_HEADER,
        metric_rows(&timeline),
    )?;
    let (heads, policies, fallbacks) = decision_rows(trace);
    section(
        out,
        "decisions by head",
        &["head", "decisions", "fallbacks"],
        heads,
    )?;
    section(
        out,
        "decisions by policy (head/policy)",
        &["policy", "decisions"],
        policies,
    )?;
    section(
        out,
        "fallbacks by reason (head/reason)",
        &["reason", "decisions"],
        fallbacks,
    )?;
    write_losses(out, trace)
}

/// File, ticks covered and task counts.
fn write_header(
    out: &mut dyn Write,
    file: &Path,
    trace: &Trace<'_>,
    timeline: &Timeline,
    hz: u32,
) -> io::Result<()> {
    writeln!(
        out,
        "trace: {} ({} bytes, {} records, format version {})",
        file.display(),
        trace.bytes,
        trace.entries.len(),
        versions(trace)
    )?;
    match timeline.ticks {
        Some((first, last)) => {
            let n = timeline.tick_count();
            let ms = n as f64 * US_PER_S / f64::from(hz) / 1e3;
            writeln!(
                out,
                "ticks: {first}..={last} ({n} ticks, {ms:.3} ms at {hz} Hz)"
            )?;
        }
        None => writeln!(out, "ticks: none")?,
    }
    let spawned = timeline
        .tasks
        .values()
        .filter(|t| t.spawn.is_some())
        .count();
    let finished = timeline.tasks.values().filter(|t| t.exit.is_some()).count();
    writeln!(
        out,
        "tasks: {spawned} spawned, {finished} finished, {} seen",
        timeline.tasks.len()
    )
}

/// The format versions of the trace's chunks, e.g. `2` or `1 and 2`.
fn versions(trace: &Trace<'_>) -> String {
    let mut seen: Vec<u16> = trace.entries.iter().map(|e| e.version).collect();
    seen.sort_unstable();
    seen.dedup();
    let seen: Vec<String> = seen.iter().map(u16::to_string).collect();
    seen.join(" and ")
}

/// Message for a version-2 trace without an end record.
pub const NO_END_MARKER: &str =
    "no end marker: the trace was cut (or the kernel stopped before the end of its job)";

/// Whether the trace ends with its end record, and whether the records it announces arrived.
fn write_completeness(out: &mut dyn Write, trace: &Trace<'_>) -> io::Result<()> {
    let end = trace.entries.iter().rev().find_map(|e| match e.record {
        Record::End {
            records, dropped, ..
        } => Some((records, dropped)),
        _ => None,
    });
    let old = trace.entries.iter().all(|e| e.version < 2);
    let Some((written, dropped)) = end else {
        if old {
            return writeln!(
                out,
                "end: no end marker (format version 1 traces have none):                  cannot tell whether the trace is complete"
            );
        }
        return writeln!(out, "end: {NO_END_MARKER}");
    };
    // Records the kernel counts as written: all but drop markers and the end record itself.
    let read = trace
        .entries
        .iter()
        .filter(|e| !matches!(e.record, Record::Dropped { .. } | Record::End { .. }))
        .count() as u64;
    let last_is_end = matches!(
        trace.entries.last().map(|e| e.record),
        Some(Record::End { .. })
    );
    write!(
        out,
        "end: complete ({written} records written, {read} read, {dropped} dropped by the kernel)"
    )?;
    if read < written {
        write!(out, "; {} records are missing", written - read)?;
    }
    if !last_is_end {
        write!(out, "; records follow the end marker")?;
    }
    writeln!(out)
}

/// A titled table followed by a blank line; "(none)" instead of an empty table.
fn section(
    out: &mut dyn Write,
    title: &str,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> io::Result<()> {
    writeln!(out, "\n{title}")?;
    if rows.is_empty() {
        return writeln!(out, "  (none)");
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    out.write_all(table(&header, &rows).as_bytes())
}

/// Renders rows under a header, indented by two spaces, columns padded to their widest cell.
fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| match i {
                0 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            })
            .collect();
        text.push_str(&format!("  {}\n", cells.join("  ").trim_end()));
    }
    text
}

/// Record counts by kind, in kind-code order.
fn kind_rows(trace: &Trace<'_>) -> Vec<Vec<String>> {
    let mut counts: BTreeMap<u8, u64> = BTreeMap::new();
    for entry in &trace.entries {
        *counts.entry(entry.record.kind()).or_default() += 1;
    }
    // A version-1 trace's kind 9 is unknown there, but `names::kind` would call it `end`.
    let unknown: std::collections::BTreeSet<u8> = trace
        .entries
        .iter()
        .filter_map(|e| match e.record {
            Record::Unknown { kind, .. } => Some(kind),
            _ => None,
        })
        .collect();
    counts
        .into_iter()
        .map(|(kind, n)| {
            let name = if unknown.contains(&kind) {
                format!("unknown-{kind}")
            } else {
                names::kind(kind)
            };
            vec![name, n.to_string()]
        })
        .collect()
}

/// Column names of the metrics table.
const METRIC_HEADER: [&str; 13] = [
    "class",
    "spawned",
    "finished",
    "turn_mean",
    "turn_p50",
    "turn_p99",
    "resp_mean",
    "resp_p50",
    "resp_p99",
    "wait_mean",
    "wait_p50",
    "wait_p99",
    "cpu_ticks",
];

/// The class label of tasks seen (in decisions or life-cycle records) without a spawn record,
/// e.g. a thread that started before tracing did.
const NO_SPAWN: &str = "no-spawn";

/// One metrics row per task class present, then `all`.
fn metric_rows(timeline: &Timeline) -> Vec<Vec<String>> {
    let mut by_class: BTreeMap<Option<u8>, Vec<&Task>> = BTreeMap::new();
    for task in timeline.tasks.values() {
        by_class.entry(task.class).or_default().push(task);
    }
    let mut rows: Vec<Vec<String>> = by_class
        .iter()
        .map(|(class, tasks)| {
            let name = class.map_or_else(|| NO_SPAWN.to_string(), names::class);
            metric_row(name, tasks)
        })
        .collect();
    let all: Vec<&Task> = timeline.tasks.values().collect();
    rows.push(metric_row("all".to_string(), &all));
    rows
}

/// The metrics of `tasks` under the label `name`.
fn metric_row(name: String, tasks: &[&Task]) -> Vec<String> {
    let outcomes: Vec<TaskOutcome> = tasks.iter().filter_map(|t| t.outcome()).collect();
    let pick = |f: fn(&TaskOutcome) -> u64| outcomes.iter().map(f).collect::<Vec<_>>();
    let responses: Vec<u64> = tasks.iter().filter_map(|t| t.response()).collect();
    let mut row = vec![
        name,
        tasks
            .iter()
            .filter(|t| t.spawn.is_some())
            .count()
            .to_string(),
        outcomes.len().to_string(),
    ];
    spread_cells(&mut row, &pick(|o| o.turnaround));
    spread_cells(&mut row, &responses);
    spread_cells(&mut row, &pick(|o| o.wait));
    let cpu = tasks
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.cpu_ticks));
    row.push(cpu.to_string());
    row
}

/// Appends mean (two decimals), p50 and p99 of `values`, or dashes when there are none.
fn spread_cells(row: &mut Vec<String>, values: &[u64]) {
    if values.is_empty() {
        row.extend(["-", "-", "-"].map(String::from));
        return;
    }
    let s = Spread::of(values);
    row.extend([
        format!("{}.{:02}", s.mean_centi / 100, s.mean_centi % 100),
        s.p50.to_string(),
        s.p99.to_string(),
    ]);
}

/// Rows of a decision table.
type Rows = Vec<Vec<String>>;

/// Decisions and fallbacks per head (in head-code order), decisions per `head/policy` and
/// fallbacks per `head/reason`.
fn decision_rows(trace: &Trace<'_>) -> (Rows, Rows, Rows) {
    let mut heads: BTreeMap<u8, (u64, u64)> = BTreeMap::new();
    let mut policies: BTreeMap<String, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for entry in &trace.entries {
        if let Record::Decision {
            head,
            policy,
            fallback,
            ..
        } = entry.record
        {
            let h = names::head(head);
            let counts = heads.entry(head).or_default();
            counts.0 += 1;
            *policies
                .entry(format!("{h}/{}", names::policy(head, policy)))
                .or_default() += 1;
            if let Some(code) = fallback {
                counts.1 += 1;
                *reasons
                    .entry(format!("{h}/{}", names::fallback(code)))
                    .or_default() += 1;
            }
        }
    }
    let heads = heads
        .into_iter()
        .map(|(h, (d, f))| vec![names::head(h), d.to_string(), f.to_string()])
        .collect();
    let rows = |m: BTreeMap<String, u64>| m.into_iter().map(|(k, n)| vec![k, n.to_string()]);
    (heads, rows(policies).collect(), rows(reasons).collect())
}

/// Dropped records and the damaged places.
fn write_losses(out: &mut dyn Write, trace: &Trace<'_>) -> io::Result<()> {
    let (mut markers, mut lost) = (0u64, 0u64);
    for entry in &trace.entries {
        if let Record::Dropped { records } = entry.record {
            markers += 1;
            lost = lost.saturating_add(records);
        }
    }
    let lost = match lost {
        u64::MAX => format!("{lost} or more (the markers' sum saturates)"),
        n => n.to_string(),
    };
    writeln!(
        out,
        "\ndropped records: {lost} (in {markers} marker(s); metrics around them are approximate)"
    )?;
    writeln!(out, "\ndamage")?;
    if trace.damage.is_empty() {
        return writeln!(out, "  none");
    }
    for damage in &trace.damage {
        writeln!(out, "  {damage}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_first_column_left_and_the_rest_right() {
        let header = vec!["kind".to_string(), "count".to_string()];
        let rows = vec![
            vec!["telemetry".to_string(), "7".to_string()],
            vec!["dropped".to_string(), "12345".to_string()],
        ];
        assert_eq!(
            table(&header, &rows),
            "  kind       count\n  telemetry      7\n  dropped    12345\n"
        );
    }

    #[test]
    fn spreads_use_nearest_rank() {
        let mut row = Vec::new();
        spread_cells(&mut row, &[10, 7, 8]);
        assert_eq!(row, ["8.33", "8", "10"]);
        spread_cells(&mut row, &[]);
        assert_eq!(&row[3..], ["-", "-", "-"]);
    }
}
