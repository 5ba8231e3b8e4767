//! In-kernel tests of the inference runtime on the real machine: the AVX2 kernels, run in the
//! kernel's soft-float context with SIMD state enabled at boot, compute exactly what the
//! scalar reference computes (the host proptests check the same natively).

use super::{KTest, ktest_assert};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use model_runtime::{Backend, Engine, Model};

pub static TESTS: &[KTest] = &[KTest {
    name: "model::avx2_matches_scalar_in_kernel",
    run: avx2_matches_scalar_in_kernel,
}];

/// GGUF tensor offsets are relative to the file, so the file itself is kept 32-byte aligned.
#[repr(C, align(32))]
struct Aligned<T: ?Sized>(T);

/// A small random model with a backbone and heads (the reader's fuzzing seed).
static TINY_MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(
    "../../../model-runtime/fuzz/seeds/augur-tiny.gguf"
));

/// Backbone embedding and every head's scores for `inputs` and `candidates` on `backend`.
fn infer(
    model: &Model<'_>,
    backend: Backend,
    input: &[i8],
    candidates: &[Vec<i8>],
) -> Result<Vec<i32>, String> {
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut engine =
        Engine::new(model, backend, &mut scratch).map_err(|e| alloc::format!("{e}"))?;
    let mut out: Vec<i32> = engine
        .run_backbone(input)
        .map_err(|e| alloc::format!("{e}"))?
        .iter()
        .map(|&v| i32::from(v))
        .collect();
    for (head, rows) in candidates.iter().enumerate() {
        let features = model.head(head).map_or(1, |h| h.candidate_features);
        let outputs = model.head_outputs(head).unwrap_or(0);
        let mut scores = vec![0i32; rows.len() / features * outputs];
        engine
            .run_head(head, rows, &mut scores)
            .map_err(|e| alloc::format!("{e}"))?;
        out.extend_from_slice(&scores);
    }
    Ok(out)
}

fn avx2_matches_scalar_in_kernel() -> Result<(), String> {
    let model = Model::from_gguf(&TINY_MODEL.0).map_err(|e| alloc::format!("{e}"))?;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as i8
    };
    // Random values, then the extremes that stress i16 saturation in `vpmaddubsw`.
    for fill in [None, Some(i8::MIN), Some(i8::MAX)] {
        let mut value = || fill.unwrap_or_else(&mut next);
        let input: Vec<i8> = (0..model.input_len()).map(|_| value()).collect();
        let candidates: Vec<Vec<i8>> = (0..model.graph().head_count())
            .map(|h| {
                let features = model.head(h).map_or(1, |x| x.candidate_features);
                // 67 rows: more than one batch of 64, with a tail.
                (0..67 * features).map(|_| value()).collect()
            })
            .collect();
        let scalar = infer(&model, Backend::Scalar, &input, &candidates)?;
        if !Backend::Avx2.is_available() {
            ktest_assert!(
                Engine::new(&model, Backend::Avx2, &mut vec![0u8; model.scratch_len()]).is_err(),
                "the AVX2 engine started on a CPU without usable AVX2"
            );
            continue;
        }
        let avx2 = infer(&model, Backend::Avx2, &input, &candidates)?;
        ktest_assert!(
            scalar.len() == avx2.len() && !scalar.is_empty(),
            "output lengths differ"
        );
        if let Some(i) = (0..scalar.len()).find(|&i| scalar[i] != avx2[i]) {
            return Err(alloc::format!(
                "output {i}: scalar {} vs avx2 {} (fill {fill:?})",
                scalar[i],
                avx2[i]
            ));
        }
    }
    Ok(())
}
