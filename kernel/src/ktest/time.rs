//! In-kernel tests of the clocks: the tick rate against the PIT, and `now_ns` against ticks.

use super::{KTest, ktest_assert};
use crate::arch::x86_64::pit;
use crate::time;
use alloc::string::String;

pub static TESTS: &[KTest] = &[
    KTest {
        name: "time::tick_rate_matches_pit",
        run: tick_rate_matches_pit,
    },
    KTest {
        name: "time::now_is_monotonic_and_tracks_ticks",
        run: now_is_monotonic_and_tracks_ticks,
    },
];

/// Length of the measurement, in PIT windows of 50 ms.
const WINDOWS: u64 = 4;
const WINDOW_US: u64 = 50_000;
/// Allowed deviation of the tick count, in percent (plus one tick of phase).
const TOLERANCE_PERCENT: u64 = 2;

fn tick_rate_matches_pit() -> Result<(), String> {
    let start = time::ticks();
    for _ in 0..WINDOWS {
        pit::time_interval(WINDOW_US, || {}, || {});
    }
    let counted = time::ticks() - start;
    let expected = u64::from(time::tick_hz()) * WINDOWS * WINDOW_US / 1_000_000;
    let slack = expected * TOLERANCE_PERCENT / 100 + 1;
    ktest_assert!(
        counted.abs_diff(expected) <= slack,
        "{counted} ticks in {} ms by the PIT, expected {expected} ± {slack}",
        WINDOWS * WINDOW_US / 1000
    );
    Ok(())
}

fn now_is_monotonic_and_tracks_ticks() -> Result<(), String> {
    let (t0, n0) = (time::ticks(), time::now_ns());
    let mut last = n0;
    for _ in 0..1000 {
        let n = time::now_ns();
        ktest_assert!(n >= last, "now_ns went backwards: {last} -> {n}");
        last = n;
    }
    time::wait_ticks(20);
    let (t1, n1) = (time::ticks(), time::now_ns());
    let by_ticks = (t1 - t0) * 1_000_000_000 / u64::from(time::tick_hz());
    let by_tsc = n1 - n0;
    let slack = by_ticks / 20 + 2_000_000_000 / u64::from(time::tick_hz());
    ktest_assert!(
        by_tsc.abs_diff(by_ticks) <= slack,
        "TSC says {by_tsc} ns, ticks say {by_ticks} ns"
    );
    Ok(())
}
