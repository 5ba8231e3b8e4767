//! Framed chunks: how records travel (COM2, a trace disk) and how a damaged stream is read.
//!
//! A chunk is a 20-byte header — magic `AUGT`, format version (u16), reserved (u16, zero),
//! sequence number (u32), payload length (u32), CRC-32 (u32) — followed by the payload: whole
//! records, back to back. The CRC (CRC-32/ISO-HDLC, the zlib/Ethernet one) covers header bytes
//! 4..16 (version, reserved, sequence, length) and then the payload, so a flipped bit in any of
//! them is caught; a flipped bit in the magic is caught by the magic check.
//!
//! # Reading a damaged stream
//! [`TraceReader`] walks a byte stream of chunks and yields every record of every intact chunk.
//! Damage is reported as a [`StreamError`] (byte offset, chunk sequence when known, and why) and
//! the reader then **resynchronises**: it searches for the next magic after the damaged chunk's
//! first byte and goes on from there. A chunk is all-or-nothing: no record of a chunk that fails
//! its checks is yielded. Chunk sequence numbers must increase by one; a jump (chunks lost or
//! skipped) is reported as [`Damage::SequenceGap`] before that chunk's records, which are still
//! yielded because the chunk itself is intact. A stream starts at chunk #0.

use core::fmt;

use crc::{CRC_32_ISO_HDLC, Crc};

use super::record::{DecodeError, Record, le_u16, le_u32};

/// First bytes of every chunk.
pub const CHUNK_MAGIC: [u8; 4] = *b"AUGT";
/// The format version this code writes (records and chunks together).
pub const FORMAT_VERSION: u16 = 2;
/// The oldest format version this code still reads (version 1: scheduler-shaped decisions,
/// one telemetry vector, no end record).
pub const OLDEST_READABLE_VERSION: u16 = 1;
/// Header size in bytes.
pub const CHUNK_HEADER_BYTES: usize = 20;
/// The largest payload a chunk may carry; a longer length field is damage.
pub const MAX_CHUNK_PAYLOAD: usize = 16 * 1024;

/// CRC-32/ISO-HDLC (poly 0x04C11DB7 reflected, init and xorout 0xFFFFFFFF; check 0xCBF43926).
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
/// Header bytes the CRC covers (version, reserved, sequence, length).
const CRC_COVERED_HEADER: core::ops::Range<usize> = 4..16;

/// The CRC of a chunk whose header (first 16 bytes) and payload are given.
fn chunk_crc(header: &[u8], payload: &[u8]) -> u32 {
    let mut digest = CRC32.digest();
    digest.update(&header[CRC_COVERED_HEADER]);
    digest.update(payload);
    digest.finalize()
}

/// Why a chunk could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// The output buffer cannot hold the chunk (or, when draining, even its first record).
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The payload is over [`MAX_CHUNK_PAYLOAD`].
    PayloadTooLong {
        /// The payload length.
        len: usize,
    },
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChunkError::BufferTooSmall { need, have } => {
                write!(f, "chunk needs {need} bytes, buffer has {have}")
            }
            ChunkError::PayloadTooLong { len } => {
                write!(
                    f,
                    "chunk payload of {len} bytes is over the {MAX_CHUNK_PAYLOAD}-byte limit"
                )
            }
        }
    }
}

/// Writes the header of a chunk whose `payload_len` payload bytes already sit in
/// `out[CHUNK_HEADER_BYTES..]`; returns the chunk's total length.
pub(super) fn seal_chunk(seq: u32, out: &mut [u8], payload_len: usize) -> usize {
    seal_chunk_version(seq, FORMAT_VERSION, out, payload_len)
}

/// [`seal_chunk`] with the header's format version given.
fn seal_chunk_version(seq: u32, version: u16, out: &mut [u8], payload_len: usize) -> usize {
    let end = CHUNK_HEADER_BYTES + payload_len;
    out[0..4].copy_from_slice(&CHUNK_MAGIC);
    out[4..6].copy_from_slice(&version.to_le_bytes());
    out[6..8].copy_from_slice(&0u16.to_le_bytes());
    out[8..12].copy_from_slice(&seq.to_le_bytes());
    // payload_len <= MAX_CHUNK_PAYLOAD, checked by every caller.
    out[12..16].copy_from_slice(&(payload_len as u32).to_le_bytes());
    let (header, rest) = out.split_at_mut(CHUNK_HEADER_BYTES);
    let crc = chunk_crc(header, &rest[..payload_len]);
    header[16..20].copy_from_slice(&crc.to_le_bytes());
    end
}

/// Frames `payload` (whole encoded records) as chunk `seq` into `out`; returns bytes written.
pub fn write_chunk(seq: u32, payload: &[u8], out: &mut [u8]) -> Result<usize, ChunkError> {
    write_chunk_version(seq, FORMAT_VERSION, payload, out)
}

