//! Fuzzes the weight-file reader with arbitrary bytes: parsing must never panic, loop without
//! bound or read out of bounds (ASan), and any file it accepts must run on every available
//! backend without panicking (integer overflow checks are on in fuzz builds), with the scalar
//! and AVX2 results identical.
//!
//! Run: `cd model-runtime/fuzz && cargo fuzz run gguf_reader seeds -- -max_total_time=300`

#![no_main]

use libfuzzer_sys::fuzz_target;
use model_runtime::gguf::{Gguf, Value};
use model_runtime::{Backend, Engine, Model};

/// Skip running models whose scratch would be unreasonably large for a fuzz iteration.
const MAX_SCRATCH: usize = 1 << 22;

fn run(model: &Model<'_>, backend: Backend) -> Option<Vec<i32>> {
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut engine = Engine::new(model, backend, &mut scratch).ok()?;
    let input: Vec<i8> = (0..model.input_len()).map(|i| (i as i8).wrapping_mul(37)).collect();
    let mut out: Vec<i32> = engine.run_backbone(&input).ok()?.iter().map(|&v| i32::from(v)).collect();
    for h in 0..model.graph().head_count() {
        let f = model.head(h)?.candidate_features;
        let cands: Vec<i8> = (0..3 * f).map(|i| (i as i8).wrapping_mul(-53)).collect();
        let mut scores = vec![0i32; 3 * model.head_outputs(h)?];
        engine.run_head(h, &cands, &mut scores).ok()?;
        out.extend(scores);
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = Gguf::parse(data) {
        // Walk everything the accessors expose.
        for (key, value) in g.metadata() {
            std::hint::black_box(key.len());
            if let Value::Array(a) = value {
                std::hint::black_box(a.strings().count());
            }
        }
        for t in g.tensor_infos() {
            std::hint::black_box(t.data.len());
        }
    }
    if let Ok(model) = Model::from_gguf(data) {
        if model.scratch_len() > MAX_SCRATCH {
            return;
        }
        let scalar = run(&model, Backend::Scalar);
        if Backend::Avx2.is_available() {
            assert_eq!(scalar, run(&model, Backend::Avx2), "scalar and AVX2 disagree");
        }
    }
});
