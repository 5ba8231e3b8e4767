//! The quantizer: a [`FloatModel`] plus calibration inputs in, a [`QuantizedModel`] out.
//!
//! 1. **Calibrate**: run the float model over the calibration windows (and, per head, every
//!    calibration candidate against every calibration embedding) and record `max|x|` of the
//!    input, the candidate features and every layer output.
//! 2. **Scales**: each tensor gets `scale = max|x| / 127` (symmetric, zero point 0), except the
//!    backbone input and the candidate features when [`Calibration::input_scale`] /
//!    [`Calibration::candidate_scale`] fix them: the kernel computes those int8 values itself
//!    (`telemetry::to_model_input`), so a model trained on them *as numbers* needs scale 1.0
//!    whatever range the calibration data happens to reach.
//! 3. **Weights, per output channel**: with `in_scale[i]` the scale of input column `i`, the
//!    channel's accumulator scale is `acc_scale[o] = max_i |w[o][i]| · in_scale[i] / 127`
//!    (never below `|b[o]| / 2^30`, so the bias fits), and
//!    `w_q = round(w · in_scale[i] / acc_scale[o])` lands in `[-127, 127]` (never -128: the
//!    AVX2 kernels rely on it). For ordinary layers `in_scale` is uniform and this is plain
//!    per-channel quantization; for a head's first layer it folds the embedding/candidate
//!    scale ratio into the weights.
//! 4. **Bias**: `b_q = round(b / acc_scale[o])`, exact i32 in accumulator units.
//! 5. **Requantization**: `m[o] = acc_scale[o] / out_scale` as Q0.31 multiplier and shift
//!    (`model_runtime::quant::quantize_multiplier`). The runtime only represents `m < 1`; when
//!    calibration would give `m >= 1` the output scale is widened until it holds.
//!
//! Rounding is half away from zero (`f32::round`).

use std::fmt;

use model_runtime::quant::{MAX_ABS_BIAS, quantize_multiplier};
use model_runtime::{LayerOutput, QuantizedHead, QuantizedLayer, QuantizedModel};

use crate::float::{Activation, FloatLayer, FloatModel};

/// Sample inputs that set the activation ranges.
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    /// Backbone input windows (`window × features` each).
    pub inputs: Vec<Vec<f32>>,
    /// Per head (in model order): candidate feature rows.
    pub candidates: Vec<Vec<Vec<f32>>>,
    /// Real value of one backbone input unit, when the caller fixes it (`None`: calibrated,
    /// `max|x| / 127` over `inputs`). `Some(1.0)` for a model that reads the kernel's int8
    /// telemetry as the numbers they are.
    pub input_scale: Option<f32>,
    /// Real value of one candidate-feature unit for every head, when fixed (`None`:
    /// calibrated per head over `candidates`).
    pub candidate_scale: Option<f32>,
}

/// Why a model could not be quantized.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantizeError {
    /// The float model is malformed.
    InvalidModel(String),
    /// Calibration data is missing or has the wrong shape.
    BadCalibration(String),
}

impl fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantizeError::InvalidModel(why) => {
                write!(f, "cannot quantize: invalid float model: {why}")
            }
            QuantizeError::BadCalibration(why) => {
                write!(f, "cannot quantize: bad calibration data: {why}")
            }
        }
    }
}

impl std::error::Error for QuantizeError {}

/// Smallest range treated as non-zero (an all-zero tensor still needs a positive scale).
const MIN_RANGE: f32 = 1e-12;

fn scale_of(max_abs: f32) -> f32 {
    max_abs.max(MIN_RANGE) / 127.0
}

