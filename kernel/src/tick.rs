//! The tick pipeline, portable: what one timer tick does, in the order the kernel does it and
//! host replay reproduces (DESIGN.md §4, "The tick pipeline").
//!
//! 1. the scheduler admits arrivals and wake-ups, charges the running task, asks its policy
//!    ([`Core::begin_tick`]);
//! 2. the telemetry of every section is snapshotted (the scheduler's is the only one so far;
//!    the block cache's and the page allocator's join here), pushed into the learned
//!    [`Pipeline`]'s window, and traced;
//! 3. each subsystem decides, its head reusing the tick's embedding: the scheduler picks who
//!    runs ([`Core::finish_tick`]).
//!
//! The kernel's timer interrupt (`task::on_tick`) calls [`run`] and then switches stacks; the
//! host's emulation (`sched::emulate`) calls the same function.

use crate::learn::{Inference, Pipeline};
use crate::sched::core::{Core, TraceSink};
use crate::sched::{TaskId, Tick};
use crate::telemetry::SECTIONS;
use crate::trace::{self, Items, Record};

/// Runs the pipeline for tick `t`; returns the task to run from now on. `clock` reads the
/// cycle counter the inference budget is measured in.
pub fn run<I: Inference, S: TraceSink>(
    sched: &mut Core<S>,
    pipeline: &mut Pipeline<I>,
    t: Tick,
    clock: &mut dyn FnMut() -> u64,
) -> TaskId {
    let start = sched.begin_tick(t);
    let telemetry = sched.telemetry(t, &start);
    pipeline.push_tick(&telemetry);
    let sections = SECTIONS.map(|s| trace::Section {
        code: s.code,
        version: u16::try_from(s.version).unwrap_or(u16::MAX),
        fields: Items::from_slice(telemetry.section(&s)),
    });
    sched.record(&Record::Telemetry {
        tick: t,
        sections: trace::Sections::from_slice(&sections),
    });
    sched.finish_tick(t, &start, pipeline, clock)
}
