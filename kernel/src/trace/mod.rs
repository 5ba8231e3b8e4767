//! The trace format: what the kernel records about itself, and how a host reads it back.
//!
//! This is the single definition of a trace record (DESIGN.md §1: telemetry, decisions and
//! outcomes flow from the kernel to the host, which labels and retrains from them). The kernel
//! appends [`Record`]s to a [`TraceRing`] on the tick path; a drain step frames them into
//! CRC-checked, sequence-numbered chunks ([`chunk`]) that go out on COM2; the host CLI reads
//! the file back with a [`TraceReader`], which decodes up to any damage, says where and why,
//! and resynchronises on the next chunk. When the job ends the kernel closes the ring with an
//! [`Record::End`] record, so a reader can tell a complete trace from a cut one.
//!
//! Decisions and telemetry are subsystem-neutral: each decision names its head
//! ([`head`] registry) and its candidates' feature width, each telemetry record is a list of
//! per-subsystem sections ([`section`] registry) with their own versions. A record of a kind
//! the reader does not know is stepped over by its length ([`Record::Unknown`]), not damage.
//!
//! The byte layout is specified in `kernel/src/trace/FORMAT.md`; change it only together with
//! [`FORMAT_VERSION`].
//!
//! # Invariants
//! - Encoding and the ring never allocate or block: safe for the timer interrupt.
//! - A full ring drops the new record and counts it; nothing undrained is overwritten, and
//!   every loss appears in the stream as a [`Record::Dropped`] marker where it happened.
//! - The end record is the last record of a complete trace: the ring refuses pushes after it.
//! - Identical input gives identical bytes (no timestamps or addresses are added), so two
//!   deterministic runs give byte-identical traces.
//! - Everything is portable and safe: it compiles for the kernel target and the host.
//!
//! # Resources
//! CRC-32/ISO-HDLC as catalogued by Greg Cook's "Catalogue of parametrised CRC algorithms"
//! (via the `crc` crate); the chunk framing follows the usual magic/length/CRC pattern of
//! PNG chunks and pcapng blocks.

pub mod chunk;
pub mod record;
pub mod ring;

pub use chunk::{
    CHUNK_HEADER_BYTES, CHUNK_MAGIC, Chunk, ChunkError, Damage, Entry, FORMAT_VERSION,
    MAX_CHUNK_PAYLOAD, OLDEST_READABLE_VERSION, StreamError, TraceReader, write_chunk,
    write_chunk_version,
};
pub use record::{
    CANDIDATE_FEATURES, CandidateRef, Candidates, DecodeError, EncodeError, Items,
    MAX_CANDIDATE_FEATURES, MAX_CANDIDATES, MAX_DECISION_FEATURE_VALUES, MAX_RECORD_BYTES,
    MAX_TASK_NAME_BYTES, MAX_TELEMETRY_FIELDS, MAX_TELEMETRY_SECTIONS, Record, Section, Sections,
    Sink, V1_CANDIDATE_FEATURES, head, section,
};
pub use ring::{DROPPED_MARKER_BYTES, END_RECORD_BYTES, MIN_DRAIN_BUFFER, PushError, TraceRing};

#[cfg(test)]
mod tests;
