//! Trace records: the one definition of what the kernel writes about itself.
//!
//! A record is `kind: u8 | body_len: u16 LE | body` (all integers little-endian; layout per
//! kind in `FORMAT.md`). [`Record::encode`] and [`Record::emit`] never allocate, so the tick
//! path can call them; [`Record::decode`] borrows its variable-length parts (telemetry
//! sections, candidates, task names) from the input bytes instead of copying them.
//!
//! Decisions and telemetry are subsystem-neutral: a decision names its head ([`head`]) and
//! the feature width of its candidates, a telemetry record is a list of sections ([`section`]),
//! each with its own version. The explicit `body_len` lets every kind's body be checked for an
//! exact size (a body longer or shorter than its counts say is a [`DecodeError::BadLength`],
//! never a silent misparse) and lets a reader step over a kind it does not know: such a record
//! decodes to [`Record::Unknown`], which is counted, not damage.
//!
//! # Versions
//! The chunk header carries the format version. Version 2 is what this code writes; version 1
//! (scheduler-shaped decisions with `u32` task ids and exactly 8 features, telemetry as one
//! schema-numbered vector) is still read, through [`Record::decode_version`], into the same
//! [`Record`] values (a version-1 telemetry vector becomes one [`section::SCHED`] section).

use core::fmt;

/// Largest feature width (features per candidate) a decision may carry.
pub const MAX_CANDIDATE_FEATURES: usize = 32;
/// Candidates one decision record can carry at most.
pub const MAX_CANDIDATES: usize = 64;
/// Feature values (candidates × width) one decision may carry at most: 2 KiB of features,
/// which keeps the largest record well inside one tick's drain buffer.
pub const MAX_DECISION_FEATURE_VALUES: usize = 1024;
/// Sections one telemetry record can carry at most.
pub const MAX_TELEMETRY_SECTIONS: usize = 16;
/// Telemetry fields one record can carry at most, over all its sections. The telemetry module
/// defines the real (smaller) lengths and versions; this is the codec's ceiling.
pub const MAX_TELEMETRY_FIELDS: usize = 256;
/// Features per candidate in a version-1 decision record (always the scheduler's 8).
pub const V1_CANDIDATE_FEATURES: usize = 8;
/// The scheduler head's feature width. Kept under its old name for the telemetry module,
/// which owns the scheduler's feature schema and should define it there.
pub const CANDIDATE_FEATURES: usize = V1_CANDIDATE_FEATURES;
/// Longest task name, in UTF-8 bytes, a spawn record carries.
pub const MAX_TASK_NAME_BYTES: usize = 32;
/// Bytes before every record's body: kind (u8) and body length (u16).
pub const RECORD_HEADER_BYTES: usize = 3;

/// Telemetry body before its sections: tick u64, section count u8.
const TELEMETRY_FIXED_BYTES: usize = 8 + 1;
/// A section's header: code u8, version u16, field count u16.
const SECTION_HEADER_BYTES: usize = 1 + 2 + 2;
/// Decision body before its candidates: tick, head, chosen, policy, flag, reason, width, n.
const DECISION_FIXED_BYTES: usize = 8 + 1 + 8 + 1 + 1 + 1 + 1 + 2;
/// A candidate without its features: id u64, score i32.
const CANDIDATE_FIXED_BYTES: usize = 8 + 4;
const SPAWN_FIXED_BYTES: usize = 8 + 4 + 1 + 1;
const TASK_EVENT_BYTES: usize = 8 + 4;
const EXIT_BYTES: usize = 8 + 4 + 4;
const DROPPED_BYTES: usize = 8;
const END_BYTES: usize = 8 + 8 + 8;

/// Version-1 layouts (read only).
mod v1 {
    /// Telemetry: tick u64, schema u16, n u16.
    pub const TELEMETRY_FIXED_BYTES: usize = 8 + 2 + 2;
    /// The most fields a version-1 telemetry record carries.
    pub const MAX_TELEMETRY_FIELDS: usize = 64;
    /// Decision: tick u64, chosen u32, policy, flag, reason, features u8, n u16.
    pub const DECISION_FIXED_BYTES: usize = 8 + 4 + 1 + 1 + 1 + 1 + 2;
    /// A candidate: task u32, 8 × i16, score i32.
    pub const CANDIDATE_BYTES: usize = 4 + 2 * super::V1_CANDIDATE_FEATURES + 4;
}

/// The largest encoded decision, in bytes.
const MAX_DECISION_BYTES: usize = RECORD_HEADER_BYTES
    + DECISION_FIXED_BYTES
    + MAX_CANDIDATES * CANDIDATE_FIXED_BYTES
    + 2 * MAX_DECISION_FEATURE_VALUES;
/// The largest encoded telemetry record, in bytes.
const MAX_TELEMETRY_BYTES: usize = RECORD_HEADER_BYTES
    + TELEMETRY_FIXED_BYTES
    + MAX_TELEMETRY_SECTIONS * SECTION_HEADER_BYTES
    + 4 * MAX_TELEMETRY_FIELDS;

/// The largest encoded record (the larger of a full decision and a full telemetry record), in
/// bytes. [`Record::Unknown`] bodies are held to it too, so a drain buffer of this size always
/// takes the ring's oldest record.
pub const MAX_RECORD_BYTES: usize = if MAX_DECISION_BYTES > MAX_TELEMETRY_BYTES {
    MAX_DECISION_BYTES
} else {
    MAX_TELEMETRY_BYTES
};

