//! The summary line of the demo boot (`cargo run --release` with no options): what the learned
//! scheduler did on a short seeded workload, next to its shadow policy.
//!
//! The kernel runs the workload and prints its metrics line; the host regenerates the same job
//! list (`augur_kernel::workload::generate`, the kernel's own generator) and replays it under
//! the shadow policy with the kernel's own replay code (`augur_kernel::sched::replay`), the
//! way `augur eval` computes its bounds. One line, so a newcomer sees in the first minute what
//! the model is for: how often it decided, why it fell back, and what it bought.

use augur_kernel::bootcfg::{BootConfig, SchedPolicy};
use augur_kernel::learn::FallbackReason;
use augur_kernel::sched::replay::Replay;
use augur_kernel::workload::metrics::RunMetrics;

/// Live tasks the host replay's policy tracks: as many as the kernel's tables hold.
const REPLAY_CAPACITY: usize = augur_kernel::workload::MAX_JOBS + 8;

/// Mean turnaround, in ticks, of `policy` replayed on the host over the workload of `boot`.
pub fn replayed_turnaround(boot: &BootConfig, policy: SchedPolicy) -> Result<(f64, usize), String> {
    let ticks = u64::from(boot.seconds) * u64::from(boot.tick_hz);
    let jobs = augur_kernel::workload::generate(boot.workload, boot.seed, ticks);
    let replay = Replay::new(&jobs).map_err(|e| e.to_string())?;
    let mut policy = policy.classical::<REPLAY_CAPACITY>();
    let outcome = replay.run(policy.as_mut()).map_err(|e| e.to_string())?;
    Ok((outcome.mean_turnaround(), jobs.len()))
}

/// The summary line for a finished demo boot whose console is `console`.
pub fn summary(boot: &BootConfig, console: &str) -> Result<String, String> {
    let m = console
        .lines()
        .find_map(RunMetrics::parse)
        .ok_or("the kernel printed no metrics line")?;
    let ms = |ticks: f64| ticks * 1000.0 / f64::from(boot.tick_hz);
    let mine = ms(m.turnaround.mean());
    let head = format!(
        "demo: {} on {} seed {} for {} s",
        boot.policy.name(),
        boot.workload.name(),
        boot.seed,
        boot.seconds
    );
    if boot.policy != SchedPolicy::Learned {
        let (replayed, jobs) = replayed_turnaround(boot, boot.policy)?;
        return Ok(format!(
            "{head}: mean turnaround {mine:.2} ms; the same policy replayed on the host over the same {jobs} jobs: {:.2} ms",
            ms(replayed)
        ));
    }
    let fallbacks: Vec<String> = FallbackReason::ALL
        .iter()
        .zip(m.fallbacks)
        .map(|(r, n)| format!("{} {n}", r.name()))
        .collect();
    let (shadow, jobs) = replayed_turnaround(boot, boot.shadow)?;
    let shadow = ms(shadow);
    Ok(format!(
        "{head}: {} decisions, fallbacks {}; mean turnaround {mine:.2} ms vs {:.2} ms for its shadow {} replayed on the host over the same {jobs} jobs ({:+.1}%)",
        m.decisions,
        fallbacks.join(", "),
        shadow,
        boot.shadow.name(),
        (mine - shadow) * 100.0 / shadow.max(f64::MIN_POSITIVE)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_kernel::bootcfg::Job;
    use augur_kernel::sched::{Mlfq, Policy};

    fn demo_boot() -> BootConfig {
        let mut boot = BootConfig::default();
        boot.job = Job::Workload;
        boot.policy = SchedPolicy::Learned;
        boot.seconds = 3;
        boot
    }

    #[test]
    fn shadow_is_replayed_over_the_kernels_job_list_with_the_kernels_policy() {
        let boot = demo_boot();
        let (t, jobs) = replayed_turnaround(&boot, SchedPolicy::Mlfq).unwrap();
        // Independent of `classical`: the replay built by hand with the kernel's Mlfq.
        let list = augur_kernel::workload::generate(boot.workload, boot.seed, 3000);
        let mut mlfq = Mlfq::<REPLAY_CAPACITY>::default();
        let want = Replay::new(&list)
            .unwrap()
            .run(&mut mlfq as &mut dyn Policy)
            .unwrap()
            .mean_turnaround();
        assert_eq!(jobs, list.len());
        assert_eq!(t, want);
    }

    #[test]
    fn summary_names_decisions_fallbacks_and_both_turnarounds() {
        let boot = demo_boot();
        let m = RunMetrics {
            jobs: 10,
            finished: 10,
            ticks: 3000,
            hz: 1000,
            decisions: 321,
            fallbacks: [0, 0, 7, 0, 2, 0],
            ..RunMetrics::default()
        };
        let line = summary(&boot, &format!("banner\n{m}\n")).unwrap();
        assert!(
            line.starts_with("demo: learned on mix seed 1 for 3 s: 321 decisions"),
            "{line}"
        );
        let names: Vec<_> = FallbackReason::ALL.iter().map(|r| r.name()).collect();
        assert!(line.contains(&format!("{} 7", names[2])), "{line}");
        assert!(line.contains(&format!("{} 2", names[4])), "{line}");
        assert!(
            line.contains("for its shadow mlfq replayed on the host"),
            "{line}"
        );
        assert!(summary(&boot, "no metrics here").is_err());
    }
}
