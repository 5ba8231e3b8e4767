//! The model the kernel embeds (`kernel/src/model.rs` includes `weights/augur-sched-v2.gguf`)
//! is the one its card describes: same SHA-256 and integrity digest, the kernel's feature
//! schema in its `sched` section and head, the right name.

use augur_kernel::sched::head::check_schema;
use augur_kernel::telemetry::{SCHEMA_VERSION, TELEMETRY_FIELDS};
use augur_trainer::card::{card_digest, card_sha256};
use augur_trainer::sha256_hex;
use model_runtime::Model;

const GGUF: &[u8] = include_bytes!("../../weights/augur-sched-v2.gguf");
const CARD: &str = include_str!("../../weights/augur-sched-v2.md");

#[test]
fn embedded_weights_match_their_card_and_the_kernel_schema() {
    assert_eq!(
        card_sha256(CARD),
        Some(sha256_hex(GGUF).as_str()),
        "weights/augur-sched-v2.gguf is not the file its card describes; retrain with the \
         command in the card"
    );
    let model = Model::from_gguf(GGUF).expect("the embedded model loads");
    assert_eq!(
        card_digest(CARD),
        Some(String::from_utf8_lossy(&model.digest_hex()).as_ref()),
        "the card's integrity digest is not the one stored in (and checked against) the file"
    );
    assert_eq!(model.name(), "augur-sched-v2");
    let sections: Vec<_> = model
        .sections()
        .map(|s| (s.name, s.version, s.fields))
        .collect();
    assert_eq!(
        sections,
        [("sched", u32::from(SCHEMA_VERSION), TELEMETRY_FIELDS)]
    );
    let head = check_schema(&model).expect("the kernel's schema check accepts it");
    assert_eq!(
        model.head(head).unwrap().features_version,
        u32::from(SCHEMA_VERSION)
    );
    assert!(
        CARD.contains(&format!("Feature schema version: {SCHEMA_VERSION} ")),
        "the card names the schema version"
    );
    assert!(CARD.contains("augur train"), "the card gives the command");
    assert!(
        CARD.contains("--example reexport"),
        "the card says how the file was re-exported"
    );
}