/// Wire codes of the record kinds (the first byte of every record).
pub mod kind {
    /// [`super::Record::Telemetry`].
    pub const TELEMETRY: u8 = 1;
    /// [`super::Record::Decision`].
    pub const DECISION: u8 = 2;
    /// [`super::Record::TaskSpawn`].
    pub const TASK_SPAWN: u8 = 3;
    /// [`super::Record::TaskFirstRun`].
    pub const TASK_FIRST_RUN: u8 = 4;
    /// [`super::Record::TaskBlock`].
    pub const TASK_BLOCK: u8 = 5;
    /// [`super::Record::TaskWake`].
    pub const TASK_WAKE: u8 = 6;
    /// [`super::Record::TaskExit`].
    pub const TASK_EXIT: u8 = 7;
    /// [`super::Record::Dropped`].
    pub const DROPPED: u8 = 8;
    /// [`super::Record::End`] (format version 2 on).
    pub const END: u8 = 9;

    /// Whether `kind` is defined by format `version` (anything else decodes to
    /// [`super::Record::Unknown`]).
    pub const fn is_known(kind: u8, version: u16) -> bool {
        match version {
            1 => matches!(kind, TELEMETRY..=DROPPED),
            _ => matches!(kind, TELEMETRY..=END),
        }
    }
}

/// The registry of decision heads: which learned (or classical) decision maker a decision
/// record belongs to. Codes are explicit and never reused; a new head takes the next number.
pub mod head {
    /// The CPU scheduler: candidates are runnable tasks, ids are task ids.
    pub const SCHED: u8 = 1;
    /// The page allocator: candidates are allocation ids.
    pub const MM: u8 = 2;
    /// Block-cache eviction: candidates are block numbers.
    pub const BLK_EVICT: u8 = 3;
    /// Block readahead: candidates are block numbers.
    pub const BLK_READAHEAD: u8 = 4;

    /// Every head this format defines, with its printed name (the weight file's head name).
    pub const ALL: [(u8, &str); 4] = [
        (SCHED, "sched"),
        (MM, "mm"),
        (BLK_EVICT, "blk-evict"),
        (BLK_READAHEAD, "blk-readahead"),
    ];

    /// The name of head `code`, if this format defines it.
    pub fn name(code: u8) -> Option<&'static str> {
        ALL.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
    }
}

/// The registry of telemetry sections, one per subsystem. Codes are explicit and never reused.
pub mod section {
    /// Scheduler telemetry (`telemetry::FIELDS`); a version-1 trace's whole vector.
    pub const SCHED: u8 = 1;
    /// Memory (page allocator) telemetry.
    pub const MM: u8 = 2;
    /// Block layer telemetry.
    pub const BLK: u8 = 3;

    /// Every section this format defines, with its printed name.
    pub const ALL: [(u8, &str); 3] = [(SCHED, "sched"), (MM, "mm"), (BLK, "blk")];

    /// The name of section `code`, if this format defines it.
    pub fn name(code: u8) -> Option<&'static str> {
        ALL.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
    }
}

/// Where encoded bytes go: a slice, the trace ring, or (later) straight to a port.
pub trait Sink {
    /// Appends `bytes`. The encoder has already checked that they fit.
    fn put(&mut self, bytes: &[u8]);
}

/// A [`Sink`] over a slice the caller sized with [`Record::encoded_len`].
struct SliceSink<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }
}

/// A fixed-size element of a record's variable-length part.
pub trait WireItem: Copy {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Writes the `SIZE` little-endian bytes of `self`.
    fn emit(&self, sink: &mut impl Sink);
    /// Reads one element from exactly `SIZE` bytes.
    fn read(bytes: &[u8]) -> Self;
}

