//! Writes the hand-set model (explicit weights, not trained: `augur_weights::handset`) to
//! `weights/augur-handset-v1.gguf`, the file the kernel embeds. Deterministic: running it again
//! gives the same bytes, and `weights/tests/handset.rs` fails when the file and the code differ.
//!
//! `cargo run -p augur-weights --example handset [-- OUT.gguf]`

use std::path::PathBuf;

use augur_weights::{HANDSET_FILE, handset_gguf};
use model_runtime::Model;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(HANDSET_FILE),
        PathBuf::from,
    );
    let bytes = handset_gguf()?;
    let model = Model::from_gguf(&bytes)?;
    std::fs::write(&path, &bytes)?;
    println!(
        "wrote {}: {} bytes, model '{}', {} tensors",
        path.display(),
        bytes.len(),
        model.name(),
        model.gguf().tensor_len(),
    );
    Ok(())
}
