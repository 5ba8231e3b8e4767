//! The quantized model as plain data (feature `std`): what the quantizer produces and what
//! [`QuantizedModel::to_gguf`] writes in the layout `graph.rs` documents and reads back.
//!
//! This is the one definition of the weight-file layout on the host side: the quantizer in
//! `weights/`, the tests and the benchmarks all build a [`QuantizedModel`] and serialise it
//! here, so a key can never be spelled two ways.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::gguf::TensorType;
use crate::graph::{FORMAT_VERSION, LayerOutput};
use crate::integrity::DIGEST_KEY;
use crate::writer::{DIGEST_PLACEHOLDER, GgufWriter, MetaValue};

/// One quantized dense layer.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedLayer {
    /// Unique layer name, the prefix of its tensors (`backbone.0`, `head.sched.1`).
    pub name: String,
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Row-major `[outputs][inputs]` weights in `[-127, 127]`.
    pub weight: Vec<i8>,
    /// Bias per output channel, in accumulator units.
    pub bias: Vec<i32>,
    /// Q0.31 multiplier per output channel (ignored for i32 outputs).
    pub multiplier: Vec<i32>,
    /// Right shift per output channel (ignored for i32 outputs).
    pub shift: Vec<i32>,
    /// Output kind and clamp.
    pub output: LayerOutput,
    /// Real value of one accumulator unit per output channel.
    pub acc_scale: Vec<f32>,
    /// Real value of one output unit (i8 outputs).
    pub output_scale: f32,
}

/// One telemetry section of the backbone's per-tick input (`sections.rs`), as plain data: the
/// float and the quantized model carry the same list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSection {
    /// Subsystem name (`sched`, `mm`, `blk`).
    pub name: String,
    /// The section's field-schema version.
    pub version: u32,
    /// Fields it contributes to each tick.
    pub fields: usize,
}

impl InputSection {
    /// A section called `name`.
    pub fn new(name: &str, version: u32, fields: usize) -> Self {
        InputSection {
            name: name.to_string(),
            version,
            fields,
        }
    }
}

/// One quantized head.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedHead {
    /// Head name (`sched`, `page`, `blk`).
    pub name: String,
    /// Version of its candidate-feature schema.
    pub features_version: u32,
    /// Per-candidate features after the embedding.
    pub candidate_features: usize,
    /// Real value of one candidate-feature unit.
    pub candidate_scale: f32,
    /// Layers, first to last.
    pub layers: Vec<QuantizedLayer>,
}

/// A whole quantized model.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedModel {
    /// `general.name`.
    pub name: String,
    /// Telemetry sections of each tick's input, in order (fields sum to `input_features`).
    pub sections: Vec<InputSection>,
    /// Ticks per input window.
    pub input_window: usize,
    /// Features per tick.
    pub input_features: usize,
    /// Real value of one input unit.
    pub input_scale: f32,
    /// Backbone layers, input to embedding.
    pub backbone: Vec<QuantizedLayer>,
    /// Heads.
    pub heads: Vec<QuantizedHead>,
}

fn layer_into(w: &mut GgufWriter, l: &QuantizedLayer) {
    let key = |suffix: &str| format!("augur.layer.{}.{suffix}", l.name);
    let weight: Vec<u8> = l.weight.iter().map(|&x| x as u8).collect();
    let bias: Vec<u8> = l.bias.iter().flat_map(|b| b.to_le_bytes()).collect();
    w.tensor(
        format!("{}.weight", l.name),
        TensorType::I8,
        &[l.inputs as u64, l.outputs as u64],
        weight,
    );
    w.tensor(
        format!("{}.bias", l.name),
        TensorType::I32,
        &[l.outputs as u64],
        bias,
    );
    match l.output {
        LayerOutput::I8 { lo, hi } => {
            w.kv(key("output"), MetaValue::Str("i8".into()));
            w.kv(
                key("clamp"),
                MetaValue::I32Array(Vec::from([i32::from(lo), i32::from(hi)])),
            );
            w.kv(key("multiplier"), MetaValue::I32Array(l.multiplier.clone()));
            w.kv(key("shift"), MetaValue::I32Array(l.shift.clone()));
            w.kv(key("output_scale"), MetaValue::F32(l.output_scale));
        }
        LayerOutput::I32 => {
            w.kv(key("output"), MetaValue::Str("i32".into()));
        }
    }
    w.kv(key("acc_scale"), MetaValue::F32Array(l.acc_scale.clone()));
}

