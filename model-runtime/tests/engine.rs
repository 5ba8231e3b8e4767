//! End-to-end runs of whole models: the scalar engine against a naive reference written
//! straight from the `QuantizedModel` (concatenation done explicitly, one candidate at a time),
//! and the AVX2 and VNNI engines against the scalar one, bit for bit, on random shapes and inputs
//! including the extremes.

use model_runtime::quant::requantize;
use model_runtime::{
    Backend, Engine, HEAD_BATCH, LayerOutput, Model, QuantizedLayer, QuantizedModel, RunError,
    XorShift, random_model,
};
use proptest::prelude::*;

/// One dense layer the obvious way: i32 accumulators, then requantize or keep raw.
fn naive_layer(l: &QuantizedLayer, x: &[i8]) -> Vec<i32> {
    (0..l.outputs)
        .map(|o| {
            let acc = l.bias[o]
                + (0..l.inputs)
                    .map(|i| i32::from(l.weight[o * l.inputs + i]) * i32::from(x[i]))
                    .sum::<i32>();
            match l.output {
                LayerOutput::I8 { lo, hi } => {
                    i32::from(requantize(acc, l.multiplier[o], l.shift[o], lo, hi))
                }
                LayerOutput::I32 => acc,
            }
        })
        .collect()
}

fn naive_chain(layers: &[QuantizedLayer], input: &[i8]) -> Vec<i32> {
    let mut x: Vec<i8> = input.to_vec();
    let mut out = Vec::new();
    for l in layers {
        out = naive_layer(l, &x);
        x = out.iter().map(|&v| v as i8).collect();
    }
    out
}

