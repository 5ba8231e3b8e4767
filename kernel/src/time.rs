//! Kernel time: the tick counter (advanced by the LAPIC timer interrupt) and a nanosecond
//! clock read from the TSC, calibrated against the PIT at boot.
//!
//! Under QEMU with `-icount shift=0,sleep=off` both clocks count guest instructions, so two
//! runs of the same image see the same ticks at the same instructions (DESIGN.md §3).

use crate::arch::x86_64::cpu::rdtsc;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

static TICKS: AtomicU64 = AtomicU64::new(0);
static TICK_HZ: AtomicU32 = AtomicU32::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);

/// Records the measured clocks. Called once the timer is calibrated.
pub fn init(tick_hz: u32, tsc_hz: u64) {
    TICK_HZ.store(tick_hz, Ordering::Relaxed);
    TSC_HZ.store(tsc_hz.max(1), Ordering::Relaxed);
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
}

/// Called by the timer interrupt handler, once per tick.
pub fn on_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Timer ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The configured timer rate.
pub fn tick_hz() -> u32 {
    TICK_HZ.load(Ordering::Relaxed)
}

/// Nanoseconds since [`init`], by the TSC. Monotonic on CPUs with an invariant TSC.
pub fn now_ns() -> u64 {
    let elapsed = rdtsc().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    (u128::from(elapsed) * 1_000_000_000 / u128::from(TSC_HZ.load(Ordering::Relaxed).max(1))) as u64
}

/// Nanoseconds that `cycles` TSC cycles take.
pub fn cycles_to_ns(cycles: u64) -> u64 {
    (u128::from(cycles) * 1_000_000_000 / u128::from(TSC_HZ.load(Ordering::Relaxed).max(1))) as u64
}

/// TSC cycles in one timer tick.
pub fn tick_cycles() -> u64 {
    TSC_HZ.load(Ordering::Relaxed) / u64::from(TICK_HZ.load(Ordering::Relaxed).max(1))
}

/// Halts until `n` more ticks have passed. Interrupts must be enabled.
pub fn wait_ticks(n: u64) {
    let target = ticks() + n;
    while ticks() < target {
        x86_64::instructions::hlt();
    }
}
