//! A binary buddy allocator for physical frames.
//!
//! Frames are numbered by physical frame number (`pfn` = physical address / 4 KiB). A block of
//! order `k` is `2^k` frames whose first pfn is a multiple of `2^k`; its buddy is the block at
//! `pfn ^ 2^k`. Freeing a block merges it with its buddy while the buddy is wholly free, so the
//! free memory is always held in the largest aligned blocks possible (Knuth, TAOCP vol. 1
//! §2.5; the same scheme as Linux's `mm/page_alloc.c`).
//!
//! The allocator keeps one metadata record per frame it manages ([`FrameMeta`], 12 bytes: the
//! free-list links and the block state), in a slice the caller provides, so it needs no heap:
//! the kernel carves that slice out of the boot memory map before any allocator exists.
//! Free lists are intrusive doubly linked lists through that slice, which makes allocation,
//! freeing and the buddy check O(1) per order.
//!
//! # Invariants
//! - A frame is the head of at most one block, free or allocated; every managed frame not in a
//!   block head is either inside exactly one block or a hole that was never added.
//! - Free blocks of order `k` are exactly the members of list `k`; no two free buddies coexist
//!   (they would have been merged).
//! - `free` accepts only the head and order of a block that is currently allocated: a double
//!   free, a misaligned frame, a wrong order or a frame outside the managed span is an error,
//!   and leaves the allocator unchanged.

use core::fmt;

/// Number of block orders: blocks of 2^0 ..= 2^(ORDERS-1) frames (4 KiB ..= 4 MiB).
pub const ORDERS: usize = 11;

/// Largest block order.
pub const MAX_ORDER: u8 = (ORDERS - 1) as u8;

/// Marks "no frame" in the free-list links.
const NIL: u32 = u32::MAX;

/// What a frame's metadata says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// Not the head of any block: inside a larger block, or a hole never added.
    Interior = 0,
    /// Head of a free block of `order` frames, linked into free list `order`.
    FreeHead = 1,
    /// Head of a block of `order` frames handed out by `alloc`.
    AllocatedHead = 2,
}

/// Per-frame bookkeeping. The kernel stores one per managed frame.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct FrameMeta {
    next: u32,
    prev: u32,
    state: State,
    order: u8,
}

impl FrameMeta {
    /// The record of a frame that belongs to no block yet.
    pub const EMPTY: FrameMeta = FrameMeta {
        next: NIL,
        prev: NIL,
        state: State::Interior,
        order: 0,
    };
}

/// Why an allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// No free block of the requested order or larger exists.
    OutOfMemory { order: u8, free_frames: u64 },
    /// The requested order exceeds [`MAX_ORDER`].
    OrderTooLarge { order: u8 },
}

/// Why a free (or an `add_free_range`) was rejected. The allocator is unchanged after any error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The frame lies outside the span this allocator manages.
    Foreign { pfn: u64 },
    /// The frame is not aligned to the block order given.
    Misaligned { pfn: u64, order: u8 },
    /// No allocated block starts at this frame (never allocated, or already freed).
    NotAllocated { pfn: u64 },
    /// A block starts here, but of another order than the one given.
    WrongOrder {
        pfn: u64,
        order: u8,
        allocated_order: u8,
    },
    /// The range overlaps frames the allocator already manages.
    Overlap { pfn: u64 },
    /// The requested order exceeds [`MAX_ORDER`].
    OrderTooLarge { order: u8 },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::OutOfMemory { order, free_frames } => write!(
                f,
                "out of physical memory: no free block of order {order} ({} KiB); {free_frames} frames free in smaller blocks",
                4u64 << order
            ),
            AllocError::OrderTooLarge { order } => {
                write!(
                    f,
                    "block order {order} is larger than the maximum order {MAX_ORDER}"
                )
            }
        }
    }
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FreeError::Foreign { pfn } => {
                write!(f, "frame {pfn:#x} is not managed by this allocator")
            }
            FreeError::Misaligned { pfn, order } => {
                write!(
                    f,
                    "frame {pfn:#x} is not aligned to a block of order {order}"
                )
            }
            FreeError::NotAllocated { pfn } => {
                write!(
                    f,
                    "no allocated block starts at frame {pfn:#x} (double free?)"
                )
            }
            FreeError::WrongOrder {
                pfn,
                order,
                allocated_order,
            } => write!(
                f,
                "frame {pfn:#x} heads a block of order {allocated_order}, not {order}"
            ),
            FreeError::Overlap { pfn } => write!(f, "frame {pfn:#x} is already managed"),
            FreeError::OrderTooLarge { order } => {
                write!(
                    f,
                    "block order {order} is larger than the maximum order {MAX_ORDER}"
                )
            }
        }
    }
}

