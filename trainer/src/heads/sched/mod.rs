//! The scheduler head in training: its view of the dataset (each labelled decision as a batch
//! of candidate rows with its objective's labels, [`objective`]), its layers
//! (`[embedding | task features] → hidden ReLU → 1 raw score`), its loss, its fine-tuning on a
//! pretrained [`Backbone`], and its export as the kernel's `SchedHead` ([`TrainedHead`]).
//!
//! The decisions themselves are decoded and labelled by [`crate::dataset`] with the kernel's
//! own trace reader and feature code; this module turns them into tensors. Candidate columns
//! are standardised for training like the backbone's input, and the export folds that into
//! the first layer, so the exported head reads the kernel's raw int8 task features.
//!
//! # Quantization-aware fine-tuning
//! With it on, the forward pass rounds the embedding, the head's first weights and its hidden
//! activations to the int8 grids the quantizer will use (straight-through gradients), so the
//! head learns weights whose ranking survives int8: without it, a few large-weight features
//! (class, sleeps) set each row's scale and the fine ones (CPU used) lose their precision.

pub mod gittins;
pub mod objective;

use augur_kernel::learn::Head;
use augur_kernel::sched::head::SchedHead;
use augur_kernel::telemetry::{CANDIDATE_FEATURES, MODEL_INPUT_LEN};
use augur_weights::{Activation, FloatHead};
use candle_core::{D, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer};
use model_runtime::XorShift;

use super::TrainedHead;
use crate::backbone::{Backbone, Standardizer};
use crate::dataset::{CandidateRow, DecisionExample};
use crate::layers::{
    Dense, INT8_LEVELS, StageOptions, adam, fake_quant_activations, fold, shuffled,
};
pub use objective::{HeadLoss, NoFinishedTasks, Objective};

/// Added to the scores of padding (and, for the best-set term, non-best) candidates so that
/// they vanish from a softmax.
const MASK_PENALTY: f32 = 1.0e4;

/// The scheduler head's layers, input standardisation and objective (see the module docs).
pub struct SchedNet {
    /// Width of the embedding it reads.
    embedding: usize,
    /// Hidden width.
    hidden: usize,
    h1: Dense,
    h2: Dense,
    cand_norm: Standardizer,
    /// Whether the head sees int8 rounding while it is fine-tuned (see the module docs).
    fake_quant: bool,
    /// What it is trained to get right.
    pub objective: Objective,
}

/// A batch of decisions as tensors.
struct DecisionBatch {
    windows: Tensor,
    cands: Tensor,
    /// `[b, k]`: 1 for a real candidate, 0 for padding.
    mask: Tensor,
    /// `[b, k]`: 1 for the oracle's picks.
    best: Tensor,
    /// `[b, k, k]`: 1 where candidate `i` (row) should run before `j` (column)
    /// ([`Objective::runs_first`]); only built for the pairwise losses.
    first: Option<Tensor>,
}

/// `log Σ exp(x)` over the last axis, stable.
fn logsumexp(x: &Tensor) -> candle_core::Result<Tensor> {
    let m = x.max_keepdim(D::Minus1)?.detach();
    x.broadcast_sub(&m)?
        .exp()?
        .sum_keepdim(D::Minus1)?
        .log()?
        .add(&m)?
        .squeeze(D::Minus1)
}

/// `log(1 + exp(x))`, stable: `max(x, 0) + log(1 + exp(−|x|))`.
fn softplus(x: &Tensor) -> candle_core::Result<Tensor> {
    x.relu()?
        .add(&x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)
}

/// The head's first weight `w` (`[H, E + F]`, on standardised candidate columns) rounded as
/// the quantizer will round it (straight-through in the backward pass). The quantizer sees
/// the exported weights: embedding columns unchanged at input scale `emb_scale`, candidate
/// columns divided by their standard deviation at input scale 1, and one accumulator scale
/// per row, `max |w · input scale| / 127`.
fn fake_quant_head_weight(
    w: &Tensor,
    emb_scale: &Tensor,
    embedding: usize,
    cand_norm: &Standardizer,
) -> candle_core::Result<Tensor> {
    let inv_std: Vec<f32> = cand_norm.std.iter().map(|s| 1.0 / s).collect();
    let cand_cols = Tensor::from_vec(inv_std, (1, cand_norm.std.len()), &Device::Cpu)?;
    let emb_cols = emb_scale.reshape((1, 1))?.repeat((1, embedding))?;
    let col_scale = Tensor::cat(&[&emb_cols, &cand_cols], 1)?;
    let u = w.broadcast_mul(&col_scale)?;
    let acc = u
        .abs()?
        .max_keepdim(1)?
        .detach()
        .affine(1.0 / INT8_LEVELS, 1e-12)?;
    let wq = u
        .broadcast_div(&acc)?
        .round()?
        .broadcast_mul(&acc)?
        .broadcast_div(&col_scale)?;
    w.add(&wq.sub(w)?.detach())
}

