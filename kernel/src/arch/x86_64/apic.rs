//! The local APIC timer (the tick source) and the legacy 8259 PICs (masked).
//!
//! The LAPIC timer runs in periodic mode on [`TIMER_VECTOR`]. Its input clock differs between
//! machines, so [`init`] measures it, and the TSC, against the PIT over [`CALIBRATION_US`]
//! (Intel SDM vol. 3A §11.5.4; OSDev wiki "APIC timer"). The legacy PICs are remapped away
//! from the exception vectors and fully masked, so every interrupt comes from the LAPIC.

use crate::arch::x86_64::pit;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

/// Interrupt vector of the timer tick.
pub const TIMER_VECTOR: u8 = 32;
/// Interrupt vector the LAPIC uses for spurious interrupts.
pub const SPURIOUS_VECTOR: u8 = 0xff;
/// How long the PIT calibration window is.
pub const CALIBRATION_US: u64 = 20_000;

const IA32_APIC_BASE_MSR: u32 = 0x1b;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

// Register offsets (SDM vol. 3A table 11-1).
const REG_ID: usize = 0x20;
const REG_EOI: usize = 0xb0;
const REG_SPURIOUS: usize = 0xf0;
const REG_LVT_TIMER: usize = 0x320;
const REG_TIMER_INITIAL: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;

const SPURIOUS_APIC_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const LVT_TIMER_PERIODIC: u32 = 1 << 17;
/// Divide configuration value for "divide by 16".
const DIVIDE_BY_16: u32 = 0b0011;

/// Virtual address of the mapped LAPIC registers (0 until `init`).
static LAPIC_BASE: AtomicU64 = AtomicU64::new(0);

/// The measured clocks, reported in the banner.
#[derive(Clone, Copy, Debug)]
pub struct TimerCalibration {
    /// LAPIC timer input clock after the divider, in Hz.
    pub lapic_hz: u64,
    /// TSC rate, in Hz.
    pub tsc_hz: u64,
    /// The periodic timer's initial count.
    pub initial_count: u32,
}

/// Physical address of the LAPIC registers, from IA32_APIC_BASE.
pub fn physical_base() -> u64 {
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU (all have a local APIC).
    unsafe { Msr::new(IA32_APIC_BASE_MSR).read() & APIC_BASE_ADDR_MASK }
}

fn read(reg: usize) -> u32 {
    let base = LAPIC_BASE.load(Ordering::Relaxed);
    debug_assert_ne!(base, 0, "LAPIC used before init");
    // SAFETY: `base` maps the 4 KiB LAPIC register page uncached (set in `init`), and `reg`
    // is one of the 16-byte-aligned register offsets above.
    unsafe { core::ptr::read_volatile((base as usize + reg) as *const u32) }
}

fn write(reg: usize, value: u32) {
    let base = LAPIC_BASE.load(Ordering::Relaxed);
    debug_assert_ne!(base, 0, "LAPIC used before init");
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((base as usize + reg) as *mut u32, value) }
}

/// Remaps the legacy PICs to vectors 0x20..0x30 and masks every line.
fn disable_legacy_pic() {
    let mut cmd1 = Port::<u8>::new(0x20);
    let mut data1 = Port::<u8>::new(0x21);
    let mut cmd2 = Port::<u8>::new(0xa0);
    let mut data2 = Port::<u8>::new(0xa1);
    // SAFETY: the standard 8259 initialisation sequence (ICW1..ICW4) on the PICs' fixed
    // ports, then a full mask; nothing else in the kernel uses the PICs.
    unsafe {
        cmd1.write(0x11);
        cmd2.write(0x11);
        data1.write(0x20);
        data2.write(0x28);
        data1.write(4);
        data2.write(2);
        data1.write(0x01);
        data2.write(0x01);
        data1.write(0xff);
        data2.write(0xff);
    }
}

/// Masks the PICs, enables the LAPIC mapped at `lapic_virt`, calibrates its timer and the
/// TSC against the PIT, and starts the periodic tick at `tick_hz`. Interrupts must be off.
pub fn init(lapic_virt: u64, tick_hz: u32) -> TimerCalibration {
    disable_legacy_pic();
    // SAFETY: setting the global-enable bit of IA32_APIC_BASE keeps the base address.
    unsafe {
        let mut msr = Msr::new(IA32_APIC_BASE_MSR);
        let v = msr.read();
        msr.write(v | APIC_BASE_ENABLE);
    }
    LAPIC_BASE.store(lapic_virt, Ordering::Relaxed);
    write(
        REG_SPURIOUS,
        SPURIOUS_APIC_ENABLE | u32::from(SPURIOUS_VECTOR),
    );

    // One-shot, masked, counting down from the maximum while the PIT times the window.
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    let mut tsc_start = 0;
    let (lapic_left, tsc_end) = pit::time_interval(
        CALIBRATION_US,
        || {
            write(REG_TIMER_INITIAL, u32::MAX);
            tsc_start = super::cpu::rdtsc();
        },
        || (read(REG_TIMER_CURRENT), super::cpu::rdtsc()),
    );
    let lapic_counted = u64::from(u32::MAX - lapic_left);
    let lapic_hz = lapic_counted * 1_000_000 / CALIBRATION_US;
    let tsc_hz = (tsc_end - tsc_start) * 1_000_000 / CALIBRATION_US;
    let initial_count = (lapic_hz / u64::from(tick_hz)).clamp(1, u64::from(u32::MAX)) as u32;

    write(REG_TIMER_INITIAL, 0);
    write(REG_LVT_TIMER, LVT_TIMER_PERIODIC | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, initial_count);
    TimerCalibration {
        lapic_hz,
        tsc_hz,
        initial_count,
    }
}

/// Signals end of interrupt to the LAPIC. Called by every LAPIC interrupt handler.
pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

/// This CPU's LAPIC id.
pub fn id() -> u32 {
    read(REG_ID) >> 24
}