impl QuantizedModel {
    /// The GGUF writer holding this model (tests tweak it before serialising).
    pub fn to_writer(&self) -> GgufWriter {
        let mut w = GgufWriter::new();
        let names = |ls: &[QuantizedLayer]| {
            MetaValue::StrArray(ls.iter().map(|l| l.name.clone()).collect())
        };
        w.kv("general.architecture", MetaValue::Str("augur".into()));
        w.kv("general.name", MetaValue::Str(self.name.clone()));
        w.kv("augur.format_version", MetaValue::U32(FORMAT_VERSION));
        // Sealed by the writer once the file is laid out (`integrity.rs`).
        w.kv(
            DIGEST_KEY,
            MetaValue::Str(String::from_utf8_lossy(&DIGEST_PLACEHOLDER).into_owned()),
        );
        w.kv(
            "augur.input.window",
            MetaValue::U32(self.input_window as u32),
        );
        w.kv(
            "augur.input.features",
            MetaValue::U32(self.input_features as u32),
        );
        w.kv("augur.input.scale", MetaValue::F32(self.input_scale));
        w.kv(
            "augur.input.sections",
            MetaValue::StrArray(self.sections.iter().map(|s| s.name.clone()).collect()),
        );
        for s in &self.sections {
            let key = |suffix: &str| format!("augur.input.section.{}.{suffix}", s.name);
            w.kv(key("version"), MetaValue::U32(s.version));
            w.kv(key("fields"), MetaValue::U32(s.fields as u32));
        }
        w.kv("augur.backbone.layers", names(&self.backbone));
        w.kv(
            "augur.heads",
            MetaValue::StrArray(self.heads.iter().map(|h| h.name.clone()).collect()),
        );
        for h in &self.heads {
            let key = |suffix: &str| format!("augur.head.{}.{suffix}", h.name);
            w.kv(key("layers"), names(&h.layers));
            w.kv(
                key("candidate_features"),
                MetaValue::U32(h.candidate_features as u32),
            );
            w.kv(key("features_version"), MetaValue::U32(h.features_version));
            w.kv(key("candidate_scale"), MetaValue::F32(h.candidate_scale));
        }
        for l in self
            .backbone
            .iter()
            .chain(self.heads.iter().flat_map(|h| &h.layers))
        {
            layer_into(&mut w, l);
        }
        w
    }

    /// The model as a GGUF v3 file.
    pub fn to_gguf(&self) -> Vec<u8> {
        self.to_writer().to_bytes()
    }

    /// Total multiply-accumulates of one backbone run.
    pub fn backbone_macs(&self) -> usize {
        self.backbone.iter().map(|l| l.inputs * l.outputs).sum()
    }

    /// Multiply-accumulates of one head call over `candidates`, counting the embedding part
    /// once (as the engine computes it).
    pub fn head_macs(&self, head: usize, candidates: usize) -> usize {
        let Some(h) = self.heads.get(head) else {
            return 0;
        };
        let embedding = self.backbone.last().map_or(0, |l| l.outputs);
        h.layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    l.outputs * embedding + candidates * l.outputs * h.candidate_features
                } else {
                    candidates * l.inputs * l.outputs
                }
            })
            .sum()
    }
}

/// A deterministic xorshift generator for test and benchmark models (no `rand` dependency).
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// Seeded generator (seed 0 is remapped).
    pub fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// `n` int8 values in `lo..=hi`.
    pub fn i8s(&mut self, n: usize, lo: i8, hi: i8) -> Vec<i8> {
        (0..n)
            .map(|_| self.range(lo.into(), hi.into()) as i8)
            .collect()
    }
}

/// A random quantized layer: weights in `[-127, 127]`, small biases, and per-channel
/// multipliers/shifts sized so outputs land mostly inside int8 (some saturate, as in real use).
pub fn random_layer(
    rng: &mut XorShift,
    name: &str,
    inputs: usize,
    outputs: usize,
    output: LayerOutput,
) -> QuantizedLayer {
    // Typical |acc| ~ sqrt(inputs) · 64 · 64; aim that at ~64 output units.
    let typical = (inputs as f64).sqrt() * 4096.0;
    let shift = ((typical / 64.0).log2().ceil() as i32).clamp(0, 31);
    QuantizedLayer {
        name: name.to_string(),
        inputs,
        outputs,
        weight: rng.i8s(inputs * outputs, -127, 127),
        bias: (0..outputs)
            .map(|_| rng.range(-20_000, 20_000) as i32)
            .collect(),
        multiplier: (0..outputs)
            .map(|_| rng.range(1 << 30, i64::from(i32::MAX)) as i32)
            .collect(),
        shift: (0..outputs)
            .map(|_| (shift + rng.range(-1, 1) as i32).clamp(0, 31))
            .collect(),
        output,
        acc_scale: (0..outputs).map(|_| 1e-4).collect(),
        output_scale: 1e-2,
    }
}

/// A random model: backbone widths (input first), then heads as
/// `(name, candidate_features, widths after the first layer's input)`; hidden layers are ReLU,
/// the embedding is signed, and each head's last layer outputs raw i32 scores.
pub fn random_model(
    seed: u64,
    window: usize,
    features: usize,
    backbone: &[usize],
    heads: &[(&str, usize, &[usize])],
) -> QuantizedModel {
    const RELU: LayerOutput = LayerOutput::I8 { lo: 0, hi: 127 };
    const NONE: LayerOutput = LayerOutput::I8 { lo: -128, hi: 127 };
    let mut rng = XorShift::new(seed);
    let mut layers = Vec::new();
    let mut width = window * features;
    for (i, &out) in backbone.iter().enumerate() {
        let act = if i + 1 == backbone.len() { NONE } else { RELU };
        layers.push(random_layer(
            &mut rng,
            &format!("backbone.{i}"),
            width,
            out,
            act,
        ));
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
                        LayerOutput::I32
                    } else {
                        RELU
                    };
                    let l = random_layer(&mut rng, &format!("head.{name}.{i}"), width, out, act);
                    width = out;
                    l
                })
                .collect();
            QuantizedHead {
                name: name.to_string(),
                features_version: 1,
                candidate_features: cand,
                candidate_scale: 1e-2,
                layers,
            }
        })
        .collect();
    QuantizedModel {
        name: format!("random-{seed}"),
        sections: Vec::from([InputSection::new("sched", 1, features)]),
        input_window: window,
        input_features: features,
        input_scale: 1e-2,
        backbone: layers,
        heads,
    }
}
