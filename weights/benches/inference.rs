//! `cargo bench -p augur-weights`: the int8 runtime against tract-core f32 (optimized plan, state
//! reused, heads as one batch) on the same weights and inputs in one run, on models made by this
//! crate's quantizer from random float models (the DESIGN.md §4 shapes and a LinnOS-sized one).
//! tract-core is the float *reference* and the speed bar to beat. The runtime-only figures (each
//! micro-kernel, load cost) are `cargo bench -p model-runtime`; the timing, the rows of the
//! runtime's backends and the table are shared with it (`model-runtime/benches/common/`,
//! included by path so the runtime crate needs nothing from `weights/`).

#[path = "../../model-runtime/benches/common/mod.rs"]
mod common;

use std::hint::black_box;

use augur_weights::reference::{TractMlp, dequantized_backbone, dequantized_head, embedding_scale};
use augur_weights::{Calibration, FloatModel, dequantize, quantize, random_float_model};
use common::{Row, backbone_input, backbone_row, head_inputs, head_row, measure, print_table};
use model_runtime::{Backend, Engine, Model, QuantizedModel, XorShift};

fn calibration(m: &FloatModel) -> Calibration {
    let mut rng = XorShift::new(99);
    let mut u = |n: usize, a: f32| {
        (0..n)
            .map(|_| augur_weights::float::uniform(&mut rng) * a)
            .collect::<Vec<f32>>()
    };
    Calibration {
        inputs: (0..32).map(|_| u(m.input_len(), 2.0)).collect(),
        candidates: m
            .heads
            .iter()
            .map(|h| (0..32).map(|_| u(h.candidate_features, 3.0)).collect())
            .collect(),
        ..Calibration::default()
    }
}

fn quantized(float: &FloatModel) -> QuantizedModel {
    quantize(float, &calibration(float)).expect("benchmark model quantizes")
}

/// The runtime's backbone row of `q`, with tract-core on the dequantized weights beside it.
fn backbone_with_tract(name: &str, q: &QuantizedModel) -> Row {
    let mut row = backbone_row(name, q);
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).expect("loads");
    let input = backbone_input(&model);
    let mut tract = TractMlp::new(&dequantized_backbone(&model), 1).expect("tract builds");
    let x = dequantize(&input, model.input_scale());
    row.tract = Some(
        measure(|| {
            black_box(tract.run(black_box(&x)).ok());
        })
        .0,
    );
    row
}

/// The runtime's head row of `q`, with tract-core running the whole batch of
/// `[embedding | features]` rows in one run beside it.
fn head_with_tract(name: &str, q: &QuantizedModel, candidates: usize) -> Row {
    let mut row = head_row(name, q, candidates);
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).expect("loads");
    let (input, cands) = head_inputs(&model, candidates);
    let features = model.head(0).expect("head").candidate_features;
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut e = Engine::new(&model, Backend::Scalar, &mut scratch).expect("engine");
    let emb = dequantize(
        e.run_backbone(&input).expect("backbone"),
        embedding_scale(&model),
    );
    let scale = model.head(0).expect("head").candidate_scale;
    let mut tract = TractMlp::new(&dequantized_head(&model, 0), candidates).expect("tract builds");
    let mut rows = Vec::with_capacity(candidates * (emb.len() + features));
    row.tract = Some(
        measure(|| {
            rows.clear();
            for c in cands.chunks_exact(features) {
                rows.extend_from_slice(&emb);
                rows.extend(c.iter().map(|&v| f32::from(v) * scale));
            }
            black_box(tract.run(black_box(&rows)).ok());
        })
        .0,
    );
    row
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, quickly.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        println!("inference vs tract-core benchmark: run with `cargo bench -p augur-weights`");
        return;
    }
    let augur = quantized(&random_float_model(
        1,
        8,
        32,
        &[64, 32],
        &[
            ("sched", 16, &[32, 1]),
            ("page", 16, &[32, 1]),
            ("blk", 16, &[32, 1]),
        ],
    ));
    let linnos = quantized(&random_float_model(2, 1, 31, &[256, 2], &[]));
    println!(
        "Augur int8 runtime vs tract-core f32 (backend detected: {}; kernels alone: cargo bench \
         -p model-runtime)",
        Backend::detect()
    );
    let rows = [
        backbone_with_tract("backbone 8x32 -> 64 -> 32", &augur),
        head_with_tract("head, 64 cands (32+16) -> 32 -> 1", &augur, 64),
        backbone_with_tract("LinnOS-sized 31 -> 256 -> 2", &linnos),
        head_with_tract("head, 1024 cands", &augur, 1024),
    ];
    print_table(&rows);
}
