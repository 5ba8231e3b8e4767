//! Page tables: the bootloader's tables, edited through its mapping of all physical memory
//! (an [`OffsetPageTable`]), plus the kernel's own virtual area for the heap, kernel stacks
//! and device registers.
//!
//! The kernel area is one unused level-4 slot in the upper half (512 GiB), found at boot, so
//! it can never collide with what the bootloader mapped. Kernel stacks there get an unmapped
//! guard page below them: an overflow faults (and the double-fault handler, on its own IST
//! stack, reports it) instead of corrupting the neighbour.

use super::PAGE_BYTES;
use super::frames;
use core::fmt;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::structures::paging::mapper::{MapToError, UnmapError};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB,
    Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Bytes covered by one level-4 entry.
const P4_SLOT_BYTES: u64 = 1 << 39;
/// Offsets of the parts of the kernel area.
const HEAP_AREA: u64 = 0;
const STACK_AREA: u64 = 64 << 30;
const MMIO_AREA: u64 = 128 << 30;
const SPARE_AREA: u64 = 192 << 30;
const AREA_BYTES: u64 = 64 << 30;

struct KernelSpace {
    mapper: OffsetPageTable<'static>,
    phys_offset: u64,
    /// Start of the kernel's level-4 slot.
    area: u64,
    /// Next free byte in each part (relative to `area`).
    next_stack: u64,
    /// Stack slots given back by [`free_stack`] (guard address, pages), reused first, so a
    /// workload that spawns and reaps threads for ever needs no new page tables. Its capacity
    /// is kept at the number of slots ever made, so freeing a stack never allocates.
    free_stacks: alloc::vec::Vec<(u64, u64)>,
    /// Stack slots made so far.
    stacks_made: usize,
    next_mmio: u64,
    next_spare: u64,
}

static SPACE: Mutex<Option<KernelSpace>> = Mutex::new(None);

/// Why a mapping operation failed.
#[derive(Clone, Copy, Debug)]
pub enum PagingError {
    NotInitialised,
    OutOfFrames,
    AlreadyMapped {
        virt: u64,
    },
    NotMapped {
        virt: u64,
    },
    /// No level-4 slot of the upper half is free for the kernel area.
    NoFreeSlot,
    AreaExhausted,
}

impl fmt::Display for PagingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PagingError::NotInitialised => write!(f, "paging used before mm::paging::init"),
            PagingError::OutOfFrames => {
                write!(f, "out of physical frames for page tables or pages")
            }
            PagingError::AlreadyMapped { virt } => {
                write!(f, "virtual page {virt:#x} is already mapped")
            }
            PagingError::NotMapped { virt } => write!(f, "virtual page {virt:#x} is not mapped"),
            PagingError::NoFreeSlot => write!(
                f,
                "no free level-4 slot in the upper half for the kernel area"
            ),
            PagingError::AreaExhausted => write!(f, "the kernel virtual area is exhausted"),
        }
    }
}

/// Page-table frames come from the buddy allocator.
struct BuddyFrames;

// SAFETY: every frame returned comes from `frames::alloc`, which hands each frame out once
// until it is freed, so it is unused.
unsafe impl FrameAllocator<Size4KiB> for BuddyFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        frames::alloc(0)
            .ok()
            .map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)))
    }
}

/// Takes over the active page tables. `phys_offset` is the bootloader's physical mapping.
pub fn init(phys_offset: u64) -> Result<(), PagingError> {
    let (p4_frame, _) = x86_64::registers::control::Cr3::read();
    let p4_virt = phys_offset + p4_frame.start_address().as_u64();
    // SAFETY: CR3 holds the active level-4 table, which the bootloader mapped (with all
    // physical memory) at `phys_offset`; this is the only reference made to it, kept in SPACE.
    let p4: &'static mut PageTable = unsafe { &mut *(p4_virt as *mut PageTable) };
    let slot = (256..512)
        .find(|&i| p4[i].is_unused())
        .ok_or(PagingError::NoFreeSlot)?;
    // Sign-extend: upper-half addresses have bits 48..64 set.
    let area = 0xffff_0000_0000_0000 | (slot as u64 * P4_SLOT_BYTES);
    // SAFETY: `p4` is the active table and `phys_offset` maps all physical memory.
    let mapper = unsafe { OffsetPageTable::new(p4, VirtAddr::new(phys_offset)) };
    without_interrupts(|| {
        *SPACE.lock() = Some(KernelSpace {
            mapper,
            phys_offset,
            area,
            next_stack: STACK_AREA,
            free_stacks: alloc::vec::Vec::new(),
            stacks_made: 0,
            next_mmio: MMIO_AREA,
            next_spare: SPARE_AREA,
        });
    });
    Ok(())
}

