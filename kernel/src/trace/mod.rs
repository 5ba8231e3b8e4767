//! The trace format: what the kernel records about itself, and how a host reads it back.
//!
//! This is the single definition of a trace record (DESIGN.md §1: telemetry, decisions and
//! outcomes flow from the kernel to the host, which labels and retrains from them). The kernel
//! appends [`Record`]s to a [`TraceRing`] on the tick path; a drain step frames them into
//! CRC-checked, sequence-numbered chunks ([`chunk`]) that go out on COM2; the host CLI reads
//! the file back with a [`TraceReader`], which decodes up to any damage, says where and why,
//! and resynchronises on the next chunk.
//!
//! The byte layout is specified in `kernel/src/trace/FORMAT.md`; change it only together with
//! [`FORMAT_VERSION`].
//!
//! # Invariants
//! - Encoding and the ring never allocate or block: safe for the timer interrupt.
//! - A full ring drops the new record and counts it; nothing undrained is overwritten, and
//!   every loss appears in the stream as a [`Record::Dropped`] marker where it happened.
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
    MAX_CHUNK_PAYLOAD, StreamError, TraceReader, write_chunk,
};
pub use record::{
    CANDIDATE_FEATURES, Candidate, DecodeError, EncodeError, Items, MAX_CANDIDATES,
    MAX_RECORD_BYTES, MAX_TASK_NAME_BYTES, MAX_TELEMETRY_FIELDS, Record, Sink,
};
pub use ring::{DROPPED_MARKER_BYTES, MIN_DRAIN_BUFFER, PushError, TraceRing};

#[cfg(test)]
mod tests;

/// Codes of the heads whose decisions trace records carry.
pub mod head {
    /// The scheduler's head.
    pub const SCHED: u8 = 1;
}
