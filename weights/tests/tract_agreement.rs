//! End to end: float model -> quantizer -> GGUF bytes -> reader -> int8 engine (scalar and
//! AVX2), checked against tract-core running the same network in f32 from the weights
//! dequantized *out of the file*, within the bound derived in `reference.rs`, on random and
//! edge inputs. Then the quantizer's accuracy against the original float model.

use augur_weights::reference::{
    TractMlp, dequantized_backbone, dequantized_head, embedding_scale, error_bound, float_layers,
};
use augur_weights::{
    Calibration, FloatModel, dequantize, quantize, quantize_input, random_float_model,
};
use model_runtime::{Backend, Engine, LayerOutput, Model, XorShift};

fn uniform(rng: &mut XorShift, n: usize, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|_| augur_weights::float::uniform(rng) * amp)
        .collect()
}

fn calibration(m: &FloatModel, seed: u64) -> Calibration {
    let mut rng = XorShift::new(seed);
    Calibration {
        inputs: (0..48)
            .map(|_| uniform(&mut rng, m.input_len(), 2.0))
            .collect(),
        candidates: m
            .heads
            .iter()
            .map(|h| {
                (0..48)
                    .map(|_| uniform(&mut rng, h.candidate_features, 3.0))
                    .collect()
            })
            .collect(),
        ..Calibration::default()
    }
}

/// Asserts agreement within `bound` (plus f32 slack); returns the worst error relative to it.
fn assert_close(what: &str, got: &[f32], want: &[f32], bound: f32) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}");
    let mut worst = 0.0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = bound + 1e-4 * (1.0 + w.abs());
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: augur {g} vs tract {w}, bound {tol}"
        );
        worst = worst.max((g - w).abs() / tol);
    }
    worst
}

/// Edge and random int8 inputs of length `n`.
fn int8_inputs(rng: &mut XorShift, n: usize) -> Vec<(&'static str, Vec<i8>)> {
    vec![
        ("random", rng.i8s(n, i8::MIN, i8::MAX)),
        ("all -128", vec![i8::MIN; n]),
        ("all 127", vec![i8::MAX; n]),
        ("zeros", vec![0; n]),
        (
            "alternating",
            (0..n)
                .map(|i| if i % 2 == 0 { i8::MIN } else { i8::MAX })
                .collect(),
        ),
    ]
}

/// Runs every input through both backends and tract; returns how many comparisons were made.
fn check_against_tract(model: &Model<'_>, candidates: usize, seed: u64) -> usize {
    let backbone = dequantized_backbone(model);
    let bb_bound = error_bound(&backbone);
    eprintln!(
        "backbone bound {bb_bound} (embedding unit {})",
        embedding_scale(model)
    );
    let mut bb_tract = TractMlp::new(&backbone, 1).unwrap();
    let emb_scale = embedding_scale(model);
    let mut rng = XorShift::new(seed);
    let mut checked = 0;
    let mut worst = 0.0f32;
    for backend in [Backend::Scalar, Backend::Avx2] {
        if !backend.is_available() {
            eprintln!("{backend} unavailable: skipped");
            continue;
        }
        let mut scratch = vec![0u8; model.scratch_len()];
        let mut engine = Engine::new(model, backend, &mut scratch).unwrap();
        for (name, x) in int8_inputs(&mut rng, model.input_len()) {
            let emb = engine.run_backbone(&x).unwrap().to_vec();
            let want = bb_tract.run(&dequantize(&x, model.input_scale())).unwrap();
            let w = assert_close(
                &format!("{backend} backbone on {name}"),
                &dequantize(&emb, emb_scale),
                &want,
                bb_bound,
            );
            worst = worst.max(w);
            checked += want.len();
            for h in 0..model.graph().head_count() {
                let head = model.head(h).unwrap();
                let layers = dequantized_head(model, h);
                let bound = error_bound(&layers);
                eprintln!("head {h} bound {bound}");
                let mut tract = TractMlp::new(&layers, candidates).unwrap();
                let f = head.candidate_features;
                for (cname, c) in int8_inputs(&mut rng, candidates * f) {
                    let outs = model.head_outputs(h).unwrap();
                    let mut scores = vec![0i32; candidates * outs];
                    engine.run_head(h, &c, &mut scores).unwrap();
                    let last = model
                        .graph()
                        .layer(head.first_layer + head.layer_count - 1)
                        .unwrap();
                    let acc: Vec<f32> = last.acc_scale.iter().collect();
                    let got: Vec<f32> = scores
                        .iter()
                        .enumerate()
                        .map(|(i, &s)| match last.output {
                            LayerOutput::I32 => s as f32 * acc[i % outs],
                            LayerOutput::I8 { .. } => s as f32 * last.output_scale,
                        })
                        .collect();
                    let rows: Vec<f32> = c
                        .chunks_exact(f)
                        .flat_map(|row| {
                            let mut r = dequantize(&emb, emb_scale);
                            r.extend(dequantize(row, head.candidate_scale));
                            r
                        })
                        .collect();
                    let want = tract.run(&rows).unwrap();
                    let w = assert_close(
                        &format!("{backend} head {} on {name}/{cname}", head.name),
                        &got,
                        &want,
                        bound,
                    );
                    worst = worst.max(w);
                    checked += want.len();
                }
            }
        }
    }
    eprintln!(
        "{checked} outputs compared; worst error {:.1}% of its bound",
        worst * 100.0
    );
    checked
}

