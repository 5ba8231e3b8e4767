//! Keeps the fuzzer's committed seed files (`fuzz/seeds/`) loadable: each must be a valid,
//! sealed Augur model, so the fuzzer starts from inputs that reach the deepest validation, and
//! a mutation of one reaches the integrity digest check (`gguf_reader`) or, resealed, the checks
//! behind it (`gguf_reader_sealed`).
//! `AUGUR_WRITE_FUZZ_SEEDS=1 cargo test -p model-runtime --test fuzz_seeds` regenerates them.

use model_runtime::{LoadError, Model, integrity, random_model};

#[test]
fn fuzz_seeds_are_valid_models() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let seeds = [
        (
            "augur-tiny.gguf",
            random_model(1, 2, 4, &[6, 5], &[("sched", 3, &[4, 1]), ("blk", 2, &[1])]),
        ),
        ("mlp-only.gguf", random_model(2, 1, 7, &[9, 2], &[])),
        (
            "deep-head.gguf",
            random_model(3, 1, 3, &[4], &[("page", 5, &[3, 2, 2])]),
        ),
    ];
    for (name, q) in seeds {
        let path = dir.join(name);
        if std::env::var_os("AUGUR_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::write(&path, q.to_gguf()).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            bytes,
            q.to_gguf(),
            "{name} is stale: regenerate (see module docs)"
        );
        let model = Model::from_gguf(&bytes).unwrap();
        assert!(model.sections().count() > 0);
        // A changed weight reaches the digest check, and resealing gets it past it again, as
        // the sealed fuzz target does.
        let at = model.gguf().tensor_infos().next().unwrap().file_offset as usize;
        let mut mutated = bytes.clone();
        mutated[at] ^= 1;
        assert!(matches!(
            Model::from_gguf(&mutated),
            Err(LoadError::DigestMismatch { .. })
        ));
        integrity::seal(&mut mutated).unwrap();
        assert!(Model::from_gguf(&mutated).is_ok(), "{name}");
    }
}
