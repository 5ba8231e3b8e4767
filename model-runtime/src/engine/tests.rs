//! The whole-head VNNI path (`vnni::head_scores`) against the scalar engine, on the shapes the
//! kernel-level tests cannot reach: candidate counts at every tile and batch boundary (in
//! place and through the padded buffer), features not a whole number of groups, hidden widths
//! over one chunk, ReLU and signed hidden layers, unsigned and signed embeddings, extremes.

use super::*;
use crate::plan::{fused_head, whole_backbone};
use crate::{QuantizedModel, XorShift, random_model};
use std::vec;
use std::vec::Vec;

fn scores(model: &Model<'_>, backend: Backend, input: &[i8], cands: &[i8]) -> Vec<i32> {
    let mut scratch = vec![0x5Au8; model.scratch_len()];
    let mut e = Engine::new(model, backend, &mut scratch).unwrap();
    e.run_backbone(input).unwrap();
    let mut out = vec![0i32; cands.len() / model.graph().head(0).unwrap().candidate_features];
    e.run_head(0, cands, &mut out).unwrap();
    out
}

#[test]
fn fused_heads_match_scalar() {
    if !Backend::Vnni.is_available() {
        std::eprintln!("AVX-512 VNNI not available here: fused head test skipped");
        return;
    }
    let mut seed = 1;
    for features in [1, 3, 4, 7, 16, 17] {
        for hidden in [1, 8, 32, 33, 70] {
            for (signed_hidden, relu_embedding) in [(false, false), (true, false), (true, true)] {
                seed += 1;
                let mut q: QuantizedModel =
                    random_model(seed, 2, 6, &[12, 9], &[("h", features, &[hidden, 1])]);
                if signed_hidden {
                    q.heads[0].layers[0].output = LayerOutput::I8 { lo: -100, hi: 90 };
                }
                if relu_embedding {
                    q.backbone[1].output = LayerOutput::I8 { lo: 0, hi: 127 };
                }
                let bytes = q.to_gguf();
                let model = Model::from_gguf(&bytes).unwrap();
                assert!(fused_head(model.graph(), model.graph().head(0).unwrap()).is_some());
                let mut rng = XorShift::new(seed);
                for (rows, lo, hi) in [
                    (0, -128, 127),
                    (1, -128, 127),
                    (3, -128, 127),
                    (4, -128, 127),
                    (5, 127, 127),
                    (8, -128, 127),
                    (HEAD_BATCH, -128, 127),
                    (HEAD_BATCH + 3, -128, -128),
                    (2 * HEAD_BATCH + 9, -128, 127),
                ] {
                    let input = rng.i8s(model.input_len(), lo, hi);
                    let cands = rng.i8s(rows * features, lo, hi);
                    assert_eq!(
                        scores(&model, Backend::Vnni, &input, &cands),
                        scores(&model, Backend::Scalar, &input, &cands),
                        "features {features}, hidden {hidden}, signed {signed_hidden}, \
                         rows {rows}"
                    );
                }
            }
        }
    }
}

/// The whole-backbone VNNI kernel (`vnni::backbone_rows`) against the scalar engine through
/// `run_backbone`: input windows of whole groups (read in place) and not (through the padded
/// buffer), layer widths at both ends of its tiles, every clamp kind, extreme inputs; and a
/// backbone just outside its shapes, which takes the per-layer path and must agree too.
#[test]
fn whole_backbone_matches_scalar() {
    if !Backend::Vnni.is_available() {
        std::eprintln!("AVX-512 VNNI not available here: whole-backbone test skipped");
        return;
    }
    let relu = LayerOutput::I8 { lo: 0, hi: 127 };
    let signed = LayerOutput::I8 { lo: -128, hi: 127 };
    let narrow = LayerOutput::I8 { lo: -20, hi: 30 };
    let mut seed = 100;
    for (window, features) in [(8, 32), (3, 7), (1, 1), (2, 2), (5, 61)] {
        for (hidden, n) in [(64, 32), (57, 25), (61, 29), (56, 32), (64, 33)] {
            for (out0, out1) in [
                (relu, relu),
                (relu, signed),
                (signed, relu),
                (narrow, narrow),
            ] {
                seed += 1;
                let mut q: QuantizedModel = random_model(seed, window, features, &[hidden, n], &[]);
                q.backbone[0].output = out0;
                q.backbone[1].output = out1;
                let bytes = q.to_gguf();
                let model = Model::from_gguf(&bytes).unwrap();
                let fits = hidden.div_ceil(8) == 8 && n.div_ceil(8) == 4;
                assert_eq!(whole_backbone(model.graph()).is_some(), fits);
                let mut rng = XorShift::new(seed);
                for (lo, hi) in [(-128, 127), (-128, -128), (127, 127), (0, 127)] {
                    let input = rng.i8s(model.input_len(), lo, hi);
                    let run = |backend| {
                        let mut scratch = vec![0x5Au8; model.scratch_len()];
                        let mut e = Engine::new(&model, backend, &mut scratch).unwrap();
                        // Twice: the second call must not depend on the first's leftovers.
                        e.run_backbone(&input).unwrap();
                        e.run_backbone(&input).unwrap().to_vec()
                    };
                    assert_eq!(
                        run(Backend::Vnni),
                        run(Backend::Scalar),
                        "input {window}x{features}, widths {hidden}/{n}, inputs {lo}..={hi}"
                    );
                }
            }
        }
    }
}
