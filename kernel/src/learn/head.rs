//! What a subsystem provides to put a decision in the model's hands: a [`Head`].
//!
//! A head names its slot in the weight file, the features it reads (their count and version),
//! how a candidate becomes a model-input row, how the model's scores become a pick, and how a
//! decision is judged against the shadow's in hindsight (the regret hook). The scheduler's
//! head is `sched::head::SchedHead`; the block cache's and the page allocator's plug in the
//! same way, without touching the scheduler (see the tests of [`super::pipeline`]).

use super::guard::RegretWindow;

/// A learned decision head (see the module docs).
pub trait Head {
    /// The head's name in the weight file (`augur.heads`).
    const NAME: &'static str;
    /// The head's code in trace decision records (`trace::head`).
    const CODE: u8;
    /// Version of the candidate features this head reads; a model head trained on another
    /// version is refused (a `schema` fallback for this head only).
    const FEATURES_VERSION: u32;
    /// Features per candidate (int8 model input, and the trace's feature width).
    const FEATURES: usize;
    /// Model outputs per candidate.
    const OUTPUTS: usize = 1;
    /// One candidate as the head sees it.
    type Candidate;

    /// Writes `candidate`'s model-input row ([`Head::FEATURES`] int8).
    fn encode(&self, candidate: &Self::Candidate, row: &mut [i8]);

    /// The index of the candidate the model's `scores` (`OUTPUTS` per candidate) pick.
    fn choose(&mut self, candidates: &[Self::Candidate], scores: &[i32]) -> usize;

    /// The regret hook: judges the decision where the model picked `pick` and the shadow
    /// would have picked `shadow` (indices into `candidates`), now or later, by adding judged
    /// regrets to `window`. The default judges nothing: such a head never trips `regret`.
    fn judge(
        &mut self,
        _now: u64,
        _candidates: &[Self::Candidate],
        _pick: usize,
        _shadow: Option<usize>,
        _window: &mut RegretWindow,
    ) {
    }
}
