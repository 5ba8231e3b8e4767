//! The hand-set model: explicit, documented weights that make the `sched` head a fixed
//! shortest-remaining-work heuristic, so the kernel boots with a working learned-policy
//! pipeline before any model has been trained. **Nothing here is learned.**
//!
//! It reads exactly the kernel's telemetry schema ([`SCHEMA_VERSION`], [`WINDOW_TICKS`] ×
//! [`TELEMETRY_FIELDS`] backbone input, [`CANDIDATE_FEATURES`] per task), as the int8 values
//! `Telemetry::to_model_input` and `TaskFeatures::to_model_input` produce. The float model
//! reads those int8 values *as numbers* (one unit = one int8 step), so [`handset_calibration`]
//! fixes the input and candidate scales at 1.0 instead of letting the quantizer calibrate them.
//!
//! # The heuristic (one score per runnable task, highest runs)
//! In int8 feature units (`burst` and `waiting` are ticks / 2, `cpu_recent` is ticks):
//!
//! ```text
//! score = BURST_WEIGHT      · burst                       (-32: prefer short expected bursts)
//!       + CPU_RECENT_WEIGHT · cpu_recent                  ( -4: and little recent CPU)
//!       + WAITING_WEIGHT    · waiting                     ( +8: mild aging)
//!       + STARVING_WEIGHT   · max(0, waiting - STARVING_KNEE)  (+127 past 64 ticks: no starvation)
//!       + RUNNING_WEIGHT    · running                     (+64: don't switch for a hair)
//! ```
//!
//! - Below the knee, waiting can make up at most `8 · 32 = 256` points, 8 burst units
//!   (16 ticks of expected burst): shorter work wins, as in SRPT/SJF.
//! - Past the knee (64 ticks waited, when `cpu_recent` has drained to 0) each further 2 ticks
//!   of waiting is worth more than 4 burst units: a task with the longest representable burst
//!   (`-32 · 127 = -4064`) outscores a task that just arrived (score 0) once it has waited
//!   [`STARVATION_BOUND_TICKS`] ticks.
//! - The running task's +64 (2 burst units, 16 ticks of `cpu_recent`) keeps equal tasks from
//!   trading the CPU every tick.
//!
//! Shape: the `sched` head is `(8 embedding + 8 features) -> 5 ReLU -> 1 raw i32`. The first
//! layer copies the four features used (and the hinge `waiting - knee`) with weight 1 and
//! gives the embedding weight 0; the second holds the weights above. The backbone,
//! `96 -> 16 ReLU -> 8 ReLU`, passes a few telemetry fields through (the latest tick's counts
//! and window means) so the kernel runs a real backbone every tick; the hand-set head ignores
//! its output.
//!
//! # Invariant: the int8 scores are the float scores, exactly
//! Candidate scale 1.0 and identity weights make the hidden layer exact (its outputs are
//! integers ≤ 127, its output scale 1.0). The quantizer maps the largest `|w|` of the raw-score
//! layer to ±127; [`STARVING_WEIGHT`] *is* 127, so every weight above is its own int8 value
//! and the accumulator scale is 1: the runtime's i32 score equals the float model's score.
//! `weights/tests/handset.rs` checks this on random candidates.
//!
//! # Notes
//! The file is `weights/augur-handset-v1.gguf`, written by
//! `cargo run -p augur-weights --example handset`; the kernel embeds it. Deterministic: the
//! model is constants and the calibration data comes from a seeded [`SplitMix64`].
//!
//! # Resources
//! - Shortest remaining processing time: Schrage, "A proof of the optimality of the shortest
//!   remaining processing time discipline", Operations Research 16(3), 1968.
//! - Aging against starvation: Silberschatz et al., *Operating System Concepts*, §5.3.

use augur_kernel::sched::task::RECENT_WINDOW_TICKS;
use augur_kernel::telemetry::{
    CANDIDATE_FEATURES, FIELDS, Field, SCHEMA_VERSION, TASK_FEATURES, TELEMETRY_FIELDS,
    TaskFeatures, Telemetry, WINDOW_TICKS,
};
use augur_kernel::workload::SplitMix64;
use model_runtime::{InputSection, QuantizedModel};

use crate::float::{Activation, FloatHead, FloatLayer, FloatModel};
use crate::quantize::{Calibration, QuantizeError, quantize};

/// `general.name` of the hand-set model: says what it is to anyone who inspects the file.
pub const HANDSET_NAME: &str = "augur-handset-v1 (hand-set weights, not trained)";

