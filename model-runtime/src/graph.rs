//! The Augur layer graph: how `augur.*` metadata and tensors describe a backbone and heads.
//!
//! A model is a **backbone** (a chain of dense layers from the input window to the embedding),
//! run once per tick, and named **heads** (chains of dense layers), each run over a batch of
//! candidates whose input row is the embedding followed by that candidate's own features.
//! A model with no heads is a plain MLP (the LinnOS-sized model is one).
//!
//! # Encoding (format version [`FORMAT_VERSION`])
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `augur.format_version` | u32 | this encoding's version (2; version 1 files are refused with the re-export command) |
//! | `augur.digest.sha256` | string | SHA-256 of the file without these 64 hex digits (`integrity.rs`) |
//! | `augur.input.window`, `augur.input.features` | u32 | input is `window × features` int8, tick-major |
//! | `augur.input.sections` | [string] | telemetry sections of a tick's row, in order (`sections.rs`) |
//! | `augur.input.section.<s>.version`, `.fields` | u32 | each section's schema version and width; widths sum to `features` |
//! | `augur.input.scale` | f32 | real value of one input unit |
//! | `augur.backbone.layers` | [string] | layer names, input to embedding |
//! | `augur.heads` | [string] | head names (may be empty) |
//! | `augur.head.<h>.layers` | [string] | the head's layer names |
//! | `augur.head.<h>.candidate_features` | u32 | per-candidate features after the embedding |
//! | `augur.head.<h>.features_version` | u32 | version of the head's candidate-feature schema |
//! | `augur.head.<h>.candidate_scale` | f32 | real value of one candidate-feature unit |
//! | `augur.layer.<l>.output` | string | `"i8"` (requantized) or `"i32"` (raw accumulator, last head layer only) |
//! | `augur.layer.<l>.clamp` | [i32; 2] | `[lo, hi]` output clamp, the fused activation (`[0, 127]` = ReLU) |
//! | `augur.layer.<l>.multiplier` | [i32; out] | Q0.31 requantization multiplier per output channel |
//! | `augur.layer.<l>.shift` | [i32; out] | right shift per output channel, 0..=31 |
//! | `augur.layer.<l>.acc_scale` | [f32; out] | real value of one accumulator unit per channel |
//! | `augur.layer.<l>.output_scale` | f32 | real value of one output unit (i8 outputs) |
//!
//! Tensors: `<l>.weight` is I8 with GGUF dims `[in, out]` (row-major `[out][in]`, the layout of
//! PyTorch/candle `Linear`), `<l>.bias` is I32 `[out]`. Dequantized weight
//! `w[o][i] · acc_scale[o] / in_scale[i]`, where `in_scale` is the previous layer's output
//! scale (the input scale for the first backbone layer; for a head's first layer the
//! embedding's scale for the first columns and `candidate_scale` for the rest).
//!
//! All `i8` layers but a head's last one feed other layers, and the backbone's last layer
//! (the embedding) is always `i8`. Multipliers, shifts, weights and biases are range-checked
//! here once, so the kernels need no checks (see `quant.rs` for the ranges).

use crate::error::{LoadError, Name};
use crate::gguf::{Array, Gguf, TensorInfo, TensorType, Value, ValueType};
use crate::quant::{MAX_ABS_BIAS, MAX_SHIFT, MAX_WIDTH, MIN_WEIGHT};

/// The encoding version this runtime reads. Version 2 replaced version 1's single
/// `augur.schema_version` with input sections and per-head feature versions, and added the
/// integrity digest; `augur-weights`'s re-export tool converts version 1 files.
pub const FORMAT_VERSION: u32 = 2;
/// Most layers in a model (backbone and heads together).
pub const MAX_LAYERS: usize = 16;
/// Most heads in a model.
pub const MAX_HEADS: usize = 8;

/// What a layer outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerOutput {
    /// Requantized int8, clamped to `[lo, hi]` (the fused activation).
    I8 { lo: i8, hi: i8 },
    /// The raw i32 accumulator (scores), only as a head's last layer.
    I32,
}

/// Little-endian i32 values borrowed from the file (tensor data or a metadata array; GGUF gives
/// no alignment guarantee for the latter, so elements are decoded, never cast).
#[derive(Clone, Copy, Debug, Default)]
pub struct I32s<'a>(&'a [u8]);

