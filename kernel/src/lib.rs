//! The Augur kernel.
//!
//! Augur is a bare-metal x86_64 research kernel whose scheduler, page allocator and block
//! cache consult an embedded int8 model on every timer tick (DESIGN.md §1, §4). This crate
//! holds both halves of the kernel:
//!
//! - **portable logic** ([`mm::buddy`], [`bootcfg`], [`exit`], [`health`]): safe, `no_std`,
//!   compiled and unit-tested natively on the host;
//! - **hardware glue** (`arch::x86_64`, the entry point, the in-kernel tests): compiled only for
//!   the `x86_64-unknown-none` target, where all of the crate's `unsafe` lives.
//!
//! The host tools (`qemu/`, `weights/`, the `augur` CLI) link the portable half, so a boot
//! setting, an exit code or an allocator invariant is defined exactly once.
//!
//! # Notes
//! Kernel threads and interrupt handlers never touch SIMD state; only the inference runtime's
//! short SIMD sections do (DESIGN.md §3).

#![cfg_attr(not(test), no_std)]
#![cfg_attr(target_os = "none", feature(abi_x86_interrupt))]

extern crate alloc;
// The host half (tests, archive writer) may use std even though the crate is `no_std`.
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod bootcfg;
pub mod exit;
pub mod health;
pub mod learn;
pub mod mm;
pub mod sched;
pub mod telemetry;
pub mod tick;
pub mod trace;
pub mod workload;

#[cfg(target_os = "none")]
pub mod arch;
#[cfg(target_os = "none")]
pub mod kmain;
#[cfg(target_os = "none")]
pub mod ktest;
#[cfg(target_os = "none")]
#[macro_use]
pub mod log;
#[cfg(target_os = "none")]
pub mod model;
#[cfg(target_os = "none")]
pub mod task;
#[cfg(target_os = "none")]
pub mod time;

/// The kernel's version, shown in the boot banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the bootloader loads the (position-independent) kernel image. Fixed, so a debugger
/// can place the symbols: `add-symbol-file KERNEL -o KERNEL_BASE` (the `qemu` runner's
/// `--gdb` prints the exact command).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;
