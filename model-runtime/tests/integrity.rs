//! The integrity digest and the format 2 keys: no changed byte anywhere in a model file is
//! accepted, a file without a digest or of format 1 is refused with the re-export command, and
//! the input sections and head feature versions read back as written.

use model_runtime::gguf::Gguf;
use model_runtime::integrity::{DIGEST_HEX_LEN, DIGEST_KEY, seal};
use model_runtime::writer::MetaValue;
use model_runtime::{
    InputSection, LoadError, Model, QuantizedModel, REEXPORT_COMMAND, random_model,
};

fn model() -> QuantizedModel {
    random_model(9, 2, 8, &[16, 8], &[("sched", 4, &[8, 1])])
}

/// Bit patterns each byte is flipped with: the lowest and highest bit, the ASCII case bit
/// (so `a` -> `A` in the stored hex digest), and all bits.
const MASKS: [u8; 4] = [0x01, 0x20, 0x80, 0xFF];

#[test]
fn no_flipped_byte_anywhere_is_accepted() {
    let w = model().to_writer().write();
    let bytes = &w.bytes;
    assert!(Model::from_gguf(bytes).is_ok());
    let gguf = Gguf::parse(bytes).unwrap();
    let in_tensor_data = |at: usize| {
        gguf.tensor_infos().any(|t| {
            let start = t.file_offset as usize;
            (start..start + t.data.len()).contains(&at)
        })
    };
    let (mut by_digest, mut structural, mut tensor_bytes) = (0, 0, 0);
    for at in 0..bytes.len() {
        for mask in MASKS {
            let mut bad = bytes.clone();
            bad[at] ^= mask;
            match Model::from_gguf(&bad) {
                Ok(_) => panic!("byte {at} ^ {mask:#04x} of {} accepted", bytes.len()),
                Err(LoadError::DigestMismatch { .. }) => by_digest += 1,
                Err(e) => {
                    // A value inside tensor data always parses: only the digest can catch it.
                    assert!(!in_tensor_data(at), "tensor byte {at}: {e}");
                    structural += 1;
                }
            }
        }
        tensor_bytes += usize::from(in_tensor_data(at));
    }
    // The dense part of the check: every weight and bias byte was among the offsets, and the
    // digest (not luck in the structure) refused most flips.
    let tensor_total: usize = gguf.tensor_infos().map(|t| t.data.len()).sum();
    assert_eq!(tensor_bytes, tensor_total);
    assert!(
        by_digest > structural,
        "{by_digest} by digest, {structural} structural"
    );
}

/// The finding: flips in tensor data, in a layer's `output_scale` and near the end
/// of the file were accepted before the digest. Each of those spots, one by one.
#[test]
fn flips_the_structure_cannot_see_are_refused_by_the_digest() {
    let w = model().to_writer().write();
    let bytes = &w.bytes;
    let scale_key = b"augur.layer.backbone.0.output_scale";
    let key_at = bytes
        .windows(scale_key.len())
        .position(|win| win == scale_key)
        .unwrap();
    // The f32 value follows the key and its 4-byte type field.
    let scale_at = key_at + scale_key.len() + 4;
    let mut spots: Vec<usize> = w.tensor_data_at.clone();
    spots.extend(w.tensor_data_at.iter().map(|&at| at + 1));
    spots.extend(scale_at..scale_at + 4);
    spots.extend(bytes.len() - 64..bytes.len());
    for at in spots {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        // Without the digest this file is well formed: sealing it again makes it load.
        let mut resealed = bad.clone();
        seal(&mut resealed).unwrap();
        assert!(Model::from_gguf(&resealed).is_ok(), "byte {at}");
        let e = Model::from_gguf(&bad).err().unwrap();
        assert!(
            matches!(e, LoadError::DigestMismatch { .. }),
            "byte {at}: {e}"
        );
        assert!(e.to_string().starts_with("the file is corrupt"), "{e}");
    }
}

#[test]
fn truncated_or_extended_files_are_refused() {
    let bytes = model().to_gguf();
    for len in 0..bytes.len() {
        assert!(Model::from_gguf(&bytes[..len]).is_err(), "prefix {len}");
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 32]);
    assert!(matches!(
        Model::from_gguf(&longer),
        Err(LoadError::DigestMismatch { .. })
    ));
}

#[test]
fn the_stored_digest_is_what_the_model_reports() {
    let w = model().to_writer().write();
    let at = w.digest_at.expect("the writer seals model files");
    let m = Model::from_gguf(&w.bytes).unwrap();
    assert_eq!(&w.bytes[at..at + DIGEST_HEX_LEN], &m.digest_hex());
    // Case matters: the same digest in upper case is a mismatch.
    let mut upper = w.bytes.clone();
    upper[at..at + DIGEST_HEX_LEN].make_ascii_uppercase();
    if upper != w.bytes {
        let e = Model::from_gguf(&upper).err().unwrap();
        assert!(matches!(e, LoadError::DigestMismatch { .. }), "{e}");
    }
}

