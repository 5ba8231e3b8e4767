//! `augur trace summary`: what a trace holds, as plain aligned text tables.
//!
//! Sections: the file and ticks covered, records by kind, scheduling metrics per task class
//! and overall (turnaround, response and wait in ticks: mean, p50, p99 with nearest-rank
//! percentiles, the kernel's own `workload::metrics::Spread`, so the numbers match the
//! kernel's `metrics:` line), decisions by policy, fallbacks by reason, dropped records and
//! damage. Every table starts with a header row; the first column is left-aligned, the rest
//! right-aligned, so `split_whitespace` reads a row back.

use super::Trace;
use super::names;
use super::timeline::{Task, Timeline};
use augur_kernel::trace::Record;
use augur_kernel::trace::record::kind_name;
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
    section(out, "records by kind", &["kind", "count"], kind_rows(trace))?;
    section(
        out,
        "scheduling metrics (ticks; turnaround and wait over finished tasks, response over tasks that ran)",
        &METRIC_HEADER,
        metric_rows(&timeline),
    )?;
    let (policies, fallbacks) = decision_rows(trace);
    section(
        out,
        "decisions by policy",
        &["policy", "decisions"],
        policies,
    )?;
    section(
        out,
        "fallbacks by reason",
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
        "trace: {} ({} bytes, {} records)",
        file.display(),
        trace.bytes,
        trace.entries.len()
    )?;
    match timeline.ticks {
        Some((first, last)) => {
            let n = last - first + 1;
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
    counts
        .into_iter()
        .map(|(kind, n)| vec![kind_name(kind).to_string(), n.to_string()])
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
    row.push(tasks.iter().map(|t| t.cpu_ticks).sum::<u64>().to_string());
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

/// Decisions by policy name and fallbacks by reason name.
fn decision_rows(trace: &Trace<'_>) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let mut policies: BTreeMap<String, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for entry in &trace.entries {
        if let Record::Decision {
            policy, fallback, ..
        } = entry.record
        {
            *policies.entry(names::policy(policy)).or_default() += 1;
            if let Some(code) = fallback {
                *reasons.entry(names::fallback(code)).or_default() += 1;
            }
        }
    }
    let rows = |m: BTreeMap<String, u64>| m.into_iter().map(|(k, n)| vec![k, n.to_string()]);
    (rows(policies).collect(), rows(reasons).collect())
}

/// Dropped records and the damaged places.
fn write_losses(out: &mut dyn Write, trace: &Trace<'_>) -> io::Result<()> {
    let (mut markers, mut lost) = (0u64, 0u64);
    for entry in &trace.entries {
        if let Record::Dropped { records } = entry.record {
            markers += 1;
            lost += records;
        }
    }
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
