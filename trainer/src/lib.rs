//! Augur's trainer: kernel traces in, a trained, quantized, checked GGUF scheduler model and
//! its model card out (DESIGN.md §4 "The model", issue 5).
//!
//! [`train`] runs the whole pipeline:
//! 1. **Data** ([`dataset`]): decode every trace with the kernel's own reader (damage is
//!    reported, what decoded is used), build model inputs with the kernel's own
//!    `to_model_input`, label decisions by the shortest-remaining-work oracle, and split files
//!    into training and held-out sets by seed and by mix ([`HoldOut`]).
//! 2. **Pretrain** the backbone self-supervised (next tick's telemetry, [`backbone`]), then
//!    **fine-tune** each head on its embedding ([`heads`]), in candle on the CPU ([`net`]
//!    composes them). The scheduler head ([`heads::sched`]) is trained by default to order
//!    the candidates by their Gittins index, from work distributions estimated from the
//!    traces' finished tasks ([`heads::sched::gittins`]); or on the oracle's hindsight labels
//!    (listwise or pairwise, [`HeadLoss`]).
//! 3. **Quantize and check** ([`check`]): calibration from the training traces; the file must
//!    load, match the kernel's schema, agree with tract-core within the derived bound, and its
//!    held-out oracle agreement may not fall more than a margin below the float model's. A
//!    model that fails is not written ([`TrainError::Check`]).
//! 4. **Write** the GGUF and a Markdown model card next to it ([`card`]), with the SHA-256.
//!
//! Every step is deterministic given the data and [`TrainConfig::seed`].
//!
//! # Notes
//! The float model reads the raw int8 inputs as numbers (the quantized file says input and
//! candidate scale 1.0); training standardises them internally and folds that into the
//! first layers on export ([`backbone`], [`heads::sched`]).

pub mod backbone;
pub mod card;
pub mod check;
pub mod dataset;
pub mod heads;
pub mod layers;
pub mod net;
pub mod synth;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use augur_kernel::telemetry::SCHEMA_VERSION;
use model_runtime::XorShift;
use sha2::{Digest, Sha256};

pub use card::{card_markdown, write_model_card};
pub use check::{CheckFailure, ReferenceStats};
pub use dataset::{DecisionExample, TraceData, TraceName};
pub use heads::sched::HeadLoss;
pub use net::Shape;

use heads::TrainedHead;
use heads::sched::{NoFinishedTasks, Objective};

/// Which trace files are held out of training (evaluation only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HoldOut {
    /// Hold out every file whose seed is at least this.
    pub seeds_from: Option<u64>,
    /// Hold out every file of these mixes.
    pub mixes: Vec<String>,
}

impl HoldOut {
    /// Whether a file with this name is held out. Files whose names do not follow the collect
    /// naming are never held out (they train).
    pub fn holds_out(&self, name: Option<&TraceName>) -> bool {
        name.is_some_and(|n| {
            self.seeds_from.is_some_and(|s| n.seed >= s) || self.mixes.contains(&n.mix)
        })
    }
}

impl fmt::Display for HoldOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = self.seeds_from {
            parts.push(format!("seeds >= {s}"));
        }
        if !self.mixes.is_empty() {
            parts.push(format!("mixes {}", self.mixes.join(",")));
        }
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(" or "))
        }
    }
}

/// Where the traces are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceSource {
    /// Every `*.trace` file of a directory.
    Dir(PathBuf),
    /// These files.
    Files(Vec<PathBuf>),
}