fn with_space<T>(
    f: impl FnOnce(&mut KernelSpace) -> Result<T, PagingError>,
) -> Result<T, PagingError> {
    without_interrupts(|| f(SPACE.lock().as_mut().ok_or(PagingError::NotInitialised)?))
}

/// The virtual address at which physical address `phys` is reachable.
pub fn phys_to_virt(phys: u64) -> Result<u64, PagingError> {
    with_space(|s| Ok(s.phys_offset + phys))
}

/// The physical address `virt` maps to, if any.
pub fn translate(virt: u64) -> Option<u64> {
    with_space(|s| {
        Ok(s.mapper
            .translate_addr(VirtAddr::new(virt))
            .map(|p| p.as_u64()))
    })
    .ok()
    .flatten()
}

/// Maps the 4 KiB page at `virt` to the frame at `phys`.
pub fn map(virt: u64, phys: u64, flags: PageTableFlags) -> Result<(), PagingError> {
    with_space(|s| map_locked(s, virt, phys, flags))
}

fn map_locked(
    s: &mut KernelSpace,
    virt: u64,
    phys: u64,
    flags: PageTableFlags,
) -> Result<(), PagingError> {
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
    let frame = PhysFrame::containing_address(PhysAddr::new(phys));
    // SAFETY: callers pass a frame they own (fresh from the frame allocator, or device
    // registers) and a page of the kernel area or a test page nothing else uses, so no
    // existing Rust reference aliases the new mapping.
    let result = unsafe {
        s.mapper.map_to(
            page,
            frame,
            flags | PageTableFlags::PRESENT,
            &mut BuddyFrames,
        )
    };
    match result {
        Ok(flush) => {
            flush.flush();
            Ok(())
        }
        Err(MapToError::FrameAllocationFailed) => Err(PagingError::OutOfFrames),
        // A huge page above it maps this address already, too.
        Err(MapToError::PageAlreadyMapped(_) | MapToError::ParentEntryHugePage) => {
            Err(PagingError::AlreadyMapped { virt })
        }
    }
}

/// Unmaps the page at `virt` and returns the physical frame it mapped (not freed).
pub fn unmap(virt: u64) -> Result<u64, PagingError> {
    with_space(|s| {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        match s.mapper.unmap(page) {
            Ok((frame, flush)) => {
                flush.flush();
                Ok(frame.start_address().as_u64())
            }
            // Inside a huge page or with a bad frame address, there is no 4 KiB mapping to remove.
            Err(
                UnmapError::PageNotMapped
                | UnmapError::ParentEntryHugePage
                | UnmapError::InvalidFrameAddress(_),
            ) => Err(PagingError::NotMapped { virt }),
        }
    })
}

/// Maps fresh zeroed frames at `bytes` (page-rounded) of the kernel heap part, returning its start.
pub fn map_heap(bytes: u64) -> Result<u64, PagingError> {
    let start = with_space(|s| Ok(s.area + HEAP_AREA))?;
    map_fresh(start, bytes.div_ceil(PAGE_BYTES))?;
    Ok(start)
}

