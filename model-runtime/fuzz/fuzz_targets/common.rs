//! What both weight-file fuzz targets do with an input: walk everything the GGUF reader
//! exposes, load it as a model, and run any model it accepts on every available backend.

use model_runtime::gguf::{Gguf, Value};
use model_runtime::integrity::{DIGEST_KEY, digest_without, to_hex};
use model_runtime::{Backend, Engine, LoadError, Model};

/// Skip running models whose scratch would be unreasonably large for a fuzz iteration. The
/// seeds need well under 64 KiB; zeroing megabytes of scratch per backend per input made the
/// sealed target (which accepts most inputs) five times slower for no new coverage.
const MAX_SCRATCH: usize = 1 << 18;

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

/// Parses, loads and runs `data`; returns the load result's error, if any.
pub fn exercise(data: &[u8]) -> Option<LoadError> {
    if let Ok(g) = Gguf::parse(data) {
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
    let model = match Model::from_gguf(data) {
        Ok(model) => model,
        Err(e) => return Some(e),
    };
    // An accepted file hashes, around its stored digest, to exactly that digest.
    let span = model.gguf().str_span(DIGEST_KEY).expect("an accepted file has a digest");
    assert_eq!(&data[span.clone()], &model.digest_hex());
    assert_eq!(model.digest_hex(), to_hex(&digest_without(data, span)));
    for s in model.sections() {
        assert!(s.first_field + s.fields <= model.input_features());
    }
    if model.scratch_len() <= MAX_SCRATCH {
        let scalar = run(&model, Backend::Scalar);
        if Backend::Avx2.is_available() {
            assert_eq!(scalar, run(&model, Backend::Avx2), "scalar and AVX2 disagree");
        }
        if Backend::Vnni.is_available() {
            assert_eq!(scalar, run(&model, Backend::Vnni), "scalar and VNNI disagree");
        }
    }
    None
}
