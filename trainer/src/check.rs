//! Quantization and the checks a model must pass before it is written.
//!
//! 1. **Calibrate and quantize** ([`quantize_model`]): calibration windows and candidate rows
//!    are sampled from the *training* data and set the ranges of the hidden activations. The
//!    kernel feeds the raw int8 model inputs, so the input and candidate scales are fixed at
//!    1.0 (one int8 unit = one unit of the float model's input), and checked in the result.
//! 2. **Load** the bytes back with the runtime's reader and [`check_schema`] them.
//! 3. **Reference** ([`reference_check`]): on sample decisions, the int8 engine (scalar) and
//!    tract-core running the dequantized file in f32 must agree within
//!    [`augur_weights::reference::error_bound`] plus f32 slack, for the embedding and every score.
//! 4. **Held-out agreement** ([`quantized_agreement`]): the quantized model's oracle agreement
//!    on held-out decisions may be below the float model's by at most a margin.
//!
//! Any failure is a [`CheckFailure`] naming the check and its numbers; the caller then writes
//! nothing.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use augur_kernel::learn::Head;
use augur_kernel::learn::schema::SchemaMismatch;
use augur_kernel::sched::head::{SchedHead, check_schema};
use augur_weights::reference::{
    TractMlp, dequantized_backbone, dequantized_head, embedding_scale, error_bound,
};
use augur_weights::{Calibration, FloatModel, QuantizeError, dequantize, quantize};
use model_runtime::{Backend, Engine, LayerOutput, LoadError, Model, QuantizedModel, argmax};

use crate::dataset::DecisionExample;

/// Real value of one int8 model-input unit: the float model reads the kernel's int8 values as
/// the numbers they are.
const INT8_UNIT: f32 = 1.0;

/// A check the model failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckFailure {
    /// The quantizer refused the model or the calibration data.
    Quantize(QuantizeError),
    /// The quantized input scales are not 1.0 (the kernel feeds raw int8 values).
    InputScale {
        /// The backbone input scale in the file.
        input: f32,
        /// The scheduler head's candidate scale in the file.
        candidates: f32,
    },
    /// The written bytes do not load.
    Load(String),
    /// The file does not match the kernel's telemetry schema.
    Schema(SchemaMismatch),
    /// The int8 engine and the tract-core f32 reference disagree beyond the bound.
    Reference {
        /// Which output (`embedding` or `score`) and which sample.
        what: String,
        /// The engine's value.
        augur: f32,
        /// tract-core's value.
        tract: f32,
        /// The allowed difference.
        bound: f32,
    },
    /// The quantized model agrees with the oracle on held-out decisions too much less often
    /// than the float model.
    Agreement {
        /// Float model's held-out agreement.
        float: f64,
        /// Quantized model's held-out agreement.
        quantized: f64,
        /// The largest drop allowed.
        margin: f64,
    },
    /// The runtime refused to run the model.
    Run(String),
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckFailure::Quantize(e) => write!(f, "quantization: {e}"),
            CheckFailure::InputScale { input, candidates } => write!(
                f,
                "input-scale check: the file says input scale {input} and candidate scale {candidates}, \
                 the kernel feeds raw int8 values (scale 1.0)"
            ),
            CheckFailure::Load(e) => write!(f, "load check: the quantized file does not load: {e}"),
            CheckFailure::Schema(e) => write!(f, "schema check: {e}"),
            CheckFailure::Reference {
                what,
                augur,
                tract,
                bound,
            } => write!(
                f,
                "reference check: {what}: int8 engine {augur} vs tract-core {tract}, allowed difference {bound}"
            ),
            CheckFailure::Agreement {
                float,
                quantized,
                margin,
            } => write!(
                f,
                "held-out agreement check: quantized {:.2}% vs float {:.2}%, more than the allowed {:.2} points below",
                quantized * 100.0,
                float * 100.0,
                margin * 100.0
            ),
            CheckFailure::Run(e) => write!(f, "run check: the runtime refused the model: {e}"),
        }
    }
}

