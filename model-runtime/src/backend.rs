//! Choosing the inference kernels: portable scalar, or AVX2 when the CPU and OS allow it.
//!
//! AVX2 needs three things: the CPU implements it (CPUID leaf 7, EBX bit 5), the CPU has
//! XSAVE and the OS turned it on (CPUID leaf 1, ECX bit 27 OSXSAVE), and the OS enabled the
//! SSE and AVX state components in XCR0 (bits 1 and 2, read with XGETBV), without which
//! any VEX instruction raises #UD. The Augur kernel sets XCR0 at boot before asking
//! (DESIGN.md §3); a hosted OS does it for every process. Intel SDM vol. 1 §14.3
//! "Detection of Intel AVX instructions".

/// Which kernels run inference. Both compute bit-identical results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Portable Rust, the reference that defines the semantics. Needs no SIMD state.
    Scalar,
    /// Inline-`asm!` AVX2 micro-kernels (YMM registers; caller provides a SIMD section).
    Avx2,
}

impl Backend {
    /// The fastest backend this CPU and OS support.
    pub fn detect() -> Backend {
        if avx2_usable() {
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
        }
    }

    /// Short lower-case name for banners and logs: `"scalar"` or `"avx2"`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2 => "avx2",
        }
    }

    /// Parses [`Backend::name`]'s output (for command-line flags that force one).
    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "scalar" => Some(Backend::Scalar),
            "avx2" => Some(Backend::Avx2),
            _ => None,
        }
    }
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
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
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV with ECX=0 is defined whenever CPUID.1:ECX.OSXSAVE is set, checked
    // above; it reads XCR0 into EDX:EAX and touches nothing else.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    let xcr0 = (u64::from(hi) << 32) | u64::from(lo);
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
        for b in [Backend::Scalar, Backend::Avx2] {
            assert_eq!(Backend::from_name(b.name()), Some(b));
        }
        assert_eq!(Backend::from_name("sse"), None);
    }

    #[test]
    fn detect_agrees_with_std_on_the_host() {
        let std_says = std::is_x86_feature_detected!("avx2");
        assert_eq!(Backend::detect() == Backend::Avx2, std_says);
        assert!(Backend::Scalar.is_available());
    }
}
