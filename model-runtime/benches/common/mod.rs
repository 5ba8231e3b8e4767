//! The benchmark machinery both inference benches share: timing (median of samples, TSC
//! ticks), the core-clock probe, the per-backend rows of the runtime's own kernels and engine,
//! and the table. `model-runtime/benches/inference.rs` includes it as a module and so does
//! `weights/benches/inference.rs` (by path: a file shared between two benches, not a crate
//! dependency, so `model-runtime` depends on nothing in the workspace). Each bench uses part of
//! it, hence `dead_code` is allowed here.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::Instant;

use model_runtime::kernels::{self, Gemm, packed_len};
use model_runtime::{Backend, Engine, Model, QuantizedModel, XorShift};

/// Exact int8 MACs per core cycle with AVX2: one `vpmaddubsw` + `vpmaddwd` pair (32 MACs) per
/// cycle, both on the two multiply pipes.
pub const AVX2_MACS_PER_CORE_CYCLE: f64 = 32.0;
/// Exact int8 MACs per core cycle with VNNI: two `vpdpbusd ymm` (32 MACs each) per cycle.
pub const VNNI_MACS_PER_CORE_CYCLE: f64 = 64.0;
pub const SAMPLES: usize = 41;
pub const SAMPLE_NS: f64 = 2.0e6;

pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter; it is available on every x86-64 CPU.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

/// Median nanoseconds and TSC ticks per call of `f`.
pub fn measure(mut f: impl FnMut()) -> (f64, f64) {
    let t = Instant::now();
    let mut warm = 0u64;
    while t.elapsed().as_millis() < 50 {
        f();
        warm += 1;
    }
    let per_call = 50.0e6 / warm.max(1) as f64;
    let iters = ((SAMPLE_NS / per_call) as u64).clamp(1, 1_000_000);
    let mut ns = Vec::with_capacity(SAMPLES);
    let mut ticks = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let (t0, c0) = (Instant::now(), rdtsc());
        for _ in 0..iters {
            f();
        }
        let (c1, t1) = (rdtsc(), t0.elapsed());
        ns.push(t1.as_nanos() as f64 / iters as f64);
        ticks.push((c1 - c0) as f64 / iters as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    (median(&mut ns), median(&mut ticks))
}

/// The core's current clock in GHz: a chain of dependent 1-cycle adds, timed by the wall clock.
pub fn core_ghz() -> f64 {
    const ITERS: u64 = 20_000_000;
    const ADDS_PER_ITER: u64 = 4;
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            // SAFETY: register-only arithmetic and a counted loop; no memory is touched.
            unsafe {
                core::arch::asm!(
                    "2:",
                    "add {x}, 1",
                    "add {x}, 1",
                    "add {x}, 1",
                    "add {x}, 1",
                    "dec {n}",
                    "jnz 2b",
                    n = inout(reg) ITERS => _,
                    x = inout(reg) 0u64 => _,
                    options(nomem, nostack),
                );
            }
            t.elapsed().as_nanos() as f64
        })
        .fold(f64::INFINITY, f64::min);
    (ITERS * ADDS_PER_ITER) as f64 / best
}

/// One line of the table: median (ns, TSC ticks) per backend, tract-core's ns where measured.
pub struct Row {
    pub name: String,
    pub macs: usize,
    pub scalar: (f64, f64),
    pub avx2: Option<(f64, f64)>,
    pub vnni: Option<(f64, f64)>,
    pub tract: Option<f64>,
}

/// Times one backend over `run`; `None` when the backend is unavailable.
pub fn time_backend(
    model: &Model<'_>,
    backend: Backend,
    run: &mut dyn FnMut(&mut Engine<'_, '_, '_>),
) -> Option<(f64, f64)> {
    if !backend.is_available() {
        return None;
    }
    let mut scratch = vec![0u8; model.scratch_len()];
    let mut engine = Engine::new(model, backend, &mut scratch).ok()?;
    Some(measure(|| run(&mut engine)))
}

/// The backbone of `q` on every backend (tract-core is the weights bench's to add).
pub fn backbone_row(name: &str, q: &QuantizedModel) -> Row {
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).expect("loads");
    let mut rng = XorShift::new(1);
    let input = rng.i8s(model.input_len(), -128, 127);
    let mut run = |e: &mut Engine<'_, '_, '_>| {
        black_box(e.run_backbone(black_box(&input)).map(|emb| emb[0]).ok());
    };
    Row {
        name: name.into(),
        macs: q.backbone_macs(),
        scalar: time_backend(&model, Backend::Scalar, &mut run).expect("scalar always runs"),
        avx2: time_backend(&model, Backend::Avx2, &mut run),
        vnni: time_backend(&model, Backend::Vnni, &mut run),
        tract: None,
    }
}

