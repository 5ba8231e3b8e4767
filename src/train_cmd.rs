//! `augur train`: traces from `augur collect` in, a trained, quantized and checked scheduler
//! model (GGUF) and its model card out. The work is `augur_trainer::train`; this file maps
//! options onto its configuration and prints what it measured.

use augur_trainer::{HeadLoss, HoldOut, TraceSource, TrainConfig, TrainReport, train};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `augur train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Directory of `*.trace` files (from `augur collect`).
    dir: PathBuf,
    /// The GGUF file to write; its model card goes next to it (`.md`).
    #[arg(short = 'o', long, value_name = "FILE")]
    out: PathBuf,
    /// Hold out (evaluate only) traces whose seed is at least this.
    #[arg(long, value_name = "SEED", default_value_t = 4)]
    holdout_seeds_from: u64,
    /// Also hold out every trace of these workloads (comma list).
    #[arg(long, value_name = "MIXES", default_value = "")]
    holdout_mixes: String,
    /// Seed of initialisation, subsampling and batch order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Backbone pretraining epochs.
    #[arg(long, default_value_t = 4)]
    pretrain_epochs: usize,
    /// Scheduler-head fine-tuning epochs.
    #[arg(long, default_value_t = 8)]
    finetune_epochs: usize,
    /// The scheduler head's fine-tuning objective: gittins (order tasks by the Gittins index
    /// of their class's work distribution, estimated from the traces), listwise (which task
    /// the oracle that knows sizes picks) or pairwise (which of two tasks has less work left).
    #[arg(long, default_value = "gittins", value_parser = head_loss)]
    head_loss: HeadLoss,
    /// Most training decisions used (a seeded subsample beyond that).
    #[arg(long, default_value_t = 60_000)]
    max_decisions: usize,
}

fn head_loss(name: &str) -> Result<HeadLoss, String> {
    HeadLoss::from_name(name).ok_or_else(|| {
        let names: Vec<_> = HeadLoss::ALL.iter().map(|(_, n)| *n).collect();
        format!("unknown loss `{name}`; valid losses: {}", names.join(", "))
    })
}

/// Runs `augur train`.
pub fn run(args: TrainArgs, command_line: &str) -> ExitCode {
    if !args.dir.is_dir() {
        eprintln!(
            "augur train: {} is not a directory of traces; make one with `augur collect -o DIR`",
            args.dir.display()
        );
        return ExitCode::from(2);
    }
    match augur_trainer::dataset::list_traces(&args.dir) {
        Ok(files) if files.is_empty() => {
            eprintln!(
                "augur train: no trace files (*.trace) found in {}; collect some with `augur collect -o {}`",
                args.dir.display(),
                args.dir.display()
            );
            return ExitCode::from(2);
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("augur train: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        eprintln!("augur train: cannot create {}: {e}", parent.display());
        return ExitCode::from(2);
    }
    let mut config = TrainConfig::new(TraceSource::Dir(args.dir.clone()), args.out.clone());
    config.seed = args.seed;
    config.pretrain_epochs = args.pretrain_epochs;
    config.finetune_epochs = args.finetune_epochs;
    config.max_decisions = args.max_decisions;
    config.head_loss = args.head_loss;
    config.holdout = HoldOut {
        seeds_from: Some(args.holdout_seeds_from),
        mixes: args
            .holdout_mixes
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    config.command_line = command_line.to_owned();
    match train(&config, &mut |line| eprintln!("{line}")) {
        Ok(report) => {
            print_report(&report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("augur train: {e}");
            ExitCode::from(1)
        }
    }
}

fn print_report(r: &TrainReport) {
    let pct = |x: f64| x * 100.0;
    println!(
        "model {} ({} bytes, {} parameters)",
        r.name, r.gguf_bytes, r.parameters
    );
    println!(
        "  decisions: {} training, {} held out ({})",
        r.train.decisions, r.heldout.decisions, r.holdout
    );
    println!(
        "  next-tick MSE: train {:.4} held-out {:.4} (persistence {:.4})",
        r.train.pretrain_mse, r.heldout.pretrain_mse, r.heldout.persistence_mse
    );
    println!(
        "  {} loss: train {:.3} held-out {:.3}",
        r.head_loss.name(),
        r.train.finetune_loss,
        r.heldout.finetune_loss
    );
    println!(
        "  {} agreement held-out: float {:.1}%, int8 {:.1}%",
        r.head_loss.name(),
        pct(r.heldout.objective_agreement),
        pct(r.quantized_objective_agreement)
    );
    println!(
        "  oracle agreement held-out: float {:.1}%, int8 {:.1}% (random {:.1}%, logged policy {:.1}%)",
        pct(r.heldout.float_agreement),
        pct(r.quantized_agreement),
        pct(r.heldout.random_agreement),
        pct(r.heldout.logged_policy_agreement)
    );
    let times: Vec<String> = r
        .timings
        .iter()
        .map(|(stage, s)| format!("{stage} {s:.1} s"))
        .collect();
    println!("  time: {}", times.join(", "));
    println!(
        "  wrote {} and {}",
        r.gguf_path.display(),
        r.card_path.display()
    );
    println!("  sha256 {}", r.sha256);
}