fn naive_head(q: &QuantizedModel, head: usize, embedding: &[i8], cands: &[i8]) -> Vec<i32> {
    let h = &q.heads[head];
    cands
        .chunks_exact(h.candidate_features)
        .flat_map(|c| {
            let row: Vec<i8> = embedding.iter().chain(c).copied().collect();
            naive_chain(&h.layers, &row)
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Inputs {
    Random,
    AllMin,
    AllMax,
}

fn inputs(rng: &mut XorShift, n: usize, how: Inputs) -> Vec<i8> {
    match how {
        Inputs::Random => rng.i8s(n, i8::MIN, i8::MAX),
        Inputs::AllMin => vec![i8::MIN; n],
        Inputs::AllMax => vec![i8::MAX; n],
    }
}

/// Runs everything on every available backend and checks it against the naive reference.
fn check_model(q: &QuantizedModel, seed: u64, how: Inputs, candidates: usize) {
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).expect("generated model loads");
    let mut rng = XorShift::new(seed);
    let input = inputs(&mut rng, model.input_len(), how);
    let want_emb: Vec<i8> = naive_chain(&q.backbone, &input)
        .iter()
        .map(|&v| v as i8)
        .collect();
    let cands: Vec<Vec<i8>> = q
        .heads
        .iter()
        .map(|h| inputs(&mut rng, candidates * h.candidate_features, how))
        .collect();
    for backend in [Backend::Scalar, Backend::Avx2, Backend::Vnni] {
        if !backend.is_available() {
            eprintln!("{backend} not available: skipped");
            continue;
        }
        let mut scratch = vec![0xA5u8; model.scratch_len() + 7];
        // Misalign on purpose: the engine must align internally.
        let mut engine = Engine::new(&model, backend, &mut scratch[3..]).unwrap();
        assert_eq!(
            engine.run_head(0, &[], &mut []),
            if q.heads.is_empty() {
                Err(RunError::NoSuchHead { index: 0, heads: 0 })
            } else {
                Err(RunError::NoEmbedding)
            }
        );
        let emb = engine.run_backbone(&input).unwrap().to_vec();
        assert_eq!(emb, want_emb, "{backend}: embedding");
        for (i, c) in cands.iter().enumerate() {
            let outs = model.head_outputs(i).unwrap();
            let mut scores = vec![0i32; candidates * outs];
            engine.run_head(i, c, &mut scores).unwrap();
            assert_eq!(scores, naive_head(q, i, &emb, c), "{backend}: head {i}");
        }
        // A second tick on other inputs reuses the prepared scratch.
        let input2 = inputs(&mut rng, model.input_len(), Inputs::Random);
        let emb2 = engine.run_backbone(&input2).unwrap().to_vec();
        let want2: Vec<i8> = naive_chain(&q.backbone, &input2)
            .iter()
            .map(|&v| v as i8)
            .collect();
        assert_eq!(emb2, want2, "{backend}: second tick");
    }
}

#[test]
fn augur_shapes_backbone_and_three_heads() {
    // DESIGN.md §4: 8 ticks × 32 features -> 64 -> 32; heads (32 + 16) -> 32 -> 1.
    let q = random_model(
        7,
        8,
        32,
        &[64, 32],
        &[
            ("sched", 16, &[32, 1]),
            ("page", 16, &[32, 1]),
            ("blk", 16, &[32, 1]),
        ],
    );
    for (how, n) in [
        (Inputs::Random, 64),
        (Inputs::AllMin, 64),
        (Inputs::AllMax, 64),
        (Inputs::Random, 1024),
    ] {
        check_model(&q, 11, how, n);
    }
}

#[test]
fn linnos_sized_mlp() {
    let q = random_model(3, 1, 31, &[256, 2], &[]);
    for how in [Inputs::Random, Inputs::AllMin, Inputs::AllMax] {
        check_model(&q, 5, how, 0);
    }
}

#[test]
fn head_batches_of_every_chunk_boundary() {
    let q = random_model(21, 2, 5, &[12, 9], &[("odd", 7, &[13, 3, 2])]);
    for n in [
        0,
        1,
        HEAD_BATCH - 1,
        HEAD_BATCH,
        HEAD_BATCH + 1,
        3 * HEAD_BATCH + 5,
    ] {
        check_model(&q, n as u64, Inputs::Random, n);
    }
}

#[test]
fn run_errors_are_reported_not_panicked() {
    let q = random_model(1, 2, 4, &[8], &[("h", 4, &[4, 1])]);
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).unwrap();
    let mut small = vec![0u8; model.scratch_len() - 1];
    assert!(matches!(
        Engine::new(&model, Backend::Scalar, &mut small),
        Err(model_runtime::EngineError::ScratchTooSmall { .. })
    ));
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut e = Engine::new(&model, Backend::Scalar, &mut scratch).unwrap();
    assert_eq!(
        e.run_backbone(&[0; 7]),
        Err(RunError::InputLen {
            expected: 8,
            found: 7
        })
    );
    e.run_backbone(&[1; 8]).unwrap();
    assert_eq!(
        e.run_head(0, &[0; 6], &mut [0; 1]),
        Err(RunError::CandidatesLen { row: 4, found: 6 })
    );
    assert_eq!(
        e.run_head(0, &[0; 8], &mut [0; 1]),
        Err(RunError::ScoresLen {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        e.run_head(1, &[0; 8], &mut [0; 2]),
        Err(RunError::NoSuchHead { index: 1, heads: 1 })
    );
    assert_eq!(model.head_index("h"), Some(0));
    assert_eq!(model.head_index("nope"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random graphs: widths with every tail, signed and ReLU layers, 1–3 layer heads.
    #[test]
    fn random_graphs_match_the_naive_reference(
        seed in any::<u64>(),
        window in 1..4usize,
        features in 1..12usize,
        backbone in proptest::collection::vec(1..40usize, 1..4),
        head_widths in proptest::collection::vec(1..20usize, 1..4),
        cand_features in 1..10usize,
        candidates in 0..80usize,
    ) {
        let q = random_model(seed, window, features, &backbone, &[("h", cand_features, &head_widths)]);
        check_model(&q, seed, Inputs::Random, candidates);
    }
}
