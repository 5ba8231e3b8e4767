//! The 8254 programmable interval timer, used only as an independent clock: it calibrates the
//! LAPIC timer and the TSC at boot, and the timer-rate test checks ticks against it.
//!
//! Channel 2 is gated by port 0x61 bit 0 and its output is readable at port 0x61 bit 5, so it
//! can time an interval by polling, with no interrupt (OSDev wiki, "APIC timer" calibration).

use x86_64::instructions::port::Port;

/// The PIT's input clock.
pub const PIT_HZ: u64 = 1_193_182;
/// Longest interval one channel-2 countdown can time (16-bit counter).
pub const MAX_WAIT_US: u64 = 0xffff * 1_000_000 / PIT_HZ;

const PORT_CHANNEL2: u16 = 0x42;
const PORT_COMMAND: u16 = 0x43;
const PORT_GATE: u16 = 0x61;
/// Channel 2, lobyte/hibyte access, mode 0 (interrupt on terminal count), binary.
const CMD_CHANNEL2_MODE0: u8 = 0b1011_0000;
const GATE_BIT: u8 = 0x01;
const SPEAKER_BIT: u8 = 0x02;
const OUT2_BIT: u8 = 0x20;
/// Spin iterations between two polls of the PIT output.
const POLL_SPIN: u32 = 256;

/// Busy-waits `us` microseconds (at most [`MAX_WAIT_US`]) by the PIT, calling `start` just
/// after the countdown starts and returning what `stop` returns just after it ends.
pub fn time_interval<T>(us: u64, start: impl FnOnce(), stop: impl FnOnce() -> T) -> T {
    let count = (PIT_HZ * us.min(MAX_WAIT_US) / 1_000_000).max(1) as u16;
    let mut gate = Port::<u8>::new(PORT_GATE);
    let mut command = Port::<u8>::new(PORT_COMMAND);
    let mut data = Port::<u8>::new(PORT_CHANNEL2);
    // SAFETY: ports 0x42/0x43/0x61 are the PIT's channel 2 and the system control port;
    // only this function programs them, with interrupts from the PIT masked at the PIC.
    unsafe {
        let g = gate.read() & !(SPEAKER_BIT | GATE_BIT);
        gate.write(g);
        command.write(CMD_CHANNEL2_MODE0);
        data.write(count as u8);
        data.write((count >> 8) as u8);
        gate.write(g | GATE_BIT);
        start();
        while gate.read() & OUT2_BIT == 0 {
            // Port reads are expensive to emulate (under `-icount` each one ends a translation
            // block), so poll sparsely: the delay costs well under a microsecond of resolution.
            // Not `pause`: QEMU's TCG leaves its execution loop on every `pause`.
            for i in 0..POLL_SPIN {
                core::hint::black_box(i);
            }
        }
        let result = stop();
        gate.write(g);
        result
    }
}