/// [`write_chunk`] under another format version's header, for tests and tools that make
/// traces in an older layout (the payload must already be laid out in that version).
pub fn write_chunk_version(
    seq: u32,
    version: u16,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, ChunkError> {
    if payload.len() > MAX_CHUNK_PAYLOAD {
        return Err(ChunkError::PayloadTooLong { len: payload.len() });
    }
    let need = CHUNK_HEADER_BYTES + payload.len();
    if out.len() < need {
        return Err(ChunkError::BufferTooSmall {
            need,
            have: out.len(),
        });
    }
    out[CHUNK_HEADER_BYTES..need].copy_from_slice(payload);
    Ok(seal_chunk_version(seq, version, out, payload.len()))
}

/// An intact chunk found in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Byte offset of the chunk's first byte in the stream.
    pub offset: usize,
    /// Its sequence number.
    pub seq: u32,
    /// The format version its records are laid out in.
    pub version: u16,
    /// Its records, still encoded.
    pub payload: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// Checks the chunk that starts at `data[offset..]`. On damage, also returns the sequence
    /// number when the header was readable.
    pub fn parse(data: &'a [u8], offset: usize) -> Result<Chunk<'a>, (Option<u32>, Damage)> {
        let rest = data.get(offset..).unwrap_or(&[]);
        let prefix = rest.len().min(CHUNK_MAGIC.len());
        if rest[..prefix] != CHUNK_MAGIC[..prefix] {
            return Err((
                None,
                Damage::BadMagic {
                    found: first4(rest),
                },
            ));
        }
        if rest.len() < CHUNK_HEADER_BYTES {
            let have = rest.len();
            return Err((
                None,
                Damage::Truncated {
                    need: CHUNK_HEADER_BYTES,
                    have,
                },
            ));
        }
        let version = le_u16(rest, 4);
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err((None, Damage::UnsupportedVersion { found: version }));
        }
        let seq = le_u32(rest, 8);
        let len = le_u32(rest, 12) as usize;
        if len > MAX_CHUNK_PAYLOAD {
            return Err((Some(seq), Damage::PayloadTooLong { len }));
        }
        let need = CHUNK_HEADER_BYTES + len;
        if rest.len() < need {
            return Err((
                Some(seq),
                Damage::Truncated {
                    need,
                    have: rest.len(),
                },
            ));
        }
        let payload = &rest[CHUNK_HEADER_BYTES..need];
        let stored = le_u32(rest, 16);
        let computed = chunk_crc(rest, payload);
        if stored != computed || le_u16(rest, 6) != 0 {
            return Err((Some(seq), Damage::BadCrc { stored, computed }));
        }
        Ok(Chunk {
            offset,
            seq,
            version,
            payload,
        })
    }

    /// The chunk's total length in bytes.
    pub fn len(&self) -> usize {
        CHUNK_HEADER_BYTES + self.payload.len()
    }

    /// Whether the chunk carries no records.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}

fn first4(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0; 4];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

/// What is wrong at a damaged place of a trace stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// No chunk magic where a chunk should start (garbage or a damaged magic).
    BadMagic {
        /// The four bytes found (zero-padded at the end of the stream).
        found: [u8; 4],
    },
    /// The stream ends inside a chunk.
    Truncated {
        /// Bytes the chunk needs.
        need: usize,
        /// Bytes left in the stream.
        have: usize,
    },
    /// A format version this reader does not know.
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// The length field is over [`MAX_CHUNK_PAYLOAD`].
    PayloadTooLong {
        /// The length found.
        len: usize,
    },
    /// The CRC does not match: a bit changed in the header fields or the payload.
    BadCrc {
        /// The CRC the chunk carries.
        stored: u32,
        /// The CRC of what arrived.
        computed: u32,
    },
    /// A chunk with a good CRC holds a record that does not decode (a writer bug: a record
    /// of an unknown kind is not damage, it decodes to `Record::Unknown`); the rest of that
    /// chunk is skipped.
    BadRecord {
        /// Byte offset of the record in the stream.
        at: usize,
        /// Why it does not decode.
        error: DecodeError,
    },
    /// Sequence numbers jumped: chunks between were lost. The chunk itself is intact.
    SequenceGap {
        /// The sequence number expected.
        expected: u32,
        /// The one found.
        found: u32,
    },
}

