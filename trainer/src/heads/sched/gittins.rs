//! The Gittins objective's targets: how urgently each candidate should run, from the
//! distribution of work the training traces show for its class.
//!
//! The scheduler cannot know how much work a task has left, only what it has used (`cpu_total`)
//! and what kind of task it is. For that information the policy that minimises mean turnaround
//! on average is the Gittins index policy (`augur_kernel::sched::gittins`): run the task whose
//! index, at its attained CPU, is highest. Imitating the clairvoyant oracle instead (the
//! listwise and pairwise losses) asks the head for something its features cannot tell, and it
//! settles on a compromise; on the kernel's workloads the index policy is measurably better
//! (see `eval/report.md`, the Gittins bound).
//!
//! The index needs each class's distribution of total work. It is **estimated from the
//! training traces**, not taken from the workload generator: every task seen from spawn to exit
//! adds its exit status (the CPU ticks it used) to its class's histogram. A class with fewer
//! than [`MIN_EXITS`] finished tasks uses the histogram of all classes together. The head is
//! then trained (pairwise, RankNet) to order each decision's candidates as their indices do, so
//! the kernel runs the index policy through the model's features and int8 arithmetic.
//!
//! Beyond the largest work seen in its class, a task keeps the index of the last attained value
//! the data covers: the sample says nothing there, and treating it as "about to finish" (the
//! exact index of a bounded distribution) would let one unseen long job hold the CPU.

use augur_kernel::sched::TaskClass;
use augur_kernel::sched::gittins::index_table;
use augur_kernel::telemetry::{TaskFeatures, feature};

use crate::dataset::TraceData;

/// Fewest finished tasks a class needs for a histogram of its own.
pub const MIN_EXITS: usize = 20;

/// Longest work (CPU ticks) a histogram keeps; longer exits count at this length.
pub const MAX_WORK: usize = 1 << 14;

/// Per task class: Gittins indices by attained CPU, estimated from finished tasks.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexTables {
    /// Indexed by class code; each table by attained ticks.
    tables: Vec<Vec<f64>>,
    /// Finished tasks per class code.
    exits: Vec<usize>,
}

impl IndexTables {
    /// Tables from the finished tasks of `files`, or `None` when no task finished.
    pub fn estimate<'a>(files: impl Iterator<Item = &'a TraceData>) -> Option<Self> {
        let classes = TaskClass::ALL.len();
        let mut hist = vec![Vec::<f64>::new(); classes];
        let mut all = Vec::<f64>::new();
        let mut exits = vec![0usize; classes];
        let add = |h: &mut Vec<f64>, w: usize| {
            if h.len() <= w {
                h.resize(w + 1, 0.0);
            }
            h[w] += 1.0;
        };
        for &(class, work) in files.flat_map(|f| &f.finished) {
            let w = work.clamp(1, MAX_WORK as i64) as usize;
            add(&mut all, w);
            if let Some(h) = hist.get_mut(usize::from(class)) {
                add(h, w);
                exits[usize::from(class)] += 1;
            }
        }
        if all.is_empty() {
            return None;
        }
        let tables = hist
            .iter()
            .zip(&exits)
            .map(|(h, &n)| index_table(&normalised(if n >= MIN_EXITS { h } else { &all })))
            .collect();
        Some(Self { tables, exits })
    }

    /// Finished tasks of class `code` the estimate used.
    pub fn exits(&self, code: u8) -> usize {
        self.exits.get(usize::from(code)).copied().unwrap_or(0)
    }

    /// The index of a candidate: its class's table at its attained CPU.
    pub fn index(&self, f: &TaskFeatures) -> f64 {
        let class = usize::try_from(f.0[feature::CLASS]).unwrap_or(0);
        let Some(table) = self.tables.get(class).or(self.tables.first()) else {
            return 0.0;
        };
        let attained = usize::try_from(f.0[feature::CPU_TOTAL]).unwrap_or(0);
        table
            .get(attained.min(table.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    }
}

/// The distribution of a histogram of counts by total work.
fn normalised(h: &[f64]) -> Vec<f64> {
    let total: f64 = h.iter().sum();
    h.iter().map(|c| c / total.max(1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_kernel::sched::gittins::gittins_index;
    use augur_kernel::workload::{Mix, generate};

    fn data(finished: Vec<(u8, i64)>) -> TraceData {
        TraceData {
            finished,
            ..TraceData::default()
        }
    }

    fn task(class: TaskClass, cpu_total: i16) -> TaskFeatures {
        let mut f = TaskFeatures::default();
        f.0[feature::CLASS] = i16::from(class.code());
        f.0[feature::CPU_TOTAL] = cpu_total;
        f
    }

    #[test]
    fn estimated_from_enough_exits_the_tables_match_the_true_distribution() {
        // The jobs of many seeds of `mix`, as traces would report them.
        let finished: Vec<(u8, i64)> = (0..300)
            .flat_map(|seed| generate(Mix::Mix, seed, 5_000))
            .map(|j| (j.class.code(), j.work as i64))
            .collect();
        let t = IndexTables::estimate([data(finished)].iter()).unwrap();
        for class in TaskClass::ALL {
            assert!(t.exits(class.code()) > 1000);
            let p = augur_kernel::workload::work_distribution(class);
            for a in [0usize, 3, 9, 20, 35, 60, 100] {
                let want = gittins_index(&p, a);
                if !want.is_finite() || a + 1 >= p.len() {
                    continue;
                }
                let got = t.index(&task(class, a as i16));
                assert!(
                    (got - want).abs() <= 0.15 * want,
                    "{class:?} at {a}: estimated {got:.4}, true {want:.4}"
                );
            }
        }
    }

    #[test]
    fn a_rare_class_borrows_the_pooled_histogram_and_the_tail_keeps_its_last_index() {
        let mut finished: Vec<(u8, i64)> = (0..100).map(|i| (1, 10 + i % 50)).collect();
        finished.push((2, 5));
        let t = IndexTables::estimate([data(finished)].iter()).unwrap();
        assert_eq!(t.exits(2), 1);
        let interactive = t.index(&task(TaskClass::Interactive, 12));
        let batch = t.index(&task(TaskClass::Batch, 12));
        // One interactive exit is too few: pooled, which is nearly the batch histogram.
        assert!((interactive - batch).abs() <= 0.1 * batch);
        // Past the longest batch job seen (59 ticks): the index at 58, not infinity.
        let last = t.index(&task(TaskClass::Batch, 58));
        assert!(last.is_finite());
        assert_eq!(t.index(&task(TaskClass::Batch, 500)), last);
        assert_eq!(t.index(&task(TaskClass::Batch, i16::MAX)), last);
    }

    #[test]
    fn nothing_finished_gives_no_tables() {
        assert_eq!(IndexTables::estimate([data(vec![])].iter()), None);
    }
}
