//! Every way a weight file can be corrupt, each refused with its own error and message.
//!
//! Files are built with the crate's writer and then damaged at a known byte (the writer
//! reports where each field landed), so each test breaks exactly one thing. A file damaged
//! where the GGUF structure is still sound is sealed again (`resealed`) so that the check under
//! test, not the integrity digest (`tests/integrity.rs`), is what refuses it.

use model_runtime::gguf::TensorType;
use model_runtime::writer::{GgufWriter, MetaValue};
use model_runtime::{LayerOutput, LoadError, Model, QuantizedModel, random_model};

fn model() -> QuantizedModel {
    random_model(9, 2, 8, &[16, 8], &[("sched", 4, &[8, 1])])
}

fn load(bytes: &[u8]) -> LoadError {
    match Model::from_gguf(bytes) {
        Ok(_) => panic!("corrupt file was accepted"),
        Err(e) => {
            // Every error renders a message.
            assert!(!e.to_string().is_empty());
            e
        }
    }
}

/// `bytes` with its integrity digest recomputed after a deliberate change.
fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    model_runtime::integrity::seal(&mut bytes).expect("the damaged file still parses as GGUF");
    bytes
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn the_uncorrupted_file_loads() {
    let bytes = model().to_gguf();
    let m = Model::from_gguf(&bytes).unwrap();
    assert_eq!(m.name(), "random-9");
    let sections: Vec<_> = m
        .sections()
        .map(|s| (s.name, s.version, s.fields))
        .collect();
    assert_eq!(sections, [("sched", 1, 8)]);
    assert_eq!(m.head(0).unwrap().features_version, 1);
    assert_eq!(m.input_len(), 16);
    assert_eq!(m.embedding_len(), 8);
    assert_eq!(m.head_index("sched"), Some(0));
}

#[test]
fn every_truncation_is_refused_without_panicking() {
    let bytes = model().to_gguf();
    let last = model_runtime::gguf::Gguf::parse(&bytes)
        .unwrap()
        .tensor_infos()
        .last()
        .unwrap();
    let data_end = last.file_offset as usize + last.data.len();
    assert!(data_end < bytes.len(), "the writer pads the end");
    for len in 0..bytes.len() {
        let e = load(&bytes[..len]);
        // Cutting only the padding after the last tensor leaves a well-formed file, but not
        // the bytes the digest covers.
        if len >= data_end {
            assert!(matches!(e, LoadError::DigestMismatch { .. }), "{len}: {e}");
        }
    }
}

#[test]
fn truncated_header() {
    let bytes = model().to_gguf();
    assert_eq!(
        load(&bytes[..10]),
        LoadError::Truncated {
            what: "tensor count",
            offset: 8,
            need: 8,
            have: 2
        }
    );
    let e = load(&bytes[..200]);
    assert!(matches!(e, LoadError::Truncated { .. }), "{e}");
    assert!(e.to_string().starts_with("file truncated:"), "{e}");
}

#[test]
fn truncated_tensor_data() {
    let w = model().to_writer().write();
    let cut = w.tensor_data_at[3] + 1;
    let e = load(&w.bytes[..cut]);
    assert!(matches!(e, LoadError::TensorOutOfBounds { .. }), "{e}");
    assert!(e.to_string().contains("runs past the end"), "{e}");
}

#[test]
fn bad_magic() {
    let mut bytes = model().to_gguf();
    bytes[..4].copy_from_slice(b"GGML");
    let e = load(&bytes);
    assert_eq!(e, LoadError::BadMagic { found: *b"GGML" });
    assert!(e.to_string().contains("not a GGUF file"));
}

#[test]
fn unsupported_version() {
    let mut bytes = model().to_gguf();
    put_u32(&mut bytes, 4, 2);
    let e = load(&bytes);
    assert_eq!(e, LoadError::UnsupportedVersion { found: 2 });
    assert_eq!(
        e.to_string(),
        "GGUF version 2 is not supported: Augur reads GGUF version 3"
    );
}