/// Head 0 of `q` over `candidates` on every backend, the tick's embedding computed before the
/// timed calls (the input and candidates are those `weights`'s tract-core row uses too).
pub fn head_row(name: &str, q: &QuantizedModel, candidates: usize) -> Row {
    let bytes = q.to_gguf();
    let model = Model::from_gguf(&bytes).expect("loads");
    let (input, cands) = head_inputs(&model, candidates);
    let timed = |backend| -> Option<(f64, f64)> {
        if !Backend::is_available(backend) {
            return None;
        }
        let mut scratch = vec![0u8; model.scratch_len()];
        let mut e = Engine::new(&model, backend, &mut scratch).ok()?;
        let _ = e.run_backbone(&input);
        let mut scores = vec![0i32; candidates];
        Some(measure(|| {
            black_box(e.run_head(0, black_box(&cands), &mut scores).ok());
        }))
    };
    Row {
        name: name.into(),
        macs: q.head_macs(0, candidates),
        scalar: timed(Backend::Scalar).expect("scalar always runs"),
        avx2: timed(Backend::Avx2),
        vnni: timed(Backend::Vnni),
        tract: None,
    }
}

/// The backbone input and `candidates` rows of head 0's features that the head rows use.
pub fn head_inputs(model: &Model<'_>, candidates: usize) -> (Vec<i8>, Vec<i8>) {
    let mut rng = XorShift::new(2);
    let input = rng.i8s(model.input_len(), -128, 127);
    let features = model.head(0).expect("head").candidate_features;
    (input, rng.i8s(candidates * features, -128, 127))
}

/// The backbone input the backbone rows use.
pub fn backbone_input(model: &Model<'_>) -> Vec<i8> {
    XorShift::new(1).i8s(model.input_len(), -128, 127)
}

/// One gemm kernel call alone (no requantization), to see the micro-kernel's own throughput.
pub fn kernel_row(name: &str, rows: usize, k: usize, n: usize) -> Row {
    let mut rng = XorShift::new(3);
    let x = rng.i8s(rows * k, -128, 127);
    let w = rng.i8s(n * k, -127, 127);
    let npad = n.div_ceil(8) * 8;
    let init = vec![0i32; npad];
    let mut acc = vec![0i32; rows * npad];
    let g = Gemm {
        rows,
        x_stride: k,
        k,
        n,
        acc_stride: npad,
        signed: true,
    };
    let scalar = measure(|| {
        kernels::scalar::gemm(&g, black_box(&x), &w, k, 0, &init, &mut acc);
        black_box(&acc);
    });
    let avx2 = kernels::avx2::Avx2::new().map(|t| {
        let mut packed = vec![0u8; packed_len(n, k)];
        kernels::pack(&w, k, 0, k, n, &mut packed);
        let mut split = vec![0u8; rows * kernels::avx2::split_row_len(k)];
        measure(|| {
            kernels::avx2::gemm(t, &g, black_box(&x), &packed, &init, &mut acc, &mut split);
            black_box(&acc);
        })
    });
    let vnni = kernels::vnni::Vnni::new().map(|t| {
        let mut packed = vec![0u8; kernels::vnni::packed_len(n, k)];
        kernels::vnni::pack(&w, k, 0, k, n, &mut packed);
        measure(|| {
            kernels::vnni::gemm(t, &g, black_box(&x), &packed, &init, &mut acc);
            black_box(&acc);
        })
    });
    Row {
        name: name.into(),
        macs: rows * k * n,
        scalar,
        avx2,
        vnni,
        tract: None,
    }
}

/// One narrow-layer (`gemv`) call alone: a head's score layer over a batch.
pub fn gemv_row(name: &str, rows: usize, k: usize, n: usize) -> Row {
    let mut row = kernel_row(name, rows, k, n);
    let mut rng = XorShift::new(5);
    let x = rng.i8s(rows.div_ceil(8) * 8 * k + 32, 0, 127);
    let w = rng.i8s(n * k, -127, 127);
    let init = vec![0i32; n];
    let mut acc = vec![0i32; rows * n];
    let g = Gemm {
        rows,
        x_stride: k,
        k,
        n,
        acc_stride: n,
        signed: false,
    };
    row.avx2 = kernels::avx2::Avx2::new().map(|t| {
        let mut packed = vec![0u8; kernels::avx2::gemv_packed_len(n, k)];
        kernels::avx2::gemv_pack(&w, k, 0, k, n, &mut packed);
        measure(|| {
            kernels::avx2::gemv(t, &g, black_box(&x), &packed, &init, &mut acc);
            black_box(&acc);
        })
    });
    row.vnni = kernels::vnni::Vnni::new().map(|t| {
        let mut packed = vec![0u8; kernels::vnni::gemv_packed_len(n, k)];
        kernels::vnni::gemv_pack(&w, k, 0, k, n, &mut packed);
        measure(|| {
            kernels::vnni::gemv(t, &g, black_box(&x), &packed, &init, &mut acc);
            black_box(&acc);
        })
    });
    row
}

