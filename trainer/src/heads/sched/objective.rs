//! What the scheduler head is trained to get right: the labels of each decision, by one of
//! three objectives ([`HeadLoss`]), and the Gittins index tables the default objective orders
//! candidates by ([`super::gittins`]).
//!
//! - **Listwise**: which candidates the shortest-remaining-work oracle would pick (the
//!   dataset's `best`).
//! - **Pairwise**: for each pair, whether the trace shows candidate `i` surely had less work
//!   left than `j`.
//! - **Gittins**: for each pair, whether `i`'s Gittins index is higher than `j`'s.
//!
//! [`Objective::target_agrees`] is what the trainer reports as "objective agreement": the pick
//! the head was trained to make (highest index for Gittins, else the oracle's).

use super::gittins::IndexTables;
use crate::dataset::{DecisionExample, TraceData};
use augur_kernel::sched::TaskClass;

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
    /// The order of the candidates' Gittins indices ([`super::gittins`]), with the pairwise
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

    /// Whether the loss is over ordered pairs (else over the oracle's best set).
    pub fn is_pairwise(self) -> bool {
        self != HeadLoss::Listwise
    }
}

/// The Gittins objective has nothing to estimate its tables from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoFinishedTasks;

/// A loss and what it needs to label decisions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objective {
    loss: HeadLoss,
    /// Present exactly when `loss` is [`HeadLoss::Gittins`].
    gittins: Option<IndexTables>,
}

