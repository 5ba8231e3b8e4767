//! CPU identification (CPUID) and enabling SSE/AVX state (DESIGN.md §3).
//!
//! Compiled kernel code never uses XMM/YMM registers (soft-float target); the state is enabled
//! only so the inference runtime's inline-`asm!` AVX2 kernels can run. Enabling follows the
//! Intel SDM vol. 3A §13.1: CR0.MP=1, CR0.EM=0, CR4.OSFXSR|OSXMMEXCPT, and, when XSAVE exists,
//! CR4.OSXSAVE then XCR0 |= x87|SSE|AVX.

use core::arch::x86_64::{__cpuid, __cpuid_count, _rdtsc, CpuidResult};
use spin::Once;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::xcontrol::{XCr0, XCr0Flags};

/// What the boot CPU offers, and what the kernel turned on.
#[derive(Clone, Copy, Debug)]
pub struct CpuInfo {
    /// Processor brand string (CPUID 0x8000_0002..4), NUL-padded.
    brand: [u8; 48],
    pub has_sse2: bool,
    pub has_xsave: bool,
    pub has_avx: bool,
    pub has_avx2: bool,
    /// The timestamp counter runs at a constant rate (CPUID 0x8000_0007 EDX bit 8).
    pub invariant_tsc: bool,
    /// AVX state is enabled in XCR0, so AVX2 instructions may run.
    pub avx_enabled: bool,
}

impl CpuInfo {
    /// The processor's brand string, trimmed.
    pub fn brand(&self) -> &str {
        let len = self
            .brand
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.brand.len());
        core::str::from_utf8(&self.brand[..len])
            .unwrap_or("(non-UTF-8 brand string)")
            .trim()
    }

    /// Whether the AVX2 inference kernels can run.
    pub fn avx2_usable(&self) -> bool {
        self.has_avx2 && self.avx_enabled
    }
}

static INFO: Once<CpuInfo> = Once::new();

fn cpuid(leaf: u32) -> CpuidResult {
    // SAFETY: CPUID exists on every x86_64 CPU and only reads identification registers.
    #[allow(unused_unsafe)]
    unsafe {
        __cpuid(leaf)
    }
}

fn cpuid_count(leaf: u32, sub: u32) -> CpuidResult {
    // SAFETY: as for `cpuid`.
    #[allow(unused_unsafe)]
    unsafe {
        __cpuid_count(leaf, sub)
    }
}

/// Reads the timestamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC exists on every x86_64 CPU; the kernel leaves CR4.TSD clear.
    #[allow(unused_unsafe)]
    unsafe {
        _rdtsc()
    }
}

/// Identifies the CPU and enables SSE, and AVX where present. Call once at boot.
pub fn init() -> CpuInfo {
    *INFO.call_once(|| {
        let max_leaf = cpuid(0).eax;
        let leaf1 = cpuid(1);
        let leaf7 = if max_leaf >= 7 {
            cpuid_count(7, 0)
        } else {
            CpuidResult {
                eax: 0,
                ebx: 0,
                ecx: 0,
                edx: 0,
            }
        };
        let max_ext = cpuid(0x8000_0000).eax;
        let mut brand = [0u8; 48];
        if max_ext >= 0x8000_0004 {
            for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
                let r = cpuid(leaf);
                for (j, reg) in [r.eax, r.ebx, r.ecx, r.edx].into_iter().enumerate() {
                    let at = i * 16 + j * 4;
                    brand[at..at + 4].copy_from_slice(&reg.to_le_bytes());
                }
            }
        }
        let invariant_tsc = max_ext >= 0x8000_0007 && cpuid(0x8000_0007).edx & (1 << 8) != 0;
        let mut info = CpuInfo {
            brand,
            has_sse2: leaf1.edx & (1 << 26) != 0,
            has_xsave: leaf1.ecx & (1 << 26) != 0,
            has_avx: leaf1.ecx & (1 << 28) != 0,
            has_avx2: leaf7.ebx & (1 << 5) != 0,
            invariant_tsc,
            avx_enabled: false,
        };
        info.avx_enabled = enable_simd(&info);
        info
    })
}

/// The CPU information gathered by [`init`].
pub fn info() -> Option<&'static CpuInfo> {
    INFO.get()
}

/// Turns on SSE state, and AVX state when XSAVE and AVX exist. Returns whether AVX is on.
fn enable_simd(info: &CpuInfo) -> bool {
    let mut cr0 = Cr0::read();
    cr0.remove(Cr0Flags::EMULATE_COPROCESSOR);
    cr0.insert(Cr0Flags::MONITOR_COPROCESSOR);
    // SAFETY: clearing EM and setting MP only allows x87/SSE instructions to execute; no
    // compiled kernel code uses them, and the runtime's asm blocks declare their clobbers.
    unsafe { Cr0::write(cr0) };
    let mut cr4 = Cr4::read();
    cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
    if info.has_xsave {
        cr4.insert(Cr4Flags::OSXSAVE);
    }
    // SAFETY: these bits only declare that the OS handles SSE state and exceptions; XSAVE is
    // set only when CPUID reports it, as the SDM requires before touching XCR0.
    unsafe { Cr4::write(cr4) };
    if !(info.has_xsave && info.has_avx) {
        return false;
    }
    let xcr0 = XCr0::read() | XCr0Flags::X87 | XCr0Flags::SSE | XCr0Flags::AVX;
    // SAFETY: CR4.OSXSAVE is set, and CPUID reports AVX, so x87|SSE|AVX is a valid XCR0 value.
    unsafe { XCr0::write(xcr0) };
    XCr0::read().contains(XCr0Flags::AVX)
}
