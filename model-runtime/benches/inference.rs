//! `cargo bench -p model-runtime`: per-inference latency of the scalar, AVX2 and AVX-512 VNNI
//! backends on the runtime's own random models (DESIGN.md §4 shapes and a LinnOS-sized one) and
//! of each micro-kernel alone, with ratios and the int8 multiply-accumulates per TSC tick each
//! SIMD path reaches against its own bound (`common/`), and the cost of loading a model of the
//! default scheduler model's size, integrity digest included. The comparison with tract-core f32
//! on quantizer-made models is `cargo bench -p augur-weights`: it needs `weights/`, which this
//! crate does not depend on.
//!
//! Bounds:
//! - AVX2: 32 exact int8 MACs per *core* cycle. `vpmaddubsw` does 32 multiply-adds, but an
//!   exact MAC also needs the `vpmaddwd` that widens its i16 pairs, and both issue on the same
//!   two pipes (measured on Zen 4; p0/p1 on Intel): one pair per cycle.
//! - VNNI: 64 MACs per core cycle, two EVEX `vpdpbusd ymm` (32 MACs each, exact) per cycle
//!   (measured on Zen 4, which runs ZMM at half that rate per instruction: same bound).
//!
//! Both bounds are per core cycle; the table's MACs/tick divide by TSC ticks, so the bound in
//! ticks is `bound · core GHz / TSC GHz`, with the core clock measured (a chain of dependent
//! adds) right before the table.
//!
//! Method: each case runs in samples of `iters` back-to-back calls (`iters` chosen so a sample
//! takes about 2 ms), 41 samples after a warm-up; the table shows the median per-call time.
//! Cycles are TSC ticks (`rdtsc`), i.e. at the nominal clock. A shared machine is noisy:
//! compare ratios from one run (DESIGN.md §6). A plain `harness = false` bench.

mod common;

use std::hint::black_box;

use common::{backbone_row, gemv_row, head_row, kernel_row, measure, print_table, requant_row};
use model_runtime::gguf::Gguf;
use model_runtime::{Backend, Model, integrity, random_model};

/// Loading a model the size of `weights/augur-sched-v2.gguf` (96 -> 32 -> 16, head 24 -> 16 ->
/// 1): the whole reader, and the SHA-256 digest check inside it.
fn load_cost() {
    let q = random_model(1, 8, 12, &[32, 16], &[("sched", 8, &[16, 1])]);
    let bytes = q.to_gguf();
    let (load_ns, load_ticks) = measure(|| {
        black_box(Model::from_gguf(black_box(&bytes)).is_ok());
    });
    let gguf = Gguf::parse(&bytes).expect("parses");
    let (sha_ns, sha_ticks) = measure(|| {
        black_box(integrity::verify(black_box(&gguf)).is_ok());
    });
    println!(
        "load of a {} B model: Model::from_gguf {:.1} us ({load_ticks:.0} TSC ticks), of which the \
         SHA-256 digest check {:.1} us ({sha_ticks:.0} ticks, {:.1} ticks/byte), once per boot",
        bytes.len(),
        load_ns / 1000.0,
        sha_ns / 1000.0,
        sha_ticks / bytes.len() as f64,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once, quickly.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        println!("inference benchmark: run with `cargo bench -p model-runtime`");
        return;
    }
    let augur = random_model(
        1,
        8,
        32,
        &[64, 32],
        &[
            ("sched", 16, &[32, 1]),
            ("page", 16, &[32, 1]),
            ("blk", 16, &[32, 1]),
        ],
    );
    let linnos = random_model(2, 1, 31, &[256, 2], &[]);
    println!(
        "Augur model-runtime benchmark (backend detected: {}; tract-core comparison: \
         cargo bench -p augur-weights)",
        Backend::detect()
    );
    load_cost();
    let rows = [
        backbone_row("backbone 8x32 -> 64 -> 32", &augur),
        head_row("head, 64 cands (32+16) -> 32 -> 1", &augur, 64),
        backbone_row("LinnOS-sized 31 -> 256 -> 2", &linnos),
        head_row("head, 1024 cands", &augur, 1024),
        kernel_row("kernel: gemm 1x256 -> 64 (signed)", 1, 256, 64),
        kernel_row("kernel: gemm 64x16 -> 32 (signed)", 64, 16, 32),
        gemv_row("kernel: gemv 64x32 -> 1 (unsigned)", 64, 32, 1),
        requant_row("kernel: requant 64x32 (ReLU)", 64, 32),
    ];
    print_table(&rows);
}
