//! The trace ring: a fixed-capacity byte ring the tick path appends records to.
//!
//! [`TraceRing::push`] never blocks, never allocates and never overwrites bytes that were not
//! drained: a record that does not fit is **dropped and counted**. The loss is written into the
//! stream as a [`Record::Dropped`] marker at the exact place it happened — in front of the next
//! record that fits (marker and record are appended together, or both dropped), or at the end of
//! the chunk that empties the ring — so a reader knows which records are not contiguous.
//!
//! When the job is over, [`TraceRing::close`] appends the [`Record::End`] record (with the
//! counts of records written and dropped) and closes the ring: later pushes are refused, so
//! the end record is the last one in the stream.
//!
//! [`TraceRing::drain_chunk`] moves as many whole records as fit into one framed chunk
//! (`chunk.rs`), numbering chunks 0, 1, 2, … The ring holds no lock; the kernel wraps it in one
//! that the timer handler can take (interrupts off while draining).

use super::chunk::{CHUNK_HEADER_BYTES, ChunkError, MAX_CHUNK_PAYLOAD, seal_chunk};
use super::record::{EncodeError, MAX_RECORD_BYTES, RECORD_HEADER_BYTES, Record, Sink};

/// Why [`TraceRing::push`] did not append a record. Either way the record is counted dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// Not enough free space (the drain is behind).
    Full,
    /// The record itself is invalid (a limit exceeded): a bug in the caller.
    Invalid(EncodeError),
    /// The ring is closed: the end record is written, the trace is over. Not counted as
    /// dropped (nothing after the end belongs to the job).
    Closed,
}

/// A ring of `BYTES` bytes of encoded records.
#[derive(Debug, Clone)]
pub struct TraceRing<const BYTES: usize> {
    buf: [u8; BYTES],
    /// Index of the oldest undrained byte.
    head: usize,
    /// Undrained bytes.
    len: usize,
    /// Records dropped and not yet reported by a marker.
    pending_dropped: u64,
    /// Records dropped since the ring was created.
    dropped_total: u64,
    /// Records appended since the ring was created (not counting drop markers).
    written_total: u64,
    /// Whether the end record is in: no more pushes.
    closed: bool,
    /// Sequence number of the next chunk.
    next_seq: u32,
}

impl<const BYTES: usize> Default for TraceRing<BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

/// A [`Sink`] writing at the ring's tail, wrapping at the end of the buffer.
struct RingSink<'r> {
    buf: &'r mut [u8],
    at: usize,
}

impl Sink for RingSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let first = bytes.len().min(self.buf.len() - self.at);
        self.buf[self.at..self.at + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.at = (self.at + bytes.len()) % self.buf.len();
    }
}

/// Encoded size of a [`Record::Dropped`] marker, which `push` and `drain_chunk` reserve.
pub const DROPPED_MARKER_BYTES: usize = RECORD_HEADER_BYTES + 8;

/// Encoded size of the [`Record::End`] record.
pub const END_RECORD_BYTES: usize = RECORD_HEADER_BYTES + 24;

/// A drain buffer at least this long always makes progress (holds the largest record).
pub const MIN_DRAIN_BUFFER: usize = CHUNK_HEADER_BYTES + MAX_RECORD_BYTES;

impl<const BYTES: usize> TraceRing<BYTES> {
    /// An empty ring (usable in a `static`).
    pub const fn new() -> Self {
        TraceRing {
            buf: [0; BYTES],
            head: 0,
            len: 0,
            pending_dropped: 0,
            dropped_total: 0,
            written_total: 0,
            closed: false,
            next_seq: 0,
        }
    }

