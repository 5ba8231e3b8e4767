//! The GDT and the TSS, with separate interrupt stacks (IST) for the exceptions that can
//! arrive on a broken stack: double fault, NMI and machine check.
//!
//! The IST stacks are static and page-aligned; once paging is under the kernel's control,
//! [`ist_guard_pages`] names their lowest page, which `mm::paging` unmaps as a guard, so an
//! overflow of one faults instead of silently corrupting memory.

use spin::Lazy;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot of the double-fault handler's stack.
pub const DOUBLE_FAULT_IST: u16 = 0;
/// IST slot of the NMI handler's stack.
pub const NMI_IST: u16 = 1;
/// IST slot of the machine-check handler's stack.
pub const MACHINE_CHECK_IST: u16 = 2;
const IST_COUNT: usize = 3;

/// Usable size of each IST stack; one more page below it becomes the guard.
pub const IST_STACK_BYTES: usize = 16 * 1024;
const PAGE: usize = 4096;

#[repr(C, align(4096))]
struct IstStack([u8; PAGE + IST_STACK_BYTES]);

static mut IST_STACKS: [IstStack; IST_COUNT] =
    [const { IstStack([0; PAGE + IST_STACK_BYTES]) }; IST_COUNT];

fn ist_base(slot: usize) -> VirtAddr {
    // SAFETY: only the address of the static is taken; its bytes are never accessed as Rust
    // data (the CPU uses them as a stack).
    VirtAddr::from_ptr(unsafe { core::ptr::addr_of!(IST_STACKS[slot]) })
}

/// The lowest page of each IST stack: to be unmapped as a guard.
pub fn ist_guard_pages() -> [VirtAddr; IST_COUNT] {
    core::array::from_fn(ist_base)
}

static TSS: Lazy<TaskStateSegment> = Lazy::new(|| {
    let mut tss = TaskStateSegment::new();
    // Indexed, not iterated: the TSS is packed, so no reference to its array may be taken.
    #[allow(clippy::needless_range_loop)]
    for slot in 0..IST_COUNT {
        // Stacks grow down: the IST entry is the top of the array.
        tss.interrupt_stack_table[slot] = ist_base(slot) + (PAGE + IST_STACK_BYTES) as u64;
    }
    tss
});

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

static GDT: Lazy<(GlobalDescriptorTable, Selectors)> = Lazy::new(|| {
    let mut gdt = GlobalDescriptorTable::new();
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let tss = gdt.append(Descriptor::tss_segment(&TSS));
    (gdt, Selectors { code, data, tss })
});

/// Loads the GDT and TSS and reloads the segment registers.
pub fn init() {
    GDT.0.load();
    let s = &GDT.1;
    // SAFETY: the selectors index the GDT just loaded, which lives for the whole run; the
    // code segment is a 64-bit kernel code segment and the TSS descriptor points at a
    // static TSS.
    unsafe {
        CS::set_reg(s.code);
        SS::set_reg(s.data);
        DS::set_reg(s.data);
        ES::set_reg(s.data);
        load_tss(s.tss);
    }
}
