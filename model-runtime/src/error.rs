//! Typed errors of the weight-file reader and of inference calls.
//!
//! Every way a weight file can be wrong has its own [`LoadError`] variant, and its `Display`
//! says what is wrong, where, and (where it helps) what to do: a research kernel refuses a bad
//! file with a precise reason instead of panicking or guessing (DESIGN.md §7). Errors own no
//! heap memory: names are copied into a fixed-size [`Name`], so the reader stays `no_std` and
//! allocation-free and an error outlives the bytes it describes.

use core::fmt;

use crate::types::TensorType;

/// The command that rewrites an older Augur model file in the current format (same tensors and
/// scales, plus the integrity digest and the section keys); errors about old files name it.
pub const REEXPORT_COMMAND: &str =
    "cargo run -p augur-weights --example reexport -- OLD.gguf NEW.gguf";

/// Bytes of a name kept in an error; longer names are cut and end in "...".
pub const NAME_CAPACITY: usize = 80;

/// A tensor, key or layer name copied into an error (no heap, no borrow of the file).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; NAME_CAPACITY],
    len: u8,
    cut: bool,
}

impl Name {
    /// Copies `parts` one after another (so `augur.layer.` + name + `.shift` needs no allocation).
    pub fn from_parts(parts: &[&str]) -> Self {
        let mut name = Name {
            bytes: [0; NAME_CAPACITY],
            len: 0,
            cut: false,
        };
        for part in parts {
            for &b in part.as_bytes() {
                if usize::from(name.len) == NAME_CAPACITY {
                    name.cut = true;
                    return name;
                }
                name.bytes[usize::from(name.len)] = b;
                name.len += 1;
            }
        }
        name
    }

    /// Copies one name.
    pub fn new(s: &str) -> Self {
        Self::from_parts(&[s])
    }

