//! The trainer end to end on synthetic traces written with the kernel's encoder: datasets and
//! labels, damage handling, training to high held-out oracle agreement, the written file and
//! card, and the refusal path.

use std::path::{Path, PathBuf};

use augur_kernel::sched::TaskClass;
use augur_kernel::telemetry::{SCHEMA_VERSION, TELEMETRY_FIELDS, WINDOW_TICKS};
use augur_kernel::trace::{
    CHUNK_HEADER_BYTES, Candidates, Items, MAX_CHUNK_PAYLOAD, Record, Section, Sections, TraceRing,
    head, section,
};
use augur_kernel::workload::{Io, Job, Mix, SplitMix64};
use augur_trainer::card::card_sha256;
use augur_trainer::check::CheckFailure;
use augur_trainer::dataset::{Remaining, TraceName, decode_trace};
use augur_trainer::synth::{SynthConfig, synth_trace, synth_trace_of};
use augur_trainer::{HeadLoss, HoldOut, TraceSource, TrainConfig, TrainError, sha256_hex, train};

/// Encodes `records` as a trace stream with the kernel's ring and chunker.
fn encode(records: &[Record<'_>]) -> Vec<u8> {
    let mut ring: Box<TraceRing<{ 1 << 16 }>> = Box::new(TraceRing::new());
    for r in records {
        ring.push(r).unwrap();
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; CHUNK_HEADER_BYTES + MAX_CHUNK_PAYLOAD];
    loop {
        let n = ring.drain_chunk(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn telemetry(tick: u64, fields: &[i32; TELEMETRY_FIELDS]) -> Record<'_> {
    let sections = vec![Section {
        code: section::SCHED,
        version: SCHEMA_VERSION,
        fields: Items::from_slice(fields),
    }];
    Record::Telemetry {
        tick,
        sections: Sections::from_slice(sections.leak()),
    }
}

/// One scheduling candidate, as the test writes it.
#[derive(Clone, Copy)]
struct Candidate {
    task: u32,
    features: [i16; 8],
    score: i32,
}

/// The decision columns of `c` (leaked: the records borrow them for the whole test).
fn columns(c: &[Candidate]) -> Candidates<'static> {
    let ids = c
        .iter()
        .map(|c| u64::from(c.task))
        .collect::<Vec<_>>()
        .leak();
    let features = c.iter().map(|c| c.features).collect::<Vec<_>>().leak();
    let scores = c.iter().map(|c| c.score).collect::<Vec<_>>().leak();
    Candidates::columns(8, ids, features.as_flattened(), scores)
}

fn cand(task: u32, cpu_total: i16) -> Candidate {
    // cpu_recent, waiting, cpu_total, age, sleeps, burst, class, running
    Candidate {
        task,
        features: [1, 2, cpu_total, 40, 0, cpu_total, 1, 0],
        score: 0,
    }
}

#[test]
fn trace_names_follow_collect() {
    let n = TraceName::parse(Path::new("dir/interactive-s12-rr.trace")).unwrap();
    assert_eq!(
        (n.mix.as_str(), n.seed, n.policy.as_str()),
        ("interactive", 12, "rr")
    );
    assert_eq!(n.to_string(), "interactive-s12-rr");
    assert!(TraceName::parse(Path::new("x/notes.trace")).is_none());
    assert!(TraceName::parse(Path::new("x/mix-sx-rr.trace")).is_none());
}

/// A trace small enough to label by hand (remaining work = exit status − cpu_total):
/// task 1 exits with 7, task 2 with 10, task 3 with 9, task 4 never exits but is seen at 20.
#[test]
fn labels_are_the_srpt_pick_on_a_hand_checked_trace() {
    let t1 = [3, 1, 0, 4, 1, 0, 0, 0, 1, 8, 16, 5];
    let t2 = [4, 1, 0, 4, 0, 0, 0, 0, 0, 12, 24, 6];
    let d1 = [cand(1, 5), cand(2, 1), cand(4, 0)]; // remaining 2, 9, >= 20
    let d2 = [cand(2, 3), cand(3, 2), cand(1, 5)]; // remaining 7, 7, 2 -> task 1
    let d3 = [cand(2, 3), cand(3, 2)]; // tie 7, 7
    let d4 = [cand(2, 8), cand(4, 19)]; // remaining 2 vs >= 1: unknown
    let d5 = [cand(2, 9)]; // one candidate
    let d6 = [cand(4, 20), cand(2, 9)]; // task 4 last seen here: >= 0 vs 1, unknown
    let dec = |tick, chosen, c: &'static [Candidate]| Record::Decision {
        tick,
        head: head::SCHED,
        chosen,
        policy: 1,
        fallback: None,
        candidates: columns(c),
    };
    let d1: &'static [Candidate] = Box::leak(Box::new(d1));
    let d2: &'static [Candidate] = Box::leak(Box::new(d2));
    let d3: &'static [Candidate] = Box::leak(Box::new(d3));
    let d4: &'static [Candidate] = Box::leak(Box::new(d4));
    let d5: &'static [Candidate] = Box::leak(Box::new(d5));
    let d6: &'static [Candidate] = Box::leak(Box::new(d6));
    let records = [
        dec(0, 1, d1), // before any telemetry: an all-zero window
        telemetry(1, &t1),
        telemetry(2, &t2),
        dec(2, 3, d2),
        dec(2, 2, d3),
        dec(2, 2, d4),
        dec(2, 2, d5),
        dec(3, 2, d6),
        Record::TaskExit {
            tick: 3,
            task: 1,
            status: 7,
        },
        Record::TaskExit {
            tick: 4,
            task: 2,
            status: 10,
        },
        Record::TaskExit {
            tick: 5,
            task: 3,
            status: 9,
        },
    ];
    let data = decode_trace(Path::new("batch-s1-rr.trace"), &encode(&records));
    assert!(data.damage.is_empty(), "{:?}", data.damage);
    assert_eq!(data.ticks.len(), 2);
    assert_eq!((data.decisions, data.single, data.unlabelled), (6, 1, 2));
    let best: Vec<Vec<bool>> = data.examples.iter().map(|e| e.best.clone()).collect();
    assert_eq!(
        best,
        [
            vec![true, false, false],
            vec![false, false, true],
            vec![true, true],
        ]
    );
    // The pairwise order the pairwise loss learns: decision 1 has remaining 2, 9, >= 20.
    let e = &data.examples[0];
    assert_eq!(
        e.remaining,
        [
            Remaining::Known(2),
            Remaining::Known(9),
            Remaining::AtLeast(20)
        ]
    );
    let shorter = |e: &augur_trainer::dataset::DecisionExample| -> Vec<(usize, usize)> {
        let k = e.rows.len();
        (0..k)
            .flat_map(|i| (0..k).map(move |j| (i, j)))
            .filter(|&(i, j)| e.shorter(i, j))
            .collect()
    };
    assert_eq!(shorter(e), [(0, 1), (0, 2), (1, 2)]);
    // Decision 3 is a tie (7, 7): no pair is ordered.
    assert!(shorter(&data.examples[2]).is_empty());
    assert_eq!(
        data.examples[0].window,
        [0i8; WINDOW_TICKS * TELEMETRY_FIELDS]
    );
    // Decision 2 saw ticks 1 and 2 as the newest rows; wait_mean >> 2, wait_max >> 3.
    let w = &data.examples[1].window;
    let newest = &w[(WINDOW_TICKS - 1) * TELEMETRY_FIELDS..];
    assert_eq!(newest, [4, 1, 0, 4, 0, 0, 0, 0, 0, 3, 3, 6]);
    assert_eq!(w[(WINDOW_TICKS - 2) * TELEMETRY_FIELDS + 9..][..2], [2, 2]);
    assert!(
        w[..(WINDOW_TICKS - 2) * TELEMETRY_FIELDS]
            .iter()
            .all(|&v| v == 0)
    );
    // Candidate rows are the kernel's int8 view: cpu_total >> 1, age >> 4, burst >> 1.
    assert_eq!(data.examples[1].rows[2], [1, 1, 2, 2, 0, 2, 1, 0]);
    assert_eq!(data.examples[1].chosen, Some(1));
    assert_eq!(data.examples[1].random_agreement(), 1.0 / 3.0);
    // One pretraining pair: window ending at tick 1 -> tick 2.
    assert_eq!(data.pairs, [0]);
}

#[test]
fn damaged_trace_is_reported_and_decodes_up_to_the_damage() {
    let bytes = synth_trace(&SynthConfig {
        mix: Mix::Mix,
        seed: 3,
        ticks: 1500,
        explore_percent: 30,
    });
    let whole = decode_trace(Path::new("mix-s3-rr.trace"), &bytes);
    assert!(whole.damage.is_empty());
    assert!(whole.examples.len() > 100, "{}", whole.examples.len());
    let mut bad = bytes[..bytes.len() * 2 / 3].to_vec();
    let mid = bad.len() / 3;
    bad[mid] ^= 0x40;
    let cut = decode_trace(Path::new("mix-s3-rr.trace"), &bad);
    assert!(
        cut.damage.len() >= 2,
        "the flip and the cut: {:?}",
        cut.damage
    );
    assert!(
        cut.damage
            .last()
            .unwrap()
            .contains("stream ends inside a chunk")
    );
    assert!(cut.ticks.len() < whole.ticks.len() * 2 / 3);
    assert!(cut.ticks.len() > whole.ticks.len() / 3);
    // Nothing past the cut can be labelled from exits that were lost, but what is labelled
    // is labelled right: every cut example is one of the whole trace's.
    assert!(!cut.examples.is_empty());
    let garbage = decode_trace(
        Path::new("io-s1-rr.trace"),
        b"not a trace at all, just bytes",
    );
    assert_eq!(garbage.damage.len(), 1);
    assert!(!garbage.is_usable());
}

/// A workload whose shortest-remaining job the features can tell: the class says how long a
/// job is (interactive 3–9 ticks with I/O, normal 20–60, batch 150–400), and within a class
/// more CPU used means less left. Arrivals keep the offered load near 90 %, as the kernel's
/// mixes do.
fn separable_jobs(seed: u64, ticks: u64) -> Vec<Job> {
    let mut rng = SplitMix64::new(seed);
    let mut jobs = Vec::new();
    let mut at = 0;
    while at < ticks * 6 / 10 {
        let job = match rng.range(0, 2) {
            0 => Job {
                io: Some(Io {
                    run: 2,
                    block: rng.range(3, 15),
                }),
                class: TaskClass::Interactive,
                ..Job::new(at, rng.range(3, 9))
            },
            1 => Job::new(at, rng.range(20, 60)),
            _ => Job {
                class: TaskClass::Batch,
                ..Job::new(at, rng.range(150, 400))
            },
        };
        at += rng.range(0, 2 * job.work * 100 / 90);
        jobs.push(job);
    }
    jobs
}

/// Writes synthetic traces, named as `augur collect` names them, for `mixes` × `seeds` into
/// `dir`; the mix only names the file, the jobs are [`separable_jobs`].
fn write_traces(dir: &Path, mixes: &[Mix], seeds: std::ops::Range<u64>, ticks: u64) {
    for &mix in mixes {
        for seed in seeds.clone() {
            let cfg = SynthConfig {
                mix,
                seed,
                ticks,
                explore_percent: 30,
            };
            let bytes = synth_trace_of(
                &separable_jobs(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix as u64, ticks),
                &cfg,
            );
            let name = format!("{}-s{seed}-rr.trace", mix.name());
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn small_config(dir: &Path, out: PathBuf) -> TrainConfig {
    let mut c = TrainConfig::new(TraceSource::Dir(dir.to_path_buf()), out);
    c.holdout = HoldOut {
        seeds_from: Some(3),
        mixes: vec![],
    };
    c.pretrain_epochs = 2;
    c.finetune_epochs = 6;
    c.batch = 64;
    c.max_pretrain_pairs = 4000;
    c.max_decisions = 3000;
    c.max_heldout_decisions = 1500;
    c.reference_samples = 8;
    c.calibration_samples = 128;
    c.command_line = "cargo test -p augur-trainer".into();
    c
}

#[test]
fn trains_checks_and_writes_a_model_the_kernel_accepts() {
    let dir = tempfile::tempdir().unwrap();
    write_traces(dir.path(), &[Mix::Batch, Mix::Mix], 1..4, 2500);
    // A damaged file among them: reported and skipped, not fatal.
    std::fs::write(dir.path().join("io-s1-rr.trace"), b"AUGT garbage").unwrap();
    let out = dir.path().join("weights").join("synthetic.gguf");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let config = small_config(dir.path(), out.clone());
    let mut lines = Vec::new();
    let start = std::time::Instant::now();
    let report = train(&config, &mut |l| {
        eprintln!("{l}");
        lines.push(l.to_string());
    })
    .unwrap();
    eprintln!(
        "trained in {:.1}s: {:?}",
        start.elapsed().as_secs_f64(),
        report.timings
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("io-s1-rr.trace") && l.contains("skipped"))
    );
    let skipped = report.files.iter().find(|f| !f.used).unwrap();
    assert!(!skipped.damage.is_empty());

    let h = &report.heldout;
    eprintln!("{h:?}\nquantized {}", report.quantized_agreement);
    // Held-out agreement: see the threshold's justification at THRESHOLD.
    assert!(h.decisions > 500);
    assert!(
        h.float_agreement > AGREEMENT_THRESHOLD,
        "{}",
        h.float_agreement
    );
    assert!(h.float_agreement > h.random_agreement + 0.3);
    assert!(h.float_agreement > h.logged_policy_agreement + 0.2);
    assert!(
        report.quantized_objective_agreement >= h.objective_agreement - config.max_agreement_drop
    );
    // The head learned the Gittins order it was trained for.
    assert!(h.objective_agreement > 0.75, "{}", h.objective_agreement);
    assert!(
        h.pretrain_mse < h.persistence_mse,
        "the backbone beats 'nothing changes'"
    );

    let bytes = std::fs::read(&out).unwrap();
    let model = model_runtime::Model::from_gguf(&bytes).unwrap();
    augur_kernel::sched::head::check_schema(&model).unwrap();
    assert_eq!(model.input_scale(), 1.0);
    let card = std::fs::read_to_string(config.card_path()).unwrap();
    assert_eq!(card_sha256(&card), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(report.sha256, sha256_hex(&bytes));
    assert!(card.contains("cargo test -p augur-trainer"));
    // The default objective: Gittins order, from the synthetic traces' finished tasks.
    assert!(card.contains("Objective: order each decision's candidates by their Gittins index"));
    assert!(card.contains(&format!("Feature schema version: {SCHEMA_VERSION}")));
}

/// Held-out oracle agreement the model must reach on [`separable_jobs`] traces. There the
/// features determine the oracle's pick up to within-class ties of CPU used (the class gives
/// the length range, `cpu_total` and `burst` the progress), so a model that learned the rule
/// agrees most of the time; a random pick agrees about 41 % and the round robin that wrote
/// the traces about as often. Measured: 88.7 % float, 89.1 % quantized (seed 1). 0.75 is
/// more than 30 points above both baselines and leaves room for another seed or platform.
const AGREEMENT_THRESHOLD: f64 = 0.75;

#[test]
fn the_pairwise_loss_learns_the_order_of_remaining_work_too() {
    let dir = tempfile::tempdir().unwrap();
    write_traces(dir.path(), &[Mix::Batch, Mix::Mix], 1..4, 2500);
    let out = dir.path().join("pairwise.gguf");
    let mut config = small_config(dir.path(), out.clone());
    config.head_loss = HeadLoss::Pairwise;
    let report = train(&config, &mut |l| eprintln!("{l}")).unwrap();
    let h = &report.heldout;
    eprintln!("{h:?}\nquantized {}", report.quantized_agreement);
    // Same bar as the listwise model (AGREEMENT_THRESHOLD), on the same traces. Measured:
    // 89.5 % float, 91.3 % quantized (seed 1).
    assert!(
        h.float_agreement > AGREEMENT_THRESHOLD,
        "{}",
        h.float_agreement
    );
    assert!(h.float_agreement > h.random_agreement + 0.3);
    let card = std::fs::read_to_string(config.card_path()).unwrap();
    assert!(card.contains("pairwise loss (float)") && card.contains("(pairwise loss,"));
}

#[test]
fn training_is_deterministic_given_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    write_traces(dir.path(), &[Mix::Io], 1..4, 800);
    // The same file name (it is the model's name) in two places.
    let run = |sub: &str| {
        let out = dir.path().join(sub);
        std::fs::create_dir_all(&out).unwrap();
        let mut c = small_config(dir.path(), out.join("m.gguf"));
        c.pretrain_epochs = 1;
        c.finetune_epochs = 2;
        c.max_pretrain_pairs = 1000;
        c.max_decisions = 600;
        // This test is about determinism, not quality: a tiny model may lose agreement.
        c.max_agreement_drop = 1.0;
        train(&c, &mut |_| {}).unwrap()
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.heldout.finetune_loss, b.heldout.finetune_loss);
    assert_eq!(
        std::fs::read(dir.path().join("a/m.gguf")).unwrap(),
        std::fs::read(dir.path().join("b/m.gguf")).unwrap()
    );
}

#[test]
fn a_model_that_fails_a_check_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    write_traces(dir.path(), &[Mix::Batch], 1..5, 1200);
    let out = dir.path().join("refused.gguf");
    let mut config = small_config(dir.path(), out.clone());
    config.pretrain_epochs = 1;
    config.finetune_epochs = 1;
    // Demand that the quantized model beat the float one by 100 points: impossible.
    config.max_agreement_drop = -1.0;
    let err = train(&config, &mut |_| {}).unwrap_err();
    match &err {
        TrainError::Check(CheckFailure::Agreement { margin, .. }) => assert_eq!(*margin, -1.0),
        other => panic!("expected the agreement check to fail, got {other}"),
    }
    assert!(
        err.to_string().contains("held-out agreement check"),
        "{err}"
    );
    assert!(!out.exists());
    assert!(!config.card_path().exists());
    assert!(!out.with_extension("tmp").exists());
}

/// SHA-256 of the tensor data section of `bytes` (everything after the GGUF header and
/// metadata): the trained and quantized numbers, independent of which metadata keys the file
/// format writes.
fn tensor_data_sha256(bytes: &[u8]) -> String {
    let gguf = model_runtime::gguf::Gguf::parse(bytes).unwrap();
    sha256_hex(&bytes[gguf.data_start() as usize..])
}

/// The digests [`training_reproduces_the_pinned_models`] pins, per objective: (loss, tensor
/// data SHA-256, whole-file SHA-256). Recorded before the trainer was split into a backbone
/// and per-head modules (issue 10, item 5), so they pin that the split changed nothing.
/// The tensor digest survives a change of the file's metadata (new `augur.*` keys): if only
/// the whole-file digest differs after such a change, re-pin that one alone. Both depend on
/// candle's f32 arithmetic on this CPU family (x86_64 with AVX2), like any trained weights.
/// The whole-file digests were re-pinned once for model format 2 (digest, sections), the tensor
/// digests staying as recorded.
const PINNED: [(HeadLoss, &str, &str); 3] = [
    (
        HeadLoss::Gittins,
        "a13a599e1807ae2c6fc934f1226ab014626dccd1694bb00feb66fedcc2e5c674",
        "873d411c247862d72a5cb7b93e87fbb84c125060502aa0a7e158812e6343d734",
    ),
    (
        HeadLoss::Pairwise,
        "a3b9f722a9842ce0dceb17c481f9f8d6e2d211b8220c4222706d8496d6f03c81",
        "f6a2cd911a79f436fa9d8eaf252efc3d349a35070aab50b3ecdd7dae4c81d349",
    ),
    (
        HeadLoss::Listwise,
        "9b943d26c27dc98d33f7e3ebd5272c087daa9472d4b0d48fdbbecbd44c8a6335",
        "cbb86b40e0ebefe5f708a9f5c465ccd40648763391f8f8b4a951546bff4ef369",
    ),
];

#[test]
fn training_reproduces_the_pinned_models() {
    let dir = tempfile::tempdir().unwrap();
    write_traces(dir.path(), &[Mix::Io, Mix::Batch], 1..4, 800);
    let mut got = Vec::new();
    for (loss, _, _) in PINNED {
        let out = dir.path().join(format!("{}.gguf", loss.name()));
        let mut c = small_config(dir.path(), out.clone());
        c.head_loss = loss;
        c.pretrain_epochs = 1;
        c.finetune_epochs = 2;
        c.max_pretrain_pairs = 1000;
        c.max_decisions = 600;
        // About reproducibility, not quality: a tiny model may lose agreement.
        c.max_agreement_drop = 1.0;
        let report = train(&c, &mut |_| {}).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(report.sha256, sha256_hex(&bytes));
        got.push((loss, tensor_data_sha256(&bytes), report.sha256));
    }
    for (loss, tensors, file) in &got {
        eprintln!("{loss:?}: tensors {tensors} file {file}");
    }
    for ((loss, tensors, file), (_, want_tensors, want_file)) in got.iter().zip(PINNED) {
        assert_eq!(
            tensors, want_tensors,
            "{loss:?}: the trained numbers changed"
        );
        assert_eq!(file, want_file, "{loss:?}: the file changed");
    }
}