/// One requant call alone (64 rows × 32 channels, ReLU clamp): the per-output cost.
pub fn requant_row(name: &str, rows: usize, n: usize) -> Row {
    let mut rng = XorShift::new(4);
    let npad = n.div_ceil(8) * 8;
    let acc: Vec<i32> = (0..rows * npad)
        .map(|_| i32::from(rng.i8s(1, -128, 127)[0]) * 3000)
        .collect();
    let mut params = vec![0i32; npad / 8 * kernels::RQ_BLOCK];
    kernels::fill_requant_params(
        std::iter::repeat(1 << 30),
        std::iter::repeat(9),
        n,
        &mut params,
    );
    let r = kernels::Requant {
        rows,
        n,
        acc_stride: npad,
        out_stride: npad,
        lo: 0,
        hi: 127,
    };
    let mut out = vec![0i8; rows * npad];
    let scalar = measure(|| {
        kernels::scalar::requant(&r, black_box(&acc), &params, &mut out);
        black_box(&out);
    });
    let avx2 = kernels::avx2::Avx2::new().map(|t| {
        measure(|| {
            kernels::avx2::requant(t, &r, black_box(&acc), &params, &mut out);
            black_box(&out);
        })
    });
    let vnni = kernels::vnni::Vnni::new().map(|t| {
        measure(|| {
            kernels::vnni::requant(t, &r, black_box(&acc), &params, &mut out);
            black_box(&out);
        })
    });
    Row {
        name: name.into(),
        macs: 0,
        scalar,
        avx2,
        vnni,
        tract: None,
    }
}

/// Prints `rows` as the benchmark table, with the clock and the bounds it measured.
pub fn print_table(rows: &[Row]) {
    let core_ghz = core_ghz();
    let tsc_ghz = rows
        .iter()
        .find_map(|r| r.avx2.or(r.vnni))
        .map_or(core_ghz, |(ns, ticks)| ticks / ns);
    // Each bound in MACs per TSC tick.
    let avx2_bound = AVX2_MACS_PER_CORE_CYCLE * core_ghz / tsc_ghz;
    let vnni_bound = VNNI_MACS_PER_CORE_CYCLE * core_ghz / tsc_ghz;
    println!();
    println!(
        "| {:<34} | {:>6} | {:>9} | {:>9} | {:>9} | {:>10} | {:>9} | {:>9} | {:>10} | {:>10} | {:>14} | {:>14} |",
        "case",
        "MACs",
        "scalar",
        "avx2",
        "vnni",
        "tract-core",
        "vnni/scal",
        "vnni/avx2",
        "avx2/tract",
        "vnni/tract",
        "avx2 MACs/tick",
        "vnni MACs/tick"
    );
    println!(
        "|{:-<36}|{:->8}|{:->11}|{:->11}|{:->11}|{:->12}|{:->11}|{:->11}|{:->12}|{:->12}|{:->16}|{:->16}|",
        "", "", "", "", "", "", "", "", "", "", "", ""
    );
    let fmt_ns = |ns: f64| {
        if ns >= 10_000.0 {
            format!("{:.2} us", ns / 1000.0)
        } else {
            format!("{ns:.0} ns")
        }
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.1}x", a / b),
        _ => "-".to_string(),
    };
    for r in rows {
        let show = |t: Option<(f64, f64)>| t.map_or("n/a".to_string(), |(ns, _)| fmt_ns(ns));
        let macs = |t: Option<(f64, f64)>, bound: f64| {
            t.filter(|_| r.macs > 0)
                .map_or("-".to_string(), |(_, ticks)| {
                    let m = r.macs as f64 / ticks;
                    format!("{m:.1} ({:.0}%)", 100.0 * m / bound)
                })
        };
        let (avx2, vnni) = (r.avx2.map(|t| t.0), r.vnni.map(|t| t.0));
        println!(
            "| {:<34} | {:>6} | {:>9} | {:>9} | {:>9} | {:>10} | {:>9} | {:>9} | {:>10} | {:>10} | {:>14} | {:>14} |",
            r.name,
            r.macs,
            fmt_ns(r.scalar.0),
            show(r.avx2),
            show(r.vnni),
            r.tract.map_or("-".to_string(), fmt_ns),
            ratio(Some(r.scalar.0), vnni),
            ratio(avx2, vnni),
            ratio(r.tract, avx2),
            ratio(r.tract, vnni),
            macs(r.avx2, avx2_bound),
            macs(r.vnni, vnni_bound),
        );
    }
    println!();
    println!(
        "TSC {tsc_ghz:.2} GHz, core clock now ~{core_ghz:.2} GHz (dependent-add loop). Bounds per \
         core cycle: AVX2 {AVX2_MACS_PER_CORE_CYCLE} exact int8 MACs (vpmaddubsw + vpmaddwd on the \
         same two pipes), VNNI {VNNI_MACS_PER_CORE_CYCLE} (two vpdpbusd ymm); in TSC ticks \
         {avx2_bound:.1} and {vnni_bound:.1}: the percentages are of these."
    );
    println!(
        "medians of {SAMPLES} samples; head rows exclude the backbone run, include the per-call embedding part"
    );
}
