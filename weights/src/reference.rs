//! The f32 reference: any Augur model rebuilt with tract-core, and the bound the int8 runtime
//! must stay within.
//!
//! [`dequantized_backbone`] and [`dequantized_head`] read a loaded [`Model`] (so the file
//! itself, not the quantizer's memory, is what gets checked) and turn each layer into f32:
//! `w[o][i] · acc_scale[o] / in_scale[i]`, bias `b[o] · acc_scale[o]`, and the layer's int8
//! clamp as a real-valued clip `[lo · out_scale, hi · out_scale]`. [`TractMlp`] runs such
//! layers as a tract-core graph (`EinSum "mk,nk->mn"`, bias add, max/min), optimized, with
//! its state kept between runs.
//!
//! # The agreement bound
//! Feed both the same quantized input (so the input error is 0). Then for each layer:
//! - the integer accumulator equals the f32 pre-activation exactly, up to f32 rounding;
//! - requantization adds at most 1 output unit of error: gemmlowp's doubling high multiply
//!   rounds to within 1/2 of `2^-shift` units and the rounding shift within 1/2 unit, and the
//!   Q0.31 multiplier and f32 scales add a relative 2^-23 or so on at most 128 units;
//! - an input error `e` grows by at most `A = max_o Σ_i |w_deq[o][i]|` through the layer,
//!   and clips and ReLU are 1-Lipschitz.
//!
//! So `E_0 = 0`, `E_l = A_l · E_(l-1) + (1 + 1e-4) · out_scale_l` (no second term for a raw
//! i32 output), and every output satisfies `|augur - tract| <= E_L`, plus f32 summation slack
//! `1e-4 · (1 + |tract|)`. [`error_bound`] computes `E_L`.

use model_runtime::{Layer, LayerOutput, Model};
use tract_core::internal::*;
use tract_core::ops::einsum::EinSum;

use crate::float::{Activation, FloatLayer};

/// One layer in f32, ready for tract.
#[derive(Clone, Debug)]
pub struct RefLayer {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Row-major `[outputs][inputs]`.
    pub weight: Vec<f32>,
    /// `[outputs]`.
    pub bias: Vec<f32>,
    /// Clip after the bias (`None`: identity).
    pub clamp: Option<(f32, f32)>,
    /// Output scale for int8 layers (the requantization error unit); `None` for raw outputs
    /// and float models.
    pub output_scale: Option<f32>,
}

fn deq_layer(l: &Layer<'_>, in_scales: &[f32]) -> RefLayer {
    let acc: Vec<f32> = l.acc_scale.iter().collect();
    let weight = l
        .weight
        .chunks_exact(l.inputs)
        .zip(&acc)
        .flat_map(|(row, a)| {
            row.iter()
                .zip(in_scales)
                .map(move |(&w, s)| f32::from(w) * a / s)
        })
        .collect();
    let bias = l.bias.iter().zip(&acc).map(|(b, a)| b as f32 * a).collect();
    let (clamp, output_scale) = match l.output {
        LayerOutput::I8 { lo, hi } => (
            Some((
                f32::from(lo) * l.output_scale,
                f32::from(hi) * l.output_scale,
            )),
            Some(l.output_scale),
        ),
        LayerOutput::I32 => (None, None),
    };
    RefLayer {
        inputs: l.inputs,
        outputs: l.outputs,
        weight,
        bias,
        clamp,
        output_scale,
    }
}

/// The backbone of `model`, dequantized from the file.
pub fn dequantized_backbone(model: &Model<'_>) -> Vec<RefLayer> {
    let mut scales = vec![model.input_scale(); model.input_len()];
    model
        .graph()
        .backbone()
        .map(|l| {
            let r = deq_layer(l, &scales);
            scales = vec![l.output_scale; l.outputs];
            r
        })
        .collect()
}

/// Scale of the embedding (the backbone's last output scale).
pub fn embedding_scale(model: &Model<'_>) -> f32 {
    model
        .graph()
        .backbone()
        .last()
        .map_or(1.0, |l| l.output_scale)
}

