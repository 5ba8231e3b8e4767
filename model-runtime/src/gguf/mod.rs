//! A validating, zero-copy, allocation-free GGUF (version 3) reader.
//!
//! GGUF is llama.cpp's weight-file format: a header (magic `GGUF`, version, tensor and
//! metadata counts), typed key/value metadata, tensor descriptors (name, dimensions fastest
//! axis first, GGML type, offset), then the tensor data, each tensor at a multiple of
//! `general.alignment` (default 32) from the start of the data section.
//! Spec: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>.
//!
//! [`Gguf::parse`] walks the whole header once and checks every count, length, offset and size
//! against the file length with overflow-safe arithmetic before anything else reads it; after
//! that, the iterators and look-ups here re-walk bytes that are known to be well formed, and
//! borrow strings, arrays and tensor data straight from the file. The invariant: no input makes
//! this module panic, loop without bound, or read outside `bytes` (the fuzz target
//! `model-runtime/fuzz/fuzz_targets/gguf_reader.rs` checks it).

pub use crate::types::{TensorType, ValueType};

use crate::error::{LoadError, Name};

/// The four bytes every GGUF file starts with.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// The GGUF version this reader accepts.
pub const VERSION: u32 = 3;
/// Tensor data alignment when `general.alignment` is absent (the GGUF default).
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The metadata key that overrides [`DEFAULT_ALIGNMENT`].
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Most tensors a file may declare (Augur files have two per layer).
pub const MAX_TENSORS: u64 = 1024;
/// Most metadata entries a file may declare.
pub const MAX_KVS: u64 = 1024;
/// GGML's maximum tensor rank.
pub const MAX_RANK: u32 = 4;
/// How deep arrays of arrays may nest.
pub const MAX_ARRAY_DEPTH: u32 = 2;
/// Bytes of the fixed header: magic, version, tensor count, metadata count.
const HEADER_BYTES: usize = 24;

/// A bounds-checked little-endian cursor over the file. Every read either succeeds inside
/// `bytes` or returns [`LoadError::Truncated`] naming what was being read.
#[derive(Clone)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], LoadError> {
        let have = self.bytes.len().saturating_sub(self.pos);
        let truncated = LoadError::Truncated {
            what,
            offset: self.pos as u64,
            need: n,
            have: have as u64,
        };
        let n = usize::try_from(n).map_err(|_| truncated)?;
        if n > have {
            return Err(truncated);
        }
        let out = self.bytes.get(self.pos..self.pos + n).ok_or(truncated)?;
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], LoadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, LoadError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, LoadError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, LoadError> {
        let len = self.u64(what)?;
        let start = self.pos as u64;
        let raw = self.take(len, what)?;
        core::str::from_utf8(raw).map_err(|_| LoadError::BadUtf8 {
            what,
            offset: start,
        })
    }
}

/// One metadata value, borrowed from the file.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(&'a str),
    Array(Array<'a>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl<'a> Value<'a> {
    /// The value's GGUF type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::U8(_) => "u8",
            Value::I8(_) => "i8",
            Value::U16(_) => "u16",
            Value::I16(_) => "i16",
            Value::U32(_) => "u32",
            Value::I32(_) => "i32",
            Value::F32(_) => "f32",
            Value::Bool(_) => "bool",
            Value::Str(_) => "string",
            Value::Array(a) => match a.elem {
                ValueType::I32 => "array of i32",
                ValueType::F32 => "array of f32",
                ValueType::String => "array of string",
                _ => "array",
            },
            Value::U64(_) => "u64",
            Value::I64(_) => "i64",
            Value::F64(_) => "f64",
        }
    }
}

/// A metadata array, borrowed from the file: element type, count and the raw element bytes.
#[derive(Clone, Copy, Debug)]
pub struct Array<'a> {
    elem: ValueType,
    len: u64,
    raw: &'a [u8],
}

impl<'a> Array<'a> {
    /// Element type.
    pub fn elem(&self) -> ValueType {
        self.elem
    }

    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The little-endian bytes of a fixed-size element array, `None` for other kinds.
    pub fn fixed_bytes(&self, elem: ValueType) -> Option<&'a [u8]> {
        (self.elem == elem).then_some(self.raw)
    }

    /// The strings of an array of strings (empty for other element types).
    pub fn strings(&self) -> StrIter<'a> {
        let left = if self.elem == ValueType::String {
            self.len
        } else {
            0
        };
        StrIter {
            cursor: Cursor {
                bytes: self.raw,
                pos: 0,
            },
            left,
        }
    }
}

