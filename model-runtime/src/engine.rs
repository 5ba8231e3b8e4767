//! Running a model: the per-tick backbone and batched heads over caller-provided scratch.
//!
//! An [`Engine`] binds a [`Model`] to a backend and to one scratch buffer that the caller
//! allocates once ([`Model::scratch_len`] bytes). At construction it prepares, in that buffer,
//! each layer's padded biases, requantization parameters and (for AVX2) packed weights; every
//! call after that allocates nothing, uses no floating point, and costs the same for any input
//! values. The scratch holds:
//!
//! ```text
//! [align slack][prepared: per layer init | requant params | packed weights][work buffers]
//! ```
//!
//! A tick runs [`Engine::run_backbone`] once (input window -> embedding, kept in the scratch),
//! then [`Engine::run_head`] per subsystem over its candidates. A head's first layer sees
//! `[embedding | candidate features]`; the embedding's contribution plus the bias
//! (`base = bias + W[:, ..E] · embedding`) is computed once per call, and each candidate only
//! adds `W[:, E..] · features`. Candidates go through the head [`HEAD_BATCH`] at a time, so the
//! scratch size does not depend on how many there are.
//! On VNNI, a two-layer head ending in one i32 output over an int8 hidden layer (the Augur heads)
//! runs whole as one kernel (`kernels::vnni::head_scores`): the embedding's part, then per tile
//! of 8 candidates (read in place where their rows are whole 4-byte groups) the hidden layer,
//! its requantization and the score, the hidden activations kept in registers. Longer heads
//! with such an ending run their last two layers as one fused kernel
//! (`kernels::vnni::requant_score`), writing the scores straight into the caller's slice. Its backbone layers (one row each) run
//! `kernels::vnni::gemm_requant_row`, requantizing in registers from starting values with the
//! signed-input correction folded in at construction.

use crate::Backend;
use crate::error::{EngineError, RunError};
use crate::graph::{Graph, Head, Layer, LayerOutput, MAX_LAYERS};
use crate::kernels::{self, GROUP, Gemm, LANES, RQ_BLOCK, Requant, round_up};
use crate::model::Model;

/// Candidates processed per internal step of a head (any number may be passed in one call).
pub const HEAD_BATCH: usize = 64;
/// Alignment of every scratch region (one YMM register).
const ALIGN: usize = 32;

/// Where one layer's prepared data lives in the prepared region (byte offsets).
#[derive(Clone, Copy, Debug, Default)]
struct LayerPlan {
    init: usize,
    rq: usize,
    packed: usize,
    packed_len: usize,
    /// For a head's first layer: the candidate columns, packed separately.
    packed_cand: usize,
    packed_cand_len: usize,
    /// Output channels rounded up to a whole AVX2 block.
    npad: usize,
    /// A head layer after the first with fewer than [`LANES`] outputs: AVX2 runs it with the
    /// row-vectorised `gemv` kernel, whose weight form `packed` then holds.
    gemv: bool,
    /// A head's last layer that VNNI fuses into the previous layer's requantization (one i32
    /// output over an int8 hidden layer): its weights widened to i32
    /// (`vnni::score_weights`), `score_w_len` values at byte offset `score_w`; 0 otherwise.
    score_w: usize,
    score_w_len: usize,
    /// A head's first layer when VNNI runs the whole head as one kernel (see [`fused_head`]):
    /// `vnni::head_prepare`'s form, `head_len` bytes at byte offset `head`; 0 otherwise.
    head: usize,
    head_len: usize,
    /// That head's shape, kept so a call needs no graph walk to find it.
    #[cfg(target_arch = "x86_64")]
    head_shape: Option<kernels::vnni::HeadShape>,
}

/// Scratch layout, a pure function of the graph (so `scratch_len` needs no backend).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    layers: [LayerPlan; MAX_LAYERS],
    prep_len: usize,
    /// Work-region sizes in bytes, each a multiple of [`ALIGN`], in layout order.
    xin: usize,
    act: usize,
    emb: usize,
    acc: usize,
    hx: usize,
    cand: usize,
    base: usize,
    split: usize,
}

impl Plan {
    fn work_len(&self) -> usize {
        self.xin
            + 2 * self.act
            + self.emb
            + self.acc
            + 2 * self.hx
            + self.cand
            + self.base
            + self.split
    }

