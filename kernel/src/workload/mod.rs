//! Seeded workloads: the job lists the kernel runs as threads and the host replays.
//!
//! A [`Job`] arrives at a tick, needs some ticks of CPU and may do I/O-like waiting (after
//! every `run` ticks of CPU it blocks for `block` ticks). A [`Mix`] names a family of job
//! lists; [`generate`] draws one from a seed, with arrivals spread over the first
//! [`ARRIVAL_SPAN_PERCENT`] % of the run so that the system has time to drain. The same
//! `(mix, seed, ticks)` gives the same list on the host and in the kernel, so kernel runs,
//! host replay (the offline oracle) and training data all speak about the same jobs.
//!
//! The mixes (lengths in ticks; 1 tick = 1 ms at the default rate):
//! - `batch`: CPU-bound, heavy-tailed lengths (a discrete Pareto with tail index 1: the
//!   chance of exceeding `4·2^k` is `2^-k`, up to 1024 ticks), class batch.
//! - `interactive`: short CPU bursts (1–3 ticks) between sleeps of 5–30 ticks, class
//!   interactive.
//! - `io`: bursts of 2–8 ticks between waits of 10–50 ticks (a device's latency), class normal.
//! - `mix`: each job drawn from the three above with weights 4:4:2.
//!
//! Arrivals: each job's gap to the next is uniform in `[0, 2·work/load]`, so the offered CPU
//! load averages [`TARGET_LOAD_PERCENT`] % with bursts.

pub mod metrics;
#[cfg(target_os = "none")]
pub mod runner;

use crate::sched::{TaskClass, Tick};
use alloc::vec::Vec;

/// Offered CPU load, in percent of the CPU, while jobs arrive.
pub const TARGET_LOAD_PERCENT: u64 = 90;
/// Jobs arrive during this share of the run, in percent.
pub const ARRIVAL_SPAN_PERCENT: u64 = 60;
/// How often a workload's main thread wakes to see whether every job is done, in ticks
/// (`runner`; host emulation models the same thread).
pub const POLL_TICKS: Tick = 50;

/// When main next wakes, at `now`, in a workload that started at `start` and ends at
/// `deadline`: on the workload's own grid of [`POLL_TICKS`] (`start`, `start + POLL_TICKS`,
/// …), never past the deadline, always after `now`.
pub fn next_poll(now: Tick, start: Tick, deadline: Tick) -> Tick {
    let next = if now < start {
        start
    } else {
        start + ((now - start) / POLL_TICKS + 1) * POLL_TICKS
    };
    next.min(deadline).max(now + 1)
}
/// Most jobs one workload holds: the kernel's scheduler tables (`sched::core::SCHED_CAPACITY`) are
/// sized for it, so live tasks never exceed a policy's capacity. A longer workload is refused
/// ([`check_size`]), never cut short.
pub const MAX_JOBS: usize = 200;

/// A job's I/O pattern: after every `run` ticks of CPU (unless done) it blocks for `block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Io {
    /// CPU ticks between blocks (at least 1).
    pub run: Tick,
    /// Ticks blocked each time.
    pub block: Tick,
}

/// One job of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// Tick at which it becomes runnable.
    pub arrival: Tick,
    /// CPU ticks it needs in total (at least 1).
    pub work: Tick,
    /// Its I/O pattern, if any.
    pub io: Option<Io>,
    /// Nice value (−20 ..= 19).
    pub nice: i8,
    /// What kind of work it declares.
    pub class: TaskClass,
}

impl Job {
    /// A CPU-bound job of `work` ticks arriving at `arrival`, nice 0, class normal.
    pub const fn new(arrival: Tick, work: Tick) -> Self {
        Self {
            arrival,
            work,
            io: None,
            nice: 0,
            class: TaskClass::Normal,
        }
    }

    /// Ticks it spends blocked in total if every wait is served on time.
    pub fn total_block(&self) -> Tick {
        self.io.map_or(0, |io| (self.work - 1) / io.run * io.block)
    }
}