impl WireItem for i32 {
    const SIZE: usize = 4;
    fn emit(&self, sink: &mut impl Sink) {
        sink.put(&self.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Self {
        le_u32(bytes, 0) as i32
    }
}

impl WireItem for i16 {
    const SIZE: usize = 2;
    fn emit(&self, sink: &mut impl Sink) {
        sink.put(&self.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Self {
        le_u16(bytes, 0) as i16
    }
}

/// A borrowed run of [`WireItem`]s: the caller's slice when encoding, the still-encoded bytes
/// when decoding (they need not be aligned, so they are read element by element).
#[derive(Clone, Copy)]
pub struct Items<'a, T> {
    repr: Repr<'a, T>,
}

#[derive(Clone, Copy)]
enum Repr<'a, T> {
    Slice(&'a [T]),
    Wire(&'a [u8]),
}

impl<'a, T: WireItem> Items<'a, T> {
    /// Items taken from a slice (the encoding side).
    pub const fn from_slice(items: &'a [T]) -> Self {
        Items {
            repr: Repr::Slice(items),
        }
    }

    /// Items still encoded in `bytes` (whole items; a trailing partial one is ignored).
    const fn from_wire(bytes: &'a [u8]) -> Self {
        Items {
            repr: Repr::Wire(bytes),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Slice(s) => s.len(),
            Repr::Wire(b) => b.len() / T::SIZE,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th item.
    pub fn get(&self, i: usize) -> Option<T> {
        match self.repr {
            Repr::Slice(s) => s.get(i).copied(),
            Repr::Wire(b) => b.get(i * T::SIZE..(i + 1) * T::SIZE).map(T::read),
        }
    }

    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        let this = *self;
        (0..this.len()).filter_map(move |i| this.get(i))
    }

    /// The items as an array of exactly `N`, or `None` when there are more or fewer.
    pub fn to_array<const N: usize>(&self) -> Option<[T; N]> {
        if self.len() != N {
            return None;
        }
        let first = self.get(0)?;
        let mut out = [first; N];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = self.get(i)?;
        }
        Some(out)
    }

    fn emit(&self, sink: &mut impl Sink) {
        match self.repr {
            Repr::Slice(s) => s.iter().for_each(|item| item.emit(sink)),
            Repr::Wire(b) => sink.put(&b[..self.len() * T::SIZE]),
        }
    }
}

impl<'a, T: WireItem> From<&'a [T]> for Items<'a, T> {
    fn from(items: &'a [T]) -> Self {
        Items::from_slice(items)
    }
}

impl<T: WireItem + PartialEq> PartialEq for Items<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: WireItem + Eq> Eq for Items<'_, T> {}

impl<T: WireItem + fmt::Debug> fmt::Debug for Items<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One telemetry section: one subsystem's counters of a tick, in that section's own version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<'a> {
    /// The section code ([`section`]).
    pub code: u8,
    /// The version of the section's field list (owned by the telemetry module).
    pub version: u16,
    /// The fields (fixed point).
    pub fields: Items<'a, i32>,
}

/// The sections of a telemetry record: the caller's slice when encoding, wire bytes (already
/// validated) when decoding, or the one vector of a version-1 record.
#[derive(Clone, Copy)]
pub struct Sections<'a> {
    repr: SectionsRepr<'a>,
}

#[derive(Clone, Copy)]
enum SectionsRepr<'a> {
    Slice(&'a [Section<'a>]),
    /// `count` sections, back to back, each header then fields; checked by the decoder.
    Wire {
        count: usize,
        bytes: &'a [u8],
    },
    One(Section<'a>),
}

impl<'a> Sections<'a> {
    /// Sections taken from a slice (the encoding side).
    pub const fn from_slice(sections: &'a [Section<'a>]) -> Self {
        Sections {
            repr: SectionsRepr::Slice(sections),
        }
    }

    /// Number of sections.
    pub fn len(&self) -> usize {
        match self.repr {
            SectionsRepr::Slice(s) => s.len(),
            SectionsRepr::Wire { count, .. } => count,
            SectionsRepr::One(_) => 1,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sections in order.
    pub fn iter(&self) -> SectionIter<'a> {
        SectionIter {
            sections: *self,
            index: 0,
            at: 0,
        }
    }

    /// The first section with `code`, if any.
    pub fn get(&self, code: u8) -> Option<Section<'a>> {
        self.iter().find(|s| s.code == code)
    }

    /// Fields over all sections.
    pub fn field_count(&self) -> usize {
        self.iter().map(|s| s.fields.len()).sum()
    }
}

/// Iterator over [`Sections`].
#[derive(Clone)]
pub struct SectionIter<'a> {
    sections: Sections<'a>,
    index: usize,
    /// Byte offset of the next section (wire form only).
    at: usize,
}

impl<'a> Iterator for SectionIter<'a> {
    type Item = Section<'a>;

    fn next(&mut self) -> Option<Section<'a>> {
        let i = self.index;
        self.index += 1;
        match self.sections.repr {
            SectionsRepr::Slice(s) => s.get(i).copied(),
            SectionsRepr::One(s) => (i == 0).then_some(s),
            SectionsRepr::Wire { count, bytes } => {
                if i >= count {
                    return None;
                }
                let (section, used) = read_section(bytes.get(self.at..)?)?;
                self.at += used;
                Some(section)
            }
        }
    }
}

/// Reads the section at the front of `bytes`: it and the bytes it used, or `None` when they
/// do not hold a whole one.
fn read_section(bytes: &[u8]) -> Option<(Section<'_>, usize)> {
    let header = bytes.get(..SECTION_HEADER_BYTES)?;
    let n = usize::from(le_u16(header, 3));
    let end = SECTION_HEADER_BYTES.checked_add(n.checked_mul(4)?)?;
    let fields = bytes.get(SECTION_HEADER_BYTES..end)?;
    Some((
        Section {
            code: header[0],
            version: le_u16(header, 1),
            fields: Items::from_wire(fields),
        },
        end,
    ))
}

impl PartialEq for Sections<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Sections<'_> {}

impl fmt::Debug for Sections<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One candidate of a decision, as a reader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateRef<'a> {
    /// What the candidate is, in the head's terms (a task id for `sched`, a block number, an
    /// allocation id).
    pub id: u64,
    /// Its features, fixed point, in the head's feature schema; [`Candidates::width`] of them.
    pub features: Items<'a, i16>,
    /// The score the policy gave it (higher is preferred), or 0 when no model scored.
    pub score: i32,
}

/// The candidates of a decision: columns borrowed from the caller when encoding (no copy, no
/// allocation), or the wire bytes when decoding.
#[derive(Clone, Copy)]
pub struct Candidates<'a> {
    width: usize,
    repr: CandidatesRepr<'a>,
}