    pub(crate) fn total_len(&self) -> usize {
        ALIGN + self.prep_len + self.work_len()
    }
}

/// Computes the scratch layout for `graph`.
pub(crate) fn plan_for(graph: &Graph<'_>) -> Plan {
    let mut off = 0usize;
    let mut alloc = |bytes: usize| -> usize {
        let at = off;
        off += round_up(bytes, ALIGN);
        at
    };
    let mut layers = [LayerPlan::default(); MAX_LAYERS];
    let embedding = graph.embedding_len();
    for (i, layer) in graph.layers().enumerate() {
        let npad = round_up(layer.outputs, LANES);
        let lp = &mut layers[i];
        lp.npad = npad;
        lp.init = alloc(npad * 4);
        lp.rq = alloc(npad / LANES * RQ_BLOCK * 4);
        let head_first = graph.heads().any(|h| h.first_layer == i);
        let k_main = if head_first { embedding } else { layer.inputs };
        lp.packed_len = simd_packed_len(layer.outputs, k_main);
        lp.gemv = !head_first
            && layer.outputs < LANES
            && graph.heads().any(|h| h.layer_range().contains(&i));
        #[cfg(target_arch = "x86_64")]
        if lp.gemv {
            lp.packed_len = lp
                .packed_len
                .max(kernels::avx2::gemv_packed_len(layer.outputs, k_main))
                .max(kernels::vnni::gemv_packed_len(layer.outputs, k_main));
        }
        lp.packed = alloc(lp.packed_len);
        #[cfg(target_arch = "x86_64")]
        if graph.heads().any(|h| fusable_tail(graph, h) == Some(i)) {
            lp.score_w_len = kernels::vnni::score_weights_len(layer.inputs);
            lp.score_w = alloc(lp.score_w_len * 4);
        }
        if head_first {
            lp.packed_cand_len = simd_packed_len(layer.outputs, layer.inputs - embedding);
            lp.packed_cand = alloc(lp.packed_cand_len);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(shape) = graph
            .heads()
            .filter(|h| h.first_layer == i)
            .find_map(|h| fused_head(graph, h))
        {
            lp.head_len = shape.prepared_len();
            lp.head = alloc(lp.head_len);
            lp.head_shape = Some(shape);
        }
    }
    let prep_len = off;
    let pad = |n: usize| round_up(round_up(n, LANES), ALIGN);
    let input = graph.layer(0).map_or(0, |l| l.inputs);
    let backbone_w = graph.backbone().map(|l| l.outputs).max().unwrap_or(0);
    let head_w = graph
        .heads()
        .flat_map(|h| h.layer_range())
        .filter_map(|i| graph.layer(i))
        .map(|l| l.outputs)
        .max()
        .unwrap_or(0);
    let max_features = graph
        .heads()
        .map(|h| h.candidate_features)
        .max()
        .unwrap_or(0);
    Plan {
        layers,
        prep_len,
        xin: pad(input),
        act: pad(backbone_w),
        emb: pad(embedding),
        acc: pad(backbone_w).max(HEAD_BATCH * pad(head_w)) * 4,
        // Slack for `gemv`, which reads whole 32-byte chunks of the last row.
        hx: HEAD_BATCH * pad(head_w) + ALIGN,
        cand: HEAD_BATCH * pad(max_features),
        base: pad(head_w) * 4,
        // AVX2's signed inputs split into |x|, sign and correction (`avx2::split_row_len`):
        // one backbone row, or a head batch of rows.
        split: round_up(
            split_len(pad(input).max(pad(backbone_w))).max(
                HEAD_BATCH * split_len(pad(head_w).max(pad(max_features)).max(pad(embedding))),
            ),
            ALIGN,
        ),
    }
}

/// The index of `head`'s last layer if VNNI can fuse it into the previous layer's
/// requantization (`vnni::requant_score`): one i32 output, over a hidden layer with int8
/// outputs.
fn fusable_tail(graph: &Graph<'_>, head: &Head) -> Option<usize> {
    let last = head.first_layer + head.layer_count.checked_sub(1)?;
    let hidden = graph.layer(last.checked_sub(1)?)?;
    let l = graph.layer(last)?;
    let fits = head.layer_count >= 2
        && l.outputs == 1
        && l.inputs == hidden.outputs
        && matches!(l.output, LayerOutput::I32)
        && matches!(hidden.output, LayerOutput::I8 { .. });
    fits.then_some(last)
}

/// Whether the embedding may be negative (the heads' first layers then take it as signed input).
fn embedding_signed(graph: &Graph<'_>) -> bool {
    graph
        .backbone()
        .last()
        .is_none_or(|l| !matches!(l.output, LayerOutput::I8 { lo: 0.., .. }))
}

/// The shape of `head` if VNNI runs it whole as one kernel (`vnni::head_scores`): exactly two
/// layers, an int8 hidden layer over the candidates and a fusable one-output score layer
/// ([`fusable_tail`]), and at least one candidate feature.
#[cfg(target_arch = "x86_64")]
fn fused_head(graph: &Graph<'_>, head: &Head) -> Option<kernels::vnni::HeadShape> {
    let l1 = graph.layer(head.first_layer)?;
    let LayerOutput::I8 { lo, hi } = l1.output else {
        return None;
    };
    let fits = head.layer_count == 2
        && fusable_tail(graph, head) == Some(head.first_layer + 1)
        && head.candidate_features > 0
        && l1.outputs > 0;
    fits.then_some(kernels::vnni::HeadShape {
        e: graph.embedding_len(),
        emb_signed: embedding_signed(graph),
        k: head.candidate_features,
        n: l1.outputs,
        lo,
        hi,
    })
}

/// Bytes of the packed form of an `n × k` matrix for whichever SIMD backend runs (VNNI's
/// carries a per-channel correction after AVX2's layout).
fn simd_packed_len(n: usize, k: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    return kernels::vnni::packed_len(n, k);
    #[cfg(not(target_arch = "x86_64"))]
    kernels::packed_len(n, k)
}

/// Bytes of one row of AVX2's signed-input split for `k` inputs (see `kernels/avx2`): eight
/// per group of four inputs, and eight for the row's correction.
fn split_len(k: usize) -> usize {
    k.div_ceil(GROUP) * 2 * GROUP + 8
}

/// Views a byte region as i8.
fn i8s_mut(b: &mut [u8]) -> &mut [i8] {
    // SAFETY: same size and alignment, every bit pattern valid; same memory, same borrow.
    unsafe { core::slice::from_raw_parts_mut(b.as_mut_ptr().cast::<i8>(), b.len()) }
}

/// Views a 4-byte-aligned byte region as i32 (scratch regions are 32-byte aligned).
fn i32s_mut(b: &mut [u8]) -> &mut [i32] {
    assert!(b.as_ptr().cast::<i32>().is_aligned() && b.len() % 4 == 0);
    // SAFETY: alignment and length checked above; every bit pattern is a valid i32; the new
    // slice covers exactly the same memory with the same exclusive borrow.
    unsafe { core::slice::from_raw_parts_mut(b.as_mut_ptr().cast::<i32>(), b.len() / 4) }
}

/// Read-only [`i32s_mut`].
fn i32s(b: &[u8]) -> &[i32] {
    assert!(b.as_ptr().cast::<i32>().is_aligned() && b.len() % 4 == 0);
    // SAFETY: as for `i32s_mut`, with a shared borrow.
    unsafe { core::slice::from_raw_parts(b.as_ptr().cast::<i32>(), b.len() / 4) }
}

/// The work buffers of one call, split from the work region.
struct Work<'w> {
    xin: &'w mut [i8],
    act_a: &'w mut [i8],
    act_b: &'w mut [i8],
    emb: &'w mut [i8],
    acc: &'w mut [i32],
    hx_a: &'w mut [i8],
    hx_b: &'w mut [i8],
    cand: &'w mut [i8],
    base: &'w mut [i32],
    split: &'w mut [u8],
}

