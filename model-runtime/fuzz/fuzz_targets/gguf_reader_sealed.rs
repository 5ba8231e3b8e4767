//! Fuzzes the weight-file reader behind the integrity digest: each input is sealed first (its
//! `augur.digest.sha256` value rewritten to the digest of its other bytes, as the writer does),
//! so a mutated weight, scale, key or graph entry reaches the structural and range checks that
//! the digest would otherwise stop it before. A sealed input must never be refused for its
//! digest, and anything accepted must run as in `gguf_reader`.
//!
//! Run: `cd model-runtime/fuzz && cargo fuzz run gguf_reader_sealed seeds -- -max_total_time=300`

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use model_runtime::LoadError;
use model_runtime::integrity::seal;

fuzz_target!(|data: &[u8]| {
    let mut sealed = data.to_vec();
    let was_sealed = seal(&mut sealed).is_ok();
    let refused = common::exercise(&sealed);
    if was_sealed {
        assert!(
            !matches!(refused, Some(LoadError::DigestMismatch { .. })),
            "a sealed file failed its digest check"
        );
    }
});