/// Everything [`train`] needs.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The traces.
    pub traces: TraceSource,
    /// The GGUF file to write; the model card goes next to it with extension `md`.
    pub output: PathBuf,
    /// Seed of initialisation, subsampling and batch order.
    pub seed: u64,
    /// The held-out split.
    pub holdout: HoldOut,
    /// Layer widths.
    pub shape: Shape,
    /// Backbone pretraining epochs.
    pub pretrain_epochs: usize,
    /// Head fine-tuning epochs.
    pub finetune_epochs: usize,
    /// Examples per optimiser step.
    pub batch: usize,
    /// Pretraining learning rate (AdamW).
    pub pretrain_lr: f64,
    /// Head learning rate (AdamW).
    pub finetune_lr: f64,
    /// Backbone learning rate while fine-tuning; 0 freezes the backbone.
    pub backbone_finetune_lr: f64,
    /// Fine-tune the head with int8 rounding in the forward pass (see [`heads::sched`]).
    pub quantization_aware: bool,
    /// The head's fine-tuning loss.
    pub head_loss: HeadLoss,
    /// Most pretraining pairs used (a seeded subsample beyond that).
    pub max_pretrain_pairs: usize,
    /// Most training decisions used (a seeded subsample beyond that).
    pub max_decisions: usize,
    /// Most held-out decisions evaluated.
    pub max_heldout_decisions: usize,
    /// Calibration windows and candidate rows drawn from the training data.
    pub calibration_samples: usize,
    /// Decisions compared against tract-core.
    pub reference_samples: usize,
    /// Largest drop of held-out agreement (a fraction, 0.02 = 2 points) allowed from the float
    /// model to the quantized one. A negative margin makes the check fail on purpose.
    pub max_agreement_drop: f64,
    /// The command line that produced this model (for the card).
    pub command_line: String,
}

impl TrainConfig {
    /// The defaults, sized to train in well under a few minutes on 2 cores (release build).
    pub fn new(traces: TraceSource, output: PathBuf) -> Self {
        TrainConfig {
            traces,
            output,
            seed: 1,
            holdout: HoldOut::default(),
            shape: Shape::default(),
            pretrain_epochs: 4,
            finetune_epochs: 8,
            batch: 128,
            pretrain_lr: 3e-3,
            finetune_lr: 3e-3,
            backbone_finetune_lr: 0.0,
            quantization_aware: true,
            head_loss: HeadLoss::default(),
            max_pretrain_pairs: 100_000,
            max_decisions: 60_000,
            max_heldout_decisions: 20_000,
            calibration_samples: 512,
            reference_samples: 32,
            max_agreement_drop: 0.02,
            command_line: String::new(),
        }
    }

    /// The model card's path: the output with extension `md`.
    pub fn card_path(&self) -> PathBuf {
        self.output.with_extension("md")
    }

    /// The model's name: the output's file stem.
    pub fn model_name(&self) -> String {
        self.output
            .file_stem()
            .map_or_else(|| "augur".to_string(), |s| s.to_string_lossy().into_owned())
    }
}

