//! Host-side GGUF v3 writer (feature `std`): used by the quantizer, tests and the fuzz corpus.
//!
//! It writes exactly what `gguf.rs` reads: header, metadata in insertion order, tensor
//! descriptors, zero padding to the alignment, then each tensor's data at an aligned offset.
//! The file also ends on an alignment boundary. [`GgufWriter::write`] reports where each
//! tensor descriptor and data block landed, so tests can corrupt one field precisely.
//!
//! If the metadata holds [`DIGEST_KEY`] as a 64-byte string (the quantized-model writer puts
//! [`DIGEST_PLACEHOLDER`] there), the serialised file is sealed: the digest of every other byte
//! is written into that value (`integrity.rs`). A file whose GGUF structure a test broke on
//! purpose cannot be sealed and keeps the placeholder; the reader refuses it for the structure.

use std::string::String;
use std::vec::Vec;

use crate::gguf::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAGIC, TensorType, VERSION, ValueType};
pub use crate::integrity::DIGEST_PLACEHOLDER;
use crate::integrity::{self, DIGEST_KEY};

/// A metadata value to write.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    U32(u32),
    I32(i32),
    U64(u64),
    F32(f32),
    Bool(bool),
    Str(String),
    StrArray(Vec<String>),
    I32Array(Vec<i32>),
    F32Array(Vec<f32>),
}

/// A tensor to write.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorEntry {
    /// Name.
    pub name: String,
    /// Element type.
    pub ty: TensorType,
    /// Dimensions, fastest-varying first (GGUF order).
    pub dims: Vec<u64>,
    /// Little-endian element bytes.
    pub data: Vec<u8>,
}

/// Where things landed in a written file.
#[derive(Clone, Debug)]
pub struct Written {
    /// The file.
    pub bytes: Vec<u8>,
    /// Per tensor (in order): file offset of its descriptor (the name's length field).
    pub tensor_info_at: Vec<usize>,
    /// Per tensor: file offset of its descriptor's `offset` field.
    pub tensor_offset_field_at: Vec<usize>,
    /// Per tensor: file offset of its type field.
    pub tensor_type_field_at: Vec<usize>,
    /// Per tensor: absolute file offset of its data.
    pub tensor_data_at: Vec<usize>,
    /// Start of the data section.
    pub data_start: usize,
    /// File offset of the integrity digest's 64 hex digits, if the file was sealed.
    pub digest_at: Option<usize>,
}

/// Builds a GGUF v3 file in memory.
#[derive(Clone, Debug, Default)]
pub struct GgufWriter {
    kvs: Vec<(String, MetaValue)>,
    tensors: Vec<TensorEntry>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &MetaValue) {
    let ty = |out: &mut Vec<u8>, t: ValueType| out.extend_from_slice(&(t as u32).to_le_bytes());
    let array = |out: &mut Vec<u8>, t: ValueType, n: usize| {
        ty(out, ValueType::Array);
        out.extend_from_slice(&(t as u32).to_le_bytes());
        out.extend_from_slice(&(n as u64).to_le_bytes());
    };
    match v {
        MetaValue::U32(x) => {
            ty(out, ValueType::U32);
            out.extend_from_slice(&x.to_le_bytes());
        }
        MetaValue::I32(x) => {
            ty(out, ValueType::I32);
            out.extend_from_slice(&x.to_le_bytes());
        }
        MetaValue::U64(x) => {
            ty(out, ValueType::U64);
            out.extend_from_slice(&x.to_le_bytes());
        }
        MetaValue::F32(x) => {
            ty(out, ValueType::F32);
            out.extend_from_slice(&x.to_le_bytes());
        }
        MetaValue::Bool(x) => {
            ty(out, ValueType::Bool);
            out.push(u8::from(*x));
        }
        MetaValue::Str(s) => {
            ty(out, ValueType::String);
            put_str(out, s);
        }
        MetaValue::StrArray(xs) => {
            array(out, ValueType::String, xs.len());
            xs.iter().for_each(|s| put_str(out, s));
        }
        MetaValue::I32Array(xs) => {
            array(out, ValueType::I32, xs.len());
            xs.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        }
        MetaValue::F32Array(xs) => {
            array(out, ValueType::F32, xs.len());
            xs.iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        }
    }
}

