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
//! signed-input correction folded in at construction; a two-layer backbone of the Augur shape
//! (`plan::whole_backbone`) runs whole as one kernel (`kernels::vnni::Backbone`, bound to its
//! prepared data at construction), layer 0's activations never leaving L1.
//!
//! The scratch layout and the views of its regions are in `plan.rs`, the per-backend choice of
//! kernels in `dispatch.rs`.

use crate::Backend;
use crate::error::{EngineError, RunError};
use crate::graph::{LayerOutput, MAX_LAYERS};
use crate::kernels::{self, GROUP, Gemm, LANES, RQ_BLOCK, Requant, round_up};
use crate::model::Model;

mod dispatch;
#[cfg(all(test, feature = "std", target_arch = "x86_64"))]
mod tests;

pub use crate::plan::HEAD_BATCH;
use crate::plan::{
    ALIGN, Plan, Prepared, Work, embedding_signed, i32s_mut, plan_for, prepared_of, split_work,
};
#[cfg(target_arch = "x86_64")]
use crate::plan::{fusable_tail, whole_backbone};
use dispatch::Kernels;

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
    /// On VNNI, a two-layer backbone that `vnni::Backbone` runs whole, bound to its prepared
    /// data once here.
    #[cfg(target_arch = "x86_64")]
    backbone: Option<kernels::vnni::Backbone<'s>>,
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
        #[cfg(target_arch = "x86_64")]
        let backbone = match (kernels, whole_backbone(graph)) {
            (Kernels::Vnni(t), Some(shape)) => {
                let weights = |p: Prepared<'s>| kernels::vnni::RowWeights {
                    packed: p.packed,
                    start: p.init,
                    params: p.rq,
                };
                let (first, second) = (weights(prepared[0]), weights(prepared[1]));
                Some(kernels::vnni::Backbone::new(t, &shape, first, second))
            }
            _ => None,
        };
        Ok(Engine {
            model,
            backend,
            kernels,
            plan,
            prepared,
            work,
            have_embedding: false,
            #[cfg(target_arch = "x86_64")]
            backbone,
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
        // VNNI's whole-backbone kernel, where the shape allows (`whole_backbone`): one call,
        // layer 0's activations passed through `act_a`.
        #[cfg(target_arch = "x86_64")]
        if let Some(backbone) = &self.backbone {
            backbone.run(xin, w.act_a, w.emb);
            let n = backbone.outputs();
            self.have_embedding = true;
            return Ok(&self.work.emb[..n]);
        }
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