#[derive(Clone, Copy)]
enum CandidatesRepr<'a> {
    /// `ids[i]`, `features[i * width..(i + 1) * width]`, `scores[i]`; shapes are checked by
    /// the encoder ([`EncodeError::Shape`]).
    Columns {
        ids: &'a [u64],
        features: &'a [i16],
        scores: &'a [i32],
    },
    /// Whole candidates of `id_bytes`-byte ids (8 in version 2, 4 in version 1).
    Wire { bytes: &'a [u8], id_bytes: usize },
}

impl<'a> Candidates<'a> {
    /// Candidates from columns: `ids.len()` candidates of `width` features each, row-major in
    /// `features` (`[[i16; W]]::as_flattened` gives this from an array of rows), and one score
    /// each. The encoder refuses mismatched lengths.
    pub const fn columns(
        width: usize,
        ids: &'a [u64],
        features: &'a [i16],
        scores: &'a [i32],
    ) -> Self {
        Candidates {
            width,
            repr: CandidatesRepr::Columns {
                ids,
                features,
                scores,
            },
        }
    }

    /// No candidates, of width `width`.
    pub const fn none(width: usize) -> Self {
        Candidates::columns(width, &[], &[], &[])
    }

    /// Features per candidate.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        match self.repr {
            CandidatesRepr::Columns { ids, .. } => ids.len(),
            CandidatesRepr::Wire { bytes, id_bytes } => {
                bytes.len() / (id_bytes + 2 * self.width + 4)
            }
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th candidate.
    pub fn get(&self, i: usize) -> Option<CandidateRef<'a>> {
        let w = self.width;
        match self.repr {
            CandidatesRepr::Columns {
                ids,
                features,
                scores,
            } => Some(CandidateRef {
                id: *ids.get(i)?,
                features: Items::from_slice(features.get(i * w..(i + 1) * w)?),
                score: *scores.get(i)?,
            }),
            CandidatesRepr::Wire { bytes, id_bytes } => {
                let size = id_bytes + 2 * w + 4;
                let b = bytes.get(i * size..(i + 1) * size)?;
                let id = match id_bytes {
                    4 => u64::from(le_u32(b, 0)),
                    _ => le_u64(b, 0),
                };
                Some(CandidateRef {
                    id,
                    features: Items::from_wire(&b[id_bytes..id_bytes + 2 * w]),
                    score: le_u32(b, id_bytes + 2 * w) as i32,
                })
            }
        }
    }

    /// The candidates in order.
    pub fn iter(&self) -> impl Iterator<Item = CandidateRef<'a>> + 'a {
        let this = *self;
        (0..this.len()).filter_map(move |i| this.get(i))
    }

    /// Checks the column shapes and limits; the count on success.
    fn check(&self, kind: u8) -> Result<usize, EncodeError> {
        let n = self.len();
        let too_many = |count, max| Err(EncodeError::TooMany { kind, count, max });
        if self.width > MAX_CANDIDATE_FEATURES {
            return too_many(self.width, MAX_CANDIDATE_FEATURES);
        }
        if n > MAX_CANDIDATES {
            return too_many(n, MAX_CANDIDATES);
        }
        if n * self.width > MAX_DECISION_FEATURE_VALUES {
            return too_many(n * self.width, MAX_DECISION_FEATURE_VALUES);
        }
        if let CandidatesRepr::Columns {
            features, scores, ..
        } = self.repr
            && (features.len() != n * self.width || scores.len() != n)
        {
            return Err(EncodeError::Shape {
                candidates: n,
                width: self.width,
                features: features.len(),
                scores: scores.len(),
            });
        }
        Ok(n)
    }

    fn emit(&self, s: &mut impl Sink) {
        for c in self.iter() {
            s.put(&c.id.to_le_bytes());
            c.features.emit(s);
            s.put(&c.score.to_le_bytes());
        }
    }
}

impl PartialEq for Candidates<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.width == other.width && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Candidates<'_> {}

impl fmt::Debug for Candidates<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidates")
            .field("width", &self.width)
            .field("rows", &DebugRows(*self))
            .finish()
    }
}

struct DebugRows<'a>(Candidates<'a>);