fn split_work<'w>(work: &'w mut [u8], p: &Plan) -> Work<'w> {
    let (xin, rest) = work.split_at_mut(p.xin);
    let (act_a, rest) = rest.split_at_mut(p.act);
    let (act_b, rest) = rest.split_at_mut(p.act);
    let (emb, rest) = rest.split_at_mut(p.emb);
    let (acc, rest) = rest.split_at_mut(p.acc);
    let (hx_a, rest) = rest.split_at_mut(p.hx);
    let (hx_b, rest) = rest.split_at_mut(p.hx);
    let (cand, rest) = rest.split_at_mut(p.cand);
    let (base, rest) = rest.split_at_mut(p.base);
    let (split, _) = rest.split_at_mut(p.split);
    Work {
        xin: i8s_mut(xin),
        act_a: i8s_mut(act_a),
        act_b: i8s_mut(act_b),
        emb: i8s_mut(emb),
        acc: i32s_mut(acc),
        hx_a: i8s_mut(hx_a),
        hx_b: i8s_mut(hx_b),
        cand: i8s_mut(cand),
        base: i32s_mut(base),
        split,
    }
}

/// The kernels in use; the SIMD variants carry the proof that their instructions are usable.
#[derive(Clone, Copy, Debug)]
enum Kernels {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(kernels::avx2::Avx2),
    #[cfg(target_arch = "x86_64")]
    Vnni(kernels::vnni::Vnni),
}

