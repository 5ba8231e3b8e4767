//! The physical frame allocator of the running kernel: the boot memory map fed into a
//! [`BuddyAllocator`].
//!
//! Frames below 1 MiB are left alone (real-mode structures, and a future SMP trampoline).
//! The allocator's metadata (12 bytes per frame of the managed span) is carved from the start
//! of the first usable region large enough, and reached through the bootloader's mapping of
//! all physical memory.

use super::PAGE_BYTES;
use super::buddy::{AllocError, BuddyAllocator, BuddyStats, FrameMeta, FreeError};
use bootloader_api::info::{MemoryRegion, MemoryRegionKind};
use core::fmt;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Frames below this address are never handed out.
pub const LOW_MEMORY_END: u64 = 0x10_0000;

static FRAMES: Mutex<Option<BuddyAllocator<'static>>> = Mutex::new(None);
static MEMORY_MAP: spin::Once<&'static [MemoryRegion]> = spin::Once::new();

/// The boot memory map the allocator was built from (empty before `init`).
pub fn memory_map() -> &'static [MemoryRegion] {
    MEMORY_MAP.get().copied().unwrap_or(&[])
}

/// What `init` found in the memory map.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryReport {
    /// Bytes the firmware reported usable (all of them, low memory included).
    pub usable_bytes: u64,
    /// Frames given to the buddy allocator.
    pub managed_frames: u64,
    /// Frames holding the allocator's own metadata.
    pub metadata_frames: u64,
}

/// Why the frame allocator could not start.
#[derive(Clone, Copy, Debug)]
pub enum FramesError {
    NoUsableMemory,
    /// No usable region can hold the metadata.
    NoRoomForMetadata {
        need_frames: u64,
    },
    Rejected(FreeError),
}

impl fmt::Display for FramesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramesError::NoUsableMemory => {
                write!(f, "the memory map has no usable memory above 1 MiB")
            }
            FramesError::NoRoomForMetadata { need_frames } => {
                write!(
                    f,
                    "no usable region has {need_frames} contiguous frames for the frame allocator's metadata"
                )
            }
            FramesError::Rejected(e) => {
                write!(f, "memory map rejected by the buddy allocator: {e}")
            }
        }
    }
}

/// Usable frame ranges above 1 MiB, as `(first pfn, end pfn)`.
fn usable_ranges(regions: &[MemoryRegion]) -> impl Iterator<Item = (u64, u64)> + '_ {
    regions
        .iter()
        .filter(|r| r.kind == MemoryRegionKind::Usable)
        .filter_map(|r| {
            let start = r.start.max(LOW_MEMORY_END).div_ceil(PAGE_BYTES);
            let end = r.end / PAGE_BYTES;
            (start < end).then_some((start, end))
        })
}

/// Builds the frame allocator from the boot memory map. `phys_offset` is where the
/// bootloader mapped all of physical memory.
pub fn init(
    regions: &'static [MemoryRegion],
    phys_offset: u64,
) -> Result<MemoryReport, FramesError> {
    MEMORY_MAP.call_once(|| regions);
    let usable_bytes = regions
        .iter()
        .filter(|r| r.kind == MemoryRegionKind::Usable)
        .map(|r| r.end - r.start)
        .sum();
    let first = usable_ranges(regions)
        .map(|r| r.0)
        .min()
        .ok_or(FramesError::NoUsableMemory)?;
    let last = usable_ranges(regions)
        .map(|r| r.1)
        .max()
        .ok_or(FramesError::NoUsableMemory)?;
    let span = last - first;
    let meta_bytes = span * core::mem::size_of::<FrameMeta>() as u64;
    let metadata_frames = meta_bytes.div_ceil(PAGE_BYTES);
    let (meta_start, _) = usable_ranges(regions)
        .find(|(s, e)| e - s >= metadata_frames)
        .ok_or(FramesError::NoRoomForMetadata {
            need_frames: metadata_frames,
        })?;

    // SAFETY: the frames `meta_start .. meta_start + metadata_frames` are usable RAM per the
    // bootloader's map (so nothing else lives there), are mapped at `phys_offset`, and are
    // excluded from the free ranges below, so this slice is their only user for the rest of
    // the run. FrameMeta has no invalid bit patterns that `BuddyAllocator::new` reads: it
    // overwrites every element first.
    let meta: &'static mut [FrameMeta] = unsafe {
        core::slice::from_raw_parts_mut(
            (phys_offset + meta_start * PAGE_BYTES) as *mut FrameMeta,
            span as usize,
        )
    };
    let mut buddy = BuddyAllocator::new(first, meta);
    for (start, end) in usable_ranges(regions) {
        let (start, end) = if start == meta_start {
            (start + metadata_frames, end)
        } else {
            (start, end)
        };
        buddy
            .add_free_range(start, end - start)
            .map_err(FramesError::Rejected)?;
    }
    let managed_frames = buddy.stats().managed_frames;
    without_interrupts(|| *FRAMES.lock() = Some(buddy));
    Ok(MemoryReport {
        usable_bytes,
        managed_frames,
        metadata_frames,
    })
}

/// Allocates `2^order` contiguous frames; returns the physical address of the first.
pub fn alloc(order: u8) -> Result<u64, AllocError> {
    without_interrupts(|| {
        let mut guard = FRAMES.lock();
        let buddy = guard.as_mut().ok_or(AllocError::OutOfMemory {
            order,
            free_frames: 0,
        })?;
        buddy.alloc(order).map(|pfn| pfn * PAGE_BYTES)
    })
}

/// Frees a block that `alloc(order)` returned.
pub fn free(phys: u64, order: u8) -> Result<(), FreeError> {
    without_interrupts(|| {
        let mut guard = FRAMES.lock();
        let buddy = guard.as_mut().ok_or(FreeError::Foreign {
            pfn: phys / PAGE_BYTES,
        })?;
        buddy.free(phys / PAGE_BYTES, order)
    })
}

/// The allocator's counters (zeros before `init`).
pub fn stats() -> BuddyStats {
    without_interrupts(|| {
        FRAMES
            .lock()
            .as_ref()
            .map(|b| b.stats())
            .unwrap_or_default()
    })
}

/// Calls `f` with the allocator locked (tests and diagnostics).
pub fn with_allocator<T>(f: impl FnOnce(&BuddyAllocator<'static>) -> T) -> Option<T> {
    without_interrupts(|| FRAMES.lock().as_ref().map(f))
}
