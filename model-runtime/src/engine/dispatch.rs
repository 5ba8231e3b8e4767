//! The kernels an engine runs: the scalar reference or a SIMD backend, picked once per engine.

use crate::graph::Layer;
use crate::kernels::{self, Gemm, Requant};
use crate::plan::Prepared;

/// The kernels in use; the SIMD variants carry the proof that their instructions are usable.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kernels {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(kernels::avx2::Avx2),
    #[cfg(target_arch = "x86_64")]
    Vnni(kernels::vnni::Vnni),
}

impl Kernels {
    /// `acc = init + x · w[:, col0..col0 + k]ᵀ`; `packed` is the SIMD form of those columns.
    // The geometry plus the two weight forms (row-major for scalar, packed for AVX2).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gemm(
        self,
        g: &Gemm,
        x: &[i8],
        layer: &Layer<'_>,
        col0: usize,
        packed: &[u8],
        init: &[i32],
        acc: &mut [i32],
        split: &mut [u8],
    ) {
        match self {
            Kernels::Scalar => {
                kernels::scalar::gemm(g, x, layer.weight, layer.inputs, col0, init, acc)
            }
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(t) => kernels::avx2::gemm(t, g, x, packed, init, acc, split),
            #[cfg(target_arch = "x86_64")]
            Kernels::Vnni(t) => kernels::vnni::gemm(t, g, x, packed, init, acc),
        }
        let _ = (packed, split);
    }

    /// [`Kernels::gemm`] over a whole layer with its prepared data (`gemv` where prepared).
    pub(super) fn gemm_layer(
        self,
        g: &Gemm,
        x: &[i8],
        layer: &Layer<'_>,
        prep: &Prepared<'_>,
        acc: &mut [i32],
        split: &mut [u8],
    ) {
        #[cfg(target_arch = "x86_64")]
        match (self, prep.gemv) {
            (Kernels::Avx2(t), true) => {
                return kernels::avx2::gemv(t, g, x, prep.packed, prep.init, acc);
            }
            (Kernels::Vnni(t), true) => {
                return kernels::vnni::gemv(t, g, x, prep.packed, prep.init, acc);
            }
            _ => {}
        }
        self.gemm(g, x, layer, 0, prep.packed, prep.init, acc, split)
    }

    /// Packs columns `col0..col0 + k` of the `n × w_stride` weights in this backend's form.
    pub(super) fn pack(
        self,
        w: &[i8],
        w_stride: usize,
        col0: usize,
        k: usize,
        n: usize,
        out: &mut [u8],
    ) {
        match self {
            Kernels::Scalar => {}
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => kernels::pack(w, w_stride, col0, k, n, out),
            #[cfg(target_arch = "x86_64")]
            Kernels::Vnni(_) => kernels::vnni::pack(w, w_stride, col0, k, n, out),
        }
        let _ = (w, w_stride, col0, k, n, out);
    }

    /// Packs a whole `n × k` layer in this backend's `gemv` form.
    pub(super) fn gemv_pack(self, w: &[i8], k: usize, n: usize, out: &mut [u8]) {
        match self {
            Kernels::Scalar => {}
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => kernels::avx2::gemv_pack(w, k, 0, k, n, out),
            #[cfg(target_arch = "x86_64")]
            Kernels::Vnni(_) => kernels::vnni::gemv_pack(w, k, 0, k, n, out),
        }
        let _ = (w, k, n, out);
    }

    pub(super) fn requant(self, r: &Requant, acc: &[i32], params: &[i32], out: &mut [i8]) {
        match self {
            Kernels::Scalar => kernels::scalar::requant(r, acc, params, out),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(t) => kernels::avx2::requant(t, r, acc, params, out),
            #[cfg(target_arch = "x86_64")]
            Kernels::Vnni(t) => kernels::vnni::requant(t, r, acc, params, out),
        }
    }
}
