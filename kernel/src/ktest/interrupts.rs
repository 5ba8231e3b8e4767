//! In-kernel tests of interrupt delivery: an exception and an external interrupt each fire
//! and return to the interrupted code.

use super::{KTest, ktest_assert};
use crate::arch::x86_64::idt;
use alloc::string::String;
use x86_64::instructions::interrupts;

pub static TESTS: &[KTest] = &[
    KTest {
        name: "interrupts::breakpoint_returns",
        run: breakpoint_returns,
    },
    KTest {
        name: "interrupts::timer_fires_and_returns",
        run: timer_fires_and_returns,
    },
];

fn breakpoint_returns() -> Result<(), String> {
    let before = idt::breakpoints();
    let mut witness = 41u64;
    interrupts::int3();
    witness += 1;
    interrupts::int3();
    ktest_assert!(
        idt::breakpoints() == before + 2,
        "expected 2 breakpoints, saw {}",
        idt::breakpoints() - before
    );
    ktest_assert!(
        witness == 42,
        "state around the breakpoint changed: {witness}"
    );
    Ok(())
}

fn timer_fires_and_returns() -> Result<(), String> {
    ktest_assert!(interrupts::are_enabled(), "interrupts are disabled");
    let before = crate::time::ticks();
    // Work across several ticks; the loop's state must survive every interrupt.
    let mut acc = 0u64;
    let mut i = 0u64;
    while crate::time::ticks() < before + 5 {
        acc = acc.wrapping_mul(6364136223846793005).wrapping_add(i);
        i += 1;
    }
    let mut check = 0u64;
    for j in 0..i {
        check = check.wrapping_mul(6364136223846793005).wrapping_add(j);
    }
    ktest_assert!(
        acc == check,
        "computation across timer interrupts differs from a re-run"
    );
    Ok(())
}