#[test]
fn misaligned_tensor_data() {
    let mut w = model().to_writer().write();
    let at = w.tensor_offset_field_at[0];
    put_u64(&mut w.bytes, at, 3);
    let e = load(&w.bytes);
    assert!(
        matches!(
            e,
            LoadError::Misaligned {
                offset: 3,
                alignment: 32,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "tensor 'backbone.0.weight' data at offset 3 is not 32-byte aligned"
    );
}

#[test]
fn offset_overflow() {
    let mut w = model().to_writer().write();
    let at = w.tensor_offset_field_at[1];
    put_u64(&mut w.bytes, at, u64::MAX - 31);
    let e = load(&w.bytes);
    assert!(matches!(e, LoadError::SizeOverflow { .. }), "{e}");
    assert!(e.to_string().contains("backbone.0.bias"), "{e}");
}

#[test]
fn size_overflow_in_dimensions() {
    let mut w = GgufWriter::new();
    w.tensor("huge", TensorType::I32, &[1 << 40, 1 << 30], vec![]);
    let e = load(&w.to_bytes());
    assert!(matches!(e, LoadError::SizeOverflow { .. }), "{e}");
}

#[test]
fn offset_past_the_end() {
    let mut w = model().to_writer().write();
    let at = w.tensor_offset_field_at[0];
    put_u64(&mut w.bytes, at, 1 << 20);
    let e = load(&w.bytes);
    assert!(
        matches!(e, LoadError::TensorOutOfBounds { offset, .. } if offset == (1 << 20) + w.data_start as u64),
        "{e}"
    );
}

#[test]
fn huge_string_length() {
    let mut w = model().to_writer().write();
    // The first key's length field sits right after the 24-byte header.
    put_u64(&mut w.bytes, 24, u64::MAX);
    let e = load(&w.bytes);
    assert!(
        matches!(
            e,
            LoadError::Truncated {
                what: "metadata key",
                need: u64::MAX,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn huge_counts() {
    let mut bytes = model().to_gguf();
    put_u64(&mut bytes, 8, u64::MAX);
    assert_eq!(
        load(&bytes),
        LoadError::TooMany {
            what: "tensors",
            count: u64::MAX,
            max: 1024
        }
    );
    let mut bytes = model().to_gguf();
    put_u64(&mut bytes, 16, 1 << 33);
    assert!(matches!(
        load(&bytes),
        LoadError::TooMany {
            what: "metadata entries",
            ..
        }
    ));
}

#[test]
fn wrong_tensor_type() {
    let mut w = model().to_writer().write();
    let at = w.tensor_type_field_at[0];
    put_u32(&mut w.bytes, at, TensorType::I16 as u32);
    // I16 doubles the size: the tensor now overlaps the next, still inside the file.
    let e = load(&resealed(w.bytes));
    assert!(
        matches!(
            e,
            LoadError::WrongTensorType {
                expected: TensorType::I8,
                found: TensorType::I16,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "tensor 'backbone.0.weight' has type I16, expected I8"
    );
}

#[test]
fn unknown_tensor_type() {
    let mut w = model().to_writer().write();
    let at = w.tensor_type_field_at[0];
    put_u32(&mut w.bytes, at, 2); // Q4_0: a block-quantized type
    assert!(matches!(
        load(&w.bytes),
        LoadError::UnknownTensorType { found: 2, .. }
    ));
}

#[test]
fn shape_mismatch_with_the_graph() {
    let q = model();
    let mut w = q.to_writer();
    // The bias of backbone.1 claims 9 outputs instead of 8.
    let t = w
        .tensors_mut()
        .iter_mut()
        .find(|t| t.name == "backbone.1.bias")
        .unwrap();
    t.dims = vec![9];
    t.data.extend_from_slice(&[0; 4]);
    let e = load(&w.to_bytes());
    assert!(
        matches!(
            e,
            LoadError::ShapeMismatch {
                found: [9, 1],
                rank: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("backbone.1.bias"), "{e}");
}

#[test]
fn layer_chain_mismatch() {
    let mut q = model();
    // head.sched.0 must take embedding (8) + 4 features = 12 inputs; make it take 13.
    let l = &mut q.heads[0].layers[0];
    l.inputs = 13;
    l.weight = vec![1; 13 * l.outputs];
    let e = load(&q.to_gguf());
    assert!(
        matches!(
            e,
            LoadError::LayerChain {
                expected: 12,
                found: 13,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn weight_of_minus_128_is_refused() {
    let mut q = model();
    q.backbone[1].weight[5] = -128;
    let e = load(&q.to_gguf());
    assert!(
        matches!(
            e,
            LoadError::OutOfRange {
                index: 5,
                value: -128,
                min: -127,
                max: 127,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn requant_parameters_out_of_range() {
    let mut q = model();
    q.backbone[0].shift[2] = 32;
    assert!(matches!(
        load(&q.to_gguf()),
        LoadError::OutOfRange {
            index: 2,
            value: 32,
            ..
        }
    ));
    let mut q = model();
    q.backbone[0].multiplier[0] = -5;
    assert!(matches!(
        load(&q.to_gguf()),
        LoadError::OutOfRange { value: -5, .. }
    ));
    let mut q = model();
    q.backbone[0].bias[1] = (1 << 30) + 1;
    assert!(matches!(
        load(&q.to_gguf()),
        LoadError::OutOfRange { index: 1, .. }
    ));
    let mut q = model();
    q.backbone[0].multiplier.pop();
    assert!(matches!(
        load(&q.to_gguf()),
        LoadError::BadArrayLen {
            expected: 16,
            found: 15,
            ..
        }
    ));
}

#[test]
fn missing_and_mistyped_keys() {
    let mut w = model().to_writer();
    w.remove_kv("augur.input.window");
    let e = load(&w.to_bytes());
    assert!(matches!(e, LoadError::MissingKey { .. }), "{e}");
    assert!(
        e.to_string().contains("'augur.input.window' is missing"),
        "{e}"
    );

    let mut w = model().to_writer();
    w.kv(
        "augur.input.section.sched.version",
        MetaValue::Str("one".into()),
    );
    let e = load(&w.to_bytes());
    assert!(
        matches!(
            e,
            LoadError::WrongKeyType {
                expected: "u32",
                found: "string",
                ..
            }
        ),
        "{e}"
    );

    let mut w = model().to_writer();
    w.kv("augur.format_version", MetaValue::U32(9));
    assert_eq!(
        load(&w.to_bytes()),
        LoadError::UnsupportedFormat {
            found: 9,
            supported: 2
        }
    );
}

#[test]
fn missing_tensor() {
    let mut w = model().to_writer();
    w.tensors_mut().retain(|t| t.name != "head.sched.1.weight");
    let e = load(&w.to_bytes());
    assert!(matches!(e, LoadError::MissingTensor { .. }), "{e}");
    assert!(e.to_string().contains("head.sched.1.weight"));
}

#[test]
fn duplicate_keys_and_tensors() {
    // Rename tensor "backbone.1.bias" to "backbone.0.bias" (same length) in place.
    let mut bytes = model().to_gguf();
    let (first, second) = (b"backbone.0.bias", b"backbone.1.bias");
    let at = bytes
        .windows(second.len())
        .position(|win| win == second)
        .unwrap();
    bytes[at..at + first.len()].copy_from_slice(first);
    let e = load(&bytes);
    // The GGUF reader's own check, before the digest is looked at.
    assert!(matches!(e, LoadError::DuplicateTensor { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "tensor 'backbone.0.bias' appears more than once"
    );

    let mut w = GgufWriter::new();
    w.kv("a", MetaValue::U32(1)).kv("b", MetaValue::U32(2));
    let mut bytes = w.to_bytes();
    let key_b = [1, 0, 0, 0, 0, 0, 0, 0, b'b'];
    let at = bytes
        .windows(key_b.len())
        .position(|win| win == key_b)
        .unwrap()
        + 8;
    bytes[at] = b'a';
    assert_eq!(
        load(&bytes).to_string(),
        "metadata key 'a' appears more than once"
    );
}

#[test]
fn unknown_value_type_and_bad_alignment() {
    let mut w = GgufWriter::new();
    w.kv("x", MetaValue::U32(1));
    let mut bytes = w.to_bytes();
    let len = bytes.len();
    // The last entry is "x": key (8 + 1 bytes), then its type field.
    let at = bytes.windows(1).rposition(|win| win == b"x").unwrap() + 1;
    put_u32(&mut bytes, at, 77);
    assert!(matches!(
        load(&bytes[..len]),
        LoadError::UnknownValueType { found: 77, .. }
    ));

    let mut w = GgufWriter::new();
    w.kv("general.alignment", MetaValue::U32(24));
    assert_eq!(load(&w.to_bytes()), LoadError::BadAlignment { found: 24 });
}

#[test]
fn nested_arrays_are_bounded() {
    // One entry "k": an array of arrays of arrays, deeper than the reader follows.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"GGUF");
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.push(b'k');
    bytes.extend_from_slice(&9u32.to_le_bytes()); // value type: array
    for _ in 0..3 {
        bytes.extend_from_slice(&9u32.to_le_bytes()); // element type: array
        bytes.extend_from_slice(&1u64.to_le_bytes()); // one element
    }
    bytes.extend_from_slice(&[0; 64]);
    let e = load(&bytes);
    assert!(matches!(e, LoadError::NestingTooDeep { .. }), "{e}");
}

#[test]
fn i32_output_only_on_a_heads_last_layer() {
    let mut q = model();
    q.backbone[0].output = LayerOutput::I32;
    let e = load(&q.to_gguf());
    assert!(matches!(e, LoadError::BadGraph { .. }), "{e}");
    assert!(e.to_string().contains("only a head's last layer"), "{e}");
}

#[test]
fn non_utf8_names() {
    let mut w = model().to_writer().write();
    let at = w.tensor_info_at[0] + 8;
    w.bytes[at] = 0xFF;
    assert!(matches!(
        load(&w.bytes),
        LoadError::BadUtf8 {
            what: "tensor name",
            ..
        }
    ));
}
