//! The network in candle: backbone, temporary next-tick decoder, scheduler head; its two
//! training stages; and the export to an [`augur_weights::FloatModel`].
//!
//! Inputs are the kernel's int8 model inputs as f32. Training standardises every input column
//! (mean and standard deviation from the training set) for conditioning, and the export folds
//! that affine map into the first layers (`W' = W / σ`, `b' = b − Σ W·μ/σ`), so the exported
//! model reads the raw int8 values, as the kernel feeds them.
//!
//! - Stage 1 (self-supervised): `decoder(backbone(window_t))` regresses the standardised int8
//!   telemetry of tick `t + 1` (MSE).
//! - Stage 2 (hindsight): the head scores every candidate of a decision, with one of two
//!   losses ([`HeadLoss`]). The backbone is frozen unless a backbone learning rate is given.
//!
//! Weights are initialised from a seeded generator (He-uniform, as `augur_weights` does), and
//! batches are drawn in a seeded order, so a run is a function of its data and seed.

use augur_kernel::telemetry::{
    CANDIDATE_FEATURES, MODEL_INPUT_LEN, SCHEMA_VERSION, TELEMETRY_FIELDS, WINDOW_TICKS,
};
use augur_weights::float::uniform;
use augur_weights::{Activation, FloatHead, FloatLayer, FloatModel};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use model_runtime::{InputSection, XorShift};

use crate::dataset::{CandidateRow, DecisionExample, TickRow, Window};
use crate::gittins::IndexTables;

/// Added to the scores of padding (and, for the best-set term, non-best) candidates so that
/// they vanish from a softmax.
const MASK_PENALTY: f32 = 1.0e4;
/// Smallest standard deviation a column is divided by (a constant column stays as it is).
const MIN_STD: f32 = 1.0;

/// What the scheduler head is fine-tuned to get right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeadLoss {
    /// Which candidate is the oracle's pick: the softmax cross-entropy of the oracle's best
    /// set, `logsumexp(all scores) − logsumexp(scores of the best set)` (with one best
    /// candidate plain softmax cross-entropy; with ties any best pick is right).
    Listwise,
    /// The order of remaining work (RankNet): for every pair where the trace shows candidate
    /// `i` had less work left than `j`, `softplus(s_j − s_i)`, averaged over the batch's pairs.
    /// Why pairs: giving a tick to `j` instead of the shortest task delays, under
    /// shortest-remaining-work from then on, each task with less work left than `j` by that
    /// tick (the interchange argument), so a pick costs as many ticks of turnaround as there
    /// are shorter candidates, which the listwise loss does not weigh.
    Pairwise,
    /// The order of the candidates' Gittins indices ([`crate::gittins`]), with the pairwise
    /// loss: the best policy that does not know sizes, instead of imitating one that does.
    #[default]
    Gittins,
}

impl HeadLoss {
    /// Every loss with its command-line name.
    pub const ALL: [(HeadLoss, &'static str); 3] = [
        (HeadLoss::Listwise, "listwise"),
        (HeadLoss::Pairwise, "pairwise"),
        (HeadLoss::Gittins, "gittins"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(l, _)| *l == self)
            .map_or("?", |(_, n)| n)
    }

    /// The loss called `name`.
    pub fn from_name(name: &str) -> Option<HeadLoss> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(l, _)| *l)
    }
}

/// Layer widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Backbone hidden width.
    pub hidden: usize,
    /// Embedding width.
    pub embedding: usize,
    /// Scheduler head hidden width.
    pub head_hidden: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            hidden: 32,
            embedding: 16,
            head_hidden: 16,
        }
    }
}

/// Per-column mean and standard deviation used while training.
#[derive(Clone, Debug)]
pub struct Standardizer {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Standardizer {
    /// Statistics of `rows` (each of `width` values).
    pub fn fit<'r>(width: usize, rows: impl Iterator<Item = &'r [i8]>) -> Self {
        let mut n = 0f64;
        let mut sum = vec![0f64; width];
        let mut sq = vec![0f64; width];
        for r in rows {
            n += 1.0;
            for (i, &v) in r.iter().enumerate() {
                sum[i] += f64::from(v);
                sq[i] += f64::from(v) * f64::from(v);
            }
        }
        let n = n.max(1.0);
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| ((q / n - f64::from(*m).powi(2)).max(0.0).sqrt() as f32).max(MIN_STD))
            .collect();
        Standardizer { mean, std }
    }

    /// A telemetry-window standardiser from per-tick statistics (the same for every tick of
    /// the window, so a tick's meaning does not depend on its position's history).
    pub fn window_from_ticks(tick: &Standardizer) -> Self {
        Standardizer {
            mean: tick.mean.repeat(WINDOW_TICKS),
            std: tick.std.repeat(WINDOW_TICKS),
        }
    }

    fn apply(&self, row: &[i8], out: &mut Vec<f32>) {
        out.extend(
            row.iter()
                .zip(self.mean.iter().zip(&self.std))
                .map(|(&v, (m, s))| (f32::from(v) - m) / s),
        );
    }
}

