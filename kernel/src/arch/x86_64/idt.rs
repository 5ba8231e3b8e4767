//! The interrupt descriptor table: every CPU exception, the timer tick and the LAPIC's
//! spurious vector.
//!
//! Every exception except the breakpoint is fatal: its handler prints one report (name,
//! vector, error code, RIP, and CR2 for a page fault) through the lock-free emergency console
//! and stops the machine with a failure code. A breakpoint is counted and returns, which the
//! in-kernel tests use to check that interrupts fire and return. Double fault, NMI and machine
//! check run on their own IST stacks (see `gdt`), so a kernel-stack overflow is still reported.

use super::{apic, gdt, power, serial};
use crate::exit::ExitCode;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Lazy;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// Breakpoint exceptions taken so far.
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

/// Prints the exception report and stops the machine.
fn fatal(
    name: &str,
    vector: u8,
    error_code: Option<u64>,
    frame: &InterruptStackFrame,
    fault_addr: Option<u64>,
) -> ! {
    let mut out = serial::emergency_console();
    let _ = write!(out, "\nEXCEPTION: {name} (vector {vector})");
    if let Some(code) = error_code {
        let _ = write!(out, " error code {code:#x}");
    }
    let _ = write!(out, " at RIP {:#x}", frame.instruction_pointer.as_u64());
    if let Some(addr) = fault_addr {
        let _ = write!(out, ", CR2 {addr:#x}");
    }
    let _ = writeln!(
        out,
        "\n  RSP {:#x} RFLAGS {:#x} CS {:#x}",
        frame.stack_pointer.as_u64(),
        frame.cpu_flags.bits(),
        frame.code_segment.0
    );
    let _ = writeln!(out, "kernel stopped");
    power::exit(ExitCode::Failure)
}

/// Defines a fatal exception handler with the signature the IDT slot expects.
macro_rules! fatal_handler {
    ($handler:ident, $name:literal, $vector:literal) => {
        extern "x86-interrupt" fn $handler(frame: InterruptStackFrame) {
            fatal($name, $vector, None, &frame, None)
        }
    };
    ($handler:ident, $name:literal, $vector:literal, error_code) => {
        extern "x86-interrupt" fn $handler(frame: InterruptStackFrame, code: u64) {
            fatal($name, $vector, Some(code), &frame, None)
        }
    };
}

fatal_handler!(divide_error, "divide error", 0);
fatal_handler!(debug, "debug", 1);
fatal_handler!(nmi, "non-maskable interrupt", 2);
fatal_handler!(overflow, "overflow", 4);
fatal_handler!(bound_range, "bound range exceeded", 5);
fatal_handler!(invalid_opcode, "invalid opcode", 6);
fatal_handler!(device_not_available, "device not available", 7);
fatal_handler!(invalid_tss, "invalid TSS", 10, error_code);
fatal_handler!(segment_not_present, "segment not present", 11, error_code);
fatal_handler!(stack_segment, "stack-segment fault", 12, error_code);
fatal_handler!(
    general_protection,
    "general protection fault",
    13,
    error_code
);
fatal_handler!(x87_floating_point, "x87 floating-point exception", 16);
fatal_handler!(alignment_check, "alignment check", 17, error_code);
fatal_handler!(simd_floating_point, "SIMD floating-point exception", 19);
fatal_handler!(virtualization, "virtualization exception", 20);
fatal_handler!(
    control_protection,
    "control protection exception",
    21,
    error_code
);
fatal_handler!(hv_injection, "hypervisor injection exception", 28);
fatal_handler!(
    vmm_communication,
    "VMM communication exception",
    29,
    error_code
);
fatal_handler!(security, "security exception", 30, error_code);

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, code: u64) -> ! {
    fatal("double fault", 8, Some(code), &frame, None)
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    fatal("machine check", 18, None, &frame, None)
}

extern "x86-interrupt" fn page_fault(frame: InterruptStackFrame, code: PageFaultErrorCode) {
    let addr = Cr2::read_raw();
    fatal("page fault", 14, Some(code.bits()), &frame, Some(addr))
}

extern "x86-interrupt" fn breakpoint(_frame: InterruptStackFrame) {
    BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
}

extern "x86-interrupt" fn timer(_frame: InterruptStackFrame) {
    crate::time::on_tick();
    // EOI before the scheduler may switch threads: the thread switched to returns through
    // another path, and the LAPIC holds back further ticks until this one is acknowledged.
    apic::end_of_interrupt();
    crate::task::on_tick();
}

extern "x86-interrupt" fn spurious(_frame: InterruptStackFrame) {
    // The LAPIC expects no EOI for a spurious interrupt (SDM vol. 3A §11.9).
}

static IDT: Lazy<InterruptDescriptorTable> = Lazy::new(|| {
    let mut idt = InterruptDescriptorTable::new();
    idt.divide_error.set_handler_fn(divide_error);
    idt.debug.set_handler_fn(debug);
    idt.breakpoint.set_handler_fn(breakpoint);
    idt.overflow.set_handler_fn(overflow);
    idt.bound_range_exceeded.set_handler_fn(bound_range);
    idt.invalid_opcode.set_handler_fn(invalid_opcode);
    idt.device_not_available
        .set_handler_fn(device_not_available);
    idt.invalid_tss.set_handler_fn(invalid_tss);
    idt.segment_not_present.set_handler_fn(segment_not_present);
    idt.stack_segment_fault.set_handler_fn(stack_segment);
    idt.general_protection_fault
        .set_handler_fn(general_protection);
    idt.page_fault.set_handler_fn(page_fault);
    idt.x87_floating_point.set_handler_fn(x87_floating_point);
    idt.alignment_check.set_handler_fn(alignment_check);
    idt.simd_floating_point.set_handler_fn(simd_floating_point);
    idt.virtualization.set_handler_fn(virtualization);
    idt.cp_protection_exception
        .set_handler_fn(control_protection);
    idt.hv_injection_exception.set_handler_fn(hv_injection);
    idt.vmm_communication_exception
        .set_handler_fn(vmm_communication);
    idt.security_exception.set_handler_fn(security);
    // SAFETY: the IST indices name stacks that `gdt` installs in the TSS before this IDT is
    // loaded, and no other handler uses them.
    unsafe {
        idt.double_fault
            .set_handler_fn(double_fault)
            .set_stack_index(gdt::DOUBLE_FAULT_IST);
        idt.non_maskable_interrupt
            .set_handler_fn(nmi)
            .set_stack_index(gdt::NMI_IST);
        idt.machine_check
            .set_handler_fn(machine_check)
            .set_stack_index(gdt::MACHINE_CHECK_IST);
    }
    idt[apic::TIMER_VECTOR].set_handler_fn(timer);
    idt[apic::SPURIOUS_VECTOR].set_handler_fn(spurious);
    idt
});

/// Loads the IDT. Call after `gdt::init`.
pub fn init() {
    IDT.load();
}
