//! Trace records: the one definition of what the kernel writes about itself.
//!
//! A record is `kind: u8 | body_len: u16 LE | body` (all integers little-endian; layout per
//! kind in `FORMAT.md`). [`Record::encode`] and [`Record::emit`] never allocate, so the tick
//! path can call them; [`Record::decode`] borrows its variable-length parts (telemetry fields,
//! candidates, task names) from the input bytes instead of copying them.
//!
//! The explicit `body_len` lets a reader step over a record it cannot parse and lets every
//! kind's body be checked for an exact size: a body that is longer or shorter than its counts
//! say is a [`DecodeError::BadLength`], never a silent misparse.

use core::fmt;

/// Telemetry fields one record can carry at most. The telemetry module defines the real
/// (smaller) vector length and its schema version; this is the codec's ceiling.
pub const MAX_TELEMETRY_FIELDS: usize = 64;
/// Features per scheduling candidate (i16 fixed point), fixed so a candidate is 24 bytes.
pub const CANDIDATE_FEATURES: usize = 8;
/// Candidates one decision record can carry at most.
pub const MAX_CANDIDATES: usize = 64;
/// Longest task name, in UTF-8 bytes, a spawn record carries.
pub const MAX_TASK_NAME_BYTES: usize = 32;
/// Bytes before every record's body: kind (u8) and body length (u16).
pub const RECORD_HEADER_BYTES: usize = 3;

const TELEMETRY_FIXED_BYTES: usize = 8 + 2 + 2;
const DECISION_FIXED_BYTES: usize = 8 + 4 + 1 + 1 + 1 + 1 + 2;
const SPAWN_FIXED_BYTES: usize = 8 + 4 + 1 + 1;
const TASK_EVENT_BYTES: usize = 8 + 4;
const EXIT_BYTES: usize = 8 + 4 + 4;
const DROPPED_BYTES: usize = 8;

/// The largest encoded record (a decision with [`MAX_CANDIDATES`] candidates), in bytes.
pub const MAX_RECORD_BYTES: usize =
    RECORD_HEADER_BYTES + DECISION_FIXED_BYTES + MAX_CANDIDATES * Candidate::SIZE;

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

/// One scheduling candidate as the scheduler head saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The task (`sched::TaskId.0`).
    pub task: u32,
    /// The per-task features, fixed point, in the telemetry schema's order.
    pub features: [i16; CANDIDATE_FEATURES],
    /// The score the policy gave it (higher runs first).
    pub score: i32,
}