/// Iterator over the strings of a (validated) array of strings.
#[derive(Clone)]
pub struct StrIter<'a> {
    cursor: Cursor<'a>,
    left: u64,
}

impl<'a> Iterator for StrIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.cursor.str("array string").ok()
    }
}

/// Reads one value of type `ty` (already validated or being validated), returning it and
/// checking every length on the way. `depth` bounds array nesting.
fn read_value<'a>(cur: &mut Cursor<'a>, ty: ValueType, depth: u32) -> Result<Value<'a>, LoadError> {
    const WHAT: &str = "metadata value";
    Ok(match ty {
        ValueType::U8 => Value::U8(u8::from_le_bytes(cur.array(WHAT)?)),
        ValueType::I8 => Value::I8(i8::from_le_bytes(cur.array(WHAT)?)),
        ValueType::U16 => Value::U16(u16::from_le_bytes(cur.array(WHAT)?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(cur.array(WHAT)?)),
        ValueType::U32 => Value::U32(u32::from_le_bytes(cur.array(WHAT)?)),
        ValueType::I32 => Value::I32(i32::from_le_bytes(cur.array(WHAT)?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(cur.array(WHAT)?)),
        ValueType::Bool => Value::Bool(cur.array::<1>(WHAT)?[0] != 0),
        ValueType::U64 => Value::U64(u64::from_le_bytes(cur.array(WHAT)?)),
        ValueType::I64 => Value::I64(i64::from_le_bytes(cur.array(WHAT)?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(cur.array(WHAT)?)),
        ValueType::String => Value::Str(cur.str("metadata string")?),
        ValueType::Array => {
            let at = cur.pos as u64;
            if depth >= MAX_ARRAY_DEPTH {
                return Err(LoadError::NestingTooDeep { offset: at });
            }
            let code = cur.u32("array element type")?;
            let elem = ValueType::from_code(code).ok_or(LoadError::UnknownValueType {
                offset: at,
                found: code,
            })?;
            let len = cur.u64("array length")?;
            let start = cur.pos;
            match elem.fixed_size() {
                Some(size) => {
                    // Checked multiply: a huge count must not wrap into a small read.
                    let bytes = len.checked_mul(size as u64).ok_or(LoadError::Truncated {
                        what: "array data",
                        offset: start as u64,
                        need: u64::MAX,
                        have: (cur.bytes.len() - start) as u64,
                    })?;
                    cur.take(bytes, "array data")?;
                }
                None => {
                    // Every string or nested array takes at least 8 bytes, so a count larger
                    // than the bytes left is refused before the loop (bounded work).
                    let left = (cur.bytes.len() - start) as u64;
                    if len > left / 8 {
                        return Err(LoadError::Truncated {
                            what: "array elements",
                            offset: start as u64,
                            need: len.saturating_mul(8),
                            have: left,
                        });
                    }
                    for _ in 0..len {
                        read_value(cur, elem, depth + 1)?;
                    }
                }
            }
            let raw = cur.bytes.get(start..cur.pos).unwrap_or(&[]);
            Value::Array(Array { elem, len, raw })
        }
    })
}

/// One metadata entry as walked from the file.
fn read_kv<'a>(cur: &mut Cursor<'a>) -> Result<(&'a str, Value<'a>), LoadError> {
    let key = cur.str("metadata key")?;
    let at = cur.pos as u64;
    let code = cur.u32("metadata value type")?;
    let ty = ValueType::from_code(code).ok_or(LoadError::UnknownValueType {
        offset: at,
        found: code,
    })?;
    Ok((key, read_value(cur, ty, 0)?))
}

/// A tensor descriptor with its data, borrowed from the file.
#[derive(Clone, Copy, Debug)]
pub struct TensorInfo<'a> {
    /// Tensor name.
    pub name: &'a str,
    /// Number of dimensions (1 to 4).
    pub rank: u32,
    /// Dimensions, fastest-varying first (GGUF `ne` order); unused ones are 1.
    pub dims: [u64; MAX_RANK as usize],
    /// Element type.
    pub ty: TensorType,
    /// Absolute byte offset of the data in the file.
    pub file_offset: u64,
    /// The tensor's bytes.
    pub data: &'a [u8],
}

/// Descriptor as read, before the data section start is known.
struct RawTensor<'a> {
    name: &'a str,
    rank: u32,
    dims: [u64; MAX_RANK as usize],
    ty: TensorType,
    offset: u64,
    size: u64,
}