/// One layer's prepared data.
#[derive(Clone, Copy)]
struct Prepared<'p> {
    init: &'p [i32],
    rq: &'p [i32],
    packed: &'p [u8],
    packed_cand: &'p [u8],
    gemv: bool,
    /// See [`LayerPlan::score_w`]; empty where not fused.
    score_w: &'p [i32],
    /// See [`LayerPlan::head`]; empty where not fused.
    head: &'p [u8],
}

impl Prepared<'_> {
    const EMPTY: Prepared<'static> = Prepared {
        init: &[],
        rq: &[],
        packed: &[],
        packed_cand: &[],
        gemv: false,
        score_w: &[],
        head: &[],
    };
}

fn prepared_of<'p>(prep: &'p [u8], lp: &LayerPlan) -> Prepared<'p> {
    Prepared {
        init: i32s(&prep[lp.init..][..lp.npad * 4]),
        rq: i32s(&prep[lp.rq..][..lp.npad / LANES * RQ_BLOCK * 4]),
        packed: &prep[lp.packed..][..lp.packed_len],
        packed_cand: &prep[lp.packed_cand..][..lp.packed_cand_len],
        gemv: lp.gemv,
        score_w: i32s(&prep[lp.score_w..][..lp.score_w_len * 4]),
        head: &prep[lp.head..][..lp.head_len],
    }
}

