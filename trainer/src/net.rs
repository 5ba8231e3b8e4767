//! The whole network: the [`Backbone`] and the heads trained on its embedding
//! ([`crate::heads`]), and the export of everything trained to an [`augur_weights::FloatModel`].
//!
//! Training runs in two stages: the backbone is pretrained alone (next tick's telemetry,
//! [`Backbone::pretrain`]), then each head is fine-tuned on the embedding (the scheduler's:
//! [`SchedNet::finetune`]). The export writes the backbone and every trained head
//! ([`Net::heads`]), each under its kernel head's name.
//!
//! Weights are initialised from one seeded generator, the backbone's layers first and then each
//! head's in [`Net::heads`] order, and batches are drawn in a seeded order, so a run is a
//! function of its data and seed.

use augur_kernel::telemetry::{SECTIONS, TELEMETRY_FIELDS, WINDOW_TICKS};
use augur_weights::FloatModel;
use model_runtime::{InputSection, XorShift};

use crate::backbone::{Backbone, BackboneShape};
use crate::dataset::{CandidateRow, TickRow};
use crate::heads::TrainedHead;
use crate::heads::sched::{Objective, SchedNet};

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

impl Shape {
    /// The backbone's part.
    pub fn backbone(&self) -> BackboneShape {
        BackboneShape {
            hidden: self.hidden,
            embedding: self.embedding,
        }
    }
}

/// The backbone and its heads.
pub struct Net {
    /// The backbone.
    pub backbone: Backbone,
    /// The scheduler head.
    pub sched: SchedNet,
}

impl Net {
    /// A freshly initialised network; `ticks` and `candidates` set the input standardisation,
    /// `objective` is what the scheduler head will be trained for.
    pub fn new<'a>(
        shape: Shape,
        seed: u64,
        ticks: impl Iterator<Item = &'a TickRow>,
        candidates: impl Iterator<Item = &'a CandidateRow>,
        objective: Objective,
    ) -> candle_core::Result<Self> {
        let mut rng = XorShift::new(seed);
        let backbone = Backbone::new(shape.backbone(), &mut rng, ticks)?;
        let sched = SchedNet::new(
            shape.embedding,
            shape.head_hidden,
            &mut rng,
            candidates,
            objective,
        )?;
        Ok(Net { backbone, sched })
    }

    /// Every trained head, in the order the export writes them.
    pub fn heads(&self) -> [&dyn TrainedHead; 1] {
        [&self.sched]
    }

    /// Trainable parameters of the final model.
    pub fn parameter_count(&self) -> usize {
        self.backbone.parameter_count()
            + self
                .heads()
                .iter()
                .map(|h| h.parameter_count())
                .sum::<usize>()
    }

    /// The trained model with the standardisation folded in, reading raw int8 inputs.
    pub fn export(&self, name: &str) -> candle_core::Result<FloatModel> {
        let heads = self
            .heads()
            .iter()
            .map(|h| h.export())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(FloatModel {
            name: name.to_string(),
            // Every telemetry section the kernel writes, at its version: the backbone reads
            // the whole row.
            sections: SECTIONS
                .iter()
                .map(|s| InputSection::new(s.name, s.version, s.fields.len()))
                .collect(),
            input_window: WINDOW_TICKS,
            input_features: TELEMETRY_FIELDS,
            backbone: self.backbone.export()?,
            heads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::DecisionExample;
    use crate::heads::sched::HeadLoss;
    use augur_kernel::learn::Head;
    use augur_kernel::sched::head::SchedHead;
    use augur_kernel::telemetry::{CANDIDATE_FEATURES, MODEL_INPUT_LEN};

    /// The export folds the standardisation into the first layers: the exported float model
    /// on raw int8 inputs must score exactly what the candle network scores on standardised
    /// ones; and it writes each trained head under its kernel head's name.
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
        let objective = Objective::fit(HeadLoss::Pairwise, std::iter::empty()).unwrap();
        let net = Net::new(Shape::default(), 3, ticks.iter(), cands.iter(), objective).unwrap();
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
        let want = net.sched.scores(&net.backbone, &ex).unwrap();
        let float = net.export("t").unwrap();
        float.validate().unwrap();
        let names: Vec<&str> = float.heads.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, [<SchedHead as Head>::NAME]);
        let x: Vec<f32> = ex.window.iter().map(|&v| f32::from(v)).collect();
        let e = float.backbone_forward(&x, |_, _| {});
        for (r, w) in ex.rows.iter().zip(&want) {
            let f: Vec<f32> = r.iter().map(|&v| f32::from(v)).collect();
            let got = float.head_forward(0, &e, &f, |_, _| {})[0];
            assert!((got - w).abs() <= 1e-4 * (1.0 + w.abs()), "{got} vs {w}");
        }
        assert_ne!(want[0], want[1], "the scores depend on the candidate");
        let layers: usize = float
            .backbone
            .iter()
            .chain(float.heads.iter().flat_map(|h| &h.layers))
            .map(|l| l.weight.len() + l.bias.len())
            .sum();
        assert_eq!(net.parameter_count(), layers);
    }
}
