//! Choosing the inference kernels: portable scalar, AVX2, or AVX-512 VNNI, as the CPU and OS
//! allow.
//!
//! AVX2 needs three things: the CPU implements it (CPUID leaf 7, EBX bit 5), the CPU has
//! XSAVE and the OS turned it on (CPUID leaf 1, ECX bit 27 OSXSAVE), and the OS enabled the
//! SSE and AVX state components in XCR0 (bits 1 and 2, read with XGETBV), without which
//! any VEX instruction raises #UD. The Augur kernel sets XCR0 at boot before asking
//! (DESIGN.md §3); a hosted OS does it for every process. Intel SDM vol. 1 §14.3
//! "Detection of Intel AVX instructions".
//!
//! VNNI (EVEX `vpdpbusd`, used at YMM width, and at ZMM width in the whole-head kernel) needs
//! AVX2 as above, plus CPUID leaf 7 EBX bits 16 (AVX512F), 30 (AVX512BW: byte and word
//! operations at ZMM width; every AVX512_VNNI CPU has it) and 31 (AVX512VL) and ECX bit 11
//! (AVX512_VNNI), plus XCR0 bits 5, 6 and 7 (opmask, upper halves of ZMM0-15, ZMM16-31): any
//! EVEX instruction, even one on YMM registers, raises #UD unless the OS enabled all three (SDM
//! vol. 1 §15.2 "Detection of AVX-512 foundation instructions").
//!
//! # Notes
//! The Augur kernel does not use VNNI yet, and [`Backend::detect`] there keeps answering AVX2:
//! the kernel sets only the x87, SSE and AVX bits of XCR0 at boot, so the XCR0 check fails
//! by design. Turning it on would mean enabling the AVX-512 state components (and sizing any
//! XSAVE area for them, about 2.7 KiB), and the kernel's test runs could not exercise it:
//! QEMU's TCG, which the tests use (`-cpu max`), does not emulate AVX-512.

/// Which kernels run inference. All compute bit-identical results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Portable Rust, the reference that defines the semantics. Needs no SIMD state.
    Scalar,
    /// Inline-`asm!` AVX2 micro-kernels (YMM registers; caller provides a SIMD section).
    Avx2,
    /// Inline-`asm!` AVX-512 VNNI micro-kernels (EVEX `vpdpbusd` on YMM registers, ZMM in the
    /// whole-head kernel, 32 vector registers); needs AVX512BW too, and the OS to have enabled
    /// AVX-512 state. Host only for now (module docs).
    Vnni,
}

impl Backend {
    /// The fastest backend this CPU and OS support.
    pub fn detect() -> Backend {
        if vnni_usable() {
            Backend::Vnni
        } else if avx2_usable() {
            Backend::Avx2
        } else {
            Backend::Scalar
        }
    }

    /// Whether this backend can run here.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar => true,
            Backend::Avx2 => avx2_usable(),
            Backend::Vnni => vnni_usable(),
        }
    }

    /// Short lower-case name for banners and logs: `"scalar"`, `"avx2"` or `"vnni"`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2 => "avx2",
            Backend::Vnni => "vnni",
        }
    }

    /// Parses [`Backend::name`]'s output (for command-line flags that force one).
    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "scalar" => Some(Backend::Scalar),
            "avx2" => Some(Backend::Avx2),
            "vnni" => Some(Backend::Vnni),
            _ => None,
        }
    }
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads XCR0 (the OS-enabled XSAVE state components).
///
/// # Safety
/// CPUID.1:ECX.OSXSAVE must be set (otherwise XGETBV raises #UD).
#[cfg(target_arch = "x86_64")]
unsafe fn xcr0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV with ECX=0 is defined whenever CPUID.1:ECX.OSXSAVE is set, which the
    // caller guarantees; it reads XCR0 into EDX:EAX and touches nothing else.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

#[cfg(target_arch = "x86_64")]
fn vnni_usable() -> bool {
    use core::arch::x86_64::__cpuid_count;
    /// CPUID.(7,0):EBX.AVX512F.
    const EBX_AVX512F: u32 = 1 << 16;
    /// CPUID.(7,0):EBX.AVX512VL.
    const EBX_AVX512VL: u32 = 1 << 31;
    /// CPUID.(7,0):EBX.AVX512BW (byte/word packs and clamps at ZMM width, `vnni/head/`;
    /// every CPU with AVX512_VNNI has it).
    const EBX_AVX512BW: u32 = 1 << 30;
    /// CPUID.(7,0):ECX.AVX512_VNNI.
    const ECX_AVX512_VNNI: u32 = 1 << 11;
    /// XCR0 bits for SSE, AVX, opmask, ZMM0-15 upper halves and ZMM16-31.
    const XCR0_AVX512: u64 = 0b1110_0110;

    // Also checks leaf 7 exists and OSXSAVE is set, which XGETBV below relies on.
    if !avx2_usable() {
        return false;
    }
    let leaf7 = __cpuid_count(7, 0);
    let ebx = EBX_AVX512F | EBX_AVX512VL | EBX_AVX512BW;
    if leaf7.ebx & ebx != ebx || leaf7.ecx & ECX_AVX512_VNNI == 0 {
        return false;
    }
    // SAFETY: `avx2_usable` returned true, so CPUID.1:ECX.OSXSAVE is set.
    let xcr0 = unsafe { xcr0() };
    xcr0 & XCR0_AVX512 == XCR0_AVX512
}

#[cfg(not(target_arch = "x86_64"))]
fn vnni_usable() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn avx2_usable() -> bool {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    /// CPUID.1:ECX.OSXSAVE — the OS enabled XSAVE/XGETBV.
    const ECX_OSXSAVE: u32 = 1 << 27;
    /// CPUID.1:ECX.AVX.
    const ECX_AVX: u32 = 1 << 28;
    /// CPUID.(7,0):EBX.AVX2.
    const EBX_AVX2: u32 = 1 << 5;
    /// XCR0 bits for SSE (XMM) and AVX (upper YMM) state.
    const XCR0_SSE_AVX: u64 = 0b110;

    let leaf0 = __cpuid(0);
    if leaf0.eax < 7 {
        return false;
    }
    let leaf1 = __cpuid(1);
    if leaf1.ecx & (ECX_OSXSAVE | ECX_AVX) != ECX_OSXSAVE | ECX_AVX {
        return false;
    }
    if __cpuid_count(7, 0).ebx & EBX_AVX2 == 0 {
        return false;
    }
    // SAFETY: CPUID.1:ECX.OSXSAVE is set, checked above.
    let xcr0 = unsafe { xcr0() };
    xcr0 & XCR0_SSE_AVX == XCR0_SSE_AVX
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_usable() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in [Backend::Scalar, Backend::Avx2, Backend::Vnni] {
            assert_eq!(Backend::from_name(b.name()), Some(b));
        }
        assert_eq!(Backend::from_name("sse"), None);
    }

    #[test]
    fn detect_agrees_with_std_on_the_host() {
        let avx2 = std::is_x86_feature_detected!("avx2");
        let vnni = avx2
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni");
        let want = if vnni {
            Backend::Vnni
        } else if avx2 {
            Backend::Avx2
        } else {
            Backend::Scalar
        };
        assert_eq!(Backend::detect(), want);
        assert_eq!(Backend::Avx2.is_available(), avx2);
        assert_eq!(Backend::Vnni.is_available(), vnni);
        assert!(Backend::Scalar.is_available());
    }
}
