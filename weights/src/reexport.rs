//! Re-exporting a model file of an older format in the current one, from the same tensors and
//! scales: `cargo run -p augur-weights --example reexport -- OLD.gguf NEW.gguf`.
//!
//! Format 1 files carry one `augur.schema_version = V` for all telemetry and every head, and no
//! integrity digest; the runtime refuses them and names this tool. [`reexport`] reads a format 1
//! file with the plain GGUF reader (the model reader would refuse it), rebuilds the
//! [`QuantizedModel`] it describes (every weight, bias, multiplier, shift and scale as stored,
//! f32 values bit for bit), maps `V` to one input section `sched` of version `V` with all
//! `augur.input.features` fields and gives every head `features_version = V` (one schema covered
//! them all), and writes it with the current writer, which adds the digest. So a re-exported file
//! is byte for byte what the current quantizer writes for the same model.
//!
//! It then checks its own work against the old file, independently of the rebuild: the new file
//! loads, holds every old tensor with identical type, shape and bytes, every old metadata entry
//! but the two that format 2 replaced with an identical value, and nothing else but the keys
//! format 2 adds. The scheduler's decisions cannot change.

use std::fmt;
use std::string::String;

use model_runtime::gguf::{Array, Gguf, Value, ValueType};
use model_runtime::{
    InputSection, LayerOutput, LoadError, Model, QuantizedHead, QuantizedLayer, QuantizedModel,
};

/// The format version [`reexport`] reads.
pub const LEGACY_FORMAT: u32 = 1;
/// The input section a format 1 file's telemetry becomes.
pub const LEGACY_SECTION: &str = "sched";
/// The keys format 2 dropped.
const DROPPED_KEYS: [&str; 2] = ["augur.format_version", "augur.schema_version"];

/// Why a file could not be re-exported.
#[derive(Debug)]
pub enum ReexportError {
    /// The bytes are not a well-formed GGUF file.
    Gguf(LoadError),
    /// The file is already in the current format: nothing to do.
    AlreadyCurrent,
    /// A format this tool does not convert.
    UnknownFormat(u32),
    /// A key or tensor of a format 1 model is absent or of the wrong type.
    Bad { what: String, why: &'static str },
    /// The rewritten file failed its own check against the old one (a bug in this tool).
    Check(String),
}

impl fmt::Display for ReexportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReexportError::Gguf(e) => write!(f, "not a readable GGUF file: {e}"),
            ReexportError::AlreadyCurrent => write!(
                f,
                "the file is already model format {}: it needs no re-export",
                model_runtime::graph::FORMAT_VERSION
            ),
            ReexportError::UnknownFormat(v) => write!(
                f,
                "augur.format_version is {v}: this tool converts format {LEGACY_FORMAT} files only"
            ),
            ReexportError::Bad { what, why } => {
                write!(f, "format {LEGACY_FORMAT} model: '{what}' {why}")
            }
            ReexportError::Check(why) => write!(f, "re-exported file failed its check: {why}"),
        }
    }
}

impl std::error::Error for ReexportError {}

fn bad(what: &str, why: &'static str) -> ReexportError {
    ReexportError::Bad {
        what: what.to_string(),
        why,
    }
}

/// Typed look-ups in the old file.
struct Old<'g, 'a>(&'g Gguf<'a>);