#[test]
fn augur_shapes_agree_with_tract_within_the_bound() {
    let float = random_float_model(
        42,
        8,
        32,
        &[64, 32],
        &[
            ("sched", 16, &[32, 1]),
            ("page", 16, &[32, 1]),
            ("blk", 16, &[32, 1]),
        ],
    );
    let q = quantize(&float, &calibration(&float, 1)).unwrap();
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).unwrap();
    assert_eq!(model.name(), "random-float-42");
    // 2 backends × 5 inputs × (32 embedding values + 3 heads × 5 candidate sets × 64 scores).
    assert_eq!(
        check_against_tract(&model, 64, 7),
        2 * 5 * (32 + 3 * 5 * 64)
    );
}

#[test]
fn linnos_sized_model_agrees_with_tract() {
    let float = random_float_model(5, 1, 31, &[256, 2], &[]);
    let q = quantize(&float, &calibration(&float, 2)).unwrap();
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).unwrap();
    check_against_tract(&model, 1, 3);
}

#[test]
fn deep_heads_with_int8_scores_agree_with_tract() {
    let mut float = random_float_model(8, 4, 6, &[20, 12, 10], &[("deep", 5, &[9, 7, 3])]);
    float.heads[0].raw_scores = false;
    let q = quantize(&float, &calibration(&float, 4)).unwrap();
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).unwrap();
    check_against_tract(&model, 37, 5);
}

/// The quantizer's accuracy: on inputs like the calibration data, the int8 model stays close
/// to the original float model (run in tract from the float weights). Tolerance: 4% of the
/// output range for the embedding, 6% for head scores (three requantizations deep).
#[test]
fn quantized_model_tracks_the_float_model() {
    let float = random_float_model(11, 8, 32, &[64, 32], &[("sched", 16, &[32, 1])]);
    let calib = calibration(&float, 9);
    let q = quantize(&float, &calib).unwrap();
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).unwrap();
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut engine = Engine::new(&model, Backend::detect(), &mut scratch).unwrap();
    let mut bb = TractMlp::new(&float_layers(&float.backbone), 1).unwrap();
    let mut head = TractMlp::new(&float_layers(&float.heads[0].layers), 64).unwrap();
    let emb_scale = embedding_scale(&model);
    let score_scale = model
        .graph()
        .layer(model.graph().backbone_len() + 1)
        .unwrap()
        .acc_scale
        .iter()
        .next()
        .unwrap();
    let mut rng = XorShift::new(77);
    let (mut emb_err, mut emb_range, mut score_err, mut score_range) =
        (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for _ in 0..16 {
        let x = uniform(&mut rng, float.input_len(), 2.0);
        let want_emb = bb.run(&x).unwrap();
        let emb = engine
            .run_backbone(&quantize_input(&x, model.input_scale()))
            .unwrap()
            .to_vec();
        let got_emb = dequantize(&emb, emb_scale);
        for (g, w) in got_emb.iter().zip(&want_emb) {
            emb_err = emb_err.max((g - w).abs());
            emb_range = emb_range.max(w.abs());
        }
        let cands: Vec<Vec<f32>> = (0..64).map(|_| uniform(&mut rng, 16, 3.0)).collect();
        let rows: Vec<f32> = cands
            .iter()
            .flat_map(|c| want_emb.iter().chain(c).copied().collect::<Vec<_>>())
            .collect();
        let want = head.run(&rows).unwrap();
        let cq: Vec<i8> = cands
            .iter()
            .flat_map(|c| quantize_input(c, model.head(0).unwrap().candidate_scale))
            .collect();
        let mut scores = vec![0i32; 64];
        engine.run_head(0, &cq, &mut scores).unwrap();
        for (s, w) in scores.iter().zip(&want) {
            score_err = score_err.max((*s as f32 * score_scale - w).abs());
            score_range = score_range.max(w.abs());
        }
    }
    eprintln!(
        "embedding: max error {emb_err} over range {emb_range}; scores: {score_err} over {score_range}"
    );
    assert!(
        emb_err <= 0.04 * emb_range,
        "embedding error {emb_err} vs range {emb_range}"
    );
    assert!(
        score_err <= 0.06 * score_range,
        "score error {score_err} vs range {score_range}"
    );
}

#[test]
fn quantizer_refuses_bad_input() {
    let float = random_float_model(1, 2, 3, &[4], &[("h", 2, &[3, 1])]);
    let mut calib = calibration(&float, 1);
    calib.candidates.clear();
    assert!(
        quantize(&float, &calib)
            .unwrap_err()
            .to_string()
            .contains("candidates given for 0 heads")
    );
    let mut bad = float.clone();
    bad.backbone[0].weight.pop();
    assert!(quantize(&bad, &calibration(&float, 1)).is_err());
}

#[test]
fn weights_stay_symmetric_and_dequantize_within_half_a_step() {
    let float = random_float_model(3, 2, 8, &[16, 8], &[("h", 4, &[8, 1])]);
    let q = quantize(&float, &calibration(&float, 3)).unwrap();
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).unwrap();
    let deq = dequantized_backbone(&model);
    for (fl, (ql, dl)) in float.backbone.iter().zip(q.backbone.iter().zip(&deq)) {
        assert_eq!(ql.weight.len(), fl.weight.len());
        assert!(ql.weight.iter().all(|&w| w >= -127));
        for (o, row) in fl.weight.chunks_exact(fl.inputs).enumerate() {
            let max = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            for (i, w) in row.iter().enumerate() {
                // Each channel's step is max|w| / 127; rounding is within half of it.
                assert!(
                    (w - dl.weight[o * fl.inputs + i]).abs()
                        <= max / 127.0 * 0.5 * (1.0 + 1e-5) + 1e-7
                );
            }
        }
    }
}
