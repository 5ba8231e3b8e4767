//! TRANSITION: the learned scheduler's old home. Its guard moved to [`crate::learn`], its head
//! to [`super::head`]; these re-exports keep the old paths compiling until every caller moves.

pub use super::head::{Candidate, LearnedScheduler, MAX_SCORED, SchedHead, check_schema};
pub use crate::learn::schema::SchemaMismatch;
pub use crate::learn::{FallbackCounts, FallbackReason, GuardConfig};
