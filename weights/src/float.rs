//! The float model a trainer hands to the quantizer, and its plain f32 forward pass.
//!
//! Shapes follow PyTorch/candle `Linear`: weight `[out][in]` row-major, bias `[out]`. The
//! forward pass here is the straightforward one; it is used to calibrate activation ranges,
//! not as the reference (that is tract-core, `reference.rs`).

use model_runtime::{InputSection, XorShift};

/// Activation after a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Identity.
    None,
    /// `max(0, x)`.
    Relu,
}

impl Activation {
    /// Applies the activation.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
        }
    }
}

/// One dense layer in f32.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatLayer {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Row-major `[outputs][inputs]`.
    pub weight: Vec<f32>,
    /// `[outputs]`.
    pub bias: Vec<f32>,
    /// Activation applied to the output.
    pub activation: Activation,
}

impl FloatLayer {
    /// `activation(W x + b)`.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        self.weight
            .chunks_exact(self.inputs)
            .zip(&self.bias)
            .map(|(row, b)| {
                self.activation
                    .apply(row.iter().zip(x).map(|(w, x)| w * x).sum::<f32>() + b)
            })
            .collect()
    }
}

/// A head in f32: input rows are `[embedding | candidate features]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatHead {
    /// Head name (`sched`, `page`, `blk`).
    pub name: String,
    /// Per-candidate features after the embedding.
    pub candidate_features: usize,
    /// Version of the candidate-feature schema it was trained on.
    pub features_version: u32,
    /// Layers, first to last.
    pub layers: Vec<FloatLayer>,
    /// Whether the last layer's raw accumulator is the score (`i32` output: full resolution for
    /// ranking, per-channel scales) instead of a requantized int8.
    pub raw_scores: bool,
}

/// A whole float model.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatModel {
    /// `general.name` of the file it becomes.
    pub name: String,
    /// The telemetry sections of each tick's input, with the versions it was trained on
    /// (fields sum to `input_features`).
    pub sections: Vec<InputSection>,
    /// Ticks per input window.
    pub input_window: usize,
    /// Features per tick.
    pub input_features: usize,
    /// Backbone layers, input to embedding.
    pub backbone: Vec<FloatLayer>,
    /// Heads.
    pub heads: Vec<FloatHead>,
}

fn chain(layers: &[FloatLayer], x: &[f32], mut visit: impl FnMut(usize, &[f32])) -> Vec<f32> {
    let mut x = x.to_vec();
    for (i, l) in layers.iter().enumerate() {
        x = l.forward(&x);
        visit(i, &x);
    }
    x
}

impl FloatModel {
    /// Backbone input width.
    pub fn input_len(&self) -> usize {
        self.input_window * self.input_features
    }

    /// Embedding width.
    pub fn embedding_len(&self) -> usize {
        self.backbone.last().map_or(0, |l| l.outputs)
    }

    /// The embedding of one input window; `visit(layer, output)` sees every layer's output.
    pub fn backbone_forward(&self, x: &[f32], visit: impl FnMut(usize, &[f32])) -> Vec<f32> {
        chain(&self.backbone, x, visit)
    }

    /// One candidate's head outputs; `visit` sees every layer's output.
    pub fn head_forward(
        &self,
        head: usize,
        embedding: &[f32],
        features: &[f32],
        visit: impl FnMut(usize, &[f32]),
    ) -> Vec<f32> {
        let row: Vec<f32> = embedding.iter().chain(features).copied().collect();
        chain(&self.heads[head].layers, &row, visit)
    }

    /// Checks that layer widths chain and tensors have their declared sizes.
    pub fn validate(&self) -> Result<(), String> {
        let check = |what: &str, layers: &[FloatLayer], mut width: usize| -> Result<(), String> {
            if layers.is_empty() {
                return Err(format!("{what} has no layers"));
            }
            for (i, l) in layers.iter().enumerate() {
                if l.inputs != width {
                    return Err(format!(
                        "{what} layer {i} takes {} inputs, gets {width}",
                        l.inputs
                    ));
                }
                if l.weight.len() != l.inputs * l.outputs || l.bias.len() != l.outputs {
                    return Err(format!(
                        "{what} layer {i}: weight/bias sizes do not match {}x{}",
                        l.outputs, l.inputs
                    ));
                }
                if l.weight.iter().chain(&l.bias).any(|v| !v.is_finite()) {
                    return Err(format!("{what} layer {i} has a non-finite parameter"));
                }
                width = l.outputs;
            }
            Ok(())
        };
        check("backbone", &self.backbone, self.input_len())?;
        for h in &self.heads {
            check(
                &format!("head '{}'", h.name),
                &h.layers,
                self.embedding_len() + h.candidate_features,
            )?;
        }
        Ok(())
    }
}

/// Uniform in `[-1, 1)` from the runtime's deterministic generator.
pub fn uniform(rng: &mut XorShift) -> f32 {
    (rng.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

fn random_layer(
    rng: &mut XorShift,
    inputs: usize,
    outputs: usize,
    activation: Activation,
) -> FloatLayer {
    // He-style uniform init: variance 2 / inputs.
    let a = (6.0 / inputs as f32).sqrt();
    FloatLayer {
        inputs,
        outputs,
        weight: (0..inputs * outputs).map(|_| uniform(rng) * a).collect(),
        bias: (0..outputs).map(|_| uniform(rng) * 0.1).collect(),
        activation,
    }
}

/// A random float model (ReLU hidden layers, linear embedding and head outputs) for tests and
/// benchmarks: `backbone` are the layer widths after the input, `heads` are
/// `(name, candidate_features, widths)`.
pub fn random_float_model(
    seed: u64,
    window: usize,
    features: usize,
    backbone: &[usize],
    heads: &[(&str, usize, &[usize])],
) -> FloatModel {
    let mut rng = XorShift::new(seed);
    let mut width = window * features;
    let mut layers = Vec::new();
    for (i, &out) in backbone.iter().enumerate() {
        let act = if i + 1 == backbone.len() {
            Activation::None
        } else {
            Activation::Relu
        };
        layers.push(random_layer(&mut rng, width, out, act));
        width = out;
    }
    let embedding = width;
    let heads = heads
        .iter()
        .map(|&(name, cand, widths)| {
            let mut width = embedding + cand;
            let layers = widths
                .iter()
                .enumerate()
                .map(|(i, &out)| {
                    let act = if i + 1 == widths.len() {
                        Activation::None
                    } else {
                        Activation::Relu
                    };
                    let l = random_layer(&mut rng, width, out, act);
                    width = out;
                    l
                })
                .collect();
            FloatHead {
                name: name.to_string(),
                candidate_features: cand,
                features_version: 1,
                layers,
                raw_scores: true,
            }
        })
        .collect();
    FloatModel {
        name: format!("random-float-{seed}"),
        sections: vec![InputSection::new("sched", 1, features)],
        input_window: window,
        input_features: features,
        backbone: layers,
        heads,
    }
}
