//! One module per model head the trainer can fine-tune, each named after the kernel head it
//! trains (`augur_kernel::learn::Head`): today [`sched`], the scheduler's. A head module owns
//! its view of the dataset (which decisions, which labels), its objectives and loss, its layers
//! and its export; it reads the backbone's embedding and nothing else of the network
//! ([`crate::backbone`]).
//!
//! Adding a head (the block cache's, the page allocator's) is a module here implementing
//! [`TrainedHead`] and one entry in [`crate::net::Net::heads`]; the export then writes it under
//! its kernel name, and the backbone and the other heads do not change.

pub mod sched;

use augur_weights::FloatHead;

/// A head the trainer has trained, as the export sees it.
pub trait TrainedHead {
    /// Its name in the weight file: the kernel head's `augur_kernel::learn::Head::NAME`, so
    /// the kernel's per-head check finds it.
    fn name(&self) -> &'static str;

    /// Trainable parameters of the exported head.
    fn parameter_count(&self) -> usize;

    /// The head's layers, reading the embedding and the raw int8 candidate features the
    /// kernel feeds, named [`TrainedHead::name`].
    fn export(&self) -> candle_core::Result<FloatHead>;
}
