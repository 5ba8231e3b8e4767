//! The kernel's trace channel: records go into one bounded [`TraceRing`] from any context
//! (interrupts off, never blocking, drops counted), and [`flush`] drains it as framed chunks
//! to COM2, which the host runner writes to the `--trace` file. [`finish`] closes the trace
//! when the kernel's job ends: the end record, then every chunk out.
//!
//! The format is `crate::trace` (spec: `kernel/src/trace/FORMAT.md`); the host decodes it with
//! the same code.

use crate::arch::x86_64::serial;
use crate::trace::{MIN_DRAIN_BUFFER, PushError, Record, TraceRing};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Bytes of trace the kernel buffers between drains: about 20 s of a busy workload, so the
/// tick rarely has to drain (see [`drain_on_tick`]).
pub const TRACE_RING_BYTES: usize = 4 * 1024 * 1024;

static RING: Mutex<TraceRing<TRACE_RING_BYTES>> = Mutex::new(TraceRing::new());

/// Appends a record; if the ring is full it is dropped and counted, never waited for.
pub fn record(record: &Record<'_>) {
    without_interrupts(|| {
        // A full ring counts the drop itself and reports it in the stream.
        let _ = RING.lock().push(record);
    });
}

/// Records dropped because the ring was full, since boot.
pub fn dropped() -> u64 {
    without_interrupts(|| RING.lock().dropped_total())
}

/// Bytes of trace one tick may drain to COM2 (one chunk): 4 KiB per 1 ms tick is about
/// 10x what a busy workload writes, and bounds the tick's serial work.
const TICK_DRAIN_BYTES: usize = 4096;

// A chunk this size always holds the largest record, so a drain always makes progress.
const _: () = assert!(TICK_DRAIN_BYTES >= MIN_DRAIN_BUFFER);

static DRAIN_BUFFER: Mutex<[u8; TICK_DRAIN_BYTES]> = Mutex::new([0; TICK_DRAIN_BYTES]);

/// The tick pipeline's drain: one chunk, only once the ring is more than half full.
///
/// Writing to the UART is one port write (one VM exit, under QEMU one host `write`) per
/// byte, far slower than anything else the tick does; so the ring absorbs the trace, the idle
/// thread drains it when the CPU has nothing better to do, and the tick only drains when the
/// ring is filling up, so that records are dropped only when the system is busy for a long
/// time and the tick's cost stays bounded.
pub fn drain_on_tick() {
    let half_full = RING
        .try_lock()
        .is_some_and(|ring| ring.len() > TRACE_RING_BYTES / 2);
    if half_full {
        drain_one_chunk();
    }
}

/// Drains at most one chunk to COM2 (interrupts off); never waits for a lock, so a caller
/// that finds the ring or the buffer busy simply skips.
/// Returns whether it wrote anything.
pub fn drain_one_chunk() -> bool {
    let Some(mut buf) = DRAIN_BUFFER.try_lock() else {
        return false;
    };
    let n = match RING.try_lock() {
        Some(mut ring) => ring.drain_chunk(&mut buf[..]),
        None => return false,
    };
    match n {
        Ok(n @ 1..) => {
            serial::trace_write(&buf[..n]);
            true
        }
        _ => false,
    }
}

/// Drains every buffered record to COM2 as chunks. Call from thread context.
pub fn flush() {
    // Each chunk is drained and written with interrupts off, so a tick's drain cannot put a
    // later chunk on the wire before this one; with them off nothing else holds the locks.
    while without_interrupts(drain_one_chunk) {}
}

/// Ends the trace: drains what is buffered, appends the end record (the tick, records written
/// and dropped) and drains again, so the file ends with it and a reader can tell a complete
/// trace from a cut one. Records pushed afterwards (ticks still run until power-off) are
/// refused by the closed ring. Call once, from thread context, when the job is over.
pub fn finish() {
    flush();
    loop {
        let closed = without_interrupts(|| RING.lock().close(crate::time::ticks()));
        match closed {
            // Full only if ticks refilled the ring since the flush: drain a chunk and retry.
            Err(PushError::Full) => {
                if !without_interrupts(drain_one_chunk) {
                    break;
                }
            }
            Ok(()) | Err(_) => break,
        }
    }
    flush();
}