/// File name of the generated model, in the `weights/` crate directory.
pub const HANDSET_FILE: &str = "augur-handset-v1.gguf";

/// Index of the field called `name` in `fields` (compile error if there is none), so the
/// weights follow the schema's field names rather than bare positions.
const fn index_of(fields: &[Field], name: &str) -> usize {
    let mut i = 0;
    while i < fields.len() {
        let (a, b) = (fields[i].name.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("no such field")
}

/// Candidate feature: CPU ticks in the last 64 ticks.
const CPU_RECENT: usize = index_of(&TASK_FEATURES, "cpu_recent");
/// Candidate feature: ticks waited since it became runnable, / 2.
const WAITING: usize = index_of(&TASK_FEATURES, "waiting");
/// Candidate feature: mean CPU ticks between blocks (expected burst), / 2.
const BURST: usize = index_of(&TASK_FEATURES, "burst");
/// Candidate feature: 1 if it holds the CPU.
const RUNNING: usize = index_of(&TASK_FEATURES, "running");

/// Score points per `burst` unit (2 ticks of expected CPU burst).
pub const BURST_WEIGHT: f32 = -32.0;
/// Score points per tick of CPU used in the last 64 ticks.
pub const CPU_RECENT_WEIGHT: f32 = -4.0;
/// Score points per `waiting` unit (2 ticks waited): a quarter of the burst rate.
pub const WAITING_WEIGHT: f32 = 8.0;
/// Extra score points per `waiting` unit past [`STARVING_KNEE`]. The largest weight, and
/// exactly 127 so that quantization is exact (module docs).
pub const STARVING_WEIGHT: f32 = 127.0;
/// Score points for the task that holds the CPU.
pub const RUNNING_WEIGHT: f32 = 64.0;
/// `waiting` units after which [`STARVING_WEIGHT`] applies: the `cpu_recent` window (64
/// ticks), by which time a waiting task's recent CPU has drained to zero.
pub const STARVING_KNEE: f32 = (RECENT_WINDOW_TICKS >> TASK_FEATURES[WAITING].shift) as f32;
/// Ticks after which any waiting task outscores one that has just arrived, whatever its burst
/// (122 with the weights above): the first `waiting` unit `w` with
/// `WAITING_WEIGHT·w + STARVING_WEIGHT·(w - knee) > -BURST_WEIGHT·127`, in ticks.
pub const STARVATION_BOUND_TICKS: u64 = starvation_bound_ticks();

const fn starvation_bound_ticks() -> u64 {
    let worst_burst = -BURST_WEIGHT * i8::MAX as f32;
    let mut w = 0u64;
    while w <= i8::MAX as u64 {
        let past_knee = (w as f32 - STARVING_KNEE).max(0.0);
        if WAITING_WEIGHT * w as f32 + STARVING_WEIGHT * past_knee > worst_burst {
            return w << TASK_FEATURES[WAITING].shift;
        }
        w += 1;
    }
    panic!("a task with the longest burst could starve: raise STARVING_WEIGHT")
}

/// The `sched` head's hidden units: `(feature, bias)`, output `relu(feature + bias)`, and the
/// unit's score weight.
const HEAD_UNITS: [(usize, f32, f32); 5] = [
    (BURST, 0.0, BURST_WEIGHT),
    (CPU_RECENT, 0.0, CPU_RECENT_WEIGHT),
    (WAITING, 0.0, WAITING_WEIGHT),
    (WAITING, -STARVING_KNEE, STARVING_WEIGHT),
    (RUNNING, 0.0, RUNNING_WEIGHT),
];

// The quantizer maps the largest |weight| of the score layer to 127: when it is 127 already,
// every weight is its own int8 value and the scores are exact (module docs).
const _: () = {
    let mut max = 0.0f32;
    let mut i = 0;
    while i < HEAD_UNITS.len() {
        max = max.max(HEAD_UNITS[i].2.abs());
        i += 1;
    }
    assert!(
        max == i8::MAX as f32,
        "largest score weight must be 127 (exact quantization)"
    );
};

/// Telemetry fields whose mean over the window the backbone's first layer computes (after the
/// latest tick's [`TELEMETRY_FIELDS`] values).
const WINDOW_MEANS: [usize; 4] = [
    index_of(&FIELDS, "runnable"),
    index_of(&FIELDS, "busy"),
    index_of(&FIELDS, "wait_max"),
    index_of(&FIELDS, "switches"),
];

/// Width of the backbone's first layer: the latest tick, then the window means.
const BACKBONE_HIDDEN: usize = TELEMETRY_FIELDS + WINDOW_MEANS.len();

/// The embedding: which first-layer units the second layer passes through.
const EMBEDDING_UNITS: [usize; 8] = [
    index_of(&FIELDS, "runnable"),
    index_of(&FIELDS, "blocked"),
    index_of(&FIELDS, "switches"),
    index_of(&FIELDS, "wait_mean"),
    index_of(&FIELDS, "wait_max"),
    index_of(&FIELDS, "cpu_recent_mean"),
    TELEMETRY_FIELDS,     // window mean of runnable
    TELEMETRY_FIELDS + 1, // window mean of busy
];

/// A ReLU layer of `outputs × inputs` zero weights and zero biases, to fill in.
fn relu_layer(inputs: usize, outputs: usize) -> FloatLayer {
    FloatLayer {
        inputs,
        outputs,
        weight: vec![0.0; inputs * outputs],
        bias: vec![0.0; outputs],
        activation: Activation::Relu,
    }
}

fn backbone() -> Vec<FloatLayer> {
    let latest = (WINDOW_TICKS - 1) * TELEMETRY_FIELDS;
    let mut first = relu_layer(WINDOW_TICKS * TELEMETRY_FIELDS, BACKBONE_HIDDEN);
    for f in 0..TELEMETRY_FIELDS {
        first.weight[f * first.inputs + latest + f] = 1.0;
    }
    for (k, &f) in WINDOW_MEANS.iter().enumerate() {
        let row = (TELEMETRY_FIELDS + k) * first.inputs;
        for t in 0..WINDOW_TICKS {
            first.weight[row + t * TELEMETRY_FIELDS + f] = 1.0 / WINDOW_TICKS as f32;
        }
    }
    let mut second = relu_layer(BACKBONE_HIDDEN, EMBEDDING_UNITS.len());
    for (o, &u) in EMBEDDING_UNITS.iter().enumerate() {
        second.weight[o * second.inputs + u] = 1.0;
    }
    vec![first, second]
}

fn sched_head(embedding: usize) -> FloatHead {
    let mut hidden = relu_layer(embedding + CANDIDATE_FEATURES, HEAD_UNITS.len());
    for (o, &(feature, bias, _)) in HEAD_UNITS.iter().enumerate() {
        // Embedding columns keep weight 0: the heuristic looks at the task alone.
        hidden.weight[o * hidden.inputs + embedding + feature] = 1.0;
        hidden.bias[o] = bias;
    }
    let score = FloatLayer {
        inputs: HEAD_UNITS.len(),
        outputs: 1,
        weight: HEAD_UNITS.iter().map(|&(_, _, w)| w).collect(),
        bias: vec![0.0],
        activation: Activation::None,
    };
    FloatHead {
        name: "sched".into(),
        candidate_features: CANDIDATE_FEATURES,
        features_version: SCHEMA_VERSION.into(),
        layers: vec![hidden, score],
        raw_scores: true,
    }
}

/// The hand-set model (module docs): a backbone that passes telemetry through and a `sched`
/// head that scores tasks by the shortest-remaining-work heuristic.
pub fn handset_model() -> FloatModel {
    let backbone = backbone();
    let embedding = EMBEDDING_UNITS.len();
    FloatModel {
        name: HANDSET_NAME.into(),
        sections: vec![InputSection::new(
            "sched",
            SCHEMA_VERSION.into(),
            TELEMETRY_FIELDS,
        )],
        input_window: WINDOW_TICKS,
        input_features: TELEMETRY_FIELDS,
        backbone,
        heads: vec![sched_head(embedding)],
    }
}

/// Seed of the calibration data.
const CALIBRATION_SEED: u64 = 0x4155_4755_5231; // "AUGUR1"
/// Telemetry windows in the calibration set.
const CALIBRATION_WINDOWS: usize = 64;
/// Candidate rows in the calibration set (plus two pinned rows).
const CALIBRATION_CANDIDATES: usize = 256;
/// Largest `runnable`/`blocked` count drawn for calibration telemetry.
const MAX_TASKS: u64 = 48;
/// Longest wait, in ticks, drawn for calibration (past every field's saturation point).
const MAX_WAIT_TICKS: u64 = 600;
/// Largest `cpu_total` drawn for calibration, in ticks.
const MAX_CPU_TICKS: u64 = 4000;

/// A plausible raw telemetry vector around a load of `load` runnable tasks.
pub fn sample_telemetry(rng: &mut SplitMix64, load: u64) -> Telemetry {
    let runnable = load.saturating_sub(2) + rng.range(0, 4);
    let blocked = rng.range(0, MAX_TASKS);
    let wait_max = rng.range(0, MAX_WAIT_TICKS);
    let raw = [
        runnable,
        u64::from(runnable > 0),
        blocked,
        runnable + blocked,
        rng.range(0, 3),
        rng.range(0, 3),
        rng.range(0, 8),
        rng.range(0, 8),
        rng.range(0, 2),
        rng.range(0, wait_max),
        wait_max,
        rng.range(0, RECENT_WINDOW_TICKS),
    ];
    Telemetry(raw.map(|v| v as i32))
}

/// A window of [`WINDOW_TICKS`] plausible ticks as the backbone's int8 input (oldest first).
pub fn sample_window(rng: &mut SplitMix64) -> [i8; WINDOW_TICKS * TELEMETRY_FIELDS] {
    let load = rng.range(0, MAX_TASKS);
    let mut out = [0i8; WINDOW_TICKS * TELEMETRY_FIELDS];
    for tick in out.as_chunks_mut::<TELEMETRY_FIELDS>().0 {
        sample_telemetry(rng, load).to_model_input(tick);
    }
    out
}

/// A plausible runnable task's raw features: a batch hog, an interactive task or a normal one,
/// running or waiting.
pub fn sample_task(rng: &mut SplitMix64) -> TaskFeatures {
    let class = rng.range(0, 2);
    let sleeps = match class {
        1 => rng.range(0, 3),   // batch: rarely blocks
        2 => rng.range(0, 200), // interactive: blocks all the time
        _ => rng.range(0, 50),
    };
    let cpu_total = rng.range(0, MAX_CPU_TICKS);
    let running = rng.range(0, 7) == 0;
    let waiting = if running {
        0
    } else {
        rng.range(0, MAX_WAIT_TICKS)
    };
    // It used no CPU while it waited.
    let cpu_recent = rng
        .range(0, RECENT_WINDOW_TICKS.saturating_sub(waiting))
        .min(cpu_total);
    let age = cpu_total + waiting + rng.range(0, MAX_CPU_TICKS);
    let raw = [
        cpu_recent,
        waiting,
        cpu_total,
        age,
        sleeps,
        cpu_total / (sleeps + 1),
        class,
        u64::from(running),
    ];
    TaskFeatures(raw.map(|v| v.min(i16::MAX as u64) as i16))
}

/// The int8 row the scheduler head reads for `task`, as floats.
fn row_of(task: &TaskFeatures) -> Vec<f32> {
    let mut q = [0i8; CANDIDATE_FEATURES];
    task.to_model_input(&mut q);
    q.iter().map(|&v| f32::from(v)).collect()
}

/// Calibration data for [`handset_model`]: seeded plausible telemetry windows and tasks, plus a
/// task that just arrived and a long-starved batch hog (which pins `waiting` and `burst` at
/// their saturation point, 127, so the hidden layer's scale is exactly 1.0), with the input and
/// candidate scales fixed at 1.0 (the kernel's int8 values are the model's numbers).
pub fn handset_calibration() -> Calibration {
    let mut rng = SplitMix64::new(CALIBRATION_SEED);
    let inputs = (0..CALIBRATION_WINDOWS)
        .map(|_| {
            sample_window(&mut rng)
                .iter()
                .map(|&v| f32::from(v))
                .collect()
        })
        .collect();
    let fresh = TaskFeatures::default();
    let starved_hog = TaskFeatures([0, 1000, 30_000, 31_000, 0, 30_000, 1, 0]);
    let candidates = [fresh, starved_hog]
        .into_iter()
        .chain((0..CALIBRATION_CANDIDATES).map(|_| sample_task(&mut rng)))
        .map(|t| row_of(&t))
        .collect();
    Calibration {
        inputs,
        candidates: vec![candidates],
        input_scale: Some(1.0),
        candidate_scale: Some(1.0),
    }
}

/// The quantized hand-set model.
pub fn handset_quantized() -> Result<QuantizedModel, QuantizeError> {
    quantize(&handset_model(), &handset_calibration())
}

/// The bytes of `weights/augur-handset-v1.gguf`.
pub fn handset_gguf() -> Result<Vec<u8>, QuantizeError> {
    Ok(handset_quantized()?.to_gguf())
}
