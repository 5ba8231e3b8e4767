//! How the kernel tells QEMU (and so the host runner) whether it succeeded.
//!
//! QEMU's `isa-debug-exit` device at [`DEBUG_EXIT_PORT`] turns a write of `v` into the QEMU
//! process exit status `(v << 1) | 1`, so it can never produce 0. The kernel writes
//! [`ExitCode::Success`] or [`ExitCode::Failure`]; the runner in `qemu/` maps the first to
//! status 0 and everything else to a failure with the kernel's last lines (DESIGN.md §5).

/// I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The value the kernel writes to [`DEBUG_EXIT_PORT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// The job finished and every check passed.
    Success = 0x10,
    /// A test failed, a fault or panic stopped the kernel, or the job could not run.
    Failure = 0x11,
}

impl ExitCode {
    /// The exit status the QEMU process reports after the kernel writes this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }

    /// The code the kernel wrote, recovered from QEMU's exit status, if it was one of ours.
    pub fn from_qemu_status(status: i32) -> Option<ExitCode> {
        [ExitCode::Success, ExitCode::Failure]
            .into_iter()
            .find(|c| c.qemu_status() == status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_status_round_trips_and_is_never_zero() {
        for code in [ExitCode::Success, ExitCode::Failure] {
            assert_ne!(code.qemu_status(), 0);
            assert_eq!(ExitCode::from_qemu_status(code.qemu_status()), Some(code));
        }
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::from_qemu_status(0), None);
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }
}
