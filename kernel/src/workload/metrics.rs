//! Scheduling metrics of one workload run, and the one-line form the kernel prints and the
//! host parses (`metrics:` line), like [`crate::health`].
//!
//! Per task (OSTEP ch. 7): **turnaround** = exit − arrival, **response** = first run −
//! arrival, **wait** = time runnable but not running. A run reports mean, p50 and p99 of each,
//! in ticks, over the tasks that finished; unfinished tasks are counted separately.

use crate::learn::FallbackReason;
use alloc::vec::Vec;
use core::fmt;

/// Prefix of the metrics line on the console.
pub const PREFIX: &str = "metrics:";

/// Mean, median and 99th percentile of a sample (nearest-rank percentiles), in ticks; the
/// mean is kept in hundredths of a tick so small differences show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spread {
    /// Mean × 100.
    pub mean_centi: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
}

impl Spread {
    /// The spread of `values` (all zero for none).
    pub fn of(values: &[u64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let mut sorted: Vec<u64> = values.to_vec();
        sorted.sort_unstable();
        let rank = |p: usize| sorted[(sorted.len() * p).div_ceil(100).max(1) - 1];
        Spread {
            // In u128 and clamped: values decoded from a trace can be anything (an exit at
            // tick u64::MAX), and a wrapped sum would print a small, wrong mean.
            mean_centi: u64::try_from(
                sorted.iter().map(|&v| u128::from(v)).sum::<u128>() * 100 / sorted.len() as u128,
            )
            .unwrap_or(u64::MAX),
            p50: rank(50),
            p99: rank(99),
        }
    }

    /// The mean in ticks.
    pub fn mean(&self) -> f64 {
        self.mean_centi as f64 / 100.0
    }
}

/// One task's outcome, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskOutcome {
    /// Exit − arrival.
    pub turnaround: u64,
    /// First run − arrival.
    pub response: u64,
    /// Ticks runnable but not running.
    pub wait: u64,
}

/// What a workload run measured. Field names are the keys of the `metrics:` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunMetrics {
    /// Jobs in the workload.
    pub jobs: u64,
    /// Jobs that finished within the run.
    pub finished: u64,
    /// Ticks the run lasted.
    pub ticks: u64,
    /// Timer rate.
    pub hz: u64,
    /// Turnaround over finished jobs.
    pub turnaround: Spread,
    /// Response over jobs that ran.
    pub response: Spread,
    /// Waiting time over finished jobs.
    pub wait: Spread,
    /// Scheduling decisions with at least one candidate (learned policy; 0 otherwise).
    pub decisions: u64,
    /// Fallbacks by reason, in `learn::FallbackReason::ALL` order.
    pub fallbacks: [u64; FallbackReason::ALL.len()],
    /// Learned decisions made by the first-tick rule (a newcomer's first tick).
    pub first_ticks: u64,
    /// Mean nanoseconds (instructions under `-icount shift=0`) per inference.
    pub inference_ns: u64,
    /// Mean nanoseconds of a tick's pipeline work.
    pub tick_ns: u64,
}

impl RunMetrics {
    /// Fallbacks counted for `reason`.
    pub fn fallbacks_for(&self, reason: FallbackReason) -> u64 {
        self.fallbacks[usize::from(reason.code() - 1)]
    }

    /// Fills the three spreads from per-task outcomes of finished tasks.
    pub fn set_outcomes(&mut self, outcomes: &[TaskOutcome]) {
        let pick = |f: fn(&TaskOutcome) -> u64| outcomes.iter().map(f).collect::<Vec<_>>();
        self.turnaround = Spread::of(&pick(|o| o.turnaround));
        self.response = Spread::of(&pick(|o| o.response));
        self.wait = Spread::of(&pick(|o| o.wait));
        self.finished = outcomes.len() as u64;
    }