impl fmt::Debug for DebugRows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// One trace record. Ticks are timer ticks since boot (`sched::Tick`); tasks are
/// `sched::TaskId.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// The system telemetry of one tick, one section per subsystem.
    Telemetry {
        /// The tick.
        tick: u64,
        /// The sections, at most [`MAX_TELEMETRY_SECTIONS`] with distinct codes, at most
        /// [`MAX_TELEMETRY_FIELDS`] fields in all.
        sections: Sections<'a>,
    },
    /// One decision of one head and everything its policy looked at.
    Decision {
        /// The tick.
        tick: u64,
        /// The head that decided ([`head`]).
        head: u8,
        /// The candidate chosen (its id; for `sched`, the task that runs, 0 = idle).
        chosen: u64,
        /// Which policy decided (code owned by the head's policy module).
        policy: u8,
        /// `Some(reason code)` when the classical fallback decided instead of the model.
        fallback: Option<u8>,
        /// The candidates, at most [`MAX_CANDIDATES`] of at most [`MAX_CANDIDATE_FEATURES`].
        candidates: Candidates<'a>,
    },
    /// A task was created.
    TaskSpawn {
        /// The tick.
        tick: u64,
        /// The new task.
        task: u32,
        /// Its class / priority code.
        class: u8,
        /// Its name, at most [`MAX_TASK_NAME_BYTES`] UTF-8 bytes.
        name: &'a str,
    },
    /// A task ran for the first time (its response time ends here).
    TaskFirstRun {
        /// The tick.
        tick: u64,
        /// The task.
        task: u32,
    },
    /// A task blocked (sleep, wait, I/O).
    TaskBlock {
        /// The tick.
        tick: u64,
        /// The task.
        task: u32,
    },
    /// A blocked task became runnable again.
    TaskWake {
        /// The tick.
        tick: u64,
        /// The task.
        task: u32,
    },
    /// A task exited.
    TaskExit {
        /// The tick.
        tick: u64,
        /// The task.
        task: u32,
        /// Its exit status.
        status: i32,
    },
    /// `records` records were lost here (the ring was full): what follows is not contiguous
    /// with what came before.
    Dropped {
        /// How many records were lost.
        records: u64,
    },
    /// The job is over and the trace is complete: nothing follows.
    End {
        /// The tick the job ended.
        tick: u64,
        /// Records the kernel wrote before this one (not counting `dropped` markers).
        records: u64,
        /// Records the kernel dropped in all (the sum its `dropped` markers report).
        dropped: u64,
    },
    /// A record of a kind this reader does not know (a newer writer), stepped over by its
    /// length. Writing one copies `body` verbatim under `kind`, which must be unknown.
    Unknown {
        /// The kind byte.
        kind: u8,
        /// The body, undecoded.
        body: &'a [u8],
    },
}

/// Why a record could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is shorter than the record.
    BufferTooSmall {
        /// Bytes the record needs.
        need: usize,
        /// Bytes the buffer has.
        have: usize,
    },
    /// A variable-length part is over its limit.
    TooMany {
        /// The record kind.
        kind: u8,
        /// Items given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Candidate columns of mismatched lengths.
    Shape {
        /// Candidates (ids) given.
        candidates: usize,
        /// Features per candidate.
        width: usize,
        /// Feature values given (should be candidates × width).
        features: usize,
        /// Scores given (should be candidates).
        scores: usize,
    },
    /// Two telemetry sections with one code.
    DuplicateSection {
        /// The code.
        code: u8,
    },
    /// A [`Record::Unknown`] under a kind code this format defines.
    KnownKind {
        /// The kind code.
        kind: u8,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::BufferTooSmall { need, have } => {
                write!(f, "record needs {need} bytes, buffer has {have}")
            }
            EncodeError::TooMany { kind, count, max } => write!(
                f,
                "record kind {kind} ({}) has {count} items, the limit is {max}",
                kind_name(kind)
            ),
            EncodeError::Shape {
                candidates,
                width,
                features,
                scores,
            } => write!(
                f,
                "decision has {candidates} candidates of width {width} but {features} feature \
                 values (want {}) and {scores} scores",
                candidates * width
            ),
            EncodeError::DuplicateSection { code } => {
                write!(f, "telemetry section {code} appears twice")
            }
            EncodeError::KnownKind { kind } => write!(
                f,
                "kind {kind} ({}) is defined by this format: encode it as that record",
                kind_name(kind)
            ),
        }
    }
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ends inside the record.
    Truncated {
        /// Bytes the record needs.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// The body's length does not match what its kind and counts require.
    BadLength {
        /// The record kind.
        kind: u8,
        /// The body length found.
        len: usize,
    },
    /// A count is over its limit.
    TooMany {
        /// The record kind.
        kind: u8,
        /// The count found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A version-1 decision's candidates carry another number of features than 8.
    FeatureCount {
        /// The count found.
        found: u8,
    },
    /// A decision's fallback flag is not 0/1, or a reason comes without the flag.
    BadFallback {
        /// The flag byte.
        flag: u8,
        /// The reason byte.
        reason: u8,
    },
    /// Two telemetry sections with one code.
    DuplicateSection {
        /// The code.
        code: u8,
    },
    /// A task name is not UTF-8.
    BadName,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Truncated { need, have } => {
                write!(f, "record truncated: needs {need} bytes, {have} left")
            }
            DecodeError::BadLength { kind, len } => write!(
                f,
                "record kind {kind} ({}) has a {len}-byte body, which its layout does not allow",
                kind_name(kind)
            ),
            DecodeError::TooMany { kind, count, max } => write!(
                f,
                "record kind {kind} ({}) claims {count} items, the limit is {max}",
                kind_name(kind)
            ),
            DecodeError::FeatureCount { found } => write!(
                f,
                "version-1 decision candidates carry {found} features, that format has \
                 {V1_CANDIDATE_FEATURES}"
            ),
            DecodeError::BadFallback { flag, reason } => {
                write!(f, "bad fallback flag {flag} with reason {reason}")
            }
            DecodeError::DuplicateSection { code } => {
                write!(f, "telemetry section {code} appears twice")
            }
            DecodeError::BadName => write!(f, "task name is not UTF-8"),
        }
    }
}

/// A short name for a kind code, for messages.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        kind::TELEMETRY => "telemetry",
        kind::DECISION => "decision",
        kind::TASK_SPAWN => "task-spawn",
        kind::TASK_FIRST_RUN => "task-first-run",
        kind::TASK_BLOCK => "task-block",
        kind::TASK_WAKE => "task-wake",
        kind::TASK_EXIT => "task-exit",
        kind::DROPPED => "dropped",
        kind::END => "end",
        _ => "unknown",
    }
}

