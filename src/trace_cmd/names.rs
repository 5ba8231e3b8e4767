//! Human names for the codes inside trace records: record kinds, policies, fallback reasons,
//! task classes, and the telemetry field names a record's schema implies.
//!
//! The policy and fallback names come from their owners (`bootcfg::SchedPolicy`,
//! `sched::learned::FallbackReason`); an unknown code (a newer kernel) is shown as
//! `code-N` rather than refused, so an old tool still reads a new trace.

use augur_kernel::bootcfg::SchedPolicy;
use augur_kernel::sched::TaskClass;
use augur_kernel::sched::learned::FallbackReason;
use augur_kernel::telemetry::{FIELDS, SCHEMA_VERSION};

/// The name of scheduling policy `code`.
pub fn policy(code: u8) -> String {
    SchedPolicy::from_code(code).map_or_else(|| unknown(code), |p| p.name().to_string())
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

/// Whether a telemetry record with `schema` and `n` fields follows this tool's
/// [`FIELDS`], so its values may be shown under those names.
pub fn telemetry_is_known(schema: u16, n: usize) -> bool {
    schema == SCHEMA_VERSION && n == FIELDS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes() {
        assert_eq!(policy(0), "rr");
        assert_eq!(policy(4), "learned");
        assert_eq!(policy(200), "code-200");
        assert_eq!(fallback(3), "budget");
        assert_eq!(fallback(0), "code-0");
        assert_eq!(class(2), "interactive");
        assert_eq!(class(7), "code-7");
    }
}
