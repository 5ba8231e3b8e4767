//! In-kernel tests of CPU set-up: SIMD state enabled as DESIGN.md §3 says.

use super::{KTest, ktest_assert};
use crate::arch::x86_64::cpu;
use alloc::string::String;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::xcontrol::{XCr0, XCr0Flags};

pub static TESTS: &[KTest] = &[
    KTest {
        name: "cpu::sse_state_enabled",
        run: sse_state_enabled,
    },
    KTest {
        name: "cpu::avx2_executes_when_reported",
        run: avx2_executes_when_reported,
    },
];

fn sse_state_enabled() -> Result<(), String> {
    let cr0 = Cr0::read();
    ktest_assert!(
        !cr0.contains(Cr0Flags::EMULATE_COPROCESSOR),
        "CR0.EM still set"
    );
    ktest_assert!(cr0.contains(Cr0Flags::MONITOR_COPROCESSOR), "CR0.MP clear");
    ktest_assert!(
        Cr4::read().contains(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE),
        "CR4 SSE bits clear"
    );
    Ok(())
}

fn avx2_executes_when_reported() -> Result<(), String> {
    let info = cpu::info().ok_or_else(|| String::from("cpu::init not run"))?;
    if !info.has_avx2 {
        ktest_assert!(
            !info.avx2_usable(),
            "AVX2 reported usable on a CPU without it"
        );
        return Ok(());
    }
    ktest_assert!(
        XCr0::read().contains(XCr0Flags::AVX | XCr0Flags::SSE),
        "XCR0 lacks AVX state"
    );
    let lanes: u32;
    // SAFETY: AVX2 is reported by CPUID and enabled in XCR0 (checked above); the block only
    // touches ymm0 and eax, and `clobber_abi("C")` tells the compiler every vector register
    // may change, which is correct on the soft-float kernel target too (DESIGN.md §3).
    unsafe {
        core::arch::asm!(
            "vpcmpeqd ymm0, ymm0, ymm0",   // all ones
            "vpsrld ymm0, ymm0, 31",       // each 32-bit lane = 1
            "vphaddd ymm0, ymm0, ymm0",    // pairwise sums within 128-bit halves
            "vphaddd ymm0, ymm0, ymm0",
            "vextracti128 xmm1, ymm0, 1",
            "vpaddd xmm0, xmm0, xmm1",
            "vmovd eax, xmm0",
            "vzeroupper",
            out("eax") lanes,
            clobber_abi("C"),
        );
    }
    ktest_assert!(lanes == 8, "AVX2 lane sum is {lanes}, expected 8");
    Ok(())
}