    /// Reads a line written by [`Display`](fmt::Display); `None` if it is not one.
    pub fn parse(line: &str) -> Option<RunMetrics> {
        /// Keys of the line: 17 counters and one per fallback reason.
        const METRICS_KEYS: usize = 17 + FallbackReason::ALL.len();
        let rest = line.trim().strip_prefix(PREFIX)?;
        let mut m = RunMetrics::default();
        let mut seen = 0usize;
        for field in rest.split_whitespace() {
            let (key, value) = field.split_once('=')?;
            let v: u64 = value.parse().ok()?;
            let slot = match key {
                "jobs" => &mut m.jobs,
                "finished" => &mut m.finished,
                "ticks" => &mut m.ticks,
                "hz" => &mut m.hz,
                "turnaround_mean_centi" => &mut m.turnaround.mean_centi,
                "turnaround_p50" => &mut m.turnaround.p50,
                "turnaround_p99" => &mut m.turnaround.p99,
                "response_mean_centi" => &mut m.response.mean_centi,
                "response_p50" => &mut m.response.p50,
                "response_p99" => &mut m.response.p99,
                "wait_mean_centi" => &mut m.wait.mean_centi,
                "wait_p50" => &mut m.wait.p50,
                "wait_p99" => &mut m.wait.p99,
                "decisions" => &mut m.decisions,
                "first_ticks" => &mut m.first_ticks,
                "fb_no_weights" => &mut m.fallbacks[0],
                "fb_schema" => &mut m.fallbacks[1],
                "fb_budget" => &mut m.fallbacks[2],
                "fb_regret" => &mut m.fallbacks[3],
                "fb_bad_output" => &mut m.fallbacks[4],
                "fb_integrity" => &mut m.fallbacks[5],
                "inference_ns" => &mut m.inference_ns,
                "tick_ns" => &mut m.tick_ns,
                _ => return None,
            };
            *slot = v;
            seen += 1;
        }
        // Every key above, once: a line missing one is not a metrics line.
        (seen == METRICS_KEYS).then_some(m)
    }
}

impl fmt::Display for RunMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} jobs={} finished={} ticks={} hz={}",
            self.jobs, self.finished, self.ticks, self.hz
        )?;
        for (name, s) in [
            ("turnaround", &self.turnaround),
            ("response", &self.response),
            ("wait", &self.wait),
        ] {
            write!(
                f,
                " {name}_mean_centi={} {name}_p50={} {name}_p99={}",
                s.mean_centi, s.p50, s.p99
            )?;
        }
        let [a, b, c, d, e, g] = self.fallbacks;
        write!(
            f,
            " decisions={} first_ticks={} fb_no_weights={a} fb_schema={b} fb_budget={c} fb_regret={d} fb_bad_output={e} fb_integrity={g} inference_ns={} tick_ns={}",
            self.decisions, self.first_ticks, self.inference_ns, self.tick_ns
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_uses_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        let s = Spread::of(&v);
        assert_eq!((s.mean_centi, s.p50, s.p99), (5050, 50, 99));
        let s = Spread::of(&[7]);
        assert_eq!((s.mean_centi, s.p50, s.p99), (700, 7, 7));
        assert_eq!(Spread::of(&[]), Spread::default());
        let s = Spread::of(&[10, 1, 1000]);
        assert_eq!((s.p50, s.p99), (10, 1000));
    }

    #[test]
    fn spread_of_huge_values_does_not_wrap() {
        // Two u64::MAX values: the true mean is u64::MAX ticks, in hundredths far more.
        let s = Spread::of(&[u64::MAX, u64::MAX]);
        assert_eq!((s.mean_centi, s.p50), (u64::MAX, u64::MAX));
        // Mean of MAX and 1 is just under 2^63 ticks; in hundredths it saturates too.
        assert_eq!(Spread::of(&[u64::MAX, 1]).mean_centi, u64::MAX);
        // Sum × 100 = 3·10¹⁹ is past u64::MAX (1.8·10¹⁹), the mean in hundredths is not.
        let v = 150_000_000_000_000_000u64;
        assert_eq!(Spread::of(&[v, v, 0, 0]).mean_centi, v * 50);
    }

    #[test]
    fn display_and_parse_agree() {
        let mut m = RunMetrics {
            jobs: 12,
            ticks: 5000,
            hz: 1000,
            decisions: 4000,
            first_ticks: 12,
            fallbacks: [0, 0, 3, 17, 0, 1],
            inference_ns: 5120,
            tick_ns: 9000,
            ..RunMetrics::default()
        };
        m.set_outcomes(&[
            TaskOutcome {
                turnaround: 30,
                response: 2,
                wait: 5,
            },
            TaskOutcome {
                turnaround: 90,
                response: 0,
                wait: 60,
            },
        ]);
        let line = m.to_string();
        assert_eq!(RunMetrics::parse(&line), Some(m), "{line}");
        assert_eq!(RunMetrics::parse("metrics: jobs=1"), None);
        assert_eq!(RunMetrics::parse("health: ticks=1"), None);
    }
}
