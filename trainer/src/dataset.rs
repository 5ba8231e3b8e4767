//! Datasets from kernel traces: model inputs exactly as the kernel builds them, and hindsight
//! labels for the scheduler head.
//!
//! A trace is decoded with the kernel's own [`TraceReader`]; damage is reported (one line per
//! [`StreamError`]) and whatever decoded is used. Per trace:
//! - **ticks**: every `Telemetry` record of [`SCHEMA_VERSION`] becomes one int8 row
//!   ([`Telemetry::to_model_input`]); the backbone input at a point of the stream is the last
//!   [`WINDOW_TICKS`] rows recorded before it, oldest first, zeros before the first — what the
//!   kernel's [`TelemetryWindow`](augur_kernel::telemetry::TelemetryWindow) holds at that point.
//!   A window that spans a hole in the tick sequence (records lost) is not used.
//! - **pretraining pairs**: the window ending at tick `t` and the int8 row of tick `t + 1`.
//! - **decisions**: each `Decision` with at least two candidates, labelled in hindsight by the
//!   shortest-remaining-work oracle (SRPT). A workload task exits with the CPU ticks it used,
//!   so at a decision its remaining work is `exit status − cpu_total` (feature 2, raw ticks).
//!   For a task whose exit is not in the trace, the CPU it was later seen to have used bounds
//!   its remaining work from below; the decision is labelled only if every such bound is above
//!   the best known remaining work (otherwise the oracle's pick is unknown, and the decision is
//!   counted as unlabelled). Ties: every candidate with the least remaining work is "best".
//! - **finished tasks**: each task with a `TaskSpawn` and a `TaskExit` gives its class and
//!   total work (the exit status), the sample from which the Gittins objective estimates each
//!   class's distribution of work ([`crate::heads::sched::gittins`]).
//!
//! # Invariants
//! - Nothing here panics on a damaged or hostile file: counts and features are clamped, and a
//!   file that yields nothing usable is reported, not fatal.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use augur_kernel::telemetry::{
    CANDIDATE_FEATURES, MODEL_INPUT_LEN, SCHEMA_VERSION, TELEMETRY_FIELDS, TaskFeatures, Telemetry,
    WINDOW_TICKS,
};
use augur_kernel::trace::{Record, TraceReader, head, section};

/// Index of the `cpu_total` task feature (raw CPU ticks since spawn).
pub const CPU_TOTAL_FEATURE: usize = augur_kernel::telemetry::feature::CPU_TOTAL;

/// One tick's int8 telemetry row.
pub type TickRow = [i8; TELEMETRY_FIELDS];
/// One candidate's int8 feature row.
pub type CandidateRow = [i8; CANDIDATE_FEATURES];
/// One backbone input window.
pub type Window = [i8; MODEL_INPUT_LEN];

/// `DIR/<mix>-s<seed>-<policy>.trace`, the name `augur collect` gives a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceName {
    /// The workload mix (`batch`, `interactive`, `io`, `mix`).
    pub mix: String,
    /// The workload seed.
    pub seed: u64,
    /// The policy that ran.
    pub policy: String,
}

impl TraceName {
    /// Parses a file name (or path) like `mix-s12-rr.trace`; `None` if it does not follow the
    /// pattern.
    pub fn parse(path: &Path) -> Option<TraceName> {
        let stem = path.file_stem()?.to_str()?;
        let parts: Vec<&str> = stem.split('-').collect();
        let i = (1..parts.len().saturating_sub(1)).find(|&i| {
            parts[i].len() > 1
                && parts[i].starts_with('s')
                && parts[i][1..].bytes().all(|b| b.is_ascii_digit())
        })?;
        Some(TraceName {
            mix: parts[..i].join("-"),
            seed: parts[i][1..].parse().ok()?,
            policy: parts[i + 1..].join("-"),
        })
    }
}

impl fmt::Display for TraceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-s{}-{}", self.mix, self.seed, self.policy)
    }
}

/// One labelled scheduling decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionExample {
    /// The backbone input the kernel had.
    pub window: Window,
    /// The candidates' int8 feature rows, in record order.
    pub rows: Vec<CandidateRow>,
    /// Per candidate: whether the oracle (least remaining work) would pick it.
    pub best: Vec<bool>,
    /// Per candidate: its remaining work, as far as the trace tells.
    pub remaining: Vec<Remaining>,
    /// Per candidate: the raw features the kernel saw (units of [`TaskFeatures`]).
    pub features: Vec<TaskFeatures>,
    /// Index of the candidate the traced policy chose, when it is one of them.
    pub chosen: Option<usize>,
}

impl DecisionExample {
    /// Whether the candidate at `pick` agrees with the oracle.
    pub fn agrees(&self, pick: usize) -> bool {
        self.best.get(pick).copied().unwrap_or(false)
    }

