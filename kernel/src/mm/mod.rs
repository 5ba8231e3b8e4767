//! Memory management. [`buddy`] is the portable physical-frame allocator (host-tested);
//! `frames`, `paging` and `heap` (kernel target only) connect it to the boot memory map,
//! the page tables and the kernel heap.

pub mod buddy;

#[cfg(target_os = "none")]
pub mod frames;
#[cfg(target_os = "none")]
pub mod heap;
#[cfg(target_os = "none")]
pub mod paging;

/// Size of a physical frame and of a virtual page, in bytes.
pub const PAGE_BYTES: u64 = 4096;
