//! Writes a randomly initialised, quantized Augur model (DESIGN.md §4 shapes: 8 × 32 inputs
//! -> 64 -> 32 embedding; heads `sched`, `page`, `blk` of (32 + 16) -> 32 -> 1) to a GGUF file,
//! for trying the reader and standard GGUF tools on. The weights are random: it decides
//! nothing useful.
//!
//! `cargo run -p augur-weights --example random_model -- random-augur.gguf`

use augur_weights::{Calibration, float::uniform, quantize, random_float_model};
use model_runtime::{Model, XorShift};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "random-augur.gguf".into());
    let float = random_float_model(
        2026,
        8,
        32,
        &[64, 32],
        &[
            ("sched", 16, &[32, 1]),
            ("page", 16, &[32, 1]),
            ("blk", 16, &[32, 1]),
        ],
    );
    let mut rng = XorShift::new(7);
    let mut u = |n: usize| (0..n).map(|_| uniform(&mut rng)).collect::<Vec<f32>>();
    let calib = Calibration {
        inputs: (0..32).map(|_| u(256)).collect(),
        candidates: (0..3).map(|_| (0..32).map(|_| u(16)).collect()).collect(),
        ..Calibration::default()
    };
    let mut q = quantize(&float, &calib)?;
    q.name = "augur-random-example".into();
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes)?;
    std::fs::write(&path, &bytes)?;
    println!(
        "wrote {path}: {} bytes, model '{}', {} tensors, heads {:?}",
        bytes.len(),
        model.name(),
        model.gguf().tensor_len(),
        model.graph().heads().map(|h| h.name).collect::<Vec<_>>()
    );
    Ok(())
}
