//! In-kernel tests of memory management on the real paths: the frame allocator against the
//! boot memory map, page mapping and unmapping, guard pages, and the heap under churn.

use super::{KTest, ktest_assert};
use crate::arch::x86_64::gdt;
use crate::mm::{PAGE_BYTES, frames, heap, paging};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use bootloader_api::info::MemoryRegionKind;
use x86_64::structures::paging::PageTableFlags;

pub static TESTS: &[KTest] = &[
    KTest {
        name: "mm::frames_come_from_usable_memory",
        run: frames_come_from_usable_memory,
    },
    KTest {
        name: "mm::frames_rejects_bad_frees",
        run: frames_rejects_bad_frees,
    },
    KTest {
        name: "mm::map_and_unmap_page",
        run: map_and_unmap_page,
    },
    KTest {
        name: "mm::kernel_stacks_have_guard_pages",
        run: kernel_stacks_have_guard_pages,
    },
    KTest {
        name: "mm::heap_survives_churn",
        run: heap_survives_churn,
    },
];

/// Whether every frame of `phys .. phys + bytes` is usable memory (UEFI splits usable
/// memory into many adjacent regions, so a block may span several).
fn usable(phys: u64, bytes: u64) -> bool {
    (phys..phys + bytes)
        .step_by(PAGE_BYTES as usize)
        .all(|frame| {
            frames::memory_map().iter().any(|r| {
                r.kind == MemoryRegionKind::Usable
                    && r.start <= frame
                    && frame + PAGE_BYTES <= r.end
            })
        })
}

/// Every block handed out lies in usable memory, holds what is written to it through the
/// physical mapping, and the counters return to where they were once all are freed.
fn frames_come_from_usable_memory() -> Result<(), String> {
    let before = frames::stats();
    ktest_assert!(before.free_frames > 0, "no free frames");
    let mut blocks = Vec::new();
    for i in 0..256u64 {
        let order = (i % 5) as u8;
        let phys = frames::alloc(order).map_err(|e| alloc::format!("{e}"))?;
        let bytes = PAGE_BYTES << order;
        ktest_assert!(
            phys % bytes == 0,
            "block {phys:#x} not aligned to order {order}"
        );
        ktest_assert!(
            usable(phys, bytes),
            "block {phys:#x}+{bytes:#x} is not in usable memory"
        );
        ktest_assert!(
            phys >= frames::LOW_MEMORY_END,
            "block {phys:#x} below 1 MiB"
        );
        let virt = paging::phys_to_virt(phys).map_err(|e| alloc::format!("{e}"))?;
        // SAFETY: the block was just allocated, so nothing else uses it, and it is mapped
        // writable at `virt` through the physical-memory mapping.
        unsafe { core::ptr::write_volatile(virt as *mut u64, phys ^ i) };
        blocks.push((phys, order, virt, i));
    }
    for &(phys, order, virt, i) in &blocks {
        // SAFETY: as above; the block is still allocated to this test.
        let v = unsafe { core::ptr::read_volatile(virt as *const u64) };
        ktest_assert!(
            v == phys ^ i,
            "block {phys:#x} lost its contents (overlapping blocks?)"
        );
        frames::free(phys, order).map_err(|e| alloc::format!("{e}"))?;
    }
    let after = frames::stats();
    ktest_assert!(
        after == before,
        "allocator state changed: {before:?} -> {after:?}"
    );
    Ok(())
}

fn frames_rejects_bad_frees() -> Result<(), String> {
    let phys = frames::alloc(1).map_err(|e| alloc::format!("{e}"))?;
    ktest_assert!(
        frames::free(phys + PAGE_BYTES, 1).is_err(),
        "misaligned free accepted"
    );
    ktest_assert!(frames::free(phys, 0).is_err(), "wrong-order free accepted");
    ktest_assert!(
        frames::free(0x1000, 0).is_err(),
        "free of a frame below 1 MiB accepted"
    );
    frames::free(phys, 1).map_err(|e| alloc::format!("{e}"))?;
    ktest_assert!(frames::free(phys, 1).is_err(), "double free accepted");
    Ok(())
}

