//! `augur collect`: boot the kernel over a grid of workloads, seeds and policies and keep the
//! traces a trainer learns from.
//!
//! Every boot is deterministic (`-icount`), so a collection is reproducible from its command
//! line, which is appended to `DIR/collect.txt` (several collections may share a directory:
//! the classical policies first, then `--policies learned --weights FILE` to add the states a
//! model's own decisions lead to, as DAgger does). Classical policies explore: a share of their
//! decisions (`--explore`, percent) goes to a random runnable task, so the traces also show
//! states the classical policies alone would never reach. A trace that does not decode cleanly
//! is reported and renamed `*.damaged`; it never stops the collection.

use crate::grid::{
    GridSettings, RunSpec, check_grid_size, check_workloads, default_parallel, grid, parse_names,
    parse_seeds, progress_bar, read_weights, run_grid,
};
use augur_kernel::bootcfg::{Mix, SchedPolicy};
use augur_kernel::trace::TraceReader;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `augur collect`.
#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Workloads to run (comma list of batch, interactive, io, mix).
    #[arg(long, default_value = "batch,interactive,io,mix")]
    workloads: String,
    /// Seeds: N, N..M (M excluded), N..=M, or a comma list.
    #[arg(long, default_value = "1..5")]
    seeds: String,
    /// Policies to run each workload under (comma list of rr, cfs, mlfq, fifo, learned).
    #[arg(long, default_value = "rr,cfs,mlfq,fifo")]
    policies: String,
    /// Seconds of timer ticks per workload.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=3600))]
    seconds: u32,
    /// Percent of classical decisions given to a random runnable task.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    explore: u8,
    /// Boots to run at once (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Weights the learned policy runs instead of the embedded model.
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Directory for the traces (created if missing).
    #[arg(short = 'o', long, value_name = "DIR")]
    out: PathBuf,
}

/// The grid the arguments describe.
fn specs(args: &CollectArgs) -> Result<Vec<RunSpec>, String> {
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
    let settings = GridSettings {
        seconds: args.seconds,
        explore: args.explore,
        weights,
        traces: args.out.clone(),
    };
    Ok(grid(&mixes, &seeds, &policies, &settings))
}

/// Checks that a trace decodes cleanly: `Err` names the first damage.
pub fn check_trace(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut records = 0;
    for entry in TraceReader::new(&bytes) {
        entry.map_err(|e| e.to_string())?;
        records += 1;
    }
    if records == 0 {
        return Err("no records".to_owned());
    }
    Ok(records)
}

/// Runs `augur collect`.
pub fn run(args: CollectArgs, command_line: &str) -> ExitCode {
    let specs = match specs(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("augur collect: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("augur collect: cannot create {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    let manifest = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.out.join("collect.txt"))
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, format!("{command_line}\n").as_bytes())
        });
    if let Err(e) = manifest {
        eprintln!("augur collect: cannot write the manifest: {e}");
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let bar = progress_bar(specs.len());
    let done = |r: &crate::grid::RunResult| {
        let verdict = r
            .metrics
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|_| check_trace(&r.spec.trace));
        if let Err(why) = verdict {
            let damaged = r.spec.trace.with_extension("damaged");
            let _ = std::fs::rename(&r.spec.trace, &damaged);
            bar.println(format!(
                "augur collect: skipping {}: {}",
                r.spec.stem(),
                why.lines().next().unwrap_or("")
            ));
        }
        bar.set_message(r.spec.stem());
        bar.inc(1);
    };
    let results = run_grid(&specs, args.jobs.unwrap_or_else(default_parallel), &done);
    bar.finish_and_clear();
    let kept = results.iter().filter(|r| r.spec.trace.exists()).count();
    let bytes: u64 = results
        .iter()
        .filter_map(|r| std::fs::metadata(&r.spec.trace).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "collected {kept} of {} traces ({:.1} MB) in {} in {:.0} s",
        results.len(),
        bytes as f64 / 1e6,
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    if kept == 0 {
        eprintln!("augur collect: no usable trace; see the messages above");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
