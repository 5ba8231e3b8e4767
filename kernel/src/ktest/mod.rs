//! In-kernel tests: checks that need the real machine (page tables, interrupts, the timer,
//! the memory map), run inside QEMU by the `ktest` job.
//!
//! Tests are registered in one static list ([`TESTS`]), as Asterinas's `#[ktest]` and
//! bootloader 0.11's own `tests/` do, rather than with `custom_test_frameworks` (which does
//! not fit a kernel built as an artifact). Output follows Rust's test format so a machine can
//! read it: one `test NAME ... ok|FAILED` line each, then
//! `test result: ok. N passed; M failed`. A failing test returns an error message; the run
//! goes on to the next test and the kernel exits with failure at the end.

use alloc::string::String;

mod cpu;
mod interrupts;
mod mm;
mod model;
mod task;
mod time;

/// One in-kernel test.
pub struct KTest {
    /// `module::name`, matched by the `ktest` boot-setting filter.
    pub name: &'static str,
    pub run: fn() -> Result<(), String>,
}

/// Fails the current in-kernel test with a formatted message unless `cond` holds.
macro_rules! ktest_assert {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(alloc::format!($($arg)+));
        }
    };
}
pub(crate) use ktest_assert;

/// Every in-kernel test.
pub static TESTS: &[&[KTest]] = &[
    cpu::TESTS,
    interrupts::TESTS,
    mm::TESTS,
    model::TESTS,
    task::TESTS,
    time::TESTS,
];

/// Runs the tests whose name contains `filter`; returns whether all passed.
pub fn run(filter: &str) -> bool {
    let selected = || {
        TESTS
            .iter()
            .flat_map(|t| t.iter())
            .filter(|t| t.name.contains(filter))
    };
    let count = selected().count();
    crate::kprintln!("running {count} in-kernel tests");
    let (mut passed, mut failed) = (0, 0);
    for test in selected() {
        crate::kprint!("test {} ... ", test.name);
        match (test.run)() {
            Ok(()) => {
                passed += 1;
                crate::kprintln!("ok");
            }
            Err(message) => {
                failed += 1;
                crate::kprintln!("FAILED\n    {message}");
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    crate::kprintln!("test result: {verdict}. {passed} passed; {failed} failed");
    failed == 0
}
