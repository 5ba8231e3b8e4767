//! The kernel heap: `linked_list_allocator` over pages mapped in the kernel area.
//!
//! Interrupt handlers never allocate (the heap lock is not interrupt-safe by design: a handler
//! that allocated could deadlock on the lock held by the code it interrupted).

use super::paging::{self, PagingError};
use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Heap size: 1/16 of free memory, between these bounds.
pub const MIN_HEAP_BYTES: u64 = 1 << 20;
pub const MAX_HEAP_BYTES: u64 = 32 << 20;

/// Maps and initialises the heap. Returns its size in bytes.
pub fn init(free_bytes: u64) -> Result<u64, PagingError> {
    let bytes = (free_bytes / 16).clamp(MIN_HEAP_BYTES, MAX_HEAP_BYTES) & !(super::PAGE_BYTES - 1);
    let start = paging::map_heap(bytes)?;
    // SAFETY: `start .. start + bytes` was just mapped writable from fresh frames, is used by
    // nothing else, and `init` runs once, before any allocation.
    unsafe { HEAP.lock().init(start as *mut u8, bytes as usize) };
    Ok(bytes)
}

/// Heap bytes in use.
pub fn used() -> u64 {
    x86_64::instructions::interrupts::without_interrupts(|| HEAP.lock().used() as u64)
}

/// Heap bytes free.
pub fn free() -> u64 {
    x86_64::instructions::interrupts::without_interrupts(|| HEAP.lock().free() as u64)
}