impl Kernels {
    /// `acc = init + x · w[:, col0..col0 + k]ᵀ`; `packed` is the SIMD form of those columns.
    // The geometry plus the two weight forms (row-major for scalar, packed for AVX2).
    #[allow(clippy::too_many_arguments)]
    fn gemm(
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
    fn gemm_layer(
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
    fn pack(self, w: &[i8], w_stride: usize, col0: usize, k: usize, n: usize, out: &mut [u8]) {
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
    fn gemv_pack(self, w: &[i8], k: usize, n: usize, out: &mut [u8]) {
        match self {
            Kernels::Scalar => {}
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(_) => kernels::avx2::gemv_pack(w, k, 0, k, n, out),
            #[cfg(target_arch = "x86_64")]
            Kernels::Vnni(_) => kernels::vnni::gemv_pack(w, k, 0, k, n, out),
        }
        let _ = (w, k, n, out);
    }

    fn requant(self, r: &Requant, acc: &[i32], params: &[i32], out: &mut [i8]) {
        match self {
            Kernels::Scalar => kernels::scalar::requant(r, acc, params, out),
            #[cfg(target_arch = "x86_64")]
            Kernels::Avx2(t) => kernels::avx2::requant(t, r, acc, params, out),
            #[cfg(target_arch = "x86_64")]
            Kernels::Vnni(t) => kernels::vnni::requant(t, r, acc, params, out),
        }
    }
}

/// Runs a [`Model`] on one backend over caller-provided scratch. See the module docs.
pub struct Engine<'m, 'a, 's> {
    model: &'m Model<'a>,
    backend: Backend,
    kernels: Kernels,
    plan: Plan,
    /// Each layer's prepared data, sliced once at construction.
    prepared: [Prepared<'s>; MAX_LAYERS],
    work: Work<'s>,
    have_embedding: bool,
}

impl<'m, 'a, 's> Engine<'m, 'a, 's> {
    /// Prepares `model` for `backend` in `scratch` (at least [`Model::scratch_len`] bytes, any
    /// alignment). Fails if the scratch is too small or the backend unavailable here.
    pub fn new(
        model: &'m Model<'a>,
        backend: Backend,
        scratch: &'s mut [u8],
    ) -> Result<Self, EngineError> {
        let plan = plan_for(model.graph());
        let need = plan.total_len();
        if scratch.len() < need {
            return Err(EngineError::ScratchTooSmall {
                need,
                have: scratch.len(),
            });
        }
        let kernels = match backend {
            Backend::Scalar => Kernels::Scalar,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => kernels::avx2::Avx2::new()
                .map(Kernels::Avx2)
                .ok_or(EngineError::BackendUnavailable { backend })?,
            #[cfg(target_arch = "x86_64")]
            Backend::Vnni => kernels::vnni::Vnni::new()
                .map(Kernels::Vnni)
                .ok_or(EngineError::BackendUnavailable { backend })?,
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Avx2 | Backend::Vnni => {
                return Err(EngineError::BackendUnavailable { backend });
            }
        };
        let skip = scratch.as_ptr().align_offset(ALIGN).min(ALIGN);
        let (_, rest) = scratch.split_at_mut(skip);
        let (prep, rest) = rest.split_at_mut(plan.prep_len);
        let work = &mut rest[..plan.work_len()];
        work.fill(0);
        prep.fill(0);
        let embedding = model.embedding_len();
        let graph = model.graph();
        let backbone_len = graph.backbone_len();
        for (i, layer) in graph.layers().enumerate() {
            let lp = &plan.layers[i];
            for (slot, b) in i32s_mut(&mut prep[lp.init..][..lp.npad * 4])
                .iter_mut()
                .zip(layer.bias.iter())
            {
                *slot = b;
            }
            let rq = i32s_mut(&mut prep[lp.rq..][..lp.npad / LANES * RQ_BLOCK * 4]);
            kernels::fill_requant_params(
                layer.multiplier.iter(),
                layer.shift.iter(),
                layer.outputs,
                rq,
            );
            let (w, k, n) = (layer.weight, layer.inputs, layer.outputs);
            let packed = &mut prep[lp.packed..][..lp.packed_len];
            if lp.packed_cand_len > 0 {
                kernels.pack(w, k, 0, embedding, n, packed);
                let cand = &mut prep[lp.packed_cand..][..lp.packed_cand_len];
                kernels.pack(w, k, embedding, k - embedding, n, cand);
            } else if lp.gemv {
                kernels.gemv_pack(w, k, n, packed);
            } else {
                kernels.pack(w, k, 0, k, n, packed);
            }
            // VNNI's backbone layers start from `bias + correction` (see
            // `vnni::gemm_requant_row`), folded here once instead of per call.
            #[cfg(target_arch = "x86_64")]
            if matches!(kernels, Kernels::Vnni(_)) && i < backbone_len && layer.signed_input {
                // `plan_for` places a layer's init before its packed weights.
                let (head, tail) = prep.split_at_mut(lp.packed);
                let init = i32s_mut(&mut head[lp.init..][..lp.npad * 4]);
                kernels::vnni::fold_correction(&tail[..lp.packed_len], n, k, init);
            }
            #[cfg(target_arch = "x86_64")]
            if lp.score_w_len > 0 {
                let wide = i32s_mut(&mut prep[lp.score_w..][..lp.score_w_len * 4]);
                kernels::vnni::score_weights(w, k, wide);
            }
            #[cfg(target_arch = "x86_64")]
            if let (Kernels::Vnni(_), Some(shape), Some(tail)) =
                (kernels, lp.head_shape, graph.layer(i + 1))
            {
                kernels::vnni::head_prepare(
                    &shape,
                    w,
                    k,
                    layer.bias.iter(),
                    layer.multiplier.iter(),
                    layer.shift.iter(),
                    tail.weight,
                    tail.bias.get(0).unwrap_or(0),
                    &mut prep[lp.head..][..lp.head_len],
                );
            }
        }
        let prep: &'s [u8] = prep;
        let layer_count = graph.layers().count();
        let prepared = core::array::from_fn(|i| {
            if i < layer_count {
                prepared_of(prep, &plan.layers[i])
            } else {
                Prepared::EMPTY
            }
        });
        let work = split_work(work, &plan);
        Ok(Engine {
            model,
            backend,
            kernels,
            plan,
            prepared,
            work,
            have_embedding: false,
        })
    }

    /// The backend this engine runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'a> {
        self.model
    }

    /// Runs the backbone on one input window (`window × features` int8, tick-major) and
    /// returns the embedding (also kept for [`Engine::run_head`]). For a model without heads
    /// this is the model's output.
    pub fn run_backbone(&mut self, input: &[i8]) -> Result<&[i8], RunError> {
        let expected = self.model.input_len();
        if input.len() != expected {
            return Err(RunError::InputLen {
                expected,
                found: input.len(),
            });
        }
        let graph = self.model.graph();
        let count = graph.backbone_len();
        let kern = self.kernels;
        let w = &mut self.work;
        // The kernels read whole groups of 4 inputs: a window of whole groups is read in
        // place, any other is copied into the zero-padded input buffer (a shape decision).
        let direct = expected.is_multiple_of(GROUP);
        if !direct {
            w.xin[..expected].copy_from_slice(input);
        }
        let xin: &[i8] = if direct { input } else { &*w.xin };
        for (i, (layer, prep)) in graph.backbone().zip(&self.prepared).enumerate() {
            let last = i + 1 == count;
            let (src, dst): (&[i8], &mut [i8]) = match (i, i % 2) {
                (0, _) => (xin, if last { &mut *w.emb } else { &mut *w.act_a }),
                (_, 1) => (&*w.act_a, if last { &mut *w.emb } else { &mut *w.act_b }),
                _ => (&*w.act_b, if last { &mut *w.emb } else { &mut *w.act_a }),
            };
            let npad = self.plan.layers[i].npad;
            let g = Gemm {
                rows: 1,
                x_stride: 0,
                k: layer.inputs,
                n: layer.outputs,
                acc_stride: npad,
                signed: layer.signed_input,
            };
            let (lo, hi) = match layer.output {
                LayerOutput::I8 { lo, hi } => (lo, hi),
                // The reader only allows i32 outputs as a head's last layer.
                LayerOutput::I32 => (i8::MIN, i8::MAX),
            };
            let r = Requant {
                rows: 1,
                n: layer.outputs,
                acc_stride: npad,
                out_stride: npad,
                lo,
                hi,
            };
            match kern {
                // One row, requantized in registers (`vnni::gemm_requant_row`), from the
                // starting values folded in `Engine::new`.
                #[cfg(target_arch = "x86_64")]
                Kernels::Vnni(t) => kernels::vnni::gemm_requant_row(
                    t,
                    &g,
                    src,
                    prep.packed,
                    prep.init,
                    &r,
                    prep.rq,
                    dst,
                ),
                _ => {
                    kern.gemm(&g, src, layer, 0, prep.packed, prep.init, w.acc, w.split);
                    kern.requant(&r, w.acc, prep.rq, dst);
                }
            }
        }
        self.have_embedding = true;
        Ok(&self.work.emb[..self.model.embedding_len()])
    }

    /// Scores `candidates` (row-major, `candidate_features` int8 per row, any number of rows)
    /// with head `head` against the embedding of the last [`Engine::run_backbone`], writing
    /// `rows × outputs` values to `scores` (i8 outputs widened to i32).
    pub fn run_head(
        &mut self,
        head: usize,
        candidates: &[i8],
        scores: &mut [i32],
    ) -> Result<(), RunError> {
        let graph = self.model.graph();
        let h = *graph.head(head).ok_or(RunError::NoSuchHead {
            index: head,
            heads: graph.head_count(),
        })?;
        let features = h.candidate_features;
        if !candidates.len().is_multiple_of(features) {
            return Err(RunError::CandidatesLen {
                row: features,
                found: candidates.len(),
            });
        }
        let rows_total = candidates.len() / features;
        let outputs = self.model.head_outputs(head).unwrap_or(0);
        if scores.len() != rows_total * outputs {
            return Err(RunError::ScoresLen {
                expected: rows_total * outputs,
                found: scores.len(),
            });
        }
        if !self.have_embedding {
            return Err(RunError::NoEmbedding);
        }
        // VNNI runs a two-layer head whole (`vnni::head_scores`, which computes the embedding's
        // part itself): whole tiles read in place, the rest through the padded buffer.
        #[cfg(target_arch = "x86_64")]
        if let (Kernels::Vnni(t), Some(shape), Some(p1)) = (
            self.kernels,
            self.plan.layers[h.first_layer].head_shape,
            self.prepared.get(h.first_layer),
        ) {
            let w = &mut self.work;
            let (emb, base) = (&*w.emb, &mut *w.base);
            let mut run = |x: &[i8], stride: usize, out: &mut [i32]| {
                kernels::vnni::head_scores(t, &shape, p1.head, emb, base, x, stride, out)
            };
            let features_whole = features.is_multiple_of(GROUP);
            let mut done = 0;
            if features_whole {
                done = rows_total / kernels::vnni::HEAD_TILE_ROWS * kernels::vnni::HEAD_TILE_ROWS;
                run(candidates, features, &mut scores[..done]);
            }
            // The rest (a partial tile, or rows not a whole number of 4-byte groups) goes
            // through the zero-padded candidate buffer, a batch at a time.
            let fpad = round_up(features, LANES);
            while done < rows_total {
                let rows = HEAD_BATCH.min(rows_total - done);
                let chunk = &candidates[done * features..(done + rows) * features];
                for (dst, src) in w
                    .cand
                    .chunks_exact_mut(fpad)
                    .zip(chunk.chunks_exact(features))
                {
                    dst[..features].copy_from_slice(src);
                }
                run(&*w.cand, fpad, &mut scores[done..done + rows]);
                done += rows;
            }
            return Ok(());
        }

        let embedding = self.model.embedding_len();
        let emb_signed = embedding_signed(graph);
        let kern = self.kernels;
        let plan = &self.plan;
        let preps = &self.prepared;
        let w = &mut self.work;
        let first = h.first_layer;
        let (Some(l1), Some(p1)) = (graph.layer(first), preps.get(first).copied()) else {
            return Ok(());
        };
        let np1 = plan.layers[first].npad;
        // VNNI's fused last two layers, where the head allows (see `fusable_tail`).
        #[cfg(target_arch = "x86_64")]
        let fused = match kern {
            Kernels::Vnni(t) => fusable_tail(graph, &h).map(|last| (t, last)),
            _ => None,
        };

        // Once per call: base = bias + W[:, ..E] · embedding.
        let g = Gemm {
            rows: 1,
            x_stride: 0,
            k: embedding,
            n: l1.outputs,
            acc_stride: np1,
            signed: emb_signed,
        };
        kern.gemm(&g, w.emb, l1, 0, p1.packed, p1.init, w.base, w.split);

        let direct = matches!(kern, Kernels::Scalar) || features % GROUP == 0;
        let fpad = round_up(features, LANES);
        for start in (0..rows_total).step_by(HEAD_BATCH) {
            let rows = HEAD_BATCH.min(rows_total - start);
            let chunk = &candidates[start * features..(start + rows) * features];
            let (x, x_stride): (&[i8], usize) = if direct {
                (chunk, features)
            } else {
                // Pad rows to whole 4-byte groups for the AVX2 broadcast (pad bytes stay 0).
                for (dst, src) in w
                    .cand
                    .chunks_exact_mut(fpad)
                    .zip(chunk.chunks_exact(features))
                {
                    dst[..features].copy_from_slice(src);
                }
                (&*w.cand, fpad)
            };
            let g = Gemm {
                rows,
                x_stride,
                k: features,
                n: l1.outputs,
                acc_stride: np1,
                signed: true,
            };
            kern.gemm(&g, x, l1, embedding, p1.packed_cand, w.base, w.acc, w.split);

            let mut prev_npad = np1;
            for (pos, li) in h.layer_range().enumerate() {
                let (Some(layer), Some(prep)) = (graph.layer(li), preps.get(li).copied()) else {
                    continue;
                };
                let npad = plan.layers[li].npad;
                let (src, dst): (&[i8], &mut [i8]) = if pos % 2 == 1 {
                    (&*w.hx_a, &mut *w.hx_b)
                } else {
                    (&*w.hx_b, &mut *w.hx_a)
                };
                if pos > 0 {
                    let g = Gemm {
                        rows,
                        x_stride: prev_npad,
                        k: layer.inputs,
                        n: layer.outputs,
                        acc_stride: npad,
                        signed: layer.signed_input,
                    };
                    kern.gemm_layer(&g, src, layer, &prep, w.acc, w.split);
                }
                let last = pos + 1 == h.layer_count;
                let out = &mut scores[start * outputs..(start + rows) * outputs];
                #[cfg(target_arch = "x86_64")]
                if let (Some((t, tail)), LayerOutput::I8 { lo, hi }) = (fused, layer.output)
                    && tail == li + 1
                {
                    let r = Requant {
                        rows,
                        n: layer.outputs,
                        acc_stride: npad,
                        out_stride: 0,
                        lo,
                        hi,
                    };
                    let score = preps[tail];
                    kernels::vnni::requant_score(
                        t,
                        &r,
                        w.acc,
                        prep.rq,
                        score.score_w,
                        score.init[0],
                        out,
                    );
                    break;
                }
                match layer.output {
                    LayerOutput::I32 => {
                        for (o, a) in out.chunks_exact_mut(outputs).zip(w.acc.chunks_exact(npad)) {
                            o.copy_from_slice(&a[..outputs]);
                        }
                    }
                    LayerOutput::I8 { lo, hi } => {
                        let r = Requant {
                            rows,
                            n: layer.outputs,
                            acc_stride: npad,
                            out_stride: npad,
                            lo,
                            hi,
                        };
                        kern.requant(&r, w.acc, prep.rq, dst);
                        if last {
                            for (o, y) in out.chunks_exact_mut(outputs).zip(dst.chunks_exact(npad))
                            {
                                for (o, &y) in o.iter_mut().zip(y) {
                                    *o = i32::from(y);
                                }
                            }
                        }
                    }
                }
                prev_npad = npad;
            }
        }
        Ok(())
    }
}

/// The whole-head VNNI path (`vnni::head_scores`) against the scalar engine, on the shapes the
/// kernel-level tests cannot reach: candidate counts at every tile and batch boundary (in
/// place and through the padded buffer), features not a whole number of groups, hidden widths
/// over one chunk, ReLU and signed hidden layers, unsigned and signed embeddings, extremes.
#[cfg(all(test, feature = "std", target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::{QuantizedModel, XorShift, random_model};
    use std::vec;
    use std::vec::Vec;

    fn scores(model: &Model<'_>, backend: Backend, input: &[i8], cands: &[i8]) -> Vec<i32> {
        let mut scratch = vec![0x5Au8; model.scratch_len()];
        let mut e = Engine::new(model, backend, &mut scratch).unwrap();
        e.run_backbone(input).unwrap();
        let mut out = vec![0i32; cands.len() / model.graph().head(0).unwrap().candidate_features];
        e.run_head(0, cands, &mut out).unwrap();
        out
    }

    #[test]
    fn fused_heads_match_scalar() {
        if !Backend::Vnni.is_available() {
            std::eprintln!("AVX-512 VNNI not available here: fused head test skipped");
            return;
        }
        let mut seed = 1;
        for features in [1, 3, 4, 7, 16, 17] {
            for hidden in [1, 8, 32, 33, 70] {
                for (signed_hidden, relu_embedding) in [(false, false), (true, false), (true, true)]
                {
                    seed += 1;
                    let mut q: QuantizedModel =
                        random_model(seed, 2, 6, &[12, 9], &[("h", features, &[hidden, 1])]);
                    if signed_hidden {
                        q.heads[0].layers[0].output = LayerOutput::I8 { lo: -100, hi: 90 };
                    }
                    if relu_embedding {
                        q.backbone[1].output = LayerOutput::I8 { lo: 0, hi: 127 };
                    }
                    let bytes = q.to_gguf();
                    let model = Model::from_gguf(&bytes).unwrap();
                    assert!(fused_head(model.graph(), model.graph().head(0).unwrap()).is_some());
                    let mut rng = XorShift::new(seed);
                    for (rows, lo, hi) in [
                        (0, -128, 127),
                        (1, -128, 127),
                        (3, -128, 127),
                        (4, -128, 127),
                        (5, 127, 127),
                        (8, -128, 127),
                        (HEAD_BATCH, -128, 127),
                        (HEAD_BATCH + 3, -128, -128),
                        (2 * HEAD_BATCH + 9, -128, 127),
                    ] {
                        let input = rng.i8s(model.input_len(), lo, hi);
                        let cands = rng.i8s(rows * features, lo, hi);
                        assert_eq!(
                            scores(&model, Backend::Vnni, &input, &cands),
                            scores(&model, Backend::Scalar, &input, &cands),
                            "features {features}, hidden {hidden}, signed {signed_hidden}, \
                             rows {rows}"
                        );
                    }
                }
            }
        }
    }
}
