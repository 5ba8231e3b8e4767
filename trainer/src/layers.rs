//! The pieces every part of the network is built from, whichever head it belongs to: a dense
//! layer in candle and its export, folding an input standardisation into a layer, int8
//! rounding for quantization-aware training, the seeded batch order and the optimiser
//! settings of a training stage.
//!
//! # Invariants
//! - Weights are initialised from the caller's seeded generator (He-uniform, as
//!   `augur_weights` does), in the order the layers are created: the backbone's layers first,
//!   then each head's, so a run is a function of its data and seed.
//! - `fold` is exact: a folded layer on raw inputs computes what the unfolded one computes
//!   on standardised inputs (up to f32 rounding).

use augur_weights::float::uniform;
use augur_weights::{Activation, FloatLayer};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::ParamsAdamW;
use model_runtime::XorShift;

use crate::backbone::Standardizer;

/// Levels of a symmetric int8 tensor on each side of zero (the quantizer's `max|x| / 127`).
pub(crate) const INT8_LEVELS: f64 = 127.0;

/// A dense layer's parameters.
pub(crate) struct Dense {
    pub(crate) w: Var,
    pub(crate) b: Var,
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
}

impl Dense {
    /// He-uniform weights drawn from `rng`, zero bias.
    pub(crate) fn new(
        rng: &mut XorShift,
        inputs: usize,
        outputs: usize,
    ) -> candle_core::Result<Self> {
        let a = (6.0 / inputs as f32).sqrt();
        let w: Vec<f32> = (0..inputs * outputs).map(|_| uniform(rng) * a).collect();
        Ok(Dense {
            w: Var::from_tensor(&Tensor::from_vec(w, (outputs, inputs), &Device::Cpu)?)?,
            b: Var::zeros(outputs, DType::F32, &Device::Cpu)?,
            inputs,
            outputs,
        })
    }

    /// `x · Wᵀ + b`.
    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.w.as_tensor().t()?)?
            .broadcast_add(self.b.as_tensor())
    }

    /// The trainable variables.
    pub(crate) fn vars(&self) -> [Var; 2] {
        [self.w.clone(), self.b.clone()]
    }

    /// Weights and bias.
    pub(crate) fn parameter_count(&self) -> usize {
        self.inputs * self.outputs + self.outputs
    }

    /// The layer as the weight file's float form.
    pub(crate) fn export(&self, activation: Activation) -> candle_core::Result<FloatLayer> {
        Ok(FloatLayer {
            inputs: self.inputs,
            outputs: self.outputs,
            weight: self.w.as_tensor().flatten_all()?.to_vec1()?,
            bias: self.b.as_tensor().to_vec1()?,
            activation,
        })
    }
}

/// Folds `(x − μ)/σ` on input columns `from..` into `layer` (`W' = W / σ`, `b' = b − Σ W'·μ`).
pub(crate) fn fold(layer: &mut FloatLayer, from: usize, norm: &Standardizer) {
    let inputs = layer.inputs;
    for (row, b) in layer.weight.chunks_exact_mut(inputs).zip(&mut layer.bias) {
        for (w, (m, s)) in row[from..].iter_mut().zip(norm.mean.iter().zip(&norm.std)) {
            *w /= s;
            *b -= *w * m;
        }
    }
}

/// `x` rounded to the int8 grid of scale `max|x| / 127` in the forward pass, unchanged in the
/// backward pass (straight-through estimator).
pub(crate) fn fake_quant_activations(x: &Tensor) -> candle_core::Result<Tensor> {
    let scale = x
        .abs()?
        .max_all()?
        .detach()
        .affine(1.0 / INT8_LEVELS, 1e-12)?;
    let q = x.broadcast_div(&scale)?.round()?.broadcast_mul(&scale)?;
    x.add(&q.sub(x)?.detach())
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

/// AdamW at learning rate `lr`, without weight decay.
pub(crate) fn adam(lr: f64) -> ParamsAdamW {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Fisher–Yates gives a permutation, and the same one for the same seed.
    #[test]
    fn shuffled_is_a_seeded_permutation() {
        let a = shuffled(100, &mut XorShift::new(5));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, shuffled(100, &mut XorShift::new(5)));
        assert_ne!(a, sorted, "100 elements do not shuffle to the identity");
    }

    /// The fake-quantized values lie on the int8 grid of `max|x| / 127` and are within half a
    /// step of the originals.
    #[test]
    fn fake_quant_rounds_to_the_int8_grid() {
        let xs = [-2.54f32, -1.0, 0.013, 0.5, 1.27];
        let x = Tensor::new(&xs, &Device::Cpu).unwrap();
        let got: Vec<f32> = fake_quant_activations(&x).unwrap().to_vec1().unwrap();
        let step = 2.54 / 127.0;
        for (g, w) in got.iter().zip(xs) {
            let levels = g / step;
            assert!((levels - levels.round()).abs() < 1e-3, "{g} off the grid");
            assert!((g - w).abs() <= step / 2.0 + 1e-6, "{g} vs {w}");
        }
    }
}
