//! `augur eval`: boot every policy on held-out workloads and seeds, compare them with each
//! other and with the offline oracle, and write a report with plots.
//!
//! For each (mix, seed) the kernel runs the workload under rr, cfs, mlfq and learned
//! (deterministic boots, traces kept under `OUT/traces/`). The **oracle bound** is the same job
//! list replayed on the host under shortest-remaining-work-first with the true remaining work
//! (`augur_kernel::sched::ShortestRemainingWork`, the policy that minimises mean turnaround
//! on one CPU when jobs never block): what no online policy can beat by much. Next to it, the
//! **Gittins bound**: the same replay under the Gittins index policy
//! (`augur_kernel::sched::gittins`), which knows the distribution of job sizes but not the
//! sizes, the best any non-clairvoyant scheduler (the learned one included) can do on average;
//! the gap between the two is what not knowing sizes costs. The report
//! (`OUT/report.md`) has the tables and the targets of issue 5; the plots are SVG:
//! `response_cdf.svg` (response-time CDF per policy, all runs pooled) and `turnaround.svg`
//! (mean turnaround per mix and policy, with the oracle).

use crate::grid::{
    GridSettings, RunResult, check_grid_size, check_workloads, check_writable, default_parallel,
    grid, parse_names, parse_seeds, progress_bar, read_weights, run_grid,
};
use augur_kernel::bootcfg::{Mix, SchedPolicy};
use augur_kernel::learn::FallbackReason;
use augur_kernel::sched::gittins::GittinsIndex;
use augur_kernel::sched::replay::Replay;
use augur_kernel::sched::{Policy, ShortestRemainingWork};
use augur_kernel::trace::{Record, TraceReader};
use augur_kernel::workload::metrics::RunMetrics;
use clap::Args;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `augur eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Workloads (comma list of batch, interactive, io, mix).
    #[arg(long, default_value = "batch,interactive,io,mix")]
    workloads: String,
    /// Held-out seeds: N, N..M (M excluded), N..=M, or a comma list. Keep them apart from
    /// the seeds the model was trained on.
    #[arg(long, default_value = "101..107")]
    seeds: String,
    /// Policies to compare (comma list; `learned` is judged against the others).
    #[arg(long, default_value = "rr,cfs,mlfq,learned")]
    policies: String,
    /// Seconds of timer ticks per workload.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=3600))]
    seconds: u32,
    /// Evaluate these weights instead of the embedded model.
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Boots to run at once (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Directory for the report, plots and traces.
    #[arg(short = 'o', long, value_name = "DIR", default_value = "eval")]
    out: PathBuf,
}

/// The files `eval` writes into its output directory (besides `traces/`).
const REPORT_FILES: [&str; 3] = ["report.md", "response_cdf.svg", "turnaround.svg"];

/// Ticks per second the kernel runs at (the default timer rate).
const HZ: f64 = augur_kernel::bootcfg::DEFAULT_TICK_HZ as f64;

/// One policy's results on one mix, over the seeds.
#[derive(Default, Debug)]
struct Cell {
    runs: Vec<RunMetrics>,
}

impl Cell {
    fn mean_of(&self, f: impl Fn(&RunMetrics) -> f64) -> f64 {
        self.runs.iter().map(f).sum::<f64>() / self.runs.len().max(1) as f64
    }
    /// Mean turnaround in ms, averaged over seeds.
    fn turnaround_ms(&self) -> f64 {
        self.mean_of(|m| m.turnaround.mean() * 1000.0 / HZ)
    }
    /// p99 response in ms, averaged over seeds.
    fn p99_response_ms(&self) -> f64 {
        self.mean_of(|m| m.response.p99 as f64 * 1000.0 / HZ)
    }
    fn wait_ms(&self) -> f64 {
        self.mean_of(|m| m.wait.mean() * 1000.0 / HZ)
    }
    fn unfinished(&self) -> u64 {
        self.runs.iter().map(|m| m.jobs - m.finished).sum()
    }
    /// Budget and regret fallbacks, percent of decisions.
    fn guard_fallback_pct(&self) -> f64 {
        let fb: u64 = self
            .runs
            .iter()
            .map(|m| {
                m.fallbacks_for(FallbackReason::Budget) + m.fallbacks_for(FallbackReason::Regret)
            })
            .sum();
        let d: u64 = self.runs.iter().map(|m| m.decisions).sum();
        fb as f64 * 100.0 / d.max(1) as f64
    }
    fn all_fallback_pct(&self) -> f64 {
        let fb: u64 = self
            .runs
            .iter()
            .map(|m| m.fallbacks.iter().sum::<u64>())
            .sum();
        let d: u64 = self.runs.iter().map(|m| m.decisions).sum();
        fb as f64 * 100.0 / d.max(1) as f64
    }
}

/// Per-task response times (ticks) in a trace: first run − arrival.
fn responses(trace: &Path) -> Vec<u64> {
    let Ok(bytes) = std::fs::read(trace) else {
        return Vec::new();
    };
    let mut arrival = BTreeMap::new();
    let mut out = Vec::new();
    for entry in TraceReader::new(&bytes).flatten() {
        match entry.record {
            Record::TaskSpawn { tick, task, .. } => {
                arrival.insert(task, tick);
            }
            Record::TaskFirstRun { tick, task } => {
                if let Some(a) = arrival.get(&task) {
                    out.push(tick - a);
                }
            }
            _ => {}
        }
    }
    out
}

/// Mean turnaround (ticks) of `policy` replayed on the host over `replay`'s job list.
fn replay_turnaround(replay: &Replay, policy: &mut dyn Policy) -> Result<f64, String> {
    let outcome = replay.run(policy).map_err(|e| e.to_string())?;
    Ok(outcome.mean_turnaround())
}

/// The host-replay bounds of one mix, ms averaged over seeds.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    /// Shortest remaining work first, knowing every job's size.
    oracle: f64,
    /// The Gittins index policy, knowing only the size distribution.
    gittins: f64,
}

fn bounds(mix: Mix, seeds: &[u64], seconds: u32) -> Result<Bounds, String> {
    let (mut oracle, mut gittins) = (0.0, 0.0);
    let ticks = u64::from(seconds) * HZ as u64;
    for &seed in seeds {
        let jobs = augur_kernel::workload::generate(mix, seed, ticks);
        let replay = Replay::new(&jobs).map_err(|e| e.to_string())?;
        let mut srpt = ShortestRemainingWork::<{ augur_kernel::workload::MAX_JOBS + 8 }>::new();
        oracle += replay_turnaround(&replay, &mut srpt)?;
        gittins += replay_turnaround(&replay, &mut GittinsIndex::new())?;
    }
    let ms = |ticks: f64| ticks * 1000.0 / HZ / seeds.len().max(1) as f64;
    Ok(Bounds {
        oracle: ms(oracle),
        gittins: ms(gittins),
    })
}

/// Runs `augur eval`.
pub fn run(args: EvalArgs, command_line: &str) -> ExitCode {
    match evaluate(&args, command_line) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("augur eval: {e}");
            ExitCode::from(2)
        }
    }
}

fn evaluate(args: &EvalArgs, command_line: &str) -> Result<(), String> {
    let mixes = parse_names(&args.workloads, "workload", &Mix::ALL, Mix::from_name)?;
    let policies = parse_names(
        &args.policies,
        "policy",
        &SchedPolicy::ALL,
        SchedPolicy::from_name,
    )?;
    let seeds = parse_seeds(&args.seeds)?;
    check_grid_size(mixes.len(), seeds.len(), policies.len())?;
    crate::grid::check_timeout_scale()?;
    check_workloads(&mixes, &seeds, args.seconds)?;
    let weights = read_weights(args.weights.as_deref())?;
    let traces = args.out.join("traces");
    std::fs::create_dir_all(&traces)
        .map_err(|e| format!("cannot create {}: {e}", traces.display()))?;
    // Every output is checked now, not after the boots it would take to fill it.
    for name in REPORT_FILES {
        check_writable(&args.out.join(name))?;
    }
    let settings = GridSettings {
        seconds: args.seconds,
        explore: 0,
        weights,
        traces,
    };
    let specs = grid(&mixes, &seeds, &policies, &settings);
    let start = Instant::now();
    let bar = progress_bar(specs.len());
    let done = |r: &RunResult| {
        if let Err(e) = &r.metrics {
            bar.println(format!("augur eval: {} failed: {e}", r.spec.stem()));
        }
        bar.set_message(r.spec.stem());
        bar.inc(1);
    };
    let results = run_grid(&specs, args.jobs.unwrap_or_else(default_parallel), &done);
    bar.finish_and_clear();
    let boot_secs = start.elapsed().as_secs_f64();

    let mut cells: BTreeMap<(usize, usize), Cell> = BTreeMap::new();
    let mut cdf: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut failures = Vec::new();
    for r in &results {
        let mi = mixes.iter().position(|m| *m == r.spec.mix).unwrap_or(0);
        let pi = policies
            .iter()
            .position(|p| *p == r.spec.policy)
            .unwrap_or(0);
        match &r.metrics {
            Ok(m) => {
                cells.entry((mi, pi)).or_default().runs.push(*m);
                cdf.entry(pi).or_default().extend(responses(&r.spec.trace));
            }
            Err(e) => failures.push(format!(
                "{}: {}",
                r.spec.stem(),
                e.lines().next().unwrap_or("")
            )),
        }
    }
    let bounds = mixes
        .iter()
        .map(|&mix| bounds(mix, &seeds, args.seconds))
        .collect::<Result<Vec<_>, _>>()?;
    let report = Report {
        mixes: &mixes,
        policies: &policies,
        seeds: &seeds,
        cells: &cells,
        bounds: &bounds,
        failures: &failures,
        seconds: args.seconds,
        command_line,
        boot_secs,
        weights: args.weights.as_deref(),
    };
    let markdown = report.markdown();
    std::fs::write(args.out.join("report.md"), &markdown)
        .map_err(|e| format!("cannot write the report: {e}"))?;
    plot_cdf(&args.out.join("response_cdf.svg"), &policies, &cdf)?;
    plot_turnaround(&args.out.join("turnaround.svg"), &report)?;
    println!("{markdown}");
    println!(
        "report: {} (plots: response_cdf.svg, turnaround.svg)",
        args.out.join("report.md").display()
    );
    Ok(())
}

/// Everything the report shows.
struct Report<'a> {
    mixes: &'a [Mix],
    policies: &'a [SchedPolicy],
    seeds: &'a [u64],
    cells: &'a BTreeMap<(usize, usize), Cell>,
    bounds: &'a [Bounds],
    failures: &'a [String],
    seconds: u32,
    command_line: &'a str,
    boot_secs: f64,
    weights: Option<&'a Path>,
}

impl Report<'_> {
    fn cell(&self, mix: usize, policy: usize) -> Option<&Cell> {
        self.cells
            .get(&(mix, policy))
            .filter(|c| !c.runs.is_empty())
    }

    fn learned(&self) -> Option<usize> {
        self.policies
            .iter()
            .position(|p| *p == SchedPolicy::Learned)
    }

    /// The classical policy with the lowest mean turnaround on `mix`.
    fn best_baseline(&self, mix: usize) -> Option<(usize, &Cell)> {
        (0..self.policies.len())
            .filter(|&p| self.policies[p] != SchedPolicy::Learned)
            .filter_map(|p| Some((p, self.cell(mix, p)?)))
            .min_by(|a, b| a.1.turnaround_ms().total_cmp(&b.1.turnaround_ms()))
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        let _ = writeln!(md, "# Augur scheduler evaluation\n");
        let _ = writeln!(
            md,
            "Held-out seeds {}, {} s of 1 kHz ticks per run, deterministic boots (`-icount`). \
             Weights: {}. Command: `{}` ({:.0} s of boots).\n",
            seeds.join(", "),
            self.seconds,
            self.weights
                .map_or("the kernel's embedded model".to_owned(), |p| p
                    .display()
                    .to_string()),
            self.command_line,
            self.boot_secs
        );
        let _ = writeln!(
            md,
            "Times in ms, averaged over seeds. Both bounds are the same job lists replayed on the \
             host. Oracle: shortest remaining work first, knowing each job's work. Gittins: the \
             Gittins index policy, knowing only the distribution of work per task class, the \
             optimum for schedulers that do not know sizes (the learned one does not).\n"
        );
        for (mi, mix) in self.mixes.iter().enumerate() {
            let _ = writeln!(md, "## {}\n", mix.name());
            let _ = writeln!(
                md,
                "| policy | mean turnaround | p99 response | mean wait | unfinished | fallbacks (all / budget+regret) |"
            );
            let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: |");
            for (pi, p) in self.policies.iter().enumerate() {
                let Some(c) = self.cell(mi, pi) else {
                    let _ = writeln!(md, "| {} | failed | | | | |", p.name());
                    continue;
                };
                let fb = if *p == SchedPolicy::Learned {
                    format!(
                        "{:.2}% / {:.2}%",
                        c.all_fallback_pct(),
                        c.guard_fallback_pct()
                    )
                } else {
                    "-".to_owned()
                };
                let _ = writeln!(
                    md,
                    "| {} | {:.1} | {:.1} | {:.1} | {} | {fb} |",
                    p.name(),
                    c.turnaround_ms(),
                    c.p99_response_ms(),
                    c.wait_ms(),
                    c.unfinished()
                );
            }
            let b = self.bounds[mi];
            let _ = writeln!(md, "| Gittins (sizes unknown) | {:.1} | | | | |", b.gittins);
            let _ = writeln!(md, "| oracle (SRPT) | {:.1} | | | | |\n", b.oracle);
        }
        self.targets(&mut md);
        if !self.failures.is_empty() {
            let _ = writeln!(md, "## Failed boots\n");
            for f in self.failures {
                let _ = writeln!(md, "- {f}");
            }
        }
        md
    }

    /// The targets, checked per mix.
    fn targets(&self, md: &mut String) {
        let Some(li) = self.learned() else { return };
        let _ = writeln!(
            md,
            "## Targets (learned vs the best classical policy per mix)\n"
        );
        let _ = writeln!(
            md,
            "| mix | best baseline | turnaround learned/best | p99 response learned/best | learned/oracle | Gittins/oracle | guard fallbacks | verdict |"
        );
        let _ = writeln!(md, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
        for (mi, mix) in self.mixes.iter().enumerate() {
            let (Some(l), Some((bi, b))) = (self.cell(mi, li), self.best_baseline(mi)) else {
                continue;
            };
            let t = l.turnaround_ms() / b.turnaround_ms().max(1e-9);
            let p = l.p99_response_ms() / b.p99_response_ms().max(1e-9);
            let bound = self.bounds[mi];
            let o = l.turnaround_ms() / bound.oracle.max(1e-9);
            let go = bound.gittins / bound.oracle.max(1e-9);
            let g = l.guard_fallback_pct();
            let ok = t < 1.0 && p <= 1.10 && o <= 1.15 && g < 1.0;
            let _ = writeln!(
                md,
                "| {} | {} | {t:.3} | {p:.3} | {o:.3} | {go:.3} | {g:.2}% | {} |",
                mix.name(),
                self.policies[bi].name(),
                if ok { "met" } else { "not met" }
            );
        }
        let _ = writeln!(
            md,
            "\nMet means: turnaround below the best baseline, p99 response at most 10% worse, \
             within 15% of the oracle, budget+regret fallbacks under 1% of decisions. Where \
             Gittins/oracle is above 1.15, the oracle target is beyond what a scheduler that \
             does not know job sizes can reach on average.\n"
        );
    }
}

fn plot_error(e: impl std::fmt::Display) -> String {
    format!("cannot draw the plot: {e}")
}

/// Response-time CDF per policy (all runs pooled).
fn plot_cdf(
    path: &Path,
    policies: &[SchedPolicy],
    samples: &BTreeMap<usize, Vec<u64>>,
) -> Result<(), String> {
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let max = samples
        .values()
        .flat_map(|v| v.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1000.0
        / HZ;
    let mut chart = ChartBuilder::on(&root)
        .caption("Response time CDF (all held-out runs)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((0.0..max + 1.0).log_scale(), 0.0..1.0)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("response time (ms, log scale; 0 shown at the left edge)")
        .y_desc("fraction of tasks")
        .draw()
        .map_err(plot_error)?;
    for (i, (pi, v)) in samples.iter().enumerate() {
        let mut v = v.clone();
        v.sort_unstable();
        let n = v.len().max(1) as f64;
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = v
            .iter()
            .enumerate()
            .map(|(k, &x)| ((x as f64 * 1000.0 / HZ).max(0.1), (k + 1) as f64 / n))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(plot_error)?
            .label(policies[*pi].name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)
}

/// Mean turnaround per mix: one bar per policy, then the Gittins bound and the oracle.
fn plot_turnaround(path: &Path, r: &Report<'_>) -> Result<(), String> {
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let bound_names = ["Gittins", "oracle"];
    let bound = |mi: usize, k: usize| {
        let b = r.bounds[mi];
        if k == 0 { b.gittins } else { b.oracle }
    };
    let groups = r.policies.len() + bound_names.len();
    let mut max: f64 = r
        .bounds
        .iter()
        .map(|b| b.gittins.max(b.oracle))
        .fold(1.0, f64::max);
    for c in r.cells.values() {
        max = max.max(c.turnaround_ms());
    }
    let width = (r.mixes.len() * (groups + 1)) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Mean turnaround per workload (ms)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..width, 0.0..max * 1.1)
        .map_err(plot_error)?;
    let names: Vec<&str> = r.mixes.iter().map(|m| m.name()).collect();
    let per = (groups + 1) as f64;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(r.mixes.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let g = (*x / per).floor() as usize;
            let centre = g as f64 * per + groups as f64 / 2.0;
            if (x - centre).abs() < per / 2.0 - 0.5 {
                names.get(g).copied().unwrap_or("").to_owned()
            } else {
                String::new()
            }
        })
        .y_desc("ms")
        .draw()
        .map_err(plot_error)?;
    for s in 0..groups {
        let color = Palette99::pick(s).to_rgba();
        let bars: Vec<_> = (0..r.mixes.len())
            .filter_map(|mi| {
                let v = match s.checked_sub(r.policies.len()) {
                    None => r.cell(mi, s)?.turnaround_ms(),
                    Some(k) => bound(mi, k),
                };
                let x = mi as f64 * per + s as f64;
                Some(Rectangle::new([(x, 0.0), (x + 0.9, v)], color.filled()))
            })
            .collect();
        let label = match s.checked_sub(r.policies.len()) {
            None => r.policies[s].name(),
            Some(k) => bound_names[k],
        };
        chart
            .draw_series(bars)
            .map_err(plot_error)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_knowing_sizes_is_no_worse_than_gittins_knowing_their_distribution() {
        // (Gittins against the classical policies is checked over many seeds in the kernel
        // crate: it is optimal on average, not on every job list.)
        for (mix, _) in Mix::ALL {
            let Bounds { oracle, gittins } = bounds(mix, &[7, 8], 3).unwrap();
            assert!(
                oracle > 0.0 && oracle <= gittins,
                "{mix:?}: oracle {oracle}, Gittins {gittins}"
            );
        }
    }
}