fn read_tensor_info<'a>(cur: &mut Cursor<'a>) -> Result<RawTensor<'a>, LoadError> {
    let name = cur.str("tensor name")?;
    let rank = cur.u32("tensor rank")?;
    if rank == 0 || rank > MAX_RANK {
        return Err(LoadError::BadRank {
            tensor: Name::new(name),
            rank,
        });
    }
    let mut dims = [1u64; MAX_RANK as usize];
    let mut count: u64 = 1;
    for (axis, dim) in dims.iter_mut().take(rank as usize).enumerate() {
        *dim = cur.u64("tensor dimension")?;
        if *dim == 0 {
            return Err(LoadError::ZeroDim {
                tensor: Name::new(name),
                axis: axis as u32,
            });
        }
        count = count.checked_mul(*dim).ok_or(LoadError::SizeOverflow {
            tensor: Name::new(name),
        })?;
    }
    let code = cur.u32("tensor type")?;
    let ty = TensorType::from_code(code).ok_or(LoadError::UnknownTensorType {
        tensor: Name::new(name),
        found: code,
    })?;
    let size = count
        .checked_mul(ty.size())
        .ok_or(LoadError::SizeOverflow {
            tensor: Name::new(name),
        })?;
    let offset = cur.u64("tensor offset")?;
    Ok(RawTensor {
        name,
        rank,
        dims,
        ty,
        offset,
        size,
    })
}

/// A parsed and fully validated GGUF file.
#[derive(Clone, Copy, Debug)]
pub struct Gguf<'a> {
    bytes: &'a [u8],
    kv_count: u64,
    tensor_count: u64,
    kv_start: usize,
    tensors_start: usize,
    data_start: u64,
    alignment: u64,
}

impl<'a> Gguf<'a> {
    /// Parses and validates `bytes` as GGUF v3. On success every metadata entry and tensor
    /// descriptor is well formed, keys and tensor names are unique, and every tensor's data is
    /// aligned and lies inside `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, LoadError> {
        let mut cur = Cursor { bytes, pos: 0 };
        let magic: [u8; 4] = cur.array("magic")?;
        if magic != MAGIC {
            return Err(LoadError::BadMagic { found: magic });
        }
        let version = cur.u32("version")?;
        if version != VERSION {
            return Err(LoadError::UnsupportedVersion { found: version });
        }
        let tensor_count = cur.u64("tensor count")?;
        let kv_count = cur.u64("metadata count")?;
        if tensor_count > MAX_TENSORS {
            return Err(LoadError::TooMany {
                what: "tensors",
                count: tensor_count,
                max: MAX_TENSORS,
            });
        }
        if kv_count > MAX_KVS {
            return Err(LoadError::TooMany {
                what: "metadata entries",
                count: kv_count,
                max: MAX_KVS,
            });
        }
        debug_assert_eq!(cur.pos, HEADER_BYTES);

        let kv_start = cur.pos;
        let mut alignment = DEFAULT_ALIGNMENT;
        for _ in 0..kv_count {
            let (key, value) = read_kv(&mut cur)?;
            if key == ALIGNMENT_KEY {
                alignment = match value {
                    Value::U32(a) => u64::from(a),
                    Value::U64(a) => a,
                    other => {
                        return Err(LoadError::WrongKeyType {
                            key: Name::new(key),
                            expected: "u32",
                            found: other.type_name(),
                        });
                    }
                };
                if !alignment.is_power_of_two() || !(8..=65536).contains(&alignment) {
                    return Err(LoadError::BadAlignment { found: alignment });
                }
            }
        }
        let tensors_start = cur.pos;
        for _ in 0..tensor_count {
            read_tensor_info(&mut cur)?;
        }
        // The data section starts at the next multiple of the alignment.
        let end_of_infos = cur.pos as u64;
        let data_start = end_of_infos.div_ceil(alignment) * alignment;

