//! `augur trace perfetto`: the trace as Chrome trace-event JSON, which ui.perfetto.dev and
//! chrome://tracing open.
//!
//! Layout (one process, pid [`PID`]): one thread track per task (tid = task id), named by
//! its spawn record through `thread_name` metadata (`"M"`); a complete event (`"X"`, named
//! `run`) for each running interval of the [`timeline`](super::timeline); thread-scoped
//! instants (`"i"`) for spawn, first run, block, wake and exit; process-scoped instants for
//! fallback decisions of every head (`fallback: REASON` for the scheduler, `HEAD fallback:
//! REASON` for the others) and for the end record; counters (`"C"`, event `telemetry`) for [`COUNTER_FIELDS`], emitted
//! when their value changes. Times are microseconds: `tick × 10⁶ / hz`.
//!
//! # Resources
//! "Trace Event Format", Google (the `traceEvents` / `ph` / `ts` / `dur` document Perfetto's
//! JSON importer follows).

use super::Trace;
use super::names;
use super::timeline::Timeline;
use augur_kernel::telemetry::FIELDS;
use augur_kernel::trace::Record;
use serde::Serialize;
use serde_json::{Value, json};
use std::io::{self, Write};

/// The process id every event carries (the whole kernel is one process).
const PID: u32 = 1;

/// Telemetry fields shown as counter tracks.
const COUNTER_FIELDS: [&str; 3] = ["runnable", "blocked", "alive"];

/// Microseconds per second.
const US_PER_S: f64 = 1e6;

/// One trace event (the fields of the Trace Event Format this file uses).
#[derive(Serialize, Debug)]
struct Event {
    /// Event name.
    name: String,
    /// Phase: `M` metadata, `X` complete, `i` instant, `C` counter.
    ph: &'static str,
    /// Process.
    pid: u32,
    /// Thread (task), for thread events.
    #[serde(skip_serializing_if = "Option::is_none")]
    tid: Option<u32>,
    /// Start, microseconds.
    ts: f64,
    /// Length, microseconds (`X` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    /// Instant scope: `t` thread, `p` process (`i` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    /// Arguments shown in the UI (the name for metadata, values for counters).
    #[serde(skip_serializing_if = "Value::is_null")]
    args: Value,
}

impl Event {
    /// An event with only the common fields set.
    fn new(name: impl Into<String>, ph: &'static str, tid: Option<u32>, ts: f64) -> Event {
        Event {
            name: name.into(),
            ph,
            pid: PID,
            tid,
            ts,
            dur: None,
            s: None,
            args: Value::Null,
        }
    }

    /// An instant on `tid`'s track (process-wide when `None`).
    fn instant(name: impl Into<String>, tid: Option<u32>, ts: f64, args: Value) -> Event {
        Event {
            s: Some(if tid.is_some() { "t" } else { "p" }),
            args,
            ..Event::new(name, "i", tid, ts)
        }
    }
}

/// The whole file.
#[derive(Serialize)]
struct TraceFile {
    #[serde(rename = "traceEvents")]
    trace_events: Vec<Event>,
    #[serde(rename = "displayTimeUnit")]
    display_time_unit: &'static str,
}

/// Writes `trace` (ticks at `hz`) as trace-event JSON to `out`.
pub fn write(out: &mut dyn Write, trace: &Trace<'_>, hz: u32) -> io::Result<()> {
    let us = |tick: u64| tick as f64 * US_PER_S / f64::from(hz);
    let timeline = Timeline::build(&trace.entries);
    let mut events = metadata(&timeline);
    events.extend(timeline.runs.iter().map(|r| Event {
        dur: Some(us(r.end) - us(r.start)),
        args: json!({"ticks": r.end - r.start}),
        ..Event::new("run", "X", Some(r.task), us(r.start))
    }));
    let mut counters = Counters::default();
    for entry in &trace.entries {
        if let Some(tick) = entry.record.tick() {
            events.extend(instant(&entry.record, us(tick)));
            events.extend(counters.update(&entry.record, us(tick)));
        }
    }
    let file = TraceFile {
        trace_events: events,
        display_time_unit: "ms",
    };
    serde_json::to_writer(&mut *out, &file)?;
    writeln!(out)
}