/// Head `head` of `model`, dequantized from the file; its input rows are
/// `[embedding · embedding_scale | features · candidate_scale]`.
pub fn dequantized_head(model: &Model<'_>, head: usize) -> Vec<RefLayer> {
    let Some(h) = model.head(head) else {
        return Vec::new();
    };
    let mut scales: Vec<f32> = std::iter::repeat_n(embedding_scale(model), model.embedding_len())
        .chain(std::iter::repeat_n(h.candidate_scale, h.candidate_features))
        .collect();
    h.layer_range()
        .filter_map(|i| model.graph().layer(i))
        .map(|l| {
            let r = deq_layer(l, &scales);
            scales = vec![l.output_scale; l.outputs];
            r
        })
        .collect()
}

/// A float model's layers as reference layers (ReLU as a clip at 0).
pub fn float_layers(layers: &[FloatLayer]) -> Vec<RefLayer> {
    layers
        .iter()
        .map(|l| RefLayer {
            inputs: l.inputs,
            outputs: l.outputs,
            weight: l.weight.clone(),
            bias: l.bias.clone(),
            clamp: (l.activation == Activation::Relu).then_some((0.0, f32::INFINITY)),
            output_scale: None,
        })
        .collect()
}

/// `E_L` of the module docs: the most any output of the int8 chain may differ from the f32
/// reference when both get the same quantized input.
pub fn error_bound(layers: &[RefLayer]) -> f32 {
    layers.iter().fold(0.0f32, |e, l| {
        let gain = l
            .weight
            .chunks_exact(l.inputs)
            .map(|row| row.iter().map(|w| w.abs()).sum::<f32>())
            .fold(0.0, f32::max);
        gain * e + l.output_scale.map_or(0.0, |s| s * (1.0 + 1e-4))
    })
}

/// A chain of dense layers as an optimized tract-core plan over a fixed batch, with its state
/// kept between runs (what the benchmark times).
pub struct TractMlp {
    state: TypedSimpleState,
    batch: usize,
    inputs: usize,
}

impl TractMlp {
    /// Builds `[batch, inputs] -> ... -> [batch, outputs]`.
    pub fn new(layers: &[RefLayer], batch: usize) -> TractResult<Self> {
        let inputs = layers.first().map_or(0, |l| l.inputs);
        let mut model = TypedModel::default();
        let mut x = model.add_source("x", f32::fact([batch, inputs]))?;
        for (i, l) in layers.iter().enumerate() {
            let w = model.add_const(
                format!("w{i}"),
                Tensor::from_shape(&[l.outputs, l.inputs], &l.weight)?,
            )?;
            let b = model.add_const(
                format!("b{i}"),
                Tensor::from_shape(&[1, l.outputs], &l.bias)?,
            )?;
            let einsum = EinSum {
                axes: "mk,nk->mn".parse()?,
                operating_dt: f32::datum_type(),
                q_params: None,
            };
            x = model.wire_node(format!("mm{i}"), einsum, &[x, w])?[0];
            x = model.wire_node(format!("bias{i}"), tract_core::ops::math::add(), &[x, b])?[0];
            if let Some((lo, hi)) = l.clamp {
                let lo = model.add_const(format!("lo{i}"), Tensor::from_shape(&[1, 1], &[lo])?)?;
                x = model.wire_node(format!("max{i}"), tract_core::ops::math::max(), &[x, lo])?[0];
                if hi.is_finite() {
                    let hi =
                        model.add_const(format!("hi{i}"), Tensor::from_shape(&[1, 1], &[hi])?)?;
                    x = model.wire_node(
                        format!("min{i}"),
                        tract_core::ops::math::min(),
                        &[x, hi],
                    )?[0];
                }
            }
        }
        model.select_output_outlets(&[x])?;
        let plan = model.into_optimized()?.into_runnable()?;
        Ok(TractMlp {
            state: plan.spawn()?,
            batch,
            inputs,
        })
    }

    /// Runs on `batch × inputs` values (row-major) and returns `batch × outputs`.
    pub fn run(&mut self, x: &[f32]) -> TractResult<Vec<f32>> {
        let input = Tensor::from_shape(&[self.batch, self.inputs], x)?;
        let out = self.state.run(tvec!(input.into_tvalue()))?;
        Ok(out[0].try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
    }
}
