//! Rewrites an Augur model file of format 1 (one `augur.schema_version`, no integrity digest) in
//! the current format from the same tensors and scales, and checks the result against the old
//! file (`augur_weights::reexport`). The runtime names this command when it refuses an old file.
//!
//! `cargo run -p augur-weights --example reexport -- OLD.gguf NEW.gguf` (NEW may be OLD)

use std::path::PathBuf;

use augur_weights::reexport::reexport;
use model_runtime::Model;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(old_path), Some(new_path), None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: reexport OLD.gguf NEW.gguf".into());
    };
    let old =
        std::fs::read(&old_path).map_err(|e| format!("cannot read {}: {e}", old_path.display()))?;
    let new = reexport(&old).map_err(|e| format!("{}: {e}", old_path.display()))?;
    let model = Model::from_gguf(&new)?;
    std::fs::write(&new_path, &new)
        .map_err(|e| format!("cannot write {}: {e}", new_path.display()))?;
    println!(
        "wrote {}: {} bytes (was {}), model '{}', format {}, tensors byte-identical, \
         augur.digest.sha256 {}",
        new_path.display(),
        new.len(),
        old.len(),
        model.name(),
        model_runtime::graph::FORMAT_VERSION,
        String::from_utf8_lossy(&model.digest_hex()),
    );
    Ok(())
}