impl std::error::Error for CheckFailure {}

/// Quantizes `model` with the given calibration windows and candidate rows (int8 values).
pub fn quantize_model(
    model: &FloatModel,
    windows: &[&[i8]],
    candidates: &[&[i8]],
) -> Result<QuantizedModel, CheckFailure> {
    let as_f32 = |rows: &[&[i8]]| -> Vec<Vec<f32>> {
        rows.iter()
            .map(|r| r.iter().map(|&v| f32::from(v)).collect())
            .collect()
    };
    let calib = Calibration {
        inputs: as_f32(windows),
        candidates: vec![as_f32(candidates)],
        input_scale: Some(INT8_UNIT),
        candidate_scale: Some(INT8_UNIT),
    };
    let q = quantize(model, &calib).map_err(CheckFailure::Quantize)?;
    let cand_scale = q.heads.first().map_or(0.0, |h| h.candidate_scale);
    if q.input_scale != INT8_UNIT || cand_scale != INT8_UNIT {
        return Err(CheckFailure::InputScale {
            input: q.input_scale,
            candidates: cand_scale,
        });
    }
    Ok(q)
}

/// Loads `bytes` and checks the schema; returns the model and its scheduler head's index.
pub fn load_checked(bytes: &[u8]) -> Result<(Model<'_>, usize), CheckFailure> {
    let model =
        Model::from_gguf(bytes).map_err(|e: LoadError| CheckFailure::Load(e.to_string()))?;
    let head = check_schema(&model).map_err(CheckFailure::Schema)?;
    Ok((model, head))
}

/// Result of the reference check.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReferenceStats {
    /// Outputs compared.
    pub compared: usize,
    /// Worst difference as a fraction of its allowed bound.
    pub worst_fraction: f32,
    /// The embedding bound (real units).
    pub embedding_bound: f32,
    /// The score bound (real units).
    pub score_bound: f32,
}

/// Compares the int8 engine with tract-core on `samples` (see the module docs).
pub fn reference_check(
    model: &Model<'_>,
    head: usize,
    samples: &[&DecisionExample],
) -> Result<ReferenceStats, CheckFailure> {
    let run = |e: &dyn fmt::Display| CheckFailure::Run(e.to_string());
    let backbone = dequantized_backbone(model);
    let head_layers = dequantized_head(model, head);
    let mut stats = ReferenceStats {
        embedding_bound: error_bound(&backbone),
        score_bound: error_bound(&head_layers),
        ..ReferenceStats::default()
    };
    let emb_scale = embedding_scale(model);
    let h = *model
        .head(head)
        .ok_or_else(|| CheckFailure::Run(format!("no `{}` head", SchedHead::NAME)))?;
    let last = model
        .graph()
        .layer(h.first_layer + h.layer_count - 1)
        .ok_or_else(|| CheckFailure::Run(format!("`{}` head has no layers", SchedHead::NAME)))?;
    let score_unit = match last.output {
        LayerOutput::I32 => last.acc_scale.iter().next().unwrap_or(0.0),
        LayerOutput::I8 { .. } => last.output_scale,
    };
    let mut bb_tract = TractMlp::new(&backbone, 1).map_err(|e| run(&e))?;
    // One optimized tract plan per candidate count (building one is the slow part).
    let mut head_tracts: HashMap<usize, TractMlp> = HashMap::new();
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut engine = Engine::new(model, Backend::Scalar, &mut scratch).map_err(|e| run(&e))?;
    for (s, ex) in samples.iter().enumerate() {
        let emb = engine
            .run_backbone(&ex.window)
            .map_err(|e| run(&e))?
            .to_vec();
        let want = bb_tract
            .run(&dequantize(&ex.window, model.input_scale()))
            .map_err(|e| run(&e))?;
        let got = dequantize(&emb, emb_scale);
        compare(
            &format!("embedding of sample {s}"),
            &got,
            &want,
            stats.embedding_bound,
            &mut stats,
        )?;
        let flat: Vec<i8> = ex.rows.iter().flatten().copied().collect();
        let mut scores = vec![0i32; ex.rows.len()];
        engine
            .run_head(head, &flat, &mut scores)
            .map_err(|e| run(&e))?;
        let rows: Vec<f32> = ex
            .rows
            .iter()
            .flat_map(|r| {
                let mut x = got.clone();
                x.extend(dequantize(r, h.candidate_scale));
                x
            })
            .collect();
        let tract = match head_tracts.entry(ex.rows.len()) {
            Entry::Occupied(t) => t.into_mut(),
            Entry::Vacant(v) => {
                v.insert(TractMlp::new(&head_layers, ex.rows.len()).map_err(|e| run(&e))?)
            }
        };
        let want = tract.run(&rows).map_err(|e| run(&e))?;
        let got: Vec<f32> = scores.iter().map(|&v| v as f32 * score_unit).collect();
        compare(
            &format!("scores of sample {s}"),
            &got,
            &want,
            stats.score_bound,
            &mut stats,
        )?;
    }
    Ok(stats)
}