        let gguf = Gguf {
            bytes,
            kv_count,
            tensor_count,
            kv_start,
            tensors_start,
            data_start,
            alignment,
        };
        gguf.check_tensors()?;
        gguf.check_unique_keys()?;
        Ok(gguf)
    }

    fn check_tensors(&self) -> Result<(), LoadError> {
        let file_len = self.bytes.len() as u64;
        let mut cur = Cursor {
            bytes: self.bytes,
            pos: self.tensors_start,
        };
        for i in 0..self.tensor_count {
            let t = read_tensor_info(&mut cur)?;
            let name = Name::new(t.name);
            if t.offset % self.alignment != 0 {
                return Err(LoadError::Misaligned {
                    tensor: name,
                    offset: t.offset,
                    alignment: self.alignment,
                });
            }
            let start = self
                .data_start
                .checked_add(t.offset)
                .ok_or(LoadError::SizeOverflow { tensor: name })?;
            let end = start
                .checked_add(t.size)
                .ok_or(LoadError::SizeOverflow { tensor: name })?;
            if end > file_len {
                return Err(LoadError::TensorOutOfBounds {
                    tensor: name,
                    offset: start,
                    size: t.size,
                    file_len,
                });
            }
            // Names are unique: compare with every earlier descriptor (at most MAX_TENSORS^2/2
            // string compares, bounded).
            if self
                .tensor_infos()
                .take(i as usize)
                .any(|earlier| earlier.name == t.name)
            {
                return Err(LoadError::DuplicateTensor { tensor: name });
            }
        }
        Ok(())
    }

    fn check_unique_keys(&self) -> Result<(), LoadError> {
        for (i, (key, _)) in self.metadata().enumerate() {
            if self.metadata().take(i).any(|(earlier, _)| earlier == key) {
                return Err(LoadError::DuplicateKey {
                    key: Name::new(key),
                });
            }
        }
        Ok(())
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Tensor data alignment in bytes.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute offset of the tensor data section.
    pub fn data_start(&self) -> u64 {
        self.data_start
    }

    /// Number of metadata entries.
    pub fn metadata_len(&self) -> u64 {
        self.kv_count
    }

    /// Number of tensors.
    pub fn tensor_len(&self) -> u64 {
        self.tensor_count
    }

    /// All metadata entries in file order.
    pub fn metadata(&self) -> MetadataIter<'a> {
        MetadataIter {
            cursor: Cursor {
                bytes: self.bytes,
                pos: self.kv_start,
            },
            left: self.kv_count,
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.get_parts(&[key])
    }

    /// The value of the key spelled by `parts` one after another (no allocation needed to look
    /// up `augur.layer.` + name + `.shift`).
    pub fn get_parts(&self, parts: &[&str]) -> Option<Value<'a>> {
        self.metadata()
            .find(|(key, _)| key_equals(key, parts))
            .map(|(_, v)| v)
    }

    /// Where the bytes of the string value of `key` lie in the file (after its length field),
    /// if `key` holds a string. The integrity digest hashes the file around this span.
    pub fn str_span(&self, key: &str) -> Option<core::ops::Range<usize>> {
        let mut cur = Cursor {
            bytes: self.bytes,
            pos: self.kv_start,
        };
        for _ in 0..self.kv_count {
            let k = cur.str("metadata key").ok()?;
            let code = cur.u32("metadata value type").ok()?;
            let ty = ValueType::from_code(code)?;
            if k == key && ty == ValueType::String {
                let len = usize::try_from(cur.u64("metadata string").ok()?).ok()?;
                let start = cur.pos;
                return Some(start..start.checked_add(len)?);
            }
            read_value(&mut cur, ty, 0).ok()?;
        }
        None
    }

    /// All tensor descriptors in file order.
    pub fn tensor_infos(&self) -> TensorIter<'a> {
        TensorIter {
            cursor: Cursor {
                bytes: self.bytes,
                pos: self.tensors_start,
            },
            left: self.tensor_count,
            data_start: self.data_start,
        }
    }

    /// The tensor named by `parts` one after another, if present.
    pub fn tensor_parts(&self, parts: &[&str]) -> Option<TensorInfo<'a>> {
        self.tensor_infos().find(|t| key_equals(t.name, parts))
    }

    /// The tensor `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<TensorInfo<'a>> {
        self.tensor_parts(&[name])
    }
}

/// Whether `key` equals the concatenation of `parts`.
fn key_equals(key: &str, parts: &[&str]) -> bool {
    let mut rest = key.as_bytes();
    for part in parts {
        match rest.strip_prefix(part.as_bytes()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Iterator over validated metadata entries.
#[derive(Clone)]
pub struct MetadataIter<'a> {
    cursor: Cursor<'a>,
    left: u64,
}

impl<'a> Iterator for MetadataIter<'a> {
    type Item = (&'a str, Value<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        read_kv(&mut self.cursor).ok()
    }
}

/// Iterator over validated tensor descriptors.
#[derive(Clone)]
pub struct TensorIter<'a> {
    cursor: Cursor<'a>,
    left: u64,
    data_start: u64,
}

impl<'a> Iterator for TensorIter<'a> {
    type Item = TensorInfo<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let t = read_tensor_info(&mut self.cursor).ok()?;
        let start = self.data_start.checked_add(t.offset)?;
        let end = start.checked_add(t.size)?;
        let data = self
            .cursor
            .bytes
            .get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)?;
        Some(TensorInfo {
            name: t.name,
            rank: t.rank,
            dims: t.dims,
            ty: t.ty,
            file_offset: start,
            data,
        })
    }
}