impl<'a> Record<'a> {
    /// The record's wire kind code ([`kind`]).
    pub fn kind(&self) -> u8 {
        match self {
            Record::Telemetry { .. } => kind::TELEMETRY,
            Record::Decision { .. } => kind::DECISION,
            Record::TaskSpawn { .. } => kind::TASK_SPAWN,
            Record::TaskFirstRun { .. } => kind::TASK_FIRST_RUN,
            Record::TaskBlock { .. } => kind::TASK_BLOCK,
            Record::TaskWake { .. } => kind::TASK_WAKE,
            Record::TaskExit { .. } => kind::TASK_EXIT,
            Record::Dropped { .. } => kind::DROPPED,
            Record::End { .. } => kind::END,
            Record::Unknown { kind, .. } => *kind,
        }
    }

    /// The tick the record belongs to (`None` for [`Record::Dropped`] and
    /// [`Record::Unknown`]).
    pub fn tick(&self) -> Option<u64> {
        match *self {
            Record::Telemetry { tick, .. }
            | Record::Decision { tick, .. }
            | Record::TaskSpawn { tick, .. }
            | Record::TaskFirstRun { tick, .. }
            | Record::TaskBlock { tick, .. }
            | Record::TaskWake { tick, .. }
            | Record::TaskExit { tick, .. }
            | Record::End { tick, .. } => Some(tick),
            Record::Dropped { .. } | Record::Unknown { .. } => None,
        }
    }

    fn body_len(&self) -> Result<usize, EncodeError> {
        let kind = self.kind();
        let limit = |count: usize, max: usize| {
            if count > max {
                Err(EncodeError::TooMany { kind, count, max })
            } else {
                Ok(count)
            }
        };
        Ok(match self {
            Record::Telemetry { sections, .. } => {
                limit(sections.len(), MAX_TELEMETRY_SECTIONS)?;
                let mut fields = 0;
                for (i, s) in sections.iter().enumerate() {
                    if sections.iter().take(i).any(|t| t.code == s.code) {
                        return Err(EncodeError::DuplicateSection { code: s.code });
                    }
                    fields += s.fields.len();
                }
                TELEMETRY_FIXED_BYTES
                    + SECTION_HEADER_BYTES * sections.len()
                    + 4 * limit(fields, MAX_TELEMETRY_FIELDS)?
            }
            Record::Decision { candidates, .. } => {
                let n = candidates.check(kind)?;
                DECISION_FIXED_BYTES + n * (CANDIDATE_FIXED_BYTES + 2 * candidates.width())
            }
            Record::TaskSpawn { name, .. } => {
                SPAWN_FIXED_BYTES + limit(name.len(), MAX_TASK_NAME_BYTES)?
            }
            Record::TaskFirstRun { .. } | Record::TaskBlock { .. } | Record::TaskWake { .. } => {
                TASK_EVENT_BYTES
            }
            Record::TaskExit { .. } => EXIT_BYTES,
            Record::Dropped { .. } => DROPPED_BYTES,
            Record::End { .. } => END_BYTES,
            Record::Unknown { kind, body } => {
                if kind::is_known(*kind, super::chunk::FORMAT_VERSION) {
                    return Err(EncodeError::KnownKind { kind: *kind });
                }
                limit(body.len(), MAX_RECORD_BYTES - RECORD_HEADER_BYTES)?
            }
        })
    }