/// Why training produced no model.
#[derive(Debug)]
pub enum TrainError {
    /// The traces could not be listed or read.
    Dataset(dataset::DatasetError),
    /// A split has nothing to learn or evaluate on.
    EmptySplit {
        /// `training` or `held-out`.
        split: &'static str,
        /// What is missing.
        what: &'static str,
        /// The hold-out rule.
        holdout: String,
    },
    /// candle failed.
    Candle(candle_core::Error),
    /// The model failed a check and was not written.
    Check(CheckFailure),
    /// Writing the model or its card failed.
    Write {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Dataset(e) => write!(f, "reading traces: {e}"),
            TrainError::EmptySplit {
                split,
                what,
                holdout,
            } => write!(
                f,
                "the {split} set has no {what} (held out: {holdout}); collect more traces or change the hold-out rule"
            ),
            TrainError::Candle(e) => write!(f, "training: {e}"),
            TrainError::Check(e) => write!(f, "model refused, nothing written: {e}"),
            TrainError::Write { path, error } => write!(f, "writing {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for TrainError {}

impl From<candle_core::Error> for TrainError {
    fn from(e: candle_core::Error) -> Self {
        TrainError::Candle(e)
    }
}

impl From<CheckFailure> for TrainError {
    fn from(e: CheckFailure) -> Self {
        TrainError::Check(e)
    }
}

/// One trace file as used.
#[derive(Clone, Debug)]
pub struct FileSummary {
    /// The file.
    pub path: PathBuf,
    /// Its parsed name.
    pub name: Option<TraceName>,
    /// Whether it was held out.
    pub held_out: bool,
    /// Telemetry ticks decoded.
    pub ticks: usize,
    /// Decision records.
    pub decisions: usize,
    /// Labelled decisions (two or more candidates, oracle pick known).
    pub labelled: usize,
    /// Decisions whose oracle pick is unknown.
    pub unlabelled: usize,
    /// Damage reports.
    pub damage: Vec<String>,
    /// Whether anything usable came out of it.
    pub used: bool,
}

/// Metrics of one split.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SplitMetrics {
    /// Pretraining pairs.
    pub pairs: usize,
    /// Next-tick MSE of the backbone + decoder (standardised units).
    pub pretrain_mse: f64,
    /// Next-tick MSE of "the next tick repeats this one" (same units).
    pub persistence_mse: f64,
    /// Labelled decisions evaluated.
    pub decisions: usize,
    /// Fine-tuning loss of the float model ([`TrainReport::head_loss`]).
    pub finetune_loss: f64,
    /// Oracle agreement of the float model.
    pub float_agreement: f64,
    /// Agreement of the float model with what it was trained to pick (the highest Gittins
    /// index for [`HeadLoss::Gittins`], else the oracle's pick).
    pub objective_agreement: f64,
    /// Oracle agreement of a uniformly random pick (expected).
    pub random_agreement: f64,
    /// Oracle agreement of the policy that ran when the trace was taken.
    pub logged_policy_agreement: f64,
}

/// What [`train`] did.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// The model's name.
    pub name: String,
    /// The GGUF written.
    pub gguf_path: PathBuf,
    /// The card written.
    pub card_path: PathBuf,
    /// Files read.
    pub files: Vec<FileSummary>,
    /// Training-set metrics.
    pub train: SplitMetrics,
    /// Held-out metrics.
    pub heldout: SplitMetrics,
    /// Oracle agreement of the quantized model on the held-out decisions.
    pub quantized_agreement: f64,
    /// Held-out agreement of the int8 model with what the head was trained to pick.
    pub quantized_objective_agreement: f64,
    /// tract-core comparison.
    pub reference: ReferenceStats,
    /// Float parameters.
    pub parameters: usize,
    /// GGUF size in bytes.
    pub gguf_bytes: usize,
    /// SHA-256 of the GGUF, lowercase hex.
    pub sha256: String,
    /// The file's integrity digest (`augur.digest.sha256`, what the reader checks), lowercase hex.
    pub digest: String,
    /// Telemetry schema version.
    pub schema_version: u16,
    /// Layer widths.
    pub shape: Shape,
    /// Seconds per stage: (stage, seconds).
    pub timings: Vec<(&'static str, f64)>,
    /// The head's fine-tuning loss.
    pub head_loss: HeadLoss,
    /// Finished tasks (normal, batch, interactive) the Gittins targets were estimated from.
    pub gittins_exits: Option<[usize; 3]>,
    /// The configuration, as the card prints it.
    pub config: String,
    /// The command line.
    pub command_line: String,
    /// The hold-out rule.
    pub holdout: String,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A seeded subsample of at most `max` of `items`, in their original order.
fn subsample<T: Copy>(items: &[T], max: usize, rng: &mut XorShift) -> Vec<T> {
    if items.len() <= max {
        return items.to_vec();
    }
    let mut idx = layers::shuffled(items.len(), rng);
    idx.truncate(max);
    idx.sort_unstable();
    idx.into_iter().map(|i| items[i]).collect()
}

/// Loaded and split data.
struct Splits {
    files: Vec<FileSummary>,
    train: Vec<TraceData>,
    heldout: Vec<TraceData>,
}

fn load(config: &TrainConfig, progress: &mut dyn FnMut(&str)) -> Result<Splits, TrainError> {
    let paths = match &config.traces {
        TraceSource::Dir(d) => dataset::list_traces(d).map_err(TrainError::Dataset)?,
        TraceSource::Files(f) => f.clone(),
    };
    let mut splits = Splits {
        files: Vec::new(),
        train: Vec::new(),
        heldout: Vec::new(),
    };
    for path in paths {
        let data = dataset::read_trace(&path).map_err(TrainError::Dataset)?;
        let held_out = config.holdout.holds_out(data.name.as_ref());
        for d in &data.damage {
            progress(&format!("{}: {d}", path.display()));
        }
        let used = data.is_usable();
        if !used {
            progress(&format!("{}: nothing usable, skipped", path.display()));
        }
        splits.files.push(FileSummary {
            path,
            name: data.name.clone(),
            held_out,
            ticks: data.ticks.len(),
            decisions: data.decisions,
            labelled: data.examples.len(),
            unlabelled: data.unlabelled,
            damage: data.damage.clone(),
            used,
        });
        if used {
            if held_out {
                splits.heldout.push(data);
            } else {
                splits.train.push(data);
            }
        }
    }
    Ok(splits)
}

fn pairs_of(data: &[TraceData]) -> Vec<(dataset::Window, dataset::TickRow)> {
    data.iter()
        .flat_map(|d| {
            d.pairs
                .iter()
                .filter_map(move |&i| Some((d.window_ending_at(Some(i))?, d.ticks[i + 1])))
        })
        .collect()
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

fn logged_agreement(ex: &[&DecisionExample]) -> f64 {
    mean(
        ex.iter()
            .map(|e| f64::from(u8::from(e.chosen.is_some_and(|c| e.agrees(c))))),
    )
}

/// Runs the pipeline of the crate docs; `progress` gets one line per step.
pub fn train(
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<TrainReport, TrainError> {
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, f64)>| {
        timings.push((name, clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    let splits = load(config, progress)?;
    let holdout = config.holdout.to_string();
    let empty = |split, what| TrainError::EmptySplit {
        split,
        what,
        holdout: holdout.clone(),
    };
    let mut rng = XorShift::new(config.seed ^ 0xda7a);
    let train_pairs = subsample(
        &pairs_of(&splits.train),
        config.max_pretrain_pairs,
        &mut rng,
    );
    let heldout_pairs = subsample(
        &pairs_of(&splits.heldout),
        config.max_pretrain_pairs,
        &mut rng,
    );
    let train_all: Vec<&DecisionExample> = splits.train.iter().flat_map(|d| &d.examples).collect();
    let heldout_all: Vec<&DecisionExample> =
        splits.heldout.iter().flat_map(|d| &d.examples).collect();
    let train_ex = subsample(&train_all, config.max_decisions, &mut rng);
    let heldout_ex = subsample(&heldout_all, config.max_heldout_decisions, &mut rng);
    if train_pairs.is_empty() {
        return Err(empty("training", "consecutive telemetry ticks"));
    }
    if train_ex.is_empty() {
        return Err(empty("training", "labelled decisions"));
    }
    if heldout_ex.is_empty() {
        return Err(empty("held-out", "labelled decisions"));
    }
    progress(&format!(
        "data: {} training files ({} pretraining pairs, {} decisions), {} held-out files ({} pairs, {} decisions); held out: {holdout}",
        splits.train.len(),
        train_pairs.len(),
        train_ex.len(),
        splits.heldout.len(),
        heldout_pairs.len(),
        heldout_ex.len()
    ));
    lap("load", &mut timings);

    // Stage 1.
    let tick_rows = splits.train.iter().flat_map(|d| &d.ticks);
    let cand_rows = train_ex.iter().flat_map(|e| &e.rows);
    let objective =
        Objective::fit(config.head_loss, splits.train.iter()).map_err(|NoFinishedTasks| {
            empty("training", "finished tasks (the Gittins loss needs exits)")
        })?;
    if let Some([normal, batch, interactive]) = objective.gittins_exits() {
        progress(&format!(
            "Gittins targets: work distributions from {} finished tasks (normal {normal}, batch {batch}, interactive {interactive})",
            normal + batch + interactive,
        ));
    }
    let mut net = net::Net::new(config.shape, config.seed, tick_rows, cand_rows, objective)?;
    let target_norm = backbone::Standardizer::fit(
        augur_kernel::telemetry::TELEMETRY_FIELDS,
        train_pairs.iter().map(|(_, t)| &t[..]),
    );
    let train_set = backbone::PretrainSet::new(train_pairs, target_norm.clone());
    let heldout_set = backbone::PretrainSet::new(heldout_pairs, target_norm);
    let stage = |epochs, lr, salt: u64| layers::StageOptions {
        epochs,
        batch: config.batch.max(1),
        lr,
        seed: config.seed ^ salt,
    };
    net.backbone.pretrain(
        &train_set,
        &stage(config.pretrain_epochs, config.pretrain_lr, 0x1),
        progress,
    )?;
    let mut train_m = SplitMetrics {
        pairs: train_set.pairs.len(),
        pretrain_mse: net.backbone.pretrain_eval(&train_set, config.batch)?,
        persistence_mse: train_set.persistence_mse(),
        ..SplitMetrics::default()
    };
    let mut heldout_m = SplitMetrics {
        pairs: heldout_set.pairs.len(),
        pretrain_mse: net.backbone.pretrain_eval(&heldout_set, config.batch)?,
        persistence_mse: heldout_set.persistence_mse(),
        ..SplitMetrics::default()
    };
    progress(&format!(
        "pretrained: next-tick MSE train {:.4} held-out {:.4} (persistence baseline {:.4} / {:.4})",
        train_m.pretrain_mse,
        heldout_m.pretrain_mse,
        train_m.persistence_mse,
        heldout_m.persistence_mse
    ));
    lap("pretrain", &mut timings);

    // Stage 2.
    net.sched.finetune(
        &net.backbone,
        &train_ex,
        &stage(config.finetune_epochs, config.finetune_lr, 0x2),
        config.backbone_finetune_lr,
        config.quantization_aware,
        progress,
    )?;
    let float = net.export(&config.model_name())?;
    let sched_head = float
        .heads
        .iter()
        .position(|h| h.name == net.sched.name())
        .ok_or_else(|| {
            CheckFailure::Run(format!("the export has no `{}` head", net.sched.name()))
        })?;
    let oracle = |e: &DecisionExample, pick: usize| e.agrees(pick);
    // What the head was trained to pick (the highest Gittins index, or the oracle's pick).
    let objective = |e: &DecisionExample, pick: usize| net.sched.objective.target_agrees(e, pick);
    for (m, ex) in [(&mut train_m, &train_ex), (&mut heldout_m, &heldout_ex)] {
        m.decisions = ex.len();
        m.finetune_loss = net.sched.finetune_eval(&net.backbone, ex, config.batch)?;
        m.float_agreement = check::float_agreement(&float, sched_head, ex, &oracle);
        m.objective_agreement = check::float_agreement(&float, sched_head, ex, &objective);
        m.random_agreement = mean(ex.iter().map(|e| e.random_agreement()));
        m.logged_policy_agreement = logged_agreement(ex);
    }
    progress(&format!(
        "fine-tuned: loss train {:.4} held-out {:.4}; {} agreement train {:.1}% held-out {:.1}%; oracle agreement train {:.1}% held-out {:.1}% (random {:.1}%, logged policy {:.1}%)",
        train_m.finetune_loss,
        heldout_m.finetune_loss,
        config.head_loss.name(),
        train_m.objective_agreement * 100.0,
        heldout_m.objective_agreement * 100.0,
        train_m.float_agreement * 100.0,
        heldout_m.float_agreement * 100.0,
        heldout_m.random_agreement * 100.0,
        heldout_m.logged_policy_agreement * 100.0
    ));
    lap("fine-tune", &mut timings);

    // Quantize and check.
    let calib_windows: Vec<&[i8]> = subsample(
        &(0..train_set.pairs.len()).collect::<Vec<_>>(),
        config.calibration_samples,
        &mut rng,
    )
    .into_iter()
    .map(|i| &train_set.pairs[i].0[..])
    .collect();
    let all_rows: Vec<&[i8]> = train_ex
        .iter()
        .flat_map(|e| e.rows.iter().map(|r| &r[..]))
        .collect();
    // The quantizer runs the head on every calibration row against every calibration
    // embedding, so the cost is the product of the two counts.
    let calib_cands = subsample(&all_rows, config.calibration_samples, &mut rng);
    let q = check::quantize_model(&float, &calib_windows, &calib_cands)?;
    let bytes = q.to_gguf();
    let (model, head) = check::load_checked(&bytes)?;
    let ref_samples = subsample(&heldout_ex, config.reference_samples, &mut rng);
    let reference = check::reference_check(&model, head, &ref_samples)?;
    let quantized = check::quantized_agreement(&model, head, &heldout_ex, &oracle)?;
    let quantized_objective = check::quantized_agreement(&model, head, &heldout_ex, &objective)?;
    progress(&format!(
        "quantized: {} bytes; tract-core agreement on {} outputs (worst {:.1}% of bound); held-out {} agreement {:.1}% (float {:.1}%), oracle agreement {:.1}% (float {:.1}%)",
        bytes.len(),
        reference.compared,
        reference.worst_fraction * 100.0,
        config.head_loss.name(),
        quantized_objective * 100.0,
        heldout_m.objective_agreement * 100.0,
        quantized * 100.0,
        heldout_m.float_agreement * 100.0
    ));
    // int8 must keep what the head was trained for.
    if quantized_objective < heldout_m.objective_agreement - config.max_agreement_drop {
        return Err(TrainError::Check(CheckFailure::Agreement {
            float: heldout_m.objective_agreement,
            quantized: quantized_objective,
            margin: config.max_agreement_drop,
        }));
    }
    lap("quantize+check", &mut timings);

    let mut report = TrainReport {
        name: config.model_name(),
        gguf_path: config.output.clone(),
        card_path: config.card_path(),
        files: splits.files,
        train: train_m,
        heldout: heldout_m,
        quantized_agreement: quantized,
        quantized_objective_agreement: quantized_objective,
        reference,
        parameters: net.parameter_count(),
        gguf_bytes: bytes.len(),
        sha256: sha256_hex(&bytes),
        digest: String::from_utf8_lossy(&model.digest_hex()).into_owned(),
        schema_version: SCHEMA_VERSION,
        shape: config.shape,
        timings,
        head_loss: config.head_loss,
        gittins_exits: net.sched.objective.gittins_exits(),
        config: describe_config(config),
        command_line: config.command_line.clone(),
        holdout,
    };
    write_atomic(&config.output, &bytes)?;
    lap("write", &mut report.timings);
    if let Err(e) = write_model_card(&report.card_path, &report) {
        let _ = std::fs::remove_file(&config.output);
        return Err(e);
    }
    progress(&format!(
        "wrote {} ({} bytes, sha256 {}) and {}",
        config.output.display(),
        report.gguf_bytes,
        report.sha256,
        report.card_path.display()
    ));
    Ok(report)
}

/// Writes `bytes` to a temporary file next to `path`, then renames it into place, so a reader
/// never sees half a model.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let err = |error| TrainError::Write {
        path: path.to_path_buf(),
        error,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

fn describe_config(c: &TrainConfig) -> String {
    format!(
        "seed {}; hold out {}; backbone {}→{}→{} ReLU, head [{} emb | 8 features]→{} ReLU→1; \
         pretrain {} epochs lr {}; fine-tune {} epochs lr {} ({} loss, backbone lr {}, quantization-aware {}); batch {}; \
         at most {} pretraining pairs, {} training and {} held-out decisions; \
         {} calibration samples; {} reference samples; max agreement drop {}",
        c.seed,
        c.holdout,
        augur_kernel::telemetry::MODEL_INPUT_LEN,
        c.shape.hidden,
        c.shape.embedding,
        c.shape.embedding,
        c.shape.head_hidden,
        c.pretrain_epochs,
        c.pretrain_lr,
        c.finetune_epochs,
        c.finetune_lr,
        c.head_loss.name(),
        c.backbone_finetune_lr,
        c.quantization_aware,
        c.batch,
        c.max_pretrain_pairs,
        c.max_decisions,
        c.max_heldout_decisions,
        c.calibration_samples,
        c.reference_samples,
        c.max_agreement_drop
    )
}
