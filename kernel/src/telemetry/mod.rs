//! The telemetry schema: what the model sees of the system each tick, in one section per
//! subsystem, and of each scheduling candidate.
//!
//! One definition for the kernel (which fills it on the tick path), the trace (which records
//! it), the host tools (which print and export it) and the trainer (which learns from it).
//!
//! # Sections
//! The per-tick vector ([`Telemetry`], [`TELEMETRY_FIELDS`] `i32`s) is the concatenation of
//! [`SECTIONS`], one per subsystem (`sched` today; `mm` and `blk` next), each with its own
//! named field indices and its own version. A model file records the name, version and width
//! of every section its backbone was trained on; the kernel builds the backbone input from
//! exactly those sections ([`crate::learn::schema`]), so
//! - adding a section, or a field to a section a model does not read, retires no model: the
//!   kernel still feeds that model the sections it knows;
//! - changing a section a model reads (a new field, other units: a new version of it) retires
//!   that model's *backbone*, and with it every head on it, because the embedding all heads
//!   share is computed from it; a head whose own candidate features are unchanged then only
//!   needs fine-tuning again on the retrained backbone, not new labels.
//!
//! Each head has its own candidate-feature schema and version (the scheduler's:
//! [`sched::TASK_FEATURES`], [`sched::TASK_FEATURES_VERSION`]).
//!
//! Everything is stored raw (integers with units) in traces and quantized to the model's int8
//! input by a fixed right shift per field and saturation ([`Field::shift`]); training applies
//! the same [`Telemetry::to_model_input`] and [`TaskFeatures::to_model_input`], so the kernel
//! and the trainer never disagree on what a unit is.
//!
//! # Invariants
//! - A section's field order and meaning change only together with its version.
//! - Every function here is allocation-free and cheap enough for the timer interrupt.

pub mod sched;

pub use sched::{TASK_FEATURES, TaskFeatures, feature};

use crate::sched::{TaskView, Tick};

/// Deprecated name of the `sched` section's version, which was the whole schema's until
/// telemetry had sections; trace records of format 1 carry it.
pub const SCHEMA_VERSION: u16 = sched::VERSION as u16;

/// Ticks of telemetry the backbone reads (oldest first).
pub const WINDOW_TICKS: usize = 8;

/// Fields of the per-tick system telemetry vector: every section's, in [`SECTIONS`] order.
pub const TELEMETRY_FIELDS: usize = sched::FIELDS.len();

/// Features per scheduling candidate (the trace format carries exactly this many).
pub const CANDIDATE_FEATURES: usize = sched::TASK_FEATURES.len();

/// Backbone input length of a model that reads every section: [`WINDOW_TICKS`] ×
/// [`TELEMETRY_FIELDS`] int8, tick-major.
pub const MODEL_INPUT_LEN: usize = WINDOW_TICKS * TELEMETRY_FIELDS;

/// One field of a vector: its name (CSV column, JSON key), unit and model-input shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Short snake_case name.
    pub name: &'static str,
    /// What it counts, for humans.
    pub unit: &'static str,
    /// Model input = `clamp(value >> shift, -128, 127)`.
    pub shift: u8,
}

/// A [`Field`], for the field tables.
pub const fn field(name: &'static str, unit: &'static str, shift: u8) -> Field {
    Field { name, unit, shift }
}

/// One subsystem's part of the telemetry vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Its name in model files (`augur.input.sections`) and summaries.
    pub name: &'static str,
    /// Its code in trace telemetry records (`trace::section`).
    pub code: u8,
    /// Version of its field list: bump it whenever a field is added, removed, reordered or
    /// changes units or shift.
    pub version: u32,
    /// Index of its first field in the telemetry vector.
    pub offset: usize,
    /// Its fields, in vector order.
    pub fields: &'static [Field],
}

/// The sections of the telemetry vector, in vector order.
pub const SECTIONS: [Section; 1] = [Section {
    name: "sched",
    code: sched::SECTION_CODE,
    version: sched::VERSION,
    offset: 0,
    fields: &sched::FIELDS,
}];

/// The section named `name`, if the kernel has it.
pub fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// The system telemetry fields, in vector order (every section's, concatenated).
pub const FIELDS: [Field; TELEMETRY_FIELDS] = sched::FIELDS;

/// Quantizes one raw value for the model.
pub(crate) fn to_i8(value: i64, shift: u8) -> i8 {
    (value >> shift).clamp(i8::MIN.into(), i8::MAX.into()) as i8
}

pub use sched::TickEvents;

/// The system telemetry vector of one tick (raw integer units, see [`FIELDS`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Telemetry(pub [i32; TELEMETRY_FIELDS]);

