//! The kernel's trace channel: records go into one bounded [`TraceRing`] from any context
//! (interrupts off, never blocking, drops counted), and [`flush`] drains it as framed chunks
//! to COM2, which the host runner writes to the `--trace` file.
//!
//! The format is `crate::trace` (spec: `kernel/src/trace/FORMAT.md`); the host decodes it with
//! the same code.

use crate::arch::x86_64::serial;
use crate::trace::{MIN_DRAIN_BUFFER, Record, TraceRing};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Bytes of trace the kernel buffers between flushes.
pub const TRACE_RING_BYTES: usize = 64 * 1024;

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

/// Drains every buffered record to COM2 as chunks. Call from thread context.
pub fn flush() {
    let mut chunk = [0u8; MIN_DRAIN_BUFFER];
    loop {
        let n = without_interrupts(|| RING.lock().drain_chunk(&mut chunk));
        match n {
            Ok(0) => break,
            Ok(n) => serial::trace_write(&chunk[..n]),
            // Cannot happen with a MIN_DRAIN_BUFFER-sized buffer; stop rather than spin.
            Err(_) => break,
        }
    }
}