impl<'a> I32s<'a> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }

    /// Value `i`, if in range.
    pub fn get(&self, i: usize) -> Option<i32> {
        let b = self
            .0
            .get(i.checked_mul(4)?..i.checked_mul(4)?.checked_add(4)?)?;
        Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// All values in order.
    pub fn iter(&self) -> impl Iterator<Item = i32> + 'a {
        self.0
            .as_chunks::<4>()
            .0
            .iter()
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Little-endian f32 values borrowed from a metadata array (host-side dequantization only).
#[derive(Clone, Copy, Debug, Default)]
pub struct F32s<'a>(&'a [u8]);

impl<'a> F32s<'a> {
    /// All values in order.
    pub fn iter(&self) -> impl Iterator<Item = f32> + 'a {
        self.0
            .as_chunks::<4>()
            .0
            .iter()
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// One dense layer, validated, borrowing its tensors from the file.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// Layer name (tensor prefix).
    pub name: &'a str,
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Weights, row-major `[outputs][inputs]`, every value in `[-127, 127]`.
    pub weight: &'a [i8],
    /// Bias per output channel, `|b| <= 2^30`.
    pub bias: I32s<'a>,
    /// Q0.31 multiplier per output channel, in `[0, 2^31)`.
    pub multiplier: I32s<'a>,
    /// Right shift per output channel, in `[0, 31]`.
    pub shift: I32s<'a>,
    /// Real value of one accumulator unit per output channel.
    pub acc_scale: F32s<'a>,
    /// Real value of one output unit (i8 outputs; 0 for i32).
    pub output_scale: f32,
    /// Output kind and clamp.
    pub output: LayerOutput,
    /// Whether this layer's input may be negative (decides the AVX2 kernel variant).
    pub signed_input: bool,
}

/// A named head: a chain of layers over `[embedding | candidate features]` rows.
#[derive(Clone, Copy, Debug)]
pub struct Head<'a> {
    /// Head name (`sched`, `page`, `blk`, ...).
    pub name: &'a str,
    /// Per-candidate features that follow the embedding in each input row.
    pub candidate_features: usize,
    /// Version of the head's candidate-feature schema (`augur.head.<h>.features_version`).
    pub features_version: u32,
    /// Real value of one candidate-feature unit.
    pub candidate_scale: f32,
    /// Index of the first layer in [`Graph::layers`].
    pub first_layer: usize,
    /// Number of layers.
    pub layer_count: usize,
}

impl Head<'_> {
    /// Indices of this head's layers in [`Graph::layers`].
    pub fn layer_range(&self) -> core::ops::Range<usize> {
        self.first_layer..self.first_layer + self.layer_count
    }
}

