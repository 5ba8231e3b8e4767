//! The scratch plan: where each layer's prepared data and each work buffer lives, a pure
//! function of the graph (so [`Model::scratch_len`](crate::Model::scratch_len) needs no
//! backend), which heads VNNI runs fused, and the typed views of the regions.
//!
//! It sits beside `engine/`, not inside it: both the model (for `scratch_len`) and the engine
//! (to lay out the scratch) read it, and it reads only the graph, so neither of those two
//! modules needs the other's (no `model` <-> `engine` import cycle).

/// Candidates processed per internal step of a head (any number may be passed in one call).
pub const HEAD_BATCH: usize = 64;
use crate::graph::{Graph, Head, LayerOutput, MAX_LAYERS};
use crate::kernels::{self, GROUP, LANES, RQ_BLOCK, round_up};

/// Alignment of every scratch region (one YMM register).
pub(crate) const ALIGN: usize = 32;

/// Where one layer's prepared data lives in the prepared region (byte offsets).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LayerPlan {
    pub(crate) init: usize,
    pub(crate) rq: usize,
    pub(crate) packed: usize,
    pub(crate) packed_len: usize,
    /// For a head's first layer: the candidate columns, packed separately.
    pub(crate) packed_cand: usize,
    pub(crate) packed_cand_len: usize,
    /// Output channels rounded up to a whole AVX2 block.
    pub(crate) npad: usize,
    /// A head layer after the first with fewer than [`LANES`] outputs: AVX2 runs it with the
    /// row-vectorised `gemv` kernel, whose weight form `packed` then holds.
    pub(crate) gemv: bool,
    /// A head's last layer that VNNI fuses into the previous layer's requantization (one i32
    /// output over an int8 hidden layer): its weights widened to i32
    /// (`vnni::score_weights`), `score_w_len` values at byte offset `score_w`; 0 otherwise.
    pub(crate) score_w: usize,
    pub(crate) score_w_len: usize,
    /// A head's first layer when VNNI runs the whole head as one kernel (see [`fused_head`]):
    /// `vnni::head_prepare`'s form, `head_len` bytes at byte offset `head`; 0 otherwise.
    pub(crate) head: usize,
    pub(crate) head_len: usize,
    /// That head's shape, kept so a call needs no graph walk to find it.
    #[cfg(target_arch = "x86_64")]
    pub(crate) head_shape: Option<kernels::vnni::HeadShape>,
}

/// Scratch layout, a pure function of the graph (so `scratch_len` needs no backend).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub(crate) layers: [LayerPlan; MAX_LAYERS],
    pub(crate) prep_len: usize,
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
    pub(crate) fn work_len(&self) -> usize {
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
pub(crate) fn fusable_tail(graph: &Graph<'_>, head: &Head) -> Option<usize> {
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
pub(crate) fn embedding_signed(graph: &Graph<'_>) -> bool {
    graph
        .backbone()
        .last()
        .is_none_or(|l| !matches!(l.output, LayerOutput::I8 { lo: 0.., .. }))
}

/// The shape of `head` if VNNI runs it whole as one kernel (`vnni::head_scores`): exactly two
/// layers, an int8 hidden layer over the candidates and a fusable one-output score layer
/// ([`fusable_tail`]), and at least one candidate feature.
#[cfg(target_arch = "x86_64")]
pub(crate) fn fused_head(graph: &Graph<'_>, head: &Head) -> Option<kernels::vnni::HeadShape> {
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

/// The shape of `graph`'s backbone if VNNI runs it whole as one kernel
/// (`vnni::backbone_rows`): exactly two layers whose shape `BackboneShape::fits`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn whole_backbone(graph: &Graph<'_>) -> Option<kernels::vnni::BackboneShape> {
    let mut layers = graph.backbone();
    let (first, second) = (layers.next()?, layers.next()?);
    let (LayerOutput::I8 { lo: lo0, hi: hi0 }, LayerOutput::I8 { lo: lo1, hi: hi1 }) =
        (first.output, second.output)
    else {
        return None;
    };
    let shape = kernels::vnni::BackboneShape {
        k: first.inputs,
        signed: first.signed_input,
        hidden: first.outputs,
        n: second.outputs,
        lo0,
        hi0,
        lo1,
        hi1,
    };
    let fits = layers.next().is_none()
        && second.inputs == first.outputs
        && shape.fits(second.signed_input);
    fits.then_some(shape)
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
pub(crate) fn i32s_mut(b: &mut [u8]) -> &mut [i32] {
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
pub(crate) struct Work<'w> {
    pub(crate) xin: &'w mut [i8],
    pub(crate) act_a: &'w mut [i8],
    pub(crate) act_b: &'w mut [i8],
    pub(crate) emb: &'w mut [i8],
    pub(crate) acc: &'w mut [i32],
    pub(crate) hx_a: &'w mut [i8],
    pub(crate) hx_b: &'w mut [i8],
    pub(crate) cand: &'w mut [i8],
    pub(crate) base: &'w mut [i32],
    pub(crate) split: &'w mut [u8],
}

pub(crate) fn split_work<'w>(work: &'w mut [u8], p: &Plan) -> Work<'w> {
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

/// One layer's prepared data.
#[derive(Clone, Copy)]
pub(crate) struct Prepared<'p> {
    pub(crate) init: &'p [i32],
    pub(crate) rq: &'p [i32],
    pub(crate) packed: &'p [u8],
    pub(crate) packed_cand: &'p [u8],
    pub(crate) gemv: bool,
    /// See [`LayerPlan::score_w`]; empty where not fused.
    pub(crate) score_w: &'p [i32],
    /// See [`LayerPlan::head`]; empty where not fused.
    pub(crate) head: &'p [u8],
}

impl Prepared<'_> {
    pub(crate) const EMPTY: Prepared<'static> = Prepared {
        init: &[],
        rq: &[],
        packed: &[],
        packed_cand: &[],
        gemv: false,
        score_w: &[],
        head: &[],
    };
}

pub(crate) fn prepared_of<'p>(prep: &'p [u8], lp: &LayerPlan) -> Prepared<'p> {
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
