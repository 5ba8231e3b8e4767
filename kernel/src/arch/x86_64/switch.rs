//! The context switch between kernel threads: save the callee-saved registers on the old
//! stack, swap stack pointers, restore them from the new one (the System V ABI says the rest
//! are the caller's to save). Kernel threads own no SIMD state (DESIGN.md §3), so nothing else
//! is switched.

/// Bytes [`switch_context`] keeps on a suspended thread's stack: rbp, rbx, r12–r15.
pub const SAVED_REGISTER_BYTES: u64 = 6 * 8;

/// Saves the current thread's stack pointer at `save_rsp` and continues the thread whose
/// stack pointer is `next_rsp`, returning when some thread switches back.
///
/// # Safety
/// Interrupts must be disabled. `save_rsp` must be writable; `next_rsp` must be a stack
/// pointer that `switch_context` saved, or one prepared by [`prepare_stack`], on a stack that
/// stays mapped while its thread may run.
#[unsafe(naked)]
pub unsafe extern "C" fn switch_context(save_rsp: *mut u64, next_rsp: u64) {
    core::arch::naked_asm!(
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov [rdi], rsp",
        "mov rsp, rsi",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    )
}

/// Lays out a fresh stack (16-byte-aligned `top`) so that switching to the returned stack
/// pointer starts `entry`, with the stack aligned as at a function call.
///
/// # Safety
/// `top - 64 .. top` must be mapped, writable, and owned by the new thread.
pub unsafe fn prepare_stack(top: u64, entry: extern "C" fn() -> !) -> u64 {
    debug_assert_eq!(top % 16, 0);
    let return_slot = top - 16;
    let rsp = return_slot - SAVED_REGISTER_BYTES;
    // SAFETY: the caller guarantees these 64 bytes below `top` are the new thread's own.
    unsafe {
        // A null "return address" above the entry: `entry` never returns, and a debugger's
        // backtrace stops here.
        core::ptr::write((top - 8) as *mut u64, 0);
        core::ptr::write(return_slot as *mut u64, entry as usize as u64);
        core::ptr::write_bytes(rsp as *mut u8, 0, SAVED_REGISTER_BYTES as usize);
    }
    rsp
}