/// Maps `pages` fresh, zeroed frames starting at `virt`, writable.
fn map_fresh(virt: u64, pages: u64) -> Result<(), PagingError> {
    for i in 0..pages {
        let phys = frames::alloc(0).map_err(|_| PagingError::OutOfFrames)?;
        let zero_at = phys_to_virt(phys)?;
        // SAFETY: the frame was just allocated, so nothing else uses it, and it is mapped
        // (writable) at `zero_at` through the physical-memory mapping.
        unsafe { core::ptr::write_bytes(zero_at as *mut u8, 0, PAGE_BYTES as usize) };
        map(virt + i * PAGE_BYTES, phys, PageTableFlags::WRITABLE)?;
    }
    Ok(())
}

/// A kernel stack with an unmapped guard page below it.
#[derive(Clone, Copy, Debug)]
pub struct KernelStack {
    /// The unmapped page just below the stack.
    pub guard: u64,
    /// Lowest mapped address.
    pub bottom: u64,
    /// One past the highest byte: the initial stack pointer.
    pub top: u64,
}

/// Allocates a kernel stack of `pages` pages, with a guard page below it.
pub fn alloc_stack(pages: u64) -> Result<KernelStack, PagingError> {
    let guard = with_space(|s| {
        if let Some(at) = s.free_stacks.iter().position(|&(_, p)| p == pages) {
            return Ok(s.free_stacks.swap_remove(at).0);
        }
        let guard = s.next_stack;
        let next = guard + (pages + 1) * PAGE_BYTES;
        if next > STACK_AREA + AREA_BYTES {
            return Err(PagingError::AreaExhausted);
        }
        s.next_stack = next;
        s.free_stacks
            .reserve(1 + s.stacks_made - s.free_stacks.len());
        s.stacks_made += 1;
        Ok(s.area + guard)
    })?;
    let bottom = guard + PAGE_BYTES;
    map_fresh(bottom, pages)?;
    Ok(KernelStack {
        guard,
        bottom,
        top: bottom + pages * PAGE_BYTES,
    })
}

/// Unmaps `stack` and returns its frames; its address range is reused by the next
/// [`alloc_stack`] of the same size. The caller guarantees nothing runs on it any more (the
/// thread exited and another one runs).
pub fn free_stack(stack: KernelStack) -> Result<(), PagingError> {
    let pages = (stack.top - stack.bottom) / PAGE_BYTES;
    for i in 0..pages {
        let phys = unmap(stack.bottom + i * PAGE_BYTES)?;
        frames::free(phys, 0).map_err(|_| PagingError::NotMapped {
            virt: stack.bottom + i * PAGE_BYTES,
        })?;
    }
    with_space(|s| {
        s.free_stacks.push((stack.guard, pages));
        Ok(())
    })
}

/// Maps `bytes` of device registers at physical `phys` uncached; returns their virtual address.
pub fn map_mmio(phys: u64, bytes: u64) -> Result<u64, PagingError> {
    let pages = (phys % PAGE_BYTES + bytes).div_ceil(PAGE_BYTES);
    let virt = with_space(|s| {
        let virt = s.next_mmio;
        if virt + pages * PAGE_BYTES > MMIO_AREA + AREA_BYTES {
            return Err(PagingError::AreaExhausted);
        }
        s.next_mmio += pages * PAGE_BYTES;
        Ok(s.area + virt)
    })?;
    let base = phys - phys % PAGE_BYTES;
    let flags = PageTableFlags::WRITABLE | PageTableFlags::NO_CACHE | PageTableFlags::WRITE_THROUGH;
    for i in 0..pages {
        map(virt + i * PAGE_BYTES, base + i * PAGE_BYTES, flags)?;
    }
    Ok(virt + phys % PAGE_BYTES)
}

/// Reserves `pages` pages of unmapped kernel address space, for a caller to map as it
/// likes (tests that map and unmap by hand). Never handed out twice.
pub fn reserve_pages(pages: u64) -> Result<u64, PagingError> {
    with_space(|s| {
        let at = s.next_spare;
        if at + pages * PAGE_BYTES > SPARE_AREA + AREA_BYTES {
            return Err(PagingError::AreaExhausted);
        }
        s.next_spare += pages * PAGE_BYTES;
        Ok(s.area + at)
    })
}
