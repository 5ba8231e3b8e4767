//! The hand-set model (`augur_weights::handset`): the committed file is exactly what the code
//! generates, the kernel accepts it, the int8 scores rank tasks the way the heuristic says
//! (short bursts before CPU hogs, no starvation), and they equal the float model's scores.

use augur_kernel::sched::head::check_schema;
use augur_kernel::sched::{TaskClass, TaskId, TaskView, Tick};
use augur_kernel::telemetry::{
    CANDIDATE_FEATURES, MODEL_INPUT_LEN, TaskFeatures, Telemetry, TelemetryWindow, TickEvents,
};
use augur_kernel::workload::SplitMix64;
use augur_weights::handset::{STARVATION_BOUND_TICKS, sample_task, sample_window};
use augur_weights::{HANDSET_FILE, HANDSET_NAME, handset_gguf, handset_model};
use model_runtime::{Backend, Model};

const REGENERATE: &str = "cargo run -p augur-weights --example handset";

fn committed() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(HANDSET_FILE);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; create it with `{REGENERATE}`",
            path.display()
        )
    })
}

#[test]
fn committed_file_is_what_the_code_generates() {
    let generated = handset_gguf().expect("the hand-set model quantizes");
    assert_eq!(
        generated,
        handset_gguf().unwrap(),
        "generation is not deterministic"
    );
    assert!(
        committed() == generated,
        "weights/{HANDSET_FILE} differs from what weights/src/handset.rs generates; \
         regenerate it with `{REGENERATE}`"
    );
}

#[test]
fn kernel_accepts_the_file() {
    let bytes = committed();
    let model = Model::from_gguf(&bytes).expect("the file loads");
    let head = check_schema(&model).expect("the kernel's schema check accepts it");
    assert_eq!(model.name(), HANDSET_NAME);
    assert!(model.name().contains("hand-set") && model.name().contains("not trained"));
    // The kernel feeds its int8 values as they are: one unit is one, in the file too.
    assert_eq!(model.input_scale(), 1.0);
    assert_eq!(model.head(head).unwrap().candidate_scale, 1.0);
}

/// Scores `tasks` (with whether each holds the CPU) at `now` with the committed file on the
/// scalar backend, as the kernel's learned scheduler does.
fn scores(now: Tick, tasks: &[(&TaskView, bool)]) -> Vec<i32> {
    let bytes = committed();
    let model = Model::from_gguf(&bytes).unwrap();
    let mut scratch = vec![0u8; model.scratch_len()];
    let head = check_schema(&model).unwrap();
    let mut scorer = model_runtime::Engine::new(&model, Backend::Scalar, &mut scratch).unwrap();
    let mut window = TelemetryWindow::new();
    let views: Vec<TaskView> = tasks.iter().map(|(v, _)| **v).collect();
    for _ in 0..augur_kernel::telemetry::WINDOW_TICKS {
        window.push(&Telemetry::snapshot(
            now,
            views.iter(),
            true,
            &TickEvents::default(),
        ));
    }
    let mut input = [0i8; MODEL_INPUT_LEN];
    window.model_input(&mut input);
    let mut rows = vec![0i8; tasks.len() * CANDIDATE_FEATURES];
    let cells = rows.as_chunks_mut::<CANDIDATE_FEATURES>().0;
    for ((v, running), row) in tasks.iter().zip(cells) {
        TaskFeatures::of(v, now, *running).to_model_input(row);
    }
    let mut out = vec![0i32; tasks.len()];
    // As the kernel's pipeline does: the backbone over the window, then the head.
    scorer.run_backbone(&input).unwrap();
    scorer.run_head(head, &rows, &mut out).unwrap();
    out
}

/// `v` runs the ticks `from + 1 ..= from + ticks` (dispatched at `from`).
fn run(v: &mut TaskView, from: Tick, ticks: Tick) {
    v.on_dispatch(from);
    for t in from + 1..=from + ticks {
        v.on_ran_tick(t);
    }
}