/// Counters describing the allocator's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuddyStats {
    /// Frames ever added with [`BuddyAllocator::add_free_range`].
    pub managed_frames: u64,
    /// Frames currently free.
    pub free_frames: u64,
    /// Number of free blocks of each order.
    pub free_blocks: [u64; ORDERS],
}

/// A buddy allocator over the frames `base_pfn .. base_pfn + meta.len()`.
pub struct BuddyAllocator<'m> {
    base_pfn: u64,
    meta: &'m mut [FrameMeta],
    heads: [u32; ORDERS],
    stats: BuddyStats,
}

impl<'m> BuddyAllocator<'m> {
    /// An allocator for the span starting at `base_pfn` with one metadata record per frame.
    /// It manages no free memory until [`add_free_range`](Self::add_free_range) is called.
    ///
    /// The span may not exceed `u32::MAX - 1` frames (16 TiB), the range of the list links.
    pub fn new(base_pfn: u64, meta: &'m mut [FrameMeta]) -> Self {
        let usable = meta.len().min(NIL as usize - 1);
        let meta = &mut meta[..usable];
        meta.fill(FrameMeta::EMPTY);
        BuddyAllocator {
            base_pfn,
            meta,
            heads: [NIL; ORDERS],
            stats: BuddyStats::default(),
        }
    }

    /// The frames this allocator can ever manage: `(first pfn, frame count)`.
    pub fn span(&self) -> (u64, u64) {
        (self.base_pfn, self.meta.len() as u64)
    }

    /// Current counters.
    pub fn stats(&self) -> BuddyStats {
        self.stats
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> u64 {
        self.stats.free_frames
    }

    /// Hands the frames `start_pfn .. start_pfn + count` to the allocator as free memory,
    /// split into the largest aligned blocks. Fails without change if any of them lies outside
    /// the span or is already managed.
    pub fn add_free_range(&mut self, start_pfn: u64, count: u64) -> Result<(), FreeError> {
        if count == 0 {
            return Ok(());
        }
        let first = self.index(start_pfn)?;
        let last = self.index(start_pfn + (count - 1))?;
        // A managed block meeting the range either covers its first frame or has its head
        // inside the range.
        let head_inside = (first..=last).find(|&i| self.meta[i].state != State::Interior);
        if let Some(taken) = head_inside.or(self.is_managed(first).then_some(first)) {
            return Err(FreeError::Overlap {
                pfn: self.base_pfn + taken as u64,
            });
        }
        let mut pfn = start_pfn;
        let end = start_pfn + count;
        while pfn < end {
            let align = if pfn == 0 {
                MAX_ORDER
            } else {
                (pfn.trailing_zeros() as u8).min(MAX_ORDER)
            };
            let fit = (63 - (end - pfn).leading_zeros()) as u8;
            let order = align.min(fit);
            self.stats.managed_frames += 1 << order;
            self.release(pfn, order);
            pfn += 1 << order;
        }
        Ok(())
    }

    /// Allocates a block of `2^order` frames and returns its first pfn.
    pub fn alloc(&mut self, order: u8) -> Result<u64, AllocError> {
        if order > MAX_ORDER {
            return Err(AllocError::OrderTooLarge { order });
        }
        let Some(found) = (order..=MAX_ORDER).find(|&k| self.heads[k as usize] != NIL) else {
            return Err(AllocError::OutOfMemory {
                order,
                free_frames: self.stats.free_frames,
            });
        };
        let index = self.heads[found as usize];
        self.unlink(index, found);
        // Split down to the requested order, returning the upper halves to their lists.
        for k in (order..found).rev() {
            let upper = index + (1 << k);
            self.push(upper, k);
        }
        let m = &mut self.meta[index as usize];
        m.state = State::AllocatedHead;
        m.order = order;
        self.stats.free_frames -= 1 << order;
        Ok(self.base_pfn + u64::from(index))
    }

    /// Returns the block of `2^order` frames starting at `pfn`, which `alloc(order)` handed
    /// out, merging it with free buddies.
    pub fn free(&mut self, pfn: u64, order: u8) -> Result<(), FreeError> {
        if order > MAX_ORDER {
            return Err(FreeError::OrderTooLarge { order });
        }
        let index = self.index(pfn)?;
        if pfn & ((1 << order) - 1) != 0 {
            return Err(FreeError::Misaligned { pfn, order });
        }
        let m = self.meta[index];
        if m.state != State::AllocatedHead {
            return Err(FreeError::NotAllocated { pfn });
        }
        if m.order != order {
            return Err(FreeError::WrongOrder {
                pfn,
                order,
                allocated_order: m.order,
            });
        }
        self.meta[index].state = State::Interior;
        self.release(pfn, order);
        Ok(())
    }

    /// The order of the allocated block starting at `pfn`, if there is one.
    pub fn allocated_order(&self, pfn: u64) -> Option<u8> {
        let index = self.index(pfn).ok()?;
        let m = self.meta[index];
        (m.state == State::AllocatedHead).then_some(m.order)
    }

    /// Every free block as `(pfn, order)`, list by list (for tests and diagnostics).
    pub fn free_blocks(&self) -> impl Iterator<Item = (u64, u8)> + '_ {
        (0..ORDERS as u8).flat_map(move |order| {
            let mut cursor = self.heads[order as usize];
            core::iter::from_fn(move || {
                (cursor != NIL).then(|| {
                    let here = cursor;
                    cursor = self.meta[here as usize].next;
                    (self.base_pfn + u64::from(here), order)
                })
            })
        })
    }