impl<'a> Old<'_, 'a> {
    fn value(&self, key: &str) -> Result<Value<'a>, ReexportError> {
        self.0.get(key).ok_or_else(|| bad(key, "is missing"))
    }

    fn u32(&self, key: &str) -> Result<u32, ReexportError> {
        match self.value(key)? {
            Value::U32(v) => Ok(v),
            _ => Err(bad(key, "is not a u32")),
        }
    }

    fn f32(&self, key: &str) -> Result<f32, ReexportError> {
        match self.value(key)? {
            Value::F32(v) => Ok(v),
            _ => Err(bad(key, "is not an f32")),
        }
    }

    fn str(&self, key: &str) -> Result<&'a str, ReexportError> {
        match self.value(key)? {
            Value::Str(v) => Ok(v),
            _ => Err(bad(key, "is not a string")),
        }
    }

    fn array(&self, key: &str, elem: ValueType) -> Result<Array<'a>, ReexportError> {
        match self.value(key)? {
            Value::Array(a) if a.elem() == elem => Ok(a),
            _ => Err(bad(key, "is not an array of the expected type")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, ReexportError> {
        Ok(self
            .array(key, ValueType::String)?
            .strings()
            .map(str::to_string)
            .collect())
    }

    fn i32s(&self, key: &str) -> Result<Vec<i32>, ReexportError> {
        let a = self.array(key, ValueType::I32)?;
        let raw = a.fixed_bytes(ValueType::I32).unwrap_or(&[]);
        Ok(raw
            .as_chunks::<4>()
            .0
            .iter()
            .map(|b| i32::from_le_bytes(*b))
            .collect())
    }

    fn f32s(&self, key: &str) -> Result<Vec<f32>, ReexportError> {
        let a = self.array(key, ValueType::F32)?;
        let raw = a.fixed_bytes(ValueType::F32).unwrap_or(&[]);
        Ok(raw
            .as_chunks::<4>()
            .0
            .iter()
            .map(|b| f32::from_le_bytes(*b))
            .collect())
    }

    fn layer(&self, name: &str) -> Result<QuantizedLayer, ReexportError> {
        let key = |suffix: &str| format!("augur.layer.{name}.{suffix}");
        let weight_name = format!("{name}.weight");
        let wt = self
            .0
            .tensor(&weight_name)
            .ok_or_else(|| bad(&weight_name, "is missing"))?;
        if wt.rank != 2 {
            return Err(bad(&weight_name, "is not a matrix"));
        }
        let (inputs, outputs) = (wt.dims[0] as usize, wt.dims[1] as usize);
        let bias_name = format!("{name}.bias");
        let bt = self
            .0
            .tensor(&bias_name)
            .ok_or_else(|| bad(&bias_name, "is missing"))?;
        let output = match self.str(&key("output"))? {
            "i8" => {
                let clamp = self.i32s(&key("clamp"))?;
                match clamp[..] {
                    [lo, hi] => LayerOutput::I8 {
                        lo: i8::try_from(lo).map_err(|_| bad(&key("clamp"), "is out of range"))?,
                        hi: i8::try_from(hi).map_err(|_| bad(&key("clamp"), "is out of range"))?,
                    },
                    _ => return Err(bad(&key("clamp"), "does not have two entries")),
                }
            }
            "i32" => LayerOutput::I32,
            _ => return Err(bad(&key("output"), "is neither \"i8\" nor \"i32\"")),
        };
        let (multiplier, shift, output_scale) = match output {
            LayerOutput::I8 { .. } => (
                self.i32s(&key("multiplier"))?,
                self.i32s(&key("shift"))?,
                self.f32(&key("output_scale"))?,
            ),
            LayerOutput::I32 => (Vec::new(), Vec::new(), 0.0),
        };
        Ok(QuantizedLayer {
            name: name.to_string(),
            inputs,
            outputs,
            weight: wt.data.iter().map(|&b| b as i8).collect(),
            bias: bt
                .data
                .as_chunks::<4>()
                .0
                .iter()
                .map(|b| i32::from_le_bytes(*b))
                .collect(),
            multiplier,
            shift,
            output,
            acc_scale: self.f32s(&key("acc_scale"))?,
            output_scale,
        })
    }
}

/// The model a format 1 file describes, with its schema version mapped to format 2's keys
/// (module docs).
pub fn legacy_model(bytes: &[u8]) -> Result<QuantizedModel, ReexportError> {
    let gguf = Gguf::parse(bytes).map_err(ReexportError::Gguf)?;
    let old = Old(&gguf);
    match old.u32("augur.format_version")? {
        LEGACY_FORMAT => {}
        v if v == model_runtime::graph::FORMAT_VERSION => {
            return Err(ReexportError::AlreadyCurrent);
        }
        v => return Err(ReexportError::UnknownFormat(v)),
    }
    let version = old.u32("augur.schema_version")?;
    let input_features = old.u32("augur.input.features")? as usize;
    let backbone = old
        .strings("augur.backbone.layers")?
        .iter()
        .map(|l| old.layer(l))
        .collect::<Result<Vec<_>, _>>()?;
    let mut heads = Vec::new();
    for h in old.strings("augur.heads")? {
        let key = |suffix: &str| format!("augur.head.{h}.{suffix}");
        heads.push(QuantizedHead {
            features_version: version,
            candidate_features: old.u32(&key("candidate_features"))? as usize,
            candidate_scale: old.f32(&key("candidate_scale"))?,
            layers: old
                .strings(&key("layers"))?
                .iter()
                .map(|l| old.layer(l))
                .collect::<Result<Vec<_>, _>>()?,
            name: h,
        });
    }
    Ok(QuantizedModel {
        name: old.str("general.name")?.to_string(),
        sections: vec![InputSection::new(LEGACY_SECTION, version, input_features)],
        input_window: old.u32("augur.input.window")? as usize,
        input_features,
        input_scale: old.f32("augur.input.scale")?,
        backbone,
        heads,
    })
}

/// Whether two metadata values are the same, bit for bit (f32 by bits, arrays by their bytes).
fn same_value(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::U32(x), Value::U32(y)) => x == y,
        (Value::I32(x), Value::I32(y)) => x == y,
        (Value::U64(x), Value::U64(y)) => x == y,
        (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.elem() == y.elem()
                && x.len() == y.len()
                && (x.fixed_bytes(x.elem()) == y.fixed_bytes(y.elem()))
                && x.strings().eq(y.strings())
        }
        _ => false,
    }
}