#[test]
fn short_interactive_burst_beats_running_cpu_hog() {
    // 20 cycles of 10 ticks: the interactive task runs 2 ticks and sleeps, the hog runs the
    // other 8. At tick 200 the interactive task has just woken while the hog holds the CPU.
    let mut inter = TaskView::new(TaskId(1), 0).with_class(TaskClass::Interactive);
    let mut hog = TaskView::new(TaskId(2), 0).with_class(TaskClass::Batch);
    for cycle in 0..20 {
        let t = cycle * 10;
        run(&mut inter, t, 2);
        inter.on_block(t + 2);
        run(&mut hog, t + 2, 8);
        inter.on_wake(t + 10);
        if cycle < 19 {
            hog.on_preempt(t + 10);
        }
    }
    let now = 200;
    assert_eq!(
        TaskFeatures::of(&inter, now, false).0[5],
        1,
        "burst 40 / 21"
    );
    assert_eq!(
        TaskFeatures::of(&hog, now, true).0[5],
        160,
        "burst 160, never blocked"
    );
    let s = scores(now, &[(&inter, false), (&hog, true)]);
    assert!(
        s[0] > s[1],
        "interactive {} must outscore the hog {}",
        s[0],
        s[1]
    );
}

#[test]
fn running_task_keeps_the_cpu_against_its_twin() {
    let mut v = TaskView::new(TaskId(1), 0);
    run(&mut v, 0, 10);
    let s = scores(10, &[(&v, false), (&v, true)]);
    assert!(s[1] > s[0], "running bonus: {s:?}");
}

#[test]
fn long_wait_eventually_beats_a_fresh_task() {
    // A batch hog ran 300 ticks without blocking (its burst saturates the feature: the worst
    // case) and was preempted at 300; a new task arrives at every `now`.
    let mut hog = TaskView::new(TaskId(1), 0).with_class(TaskClass::Batch);
    run(&mut hog, 0, 300);
    hog.on_preempt(300);
    let first_win = (0..=400)
        .find(|&waited| {
            let now = 300 + waited;
            let fresh = TaskView::new(TaskId(2), now);
            let s = scores(now, &[(&hog, false), (&fresh, false)]);
            s[0] > s[1]
        })
        .expect("the hog never outscores a fresh task: it would starve");
    // Shortest-work first while the wait is short (the knee is at 64 ticks)...
    assert!(
        first_win > 64,
        "hog won after only {first_win} ticks of waiting"
    );
    // ...and the documented bound, which is exact for the worst burst.
    assert_eq!(first_win, STARVATION_BOUND_TICKS);
}

#[test]
fn int8_scores_equal_the_float_model() {
    let float = handset_model();
    let bytes = committed();
    let model = Model::from_gguf(&bytes).unwrap();
    let backends: Vec<Backend> = [Backend::Scalar, Backend::Avx2]
        .into_iter()
        .filter(|b| b.is_available())
        .collect();
    let mut rng = SplitMix64::new(2026);
    for set in 0..300 {
        // Plausible windows and tasks, and arbitrary non-negative int8 (every input the
        // kernel can produce: its raw values are counts).
        let arbitrary = set % 2 == 1;
        let window: [i8; MODEL_INPUT_LEN] = if arbitrary {
            std::array::from_fn(|_| rng.range(0, 127) as i8)
        } else {
            sample_window(&mut rng)
        };
        let n = rng.range(1, 32) as usize;
        let mut rows = vec![0i8; n * CANDIDATE_FEATURES];
        for row in rows.as_chunks_mut::<CANDIDATE_FEATURES>().0 {
            if arbitrary {
                row.iter_mut().for_each(|v| *v = rng.range(0, 127) as i8);
            } else {
                sample_task(&mut rng).to_model_input(row);
            }
        }
        let f32s = |xs: &[i8]| xs.iter().map(|&v| f32::from(v)).collect::<Vec<f32>>();
        let embedding = float.backbone_forward(&f32s(&window), |_, _| {});
        let want: Vec<f32> = rows
            .as_chunks::<CANDIDATE_FEATURES>()
            .0
            .iter()
            .map(|r| float.head_forward(0, &embedding, &f32s(r), |_, _| {})[0])
            .collect();
        for &backend in &backends {
            let mut scratch = vec![0u8; model.scratch_len()];
            let head = check_schema(&model).unwrap();
            let mut scorer = model_runtime::Engine::new(&model, backend, &mut scratch).unwrap();
            let mut got = vec![0i32; n];
            scorer.run_backbone(&window).unwrap();
            scorer.run_head(head, &rows, &mut got).unwrap();
            let got: Vec<f32> = got.iter().map(|&s| s as f32).collect();
            // Exact, not just the same ranking: see the invariant in handset.rs.
            assert_eq!(
                got,
                want,
                "set {set} on {}: int8 vs float scores",
                backend.name()
            );
        }
    }
}