/// The validated graph: layers (backbone first, then each head's), and the heads.
#[derive(Clone, Copy, Debug)]
pub struct Graph<'a> {
    layers: [Option<Layer<'a>>; MAX_LAYERS],
    layer_count: usize,
    backbone_len: usize,
    heads: [Option<Head<'a>>; MAX_HEADS],
    head_count: usize,
}

fn missing(parts: &[&str]) -> LoadError {
    LoadError::MissingKey {
        key: Name::from_parts(parts),
    }
}

fn wrong(parts: &[&str], expected: &'static str, v: &Value<'_>) -> LoadError {
    LoadError::WrongKeyType {
        key: Name::from_parts(parts),
        expected,
        found: v.type_name(),
    }
}

/// Typed metadata look-ups that turn absence and type mismatch into [`LoadError`]s.
pub(crate) struct Meta<'g, 'a>(pub(crate) &'g Gguf<'a>);

impl<'a> Meta<'_, 'a> {
    fn value(&self, parts: &[&str]) -> Result<Value<'a>, LoadError> {
        self.0.get_parts(parts).ok_or_else(|| missing(parts))
    }

    pub(crate) fn u32(&self, parts: &[&str]) -> Result<u32, LoadError> {
        match self.value(parts)? {
            Value::U32(v) => Ok(v),
            v => Err(wrong(parts, "u32", &v)),
        }
    }

    pub(crate) fn f32(&self, parts: &[&str]) -> Result<f32, LoadError> {
        match self.value(parts)? {
            Value::F32(v) => Ok(v),
            v => Err(wrong(parts, "f32", &v)),
        }
    }

    pub(crate) fn str(&self, parts: &[&str]) -> Result<&'a str, LoadError> {
        match self.value(parts)? {
            Value::Str(v) => Ok(v),
            v => Err(wrong(parts, "string", &v)),
        }
    }

    fn array(
        &self,
        parts: &[&str],
        elem: ValueType,
        expected: &'static str,
    ) -> Result<Array<'a>, LoadError> {
        match self.value(parts)? {
            Value::Array(a) if a.elem() == elem => Ok(a),
            v => Err(wrong(parts, expected, &v)),
        }
    }

    pub(crate) fn strings(&self, parts: &[&str]) -> Result<Array<'a>, LoadError> {
        self.array(parts, ValueType::String, "array of string")
    }

    /// An i32 array of exactly `len` entries, each in `[min, max]`.
    fn i32s(&self, parts: &[&str], len: usize, min: i32, max: i32) -> Result<I32s<'a>, LoadError> {
        let a = self.array(parts, ValueType::I32, "array of i32")?;
        if a.len() != len as u64 {
            return Err(LoadError::BadArrayLen {
                key: Name::from_parts(parts),
                expected: len as u64,
                found: a.len(),
            });
        }
        let values = I32s(a.fixed_bytes(ValueType::I32).unwrap_or(&[]));
        check_range(parts, values.iter(), min, max)?;
        Ok(values)
    }

    fn f32s(&self, parts: &[&str], len: usize) -> Result<F32s<'a>, LoadError> {
        let a = self.array(parts, ValueType::F32, "array of f32")?;
        if a.len() != len as u64 {
            return Err(LoadError::BadArrayLen {
                key: Name::from_parts(parts),
                expected: len as u64,
                found: a.len(),
            });
        }
        Ok(F32s(a.fixed_bytes(ValueType::F32).unwrap_or(&[])))
    }
}

fn check_range(
    parts: &[&str],
    values: impl Iterator<Item = i32>,
    min: i32,
    max: i32,
) -> Result<(), LoadError> {
    for (index, value) in values.enumerate() {
        if !(min..=max).contains(&value) {
            return Err(LoadError::OutOfRange {
                what: Name::from_parts(parts),
                index: index as u64,
                value: value.into(),
                min: min.into(),
                max: max.into(),
            });
        }
    }
    Ok(())
}

fn tensor<'a>(
    gguf: &Gguf<'a>,
    parts: &[&str],
    ty: TensorType,
    shape: [u64; 2],
    rank: u32,
) -> Result<TensorInfo<'a>, LoadError> {
    let t = gguf.tensor_parts(parts).ok_or(LoadError::MissingTensor {
        tensor: Name::from_parts(parts),
    })?;
    if t.ty != ty {
        return Err(LoadError::WrongTensorType {
            tensor: Name::from_parts(parts),
            expected: ty,
            found: t.ty,
        });
    }
    let found = [t.dims[0], t.dims[1]];
    let expected_dims = if rank == 1 { [shape[1], 1] } else { shape };
    if t.rank != rank || found != expected_dims {
        return Err(LoadError::ShapeMismatch {
            tensor: Name::from_parts(parts),
            expected: shape,
            found,
            rank: t.rank,
        });
    }
    Ok(t)
}

/// Reinterprets file bytes as i8 weights.
fn as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: i8 and u8 have the same size and alignment and every bit pattern is a valid i8;
    // the new slice covers exactly the same memory and borrows it for the same lifetime.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

