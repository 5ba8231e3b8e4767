//! A grid of deterministic workload boots (mix × seed × policy), a few at a time: the one
//! place `collect` and `eval` launch the kernel. Each boot runs under `-icount`, so its
//! metrics and trace are a pure function of the image, the settings and the weights.

use augur_kernel::bootcfg::{Mix, SchedPolicy};
use augur_kernel::workload::metrics::RunMetrics;
use augur_qemu::{RunOptions, Verdict};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Wall-clock limit for one boot of the grid.
const BOOT_LIMIT: Duration = Duration::from_secs(600);

/// One boot of the grid.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The workload.
    pub mix: Mix,
    /// Its seed.
    pub seed: u64,
    /// The policy in charge.
    pub policy: SchedPolicy,
    /// Seconds of timer ticks the workload may run.
    pub seconds: u32,
    /// Percent of random decisions (trace collection).
    pub explore: u8,
    /// Weights to boot with instead of the embedded model.
    pub weights: Option<std::sync::Arc<Vec<u8>>>,
    /// Where the trace goes.
    pub trace: PathBuf,
}

impl RunSpec {
    /// `mix-sSEED-policy`, the stem of its trace file.
    pub fn stem(&self) -> String {
        format!("{}-s{}-{}", self.mix.name(), self.seed, self.policy.name())
    }
}

/// What one boot gave: its metrics, or why there are none.
#[derive(Debug)]
pub struct RunResult {
    /// The boot.
    pub spec: RunSpec,
    /// The kernel's metrics, or what went wrong.
    pub metrics: Result<RunMetrics, String>,
}

/// What every boot of a grid shares.
pub struct GridSettings {
    /// Seconds of timer ticks per workload.
    pub seconds: u32,
    /// Percent of random decisions for classical policies (the learned one never explores).
    pub explore: u8,
    /// Weights to boot with instead of the embedded model.
    pub weights: Option<std::sync::Arc<Vec<u8>>>,
    /// Directory for the traces (`<mix>-s<seed>-<policy>.trace`).
    pub traces: PathBuf,
}

/// The bytes of `--weights FILE`, shared by every boot of a grid (`None` without the option).
pub fn read_weights(path: Option<&Path>) -> Result<Option<std::sync::Arc<Vec<u8>>>, String> {
    path.map(|p| {
        std::fs::read(p)
            .map(std::sync::Arc::new)
            .map_err(|e| format!("--weights {}: {e}", p.display()))
    })
    .transpose()
}

/// Every (mix, seed, policy) combination, in that nesting order.
pub fn grid(
    mixes: &[Mix],
    seeds: &[u64],
    policies: &[SchedPolicy],
    settings: &GridSettings,
) -> Vec<RunSpec> {
    let mut specs = Vec::new();
    for &mix in mixes {
        for &seed in seeds {
            for &policy in policies {
                let mut spec = RunSpec {
                    mix,
                    seed,
                    policy,
                    seconds: settings.seconds,
                    explore: if policy == SchedPolicy::Learned {
                        0
                    } else {
                        settings.explore
                    },
                    weights: settings.weights.clone(),
                    trace: PathBuf::new(),
                };
                spec.trace = settings.traces.join(format!("{}.trace", spec.stem()));
                specs.push(spec);
            }
        }
    }
    specs
}

/// The progress bar `collect` and `eval` show while booting `boots` grid points.
pub fn progress_bar(boots: usize) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(boots as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} boots {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    )
}

/// Boots one grid point.
fn boot(spec: &RunSpec) -> RunResult {
    let mut opts = RunOptions::deterministic_workload(
        spec.mix,
        spec.policy,
        spec.seconds,
        spec.seed,
        spec.weights.as_deref().cloned(),
    );
    opts.timeout = Some(augur_qemu::scaled_timeout(BOOT_LIMIT));
    opts.trace_file = Some(spec.trace.clone());
    opts.boot.explore = spec.explore;
    let metrics = match augur_qemu::run(&opts) {
        Ok(o) if o.verdict == Verdict::Success => o
            .console
            .lines()
            .find_map(RunMetrics::parse)
            .ok_or_else(|| "the kernel printed no metrics line".to_owned()),
        Ok(o) => Err(o.describe()),
        Err(e) => Err(e.to_string()),
    };
    RunResult {
        spec: spec.clone(),
        metrics,
    }
}

/// Boots every spec, `parallel` at a time, calling `done` as each finishes; results come
/// back in spec order.
pub fn run_grid(
    specs: &[RunSpec],
    parallel: usize,
    done: &(dyn Fn(&RunResult) + Sync),
) -> Vec<RunResult> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RunResult>>> =
        Mutex::new((0..specs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, specs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = specs.get(i) else { break };
                    let r = boot(spec);
                    done(&r);
                    results.lock().expect("no panics while held")[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("no panics while held")
        .into_iter()
        .map(|r| r.expect("every spec ran"))
        .collect()
}

/// How many boots to run at once by default: one per core (each QEMU uses one).
pub fn default_parallel() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Parses a seed set: `N`, `N..M` (M excluded), `N..=M`, or a comma list of those.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("bad seed set `{text}`: expected N, N..M, N..=M or a comma list");
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim) {
        let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
        if let Some((a, b)) = part.split_once("..=") {
            seeds.extend(num(a)?..=num(b)?);
        } else if let Some((a, b)) = part.split_once("..") {
            seeds.extend(num(a)?..num(b)?);
        } else {
            seeds.push(num(part)?);
        }
    }
    if seeds.is_empty() {
        return Err(format!("seed set `{text}` is empty"));
    }
    Ok(seeds)
}

/// Parses a comma list of names with `lookup`, naming the valid ones on error.
pub fn parse_names<T>(
    text: &str,
    what: &str,
    all: &[(T, &'static str)],
    lookup: fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    text.split(',')
        .map(str::trim)
        .map(|name| {
            lookup(name).ok_or_else(|| {
                let valid: Vec<_> = all.iter().map(|(_, n)| *n).collect();
                format!("unknown {what} `{name}`; valid: {}", valid.join(", "))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sets() {
        assert_eq!(parse_seeds("3").unwrap(), [3]);
        assert_eq!(parse_seeds("1..4").unwrap(), [1, 2, 3]);
        assert_eq!(parse_seeds("1..=3, 9").unwrap(), [1, 2, 3, 9]);
        assert!(parse_seeds("a..b").unwrap_err().contains("bad seed set"));
        assert!(parse_seeds("5..5").unwrap_err().contains("empty"));
    }

    #[test]
    fn name_lists() {
        let mixes = parse_names("batch, mix", "workload", &Mix::ALL, Mix::from_name).unwrap();
        assert_eq!(mixes, [Mix::Batch, Mix::Mix]);
        let err = parse_names("batch,x", "workload", &Mix::ALL, Mix::from_name).unwrap_err();
        assert_eq!(
            err,
            "unknown workload `x`; valid: batch, interactive, io, mix"
        );
    }
}