impl Objective {
    /// The objective `loss`, with the Gittins tables estimated from the finished tasks of
    /// `train` when it needs them.
    pub fn fit<'a>(
        loss: HeadLoss,
        train: impl Iterator<Item = &'a TraceData>,
    ) -> Result<Self, NoFinishedTasks> {
        let gittins = match loss {
            HeadLoss::Gittins => Some(IndexTables::estimate(train).ok_or(NoFinishedTasks)?),
            HeadLoss::Listwise | HeadLoss::Pairwise => None,
        };
        Ok(Objective { loss, gittins })
    }

    /// The loss.
    pub fn loss(&self) -> HeadLoss {
        self.loss
    }

    /// The Gittins index tables, when the objective uses them.
    pub fn gittins(&self) -> Option<&IndexTables> {
        self.gittins.as_ref()
    }

    /// Finished tasks (normal, batch, interactive) the Gittins tables were estimated from.
    pub fn gittins_exits(&self) -> Option<[usize; 3]> {
        self.gittins.as_ref().map(|t| {
            [TaskClass::Normal, TaskClass::Batch, TaskClass::Interactive].map(|c| t.exits(c.code()))
        })
    }

    /// Per candidate of `e`, its Gittins index (empty unless the objective is Gittins).
    pub(crate) fn indices(&self, e: &DecisionExample) -> Vec<f64> {
        match &self.gittins {
            Some(t) => e.features.iter().map(|f| t.index(f)).collect(),
            None => Vec::new(),
        }
    }

    /// Whether candidate `i` should run before `j` in decision `e`, given its `indices`
    /// ([`Objective::indices`]): it surely had less work left (pairwise), or its Gittins index
    /// is higher; never for the listwise loss.
    pub(crate) fn runs_first(
        &self,
        e: &DecisionExample,
        indices: &[f64],
        i: usize,
        j: usize,
    ) -> bool {
        match self.loss {
            HeadLoss::Listwise => false,
            HeadLoss::Pairwise => e.shorter(i, j),
            HeadLoss::Gittins => {
                matches!((indices.get(i), indices.get(j)), (Some(a), Some(b)) if a > b)
            }
        }
    }

    /// Whether `pick` is what the head was trained to pick in `e`: a candidate of highest
    /// Gittins index (ties all right) under the Gittins objective, else one of the oracle's.
    pub fn target_agrees(&self, e: &DecisionExample, pick: usize) -> bool {
        match &self.gittins {
            Some(_) => {
                let index = self.indices(e);
                let best = index.iter().copied().fold(f64::MIN, f64::max);
                index.get(pick).is_some_and(|&i| i >= best)
            }
            None => e.agrees(pick),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Remaining;
    use augur_kernel::telemetry::{TaskFeatures, feature};

    fn task(class: TaskClass, cpu_total: i16) -> TaskFeatures {
        let mut f = TaskFeatures::default();
        f.0[feature::CLASS] = i16::from(class.code());
        f.0[feature::CPU_TOTAL] = cpu_total;
        f
    }

    /// Three candidates: the oracle's pick is the last (least remaining work), but a task
    /// that has used no CPU has the highest Gittins index of a class whose jobs are all short.
    fn example() -> DecisionExample {
        DecisionExample {
            window: [0; augur_kernel::telemetry::MODEL_INPUT_LEN],
            rows: vec![[0; augur_kernel::telemetry::CANDIDATE_FEATURES]; 3],
            best: vec![false, false, true],
            remaining: [9, 5, 1].map(Remaining::Known).to_vec(),
            features: vec![
                task(TaskClass::Interactive, 0),
                task(TaskClass::Batch, 40),
                task(TaskClass::Batch, 300),
            ],
            chosen: None,
        }
    }

    fn traces() -> Vec<TraceData> {
        // Interactive jobs take 3 ticks; batch jobs 50 or 400.
        let mut finished: Vec<(u8, i64)> = (0..40)
            .map(|_| (TaskClass::Interactive.code(), 3))
            .collect();
        finished
            .extend((0..40).map(|i| (TaskClass::Batch.code(), if i % 2 == 0 { 50 } else { 400 })));
        vec![TraceData {
            finished,
            ..TraceData::default()
        }]
    }

    #[test]
    fn each_loss_labels_the_pairs_it_is_named_for() {
        let e = example();
        let pairs = |o: &Objective| -> Vec<(usize, usize)> {
            let idx = o.indices(&e);
            (0..3)
                .flat_map(|i| (0..3).map(move |j| (i, j)))
                .filter(|&(i, j)| o.runs_first(&e, &idx, i, j))
                .collect()
        };
        let listwise = Objective::fit(HeadLoss::Listwise, traces().iter()).unwrap();
        assert!(pairs(&listwise).is_empty());
        assert!(listwise.gittins().is_none());
        let pairwise = Objective::fit(HeadLoss::Pairwise, traces().iter()).unwrap();
        // Remaining 9, 5, 1: the shorter runs first.
        assert_eq!(pairs(&pairwise), [(1, 0), (2, 0), (2, 1)]);
        assert!(pairwise.target_agrees(&e, 2) && !pairwise.target_agrees(&e, 0));
        let gittins = Objective::fit(HeadLoss::Gittins, traces().iter()).unwrap();
        assert_eq!(gittins.gittins_exits(), Some([0, 40, 40]));
        let idx = gittins.indices(&e);
        // The fresh interactive task (all its class's jobs end within 3 ticks) comes first.
        assert!(idx[0] > idx[1] && idx[0] > idx[2], "{idx:?}");
        assert!(pairs(&gittins).contains(&(0, 2)));
        assert!(gittins.target_agrees(&e, 0) && !gittins.target_agrees(&e, 2));
    }

    #[test]
    fn the_gittins_objective_needs_finished_tasks() {
        let none = [TraceData::default()];
        assert_eq!(
            Objective::fit(HeadLoss::Gittins, none.iter()),
            Err(NoFinishedTasks)
        );
        assert!(Objective::fit(HeadLoss::Pairwise, none.iter()).is_ok());
    }

    #[test]
    fn loss_names_round_trip() {
        for (l, n) in HeadLoss::ALL {
            assert_eq!((l.name(), HeadLoss::from_name(n)), (n, Some(l)));
        }
        assert_eq!(HeadLoss::from_name("srpt"), None);
    }
}