impl Telemetry {
    /// The vector at `now` from every live task's view, whether a task ran this tick, and the
    /// tick's events (the `sched` section; the only one so far).
    pub fn snapshot<'v>(
        now: Tick,
        tasks: impl Iterator<Item = &'v TaskView>,
        busy: bool,
        events: &TickEvents,
    ) -> Self {
        Telemetry(sched::snapshot(now, tasks, busy, events))
    }

    /// The fields of `section`.
    pub fn section(&self, section: &Section) -> &[i32] {
        &self.0[section.offset..section.offset + section.fields.len()]
    }

    /// The model's int8 view of this vector (one tick of the backbone input).
    pub fn to_model_input(&self, out: &mut [i8; TELEMETRY_FIELDS]) {
        for ((o, &v), f) in out.iter_mut().zip(&self.0).zip(&FIELDS) {
            *o = to_i8(v.into(), f.shift);
        }
    }
}

/// The last [`WINDOW_TICKS`] telemetry vectors, already quantized, oldest first.
#[derive(Clone, Debug)]
pub struct TelemetryWindow {
    /// Tick-major ring of quantized vectors; `head` is the oldest.
    rows: [[i8; TELEMETRY_FIELDS]; WINDOW_TICKS],
    head: usize,
}

impl Default for TelemetryWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl TelemetryWindow {
    /// A window of all-zero ticks (the system before boot).
    pub const fn new() -> Self {
        Self {
            rows: [[0; TELEMETRY_FIELDS]; WINDOW_TICKS],
            head: 0,
        }
    }

    /// Appends one tick, forgetting the oldest.
    pub fn push(&mut self, t: &Telemetry) {
        t.to_model_input(&mut self.rows[self.head]);
        self.head = (self.head + 1) % WINDOW_TICKS;
    }

    /// The backbone input, oldest tick first.
    pub fn model_input(&self, out: &mut [i8; MODEL_INPUT_LEN]) {
        for i in 0..WINDOW_TICKS {
            let row = &self.rows[(self.head + i) % WINDOW_TICKS];
            out[i * TELEMETRY_FIELDS..][..TELEMETRY_FIELDS].copy_from_slice(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::{TaskClass, TaskId};
    use sched::TASK_FEATURES;

    #[test]
    fn names_are_unique_snake_case() {
        for list in [&FIELDS[..], &TASK_FEATURES[..]] {
            for (i, f) in list.iter().enumerate() {
                assert!(f.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                assert!(list[..i].iter().all(|g| g.name != f.name), "{}", f.name);
            }
        }
    }

    #[test]
    fn feature_indices_name_their_fields() {
        use feature::*;
        let named = [
            (CPU_RECENT, "cpu_recent"),
            (WAITING, "waiting"),
            (CPU_TOTAL, "cpu_total"),
            (AGE, "age"),
            (SLEEPS, "sleeps"),
            (BURST, "burst"),
            (CLASS, "class"),
            (RUNNING, "running"),
        ];
        for (i, name) in named {
            assert_eq!(TASK_FEATURES[i].name, name);
        }
    }

    #[test]
    fn snapshot_counts_states_and_waits() {
        let mut a = TaskView::new(TaskId(1), 0);
        a.on_dispatch(0);
        let b = TaskView::new(TaskId(2), 4);
        let mut c = TaskView::new(TaskId(3), 0);
        c.on_block(2);
        let events = TickEvents {
            arrivals: 1,
            switches: 2,
            ..TickEvents::default()
        };
        let t = Telemetry::snapshot(10, [a, b, c].iter(), true, &events);
        assert_eq!(t.0[..5], [2, 1, 1, 3, 1]);
        assert_eq!(t.0[8], 2);
        assert_eq!((t.0[9], t.0[10]), (3, 6), "waits: a 0 (running), b 6");
    }

    #[test]
    fn model_input_saturates_and_shifts() {
        let mut t = Telemetry::default();
        t.0[0] = 1000;
        t.0[9] = 40;
        let mut q = [0i8; TELEMETRY_FIELDS];
        t.to_model_input(&mut q);
        assert_eq!((q[0], q[9]), (127, 10));
        let mut v = TaskView::new(TaskId(1), 0).with_class(TaskClass::Interactive);
        v.on_dispatch(0);
        for t in 1..=30 {
            v.on_ran_tick(t);
        }
        let f = TaskFeatures::of(&v, 30, true);
        assert_eq!(f.0, [30, 0, 30, 30, 0, 30, 2, 1]);
        let mut q = [0i8; CANDIDATE_FEATURES];
        f.to_model_input(&mut q);
        assert_eq!(q, [30, 0, 15, 1, 0, 15, 2, 1]);
    }

    #[test]
    fn window_is_oldest_first() {
        let mut w = TelemetryWindow::new();
        for tick in 1..=(WINDOW_TICKS as i32 + 2) {
            let mut t = Telemetry::default();
            t.0[0] = tick;
            w.push(&t);
        }
        let mut input = [0i8; MODEL_INPUT_LEN];
        w.model_input(&mut input);
        let firsts: [i8; WINDOW_TICKS] = core::array::from_fn(|i| input[i * TELEMETRY_FIELDS]);
        assert_eq!(firsts, core::array::from_fn(|i| i as i8 + 3));
    }
}
