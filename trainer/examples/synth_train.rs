//! Trains on synthetic traces of the kernel's workload mixes, to try the trainer (and time
//! it) without booting: `cargo run --release -p augur-trainer --example synth_train -- DIR
//! [TICKS] [SEEDS]` writes `DIR/<mix>-s<seed>-rr.trace` for every mix and seeds 1..=SEEDS,
//! holds out the last seed, and writes `DIR/synthetic.gguf` and its card.

use std::path::PathBuf;
use std::time::Instant;

use augur_kernel::workload::Mix;
use augur_trainer::synth::{SynthConfig, synth_trace};
use augur_trainer::{HoldOut, TraceSource, TrainConfig, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .ok_or("usage: synth_train DIR [TICKS] [SEEDS]")?,
    );
    let ticks: u64 = args.get(2).map_or(Ok(10_000), |s| s.parse())?;
    let seeds: u64 = args.get(3).map_or(Ok(4), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;
    let start = Instant::now();
    for (mix, name) in Mix::ALL {
        for seed in 1..=seeds {
            let cfg = SynthConfig {
                mix,
                seed,
                ticks,
                explore_percent: 20,
            };
            std::fs::write(
                dir.join(format!("{name}-s{seed}-rr.trace")),
                synth_trace(&cfg),
            )?;
        }
    }
    eprintln!("simulated in {:.1}s", start.elapsed().as_secs_f64());
    let mut config = TrainConfig::new(TraceSource::Dir(dir.clone()), dir.join("synthetic.gguf"));
    config.holdout = HoldOut {
        seeds_from: Some(seeds),
        mixes: Vec::new(),
    };
    config.command_line = args.join(" ");
    let start = Instant::now();
    let report = train(&config, &mut |l| eprintln!("{l}"))?;
    eprintln!(
        "trained in {:.1}s: {:?}",
        start.elapsed().as_secs_f64(),
        report.timings
    );
    Ok(())
}