    /// Undrained bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting to be drained (records or a drop marker).
    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.pending_dropped == 0
    }

    /// Free bytes.
    pub fn free(&self) -> usize {
        BYTES - self.len
    }

    /// Records dropped since the ring was created.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Records appended since the ring was created (drop markers, the ring's own or pushed,
    /// and the end record not counted): what the end record reports as written.
    pub fn written_total(&self) -> u64 {
        self.written_total
    }

    /// Whether [`TraceRing::close`] has written the end record.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Records dropped that no marker in the ring or a drained chunk reports yet.
    pub fn pending_dropped(&self) -> u64 {
        self.pending_dropped
    }

    /// The sequence number the next chunk will carry.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    fn drop_one(&mut self) {
        // Saturating: a counter that wrapped would report fewer losses than happened.
        self.pending_dropped = self.pending_dropped.saturating_add(1);
        self.dropped_total = self.dropped_total.saturating_add(1);
    }

    fn append(&mut self, record: &Record<'_>, len: usize) {
        let at = (self.head + self.len) % BYTES;
        record.emit_checked(
            len,
            &mut RingSink {
                buf: &mut self.buf,
                at,
            },
        );
        self.len += len;
    }

    /// Appends `record`, or drops and counts it. Never blocks, never allocates.
    pub fn push(&mut self, record: &Record<'_>) -> Result<(), PushError> {
        if self.closed {
            return Err(PushError::Closed);
        }
        self.push_open(record)?;
        // A marker the caller wrote (the host's tools may) is no record of the job.
        if !matches!(record, Record::Dropped { .. }) {
            self.written_total = self.written_total.saturating_add(1);
        }
        Ok(())
    }

    /// Appends the end record — tick `tick`, the records written and dropped so far — and
    /// closes the ring. `Full` when there is no room (drain and call again); closing a closed
    /// ring is `Closed`.
    pub fn close(&mut self, tick: u64) -> Result<(), PushError> {
        if self.closed {
            return Err(PushError::Closed);
        }
        let end = Record::End {
            tick,
            records: self.written_total,
            dropped: self.dropped_total,
        };
        let marker = if self.pending_dropped > 0 {
            DROPPED_MARKER_BYTES
        } else {
            0
        };
        // END_RECORD_BYTES plus any marker: the end record must not be dropped (a trace
        // without it reads as cut), so refuse without counting and let the caller drain.
        if marker + END_RECORD_BYTES > self.free() {
            return Err(PushError::Full);
        }
        self.append_with_marker(&end, END_RECORD_BYTES);
        self.closed = true;
        Ok(())
    }

    /// [`TraceRing::push`] without the closed check and the written count.
    fn push_open(&mut self, record: &Record<'_>) -> Result<(), PushError> {
        let len = match record.encoded_len() {
            Ok(len) => len,
            Err(e) => {
                self.drop_one();
                return Err(PushError::Invalid(e));
            }
        };
        let marker = if self.pending_dropped > 0 {
            DROPPED_MARKER_BYTES
        } else {
            0
        };
        if marker + len > self.free() {
            self.drop_one();
            return Err(PushError::Full);
        }
        self.append_with_marker(record, len);
        Ok(())
    }

    /// Appends the pending drop marker (if any) and then `record` of length `len`; the caller
    /// has checked that both fit.
    fn append_with_marker(&mut self, record: &Record<'_>, len: usize) {
        if self.pending_dropped > 0 {
            let dropped = Record::Dropped {
                records: self.pending_dropped,
            };
            self.append(&dropped, DROPPED_MARKER_BYTES);
            self.pending_dropped = 0;
        }
        self.append(record, len);
    }

    fn byte(&self, i: usize) -> u8 {
        self.buf[(self.head + i) % BYTES]
    }

    /// Total length of the oldest record in the ring (the ring is not empty).
    fn front_len(&self) -> usize {
        RECORD_HEADER_BYTES + usize::from(u16::from_le_bytes([self.byte(1), self.byte(2)]))
    }

    /// Moves the oldest `n` bytes into `out`.
    fn take(&mut self, out: &mut [u8]) {
        let n = out.len();
        let first = n.min(BYTES - self.head);
        out[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
        out[first..].copy_from_slice(&self.buf[..n - first]);
        self.head = (self.head + n) % BYTES;
        self.len -= n;
    }

    /// Writes one chunk of the oldest records into `out` and returns its length, or 0 when
    /// there is nothing to drain. The chunk holds as many whole records as fit in `out` (and
    /// in [`MAX_CHUNK_PAYLOAD`]); an error when `out` cannot hold even the oldest one.
    pub fn drain_chunk(&mut self, out: &mut [u8]) -> Result<usize, ChunkError> {
        if self.is_empty() {
            return Ok(0);
        }
        let room = out
            .len()
            .saturating_sub(CHUNK_HEADER_BYTES)
            .min(MAX_CHUNK_PAYLOAD);
        if room == 0 {
            return Err(ChunkError::BufferTooSmall {
                need: MIN_DRAIN_BUFFER,
                have: out.len(),
            });
        }
        let mut used = 0;
        while self.len > 0 {
            let n = self.front_len();
            if used + n > room {
                break;
            }
            let at = CHUNK_HEADER_BYTES + used;
            self.take(&mut out[at..at + n]);
            used += n;
        }
        if self.len == 0 && self.pending_dropped > 0 {
            // Everything in the ring came before the drops: the marker closes the chunk.
            let dropped = Record::Dropped {
                records: self.pending_dropped,
            };
            let at = CHUNK_HEADER_BYTES + used;
            let end = CHUNK_HEADER_BYTES + room;
            if let Ok(n) = dropped.encode(&mut out[at..end]) {
                self.pending_dropped = 0;
                used += n;
            }
        }
        if used == 0 {
            let need = CHUNK_HEADER_BYTES
                + if self.len > 0 {
                    self.front_len()
                } else {
                    DROPPED_MARKER_BYTES
                };
            return Err(ChunkError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        Ok(seal_chunk(seq, out, used))
    }
}