/// Reads and validates one layer. `inputs` is what feeds it; `signed_input` whether that may
/// be negative; `last_of_head` whether an i32 output is allowed.
fn read_layer<'a>(
    gguf: &Gguf<'a>,
    name: &'a str,
    inputs: usize,
    signed_input: bool,
    last_of_head: bool,
) -> Result<Layer<'a>, LoadError> {
    let meta = Meta(gguf);
    let key = |suffix: &'static str| -> [&str; 3] { ["augur.layer.", name, suffix] };
    let weight_parts = [name, ".weight"];
    let wt = gguf
        .tensor_parts(&weight_parts)
        .ok_or(LoadError::MissingTensor {
            tensor: Name::from_parts(&weight_parts),
        })?;
    if wt.ty != TensorType::I8 {
        return Err(LoadError::WrongTensorType {
            tensor: Name::from_parts(&weight_parts),
            expected: TensorType::I8,
            found: wt.ty,
        });
    }
    if wt.rank != 2 {
        return Err(LoadError::ShapeMismatch {
            tensor: Name::from_parts(&weight_parts),
            expected: [inputs as u64, wt.dims[1]],
            found: [wt.dims[0], wt.dims[1]],
            rank: wt.rank,
        });
    }
    if wt.dims[0] != inputs as u64 {
        return Err(LoadError::LayerChain {
            layer: Name::new(name),
            expected: inputs as u64,
            found: wt.dims[0],
        });
    }
    let outputs64 = wt.dims[1];
    if inputs > MAX_WIDTH || outputs64 > MAX_WIDTH as u64 {
        return Err(LoadError::TooWide {
            layer: Name::new(name),
            width: outputs64.max(inputs as u64),
            max: MAX_WIDTH as u64,
        });
    }
    let outputs = outputs64 as usize;
    let weight = as_i8(wt.data);
    check_range(
        &weight_parts,
        weight.iter().map(|&w| i32::from(w)),
        MIN_WEIGHT.into(),
        i8::MAX.into(),
    )?;

    let bias_parts = [name, ".bias"];
    let bt = tensor(
        gguf,
        &bias_parts,
        TensorType::I32,
        [inputs as u64, outputs64],
        1,
    )?;
    let bias = I32s(bt.data);
    check_range(&bias_parts, bias.iter(), -MAX_ABS_BIAS, MAX_ABS_BIAS)?;

    let output = match meta.str(&key(".output"))? {
        "i8" => {
            let clamp = meta.i32s(&key(".clamp"), 2, i8::MIN.into(), i8::MAX.into())?;
            let (lo, hi) = (
                clamp.get(0).unwrap_or(0) as i8,
                clamp.get(1).unwrap_or(0) as i8,
            );
            if lo > hi {
                return Err(LoadError::BadGraph {
                    what: Name::from_parts(&key(".clamp")),
                    why: "has lo > hi",
                });
            }
            LayerOutput::I8 { lo, hi }
        }
        "i32" if last_of_head => LayerOutput::I32,
        "i32" => {
            return Err(LoadError::BadGraph {
                what: Name::new(name),
                why: "outputs i32, which only a head's last layer may (others feed int8 layers)",
            });
        }
        _ => {
            return Err(LoadError::BadGraph {
                what: Name::from_parts(&key(".output")),
                why: "must be \"i8\" or \"i32\"",
            });
        }
    };
    let (multiplier, shift, output_scale) = match output {
        LayerOutput::I8 { .. } => (
            meta.i32s(&key(".multiplier"), outputs, 0, i32::MAX)?,
            meta.i32s(&key(".shift"), outputs, 0, MAX_SHIFT)?,
            meta.f32(&key(".output_scale"))?,
        ),
        LayerOutput::I32 => (I32s::default(), I32s::default(), 0.0),
    };
    let acc_scale = meta.f32s(&key(".acc_scale"), outputs)?;
    Ok(Layer {
        name,
        inputs,
        outputs,
        weight,
        bias,
        multiplier,
        shift,
        acc_scale,
        output_scale,
        output,
        signed_input,
    })
}

/// Whether a layer's output can be negative.
fn output_signed(layer: &Layer<'_>) -> bool {
    match layer.output {
        LayerOutput::I8 { lo, .. } => lo < 0,
        LayerOutput::I32 => true,
    }
}