impl SchedNet {
    /// A freshly initialised head on an embedding of width `embedding`, its layers drawn from
    /// `rng` after the backbone's; `candidates` set the candidate standardisation.
    pub fn new<'a>(
        embedding: usize,
        hidden: usize,
        rng: &mut XorShift,
        candidates: impl Iterator<Item = &'a CandidateRow>,
        objective: Objective,
    ) -> candle_core::Result<Self> {
        Ok(SchedNet {
            embedding,
            hidden,
            h1: Dense::new(rng, embedding + CANDIDATE_FEATURES, hidden)?,
            h2: Dense::new(rng, hidden, 1)?,
            cand_norm: Standardizer::fit(CANDIDATE_FEATURES, candidates.map(|r| &r[..])),
            fake_quant: false,
            objective,
        })
    }

    /// Scores `[B, K]` of candidates `[B, K, F]` against embeddings `[B, E]`.
    fn forward(&self, emb: &Tensor, cands: &Tensor) -> candle_core::Result<Tensor> {
        let (b, k, f) = cands.dims3()?;
        let e = self.embedding;
        let w = self.h1.w.as_tensor();
        let (emb, w) = if self.fake_quant {
            let emb = fake_quant_activations(emb)?;
            let emb_scale = emb.max_all()?.detach().affine(1.0 / INT8_LEVELS, 0.0)?;
            (
                emb,
                fake_quant_head_weight(w, &emb_scale, e, &self.cand_norm)?,
            )
        } else {
            (emb.clone(), w.clone())
        };
        let from_emb = emb.matmul(&w.narrow(1, 0, e)?.t()?)?;
        let from_cand = cands
            .reshape((b * k, f))?
            .matmul(&w.narrow(1, e, f)?.t()?)?
            .reshape((b, k, self.hidden))?;
        let hidden = from_cand
            .broadcast_add(&from_emb.unsqueeze(1)?)?
            .broadcast_add(self.h1.b.as_tensor())?
            .relu()?;
        let hidden = if self.fake_quant {
            fake_quant_activations(&hidden)?
        } else {
            hidden
        };
        let out = hidden
            .reshape((b * k, self.hidden))?
            .matmul(&self.h2.w.as_tensor().t()?)?
            .broadcast_add(self.h2.b.as_tensor())?;
        out.reshape((b, k))
    }

    /// The head's view of `examples`: standardised windows and candidates, padded to the
    /// batch's largest decision, with the objective's labels.
    fn batch(
        &self,
        backbone: &Backbone,
        examples: &[&DecisionExample],
    ) -> candle_core::Result<DecisionBatch> {
        let b = examples.len();
        let k = examples.iter().map(|e| e.rows.len()).max().unwrap_or(1);
        let mut windows = Vec::with_capacity(b * MODEL_INPUT_LEN);
        let mut cands = Vec::with_capacity(b * k * CANDIDATE_FEATURES);
        let mut mask = Vec::with_capacity(b * k);
        let mut best = Vec::with_capacity(b * k);
        let pairs = self.objective.loss().is_pairwise();
        let mut first = Vec::with_capacity(if pairs { b * k * k } else { 0 });
        let pad = [0i8; CANDIDATE_FEATURES];
        let flag = |b: bool| f32::from(u8::from(b));
        for e in examples {
            backbone.standardize(&e.window, &mut windows);
            let index = self.objective.indices(e);
            for i in 0..k {
                self.cand_norm
                    .apply(e.rows.get(i).unwrap_or(&pad), &mut cands);
                mask.push(flag(i < e.rows.len()));
                best.push(flag(e.best.get(i).copied().unwrap_or(false)));
                if pairs {
                    first.extend((0..k).map(|j| flag(self.objective.runs_first(e, &index, i, j))));
                }
            }
        }
        let dev = &Device::Cpu;
        Ok(DecisionBatch {
            windows: Tensor::from_vec(windows, (b, MODEL_INPUT_LEN), dev)?,
            cands: Tensor::from_vec(cands, (b, k, CANDIDATE_FEATURES), dev)?,
            mask: Tensor::from_vec(mask, (b, k), dev)?,
            best: Tensor::from_vec(best, (b, k), dev)?,
            first: if pairs {
                Some(Tensor::from_vec(first, (b, k, k), dev)?)
            } else {
                None
            },
        })
    }

    /// The objective's loss on `batch` (listwise: best-set cross-entropy; pairwise: mean
    /// softplus over ordered pairs).
    fn loss(&self, backbone: &Backbone, batch: &DecisionBatch) -> candle_core::Result<Tensor> {
        let emb = backbone.forward(&batch.windows)?;
        let scores = self.forward(&emb, &batch.cands)?;
        match &batch.first {
            None => {
                let pen = |m: &Tensor| (m - 1.0)?.affine(f64::from(MASK_PENALTY), 0.0);
                let all = scores.add(&pen(&batch.mask)?)?;
                let best = scores.add(&pen(&batch.best)?)?;
                logsumexp(&all)?.sub(&logsumexp(&best)?)?.mean_all()
            }
            Some(first) => {
                // diff[b, i, j] = s_j − s_i: positive when `j`, which should run after `i`,
                // outscores it.
                let diff = scores.unsqueeze(1)?.broadcast_sub(&scores.unsqueeze(2)?)?;
                let pairs = first.sum_all()?.affine(1.0, 1e-6)?;
                softplus(&diff)?.mul(first)?.sum_all()?.div(&pairs)
            }
        }
    }

    /// Fine-tunes the head on `examples` over `backbone`'s embedding; the backbone is frozen
    /// unless `backbone_lr` is positive. With `quantization_aware`, see the module docs.
    /// Returns the mean loss of the last epoch.
    pub fn finetune(
        &mut self,
        backbone: &Backbone,
        examples: &[&DecisionExample],
        opts: &StageOptions,
        backbone_lr: f64,
        quantization_aware: bool,
        progress: &mut dyn FnMut(&str),
    ) -> candle_core::Result<f64> {
        self.fake_quant = quantization_aware;
        let head: Vec<Var> = [&self.h1, &self.h2].iter().flat_map(|l| l.vars()).collect();
        let mut opt = AdamW::new(head, adam(opts.lr))?;
        let mut bb_opt = if backbone_lr > 0.0 {
            Some(AdamW::new(backbone.vars(), adam(backbone_lr))?)
        } else {
            None
        };
        let mut rng = XorShift::new(opts.seed);
        let mut last = f64::NAN;
        for epoch in 0..opts.epochs {
            let order = shuffled(examples.len(), &mut rng);
            let (mut sum, mut n) = (0.0, 0usize);
            for idx in order.chunks(opts.batch) {
                let chunk: Vec<&DecisionExample> = idx.iter().map(|&i| examples[i]).collect();
                let batch = self.batch(backbone, &chunk)?;
                let loss = self.loss(backbone, &batch)?;
                let grads = loss.backward()?;
                opt.step(&grads)?;
                if let Some(o) = bb_opt.as_mut() {
                    o.step(&grads)?;
                }
                sum += f64::from(loss.to_scalar::<f32>()?) * idx.len() as f64;
                n += idx.len();
            }
            last = sum / n.max(1) as f64;
            progress(&format!(
                "fine-tune epoch {}/{}: {} loss {last:.4}",
                epoch + 1,
                opts.epochs,
                self.objective.loss().name()
            ));
        }
        Ok(last)
    }

    /// Mean fine-tuning loss over `examples` (each batch's mean, weighted by its decisions).
    pub fn finetune_eval(
        &self,
        backbone: &Backbone,
        examples: &[&DecisionExample],
        batch: usize,
    ) -> candle_core::Result<f64> {
        let mut sum = 0.0;
        for chunk in examples.chunks(batch.max(1)) {
            let b = self.batch(backbone, chunk)?;
            sum += f64::from(self.loss(backbone, &b)?.to_scalar::<f32>()?) * chunk.len() as f64;
        }
        Ok(sum / examples.len().max(1) as f64)
    }

    /// The candle scores `[1, K]` of `example` (for the export test).
    #[cfg(test)]
    pub(crate) fn scores(
        &self,
        backbone: &Backbone,
        example: &DecisionExample,
    ) -> candle_core::Result<Vec<f32>> {
        let batch = self.batch(backbone, &[example])?;
        let emb = backbone.forward(&batch.windows)?;
        self.forward(&emb, &batch.cands)?.flatten_all()?.to_vec1()
    }
}