    /// The name as text. A name cut inside a multi-byte character shows up to the last whole one.
    pub fn as_str(&self) -> &str {
        let bytes = &self.bytes[..usize::from(self.len)];
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            // `valid_up_to` is a char boundary, so this second conversion cannot fail.
            Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Why a weight file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The file ends before something it declares.
    Truncated {
        what: &'static str,
        offset: u64,
        need: u64,
        have: u64,
    },
    /// The first four bytes are not `GGUF`.
    BadMagic { found: [u8; 4] },
    /// A GGUF version other than 3.
    UnsupportedVersion { found: u32 },
    /// A count above what the reader accepts.
    TooMany {
        what: &'static str,
        count: u64,
        max: u64,
    },
    /// A string that is not UTF-8.
    BadUtf8 { what: &'static str, offset: u64 },
    /// A metadata value type the GGUF spec does not define.
    UnknownValueType { offset: u64, found: u32 },
    /// Arrays of arrays nested deeper than the reader follows.
    NestingTooDeep { offset: u64 },
    /// The same metadata key twice.
    DuplicateKey { key: Name },
    /// The same tensor name twice.
    DuplicateTensor { tensor: Name },
    /// `general.alignment` is not a power of two in the accepted range.
    BadAlignment { found: u64 },
    /// A tensor type the reader does not know the size of (quantized block types).
    UnknownTensorType { tensor: Name, found: u32 },
    /// A tensor with no dimensions or more than GGUF's four.
    BadRank { tensor: Name, rank: u32 },
    /// A tensor dimension of zero.
    ZeroDim { tensor: Name, axis: u32 },
    /// Element count or byte size does not fit in 64 bits.
    SizeOverflow { tensor: Name },
    /// Tensor data offset not a multiple of the file's alignment.
    Misaligned {
        tensor: Name,
        offset: u64,
        alignment: u64,
    },
    /// Tensor data reaches past the end of the file.
    TensorOutOfBounds {
        tensor: Name,
        offset: u64,
        size: u64,
        file_len: u64,
    },
    /// A required `augur.*` key is absent.
    MissingKey { key: Name },
    /// A key holds a value of the wrong type.
    WrongKeyType {
        key: Name,
        expected: &'static str,
        found: &'static str,
    },
    /// `augur.format_version` is not one this runtime reads.
    UnsupportedFormat { found: u32, supported: u32 },
    /// A tensor the layer graph names is absent.
    MissingTensor { tensor: Name },
    /// A tensor has the wrong element type.
    WrongTensorType {
        tensor: Name,
        expected: TensorType,
        found: TensorType,
    },
    /// A tensor's shape disagrees with the layer graph.
    ShapeMismatch {
        tensor: Name,
        expected: [u64; 2],
        found: [u64; 2],
        rank: u32,
    },
    /// A per-channel array has the wrong length.
    BadArrayLen {
        key: Name,
        expected: u64,
        found: u64,
    },
    /// A layer's input width differs from what feeds it.
    LayerChain {
        layer: Name,
        expected: u64,
        found: u64,
    },
    /// A value outside the range the runtime's arithmetic is proven for.
    OutOfRange {
        what: Name,
        index: u64,
        value: i64,
        min: i64,
        max: i64,
    },
    /// A layer wider than the runtime supports.
    TooWide { layer: Name, width: u64, max: u64 },
    /// A structural rule of the layer graph is broken.
    BadGraph { what: Name, why: &'static str },
    /// The file has no `augur.digest.sha256` (it predates format 2, or lost the key).
    MissingDigest,
    /// The file's bytes do not hash to its stored digest: it is corrupt. Both fields are the
    /// first hex digits (ASCII) of the stored and the computed SHA-256.
    DigestMismatch { stored: [u8; 8], computed: [u8; 8] },
    /// The input sections' field counts do not add up to `augur.input.features`.
    SectionFields { sum: u64, features: u64 },
}

/// Writes ASCII bytes of a digest prefix, escaping anything that is not printable.
fn write_prefix(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        write!(f, "{}", core::ascii::escape_default(b))?;
    }
    Ok(())
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LoadError::*;
        match self {
            Truncated {
                what,
                offset,
                need,
                have,
            } => write!(
                f,
                "file truncated: {what} at byte {offset} needs {need} bytes but only {have} remain \
                 (was the file cut short while copying?)"
            ),
            BadMagic { found } => write!(
                f,
                "not a GGUF file: first bytes are {found:02x?}, expected \"GGUF\" (47 47 55 46)"
            ),
            UnsupportedVersion { found } => {
                write!(
                    f,
                    "GGUF version {found} is not supported: Augur reads GGUF version 3"
                )
            }
            TooMany { what, count, max } => {
                write!(
                    f,
                    "{count} {what} declared, more than the {max} this reader accepts"
                )
            }
            BadUtf8 { what, offset } => write!(f, "{what} at byte {offset} is not valid UTF-8"),
            UnknownValueType { offset, found } => {
                write!(
                    f,
                    "metadata value at byte {offset} has unknown GGUF type {found}"
                )
            }
            NestingTooDeep { offset } => {
                write!(
                    f,
                    "metadata array at byte {offset} nests arrays deeper than 2 levels"
                )
            }
            DuplicateKey { key } => write!(f, "metadata key '{key}' appears more than once"),
            DuplicateTensor { tensor } => write!(f, "tensor '{tensor}' appears more than once"),
            BadAlignment { found } => write!(
                f,
                "general.alignment is {found}: it must be a power of two between 8 and 65536"
            ),
            UnknownTensorType { tensor, found } => write!(
                f,
                "tensor '{tensor}' has GGML type {found}, which this reader cannot size \
                 (Augur files use I8 weights and I32 biases)"
            ),
            BadRank { tensor, rank } => {
                write!(
                    f,
                    "tensor '{tensor}' has {rank} dimensions; GGUF allows 1 to 4"
                )
            }
            ZeroDim { tensor, axis } => write!(f, "tensor '{tensor}' has size 0 along axis {axis}"),
            SizeOverflow { tensor } => {
                write!(
                    f,
                    "tensor '{tensor}' size overflows 64 bits (corrupt dimensions?)"
                )
            }
            Misaligned {
                tensor,
                offset,
                alignment,
            } => write!(
                f,
                "tensor '{tensor}' data at offset {offset} is not {alignment}-byte aligned"
            ),
            TensorOutOfBounds {
                tensor,
                offset,
                size,
                file_len,
            } => write!(
                f,
                "tensor '{tensor}' data ({size} bytes at file offset {offset}) runs past the end \
                 of the {file_len}-byte file"
            ),
            MissingKey { key } => write!(
                f,
                "metadata key '{key}' is missing: is this an Augur model file (written by \
                 augur-weights)?"
            ),
            WrongKeyType {
                key,
                expected,
                found,
            } => {
                write!(f, "metadata key '{key}' holds {found}, expected {expected}")
            }
            UnsupportedFormat { found, supported } if found < supported => write!(
                f,
                "augur.format_version is {found}, older than the version {supported} this \
                 runtime reads: re-export the file (same tensors and scales) with \
                 `{REEXPORT_COMMAND}`"
            ),
            UnsupportedFormat { found, supported } => write!(
                f,
                "augur.format_version is {found}, newer than the version {supported} this \
                 runtime reads: update Augur, or write the weights with this tree's augur-weights"
            ),
            MissingTensor { tensor } => {
                write!(f, "tensor '{tensor}' named by the layer graph is missing")
            }
            WrongTensorType {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor '{tensor}' has type {}, expected {}",
                found.name(),
                expected.name()
            ),
            ShapeMismatch {
                tensor,
                expected,
                found,
                rank,
            } => {
                write!(f, "tensor '{tensor}' has shape ")?;
                match rank {
                    1 => write!(f, "[{}]", found[0])?,
                    2 => write!(f, "[{}, {}]", found[0], found[1])?,
                    r => write!(f, "of rank {r}")?,
                }
                write!(
                    f,
                    " (GGUF order, fastest axis first), but the layer graph needs [{}, {}] \
                     (in, out) for weights or [{}] for biases",
                    expected[0], expected[1], expected[1]
                )
            }
            BadArrayLen {
                key,
                expected,
                found,
            } => write!(
                f,
                "metadata array '{key}' has {found} entries, expected {expected} (one per output \
                 channel)"
            ),
            LayerChain {
                layer,
                expected,
                found,
            } => write!(
                f,
                "layer '{layer}' takes {found} inputs but what feeds it produces {expected}"
            ),
            OutOfRange {
                what,
                index,
                value,
                min,
                max,
            } => write!(
                f,
                "'{what}' element {index} is {value}, outside [{min}, {max}] (the range the \
                 runtime's fixed-point arithmetic is proven exact for)"
            ),
            TooWide { layer, width, max } => {
                write!(
                    f,
                    "layer '{layer}' is {width} wide; the runtime supports at most {max}"
                )
            }
            BadGraph { what, why } => write!(f, "layer graph: '{what}' {why}"),
            // The key is spelled out (not `integrity::DIGEST_KEY`) so that this module imports
            // nothing from the one that returns these errors; a test in `integrity` pins it.
            MissingDigest => write!(
                f,
                "the file has no 'augur.digest.sha256' integrity digest (it was written before \
                 model format 2): re-export it with `{REEXPORT_COMMAND}`"
            ),
            DigestMismatch { stored, computed } => {
                f.write_str("the file is corrupt: its bytes hash to SHA-256 ")?;
                write_prefix(f, computed)?;
                f.write_str("... but its 'augur.digest.sha256' says ")?;
                write_prefix(f, stored)?;
                f.write_str(
                    "...; copy the file again from its source (a model card names the digest \
                     of the committed file), or re-train/re-export it if it was edited",
                )
            }
            SectionFields { sum, features } => write!(
                f,
                "the input sections' fields (augur.input.section.<s>.fields) add up to {sum}, \
                 but augur.input.features is {features}: the backbone would read the wrong columns"
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// Why an [`crate::Engine`] could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// The caller's scratch buffer is smaller than [`crate::Model::scratch_len`].
    ScratchTooSmall { need: usize, have: usize },
    /// The requested backend is not available on this CPU (or the OS has not enabled YMM state).
    BackendUnavailable { backend: crate::Backend },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::ScratchTooSmall { need, have } => write!(
                f,
                "scratch buffer has {have} bytes but the model needs {need} (Model::scratch_len)"
            ),
            EngineError::BackendUnavailable { backend } => write!(
                f,
                "inference backend '{}' is not available on this CPU (CPUID/XCR0)",
                backend.name()
            ),
        }
    }
}

impl core::error::Error for EngineError {}

/// Why one inference call was refused. Nothing was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The backbone input has the wrong length.
    InputLen { expected: usize, found: usize },
    /// The candidate matrix is not a whole number of rows of the head's feature width.
    CandidatesLen { row: usize, found: usize },
    /// The scores slice does not hold one value per candidate and head output.
    ScoresLen { expected: usize, found: usize },
    /// No head with that index.
    NoSuchHead { index: usize, heads: usize },
    /// A head was run before any backbone run produced an embedding.
    NoEmbedding,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::InputLen { expected, found } => {
                write!(
                    f,
                    "backbone input has {found} values, the model takes {expected}"
                )
            }
            RunError::CandidatesLen { row, found } => write!(
                f,
                "candidate matrix has {found} values, not a multiple of the head's {row} features"
            ),
            RunError::ScoresLen { expected, found } => {
                write!(
                    f,
                    "scores slice has {found} entries, the call produces {expected}"
                )
            }
            RunError::NoSuchHead { index, heads } => {
                write!(
                    f,
                    "head index {index} out of range: the model has {heads} heads"
                )
            }
            RunError::NoEmbedding => {
                f.write_str("run_backbone must run before run_head (no embedding yet)")
            }
        }
    }
}

impl core::error::Error for RunError {}