    /// The record's encoded size, header included; an error if a limit is exceeded.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(RECORD_HEADER_BYTES + self.body_len()?)
    }

    /// Encodes into the front of `out`, returning the bytes written. Never allocates.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let need = self.encoded_len()?;
        if out.len() < need {
            return Err(EncodeError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        self.emit_checked(need, &mut SliceSink { buf: out, pos: 0 });
        Ok(need)
    }

    /// Encodes into any [`Sink`], which must accept [`Record::encoded_len`] bytes.
    pub fn emit(&self, sink: &mut impl Sink) -> Result<usize, EncodeError> {
        let need = self.encoded_len()?;
        self.emit_checked(need, sink);
        Ok(need)
    }

    /// Writes the record whose validated total length is `len`.
    pub(super) fn emit_checked(&self, len: usize, s: &mut impl Sink) {
        // `len` is at most MAX_RECORD_BYTES, far below u16::MAX; counts below are checked
        // against limits that fit their fields (sections ≤ 16, fields ≤ 256, width ≤ 32,
        // candidates ≤ 64, name ≤ 32 bytes).
        let body = (len - RECORD_HEADER_BYTES) as u16;
        s.put(&[self.kind()]);
        s.put(&body.to_le_bytes());
        match *self {
            Record::Telemetry { tick, sections } => {
                s.put(&tick.to_le_bytes());
                s.put(&[sections.len() as u8]);
                for sec in sections.iter() {
                    s.put(&[sec.code]);
                    s.put(&sec.version.to_le_bytes());
                    s.put(&(sec.fields.len() as u16).to_le_bytes());
                    sec.fields.emit(s);
                }
            }
            Record::Decision {
                tick,
                head,
                chosen,
                policy,
                fallback,
                candidates,
            } => {
                s.put(&tick.to_le_bytes());
                s.put(&[head]);
                s.put(&chosen.to_le_bytes());
                let (flag, reason) = match fallback {
                    Some(reason) => (1, reason),
                    None => (0, 0),
                };
                s.put(&[policy, flag, reason, candidates.width() as u8]);
                s.put(&(candidates.len() as u16).to_le_bytes());
                candidates.emit(s);
            }
            Record::TaskSpawn {
                tick,
                task,
                class,
                name,
            } => {
                s.put(&tick.to_le_bytes());
                s.put(&task.to_le_bytes());
                s.put(&[class, name.len() as u8]);
                s.put(name.as_bytes());
            }
            Record::TaskFirstRun { tick, task }
            | Record::TaskBlock { tick, task }
            | Record::TaskWake { tick, task } => {
                s.put(&tick.to_le_bytes());
                s.put(&task.to_le_bytes());
            }
            Record::TaskExit { tick, task, status } => {
                s.put(&tick.to_le_bytes());
                s.put(&task.to_le_bytes());
                s.put(&status.to_le_bytes());
            }
            Record::Dropped { records } => s.put(&records.to_le_bytes()),
            Record::End {
                tick,
                records,
                dropped,
            } => {
                s.put(&tick.to_le_bytes());
                s.put(&records.to_le_bytes());
                s.put(&dropped.to_le_bytes());
            }
            Record::Unknown { body, .. } => s.put(body),
        }
    }

    /// Decodes the record at the front of `bytes` in the current format version, returning it
    /// and the bytes it used. Variable-length parts borrow from `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<(Record<'a>, usize), DecodeError> {
        Record::decode_version(bytes, super::chunk::FORMAT_VERSION)
    }

    /// Decodes the record at the front of `bytes`, laid out as format `version` (the version
    /// of its chunk) says. A kind that version does not define is a [`Record::Unknown`].
    pub fn decode_version(
        bytes: &'a [u8],
        version: u16,
    ) -> Result<(Record<'a>, usize), DecodeError> {
        let have = bytes.len();
        if have < RECORD_HEADER_BYTES {
            return Err(DecodeError::Truncated {
                need: RECORD_HEADER_BYTES,
                have,
            });
        }
        let kind = bytes[0];
        let len = usize::from(le_u16(bytes, 1));
        let need = RECORD_HEADER_BYTES + len;
        if have < need {
            return Err(DecodeError::Truncated { need, have });
        }
        let body = &bytes[RECORD_HEADER_BYTES..need];
        let record = if !kind::is_known(kind, version) {
            Record::Unknown { kind, body }
        } else {
            match (kind, version) {
                (kind::TELEMETRY, 1) => decode_telemetry_v1(body)?,
                (kind::TELEMETRY, _) => decode_telemetry(body)?,
                (kind::DECISION, 1) => decode_decision_v1(body)?,
                (kind::DECISION, _) => decode_decision(body)?,
                _ => decode_fixed(kind, body)?,
            }
        };
        Ok((record, need))
    }
}

/// The error for a body of `kind` whose length its layout does not allow.
fn bad_length(kind: u8, body: &[u8]) -> DecodeError {
    DecodeError::BadLength {
        kind,
        len: body.len(),
    }
}

fn exact(kind: u8, body: &[u8], len: usize) -> Result<(), DecodeError> {
    if body.len() == len {
        Ok(())
    } else {
        Err(bad_length(kind, body))
    }
}

fn at_least(kind: u8, body: &[u8], len: usize) -> Result<(), DecodeError> {
    if body.len() >= len {
        Ok(())
    } else {
        Err(bad_length(kind, body))
    }
}

fn check_count(kind: u8, count: usize, max: usize) -> Result<(), DecodeError> {
    if count > max {
        Err(DecodeError::TooMany { kind, count, max })
    } else {
        Ok(())
    }
}

/// The fallback of a decision from its flag and reason bytes.
fn fallback(flag: u8, reason: u8) -> Result<Option<u8>, DecodeError> {
    match (flag, reason) {
        (0, 0) => Ok(None),
        (1, reason) => Ok(Some(reason)),
        _ => Err(DecodeError::BadFallback { flag, reason }),
    }
}

/// Version-2 telemetry: tick, section count, sections.
fn decode_telemetry(body: &[u8]) -> Result<Record<'_>, DecodeError> {
    let kind = kind::TELEMETRY;
    at_least(kind, body, TELEMETRY_FIXED_BYTES)?;
    let count = usize::from(body[8]);
    check_count(kind, count, MAX_TELEMETRY_SECTIONS)?;
    let bytes = &body[TELEMETRY_FIXED_BYTES..];
    let (mut at, mut fields) = (0, 0);
    let mut codes = [0u8; MAX_TELEMETRY_SECTIONS];
    for i in 0..count {
        let (section, used) = read_section(&bytes[at..]).ok_or(bad_length(kind, body))?;
        if codes[..i].contains(&section.code) {
            return Err(DecodeError::DuplicateSection { code: section.code });
        }
        codes[i] = section.code;
        fields += section.fields.len();
        check_count(kind, fields, MAX_TELEMETRY_FIELDS)?;
        at += used;
    }
    exact(kind, bytes, at)?;
    Ok(Record::Telemetry {
        tick: le_u64(body, 0),
        sections: Sections {
            repr: SectionsRepr::Wire { count, bytes },
        },
    })
}