#[test]
fn mismatch_message_shows_both_prefixes() {
    let w = model().to_writer().write();
    let at = w.digest_at.unwrap();
    let mut bad = w.bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let computed = model_runtime::integrity::to_hex(&model_runtime::integrity::digest_without(
        &bad,
        at..at + DIGEST_HEX_LEN,
    ));
    let text = Model::from_gguf(&bad).err().unwrap().to_string();
    let stored = std::str::from_utf8(&w.bytes[at..at + 8]).unwrap();
    assert!(text.contains(stored), "{text}");
    assert!(
        text.contains(std::str::from_utf8(&computed[..8]).unwrap()),
        "{text}"
    );
}

#[test]
fn a_file_without_digest_is_refused_with_the_reexport_command() {
    let mut w = model().to_writer();
    w.remove_kv(DIGEST_KEY);
    let e = Model::from_gguf(&w.to_bytes()).err().unwrap();
    assert_eq!(e, LoadError::MissingDigest);
    assert!(e.to_string().contains(REEXPORT_COMMAND), "{e}");

    let mut w = model().to_writer();
    w.kv(DIGEST_KEY, MetaValue::U32(7));
    assert!(matches!(
        Model::from_gguf(&w.to_bytes()),
        Err(LoadError::WrongKeyType {
            expected: "string",
            found: "u32",
            ..
        })
    ));
}

#[test]
fn format_1_is_refused_with_the_reexport_command() {
    let mut w = model().to_writer();
    w.kv("augur.format_version", MetaValue::U32(1));
    let e = Model::from_gguf(&w.to_bytes()).err().unwrap();
    assert_eq!(
        e,
        LoadError::UnsupportedFormat {
            found: 1,
            supported: 2
        }
    );
    assert!(e.to_string().contains(REEXPORT_COMMAND), "{e}");
    let mut w = model().to_writer();
    w.kv("augur.format_version", MetaValue::U32(3));
    let e = Model::from_gguf(&w.to_bytes()).err().unwrap();
    assert!(e.to_string().contains("newer"), "{e}");
}

#[test]
fn sections_and_head_versions_read_back() {
    let mut q = model();
    q.sections = vec![
        InputSection::new("sched", 2, 5),
        InputSection::new("mm", 7, 3),
    ];
    q.heads[0].features_version = 4;
    let bytes = q.to_gguf();
    let m = Model::from_gguf(&bytes).unwrap();
    let got: Vec<_> = m
        .sections()
        .map(|s| (s.name, s.version, s.fields, s.first_field))
        .collect();
    assert_eq!(got, [("sched", 2, 5, 0), ("mm", 7, 3, 5)]);
    assert_eq!(m.section("mm").map(|s| s.version), Some(7));
    assert!(m.section("blk").is_none());
    assert_eq!(m.head(0).unwrap().features_version, 4);
}

#[test]
fn section_fields_must_add_up_to_the_features() {
    let mut q = model();
    q.sections = vec![
        InputSection::new("sched", 2, 5),
        InputSection::new("mm", 1, 2),
    ];
    let e = Model::from_gguf(&q.to_gguf()).err().unwrap();
    assert_eq!(
        e,
        LoadError::SectionFields {
            sum: 7,
            features: 8
        }
    );
    assert!(e.to_string().contains("augur.input.features is 8"), "{e}");
}

#[test]
fn bad_section_lists_are_refused() {
    let mut q = model();
    q.sections = vec![
        InputSection::new("sched", 2, 4),
        InputSection::new("sched", 2, 4),
    ];
    let e = Model::from_gguf(&q.to_gguf()).err().unwrap();
    assert!(matches!(e, LoadError::BadGraph { .. }), "{e}");
    assert!(e.to_string().contains("listed twice"), "{e}");

    q.sections = vec![];
    let e = Model::from_gguf(&q.to_gguf()).err().unwrap();
    assert!(e.to_string().contains("is empty"), "{e}");

    q.sections = vec![
        InputSection::new("sched", 2, 0),
        InputSection::new("mm", 2, 8),
    ];
    let e = Model::from_gguf(&q.to_gguf()).err().unwrap();
    assert!(matches!(e, LoadError::OutOfRange { value: 0, .. }), "{e}");

    for key in [
        "augur.input.sections",
        "augur.input.section.sched.version",
        "augur.input.section.sched.fields",
        "augur.head.sched.features_version",
    ] {
        let mut w = model().to_writer();
        w.remove_kv(key);
        let e = Model::from_gguf(&w.to_bytes()).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "metadata key '{key}' is missing: is this an Augur model file (written by augur-weights)?"
            )
        );
    }
}