/// Process and thread names, threads sorted by task id.
fn metadata(timeline: &Timeline) -> Vec<Event> {
    let mut events = vec![Event {
        args: json!({"name": "augur kernel"}),
        ..Event::new("process_name", "M", None, 0.0)
    }];
    for (&id, task) in &timeline.tasks {
        let name = match task.name.as_str() {
            "" => format!("task {id}"),
            name => name.to_string(),
        };
        events.push(Event {
            args: json!({"name": name}),
            ..Event::new("thread_name", "M", Some(id), 0.0)
        });
        events.push(Event {
            args: json!({"sort_index": id}),
            ..Event::new("thread_sort_index", "M", Some(id), 0.0)
        });
    }
    events
}

/// The instant event of a life-cycle record or a fallback decision, if `record` is one.
fn instant(record: &Record<'_>, ts: f64) -> Option<Event> {
    let null = Value::Null;
    match *record {
        Record::TaskSpawn {
            task, class, name, ..
        } => Some(Event::instant(
            "spawn",
            Some(task),
            ts,
            json!({"class": names::class(class), "name": name}),
        )),
        Record::TaskFirstRun { task, .. } => {
            Some(Event::instant("first-run", Some(task), ts, null))
        }
        Record::TaskBlock { task, .. } => Some(Event::instant("block", Some(task), ts, null)),
        Record::TaskWake { task, .. } => Some(Event::instant("wake", Some(task), ts, null)),
        Record::TaskExit { task, status, .. } => Some(Event::instant(
            "exit",
            Some(task),
            ts,
            json!({"status": status}),
        )),
        Record::Decision {
            head,
            chosen,
            policy,
            fallback: Some(code),
            ..
        } => {
            let prefix = match head {
                augur_kernel::trace::head::SCHED => String::new(),
                h => format!("{} ", names::head(h)),
            };
            Some(Event::instant(
                format!("{prefix}fallback: {}", names::fallback(code)),
                None,
                ts,
                json!({"chosen": chosen, "policy": names::policy(head, policy)}),
            ))
        }
        Record::End {
            records, dropped, ..
        } => Some(Event::instant(
            "end",
            None,
            ts,
            json!({"records": records, "dropped": dropped}),
        )),
        _ => None,
    }
}

/// The last value written of each counter field, to emit only changes.
#[derive(Default)]
struct Counters {
    last: [Option<i32>; COUNTER_FIELDS.len()],
}

impl Counters {
    /// Counter events for the fields of `record` (a telemetry record of this tool's schema)
    /// that changed since the last one.
    fn update(&mut self, record: &Record<'_>, ts: f64) -> Vec<Event> {
        let Record::Telemetry { sections, .. } = *record else {
            return Vec::new();
        };
        let Some(sched) = sections
            .get(augur_kernel::trace::section::SCHED)
            .filter(|s| names::telemetry_is_known(s.code, s.version, s.fields.len()))
        else {
            return Vec::new();
        };
        let fields = sched.fields;
        let mut events = Vec::new();
        for (name, last) in COUNTER_FIELDS.iter().zip(&mut self.last) {
            let value = FIELDS
                .iter()
                .position(|f| f.name == *name)
                .and_then(|i| fields.get(i));
            if value.is_some() && value != *last {
                *last = value;
                events.push(Event {
                    args: json!({ *name: value }),
                    ..Event::new("telemetry", "C", None, ts)
                });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_kernel::trace::{Items, Section, Sections, section};

    #[test]
    fn counters_are_emitted_on_change_only() {
        let mut fields = [0i32; FIELDS.len()];
        let mut counters = Counters::default();
        let mut at = |fields: &[i32]| {
            let sections = [Section {
                code: section::SCHED,
                version: augur_kernel::telemetry::SCHEMA_VERSION,
                fields: Items::from_slice(fields),
            }];
            let r = Record::Telemetry {
                tick: 0,
                sections: Sections::from_slice(&sections),
            };
            counters.update(&r, 0.0).len()
        };
        assert_eq!(at(&fields), COUNTER_FIELDS.len());
        assert_eq!(at(&fields), 0);
        let runnable = FIELDS.iter().position(|f| f.name == "runnable").unwrap();
        fields[runnable] = 3;
        assert_eq!(at(&fields), 1);
    }
}