    /// Puts a block on the free lists, merging with its buddy as long as the buddy is a free
    /// block of the same order.
    fn release(&mut self, pfn: u64, order: u8) {
        let mut pfn = pfn;
        let mut order = order;
        self.stats.free_frames += 1 << order;
        while order < MAX_ORDER {
            let buddy = pfn ^ (1 << order);
            let Some(bi) = buddy
                .checked_sub(self.base_pfn)
                .filter(|&i| i < self.meta.len() as u64)
            else {
                break;
            };
            let bm = self.meta[bi as usize];
            if bm.state != State::FreeHead || bm.order != order {
                break;
            }
            self.unlink(bi as u32, order);
            self.meta[bi as usize].state = State::Interior;
            pfn = pfn.min(buddy);
            order += 1;
        }
        let index = (pfn - self.base_pfn) as u32;
        self.push(index, order);
    }

    fn push(&mut self, index: u32, order: u8) {
        let head = self.heads[order as usize];
        self.meta[index as usize] = FrameMeta {
            next: head,
            prev: NIL,
            state: State::FreeHead,
            order,
        };
        if head != NIL {
            self.meta[head as usize].prev = index;
        }
        self.heads[order as usize] = index;
        self.stats.free_blocks[order as usize] += 1;
    }

    fn unlink(&mut self, index: u32, order: u8) {
        let FrameMeta { next, prev, .. } = self.meta[index as usize];
        if prev == NIL {
            self.heads[order as usize] = next;
        } else {
            self.meta[prev as usize].next = next;
        }
        if next != NIL {
            self.meta[next as usize].prev = prev;
        }
        let m = &mut self.meta[index as usize];
        m.next = NIL;
        m.prev = NIL;
        self.stats.free_blocks[order as usize] -= 1;
    }

    fn index(&self, pfn: u64) -> Result<usize, FreeError> {
        pfn.checked_sub(self.base_pfn)
            .filter(|&i| i < self.meta.len() as u64)
            .map(|i| i as usize)
            .ok_or(FreeError::Foreign { pfn })
    }

    /// Whether frame `index` already belongs to a block (free or allocated), found by looking
    /// for a block head at each enclosing aligned position.
    fn is_managed(&self, index: usize) -> bool {
        let pfn = self.base_pfn + index as u64;
        (0..=MAX_ORDER).any(|order| {
            let head = pfn & !((1u64 << order) - 1);
            head.checked_sub(self.base_pfn)
                .filter(|&i| i < self.meta.len() as u64)
                .is_some_and(|i| {
                    let m = self.meta[i as usize];
                    m.state != State::Interior && m.order >= order
                })
        })
    }
}

#[cfg(test)]
mod tests;
