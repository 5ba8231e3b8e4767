//! The re-export tool (`augur_weights::reexport`) and the committed models it rewrote: each
//! committed file is exactly what the tool makes of the format 1 file it replaced (kept in
//! `tests/data/`), with every tensor and every scale unchanged, and no changed byte of it loads.

use augur_weights::reexport::{ReexportError, reexport};
use model_runtime::gguf::{Gguf, Value};
use model_runtime::integrity::DIGEST_KEY;
use model_runtime::writer::MetaValue;
use model_runtime::{InputSection, LoadError, Model, QuantizedModel, random_model};

fn read(path: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The bytes format 1 wrote for `q` (what the writer wrote before format 2): one
/// `augur.schema_version`, no sections, no head feature versions, no digest.
fn format1(q: &QuantizedModel, schema: u32) -> Vec<u8> {
    let mut w = q.to_writer();
    w.kv("augur.format_version", MetaValue::U32(1));
    w.kv("augur.schema_version", MetaValue::U32(schema));
    w.remove_kv(DIGEST_KEY);
    w.remove_kv("augur.input.sections");
    for s in &q.sections {
        w.remove_kv(&format!("augur.input.section.{}.version", s.name));
        w.remove_kv(&format!("augur.input.section.{}.fields", s.name));
    }
    for h in &q.heads {
        w.remove_kv(&format!("augur.head.{}.features_version", h.name));
    }
    w.to_bytes()
}

/// Whether two metadata values are equal bit for bit.
fn same(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => {
            x.elem() == y.elem()
                && x.fixed_bytes(x.elem()) == y.fixed_bytes(y.elem())
                && x.strings().eq(y.strings())
        }
        _ => format!("{a:?}") == format!("{b:?}"),
    }
}

fn assert_same_tensors_and_scales(old: &[u8], new: &[u8]) {
    let (old, new) = (Gguf::parse(old).unwrap(), Gguf::parse(new).unwrap());
    assert_eq!(old.tensor_len(), new.tensor_len());
    for t in old.tensor_infos() {
        let n = new.tensor(t.name).unwrap();
        assert_eq!((n.ty, n.rank, n.dims), (t.ty, t.rank, t.dims), "{}", t.name);
        assert!(n.data == t.data, "tensor {} changed", t.name);
    }
    let mut scales = 0;
    for (key, value) in old.metadata() {
        if key == "augur.format_version" || key == "augur.schema_version" {
            continue;
        }
        let v = new.get(key).unwrap_or_else(|| panic!("{key} dropped"));
        assert!(same(&value, &v), "{key} changed");
        scales += usize::from(key.contains("scale"));
    }
    assert!(scales > 0);
}

#[test]
fn committed_models_are_the_reexport_of_their_format_1_files() {
    for (old, new) in [
        (
            "tests/data/augur-sched-v2.format1.gguf",
            "augur-sched-v2.gguf",
        ),
        (
            "tests/data/augur-handset-v1.format1.gguf",
            "augur-handset-v1.gguf",
        ),
    ] {
        let (old, committed) = (read(old), read(new));
        let rewritten = reexport(&old).unwrap();
        assert!(
            rewritten == committed,
            "{new} is not the re-export of its format 1 file"
        );
        assert_same_tensors_and_scales(&old, &committed);
        // The old file is refused by the runtime with the command that made the new one.
        let e = Model::from_gguf(&old).err().unwrap();
        assert!(e.to_string().contains("--example reexport"), "{e}");
        let m = Model::from_gguf(&committed).unwrap();
        let sections: Vec<_> = m
            .sections()
            .map(|s| (s.name, s.version, s.fields))
            .collect();
        assert_eq!(sections, [("sched", 2, 12)]);
        assert_eq!(m.head(0).unwrap().features_version, 2);
    }
}

/// Each committed model's card names the file's SHA-256 and the integrity digest stored in it,
/// and the SHA-256 of the format 1 file it was re-exported from.
#[test]
fn cards_name_the_files_and_their_digests() {
    for (gguf, card, old) in [
        (
            "augur-sched-v2.gguf",
            "augur-sched-v2.md",
            "tests/data/augur-sched-v2.format1.gguf",
        ),
        (
            "augur-handset-v1.gguf",
            "augur-handset-v1.md",
            "tests/data/augur-handset-v1.format1.gguf",
        ),
    ] {
        let (bytes, card) = (read(gguf), String::from_utf8(read(card)).unwrap());
        let line = |prefix: &str| {
            card.lines()
                .find_map(|l| l.strip_prefix(prefix)?.strip_suffix('`'))
                .map(str::to_string)
        };
        assert_eq!(
            line("- SHA-256 of the GGUF: `"),
            Some(sha256_hex(&bytes)),
            "{gguf}"
        );
        let model = Model::from_gguf(&bytes).unwrap();
        assert_eq!(
            line("- Integrity digest (augur.digest.sha256): `"),
            Some(String::from_utf8(model.digest_hex().to_vec()).unwrap()),
            "{gguf}"
        );
        let old_sha = sha256_hex(&read(old));
        assert!(
            card.contains(&format!("format 1 file had SHA-256 `{old_sha}`")),
            "{gguf}"
        );
        assert!(card.contains("--example reexport"), "{gguf}");
    }
}

/// SHA-256 of a whole file, lowercase hex (the runtime's digest function with nothing left out).
fn sha256_hex(bytes: &[u8]) -> String {
    let d = model_runtime::integrity::digest_without(bytes, 0..0);
    String::from_utf8(model_runtime::integrity::to_hex(&d).to_vec()).unwrap()
}

/// The finding (5 of 20 flipped offsets in the committed model were accepted): every
/// byte of the committed scheduler model, flipped, is refused.
#[test]
fn no_flipped_byte_of_the_committed_model_loads() {
    let bytes = read("augur-sched-v2.gguf");
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        assert!(Model::from_gguf(&bad).is_err(), "byte {at} accepted");
    }
    // The twenty offsets of the probe spread over the file: all caught by the digest
    // where the structure cannot see the change.
    for i in 0..20 {
        let at = bytes.len() * (2 * i + 1) / 40;
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        assert!(Model::from_gguf(&bad).is_err(), "byte {at} accepted");
    }
}

#[test]
fn reexport_of_a_format_1_model_is_what_the_writer_writes_now() {
    let mut q = random_model(
        5,
        3,
        6,
        &[12, 7],
        &[("sched", 4, &[5, 1]), ("blk", 3, &[2])],
    );
    q.sections = vec![InputSection::new("sched", 3, 6)];
    for h in &mut q.heads {
        h.features_version = 3;
    }
    let old = format1(&q, 3);
    assert_eq!(reexport(&old).unwrap(), q.to_gguf());
}

#[test]
fn reexport_refuses_what_it_cannot_convert() {
    let q = random_model(5, 1, 4, &[4], &[]);
    assert!(matches!(
        reexport(&q.to_gguf()),
        Err(ReexportError::AlreadyCurrent)
    ));
    assert!(matches!(
        reexport(b"not a gguf file at all"),
        Err(ReexportError::Gguf(LoadError::BadMagic { .. }))
    ));
    let mut w = q.to_writer();
    w.kv("augur.format_version", MetaValue::U32(1));
    w.remove_kv(DIGEST_KEY);
    let e = reexport(&w.to_bytes()).err().unwrap();
    assert_eq!(
        e.to_string(),
        "format 1 model: 'augur.schema_version' is missing"
    );
}
