//! Fuzzes the weight-file reader with arbitrary bytes: parsing must never panic, loop without
//! bound or read out of bounds (ASan), and any file it accepts must carry a digest that matches
//! its bytes and must run on every available backend without panicking (integer overflow checks
//! are on in fuzz builds), with the scalar and SIMD results identical. The seeds are valid,
//! sealed models, so most mutations stop at the integrity digest: this target checks that
//! check. `gguf_reader_sealed` reseals each input to reach the structural checks behind it.
//!
//! Run: `cd model-runtime/fuzz && cargo fuzz run gguf_reader seeds -- -max_total_time=300`

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::exercise(data);
});