impl WireItem for Candidate {
    const SIZE: usize = 4 + 2 * CANDIDATE_FEATURES + 4;
    fn emit(&self, sink: &mut impl Sink) {
        sink.put(&self.task.to_le_bytes());
        for f in &self.features {
            sink.put(&f.to_le_bytes());
        }
        sink.put(&self.score.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Self {
        let mut features = [0i16; CANDIDATE_FEATURES];
        for (i, f) in features.iter_mut().enumerate() {
            *f = le_u16(bytes, 4 + 2 * i) as i16;
        }
        Candidate {
            task: le_u32(bytes, 0),
            features,
            score: le_u32(bytes, 4 + 2 * CANDIDATE_FEATURES) as i32,
        }
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

    fn emit(&self, sink: &mut impl Sink) {
        match self.repr {
            Repr::Slice(s) => s.iter().for_each(|item| item.emit(sink)),
            Repr::Wire(b) => sink.put(b),
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

/// One trace record. Ticks are timer ticks since boot (`sched::Tick`); tasks are
/// `sched::TaskId.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// The system telemetry vector of one tick, in the given schema version.
    Telemetry {
        /// The tick.
        tick: u64,
        /// The telemetry schema version the fields follow.
        schema: u16,
        /// The fields (fixed point), at most [`MAX_TELEMETRY_FIELDS`].
        fields: Items<'a, i32>,
    },
    /// One scheduling decision and everything the policy looked at.
    Decision {
        /// The tick.
        tick: u64,
        /// The task that runs.
        chosen: u32,
        /// Which policy decided (code owned by the policy module).
        policy: u8,
        /// `Some(reason code)` when the classical fallback decided instead of the model.
        fallback: Option<u8>,
        /// The candidates, at most [`MAX_CANDIDATES`].
        candidates: Items<'a, Candidate>,
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
    /// The kind byte is not one this format version defines.
    UnknownKind {
        /// The kind byte.
        kind: u8,
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
    /// A decision's candidates carry another number of features than [`CANDIDATE_FEATURES`].
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
    /// A task name is not UTF-8.
    BadName,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Truncated { need, have } => {
                write!(f, "record truncated: needs {need} bytes, {have} left")
            }
            DecodeError::UnknownKind { kind } => write!(f, "unknown record kind {kind}"),
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
                "decision candidates carry {found} features, this format has {CANDIDATE_FEATURES}"
            ),
            DecodeError::BadFallback { flag, reason } => {
                write!(f, "bad fallback flag {flag} with reason {reason}")
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
        }
    }

    /// The tick the record belongs to (`None` for [`Record::Dropped`]).
    pub fn tick(&self) -> Option<u64> {
        match *self {
            Record::Telemetry { tick, .. }
            | Record::Decision { tick, .. }
            | Record::TaskSpawn { tick, .. }
            | Record::TaskFirstRun { tick, .. }
            | Record::TaskBlock { tick, .. }
            | Record::TaskWake { tick, .. }
            | Record::TaskExit { tick, .. } => Some(tick),
            Record::Dropped { .. } => None,
        }
    }

    fn body_len(&self) -> Result<usize, EncodeError> {
        let limit = |count: usize, max: usize| {
            if count > max {
                Err(EncodeError::TooMany {
                    kind: self.kind(),
                    count,
                    max,
                })
            } else {
                Ok(count)
            }
        };
        Ok(match self {
            Record::Telemetry { fields, .. } => {
                TELEMETRY_FIXED_BYTES + 4 * limit(fields.len(), MAX_TELEMETRY_FIELDS)?
            }
            Record::Decision { candidates, .. } => {
                DECISION_FIXED_BYTES + Candidate::SIZE * limit(candidates.len(), MAX_CANDIDATES)?
            }
            Record::TaskSpawn { name, .. } => {
                SPAWN_FIXED_BYTES + limit(name.len(), MAX_TASK_NAME_BYTES)?
            }
            Record::TaskFirstRun { .. } | Record::TaskBlock { .. } | Record::TaskWake { .. } => {
                TASK_EVENT_BYTES
            }
            Record::TaskExit { .. } => EXIT_BYTES,
            Record::Dropped { .. } => DROPPED_BYTES,
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
        // `len` is at most MAX_RECORD_BYTES, far below u16::MAX.
        let body = (len - RECORD_HEADER_BYTES) as u16;
        s.put(&[self.kind()]);
        s.put(&body.to_le_bytes());
        match *self {
            Record::Telemetry {
                tick,
                schema,
                fields,
            } => {
                s.put(&tick.to_le_bytes());
                s.put(&schema.to_le_bytes());
                s.put(&(fields.len() as u16).to_le_bytes());
                fields.emit(s);
            }
            Record::Decision {
                tick,
                chosen,
                policy,
                fallback,
                candidates,
            } => {
                s.put(&tick.to_le_bytes());
                s.put(&chosen.to_le_bytes());
                let (flag, reason) = match fallback {
                    Some(reason) => (1, reason),
                    None => (0, 0),
                };
                s.put(&[policy, flag, reason, CANDIDATE_FEATURES as u8]);
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
        }
    }

    /// Decodes the record at the front of `bytes`, returning it and the bytes it used.
    /// Variable-length parts borrow from `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<(Record<'a>, usize), DecodeError> {
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
        let bad_len = DecodeError::BadLength { kind, len };
        let exact = |fixed: usize| if len == fixed { Ok(()) } else { Err(bad_len) };
        let at_least = |fixed: usize| if len >= fixed { Ok(()) } else { Err(bad_len) };
        let tick = |body: &[u8]| le_u64(body, 0);
        let task = |body: &[u8]| le_u32(body, 8);
        let record = match kind {
            kind::TELEMETRY => {
                at_least(TELEMETRY_FIXED_BYTES)?;
                let count = usize::from(le_u16(body, 10));
                check_count(kind, count, MAX_TELEMETRY_FIELDS)?;
                exact(TELEMETRY_FIXED_BYTES + 4 * count)?;
                Record::Telemetry {
                    tick: tick(body),
                    schema: le_u16(body, 8),
                    fields: Items {
                        repr: Repr::Wire(&body[TELEMETRY_FIXED_BYTES..]),
                    },
                }
            }
            kind::DECISION => {
                at_least(DECISION_FIXED_BYTES)?;
                let (flag, reason, features) = (body[13], body[14], body[15]);
                if usize::from(features) != CANDIDATE_FEATURES {
                    return Err(DecodeError::FeatureCount { found: features });
                }
                let fallback = match (flag, reason) {
                    (0, 0) => None,
                    (1, reason) => Some(reason),
                    _ => return Err(DecodeError::BadFallback { flag, reason }),
                };
                let count = usize::from(le_u16(body, 16));
                check_count(kind, count, MAX_CANDIDATES)?;
                exact(DECISION_FIXED_BYTES + Candidate::SIZE * count)?;
                Record::Decision {
                    tick: tick(body),
                    chosen: le_u32(body, 8),
                    policy: body[12],
                    fallback,
                    candidates: Items {
                        repr: Repr::Wire(&body[DECISION_FIXED_BYTES..]),
                    },
                }
            }
            kind::TASK_SPAWN => {
                at_least(SPAWN_FIXED_BYTES)?;
                let count = usize::from(body[13]);
                check_count(kind, count, MAX_TASK_NAME_BYTES)?;
                exact(SPAWN_FIXED_BYTES + count)?;
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
                exact(TASK_EVENT_BYTES)?;
                let (tick, task) = (tick(body), task(body));
                match kind {
                    kind::TASK_FIRST_RUN => Record::TaskFirstRun { tick, task },
                    kind::TASK_BLOCK => Record::TaskBlock { tick, task },
                    _ => Record::TaskWake { tick, task },
                }
            }
            kind::TASK_EXIT => {
                exact(EXIT_BYTES)?;
                Record::TaskExit {
                    tick: tick(body),
                    task: task(body),
                    status: le_u32(body, 12) as i32,
                }
            }
            kind::DROPPED => {
                exact(DROPPED_BYTES)?;
                Record::Dropped {
                    records: le_u64(body, 0),
                }
            }
            _ => return Err(DecodeError::UnknownKind { kind }),
        };
        Ok((record, need))
    }
}

fn check_count(kind: u8, count: usize, max: usize) -> Result<(), DecodeError> {
    if count > max {
        Err(DecodeError::TooMany { kind, count, max })
    } else {
        Ok(())
    }
}

// Readers for bytes whose length the caller has already checked.
pub(super) fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(super) fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from(le_u32(b, at)) | (u64::from(le_u32(b, at + 4)) << 32)
}
