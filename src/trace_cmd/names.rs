//! Human names for the codes inside trace records: record kinds, heads, telemetry sections,
//! policies, fallback reasons, task classes, and the telemetry field names a section's version
//! implies.
//!
//! The policy and fallback names come from their owners (`bootcfg::SchedPolicy`,
//! `learn::FallbackReason`); an unknown code (a newer kernel) is shown as
//! `code-N` rather than refused, so an old tool still reads a new trace. Likewise a record kind,
//! head or section this tool does not know is `unknown-N`, `head-N`, `section-N`.

use augur_kernel::bootcfg::SchedPolicy;
use augur_kernel::learn::FallbackReason;
use augur_kernel::sched::TaskClass;
use augur_kernel::telemetry::{CANDIDATE_FEATURES, FIELDS, SCHEMA_VERSION};
use augur_kernel::trace::record::kind_name;
use augur_kernel::trace::{FORMAT_VERSION, head, record, section};

/// The name of record kind `kind` (`unknown-N` for a kind this tool's format lacks).
pub fn kind(kind: u8) -> String {
    if record::kind::is_known(kind, FORMAT_VERSION) {
        kind_name(kind).to_string()
    } else {
        format!("unknown-{kind}")
    }
}

/// The name of decision head `code`.
pub fn head(code: u8) -> String {
    head::name(code).map_or_else(|| format!("head-{code}"), str::to_string)
}

/// The name of telemetry section `code`.
pub fn section(code: u8) -> String {
    section::name(code).map_or_else(|| format!("section-{code}"), str::to_string)
}

/// The name of policy `code` of head `head_code`. Policy codes belong to their head; only the
/// scheduler's are known to this tool.
pub fn policy(head_code: u8, code: u8) -> String {
    match SchedPolicy::from_code(code) {
        Some(p) if head_code == head::SCHED => p.name().to_string(),
        _ => unknown(code),
    }
}

/// Whether candidates of `head_code` with `width` features follow this tool's
/// `telemetry::TASK_FEATURES`, so they may be shown under those names.
pub fn sched_features_known(head_code: u8, width: usize) -> bool {
    head_code == head::SCHED && width == CANDIDATE_FEATURES
}

/// The name of fallback reason `code`.
pub fn fallback(code: u8) -> String {
    FallbackReason::from_code(code).map_or_else(|| unknown(code), |r| r.name().to_string())
}

/// The name of task class `code`.
pub fn class(code: u8) -> String {
    TaskClass::from_code(code).map_or_else(|| unknown(code), |c| c.name().to_string())
}

/// The name shown for a code this tool does not know.
fn unknown(code: u8) -> String {
    format!("code-{code}")
}

/// Whether a telemetry section (`code`, `version`, `n` fields) is the scheduler section this
/// tool knows ([`FIELDS`]), so its values may be shown under those names.
pub fn telemetry_is_known(code: u8, version: u16, n: usize) -> bool {
    code == section::SCHED && version == SCHEMA_VERSION && n == FIELDS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes() {
        assert_eq!(policy(head::SCHED, 0), "rr");
        assert_eq!(policy(head::SCHED, 4), "learned");
        assert_eq!(policy(head::SCHED, 200), "code-200");
        // Another head's policy 4 is not the scheduler's `learned`.
        assert_eq!(policy(head::BLK_EVICT, 4), "code-4");
        assert_eq!(head(head::BLK_EVICT), "blk-evict");
        assert_eq!(head(99), "head-99");
        assert_eq!(section(section::MM), "mm");
        assert_eq!(section(42), "section-42");
        assert_eq!(kind(9), "end");
        assert_eq!(kind(200), "unknown-200");
        assert_eq!(fallback(3), "budget");
        assert_eq!(fallback(0), "code-0");
        assert_eq!(class(2), "interactive");
        assert_eq!(class(7), "code-7");
    }
}