fn max_abs(xs: &[f32]) -> f32 {
    xs.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

/// Quantizes values to int8 at `scale` (round half away from zero, saturating).
pub fn quantize_input(x: &[f32], scale: f32) -> Vec<i8> {
    x.iter()
        .map(|v| (v / scale).round().clamp(-128.0, 127.0) as i8)
        .collect()
}

/// Real values of int8 data at `scale`.
pub fn dequantize(q: &[i8], scale: f32) -> Vec<f32> {
    q.iter().map(|&v| f32::from(v) * scale).collect()
}

/// Quantizes one layer given the scale of each input column and the calibrated output scale
/// (`None` for a raw i32 output). Returns the layer and its actual output scale.
fn quantize_layer(
    name: String,
    l: &FloatLayer,
    in_scales: &[f32],
    out_scale: Option<f32>,
) -> (QuantizedLayer, f32) {
    let acc_scale: Vec<f32> = l
        .weight
        .chunks_exact(l.inputs)
        .zip(&l.bias)
        .map(|(row, b)| {
            let w = row
                .iter()
                .zip(in_scales)
                .fold(0.0f32, |m, (w, s)| m.max(w.abs() * s))
                / 127.0;
            w.max(b.abs() / MAX_ABS_BIAS as f32).max(MIN_RANGE)
        })
        .collect();
    let weight = l
        .weight
        .chunks_exact(l.inputs)
        .zip(&acc_scale)
        .flat_map(|(row, acc)| {
            row.iter()
                .zip(in_scales)
                .map(move |(w, s)| (w * s / acc).round().clamp(-127.0, 127.0) as i8)
        })
        .collect();
    let bias = l
        .bias
        .iter()
        .zip(&acc_scale)
        .map(|(b, acc)| {
            (f64::from(*b) / f64::from(*acc))
                .round()
                .clamp(-f64::from(MAX_ABS_BIAS), f64::from(MAX_ABS_BIAS)) as i32
        })
        .collect();
    let (output, out_scale) = match out_scale {
        None => (LayerOutput::I32, 0.0),
        Some(s) => {
            let (lo, hi) = match l.activation {
                Activation::Relu => (0, 127),
                Activation::None => (-128, 127),
            };
            // The runtime's multiplier is < 1: widen the output scale where needed.
            let widest = acc_scale.iter().fold(0.0f32, |m, a| m.max(*a));
            (LayerOutput::I8 { lo, hi }, s.max(widest * (1.0 + 1e-6)))
        }
    };
    let (multiplier, shift) = match output {
        LayerOutput::I32 => (Vec::new(), Vec::new()),
        LayerOutput::I8 { .. } => acc_scale
            .iter()
            .map(|a| quantize_multiplier(f64::from(*a) / f64::from(out_scale)).unwrap_or((0, 0)))
            .unzip(),
    };
    let q = QuantizedLayer {
        name,
        inputs: l.inputs,
        outputs: l.outputs,
        weight,
        bias,
        multiplier,
        shift,
        output,
        acc_scale,
        output_scale: out_scale,
    };
    (q, out_scale)
}

/// Quantizes `model` with activation ranges measured on `calib`.
pub fn quantize(model: &FloatModel, calib: &Calibration) -> Result<QuantizedModel, QuantizeError> {
    model.validate().map_err(QuantizeError::InvalidModel)?;
    if calib.inputs.is_empty() {
        return Err(QuantizeError::BadCalibration(
            "no calibration inputs".into(),
        ));
    }
    if let Some(bad) = calib.inputs.iter().find(|x| x.len() != model.input_len()) {
        return Err(QuantizeError::BadCalibration(format!(
            "an input has {} values, the model takes {}",
            bad.len(),
            model.input_len()
        )));
    }
    if calib.candidates.len() != model.heads.len() {
        return Err(QuantizeError::BadCalibration(format!(
            "candidates given for {} heads, the model has {}",
            calib.candidates.len(),
            model.heads.len()
        )));
    }

    for (what, fixed) in [
        ("input", calib.input_scale),
        ("candidate", calib.candidate_scale),
    ] {
        if let Some(s) = fixed.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(QuantizeError::BadCalibration(format!(
                "fixed {what} scale {s} is not a positive finite number"
            )));
        }
    }

    // 1. Calibrate.
    let input_max = calib.inputs.iter().map(|x| max_abs(x)).fold(0.0, f32::max);
    let mut backbone_max = vec![0.0f32; model.backbone.len()];
    let embeddings: Vec<Vec<f32>> = calib
        .inputs
        .iter()
        .map(|x| {
            model.backbone_forward(x, |i, y| backbone_max[i] = backbone_max[i].max(max_abs(y)))
        })
        .collect();
    let mut heads = Vec::new();
    let mut emb_scale = 0.0;
    let mut backbone = Vec::new();
    let mut in_scale = calib.input_scale.unwrap_or_else(|| scale_of(input_max));
    let input_scale = in_scale;
    for (i, l) in model.backbone.iter().enumerate() {
        let scales = vec![in_scale; l.inputs];
        let (q, out) = quantize_layer(
            format!("backbone.{i}"),
            l,
            &scales,
            Some(scale_of(backbone_max[i])),
        );
        backbone.push(q);
        in_scale = out;
        emb_scale = out;
    }
    for (h, head) in model.heads.iter().enumerate() {
        let rows = &calib.candidates[h];
        if rows.is_empty() || rows.iter().any(|r| r.len() != head.candidate_features) {
            return Err(QuantizeError::BadCalibration(format!(
                "head '{}' needs at least one candidate row of {} features",
                head.name, head.candidate_features
            )));
        }
        let cand_scale = calib
            .candidate_scale
            .unwrap_or_else(|| scale_of(rows.iter().map(|r| max_abs(r)).fold(0.0, f32::max)));
        let mut layer_max = vec![0.0f32; head.layers.len()];
        for e in &embeddings {
            for r in rows {
                model.head_forward(h, e, r, |i, y| layer_max[i] = layer_max[i].max(max_abs(y)));
            }
        }
        let mut scales: Vec<f32> = std::iter::repeat_n(emb_scale, model.embedding_len())
            .chain(std::iter::repeat_n(cand_scale, head.candidate_features))
            .collect();
        let mut layers = Vec::new();
        for (i, l) in head.layers.iter().enumerate() {
            let raw = head.raw_scores && i + 1 == head.layers.len();
            let out_scale = (!raw).then(|| scale_of(layer_max[i]));
            let (q, out) = quantize_layer(format!("head.{}.{i}", head.name), l, &scales, out_scale);
            layers.push(q);
            scales = vec![out; l.outputs];
        }
        heads.push(QuantizedHead {
            name: head.name.clone(),
            features_version: head.features_version,
            candidate_features: head.candidate_features,
            candidate_scale: cand_scale,
            layers,
        });
    }
    Ok(QuantizedModel {
        name: model.name.clone(),
        sections: model.sections.clone(),
        input_window: model.input_window,
        input_features: model.input_features,
        input_scale,
        backbone,
        heads,
    })
}
