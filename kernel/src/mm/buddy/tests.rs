//! Host tests of the buddy allocator: its invariants under random use (proptest) and the
//! errors each kind of bad free gets.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// An allocator over `frames` frames starting at `base`, with the given free ranges added.
fn allocator(base: u64, frames: usize, ranges: &[(u64, u64)]) -> BuddyAllocator<'static> {
    let meta = Box::leak(vec![FrameMeta::EMPTY; frames].into_boxed_slice());
    let mut a = BuddyAllocator::new(base, meta);
    for &(start, count) in ranges {
        a.add_free_range(start, count)
            .expect("disjoint ranges inside the span");
    }
    a
}

fn sorted_free_blocks(a: &BuddyAllocator<'_>) -> Vec<(u64, u8)> {
    let mut v: Vec<_> = a.free_blocks().collect();
    v.sort_unstable();
    v
}

/// Disjoint free ranges inside a span of `frames` frames starting at `base`.
fn ranges_strategy() -> impl Strategy<Value = (u64, usize, Vec<(u64, u64)>)> {
    (
        0u64..5000,
        prop::collection::vec((0u64..64, 1u64..700), 1..6),
    )
        .prop_map(|(base, gaps)| {
            let mut ranges = Vec::new();
            let mut cursor = base;
            for (gap, len) in gaps {
                cursor += gap;
                ranges.push((cursor, len));
                cursor += len;
            }
            (base, (cursor - base) as usize, ranges)
        })
}

