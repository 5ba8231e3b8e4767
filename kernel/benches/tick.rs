//! The tick pipeline on the host: the kernel's scheduler core, tick path and embedded model,
//! emulating a `mix` workload (`sched::emulate`), timed per tick. Run under
//! `valgrind --tool=callgrind` for the instruction breakdown of the kernel's tick work.
//!
//! `cargo bench -p augur-kernel --bench tick`

use augur_kernel::bootcfg::{Mix, SchedPolicy};
use augur_kernel::learn::{GuardConfig, Pipeline, schema};
use augur_kernel::sched::core::Setup;
use augur_kernel::sched::emulate::{self, Script};
use augur_kernel::sched::head::check_schema;
use augur_kernel::workload;
use model_runtime::{Backend, Engine, Model};
use std::time::Instant;

const WEIGHTS: &[u8] = include_bytes!("../../weights/augur-sched-v2.gguf");

fn main() {
    let (seconds, seed) = (10u64, 1u64);
    let ticks = seconds * 1000;
    let jobs = workload::generate(Mix::Mix, seed, ticks);
    let script = Script {
        init: 0,
        start: 1,
        spawned_by: 9,
        ticks,
    };
    let model = Model::from_gguf(WEIGHTS).expect("the embedded model loads");
    let layout = schema::check_backbone(&model).expect("it fits");
    let head = check_schema(&model).expect("it has a sched head");
    for (name, learned) in [("mlfq", false), ("learned", true)] {
        let mut best = f64::MAX;
        let mut end = 0;
        let mut decisions = 0;
        for _ in 0..5 {
            let mut scratch = vec![0u8; model.scratch_len()];
            let engine = Engine::new(&model, Backend::detect(), &mut scratch).unwrap();
            let setup = if learned {
                Setup::learned(SchedPolicy::Mlfq, Ok(head), GuardConfig::default(), seed)
            } else {
                Setup::classical(SchedPolicy::Mlfq, 0, seed)
            };
            let started = Instant::now();
            let run = emulate::run(&jobs, &script, setup, Pipeline::new(Ok(engine), layout))
                .expect("the workload runs");
            best = best.min(started.elapsed().as_secs_f64());
            end = run.end;
            decisions = run.decisions.len();
        }
        println!(
            "{name:<8} {end} ticks, {decisions} decisions: {:.0} ns/tick (best of 5)",
            best * 1e9 / end as f64
        );
    }
}
