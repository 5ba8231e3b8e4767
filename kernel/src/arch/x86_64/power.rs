//! Stopping the machine: QEMU's isa-debug-exit device, else halt with interrupts off.

use crate::exit::{DEBUG_EXIT_PORT, ExitCode};
use x86_64::instructions::{hlt, interrupts, port::Port};

/// Ends the run with `code`. Under QEMU (with `isa-debug-exit`) the process exits with
/// `code.qemu_status()`; on real hardware the write goes nowhere and the CPU halts for good.
pub fn exit(code: ExitCode) -> ! {
    interrupts::disable();
    let mut port = Port::<u32>::new(DEBUG_EXIT_PORT);
    // SAFETY: writing to the isa-debug-exit port has no effect other than ending the QEMU
    // process; on hardware without the device, port 0xf4 is unassigned and the write is ignored.
    unsafe { port.write(code as u32) };
    halt_forever()
}

/// Halts with interrupts disabled, forever (NMIs return to the `hlt`).
pub fn halt_forever() -> ! {
    interrupts::disable();
    loop {
        hlt();
    }
}