/// A dense layer's parameters.
struct Dense {
    w: Var,
    b: Var,
    inputs: usize,
    outputs: usize,
}

impl Dense {
    fn new(rng: &mut XorShift, inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        let a = (6.0 / inputs as f32).sqrt();
        let w: Vec<f32> = (0..inputs * outputs).map(|_| uniform(rng) * a).collect();
        Ok(Dense {
            w: Var::from_tensor(&Tensor::from_vec(w, (outputs, inputs), &Device::Cpu)?)?,
            b: Var::zeros(outputs, DType::F32, &Device::Cpu)?,
            inputs,
            outputs,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.w.as_tensor().t()?)?
            .broadcast_add(self.b.as_tensor())
    }

    fn vars(&self) -> [Var; 2] {
        [self.w.clone(), self.b.clone()]
    }

    fn export(&self, activation: Activation) -> candle_core::Result<FloatLayer> {
        Ok(FloatLayer {
            inputs: self.inputs,
            outputs: self.outputs,
            weight: self.w.as_tensor().flatten_all()?.to_vec1()?,
            bias: self.b.as_tensor().to_vec1()?,
            activation,
        })
    }
}

/// The whole network.
pub struct Net {
    shape: Shape,
    l1: Dense,
    l2: Dense,
    decoder: Dense,
    h1: Dense,
    h2: Dense,
    window_norm: Standardizer,
    cand_norm: Standardizer,
    /// Whether the head sees int8 rounding while it is fine-tuned (see [`Net::finetune`]).
    fake_quant: bool,
    /// The fine-tuning loss.
    pub head_loss: HeadLoss,
    /// The index tables the [`HeadLoss::Gittins`] loss orders candidates by.
    pub gittins: Option<IndexTables>,
}

/// A batch of decisions as tensors.
struct DecisionBatch {
    windows: Tensor,
    cands: Tensor,
    /// `[b, k]`: 1 for a real candidate, 0 for padding.
    mask: Tensor,
    /// `[b, k]`: 1 for the oracle's picks.
    best: Tensor,
    /// `[b, k, k]`: 1 where candidate `i` (row) should run before `j` (column): it surely had
    /// less work left (pairwise), or its Gittins index is higher; only built for those losses.
    first: Option<Tensor>,
}

fn decision_batch(net: &Net, examples: &[&DecisionExample]) -> candle_core::Result<DecisionBatch> {
    let b = examples.len();
    let k = examples.iter().map(|e| e.rows.len()).max().unwrap_or(1);
    let mut windows = Vec::with_capacity(b * MODEL_INPUT_LEN);
    let mut cands = Vec::with_capacity(b * k * CANDIDATE_FEATURES);
    let mut mask = Vec::with_capacity(b * k);
    let mut best = Vec::with_capacity(b * k);
    let pairs = net.head_loss != HeadLoss::Listwise;
    let mut first = Vec::with_capacity(if pairs { b * k * k } else { 0 });
    let pad = [0i8; CANDIDATE_FEATURES];
    let flag = |b: bool| f32::from(u8::from(b));
    for e in examples {
        net.window_norm.apply(&e.window, &mut windows);
        let index: Vec<f64> = match (&net.gittins, net.head_loss) {
            (Some(t), HeadLoss::Gittins) => e.features.iter().map(|f| t.index(f)).collect(),
            _ => Vec::new(),
        };
        let runs_first = |i: usize, j: usize| match net.head_loss {
            HeadLoss::Listwise => false,
            HeadLoss::Pairwise => e.shorter(i, j),
            HeadLoss::Gittins => {
                matches!((index.get(i), index.get(j)), (Some(a), Some(b)) if a > b)
            }
        };
        for i in 0..k {
            net.cand_norm
                .apply(e.rows.get(i).unwrap_or(&pad), &mut cands);
            mask.push(flag(i < e.rows.len()));
            best.push(flag(e.best.get(i).copied().unwrap_or(false)));
            if pairs {
                first.extend((0..k).map(|j| flag(runs_first(i, j))));
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

/// Levels of a symmetric int8 tensor on each side of zero (the quantizer's `max|x| / 127`).
const INT8_LEVELS: f64 = 127.0;

/// `x` rounded to the int8 grid of scale `max|x| / 127` in the forward pass, unchanged in the
/// backward pass (straight-through estimator).
fn fake_quant_activations(x: &Tensor) -> candle_core::Result<Tensor> {
    let scale = x
        .abs()?
        .max_all()?
        .detach()
        .affine(1.0 / INT8_LEVELS, 1e-12)?;
    let q = x.broadcast_div(&scale)?.round()?.broadcast_mul(&scale)?;
    x.add(&q.sub(x)?.detach())
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

/// Indices `0..n` in a seeded random order (Fisher–Yates).
pub fn shuffled(n: usize, rng: &mut XorShift) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

impl Net {
    /// A freshly initialised network; `ticks` and `candidates` set the input standardisation.
    pub fn new<'a>(
        shape: Shape,
        seed: u64,
        ticks: impl Iterator<Item = &'a TickRow>,
        candidates: impl Iterator<Item = &'a CandidateRow>,
    ) -> candle_core::Result<Self> {
        let mut rng = XorShift::new(seed);
        let tick_norm = Standardizer::fit(TELEMETRY_FIELDS, ticks.map(|r| &r[..]));
        Ok(Net {
            shape,
            l1: Dense::new(&mut rng, MODEL_INPUT_LEN, shape.hidden)?,
            l2: Dense::new(&mut rng, shape.hidden, shape.embedding)?,
            decoder: Dense::new(&mut rng, shape.embedding, TELEMETRY_FIELDS)?,
            h1: Dense::new(
                &mut rng,
                shape.embedding + CANDIDATE_FEATURES,
                shape.head_hidden,
            )?,
            h2: Dense::new(&mut rng, shape.head_hidden, 1)?,
            window_norm: Standardizer::window_from_ticks(&tick_norm),
            cand_norm: Standardizer::fit(CANDIDATE_FEATURES, candidates.map(|r| &r[..])),
            fake_quant: false,
            head_loss: HeadLoss::default(),
            gittins: None,
        })
    }

    /// Trainable parameters of the final model.
    pub fn parameter_count(&self) -> usize {
        [&self.l1, &self.l2, &self.h1, &self.h2]
            .iter()
            .map(|l| l.inputs * l.outputs + l.outputs)
            .sum()
    }

    fn backbone(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.l2.forward(&self.l1.forward(x)?.relu()?)?.relu()
    }

    /// Scores `[B, K]` of candidates `[B, K, F]` against embeddings `[B, E]`.
    fn head(&self, emb: &Tensor, cands: &Tensor) -> candle_core::Result<Tensor> {
        let (b, k, f) = cands.dims3()?;
        let e = self.shape.embedding;
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
            .reshape((b, k, self.shape.head_hidden))?;
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
            .reshape((b * k, self.shape.head_hidden))?
            .matmul(&self.h2.w.as_tensor().t()?)?
            .broadcast_add(self.h2.b.as_tensor())?;
        out.reshape((b, k))
    }

    fn pretrain_batch(
        &self,
        data: &PretrainSet,
        idx: &[usize],
        target_norm: &Standardizer,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let mut x = Vec::with_capacity(idx.len() * MODEL_INPUT_LEN);
        let mut y = Vec::with_capacity(idx.len() * TELEMETRY_FIELDS);
        for &i in idx {
            let (w, t) = &data.pairs[i];
            self.window_norm.apply(w, &mut x);
            target_norm.apply(t, &mut y);
        }
        let dev = &Device::Cpu;
        Ok((
            Tensor::from_vec(x, (idx.len(), MODEL_INPUT_LEN), dev)?,
            Tensor::from_vec(y, (idx.len(), TELEMETRY_FIELDS), dev)?,
        ))
    }

    fn pretrain_loss(
        &self,
        data: &PretrainSet,
        idx: &[usize],
        target_norm: &Standardizer,
    ) -> candle_core::Result<Tensor> {
        let (x, y) = self.pretrain_batch(data, idx, target_norm)?;
        let pred = self.decoder.forward(&self.backbone(&x)?)?;
        pred.sub(&y)?.sqr()?.mean_all()
    }

    /// Stage 1. Returns the mean loss of the last epoch.
    pub fn pretrain(
        &mut self,
        data: &PretrainSet,
        opts: &StageOptions,
        progress: &mut dyn FnMut(&str),
    ) -> candle_core::Result<f64> {
        let vars: Vec<Var> = [&self.l1, &self.l2, &self.decoder]
            .iter()
            .flat_map(|l| l.vars())
            .collect();
        let mut opt = AdamW::new(vars, adam(opts.lr))?;
        let mut rng = XorShift::new(opts.seed);
        let mut last = f64::NAN;
        for epoch in 0..opts.epochs {
            let order = shuffled(data.pairs.len(), &mut rng);
            let (mut sum, mut n) = (0.0, 0usize);
            for idx in order.chunks(opts.batch) {
                let loss = self.pretrain_loss(data, idx, &data.target_norm)?;
                opt.backward_step(&loss)?;
                sum += f64::from(loss.to_scalar::<f32>()?) * idx.len() as f64;
                n += idx.len();
            }
            last = sum / n.max(1) as f64;
            progress(&format!(
                "pretrain epoch {}/{}: next-tick MSE {last:.4} (standardised units)",
                epoch + 1,
                opts.epochs
            ));
        }
        Ok(last)
    }

    /// Mean next-tick MSE (standardised units) over `data`.
    pub fn pretrain_eval(&self, data: &PretrainSet, batch: usize) -> candle_core::Result<f64> {
        let idx: Vec<usize> = (0..data.pairs.len()).collect();
        let mut sum = 0.0;
        for chunk in idx.chunks(batch.max(1)) {
            let loss = self.pretrain_loss(data, chunk, &data.target_norm)?;
            sum += f64::from(loss.to_scalar::<f32>()?) * chunk.len() as f64;
        }
        Ok(sum / idx.len().max(1) as f64)
    }

    fn decision_loss(&self, batch: &DecisionBatch) -> candle_core::Result<Tensor> {
        let emb = self.backbone(&batch.windows)?;
        let scores = self.head(&emb, &batch.cands)?;
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

    /// Stage 2. Returns the mean loss of the last epoch. With `quantization_aware`, the
    /// forward pass rounds the embedding, the head's first weights and its hidden activations
    /// to the int8 grids the quantizer will use (straight-through gradients), so the head
    /// learns weights whose ranking survives int8: without it, a few large-weight features
    /// (class, sleeps) set each row's scale and the fine ones (CPU used) lose their precision.
    pub fn finetune(
        &mut self,
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
            let bb: Vec<Var> = [&self.l1, &self.l2].iter().flat_map(|l| l.vars()).collect();
            Some(AdamW::new(bb, adam(backbone_lr))?)
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
                let batch = decision_batch(self, &chunk)?;
                let loss = self.decision_loss(&batch)?;
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
                self.head_loss.name()
            ));
        }
        Ok(last)
    }

    /// Mean fine-tuning loss over `examples` (each batch's mean, weighted by its decisions).
    pub fn finetune_eval(
        &self,
        examples: &[&DecisionExample],
        batch: usize,
    ) -> candle_core::Result<f64> {
        let mut sum = 0.0;
        for chunk in examples.chunks(batch.max(1)) {
            let b = decision_batch(self, chunk)?;
            sum += f64::from(self.decision_loss(&b)?.to_scalar::<f32>()?) * chunk.len() as f64;
        }
        Ok(sum / examples.len().max(1) as f64)
    }

    /// The trained model with the standardisation folded in, reading raw int8 inputs.
    pub fn export(&self, name: &str) -> candle_core::Result<FloatModel> {
        let mut l1 = self.l1.export(Activation::Relu)?;
        fold(&mut l1, 0, &self.window_norm);
        let mut h1 = self.h1.export(Activation::Relu)?;
        fold(&mut h1, self.shape.embedding, &self.cand_norm);
        Ok(FloatModel {
            name: name.to_string(),
            // One telemetry section (the scheduler's) and the `sched` head, both at the
            // kernel's telemetry schema version.
            sections: vec![InputSection::new(
                "sched",
                u32::from(SCHEMA_VERSION),
                TELEMETRY_FIELDS,
            )],
            input_window: WINDOW_TICKS,
            input_features: TELEMETRY_FIELDS,
            backbone: vec![l1, self.l2.export(Activation::Relu)?],
            heads: vec![FloatHead {
                name: "sched".to_string(),
                candidate_features: CANDIDATE_FEATURES,
                features_version: u32::from(SCHEMA_VERSION),
                layers: vec![h1, self.h2.export(Activation::None)?],
                raw_scores: true,
            }],
        })
    }
}

/// Folds `(x − μ)/σ` on input columns `from..` into `layer`.
fn fold(layer: &mut FloatLayer, from: usize, norm: &Standardizer) {
    let inputs = layer.inputs;
    for (row, b) in layer.weight.chunks_exact_mut(inputs).zip(&mut layer.bias) {
        for (w, (m, s)) in row[from..].iter_mut().zip(norm.mean.iter().zip(&norm.std)) {
            *w /= s;
            *b -= *w * m;
        }
    }
}

fn adam(lr: f64) -> ParamsAdamW {
    ParamsAdamW {
        lr,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    }
}

/// One stage's optimisation settings.
#[derive(Clone, Copy, Debug)]
pub struct StageOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Examples per step.
    pub batch: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Seed of the batch order.
    pub seed: u64,
}

/// Pretraining pairs (window, next tick's row) and the target standardisation.
pub struct PretrainSet {
    /// The pairs.
    pub pairs: Vec<(Window, TickRow)>,
    /// Standardisation of the targets (from the training set).
    pub target_norm: Standardizer,
}

impl PretrainSet {
    /// Pairs with the targets standardised by `target_norm` (fit on training ticks).
    pub fn new(pairs: Vec<(Window, TickRow)>, target_norm: Standardizer) -> Self {
        PretrainSet { pairs, target_norm }
    }

    /// MSE (standardised units) of predicting that the next tick repeats the current one: a
    /// baseline the backbone should beat.
    pub fn persistence_mse(&self) -> f64 {
        let mut sum = 0.0;
        let last = (WINDOW_TICKS - 1) * TELEMETRY_FIELDS;
        for (w, t) in &self.pairs {
            for (i, (&now, &next)) in w[last..].iter().zip(t.iter()).enumerate() {
                let d = (f32::from(next) - f32::from(now)) / self.target_norm.std[i];
                sum += f64::from(d * d);
            }
        }
        sum / (self.pairs.len() * TELEMETRY_FIELDS).max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The export folds the standardisation into the first layers: the exported float model
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

    /// on raw int8 inputs must score exactly what the candle network scores on standardised
    /// ones.
    #[test]
    fn export_folds_the_standardisation() {
        let mut rng = XorShift::new(7);
        let mut int8 =
            |n: usize, hi: i64| -> Vec<i8> { (0..n).map(|_| rng.range(0, hi) as i8).collect() };
        let ticks: Vec<TickRow> = (0..50)
            .map(|_| int8(TELEMETRY_FIELDS, 90).try_into().unwrap())
            .collect();
        let cands: Vec<CandidateRow> = (0..50)
            .map(|_| int8(CANDIDATE_FEATURES, 127).try_into().unwrap())
            .collect();
        let net = Net::new(Shape::default(), 3, ticks.iter(), cands.iter()).unwrap();
        let ex = DecisionExample {
            window: int8(MODEL_INPUT_LEN, 60).try_into().unwrap(),
            rows: cands[..5].to_vec(),
            best: vec![true, false, false, false, false],
            remaining: [1, 5, 9, 9, 40]
                .map(crate::dataset::Remaining::Known)
                .to_vec(),
            features: vec![augur_kernel::telemetry::TaskFeatures::default(); 5],
            chosen: None,
        };
        let batch = decision_batch(&net, &[&ex]).unwrap();
        let emb = net.backbone(&batch.windows).unwrap();
        let want: Vec<f32> = net
            .head(&emb, &batch.cands)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let float = net.export("t").unwrap();
        float.validate().unwrap();
        let x: Vec<f32> = ex.window.iter().map(|&v| f32::from(v)).collect();
        let e = float.backbone_forward(&x, |_, _| {});
        for (r, w) in ex.rows.iter().zip(&want) {
            let f: Vec<f32> = r.iter().map(|&v| f32::from(v)).collect();
            let got = float.head_forward(0, &e, &f, |_, _| {})[0];
            assert!((got - w).abs() <= 1e-4 * (1.0 + w.abs()), "{got} vs {w}");
        }
        assert_ne!(want[0], want[1], "the scores depend on the candidate");
    }
}