    /// Whether candidate `i` surely has less work left than candidate `j`.
    pub fn shorter(&self, i: usize, j: usize) -> bool {
        match (self.remaining.get(i), self.remaining.get(j)) {
            (Some(a), Some(b)) => a.surely_less(*b),
            _ => false,
        }
    }

    /// Chance that a uniformly random pick agrees with the oracle.
    pub fn random_agreement(&self) -> f64 {
        self.best.iter().filter(|&&b| b).count() as f64 / self.best.len().max(1) as f64
    }
}

/// What one trace file gave.
#[derive(Clone, Debug, Default)]
pub struct TraceData {
    /// The file.
    pub path: PathBuf,
    /// Its parsed name, when it follows the collect naming.
    pub name: Option<TraceName>,
    /// Int8 telemetry rows, in stream order.
    pub ticks: Vec<TickRow>,
    /// The tick number of each row.
    pub tick_numbers: Vec<u64>,
    /// Pretraining pairs: (index of the row that ends the window, index of the target row).
    pub pairs: Vec<usize>,
    /// Decision records seen.
    pub decisions: usize,
    /// Decisions with fewer than two candidates (nothing to learn).
    pub single: usize,
    /// Decisions whose oracle pick is unknown (or whose window spans lost records).
    pub unlabelled: usize,
    /// The labelled decisions.
    pub examples: Vec<DecisionExample>,
    /// Tasks seen from spawn to exit: class code and total work (CPU ticks, the exit status).
    pub finished: Vec<(u8, i64)>,
    /// Telemetry records (their `sched` section) and `sched` decisions of another schema or
    /// width (skipped).
    pub other_schema: usize,
    /// Records the kernel reported dropped.
    pub dropped: u64,
    /// Damage reports, one line each.
    pub damage: Vec<String>,
}

impl TraceData {
    /// The backbone window whose newest row is `end` (exclusive upper bound `end + 1`), or
    /// `None` when it spans a hole in the tick sequence.
    pub fn window_ending_at(&self, end: Option<usize>) -> Option<Window> {
        let mut w = [0i8; MODEL_INPUT_LEN];
        let Some(end) = end else { return Some(w) };
        let start = end.saturating_sub(WINDOW_TICKS - 1);
        let span = self.tick_numbers[end].checked_sub(self.tick_numbers[start])?;
        if span != (end - start) as u64 {
            return None;
        }
        let rows = &self.ticks[start..=end];
        let first = WINDOW_TICKS - rows.len();
        for (slot, row) in w
            .as_chunks_mut::<TELEMETRY_FIELDS>()
            .0
            .iter_mut()
            .skip(first)
            .zip(rows)
        {
            slot.copy_from_slice(row);
        }
        Some(w)
    }

    /// Whether the file gave anything to train on.
    pub fn is_usable(&self) -> bool {
        !self.pairs.is_empty() || !self.examples.is_empty()
    }
}

/// A decision as recorded, before labelling.
struct RawDecision {
    /// Telemetry rows recorded before it.
    rows_before: usize,
    chosen: u32,
    candidates: Vec<(u32, [i16; CANDIDATE_FEATURES])>,
}

/// Remaining work of one candidate (CPU ticks), as far as the trace tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remaining {
    /// The task exited: exactly this much was left.
    Known(i64),
    /// The task did not exit in the trace: it was seen to use at least this much more.
    AtLeast(i64),
}

impl Remaining {
    /// Whether this is surely less work than `other`.
    pub fn surely_less(self, other: Remaining) -> bool {
        match (self, other) {
            (Remaining::Known(a), Remaining::Known(b) | Remaining::AtLeast(b)) => a < b,
            (Remaining::AtLeast(_), _) => false,
        }
    }
}