/// Checks the rewritten file against the old one (module docs), independently of how it was
/// built.
fn check(old_bytes: &[u8], new_bytes: &[u8]) -> Result<(), ReexportError> {
    let fail = |why: String| Err(ReexportError::Check(why));
    let new = Model::from_gguf(new_bytes).map_err(|e| ReexportError::Check(e.to_string()))?;
    let old = Gguf::parse(old_bytes).map_err(ReexportError::Gguf)?;
    for t in old.tensor_infos() {
        match new.gguf().tensor(t.name) {
            Some(n) if n.ty == t.ty && n.rank == t.rank && n.dims == t.dims && n.data == t.data => {
            }
            _ => return fail(format!("tensor '{}' differs", t.name)),
        }
    }
    if new.gguf().tensor_len() != old.tensor_len() {
        return fail("the tensor count differs".into());
    }
    let mut kept = 0u64;
    for (key, value) in old.metadata() {
        if DROPPED_KEYS.contains(&key) {
            continue;
        }
        match new.gguf().get(key) {
            Some(v) if same_value(&value, &v) => kept += 1,
            _ => return fail(format!("metadata '{key}' differs")),
        }
    }
    // What format 2 adds: format version, digest, the sections list, two keys per section and
    // one per head.
    let sections = new.sections().count() as u64;
    let added = 3 + 2 * sections + new.graph().head_count() as u64;
    if new.gguf().metadata_len() != kept + added {
        return fail(format!(
            "{} metadata entries, expected {kept} kept and {added} added",
            new.gguf().metadata_len()
        ));
    }
    Ok(())
}

/// Rewrites a format 1 file in the current format (module docs) and checks the result.
pub fn reexport(old: &[u8]) -> Result<Vec<u8>, ReexportError> {
    let new = legacy_model(old)?.to_gguf();
    check(old, &new)?;
    Ok(new)
}