#[derive(Clone, Debug)]
enum Op {
    Alloc(u8),
    /// Free the n-th (modulo count) live block.
    Free(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![3 => (0u8..=MAX_ORDER).prop_map(Op::Alloc), 2 => any::<usize>().prop_map(Op::Free)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No frame is handed out twice, every block lies inside memory that was added, the
    /// counters agree with the blocks, and freeing everything restores the initial blocks.
    #[test]
    fn random_use_keeps_invariants((base, frames, ranges) in ranges_strategy(),
                                   ops in prop::collection::vec(op_strategy(), 1..400)) {
        let mut a = allocator(base, frames, &ranges);
        let initial = sorted_free_blocks(&a);
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        prop_assert_eq!(a.free_frames(), total);
        let added: BTreeSet<u64> = ranges.iter().flat_map(|&(s, n)| s..s + n).collect();

        let mut live: Vec<(u64, u8)> = Vec::new();
        let mut owned: BTreeSet<u64> = BTreeSet::new();
        for op in ops {
            match op {
                Op::Alloc(order) => match a.alloc(order) {
                    Ok(pfn) => {
                        prop_assert_eq!(pfn % (1 << order), 0, "block aligned to its order");
                        for f in pfn..pfn + (1 << order) {
                            prop_assert!(added.contains(&f), "frame {} was never added", f);
                            prop_assert!(owned.insert(f), "frame {} handed out twice", f);
                        }
                        live.push((pfn, order));
                    }
                    Err(AllocError::OutOfMemory { .. }) => {
                        // Exhaustion is only reported when no free block is large enough.
                        prop_assert!(a.free_blocks().all(|(_, k)| k < order));
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::Free(n) if !live.is_empty() => {
                    let (pfn, order) = live.swap_remove(n % live.len());
                    a.free(pfn, order).unwrap();
                    for f in pfn..pfn + (1 << order) {
                        owned.remove(&f);
                    }
                }
                Op::Free(_) => {}
            }
            let stats = a.stats();
            prop_assert_eq!(stats.free_frames + owned.len() as u64, total);
            let listed: u64 = a.free_blocks().map(|(_, k)| 1u64 << k).sum();
            prop_assert_eq!(listed, stats.free_frames);
            // Free blocks never overlap allocated frames.
            for (pfn, k) in a.free_blocks() {
                for f in pfn..pfn + (1 << k) {
                    prop_assert!(!owned.contains(&f));
                }
            }
        }
        for (pfn, order) in live.drain(..) {
            a.free(pfn, order).unwrap();
        }
        prop_assert_eq!(sorted_free_blocks(&a), initial);
    }

    /// Allocating until exhaustion hands out exactly the free memory, then fails cleanly.
    #[test]
    fn exhaustion_is_an_error((base, frames, ranges) in ranges_strategy(), order in 0u8..4) {
        let mut a = allocator(base, frames, &ranges);
        let mut got = 0u64;
        loop {
            match a.alloc(order) {
                Ok(_) => got += 1 << order,
                Err(AllocError::OutOfMemory { order: o, free_frames }) => {
                    prop_assert_eq!(o, order);
                    prop_assert_eq!(free_frames, a.free_frames());
                    break;
                }
                Err(e) => prop_assert!(false, "unexpected {:?}", e),
            }
        }
        prop_assert!(a.free_blocks().all(|(_, k)| k < order));
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        prop_assert_eq!(got + a.free_frames(), total);
    }
}

#[test]
fn aligned_range_becomes_one_block() {
    let a = allocator(0, 2048, &[(1024, 1024)]);
    assert_eq!(sorted_free_blocks(&a), vec![(1024, MAX_ORDER)]);
}

#[test]
fn unaligned_range_splits_into_largest_aligned_blocks() {
    let a = allocator(0, 64, &[(3, 10)]);
    // 3 | 4..8 | 8..12 | 12
    assert_eq!(
        sorted_free_blocks(&a),
        vec![(3, 0), (4, 2), (8, 2), (12, 0)]
    );
}

#[test]
fn split_and_merge_back() {
    let mut a = allocator(0, 1024, &[(0, 1024)]);
    let x = a.alloc(0).unwrap();
    assert_eq!(a.stats().free_blocks[..10], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    a.free(x, 0).unwrap();
    assert_eq!(sorted_free_blocks(&a), vec![(0, 10)]);
}

#[test]
fn bad_frees_are_rejected_and_change_nothing() {
    let mut a = allocator(100, 300, &[(128, 128)]);
    let pfn = a.alloc(2).unwrap();
    let before = (sorted_free_blocks(&a), a.stats());

    assert_eq!(a.free(50, 0), Err(FreeError::Foreign { pfn: 50 }));
    assert_eq!(a.free(400, 0), Err(FreeError::Foreign { pfn: 400 }));
    assert_eq!(
        a.free(pfn + 1, 2),
        Err(FreeError::Misaligned {
            pfn: pfn + 1,
            order: 2
        })
    );
    assert_eq!(
        a.free(pfn + 1, 0),
        Err(FreeError::NotAllocated { pfn: pfn + 1 })
    );
    assert_eq!(
        a.free(pfn, 1),
        Err(FreeError::WrongOrder {
            pfn,
            order: 1,
            allocated_order: 2
        })
    );
    assert_eq!(
        a.free(pfn, MAX_ORDER + 1),
        Err(FreeError::OrderTooLarge {
            order: MAX_ORDER + 1
        })
    );
    assert_eq!((sorted_free_blocks(&a), a.stats()), before);

    a.free(pfn, 2).unwrap();
    assert_eq!(
        a.free(pfn, 2),
        Err(FreeError::NotAllocated { pfn }),
        "double free"
    );
    assert_eq!(sorted_free_blocks(&a), vec![(128, 7)]);
}

#[test]
fn overlapping_ranges_are_rejected() {
    let mut a = allocator(0, 4096, &[(1024, 1024)]);
    assert_eq!(
        a.add_free_range(1500, 10),
        Err(FreeError::Overlap { pfn: 1500 })
    );
    assert_eq!(
        a.add_free_range(1000, 100),
        Err(FreeError::Overlap { pfn: 1024 })
    );
    assert_eq!(
        a.add_free_range(4000, 200),
        Err(FreeError::Foreign { pfn: 4199 })
    );
    assert_eq!(a.stats().managed_frames, 1024);
}

#[test]
fn oversized_order_is_an_error() {
    let mut a = allocator(0, 16, &[(0, 16)]);
    assert_eq!(
        a.alloc(MAX_ORDER + 1),
        Err(AllocError::OrderTooLarge {
            order: MAX_ORDER + 1
        })
    );
}