fn compare(
    what: &str,
    got: &[f32],
    want: &[f32],
    bound: f32,
    stats: &mut ReferenceStats,
) -> Result<(), CheckFailure> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = bound + 1e-4 * (1.0 + w.abs());
        if (g - w).abs() > tol || got.len() != want.len() {
            return Err(CheckFailure::Reference {
                what: format!("{what}, output {i}"),
                augur: *g,
                tract: *w,
                bound: tol,
            });
        }
        stats.worst_fraction = stats.worst_fraction.max((g - w).abs() / tol);
        stats.compared += 1;
    }
    Ok(())
}

/// Fraction of `examples` where the int8 model's pick (runtime `argmax`, first on ties, as the
/// kernel decides) is a right one by `agrees` (e.g. [`DecisionExample::agrees`], the oracle's).
pub fn quantized_agreement(
    model: &Model<'_>,
    head: usize,
    examples: &[&DecisionExample],
    agrees: &dyn Fn(&DecisionExample, usize) -> bool,
) -> Result<f64, CheckFailure> {
    let run = |e: &dyn fmt::Display| CheckFailure::Run(e.to_string());
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut engine = Engine::new(model, Backend::Scalar, &mut scratch).map_err(|e| run(&e))?;
    let mut agree = 0usize;
    let mut flat = Vec::new();
    let mut scores = Vec::new();
    for ex in examples {
        engine.run_backbone(&ex.window).map_err(|e| run(&e))?;
        flat.clear();
        flat.extend(ex.rows.iter().flatten().copied());
        scores.clear();
        scores.resize(ex.rows.len(), 0i32);
        engine
            .run_head(head, &flat, &mut scores)
            .map_err(|e| run(&e))?;
        agree += usize::from(argmax(&scores).is_some_and(|p| agrees(ex, p)));
    }
    Ok(agree as f64 / examples.len().max(1) as f64)
}

/// Fraction of `examples` where the float model's pick with head `head` (first on ties) is a
/// right one by `agrees`.
pub fn float_agreement(
    model: &FloatModel,
    head: usize,
    examples: &[&DecisionExample],
    agrees: &dyn Fn(&DecisionExample, usize) -> bool,
) -> f64 {
    let mut agree = 0usize;
    for ex in examples {
        let x: Vec<f32> = ex.window.iter().map(|&v| f32::from(v)).collect();
        let emb = model.backbone_forward(&x, |_, _| {});
        let mut best: Option<(usize, f32)> = None;
        for (i, r) in ex.rows.iter().enumerate() {
            let f: Vec<f32> = r.iter().map(|&v| f32::from(v)).collect();
            let s = model.head_forward(head, &emb, &f, |_, _| {})[0];
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((i, s));
            }
        }
        agree += usize::from(best.is_some_and(|(p, _)| agrees(ex, p)));
    }
    agree as f64 / examples.len().max(1) as f64
}
