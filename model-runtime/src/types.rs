//! GGUF's type codes: metadata value types and the GGML tensor element types Augur sizes.
//!
//! Codes are the spec's (`gguf_metadata_value_type`, `ggml_type`); anything else in a file is
//! refused by the reader with the code it found.
//!
//! A leaf module (it imports nothing from the crate): the reader (`gguf/`), the errors that
//! name a tensor type (`error.rs`) and the writer all use it, and `gguf` re-exports it, so
//! `error` does not depend on `gguf` (which depends on `error`).

/// GGUF metadata value types (`gguf_metadata_value_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    /// The type with GGUF code `code`, if the spec defines one.
    pub fn from_code(code: u32) -> Option<Self> {
        use ValueType::*;
        Some(match code {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// Bytes of one value of a fixed-size type; `None` for strings and arrays.
    pub fn fixed_size(self) -> Option<usize> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }

    /// Lower-case name, for error messages.
    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }
}

/// GGML tensor types this reader can size. Quantized block types are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum TensorType {
    F32 = 0,
    F16 = 1,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
}

impl TensorType {
    /// The type with GGML code `code`, if it is one this reader sizes.
    pub fn from_code(code: u32) -> Option<Self> {
        use TensorType::*;
        Some(match code {
            0 => F32,
            1 => F16,
            24 => I8,
            25 => I16,
            26 => I32,
            27 => I64,
            28 => F64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        use TensorType::*;
        match self {
            I8 => 1,
            F16 | I16 => 2,
            F32 | I32 => 4,
            I64 | F64 => 8,
        }
    }

    /// GGML's name for the type.
    pub fn name(self) -> &'static str {
        use TensorType::*;
        match self {
            F32 => "F32",
            F16 => "F16",
            I8 => "I8",
            I16 => "I16",
            I32 => "I32",
            I64 => "I64",
            F64 => "F64",
        }
    }
}