/// Version-2 decision: tick, head, chosen, policy, fallback, width, candidates.
fn decode_decision(body: &[u8]) -> Result<Record<'_>, DecodeError> {
    let kind = kind::DECISION;
    at_least(kind, body, DECISION_FIXED_BYTES)?;
    let (policy, flag, reason, width) = (body[17], body[18], body[19], usize::from(body[20]));
    let fallback = fallback(flag, reason)?;
    check_count(kind, width, MAX_CANDIDATE_FEATURES)?;
    let count = usize::from(le_u16(body, 21));
    check_count(kind, count, MAX_CANDIDATES)?;
    check_count(kind, count * width, MAX_DECISION_FEATURE_VALUES)?;
    exact(
        kind,
        body,
        DECISION_FIXED_BYTES + count * (CANDIDATE_FIXED_BYTES + 2 * width),
    )?;
    Ok(Record::Decision {
        tick: le_u64(body, 0),
        head: body[8],
        chosen: le_u64(body, 9),
        policy,
        fallback,
        candidates: Candidates {
            width,
            repr: CandidatesRepr::Wire {
                bytes: &body[DECISION_FIXED_BYTES..],
                id_bytes: 8,
            },
        },
    })
}

/// Version-1 telemetry: tick, schema, one vector (the scheduler's section).
fn decode_telemetry_v1(body: &[u8]) -> Result<Record<'_>, DecodeError> {
    let kind = kind::TELEMETRY;
    at_least(kind, body, v1::TELEMETRY_FIXED_BYTES)?;
    let count = usize::from(le_u16(body, 10));
    check_count(kind, count, v1::MAX_TELEMETRY_FIELDS)?;
    exact(kind, body, v1::TELEMETRY_FIXED_BYTES + 4 * count)?;
    Ok(Record::Telemetry {
        tick: le_u64(body, 0),
        sections: Sections {
            repr: SectionsRepr::One(Section {
                code: section::SCHED,
                version: le_u16(body, 8),
                fields: Items::from_wire(&body[v1::TELEMETRY_FIXED_BYTES..]),
            }),
        },
    })
}

/// Version-1 decision: a scheduler decision with u32 task ids and 8 features.
fn decode_decision_v1(body: &[u8]) -> Result<Record<'_>, DecodeError> {
    let kind = kind::DECISION;
    at_least(kind, body, v1::DECISION_FIXED_BYTES)?;
    let (flag, reason, features) = (body[13], body[14], body[15]);
    if usize::from(features) != V1_CANDIDATE_FEATURES {
        return Err(DecodeError::FeatureCount { found: features });
    }
    let fallback = fallback(flag, reason)?;
    let count = usize::from(le_u16(body, 16));
    check_count(kind, count, MAX_CANDIDATES)?;
    exact(
        kind,
        body,
        v1::DECISION_FIXED_BYTES + v1::CANDIDATE_BYTES * count,
    )?;
    Ok(Record::Decision {
        tick: le_u64(body, 0),
        head: head::SCHED,
        chosen: u64::from(le_u32(body, 8)),
        policy: body[12],
        fallback,
        candidates: Candidates {
            width: V1_CANDIDATE_FEATURES,
            repr: CandidatesRepr::Wire {
                bytes: &body[v1::DECISION_FIXED_BYTES..],
                id_bytes: 4,
            },
        },
    })
}

/// The kinds whose layout is the same in every version (life cycle, dropped, end).
fn decode_fixed(kind: u8, body: &[u8]) -> Result<Record<'_>, DecodeError> {
    let tick = |body: &[u8]| le_u64(body, 0);
    let task = |body: &[u8]| le_u32(body, 8);
    Ok(match kind {
        kind::TASK_SPAWN => {
            at_least(kind, body, SPAWN_FIXED_BYTES)?;
            let count = usize::from(body[13]);
            check_count(kind, count, MAX_TASK_NAME_BYTES)?;
            exact(kind, body, SPAWN_FIXED_BYTES + count)?;
            let name = core::str::from_utf8(&body[SPAWN_FIXED_BYTES..])
                .map_err(|_| DecodeError::BadName)?;
            Record::TaskSpawn {
                tick: tick(body),
                task: task(body),
                class: body[12],
                name,
            }
        }
        kind::TASK_FIRST_RUN | kind::TASK_BLOCK | kind::TASK_WAKE => {
            exact(kind, body, TASK_EVENT_BYTES)?;
            let (tick, task) = (tick(body), task(body));
            match kind {
                kind::TASK_FIRST_RUN => Record::TaskFirstRun { tick, task },
                kind::TASK_BLOCK => Record::TaskBlock { tick, task },
                _ => Record::TaskWake { tick, task },
            }
        }
        kind::TASK_EXIT => {
            exact(kind, body, EXIT_BYTES)?;
            Record::TaskExit {
                tick: tick(body),
                task: task(body),
                status: le_u32(body, 12) as i32,
            }
        }
        kind::DROPPED => {
            exact(kind, body, DROPPED_BYTES)?;
            Record::Dropped {
                records: le_u64(body, 0),
            }
        }
        kind::END => {
            exact(kind, body, END_BYTES)?;
            Record::End {
                tick: tick(body),
                records: le_u64(body, 8),
                dropped: le_u64(body, 16),
            }
        }
        // Callers pass only kinds that `kind::is_known` accepts.
        _ => Record::Unknown { kind, body },
    })
}

// Readers for bytes whose length the caller has already checked.
pub(super) fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(super) fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(super) fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from(le_u32(b, at)) | (u64::from(le_u32(b, at + 4)) << 32)
}
