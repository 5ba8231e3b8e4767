//! The model card: a Markdown page next to the GGUF saying what the model was trained on, how
//! it was checked and how to make it again.
//!
//! The `SHA-256` line is machine-readable: `- SHA-256 of the GGUF: \`<64 hex>\``
//! ([`card_sha256`] reads it back), so a test can check that a committed model and its card
//! belong together. So is the integrity digest line, `- Integrity digest (augur.digest.sha256):
//! \`<64 hex>\`` ([`card_digest`]): the value stored in the file and checked by the kernel at
//! load, which (unlike the file's SHA-256) a user can compare with what the kernel reports.

use std::fmt::Write as _;
use std::path::Path;

use crate::{TrainError, TrainReport};

/// The prefix of the card's hash line.
const SHA_LINE: &str = "- SHA-256 of the GGUF: `";
/// The prefix of the card's integrity digest line.
const DIGEST_LINE: &str = "- Integrity digest (augur.digest.sha256): `";

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The card's Markdown.
pub fn card_markdown(r: &TrainReport) -> String {
    let mut s = String::new();
    let used: Vec<_> = r.files.iter().filter(|f| f.used).collect();
    let count = |held: bool, f: &dyn Fn(&crate::FileSummary) -> usize| -> usize {
        used.iter()
            .filter(|x| x.held_out == held)
            .map(|x| f(x))
            .sum()
    };
    let _ = writeln!(s, "# Model card: {}\n", r.name);
    let _ = writeln!(
        s,
        "Augur scheduler model: a backbone over the last ticks of kernel telemetry and a `sched` head \
         that scores each runnable task (higher runs first), trained on kernel traces by `augur-trainer`.\n"
    );
    let _ = writeln!(s, "## File\n");
    let _ = writeln!(s, "{SHA_LINE}{}`", r.sha256);
    let _ = writeln!(s, "{DIGEST_LINE}{}`", r.digest);
    let _ = writeln!(
        s,
        "- Size: {} bytes (GGUF v3, int8 weights, int32 biases)",
        r.gguf_bytes
    );
    let _ = writeln!(s, "- Parameters: {}", r.parameters);
    let _ = writeln!(
        s,
        "- Shape: backbone {}→{}→{} (ReLU), head `sched` [{} embedding | 8 task features]→{} (ReLU)→1 raw score",
        augur_kernel::telemetry::MODEL_INPUT_LEN,
        r.shape.hidden,
        r.shape.embedding,
        r.shape.embedding,
        r.shape.head_hidden
    );
    let _ = writeln!(
        s,
        "- Feature schema version: {v} (input section `sched` v{v}: {} ticks × {} telemetry fields; \
         head `sched` features v{v}: {} candidate features; input scales 1.0)\n",
        augur_kernel::telemetry::WINDOW_TICKS,
        augur_kernel::telemetry::TELEMETRY_FIELDS,
        augur_kernel::telemetry::CANDIDATE_FEATURES,
        v = r.schema_version,
    );
    let _ = writeln!(s, "## Data\n");
    let _ = writeln!(s, "Held out: {}.\n", r.holdout);
    let _ = writeln!(
        s,
        "| split | files | ticks | decisions | labelled | unlabelled |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, held) in [("training", false), ("held-out", true)] {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} |",
            used.iter().filter(|x| x.held_out == held).count(),
            count(held, &|f| f.ticks),
            count(held, &|f| f.decisions),
            count(held, &|f| f.labelled),
            count(held, &|f| f.unlabelled)
        );
    }
    let _ = writeln!(
        s,
        "\n| file | mix | seed | policy | split | ticks | labelled | damage |"
    );
    let _ = writeln!(s, "| --- | --- | ---: | --- | --- | ---: | ---: | --- |");
    for f in &r.files {
        let (mix, seed, policy) = f
            .name
            .as_ref()
            .map_or(("?".into(), "?".into(), "?".into()), |n| {
                (n.mix.clone(), n.seed.to_string(), n.policy.clone())
            });
        let split = match (f.used, f.held_out) {
            (false, _) => "skipped",
            (true, true) => "held-out",
            (true, false) => "training",
        };
        let file = f
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let damage = if f.damage.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{} report(s): {}",
                f.damage.len(),
                f.damage[0].replace('|', "/")
            )
        };
        let _ = writeln!(
            s,
            "| {file} | {mix} | {seed} | {policy} | {split} | {} | {} | {damage} |",
            f.ticks, f.labelled
        );
    }
    let _ = writeln!(s, "\n## Metrics\n");
    if let Some([normal, batch, interactive]) = r.gittins_exits {
        let _ = writeln!(
            s,
            "Objective: order each decision's candidates by their Gittins index, from the \
             distribution of work per task class estimated from {} finished tasks of the \
             training traces (normal {normal}, batch {batch}, interactive {interactive}).\n",
            normal + batch + interactive
        );
    }
    let _ = writeln!(
        s,
        "Agreement: with the shortest-remaining-work oracle's pick (remaining = exit status − \
         `cpu_total`); a pick agrees when it is one of the candidates with the least remaining \
         work.\n"
    );
    let _ = writeln!(s, "| metric | training | held-out |");
    let _ = writeln!(s, "| --- | ---: | ---: |");
    let (t, h) = (&r.train, &r.heldout);
    let rows: [(&str, String, String); 9] = [
        (
            "pretraining pairs",
            t.pairs.to_string(),
            h.pairs.to_string(),
        ),
        (
            "next-tick MSE (standardised)",
            format!("{:.4}", t.pretrain_mse),
            format!("{:.4}", h.pretrain_mse),
        ),
        (
            "persistence baseline MSE",
            format!("{:.4}", t.persistence_mse),
            format!("{:.4}", h.persistence_mse),
        ),
        (
            "decisions",
            t.decisions.to_string(),
            h.decisions.to_string(),
        ),
        (
            match r.head_loss {
                crate::HeadLoss::Listwise => "listwise loss (float)",
                crate::HeadLoss::Pairwise => "pairwise loss (float)",
                crate::HeadLoss::Gittins => "Gittins-order pairwise loss (float)",
            },
            format!("{:.4}", t.finetune_loss),
            format!("{:.4}", h.finetune_loss),
        ),
        (
            "objective agreement (the pick the head is trained for), float",
            pct(t.objective_agreement),
            pct(h.objective_agreement),
        ),
        (
            "oracle agreement, float",
            pct(t.float_agreement),
            pct(h.float_agreement),
        ),
        (
            "oracle agreement, random pick",
            pct(t.random_agreement),
            pct(h.random_agreement),
        ),
        (
            "oracle agreement, policy in the trace",
            pct(t.logged_policy_agreement),
            pct(h.logged_policy_agreement),
        ),
    ];
    for (name, a, b) in rows {
        let _ = writeln!(s, "| {name} | {a} | {b} |");
    }
    let _ = writeln!(
        s,
        "| objective agreement, quantized (int8 engine) | | {} |",
        pct(r.quantized_objective_agreement)
    );
    let _ = writeln!(
        s,
        "| oracle agreement, quantized (int8 engine) | | {} |",
        pct(r.quantized_agreement)
    );
    let _ = writeln!(s, "\n## Checks passed\n");
    let _ = writeln!(
        s,
        "- Loads with the runtime's reader and matches the kernel's schema (`check_schema`)."
    );
    let _ = writeln!(
        s,
        "- int8 engine vs tract-core f32 on the dequantized file: {} outputs compared, worst {:.1}% of the bound \
         (embedding bound {:.4}, score bound {:.4}).",
        r.reference.compared,
        r.reference.worst_fraction * 100.0,
        r.reference.embedding_bound,
        r.reference.score_bound
    );
    let _ = writeln!(
        s,
        "- Held-out objective agreement: quantized {} vs float {}.\n",
        pct(r.quantized_objective_agreement),
        pct(r.heldout.objective_agreement)
    );
    let _ = writeln!(s, "## How it was made\n");
    if !r.command_line.is_empty() {
        let _ = writeln!(s, "```\n{}\n```\n", r.command_line);
    }
    let _ = writeln!(s, "Configuration: {}.\n", r.config);
    let _ = writeln!(s, "| stage | seconds |");
    let _ = writeln!(s, "| --- | ---: |");
    for (stage, secs) in &r.timings {
        let _ = writeln!(s, "| {stage} | {secs:.2} |");
    }
    s
}

/// Writes the card of `report` to `path`.
pub fn write_model_card(path: &Path, report: &TrainReport) -> Result<(), TrainError> {
    crate::write_atomic(path, card_markdown(report).as_bytes())
}

/// The SHA-256 a card names, if it has the line.
pub fn card_sha256(card: &str) -> Option<&str> {
    card_value(card, SHA_LINE)
}

/// The integrity digest a card names, if it has the line.
pub fn card_digest(card: &str) -> Option<&str> {
    card_value(card, DIGEST_LINE)
}

fn card_value<'c>(card: &'c str, prefix: &str) -> Option<&'c str> {
    card.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.strip_suffix('`'))
}
