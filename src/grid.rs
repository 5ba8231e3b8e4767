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

/// Most seeds one seed set may name: far more than a grid can boot in a day, few enough that
/// the list (and the grid built from it) is a small allocation.
pub const MAX_SEEDS: u64 = 100_000;
/// Most boots one grid may hold (mixes × seeds × policies).
pub const MAX_BOOTS: usize = 100_000;

/// First bytes of every GGUF file.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// Refuses bytes that are not a GGUF file at all, before any boot (the kernel's reader
/// checks everything else, and refuses a bad file with its reason).
pub fn check_gguf_magic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < GGUF_MAGIC.len() || &bytes[..GGUF_MAGIC.len()] != GGUF_MAGIC {
        let found = &bytes[..bytes.len().min(GGUF_MAGIC.len())];
        return Err(format!(
            "--weights {}: not a GGUF file (it starts with {found:02x?}, a GGUF file with \"GGUF\"); give a file written by `augur train`",
            path.display()
        ));
    }
    Ok(())
}

/// The bytes of `--weights FILE`, shared by every boot of a grid (`None` without the option).
pub fn read_weights(path: Option<&Path>) -> Result<Option<std::sync::Arc<Vec<u8>>>, String> {
    path.map(|p| {
        let bytes = std::fs::read(p).map_err(|e| format!("--weights {}: {e}", p.display()))?;
        check_gguf_magic(p, &bytes)?;
        Ok(std::sync::Arc::new(bytes))
    })
    .transpose()
}

/// Checks, before any boot, that `path` can be written as a file: not a directory, and in a
/// directory that takes new files. Leaves no file behind that was not there.
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!(
            "{} is a directory; the output file cannot be written there (remove or rename it)",
            path.display()
        ));
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Refuses a bad `AUGUR_TIMEOUT_SCALE` once, before any boot (each boot would fail on it).
pub fn check_timeout_scale() -> Result<(), String> {
    augur_qemu::try_scaled_timeout(BOOT_LIMIT)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Refuses a grid of more than [`MAX_BOOTS`] boots.
pub fn check_grid_size(mixes: usize, seeds: usize, policies: usize) -> Result<(), String> {
    let boots = mixes.saturating_mul(seeds).saturating_mul(policies);
    if boots > MAX_BOOTS {
        return Err(format!(
            "{mixes} workloads x {seeds} seeds x {policies} policies is {boots} boots; at most {MAX_BOOTS} are allowed in one run"
        ));
    }
    Ok(())
}

/// Refuses, before any boot, a (mix, seed) whose workload has more jobs than the kernel
/// holds at `seconds` (the runner would refuse each boot; better to say it once).
pub fn check_workloads(mixes: &[Mix], seeds: &[u64], seconds: u32) -> Result<(), String> {
    for &mix in mixes {
        for &seed in seeds {
            let mut boot = augur_kernel::bootcfg::BootConfig::default();
            boot.job = augur_kernel::bootcfg::Job::Workload;
            boot.workload = mix;
            boot.seed = seed;
            boot.seconds = seconds;
            augur_qemu::check_workload(&boot).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
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
    opts.timeout = match augur_qemu::try_scaled_timeout(BOOT_LIMIT) {
        Ok(t) => Some(t),
        Err(e) => {
            return RunResult {
                spec: spec.clone(),
                metrics: Err(e.to_string()),
            };
        }
    };
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

/// Parses a seed set: `N`, `N..M` (M excluded), `N..=M`, or a comma list of those; at most
/// [`MAX_SEEDS`] seeds in all, checked before anything is allocated.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("bad seed set `{text}`: expected N, N..M, N..=M or a comma list");
    let mut ranges = Vec::new();
    let mut total: u128 = 0;
    for part in text.split(',').map(str::trim) {
        let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
        let (lo, hi_excl) = if let Some((a, b)) = part.split_once("..=") {
            (num(a)?, u128::from(num(b)?) + 1)
        } else if let Some((a, b)) = part.split_once("..") {
            (num(a)?, u128::from(num(b)?))
        } else {
            let n = num(part)?;
            (n, u128::from(n) + 1)
        };
        // u128: a range's end may be u64::MAX + 1, and a sum of ranges may pass u64::MAX.
        total += hi_excl.saturating_sub(u128::from(lo));
        if total > u128::from(MAX_SEEDS) {
            return Err(format!(
                "seed set `{text}` names {total} seeds; at most {MAX_SEEDS} are allowed"
            ));
        }
        ranges.push((lo, hi_excl));
    }
    let mut seeds = Vec::new();
    for (lo, hi_excl) in ranges {
        // `hi_excl - lo` is at most MAX_SEEDS here, so every seed is a u64.
        seeds.extend((u128::from(lo)..hi_excl).map(|s| s as u64));
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
        assert_eq!(parse_seeds("18446744073709551615").unwrap(), [u64::MAX]);
        assert_eq!(
            parse_seeds("18446744073709551614..=18446744073709551615").unwrap(),
            [u64::MAX - 1, u64::MAX]
        );
    }

    #[test]
    fn huge_seed_sets_are_refused_before_allocating() {
        // Both aborted before (allocation failure, capacity overflow).
        for text in [
            "1..100000000000",
            "0..18446744073709551615",
            "0..=18446744073709551615",
        ] {
            let err = parse_seeds(text).unwrap_err();
            assert!(err.contains("at most 100000 are allowed"), "{err}");
        }
        let err = parse_seeds("0..60000,0..60000").unwrap_err();
        assert!(err.contains("120000 seeds"), "{err}");
        assert_eq!(parse_seeds("0..100000").unwrap().len(), 100_000);
    }

    #[test]
    fn grids_and_output_paths_are_checked_before_booting() {
        assert!(check_grid_size(4, 25_000, 1).is_ok());
        let err = check_grid_size(4, 100_000, 5).unwrap_err();
        assert!(err.contains("2000000 boots"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = check_writable(dir.path()).unwrap_err();
        assert!(err.contains("is a directory"), "{err}");
        let fresh = dir.path().join("report.md");
        check_writable(&fresh).unwrap();
        assert!(!fresh.exists(), "the check left a file behind");
        let err = check_writable(&dir.path().join("no/such/dir/report.md")).unwrap_err();
        assert!(err.contains("cannot write"), "{err}");
    }

    #[test]
    fn weights_that_are_not_gguf_are_refused_on_the_host() {
        let p = Path::new("w.bin");
        assert!(check_gguf_magic(p, b"GGUF\x03\0\0\0").is_ok());
        let err = check_gguf_magic(p, b"\x7fELF....").unwrap_err();
        assert!(err.contains("--weights w.bin: not a GGUF file"), "{err}");
        assert!(check_gguf_magic(p, b"GG").is_err());
    }

    #[test]
    fn oversized_workloads_are_refused_with_the_length_that_fits() {
        let err = check_workloads(&[Mix::Mix], &[1], 3600).unwrap_err();
        assert!(err.contains("more than 200 jobs"), "{err}");
        assert!(err.contains("--seconds 3600 is refused"), "{err}");
        assert!(err.contains("at most 11 s fit"), "{err}");
        assert!(check_workloads(&[Mix::Mix], &[1], 10).is_ok());
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