impl<'a> Graph<'a> {
    /// Reads the layer graph and checks it against the tensors. `input_len` is the backbone's
    /// input width (`window × features`).
    pub fn read(gguf: &Gguf<'a>, input_len: usize) -> Result<Self, LoadError> {
        let meta = Meta(gguf);
        let mut graph = Graph {
            layers: [None; MAX_LAYERS],
            layer_count: 0,
            backbone_len: 0,
            heads: [None; MAX_HEADS],
            head_count: 0,
        };
        let backbone = meta.strings(&["augur.backbone.layers"])?;
        if backbone.is_empty() {
            return Err(LoadError::BadGraph {
                what: Name::new("augur.backbone.layers"),
                why: "is empty",
            });
        }
        let mut width = input_len;
        let mut signed = true;
        for name in backbone.strings() {
            let layer = read_layer(gguf, name, width, signed, false)?;
            (width, signed) = (layer.outputs, output_signed(&layer));
            graph.push_layer(layer)?;
        }
        graph.backbone_len = graph.layer_count;
        let embedding = width;

        let heads = meta.strings(&["augur.heads"])?;
        if heads.len() > MAX_HEADS as u64 {
            return Err(LoadError::TooMany {
                what: "heads",
                count: heads.len(),
                max: MAX_HEADS as u64,
            });
        }
        for head_name in heads.strings() {
            if graph.head_index(head_name).is_some() {
                return Err(LoadError::BadGraph {
                    what: Name::new(head_name),
                    why: "is listed twice in augur.heads",
                });
            }
            let features = meta.u32(&["augur.head.", head_name, ".candidate_features"])? as usize;
            if features == 0 || features > MAX_WIDTH {
                return Err(LoadError::OutOfRange {
                    what: Name::from_parts(&["augur.head.", head_name, ".candidate_features"]),
                    index: 0,
                    value: features as i64,
                    min: 1,
                    max: MAX_WIDTH as i64,
                });
            }
            let features_version = meta.u32(&["augur.head.", head_name, ".features_version"])?;
            let candidate_scale = meta.f32(&["augur.head.", head_name, ".candidate_scale"])?;
            let names = meta.strings(&["augur.head.", head_name, ".layers"])?;
            if names.is_empty() {
                return Err(LoadError::BadGraph {
                    what: Name::new(head_name),
                    why: "head has no layers",
                });
            }
            let first_layer = graph.layer_count;
            let mut width = embedding + features;
            // The embedding part may be signed, and candidate features are.
            let mut signed = true;
            let count = names.len() as usize;
            for (i, name) in names.strings().enumerate() {
                let layer = read_layer(gguf, name, width, signed, i + 1 == count)?;
                (width, signed) = (layer.outputs, output_signed(&layer));
                graph.push_layer(layer)?;
            }
            graph.heads[graph.head_count] = Some(Head {
                name: head_name,
                candidate_features: features,
                features_version,
                candidate_scale,
                first_layer,
                layer_count: count,
            });
            graph.head_count += 1;
        }
        // A layer used twice (two chains naming the same tensors) is almost surely a mistake.
        for (i, a) in graph.layers().enumerate() {
            if graph.layers().take(i).any(|b| b.name == a.name) {
                return Err(LoadError::BadGraph {
                    what: Name::new(a.name),
                    why: "is used by more than one chain",
                });
            }
        }
        Ok(graph)
    }

    fn push_layer(&mut self, layer: Layer<'a>) -> Result<(), LoadError> {
        let slot = self
            .layers
            .get_mut(self.layer_count)
            .ok_or(LoadError::TooMany {
                what: "layers",
                count: self.layer_count as u64 + 1,
                max: MAX_LAYERS as u64,
            })?;
        *slot = Some(layer);
        self.layer_count += 1;
        Ok(())
    }

    /// All layers: the backbone's, then each head's.
    pub fn layers(&self) -> impl Iterator<Item = &Layer<'a>> {
        self.layers.iter().take(self.layer_count).flatten()
    }

    /// Layer `i`.
    pub fn layer(&self, i: usize) -> Option<&Layer<'a>> {
        self.layers.get(i)?.as_ref()
    }

    /// The backbone's layers.
    pub fn backbone(&self) -> impl Iterator<Item = &Layer<'a>> {
        self.layers().take(self.backbone_len)
    }

    /// Number of backbone layers.
    pub fn backbone_len(&self) -> usize {
        self.backbone_len
    }

    /// Width of the embedding (the backbone's output).
    pub fn embedding_len(&self) -> usize {
        self.backbone().last().map_or(0, |l| l.outputs)
    }

    /// All heads.
    pub fn heads(&self) -> impl Iterator<Item = &Head<'a>> {
        self.heads.iter().take(self.head_count).flatten()
    }

    /// Head `i`.
    pub fn head(&self, i: usize) -> Option<&Head<'a>> {
        self.heads.get(i)?.as_ref()
    }

    /// Number of heads.
    pub fn head_count(&self) -> usize {
        self.head_count
    }

    /// Index of the head called `name`.
    pub fn head_index(&self, name: &str) -> Option<usize> {
        self.heads().position(|h| h.name == name)
    }
}