/// Decodes a whole trace (bytes of a file) into a dataset. Never fails: damage is reported in
/// [`TraceData::damage`].
pub fn decode_trace(path: &Path, bytes: &[u8]) -> TraceData {
    let mut data = TraceData {
        path: path.to_path_buf(),
        name: TraceName::parse(path),
        ..TraceData::default()
    };
    let mut raw = Vec::new();
    let mut exits: HashMap<u32, i32> = HashMap::new();
    let mut classes: HashMap<u32, u8> = HashMap::new();
    let mut seen_cpu: HashMap<u32, i64> = HashMap::new();
    for item in TraceReader::new(bytes) {
        let entry = match item {
            Ok(e) => e,
            Err(e) => {
                data.damage.push(e.to_string());
                continue;
            }
        };
        match entry.record {
            Record::Telemetry { tick, sections } => {
                let Some(sched) = sections
                    .get(section::SCHED)
                    .filter(|s| s.version == SCHEMA_VERSION && s.fields.len() == TELEMETRY_FIELDS)
                else {
                    data.other_schema += 1;
                    continue;
                };
                let fields = sched.fields;
                let mut t = Telemetry::default();
                for (slot, v) in t.0.iter_mut().zip(fields.iter()) {
                    *slot = v;
                }
                let mut row = [0i8; TELEMETRY_FIELDS];
                t.to_model_input(&mut row);
                data.ticks.push(row);
                data.tick_numbers.push(tick);
            }
            Record::Decision {
                head: head::SCHED,
                chosen,
                candidates,
                ..
            } => {
                // Task ids are u32 in the kernel; features are the scheduler's fixed width.
                let candidates: Option<Vec<_>> = candidates
                    .iter()
                    .map(|c| Some((u32::try_from(c.id).ok()?, c.features.to_array()?)))
                    .collect();
                let (Some(candidates), Ok(chosen)) = (candidates, u32::try_from(chosen)) else {
                    data.other_schema += 1;
                    continue;
                };
                data.decisions += 1;
                for (task, f) in &candidates {
                    let cpu = seen_cpu.entry(*task).or_insert(0);
                    *cpu = (*cpu).max(i64::from(f[CPU_TOTAL_FEATURE]));
                }
                raw.push(RawDecision {
                    rows_before: data.ticks.len(),
                    chosen,
                    candidates,
                });
            }
            Record::TaskSpawn { task, class, .. } => {
                classes.insert(task, class);
            }
            Record::TaskExit { task, status, .. } => {
                exits.insert(task, status);
                if let Some(&class) = classes.get(&task)
                    && status > 0
                {
                    data.finished.push((class, i64::from(status)));
                }
            }
            Record::Dropped { records } => data.dropped = data.dropped.saturating_add(records),
            _ => {}
        }
    }
    if data.other_schema > 0 {
        data.damage.push(format!(
            "{} telemetry records are not schema {SCHEMA_VERSION} with {TELEMETRY_FIELDS} fields: skipped",
            data.other_schema
        ));
    }
    data.pairs = (0..data.ticks.len().saturating_sub(1))
        .filter(|&i| data.tick_numbers[i].checked_add(1) == Some(data.tick_numbers[i + 1]))
        .filter(|&i| data.window_ending_at(Some(i)).is_some())
        .collect();
    for d in raw {
        if d.candidates.len() < 2 {
            data.single += 1;
            continue;
        }
        let window = data.window_ending_at(d.rows_before.checked_sub(1));
        let remaining = remaining_work(&d, &exits, &seen_cpu);
        let best = label(&remaining);
        let (Some(window), Some(best)) = (window, best) else {
            data.unlabelled += 1;
            continue;
        };
        let rows = d
            .candidates
            .iter()
            .map(|(_, f)| {
                let mut row = [0i8; CANDIDATE_FEATURES];
                TaskFeatures(*f).to_model_input(&mut row);
                row
            })
            .collect();
        data.examples.push(DecisionExample {
            window,
            rows,
            best,
            remaining,
            features: d.candidates.iter().map(|(_, f)| TaskFeatures(*f)).collect(),
            chosen: d.candidates.iter().position(|(t, _)| *t == d.chosen),
        });
    }
    data
}

/// Each candidate's remaining work, as far as the trace tells.
fn remaining_work(
    d: &RawDecision,
    exits: &HashMap<u32, i32>,
    seen_cpu: &HashMap<u32, i64>,
) -> Vec<Remaining> {
    d.candidates
        .iter()
        .map(|(task, f)| {
            let cpu = i64::from(f[CPU_TOTAL_FEATURE]);
            let saturated = f[CPU_TOTAL_FEATURE] == i16::MAX;
            match exits.get(task) {
                Some(&status) if !saturated && i64::from(status) >= cpu => {
                    Remaining::Known(i64::from(status) - cpu)
                }
                // Not a workload exit (or an impossible one): what it was seen to use later
                // is all we know.
                _ => Remaining::AtLeast(seen_cpu.get(task).map_or(0, |&s| s - cpu).max(0)),
            }
        })
        .collect()
}

/// The oracle's best set for one decision, or `None` when the trace cannot tell it.
fn label(remaining: &[Remaining]) -> Option<Vec<bool>> {
    let least = remaining
        .iter()
        .filter_map(|r| match r {
            Remaining::Known(k) => Some(*k),
            Remaining::AtLeast(_) => None,
        })
        .min()?;
    let decided = remaining
        .iter()
        .all(|r| !matches!(r, Remaining::AtLeast(b) if *b <= least));
    decided.then(|| {
        remaining
            .iter()
            .map(|r| *r == Remaining::Known(least))
            .collect()
    })
}

/// Why trace files could not be listed or read.
#[derive(Debug)]
pub enum DatasetError {
    /// A directory or file could not be read.
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for DatasetError {}

/// The `*.trace` files of `dir`, sorted by name (so the dataset is the same on every machine).
pub fn list_traces(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let io = |error| DatasetError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "trace") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and decodes one trace file.
pub fn read_trace(path: &Path) -> Result<TraceData, DatasetError> {
    let bytes = std::fs::read(path).map_err(|error| DatasetError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(decode_trace(path, &bytes))
}