/// Where a trace stream is damaged, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamError {
    /// Byte offset in the stream of the damaged chunk (or the garbage).
    pub offset: usize,
    /// The damaged chunk's sequence number, when its header could be read.
    pub seq: Option<u32>,
    /// What is wrong.
    pub damage: Damage,
    /// Where reading resumes (the next chunk magic found, or the stream's end).
    pub resume_at: usize,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trace damaged at byte {}", self.offset)?;
        if let Some(seq) = self.seq {
            write!(f, " (chunk #{seq})")?;
        }
        write!(f, ": ")?;
        match self.damage {
            Damage::BadMagic { found } => {
                write!(f, "expected chunk magic \"AUGT\", found {found:02x?}")?
            }
            Damage::Truncated { need, have } => write!(
                f,
                "stream ends inside a chunk ({have} of {need} bytes present)"
            )?,
            Damage::UnsupportedVersion { found } => write!(
                f,
                "format version {found} is not supported (this reader knows \
                 {OLDEST_READABLE_VERSION} to {FORMAT_VERSION})"
            )?,
            Damage::PayloadTooLong { len } => write!(
                f,
                "payload length {len} is over the {MAX_CHUNK_PAYLOAD}-byte limit (corrupt header)"
            )?,
            Damage::BadCrc { stored, computed } => write!(
                f,
                "CRC mismatch (stored {stored:#010x}, computed {computed:#010x}): chunk corrupted"
            )?,
            Damage::BadRecord { at, error } => write!(f, "record at byte {at}: {error}")?,
            Damage::SequenceGap { expected, found } => write!(
                f,
                "sequence gap: expected chunk #{expected}, found #{found} ({} chunk(s) missing)",
                found.wrapping_sub(expected)
            )?,
        }
        if !matches!(self.damage, Damage::SequenceGap { .. }) {
            write!(f, "; resuming at byte {}", self.resume_at)?;
        }
        Ok(())
    }
}

/// A record and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The sequence number of its chunk.
    pub seq: u32,
    /// The format version of its chunk.
    pub version: u16,
    /// Byte offset of the record in the stream.
    pub offset: usize,
    /// The record.
    pub record: Record<'a>,
}

/// Reads a stream of chunks, yielding records and damage reports in stream order (see the
/// module docs for how it resynchronises).
#[derive(Debug, Clone)]
pub struct TraceReader<'a> {
    data: &'a [u8],
    pos: usize,
    expected_seq: Option<u32>,
    current: Option<(Chunk<'a>, usize)>,
}

impl<'a> TraceReader<'a> {
    /// A reader over a whole trace (e.g. the file QEMU wrote from COM2). A trace starts at
    /// chunk #0, so a lost first chunk is reported as a gap too.
    pub fn new(data: &'a [u8]) -> Self {
        TraceReader {
            data,
            pos: 0,
            expected_seq: Some(0),
            current: None,
        }
    }

    /// The offset of the next chunk to be read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next chunk magic strictly after `from`, or the stream's end.
    fn resync_after(&self, from: usize) -> usize {
        let start = from + 1;
        self.data
            .get(start..)
            .and_then(|rest| {
                rest.windows(CHUNK_MAGIC.len())
                    .position(|w| w == CHUNK_MAGIC)
            })
            .map_or(self.data.len(), |i| start + i)
    }
}

impl<'a> Iterator for TraceReader<'a> {
    type Item = Result<Entry<'a>, StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        // A loop, not recursion: a stream of empty chunks must not grow the stack.
        loop {
            if let Some((chunk, at)) = self.current {
                if at < chunk.payload.len() {
                    return Some(self.next_record(chunk, at));
                }
                self.current = None;
            }
            if self.pos >= self.data.len() {
                return None;
            }
            let offset = self.pos;
            match Chunk::parse(self.data, offset) {
                Ok(chunk) => {
                    self.pos = offset + chunk.len();
                    self.current = Some((chunk, 0));
                    let expected = self.expected_seq.replace(chunk.seq.wrapping_add(1));
                    if let Some(expected) = expected.filter(|&e| e != chunk.seq) {
                        return Some(Err(StreamError {
                            offset,
                            seq: Some(chunk.seq),
                            damage: Damage::SequenceGap {
                                expected,
                                found: chunk.seq,
                            },
                            resume_at: offset,
                        }));
                    }
                }
                Err((seq, damage)) => {
                    self.pos = self.resync_after(offset);
                    return Some(Err(StreamError {
                        offset,
                        seq,
                        damage,
                        resume_at: self.pos,
                    }));
                }
            }
        }
    }
}

impl<'a> TraceReader<'a> {
    /// Decodes the record at `at` in `chunk`'s payload.
    fn next_record(&mut self, chunk: Chunk<'a>, at: usize) -> Result<Entry<'a>, StreamError> {
        let offset = chunk.offset + CHUNK_HEADER_BYTES + at;
        match Record::decode_version(&chunk.payload[at..], chunk.version) {
            Ok((record, used)) => {
                self.current = Some((chunk, at + used));
                Ok(Entry {
                    seq: chunk.seq,
                    version: chunk.version,
                    offset,
                    record,
                })
            }
            Err(error) => {
                self.current = None;
                Err(StreamError {
                    offset: chunk.offset,
                    seq: Some(chunk.seq),
                    damage: Damage::BadRecord { at: offset, error },
                    resume_at: self.pos,
                })
            }
        }
    }
}