impl TrainedHead for SchedNet {
    fn name(&self) -> &'static str {
        <SchedHead as Head>::NAME
    }

    fn parameter_count(&self) -> usize {
        self.h1.parameter_count() + self.h2.parameter_count()
    }

    fn export(&self) -> candle_core::Result<FloatHead> {
        let mut h1 = self.h1.export(Activation::Relu)?;
        fold(&mut h1, self.embedding, &self.cand_norm);
        Ok(FloatHead {
            name: self.name().to_string(),
            candidate_features: CANDIDATE_FEATURES,
            features_version: <SchedHead as Head>::FEATURES_VERSION,
            layers: vec![h1, self.h2.export(Activation::None)?],
            raw_scores: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Softplus is exact where the naive form overflows or loses everything to rounding.
    #[test]
    fn softplus_is_stable() {
        let x = Tensor::new(&[-100f32, -1.0, 0.0, 1.0, 100.0], &Device::Cpu).unwrap();
        let got: Vec<f32> = softplus(&x).unwrap().to_vec1().unwrap();
        let want = [
            3.7e-44f32,
            0.313_261_7,
            core::f32::consts::LN_2,
            1.313_261_7,
            100.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-6 * (1.0 + w.abs()), "{g} vs {w}");
        }
    }

    /// `logsumexp` of rows by hand, including one whose naive `exp` overflows f32.
    #[test]
    fn logsumexp_is_stable() {
        let x = Tensor::new(&[[0f32, 0.0], [1000.0, 1000.0]], &Device::Cpu).unwrap();
        let got: Vec<f32> = logsumexp(&x).unwrap().to_vec1().unwrap();
        let ln2 = core::f32::consts::LN_2;
        assert!(
            (got[0] - ln2).abs() < 1e-6 && (got[1] - (1000.0 + ln2)).abs() < 1e-3,
            "{got:?}"
        );
    }
}