impl GgufWriter {
    /// An empty file with the default 32-byte alignment (written as `general.alignment`).
    pub fn new() -> Self {
        let mut w = GgufWriter::default();
        w.kv(ALIGNMENT_KEY, MetaValue::U32(DEFAULT_ALIGNMENT as u32));
        w
    }

    /// Adds (or replaces) a metadata entry.
    pub fn kv(&mut self, key: impl Into<String>, value: MetaValue) -> &mut Self {
        let key = key.into();
        match self.kvs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.kvs.push((key, value)),
        }
        self
    }

    /// Removes a metadata entry (tests use it to make files with a key missing).
    pub fn remove_kv(&mut self, key: &str) -> &mut Self {
        self.kvs.retain(|(k, _)| k != key);
        self
    }

    /// Adds a tensor.
    pub fn tensor(
        &mut self,
        name: impl Into<String>,
        ty: TensorType,
        dims: &[u64],
        data: Vec<u8>,
    ) -> &mut Self {
        self.tensors.push(TensorEntry {
            name: name.into(),
            ty,
            dims: dims.to_vec(),
            data,
        });
        self
    }

    /// Mutable access to the tensors (tests reshape or retype one).
    pub fn tensors_mut(&mut self) -> &mut Vec<TensorEntry> {
        &mut self.tensors
    }

    fn alignment(&self) -> usize {
        self.kvs
            .iter()
            .find_map(|(k, v)| match (k.as_str(), v) {
                (ALIGNMENT_KEY, MetaValue::U32(a)) => Some(*a as usize),
                _ => None,
            })
            .filter(|a| a.is_power_of_two())
            .unwrap_or(DEFAULT_ALIGNMENT as usize)
    }

    /// Serialises the file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.write().bytes
    }

    /// Serialises the file and reports where each tensor landed.
    pub fn write(&self) -> Written {
        let align = self.alignment();
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kvs.len() as u64).to_le_bytes());
        for (k, v) in &self.kvs {
            put_str(&mut out, k);
            put_value(&mut out, v);
        }
        let mut rel = 0usize;
        let mut written = Written {
            bytes: Vec::new(),
            tensor_info_at: Vec::new(),
            tensor_offset_field_at: Vec::new(),
            tensor_type_field_at: Vec::new(),
            tensor_data_at: Vec::new(),
            data_start: 0,
            digest_at: None,
        };
        let mut rels = Vec::new();
        for t in &self.tensors {
            written.tensor_info_at.push(out.len());
            put_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            t.dims
                .iter()
                .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
            written.tensor_type_field_at.push(out.len());
            out.extend_from_slice(&(t.ty as u32).to_le_bytes());
            written.tensor_offset_field_at.push(out.len());
            out.extend_from_slice(&(rel as u64).to_le_bytes());
            rels.push(rel);
            rel = (rel + t.data.len()).div_ceil(align) * align;
        }
        out.resize(out.len().div_ceil(align) * align, 0);
        written.data_start = out.len();
        for (t, r) in self.tensors.iter().zip(rels) {
            written.tensor_data_at.push(written.data_start + r);
            out.resize(written.data_start + r, 0);
            out.extend_from_slice(&t.data);
        }
        out.resize(out.len().div_ceil(align) * align, 0);
        if self.kvs.iter().any(|(k, _)| k == DIGEST_KEY) && integrity::seal(&mut out).is_ok() {
            written.digest_at = crate::gguf::Gguf::parse(&out)
                .ok()
                .and_then(|g| g.str_span(DIGEST_KEY))
                .map(|r| r.start);
        }
        written.bytes = out;
        written
    }
}
