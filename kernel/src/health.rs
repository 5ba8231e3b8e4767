//! The one-line health summary the default job prints before powering off.
//!
//! One definition for both sides: the kernel formats it with [`fmt::Display`], the host tests
//! read it back with [`HealthSummary::parse`] and check the numbers, so the line's format can
//! change in one place.

use core::fmt;

/// Prefix of the summary line on the console.
pub const PREFIX: &str = "health:";

/// What the kernel measured during the default job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthSummary {
    /// Timer ticks counted.
    pub ticks: u64,
    /// Configured timer rate.
    pub tick_hz: u32,
    /// Elapsed time by the TSC clock, in microseconds.
    pub elapsed_us: u64,
    /// Free physical memory at the end, in KiB.
    pub free_kib: u64,
    /// Kernel heap in use at the end, in bytes.
    pub heap_used: u64,
}

impl HealthSummary {
    /// Elapsed time implied by the tick count at the configured rate, in microseconds.
    pub fn tick_time_us(&self) -> u64 {
        self.ticks * 1_000_000 / u64::from(self.tick_hz.max(1))
    }

    /// Reads a line written by [`Display`](fmt::Display). `None` if it is not one.
    pub fn parse(line: &str) -> Option<HealthSummary> {
        let rest = line.trim().strip_prefix(PREFIX)?;
        let mut h = HealthSummary::default();
        let mut seen = 0u32;
        for field in rest.split_whitespace() {
            let (key, value) = field.split_once('=')?;
            let slot = match key {
                "ticks" => &mut h.ticks,
                "elapsed_us" => &mut h.elapsed_us,
                "free_kib" => &mut h.free_kib,
                "heap_used" => &mut h.heap_used,
                "hz" => {
                    h.tick_hz = value.parse().ok()?;
                    seen |= 1;
                    continue;
                }
                _ => return None,
            };
            *slot = value.parse().ok()?;
            seen |= 2;
        }
        (seen == 3).then_some(h)
    }
}

impl fmt::Display for HealthSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} ticks={} hz={} elapsed_us={} free_kib={} heap_used={}",
            self.ticks, self.tick_hz, self.elapsed_us, self.free_kib, self.heap_used
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_agree() {
        let h = HealthSummary {
            ticks: 300,
            tick_hz: 1000,
            elapsed_us: 300_120,
            free_kib: 1234,
            heap_used: 99,
        };
        assert_eq!(HealthSummary::parse(&h.to_string()), Some(h));
        assert_eq!(h.tick_time_us(), 300_000);
        assert_eq!(HealthSummary::parse("health: ticks=x hz=1"), None);
        assert_eq!(HealthSummary::parse("banner"), None);
    }
}
