//! 16550 UARTs: COM1 is the console, COM2 the trace channel (DESIGN.md §4).
//!
//! Every write takes the port's lock with interrupts disabled, so an interrupt handler that
//! prints cannot deadlock on a lock held by the code it interrupted (blog_os's rule). The
//! fatal paths (panic, exceptions) use [`emergency_console`], which bypasses the lock: when
//! the kernel is stopping, a garbled line beats a deadlocked one.

use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::SerialPort;
use x86_64::instructions::interrupts::without_interrupts;

/// I/O base of COM1, the console.
pub const COM1_BASE: u16 = 0x3f8;
/// I/O base of COM2, the trace channel.
pub const COM2_BASE: u16 = 0x2f8;

static CONSOLE: Mutex<Option<SerialPort>> = Mutex::new(None);
static TRACE: Mutex<Option<SerialPort>> = Mutex::new(None);

/// Initialises both UARTs (115200 8N1, FIFOs on). Call once, first thing at boot.
pub fn init() {
    for (lock, base) in [(&CONSOLE, COM1_BASE), (&TRACE, COM2_BASE)] {
        // SAFETY: COM1/COM2 at their standard I/O bases are present on every PC-compatible
        // machine QEMU emulates, and only this module touches these ports.
        let mut port = unsafe { SerialPort::new(base) };
        port.init();
        *lock.lock() = Some(port);
    }
}

/// Writes formatted text to the console.
pub fn console_write(args: fmt::Arguments<'_>) {
    without_interrupts(|| {
        if let Some(port) = CONSOLE.lock().as_mut() {
            // A UART write cannot fail; ignore the fmt::Error a Display impl might return.
            let _ = port.write_fmt(args);
        }
    });
}

/// Writes raw bytes to the trace channel (COM2).
pub fn trace_write(bytes: &[u8]) {
    without_interrupts(|| {
        if let Some(port) = TRACE.lock().as_mut() {
            for &b in bytes {
                port.send_raw(b);
            }
        }
    });
}

/// A console writer that takes no lock, for the panic and exception paths only.
pub fn emergency_console() -> impl Write {
    // SAFETY: COM1 exists (see `init`); this is used only when the kernel is about to stop,
    // so at worst its output interleaves with a write that was interrupted mid-line.
    unsafe { SerialPort::new(COM1_BASE) }
}