/// A named family of workloads. The discriminant is mixed into the seed ([`job_stream`]), so
/// it is explicit: reordering the variants must not change any job list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mix {
    /// CPU-bound, heavy-tailed lengths.
    Batch = 0,
    /// Short bursts and sleeps.
    Interactive = 1,
    /// Bursts between device-like waits.
    Io = 2,
    /// All three, 4:4:2.
    Mix = 3,
}

impl Mix {
    /// Every mix with its command-line name.
    pub const ALL: [(Mix, &'static str); 4] = [
        (Mix::Batch, "batch"),
        (Mix::Interactive, "interactive"),
        (Mix::Io, "io"),
        (Mix::Mix, "mix"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("?", |(_, n)| n)
    }

    /// The mix called `name`.
    pub fn from_name(name: &str) -> Option<Mix> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same on every target.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Shortest batch length band: `[BATCH_BASE, 2·BATCH_BASE)` ticks.
const BATCH_BASE: Tick = 4;
/// Highest doubling of the batch band (`k` of [`heavy_tailed`]).
const BATCH_MAX_DOUBLINGS: u32 = 7;
/// Total work of an `interactive` job, ticks (inclusive range).
const INTERACTIVE_WORK: (Tick, Tick) = (4, 40);
/// Total work of an `io` job, ticks (inclusive range).
const IO_WORK: (Tick, Tick) = (10, 120);

/// A batch job's length: `4·2^k` plus up to as much again, `k` geometric, capped at `k = 7`.
fn heavy_tailed(rng: &mut SplitMix64) -> Tick {
    let k = (rng.next_u64() | 1 << BATCH_MAX_DOUBLINGS).trailing_zeros();
    let base = BATCH_BASE << k;
    base + rng.range(0, base - 1)
}

/// The distribution of a job's total work (CPU ticks) given its class, as [`generate`] draws
/// it in every mix: `p[w]` is the chance of exactly `w` ticks. This is what a scheduler may
/// know without knowing the job (the Gittins index policy reads it); host only.
#[cfg(not(target_os = "none"))]
pub fn work_distribution(class: TaskClass) -> Vec<f64> {
    let uniform = |(lo, hi): (Tick, Tick)| {
        let mut p = alloc::vec![0.0; hi as usize + 1];
        for w in lo..=hi {
            p[w as usize] = 1.0 / (hi - lo + 1) as f64;
        }
        p
    };
    match class {
        TaskClass::Batch => {
            let top = (BATCH_BASE << BATCH_MAX_DOUBLINGS) * 2;
            let mut p = alloc::vec![0.0; top as usize];
            for k in 0..=BATCH_MAX_DOUBLINGS {
                // k < max: 2^-(k+1); the cap takes the rest, 2^-max.
                let pk = 0.5f64.powi(k.min(BATCH_MAX_DOUBLINGS - 1) as i32 + 1);
                let base = BATCH_BASE << k;
                for w in base..2 * base {
                    p[w as usize] += pk / base as f64;
                }
            }
            p
        }
        TaskClass::Interactive => uniform(INTERACTIVE_WORK),
        TaskClass::Normal => uniform(IO_WORK),
    }
}

fn draw_job(mix: Mix, rng: &mut SplitMix64) -> Job {
    let kind = match mix {
        Mix::Mix => match rng.range(0, 9) {
            0..=3 => Mix::Batch,
            4..=7 => Mix::Interactive,
            _ => Mix::Io,
        },
        m => m,
    };
    match kind {
        Mix::Interactive => Job {
            io: Some(Io {
                run: rng.range(1, 3),
                block: rng.range(5, 30),
            }),
            class: TaskClass::Interactive,
            ..Job::new(0, rng.range(INTERACTIVE_WORK.0, INTERACTIVE_WORK.1))
        },
        Mix::Io => Job {
            io: Some(Io {
                run: rng.range(2, 8),
                block: rng.range(10, 50),
            }),
            ..Job::new(0, rng.range(IO_WORK.0, IO_WORK.1))
        },
        _ => Job {
            class: TaskClass::Batch,
            ..Job::new(0, heavy_tailed(rng))
        },
    }
}

/// The jobs of `mix` for a run of `ticks` ticks, drawn from `seed`, in arrival order, with no
/// limit on their number: every job that arrives within the span. Lazy, so counting them
/// ([`check_size`]) allocates nothing.
pub fn job_stream(mix: Mix, seed: u64, ticks: Tick) -> impl Iterator<Item = Job> {
    // Mix the mix into the seed so `batch` and `mix` with one seed are unrelated draws.
    let mut rng = SplitMix64::new(seed ^ (mix as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f));
    let span = ticks.saturating_mul(ARRIVAL_SPAN_PERCENT) / 100;
    let mut at: Tick = 0;
    core::iter::from_fn(move || {
        if at >= span.max(1) {
            return None;
        }
        let job = Job {
            arrival: at,
            ..draw_job(mix, &mut rng)
        };
        at = at.saturating_add(rng.range(0, 2 * job.work * 100 / TARGET_LOAD_PERCENT));
        Some(job)
    })
}

/// The jobs of `mix` for a run of `ticks` ticks, drawn from `seed`, in arrival order.
///
/// At most [`MAX_JOBS`]: a run whose stream holds more would be cut short, so every runner
/// (the kernel's, the host's boot runner) calls [`check_size`] first and refuses such a run
/// with the numbers instead of truncating it silently.
pub fn generate(mix: Mix, seed: u64, ticks: Tick) -> Vec<Job> {
    job_stream(mix, seed, ticks).take(MAX_JOBS).collect()
}

/// A workload with more jobs than the kernel's tables hold ([`MAX_JOBS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyJobs {
    pub mix: Mix,
    pub seed: u64,
    /// Length of the run, in ticks.
    pub ticks: Tick,
    /// The most jobs a workload may hold.
    pub max: usize,
}

impl core::fmt::Display for TooManyJobs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "workload {} seed {} over {} ticks has more than {} jobs, the most the kernel's job \
             and scheduler tables hold (workload::MAX_JOBS); run it for fewer seconds",
            self.mix.name(),
            self.seed,
            self.ticks,
            self.max
        )
    }
}

