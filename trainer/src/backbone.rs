//! The backbone, independent of any head: two dense ReLU layers from a telemetry window to the
//! system-state embedding every head reads, the input standardisation, and its
//! self-supervised pretraining (predict the next tick's telemetry).
//!
//! Inputs are the kernel's int8 model inputs as f32. Training standardises every input column
//! (mean and standard deviation from the training set) for conditioning; [`Backbone::export`]
//! folds that affine map into the first layer (`W' = W / σ`, `b' = b − Σ W·μ/σ`), so the
//! exported backbone reads the raw int8 values, as the kernel feeds them.
//!
//! Pretraining: `decoder(backbone(window_t))` regresses the standardised int8 telemetry of tick
//! `t + 1` (MSE). The decoder exists only for this stage and is not exported. Heads are
//! fine-tuned on the embedding afterwards (`crate::heads`); the backbone knows nothing of them.

use augur_kernel::telemetry::{MODEL_INPUT_LEN, TELEMETRY_FIELDS, WINDOW_TICKS};
use augur_weights::{Activation, FloatLayer};
use candle_core::{Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer};
use model_runtime::XorShift;

use crate::dataset::{TickRow, Window};
use crate::layers::{Dense, StageOptions, adam, fold, shuffled};

/// Smallest standard deviation a column is divided by (a constant column stays as it is).
const MIN_STD: f32 = 1.0;

/// Per-column mean and standard deviation used while training.
#[derive(Clone, Debug)]
pub struct Standardizer {
    pub(crate) mean: Vec<f32>,
    pub(crate) std: Vec<f32>,
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

    /// Appends the standardised `row` to `out`.
    pub(crate) fn apply(&self, row: &[i8], out: &mut Vec<f32>) {
        out.extend(
            row.iter()
                .zip(self.mean.iter().zip(&self.std))
                .map(|(&v, (m, s))| (f32::from(v) - m) / s),
        );
    }
}

/// Backbone layer widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackboneShape {
    /// Hidden width.
    pub hidden: usize,
    /// Embedding width (what every head reads).
    pub embedding: usize,
}

/// The backbone and its pretraining decoder (see the module docs).
pub struct Backbone {
    shape: BackboneShape,
    l1: Dense,
    l2: Dense,
    decoder: Dense,
    window_norm: Standardizer,
}

impl Backbone {
    /// A freshly initialised backbone, its layers drawn from `rng` (first layer, second,
    /// decoder); `ticks` set the input standardisation.
    pub fn new<'a>(
        shape: BackboneShape,
        rng: &mut XorShift,
        ticks: impl Iterator<Item = &'a TickRow>,
    ) -> candle_core::Result<Self> {
        let tick_norm = Standardizer::fit(TELEMETRY_FIELDS, ticks.map(|r| &r[..]));
        Ok(Backbone {
            shape,
            l1: Dense::new(rng, MODEL_INPUT_LEN, shape.hidden)?,
            l2: Dense::new(rng, shape.hidden, shape.embedding)?,
            decoder: Dense::new(rng, shape.embedding, TELEMETRY_FIELDS)?,
            window_norm: Standardizer::window_from_ticks(&tick_norm),
        })
    }

    /// The layer widths.
    pub fn shape(&self) -> BackboneShape {
        self.shape
    }

    /// Parameters of the exported backbone (the decoder is not exported).
    pub fn parameter_count(&self) -> usize {
        self.l1.parameter_count() + self.l2.parameter_count()
    }

    /// Appends the standardised int8 `window` to `out`, as [`Backbone::forward`] reads it.
    pub(crate) fn standardize(&self, window: &[i8], out: &mut Vec<f32>) {
        self.window_norm.apply(window, out);
    }

    /// Embeddings `[B, E]` of standardised windows `[B, MODEL_INPUT_LEN]`.
    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.l2.forward(&self.l1.forward(x)?.relu()?)?.relu()
    }

    /// The exported layers' variables, for a head that fine-tunes the backbone too.
    pub(crate) fn vars(&self) -> Vec<Var> {
        [&self.l1, &self.l2].iter().flat_map(|l| l.vars()).collect()
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
        let pred = self.decoder.forward(&self.forward(&x)?)?;
        pred.sub(&y)?.sqr()?.mean_all()
    }

    /// Self-supervised pretraining. Returns the mean loss of the last epoch.
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

    /// The exported layers with the standardisation folded in, reading raw int8 windows.
    pub fn export(&self) -> candle_core::Result<Vec<FloatLayer>> {
        let mut l1 = self.l1.export(Activation::Relu)?;
        fold(&mut l1, 0, &self.window_norm);
        Ok(vec![l1, self.l2.export(Activation::Relu)?])
    }
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

    /// Mean and standard deviation by hand: column 0 is 1, 3 (mean 2, σ 1), column 1 is
    /// constant (σ 0, clamped to [`MIN_STD`]); the window standardiser repeats them per tick.
    #[test]
    fn standardizer_statistics_by_hand() {
        let rows: [&[i8]; 2] = [&[1, 5], &[3, 5]];
        let s = Standardizer::fit(2, rows.into_iter());
        assert_eq!(
            (s.mean.clone(), s.std.clone()),
            (vec![2.0, 5.0], vec![1.0, MIN_STD])
        );
        let mut out = Vec::new();
        s.apply(&[4, 7], &mut out);
        assert_eq!(out, [2.0, 2.0]);
        let w = Standardizer::window_from_ticks(&s);
        assert_eq!(w.mean.len(), 2 * WINDOW_TICKS);
        assert_eq!(&w.std[2..4], &[1.0, MIN_STD]);
    }

    /// The exported backbone on raw int8 windows computes the candle backbone's embedding on
    /// standardised ones.
    #[test]
    fn export_folds_the_window_standardisation() {
        let mut rng = XorShift::new(11);
        let mut int8 =
            |n: usize, hi: i64| -> Vec<i8> { (0..n).map(|_| rng.range(0, hi) as i8).collect() };
        let ticks: Vec<TickRow> = (0..40)
            .map(|_| int8(TELEMETRY_FIELDS, 90).try_into().unwrap())
            .collect();
        let window = int8(MODEL_INPUT_LEN, 60);
        let shape = BackboneShape {
            hidden: 8,
            embedding: 4,
        };
        let bb = Backbone::new(shape, &mut XorShift::new(2), ticks.iter()).unwrap();
        let mut x = Vec::new();
        bb.standardize(&window, &mut x);
        let x = Tensor::from_vec(x, (1, MODEL_INPUT_LEN), &Device::Cpu).unwrap();
        let want: Vec<f32> = bb
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let layers = bb.export().unwrap();
        let mut got: Vec<f32> = window.iter().map(|&v| f32::from(v)).collect();
        for l in &layers {
            got = (0..l.outputs)
                .map(|o| {
                    let row = &l.weight[o * l.inputs..][..l.inputs];
                    let acc: f32 =
                        row.iter().zip(&got).map(|(w, x)| w * x).sum::<f32>() + l.bias[o];
                    acc.max(0.0)
                })
                .collect();
        }
        assert_eq!(got.len(), 4);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "{g} vs {w}");
        }
        assert!(want.iter().any(|&w| w > 0.0), "some unit is active");
    }
}