fn map_and_unmap_page() -> Result<(), String> {
    let page = paging::reserve_pages(1).map_err(|e| alloc::format!("{e}"))?;
    ktest_assert!(
        paging::translate(page).is_none(),
        "scratch page {page:#x} already mapped"
    );
    let phys = frames::alloc(0).map_err(|e| alloc::format!("{e}"))?;
    paging::map(page, phys, PageTableFlags::WRITABLE).map_err(|e| alloc::format!("{e}"))?;
    ktest_assert!(
        paging::translate(page + 123) == Some(phys + 123),
        "translation wrong after map"
    );
    ktest_assert!(
        paging::map(page, phys, PageTableFlags::WRITABLE).is_err(),
        "mapping an already mapped page succeeded"
    );
    // SAFETY: `page` was just mapped writable to a frame this test owns.
    unsafe { core::ptr::write_volatile(page as *mut u64, 0x5eed_f00d) };
    let alias = paging::phys_to_virt(phys).map_err(|e| alloc::format!("{e}"))?;
    // SAFETY: the same owned frame, through the physical-memory mapping.
    let seen = unsafe { core::ptr::read_volatile(alias as *const u64) };
    ktest_assert!(
        seen == 0x5eed_f00d,
        "write through the new mapping not seen at the frame ({seen:#x})"
    );
    let unmapped = paging::unmap(page).map_err(|e| alloc::format!("{e}"))?;
    ktest_assert!(
        unmapped == phys,
        "unmap returned {unmapped:#x}, mapped {phys:#x}"
    );
    ktest_assert!(
        paging::translate(page).is_none(),
        "page still translates after unmap"
    );
    ktest_assert!(paging::unmap(page).is_err(), "second unmap succeeded");
    frames::free(phys, 0).map_err(|e| alloc::format!("{e}"))?;
    Ok(())
}

fn kernel_stacks_have_guard_pages() -> Result<(), String> {
    let stack = paging::alloc_stack(4).map_err(|e| alloc::format!("{e}"))?;
    ktest_assert!(
        paging::translate(stack.guard).is_none(),
        "guard page {:#x} is mapped",
        stack.guard
    );
    ktest_assert!(
        stack.bottom == stack.guard + PAGE_BYTES,
        "stack does not start right above its guard"
    );
    let mut at = stack.bottom;
    while at < stack.top {
        ktest_assert!(
            paging::translate(at).is_some(),
            "stack page {at:#x} not mapped"
        );
        at += PAGE_BYTES;
    }
    for guard in gdt::ist_guard_pages() {
        ktest_assert!(
            paging::translate(guard.as_u64()).is_none(),
            "IST guard page {:#x} is mapped",
            guard.as_u64()
        );
    }
    Ok(())
}

/// Allocations of many sizes, freed in a scrambled order, keep their contents and leave the
/// heap as they found it.
fn heap_survives_churn() -> Result<(), String> {
    let baseline = heap::used();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut live: Vec<Box<[u8]>> = Vec::with_capacity(512);
    for round in 0..4000u32 {
        if live.len() < 400 && (next() % 3 != 0 || live.is_empty()) {
            let len = (next() % 8192) as usize + 1;
            let fill = (round % 251) as u8;
            live.push(alloc::vec![fill; len].into_boxed_slice());
        } else {
            let victim = (next() % live.len() as u64) as usize;
            let block = live.swap_remove(victim);
            let fill = block[0];
            ktest_assert!(
                block.iter().all(|&b| b == fill),
                "heap block of {} bytes corrupted",
                block.len()
            );
        }
    }
    for block in &live {
        let fill = block[0];
        ktest_assert!(
            block.iter().all(|&b| b == fill),
            "heap block of {} bytes corrupted",
            block.len()
        );
    }
    drop(live);
    ktest_assert!(
        heap::used() == baseline,
        "heap used {} bytes before, {} after",
        baseline,
        heap::used()
    );
    Ok(())
}