/// How many jobs `(mix, seed, ticks)` holds, or [`TooManyJobs`] if more than [`MAX_JOBS`]:
/// whether [`generate`] gives the whole workload.
pub fn check_size(mix: Mix, seed: u64, ticks: Tick) -> Result<usize, TooManyJobs> {
    let n = job_stream(mix, seed, ticks).take(MAX_JOBS + 1).count();
    if n > MAX_JOBS {
        return Err(TooManyJobs {
            mix,
            seed,
            ticks,
            max: MAX_JOBS,
        });
    }
    Ok(n)
}

/// The longest run, in ticks at most `ticks`, whose workload fits [`MAX_JOBS`] (0 if even one
/// tick does not): what to suggest instead of a refused length. The job stream of a shorter
/// run is a prefix of a longer one's, so the fit is monotone and a bisection finds the edge.
pub fn longest_fitting_ticks(mix: Mix, seed: u64, ticks: Tick) -> Tick {
    let (mut lo, mut hi) = (0, ticks);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if check_size(mix, seed, mid).is_ok() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_jobs_other_seed_other_jobs() {
        let a = generate(Mix::Mix, 7, 10_000);
        assert_eq!(a, generate(Mix::Mix, 7, 10_000));
        assert_ne!(a, generate(Mix::Mix, 8, 10_000));
        assert_ne!(a, generate(Mix::Batch, 7, 10_000));
    }

    #[test]
    fn arrivals_are_ordered_within_the_span_and_load_is_near_target() {
        for (mix, _) in Mix::ALL {
            for seed in 0..20 {
                let ticks = 10_000;
                let jobs = generate(mix, seed, ticks);
                assert!(!jobs.is_empty() && jobs.len() <= MAX_JOBS);
                assert!(jobs.windows(2).all(|w| w[0].arrival <= w[1].arrival));
                let span = ticks * ARRIVAL_SPAN_PERCENT / 100;
                assert!(jobs.iter().all(|j| j.arrival < span && j.work >= 1));
                assert!(jobs.iter().all(|j| j.io.is_none_or(|io| io.run >= 1)));
            }
            // Over many seeds the offered load is close to the target.
            let (work, span): (u64, u64) = (0..50)
                .map(|seed| {
                    let jobs = generate(mix, seed, 20_000);
                    let last = jobs.last().map_or(1, |j| j.arrival.max(1));
                    (jobs.iter().map(|j| j.work).sum::<u64>(), last)
                })
                .fold((0, 0), |(w, s), (a, b)| (w + a, s + b));
            let load = work * 100 / span;
            assert!((60..=130).contains(&load), "{mix:?}: load {load}%");
        }
    }

    #[test]
    fn batch_lengths_are_heavy_tailed() {
        let mut rng = SplitMix64::new(1);
        let lens: Vec<Tick> = (0..20_000).map(|_| heavy_tailed(&mut rng)).collect();
        let over = |x: Tick| lens.iter().filter(|&&l| l >= x).count() as f64 / lens.len() as f64;
        // P(X >= 8·2^k) ≈ 2^-(k+1)·(1 + …): each doubling roughly halves the tail.
        for k in 1..6 {
            let ratio = over(8 << k) / over(8 << (k - 1));
            assert!((0.35..0.65).contains(&ratio), "k={k}: {ratio}");
        }
        assert!(lens.iter().all(|&l| (4..1024).contains(&l)));
    }

    #[test]
    fn work_distribution_is_what_generate_draws() {
        for (mix, _) in Mix::ALL {
            let jobs: Vec<Job> = (0..200)
                .flat_map(|seed| generate(mix, seed, 20_000))
                .collect();
            for class in TaskClass::ALL {
                let works: Vec<Tick> = jobs
                    .iter()
                    .filter(|j| j.class == class)
                    .map(|j| j.work)
                    .collect();
                if works.len() < 2000 {
                    continue;
                }
                let p = work_distribution(class);
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                // Compare in 8 quantile-like bands of the support: each band's share within 3%.
                let cdf_at = |w: usize| p[..w.min(p.len())].iter().sum::<f64>();
                for cut in [8usize, 16, 30, 50, 80, 130, 300, 600] {
                    let seen = works.iter().filter(|&&x| (x as usize) < cut).count() as f64
                        / works.len() as f64;
                    let want = cdf_at(cut);
                    assert!(
                        (seen - want).abs() < 0.03,
                        "{mix:?} {class:?}: P(work < {cut}) drawn {seen:.3}, distribution {want:.3}"
                    );
                }
            }
        }
    }

    #[test]
    fn generate_is_the_stream_and_oversized_runs_are_refused_not_cut() {
        // A long run's stream holds far more than MAX_JOBS jobs; check_size says so instead
        // of letting generate's cap pass for the whole workload.
        let long = 3_600_000;
        assert!(job_stream(Mix::Mix, 1, long).count() > MAX_JOBS);
        let err = check_size(Mix::Mix, 1, long).unwrap_err();
        assert_eq!(err.max, MAX_JOBS);
        let text = std::format!("{err}");
        assert!(
            text.contains("more than 200 jobs") && text.contains("fewer seconds"),
            "{text}"
        );
        // A run that fits is generated whole, and is exactly its stream.
        let n = check_size(Mix::Mix, 1, 5_000).unwrap();
        let jobs = generate(Mix::Mix, 1, 5_000);
        assert_eq!(jobs.len(), n);
        assert_eq!(jobs, job_stream(Mix::Mix, 1, 5_000).collect::<Vec<_>>());
        // The longest fitting run is the edge: it fits, one tick more does not.
        let edge = longest_fitting_ticks(Mix::Mix, 1, long);
        assert!(edge > 0 && edge < long);
        assert!(check_size(Mix::Mix, 1, edge).is_ok());
        assert!(check_size(Mix::Mix, 1, edge + 1).is_err());
    }

    #[test]
    fn names_round_trip() {
        for (m, n) in Mix::ALL {
            assert_eq!(Mix::from_name(n), Some(m));
            assert_eq!(m.name(), n);
        }
        assert_eq!(Mix::from_name("nope"), None);
    }
}
